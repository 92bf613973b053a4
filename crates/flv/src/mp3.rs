//! MPEG audio (MP3): the decoder configuration read from a frame header
//! (ISO/IEC 11172-3 §2.4.2.3, ISO/IEC 13818-3, and the MPEG-2.5 extension).
//!
//! Neither legacy FLV (SoundFormat 2 and 14) nor E-RTMP `.mp3` carries a
//! sequence header: each frame describes itself, so the configuration is
//! read from every frame and only its sample rate, channel count, version
//! and layer make it up. The bit rate, which varies frame to frame in VBR
//! streams, and joint versus plain stereo are not part of it.

use bytes::Bytes;

use crate::error::FlvError;
use crate::multichannel::MultichannelConfig;

/// The MPEG audio version of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MpegAudioVersion {
    /// ISO/IEC 11172-3: 32, 44.1, 48 kHz.
    Mpeg1,
    /// ISO/IEC 13818-3 low sampling frequencies: 16, 22.05, 24 kHz.
    Mpeg2,
    /// The unofficial MPEG-2.5 extension: 8, 11.025, 12 kHz.
    Mpeg25,
}

/// An MPEG audio configuration, from a frame header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mp3Config {
    /// A stable byte form of the configuration, built from the fields
    /// below (version, layer, channels, sample rate): equal headers give
    /// equal records whatever their bit rate.
    pub record: Bytes,
    /// Hz.
    pub sample_rate: u32,
    /// 1 (mono) or 2 (stereo, joint stereo, dual channel).
    pub channels: u8,
    pub version: MpegAudioVersion,
    /// 1, 2 or 3.
    pub layer: u8,
    /// 384 (Layer I), 1152 (Layer II, MPEG-1 Layer III) or 576 (MPEG-2/2.5
    /// Layer III).
    pub samples_per_frame: u32,
    /// The E-RTMP MultichannelConfig layout, when the publisher sent one.
    pub channel_layout: Option<MultichannelConfig>,
}

/// Reads the 4-byte MPEG audio frame header: the 11-bit sync, version,
/// layer, bit rate index (15 is forbidden; 0, free format, is accepted),
/// sampling frequency index (3 is reserved) and channel mode.
pub fn parse_mp3_header(frame: &[u8]) -> Result<Mp3Config, FlvError> {
    let h = read_header(frame)?;
    let version_code: u8 = match h.version {
        MpegAudioVersion::Mpeg1 => 1,
        MpegAudioVersion::Mpeg2 => 2,
        MpegAudioVersion::Mpeg25 => 25,
    };
    let mut record = vec![version_code, h.layer, h.channels];
    record.extend_from_slice(&h.sample_rate.to_be_bytes());
    Ok(Mp3Config {
        record: Bytes::from(record),
        sample_rate: h.sample_rate,
        channels: h.channels,
        version: h.version,
        layer: h.layer,
        samples_per_frame: h.samples_per_frame,
        channel_layout: None,
    })
}

impl Mp3Config {
    /// The MPEG-4 `objectTypeIndication` of the `esds` DecoderConfigDescriptor:
    /// 0x6B for MPEG-1 audio, 0x69 for MPEG-2 audio (and MPEG-2.5).
    pub fn object_type_indication(&self) -> u8 {
        match self.version {
            MpegAudioVersion::Mpeg1 => 0x6b,
            MpegAudioVersion::Mpeg2 | MpegAudioVersion::Mpeg25 => 0x69,
        }
    }

    /// RFC 6381 `CODECS` value: `mp4a.6B` or `mp4a.69` (the spelling
    /// Chromium matches exactly).
    pub fn codec_string(&self) -> String {
        format!("mp4a.{:02X}", self.object_type_indication())
    }
}

/// Samples in one MPEG audio frame, from its header (384, 576 or 1152);
/// `None` when the bytes are not a valid frame header. An FLV tag holds one
/// frame (ffmpeg, librtmp, OBS), so only the first header is read.
pub fn mp3_frame_samples(frame: &[u8]) -> Option<u32> {
    read_header(frame).ok().map(|h| h.samples_per_frame)
}

struct Header {
    version: MpegAudioVersion,
    layer: u8,
    sample_rate: u32,
    channels: u8,
    samples_per_frame: u32,
}

fn read_header(frame: &[u8]) -> Result<Header, FlvError> {
    let Some(&[b0, b1, b2, b3]) = frame.get(..4).and_then(|s| <&[u8; 4]>::try_from(s).ok()) else {
        return Err(FlvError::Truncated {
            what: "MPEG audio frame header",
            need: 4,
            have: frame.len(),
        });
    };
    if b0 != 0xff || b1 & 0xe0 != 0xe0 {
        return Err(FlvError::invalid(
            "MPEG audio frame sync",
            format!("{b0:02x} {b1:02x}, expected 11 set bits"),
        ));
    }
    let version = match (b1 >> 3) & 0x03 {
        0 => MpegAudioVersion::Mpeg25,
        2 => MpegAudioVersion::Mpeg2,
        3 => MpegAudioVersion::Mpeg1,
        _ => return Err(FlvError::invalid("MPEG audio version", "1 (reserved)")),
    };
    let layer = match (b1 >> 1) & 0x03 {
        1 => 3,
        2 => 2,
        3 => 1,
        _ => return Err(FlvError::invalid("MPEG audio layer", "0 (reserved)")),
    };
    if b2 >> 4 == 0x0f {
        return Err(FlvError::invalid(
            "MPEG audio bitrate index",
            "15 (forbidden)",
        ));
    }
    let rates: [u32; 3] = match version {
        MpegAudioVersion::Mpeg1 => [44_100, 48_000, 32_000],
        MpegAudioVersion::Mpeg2 => [22_050, 24_000, 16_000],
        MpegAudioVersion::Mpeg25 => [11_025, 12_000, 8_000],
    };
    let sample_rate = *rates
        .get(usize::from((b2 >> 2) & 0x03))
        .ok_or_else(|| FlvError::invalid("MPEG audio sampling frequency index", "3 (reserved)"))?;
    let channels = if b3 >> 6 == 0x03 { 1 } else { 2 };
    let samples_per_frame = match (layer, version) {
        (1, _) => 384,
        (3, MpegAudioVersion::Mpeg2 | MpegAudioVersion::Mpeg25) => 576,
        _ => 1152,
    };
    Ok(Header {
        version,
        layer,
        sample_rate,
        channels,
        samples_per_frame,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_vectors::*;
    use crate::test_vectors::hex;

    /// A legacy MP3 tag body after its one-byte header.
    fn frame(tag_hex: &str) -> Vec<u8> {
        hex(tag_hex)[1..].to_vec()
    }

    #[test]
    fn ffmpeg_lame_frames() {
        let c = parse_mp3_header(&frame(MP3_44K_MONO_FRAME)).unwrap();
        assert_eq!((c.sample_rate, c.channels), (44_100, 1));
        assert_eq!((c.version, c.layer), (MpegAudioVersion::Mpeg1, 3));
        assert_eq!(c.samples_per_frame, 1152);
        assert_eq!(c.codec_string(), "mp4a.6B");
        assert_eq!(c.object_type_indication(), hex(MP3_44K_MP4_ESDS)[17]);
        // The next frame is padded (another size): the same configuration.
        let next = parse_mp3_header(&frame(MP3_44K_MONO_FRAME_2)).unwrap();
        assert_eq!(next, c);
        assert_eq!(next.record, c.record);

        let c = parse_mp3_header(&frame(MP3_22K_MONO_FRAME)).unwrap();
        assert_eq!((c.sample_rate, c.channels), (22_050, 1));
        assert_eq!(
            (c.version, c.samples_per_frame),
            (MpegAudioVersion::Mpeg2, 576)
        );
        assert_eq!(c.codec_string(), "mp4a.69");
        assert_eq!(c.object_type_indication(), hex(MP3_22K_MP4_ESDS)[17]);

        let c = parse_mp3_header(&frame(MP3_48K_STEREO_FRAME)).unwrap();
        assert_eq!((c.sample_rate, c.channels), (48_000, 2));
        assert_ne!(
            c.record,
            parse_mp3_header(&frame(MP3_44K_MONO_FRAME)).unwrap().record
        );

        assert_eq!(mp3_frame_samples(&frame(MP3_44K_MONO_FRAME)), Some(1152));
        assert_eq!(mp3_frame_samples(&frame(MP3_22K_MONO_FRAME)), Some(576));
    }

    #[test]
    fn versions_layers_and_rates() {
        // (byte 1, byte 2, byte 3) → (rate, channels, samples, codecs)
        let cases = [
            (0xfb, 0x90, 0x00, 44_100, 2, 1152, "mp4a.6B"), // MPEG-1 L3 stereo
            (0xfd, 0x94, 0x40, 48_000, 2, 1152, "mp4a.6B"), // MPEG-1 L2 joint stereo
            (0xff, 0x98, 0x80, 32_000, 2, 384, "mp4a.6B"),  // MPEG-1 L1 dual channel
            (0xf3, 0x04, 0xc0, 24_000, 1, 576, "mp4a.69"),  // MPEG-2 L3, free format
            (0xf5, 0x08, 0x00, 16_000, 2, 1152, "mp4a.69"), // MPEG-2 L2
            (0xe3, 0x08, 0xc0, 8_000, 1, 576, "mp4a.69"),   // MPEG-2.5 L3
            (0xe3, 0x00, 0x00, 11_025, 2, 576, "mp4a.69"),  // MPEG-2.5 L3
            (0xe3, 0x04, 0x00, 12_000, 2, 576, "mp4a.69"),  // MPEG-2.5 L3
        ];
        for (b1, b2, b3, rate, channels, samples, codecs) in cases {
            let c = parse_mp3_header(&[0xff, b1, b2, b3]).unwrap();
            assert_eq!(
                (c.sample_rate, c.channels, c.samples_per_frame),
                (rate, channels, samples),
                "{b1:02x} {b2:02x} {b3:02x}"
            );
            assert_eq!(c.codec_string(), codecs);
        }
    }

    #[test]
    fn malformed_headers() {
        let good = frame(MP3_44K_MONO_FRAME);
        for n in 0..4 {
            assert!(matches!(
                parse_mp3_header(&good[..n]),
                Err(FlvError::Truncated { .. })
            ));
            assert_eq!(mp3_frame_samples(&good[..n]), None);
        }
        let field = |b: [u8; 4]| match parse_mp3_header(&b) {
            Err(FlvError::Invalid { what, .. }) => what,
            other => panic!("expected Invalid, got {other:?}"),
        };
        assert_eq!(field([0xfe, 0xfb, 0x50, 0xc4]), "MPEG audio frame sync");
        assert_eq!(field([0xff, 0xdb, 0x50, 0xc4]), "MPEG audio frame sync");
        assert_eq!(field([0xff, 0xeb, 0x50, 0xc4]), "MPEG audio version");
        assert_eq!(field([0xff, 0xf9, 0x50, 0xc4]), "MPEG audio layer");
        assert_eq!(field([0xff, 0xfb, 0xf0, 0xc4]), "MPEG audio bitrate index");
        assert_eq!(
            field([0xff, 0xfb, 0x5c, 0xc4]),
            "MPEG audio sampling frequency index"
        );
    }

    #[test]
    fn fuzz_mp3_header() {
        bolero::check!().for_each(|input: &[u8]| match parse_mp3_header(input) {
            Ok(c) => {
                assert!((8_000..=48_000).contains(&c.sample_rate));
                assert!(matches!(c.channels, 1 | 2));
                assert_eq!(mp3_frame_samples(input), Some(c.samples_per_frame));
                assert_eq!(c.record.len(), 7);
            }
            Err(_) => assert_eq!(mp3_frame_samples(input), None),
        });
    }
}
