//! End-to-end ingest tests: the real `weir` binary, real ffmpeg publishers,
//! verified through `GET /api/streams`.
//!
//! Case numbers refer to `shared/research/spec-checklist.md` §8. Every test
//! starts its own weir on ephemeral loopback ports and publishes pre-encoded
//! assets (`common::assets`) with `-c copy`.

mod common;

use std::time::{Duration, Instant};

use common::{assets, ffprobe_count_keyframes, ffprobe_count_packets, Ffmpeg, Weir};
use serde_json::Value;

const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

fn f64_of(v: &Value) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"))
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected an unsigned integer, got {v}"))
}

/// Publishes `asset` as fast as possible (no `-re`), waits for ffmpeg to exit
/// 0 and for the stream to be listed as `ended`, and returns that entry.
fn publish_fast_and_wait_ended(
    weir: &Weir,
    key: &str,
    asset: &std::path::Path,
    extra_out: &[&str],
) -> Value {
    let mut ff = Ffmpeg::publish(asset, &weir.rtmp_url(key), false, extra_out);
    let status = ff
        .wait_timeout(EXIT_TIMEOUT)
        .unwrap_or_else(|| panic!("ffmpeg publish of {} did not finish", asset.display()));
    assert!(
        status.success(),
        "ffmpeg publish failed: {status}\n{}",
        ff.stderr()
    );
    weir.wait_ended(key, Duration::from_secs(10))
}

/// Checks the fields every listed stream must have.
fn assert_common_fields(s: &Value, key: &str) {
    assert_eq!(s["app"], "live", "{s}");
    assert_eq!(s["key"], key, "{s}");
    let publisher = s["publisher"].as_str().unwrap_or_default();
    assert!(
        publisher.starts_with("127.0.0.1:"),
        "publisher should be the peer address: {s}"
    );
    let started = s["started_at"].as_str().unwrap_or_default();
    assert!(
        started.contains('T') && started.ends_with('Z'),
        "started_at should be RFC 3339 UTC: {s}"
    );
    assert!(s["duration_ms"].is_u64(), "duration_ms: {s}");
    assert!(u64_of(&s["bytes_in"]) > 0, "bytes_in: {s}");
    assert!(s["bitrate_bps"].is_number(), "bitrate_bps: {s}");
    assert!(s.get("last_error").is_some(), "last_error missing: {s}");
}

/// Video and audio frame counts equal ffprobe's packet counts of the asset.
fn assert_frames_match_asset(s: &Value, asset: &std::path::Path, video: bool, audio: bool) {
    if video {
        let want = ffprobe_count_packets(asset, "v:0");
        assert_eq!(
            u64_of(&s["video"]["frames"]),
            want,
            "video frames vs ffprobe -count_packets: {s}"
        );
        let keys = ffprobe_count_keyframes(asset, "v:0");
        assert_eq!(
            u64_of(&s["video"]["keyframes"]),
            keys,
            "video keyframes vs ffprobe: {s}"
        );
    }
    if audio {
        let want = ffprobe_count_packets(asset, "a:0");
        assert_eq!(
            u64_of(&s["audio"]["frames"]),
            want,
            "audio frames vs ffprobe -count_packets: {s}"
        );
    }
}

fn assert_frame_rate(s: &Value, want: f64) {
    let fr = f64_of(&s["video"]["frame_rate"]);
    assert!(
        (fr - want).abs() <= 0.5,
        "frame_rate {fr} not within ±0.5 of {want}: {s}"
    );
}

// ---------------------------------------------------------------------------
// (a) §8 case 22 (common publisher → avc1.64001f + mp4a.40.2), case 35
// (B-frames), case 5 (ffmpeg's digest handshake): every frame is counted.
// ---------------------------------------------------------------------------
#[test]
fn high_720p30_bframes_aac48k_stereo_all_frames_counted() {
    let asset = assets::h264_high_720p30_aac48k();
    let weir = Weir::start(&["--grace-period", "30"]);
    let s = publish_fast_and_wait_ended(&weir, "cam1", &asset, &[]);
    assert_common_fields(&s, "cam1");

    let v = &s["video"];
    assert_eq!(v["codec"], "avc1.64001f", "{s}");
    assert_eq!(v["width"], 1280, "{s}");
    assert_eq!(v["height"], 720, "{s}");
    assert_frame_rate(&s, 30.0);
    assert!(u64_of(&v["bytes"]) > 0, "{s}");

    let a = &s["audio"];
    assert_eq!(a["codec"], "mp4a.40.2", "{s}");
    assert_eq!(a["sample_rate"], 48000, "{s}");
    assert_eq!(a["channels"], 2, "{s}");
    assert!(u64_of(&a["bytes"]) > 0, "{s}");

    assert_frames_match_asset(&s, &asset, true, true);
    assert_eq!(u64_of(&v["keyframes"]), 5, "10 s at a 2 s GOP: {s}");

    // Everything in the file arrived: RTMP overhead only adds bytes, and the
    // FLV tag headers the file has and RTMP does not are < 5 %.
    let file_len = std::fs::metadata(&asset).unwrap().len();
    assert!(
        u64_of(&s["bytes_in"]) * 100 >= file_len * 95,
        "bytes_in {} vs asset size {file_len}: {s}",
        s["bytes_in"]
    );
    assert!(s["last_error"].is_null(), "clean publish: {s}");
}

// (b) §8 case 23: Baseline 3.0 from x264 → avc1.42c01e.
#[test]
fn baseline_profile_codec_string() {
    let asset = assets::h264_baseline_360p_aac48k();
    let weir = Weir::start(&[]);
    let s = publish_fast_and_wait_ended(&weir, "base", &asset, &[]);
    assert_common_fields(&s, "base");
    assert_eq!(s["video"]["codec"], "avc1.42c01e", "{s}");
    assert_eq!(s["video"]["width"], 640, "{s}");
    assert_eq!(s["video"]["height"], 360, "{s}");
    assert_frame_rate(&s, 30.0);
    assert_eq!(s["audio"]["codec"], "mp4a.40.2", "{s}");
    assert_frames_match_asset(&s, &asset, true, true);
}

// (c) §8 case 24: 44.1 kHz mono comes from the AudioSpecificConfig (the FLV
// SoundRate/SoundType bits must be ignored).
#[test]
fn aac_44100_mono_from_asc() {
    let asset = assets::small_av_aac44k_mono();
    let weir = Weir::start(&[]);
    let s = publish_fast_and_wait_ended(&weir, "mono", &asset, &[]);
    assert_common_fields(&s, "mono");
    let a = &s["audio"];
    assert_eq!(a["codec"], "mp4a.40.2", "{s}");
    assert_eq!(a["sample_rate"], 44100, "{s}");
    assert_eq!(a["channels"], 1, "{s}");
    assert_eq!(s["video"]["width"], 320, "{s}");
    assert_eq!(s["video"]["height"], 240, "{s}");
    assert_frames_match_asset(&s, &asset, true, true);
}

// (d) §8 case 42 / pitfall 22: audio-only publish.
#[test]
fn audio_only_publish() {
    let asset = assets::audio_only();
    let weir = Weir::start(&[]);
    let s = publish_fast_and_wait_ended(&weir, "radio", &asset, &[]);
    assert_common_fields(&s, "radio");
    assert!(s["video"].is_null(), "no video track expected: {s}");
    assert_eq!(s["audio"]["codec"], "mp4a.40.2", "{s}");
    assert_eq!(s["audio"]["sample_rate"], 48000, "{s}");
    assert_eq!(s["audio"]["channels"], 2, "{s}");
    assert_frames_match_asset(&s, &asset, false, true);
}

// (e) §8 case 42 / pitfall 22: video-only publish.
#[test]
fn video_only_publish() {
    let asset = assets::video_only();
    let weir = Weir::start(&[]);
    let s = publish_fast_and_wait_ended(&weir, "silent", &asset, &[]);
    assert_common_fields(&s, "silent");
    assert!(s["audio"].is_null(), "no audio track expected: {s}");
    assert_eq!(s["video"]["width"], 320, "{s}");
    assert_eq!(s["video"]["height"], 240, "{s}");
    assert!(
        s["video"]["codec"]
            .as_str()
            .is_some_and(|c| c.starts_with("avc1.")),
        "{s}"
    );
    assert_frame_rate(&s, 30.0);
    assert_frames_match_asset(&s, &asset, true, false);
}

// (f) §8 case 20 / pitfall 14: no onMetaData at all.
#[test]
fn no_metadata_publish() {
    let asset = assets::small_av(10);
    let weir = Weir::start(&[]);
    let s = publish_fast_and_wait_ended(&weir, "nometa", &asset, &["-flvflags", "no_metadata"]);
    assert_common_fields(&s, "nometa");
    assert_eq!(s["video"]["width"], 320, "{s}");
    assert_eq!(s["video"]["height"], 240, "{s}");
    assert_eq!(s["audio"]["sample_rate"], 48000, "{s}");
    assert_frame_rate(&s, 30.0);
    assert_frames_match_asset(&s, &asset, true, true);
}

// (g) §8 case 11 / pitfall 31: timestamps cross the 24-bit boundary
// (0xFFFFFF ms = 16 777.215 s) about 7 s into a 20 s real-time publish.
#[test]
fn extended_timestamps_cross_24bit_boundary() {
    let asset = assets::small_av(20);
    let weir = Weir::start(&[]);
    let mut ff = Ffmpeg::publish(
        &asset,
        &weir.rtmp_url("ts24"),
        true,
        &["-output_ts_offset", "16770"],
    );
    let first = weir.wait_live("ts24");
    let publisher = first["publisher"].clone();

    // Sample every second until ffmpeg exits: the stream stays live with the
    // same publisher, frames increase and duration_ms never goes backwards.
    let mut samples: Vec<(Instant, Value)> = vec![(Instant::now(), first)];
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(st) = ff.wait_timeout(Duration::from_secs(1)) {
            break st;
        }
        assert!(Instant::now() < deadline, "ffmpeg did not finish in time");
        let s = weir
            .stream("ts24")
            .expect("stream vanished while publishing");
        assert_eq!(s["state"], "live", "disconnected mid-publish: {s}");
        assert_eq!(s["publisher"], publisher, "publisher changed: {s}");
        let (_, prev) = samples.last().unwrap();
        assert!(
            u64_of(&s["duration_ms"]) >= u64_of(&prev["duration_ms"]),
            "duration_ms went backwards: {prev} -> {s}"
        );
        assert!(
            common::total_frames(&s) >= common::total_frames(prev),
            "frame counts went backwards: {prev} -> {s}"
        );
        samples.push((Instant::now(), s));
    };
    assert!(
        status.success(),
        "ffmpeg should exit 0 after the whole asset: {status}\n{}",
        ff.stderr()
    );
    // At least 15 one-second samples; frames grew over every 3 s window,
    // including those after the boundary (~7.2 s in).
    assert!(samples.len() >= 15, "only {} samples", samples.len());
    for w in samples.windows(4) {
        let (a, b) = (&w[0].1, &w[3].1);
        assert!(
            u64_of(&b["video"]["frames"]) > u64_of(&a["video"]["frames"]),
            "video frames stalled between samples: {a} -> {b}"
        );
    }
    // Nothing was lost across the boundary.
    let s = weir.wait_ended("ts24", Duration::from_secs(10));
    assert_frames_match_asset(&s, &asset, true, true);
    assert_frame_rate(&s, 30.0);
}

// (h) §8 case 15: a second publisher of the same key is refused
// (NetStream.Publish.BadName, connection closed); the first goes on.
#[test]
fn duplicate_key_is_rejected_first_publisher_continues() {
    let asset = assets::small_av(10);
    let weir = Weir::start(&[]);
    let url = weir.rtmp_url("dup");
    let mut first = Ffmpeg::publish(&asset, &url, true, &[]);
    let before = weir.wait_live("dup");
    let publisher = before["publisher"].clone();

    let started = Instant::now();
    let mut second = Ffmpeg::publish(&asset, &url, true, &[]);
    // The asset plays for 10 s in real time: an exit well before that means
    // the server refused the publish.
    let status = second
        .wait_timeout(Duration::from_secs(7))
        .unwrap_or_else(|| {
            panic!(
                "second publisher of the same key still running after {:?}",
                started.elapsed()
            )
        });
    assert!(
        !status.success(),
        "second publisher should fail, exited {status} after {:?}\n{}",
        started.elapsed(),
        second.stderr()
    );

    // The first one is unaffected: still live, same publisher, frames grow.
    let now = weir.stream("dup").expect("first stream vanished");
    assert_eq!(now["state"], "live", "{now}");
    assert_eq!(now["publisher"], publisher, "publisher replaced: {now}");
    let frames = common::total_frames(&now);
    weir.wait_stream(
        "dup",
        Duration::from_secs(5),
        "frames to keep growing",
        |s| s["state"] == "live" && s["publisher"] == publisher && common::total_frames(s) > frames,
    );
    assert!(
        first.try_status().is_none(),
        "first publisher died: {:?}\n{}",
        first.try_status(),
        first.stderr()
    );
}

// (i) §8 case 16 / pitfall 13: the query string is not part of the key and
// is not exposed.
#[test]
fn query_string_is_not_part_of_the_key() {
    let asset = assets::small_av(10);
    let weir = Weir::start(&[]);
    let _ff = Ffmpeg::publish(&asset, &weir.rtmp_url("cam1?token=abc"), true, &[]);
    let s = weir.wait_live("cam1");
    assert_common_fields(&s, "cam1");
    let body = weir.http("/api/streams").text();
    assert!(
        !body.contains("token") && !body.contains("abc"),
        "the query must not be exposed: {body}"
    );
    let all = weir.api_streams();
    assert_eq!(all.len(), 1, "exactly one stream expected: {all:?}");
}

// (j) §8 case 18: kill -9 of the publisher → "reconnecting" promptly
// (the stream waits for its publisher), "ended" when the grace period runs
// out, then gone when the ended retention has passed too.
#[test]
fn killed_publisher_waits_then_ends_after_grace_then_disappears() {
    let asset = assets::small_av(10);
    let weir = Weir::start(&["--grace-period", "2", "--ended-retention", "1"]);
    let mut ff = Ffmpeg::publish(&asset, &weir.rtmp_url("k9"), true, &[]);
    weir.wait_live("k9");
    let killed = Instant::now();
    ff.kill9();

    weir.wait_stream("k9", Duration::from_secs(2), "state reconnecting", |s| {
        s["state"] == "reconnecting"
    });
    let waiting_after = killed.elapsed();
    weir.wait_ended("k9", Duration::from_secs(6));
    let ended_after = killed.elapsed();

    let gone = common::poll_until(Duration::from_secs(6), || {
        weir.stream("k9").is_none().then(Instant::now)
    })
    .unwrap_or_else(|| {
        panic!(
            "stream still listed 6 s after it ended (retention 1 s): {:?}",
            weir.stream("k9")
        )
    });
    let gone_after = gone.duration_since(killed);
    eprintln!("reconnecting after {waiting_after:?}, ended after {ended_after:?}, gone after {gone_after:?}");
    assert!(
        ended_after >= Duration::from_millis(1500),
        "stream ended before the grace period: {ended_after:?}"
    );
    assert!(
        ended_after <= Duration::from_millis(4500),
        "stream ended too late (grace 2 s): {ended_after:?}"
    );
    assert!(
        gone_after <= Duration::from_millis(6500),
        "stream removed too late (grace 2 s + retention 1 s): {gone_after:?}"
    );
}

// The healthz endpoint and an empty listing on a fresh server.
#[test]
fn fresh_server_health_and_empty_listing() {
    let mut weir = Weir::start(&[]);
    let r = weir.http("/healthz");
    assert_eq!(r.status, 200);
    assert_eq!(r.text().trim(), "ok");
    let r = weir.http("/api/streams");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.contains("application/json")),
        "content-type: {:?}",
        r.header("content-type")
    );
    assert!(weir.api_streams().is_empty());
    weir.assert_healthy();
}
