//! Checklist §8 case 40 (HLS-LIVE-04): a segment that left the playlist stays
//! fetchable until first appearance + its duration + the playlist's duration,
//! and is gone within two target durations after that.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{assets, hls, Ffmpeg, Weir};

/// `(uri, EXTINF seconds)` of each segment, and TARGETDURATION, read with
/// m3u8-rs (`common::hls`).
fn parse(text: &str) -> (Vec<(String, f64)>, u64) {
    let pl = hls::parse_media(text).unwrap_or_else(|e| panic!("video.m3u8: {e}\n{text}"));
    let segs = pl
        .segments
        .into_iter()
        .map(|s| (s.uri, s.duration))
        .collect();
    (segs, pl.target.unwrap_or(0))
}

#[test]
fn case40_removed_segments_stay_fetchable_for_their_availability_duration() {
    let weir = Weir::start(&["--playlist-window", "3", "--segment-duration", "2"]);
    let asset = assets::small_av(30);
    let _ff = Ffmpeg::publish(&asset, &weir.rtmp_url("avail"), true, &[]);

    // uri → (first seen, duration); removal times.
    let mut first_seen: HashMap<String, (Instant, f64)> = HashMap::new();
    let mut removed: Vec<(String, Instant, f64)> = Vec::new();
    let mut listed: Vec<String> = Vec::new();
    let mut target = 0;
    let mut playlist_secs = 0.0f64;
    let deadline = Instant::now() + Duration::from_secs(25);
    while removed.len() < 3 && Instant::now() < deadline {
        let r = weir.http("/live/avail/video.m3u8");
        if r.status == 200 {
            let (segs, td) = parse(&r.text());
            target = td;
            let now = Instant::now();
            playlist_secs = playlist_secs.max(segs.iter().map(|s| s.1).sum());
            for (uri, d) in &segs {
                first_seen.entry(uri.clone()).or_insert((now, *d));
            }
            for old in &listed {
                if !segs.iter().any(|(u, _)| u == old) {
                    let (seen, d) = first_seen[old];
                    removed.push((old.clone(), seen, d));
                    // Just removed: still there (HLS-LIVE-04).
                    let g = weir.http(&format!("/live/avail/{old}"));
                    assert_eq!(g.status, 200, "{old} right after removal");
                }
            }
            listed = segs.into_iter().map(|s| s.0).collect();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        removed.len() >= 3,
        "only {} segments left the window",
        removed.len()
    );
    assert!(target >= 2);

    for (uri, seen, d) in &removed {
        let must_until = *seen + Duration::from_secs_f64(d + playlist_secs);
        let gone_by = must_until + Duration::from_secs(2 * target) + Duration::from_millis(700);
        let mut gone_at = None;
        while Instant::now() < gone_by + Duration::from_secs(2) {
            let status = weir.http(&format!("/live/avail/{uri}")).status;
            let now = Instant::now();
            if status == 404 {
                gone_at = Some(now);
                break;
            }
            assert_eq!(status, 200, "{uri}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let gone_at =
            gone_at.unwrap_or_else(|| panic!("{uri} still served long after its availability"));
        // Polling resolution and the playlist poll's lag: 0.5 s of slack.
        assert!(
            gone_at + Duration::from_millis(500) >= must_until,
            "{uri} removed {:?} before its availability ended",
            must_until - gone_at
        );
        assert!(
            gone_at <= gone_by,
            "{uri} served {:?} too long",
            gone_at - gone_by
        );
    }
}
