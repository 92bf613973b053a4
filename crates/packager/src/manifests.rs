//! The packager's state → the texts a stream serves: every media playlist
//! (and its delta update), the multivariant playlist and the MPD.
//!
//! This is the last sans-IO stage before HTTP: the host stores what
//! [`render`] returns and serves it; the golden tests call the same
//! function, so what they pin is what viewers get.

use std::time::{Duration, SystemTime};

use crate::dash::{live_mpd, write_mpd, LiveState, LowLatencyDash, MpdSettings};
use crate::hls::{write_media, write_multivariant};
use crate::names::FileName;
use crate::playlists::{media_playlist, multivariant, LowLatency};
use crate::stream::StreamPackager;

/// What a live low-latency media playlist lists, for blocking reloads
/// (LLHLS-07).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Media sequence number of the last complete segment listed.
    pub last_segment: Option<u64>,
    /// The segment in progress and how many of its parts are listed.
    pub open_segment: u64,
    pub open_parts: u64,
    pub ended: bool,
    /// TARGETDURATION, seconds.
    pub target: u32,
}

impl Position {
    /// The playlist holds segment `msn` (complete), or part `part` of it.
    pub fn has(&self, msn: u64, part: Option<u64>) -> bool {
        if self.ended || self.last_segment.is_some_and(|s| s >= msn) {
            return true;
        }
        match part {
            Some(p) => msn == self.open_segment && p < self.open_parts,
            None => false,
        }
    }
}

/// One media playlist and, with low latency, its delta update and what it
/// lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaText {
    pub name: FileName,
    pub text: String,
    /// `_HLS_skip=YES` (LLHLS-09), when the playlist has segments to skip.
    pub delta: Option<(FileName, String)>,
    /// The delta update that no longer applies, to drop.
    pub stale_delta: Option<FileName>,
    pub position: Option<Position>,
}

/// Everything [`render`] wrote. A text that failed to render is absent and
/// its error is in `errors` (the host keeps serving the previous one).
#[derive(Debug, Default)]
pub struct Manifests {
    pub media: Vec<MediaText>,
    pub multivariant: Option<String>,
    pub mpd: Option<String>,
    pub errors: Vec<(FileName, String)>,
}

/// How a stream's MPD is written, from the packager's settings. `time_url`
/// and `head_url` are relative to the MPD (`/APP/KEY/index.mpd`), so a path
/// prefix or a CDN in front keeps working: dash.js and Shaka resolve them
/// against the MPD.
pub fn mpd_settings(packager: &StreamPackager) -> MpdSettings {
    let config = packager.config();
    MpdSettings {
        window: config.window,
        time_url: "../../time".to_owned(),
        head_url: FileName::Mpd.to_string(),
        low_latency: config.low_latency.then_some(LowLatencyDash {
            chunk: config.part_duration,
        }),
    }
}

/// Renders the playlists of `packager` as they stand, and the MPD when
/// `with_mpd`. `None` until the playlists can be served (every track has
/// its first segments: [`StreamPackager::target_duration`]).
pub fn render(
    packager: &mut StreamPackager,
    mpd: &MpdSettings,
    with_mpd: bool,
    now: SystemTime,
) -> Option<Manifests> {
    let target = packager.target_duration()?;
    let ended = packager.is_ended();
    let views = packager.tracks();
    let low_latency = packager.config().low_latency.then(|| LowLatency {
        part_target: packager.config().part_target(),
    });
    let mut out = Manifests::default();
    for view in &views {
        let others: Vec<_> = views.iter().filter(|o| o.id != view.id).collect();
        let name = FileName::MediaPlaylist(view.id);
        let mut playlist = media_playlist(view, target, ended, low_latency, &others);
        let position = low_latency.map(|_| Position {
            last_segment: view.segments.last().map(|s| s.number),
            open_segment: view.media_sequence + view.segments.len() as u64,
            open_parts: view.open.as_ref().map_or(0, |o| o.parts.len() as u64),
            ended,
            target,
        });
        let text = match write_media(&playlist) {
            Ok(text) => text,
            Err(e) => {
                out.errors.push((name, e.to_string()));
                continue;
            }
        };
        let delta_name = FileName::DeltaPlaylist(view.id);
        let skippable = playlist.max_skippable_segments();
        let mut delta = None;
        let mut stale_delta = None;
        if low_latency.is_some() && skippable > 0 {
            playlist.skip = Some(skippable);
            match write_media(&playlist) {
                Ok(text) => delta = Some((delta_name, text)),
                Err(e) => out.errors.push((delta_name, e.to_string())),
            }
        } else {
            stale_delta = Some(delta_name);
        }
        out.media.push(MediaText {
            name,
            text,
            delta,
            stale_delta,
            position,
        });
    }
    match write_multivariant(&multivariant(&views)) {
        Ok(text) => out.multivariant = Some(text),
        Err(e) => out.errors.push((FileName::Multivariant, e.to_string())),
    }
    if with_mpd {
        let state = LiveState {
            tracks: &views,
            clock: packager.clock(),
            target_duration: target,
            longest_segment: packager.longest_segment(),
            ended,
            waiting: packager.is_waiting(),
            now,
        };
        if let Some(m) = live_mpd(&state, mpd) {
            match write_mpd(&m) {
                Ok(text) => out.mpd = Some(text),
                Err(e) => out.errors.push((FileName::Mpd, e.to_string())),
            }
        }
    }
    Some(out)
}

/// How long a segment that left the live window stays fetchable
/// (HLS-LIVE-04): available until first listed + its duration + the
/// playlist's duration. It was listed for about a playlist's duration, so
/// one more segment (two target durations covers the longest) is left.
pub fn availability_after_removal(target: Option<u32>) -> Duration {
    Duration::from_secs(2 * target.map_or(2, u64::from))
}
