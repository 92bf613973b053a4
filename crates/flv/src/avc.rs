//! AVCDecoderConfigurationRecord (`avcC`, ISO/IEC 14496-15 §5.3.3.1).

use bytes::Bytes;

use crate::error::FlvError;
use crate::format::VideoFormat;
use crate::reader::Reader;
use crate::sps::{parse_sps, SpsInfo};

/// A parsed `avcC` record. `record` keeps the bytes verbatim for the mp4
/// `avcC` box; the other fields are read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    /// The whole AVCDecoderConfigurationRecord, verbatim.
    pub record: Bytes,
    pub profile_indication: u8,
    pub profile_compatibility: u8,
    pub level_indication: u8,
    /// Size of the NAL unit length prefix in coded frames: 1, 2 or 4.
    pub nal_length_size: u8,
    /// Sequence parameter sets (NAL units with their header), in record order.
    pub sps: Vec<Bytes>,
    /// Picture parameter sets (NAL units with their header), in record order.
    pub pps: Vec<Bytes>,
    /// `chroma_format` from the high-profile extension, when present.
    pub chroma_format: Option<u8>,
    /// Luma bit depth (8..=15, i.e. `bit_depth_luma_minus8 + 8`) from the
    /// high-profile extension, when present.
    pub bit_depth_luma: Option<u8>,
    /// Chroma bit depth (8..=15) from the high-profile extension, when present.
    pub bit_depth_chroma: Option<u8>,
    /// SPS extension NAL units from the high-profile extension.
    pub sps_ext: Vec<Bytes>,
    /// Parsed from the first SPS.
    pub sps_info: SpsInfo,
}

impl AvcConfig {
    /// RFC 6381 `CODECS` value, e.g. `avc1.64001f` (CODEC-01): lowercase hex
    /// of avcC bytes 1..4.
    pub fn codec_string(&self) -> String {
        avc_codec_string(
            self.profile_indication,
            self.profile_compatibility,
            self.level_indication,
        )
    }

    /// The picture format, from the first SPS.
    pub fn format(&self) -> VideoFormat {
        let s = &self.sps_info;
        VideoFormat {
            width: s.width,
            height: s.height,
            sar: s.sar,
            frame_rate: s.frame_rate,
            colour: s.colour,
            bit_depth: s.bit_depth_luma,
        }
    }
}

/// Profiles whose avcC may carry the chroma/bit-depth extension
/// (ISO/IEC 14496-15 §5.3.3.1.2).
fn has_high_profile_extension(profile: u8) -> bool {
    matches!(profile, 100 | 110 | 122 | 144)
}

/// Parses an AVCDecoderConfigurationRecord (FLV-V-02).
///
/// Rejects version ≠ 1, `lengthSizeMinusOne` = 2, zero SPS, empty parameter
/// sets and truncation anywhere. The high-profile extension is read only
/// for profiles 100/110/122/144 and only when bytes remain after the PPS
/// list (many encoders omit it); once started it must be complete. Bytes
/// after the record are ignored (they stay in `record`).
pub fn parse_avcc(record: Bytes) -> Result<AvcConfig, FlvError> {
    let mut r = Reader::new(record.clone());
    let version = r.u8("avcC configurationVersion")?;
    if version != 1 {
        return Err(FlvError::invalid(
            "avcC configurationVersion",
            format!("{version}, expected 1"),
        ));
    }
    let profile_indication = r.u8("avcC AVCProfileIndication")?;
    let profile_compatibility = r.u8("avcC profile_compatibility")?;
    let level_indication = r.u8("avcC AVCLevelIndication")?;
    let nal_length_size = match r.u8("avcC lengthSizeMinusOne")? & 0x03 {
        0 => 1,
        1 => 2,
        3 => 4,
        _ => {
            return Err(FlvError::invalid(
                "avcC lengthSizeMinusOne",
                "2 (3-byte NAL lengths) is not allowed",
            ))
        }
    };
    let num_sps = r.u8("avcC numOfSequenceParameterSets")? & 0x1f;
    if num_sps == 0 {
        return Err(FlvError::invalid(
            "avcC numOfSequenceParameterSets",
            "no SPS",
        ));
    }
    let sps = read_parameter_sets(&mut r, num_sps.into(), "avcC SPS")?;
    let num_pps = r.u8("avcC numOfPictureParameterSets")?;
    let pps = read_parameter_sets(&mut r, num_pps.into(), "avcC PPS")?;

    let mut chroma_format = None;
    let mut bit_depth_luma = None;
    let mut bit_depth_chroma = None;
    let mut sps_ext = Vec::new();
    if has_high_profile_extension(profile_indication) && !r.is_empty() {
        // 6 reserved bits, then chroma_format (2 bits).
        chroma_format = Some(r.u8("avcC chroma_format")? & 0x03);
        // 5 reserved bits, then bit_depth_*_minus8 (3 bits).
        bit_depth_luma = Some((r.u8("avcC bit_depth_luma_minus8")? & 0x07) | 0x08);
        bit_depth_chroma = Some((r.u8("avcC bit_depth_chroma_minus8")? & 0x07) | 0x08);
        let num_ext = r.u8("avcC numOfSequenceParameterSetExt")?;
        sps_ext = read_parameter_sets(&mut r, num_ext.into(), "avcC SPS extension")?;
    }

    let first_sps = sps
        .first()
        .ok_or_else(|| FlvError::invalid("avcC numOfSequenceParameterSets", "no SPS"))?;
    let sps_info = parse_sps(first_sps)?;
    Ok(AvcConfig {
        record,
        profile_indication,
        profile_compatibility,
        level_indication,
        nal_length_size,
        sps,
        pps,
        chroma_format,
        bit_depth_luma,
        bit_depth_chroma,
        sps_ext,
        sps_info,
    })
}

/// `count` parameter sets, each prefixed with a 16-bit length (avcC, and
/// the NAL unit arrays of hvcC).
pub(crate) fn read_parameter_sets(
    r: &mut Reader,
    count: u16,
    what: &'static str,
) -> Result<Vec<Bytes>, FlvError> {
    // Each set takes at least 3 bytes: never reserve more than the input holds.
    let mut out = Vec::with_capacity(usize::from(count).min(r.remaining() / 3));
    for _ in 0..count {
        let len = usize::from(r.u16(what)?);
        if len == 0 {
            return Err(FlvError::invalid(what, "empty parameter set"));
        }
        out.push(r.take(len, what)?);
    }
    Ok(out)
}

/// `avc1.PPCCLL`: lowercase hex of AVCProfileIndication,
/// profile_compatibility and AVCLevelIndication (RFC 6381 §3.3).
pub fn avc_codec_string(profile: u8, compatibility: u8, level: u8) -> String {
    format!("avc1.{profile:02x}{compatibility:02x}{level:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_vectors::*;

    fn avcc(tag: &str) -> Bytes {
        Bytes::from(avcc_of(tag))
    }

    /// CODEC-01 table: the CODECS string is avcC bytes 1..4 in lowercase hex.
    #[test]
    fn codec_01_strings_from_real_avcc() {
        let table = [
            (HIGH31_720P_SEQ, "avc1.64001f"),  // High 3.1
            (BASE30_360P_SEQ, "avc1.42c01e"),  // x264 (constrained) Baseline 3.0
            (MAIN40_1080P_SEQ, "avc1.4d4028"), // Main 4.0
            (HIGH40_1080P_SEQ, "avc1.640028"), // High 4.0
            (HIGH10_SEQ, "avc1.6e000d"),       // High 10, level 1.3
            (HIGH444_SEQ, "avc1.f4000d"),      // High 4:4:4 Predictive
        ];
        for (tag, expected) in table {
            let config = parse_avcc(avcc(tag)).unwrap();
            assert_eq!(config.codec_string(), expected);
        }
    }

    #[test]
    fn real_high_profile_avcc_fields() {
        let record = avcc(HIGH31_720P_SEQ);
        let c = parse_avcc(record.clone()).unwrap();
        assert_eq!(c.record, record, "record is kept verbatim");
        assert_eq!(
            (
                c.profile_indication,
                c.profile_compatibility,
                c.level_indication
            ),
            (100, 0, 31)
        );
        assert_eq!(c.nal_length_size, 4);
        assert_eq!(c.sps.len(), 1);
        assert_eq!(c.sps[0].len(), 0x1a);
        assert_eq!(c.sps[0][0], 0x67);
        assert_eq!(c.pps.len(), 1);
        assert_eq!(&c.pps[0][..], &hex("68ebe3cb22c0")[..]);
        // High-profile extension fd f8 f8 00: 4:2:0, 8-bit, no SPS ext.
        assert_eq!(c.chroma_format, Some(1));
        assert_eq!((c.bit_depth_luma, c.bit_depth_chroma), (Some(8), Some(8)));
        assert!(c.sps_ext.is_empty());
        assert_eq!((c.sps_info.width, c.sps_info.height), (1280, 720));
    }

    #[test]
    fn real_high10_extension_bit_depths() {
        let c = parse_avcc(avcc(HIGH10_SEQ)).unwrap();
        assert_eq!((c.bit_depth_luma, c.bit_depth_chroma), (Some(10), Some(10)));
    }

    /// Baseline: no extension even though the spec's reserved bytes are absent.
    #[test]
    fn real_baseline_has_no_extension() {
        let c = parse_avcc(avcc(BASE30_360P_SEQ)).unwrap();
        assert_eq!(c.chroma_format, None);
        assert_eq!((c.sps_info.width, c.sps_info.height), (640, 360));
    }

    /// Profile 244 is not in the extension list of ISO/IEC 14496-15
    /// (100/110/122/144): ffmpeg's trailing bytes stay unparsed in `record`.
    #[test]
    fn profile_244_extension_bytes_are_left_in_record() {
        let c = parse_avcc(avcc(HIGH444_SEQ)).unwrap();
        assert_eq!(c.chroma_format, None);
        assert!(c.record.ends_with(&hex("fff8f800")));
    }

    /// FLV-V-02: every strict prefix of a real avcC fails, except the one
    /// that stops right before the optional high-profile extension.
    #[test]
    fn flv_v_02_truncation_at_every_prefix() {
        for tag in [
            HIGH31_720P_SEQ,
            BASE30_360P_SEQ,
            MAIN40_1080P_SEQ,
            HIGH10_SEQ,
        ] {
            let record = avcc(tag);
            let full = parse_avcc(record.clone()).unwrap();
            let ext_len = if full.chroma_format.is_some() { 4 } else { 0 };
            for n in 0..record.len() {
                let res = parse_avcc(record.slice(..n));
                if ext_len > 0 && n == record.len() - ext_len {
                    let c = res.unwrap();
                    assert_eq!(c.chroma_format, None, "extension absent");
                    assert_eq!(c.sps_info, full.sps_info);
                } else {
                    assert!(res.is_err(), "prefix {n} of {tag} parsed");
                }
            }
        }
    }

    /// A hand-built record with two SPS, two PPS, 2-byte NAL lengths and a
    /// high-profile extension carrying one SPS extension.
    fn hand_built(length_size_minus_one: u8) -> Vec<u8> {
        let sps = sps_of(HIGH31_720P_SEQ);
        let mut v = vec![
            0x01,                         // configurationVersion
            0x64,                         // AVCProfileIndication (High)
            0x00,                         // profile_compatibility
            0x1f,                         // AVCLevelIndication (3.1)
            0xfc | length_size_minus_one, // reserved 111111 + lengthSizeMinusOne
            0xe2,                         // reserved 111 + numOfSequenceParameterSets = 2
        ];
        for _ in 0..2 {
            v.extend_from_slice(&(sps.len() as u16).to_be_bytes()); // sequenceParameterSetLength
            v.extend_from_slice(&sps); // sequenceParameterSetNALUnit
        }
        v.push(0x02); // numOfPictureParameterSets
        v.extend_from_slice(&[0x00, 0x02, 0x68, 0xaa]); // PPS 1: length 2
        v.extend_from_slice(&[0x00, 0x03, 0x68, 0xbb, 0xcc]); // PPS 2: length 3
        v.push(0xfe); // reserved 111111 + chroma_format = 2 (4:2:2)
        v.push(0xfa); // reserved 11111 + bit_depth_luma_minus8 = 2
        v.push(0xf9); // reserved 11111 + bit_depth_chroma_minus8 = 1
        v.push(0x01); // numOfSequenceParameterSetExt
        v.extend_from_slice(&[0x00, 0x02, 0x6d, 0x01]); // SPS ext (type 13), length 2
        v
    }

    #[test]
    fn hand_built_record_with_everything() {
        let c = parse_avcc(Bytes::from(hand_built(1))).unwrap();
        assert_eq!(c.nal_length_size, 2);
        assert_eq!(c.sps.len(), 2);
        assert_eq!(c.pps.len(), 2);
        assert_eq!(&c.pps[1][..], &[0x68, 0xbb, 0xcc]);
        assert_eq!(c.chroma_format, Some(2));
        assert_eq!((c.bit_depth_luma, c.bit_depth_chroma), (Some(10), Some(9)));
        assert_eq!(c.sps_ext.len(), 1);
        assert_eq!(&c.sps_ext[0][..], &[0x6d, 0x01]);
        assert_eq!(c.codec_string(), "avc1.64001f");
    }

    #[test]
    fn nal_length_sizes() {
        for (minus_one, size) in [(0u8, 1u8), (1, 2), (3, 4)] {
            let c = parse_avcc(Bytes::from(hand_built(minus_one))).unwrap();
            assert_eq!(c.nal_length_size, size);
        }
        // lengthSizeMinusOne = 2 (3-byte lengths) is not allowed (FLV-V-01).
        assert!(matches!(
            parse_avcc(Bytes::from(hand_built(2))),
            Err(FlvError::Invalid {
                what: "avcC lengthSizeMinusOne",
                ..
            })
        ));
    }

    #[test]
    fn hand_built_truncation_at_every_prefix() {
        let record = Bytes::from(hand_built(3));
        let before_ext = record.len() - 8;
        for n in 0..record.len() {
            let res = parse_avcc(record.slice(..n));
            assert_eq!(res.is_ok(), n == before_ext, "prefix {n}");
        }
    }

    #[test]
    fn rejects_bad_version_no_sps_and_empty_sets() {
        let mut v = avcc_of(HIGH31_720P_SEQ);
        v[0] = 0; // configurationVersion 0
        assert!(matches!(
            parse_avcc(Bytes::from(v)),
            Err(FlvError::Invalid {
                what: "avcC configurationVersion",
                ..
            })
        ));
        // numOfSequenceParameterSets = 0, no PPS.
        let v = vec![0x01, 0x64, 0x00, 0x1f, 0xff, 0xe0, 0x00];
        assert!(matches!(
            parse_avcc(Bytes::from(v)),
            Err(FlvError::Invalid {
                what: "avcC numOfSequenceParameterSets",
                ..
            })
        ));
        // One SPS of length 0.
        let v = vec![0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0x00, 0x00, 0x00];
        assert!(matches!(
            parse_avcc(Bytes::from(v)),
            Err(FlvError::Invalid { .. })
        ));
    }

    /// The SPS inside must itself parse: a PPS in the SPS slot is rejected.
    #[test]
    fn rejects_a_non_sps_in_the_sps_list() {
        let v = vec![
            0x01, 0x42, 0xc0, 0x1e, 0xff, // header, 4-byte lengths
            0xe1, 0x00, 0x02, 0x68, 0xaa, // "SPS" that is a PPS
            0x00, // no PPS
        ];
        assert!(matches!(
            parse_avcc(Bytes::from(v)),
            Err(FlvError::Invalid { .. })
        ));
    }

    /// Parameter sets are zero-copy slices of the record.
    #[test]
    fn parameter_sets_share_the_record_buffer() {
        let record = avcc(HIGH31_720P_SEQ);
        let c = parse_avcc(record.clone()).unwrap();
        let base = record.as_ptr() as usize;
        assert_eq!(c.sps[0].as_ptr() as usize, base + 8);
        assert_eq!(c.record.as_ptr(), record.as_ptr());
    }
}
