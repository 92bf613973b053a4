use super::*;
use crate::test_vectors::hex;
use crate::video_vectors::*;

fn av1c(s: &str) -> Bytes {
    Bytes::from(hex(s))
}

/// CODEC-05 against real SVT-AV1 records; ffmpeg 9 writes the same CODECS
/// for these files (`-f hls … -master_pl_name`).
#[test]
fn codec_05_real_svt_av1_records() {
    let table = [
        (AV1_8BIT_AV1C, "av01.0.00M.08"),
        (AV1_10BIT_AV1C, "av01.0.00M.10"),
        (AV1_10BIT_PQ_AV1C, "av01.0.00M.10.0.110.09.16.09.0"),
    ];
    for (record, codecs) in table {
        assert_eq!(parse_av1c(av1c(record)).unwrap().codec_string(), codecs);
    }
}

#[test]
fn real_8bit_record_fields() {
    let record = av1c(AV1_8BIT_AV1C);
    let c = parse_av1c(record.clone()).unwrap();
    assert_eq!(c.record, record, "record is kept verbatim");
    assert_eq!(
        (c.seq_profile, c.seq_level_idx_0, c.seq_tier_0),
        (0, 0, false)
    );
    assert_eq!(
        (c.high_bitdepth, c.twelve_bit, c.monochrome),
        (false, false, false)
    );
    assert_eq!(
        (c.chroma_subsampling_x, c.chroma_subsampling_y),
        (true, true)
    );
    assert_eq!(c.chroma_sample_position, 0);
    assert_eq!(&c.config_obus[..], &record[4..]);
    let s = c.sequence_header;
    assert_eq!((s.seq_profile, s.reduced_still_picture_header), (0, false));
    assert_eq!(
        (s.max_frame_width, s.max_frame_height, s.bit_depth),
        (320, 240, 8)
    );
    assert!(!s.color_description_present);
    assert_eq!((s.colour.colour_primaries, s.colour.full_range), (2, false));
    let f = c.format();
    assert_eq!(
        (f.width, f.height, f.bit_depth, f.colour, f.sar),
        (320, 240, 8, None, None)
    );
}

#[test]
fn real_10bit_pq_record_fields() {
    let c = parse_av1c(av1c(AV1_10BIT_PQ_AV1C)).unwrap();
    assert_eq!((c.high_bitdepth, c.bit_depth()), (true, 10));
    let f = c.format();
    assert_eq!((f.width, f.height, f.bit_depth), (320, 240, 10));
    assert_eq!(f.colour, Some(BT2020_PQ));
    let c = parse_av1c(av1c(AV1_10BIT_AV1C)).unwrap();
    assert_eq!(
        (c.bit_depth(), c.format().bit_depth, c.format().colour),
        (10, 10, None)
    );
}

/// The optional tail: BT.709 limited range is the default (short form);
/// full range, monochrome, 4:4:4 or a 12-bit high tier show up.
#[test]
fn codec_05_optional_tail() {
    let mut c = parse_av1c(av1c(AV1_10BIT_PQ_AV1C)).unwrap();
    c.sequence_header.colour = ColourInfo {
        colour_primaries: 1,
        transfer_characteristics: 1,
        matrix_coefficients: 1,
        full_range: false,
    };
    assert_eq!(c.codec_string(), "av01.0.00M.10");
    c.sequence_header.colour.full_range = true;
    assert_eq!(c.codec_string(), "av01.0.00M.10.0.110.01.01.01.1");
    c.sequence_header.colour.full_range = false;
    c.seq_profile = 1;
    c.seq_level_idx_0 = 13;
    c.seq_tier_0 = true;
    (c.chroma_subsampling_x, c.chroma_subsampling_y) = (false, false);
    assert_eq!(c.codec_string(), "av01.1.13H.10.0.000.01.01.01.0");
    (c.chroma_subsampling_x, c.chroma_subsampling_y) = (true, true);
    c.chroma_sample_position = 1;
    c.monochrome = true;
    c.twelve_bit = true;
    assert_eq!(c.codec_string(), "av01.1.13H.12.1.111.01.01.01.0");
}

/// Real temporal units: the first is a shown key frame with a sequence
/// header; the second starts with a hidden inter frame.
#[test]
fn key_frames_from_real_temporal_units() {
    assert!(av1_is_key_frame(&hex(AV1_8BIT_KEY_TU)));
    assert!(av1_is_key_frame(&hex(AV1_10BIT_PQ_KEY_TU)));
    assert!(!av1_is_key_frame(&hex(AV1_8BIT_INTER_TU)));
    let types: Vec<u8> = obus(&hex(AV1_8BIT_INTER_TU))
        .map(|o| o.unwrap().obu_type)
        .collect();
    assert_eq!(types, [2, 6, 6, 6, 6, 6]);
    // Without its sequence header the key frame is no random access point.
    let tu = hex(AV1_8BIT_KEY_TU);
    let without_seq: Vec<u8> = [&tu[..2], &tu[15..]].concat();
    assert_eq!(obus(&without_seq).count(), 2);
    assert!(!av1_is_key_frame(&without_seq));
    // A key frame that is not shown (show_frame = 0): delayed RAP, not key.
    let mut hidden = tu.clone();
    hidden[17] &= !0x10;
    assert!(!av1_is_key_frame(&hidden));
    // reduced_still_picture_header: every frame is a key frame.
    let mut reduced = tu.clone();
    reduced[4] |= 0x08;
    reduced[17] = 0xff;
    assert!(av1_is_key_frame(&reduced));
    // Broken framing.
    assert!(!av1_is_key_frame(&tu[..20]));
    assert!(!av1_is_key_frame(&[]));
    assert!(!av1_is_key_frame(&[0x80]));
}

#[test]
fn obu_walk_extension_and_sizes() {
    // Extension header, explicit size 1; then an OBU without a size field.
    let data = [0x0e, 0x00, 0x01, 0xaa, 0x30, 0xbb, 0xcc];
    let v: Vec<Obu<'_>> = obus(&data).map(Result::unwrap).collect();
    assert_eq!(
        v,
        [
            Obu {
                obu_type: 1,
                payload: &[0xaa]
            },
            Obu {
                obu_type: 6,
                payload: &[0xbb, 0xcc]
            },
        ]
    );
    // leb128 over two bytes: 0x80 0x01 = 128, truncated payload.
    let r: Vec<_> = obus(&[0x32, 0x80, 0x01, 0x00]).collect();
    assert!(matches!(
        r[..],
        [Err(FlvError::Truncated {
            what: "OBU payload",
            need: 128,
            ..
        })]
    ));
    // leb128 that never ends, and one above 2^32 - 1.
    assert!(obus(&[0x32, 0x80, 0x80]).any(|o| o.is_err()));
    assert!(obus(&[0x32, 0xff, 0xff, 0xff, 0xff, 0x7f]).any(|o| o.is_err()));
    assert!(
        obus(&[0x32, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]).any(|o| o.is_err())
    );
}

#[test]
fn rejects_bad_marker_version_and_missing_sequence_header() {
    let mut v = hex(AV1_8BIT_AV1C);
    v[0] = 0x01; // marker 0
    assert!(matches!(
        parse_av1c(Bytes::from(v)),
        Err(FlvError::Invalid {
            what: "av1C marker/version",
            ..
        })
    ));
    let mut v = hex(AV1_8BIT_AV1C);
    v[0] = 0x82; // version 2
    assert!(parse_av1c(Bytes::from(v)).is_err());
    // No configOBUs at all, or only a temporal delimiter.
    for v in [
        &hex(AV1_8BIT_AV1C)[..4],
        &[0x81, 0x00, 0x0c, 0x00, 0x12, 0x00][..],
    ] {
        assert!(matches!(
            parse_av1c(Bytes::copy_from_slice(v)),
            Err(FlvError::Invalid {
                what: "av1C configOBUs",
                ..
            })
        ));
    }
    // seq_profile 7 in the sequence header.
    let mut v = hex(AV1_8BIT_AV1C);
    v[6] |= 0xe0;
    assert!(matches!(
        parse_av1c(Bytes::from(v)),
        Err(FlvError::Invalid {
            what: "AV1 seq_profile",
            ..
        })
    ));
}

#[test]
fn truncation_at_every_prefix() {
    for s in [AV1_8BIT_AV1C, AV1_10BIT_AV1C, AV1_10BIT_PQ_AV1C] {
        let record = av1c(s);
        for n in 0..record.len() {
            assert!(parse_av1c(record.slice(..n)).is_err(), "prefix {n} of {s}");
        }
    }
}
