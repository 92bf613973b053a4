//! Weir's HLS playlists read back with `m3u8-rs`, into the small views the
//! end-to-end tests check.
//!
//! m3u8-rs 6 models the RFC 8216 tags; LL-HLS tags (EXT-X-PART,
//! EXT-X-PART-INF, EXT-X-SERVER-CONTROL, EXT-X-SKIP, EXT-X-PRELOAD-HINT,
//! EXT-X-RENDITION-REPORT) come out as unknown tags of the segment they
//! precede, and their attributes are read with [`parse_attrs`]. Where
//! m3u8-rs is more lenient than RFC 8216 the view adds the check:
//!
//! * m3u8-rs drops the tags after the last segment URI (the parts of the
//!   segment in progress, the preload hint, the rendition reports): the
//!   text is parsed with a sentinel URI appended, whose tags are the tail.
//! * A tag m3u8-rs models but cannot read (a bad number, a PDT that is not
//!   RFC 3339, an EXT-X-MEDIA without NAME) comes out as an unknown tag:
//!   that is an error here.
//! * m3u8-rs does not check where tags are (EXT-X-MEDIA-SEQUENCE after a
//!   segment, a URI without EXTINF), keeps one EXT-X-VERSION of several, and
//!   reads EXTINF as an f32: [`placement`] checks placement and counts tags
//!   by name (it reads no values), and [`exact_extinf`] recovers the
//!   decimal EXTINF exactly.

use std::collections::HashMap;

use m3u8_rs::{ExtTag, MasterPlaylist, Playlist};

use super::parse_attrs;

/// Appended to the text so that m3u8-rs keeps the tags after the last URI.
const TAIL_SENTINEL: &str = "weir-test-oracle-tail-sentinel";

/// Tags m3u8-rs models: seen as unknown, m3u8-rs could not read them.
const MODELLED: &[&str] = &[
    "X-VERSION",
    "X-TARGETDURATION",
    "X-MEDIA-SEQUENCE",
    "X-DISCONTINUITY-SEQUENCE",
    "X-DISCONTINUITY",
    "X-ENDLIST",
    "X-PLAYLIST-TYPE",
    "X-I-FRAMES-ONLY",
    "X-INDEPENDENT-SEGMENTS",
    "X-START",
    "X-MAP",
    "X-KEY",
    "X-BYTERANGE",
    "X-PROGRAM-DATE-TIME",
    "X-DATERANGE",
    "X-STREAM-INF",
    "X-I-FRAME-STREAM-INF",
    "X-MEDIA",
    "X-SESSION-DATA",
    "X-SESSION-KEY",
];

/// One EXT-X-PART.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub uri: String,
    pub duration: f64,
    pub independent: bool,
}

/// One media segment of a media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Media Sequence Number (EXT-X-SKIP accounted for).
    pub msn: u64,
    pub uri: String,
    /// EXTINF in seconds: the f64 nearest to the decimal written.
    pub duration: f64,
    /// EXTINF as the decimal written, without trailing zeros (`2.5`).
    pub extinf: String,
    /// URI of the EXT-X-MAP in effect.
    pub map: Option<String>,
    pub discontinuity: bool,
    /// Discontinuity Sequence Number (HLS2 §4.4.3.3).
    pub dsn: u64,
    /// EXT-X-PROGRAM-DATE-TIME, in ms since the Unix epoch.
    pub pdt_ms: Option<i64>,
    /// The EXT-X-PART tags listed before the URI.
    pub parts: Vec<Part>,
}

/// A media playlist as the tests see it.
#[derive(Debug, Clone, Default)]
pub struct Media {
    /// EXT-X-VERSION (m3u8-rs keeps the last of several), and how many
    /// EXT-X-VERSION tags there are.
    pub version: Option<u64>,
    pub version_tags: usize,
    /// EXT-X-TARGETDURATION, `None` when the tag is missing.
    pub target: Option<u64>,
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    pub endlist: bool,
    pub playlist_type: Option<String>,
    pub segments: Vec<Segment>,
    /// EXT-X-PART-INF, EXT-X-SERVER-CONTROL and EXT-X-SKIP attributes.
    pub part_inf: Option<HashMap<String, String>>,
    pub server_control: Option<HashMap<String, String>>,
    pub skip: Option<HashMap<String, String>>,
    /// Parts after the last segment URI (the segment in progress), and the
    /// PROGRAM-DATE-TIME above them.
    pub open_parts: Vec<Part>,
    pub open_pdt_ms: Option<i64>,
    /// EXT-X-PRELOAD-HINT and EXT-X-RENDITION-REPORT attributes, in order.
    pub preload_hints: Vec<HashMap<String, String>>,
    pub rendition_reports: Vec<HashMap<String, String>>,
    /// How many times each tag occurs, by name (`#EXT-X-MEDIA-SEQUENCE`);
    /// URI lines count under "".
    pub tag_counts: HashMap<String, usize>,
}

impl Media {
    pub fn duration(&self) -> f64 {
        self.segments.iter().map(|s| s.duration).sum()
    }
    pub fn last_msn(&self) -> Option<u64> {
        self.segments.last().map(|s| s.msn)
    }
    pub fn discontinuities(&self) -> usize {
        self.segments.iter().filter(|s| s.discontinuity).count()
    }
    /// EXT-X-MAP URIs in effect, in order of first use.
    pub fn maps(&self) -> Vec<String> {
        let mut m: Vec<String> = Vec::new();
        for u in self.segments.iter().filter_map(|s| s.map.as_ref()) {
            if !m.contains(u) {
                m.push(u.clone());
            }
        }
        m
    }
    /// Every EXT-X-PART URI, listed segments first, then the open ones.
    pub fn part_uris(&self) -> Vec<String> {
        self.segments
            .iter()
            .flat_map(|s| &s.parts)
            .chain(&self.open_parts)
            .map(|p| p.uri.clone())
            .collect()
    }
    /// Every init, segment and part URI listed.
    pub fn uris(&self) -> Vec<String> {
        let mut v = self.maps();
        v.extend(self.segments.iter().map(|s| s.uri.clone()));
        v.extend(self.part_uris());
        v
    }
    /// URI of the EXT-X-PRELOAD-HINT of TYPE=PART.
    pub fn part_hint(&self) -> Option<String> {
        self.preload_hints
            .iter()
            .find(|h| h.get("TYPE").map(String::as_str) == Some("PART"))
            .and_then(|h| h.get("URI").cloned())
    }
}

/// EXTINF as the decimal written. m3u8-rs reads EXTINF into an f32; for a
/// decimal with at most 5 fraction digits in (0, 40) s, the f32 nearest to
/// it is nearer to it than to any other such decimal (f32 spacing there is
/// < 5e-6), so the shortest decimal that reads back as the same f32 — what
/// `{}` prints — is the decimal written, without trailing zeros.
pub fn exact_extinf(d: f32) -> Result<String, String> {
    // 0 is also what m3u8-rs leaves when it could not read the EXTINF.
    if !(d > 0.0 && d < 40.0) {
        return Err(format!("EXTINF {d}: not in (0, 40) s, or unreadable"));
    }
    Ok(format!("{d}"))
}

/// Tag counts by name (`#EXTINF`, `#EXT-X-VERSION`, …) after checking the
/// RFC 8216 placement rules m3u8-rs does not check: EXT-X-MEDIA-SEQUENCE
/// before the first segment, EXT-X-DISCONTINUITY-SEQUENCE before the first
/// segment and DISCONTINUITY, one EXTINF before each URI and none without.
/// Reads tag names only; values are m3u8-rs's.
pub fn placement(text: &str) -> Result<HashMap<String, usize>, String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut seg_seen = false;
    let mut pending_inf = false;
    let mut disc_seen = false;
    for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        if !line.starts_with('#') {
            if !pending_inf {
                return Err(format!("URI {line:?} without EXTINF"));
            }
            pending_inf = false;
            seg_seen = true;
            *counts.entry(String::new()).or_default() += 1;
            continue;
        }
        let name = line.split(':').next().unwrap_or(line);
        *counts.entry(name.to_owned()).or_default() += 1;
        match name {
            "#EXT-X-MEDIA-SEQUENCE" if seg_seen || pending_inf => {
                return Err("EXT-X-MEDIA-SEQUENCE after the first segment".into())
            }
            "#EXT-X-DISCONTINUITY-SEQUENCE" if seg_seen || pending_inf || disc_seen => {
                return Err("EXT-X-DISCONTINUITY-SEQUENCE after a segment or DISCONTINUITY".into())
            }
            "#EXT-X-DISCONTINUITY" => disc_seen = true,
            "#EXTINF" => {
                if pending_inf {
                    return Err(format!("two EXTINF without a URI between: {line}"));
                }
                pending_inf = true;
            }
            _ => {}
        }
    }
    if pending_inf {
        return Err("EXTINF without a URI at the end".into());
    }
    Ok(counts)
}

fn tag_line(t: &ExtTag) -> String {
    format!("#EXT-{}:{}", t.tag, t.rest.as_deref().unwrap_or(""))
}

fn part(t: &ExtTag) -> Result<Part, String> {
    let a = parse_attrs(t.rest.as_deref().unwrap_or(""));
    Ok(Part {
        uri: a
            .get("URI")
            .cloned()
            .ok_or_else(|| format!("PART without URI: {}", tag_line(t)))?,
        duration: a
            .get("DURATION")
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| format!("PART without a DURATION: {}", tag_line(t)))?,
        independent: a.get("INDEPENDENT").map(String::as_str) == Some("YES"),
    })
}

/// Parses a media playlist with m3u8-rs (see the module doc for what is
/// checked on top).
pub fn parse_media(text: &str) -> Result<Media, String> {
    let counts = placement(text)?;
    let count = |name: &str| counts.get(name).copied().unwrap_or(0);
    let mut input = text.to_owned();
    if !input.ends_with('\n') {
        input.push('\n');
    }
    input.push_str(TAIL_SENTINEL);
    input.push('\n');
    let pl = match m3u8_rs::parse_playlist(input.as_bytes()) {
        Ok(([], Playlist::MediaPlaylist(pl))) => pl,
        Ok((rest, Playlist::MediaPlaylist(_))) => {
            return Err(format!(
                "m3u8-rs stopped before {:?}",
                String::from_utf8_lossy(rest)
            ))
        }
        Ok((_, Playlist::MasterPlaylist(_))) => {
            return Err("a multivariant playlist, not a media playlist".into())
        }
        Err(e) => return Err(format!("m3u8-rs: {e:?}")),
    };
    let mut segs = pl.segments;
    let tail = segs.pop().filter(|s| s.uri == TAIL_SENTINEL);
    let Some(tail) = tail else {
        return Err("m3u8-rs lost the tail sentinel".into());
    };
    if segs.len() != count("") {
        return Err(format!(
            "m3u8-rs read {} segments from {} URI lines",
            segs.len(),
            count("")
        ));
    }
    if tail.discontinuity || tail.map.is_some() || tail.duration != 0.0 {
        return Err("segment tags after the last URI".into());
    }
    let mut out = Media {
        version: pl.version.map(|v| v as u64),
        version_tags: count("#EXT-X-VERSION"),
        target: (count("#EXT-X-TARGETDURATION") > 0).then_some(pl.target_duration),
        media_sequence: pl.media_sequence,
        discontinuity_sequence: pl.discontinuity_sequence,
        endlist: pl.end_list,
        playlist_type: pl.playlist_type.map(|t| t.to_string()),
        open_pdt_ms: tail.program_date_time.map(|d| d.timestamp_millis()),
        tag_counts: counts.clone(),
        ..Media::default()
    };
    let mut read_tags = |tags: &[ExtTag], parts: &mut Vec<Part>| -> Result<(), String> {
        for t in tags {
            let attrs = || parse_attrs(t.rest.as_deref().unwrap_or(""));
            match t.tag.as_str() {
                "X-PART" => parts.push(part(t)?),
                "X-PART-INF" => out.part_inf = Some(attrs()),
                "X-SERVER-CONTROL" => out.server_control = Some(attrs()),
                "X-SKIP" => out.skip = Some(attrs()),
                "X-PRELOAD-HINT" => out.preload_hints.push(attrs()),
                "X-RENDITION-REPORT" => out.rendition_reports.push(attrs()),
                name if MODELLED.contains(&name) => {
                    return Err(format!("m3u8-rs could not read {}", tag_line(t)))
                }
                _ => {}
            }
        }
        Ok(())
    };
    let mut segments = Vec::with_capacity(segs.len());
    let mut map: Option<String> = None;
    let mut dsn = pl.discontinuity_sequence;
    for s in &segs {
        let mut parts = Vec::new();
        read_tags(&s.unknown_tags, &mut parts)?;
        if let Some(m) = &s.map {
            map = Some(m.uri.clone());
        }
        dsn += u64::from(s.discontinuity);
        let extinf = exact_extinf(s.duration).map_err(|e| format!("{}: {e}", s.uri))?;
        segments.push(Segment {
            msn: 0,
            uri: s.uri.clone(),
            duration: extinf.parse().expect("a decimal"),
            extinf,
            map: map.clone(),
            discontinuity: s.discontinuity,
            dsn,
            pdt_ms: s.program_date_time.map(|d| d.timestamp_millis()),
            parts,
        });
    }
    let mut open_parts = Vec::new();
    read_tags(&tail.unknown_tags, &mut open_parts)?;
    out.open_parts = open_parts;
    let skipped: u64 = match &out.skip {
        Some(a) => a
            .get("SKIPPED-SEGMENTS")
            .and_then(|n| n.parse().ok())
            .ok_or("EXT-X-SKIP without SKIPPED-SEGMENTS")?,
        None => 0,
    };
    for (i, s) in segments.iter_mut().enumerate() {
        s.msn = pl.media_sequence + skipped + i as u64;
    }
    out.segments = segments;
    Ok(out)
}

/// Parses a multivariant playlist with m3u8-rs. On top: no media playlist
/// tag (EXTINF, EXT-X-TARGETDURATION), every URI line under an
/// EXT-X-STREAM-INF, and no tag m3u8-rs models but could not read (an
/// EXT-X-MEDIA without NAME comes out as an unknown tag).
pub fn parse_multivariant(text: &str) -> Result<MasterPlaylist, String> {
    let mut uris = 0;
    for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        if line.starts_with("#EXTINF") || line.starts_with("#EXT-X-TARGETDURATION") {
            return Err(format!(
                "media playlist tag in a multivariant playlist: {line}"
            ));
        }
        uris += usize::from(!line.starts_with('#'));
    }
    let mv = match m3u8_rs::parse_playlist(text.as_bytes()) {
        Ok(([], Playlist::MasterPlaylist(pl))) => pl,
        Ok((rest, Playlist::MasterPlaylist(_))) => {
            return Err(format!(
                "m3u8-rs stopped before {:?}",
                String::from_utf8_lossy(rest)
            ))
        }
        Ok((_, Playlist::MediaPlaylist(_))) => {
            return Err("a media playlist, not a multivariant playlist".into())
        }
        Err(e) => return Err(format!("m3u8-rs: {e:?}")),
    };
    if let Some(t) = mv
        .unknown_tags
        .iter()
        .find(|t| MODELLED.contains(&t.tag.as_str()))
    {
        return Err(format!("m3u8-rs could not read {}", tag_line(t)));
    }
    let with_uri = mv.variants.iter().filter(|v| !v.uri.is_empty()).count();
    if with_uri != uris || with_uri != mv.variants.len() {
        return Err(format!(
            "{uris} URI lines for {} EXT-X-STREAM-INF ({with_uri} with a URI)",
            mv.variants.len()
        ));
    }
    Ok(mv)
}
