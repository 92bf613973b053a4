//! Low-latency HLS and DASH end to end (checklist §4.4 LLHLS-01…11,
//! DASH-LL-01, §8 cases 47–52), publishing a 1 s-GOP asset:
//! the real ffmpeg publishes, and the tests read parts, preload hints,
//! blocking reloads and delta updates over HTTP.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::collections::HashMap;

use common::hls::{self, Part};
use common::mpd::tracks;
use common::{assets, http_get, poll_until, Ffmpeg, Weir, LIVE_TIMEOUT};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The LL-HLS view of a media playlist.
#[derive(Debug, Default)]
struct Ll {
    version: u64,
    target: f64,
    media_sequence: u64,
    part_target: Option<f64>,
    part_hold_back: Option<f64>,
    can_skip_until: Option<f64>,
    skipped: Option<u64>,
    /// (uri, parts) of each complete segment.
    segments: Vec<(String, Vec<Part>)>,
    open_parts: Vec<Part>,
    hint: Option<String>,
    reports: Vec<(String, u64, Option<u64>)>,
    /// Segments with an EXT-X-PROGRAM-DATE-TIME, and whether the segment in
    /// progress (the open parts) has one.
    pdt_segments: usize,
    open_pdt: bool,
}

/// A media playlist read with m3u8-rs (`common::hls`: LL-HLS tags are
/// m3u8-rs unknown tags, their attributes read with `parse_attrs`).
fn parse(text: &str) -> Ll {
    let pl = hls::parse_media(text).unwrap_or_else(|e| panic!("media playlist: {e}\n{text}"));
    fn num<T: std::str::FromStr>(a: Option<&HashMap<String, String>>, k: &str) -> Option<T> {
        a?.get(k)?.parse().ok()
    }
    Ll {
        version: pl.version.unwrap_or(0),
        target: pl.target.unwrap_or(0) as f64,
        media_sequence: pl.media_sequence,
        part_target: num(pl.part_inf.as_ref(), "PART-TARGET"),
        part_hold_back: num(pl.server_control.as_ref(), "PART-HOLD-BACK"),
        can_skip_until: num(pl.server_control.as_ref(), "CAN-SKIP-UNTIL"),
        skipped: num(pl.skip.as_ref(), "SKIPPED-SEGMENTS"),
        hint: pl.part_hint(),
        reports: pl
            .rendition_reports
            .iter()
            .map(|r| {
                (
                    r.get("URI").cloned().unwrap_or_default(),
                    num(Some(r), "LAST-MSN").unwrap_or(0),
                    num(Some(r), "LAST-PART"),
                )
            })
            .collect(),
        pdt_segments: pl.segments.iter().filter(|s| s.pdt_ms.is_some()).count(),
        open_pdt: pl.open_pdt_ms.is_some(),
        segments: pl.segments.into_iter().map(|s| (s.uri, s.parts)).collect(),
        open_parts: pl.open_parts,
    }
}

/// `video/INSTANCE/part-12.3.m4s?x` → (12, 3).
fn part_numbers(uri: &str) -> (u64, u64) {
    let name = uri.split('?').next().unwrap().rsplit('/').next().unwrap();
    let (m, p) = name
        .strip_prefix("part-")
        .and_then(|n| n.strip_suffix(".m4s"))
        .and_then(|n| n.split_once('.'))
        .unwrap_or_else(|| panic!("not a part URI: {uri}"));
    (m.parse().unwrap(), p.parse().unwrap())
}

fn live(weir: &Weir, key: &str, min_segments: usize) -> String {
    poll_until(LIVE_TIMEOUT, || {
        let r = weir.http(&format!("/live/{key}/video.m3u8"));
        let t = r.text();
        (r.status == 200 && parse(&t).segments.len() >= min_segments).then_some(t)
    })
    .unwrap_or_else(|| {
        panic!(
            "no LL playlist with {min_segments} segments\n{}",
            weir.stderr()
        )
    })
}

#[test]
fn case47_playlist_shape_parts_hints_and_reports() {
    let weir = Weir::start(&["--low-latency", "true"]);
    let asset = assets::small_av_gop1s(30);
    let _ff = Ffmpeg::publish(&asset, &weir.rtmp_url("shape"), true, &[]);
    live(&weir, "shape", 3);
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut samples = 0;
    while Instant::now() < deadline {
        let text = weir.http("/live/shape/video.m3u8").text();
        let ll = parse(&text);
        let pt = ll.part_target.expect("EXT-X-PART-INF (LLHLS-01)");
        // Parts on a 0.5 s grid; PART-TARGET 10 % above it.
        assert_eq!(pt, 0.55);
        assert!(
            ll.part_hold_back.unwrap() >= 3.0 * pt - 1e-9,
            "PART-HOLD-BACK (LLHLS-03)"
        );
        assert!(
            ll.can_skip_until.unwrap() >= 6.0 * ll.target,
            "CAN-SKIP-UNTIL"
        );
        assert_eq!(
            (ll.pdt_segments, ll.open_pdt),
            (ll.segments.len(), !ll.open_parts.is_empty()),
            "PDT on every segment\n{text}"
        );
        // Parts only near the live edge (LLHLS-06).
        let with_parts = ll.segments.iter().filter(|(_, p)| !p.is_empty()).count();
        assert!(
            (1..=4).contains(&with_parts),
            "{with_parts} segments with parts\n{text}"
        );
        let mut all: Vec<&Part> = Vec::new();
        for (uri, parts) in &ll.segments {
            if parts.is_empty() {
                continue;
            }
            let msn: u64 = uri
                .rsplit('/')
                .next()
                .and_then(|n| n.strip_prefix("seg-"))
                .and_then(|n| n.strip_suffix(".m4s"))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not a segment URI: {uri}"));
            for (i, p) in parts.iter().enumerate() {
                assert_eq!(part_numbers(&p.uri), (msn, i as u64), "{text}");
                assert!(p.duration <= pt + 1e-6, "part over PART-TARGET (LLHLS-02)");
                if i + 1 < parts.len() {
                    assert!(
                        p.duration >= 0.85 * pt,
                        "{} is {} s (< 85 %)",
                        p.uri,
                        p.duration
                    );
                } else {
                    // The last part of a segment may be shorter, but the grid
                    // leaves no sliver (hls.js can skip one and stall).
                    assert!(p.duration >= 0.4 * pt, "{} is {} s", p.uri, p.duration);
                }
            }
            assert!(parts[0].independent, "first part of {uri} is INDEPENDENT");
            all.extend(parts);
        }
        // One preload hint: the part after the last listed one (LLHLS-04).
        let hint = ll.hint.clone().expect("EXT-X-PRELOAD-HINT");
        let (hm, hp) = part_numbers(&hint);
        let last_msn = ll.media_sequence + ll.segments.len() as u64;
        if let Some(last) = ll.open_parts.last() {
            let (m, p) = part_numbers(&last.uri);
            assert_eq!((hm, hp), (m, p + 1), "{text}");
        } else {
            assert_eq!((hm, hp), (last_msn, 0), "{text}");
        }
        // A report on the audio rendition (LLHLS-05), close to audio's state.
        let (uri, msn, _) = ll.reports.first().cloned().expect("EXT-X-RENDITION-REPORT");
        assert_eq!(uri, "audio.m3u8");
        let audio = parse(&weir.http("/live/shape/audio.m3u8").text());
        let audio_last = audio.media_sequence + audio.segments.len() as u64;
        // Audio parts follow the same grid: 23–24 AAC frames, and the last
        // part of a segment is no 1-frame sliver (LLHLS-01).
        for (uri, parts) in &audio.segments {
            for (i, p) in parts.iter().enumerate() {
                assert!(p.duration <= pt + 1e-6, "{} over PART-TARGET", p.uri);
                let floor = if i + 1 < parts.len() { 0.85 } else { 0.4 };
                assert!(
                    p.duration >= floor * pt,
                    "{uri}: {} is {} s",
                    p.uri,
                    p.duration
                );
            }
        }
        assert!(
            msn.abs_diff(audio_last) <= 1,
            "report {msn} vs audio {audio_last}"
        );
        samples += 1;
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(samples >= 10);
    // Parts are CMAF chunks, and a segment is exactly its parts (LLHLS-02).
    let ll = parse(&weir.http("/live/shape/video.m3u8").text());
    let (uri, parts) = ll
        .segments
        .iter()
        .rev()
        .find(|(_, p)| !p.is_empty())
        .expect("a segment with parts");
    let mut joined = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let body = weir.http(&format!("/live/shape/{}", p.uri)).body;
        let head = &body[4..8];
        assert_eq!(head, if i == 0 { b"styp" } else { b"moof" }, "{}", p.uri);
        joined.extend_from_slice(&body);
    }
    let whole = weir.http(&format!("/live/shape/{uri}")).body;
    assert_eq!(joined, whole, "{uri} is not the concatenation of its parts");
}

#[test]
fn case48_blocking_reload_is_answered_when_the_part_is_made() {
    let weir = Weir::start(&["--low-latency", "true"]);
    let asset = assets::small_av_gop1s(30);
    let _ff = Ffmpeg::publish(&asset, &weir.rtmp_url("block"), true, &[]);
    live(&weir, "block", 2);
    let mut delays = Vec::new();
    for _ in 0..12 {
        let ll = parse(&weir.http("/live/block/video.m3u8").text());
        let hint = ll.hint.expect("hint");
        let (m, p) = part_numbers(&hint);
        let addr = weir.http_addr;
        let (tx, rx) = mpsc::channel();
        let path = format!("/live/block/video.m3u8?_HLS_msn={m}&_HLS_part={p}");
        std::thread::spawn(move || {
            let r = http_get(addr, &path).unwrap();
            tx.send((Instant::now(), r)).unwrap();
        });
        // The moment the part is fetchable, on another connection.
        let part_path = format!("/live/block/{hint}");
        let made = poll_until(Duration::from_secs(5), || {
            let r = http_get(addr, &part_path).ok()?;
            (r.status == 200).then(Instant::now)
        })
        .expect("the hinted part is made");
        let (answered, r) = rx
            .recv_timeout(Duration::from_secs(6))
            .expect("blocked reply");
        assert_eq!(r.status, 200);
        let listed = parse(&r.text());
        assert!(
            listed
                .open_parts
                .iter()
                .chain(listed.segments.iter().flat_map(|s| &s.1))
                .any(|x| x.uri == hint),
            "the answer lists {hint}:\n{}",
            r.text()
        );
        // Negative when the reply beat our poll of the part.
        let d = answered.saturating_duration_since(made).as_secs_f64() * 1000.0;
        delays.push(d);
    }
    delays.sort_by(f64::total_cmp);
    let median = delays[delays.len() / 2];
    let max = delays[delays.len() - 1];
    eprintln!("REPORT blocking reload after part made: median {median:.1} ms, max {max:.1} ms ({delays:?})");
    assert!(median <= 50.0, "median {median} ms");
    assert!(max <= 150.0, "max {max} ms");
}

#[test]
fn case49_directive_errors_and_503() {
    let weir = Weir::start(&["--low-latency", "true"]);
    let asset = assets::small_av_gop1s(30);
    let mut ff = Ffmpeg::publish(&asset, &weir.rtmp_url("err"), true, &[]);
    let text = live(&weir, "err", 2);
    let ll = parse(&text);
    let last = ll.media_sequence + ll.segments.len() as u64;
    for (q, why) in [
        ("_HLS_part=1", "part without msn"),
        ("_HLS_msn=abc", "not a number"),
        ("_HLS_msn=1&_HLS_part=-1", "negative part"),
        ("_HLS_skip=maybe", "bad skip"),
        (&*format!("_HLS_msn={}", last + 5), "too far ahead"),
    ] {
        let r = weir.http(&format!("/live/err/video.m3u8?{q}"));
        assert_eq!(r.status, 400, "{why}: {q}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{why}");
    }
    // A part that will never come: 503 after three target durations.
    ff.kill9();
    let ll = parse(&weir.http("/live/err/video.m3u8").text());
    let (m, p) = part_numbers(ll.hint.as_deref().unwrap());
    let started = Instant::now();
    let r = weir.http(&format!(
        "/live/err/video.m3u8?_HLS_msn={m}&_HLS_part={}",
        p + 1
    ));
    let held = started.elapsed().as_secs_f64();
    assert_eq!(r.status, 503, "{}", r.text());
    let limit = 3.0 * ll.target;
    assert!(
        (limit - 0.2..=limit + 1.5).contains(&held),
        "503 after {held} s"
    );
}

#[test]
fn case50_a_preload_hinted_part_is_held_then_sent_whole() {
    let weir = Weir::start(&["--low-latency", "true"]);
    let asset = assets::small_av_gop1s(30);
    let _ff = Ffmpeg::publish(&asset, &weir.rtmp_url("hint"), true, &[]);
    live(&weir, "hint", 2);
    let mut holds = Vec::new();
    for _ in 0..5 {
        let hint = parse(&weir.http("/live/hint/video.m3u8").text())
            .hint
            .unwrap();
        let started = Instant::now();
        let held = weir.http(&format!("/live/hint/{hint}"));
        holds.push(started.elapsed().as_millis());
        assert_eq!(held.status, 200, "{hint}");
        assert_eq!(
            held.header("content-length")
                .map(|l| l.parse::<usize>().unwrap()),
            Some(held.body.len())
        );
        let again = weir.http(&format!("/live/hint/{hint}"));
        assert_eq!(held.body, again.body, "{hint} changed");
        // Listed afterwards as a part.
        let text = weir.http("/live/hint/video.m3u8").text();
        assert!(text.contains(&format!("URI=\"{hint}\"")), "{text}");
    }
    eprintln!("REPORT hinted part held for {holds:?} ms");
    assert!(holds.iter().all(|h| *h < 1_000), "{holds:?}");
}

#[test]
fn case51_delta_updates_skip_old_segments() {
    let weir = Weir::start(&["--low-latency", "true", "--playlist-window", "12"]);
    let asset = assets::small_av_gop1s(60);
    let _ff = Ffmpeg::publish(&asset, &weir.rtmp_url("delta"), true, &[]);
    // The window must span more than CAN-SKIP-UNTIL (12 s).
    live(&weir, "delta", 8);
    let (full, delta) = poll_until(Duration::from_secs(30), || {
        let d = weir.http("/live/delta/video.m3u8?_HLS_skip=YES").text();
        let f = weir.http("/live/delta/video.m3u8").text();
        let (pd, pf) = (parse(&d), parse(&f));
        (pd.skipped.is_some()
            && pd.media_sequence == pf.media_sequence
            && pd.segments.len() + pd.skipped.unwrap() as usize == pf.segments.len())
        .then_some((pf, pd))
    })
    .expect("a delta update");
    assert_eq!(delta.version, 9, "EXT-X-SKIP needs version 9 (LLHLS-09)");
    let n = delta.skipped.unwrap() as usize;
    assert!(n > 0);
    let full_uris: Vec<&str> = full.segments.iter().map(|s| s.0.as_str()).collect();
    let delta_uris: Vec<&str> = delta.segments.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(&full_uris[n..], &delta_uris[..]);
    // With the default window nothing is skippable: the full playlist.
    let weir = Weir::start(&["--low-latency", "true"]);
    let _ff = Ffmpeg::publish(&asset, &weir.rtmp_url("nodelta"), true, &[]);
    live(&weir, "nodelta", 3);
    let t = weir.http("/live/nodelta/video.m3u8?_HLS_skip=YES").text();
    assert!(!t.contains("EXT-X-SKIP"), "{t}");
}

#[test]
fn case52_tokens_pass_through_blocking_reloads() {
    const SECRET: &str = "a-play-secret-of-32-characters!!";
    let weir = Weir::start(&["--low-latency", "true", "--play-secret", SECRET]);
    let asset = assets::small_av_gop1s(30);
    let _ff = Ffmpeg::publish(&asset, &weir.rtmp_url("tok"), true, &[]);
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("live/tok/{exp}").as_bytes());
    let token = format!("{exp}-{}", hex::encode(mac.finalize().into_bytes()));
    let text = poll_until(LIVE_TIMEOUT, || {
        let r = weir.http(&format!("/live/tok/video.m3u8?token={token}"));
        (r.status == 200 && parse(&r.text()).segments.len() >= 2).then(|| r.text())
    })
    .expect("a tokenized playlist");
    let (m, p) = part_numbers(&parse(&text).hint.unwrap());
    let r = weir.http(&format!(
        "/live/tok/video.m3u8?token={token}&_HLS_msn={m}&_HLS_part={p}"
    ));
    assert_eq!(r.status, 200);
    let body = r.text();
    assert!(!body.contains("_HLS_"), "{body}");
    let ll = parse(&body);
    for part in ll
        .open_parts
        .iter()
        .chain(ll.segments.iter().flat_map(|s| &s.1))
    {
        assert!(
            part.uri.ends_with(&format!("?token={token}")),
            "{}",
            part.uri
        );
    }
    assert!(ll.hint.unwrap().ends_with(&format!("?token={token}")));
    assert!(ll
        .segments
        .iter()
        .all(|s| s.0.ends_with(&format!("?token={token}"))));
}

#[test]
fn low_latency_off_lists_no_parts_and_never_blocks() {
    let weir = Weir::start(&["--low-latency", "false"]);
    let asset = assets::small_av_gop1s(30);
    let _ff = Ffmpeg::publish(&asset, &weir.rtmp_url("plain"), true, &[]);
    let text = live(&weir, "plain", 2);
    for tag in ["EXT-X-PART", "EXT-X-PRELOAD-HINT", "EXT-X-SERVER-CONTROL"] {
        assert!(
            !text.contains(tag),
            "{tag} with --low-latency false\n{text}"
        );
    }
    let started = Instant::now();
    let r = weir.http("/live/plain/video.m3u8?_HLS_msn=99");
    assert_eq!(r.status, 200);
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// One HTTP/1.1 GET whose body is read as it arrives: the status line and
/// headers, the de-chunked body, and when (since the request) the first and
/// the last body byte came.
struct Timed {
    status: u16,
    head: String,
    body: Vec<u8>,
    first_byte: Duration,
    last_byte: Duration,
}

fn timed_get(addr: std::net::SocketAddr, path: &str) -> Timed {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let started = Instant::now();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let mut head_end = None;
    let (mut first_byte, mut last_byte) = (None, Duration::ZERO);
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if head_end.is_none() {
            head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
        }
        if let Some(h) = head_end {
            if raw.len() > h {
                first_byte.get_or_insert(started.elapsed());
                last_byte = started.elapsed();
            }
        }
    }
    let h = head_end.expect("HTTP head");
    let head = String::from_utf8_lossy(&raw[..h]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let body = if head.contains("transfer-encoding: chunked") {
        common::dechunk(&raw[h..]).expect("chunked body")
    } else {
        raw[h..].to_vec()
    };
    Timed {
        status,
        head,
        body,
        first_byte: first_byte.unwrap_or_default(),
        last_byte,
    }
}

/// DASH-LL-01 (and case 55 in LL mode), the real ffmpeg publishing: the MPD
/// carries the LL signalling, lists the segment in progress, and a request
/// for it is answered at once with the chunks made so far, then the rest as
/// they are made (chunked transfer), ending with exactly the bytes of the
/// complete segment; the segment after it stays 404; ffprobe reads the LL MPD.
#[test]
fn dash_ll_01_segment_in_progress_is_sent_chunk_by_chunk() {
    let weir = Weir::start(&["--low-latency", "true"]);
    let asset = assets::small_av_gop1s(40);
    let _ff = Ffmpeg::publish(&asset, &weir.rtmp_url("lldash"), true, &[]);
    live(&weir, "lldash", 3);
    let mpd = poll_until(LIVE_TIMEOUT, || {
        let r = weir.http("/live/lldash/index.mpd");
        (r.status == 200).then(|| r.text())
    })
    .expect("MPD");
    for needle in [
        r#"minimumUpdatePeriod="PT0.5S""#,
        r#"availabilityTimeOffset="1.5""#,
        r#"availabilityTimeComplete="false""#,
        r#"<ServiceDescription id="0">"#,
        r#"<Latency referenceId="0" target="1500""#,
        r#"<PlaybackRate min="0.96" max="1.04"/>"#,
        r#"<ProducerReferenceTime id="0" type="encoder" wallClockTime=""#,
    ] {
        assert!(mpd.contains(needle), "{needle} missing\n{mpd}");
    }
    dash_mpd_core::parse(&mpd).unwrap_or_else(|e| panic!("{e}\n{mpd}"));

    // The newest video S is the segment in progress once its first chunk
    // is made (the LL-HLS playlist says which one is open).
    let mut checked = 0;
    for _ in 0..3 {
        let open = poll_until(Duration::from_secs(5), || {
            let ll = parse(&weir.http("/live/lldash/video.m3u8").text());
            let open = ll.media_sequence + ll.segments.len() as u64;
            // Early in the segment: one or two of its four parts made.
            (!ll.open_parts.is_empty() && ll.open_parts.len() <= 2).then_some(open)
        })
        .expect("a segment in progress");
        let mpd = weir.http("/live/lldash/index.mpd").text();
        let listed = mpd_video_numbers(&mpd);
        assert!(
            listed.contains(&open),
            "segment {open} in progress not in the MPD\n{mpd}"
        );
        assert!(!listed.contains(&(open + 1)));
        let template = mpd_video_template(&mpd);
        let seg = |n: u64| {
            format!(
                "/live/lldash/{}",
                template.replace("$Number$", &n.to_string())
            )
        };
        let path = seg(open);
        let next = weir.http(&seg(open + 2));
        assert_eq!(
            next.status, 404,
            "a later segment is not served early (case 55)"
        );
        let t = timed_get(weir.http_addr, &path);
        assert_eq!(t.status, 200, "{}", t.head);
        assert!(t.head.contains("transfer-encoding: chunked"), "{}", t.head);
        assert!(t.head.contains("content-type: video/mp4"), "{}", t.head);
        // The chunks made so far at once; the rest over the segment's remaining
        // second or so, as each is made.
        assert!(
            t.first_byte < Duration::from_millis(200),
            "first byte after {:?}",
            t.first_byte
        );
        assert!(
            t.last_byte - t.first_byte > Duration::from_millis(400),
            "whole segment at once ({:?} → {:?}): not chunk by chunk",
            t.first_byte,
            t.last_byte
        );
        let whole = weir.http(&path);
        assert_eq!(whole.status, 200);
        assert!(whole.header("content-length").is_some());
        assert_eq!(t.body, whole.body, "chunked body = the complete segment");
        assert_eq!(&t.body[4..8], b"styp");
        checked += 1;
    }
    assert_eq!(checked, 3);

    // A reader of the LL MPD that knows nothing of LL (ffprobe) still gets
    // both tracks.
    let out = common::ffprobe(&[
        "-v",
        "error",
        "-show_entries",
        "stream=codec_name",
        "-of",
        "csv=p=0",
        &weir.http_url("/live/lldash/index.mpd"),
    ]);
    assert!(out.contains("h264") && out.contains("aac"), "{out}");
}

/// The video `SegmentTemplate@media` of the newest Period.
fn mpd_video_template(mpd: &str) -> String {
    let parsed = dash_mpd_core::parse(mpd).unwrap();
    tracks(&parsed)
        .into_iter()
        .filter(|t| t.kind == "video" && !t.media.is_empty())
        .map(|t| t.media)
        .next_back()
        .unwrap_or_else(|| panic!("no video SegmentTemplate@media\n{mpd}"))
}

/// `$Number$`s of the video Representation's timeline.
fn mpd_video_numbers(mpd: &str) -> Vec<u64> {
    let parsed = dash_mpd_core::parse(mpd).unwrap();
    tracks(&parsed)
        .iter()
        .filter(|t| t.kind == "video")
        .flat_map(|t| t.numbers())
        .collect()
}

/// The LL-HLS view on a fixed playlist (no server): playlist-level LL tags,
/// parts of listed segments, and the tail after the last URI (open parts,
/// preload hint, rendition report), which m3u8-rs alone would drop.
#[test]
fn ll_view_self_test() {
    let text = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
        #EXT-X-PART-INF:PART-TARGET=0.55\n\
        #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.65,CAN-SKIP-UNTIL=12.0\n\
        #EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n\
        #EXT-X-MAP:URI=\"video/i/init-v1.mp4\"\n\
        #EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z\n#EXTINF:2.00000,\nvideo/i/seg-7.m4s\n\
        #EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000Z\n\
        #EXT-X-PART:DURATION=0.50000,URI=\"video/i/part-8.0.m4s\",INDEPENDENT=YES\n\
        #EXT-X-PART:DURATION=0.50000,URI=\"video/i/part-8.1.m4s\"\n\
        #EXTINF:1.00000,\nvideo/i/seg-8.m4s\n\
        #EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:03.000Z\n\
        #EXT-X-PART:DURATION=0.50000,URI=\"video/i/part-9.0.m4s\",INDEPENDENT=YES\n\
        #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"video/i/part-9.1.m4s\"\n\
        #EXT-X-RENDITION-REPORT:URI=\"audio.m3u8\",LAST-MSN=8,LAST-PART=2\n";
    let ll = parse(text);
    assert_eq!((ll.version, ll.target, ll.media_sequence), (9, 2.0, 4));
    assert_eq!(ll.part_target, Some(0.55));
    assert_eq!(
        (ll.part_hold_back, ll.can_skip_until),
        (Some(1.65), Some(12.0))
    );
    assert_eq!(ll.skipped, Some(3));
    assert_eq!(ll.segments.len(), 2);
    assert!(ll.segments[0].1.is_empty());
    assert_eq!(
        ll.segments[1].1,
        [
            Part {
                uri: "video/i/part-8.0.m4s".into(),
                duration: 0.5,
                independent: true
            },
            Part {
                uri: "video/i/part-8.1.m4s".into(),
                duration: 0.5,
                independent: false
            }
        ]
    );
    assert_eq!(ll.open_parts.len(), 1);
    assert_eq!(ll.hint.as_deref(), Some("video/i/part-9.1.m4s"));
    assert_eq!(ll.reports, [("audio.m3u8".to_owned(), 8, Some(2))]);
    assert_eq!((ll.pdt_segments, ll.open_pdt), (2, true));
    let pl = hls::parse_media(text).unwrap();
    assert_eq!(pl.segments[0].msn, 7, "EXT-X-SKIP counts in the MSN");
    assert_eq!(part_numbers(&pl.part_uris()[2]), (9, 0));
    // Tags the sentinel must not swallow: segment tags with no URI after.
    assert!(hls::parse_media(&format!("{text}#EXTINF:2.0,\n")).is_err());
    assert!(hls::parse_media(&format!("{text}#EXT-X-DISCONTINUITY\n")).is_err());
}
