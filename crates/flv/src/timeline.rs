//! 64-bit monotonic media timeline built from 32-bit RTMP/FLV wire timestamps
//! (spec-checklist RTMP-TS-01…04, pitfalls 31–32).
//!
//! One [`Timeline`] per published stream. Every audio/video message goes
//! through [`Timeline::map`] with its wire timestamp (the FLV tag / RTMP
//! message timestamp, i.e. the DTS in ms); the result is a DTS on a 64-bit
//! millisecond timeline that never goes backwards on a track. PTS is then
//! `dts_ms + composition time` (RTMP-TS-05), which is the caller's business.
//!
//! # Rules
//!
//! * **Origin.** The output starts at the first wire timestamp seen on any
//!   track, unchanged: a stream that starts at 16 770 000 ms stays there. The
//!   packager picks its own origin.
//! * **Unwrapping (RTMP-TS-01/02).** Each track's wire timestamps are unwrapped
//!   with serial-number arithmetic (RFC 1982) on 32 bits, so 0xFFFF_FFF0 →
//!   0x0000_0010 is +32 ms. ffmpeg and OBS really wrap at 2^31 (ffmpeg's FLV
//!   muxer masks the extended byte with 0x7F): when the 32-bit step is huge but
//!   the 31-bit serial step is small (|step| ≤ `max_jump_ms`), the 31-bit step is
//!   used, so 0x7FFF_FFF0 → 0x0000_0010 is also +32 ms. The 24-bit boundary
//!   (0xFF_FFFF, RTMP-TS-03) is not special here.
//! * **Jumps (RTMP-TS-04).** A step of the output outside
//!   `[-max_jump_ms, +max_jump_ms]` is a timeline jump, not data. The stream is
//!   rebased with one stream-wide offset so that the track continues at
//!   `last output + plausible step`, and that one [`Mapped`] reports
//!   `discontinuity = true`. The plausible step is the track's last positive
//!   output step (else the other track's), bounded to
//!   `1..=`[`MAX_REBASE_STEP_MS`]; with no history at all it is
//!   [`FALLBACK_STEP_MS`] (1 ms, the smallest step that keeps DTS strictly
//!   increasing). The other track, whose wire timestamps normally jump by the
//!   same amount, then maps through the same offset: continuous, aligned with
//!   the first track and without a second discontinuity. If only one track
//!   jumped on the wire, the other keeps its own offset (it stays continuous and
//!   no ping-pong of rebases happens). When both its own offset and the latest
//!   rebase offset keep a track in bounds, a forward step beats a backward one,
//!   then the smaller step wins.
//! * **Monotonic per track.** A small backward step (within the bound) is
//!   clamped to the track's last output, so equal DTS values can appear (they
//!   are legal); later timestamps are not shifted. Audio may map below the last
//!   video DTS and vice versa: monotonicity is per track.
//! * **Reconnect.** After [`Timeline::reset_for_reconnect`] the next
//!   timestamps (typically restarting near 0) continue strictly after the last
//!   output of every track, and the first [`Timeline::map`] on each track that
//!   had output reports `discontinuity = true`.
//! * **New track.** A track whose first timestamp arrives while the other track
//!   is running joins the other track's unwrapped domain and offset, so equal
//!   wire timestamps map to equal DTS.
//!
//! All arithmetic saturates; no input can panic.

/// Default for [`TimelineConfig::max_jump_ms`].
pub const DEFAULT_MAX_JUMP_MS: u64 = 5_000;

/// Largest step used to continue a track after a jump or reconnect.
pub const MAX_REBASE_STEP_MS: i64 = 1_000;

/// Step used to continue a track after a jump when no track has a step history.
pub const FALLBACK_STEP_MS: i64 = 1;

/// `max_jump_ms` is capped below 2^30 ms (≈ 12.4 days) so that a 2^31 wrap can
/// never be mistaken for an in-bounds step.
const MAX_JUMP_CAP_MS: i64 = (1 << 30) - 1;

/// Timeline tuning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineConfig {
    /// Any output step larger than this (either direction) is a jump that is
    /// rebased (RTMP-TS-04). Default 5 000 ms; values above 2^30 − 1 are capped.
    pub max_jump_ms: u64,
}

impl Default for TimelineConfig {
    fn default() -> Self {
        Self {
            max_jump_ms: DEFAULT_MAX_JUMP_MS,
        }
    }
}

/// The media track a timestamp belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Track {
    Video,
    Audio,
}

impl Track {
    /// Both tracks, video first.
    pub const ALL: [Track; 2] = [Track::Video, Track::Audio];
}

/// A wire timestamp mapped onto the stream's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapped {
    /// Decode timestamp in ms on the 64-bit monotonic timeline.
    pub dts_ms: i64,
    /// The timeline was rebased at this sample (jump or reconnect): packagers
    /// should start a new segment / mark a discontinuity here.
    pub discontinuity: bool,
}

/// Last wire timestamp of a track and where it sits on the unwrapped
/// (pre-offset) timeline.
#[derive(Clone, Copy, Debug)]
struct Wire {
    last: u32,
    unwrapped: i64,
}

#[derive(Clone, Debug, Default)]
struct TrackState {
    /// `None` before the track's first sample and after a reconnect.
    wire: Option<Wire>,
    last_out: Option<i64>,
    /// Last positive output step, for continuing after a rebase.
    last_step: Option<i64>,
    /// output = unwrapped + offset.
    offset: i64,
    /// The next sample must report a discontinuity (reconnect).
    reconnect_pending: bool,
}

/// Maps per-track 32-bit wire timestamps to one 64-bit monotonic timeline per
/// stream. See the module docs for the rules.
#[derive(Clone, Debug)]
pub struct Timeline {
    max_jump: i64,
    /// Offset set by the most recent rebase; a track whose own offset puts it
    /// out of bounds follows this one.
    shared_offset: i64,
    video: TrackState,
    audio: TrackState,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new(TimelineConfig::default())
    }
}

impl Timeline {
    pub fn new(config: TimelineConfig) -> Self {
        let cap = MAX_JUMP_CAP_MS.unsigned_abs();
        let max_jump = i64::try_from(config.max_jump_ms.min(cap)).unwrap_or(MAX_JUMP_CAP_MS);
        Self {
            max_jump,
            shared_offset: 0,
            video: TrackState::default(),
            audio: TrackState::default(),
        }
    }

    /// Map a wire timestamp of `track` to the stream's 64-bit monotonic
    /// timeline (ms).
    pub fn map(&mut self, track: Track, wire_ts: u32) -> Mapped {
        let max_jump = self.max_jump;
        let mut shared = self.shared_offset;
        let (me, other) = self.pair_mut(track);

        let in_bounds = |step: i64| step.unsigned_abs() <= max_jump.unsigned_abs();
        let plausible_step = me
            .last_step
            .or(other.last_step)
            .unwrap_or(FALLBACK_STEP_MS)
            .clamp(1, MAX_REBASE_STEP_MS);
        // Offset that makes `unwrapped` land at `last + plausible_step`.
        let rebase_to = |last: i64, unwrapped: i64| {
            last.saturating_add(plausible_step)
                .saturating_sub(unwrapped)
        };

        let discontinuity: bool;
        let unwrapped: i64;
        let offset: i64;
        match (me.wire, other.wire) {
            // The track continues in its own unwrapped domain.
            (Some(w), _) => {
                unwrapped = w
                    .unwrapped
                    .saturating_add(unwrap_delta(w.last, wire_ts, max_jump));
                let last = me.last_out.unwrap_or(unwrapped.saturating_add(me.offset));
                // In-bounds candidates rank by (goes backwards, |step|).
                let rank = |off: i64| {
                    let step = unwrapped.saturating_add(off).saturating_sub(last);
                    in_bounds(step).then_some((step < 0, step.unsigned_abs()))
                };
                let own = rank(me.offset);
                let follow = if shared == me.offset {
                    None
                } else {
                    rank(shared)
                };
                (offset, discontinuity) = match (own, follow) {
                    // The other track already rebased over this jump: follow it.
                    (Some(o), Some(f)) if f < o => (shared, false),
                    (None, Some(_)) => (shared, false),
                    (Some(_), _) => (me.offset, false),
                    (None, None) => {
                        shared = rebase_to(last, unwrapped);
                        (shared, true)
                    }
                };
            }
            // First sample on this track (ever, or since a reconnect) while the
            // other track runs: join the other track's domain and offset.
            (None, Some(o)) => {
                unwrapped = o
                    .unwrapped
                    .saturating_add(unwrap_delta(o.last, wire_ts, max_jump));
                discontinuity = me.reconnect_pending;
                offset = match me.last_out {
                    Some(last) if unwrapped.saturating_add(other.offset) <= last => {
                        // Reconnect, and the other track's choice would not move
                        // this one forward: continue this track on its own.
                        let own = rebase_to(last, unwrapped);
                        shared = own;
                        own
                    }
                    _ => other.offset,
                };
            }
            // First sample of the stream, or first after a reconnect: a fresh
            // unwrapped domain.
            (None, None) => {
                unwrapped = i64::from(wire_ts);
                discontinuity = me.reconnect_pending;
                let previous_end = match (me.last_out, other.last_out) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                offset = match previous_end {
                    None => 0,
                    Some(end) => rebase_to(end, unwrapped),
                };
                shared = offset;
            }
        }

        let candidate = unwrapped.saturating_add(offset);
        let dts_ms = match me.last_out {
            Some(last) => {
                if candidate > last {
                    me.last_step = Some(candidate.saturating_sub(last));
                }
                candidate.max(last)
            }
            None => candidate,
        };
        me.wire = Some(Wire {
            last: wire_ts,
            unwrapped,
        });
        me.last_out = Some(dts_ms);
        me.offset = offset;
        me.reconnect_pending = false;
        self.shared_offset = shared;

        Mapped {
            dts_ms,
            discontinuity,
        }
    }

    /// Call when the publisher reconnects within the grace window: the next
    /// timestamps (which typically restart near 0) continue after the last
    /// output on every track, and the next [`map`](Self::map) on each track
    /// that already had output reports `discontinuity = true`.
    pub fn reset_for_reconnect(&mut self) {
        for st in [&mut self.video, &mut self.audio] {
            st.wire = None;
            if st.last_out.is_some() {
                st.reconnect_pending = true;
            }
        }
    }

    /// Last DTS returned for `track`, if any.
    pub fn last_dts_ms(&self, track: Track) -> Option<i64> {
        match track {
            Track::Video => self.video.last_out,
            Track::Audio => self.audio.last_out,
        }
    }

    /// The effective jump threshold (the configured one, capped).
    pub fn max_jump_ms(&self) -> u64 {
        self.max_jump.unsigned_abs()
    }

    fn pair_mut(&mut self, track: Track) -> (&mut TrackState, &TrackState) {
        match track {
            Track::Video => (&mut self.video, &self.audio),
            Track::Audio => (&mut self.audio, &self.video),
        }
    }
}

/// Step from wire timestamp `prev` to `next`: the 32-bit serial-number step
/// (RFC 1982, RTMP-TS-01); if that is out of bounds but the 31-bit serial step
/// is in bounds, the stream wrapped at 2^31 (ffmpeg/OBS, RTMP-TS-02) and the
/// 31-bit step is used. Otherwise (a real jump) the 32-bit step.
fn unwrap_delta(prev: u32, next: u32, max_jump: i64) -> i64 {
    const HALF_32: u32 = 1 << 31;
    const HALF_31: u32 = 1 << 30;
    let bound = max_jump.unsigned_abs();
    let diff = next.wrapping_sub(prev);

    let d32 = if diff < HALF_32 {
        i64::from(diff)
    } else {
        i64::from(diff).wrapping_sub(1 << 32)
    };
    if d32.unsigned_abs() <= bound {
        return d32;
    }

    let diff31 = diff & (HALF_32 - 1);
    let d31 = if diff31 < HALF_31 {
        i64::from(diff31)
    } else {
        i64::from(diff31).wrapping_sub(1 << 31)
    };
    if d31.unsigned_abs() <= bound {
        return d31;
    }
    d32
}

#[cfg(test)]
mod tests {
    //! IDs refer to spec-checklist.md §1.5 (RTMP-TS-01…04).

    use super::*;

    const V: Track = Track::Video;
    const A: Track = Track::Audio;

    fn tl() -> Timeline {
        Timeline::default()
    }

    fn dts(t: &mut Timeline, track: Track, ts: u32) -> i64 {
        let m = t.map(track, ts);
        assert!(
            !m.discontinuity,
            "unexpected discontinuity at {track:?} {ts:#x}"
        );
        m.dts_ms
    }

    #[test]
    fn default_config_is_5s() {
        assert_eq!(TimelineConfig::default().max_jump_ms, 5_000);
        assert_eq!(tl().max_jump_ms(), 5_000);
        let capped = Timeline::new(TimelineConfig {
            max_jump_ms: u64::MAX,
        });
        assert_eq!(capped.max_jump_ms(), (1 << 30) - 1);
    }

    /// RTMP-TS-01: arbitrary epoch kept as is; plain monotonic input.
    #[test]
    fn ts01_plain_monotonic_keeps_epoch() {
        let mut t = tl();
        for (i, ts) in (16_770_000u32..).step_by(33).take(100).enumerate() {
            assert_eq!(dts(&mut t, V, ts), 16_770_000 + 33 * i as i64);
        }
        assert_eq!(t.last_dts_ms(V), Some(16_770_000 + 33 * 99));
        assert_eq!(t.last_dts_ms(A), None);
    }

    /// RTMP-TS-01: the spec's 2^32 wrap continues past 2^32 on 64 bits.
    #[test]
    fn ts01_wrap_at_2_32() {
        let mut t = tl();
        assert_eq!(dts(&mut t, V, 0xFFFF_FFF0), 0xFFFF_FFF0);
        assert_eq!(dts(&mut t, A, 0xFFFF_FFF8), 0xFFFF_FFF8);
        assert_eq!(dts(&mut t, V, 0x0000_0010), 0x1_0000_0010);
        assert_eq!(dts(&mut t, A, 0x0000_0012), 0x1_0000_0012);
        assert_eq!(dts(&mut t, V, 0x0000_0031), 0x1_0000_0031);
    }

    /// RTMP-TS-02: ffmpeg/OBS wrap at 2^31 (0x7F mask on the extended byte).
    #[test]
    fn ts02_wrap_at_2_31() {
        let mut t = tl();
        assert_eq!(dts(&mut t, V, 0x7FFF_FFF0), 0x7FFF_FFF0);
        assert_eq!(dts(&mut t, A, 0x7FFF_FFF5), 0x7FFF_FFF5);
        assert_eq!(dts(&mut t, V, 0x0000_0010), 0x8000_0010);
        // Audio still before the wrap, then after it: same continuous timeline.
        assert_eq!(dts(&mut t, A, 0x7FFF_FFFA), 0x7FFF_FFFA);
        assert_eq!(dts(&mut t, A, 0x0000_0011), 0x8000_0011);
        assert_eq!(dts(&mut t, V, 0x0000_0031), 0x8000_0031);
        // And a second 2^31 wrap later on.
        let mut t = tl();
        let mut ts: u32 = 0x7FFF_FF00;
        let mut expected: i64 = 0x7FFF_FF00;
        for _ in 0..20 {
            assert_eq!(dts(&mut t, V, ts), expected);
            ts = (ts + 40) & 0x7FFF_FFFF;
            expected += 40;
        }
    }

    /// RTMP-TS-03: the 24-bit boundary is where broken extended-timestamp code
    /// fails; the timeline treats it like any other value.
    #[test]
    fn ts03_24bit_boundary_is_not_special() {
        let mut t = tl();
        for ts in [
            0x00FF_FFDE,
            0x00FF_FFFE,
            0x00FF_FFFF,
            0x0100_0000,
            0x0100_0021,
        ] {
            assert_eq!(dts(&mut t, V, ts), i64::from(ts));
        }
    }

    /// RTMP-TS-04: a 1 h forward jump on both tracks gives one discontinuity,
    /// and A/V stay aligned after it.
    #[test]
    fn ts04_forward_jump_one_hour_both_tracks() {
        let mut t = tl();
        let hour = 3_600_000u32;
        for i in 0..30u32 {
            dts(&mut t, V, i * 33);
            dts(&mut t, A, i * 21);
        }
        let last_v = t.last_dts_ms(V).unwrap();
        let last_a = t.last_dts_ms(A).unwrap();
        assert_eq!((last_v, last_a), (29 * 33, 29 * 21));

        let mut discontinuities = 0;
        let mut pairs = Vec::new();
        for i in 30..60u32 {
            for (track, step) in [(V, 33), (A, 21)] {
                let m = t.map(track, hour + i * step);
                discontinuities += usize::from(m.discontinuity);
                pairs.push((track, hour + i * step, m.dts_ms));
            }
        }
        assert_eq!(discontinuities, 1);
        // Video continued at last + its last step.
        assert_eq!(pairs[0].2, last_v + 33);
        // Same wire timestamp ⇒ same output on both tracks.
        let mut probe = t.clone();
        let v = probe.map(V, hour + 60 * 33 + 300).dts_ms;
        let a = probe.map(A, hour + 60 * 33 + 300).dts_ms;
        assert_eq!(v, a);
        // Output offsets equal on both tracks after the jump.
        let offs: Vec<i64> = pairs.iter().map(|&(_, w, d)| d - i64::from(w)).collect();
        assert!(offs.windows(2).all(|w| w[0] == w[1]), "{offs:?}");
    }

    /// RTMP-TS-04: video jumps, a few pre-jump audio packets still arrive, then
    /// audio jumps too: still one discontinuity.
    #[test]
    fn ts04_jump_with_lagging_other_track() {
        let mut t = tl();
        let j = 7_200_000u32;
        dts(&mut t, V, 967);
        dts(&mut t, A, 980);
        dts(&mut t, V, 1000);
        dts(&mut t, A, 1001);
        let m = t.map(V, j + 1033);
        assert_eq!((m.dts_ms, m.discontinuity), (1033, true));
        assert_eq!(dts(&mut t, A, 1022), 1022);
        assert_eq!(dts(&mut t, A, 1043), 1043);
        assert_eq!(dts(&mut t, A, j + 1064), 1064);
        assert_eq!(dts(&mut t, V, j + 1066), 1066);
    }

    /// RTMP-TS-04: a backward jump is rebased forward, never backwards.
    #[test]
    fn ts04_backward_jump() {
        let mut t = tl();
        dts(&mut t, V, 3_600_000);
        dts(&mut t, V, 3_600_040);
        let m = t.map(V, 0);
        assert!(m.discontinuity);
        assert_eq!(m.dts_ms, 3_600_080);
        assert_eq!(dts(&mut t, V, 40), 3_600_120);
        // Audio jumps back the same way and follows without a discontinuity.
        let mut t = tl();
        dts(&mut t, V, 3_600_000);
        dts(&mut t, A, 3_600_010);
        dts(&mut t, V, 3_600_040);
        assert!(t.map(V, 0).discontinuity);
        assert_eq!(dts(&mut t, A, 10), 3_600_090);
    }

    /// RTMP-TS-04: a backward jump just past the threshold on both tracks,
    /// while audio lags: audio's own offset would still be "in bounds" (a
    /// backward step, clamped for ~5 s); it follows the rebase instead.
    #[test]
    fn ts04_near_threshold_backward_jump_both_tracks() {
        let mut t = tl();
        for i in 0..10u32 {
            dts(&mut t, V, 100_000 + i * 40);
        }
        for i in 0..8u32 {
            dts(&mut t, A, 100_010 + i * 40);
        }
        let j = 5_050;
        let m = t.map(V, 100_400 - j);
        assert_eq!((m.dts_ms, m.discontinuity), (100_400, true));
        assert_eq!(dts(&mut t, A, 100_410 - j), 100_410);
        assert_eq!(dts(&mut t, V, 100_440 - j), 100_440);
        assert_eq!(dts(&mut t, A, 100_450 - j), 100_450);
    }

    /// RTMP-TS-04 (3): small backward steps are clamped; equal DTS is legal.
    #[test]
    fn ts04_small_backward_step_is_clamped() {
        let mut t = tl();
        assert_eq!(dts(&mut t, V, 100), 100);
        assert_eq!(dts(&mut t, V, 90), 100);
        assert_eq!(dts(&mut t, V, 100), 100);
        assert_eq!(dts(&mut t, V, 110), 110, "later timestamps are not shifted");
    }

    #[test]
    fn ts04_jump_threshold_is_inclusive() {
        let mut t = tl();
        dts(&mut t, V, 1000);
        assert_eq!(
            dts(&mut t, V, 6000),
            6000,
            "exactly max_jump is a gap, not a jump"
        );
        let m = t.map(V, 11_001);
        assert!(m.discontinuity);
        assert_eq!(
            m.dts_ms,
            6000 + MAX_REBASE_STEP_MS,
            "step bounded to 1000 ms"
        );
        let m = t.map(V, 11_001 - 5_001);
        assert!(m.discontinuity, "backward beyond max_jump");
    }

    #[test]
    fn jump_on_second_sample_uses_fallback_or_other_track_step() {
        let mut t = tl();
        dts(&mut t, V, 0);
        let m = t.map(V, 100_000);
        assert_eq!((m.dts_ms, m.discontinuity), (FALLBACK_STEP_MS, true));

        let mut t = tl();
        dts(&mut t, A, 0);
        dts(&mut t, A, 21);
        dts(&mut t, V, 0);
        let m = t.map(V, 100_000);
        assert_eq!((m.dts_ms, m.discontinuity), (21, true));
    }

    /// Only one track jumps on the wire: both stay continuous, no rebase ping-pong.
    #[test]
    fn only_one_track_jumps() {
        let mut t = tl();
        let mut discontinuities = 0;
        for i in 0..100u32 {
            let jumped = if i >= 50 { 3_600_000 } else { 0 };
            let v = t.map(V, jumped + i * 40);
            let a = t.map(A, i * 40 + 5);
            discontinuities += usize::from(v.discontinuity) + usize::from(a.discontinuity);
            assert_eq!(a.dts_ms, i64::from(i * 40 + 5));
        }
        assert_eq!(discontinuities, 1);
        assert_eq!(t.last_dts_ms(V), Some(99 * 40));
    }

    /// Reconnect: timestamps restart at 0, both tracks continue after their
    /// last output, each reports one discontinuity, A/V stay aligned.
    #[test]
    fn reconnect_resets() {
        let mut t = tl();
        for i in 0..100u32 {
            dts(&mut t, V, 50_000 + i * 33);
            dts(&mut t, A, 50_000 + i * 21);
        }
        let end = t.last_dts_ms(V).unwrap().max(t.last_dts_ms(A).unwrap());
        t.reset_for_reconnect();
        let v0 = t.map(V, 0);
        let a0 = t.map(A, 0);
        assert!(v0.discontinuity && a0.discontinuity);
        assert_eq!(v0.dts_ms, end + 33);
        assert_eq!(a0.dts_ms, v0.dts_ms, "aligned: same wire ts, same DTS");
        let v1 = t.map(V, 33);
        let a1 = t.map(A, 21);
        assert!(!v1.discontinuity && !a1.discontinuity);
        assert_eq!((v1.dts_ms, a1.dts_ms), (end + 66, end + 54));
    }

    /// Reconnect where the second track's first timestamp is earlier than the
    /// first track's: it still moves strictly forward.
    #[test]
    fn reconnect_second_track_never_goes_back() {
        let mut t = tl();
        dts(&mut t, V, 1000);
        dts(&mut t, A, 1000);
        dts(&mut t, A, 1021);
        t.reset_for_reconnect();
        let v = t.map(V, 500);
        assert!(v.discontinuity);
        assert_eq!(v.dts_ms, 1021 + 21);
        let a = t.map(A, 0);
        assert!(a.discontinuity);
        assert!(a.dts_ms > 1021);
        // A reconnect before any output is a no-op for discontinuities.
        let mut t = tl();
        t.reset_for_reconnect();
        assert!(!t.map(V, 7).discontinuity);
    }

    /// Interleaved tracks with audio slightly behind video: fine, the
    /// monotonic rule is per track.
    #[test]
    fn interleaved_out_of_order_between_tracks() {
        let mut t = tl();
        assert_eq!(dts(&mut t, V, 1000), 1000);
        assert_eq!(dts(&mut t, A, 980), 980);
        assert_eq!(dts(&mut t, V, 1033), 1033);
        assert_eq!(dts(&mut t, A, 1001), 1001);
        assert_eq!(dts(&mut t, A, 1022), 1022);
        assert_eq!(dts(&mut t, V, 1066), 1066);
        assert_eq!(dts(&mut t, A, 1043), 1043);
    }

    /// A track that starts after the other wrapped joins its domain.
    #[test]
    fn late_track_joins_after_wrap() {
        let mut t = tl();
        dts(&mut t, V, 0xFFFF_FFF0);
        dts(&mut t, V, 0x0000_0010);
        assert_eq!(dts(&mut t, A, 0x0000_0008), 0x1_0000_0008);
        let mut t = tl();
        dts(&mut t, V, 0x7FFF_FFF0);
        dts(&mut t, V, 0x0000_0010);
        assert_eq!(dts(&mut t, A, 0x7FFF_FFFF), 0x7FFF_FFFF);
    }

    #[test]
    fn unwrap_delta_cases() {
        let j = 5_000;
        assert_eq!(unwrap_delta(10, 20, j), 10);
        assert_eq!(unwrap_delta(20, 10, j), -10);
        assert_eq!(unwrap_delta(0xFFFF_FFF0, 0x10, j), 0x20);
        assert_eq!(unwrap_delta(0x10, 0xFFFF_FFF0, j), -0x20);
        assert_eq!(unwrap_delta(0x7FFF_FFF0, 0x10, j), 0x20);
        assert_eq!(unwrap_delta(0x10, 0x7FFF_FFF0, j), -0x20);
        assert_eq!(unwrap_delta(0x7FFF_FFF0, 0x8000_0010, j), 0x20);
        assert_eq!(unwrap_delta(0, 3_600_000, j), 3_600_000);
        assert_eq!(unwrap_delta(3_600_000, 0, j), -3_600_000);
        // Exactly 2^31 apart is indistinguishable from a 2^31 wrap.
        assert_eq!(unwrap_delta(0, 0x8000_0000, j), 0);
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        let mut t = Timeline::new(TimelineConfig { max_jump_ms: 0 });
        let mut last = None;
        for (i, ts) in [0u32, u32::MAX, 0x8000_0000, 1, 0x7FFF_FFFF, 0, 0]
            .iter()
            .enumerate()
        {
            let track = Track::ALL[i % 2];
            let m = t.map(track, *ts);
            if track == V {
                if let Some(l) = last {
                    assert!(m.dts_ms >= l);
                }
                last = Some(m.dts_ms);
            }
        }
    }
}
