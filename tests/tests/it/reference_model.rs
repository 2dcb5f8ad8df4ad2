//! Random sequences of valid and invalid appends (and reopens) leave the log equal to a
//! simple in-memory reference model, with the chain intact.

use govrec_core::event::AreaKind;
use govrec_core::{event_to_json, Event};
use govrec_store::{verify_log, NewEvent, Store, StoreConfig, StoreError, Verification};
use proptest::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use crate::support::*;

#[derive(Debug, Clone)]
enum Op {
    /// A valid batch: `counties` new counties, each with a town.
    NewCounties { counties: u8 },
    /// A batch whose last event names an unknown parent.
    UnknownParent { valid_before: u8 },
    /// A batch re-registering an existing area (duplicate id), if any exists.
    DuplicateArea,
    /// Retry the n-th accepted batch with its event ids (idempotent).
    Retry { batch: usize },
    /// Close and reopen the store.
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..4).prop_map(|counties| Op::NewCounties { counties }),
        2 => (0u8..3).prop_map(|valid_before| Op::UnknownParent { valid_before }),
        1 => Just(Op::DuplicateArea),
        1 => any::<usize>().prop_map(|batch| Op::Retry { batch }),
        1 => Just(Op::Reopen),
    ]
}

/// The reference: the events (with ids) that must be in the log, in order.
#[derive(Default)]
struct Model {
    log: Vec<(Uuid, Value)>,
    batches: Vec<Vec<NewEvent>>,
    counties: Vec<Uuid>,
    next_id: u64,
}

impl Model {
    fn fresh(&mut self) -> Uuid {
        self.next_id += 1;
        uuid_of(self.next_id)
    }

    fn counties_batch(&mut self, counties: u8) -> Vec<NewEvent> {
        let mut batch = Vec::new();
        for _ in 0..counties {
            let (county, town) = (self.fresh(), self.fresh());
            for event in county_and_town(county, town, "模型") {
                batch.push(event.with_id(self.fresh()));
            }
        }
        batch
    }

    fn accept(&mut self, batch: Vec<NewEvent>) {
        for event in &batch {
            if let Event::AreaRegistered(area) = &event.event {
                if area.kind == AreaKind::County {
                    self.counties.push(area.area_id);
                }
            }
            self.log.push((event.id.unwrap(), event_to_json(&event.event)));
        }
        self.batches.push(batch);
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Some(Store::open(dir.path(), StoreConfig::default()).unwrap());
    let mut model = Model::default();
    for op in ops {
        let current = store.as_ref().unwrap();
        match op {
            Op::NewCounties { counties } => {
                let batch = model.counties_batch(counties);
                current.append("model", batch.clone()).unwrap();
                model.accept(batch);
            }
            Op::UnknownParent { valid_before } => {
                let mut batch = model.counties_batch(valid_before);
                let (orphan, missing) = (model.fresh(), model.fresh());
                batch.push(
                    NewEvent::new(area(orphan, AreaKind::Town, "孤镇", Some(missing))).with_id(model.fresh()),
                );
                let error = current.append("model", batch).unwrap_err();
                prop_assert!(
                    matches!(error, StoreError::Rejected(ref v) if v.index == valid_before as usize * 2),
                    "{:?}",
                    error
                );
            }
            Op::DuplicateArea => {
                let Some(&county) = model.counties.first() else {
                    continue;
                };
                let batch = vec![
                    NewEvent::new(area(county, AreaKind::County, "重复县", None)).with_id(model.fresh())
                ];
                prop_assert!(matches!(
                    current.append("model", batch),
                    Err(StoreError::Rejected(_))
                ));
            }
            Op::Retry { batch } => {
                if model.batches.is_empty() {
                    continue;
                }
                let original = model.batches[batch % model.batches.len()].clone();
                let appended = current.append("model", original).unwrap();
                prop_assert!(appended.idempotent_retry);
            }
            Op::Reopen => {
                store.take().unwrap().close().unwrap();
                store = Some(Store::open(dir.path(), StoreConfig::default()).unwrap());
            }
        }
    }
    let store = store.unwrap();
    let records = store.read_range(0, usize::MAX).unwrap();
    let actual: Vec<(Uuid, Value)> = records.iter().map(|r| (r.id, event_to_json(&r.event))).collect();
    prop_assert_eq!(actual, model.log.clone());
    let verification = verify_log(store.log(), 0, None).unwrap();
    prop_assert!(
        matches!(verification, Verification::Intact { checked, .. } if checked == model.log.len() as u64),
        "{:?}",
        verification
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn the_log_equals_the_reference_model(ops in proptest::collection::vec(op(), 1..24)) {
        run(ops)?;
    }
}
