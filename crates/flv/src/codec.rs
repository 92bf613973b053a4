//! Decoder configurations as the rest of Weir sees them, and the RFC 6381
//! `CODECS` strings built from them (CODEC-01, CODEC-02).

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

/// `avc1.PPCCLL`: lowercase hex of AVCProfileIndication,
/// profile_compatibility and AVCLevelIndication (RFC 6381 §3.3).
pub fn avc_codec_string(profile: u8, compatibility: u8, level: u8) -> String {
    format!("avc1.{profile:02x}{compatibility:02x}{level:02x}")
}

/// `mp4a.40.<AOT>` with the audio object type in decimal (RFC 6381 §3.3).
pub fn aac_codec_string(object_type: u8) -> String {
    format!("mp4a.40.{object_type}")
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
