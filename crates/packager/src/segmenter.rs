//! Frames → CMAF chunks (parts) grouped into segments.
//!
//! One [`TrackSegmenter`] per track turns millisecond frames into samples on
//! the track's timescale and groups them:
//! - every sample's duration is the next sample's decode time minus its own,
//!   so one sample is held back (lookahead) and `tfdt(n+1) = tfdt(n) + Σ
//!   durations` holds exactly (MP4-SEG-04);
//! - audio decode times come from sample counts at the sample-rate timescale,
//!   not from millisecond timestamps (MP4-SEG-10);
//! - a segment starts on a sync sample (MP4-SEG-07) and is a sequence of
//!   chunks (LL-HLS parts, LL-DASH chunks) cut on a [`PartGrid`] laid from
//!   the segment's start, so a segment whose length is a multiple of the
//!   grid step ends with a whole part, not a sliver (hls.js in low-latency
//!   mode can skip a 20 ms last part and stall).
//!
//! Cut decisions belong to the caller ([`TrackSegmenter::push`] takes `cut`):
//! the stream-level policy cuts video at key frames once the target duration
//! is reached and cuts audio at the video boundaries (or by duration for
//! audio-only streams). See [`crate::cuts`].

use std::collections::VecDeque;

use bytes::Bytes;

/// One sample on the track timescale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Decode time in track ticks.
    pub decode_time: u64,
    pub duration: u32,
    /// PTS − DTS in track ticks (negative offsets are legal, trun v1).
    pub composition_offset: i32,
    pub is_sync: bool,
    pub data: Bytes,
}

/// A CMAF chunk: consecutive samples of one segment (an LL-HLS part).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmafChunk {
    /// Index of the chunk within its segment.
    pub index: u32,
    /// Decode time of the first sample (the fragment's tfdt).
    pub base_decode_time: u64,
    pub samples: Vec<Sample>,
    /// Starts with a sync sample (INDEPENDENT=YES for a part).
    pub independent: bool,
    /// Its segment follows a discontinuity.
    pub discontinuity: bool,
    /// DASH Period of its segment.
    pub period: u64,
}

impl CmafChunk {
    pub fn duration(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.duration)).sum()
    }
}

/// A frame handed to [`TrackSegmenter::push`], on the publisher's
/// millisecond clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameIn {
    pub dts_ms: i64,
    pub pts_ms: i64,
    /// A sync sample: a video key frame; every audio frame.
    pub sync: bool,
    pub data: Bytes,
    /// Starts a new segment (must be a sync sample for video).
    pub cut: bool,
    /// The timeline breaks here (reconnect, jump, new configuration): the
    /// decode time follows the timestamp again, and a segment cut here is
    /// marked as following a discontinuity.
    pub discontinuity: bool,
    /// Its length in ticks when the codec says so frame by frame (Opus,
    /// FLAC, E-AC-3 frames differ in length): with [`Timing::FrameCount`],
    /// the next frame starts this far on; `None` takes `ticks_per_frame`.
    pub samples: Option<u32>,
}

/// What [`TrackSegmenter::push`] and [`TrackSegmenter::flush`] produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Made {
    /// A finished chunk of the current segment.
    Chunk(CmafChunk),
    /// The segment is complete: its chunks were all emitted before.
    SegmentEnd {
        base_decode_time: u64,
        duration: u64,
        /// The segment follows a discontinuity (reconnect, new configuration).
        discontinuity: bool,
        /// DASH Period the segment belongs to (see [`TrackSegmenter::set_period`]).
        period: u64,
    },
}

/// How a track converts millisecond timestamps into ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    /// Decode time = DTS ms × timescale / 1000 (video at 90 kHz: exact).
    FromTimestamps,
    /// Decode time advances by `ticks_per_frame` per frame (AAC: 1024, or
    /// 2048 with SBR); re-anchored on the timestamps only when they drift
    /// apart by more than `max_drift_ms` (a gap or a clock jump).
    FrameCount {
        ticks_per_frame: u32,
        max_drift_ms: u32,
    },
}

/// Where parts end, in track ticks.
///
/// Parts end at the first sample boundary at or past each multiple of `step`
/// from the segment's start (so audio, with 21 ms frames, ends its parts
/// where video does), within `[floor, limit]`: `limit` is the advertised PART-TARGET and
/// `floor` its 85 % (LLHLS-01). Only a segment's last part may be shorter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartGrid {
    step: u64,
    limit: u64,
    /// Grid points from here on (the segment's target duration) do not end a
    /// part: the segment may end at any frame now, and an audio segment
    /// ends a frame or two after its video cut, so the part runs on to
    /// `limit` rather than leave those frames as a sliver.
    stretch_from: u64,
}

impl PartGrid {
    /// `step`: the nominal part duration; `limit`: the longest part allowed
    /// (at least `step`).
    pub fn new(step: u64, limit: u64) -> Self {
        let step = step.max(1);
        PartGrid {
            step,
            limit: limit.max(step),
            stretch_from: u64::MAX,
        }
    }

    /// Let the part that reaches `segment_target` (ticks from the segment's
    /// start) run on to the limit (see `stretch_from`).
    pub fn stretch_from(mut self, segment_target: u64) -> Self {
        self.stretch_from = segment_target;
        self
    }

    /// Grid with a limit of `step` itself (every part at most `step`).
    #[cfg(test)]
    fn exact(step: u64) -> Self {
        Self::new(step, step)
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    fn floor(&self) -> u64 {
        self.limit.saturating_mul(85).div_ceil(100)
    }

    /// Whether a part that starts at `part_start` (relative to its
    /// segment's start) and lasts `len` ticks is closed before a sample of
    /// `duration` ticks.
    fn closes_before(&self, part_start: u64, len: u64, duration: u64) -> bool {
        if len.saturating_add(duration) > self.limit {
            return true;
        }
        if len < self.floor() {
            return false;
        }
        // The grid point this part aims at: the one after the grid point
        // nearest its start (a start rounded early or late by a frame keeps
        // its slot instead of drifting).
        let slot = (part_start + self.step / 2) / self.step + 1;
        let boundary = slot.saturating_mul(self.step);
        if boundary >= self.stretch_from {
            return false;
        }
        // A sample that starts before the grid point stays in this part: an
        // audio segment ends up to a frame past its video cut, and that
        // frame must not become a part of its own.
        part_start + len >= boundary
    }
}

#[derive(Debug)]
struct Pending {
    decode_time: u64,
    composition_offset: i32,
    is_sync: bool,
    data: Bytes,
    cut_before: bool,
    discontinuity: bool,
    period: u64,
    /// Its own length in ticks, when the codec says (frame-counted audio).
    samples: Option<u32>,
}

/// Segments one track.
#[derive(Debug)]
pub struct TrackSegmenter {
    timescale: u32,
    timing: Timing,
    parts: PartGrid,
    pending: Option<Pending>,
    /// Samples of the chunk being built.
    chunk: Vec<Sample>,
    chunk_index: u32,
    /// Decode time where the open segment starts.
    segment_start: Option<u64>,
    segment_discontinuity: bool,
    segment_period: u64,
    /// Period given to the segments cut from now on.
    period: u64,
    /// End (decode time + duration) of the last committed sample.
    committed_end: u64,
    started: bool,
    out: VecDeque<Made>,
}

impl TrackSegmenter {
    /// `parts`: how segments are divided into chunks, in track ticks.
    pub fn new(timescale: u32, timing: Timing, parts: PartGrid) -> Self {
        TrackSegmenter {
            timescale: timescale.max(1),
            timing,
            parts,
            pending: None,
            chunk: Vec::new(),
            chunk_index: 0,
            segment_start: None,
            segment_discontinuity: false,
            segment_period: 0,
            period: 0,
            committed_end: 0,
            started: false,
            out: VecDeque::new(),
        }
    }

    pub fn timescale(&self) -> u32 {
        self.timescale
    }

    /// The DASH Period of segments cut from the next pushed frame on. The
    /// host decides Periods (discontinuities, drift re-anchoring) and keeps
    /// them aligned across tracks; the segmenter only carries the number
    /// through its one-sample lookahead to [`Made::SegmentEnd`].
    pub fn set_period(&mut self, period: u64) {
        self.period = period;
    }

    /// Ticks for a millisecond time on this track's timescale (floor).
    pub fn ms_to_ticks(&self, ms: i64) -> u64 {
        let ms = u64::try_from(ms).unwrap_or(0);
        ms.saturating_mul(u64::from(self.timescale)) / 1000
    }

    /// Decode time the next pushed frame would get, if known (the end of the
    /// pending sample's predecessor chain).
    pub fn next_decode_time(&self) -> Option<u64> {
        self.pending.as_ref().map(|p| p.decode_time)
    }

    /// Add a frame. `cut` starts a new segment at this frame (it must be a
    /// sync sample for video); `discontinuity` marks that segment as following
    /// a timeline or configuration break.
    pub fn push(&mut self, frame: FrameIn) {
        let FrameIn {
            dts_ms,
            pts_ms,
            sync: is_sync,
            data,
            cut,
            discontinuity,
            samples,
        } = frame;
        let decode_time = self.decode_time_for(dts_ms, discontinuity);
        let offset_ticks = (pts_ms.saturating_sub(dts_ms) as i128 * i128::from(self.timescale)
            / 1000)
            .clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32;
        let next = Pending {
            decode_time,
            composition_offset: offset_ticks,
            is_sync,
            data,
            cut_before: cut || !self.started,
            discontinuity,
            period: self.period,
            samples,
        };
        if let Some(prev) = self.pending.replace(next) {
            // The held sample's duration is now known.
            let duration = decode_time.saturating_sub(prev.decode_time);
            self.commit(prev, duration);
        } else if let Some(p) = self.pending.as_mut() {
            p.cut_before = true;
        }
        self.started = true;
    }

    /// The stream ended (or the track's configuration changed): close the
    /// held sample with `last_duration_ticks` and the open segment.
    pub fn flush(&mut self, last_duration_ticks: u32) {
        if let Some(p) = self.pending.take() {
            let duration = p.samples.unwrap_or(last_duration_ticks);
            self.commit(p, u64::from(duration));
        }
        self.close_segment();
    }

    /// Where the track's media ends, in ticks, when nothing is held (after
    /// a [`flush`](Self::flush)); `None` before the first frame.
    pub fn end_ticks(&self) -> Option<u64> {
        (self.started && self.pending.is_none()).then_some(self.committed_end)
    }

    /// A segment is open (or a frame held that will open one): the next
    /// cut ends it.
    pub fn is_open(&self) -> bool {
        self.segment_start.is_some() || self.pending.is_some()
    }

    /// Next output, in order.
    pub fn poll(&mut self) -> Option<Made> {
        self.out.pop_front()
    }

    /// The decode time, in ms on the track timeline, that a frame pushed now
    /// with `dts_ms` would get.
    pub fn decode_time_ms(&self, dts_ms: i64, discontinuity: bool) -> i64 {
        let ticks = self.decode_time_for(dts_ms, discontinuity);
        i64::try_from(u128::from(ticks) * 1000 / u128::from(self.timescale)).unwrap_or(i64::MAX)
    }

    fn decode_time_for(&self, dts_ms: i64, discontinuity: bool) -> u64 {
        let from_ts = self.ms_to_ticks(dts_ms);
        let Some(prev) = &self.pending else {
            // After a flush (the publisher left) the track goes on where
            // its last sample ended, never before: tfdt stays monotonic
            // (MP4-SEG-04) although that sample's duration was a guess.
            return from_ts.max(self.committed_end);
        };
        match self.timing {
            Timing::FromTimestamps => from_ts.max(prev.decode_time),
            Timing::FrameCount {
                ticks_per_frame,
                max_drift_ms,
            } => {
                let counted = prev.decode_time + u64::from(prev.samples.unwrap_or(ticks_per_frame));
                let drift_ticks = from_ts.abs_diff(counted);
                let limit = u64::from(max_drift_ms) * u64::from(self.timescale) / 1000;
                if discontinuity || drift_ticks > limit {
                    // A gap or jump in the publisher's clock: follow it, but
                    // never go backwards.
                    from_ts.max(counted)
                } else {
                    counted
                }
            }
        }
    }

    fn commit(&mut self, p: Pending, duration: u64) {
        let duration = u32::try_from(duration).unwrap_or(u32::MAX);
        if p.cut_before || self.segment_start.is_none() {
            self.close_segment();
            self.open_segment(p.decode_time, p.discontinuity, p.period);
        }
        if let (Some(first), Some(start)) = (self.chunk.first(), self.segment_start) {
            let len: u64 = self.chunk.iter().map(|s| u64::from(s.duration)).sum();
            let part_start = first.decode_time.saturating_sub(start);
            if self
                .parts
                .closes_before(part_start, len, u64::from(duration))
            {
                self.close_chunk();
            }
        }
        self.committed_end = p.decode_time + u64::from(duration);
        self.chunk.push(Sample {
            decode_time: p.decode_time,
            duration,
            composition_offset: p.composition_offset,
            is_sync: p.is_sync,
            data: p.data,
        });
    }

    fn open_segment(&mut self, start: u64, discontinuity: bool, period: u64) {
        self.segment_start = Some(start);
        self.segment_discontinuity = discontinuity;
        self.segment_period = period;
        self.chunk_index = 0;
    }

    fn close_chunk(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        let samples = std::mem::take(&mut self.chunk);
        let base = samples.first().map(|s| s.decode_time).unwrap_or_default();
        let independent = samples.first().is_some_and(|s| s.is_sync);
        self.out.push_back(Made::Chunk(CmafChunk {
            index: self.chunk_index,
            base_decode_time: base,
            samples,
            independent,
            discontinuity: self.segment_discontinuity,
            period: self.segment_period,
        }));
        self.chunk_index += 1;
    }

    fn close_segment(&mut self) {
        self.close_chunk();
        if let Some(start) = self.segment_start.take() {
            self.out.push_back(Made::SegmentEnd {
                base_decode_time: start,
                duration: self.committed_end.saturating_sub(start),
                discontinuity: self.segment_discontinuity,
                period: self.segment_period,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cuts::CutPolicy;
    use proptest::prelude::*;

    const VIDEO_TS: u32 = 90_000;

    fn drain(s: &mut TrackSegmenter) -> Vec<Made> {
        std::iter::from_fn(|| s.poll()).collect()
    }

    fn chunks(out: &[Made]) -> Vec<&CmafChunk> {
        out.iter()
            .filter_map(|o| match o {
                Made::Chunk(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    fn segment_ends(out: &[Made]) -> Vec<(u64, u64, u64)> {
        out.iter()
            .filter_map(|o| match o {
                Made::SegmentEnd {
                    base_decode_time,
                    duration,
                    ..
                } => Some((*base_decode_time, *duration)),
                _ => None,
            })
            .enumerate()
            .map(|(i, (t, d))| (i as u64, t, d))
            .collect()
    }

    /// 30 fps with RTMP's millisecond rounding (33/34 ms steps, pitfall 41).
    fn ms_of_frame(n: i64) -> i64 {
        (n * 1000 + 15) / 30
    }

    fn publish_video(frames: i64, gop: i64, target_ms: i64, part_ticks: u64) -> Vec<Made> {
        let mut s = TrackSegmenter::new(
            VIDEO_TS,
            Timing::FromTimestamps,
            PartGrid::exact(part_ticks),
        );
        let policy = CutPolicy { target_ms };
        let mut seg_start = None;
        for n in 0..frames {
            let dts = ms_of_frame(n);
            let key = n % gop == 0;
            let cut = policy.cut_video(seg_start, dts, key);
            if cut {
                seg_start = Some(dts);
            }
            s.push(FrameIn {
                dts_ms: dts,
                pts_ms: dts + 67,
                sync: key,
                data: Bytes::from(vec![n as u8; 10]),
                cut,
                discontinuity: false,
                samples: None,
            });
        }
        s.flush(3000);
        drain(&mut s)
    }

    /// tfdt(n+1) = tfdt(n) + Σ durations over every chunk (MP4-SEG-04).
    fn assert_continuous(cs: &[&CmafChunk]) {
        for w in cs.windows(2) {
            assert_eq!(
                w[1].base_decode_time,
                w[0].base_decode_time + w[0].duration(),
                "gap between chunk {} ({}) and {} ({})",
                w[0].base_decode_time,
                w[0].index,
                w[1].base_decode_time,
                w[1].index
            );
        }
    }

    #[test]
    fn two_second_gop_gives_two_second_segments_starting_on_keyframes_mp4_seg_07() {
        let out = publish_video(300, 60, 2000, 90_000 * 2);
        let ends = segment_ends(&out);
        assert_eq!(ends.len(), 5);
        for (i, (seg, base, dur)) in ends.iter().enumerate() {
            assert_eq!(*seg, i as u64);
            assert_eq!(*base, i as u64 * 180_000);
            if i < 4 {
                assert_eq!(*dur, 180_000, "segment {i}");
            }
        }
        let cs = chunks(&out);
        assert_continuous(&cs);
        for c in cs.iter().filter(|c| c.index == 0) {
            assert!(c.independent && c.samples[0].is_sync);
        }
        // Exactly the publisher's key frames are sync samples (pitfall 30).
        let syncs = cs
            .iter()
            .flat_map(|c| &c.samples)
            .filter(|s| s.is_sync)
            .count();
        assert_eq!(syncs, 5);
        // PTS − DTS of 67 ms at 90 kHz.
        assert_eq!(cs[0].samples[0].composition_offset, 67 * 90);
    }

    #[test]
    fn ntsc_29_97_keeps_exact_durations_from_millisecond_timestamps() {
        // 29.97 fps arrives as 33/34/33 ms steps; 60-frame GOPs last 2002 ms.
        let mut s = TrackSegmenter::new(VIDEO_TS, Timing::FromTimestamps, PartGrid::exact(90_000));
        let policy = CutPolicy { target_ms: 2000 };
        let mut start = None;
        for n in 0..600i64 {
            let dts = (n * 1001 + 15) / 30;
            let key = n % 60 == 0;
            let cut = policy.cut_video(start, dts, key);
            if cut {
                start = Some(dts);
            }
            s.push(FrameIn {
                dts_ms: dts,
                pts_ms: dts,
                sync: key,
                data: Bytes::from_static(&[0]),
                cut,
                discontinuity: false,
                samples: None,
            });
        }
        s.flush(3003);
        let out = drain(&mut s);
        assert_continuous(&chunks(&out));
        let ends = segment_ends(&out);
        assert_eq!(ends.len(), 10);
        for (_, _, d) in &ends[..9] {
            assert_eq!(*d, 2002 * 90);
        }
    }

    #[test]
    fn segments_are_built_from_parts_within_the_part_target() {
        let part = 45_000; // 0.5 s
        let out = publish_video(300, 60, 2000, part);
        let cs = chunks(&out);
        assert_continuous(&cs);
        assert!(cs.len() >= 20);
        for c in &cs {
            assert!(c.duration() <= part, "{}", c.duration());
            assert_eq!(c.independent, c.index == 0);
        }
        // Parts of a full segment add up to the segment.
        let per_segment: u64 = cs
            .iter()
            .scan(0, |segment, c| {
                *segment += u32::from(c.index == 0);
                Some((*segment, c))
            })
            .filter(|(segment, _)| *segment == 2)
            .map(|(_, c)| c.duration())
            .sum();
        assert_eq!(per_segment, 180_000);
    }

    /// Pushes `frames` frames of `frame_ms(n)`, cutting at `cut(n)`; returns
    /// the parts' durations per segment.
    fn parts_per_segment(
        timescale: u32,
        timing: Timing,
        grid: PartGrid,
        frames: i64,
        frame_ms: impl Fn(i64) -> i64,
        cut: impl Fn(i64) -> bool,
    ) -> Vec<Vec<u64>> {
        let mut s = TrackSegmenter::new(timescale, timing, grid);
        for n in 0..frames {
            let t = frame_ms(n);
            s.push(FrameIn {
                dts_ms: t,
                pts_ms: t,
                sync: cut(n),
                data: Bytes::from_static(&[0]),
                cut: cut(n),
                discontinuity: false,
                samples: None,
            });
        }
        s.flush(1024);
        let out = drain(&mut s);
        let mut segs: Vec<Vec<u64>> = Vec::new();
        for c in chunks(&out) {
            if c.index == 0 {
                segs.push(Vec::new());
            }
            if let Some(last) = segs.last_mut() {
                last.push(c.duration());
            }
        }
        segs.pop(); // the flushed, incomplete last segment
        segs
    }

    /// A 0.5 s grid with PART-TARGET 0.55 s: the grid the packager uses.
    fn grid(timescale: u32) -> PartGrid {
        PartGrid::new(u64::from(timescale) / 2, u64::from(timescale) * 55 / 100)
    }

    fn assert_parts_llhls_01(segs: &[Vec<u64>], grid: PartGrid, what: &str) {
        assert!(!segs.is_empty());
        for (i, parts) in segs.iter().enumerate() {
            for (j, d) in parts.iter().enumerate() {
                assert!(
                    *d <= grid.limit(),
                    "{what}: segment {i} part {j} {d} > limit"
                );
                // LLHLS-01: 85 % of PART-TARGET except the last part; the
                // grid keeps the last one whole too (no sliver).
                assert!(
                    *d >= grid.floor(),
                    "{what}: segment {i} part {j} {d} below 85 % ({parts:?})"
                );
            }
        }
    }

    #[test]
    fn video_parts_follow_the_grid_and_end_whole_llhls_01() {
        // 30 fps (33/34 ms), 29.97 fps, 25 fps and 60 fps, 2 s GOPs.
        for (fps_num, fps_den, gop) in [(30, 1, 60), (30_000, 1001, 60), (25, 1, 50), (60, 1, 120)]
        {
            let g = grid(VIDEO_TS);
            let segs = parts_per_segment(
                VIDEO_TS,
                Timing::FromTimestamps,
                g,
                gop * 6,
                |n| (n * 1000 * fps_den + fps_num / 2) / fps_num,
                |n| n % gop == 0,
            );
            assert_eq!(segs.len(), 5);
            for parts in &segs {
                assert_eq!(parts.len(), 4, "{fps_num}/{fps_den}: {parts:?}");
            }
            assert_parts_llhls_01(&segs, g, &format!("{fps_num}/{fps_den} fps"));
        }
    }

    #[test]
    fn audio_parts_end_near_the_video_cut_not_in_a_one_frame_sliver() {
        // AAC frames (21.3 ms at 48 kHz, 23.2 ms at 44.1 kHz) cut where 2 s
        // video segments start: greedy filling left a 1–2 frame last part.
        for rate in [48_000u32, 44_100] {
            let frame_ms = |n: i64| (n * 1024 * 1000 + i64::from(rate) / 2) / i64::from(rate);
            let cut_every_2s = |n: i64| n == 0 || frame_ms(n) / 2000 != frame_ms(n - 1) / 2000;
            let g = grid(rate);
            let segs = parts_per_segment(
                rate,
                Timing::FrameCount {
                    ticks_per_frame: 1024,
                    max_drift_ms: 50,
                },
                g,
                i64::from(rate) * 12 / 1024,
                frame_ms,
                cut_every_2s,
            );
            assert!(segs.len() >= 4);
            for parts in &segs {
                assert_eq!(parts.len(), 4, "{rate}: {parts:?}");
            }
            assert_parts_llhls_01(&segs, g, &format!("AAC {rate}"));
        }
    }

    #[test]
    fn part_grid_restarts_at_each_segment() {
        // 1.2 s segments on a 0.5 s grid: 0.5 + 0.5 + a 0.2 s last part, every time.
        let g = grid(VIDEO_TS);
        let segs = parts_per_segment(
            VIDEO_TS,
            Timing::FromTimestamps,
            g,
            36 * 5,
            ms_of_frame,
            |n| n % 36 == 0,
        );
        for parts in &segs {
            assert_eq!(parts, &vec![45_000, 45_000, 18_000]);
        }
    }

    #[test]
    fn long_gop_makes_long_segments_never_cut_without_keyframe_hls_live_06() {
        let out = publish_video(900, 300, 2000, 90_000);
        let ends = segment_ends(&out);
        assert_eq!(ends.len(), 3);
        assert_eq!(ends[0].2, 900_000); // 10 s
        let cs = chunks(&out);
        assert_continuous(&cs);
        for c in cs.iter().filter(|c| c.index == 0) {
            assert!(c.samples[0].is_sync);
        }
    }

    #[test]
    fn short_gop_cuts_at_the_first_keyframe_past_the_target() {
        // GOP 0.7 s, target 2 s: segments of 2.1 s (3 GOPs).
        let out = publish_video(300, 21, 2000, 90_000);
        let ends = segment_ends(&out);
        assert_eq!(ends[0].2, ms_of_frame(63) as u64 * 90);
        assert_continuous(&chunks(&out));
    }

    /// Opus and E-AC-3 frames differ in length: each frame's own sample
    /// count moves the decode time on, and the last one closes with it.
    #[test]
    fn frames_of_their_own_length_are_counted_one_by_one() {
        let mut s = TrackSegmenter::new(
            48_000,
            Timing::FrameCount {
                ticks_per_frame: 960,
                max_drift_ms: 30,
            },
            PartGrid::exact(48_000),
        );
        // 20 ms, 10 ms, 20 ms, 60 ms, 20 ms frames.
        let lengths = [960u32, 480, 960, 2880, 960];
        let mut at = 0u32;
        for (n, len) in lengths.iter().enumerate() {
            s.push(FrameIn {
                dts_ms: i64::from(at / 48),
                pts_ms: i64::from(at / 48),
                sync: true,
                data: Bytes::from_static(&[1]),
                cut: n == 0,
                discontinuity: false,
                samples: Some(*len),
            });
            at += len;
        }
        s.flush(960);
        let out = drain(&mut s);
        let samples: Vec<(u64, u32)> = chunks(&out)
            .iter()
            .flat_map(|c| c.samples.iter().map(|s| (s.decode_time, s.duration)))
            .collect();
        assert_eq!(
            samples,
            [(0, 960), (960, 480), (1440, 960), (2400, 2880), (5280, 960)]
        );
    }

    #[test]
    fn audio_decode_time_counts_samples_not_milliseconds_mp4_seg_10() {
        // AAC at 44.1 kHz: 23.22 ms per frame, timestamps rounded to ms.
        let mut s = TrackSegmenter::new(
            44_100,
            Timing::FrameCount {
                ticks_per_frame: 1024,
                max_drift_ms: 50,
            },
            PartGrid::exact(44_100),
        );
        let policy = CutPolicy { target_ms: 2000 };
        let mut start = None;
        for n in 0..400i64 {
            let dts = (n * 1024 * 1000 + 22_050) / 44_100;
            let cut = policy.cut_audio_only(start, dts);
            if cut {
                start = Some(dts);
            }
            s.push(FrameIn {
                dts_ms: dts,
                pts_ms: dts,
                sync: true,
                data: Bytes::from_static(&[1, 2]),
                cut,
                discontinuity: false,
                samples: None,
            });
        }
        s.flush(1024);
        let out = drain(&mut s);
        let cs = chunks(&out);
        assert_continuous(&cs);
        for (i, smp) in cs.iter().flat_map(|c| &c.samples).enumerate() {
            assert_eq!(smp.decode_time, i as u64 * 1024);
            assert_eq!(smp.duration, 1024);
        }
        assert!(segment_ends(&out).len() >= 4);
    }

    #[test]
    fn audio_reanchors_after_a_gap_but_never_goes_back() {
        let mut s = TrackSegmenter::new(
            48_000,
            Timing::FrameCount {
                ticks_per_frame: 1024,
                max_drift_ms: 50,
            },
            PartGrid::exact(48_000),
        );
        for n in 0..10i64 {
            s.push(FrameIn {
                dts_ms: n * 21,
                pts_ms: n * 21,
                sync: true,
                data: Bytes::from_static(&[1]),
                cut: n == 0,
                discontinuity: false,
                samples: None,
            });
        }
        // One second of silence from the publisher.
        s.push(FrameIn {
            dts_ms: 1210,
            pts_ms: 1210,
            sync: true,
            data: Bytes::from_static(&[1]),
            cut: false,
            discontinuity: false,
            samples: None,
        });
        s.push(FrameIn {
            dts_ms: 1231,
            pts_ms: 1231,
            sync: true,
            data: Bytes::from_static(&[1]),
            cut: false,
            discontinuity: false,
            samples: None,
        });
        s.flush(1024);
        let out = drain(&mut s);
        let samples: Vec<&Sample> = chunks(&out).into_iter().flat_map(|c| &c.samples).collect();
        assert_eq!(samples[9].decode_time, 9 * 1024);
        // The sample before the gap stretches to the re-anchored time: continuity holds.
        assert_eq!(samples[10].decode_time, 1210 * 48);
        assert_eq!(samples[9].duration as u64, 1210 * 48 - 9 * 1024);
        assert_eq!(samples[11].decode_time, 1210 * 48 + 1024);
    }

    #[test]
    fn negative_composition_offsets_are_kept_mp4_seg_08() {
        let mut s = TrackSegmenter::new(VIDEO_TS, Timing::FromTimestamps, PartGrid::exact(90_000));
        s.push(FrameIn {
            dts_ms: 100,
            pts_ms: 80,
            sync: true,
            data: Bytes::from_static(&[1]),
            cut: true,
            discontinuity: false,
            samples: None,
        });
        s.push(FrameIn {
            dts_ms: 133,
            pts_ms: 133,
            sync: false,
            data: Bytes::from_static(&[1]),
            cut: false,
            discontinuity: false,
            samples: None,
        });
        s.flush(3000);
        let out = drain(&mut s);
        assert_eq!(chunks(&out)[0].samples[0].composition_offset, -20 * 90);
    }

    #[test]
    fn discontinuity_is_reported_on_the_segment_that_follows_it() {
        let mut s = TrackSegmenter::new(VIDEO_TS, Timing::FromTimestamps, PartGrid::exact(90_000));
        s.push(FrameIn {
            dts_ms: 0,
            pts_ms: 0,
            sync: true,
            data: Bytes::from_static(&[1]),
            cut: true,
            discontinuity: false,
            samples: None,
        });
        s.push(FrameIn {
            dts_ms: 33,
            pts_ms: 33,
            sync: false,
            data: Bytes::from_static(&[1]),
            cut: false,
            discontinuity: false,
            samples: None,
        });
        s.push(FrameIn {
            dts_ms: 67,
            pts_ms: 67,
            sync: true,
            data: Bytes::from_static(&[1]),
            cut: true,
            discontinuity: true,
            samples: None,
        });
        s.flush(3000);
        let out = drain(&mut s);
        let flags: Vec<bool> = out
            .iter()
            .filter_map(|o| match o {
                Made::SegmentEnd { discontinuity, .. } => Some(*discontinuity),
                _ => None,
            })
            .collect();
        assert_eq!(flags, vec![false, true]);
    }

    proptest! {
        /// Whatever the frame timing, chunks are continuous, never exceed the
        /// part target unless one sample alone does, and every segment
        /// starts with a key frame when cuts are only requested on key frames.
        #[test]
        fn chunks_are_continuous_and_segments_start_on_keyframes(
            steps in proptest::collection::vec((0i64..200, any::<bool>(), -100i64..200), 1..300),
            target_ms in 500i64..4000,
            part_ms in 100u64..2000,
        ) {
            let part = part_ms * 90;
            let mut s = TrackSegmenter::new(VIDEO_TS, Timing::FromTimestamps, PartGrid::exact(part));
            let policy = CutPolicy { target_ms };
            let mut dts = 1_000_000i64;
            let mut start = None;
            for (i, (step, key, cto)) in steps.iter().enumerate() {
                dts += step;
                let key = *key || i == 0;
                let cut = policy.cut_video(start, dts, key);
                if cut { start = Some(dts); }
                s.push(FrameIn { dts_ms: dts, pts_ms: dts + cto, sync: key, data: Bytes::from_static(&[0]), cut, discontinuity: false, samples: None });
            }
            s.flush(3000);
            let out = drain(&mut s);
            let cs = chunks(&out);
            for w in cs.windows(2) {
                prop_assert_eq!(w[1].base_decode_time, w[0].base_decode_time + w[0].duration());
            }
            for c in &cs {
                prop_assert!(c.duration() <= part || c.samples.len() == 1);
                if c.index == 0 { prop_assert!(c.samples[0].is_sync); }
            }
            let total: usize = cs.iter().map(|c| c.samples.len()).sum();
            prop_assert_eq!(total, steps.len());
        }
    }
}
