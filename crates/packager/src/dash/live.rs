//! Live track state → the MPD model (written by [`super::write_mpd`]).
//!
//! The MPD lists exactly the segments of the HLS windows: the same files,
//! `S@t` the segment's tfdt and `S@d` its duration in ticks (DASH-MPD-05).
//! Segments are grouped into Periods by the number the packager gave them at
//! their cut; each Period's `@start` and every track's
//! `@presentationTimeOffset` come from the [`PeriodClock`] anchor, so the
//! same media instant maps to the same MPD time on every track.

use std::time::{Duration, SystemTime};

use weir_flv::TrackKind;

use super::mpd::{
    AdaptationSet, Cicp, ContentType, MediaAttributes, Mpd, Period, ProducerReferenceTime,
    Representation, SegmentTemplate, ServiceDescription, TimelineEntry, UtcTiming, UTC_HTTP_HEAD,
    UTC_HTTP_ISO,
};
use crate::clock::{MediaTime, PeriodClock};
use crate::names::FileName;
use crate::view::{SegmentInfo, TrackView, VideoRange};

/// What the host decides about every MPD of a stream.
#[derive(Clone, Debug)]
pub struct MpdSettings {
    /// Segments in the live window (the HLS playlist window).
    pub window: usize,
    /// URL of Weir's `/time` (ISO 8601), relative to the MPD.
    pub time_url: String,
    /// URL whose `Date` header is the fallback clock, relative to the MPD.
    pub head_url: String,
    /// LL-DASH: list the segment in progress and let players fetch it chunk
    /// by chunk (DASH-LL-01).
    pub low_latency: Option<LowLatencyDash>,
}

/// LL-DASH settings (DASH-LL-01).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowLatencyDash {
    /// Nominal CMAF chunk duration (the LL-HLS part grid).
    pub chunk: Duration,
}

impl LowLatencyDash {
    /// The latency players are asked to hold: three chunks (as LL-HLS's
    /// PART-HOLD-BACK), at least one second.
    pub fn target_latency(&self) -> Duration {
        (self.chunk * 3).max(Duration::from_secs(1))
    }
}

/// One stream's state at one update.
pub struct LiveState<'a> {
    /// Every track, video first (the reference: the first of them).
    pub tracks: &'a [TrackView],
    pub clock: &'a PeriodClock,
    /// The media playlists' TARGETDURATION, seconds.
    pub target_duration: u32,
    pub longest_segment: Duration,
    pub ended: bool,
    /// The publisher left and may come back: nothing is in progress, so
    /// LL-DASH lists no segment ahead of the last one made.
    pub waiting: bool,
    pub now: SystemTime,
}

/// The MPD for `state`, or `None` while it would have no Period (before the
/// first segments anchored the timeline and every track has one).
pub fn live_mpd(state: &LiveState<'_>, settings: &MpdSettings) -> Option<Mpd> {
    let ast = state.clock.availability_start()?;
    let ll = settings.low_latency;
    let reference = state
        .tracks
        .iter()
        .find(|v| v.id.kind == TrackKind::Video)
        .or(state.tracks.first())?;
    let target = Duration::from_secs(u64::from(state.target_duration.max(1)));
    let window = u32::try_from(settings.window.max(1)).unwrap_or(u32::MAX);
    let tsbd = target.saturating_mul(window);

    let mut indices: Vec<u64> = reference.segments.iter().map(|s| s.period).collect();
    indices.dedup();
    // A new Period is listed once every track has a segment in it: its
    // AdaptationSets must not change across updates (DASH-MPD-02), and the
    // other track's first segment there closes a moment after the reference's.
    if !state.ended {
        let lagging = state
            .tracks
            .iter()
            .filter(|v| v.id != reference.id)
            .any(|v| {
                v.segments
                    .last()
                    .map(|s| s.period)
                    .zip(indices.last())
                    .is_some_and(|(o, r)| o < *r)
            });
        if lagging && indices.len() > 1 {
            indices.pop();
        }
    }
    let newest_period = indices.last().copied();
    let mut periods = Vec::with_capacity(indices.len());
    for index in indices {
        let Some(anchor) = state.clock.period(index) else {
            continue;
        };
        let mut sets: Vec<AdaptationSet> = Vec::with_capacity(2);
        let mut audio_sets = 0;
        for view in state.tracks {
            if index < view.first_period {
                continue;
            }
            let mut segments: Vec<&SegmentInfo> =
                view.segments.iter().filter(|s| s.period == index).collect();
            let Some(first) = segments.first().copied() else {
                continue;
            };
            // A Representation has one initialization segment. A track whose
            // configuration changed mid-Period (audio, before video's next cut
            // opens the new Period) is listed up to the change only.
            segments.retain(|s| s.init == first.init);
            let timescale = first.timescale;
            let mut timeline: Vec<TimelineEntry> = segments
                .iter()
                .map(|s| TimelineEntry {
                    t: s.base_decode_time,
                    d: s.duration,
                })
                .collect();
            // LL-DASH: the segment in progress is listed from its start (the
            // cut that completed its predecessor), with its predecessor's
            // duration or what it has reached, if longer; later updates
            // correct it. Its availability (end − availabilityTimeOffset) is
            // then about when its first chunk is made: a player asks for it
            // then (a request a little early is held for that chunk), gets
            // the chunks made so far, then each one as it comes. Listing it
            // at its start rather than at its first chunk gives players one
            // MPD refresh of margin.
            if ll.is_some() && !state.ended && !state.waiting {
                let last = segments.last().copied().unwrap_or(first);
                let newest_period = Some(index) == newest_period;
                let next = match &view.open {
                    Some(open)
                        if open.period == index
                            && open.init == first.init
                            && open.number == last.number + 1 =>
                    {
                        let made: u64 = open.parts.iter().map(|p| p.duration).sum();
                        Some(TimelineEntry {
                            t: open.base_decode_time,
                            d: last.duration.max(made),
                        })
                    }
                    None if newest_period && view.init == first.init => Some(TimelineEntry {
                        t: last.base_decode_time + last.duration,
                        d: last.duration,
                    }),
                    _ => None,
                };
                timeline.extend(next);
            }
            let pto = anchor.media_start.rescale(timescale);
            // The wall-clock time of the first listed sample on the MPD's own
            // timeline (AST + Period@start + media offset), for players that
            // measure latency from ProducerReferenceTime.
            let producer_reference_time = ll.map(|_| ProducerReferenceTime {
                wall_clock_time: ast
                    + anchor.start
                    + MediaTime::new(first.base_decode_time, timescale)
                        .since(MediaTime::new(pto, timescale)),
                presentation_time: first.base_decode_time,
                utc_timing: UtcTiming {
                    scheme: UTC_HTTP_ISO,
                    value: settings.time_url.clone(),
                },
            });
            let representation = Representation {
                id: view.id.to_string(),
                codecs: view.codec.clone(),
                bandwidth: view.peak_bitrate.max(1),
                media: media_attributes(view),
                template: SegmentTemplate {
                    timescale,
                    presentation_time_offset: pto,
                    initialization: first.init.to_string(),
                    media: FileName::segment_template(view.id, view.instance),
                    start_number: first.number,
                    timeline,
                    // DASH-LL-01: segment duration − chunk duration.
                    availability_time_offset: ll.map(|ll| {
                        target
                            .saturating_sub(ll.chunk)
                            .max(Duration::from_millis(1))
                    }),
                },
            };
            // The video tracks are Representations of one set (a player
            // switches between them); each audio track is a set of its own
            // (an alternative, not a bitrate).
            match view.id.kind {
                TrackKind::Video => match sets
                    .iter_mut()
                    .find(|s| s.content_type == ContentType::Video)
                {
                    Some(set) => {
                        set.segment_alignment &= view.aligned;
                        set.representations.push(representation);
                    }
                    None => sets.push(AdaptationSet {
                        id: 1,
                        content_type: ContentType::Video,
                        segment_alignment: view.aligned,
                        producer_reference_time,
                        representations: vec![representation],
                    }),
                },
                TrackKind::Audio => {
                    sets.push(AdaptationSet {
                        id: 2 + audio_sets,
                        content_type: ContentType::Audio,
                        segment_alignment: true,
                        producer_reference_time,
                        representations: vec![representation],
                    });
                    audio_sets += 1;
                }
            }
        }
        periods.push(Period {
            id: format!("p{index}"),
            start: anchor.start,
            duration: None,
            adaptation_sets: sets,
        });
    }
    // An MPD always has a Period (DASH-MPD-01): until one can be listed,
    // the host keeps serving the MPD it has.
    if periods.is_empty() {
        return None;
    }
    if state.ended {
        // DASH-MPD-12: the last Period ends with its last reference segment.
        if let (Some(last_period), Some(last)) = (periods.last_mut(), reference.segments.last()) {
            if let Some(anchor) = state.clock.period(last.period) {
                let end = MediaTime::new(last.base_decode_time + last.duration, last.timescale);
                last_period.duration = Some(ms_ceil(end.since(anchor.media_start)));
            }
        }
    }
    Some(Mpd {
        availability_start_time: ast,
        publish_time: state.now,
        // LL-DASH: refreshed every chunk, so the next segment is known
        // about when its first chunk is made.
        minimum_update_period: (!state.ended).then(|| match ll {
            Some(ll) => ll.chunk,
            None => (target / 2).max(Duration::from_millis(500)),
        }),
        service_description: ll.map(|ll| {
            let target = ll.target_latency();
            ServiceDescription {
                latency_target: target,
                latency_min: ll.chunk * 2,
                latency_max: target * 3,
                playback_rate_min_permille: 960,
                playback_rate_max_permille: 1040,
            }
        }),
        time_shift_buffer_depth: tsbd,
        max_segment_duration: ms_ceil(state.longest_segment.max(target)),
        min_buffer_time: target,
        // Three segments behind the edge, never more than the buffer holds
        // (DASH-MPD-10).
        suggested_presentation_delay: (target * 3).min(tsbd.saturating_sub(target)).max(target),
        periods,
        utc_timing: vec![
            UtcTiming {
                scheme: UTC_HTTP_ISO,
                value: settings.time_url.clone(),
            },
            UtcTiming {
                scheme: UTC_HTTP_HEAD,
                value: settings.head_url.clone(),
            },
        ],
    })
}

fn media_attributes(view: &TrackView) -> MediaAttributes {
    match (&view.video, &view.audio) {
        (Some(v), _) => MediaAttributes::Video {
            width: v.width,
            height: v.height,
            frame_rate: v.frame_rate.map(frame_rate_fraction),
            sar: v.sar.map_or((1, 1), |(n, d)| (u32::from(n), u32::from(d))),
            hdr: v
                .colour
                .filter(|_| v.range() != VideoRange::Sdr)
                .map(|c| Cicp {
                    colour_primaries: c.colour_primaries,
                    transfer_characteristics: c.transfer_characteristics,
                    matrix_coefficients: c.matrix_coefficients,
                }),
        },
        (None, Some(a)) => MediaAttributes::Audio {
            sampling_rate: a.sample_rate,
            channels: a.channels,
        },
        (None, None) => match view.id.kind {
            TrackKind::Video => MediaAttributes::Video {
                width: 0,
                height: 0,
                frame_rate: None,
                sar: (1, 1),
                hdr: None,
            },
            TrackKind::Audio => MediaAttributes::Audio {
                sampling_rate: 0,
                channels: 2,
            },
        },
    }
}

/// `@frameRate` as a fraction: whole rates as `n/1`, NTSC rates as `n/1001`,
/// anything else to the millisecond.
fn frame_rate_fraction(fps: f64) -> (u32, u32) {
    let whole = fps.round();
    if (fps - whole).abs() < 1e-3 {
        return (whole as u32, 1);
    }
    let ntsc = (fps * 1001.0).round();
    if (ntsc / 1001.0 - fps).abs() < 1e-3 && ntsc % 1000.0 == 0.0 {
        return (ntsc as u32, 1001);
    }
    ((fps * 1000.0).round() as u32, 1000)
}

fn ms_ceil(d: Duration) -> Duration {
    let ms = d.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rates_as_fractions() {
        assert_eq!(frame_rate_fraction(30.0), (30, 1));
        assert_eq!(frame_rate_fraction(29.97), (30000, 1001));
        assert_eq!(frame_rate_fraction(59.94), (60000, 1001));
        assert_eq!(frame_rate_fraction(23.976), (24000, 1001));
        assert_eq!(frame_rate_fraction(12.5), (12500, 1000));
    }
}
