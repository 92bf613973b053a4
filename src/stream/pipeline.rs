//! A stream's packaging: demuxed frames → `StreamPackager` → files, HLS
//! playlist and DASH MPD snapshots in the stream's `Store`.
//!
//! It runs inline on the publisher's task (about 0.3 µs per frame, see
//! docs/benchmarks.md), so a publisher that bursts a file faster than real
//! time cannot make it fall behind: a consumer on a bounded channel would
//! lose frames there.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tracing::warn;
use weir_flv::{DemuxEvent, TrackKind};
use weir_packager::dash::MpdSettings;
use weir_packager::manifests::{availability_after_removal, mpd_settings, render};
use weir_packager::names::{FileName, InstanceId, TrackId};
use weir_packager::stream::{InstanceStart, PackagerConfig, PackagerEvent, StreamPackager};

use super::store::Store;

pub struct Pipeline {
    packager: StreamPackager,
    mpd: MpdSettings,
    store: Arc<Store>,
    /// TARGETDURATION once the playlists are published.
    target: Option<u32>,
    /// Media segments made, per kind of track.
    video_segments: u64,
    audio_segments: u64,
}

/// What one pushed frame led to: `segments` new media segments listed in
/// the playlists, `delay` after the push began (for
/// `weir_segment_publish_delay_seconds`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Listed {
    pub segments: usize,
    pub delay: Duration,
}

impl Pipeline {
    pub fn new(config: PackagerConfig, start: InstanceStart, store: Arc<Store>) -> Self {
        let packager = StreamPackager::new(config, start);
        Pipeline {
            mpd: mpd_settings(&packager),
            packager,
            store,
            target: None,
            video_segments: 0,
            audio_segments: 0,
        }
    }

    pub fn push(&mut self, event: &DemuxEvent) -> Listed {
        // From this push (the frame that completes a segment) to the
        // playlists listing the segment.
        let started = Instant::now();
        if let Err(e) = self.packager.push(event, SystemTime::now()) {
            warn!(error = %e, "packaging failed for a frame");
        }
        let segments = self.publish();
        Listed {
            segments,
            delay: started.elapsed(),
        }
    }

    /// Media segments made so far by the tracks of `kind`.
    pub fn segments(&self, kind: TrackKind) -> u64 {
        match kind {
            TrackKind::Video => self.video_segments,
            TrackKind::Audio => self.audio_segments,
        }
    }

    /// The video frame rate: the packager's estimate (the one FRAME-RATE
    /// and the MPD use), from frame timing once there is enough of it,
    /// else from the SPS.
    pub fn video_frame_rate(&self) -> Option<f64> {
        self.packager.track(TrackId::VIDEO)?.video?.frame_rate
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
                    self.store.put(name, bytes);
                }
                PackagerEvent::Segment { track, info, bytes } => {
                    segments += 1;
                    mpd_changed = true;
                    // The one place that reads a packager track id.
                    match track.kind {
                        TrackKind::Video => self.video_segments += 1,
                        TrackKind::Audio => self.audio_segments += 1,
                    }
                    self.store.put(info.name, bytes);
                }
                PackagerEvent::Part { info, bytes, .. } => {
                    mpd_changed |= ll_dash;
                    self.store.put(info.name, bytes);
                }
                PackagerEvent::Removed { name, parts, .. } => {
                    mpd_changed = true;
                    // Fetchable for its availability time (HLS-LIVE-04),
                    // its parts (LLHLS-06: listed only near the live edge)
                    // with it.
                    for part in parts {
                        self.store.retire(&part, now, self.availability());
                    }
                    self.store.retire(&name, now, self.availability());
                }
            }
        }
        if !changed {
            return 0;
        }
        let with_mpd = mpd_changed || self.store.playlist(&FileName::Mpd).is_none();
        let Some(m) = render(&mut self.packager, &self.mpd, with_mpd, SystemTime::now()) else {
            return 0;
        };
        self.target = self.packager.target_duration();
        for media in m.media {
            self.store
                .set_media_playlist(media.name, media.text, media.position);
            if let Some((name, text)) = media.delta {
                self.store.set_media_playlist(name, text, media.position);
            }
            if let Some(name) = media.stale_delta {
                self.store.remove_playlist(&name);
            }
        }
        if let Some(text) = m.multivariant {
            self.store.set_playlist(FileName::Multivariant, text);
        }
        if let Some(text) = m.mpd {
            self.store.set_playlist(FileName::Mpd, text);
        }
        for (name, error) in m.errors {
            warn!(file = %name, %error, "manifest not written");
        }
        segments
    }

    fn availability(&self) -> Duration {
        availability_after_removal(self.target)
    }
}
