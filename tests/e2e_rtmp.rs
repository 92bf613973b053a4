//! Crafted-client RTMP tests against the real `weir` binary: a minimal
//! blocking RTMP client (handshake, chunking, AMF0) drives the command flow
//! byte by byte (checklist §8 cases 3, 13, 14, 15, 21).

mod common;

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::Weir;

// ---------------------------------------------------------------------------
// AMF0
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Amf {
    Num(f64),
    Bool(bool),
    Str(String),
    Obj(Vec<(String, Amf)>),
    Null,
    Undefined,
    Arr(Vec<Amf>),
}

impl Amf {
    fn get(&self, key: &str) -> Option<&Amf> {
        match self {
            Amf::Obj(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            Amf::Str(s) => Some(s),
            _ => None,
        }
    }
    fn as_num(&self) -> Option<f64> {
        match self {
            Amf::Num(n) => Some(*n),
            _ => None,
        }
    }
}

fn obj(kv: &[(&str, Amf)]) -> Amf {
    Amf::Obj(kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

fn s(v: &str) -> Amf {
    Amf::Str(v.to_string())
}

fn amf_encode(out: &mut Vec<u8>, v: &Amf) {
    fn key(out: &mut Vec<u8>, k: &str) {
        out.extend_from_slice(&(k.len() as u16).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
    }
    match v {
        Amf::Num(n) => {
            out.push(0);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Amf::Bool(b) => out.extend_from_slice(&[1, u8::from(*b)]),
        Amf::Str(st) => {
            out.push(2);
            key(out, st);
        }
        Amf::Obj(kv) => {
            out.push(3);
            for (k, v) in kv {
                key(out, k);
                amf_encode(out, v);
            }
            out.extend_from_slice(&[0, 0, 9]);
        }
        Amf::Null => out.push(5),
        Amf::Undefined => out.push(6),
        Amf::Arr(items) => {
            out.push(0x0a);
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            for i in items {
                amf_encode(out, i);
            }
        }
    }
}

fn amf_values(vals: &[Amf]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in vals {
        amf_encode(&mut out, v);
    }
    out
}

/// Decodes AMF0 values until the end of `b` (enough of AMF0 for replies).
fn amf_decode_all(mut b: &[u8]) -> Result<Vec<Amf>, String> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if b.len() < n {
            return Err("truncated AMF0".into());
        }
        let (h, t) = b.split_at(n);
        *b = t;
        Ok(h)
    }
    fn string(b: &mut &[u8], long: bool) -> Result<String, String> {
        let n = if long {
            u32::from_be_bytes(take(b, 4)?.try_into().unwrap()) as usize
        } else {
            u16::from_be_bytes(take(b, 2)?.try_into().unwrap()) as usize
        };
        Ok(String::from_utf8_lossy(take(b, n)?).into_owned())
    }
    fn props(b: &mut &[u8]) -> Result<Vec<(String, Amf)>, String> {
        let mut kv = Vec::new();
        loop {
            let k = string(b, false)?;
            if k.is_empty() && b.first() == Some(&9) {
                take(b, 1)?;
                return Ok(kv);
            }
            kv.push((k, value(b)?));
        }
    }
    fn value(b: &mut &[u8]) -> Result<Amf, String> {
        let marker = take(b, 1)?[0];
        Ok(match marker {
            0 => Amf::Num(f64::from_be_bytes(take(b, 8)?.try_into().unwrap())),
            1 => Amf::Bool(take(b, 1)?[0] != 0),
            2 => Amf::Str(string(b, false)?),
            3 => Amf::Obj(props(b)?),
            5 => Amf::Null,
            6 => Amf::Undefined,
            8 => {
                take(b, 4)?;
                Amf::Obj(props(b)?)
            }
            0x0a => {
                let n = u32::from_be_bytes(take(b, 4)?.try_into().unwrap());
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(value(b)?);
                }
                Amf::Arr(items)
            }
            0x0b => {
                take(b, 10)?;
                Amf::Null
            }
            0x0c => Amf::Str(string(b, true)?),
            m => return Err(format!("unsupported AMF0 marker {m:#x}")),
        })
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        out.push(value(&mut b)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Minimal RTMP client
// ---------------------------------------------------------------------------

const MSG_SET_CHUNK_SIZE: u8 = 1;
const MSG_ACK: u8 = 3;
const MSG_USER_CONTROL: u8 = 4;
const MSG_WIN_ACK_SIZE: u8 = 5;
const MSG_SET_PEER_BW: u8 = 6;
const MSG_AUDIO: u8 = 8;
const MSG_AMF3_COMMAND: u8 = 17;
const MSG_AMF0_COMMAND: u8 = 20;

#[derive(Debug, Clone)]
struct Msg {
    typ: u8,
    msid: u32,
    payload: Vec<u8>,
}

impl Msg {
    /// The AMF0 values of a command message (AMF3 commands skip one byte).
    fn command(&self) -> Option<Vec<Amf>> {
        match self.typ {
            MSG_AMF0_COMMAND => amf_decode_all(&self.payload).ok(),
            MSG_AMF3_COMMAND => amf_decode_all(self.payload.get(1..)?).ok(),
            _ => None,
        }
    }
    fn command_name(&self) -> Option<String> {
        self.command()?.first()?.as_str().map(str::to_string)
    }
    fn u32_at(&self, i: usize) -> Option<u32> {
        Some(u32::from_be_bytes(
            self.payload.get(i..i + 4)?.try_into().ok()?,
        ))
    }
    fn describe(&self) -> String {
        match self.command() {
            Some(c) => format!("type {} msid {} {c:?}", self.typ, self.msid),
            None => format!(
                "type {} msid {} {:02x?}",
                self.typ,
                self.msid,
                &self.payload[..self.payload.len().min(16)]
            ),
        }
    }
}

#[derive(Default, Clone)]
struct InChunkStream {
    ts: u32,
    len: u32,
    typ: u8,
    msid: u32,
    ext: bool,
    buf: Vec<u8>,
}

struct RtmpClient {
    sock: TcpStream,
    in_chunk: usize,
    out_chunk: usize,
    streams: HashMap<u32, InChunkStream>,
    bytes_sent: u64,
    /// Every message received so far, in order.
    log: Vec<Msg>,
}

impl RtmpClient {
    fn connect(addr: SocketAddr) -> RtmpClient {
        let sock = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        sock.set_nodelay(true).unwrap();
        RtmpClient {
            sock,
            in_chunk: 128,
            out_chunk: 128,
            streams: HashMap::new(),
            bytes_sent: 0,
            log: Vec::new(),
        }
    }

    fn write(&mut self, b: &[u8]) {
        self.sock.write_all(b).expect("write to weir");
        self.bytes_sent += b.len() as u64;
    }

    fn read_exact(&mut self, n: usize, timeout: Duration) -> std::io::Result<Vec<u8>> {
        self.sock.set_read_timeout(Some(timeout))?;
        let mut b = vec![0u8; n];
        self.sock.read_exact(&mut b)?;
        Ok(b)
    }

    /// Simple handshake. `after_c2` is written in the same write as C2
    /// (coalesced input, §8 case 3).
    fn handshake(&mut self, after_c2: &[u8]) {
        let mut c0c1 = vec![3u8];
        c0c1.extend_from_slice(&[0; 8]);
        c0c1.extend((0..1528u32).map(|i| (i * 7 + 3) as u8));
        self.write(&c0c1);
        let s0s1s2 = self
            .read_exact(1 + 2 * 1536, Duration::from_secs(5))
            .expect("S0+S1+S2");
        assert_eq!(s0s1s2[0], 3, "S0");
        // C2 echoes S1.
        let mut c2 = s0s1s2[1..1537].to_vec();
        c2.extend_from_slice(after_c2);
        self.write(&c2);
    }

    /// Encodes one message as chunks (fmt 0 then fmt 3) at the current
    /// outgoing chunk size.
    fn encode(&self, csid: u8, typ: u8, msid: u32, ts: u32, payload: &[u8]) -> Vec<u8> {
        assert!((2..64).contains(&csid));
        let mut out = vec![csid];
        out.extend_from_slice(&ts.min(0xFF_FFFF).to_be_bytes()[1..]);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        out.push(typ);
        out.extend_from_slice(&msid.to_le_bytes());
        if ts >= 0xFF_FFFF {
            out.extend_from_slice(&ts.to_be_bytes());
        }
        for (i, piece) in payload.chunks(self.out_chunk).enumerate() {
            if i > 0 {
                out.push(0xC0 | csid);
                if ts >= 0xFF_FFFF {
                    out.extend_from_slice(&ts.to_be_bytes());
                }
            }
            out.extend_from_slice(piece);
        }
        out
    }

    fn send(&mut self, csid: u8, typ: u8, msid: u32, ts: u32, payload: &[u8]) {
        let b = self.encode(csid, typ, msid, ts, payload);
        self.write(&b);
    }

    fn command_bytes(&self, msid: u32, vals: &[Amf]) -> Vec<u8> {
        let csid = if msid == 0 { 3 } else { 8 };
        self.encode(csid, MSG_AMF0_COMMAND, msid, 0, &amf_values(vals))
    }

    fn command(&mut self, msid: u32, vals: &[Amf]) {
        let b = self.command_bytes(msid, vals);
        self.write(&b);
    }

    /// Reads one complete message (handling Set Chunk Size), or an error on
    /// timeout / close.
    fn recv(&mut self, timeout: Duration) -> std::io::Result<Msg> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .ok_or_else(|| std::io::Error::new(ErrorKind::TimedOut, "recv timeout"))?;
            let b0 = self.read_exact(1, left)?[0];
            let fmt = b0 >> 6;
            let csid = match b0 & 0x3f {
                0 => 64 + u32::from(self.read_exact(1, left)?[0]),
                1 => {
                    let b = self.read_exact(2, left)?;
                    64 + u32::from(b[0]) + 256 * u32::from(b[1])
                }
                c => u32::from(c),
            };
            let mut st = self.streams.get(&csid).cloned().unwrap_or_default();
            let mut ts_field = None;
            if fmt <= 2 {
                let h = self.read_exact(
                    if fmt == 0 {
                        11
                    } else if fmt == 1 {
                        7
                    } else {
                        3
                    },
                    left,
                )?;
                let t = u32::from_be_bytes([0, h[0], h[1], h[2]]);
                ts_field = Some(t);
                if fmt <= 1 {
                    st.len = u32::from_be_bytes([0, h[3], h[4], h[5]]);
                    st.typ = h[6];
                }
                if fmt == 0 {
                    st.msid = u32::from_le_bytes([h[7], h[8], h[9], h[10]]);
                }
                st.ext = t == 0xFF_FFFF;
            }
            let mut ts_value = ts_field;
            if st.ext {
                let e = self.read_exact(4, left)?;
                if ts_field.is_some() {
                    ts_value = Some(u32::from_be_bytes(e.try_into().unwrap()));
                }
            }
            if st.buf.is_empty() {
                match (fmt, ts_value) {
                    (0, Some(t)) => st.ts = t,
                    (_, Some(d)) => st.ts = st.ts.wrapping_add(d),
                    _ => {}
                }
            }
            let want = (st.len as usize - st.buf.len()).min(self.in_chunk);
            let data = self.read_exact(want, left)?;
            st.buf.extend_from_slice(&data);
            if st.buf.len() >= st.len as usize {
                let msg = Msg {
                    typ: st.typ,
                    msid: st.msid,
                    payload: std::mem::take(&mut st.buf),
                };
                self.streams.insert(csid, st);
                if msg.typ == MSG_SET_CHUNK_SIZE {
                    let n = msg.u32_at(0).unwrap_or(128) & 0x7FFF_FFFF;
                    self.in_chunk = n.max(1) as usize;
                }
                self.log.push(msg.clone());
                return Ok(msg);
            }
            self.streams.insert(csid, st);
        }
    }

    /// Reads messages until `pred` matches one, returning it.
    fn recv_until(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Msg) -> bool) -> Msg {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Ok(m) if pred(&m) => return m,
                Ok(_) => {}
                Err(e) => panic!(
                    "waiting for {what}: {e}\nreceived so far:\n{}",
                    self.log
                        .iter()
                        .map(Msg::describe)
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }

    /// Reads until the server closes; `true` if it did within `timeout`.
    fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.recv(left) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {
                    return false
                }
                Err(_) => return true,
            }
        }
    }
}

fn connect_cmd(app: &str, port: u16) -> Vec<Amf> {
    vec![
        s("connect"),
        Amf::Num(1.0),
        obj(&[
            ("app", s(app)),
            ("type", s("nonprivate")),
            ("flashVer", s("FMLE/3.0 (compatible; weir-test)")),
            ("tcUrl", s(&format!("rtmp://127.0.0.1:{port}/{app}"))),
        ]),
    ]
}

fn is_result_for(m: &Msg, txn: f64) -> bool {
    m.command().is_some_and(|c| {
        matches!(c.first().and_then(Amf::as_str), Some("_result" | "_error"))
            && c.get(1).and_then(Amf::as_num) == Some(txn)
    })
}

fn status_code(m: &Msg) -> Option<(String, String)> {
    let c = m.command()?;
    if c.first()?.as_str()? != "onStatus" {
        return None;
    }
    let info = c.iter().skip(2).find(|v| matches!(v, Amf::Obj(_)))?;
    Some((
        info.get("level")?.as_str()?.to_string(),
        info.get("code")?.as_str()?.to_string(),
    ))
}

const T: Duration = Duration::from_secs(5);

/// Connects, handshakes and runs connect → releaseStream → FCPublish →
/// createStream → publish the way OBS does. Returns the client and the
/// stream id. Does not wait for the publish reply.
fn start_publish(weir: &Weir, key: &str) -> (RtmpClient, u32) {
    let mut c = RtmpClient::connect(weir.rtmp_addr);
    c.handshake(&[]);
    c.command(0, &connect_cmd("live", weir.rtmp_addr.port()));
    c.recv_until("connect _result", T, |m| is_result_for(m, 1.0));
    c.command(0, &[s("releaseStream"), Amf::Num(2.0), Amf::Null, s(key)]);
    c.command(0, &[s("FCPublish"), Amf::Num(3.0), Amf::Null, s(key)]);
    c.command(0, &[s("createStream"), Amf::Num(4.0), Amf::Null]);
    let r = c.recv_until("createStream _result", T, |m| is_result_for(m, 4.0));
    let id = r
        .command()
        .and_then(|v| v.get(3).and_then(Amf::as_num))
        .expect("createStream _result carries a stream id") as u32;
    c.command(
        id,
        &[s("publish"), Amf::Num(5.0), Amf::Null, s(key), s("live")],
    );
    (c, id)
}

// §8 case 3: C2 and the connect command arrive in one write; no bytes after
// C2 may be lost.
#[test]
fn coalesced_c2_and_connect_get_connect_result() {
    let mut weir = Weir::start(&[]);
    let mut c = RtmpClient::connect(weir.rtmp_addr);
    let connect = c.command_bytes(0, &connect_cmd("live", weir.rtmp_addr.port()));
    c.handshake(&connect);
    let r = c.recv_until("connect _result", T, |m| is_result_for(m, 1.0));
    let vals = r.command().unwrap();
    assert_eq!(vals[0], s("_result"), "{vals:?}");
    let info = vals.iter().skip(2).find(|v| v.get("code").is_some());
    assert_eq!(
        info.and_then(|i| i.get("code")).and_then(Amf::as_str),
        Some("NetConnection.Connect.Success"),
        "{vals:?}"
    );
    weir.assert_healthy();
}

// §8 case 14: the replies an OBS-like publisher needs, in order.
#[test]
fn publish_command_flow_replies_in_order() {
    let mut weir = Weir::start(&[]);
    let (mut c, id) = start_publish(&weir, "crafted");
    assert!(id >= 1, "stream id must be ≥ 1");
    let start = c.recv_until("onStatus", T, |m| status_code(m).is_some());
    assert_eq!(
        status_code(&start),
        Some(("status".into(), "NetStream.Publish.Start".into())),
        "{}",
        start.describe()
    );
    assert_eq!(start.msid, id, "onStatus must be sent on the stream's msid");

    let log: Vec<&Msg> = c.log.iter().collect();
    let pos = |pred: &dyn Fn(&Msg) -> bool| log.iter().position(|m| pred(m));
    let described = log
        .iter()
        .map(|m| m.describe())
        .collect::<Vec<_>>()
        .join("\n");
    let winack = pos(&|m| m.typ == MSG_WIN_ACK_SIZE).expect("Window Ack Size sent");
    let peer_bw = pos(&|m| m.typ == MSG_SET_PEER_BW).expect("Set Peer Bandwidth sent");
    let connect_result = pos(&|m| is_result_for(m, 1.0)).unwrap();
    let stream_begin_0 = pos(&|m| {
        m.typ == MSG_USER_CONTROL && m.payload.get(..2) == Some(&[0, 0]) && m.u32_at(2) == Some(0)
    });
    let release = pos(&|m| is_result_for(m, 2.0));
    let on_fc = pos(&|m| m.command_name().as_deref() == Some("onFCPublish"));
    let create = pos(&|m| is_result_for(m, 4.0)).unwrap();
    let stream_begin_id = pos(&|m| {
        m.typ == MSG_USER_CONTROL && m.payload.get(..2) == Some(&[0, 0]) && m.u32_at(2) == Some(id)
    });
    let on_status = log.len() - 1;
    eprintln!("received:\n{described}");
    assert!(
        winack < connect_result,
        "WinAck before connect _result:\n{described}"
    );
    assert!(
        peer_bw < connect_result,
        "SetPeerBW before connect _result:\n{described}"
    );
    let sb0 = stream_begin_0.expect("StreamBegin(0) sent");
    assert!(
        sb0 < connect_result,
        "StreamBegin(0) before connect _result:\n{described}"
    );
    let release = release.expect("_result for releaseStream");
    let on_fc = on_fc.expect("onFCPublish");
    assert!(
        connect_result < release && release < on_fc && on_fc < create,
        "order connect, releaseStream, onFCPublish, createStream:\n{described}"
    );
    let sbid = stream_begin_id.expect("StreamBegin(stream id) sent");
    assert!(
        create < sbid && sbid < on_status,
        "StreamBegin(id) before onStatus:\n{described}"
    );

    // The stream is now listed, with no tracks yet.
    let st = weir.wait_stream("crafted", T, "listed live", |s| s["state"] == "live");
    assert!(st["video"].is_null() && st["audio"].is_null(), "{st}");
    weir.assert_healthy();
}

// §8 case 15: a second publish of a live key gets onStatus error BadName and
// is closed; the first publisher is unaffected.
#[test]
fn duplicate_publish_gets_badname_and_is_closed() {
    let mut weir = Weir::start(&[]);
    let (mut first, _) = start_publish(&weir, "twice");
    first.recv_until("first onStatus", T, |m| status_code(m).is_some());
    let listed = weir.wait_stream("twice", T, "live", |s| s["state"] == "live");

    let (mut second, _) = start_publish(&weir, "twice");
    let st = second.recv_until("second onStatus", T, |m| status_code(m).is_some());
    assert_eq!(
        status_code(&st),
        Some(("error".into(), "NetStream.Publish.BadName".into())),
        "{}",
        st.describe()
    );
    assert!(
        second.closed_within(Duration::from_secs(3)),
        "the refused connection should be closed"
    );
    let now = weir.stream("twice").expect("first stream still listed");
    assert_eq!(now["state"], "live", "{now}");
    assert_eq!(now["publisher"], listed["publisher"], "{now}");
    // The first connection still works: it answers a new createStream.
    first.command(0, &[s("createStream"), Amf::Num(9.0), Amf::Null]);
    first.recv_until("createStream _result on the first connection", T, |m| {
        is_result_for(m, 9.0)
    });
    weir.assert_healthy();
}

// §8 case 13: with the client's Window Ack Size at 1 MB, sending 3 MB makes
// the server send at least 2 Acknowledgements with plausible sequence
// numbers.
#[test]
fn server_acknowledges_received_bytes() {
    let mut weir = Weir::start(&[]);
    let (mut c, id) = start_publish(&weir, "acks");
    c.recv_until("onStatus", T, |m| status_code(m).is_some());
    c.send(2, MSG_WIN_ACK_SIZE, 0, 0, &1_000_000u32.to_be_bytes());
    c.send(2, MSG_SET_CHUNK_SIZE, 0, 0, &4096u32.to_be_bytes());
    c.out_chunk = 4096;
    // AAC-LC 48 kHz stereo AudioSpecificConfig, then 3000 × 1 KB "frames".
    c.send(4, MSG_AUDIO, id, 0, &[0xAF, 0x00, 0x11, 0x90]);
    let mut frame = vec![0xAF, 0x01];
    frame.extend((0..1022u32).map(|i| (i * 31) as u8));
    for i in 0..3000u32 {
        c.send(4, MSG_AUDIO, id, i * 21, &frame);
    }
    let sent = c.bytes_sent;
    // Collect what the server sends until it has been quiet for 2 s.
    let mut acks = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        match c.recv(Duration::from_secs(2)) {
            Ok(m) if m.typ == MSG_ACK => acks.push(m.u32_at(0).expect("4-byte Ack")),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    eprintln!("sent {sent} bytes, acks {acks:?}");
    assert!(
        acks.len() >= 2,
        "expected ≥ 2 Acks for {sent} bytes: {acks:?}"
    );
    assert!(
        acks.windows(2).all(|w| w[0] < w[1]),
        "Ack sequence numbers must increase: {acks:?}"
    );
    let last = u64::from(*acks.last().unwrap());
    assert!(
        last <= sent && last + 1_000_000 + 4096 >= sent,
        "last Ack {last} should be within one window of the {sent} bytes sent"
    );
    weir.assert_healthy();
}

// §8 case 21: an unknown command with a transaction id gets an `_error` or
// `_result`, an AMF3 command (type 17) does not crash anything, and the
// connection keeps working.
#[test]
fn unknown_and_amf3_commands_are_survived() {
    let mut weir = Weir::start(&[]);
    let mut c = RtmpClient::connect(weir.rtmp_addr);
    c.handshake(&[]);
    c.command(0, &connect_cmd("live", weir.rtmp_addr.port()));
    c.recv_until("connect _result", T, |m| is_result_for(m, 1.0));

    c.command(0, &[s("weirNoSuchCommand"), Amf::Num(2.0), Amf::Null]);
    c.recv_until("a reply to the unknown command", T, |m| {
        is_result_for(m, 2.0)
    });

    let mut amf3 = vec![0u8];
    amf3.extend(amf_values(&[s("createStream"), Amf::Num(3.0), Amf::Null]));
    c.send(3, MSG_AMF3_COMMAND, 0, 0, &amf3);
    c.command(0, &[s("createStream"), Amf::Num(4.0), Amf::Null]);
    c.recv_until("createStream _result after the AMF3 command", T, |m| {
        is_result_for(m, 4.0)
    });
    weir.assert_healthy();
}
