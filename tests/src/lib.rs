//! Shared fixtures for govrec's integration, crash and end-to-end tests: a small valid
//! area hierarchy and helpers that build events for it.

use govrec_core::event::{AreaKind, AreaRegistered};
use govrec_core::Event;
use govrec_store::NewEvent;
use uuid::Uuid;

/// A deterministic UUID from a number, so tests name their entities.
pub fn uuid_of(n: u64) -> Uuid {
    Uuid::from_u64_pair(0x0193_a1b2_c3d4_7e5f, 0x8a9b_0000_0000_0000 | n)
}

/// An `AreaRegistered` event for an area of `kind` under `parent`.
pub fn area(id: Uuid, kind: AreaKind, name: &str, parent: Option<Uuid>) -> Event {
    Event::AreaRegistered(AreaRegistered {
        area_id: id,
        kind,
        name: name.to_owned(),
        parent_id: parent,
        households: None,
        compound_kind: None,
        has_property_management: None,
        units: (kind == AreaKind::Building).then_some(4),
    })
}

/// A county with a town under it: always valid as long as the ids are new.
pub fn county_and_town(county: Uuid, town: Uuid, label: &str) -> Vec<NewEvent> {
    vec![
        NewEvent::new(area(county, AreaKind::County, &format!("{label}县"), None)),
        NewEvent::new(area(town, AreaKind::Town, &format!("{label}镇"), Some(county))),
    ]
}

/// A county > town > community > compound > building chain, ids `base..base+5`.
pub fn hierarchy(base: u64) -> Vec<NewEvent> {
    let kinds = [
        AreaKind::County,
        AreaKind::Town,
        AreaKind::Community,
        AreaKind::Compound,
        AreaKind::Building,
    ];
    let names = ["灵丘县", "武灵镇", "城东社区", "天河颐居", "1号楼"];
    kinds
        .iter()
        .zip(names)
        .enumerate()
        .map(|(level, (kind, name))| {
            let parent = (level > 0).then(|| uuid_of(base + level as u64 - 1));
            NewEvent::new(area(uuid_of(base + level as u64), *kind, name, parent))
        })
        .collect()
}

/// The body of an HTTP/1.1 response sent with `Transfer-Encoding: chunked`, for tests that
/// speak HTTP over a raw socket.
pub fn http_chunked_body(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        text = &rest[size + 2..];
    }
    out
}
