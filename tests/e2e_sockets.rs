//! Socket-level robustness tests against the real `weir` binary: raw TCP
//! clients on the RTMP port (checklist §8 cases 1, 2, 4 and 64).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{assets, Ffmpeg, Weir};

const HANDSHAKE_SIZE: usize = 1536;

fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// Reads (and discards) until the peer closes (EOF or reset) and returns how
/// long that took, or `None` if it is still open after `limit`.
fn time_until_closed(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(start.elapsed())?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if start.elapsed() >= limit {
                    return None;
                }
            }
            Err(_) => return Some(start.elapsed()), // reset counts as closed
        }
    }
}

/// Non-blocking check: has the peer closed this socket?
fn is_closed_by_peer(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    let mut r = s;
    let closed = loop {
        match r.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue, // drain anything the server sent (S0/S1)
            Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    s.set_nonblocking(false).unwrap();
    closed
}

fn c1_bytes() -> Vec<u8> {
    // time = 0x01020304, zero = 0 (simple handshake), then a fixed pattern.
    let mut c1 = vec![0u8; HANDSHAKE_SIZE];
    c1[..4].copy_from_slice(&[1, 2, 3, 4]);
    for (i, b) in c1[8..].iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ (i as u8);
    }
    c1
}

fn read_exact_timeout(s: &mut TcpStream, n: usize, timeout: Duration) -> Vec<u8> {
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("reading {n} handshake bytes: {e}"));
    buf
}

// §8 case 1: simple handshake, socket smoke test.
#[test]
fn simple_handshake_replies_s0_s1_s2() {
    let mut weir = Weir::start(&[]);
    let mut s = connect(weir.rtmp_addr);
    let c1 = c1_bytes();
    let mut c0c1 = vec![0x03];
    c0c1.extend_from_slice(&c1);
    s.write_all(&c0c1).unwrap();
    let reply = read_exact_timeout(&mut s, 1 + 2 * HANDSHAKE_SIZE, Duration::from_secs(5));
    assert_eq!(reply[0], 0x03, "S0 must be version 3");
    let s1 = &reply[1..1 + HANDSHAKE_SIZE];
    let s2 = &reply[1 + HANDSHAKE_SIZE..];
    assert_eq!(&s1[4..8], &[0, 0, 0, 0], "S1 bytes 4-7 must be zero");
    assert_eq!(&s2[..4], &c1[..4], "S2 time must echo C1 time");
    assert!(s2[8..] == c1[8..], "S2 random must echo C1 random");
    drop(s);
    weir.assert_healthy();
}

// §8 case 2 (first half): C0 = 0x06 (encrypted) is answered with S0 = 0x03.
#[test]
fn c0_version_6_is_answered_with_version_3() {
    let mut weir = Weir::start(&[]);
    let mut s = connect(weir.rtmp_addr);
    let mut c0c1 = vec![0x06];
    c0c1.extend_from_slice(&c1_bytes());
    s.write_all(&c0c1).unwrap();
    let s0 = read_exact_timeout(&mut s, 1, Duration::from_secs(5));
    assert_eq!(s0[0], 0x03, "S0 must be version 3");
    drop(s);
    weir.assert_healthy();
}

// §8 case 2 (second half): an HTTP request on the RTMP port (C0 = 'G') is
// closed within 100 ms, and the server keeps working.
#[test]
fn http_request_on_rtmp_port_is_closed_within_100ms() {
    let mut weir = Weir::start(&[]);
    // Best of three, so one scheduling hiccup on a loaded 2-core CI machine
    // does not fail the test; a server that does not close fails all three.
    let mut times = Vec::new();
    for _ in 0..3 {
        let mut s = connect(weir.rtmp_addr);
        s.write_all(b"GET / HTTP/1.1\r\nHost: weir\r\n\r\n")
            .unwrap();
        let t = time_until_closed(&mut s, Duration::from_secs(3));
        times.push(t);
    }
    eprintln!("close times: {times:?}");
    assert!(
        times.iter().all(Option::is_some),
        "server left an HTTP client on the RTMP port open > 3 s: {times:?}"
    );
    let best = times.iter().flatten().min().unwrap();
    assert!(
        *best <= Duration::from_millis(100),
        "closed after {best:?} (> 100 ms); all: {times:?}"
    );
    weir.assert_healthy();
}

// §8 case 4: a handshake that stalls after C0 is closed after the handshake
// timeout (1 s here).
#[test]
fn stalled_handshake_is_closed_after_timeout() {
    let mut weir = Weir::start(&["--handshake-timeout", "1"]);
    let mut s = connect(weir.rtmp_addr);
    s.write_all(&[0x03]).unwrap();
    let t = time_until_closed(&mut s, Duration::from_secs(5))
        .expect("stalled handshake still open after 5 s (timeout 1 s)");
    eprintln!("stalled handshake closed after {t:?}");
    assert!(
        t >= Duration::from_millis(900) && t <= Duration::from_secs(3),
        "closed after {t:?}, expected ≈ 1 s"
    );
    weir.assert_healthy();
}

/// Soft RLIMIT_NOFILE of this process, from /proc (Linux).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

// §8 case 64 (part): 500 idle TCP connections that never handshake do not
// stop a real publisher from going live.
#[test]
fn idle_connections_do_not_block_publishing() {
    let limit = open_files_limit().unwrap_or(1024);
    // Leave room for the harness, ffmpeg pipes and weir's own sockets.
    let n = 500usize.min(limit.saturating_sub(200) as usize);
    assert!(n >= 100, "open-files limit {limit} too low for this test");
    let mut weir = Weir::start(&["--handshake-timeout", "30"]);
    let idle: Vec<TcpStream> = (0..n).map(|_| connect(weir.rtmp_addr)).collect();
    // Half of them send C0 and stop, the rest send nothing at all.
    for s in idle.iter().step_by(2) {
        let mut w = s;
        w.write_all(&[0x03]).unwrap();
    }

    let asset = assets::small_av(10);
    let _ff = Ffmpeg::publish(&asset, &weir.rtmp_url("busy"), true, &[]);
    let s = weir.wait_live("busy");
    assert!(s["video"]["frames"].as_u64().unwrap_or(0) > 0, "{s}");
    let still_open = idle.iter().filter(|s| !is_closed_by_peer(s)).count();
    eprintln!("{still_open}/{n} idle connections still open while live");
    weir.assert_healthy();
}

// §8 case 64: a connection flood beyond --max-connections is bounded (every
// flood connection is closed within a bounded time, by the limit or by the
// handshake timeout) and an existing publish is unaffected.
#[test]
fn connection_flood_is_bounded_and_publish_unaffected() {
    let mut weir = Weir::start(&["--max-connections", "50", "--handshake-timeout", "2"]);
    let asset = assets::small_av(20);
    let mut ff = Ffmpeg::publish(&asset, &weir.rtmp_url("steady"), true, &[]);
    let before = weir.wait_live("steady");
    let publisher = before["publisher"].clone();

    let flood: Vec<TcpStream> = (0..200)
        .filter_map(|_| TcpStream::connect_timeout(&weir.rtmp_addr, Duration::from_secs(2)).ok())
        .collect();
    eprintln!("{} flood connections established", flood.len());

    // The publisher keeps going during the flood.
    let frames = common::total_frames(&before);
    weir.wait_stream(
        "steady",
        Duration::from_secs(5),
        "frames to keep growing during the flood",
        |s| {
            s["state"] == "live"
                && s["publisher"] == publisher
                && common::total_frames(s) > frames + 30
        },
    );

    // Every flood connection gets closed: at most 200/50 waves of the 2 s
    // handshake timeout, plus slack.
    let started = Instant::now();
    let all_closed =
        common::poll_every(Duration::from_secs(20), Duration::from_millis(200), || {
            flood.iter().all(is_closed_by_peer).then_some(())
        });
    let open = flood.iter().filter(|s| !is_closed_by_peer(s)).count();
    assert!(
        all_closed.is_some(),
        "{open}/{} flood connections still open after {:?}",
        flood.len(),
        started.elapsed()
    );
    eprintln!("flood drained in {:?}", started.elapsed());
    assert!(ff.try_status().is_none(), "publisher died: {}", ff.stderr());
    let s = weir.stream("steady").expect("publish vanished");
    assert_eq!(s["state"], "live", "{s}");
    weir.assert_healthy();
}
