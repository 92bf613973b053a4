//! Recorded ffmpeg publishes through the sans-IO stack: `weir_rtmp::Session`
//! (handshake, chunk stream, commands) → `weir_flv::Demuxer`.
//!
//! 1. The unmodified captures in `tests/fixtures/` (see its README) give
//!    exactly the frames, codec parameters and events ffprobe reports for the
//!    source files, whatever the read sizes.
//! 2. Checklist §8 case 61: thousands of seeded mutations of those captures
//!    (bit flips, overwrites, insertions, deletions, truncations, duplicated
//!    ranges, corrupted chunk header fields, injected Set Chunk Size and other
//!    protocol messages) never panic or hang, keep the session's buffered
//!    bytes within its limits, keep every track's DTS monotonic and always
//!    close every publish they opened. Garbage ends in an `Err` with a
//!    message, never in a panic.
//!
//! `WEIR_MUTATION_SEED=<u64 or 0xhex>` replays another seed and
//! `WEIR_MUTATION_CASES=<n>` changes the number of cases (e.g. a long soak).
//! A failing case prints its seed, index and mutations and writes its input
//! to the temp dir.

use std::collections::HashMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use weir_flv::{AudioConfig, DemuxEvent, Demuxer, Frame, TrackKind, VideoConfig};
use weir_rtmp::{Event, Limits, MediaKind, Session, SessionConfig, SessionError, UnpublishReason};

const H264_AAC: &[u8] = include_bytes!("fixtures/ffmpeg-h264-aac.rtmp");
const P720: &[u8] = include_bytes!("fixtures/ffmpeg-720p.rtmp");
const AUDIO_ONLY: &[u8] = include_bytes!("fixtures/ffmpeg-audio-only.rtmp");

/// C0 + C1 + C2: the chunk stream starts here.
const HANDSHAKE_LEN: usize = 1 + 1536 + 1536;
/// Longest chunk header: 3-byte basic header + 11-byte message header + 4-byte
/// extended timestamp. At most this plus one chunk payload can wait in the
/// session's input buffer.
const MAX_CHUNK_HEADER: usize = 18;

const DEFAULT_SEED: u64 = 0x5745_4952_6d75_7461; // "WEIRmuta"
const DEFAULT_CASES: usize = 16_000;

// ---------------------------------------------------------------------------
// Expected values (tests/fixtures/README.md; ffprobe -count_packets on the
// source FLV files).
// ---------------------------------------------------------------------------

struct Expected {
    video_frames: usize,
    video_bytes: usize,
    key_frames: usize,
    /// PTS − DTS over all video frames (ms).
    cto_range: (i64, i64),
    video_dts: (i64, i64),
    video_codec: Option<&'static str>,
    size: (u32, u32),
    audio_frames: usize,
    audio_bytes: usize,
    audio_dts: (i64, i64),
    audio_rate: u32,
    audio_channels: u8,
}

const H264_AAC_EXPECTED: Expected = Expected {
    video_frames: 120,
    video_bytes: 145_415,
    key_frames: 4,
    cto_range: (33, 134),
    video_dts: (0, 3967),
    video_codec: Some("avc1.64000d"),
    size: (320, 240),
    audio_frames: 189,
    audio_bytes: 32_178,
    audio_dts: (46, 4056),
    audio_rate: 48_000,
    audio_channels: 2,
};

const P720_EXPECTED: Expected = Expected {
    video_frames: 120,
    video_bytes: 793_991,
    key_frames: 2,
    cto_range: (0, 0),
    video_dts: (21, 3988),
    video_codec: Some("avc1.42c01f"),
    size: (1280, 720),
    audio_frames: 189,
    audio_bytes: 48_410,
    audio_dts: (0, 4010),
    audio_rate: 48_000,
    audio_channels: 2,
};

const AUDIO_ONLY_EXPECTED: Expected = Expected {
    video_frames: 0,
    video_bytes: 0,
    key_frames: 0,
    cto_range: (0, 0),
    video_dts: (0, 0),
    video_codec: None,
    size: (0, 0),
    audio_frames: 174,
    audio_bytes: 32_474,
    audio_dts: (0, 4017),
    audio_rate: 44_100,
    audio_channels: 1,
};

// ---------------------------------------------------------------------------
// Driving a session
// ---------------------------------------------------------------------------

/// Everything a replay produced, in order.
#[derive(Debug, Default, PartialEq)]
struct Replay {
    connected: Vec<String>,
    /// (app, key, publish type)
    publishes: Vec<(String, String, String)>,
    unpublished: Vec<(String, UnpublishReason)>,
    metadata: usize,
    media_messages: usize,
    video_configs: Vec<(VideoConfig, bool)>,
    audio_configs: Vec<(AudioConfig, bool)>,
    frames: Vec<Frame>,
    end_of_sequence: Vec<TrackKind>,
    /// Display text of every demuxer error.
    demux_errors: Vec<String>,
    /// Display text and variant of the fatal session error, if any.
    session_error: Option<(String, String)>,
    max_buffered: usize,
}

impl Replay {
    fn frames_of(&self, track: TrackKind) -> impl Iterator<Item = &Frame> {
        self.frames.iter().filter(move |f| f.track == track)
    }
}

/// Per publish: its demuxer and the last DTS of each track.
struct Stream {
    demuxer: Demuxer,
    last_dts: HashMap<TrackKind, i64>,
}

/// `Chunk(MessageTooLarge { .. })` → `Chunk::MessageTooLarge`.
fn variant_name(debug: &str) -> String {
    debug
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .take_while(|w| w.starts_with(|c: char| c.is_ascii_uppercase()))
        .take(2)
        .collect::<Vec<_>>()
        .join("::")
}

/// Feeds `input` to a fresh session in pieces of `next_piece()` bytes,
/// accepting every publish and demuxing every media message, and checks the
/// invariants that hold for any input. Stops at the first session error (as a
/// host must), then closes the session.
fn replay(input: &[u8], limits: &Limits, mut next_piece: impl FnMut() -> usize) -> Replay {
    let config = SessionConfig {
        limits: limits.clone(),
        ..SessionConfig::default()
    };
    // Input can stay buffered only as an incomplete chunk (header + payload
    // ≤ one message) plus the partly reassembled messages.
    let bound = limits.max_message_size as usize + limits.max_reassembly_bytes + MAX_CHUNK_HEADER;
    let start = Instant::now();
    let mut session = Session::new(config, start);
    let mut streams: HashMap<u32, Stream> = HashMap::new();
    let mut out = Replay::default();
    let mut pos = 0usize;
    let mut step = 0u64;
    while pos < input.len() {
        let mut n = next_piece();
        if out.publishes.is_empty() {
            // A real publisher waits for NetStream.Publish.Start before it
            // sends media, and the session drops media that arrives before
            // the host accepts (see `pipelined_media_after_publish_is_kept`):
            // feed the commands byte by byte so the host answers at the exact
            // point where ffmpeg waited.
            n = if pos < HANDSHAKE_LEN {
                n.min(HANDSHAKE_LEN - pos)
            } else {
                1
            };
        }
        let n = n.clamp(1, input.len() - pos);
        let piece = &input[pos..pos + n];
        pos += n;
        step += 1;
        let now = start + Duration::from_micros(step);
        let result = session.handle_input(now, piece);
        while session.poll_transmit().is_some() {}
        let accepted = drain_events(&mut session, &mut streams, &mut out);
        let result = result.and(accepted);
        if let Err(e) = result {
            let text = e.to_string();
            assert!(
                !text.is_empty(),
                "session error with an empty message: {e:?}"
            );
            out.session_error = Some((variant_name(&format!("{e:?}")), text));
            break;
        }
        let buffered = session.buffered_bytes();
        out.max_buffered = out.max_buffered.max(buffered);
        assert!(
            buffered <= bound,
            "session buffers {buffered} bytes > bound {bound} (after {pos} input bytes)"
        );
    }
    session.close();
    while session.poll_transmit().is_some() {}
    let _ = drain_events(&mut session, &mut streams, &mut out);
    // Every publish ends in exactly one Unpublished, whatever the path (RTMP-CMD-07).
    assert_eq!(
        out.publishes.len(),
        out.unpublished.len(),
        "publishes without Unpublished (or the reverse): {:?} vs {:?}",
        out.publishes,
        out.unpublished
    );
    out
}

/// Acts on every event; accepting a publish decodes the input queued behind
/// it, so it can fail like `handle_input`: the first such error is returned.
fn drain_events(
    session: &mut Session,
    streams: &mut HashMap<u32, Stream>,
    out: &mut Replay,
) -> Result<(), SessionError> {
    let mut first_error = Ok(());
    while let Some(event) = session.poll_event() {
        match event {
            Event::Connected { app, .. } => out.connected.push(app),
            Event::PublishRequested(req) => {
                if let Err(e) = session.accept_publish(req.stream_id) {
                    if first_error.is_ok() {
                        first_error = Err(e);
                    }
                }
                streams.insert(
                    req.stream_id,
                    Stream {
                        demuxer: Demuxer::default(),
                        last_dts: HashMap::new(),
                    },
                );
                out.publishes.push((req.app, req.key, req.publish_type));
            }
            Event::Media {
                stream_id,
                kind,
                timestamp,
                payload,
            } => {
                out.media_messages += 1;
                let stream = streams.get_mut(&stream_id).unwrap_or_else(|| {
                    panic!("media on stream {stream_id} that was never accepted")
                });
                demux(stream, kind, timestamp, payload, out);
            }
            Event::Metadata { .. } => out.metadata += 1,
            Event::Unpublished { key, reason, .. } => out.unpublished.push((key, reason)),
        }
    }
    first_error
}

fn demux(stream: &mut Stream, kind: MediaKind, ts: u32, payload: Bytes, out: &mut Replay) {
    let result = match kind {
        MediaKind::Video => stream.demuxer.push_video(ts, payload),
        MediaKind::Audio => stream.demuxer.push_audio(ts, payload),
    };
    match result {
        Ok(None) => {}
        Ok(Some(DemuxEvent::VideoConfig { config, changed })) => {
            out.video_configs.push((config, changed));
        }
        Ok(Some(DemuxEvent::AudioConfig { config, changed })) => {
            out.audio_configs.push((config, changed));
        }
        Ok(Some(DemuxEvent::EndOfSequence(track))) => out.end_of_sequence.push(track),
        Ok(Some(DemuxEvent::Frame(frame))) => {
            let last = stream.last_dts.entry(frame.track).or_insert(i64::MIN);
            assert!(
                frame.dts_ms >= *last,
                "{:?} DTS went backwards: {} after {}",
                frame.track,
                frame.dts_ms,
                *last
            );
            *last = frame.dts_ms;
            // The composition offset is an SI24.
            let cto = frame.pts_ms - frame.dts_ms;
            assert!(
                (-(1 << 23)..(1 << 23)).contains(&cto),
                "CTO {cto} out of SI24 range"
            );
            out.frames.push(frame);
        }
        Err(e) => {
            let text = e.to_string();
            assert!(!text.is_empty(), "demux error with an empty message: {e:?}");
            out.demux_errors.push(text);
        }
    }
}

// ---------------------------------------------------------------------------
// Unmodified captures
// ---------------------------------------------------------------------------

fn check_capture(name: &str, capture: &[u8], exp: &Expected) -> Replay {
    let limits = Limits::default();
    let mut rng = SmallRng::seed_from_u64(7);
    let r = replay(capture, &limits, || 1 << rng.random_range(0..17));

    assert_eq!(r.session_error, None, "{name}");
    assert!(r.demux_errors.is_empty(), "{name}: {:?}", r.demux_errors);
    assert_eq!(r.connected, ["live"], "{name}");
    assert_eq!(
        r.publishes,
        [("live".into(), "fixture".into(), "live".into())],
        "{name}"
    );
    assert_eq!(
        r.unpublished,
        [("fixture".into(), UnpublishReason::FcUnpublish)],
        "{name}"
    );
    assert_eq!(r.metadata, 1, "{name}");

    // Video: one configuration, the frames ffprobe counts, one end of sequence.
    let video: Vec<&Frame> = r.frames_of(TrackKind::Video).collect();
    assert_eq!(video.len(), exp.video_frames, "{name}: video frames");
    let bytes: usize = video.iter().map(|f| f.data.len()).sum();
    assert_eq!(bytes, exp.video_bytes, "{name}: video bytes");
    let keys = video.iter().filter(|f| f.keyframe).count();
    assert_eq!(keys, exp.key_frames, "{name}: key frames");
    match exp.video_codec {
        None => {
            assert!(r.video_configs.is_empty(), "{name}");
            assert!(r.end_of_sequence.is_empty(), "{name}");
        }
        Some(codec) => {
            let [(VideoConfig::Avc(avc), false)] = r.video_configs.as_slice() else {
                panic!(
                    "{name}: expected one AVC configuration, got {:?}",
                    r.video_configs
                );
            };
            assert_eq!(avc.codec_string(), codec, "{name}");
            assert_eq!(
                (avc.sps_info.width, avc.sps_info.height),
                exp.size,
                "{name}"
            );
            assert_eq!(avc.nal_length_size, 4, "{name}");
            assert_eq!(r.end_of_sequence, [TrackKind::Video], "{name}");
            assert!(
                video[0].keyframe,
                "{name}: first video frame is not a key frame"
            );
            assert_eq!(video[0].dts_ms, exp.video_dts.0, "{name}");
            assert_eq!(video[video.len() - 1].dts_ms, exp.video_dts.1, "{name}");
            let ctos = video.iter().map(|f| f.pts_ms - f.dts_ms);
            let (lo, hi) = ctos.fold((i64::MAX, i64::MIN), |(lo, hi), c| (lo.min(c), hi.max(c)));
            assert_eq!((lo, hi), exp.cto_range, "{name}: PTS − DTS range");
            for w in video.windows(2) {
                // 30 fps: DTS advances by 33 or 34 ms.
                let step = w[1].dts_ms - w[0].dts_ms;
                assert!((33..=34).contains(&step), "{name}: video DTS step {step}");
            }
            // B-frames: PTS is not monotonic, but sorted it is 30 fps too.
            let mut pts: Vec<i64> = video.iter().map(|f| f.pts_ms).collect();
            pts.sort_unstable();
            pts.dedup();
            assert_eq!(pts.len(), video.len(), "{name}: duplicate PTS");
        }
    }

    // Audio: one AAC-LC configuration and the frames ffprobe counts.
    let [(AudioConfig::Aac(aac), false)] = r.audio_configs.as_slice() else {
        panic!(
            "{name}: expected one AAC configuration, got {:?}",
            r.audio_configs
        );
    };
    assert_eq!(aac.codec_string(), "mp4a.40.2", "{name}");
    assert_eq!(aac.sample_rate, exp.audio_rate, "{name}");
    assert_eq!(aac.channels, exp.audio_channels, "{name}");
    assert_eq!(aac.samples_per_frame, 1024, "{name}");
    let audio: Vec<&Frame> = r.frames_of(TrackKind::Audio).collect();
    assert_eq!(audio.len(), exp.audio_frames, "{name}: audio frames");
    let bytes: usize = audio.iter().map(|f| f.data.len()).sum();
    assert_eq!(bytes, exp.audio_bytes, "{name}: audio bytes");
    assert!(audio.iter().all(|f| f.keyframe && f.pts_ms == f.dts_ms));
    assert_eq!(audio[0].dts_ms, exp.audio_dts.0, "{name}");
    assert_eq!(audio[audio.len() - 1].dts_ms, exp.audio_dts.1, "{name}");
    // 1024 samples per frame: 21.33 ms at 48 kHz, 23.2 ms at 44.1 kHz.
    let frame_ms = 1024.0 * 1000.0 / f64::from(exp.audio_rate);
    for w in audio.windows(2) {
        let step = (w[1].dts_ms - w[0].dts_ms) as f64;
        assert!(
            (step - frame_ms).abs() <= 1.0,
            "{name}: audio DTS step {step}"
        );
    }
    assert!(r.frames.iter().all(|f| !f.discontinuity), "{name}");

    // Incomplete chunks never wait in the input buffer longer than a chunk.
    assert!(
        r.max_buffered < 64 * 1024,
        "{name}: {} bytes buffered",
        r.max_buffered
    );
    r
}

/// Replays are independent of how the bytes are split into reads.
fn check_split_independence(name: &str, capture: &[u8], reference: &Replay) {
    let limits = Limits::default();
    for (how, piece) in [("one-shot", usize::MAX), ("1-byte", 1)] {
        let mut other = replay(capture, &limits, || piece);
        // Only the buffering high-water mark depends on the read sizes.
        other.max_buffered = reference.max_buffered;
        assert!(other == *reference, "{name}: {how} replay differs");
    }
}

#[test]
fn h264_aac_capture_gives_ffprobe_counts() {
    let r = check_capture("ffmpeg-h264-aac", H264_AAC, &H264_AAC_EXPECTED);
    check_split_independence("ffmpeg-h264-aac", H264_AAC, &r);
}

#[test]
fn capture_720p_gives_ffprobe_counts() {
    let r = check_capture("ffmpeg-720p", P720, &P720_EXPECTED);
    // 720p key frames span several chunks: all reassembled by the session.
    assert!(r.frames.iter().any(|f| f.data.len() > 4096));
}

#[test]
fn audio_only_capture_gives_ffprobe_counts() {
    let r = check_capture("ffmpeg-audio-only", AUDIO_ONLY, &AUDIO_ONLY_EXPECTED);
    check_split_independence("ffmpeg-audio-only", AUDIO_ONLY, &r);
}

/// A client that does not wait for `NetStream.Publish.Start` (or any read
/// that holds the `publish` command and the first media messages) loses
/// those messages, sequence headers included: `handle_input` runs on past the
/// `publish` command while the stream is still pending, and media on a
/// pending stream is dropped. ffmpeg and OBS wait, so live publishes work;
/// this replays the capture in one read.
#[test]
fn pipelined_media_after_publish_is_kept() {
    let mut session = Session::new(SessionConfig::default(), Instant::now());
    let result = session.handle_input(Instant::now(), H264_AAC);
    assert!(result.is_ok(), "{result:?}");
    let mut media = 0;
    while let Some(event) = session.poll_event() {
        match event {
            Event::PublishRequested(req) => session.accept_publish(req.stream_id).unwrap(),
            Event::Media { .. } => media += 1,
            _ => {}
        }
    }
    assert_eq!(media, 122 + 190);
}

/// The chunk walker the mutator relies on agrees with the session's count.
#[test]
fn chunk_walker_finds_every_message() {
    for (capture, video, audio) in [(H264_AAC, 122, 190), (AUDIO_ONLY, 0, 175)] {
        let chunks = walk_chunks(capture);
        let starts = |ty: u8| {
            chunks
                .iter()
                .filter(|c| c.starts_message && c.type_id == ty)
                .count()
        };
        assert_eq!(starts(9), video);
        assert_eq!(starts(8), audio);
        assert_eq!(starts(1), 1, "one Set Chunk Size from ffmpeg");
        let r = replay(capture, &Limits::default(), || usize::MAX);
        assert_eq!(r.media_messages, video + audio);
    }
}

// ---------------------------------------------------------------------------
// Chunk walker: where the chunk headers of a clean capture are
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct ChunkHeader {
    offset: usize,
    fmt: u8,
    /// Length of the basic header (1..=3).
    basic_len: usize,
    starts_message: bool,
    type_id: u8,
    /// The peer's chunk size in force for this chunk.
    chunk_size: usize,
}

fn be(b: &[u8]) -> usize {
    b.iter().fold(0, |acc, x| acc << 8 | usize::from(*x))
}

/// Walks the chunk stream of a clean ffmpeg capture (no extended timestamps).
fn walk_chunks(data: &[u8]) -> Vec<ChunkHeader> {
    #[derive(Default)]
    struct Cs {
        len: usize,
        type_id: u8,
        remaining: usize,
    }
    let mut out = Vec::new();
    let mut streams: HashMap<u32, Cs> = HashMap::new();
    let mut chunk_size = 128usize;
    let mut pos = HANDSHAKE_LEN;
    while pos < data.len() {
        let b0 = data[pos];
        let fmt = b0 >> 6;
        let (csid, basic_len) = match b0 & 0x3f {
            0 => (u32::from(data[pos + 1]) + 64, 2),
            1 => (
                u32::from(data[pos + 2]) * 256 + u32::from(data[pos + 1]) + 64,
                3,
            ),
            n => (u32::from(n), 1),
        };
        let h = pos + basic_len;
        let cs = streams.entry(csid).or_default();
        if fmt <= 1 {
            cs.len = be(&data[h + 3..h + 6]);
            cs.type_id = data[h + 6];
        }
        if fmt <= 2 {
            assert_ne!(
                be(&data[h..h + 3]),
                0xff_ffff,
                "extended timestamp in capture"
            );
        }
        let header_len = basic_len + [11, 7, 3, 0][usize::from(fmt)];
        let starts_message = cs.remaining == 0;
        if starts_message {
            cs.remaining = cs.len;
        }
        let take = cs.remaining.min(chunk_size);
        let payload = pos + header_len;
        let size_in_force = chunk_size;
        if starts_message && cs.type_id == 1 && take == cs.len {
            chunk_size = be(&data[payload..payload + 4]);
        }
        cs.remaining -= take;
        out.push(ChunkHeader {
            offset: pos,
            fmt,
            basic_len,
            starts_message,
            type_id: cs.type_id,
            chunk_size: size_in_force,
        });
        pos = payload + take;
    }
    assert_eq!(pos, data.len(), "capture does not end on a chunk boundary");
    out
}

// ---------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------

/// Printed (Debug) when a case fails, so it can be reproduced by reading.
#[derive(Clone, Debug)]
#[allow(dead_code)]
enum Mutation {
    BitFlips {
        at: usize,
        bits: Vec<u8>,
    },
    Overwrite {
        at: usize,
        bytes: Vec<u8>,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Truncate {
        at: usize,
    },
    Duplicate {
        from: usize,
        len: usize,
        to: usize,
    },
    /// Overwrite one field of a chunk header of the clean capture.
    HeaderField {
        chunk: usize,
        field: &'static str,
        at: usize,
        bytes: Vec<u8>,
    },
    /// Insert a whole protocol message (fmt 0, one chunk) before a chunk.
    InjectMessage {
        before_chunk: usize,
        csid: u8,
        type_id: u8,
        payload: Vec<u8>,
    },
    /// Before a chunk, start a large message on each of `streams` new chunk
    /// streams and send `rounds` chunks of each, interleaved, never finishing
    /// them: reassembly and chunk-stream limits.
    PartialFlood {
        before_chunk: usize,
        streams: u8,
        rounds: u8,
        length: u32,
    },
}

/// Set Chunk Size values around every boundary the decoder checks.
const CHUNK_SIZES: [u32; 16] = [
    0,
    1,
    31,
    32,
    33,
    127,
    128,
    129,
    4096,
    65_536,
    0x00ff_fffe,
    0x00ff_ffff,
    0x0100_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
];

/// 24-bit message lengths around the limits.
fn interesting_length(rng: &mut SmallRng, current: usize, limits: &Limits) -> u32 {
    let max = limits.max_message_size;
    match rng.random_range(0..10) {
        0 => 0,
        1 => 1,
        2 => 0x00ff_ffff,
        3 => max,
        4 => max.saturating_add(1).min(0x00ff_ffff),
        5 => (current as u32).saturating_add(1),
        6 => (current as u32).saturating_sub(1),
        7 => (current as u32).saturating_mul(2).min(0x00ff_ffff),
        8 => (limits.max_reassembly_bytes as u32).min(0x00ff_ffff),
        _ => rng.random_range(0..=0x00ff_ffff),
    }
}

fn random_bytes(rng: &mut SmallRng, len: usize) -> Vec<u8> {
    const SPECIAL: [u8; 8] = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x03, 0xc3, 0x02];
    (0..len)
        .map(|_| {
            if rng.random_bool(0.3) {
                SPECIAL[rng.random_range(0..SPECIAL.len())]
            } else {
                rng.random()
            }
        })
        .collect()
}

/// A position biased toward the handshake, commands and sequence headers
/// (the first few KiB of the chunk stream), where most parsing happens.
fn position(rng: &mut SmallRng, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    if rng.random_bool(0.35) {
        rng.random_range(0..len.min(HANDSHAKE_LEN + 6 * 1024))
    } else {
        rng.random_range(0..len)
    }
}

fn pick_mutation(
    rng: &mut SmallRng,
    data: &[u8],
    chunks: &[ChunkHeader],
    limits: &Limits,
) -> Mutation {
    let len = data.len();
    // Headers of the first few KiB (commands, sequence headers) half the time.
    let chunk_index = |rng: &mut SmallRng| {
        let early = chunks
            .iter()
            .take_while(|c| c.offset < HANDSHAKE_LEN + 6 * 1024)
            .count();
        if rng.random_bool(0.5) && early > 0 {
            rng.random_range(0..early)
        } else {
            rng.random_range(0..chunks.len())
        }
    };
    match rng.random_range(0..100) {
        0..=14 => {
            let at = position(rng, len);
            let n = rng.random_range(1..=8);
            let bits = (0..n).map(|_| rng.random_range(0..64)).collect();
            Mutation::BitFlips { at, bits }
        }
        15..=29 => {
            let at = position(rng, len);
            let n = 1 << rng.random_range(0..5);
            Mutation::Overwrite {
                at,
                bytes: random_bytes(rng, n),
            }
        }
        30..=39 => {
            let at = position(rng, len);
            let n = rng.random_range(1..=64);
            Mutation::Insert {
                at,
                bytes: random_bytes(rng, n),
            }
        }
        40..=47 => Mutation::Delete {
            at: position(rng, len),
            len: 1 << rng.random_range(0..9),
        },
        48..=52 => Mutation::Truncate {
            at: position(rng, len),
        },
        53..=59 => Mutation::Duplicate {
            from: position(rng, len),
            len: 1 << rng.random_range(0..14),
            to: position(rng, len),
        },
        60..=84 => {
            let i = chunk_index(rng);
            let c = chunks[i];
            let h = c.offset + c.basic_len;
            let (field, at, bytes) = match (c.fmt, rng.random_range(0..8)) {
                (0 | 1, 0..=2) => {
                    let current = data.get(h + 3..h + 6).map(be).unwrap_or(0);
                    let l = interesting_length(rng, current, limits);
                    ("length", h + 3, l.to_be_bytes()[1..].to_vec())
                }
                (0 | 1, 3) => ("type id", h + 6, vec![rng.random_range(0..=24)]),
                (0, 4) => ("msid", h + 7, random_bytes(rng, 4)),
                (0..=2, 5) => ("timestamp", h, vec![0xff, 0xff, 0xff]),
                (_, 6) => {
                    // Another fmt on the same csid: the header length changes.
                    let b0 = data.get(c.offset).copied().unwrap_or(0);
                    let fmt = rng.random_range(0..4u8);
                    ("fmt", c.offset, vec![(fmt << 6) | (b0 & 0x3f)])
                }
                _ => {
                    let b0 = data.get(c.offset).copied().unwrap_or(0);
                    let csid = rng.random_range(0..64u8);
                    ("csid", c.offset, vec![(b0 & 0xc0) | csid])
                }
            };
            Mutation::HeaderField {
                chunk: i,
                field,
                at,
                bytes,
            }
        }
        85..=89 => Mutation::PartialFlood {
            before_chunk: chunk_index(rng),
            streams: rng.random_range(1..=40),
            rounds: rng.random_range(1..=6),
            length: interesting_length(rng, 200_000, limits),
        },
        _ => {
            let before_chunk = chunk_index(rng);
            let (type_id, payload) = match rng.random_range(0..10) {
                0..=5 => {
                    let size = if rng.random_bool(0.8) {
                        CHUNK_SIZES[rng.random_range(0..CHUNK_SIZES.len())]
                    } else {
                        rng.random()
                    };
                    (1, size.to_be_bytes().to_vec())
                }
                // Abort on a random csid (maybe the one mid-message).
                6 => (
                    2,
                    u32::from(rng.random_range(2..8u8)).to_be_bytes().to_vec(),
                ),
                // Window Ack Size 0..
                7 => (5, rng.random_range(0..4u32).to_be_bytes().to_vec()),
                _ => {
                    let n = rng.random_range(0..48);
                    (rng.random_range(0..=24), random_bytes(rng, n))
                }
            };
            Mutation::InjectMessage {
                before_chunk,
                csid: if rng.random_bool(0.7) {
                    2
                } else {
                    rng.random_range(2..64)
                },
                type_id,
                payload,
            }
        }
    }
}

/// Applies `m` and returns the offset where the input first differs.
fn apply(m: &Mutation, data: &mut Vec<u8>, chunks: &[ChunkHeader]) -> usize {
    let len = data.len();
    match m {
        Mutation::BitFlips { at, bits } => {
            for b in bits {
                let i = (at + usize::from(*b / 8)).min(len.saturating_sub(1));
                if let Some(x) = data.get_mut(i) {
                    *x ^= 1 << (b % 8);
                }
            }
            *at
        }
        Mutation::Overwrite { at, bytes } | Mutation::HeaderField { at, bytes, .. } => {
            for (i, b) in bytes.iter().enumerate() {
                if let Some(x) = data.get_mut(at + i) {
                    *x = *b;
                }
            }
            *at
        }
        Mutation::Insert { at, bytes } => {
            let at = (*at).min(len);
            data.splice(at..at, bytes.iter().copied());
            at
        }
        Mutation::Delete { at, len: n } => {
            let at = (*at).min(len);
            data.drain(at..(at + n).min(len));
            at
        }
        Mutation::Truncate { at } => {
            data.truncate(*at);
            *at
        }
        Mutation::Duplicate { from, len: n, to } => {
            let from = (*from).min(len);
            let range: Vec<u8> = data[from..(from + n).min(len)].to_vec();
            let to = (*to).min(len);
            data.splice(to..to, range);
            to
        }
        Mutation::InjectMessage {
            before_chunk,
            csid,
            type_id,
            payload,
        } => {
            let at = chunks.get(*before_chunk).map_or(len, |c| c.offset).min(len);
            let l = payload.len() as u32;
            let mut msg = vec![*csid & 0x3f, 0, 0, 0];
            msg.extend_from_slice(&l.to_be_bytes()[1..]);
            msg.push(*type_id);
            msg.extend_from_slice(&[0, 0, 0, 0]);
            msg.extend_from_slice(payload);
            data.splice(at..at, msg);
            at
        }
        Mutation::PartialFlood {
            before_chunk,
            streams,
            rounds,
            length,
        } => {
            let (at, chunk_size) = chunks
                .get(*before_chunk)
                .map_or((len, 128), |c| (c.offset, c.chunk_size));
            let at = at.min(len);
            let length = *length as usize;
            let mut flood = Vec::new();
            for round in 0..usize::from(*rounds) {
                for k in 0..*streams {
                    // csids 20.. (2-byte basic headers from 64 on).
                    let csid = 20 + u32::from(k);
                    let basic: Vec<u8> = if csid < 64 {
                        vec![csid as u8]
                    } else {
                        vec![0, (csid - 64) as u8]
                    };
                    let sent = round * chunk_size;
                    if sent >= length {
                        continue;
                    }
                    if round == 0 {
                        flood.extend(basic.iter().map(|b| b & 0x3f));
                        flood.extend_from_slice(&[0, 0, 0]);
                        flood.extend_from_slice(&(length as u32).to_be_bytes()[1..]);
                        flood.extend_from_slice(&[9, 1, 0, 0, 0]);
                    } else {
                        flood.push(basic[0] | 0xc0);
                        flood.extend_from_slice(&basic[1..]);
                    }
                    let n = (length - sent).min(chunk_size);
                    flood.extend(std::iter::repeat_n(0x27, n));
                }
            }
            data.splice(at..at, flood);
            at
        }
    }
}

struct Corpus {
    name: &'static str,
    data: &'static [u8],
    chunks: Vec<ChunkHeader>,
    /// Relative frequency.
    weight: u32,
}

#[derive(Default)]
struct Tally {
    cases: usize,
    bytes_fed: usize,
    clean_end: usize,
    with_frames: usize,
    session_errors: HashMap<String, usize>,
    demux_errors: usize,
    max_buffered: usize,
}

fn seed_from_env() -> u64 {
    match std::env::var("WEIR_MUTATION_SEED") {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("WEIR_MUTATION_SEED={s:?}: {e}"))
        }
        Err(_) => DEFAULT_SEED,
    }
}

fn cases_from_env() -> usize {
    std::env::var("WEIR_MUTATION_CASES")
        .ok()
        .map(|s| {
            s.trim()
                .parse()
                .expect("WEIR_MUTATION_CASES must be a number")
        })
        .unwrap_or(DEFAULT_CASES)
}

/// Checklist §8 case 61 (DEVELOPERS.md: garbage gives a clear error, never a
/// panic, hang or unbounded memory).
#[test]
fn mutated_captures_never_panic_hang_or_grow() {
    let seed = seed_from_env();
    let cases = cases_from_env();
    println!("mutation seed {seed:#x} ({cases} cases); replay with WEIR_MUTATION_SEED={seed:#x}");

    let progress = Arc::new(AtomicUsize::new(0));
    let worker_progress = Arc::clone(&progress);
    let worker = std::thread::spawn(move || run_mutations(seed, cases, &worker_progress));

    // Watchdog: a case that stops making progress is a hang.
    const STALL: Duration = Duration::from_secs(30);
    let mut last = (0, Instant::now());
    while !worker.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
        let done = progress.load(Ordering::Relaxed);
        if done != last.0 {
            last = (done, Instant::now());
        } else if last.1.elapsed() > STALL {
            panic!("mutation case {done} (seed {seed:#x}) made no progress for {STALL:?}: hang");
        }
    }
    let tally = match worker.join() {
        Ok(t) => t,
        Err(panic) => resume_unwind(panic),
    };
    assert_eq!(tally.cases, cases);
    // The mutations must reach the media path, not just break the handshake.
    assert!(
        tally.with_frames * 2 > cases,
        "only {} of {cases} cases produced frames",
        tally.with_frames
    );
    assert!(
        tally.clean_end * 10 > cases,
        "too few cases survive to the end"
    );
}

fn run_mutations(seed: u64, cases: usize, progress: &AtomicUsize) -> Tally {
    let started = Instant::now();
    let corpora = [
        Corpus {
            name: "ffmpeg-h264-aac",
            data: H264_AAC,
            chunks: walk_chunks(H264_AAC),
            weight: 14,
        },
        Corpus {
            name: "ffmpeg-audio-only",
            data: AUDIO_ONLY,
            chunks: walk_chunks(AUDIO_ONLY),
            weight: 5,
        },
        Corpus {
            name: "ffmpeg-720p",
            data: P720,
            chunks: walk_chunks(P720),
            weight: 1,
        },
    ];
    let total_weight: u32 = corpora.iter().map(|c| c.weight).sum();
    let tight = Limits {
        max_message_size: 64 * 1024,
        max_reassembly_bytes: 48 * 1024,
        max_chunk_streams: 16,
        ..Limits::default()
    };
    let default = Limits::default();

    let mut rng = SmallRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    for case in 0..cases {
        let mut pick = rng.random_range(0..total_weight);
        let corpus = corpora
            .iter()
            .find(|c| {
                let hit = pick < c.weight;
                pick = pick.saturating_sub(c.weight);
                hit
            })
            .unwrap_or(&corpora[0]);
        // 720p key frames (27 KiB) fit the tight limits too.
        let limits = if rng.random_bool(0.75) {
            &tight
        } else {
            &default
        };
        let mut data = corpus.data.to_vec();
        let count = [1, 1, 1, 1, 2, 2, 3, 5][rng.random_range(0..8)];
        let mut mutations = Vec::with_capacity(count);
        let mut first_change = usize::MAX;
        for _ in 0..count {
            let m = pick_mutation(&mut rng, &data, &corpus.chunks, limits);
            first_change = first_change.min(apply(&m, &mut data, &corpus.chunks));
            mutations.push(m);
        }
        // Half the cases stop some way after the damage: what follows a
        // mutation matters more than replaying the clean tail every time.
        if rng.random_bool(0.5) {
            let keep = first_change.saturating_add(rng.random_range(0..64 * 1024));
            data.truncate(keep);
        }
        let piece_seed: u64 = rng.random();
        let mut pieces = SmallRng::seed_from_u64(piece_seed);
        let max_exp = rng.random_range(0..17);

        let outcome = catch_unwind(AssertUnwindSafe(|| {
            replay(&data, limits, || 1 << pieces.random_range(0..=max_exp))
        }));
        let r = match outcome {
            Ok(r) => r,
            Err(panic) => {
                let path = std::env::temp_dir().join(format!("weir-mutation-{seed:x}-{case}.rtmp"));
                let saved = std::fs::write(&path, &data).is_ok();
                eprintln!(
                    "mutation case {case} of seed {seed:#x} panicked: corpus {}, limits {}, \
                     piece sizes ≤ 2^{max_exp} (seed {piece_seed:#x}), mutations {mutations:?}; \
                     input {}",
                    corpus.name,
                    if std::ptr::eq(limits, &tight) {
                        "tight"
                    } else {
                        "default"
                    },
                    if saved {
                        path.display().to_string()
                    } else {
                        "not saved".into()
                    },
                );
                resume_unwind(panic);
            }
        };
        tally.cases += 1;
        tally.bytes_fed += data.len();
        tally.max_buffered = tally.max_buffered.max(r.max_buffered);
        tally.demux_errors += r.demux_errors.len();
        if !r.frames.is_empty() {
            tally.with_frames += 1;
        }
        match r.session_error {
            None => tally.clean_end += 1,
            Some((variant, _)) => *tally.session_errors.entry(variant).or_default() += 1,
        }
        progress.store(case + 1, Ordering::Relaxed);
    }
    let elapsed = started.elapsed();
    let mut errors: Vec<_> = tally.session_errors.iter().collect();
    errors.sort_by(|a, b| b.1.cmp(a.1));
    println!(
        "{} cases, {:.1} MB fed in {elapsed:.2?}: {} ran to the end, {} produced frames, \
         {} demux errors, max buffered {} B; session errors {errors:?}",
        tally.cases,
        tally.bytes_fed as f64 / 1e6,
        tally.clean_end,
        tally.with_frames,
        tally.demux_errors,
        tally.max_buffered,
    );
    tally
}
