//! Self-tests of the e2e harness (`tests/common`): the HTTP client, the
//! listening-line parser, polling and the asset cache. They need ffmpeg but
//! not a working `weir`.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{asset, ffprobe_count_keyframes, ffprobe_count_packets, http_get, poll_until};

/// Serves one connection with `response` (after reading the request head).
fn one_shot_server(response: &'static [u8]) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = Vec::new();
        let mut b = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut b).unwrap();
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&b[..n]);
        }
        s.write_all(response).unwrap();
    });
    addr
}

#[test]
fn listening_line_parses() {
    let (r, h) =
        common::parse_listening_line("weir listening rtmp=127.0.0.1:41234 http=127.0.0.1:41235\n")
            .unwrap();
    assert_eq!(r.to_string(), "127.0.0.1:41234");
    assert_eq!(h.to_string(), "127.0.0.1:41235");
    assert!(common::parse_listening_line("weir listening rtmp=127.0.0.1:1").is_none());
    assert!(common::parse_listening_line("hello").is_none());
}

#[test]
fn http_client_content_length() {
    let addr = one_shot_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"streams\":[]}",
    );
    let r = http_get(addr, "/api/streams").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.json()["streams"], serde_json::json!([]));
}

#[test]
fn http_client_chunked_and_status() {
    let addr = one_shot_server(
        b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nnot\r\n6\r\n found\r\n0\r\n\r\n",
    );
    let r = http_get(addr, "/nope").unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "not found");
}

#[test]
fn poll_until_returns_value_or_times_out() {
    let start = Instant::now();
    let mut n = 0;
    let v = poll_until(Duration::from_secs(2), || {
        n += 1;
        (n == 3).then_some(n)
    });
    assert_eq!(v, Some(3));
    let none: Option<()> = poll_until(Duration::from_millis(200), || None);
    assert!(none.is_none());
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn asset_is_encoded_once_and_counted_by_ffprobe() {
    let args = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x64:rate=30",
        "-t",
        "1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "15",
        "-pix_fmt",
        "yuv420p",
    ];
    let a = asset("selftest-64x64-1s", &args);
    let mtime = std::fs::metadata(&a).unwrap().modified().unwrap();
    // Parallel callers get the same file without re-encoding.
    let handles: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || asset("selftest-64x64-1s", &args)))
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), a);
    }
    assert_eq!(std::fs::metadata(&a).unwrap().modified().unwrap(), mtime);
    assert_eq!(ffprobe_count_packets(&a, "v:0"), 30);
    assert_eq!(ffprobe_count_keyframes(&a, "v:0"), 2);
}
