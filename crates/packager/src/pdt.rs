//! PROGRAM-DATE-TIME: which wall-clock time a media time maps to. Each
//! publisher of a stream (a reconnect brings a new one) anchors its media
//! clock to the wall clock at its first frame; a segment is stamped with
//! the anchor of the publisher that made it.

use std::time::{Duration, SystemTime};

/// Wall clock ↔ media time anchors for PROGRAM-DATE-TIME, newest last:
/// (wall clock, media ms it maps). A reconnect adds one; segments made
/// before it keep the mapping of their own publisher.
#[derive(Default)]
pub(crate) struct Anchors {
    pub list: Vec<(SystemTime, i64)>,
    /// A new anchor is taken at the next frame (start, or after a reconnect).
    pub pending: bool,
}

impl Anchors {
    pub fn take(&mut self, now: SystemTime, dts_ms: i64) {
        if std::mem::take(&mut self.pending) {
            self.list.push((now, dts_ms));
            // Only segments still in a window can need an old anchor.
            if self.list.len() > 16 {
                self.list.remove(0);
            }
        }
    }

    /// PROGRAM-DATE-TIME of media time `start_ms`: the newest anchor at or
    /// before it.
    pub fn program_date_time(&self, start_ms: i64) -> SystemTime {
        self.list
            .iter()
            .rev()
            .find(|(_, media)| *media <= start_ms)
            .or(self.list.first())
            .map_or(SystemTime::UNIX_EPOCH, |(wall, media)| {
                offset_time(*wall, start_ms - media)
            })
    }
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
    use super::*;

    #[test]
    fn segments_take_the_anchor_of_their_own_publisher() {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut a = Anchors {
            list: Vec::new(),
            pending: true,
        };
        assert_eq!(a.program_date_time(0), SystemTime::UNIX_EPOCH);
        a.take(wall, 0);
        // Only the first frame after a (re)start anchors.
        a.take(wall + Duration::from_secs(9), 5_000);
        assert_eq!(a.program_date_time(4_000), wall + Duration::from_secs(4));
        a.pending = true;
        a.take(wall + Duration::from_secs(20), 10_000);
        assert_eq!(a.program_date_time(9_000), wall + Duration::from_secs(9));
        assert_eq!(a.program_date_time(12_000), wall + Duration::from_secs(22));
        // Before the first anchor: the first one, backwards.
        assert_eq!(a.program_date_time(-1_000), wall - Duration::from_secs(1));
    }
}
