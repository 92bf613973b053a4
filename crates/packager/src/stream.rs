//! One stream's packaging state: demuxed frames in, init segments, media
//! segments and the live window of each track out.
//!
//! Time is an argument: every call takes the wall-clock `now`, used to stamp
//! segments (PROGRAM-DATE-TIME) and to keep the DASH Periods anchored to the
//! wall clock ([`PeriodClock`]); no clock is read here.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use weir_flv::{AacConfig, AudioConfig, DemuxEvent, Frame, TrackKind, VideoConfig};

use crate::boxes::{self, BoxError, FragmentSpec, SampleInfo};
use crate::clock::{MediaTime, PeriodClock, Verdict};
use crate::filler::silent_aac_frame;
use crate::names::{FileName, InstanceId};
use crate::segmenter::{Chunk, CutPolicy, Output, PartGrid, Timing, TrackSegmenter};

/// Packaging settings.
#[derive(Clone, Debug)]
pub struct PackagerConfig {
    /// Target segment duration; a longer GOP makes longer segments (HLS-LIVE-06).
    pub target_duration: Duration,
    /// Nominal CMAF chunk (LL-HLS part) duration: parts end on this grid
    /// from each segment's start. PART-TARGET is 10 % above it
    /// ([`part_target`](Self::part_target)).
    pub part_duration: Duration,
    /// Segments listed in each media playlist.
    pub window: usize,
    /// Drift between the publisher's media clock and the wall clock past
    /// which DASH starts a new Period (DASH-MPD-08).
    pub drift_threshold: Duration,
    /// List the parts in the playlists (LL-HLS) and serve blocking reloads.
    pub low_latency: bool,
}

impl PackagerConfig {
    /// PART-TARGET, the longest part: the nominal duration plus 10 %, so a
    /// part can end on the first frame past its grid point (a 21–23 ms AAC
    /// frame, a 33/34 ms video frame), an audio segment's last part can take
    /// the half frame by which audio may overshoot the video cut, and parts
    /// stay within 85–100 % of it (LLHLS-01).
    pub fn part_target(&self) -> Duration {
        let ms = self
            .part_duration
            .as_millis()
            .saturating_mul(11)
            .div_ceil(10);
        Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }
}

impl Default for PackagerConfig {
    fn default() -> Self {
        PackagerConfig {
            target_duration: Duration::from_secs(2),
            part_duration: Duration::from_millis(500),
            window: 6,
            drift_threshold: Duration::from_millis(500),
            low_latency: true,
        }
    }
}

/// A finished media segment of one track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Media sequence number, per track, never reset (HLS-LIVE-08).
    pub number: u64,
    /// Its file, e.g. `video/mx2k118b/seg-12.m4s`.
    pub name: FileName,
    /// The init segment it needs.
    pub init: FileName,
    pub base_decode_time: u64,
    /// Duration in track ticks.
    pub duration: u64,
    pub timescale: u32,
    /// First segment after a reconnect, a timeline jump or a new configuration.
    pub discontinuity: bool,
    pub program_date_time: SystemTime,
    pub size: usize,
    /// DASH Period: starts again after a discontinuity or a drift re-anchor,
    /// at the same cut on every track.
    pub period: u64,
    /// The segment's parts (its CMAF chunks), in order (LL-HLS).
    pub parts: Vec<PartInfo>,
}

/// One CMAF chunk of a segment, published on its own as an LL-HLS part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartInfo {
    /// Media sequence number of the segment it belongs to.
    pub segment: u64,
    /// Index within the segment, from 0.
    pub index: u32,
    /// Its file, e.g. `video/mx2k118b/part-12.3.m4s`.
    pub name: FileName,
    /// Ticks.
    pub duration: u64,
    pub timescale: u32,
    /// Starts with a key frame (INDEPENDENT=YES).
    pub independent: bool,
}

/// The segment being built: the parts made so far (LL-HLS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenSegment {
    pub number: u64,
    /// Decode time of its first sample, in `timescale` ticks.
    pub base_decode_time: u64,
    pub timescale: u32,
    /// DASH Period it belongs to.
    pub period: u64,
    pub init: FileName,
    pub discontinuity: bool,
    pub program_date_time: SystemTime,
    pub parts: Vec<PartInfo>,
}

impl SegmentInfo {
    pub fn duration_secs(&self) -> f64 {
        self.duration as f64 / f64::from(self.timescale.max(1))
    }
}

/// What the host must act on: store the bytes under the URI, refresh playlists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackagerEvent {
    Init {
        track: TrackKind,
        name: FileName,
        bytes: Bytes,
    },
    Segment {
        track: TrackKind,
        info: SegmentInfo,
        bytes: Bytes,
    },
    /// A part (CMAF chunk) of the segment in progress is complete.
    Part {
        track: TrackKind,
        info: PartInfo,
        bytes: Bytes,
    },
    /// The segment left the live window (keep it and its parts fetchable
    /// for their availability time).
    Removed {
        track: TrackKind,
        name: FileName,
        parts: Vec<FileName>,
    },
}

/// Per-track live state exposed to playlist writers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackView {
    pub kind: TrackKind,
    pub codec: String,
    /// The stream instance whose files these are.
    pub instance: InstanceId,
    /// The current init segment.
    pub init: FileName,
    pub segments: Vec<SegmentInfo>,
    /// Number of the first listed segment (EXT-X-MEDIA-SEQUENCE).
    pub media_sequence: u64,
    /// Discontinuities that slid out of the window (EXT-X-DISCONTINUITY-SEQUENCE).
    pub discontinuity_sequence: u64,
    /// The segment in progress, once it has a part.
    pub open: Option<OpenSegment>,
    /// Peak and average bits per second over the segments made so far.
    pub peak_bitrate: u64,
    pub average_bitrate: u64,
    pub video: Option<VideoParams>,
    pub audio: Option<AudioParams>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VideoParams {
    pub width: u32,
    pub height: u32,
    pub frame_rate: Option<f64>,
    /// Sample aspect ratio from the SPS, when it says.
    pub sar: Option<(u16, u16)>,
}

impl Eq for VideoParams {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioParams {
    pub sample_rate: u32,
    pub channels: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum PackagerError {
    #[error("writing boxes: {0}")]
    Box(#[from] BoxError),
}

struct Track {
    kind: TrackKind,
    instance: InstanceId,
    track_id: u32,
    timescale: u32,
    /// Ticks of one frame, used to close the last sample at a flush.
    default_duration: u32,
    seg: TrackSegmenter,
    codec: String,
    init_version: u32,
    init: FileName,
    record: Bytes,
    video: Option<VideoParams>,
    audio: Option<AudioParams>,
    /// Fragments of the open segment.
    open: BytesMut,
    open_first_dts: Option<u64>,
    /// Parts of the open segment, its discontinuity and PDT.
    open_parts: Vec<PartInfo>,
    open_discontinuity: bool,
    open_pdt: SystemTime,
    open_base: u64,
    open_period: u64,
    next_number: u64,
    fragment_sequence: u32,
    window: VecDeque<SegmentInfo>,
    discontinuity_sequence: u64,
    pending_discontinuity: bool,
    peak_bitrate: u64,
    total_bytes: u64,
    total_ticks: u64,
    /// Video: the last key frame, repeated to fill a publisher's absence;
    /// audio: a silent frame, for the same ([`crate::filler`]).
    filler: Option<Bytes>,
    /// Video: DTS steps for a frame-rate estimate (pitfall 41).
    step_sum_ms: i64,
    steps: u64,
    last_dts_ms: Option<i64>,
}

/// Where a stream instance starts: the id in its file names and the
/// numbering it takes over from the instance served before it at the same
/// URLs ([`StreamPackager::successor`]), so that a key published again
/// never makes its playlists go backwards (HLS-LIVE-08) nor reuses a URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstanceStart {
    pub instance: InstanceId,
    /// Media sequence number of the first segment of every track.
    pub media_sequence: u64,
    /// EXT-X-DISCONTINUITY-SEQUENCE of the first playlists.
    pub discontinuity_sequence: u64,
}

impl InstanceStart {
    /// The first instance of a key: numbering from zero.
    pub fn new(instance: InstanceId) -> Self {
        InstanceStart {
            instance,
            media_sequence: 0,
            discontinuity_sequence: 0,
        }
    }
}

/// Packages one stream. Feed it the demuxer's events in order.
pub struct StreamPackager {
    config: PackagerConfig,
    start: InstanceStart,
    video: Option<Track>,
    audio: Option<Track>,
    policy: CutPolicy,
    video_segment_start_ms: Option<i64>,
    audio_segment_start_ms: Option<i64>,
    /// Video cut points not yet applied to audio: ms and the Period of the
    /// video segment starting there (audio follows video's Periods).
    audio_cuts: VecDeque<(i64, u64)>,
    /// DASH Period of the reference track's open segment (video, else audio).
    period: u64,
    /// The audio segment being built, when it follows video's cuts.
    audio_period: u64,
    /// A segment was cut already (the first cut never opens a new Period).
    cut_once: bool,
    /// The drift guard asked for a new Period at the next cut.
    split_pending: bool,
    clock: PeriodClock,
    /// The latest `now` seen, for segments closed by `end`.
    now: SystemTime,
    /// Wall clock ↔ media time anchors for PROGRAM-DATE-TIME, newest last:
    /// (wall clock, media ms it maps). A reconnect adds one; segments made
    /// before it keep the mapping of their own publisher.
    anchors: Vec<(SystemTime, i64)>,
    /// A new anchor is taken at the next frame (start, or after a reconnect).
    reanchor: bool,
    /// Video has produced its first key frame: earlier audio is dropped so
    /// both tracks start together (pitfall 24).
    video_started: bool,
    /// Audio that arrived before the first video key frame, replayed from the
    /// key frame's time once it comes (interleaving puts audio first).
    held_audio: VecDeque<Frame>,
    events: VecDeque<PackagerEvent>,
    /// The publisher left and its media is all published; a new one may
    /// come back ([`reconnect`](StreamPackager::reconnect)).
    waiting: bool,
    /// Added to every incoming timestamp: the filled gaps so far, so that
    /// media time keeps pace with the wall clock across them.
    offset_ms: i64,
    /// Where the filler ended: the next publisher's first frame goes there.
    fill_to_ms: Option<i64>,
    /// Filler frames are being packaged (not the publisher's media).
    filling: bool,
    /// An audio frame dropped before the video's first key frame carried a
    /// discontinuity: the next audio frame kept takes it.
    audio_discontinuity: bool,
    ended: bool,
    /// TARGETDURATION shared by the media playlists, fixed when they are first
    /// published (HLS-PL-02, HLS-MV-02).
    target_duration: Option<u32>,
    target_raised: bool,
    longest_segment: Duration,
}

/// Audio frames held while waiting for the first video key frame (~10 s).
const MAX_HELD_AUDIO: usize = 480;

/// Segments a media playlist needs before it is served (HLS-LIVE-07).
pub const MIN_SEGMENTS: usize = 2;

impl StreamPackager {
    pub fn new(config: PackagerConfig, start: InstanceStart) -> Self {
        let policy = CutPolicy {
            target_ms: i64::try_from(config.target_duration.as_millis()).unwrap_or(2000),
        };
        let threshold = config.drift_threshold;
        StreamPackager {
            config,
            start,
            video: None,
            audio: None,
            policy,
            video_segment_start_ms: None,
            audio_segment_start_ms: None,
            audio_cuts: VecDeque::new(),
            period: 0,
            audio_period: 0,
            cut_once: false,
            split_pending: false,
            clock: PeriodClock::new(threshold),
            now: SystemTime::UNIX_EPOCH,
            anchors: Vec::new(),
            reanchor: true,
            video_started: false,
            held_audio: VecDeque::new(),
            events: VecDeque::new(),
            waiting: false,
            offset_ms: 0,
            fill_to_ms: None,
            filling: false,
            audio_discontinuity: false,
            ended: false,
            target_duration: None,
            target_raised: false,
            longest_segment: Duration::ZERO,
        }
    }

    /// Whether a GOP longer than the published TARGETDURATION forced it up
    /// (the host logs it, naming the encoder's GOP).
    pub fn target_raised(&self) -> bool {
        self.target_raised
    }

    /// The TARGETDURATION of the media playlists, once they can be served:
    /// every track has [`MIN_SEGMENTS`] segments (or the stream ended). It is
    /// the configured target or the longest segment seen by then, rounded, and
    /// does not change afterwards — unless a later GOP is longer still, where
    /// Weir raises it rather than list an EXTINF above it (HLS-LIVE-06 option
    /// b, as gohlslib and Wowza do); [`target_raised`](Self::target_raised) reports that.
    pub fn target_duration(&mut self) -> Option<u32> {
        let tracks: Vec<&Track> = [self.video.as_ref(), self.audio.as_ref()]
            .into_iter()
            .flatten()
            .collect();
        if tracks.is_empty() {
            return None;
        }
        let longest = tracks
            .iter()
            .flat_map(|t| t.window.iter())
            .map(|s| ((s.duration_secs() + 0.5).floor()) as u32)
            .max()
            .unwrap_or(0);
        match self.target_duration {
            Some(t) if longest > t => {
                self.target_raised = true;
                self.target_duration = Some(longest);
            }
            Some(_) => {}
            None => {
                let ready = tracks.iter().all(|t| {
                    t.window.len() >= MIN_SEGMENTS || (self.ended && !t.window.is_empty())
                });
                if ready {
                    let configured = self.config.target_duration.as_secs_f64().ceil() as u32;
                    self.target_duration = Some(configured.max(longest).max(1));
                }
            }
        }
        self.target_duration
    }

    pub fn instance(&self) -> InstanceId {
        self.start.instance
    }

    /// Where instance `next` of the same key starts, once this one is over:
    /// after the last segment number any track used, and one discontinuity
    /// further (the break between the instances, as if it had slid out of
    /// the window: HLS-PL-04).
    pub fn successor(&self, next: InstanceId) -> InstanceStart {
        let tracks = || {
            [self.video.as_ref(), self.audio.as_ref()]
                .into_iter()
                .flatten()
        };
        let media_sequence = tracks()
            .map(|t| t.next_number)
            .max()
            .unwrap_or(self.start.media_sequence);
        let discontinuity_sequence = tracks()
            .map(|t| {
                t.discontinuity_sequence
                    + t.window.iter().filter(|s| s.discontinuity).count() as u64
            })
            .max()
            .unwrap_or(self.start.discontinuity_sequence);
        InstanceStart {
            instance: next,
            media_sequence,
            discontinuity_sequence: discontinuity_sequence + 1,
        }
    }

    pub fn poll_event(&mut self) -> Option<PackagerEvent> {
        self.events.pop_front()
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    pub fn config(&self) -> &PackagerConfig {
        &self.config
    }

    /// The DASH presentation timeline: AST and the Periods.
    pub fn clock(&self) -> &PeriodClock {
        &self.clock
    }

    /// The longest segment made so far, over every track (MPD@maxSegmentDuration).
    pub fn longest_segment(&self) -> Duration {
        self.longest_segment
    }

    /// Start a new DASH Period at the next cut of every track, anchored to
    /// the wall clock afresh (the drift guard does this by itself).
    pub fn split_period(&mut self) {
        self.split_pending = true;
    }

    /// The Period of the next reference-track cut, advancing it when that
    /// cut follows a discontinuity or a split was asked for.
    fn next_period(&mut self, discontinuity: bool) -> u64 {
        // A pending split is used up by this cut either way: a discontinuity
        // opens the new Period it asked for.
        let split = std::mem::take(&mut self.split_pending);
        if (discontinuity || split) && self.cut_once {
            self.period += 1;
        }
        self.cut_once = true;
        self.period
    }

    pub fn track(&self, kind: TrackKind) -> Option<TrackView> {
        let t = match kind {
            TrackKind::Video => self.video.as_ref(),
            TrackKind::Audio => self.audio.as_ref(),
        }?;
        Some(TrackView {
            kind,
            codec: t.codec.clone(),
            instance: self.start.instance,
            init: t.init,
            segments: t.window.iter().cloned().collect(),
            open: (!t.open_parts.is_empty()).then(|| OpenSegment {
                number: t.next_number,
                base_decode_time: t.open_base,
                timescale: t.timescale,
                period: t.open_period,
                init: t.init,
                discontinuity: t.open_discontinuity,
                program_date_time: t.open_pdt,
                parts: t.open_parts.clone(),
            }),
            media_sequence: t.window.front().map_or(t.next_number, |s| s.number),
            discontinuity_sequence: t.discontinuity_sequence,
            peak_bitrate: t.peak_bitrate,
            average_bitrate: if t.total_ticks > 0 {
                segment_bitrate(t.total_bytes as usize, t.total_ticks, t.timescale)
            } else {
                0
            },
            video: t.video.clone().map(|mut v| {
                if t.steps >= 10 && t.step_sum_ms > 0 {
                    let fps = t.steps as f64 * 1000.0 / t.step_sum_ms as f64;
                    v.frame_rate = Some(snap_frame_rate(fps));
                }
                v
            }),
            audio: t.audio.clone(),
        })
    }

    /// The publisher left: everything it sent is published now, rather
    /// than when (and if) another publisher's media comes, so that viewers
    /// get the tail of the stream during the grace period and the last
    /// segment is listed on time. Its open segments close, their last
    /// sample taking the track's default duration; the playlists stay live.
    pub fn publisher_left(&mut self, now: SystemTime) -> Result<(), PackagerError> {
        if self.ended || self.waiting {
            return Ok(());
        }
        self.now = now;
        for kind in [TrackKind::Video, TrackKind::Audio] {
            if let Some(t) = self.track_mut(kind) {
                let d = t.default_duration;
                t.seg.flush(d);
            }
            self.drain_track(kind)?;
        }
        // Cuts of the closed video segments no longer apply to audio; the
        // next frames start segments of their own.
        self.audio_cuts.clear();
        self.held_audio.clear();
        self.video_segment_start_ms = None;
        self.audio_segment_start_ms = None;
        self.waiting = true;
        Ok(())
    }

    /// Between [`publisher_left`](Self::publisher_left) and
    /// [`reconnect`](Self::reconnect): nothing is in progress, and nothing
    /// is to be predicted (LL-DASH lists no segment ahead).
    pub fn is_waiting(&self) -> bool {
        self.waiting
    }

    /// The publisher reconnected within the grace period, at `now`: the time
    /// it was away is filled ([`crate::filler`]) where the tracks allow, and
    /// the next segment of each track starts after a discontinuity
    /// (HLS-LIVE-08).
    pub fn reconnect(&mut self, now: SystemTime) -> Result<(), PackagerError> {
        if self.waiting {
            self.fill_gap(now)?;
        }
        self.waiting = false;
        for t in [self.video.as_mut(), self.audio.as_mut()]
            .into_iter()
            .flatten()
        {
            t.pending_discontinuity = true;
        }
        self.video_started = false;
        self.held_audio.clear();
        self.reanchor = true;
        Ok(())
    }

    /// Fills the media time from where the old publisher's media ended to
    /// where its wall-clock mapping (the PROGRAM-DATE-TIME anchor) puts
    /// `now` with the last key frame and silence, continuing the old media's
    /// timeline; the next publisher's media is shifted to follow it, so
    /// media time keeps pace with the wall clock. Nothing is filled when a
    /// track cannot be (no key frame yet, audio other than AAC-LC
    /// mono/stereo), when the media is ahead of the wall clock (a publisher
    /// that sent faster than real time), or when the gap is longer than the
    /// live window: players have stalled by then, and a DASH Period at the
    /// new wall-clock time serves them better.
    fn fill_gap(&mut self, now: SystemTime) -> Result<(), PackagerError> {
        let Some(&(wall, media)) = self.anchors.last() else {
            return Ok(());
        };
        let Ok(since) = now.duration_since(wall) else {
            return Ok(());
        };
        let fill_to = media.saturating_add(i64::try_from(since.as_millis()).unwrap_or(i64::MAX));
        let window = u32::try_from(self.config.window.max(1)).unwrap_or(u32::MAX);
        let longest = self.config.target_duration.saturating_mul(window);
        let mut sources = Vec::with_capacity(2);
        for t in [self.video.as_ref(), self.audio.as_ref()]
            .into_iter()
            .flatten()
        {
            let (Some(data), Some(end)) = (t.filler.clone(), t.seg.end_ticks()) else {
                return Ok(());
            };
            let ts = u64::from(t.timescale.max(1));
            let end_ms = i64::try_from(end * 1000 / ts).unwrap_or(i64::MAX);
            // Video: one key frame per part (LL) or per segment; audio:
            // frame by frame.
            let step_ticks = match t.kind {
                TrackKind::Video if self.config.low_latency => self.config.part_duration,
                TrackKind::Video => self.config.target_duration,
                TrackKind::Audio => Duration::ZERO,
            };
            let step_ticks = match t.kind {
                TrackKind::Video => {
                    u64::try_from(step_ticks.as_millis()).unwrap_or(u64::MAX) * ts / 1000
                }
                TrackKind::Audio => u64::from(t.default_duration),
            }
            .max(1);
            sources.push((t.kind, data, end, end_ms, step_ticks, ts));
        }
        let (Some(start_ms), Some(first_ms)) = (
            sources.iter().map(|s| s.3).max(),
            sources.iter().map(|s| s.3).min(),
        ) else {
            return Ok(());
        };
        let gap_ms = u64::try_from(fill_to - start_ms).unwrap_or(0);
        if gap_ms == 0 || Duration::from_millis(gap_ms) > longest {
            return Ok(());
        }
        let mut frames = Vec::new();
        for (kind, data, end, _, step, ts) in sources {
            // Video's first filler cut is where the earlier track ended, so
            // that audio, whose first filler frame starts a segment, cuts
            // with it (its segmenter keeps it from going back).
            let mut ticks = match kind {
                TrackKind::Video => u64::try_from(first_ms).unwrap_or(0) * ts / 1000,
                TrackKind::Audio => end,
            };
            loop {
                let ms = i64::try_from(ticks * 1000 / ts).unwrap_or(i64::MAX);
                if ms >= fill_to {
                    break;
                }
                frames.push(Frame {
                    track: kind,
                    dts_ms: ms,
                    pts_ms: ms,
                    keyframe: true,
                    discontinuity: false,
                    data: data.clone(),
                });
                ticks += step;
            }
        }
        // Interleaved as a publisher would send them; video first at a tie,
        // so audio follows its cuts.
        frames.sort_by_key(|f| (f.dts_ms, f.track == TrackKind::Audio));
        self.filling = true;
        let result = frames.iter().try_for_each(|f| self.frame_at(f, now));
        self.filling = false;
        self.fill_to_ms = Some(fill_to);
        result
    }

    /// The stream is over: close the open segments.
    pub fn end(&mut self) -> Result<(), PackagerError> {
        for kind in [TrackKind::Video, TrackKind::Audio] {
            if let Some(t) = self.track_mut(kind) {
                let d = t.default_duration;
                t.seg.flush(d);
            }
            self.drain_track(kind)?;
        }
        self.ended = true;
        Ok(())
    }

    fn anchor(&mut self, now: SystemTime, dts_ms: i64) {
        if std::mem::take(&mut self.reanchor) {
            self.anchors.push((now, dts_ms));
            // Only segments still in a window can need an old anchor.
            if self.anchors.len() > 16 {
                self.anchors.remove(0);
            }
        }
    }

    fn track_mut(&mut self, kind: TrackKind) -> Option<&mut Track> {
        match kind {
            TrackKind::Video => self.video.as_mut(),
            TrackKind::Audio => self.audio.as_mut(),
        }
    }

    pub fn push(&mut self, event: &DemuxEvent, now: SystemTime) -> Result<(), PackagerError> {
        self.now = now;
        match event {
            DemuxEvent::VideoConfig { config, .. } => {
                if let VideoConfig::Avc(avc) = config {
                    let init = boxes::video_init(1, avc)?;
                    let params = VideoParams {
                        width: avc.sps_info.width,
                        height: avc.sps_info.height,
                        frame_rate: avc
                            .sps_info
                            .frame_rate
                            .filter(|(_, d)| *d > 0)
                            .map(|(n, d)| f64::from(n) / f64::from(d)),
                        sar: avc.sps_info.sar,
                    };
                    let timescale = boxes::VIDEO_TIMESCALE;
                    self.new_config(
                        TrackKind::Video,
                        timescale,
                        timescale / 30,
                        Timing::FromTimestamps,
                        config.codec_string().unwrap_or_default(),
                        avc.record.clone(),
                        init,
                        Some(params),
                        None,
                    )?;
                    self.video_started = false;
                }
            }
            DemuxEvent::AudioConfig { config, .. } => {
                if let AudioConfig::Aac(aac) = config {
                    self.new_audio(aac)?;
                }
            }
            DemuxEvent::Frame(frame) => self.frame(frame, now)?,

            DemuxEvent::EndOfSequence(_) => {}
        }
        Ok(())
    }

    fn new_audio(&mut self, aac: &AacConfig) -> Result<(), PackagerError> {
        let init = boxes::audio_init(2, aac)?;
        let timescale = boxes::audio_timescale(aac);
        let ticks = boxes::audio_frame_ticks(aac);
        self.new_config(
            TrackKind::Audio,
            timescale,
            ticks,
            Timing::FrameCount {
                ticks_per_frame: ticks,
                // Follow the publisher's clock once it is 1.5 frames away
                // (MP4-SEG-10: re-anchor past about one frame of drift).
                max_drift_ms: (u64::from(ticks) * 1500 / u64::from(timescale.max(1))).max(20)
                    as u32,
            },
            aac.codec_string(),
            aac.record.clone(),
            init,
            None,
            Some(AudioParams {
                sample_rate: aac.sample_rate,
                channels: aac.channels,
            }),
        )?;
        if let Some(t) = self.audio.as_mut() {
            t.filler = silent_aac_frame(aac);
        }
        Ok(())
    }

    /// A first or changed decoder configuration (FLV-SEQ-01): close the open
    /// segment, publish a new init version, mark a discontinuity.
    #[allow(clippy::too_many_arguments)]
    fn new_config(
        &mut self,
        kind: TrackKind,
        timescale: u32,
        default_duration: u32,
        timing: Timing,
        codec: String,
        record: Bytes,
        init: Bytes,
        video: Option<VideoParams>,
        audio: Option<AudioParams>,
    ) -> Result<(), PackagerError> {
        let ticks = |d: Duration| {
            u64::try_from(d.as_millis())
                .unwrap_or(u64::MAX)
                .saturating_mul(u64::from(timescale))
                / 1000
        };
        let parts = PartGrid::new(
            ticks(self.config.part_duration),
            ticks(self.config.part_target()),
        )
        .stretch_from(ticks(self.config.target_duration));
        let existing = self.track_mut(kind);
        if let Some(t) = existing {
            if t.record == record {
                return Ok(());
            }
            t.seg.flush(t.default_duration);
        }
        self.drain_track(kind)?;
        let (version, next_number, window, disc_seq, fragment_sequence, rates) =
            match self.track_mut(kind) {
                Some(t) => (
                    t.init_version + 1,
                    t.next_number,
                    std::mem::take(&mut t.window),
                    t.discontinuity_sequence,
                    t.fragment_sequence,
                    // BANDWIDTH describes the variant over its life, not per init.
                    (t.peak_bitrate, t.total_bytes, t.total_ticks),
                ),
                // A new instance continues the numbering of the one before
                // it at the same URLs: playlists never go backwards.
                None => (
                    1,
                    self.start.media_sequence,
                    VecDeque::new(),
                    self.start.discontinuity_sequence,
                    1,
                    (0, 0, 0),
                ),
            };
        if version > 1 {
            // All media playlists share their discontinuities (HLS-MV-02):
            // the other track breaks at the same point.
            let other = match kind {
                TrackKind::Video => TrackKind::Audio,
                TrackKind::Audio => TrackKind::Video,
            };
            if let Some(o) = self.track_mut(other) {
                o.pending_discontinuity = true;
            }
        }
        let init_name = FileName::Init {
            track: kind,
            instance: self.start.instance,
            version,
        };
        self.events.push_back(PackagerEvent::Init {
            track: kind,
            name: init_name,
            bytes: init,
        });
        let track = Track {
            kind,
            instance: self.start.instance,
            track_id: if kind == TrackKind::Video { 1 } else { 2 },
            timescale,
            default_duration,
            seg: {
                // Until its next cut, a new configuration stays in the
                // Period the track is in.
                let mut seg = TrackSegmenter::new(timescale, timing, parts);
                seg.set_period(match kind {
                    TrackKind::Audio if self.video.is_some() => self.audio_period,
                    _ => self.period,
                });
                seg
            },
            codec,
            init_version: version,
            init: init_name,
            record,
            video,
            audio,
            open: BytesMut::new(),
            open_first_dts: None,
            open_parts: Vec::new(),
            open_discontinuity: false,
            open_pdt: SystemTime::UNIX_EPOCH,
            open_base: 0,
            open_period: 0,
            next_number,
            fragment_sequence,
            window,
            discontinuity_sequence: disc_seq,
            pending_discontinuity: version > 1,
            peak_bitrate: rates.0,
            total_bytes: rates.1,
            total_ticks: rates.2,
            // The old configuration's frames cannot stand in for the new one.
            filler: None,
            step_sum_ms: 0,
            steps: 0,
            last_dts_ms: None,
        };
        match kind {
            TrackKind::Video => self.video = Some(track),
            TrackKind::Audio => self.audio = Some(track),
        }
        Ok(())
    }

    /// A frame of the publisher, shifted past the gaps filled so far.
    fn frame(&mut self, f: &Frame, now: SystemTime) -> Result<(), PackagerError> {
        if let Some(to) = self.fill_to_ms.take() {
            // The first frame after a filled gap goes where the filler ended.
            let at = f.dts_ms.saturating_add(self.offset_ms);
            self.offset_ms = self.offset_ms.saturating_add((to - at).max(0));
        }
        if self.offset_ms == 0 {
            return self.frame_at(f, now);
        }
        let shifted = Frame {
            dts_ms: f.dts_ms.saturating_add(self.offset_ms),
            pts_ms: f.pts_ms.saturating_add(self.offset_ms),
            ..f.clone()
        };
        self.frame_at(&shifted, now)
    }

    fn frame_at(&mut self, f: &Frame, now: SystemTime) -> Result<(), PackagerError> {
        match f.track {
            TrackKind::Video => {
                if self.video.is_none() {
                    return Ok(());
                }
                let starting = !self.video_started;
                if starting {
                    if !f.keyframe {
                        // Undecodable without its key frame (pitfall 24).
                        return Ok(());
                    }
                    self.video_started = true;
                }
                let cut = self
                    .policy
                    .cut_video(self.video_segment_start_ms, f.dts_ms, f.keyframe)
                    || self
                        .video
                        .as_ref()
                        .is_some_and(|t| t.pending_discontinuity && f.keyframe);
                if cut {
                    self.video_segment_start_ms = Some(f.dts_ms);
                    let disc = f.discontinuity
                        || self.video.as_ref().is_some_and(|t| t.pending_discontinuity);
                    let period = self.next_period(disc);
                    self.audio_cuts.push_back((f.dts_ms, period));
                    if let Some(t) = self.video.as_mut() {
                        t.seg.set_period(period);
                    }
                }
                self.anchor(now, f.dts_ms);
                let filling = self.filling;
                if let Some(t) = self.video.as_mut() {
                    if f.keyframe && !filling {
                        t.filler = Some(f.data.clone());
                    }
                    if let Some(prev) = t.last_dts_ms.filter(|_| !filling) {
                        let step = f.dts_ms - prev;
                        if !f.discontinuity && (1..=1000).contains(&step) {
                            t.step_sum_ms += step;
                            t.steps += 1;
                        }
                    }
                    t.last_dts_ms = Some(f.dts_ms);
                    // A reconnect's discontinuity goes to the segment it
                    // cuts, not to a frame before it.
                    let disc =
                        cut && std::mem::take(&mut t.pending_discontinuity) || f.discontinuity;
                    t.seg
                        .push(f.dts_ms, f.pts_ms, f.keyframe, f.data.clone(), cut, disc);
                }
                self.drain_track(TrackKind::Video)?;
                if starting {
                    let held = std::mem::take(&mut self.held_audio);
                    for a in held {
                        if a.dts_ms < f.dts_ms {
                            self.audio_discontinuity |= a.discontinuity;
                            continue;
                        }
                        self.frame_at(&a, now)?;
                    }
                }
                Ok(())
            }
            TrackKind::Audio => {
                if self.audio.is_none() {
                    return Ok(());
                }
                // A dropped frame's discontinuity (the first after a
                // reconnect, before the video's key frame) passes to the
                // first audio frame kept: audio follows the new
                // publisher's clock from there.
                let carried;
                let f = if self.video_started && std::mem::take(&mut self.audio_discontinuity) {
                    carried = Frame {
                        discontinuity: true,
                        ..f.clone()
                    };
                    &carried
                } else {
                    f
                };
                let has_video = self.video.is_some();
                if has_video && !self.video_started {
                    if self.held_audio.len() >= MAX_HELD_AUDIO {
                        self.held_audio.pop_front();
                    }
                    self.held_audio.push_back(f.clone());
                    return Ok(());
                }
                let cut = if has_video {
                    let mut cut = self.audio_segment_start_ms.is_none();
                    if cut {
                        self.audio_period = self.period;
                    }
                    // Cut at the frame whose decode time (counted in samples,
                    // which runs up to a frame and a half from the rounded
                    // millisecond timestamps) is nearest the video cut, so
                    // audio segments match video's within half a frame and
                    // their last part does not spill into a sliver.
                    let reach_ms = self.audio.as_ref().map_or(f.dts_ms, |t| {
                        t.seg.decode_time_ms(f.dts_ms, f.discontinuity)
                            + i64::from(t.default_duration) * 500 / i64::from(t.timescale.max(1))
                    });
                    while let Some(&(_, period)) =
                        self.audio_cuts.front().filter(|(t, _)| *t <= reach_ms)
                    {
                        self.audio_cuts.pop_front();
                        self.audio_period = period;
                        cut = true;
                    }
                    cut
                } else {
                    self.policy
                        .cut_audio_only(self.audio_segment_start_ms, f.dts_ms)
                };
                if cut {
                    self.audio_segment_start_ms = Some(f.dts_ms);
                    let period = if has_video {
                        self.audio_period
                    } else {
                        let disc = f.discontinuity
                            || self.audio.as_ref().is_some_and(|t| t.pending_discontinuity);
                        self.next_period(disc)
                    };
                    if let Some(t) = self.audio.as_mut() {
                        t.seg.set_period(period);
                    }
                }
                self.anchor(now, f.dts_ms);
                if let Some(t) = self.audio.as_mut() {
                    // An audio frame before the cut (the video's first key
                    // frame after a reconnect) leaves the discontinuity to
                    // the frame that cuts.
                    let disc =
                        cut && std::mem::take(&mut t.pending_discontinuity) || f.discontinuity;
                    t.seg
                        .push(f.dts_ms, f.pts_ms, true, f.data.clone(), cut, disc);
                }
                self.drain_track(TrackKind::Audio)
            }
        }
    }

    fn drain_track(&mut self, kind: TrackKind) -> Result<(), PackagerError> {
        let anchors = std::mem::take(&mut self.anchors);
        let r = self.drain_with(kind, &anchors);
        self.anchors = anchors;
        r
    }

    fn drain_with(
        &mut self,
        kind: TrackKind,
        anchors: &[(SystemTime, i64)],
    ) -> Result<(), PackagerError> {
        let window = self.config.window.max(1);
        let reference = kind == TrackKind::Video || self.video.is_none();
        let Some(t) = (match kind {
            TrackKind::Video => self.video.as_mut(),
            TrackKind::Audio => self.audio.as_mut(),
        }) else {
            return Ok(());
        };
        while let Some(out) = t.seg.poll() {
            match out {
                Output::Chunk(chunk) => {
                    if chunk.index == 0 {
                        let start_ms = (chunk.base_decode_time as i128 * 1000
                            / i128::from(t.timescale))
                            as i64;
                        t.open_pdt = program_date_time(anchors, start_ms);
                        t.open_discontinuity = chunk.discontinuity;
                        t.open_base = chunk.base_decode_time;
                        t.open_period = chunk.period;
                    }
                    let (info, bytes) = t.write_chunk(&chunk)?;
                    t.open_parts.push(info.clone());
                    self.events.push_back(PackagerEvent::Part {
                        track: kind,
                        info,
                        bytes,
                    });
                }
                Output::SegmentEnd {
                    base_decode_time,
                    duration,
                    discontinuity,
                    period,
                    ..
                } => {
                    let bytes = std::mem::take(&mut t.open).freeze();
                    t.open_first_dts = None;
                    if bytes.is_empty() {
                        continue;
                    }
                    let number = t.next_number;
                    t.next_number += 1;
                    let start_ms =
                        (base_decode_time as i128 * 1000 / i128::from(t.timescale)) as i64;
                    let pdt = program_date_time(anchors, start_ms);
                    let parts = std::mem::take(&mut t.open_parts);
                    let info = SegmentInfo {
                        number,
                        name: FileName::Segment {
                            track: kind,
                            instance: t.instance,
                            number,
                        },
                        init: t.init,
                        base_decode_time,
                        duration,
                        timescale: t.timescale,
                        discontinuity,
                        program_date_time: pdt,
                        size: bytes.len(),
                        period,
                        parts,
                    };
                    self.longest_segment = self
                        .longest_segment
                        .max(MediaTime::new(duration, t.timescale).as_duration());
                    // The reference track keeps the DASH timeline on the wall clock.
                    if reference {
                        let start = MediaTime::new(base_decode_time, t.timescale);
                        let end = MediaTime::new(base_decode_time + duration, t.timescale);
                        let verdict = self.clock.segment_made(period, start, end, self.now);
                        // A segment of an older Period (the last one of a
                        // publisher, closed when the next one's media came)
                        // is late by the gap: its successor has a new Period
                        // already.
                        // Filler is made at once when the publisher is
                        // back, later than the times it covers: by design.
                        if matches!(verdict, Verdict::Drifted { .. })
                            && period == self.period
                            && !self.filling
                        {
                            self.split_pending = true;
                        }
                    }
                    if duration > 0 {
                        let bps = segment_bitrate(bytes.len(), duration, t.timescale);
                        t.peak_bitrate = t.peak_bitrate.max(bps);
                        t.total_bytes += bytes.len() as u64;
                        t.total_ticks += duration;
                    }
                    t.window.push_back(info.clone());
                    self.events.push_back(PackagerEvent::Segment {
                        track: kind,
                        info,
                        bytes,
                    });
                    while t.window.len() > window {
                        if let Some(old) = t.window.pop_front() {
                            // A DISCONTINUITY tag that slides out is counted (HLS-PL-04).
                            if old.discontinuity {
                                t.discontinuity_sequence += 1;
                            }
                            self.events.push_back(PackagerEvent::Removed {
                                track: kind,
                                name: old.name,
                                parts: old.parts.into_iter().map(|p| p.name).collect(),
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Bits per second of `bytes` over `ticks`, as a player computes it from
/// the playlist: over the EXTINF as written (five decimals, rounded half up,
/// so up to 5 µs short) and rounded up, so BANDWIDTH is never below the peak
/// it describes (HLS-MV-01).
pub fn segment_bitrate(bytes: usize, ticks: u64, timescale: u32) -> u64 {
    // Duration in units of 10 µs, rounded down: at most the printed EXTINF.
    let units = (u128::from(ticks) * 100_000 / u128::from(timescale.max(1))).max(1);
    let bits = (bytes as u128) * 8 * 100_000;
    u64::try_from(bits.div_ceil(units)).unwrap_or(u64::MAX)
}

/// PROGRAM-DATE-TIME of media time `start_ms`: the newest anchor at or
/// before it.
fn program_date_time(anchors: &[(SystemTime, i64)], start_ms: i64) -> SystemTime {
    anchors
        .iter()
        .rev()
        .find(|(_, media)| *media <= start_ms)
        .or(anchors.first())
        .map_or(SystemTime::UNIX_EPOCH, |(wall, media)| {
            offset_time(*wall, start_ms - media)
        })
}

impl Track {
    /// Writes one chunk as a fragment, appends it to the open segment and
    /// returns it as a part.
    fn write_chunk(&mut self, chunk: &Chunk) -> Result<(PartInfo, Bytes), PackagerError> {
        let samples: Vec<SampleInfo> = chunk
            .samples
            .iter()
            .map(|s| SampleInfo {
                duration: s.duration,
                size: u32::try_from(s.data.len()).unwrap_or(u32::MAX),
                is_sync: s.is_sync,
                composition_offset: s.composition_offset,
            })
            .collect();
        let data: Vec<Bytes> = chunk.samples.iter().map(|s| s.data.clone()).collect();
        let bytes = boxes::write_fragment(&FragmentSpec {
            sequence_number: self.fragment_sequence,
            track_id: self.track_id,
            base_media_decode_time: chunk.base_decode_time,
            samples: &samples,
            data: &data,
            styp: chunk.index == 0,
            video: self.kind == TrackKind::Video,
        })?;
        self.fragment_sequence = self.fragment_sequence.wrapping_add(1).max(1);
        self.open_first_dts.get_or_insert(chunk.base_decode_time);
        self.open.extend_from_slice(&bytes);
        let segment = self.next_number;
        let info = PartInfo {
            segment,
            index: chunk.index,
            name: FileName::Part {
                track: self.kind,
                instance: self.instance,
                segment,
                index: chunk.index,
            },
            duration: chunk.duration(),
            timescale: self.timescale,
            independent: chunk.independent,
        };
        Ok((info, bytes))
    }
}

/// Millisecond timestamps only approximate a frame rate (33/34 ms steps at
/// 30 fps, 33/34/33 at 29.97): snap a mean-step estimate to the nearest common
/// rate within 0.2 %, else round to 3 decimals (pitfall 41).
pub fn snap_frame_rate(fps: f64) -> f64 {
    const COMMON: [f64; 10] = [
        24000.0 / 1001.0,
        24.0,
        25.0,
        30000.0 / 1001.0,
        30.0,
        48.0,
        50.0,
        60000.0 / 1001.0,
        60.0,
        120.0,
    ];
    let snapped = COMMON
        .iter()
        .copied()
        .filter(|r| (fps - r).abs() <= r * 0.002)
        .min_by(|a, b| (fps - a).abs().total_cmp(&(fps - b).abs()))
        .unwrap_or(fps);
    (snapped * 1000.0).round() / 1000.0
}

fn offset_time(t: SystemTime, ms: i64) -> SystemTime {
    if ms >= 0 {
        t + Duration::from_millis(ms as u64)
    } else {
        t.checked_sub(Duration::from_millis(ms.unsigned_abs()))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::{segment_bitrate, snap_frame_rate};
    use proptest::prelude::*;

    /// HLS-MV-01 (issue 12 §5): 762 518 bytes over 2 s is 3 050 072 bit/s
    /// exactly; one byte more is 3 050 076; a fraction rounds up, never down.
    #[test]
    fn segment_bitrate_is_rounded_up() {
        assert_eq!(segment_bitrate(762_518, 180_000, 90_000), 3_050_072);
        assert_eq!(segment_bitrate(762_519, 180_000, 90_000), 3_050_076);
        // 1 byte over 3 s: 2.67 bit/s → 3.
        assert_eq!(segment_bitrate(1, 3_000, 1_000), 3);
        assert_eq!(segment_bitrate(0, 3_000, 1_000), 0);
        // A zero duration cannot divide by zero.
        assert_eq!(segment_bitrate(1, 0, 90_000), 800_000);
    }

    proptest! {
        /// Whatever the sizes and durations, BANDWIDTH built from
        /// `segment_bitrate` is never below the bit rate a player computes
        /// from the playlist: size × 8 / EXTINF as printed (five decimals,
        /// rounded half up).
        #[test]
        fn segment_bitrate_is_never_below_what_the_playlist_says(
            bytes in 1usize..20_000_000,
            ticks in 1u64..100_000_000,
            timescale in prop_oneof![Just(1_000u32), Just(44_100), Just(48_000), Just(90_000)],
        ) {
            let exact = ticks as f64 / f64::from(timescale);
            let printed = (exact * 100_000.0 + 0.5).floor() / 100_000.0;
            prop_assume!(printed > 0.0);
            let player = bytes as f64 * 8.0 / printed;
            let ours = segment_bitrate(bytes, ticks, timescale) as f64;
            prop_assert!(ours >= player * (1.0 - 1e-12), "{ours} < {player}");
        }
    }

    #[test]
    fn frame_rates_snap_to_common_values_pitfall_41() {
        assert_eq!(snap_frame_rate(29.998), 30.0);
        assert_eq!(snap_frame_rate(29.97), 29.97);
        assert_eq!(snap_frame_rate(29.95), 29.97);
        assert_eq!(snap_frame_rate(25.01), 25.0);
        assert_eq!(snap_frame_rate(59.95), 59.94);
        assert_eq!(snap_frame_rate(23.98), 23.976);
        assert_eq!(snap_frame_rate(17.3), 17.3);
    }
}
