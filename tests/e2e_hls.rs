//! End-to-end HLS tests: the real `weir` binary, real publishers (ffmpeg, or
//! a minimal RTMP publisher in this file for byte-exact FLV tags), verified
//! through the HTTP output with ffmpeg/ffprobe and small parsers written here
//! (media/multivariant playlists, fMP4 boxes, FLV tags).
//!
//! Case numbers refer to `shared/research/spec-checklist.md` §8.
//!
//! Wall time: most cases run on one shared live session (`live_session`: a
//! 25 s 720p publish observed by a recorder, an ffmpeg HLS client, ffprobe
//! and HTTP probes). The tests that consume it are named so that libtest
//! (which starts tests in name order) starts the session first, runs the
//! other long cases next to it, and reaches the remaining consumers once the
//! session is done.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{
    asset, assets_dir, ffprobe_count_keyframes, ffprobe_count_packets, http_get, http_request,
    poll_every, Ffmpeg, HttpResponse, Weir,
};
use serde_json::Value;

// ---------------------------------------------------------------------------
// Assets
// ---------------------------------------------------------------------------

/// testsrc2 + 440 Hz sine, H.264 High (`superfast` keeps High; `ultrafast`
/// would signal Main) with 2 B-frames and a fixed GOP, AAC-LC 48 kHz stereo.
fn high_asset(name: &str, size: &str, secs: u32, gop: u32, bitrate: &str) -> PathBuf {
    let secs = secs.to_string();
    let gop = gop.to_string();
    let src = format!("testsrc2=size={size}:rate=30");
    asset(
        name,
        &[
            "-f",
            "lavfi",
            "-i",
            &src,
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            &secs,
            "-map",
            "0:v",
            "-c:v",
            "libx264",
            "-preset",
            "superfast",
            "-profile:v",
            "high",
            "-level",
            "3.1",
            "-bf",
            "2",
            "-g",
            &gop,
            "-keyint_min",
            &gop,
            "-sc_threshold",
            "0",
            "-b:v",
            bitrate,
            "-pix_fmt",
            "yuv420p",
            "-map",
            "1:a",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-ar",
            "48000",
            "-ac",
            "2",
        ],
    )
}

/// §8 common publisher, 25 s: 1280×720 30 fps High 3.1, `-bf 2 -g 60`.
fn high_720p_25s() -> PathBuf {
    high_asset("hls-high-720p30-aac48k-25s", "1280x720", 25, 60, "2M")
}

/// Output files of this test crate (probe inputs, client recordings).
fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e_hls");
    std::fs::create_dir_all(&d).expect("create e2e_hls tmp dir");
    d
}

fn write_out(name: &str, bytes: &[u8]) -> PathBuf {
    let p = out_dir().join(name);
    std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    p
}

// ---------------------------------------------------------------------------
// FLV tags (read, rewrite, write)
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct FlvTag {
    /// 8 audio, 9 video, 18 script.
    kind: u8,
    /// Milliseconds (24 bits + extension byte).
    ts: u32,
    data: Vec<u8>,
}

impl FlvTag {
    fn is_avc_sequence_header(&self) -> bool {
        self.kind == 9 && self.data.len() > 1 && self.data[0] & 0x0f == 7 && self.data[1] == 0
    }
    fn is_aac_sequence_header(&self) -> bool {
        self.kind == 8 && self.data.len() > 1 && self.data[0] >> 4 == 10 && self.data[1] == 0
    }
    fn is_avc_key_frame(&self) -> bool {
        self.kind == 9 && self.data.len() > 1 && self.data[0] >> 4 == 1 && self.data[1] == 1
    }
}

struct Flv {
    header: Vec<u8>,
    tags: Vec<FlvTag>,
}

fn read_flv(path: &Path) -> Flv {
    let d = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(d.starts_with(b"FLV"), "{} is not an FLV file", path.display());
    let hlen = u32::from_be_bytes(d[5..9].try_into().unwrap()) as usize;
    let header = d[..hlen].to_vec();
    let mut off = hlen + 4;
    let mut tags = Vec::new();
    while off + 11 <= d.len() {
        let kind = d[off] & 0x1f;
        let size = be_uint(&d[off + 1..off + 4]) as usize;
        let ts = be_uint(&d[off + 4..off + 7]) as u32 | (u32::from(d[off + 7]) << 24);
        let Some(data) = d.get(off + 11..off + 11 + size) else {
            break;
        };
        tags.push(FlvTag {
            kind,
            ts,
            data: data.to_vec(),
        });
        off += 11 + size + 4;
    }
    Flv { header, tags }
}

fn be_uint(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// Writes `flv` into the asset cache as `name` (atomically; deterministic
/// content, so concurrent writers produce the same file).
fn write_flv_asset(name: &str, flv: &Flv) -> PathBuf {
    let mut out = flv.header.clone();
    out.extend_from_slice(&[0; 4]);
    for t in &flv.tags {
        out.push(t.kind);
        out.extend_from_slice(&(t.data.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&(t.ts & 0xff_ffff).to_be_bytes()[1..]);
        out.push((t.ts >> 24) as u8);
        out.extend_from_slice(&[0; 3]);
        out.extend_from_slice(&t.data);
        out.extend_from_slice(&(11 + t.data.len() as u32).to_be_bytes());
    }
    let path = assets_dir().join(name);
    let tmp = assets_dir().join(format!(
        ".{name}.{}.{:?}.tmp",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&tmp, &out).expect("write derived FLV");
    std::fs::rename(&tmp, &path).expect("rename derived FLV");
    path
}

fn asset_stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------
// A minimal RTMP publisher that sends FLV tags byte for byte
// ---------------------------------------------------------------------------
//
// ffmpeg's FLV demuxer drops a repeated sequence header that equals the
// current one (and its muxer only writes changed ones), so `ffmpeg -c copy`
// cannot publish case 30's stream. This client can.

mod amf {
    pub fn num(out: &mut Vec<u8>, n: f64) {
        out.push(0);
        out.extend_from_slice(&n.to_be_bytes());
    }
    pub fn str(out: &mut Vec<u8>, s: &str) {
        out.push(2);
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    pub fn null(out: &mut Vec<u8>) {
        out.push(5);
    }
    pub fn obj(out: &mut Vec<u8>, kv: &[(&str, &str)]) {
        out.push(3);
        for (k, v) in kv {
            out.extend_from_slice(&(k.len() as u16).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            str(out, v);
        }
        out.extend_from_slice(&[0, 0, 9]);
    }

    /// A decoded AMF0 value, as far as command replies need.
    #[derive(Debug, Clone)]
    pub enum V {
        Num(f64),
        Str(String),
        Other,
    }

    /// Decodes the top-level values; stops at anything it cannot skip.
    pub fn decode(mut b: &[u8]) -> Vec<V> {
        let mut out = Vec::new();
        while !b.is_empty() {
            match value(&mut b) {
                Some(v) => out.push(v),
                None => break,
            }
        }
        out
    }

    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (h, t) = (b.get(..n)?, b.get(n..)?);
        *b = t;
        Some(h)
    }

    fn string(b: &mut &[u8]) -> Option<String> {
        let n = u16::from_be_bytes(take(b, 2)?.try_into().ok()?) as usize;
        Some(String::from_utf8_lossy(take(b, n)?).into_owned())
    }

    fn props(b: &mut &[u8]) -> Option<()> {
        loop {
            let k = string(b)?;
            if k.is_empty() && b.first() == Some(&9) {
                take(b, 1)?;
                return Some(());
            }
            value(b)?;
        }
    }

    fn value(b: &mut &[u8]) -> Option<V> {
        let t = take(b, 1)?[0];
        Some(match t {
            0 => V::Num(f64::from_be_bytes(take(b, 8)?.try_into().ok()?)),
            1 => {
                take(b, 1)?;
                V::Other
            }
            2 => V::Str(string(b)?),
            3 => {
                props(b)?;
                V::Other
            }
            5 | 6 => V::Other,
            8 => {
                take(b, 4)?;
                props(b)?;
                V::Other
            }
            10 => {
                let n = u32::from_be_bytes(take(b, 4)?.try_into().ok()?);
                for _ in 0..n {
                    value(b)?;
                }
                V::Other
            }
            _ => return None,
        })
    }
}

#[derive(Default, Clone)]
struct InChunk {
    len: usize,
    typ: u8,
    ext: bool,
    buf: Vec<u8>,
}

struct FlvPublisher {
    sock: TcpStream,
    in_chunk: usize,
    out_chunk: usize,
    chunks: HashMap<u32, InChunk>,
    stream_id: u32,
}

impl FlvPublisher {
    /// Handshake, connect, createStream, publish `key`; waits for
    /// NetStream.Publish.Start.
    fn start(addr: SocketAddr, key: &str) -> Result<FlvPublisher, String> {
        let sock = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| format!("connect: {e}"))?;
        sock.set_nodelay(true).ok();
        let mut p = FlvPublisher {
            sock,
            in_chunk: 128,
            out_chunk: 128,
            chunks: HashMap::new(),
            stream_id: 0,
        };
        let mut c0c1 = vec![3u8];
        c0c1.extend_from_slice(&[0; 8]);
        c0c1.extend((0..1528u32).map(|i| (i * 13 + 5) as u8));
        p.write(&c0c1)?;
        let s = p.read_exact(1 + 2 * 1536)?;
        p.write(&s[1..1537])?;

        p.send(2, 1, 0, 0, &4096u32.to_be_bytes())?;
        p.out_chunk = 4096;
        let mut b = Vec::new();
        amf::str(&mut b, "connect");
        amf::num(&mut b, 1.0);
        let tc = format!("rtmp://{addr}/live");
        amf::obj(
            &mut b,
            &[
                ("app", "live"),
                ("type", "nonprivate"),
                ("flashVer", "FMLE/3.0 (compatible; weir-e2e-hls)"),
                ("tcUrl", &tc),
            ],
        );
        p.send(3, 20, 0, 0, &b)?;
        p.until(|v| is_result(v, 1.0))?;

        let mut b = Vec::new();
        amf::str(&mut b, "createStream");
        amf::num(&mut b, 2.0);
        amf::null(&mut b);
        p.send(3, 20, 0, 0, &b)?;
        let r = p.until(|v| is_result(v, 2.0))?;
        p.stream_id = match r.get(3) {
            Some(amf::V::Num(n)) => *n as u32,
            other => return Err(format!("createStream _result without an id: {other:?}")),
        };

        let mut b = Vec::new();
        amf::str(&mut b, "publish");
        amf::num(&mut b, 3.0);
        amf::null(&mut b);
        amf::str(&mut b, key);
        amf::str(&mut b, "live");
        p.send(8, 20, p.stream_id, 0, &b)?;
        p.until(|v| {
            matches!(v.first(), Some(amf::V::Str(s)) if s == "onStatus")
                && v.iter().any(|x| matches!(x, amf::V::Other))
        })?;
        Ok(p)
    }

    /// Sends the audio and video tags of `tags` paced at `speed` × real time
    /// (script tags are skipped), then unpublishes cleanly.
    fn publish(mut self, tags: &[FlvTag], speed: f64) -> Result<(), String> {
        let start = Instant::now();
        let first = tags.iter().map(|t| t.ts).min().unwrap_or(0);
        for t in tags.iter().filter(|t| t.kind == 8 || t.kind == 9) {
            let due = start + Duration::from_secs_f64(f64::from(t.ts - first) / 1000.0 / speed);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let csid = if t.kind == 8 { 4 } else { 6 };
            self.send(csid, t.kind, self.stream_id, t.ts, &t.data)?;
        }
        let mut b = Vec::new();
        amf::str(&mut b, "deleteStream");
        amf::num(&mut b, 4.0);
        amf::null(&mut b);
        amf::num(&mut b, f64::from(self.stream_id));
        self.send(3, 20, 0, 0, &b)?;
        let _ = self.sock.shutdown(std::net::Shutdown::Write);
        // Let the server read everything before the socket goes away.
        self.sock
            .set_read_timeout(Some(Duration::from_secs(3)))
            .ok();
        let mut sink = [0u8; 4096];
        while matches!(self.sock.read(&mut sink), Ok(n) if n > 0) {}
        Ok(())
    }

    fn write(&mut self, b: &[u8]) -> Result<(), String> {
        self.sock.write_all(b).map_err(|e| format!("write: {e}"))
    }

    fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, String> {
        self.sock
            .set_read_timeout(Some(Duration::from_secs(5)))
            .ok();
        let mut b = vec![0; n];
        self.sock
            .read_exact(&mut b)
            .map_err(|e| format!("read: {e}"))?;
        Ok(b)
    }

    /// One message as a fmt-0 chunk plus fmt-3 continuations.
    fn send(&mut self, csid: u8, typ: u8, msid: u32, ts: u32, payload: &[u8]) -> Result<(), String> {
        let ext = ts >= 0xff_ffff;
        let mut out = Vec::with_capacity(payload.len() + 32);
        out.push(csid);
        out.extend_from_slice(&ts.min(0xff_ffff).to_be_bytes()[1..]);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        out.push(typ);
        out.extend_from_slice(&msid.to_le_bytes());
        if ext {
            out.extend_from_slice(&ts.to_be_bytes());
        }
        for (i, piece) in payload.chunks(self.out_chunk).enumerate() {
            if i > 0 {
                out.push(0xc0 | csid);
                if ext {
                    out.extend_from_slice(&ts.to_be_bytes());
                }
            }
            out.extend_from_slice(piece);
        }
        self.write(&out)
    }

    /// Reads messages until a command message's values satisfy `pred`.
    fn until(&mut self, pred: impl Fn(&[amf::V]) -> bool) -> Result<Vec<amf::V>, String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let (typ, payload) = self.recv()?;
            if typ == 1 && payload.len() >= 4 {
                self.in_chunk = (be_uint(&payload[..4]) as usize & 0x7fff_ffff).max(1);
            }
            if typ == 20 {
                let v = amf::decode(&payload);
                if pred(&v) {
                    return Ok(v);
                }
            }
        }
        Err("timed out waiting for a command reply".into())
    }

    fn recv(&mut self) -> Result<(u8, Vec<u8>), String> {
        loop {
            let b0 = self.read_exact(1)?[0];
            let fmt = b0 >> 6;
            let csid = match b0 & 0x3f {
                0 => 64 + u32::from(self.read_exact(1)?[0]),
                1 => {
                    let b = self.read_exact(2)?;
                    64 + u32::from(b[0]) + 256 * u32::from(b[1])
                }
                c => u32::from(c),
            };
            let mut st = self.chunks.remove(&csid).unwrap_or_default();
            if fmt <= 2 {
                let h = self.read_exact([11, 7, 3][fmt as usize])?;
                if fmt <= 1 {
                    st.len = be_uint(&h[3..6]) as usize;
                    st.typ = h[6];
                }
                st.ext = be_uint(&h[..3]) == 0xff_ffff;
            }
            if st.ext {
                self.read_exact(4)?;
            }
            let want = (st.len - st.buf.len()).min(self.in_chunk);
            let data = self.read_exact(want)?;
            st.buf.extend_from_slice(&data);
            if st.buf.len() >= st.len {
                let payload = std::mem::take(&mut st.buf);
                let typ = st.typ;
                self.chunks.insert(csid, st);
                return Ok((typ, payload));
            }
            self.chunks.insert(csid, st);
        }
    }
}

fn is_result(v: &[amf::V], txn: f64) -> bool {
    matches!(v.first(), Some(amf::V::Str(s)) if s == "_result")
        && matches!(v.get(1), Some(amf::V::Num(n)) if *n == txn)
}

/// Publishes `tags` to `live/KEY` on a thread; the handle yields the result.
fn spawn_flv_publish(
    addr: SocketAddr,
    key: &str,
    tags: Vec<FlvTag>,
    speed: f64,
) -> JoinHandle<Result<(), String>> {
    let key = key.to_owned();
    std::thread::spawn(move || FlvPublisher::start(addr, &key)?.publish(&tags, speed))
}

// ---------------------------------------------------------------------------
// fMP4 boxes
// ---------------------------------------------------------------------------

/// The child boxes of `buf` as (fourcc, payload after the header).
fn boxes(buf: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while off + 8 <= buf.len() {
        let size32 = be_uint(&buf[off..off + 4]) as usize;
        let fourcc: [u8; 4] = buf[off + 4..off + 8].try_into().unwrap();
        let (hdr, size) = match size32 {
            1 => {
                if off + 16 > buf.len() {
                    break;
                }
                (16, be_uint(&buf[off + 8..off + 16]) as usize)
            }
            0 => (8, buf.len() - off),
            n => (8, n),
        };
        if size < hdr || off + size > buf.len() {
            panic!(
                "box {} at {off} has size {size}, beyond the {} bytes available",
                String::from_utf8_lossy(&fourcc),
                buf.len()
            );
        }
        out.push((fourcc, &buf[off + hdr..off + size]));
        off += size;
    }
    out
}

fn child<'a>(buf: &'a [u8], fourcc: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(buf)
        .into_iter()
        .find(|(f, _)| f == fourcc)
        .map(|(_, p)| p)
}

fn children<'a>(buf: &'a [u8], fourcc: &[u8; 4]) -> Vec<&'a [u8]> {
    boxes(buf)
        .into_iter()
        .filter(|(f, _)| f == fourcc)
        .map(|(_, p)| p)
        .collect()
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    be_uint(&b[off..off + 4]) as u32
}

/// What the init segment says about its (single) track.
#[derive(Debug, Clone, Copy)]
struct InitInfo {
    track_id: u32,
    timescale: u32,
    trex_duration: u32,
    trex_flags: u32,
}

fn parse_init(init: &[u8]) -> InitInfo {
    let ftyp = child(init, b"ftyp").expect("init has ftyp");
    let moov = child(init, b"moov").expect("init has moov");
    assert_eq!(&init[4..8], b"ftyp", "ftyp must come first");
    let _ = ftyp;
    let traks = children(moov, b"trak");
    assert_eq!(traks.len(), 1, "one track per init segment (MP4-INIT-04)");
    let mdhd = child(child(traks[0], b"mdia").expect("mdia"), b"mdhd").expect("mdhd");
    let timescale = if mdhd[0] == 1 {
        u32_at(mdhd, 4 + 16)
    } else {
        u32_at(mdhd, 4 + 8)
    };
    let trex = child(child(moov, b"mvex").expect("init has mvex"), b"trex").expect("trex");
    InitInfo {
        track_id: u32_at(trex, 4),
        timescale,
        trex_duration: u32_at(trex, 12),
        trex_flags: u32_at(trex, 20),
    }
}

/// One `moof` of a segment.
#[derive(Debug, Clone)]
struct Fragment {
    sequence: u32,
    track_id: u32,
    tfdt_version: u8,
    tfdt: u64,
    samples: u32,
    /// Σ sample durations (trun, else tfhd default, else trex default).
    duration: u64,
    first_is_sync: bool,
    sync_samples: u32,
}

const SAMPLE_IS_NON_SYNC: u32 = 0x0001_0000;

fn parse_fragments(seg: &[u8], init: &InitInfo) -> Vec<Fragment> {
    let mut out = Vec::new();
    for moof in children(seg, b"moof") {
        let mfhd = child(moof, b"mfhd").expect("moof has mfhd");
        let trafs = children(moof, b"traf");
        assert_eq!(trafs.len(), 1, "one traf per moof (CMAF)");
        let traf = trafs[0];
        let tfhd = child(traf, b"tfhd").expect("traf has tfhd");
        let tf_flags = u32_at(tfhd, 0) & 0xff_ffff;
        let track_id = u32_at(tfhd, 4);
        let mut o = 8;
        if tf_flags & 0x01 != 0 {
            o += 8;
        }
        if tf_flags & 0x02 != 0 {
            o += 4;
        }
        let mut def_duration = init.trex_duration;
        if tf_flags & 0x08 != 0 {
            def_duration = u32_at(tfhd, o);
            o += 4;
        }
        if tf_flags & 0x10 != 0 {
            o += 4;
        }
        let mut def_flags = init.trex_flags;
        if tf_flags & 0x20 != 0 {
            def_flags = u32_at(tfhd, o);
        }
        let tfdt = child(traf, b"tfdt").expect("traf has tfdt (MP4-SEG-03)");
        let tfdt_version = tfdt[0];
        let base = if tfdt_version == 1 {
            be_uint(&tfdt[4..12])
        } else {
            u64::from(u32_at(tfdt, 4))
        };
        let mut samples = 0u32;
        let mut duration = 0u64;
        let mut sync = 0u32;
        let mut first_is_sync = None;
        for trun in children(traf, b"trun") {
            let flags = u32_at(trun, 0) & 0xff_ffff;
            let count = u32_at(trun, 4);
            let mut o = 8;
            if flags & 0x01 != 0 {
                o += 4;
            }
            let mut first_flags = None;
            if flags & 0x04 != 0 {
                first_flags = Some(u32_at(trun, o));
                o += 4;
            }
            for i in 0..count {
                let mut d = def_duration;
                if flags & 0x100 != 0 {
                    d = u32_at(trun, o);
                    o += 4;
                }
                if flags & 0x200 != 0 {
                    o += 4;
                }
                let mut f = if i == 0 {
                    first_flags.unwrap_or(def_flags)
                } else {
                    def_flags
                };
                if flags & 0x400 != 0 {
                    f = u32_at(trun, o);
                    o += 4;
                }
                if flags & 0x800 != 0 {
                    o += 4;
                }
                duration += u64::from(d);
                let is_sync = f & SAMPLE_IS_NON_SYNC == 0;
                sync += u32::from(is_sync);
                first_is_sync.get_or_insert(is_sync);
            }
            samples += count;
        }
        out.push(Fragment {
            sequence: u32_at(mfhd, 4),
            track_id,
            tfdt_version,
            tfdt: base,
            samples,
            duration,
            first_is_sync: first_is_sync.unwrap_or(false),
            sync_samples: sync,
        });
    }
    out
}

// ---------------------------------------------------------------------------
// Playlists
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct MediaSeg {
    uri: String,
    duration: f64,
    /// URI of the EXT-X-MAP in effect.
    map: Option<String>,
    discontinuity: bool,
}

#[derive(Debug, Clone)]
struct MediaPlaylist {
    versions: Vec<u32>,
    target: Option<u64>,
    media_sequence: u64,
    discontinuity_sequence: u64,
    endlist: bool,
    playlist_type: Option<String>,
    segments: Vec<MediaSeg>,
}

impl MediaPlaylist {
    fn duration(&self) -> f64 {
        self.segments.iter().map(|s| s.duration).sum()
    }
    fn last_msn(&self) -> Option<u64> {
        (!self.segments.is_empty()).then(|| self.media_sequence + self.segments.len() as u64 - 1)
    }
    fn discontinuities(&self) -> usize {
        self.segments.iter().filter(|s| s.discontinuity).count()
    }
    fn maps(&self) -> Vec<String> {
        let mut m: Vec<String> = Vec::new();
        for s in &self.segments {
            if let Some(u) = &s.map {
                if !m.contains(u) {
                    m.push(u.clone());
                }
            }
        }
        m
    }
}

fn quoted_attr(line: &str, name: &str) -> Option<String> {
    parse_attrs(line.split_once(':')?.1).remove(name)
}

/// Attribute list → map (quotes removed).
fn parse_attrs(s: &str) -> HashMap<String, String> {
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

fn parse_media(text: &str) -> Result<MediaPlaylist, String> {
    let mut lines = text.lines();
    if lines.next().map(str::trim_end) != Some("#EXTM3U") {
        return Err("first line is not #EXTM3U".into());
    }
    let mut pl = MediaPlaylist {
        versions: Vec::new(),
        target: None,
        media_sequence: 0,
        discontinuity_sequence: 0,
        endlist: false,
        playlist_type: None,
        segments: Vec::new(),
    };
    let mut map: Option<String> = None;
    let mut pending_inf: Option<f64> = None;
    let mut pending_disc = false;
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let seg_seen = !pl.segments.is_empty() || pending_inf.is_some();
        if let Some(v) = line.strip_prefix("#EXT-X-VERSION:") {
            pl.versions
                .push(v.parse().map_err(|_| format!("bad VERSION {line:?}"))?);
        } else if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            pl.target = Some(v.parse().map_err(|_| format!("bad TARGETDURATION {line:?}"))?);
        } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            if seg_seen {
                return Err("EXT-X-MEDIA-SEQUENCE after the first segment".into());
            }
            pl.media_sequence = v.parse().map_err(|_| format!("bad {line:?}"))?;
        } else if let Some(v) = line.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:") {
            if seg_seen || pending_disc {
                return Err("EXT-X-DISCONTINUITY-SEQUENCE after a segment or DISCONTINUITY".into());
            }
            pl.discontinuity_sequence = v.parse().map_err(|_| format!("bad {line:?}"))?;
        } else if line.starts_with("#EXT-X-MAP:") {
            map = Some(quoted_attr(line, "URI").ok_or_else(|| format!("MAP without URI: {line}"))?);
        } else if let Some(v) = line.strip_prefix("#EXTINF:") {
            let d = v.split(',').next().unwrap_or("");
            pending_inf = Some(d.parse().map_err(|_| format!("bad EXTINF {line:?}"))?);
        } else if line == "#EXT-X-DISCONTINUITY" {
            pending_disc = true;
        } else if line == "#EXT-X-ENDLIST" {
            pl.endlist = true;
        } else if let Some(v) = line.strip_prefix("#EXT-X-PLAYLIST-TYPE:") {
            pl.playlist_type = Some(v.to_owned());
        } else if line.starts_with('#') {
            // Other tags (PROGRAM-DATE-TIME, INDEPENDENT-SEGMENTS, …).
        } else {
            let duration = pending_inf
                .take()
                .ok_or_else(|| format!("URI {line:?} without EXTINF"))?;
            pl.segments.push(MediaSeg {
                uri: line.to_owned(),
                duration,
                map: map.clone(),
                discontinuity: std::mem::take(&mut pending_disc),
            });
        }
    }
    if pending_inf.is_some() {
        return Err("EXTINF without a URI at the end".into());
    }
    Ok(pl)
}

#[derive(Debug, Clone)]
struct Multivariant {
    versions: Vec<u32>,
    /// (STREAM-INF attributes, URI)
    variants: Vec<(HashMap<String, String>, String)>,
    media: Vec<HashMap<String, String>>,
}

fn parse_multivariant(text: &str) -> Result<Multivariant, String> {
    let mut lines = text.lines().map(str::trim_end).filter(|l| !l.is_empty());
    if lines.next() != Some("#EXTM3U") {
        return Err("first line is not #EXTM3U".into());
    }
    let mut mv = Multivariant {
        versions: Vec::new(),
        variants: Vec::new(),
        media: Vec::new(),
    };
    let mut pending: Option<HashMap<String, String>> = None;
    for line in lines {
        if let Some(v) = line.strip_prefix("#EXT-X-VERSION:") {
            mv.versions.push(v.parse().map_err(|_| format!("bad {line:?}"))?);
        } else if let Some(a) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            pending = Some(parse_attrs(a));
        } else if let Some(a) = line.strip_prefix("#EXT-X-MEDIA:") {
            mv.media.push(parse_attrs(a));
        } else if line.starts_with("#EXTINF") || line.starts_with("#EXT-X-TARGETDURATION") {
            return Err(format!("media playlist tag in a multivariant playlist: {line}"));
        } else if !line.starts_with('#') {
            let attrs = pending
                .take()
                .ok_or_else(|| format!("URI {line:?} without EXT-X-STREAM-INF"))?;
            mv.variants.push((attrs, line.to_owned()));
        }
    }
    Ok(mv)
}

// ---------------------------------------------------------------------------
// Recorder: polls playlists, keeps every snapshot, downloads every new file
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Snapshot {
    at: Instant,
    name: &'static str,
    status: u16,
    cache_control: Option<String>,
    body: String,
}

#[derive(Default)]
struct Recording {
    snapshots: Vec<Snapshot>,
    /// Every init and media segment URI seen in a media playlist → bytes.
    files: BTreeMap<String, Vec<u8>>,
    /// Segment downloads that failed although the URI was listed.
    fetch_errors: Vec<String>,
}

impl Recording {
    fn of(&self, name: &str) -> impl Iterator<Item = &Snapshot> + '_ {
        let name = name.to_owned();
        self.snapshots.iter().filter(move |s| s.name == name)
    }

    fn last_ok(&self, name: &str) -> Option<&Snapshot> {
        self.of(name).filter(|s| s.status == 200).last()
    }

    fn last_media(&self, name: &str) -> MediaPlaylist {
        let s = self
            .last_ok(name)
            .unwrap_or_else(|| panic!("{name} was never served"));
        parse_media(&s.body).unwrap_or_else(|e| panic!("{name}: {e}\n{}", s.body))
    }

    /// Every segment ever listed in `name`, by media sequence number.
    fn timeline(&self, name: &str) -> BTreeMap<u64, MediaSeg> {
        let mut out = BTreeMap::new();
        for s in self.of(name).filter(|s| s.status == 200) {
            if let Ok(pl) = parse_media(&s.body) {
                for (i, seg) in pl.segments.iter().enumerate() {
                    out.insert(pl.media_sequence + i as u64, seg.clone());
                }
            }
        }
        out
    }

    fn file(&self, uri: &str) -> &[u8] {
        self.files
            .get(uri)
            .unwrap_or_else(|| panic!("{uri} was listed but not downloaded: {:?}", self.fetch_errors))
    }

    /// All playlist texts of `name`, for failure messages.
    fn dump(&self, name: &str, last: usize) -> String {
        let all: Vec<&Snapshot> = self.of(name).filter(|s| s.status == 200).collect();
        let skip = all.len().saturating_sub(last);
        all[skip..]
            .iter()
            .map(|s| s.body.as_str())
            .collect::<Vec<_>>()
            .join("-----\n")
    }
}

struct Recorder {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Recording>>,
}

impl Recorder {
    /// Polls `BASE/NAME` for each of `media` (media playlists: their init and
    /// segment URIs are downloaded once each) and `other` (snapshots only):
    /// every 100 ms until each media playlist has been served once, then every
    /// `interval`. Stops after a pass in which every media playlist carried
    /// ENDLIST, or when [`Recorder::finish`] is called.
    fn start(
        addr: SocketAddr,
        base: &str,
        media: &'static [&'static str],
        other: &'static [&'static str],
        interval: Duration,
    ) -> Recorder {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let base = base.trim_end_matches('/').to_owned();
        let handle = std::thread::spawn(move || {
            let mut rec = Recording::default();
            let give_up = Instant::now() + Duration::from_secs(150);
            loop {
                let stopping = flag.load(Ordering::SeqCst) || Instant::now() > give_up;
                let mut all_ended = true;
                let mut all_served = true;
                for &name in media.iter().chain(other.iter()) {
                    let is_media = media.contains(&name);
                    let r = http_get(addr, &format!("{base}/{name}"));
                    let at = Instant::now();
                    let Ok(r) = r else {
                        all_ended &= !is_media;
                        all_served &= !is_media;
                        continue;
                    };
                    rec.snapshots.push(Snapshot {
                        at,
                        name,
                        status: r.status,
                        cache_control: r.header("cache-control").map(str::to_owned),
                        body: r.text(),
                    });
                    if !is_media {
                        continue;
                    }
                    let pl = (r.status == 200).then(|| parse_media(&r.text()).ok()).flatten();
                    let Some(pl) = pl else {
                        all_ended = false;
                        all_served = false;
                        continue;
                    };
                    all_ended &= pl.endlist;
                    let uris = pl
                        .segments
                        .iter()
                        .flat_map(|s| s.map.iter().chain(std::iter::once(&s.uri)));
                    for uri in uris {
                        if rec.files.contains_key(uri) {
                            continue;
                        }
                        match http_get(addr, &format!("{base}/{uri}")) {
                            Ok(f) if f.status == 200 => {
                                rec.files.insert(uri.clone(), f.body);
                            }
                            Ok(f) => rec
                                .fetch_errors
                                .push(format!("{uri}: status {} while listed", f.status)),
                            Err(e) => rec.fetch_errors.push(format!("{uri}: {e}")),
                        }
                    }
                }
                if stopping || (all_ended && !media.is_empty()) {
                    break;
                }
                std::thread::sleep(if all_served {
                    interval
                } else {
                    Duration::from_millis(100)
                });
            }
            rec
        });
        Recorder {
            stop,
            handle: Some(handle),
        }
    }

    /// Waits (bounded) for the recorder to stop by itself after ENDLIST.
    fn wait_ended(mut self, timeout: Duration) -> Recording {
        let h = self.handle.take().expect("recorder handle");
        let deadline = Instant::now() + timeout;
        while !h.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stop.store(true, Ordering::SeqCst);
        h.join().expect("recorder thread panicked")
    }

    fn finish(self) -> Recording {
        self.wait_ended(Duration::ZERO)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// Playlist invariants over a recording (case 38)
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct InvariantReport {
    /// 200 snapshots checked.
    checked: usize,
    /// From the first to the last 200 snapshot.
    span: Duration,
    /// Longest wait for a new segment while live.
    longest_wait: Duration,
    target: Option<u64>,
    version: Option<u32>,
    violations: Vec<String>,
}

struct InvariantOptions {
    /// A live playlist must gain a segment at least this often (1.5 × TD
    /// plus the sampling interval, scaled by the publish speed).
    max_wait: Box<dyn Fn(u64) -> Duration>,
    /// A time window in which no new segments are expected (publisher gone).
    quiet: Option<(Instant, Instant)>,
}

fn check_invariants(rec: &Recording, name: &str, opts: &InvariantOptions) -> InvariantReport {
    let mut rep = InvariantReport::default();
    let mut prev: Option<(Instant, MediaPlaylist)> = None;
    let mut first_at: Option<Instant> = None;
    let mut last_new_at: Option<Instant> = None;
    let mut msn_uri: HashMap<u64, String> = HashMap::new();
    let mut ended_at: Option<MediaPlaylist> = None;
    let mut v = Vec::new();
    for s in rec.of(name) {
        if s.status != 200 {
            if prev.is_some() {
                v.push(format!("{name} answered {} after it had been served", s.status));
            }
            continue;
        }
        let pl = match parse_media(&s.body) {
            Ok(pl) => pl,
            Err(e) => {
                v.push(format!("{name} does not parse: {e}\n{}", s.body));
                continue;
            }
        };
        rep.checked += 1;
        first_at.get_or_insert(s.at);
        rep.span = s.at - first_at.unwrap();
        let ctx = || format!("\n--- snapshot ---\n{}", s.body);
        if pl.versions.len() != 1 {
            v.push(format!("{} EXT-X-VERSION tags{}", pl.versions.len(), ctx()));
        }
        if let Some(&ver) = pl.versions.first() {
            match rep.version {
                None => rep.version = Some(ver),
                Some(p) if p != ver => v.push(format!("VERSION changed {p} -> {ver}{}", ctx())),
                _ => {}
            }
        }
        let Some(td) = pl.target else {
            v.push(format!("no TARGETDURATION{}", ctx()));
            continue;
        };
        match rep.target {
            None => rep.target = Some(td),
            Some(p) if p != td => v.push(format!("TARGETDURATION changed {p} -> {td}{}", ctx())),
            _ => {}
        }
        for seg in &pl.segments {
            if seg.duration.round() as u64 > td {
                v.push(format!(
                    "EXTINF {} of {} rounds above TARGETDURATION {td}{}",
                    seg.duration,
                    seg.uri,
                    ctx()
                ));
            }
        }
        if pl.segments.first().is_some_and(|s| s.map.is_none()) {
            v.push(format!("no EXT-X-MAP above the first segment{}", ctx()));
        }
        if pl.playlist_type.is_some() {
            v.push(format!("live playlist has EXT-X-PLAYLIST-TYPE{}", ctx()));
        }
        if !pl.endlist && pl.segments.len() < 2 {
            v.push(format!("live playlist with {} segment(s){}", pl.segments.len(), ctx()));
        }
        for (i, seg) in pl.segments.iter().enumerate() {
            let msn = pl.media_sequence + i as u64;
            if let Some(old) = msn_uri.insert(msn, seg.uri.clone()) {
                if old != seg.uri {
                    v.push(format!("MSN {msn} was {old}, now {}{}", seg.uri, ctx()));
                }
            }
        }
        if let Some(ended) = &ended_at {
            if ended.segments != pl.segments || !pl.endlist {
                v.push(format!("playlist changed after ENDLIST{}", ctx()));
            }
        }
        if pl.endlist {
            ended_at.get_or_insert_with(|| pl.clone());
        }
        if pl.media_sequence > 0 && !pl.endlist && pl.duration() < 3.0 * td as f64 {
            v.push(format!(
                "segments were removed, leaving {:.3} s < 3 × TD{}",
                pl.duration(),
                ctx()
            ));
        }
        match &prev {
            None => last_new_at = Some(s.at),
            Some((_, p)) => {
                if pl.media_sequence < p.media_sequence {
                    v.push(format!(
                        "MEDIA-SEQUENCE went backwards {} -> {}{}",
                        p.media_sequence,
                        pl.media_sequence,
                        ctx()
                    ));
                }
                let now: HashSet<&str> = pl.segments.iter().map(|s| s.uri.as_str()).collect();
                let removed = p
                    .segments
                    .iter()
                    .take_while(|s| !now.contains(s.uri.as_str()))
                    .count();
                let removed_any = p
                    .segments
                    .iter()
                    .filter(|s| !now.contains(s.uri.as_str()))
                    .count();
                if removed != removed_any {
                    v.push(format!("segments removed from the middle{}", ctx()));
                }
                if pl.media_sequence != p.media_sequence + removed as u64 {
                    v.push(format!(
                        "MEDIA-SEQUENCE {} -> {} but {removed} URI(s) removed{}",
                        p.media_sequence,
                        pl.media_sequence,
                        ctx()
                    ));
                }
                let kept = &p.segments[removed..];
                if pl.segments.len() < kept.len() || pl.segments[..kept.len()] != *kept {
                    v.push(format!("kept segments changed{}", ctx()));
                }
                let removed_disc = p.segments[..removed]
                    .iter()
                    .filter(|s| s.discontinuity)
                    .count() as u64;
                if pl.discontinuity_sequence != p.discontinuity_sequence + removed_disc {
                    v.push(format!(
                        "DISCONTINUITY-SEQUENCE {} -> {} with {removed_disc} DISCONTINUITY removed{}",
                        p.discontinuity_sequence,
                        pl.discontinuity_sequence,
                        ctx()
                    ));
                }
                if pl.last_msn() > p.last_msn() {
                    last_new_at = Some(s.at);
                } else if !pl.endlist {
                    let since = s.at - last_new_at.unwrap();
                    let quiet = opts.quiet.is_some_and(|(a, b)| {
                        last_new_at.unwrap() < b && s.at > a
                    });
                    if !quiet {
                        rep.longest_wait = rep.longest_wait.max(since);
                        if since > (opts.max_wait)(td) {
                            v.push(format!(
                                "no new segment for {since:?} (TD {td}){}",
                                ctx()
                            ));
                        }
                    }
                }
            }
        }
        prev = Some((s.at, pl));
    }
    // One violation of each kind is enough to read.
    let mut seen = HashSet::new();
    rep.violations = v
        .into_iter()
        .filter(|m| seen.insert(m.lines().next().unwrap_or("").split_whitespace().take(3).collect::<String>()))
        .collect();
    rep
}

fn default_invariants(interval: Duration, speed: f64) -> InvariantOptions {
    InvariantOptions {
        max_wait: Box::new(move |td| {
            Duration::from_secs_f64(1.5 * td as f64 / speed) + interval + Duration::from_millis(300)
        }),
        quiet: None,
    }
}

// ---------------------------------------------------------------------------
// ffprobe helpers
// ---------------------------------------------------------------------------

/// `ffprobe -of json` with `args`; `Err(stderr)` on failure.
fn ffprobe_json(args: &[&str]) -> Result<Value, String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("spawn ffprobe: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ffprobe {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("ffprobe JSON: {e}"))
}

#[derive(Debug, Clone)]
struct Packet {
    pts: Option<i64>,
    dts: Option<i64>,
    duration: Option<i64>,
    key: bool,
}

struct Probe {
    streams: Vec<Value>,
    packets: Vec<Packet>,
}

fn probe_file(path: &Path) -> Probe {
    let p = path.to_str().unwrap();
    let v = ffprobe_json(&[
        "-show_entries",
        "stream=codec_type,codec_name,profile,width,height,sample_rate,channels,time_base:packet=pts,dts,duration,flags",
        p,
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let packets = v["packets"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| Packet {
            pts: p["pts"].as_i64(),
            dts: p["dts"].as_i64(),
            duration: p["duration"].as_i64(),
            key: p["flags"].as_str().unwrap_or("").contains('K'),
        })
        .collect();
    Probe {
        streams: v["streams"].as_array().cloned().unwrap_or_default(),
        packets,
    }
}

/// init + segments written to one file and probed.
fn concat_probe(name: &str, init: &[u8], segs: &[&[u8]]) -> Probe {
    let mut all = init.to_vec();
    for s in segs {
        all.extend_from_slice(s);
    }
    probe_file(&write_out(name, &all))
}

fn stream_summary(streams: &[Value]) -> String {
    streams
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------

/// Continuity of one track over every recorded segment (by MSN): exact
/// tfdt(n+1) == tfdt(n) + Σ durations within runs, where a run ends at a
/// DISCONTINUITY; at a discontinuity tfdt must still not go backwards.
/// Returns (segments, samples, sync samples, fragments per segment).
struct TrackCheck {
    segments: usize,
    samples: u64,
    sync_samples: u64,
    timescale: u32,
    first_tfdt: u64,
    end_tfdt: u64,
}

fn check_track(rec: &Recording, playlist: &str, video: bool) -> TrackCheck {
    let timeline = rec.timeline(playlist);
    assert!(!timeline.is_empty(), "no segments recorded for {playlist}");
    let msns: Vec<u64> = timeline.keys().copied().collect();
    assert!(
        msns.windows(2).all(|w| w[1] == w[0] + 1),
        "{playlist}: recorded MSNs are not consecutive: {msns:?}"
    );
    let mut inits: HashMap<String, InitInfo> = HashMap::new();
    let mut prev_end: Option<u64> = None;
    let mut prev_seq: Option<u32> = None;
    let mut check = TrackCheck {
        segments: 0,
        samples: 0,
        sync_samples: 0,
        timescale: 0,
        first_tfdt: 0,
        end_tfdt: 0,
    };
    for (msn, seg) in &timeline {
        let map = seg.map.clone().expect("segment without MAP");
        let init = *inits
            .entry(map.clone())
            .or_insert_with(|| parse_init(rec.file(&map)));
        check.timescale = init.timescale;
        let frags = parse_fragments(rec.file(&seg.uri), &init);
        assert!(!frags.is_empty(), "{}: no moof", seg.uri);
        if video {
            assert!(
                frags[0].first_is_sync,
                "{} (MSN {msn}) does not start with a sync sample (MP4-SEG-07)",
                seg.uri
            );
        }
        let mut seg_ticks = 0u64;
        for (i, f) in frags.iter().enumerate() {
            assert_eq!(f.tfdt_version, 1, "{}: tfdt must be version 1", seg.uri);
            assert_eq!(f.track_id, init.track_id, "{}: track id", seg.uri);
            if let Some(p) = prev_seq {
                assert!(
                    f.sequence > p,
                    "{}: mfhd sequence {} after {p}",
                    seg.uri,
                    f.sequence
                );
            }
            prev_seq = Some(f.sequence);
            match prev_end {
                None => check.first_tfdt = f.tfdt,
                Some(end) if i == 0 && seg.discontinuity => assert!(
                    f.tfdt >= end,
                    "{}: tfdt {} goes back before the previous end {end} across the discontinuity",
                    seg.uri,
                    f.tfdt
                ),
                Some(end) => assert_eq!(
                    f.tfdt, end,
                    "{} (MSN {msn}) fragment {i}: tfdt {} != previous tfdt + Σ durations = {end} (diff {})",
                    seg.uri,
                    f.tfdt,
                    f.tfdt as i128 - end as i128
                ),
            }
            prev_end = Some(f.tfdt + f.duration);
            seg_ticks += f.duration;
            check.samples += u64::from(f.samples);
            check.sync_samples += u64::from(f.sync_samples);
        }
        // EXTINF is the media duration of the segment (5 decimals printed).
        let secs = seg_ticks as f64 / f64::from(init.timescale);
        assert!(
            (secs - seg.duration).abs() < 0.0011,
            "{}: EXTINF {} but the samples last {secs:.6} s",
            seg.uri,
            seg.duration
        );
        check.segments += 1;
    }
    check.end_tfdt = prev_end.unwrap_or(0);
    check
}

/// Every video segment, probed alone with its init, starts with a key frame.
fn assert_segments_start_with_key_frames(rec: &Recording, playlist: &str, tag: &str) {
    for (msn, seg) in rec.timeline(playlist) {
        let map = seg.map.as_deref().unwrap();
        let p = concat_probe(
            &format!("{tag}-seg{msn}.mp4"),
            rec.file(map),
            &[rec.file(&seg.uri)],
        );
        let first = p
            .packets
            .first()
            .unwrap_or_else(|| panic!("{}: no packets", seg.uri));
        assert!(
            first.key,
            "{} (init {map}) does not start with a key frame: {:?}",
            seg.uri,
            &p.packets[..p.packets.len().min(3)]
        );
    }
}

fn assert_strictly_increasing_dts(packets: &[Packet], what: &str) {
    for w in packets.windows(2) {
        let (a, b) = (w[0].dts.expect("dts"), w[1].dts.expect("dts"));
        assert!(b > a, "{what}: DTS not increasing: {a} then {b}");
    }
}

fn audio_stream(streams: &[Value]) -> Option<&Value> {
    streams.iter().find(|s| s["codec_type"] == "audio")
}

fn video_stream(streams: &[Value]) -> Option<&Value> {
    streams.iter().find(|s| s["codec_type"] == "video")
}

fn is_short_cache(cc: Option<&str>, td: u64) -> bool {
    let Some(cc) = cc else { return false };
    let cc = cc.to_ascii_lowercase();
    if cc.contains("no-cache") || cc.contains("no-store") {
        return true;
    }
    cc.split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .filter_map(|v| v.parse::<u64>().ok())
        .any(|age| age <= td)
}

fn max_age(cc: Option<&str>) -> Option<u64> {
    cc?.split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|v| v.parse().ok())
}

/// Polls both media playlists until they carry ENDLIST; returns when.
fn wait_endlist(weir: &Weir, base: &str, names: &[&str], timeout: Duration) -> Option<Instant> {
    poll_every(timeout, Duration::from_millis(20), || {
        names
            .iter()
            .all(|n| {
                http_get(weir.http_addr, &format!("{base}/{n}"))
                    .is_ok_and(|r| r.status == 200 && r.text().contains("#EXT-X-ENDLIST"))
            })
            .then(Instant::now)
    })
}

// ---------------------------------------------------------------------------
// The shared live session (cases 17, 33, 38, 41, 43, 44, 45)
// ---------------------------------------------------------------------------

const LIVE_KEY: &str = "live720";
const LIVE_BASE: &str = "/live/live720";
const MEDIA: &[&str] = &["video.m3u8", "audio.m3u8"];
const LIVE_INTERVAL: Duration = Duration::from_millis(250);

struct LiveSession {
    asset: PathBuf,
    rec: Recording,
    /// `/api/streams` first listed the stream as live.
    live_at: Instant,
    publisher_status: Option<ExitStatus>,
    publisher_exit_at: Instant,
    /// Both media playlists carried ENDLIST this long after ffmpeg exited.
    endlist_after_exit: Option<Duration>,
    /// `ffprobe -show_streams index.m3u8` while live.
    index_probe: Result<Value, String>,
    /// `ffmpeg -i index.m3u8 -t 15 -c copy out.mp4`.
    client_status: Option<ExitStatus>,
    client_stderr: String,
    client_out: PathBuf,
    /// Labelled HTTP exchanges made while live (case 43).
    http: BTreeMap<&'static str, HttpResponse>,
    /// Playlists fetched 3 s after the end (ended streams stay fetchable).
    after_end: BTreeMap<&'static str, HttpResponse>,
    weir_log: String,
}

fn live_session() -> &'static LiveSession {
    static SESSION: OnceLock<Result<LiveSession, String>> = OnceLock::new();
    let r = SESSION.get_or_init(|| {
        std::panic::catch_unwind(run_live_session).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into())
        })
    });
    match r {
        Ok(s) => s,
        Err(e) => panic!("the shared live session failed: {e}"),
    }
}

fn run_live_session() -> LiveSession {
    let asset = high_720p_25s();
    let weir = Weir::start(&[]);
    let rec = Recorder::start(weir.http_addr, LIVE_BASE, MEDIA, &["index.m3u8"], LIVE_INTERVAL);
    let mut ff = Ffmpeg::publish(&asset, &weir.rtmp_url(LIVE_KEY), true, &[]);
    weir.wait_live(LIVE_KEY);
    let live_at = Instant::now();

    let index = format!("{LIVE_BASE}/index.m3u8");
    poll_every(Duration::from_secs(20), Duration::from_millis(50), || {
        (weir.http(&index).status == 200).then_some(())
    })
    .expect("index.m3u8 not served within 20 s of going live");
    let index_url = weir.http_url(&index);
    let client_out = out_dir().join("live720-client.mp4");
    let _ = std::fs::remove_file(&client_out);
    let mut client = Ffmpeg::spawn(&[
        "-i",
        &index_url,
        "-t",
        "15",
        "-c",
        "copy",
        "-y",
        client_out.to_str().unwrap(),
    ]);
    let index_probe = ffprobe_json(&["-show_streams", &index_url]);

    // Case 43 exchanges, while live.
    let mut http = BTreeMap::new();
    let get = |path: &str, headers: &[(&str, &str)]| {
        http_request(weir.http_addr, "GET", &format!("{LIVE_BASE}/{path}"), headers)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    };
    for (label, name) in [
        ("index", "index.m3u8"),
        ("video.m3u8", "video.m3u8"),
        ("audio.m3u8", "audio.m3u8"),
    ] {
        http.insert(label, get(name, &[]));
    }
    let vpl = parse_media(&http["video.m3u8"].text()).expect("video.m3u8 parses");
    let apl = parse_media(&http["audio.m3u8"].text()).expect("audio.m3u8 parses");
    let vseg = vpl.segments.last().unwrap().clone();
    let aseg = apl.segments.last().unwrap().clone();
    http.insert("video init", get(vseg.map.as_deref().unwrap(), &[]));
    http.insert("video segment", get(&vseg.uri, &[]));
    http.insert("audio init", get(aseg.map.as_deref().unwrap(), &[]));
    http.insert("audio segment", get(&aseg.uri, &[]));
    http.insert(
        "video segment range 0-99",
        get(&vseg.uri, &[("Range", "bytes=0-99")]),
    );
    http.insert(
        "video.m3u8 gzip",
        get("video.m3u8", &[("Accept-Encoding", "gzip")]),
    );
    http.insert("index gzip", get("index.m3u8", &[("Accept-Encoding", "gzip")]));
    let preflight = |path: &str| {
        http_request(
            weir.http_addr,
            "OPTIONS",
            &format!("{LIVE_BASE}/{path}"),
            &[
                ("Origin", "http://player.example"),
                ("Access-Control-Request-Method", "GET"),
                ("Access-Control-Request-Headers", "range"),
            ],
        )
        .unwrap_or_else(|e| panic!("OPTIONS {path}: {e}"))
    };
    http.insert("preflight segment", preflight(&vseg.uri));
    http.insert("preflight playlist", preflight("video.m3u8"));
    http.insert("segment far ahead", get("video/seg-99999.m4s", &[]));
    http.insert(
        "unknown stream playlist",
        http_get(weir.http_addr, "/live/no-such-stream/index.m3u8").unwrap(),
    );
    http.insert(
        "unknown stream segment",
        http_get(weir.http_addr, "/live/no-such-stream/video/seg-0.m4s").unwrap(),
    );

    let publisher_status = ff.wait_timeout(Duration::from_secs(60));
    let publisher_exit_at = Instant::now();
    let endlist_after_exit = wait_endlist(&weir, LIVE_BASE, MEDIA, Duration::from_secs(5))
        .map(|t| t.duration_since(publisher_exit_at));
    let client_status = client.wait_timeout(Duration::from_secs(30));
    let rec = rec.wait_ended(Duration::from_secs(5));

    std::thread::sleep(Duration::from_secs(3));
    let mut after_end = BTreeMap::new();
    for name in ["index.m3u8", "video.m3u8", "audio.m3u8"] {
        after_end.insert(name, get(name, &[]));
    }
    LiveSession {
        asset,
        rec,
        live_at,
        publisher_status,
        publisher_exit_at,
        endlist_after_exit,
        index_probe,
        client_status,
        client_stderr: client.stderr(),
        client_out,
        http,
        after_end,
        weir_log: weir.stderr(),
    }
}

// ---------------------------------------------------------------------------
// Case 11: timestamps cross the 24-bit boundary (0xFFFFFF ms ≈ 16 777.2 s)
// ---------------------------------------------------------------------------
#[test]
fn case11_timestamps_cross_24bit_boundary_tfdt_continuous() {
    let asset = common::assets::small_av(20);
    let weir = Weir::start(&["--playlist-window", "15"]);
    let rec = Recorder::start(
        weir.http_addr,
        "/live/ts24",
        MEDIA,
        &[],
        Duration::from_millis(500),
    );
    let mut ff = Ffmpeg::publish(
        &asset,
        &weir.rtmp_url("ts24"),
        true,
        &["-output_ts_offset", "16770"],
    );
    let status = ff.wait_timeout(Duration::from_secs(40));
    assert!(
        status.is_some_and(|s| s.success()),
        "publisher: {status:?}\n{}",
        ff.stderr()
    );
    let rec = rec.wait_ended(Duration::from_secs(5));
    assert!(rec.fetch_errors.is_empty(), "{:?}", rec.fetch_errors);

    let opts = default_invariants(Duration::from_millis(500), 1.0);
    for name in MEDIA {
        let r = check_invariants(&rec, name, &opts);
        assert!(r.violations.is_empty(), "{name}: {}", r.violations.join("\n"));
        assert!(
            r.checked >= 20,
            "{name}: only {} snapshots over {:?}: the playlist did not keep growing",
            r.checked,
            r.span
        );
        let last = rec.last_media(name);
        assert!(last.endlist, "{name} should end with ENDLIST");
        assert_eq!(
            last.discontinuities(),
            0,
            "{name}: the 24-bit boundary must not cause a discontinuity\n{}",
            rec.dump(name, 1)
        );
        assert_eq!(last.media_sequence, 0, "window 15 keeps everything");
    }
    let v = check_track(&rec, "video.m3u8", true);
    let a = check_track(&rec, "audio.m3u8", false);
    // The whole 20 s made it through, across the boundary at ~7.2 s.
    let vsecs = (v.end_tfdt - v.first_tfdt) as f64 / f64::from(v.timescale);
    let asecs = (a.end_tfdt - a.first_tfdt) as f64 / f64::from(a.timescale);
    assert!(vsecs > 19.0 && asecs > 19.0, "video {vsecs} s, audio {asecs} s");
    assert_eq!(v.samples, ffprobe_count_packets(&asset, "v:0"), "video samples");
    assert_eq!(a.samples, ffprobe_count_packets(&asset, "a:0"), "audio samples");
    // Concat-probe: continuous pts (no gap above one frame).
    let timeline = rec.timeline("video.m3u8");
    let init = rec.file(timeline.values().next().unwrap().map.as_deref().unwrap());
    let segs: Vec<&[u8]> = timeline.values().map(|s| rec.file(&s.uri)).collect();
    let p = concat_probe("ts24-video.mp4", init, &segs);
    assert_strictly_increasing_dts(&p.packets, "ts24 video");
    let mut pts: Vec<i64> = p.packets.iter().filter_map(|p| p.pts).collect();
    pts.sort_unstable();
    let frame = 90_000 / 30;
    for w in pts.windows(2) {
        assert!(
            w[1] - w[0] <= frame + 90,
            "pts gap {} ticks (> 1 frame) at {}",
            w[1] - w[0],
            w[0]
        );
    }
}

// ---------------------------------------------------------------------------
// Case 17: a graceful finish puts ENDLIST in both media playlists within 1 s
// ---------------------------------------------------------------------------
#[test]
fn case17_graceful_finish_endlist_within_1s() {
    let s = live_session();
    assert!(
        s.publisher_status.is_some_and(|st| st.success()),
        "publisher {:?}",
        s.publisher_status
    );
    let after = s
        .endlist_after_exit
        .expect("no ENDLIST within 5 s of the publisher exiting");
    eprintln!("ENDLIST {after:?} after ffmpeg exited");
    assert!(after <= Duration::from_secs(1), "ENDLIST after {after:?}");
    // Ended streams stay fetchable, with ENDLIST, for a while.
    for (name, r) in &s.after_end {
        assert_eq!(r.status, 200, "{name} 3 s after the end");
    }
    for name in MEDIA {
        let pl = parse_media(&s.after_end[name].text()).unwrap();
        assert!(pl.endlist, "{name} after the end:\n{}", s.after_end[name].text());
    }
    let _ = s.publisher_exit_at;
}
