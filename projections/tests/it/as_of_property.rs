//! Properties over random valid logs: `as_of = k` equals a fresh replay of the first k + 1
//! records (by seq and by time), and restarting from a snapshot equals a full replay.

use govrec_projections::{snapshot, AsOfPoint, HostConfig, ModelHost};
use proptest::prelude::*;

use crate::random_log::{random_log, Step};
use crate::support::{models_of, store_with};

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(any::<Step>(), 20..160)
}

fn config() -> HostConfig {
    HostConfig {
        snapshot_interval_records: 16,
        snapshot_points_max: 8,
        as_of_cache_entries: 2,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn as_of_k_equals_a_replay_of_the_first_k_plus_one_records(
        steps in steps(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 3),
        cache_entries in 0usize..3,
        warm in any::<bool>(),
    ) {
        let log = random_log(&steps);
        let records = log.records();
        let (dir, store) = store_with(records);
        let config = HostConfig { as_of_cache_entries: cache_entries, ..config() };
        let (host, _) = ModelHost::open(&store, Some(&dir.path().join("models")), config).expect("open");
        if warm {
            host.warm_as_of(&store).expect("warm");
        }
        for pick in picks {
            let k = pick.index(records.len());
            let expected = snapshot::encode(&models_of(&records[..=k]));
            let by_seq = host.models_as_of(&store, AsOfPoint::Seq(k as u64)).expect("as_of seq");
            prop_assert_eq!(snapshot::encode(&by_seq), expected);
            let time = records[k].recorded_at;
            let last_at_time = records.iter().rposition(|record| record.recorded_at <= time).expect("k itself");
            let by_time = host.models_as_of(&store, AsOfPoint::Time(time)).expect("as_of time");
            prop_assert_eq!(snapshot::encode(&by_time), snapshot::encode(&models_of(&records[..=last_at_time])));
        }
        let current = host.models();
        prop_assert_eq!(snapshot::encode(&current), snapshot::encode(&models_of(records)));
    }

    #[test]
    fn restart_from_a_snapshot_equals_a_full_replay(steps in steps(), cut in any::<prop::sample::Index>()) {
        let log = random_log(&steps);
        let records = log.records();
        let cut = cut.index(records.len()) + 1;
        let (dir, store) = store_with(&records[..cut]);
        let snapshots = dir.path().join("models");
        {
            let (host, _) = ModelHost::open(&store, Some(&snapshots), config()).expect("open");
            host.save_snapshot().expect("save");
        }
        store.restore(records[cut..].to_vec()).ok();
        let (host, opened) = ModelHost::open(&store, Some(&snapshots), config()).expect("reopen");
        prop_assert_eq!(opened.snapshot_records, cut as u64);
        prop_assert_eq!(opened.records_replayed, (records.len() - cut) as u64);
        prop_assert_eq!(snapshot::encode(&host.models()), snapshot::encode(&models_of(records)));
    }
}
