//! Golden files: what Weir serves for a one-video + one-audio stream, pinned
//! byte for byte (issue 13). A real ffmpeg FLV is fed through the demuxer
//! and the packager on a fake clock that follows the media; the manifests
//! are rendered after every event batch, as the host does. The snapshot
//! holds every file the packager made (name, size, FNV-1a of the bytes),
//! the digest of every manifest rendered along the way, and the full text
//! of the last manifests, live and ended. A change to any byte shows up as
//! a snapshot diff.

mod boxes_support;

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use weir_flv::Demuxer;
use weir_packager::manifests::{mpd_settings, render, Manifests};
use weir_packager::names::InstanceId;
use weir_packager::stream::{InstanceStart, PackagerConfig, PackagerEvent, StreamPackager};

use boxes_support::{read_flv, FIXTURE};

const INST: InstanceId = InstanceId::from_millis(1_796_000_000_123);

/// FNV-1a, 64 bits: stable across Rust versions, unlike `DefaultHasher`.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

struct Run {
    packager: StreamPackager,
    log: String,
    renders: u64,
    last: String,
}

impl Run {
    fn new(config: PackagerConfig) -> Self {
        Run {
            packager: StreamPackager::new(config, InstanceStart::new(INST)),
            log: String::new(),
            renders: 0,
            last: String::new(),
        }
    }

    /// Drain events into the log; render the manifests when anything changed.
    fn publish(&mut self, now: SystemTime) {
        let mut changed = self.packager.is_ended();
        while let Some(ev) = self.packager.poll_event() {
            changed = true;
            let _ = match ev {
                PackagerEvent::Init { name, bytes, .. } => {
                    writeln!(self.log, "init {name} {} {:016x}", bytes.len(), fnv(&bytes))
                }
                PackagerEvent::Segment { info, bytes, .. } => writeln!(
                    self.log,
                    "segment {} {} {:016x} t={} d={} disc={} period={} pdt={:?} parts={}",
                    info.name,
                    bytes.len(),
                    fnv(&bytes),
                    info.base_decode_time,
                    info.duration,
                    info.discontinuity,
                    info.period,
                    info.program_date_time,
                    info.parts.len()
                ),
                PackagerEvent::Part { info, bytes, .. } => writeln!(
                    self.log,
                    "part {} {} {:016x} d={} indep={}",
                    info.name,
                    bytes.len(),
                    fnv(&bytes),
                    info.duration,
                    info.independent
                ),
                PackagerEvent::Removed { name, parts, .. } => {
                    writeln!(self.log, "removed {name} parts={}", parts.len())
                }
            };
        }
        if !changed {
            return;
        }
        let settings = mpd_settings(&self.packager);
        let Some(m) = render(&mut self.packager, &settings, true, now) else {
            return;
        };
        self.renders += 1;
        let text = manifests_text(&m);
        let _ = writeln!(self.log, "render {:016x}", fnv(text.as_bytes()));
        self.last = text;
    }
}

fn manifests_text(m: &Manifests) -> String {
    let mut out = String::new();
    for media in &m.media {
        let _ = writeln!(
            out,
            "=== {} {:?}\n{}",
            media.name, media.position, media.text
        );
        if let Some((name, text)) = &media.delta {
            let _ = writeln!(out, "=== {name}\n{text}");
        }
    }
    if let Some(t) = &m.multivariant {
        let _ = writeln!(out, "=== index.m3u8\n{t}");
    }
    if let Some(t) = &m.mpd {
        let _ = writeln!(out, "=== index.mpd\n{t}");
    }
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    out
}

/// `passes` copies of the 2 s fixture back to back, the clock following the
/// media. With `gap_after`, the publisher drops after that pass and is back
/// `gap` later (the filler covers it), with its timestamps from 0 again.
fn golden(config: PackagerConfig, passes: u32, gap_after: Option<(u32, Duration)>) -> String {
    let tags = read_flv(&Bytes::from(std::fs::read(FIXTURE).unwrap()));
    let mut demux = Demuxer::default();
    let mut run = Run::new(config);
    let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut live_text = String::new();
    let mut clock_offset = Duration::ZERO;
    let mut ts_base = 0;
    for pass in 0..passes {
        if let Some((after, gap)) = gap_after.filter(|(after, _)| *after == pass) {
            let _ = after;
            let left = epoch + clock_offset + Duration::from_millis(u64::from(pass) * 2000);
            run.packager.publisher_left(left).unwrap();
            run.publish(left);
            demux.reconnect();
            clock_offset += gap;
            let back = left + gap;
            run.packager.reconnect(back).unwrap();
            run.publish(back);
            ts_base = pass * 2000;
        }
        for t in &tags {
            let ts = t.timestamp_ms + pass * 2000;
            let now = epoch + clock_offset + Duration::from_millis(u64::from(ts));
            let r = match t.tag_type {
                9 => demux.push_video(ts - ts_base, t.body.clone()),
                8 => demux.push_audio(ts - ts_base, t.body.clone()),
                _ => continue,
            };
            if let Ok(Some(ev)) = r {
                run.packager.push(&ev, now).unwrap();
            }
            run.publish(now);
        }
        if pass + 2 == passes {
            live_text = run.last.clone();
        }
    }
    let end = epoch + clock_offset + Duration::from_millis(u64::from(passes) * 2000);
    run.packager.end().unwrap();
    run.publish(end);
    format!(
        "{} renders\n{}\n##### live\n{}\n##### ended\n{}",
        run.renders, run.log, live_text, run.last
    )
}

#[test]
fn one_video_one_audio_low_latency_with_a_filled_reconnect() {
    let config = PackagerConfig {
        target_duration: Duration::from_secs(1),
        part_duration: Duration::from_millis(500),
        window: 4,
        ..PackagerConfig::default()
    };
    insta::assert_snapshot!(golden(config, 8, Some((4, Duration::from_millis(1500)))));
}

#[test]
fn one_video_one_audio_without_low_latency() {
    let config = PackagerConfig {
        target_duration: Duration::from_secs(2),
        window: 3,
        low_latency: false,
        ..PackagerConfig::default()
    };
    insta::assert_snapshot!(golden(config, 6, None));
}
