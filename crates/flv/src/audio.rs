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

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn flv_a_01_other_sound_formats_are_unsupported() {
        for (format, name) in [
            (0u8, "PCM"),
            (1, "ADPCM"),
            (2, "MP3"),
            (3, "little endian"),
            (4, "Nellymoser 16"),
            (5, "Nellymoser 8"),
            (6, "Nellymoser"),
            (7, "A-law"),
            (8, "mu-law"),
            (11, "Speex"),
            (12, "reserved"),
            (13, "reserved"),
            (14, "MP3 8"),
            (15, "device"),
        ] {
            let text = unsupported_text(parse_audio(cat(&[&[format << 4 | 0x0f, 0x00]])));
            assert!(text.contains(name), "{format}: {text}");
        }
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

    #[test]
    fn ertmp_04_other_fourccs_give_unsupported_configs() {
        let head = hex(OPUS_HEAD);
        let tag = parse_audio(cat(&[&[0x90], b"Opus", &head])).unwrap();
        let AudioPacket::SequenceStart(config) = &tag.packet else {
            panic!("expected SequenceStart")
        };
        assert_eq!(
            config,
            &AudioConfig::Unsupported {
                codec: "Opus".into(),
                record: Bytes::from(head.clone())
            }
        );
        assert_eq!(config.codec_string(), None);
        assert_eq!(&config.record()[..], &head[..]);
        for fourcc in [b"fLaC", b"ac-3", b"ec-3", b".mp3"] {
            let tag = parse_audio(cat(&[&[0x90], fourcc])).unwrap();
            let AudioPacket::SequenceStart(AudioConfig::Unsupported { codec, .. }) = &tag.packet
            else {
                panic!("expected an unsupported config")
            };
            assert_eq!(codec.as_bytes(), fourcc);
            let tag = parse_audio(cat(&[&[0x91], fourcc, &[1, 2, 3]])).unwrap();
            assert_eq!(coded(&tag), &[1, 2, 3]);
        }
    }

    #[test]
    fn ertmp_04_multichannel_config_is_ignored() {
        let tag = parse_audio(cat(&[
            &[0x94],                   // ExHeader | MultichannelConfig
            b"Opus",                   // FourCC
            &[0x01, 0x02],             // AudioChannelOrder Native, 2 channels
            &[0x00, 0x00, 0x00, 0x03], // AudioChannelFlags FL | FR
        ]))
        .unwrap();
        assert!(matches!(tag.packet, AudioPacket::Ignored { .. }));
    }

    #[test]
    fn ertmp_04_unknown_fourcc_and_packet_types() {
        let text = unsupported_text(parse_audio(cat(&[&[0x91], b"vorb", &[0]])));
        assert!(text.contains("'vorb'"), "{text}");
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
