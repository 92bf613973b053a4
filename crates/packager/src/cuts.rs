//! Where each track of a stream cuts its segments.
//!
//! One track is the reference: the first video track (else the first audio
//! track). It cuts on its key frames once its segment reached the target
//! ([`CutPolicy`]) and hands every cut, with the DASH Period it opens, to
//! the other tracks ([`LaneCuts::reference_cut`]):
//!
//! ```text
//! reference video  ──cut(t, period)──▶ other video: at its key frame at t,
//!                                      else on its own key frames
//!                                   ─▶ audio: at the frame nearest t
//! ```
//!
//! Nothing here knows frames or bytes: timestamps in, decisions out, so the
//! rules are tested on their own.

use std::collections::VecDeque;

/// When a reference track starts a new segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CutPolicy {
    /// Configured target segment duration, ms.
    pub target_ms: i64,
}

impl CutPolicy {
    /// Video: cut at a key frame once the open segment has reached the target
    /// (a GOP longer than the target makes a longer segment; the playlist's
    /// TARGETDURATION accounts for it, HLS-LIVE-06).
    pub fn cut_video(&self, segment_start_ms: Option<i64>, dts_ms: i64, keyframe: bool) -> bool {
        keyframe && segment_start_ms.is_none_or(|s| dts_ms - s >= self.target_ms)
    }

    /// Audio-only streams: cut by duration.
    pub fn cut_audio_only(&self, segment_start_ms: Option<i64>, dts_ms: i64) -> bool {
        segment_start_ms.is_none_or(|s| dts_ms - s >= self.target_ms)
    }
}

/// A cut of the reference track, handed to the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RefCut {
    /// Media time of the frame it starts with.
    pub at_ms: i64,
    /// The DASH Period of the segment it starts.
    pub period: u64,
    /// The media sequence number of the segment it starts.
    pub number: u64,
}

/// A track's decision to cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cut {
    /// The DASH Period of the segment it starts.
    pub period: u64,
    /// The reference's number for the segment starting at the same cut,
    /// when it follows one (a track that starts late takes it).
    pub number: Option<u64>,
}

/// One track's place in the stream's segmentation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LaneCuts {
    /// Media time (ms) where its open segment started.
    segment_start_ms: Option<i64>,
    /// Reference cuts not yet applied here.
    pending: VecDeque<RefCut>,
    /// The Period of the segment this track is building, when it follows
    /// the reference's cuts.
    period: u64,
    /// Video: its first key frame came (earlier frames are undecodable,
    /// pitfall 24).
    pub started: bool,
    /// A frame dropped before the reference's first key frame carried a
    /// discontinuity: the next frame kept takes it.
    pub carried_discontinuity: bool,
}

/// Reference cuts kept for a track that does not take them (~a minute of
/// 2 s segments): a follower whose frames stopped must not grow this.
const MAX_PENDING: usize = 32;

impl LaneCuts {
    /// The reference cut.
    pub fn reference_cut(&mut self, cut: RefCut) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(cut);
    }

    /// Takes the pending reference cuts up to `until_ms`; the last one
    /// gives the Period (and the number) of the segment that starts here.
    fn take_until(&mut self, until_ms: i64) -> Option<u64> {
        let mut number = None;
        while let Some(c) = self.pending.front().copied() {
            if c.at_ms > until_ms {
                break;
            }
            self.pending.pop_front();
            self.period = c.period;
            number = Some(c.number);
        }
        number
    }

    /// The publisher left: its cuts no longer apply, and the next frames
    /// start segments of their own.
    pub fn forget(&mut self) {
        self.pending.clear();
        self.segment_start_ms = None;
    }

    /// The reference video track: whether its frame at `dts_ms` cuts. The
    /// caller gives the cut its Period and hands it on.
    pub fn reference_video(
        &mut self,
        policy: CutPolicy,
        dts_ms: i64,
        keyframe: bool,
        pending_discontinuity: bool,
    ) -> bool {
        let cut = policy.cut_video(self.segment_start_ms, dts_ms, keyframe)
            || (pending_discontinuity && keyframe);
        if cut {
            self.segment_start_ms = Some(dts_ms);
        }
        cut
    }

    /// The reference of an audio-only stream.
    pub fn reference_audio(&mut self, policy: CutPolicy, dts_ms: i64) -> bool {
        let cut = policy.cut_audio_only(self.segment_start_ms, dts_ms);
        if cut {
            self.segment_start_ms = Some(dts_ms);
        }
        cut
    }

    /// Another video track: the Period of the segment its frame at
    /// `dts_ms` starts, or `None` when it does not cut.
    ///
    /// It cuts only on its own key frames: at a reference cut it has
    /// reached, or where its own segment reached the target — so renditions
    /// with aligned key frames cut together whatever order their frames
    /// arrive in, and one whose key frames are off still gets
    /// target-length segments. A reference cut within half a target of the
    /// track's own last cut counts as answered by it (no sliver segment).
    pub fn follow_video(
        &mut self,
        policy: CutPolicy,
        dts_ms: i64,
        keyframe: bool,
        pending_discontinuity: bool,
        current_period: u64,
    ) -> Option<Cut> {
        let half = policy.target_ms / 2;
        if let Some(start) = self.segment_start_ms {
            while let Some(c) = self.pending.front().copied() {
                if (c.at_ms - start).abs() >= half {
                    break;
                }
                self.pending.pop_front();
                self.period = c.period;
            }
        }
        let cut = keyframe
            && (self.segment_start_ms.is_none()
                || pending_discontinuity
                || self.pending.front().is_some_and(|c| c.at_ms <= dts_ms)
                || policy.cut_video(self.segment_start_ms, dts_ms, true));
        if !cut {
            return None;
        }
        if self.segment_start_ms.is_none() && self.pending.is_empty() {
            self.period = current_period;
        }
        let number = self.take_until(dts_ms + half);
        self.segment_start_ms = Some(dts_ms);
        Some(Cut {
            period: self.period,
            number,
        })
    }

    /// An audio track that follows the reference: the Period of the segment
    /// its frame starts, or `None`. `reach_ms` is the frame's decode time
    /// plus half a frame: it cuts at the frame nearest each reference cut.
    /// Past `overdue_ms` without a reference cut (a reference that stopped
    /// sending), it cuts on its own so that its segment cannot grow without
    /// bound.
    pub fn follow_audio(
        &mut self,
        dts_ms: i64,
        reach_ms: i64,
        current_period: u64,
        overdue_ms: i64,
    ) -> Option<Cut> {
        let first = self.segment_start_ms.is_none();
        if first {
            self.period = current_period;
        }
        let number = self.take_until(reach_ms);
        let overdue = self
            .segment_start_ms
            .is_some_and(|s| dts_ms - s >= overdue_ms);
        if !(first || number.is_some() || overdue) {
            return None;
        }
        self.segment_start_ms = Some(dts_ms);
        Some(Cut {
            period: self.period,
            number,
        })
    }

    /// The Period a new configuration's segmenter starts in.
    pub fn period(&self) -> u64 {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: CutPolicy = CutPolicy { target_ms: 2000 };

    /// A reference with key frames every `gop` ms; returns its cut times,
    /// handing each to `follower`.
    fn reference_cuts(until: i64, gop: i64, followers: &mut [&mut LaneCuts]) -> Vec<i64> {
        let mut r = LaneCuts::default();
        let mut cuts = Vec::new();
        // 25 fps.
        for t in (0..until).step_by(40) {
            let key = t % gop == 0;
            if r.reference_video(POLICY, t, key, false) {
                cuts.push(t);
                for f in followers.iter_mut() {
                    f.reference_cut(RefCut {
                        at_ms: t,
                        period: 0,
                        number: 0,
                    });
                }
            }
        }
        cuts
    }

    /// Feeds `follower` key frames at `keys` (ms), each after the
    /// reference's frame of that time when `after`, else before it.
    fn follower_cuts(keys: &[i64], reference_gop: i64, after: bool) -> (Vec<i64>, Vec<i64>) {
        let mut r = LaneCuts::default();
        let mut f = LaneCuts::default();
        let (mut rc, mut fc) = (Vec::new(), Vec::new());
        for t in (0..12_000).step_by(1) {
            let ref_key = t % reference_gop == 0;
            let reference = |r: &mut LaneCuts, f: &mut LaneCuts, rc: &mut Vec<i64>| {
                if t % 33 == 0 && r.reference_video(POLICY, t, ref_key, false) {
                    rc.push(t);
                    f.reference_cut(RefCut {
                        at_ms: t,
                        period: 0,
                        number: 0,
                    });
                }
            };
            if after {
                reference(&mut r, &mut f, &mut rc);
            }
            if keys.contains(&t) && f.follow_video(POLICY, t, true, false, 0).is_some() {
                fc.push(t);
            }
            if !after {
                reference(&mut r, &mut f, &mut rc);
            }
        }
        (rc, fc)
    }

    #[test]
    fn aligned_key_frames_cut_together_in_either_arrival_order() {
        let keys: Vec<i64> = (0..12_000).step_by(990).collect();
        for after in [true, false] {
            let (r, f) = follower_cuts(&keys, 990, after);
            assert_eq!(r, f, "follower after the reference: {after}");
        }
    }

    /// GOP 1 s at a 2 s target, the follower one frame late: it cuts on its
    /// own key frames every 2 s, never a 1 s sliver after a reference cut.
    #[test]
    fn key_frames_one_frame_off_make_target_length_segments_not_slivers() {
        let keys: Vec<i64> = (0..12_000).step_by(990).map(|t| t + 33).collect();
        let (r, f) = follower_cuts(&keys, 990, true);
        assert_eq!(r.len(), f.len(), "{r:?} {f:?}");
        for (r, f) in r.iter().zip(&f).skip(1) {
            assert_eq!(f - r, 33, "{r} {f}");
        }
    }

    /// A follower whose first key frame falls between reference cuts takes
    /// the next reference cut it reaches: aligned from then on.
    #[test]
    fn a_follower_starting_mid_segment_aligns_at_the_next_reference_cut() {
        let keys: Vec<i64> = (990..12_000).step_by(990).collect();
        let (r, f) = follower_cuts(&keys, 990, true);
        assert_eq!(f.first(), Some(&990));
        let later: Vec<i64> = f.iter().copied().filter(|t| *t > 990).collect();
        let r_later: Vec<i64> = r.iter().copied().filter(|t| *t > 990).collect();
        assert_eq!(later, r_later);
    }

    #[test]
    fn audio_cuts_at_the_frame_nearest_each_reference_cut() {
        let mut a = LaneCuts::default();
        let cuts = reference_cuts(8000, 1000, &mut [&mut a]);
        assert_eq!(cuts, [0, 2000, 4000, 6000]);
        let mut audio_cuts = Vec::new();
        // 21.33 ms AAC frames; half a frame of reach.
        for n in 0..375 {
            let t = n * 64 / 3;
            if a.follow_audio(t, t + 10, 0, 12_000).is_some() {
                audio_cuts.push(t);
            }
        }
        // The frame nearest each cut: 2005 (not 1984), 4010 (not 3989),
        // 5994 (not 6016).
        assert_eq!(audio_cuts, [0, 2005, 4010, 5994]);
    }

    #[test]
    fn audio_without_reference_cuts_stops_growing_at_the_overdue_limit() {
        let mut a = LaneCuts::default();
        let mut cuts = Vec::new();
        for t in (0..30_000).step_by(20) {
            if a.follow_audio(t, t + 10, 0, 12_000).is_some() {
                cuts.push(t);
            }
        }
        assert_eq!(cuts, [0, 12_000, 24_000]);
    }

    #[test]
    fn periods_follow_the_reference_cut_taken() {
        let mut a = LaneCuts::default();
        let cut = |at_ms, period, number| RefCut {
            at_ms,
            period,
            number,
        };
        a.reference_cut(cut(0, 0, 7));
        let taken = |period, number| Some(Cut { period, number });
        assert_eq!(a.follow_audio(0, 10, 0, 12_000), taken(0, Some(7)));
        a.reference_cut(cut(2000, 3, 8));
        assert_eq!(a.follow_audio(1000, 1010, 0, 12_000), None);
        assert_eq!(a.follow_audio(1995, 2005, 0, 12_000), taken(3, Some(8)));
        assert_eq!(a.period(), 3);
    }

    #[test]
    fn pending_cuts_are_bounded() {
        let mut a = LaneCuts::default();
        for t in 0..1000 {
            a.reference_cut(RefCut {
                at_ms: t * 2000,
                period: 0,
                number: 0,
            });
        }
        assert_eq!(a.pending.len(), MAX_PENDING);
    }
}
