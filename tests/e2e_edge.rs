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
//! * (e) the MPD through the edge: 200, the origin's content type, cached.
//!
//! Origin requests are counted by [`CountingProxy`], a std-only TCP relay
//! between nginx and weir that counts request lines per path.
//!
//! nginx missing: the test says so on stderr and passes (scripts/test.sh
//! installs nginx-light). Every process is killed by PID on drop. ≈ 17 s.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common::{assets, ffprobe, http_request, poll_every, poll_until, Ffmpeg, HttpResponse, Weir};
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

fn segment_uris(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
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
    let media_sequence = playlist
        .lines()
        .find_map(|l| l.trim().strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))?
        .trim()
        .parse()
        .ok()?;
    let last_segment = segment_number(segment_uris(playlist).last()?)?;
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
    let init = vtext
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
        .and_then(|s| s.split('"').next())
        .expect("EXT-X-MAP")
        .to_string();
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
