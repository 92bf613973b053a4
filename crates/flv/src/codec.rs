//! Decoder configurations as the rest of Weir sees them. Each codec's
//! module builds its own RFC 6381 `CODECS` string (CODEC-01, CODEC-02), so
//! this module only points down at them.

use bytes::Bytes;

use crate::aac::AacConfig;
use crate::avc::AvcConfig;

/// A video decoder configuration from a sequence header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoConfig {
    Avc(AvcConfig),
    /// Recognised but not packaged yet: FourCC `hvc1`, `av01`, `vp09`,
    /// `vp08` or `vvc1`. `record` is the configuration record verbatim
    /// (hvcC, av1C, vpcC, vvcC).
    Unsupported {
        fourcc: [u8; 4],
        record: Bytes,
    },
}

impl VideoConfig {
    /// The `CODECS` value, for configurations Weir packages.
    pub fn codec_string(&self) -> Option<String> {
        match self {
            Self::Avc(avc) => Some(avc.codec_string()),
            Self::Unsupported { .. } => None,
        }
    }

    /// The configuration record verbatim. Two sequence headers describe the
    /// same configuration exactly when their records are equal (FLV-SEQ-01).
    pub fn record(&self) -> &Bytes {
        match self {
            Self::Avc(avc) => &avc.record,
            Self::Unsupported { record, .. } => record,
        }
    }

    /// The E-RTMP FourCC of the codec (`avc1` for AVC from a legacy tag).
    pub fn fourcc(&self) -> [u8; 4] {
        match self {
            Self::Avc(_) => *b"avc1",
            Self::Unsupported { fourcc, .. } => *fourcc,
        }
    }
}

/// An audio decoder configuration from a sequence header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioConfig {
    Aac(AacConfig),
    /// Recognised but not packaged yet: E-RTMP `Opus`, `fLaC`, `ac-3`,
    /// `ec-3` or `.mp3`. `codec` is the FourCC as text; `record` is the
    /// sequence-start body verbatim (e.g. the OpusHead).
    Unsupported {
        codec: String,
        record: Bytes,
    },
}

impl AudioConfig {
    /// The `CODECS` value, for configurations Weir packages.
    pub fn codec_string(&self) -> Option<String> {
        match self {
            Self::Aac(aac) => Some(aac.codec_string()),
            Self::Unsupported { .. } => None,
        }
    }

    /// The configuration record verbatim. Two sequence headers describe the
    /// same configuration exactly when their records are equal (FLV-SEQ-01).
    pub fn record(&self) -> &Bytes {
        match self {
            Self::Aac(aac) => &aac.record,
            Self::Unsupported { record, .. } => record,
        }
    }
}

/// A FourCC as printable text: ASCII graphic characters and spaces are
/// kept, anything else is written as `\xNN`.
pub fn fourcc_to_string(fourcc: &[u8; 4]) -> String {
    let mut out = String::with_capacity(4);
    for &b in fourcc {
        if b.is_ascii_graphic() || b == b' ' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aac::aac_codec_string;
    use crate::avc::avc_codec_string;

    /// CODEC-01 / CODEC-02 mapping table.
    #[test]
    fn codec_strings() {
        assert_eq!(avc_codec_string(0x64, 0x00, 0x1f), "avc1.64001f");
        assert_eq!(avc_codec_string(0x42, 0xc0, 0x1e), "avc1.42c01e");
        assert_eq!(avc_codec_string(0x4d, 0x40, 0x28), "avc1.4d4028");
        assert_eq!(avc_codec_string(0xf4, 0x00, 0x0a), "avc1.f4000a");
        assert_eq!(aac_codec_string(2), "mp4a.40.2");
        assert_eq!(aac_codec_string(5), "mp4a.40.5");
        assert_eq!(aac_codec_string(29), "mp4a.40.29");
        assert_eq!(aac_codec_string(42), "mp4a.40.42");
    }

    #[test]
    fn fourcc_text() {
        assert_eq!(fourcc_to_string(b"avc1"), "avc1");
        assert_eq!(fourcc_to_string(b".mp3"), ".mp3");
        assert_eq!(fourcc_to_string(b"ab \x00"), "ab \\x00");
        assert_eq!(fourcc_to_string(&[0xff, b'a', b'\n', b'b']), "\\xffa\\x0ab");
    }

    #[test]
    fn unsupported_configs_have_no_codec_string() {
        let v = VideoConfig::Unsupported {
            fourcc: *b"av01",
            record: Bytes::from_static(&[0x81]),
        };
        assert_eq!(v.codec_string(), None);
        assert_eq!(&v.record()[..], &[0x81]);
        assert_eq!(&v.fourcc(), b"av01");
        let a = AudioConfig::Unsupported {
            codec: "fLaC".into(),
            record: Bytes::new(),
        };
        assert_eq!(a.codec_string(), None);
        assert!(a.record().is_empty());
    }
}
