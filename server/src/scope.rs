//! Which counties an event or an entity belongs to, for scope checks.
//!
//! Every entity hangs off an area (a member off their home compound, a complaint off its
//! compound, an evaluation off its subject, …) and every area off a county. The county of an
//! entity is found from its records through the store's entity index and memoised; members
//! are resolved afresh each time, since a member may move. Events are placed by the entities
//! they reference (their [`CountyAnchor`]s, declared with each event type in `govrec-core`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use govrec_core::event::CountyAnchor;
use govrec_core::Event;
use govrec_store::{Store, StoreError};
use uuid::Uuid;

use crate::auth::{Principal, Scope};

/// How deep an area chain may be (county > town > community > compound > building).
const AREA_DEPTH_MAX: usize = 8;

/// Resolves entities to counties, with a memo of the ones whose county cannot change.
pub struct Counties {
    store: Arc<Store>,
    stable: RwLock<HashMap<Uuid, Uuid>>,
}

/// Counties of entities created earlier in the same batch, not yet in the store.
#[derive(Default)]
pub struct BatchCounties(HashMap<Uuid, Uuid>);

impl Counties {
    pub fn new(store: Arc<Store>) -> Counties {
        Counties {
            store,
            stable: RwLock::new(HashMap::new()),
        }
    }

    /// The county of an entity, if it is known.
    pub fn of_entity(&self, id: &Uuid) -> Result<Option<Uuid>, StoreError> {
        self.of_entity_at_depth(id, &BatchCounties::default(), 0)
    }

    fn of_entity_at_depth(
        &self,
        id: &Uuid,
        batch: &BatchCounties,
        depth: usize,
    ) -> Result<Option<Uuid>, StoreError> {
        if depth > AREA_DEPTH_MAX {
            return Ok(None);
        }
        let known = batch
            .0
            .get(id)
            .copied()
            .or_else(|| self.stable.read().expect("county lock").get(id).copied());
        if known.is_some() {
            return Ok(known);
        }
        let seqs = self.store.entity_seqs(id);
        let Some(&first) = seqs.first() else {
            return Ok(None);
        };
        let Some(creation) = self.store.get(first)? else {
            return Ok(None);
        };
        if let Event::MemberEnrolled(_) = creation.event {
            return self.member_county(id, &seqs, batch, depth);
        }
        let counties = self.of_anchors(&creation.event, batch, depth + 1)?;
        let county = counties.into_iter().next();
        if let Some(county) = county {
            self.stable.write().expect("county lock").insert(*id, county);
        }
        Ok(county)
    }

    /// A member's county is that of their latest home area.
    fn member_county(
        &self,
        id: &Uuid,
        seqs: &[u64],
        batch: &BatchCounties,
        depth: usize,
    ) -> Result<Option<Uuid>, StoreError> {
        for seq in seqs.iter().rev() {
            let Some(record) = self.store.get(*seq)? else {
                continue;
            };
            let home = match &record.event {
                Event::MemberEnrolled(e) if e.member_id == *id => Some(e.home_area_id),
                Event::MemberUpdated(e) if e.member_id == *id => e.home_area_id,
                _ => None,
            };
            if let Some(home) = home {
                return self.of_entity_at_depth(&home, batch, depth + 1);
            }
        }
        Ok(None)
    }

    /// The counties an event touches (empty when none of its references is known yet).
    pub fn of_event(&self, event: &Event, batch: &BatchCounties) -> Result<BTreeSet<Uuid>, StoreError> {
        self.of_anchors(event, batch, 0)
    }

    /// The counties of an event's [`CountyAnchor`]s.
    fn of_anchors(
        &self,
        event: &Event,
        batch: &BatchCounties,
        depth: usize,
    ) -> Result<BTreeSet<Uuid>, StoreError> {
        let mut counties = BTreeSet::new();
        for anchor in event.county_anchors() {
            match anchor {
                CountyAnchor::IsCounty(county) => {
                    counties.insert(county);
                }
                CountyAnchor::Entity(id) => {
                    if let Some(county) = self.of_entity_at_depth(&id, batch, depth)? {
                        counties.insert(county);
                    }
                }
            }
        }
        Ok(counties)
    }

    /// Checks that `principal` may append `events`: every event must belong only to counties in
    /// its scope. Events whose references are all unknown are let through: the rules reject
    /// them (unknown reference) and nothing is revealed.
    pub fn check_append<'a>(
        &self,
        principal: &Principal,
        events: impl IntoIterator<Item = &'a Event>,
    ) -> Result<(), ScopeDenied> {
        if principal.appends_everywhere() {
            return Ok(());
        }
        let mut batch = BatchCounties::default();
        for (index, event) in events.into_iter().enumerate() {
            let counties = self.of_event(event, &batch).map_err(ScopeDenied::Store)?;
            if let Some(outside) = counties.iter().find(|county| !principal.scope.allows(county)) {
                return Err(ScopeDenied::Event {
                    index,
                    county: *outside,
                });
            }
            if let (Some(county), Some(created)) = (counties.iter().next(), event.entity_ids().first()) {
                batch.0.insert(*created, *county);
            }
        }
        Ok(())
    }

    /// Whether a scoped reader may see a record whose event is `event`: some county it touches
    /// is in scope.
    pub fn visible(&self, scope: &Scope, event: &Event) -> Result<bool, StoreError> {
        if scope.is_all() {
            return Ok(true);
        }
        let counties = match event {
            Event::Redacted(redacted) => match self.store.get(redacted.target_seq)? {
                Some(target) => self.of_event(&target.event, &BatchCounties::default())?,
                None => BTreeSet::new(),
            },
            other => self.of_event(other, &BatchCounties::default())?,
        };
        Ok(counties.iter().any(|county| scope.allows(county)))
    }
}

/// Why an append is out of scope.
#[derive(Debug)]
pub enum ScopeDenied {
    Event { index: usize, county: Uuid },
    Store(StoreError),
}
