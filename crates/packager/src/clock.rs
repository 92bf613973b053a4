//! The DASH presentation timeline of one stream: where each Period sits on
//! the wall clock, and when the publisher's media clock has drifted far
//! enough from the wall clock that a new Period must re-anchor it.
//!
//! A dynamic MPD maps media time to wall-clock time once and for all:
//! `availabilityStartTime` (AST) never changes (DASH-MPD-01) and a Period's
//! `@start` never changes (DASH-MPD-05). RTMP encoders' clocks drift, stall
//! and restart, so the mapping is checked at every segment of the reference
//! track (video when there is video): a segment is made when its last frame
//! arrives, which is when the mapping says it ends. Past `threshold` of
//! difference either way, the next cut starts a new Period anchored afresh
//! (DASH-MPD-08), so no segment is advertised long before it exists and
//! players' live edge stays where the segments are.
//!
//! No clock is read here: every wall-clock instant is an argument.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

/// A point on a track's media timeline: `ticks` at `timescale` per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaTime {
    pub ticks: u64,
    pub timescale: u32,
}

impl MediaTime {
    pub fn new(ticks: u64, timescale: u32) -> Self {
        MediaTime {
            ticks,
            timescale: timescale.max(1),
        }
    }

    /// The same instant on another timescale (floor).
    pub fn rescale(self, timescale: u32) -> u64 {
        let t = u128::from(self.ticks) * u128::from(timescale.max(1)) / u128::from(self.timescale);
        u64::try_from(t).unwrap_or(u64::MAX)
    }

    /// `self − earlier` as a duration (zero when `earlier` is later).
    pub fn since(self, earlier: MediaTime) -> Duration {
        Duration::from_nanos(self.nanos().saturating_sub(earlier.nanos()))
    }

    /// Time since media time zero.
    pub fn as_duration(self) -> Duration {
        Duration::from_nanos(self.nanos())
    }

    fn nanos(self) -> u64 {
        let n = u128::from(self.ticks) * 1_000_000_000 / u128::from(self.timescale);
        u64::try_from(n).unwrap_or(u64::MAX)
    }
}

/// One Period: its number (the `@id` is derived from it), where it starts on
/// the MPD timeline and which media time that is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodAnchor {
    pub index: u64,
    /// `Period@start`: offset from AST, whole milliseconds.
    pub start: Duration,
    /// Media time (of the reference track) shown at `start`; each track's
    /// `@presentationTimeOffset` is this instant on its own timescale.
    pub media_start: MediaTime,
}

/// What [`PeriodClock::segment_made`] concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The segment ends where the mapping says, within the threshold.
    OnTime,
    /// The segment opened a new Period, anchored here.
    NewPeriod(PeriodAnchor),
    /// The media clock is off the wall clock by more than the threshold
    /// (positive: media behind the wall clock, segments late): the next cut
    /// should start a new Period.
    Drifted { drift_ms: i64 },
}

#[derive(Clone, Debug)]
pub struct PeriodClock {
    threshold: Duration,
    ast: Option<SystemTime>,
    /// Periods still referenced by a live window, oldest first.
    periods: VecDeque<PeriodAnchor>,
    /// MPD time where the last reference segment ended.
    last_end: Duration,
    /// A split was already asked for: do not ask again until it happens.
    split_asked: bool,
}

/// Periods kept: more than a window can refer to.
const MAX_PERIODS: usize = 64;

impl PeriodClock {
    /// `threshold`: the drift tolerated before re-anchoring (DASH-MPD-08).
    pub fn new(threshold: Duration) -> Self {
        PeriodClock {
            threshold,
            ast: None,
            periods: VecDeque::new(),
            last_end: Duration::ZERO,
            split_asked: false,
        }
    }

    /// `MPD@availabilityStartTime`, fixed at the first segment.
    pub fn availability_start(&self) -> Option<SystemTime> {
        self.ast
    }

    pub fn period(&self, index: u64) -> Option<&PeriodAnchor> {
        self.periods.iter().find(|p| p.index == index)
    }

    /// A segment of the reference track, in Period `period`, covering media
    /// time `start..end`, was completed at wall-clock time `made`.
    pub fn segment_made(
        &mut self,
        period: u64,
        start: MediaTime,
        end: MediaTime,
        made: SystemTime,
    ) -> Verdict {
        let duration = end.since(start);
        // The wall-clock time the segment started at, if it ended just now.
        let wall_start = made.checked_sub(duration).unwrap_or(made);
        let Some(ast) = self.ast else {
            let ast = truncate_to_ms(wall_start);
            self.ast = Some(ast);
            let anchor = PeriodAnchor {
                index: period,
                start: Duration::ZERO,
                media_start: start,
            };
            self.periods.push_back(anchor);
            self.last_end = duration;
            return Verdict::NewPeriod(anchor);
        };
        if let Some(p) = self.periods.iter().find(|p| p.index == period).copied() {
            let expected_end = p.start.saturating_add(end.since(p.media_start));
            self.last_end = self.last_end.max(expected_end);
            let actual_end = made.duration_since(ast).unwrap_or_default();
            let drift_ms = signed_ms(actual_end) - signed_ms(expected_end);
            if drift_ms.unsigned_abs() > self.threshold.as_millis() as u64 && !self.split_asked {
                self.split_asked = true;
                return Verdict::Drifted { drift_ms };
            }
            return Verdict::OnTime;
        }
        // A new Period: where this segment really started on the wall clock,
        // or exactly where the previous Period's media ended when that is
        // within the threshold (a configuration change with no gap keeps the
        // Periods connected).
        let candidate = ms_floor(wall_start.duration_since(ast).unwrap_or_default());
        let near = candidate.abs_diff(self.last_end) <= self.threshold;
        let mut start_at = if near { self.last_end } else { candidate };
        // Period starts strictly increase.
        if let Some(prev) = self.periods.back() {
            start_at = start_at.max(prev.start + Duration::from_millis(1));
        }
        let anchor = PeriodAnchor {
            index: period,
            start: ms_floor(start_at),
            media_start: start,
        };
        self.periods.push_back(anchor);
        while self.periods.len() > MAX_PERIODS {
            self.periods.pop_front();
        }
        self.split_asked = false;
        self.last_end = anchor.start.saturating_add(duration);
        Verdict::NewPeriod(anchor)
    }
}

fn signed_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn ms_floor(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn truncate_to_ms(t: SystemTime) -> SystemTime {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => SystemTime::UNIX_EPOCH + ms_floor(d),
        Err(_) => t,
    }
}

/// The stream's DASH Periods: the clock that anchors them and the number
/// of the current one (the Period of the reference track's open segment).
/// Every track's segments carry the Period of the reference cut they
/// follow, so a Period starts at the same cut on every track.
#[derive(Debug)]
pub(crate) struct Periods {
    clock: PeriodClock,
    current: u64,
    /// A segment was cut already (the first cut never opens a new Period).
    cut_once: bool,
    /// The drift guard (or the host) asked for a new Period at the next cut.
    split_pending: bool,
}

impl Periods {
    pub fn new(drift_threshold: Duration) -> Self {
        Periods {
            clock: PeriodClock::new(drift_threshold),
            current: 0,
            cut_once: false,
            split_pending: false,
        }
    }

    pub fn current(&self) -> u64 {
        self.current
    }

    pub fn clock(&self) -> &PeriodClock {
        &self.clock
    }

    pub fn clock_mut(&mut self) -> &mut PeriodClock {
        &mut self.clock
    }

    /// A reference cut was made: the Periods are under way.
    pub fn started(&self) -> bool {
        self.cut_once
    }

    /// Start a new Period at the next reference cut.
    pub fn split(&mut self) {
        self.split_pending = true;
    }

    /// The Period of the next reference cut, advancing it when that cut
    /// follows a discontinuity or a split was asked for.
    pub fn next(&mut self, discontinuity: bool) -> u64 {
        // A pending split is used up by this cut either way: a discontinuity
        // opens the new Period it asked for.
        let split = std::mem::take(&mut self.split_pending);
        if (discontinuity || split) && self.cut_once {
            self.current += 1;
        }
        self.cut_once = true;
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: u32 = 90_000;

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_000 + ms)
    }

    fn mt(ms: u64) -> MediaTime {
        MediaTime::new(ms * 90, TS)
    }

    #[test]
    fn first_segment_fixes_ast_so_it_ends_when_made_dash_mpd_01() {
        let mut c = PeriodClock::new(Duration::from_millis(500));
        // Media 10 000..12 000 ms, made at wall 5 000 ms.
        let v = c.segment_made(0, mt(10_000), mt(12_000), at(5_000));
        let p = PeriodAnchor {
            index: 0,
            start: Duration::ZERO,
            media_start: mt(10_000),
        };
        assert_eq!(v, Verdict::NewPeriod(p));
        assert_eq!(c.availability_start(), Some(at(3_000)));
        // Real-time segments with jitter under the threshold change nothing.
        assert_eq!(
            c.segment_made(0, mt(12_000), mt(14_000), at(7_100)),
            Verdict::OnTime
        );
        assert_eq!(
            c.segment_made(0, mt(14_000), mt(16_000), at(8_950)),
            Verdict::OnTime
        );
        assert_eq!(c.availability_start(), Some(at(3_000)));
    }

    #[test]
    fn drift_past_the_threshold_asks_once_for_a_new_period_dash_mpd_08() {
        let mut c = PeriodClock::new(Duration::from_millis(500));
        c.segment_made(0, mt(0), mt(2_000), at(2_000));
        // Media 1 % fast: each 2 s segment arrives 20 ms early.
        let mut asked = Vec::new();
        for i in 1..40u64 {
            let v = c.segment_made(
                0,
                mt(i * 2_000),
                mt(i * 2_000 + 2_000),
                at(2_000 + i * 1_980),
            );
            if let Verdict::Drifted { drift_ms } = v {
                asked.push((i, drift_ms));
            }
        }
        // 26 segments × 20 ms = 520 ms > 500 ms; asked once only.
        assert_eq!(asked, vec![(26, -520)]);
        // The next cut opens Period 1 where its media really started.
        let v = c.segment_made(1, mt(80_000), mt(82_000), at(2_000 + 40 * 1_980));
        let Verdict::NewPeriod(p) = v else {
            panic!("{v:?}")
        };
        assert_eq!(p.index, 1);
        assert_eq!(p.start, Duration::from_millis(40 * 1_980 - 2_000 + 2_000));
        assert_eq!(p.media_start, mt(80_000));
        // Within the new Period the mapping is exact again.
        assert_eq!(
            c.segment_made(1, mt(82_000), mt(84_000), at(2_000 + 41 * 1_980 + 20)),
            Verdict::OnTime
        );
    }

    #[test]
    fn late_media_is_positive_drift() {
        let mut c = PeriodClock::new(Duration::from_millis(500));
        c.segment_made(0, mt(0), mt(2_000), at(2_000));
        assert_eq!(
            c.segment_made(0, mt(2_000), mt(4_000), at(4_600)),
            Verdict::Drifted { drift_ms: 600 }
        );
    }

    #[test]
    fn a_reconnect_period_starts_at_its_wall_clock_time_dash_mpd_09() {
        let mut c = PeriodClock::new(Duration::from_millis(500));
        c.segment_made(0, mt(0), mt(2_000), at(2_000));
        c.segment_made(0, mt(2_000), mt(4_000), at(4_000));
        // Publisher gone for 6 s; it restarts its clock at 0.
        let Verdict::NewPeriod(p) = c.segment_made(1, mt(0), mt(2_000), at(12_000)) else {
            panic!()
        };
        assert_eq!(p.start, Duration::from_millis(10_000));
        assert_eq!(p.media_start, mt(0));
        assert_eq!(c.period(0).map(|p| p.start), Some(Duration::ZERO));
    }

    #[test]
    fn a_gapless_new_period_connects_to_the_previous_one() {
        let mut c = PeriodClock::new(Duration::from_millis(500));
        c.segment_made(0, mt(0), mt(2_000), at(2_000));
        c.segment_made(0, mt(2_000), mt(4_000), at(4_010));
        // A configuration change at media 4 000 ms, made 30 ms late.
        let Verdict::NewPeriod(p) = c.segment_made(1, mt(4_000), mt(6_000), at(6_030)) else {
            panic!()
        };
        assert_eq!(p.start, Duration::from_millis(4_000));
    }

    #[test]
    fn period_starts_strictly_increase() {
        let mut c = PeriodClock::new(Duration::from_millis(100));
        c.segment_made(0, mt(0), mt(2_000), at(2_000));
        // A burst: the next Period's media would start before AST + 0.
        let Verdict::NewPeriod(p) = c.segment_made(1, mt(2_000), mt(4_000), at(2_100)) else {
            panic!()
        };
        assert!(p.start > Duration::ZERO);
    }

    #[test]
    fn media_time_arithmetic() {
        let a = MediaTime::new(48_000, 48_000);
        assert_eq!(a.rescale(90_000), 90_000);
        assert_eq!(
            MediaTime::new(90_000 * 3, TS).since(a),
            Duration::from_secs(2)
        );
        assert_eq!(a.since(MediaTime::new(90_000 * 3, TS)), Duration::ZERO);
        assert_eq!(MediaTime::new(u64::MAX, 1).rescale(90_000), u64::MAX);
    }
}
