//! Live track state → HLS playlist models (written by [`crate::hls`]).

use std::num::NonZeroU32;

use weir_flv::TrackKind;

use crate::hls::{
    AudioRendition, MapRef, MediaDuration, MediaPlaylist, Multivariant, Segment, VideoVariant,
};
use crate::stream::TrackView;

/// File name of a track's media playlist inside the stream directory.
pub fn media_playlist_name(kind: TrackKind) -> &'static str {
    match kind {
        TrackKind::Video => "video.m3u8",
        TrackKind::Audio => "audio.m3u8",
    }
}

/// The media playlist of one track.
pub fn media_playlist(view: &TrackView, target_duration: u32, ended: bool) -> MediaPlaylist {
    let segments = view
        .segments
        .iter()
        .map(|s| Segment {
            uri: s.uri.clone(),
            duration: MediaDuration::new(
                s.duration,
                NonZeroU32::new(s.timescale).unwrap_or(NonZeroU32::MIN),
            ),
            map: MapRef {
                uri: s.init_uri.clone(),
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
        preload_hint: None,
        rendition_reports: Vec::new(),
        skip: None,
    }
}

/// The multivariant playlist: one variant, audio as a rendition (HLS-MV-01…03).
pub fn multivariant(video: Option<&TrackView>, audio: Option<&TrackView>) -> Multivariant {
    Multivariant {
        video: video.map(|v| {
            let p = v.video.clone();
            VideoVariant {
                uri: media_playlist_name(TrackKind::Video).to_owned(),
                codecs: v.codec.clone(),
                width: p.as_ref().map_or(0, |p| p.width),
                height: p.as_ref().map_or(0, |p| p.height),
                frame_rate: p.and_then(|p| p.frame_rate),
                bandwidth: v.peak_bitrate.max(1),
                average_bandwidth: (v.average_bitrate > 0).then_some(v.average_bitrate),
            }
        }),
        audio: audio.map(|a| AudioRendition {
            uri: media_playlist_name(TrackKind::Audio).to_owned(),
            codecs: a.codec.clone(),
            channels: a.audio.as_ref().map_or(2, |p| p.channels),
            sample_rate: a.audio.as_ref().map(|p| p.sample_rate),
            bandwidth: a.peak_bitrate.max(1),
            average_bandwidth: (a.average_bitrate > 0).then_some(a.average_bitrate),
            group_id: "audio".to_owned(),
            name: "Audio".to_owned(),
            language: None,
        }),
        independent_segments: true,
    }
}
