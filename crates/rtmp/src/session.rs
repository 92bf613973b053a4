//! The server side of one RTMP connection, as a state machine with no I/O.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tracing::{debug, trace, warn};

use crate::amf0::{self, Amf0Value};
use crate::chunk::{ChunkDecoder, ChunkEncoder, ChunkError, Message};
use crate::command::{self, Command, CommandError};
use crate::handshake::{HandshakeError, HandshakeProgress, ServerHandshake};
use crate::limits::Limits;
use crate::message::{self, csid, types, user_control, LimitType};

/// Settings for one session.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub limits: Limits,
    /// Window Acknowledgement Size and Set Peer Bandwidth Weir announces.
    pub window_ack_size: u32,
    /// Chunk size Weir switches to right after `connect` (RTMP-PC-07).
    pub chunk_size: u32,
    /// S1's random bytes; the host supplies them so the core needs no RNG.
    pub handshake_random: [u8; 1528],
    /// S1's time field.
    pub epoch_ms: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            limits: Limits::default(),
            window_ack_size: 2_500_000,
            chunk_size: 4096,
            handshake_random: [0x5a; 1528],
            epoch_ms: 0,
        }
    }
}

/// Audio or video payload kind of an RTMP media message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Audio,
    Video,
}

/// A publisher asks to publish `app/key`; answer with
/// [`Session::accept_publish`] or [`Session::reject_publish`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishRequest {
    pub stream_id: u32,
    pub app: String,
    pub key: String,
    /// Query of the publish name (`key?query`), kept for publish auth.
    pub query: Option<String>,
    /// Query of the app in `connect` (`app?query`).
    pub app_query: Option<String>,
    /// "live", "record" or "append" as the client sent it.
    pub publish_type: String,
}

/// Why a publish ended. Every path leads to the same [`Event::Unpublished`] (RTMP-CMD-07).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnpublishReason {
    FcUnpublish,
    CloseStream,
    DeleteStream,
    /// TCP close, reset, timeout or protocol error: the host called [`Session::close`].
    ConnectionClosed,
}

/// What the session reports to the host.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Connected {
        app: String,
        app_query: Option<String>,
        tc_url: Option<String>,
        flash_ver: Option<String>,
        /// E-RTMP codecs the client offers (`fourCcList`, or ffmpeg's `fourCcLive`; ERTMP-07).
        fourcc_list: Vec<String>,
    },
    PublishRequested(PublishRequest),
    /// An FLV audio/video tag body on a publishing stream.
    Media {
        stream_id: u32,
        kind: MediaKind,
        timestamp: u32,
        payload: Bytes,
    },
    /// `onMetaData`, with or without `@setDataFrame` (RTMP-CMD-08). Informational only.
    Metadata {
        stream_id: u32,
        value: Amf0Value,
    },
    Unpublished {
        stream_id: u32,
        key: String,
        reason: UnpublishReason,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    #[error("chunk stream: {0}")]
    Chunk(#[from] ChunkError),
    #[error("bad command: {0}")]
    Command(#[from] CommandError),
    #[error("handshake not completed within {0:?}")]
    HandshakeTimeout(Duration),
    #[error("peer sent nothing for {0:?}")]
    IdleTimeout(Duration),
    #[error("more than {limit} streams on one connection")]
    TooManyStreams { limit: u32 },
    #[error("session is closed")]
    Closed,
}

enum Phase {
    Handshake(Box<ServerHandshake>),
    AwaitConnect,
    Connected {
        app: String,
        app_query: Option<String>,
    },
    Closed,
}

/// State of one message stream made by `createStream`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NetStream {
    Created,
    Pending { key: String },
    Publishing { key: String },
}

/// Server side of one RTMP connection.
///
/// The session owns no socket, task or clock. Methods come in three kinds:
/// - input: [`handle_input`](Self::handle_input) (bytes from the peer),
///   [`handle_timeout`](Self::handle_timeout) (the clock reached
///   [`poll_timeout`](Self::poll_timeout)) and [`close`](Self::close) (the
///   transport ended);
/// - decisions the host makes about events: [`accept_publish`](Self::accept_publish),
///   [`reject_publish`](Self::reject_publish), [`request_reconnect`](Self::request_reconnect);
/// - output: after every call, drain [`poll_transmit`](Self::poll_transmit)
///   (bytes to write, in order) and [`poll_event`](Self::poll_event).
///
/// An `Err` from an input method is fatal: write what `poll_transmit` still
/// has, then close the transport and call `close`.
pub struct Session {
    config: SessionConfig,
    phase: Phase,
    input: BytesMut,
    output: BytesMut,
    events: VecDeque<Event>,
    decoder: ChunkDecoder,
    encoder: ChunkEncoder,
    started: Instant,
    last_input: Instant,
    bytes_received: u64,
    last_ack: u64,
    /// Acknowledge after this many bytes: the peer's Window Ack Size, or ours
    /// until it sends one (RTMP-PC-04; Wirecast needs server acks).
    ack_window: u32,
    streams: BTreeMap<u32, NetStream>,
    next_stream_id: u32,
    /// Decoding waits for the host's answer to a publish request, so media
    /// pipelined behind `publish` in the same read is not dropped.
    awaiting_decision: bool,
}

impl Session {
    pub fn new(config: SessionConfig, now: Instant) -> Self {
        let hs = ServerHandshake::new(config.handshake_random, config.epoch_ms);
        Session {
            decoder: ChunkDecoder::new(&config.limits),
            encoder: ChunkEncoder::default(),
            ack_window: config.window_ack_size,
            config,
            phase: Phase::Handshake(Box::new(hs)),
            input: BytesMut::new(),
            output: BytesMut::new(),
            events: VecDeque::new(),
            started: now,
            last_input: now,
            bytes_received: 0,
            last_ack: 0,
            streams: BTreeMap::new(),
            next_stream_id: 1,
            awaiting_decision: false,
        }
    }

    /// Total bytes received from the peer.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// Whether C0–C2 are done.
    pub fn handshake_done(&self) -> bool {
        !matches!(self.phase, Phase::Handshake(_))
    }

    /// Bytes buffered inside the session (input not yet decoded + partial messages).
    pub fn buffered_bytes(&self) -> usize {
        self.input.len() + self.decoder.buffered_bytes()
    }

    /// Bytes to write to the peer, if any.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        (!self.output.is_empty()).then(|| self.output.split().freeze())
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Handshake(_) => Some(self.started + self.config.limits.handshake_timeout),
            Phase::Closed => None,
            _ => Some(self.last_input + self.config.limits.idle_timeout),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), SessionError> {
        match self.phase {
            Phase::Handshake(_) if now >= self.started + self.config.limits.handshake_timeout => {
                Err(SessionError::HandshakeTimeout(
                    self.config.limits.handshake_timeout,
                ))
            }
            Phase::AwaitConnect | Phase::Connected { .. }
                if now >= self.last_input + self.config.limits.idle_timeout =>
            {
                Err(SessionError::IdleTimeout(self.config.limits.idle_timeout))
            }
            _ => Ok(()),
        }
    }

    /// Feed bytes read from the peer.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<(), SessionError> {
        self.last_input = now;
        self.bytes_received += data.len() as u64;
        let mut data = data;
        if let Phase::Handshake(hs) = &mut self.phase {
            let (used, progress) = hs.read(data)?;
            if let Some(out) = hs.take_output() {
                self.output.extend_from_slice(&out);
            }
            data = data.get(used..).unwrap_or_default();
            match progress {
                HandshakeProgress::NeedMore => return Ok(()),
                HandshakeProgress::Done => {
                    debug!("handshake done");
                    self.phase = Phase::AwaitConnect;
                }
            }
        }
        if matches!(self.phase, Phase::Closed) {
            return Err(SessionError::Closed);
        }
        // Bytes after C2 belong to the chunk stream (RTMP-HS-03).
        self.input.extend_from_slice(data);
        self.maybe_ack();
        self.process()
    }

    /// Decode buffered input until it runs out or a publish awaits the host.
    fn process(&mut self) -> Result<(), SessionError> {
        while !self.awaiting_decision {
            let Some(msg) = self.decoder.decode(&mut self.input)? else {
                break;
            };
            self.handle_message(msg)?;
        }
        Ok(())
    }

    /// The transport ended (or the host is closing it): every publish ends here.
    pub fn close(&mut self) {
        let ids: Vec<u32> = self.streams.keys().copied().collect();
        for id in ids {
            self.end_publish(id, UnpublishReason::ConnectionClosed);
        }
        self.phase = Phase::Closed;
        self.input = BytesMut::new();
    }

    /// Allow a [`PublishRequest`]: StreamBegin then `NetStream.Publish.Start` on
    /// the stream's msid (RTMP-CMD-05; OBS and ffmpeg wait for it). Input that
    /// arrived behind `publish` is decoded now, so this can fail like
    /// [`handle_input`](Self::handle_input).
    pub fn accept_publish(&mut self, stream_id: u32) -> Result<(), SessionError> {
        let Some(NetStream::Pending { key }) = self.streams.get(&stream_id).cloned() else {
            return Ok(());
        };
        self.streams
            .insert(stream_id, NetStream::Publishing { key: key.clone() });
        self.send_user_control(user_control::STREAM_BEGIN, stream_id);
        let body = command::on_status(
            "status",
            "NetStream.Publish.Start",
            &format!("{key} is now published."),
        );
        self.send(csid::STREAM, types::AMF0_COMMAND, stream_id, &body);
        self.resume()
    }

    fn resume(&mut self) -> Result<(), SessionError> {
        if !self
            .streams
            .values()
            .any(|s| matches!(s, NetStream::Pending { .. }))
        {
            self.awaiting_decision = false;
        }
        if matches!(self.phase, Phase::Closed) {
            return Ok(());
        }
        self.process()
    }

    /// Refuse a [`PublishRequest`] with an `onStatus` error such as
    /// `NetStream.Publish.BadName` (RTMP-CMD-06). The host should then close.
    pub fn reject_publish(
        &mut self,
        stream_id: u32,
        code: &str,
        description: &str,
    ) -> Result<(), SessionError> {
        if let Some(NetStream::Pending { .. }) = self.streams.get(&stream_id) {
            self.streams.insert(stream_id, NetStream::Created);
        }
        let body = command::on_status("error", code, description);
        self.send(csid::STREAM, types::AMF0_COMMAND, stream_id, &body);
        self.resume()
    }

    /// Ask an E-RTMP publisher to reconnect (ERTMP-08), e.g. before a restart.
    pub fn request_reconnect(&mut self, tc_url: Option<&str>, description: &str) {
        let mut status = vec![
            ("level", Amf0Value::string("status")),
            (
                "code",
                Amf0Value::string("NetConnection.Connect.ReconnectRequest"),
            ),
            ("description", Amf0Value::string(description)),
        ];
        if let Some(url) = tc_url {
            status.push(("tcUrl", Amf0Value::string(url)));
        }
        let body = command::encode(&[
            Amf0Value::string("onStatus"),
            Amf0Value::Number(0.0),
            Amf0Value::Null,
            Amf0Value::object(status),
        ]);
        self.send(csid::COMMAND, types::AMF0_COMMAND, 0, &body);
    }

    fn send(&mut self, csid: u32, type_id: u8, stream_id: u32, payload: &[u8]) {
        self.encoder
            .encode(csid, 0, type_id, stream_id, payload, &mut self.output);
    }

    fn send_user_control(&mut self, event: u16, value: u32) {
        let p = message::user_control_payload(event, value);
        self.send(csid::PROTOCOL_CONTROL, types::USER_CONTROL, 0, &p);
    }

    fn maybe_ack(&mut self) {
        if self.ack_window > 0 && self.bytes_received - self.last_ack >= u64::from(self.ack_window)
        {
            self.last_ack = self.bytes_received;
            // The sequence number is the byte count mod 2^32 (RTMP-PC-04, SRS#730).
            let seq = self.bytes_received as u32;
            self.send(
                csid::PROTOCOL_CONTROL,
                types::ACKNOWLEDGEMENT,
                0,
                &message::u32_payload(seq),
            );
        }
    }

    fn handle_message(&mut self, msg: Message) -> Result<(), SessionError> {
        trace!(
            type_id = msg.type_id,
            len = msg.payload.len(),
            ts = msg.timestamp,
            "message"
        );
        match msg.type_id {
            types::SET_CHUNK_SIZE => {
                let raw = message::read_u32(&msg.payload).ok_or(ChunkError::InvalidChunkSize(0))?;
                let size = self.decoder.set_chunk_size(raw)?;
                debug!(size, "peer chunk size");
            }
            types::ABORT => {
                if let Some(id) = message::read_u32(&msg.payload) {
                    self.decoder.abort(id);
                }
            }
            types::ACKNOWLEDGEMENT => {}
            types::WINDOW_ACK_SIZE => {
                if let Some(w) = message::read_u32(&msg.payload) {
                    self.ack_window = w;
                }
            }
            types::SET_PEER_BANDWIDTH => {}
            types::USER_CONTROL => {
                if let Some(uc) = message::parse_user_control(&msg.payload) {
                    if uc.event == user_control::PING_REQUEST {
                        self.send_user_control(
                            user_control::PING_RESPONSE,
                            uc.value.unwrap_or_default(),
                        );
                    }
                }
            }
            types::AUDIO | types::VIDEO => {
                let kind = if msg.type_id == types::AUDIO {
                    MediaKind::Audio
                } else {
                    MediaKind::Video
                };
                self.media(msg.stream_id, kind, msg.timestamp, msg.payload);
            }
            types::AGGREGATE => self.aggregate(&msg),
            types::AMF0_DATA => self.data(msg.stream_id, &msg.payload),
            types::AMF0_COMMAND => {
                let cmd = Command::parse(&msg.payload, &self.config.limits.amf)?;
                self.command(msg.stream_id, cmd)?;
            }
            types::AMF3_COMMAND | types::AMF3_DATA => {
                debug!(type_id = msg.type_id, "AMF3 message ignored");
            }
            other => debug!(type_id = other, "message type ignored"),
        }
        Ok(())
    }

    fn media(&mut self, stream_id: u32, kind: MediaKind, timestamp: u32, payload: Bytes) {
        if matches!(
            self.streams.get(&stream_id),
            Some(NetStream::Publishing { .. })
        ) {
            self.events.push_back(Event::Media {
                stream_id,
                kind,
                timestamp,
                payload,
            });
        } else {
            trace!(
                stream_id,
                "media on a stream that is not publishing dropped"
            );
        }
    }

    /// Aggregate message (type 22): FLV tags back to back, each followed by its
    /// previous-tag-size; their timestamps are relative to the message's.
    fn aggregate(&mut self, msg: &Message) {
        let p = &msg.payload;
        let mut pos = 0usize;
        let mut first_ts: Option<u32> = None;
        while let Some(h) = p.get(pos..pos + 11) {
            let tag_type = h[0];
            let size = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
            let ts = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
            let start = pos + 11;
            let Some(end) = start.checked_add(size).filter(|e| *e <= p.len()) else {
                debug!("truncated aggregate message");
                return;
            };
            let base = *first_ts.get_or_insert(ts);
            let abs = msg.timestamp.wrapping_add(ts.wrapping_sub(base));
            let body = p.slice(start..end);
            match tag_type {
                types::AUDIO => self.media(msg.stream_id, MediaKind::Audio, abs, body),
                types::VIDEO => self.media(msg.stream_id, MediaKind::Video, abs, body),
                types::AMF0_DATA => self.data(msg.stream_id, &body),
                _ => {}
            }
            pos = end + 4;
        }
    }

    fn data(&mut self, stream_id: u32, payload: &[u8]) {
        if !matches!(
            self.streams.get(&stream_id),
            Some(NetStream::Publishing { .. })
        ) {
            return;
        }
        let values = match amf0::decode_all(payload, &self.config.limits.amf) {
            Ok(v) => v,
            Err(e) => {
                debug!(error = %e, "undecodable data message ignored");
                return;
            }
        };
        let mut it = values.into_iter();
        let mut name = it.next();
        if name.as_ref().and_then(Amf0Value::as_str) == Some("@setDataFrame") {
            name = it.next();
        }
        if name.as_ref().and_then(Amf0Value::as_str) == Some("onMetaData") {
            if let Some(value) = it.next() {
                self.events.push_back(Event::Metadata { stream_id, value });
            }
        }
    }

    fn command(&mut self, stream_id: u32, cmd: Command) -> Result<(), SessionError> {
        debug!(name = %cmd.name, txn = cmd.transaction_id, stream_id, "command");
        let txn = cmd.transaction_id;
        match (&self.phase, cmd.name.as_str()) {
            (Phase::AwaitConnect, "connect") => self.connect(&cmd),
            (Phase::Connected { .. }, "connect") => {
                self.send_command(&command::error(
                    txn,
                    "NetConnection.Connect.Rejected",
                    "already connected",
                ));
            }
            (Phase::Connected { .. }, "releaseStream") => {
                self.send_command(&command::result(txn, Amf0Value::Undefined));
            }
            (Phase::Connected { .. }, "FCPublish") => {
                let name = cmd.first_string_arg().unwrap_or_default();
                let body = command::encode(&[
                    Amf0Value::string("onFCPublish"),
                    Amf0Value::Number(0.0),
                    Amf0Value::Null,
                    command::status("status", "NetStream.Publish.Start", name),
                ]);
                self.send_command(&body);
            }
            (Phase::Connected { .. }, "createStream") => {
                let limit = self.config.limits.max_streams_per_connection;
                if self.streams.len() >= limit as usize {
                    return Err(SessionError::TooManyStreams { limit });
                }
                let id = self.next_stream_id;
                self.next_stream_id = self.next_stream_id.wrapping_add(1).max(1);
                self.streams.insert(id, NetStream::Created);
                self.send_command(&command::result(txn, Amf0Value::Number(f64::from(id))));
            }
            (Phase::Connected { .. }, "publish") => self.publish(stream_id, &cmd),
            (Phase::Connected { .. }, "FCUnpublish") => {
                let name = cmd.first_string_arg().unwrap_or_default();
                let (key, _) = command::split_query(name);
                let id = self
                    .streams
                    .iter()
                    .find(|(_, s)| matches!(s, NetStream::Publishing { key: k } if k == key))
                    .map(|(id, _)| *id);
                if let Some(id) = id {
                    self.end_publish(id, UnpublishReason::FcUnpublish);
                }
                let body = command::encode(&[
                    Amf0Value::string("onFCUnpublish"),
                    Amf0Value::Number(0.0),
                    Amf0Value::Null,
                    command::status("status", "NetStream.Unpublish.Success", name),
                ]);
                self.send_command(&body);
            }
            (Phase::Connected { .. }, "closeStream") => {
                self.end_publish(stream_id, UnpublishReason::CloseStream);
                if self.streams.contains_key(&stream_id) {
                    self.streams.insert(stream_id, NetStream::Created);
                }
            }
            (Phase::Connected { .. }, "deleteStream") => {
                // deleteStream(txn, null, id) has no reply (RTMP §7.2.2.3).
                let id = cmd
                    .args
                    .first()
                    .and_then(Amf0Value::as_f64)
                    .map(|f| f as u32)
                    .unwrap_or(stream_id);
                self.end_publish(id, UnpublishReason::DeleteStream);
                self.streams.remove(&id);
            }
            (Phase::Connected { .. }, "play" | "play2") => {
                let body = command::on_status(
                    "error",
                    "NetStream.Play.Failed",
                    "Weir does not serve RTMP playback; use HLS or DASH",
                );
                self.send(csid::STREAM, types::AMF0_COMMAND, stream_id, &body);
            }
            (_, "getStreamLength" | "_checkbw" | "checkBandwidth") if txn != 0.0 => {
                self.send_command(&command::result(txn, Amf0Value::Null));
            }
            (_, name) => {
                // Unknown commands never end the session (RTMP-CMD-03).
                if txn != 0.0 {
                    let description = format!("unknown command {name}");
                    self.send_command(&command::error(
                        txn,
                        "NetConnection.Call.Failed",
                        &description,
                    ));
                }
                debug!(name, "unhandled command");
            }
        }
        Ok(())
    }

    fn send_command(&mut self, body: &[u8]) {
        self.send(csid::COMMAND, types::AMF0_COMMAND, 0, body);
    }

    /// Reply to `connect` in the order RTMP-CMD-02 gives.
    ///
    /// The properties state the E-RTMP codecs and capabilities Weir takes
    /// (ERTMP-07).
    fn connect(&mut self, cmd: &Command) {
        let raw_app = cmd.object.get_str("app").unwrap_or_default();
        let (app, app_query) = command::split_query(raw_app);
        let app = app.trim_matches('/').to_owned();
        let app_query = app_query.map(str::to_owned);
        let fourcc_list = ["fourCcList", "fourCcLive"]
            .iter()
            .find_map(|k| match cmd.object.get(k) {
                Some(Amf0Value::StrictArray(items)) => Some(
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                ),
                _ => None,
            })
            .unwrap_or_default();
        let object_encoding = cmd
            .object
            .get("objectEncoding")
            .and_then(Amf0Value::as_f64)
            .unwrap_or(0.0);

        let window = self.config.window_ack_size;
        self.send(
            csid::PROTOCOL_CONTROL,
            types::WINDOW_ACK_SIZE,
            0,
            &message::u32_payload(window),
        );
        self.send(
            csid::PROTOCOL_CONTROL,
            types::SET_PEER_BANDWIDTH,
            0,
            &message::set_peer_bandwidth_payload(window, LimitType::Dynamic),
        );
        let chunk = self.config.chunk_size;
        self.send(
            csid::PROTOCOL_CONTROL,
            types::SET_CHUNK_SIZE,
            0,
            &message::u32_payload(chunk),
        );
        self.encoder.set_chunk_size(chunk);
        self.send_user_control(user_control::STREAM_BEGIN, 0);
        let body = command::encode(&[
            Amf0Value::string("_result"),
            Amf0Value::Number(cmd.transaction_id),
            Amf0Value::object([
                ("fmsVer", Amf0Value::string("FMS/3,0,1,123")),
                ("capabilities", Amf0Value::Number(31.0)),
                // ERTMP-07: what Weir accepts. It repackages without
                // decoding, so each codec is CanForward (4); of the
                // extended capabilities it handles ModEx (4).
                ("capsEx", Amf0Value::Number(f64::from(CAPS_EX_MOD_EX))),
                ("videoFourCcInfoMap", fourcc_info_map(VIDEO_FOURCCS)),
                ("audioFourCcInfoMap", fourcc_info_map(AUDIO_FOURCCS)),
            ]),
            Amf0Value::object([
                ("level", Amf0Value::string("status")),
                ("code", Amf0Value::string("NetConnection.Connect.Success")),
                ("description", Amf0Value::string("Connection succeeded.")),
                ("objectEncoding", Amf0Value::Number(object_encoding)),
            ]),
        ]);
        self.send_command(&body);
        self.events.push_back(Event::Connected {
            app: app.clone(),
            app_query: app_query.clone(),
            tc_url: cmd.object.get_str("tcUrl").map(str::to_owned),
            flash_ver: cmd.object.get_str("flashVer").map(str::to_owned),
            fourcc_list,
        });
        self.phase = Phase::Connected { app, app_query };
    }

    fn publish(&mut self, stream_id: u32, cmd: &Command) {
        let Phase::Connected { app, app_query } = &self.phase else {
            return;
        };
        let (app, app_query) = (app.clone(), app_query.clone());
        let raw = cmd.first_string_arg().unwrap_or_default();
        let (key, query) = command::split_query(raw);
        let (key, query) = (key.to_owned(), query.map(str::to_owned));
        let bad = match self.streams.get(&stream_id) {
            None => Some("publish on a stream that createStream did not make"),
            Some(NetStream::Created) if key.is_empty() => Some("empty stream name"),
            Some(NetStream::Created) => None,
            Some(_) => Some("stream is already publishing"),
        };
        if let Some(why) = bad {
            warn!(stream_id, why, "publish refused");
            let body = command::on_status("error", "NetStream.Publish.BadName", why);
            self.send(csid::STREAM, types::AMF0_COMMAND, stream_id, &body);
            return;
        }
        let publish_type = cmd
            .args
            .get(1)
            .and_then(Amf0Value::as_str)
            .unwrap_or("live")
            .to_owned();
        self.streams
            .insert(stream_id, NetStream::Pending { key: key.clone() });
        self.awaiting_decision = true;
        self.events
            .push_back(Event::PublishRequested(PublishRequest {
                stream_id,
                app,
                key,
                query,
                app_query,
                publish_type,
            }));
    }

    /// The one unpublish path (RTMP-CMD-07).
    fn end_publish(&mut self, stream_id: u32, reason: UnpublishReason) {
        if let Some(NetStream::Publishing { key } | NetStream::Pending { key }) =
            self.streams.get(&stream_id).cloned()
        {
            self.streams.insert(stream_id, NetStream::Created);
            self.events.push_back(Event::Unpublished {
                stream_id,
                key,
                reason,
            });
        }
    }
}

/// E-RTMP `capsEx` ModEx flag (ERTMP-07).
const CAPS_EX_MOD_EX: u8 = 4;
/// `FourCcInfoMap` CanForward flag: the server passes the codec on.
const FOURCC_CAN_FORWARD: f64 = 4.0;
/// The video and audio FourCCs Weir packages.
const VIDEO_FOURCCS: &[&str] = &["avc1", "hvc1", "av01", "vp09"];
const AUDIO_FOURCCS: &[&str] = &["mp4a", "Opus", "fLaC", "ac-3", "ec-3", ".mp3"];

fn fourcc_info_map(fourccs: &[&str]) -> Amf0Value {
    Amf0Value::object(
        fourccs
            .iter()
            .map(|f| (*f, Amf0Value::Number(FOURCC_CAN_FORWARD))),
    )
}

#[cfg(test)]
mod tests;
