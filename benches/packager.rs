//! Packaging cost per frame on a recorded ffmpeg publish (1280x720 30 fps,
//! 1.5 Mbit/s + AAC, 4 s: `tests/fixtures/ffmpeg-720p.rtmp`, 120 video and
//! 189 audio frames).
//!
//! ```text
//! cargo bench --bench packager
//! ```
//!
//! The capture is decoded once, outside anything measured, with a
//! `weir_rtmp::Session` (the publish is accepted where ffmpeg waited for
//! it) into its media messages (kind, wire timestamp, payload). Then:
//!
//! * `demux+package`: a fresh `weir_flv::Demuxer` and
//!   `weir_packager::stream::StreamPackager` (default `PackagerConfig`: 2 s
//!   segments, 500 ms chunks, window 6) over every message, draining
//!   `poll_event` after each push, and `end()` at the end (so the last
//!   segment is written too).
//! * `package`: the same `StreamPackager` work over frames demuxed once
//!   beforehand (the packager alone).
//! * `demux+package+playlists`: `demux+package` plus what the host does
//!   after each segment (`weir_packager::manifests`, without the MPD): `target_duration`, the
//!   `TrackView`s and the three playlists written to strings.
//! * `demux+package_x10`: the capture replayed 10 times back to back with
//!   its timestamps shifted (40 s, 20 video segments, so the live window
//!   slides and `Removed` events occur): steady state rather than the first
//!   4 s of a stream.
//!
//! Criterion reports frames/s (`Throughput::Elements`, frames = demuxed
//! `Frame` events, audio and video). The summary printed at the end gives,
//! for each variant, ns per frame (median of 50 timed runs) and, from one
//! separate untimed pass after a warm-up pass, the heap allocations per
//! frame counted by the counting global allocator below (a wrapper around
//! `std::alloc::System`; its two relaxed atomic adds per allocation are
//! in the timed figures too).
//!
//! `now` is one `SystemTime` taken before the loop (the host calls
//! `SystemTime::now()` per frame; that is not packager work).
//!
//! Under `cargo test` (no `--bench` argument) criterion runs each variant
//! once as a smoke test and the summary is skipped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use weir_flv::{DemuxEvent, Demuxer};
use weir_packager::hls::{write_media, write_multivariant};
use weir_packager::names::InstanceId;
use weir_packager::playlists::{media_playlist, multivariant, LowLatency};
use weir_packager::stream::{InstanceStart, PackagerConfig, PackagerEvent, StreamPackager};
use weir_rtmp::{Event, MediaKind, Session, SessionConfig};

// ---------------------------------------------------------------------------
// Counting allocator
// ---------------------------------------------------------------------------

/// `System`, counting calls and bytes requested.
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static REALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size(), Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size(), Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        REALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size.saturating_sub(layout.size()), Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone, Copy, Debug, Default)]
struct AllocCount {
    allocs: usize,
    reallocs: usize,
    bytes: usize,
}

/// Heap activity of one call of `f` (single-threaded: nothing else runs).
fn count_allocs<T>(f: impl FnOnce() -> T) -> (T, AllocCount) {
    let a0 = ALLOCS.load(Relaxed);
    let r0 = REALLOCS.load(Relaxed);
    let b0 = BYTES.load(Relaxed);
    let out = f();
    let count = AllocCount {
        allocs: ALLOCS.load(Relaxed) - a0,
        reallocs: REALLOCS.load(Relaxed) - r0,
        bytes: BYTES.load(Relaxed) - b0,
    };
    (out, count)
}

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

const CAPTURE: &[u8] = include_bytes!("../tests/fixtures/ffmpeg-720p.rtmp");
const READ_SIZE: usize = 64 * 1024;
/// Times the capture is replayed in the `_x10` variant.
const LOOPS: u32 = 10;

#[derive(Clone)]
struct Message {
    kind: MediaKind,
    timestamp: u32,
    payload: Bytes,
}

/// Every media message of the capture, in order, through a `Session` that
/// accepts the publish.
fn media_messages() -> Vec<Message> {
    let now = Instant::now();
    let mut session = Session::new(SessionConfig::default(), now);
    let mut messages = Vec::new();
    for read in CAPTURE.chunks(READ_SIZE) {
        let result = session.handle_input(now, read);
        while session.poll_transmit().is_some() {}
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
                } => messages.push(Message {
                    kind,
                    timestamp,
                    payload,
                }),
                _ => {}
            }
        }
        result.expect("the capture replays cleanly");
    }
    session.close();
    assert!(!messages.is_empty(), "the capture has media");
    messages
}

/// The capture `loops` times, each copy shifted past the previous one by
/// its span plus one video frame (so both tracks stay monotonic; the
/// sequence headers repeat, which the demuxer ignores as unchanged).
fn looped(messages: &[Message], loops: u32) -> Vec<Message> {
    let last = messages.iter().map(|m| m.timestamp).max().unwrap_or(0);
    let period = last + 34;
    (0..loops)
        .flat_map(|i| {
            messages.iter().map(move |m| Message {
                timestamp: m.timestamp + i * period,
                ..m.clone()
            })
        })
        .collect()
}

fn demux(demuxer: &mut Demuxer, m: &Message) -> Option<DemuxEvent> {
    let r = match m.kind {
        MediaKind::Video => demuxer.push_video(m.timestamp, m.payload.clone()),
        MediaKind::Audio => demuxer.push_audio(m.timestamp, m.payload.clone()),
    };
    r.ok().flatten()
}

/// The demuxer's events for `messages` (for the packager-only variant).
fn demuxed(messages: &[Message]) -> Vec<DemuxEvent> {
    let mut demuxer = Demuxer::default();
    messages
        .iter()
        .filter_map(|m| demux(&mut demuxer, m))
        .collect()
}

fn frame_count(events: &[DemuxEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, DemuxEvent::Frame(_)))
        .count()
}

// ---------------------------------------------------------------------------
// Measured work
// ---------------------------------------------------------------------------

/// What came out, so nothing is optimised away and the runs can be checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Out {
    inits: usize,
    segments: usize,
    removed: usize,
    segment_bytes: usize,
    playlist_bytes: usize,
}

fn drain(p: &mut StreamPackager, out: &mut Out) -> bool {
    let mut any = false;
    while let Some(ev) = p.poll_event() {
        any = true;
        match ev {
            PackagerEvent::Init { bytes, .. } => {
                out.inits += 1;
                black_box(bytes);
            }
            PackagerEvent::Segment { bytes, .. } => {
                out.segments += 1;
                out.segment_bytes += bytes.len();
                black_box(bytes);
            }
            PackagerEvent::Part { bytes, .. } => {
                black_box(bytes);
            }
            PackagerEvent::Removed { name, .. } => {
                out.removed += 1;
                black_box(name);
            }
        }
    }
    any
}

/// The playlists the host renders after events (`weir_packager::manifests`
/// writes these and the MPD): every media playlist and the multivariant one.
fn playlists(p: &mut StreamPackager, out: &mut Out) {
    let Some(target) = p.target_duration() else {
        return;
    };
    let ended = p.is_ended();
    let views = p.tracks();
    let ll = p.config().low_latency.then(|| LowLatency {
        part_target: p.config().part_target(),
    });
    for view in &views {
        let others: Vec<_> = views.iter().filter(|o| o.id != view.id).collect();
        if let Ok(text) = write_media(&media_playlist(view, target, ended, ll, &others)) {
            out.playlist_bytes += text.len();
            black_box(text);
        }
    }
    if let Ok(text) = write_multivariant(&multivariant(&views)) {
        out.playlist_bytes += text.len();
        black_box(text);
    }
}

/// One stream instance, as the registry would start it.
fn start() -> InstanceStart {
    InstanceStart::new(InstanceId::from_millis(1_796_000_000_123))
}

fn demux_package(messages: &[Message], with_playlists: bool, now: SystemTime) -> Out {
    let mut demuxer = Demuxer::default();
    let mut p = StreamPackager::new(PackagerConfig::default(), start());
    let mut out = Out::default();
    for m in messages {
        if let Some(ev) = demux(&mut demuxer, m) {
            p.push(&ev, now).expect("packaging succeeds");
            if drain(&mut p, &mut out) && with_playlists {
                playlists(&mut p, &mut out);
            }
        }
    }
    p.end().expect("end succeeds");
    if drain(&mut p, &mut out) && with_playlists {
        playlists(&mut p, &mut out);
    }
    out
}

fn package(events: &[DemuxEvent], now: SystemTime) -> Out {
    let mut p = StreamPackager::new(PackagerConfig::default(), start());
    let mut out = Out::default();
    for ev in events {
        p.push(ev, now).expect("packaging succeeds");
        drain(&mut p, &mut out);
    }
    p.end().expect("end succeeds");
    drain(&mut p, &mut out);
    out
}

// ---------------------------------------------------------------------------
// Criterion and summary
// ---------------------------------------------------------------------------

struct Inputs {
    messages: Vec<Message>,
    events: Vec<DemuxEvent>,
    looped: Vec<Message>,
    frames: usize,
    looped_frames: usize,
    now: SystemTime,
}

fn inputs() -> Inputs {
    let messages = media_messages();
    let events = demuxed(&messages);
    let looped = looped(&messages, LOOPS);
    let frames = frame_count(&events);
    let looped_frames = frame_count(&demuxed(&looped));
    Inputs {
        messages,
        events,
        looped,
        frames,
        looped_frames,
        now: SystemTime::now(),
    }
}

fn packager(c: &mut Criterion) {
    let inp = inputs();
    let now = inp.now;
    let mut group = c.benchmark_group("packager_720p");
    group.throughput(Throughput::Elements(inp.frames as u64));
    group.bench_function("demux+package", |b| {
        b.iter(|| demux_package(black_box(&inp.messages), false, now))
    });
    group.bench_function("package", |b| {
        b.iter(|| package(black_box(&inp.events), now))
    });
    group.bench_function("demux+package+playlists", |b| {
        b.iter(|| demux_package(black_box(&inp.messages), true, now))
    });
    group.throughput(Throughput::Elements(inp.looped_frames as u64));
    group.bench_function("demux+package_x10", |b| {
        b.iter(|| demux_package(black_box(&inp.looped), false, now))
    });
    group.finish();
    if std::env::args().any(|a| a == "--bench") {
        summary(&inp);
    }
}

/// Median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut t: Vec<Duration> = (0..runs).map(|_| f()).collect();
    t.sort_unstable();
    t.get(runs / 2).copied().unwrap_or_default()
}

fn summary(inp: &Inputs) {
    let now = inp.now;
    type Run<'a> = Box<dyn Fn() -> Out + 'a>;
    let variants: [(&str, usize, usize, Run); 4] = [
        (
            "demux+package",
            inp.messages.len(),
            inp.frames,
            Box::new(|| demux_package(&inp.messages, false, now)),
        ),
        (
            "package",
            inp.events.len(),
            inp.frames,
            Box::new(|| package(&inp.events, now)),
        ),
        (
            "demux+package+playlists",
            inp.messages.len(),
            inp.frames,
            Box::new(|| demux_package(&inp.messages, true, now)),
        ),
        (
            "demux+package_x10",
            inp.looped.len(),
            inp.looped_frames,
            Box::new(|| demux_package(&inp.looped, false, now)),
        ),
    ];
    println!(
        "\npackager summary: {} media messages, {} frames ({} demux events) in 4.0 s of 1280x720 30 fps + AAC; x{LOOPS}: {} frames",
        inp.messages.len(),
        inp.frames,
        inp.events.len(),
        inp.looped_frames,
    );
    println!(
        "  {:<24} {:>9} {:>8} {:>11} {:>11} {:>11}  output",
        "variant", "µs/run", "ns/frame", "allocs/fr", "reallocs/fr", "alloc B/fr"
    );
    for (name, _inputs, frames, run) in variants {
        // Warm-up: the first clone of a payload `Bytes` may allocate its
        // shared header once; later passes only bump refcounts.
        let first = run();
        let (out, count) = count_allocs(&run);
        assert_eq!(first, out, "{name}: runs differ");
        let t = median(50, || {
            let start = Instant::now();
            black_box(run());
            start.elapsed()
        });
        let per = |n: usize| n as f64 / frames as f64;
        println!(
            "  {name:<24} {:>9.1} {:>8.0} {:>11.2} {:>11.2} {:>11.0}  {} init, {} segments ({} B), {} removed, {} B playlists; {} allocs + {} reallocs",
            t.as_secs_f64() * 1e6,
            t.as_secs_f64() * 1e9 / frames as f64,
            per(count.allocs),
            per(count.reallocs),
            per(count.bytes),
            out.inits,
            out.segments,
            out.segment_bytes,
            out.removed,
            out.playlist_bytes,
            count.allocs,
            count.reallocs,
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = packager
}
criterion_main!(benches);
