//! AMF0 command messages (type 20): parsing what publishers send and building
//! the replies they wait for (RTMP §7.2, RTMP-CMD-02…07).

use bytes::Bytes;

use crate::amf0::{self, Amf0Limits, Amf0Value, AmfError};

/// A decoded command: `name`, transaction id, command object, then arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    pub name: String,
    pub transaction_id: f64,
    /// The command object (often `null`).
    pub object: Amf0Value,
    pub args: Vec<Amf0Value>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CommandError {
    #[error("command message: {0}")]
    Amf(#[from] AmfError),
    #[error("command message does not start with a command name string")]
    MissingName,
}

impl Command {
    pub fn parse(payload: &[u8], limits: &Amf0Limits) -> Result<Command, CommandError> {
        let mut d = amf0::Decoder::new(payload, limits);
        let name = match d.next_value().transpose()? {
            Some(Amf0Value::String(s)) => s,
            _ => return Err(CommandError::MissingName),
        };
        // Transaction id and object are optional in the wild (e.g. bare onStatus).
        let transaction_id = match d.next_value().transpose()? {
            Some(v) => v.as_f64().unwrap_or(0.0),
            None => 0.0,
        };
        let object = d.next_value().transpose()?.unwrap_or(Amf0Value::Null);
        let mut args = Vec::new();
        while let Some(v) = d.next_value() {
            args.push(v?);
        }
        Ok(Command {
            name,
            transaction_id,
            object,
            args,
        })
    }

    /// The first argument as a string (the stream name of publish/FCPublish/…).
    pub fn first_string_arg(&self) -> Option<&str> {
        self.args.first().and_then(Amf0Value::as_str)
    }
}

/// Split `name?query` (RTMP-CMD-06, pitfall 13). Empty queries become `None`.
pub fn split_query(s: &str) -> (&str, Option<&str>) {
    match s.split_once('?') {
        Some((name, q)) => (name, (!q.is_empty()).then_some(q)),
        None => (s, None),
    }
}

/// Encode a command reply body.
pub fn encode(values: &[Amf0Value]) -> Bytes {
    amf0::encode_all(values).freeze()
}

/// A status object `{level, code, description}`.
pub fn status(level: &str, code: &str, description: &str) -> Amf0Value {
    Amf0Value::object([
        ("level", Amf0Value::string(level)),
        ("code", Amf0Value::string(code)),
        ("description", Amf0Value::string(description)),
    ])
}

/// `onStatus(0, null, {level, code, description})` (RTMP §7.2.2).
pub fn on_status(level: &str, code: &str, description: &str) -> Bytes {
    encode(&[
        Amf0Value::string("onStatus"),
        Amf0Value::Number(0.0),
        Amf0Value::Null,
        status(level, code, description),
    ])
}

/// `_result(txn, null, value)` — the reply to releaseStream/createStream/unknown calls.
pub fn result(txn: f64, value: Amf0Value) -> Bytes {
    encode(&[
        Amf0Value::string("_result"),
        Amf0Value::Number(txn),
        Amf0Value::Null,
        value,
    ])
}

/// `_error(txn, null, {level:"error", code, description})`.
pub fn error(txn: f64, code: &str, description: &str) -> Bytes {
    encode(&[
        Amf0Value::string("_error"),
        Amf0Value::Number(txn),
        Amf0Value::Null,
        status("error", code, description),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_query_from_app_and_key_rtmp_cmd_06() {
        assert_eq!(split_query("cam1?token=abc"), ("cam1", Some("token=abc")));
        assert_eq!(split_query("cam1?"), ("cam1", None));
        assert_eq!(split_query("cam1"), ("cam1", None));
        assert_eq!(split_query("live?a=1?b"), ("live", Some("a=1?b")));
    }

    #[test]
    fn parses_publish_command() {
        let bytes = encode(&[
            Amf0Value::string("publish"),
            Amf0Value::Number(5.0),
            Amf0Value::Null,
            Amf0Value::string("cam1?token=abc"),
            Amf0Value::string("live"),
        ]);
        let c = Command::parse(&bytes, &Amf0Limits::default()).unwrap();
        assert_eq!(c.name, "publish");
        assert_eq!(c.transaction_id, 5.0);
        assert_eq!(c.first_string_arg(), Some("cam1?token=abc"));
        assert_eq!(c.args.get(1).and_then(Amf0Value::as_str), Some("live"));
    }

    #[test]
    fn rejects_commands_without_a_name() {
        let bytes = encode(&[Amf0Value::Number(1.0)]);
        assert_eq!(
            Command::parse(&bytes, &Amf0Limits::default()),
            Err(CommandError::MissingName)
        );
        assert_eq!(
            Command::parse(&[], &Amf0Limits::default()),
            Err(CommandError::MissingName)
        );
    }
}
