//! Running Weir in production: configuration precedence and errors, publish
//! authorisation (stream keys, HTTP callback with timeout), signed play URLs,
//! and graceful shutdown on SIGTERM — each against the real binary, with the
//! real ffmpeg publishing.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{assets, poll_until, Ffmpeg, Weir, LIVE_TIMEOUT};
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("e2e-ops-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_config(name: &str, text: &str) -> PathBuf {
    let path = temp_dir(name).join("weir.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs weir expecting it to refuse its configuration: exit code and stderr.
fn run_rejected(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "--rtmp-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = poll_until(Duration::from_secs(10), || child.try_wait().ok().flatten());
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("weir kept running with a bad configuration: {args:?}");
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

#[test]
fn invalid_configuration_fails_at_start_naming_the_key() {
    let bad = write_config("bad", "segment_duration = 100.0\n");
    let (code, err) = run_rejected(&["--config", bad.to_str().unwrap()], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("`segment_duration` (configuration file)"),
        "{err}"
    );

    let typo = write_config("typo", "playlist_windw = 3\n");
    let (code, err) = run_rejected(&["--config", typo.to_str().unwrap()], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("playlist_windw"), "{err}");

    let (code, err) = run_rejected(&[], &[("WEIR_LOG_FORMAT", "xml")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`log_format` (flag or environment)"), "{err}");

    let (code, err) = run_rejected(&["--config", "/nonexistent/weir.toml"], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/nonexistent/weir.toml"), "{err}");
}

#[test]
fn flag_beats_environment_beats_file() {
    // The file asks for 3-segment windows and 1 s segments; a flag overrides
    // the segment length (flag > environment > file is unit-tested in
    // src/config.rs, environment included).
    let cfg = write_config(
        "precedence",
        "playlist_window = 3\nsegment_duration = 1.0\ngrace_period = 1.0\n",
    );
    let weir = Weir::start(&["--config", cfg.to_str().unwrap(), "--segment-duration", "2"]);
    let asset = assets::small_av(20);
    let _ff = Ffmpeg::publish(&asset, &weir.rtmp_url("prec"), true, &[]);
    let playlist = poll_until(LIVE_TIMEOUT, || {
        let r = weir.http("/live/prec/video.m3u8");
        let t = r.text();
        (r.status == 200 && t.matches("#EXTINF").count() >= 3).then_some(t)
    })
    .expect("video.m3u8 with 3 segments");
    // The flag's 2 s target, the file's 3-segment window.
    assert!(playlist.contains("#EXT-X-TARGETDURATION:2"), "{playlist}");
    let later = poll_until(Duration::from_secs(10), || {
        let t = weir.http("/live/prec/video.m3u8").text();
        t.contains("#EXT-X-MEDIA-SEQUENCE:2").then_some(t)
    })
    .expect("the window slides");
    assert_eq!(later.matches("#EXTINF").count(), 3, "{later}");
}

#[test]
fn stream_keys_admit_the_right_secret_only() {
    let cfg = write_config("keys", "[publish_keys.live]\ncam1 = \"s3cret-key\"\n");
    let weir = Weir::start(&["--config", cfg.to_str().unwrap()]);
    let asset = assets::small_av(20);
    let mut wrong = Ffmpeg::publish(&asset, &weir.rtmp_url("cam1?key=nope"), true, &[]);
    let status = wrong.wait_timeout(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| !s.success()),
        "a wrong key must be refused: {status:?}\n{}",
        wrong.stderr()
    );
    assert!(weir.stream("cam1").is_none());
    assert!(
        weir.stderr().contains("publish refused"),
        "{}",
        weir.stderr()
    );
    assert!(
        !weir.stderr().contains("nope"),
        "the query must not be logged"
    );
    let _right = Ffmpeg::publish(&asset, &weir.rtmp_url("cam1?key=s3cret-key"), true, &[]);
    weir.wait_live("cam1");
    assert!(
        !weir.stderr().contains("s3cret-key"),
        "secrets must not be logged"
    );
}

/// A one-thread HTTP server: answers each request with `status` after
/// `delay`, recording the bodies it got.
struct Callback {
    addr: SocketAddr,
    bodies: Arc<Mutex<Vec<String>>>,
    hits: Arc<AtomicUsize>,
}

fn callback_server(status_for: fn(&str) -> u16, delay: Duration) -> Callback {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let hits = Arc::new(AtomicUsize::new(0));
    let (b, h) = (bodies.clone(), hits.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            let (b, h) = (b.clone(), h.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let l = line.trim_end().to_ascii_lowercase();
                    if let Some(v) = l.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if l.is_empty() {
                        break;
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let body = String::from_utf8_lossy(&body).into_owned();
                h.fetch_add(1, Ordering::SeqCst);
                let status = status_for(&body);
                b.lock().unwrap().push(body);
                std::thread::sleep(delay);
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            });
        }
    });
    Callback { addr, bodies, hits }
}

#[test]
fn the_publish_callback_decides_and_times_out() {
    let cb = callback_server(
        |body| {
            if body.contains("\"key\":\"allowed\"") {
                204
            } else {
                403
            }
        },
        Duration::ZERO,
    );
    let url = format!("http://{}/publish", cb.addr);
    let weir = Weir::start(&["--publish-callback", &url]);
    let asset = assets::small_av(20);
    let mut denied = Ffmpeg::publish(&asset, &weir.rtmp_url("denied?who=me"), true, &[]);
    let status = denied.wait_timeout(Duration::from_secs(15));
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    assert!(weir.stream("denied").is_none());
    let _ok = Ffmpeg::publish(&asset, &weir.rtmp_url("allowed"), true, &[]);
    weir.wait_live("allowed");
    let bodies = cb.bodies.lock().unwrap().clone();
    let denied_body: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(denied_body["app"], "live");
    assert_eq!(denied_body["key"], "denied");
    assert_eq!(denied_body["query"], "who=me");
    assert!(denied_body["client"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));

    // A callback that does not answer in time refuses the publish.
    let slow = callback_server(|_| 200, Duration::from_secs(5));
    let url = format!("http://{}/publish", slow.addr);
    let weir = Weir::start(&[
        "--publish-callback",
        &url,
        "--publish-callback-timeout",
        "0.5",
    ]);
    let started = Instant::now();
    let mut late = Ffmpeg::publish(&asset, &weir.rtmp_url("late"), true, &[]);
    let status = late.wait_timeout(Duration::from_secs(15));
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(slow.hits.load(Ordering::SeqCst), 1);
    assert!(weir.stream("late").is_none());
    assert!(
        weir.stderr().contains("did not answer within"),
        "{}",
        weir.stderr()
    );
}

const SECRET: &str = "a-play-secret-of-32-characters!!";

fn token(app_key: &str, expiry: u64, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{app_key}/{expiry}").as_bytes());
    format!("{expiry}-{}", hex::encode(mac.finalize().into_bytes()))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn signed_play_urls_carry_over_and_reject_expired_or_forged_tokens() {
    let weir = Weir::start(&["--play-secret", SECRET]);
    let asset = assets::small_av(20);
    let _ff = Ffmpeg::publish(&asset, &weir.rtmp_url("paid"), true, &[]);
    weir.wait_live("paid");
    let good = token("live/paid", unix_now() + 600, SECRET);
    let multivariant = poll_until(LIVE_TIMEOUT, || {
        let r = weir.http(&format!("/live/paid/index.m3u8?token={good}"));
        (r.status == 200).then(|| r.text())
    })
    .expect("index.m3u8 with a valid token");
    // The token carries over to the media playlists…
    assert!(
        multivariant.contains(&format!("video.m3u8?token={good}")),
        "{multivariant}"
    );
    assert!(
        multivariant.contains(&format!("audio.m3u8?token={good}")),
        "{multivariant}"
    );
    let media = weir
        .http(&format!("/live/paid/video.m3u8?token={good}"))
        .text();
    // …and to the init and media segments.
    assert!(
        media.contains(&format!("init-v1.mp4?token={good}")),
        "{media}"
    );
    let seg = media
        .lines()
        .find(|l| l.ends_with(&format!(".m4s?token={good}")))
        .unwrap_or_else(|| panic!("{media}"));
    assert_eq!(weir.http(&format!("/live/paid/{seg}")).status, 200);
    let mpd = weir.http(&format!("/live/paid/index.mpd?token={good}"));
    assert_eq!(mpd.status, 200);
    assert!(mpd
        .text()
        .contains(&format!("seg-$Number$.m4s?token={good}")));

    let seg_path = seg.split('?').next().unwrap();
    let expired = token("live/paid", unix_now() - 1, SECRET);
    let forged = token("live/paid", unix_now() + 600, "not-the-secret-at-all-000");
    let other_stream = token("live/other", unix_now() + 600, SECRET);
    for (what, q) in [
        ("no token", String::new()),
        ("expired", format!("?token={expired}")),
        ("forged", format!("?token={forged}")),
        ("another stream's", format!("?token={other_stream}")),
        ("garbage", "?token=abc".to_owned()),
    ] {
        for path in ["index.m3u8", "video.m3u8", "index.mpd", seg_path] {
            let r = weir.http(&format!("/live/paid/{path}{q}"));
            assert_eq!(r.status, 403, "{what} token on {path}: {}", r.text());
        }
    }
    assert!(!weir.stderr().contains(&good), "tokens must not be logged");

    // The operator's way to make one: `weir --print-play-token`.
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["--play-secret", SECRET, "--print-play-token", "live/paid"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let r = weir.http(&format!("/live/paid/index.m3u8?token={}", printed.trim()));
    assert_eq!(r.status, 200, "the printed token");
}

#[test]
fn sigterm_ends_the_playlists_and_exits_zero_within_the_drain_timeout() {
    let mut weir = Weir::start(&["--shutdown-timeout", "5"]);
    let asset = assets::small_av(30);
    let mut ff = Ffmpeg::publish(&asset, &weir.rtmp_url("bye"), true, &[]);
    poll_until(LIVE_TIMEOUT, || {
        (weir.http("/live/bye/video.m3u8").status == 200
            && weir.http("/live/bye/index.mpd").status == 200)
            .then_some(())
    })
    .expect("playlists live");
    let sent = Instant::now();
    weir.signal("TERM");
    // While it drains, the playlists end (HLS-LIVE-09) and so does the MPD
    // (DASH-MPD-12).
    let ended = poll_until(Duration::from_secs(5), || {
        let v = common::http_get(weir.http_addr, "/live/bye/video.m3u8").ok()?;
        let a = common::http_get(weir.http_addr, "/live/bye/audio.m3u8").ok()?;
        let m = common::http_get(weir.http_addr, "/live/bye/index.mpd").ok()?;
        (v.text().contains("#EXT-X-ENDLIST")
            && a.text().contains("#EXT-X-ENDLIST")
            && !m.text().contains("minimumUpdatePeriod"))
        .then_some(())
    });
    assert!(
        ended.is_some(),
        "no ENDLIST while draining:\n{}",
        weir.stderr()
    );
    let status = weir.wait_exit(Duration::from_secs(7));
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?} after {:?}\n{}",
        sent.elapsed(),
        weir.stderr()
    );
    assert!(
        sent.elapsed() < Duration::from_secs(6),
        "{:?}",
        sent.elapsed()
    );
    // The publisher was told to go and its connection closed.
    let ff_status = ff.wait_timeout(Duration::from_secs(10));
    assert!(
        ff_status.is_some(),
        "ffmpeg still publishing after the shutdown"
    );
    assert!(
        weir.stderr().contains("server shutting down"),
        "{}",
        weir.stderr()
    );
}
