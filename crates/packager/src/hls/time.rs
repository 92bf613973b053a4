//! Exact media durations and the two time formats playlists print:
//! decimal seconds (EXTINF, PART DURATION, hold-backs) and ISO 8601 dates
//! (EXT-X-PROGRAM-DATE-TIME).

use std::fmt;
use std::num::{NonZeroU128, NonZeroU32};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::HlsError;

/// Decimal places printed for every duration (EXTINF, EXT-X-PART DURATION,
/// PART-TARGET, HOLD-BACK, PART-HOLD-BACK, CAN-SKIP-UNTIL).
///
/// Five places resolve 10 µs, finer than one tick of a 90 kHz video clock
/// (11.1 µs), so every printed value is within 5 µs of the exact tick count.
/// A client that sums EXTINFs over a window of 1 000 segments is then at most
/// 5 ms away from the `tfdt` timeline, where three places (0.5 ms per
/// segment) could drift by half a second, enough for hls.js to misplace a
/// fragment or for a PDT mapping to look ambiguous. Five places is what
/// Apple's own LL-HLS examples print (`PART-TARGET=0.33334`), and hls.js,
/// Safari and ffmpeg parse any number of places.
pub const DURATION_DECIMALS: usize = 5;

/// 10^[`DURATION_DECIMALS`]: printed units per second.
const UNITS_PER_SEC: u128 = 100_000;

const TWO: NonZeroU128 = match NonZeroU128::new(2) {
    Some(t) => t,
    None => NonZeroU128::MIN,
};
const ONE: NonZeroU32 = NonZeroU32::MIN;
const THOUSAND: NonZeroU32 = match NonZeroU32::new(1000) {
    Some(t) => t,
    None => NonZeroU32::MIN,
};

/// An exact duration on a media timescale: `ticks / timescale` seconds.
///
/// Segment and part durations come from sample durations on the track's
/// timescale (90 kHz video, the sample rate for audio), which `f32`/`f64`
/// seconds and even [`Duration`]'s nanoseconds cannot hold exactly
/// (1024 / 48 000 s). Keeping the ticks means sums are exact and rounding
/// happens once, when a value is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaDuration {
    ticks: u64,
    timescale: NonZeroU32,
}

impl MediaDuration {
    /// `ticks / timescale` seconds.
    pub const fn new(ticks: u64, timescale: NonZeroU32) -> Self {
        Self { ticks, timescale }
    }

    /// `ticks / timescale` seconds, or `None` for a zero timescale.
    pub const fn from_ticks(ticks: u64, timescale: u32) -> Option<Self> {
        match NonZeroU32::new(timescale) {
            Some(timescale) => Some(Self { ticks, timescale }),
            None => None,
        }
    }

    /// Whole milliseconds (timescale 1 000).
    pub const fn from_millis(ms: u64) -> Self {
        Self::new(ms, THOUSAND)
    }

    /// Whole seconds (timescale 1).
    pub const fn from_secs(secs: u64) -> Self {
        Self::new(secs, ONE)
    }

    /// The duration in ticks.
    pub const fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Ticks per second.
    pub const fn timescale(&self) -> NonZeroU32 {
        self.timescale
    }

    /// The value in printed units (10^-[`DURATION_DECIMALS`] s), rounded
    /// half up. Every comparison a client can make (EXTINF against the
    /// target, DURATION against PART-TARGET) is made on this value.
    pub(crate) fn units(&self) -> u128 {
        let timescale = NonZeroU128::from(self.timescale);
        // ticks < 2^64 and UNITS_PER_SEC < 2^17, so nothing here overflows
        // u128; saturating ops only satisfy the lint.
        let scaled = u128::from(self.ticks).saturating_mul(UNITS_PER_SEC.saturating_mul(2));
        scaled.saturating_add(timescale.get()) / timescale.saturating_mul(TWO)
    }

    /// The printed value, for example `2.00200` for 180 180 ticks at 90 kHz.
    pub fn decimal(&self) -> Decimal {
        Decimal(self.units())
    }

    /// The duration as a [`Duration`], rounded **up** to the nanosecond, so
    /// that availability windows built from it are never short.
    pub fn to_std(&self) -> Duration {
        let timescale = u128::from(self.timescale.get());
        let nanos = u128::from(self.ticks).saturating_mul(1_000_000_000);
        let nanos = nanos.div_ceil(timescale);
        let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
        let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
        Duration::new(secs, sub)
    }
}

/// A duration in printed units; [`fmt::Display`] writes it with exactly
/// [`DURATION_DECIMALS`] decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Decimal(u128);

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:0width$}",
            self.0 / UNITS_PER_SEC,
            self.0 % UNITS_PER_SEC,
            width = DURATION_DECIMALS
        )
    }
}

/// The duration as printed, rounded half up to whole seconds: the value
/// HLS-PL-02 compares with EXT-X-TARGETDURATION ("every EXTINF rounded to
/// the nearest integer ≤ target", protocol version 6+).
///
/// The rounding is applied to the printed 5-decimal value, not the exact
/// tick count, because that is what a client sees: 1.499996 s prints as
/// `1.50000` and so counts as 2 s. Half rounds up (2.5 s → 3 s), the
/// conservative reading of "nearest integer".
pub fn round_half_up_secs(d: MediaDuration) -> u64 {
    let secs = d.units().saturating_add(UNITS_PER_SEC / 2) / UNITS_PER_SEC;
    u64::try_from(secs).unwrap_or(u64::MAX)
}

/// How long a segment removed from a live playlist must stay downloadable,
/// counted from when it **first appeared** in the playlist (HLS-LIVE-04,
/// rfc8216bis §6.2.2): its own duration plus the duration of the longest
/// playlist that contained it.
///
/// `longest_playlist` is the maximum of [`MediaPlaylist::duration`] over
/// the snapshots that listed the segment; the caller tracks it. The result
/// rounds up, so a segment is never dropped early.
///
/// [`MediaPlaylist::duration`]: super::MediaPlaylist::duration
pub fn availability_duration(segment: MediaDuration, longest_playlist: Duration) -> Duration {
    segment.to_std().saturating_add(longest_playlist)
}

/// Formats `t` as `YYYY-MM-DDThh:mm:ss.sssZ` (UTC, milliseconds truncated),
/// the form EXT-X-PROGRAM-DATE-TIME should take (HLS-PL-07).
///
/// Times before 1970 or after 9999 are an [`HlsError::ProgramDateTimeOutOfRange`].
pub fn format_program_date_time(t: SystemTime) -> Result<String, HlsError> {
    let mut out = String::with_capacity(24);
    write_program_date_time(&mut out, t)?;
    Ok(out)
}

/// Appends the ISO 8601 form of `t` to `out`.
pub(crate) fn write_program_date_time(out: &mut String, t: SystemTime) -> Result<(), HlsError> {
    use fmt::Write as _;

    let since = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| HlsError::ProgramDateTimeOutOfRange)?;
    let secs = since.as_secs();
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    if year > 9999 {
        return Err(HlsError::ProgramDateTimeOutOfRange);
    }
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since.subsec_millis()
    );
    Ok(())
}

/// Proleptic Gregorian date of the day `days` after 1970-01-01.
///
/// Works in 400-year eras (146 097 days each) whose years start on 1 March,
/// so the leap day is the last day of a year and month lengths follow the
/// fixed 153-days-per-5-months pattern.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // 0000-03-01 is 719 468 days before 1970-01-01.
    let z = days.saturating_add(719_468);
    let era = z / 146_097;
    let day_of_era = z % 146_097; // [0, 146096]
    let year_of_era = day_of_era
        .saturating_sub(day_of_era / 1_460)
        .saturating_add(day_of_era / 36_524)
        .saturating_sub(day_of_era / 146_096)
        / 365; // [0, 399]
    let day_of_year = day_of_era.saturating_sub(
        year_of_era
            .saturating_mul(365)
            .saturating_add(year_of_era / 4)
            .saturating_sub(year_of_era / 100),
    ); // [0, 365], day 0 = 1 March
    let month_index = day_of_year.saturating_mul(5).saturating_add(2) / 153; // [0, 11], 0 = March
    let day = day_of_year
        .saturating_sub(month_index.saturating_mul(153).saturating_add(2) / 5)
        .saturating_add(1);
    let month = if month_index < 10 {
        month_index.saturating_add(3)
    } else {
        month_index.saturating_sub(9)
    };
    let year = era
        .saturating_mul(400)
        .saturating_add(year_of_era)
        .saturating_add(u64::from(month <= 2));
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ticks: u64, timescale: u32) -> MediaDuration {
        MediaDuration::from_ticks(ticks, timescale).unwrap()
    }

    #[test]
    fn decimal_prints_five_places_rounded_half_up() {
        assert_eq!(d(180_180, 90_000).decimal().to_string(), "2.00200");
        assert_eq!(d(96_256, 48_000).decimal().to_string(), "2.00533");
        assert_eq!(d(1, 3).decimal().to_string(), "0.33333");
        assert_eq!(d(2, 3).decimal().to_string(), "0.66667");
        // 0.000005 exactly: half a unit rounds up.
        assert_eq!(d(5, 1_000_000).decimal().to_string(), "0.00001");
        assert_eq!(d(4, 1_000_000).decimal().to_string(), "0.00000");
        assert_eq!(MediaDuration::from_secs(0).decimal().to_string(), "0.00000");
        assert_eq!(
            MediaDuration::from_millis(6006).decimal().to_string(),
            "6.00600"
        );
        assert_eq!(
            d(u64::MAX, 1).decimal().to_string(),
            "18446744073709551615.00000"
        );
    }

    #[test]
    fn rounding_to_seconds_uses_the_printed_value() {
        assert_eq!(round_half_up_secs(MediaDuration::from_millis(2400)), 2);
        assert_eq!(round_half_up_secs(MediaDuration::from_millis(2499)), 2);
        assert_eq!(round_half_up_secs(MediaDuration::from_millis(2500)), 3);
        assert_eq!(round_half_up_secs(MediaDuration::from_millis(2600)), 3);
        assert_eq!(round_half_up_secs(MediaDuration::from_millis(0)), 0);
        // 1.4999961 s prints as 1.50000, so a client rounds it to 2.
        assert_eq!(d(14_999_961, 10_000_000).decimal().to_string(), "1.50000");
        assert_eq!(round_half_up_secs(d(14_999_961, 10_000_000)), 2);
        assert_eq!(round_half_up_secs(d(14_999_949, 10_000_000)), 1);
        assert_eq!(round_half_up_secs(d(u64::MAX, 1)), u64::MAX);
    }

    #[test]
    fn to_std_rounds_up_to_the_nanosecond() {
        assert_eq!(d(1, 3).to_std(), Duration::from_nanos(333_333_334));
        assert_eq!(d(180_000, 90_000).to_std(), Duration::from_secs(2));
        assert_eq!(
            d(u64::MAX, 1).to_std(),
            Duration::from_secs(u64::MAX),
            "saturates instead of wrapping"
        );
    }

    #[test]
    fn availability_is_segment_plus_longest_playlist() {
        assert_eq!(
            availability_duration(MediaDuration::from_millis(2002), Duration::from_secs(8)),
            Duration::from_millis(10_002)
        );
    }

    #[test]
    fn program_date_time_known_dates() {
        let at = |secs: u64, ms: u64| {
            format_program_date_time(
                UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms),
            )
            .unwrap()
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 1), "2000-02-29T00:00:00.001Z");
        assert_eq!(at(951_868_799, 999), "2000-02-29T23:59:59.999Z");
        assert_eq!(at(1_709_164_800, 0), "2024-02-29T00:00:00.000Z");
        assert_eq!(at(1_795_521_600, 123), "2026-11-24T12:00:00.123Z");
        assert_eq!(at(4_107_542_399, 0), "2100-02-28T23:59:59.000Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000Z");
        assert_eq!(at(253_402_300_799, 999), "9999-12-31T23:59:59.999Z");
        // Sub-millisecond parts are truncated, never carried into seconds.
        let t = UNIX_EPOCH + Duration::new(59, 999_999_999);
        assert_eq!(
            format_program_date_time(t).unwrap(),
            "1970-01-01T00:00:59.999Z"
        );
    }

    #[test]
    fn program_date_time_out_of_range() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(
            format_program_date_time(before),
            Err(HlsError::ProgramDateTimeOutOfRange)
        );
        let after = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert_eq!(
            format_program_date_time(after),
            Err(HlsError::ProgramDateTimeOutOfRange)
        );
    }

    #[test]
    fn civil_from_days_matches_a_day_by_day_walk() {
        let mut date = (1970, 1, 1);
        for days in 0..200_000 {
            assert_eq!(civil_from_days(days), date, "day {days}");
            let (y, m, d) = date;
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            date = if d < len {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }
}
