//! Decoder configurations as the rest of Weir sees them. Each codec's
//! module builds its own RFC 6381 `CODECS` string (CODEC-01…06), so this
//! module only points down at them.

use bytes::Bytes;

use crate::aac::AacConfig;
use crate::ac3::{ac3_frame_samples, eac3_frame_samples, Ac3Config, Eac3Config};
use crate::av1::Av1Config;
use crate::avc::AvcConfig;
use crate::flac::{flac_frame_samples, FlacConfig};
use crate::format::VideoFormat;
use crate::hevc::HevcConfig;
use crate::mp3::{mp3_frame_samples, Mp3Config};
use crate::multichannel::MultichannelConfig;
use crate::opus::{opus_packet_samples, OpusConfig, OPUS_SAMPLE_RATE};
use crate::vp9::Vp9Config;

/// A video decoder configuration from a sequence header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoConfig {
    Avc(AvcConfig),
    /// HEVC from an E-RTMP `hvc1` SequenceStart or a legacy CodecID 12 tag.
    Hevc(HevcConfig),
    /// AV1 from an E-RTMP `av01` SequenceStart.
    Av1(Av1Config),
    /// VP9 from an E-RTMP `vp09` SequenceStart. The demuxer reports it with
    /// the picture size of the first key frame filled in.
    Vp9(Vp9Config),
    /// Recognised but not packaged: FourCC `vp08` or `vvc1`. `record` is the
    /// configuration record verbatim (vpcC, vvcC).
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
            Self::Hevc(hevc) => Some(hevc.codec_string()),
            Self::Av1(av1) => Some(av1.codec_string()),
            Self::Vp9(vp9) => Some(vp9.codec_string()),
            Self::Unsupported { .. } => None,
        }
    }

    /// The configuration record verbatim (avcC / hvcC / av1C body; for VP9 the vpcC as sent, see
    /// [`Vp9Config::vpcc_box_payload`]): what goes into
    /// the sample entry's configuration box. Two sequence headers describe
    /// the same configuration exactly when their records are equal
    /// (FLV-SEQ-01).
    pub fn record(&self) -> &Bytes {
        match self {
            Self::Avc(avc) => &avc.record,
            Self::Hevc(hevc) => &hevc.record,
            Self::Av1(av1) => &av1.record,
            Self::Vp9(vp9) => &vp9.record,
            Self::Unsupported { record, .. } => record,
        }
    }

    /// The E-RTMP FourCC of the codec (`avc1` for AVC from a legacy tag,
    /// `hvc1` for HEVC from legacy CodecID 12).
    pub fn fourcc(&self) -> [u8; 4] {
        match self {
            Self::Avc(_) => *b"avc1",
            Self::Hevc(_) => *b"hvc1",
            Self::Av1(_) => *b"av01",
            Self::Vp9(_) => *b"vp09",
            Self::Unsupported { fourcc, .. } => *fourcc,
        }
    }

    /// The codec's name in words ("H.264", "HEVC", …) for logs and pages.
    pub fn codec_name(&self) -> &'static str {
        video_codec_name(&self.fourcc()).unwrap_or("unknown video codec")
    }

    /// Picture size, aspect ratio, frame rate, colour and bit depth; `None`
    /// for [`VideoConfig::Unsupported`].
    pub fn format(&self) -> Option<VideoFormat> {
        match self {
            Self::Avc(avc) => Some(avc.format()),
            Self::Hevc(hevc) => Some(hevc.format()),
            Self::Av1(av1) => Some(av1.format()),
            Self::Vp9(vp9) => Some(vp9.format()),
            Self::Unsupported { .. } => None,
        }
    }
}

/// The video codecs Weir packages, in words, for error messages.
pub(crate) const PACKAGED_VIDEO: &str =
    "Weir packages H.264 (avc1), HEVC (hvc1), AV1 (av01) and VP9 (vp09)";

/// The name of an E-RTMP video FourCC in words, for the FourCCs the E-RTMP
/// specification defines.
pub fn video_codec_name(fourcc: &[u8; 4]) -> Option<&'static str> {
    Some(match fourcc {
        b"avc1" => "H.264",
        b"hvc1" => "HEVC",
        b"av01" => "AV1",
        b"vp09" => "VP9",
        b"vp08" => "VP8",
        b"vvc1" => "VVC (H.266)",
        _ => return None,
    })
}

/// The error for a video codec Weir recognises or not but does not
/// package, e.g. "unsupported video codec VP8 (vp08): Weir packages …".
pub(crate) fn unsupported_video(fourcc: &[u8; 4]) -> crate::error::FlvError {
    let name = video_codec_name(fourcc).unwrap_or("unknown codec");
    crate::error::FlvError::unsupported(format!(
        "video codec {name} ({}): {PACKAGED_VIDEO}",
        fourcc_to_string(fourcc)
    ))
}

/// An audio decoder configuration: from a sequence header (AAC, Opus,
/// FLAC), or from the header of a coded frame for the codecs that have none
/// (AC-3, E-AC-3, MP3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioConfig {
    Aac(AacConfig),
    Opus(OpusConfig),
    Flac(FlacConfig),
    Ac3(Ac3Config),
    Eac3(Eac3Config),
    Mp3(Mp3Config),
    /// A codec Weir recognises but does not package. `codec` names it;
    /// `record` is its configuration verbatim. The parser no longer makes
    /// one (every E-RTMP audio FourCC is packaged); kept for hosts that
    /// match on it.
    Unsupported {
        codec: String,
        record: Bytes,
    },
}

impl AudioConfig {
    /// The `CODECS` value, for configurations Weir packages.
    pub fn codec_string(&self) -> Option<String> {
        match self {
            Self::Aac(c) => Some(c.codec_string()),
            Self::Opus(c) => Some(c.codec_string()),
            Self::Flac(c) => Some(c.codec_string()),
            Self::Ac3(c) => Some(c.codec_string()),
            Self::Eac3(c) => Some(c.codec_string()),
            Self::Mp3(c) => Some(c.codec_string()),
            Self::Unsupported { .. } => None,
        }
    }

    /// The configuration in a stable byte form: the AudioSpecificConfig,
    /// OpusHead or STREAMINFO as sent, the `dac3` / `dec3` payload, or the
    /// MP3 fields. Two configurations are the same exactly when their
    /// records (and FourCCs) are equal (FLV-SEQ-01). The channel layout is
    /// not part of it.
    pub fn record(&self) -> &Bytes {
        match self {
            Self::Aac(c) => &c.record,
            Self::Opus(c) => &c.record,
            Self::Flac(c) => &c.record,
            Self::Ac3(c) => &c.record,
            Self::Eac3(c) => &c.record,
            Self::Mp3(c) => &c.record,
            Self::Unsupported { record, .. } => record,
        }
    }

    /// The E-RTMP FourCC of the codec (`mp4a` for AAC and `.mp3` for MP3
    /// from legacy tags too).
    pub fn fourcc(&self) -> [u8; 4] {
        match self {
            Self::Aac(_) => *b"mp4a",
            Self::Opus(_) => *b"Opus",
            Self::Flac(_) => *b"fLaC",
            Self::Ac3(_) => *b"ac-3",
            Self::Eac3(_) => *b"ec-3",
            Self::Mp3(_) => *b".mp3",
            Self::Unsupported { codec, .. } => {
                <[u8; 4]>::try_from(codec.as_bytes()).unwrap_or(*b"????")
            }
        }
    }

    /// The codec's name for people: `AAC`, `Opus`, `FLAC`, `AC-3`,
    /// `E-AC-3`, `MP3`.
    pub fn name(&self) -> &str {
        match self {
            Self::Aac(_) => "AAC",
            Self::Opus(_) => "Opus",
            Self::Flac(_) => "FLAC",
            Self::Ac3(_) => "AC-3",
            Self::Eac3(_) => "E-AC-3",
            Self::Mp3(_) => "MP3",
            Self::Unsupported { codec, .. } => codec,
        }
    }

    /// The sample rate to package at (the media timescale), Hz: the output
    /// rate (the SBR rate for HE-AAC, always 48000 for Opus). 0 for
    /// `Unsupported`.
    pub fn sample_rate(&self) -> u32 {
        match self {
            Self::Aac(c) => c.sample_rate,
            Self::Opus(_) => OPUS_SAMPLE_RATE,
            Self::Flac(c) => c.sample_rate,
            Self::Ac3(c) => c.sample_rate,
            Self::Eac3(c) => c.sample_rate,
            Self::Mp3(c) => c.sample_rate,
            Self::Unsupported { .. } => 0,
        }
    }

    /// Output channels (0 for AAC with a program_config_element and for
    /// `Unsupported`).
    pub fn channels(&self) -> u8 {
        match self {
            Self::Aac(c) => c.channels,
            Self::Opus(c) => c.channels,
            Self::Flac(c) => c.channels,
            Self::Ac3(c) => c.channels,
            Self::Eac3(c) => c.channels,
            Self::Mp3(c) => c.channels,
            Self::Unsupported { .. } => 0,
        }
    }

    /// Samples in one coded frame (one FLV audio tag's payload), at
    /// [`Self::sample_rate`]: the AAC frame length (1024, 960, 2048 with
    /// SBR…), the Opus packet duration from its TOC, the FLAC block size
    /// from its frame header, 1536 for AC-3, 256 × blocks for E-AC-3, and
    /// 1152 / 576 / 384 for MPEG audio. `None` when the frame's header is
    /// not valid for the codec.
    pub fn frame_samples(&self, frame: &[u8]) -> Option<u32> {
        match self {
            Self::Aac(c) => Some(c.samples_per_frame),
            Self::Opus(_) => opus_packet_samples(frame),
            Self::Flac(_) => flac_frame_samples(frame),
            Self::Ac3(_) => ac3_frame_samples(frame),
            Self::Eac3(_) => eac3_frame_samples(frame),
            Self::Mp3(_) => mp3_frame_samples(frame),
            Self::Unsupported { .. } => None,
        }
    }

    /// The channel layout from the publisher's E-RTMP MultichannelConfig,
    /// when it sent one for this codec and channel count.
    pub fn channel_layout(&self) -> Option<&MultichannelConfig> {
        match self {
            Self::Aac(c) => c.channel_layout.as_ref(),
            Self::Opus(c) => c.channel_layout.as_ref(),
            Self::Flac(c) => c.channel_layout.as_ref(),
            Self::Ac3(c) => c.channel_layout.as_ref(),
            Self::Eac3(c) => c.channel_layout.as_ref(),
            Self::Mp3(c) => c.channel_layout.as_ref(),
            Self::Unsupported { .. } => None,
        }
    }

    /// Attaches (or removes) a channel layout.
    pub fn set_channel_layout(&mut self, layout: Option<MultichannelConfig>) {
        match self {
            Self::Aac(c) => c.channel_layout = layout,
            Self::Opus(c) => c.channel_layout = layout,
            Self::Flac(c) => c.channel_layout = layout,
            Self::Ac3(c) => c.channel_layout = layout,
            Self::Eac3(c) => c.channel_layout = layout,
            Self::Mp3(c) => c.channel_layout = layout,
            Self::Unsupported { .. } => {}
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
