//! Fuzz targets for the video configuration parsers of issue 14 (hvcC,
//! av1C and the OBU walk, vpcC, the VP9 frame header): never a panic, and
//! invariants that hold for any accepted input. Like `fuzz.rs`, plain
//! `cargo test` runs them on random inputs; `cargo bolero test` runs them
//! under libFuzzer.

use bolero::check;
use bytes::Bytes;
use weir_flv::{parse_hevc_sps, parse_hvcc};

#[test]
fn fuzz_parse_hvcc() {
    check!().for_each(|input: &[u8]| {
        if let Ok(c) = parse_hvcc(Bytes::copy_from_slice(input)) {
            assert_eq!(&c.record[..], input);
            assert!(!c.sps.is_empty());
            assert!(c.format().width > 0 && c.format().height > 0);
            assert!(c.codec_string().starts_with("hvc1."));
        }
    });
}

#[test]
fn fuzz_parse_hevc_sps() {
    check!().for_each(|input: &[u8]| {
        if let Ok(s) = parse_hevc_sps(input) {
            assert!(s.format.width > 0 && s.format.width <= 16_888);
            assert!(s.format.height > 0 && s.format.height <= 16_888);
        }
    });
}

#[test]
fn fuzz_parse_av1c() {
    check!().for_each(|input: &[u8]| {
        if let Ok(c) = weir_flv::parse_av1c(Bytes::copy_from_slice(input)) {
            assert_eq!(&c.record[..], input);
            assert!(c.format().width > 0 && c.format().height > 0);
            assert!(c.codec_string().starts_with("av01."));
        }
    });
}

#[test]
fn fuzz_av1_obu_walk_and_key_frame() {
    check!().for_each(|input: &[u8]| {
        let mut total = 0usize;
        for obu in weir_flv::obus(input) {
            match obu {
                Ok(o) => total += o.payload.len(),
                Err(_) => break,
            }
        }
        assert!(total <= input.len());
        let _ = weir_flv::av1_is_key_frame(input);
        let _ = weir_flv::parse_sequence_header(input);
    });
}

#[test]
fn fuzz_parse_vpcc() {
    check!().for_each(|input: &[u8]| {
        if let Ok(c) = weir_flv::parse_vpcc(Bytes::copy_from_slice(input)) {
            assert_eq!(&c.record[..], input);
            assert!(matches!(c.bit_depth, 8 | 10 | 12));
            assert!(c.codec_string().starts_with("vp09."));
            assert_eq!(c.vpcc_box_payload()[0], 1);
        }
    });
}

#[test]
fn fuzz_vp9_frame_size() {
    check!().for_each(|input: &[u8]| {
        if let Some((w, h)) = weir_flv::vp9_frame_size(input) {
            assert!((1..=65_536).contains(&w) && (1..=65_536).contains(&h));
        }
    });
}
