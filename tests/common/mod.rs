//! Shared harness for Weir's end-to-end tests.
//!
//! * [`Weir`] spawns the real `weir` binary on ephemeral loopback ports, reads
//!   its `weir listening rtmp=… http=…` line, captures its stderr (printed
//!   automatically when a test panics) and kills it on drop.
//! * [`Ffmpeg`] spawns ffmpeg (publisher or anything else), captures its
//!   stderr, and kills it on drop.
//! * [`http_get`] is a tiny std-only blocking HTTP/1.0 client.
//! * [`asset`] encodes a test asset once into `target/test-assets/` so that
//!   tests publish pre-encoded FLV files with `-c copy` instead of encoding
//!   live (the machine has two cores and tests run in parallel).
//! * [`poll_until`] replaces fixed sleeps.
//!
//! Each `tests/e2e_*.rs` file is its own crate and uses only part of this
//! module, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod hls;
pub mod mp4;
pub mod mpd;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long `Weir::start` waits for the listening line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long tests wait for a published stream to show up.
pub const LIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// Keep at most this much captured stderr per child process.
const MAX_LOG_BYTES: usize = 4 << 20;

// ---------------------------------------------------------------------------
// Polling
// ---------------------------------------------------------------------------

/// Calls `f` every 50 ms until it returns `Some`, or `timeout` elapses.
pub fn poll_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    poll_every(timeout, Duration::from_millis(50), &mut f)
}

/// Like [`poll_until`] with an explicit interval.
pub fn poll_every<T>(
    timeout: Duration,
    interval: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(interval.min(deadline - now));
    }
}

// ---------------------------------------------------------------------------
// Captured child output
// ---------------------------------------------------------------------------

/// A shared, bounded text buffer that a reader thread appends lines to.
#[derive(Clone, Default)]
pub struct LogBuf(Arc<Mutex<String>>);

impl LogBuf {
    fn push_line(&self, line: &str) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if s.len() > MAX_LOG_BYTES {
            let cut = s.len() - MAX_LOG_BYTES / 2;
            let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
            s.replace_range(..cut, "[… earlier output dropped …]\n");
        }
        s.push_str(line);
        s.push('\n');
    }

    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Spawns a thread that reads `r` line by line into `buf` (and echoes to
/// stderr with `prefix` when `WEIR_TEST_VERBOSE` is set).
fn drain_into<R: Read + Send + 'static>(r: R, buf: LogBuf, prefix: String) {
    let verbose = std::env::var_os("WEIR_TEST_VERBOSE").is_some();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(r);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&raw);
                    let line = line.trim_end_matches(['\r', '\n']);
                    if verbose {
                        eprintln!("{prefix}{line}");
                    }
                    buf.push_line(line);
                }
            }
        }
    });
}

fn wait_child_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    poll_every(timeout, Duration::from_millis(20), || {
        child.try_wait().ok().flatten()
    })
}

// ---------------------------------------------------------------------------
// The weir process
// ---------------------------------------------------------------------------

/// A running `weir` on ephemeral loopback ports. Killed on drop; its stderr is
/// printed if the test is panicking.
pub struct Weir {
    child: Child,
    pub rtmp_addr: SocketAddr,
    pub http_addr: SocketAddr,
    log: LogBuf,
    args: Vec<String>,
}

impl Weir {
    /// Starts `weir --rtmp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 EXTRA…`
    /// and waits (bounded) for its listening line on stdout.
    ///
    /// Unless EXTRA says otherwise, with `--end-on-unpublish true`: most
    /// tests publish a finite file and check the stream it leaves, ended at
    /// once by the publisher's unpublish (checklist case 17). Tests of the
    /// default lifecycle (a graceful unpublish waits the grace period for the
    /// publisher, issue 12) pass `--end-on-unpublish false`.
    pub fn start(extra_args: &[&str]) -> Weir {
        let bin = env!("CARGO_BIN_EXE_weir");
        let mut args: Vec<String> = vec![
            "--rtmp-listen".into(),
            "127.0.0.1:0".into(),
            "--http-listen".into(),
            "127.0.0.1:0".into(),
        ];
        if !extra_args.contains(&"--end-on-unpublish") {
            args.extend(["--end-on-unpublish".into(), "true".into()]);
        }
        args.extend(extra_args.iter().map(|s| s.to_string()));
        let mut cmd = Command::new(bin);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("failed to spawn {bin}: {e}"));

        let log = LogBuf::default();
        drain_into(
            child.stderr.take().expect("stderr piped"),
            log.clone(),
            "[weir] ".into(),
        );

        // Read stdout on a thread so the wait for the first line is bounded.
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel::<String>();
        let stdout_log = log.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut first = String::new();
            if reader.read_line(&mut first).unwrap_or(0) > 0 {
                let _ = tx.send(first);
            }
            drop(tx);
            // Keep draining so weir never blocks on a full stdout pipe.
            for line in reader.lines() {
                match line {
                    Ok(l) => stdout_log.push_line(&format!("[stdout] {l}")),
                    Err(_) => break,
                }
            }
        });

        let line = match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().ok();
                // Give the stderr thread a moment to collect the last lines.
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "weir did not print its listening line ({e:?}; exit status {status:?}).\n\
                     args: {args:?}\n--- weir stderr ---\n{}",
                    log.text()
                );
            }
        };
        let (rtmp_addr, http_addr) = parse_listening_line(&line).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "unexpected first stdout line from weir: {line:?}\n--- weir stderr ---\n{}",
                log.text()
            )
        });
        Weir {
            child,
            rtmp_addr,
            http_addr,
            log,
            args,
        }
    }

    /// `rtmp://127.0.0.1:PORT/live/KEY` (KEY may carry a `?query`).
    pub fn rtmp_url(&self, key: &str) -> String {
        format!("rtmp://{}/live/{key}", self.rtmp_addr)
    }

    /// `http://127.0.0.1:PORT/PATH`.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http_addr)
    }

    /// Blocking GET of `path` on the HTTP port. Panics on a transport error.
    pub fn http(&self, path: &str) -> HttpResponse {
        http_get(self.http_addr, path).unwrap_or_else(|e| {
            panic!(
                "GET {path} on {} failed: {e}\n--- weir stderr ---\n{}",
                self.http_addr,
                self.stderr()
            )
        })
    }

    /// `GET /api/streams`, checked for status 200 and shape, returning the
    /// `streams` array.
    pub fn api_streams(&self) -> Vec<Value> {
        let r = self.http("/api/streams");
        assert_eq!(r.status, 200, "/api/streams status; body: {}", r.text());
        let v = r.json();
        match v.get("streams") {
            Some(Value::Array(a)) => a.clone(),
            _ => panic!("/api/streams has no `streams` array: {v}"),
        }
    }

    /// The entry of `/api/streams` with app `live` and key `key`, if listed.
    /// Panics if the key is listed more than once.
    pub fn stream(&self, key: &str) -> Option<Value> {
        let all = self.api_streams();
        let mut it = all
            .iter()
            .filter(|s| s["app"] == "live" && s["key"] == key)
            .cloned();
        let first = it.next();
        assert!(
            it.next().is_none(),
            "stream live/{key} listed more than once: {all:?}"
        );
        first
    }

    /// Polls `/api/streams` until the stream `key` exists and `pred` holds
    /// for it; panics (with weir's stderr) after `timeout`.
    pub fn wait_stream(
        &self,
        key: &str,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Value {
        let mut last = None;
        let got = poll_until(timeout, || {
            let s = self.stream(key);
            let ok = s.as_ref().map(&mut pred).unwrap_or(false);
            last = s.clone();
            if ok {
                s
            } else {
                None
            }
        });
        got.unwrap_or_else(|| {
            panic!(
                "timed out after {timeout:?} waiting for live/{key}: {what}\nlast entry: {}",
                last.map(|v| v.to_string())
                    .unwrap_or_else(|| "<not listed>".into())
            )
        })
    }

    /// Waits until `key` is listed with state `live` and at least one coded
    /// frame received.
    pub fn wait_live(&self, key: &str) -> Value {
        self.wait_stream(key, LIVE_TIMEOUT, "state live with frames", |s| {
            s["state"] == "live" && total_frames(s) > 0
        })
    }

    /// Waits until `key` is listed with state `ended`.
    pub fn wait_ended(&self, key: &str, timeout: Duration) -> Value {
        self.wait_stream(key, timeout, "state ended", |s| s["state"] == "ended")
    }

    /// Everything weir wrote to stderr (and stdout after the first line) so far.
    pub fn stderr(&self) -> String {
        self.log.text()
    }

    /// The process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. "TERM") to the process.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{signal} {}", self.pid());
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        poll_until(timeout, || self.child.try_wait().ok().flatten())
    }

    /// Asserts the process is alive and has not logged a panic.
    pub fn assert_healthy(&mut self) {
        assert!(
            self.is_running(),
            "weir exited: {:?}",
            self.child.try_wait()
        );
        let log = self.stderr();
        assert!(!log.contains("panicked at"), "weir logged a panic:\n{log}");
        let r = self.http("/healthz");
        assert_eq!(r.status, 200, "/healthz status");
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "\n--- weir {:?} (pid {}) stderr ---\n{}--- end of weir stderr ---",
                self.args,
                self.child.id(),
                self.log.text()
            );
        }
    }
}

/// Parses `weir listening rtmp=127.0.0.1:41234 http=127.0.0.1:41235`.
pub fn parse_listening_line(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let mut words = line.split_whitespace();
    if words.next()? != "weir" || words.next()? != "listening" {
        return None;
    }
    let (mut rtmp, mut http) = (None, None);
    for w in words {
        if let Some(a) = w.strip_prefix("rtmp=") {
            rtmp = a.parse().ok();
        } else if let Some(a) = w.strip_prefix("http=") {
            http = a.parse().ok();
        }
    }
    Some((rtmp?, http?))
}

/// Sum of video and audio `frames` of an `/api/streams` entry.
pub fn total_frames(s: &Value) -> u64 {
    s["video"]["frames"].as_u64().unwrap_or(0) + s["audio"]["frames"].as_u64().unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Minimal HTTP client
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text()))
    }
}

/// Blocking `GET path` (HTTP/1.0, connection closed by the server) with
/// bounded connect and read timeouts.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<HttpResponse> {
    http_request(addr, "GET", path, &[])
}

/// Blocking request without a body. `headers` are extra request headers.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<HttpResponse> {
    use std::io::{Error, ErrorKind};
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;

    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| Error::new(ErrorKind::InvalidData, "no end of HTTP headers"))?;
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            )
        })?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let mut body = raw[head_end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        body = dechunk(&body)
            .ok_or_else(|| Error::new(ErrorKind::InvalidData, "bad chunked encoding"))?;
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        if body.len() < len {
            return Err(Error::new(
                ErrorKind::UnexpectedEof,
                format!("body has {} of {len} bytes", body.len()),
            ));
        }
        body.truncate(len);
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

pub fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_str = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

// ---------------------------------------------------------------------------
// ffmpeg / ffprobe
// ---------------------------------------------------------------------------

/// A spawned ffmpeg. Killed (SIGKILL) on drop; stderr printed if the test is
/// panicking.
pub struct Ffmpeg {
    child: Child,
    stdin: Option<ChildStdin>,
    log: LogBuf,
    args: Vec<String>,
    status: Option<ExitStatus>,
}

impl Ffmpeg {
    /// `ffmpeg -hide_banner -nostats -loglevel warning ARGS…`
    pub fn spawn(args: &[&str]) -> Ffmpeg {
        Ffmpeg::spawn_bin(Path::new("ffmpeg"), args)
    }

    /// [`Ffmpeg::spawn`] with another ffmpeg binary (ffmpeg 9: [`ffmpeg9`]).
    pub fn spawn_bin(bin: &Path, args: &[&str]) -> Ffmpeg {
        let mut all: Vec<String> = ["-hide_banner", "-nostats", "-loglevel", "warning"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        all.extend(args.iter().map(|s| s.to_string()));
        let mut child = Command::new(bin)
            .args(&all)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("failed to spawn ffmpeg (is it installed?): {e}"));
        let log = LogBuf::default();
        drain_into(
            child.stderr.take().expect("stderr piped"),
            log.clone(),
            format!("[ffmpeg {}] ", child.id()),
        );
        let stdin = child.stdin.take();
        Ffmpeg {
            child,
            stdin,
            log,
            args: all,
            status: None,
        }
    }

    /// Publishes `input` with `-c copy` to `url` as FLV. `realtime` adds `-re`.
    /// `extra_out` are output options placed before `-f flv URL`.
    pub fn publish(input: &Path, url: &str, realtime: bool, extra_out: &[&str]) -> Ffmpeg {
        let input = input.to_str().expect("utf-8 asset path");
        let mut args: Vec<&str> = Vec::new();
        if realtime {
            args.push("-re");
        }
        args.extend(["-i", input, "-c", "copy"]);
        args.extend_from_slice(extra_out);
        args.extend(["-f", "flv", url]);
        Ffmpeg::spawn(&args)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL by PID (no clean RTMP shutdown reaches the server).
    pub fn kill9(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }

    /// Asks ffmpeg to stop cleanly by typing `q` on its stdin.
    pub fn quit(&mut self) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(b"q");
            let _ = stdin.flush();
        }
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = wait_child_timeout(&mut self.child, timeout);
        }
        self.status
    }

    /// Exit status if it has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    pub fn stderr(&self) -> String {
        self.log.text()
    }

    pub fn args(&self) -> &[String] {
        &self.args
    }
}

impl Drop for Ffmpeg {
    fn drop(&mut self) {
        self.stdin.take();
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "\n--- ffmpeg {:?} (pid {}, status {:?}) stderr ---\n{}--- end of ffmpeg stderr ---",
                self.args,
                self.child.id(),
                self.status,
                self.log.text()
            );
        }
    }
}

/// Runs ffprobe with `args` and returns stdout; panics on failure.
pub fn ffprobe(args: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("failed to run ffprobe (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "ffprobe {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Number of packets of `stream` (an ffprobe stream specifier such as `v:0`
/// or `a:0`) in `path`, per `ffprobe -count_packets`.
pub fn ffprobe_count_packets(path: &Path, stream: &str) -> u64 {
    let p = path.to_str().expect("utf-8 path");
    let out = ffprobe(&[
        "-select_streams",
        stream,
        "-count_packets",
        "-show_entries",
        "stream=nb_read_packets",
        "-of",
        "csv=p=0",
        p,
    ]);
    out.trim()
        .parse()
        .unwrap_or_else(|e| panic!("ffprobe packet count of {p} [{stream}]: {out:?}: {e}"))
}

/// Number of keyframe packets of `stream` in `path`.
pub fn ffprobe_count_keyframes(path: &Path, stream: &str) -> u64 {
    let p = path.to_str().expect("utf-8 path");
    let out = ffprobe(&[
        "-select_streams",
        stream,
        "-show_entries",
        "packet=flags",
        "-of",
        "csv=p=0",
        p,
    ]);
    out.lines().filter(|l| l.contains('K')).count() as u64
}

// ---------------------------------------------------------------------------
// Cached pre-encoded assets
// ---------------------------------------------------------------------------

/// `target/test-assets` (next to `target/tmp`).
pub fn assets_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp
        .parent()
        .map(|p| p.join("test-assets"))
        .unwrap_or_else(|| tmp.join("test-assets"));
    std::fs::create_dir_all(&dir).expect("create test-assets dir");
    dir
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Encodes `ffmpeg -y ARGS -f flv OUT` once and returns the cached FLV path
/// `target/test-assets/NAME-HASH.flv` (the hash covers the args, so editing
/// them re-encodes). Concurrent callers in this process wait on a per-asset
/// lock; across processes the encode writes a unique temporary file that is
/// atomically renamed into place.
pub fn asset(name: &str, ffmpeg_args: &[&str]) -> PathBuf {
    asset_with(Path::new("ffmpeg"), name, ffmpeg_args)
}

/// The static ffmpeg 9 that `scripts/test.sh` installs from PyPI's
/// imageio-ffmpeg (`WEIR_FFMPEG9`, else the default cache location): it
/// publishes Enhanced RTMP and the codecs Debian's ffmpeg 5.1 cannot.
pub fn ffmpeg9() -> PathBuf {
    if let Some(p) = std::env::var_os("WEIR_FFMPEG9").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/root/.cache"));
    let lib = cache.join("weir/ffmpeg9-venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|dirs| {
        dirs.flatten()
            .map(|d| d.path().join("site-packages/imageio_ffmpeg/binaries"))
            .filter_map(|b| std::fs::read_dir(b).ok())
            .flat_map(|files| files.flatten().map(|f| f.path()))
            .find(|f| {
                f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("ffmpeg-linux"))
            })
    });
    found.unwrap_or_else(|| {
        panic!(
            "ffmpeg 9 not found: set WEIR_FFMPEG9 or run ./scripts/test.sh, which installs it into {}",
            cache.join("weir/ffmpeg9-venv").display()
        )
    })
}

/// [`asset`] encoded by another ffmpeg binary (ffmpeg 9 for the codecs
/// only it can put into FLV).
pub fn asset_with(bin: &Path, name: &str, ffmpeg_args: &[&str]) -> PathBuf {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> = OnceLock::new();
    let mut key = ffmpeg_args.join("\u{1f}");
    if bin != Path::new("ffmpeg") {
        key = format!("{}\u{1f}{key}", bin.display());
    }
    let file = format!("{name}-{:016x}.flv", fnv1a(&key));
    let path = assets_dir().join(&file);
    let lock = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(file.clone())
        .or_default()
        .clone();
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    if path.exists() {
        return path;
    }
    let tmp = assets_dir().join(format!(
        ".{file}.{}.{:?}.tmp",
        std::process::id(),
        std::thread::current().id()
    ));
    let started = Instant::now();
    let out = Command::new(bin)
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(ffmpeg_args)
        .args(["-f", "flv"])
        .arg(&tmp)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("failed to spawn ffmpeg (is it installed?): {e}"));
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        panic!(
            "encoding asset {name} failed ({}): ffmpeg {ffmpeg_args:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::rename(&tmp, &path).expect("rename asset into place");
    eprintln!(
        "encoded test asset {} in {:.1?}",
        path.display(),
        started.elapsed()
    );
    path
}

/// Ready-made assets shared by the e2e tests (§8 "common publisher" and
/// variants). All use a 2 s GOP at 30 fps and are at most 20 s long.
pub mod assets {
    use super::asset;
    use std::path::PathBuf;

    const X264_FAST: [&str; 4] = ["-c:v", "libx264", "-preset", "ultrafast"];

    fn av(size: &str, secs: &str, video: &[&str], audio: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("testsrc2=size={size}:rate=30"),
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            "sine=frequency=440:sample_rate=48000".into(),
            "-t".into(),
            secs.into(),
        ];
        a.extend(video.iter().map(|s| s.to_string()));
        a.extend(audio.iter().map(|s| s.to_string()));
        a
    }

    fn build(name: &str, args: Vec<String>) -> PathBuf {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        asset(name, &refs)
    }

    const AAC_48K_STEREO: [&str; 10] = [
        "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2", "-map", "1:a",
    ];

    /// §8 common publisher, 10 s: 1280×720 30 fps H.264 High 3.1 with 2
    /// B-frames (`avc1.64001f`) + AAC-LC 48 kHz stereo (`mp4a.40.2`).
    /// `ultrafast` turns off 8x8dct, which would make x264 signal Main, so it
    /// is switched back on.
    pub fn h264_high_720p30_aac48k() -> PathBuf {
        let mut v: Vec<&str> = vec!["-map", "0:v"];
        v.extend(X264_FAST);
        v.extend([
            "-x264-params",
            "8x8dct=1",
            "-profile:v",
            "high",
            "-level",
            "3.1",
            "-bf",
            "2",
            "-g",
            "60",
            "-keyint_min",
            "60",
            "-sc_threshold",
            "0",
            "-b:v",
            "2M",
            "-pix_fmt",
            "yuv420p",
        ]);
        build(
            "h264high-720p30-aac48k-10s",
            av("1280x720", "10", &v, &AAC_48K_STEREO),
        )
    }

    /// 640×360 H.264 Constrained Baseline 3.0 (`avc1.42c01e`) + AAC 48 kHz
    /// stereo, 5 s.
    pub fn h264_baseline_360p_aac48k() -> PathBuf {
        let mut v: Vec<&str> = vec!["-map", "0:v"];
        v.extend(X264_FAST);
        v.extend([
            "-profile:v",
            "baseline",
            "-level",
            "3.0",
            "-g",
            "60",
            "-pix_fmt",
            "yuv420p",
        ]);
        build(
            "h264baseline-360p-aac48k-5s",
            av("640x360", "5", &v, &AAC_48K_STEREO),
        )
    }

    fn small_video() -> Vec<&'static str> {
        small_video_gop("60")
    }

    fn small_video_gop(gop: &'static str) -> Vec<&'static str> {
        let mut v: Vec<&str> = vec!["-map", "0:v"];
        v.extend(X264_FAST);
        v.extend(["-g", gop, "-bf", "2", "-pix_fmt", "yuv420p"]);
        v
    }

    /// `small_av` with a 1 s GOP (`-g 30`), as the low-latency tests publish.
    pub fn small_av_gop1s(secs: u32) -> PathBuf {
        build(
            &format!("small-av-gop1s-{secs}s"),
            av(
                "320x240",
                &secs.to_string(),
                &small_video_gop("30"),
                &AAC_48K_STEREO,
            ),
        )
    }

    /// 320×240 30 fps H.264 + AAC-LC 48 kHz stereo, `secs` long (cheap).
    pub fn small_av(secs: u32) -> PathBuf {
        build(
            &format!("small-av-{secs}s"),
            av(
                "320x240",
                &secs.to_string(),
                &small_video(),
                &AAC_48K_STEREO,
            ),
        )
    }

    /// 320×240 H.264 + AAC-LC 44.1 kHz mono, 5 s.
    pub fn small_av_aac44k_mono() -> PathBuf {
        build(
            "small-av-aac44k-mono-5s",
            av(
                "320x240",
                "5",
                &small_video(),
                &[
                    "-c:a", "aac", "-b:a", "64k", "-ar", "44100", "-ac", "1", "-map", "1:a",
                ],
            ),
        )
    }

    /// AAC-LC 48 kHz stereo only (`-vn`), 5 s.
    pub fn audio_only() -> PathBuf {
        build(
            "audio-only-aac48k-5s",
            av("320x240", "5", &[], &AAC_48K_STEREO),
        )
    }

    /// 320×240 H.264 only (`-an`), 5 s.
    pub fn video_only() -> PathBuf {
        build("video-only-5s", av("320x240", "5", &small_video(), &[]))
    }
}

/// Attribute list → map (quotes removed).
pub fn parse_attrs(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let (v, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (&q[..end], q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        out.insert(k.trim().to_owned(), v.to_owned());
        rest = tail.trim_start_matches(',').trim();
    }
    out
}
