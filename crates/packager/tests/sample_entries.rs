//! Init segments for every codec Weir packages (issue 14): each
//! configuration box must hold exactly what ffmpeg 9's MP4 muxer writes for
//! the same stream, and the whole init segment decodes with `mp4-atom`
//! (strict).
//!
//! The expected boxes were read out of MP4 files made with the static
//! ffmpeg 9.0.2 (imageio-ffmpeg), e.g.
//! `ffmpeg -f lavfi -i testsrc2=s=320x240:r=30 -t 0.2 -c:v libx265 -x265-params info=0 hevc.mp4`
//! (`libsvtav1`, `libvpx-vp9`; `-f lavfi -i sine=r=48000 -c:a libopus`,
//! `-ac 6 -c:a libopus`, `-c:a flac`, `-ac 6 -c:a ac3`, `-c:a eac3`,
//! `-c:a libmp3lame` at 44.1 kHz).

use mp4_atom::{Codec, Decode, Ftyp, Moov};
use weir_packager::boxes::{
    sound_init, visual_init, AudioCodec, AudioEntry, VisualCodec, VisualEntry,
};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The payload of the first box of type `fourcc` anywhere in `buf`.
fn find_box<'a>(buf: &'a [u8], fourcc: &[u8; 4]) -> Option<&'a [u8]> {
    buf.windows(4).position(|w| w == fourcc).and_then(|at| {
        let size = u32::from_be_bytes(buf.get(at - 4..at)?.try_into().ok()?) as usize;
        buf.get(at + 4..at - 4 + size)
    })
}

fn decode(init: &[u8]) -> Codec {
    let mut buf = init;
    Ftyp::decode(&mut buf).expect("ftyp");
    let moov = Moov::decode(&mut buf).expect("moov");
    assert!(buf.is_empty());
    moov.trak[0].mdia.minf.stbl.stsd.codecs[0].clone()
}

const HVCC_MAIN: &str = "0101600000009000000000003cf000fcfdf8f800000f03200001001840010c01ffff01600000030090000003000003003c959809210001002a42010101600000030090000003000003003ca00a080f165959a4932bc05a020000030002000003003c1022000100074401c172b46240";
const AV1C_MAIN8: &str = "81000c000a0b0200000561e7fde017c002";
/// The vpcC payload: FullBox version 1 / flags 0, then the record.
const VPCC_P0: &str = "010000000014820202020000";

fn visual(codec: VisualCodec, record: &[u8]) -> Vec<u8> {
    visual_init(
        1,
        &VisualEntry {
            codec,
            record,
            width: 320,
            height: 240,
            sar: None,
            colour: None,
        },
    )
    .unwrap()
    .to_vec()
}

#[test]
fn hvc1_carries_the_hvcc_as_sent_codec_04() {
    let record = hex(HVCC_MAIN);
    let init = visual(VisualCodec::Hevc, &record);
    assert_eq!(find_box(&init, b"hvcC"), Some(&record[..]));
    assert!(find_box(&init, b"hev1").is_none());
    match decode(&init) {
        Codec::Hvc1(h) => {
            assert_eq!((h.visual.width, h.visual.height), (320, 240));
            assert_eq!(h.hvcc.general_profile_idc, 1);
            assert_eq!(h.hvcc.general_level_idc, 60);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn av01_carries_the_av1c() {
    let record = hex(AV1C_MAIN8);
    let init = visual(VisualCodec::Av1, &record);
    assert_eq!(find_box(&init, b"av1C"), Some(&record[..]));
    match decode(&init) {
        Codec::Av01(a) => {
            assert_eq!(a.av1c.seq_profile, 0);
            assert_eq!(a.av1c.seq_level_idx_0, 0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn vp09_carries_the_vpcc_full_box_payload() {
    let record = hex(VPCC_P0);
    let init = visual(VisualCodec::Vp9, &record);
    assert_eq!(
        find_box(&init, b"vpcC"),
        Some(&hex("010000000014820202020000")[..])
    );
    match decode(&init) {
        Codec::Vp09(v) => {
            assert_eq!(v.vpcc.profile, 0);
            assert_eq!(v.vpcc.bit_depth, 8);
        }
        other => panic!("{other:?}"),
    }
}

fn audio(codec: AudioCodec<'_>, channels: u16, sample_rate: u32) -> Vec<u8> {
    sound_init(
        2,
        sample_rate,
        &AudioEntry {
            codec,
            channels,
            sample_rate,
        },
    )
    .unwrap()
    .to_vec()
}

/// The AudioSampleEntry fields up to the configuration box, as ffmpeg
/// writes them (reserved, data_reference_index 1, channelcount,
/// samplesize 16, samplerate 16.16).
fn entry_fields(channels: u16, rate: u16) -> Vec<u8> {
    let mut v = hex("0000000000000001"); // reserved, data_reference_index
    v.extend_from_slice(&[0; 8]); // reserved
    v.extend_from_slice(&channels.to_be_bytes());
    v.extend_from_slice(&hex("001000000000")); // samplesize, pre_defined, reserved
    v.extend_from_slice(&rate.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v
}

#[test]
fn opus_dops_stereo_and_5_1_codec_06() {
    for (dops, channels) in [
        ("000201380000bb80000000", 2u16),
        ("000601380000bb800000010402000401020305", 6),
    ] {
        let dops = hex(dops);
        let init = audio(AudioCodec::Opus { dops: &dops }, channels, 48_000);
        assert_eq!(find_box(&init, b"dOps"), Some(&dops[..]));
        let entry = find_box(&init, b"Opus").unwrap();
        assert_eq!(&entry[..28], &entry_fields(channels, 48_000)[..]);
        match decode(&init) {
            Codec::Opus(o) => {
                assert_eq!(o.dops.output_channel_count, channels as u8);
                assert_eq!(o.dops.pre_skip, 312);
                assert_eq!(o.dops.input_sample_rate, 48_000);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn flac_dfla_is_a_full_box_around_the_metadata_blocks() {
    let blocks =
        hex("80000022040004000001210001840ac440f000002274b4f27f6fef491b0bc750e9d56eee4d33");
    let init = audio(AudioCodec::Flac { dfla: &blocks }, 1, 44_100);
    let mut expected = vec![0, 0, 0, 0];
    expected.extend_from_slice(&blocks);
    assert_eq!(find_box(&init, b"dfLa"), Some(&expected[..]));
    assert!(matches!(decode(&init), Codec::Flac(_)));
}

#[test]
fn ac3_and_eac3_carry_dac3_and_dec3() {
    let dac3 = hex("103de0");
    let init = audio(AudioCodec::Ac3 { dac3: &dac3 }, 6, 48_000);
    assert_eq!(find_box(&init, b"dac3"), Some(&dac3[..]));
    assert!(matches!(decode(&init), Codec::Ac3(_)));
    let dec3 = hex("0600200400");
    let init = audio(AudioCodec::Eac3 { dec3: &dec3 }, 2, 48_000);
    assert_eq!(find_box(&init, b"dec3"), Some(&dec3[..]));
    assert!(matches!(decode(&init), Codec::Eac3(_)));
}

#[test]
fn mp3_is_mp4a_with_object_type_0x6b_and_no_decoder_specific_info() {
    let init = audio(AudioCodec::Mp3 { object_type: 0x6B }, 1, 44_100);
    let esds = find_box(&init, b"esds").unwrap();
    // DecoderConfigDescriptor: objectTypeIndication 0x6B, streamType audio.
    let dcd = esds.windows(2).position(|w| w == [0x6B, 0x15]);
    assert!(dcd.is_some(), "{esds:02x?}");
    // No DecoderSpecificInfo (tag 5): the SLConfigDescriptor (tag 6)
    // follows the 13 bytes of the DecoderConfigDescriptor's own fields.
    assert_eq!(esds.get(dcd.unwrap() + 13), Some(&0x06), "{esds:02x?}");
    match decode(&init) {
        Codec::Mp4a(m) => {
            assert_eq!(m.esds.es_desc.dec_config.object_type_indication, 0x6B);
        }
        other => panic!("{other:?}"),
    }
}
