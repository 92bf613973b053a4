//! The RTMP listener: one task per connection drives a sans-IO `weir_rtmp::Session`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngCore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{debug, info, info_span, warn, Instrument};
use weir_rtmp::{
    ChunkError, Event, PublishRequest, Session, SessionConfig, SessionError, UnpublishReason,
};

use crate::auth::{PublishAuthorizer, Refusal};
use crate::registry::{ClaimError, Registry};
use crate::stream::lifecycle::Departure;
use crate::stream::Stream;
use crate::telemetry::{Metrics, RtmpErrorKind};

/// Writes that take longer than this mean the peer stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Socket read size; also bounds how much unparsed input one read adds.
const READ_BUF: usize = 64 * 1024;
/// Reads of already-queued input taken before replies are written (16 ×
/// 64 KiB: 1 MiB, half a second of a 16 Mb/s publish).
const DRAIN_READS: usize = 16;
/// Capture files stop growing here.
const CAPTURE_LIMIT: usize = 256 << 20;

pub struct Ingest {
    pub registry: Arc<Registry>,
    /// Connections, bytes, errors, publishers and segment publish delays.
    pub metrics: Arc<Metrics>,
    pub limits: weir_rtmp::Limits,
    pub capture_dir: Option<PathBuf>,
    pub authorizer: PublishAuthorizer,
    pub max_streams: usize,
    /// Becomes true when the server shuts down.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

pub async fn serve(listener: TcpListener, ingest: Arc<Ingest>) {
    let permits = Arc::new(Semaphore::new(ingest.limits.max_connections));
    let ids = AtomicU64::new(1);
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            warn!(%peer, limit = ingest.limits.max_connections, "connection limit reached; closing");
            ingest.metrics.rtmp_error(RtmpErrorKind::ConnectionLimit);
            drop(socket);
            continue;
        };
        let conn = ids.fetch_add(1, Ordering::Relaxed);
        let ingest = ingest.clone();
        let span = info_span!("rtmp", conn, %peer, app = tracing::field::Empty, key = tracing::field::Empty);
        tokio::spawn(
            async move {
                let _permit = permit;
                let _open = ingest.metrics.rtmp_connection();
                let _ = socket.set_nodelay(true);
                Connection::new(ingest, peer, conn).run(socket).await;
            }
            .instrument(span),
        );
    }
}

/// A stream this connection publishes.
struct Publishing {
    stream_id: u32,
    stream: Arc<Stream>,
    generation: u64,
}

struct Connection {
    ingest: Arc<Ingest>,
    peer: SocketAddr,
    conn: u64,
    session: Session,
    publishing: Vec<Publishing>,
    /// Publish requests waiting for the authorizer (keys, callback).
    pending_auth: Vec<PublishRequest>,
    /// Close once pending output is written (a rejected publish).
    close_after_flush: bool,
    capture: Option<Vec<u8>>,
}

impl Connection {
    fn new(ingest: Arc<Ingest>, peer: SocketAddr, conn: u64) -> Self {
        let mut random = [0u8; 1528];
        rand::rng().fill_bytes(&mut random);
        let config = SessionConfig {
            limits: ingest.limits.clone(),
            handshake_random: random,
            epoch_ms: 0,
            ..SessionConfig::default()
        };
        let capture = ingest.capture_dir.as_ref().map(|_| Vec::new());
        Connection {
            session: Session::new(config, Instant::now()),
            ingest,
            peer,
            conn,
            publishing: Vec::new(),
            pending_auth: Vec::new(),
            close_after_flush: false,
            capture,
        }
    }

    async fn run(mut self, mut socket: TcpStream) {
        debug!("connection open");
        let mut buf = vec![0u8; READ_BUF];
        let mut shutdown = self.ingest.shutdown.clone();
        let outcome: Result<&'static str, SessionError> = loop {
            let deadline = self.session.poll_timeout();
            let read = tokio::select! {
                r = socket.read(&mut buf) => Some(Some(r)),
                _ = sleep_until(deadline) => Some(None),
                r = shutdown.wait_for(|stop| *stop) => {
                    drop(r);
                    None
                }
            };
            let Some(read) = read else {
                // ERTMP-08: an E-RTMP publisher reconnects by itself (to this
                // server once it is back, or to another one).
                self.session
                    .request_reconnect(None, "the server is restarting");
                let _ = self.flush(&mut socket).await;
                break Ok("server shutting down");
            };
            let mut peer_closed = false;
            let step = match read {
                Some(Ok(0)) => break Ok("peer closed the connection"),
                Some(Ok(n)) => {
                    let mut step = self.input(buf.get(..n).unwrap_or_default());
                    // Read what is already queued before answering: a
                    // publisher that writes its last bytes and closes at once
                    // (ffmpeg without -re) resets the connection when our
                    // reply (an Acknowledgement) reaches it closed, and the
                    // kernel then drops the media still queued here. Bounded,
                    // so a fast peer cannot hold our replies back for long.
                    for _ in 0..DRAIN_READS {
                        if step.is_err() {
                            break;
                        }
                        match socket.try_read(&mut buf) {
                            Ok(0) => {
                                peer_closed = true;
                                break;
                            }
                            Ok(n) => step = self.input(buf.get(..n).unwrap_or_default()),
                            Err(_) => break,
                        }
                    }
                    step
                }
                Some(Err(e)) => {
                    debug!(error = %e, "read failed");
                    self.ingest.metrics.rtmp_error(RtmpErrorKind::Io);
                    break Ok("connection reset");
                }
                None => self.session.handle_timeout(Instant::now()),
            };
            // Act on events and write replies even when the step failed, so a
            // peer learns why it is being closed where the protocol allows.
            let mut step = step.and(self.handle_events());
            // Publish decisions can wait on the callback; the session holds
            // the input behind each request until it is answered.
            while step.is_ok() && !self.pending_auth.is_empty() {
                let req = self.pending_auth.remove(0);
                step = self.decide_publish(req).await.and(self.handle_events());
            }
            if let Err(e) = self.flush(&mut socket).await {
                debug!(error = %e, "write failed");
                self.ingest.metrics.rtmp_error(RtmpErrorKind::Io);
                break Ok("write failed");
            }
            if let Err(e) = step {
                break Err(e);
            }
            if self.close_after_flush {
                break Ok("publish rejected");
            }
            if peer_closed {
                break Ok("peer closed the connection");
            }
        };
        match &outcome {
            Ok(why) => info!(reason = why, "connection closed"),
            Err(e) => warn!(error = %e, "connection closed on error"),
        }
        if let Err(e) = &outcome {
            self.ingest.metrics.rtmp_error(error_kind(e));
            for p in &self.publishing {
                p.stream.set_error(e.to_string());
            }
        }
        // Every teardown path ends here (RTMP-CMD-07).
        self.session.close();
        let _ = self.handle_events();
        if !self.publishing.is_empty() {
            self.ingest.metrics.publisher_stopped();
        }
        let _ = socket.shutdown().await;
        self.write_capture().await;
    }

    /// Bytes read from the peer, into the session.
    fn input(&mut self, data: &[u8]) -> Result<(), SessionError> {
        self.ingest.metrics.ingest_bytes(data.len());
        if let Some(c) = self.capture.as_mut() {
            if c.len() + data.len() <= CAPTURE_LIMIT {
                c.extend_from_slice(data);
            }
        }
        self.session.handle_input(Instant::now(), data)
    }

    async fn flush(&mut self, socket: &mut TcpStream) -> std::io::Result<()> {
        while let Some(out) = self.session.poll_transmit() {
            tokio::time::timeout(WRITE_TIMEOUT, socket.write_all(&out))
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "peer not reading")
                })??;
        }
        Ok(())
    }

    /// Acts on every queued event. Answering a publish request lets the session
    /// decode the input queued behind it, which can fail like `handle_input`.
    fn handle_events(&mut self) -> Result<(), SessionError> {
        let result = Ok(());
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Media {
                    stream_id,
                    kind,
                    timestamp,
                    payload,
                } => {
                    if let Some(p) = self.publishing.iter().find(|p| p.stream_id == stream_id) {
                        let listed = p.stream.push_media(kind, timestamp, payload);
                        self.ingest
                            .metrics
                            .segments_listed(listed.segments, listed.delay);
                    }
                }
                Event::Connected {
                    app,
                    flash_ver,
                    fourcc_list,
                    ..
                } => {
                    tracing::Span::current().record("app", app.as_str());
                    info!(app, flash_ver, ?fourcc_list, "connected");
                }
                Event::PublishRequested(req) => {
                    tracing::Span::current().record("key", req.key.as_str());
                    self.pending_auth.push(req);
                }
                Event::Metadata { stream_id, value } => {
                    debug!(stream_id, ?value, "metadata");
                }
                Event::Unpublished {
                    stream_id, reason, ..
                } => {
                    if let Some(i) = self
                        .publishing
                        .iter()
                        .position(|p| p.stream_id == stream_id)
                    {
                        let p = self.publishing.swap_remove(i);
                        if self.publishing.is_empty() {
                            self.ingest.metrics.publisher_stopped();
                        }
                        info!(?reason, "unpublished");
                        let how = match reason {
                            UnpublishReason::ConnectionClosed => Departure::Abrupt,
                            _ => Departure::Graceful,
                        };
                        self.ingest
                            .registry
                            .release(&p.stream, p.generation, how, Instant::now());
                    }
                }
            }
        }
        result
    }

    /// Authorize, then claim the key (one publisher per key).
    async fn decide_publish(&mut self, req: PublishRequest) -> Result<(), SessionError> {
        let auth = self
            .ingest
            .authorizer
            .authorize(&req.app, &req.key, req.query.as_deref(), self.peer)
            .await;
        if let Err(refusal) = auth {
            // Never the query itself: it holds the publisher's secret.
            warn!(reason = %refusal, "publish refused");
            let code = match refusal {
                Refusal::UnknownApp(_) => "NetStream.Publish.BadName",
                _ => "NetStream.Publish.Unauthorized",
            };
            self.close_after_flush = true;
            return self
                .session
                .reject_publish(req.stream_id, code, &refusal.to_string());
        }
        match self.ingest.registry.claim(
            &req.app,
            &req.key,
            self.peer,
            self.ingest.max_streams,
            Instant::now(),
        ) {
            Ok((stream, generation)) => {
                info!(app = %req.app, key = %req.key, publish_type = %req.publish_type, "publishing");
                if self.publishing.is_empty() {
                    self.ingest.metrics.publisher_started();
                }
                self.publishing.push(Publishing {
                    stream_id: req.stream_id,
                    stream,
                    generation,
                });
                self.session.accept_publish(req.stream_id)
            }
            Err(e) => {
                warn!(error = %e, "publish rejected");
                let code = match e {
                    ClaimError::AlreadyLive { .. } => "NetStream.Publish.BadName",
                    ClaimError::TooManyStreams(_) => "NetStream.Publish.Rejected",
                };
                self.close_after_flush = true;
                self.session
                    .reject_publish(req.stream_id, code, &e.to_string())
            }
        }
    }

    async fn write_capture(&mut self) {
        if let (Some(dir), Some(bytes)) = (&self.ingest.capture_dir, self.capture.take()) {
            let path = dir.join(format!("{}.rtmp", self.conn));
            if let Err(e) = tokio::fs::write(&path, bytes).await {
                warn!(error = %e, path = %path.display(), "capture not written");
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// The `weir_rtmp_connection_errors_total` kind of the error a session
/// ended with.
fn error_kind(e: &SessionError) -> RtmpErrorKind {
    match e {
        SessionError::Handshake(_) => RtmpErrorKind::Handshake,
        SessionError::HandshakeTimeout(_) => RtmpErrorKind::HandshakeTimeout,
        SessionError::IdleTimeout(_) => RtmpErrorKind::IdleTimeout,
        SessionError::TooManyStreams { .. } => RtmpErrorKind::LimitExceeded,
        SessionError::Chunk(c) => match c {
            ChunkError::MessageTooLarge { .. }
            | ChunkError::ChunkSizeBelowFloor { .. }
            | ChunkError::TooManyChunkStreams { .. }
            | ChunkError::ReassemblyLimit { .. } => RtmpErrorKind::LimitExceeded,
            ChunkError::InvalidChunkSize(_)
            | ChunkError::NoPreviousHeader { .. }
            | ChunkError::HeaderInsideMessage { .. } => RtmpErrorKind::Protocol,
        },
        SessionError::Command(_) | SessionError::Closed => RtmpErrorKind::Protocol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds() {
        use weir_rtmp::handshake::HandshakeError;
        let cases = [
            (
                SessionError::Handshake(HandshakeError::BadVersion(b'G')),
                "handshake",
            ),
            (
                SessionError::HandshakeTimeout(Duration::from_secs(1)),
                "handshake_timeout",
            ),
            (
                SessionError::IdleTimeout(Duration::from_secs(1)),
                "idle_timeout",
            ),
            (
                SessionError::Chunk(ChunkError::MessageTooLarge { size: 2, limit: 1 }),
                "limit_exceeded",
            ),
            (
                SessionError::Chunk(ChunkError::InvalidChunkSize(0)),
                "protocol",
            ),
            (SessionError::TooManyStreams { limit: 1 }, "limit_exceeded"),
            (SessionError::Closed, "protocol"),
        ];
        for (e, want) in cases {
            assert_eq!(error_kind(&e).as_str(), want, "{e}");
        }
    }
}
