use super::*;
use crate::test_vectors::hex;
use crate::video_vectors::*;

fn hvcc(s: &str) -> Bytes {
    Bytes::from(hex(s))
}

/// CODEC-03 against real x265 records (ffmpeg 9 reports Main / Main 10,
/// level 2 = 60, progressive + frame-only constraint flags 0x90).
#[test]
fn codec_03_real_x265_records() {
    let main = parse_hvcc(hvcc(HEVC_MAIN_HVCC)).unwrap();
    assert_eq!(main.codec_string(), "hvc1.1.6.L60.90");
    let main10 = parse_hvcc(hvcc(HEVC_MAIN10_HVCC)).unwrap();
    assert_eq!(main10.codec_string(), "hvc1.2.4.L60.90");
    let hd = parse_hvcc(hvcc(HEVC_1080P_SAR_HVCC)).unwrap();
    assert_eq!(hd.codec_string(), "hvc1.1.6.L120.90");
}

/// CODEC-03 mapping table: profile space letters, bit reversal without
/// leading zeros, tier letter, trailing zero constraint bytes dropped.
#[test]
fn codec_03_string_table() {
    let b0 = 0xb0u64 << 40;
    // Main, Main compatible with Main 10 (flags 1 and 2), level 3.1.
    assert_eq!(
        hevc_codec_string(0, 1, 0x6000_0000, false, 93, b0),
        "hvc1.1.6.L93.B0"
    );
    // Main 10 (flag 2 only), level 5.1.
    assert_eq!(
        hevc_codec_string(0, 2, 0x2000_0000, false, 153, b0),
        "hvc1.2.4.L153.B0"
    );
    // High tier, profile space 1, RExt (flag 4), two constraint bytes.
    let two = (0x98u64 << 40) | (0x08u64 << 32);
    assert_eq!(
        hevc_codec_string(1, 4, 0x0800_0000, true, 120, two),
        "hvc1.A4.10.H120.98.8"
    );
    // Spaces 2/3, no compatibility flags, no constraint bytes.
    assert_eq!(hevc_codec_string(2, 1, 0, false, 30, 0), "hvc1.B1.0.L30");
    assert_eq!(
        hevc_codec_string(3, 1, 0x8000_0000, false, 30, 0),
        "hvc1.C1.1.L30"
    );
    // A zero byte in the middle is kept, the trailing ones are not.
    let mid = (0x90u64 << 40) | 0x01_0000;
    assert_eq!(
        hevc_codec_string(0, 1, 1, false, 93, mid),
        "hvc1.1.80000000.L93.90.0.0.1"
    );
}

#[test]
fn real_main_record_fields() {
    let record = hvcc(HEVC_MAIN_HVCC);
    let c = parse_hvcc(record.clone()).unwrap();
    assert_eq!(c.record, record, "record is kept verbatim");
    assert_eq!(c.configuration_version, 1);
    assert_eq!(
        (
            c.general_profile_space,
            c.general_tier_flag,
            c.general_profile_idc
        ),
        (0, false, 1)
    );
    assert_eq!(c.general_profile_compatibility_flags, 0x6000_0000);
    assert_eq!(c.general_constraint_indicator_flags, 0x9000_0000_0000);
    assert_eq!(c.general_level_idc, 60);
    assert_eq!(c.chroma_format_idc, 1);
    assert_eq!((c.bit_depth_luma, c.bit_depth_chroma), (8, 8));
    assert_eq!(c.nal_length_size, 4);
    assert_eq!((c.vps.len(), c.sps.len(), c.pps.len()), (1, 1, 1));
    assert_eq!(c.vps[0][0] >> 1, 32);
    assert_eq!(c.sps[0][0] >> 1, 33);
    assert_eq!(&c.pps[0][..], &hex("4401c172b46240")[..]);
    let info = &c.sps_info;
    assert_eq!((info.chroma_format_idc, info.bit_depth_chroma), (1, 8));
    let s = c.format();
    assert_eq!((s.width, s.height, s.bit_depth), (320, 240, 8));
    assert_eq!(s.sar, Some((1, 1)));
    assert_eq!(s.frame_rate, Some((30, 1)));
    assert_eq!(s.colour, None);
}

/// Main 10 with `colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc`:
/// the VUI colour description is HDR10 (9 / 16 / 9, limited range).
#[test]
fn real_main10_pq_record_fields() {
    let c = parse_hvcc(hvcc(HEVC_MAIN10_HVCC)).unwrap();
    assert_eq!(c.general_profile_idc, 2);
    assert_eq!(c.general_profile_compatibility_flags, 0x2000_0000);
    assert_eq!((c.bit_depth_luma, c.bit_depth_chroma), (10, 10));
    let s = c.format();
    assert_eq!((s.width, s.height, s.bit_depth), (320, 240, 10));
    assert_eq!(s.colour, Some(BT2020_PQ));
}

/// The conformance window crops 1088 coded rows to 1080; SAR 16:15 is not
/// in Table E-1, so x265 writes Extended_SAR.
#[test]
fn real_1080p_conformance_window_and_extended_sar() {
    let c = parse_hvcc(hvcc(HEVC_1080P_SAR_HVCC)).unwrap();
    let s = c.format();
    assert_eq!((s.width, s.height), (1920, 1080));
    assert_eq!(s.sar, Some((16, 15)));
    assert_eq!(s.frame_rate, Some((25, 1)));
}

/// Every strict prefix of a real record fails with a typed error.
#[test]
fn truncation_at_every_prefix() {
    for s in [HEVC_MAIN_HVCC, HEVC_MAIN10_HVCC, HEVC_1080P_SAR_HVCC] {
        let record = hvcc(s);
        for n in 0..record.len() {
            match parse_hvcc(record.slice(..n)) {
                Err(FlvError::Truncated { .. } | FlvError::TruncatedBits { .. }) => {}
                Err(FlvError::Invalid { .. }) => {}
                other => panic!("prefix {n}: {other:?}"),
            }
        }
    }
}

/// Arrays of other NAL types (a prefix SEI here) are skipped; trailing
/// bytes after the arrays are ignored.
#[test]
fn other_arrays_are_skipped() {
    let mut v = hex(HEVC_MAIN_HVCC);
    v[22] = 4; // numOfArrays 3 → 4
    v.extend_from_slice(&[0x27, 0x00, 0x01, 0x00, 0x03, 0x4e, 0x01, 0x05]); // SEI array, 1 NALU of 3 bytes
    let c = parse_hvcc(Bytes::from(v)).unwrap();
    assert_eq!((c.vps.len(), c.sps.len(), c.pps.len()), (1, 1, 1));
    assert_eq!(c.codec_string(), "hvc1.1.6.L60.90");
}

#[test]
fn rejects_bad_version_length_size_and_missing_sps() {
    let mut v = hex(HEVC_MAIN_HVCC);
    v[0] = 0;
    assert!(matches!(
        parse_hvcc(Bytes::from(v)),
        Err(FlvError::Invalid {
            what: "hvcC configurationVersion",
            ..
        })
    ));
    let mut v = hex(HEVC_MAIN_HVCC);
    v[21] = (v[21] & 0xfc) | 2; // lengthSizeMinusOne 2
    assert!(matches!(
        parse_hvcc(Bytes::from(v)),
        Err(FlvError::Invalid {
            what: "hvcC lengthSizeMinusOne",
            ..
        })
    ));
    // No arrays at all.
    let mut v = hex(HEVC_MAIN_HVCC)[..23].to_vec();
    v[22] = 0;
    assert!(matches!(
        parse_hvcc(Bytes::from(v)),
        Err(FlvError::Invalid {
            what: "hvcC arrays",
            ..
        })
    ));
    // An absurd NAL count runs past the end: truncated, no huge allocation.
    let mut v = hex(HEVC_MAIN_HVCC)[..23].to_vec();
    v.extend_from_slice(&[0x21, 0xff, 0xff, 0x00, 0x02, 0x42, 0x01]);
    v[22] = 1;
    assert!(matches!(
        parse_hvcc(Bytes::from(v)),
        Err(FlvError::Truncated {
            what: "hvcC SPS",
            ..
        })
    ));
}

/// A PPS in the SPS array, or a broken SPS, is rejected.
#[test]
fn rejects_a_non_sps_in_the_sps_array() {
    assert!(matches!(
        parse_hevc_sps(&hex("4401c172b46240")),
        Err(FlvError::Invalid {
            what: "HEVC SPS NAL header",
            ..
        })
    ));
    assert!(parse_hevc_sps(&[0x42]).is_err());
    assert!(parse_hevc_sps(&[0xc2, 0x01]).is_err());
    // pic_width_in_luma_samples = 0.
    let mut w = crate::bits::test_util::BitWriter::new();
    w.bits(16, 0x4201).bits(4, 0).bits(3, 0).bit(true);
    w.bits(32, 0)
        .bits(32, 0)
        .bits(32, 0)
        .ue(0)
        .ue(1)
        .ue(0)
        .ue(240);
    w.trailing();
    assert!(matches!(
        parse_hevc_sps(&w.finish()),
        Err(FlvError::Invalid {
            what: "pic_width_in_luma_samples",
            ..
        })
    ));
}

/// Parameter sets are zero-copy slices of the record.
#[test]
fn parameter_sets_share_the_record_buffer() {
    let record = hvcc(HEVC_MAIN_HVCC);
    let c = parse_hvcc(record.clone()).unwrap();
    assert_eq!(c.vps[0].as_ptr() as usize, record.as_ptr() as usize + 28);
}
