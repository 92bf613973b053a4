//! Bounded AMF0 encoder and decoder (RTMP-CMD-09).
//!
//! Our own because every AMF0 crate we probed aborts the process with a stack
//! overflow on deeply nested objects (crate-fit.md §6). Every size a peer
//! controls — nesting depth, entry counts, string lengths — is bounded by
//! [`Amf0Limits`] before anything is allocated for it.

use bytes::{BufMut, BytesMut};

/// Type markers (AMF0 spec §2.1).
mod marker {
    pub const NUMBER: u8 = 0x00;
    pub const BOOLEAN: u8 = 0x01;
    pub const STRING: u8 = 0x02;
    pub const OBJECT: u8 = 0x03;
    pub const MOVIECLIP: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const UNDEFINED: u8 = 0x06;
    pub const REFERENCE: u8 = 0x07;
    pub const ECMA_ARRAY: u8 = 0x08;
    pub const OBJECT_END: u8 = 0x09;
    pub const STRICT_ARRAY: u8 = 0x0A;
    pub const DATE: u8 = 0x0B;
    pub const LONG_STRING: u8 = 0x0C;
    pub const UNSUPPORTED: u8 = 0x0D;
    pub const XML_DOCUMENT: u8 = 0x0F;
    pub const TYPED_OBJECT: u8 = 0x10;
    pub const AVMPLUS: u8 = 0x11;
}

/// One decoded AMF0 value. Strings that are not valid UTF-8 are decoded lossily:
/// AMF0 says UTF-8, and nothing Weir does with them needs the raw bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Amf0Value {
    Number(f64),
    Boolean(bool),
    String(String),
    Object(Vec<(String, Amf0Value)>),
    Null,
    Undefined,
    EcmaArray(Vec<(String, Amf0Value)>),
    StrictArray(Vec<Amf0Value>),
    Date {
        millis: f64,
        timezone: i16,
    },
    /// Typed object (0x10): class name plus properties.
    TypedObject {
        class: String,
        properties: Vec<(String, Amf0Value)>,
    },
    /// XML document (0x0F), kept as text.
    Xml(String),
    /// The "unsupported" marker (0x0D).
    Unsupported,
}

impl Amf0Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf0Value::String(s) | Amf0Value::Xml(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Amf0Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Properties of an object, ECMA array or typed object.
    pub fn properties(&self) -> Option<&[(String, Amf0Value)]> {
        match self {
            Amf0Value::Object(p) | Amf0Value::EcmaArray(p) => Some(p),
            Amf0Value::TypedObject { properties, .. } => Some(properties),
            _ => None,
        }
    }

    /// First property named `key` of an object-like value.
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        self.properties()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Convenience: `get(key)` as a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Amf0Value::as_str)
    }

    /// Build an object from `(key, value)` pairs.
    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Amf0Value)>) -> Self {
        Amf0Value::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn string(s: impl Into<String>) -> Self {
        Amf0Value::String(s.into())
    }
}

/// Bounds on what a peer can make the decoder do.
#[derive(Clone, Debug)]
pub struct Amf0Limits {
    /// Maximum nesting of objects/arrays. 64 keeps recursion far from any stack limit.
    pub max_depth: usize,
    /// Maximum number of values (including nested ones) in one decode call.
    pub max_values: usize,
    /// Maximum length of a single string (bytes).
    pub max_string_len: usize,
}

impl Default for Amf0Limits {
    fn default() -> Self {
        Amf0Limits {
            max_depth: 64,
            max_values: 65_536,
            max_string_len: 1 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AmfError {
    #[error("AMF0 truncated while reading {what}")]
    Truncated { what: &'static str },
    #[error("AMF0 nesting deeper than {limit}")]
    TooDeep { limit: usize },
    #[error("AMF0 message holds more than {limit} values")]
    TooManyValues { limit: usize },
    #[error("AMF0 string of {len} bytes exceeds the limit of {limit}")]
    StringTooLong { len: usize, limit: usize },
    #[error("AMF0 type marker {0:#04x} is not supported")]
    UnsupportedMarker(u8),
    #[error("AMF0 object end marker outside an object")]
    UnexpectedObjectEnd,
}

/// Streaming decoder over one message body.
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    values: usize,
    limits: &'a Amf0Limits,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8], limits: &'a Amf0Limits) -> Self {
        Decoder {
            buf,
            pos: 0,
            values: 0,
            limits,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Bytes not consumed yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Decode the next value; `None` at the end of the buffer.
    pub fn next_value(&mut self) -> Option<Result<Amf0Value, AmfError>> {
        if self.is_empty() {
            return None;
        }
        Some(self.value(0))
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], AmfError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(AmfError::Truncated { what })?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(AmfError::Truncated { what })?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, AmfError> {
        Ok(self.take(1, what)?.first().copied().unwrap_or_default())
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, AmfError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, AmfError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64(&mut self, what: &'static str) -> Result<f64, AmfError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_be_bytes(a))
    }

    fn string_of(&mut self, len: usize, what: &'static str) -> Result<String, AmfError> {
        if len > self.limits.max_string_len {
            return Err(AmfError::StringTooLong {
                len,
                limit: self.limits.max_string_len,
            });
        }
        let b = self.take(len, what)?;
        Ok(String::from_utf8_lossy(b).into_owned())
    }

    fn short_string(&mut self, what: &'static str) -> Result<String, AmfError> {
        let len = usize::from(self.u16(what)?);
        self.string_of(len, what)
    }

    fn long_string(&mut self, what: &'static str) -> Result<String, AmfError> {
        let len = usize::try_from(self.u32(what)?).unwrap_or(usize::MAX);
        self.string_of(len, what)
    }

    fn count_value(&mut self) -> Result<(), AmfError> {
        self.values += 1;
        if self.values > self.limits.max_values {
            return Err(AmfError::TooManyValues {
                limit: self.limits.max_values,
            });
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Amf0Value, AmfError> {
        self.count_value()?;
        let m = self.u8("type marker")?;
        Ok(match m {
            marker::NUMBER => Amf0Value::Number(self.f64("number")?),
            marker::BOOLEAN => Amf0Value::Boolean(self.u8("boolean")? != 0),
            marker::STRING => Amf0Value::String(self.short_string("string")?),
            marker::LONG_STRING => Amf0Value::String(self.long_string("long string")?),
            marker::XML_DOCUMENT => Amf0Value::Xml(self.long_string("xml document")?),
            marker::NULL => Amf0Value::Null,
            marker::UNDEFINED => Amf0Value::Undefined,
            marker::UNSUPPORTED => Amf0Value::Unsupported,
            marker::OBJECT => Amf0Value::Object(self.properties(depth)?),
            marker::TYPED_OBJECT => {
                let class = self.short_string("typed object class")?;
                Amf0Value::TypedObject {
                    class,
                    properties: self.properties(depth)?,
                }
            }
            marker::ECMA_ARRAY => {
                // The count is only a hint (RTMP-CMD-09): encoders get it wrong,
                // and it must never size an allocation.
                let _hint = self.u32("ecma array count")?;
                Amf0Value::EcmaArray(self.properties(depth)?)
            }
            marker::STRICT_ARRAY => {
                let count = self.u32("strict array count")?;
                self.enter(depth)?;
                let mut items = Vec::new();
                for _ in 0..count {
                    // Each element costs at least one byte, so a lying count
                    // runs out of input long before memory.
                    items.push(self.value(depth + 1)?);
                }
                Amf0Value::StrictArray(items)
            }
            marker::DATE => {
                let millis = self.f64("date")?;
                let timezone = self.u16("date timezone")? as i16;
                Amf0Value::Date { millis, timezone }
            }
            marker::OBJECT_END => return Err(AmfError::UnexpectedObjectEnd),
            marker::MOVIECLIP | marker::REFERENCE | marker::AVMPLUS => {
                return Err(AmfError::UnsupportedMarker(m))
            }
            other => return Err(AmfError::UnsupportedMarker(other)),
        })
    }

    fn enter(&self, depth: usize) -> Result<(), AmfError> {
        if depth >= self.limits.max_depth {
            return Err(AmfError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        Ok(())
    }

    /// Key/value pairs up to the object-end marker (an empty key followed by 0x09).
    fn properties(&mut self, depth: usize) -> Result<Vec<(String, Amf0Value)>, AmfError> {
        self.enter(depth)?;
        let mut props = Vec::new();
        loop {
            // Some encoders end an ECMA array with the buffer instead of 00 00 09.
            if self.is_empty() {
                return Ok(props);
            }
            let key = self.short_string("property name")?;
            if key.is_empty() {
                let next = self.buf.get(self.pos).copied();
                if next == Some(marker::OBJECT_END) {
                    self.pos += 1;
                    return Ok(props);
                }
                if next.is_none() {
                    return Ok(props);
                }
            }
            let v = self.value(depth + 1)?;
            props.push((key, v));
        }
    }
}

/// Decode every value in `buf`.
pub fn decode_all(buf: &[u8], limits: &Amf0Limits) -> Result<Vec<Amf0Value>, AmfError> {
    let mut d = Decoder::new(buf, limits);
    let mut out = Vec::new();
    while let Some(v) = d.next_value() {
        out.push(v?);
    }
    Ok(out)
}

/// Append the AMF0 encoding of `value` to `out`. Encoding is only used for
/// values Weir builds itself, so it has no limits of its own.
pub fn encode(value: &Amf0Value, out: &mut BytesMut) {
    match value {
        Amf0Value::Number(n) => {
            out.put_u8(marker::NUMBER);
            out.put_f64(*n);
        }
        Amf0Value::Boolean(b) => {
            out.put_u8(marker::BOOLEAN);
            out.put_u8(u8::from(*b));
        }
        Amf0Value::String(s) => encode_string(s, out),
        Amf0Value::Xml(s) => {
            out.put_u8(marker::XML_DOCUMENT);
            put_long_utf8(s, out);
        }
        Amf0Value::Null => out.put_u8(marker::NULL),
        Amf0Value::Undefined => out.put_u8(marker::UNDEFINED),
        Amf0Value::Unsupported => out.put_u8(marker::UNSUPPORTED),
        Amf0Value::Object(props) => {
            out.put_u8(marker::OBJECT);
            encode_properties(props, out);
        }
        Amf0Value::TypedObject { class, properties } => {
            out.put_u8(marker::TYPED_OBJECT);
            put_short_utf8(class, out);
            encode_properties(properties, out);
        }
        Amf0Value::EcmaArray(props) => {
            out.put_u8(marker::ECMA_ARRAY);
            out.put_u32(u32::try_from(props.len()).unwrap_or(u32::MAX));
            encode_properties(props, out);
        }
        Amf0Value::StrictArray(items) => {
            out.put_u8(marker::STRICT_ARRAY);
            out.put_u32(u32::try_from(items.len()).unwrap_or(u32::MAX));
            for v in items {
                encode(v, out);
            }
        }
        Amf0Value::Date { millis, timezone } => {
            out.put_u8(marker::DATE);
            out.put_f64(*millis);
            out.put_i16(*timezone);
        }
    }
}

fn encode_string(s: &str, out: &mut BytesMut) {
    if s.len() <= usize::from(u16::MAX) {
        out.put_u8(marker::STRING);
        put_short_utf8(s, out);
    } else {
        out.put_u8(marker::LONG_STRING);
        put_long_utf8(s, out);
    }
}

/// A u16-prefixed string; longer input is cut at a char boundary (we never build such keys).
fn put_short_utf8(s: &str, out: &mut BytesMut) {
    let mut end = s.len().min(usize::from(u16::MAX));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let s = &s[..end];
    out.put_u16(s.len() as u16);
    out.put_slice(s.as_bytes());
}

fn put_long_utf8(s: &str, out: &mut BytesMut) {
    out.put_u32(u32::try_from(s.len()).unwrap_or(u32::MAX));
    out.put_slice(s.as_bytes());
}

fn encode_properties(props: &[(String, Amf0Value)], out: &mut BytesMut) {
    for (k, v) in props {
        put_short_utf8(k, out);
        encode(v, out);
    }
    out.put_slice(&[0, 0, marker::OBJECT_END]);
}

/// Encode a sequence of values into a fresh buffer.
pub fn encode_all(values: &[Amf0Value]) -> BytesMut {
    let mut out = BytesMut::new();
    for v in values {
        encode(v, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> Amf0Limits {
        Amf0Limits::default()
    }

    #[test]
    fn round_trips_every_type_rtmp_cmd_09() {
        let v = vec![
            Amf0Value::string("connect"),
            Amf0Value::Number(1.0),
            Amf0Value::object([
                ("app", Amf0Value::string("live")),
                ("flag", Amf0Value::Boolean(true)),
                ("n", Amf0Value::Null),
                ("u", Amf0Value::Undefined),
                (
                    "list",
                    Amf0Value::StrictArray(vec![
                        Amf0Value::string("hvc1"),
                        Amf0Value::string("av01"),
                    ]),
                ),
                (
                    "meta",
                    Amf0Value::EcmaArray(vec![("width".into(), Amf0Value::Number(1280.0))]),
                ),
                (
                    "when",
                    Amf0Value::Date {
                        millis: 1.5e12,
                        timezone: -60,
                    },
                ),
            ]),
            Amf0Value::String("x".repeat(70_000)),
        ];
        let bytes = encode_all(&v);
        assert_eq!(decode_all(&bytes, &lim()).unwrap(), v);
    }

    #[test]
    fn decodes_connect_bytes_from_ffmpeg() {
        // "connect", 1.0, {app: "live"}
        let bytes = [
            0x02, 0x00, 0x07, b'c', b'o', b'n', b'n', b'e', b'c', b't', // string "connect"
            0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,    // number 1.0
            0x03, // object
            0x00, 0x03, b'a', b'p', b'p', 0x02, 0x00, 0x04, b'l', b'i', b'v',
            b'e', // app: "live"
            0x00, 0x00, 0x09, // object end
        ];
        let v = decode_all(&bytes, &lim()).unwrap();
        assert_eq!(v[0].as_str(), Some("connect"));
        assert_eq!(v[1].as_f64(), Some(1.0));
        assert_eq!(v[2].get_str("app"), Some("live"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow_case_62() {
        let mut bytes = Vec::new();
        for _ in 0..100_000 {
            bytes.extend_from_slice(&[0x03, 0x00, 0x01, b'a']);
        }
        assert_eq!(
            decode_all(&bytes, &lim()),
            Err(AmfError::TooDeep { limit: 64 })
        );
        let mut arr = Vec::new();
        for _ in 0..100_000 {
            arr.extend_from_slice(&[0x0A, 0, 0, 0, 1]);
        }
        assert_eq!(
            decode_all(&arr, &lim()),
            Err(AmfError::TooDeep { limit: 64 })
        );
    }

    #[test]
    fn lying_counts_do_not_allocate_case_62() {
        // ECMA array claiming 2^32-1 entries with none present: the count is a hint.
        let bytes = [0x08, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(
            decode_all(&bytes, &lim()).unwrap(),
            vec![Amf0Value::EcmaArray(vec![])]
        );
        // Strict array claiming 2^32-1 items with none present.
        let bytes = [0x0A, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            decode_all(&bytes, &lim()),
            Err(AmfError::Truncated { .. })
        ));
        // Long string claiming 4 GiB.
        let bytes = [0x0C, 0xff, 0xff, 0xff, 0xff, b'a'];
        assert!(matches!(
            decode_all(&bytes, &lim()),
            Err(AmfError::StringTooLong { .. })
        ));
    }

    #[test]
    fn key_of_64_kib_is_bounded_case_62() {
        let small = Amf0Limits {
            max_string_len: 1024,
            ..lim()
        };
        let mut bytes = vec![0x03, 0xff, 0xff];
        bytes.extend(std::iter::repeat_n(b'k', 65_535));
        bytes.push(0x05);
        assert!(matches!(
            decode_all(&bytes, &small),
            Err(AmfError::StringTooLong { len: 65_535, .. })
        ));
        // With the default limit the same input decodes.
        let v = decode_all(&bytes, &lim()).unwrap();
        assert_eq!(v[0].properties().unwrap()[0].0.len(), 65_535);
    }

    #[test]
    fn value_count_is_bounded() {
        let l = Amf0Limits {
            max_values: 10,
            ..lim()
        };
        let bytes = vec![0x05; 11];
        assert_eq!(
            decode_all(&bytes, &l),
            Err(AmfError::TooManyValues { limit: 10 })
        );
    }

    #[test]
    fn ecma_array_without_end_marker_is_accepted() {
        let mut b = BytesMut::new();
        b.put_u8(0x08);
        b.put_u32(1);
        put_short_utf8("duration", &mut b);
        encode(&Amf0Value::Number(0.0), &mut b);
        let v = decode_all(&b, &lim()).unwrap();
        assert_eq!(v[0].get("duration"), Some(&Amf0Value::Number(0.0)));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let v = vec![
            Amf0Value::string("onStatus"),
            Amf0Value::object([("code", Amf0Value::string("NetStream.Publish.Start"))]),
        ];
        let bytes = encode_all(&v);
        // Cutting the final object end (00 00 09) is tolerated like an ECMA array
        // that ends with the buffer; any earlier cut loses data.
        for n in 0..bytes.len() - 3 {
            // Either an error or fewer values — never a panic.
            if let Ok(vals) = decode_all(&bytes[..n], &lim()) {
                assert!(vals != v);
            }
        }
    }

    #[test]
    fn fuzz_amf0_decoder() {
        bolero::check!().for_each(|input: &[u8]| {
            let l = Amf0Limits::default();
            let _ = decode_all(input, &l);
        });
    }
}
