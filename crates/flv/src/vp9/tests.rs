use super::*;
use crate::test_vectors::hex;
use crate::video_vectors::*;

fn vpcc(s: &str) -> Bytes {
    Bytes::from(hex(s))
}

/// CODEC-06 against real libvpx-vp9 records; ffmpeg 9 writes the same
/// short CODECS for all three (it never writes the long form).
#[test]
fn codec_06_real_libvpx_records() {
    assert_eq!(
        parse_vpcc(vpcc(VP9_P0_VPCC)).unwrap().codec_string(),
        "vp09.00.20.08"
    );
    assert_eq!(
        parse_vpcc(vpcc(VP9_P2_VPCC)).unwrap().codec_string(),
        "vp09.02.20.10"
    );
    // BT.2020 / PQ is not the default colour: the full form.
    assert_eq!(
        parse_vpcc(vpcc(VP9_P2_PQ_VPCC)).unwrap().codec_string(),
        "vp09.02.20.10.01.09.16.09.00"
    );
}

#[test]
fn real_record_fields() {
    let record = vpcc(VP9_P0_VPCC);
    let c = parse_vpcc(record.clone()).unwrap();
    assert_eq!(c.record, record, "record is kept verbatim");
    assert!(c.has_full_box_header);
    assert_eq!((c.profile, c.level, c.bit_depth), (0, 20, 8));
    assert_eq!((c.chroma_subsampling, c.video_full_range_flag), (1, false));
    assert_eq!(
        (
            c.colour_primaries,
            c.transfer_characteristics,
            c.matrix_coefficients
        ),
        (2, 2, 2)
    );
    assert!(c.codec_initialization_data.is_empty());
    assert_eq!(c.vpcc_box_payload(), record);
    let f = c.format();
    assert_eq!((f.bit_depth, f.colour, f.width), (8, None, 0));

    let c = parse_vpcc(vpcc(VP9_P2_PQ_VPCC)).unwrap();
    assert_eq!((c.profile, c.bit_depth), (2, 10));
    assert_eq!(c.format().colour, Some(BT2020_PQ));
}

/// A bare record (no FullBox header) parses the same; its box payload
/// gets the version/flags added.
#[test]
fn bare_record_without_full_box_header() {
    let full = hex(VP9_P2_PQ_VPCC);
    let bare = Bytes::copy_from_slice(&full[4..]);
    let c = parse_vpcc(bare.clone()).unwrap();
    assert!(!c.has_full_box_header);
    assert_eq!(c.record, bare);
    assert_eq!(c.codec_string(), "vp09.02.20.10.01.09.16.09.00");
    assert_eq!(&c.vpcc_box_payload()[..], &full[..]);
}

/// The full form appears for any non-default field: full range, 4:4:4,
/// explicit BT.709 limited range is still the default.
#[test]
fn codec_06_long_form_rules() {
    let mut c = parse_vpcc(vpcc(VP9_P0_VPCC)).unwrap();
    (
        c.colour_primaries,
        c.transfer_characteristics,
        c.matrix_coefficients,
    ) = (1, 1, 1);
    assert_eq!(c.codec_string(), "vp09.00.20.08");
    c.video_full_range_flag = true;
    assert_eq!(c.codec_string(), "vp09.00.20.08.01.01.01.01.01");
    c.video_full_range_flag = false;
    (c.profile, c.chroma_subsampling) = (1, 3);
    assert_eq!(c.codec_string(), "vp09.01.20.08.03.01.01.01.00");
    (
        c.colour_primaries,
        c.transfer_characteristics,
        c.matrix_coefficients,
    ) = (2, 2, 2);
    assert_eq!(c.codec_string(), "vp09.01.20.08.03.02.02.02.00");
}

#[test]
fn rejects_bad_fields_and_truncation() {
    let cases: [(usize, u8, &str); 4] = [
        (4, 4, "vpcC profile"),
        (6, 0x92, "vpcC bitDepth"),
        (6, 0x00, "vpcC bitDepth"),
        (6, 0x8e, "vpcC chromaSubsampling"),
    ];
    for (at, value, what) in cases {
        let mut v = hex(VP9_P0_VPCC);
        v[at] = value;
        match parse_vpcc(Bytes::from(v)) {
            Err(FlvError::Invalid { what: w, .. }) => assert_eq!(w, what),
            other => panic!("{what}: {other:?}"),
        }
    }
    // FullBox version 0 (the old draft layout) is unsupported, not misread.
    let mut v = hex(VP9_P0_VPCC);
    v[0] = 0;
    assert!(parse_vpcc(Bytes::from(v)).is_err());
    // codecIntializationDataSize past the end.
    let mut v = hex(VP9_P0_VPCC);
    v[10] = 0xff;
    assert!(matches!(
        parse_vpcc(Bytes::from(v)),
        Err(FlvError::Truncated {
            what: "vpcC codecIntializationData",
            ..
        })
    ));
    let record = vpcc(VP9_P0_VPCC);
    for n in 0..record.len() {
        assert!(parse_vpcc(record.slice(..n)).is_err(), "prefix {n}");
    }
}

/// Real key frames give 320x240 (ffmpeg 9 reports the same); inter frames
/// and broken headers give nothing.
#[test]
fn frame_size_from_real_key_frames() {
    for key in [VP9_P0_KEY_HEAD, VP9_P2_KEY_HEAD, VP9_P2_PQ_KEY_HEAD] {
        assert_eq!(vp9_frame_size(&hex(key)), Some((320, 240)), "{key}");
    }
    assert_eq!(vp9_frame_size(&hex(VP9_P0_INTER_HEAD)), None);
    let key = hex(VP9_P0_KEY_HEAD);
    for n in 0..9 {
        assert_eq!(vp9_frame_size(&key[..n]), None, "prefix {n}");
    }
    assert_eq!(vp9_frame_size(&key[..9]), Some((320, 240)));
    let mut bad_sync = key.clone();
    bad_sync[2] = 0x84;
    assert_eq!(vp9_frame_size(&bad_sync), None);
    let mut bad_marker = key.clone();
    bad_marker[0] = 0x42;
    assert_eq!(vp9_frame_size(&bad_marker), None);
    // show_existing_frame.
    assert_eq!(vp9_frame_size(&[0x88, 0x00]), None);
}

/// Profile 1 (4:4:4) carries subsampling bits before the size; profile 1
/// RGB a reserved bit. Hand-built headers for 1920x1080.
#[test]
fn frame_size_profile_1_colour_config() {
    use crate::bits::test_util::BitWriter;
    for rgb in [false, true] {
        let mut w = BitWriter::new();
        w.bits(2, 2).bits(1, 1).bits(1, 0); // frame_marker, profile 1
        w.bits(1, 0).bits(1, 0).bits(1, 1).bits(1, 0); // show_existing, KEY, show, error_res
        w.bits(24, 0x49_8342);
        if rgb {
            w.bits(3, 7).bits(1, 0); // CS_RGB, reserved_zero
        } else {
            w.bits(3, 1).bits(1, 0).bits(3, 0); // BT.601, range, ss_x, ss_y, reserved
        }
        w.bits(16, 1919).bits(16, 1079);
        assert_eq!(vp9_frame_size(&w.finish()), Some((1920, 1080)), "rgb {rgb}");
    }
}
