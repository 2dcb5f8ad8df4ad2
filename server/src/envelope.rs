//! The fast way through `{"events": [EVENT, ...]}`: each event decoded straight from the body
//! into its typed struct, where [`govrec_store::new_event_from_json`] first builds a
//! `serde_json::Value` of the whole body and then converts it (every string allocated twice, a
//! map per object). That took a fifth of a batch append's CPU over HTTP.
//!
//! It only ever answers for bodies it is sure about, and answers `None` for the rest, which the
//! general path then parses and, if they are wrong, explains (its errors name the field and the
//! rule, and tests pin them down). So this path never produces an error and never accepts
//! anything the general path would refuse:
//!
//! - a body with the bytes `null` anywhere (the general path refuses null fields; an optional
//!   field would read null as absent here) goes the general way;
//! - so does any event whose first key is not `type`, whose type is `PairingEstablished` (its
//!   `to` is untagged in JSON, which the general path resolves), or that fails to decode here
//!   for any reason (unknown fields, wrong types, duplicate keys, a bad `id` or `occurred_on`);
//! - the rest decodes with the same derived `Deserialize` impls the general path ends in.
//!
//! Tests check that both paths give the same events on every event type of the fixture and on
//! arbitrary text.

use std::borrow::Cow;
use std::fmt;

use govrec_core::event::EventType;
use govrec_core::Event;
use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, StrDeserializer};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::{forward_to_deserialize_any, Deserialize};

use govrec_store::{BusinessDate, NewEvent};

/// The events of a batch body, or `None` when the general path must decide (see the module
/// doc).
pub fn new_events_from_batch(body: &[u8]) -> Option<Vec<NewEvent>> {
    if body.windows(4).any(|window| window == b"null") {
        return None;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let events = deserializer.deserialize_map(BatchVisitor).ok()?;
    deserializer.end().ok()?;
    Some(events)
}

/// A failure of this path: the general path takes over.
#[derive(Debug)]
struct NotHere;

impl fmt::Display for NotHere {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("not for the fast path")
    }
}

impl std::error::Error for NotHere {}

impl de::Error for NotHere {
    fn custom<T: fmt::Display>(_: T) -> NotHere {
        NotHere
    }
}

fn not_here<E: de::Error>() -> E {
    E::custom("not for the fast path")
}

/// A key, borrowed from the body when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a key")
            }

            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct BatchVisitor;

impl<'de> Visitor<'de> for BatchVisitor {
    type Value = Vec<NewEvent>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("{\"events\": [...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<NewEvent>, A::Error> {
        match map.next_key::<Key>()? {
            Some(Key(key)) if key == "events" => {}
            _ => return Err(not_here()),
        }
        let events = map.next_value_seed(EventsSeed)?;
        match map.next_key::<Key>()? {
            None => Ok(events),
            Some(_) => Err(not_here()),
        }
    }
}

struct EventsSeed;

impl<'de> DeserializeSeed<'de> for EventsSeed {
    type Value = Vec<NewEvent>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<NewEvent>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EventsSeed {
    type Value = Vec<NewEvent>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<NewEvent>, A::Error> {
        let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(event) = seq.next_element_seed(EventSeed)? {
            events.push(event);
        }
        Ok(events)
    }
}

struct EventSeed;

impl<'de> DeserializeSeed<'de> for EventSeed {
    type Value = NewEvent;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<NewEvent, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EventSeed {
    type Value = NewEvent;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NewEvent, A::Error> {
        match map.next_key::<Key>()? {
            Some(Key(key)) if key == "type" => {}
            _ => return Err(not_here()),
        }
        let Key(name) = map.next_value::<Key>()?;
        let event_type = EventType::from_name(&name).ok_or_else(not_here)?;
        if event_type == EventType::PairingEstablished {
            return Err(not_here());
        }
        let mut envelope = Envelope::default();
        let event = Event::deserialize(EventOf {
            name: event_type.name(),
            fields: Fields {
                map,
                envelope: &mut envelope,
            },
        })
        .map_err(|NotHere| not_here::<A::Error>())?;
        Ok(NewEvent {
            id: envelope.id,
            occurred_on: envelope.occurred_on,
            event,
        })
    }
}

/// The keys of an event beside its own fields.
#[derive(Default)]
struct Envelope {
    id: Option<uuid::Uuid>,
    occurred_on: Option<BusinessDate>,
}

/// An event's remaining keys, with `id` and `occurred_on` taken out into the envelope.
struct Fields<'a, A> {
    map: A,
    envelope: &'a mut Envelope,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Fields<'_, A> {
    type Error = NotHere;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, NotHere> {
        loop {
            let Some(Key(key)) = self.map.next_key::<Key>().map_err(|_| NotHere)? else {
                return Ok(None);
            };
            match key.as_ref() {
                "id" if self.envelope.id.is_none() => {
                    let Key(text) = self.map.next_value::<Key>().map_err(|_| NotHere)?;
                    self.envelope.id = Some(uuid::Uuid::parse_str(&text).map_err(|_| NotHere)?);
                }
                "occurred_on" if self.envelope.occurred_on.is_none() => {
                    let Key(text) = self.map.next_value::<Key>().map_err(|_| NotHere)?;
                    self.envelope.occurred_on = Some(BusinessDate::parse(&text).ok_or(NotHere)?);
                }
                // A second `id`, `occurred_on` or `type`: the general path says what it makes
                // of duplicate keys.
                "id" | "occurred_on" | "type" => return Err(NotHere),
                _ => {
                    return match key {
                        Cow::Borrowed(key) => seed.deserialize(BorrowedStrDeserializer::new(key)).map(Some),
                        Cow::Owned(key) => seed.deserialize(StrDeserializer::new(&key)).map(Some),
                    }
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, NotHere> {
        self.map.next_value_seed(seed).map_err(|_| NotHere)
    }
}

/// The event `name` with its fields: what `Event`'s derived `Deserialize` expects of an
/// externally tagged newtype variant.
struct EventOf<'a, A> {
    name: &'static str,
    fields: Fields<'a, A>,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for EventOf<'_, A> {
    type Error = NotHere;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, NotHere> {
        Err(NotHere)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NotHere> {
        visitor.visit_enum(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

impl<'de, 'a, A: MapAccess<'de>> EnumAccess<'de> for EventOf<'a, A> {
    type Error = NotHere;
    type Variant = Fields<'a, A>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Fields<'a, A>), NotHere> {
        let variant = seed.deserialize(StrDeserializer::<NotHere>::new(self.name))?;
        Ok((variant, self.fields))
    }
}

impl<'de, A: MapAccess<'de>> VariantAccess<'de> for Fields<'_, A> {
    type Error = NotHere;

    fn unit_variant(self) -> Result<(), NotHere> {
        Err(NotHere)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, NotHere> {
        seed.deserialize(MapAccessDeserializer::new(self))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, NotHere> {
        Err(NotHere)
    }

    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], _: V) -> Result<V::Value, NotHere> {
        Err(NotHere)
    }
}
