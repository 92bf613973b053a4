//! FLAC: the STREAMINFO metadata block that an E-RTMP `fLaC` SequenceStart
//! carries (RFC 9639 §8.2), its `dfLa` box payload ("Encapsulation of FLAC
//! in ISO Base Media File Format" §3.3.2) and block sizes from frame
//! headers (RFC 9639 §9.1).
//!
//! ffmpeg 9 sends the bare 34-byte STREAMINFO (its `extradata`); the
//! `fLaC` stream marker followed by metadata blocks, and metadata blocks
//! without the marker, are accepted too.

use bytes::{BufMut, Bytes, BytesMut};

use crate::bits::BitReader;
use crate::error::FlvError;
use crate::multichannel::MultichannelConfig;
use crate::reader::Reader;

/// A parsed STREAMINFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlacConfig {
    /// The 34-byte STREAMINFO block data, verbatim.
    pub record: Bytes,
    pub min_block_size: u16,
    pub max_block_size: u16,
    /// Bytes; 0 = unknown.
    pub min_frame_size: u32,
    /// Bytes; 0 = unknown.
    pub max_frame_size: u32,
    /// Hz, 1..=1_048_575.
    pub sample_rate: u32,
    /// 1..=8.
    pub channels: u8,
    /// 4..=32.
    pub bits_per_sample: u8,
    /// Samples per channel in the stream; 0 = unknown (always, live).
    pub total_samples: u64,
    /// The E-RTMP MultichannelConfig layout, when the publisher sent one.
    pub channel_layout: Option<MultichannelConfig>,
}

const STREAM_MARKER: &[u8; 4] = b"fLaC";
const STREAMINFO_LEN: usize = 34;
const BLOCK_TYPE_STREAMINFO: u8 = 0;
const LAST_METADATA_BLOCK: u8 = 0x80;

/// Parses the body of an E-RTMP `fLaC` SequenceStart: a bare STREAMINFO
/// (34 bytes), or metadata blocks (optionally after the `fLaC` marker)
/// whose first is STREAMINFO. Only STREAMINFO is kept.
pub fn parse_flac_config(body: Bytes) -> Result<FlacConfig, FlvError> {
    let mut r = Reader::new(body);
    let with_marker = r.remaining() >= 4 && r.clone().take(4, "fLaC marker")? == STREAM_MARKER[..];
    let streaminfo = if with_marker || looks_like_streaminfo_header(&r) {
        if with_marker {
            r.skip(4, "fLaC marker")?;
        }
        let header = r.u8("FLAC metadata block type")?;
        let len = r.u24("FLAC metadata block length")?;
        if header & 0x7f != BLOCK_TYPE_STREAMINFO || len as usize != STREAMINFO_LEN {
            return Err(FlvError::invalid(
                "FLAC metadata block",
                format!(
                    "type {} length {len} first, expected STREAMINFO (type 0, length 34)",
                    header & 0x7f
                ),
            ));
        }
        r.take(STREAMINFO_LEN, "FLAC STREAMINFO")?
    } else {
        r.take(STREAMINFO_LEN, "FLAC STREAMINFO")?
    };
    parse_streaminfo(streaminfo)
}

/// Whether the reader starts with the header of a STREAMINFO block
/// (`0x00`/`0x80`, length 34). A bare STREAMINFO cannot start so: its
/// minimum block size would be 0 or 32768 with a maximum of 34.
fn looks_like_streaminfo_header(r: &Reader) -> bool {
    let mut peek = r.clone();
    matches!(
        (peek.u8("peek"), peek.u24("peek")),
        (Ok(0x00 | 0x80), Ok(34))
    )
}

/// Parses the 34-byte STREAMINFO block data (RFC 9639 §8.2).
fn parse_streaminfo(record: Bytes) -> Result<FlacConfig, FlvError> {
    let mut r = BitReader::new(&record, "FLAC STREAMINFO");
    let min_block_size = u16::try_from(r.bits(16)?).unwrap_or(u16::MAX);
    let max_block_size = u16::try_from(r.bits(16)?).unwrap_or(u16::MAX);
    let min_frame_size = r.bits(24)?;
    let max_frame_size = r.bits(24)?;
    let sample_rate = r.bits(20)?;
    let channels = r.u8_bits(3)?.saturating_add(1);
    let bits_per_sample = r.u8_bits(5)?.saturating_add(1);
    let total_samples = u64::from(r.bits(4)?) << 32 | u64::from(r.bits(32)?);
    if min_block_size < 16 || max_block_size < min_block_size {
        return Err(FlvError::invalid(
            "FLAC STREAMINFO block size",
            format!("minimum {min_block_size}, maximum {max_block_size} (16 ≤ minimum ≤ maximum)"),
        ));
    }
    if sample_rate == 0 {
        return Err(FlvError::invalid(
            "FLAC STREAMINFO sample rate",
            "0 (a stream that is not audio)",
        ));
    }
    if bits_per_sample < 4 {
        return Err(FlvError::invalid(
            "FLAC STREAMINFO bits per sample",
            format!("{bits_per_sample}, at least 4"),
        ));
    }
    Ok(FlacConfig {
        record,
        min_block_size,
        max_block_size,
        min_frame_size,
        max_frame_size,
        sample_rate,
        channels,
        bits_per_sample,
        total_samples,
        channel_layout: None,
    })
}

impl FlacConfig {
    /// RFC 6381 `CODECS` value: `flac`.
    ///
    /// The sample entry is `fLaC`, and RFC 6381 would name it so, but
    /// `flac` is what players can rely on: Chromium's MSE accepted only
    /// `flac` until it added `fLaC`, and its `isTypeSupported` has reported
    /// `fLaC` as supported where playback then failed (crbug 1422728), so
    /// hls.js tries `flac` before `fLaC` and dash.js passes the MPD value
    /// to `isTypeSupported` as is. Firefox and Safari accept `flac`.
    pub fn codec_string(&self) -> String {
        "flac".to_owned()
    }

    /// The payload of the `dfLa` box after its FullBox version and flags:
    /// the STREAMINFO metadata block, with the last-metadata-block flag
    /// set, type 0, length 34, then the block data (the same as ffmpeg).
    pub fn dfla(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(4usize.saturating_add(self.record.len()));
        b.put_u8(LAST_METADATA_BLOCK | BLOCK_TYPE_STREAMINFO);
        b.put_uint(self.record.len() as u64, 3);
        b.put_slice(&self.record);
        b.freeze()
    }
}

/// Samples in one FLAC frame, from its header (RFC 9639 §9.1): the sync
/// code `0xFFF8`/`0xFFF9`, the block size code (192, 576·2ⁿ, 256·2ⁿ, or an
/// 8-/16-bit value after the coded frame/sample number) and the header
/// CRC-8, which must match. `None` when the bytes are not a valid frame
/// header.
pub fn flac_frame_samples(frame: &[u8]) -> Option<u32> {
    let [b0, b1, b2, b3, ..] = *frame else {
        return None;
    };
    if b0 != 0xff || b1 & 0xfe != 0xf8 {
        return None;
    }
    let block_code = b2 >> 4;
    let rate_code = b2 & 0x0f;
    let channels = b3 >> 4;
    let sample_size = (b3 >> 1) & 0x07;
    if rate_code == 0x0f || channels > 10 || sample_size == 3 || b3 & 1 != 0 {
        return None;
    }
    // The coded number: UTF-8-like, 1 to 7 bytes (7 only for sample numbers).
    let first = *frame.get(4)?;
    let len = match first.leading_ones() {
        0 => 1,
        n @ 2..=7 => n as usize,
        _ => return None,
    };
    let mut pos = 4usize.checked_add(len)?;
    if !frame.get(5..pos)?.iter().all(|b| b & 0xc0 == 0x80) {
        return None;
    }
    let mut read = |n: usize| -> Option<u32> {
        let bytes = frame.get(pos..pos.checked_add(n)?)?;
        pos = pos.checked_add(n)?;
        Some(bytes.iter().fold(0u32, |v, &b| v << 8 | u32::from(b)))
    };
    let samples = match block_code {
        1 => 192,
        2..=5 => 576u32.checked_shl(u32::from(block_code.saturating_sub(2)))?,
        6 => read(1)?.checked_add(1)?,
        7 => read(2)?.checked_add(1)?,
        8..=15 => 256u32.checked_shl(u32::from(block_code.saturating_sub(8)))?,
        _ => return None,
    };
    match rate_code {
        12 => {
            read(1)?;
        }
        13 | 14 => {
            read(2)?;
        }
        _ => {}
    }
    let crc = *frame.get(pos)?;
    let header = frame.get(..pos)?;
    (samples <= 65_535 && crc8(header) == crc).then_some(samples)
}

/// CRC-8 with polynomial x⁸ + x² + x + 1 (0x07), initial value 0.
fn crc8(data: &[u8]) -> u8 {
    data.iter().fold(0u8, |crc, &b| {
        (0..8).fold(crc ^ b, |c, _| {
            if c & 0x80 != 0 {
                (c << 1) ^ 0x07
            } else {
                c << 1
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_vectors::{ex_body as body, *};
    use crate::test_vectors::hex;

    #[test]
    fn ffmpeg_streaminfo() {
        let c = parse_flac_config(body(FLAC_STEREO_SEQ)).unwrap();
        assert_eq!((c.min_block_size, c.max_block_size), (1024, 1024));
        assert_eq!((c.min_frame_size, c.max_frame_size), (0, 0x1098));
        assert_eq!(
            (
                c.sample_rate,
                c.channels,
                c.bits_per_sample,
                c.total_samples
            ),
            (48_000, 2, 16, 0)
        );
        assert_eq!(&c.record[..], &body(FLAC_STEREO_SEQ)[..]);
        assert_eq!(c.codec_string(), "flac");
        assert_eq!(&c.dfla()[..], &hex(FLAC_STEREO_MP4_DFLA)[..]);

        let c = parse_flac_config(body(FLAC_MONO_SEQ)).unwrap();
        assert_eq!(
            (c.sample_rate, c.channels, c.bits_per_sample),
            (48_000, 1, 16)
        );
        let c = parse_flac_config(body(FLAC_44K_24BIT_SEQ)).unwrap();
        assert_eq!(
            (c.sample_rate, c.channels, c.bits_per_sample),
            (44_100, 2, 24)
        );
    }

    #[test]
    fn marker_and_block_header_forms() {
        let info = body(FLAC_STEREO_SEQ);
        let expected = parse_flac_config(info.clone()).unwrap();
        // fLaC + STREAMINFO (not last) + a PADDING block (last).
        let mut v = b"fLaC".to_vec();
        v.extend_from_slice(&[0x00, 0, 0, 34]);
        v.extend_from_slice(&info);
        v.extend_from_slice(&[0x81, 0, 0, 2, 0, 0]);
        assert_eq!(parse_flac_config(Bytes::from(v)).unwrap(), expected);
        // Block header without the marker, last-block flag set.
        let mut v = vec![0x80, 0, 0, 34];
        v.extend_from_slice(&info);
        let c = parse_flac_config(Bytes::from(v)).unwrap();
        assert_eq!(c, expected);
        // dfLa always has exactly one block, flagged last.
        assert_eq!(&c.dfla()[..4], &[0x80, 0, 0, 34]);
    }

    #[test]
    fn malformed_streaminfo() {
        let info = hex(FLAC_STEREO_SEQ)[5..].to_vec();
        for n in 0..info.len() {
            assert!(
                matches!(
                    parse_flac_config(Bytes::copy_from_slice(&info[..n])),
                    Err(FlvError::Truncated { .. })
                ),
                "prefix {n}"
            );
        }
        let with = |i: usize, v: u8| {
            let mut h = info.clone();
            h[i] = v;
            match parse_flac_config(Bytes::from(h)) {
                Err(FlvError::Invalid { what, .. }) => what,
                other => panic!("expected Invalid, got {other:?}"),
            }
        };
        assert_eq!(with(0, 0x00), "FLAC STREAMINFO block size"); // min 0x0000+0x00 → 0
        assert_eq!(with(2, 0x00), "FLAC STREAMINFO block size"); // max < min
        let mut zero_rate = info.clone();
        zero_rate[10..13].copy_from_slice(&[0, 0, 0x02]);
        assert!(matches!(
            parse_flac_config(Bytes::from(zero_rate)),
            Err(FlvError::Invalid {
                what: "FLAC STREAMINFO sample rate",
                ..
            })
        ));
        let mut low_bps = info.clone();
        low_bps[12] = 0x02; // channels 2, bps-1 high bit 0
        low_bps[13] = 0x20; // bps-1 = 2 → 3 bits
        assert!(matches!(
            parse_flac_config(Bytes::from(low_bps)),
            Err(FlvError::Invalid {
                what: "FLAC STREAMINFO bits per sample",
                ..
            })
        ));
        // A first block that is not STREAMINFO.
        let mut v = b"fLaC".to_vec();
        v.extend_from_slice(&[0x04, 0, 0, 34]);
        v.extend_from_slice(&info);
        assert!(matches!(
            parse_flac_config(Bytes::from(v)),
            Err(FlvError::Invalid {
                what: "FLAC metadata block",
                ..
            })
        ));
    }

    #[test]
    fn ffmpeg_frame_headers() {
        assert_eq!(flac_frame_samples(&body(FLAC_MONO_FRAME)), Some(1024));
        assert_eq!(flac_frame_samples(&body(FLAC_STEREO_FRAME)), Some(1024));
        assert_eq!(flac_frame_samples(&body(FLAC_STEREO_FRAME_2)), Some(1024));
        assert_eq!(flac_frame_samples(&body(FLAC_44K_24BIT_FRAME)), Some(1024));
    }

    /// A frame header with the given codes, coded number and trailing
    /// fields, with its CRC-8.
    fn header(b2: u8, number: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut h = vec![0xff, 0xf8, b2, 0x18];
        h.extend_from_slice(number);
        h.extend_from_slice(tail);
        h.push(crc8(&h));
        h
    }

    #[test]
    fn block_size_codes() {
        let fixed = [
            (1u8, 192u32),
            (2, 576),
            (3, 1152),
            (4, 2304),
            (5, 4608),
            (8, 256),
            (9, 512),
            (12, 4096),
            (15, 32_768),
        ];
        for (code, want) in fixed {
            assert_eq!(
                flac_frame_samples(&header(code << 4 | 0x9, &[0], &[])),
                Some(want)
            );
        }
        // 8-bit and 16-bit sizes minus one after a multi-byte number.
        assert_eq!(
            flac_frame_samples(&header(0x69, &[0xc2, 0x80], &[99])),
            Some(100)
        );
        assert_eq!(
            flac_frame_samples(&header(0x79, &[0xe1, 0x80, 0x80], &[0x10, 0x00])),
            Some(4097)
        );
        // 16-bit size, then a 16-bit sample rate in Hz (code 13).
        assert_eq!(
            flac_frame_samples(&header(0x7d, &[0x00], &[0x01, 0x00, 0xac, 0x44])),
            Some(257)
        );
        // 65536 is not a valid block size.
        assert_eq!(
            flac_frame_samples(&header(0x79, &[0x00], &[0xff, 0xff])),
            None
        );
        // Variable block size (0xFFF9) with a 7-byte sample number.
        let mut h = vec![
            0xff, 0xf9, 0x69, 0x18, 0xfe, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 63,
        ];
        h.push(crc8(&h));
        assert_eq!(flac_frame_samples(&h), Some(64));
    }

    #[test]
    fn bad_frame_headers() {
        let good = header(0xa9, &[0], &[]);
        assert_eq!(flac_frame_samples(&good), Some(1024));
        for n in 0..good.len() {
            assert_eq!(flac_frame_samples(&good[..n]), None, "prefix {n}");
        }
        let mut bad_crc = good.clone();
        *bad_crc.last_mut().unwrap() ^= 1;
        assert_eq!(flac_frame_samples(&bad_crc), None);
        for (i, v) in [
            (0, 0xfe),
            (1, 0xfa),
            (2, 0x09),
            (2, 0xaf),
            (3, 0xb8),
            (3, 0x16),
            (3, 0x19),
        ] {
            let mut h = good.clone();
            h[i] = v;
            let h = {
                h.pop();
                let c = crc8(&h);
                h.push(c);
                h
            };
            assert_eq!(flac_frame_samples(&h), None, "byte {i} = {v:#x}");
        }
        // Coded numbers: a lone continuation byte, 0xff, a bad continuation.
        assert_eq!(flac_frame_samples(&header(0xa9, &[0x80], &[])), None);
        assert_eq!(flac_frame_samples(&header(0xa9, &[0xff], &[])), None);
        assert_eq!(flac_frame_samples(&header(0xa9, &[0xc2, 0x00], &[])), None);
    }

    #[test]
    fn crc8_check_value() {
        // CRC-8 (poly 0x07, init 0) of "123456789" is 0xF4.
        assert_eq!(crc8(b"123456789"), 0xf4);
    }

    #[test]
    fn fuzz_flac_config() {
        bolero::check!().for_each(|input: &[u8]| {
            if let Ok(c) = parse_flac_config(Bytes::copy_from_slice(input)) {
                assert_eq!(c.record.len(), STREAMINFO_LEN);
                assert!(c.sample_rate > 0 && (1..=8).contains(&c.channels));
                assert!(c.min_block_size >= 16 && c.max_block_size >= c.min_block_size);
                let dfla = c.dfla();
                assert_eq!(dfla.len(), 38);
                assert_eq!(&dfla[4..], &c.record[..]);
            }
        });
    }

    #[test]
    fn fuzz_flac_frame_header() {
        bolero::check!().for_each(|input: &[u8]| {
            if let Some(n) = flac_frame_samples(input) {
                assert!((1..=65_535).contains(&n));
            }
        });
    }
}
