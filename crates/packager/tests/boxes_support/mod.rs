//! Helpers shared by `boxes.rs` and `boxes_ffprobe.rs`: a tiny FLV file
//! reader for the committed fixture, and a raw box walker for the fields
//! `mp4-atom` does not expose (box versions, byte offsets).
#![allow(dead_code)]

use bytes::Bytes;
use weir_flv::{
    parse_audio, parse_video, AacConfig, AudioConfig, AudioPacket, AvcConfig, VideoConfig,
    VideoPacket,
};

/// 2 s of `testsrc2` 320x240@30 (libx264, `-bf 2 -g 30`, BT.709 colour
/// description) and a 440 Hz sine (AAC-LC 48 kHz stereo), made with:
///
/// ```text
/// ffmpeg -f lavfi -i testsrc2=size=320x240:rate=30 \
///   -f lavfi -i sine=frequency=440:sample_rate=48000 -t 2 \
///   -c:v libx264 -preset veryfast -crf 40 -bf 2 -g 30 -keyint_min 30 \
///   -sc_threshold 0 -pix_fmt yuv420p -color_primaries bt709 \
///   -color_trc bt709 -colorspace bt709 \
///   -c:a aac -ar 48000 -ac 2 -b:a 48k -f flv fixture.flv
/// ```
pub const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/testsrc2-320x240-h264-aac48k.flv"
);

/// One FLV tag: type (8 audio, 9 video, 18 script), timestamp, body.
pub struct FlvTag {
    pub tag_type: u8,
    pub timestamp_ms: u32,
    pub body: Bytes,
}

fn be(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |acc, &b| acc << 8 | u32::from(b))
}

/// Reads every tag of an FLV file (header, then tag + PreviousTagSize).
pub fn read_flv(file: &Bytes) -> Vec<FlvTag> {
    assert_eq!(&file[..3], b"FLV", "FLV signature");
    let mut pos = be(&file[5..9]) as usize + 4; // header, PreviousTagSize0
    let mut tags = Vec::new();
    while pos + 11 <= file.len() {
        let h = &file[pos..pos + 11];
        let size = be(&h[1..4]) as usize;
        let timestamp_ms = be(&h[4..7]) | u32::from(h[7]) << 24;
        let body = file.slice(pos + 11..pos + 11 + size);
        tags.push(FlvTag {
            tag_type: h[0] & 0x1f,
            timestamp_ms,
            body,
        });
        pos += 11 + size + 4;
    }
    tags
}

pub struct VideoFrame {
    pub dts_ms: u32,
    pub composition_offset_ms: i32,
    pub key: bool,
    pub data: Bytes,
}

pub struct AudioFrame {
    pub timestamp_ms: u32,
    pub data: Bytes,
}

pub struct Fixture {
    pub avc: AvcConfig,
    pub video: Vec<VideoFrame>,
    pub aac: AacConfig,
    pub audio: Vec<AudioFrame>,
}

/// The fixture, parsed with `weir_flv`.
pub fn fixture() -> Fixture {
    let file = Bytes::from(std::fs::read(FIXTURE).expect("fixture FLV"));
    let mut avc = None;
    let mut aac = None;
    let mut video = Vec::new();
    let mut audio = Vec::new();
    for tag in read_flv(&file) {
        match tag.tag_type {
            9 => {
                let v = parse_video(tag.body).expect("video tag");
                match v.packet {
                    VideoPacket::SequenceStart(VideoConfig::Avc(c)) => avc = Some(c),
                    VideoPacket::Coded {
                        composition_offset_ms,
                        data,
                    } => video.push(VideoFrame {
                        dts_ms: tag.timestamp_ms,
                        composition_offset_ms,
                        key: v.frame_type.is_key(),
                        data,
                    }),
                    _ => {}
                }
            }
            8 => match parse_audio(tag.body).expect("audio tag").packet {
                AudioPacket::SequenceStart(AudioConfig::Aac(c)) => aac = Some(c),
                AudioPacket::Coded { data } => audio.push(AudioFrame {
                    timestamp_ms: tag.timestamp_ms,
                    data,
                }),
                _ => {}
            },
            _ => {}
        }
    }
    Fixture {
        avc: avc.expect("AVC sequence header"),
        video,
        aac: aac.expect("AAC sequence header"),
        audio,
    }
}

/// Bytes before the first child box, for boxes that have children.
fn children_at(fourcc: &[u8; 4]) -> Option<usize> {
    match fourcc {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"dinf" | b"mvex" | b"moof" | b"traf" => {
            Some(8)
        }
        b"stsd" | b"dref" => Some(16), // FullBox header + entry_count
        b"avc1" => Some(8 + 78),       // VisualSampleEntry fields
        b"mp4a" => Some(8 + 28),       // AudioSampleEntry fields
        _ => None,
    }
}

/// The boxes in `buf`, back to back: (fourcc, offset in `buf`, whole box).
pub fn boxes(buf: &[u8]) -> Vec<([u8; 4], usize, &[u8])> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 8 <= buf.len() {
        let size = be(&buf[pos..pos + 4]) as usize;
        assert!(
            size >= 8 && pos + size <= buf.len(),
            "box size {size} at {pos}"
        );
        let fourcc: [u8; 4] = buf[pos + 4..pos + 8].try_into().unwrap();
        out.push((fourcc, pos, &buf[pos..pos + size]));
        pos += size;
    }
    assert_eq!(pos, buf.len(), "trailing bytes after the last box");
    out
}

/// The box at `path` (each step a child of the previous), and its offset
/// from the start of `buf`.
pub fn find_box<'a>(buf: &'a [u8], path: &[&[u8; 4]]) -> (usize, &'a [u8]) {
    let mut base = 0;
    let mut scope = buf;
    let mut found: Option<(usize, &[u8])> = None;
    for step in path {
        let (_, offset, whole) = boxes(scope)
            .into_iter()
            .find(|(fourcc, _, _)| fourcc == *step)
            .unwrap_or_else(|| panic!("no `{}` box", String::from_utf8_lossy(*step)));
        base += offset;
        found = Some((base, whole));
        if let Some(skip) = children_at(step) {
            scope = &whole[skip..];
            base += skip;
        }
    }
    found.expect("non-empty path")
}

/// The sample durations of fixture video frames at 90 kHz: DTS deltas, and
/// the last frame repeats the one before it.
pub fn video_durations(frames: &[VideoFrame]) -> Vec<u32> {
    let mut out: Vec<u32> = frames
        .windows(2)
        .map(|w| (w[1].dts_ms - w[0].dts_ms) * 90)
        .collect();
    out.push(*out.last().unwrap_or(&3000));
    out
}
