//! End-to-end tests of stream continuity (issue 12; the behaviour is written
//! down in `notes/continuity-spec.md`): what a player sees when a publisher
//! leaves and comes back, when a stream ends and its key is published again,
//! and when Weir itself restarts between two publishes.
//!
//! Rule IDs refer to `shared/research/spec-checklist.md`: HLS-PL-*
//! (playlist syntax), HLS-LIVE-* (live window and reconnects), HLS-MV-*
//! (multivariant playlist) and DASH-MPD-* (dynamic MPD).
//!
//! | test | proves |
//! |------|--------|
//! | `reconnect_graceful_unpublish_…` | a publisher that unpublishes and returns 2 s later continues the same playlists and MPD: MEDIA-SEQUENCE / DISCONTINUITY-SEQUENCE never decrease, no ENDLIST, one DISCONTINUITY per rendition at the same msn and media time, tfdt monotonic, "reconnecting" in /api/streams, one availabilityStartTime and a new Period, one `{inst}`, every URI keeps its bytes, ffmpeg reads ≥ 18 s across the gap via HLS and DASH (HLS-LIVE-08, HLS-PL-03/04, HLS-MV-02, DASH-MPD-01/02/09) |
//! | `reconnect_sigkill_…` | the same when the first publisher is killed with SIGKILL, with a sliding window (6) |
//! | `republish_after_end_…` | ENDLIST and MPD end after the grace period (HLS-LIVE-09, DASH-MPD-12); the key published again is a new instance: disjoint URIs, MEDIA-SEQUENCE after the old last msn, the old URIs keep their bytes |
//! | `weir_restart_…` | no URI repeats across a restart of Weir (`{inst}` from the start time) |
//! | `hls_mv_01_bandwidth_…` | BANDWIDTH / AVERAGE-BANDWIDTH cover the listed segments' real bit rates in every playlist state of a long-GOP, variable-rate publish (HLS-MV-01) |
//!
//! Every test starts its own weir on ephemeral ports and publishes
//! pre-encoded assets with `-c copy` in real time. `Weir::start` adds
//! `--end-on-unpublish true` unless told otherwise; the lifecycle tests
//! here pass `--end-on-unpublish false`, the default of the binary. Waits
//! are polls, except the deliberate 2 s gap between two publishers.
//! Playlists are read with `m3u8-rs` (`common::hls`), fMP4 with `mp4-atom`
//! (`common::mp4`), MPDs with `dash-mpd-core`. Wall time ≈ 42 s with
//! `--test-threads=2`.
//!
//! Checks collect their violations and the test fails once with all of them
//! (plus playlist/MPD excerpts), so that one run shows everything that is
//! wrong.

mod common;

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::hls::{self, parse_media};
use common::mp4;
use common::mpd::{tracks, Track};
use common::{asset, assets, http_get, poll_every, Ffmpeg, Weir};
use dash_mpd_core::MPD;
use serde_json::Value;

/// Records a violation (instead of panicking at the first one).
macro_rules! expect {
    ($fails:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            $fails.push(format!($($fmt)+));
        }
    };
}

/// Panics with every recorded violation.
fn assert_no_failures(test: &str, fails: &[String]) {
    assert!(
        fails.is_empty(),
        "{test}: {} violation(s):\n\n{}",
        fails.len(),
        fails.join("\n\n")
    );
}

const MEDIA: [&str; 2] = ["video.m3u8", "audio.m3u8"];

// ---------------------------------------------------------------------------
// Paths and instance ids
// ---------------------------------------------------------------------------

/// `/live/KEY/`.
fn base(key: &str) -> String {
    format!("/live/{key}/")
}

/// Resolves a URI from a playlist or MPD under `/live/KEY/` to an absolute
/// path on the server.
fn resolve(key: &str, uri: &str) -> String {
    let uri = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))
        .map(|rest| rest.find('/').map_or("/", |i| &rest[i..]))
        .unwrap_or(uri);
    if uri.starts_with('/') {
        uri.to_owned()
    } else {
        format!("{}{}", base(key), uri.trim_start_matches("./"))
    }
}

/// The `{inst}` element of `/live/KEY/{video|audio}/{inst}/FILE`, if the
/// path has that shape (continuity-spec "URIs").
fn inst_of(key: &str, path: &str) -> Option<String> {
    let rel = path.strip_prefix(&base(key))?;
    let parts: Vec<&str> = rel.split('/').collect();
    (parts.len() == 3 && matches!(parts[0], "video" | "audio") && !parts[1].is_empty())
        .then(|| parts[1].to_owned())
}

/// `{inst}` is the instance's start in ms since the Unix epoch, lowercase
/// base 36. Returns the decoded ms, or why it is not one.
fn inst_ms(inst: &str) -> Result<u64, String> {
    if inst.is_empty()
        || !inst
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    {
        return Err(format!("{inst:?} is not lowercase base 36"));
    }
    let ms = u64::from_str_radix(inst, 36).map_err(|e| format!("{inst:?}: {e}"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64;
    // Started during this test run (the machine's clock is the server's).
    if ms + 10 * 60 * 1000 < now || ms > now + 60 * 1000 {
        return Err(format!(
            "{inst:?} decodes to {ms} ms, not a start time near now ({now} ms)"
        ));
    }
    Ok(ms)
}

/// The `{inst}` elements of `paths`; a path without one is a violation.
fn insts(
    key: &str,
    paths: impl IntoIterator<Item = String>,
    fails: &mut Vec<String>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut bad = Vec::new();
    for p in paths {
        match inst_of(key, &p) {
            Some(i) => {
                out.insert(i);
            }
            None => bad.push(p),
        }
    }
    expect!(
        fails,
        bad.is_empty(),
        "URIs without a {{inst}} element (want /live/{key}/video|audio/{{inst}}/FILE): {:?}",
        &bad[..bad.len().min(6)]
    );
    for i in &out {
        if let Err(e) = inst_ms(i) {
            fails.push(format!("instance id: {e}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Media and multivariant playlists (HLS-PL-*)
// ---------------------------------------------------------------------------

/// A media playlist and its segments, read with m3u8-rs (`common::hls`):
/// each segment with its MSN, DSN, EXT-X-MAP in effect and EXTINF as the
/// decimal written (for exact bit-rate arithmetic).
type MediaPl = hls::Media;
type Seg = hls::Segment;

/// The first EXT-X-STREAM-INF's attributes and URI, and the EXT-X-MEDIA
/// URIs, read with m3u8-rs.
#[derive(Debug, Clone)]
struct Multivariant {
    bandwidth: u64,
    average_bandwidth: Option<u64>,
    codecs: Option<String>,
    variant_uri: String,
    media_uris: Vec<String>,
}

fn parse_multivariant(text: &str) -> Result<Multivariant, String> {
    let mv = hls::parse_multivariant(text)?;
    let first = mv.variants.first().ok_or("no EXT-X-STREAM-INF")?;
    Ok(Multivariant {
        bandwidth: first.bandwidth,
        average_bandwidth: first.average_bandwidth,
        codecs: first.codecs.clone(),
        variant_uri: first.uri.clone(),
        media_uris: mv
            .alternatives
            .iter()
            .filter_map(|m| m.uri.clone())
            .collect(),
    })
}

// ---------------------------------------------------------------------------
// MPDs (DASH-MPD-*)
// ---------------------------------------------------------------------------

/// Server paths of the init segment and of every listed S of `t`.
fn track_paths(t: &Track, key: &str) -> Vec<String> {
    let mut v = vec![resolve(key, &t.fill(&t.init, 0, 0))];
    for (i, &(time, _)) in t.segs.iter().enumerate() {
        v.push(resolve(key, &t.fill(&t.media, t.number(i), time)));
    }
    v
}

/// Server paths of every init and listed segment of an MPD.
fn mpd_paths(key: &str, mpd: &MPD) -> Vec<String> {
    tracks(mpd)
        .iter()
        .flat_map(|t| track_paths(t, key))
        .collect()
}

fn period_ids(mpd: &MPD) -> Vec<String> {
    mpd.periods
        .iter()
        .map(|p| p.id.clone().unwrap_or_default())
        .collect()
}

// ---------------------------------------------------------------------------
// The poller: playlists, MPD and /api/streams every 250 ms; every URI
// listed is downloaded once, right away
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Fetched {
    status: u16,
    body: String,
}

#[derive(Debug, Clone)]
struct Tick {
    /// When the tick started (its /api/streams request is its first).
    at: Instant,
    /// `state` of live/KEY in /api/streams, `<absent>` if not listed.
    state: Option<String>,
    /// By name: video.m3u8, audio.m3u8, index.mpd. `None`: transport error.
    docs: BTreeMap<&'static str, Option<Fetched>>,
}

#[derive(Debug, Clone)]
struct Body {
    bytes: Vec<u8>,
    cache_control: Option<String>,
    /// The document that listed it first.
    listed_by: &'static str,
}

#[derive(Default)]
struct Recording {
    ticks: Vec<Tick>,
    /// Every URI ever listed (server path) → its body at the first fetch.
    bodies: BTreeMap<String, Body>,
    /// Listed URIs that did not answer 200, parse errors.
    errors: Vec<String>,
}

impl Recording {
    /// 200 snapshots of `name` with their time.
    fn ok(&self, name: &str) -> Vec<(Instant, &str)> {
        self.ticks
            .iter()
            .filter_map(|t| match t.docs.get(name) {
                Some(Some(f)) if f.status == 200 => Some((t.at, f.body.as_str())),
                _ => None,
            })
            .collect()
    }

    fn media(&self, name: &str) -> Vec<(Instant, MediaPl, &str)> {
        self.ok(name)
            .into_iter()
            .filter_map(|(at, body)| parse_media(body).ok().map(|p| (at, p, body)))
            .collect()
    }

    fn mpds(&self) -> Vec<(Instant, MPD, &str)> {
        self.ok("index.mpd")
            .into_iter()
            .filter_map(|(at, body)| dash_mpd_core::parse(body).ok().map(|m| (at, m, body)))
            .collect()
    }

    /// The last `n` distinct 200 bodies of `name`, for failure messages.
    fn dump(&self, name: &str, n: usize) -> String {
        let mut distinct: Vec<&str> = Vec::new();
        for (_, b) in self.ok(name) {
            if distinct.last() != Some(&b) {
                distinct.push(b);
            }
        }
        let from = distinct.len().saturating_sub(n);
        distinct[from..]
            .iter()
            .map(|b| format!("--- {name} ---\n{b}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

struct Poller {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Recording>>,
}

impl Poller {
    fn start(addr: SocketAddr, key: &str, every: Duration) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let key = key.to_owned();
        let handle = std::thread::spawn(move || {
            let mut rec = Recording::default();
            let mut parse_errors: BTreeSet<String> = BTreeSet::new();
            while !flag.load(Ordering::SeqCst) {
                let started = Instant::now();
                poll_once(addr, &key, &mut rec, &mut parse_errors);
                std::thread::sleep(every.saturating_sub(started.elapsed()));
            }
            rec
        });
        Poller {
            stop,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> Recording {
        self.stop.store(true, Ordering::SeqCst);
        self.handle
            .take()
            .expect("poller joined once")
            .join()
            .expect("poller thread panicked")
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn stream_state(addr: SocketAddr, key: &str) -> Option<String> {
    let r = http_get(addr, "/api/streams").ok()?;
    let v: Value = serde_json::from_slice(&r.body).ok()?;
    let entry = v["streams"]
        .as_array()?
        .iter()
        .find(|s| s["app"] == "live" && s["key"] == key)
        .cloned();
    Some(match entry {
        Some(s) => s["state"].as_str().unwrap_or("<no state>").to_owned(),
        None => "<absent>".to_owned(),
    })
}

fn poll_once(
    addr: SocketAddr,
    key: &str,
    rec: &mut Recording,
    parse_errors: &mut BTreeSet<String>,
) {
    let at = Instant::now();
    let state = stream_state(addr, key);
    let mut docs = BTreeMap::new();
    let mut listed: Vec<(&'static str, String)> = Vec::new();
    for name in ["video.m3u8", "audio.m3u8", "index.mpd"] {
        let f = http_get(addr, &format!("{}{name}", base(key)))
            .ok()
            .map(|r| Fetched {
                status: r.status,
                body: r.text(),
            });
        if let Some(f) = f.as_ref().filter(|f| f.status == 200) {
            let paths = if name == "index.mpd" {
                dash_mpd_core::parse(&f.body)
                    .map(|m| mpd_paths(key, &m))
                    .map_err(|e| e.to_string())
            } else {
                parse_media(&f.body).map(|p| p.uris().iter().map(|u| resolve(key, u)).collect())
            };
            match paths {
                Ok(paths) => listed.extend(paths.into_iter().map(|p| (name, p))),
                Err(e) => {
                    if parse_errors.insert(f.body.clone()) && parse_errors.len() <= 5 {
                        rec.errors
                            .push(format!("{name} does not parse ({e}):\n{}", f.body));
                    }
                }
            }
        }
        docs.insert(name, f);
    }
    for (name, path) in listed {
        if rec.bodies.contains_key(&path) {
            continue;
        }
        match http_get(addr, &path) {
            Ok(r) if r.status == 200 => {
                let cache_control = r.header("cache-control").map(str::to_owned);
                rec.bodies.insert(
                    path,
                    Body {
                        bytes: r.body,
                        cache_control,
                        listed_by: name,
                    },
                );
            }
            Ok(r) => {
                // Recorded once: later ticks try again (and would store it).
                if !rec.errors.iter().any(|e| e.starts_with(&path)) {
                    rec.errors.push(format!(
                        "{path} listed in {name} answered {} at its first fetch",
                        r.status
                    ));
                }
            }
            Err(e) => rec.errors.push(format!("{path} listed in {name}: {e}")),
        }
    }
    rec.ticks.push(Tick { at, state, docs });
}

/// Re-fetches every recorded URI: one that answers 200 must answer the bytes
/// of its first fetch (continuity-spec: "a URI once listed always answers
/// the same bytes while it answers"); one in `must_answer` must answer; any
/// other may be gone (404/410) once it left the window (HLS-LIVE-04).
/// Every first fetch also had to carry the immutable Cache-Control.
fn check_uris_stable(
    addr: SocketAddr,
    bodies: &BTreeMap<String, Body>,
    must_answer: &BTreeSet<String>,
    fails: &mut Vec<String>,
) -> (usize, usize) {
    let (mut same, mut gone) = (0, 0);
    let mut not_immutable = Vec::new();
    for (path, first) in bodies {
        let cc = first.cache_control.as_deref().unwrap_or("");
        if !(cc.contains("immutable") && cc.contains("max-age=31536000")) {
            not_immutable.push(format!("{path}: {cc:?}"));
        }
        match http_get(addr, path) {
            Ok(r) if r.status == 200 => {
                if r.body == first.bytes {
                    same += 1;
                } else {
                    fails.push(format!(
                        "{path} (first listed in {}) answers different bytes: {} bytes now, {} at its first fetch",
                        first.listed_by,
                        r.body.len(),
                        first.bytes.len()
                    ));
                }
            }
            Ok(r) => {
                gone += 1;
                expect!(
                    fails,
                    !must_answer.contains(path) && matches!(r.status, 404 | 410),
                    "{path} (first listed in {}) answers {} at the end{}",
                    first.listed_by,
                    r.status,
                    if must_answer.contains(path) {
                        " although it must still answer"
                    } else {
                        ""
                    }
                );
            }
            Err(e) => fails.push(format!("{path}: {e}")),
        }
    }
    expect!(
        fails,
        not_immutable.is_empty(),
        "{} media URIs without `Cache-Control: public, max-age=31536000, immutable`, e.g. {:?}",
        not_immutable.len(),
        &not_immutable[..not_immutable.len().min(4)]
    );
    (same, gone)
}

// ---------------------------------------------------------------------------
// fMP4: the first tfdt of a segment, the timescale of an init segment
// ---------------------------------------------------------------------------

/// baseMediaDecodeTime of the first fragment of a media segment, decoded
/// with mp4-atom.
fn first_tfdt(seg: &[u8]) -> Result<u64, String> {
    mp4::decode_segment(seg)?
        .fragments
        .first()
        .ok_or("no moof")?
        .tfdt()
        .ok_or_else(|| "no tfdt".into())
}

/// The media timescale of a single-track init segment, decoded with
/// mp4-atom.
fn init_timescale(init: &[u8]) -> Result<u64, String> {
    Ok(u64::from(mp4::decode_init(init)?.timescale()))
}

/// Every segment ever listed in `name`, by msn: (URI, EXTINF, MAP URI).
fn timeline(rec: &Recording, name: &str) -> BTreeMap<u64, Seg> {
    let mut out = BTreeMap::new();
    for (_, pl, _) in rec.media(name) {
        for s in pl.segments {
            out.insert(s.msn, s);
        }
    }
    out
}

/// Every segment ever listed in `name` by msn: (media start from its tfdt,
/// start + EXTINF, Discontinuity Sequence Number), in seconds. Segments
/// whose body or init was not recorded are left out; one that does not
/// decode is a failure.
fn segment_times(rec: &Recording, key: &str, name: &str) -> BTreeMap<u64, (f64, f64, u64)> {
    let body = |uri: &str| {
        rec.bodies
            .get(&resolve(key, uri))
            .map(|b| b.bytes.as_slice())
    };
    let decoded = |uri: &str, f: fn(&[u8]) -> Result<u64, String>| {
        body(uri).map(|b| f(b).unwrap_or_else(|e| panic!("{name}: {uri}: {e}")))
    };
    timeline(rec, name)
        .into_values()
        .filter_map(|s| {
            let ts = decoded(s.map.as_deref()?, init_timescale)?;
            let start = decoded(&s.uri, first_tfdt)? as f64 / ts as f64;
            Some((s.msn, (start, start + s.duration, s.dsn)))
        })
        .collect()
}

/// Continuity-spec "tfdt monotonic per track" (HLS-LIVE-08: timestamps are
/// rebased so that tfdt stays monotonic): along consecutive msns of `name`,
/// each segment's first tfdt is after the previous segment's start plus its
/// EXTINF (50 ms of slack). Returns a note on the join (`disc` msn).
fn check_tfdt(rec: &Recording, key: &str, name: &str, fails: &mut Vec<String>) -> String {
    let tl = timeline(rec, name);
    let body = |uri: &str| {
        rec.bodies
            .get(&resolve(key, uri))
            .map(|b| b.bytes.as_slice())
    };
    let decoded = |uri: &str, f: fn(&[u8]) -> Result<u64, String>| {
        f(body(uri).ok_or_else(|| format!("{uri} not recorded"))?)
            .map_err(|e| format!("{uri}: {e}"))
    };
    let mut note = String::new();
    let mut checked = 0;
    for (msn, seg) in &tl {
        let Some(next) = tl.get(&(msn + 1)) else {
            continue;
        };
        let ts = seg
            .map
            .as_deref()
            .ok_or_else(|| format!("{} has no EXT-X-MAP", seg.uri))
            .and_then(|m| decoded(m, init_timescale));
        let (t0, t1) = (
            decoded(&seg.uri, first_tfdt),
            decoded(&next.uri, first_tfdt),
        );
        let (Ok(ts), Ok(t0), Ok(t1)) = (ts.clone(), t0.clone(), t1.clone()) else {
            fails.push(format!(
                "{name}: no tfdt/timescale for msn {msn} → {} (timescale {ts:?}, tfdt {t0:?} → {t1:?})",
                msn + 1
            ));
            continue;
        };
        checked += 1;
        let step = (t1 as f64 - t0 as f64) / ts as f64;
        expect!(
            fails,
            t1 > t0 && step >= seg.duration - 0.05,
            "{name}: tfdt of msn {} is {t1}, {step:.3} s after msn {msn}'s {t0} whose EXTINF is {} (timescale {ts}): not monotonic{}",
            msn + 1,
            seg.duration,
            if next.discontinuity { " across the reconnect" } else { "" }
        );
        if next.discontinuity {
            note = format!(
                "{name}: join at msn {}: tfdt step {step:.3} s over EXTINF {}",
                msn + 1,
                seg.duration
            );
        }
    }
    expect!(
        fails,
        checked >= 4,
        "{name}: only {checked} consecutive segment pairs to compare tfdt"
    );
    note
}

// ---------------------------------------------------------------------------
// Playlist and MPD fetches from the test thread
// ---------------------------------------------------------------------------

fn get_media(weir: &Weir, key: &str, name: &str) -> Option<MediaPl> {
    let r = weir.http(&format!("{}{name}", base(key)));
    (r.status == 200)
        .then(|| parse_media(&r.text()).unwrap_or_else(|e| panic!("{name}: {e}\n{}", r.text())))
}

fn get_mpd(weir: &Weir, key: &str) -> Option<(MPD, String)> {
    let r = weir.http(&format!("{}index.mpd", base(key)));
    (r.status == 200).then(|| {
        let text = r.text();
        let mpd = dash_mpd_core::parse(&text)
            .unwrap_or_else(|e| panic!("index.mpd does not parse ({e}):\n{text}"));
        (mpd, text)
    })
}

/// Polls until both media playlists, the multivariant playlist and the MPD
/// are served and `pred` holds for the video playlist; panics with weir's
/// log after `timeout`.
fn wait_playlists(
    weir: &Weir,
    key: &str,
    timeout: Duration,
    what: &str,
    mut pred: impl FnMut(&MediaPl, &MediaPl, &MPD) -> bool,
) -> (MediaPl, MediaPl, MPD) {
    let mut last = String::new();
    let got = poll_every(timeout, Duration::from_millis(100), || {
        let v = get_media(weir, key, "video.m3u8")?;
        let a = get_media(weir, key, "audio.m3u8")?;
        let (m, text) = get_mpd(weir, key)?;
        if weir.http(&format!("{}index.m3u8", base(key))).status != 200 {
            return None;
        }
        last = format!("{v:?}\n{text}");
        pred(&v, &a, &m).then_some((v, a, m))
    });
    got.unwrap_or_else(|| {
        panic!(
            "timed out after {timeout:?} waiting for live/{key}: {what}\nlast seen:\n{last}\n--- weir ---\n{}",
            weir.stderr()
        )
    })
}

// ---------------------------------------------------------------------------
// ffmpeg as an HLS / DASH client
// ---------------------------------------------------------------------------

fn out_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e_continuity");
    std::fs::create_dir_all(&dir).expect("create target/tmp/e2e_continuity");
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// `ffmpeg -i http://…/MANIFEST -t SECS -c copy -f mp4 OUT`.
struct Reader {
    ff: Ffmpeg,
    out: PathBuf,
    url: String,
    started: Instant,
}

impl Reader {
    fn start(weir: &Weir, key: &str, manifest: &str, secs: u32, out: &str) -> Reader {
        let out = out_path(out);
        let url = weir.http_url(&format!("{}{manifest}", base(key)));
        let secs = secs.to_string();
        let o = out.to_str().expect("utf-8 path");
        let ff = Ffmpeg::spawn(&["-y", "-i", &url, "-t", &secs, "-c", "copy", "-f", "mp4", o]);
        Reader {
            ff,
            out,
            url,
            started: Instant::now(),
        }
    }

    /// Waits for ffmpeg (bounded) and probes its output: Ok(seconds read,
    /// video streams, audio streams), or Err(what went wrong, with ffmpeg's
    /// stderr).
    fn finish(mut self, timeout: Duration) -> Result<(f64, usize, usize), String> {
        let status = self
            .ff
            .wait_timeout(timeout.saturating_sub(self.started.elapsed()));
        let elapsed = self.started.elapsed();
        let stderr = self.ff.stderr();
        let tail: String = {
            let lines: Vec<&str> = stderr.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        };
        match status {
            None => {
                self.ff.kill9();
                return Err(format!(
                    "ffmpeg reading {} did not finish within {timeout:?}; its output so far: {:?}\n--- ffmpeg stderr (tail) ---\n{tail}",
                    self.url,
                    probe(&self.out).ok()
                ));
            }
            Some(s) if !s.success() => {
                return Err(format!(
                    "ffmpeg reading {} exited {s} after {elapsed:.1?}; output: {:?}\n--- ffmpeg stderr (tail) ---\n{tail}",
                    self.url,
                    probe(&self.out).ok()
                ));
            }
            Some(_) => {}
        }
        probe(&self.out).map_err(|e| format!("{e}\n--- ffmpeg stderr (tail) ---\n{tail}"))
    }
}

/// (format duration, video streams, audio streams) of a file, per ffprobe.
fn probe(path: &Path) -> Result<(f64, usize, usize), String> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ffprobe: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ffprobe {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("ffprobe JSON: {e}"))?;
    let count = |kind: &str| {
        v["streams"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|s| s["codec_type"] == kind).count())
    };
    let d = v["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| format!("ffprobe shows no duration: {v}"))?;
    Ok((d, count("video"), count("audio")))
}

// ---------------------------------------------------------------------------
// (a), (b): a publisher leaves and another one returns 2 s later
// ---------------------------------------------------------------------------

/// How publisher A leaves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Leave {
    /// Its finite input ends; ffmpeg unpublishes (FCUnpublish, deleteStream)
    /// and closes the connection.
    Graceful,
    /// SIGKILL: the connection just closes (RTMP-CMD-07: same path).
    Kill9,
}

/// Seconds of media each ffmpeg client must read across the gap.
const READ_SECS: u32 = 20;
/// …of which at least this much must arrive.
const READ_AT_LEAST: f64 = 18.0;

fn reconnect_scenario(key: &'static str, leave: Leave) {
    let t0 = Instant::now();
    // (a) lists everything the test sees (30 × 2 s), so that every URI must
    // still answer at the end; (b) keeps the default window of 6 so that
    // MEDIA-SEQUENCE advances and segments slide out.
    let window = match leave {
        Leave::Graceful => "30",
        Leave::Kill9 => "6",
    };
    let weir = Weir::start(&[
        "--end-on-unpublish",
        "false",
        "--grace-period",
        "10",
        "--playlist-window",
        window,
    ]);
    let url = weir.rtmp_url(key);
    let mut fails: Vec<String> = Vec::new();

    // Publisher A: 10 s that end on their own, or 20 s killed after ~8 s.
    let asset_a = match leave {
        Leave::Graceful => assets::small_av_gop1s(10),
        Leave::Kill9 => assets::small_av_gop1s(20),
    };
    let asset_b = assets::small_av_gop1s(20);
    let mut a = Ffmpeg::publish(&asset_a, &url, true, &[]);
    let poller = Poller::start(weir.http_addr, key, Duration::from_millis(250));

    // Both clients start once the stream is playable, well before the gap.
    wait_playlists(
        &weir,
        key,
        Duration::from_secs(20),
        "≥ 2 segments",
        |v, a, m| v.segments.len() >= 2 && a.segments.len() >= 2 && !m.periods.is_empty(),
    );
    let hls = Reader::start(
        &weir,
        key,
        "index.m3u8",
        READ_SECS,
        &format!("{key}-hls.mp4"),
    );
    let dash = Reader::start(
        &weir,
        key,
        "index.mpd",
        READ_SECS,
        &format!("{key}-dash.mp4"),
    );

    // A leaves.
    match leave {
        Leave::Graceful => {
            let st = a.wait_timeout(Duration::from_secs(30));
            assert!(
                st.is_some_and(|s| s.success()),
                "publisher A should finish its 10 s input and exit 0: {st:?}\n{}",
                a.stderr()
            );
        }
        Leave::Kill9 => {
            wait_playlists(
                &weir,
                key,
                Duration::from_secs(20),
                "≥ 8 s listed",
                |v, _, _| v.duration() >= 8.0,
            );
            a.kill9();
        }
    }
    let stop_at = Instant::now();
    let last_msn_a = get_media(&weir, key, "video.m3u8").and_then(|p| p.last_msn());

    // The deliberate gap: nothing to poll for, B simply comes back 2 s later.
    std::thread::sleep(Duration::from_secs(2));
    let _b = Ffmpeg::publish(&asset_b, &url, true, &[]);
    let b_at = Instant::now();

    // Observe until the video playlist lists ≥ 6 s of media from its
    // DISCONTINUITY on (B's media; ≈ 8 s after B started).
    let b_listed = |p: &MediaPl| {
        p.segments
            .iter()
            .skip_while(|s| !s.discontinuity)
            .map(|s| s.duration)
            .sum::<f64>()
    };
    let seen_b = poll_every(Duration::from_secs(25), Duration::from_millis(200), || {
        get_media(&weir, key, "video.m3u8").filter(|p| b_listed(p) >= 6.0)
    });
    if seen_b.is_none() {
        fails.push(format!(
            "video.m3u8 did not list 6 s of media after a DISCONTINUITY within 25 s of B's start (A's last msn when it left: {last_msn_a:?})"
        ));
    }
    let b_seen_at = Instant::now();
    let rec = poller.finish();
    let gap = Gap { stop_at, b_at };

    fails.extend(rec.errors.iter().cloned());

    // ---- HLS media playlists ----------------------------------------------
    let mut hls_paths: Vec<String> = Vec::new();
    for name in MEDIA {
        hls_paths.extend(check_media_across_reconnect(
            &rec, key, name, gap, &mut fails,
        ));
    }

    // HLS-MV-02: the renditions share the discontinuity sequence: the video
    // segment and the audio segment playing at the same media time have the
    // same Discontinuity Sequence Number (players align renditions by it).
    let (vt, at) = (
        segment_times(&rec, key, "video.m3u8"),
        segment_times(&rec, key, "audio.m3u8"),
    );
    let mut differ = Vec::new();
    for (msn, &(start, end, dsn)) in &vt {
        let t = start + ((end - start) / 2.0).min(0.05);
        if let Some((amsn, &(astart, aend, adsn))) =
            at.iter().find(|(_, &(s, e, _))| s <= t && t < e)
        {
            if adsn != dsn {
                differ.push(format!(
                    "video msn {msn} ({start:.3}–{end:.3} s) DSN {dsn}, audio msn {amsn} ({astart:.3}–{aend:.3} s) DSN {adsn}"
                ));
            }
        }
    }
    expect!(
        fails,
        differ.is_empty(),
        "video and audio disagree on the discontinuity sequence at the same media time (HLS-MV-02):\n{}\n{}\n{}",
        differ.join("\n"),
        rec.dump("video.m3u8", 1),
        rec.dump("audio.m3u8", 1)
    );

    // ---- tfdt per track across the join -----------------------------------
    let joins: Vec<String> = MEDIA
        .iter()
        .map(|name| check_tfdt(&rec, key, name, &mut fails))
        .collect();

    // ---- /api/streams ------------------------------------------------------
    check_states_across_reconnect(&rec, gap, &mut fails);

    // ---- MPD (DASH-MPD-01, -02, -09) ----------------------------------------
    let dash_paths = check_mpds_across_reconnect(&rec, key, gap, &mut fails);

    // ---- One instance, same URIs, same bytes -------------------------------
    let all_insts = insts(
        key,
        hls_paths.iter().chain(&dash_paths).cloned(),
        &mut fails,
    );
    expect!(
        fails,
        all_insts.len() == 1,
        "a reconnect within the grace period keeps the instance, saw {{inst}} {all_insts:?}"
    );

    // ---- ffmpeg reads across the gap -------------------------------------
    let hls_read = hls.finish(Duration::from_secs(60));
    let dash_read = dash.finish(Duration::from_secs(60));
    match &hls_read {
        Ok((d, v, a)) => {
            expect!(
                fails,
                *d >= READ_AT_LEAST && *v == 1 && *a == 1,
                "ffmpeg read {d:.2} s of index.m3u8 with {v} video / {a} audio streams, want ≥ {READ_AT_LEAST} s of both across the gap"
            );
        }
        Err(e) => fails.push(format!("HLS client across the gap: {e}")),
    }
    // ffmpeg's DASH demuxer (5.1 here) does read on across the reconnect's
    // new Period: it reads the full 20 s in both scenarios, so this is a
    // real assertion, not a known limitation.
    let dash_ok = matches!(&dash_read, Ok((d, v, a)) if *d >= READ_AT_LEAST && *v == 1 && *a == 1);
    expect!(
        fails,
        dash_ok,
        "ffmpeg reading index.mpd across the new Period: {dash_read:?} (want ≥ {READ_AT_LEAST} s, 1 video + 1 audio)"
    );

    // Re-fetch everything ever listed: same bytes. In (a) everything is
    // still listed (window 30), so everything must answer; in (b) what
    // slid out may be gone, what is listed now must answer.
    let mut must_answer: BTreeSet<String> = BTreeSet::new();
    if leave == Leave::Graceful {
        must_answer.extend(rec.bodies.keys().cloned());
    } else {
        // What is listed now (removed segments stay 2 target durations).
        for name in MEDIA {
            if let Some(p) = get_media(&weir, key, name) {
                must_answer.extend(p.uris().iter().map(|u| resolve(key, u)));
            }
        }
        if let Some((m, _)) = get_mpd(&weir, key) {
            must_answer.extend(mpd_paths(key, &m));
        }
    }
    let (same, gone) = check_uris_stable(weir.http_addr, &rec.bodies, &must_answer, &mut fails);

    // Where each rendition's DISCONTINUITY is (msn). Weir cuts audio where
    // it cuts video, also in the filler at the join (main e13beb1: before
    // it, a SIGKILL just after a key frame left audio one extra 43 ms
    // segment, and from there on audio msn = video msn + 1 for the rest of
    // the stream). Not an HLS MUST, but Weir's own alignment property.
    let disc_msn = |name: &str| {
        timeline(&rec, name)
            .into_values()
            .find(|s| s.discontinuity)
            .map(|s| s.msn)
    };
    let join_msns = (disc_msn("video.m3u8"), disc_msn("audio.m3u8"));
    expect!(
        fails,
        join_msns.0 == join_msns.1,
        "the renditions' segment numbers diverged at the join: DISCONTINUITY on video msn {:?}, audio msn {:?}\n{}\n{}",
        join_msns.0,
        join_msns.1,
        rec.dump("video.m3u8", 1),
        rec.dump("audio.m3u8", 1)
    );
    // The video segments from A's last one on: (msn, EXTINF, DISCONTINUITY).
    let around_join: Vec<(u64, f64, bool)> = timeline(&rec, "video.m3u8")
        .into_values()
        .filter(|s| last_msn_a.is_some_and(|m| s.msn + 1 >= m))
        .map(|s| (s.msn, s.duration, s.discontinuity))
        .collect();
    eprintln!(
        "{key}: {} polls, {} URIs ({same} same bytes at the end, {gone} gone), A left at {:.1} s, B at {:.1} s, observed until {:.1} s; video from A's last segment {around_join:?}; DISCONTINUITY at video/audio msn {join_msns:?}; {joins:?}; HLS read {hls_read:?}; DASH read {:?}; total {:.1?}",
        rec.ticks.len(),
        rec.bodies.len(),
        secs_since(t0, stop_at),
        secs_since(t0, b_at),
        secs_since(t0, b_seen_at),
        dash_read.as_ref().map_err(|e| e.lines().next().unwrap_or("").to_owned()),
        t0.elapsed()
    );
    if !fails.is_empty() {
        fails.push(format!(
            "--- last playlists ---\n{}\n{}\n{}",
            rec.dump("video.m3u8", 1),
            rec.dump("audio.m3u8", 1),
            rec.dump("index.mpd", 1)
        ));
    }
    assert_no_failures(key, &fails);
}

/// When publisher A left and when B started.
#[derive(Clone, Copy, Debug)]
struct Gap {
    stop_at: Instant,
    b_at: Instant,
}

impl Gap {
    fn after_b(&self, at: &Instant) -> bool {
        *at >= self.b_at
    }
    fn contains(&self, at: &Instant) -> bool {
        *at >= self.stop_at && *at < self.b_at
    }
    /// Seconds from A's departure to `at` (negative before).
    fn rel(&self, at: Instant) -> f64 {
        secs_since(self.stop_at, at)
    }
}

/// The media playlist `name` over every snapshot of a reconnect (HLS-LIVE-08):
/// served without a gap, MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE never
/// decrease (HLS-PL-03/04), one URI and one discontinuity sequence number
/// per msn, no ENDLIST, exactly one segment carrying EXT-X-DISCONTINUITY,
/// after A's segments, and B's segments after it. Returns every path listed.
fn check_media_across_reconnect(
    rec: &Recording,
    key: &str,
    name: &str,
    gap: Gap,
    fails: &mut Vec<String>,
) -> Vec<String> {
    let stop_at = gap.stop_at;
    let after_b = |at: &Instant| gap.after_b(at);
    let mut paths = Vec::new();
    let snaps = rec.media(name);
    let dump = || rec.dump(name, 2);
    expect!(fails, !snaps.is_empty(), "{name}: never served");
    // Served without interruption once it was served (no 404 while the
    // stream waits for its publisher).
    let first_ok = rec
        .ticks
        .iter()
        .position(|t| matches!(t.docs.get(name), Some(Some(f)) if f.status == 200));
    if let Some(i) = first_ok {
        let not_ok: Vec<String> = rec.ticks[i..]
            .iter()
            .filter_map(|t| match t.docs.get(name) {
                Some(Some(f)) if f.status == 200 => None,
                Some(Some(f)) => Some(format!(
                    "{} at {:.2} s after A left",
                    f.status,
                    secs_since(stop_at, t.at)
                )),
                _ => Some("transport error".into()),
            })
            .collect();
        expect!(
            fails,
            not_ok.is_empty(),
            "{name}: not served at some polls after it was first served: {not_ok:?}"
        );
    }
    // HLS-PL-03: MEDIA-SEQUENCE never decreases; HLS-PL-04: neither
    // does DISCONTINUITY-SEQUENCE; HLS-LIVE-08 / HLS-PL-08: a stream
    // waiting for its publisher, then resumed, never gets ENDLIST.
    let mut prev: Option<(u64, u64)> = None;
    let mut msn_uri: BTreeMap<u64, String> = BTreeMap::new();
    let mut msn_dsn: BTreeMap<u64, u64> = BTreeMap::new();
    let mut disc_msns: BTreeSet<u64> = BTreeSet::new();
    let mut endlists = Vec::new();
    for (at, pl, body) in &snaps {
        if let Some((ms, ds)) = prev {
            expect!(
                fails,
                pl.media_sequence >= ms,
                "{name}: EXT-X-MEDIA-SEQUENCE went from {ms} to {} (HLS-PL-03, HLS-LIVE-08) at {:.2} s after A left:\n{body}",
                pl.media_sequence,
                secs_since(stop_at, *at)
            );
            expect!(
                fails,
                pl.discontinuity_sequence >= ds,
                "{name}: EXT-X-DISCONTINUITY-SEQUENCE went from {ds} to {} (HLS-PL-04):\n{body}",
                pl.discontinuity_sequence
            );
        }
        prev = Some((pl.media_sequence, pl.discontinuity_sequence));
        if pl.endlist {
            endlists.push(format!(
                "{:+.2} s after A left{}",
                secs_since(stop_at, *at),
                if after_b(at) { " (after B)" } else { "" }
            ));
        }
        for s in &pl.segments {
            if s.discontinuity {
                disc_msns.insert(s.msn);
            }
            if let Some(u) = msn_uri.insert(s.msn, s.uri.clone()) {
                expect!(
                    fails,
                    u == s.uri,
                    "{name}: msn {} listed as {u} and later as {}",
                    s.msn,
                    s.uri
                );
            }
            if let Some(d) = msn_dsn.insert(s.msn, s.dsn) {
                expect!(
                    fails,
                    d == s.dsn,
                    "{name}: msn {} had discontinuity sequence number {d}, later {} (HLS-PL-04)",
                    s.msn,
                    s.dsn
                );
            }
        }
        paths.extend(pl.uris().iter().map(|u| resolve(key, u)));
    }
    expect!(
        fails,
        endlists.is_empty(),
        "{name}: #EXT-X-ENDLIST while the stream waited for or carried publisher B (HLS-LIVE-08): {endlists:?}\n{}",
        dump()
    );
    // Exactly one EXT-X-DISCONTINUITY, at the join: after every segment
    // listed before B came back (HLS-LIVE-08, HLS-PL-04).
    let before_b_max = snaps
        .iter()
        .filter(|(at, _, _)| !after_b(at))
        .filter_map(|(_, p, _)| p.last_msn())
        .max();
    expect!(
        fails,
        disc_msns.len() == 1,
        "{name}: want exactly one segment carrying #EXT-X-DISCONTINUITY over all snapshots, got msns {disc_msns:?}\n{}",
        dump()
    );
    if let (Some(&d), Some(m)) = (disc_msns.iter().next(), before_b_max) {
        expect!(
            fails,
            d > m,
            "{name}: the DISCONTINUITY is on msn {d}, not after A's segments (last msn before B: {m})"
        );
    }
    // B's media continues the playlist: more segments after the join.
    let last = snaps.last().map(|(_, p, _)| p.clone());
    if let (Some(last), Some(m)) = (last, before_b_max) {
        expect!(
            fails,
            last.last_msn().is_some_and(|l| l >= m + 3),
            "{name}: the playlist did not go on after B came back (last msn before B {m}, at the end {:?})\n{}",
            last.last_msn(),
            dump()
        );
    }
    paths
}

/// `/api/streams` over a reconnect: "reconnecting" at some poll in the gap
/// (continuity-spec "Lifecycle"), "live" at the end (B publishing).
fn check_states_across_reconnect(rec: &Recording, gap: Gap, fails: &mut Vec<String>) {
    let states: Vec<(f64, String)> = rec
        .ticks
        .iter()
        .map(|t| {
            (
                gap.rel(t.at),
                t.state.clone().unwrap_or_else(|| "<error>".into()),
            )
        })
        .collect();
    let gap_states: BTreeSet<&str> = rec
        .ticks
        .iter()
        .filter(|t| gap.contains(&t.at))
        .filter_map(|t| t.state.as_deref())
        .collect();
    expect!(
        fails,
        gap_states.contains("reconnecting"),
        "/api/streams never showed state \"reconnecting\" during the 2 s gap; gap states {gap_states:?}; all: {}",
        summarize_states(&states)
    );
    let end_state = rec.ticks.last().and_then(|t| t.state.clone());
    expect!(
        fails,
        end_state.as_deref() == Some("live"),
        "/api/streams state {end_state:?} at the end (B live); all: {}",
        summarize_states(&states)
    );
}

/// The MPD over every snapshot of a reconnect: dynamic with
/// minimumUpdatePeriod throughout (DASH-MPD-01; the stream only waited), at
/// least one Period, one availabilityStartTime (DASH-MPD-01), Periods that
/// keep their start (DASH-MPD-02), and a new Period after B with video and
/// audio segments (DASH-MPD-09). Returns every path listed.
fn check_mpds_across_reconnect(
    rec: &Recording,
    key: &str,
    gap: Gap,
    fails: &mut Vec<String>,
) -> Vec<String> {
    let stop_at = gap.stop_at;
    let after_b = |at: &Instant| gap.after_b(at);
    let mpds = rec.mpds();
    expect!(fails, !mpds.is_empty(), "index.mpd never served");
    let mut asts = BTreeSet::new();
    let mut period_starts: BTreeMap<String, Option<Duration>> = BTreeMap::new();
    let mut ids_before_b: BTreeSet<String> = BTreeSet::new();
    let mut dash_paths: Vec<String> = Vec::new();
    for (at, m, text) in &mpds {
        expect!(
            fails,
            m.mpdtype.as_deref() == Some("dynamic"),
            "MPD type {:?} at {:+.2} s after A left, want dynamic (DASH-MPD-01):\n{text}",
            m.mpdtype,
            secs_since(stop_at, *at)
        );
        expect!(
            fails,
            m.minimumUpdatePeriod.is_some(),
            "MPD without minimumUpdatePeriod at {:+.2} s after A left (live or waiting: DASH-MPD-01):\n{text}",
            secs_since(stop_at, *at)
        );
        expect!(
            fails,
            !m.periods.is_empty(),
            "MPD without a Period:\n{text}"
        );
        asts.insert(m.availabilityStartTime.map(|t| t.timestamp_millis()));
        for p in &m.periods {
            let id = p.id.clone().unwrap_or_default();
            if let Some(s) = period_starts.insert(id.clone(), p.start) {
                expect!(
                    fails,
                    s == p.start,
                    "Period {id} moved from {s:?} to {:?} (DASH-MPD-02)",
                    p.start
                );
            }
            if !after_b(at) {
                ids_before_b.insert(id);
            }
        }
        dash_paths.extend(mpd_paths(key, m));
    }
    expect!(
        fails,
        asts.len() == 1 && !asts.contains(&None),
        "availabilityStartTime must be present and constant across the reconnect (DASH-MPD-01), saw {asts:?} (ms)"
    );
    if let Some((_, last, text)) = mpds.last() {
        let new: Vec<String> = period_ids(last)
            .into_iter()
            .filter(|id| !ids_before_b.contains(id))
            .collect();
        expect!(
            fails,
            !new.is_empty(),
            "no new Period after B came back (DASH-MPD-09); Periods before B {ids_before_b:?}, at the end {:?}:\n{text}",
            period_ids(last)
        );
        for id in &new {
            for kind in ["video", "audio"] {
                expect!(
                    fails,
                    tracks(last)
                        .iter()
                        .any(|t| &t.period_id == id && t.kind == kind && !t.segs.is_empty()),
                    "new Period {id} lists no {kind} segment:\n{text}"
                );
            }
        }
        eprintln!(
            "{key}: Periods at the end {:?} (before B {:?})",
            last.periods
                .iter()
                .map(|p| (p.id.clone().unwrap_or_default(), p.start))
                .collect::<Vec<_>>(),
            ids_before_b
        );
    }
    dash_paths
}

/// Signed seconds from `from` to `to`.
fn secs_since(from: Instant, to: Instant) -> f64 {
    if to >= from {
        (to - from).as_secs_f64()
    } else {
        -(from - to).as_secs_f64()
    }
}

/// `state@time` runs: `live@-9.8..-0.1, reconnecting@0.0..1.9, live@2.1..`.
fn summarize_states(states: &[(f64, String)]) -> String {
    let mut runs: Vec<(String, f64, f64)> = Vec::new();
    for (t, s) in states {
        match runs.last_mut() {
            Some(r) if &r.0 == s => r.2 = *t,
            _ => runs.push((s.clone(), *t, *t)),
        }
    }
    runs.iter()
        .map(|(s, a, b)| format!("{s}@{a:.2}..{b:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// (a) HLS-LIVE-08, HLS-PL-03/04, DASH-MPD-01/09: publisher A's input ends
/// (graceful unpublish), B publishes the same key 2 s later. Polled every
/// 250 ms: MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE never decrease, no
/// ENDLIST, exactly one DISCONTINUITY at the join in each media playlist,
/// /api/streams says "reconnecting" in the gap, every MPD is dynamic with one
/// availabilityStartTime and a new Period after B; every URI ever listed
/// answers its first bytes at the end; ffmpeg reads ≥ 18 s across the gap
/// through index.m3u8 and through index.mpd.
#[test]
fn reconnect_graceful_unpublish_continues_playlists_and_mpd() {
    reconnect_scenario("rc-graceful", Leave::Graceful);
}

/// (b) The same with publisher A killed by SIGKILL (no unpublish reaches
/// Weir; RTMP-CMD-07 says both take the same path). Default playlist window
/// (6): segments slide out, MEDIA-SEQUENCE advances.
#[test]
fn reconnect_sigkill_continues_playlists_and_mpd() {
    reconnect_scenario("rc-kill9", Leave::Kill9);
}

// ---------------------------------------------------------------------------
// (c) The key published again after its stream ended
// ---------------------------------------------------------------------------

/// Every init/segment path listed by the media playlists and the MPD, with
/// the bodies fetched now.
fn listed_bodies(
    weir: &Weir,
    key: &str,
    v: &MediaPl,
    a: &MediaPl,
    m: &MPD,
) -> BTreeMap<String, Vec<u8>> {
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for p in [v, a] {
        paths.extend(p.uris().iter().map(|u| resolve(key, u)));
    }
    paths.extend(mpd_paths(key, m));
    paths
        .into_iter()
        .map(|p| {
            let r = weir.http(&p);
            assert_eq!(r.status, 200, "{p} is listed but answers {}", r.status);
            (p, r.body)
        })
        .collect()
}

/// (c) Publish, stop, let the grace period (1 s) pass: ENDLIST (HLS-LIVE-09)
/// and the end of the MPD (DASH-MPD-12). Publish the same key again: a new
/// instance — its URIs ({inst} differs) are disjoint from the first's, its
/// MEDIA-SEQUENCE starts after the last msn the first instance served
/// (HLS-PL-03 for a player that kept the old playlist), its MPD is dynamic
/// with ≥ 1 Period (availabilityStartTime may change, as documented), and
/// the first instance's URIs still answer their original bytes
/// (`--ended-retention 30`).
#[test]
fn republish_after_end_new_instance_disjoint_uris() {
    let t0 = Instant::now();
    let key = "again";
    let weir = Weir::start(&[
        "--end-on-unpublish",
        "false",
        "--segment-duration",
        "1",
        "--grace-period",
        "1",
        "--ended-retention",
        "30",
        "--playlist-window",
        "20",
    ]);
    let url = weir.rtmp_url(key);
    let mut fails = Vec::new();

    let mut first = Ffmpeg::publish(&assets::small_av_gop1s(4), &url, true, &[]);
    let st = first.wait_timeout(Duration::from_secs(30));
    assert!(
        st.is_some_and(|s| s.success()),
        "first publish: {st:?}\n{}",
        first.stderr()
    );
    // Waiting (1 s), then ended: ENDLIST in both, the MPD's end of live.
    let (v1, a1, m1) = wait_playlists(&weir, key, Duration::from_secs(15), "ENDLIST", |v, a, _| {
        v.endlist && a.endlist
    });
    let (_, m1_text) = get_mpd(&weir, key).expect("MPD of the ended stream");
    expect!(
        fails,
        m1.minimumUpdatePeriod.is_none(),
        "ended stream's MPD keeps minimumUpdatePeriod (DASH-MPD-12):\n{m1_text}"
    );
    let old = listed_bodies(&weir, key, &v1, &a1, &m1);
    let inst1 = insts(key, old.keys().cloned(), &mut fails);
    let last1 = [v1.last_msn(), a1.last_msn()];

    let _second = Ffmpeg::publish(&assets::small_av_gop1s(10), &url, true, &[]);
    // The new instance's playlists: live (no ENDLIST), on another {inst}.
    let (v2, a2, m2) = wait_playlists(
        &weir,
        key,
        Duration::from_secs(20),
        "new instance's playlists and MPD",
        |v, a, m| {
            let fresh = |p: &MediaPl| {
                !p.endlist
                    && p.segments.len() >= 2
                    && p.segments.iter().all(|s| {
                        inst_of(key, &resolve(key, &s.uri)).is_some_and(|i| !inst1.contains(&i))
                    })
            };
            fresh(v)
                && fresh(a)
                && mpd_paths(key, m)
                    .iter()
                    .all(|p| inst_of(key, p).is_some_and(|i| !inst1.contains(&i)))
        },
    );
    let (_, m2_text) = get_mpd(&weir, key).expect("new MPD");
    let new = listed_bodies(&weir, key, &v2, &a2, &m2);
    let inst2 = insts(key, new.keys().cloned(), &mut fails);

    expect!(
        fails,
        inst1.len() == 1 && inst2.len() == 1 && inst1.is_disjoint(&inst2),
        "instance ids: first {inst1:?}, second {inst2:?}; want one each, different"
    );
    if let (Some(i1), Some(i2)) = (inst1.iter().next(), inst2.iter().next()) {
        if let (Ok(a), Ok(b)) = (inst_ms(i1), inst_ms(i2)) {
            expect!(
                fails,
                b > a,
                "second instance {i2} ({b} ms) does not start after {i1} ({a} ms)"
            );
        }
    }
    let shared: Vec<&String> = old.keys().filter(|p| new.contains_key(*p)).collect();
    expect!(
        fails,
        shared.is_empty(),
        "URIs of both instances: {shared:?}"
    );
    for (name, p2, last) in [("video.m3u8", &v2, last1[0]), ("audio.m3u8", &a2, last1[1])] {
        expect!(
            fails,
            last.is_some_and(|l| p2.media_sequence > l),
            "{name}: the new instance's EXT-X-MEDIA-SEQUENCE {} does not start after the last msn {last:?} of the first (HLS-PL-03)",
            p2.media_sequence
        );
    }
    expect!(
        fails,
        m2.mpdtype.as_deref() == Some("dynamic") && !m2.periods.is_empty(),
        "new MPD: type {:?}, {} Periods; want dynamic with ≥ 1 Period:\n{m2_text}",
        m2.mpdtype,
        m2.periods.len()
    );
    eprintln!(
        "{key}: availabilityStartTime {:?} → {:?}; inst {inst1:?} → {inst2:?}; msn {last1:?} → ({}, {})",
        m1.availabilityStartTime,
        m2.availabilityStartTime,
        v2.media_sequence,
        a2.media_sequence
    );
    // The first instance's files still answer their bytes.
    for (p, bytes) in &old {
        let r = weir.http(p);
        expect!(
            fails,
            r.status == 200 && &r.body == bytes,
            "{p} of the ended instance answers {} with {} bytes (had {}), want its original bytes within --ended-retention",
            r.status,
            r.body.len(),
            bytes.len()
        );
    }
    eprintln!(
        "{key}: {} + {} URIs, {:.1?}",
        old.len(),
        new.len(),
        t0.elapsed()
    );
    if !fails.is_empty() {
        fails.push(format!(
            "--- MPD 1 ---\n{m1_text}\n--- MPD 2 ---\n{m2_text}"
        ));
    }
    assert_no_failures(key, &fails);
}

// ---------------------------------------------------------------------------
// (d) Weir restarted between two publishes of one key
// ---------------------------------------------------------------------------

/// Publishes `key` on a fresh weir until both media playlists and the MPD
/// list ≥ 2 segments, and returns every path they list; weir is then asked
/// to stop (SIGTERM) and waited for.
fn one_run(key: &str) -> BTreeSet<String> {
    let mut weir = Weir::start(&["--end-on-unpublish", "false", "--segment-duration", "1"]);
    let _p = Ffmpeg::publish(&assets::small_av_gop1s(10), &weir.rtmp_url(key), true, &[]);
    let (v, a, m) = wait_playlists(
        &weir,
        key,
        Duration::from_secs(20),
        "≥ 2 segments",
        |v, a, m| {
            v.segments.len() >= 2
                && a.segments.len() >= 2
                && tracks(m).iter().all(|t| !t.segs.is_empty())
        },
    );
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for p in [&v, &a] {
        paths.extend(p.uris().iter().map(|u| resolve(key, u)));
    }
    paths.extend(mpd_paths(key, &m));
    weir.signal("TERM");
    assert!(
        weir.wait_exit(Duration::from_secs(15)).is_some(),
        "weir did not stop on SIGTERM"
    );
    paths
}

/// (d) Weir restarted between two publishes of one key: no URI of the
/// second run equals one of the first (a player or CDN that cached the
/// first run's immutable files never gets them for the second run), because
/// `{inst}` — the instance's start in ms — differs.
#[test]
fn weir_restart_between_publishes_no_uri_repeats() {
    let t0 = Instant::now();
    let key = "restart";
    let mut fails = Vec::new();
    let first = one_run(key);
    let second = one_run(key);
    let i1 = insts(key, first.iter().cloned(), &mut fails);
    let i2 = insts(key, second.iter().cloned(), &mut fails);
    let repeated: Vec<&String> = first.intersection(&second).collect();
    expect!(
        fails,
        repeated.is_empty(),
        "{} URIs repeat across the restart: {repeated:?}",
        repeated.len()
    );
    expect!(
        fails,
        i1.len() == 1 && i2.len() == 1 && i1.is_disjoint(&i2),
        "instance ids: first run {i1:?}, second {i2:?}"
    );
    eprintln!(
        "{key}: {} + {} URIs, inst {i1:?} → {i2:?}, {:.1?}",
        first.len(),
        second.len(),
        t0.elapsed()
    );
    assert_no_failures(key, &fails);
}

// ---------------------------------------------------------------------------
// (e) BANDWIDTH and AVERAGE-BANDWIDTH (HLS-MV-01)
// ---------------------------------------------------------------------------

/// 25 s of 320×240 testsrc2 + sine with a long GOP (5 s, fixed: no scene
/// cuts) against the 2 s target (HLS-LIVE-06), heavy noise from 10 s to 15 s
/// so that the third segment is several times the size of the others: the
/// peak moves while the test watches.
fn long_gop_asset() -> PathBuf {
    asset(
        "longgop5s-noise-25s",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "25",
            "-map",
            "0:v",
            "-vf",
            "noise=alls=80:allf=t:enable='between(t,10,15)'",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "150",
            "-keyint_min",
            "150",
            "-sc_threshold",
            "0",
            "-pix_fmt",
            "yuv420p",
            "-map",
            "1:a",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-ar",
            "48000",
            "-ac",
            "2",
        ],
    )
}

/// `ceil(bytes × 8 / EXTINF)` with EXTINF taken as the exact decimal it is
/// written as (no float rounding).
fn ceil_bps(bytes: u64, extinf: &str) -> u64 {
    let (int, frac) = extinf.split_once('.').unwrap_or((extinf, ""));
    let den = 10u128.pow(frac.len() as u32);
    let num: u128 = format!("{int}{frac}").parse().expect("EXTINF digits");
    assert!(num > 0, "EXTINF {extinf}");
    (u128::from(bytes) * 8 * den).div_ceil(num) as u64
}

/// Per rendition: (max over listed segments of ceil(size × 8 / EXTINF),
/// total bits, total EXTINF seconds).
fn rendition_rates(pl: &MediaPl, size: &dyn Fn(&str) -> u64) -> (u64, u64, f64) {
    let mut peak = 0;
    let mut bits = 0;
    for s in &pl.segments {
        let b = size(&s.uri);
        peak = peak.max(ceil_bps(b, &s.extinf));
        bits += b * 8;
    }
    (peak, bits, pl.duration())
}

/// (e) HLS-MV-01: in every distinct state of the playlists of a long-GOP,
/// variable-rate publish, the multivariant `BANDWIDTH` ≥ Σ over the video
/// and audio renditions of the peak segment bit rate ceil(size × 8 /
/// EXTINF) over the listed segments, and `AVERAGE-BANDWIDTH` is present,
/// ≥ 0.9 × Σ (total bits / total EXTINF) and ≤ BANDWIDTH.
#[test]
fn hls_mv_01_bandwidth_covers_listed_segment_peaks() {
    let t0 = Instant::now();
    let key = "bw";
    let asset = long_gop_asset();
    // Not a lifecycle test: the publisher's unpublish ends the stream at
    // once, so that the final (ENDLIST) state is checked without waiting.
    let weir = Weir::start(&["--end-on-unpublish", "true", "--playlist-window", "20"]);
    let _p = Ffmpeg::publish(&asset, &weir.rtmp_url(key), true, &[]);
    let mut fails = Vec::new();
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    let mut checked: Vec<String> = Vec::new();
    let mut last_state: Option<(String, String)> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ended = false;
    while !ended && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        let rv = weir.http(&format!("{}video.m3u8", base(key)));
        let ra = weir.http(&format!("{}audio.m3u8", base(key)));
        if rv.status != 200 || ra.status != 200 {
            continue;
        }
        let state = (rv.text(), ra.text());
        if last_state.as_ref() == Some(&state) {
            continue;
        }
        let v = parse_media(&state.0).unwrap_or_else(|e| panic!("video.m3u8: {e}\n{}", state.0));
        let a = parse_media(&state.1).unwrap_or_else(|e| panic!("audio.m3u8: {e}\n{}", state.1));
        if v.segments.len() < 2 || a.segments.len() < 2 {
            continue;
        }
        ended = v.endlist && a.endlist;
        for s in v.segments.iter().chain(&a.segments) {
            let path = resolve(key, &s.uri);
            if let Entry::Vacant(e) = sizes.entry(path) {
                let r = weir.http(e.key());
                assert_eq!(
                    r.status,
                    200,
                    "{} is listed but answers {}",
                    e.key(),
                    r.status
                );
                e.insert(r.body.len() as u64);
            }
        }
        let size = |uri: &str| sizes[&resolve(key, uri)];
        let (vp, vbits, vdur) = rendition_rates(&v, &size);
        let (ap, abits, adur) = rendition_rates(&a, &size);
        let peak = vp + ap;
        let avg = vbits as f64 / vdur + abits as f64 / adur;
        // The multivariant playlist is written right after the media
        // playlists; one re-read covers a fetch that fell between the two.
        let mut bw_ok = false;
        let mut line = String::new();
        for attempt in 0..2 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200));
            }
            let r = weir.http(&format!("{}index.m3u8", base(key)));
            assert_eq!(r.status, 200, "index.m3u8 answers {}", r.status);
            let mv = parse_multivariant(&r.text())
                .unwrap_or_else(|e| panic!("index.m3u8: {e}\n{}", r.text()));
            // m3u8-rs requires BANDWIDTH; the Option keeps the check below.
            let bw: Option<u64> = Some(mv.bandwidth);
            let abw: Option<u64> = mv.average_bandwidth;
            line = format!(
                "msn {}..={:?} (video), BANDWIDTH {bw:?} vs peak {peak} (video {vp} + audio {ap}); AVERAGE-BANDWIDTH {abw:?} vs measured {avg:.0}; variant {} audio {:?}",
                v.media_sequence,
                v.last_msn(),
                mv.variant_uri,
                mv.media_uris
            );
            bw_ok = bw.is_some_and(|b| b >= peak)
                && abw.is_some_and(|x| x as f64 >= 0.9 * avg && bw.is_some_and(|b| x <= b));
            if bw_ok {
                break;
            }
        }
        expect!(fails, bw_ok, "HLS-MV-01: {line}");
        checked.push(line);
        last_state = Some(state);
    }
    expect!(
        fails,
        ended,
        "the playlists did not end within 60 s of the publish ({} states checked)",
        checked.len()
    );
    expect!(
        fails,
        checked.len() >= 3,
        "only {} distinct playlist states checked, want ≥ 3",
        checked.len()
    );
    let vsizes: Vec<u64> = sizes
        .iter()
        .filter(|(p, _)| p.contains("/video/"))
        .map(|(_, s)| *s)
        .collect();
    eprintln!(
        "{key}: video segment sizes {vsizes:?}; {} states in {:.1?}:\n{}",
        checked.len(),
        t0.elapsed(),
        checked.join("\n")
    );
    assert_no_failures(key, &fails);
}

/// The parsers and helpers of this file on fixed inputs (no sockets).
#[test]
fn helpers_self_test() {
    let pl = parse_media(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n\
         #EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-MAP:URI=\"video/k3x9a0b1/init-v1.mp4\"\n\
         #EXTINF:2.00000,\nvideo/k3x9a0b1/seg-7.m4s\n#EXT-X-DISCONTINUITY\n\
         #EXT-X-MAP:URI=\"video/k3x9a0b1/init-v2.mp4\"\n#EXTINF:1.50000,\nvideo/k3x9a0b1/seg-8.m4s\n",
    )
    .unwrap();
    assert_eq!(pl.media_sequence, 7);
    assert_eq!(pl.last_msn(), Some(8));
    assert_eq!(
        pl.segments
            .iter()
            .map(|s| (s.msn, s.dsn, s.discontinuity))
            .collect::<Vec<_>>(),
        [(7, 1, false), (8, 2, true)]
    );
    assert_eq!(
        pl.segments[1].map.as_deref(),
        Some("video/k3x9a0b1/init-v2.mp4")
    );
    assert_eq!(pl.uris().len(), 4);
    assert!(!pl.endlist);
    assert_eq!(
        resolve("k", "video/abc/seg-1.m4s"),
        "/live/k/video/abc/seg-1.m4s"
    );
    assert_eq!(resolve("k", "http://h:1/x/y"), "/x/y");
    assert_eq!(
        inst_of("k", "/live/k/audio/abc/seg-1.m4s").as_deref(),
        Some("abc")
    );
    assert_eq!(inst_of("k", "/live/k/audio/seg-1.m4s"), None);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut b36 = String::new();
    let mut n = now_ms;
    while n > 0 {
        b36.insert(0, char::from_digit((n % 36) as u32, 36).unwrap());
        n /= 36;
    }
    assert_eq!(b36.len(), 8, "8 base-36 digits today");
    assert_eq!(inst_ms(&b36), Ok(now_ms));
    assert!(inst_ms("ZZ").is_err() && inst_ms("1").is_err());
    assert_eq!(ceil_bps(1000, "2.00000"), 4000);
    assert_eq!(ceil_bps(1001, "3.0"), 2670); // 8008 / 3 = 2669.33
    assert_eq!(ceil_bps(3, "8"), 3);
    let mv = parse_multivariant(
        "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\",URI=\"audio.m3u8\"\n\
         #EXT-X-STREAM-INF:BANDWIDTH=900,AVERAGE-BANDWIDTH=500,CODECS=\"avc1.64001f,mp4a.40.2\",AUDIO=\"a\"\nvideo.m3u8\n",
    )
    .unwrap();
    assert_eq!(mv.bandwidth, 900);
    assert_eq!(mv.average_bandwidth, Some(500));
    assert_eq!(mv.codecs.as_deref(), Some("avc1.64001f,mp4a.40.2"));
    assert_eq!(mv.media_uris, ["audio.m3u8"]);
    // A media segment (tfdt = 2^33 + 5) and an init segment (timescale
    // 90 kHz), encoded by mp4-atom.
    use mp4_atom::Encode;
    let moof = mp4_atom::Moof {
        mfhd: mp4_atom::Mfhd { sequence_number: 1 },
        traf: vec![mp4_atom::Traf {
            tfhd: mp4_atom::Tfhd {
                track_id: 1,
                default_base_is_moof: true,
                ..Default::default()
            },
            tfdt: Some(mp4_atom::Tfdt {
                base_media_decode_time: (1 << 33) + 5,
            }),
            trun: vec![mp4_atom::Trun::default()],
            ..Default::default()
        }],
    };
    let mut seg = Vec::new();
    moof.encode(&mut seg).unwrap();
    mp4_atom::Mdat { data: vec![1, 2] }
        .encode(&mut seg)
        .unwrap();
    assert_eq!(first_tfdt(&seg), Ok((1 << 33) + 5));
    assert!(first_tfdt(&seg[..seg.len() - 1]).is_err(), "truncated");
    let mut trak = mp4_atom::Trak::default();
    trak.tkhd.track_id = 1;
    trak.mdia.mdhd.timescale = 90_000;
    trak.mdia.mdhd.language = "und".into();
    let moov = mp4_atom::Moov {
        trak: vec![trak],
        ..Default::default()
    };
    let mut init = Vec::new();
    mp4_atom::Ftyp {
        major_brand: b"iso6".into(),
        minor_version: 0,
        compatible_brands: vec![b"iso6".into(), b"cmfc".into()],
    }
    .encode(&mut init)
    .unwrap();
    moov.encode(&mut init).unwrap();
    assert_eq!(init_timescale(&init), Ok(90_000));
    assert_eq!(
        summarize_states(&[
            (0.0, "live".into()),
            (0.5, "live".into()),
            (1.0, "reconnecting".into())
        ]),
        "live@0.00..0.50, reconnecting@1.00..1.00"
    );
}
