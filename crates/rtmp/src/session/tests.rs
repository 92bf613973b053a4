//! Session tests without sockets: a scripted client talks to a [`Session`] in
//! memory and the replies are decoded byte for byte (checklist §8 A and B).

use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::*;
use crate::amf0::{Amf0Limits, Amf0Value};
use crate::chunk::{ChunkDecoder, ChunkEncoder, Message};
use crate::limits::Limits;

/// A scripted publisher: chunk-encodes commands and decodes what the server says.
struct Client {
    session: Session,
    now: Instant,
    enc: ChunkEncoder,
    dec: ChunkDecoder,
    from_server: BytesMut,
    received: Vec<Message>,
}

fn c1() -> Vec<u8> {
    // time(4) + zero(4) + random: a simple (non-digest) C1.
    let mut c1 = vec![0u8; 1536];
    c1[..4].copy_from_slice(&1234u32.to_be_bytes());
    for (i, b) in c1.iter_mut().enumerate().skip(8) {
        *b = (i * 7 % 251) as u8;
    }
    c1
}

impl Client {
    fn new() -> Self {
        Self::with_config(SessionConfig::default())
    }

    fn with_config(config: SessionConfig) -> Self {
        let now = Instant::now();
        Client {
            session: Session::new(config, now),
            now,
            enc: ChunkEncoder::default(),
            dec: ChunkDecoder::new(&Limits::default()),
            from_server: BytesMut::new(),
            received: Vec::new(),
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        let r = self.session.handle_input(self.now, bytes);
        while let Some(out) = self.session.poll_transmit() {
            self.from_server.extend_from_slice(&out);
        }
        r
    }

    /// C0+C1, then C2 (+ `trailing` in the same write, checklist case 3).
    fn handshake_with(&mut self, trailing: &[u8]) {
        let mut c0c1 = vec![3u8];
        c0c1.extend_from_slice(&c1());
        self.feed(&c0c1).unwrap();
        assert_eq!(self.from_server.len(), 1 + 1536 * 2, "S0+S1+S2 after C1");
        assert_eq!(self.from_server[0], 3);
        let s1 = self.from_server[1..1537].to_vec();
        let s2 = self.from_server[1537..].to_vec();
        assert_eq!(&s2[..4], &1234u32.to_be_bytes(), "S2 echoes C1 time");
        assert_eq!(&s2[8..], &c1()[8..], "S2 echoes C1 random");
        self.from_server.clear();
        let mut c2 = s1;
        c2.extend_from_slice(trailing);
        self.feed(&c2).unwrap();
    }

    fn command_bytes(&self, msid: u32, values: &[Amf0Value]) -> BytesMut {
        let body = crate::amf0::encode_all(values);
        let mut out = BytesMut::new();
        self.enc.encode(3, 0, 20, msid, &body, &mut out);
        out
    }

    fn send_command(&mut self, msid: u32, values: &[Amf0Value]) -> Result<(), SessionError> {
        let b = self.command_bytes(msid, values);
        self.feed(&b)
    }

    fn send_message(&mut self, csid: u32, ts: u32, ty: u8, msid: u32, body: &[u8]) {
        let mut out = BytesMut::new();
        self.enc.encode(csid, ts, ty, msid, body, &mut out);
        self.feed(&out).unwrap();
    }

    /// Decode everything the server sent since the last call.
    fn replies(&mut self) -> Vec<Message> {
        let mut got = Vec::new();
        while let Some(m) = self.dec.decode(&mut self.from_server).unwrap() {
            if m.type_id == types::SET_CHUNK_SIZE {
                let size = message::read_u32(&m.payload).unwrap();
                self.dec.set_chunk_size(size).unwrap();
            }
            got.push(m);
        }
        self.received.extend(got.iter().cloned());
        got
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    fn connect(&mut self, app: &str) {
        self.send_command(
            0,
            &[
                Amf0Value::string("connect"),
                Amf0Value::Number(1.0),
                Amf0Value::object([
                    ("app", Amf0Value::string(app)),
                    (
                        "flashVer",
                        Amf0Value::string("FMLE/3.0 (compatible; FMSc/1.0)"),
                    ),
                    (
                        "tcUrl",
                        Amf0Value::string(format!("rtmp://127.0.0.1/{app}")),
                    ),
                ]),
            ],
        )
        .unwrap();
    }

    /// connect → releaseStream → FCPublish → createStream → publish, accepted.
    fn publish(&mut self, key: &str) -> u32 {
        self.handshake_with(&[]);
        self.connect("live");
        let id = self.create_stream(key);
        self.send_command(
            id,
            &[
                Amf0Value::string("publish"),
                Amf0Value::Number(5.0),
                Amf0Value::Null,
                Amf0Value::string(key),
                Amf0Value::string("live"),
            ],
        )
        .unwrap();
        self.session.accept_publish(id).unwrap();
        self.feed(&[]).unwrap();
        id
    }

    fn create_stream(&mut self, key: &str) -> u32 {
        for (name, txn) in [("releaseStream", 2.0), ("FCPublish", 3.0)] {
            self.send_command(
                0,
                &[
                    Amf0Value::string(name),
                    Amf0Value::Number(txn),
                    Amf0Value::Null,
                    Amf0Value::string(key),
                ],
            )
            .unwrap();
        }
        self.send_command(
            0,
            &[
                Amf0Value::string("createStream"),
                Amf0Value::Number(4.0),
                Amf0Value::Null,
            ],
        )
        .unwrap();
        let reply = self.replies();
        let last = reply.last().unwrap();
        let v = decode(last);
        assert_eq!(v[0].as_str(), Some("_result"));
        v[3].as_f64().unwrap() as u32
    }
}

fn decode(m: &Message) -> Vec<Amf0Value> {
    crate::amf0::decode_all(&m.payload, &Amf0Limits::default()).unwrap()
}

/// The command name and the `code` of its info object, for compact assertions.
fn describe(m: &Message) -> String {
    match m.type_id {
        types::AMF0_COMMAND => {
            let v = decode(m);
            let name = v[0].as_str().unwrap_or("?").to_owned();
            let code = v.iter().find_map(|x| x.get_str("code"));
            match code {
                Some(c) => format!("{name}:{c}@{}", m.stream_id),
                None => format!("{name}@{}", m.stream_id),
            }
        }
        types::USER_CONTROL => {
            let uc = message::parse_user_control(&m.payload).unwrap();
            format!("UserControl({},{})", uc.event, uc.value.unwrap_or(0))
        }
        t => format!("type{t}({})", message::read_u32(&m.payload).unwrap_or(0)),
    }
}

#[test]
fn publish_flow_replies_in_order_case_14_rtmp_cmd_02_to_05() {
    let mut c = Client::new();
    let id = c.publish("cam1");
    c.replies();
    let seen: Vec<String> = c.received.iter().map(describe).collect();
    assert_eq!(
        seen,
        vec![
            "type5(2500000)".to_owned(),
            "type6(2500000)".into(),
            "type1(4096)".into(),
            "UserControl(0,0)".into(),
            "_result:NetConnection.Connect.Success@0".into(),
            "_result@0".into(),
            "onFCPublish:NetStream.Publish.Start@0".into(),
            "_result@0".into(),
            format!("UserControl(0,{id})"),
            format!("onStatus:NetStream.Publish.Start@{id}"),
        ]
    );
    assert!(id >= 1);
    let events = c.events();
    assert!(matches!(&events[0], Event::Connected { app, .. } if app == "live"));
    assert!(
        matches!(&events[1], Event::PublishRequested(r) if r.key == "cam1" && r.stream_id == id)
    );
}

#[test]
fn connect_in_same_write_as_c2_is_not_lost_case_3_rtmp_hs_03() {
    let mut c = Client::new();
    let connect = c.command_bytes(
        0,
        &[
            Amf0Value::string("connect"),
            Amf0Value::Number(1.0),
            Amf0Value::object([("app", Amf0Value::string("live"))]),
        ],
    );
    c.handshake_with(&connect);
    let replies: Vec<String> = c.replies().iter().map(describe).collect();
    assert!(replies.contains(&"_result:NetConnection.Connect.Success@0".to_owned()));
}

#[test]
fn key_and_app_queries_are_split_case_16_rtmp_cmd_06() {
    let mut c = Client::new();
    c.handshake_with(&[]);
    c.connect("live?tenant=a");
    let id = c.create_stream("cam1?token=abc");
    c.send_command(
        id,
        &[
            Amf0Value::string("publish"),
            Amf0Value::Number(5.0),
            Amf0Value::Null,
            Amf0Value::string("cam1?token=abc"),
        ],
    )
    .unwrap();
    let events = c.events();
    let req = events
        .iter()
        .find_map(|e| match e {
            Event::PublishRequested(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(req.app, "live");
    assert_eq!(req.app_query.as_deref(), Some("tenant=a"));
    assert_eq!(req.key, "cam1");
    assert_eq!(req.query.as_deref(), Some("token=abc"));
    assert_eq!(req.publish_type, "live");
}

#[test]
fn rejected_publish_gets_bad_name_case_15() {
    let mut c = Client::new();
    c.handshake_with(&[]);
    c.connect("live");
    let id = c.create_stream("cam1");
    c.send_command(
        id,
        &[
            Amf0Value::string("publish"),
            Amf0Value::Number(5.0),
            Amf0Value::Null,
            Amf0Value::string("cam1"),
        ],
    )
    .unwrap();
    c.replies();
    c.session
        .reject_publish(id, "NetStream.Publish.BadName", "cam1 is already live")
        .unwrap();
    c.feed(&[]).unwrap();
    let r: Vec<String> = c.replies().iter().map(describe).collect();
    assert_eq!(r, vec![format!("onStatus:NetStream.Publish.BadName@{id}")]);
    // Media on a stream that is not publishing is dropped.
    c.send_message(6, 0, 9, id, &[0x17, 0, 0, 0, 0]);
    assert!(!c.events().iter().any(|e| matches!(e, Event::Media { .. })));
}

#[test]
fn media_and_metadata_in_all_three_shapes_rtmp_cmd_08() {
    let mut c = Client::new();
    let id = c.publish("cam1");
    c.events();
    let meta = Amf0Value::EcmaArray(vec![("width".into(), Amf0Value::Number(1280.0))]);
    let shapes = [
        vec![
            Amf0Value::string("@setDataFrame"),
            Amf0Value::string("onMetaData"),
            meta.clone(),
        ],
        vec![
            Amf0Value::string("@setDataFrame"),
            Amf0Value::string("onMetaData"),
            Amf0Value::object([("width", Amf0Value::Number(1280.0))]),
        ],
        vec![Amf0Value::string("onMetaData"), meta.clone()],
    ];
    for s in &shapes {
        let body = crate::amf0::encode_all(s);
        c.send_message(4, 0, 18, id, &body);
    }
    c.send_message(6, 40, 9, id, &[0x17, 1, 0, 0, 0, 1, 2, 3]);
    c.send_message(4, 21, 8, id, &[0xaf, 1, 9]);
    let ev = c.events();
    let metas = ev
        .iter()
        .filter(|e| matches!(e, Event::Metadata { value, .. } if value.get("width").and_then(Amf0Value::as_f64) == Some(1280.0)))
        .count();
    assert_eq!(metas, 3);
    assert!(ev.contains(&Event::Media {
        stream_id: id,
        kind: MediaKind::Video,
        timestamp: 40,
        payload: bytes::Bytes::from_static(&[0x17, 1, 0, 0, 0, 1, 2, 3]),
    }));
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Media {
            kind: MediaKind::Audio,
            timestamp: 21,
            ..
        }
    )));
}

#[test]
fn aggregate_message_is_split_into_tags() {
    let mut c = Client::new();
    let id = c.publish("cam1");
    c.events();
    let mut agg = Vec::new();
    for (ty, ts, body) in [
        (9u8, 1000u32, &[0x17u8, 1, 0, 0, 0][..]),
        (8, 1020, &[0xaf, 1][..]),
    ] {
        agg.push(ty);
        agg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        agg.extend_from_slice(&ts.to_be_bytes()[1..]);
        agg.push((ts >> 24) as u8);
        agg.extend_from_slice(&[0, 0, 0]);
        agg.extend_from_slice(body);
        agg.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
    }
    c.send_message(6, 5000, 22, id, &agg);
    let ts: Vec<(MediaKind, u32)> = c
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Media {
                kind, timestamp, ..
            } => Some((kind, timestamp)),
            _ => None,
        })
        .collect();
    assert_eq!(ts, vec![(MediaKind::Video, 5000), (MediaKind::Audio, 5020)]);
}

fn unpublish_reason(c: &mut Client) -> Option<UnpublishReason> {
    c.events().into_iter().find_map(|e| match e {
        Event::Unpublished { reason, .. } => Some(reason),
        _ => None,
    })
}

#[test]
fn every_teardown_path_unpublishes_once_rtmp_cmd_07() {
    // FCUnpublish
    let mut c = Client::new();
    c.publish("cam1");
    c.events();
    c.send_command(
        0,
        &[
            Amf0Value::string("FCUnpublish"),
            Amf0Value::Number(6.0),
            Amf0Value::Null,
            Amf0Value::string("cam1"),
        ],
    )
    .unwrap();
    assert_eq!(unpublish_reason(&mut c), Some(UnpublishReason::FcUnpublish));
    // deleteStream after FCUnpublish does not unpublish twice.
    c.send_command(
        0,
        &[
            Amf0Value::string("deleteStream"),
            Amf0Value::Number(7.0),
            Amf0Value::Null,
            Amf0Value::Number(1.0),
        ],
    )
    .unwrap();
    assert_eq!(unpublish_reason(&mut c), None);

    // deleteStream alone
    let mut c = Client::new();
    let id = c.publish("cam1");
    c.events();
    c.send_command(
        0,
        &[
            Amf0Value::string("deleteStream"),
            Amf0Value::Number(7.0),
            Amf0Value::Null,
            Amf0Value::Number(f64::from(id)),
        ],
    )
    .unwrap();
    assert_eq!(
        unpublish_reason(&mut c),
        Some(UnpublishReason::DeleteStream)
    );

    // closeStream on the stream's msid
    let mut c = Client::new();
    let id = c.publish("cam1");
    c.events();
    c.send_command(
        id,
        &[
            Amf0Value::string("closeStream"),
            Amf0Value::Number(0.0),
            Amf0Value::Null,
        ],
    )
    .unwrap();
    assert_eq!(unpublish_reason(&mut c), Some(UnpublishReason::CloseStream));

    // TCP close / reset: the host calls close()
    let mut c = Client::new();
    c.publish("cam1");
    c.events();
    c.session.close();
    assert_eq!(
        unpublish_reason(&mut c),
        Some(UnpublishReason::ConnectionClosed)
    );
    c.session.close();
    assert_eq!(unpublish_reason(&mut c), None);
}

#[test]
fn unknown_and_amf3_commands_are_not_fatal_case_21() {
    let mut c = Client::new();
    c.handshake_with(&[]);
    c.connect("live");
    c.replies();
    // AMF3 command (type 17): format byte 0 then AMF0.
    let mut body = vec![0u8];
    body.extend_from_slice(&crate::amf0::encode_all(&[
        Amf0Value::string("whatever"),
        Amf0Value::Number(9.0),
    ]));
    c.send_message(3, 0, 17, 0, &body);
    c.send_command(
        0,
        &[
            Amf0Value::string("someVendorCall"),
            Amf0Value::Number(8.0),
            Amf0Value::Null,
        ],
    )
    .unwrap();
    let r: Vec<String> = c.replies().iter().map(describe).collect();
    assert_eq!(r, vec!["_error:NetConnection.Call.Failed@0".to_owned()]);
    // The session still works afterwards.
    let id = c.create_stream("cam1");
    assert!(id >= 1);
}

#[test]
fn malformed_command_amf_is_a_clear_error() {
    let mut c = Client::new();
    c.handshake_with(&[]);
    let mut bomb = vec![0x02, 0, 7];
    bomb.extend_from_slice(b"connect");
    for _ in 0..10_000 {
        bomb.extend_from_slice(&[0x03, 0x00, 0x01, b'a']);
    }
    let mut out = BytesMut::new();
    ChunkEncoder::default().encode(3, 0, 20, 0, &bomb, &mut out);
    let err = c.feed(&out).unwrap_err();
    assert!(err.to_string().contains("nesting deeper than 64"), "{err}");
}

#[test]
fn acknowledgements_follow_the_peer_window_case_13_rtmp_pc_04() {
    let mut c = Client::new();
    let id = c.publish("cam1");
    c.replies();
    c.send_message(2, 0, types::WINDOW_ACK_SIZE, 0, &1_000_000u32.to_be_bytes());
    let sent_before = c.session.bytes_received();
    let payload = vec![0xafu8; 60_000];
    let mut sent = 0;
    while sent < 3_000_000 {
        c.send_message(4, 0, 8, id, &payload);
        sent += payload.len();
    }
    let acks: Vec<u32> = c
        .replies()
        .iter()
        .filter(|m| m.type_id == types::ACKNOWLEDGEMENT)
        .map(|m| message::read_u32(&m.payload).unwrap())
        .collect();
    assert!(acks.len() >= 2, "{acks:?}");
    for w in acks.windows(2) {
        assert!(w[1] > w[0]);
    }
    let total = c.session.bytes_received();
    assert!(u64::from(*acks.last().unwrap()) <= total);
    assert!(total - u64::from(*acks.last().unwrap()) < 1_000_000 + 70_000);
    assert!(sent_before > 0);
}

#[test]
fn ack_sequence_wraps_at_2_pow_32_case_13() {
    let mut c = Client::new();
    c.publish("cam1");
    c.replies();
    // Pretend 4 GiB minus a little has already arrived.
    c.session.bytes_received = (1u64 << 32) - 10;
    c.session.last_ack = c.session.bytes_received - 2_400_000;
    c.send_message(4, 0, 8, 1, &[0xaf; 200_000]);
    let acks: Vec<u32> = c
        .replies()
        .iter()
        .filter(|m| m.type_id == types::ACKNOWLEDGEMENT)
        .map(|m| message::read_u32(&m.payload).unwrap())
        .collect();
    assert_eq!(acks.len(), 1);
    assert!(acks[0] < 300_000, "wrapped sequence {}", acks[0]);
}

#[test]
fn ping_request_is_answered_rtmp_pc_06() {
    let mut c = Client::new();
    c.handshake_with(&[]);
    c.connect("live");
    c.replies();
    let p = message::user_control_payload(user_control::PING_REQUEST, 777);
    c.send_message(2, 0, types::USER_CONTROL, 0, &p);
    let r: Vec<String> = c.replies().iter().map(describe).collect();
    assert_eq!(r, vec!["UserControl(7,777)".to_owned()]);
}

#[test]
fn peer_set_chunk_size_applies_to_following_chunks_rtmp_pc_02() {
    let mut c = Client::new();
    let id = c.publish("cam1");
    c.events();
    c.send_message(2, 0, types::SET_CHUNK_SIZE, 0, &4096u32.to_be_bytes());
    c.enc.set_chunk_size(4096);
    let big = vec![0x27u8; 10_000];
    c.send_message(6, 0, 9, id, &big);
    let got = c.events();
    assert!(got
        .iter()
        .any(|e| matches!(e, Event::Media { payload, .. } if payload.len() == 10_000)));
    // Set Chunk Size 0 is a protocol error (case 7).
    let mut out = BytesMut::new();
    c.enc.encode(
        2,
        0,
        types::SET_CHUNK_SIZE,
        0,
        &0u32.to_be_bytes(),
        &mut out,
    );
    assert!(matches!(
        c.feed(&out),
        Err(SessionError::Chunk(ChunkError::InvalidChunkSize(0)))
    ));
}

#[test]
fn stalled_handshake_times_out_case_4_rtmp_hs_06() {
    let config = SessionConfig {
        limits: Limits {
            handshake_timeout: Duration::from_secs(10),
            ..Limits::default()
        },
        ..SessionConfig::default()
    };
    let mut c = Client::with_config(config);
    c.feed(&[3]).unwrap();
    let deadline = c.session.poll_timeout().unwrap();
    assert_eq!(deadline, c.now + Duration::from_secs(10));
    assert!(c
        .session
        .handle_timeout(c.now + Duration::from_secs(9))
        .is_ok());
    assert!(matches!(
        c.session.handle_timeout(deadline),
        Err(SessionError::HandshakeTimeout(_))
    ));
}

#[test]
fn garbage_instead_of_handshake_is_rejected_case_2() {
    let mut c = Client::new();
    let err = c.feed(b"GET / HTTP/1.1\r\n\r\n").unwrap_err();
    assert!(matches!(err, SessionError::Handshake(_)), "{err}");
}

#[test]
fn idle_connection_times_out() {
    let mut c = Client::new();
    c.publish("cam1");
    let t = c.session.poll_timeout().unwrap();
    assert_eq!(t, c.now + Limits::default().idle_timeout);
    assert!(matches!(
        c.session.handle_timeout(t),
        Err(SessionError::IdleTimeout(_))
    ));
}

#[test]
fn stream_count_is_bounded() {
    let mut c = Client::with_config(SessionConfig {
        limits: Limits {
            max_streams_per_connection: 2,
            ..Limits::default()
        },
        ..SessionConfig::default()
    });
    c.handshake_with(&[]);
    c.connect("live");
    let create = [
        Amf0Value::string("createStream"),
        Amf0Value::Number(4.0),
        Amf0Value::Null,
    ];
    c.send_command(0, &create).unwrap();
    c.send_command(0, &create).unwrap();
    assert!(matches!(
        c.send_command(0, &create),
        Err(SessionError::TooManyStreams { limit: 2 })
    ));
}

#[test]
fn fuzz_session_after_handshake() {
    bolero::check!().for_each(|input: &[u8]| {
        let mut c = Client::new();
        c.handshake_with(&[]);
        let _ = c.feed(input);
        while c.session.poll_event().is_some() {}
        assert!(c.session.buffered_bytes() <= (8 << 20) + (24 << 20) + input.len());
    });
}

/// ERTMP-07: the `connect` reply states the codecs Weir takes (each
/// CanForward) and the extended capabilities it handles (ModEx).
#[test]
fn connect_result_states_the_enhanced_rtmp_codecs_ertmp_07() {
    let mut c = Client::new();
    c.publish("cam1");
    c.replies();
    let result = c
        .received
        .iter()
        .find(|m| describe(m) == "_result:NetConnection.Connect.Success@0")
        .map(decode)
        .expect("connect _result");
    let props = &result[2];
    assert_eq!(props.get("capsEx").and_then(Amf0Value::as_f64), Some(4.0));
    for (map, fourccs) in [
        ("videoFourCcInfoMap", &["avc1", "hvc1", "av01", "vp09"][..]),
        (
            "audioFourCcInfoMap",
            &["mp4a", "Opus", "fLaC", "ac-3", "ec-3", ".mp3"][..],
        ),
    ] {
        let m = props
            .get(map)
            .unwrap_or_else(|| panic!("{map} in {props:?}"));
        for f in fourccs {
            assert_eq!(m.get(f).and_then(Amf0Value::as_f64), Some(4.0), "{map}.{f}");
        }
    }
}
