//! End-to-end test of the CDN edge in `docker/edge/nginx.conf`: Debian's
//! nginx runs that very file (placeholders substituted, see [`edge`]) in
//! front of the real `weir` binary fed by ffmpeg, and the test proves:
//!
//! * (a) `ffmpeg -i http://EDGE/live/KEY/index.m3u8 -t 8 -c copy out.mp4`
//!   exits 0 with H.264 + AAC;
//! * (b) playlists through the edge are never staler than the policy
//!   (`max-age=1`, whole-second validity in nginx: at most 2 s behind the
//!   origin; the exact rule is at [`check_staleness`]);
//! * (c) segments and init segments are a MISS once, then HITs (byte ranges
//!   too), with the origin's Cache-Control and CORS headers replayed;
//! * (d) 20 viewers asking for a just-listed segment at once cost the origin
//!   one request (request collapsing), and over the whole test every segment
//!   reached the origin once (once per distinct viewer `Origin` header:
//!   Weir's CORS `Vary` is honoured); 404s are not cached (`no-cache`);
//! * (e) the MPD through the edge: 200, the origin's content type, cached;
//! * (f) a key published, ended and published again (issue 12): the second
//!   instance's URIs are new to the edge (disjoint, MISS, the origin's
//!   bytes, never the first instance's cached ones), EXT-X-MEDIA-SEQUENCE
//!   through the edge never decreases, and the first instance's URIs keep
//!   their bytes (edge HITs):
//!   [`edge_republished_key_never_serves_first_instance_bytes`], ≈ 15 s.
//!
//! Origin requests are counted by [`CountingProxy`], a std-only TCP relay
//! between nginx and weir that counts request lines per path.
//!
//! nginx missing: the test says so on stderr and passes (scripts/test.sh
//! installs nginx-light). Every process is killed by PID on drop. ≈ 17 s.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common::mpd::tracks;
use common::{
    assets, ffprobe, hls, http_request, poll_every, poll_until, Ffmpeg, HttpResponse, Weir,
};
use edge::Edge;

const KEY: &str = "edge";
/// Playlists' `Cache-Control: max-age` at the origin (checked, not assumed).
const PLAYLIST_MAX_AGE_S: u64 = 1;
/// nginx stores validity in whole seconds: one more second of possible lag.
const NGINX_GRANULARITY: Duration = Duration::from_secs(1);
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
const SAMPLE_FOR: Duration = Duration::from_secs(12);
const VIEWERS: usize = 20;

// ---------------------------------------------------------------------------
// The edge: nginx running docker/edge/nginx.conf
// ---------------------------------------------------------------------------

/// Starting the caching edge of `docker/edge/nginx.conf` on an ephemeral
/// port in front of any origin. Self-contained so that it can move to
/// `tests/common` as is when another test wants an edge; players (hls.js in
/// the browser tests) only need [`Edge::url`].
pub mod edge {
    use std::io::{BufRead, BufReader, Read};
    use std::net::{SocketAddr, TcpListener};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::common::{http_get, poll_until, HttpResponse};

    /// The template, relative to the repository root.
    pub const TEMPLATE: &str = "docker/edge/nginx.conf";
    /// Its placeholders (what the nginx image's envsubst replaces).
    pub const ORIGIN: &str = "${EDGE_ORIGIN}";
    pub const LISTEN: &str = "${EDGE_LISTEN}";
    pub const CACHE_DIR: &str = "${EDGE_CACHE_DIR}";

    /// A running nginx edge. Dropping it stops nginx (SIGTERM to the master
    /// by PID, SIGKILL to the master and its workers by PID if it lingers).
    pub struct Edge {
        child: Child,
        pub addr: SocketAddr,
        pub dir: PathBuf,
        /// Worker, cache manager and cache loader PIDs (children of the
        /// master), for the SIGKILL fallback.
        helpers: Vec<u32>,
        stdout: Arc<Mutex<String>>,
        stderr: Arc<Mutex<String>>,
    }

    /// `/usr/sbin/nginx`, or `nginx` on PATH; `None` if neither exists.
    pub fn find_nginx() -> Option<PathBuf> {
        let debian = Path::new("/usr/sbin/nginx");
        if debian.is_file() {
            return Some(debian.to_path_buf());
        }
        std::env::var_os("PATH")?
            .to_str()?
            .split(':')
            .map(|d| Path::new(d).join("nginx"))
            .find(|p| p.is_file())
    }

    /// The template with its three placeholders replaced. Panics if one is
    /// missing or if any other `${…}` is left outside comments (envsubst in
    /// the nginx image would leave it there too and nginx would choke).
    pub fn render(template: &str, origin: &str, listen: &str, cache_dir: &str) -> String {
        for p in [ORIGIN, LISTEN, CACHE_DIR] {
            assert!(template.contains(p), "{TEMPLATE} lacks the placeholder {p}");
        }
        let out = template
            .replace(ORIGIN, origin)
            .replace(LISTEN, listen)
            .replace(CACHE_DIR, cache_dir);
        for line in out.lines() {
            let code = line.split('#').next().unwrap_or_default();
            assert!(
                !code.contains("${"),
                "unsubstituted placeholder in {TEMPLATE}: {line:?}"
            );
        }
        out
    }

    /// An ephemeral loopback port: bind port 0, read it, let it go.
    pub fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind 127.0.0.1:0")
            .port()
    }

    fn running_as_root() -> bool {
        // The effective UID is the second field of `Uid:`.
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
            })
            .unwrap_or(false)
    }

    fn children_of(pid: u32) -> Vec<u32> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&p| {
                std::fs::read_to_string(format!("/proc/{p}/stat"))
                    .ok()
                    .and_then(|s| {
                        // "pid (comm) state ppid …": comm may hold spaces.
                        let rest = &s[s.rfind(')')? + 1..];
                        rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                    })
                    == Some(pid)
            })
            .collect()
    }

    fn is_nginx(pid: u32) -> bool {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).starts_with("nginx"))
            .unwrap_or(false)
    }

    fn signal(sig: &str, pid: u32) {
        let _ = Command::new("kill")
            .args([sig, &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    fn drain<R: Read + Send + 'static>(r: R, into: Arc<Mutex<String>>) {
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines() {
                let Ok(line) = line else { break };
                let mut s = into.lock().unwrap_or_else(|e| e.into_inner());
                if s.len() < 8 << 20 {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
    }

    static INSTANCES: AtomicUsize = AtomicUsize::new(0);

    impl Edge {
        /// Starts `nginx` on the rendered template with origin `origin`,
        /// listening on an ephemeral 127.0.0.1 port, everything (config,
        /// cache, pid, error log) under `target/tmp/e2e-edge-PID-N/`. Waits
        /// (bounded) until `/healthz` answers through it. Retries on a new
        /// port if the free one was taken meanwhile.
        pub fn start(nginx: &Path, origin: SocketAddr) -> Edge {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let template = std::fs::read_to_string(root.join(TEMPLATE))
                .unwrap_or_else(|e| panic!("read {TEMPLATE}: {e}"));
            let n = INSTANCES.fetch_add(1, Ordering::Relaxed);
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("e2e-edge-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create the edge's dir");
            let dir_s = dir.to_str().expect("utf-8 target dir").to_string();
            let mut last_err = String::new();
            for _attempt in 0..3 {
                let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
                let conf = render(&template, &origin.to_string(), &addr.to_string(), &dir_s);
                let conf_path = dir.join("nginx.conf");
                std::fs::write(&conf_path, conf).expect("write nginx.conf");
                let mut globals = format!("daemon off; pid {dir_s}/nginx.pid; ");
                globals.push_str(&format!("error_log {dir_s}/error.log info;"));
                if running_as_root() {
                    // The workers would otherwise run as the build's default
                    // user, which may lack access to target/.
                    globals.push_str(" user root;");
                }
                let mut child = Command::new(nginx)
                    .arg("-p")
                    .arg(&dir)
                    .arg("-e")
                    .arg(dir.join("error.log"))
                    .arg("-c")
                    .arg(&conf_path)
                    .arg("-g")
                    .arg(&globals)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap_or_else(|e| panic!("spawn {}: {e}", nginx.display()));
                let stdout = Arc::new(Mutex::new(String::new()));
                let stderr = Arc::new(Mutex::new(String::new()));
                drain(child.stdout.take().expect("piped"), stdout.clone());
                drain(child.stderr.take().expect("piped"), stderr.clone());
                let mut edge = Edge {
                    child,
                    addr,
                    dir: dir.clone(),
                    helpers: Vec::new(),
                    stdout,
                    stderr,
                };
                let up = poll_until(Duration::from_secs(10), || {
                    if !edge.is_running() {
                        return Some(false);
                    }
                    let r = http_get(addr, "/healthz").ok()?;
                    (r.status == 200
                        && r.header("server").is_some_and(|s| s.starts_with("nginx"))
                        && r.body == b"ok")
                        .then_some(true)
                });
                if up == Some(true) {
                    // Every child the master forks at start (workers, cache
                    // manager and loader) exists once it answers.
                    edge.helpers = children_of(edge.child.id());
                    return edge;
                }
                last_err = format!(
                    "nginx on {addr} not up (running: {}):\n{}",
                    edge.is_running(),
                    edge.stderr()
                );
                // Dropping `edge` stops this attempt's nginx.
            }
            panic!("could not start the edge: {last_err}");
        }

        /// `http://127.0.0.1:PORT/PATH` (PATH starts with `/`).
        pub fn url(&self, path: &str) -> String {
            format!("http://{}{path}", self.addr)
        }

        /// Blocking GET through the edge; panics on a transport error.
        pub fn get(&self, path: &str) -> HttpResponse {
            http_get(self.addr, path).unwrap_or_else(|e| {
                panic!("GET {path} via edge: {e}\n--- nginx ---\n{}", self.stderr())
            })
        }

        pub fn pid(&self) -> u32 {
            self.child.id()
        }

        pub fn is_running(&mut self) -> bool {
            matches!(self.child.try_wait(), Ok(None))
        }

        /// The access log (`log_format edge`: `… cache=STATUS …`).
        pub fn access_log(&self) -> String {
            self.stdout
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        }

        /// nginx's stderr (notice and up).
        pub fn stderr(&self) -> String {
            self.stderr
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        }
    }

    impl Drop for Edge {
        fn drop(&mut self) {
            let master = self.child.id();
            let mut helpers = std::mem::take(&mut self.helpers);
            helpers.extend(children_of(master));
            if self.is_running() {
                // Fast shutdown: the master stops its workers and exits.
                signal("-TERM", master);
                let gone = poll_until(Duration::from_secs(5), || {
                    self.child.try_wait().ok().flatten()
                });
                if gone.is_none() {
                    let _ = self.child.kill();
                }
            }
            let _ = self.child.wait();
            for pid in helpers {
                if is_nginx(pid) {
                    signal("-KILL", pid);
                }
            }
            if std::thread::panicking() {
                eprintln!(
                    "\n--- nginx edge {} (pid {master}) stderr ---\n{}\n--- access log ---\n{}\
                     --- error log {}/error.log kept ---",
                    self.addr,
                    self.stderr(),
                    self.access_log(),
                    self.dir.display()
                );
            } else {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Counting TCP proxy between the edge and weir
// ---------------------------------------------------------------------------

/// Relays TCP connections to `upstream` and counts the HTTP requests that
/// cross it, per request target. A request is counted when its header block
/// has arrived, before it is forwarded, so a count read after the response
/// is complete.
struct CountingProxy {
    addr: SocketAddr,
    counts: Arc<Mutex<HashMap<String, u64>>>,
    stop: Arc<AtomicBool>,
}

impl CountingProxy {
    fn start(upstream: SocketAddr) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (counts.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(down) = conn else { continue };
                let Ok(up) = TcpStream::connect(upstream) else {
                    continue;
                };
                let _ = down.set_nodelay(true);
                let _ = up.set_nodelay(true);
                let counts = c.clone();
                let (down2, up2) = match (down.try_clone(), up.try_clone()) {
                    (Ok(d), Ok(u)) => (d, u),
                    _ => continue,
                };
                std::thread::spawn(move || relay_requests(down, up, &counts));
                std::thread::spawn(move || relay_plain(up2, down2));
            }
        });
        CountingProxy { addr, counts, stop }
    }

    fn count(&self, target: &str) -> u64 {
        let c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.get(target).copied().unwrap_or(0)
    }

    fn snapshot(&self) -> HashMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Viewer side → origin: parse header blocks (skipping any Content-Length
/// body), count `METHOD TARGET`, forward.
fn relay_requests(mut from: TcpStream, mut to: TcpStream, counts: &Mutex<HashMap<String, u64>>) {
    let mut pending: Vec<u8> = Vec::new();
    let mut body_left = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        loop {
            if body_left > 0 {
                let k = body_left.min(pending.len());
                pending.drain(..k);
                body_left -= k;
                if body_left > 0 {
                    break;
                }
                continue;
            }
            let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                break;
            };
            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let mut words = lines.next().unwrap_or_default().split_whitespace();
            let (_method, target) = (words.next(), words.next().unwrap_or("?").to_string());
            body_left = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            *counts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(target)
                .or_default() += 1;
            pending.drain(..end + 4);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn relay_plain(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

// ---------------------------------------------------------------------------
// Playlists
// ---------------------------------------------------------------------------

/// What a media playlist says about the live edge: `(MEDIA-SEQUENCE, number
/// of the last segment)`, compared as a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct LiveState {
    media_sequence: u64,
    last_segment: u64,
}

/// A media playlist read with m3u8-rs (`common::hls`); one that does not
/// parse is a failure.
fn media(playlist: &str) -> hls::Media {
    hls::parse_media(playlist).unwrap_or_else(|e| panic!("media playlist: {e}\n{playlist}"))
}

fn segment_uris(playlist: &str) -> Vec<String> {
    media(playlist)
        .segments
        .into_iter()
        .map(|s| s.uri)
        .collect()
}

/// `…/seg-N.m4s` → N.
fn segment_number(uri: &str) -> Option<u64> {
    uri.rsplit('/')
        .next()?
        .strip_prefix("seg-")?
        .strip_suffix(".m4s")?
        .parse()
        .ok()
}

fn live_state(playlist: &str) -> Option<LiveState> {
    let pl = media(playlist);
    if !pl.tag_counts.contains_key("#EXT-X-MEDIA-SEQUENCE") {
        return None;
    }
    let media_sequence = pl.media_sequence;
    let last_segment = segment_number(&pl.segments.last()?.uri)?;
    Some(LiveState {
        media_sequence,
        last_segment,
    })
}

fn base() -> String {
    format!("/live/{KEY}")
}

fn get_ok(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Option<HttpResponse> {
    http_request(addr, "GET", path, headers)
        .ok()
        .filter(|r| r.status == 200)
}

/// `HEAD path` (the common client expects a body): the response head.
fn head_request(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "HEAD {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send HEAD");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read HEAD response");
    String::from_utf8_lossy(&raw).into_owned()
}

fn cache_status(r: &HttpResponse) -> String {
    r.header("x-cache-status").unwrap_or("<none>").to_string()
}

// ---------------------------------------------------------------------------
// (b) Staleness sampling
// ---------------------------------------------------------------------------

/// One sample of video.m3u8. Origin samples are stamped when their response
/// has been read (the origin made it no later than that), edge samples when
/// their request is sent (the edge served it no earlier than that), so a
/// measured lag is never larger than the true one.
struct Sample {
    at: Instant,
    state: LiveState,
    cache: String,
}

struct Samples {
    origin: Vec<Sample>,
    edge: Vec<Sample>,
}

fn sample_playlists(origin: SocketAddr, edge: SocketAddr) -> Samples {
    let path = format!("{}/video.m3u8", base());
    let mut s = Samples {
        origin: Vec::new(),
        edge: Vec::new(),
    };
    let start = Instant::now();
    let mut tick = 0u32;
    while start.elapsed() < SAMPLE_FOR {
        let r = get_ok(origin, &path, &[]).expect("origin video.m3u8");
        let at = Instant::now();
        s.origin.push(Sample {
            at,
            state: live_state(&r.text()).expect("origin playlist parses"),
            cache: String::new(),
        });
        let at = Instant::now();
        let r = http_request(edge, "GET", &path, &[]).expect("edge video.m3u8");
        assert_eq!(r.status, 200, "edge video.m3u8: {}", r.text());
        s.edge.push(Sample {
            at,
            state: live_state(&r.text()).expect("edge playlist parses"),
            cache: cache_status(&r),
        });
        // A fixed cadence (the sampling itself, not a wait for a condition).
        tick += 1;
        let next = start + SAMPLE_EVERY * tick;
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    s
}

struct Staleness {
    max: Duration,
    mean: Duration,
    /// Edge samples older than the origin at that moment.
    behind: usize,
}

/// The rule: for each edge sample sent at `t`, every origin sample read at
/// or before `t - (max-age + 1 s)` must show a `(MEDIA-SEQUENCE, last
/// segment)` ≤ the edge's. The lag of an edge sample is how long the origin
/// had already been seen showing something newer: `t` minus the read time of
/// the earliest origin sample newer than it (0 if none). The rule is that
/// lag < max-age + 1 s. The edge also never goes backwards.
fn check_staleness(s: &Samples, bound: Duration) -> Staleness {
    let mut lags = Vec::new();
    let mut prev: Option<LiveState> = None;
    for e in &s.edge {
        if let Some(p) = prev {
            assert!(
                e.state >= p,
                "the edge went backwards: {p:?} then {e:?}",
                e = e.state
            );
        }
        prev = Some(e.state);
        let lag = s
            .origin
            .iter()
            .find(|o| o.at <= e.at && o.state > e.state)
            .map(|o| e.at - o.at)
            .unwrap_or_default();
        if lag >= bound {
            let around: Vec<String> = s
                .origin
                .iter()
                .filter(|o| o.at + bound * 2 >= e.at && o.at <= e.at)
                .map(|o| format!("{:?} at -{:?}", o.state, e.at - o.at))
                .collect();
            panic!(
                "edge playlist {:?} ({}) is {lag:?} behind the origin (bound {bound:?}); \
                 origin samples before it: {around:#?}",
                e.state, e.cache
            );
        }
        lags.push(lag);
    }
    let n = lags.len().max(1) as u32;
    Staleness {
        max: lags.iter().copied().max().unwrap_or_default(),
        mean: lags.iter().sum::<Duration>() / n,
        behind: lags.iter().filter(|l| !l.is_zero()).count(),
    }
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

/// The template renders, has no directive the harness passes with `-g`, and
/// `nginx -t` accepts it.
#[test]
fn edge_config_is_valid() {
    let Some(nginx) = edge::find_nginx() else {
        eprintln!("SKIPPED edge_config_is_valid: nginx is not installed");
        return;
    };
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(edge::TEMPLATE),
    )
    .expect("read the template");
    for line in template.lines() {
        let code = line.split('#').next().unwrap_or_default().trim();
        for d in ["daemon ", "pid ", "user "] {
            assert!(
                !code.starts_with(d),
                "{} must not set `{}` (given with -g): {line:?}",
                edge::TEMPLATE,
                d.trim()
            );
        }
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("e2e-edge-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let conf = edge::render(&template, "127.0.0.1:9", "127.0.0.1:9", d);
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let out = std::process::Command::new(&nginx)
        .arg("-t")
        .arg("-p")
        .arg(&dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf_path)
        .arg("-g")
        .arg(format!("pid {d}/nginx.pid; user root;"))
        .output()
        .expect("run nginx -t");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "nginx -t rejects the rendered template:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn edge_caches_by_origin_policy_and_collapses_requests() {
    let Some(nginx) = edge::find_nginx() else {
        eprintln!(
            "SKIPPED edge_caches_by_origin_policy_and_collapses_requests: nginx is not \
             installed (scripts/test.sh installs nginx-light)"
        );
        return;
    };
    let started = Instant::now();
    let asset = assets::small_av(30);

    // Drop order is the reverse: edge, proxy, publisher, weir.
    let mut weir = Weir::start(&[]);
    let mut publisher = Ffmpeg::publish(&asset, &weir.rtmp_url(KEY), true, &[]);
    let proxy = CountingProxy::start(weir.http_addr);
    let mut edge = Edge::start(&nginx, proxy.addr);
    let origin = weir.http_addr;
    eprintln!(
        "weir {origin} (pid {}), proxy {}, edge {} (pid {}), up after {:.1?}",
        weir.pid(),
        proxy.addr,
        edge.addr,
        edge.pid(),
        started.elapsed()
    );

    weir.wait_live(KEY);
    let vpath = format!("{}/video.m3u8", base());
    let first = poll_until(Duration::from_secs(20), || {
        let r = get_ok(origin, &vpath, &[])?;
        live_state(&r.text()).map(|_| r)
    })
    .expect("video.m3u8 lists a segment within 20 s of going live");
    assert_eq!(
        first.header("cache-control"),
        Some(format!("public, max-age={PLAYLIST_MAX_AGE_S}").as_str()),
        "the origin's playlist policy changed: update PLAYLIST_MAX_AGE_S"
    );

    // (b) runs beside everything else.
    let edge_addr = edge.addr;
    let sampler = std::thread::spawn(move || sample_playlists(origin, edge_addr));
    let sampler_started = proxy.count(&vpath);

    // (e) The MPD through the edge.
    let mpd_path = format!("{}/index.mpd", base());
    let mpd_origin = get_ok(origin, &mpd_path, &[]).expect("origin index.mpd");
    let mpd1 = edge.get(&mpd_path);
    let mpd2 = edge.get(&mpd_path);
    assert_eq!(mpd1.status, 200, "edge index.mpd: {}", mpd1.text());
    assert_eq!(mpd2.status, 200);
    assert_eq!(
        mpd1.header("content-type"),
        mpd_origin.header("content-type"),
        "edge and origin MPD content types"
    );
    assert_eq!(mpd1.header("content-type"), Some("application/dash+xml"));
    assert!(mpd1.text().contains("<MPD") && mpd1.text().contains("type=\"dynamic\""));
    assert_eq!(
        mpd2.header("x-cache-status"),
        Some("HIT"),
        "a second MPD request within max-age is a HIT"
    );
    assert_eq!(mpd1.header("cache-control"), Some("public, max-age=1"));
    let head = head_request(edge.addr, &mpd_path);
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "HEAD index.mpd via edge: {head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("\r\ndate: "),
        "HEAD index.mpd carries Date (UTCTiming http-head): {head}"
    );
    // The init segment the MPD names, through the edge.
    let mpd_text = mpd1.text();
    let audio_init = mpd_text
        .split("initialization=\"")
        .filter_map(|s| s.split('"').next())
        .find(|s| s.starts_with("audio/"))
        .expect("MPD names an audio init segment")
        .to_string();
    let r = edge.get(&format!("{}/{audio_init}", base()));
    assert_eq!(r.status, 200, "{audio_init} via edge");
    assert_eq!(r.header("content-type"), Some("audio/mp4"));

    // Playlist variants: gzip and identity are cached apart.
    let gz = http_request(edge.addr, "GET", &vpath, &[("Accept-Encoding", "gzip")]).unwrap();
    let plain = http_request(edge.addr, "GET", &vpath, &[]).unwrap();
    let gz2 = http_request(edge.addr, "GET", &vpath, &[("Accept-Encoding", "gzip")]).unwrap();
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz2.header("content-encoding"), Some("gzip"));
    assert_eq!(plain.header("content-encoding"), None, "identity variant");
    assert!(plain.text().starts_with("#EXTM3U"));

    // CORS through the edge: headers replayed on HITs, preflight answered.
    let preflight = http_request(
        edge.addr,
        "OPTIONS",
        &vpath,
        &[
            ("Origin", "http://player.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
    )
    .unwrap();
    assert!(
        (200..300).contains(&preflight.status),
        "preflight via edge: {}",
        preflight.status
    );
    assert!(preflight.header("access-control-allow-methods").is_some());

    // (c) MISS, then HIT, for the init segment and the first listed segment.
    let vtext = first.text();
    let init = media(&vtext).maps().first().cloned().expect("EXT-X-MAP");
    let seg = segment_uris(&vtext)[0].clone();
    let mut hit_checks = Vec::new();
    for uri in [init.as_str(), seg.as_str()] {
        let path = format!("{}/{uri}", base());
        let direct = get_ok(origin, &path, &[]).expect("origin object");
        let r1 = edge.get(&path);
        let r2 = edge.get(&path);
        let r3 = http_request(edge.addr, "GET", &path, &[("Range", "bytes=0-99")]).unwrap();
        let statuses = [cache_status(&r1), cache_status(&r2), cache_status(&r3)];
        assert_eq!(statuses, ["MISS", "HIT", "HIT"], "{path}");
        for r in [&r1, &r2] {
            assert_eq!(r.status, 200);
            assert_eq!(r.body, direct.body, "{path} via edge = origin bytes");
            assert_eq!(
                r.header("cache-control"),
                Some("public, max-age=31536000, immutable")
            );
            assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        }
        assert_eq!(r3.status, 206, "range via edge");
        assert_eq!(r3.body, direct.body[..100]);
        assert_eq!(
            r3.header("content-range"),
            Some(format!("bytes 0-99/{}", direct.body.len()).as_str())
        );
        assert_eq!(proxy.count(&path), 1, "origin requests for {path}");
        hit_checks.push(format!("{uri}: {statuses:?}"));
    }
    // A 404 (a segment not made yet) is no-cache at the origin: never
    // stored, each request asks the origin again.
    let missing = format!("{}/video/seg-999999.m4s", base());
    for _ in 0..2 {
        let r = edge.get(&missing);
        assert_eq!(r.status, 404);
        assert_eq!(r.header("cache-control"), Some("no-cache"));
    }
    assert_eq!(proxy.count(&missing), 2, "404s are not cached");

    // A viewer page on another site (Origin header): Weir's CORS Vary is
    // honoured, so that Origin gets its own copy, fetched once, and the
    // origin's CORS answer for it.
    let init_path = format!("{}/{init}", base());
    let site = [("Origin", "http://player.example")];
    let o1 = http_request(edge.addr, "GET", &init_path, &site).unwrap();
    let o2 = http_request(edge.addr, "GET", &init_path, &site).unwrap();
    for r in [&o1, &o2] {
        assert_eq!(r.status, 200);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert!(r.header("vary").is_some(), "Vary passed on");
    }
    assert_eq!(cache_status(&o2), "HIT", "second request of that Origin");
    let with_origin = proxy.count(&init_path);
    assert!(
        with_origin <= 2,
        "{init_path}: {with_origin} origin requests"
    );
    hit_checks.push(format!(
        "{init} with Origin: [{:?}, {:?}], origin requests {with_origin}",
        cache_status(&o1),
        cache_status(&o2)
    ));

    // (d) 20 viewers at once on a segment the moment the origin lists it.
    let before = live_state(&get_ok(origin, &vpath, &[]).unwrap().text()).unwrap();
    let new_uri = poll_every(Duration::from_secs(10), Duration::from_millis(10), || {
        let text = get_ok(origin, &vpath, &[])?.text();
        let st = live_state(&text)?;
        (st.last_segment > before.last_segment).then(|| segment_uris(&text).pop().unwrap())
    })
    .expect("a new segment within 10 s");
    let new_path = format!("{}/{new_uri}", base());
    assert_eq!(proxy.count(&new_path), 0, "nobody asked for {new_path} yet");
    let gate = Arc::new(Barrier::new(VIEWERS));
    let viewers: Vec<_> = (0..VIEWERS)
        .map(|_| {
            let (gate, path) = (gate.clone(), new_path.clone());
            std::thread::spawn(move || {
                gate.wait();
                let t = Instant::now();
                let r = http_request(edge_addr, "GET", &path, &[]).expect("viewer GET");
                (r, t.elapsed())
            })
        })
        .collect();
    let answers: Vec<(HttpResponse, Duration)> = viewers
        .into_iter()
        .map(|h| h.join().expect("viewer thread"))
        .collect();
    let direct = get_ok(origin, &new_path, &[]).expect("origin new segment");
    let mut burst: BTreeMap<String, usize> = BTreeMap::new();
    for (r, _) in &answers {
        assert_eq!(r.status, 200, "viewer of {new_path}");
        assert_eq!(r.body, direct.body, "viewer got the origin's bytes");
        *burst.entry(cache_status(r)).or_default() += 1;
    }
    let burst_origin = proxy.count(&new_path);
    let burst_slowest = answers.iter().map(|(_, d)| *d).max().unwrap();
    assert_eq!(
        burst_origin, 1,
        "origin requests for {new_path} after {VIEWERS} simultaneous viewers ({burst:?})"
    );
    assert_eq!(burst.get("MISS"), Some(&1), "{burst:?}");
    assert_eq!(burst.get("HIT"), Some(&(VIEWERS - 1)), "{burst:?}");

    // (a) ffmpeg plays the stream through the edge.
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("e2e-edge-{}-client.mp4", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let index_url = edge.url(&format!("{}/index.m3u8", base()));
    let ff_started = Instant::now();
    let mut client = Ffmpeg::spawn(&[
        "-y",
        "-i",
        &index_url,
        "-t",
        "8",
        "-c",
        "copy",
        out.to_str().unwrap(),
    ]);
    let status = client.wait_timeout(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "ffmpeg via the edge: {status:?}\n{}",
        client.stderr()
    );
    let ff_took = ff_started.elapsed();
    let p = out.to_str().unwrap();
    let codecs = ffprobe(&["-show_entries", "stream=codec_name", "-of", "csv=p=0", p]);
    let codecs: Vec<&str> = codecs.lines().map(str::trim).collect();
    assert!(
        codecs.contains(&"h264") && codecs.contains(&"aac"),
        "codecs {codecs:?}"
    );
    let duration: f64 = ffprobe(&["-show_entries", "format=duration", "-of", "csv=p=0", p])
        .trim()
        .parse()
        .expect("duration");
    assert!(duration >= 7.0, "client recording is {duration} s");
    let _ = std::fs::remove_file(&out);

    // (b) The staleness verdict.
    let samples = sampler.join().expect("sampler thread");
    let sampler_origin = proxy.count(&vpath) - sampler_started;
    let bound = Duration::from_secs(PLAYLIST_MAX_AGE_S) + NGINX_GRANULARITY;
    let st = check_staleness(&samples, bound);
    let mut pl_cache: BTreeMap<String, usize> = BTreeMap::new();
    for e in &samples.edge {
        *pl_cache.entry(e.cache.clone()).or_default() += 1;
    }
    // 48 at the nominal cadence; fewer only if the machine stalls.
    assert!(
        samples.edge.len() >= 30,
        "{} edge samples",
        samples.edge.len()
    );
    // One refresh per expiry (entries live 1–2 s) plus the rare viewer that
    // finds the same copy expired in the same instant.
    let window_s = SAMPLE_FOR.as_secs();
    assert!(
        sampler_origin <= 2 * window_s,
        "origin video.m3u8 fetches during {window_s} s: {sampler_origin}"
    );

    // Every segment and init segment reached the origin once in the whole
    // test (ffmpeg's requests included).
    let counts = proxy.snapshot();
    let mut media: Vec<(&String, &u64)> = counts
        .iter()
        .filter(|(p, _)| p.ends_with(".m4s") || p.ends_with(".mp4"))
        .collect();
    media.sort();
    assert!(
        media
            .iter()
            .all(|(p, &n)| n == 1 || (**p == init_path && n == with_origin) || **p == missing),
        "objects fetched from the origin more than once: {media:?}"
    );
    // How many paths the origin saw once, twice, ...
    let mut origin_per_path: BTreeMap<u64, usize> = BTreeMap::new();
    for (_, &n) in &media {
        *origin_per_path.entry(n).or_default() += 1;
    }
    let log = edge.access_log();
    let mut seg_cache: BTreeMap<String, usize> = BTreeMap::new();
    for line in log.lines() {
        let is_media = line.contains(".m4s ") || line.contains(".mp4 ");
        if let (true, Some(c)) = (is_media, line.split("cache=").nth(1)) {
            let c = c.split_whitespace().next().unwrap_or("?").to_string();
            *seg_cache.entry(c).or_default() += 1;
        }
    }
    let seg_total: usize = seg_cache.values().sum();
    let seg_hits = seg_cache.get("HIT").copied().unwrap_or(0);

    assert!(edge.is_running(), "nginx exited:\n{}", edge.stderr());
    weir.assert_healthy();
    assert!(
        match publisher.try_status() {
            None => true,
            Some(s) => s.success(),
        },
        "publisher failed: {}",
        publisher.stderr()
    );
    eprintln!(
        "e2e_edge figures:\n\
         (b) {} edge / {} origin samples of video.m3u8 every {SAMPLE_EVERY:?}; edge behind \
         origin in {} samples, lag max {:.3} s mean {:.3} s (bound {bound:?}); edge cache \
         statuses {pl_cache:?}; origin fetches of video.m3u8 in that window {sampler_origin}\n\
         (c) {hit_checks:?}\n\
         (d) {VIEWERS} viewers on {new_path}: {burst:?}, origin requests {burst_origin}, \
         slowest viewer {burst_slowest:.0?}\n\
         (a) ffmpeg via edge: {duration:.2} s of {codecs:?} in {ff_took:.1?}\n\
         origin requests per media path: {origin_per_path:?}; edge media requests \
         {seg_total}, HIT {seg_hits} ({:.0} %), statuses {seg_cache:?}\n\
         test time {:.1?}",
        samples.edge.len(),
        samples.origin.len(),
        st.behind,
        st.max.as_secs_f64(),
        st.mean.as_secs_f64(),
        100.0 * seg_hits as f64 / seg_total.max(1) as f64,
        started.elapsed()
    );
    drop(edge);
}

// ---------------------------------------------------------------------------
// (f) A key published again after its stream ended, through the edge
// ---------------------------------------------------------------------------

/// The key of the republish test (its own weir and edge).
const AGAIN_KEY: &str = "edgeagain";

/// What one media playlist response says: `EXT-X-MEDIA-SEQUENCE`, the
/// `EXT-X-MAP` URIs, the segment URIs, `EXT-X-ENDLIST`.
#[derive(Debug, Clone)]
struct MediaView {
    media_sequence: u64,
    maps: Vec<String>,
    segments: Vec<String>,
    endlist: bool,
}

impl MediaView {
    /// Read with m3u8-rs (`common::hls`).
    fn parse(text: &str) -> Result<MediaView, String> {
        let pl = hls::parse_media(text)?;
        if !pl.tag_counts.contains_key("#EXT-X-MEDIA-SEQUENCE") {
            return Err("no EXT-X-MEDIA-SEQUENCE".into());
        }
        Ok(MediaView {
            media_sequence: pl.media_sequence,
            maps: pl.maps(),
            segments: pl.segments.into_iter().map(|s| s.uri).collect(),
            endlist: pl.endlist,
        })
    }

    /// Media sequence number of the last listed segment.
    fn last_msn(&self) -> Option<u64> {
        (!self.segments.is_empty()).then(|| self.media_sequence + self.segments.len() as u64 - 1)
    }

    /// Server paths of every EXT-X-MAP and segment.
    fn paths(&self) -> Vec<String> {
        self.maps
            .iter()
            .chain(&self.segments)
            .map(|u| again_path(u))
            .collect()
    }
}

/// A playlist/MPD URI (relative to `/live/KEY/`, or absolute) → server path.
fn again_path(uri: &str) -> String {
    if uri.starts_with('/') {
        uri.to_string()
    } else {
        format!("/live/{AGAIN_KEY}/{}", uri.trim_start_matches("./"))
    }
}

/// `{inst}` of `/live/KEY/{video|audio}/{inst}/FILE` (continuity spec, URIs).
fn instance_of(path: &str) -> Option<String> {
    let rel = path.strip_prefix(&format!("/live/{AGAIN_KEY}/"))?;
    let parts: Vec<&str> = rel.split('/').collect();
    (parts.len() == 3 && matches!(parts[0], "video" | "audio") && !parts[1].is_empty())
        .then(|| parts[1].to_string())
}

/// What an MPD response says: dynamic and still updating (has
/// `minimumUpdatePeriod`), and the server paths of every SegmentTemplate
/// `initialization` and of `media` for every listed `S` (`@r` expanded).
#[derive(Debug, Clone)]
struct MpdView {
    updating: bool,
    dynamic: bool,
    ast: Option<String>,
    /// Per Representation: (init path, segment paths).
    tracks: Vec<(String, Vec<String>)>,
}

impl MpdView {
    /// Parsed with dash-mpd-core, timelines expanded by `common::mpd`.
    fn parse(text: &str) -> Result<MpdView, String> {
        let mpd = dash_mpd_core::parse(text).map_err(|e| format!("MPD does not parse: {e}"))?;
        let reps = mpd
            .periods
            .iter()
            .flat_map(|p| &p.adaptations)
            .map(|a| a.representations.len())
            .sum::<usize>();
        let all = tracks(&mpd);
        if all.len() != reps {
            return Err("Representation without SegmentTemplate".into());
        }
        let mut out = Vec::new();
        for t in &all {
            if t.init.is_empty() {
                return Err("no @initialization".into());
            }
            if t.media.is_empty() {
                return Err("no @media".into());
            }
            let segs = t
                .segs
                .iter()
                .enumerate()
                .map(|(i, &(time, _))| again_path(&t.fill(&t.media, t.number(i), time)))
                .collect();
            out.push((again_path(&t.fill(&t.init, 0, 0)), segs));
        }
        Ok(MpdView {
            updating: mpd.minimumUpdatePeriod.is_some(),
            dynamic: mpd.mpdtype.as_deref() == Some("dynamic"),
            ast: mpd.availabilityStartTime.map(|t| t.to_rfc3339()),
            tracks: out,
        })
    }

    fn paths(&self) -> Vec<String> {
        self.tracks
            .iter()
            .flat_map(|(i, s)| std::iter::once(i.clone()).chain(s.iter().cloned()))
            .collect()
    }
}

/// One look through the edge at `video.m3u8`, `audio.m3u8` and `index.mpd`
/// (the edge's answers only: what a player behind the CDN sees). Every 200
/// media playlist is appended to `seen` for the MEDIA-SEQUENCE check.
struct EdgeLook {
    video: Option<MediaView>,
    audio: Option<MediaView>,
    mpd: Option<MpdView>,
    mpd_text: String,
}

impl EdgeLook {
    fn take(edge: &Edge, t0: Instant, seen: &mut Vec<(f64, &'static str, u64, bool)>) -> EdgeLook {
        let base = format!("/live/{AGAIN_KEY}");
        let mut media = |name: &'static str| -> Option<MediaView> {
            let r = edge.get(&format!("{base}/{name}"));
            if r.status != 200 {
                return None;
            }
            let v = MediaView::parse(&r.text())
                .unwrap_or_else(|e| panic!("{name} via edge: {e}\n{}", r.text()));
            seen.push((
                t0.elapsed().as_secs_f64(),
                name,
                v.media_sequence,
                v.endlist,
            ));
            Some(v)
        };
        let video = media("video.m3u8");
        let audio = media("audio.m3u8");
        let r = edge.get(&format!("{base}/index.mpd"));
        let mpd_text = r.text();
        let mpd = (r.status == 200).then(|| {
            MpdView::parse(&mpd_text)
                .unwrap_or_else(|e| panic!("index.mpd via edge: {e}\n{mpd_text}"))
        });
        EdgeLook {
            video,
            audio,
            mpd,
            mpd_text,
        }
    }

    /// Every init and segment path listed by the three.
    fn paths(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for v in [&self.video, &self.audio].into_iter().flatten() {
            out.extend(v.paths());
        }
        if let Some(m) = &self.mpd {
            out.extend(m.paths());
        }
        out
    }
}

/// A fetch of one listed object: through the edge (first request: its
/// X-Cache-Status), and straight from the origin.
struct Fetched {
    edge_body: Vec<u8>,
    first_status: String,
}

/// GETs `path` through the edge (must be 200) and straight from the
/// origin; records a violation unless both bodies are equal.
fn fetch_listed(edge: &Edge, origin: SocketAddr, path: &str, fails: &mut Vec<String>) -> Fetched {
    let r = edge.get(path);
    if r.status != 200 {
        fails.push(format!(
            "{path} is listed but answers {} via the edge",
            r.status
        ));
    }
    let direct = http_get_or_panic(origin, path);
    if direct.status != 200 || direct.body != r.body {
        fails.push(format!(
            "{path}: the edge answers {} with {} bytes, the origin {} with {} bytes (different bodies: {})",
            r.status,
            r.body.len(),
            direct.status,
            direct.body.len(),
            direct.body != r.body
        ));
    }
    Fetched {
        first_status: cache_status(&r),
        edge_body: r.body,
    }
}

/// The second instance's publisher: 8 s, 1 s GOP like
/// `assets::small_av_gop1s(8)`, but other pictures (`testsrc`, 352×288)
/// and other sound (880 Hz, 44.1 kHz). Publishing the same file twice gives
/// byte-identical files (Weir's init segments and fragments carry nothing
/// instance-specific and each instance's timestamps start at 0), so "not
/// the bytes cached for instance 1" would fail on the origin's own correct
/// output; with other codec parameters and content every init and segment
/// of instance 2 differs from every one of instance 1 at the origin, and a
/// body equal to one of instance 1 can only be a cache mix-up.
fn second_instance_asset() -> std::path::PathBuf {
    common::asset(
        "edge-republish-testsrc352-880hz-gop1s-8s",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=352x288:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=880:sample_rate=44100",
            "-t",
            "8",
            "-map",
            "0:v",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "30",
            "-bf",
            "2",
            "-pix_fmt",
            "yuv420p",
            "-map",
            "1:a",
            "-c:a",
            "aac",
            "-b:a",
            "96k",
            "-ar",
            "44100",
            "-ac",
            "2",
        ],
    )
}

fn http_get_or_panic(addr: SocketAddr, path: &str) -> HttpResponse {
    http_request(addr, "GET", path, &[]).unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"))
}

/// (f) Issue 12 through the edge of `docker/edge/nginx.conf`: a key
/// published, ended, and published again. The edge caches every init and
/// segment of the first instance for a year (`immutable`, HTTP-02), so the
/// second instance must live under other URIs or the CDN would hand its
/// viewers the first instance's bytes:
///
/// 1. the second instance's URIs (`video/{inst}/…`, `audio/{inst}/…`) are
///    disjoint from the first's;
/// 2. each is a MISS at the edge when first asked for (the edge never held
///    it), reaches the origin once, and its body through the edge is the
///    origin's, never a body the edge cached for the first instance (the
///    second publisher sends other content with other codec parameters,
///    [`second_instance_asset`], so no such equality is legitimate);
/// 3. `EXT-X-MEDIA-SEQUENCE` as seen through the edge never decreases over
///    the whole test (HLS-PL-03, HLS-LIVE-08), and the second instance's
///    first playlist starts after the last msn of the first's ENDLIST
///    playlist (HLS-LIVE-09);
/// 4. the first instance's URIs still answer their original bytes through
///    the edge, from its cache (HIT, not refetched from the origin), and at
///    the origin for those its ended playlists and MPD list.
///
/// Weir runs with `--grace-period 1 --ended-retention 30
/// --end-on-unpublish false` (the default lifecycle with short timers).
#[test]
fn edge_republished_key_never_serves_first_instance_bytes() {
    let Some(nginx) = edge::find_nginx() else {
        eprintln!(
            "SKIPPED edge_republished_key_never_serves_first_instance_bytes: nginx is not \
             installed (scripts/test.sh installs nginx-light)"
        );
        return;
    };
    let t0 = Instant::now();
    let asset = assets::small_av_gop1s(8);
    let asset2 = second_instance_asset();
    let mut fails: Vec<String> = Vec::new();
    let mut seen: Vec<(f64, &'static str, u64, bool)> = Vec::new();

    // Drop order is the reverse: edge, proxy, publishers, weir.
    let mut weir = Weir::start(&[
        "--segment-duration",
        "1",
        "--grace-period",
        "1",
        "--ended-retention",
        "30",
        "--end-on-unpublish",
        "false",
    ]);
    let origin = weir.http_addr;
    let url = weir.rtmp_url(AGAIN_KEY);
    let mut first = Ffmpeg::publish(&asset, &url, true, &[]);
    let proxy = CountingProxy::start(origin);
    let mut edge = Edge::start(&nginx, proxy.addr);
    weir.wait_live(AGAIN_KEY);

    // Instance 1, live and then ended: every URI the edge lists is fetched
    // through the edge as soon as it is listed (the edge caches it), its
    // body recorded. Done when the edge shows ENDLIST in both media
    // playlists (HLS-LIVE-09) and an MPD that stopped updating (DASH-MPD-12);
    // the edge's copies lag the origin by < 2 s (max-age=1, HTTP-02).
    let mut old: BTreeMap<String, Fetched> = BTreeMap::new();
    let ended = poll_every(Duration::from_secs(25), Duration::from_millis(200), || {
        let look = EdgeLook::take(&edge, t0, &mut seen);
        for p in look.paths() {
            if let std::collections::btree_map::Entry::Vacant(e) = old.entry(p) {
                let f = fetch_listed(&edge, origin, e.key(), &mut fails);
                e.insert(f);
            }
        }
        let done = look.video.as_ref().is_some_and(|v| v.endlist)
            && look.audio.as_ref().is_some_and(|a| a.endlist)
            && look.mpd.as_ref().is_some_and(|m| !m.updating);
        done.then_some(look)
    });
    let Some(ended) = ended else {
        panic!(
            "instance 1 not ended through the edge within 25 s (ENDLIST in video.m3u8 and \
             audio.m3u8, MPD without minimumUpdatePeriod); edge playlists seen: {seen:?}"
        );
    };
    let st = first.wait_timeout(Duration::from_secs(5));
    assert!(
        st.is_some_and(|s| s.success()),
        "first publisher: {st:?}\n{}",
        first.stderr()
    );
    let ended_at = t0.elapsed();
    let (v1, a1) = (ended.video.clone().unwrap(), ended.audio.clone().unwrap());
    let last1 = [("video.m3u8", v1.last_msn()), ("audio.m3u8", a1.last_msn())];
    let inst1: BTreeSet<String> = old.keys().filter_map(|p| instance_of(p)).collect();
    for p in old.keys().filter(|p| instance_of(p).is_none()) {
        fails.push(format!(
            "instance-1 URI {p} is not /live/KEY/(video|audio)/INST/FILE"
        ));
    }
    let non_miss: Vec<(&String, &String)> = old
        .iter()
        .filter(|(_, f)| f.first_status != "MISS")
        .map(|(p, f)| (p, &f.first_status))
        .collect();
    if !non_miss.is_empty() {
        fails.push(format!(
            "instance-1 objects not a MISS when first asked for: {non_miss:?}"
        ));
    }
    let old_bodies: HashMap<&[u8], &String> = old
        .iter()
        .map(|(p, f)| (f.edge_body.as_slice(), p))
        .collect();

    // Instance 2: the same key published again after the end.
    let second_started = t0.elapsed();
    let mut second = Ffmpeg::publish(&asset2, &url, true, &[]);
    // Live again through the edge: both media playlists without ENDLIST
    // and listing a segment, the MPD updating again and listing one per
    // Representation. (Conditions that do not presuppose new URIs.)
    let live2 = poll_every(Duration::from_secs(20), Duration::from_millis(200), || {
        let look = EdgeLook::take(&edge, t0, &mut seen);
        let live = |v: &Option<MediaView>| {
            v.as_ref()
                .is_some_and(|v| !v.endlist && !v.segments.is_empty())
        };
        let mpd_live = look.mpd.as_ref().is_some_and(|m| {
            m.updating && m.dynamic && m.tracks.iter().all(|(_, s)| !s.is_empty())
        });
        (live(&look.video) && live(&look.audio) && mpd_live).then_some(look)
    });
    let Some(live2) = live2 else {
        panic!("instance 2 not live through the edge within 20 s; edge playlists seen: {seen:?}");
    };
    let live2_at = t0.elapsed();
    let new_paths = live2.paths();
    let mut new: BTreeMap<String, Fetched> = BTreeMap::new();
    for p in &new_paths {
        if old.contains_key(p) {
            continue; // reported by (1); fetching it would prove nothing.
        }
        let f = fetch_listed(&edge, origin, p, &mut fails);
        new.insert(p.clone(), f);
    }
    second.kill9();

    // (1) Disjoint URI sets, on another instance path element (HTTP-02:
    // an immutable URI is never reused for other bytes).
    let shared: Vec<&String> = new_paths.iter().filter(|p| old.contains_key(*p)).collect();
    if !shared.is_empty() {
        fails.push(format!(
            "{} URIs listed by both instances (the edge serves instance 1's cached bytes for them): {shared:?}",
            shared.len()
        ));
    }
    let inst2: BTreeSet<String> = new_paths.iter().filter_map(|p| instance_of(p)).collect();
    if inst1.len() != 1 || inst2.len() != 1 || !inst1.is_disjoint(&inst2) {
        fails.push(format!(
            "instance path elements: first {inst1:?}, second {inst2:?}; want one each, different"
        ));
    }

    // (2) Each new object: a MISS at the edge (never cached before), one
    // origin request, the origin's bytes (checked in fetch_listed), and not
    // a body the edge cached for instance 1.
    for (p, f) in &new {
        if f.first_status != "MISS" {
            fails.push(format!(
                "{p} (instance 2) was {} at the edge on its first request, want MISS",
                f.first_status
            ));
        }
        let n = proxy.count(p);
        if n != 1 {
            fails.push(format!(
                "{p} (instance 2) reached the origin {n} times, want 1"
            ));
        }
        if let Some(old_p) = old_bodies.get(f.edge_body.as_slice()) {
            fails.push(format!(
                "{p} (instance 2) answers, through the edge, the {} bytes cached for {old_p} (instance 1)",
                f.edge_body.len()
            ));
        }
    }

    // (3) MEDIA-SEQUENCE through the edge never decreases (HLS-PL-03), across
    // the end and the new instance (HLS-LIVE-08: never reset); the new
    // instance's first playlist starts after the first's last msn.
    for name in ["video.m3u8", "audio.m3u8"] {
        let mut prev: Option<(f64, u64)> = None;
        for &(at, n, ms, _) in seen.iter().filter(|s| s.1 == name) {
            if let Some((pat, pms)) = prev {
                if ms < pms {
                    fails.push(format!(
                        "{name} via the edge: EXT-X-MEDIA-SEQUENCE {pms} at {pat:.2} s, then {ms} at {at:.2} s ({n})"
                    ));
                }
            }
            prev = Some((at, ms));
        }
    }
    for ((name, last), v2) in last1.iter().zip([&live2.video, &live2.audio]) {
        let ms2 = v2.as_ref().map(|v| v.media_sequence);
        // The first instance-2 playlist the edge served (no ENDLIST after the
        // first ENDLIST), not just the one the poll stopped on.
        let first2 = seen
            .iter()
            .filter(|s| s.1 == *name && s.0 > second_started.as_secs_f64() && !s.3)
            .map(|s| s.2)
            .next();
        if !(last.is_some() && first2 > *last && ms2 > *last) {
            fails.push(format!(
                "{name} via the edge: instance 2 starts at EXT-X-MEDIA-SEQUENCE {first2:?} \
                 (then {ms2:?}), instance 1 ended at msn {last:?}; want it after (HLS-PL-03)"
            ));
        }
    }

    // (4) Instance 1's URIs still answer their original bytes through the
    // edge — from its cache, without the origin (HTTP-02 immutable;
    // HLS-LIVE-04/09: an ended stream's segments stay available).
    let ended_paths = ended.paths();
    let mut old_hits = 0;
    for (p, f) in &old {
        let r = edge.get(p);
        if r.status != 200 || r.body != f.edge_body {
            fails.push(format!(
                "{p} (instance 1) answers {} with {} bytes through the edge, had {} bytes",
                r.status,
                r.body.len(),
                f.edge_body.len()
            ));
        }
        if cache_status(&r) == "HIT" && proxy.count(p) == 1 {
            old_hits += 1;
        } else {
            fails.push(format!(
                "{p} (instance 1) is {} at the edge with {} origin requests, want a HIT after 1",
                cache_status(&r),
                proxy.count(p)
            ));
        }
        // The origin too, for what the ended playlists and MPD list
        // (--ended-retention 30). Segments that slid out of the live window
        // earlier may be gone there (HLS-LIVE-04: available for their
        // Availability Duration), while the edge keeps them (immutable).
        if !ended_paths.contains(p) {
            continue;
        }
        let direct = http_get_or_panic(origin, p);
        if direct.status != 200 || direct.body != f.edge_body {
            fails.push(format!(
                "{p} (instance 1) answers {} with {} bytes at the origin, had {} bytes",
                direct.status,
                direct.body.len(),
                f.edge_body.len()
            ));
        }
    }

    let m1_ast = ended.mpd.as_ref().and_then(|m| m.ast.clone());
    let m2_ast = live2.mpd.as_ref().and_then(|m| m.ast.clone());
    assert!(edge.is_running(), "nginx exited:\n{}", edge.stderr());
    weir.assert_healthy();
    eprintln!(
        "e2e_edge republish figures: instance {inst1:?} ({} URIs, ENDLIST via edge at {:.1} s, \
         last msn {last1:?}) → {inst2:?} ({} URIs, live via edge {:.1} s after the second \
         publish, EXT-X-MEDIA-SEQUENCE video {:?} audio {:?}); MPD availabilityStartTime \
         {m1_ast:?} → {m2_ast:?}; instance-1 HITs afterwards {old_hits}/{}; {} edge playlist \
         samples; test time {:.1?}",
        old.len(),
        ended_at.as_secs_f64(),
        new.len(),
        (live2_at - second_started).as_secs_f64(),
        live2.video.as_ref().map(|v| v.media_sequence),
        live2.audio.as_ref().map(|v| v.media_sequence),
        old.len(),
        seen.len(),
        t0.elapsed()
    );
    if !fails.is_empty() {
        fails.push(format!(
            "--- edge MPD, instance 1 ended ---\n{}\n--- edge MPD, instance 2 ---\n{}\n--- edge playlist samples (s, name, MEDIA-SEQUENCE, ENDLIST) ---\n{seen:?}",
            ended.mpd_text, live2.mpd_text
        ));
    }
    assert!(
        fails.is_empty(),
        "edge_republished_key_never_serves_first_instance_bytes: {} violation(s):\n\n{}",
        fails.len(),
        fails.join("\n\n")
    );
    drop(edge);
}
