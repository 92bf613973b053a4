//! Every file a stream serves, as one type: [`FileName`] is formatted in one
//! place ([`Display`](fmt::Display)) and parsed in one place
//! ([`FileName::parse`]), so the packager that names a file and the HTTP
//! layer that answers for it cannot disagree.
//!
//! Media files (init segments, segments, parts) carry the [`InstanceId`] of
//! the stream instance that made them: a key published again after its
//! stream ended, or on a restarted Weir, makes new names, so a URI answers
//! with one body for as long as it answers at all and `immutable` caching
//! is honest (HLS-LIVE-01, HTTP-04).
//!
//! ```text
//! index.m3u8                         multivariant playlist
//! index.mpd                          DASH manifest
//! video.m3u8, audio.m3u8             media playlists (and their _HLS_skip delta form)
//! video/{inst}/init-v{n}.mp4         init segment, version n of the track's configuration
//! video/{inst}/seg-{msn}.m4s         media segment
//! video/{inst}/part-{msn}.{i}.m4s    part i of segment msn (LL-HLS part, LL-DASH chunk)
//! video2.m3u8, video2/{inst}/…       the same for track 2 of its kind ([`TrackId`])
//! ```

use std::fmt;

use weir_flv::TrackKind;

/// One stream instance: from its first publish until it ended. A publisher
/// that resumes within the grace period continues the same instance.
///
/// The id is the instance's start time in milliseconds since the Unix epoch,
/// written in base 36 (8 characters until the year 2059): unique per key
/// across Weir restarts as long as the clock does not go back. The host
/// makes sure two instances of one key never get the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(u64);

impl InstanceId {
    pub const fn from_millis(ms: u64) -> Self {
        InstanceId(ms)
    }

    pub const fn millis(self) -> u64 {
        self.0
    }

    /// The next id after this one (for two instances within a millisecond).
    pub const fn next(self) -> Self {
        InstanceId(self.0.saturating_add(1))
    }

    /// Parses the canonical base-36 form (lowercase, no leading zero).
    pub fn parse(s: &str) -> Option<Self> {
        if s.is_empty() || s.len() > 13 || (s.len() > 1 && s.starts_with('0')) {
            return None;
        }
        let mut v: u64 = 0;
        for c in s.bytes() {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'z' => c - b'a' + 10,
                _ => return None,
            };
            v = v.checked_mul(36)?.checked_add(u64::from(d))?;
        }
        Some(InstanceId(v))
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut buf = [0u8; 13];
        let mut i = buf.len();
        let mut v = self.0;
        loop {
            i -= 1;
            // `v % 36` is below 36: the index is in range.
            buf[i] = DIGITS[(v % 36) as usize];
            v /= 36;
            if v == 0 {
                break;
            }
        }
        // Only ASCII digits and letters were written.
        f.write_str(std::str::from_utf8(&buf[i..]).map_err(|_| fmt::Error)?)
    }
}

/// One track of a stream: its kind and its number among the tracks of that
/// kind (the E-RTMP track id; 0 for a single-track publish). Track 0 of a
/// kind is named `video` / `audio`, track `n` `video{n}` / `audio{n}`, so a
/// stream with one track of each kind keeps the names it always had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackId {
    pub kind: TrackKind,
    pub index: u8,
}

impl TrackId {
    pub const VIDEO: TrackId = TrackId::new(TrackKind::Video, 0);
    pub const AUDIO: TrackId = TrackId::new(TrackKind::Audio, 0);

    pub const fn new(kind: TrackKind, index: u8) -> Self {
        TrackId { kind, index }
    }

    /// Parses the canonical name (`video`, `audio3`; never `video0`).
    pub fn parse(s: &str) -> Option<Self> {
        let (kind, rest) = if let Some(rest) = s.strip_prefix("video") {
            (TrackKind::Video, rest)
        } else {
            (TrackKind::Audio, s.strip_prefix("audio")?)
        };
        let index = if rest.is_empty() {
            0
        } else {
            number::<u8>(rest).filter(|n| *n > 0)?
        };
        Some(TrackId::new(kind, index))
    }
}

impl fmt::Display for TrackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            TrackKind::Video => "video",
            TrackKind::Audio => "audio",
        };
        match self.index {
            0 => f.write_str(kind),
            n => write!(f, "{kind}{n}"),
        }
    }
}

/// A file of one stream, relative to its directory (`/APP/KEY/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileName {
    /// `index.m3u8`.
    Multivariant,
    /// `index.mpd`.
    Mpd,
    /// `video.m3u8` / `audio.m3u8` / `video2.m3u8`.
    MediaPlaylist(TrackId),
    /// The `_HLS_skip` delta form of a media playlist (LLHLS-09). Requested
    /// at the media playlist's URI with a query, so it formats as that URI
    /// and [`parse`](Self::parse) never returns it.
    DeltaPlaylist(TrackId),
    Init {
        track: TrackId,
        instance: InstanceId,
        version: u32,
    },
    Segment {
        track: TrackId,
        instance: InstanceId,
        number: u64,
    },
    Part {
        track: TrackId,
        instance: InstanceId,
        segment: u64,
        index: u32,
    },
}

impl FileName {
    /// The name `path` stands for, if it is one Weir makes. Only the
    /// canonical spelling parses (no leading zeros, lowercase), so every
    /// file has exactly one URI.
    pub fn parse(path: &str) -> Option<FileName> {
        match path {
            "index.m3u8" => return Some(FileName::Multivariant),
            "index.mpd" => return Some(FileName::Mpd),
            _ => {}
        }
        if let Some(track) = path.strip_suffix(".m3u8").and_then(TrackId::parse) {
            return Some(FileName::MediaPlaylist(track));
        }
        let (dir, rest) = path.split_once('/')?;
        let track = TrackId::parse(dir)?;
        let (instance, file) = rest.split_once('/')?;
        let instance = InstanceId::parse(instance)?;
        if let Some(v) = file
            .strip_prefix("init-v")
            .and_then(|s| s.strip_suffix(".mp4"))
        {
            return Some(FileName::Init {
                track,
                instance,
                version: number(v)?,
            });
        }
        if let Some(n) = file
            .strip_prefix("seg-")
            .and_then(|s| s.strip_suffix(".m4s"))
        {
            return Some(FileName::Segment {
                track,
                instance,
                number: number(n)?,
            });
        }
        let (segment, index) = file
            .strip_prefix("part-")?
            .strip_suffix(".m4s")?
            .split_once('.')?;
        Some(FileName::Part {
            track,
            instance,
            segment: number(segment)?,
            index: number(index)?,
        })
    }

    /// The track a media file or media playlist belongs to.
    pub fn track(&self) -> Option<TrackId> {
        match *self {
            FileName::Multivariant | FileName::Mpd => None,
            FileName::MediaPlaylist(t) | FileName::DeltaPlaylist(t) => Some(t),
            FileName::Init { track, .. }
            | FileName::Segment { track, .. }
            | FileName::Part { track, .. } => Some(track),
        }
    }

    /// The stream instance a media file was made by (manifests have none:
    /// they keep their URI across instances).
    pub fn instance(&self) -> Option<InstanceId> {
        match *self {
            FileName::Init { instance, .. }
            | FileName::Segment { instance, .. }
            | FileName::Part { instance, .. } => Some(instance),
            _ => None,
        }
    }

    /// A manifest (playlist or MPD): it changes under its URI.
    pub fn is_manifest(&self) -> bool {
        self.instance().is_none()
    }

    /// The `Content-Type` it is served with.
    pub fn content_type(&self) -> &'static str {
        match self {
            FileName::Multivariant | FileName::MediaPlaylist(_) | FileName::DeltaPlaylist(_) => {
                "application/vnd.apple.mpegurl"
            }
            FileName::Mpd => "application/dash+xml",
            _ => match self.track().map(|t| t.kind) {
                Some(TrackKind::Audio) => "audio/mp4",
                _ => "video/mp4",
            },
        }
    }

    /// The DASH `SegmentTemplate@media` whose `$Number$` expands to the
    /// instance's segments of `track` (DASH-MPD-05).
    pub fn segment_template(track: TrackId, instance: InstanceId) -> String {
        format!("{track}/{instance}/seg-$Number$.m4s")
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FileName::Multivariant => f.write_str("index.m3u8"),
            FileName::Mpd => f.write_str("index.mpd"),
            FileName::MediaPlaylist(t) | FileName::DeltaPlaylist(t) => {
                write!(f, "{t}.m3u8")
            }
            FileName::Init {
                track,
                instance,
                version,
            } => write!(f, "{track}/{instance}/init-v{version}.mp4"),
            FileName::Segment {
                track,
                instance,
                number,
            } => write!(f, "{track}/{instance}/seg-{number}.m4s"),
            FileName::Part {
                track,
                instance,
                segment,
                index,
            } => write!(f, "{track}/{instance}/part-{segment}.{index}.m4s"),
        }
    }
}

/// A decimal number in its one canonical spelling.
fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    let canonical = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s.len() == 1 || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const INST: InstanceId = InstanceId::from_millis(1_796_000_000_123);

    #[test]
    fn formats_the_documented_names() {
        let v = TrackId::VIDEO;
        let a = TrackId::AUDIO;
        assert_eq!(INST.to_string(), "mx2k118b");
        let cases = [
            (FileName::Multivariant, "index.m3u8"),
            (FileName::Mpd, "index.mpd"),
            (FileName::MediaPlaylist(v), "video.m3u8"),
            (FileName::MediaPlaylist(a), "audio.m3u8"),
            (
                FileName::Init {
                    track: v,
                    instance: INST,
                    version: 1,
                },
                "video/mx2k118b/init-v1.mp4",
            ),
            (
                FileName::Segment {
                    track: a,
                    instance: INST,
                    number: 12,
                },
                "audio/mx2k118b/seg-12.m4s",
            ),
            (
                FileName::Part {
                    track: v,
                    instance: INST,
                    segment: 12,
                    index: 3,
                },
                "video/mx2k118b/part-12.3.m4s",
            ),
        ];
        for (name, text) in cases {
            assert_eq!(name.to_string(), text);
            assert_eq!(FileName::parse(text), Some(name), "{text}");
        }
        assert_eq!(
            FileName::segment_template(v, INST),
            "video/mx2k118b/seg-$Number$.m4s"
        );
        assert_eq!(FileName::DeltaPlaylist(v).to_string(), "video.m3u8");
        let v2 = TrackId::new(TrackKind::Video, 2);
        assert_eq!(FileName::MediaPlaylist(v2).to_string(), "video2.m3u8");
        assert_eq!(
            FileName::parse("audio3/mx2k118b/part-4.1.m4s"),
            Some(FileName::Part {
                track: TrackId::new(TrackKind::Audio, 3),
                instance: INST,
                segment: 4,
                index: 1,
            })
        );
    }

    /// Only the canonical spelling names a file: one file, one URI.
    #[test]
    fn non_canonical_and_foreign_names_do_not_parse() {
        for bad in [
            "",
            "index.m3u",
            "video/seg-1.m4s",
            "video/mx2k118b/seg-01.m4s",
            "video/mx2k118b/seg-+1.m4s",
            "video/mx2k118b/seg-1.mp4",
            "video/MX93HPGR/seg-1.m4s",
            "video/0mx2k118b/seg-1.m4s",
            "video/mx2k118b/part-1.m4s",
            "video/mx2k118b/part-1.01.m4s",
            "video/mx2k118b/init-v.mp4",
            "text/mx2k118b/seg-1.m4s",
            "video/mx2k118b/seg-1.m4s/x",
            "video/mx2k118b/seg-99999999999999999999999.m4s",
            "video/zzzzzzzzzzzzzz/seg-1.m4s",
            "../video.m3u8",
            "video0.m3u8",
            "video01/mx2k118b/seg-1.m4s",
            "video256.m3u8",
            "videos.m3u8",
        ] {
            assert_eq!(FileName::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn content_types() {
        let seg = |track| FileName::Segment {
            track,
            instance: INST,
            number: 0,
        };
        assert_eq!(seg(TrackId::VIDEO).content_type(), "video/mp4");
        assert_eq!(seg(TrackId::AUDIO).content_type(), "audio/mp4");
        assert_eq!(
            seg(TrackId::new(TrackKind::Audio, 1)).content_type(),
            "audio/mp4"
        );
        assert_eq!(FileName::Mpd.content_type(), "application/dash+xml");
        assert_eq!(
            FileName::MediaPlaylist(TrackId::AUDIO).content_type(),
            "application/vnd.apple.mpegurl"
        );
        assert!(FileName::Mpd.is_manifest() && !seg(TrackId::VIDEO).is_manifest());
    }

    fn any_name() -> impl Strategy<Value = FileName> {
        let track = (
            prop_oneof![Just(TrackKind::Video), Just(TrackKind::Audio)],
            any::<u8>(),
        )
            .prop_map(|(kind, index)| TrackId::new(kind, index));
        let inst = any::<u64>().prop_map(InstanceId::from_millis);
        prop_oneof![
            Just(FileName::Multivariant),
            Just(FileName::Mpd),
            track.clone().prop_map(FileName::MediaPlaylist),
            (track.clone(), inst.clone(), any::<u32>()).prop_map(|(track, instance, version)| {
                FileName::Init {
                    track,
                    instance,
                    version,
                }
            }),
            (track.clone(), inst.clone(), any::<u64>()).prop_map(|(track, instance, number)| {
                FileName::Segment {
                    track,
                    instance,
                    number,
                }
            }),
            (track, inst, any::<u64>(), any::<u32>()).prop_map(
                |(track, instance, segment, index)| FileName::Part {
                    track,
                    instance,
                    segment,
                    index,
                }
            ),
        ]
    }

    proptest! {
        /// One formatter, one parser: every name survives the round trip.
        #[test]
        fn names_round_trip(name in any_name()) {
            prop_assert_eq!(FileName::parse(&name.to_string()), Some(name));
        }

        /// Whatever a peer asks for, parsing never panics, and what parses
        /// formats back to exactly the path asked for.
        #[test]
        fn parse_is_total_and_canonical(path in "[a-z0-9./+-]{0,40}") {
            if let Some(name) = FileName::parse(&path) {
                prop_assert_eq!(name.to_string(), path);
            }
        }
    }
}
