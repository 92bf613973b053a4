//! Fuzz targets for every parser in the crate (DEVELOPERS.md: never panic).
//!
//! Under plain `cargo test` bolero runs each target on random inputs (and
//! on any corpus under `tests/__fuzz__/`); `cargo bolero test fuzz::<name>`
//! runs the same targets under libFuzzer with sanitizers on nightly. Each
//! target also checks invariants that must hold for any accepted input.

use bolero::check;
use bytes::Bytes;
use weir_flv::{
    parse_asc, parse_audio, parse_avcc, parse_sps, parse_video, AudioConfig, AudioPacket,
    VideoConfig, VideoPacket,
};

/// Random inputs are short and rarely valid; seeding them with real
/// headers makes the mutator reach the deep branches.
const SEEDS: &[&[u8]] = &[
    // Legacy AVC sequence header (High 3.1, 1280x720).
    &[
        0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x1a, 0x67, 0x64,
        0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
        0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60, 0x01, 0x00, 0x06, 0x68, 0xeb, 0xe3,
        0xcb, 0x22, 0xc0, 0xfd, 0xf8, 0xf8, 0x00,
    ],
    // E-RTMP ModEx + multitrack video.
    &[
        0x97, 0x02, 0x00, 0x00, 0x01, 0x06, 0x13, b'a', b'v', b'c', b'1', 0x01, 0x00, 0x00, 0x01,
        0xee, 0x00, 0x00, 0x00, 0x02, 0xaa, 0xbb,
    ],
    // Legacy AAC sequence header (ffmpeg, 48 kHz stereo).
    &[0xaf, 0x00, 0x11, 0x90, 0x56, 0xe5, 0x00],
    // E-RTMP multitrack audio.
    &[
        0x95, 0x10, b'm', b'p', b'4', b'a', 0x00, 0x00, 0x00, 0x02, 0x11, 0x90,
    ],
];

fn check_video(input: &[u8]) {
    let payload = Bytes::copy_from_slice(input);
    if let Ok(tag) = parse_video(payload) {
        match tag.packet {
            VideoPacket::Coded { data, .. } => assert!(data.len() <= input.len()),
            VideoPacket::SequenceStart(config) => {
                assert!(config.record().len() <= input.len());
                if let VideoConfig::Avc(avc) = &config {
                    assert!(matches!(avc.nal_length_size, 1 | 2 | 4));
                    assert!(!avc.sps.is_empty());
                    assert!(avc.sps_info.width > 0 && avc.sps_info.height > 0);
                    assert!(config.codec_string().is_some());
                }
            }
            VideoPacket::SequenceEnd | VideoPacket::Ignored { .. } => {}
        }
    }
}

fn check_audio(input: &[u8]) {
    let payload = Bytes::copy_from_slice(input);
    if let Ok(tag) = parse_audio(payload) {
        match tag.packet {
            AudioPacket::Coded { data } => assert!(data.len() <= input.len()),
            AudioPacket::SequenceStart(AudioConfig::Aac(aac)) => {
                assert!(aac.sample_rate > 0 && aac.core_sample_rate > 0);
                assert!(aac.samples_per_frame >= 480);
            }
            _ => {}
        }
    }
}

#[test]
fn fuzz_parse_video() {
    for seed in SEEDS {
        check_video(seed);
    }
    check!().for_each(check_video);
}

#[test]
fn fuzz_parse_audio() {
    for seed in SEEDS {
        check_audio(seed);
    }
    check!().for_each(check_audio);
}

#[test]
fn fuzz_parse_avcc() {
    check!().for_each(|input: &[u8]| {
        if let Ok(c) = parse_avcc(Bytes::copy_from_slice(input)) {
            assert_eq!(&c.record[..], input);
            assert_eq!(c.codec_string().len(), "avc1.xxxxxx".len());
        }
    });
}

#[test]
fn fuzz_parse_asc() {
    check!().for_each(|input: &[u8]| {
        if let Ok(c) = parse_asc(Bytes::copy_from_slice(input)) {
            assert!(c.sample_rate >= c.core_sample_rate);
            assert!(c.object_type > 0);
        }
    });
}

#[test]
fn fuzz_parse_sps() {
    check!().for_each(|input: &[u8]| {
        if let Ok(info) = parse_sps(input) {
            assert!(info.width > 0 && info.width <= 16_384);
            assert!(info.height > 0 && info.height <= 32_768);
        }
    });
}

/// Header bytes that select each branch of the video parser.
const VIDEO_HEADS: &[&[u8]] = &[
    &[0x17, 0x00, 0x00, 0x00, 0x00], // legacy AVC sequence header
    &[0x27, 0x01],                   // legacy AVC NALUs
    &[0x90],                         // E-RTMP SequenceStart
    &[0x91],                         // E-RTMP CodedFrames
    &[0x93],                         // E-RTMP CodedFramesX
    &[0x96, 0x10],                   // multitrack, ManyTracks, SequenceStart
    &[0x96, 0x21],                   // multitrack, ManyTracksManyCodecs, CodedFrames
    &[0x96, 0x03],                   // multitrack, OneTrack, CodedFramesX
    &[0x97, 0x02, 0, 0, 0, 0x06],    // ModEx, then multitrack
];

const AUDIO_HEADS: &[&[u8]] = &[
    &[0xaf, 0x00],             // legacy AAC sequence header
    &[0x90],                   // E-RTMP SequenceStart
    &[0x95, 0x10],             // multitrack, ManyTracks, SequenceStart
    &[0x95, 0x20],             // multitrack, ManyTracksManyCodecs, SequenceStart
    &[0x97, 0x00, 0x00, 0x00], // ModEx, then SequenceStart
];

const FOURCCS: &[&[u8; 4]] = &[
    b"avc1", b"hvc1", b"av01", b"vp09", b"vp08", b"vvc1", b"mp4a", b"Opus", b"fLaC", b"ac-3",
];

/// Builds `head + (FourCC) + tail` so random tails reach the codec parsers.
fn structured(heads: &[&[u8]], head: u8, fourcc: u8, tail: &[u8]) -> Vec<u8> {
    let head = heads[usize::from(head) % heads.len()];
    let mut v = head.to_vec();
    if head[0] & 0x80 != 0 || head[0] >> 4 == 9 {
        v.extend_from_slice(FOURCCS[usize::from(fourcc) % FOURCCS.len()]);
    }
    v.extend_from_slice(tail);
    v
}

#[test]
fn fuzz_structured_video() {
    check!()
        .with_type::<(u8, u8, Vec<u8>)>()
        .for_each(|(head, fourcc, tail)| {
            check_video(&structured(VIDEO_HEADS, *head, *fourcc, tail))
        });
}

#[test]
fn fuzz_structured_audio() {
    check!()
        .with_type::<(u8, u8, Vec<u8>)>()
        .for_each(|(head, fourcc, tail)| {
            check_audio(&structured(AUDIO_HEADS, *head, *fourcc, tail))
        });
}

/// Inputs the fuzz targets once failed on, kept as regression tests.
#[test]
fn fuzz_regressions() {
    // ASC: SBR extension rate below the core rate (the invariant
    // sample_rate >= core_sample_rate did not hold).
    assert!(parse_asc(Bytes::from_static(&[0x2f, 0x80, 0x16, 0x00, 0x05, 0x14])).is_err());
}

/// Mutations of real headers: flip every bit of each seed in turn.
#[test]
fn single_bit_flips_of_real_headers_never_panic() {
    for seed in SEEDS {
        let mut v = seed.to_vec();
        for i in 0..v.len() * 8 {
            v[i / 8] ^= 0x80 >> (i % 8);
            check_video(&v);
            check_audio(&v);
            let _ = parse_avcc(Bytes::copy_from_slice(&v));
            let _ = parse_asc(Bytes::copy_from_slice(&v));
            let _ = parse_sps(&v);
            v[i / 8] ^= 0x80 >> (i % 8);
        }
    }
}
