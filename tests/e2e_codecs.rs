//! Issue 14: every codec encoders send, end to end. A real ffmpeg 9 (the
//! static build `scripts/test.sh` installs from PyPI's imageio-ffmpeg)
//! encodes each case into an FLV once and publishes it with `-c copy` over
//! (Enhanced) RTMP; then software nobody here wrote reads what Weir serves:
//! Debian's ffprobe on the HLS and the DASH URL, ffmpeg copying 10 s out of
//! each while it is live, `m3u8-rs` and `dash-mpd-core` for the CODECS, `mp4-atom` for the
//! key frame that starts every segment.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{asset_with, ffmpeg9, hls, mp4, poll_until, Ffmpeg, Weir};
use serde_json::Value;

/// What the published stream must look like in the output.
struct Case {
    key: &'static str,
    /// ffmpeg 9 encoder options for the video (none: audio only).
    video: &'static [&'static str],
    /// ffmpeg 9 encoder options for the audio (none: video only).
    audio: &'static [&'static str],
    /// ffprobe `codec_name` and the CODECS Weir must derive, per track.
    video_codec: Option<(&'static str, &'static str)>,
    audio_codec: Option<(&'static str, &'static str, u32)>,
    /// HDR10: VIDEO-RANGE=PQ and the CICP properties must say so.
    pq: bool,
}

/// Length of every asset; players read 10 s of it while it is live.
const SECS: u32 = 24;
const READ_SECS: f64 = 10.0;

fn encode(case: &Case) -> PathBuf {
    let mut args: Vec<String> = Vec::new();
    if !case.video.is_empty() {
        args.extend(
            ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30"]
                .iter()
                .map(|s| s.to_string()),
        );
    }
    if !case.audio.is_empty() {
        args.extend(
            ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
                .iter()
                .map(|s| s.to_string()),
        );
    }
    args.extend(["-t".to_string(), SECS.to_string()]);
    if !case.video.is_empty() {
        // A key frame every second, none in between.
        args.extend(
            ["-g", "30", "-keyint_min", "30"]
                .iter()
                .map(|s| s.to_string()),
        );
        args.extend(case.video.iter().map(|s| s.to_string()));
    }
    args.extend(case.audio.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    asset_with(&ffmpeg9(), case.key, &refs)
}

fn ffprobe_streams(url: &str) -> Vec<Value> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "json",
            "-show_streams",
            "-show_format",
            url,
        ])
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    v["streams"].as_array().cloned().unwrap_or_default()
}

/// `ffmpeg -i URL -t 10 -c copy -f null -`, started while the stream is
/// live (a live MPD is read at the pace of the live edge).
fn spawn_copy(url: &str) -> std::process::Child {
    Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-stats",
            "-i",
            url,
        ])
        .args(["-t", "10", "-map", "0", "-c", "copy", "-f", "null", "-"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs")
}

/// Seconds of media a [`spawn_copy`] read out: the last `time=` of its
/// progress line.
fn copied_secs(child: std::process::Child, url: &str) -> f64 {
    let out = child.wait_with_output().expect("ffmpeg exits");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg copy of {url}: {log}");
    let t = log
        .rsplit("time=")
        .next()
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or("");
    let parts: Vec<f64> = t.split(':').filter_map(|p| p.parse().ok()).collect();
    match parts[..] {
        [h, m, s] => h * 3600.0 + m * 60.0 + s,
        _ => panic!("no time= in ffmpeg's output for {url}: {log}"),
    }
}

/// Every segment of `playlist` starts with a sync sample (by the codec's
/// own rules, as the packager marked them), read back with mp4-atom.
fn assert_segments_start_with_key_frames(weir: &Weir, key: &str, playlist: &str) {
    let text = weir.http(&format!("/live/{key}/{playlist}")).text();
    let media = hls::parse_media(&text).unwrap_or_else(|e| panic!("{playlist}: {e}\n{text}"));
    assert!(media.endlist, "{playlist} ended");
    // The live window (6 segments by default) at the end.
    assert!(media.segments.len() >= 4, "{text}");
    for seg in &media.segments {
        let init_uri = seg.map.as_deref().expect("EXT-X-MAP");
        let init = weir.http(&format!("/live/{key}/{init_uri}")).body;
        let init = mp4::decode_init(&init).unwrap_or_else(|e| panic!("{init_uri}: {e}"));
        let trex = init.moov.mvex.as_ref().and_then(|m| m.trex.first());
        let bytes = weir.http(&format!("/live/{key}/{}", seg.uri)).body;
        let decoded = mp4::decode_segment(&bytes).unwrap_or_else(|e| panic!("{}: {e}", seg.uri));
        let first = decoded
            .fragments
            .first()
            .map(|f| mp4::samples(f.traf(), trex))
            .and_then(|s| s.first().copied())
            .unwrap_or_else(|| panic!("{} has no sample", seg.uri));
        assert!(first.is_sync(), "{} starts with a non-sync sample", seg.uri);
    }
}

fn run(case: Case) {
    let asset = encode(&case);
    let weir = Weir::start(&[]);
    let url = weir.rtmp_url(case.key);
    let input = asset.to_str().expect("utf-8 path");
    let mut publisher = Ffmpeg::spawn_bin(
        &ffmpeg9(),
        &["-re", "-i", input, "-c", "copy", "-f", "flv", &url],
    );
    let key = case.key;
    let manifests = ["index.m3u8", "index.mpd"];
    // Both manifests served: the stream's first segments are made.
    poll_until(Duration::from_secs(30), || {
        manifests
            .iter()
            .all(|m| weir.http(&format!("/live/{key}/{m}")).status == 200)
            .then_some(())
    })
    .unwrap_or_else(|| panic!("{key}: manifests not served\n{}", weir.stderr()));

    // While live: ffprobe reads the published codecs, size and rate from
    // HLS and DASH, and ffmpeg copies 10 s out of each.
    let readers: Vec<(String, std::process::Child)> = manifests
        .iter()
        .map(|m| {
            let url = weir.http_url(&format!("/live/{key}/{m}"));
            let child = spawn_copy(&url);
            (url, child)
        })
        .collect();
    for manifest in manifests {
        let url = weir.http_url(&format!("/live/{key}/{manifest}"));
        let streams = ffprobe_streams(&url);
        if let Some((name, _)) = case.video_codec {
            let v = streams
                .iter()
                .find(|s| s["codec_type"] == "video")
                .unwrap_or_else(|| panic!("{manifest}: no video in {streams:?}"));
            assert_eq!(v["codec_name"], name, "{manifest}");
            assert_eq!(
                (v["width"].as_u64(), v["height"].as_u64()),
                (Some(320), Some(240)),
                "{manifest}"
            );
        }
        if let Some((name, _, rate)) = case.audio_codec {
            let a = streams
                .iter()
                .find(|s| s["codec_type"] == "audio")
                .unwrap_or_else(|| panic!("{manifest}: no audio in {streams:?}"));
            assert_eq!(a["codec_name"], name, "{manifest}");
            assert_eq!(a["sample_rate"], rate.to_string(), "{manifest}");
        }
    }
    for (url, child) in readers {
        let secs = copied_secs(child, &url);
        assert!(
            (READ_SECS - 1.0..=READ_SECS + 1.0).contains(&secs),
            "{url}: ffmpeg copied {secs} s"
        );
    }

    let info = weir.wait_ended(key, Duration::from_secs(60));
    assert!(
        publisher.wait_timeout(Duration::from_secs(10)).is_some(),
        "publisher done"
    );
    assert!(info["last_error"].is_null(), "{info}");

    // CODECS in the multivariant playlist and in the MPD: the strings the
    // published configuration records give.
    let text = weir.http(&format!("/live/{key}/index.m3u8")).text();
    let mv = hls::parse_multivariant(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let codecs = mv.variants[0].codecs.clone().unwrap_or_default();
    let mpd_text = weir.http(&format!("/live/{key}/index.mpd")).text();
    let mpd = dash_mpd_core::parse(&mpd_text).unwrap_or_else(|e| panic!("{e}\n{mpd_text}"));
    let mpd_codecs: Vec<String> = mpd
        .periods
        .iter()
        .flat_map(|p| p.adaptations.iter())
        .flat_map(|a| a.representations.iter())
        .filter_map(|r| r.codecs.clone())
        .collect();
    let mut expected = Vec::new();
    if let Some((_, c)) = case.video_codec {
        expected.push(c.to_string());
    }
    if let Some((_, c, _)) = case.audio_codec {
        expected.push(c.to_string());
    }
    assert_eq!(codecs, expected.join(","), "{text}");
    for c in &expected {
        assert!(mpd_codecs.contains(c), "{c} in {mpd_codecs:?}\n{mpd_text}");
    }
    let pq_signalled = (
        text.contains("VIDEO-RANGE=PQ"),
        mpd_text.contains(
            r#"<EssentialProperty schemeIdUri="urn:mpeg:mpegB:cicp:TransferCharacteristics" value="16"/>"#,
        ),
    );
    assert_eq!(pq_signalled, (case.pq, case.pq), "{text}\n{mpd_text}");
    if case.video_codec.is_some() {
        assert_segments_start_with_key_frames(&weir, key, "video.m3u8");
    }
    if case.audio_codec.is_some() {
        assert_segments_start_with_key_frames(&weir, key, "audio.m3u8");
    }
}

const AAC: &[&str] = &["-c:a", "aac", "-b:a", "96k", "-ac", "2"];
const X264: &[&str] = &["-c:v", "libx264", "-preset", "ultrafast", "-bf", "0"];

#[test]
fn hevc_and_aac() {
    run(Case {
        key: "hevc",
        video: &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=error:info=0",
        ],
        audio: AAC,
        video_codec: Some(("hevc", "hvc1.1.6.L60.90")),
        audio_codec: Some(("aac", "mp4a.40.2", 48_000)),
        pq: false,
    });
}

/// HDR10: HEVC Main 10 with BT.2020 primaries and the PQ transfer in its VUI.
#[test]
fn hevc_main10_pq_and_aac() {
    run(Case {
        key: "hevc10",
        video: &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p10le",
            "-x265-params",
            "log-level=error:info=0:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc",
        ],
        audio: AAC,
        video_codec: Some(("hevc", "hvc1.2.4.L60.90")),
        audio_codec: Some(("aac", "mp4a.40.2", 48_000)),
        pq: true,
    });
}

#[test]
fn av1_and_opus() {
    run(Case {
        key: "av1",
        video: &[
            "-c:v",
            "libsvtav1",
            "-preset",
            "12",
            "-svtav1-params",
            "keyint=30",
        ],
        audio: &["-c:a", "libopus", "-b:a", "64k"],
        video_codec: Some(("av1", "av01.0.00M.08")),
        audio_codec: Some(("opus", "opus", 48_000)),
        pq: false,
    });
}

#[test]
fn vp9_and_opus() {
    run(Case {
        key: "vp9",
        video: &[
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
        ],
        audio: &["-c:a", "libopus", "-b:a", "64k"],
        // ffmpeg 9 publishing `-c copy` writes its vpcC with primaries and
        // transfer 2 (unspecified) and matrix 0: not the defaults, so the
        // long form, exactly as the record says.
        video_codec: Some(("vp9", "vp09.00.20.08.01.02.02.00.00")),
        audio_codec: Some(("opus", "opus", 48_000)),
        pq: false,
    });
}

#[test]
fn h264_and_flac() {
    run(Case {
        key: "flac",
        video: X264,
        audio: &["-c:a", "flac", "-ac", "2"],
        video_codec: Some(("h264", "avc1.42c00d")),
        // `flac`, the spelling Chromium and hls.js look for.
        audio_codec: Some(("flac", "flac", 48_000)),
        pq: false,
    });
}

#[test]
fn h264_and_ac3() {
    run(Case {
        key: "ac3",
        video: X264,
        audio: &["-c:a", "ac3", "-ac", "2"],
        video_codec: Some(("h264", "avc1.42c00d")),
        audio_codec: Some(("ac3", "ac-3", 48_000)),
        pq: false,
    });
}

#[test]
fn h264_and_eac3() {
    run(Case {
        key: "eac3",
        video: X264,
        audio: &["-c:a", "eac3", "-ac", "2"],
        video_codec: Some(("h264", "avc1.42c00d")),
        audio_codec: Some(("eac3", "ec-3", 48_000)),
        pq: false,
    });
}

#[test]
fn h264_and_mp3() {
    run(Case {
        key: "mp3",
        video: X264,
        audio: &["-c:a", "libmp3lame", "-ar", "44100", "-ac", "2"],
        video_codec: Some(("h264", "avc1.42c00d")),
        audio_codec: Some(("mp3", "mp4a.6B", 44_100)),
        pq: false,
    });
}

/// A codec Weir cannot carry (G.711 A-law, legacy SoundFormat 7) is refused
/// by name on the track it came on, in `/api/streams` and the log, while
/// the publisher stays connected and the other track is served.
#[test]
fn refused_g711_audio_is_named_on_its_track_and_video_goes_on() {
    let asset = common::asset(
        "g711",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=8000",
            "-t",
            "12",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "30",
            "-c:a",
            "pcm_alaw",
            "-ar",
            "8000",
            "-ac",
            "1",
        ],
    );
    let weir = Weir::start(&[]);
    let mut publisher = Ffmpeg::publish(&asset, &weir.rtmp_url("g711"), true, &[]);
    let info = weir.wait_stream("g711", Duration::from_secs(20), "audio refused", |s| {
        s["audio"]["error"].is_string() && s["video"]["frames"].as_u64() > Some(30)
    });
    let error = info["audio"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("G.711"), "{info}");
    assert!(error.contains("Weir packages"), "{info}");
    assert_eq!(
        info["state"], "live",
        "the publisher stays connected: {info}"
    );
    assert!(info["video"]["error"].is_null(), "{info}");
    // The video is packaged and served on its own.
    poll_until(Duration::from_secs(20), || {
        (weir.http("/live/g711/video.m3u8").status == 200).then_some(())
    })
    .expect("video.m3u8 served");
    let mv = weir.http("/live/g711/index.m3u8").text();
    assert!(
        !mv.contains("AUDIO="),
        "no audio rendition for a refused track: {mv}"
    );
    assert!(weir.stderr().contains("G.711"), "the log names the codec");
    assert!(
        publisher.try_status().is_none(),
        "publisher still connected"
    );
    publisher.quit();
}
