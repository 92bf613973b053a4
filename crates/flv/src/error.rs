//! The crate's single error type.

/// Why a tag body, decoder configuration or SPS could not be parsed.
///
/// Every variant describes the *input*: the parser has no state, so a caller
/// can log the error, drop the message and carry on with the next one.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum FlvError {
    /// The input ended inside a byte-aligned field.
    #[error("truncated {what}: need {need} more byte(s), have {have}")]
    Truncated {
        /// The field or structure being read.
        what: &'static str,
        /// Bytes the field needs from the current position.
        need: usize,
        /// Bytes left at the current position.
        have: usize,
    },
    /// The input ended inside a bit-level field (SPS, AudioSpecificConfig).
    #[error("truncated {what}: need {need} more bit(s), have {have}")]
    TruncatedBits {
        /// The field or structure being read.
        what: &'static str,
        /// Bits the field needs from the current position.
        need: usize,
        /// Bits left at the current position.
        have: usize,
    },
    /// A field holds a value the specification forbids.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The field or structure being read.
        what: &'static str,
        /// The offending value and, where useful, what was expected.
        detail: String,
    },
    /// Well-formed input that Weir does not handle (codec, packet type, FourCC…).
    #[error("unsupported {what}")]
    Unsupported {
        /// What is unsupported, in words fit for a log line or a publish rejection.
        what: String,
    },
}

impl FlvError {
    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            detail: detail.into(),
        }
    }

    pub(crate) fn unsupported(what: impl Into<String>) -> Self {
        Self::Unsupported { what: what.into() }
    }

    /// True for [`FlvError::Unsupported`]: the input is well-formed but uses a
    /// codec or feature Weir does not package, as opposed to broken input.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Self::Unsupported { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_field() {
        let e = FlvError::Truncated {
            what: "avcC SPS",
            need: 26,
            have: 3,
        };
        assert_eq!(
            e.to_string(),
            "truncated avcC SPS: need 26 more byte(s), have 3"
        );
        let e = FlvError::invalid("AACPacketType", "7, expected 0 or 1");
        assert_eq!(e.to_string(), "invalid AACPacketType: 7, expected 0 or 1");
        let e = FlvError::unsupported("E-RTMP video FourCC 'xxxx'");
        assert_eq!(e.to_string(), "unsupported E-RTMP video FourCC 'xxxx'");
        assert!(e.is_unsupported());
        assert!(!FlvError::invalid("x", "y").is_unsupported());
    }
}
