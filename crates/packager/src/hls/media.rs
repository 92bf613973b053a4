//! The media playlist: model and writer (rfc8216bis §4.4.3–§4.4.5).

use std::time::{Duration, SystemTime};

use super::text::{check_uri, line, Attrs};
use super::time::{round_half_up_secs, write_program_date_time, MediaDuration};
use super::HlsError;

/// EXT-X-VERSION of every media playlist: fMP4 segments with EXT-X-MAP
/// outside an I-frame playlist need 6 (HLS-PL-01, rfc8216bis §8).
pub const MEDIA_VERSION: u32 = 6;
/// EXT-X-VERSION of a playlist delta update, which carries EXT-X-SKIP.
pub const DELTA_VERSION: u32 = 9;

/// One snapshot of a live (or ended) fMP4 media playlist.
///
/// The model holds exactly what the playlist says; [`write_media`] adds
/// nothing the caller did not decide except the EXT-X-MAP placement. The
/// owner of the stream keeps one model per rendition, appends segments as
/// the segmenter closes them, calls [`MediaPlaylist::remove_oldest`] to
/// slide the window (which keeps both sequence numbers right), sets
/// `ended` on unpublish, and renders an immutable text snapshot after each
/// change (HLS-LIVE-05).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaPlaylist {
    /// EXT-X-TARGETDURATION in seconds, at least 1. It must not change
    /// for the playlist's life (HLS-PL-02; see HLS-LIVE-06 for long GOPs),
    /// and every EXTINF, rounded half up to whole seconds, must be ≤ it:
    /// [`write_media`] refuses the model otherwise.
    pub target_duration: u32,
    /// EXT-X-MEDIA-SEQUENCE: the Media Sequence Number of `segments[0]`.
    pub media_sequence: u64,
    /// EXT-X-DISCONTINUITY-SEQUENCE: discontinuity tags that have slid out
    /// of the window (plus any starting value). Always written, so every
    /// rendition states it explicitly (HLS-PL-04, HLS-MV-02).
    pub discontinuity_sequence: u64,
    /// Complete segments, oldest first.
    pub segments: Vec<Segment>,
    /// EXT-X-ENDLIST: no segment will be added (HLS-PL-08, HLS-LIVE-09).
    pub ended: bool,
    /// EXT-X-INDEPENDENT-SEGMENTS. Prefer setting it once in the
    /// multivariant playlist (HLS-PL-06); a media playlist should carry it
    /// only when it is served on its own.
    pub independent_segments: bool,
    /// EXT-X-PART-INF PART-TARGET. Required as soon as any part is listed
    /// (LLHLS-01); its presence makes the playlist low-latency, which also
    /// requires EXT-X-PROGRAM-DATE-TIME and PART-HOLD-BACK.
    pub part_target: Option<MediaDuration>,
    /// EXT-X-SERVER-CONTROL (LLHLS-03).
    pub server_control: Option<ServerControl>,
    /// The segment being built: its parts so far, after the last complete
    /// segment and without an EXTINF (LLHLS-02). Its Media Sequence Number
    /// is `media_sequence + segments.len()`.
    pub partial_segment: Option<PartialSegment>,
    /// EXT-X-PRELOAD-HINTs: the next part, and the init segment it needs
    /// when that is a new one (LLHLS-04); at most one of each TYPE. Not
    /// allowed once `ended`.
    pub preload_hints: Vec<PreloadHint>,
    /// EXT-X-RENDITION-REPORT for every *other* rendition (LLHLS-05).
    pub rendition_reports: Vec<RenditionReport>,
    /// Playlist delta update (LLHLS-09): replace the first `n` of
    /// `segments` with `EXT-X-SKIP:SKIPPED-SEGMENTS=n` (EXT-X-VERSION 9).
    /// `segments` stays the full list, so one model renders both the full
    /// playlist and its delta. Requires CAN-SKIP-UNTIL, and the segments
    /// left must span at least CAN-SKIP-UNTIL (see
    /// [`MediaPlaylist::max_skippable_segments`]).
    pub skip: Option<u64>,
}

/// One complete media segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The segment's URI, relative to the playlist.
    pub uri: String,
    /// Exact duration; printed as EXTINF with five decimals
    /// ([`DURATION_DECIMALS`](super::DURATION_DECIMALS)).
    pub duration: MediaDuration,
    /// The init segment this segment needs. [`write_media`] writes
    /// EXT-X-MAP above the first listed segment and wherever the URI
    /// changes, so the MAP covering the first segment survives every slide
    /// (HLS-PL-05). A change needs `discontinuity` (HLS-PL-04).
    pub map: MapRef,
    /// EXT-X-DISCONTINUITY before this segment: new timestamps, tracks or
    /// encoder parameters (HLS-PL-04, HLS-LIVE-08).
    pub discontinuity: bool,
    /// EXT-X-PROGRAM-DATE-TIME of the segment's first sample, written as
    /// `YYYY-MM-DDThh:mm:ss.sssZ`.
    ///
    /// Written on every segment that has one. If any segment has one (or
    /// the playlist is low-latency), the first segment and every segment
    /// after a discontinuity must have one (HLS-PL-07), or [`write_media`]
    /// fails. Since the first segment changes on every slide, the simple
    /// way to stay valid is to set it on **all** segments, computed as the
    /// stream's wall-clock anchor plus media time since the anchor
    /// (re-anchored at each discontinuity), so that consecutive PDTs differ
    /// by exactly the EXTINF and the mapping is never ambiguous. That is
    /// also what LL-HLS players (hls.js gates low-latency mode on PDT)
    /// handle best.
    pub program_date_time: Option<SystemTime>,
    /// EXT-X-PART tags of this segment's parts, written before its EXTINF
    /// (LLHLS-02). Keep them only for the last three target durations
    /// (LLHLS-06); older segments should have none.
    pub parts: Vec<Part>,
}

/// The init segment (EXT-X-MAP) a segment depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRef {
    /// The init segment's URI, relative to the playlist.
    pub uri: String,
}

/// The parts of the segment in progress (low-latency HLS): the segment's
/// tags without its EXTINF and URI.
#[derive(Debug, Clone, PartialEq)]
pub struct PartialSegment {
    /// The init segment the parts need.
    pub map: MapRef,
    /// EXT-X-DISCONTINUITY before the first part.
    pub discontinuity: bool,
    /// EXT-X-PROGRAM-DATE-TIME of the first part.
    pub program_date_time: Option<SystemTime>,
    /// The parts completed so far.
    pub parts: Vec<Part>,
}

/// One partial segment (EXT-X-PART).
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// The part's URI, relative to the playlist.
    pub uri: String,
    /// Exact duration, at most PART-TARGET.
    pub duration: MediaDuration,
    /// INDEPENDENT=YES: the part starts with a keyframe.
    pub independent: bool,
}

/// EXT-X-SERVER-CONTROL attributes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerControl {
    /// CAN-BLOCK-RELOAD=YES: `_HLS_msn`/`_HLS_part` are honoured.
    pub can_block_reload: bool,
    /// CAN-SKIP-UNTIL, at least six target durations.
    pub can_skip_until: Option<MediaDuration>,
    /// HOLD-BACK, at least three target durations (absent means three).
    pub hold_back: Option<MediaDuration>,
    /// PART-HOLD-BACK, required with PART-TARGET and at least twice it
    /// (three times is recommended).
    pub part_hold_back: Option<MediaDuration>,
}

/// EXT-X-PRELOAD-HINT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreloadHint {
    /// TYPE.
    pub kind: PreloadHintKind,
    /// URI of the hinted resource, exactly as it will later be listed.
    pub uri: String,
}

/// EXT-X-PRELOAD-HINT TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreloadHintKind {
    /// The next partial segment.
    Part,
    /// The init segment the next part will need.
    Map,
}

/// EXT-X-RENDITION-REPORT for another rendition of the presentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionReport {
    /// That rendition's media playlist, relative to this one.
    pub uri: String,
    /// LAST-MSN: its last Media Sequence Number (of its last part, if it
    /// has parts).
    pub last_msn: u64,
    /// LAST-PART: index of its last part within `last_msn`, if it has parts.
    pub last_part: Option<u64>,
}

impl MediaPlaylist {
    /// The playlist duration: the sum of the segment durations (rounded up
    /// to the nanosecond). Feed the longest value a segment was listed
    /// under to [`availability_duration`](super::availability_duration).
    pub fn duration(&self) -> Duration {
        self.segments.iter().fold(Duration::ZERO, |sum, s| {
            sum.saturating_add(s.duration.to_std())
        })
    }

    /// Media Sequence Number the next complete segment will get.
    pub fn next_media_sequence(&self) -> u64 {
        let listed = u64::try_from(self.segments.len()).unwrap_or(u64::MAX);
        self.media_sequence.saturating_add(listed)
    }

    /// Removes the oldest segment and keeps the header consistent:
    /// EXT-X-MEDIA-SEQUENCE grows by one (HLS-PL-03) and, if the segment
    /// carried EXT-X-DISCONTINUITY, so does EXT-X-DISCONTINUITY-SEQUENCE
    /// (HLS-PL-04). Returns the segment, which must stay downloadable for
    /// its [availability duration](super::availability_duration).
    ///
    /// Whether a segment *may* be removed (HLS-LIVE-03: the playlist must
    /// stay at least three target durations long) is the caller's policy.
    pub fn remove_oldest(&mut self) -> Option<Segment> {
        if self.segments.is_empty() {
            return None;
        }
        let segment = self.segments.remove(0);
        self.media_sequence = self.media_sequence.saturating_add(1);
        if segment.discontinuity {
            self.discontinuity_sequence = self.discontinuity_sequence.saturating_add(1);
        }
        Some(segment)
    }

    /// How many leading segments a delta update may skip: those that start
    /// more than CAN-SKIP-UNTIL before the end of the playlist, i.e. the
    /// largest `n` such that `segments[n..]` spans at least CAN-SKIP-UNTIL.
    /// Zero without CAN-SKIP-UNTIL or once ended.
    pub fn max_skippable_segments(&self) -> u64 {
        let Some(boundary) = self
            .server_control
            .as_ref()
            .and_then(|c| c.can_skip_until)
            .filter(|_| !self.ended)
        else {
            return 0;
        };
        let boundary = boundary.units();
        let mut tail: u128 = 0;
        let mut kept: usize = 0;
        for segment in self.segments.iter().rev() {
            if tail >= boundary {
                break;
            }
            tail = tail.saturating_add(segment.duration.units());
            kept = kept.saturating_add(1);
        }
        if tail < boundary {
            return 0;
        }
        u64::try_from(self.segments.len().saturating_sub(kept)).unwrap_or(0)
    }
}

/// Renders `p` as playlist text (LF line endings, UTF-8, no BOM).
///
/// Layout: `#EXTM3U`, EXT-X-VERSION (6, or 9 for a delta update),
/// EXT-X-TARGETDURATION, EXT-X-MEDIA-SEQUENCE, EXT-X-DISCONTINUITY-SEQUENCE,
/// then the optional EXT-X-INDEPENDENT-SEGMENTS, EXT-X-SERVER-CONTROL,
/// EXT-X-PART-INF and EXT-X-SKIP; per segment DISCONTINUITY, MAP, PDT,
/// PARTs, EXTINF and URI; then the partial segment, PRELOAD-HINT,
/// RENDITION-REPORTs and ENDLIST. There is never an EXT-X-PLAYLIST-TYPE:
/// the playlist is live until it ends (HLS-PL-08).
///
/// # Errors
///
/// Any [`HlsError`] describing a model that would break a MUST of
/// rfc8216bis or a Weir rule; see each variant. An empty segment list is
/// refused unless the playlist has ended or lists parts of the segment in
/// progress: "valid but empty" per §4.1, but a live playlist that lists
/// nothing gives players nothing to start from (HLS-LIVE-07 holds the first
/// playlist back until it has two segments).
pub fn write_media(p: &MediaPlaylist) -> Result<String, HlsError> {
    if p.target_duration == 0 {
        return Err(HlsError::ZeroTargetDuration);
    }
    let has_partial_parts = p
        .partial_segment
        .as_ref()
        .is_some_and(|s| !s.parts.is_empty());
    if p.segments.is_empty() && !p.ended && !has_partial_parts {
        return Err(HlsError::EmptyLivePlaylist);
    }
    check_low_latency(p)?;
    let skip = skipped_segments(p)?;
    check_program_date_times(p)?;

    let mut out =
        String::with_capacity(256_usize.saturating_add(p.segments.len().saturating_mul(96)));
    out.push_str("#EXTM3U\n");
    let version = if p.skip.is_some() {
        DELTA_VERSION
    } else {
        MEDIA_VERSION
    };
    line(&mut out, format_args!("#EXT-X-VERSION:{version}"));
    line(
        &mut out,
        format_args!("#EXT-X-TARGETDURATION:{}", p.target_duration),
    );
    line(
        &mut out,
        format_args!("#EXT-X-MEDIA-SEQUENCE:{}", p.media_sequence),
    );
    line(
        &mut out,
        format_args!("#EXT-X-DISCONTINUITY-SEQUENCE:{}", p.discontinuity_sequence),
    );
    if p.independent_segments {
        out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    }
    if let Some(control) = &p.server_control {
        write_server_control(&mut out, control);
    }
    if let Some(part_target) = p.part_target {
        Attrs::new(&mut out, "EXT-X-PART-INF")
            .duration("PART-TARGET", part_target)
            .finish();
    }
    if let Some(n) = p.skip {
        line(&mut out, format_args!("#EXT-X-SKIP:SKIPPED-SEGMENTS={n}"));
    }

    let mut previous_map: Option<&str> = None;
    for (index, segment) in p.segments.iter().enumerate() {
        check_uri("segment URI", &segment.uri)?;
        let rounded = round_half_up_secs(segment.duration);
        if rounded > u64::from(p.target_duration) {
            return Err(HlsError::SegmentOverTarget {
                index,
                uri: segment.uri.clone(),
                extinf: segment.duration.decimal().to_string(),
                rounded,
                target: p.target_duration,
            });
        }
        check_parts(p, &segment.parts, true)?;
        let head = SegmentHead {
            index,
            map: &segment.map,
            discontinuity: segment.discontinuity,
            program_date_time: segment.program_date_time,
        };
        if index < skip {
            head.check(previous_map)?;
        } else {
            head.write(&mut out, previous_map, index == skip)?;
            write_parts(&mut out, &segment.parts)?;
            line(
                &mut out,
                format_args!("#EXTINF:{},", segment.duration.decimal()),
            );
            out.push_str(&segment.uri);
            out.push('\n');
        }
        previous_map = Some(&segment.map.uri);
    }

    if let Some(partial) = &p.partial_segment {
        if !partial.parts.is_empty() {
            check_parts(p, &partial.parts, false)?;
            let head = SegmentHead {
                index: p.segments.len(),
                map: &partial.map,
                discontinuity: partial.discontinuity,
                program_date_time: partial.program_date_time,
            };
            head.write(&mut out, previous_map, p.segments.len() == skip)?;
            write_parts(&mut out, &partial.parts)?;
        }
    }
    for hint in &p.preload_hints {
        let kind = match hint.kind {
            PreloadHintKind::Part => "PART",
            PreloadHintKind::Map => "MAP",
        };
        Attrs::new(&mut out, "EXT-X-PRELOAD-HINT")
            .raw("TYPE", kind)
            .uri("URI", &hint.uri)?
            .finish();
    }
    for report in &p.rendition_reports {
        let mut attrs = Attrs::new(&mut out, "EXT-X-RENDITION-REPORT");
        attrs
            .uri("URI", &report.uri)?
            .raw("LAST-MSN", report.last_msn);
        if let Some(last_part) = report.last_part {
            attrs.raw("LAST-PART", last_part);
        }
        attrs.finish();
    }
    if p.ended {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    Ok(out)
}

/// The tags that precede a segment's (or partial segment's) first line.
struct SegmentHead<'a> {
    index: usize,
    map: &'a MapRef,
    discontinuity: bool,
    program_date_time: Option<SystemTime>,
}

impl SegmentHead<'_> {
    /// Validates the head; returns whether EXT-X-MAP must be written.
    fn check(&self, previous_map: Option<&str>) -> Result<bool, HlsError> {
        check_uri("EXT-X-MAP URI", &self.map.uri)?;
        let changed = previous_map.is_some_and(|m| m != self.map.uri);
        if changed && !self.discontinuity {
            return Err(HlsError::MapChangeWithoutDiscontinuity { index: self.index });
        }
        Ok(changed)
    }

    /// Writes DISCONTINUITY, MAP (when `first_listed` or changed) and PDT.
    fn write(
        &self,
        out: &mut String,
        previous_map: Option<&str>,
        first_listed: bool,
    ) -> Result<(), HlsError> {
        let changed = self.check(previous_map)?;
        if self.discontinuity {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if first_listed || changed {
            Attrs::new(out, "EXT-X-MAP")
                .quoted_unchecked("URI", &self.map.uri)
                .finish();
        }
        if let Some(t) = self.program_date_time {
            out.push_str("#EXT-X-PROGRAM-DATE-TIME:");
            write_program_date_time(out, t)?;
            out.push('\n');
        }
        Ok(())
    }
}

fn write_server_control(out: &mut String, control: &ServerControl) {
    let mut attrs = Attrs::new(out, "EXT-X-SERVER-CONTROL");
    if control.can_block_reload {
        attrs.raw("CAN-BLOCK-RELOAD", "YES");
    }
    if let Some(v) = control.can_skip_until {
        attrs.duration("CAN-SKIP-UNTIL", v);
    }
    if let Some(v) = control.hold_back {
        attrs.duration("HOLD-BACK", v);
    }
    if let Some(v) = control.part_hold_back {
        attrs.duration("PART-HOLD-BACK", v);
    }
    attrs.finish();
}

fn write_parts(out: &mut String, parts: &[Part]) -> Result<(), HlsError> {
    for part in parts {
        let mut attrs = Attrs::new(out, "EXT-X-PART");
        attrs
            .duration("DURATION", part.duration)
            .uri("URI", &part.uri)?;
        if part.independent {
            attrs.raw("INDEPENDENT", "YES");
        }
        attrs.finish();
    }
    Ok(())
}

/// Whole seconds in printed units.
fn secs_units(secs: u32, times: u32) -> u128 {
    MediaDuration::from_secs(u64::from(secs).saturating_mul(u64::from(times))).units()
}

/// PART-INF / SERVER-CONTROL / PRELOAD-HINT consistency (LLHLS-01, -03, -04).
fn check_low_latency(p: &MediaPlaylist) -> Result<(), HlsError> {
    let any_parts = p.segments.iter().any(|s| !s.parts.is_empty())
        || p.partial_segment
            .as_ref()
            .is_some_and(|s| !s.parts.is_empty());
    if any_parts && p.part_target.is_none() {
        return Err(HlsError::low_latency("EXT-X-PART requires PART-TARGET"));
    }
    let maps = p
        .preload_hints
        .iter()
        .filter(|h| h.kind == PreloadHintKind::Map)
        .count();
    if maps > 1 || p.preload_hints.len().saturating_sub(maps) > 1 {
        return Err(HlsError::low_latency(
            "more than one EXT-X-PRELOAD-HINT of a TYPE",
        ));
    }
    if p.ended && !p.preload_hints.is_empty() {
        return Err(HlsError::low_latency(
            "EXT-X-PRELOAD-HINT not allowed with EXT-X-ENDLIST",
        ));
    }
    if p.ended
        && p.partial_segment
            .as_ref()
            .is_some_and(|s| !s.parts.is_empty())
    {
        return Err(HlsError::low_latency(
            "an ended playlist has no segment in progress",
        ));
    }
    let control = p.server_control.as_ref();
    if let Some(part_target) = p.part_target {
        if part_target.units() == 0 {
            return Err(HlsError::low_latency("PART-TARGET must be positive"));
        }
        let Some(part_hold_back) = control.and_then(|c| c.part_hold_back) else {
            return Err(HlsError::low_latency(
                "PART-TARGET requires SERVER-CONTROL PART-HOLD-BACK",
            ));
        };
        if part_hold_back.units() < part_target.units().saturating_mul(2) {
            return Err(HlsError::low_latency(format!(
                "PART-HOLD-BACK {} below twice PART-TARGET {}",
                part_hold_back.decimal(),
                part_target.decimal()
            )));
        }
    }
    let Some(control) = control else {
        return Ok(());
    };
    if let Some(hold_back) = control.hold_back {
        if hold_back.units() < secs_units(p.target_duration, 3) {
            return Err(HlsError::low_latency(format!(
                "HOLD-BACK {} below three target durations",
                hold_back.decimal()
            )));
        }
    }
    if let Some(until) = control.can_skip_until {
        if until.units() < secs_units(p.target_duration, 6) {
            return Err(HlsError::low_latency(format!(
                "CAN-SKIP-UNTIL {} below six target durations",
                until.decimal()
            )));
        }
    }
    Ok(())
}

/// Why `parts` break LLHLS-01 against `part_target`, if they do: a part
/// above PART-TARGET, or under 85 % of it except INDEPENDENT parts and the
/// last part of a complete segment. The 85 % floor is not applied to the
/// segment in progress, whose last listed part may turn out to be its final
/// one.
pub fn nonconforming_part(
    part_target: MediaDuration,
    parts: &[Part],
    complete: bool,
) -> Option<String> {
    let target = part_target.units();
    let floor = target.saturating_mul(85).div_ceil(100);
    let last = parts.len().saturating_sub(1);
    parts.iter().enumerate().find_map(|(i, part)| {
        let units = part.duration.units();
        if units > target {
            Some(format!(
                "part {} DURATION {} above PART-TARGET",
                part.uri,
                part.duration.decimal()
            ))
        } else if complete && i != last && !part.independent && units < floor {
            Some(format!(
                "part {} DURATION {} below 85% of PART-TARGET",
                part.uri,
                part.duration.decimal()
            ))
        } else {
            None
        }
    })
}

fn check_parts(p: &MediaPlaylist, parts: &[Part], complete: bool) -> Result<(), HlsError> {
    let Some(target) = p.part_target else {
        return Ok(());
    };
    match nonconforming_part(target, parts, complete) {
        Some(reason) => Err(HlsError::low_latency(reason)),
        None => Ok(()),
    }
}

/// Validates `skip` (LLHLS-09) and returns it as an index.
fn skipped_segments(p: &MediaPlaylist) -> Result<usize, HlsError> {
    let Some(n) = p.skip else {
        return Ok(0);
    };
    if p.ended {
        return Err(HlsError::low_latency("no delta update once ended"));
    }
    let allowed = p.max_skippable_segments();
    if p.server_control
        .as_ref()
        .and_then(|c| c.can_skip_until)
        .is_none()
    {
        return Err(HlsError::low_latency("EXT-X-SKIP requires CAN-SKIP-UNTIL"));
    }
    if n > allowed {
        return Err(HlsError::low_latency(format!(
            "SKIPPED-SEGMENTS={n} crosses the skip boundary (at most {allowed})"
        )));
    }
    usize::try_from(n).map_err(|_| HlsError::low_latency("SKIPPED-SEGMENTS out of range"))
}

/// HLS-PL-07: once the playlist uses PDT (low-latency playlists must), the
/// first segment and every segment after a discontinuity carry one.
fn check_program_date_times(p: &MediaPlaylist) -> Result<(), HlsError> {
    let partial = p
        .partial_segment
        .as_ref()
        .filter(|s| !s.parts.is_empty())
        .map(|s| (s.discontinuity, s.program_date_time));
    let heads = p
        .segments
        .iter()
        .map(|s| (s.discontinuity, s.program_date_time))
        .chain(partial);
    let required = p.part_target.is_some() || heads.clone().any(|(_, pdt)| pdt.is_some());
    if !required {
        return Ok(());
    }
    for (index, (discontinuity, pdt)) in heads.enumerate() {
        if (index == 0 || discontinuity) && pdt.is_none() {
            return Err(HlsError::MissingProgramDateTime { index });
        }
    }
    Ok(())
}
