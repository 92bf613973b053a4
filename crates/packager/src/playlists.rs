//! Live track state → HLS playlist models (written by [`crate::hls`]).

use std::num::NonZeroU32;

use weir_flv::TrackKind;

use std::time::Duration;

use crate::hls::{
    nonconforming_part, AudioRendition, MapRef, MediaDuration, MediaPlaylist, Multivariant, Part,
    PartialSegment, PreloadHint, PreloadHintKind, RenditionReport, Segment, ServerControl,
    VideoVariant,
};
use crate::names::FileName;
use crate::view::{PartInfo, TrackView, VideoRange};

/// Low-latency HLS settings (LLHLS-01…11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowLatency {
    /// PART-TARGET: the longest part.
    pub part_target: Duration,
}

fn part(p: &PartInfo) -> Part {
    Part {
        uri: p.name.to_string(),
        duration: MediaDuration::new(
            p.duration,
            NonZeroU32::new(p.timescale).unwrap_or(NonZeroU32::MIN),
        ),
        independent: p.independent,
    }
}

fn millis(d: Duration) -> MediaDuration {
    MediaDuration::new(
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
        NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
    )
}

/// LAST-MSN / LAST-PART of a track, for the other rendition's report.
fn last_part(view: &TrackView) -> Option<(u64, Option<u64>)> {
    if let Some(open) = &view.open {
        let last = open.parts.last().map(|p| u64::from(p.index));
        return Some((open.number, last));
    }
    let s = view.segments.last()?;
    Some((s.number, s.parts.last().map(|p| u64::from(p.index))))
}

/// The media playlist of one track; with `low_latency`, its parts, the
/// server controls, a preload hint and a report on every `other` rendition
/// (LLHLS-01…05).
pub fn media_playlist(
    view: &TrackView,
    target_duration: u32,
    ended: bool,
    low_latency: Option<LowLatency>,
    others: &[&TrackView],
) -> MediaPlaylist {
    let mut playlist = plain_media_playlist(view, target_duration, ended);
    let Some(ll) = low_latency else {
        return playlist;
    };
    let target = Duration::from_secs(u64::from(target_duration.max(1)));
    // Parts are listed for the last three target durations (LLHLS-06).
    // Parts that cannot meet LLHLS-01 (a frame longer than PART-TARGET, or a
    // long frame that forced a part to close early) are not listed: players
    // fetch that segment whole instead of the playlist failing.
    let part_target = millis(ll.part_target);
    let mut recent = Duration::ZERO;
    for (segment, info) in playlist.segments.iter_mut().zip(&view.segments).rev() {
        if recent >= target * 3 {
            break;
        }
        recent += segment.duration.to_std();
        let parts: Vec<Part> = info.parts.iter().map(part).collect();
        if nonconforming_part(part_target, &parts, true).is_none() {
            segment.parts = parts;
        }
    }
    playlist.part_target = Some(part_target);
    playlist.server_control = Some(ServerControl {
        can_block_reload: true,
        can_skip_until: Some(millis(target * 6)),
        hold_back: None,
        part_hold_back: Some(millis(ll.part_target * 3)),
    });
    if !ended {
        let next_number = view.media_sequence + view.segments.len() as u64;
        let (number, next_index) = match &view.open {
            Some(open) => {
                let parts: Vec<Part> = open.parts.iter().map(part).collect();
                // A frame longer than PART-TARGET: hint the next part only.
                if nonconforming_part(part_target, &parts, false).is_none() {
                    playlist.partial_segment = Some(PartialSegment {
                        map: MapRef {
                            uri: open.init.to_string(),
                        },
                        discontinuity: open.discontinuity,
                        program_date_time: Some(open.program_date_time),
                        parts,
                    });
                }
                (open.number, open.parts.len())
            }
            None => (next_number, 0),
        };
        // The next part's init segment, when it is a new one (a changed
        // configuration, before the new segment's first part; LLHLS-04).
        let last_init = view.segments.last().map(|s| s.init);
        if view.open.is_none() && last_init.is_some_and(|i| i != view.init) {
            playlist.preload_hints.push(PreloadHint {
                kind: PreloadHintKind::Map,
                uri: view.init.to_string(),
            });
        }
        playlist.preload_hints.push(PreloadHint {
            kind: PreloadHintKind::Part,
            uri: FileName::Part {
                track: view.id,
                instance: view.instance,
                segment: number,
                index: u32::try_from(next_index).unwrap_or(u32::MAX),
            }
            .to_string(),
        });
    }
    for other in others {
        if let Some((last_msn, last_part)) = last_part(other) {
            playlist.rendition_reports.push(RenditionReport {
                uri: FileName::MediaPlaylist(other.id).to_string(),
                last_msn,
                last_part,
            });
        }
    }
    playlist
}

fn plain_media_playlist(view: &TrackView, target_duration: u32, ended: bool) -> MediaPlaylist {
    let segments = view
        .segments
        .iter()
        .map(|s| Segment {
            uri: s.name.to_string(),
            duration: MediaDuration::new(
                s.duration,
                NonZeroU32::new(s.timescale).unwrap_or(NonZeroU32::MIN),
            ),
            map: MapRef {
                uri: s.init.to_string(),
            },
            discontinuity: s.discontinuity,
            program_date_time: Some(s.program_date_time),
            parts: Vec::new(),
        })
        .collect();
    MediaPlaylist {
        target_duration,
        media_sequence: view.media_sequence,
        discontinuity_sequence: view.discontinuity_sequence,
        segments,
        ended,
        // Stated once, in the multivariant playlist (HLS-PL-06).
        independent_segments: false,
        part_target: None,
        server_control: None,
        partial_segment: None,
        preload_hints: Vec::new(),
        rendition_reports: Vec::new(),
        skip: None,
    }
}

/// The multivariant playlist: one variant per video track, every audio
/// track a rendition of one group (HLS-MV-01…03).
pub fn multivariant(views: &[TrackView]) -> Multivariant {
    let of = |kind| views.iter().filter(move |v| v.id.kind == kind);
    Multivariant {
        video: of(TrackKind::Video)
            .map(|v| {
                let p = v.video.clone();
                VideoVariant {
                    uri: FileName::MediaPlaylist(v.id).to_string(),
                    codecs: v.codec.clone(),
                    width: p.as_ref().map_or(0, |p| p.width),
                    height: p.as_ref().map_or(0, |p| p.height),
                    frame_rate: p.as_ref().and_then(|p| p.frame_rate),
                    bandwidth: v.peak_bitrate.max(1),
                    average_bandwidth: (v.average_bitrate > 0).then_some(v.average_bitrate),
                    video_range: p.as_ref().and_then(|p| match p.range() {
                        VideoRange::Pq => Some("PQ"),
                        VideoRange::Hlg => Some("HLG"),
                        VideoRange::Sdr => None,
                    }),
                }
            })
            .collect(),
        audio: of(TrackKind::Audio)
            .map(|a| AudioRendition {
                uri: FileName::MediaPlaylist(a.id).to_string(),
                codecs: a.codec.clone(),
                channels: a.audio.as_ref().map_or(2, |p| p.channels),
                sample_rate: a.audio.as_ref().map(|p| p.sample_rate),
                bandwidth: a.peak_bitrate.max(1),
                average_bandwidth: (a.average_bitrate > 0).then_some(a.average_bitrate),
                group_id: "audio".to_owned(),
                // NAME is unique within the group (rfc8216bis §4.4.6.1).
                name: match a.id.index {
                    0 => "Audio".to_owned(),
                    n => format!("Audio {n}"),
                },
                language: None,
            })
            .collect(),
        independent_segments: true,
    }
}
