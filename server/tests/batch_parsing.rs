//! The fast path through an append body (`govrec_server::envelope::new_events_from_batch`) gives exactly
//! the events of the general path (`serde_json::Value`, then `new_event_from_json`), and steps
//! aside (`None`) for every body it is not sure about, so that the general path's errors stay
//! the only ones.

use govrec_server::envelope::new_events_from_batch;
use govrec_store::{new_event_from_json, NewEvent};
use serde_json::Value;

/// What the general path makes of a body: its events, or `None` when it refuses it.
fn general(body: &str) -> Option<Vec<NewEvent>> {
    let value: Value = serde_json::from_str(body).ok()?;
    let Value::Object(mut object) = value else {
        return None;
    };
    let Some(Value::Array(events)) = object.remove("events") else {
        return None;
    };
    if !object.is_empty() {
        return None;
    }
    events
        .into_iter()
        .map(|event| new_event_from_json(event).ok())
        .collect()
}

/// An event object written with `type` first, then `extra` (already JSON members), then its
/// fields in the fixture's order.
fn with_type_first(line: &str, extra: &str) -> (String, &'static str) {
    let Value::Object(fields) = serde_json::from_str::<Value>(line).unwrap() else {
        panic!("{line}")
    };
    let type_name = govrec_core::EventType::ALL
        .iter()
        .find(|kind| Some(kind.name()) == fields["type"].as_str())
        .unwrap()
        .name();
    let mut text = format!("{{\"type\":\"{type_name}\"{extra}");
    for (key, value) in &fields {
        if key != "type" {
            text.push_str(&format!(",{}:{value}", serde_json::to_string(key).unwrap()));
        }
    }
    text.push('}');
    (text, type_name)
}

#[test]
fn both_paths_give_the_same_events_of_every_type() {
    let fixture = include_str!("../../core/tests/fixtures/stored-v1.jsonl");
    let extras = [
        "",
        ",\"id\":\"0195f0c2-3b4a-7c8d-9e0f-123456789abc\"",
        ",\"occurred_on\":\"2026-03-04\",\"id\":\"0195f0c2-3b4a-7c8d-9e0f-123456789abd\"",
    ];
    let mut fast_types = std::collections::BTreeSet::new();
    for line in fixture.lines() {
        for extra in extras {
            let (event, type_name) = with_type_first(line, extra);
            let body = format!("{{\"events\":[{event},{event}]}}");
            let expected = general(&body).unwrap_or_else(|| panic!("the general path refused {body}"));
            match new_events_from_batch(body.as_bytes()) {
                Some(fast) => {
                    assert_eq!(fast, expected, "{body}");
                    fast_types.insert(type_name);
                }
                None => assert_eq!(type_name, "PairingEstablished", "{body}"),
            }
        }
    }
    // Every type but PairingEstablished takes the fast path.
    assert_eq!(fast_types.len(), govrec_core::EventType::ALL.len() - 1);
}

#[test]
fn bodies_the_fast_path_is_not_sure_about_go_the_general_way() {
    let county = "{\"type\":\"AreaRegistered\",\"area_id\":\"0195f0c2-3b4a-7c8d-9e0f-000000000001\",\"kind\":\"county\",\"name\":\"灵丘县\"";
    let good = format!("{{\"events\":[{county}}}]}}");
    assert!(new_events_from_batch(good.as_bytes()).is_some(), "{good}");
    let cases = [
        // Null fields, which the general path refuses and an optional field would read as absent.
        format!("{{\"events\":[{county},\"parent_id\":null}}]}}"),
        // `type` not first; unknown and duplicate keys; a second id.
        "{\"events\":[{\"kind\":\"county\",\"type\":\"AreaRegistered\",\"area_id\":\"0195f0c2-3b4a-7c8d-9e0f-000000000001\",\"name\":\"县\"}]}".to_owned(),
        format!("{{\"events\":[{county},\"colour\":\"red\"}}]}}"),
        format!("{{\"events\":[{county},\"name\":\"又一个县\"}}]}}"),
        format!("{{\"events\":[{county},\"id\":\"0195f0c2-3b4a-7c8d-9e0f-000000000009\",\"id\":\"0195f0c2-3b4a-7c8d-9e0f-000000000008\"}}]}}"),
        // A bad id or date, a wrong type, an unknown event type.
        format!("{{\"events\":[{county},\"id\":\"not-a-uuid\"}}]}}"),
        format!("{{\"events\":[{county},\"occurred_on\":\"2026-02-30\"}}]}}"),
        "{\"events\":[{\"type\":\"AreaRegistered\",\"area_id\":7,\"kind\":\"county\",\"name\":\"县\"}]}".to_owned(),
        "{\"events\":[{\"type\":\"NoSuchEvent\"}]}".to_owned(),
        // The envelope: other keys, not an array, trailing bytes, not JSON.
        format!("{{\"events\":[{county}}}],\"more\":1}}"),
        "{\"events\":{}}".to_owned(),
        format!("{good} x"),
        "{\"events\":[".to_owned(),
    ];
    for body in &cases {
        assert_eq!(new_events_from_batch(body.as_bytes()), None, "{body}");
    }
}

fn any_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::strategy::Strategy as _;
    proptest::collection::vec(proptest::char::any(), 0..24).prop_map(|chars| chars.into_iter().collect())
}

proptest::proptest! {
    /// Any text in a name, escapes and all, decodes the same both ways.
    #[test]
    fn any_name_decodes_the_same_both_ways(name in any_text()) {
        let name = serde_json::to_string(&name).unwrap();
        let body = format!("{{\"events\":[{{\"type\":\"AreaRegistered\",\"area_id\":\"0195f0c2-3b4a-7c8d-9e0f-000000000001\",\"kind\":\"county\",\"name\":{name}}}]}}");
        let fast = new_events_from_batch(body.as_bytes());
        if !body.contains("null") {
            proptest::prop_assert!(fast.is_some(), "{}", body);
        }
        if let Some(fast) = fast {
            proptest::prop_assert_eq!(Some(fast), general(&body));
        }
    }
}
