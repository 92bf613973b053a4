//! Successive snapshots of one media playlist: what may change between
//! them (HLS-LIVE-05).

use super::{HlsError, MediaPlaylist};

/// Checks that `next` is a legal successor of `prev`, one rendition's
/// snapshots in publication order (HLS-LIVE-05): same target duration;
/// sequence numbers never decrease; the segments that stay are unchanged
/// (parts may be dropped) and new ones are only appended; removing
/// segments advances EXT-X-MEDIA-SEQUENCE by their count and
/// EXT-X-DISCONTINUITY-SEQUENCE by the discontinuities among them; an ended
/// playlist never changes again.
///
/// Meant for tests and debug assertions in the stream owner.
///
/// # Errors
///
/// [`HlsError::InvalidUpdate`] naming the first rule broken.
pub fn check_update(prev: &MediaPlaylist, next: &MediaPlaylist) -> Result<(), HlsError> {
    if next.target_duration != prev.target_duration {
        return Err(HlsError::invalid_update(format!(
            "EXT-X-TARGETDURATION changed from {} to {}",
            prev.target_duration, next.target_duration
        )));
    }
    if prev.ended && (next.segments != prev.segments || !next.ended) {
        return Err(HlsError::invalid_update("an ended playlist changed"));
    }
    let removed = next
        .media_sequence
        .checked_sub(prev.media_sequence)
        .ok_or_else(|| HlsError::invalid_update("EXT-X-MEDIA-SEQUENCE decreased"))?;
    let removed = usize::try_from(removed).unwrap_or(usize::MAX);
    let Some(kept) = prev.segments.get(removed..) else {
        // Everything listed before is gone; only monotonicity can be checked.
        if next.discontinuity_sequence < prev.discontinuity_sequence {
            return Err(HlsError::invalid_update(
                "EXT-X-DISCONTINUITY-SEQUENCE decreased",
            ));
        }
        return Ok(());
    };
    let slid_out = prev
        .segments
        .iter()
        .take(removed)
        .filter(|s| s.discontinuity)
        .count();
    let expected = prev
        .discontinuity_sequence
        .saturating_add(u64::try_from(slid_out).unwrap_or(u64::MAX));
    if next.discontinuity_sequence != expected {
        return Err(HlsError::invalid_update(format!(
            "EXT-X-DISCONTINUITY-SEQUENCE is {}, expected {expected}",
            next.discontinuity_sequence
        )));
    }
    if next.segments.len() < kept.len() {
        return Err(HlsError::invalid_update(
            "segments removed from the end of the playlist",
        ));
    }
    for (offset, (old, new)) in kept.iter().zip(&next.segments).enumerate() {
        let same = old.uri == new.uri
            && old.duration == new.duration
            && old.map == new.map
            && old.discontinuity == new.discontinuity
            && old.program_date_time == new.program_date_time
            && new.parts.iter().all(|part| old.parts.contains(part));
        if !same {
            let msn = next
                .media_sequence
                .saturating_add(u64::try_from(offset).unwrap_or(u64::MAX));
            return Err(HlsError::invalid_update(format!(
                "segment {msn} changed while listed"
            )));
        }
    }
    Ok(())
}
