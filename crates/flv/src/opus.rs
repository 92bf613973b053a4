//! Opus: the `OpusHead` identification header that an E-RTMP `Opus`
//! SequenceStart carries (RFC 7845 §5.1, little-endian), its conversion to
//! the ISO-BMFF `dOps` box ("Encapsulation of Opus in ISO Base Media File
//! Format" §4.3.2, big-endian) and packet durations from the TOC byte
//! (RFC 6716 §3.1).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::FlvError;
use crate::multichannel::MultichannelConfig;
use crate::reader::Reader;

/// Opus always decodes at 48 kHz, whatever rate the encoder was fed: the
/// packaging timescale and the unit of pre-skip and packet durations.
pub const OPUS_SAMPLE_RATE: u32 = 48_000;

/// A parsed OpusHead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusConfig {
    /// The OpusHead as parsed (magic included, trailing bytes dropped).
    pub record: Bytes,
    /// OpusHead version (1 for RFC 7845; 0..=15 are compatible).
    pub version: u8,
    /// Output channel count.
    pub channels: u8,
    /// Samples (at 48 kHz) to drop from the start of the decoded output.
    pub pre_skip: u16,
    /// The sample rate of the encoder's input, informational (0 = unknown).
    pub input_sample_rate: u32,
    /// Output gain in Q7.8 dB.
    pub output_gain: i16,
    /// Channel mapping family (0: mono/stereo, 1: Vorbis order up to 8,
    /// 255: no defined order).
    pub mapping_family: u8,
    /// For family ≠ 0: streams in each packet.
    pub stream_count: u8,
    /// For family ≠ 0: how many of those streams are coupled (stereo).
    pub coupled_count: u8,
    /// For family ≠ 0: the decoded channel of each output channel.
    pub channel_mapping: Vec<u8>,
    /// The E-RTMP MultichannelConfig layout, when the publisher sent one.
    pub channel_layout: Option<MultichannelConfig>,
}

const MAGIC: &[u8; 8] = b"OpusHead";

/// Parses an OpusHead (RFC 7845 §5.1).
///
/// The magic signature must be present; the major version (upper nibble)
/// must be 0; family 0 allows 1 or 2 channels with no mapping table, other
/// families read stream count (≥ 1), coupled count (≤ stream count, and
/// stream + coupled ≤ 255) and one mapping entry per channel, each below
/// stream + coupled count or 255 (silence). Bytes after the header are
/// ignored as RFC 7845 asks.
pub fn parse_opus_head(head: Bytes) -> Result<OpusConfig, FlvError> {
    let mut r = Reader::new(head.clone());
    let magic = r.take(MAGIC.len(), "OpusHead magic signature")?;
    if &magic[..] != MAGIC {
        return Err(FlvError::invalid(
            "OpusHead magic signature",
            format!("{:02x?}, expected \"OpusHead\"", &magic[..]),
        ));
    }
    let version = r.u8("OpusHead version")?;
    if version >> 4 != 0 {
        return Err(FlvError::unsupported(format!(
            "OpusHead version {version} (major version {})",
            version >> 4
        )));
    }
    let channels = r.u8("OpusHead output channel count")?;
    if channels == 0 {
        return Err(FlvError::invalid("OpusHead output channel count", "0"));
    }
    let pre_skip = u16::from_le_bytes(le_bytes(&mut r, "OpusHead pre-skip")?);
    let input_sample_rate = u32::from_le_bytes(le_bytes(&mut r, "OpusHead input sample rate")?);
    let output_gain = i16::from_le_bytes(le_bytes(&mut r, "OpusHead output gain")?);
    let mapping_family = r.u8("OpusHead channel mapping family")?;
    let (stream_count, coupled_count, channel_mapping) = if mapping_family == 0 {
        if channels > 2 {
            return Err(FlvError::invalid(
                "OpusHead output channel count",
                format!("{channels} with channel mapping family 0 (1 or 2 allowed)"),
            ));
        }
        (1, channels.saturating_sub(1), Vec::new())
    } else {
        if mapping_family == 1 && channels > 8 {
            return Err(FlvError::invalid(
                "OpusHead output channel count",
                format!("{channels} with channel mapping family 1 (at most 8)"),
            ));
        }
        let streams = r.u8("OpusHead stream count")?;
        let coupled = r.u8("OpusHead coupled stream count")?;
        if streams == 0 {
            return Err(FlvError::invalid("OpusHead stream count", "0"));
        }
        let decoded = u16::from(streams).saturating_add(u16::from(coupled));
        if coupled > streams || decoded > 255 {
            return Err(FlvError::invalid(
                "OpusHead coupled stream count",
                format!("{coupled} with {streams} streams"),
            ));
        }
        let mapping = r
            .take(usize::from(channels), "OpusHead channel mapping")?
            .to_vec();
        if let Some(bad) = mapping
            .iter()
            .find(|&&m| m != 255 && u16::from(m) >= decoded)
        {
            return Err(FlvError::invalid(
                "OpusHead channel mapping",
                format!("entry {bad} with {decoded} decoded channels"),
            ));
        }
        (streams, coupled, mapping)
    };
    let parsed = head.len().saturating_sub(r.remaining());
    Ok(OpusConfig {
        record: head.slice(..parsed),
        version,
        channels,
        pre_skip,
        input_sample_rate,
        output_gain,
        mapping_family,
        stream_count,
        coupled_count,
        channel_mapping,
        channel_layout: None,
    })
}

/// The next `N` bytes of a little-endian field.
fn le_bytes<const N: usize>(r: &mut Reader, what: &'static str) -> Result<[u8; N], FlvError> {
    let mut out = [0u8; N];
    for b in &mut out {
        *b = r.u8(what)?;
    }
    Ok(out)
}

impl OpusConfig {
    /// RFC 6381 `CODECS` value: `opus` (lower case: Chromium recognised only
    /// `opus` before it learnt the sample entry's `Opus`).
    pub fn codec_string(&self) -> String {
        "opus".to_owned()
    }

    /// The payload of the `dOps` box (after its 8-byte box header): Version
    /// 0, OutputChannelCount, PreSkip, InputSampleRate, OutputGain,
    /// ChannelMappingFamily and, for family ≠ 0, StreamCount, CoupledCount
    /// and ChannelMapping, all big-endian.
    pub fn dops(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(11usize.saturating_add(self.channel_mapping.len()));
        b.put_u8(0);
        b.put_u8(self.channels);
        b.put_u16(self.pre_skip);
        b.put_u32(self.input_sample_rate);
        b.put_i16(self.output_gain);
        b.put_u8(self.mapping_family);
        if self.mapping_family != 0 {
            b.put_u8(self.stream_count);
            b.put_u8(self.coupled_count);
            b.put_slice(&self.channel_mapping);
        }
        b.freeze()
    }
}

/// Samples (at 48 kHz) in one Opus packet, from its TOC byte and frame
/// count code (RFC 6716 §3.1): the frame size of the configuration (2.5,
/// 5, 10, 20, 40 or 60 ms) times one frame (code 0), two (codes 1 and 2)
/// or the count in the second byte (code 3). `None` for an empty packet,
/// a code 3 packet without its count byte or with a count of 0, and
/// packets longer than the 120 ms RFC 6716 allows. In a multistream packet
/// (mapping family ≠ 0) every stream has the same duration, so the first
/// TOC byte gives the packet's.
pub fn opus_packet_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    let sizes: &[u32] = match config {
        // SILK-only: 10, 20, 40, 60 ms.
        0..=11 => &[480, 960, 1920, 2880],
        // Hybrid: 10, 20 ms.
        12..=15 => &[480, 960],
        // CELT-only: 2.5, 5, 10, 20 ms.
        _ => &[120, 240, 480, 960],
    };
    // The frame size cycles fastest in the configuration number.
    let frame = *sizes.get(usize::from(config).checked_rem(sizes.len())?)?;
    let frames: u32 = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3f),
    };
    let samples = frame.checked_mul(frames)?;
    (frames > 0 && samples <= 5760).then_some(samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_vectors::{ex_body as body, *};
    use crate::test_vectors::{hex, OPUS_HEAD};

    #[test]
    fn ffmpeg_stereo_head() {
        let c = parse_opus_head(body(OPUS_STEREO_SEQ)).unwrap();
        assert_eq!(
            (c.version, c.channels, c.pre_skip, c.input_sample_rate),
            (1, 2, 312, 48_000)
        );
        assert_eq!((c.output_gain, c.mapping_family), (0, 0));
        assert_eq!((c.stream_count, c.coupled_count), (1, 1));
        assert!(c.channel_mapping.is_empty());
        assert_eq!(&c.record[..], &body(OPUS_STEREO_SEQ)[..]);
        assert_eq!(c.codec_string(), "opus");
        assert_eq!(&c.dops()[..], &hex(OPUS_STEREO_MP4_DOPS)[..]);
    }

    #[test]
    fn ffmpeg_51_head_family_1() {
        let c = parse_opus_head(body(OPUS_51_SEQ)).unwrap();
        assert_eq!((c.channels, c.mapping_family), (6, 1));
        assert_eq!((c.stream_count, c.coupled_count), (4, 2));
        assert_eq!(c.channel_mapping, vec![0, 4, 1, 2, 3, 5]);
        assert_eq!(&c.dops()[..], &hex(OPUS_51_MP4_DOPS)[..]);
    }

    #[test]
    fn mono_head_and_little_endian_fields() {
        let c = parse_opus_head(Bytes::from(hex(OPUS_HEAD))).unwrap();
        assert_eq!((c.channels, c.pre_skip, c.coupled_count), (1, 312, 0));
        // Every field non-trivial: pre-skip 0x0102, rate 44100, gain −256
        // (−1 dB), then a trailing byte that is dropped from the record.
        let mut head = b"OpusHead".to_vec();
        head.extend_from_slice(&[1, 2, 0x02, 0x01, 0x44, 0xac, 0, 0, 0x00, 0xff, 0, 0xee]);
        let c = parse_opus_head(Bytes::from(head.clone())).unwrap();
        assert_eq!(
            (c.pre_skip, c.input_sample_rate, c.output_gain),
            (0x0102, 44_100, -256)
        );
        assert_eq!(&c.record[..], &head[..head.len() - 1]);
        assert_eq!(
            &c.dops()[..],
            &[0, 2, 0x01, 0x02, 0, 0, 0xac, 0x44, 0xff, 0x00, 0][..]
        );
    }

    #[test]
    fn malformed_heads() {
        let good = hex(OPUS_51_SEQ)[5..].to_vec();
        // Every truncation is an error, never a panic.
        for n in 0..good.len() {
            assert!(
                matches!(
                    parse_opus_head(Bytes::copy_from_slice(&good[..n])),
                    Err(FlvError::Truncated { .. })
                ),
                "prefix {n}"
            );
        }
        let with = |i: usize, v: u8| {
            let mut h = good.clone();
            h[i] = v;
            parse_opus_head(Bytes::from(h))
        };
        let field = |r: Result<OpusConfig, FlvError>| match r {
            Err(FlvError::Invalid { what, .. }) => what,
            other => panic!("expected Invalid, got {other:?}"),
        };
        assert_eq!(field(with(0, b'o')), "OpusHead magic signature");
        assert!(with(8, 0x10).unwrap_err().is_unsupported());
        assert_eq!(field(with(9, 0)), "OpusHead output channel count");
        assert_eq!(field(with(9, 9)), "OpusHead output channel count");
        assert_eq!(field(with(19, 0)), "OpusHead stream count");
        assert_eq!(field(with(20, 5)), "OpusHead coupled stream count");
        assert_eq!(field(with(21, 6)), "OpusHead channel mapping");
        assert!(with(21, 255).is_ok());
        // Family 0 with 6 channels.
        assert_eq!(field(with(18, 0)), "OpusHead output channel count");
    }

    #[test]
    fn toc_durations() {
        // ffmpeg's first packets: CELT FB 20 ms, code 0.
        assert_eq!(opus_packet_samples(&body(OPUS_STEREO_FRAME)), Some(960));
        assert_eq!(opus_packet_samples(&body(OPUS_51_FRAME)), Some(960));
        // Every configuration, code 0.
        let expected: [u32; 32] = [
            480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880, // SILK
            480, 960, 480, 960, // Hybrid
            120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
        ];
        for (config, want) in expected.iter().enumerate() {
            let toc = (config as u8) << 3;
            assert_eq!(opus_packet_samples(&[toc]), Some(*want), "config {config}");
            assert_eq!(opus_packet_samples(&[toc | 1]), Some(want * 2));
            assert_eq!(opus_packet_samples(&[toc | 2, 0]), Some(want * 2));
        }
        // Code 3: the count is in the low 6 bits of byte 1 (VBR/padding flags above).
        assert_eq!(opus_packet_samples(&[(18 << 3) | 3, 0xc6]), Some(6 * 480));
        assert_eq!(opus_packet_samples(&[(16 << 3) | 3, 48]), Some(5760));
        assert_eq!(opus_packet_samples(&[(16 << 3) | 3, 49]), None);
        assert_eq!(opus_packet_samples(&[(3 << 3) | 3, 3]), None); // 180 ms
        assert_eq!(opus_packet_samples(&[(3 << 3) | 3, 0]), None);
        assert_eq!(opus_packet_samples(&[(3 << 3) | 3]), None);
        assert_eq!(opus_packet_samples(&[]), None);
    }

    #[test]
    fn fuzz_opus_head() {
        bolero::check!().for_each(|input: &[u8]| {
            if let Ok(c) = parse_opus_head(Bytes::copy_from_slice(input)) {
                assert!(c.channels > 0 && c.stream_count > 0);
                assert!(input.starts_with(&c.record));
                let dops = c.dops();
                assert_eq!(dops.len(), c.record.len() - 8);
                assert_eq!(dops[1], c.channels);
            }
        });
    }

    #[test]
    fn fuzz_opus_toc() {
        bolero::check!().for_each(|input: &[u8]| {
            if let Some(n) = opus_packet_samples(input) {
                assert!((120..=5760).contains(&n));
            }
        });
    }
}
