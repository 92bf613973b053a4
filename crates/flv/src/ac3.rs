//! AC-3 and E-AC-3: decoder configurations read from the first syncframe
//! (ATSC A/52 §5.3 syncinfo + bsi; Annex E for E-AC-3) and the `dac3` /
//! `dec3` box payloads (ETSI TS 102 366 Annex F.4 / F.6).
//!
//! ffmpeg 9 sends an E-RTMP `ac-3` / `ec-3` SequenceStart with an empty
//! body, so, as for MP3, the configuration comes from the coded frames
//! themselves. Each frame of a syncframe-based stream describes the stream,
//! so every frame is read and a different header is a new configuration.

use bytes::Bytes;

use crate::bits::BitReader;
use crate::error::FlvError;
use crate::multichannel::MultichannelConfig;

/// Samples in one AC-3 syncframe (6 audio blocks of 256).
pub const AC3_FRAME_SAMPLES: u32 = 1536;

const SYNC_WORD: u32 = 0x0b77;
/// fscod → Hz (3 is reserved in AC-3, and announces fscod2 in E-AC-3).
const SAMPLE_RATES: [u32; 3] = [48_000, 44_100, 32_000];
/// fscod2 → Hz (E-AC-3 reduced sample rates).
const REDUCED_SAMPLE_RATES: [u32; 3] = [24_000, 22_050, 16_000];
/// acmod → full-bandwidth channels (0 is 1+1 dual mono).
const ACMOD_CHANNELS: [u8; 8] = [2, 1, 2, 3, 3, 4, 4, 5];
/// E-AC-3 numblkscod → audio blocks per syncframe.
const BLOCKS: [u32; 4] = [1, 2, 3, 6];

/// An AC-3 configuration, from a syncframe header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ac3Config {
    /// The `dac3` payload: the configuration in a stable byte form.
    pub record: Bytes,
    /// Hz (halved or quartered for bsid 9 and 10).
    pub sample_rate: u32,
    /// Full-bandwidth channels plus the LFE.
    pub channels: u8,
    pub fscod: u8,
    pub bsid: u8,
    pub bsmod: u8,
    pub acmod: u8,
    pub lfeon: bool,
    /// frmsizecod / 2: the index of the nominal bit rate (32…640 kbit/s).
    pub bit_rate_code: u8,
    /// The E-RTMP MultichannelConfig layout, when the publisher sent one.
    pub channel_layout: Option<MultichannelConfig>,
}

/// Reads an AC-3 syncframe header: syncinfo (syncword, crc1, fscod,
/// frmsizecod) and the start of bsi (bsid, bsmod, acmod, the mix levels
/// that depend on acmod, lfeon). bsid must be at most 10 (E-AC-3 uses 11
/// to 16); fscod 3 and frmsizecod above 37 are reserved.
pub fn parse_ac3_header(frame: &[u8]) -> Result<Ac3Config, FlvError> {
    let mut r = BitReader::new(frame, "AC-3 syncframe header");
    sync_word(&mut r, "AC-3 syncword")?;
    let _crc1 = r.bits(16)?;
    let fscod = r.u8_bits(2)?;
    let frmsizecod = r.u8_bits(6)?;
    let bsid = r.u8_bits(5)?;
    let bsmod = r.u8_bits(3)?;
    let acmod = r.u8_bits(3)?;
    if acmod & 1 == 1 && acmod != 1 {
        let _cmixlev = r.bits(2)?;
    }
    if acmod & 4 != 0 {
        let _surmixlev = r.bits(2)?;
    }
    if acmod == 2 {
        let _dsurmod = r.bits(2)?;
    }
    let lfeon = r.flag()?;
    if bsid > 10 {
        return Err(FlvError::invalid(
            "AC-3 bsid",
            format!("{bsid}: an E-AC-3 syncframe (bsid 11..=16), expected AC-3 (at most 10)"),
        ));
    }
    let base_rate = *SAMPLE_RATES
        .get(usize::from(fscod))
        .ok_or_else(|| FlvError::invalid("AC-3 fscod", "3 (reserved)"))?;
    if frmsizecod > 37 {
        return Err(FlvError::invalid(
            "AC-3 frmsizecod",
            format!("{frmsizecod} (reserved, at most 37)"),
        ));
    }
    // bsid 9 and 10 are the half- and quarter-rate variants.
    let sample_rate = base_rate >> bsid.saturating_sub(8);
    let channels = acmod_channels(acmod, lfeon);
    let bit_rate_code = frmsizecod >> 1;
    // dac3: fscod(2) bsid(5) bsmod(3) acmod(3) lfeon(1) bit_rate_code(5) reserved(5).
    let packed = u32::from(fscod) << 22
        | u32::from(bsid) << 17
        | u32::from(bsmod) << 14
        | u32::from(acmod) << 11
        | u32::from(lfeon) << 10
        | u32::from(bit_rate_code) << 5;
    let [_, a, b, c] = packed.to_be_bytes();
    Ok(Ac3Config {
        record: Bytes::copy_from_slice(&[a, b, c]),
        sample_rate,
        channels,
        fscod,
        bsid,
        bsmod,
        acmod,
        lfeon,
        bit_rate_code,
        channel_layout: None,
    })
}

impl Ac3Config {
    /// RFC 6381 `CODECS` value: `ac-3`.
    pub fn codec_string(&self) -> String {
        "ac-3".to_owned()
    }

    /// The payload of the `dac3` box (AC3SpecificBox, 3 bytes).
    pub fn dac3(&self) -> Bytes {
        self.record.clone()
    }
}

/// An E-AC-3 configuration, from the syncframe of independent substream 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eac3Config {
    /// The `dec3` payload: the configuration in a stable byte form.
    pub record: Bytes,
    /// Hz (fscod, or fscod2 for the reduced rates).
    pub sample_rate: u32,
    /// Full-bandwidth channels plus the LFE of the independent substream.
    pub channels: u8,
    /// 0 independent, 2 AC-3 converted (1, dependent, is never the config).
    pub strmtyp: u8,
    pub substreamid: u8,
    /// Syncframe size in bytes ((frmsiz + 1) × 2).
    pub frame_size: u32,
    pub fscod: u8,
    /// fscod2 when fscod is 3.
    pub fscod2: Option<u8>,
    /// Audio blocks per syncframe (1, 2, 3 or 6).
    pub blocks: u32,
    pub acmod: u8,
    pub lfeon: bool,
    pub bsid: u8,
    /// Always 0 (main audio service, complete main): the bsmod of an
    /// E-AC-3 frame sits behind the mixing metadata and is not read,
    /// as in ffmpeg.
    pub bsmod: u8,
    /// kbit/s, from the syncframe size and duration (`dec3` data_rate).
    pub data_rate: u16,
    /// The E-RTMP MultichannelConfig layout, when the publisher sent one.
    pub channel_layout: Option<MultichannelConfig>,
}

/// The fields of an E-AC-3 syncframe header (Annex E bsi) up to bsid.
struct Eac3Header {
    strmtyp: u8,
    substreamid: u8,
    frame_size: u32,
    fscod: u8,
    fscod2: Option<u8>,
    blocks: u32,
    sample_rate: u32,
    acmod: u8,
    lfeon: bool,
    bsid: u8,
}

fn read_eac3_header(frame: &[u8]) -> Result<Eac3Header, FlvError> {
    let mut r = BitReader::new(frame, "E-AC-3 syncframe header");
    sync_word(&mut r, "E-AC-3 syncword")?;
    let strmtyp = r.u8_bits(2)?;
    let substreamid = r.u8_bits(3)?;
    let frmsiz = r.bits(11)?;
    let fscod = r.u8_bits(2)?;
    let (fscod2, numblkscod) = if fscod == 3 {
        (Some(r.u8_bits(2)?), 3)
    } else {
        (None, r.u8_bits(2)?)
    };
    let acmod = r.u8_bits(3)?;
    let lfeon = r.flag()?;
    let bsid = r.u8_bits(5)?;
    if strmtyp == 3 {
        return Err(FlvError::invalid("E-AC-3 strmtyp", "3 (reserved)"));
    }
    if !(11..=16).contains(&bsid) {
        return Err(FlvError::invalid(
            "E-AC-3 bsid",
            format!("{bsid}, expected 11..=16"),
        ));
    }
    let sample_rate = match fscod2 {
        None => SAMPLE_RATES.get(usize::from(fscod)),
        Some(code) => REDUCED_SAMPLE_RATES.get(usize::from(code)),
    }
    .copied()
    .ok_or_else(|| FlvError::invalid("E-AC-3 fscod2", "3 (reserved)"))?;
    Ok(Eac3Header {
        strmtyp,
        substreamid,
        // frmsiz is 11 bits: (2047 + 1) × 2 fits.
        frame_size: frmsiz.saturating_add(1).saturating_mul(2),
        fscod,
        fscod2,
        blocks: BLOCKS.get(usize::from(numblkscod)).copied().unwrap_or(6),
        sample_rate,
        acmod,
        lfeon,
        bsid,
    })
}

/// Reads the header of an E-AC-3 syncframe (Annex E: strmtyp, substreamid,
/// frmsiz, fscod/fscod2, numblkscod, acmod, lfeon, bsid). The frame must be
/// an independent (or AC-3-converted) substream 0, the one that configures
/// the decoder; bsid must be 11..=16.
pub fn parse_eac3_header(frame: &[u8]) -> Result<Eac3Config, FlvError> {
    let h = read_eac3_header(frame)?;
    if h.strmtyp == 1 || h.substreamid != 0 {
        return Err(FlvError::invalid(
            "E-AC-3 substream",
            format!(
                "strmtyp {} substreamid {}: the configuration comes from independent substream 0",
                h.strmtyp, h.substreamid
            ),
        ));
    }
    // bits/s = bytes × 8 × rate / samples; every factor is small enough
    // for u64 (≤ 4096 × 8 × 48000).
    let samples = u64::from(h.blocks).saturating_mul(256);
    let bit_rate = u64::from(h.frame_size)
        .saturating_mul(8)
        .saturating_mul(u64::from(h.sample_rate))
        .checked_div(samples)
        .unwrap_or(0);
    let data_rate = u16::try_from(bit_rate / 1000)
        .unwrap_or(u16::MAX)
        .min(0x1fff);
    let bsmod = 0;
    let channels = acmod_channels(h.acmod, h.lfeon);
    // dec3: data_rate(13) num_ind_sub(3) = 0, then for the substream
    // fscod(2) bsid(5) reserved(1) asvc(1) bsmod(3) acmod(3) lfeon(1)
    // reserved(3) num_dep_sub(4) = 0 reserved(1).
    let head = data_rate << 3;
    let sub = u32::from(h.fscod) << 22
        | u32::from(h.bsid) << 17
        | u32::from(bsmod) << 12
        | u32::from(h.acmod) << 9
        | u32::from(h.lfeon) << 8;
    let [_, a, b, c] = sub.to_be_bytes();
    let [d0, d1] = head.to_be_bytes();
    Ok(Eac3Config {
        record: Bytes::copy_from_slice(&[d0, d1, a, b, c]),
        sample_rate: h.sample_rate,
        channels,
        strmtyp: h.strmtyp,
        substreamid: h.substreamid,
        frame_size: h.frame_size,
        fscod: h.fscod,
        fscod2: h.fscod2,
        blocks: h.blocks,
        acmod: h.acmod,
        lfeon: h.lfeon,
        bsid: h.bsid,
        bsmod,
        data_rate,
        channel_layout: None,
    })
}

impl Eac3Config {
    /// RFC 6381 `CODECS` value: `ec-3`.
    pub fn codec_string(&self) -> String {
        "ec-3".to_owned()
    }

    /// The payload of the `dec3` box (EC3SpecificBox) for one independent
    /// substream without dependent substreams (5 bytes).
    pub fn dec3(&self) -> Bytes {
        self.record.clone()
    }
}

/// Samples in one E-AC-3 access unit: 256 × audio blocks of each syncframe
/// of independent substream 0 it holds (an access unit may pack several
/// 1-, 2- or 3-block syncframes, and dependent or other independent
/// substreams that cover the same time). `None` when the first bytes are
/// not an E-AC-3 syncframe; the walk stops at the first bytes that are not.
pub fn eac3_frame_samples(frame: &[u8]) -> Option<u32> {
    let mut pos = 0usize;
    let mut samples = 0u32;
    while let Some(rest) = frame.get(pos..).filter(|rest| !rest.is_empty()) {
        let Ok(h) = read_eac3_header(rest) else { break };
        if h.strmtyp != 1 && h.substreamid == 0 {
            samples = samples.saturating_add(h.blocks.saturating_mul(256));
        }
        pos = pos.saturating_add(h.frame_size as usize);
    }
    (samples > 0).then_some(samples)
}

/// Samples in one AC-3 access unit: 1536 when it starts with a syncword.
pub fn ac3_frame_samples(frame: &[u8]) -> Option<u32> {
    frame
        .starts_with(&[0x0b, 0x77])
        .then_some(AC3_FRAME_SAMPLES)
}

fn sync_word(r: &mut BitReader<'_>, what: &'static str) -> Result<(), FlvError> {
    let sync = r.bits(16)?;
    if sync != SYNC_WORD {
        return Err(FlvError::invalid(
            what,
            format!("{sync:#06x}, expected 0x0b77"),
        ));
    }
    Ok(())
}

fn acmod_channels(acmod: u8, lfeon: bool) -> u8 {
    ACMOD_CHANNELS
        .get(usize::from(acmod & 7))
        .copied()
        .unwrap_or(2)
        .saturating_add(u8::from(lfeon))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_vectors::{ex_body as body, *};
    use crate::test_vectors::hex;

    #[test]
    fn ffmpeg_ac3_51() {
        let c = parse_ac3_header(&body(AC3_51_FRAME)).unwrap();
        assert_eq!((c.sample_rate, c.channels), (48_000, 6));
        assert_eq!(
            (c.fscod, c.bsid, c.bsmod, c.acmod, c.lfeon, c.bit_rate_code),
            (0, 8, 0, 7, true, 15) // 15: 448 kbit/s
        );
        assert_eq!(&c.dac3()[..], &hex(AC3_51_MP4_DAC3)[..]);
        assert_eq!(c.codec_string(), "ac-3");
        assert_eq!(ac3_frame_samples(&body(AC3_51_FRAME)), Some(1536));
    }

    #[test]
    fn ffmpeg_ac3_stereo() {
        let c = parse_ac3_header(&body(AC3_STEREO_FRAME)).unwrap();
        assert_eq!((c.sample_rate, c.channels), (48_000, 2));
        assert_eq!(
            (c.acmod, c.lfeon, c.bit_rate_code),
            (2, false, 10) // 10: 192 kbit/s
        );
        assert_eq!(&c.dac3()[..], &hex(AC3_STEREO_MP4_DAC3)[..]);
    }

    #[test]
    fn ffmpeg_eac3() {
        let c = parse_eac3_header(&body(EAC3_MONO_FRAME)).unwrap();
        assert_eq!((c.sample_rate, c.channels), (48_000, 1));
        assert_eq!(
            (c.strmtyp, c.substreamid, c.frame_size, c.blocks),
            (0, 0, 384, 6)
        );
        assert_eq!((c.acmod, c.lfeon, c.bsid, c.data_rate), (1, false, 16, 96));
        assert_eq!(&c.dec3()[..], &hex(EAC3_MONO_MP4_DEC3)[..]);
        assert_eq!(c.codec_string(), "ec-3");
        // Only the first bytes of the frame are kept: one 6-block syncframe.
        assert_eq!(eac3_frame_samples(&body(EAC3_MONO_FRAME)), Some(1536));

        let c = parse_eac3_header(&body(EAC3_51_FRAME)).unwrap();
        assert_eq!((c.sample_rate, c.channels, c.frame_size), (48_000, 6, 1792));
        assert_eq!((c.acmod, c.lfeon, c.data_rate), (7, true, 448));
        assert_eq!(&c.dec3()[..], &hex(EAC3_51_MP4_DEC3)[..]);
    }

    /// An E-AC-3 syncframe header of `size` bytes, zero-padded.
    fn eac3_frame(strmtyp: u8, substreamid: u8, fscod: u8, numblkscod: u8, size: usize) -> Vec<u8> {
        let frmsiz = (size / 2 - 1) as u32;
        // strmtyp(2) substreamid(3) frmsiz(11) | fscod(2) numblkscod(2) acmod(3)=2 lfeon(1)=0 | bsid(5)=16
        let w = u32::from(strmtyp) << 14 | u32::from(substreamid) << 11 | frmsiz;
        let mut v = vec![0x0b, 0x77, (w >> 8) as u8, w as u8];
        v.push(fscod << 6 | numblkscod << 4 | 2 << 1);
        v.push(16 << 3);
        v.resize(size, 0);
        v
    }

    #[test]
    fn eac3_blocks_and_substreams() {
        // Three 2-block syncframes of substream 0 in one access unit.
        let mut au = Vec::new();
        for _ in 0..3 {
            au.extend(eac3_frame(0, 0, 0, 1, 64));
        }
        assert_eq!(eac3_frame_samples(&au), Some(1536));
        // A dependent substream and a second independent one do not add time.
        let mut au = eac3_frame(0, 0, 0, 3, 64);
        au.extend(eac3_frame(1, 0, 0, 3, 32));
        au.extend(eac3_frame(0, 1, 0, 3, 32));
        assert_eq!(eac3_frame_samples(&au), Some(1536));
        // Trailing garbage ends the walk.
        au.extend([0xde, 0xad]);
        assert_eq!(eac3_frame_samples(&au), Some(1536));
        for numblkscod in 0..4 {
            let f = eac3_frame(0, 0, 0, numblkscod, 64);
            assert_eq!(
                eac3_frame_samples(&f),
                Some([256, 512, 768, 1536][usize::from(numblkscod)])
            );
        }
        // fscod 3: fscod2 takes numblkscod's place and 6 blocks are implied.
        let f = eac3_frame(0, 0, 3, 1, 64);
        let c = parse_eac3_header(&f).unwrap();
        assert_eq!((c.sample_rate, c.blocks, c.fscod2), (22_050, 6, Some(1)));
        // The configuration comes from independent substream 0 only.
        assert!(parse_eac3_header(&eac3_frame(1, 0, 0, 3, 64)).is_err());
        assert!(parse_eac3_header(&eac3_frame(0, 2, 0, 3, 64)).is_err());
        assert!(eac3_frame_samples(&eac3_frame(1, 0, 0, 3, 64)).is_none());
    }

    #[test]
    fn ac3_reduced_rates_and_mix_levels() {
        // 44.1 kHz, bsid 9 (half rate), acmod 2 (dsurmod present), lfeon 1.
        // fscod 01 frmsizecod 001010 | bsid 01001 bsmod 000 | acmod 010 dsurmod 00 lfeon 1 ..
        let f = [0x0b, 0x77, 0, 0, 0x4a, 0x48, 0x44, 0x00];
        let c = parse_ac3_header(&f).unwrap();
        assert_eq!((c.sample_rate, c.channels, c.bsid), (22_050, 3, 9));
        assert!(c.lfeon);
        // acmod 0 (1+1): two channels.
        let f = [0x0b, 0x77, 0, 0, 0x00, 0x40, 0x00, 0x00];
        assert_eq!(parse_ac3_header(&f).unwrap().channels, 2);
    }

    #[test]
    fn malformed_headers() {
        let ac3 = body(AC3_51_FRAME).to_vec();
        for n in 0..7 {
            assert!(
                matches!(
                    parse_ac3_header(&ac3[..n]),
                    Err(FlvError::TruncatedBits { .. })
                ),
                "prefix {n}"
            );
        }
        let field = |r: Result<Ac3Config, FlvError>| match r {
            Err(FlvError::Invalid { what, .. }) => what,
            other => panic!("expected Invalid, got {other:?}"),
        };
        let with = |i: usize, v: u8| {
            let mut f = ac3.clone();
            f[i] = v;
            parse_ac3_header(&f)
        };
        assert_eq!(field(with(0, 0x0a)), "AC-3 syncword");
        assert_eq!(field(with(4, 0xc0 | 0x1e)), "AC-3 fscod");
        assert_eq!(field(with(4, 0x26)), "AC-3 frmsizecod");
        assert_eq!(field(with(5, 0x80)), "AC-3 bsid"); // bsid 16
                                                       // An E-AC-3 frame in an AC-3 track and the reverse.
        assert_eq!(field(parse_ac3_header(&body(EAC3_MONO_FRAME))), "AC-3 bsid");
        assert!(matches!(
            parse_eac3_header(&ac3),
            Err(FlvError::Invalid {
                what: "E-AC-3 bsid",
                ..
            })
        ));
        let eac3 = body(EAC3_MONO_FRAME).to_vec();
        for n in 0..6 {
            assert!(parse_eac3_header(&eac3[..n]).is_err(), "prefix {n}");
            assert_eq!(eac3_frame_samples(&eac3[..n]), None);
        }
        let mut bad = eac3.clone();
        bad[2] |= 0xc0; // strmtyp 3
        assert!(parse_eac3_header(&bad).is_err());
        assert_eq!(ac3_frame_samples(&[0x0b]), None);
        assert_eq!(ac3_frame_samples(&eac3[1..]), None);
    }

    #[test]
    fn fuzz_ac3_header() {
        bolero::check!().for_each(|input: &[u8]| {
            if let Ok(c) = parse_ac3_header(input) {
                assert_eq!(c.dac3().len(), 3);
                assert!((1..=6).contains(&c.channels));
                assert!(c.sample_rate >= 8_000);
            }
        });
    }

    #[test]
    fn fuzz_eac3_header() {
        bolero::check!().for_each(|input: &[u8]| {
            if let Ok(c) = parse_eac3_header(input) {
                assert_eq!(c.dec3().len(), 5);
                assert!((1..=6).contains(&c.channels));
                assert!(eac3_frame_samples(input).is_some());
            }
            if let Some(n) = eac3_frame_samples(input) {
                assert_eq!(n % 256, 0);
            }
        });
    }
}
