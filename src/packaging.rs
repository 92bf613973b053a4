//! A stream's packaging: demuxed frames → `StreamPackager` → files, HLS
//! playlist and DASH MPD snapshots in the stream's `Output`.
//!
//! It runs inline on the publisher's task (about 0.3 µs per frame, see
//! docs/benchmarks.md), so a publisher that bursts a file faster than real
//! time cannot make it fall behind and lose frames, as a separate consumer of
//! the bounded fan-out did.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tracing::warn;
use weir_flv::{DemuxEvent, TrackKind};
use weir_packager::dash::{live_mpd, write_mpd, LiveState, LowLatencyDash, MpdSettings};
use weir_packager::hls::{write_media, write_multivariant};
use weir_packager::names::{FileName, InstanceId};
use weir_packager::playlists::{media_playlist, multivariant, LowLatency};
use weir_packager::stream::{InstanceStart, PackagerConfig, PackagerEvent, StreamPackager};

use crate::metrics::Metrics;
use crate::output::{Output, Position};

pub struct Packaging {
    packager: StreamPackager,
    mpd: MpdSettings,
    output: Arc<Output>,
    /// TARGETDURATION once the playlists are published.
    target: Option<u32>,
    metrics: Arc<Metrics>,
}

impl Packaging {
    pub fn new(
        config: PackagerConfig,
        start: InstanceStart,
        output: Arc<Output>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let mpd = MpdSettings {
            window: config.window,
            // Relative to `/APP/KEY/index.mpd`, so a path prefix or a CDN in
            // front keeps working: dash.js and Shaka resolve it against the MPD.
            time_url: "../../time".to_owned(),
            head_url: FileName::Mpd.to_string(),
            low_latency: config.low_latency.then_some(LowLatencyDash {
                chunk: config.part_duration,
            }),
        };
        Packaging {
            packager: StreamPackager::new(config, start),
            mpd,
            output,
            target: None,
            metrics,
        }
    }

    pub fn push(&mut self, event: &DemuxEvent) {
        // weir_segment_publish_delay_seconds: from this push (the frame that
        // completes a segment) to the playlists listing the segment.
        let started = Instant::now();
        if let DemuxEvent::Frame(f) = event {
            self.metrics.frame(f.track);
        }
        if let Err(e) = self.packager.push(event, SystemTime::now()) {
            warn!(error = %e, "packaging failed for a frame");
        }
        let listed = self.publish();
        self.metrics.segments_listed(listed, started.elapsed());
    }

    /// The publisher left: publish all it sent; the playlists stay live.
    pub fn publisher_left(&mut self) {
        if let Err(e) = self.packager.publisher_left(SystemTime::now()) {
            warn!(error = %e, "closing the segments of a publisher that left failed");
        }
        self.publish();
    }

    /// The publisher came back within the grace period (HLS-LIVE-08).
    pub fn reconnect(&mut self) {
        if let Err(e) = self.packager.reconnect(SystemTime::now()) {
            warn!(error = %e, "filling the time the publisher was away failed");
        }
        self.publish();
    }

    /// Where the next instance of the key starts, after this one.
    pub fn successor(&self, next: InstanceId) -> InstanceStart {
        self.packager.successor(next)
    }

    /// The stream is over: last segments closed, ENDLIST (HLS-LIVE-09).
    pub fn end(&mut self) {
        if let Err(e) = self.packager.end() {
            warn!(error = %e, "closing the last segments failed");
        }
        self.publish();
    }

    /// Store new files, retire old ones and refresh the playlists. Returns
    /// the number of new media segments the playlists now list.
    fn publish(&mut self) -> usize {
        let mut changed = self.packager.is_ended();
        // The MPD lists whole segments: parts alone leave it (and its
        // publishTime) as it was, except in LL-DASH, where it lists the
        // segment in progress.
        let mut mpd_changed = changed;
        let ll_dash = self.mpd.low_latency.is_some();
        let mut segments = 0;
        let now = Instant::now();
        while let Some(ev) = self.packager.poll_event() {
            changed = true;
            match ev {
                PackagerEvent::Init { name, bytes, .. } => {
                    mpd_changed = true;
                    self.output.put(name, bytes);
                }
                PackagerEvent::Segment { track, info, bytes } => {
                    segments += 1;
                    mpd_changed = true;
                    self.metrics.segment(track);
                    self.output.put(info.name, bytes);
                }
                PackagerEvent::Part { info, bytes, .. } => {
                    mpd_changed |= ll_dash;
                    self.output.put(info.name, bytes);
                }
                PackagerEvent::Removed { name, parts, .. } => {
                    mpd_changed = true;
                    // HLS-LIVE-04: available until first listed + its duration
                    // + the playlist's duration. It was listed for about a
                    // playlist's duration, so one more segment (two target
                    // durations covers the longest) is left. Its parts
                    // (LLHLS-06: listed only near the live edge) go with it.
                    for part in parts {
                        self.output.retire(&part, now, self.availability());
                    }
                    self.output.retire(&name, now, self.availability());
                }
            }
        }
        if !changed {
            return 0;
        }
        let Some(target) = self.packager.target_duration() else {
            return 0;
        };
        self.target = Some(target);
        let ended = self.packager.is_ended();
        let video = self.packager.track(TrackKind::Video);
        let audio = self.packager.track(TrackKind::Audio);
        let low_latency = self.packager.config().low_latency.then(|| LowLatency {
            part_target: self.packager.config().part_target(),
        });
        for (view, other) in [
            (video.as_ref(), audio.as_ref()),
            (audio.as_ref(), video.as_ref()),
        ] {
            let Some(view) = view else { continue };
            let name = FileName::MediaPlaylist(view.kind);
            let mut playlist = media_playlist(view, target, ended, low_latency, other);
            let position = low_latency.map(|_| Position {
                last_segment: view.segments.last().map(|s| s.number),
                open_segment: view.media_sequence + view.segments.len() as u64,
                open_parts: view.open.as_ref().map_or(0, |o| o.parts.len() as u64),
                ended,
                target,
            });
            match write_media(&playlist) {
                Ok(text) => self.output.set_media_playlist(name, text, position),
                Err(e) => warn!(error = %e, "media playlist not written"),
            }
            // The delta update for `_HLS_skip=YES` (LLHLS-09).
            let skip_name = FileName::DeltaPlaylist(view.kind);
            let skippable = playlist.max_skippable_segments();
            if low_latency.is_some() && skippable > 0 {
                playlist.skip = Some(skippable);
                match write_media(&playlist) {
                    Ok(text) => self.output.set_media_playlist(skip_name, text, position),
                    Err(e) => warn!(error = %e, "delta playlist not written"),
                }
            } else {
                self.output.remove_playlist(&skip_name);
            }
        }
        match write_multivariant(&multivariant(video.as_ref(), audio.as_ref())) {
            Ok(text) => self.output.set_playlist(FileName::Multivariant, text),
            Err(e) => warn!(error = %e, "multivariant playlist not written"),
        }
        let state = LiveState {
            video: video.as_ref(),
            audio: audio.as_ref(),
            clock: self.packager.clock(),
            target_duration: target,
            longest_segment: self.packager.longest_segment(),
            ended,
            waiting: self.packager.is_waiting(),
            now: SystemTime::now(),
        };
        if !mpd_changed && self.output.playlist(&FileName::Mpd).is_some() {
            return segments;
        }
        if let Some(mpd) = live_mpd(&state, &self.mpd) {
            match write_mpd(&mpd) {
                Ok(text) => self.output.set_playlist(FileName::Mpd, text),
                Err(e) => warn!(error = %e, "MPD not written"),
            }
        }
        segments
    }

    fn availability(&self) -> Duration {
        let target = self.target.map_or(2, u64::from);
        Duration::from_secs(2 * target)
    }
}
