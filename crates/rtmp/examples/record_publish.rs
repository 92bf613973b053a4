//! Record one RTMP publish byte for byte, for test fixtures and benchmarks.
//!
//! ```text
//! cargo run -p weir-rtmp --example record_publish -- \
//!     --listen 127.0.0.1:0 --out capture.rtmp [--max-bytes N]
//! ```
//!
//! A std-only (no async runtime) single-connection RTMP server on
//! [`weir_rtmp::Session`]: it binds `--listen`, prints the bound port alone on
//! the first line of stdout (so a script can pass port 0 and read it back),
//! accepts one connection, answers the handshake and commands and accepts the
//! publish. Every byte received from the client, from the first C0 byte on,
//! is appended to `--out`. It stops at the client's EOF, when `--max-bytes`
//! have been recorded, or on a session error (what was received is kept), and
//! prints a summary to stderr.
//!
//! The capture replays into a fresh `Session` with the default
//! [`SessionConfig`]: the server's handshake bytes never influence what the
//! client sends after C2 (C2 is never rejected, RTMP-HS-04).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use weir_rtmp::{Event, MediaKind, Session, SessionConfig};

struct Args {
    listen: String,
    out: String,
    max_bytes: u64,
}

const USAGE: &str = "usage: record_publish --listen ADDR:PORT --out FILE [--max-bytes N]";

fn parse_args() -> Result<Args, String> {
    let mut listen = None;
    let mut out = None;
    let mut max_bytes = u64::MAX;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => listen = Some(value("--listen")?),
            "--out" => out = Some(value("--out")?),
            "--max-bytes" => {
                let v = value("--max-bytes")?;
                max_bytes = v.parse().map_err(|e| format!("--max-bytes {v:?}: {e}"))?;
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Args {
        listen: listen.ok_or(format!("--listen is required\n{USAGE}"))?,
        out: out.ok_or(format!("--out is required\n{USAGE}"))?,
        max_bytes,
    })
}

#[derive(Default)]
struct Stats {
    recorded: u64,
    audio: u64,
    video: u64,
    publishes: u64,
}

/// Why recording stopped.
enum Stop {
    Eof,
    MaxBytes,
    SessionError(String),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("record_publish: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let listener = TcpListener::bind(&args.listen)?;
    let port = listener.local_addr()?.port();
    {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "{port}")?;
        stdout.flush()?;
    }
    let (mut sock, peer) = listener.accept()?;
    eprintln!("record_publish: connection from {peer}");
    sock.set_nodelay(true)?;
    let mut out = BufWriter::new(File::create(&args.out)?);
    let mut stats = Stats::default();
    let stop = record(&mut sock, &mut out, args.max_bytes, &mut stats)?;
    out.flush()?;
    let why = match stop {
        Stop::Eof => "client EOF".to_owned(),
        Stop::MaxBytes => format!("--max-bytes {} reached", args.max_bytes),
        Stop::SessionError(e) => format!("session error: {e}"),
    };
    eprintln!(
        "record_publish: {} bytes to {} ({why}); {} publish(es), {} video and {} audio messages",
        stats.recorded, args.out, stats.publishes, stats.video, stats.audio
    );
    Ok(())
}

fn record(
    sock: &mut TcpStream,
    out: &mut impl Write,
    max_bytes: u64,
    stats: &mut Stats,
) -> io::Result<Stop> {
    let mut session = Session::new(SessionConfig::default(), Instant::now());
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Wake up for the session's deadlines even when the peer is silent.
        let wait = session
            .poll_timeout()
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        sock.set_read_timeout(Some(wait))?;
        let n = match sock.read(&mut buf) {
            Ok(0) => {
                session.close();
                report_events(&mut session, stats);
                return Ok(Stop::Eof);
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if let Err(e) = session.handle_timeout(Instant::now()) {
                    session.close();
                    return Ok(Stop::SessionError(e.to_string()));
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let room = max_bytes.saturating_sub(stats.recorded);
        let keep = usize::try_from(room).unwrap_or(usize::MAX).min(n);
        let data = buf.get(..keep).unwrap_or_default();
        out.write_all(data)?;
        stats.recorded += keep as u64;

        let result = session.handle_input(Instant::now(), data);
        // Replies first (also after an error: they may explain it to the peer).
        while let Some(bytes) = session.poll_transmit() {
            sock.write_all(&bytes)?;
        }
        report_events(&mut session, stats);
        if let Err(e) = result {
            session.close();
            return Ok(Stop::SessionError(e.to_string()));
        }
        if stats.recorded >= max_bytes {
            session.close();
            return Ok(Stop::MaxBytes);
        }
        // Accepting a publish queues StreamBegin + onStatus.
        while let Some(bytes) = session.poll_transmit() {
            sock.write_all(&bytes)?;
        }
    }
}

fn report_events(session: &mut Session, stats: &mut Stats) {
    while let Some(event) = session.poll_event() {
        match event {
            Event::PublishRequested(req) => {
                eprintln!(
                    "record_publish: publish {}/{} ({}) accepted",
                    req.app, req.key, req.publish_type
                );
                stats.publishes += 1;
                if let Err(e) = session.accept_publish(req.stream_id) {
                    eprintln!("record_publish: input after publish failed: {e}");
                }
            }
            Event::Media { kind, .. } => match kind {
                MediaKind::Audio => stats.audio += 1,
                MediaKind::Video => stats.video += 1,
            },
            Event::Connected { app, tc_url, .. } => {
                eprintln!("record_publish: connect app={app:?} tcUrl={tc_url:?}");
            }
            Event::Metadata { .. } => eprintln!("record_publish: onMetaData"),
            Event::Unpublished { key, reason, .. } => {
                eprintln!("record_publish: unpublish {key} ({reason:?})");
            }
        }
    }
}
