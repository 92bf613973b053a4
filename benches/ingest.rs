//! Ingest throughput on a recorded ffmpeg publish (1280x720 30 fps,
//! 1.5 Mbit/s + AAC, 4 s: `tests/fixtures/ffmpeg-720p.rtmp`).
//!
//! ```text
//! cargo bench --bench ingest
//! ```
//!
//! Variants, each reported as bytes/s (criterion `Throughput::Bytes`) and,
//! in the summary printed at the end, as ns per RTMP message:
//!
//! * `chunk_decoder`: `weir_rtmp::ChunkDecoder` alone over the chunk stream
//!   (everything after C2), applying Set Chunk Size as the session does.
//! * `chunk_decoder_128`: the same messages re-chunked at the default chunk
//!   size of 128 bytes (clients that never send Set Chunk Size): 32 times
//!   as many chunk headers per byte as ffmpeg's 4096.
//! * `chunk_decoder+flv_parse`: the same plus the stateless FLV parse
//!   (`weir_flv::parse_video` / `parse_audio`) of every media message.
//! * `session+demux`: the whole sans-IO path from the first C0 byte: a
//!   `weir_rtmp::Session` fed 64 KiB reads (handshake, commands, acks, events;
//!   the publish is accepted where ffmpeg waited for it) and a
//!   `weir_flv::Demuxer` for every media event.
//!
//! Under `cargo test` (no `--bench` argument) criterion runs each variant
//! once as a smoke test and the summary is skipped.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use weir_flv::{parse_audio, parse_video, Demuxer};
use weir_rtmp::{ChunkDecoder, ChunkEncoder, Event, Limits, MediaKind, Session, SessionConfig};

const CAPTURE: &[u8] = include_bytes!("../tests/fixtures/ffmpeg-720p.rtmp");
/// C0 + C1 + C2.
const HANDSHAKE_LEN: usize = 1 + 1536 + 1536;
const READ_SIZE: usize = 64 * 1024;
const SET_CHUNK_SIZE: u8 = 1;
const AUDIO: u8 = 8;
const VIDEO: u8 = 9;

fn chunk_stream() -> &'static [u8] {
    CAPTURE.get(HANDSHAKE_LEN..).unwrap_or_default()
}

/// Decodes every message of `input`; with `parse`, parses the media ones.
/// Returns (messages, media tags parsed) so nothing is optimised away.
fn decode(limits: &Limits, mut input: BytesMut, parse: bool) -> (usize, usize) {
    let mut decoder = ChunkDecoder::new(limits);
    let mut messages = 0;
    let mut media = 0;
    while let Ok(Some(msg)) = decoder.decode(&mut input) {
        messages += 1;
        match msg.type_id {
            SET_CHUNK_SIZE => {
                if let Some(b) = msg.payload.get(..4) {
                    let size = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    let _ = decoder.set_chunk_size(size);
                }
            }
            VIDEO if parse => media += usize::from(black_box(parse_video(msg.payload)).is_ok()),
            AUDIO if parse => media += usize::from(black_box(parse_audio(msg.payload)).is_ok()),
            _ => {}
        }
    }
    assert!(input.is_empty(), "capture did not decode to the end");
    (messages, media)
}

/// The capture's messages re-encoded with 128-byte chunks (no Set Chunk Size).
fn rechunked_128() -> Vec<u8> {
    let mut decoder = ChunkDecoder::new(&Limits::default());
    let encoder = ChunkEncoder::default();
    let mut input = BytesMut::from(chunk_stream());
    let mut out = BytesMut::new();
    while let Ok(Some(msg)) = decoder.decode(&mut input) {
        if msg.type_id == SET_CHUNK_SIZE {
            if let Some(b) = msg.payload.get(..4) {
                let _ = decoder.set_chunk_size(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            }
            continue;
        }
        encoder.encode(
            msg.csid,
            msg.timestamp,
            msg.type_id,
            msg.stream_id,
            &msg.payload,
            &mut out,
        );
    }
    out.to_vec()
}

/// Byte offset just after the `publish` command: a real publisher waits for
/// `NetStream.Publish.Start` there, so the first read ends there too.
fn publish_offset() -> usize {
    let mut session = Session::new(SessionConfig::default(), Instant::now());
    for (i, b) in CAPTURE.iter().enumerate() {
        if session.handle_input(Instant::now(), &[*b]).is_err() {
            break;
        }
        while let Some(e) = session.poll_event() {
            if matches!(e, Event::PublishRequested(_)) {
                return i + 1;
            }
        }
    }
    panic!("the capture has no publish command");
}

/// The full path; returns (media messages, frames).
fn session_demux(publish_at: usize) -> (usize, usize) {
    let now = Instant::now();
    let mut session = Session::new(SessionConfig::default(), now);
    let mut demuxer = Demuxer::default();
    let (head, tail) = CAPTURE.split_at(publish_at);
    let mut media = 0;
    let mut frames = 0;
    for read in std::iter::once(head).chain(tail.chunks(READ_SIZE)) {
        let result = session.handle_input(now, read);
        while let Some(out) = session.poll_transmit() {
            black_box(out);
        }
        while let Some(event) = session.poll_event() {
            match event {
                Event::PublishRequested(req) => session
                    .accept_publish(req.stream_id)
                    .expect("the recorded publish is valid"),
                Event::Media {
                    kind,
                    timestamp,
                    payload,
                    ..
                } => {
                    media += 1;
                    let r = match kind {
                        MediaKind::Video => demuxer.push_video(timestamp, payload),
                        MediaKind::Audio => demuxer.push_audio(timestamp, payload),
                    };
                    if let Ok(Some(weir_flv::DemuxEvent::Frame(f))) = r {
                        frames += 1;
                        black_box(f);
                    }
                }
                other => {
                    black_box(other);
                }
            }
        }
        assert!(result.is_ok(), "{result:?}");
    }
    session.close();
    (media, frames)
}

struct Counts {
    messages: usize,
    media: usize,
    frames: usize,
    publish_at: usize,
}

fn counts() -> Counts {
    let limits = Limits::default();
    let (messages, parsed) = decode(&limits, BytesMut::from(chunk_stream()), true);
    let publish_at = publish_offset();
    let (media, frames) = session_demux(publish_at);
    assert_eq!(parsed, media, "every media message parses");
    Counts {
        messages,
        media,
        frames,
        publish_at,
    }
}

fn ingest(c: &mut Criterion) {
    let counts = counts();
    let limits = Limits::default();
    let stream = chunk_stream();
    let mut group = c.benchmark_group("ingest_720p");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("chunk_decoder", |b| {
        b.iter_batched(
            || BytesMut::from(stream),
            |input| decode(&limits, input, false),
            BatchSize::LargeInput,
        )
    });
    let small = rechunked_128();
    group.throughput(Throughput::Bytes(small.len() as u64));
    group.bench_function("chunk_decoder_128", |b| {
        b.iter_batched(
            || BytesMut::from(&small[..]),
            |input| decode(&limits, input, false),
            BatchSize::LargeInput,
        )
    });
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("chunk_decoder+flv_parse", |b| {
        b.iter_batched(
            || BytesMut::from(stream),
            |input| decode(&limits, input, true),
            BatchSize::LargeInput,
        )
    });
    group.throughput(Throughput::Bytes(CAPTURE.len() as u64));
    group.bench_function("session+demux", |b| {
        b.iter(|| session_demux(black_box(counts.publish_at)))
    });
    group.finish();
    if std::env::args().any(|a| a == "--bench") {
        summary(&counts, &limits, &small);
    }
}

/// Median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut t: Vec<Duration> = (0..runs).map(|_| f()).collect();
    t.sort_unstable();
    t.get(runs / 2).copied().unwrap_or_default()
}

/// MB/s and ns per message of each variant (median of 50 runs), so the
/// per-message cost is printed next to criterion's throughput.
fn summary(counts: &Counts, limits: &Limits, small: &[u8]) {
    let stream = chunk_stream();
    let timed_decode = |data: &[u8], parse: bool| {
        median(50, || {
            let input = BytesMut::from(data);
            let start = Instant::now();
            black_box(decode(limits, input, parse));
            start.elapsed()
        })
    };
    let rows = [
        (
            "chunk_decoder",
            timed_decode(stream, false),
            stream.len(),
            counts.messages,
        ),
        (
            "chunk_decoder_128",
            timed_decode(small, false),
            small.len(),
            counts.messages - 1,
        ),
        (
            "chunk_decoder+flv_parse",
            timed_decode(stream, true),
            stream.len(),
            counts.messages,
        ),
        (
            "session+demux",
            median(50, || {
                let start = Instant::now();
                black_box(session_demux(counts.publish_at));
                start.elapsed()
            }),
            CAPTURE.len(),
            counts.messages,
        ),
    ];
    println!(
        "\ningest summary: {} bytes, {} RTMP messages ({} media, {} frames), 4.0 s of 1280x720 30 fps",
        CAPTURE.len(),
        counts.messages,
        counts.media,
        counts.frames
    );
    for (name, t, bytes, messages) in rows {
        let secs = t.as_secs_f64();
        println!(
            "  {name:<24} {:>8.1} µs  {:>8.0} MB/s  {:>6.0} ns/message",
            secs * 1e6,
            bytes as f64 / secs / 1e6,
            secs * 1e9 / messages as f64
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = ingest
}
criterion_main!(benches);
