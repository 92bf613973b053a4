//! Audio tag bodies (RTMP message type 8): legacy FLV (FLV-A-01) and
//! Enhanced RTMP (ERTMP-04…06).

use bytes::Bytes;

use crate::aac::parse_asc;
use crate::codec::{fourcc_to_string, AudioConfig};
use crate::error::FlvError;
use crate::ex::{default_track, skip_mod_ex, ExPacket, Track};
use crate::reader::Reader;

/// A parsed audio tag body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioTag {
    pub packet: AudioPacket,
}

/// What an audio tag carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioPacket {
    SequenceStart(AudioConfig),
    /// One access unit (a raw AAC frame for AAC), as a zero-copy slice.
    Coded {
        data: Bytes,
    },
    SequenceEnd,
    /// E.g. the empty "silence" message or E-RTMP MultichannelConfig.
    Ignored {
        reason: &'static str,
    },
}

/// SoundFormat values.
const SOUND_FORMAT_EX_HEADER: u8 = 9;
const SOUND_FORMAT_AAC: u8 = 10;

/// E-RTMP AudioPacketType values.
const SEQUENCE_START: u8 = 0;
const CODED_FRAMES: u8 = 1;
const SEQUENCE_END: u8 = 2;
const MULTICHANNEL_CONFIG: u8 = 4;
const MULTITRACK: u8 = 5;

/// Parses an audio tag body: the payload of an RTMP type-8 message.
///
/// An empty body is the legacy "silence" message (`Ignored`). Legacy
/// SoundFormat 10 (AAC) is parsed and its SoundRate/SoundSize/SoundType
/// bits are ignored (rate and channels come from the AudioSpecificConfig
/// only); every other legacy SoundFormat is [`FlvError::Unsupported`].
/// SoundFormat 9 switches to Enhanced RTMP: ModEx is skipped, multitrack
/// messages yield trackId 0, `mp4a` sequence starts are parsed as an ASC and
/// `Opus`/`fLaC`/`ac-3`/`ec-3`/`.mp3` give [`AudioConfig::Unsupported`].
pub fn parse_audio(payload: Bytes) -> Result<AudioTag, FlvError> {
    if payload.is_empty() {
        return Ok(ignored("silence (empty audio message)"));
    }
    let mut r = Reader::new(payload);
    let b0 = r.u8("audio tag header")?;
    let sound_format = b0 >> 4;
    match sound_format {
        SOUND_FORMAT_AAC => parse_legacy_aac(r),
        SOUND_FORMAT_EX_HEADER => parse_ex(b0, r),
        other => Err(FlvError::unsupported(format!(
            "FLV audio SoundFormat {other} ({})",
            sound_format_name(other)
        ))),
    }
}

fn ignored(reason: &'static str) -> AudioTag {
    AudioTag {
        packet: AudioPacket::Ignored { reason },
    }
}

fn sound_format_name(format: u8) -> &'static str {
    match format {
        0 => "linear PCM, platform endian",
        1 => "ADPCM",
        2 => "MP3",
        3 => "linear PCM, little endian",
        4 => "Nellymoser 16 kHz mono",
        5 => "Nellymoser 8 kHz mono",
        6 => "Nellymoser",
        7 => "G.711 A-law",
        8 => "G.711 mu-law",
        11 => "Speex",
        14 => "MP3 8 kHz",
        15 => "device-specific sound",
        _ => "reserved",
    }
}

/// FLV-A-01: AACPacketType 0 = AudioSpecificConfig, 1 = raw frame.
fn parse_legacy_aac(mut r: Reader) -> Result<AudioTag, FlvError> {
    let packet_type = r.u8("AACPacketType")?;
    let packet = match packet_type {
        0 => AudioPacket::SequenceStart(AudioConfig::Aac(parse_asc(r.rest())?)),
        1 => AudioPacket::Coded { data: r.rest() },
        other => {
            return Err(FlvError::invalid(
                "AACPacketType",
                format!("{other}, expected 0 or 1"),
            ))
        }
    };
    Ok(AudioTag { packet })
}

/// ERTMP-04: SoundFormat 9 | AudioPacketType (4 bits).
fn parse_ex(b0: u8, mut r: Reader) -> Result<AudioTag, FlvError> {
    let packet_type = skip_mod_ex(&mut r, b0 & 0x0f)?;
    match default_track(r, packet_type, MULTITRACK)? {
        Track::NoDefault => Ok(ignored(
            "multitrack audio message without the default track (trackId 0)",
        )),
        Track::Default(packet) => Ok(AudioTag {
            packet: ex_packet(packet)?,
        }),
    }
}

fn ex_packet(packet: ExPacket) -> Result<AudioPacket, FlvError> {
    let ExPacket {
        packet_type,
        fourcc,
        mut body,
    } = packet;
    let is_aac = match &fourcc {
        b"mp4a" => true,
        b"Opus" | b"fLaC" | b"ac-3" | b"ec-3" | b".mp3" => false,
        other => {
            return Err(FlvError::unsupported(format!(
                "E-RTMP audio FourCC '{}'",
                fourcc_to_string(other)
            )))
        }
    };
    Ok(match packet_type {
        SEQUENCE_START if is_aac => {
            AudioPacket::SequenceStart(AudioConfig::Aac(parse_asc(body.rest())?))
        }
        SEQUENCE_START => AudioPacket::SequenceStart(AudioConfig::Unsupported {
            codec: fourcc_to_string(&fourcc),
            record: body.rest(),
        }),
        CODED_FRAMES => AudioPacket::Coded { data: body.rest() },
        SEQUENCE_END => AudioPacket::SequenceEnd,
        MULTICHANNEL_CONFIG => AudioPacket::Ignored {
            reason: "E-RTMP audio MultichannelConfig",
        },
        other => {
            return Err(FlvError::unsupported(format!(
                "E-RTMP AudioPacketType {other}"
            )))
        }
    })
}
