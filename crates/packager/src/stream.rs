//! One stream's packaging state: demuxed frames in, init segments, media
//! segments and the live window of each track out.
//!
//! Time is an argument: every call takes the wall-clock `now`, used to stamp
//! segments (PROGRAM-DATE-TIME) and to keep the DASH Periods anchored to the
//! wall clock ([`PeriodClock`]); no clock is read here.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use weir_flv::{AudioConfig, DemuxEvent, Frame, TrackKind, VideoConfig};

use crate::boxes::{self, AudioCodec, AudioEntry, VisualCodec, VisualEntry};
use crate::clock::{MediaTime, PeriodClock, Periods, Verdict};
use crate::cuts::{CutPolicy, LaneCuts, RefCut};
use crate::filler::{filler_frames, silent_aac_frame, FillSource};
use crate::names::{FileName, InstanceId, TrackId};
use crate::pdt::Anchors;
use crate::segmenter::{FrameIn, Made, PartGrid, Timing, TrackSegmenter};
use crate::track::{Carried, MediaParams, Track, TrackConfig};
pub use crate::view::{
    segment_bitrate, snap_frame_rate, AudioParams, OpenSegment, PackagerError, PartInfo,
    SegmentInfo, TrackView, VideoParams,
};

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
    /// The video track (by its index) whose cuts the other tracks follow;
    /// the first video track when unset or absent.
    pub reference_video: Option<u8>,
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
            reference_video: None,
        }
    }
}

/// What the host must act on: store the bytes under the URI, refresh playlists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackagerEvent {
    Init {
        track: TrackId,
        name: FileName,
        bytes: Bytes,
    },
    Segment {
        track: TrackId,
        info: SegmentInfo,
        bytes: Bytes,
    },
    /// A part (CMAF chunk) of the segment in progress is complete.
    Part {
        track: TrackId,
        info: PartInfo,
        bytes: Bytes,
    },
    /// The segment left the live window (keep it and its parts fetchable
    /// for their availability time).
    Removed {
        track: TrackId,
        name: FileName,
        parts: Vec<FileName>,
    },
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

/// A track and how it cuts.
struct Lane {
    track: Track,
    cuts: LaneCuts,
}

/// The stream's tracks in [`TrackId`] order (video first). A stream has a
/// handful, so a sorted `Vec` searched in place beats a map on the per-frame
/// path.
#[derive(Default)]
struct Lanes(Vec<Lane>);

impl Lanes {
    fn get(&self, id: &TrackId) -> Option<&Lane> {
        self.0.iter().find(|l| l.track.id == *id)
    }

    fn get_mut(&mut self, id: &TrackId) -> Option<&mut Lane> {
        self.0.iter_mut().find(|l| l.track.id == *id)
    }

    fn contains_key(&self, id: &TrackId) -> bool {
        self.get(id).is_some()
    }

    fn first_id(&self) -> Option<TrackId> {
        self.0.first().map(|l| l.track.id)
    }

    fn values(&self) -> impl Iterator<Item = &Lane> {
        self.0.iter()
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut Lane> {
        self.0.iter_mut()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn remove(&mut self, id: &TrackId) -> Option<Lane> {
        let i = self.0.iter().position(|l| l.track.id == *id)?;
        Some(self.0.remove(i))
    }

    fn insert(&mut self, lane: Lane) {
        let i = self.0.partition_point(|l| l.track.id < lane.track.id);
        self.0.insert(i, lane);
    }
}

/// What the stream is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Live,
    /// The publisher left and its media is all published; a new one may
    /// come back ([`StreamPackager::reconnect`]).
    Waiting,
    Ended,
}

/// The time the publisher was away, filled ([`crate::filler`]).
#[derive(Default)]
struct Gap {
    /// Added to every incoming timestamp: the filled gaps so far, so that
    /// media time keeps pace with the wall clock across them.
    offset_ms: i64,
    /// Where the filler ended: the next publisher's first frame goes there.
    fill_to_ms: Option<i64>,
    /// Filler frames are being packaged (not the publisher's media).
    filling: bool,
}

/// TARGETDURATION shared by the media playlists, fixed when they are first
/// published (HLS-PL-02, HLS-MV-02).
#[derive(Default)]
struct Target {
    duration: Option<u32>,
    raised: bool,
    longest_segment: Duration,
}

/// A new decoder configuration of one track, as [`StreamPackager`] sets it up.
struct TrackSetup {
    timescale: u32,
    default_duration: u32,
    timing: Timing,
    codec: String,
    record: Bytes,
    init: Bytes,
    params: MediaParams,
}

/// Packages one stream: any number of video and audio tracks, each with
/// its own segmenter, window and init segment.
///
/// Feed it the demuxer's events in order ([`push`](Self::push),
/// [`push_track`](Self::push_track)) with the wall-clock time they
/// arrived; tell it when the publisher leaves, comes back or the stream
/// ends. After each call, drain [`poll_event`](Self::poll_event) (files to
/// store or retire) and read the live state ([`tracks`](Self::tracks),
/// [`target_duration`](Self::target_duration), [`clock`](Self::clock)) to
/// write manifests ([`crate::manifests`]). Nothing here reads a clock or
/// does I/O.
///
/// Cuts: the reference track (the first video track, else the first audio
/// track) cuts on its key frames at the target duration and opens DASH
/// Periods. Every other video track cuts on its own key frames, at the
/// reference's cuts where its key frames allow, and publishes whether its
/// segments are aligned with the reference's ([`TrackView::aligned`]).
/// Audio tracks cut at the frame nearest each reference cut.
pub struct StreamPackager {
    config: PackagerConfig,
    start: InstanceStart,
    lanes: Lanes,
    /// The track whose cuts the others follow ([`Self::choose_reference`]).
    reference: Option<TrackId>,
    policy: CutPolicy,
    periods: Periods,
    anchors: Anchors,
    /// Frames of the other tracks that came before the reference video
    /// track's first key frame, replayed from its time once it comes
    /// (interleaving puts audio first): every track starts together.
    held: VecDeque<(TrackId, Frame)>,
    gap: Gap,
    target: Target,
    phase: Phase,
    events: VecDeque<PackagerEvent>,
    /// The latest `now` seen, for segments closed by `end`.
    now: SystemTime,
}

/// Frames held while waiting for the reference's first key frame (~10 s
/// of one audio track).
const MAX_HELD: usize = 480;

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
            lanes: Lanes::default(),
            reference: None,
            policy,
            periods: Periods::new(threshold),
            anchors: Anchors {
                list: Vec::new(),
                pending: true,
            },
            held: VecDeque::new(),
            gap: Gap::default(),
            target: Target::default(),
            phase: Phase::Live,
            events: VecDeque::new(),
            now: SystemTime::UNIX_EPOCH,
        }
    }

    /// The track whose cuts the others follow: the first video track, else
    /// the first audio track.
    fn reference(&self) -> Option<TrackId> {
        self.reference
    }

    /// The configured video track if present, else the first track (video
    /// orders first). Chosen again whenever a track is added.
    fn choose_reference(&self) -> Option<TrackId> {
        let configured = self
            .config
            .reference_video
            .map(|i| TrackId::new(TrackKind::Video, i))
            .filter(|id| self.lanes.contains_key(id));
        configured.or_else(|| self.lanes.first_id())
    }

    /// Whether a GOP longer than the published TARGETDURATION forced it up
    /// (the host logs it, naming the encoder's GOP).
    pub fn target_raised(&self) -> bool {
        self.target.raised
    }

    /// The TARGETDURATION of the media playlists, once they can be served:
    /// every track has [`MIN_SEGMENTS`] segments (or the stream ended). It is
    /// the configured target or the longest segment seen by then, rounded, and
    /// does not change afterwards — unless a later GOP is longer still, where
    /// Weir raises it rather than list an EXTINF above it (HLS-LIVE-06 option
    /// b, as gohlslib and Wowza do); [`target_raised`](Self::target_raised) reports that.
    pub fn target_duration(&mut self) -> Option<u32> {
        if self.lanes.is_empty() {
            return None;
        }
        let longest = self
            .lanes
            .values()
            .flat_map(|l| l.track.window.segments().iter())
            .map(|s| ((s.duration_secs() + 0.5).floor()) as u32)
            .max()
            .unwrap_or(0);
        match self.target.duration {
            Some(t) if longest > t => {
                self.target.raised = true;
                self.target.duration = Some(longest);
            }
            Some(_) => {}
            None => {
                let ended = self.phase == Phase::Ended;
                let ready = self.lanes.values().all(|l| {
                    let n = l.track.window.segments().len();
                    n >= MIN_SEGMENTS || (ended && n > 0)
                });
                if ready {
                    let configured = self.config.target_duration.as_secs_f64().ceil() as u32;
                    self.target.duration = Some(configured.max(longest).max(1));
                }
            }
        }
        self.target.duration
    }

    pub fn instance(&self) -> InstanceId {
        self.start.instance
    }

    /// Where instance `next` of the same key starts, once this one is over:
    /// after the last segment number any track used, and one discontinuity
    /// further (the break between the instances, as if it had slid out of
    /// the window: HLS-PL-04).
    pub fn successor(&self, next: InstanceId) -> InstanceStart {
        let media_sequence = self
            .lanes
            .values()
            .map(|l| l.track.window.next_number())
            .max()
            .unwrap_or(self.start.media_sequence);
        let discontinuity_sequence = self
            .lanes
            .values()
            .map(|l| l.track.window.discontinuities_so_far())
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
        self.phase == Phase::Ended
    }

    pub fn config(&self) -> &PackagerConfig {
        &self.config
    }

    /// The DASH presentation timeline: AST and the Periods.
    pub fn clock(&self) -> &PeriodClock {
        self.periods.clock()
    }

    /// The longest segment made so far, over every track (MPD@maxSegmentDuration).
    pub fn longest_segment(&self) -> Duration {
        self.target.longest_segment
    }

    /// Start a new DASH Period at the next cut of every track, anchored to
    /// the wall clock afresh (the drift guard does this by itself).
    pub fn split_period(&mut self) {
        self.periods.split();
    }

    /// Every track's live state, video tracks first.
    pub fn tracks(&self) -> Vec<TrackView> {
        let reference = self
            .reference()
            .and_then(|r| self.lanes.get(&r))
            .map(|l| l.track.window.segments());
        self.lanes
            .values()
            .map(|l| {
                let aligned = match (l.track.id.kind, reference) {
                    (TrackKind::Video, Some(r)) => aligned(l.track.window.segments(), r),
                    _ => true,
                };
                l.track.view(aligned)
            })
            .collect()
    }

    /// One track's live state.
    pub fn track(&self, id: TrackId) -> Option<TrackView> {
        self.tracks().into_iter().find(|v| v.id == id)
    }

    /// The publisher left: everything it sent is published now, rather
    /// than when (and if) another publisher's media comes, so that viewers
    /// get the tail of the stream during the grace period and the last
    /// segment is listed on time. Its open segments close, their last
    /// sample taking the track's default duration; the playlists stay live.
    pub fn publisher_left(&mut self, now: SystemTime) -> Result<(), PackagerError> {
        if self.phase != Phase::Live {
            return Ok(());
        }
        self.now = now;
        self.flush_all()?;
        // Cuts of the closed segments no longer apply; the next frames
        // start segments of their own.
        for lane in self.lanes.values_mut() {
            lane.cuts.forget();
        }
        self.held.clear();
        self.phase = Phase::Waiting;
        Ok(())
    }

    /// Between [`publisher_left`](Self::publisher_left) and
    /// [`reconnect`](Self::reconnect): nothing is in progress, and nothing
    /// is to be predicted (LL-DASH lists no segment ahead).
    pub fn is_waiting(&self) -> bool {
        self.phase == Phase::Waiting
    }

    /// The publisher reconnected within the grace period, at `now`: the time
    /// it was away is filled ([`crate::filler`]) where the tracks allow, and
    /// the next segment of each track starts after a discontinuity
    /// (HLS-LIVE-08).
    pub fn reconnect(&mut self, now: SystemTime) -> Result<(), PackagerError> {
        if self.phase == Phase::Waiting {
            self.fill_gap(now)?;
            self.phase = Phase::Live;
        }
        for lane in self.lanes.values_mut() {
            lane.track.pending_discontinuity = true;
            lane.cuts.started = false;
        }
        self.held.clear();
        self.anchors.pending = true;
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
        let Some(&(wall, media)) = self.anchors.list.last() else {
            return Ok(());
        };
        let Ok(since) = now.duration_since(wall) else {
            return Ok(());
        };
        let fill_to = media.saturating_add(i64::try_from(since.as_millis()).unwrap_or(i64::MAX));
        let window = u32::try_from(self.config.window.max(1)).unwrap_or(u32::MAX);
        let longest = self.config.target_duration.saturating_mul(window);
        let mut sources = Vec::with_capacity(self.lanes.len());
        for l in self.lanes.values() {
            let t = &l.track;
            let (Some(frame), Some(end_ticks)) = (t.filler.clone(), t.seg.end_ticks()) else {
                return Ok(());
            };
            let timescale = t.config.timescale.max(1);
            // Video: one key frame per part (LL) or per segment; audio:
            // frame by frame.
            let step_ticks = match t.id.kind {
                TrackKind::Video => {
                    let step = if self.config.low_latency {
                        self.config.part_duration
                    } else {
                        self.config.target_duration
                    };
                    u64::try_from(step.as_millis()).unwrap_or(u64::MAX) * u64::from(timescale)
                        / 1000
                }
                TrackKind::Audio => u64::from(t.config.default_duration),
            };
            sources.push(FillSource {
                track: t.id,
                frame,
                end_ticks,
                timescale,
                step_ticks,
            });
        }
        let frames = filler_frames(&sources, fill_to, longest);
        if frames.is_empty() {
            return Ok(());
        }
        self.gap.filling = true;
        let result = frames
            .iter()
            .try_for_each(|(id, f)| self.frame_at(*id, f, now));
        self.gap.filling = false;
        self.gap.fill_to_ms = Some(fill_to);
        result
    }

    /// The stream is over: close the open segments.
    pub fn end(&mut self) -> Result<(), PackagerError> {
        self.flush_all()?;
        self.phase = Phase::Ended;
        Ok(())
    }

    /// Closes every track's open segment.
    fn flush_all(&mut self) -> Result<(), PackagerError> {
        for i in 0..self.lanes.len() {
            let Some(id) = self.lanes.0.get(i).map(|l| l.track.id) else {
                continue;
            };
            if let Some(l) = self.lanes.get_mut(&id) {
                let d = l.track.config.default_duration;
                l.track.seg.flush(d);
            }
            self.drain(id)?;
        }
        Ok(())
    }

    /// An event of a single-track publish (track 0 of each kind).
    pub fn push(&mut self, event: &DemuxEvent, now: SystemTime) -> Result<(), PackagerError> {
        self.push_track(0, event, now)
    }

    /// An event of track `index` of its kind (an E-RTMP multitrack publish,
    /// or one rendition of several publishes combined).
    pub fn push_track(
        &mut self,
        index: u8,
        event: &DemuxEvent,
        now: SystemTime,
    ) -> Result<(), PackagerError> {
        self.now = now;
        match event {
            DemuxEvent::VideoConfig { config, .. } => {
                self.new_video(TrackId::new(TrackKind::Video, index), config)?;
            }
            DemuxEvent::AudioConfig { config, .. } => {
                self.new_audio(TrackId::new(TrackKind::Audio, index), config)?;
            }
            DemuxEvent::Frame(frame) => self.frame(TrackId::new(frame.track, index), frame, now)?,
            DemuxEvent::EndOfSequence(_) => {}
        }
        Ok(())
    }

    /// A video configuration of any codec Weir packages; the demuxer has
    /// already refused the others.
    fn new_video(&mut self, id: TrackId, config: &VideoConfig) -> Result<(), PackagerError> {
        let (codec, record) = match config {
            VideoConfig::Avc(c) => (VisualCodec::Avc, c.record.clone()),
            VideoConfig::Hevc(c) => (VisualCodec::Hevc, c.record.clone()),
            VideoConfig::Av1(c) => (VisualCodec::Av1, c.record.clone()),
            // vpcC is a FullBox: its payload starts with version and flags,
            // which E-RTMP may or may not have sent.
            VideoConfig::Vp9(c) => (VisualCodec::Vp9, c.vpcc_box_payload()),
            VideoConfig::Unsupported { .. } => return Ok(()),
        };
        let Some(format) = config.format() else {
            return Ok(());
        };
        let init = boxes::visual_init(
            1,
            &VisualEntry {
                codec,
                record: &record,
                width: format.width,
                height: format.height,
                sar: format.sar,
                colour: format.colour,
            },
        )?;
        let params = VideoParams {
            width: format.width,
            height: format.height,
            frame_rate: format
                .frame_rate
                .filter(|(_, d)| *d > 0)
                .map(|(n, d)| f64::from(n) / f64::from(d)),
            sar: format.sar,
            colour: format.colour,
        };
        let timescale = boxes::VIDEO_TIMESCALE;
        self.new_config(
            id,
            TrackSetup {
                timescale,
                default_duration: timescale / 30,
                timing: Timing::FromTimestamps,
                codec: config.codec_string().unwrap_or_default(),
                record: config.record().clone(),
                init,
                params: MediaParams::Video(params),
            },
        )
    }

    /// An audio configuration of any codec Weir packages: its sample entry,
    /// its sample rate as the timescale, frames counted in samples.
    fn new_audio(&mut self, id: TrackId, config: &AudioConfig) -> Result<(), PackagerError> {
        // The configuration box, converted from what the publisher sent.
        let converted = match config {
            AudioConfig::Opus(o) => o.dops(),
            AudioConfig::Flac(f) => f.dfla(),
            AudioConfig::Ac3(a) => a.dac3(),
            AudioConfig::Eac3(e) => e.dec3(),
            AudioConfig::Aac(_) | AudioConfig::Mp3(_) => Bytes::new(),
            AudioConfig::Unsupported { .. } => return Ok(()),
        };
        let (codec, ticks, channels) = match config {
            AudioConfig::Aac(aac) => (
                AudioCodec::Aac { asc: &aac.record },
                boxes::audio_frame_ticks(aac),
                boxes::AudioEntry::aac(aac).channels,
            ),
            AudioConfig::Mp3(m) => (
                AudioCodec::Mp3 {
                    object_type: m.object_type_indication(),
                },
                m.samples_per_frame,
                u16::from(m.channels),
            ),
            // 20 ms, what encoders send by default; each packet's TOC says.
            AudioConfig::Opus(o) => (
                AudioCodec::Opus { dops: &converted },
                960,
                u16::from(o.channels),
            ),
            AudioConfig::Flac(f) => (
                AudioCodec::Flac { dfla: &converted },
                u32::from(f.max_block_size.max(1)),
                u16::from(f.channels),
            ),
            AudioConfig::Ac3(a) => (
                AudioCodec::Ac3 { dac3: &converted },
                1536,
                u16::from(a.channels),
            ),
            AudioConfig::Eac3(e) => (
                AudioCodec::Eac3 { dec3: &converted },
                1536,
                u16::from(e.channels),
            ),
            AudioConfig::Unsupported { .. } => return Ok(()),
        };
        let timescale = config.sample_rate().max(1);
        let init = boxes::sound_init(
            2,
            timescale,
            &AudioEntry {
                codec,
                channels: channels.max(1),
                sample_rate: timescale,
            },
        )?;
        self.new_config(
            id,
            TrackSetup {
                timescale,
                default_duration: ticks,
                timing: Timing::FrameCount {
                    ticks_per_frame: ticks,
                    // Follow the publisher's clock once it is 1.5 frames away
                    // (MP4-SEG-10: re-anchor past about one frame of drift).
                    max_drift_ms: (u64::from(ticks) * 1500 / u64::from(timescale)).max(20) as u32,
                },
                codec: config.codec_string().unwrap_or_default(),
                record: config.record().clone(),
                init,
                params: MediaParams::Audio(AudioParams {
                    sample_rate: timescale,
                    channels: config.channels(),
                }),
            },
        )?;
        if let Some(l) = self.lanes.get_mut(&id) {
            l.track.filler = match config {
                AudioConfig::Aac(aac) => silent_aac_frame(aac),
                _ => None,
            };
            // AAC frames all have the length of its configuration; other
            // codecs say frame by frame.
            l.track.frame_samples = match config {
                AudioConfig::Aac(_) => None,
                other => Some(other.clone()),
            };
        }
        Ok(())
    }

    /// A first or changed decoder configuration (FLV-SEQ-01): close the open
    /// segment, publish a new init version, mark a discontinuity.
    fn new_config(&mut self, id: TrackId, setup: TrackSetup) -> Result<(), PackagerError> {
        let timescale = setup.timescale;
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
        if let Some(l) = self.lanes.get_mut(&id) {
            if l.track.config.record == setup.record {
                return Ok(());
            }
            let d = l.track.config.default_duration;
            l.track.seg.flush(d);
        }
        self.drain(id)?;
        let reference = self.reference();
        let (version, carried, cuts) = match self.lanes.remove(&id) {
            Some(mut l) => {
                // The old configuration's frames cannot stand in for the
                // new one, nor can video go on before a key frame of it.
                l.cuts.started = false;
                (l.track.config.version + 1, l.track.carry(), l.cuts)
            }
            // A new instance continues the numbering of the one before
            // it at the same URLs (playlists never go backwards); a track
            // that starts late takes the others' numbering, so that the
            // renditions' sequence numbers stay comparable.
            None => {
                let next = self
                    .lanes
                    .values()
                    .map(|l| l.track.window.next_number())
                    .max()
                    .unwrap_or(self.start.media_sequence);
                // A track that starts after the first cut joins the MPD at
                // the next Period (DASH-MPD-02: a listed Period's sets never
                // change).
                let first_period = if self.periods.started() {
                    self.periods.split();
                    self.periods.current() + 1
                } else {
                    0
                };
                let carried = Carried::fresh(next, self.start.discontinuity_sequence, first_period);
                (1, carried, LaneCuts::default())
            }
        };
        if version > 1 {
            // All media playlists share their discontinuities (HLS-MV-02):
            // the other tracks break at the same point.
            for l in self.lanes.values_mut() {
                l.track.pending_discontinuity = true;
            }
        }
        let init = FileName::Init {
            track: id,
            instance: self.start.instance,
            version,
        };
        self.events.push_back(PackagerEvent::Init {
            track: id,
            name: init,
            bytes: setup.init,
        });
        // Until its next cut, a new configuration stays in the Period the
        // track is in.
        let mut seg = TrackSegmenter::new(timescale, setup.timing, parts);
        let follows = reference.is_some_and(|r| r != id && r.kind == TrackKind::Video)
            && id.kind == TrackKind::Audio;
        seg.set_period(if follows {
            cuts.period()
        } else {
            self.periods.current()
        });
        let track = Track::new(
            id,
            self.start.instance,
            TrackConfig {
                timescale,
                default_duration: setup.default_duration,
                codec: setup.codec,
                record: setup.record,
                version,
                init,
                params: setup.params,
            },
            seg,
            carried,
        );
        self.lanes.insert(Lane { track, cuts });
        self.reference = self.choose_reference();
        Ok(())
    }

    /// A frame of the publisher, shifted past the gaps filled so far.
    fn frame(&mut self, id: TrackId, f: &Frame, now: SystemTime) -> Result<(), PackagerError> {
        if let Some(to) = self.gap.fill_to_ms.take() {
            // The first frame after a filled gap goes where the filler ended.
            let at = f.dts_ms.saturating_add(self.gap.offset_ms);
            self.gap.offset_ms = self.gap.offset_ms.saturating_add((to - at).max(0));
        }
        if self.gap.offset_ms == 0 {
            return self.frame_at(id, f, now);
        }
        let shifted = Frame {
            dts_ms: f.dts_ms.saturating_add(self.gap.offset_ms),
            pts_ms: f.pts_ms.saturating_add(self.gap.offset_ms),
            ..f.clone()
        };
        self.frame_at(id, &shifted, now)
    }

    fn frame_at(&mut self, id: TrackId, f: &Frame, now: SystemTime) -> Result<(), PackagerError> {
        let Some(reference) = self.reference() else {
            return Ok(());
        };
        if !self.lanes.contains_key(&id) {
            return Ok(());
        }
        if id == reference && id.kind == TrackKind::Video {
            return self.reference_video(id, f, now);
        }
        // A dropped frame's discontinuity (the first after a reconnect,
        // before the reference's key frame) passes to the first frame kept:
        // the track follows the new publisher's clock from there.
        let carried;
        let started = self.video_started_for(reference);
        let f = match self.lanes.get_mut(&id) {
            Some(l) if started && l.cuts.carried_discontinuity => {
                l.cuts.carried_discontinuity = false;
                carried = Frame {
                    discontinuity: true,
                    ..f.clone()
                };
                &carried
            }
            _ => f,
        };
        if reference.kind == TrackKind::Video && !started {
            if self.held.len() >= MAX_HELD {
                self.held.pop_front();
            }
            self.held.push_back((id, f.clone()));
            return Ok(());
        }
        match id.kind {
            TrackKind::Video => self.follower_video(id, f, now),
            TrackKind::Audio => self.audio(id, id == reference, f, now),
        }
    }

    /// The reference track `id` cut at `at_ms`, opening a segment in
    /// `period`: every other track gets the cut to follow.
    fn hand_on_cut(&mut self, id: TrackId, at_ms: i64, period: u64) {
        let Some(number) = self.lanes.get(&id).map(|l| l.track.next_segment_number()) else {
            return;
        };
        for lane in self.lanes.values_mut() {
            if lane.track.id == id {
                lane.track.seg.set_period(period);
            } else {
                lane.cuts.reference_cut(RefCut {
                    at_ms,
                    period,
                    number,
                });
            }
        }
    }

    /// The reference is video and has had its first key frame: the other
    /// tracks' frames go through.
    fn video_started_for(&self, reference: TrackId) -> bool {
        reference.kind == TrackKind::Video
            && self.lanes.get(&reference).is_some_and(|l| l.cuts.started)
    }

    /// The reference video track: cuts on its key frames at the target
    /// duration, and hands each cut to the other tracks.
    fn reference_video(
        &mut self,
        id: TrackId,
        f: &Frame,
        now: SystemTime,
    ) -> Result<(), PackagerError> {
        let Some(l) = self.lanes.get_mut(&id) else {
            return Ok(());
        };
        let starting = !l.cuts.started;
        if starting {
            if !f.keyframe {
                // Undecodable without its key frame (pitfall 24).
                return Ok(());
            }
            l.cuts.started = true;
        }
        let pending_disc = l.track.pending_discontinuity;
        let cut = l
            .cuts
            .reference_video(self.policy, f.dts_ms, f.keyframe, pending_disc);
        if cut {
            let period = self.periods.next(f.discontinuity || pending_disc);
            self.hand_on_cut(id, f.dts_ms, period);
        }
        self.push_video(id, f, cut, now)?;
        if starting {
            let held = std::mem::take(&mut self.held);
            for (hid, h) in held {
                if h.dts_ms < f.dts_ms {
                    if let Some(l) = self.lanes.get_mut(&hid) {
                        l.cuts.carried_discontinuity |= h.discontinuity;
                    }
                    continue;
                }
                self.frame_at(hid, &h, now)?;
            }
        }
        Ok(())
    }

    /// Another video track: cuts on its own key frames, at the reference's
    /// cuts where they allow ([`LaneCuts::follow_video`]).
    fn follower_video(
        &mut self,
        id: TrackId,
        f: &Frame,
        now: SystemTime,
    ) -> Result<(), PackagerError> {
        let current = self.periods.current();
        let Some(l) = self.lanes.get_mut(&id) else {
            return Ok(());
        };
        if !l.cuts.started {
            if !f.keyframe {
                return Ok(());
            }
            l.cuts.started = true;
        }
        let cut = l.cuts.follow_video(
            self.policy,
            f.dts_ms,
            f.keyframe,
            l.track.pending_discontinuity,
            current,
        );
        if let Some(cut) = cut {
            l.track.starts_segment(cut);
        }
        self.push_video(id, f, cut.is_some(), now)
    }

    /// Hands a video frame that passed its track's cut decision to the
    /// segmenter.
    fn push_video(
        &mut self,
        id: TrackId,
        f: &Frame,
        cut: bool,
        now: SystemTime,
    ) -> Result<(), PackagerError> {
        self.anchors.take(now, f.dts_ms);
        let filling = self.gap.filling;
        if let Some(l) = self.lanes.get_mut(&id) {
            let t = &mut l.track;
            if !filling {
                if f.keyframe {
                    t.filler = Some(f.data.clone());
                }
                t.frame_rate.observe(f.dts_ms, f.discontinuity);
            }
            // A reconnect's discontinuity goes to the segment it cuts, not
            // to a frame before it.
            let disc = cut && std::mem::take(&mut t.pending_discontinuity) || f.discontinuity;
            t.seg.push(FrameIn {
                dts_ms: f.dts_ms,
                pts_ms: f.pts_ms,
                sync: f.keyframe,
                data: f.data.clone(),
                cut,
                discontinuity: disc,
                samples: None,
            });
        }
        self.drain(id)
    }

    /// An audio track: the reference of an audio-only stream cuts at the
    /// target duration; any other follows the reference's cuts.
    fn audio(
        &mut self,
        id: TrackId,
        is_reference: bool,
        f: &Frame,
        now: SystemTime,
    ) -> Result<(), PackagerError> {
        let current = self.periods.current();
        let overdue_ms = self
            .policy
            .target_ms
            .saturating_mul(i64::try_from(self.config.window.max(1)).unwrap_or(i64::MAX));
        let Some(l) = self.lanes.get_mut(&id) else {
            return Ok(());
        };
        let cut = if is_reference {
            let cut = l.cuts.reference_audio(self.policy, f.dts_ms);
            if cut {
                let disc = f.discontinuity || l.track.pending_discontinuity;
                let period = self.periods.next(disc);
                self.hand_on_cut(id, f.dts_ms, period);
            }
            cut
        } else {
            // Cut at the frame whose decode time (counted in samples,
            // which runs up to a frame and a half from the rounded
            // millisecond timestamps) is nearest the reference cut, so
            // audio segments match video's within half a frame and
            // their last part does not spill into a sliver.
            let reach_ms = l.track.seg.decode_time_ms(f.dts_ms, f.discontinuity)
                + i64::from(l.track.config.default_duration) * 500
                    / i64::from(l.track.config.timescale.max(1));
            let cut = l.cuts.follow_audio(f.dts_ms, reach_ms, current, overdue_ms);
            if let Some(cut) = cut {
                l.track.starts_segment(cut);
            }
            cut.is_some()
        };
        self.anchors.take(now, f.dts_ms);
        if let Some(l) = self.lanes.get_mut(&id) {
            // An audio frame before the cut (the video's first key
            // frame after a reconnect) leaves the discontinuity to
            // the frame that cuts.
            let t = &mut l.track;
            let disc = cut && std::mem::take(&mut t.pending_discontinuity) || f.discontinuity;
            let samples = t
                .frame_samples
                .as_ref()
                .and_then(|c| c.frame_samples(&f.data));
            t.seg.push(FrameIn {
                dts_ms: f.dts_ms,
                pts_ms: f.pts_ms,
                sync: true,
                data: f.data.clone(),
                cut,
                discontinuity: disc,
                samples,
            });
        }
        self.drain(id)
    }

    /// Turns what track `id`'s segmenter made into parts, segments and
    /// window changes.
    fn drain(&mut self, id: TrackId) -> Result<(), PackagerError> {
        let window = self.config.window.max(1);
        let reference = self.reference() == Some(id);
        let Some(l) = self.lanes.get_mut(&id) else {
            return Ok(());
        };
        let t = &mut l.track;
        let ms = |ticks: u64, timescale: u32| {
            (ticks as i128 * 1000 / i128::from(timescale.max(1))) as i64
        };
        while let Some(out) = t.seg.poll() {
            match out {
                Made::Chunk(chunk) => {
                    let pdt = if chunk.index == 0 {
                        self.anchors
                            .program_date_time(ms(chunk.base_decode_time, t.config.timescale))
                    } else {
                        SystemTime::UNIX_EPOCH
                    };
                    let (info, bytes) = t.write_chunk(&chunk, pdt)?;
                    self.events.push_back(PackagerEvent::Part {
                        track: id,
                        info,
                        bytes,
                    });
                }
                Made::SegmentEnd {
                    base_decode_time,
                    duration,
                    discontinuity,
                    period,
                } => {
                    let timescale = t.config.timescale;
                    let pdt = self
                        .anchors
                        .program_date_time(ms(base_decode_time, timescale));
                    let Some(done) =
                        t.finish_segment(base_decode_time, duration, discontinuity, period, pdt)
                    else {
                        continue;
                    };
                    self.target.longest_segment = self
                        .target
                        .longest_segment
                        .max(MediaTime::new(duration, timescale).as_duration());
                    // The reference track keeps the DASH timeline on the wall clock.
                    if reference {
                        let start = MediaTime::new(base_decode_time, timescale);
                        let end = MediaTime::new(base_decode_time + duration, timescale);
                        let verdict = self
                            .periods
                            .clock_mut()
                            .segment_made(period, start, end, self.now);
                        // A segment of an older Period (the last one of a
                        // publisher, closed when the next one's media came)
                        // is late by the gap: its successor has a new Period
                        // already. Filler is made at once when the publisher
                        // is back, later than the times it covers: by design.
                        if matches!(verdict, Verdict::Drifted { .. })
                            && period == self.periods.current()
                            && !self.gap.filling
                        {
                            self.periods.split();
                        }
                    }
                    self.events.push_back(PackagerEvent::Segment {
                        track: id,
                        info: done.info,
                        bytes: done.bytes,
                    });
                    while let Some(old) = t.evict(window) {
                        self.events.push_back(PackagerEvent::Removed {
                            track: id,
                            name: old.name,
                            parts: old.parts.into_iter().map(|p| p.name).collect(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether `track`'s segments start and end where the reference's do,
/// over the time both windows cover: each boundary of one is a boundary
/// of the other (compared exactly, across timescales).
fn aligned(track: &VecDeque<SegmentInfo>, reference: &VecDeque<SegmentInfo>) -> bool {
    let bounds = |segs: &VecDeque<SegmentInfo>| -> Vec<(u128, u128)> {
        segs.iter()
            .map(|s| {
                (
                    u128::from(s.base_decode_time),
                    u128::from(s.timescale.max(1)),
                )
            })
            .collect()
    };
    let (a, b) = (bounds(track), bounds(reference));
    let cmp = |x: (u128, u128), y: (u128, u128)| (x.0 * y.1).cmp(&(y.0 * x.1));
    let (Some(&a0), Some(&b0), Some(&a1), Some(&b1)) = (a.first(), b.first(), a.last(), b.last())
    else {
        return true;
    };
    let lo = if cmp(a0, b0).is_ge() { a0 } else { b0 };
    let hi = if cmp(a1, b1).is_le() { a1 } else { b1 };
    let within = |x: &&(u128, u128)| cmp(**x, lo).is_ge() && cmp(**x, hi).is_le();
    let covered = |xs: &[(u128, u128)], ys: &[(u128, u128)]| {
        xs.iter()
            .filter(within)
            .all(|x| ys.iter().any(|y| cmp(*x, *y).is_eq()))
    };
    covered(&a, &b) && covered(&b, &a)
}

#[cfg(test)]
mod tests {
    use crate::view::{segment_bitrate, snap_frame_rate};
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
