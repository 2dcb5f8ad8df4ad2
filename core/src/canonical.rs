//! The RFC 8785 (JCS) text of an event, written straight from the event types by a serde
//! serializer, without building a `serde_json::Value` first.
//!
//! It writes exactly what `serde_json::to_string(&event_to_json(event))` writes (the tests
//! compare the two on every event type, and against an independent JCS implementation):
//! - the event is `{"type": <variant>, ...its fields}`;
//! - object keys are sorted (our keys are ASCII, where JCS's UTF-16 order is byte order;
//!   map keys, which no event has yet, sort as `serde_json`'s map does);
//! - absent optionals (`None` in an object) are omitted, a `None` inside an array is `null`;
//! - a struct variant is written as its fields alone, untagged: `PairingEstablished.to`, the
//!   one there is, is `{"area_id", "unit_no"?}`, `{"member_id"}` or `{"household_ref"}`;
//! - strings are escaped as `serde_json` (and JCS) do; integers in decimal.
//!
//! The hash of every record covers this text, so it runs for every append, verify and
//! import; through a `Value` it cost a map node and a `String` per field.

use serde::ser::{self, Impossible, Serialize};

/// Why an event could not be written (only a bug in an event type could cause one).
#[derive(Debug)]
pub struct CanonicalError(String);

impl std::fmt::Display for CanonicalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CanonicalError {}

impl ser::Error for CanonicalError {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        CanonicalError(message.to_string())
    }
}

type Result<T> = std::result::Result<T, CanonicalError>;

/// The JCS text of an event (`Event` or any value shaped like one).
pub fn to_canonical_json<T: Serialize + ?Sized>(event: &T) -> Result<String> {
    let mut out = String::with_capacity(256);
    event.serialize(Writer {
        out: &mut out,
        top: true,
        type_name: None,
    })?;
    Ok(out)
}

/// Writes one value to `out`. `Ok(false)`: the value was an absent optional and nothing was
/// written.
struct Writer<'a> {
    out: &'a mut String,
    /// The event itself, whose newtype variant becomes the `type` key.
    top: bool,
    /// The event's fields: a `type` member to add to them.
    type_name: Option<&'static str>,
}

impl Writer<'_> {
    fn nested(out: &mut String) -> Writer<'_> {
        Writer {
            out,
            top: false,
            type_name: None,
        }
    }
}

/// Writes a JSON string as `serde_json` does, which is JCS's escaping (`"`, `\\`,
/// `\b \f \n \r \t`, other control characters as lowercase `\u00XX`, everything else as
/// UTF-8). The store writes record headers and JSON lines with it too.
pub fn push_json_string(out: &mut String, text: &str) {
    if text
        .bytes()
        .any(|byte| byte < 0x20 || byte == b'"' || byte == b'\\')
    {
        out.push_str(&serde_json::to_string(text).expect("a string always serialises"));
    } else {
        out.push('"');
        out.push_str(text);
        out.push('"');
    }
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = bool;
    type Error = CanonicalError;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Impossible<bool, CanonicalError>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    fn serialize_bool(self, value: bool) -> Result<bool> {
        self.out.push_str(if value { "true" } else { "false" });
        Ok(true)
    }

    fn serialize_i8(self, value: i8) -> Result<bool> {
        self.serialize_i64(i64::from(value))
    }

    fn serialize_i16(self, value: i16) -> Result<bool> {
        self.serialize_i64(i64::from(value))
    }

    fn serialize_i32(self, value: i32) -> Result<bool> {
        self.serialize_i64(i64::from(value))
    }

    fn serialize_i64(self, value: i64) -> Result<bool> {
        self.out.push_str(itoa::Buffer::new().format(value));
        Ok(true)
    }

    fn serialize_u8(self, value: u8) -> Result<bool> {
        self.serialize_u64(u64::from(value))
    }

    fn serialize_u16(self, value: u16) -> Result<bool> {
        self.serialize_u64(u64::from(value))
    }

    fn serialize_u32(self, value: u32) -> Result<bool> {
        self.serialize_u64(u64::from(value))
    }

    fn serialize_u64(self, value: u64) -> Result<bool> {
        self.out.push_str(itoa::Buffer::new().format(value));
        Ok(true)
    }

    fn serialize_f32(self, _value: f32) -> Result<bool> {
        Err(ser::Error::custom("events hold integers only"))
    }

    fn serialize_f64(self, _value: f64) -> Result<bool> {
        Err(ser::Error::custom("events hold integers only"))
    }

    fn serialize_char(self, value: char) -> Result<bool> {
        push_json_string(self.out, value.encode_utf8(&mut [0; 4]));
        Ok(true)
    }

    fn serialize_str(self, value: &str) -> Result<bool> {
        push_json_string(self.out, value);
        Ok(true)
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<bool> {
        // serde_json writes bytes as an array of numbers.
        let mut seq = ser::Serializer::serialize_seq(self, Some(value.len()))?;
        for byte in value {
            ser::SerializeSeq::serialize_element(&mut seq, byte)?;
        }
        ser::SerializeSeq::end(seq)
    }

    fn serialize_none(self) -> Result<bool> {
        Ok(false)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<bool> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<bool> {
        self.out.push_str("null");
        Ok(true)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<bool> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<bool> {
        push_json_string(self.out, variant);
        Ok(true)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<bool> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<bool> {
        if self.top {
            // The event: its fields, plus `type`.
            return value.serialize(Writer {
                out: self.out,
                top: false,
                type_name: Some(variant),
            });
        }
        let mut object = Object::new(self.out);
        object.put(variant, value)?;
        object.finish()
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'a>> {
        self.out.push('[');
        Ok(Seq {
            out: self.out,
            first: true,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(ser::Error::custom(format!(
            "{name}::{variant}: events have no tuple variants"
        )))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a>> {
        Ok(Object::new(self.out))
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Object<'a>> {
        let mut object = Object::new(self.out);
        if let Some(type_name) = self.type_name {
            object.put("type", type_name)?;
        }
        Ok(object)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Object<'a>> {
        // Untagged: the variant is told apart by its fields.
        Ok(Object::new(self.out))
    }
}

/// An array being written.
struct Seq<'a> {
    out: &'a mut String,
    first: bool,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        if !value.serialize(Writer::nested(self.out))? {
            self.out.push_str("null");
        }
        Ok(())
    }

    fn close(self) -> Result<bool> {
        self.out.push(']');
        Ok(true)
    }
}

/// serde's three array-like traits, each one call into `Seq`.
macro_rules! array_traits {
    ($($trait:ident :: $method:ident),+) => {$(
        impl ser::$trait for Seq<'_> {
            type Ok = bool;
            type Error = CanonicalError;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                self.element(value)
            }

            fn end(self) -> Result<bool> {
                self.close()
            }
        }
    )+};
}

array_traits!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

/// An object being written: each member's value goes to `values`, and `finish` writes the
/// members to `out` sorted by key.
struct Object<'a> {
    out: &'a mut String,
    values: String,
    /// Key and the member's value at `values[start..end]`.
    members: Vec<(std::borrow::Cow<'static, str>, usize, usize)>,
    /// The key of a map entry whose value comes next.
    pending_key: Option<String>,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut String) -> Object<'a> {
        Object {
            out,
            values: String::with_capacity(160),
            members: Vec::with_capacity(8),
            pending_key: None,
        }
    }

    fn put<T: Serialize + ?Sized>(
        &mut self,
        key: impl Into<std::borrow::Cow<'static, str>>,
        value: &T,
    ) -> Result<()> {
        let start = self.values.len();
        if value.serialize(Writer::nested(&mut self.values))? {
            self.members.push((key.into(), start, self.values.len()));
        }
        Ok(())
    }

    fn finish(mut self) -> Result<bool> {
        self.members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = self.members.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(ser::Error::custom(format!(
                "key {:?} twice in one object",
                pair[0].0
            )));
        }
        self.out.push('{');
        for (n, (key, start, end)) in self.members.iter().enumerate() {
            if n > 0 {
                self.out.push(',');
            }
            push_json_string(self.out, key);
            self.out.push(':');
            self.out.push_str(&self.values[*start..*end]);
        }
        self.out.push('}');
        Ok(true)
    }
}

/// serde's two struct-like traits, each one call into `Object`.
macro_rules! struct_traits {
    ($($trait:ident),+) => {$(
        impl ser::$trait for Object<'_> {
            type Ok = bool;
            type Error = CanonicalError;

            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
                self.put(key, value)
            }

            fn end(self) -> Result<bool> {
                self.finish()
            }
        }
    )+};
}

struct_traits!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Object<'_> {
    type Ok = bool;
    type Error = CanonicalError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        // No event has a map yet; keys become strings as serde_json makes them.
        let text = match serde_json::to_value(key).map_err(ser::Error::custom)? {
            serde_json::Value::String(text) => text,
            serde_json::Value::Number(number) => number.to_string(),
            other => {
                return Err(ser::Error::custom(format!(
                    "a map key must be a string, not {other}"
                )))
            }
        };
        self.pending_key = Some(text);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| <CanonicalError as ser::Error>::custom("a map value without its key"))?;
        self.put(key, value)
    }

    fn end(self) -> Result<bool> {
        self.finish()
    }
}
