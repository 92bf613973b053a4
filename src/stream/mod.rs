//! One stream instance: its lifecycle, its demuxer, its publisher, its
//! counters, and the pipeline that packages its frames inline.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use serde::Serialize;
use weir_flv::timeline::TimelineConfig;
use weir_flv::{DemuxEvent, Demuxer, FlvError, TrackKind};
use weir_packager::names::InstanceId;
use weir_packager::stream::{InstanceStart, PackagerConfig};
use weir_rtmp::MediaKind;

use lifecycle::{Departure, Lifecycle, Phase, Policy, PublishError, Transition};
pub use pipeline::Listed;
use pipeline::Pipeline;
use store::Store;

pub mod lifecycle;
mod pipeline;
pub mod store;

/// What every stream of the server is made with.
#[derive(Clone, Debug)]
pub struct Settings {
    pub timeline: TimelineConfig,
    pub packager: PackagerConfig,
    pub lifecycle: Policy,
}

/// What a stream counted, for the host to read and export (plain numbers,
/// like quinn's `ConnectionStats`): frames as demuxed, segments as made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub video: TrackStats,
    pub audio: TrackStats,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackStats {
    pub frames: u64,
    pub segments: u64,
}

impl Stats {
    pub fn track(&self, kind: TrackKind) -> TrackStats {
        match kind {
            TrackKind::Video => self.video,
            TrackKind::Audio => self.audio,
        }
    }
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, other: Stats) {
        for (a, b) in [
            (&mut self.video, other.video),
            (&mut self.audio, other.audio),
        ] {
            a.frames += b.frames;
            a.segments += b.segments;
        }
    }
}

/// Media time span over which the bitrate is measured.
const BITRATE_WINDOW_MS: i64 = 5_000;

pub struct Stream {
    pub app: String,
    pub key: String,
    /// The id in every media file name of this instance.
    pub instance: InstanceId,
    /// Segments and playlists HTTP serves for this stream.
    pub store: Arc<Store>,
    state: Mutex<State>,
    pipeline: Mutex<Pipeline>,
    /// One span for the stream's life, across publishers (reconnects) and
    /// teardown: pipeline logs land in it, whichever connection feeds it.
    span: tracing::Span,
}

struct State {
    demuxer: Demuxer,
    lifecycle: Lifecycle,
    publisher: SocketAddr,
    started_at: SystemTime,
    bytes_in: u64,
    video: Option<VideoStats>,
    audio: Option<AudioStats>,
    last_error: Option<String>,
    /// (dts ms, bytes) of recent frames, for the bitrate.
    recent: VecDeque<(i64, usize)>,
    first_dts: Option<i64>,
    last_dts: Option<i64>,
}

#[derive(Clone, Debug, Default)]
struct VideoStats {
    codec: Option<String>,
    /// Why the track's media is refused (an unsupported codec), if it is.
    error: Option<String>,
    width: u32,
    height: u32,
    frames: u64,
    keyframes: u64,
    bytes: u64,
}

#[derive(Clone, Debug, Default)]
struct AudioStats {
    codec: Option<String>,
    /// Why the track's media is refused (an unsupported codec), if it is.
    error: Option<String>,
    sample_rate: u32,
    channels: u8,
    frames: u64,
    bytes: u64,
}

/// `/api/streams` entry.
#[derive(Serialize, Debug)]
pub struct StreamInfo {
    pub app: String,
    pub key: String,
    /// `live`, `reconnecting` while it waits for its publisher, or `ended`
    /// while its final playlists are still served.
    pub state: &'static str,
    /// The instance id in its media file names.
    pub instance: String,
    pub publisher: String,
    pub started_at: String,
    pub duration_ms: i64,
    pub bytes_in: u64,
    pub bitrate_bps: u64,
    pub last_error: Option<String>,
    pub video: Option<VideoInfo>,
    pub audio: Option<AudioInfo>,
}

#[derive(Serialize, Debug)]
pub struct VideoInfo {
    pub codec: Option<String>,
    /// The track is refused: the codec, in words, and what Weir packages.
    pub error: Option<String>,
    pub width: u32,
    pub height: u32,
    pub frame_rate: Option<f64>,
    pub frames: u64,
    pub keyframes: u64,
    pub bytes: u64,
}

#[derive(Serialize, Debug)]
pub struct AudioInfo {
    pub codec: Option<String>,
    /// The track is refused: the codec, in words, and what Weir packages.
    pub error: Option<String>,
    pub sample_rate: u32,
    pub channels: u8,
    pub frames: u64,
    pub bytes: u64,
}

impl Stream {
    /// A new instance of `app/key`, live with its first publisher.
    pub fn new(
        app: String,
        key: String,
        publisher: SocketAddr,
        settings: &Settings,
        start: InstanceStart,
    ) -> Self {
        let store = Arc::new(Store::default());
        let span = tracing::info_span!(
            parent: None, "stream", app = %app, key = %key, instance = %start.instance
        );
        let pipeline = Pipeline::new(settings.packager.clone(), start, store.clone());
        Stream {
            span,
            app,
            key,
            instance: start.instance,
            pipeline: Mutex::new(pipeline),
            store,
            state: Mutex::new(State {
                demuxer: Demuxer::new(settings.timeline.clone()),
                lifecycle: Lifecycle::new(settings.lifecycle),
                publisher,
                started_at: SystemTime::now(),
                bytes_in: 0,
                video: None,
                audio: None,
                last_error: None,
                recent: VecDeque::new(),
                first_dts: None,
                last_dts: None,
            }),
        }
    }

    fn pipeline(&self) -> std::sync::MutexGuard<'_, Pipeline> {
        self.pipeline.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the counters unusable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn phase(&self) -> Phase {
        self.state().lifecycle.phase()
    }

    /// A publisher asks for this instance at `now`: within the grace period
    /// it resumes it, the playlists going on after a discontinuity
    /// (HLS-LIVE-08). Returns the publisher's generation.
    pub fn resume(&self, publisher: SocketAddr, now: Instant) -> Result<u64, PublishError> {
        let _span = self.span.enter();
        let mut s = self.state();
        let result = s.lifecycle.publish(now);
        match result {
            Ok(_) => {
                s.publisher = publisher;
                s.demuxer.reconnect();
                drop(s);
                self.pipeline().reconnect();
            }
            // The grace period ran out before its timer was serviced.
            Err(PublishError::Ended) => {
                drop(s);
                self.ended();
            }
            Err(PublishError::AlreadyLive) => {}
        }
        result
    }

    /// The publisher of `generation` left at `now` (any teardown path).
    pub fn publisher_left(&self, generation: u64, how: Departure, now: Instant) -> Transition {
        let t = self.state().lifecycle.leave(generation, how, now);
        self.apply(t)
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.state().lifecycle.poll_timeout()
    }

    /// The clock reached `now`: one lifecycle step, if one was due.
    pub fn handle_timeout(&self, now: Instant) -> Transition {
        let t = self.state().lifecycle.handle_timeout(now);
        self.apply(t)
    }

    /// The server is stopping: end the stream now.
    pub fn shutdown(&self, now: Instant) -> Transition {
        let t = self.state().lifecycle.shutdown(now);
        self.apply(t)
    }

    /// Where the next instance of this key starts (after this one ended).
    pub fn successor(&self, next: InstanceId) -> InstanceStart {
        self.pipeline().successor(next)
    }

    fn apply(&self, t: Transition) -> Transition {
        match t {
            Transition::Waiting => {
                let _span = self.span.enter();
                self.pipeline().publisher_left();
            }
            Transition::Ended => self.ended(),
            Transition::Unchanged | Transition::Gone => {}
        }
        t
    }

    /// The stream is over: last segments closed, playlists get ENDLIST and
    /// the MPD its end (HLS-LIVE-09, DASH-MPD-12).
    fn ended(&self) {
        let _span = self.span.enter();
        self.pipeline().end();
    }

    pub fn set_error(&self, error: String) {
        self.state().last_error = Some(error);
    }

    /// One audio or video message from the publisher; says what segments
    /// it got listed, for the host's publish delay histogram.
    pub fn push_media(&self, kind: MediaKind, timestamp: u32, payload: Bytes) -> Listed {
        let _span = self.span.enter();
        let len = payload.len();
        let mut s = self.state();
        // Media of a publisher that the server already let go (shutdown).
        if !matches!(s.lifecycle.phase(), Phase::Live { .. }) {
            return Listed::default();
        }
        s.bytes_in += len as u64;
        let result = match kind {
            MediaKind::Video => s.demuxer.push_video(timestamp, payload),
            MediaKind::Audio => s.demuxer.push_audio(timestamp, payload),
        };
        match result {
            Ok(Some(ev)) => {
                // A frame that brought its own configuration (MP3, AC-3,
                // E-AC-3), or the VP9 key frame its configuration waited
                // for, comes second.
                let next = s.demuxer.second_event();
                s.account(&ev);
                if let Some(next) = &next {
                    s.account(next);
                }
                drop(s);
                let mut pipeline = self.pipeline();
                let mut listed = pipeline.push(&ev);
                if let Some(next) = next {
                    let more = pipeline.push(&next);
                    listed.segments += more.segments;
                    listed.delay = listed.delay.max(more.delay);
                }
                listed
            }
            Ok(None) => Listed::default(),
            Err(e) => {
                s.record_error(kind, &e);
                Listed::default()
            }
        }
    }

    /// What this stream counted so far.
    pub fn stats(&self) -> Stats {
        let s = self.state();
        let frames = |t: Option<u64>| t.unwrap_or(0);
        let (video, audio) = (
            frames(s.video.as_ref().map(|v| v.frames)),
            frames(s.audio.as_ref().map(|a| a.frames)),
        );
        drop(s);
        let p = self.pipeline();
        Stats {
            video: TrackStats {
                frames: video,
                segments: p.segments(TrackKind::Video),
            },
            audio: TrackStats {
                frames: audio,
                segments: p.segments(TrackKind::Audio),
            },
        }
    }

    pub fn info(&self) -> StreamInfo {
        let frame_rate = self.pipeline().video_frame_rate();
        let s = self.state();
        let bitrate_bps = match (s.recent.front(), s.recent.back()) {
            (Some((a, _)), Some((b, _))) if b > a => {
                let bytes: usize = s.recent.iter().map(|(_, n)| n).sum();
                (bytes as f64 * 8.0 * 1000.0 / (b - a) as f64) as u64
            }
            _ => 0,
        };
        StreamInfo {
            app: self.app.clone(),
            key: self.key.clone(),
            state: s.lifecycle.phase().name(),
            instance: self.instance.to_string(),
            publisher: s.publisher.to_string(),
            started_at: humantime::format_rfc3339_millis(s.started_at).to_string(),
            duration_ms: match (s.first_dts, s.last_dts) {
                (Some(a), Some(b)) => b - a,
                _ => 0,
            },
            bytes_in: s.bytes_in,
            bitrate_bps,
            last_error: s.last_error.clone(),
            video: s.video.as_ref().map(|v| VideoInfo {
                codec: v.codec.clone(),
                error: v.error.clone(),
                width: v.width,
                height: v.height,
                frame_rate,
                frames: v.frames,
                keyframes: v.keyframes,
                bytes: v.bytes,
            }),
            audio: s.audio.as_ref().map(|a| AudioInfo {
                codec: a.codec.clone(),
                error: a.error.clone(),
                sample_rate: a.sample_rate,
                channels: a.channels,
                frames: a.frames,
                bytes: a.bytes,
            }),
        }
    }
}

impl State {
    fn account(&mut self, ev: &DemuxEvent) {
        match ev {
            DemuxEvent::VideoConfig { config, .. } => {
                let v = self.video.get_or_insert_with(VideoStats::default);
                v.codec = config.codec_string();
                v.error = None;
                if let Some(format) = config.format() {
                    v.width = format.width;
                    v.height = format.height;
                }
            }
            DemuxEvent::AudioConfig { config, .. } => {
                let a = self.audio.get_or_insert_with(AudioStats::default);
                a.codec = config.codec_string();
                a.error = None;
                a.sample_rate = config.sample_rate();
                a.channels = config.channels();
            }
            DemuxEvent::Frame(f) => {
                let n = f.data.len();
                match f.track {
                    TrackKind::Video => {
                        if let Some(v) = self.video.as_mut() {
                            v.frames += 1;
                            v.keyframes += u64::from(f.keyframe);
                            v.bytes += n as u64;
                        }
                    }
                    TrackKind::Audio => {
                        if let Some(a) = self.audio.as_mut() {
                            a.frames += 1;
                            a.bytes += n as u64;
                        }
                    }
                }
                self.first_dts = Some(self.first_dts.map_or(f.dts_ms, |d| d.min(f.dts_ms)));
                self.last_dts = Some(self.last_dts.map_or(f.dts_ms, |d| d.max(f.dts_ms)));
                self.recent.push_back((f.dts_ms, n));
                while self
                    .recent
                    .front()
                    .is_some_and(|(t, _)| f.dts_ms - t > BITRATE_WINDOW_MS)
                {
                    self.recent.pop_front();
                }
            }
            DemuxEvent::EndOfSequence(_) => {}
        }
    }

    fn record_error(&mut self, kind: MediaKind, e: &FlvError) {
        let msg = format!("{kind:?} tag rejected: {e}");
        // Unsupported codecs repeat on every tag; log the first occurrence only.
        if self.last_error.as_deref() != Some(msg.as_str()) {
            tracing::warn!(error = %e, ?kind, "tag rejected");
        }
        // A refused codec is the track's state, not only the stream's last
        // error: the API, the list and the player say which track and why.
        if e.is_unsupported() {
            let error = Some(e.to_string());
            match kind {
                MediaKind::Video => {
                    self.video.get_or_insert_with(VideoStats::default).error = error
                }
                MediaKind::Audio => {
                    self.audio.get_or_insert_with(AudioStats::default).error = error
                }
            }
        }
        self.last_error = Some(msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aac_sequence_header() -> Bytes {
        // SoundFormat 10 (AAC) + AACPacketType 0 + ASC 11 90 (LC, 48 kHz, stereo).
        Bytes::from_static(&[0xaf, 0x00, 0x11, 0x90])
    }

    fn stream() -> Stream {
        let settings = Settings {
            timeline: TimelineConfig::default(),
            packager: PackagerConfig::default(),
            lifecycle: Policy {
                grace: std::time::Duration::from_secs(10),
                retention: std::time::Duration::from_secs(60),
                end_on_unpublish: false,
            },
        };
        Stream::new(
            "live".into(),
            "cam1".into(),
            "127.0.0.1:1".parse().unwrap(),
            &settings,
            InstanceStart::new(InstanceId::from_millis(1)),
        )
    }

    #[test]
    fn frames_are_counted_per_track() {
        let s = stream();
        s.push_media(MediaKind::Audio, 1000, aac_sequence_header());
        s.push_media(MediaKind::Audio, 1000, aac_sequence_header()); // identical: no event
        for i in 1..=3 {
            s.push_media(
                MediaKind::Audio,
                1000 + i * 21,
                Bytes::from_static(&[0xaf, 0x01, 0x21]),
            );
        }
        let info = s.info();
        assert_eq!(info.audio.as_ref().map(|a| a.frames), Some(3));
        assert_eq!(info.duration_ms, 42);
        assert!(info.video.is_none());
    }

    #[test]
    fn a_publisher_resumes_within_the_grace_period() {
        let s = stream();
        let t0 = Instant::now();
        s.publisher_left(0, Departure::Graceful, t0);
        assert_eq!(s.info().state, "reconnecting");
        assert_eq!(s.resume("127.0.0.1:2".parse().unwrap(), t0), Ok(1));
        assert_eq!(s.phase(), Phase::Live { generation: 1 });
    }

    #[test]
    fn garbage_tags_are_reported_not_fatal() {
        let s = stream();
        s.push_media(MediaKind::Video, 0, Bytes::from_static(&[0x1c, 0x00]));
        let info = s.info();
        assert!(info.last_error.unwrap().contains("Video tag rejected"));
        s.push_media(MediaKind::Audio, 0, aac_sequence_header());
        assert_eq!(s.info().audio.unwrap().sample_rate, 48_000);
    }
}
