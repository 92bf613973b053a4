//! Audio tag bodies (RTMP message type 8): legacy FLV (FLV-A-01) and
//! Enhanced RTMP (ERTMP-04…06).

use bytes::Bytes;

use crate::aac::parse_asc;
use crate::ac3::{parse_ac3_header, parse_eac3_header};
use crate::codec::{fourcc_to_string, AudioConfig};
use crate::error::FlvError;
use crate::ex::{default_track, skip_mod_ex, ExPacket, Track};
use crate::flac::parse_flac_config;
use crate::mp3::parse_mp3_header;
use crate::multichannel::{parse_multichannel_config, MultichannelConfig};
use crate::opus::parse_opus_head;
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
    /// One access unit (a raw AAC frame, an Opus packet, a FLAC frame), as
    /// a zero-copy slice.
    Coded {
        data: Bytes,
    },
    /// One access unit of a codec without a sequence header (MP3, AC-3,
    /// E-AC-3), with the configuration its own header describes.
    CodedWithConfig {
        config: AudioConfig,
        data: Bytes,
    },
    /// An E-RTMP MultichannelConfig for the track of codec `fourcc`.
    ChannelLayout {
        fourcc: [u8; 4],
        layout: MultichannelConfig,
    },
    SequenceEnd,
    /// E.g. the empty "silence" message, or an E-RTMP sequence start
    /// without a configuration (AC-3, E-AC-3, MP3).
    Ignored {
        reason: &'static str,
    },
}

/// SoundFormat values.
const SOUND_FORMAT_MP3: u8 = 2;
const SOUND_FORMAT_EX_HEADER: u8 = 9;
const SOUND_FORMAT_AAC: u8 = 10;
const SOUND_FORMAT_MP3_8K: u8 = 14;

/// E-RTMP AudioPacketType values.
const SEQUENCE_START: u8 = 0;
const CODED_FRAMES: u8 = 1;
const SEQUENCE_END: u8 = 2;
const MULTICHANNEL_CONFIG: u8 = 4;
const MULTITRACK: u8 = 5;

/// Ends every "not supported" message, so a publisher knows what to send.
const PACKAGED: &str = "Weir packages AAC, Opus, FLAC, AC-3, E-AC-3 and MP3";

/// Parses an audio tag body: the payload of an RTMP type-8 message.
///
/// An empty body is the legacy "silence" message (`Ignored`). Legacy
/// SoundFormat 10 (AAC) is parsed and its SoundRate/SoundSize/SoundType
/// bits are ignored (rate and channels come from the AudioSpecificConfig
/// only); SoundFormat 2 and 14 (MP3) give `CodedWithConfig` with the
/// configuration of the frame header; every other legacy SoundFormat is
/// [`FlvError::Unsupported`] with a message that names it. SoundFormat 9
/// switches to Enhanced RTMP: ModEx is skipped, multitrack messages yield
/// trackId 0, sequence starts are parsed as an AudioSpecificConfig (`mp4a`),
/// OpusHead (`Opus`) or STREAMINFO (`fLaC`); `ac-3`, `ec-3` and `.mp3`
/// coded frames carry their configuration in their own headers.
pub fn parse_audio(payload: Bytes) -> Result<AudioTag, FlvError> {
    if payload.is_empty() {
        return Ok(ignored("silence (empty audio message)"));
    }
    let mut r = Reader::new(payload);
    let b0 = r.u8("audio tag header")?;
    let sound_format = b0 >> 4;
    match sound_format {
        SOUND_FORMAT_AAC => parse_legacy_aac(r),
        SOUND_FORMAT_MP3 | SOUND_FORMAT_MP3_8K => {
            let data = r.rest();
            let config = AudioConfig::Mp3(parse_mp3_header(&data)?);
            Ok(AudioTag {
                packet: AudioPacket::CodedWithConfig { config, data },
            })
        }
        SOUND_FORMAT_EX_HEADER => parse_ex(b0, r),
        other => Err(FlvError::unsupported(format!(
            "{} audio (SoundFormat {other}) is not supported: {PACKAGED}",
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
        0 => "Linear PCM (platform endian)",
        1 => "ADPCM",
        3 => "Linear PCM (little endian)",
        4 => "Nellymoser 16 kHz mono",
        5 => "Nellymoser 8 kHz mono",
        6 => "Nellymoser",
        7 => "G.711 A-law",
        8 => "G.711 mu-law",
        11 => "Speex",
        15 => "Device-specific",
        _ => "Reserved",
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

/// How an E-RTMP audio FourCC carries its configuration.
enum ConfigIn {
    /// A sequence start: `mp4a`, `Opus`, `fLaC`.
    SequenceStart,
    /// Every coded frame's header: `ac-3`, `ec-3`, `.mp3`.
    Frames,
}

fn ex_packet(packet: ExPacket) -> Result<AudioPacket, FlvError> {
    let ExPacket {
        packet_type,
        fourcc,
        mut body,
    } = packet;
    let config_in = match &fourcc {
        b"mp4a" | b"Opus" | b"fLaC" => ConfigIn::SequenceStart,
        b"ac-3" | b"ec-3" | b".mp3" => ConfigIn::Frames,
        other => {
            return Err(FlvError::unsupported(format!(
                "E-RTMP audio FourCC '{}' is not supported: {PACKAGED}",
                fourcc_to_string(other)
            )))
        }
    };
    Ok(match (packet_type, config_in) {
        (SEQUENCE_START, ConfigIn::SequenceStart) => {
            AudioPacket::SequenceStart(sequence_start(&fourcc, body.rest())?)
        }
        (SEQUENCE_START, ConfigIn::Frames) if body.is_empty() => AudioPacket::Ignored {
            reason: "E-RTMP audio sequence start without a configuration \
                     (AC-3, E-AC-3 and MP3 frames carry their own)",
        },
        // A publisher that puts a frame (header) in the sequence start.
        (SEQUENCE_START, ConfigIn::Frames) => {
            AudioPacket::SequenceStart(frame_config(&fourcc, &body.rest())?)
        }
        (CODED_FRAMES, ConfigIn::SequenceStart) => AudioPacket::Coded { data: body.rest() },
        (CODED_FRAMES, ConfigIn::Frames) => {
            let data = body.rest();
            AudioPacket::CodedWithConfig {
                config: frame_config(&fourcc, &data)?,
                data,
            }
        }
        (SEQUENCE_END, _) => AudioPacket::SequenceEnd,
        (MULTICHANNEL_CONFIG, _) => AudioPacket::ChannelLayout {
            fourcc,
            layout: parse_multichannel_config(body.rest())?,
        },
        (other, _) => {
            return Err(FlvError::unsupported(format!(
                "E-RTMP AudioPacketType {other}"
            )))
        }
    })
}

/// The configuration in the sequence start of `mp4a`, `Opus` or `fLaC`.
fn sequence_start(fourcc: &[u8; 4], body: Bytes) -> Result<AudioConfig, FlvError> {
    Ok(match fourcc {
        b"Opus" => AudioConfig::Opus(parse_opus_head(body)?),
        b"fLaC" => AudioConfig::Flac(parse_flac_config(body)?),
        _ => AudioConfig::Aac(parse_asc(body)?),
    })
}

/// The configuration in the header of an `ac-3`, `ec-3` or `.mp3` frame.
fn frame_config(fourcc: &[u8; 4], frame: &[u8]) -> Result<AudioConfig, FlvError> {
    Ok(match fourcc {
        b"ac-3" => AudioConfig::Ac3(parse_ac3_header(frame)?),
        b"ec-3" => AudioConfig::Eac3(parse_eac3_header(frame)?),
        _ => AudioConfig::Mp3(parse_mp3_header(frame)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_vectors::*;
    use crate::test_vectors::*;

    fn cat(parts: &[&[u8]]) -> Bytes {
        Bytes::from(parts.concat())
    }

    fn aac(tag: &AudioTag) -> &crate::AacConfig {
        match &tag.packet {
            AudioPacket::SequenceStart(AudioConfig::Aac(c)) => c,
            other => panic!("expected an AAC config, got {other:?}"),
        }
    }

    fn coded(tag: &AudioTag) -> &[u8] {
        match &tag.packet {
            AudioPacket::Coded { data } => data,
            other => panic!("expected Coded, got {other:?}"),
        }
    }

    fn unsupported_text(r: Result<AudioTag, FlvError>) -> String {
        match r {
            Err(FlvError::Unsupported { what }) => what,
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    // ---- FLV-A-01: legacy AAC -------------------------------------------

    #[test]
    fn flv_a_01_real_sequence_headers() {
        let tag = parse_audio(Bytes::from(hex(AAC_48K_STEREO_SEQ))).unwrap();
        let c = aac(&tag);
        assert_eq!(c.codec_string(), "mp4a.40.2");
        assert_eq!((c.sample_rate, c.channels), (48000, 2));
        assert_eq!(&c.record[..], &hex("119056e500")[..]);
        let tag = parse_audio(Bytes::from(hex(AAC_44K_MONO_SEQ))).unwrap();
        assert_eq!((aac(&tag).sample_rate, aac(&tag).channels), (44100, 1));
    }

    /// Pitfall 15: SoundRate/SoundSize/SoundType are ignored for AAC.
    #[test]
    fn flv_a_01_sound_rate_and_type_bits_are_ignored() {
        let tag = parse_audio(cat(&[
            &[0xa0],       // SoundFormat 10 | SoundRate 0 (5.5 kHz) | 8-bit | mono
            &[0x00],       // AACPacketType 0
            &[0x11, 0x90], // ASC: LC, 48000, stereo
        ]))
        .unwrap();
        assert_eq!((aac(&tag).sample_rate, aac(&tag).channels), (48000, 2));
        let config = AudioConfig::Aac(aac(&tag).clone());
        assert_eq!(config.codec_string().as_deref(), Some("mp4a.40.2"));
        assert_eq!(&config.record()[..], &[0x11, 0x90]);
    }

    #[test]
    fn flv_a_01_real_raw_frame_is_a_zero_copy_slice() {
        let payload = Bytes::from(hex(AAC_FRAME_HEAD));
        let tag = parse_audio(payload.clone()).unwrap();
        assert_eq!(coded(&tag), &payload[2..]);
        assert_eq!(coded(&tag).as_ptr(), payload[2..].as_ptr());
        let tag = parse_audio(cat(&[&[0xaf, 0x01]])).unwrap();
        assert_eq!(coded(&tag), &[] as &[u8]);
    }

    #[test]
    fn flv_a_01_bad_aac_packet_type() {
        assert!(matches!(
            parse_audio(cat(&[&[0xaf, 0x02]])),
            Err(FlvError::Invalid {
                what: "AACPacketType",
                ..
            })
        ));
    }

    /// ERTMP-04: the empty message is legacy "silence".
    #[test]
    fn ertmp_04_empty_message_is_silence() {
        let tag = parse_audio(Bytes::new()).unwrap();
        assert!(matches!(tag.packet, AudioPacket::Ignored { .. }));
    }

    #[test]
    fn flv_a_01_truncation_at_every_prefix() {
        let seq = Bytes::from(hex(AAC_48K_STEREO_SEQ));
        for n in 0..seq.len() {
            let res = parse_audio(seq.slice(..n));
            match n {
                0 => assert!(matches!(res.unwrap().packet, AudioPacket::Ignored { .. })),
                // Header, packet type or ASC core cut.
                1..=3 => assert!(res.is_err(), "prefix {n}"),
                // The optional sync extension is cut: LC 48k, or an error
                // when the cut falls inside the extension's fields.
                _ => {
                    if let Ok(tag) = res {
                        assert_eq!(aac(&tag).sample_rate, 48000);
                        assert_eq!(aac(&tag).object_type, 2);
                    }
                }
            }
        }
    }

    /// Formats Weir cannot carry are refused with a message that names them.
    #[test]
    fn flv_a_01_other_sound_formats_are_unsupported() {
        for (format, name) in [
            (0u8, "Linear PCM (platform endian) audio (SoundFormat 0)"),
            (1, "ADPCM audio (SoundFormat 1)"),
            (3, "Linear PCM (little endian) audio (SoundFormat 3)"),
            (4, "Nellymoser 16 kHz mono audio (SoundFormat 4)"),
            (5, "Nellymoser 8 kHz mono audio (SoundFormat 5)"),
            (6, "Nellymoser audio (SoundFormat 6)"),
            (7, "G.711 A-law audio (SoundFormat 7)"),
            (8, "G.711 mu-law audio (SoundFormat 8)"),
            (11, "Speex audio (SoundFormat 11)"),
            (12, "Reserved audio (SoundFormat 12)"),
            (13, "Reserved audio (SoundFormat 13)"),
            (15, "Device-specific audio (SoundFormat 15)"),
        ] {
            let err = parse_audio(cat(&[&[format << 4 | 0x0f, 0x00]])).unwrap_err();
            assert!(err.is_unsupported(), "{format}: {err:?}");
            assert_eq!(
                err.to_string(),
                format!(
                    "unsupported {name} is not supported: \
                     Weir packages AAC, Opus, FLAC, AC-3, E-AC-3 and MP3"
                )
            );
        }
    }

    // ---- Legacy MP3 (SoundFormat 2 and 14) ------------------------------

    fn with_config(tag: &AudioTag) -> (&AudioConfig, &[u8]) {
        match &tag.packet {
            AudioPacket::CodedWithConfig { config, data } => (config, data),
            other => panic!("expected CodedWithConfig, got {other:?}"),
        }
    }

    #[test]
    fn legacy_mp3_frames_carry_their_config() {
        let payload = Bytes::from(hex(MP3_44K_MONO_FRAME));
        let tag = parse_audio(payload.clone()).unwrap();
        let (config, data) = with_config(&tag);
        assert_eq!(data, &payload[1..]);
        assert_eq!(data.as_ptr(), payload[1..].as_ptr());
        assert_eq!(config.codec_string().as_deref(), Some("mp4a.6B"));
        assert_eq!((config.sample_rate(), config.channels()), (44_100, 1));
        assert_eq!(config.frame_samples(data), Some(1152));
        // ffmpeg flags 48 kHz MP3 as 44 kHz: the frame header decides.
        let tag = parse_audio(Bytes::from(hex(MP3_48K_STEREO_FRAME))).unwrap();
        let (config, _) = with_config(&tag);
        assert_eq!((config.sample_rate(), config.channels()), (48_000, 2));
        let tag = parse_audio(Bytes::from(hex(MP3_22K_MONO_FRAME))).unwrap();
        let (config, data) = with_config(&tag);
        assert_eq!(config.codec_string().as_deref(), Some("mp4a.69"));
        assert_eq!(config.frame_samples(data), Some(576));
        // SoundFormat 14 ("MP3 8 kHz"): MPEG-2.5 Layer III at 8 kHz.
        let tag = parse_audio(cat(&[&[0xe2], &[0xff, 0xe3, 0x08, 0xc0]])).unwrap();
        assert_eq!(with_config(&tag).0.sample_rate(), 8_000);
        // Not a frame: an error that names the field.
        assert!(matches!(
            parse_audio(cat(&[&[0x2e], &[0x00, 0x01, 0x02, 0x03]])),
            Err(FlvError::Invalid {
                what: "MPEG audio frame sync",
                ..
            })
        ));
        assert!(matches!(
            parse_audio(cat(&[&[0x2e]])),
            Err(FlvError::Truncated { .. })
        ));
    }

    // ---- ERTMP-04: Enhanced audio ---------------------------------------

    #[test]
    fn ertmp_04_mp4a_sequence_start_and_frames() {
        let tag = parse_audio(cat(&[
            &[0x90],                   // SoundFormat 9 (ExHeader) | SequenceStart
            b"mp4a",                   // FourCC
            &[0x2b, 0x11, 0x88, 0x00], // ASC: HE-AAC 24/48 kHz stereo
        ]))
        .unwrap();
        assert_eq!(aac(&tag).codec_string(), "mp4a.40.5");
        assert_eq!(aac(&tag).sample_rate, 48000);
        let tag = parse_audio(cat(&[&[0x91], b"mp4a", &[0x21, 0x10]])).unwrap();
        assert_eq!(coded(&tag), &[0x21, 0x10]);
        let tag = parse_audio(cat(&[&[0x92], b"mp4a"])).unwrap();
        assert_eq!(tag.packet, AudioPacket::SequenceEnd);
    }

    fn config_of(tag: &AudioTag) -> &AudioConfig {
        match &tag.packet {
            AudioPacket::SequenceStart(config) => config,
            other => panic!("expected SequenceStart, got {other:?}"),
        }
    }

    /// What ffmpeg 9 sends for each E-RTMP FourCC, tag by tag.
    #[test]
    fn ertmp_04_ffmpeg_sequence_starts_and_frames() {
        let parse = |h: &str| parse_audio(Bytes::from(hex(h))).unwrap();

        let tag = parse(OPUS_51_SEQ);
        let opus = config_of(&tag);
        assert!(matches!(opus, AudioConfig::Opus(_)));
        assert_eq!(opus.codec_string().as_deref(), Some("opus"));
        assert_eq!((opus.sample_rate(), opus.channels()), (48_000, 6));
        assert_eq!(&opus.record()[..], &hex(OPUS_51_SEQ)[5..]);
        assert_eq!(&opus.fourcc(), b"Opus");
        let tag = parse(OPUS_51_FRAME);
        assert_eq!(opus.frame_samples(coded(&tag)), Some(960));
        let tag = parse_audio(cat(&[&[0x90], b"Opus", &hex(OPUS_HEAD)])).unwrap();
        assert_eq!(config_of(&tag).channels(), 1);

        let tag = parse(FLAC_STEREO_SEQ);
        let flac = config_of(&tag);
        assert_eq!(flac.codec_string().as_deref(), Some("flac"));
        assert_eq!((flac.sample_rate(), flac.channels()), (48_000, 2));
        let tag = parse(FLAC_STEREO_FRAME);
        assert_eq!(flac.frame_samples(coded(&tag)), Some(1024));

        // AC-3 and E-AC-3: an empty sequence start, then self-describing frames.
        for (seq, frame, codecs, channels) in [
            (AC3_SEQ, AC3_51_FRAME, "ac-3", 6),
            (AC3_SEQ, AC3_STEREO_FRAME, "ac-3", 2),
            (EAC3_SEQ, EAC3_MONO_FRAME, "ec-3", 1),
            (EAC3_SEQ, EAC3_51_FRAME, "ec-3", 6),
        ] {
            assert!(matches!(parse(seq).packet, AudioPacket::Ignored { .. }));
            let tag = parse(frame);
            let (config, data) = with_config(&tag);
            assert_eq!(data, &hex(frame)[5..]);
            assert_eq!(config.codec_string().as_deref(), Some(codecs));
            assert_eq!(
                (config.sample_rate(), config.channels()),
                (48_000, channels)
            );
            assert_eq!(config.frame_samples(data), Some(1536));
        }

        // E-RTMP .mp3 (ffmpeg 9 itself sends legacy SoundFormat 2).
        let mp3 = &hex(MP3_22K_MONO_FRAME)[1..];
        let tag = parse_audio(cat(&[&[0x91], b".mp3", mp3])).unwrap();
        let (config, _) = with_config(&tag);
        assert_eq!(config.codec_string().as_deref(), Some("mp4a.69"));
        assert!(matches!(
            parse_audio(cat(&[&[0x90], b".mp3"])).unwrap().packet,
            AudioPacket::Ignored { .. }
        ));
        // A frame in a sequence start is read as the configuration.
        let tag = parse_audio(cat(&[&[0x90], b".mp3", mp3])).unwrap();
        assert_eq!(config_of(&tag).sample_rate(), 22_050);
        // The frame header is checked against the FourCC.
        let ac3_in_ec3 = cat(&[&[0x91], b"ec-3", &hex(AC3_51_FRAME)[5..]]);
        assert!(matches!(
            parse_audio(ac3_in_ec3),
            Err(FlvError::Invalid {
                what: "E-AC-3 bsid",
                ..
            })
        ));
        assert!(parse_audio(cat(&[&[0x91], b"ac-3", &[0x0b]])).is_err());
        // Malformed configurations are typed errors.
        assert!(matches!(
            parse_audio(cat(&[&[0x90], b"Opus", b"OpusHea"])),
            Err(FlvError::Truncated { .. })
        ));
        assert!(parse_audio(cat(&[&[0x90], b"fLaC", &[0; 34]])).is_err());
    }

    #[test]
    fn ertmp_04_multichannel_config() {
        let tag = parse_audio(cat(&[
            &[0x94],                   // ExHeader | MultichannelConfig
            b"Opus",                   // FourCC
            &[0x01, 0x02],             // AudioChannelOrder Native, 2 channels
            &[0x00, 0x00, 0x00, 0x03], // AudioChannelFlags FL | FR
        ]))
        .unwrap();
        assert_eq!(
            tag.packet,
            AudioPacket::ChannelLayout {
                fourcc: *b"Opus",
                layout: MultichannelConfig {
                    channels: 2,
                    order: crate::ChannelOrder::Native { flags: 3 }
                }
            }
        );
        let tag = parse_audio(Bytes::from(hex(AAC_51_MULTICHANNEL))).unwrap();
        assert!(matches!(
            tag.packet,
            AudioPacket::ChannelLayout { fourcc, .. } if &fourcc == b"mp4a"
        ));
        assert!(parse_audio(cat(&[&[0x94], b"Opus", &[0x01, 0x02]])).is_err());
    }

    #[test]
    fn ertmp_04_unknown_fourcc_and_packet_types() {
        let text = unsupported_text(parse_audio(cat(&[&[0x91], b"vorb", &[0]])));
        assert_eq!(
            text,
            "E-RTMP audio FourCC 'vorb' is not supported: \
             Weir packages AAC, Opus, FLAC, AC-3, E-AC-3 and MP3"
        );
        for packet_type in [3u8, 6, 8, 15] {
            let text = unsupported_text(parse_audio(cat(&[&[0x90 | packet_type], b"mp4a"])));
            assert!(text.contains("AudioPacketType"), "{text}");
        }
        assert!(matches!(
            parse_audio(cat(&[&[0x90], b"mp4"])),
            Err(FlvError::Truncated { .. })
        ));
    }

    #[test]
    fn ertmp_06_audio_mod_ex() {
        let tag = parse_audio(cat(&[
            &[0x97],             // ExHeader | ModEx
            &[0x02],             // modExDataSize − 1 = 2
            &[0x00, 0x01, 0x00], // TimestampOffsetNano 256
            &[0x00],             // ModExType 0 | SequenceStart
            b"mp4a",             // FourCC
            &[0x12, 0x08],       // ASC: LC 44100 mono
        ]))
        .unwrap();
        assert_eq!(aac(&tag).sample_rate, 44100);
    }

    #[test]
    fn ertmp_05_audio_many_tracks_selects_track_0() {
        let tag = parse_audio(cat(&[
            &[0x95],          // ExHeader | Multitrack
            &[0x10],          // ManyTracks | SequenceStart
            b"mp4a",          // FourCC
            &[0x01, 0, 0, 2], // trackId 1, sizeOfTrack 2
            &[0x12, 0x08],    // ASC of track 1 (44.1 kHz mono)
            &[0x00, 0, 0, 2], // trackId 0, sizeOfTrack 2
            &[0x11, 0x90],    // ASC of track 0 (48 kHz stereo)
        ]))
        .unwrap();
        assert_eq!((aac(&tag).sample_rate, aac(&tag).channels), (48000, 2));
    }

    #[test]
    fn ertmp_05_audio_many_tracks_many_codecs() {
        let tag = parse_audio(cat(&[
            &[0x95],                      // ExHeader | Multitrack
            &[0x21],                      // ManyTracksManyCodecs | CodedFrames
            b"Opus",                      // FourCC of track 1
            &[0x01, 0, 0, 1, 0xf8],       // trackId 1, size 1, data
            b"mp4a",                      // FourCC of track 0
            &[0x00, 0, 0, 2, 0x21, 0x1a], // trackId 0, size 2, data
        ]))
        .unwrap();
        assert_eq!(coded(&tag), &[0x21, 0x1a]);
    }

    #[test]
    fn ertmp_05_audio_one_track_without_track_0() {
        let tag = parse_audio(cat(&[&[0x95, 0x01], b"mp4a", &[0x02], &[0x21]])).unwrap();
        assert!(matches!(tag.packet, AudioPacket::Ignored { .. }));
        let tag = parse_audio(cat(&[&[0x95, 0x01], b"mp4a", &[0x00], &[0x21]])).unwrap();
        assert_eq!(coded(&tag), &[0x21]);
    }

    #[test]
    fn ertmp_audio_truncation_at_every_prefix() {
        let full = cat(&[
            &[0x97, 0x00, 0x00, 0x05, 0x10],
            b"mp4a",
            &[0x00, 0, 0, 2, 0x11, 0x90],
        ]);
        for n in 1..full.len() {
            let res = parse_audio(full.slice(..n));
            if n == 9 {
                // Cut right after the FourCC: a many-tracks message with no
                // track at all, so no default track.
                assert!(matches!(res.unwrap().packet, AudioPacket::Ignored { .. }));
            } else {
                assert!(res.is_err(), "prefix {n}");
            }
        }
        assert_eq!(aac(&parse_audio(full).unwrap()).sample_rate, 48000);
    }
}
