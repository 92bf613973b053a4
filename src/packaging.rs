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
use weir_packager::dash::{live_mpd, write_mpd, LiveState, MpdSettings};
use weir_packager::hls::{write_media, write_multivariant};
use weir_packager::playlists::{media_playlist, media_playlist_name, multivariant};
use weir_packager::stream::{PackagerConfig, PackagerEvent, StreamPackager};

use crate::metrics::Metrics;
use crate::output::Output;

/// File name of the DASH manifest inside the stream directory.
pub const MPD_NAME: &str = "index.mpd";

pub struct Packaging {
    packager: StreamPackager,
    mpd: MpdSettings,
    output: Arc<Output>,
    /// TARGETDURATION once the playlists are published.
    target: Option<u32>,
    metrics: Arc<Metrics>,
}

impl Packaging {
    pub fn new(config: PackagerConfig, output: Arc<Output>, metrics: Arc<Metrics>) -> Self {
        let mpd = MpdSettings {
            window: config.window,
            // Relative to `/APP/KEY/index.mpd`, so a path prefix or a CDN in
            // front keeps working: dash.js and Shaka resolve it against the MPD.
            time_url: "../../time".to_owned(),
            head_url: MPD_NAME.to_owned(),
        };
        Packaging {
            packager: StreamPackager::new(config),
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

    /// The publisher came back within the grace period (HLS-LIVE-08).
    pub fn reconnect(&mut self) {
        self.packager.reconnect();
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
        let mut segments = 0;
        let now = Instant::now();
        while let Some(ev) = self.packager.poll_event() {
            changed = true;
            match ev {
                PackagerEvent::Init { track, uri, bytes } => {
                    self.output.put(uri, bytes, content_type(track));
                }
                PackagerEvent::Segment { track, info, bytes } => {
                    segments += 1;
                    self.metrics.segment(track);
                    self.output.put(info.uri, bytes, content_type(track));
                }
                PackagerEvent::Removed { uri, .. } => {
                    // HLS-LIVE-04: available until first listed + its duration
                    // + the playlist's duration. It was listed for about a
                    // playlist's duration, so one more segment (two target
                    // durations covers the longest) is left.
                    self.output.retire(&uri, now, self.availability());
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
        for view in [video.as_ref(), audio.as_ref()].into_iter().flatten() {
            match write_media(&media_playlist(view, target, ended)) {
                Ok(text) => self
                    .output
                    .set_playlist(media_playlist_name(view.kind), text),
                Err(e) => warn!(error = %e, "media playlist not written"),
            }
        }
        match write_multivariant(&multivariant(video.as_ref(), audio.as_ref())) {
            Ok(text) => self.output.set_playlist("index.m3u8", text),
            Err(e) => warn!(error = %e, "multivariant playlist not written"),
        }
        let state = LiveState {
            video: video.as_ref(),
            audio: audio.as_ref(),
            clock: self.packager.clock(),
            target_duration: target,
            longest_segment: self.packager.longest_segment(),
            ended,
            now: SystemTime::now(),
        };
        if let Some(mpd) = live_mpd(&state, &self.mpd) {
            match write_mpd(&mpd) {
                Ok(text) => self.output.set_playlist(MPD_NAME, text),
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

fn content_type(track: TrackKind) -> &'static str {
    match track {
        TrackKind::Video => "video/mp4",
        TrackKind::Audio => "audio/mp4",
    }
}
