//! Property tests for the media timeline (spec-checklist RTMP-TS-01/02/04,
//! style-anchors "rebaser monotonic across a 2^32 wrap").

use proptest::prelude::*;
use weir_flv::timeline::{Mapped, Timeline, TimelineConfig, Track};

const WRAP_31: u64 = 1 << 31;
const WRAP_32: u64 = 1 << 32;

/// Wire value of an absolute clock under a publisher that wraps at `modulus`.
fn wire(clock: u64, modulus: u64) -> u32 {
    u32::try_from(clock % modulus).unwrap()
}

fn modulus() -> impl Strategy<Value = u64> {
    prop_oneof![Just(WRAP_31), Just(WRAP_32)]
}

fn track() -> impl Strategy<Value = Track> {
    prop_oneof![Just(Track::Video), Just(Track::Audio)]
}

proptest! {
    /// RTMP-TS-01/02: small positive deltas across a 2^31 or 2^32 wrap at a
    /// random point: output deltas equal input deltas, no discontinuity.
    #[test]
    fn ts01_ts02_deltas_survive_wraps(
        modulus in modulus(),
        before_wrap in 0u64..200_000,
        deltas in prop::collection::vec(0u64..=1_000, 1..400),
    ) {
        let start = modulus - before_wrap.min(modulus - 1);
        let mut t = Timeline::default();
        let first = t.map(Track::Video, wire(start, modulus));
        prop_assert_eq!(first.dts_ms, i64::from(wire(start, modulus)));
        let mut clock = start;
        let mut last = first.dts_ms;
        for d in deltas {
            clock += d;
            let m = t.map(Track::Video, wire(clock, modulus));
            prop_assert!(!m.discontinuity);
            prop_assert_eq!(m.dts_ms - last, i64::try_from(d).unwrap());
            last = m.dts_ms;
        }
    }

    /// RTMP-TS-01/02: two tracks interleaved on one publisher clock, wrapping
    /// somewhere: DTS - clock is the same constant on both tracks (A/V aligned),
    /// every step equals the clock step, no discontinuity.
    #[test]
    fn ts01_ts02_interleaved_tracks_stay_aligned(
        modulus in modulus(),
        before_wrap in 0u64..20_000,
        events in prop::collection::vec((track(), 0u64..=25), 1..200),
    ) {
        let start = modulus - before_wrap.min(modulus - 1);
        let mut t = Timeline::default();
        let mut clock = start;
        let mut constant: Option<i64> = None;
        for (tr, d) in events {
            clock += d;
            let m = t.map(tr, wire(clock, modulus));
            prop_assert!(!m.discontinuity);
            let c = m.dts_ms - i64::try_from(clock).unwrap();
            prop_assert_eq!(*constant.get_or_insert(c), c);
        }
    }

    /// RTMP-TS-04: both running tracks jump by J (beyond the threshold, either
    /// way) at a random point: exactly one discontinuity, DTS never decreases
    /// per track, and after the jump both tracks share one new clock offset (a
    /// sample is only off it when clamped to its track's previous DTS).
    #[test]
    fn ts04_jump_gives_one_discontinuity(
        rest in prop::collection::vec((track(), 1u64..=25), 0..200),
        jump_at in 2usize..200,
        magnitude in 5_600i64..(1 << 29),
        backwards in any::<bool>(),
    ) {
        // Both tracks are running before the jump.
        let mut events = vec![(Track::Video, 1), (Track::Audio, 1)];
        events.extend(rest);
        let jump = if backwards { -magnitude } else { magnitude };
        let start = 1i64 << 31;
        let mut t = Timeline::default();
        let mut clock = start;
        let mut discontinuities = 0;
        let mut last = [None::<i64>, None];
        let mut after: Option<i64> = None;
        for (i, (tr, d)) in events.iter().enumerate() {
            clock += i64::try_from(*d).unwrap();
            let shifted = if i >= jump_at { clock + jump } else { clock };
            let Mapped { dts_ms, discontinuity } =
                t.map(*tr, u32::try_from(shifted.rem_euclid(1 << 32)).unwrap());
            discontinuities += usize::from(discontinuity);
            let idx = usize::from(*tr == Track::Audio);
            if let Some(prev) = last[idx] {
                prop_assert!(dts_ms >= prev);
            }
            if i >= jump_at {
                let c = *after.get_or_insert(dts_ms - clock);
                prop_assert!(dts_ms - clock == c || Some(dts_ms) == last[idx],
                    "event {} off the shared offset", i);
            } else {
                prop_assert_eq!(dts_ms, clock);
            }
            last[idx] = Some(dts_ms);
        }
        prop_assert_eq!(discontinuities, usize::from(jump_at < events.len()));
    }

    /// Anything goes (arbitrary timestamps, reconnects, thresholds): never a
    /// panic, DTS never decreases per track, reconnect flags exactly once.
    #[test]
    fn ts04_monotonic_for_arbitrary_input(
        max_jump_ms in prop_oneof![Just(0u64), 1u64..10_000, Just(u64::MAX)],
        ops in prop::collection::vec(
            prop_oneof![
                8 => (track(), any::<u32>()).prop_map(|(t, ts)| Some((t, ts))),
                1 => Just(None),
            ],
            0..300,
        ),
    ) {
        let mut t = Timeline::new(TimelineConfig { max_jump_ms });
        let mut last = [None::<i64>, None];
        let mut pending = [false, false];
        for op in ops {
            match op {
                Some((tr, ts)) => {
                    let idx = usize::from(tr == Track::Audio);
                    let m = t.map(tr, ts);
                    if let Some(prev) = last[idx] {
                        prop_assert!(m.dts_ms >= prev);
                    }
                    if pending[idx] {
                        prop_assert!(m.discontinuity);
                        prop_assert!(m.dts_ms > last[idx].unwrap());
                        pending[idx] = false;
                    }
                    last[idx] = Some(m.dts_ms);
                    prop_assert_eq!(t.last_dts_ms(tr), Some(m.dts_ms));
                }
                None => {
                    t.reset_for_reconnect();
                    pending = [last[0].is_some(), last[1].is_some()];
                }
            }
        }
    }
}
