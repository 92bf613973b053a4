//! End-to-end HLS tests: the real `weir` binary, real publishers (ffmpeg, or
//! a minimal RTMP publisher in this file for byte-exact FLV tags), verified
//! through the HTTP output with ffmpeg/ffprobe, `m3u8-rs` (playlists,
//! `common::hls`) and `mp4-atom` (fMP4 boxes, `common::mp4`). The FLV
//! reader and AMF writer here make input; they are not oracles.
//!
//! Case numbers refer to `shared/research/spec-checklist.md` §8.
//!
//! Wall time: most cases run on one shared live session (`live_session`: a
//! 25 s 720p publish observed by a recorder, an ffmpeg HLS client, ffprobe
//! and HTTP probes). The tests that consume it are named so that libtest
//! (which starts tests in name order) starts the session early, runs the
//! other long cases next to it, and reaches the remaining consumers once the
//! session is done (≈ 50 s for the file on two cores).

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::hls::{parse_media, parse_multivariant, Media as MediaPlaylist, Segment as MediaSeg};
use common::mp4::{self, Init};
use common::{
    asset, assets_dir, ffprobe_count_keyframes, ffprobe_count_packets, http_get, http_request,
    parse_attrs, poll_every, Ffmpeg, HttpResponse, Weir,
};
use m3u8_rs::AlternativeMediaType;
use mp4_atom::{Codec, StszSamples};
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
    assert!(
        d.starts_with(b"FLV"),
        "{} is not an FLV file",
        path.display()
    );
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
    fn send(
        &mut self,
        csid: u8,
        typ: u8,
        msid: u32,
        ts: u32,
        payload: &[u8],
    ) -> Result<(), String> {
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
// fMP4 boxes: decoded with mp4-atom (tests/common/mp4.rs)
// ---------------------------------------------------------------------------

/// An init segment decoded by mp4-atom; panics with the URI if it does not
/// decode.
fn parse_init(uri: &str, bytes: &[u8]) -> Init {
    mp4::decode_init(bytes).unwrap_or_else(|e| panic!("{uri}: {e}"))
}

/// Case 31: the init segment's box tree (MP4-INIT-01/02).
fn assert_init_structure(init_bytes: &[u8], handler: &[u8; 4], what: &str) {
    let init = parse_init(what, init_bytes);
    assert_eq!(init.top, [*b"ftyp", *b"moov"], "{what}: top-level boxes");
    let brands = init.brands();
    for want in [b"iso6", b"cmfc"] {
        assert!(
            brands.contains(want),
            "{what}: ftyp brands {:?} lack {}",
            brands
                .iter()
                .map(|b| String::from_utf8_lossy(b))
                .collect::<Vec<_>>(),
            String::from_utf8_lossy(want)
        );
    }
    assert_eq!(
        init.moov_children.first(),
        Some(b"mvhd"),
        "{what}: moov starts with mvhd"
    );
    assert_eq!(
        init.moov_children.last(),
        Some(b"mvex"),
        "{what}: mvex after the last trak"
    );
    assert_eq!(init.moov.mvhd.duration, 0, "{what}: mvhd duration");
    let trak = init.trak();
    assert!(
        trak.tkhd.enabled && trak.tkhd.in_movie,
        "{what}: tkhd enabled|in_movie, got enabled {} in_movie {}",
        trak.tkhd.enabled,
        trak.tkhd.in_movie
    );
    assert_eq!(trak.tkhd.duration, 0, "{what}: tkhd duration");
    assert_eq!(trak.mdia.mdhd.duration, 0, "{what}: mdhd duration");
    assert_eq!(&init.handler(), handler, "{what}: hdlr handler type");
    let stbl = &trak.mdia.minf.stbl;
    let stco = stbl
        .stco
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: stbl lacks stco"));
    let stsz_count = match &stbl.stsz.samples {
        StszSamples::Identical { count, .. } => *count as usize,
        StszSamples::Different { sizes } => sizes.len(),
    };
    for (table, entries) in [
        ("stts", stbl.stts.entries.len()),
        ("stsc", stbl.stsc.entries.len()),
        ("stco", stco.entries.len()),
        ("stsz", stsz_count),
    ] {
        assert_eq!(entries, 0, "{what}: {table} entries");
    }
    assert_eq!(stbl.stsd.codecs.len(), 1, "{what}: one sample entry");
    let entry = match &stbl.stsd.codecs[0] {
        Codec::Avc1(_) => b"avc1",
        Codec::Mp4a(_) => b"mp4a",
        other => panic!("{what}: sample entry {other:?}"),
    };
    let want: &[u8; 4] = if handler == b"vide" { b"avc1" } else { b"mp4a" };
    assert_eq!(entry, want, "{what}: sample entry");
}

/// One `moof` of a segment, summed up.
#[derive(Debug, Clone)]
struct Fragment {
    sequence: u32,
    track_id: u32,
    tfdt_version: Option<u8>,
    tfdt: u64,
    samples: u32,
    /// Σ sample durations (trun, else tfhd default, else trex default).
    duration: u64,
    first_is_sync: bool,
    sync_samples: u32,
    /// tfhd default-base-is-moof and base_data_offset.
    default_base_is_moof: bool,
    base_data_offset: Option<u64>,
    /// trun data_offset (first trun), relative to the moof start.
    data_offset: Option<i64>,
    /// Size of the whole moof box.
    moof_size: usize,
    /// Σ sample sizes (trun, else tfhd default).
    sample_bytes: u64,
    /// Payload length of the mdat right after this moof, if any.
    mdat_payload: Option<usize>,
}

/// A media segment decoded by mp4-atom: its top-level box types and each
/// moof summed up with the init segment's trex defaults.
fn parse_fragments(uri: &str, seg: &[u8], init: &Init) -> (Vec<[u8; 4]>, Vec<Fragment>) {
    let decoded = mp4::decode_segment(seg).unwrap_or_else(|e| panic!("{uri}: {e}"));
    let frags = decoded
        .fragments
        .iter()
        .map(|f| {
            let traf = f.traf();
            let samples = mp4::samples(traf, init.trex());
            Fragment {
                sequence: f.moof.mfhd.sequence_number,
                track_id: traf.tfhd.track_id,
                tfdt_version: f.tfdt_version,
                tfdt: f
                    .tfdt()
                    .unwrap_or_else(|| panic!("{uri}: traf has no tfdt (MP4-SEG-03)")),
                samples: samples.len() as u32,
                duration: samples.iter().map(|s| u64::from(s.duration)).sum(),
                first_is_sync: samples.first().is_some_and(|s| s.is_sync()),
                sync_samples: samples.iter().filter(|s| s.is_sync()).count() as u32,
                default_base_is_moof: traf.tfhd.default_base_is_moof,
                base_data_offset: traf.tfhd.base_data_offset,
                data_offset: f.data_offset().map(i64::from),
                moof_size: f.moof_size,
                sample_bytes: samples.iter().map(|s| u64::from(s.size)).sum(),
                mdat_payload: f.mdat_payload,
            }
        })
        .collect();
    (decoded.top, frags)
}

// ---------------------------------------------------------------------------
// Playlists: read with m3u8-rs (tests/common/hls.rs)
// ---------------------------------------------------------------------------

/// What the invariants compare of a segment between snapshots: URI,
/// EXTINF, EXT-X-MAP in effect, DISCONTINUITY, PROGRAM-DATE-TIME.
type SegFacts<'a> = (&'a str, f64, Option<&'a str>, bool, Option<i64>);

fn seg_facts(segs: &[MediaSeg]) -> Vec<SegFacts<'_>> {
    segs.iter()
        .map(|s| {
            (
                s.uri.as_str(),
                s.duration,
                s.map.as_deref(),
                s.discontinuity,
                s.pdt_ms,
            )
        })
        .collect()
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
        self.files.get(uri).unwrap_or_else(|| {
            panic!(
                "{uri} was listed but not downloaded: {:?}",
                self.fetch_errors
            )
        })
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
                    let pl = (r.status == 200)
                        .then(|| parse_media(&r.text()).ok())
                        .flatten();
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
    version: Option<u64>,
    violations: Vec<String>,
}

struct InvariantOptions {
    /// A live playlist must gain a segment at least this often (1.5 × TD
    /// plus the sampling interval, scaled by the publish speed).
    max_wait: Box<dyn Fn(u64) -> Duration>,
    /// A time window in which no new segments are expected (publisher gone).
    quiet: Option<(Instant, Instant)>,
    /// Check EXT-X-PROGRAM-DATE-TIME (HLS-PL-07).
    check_pdt: bool,
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
                v.push(format!(
                    "{name} answered {} after it had been served",
                    s.status
                ));
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
        if pl.version_tags != 1 {
            v.push(format!("{} EXT-X-VERSION tags{}", pl.version_tags, ctx()));
        }
        if let Some(ver) = pl.version {
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
        // HLS-PL-07: PDT on the first segment and after every
        // DISCONTINUITY; consecutive PDTs follow EXTINF (±2 ms) and never
        // overlap across a discontinuity.
        for (i, seg) in pl.segments.iter().enumerate().filter(|_| opts.check_pdt) {
            if (i == 0 || seg.discontinuity) && seg.pdt_ms.is_none() {
                v.push(format!("no PROGRAM-DATE-TIME on {}{}", seg.uri, ctx()));
            }
            if i == 0 {
                continue;
            }
            let p = &pl.segments[i - 1];
            if let (Some(a), Some(b)) = (p.pdt_ms, seg.pdt_ms) {
                let expect = a + (p.duration * 1000.0).round() as i64;
                if seg.discontinuity && b < expect - 2 {
                    v.push(format!(
                        "PROGRAM-DATE-TIME of {} overlaps the previous segment by {} ms{}",
                        seg.uri,
                        expect - b,
                        ctx()
                    ));
                } else if !seg.discontinuity && (b - expect).abs() > 2 {
                    v.push(format!(
                        "PROGRAM-DATE-TIME of {} is {} ms off the previous PDT + EXTINF{}",
                        seg.uri,
                        b - expect,
                        ctx()
                    ));
                }
            }
        }
        if pl.segments.first().is_some_and(|s| s.map.is_none()) {
            v.push(format!("no EXT-X-MAP above the first segment{}", ctx()));
        }
        if pl.playlist_type.is_some() {
            v.push(format!("live playlist has EXT-X-PLAYLIST-TYPE{}", ctx()));
        }
        if !pl.endlist && pl.segments.len() < 2 {
            v.push(format!(
                "live playlist with {} segment(s){}",
                pl.segments.len(),
                ctx()
            ));
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
            if seg_facts(&ended.segments) != seg_facts(&pl.segments) || !pl.endlist {
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
                if pl.segments.len() < kept.len()
                    || seg_facts(&pl.segments[..kept.len()]) != seg_facts(kept)
                {
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
                    let quiet = opts
                        .quiet
                        .is_some_and(|(a, b)| last_new_at.unwrap() < b && s.at > a);
                    if !quiet {
                        rep.longest_wait = rep.longest_wait.max(since);
                        if since > (opts.max_wait)(td) {
                            v.push(format!("no new segment for {since:?} (TD {td}){}", ctx()));
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
        .filter(|m| {
            seen.insert(
                m.lines()
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .take(3)
                    .collect::<String>(),
            )
        })
        .collect();
    rep
}

fn default_invariants(interval: Duration, speed: f64) -> InvariantOptions {
    InvariantOptions {
        max_wait: Box::new(move |td| {
            Duration::from_secs_f64(1.5 * td as f64 / speed) + interval + Duration::from_millis(300)
        }),
        quiet: None,
        check_pdt: true,
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

/// What [`check_track`] measured over one track's recorded segments.
struct TrackCheck {
    segments: usize,
    samples: u64,
    sync_samples: u64,
    timescale: u32,
    first_tfdt: u64,
    end_tfdt: u64,
}

/// Checks one track over every recorded segment (by MSN): segment layout
/// (MP4-SEG-01/02), tfdt v1, increasing mfhd sequence numbers, a sync sample
/// first in every video segment, EXTINF = Σ sample durations, and exact
/// continuity tfdt(n+1) == tfdt(n) + Σ durations over every fragment, except
/// that at a DISCONTINUITY tfdt may only jump forward.
fn check_track(rec: &Recording, playlist: &str, video: bool) -> TrackCheck {
    let timeline = rec.timeline(playlist);
    assert!(!timeline.is_empty(), "no segments recorded for {playlist}");
    let msns: Vec<u64> = timeline.keys().copied().collect();
    assert!(
        msns.windows(2).all(|w| w[1] == w[0] + 1),
        "{playlist}: recorded MSNs are not consecutive: {msns:?}"
    );
    let mut inits: HashMap<String, Init> = HashMap::new();
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
        let init = inits
            .entry(map.clone())
            .or_insert_with(|| parse_init(&map, rec.file(&map)));
        check.timescale = init.timescale();
        let (kinds, frags) = parse_fragments(&seg.uri, rec.file(&seg.uri), init);
        assert!(!frags.is_empty(), "{}: no moof", seg.uri);
        if video {
            assert!(
                frags[0].first_is_sync,
                "{} (MSN {msn}) does not start with a sync sample (MP4-SEG-07)",
                seg.uri
            );
        }
        let mut seg_ticks = 0u64;
        let first_moof = kinds.iter().position(|f| f == b"moof").unwrap();
        assert!(
            kinds[..first_moof]
                .iter()
                .all(|f| [b"styp", b"prft", b"emsg"].contains(&f))
                && kinds
                    .iter()
                    .position(|f| f == b"styp")
                    .is_none_or(|i| i == 0),
            "{}: box order {:?} (MP4-SEG-01)",
            seg.uri,
            kinds
                .iter()
                .map(|f| String::from_utf8_lossy(f))
                .collect::<Vec<_>>()
        );
        for (i, f) in frags.iter().enumerate() {
            // MP4-SEG-02: default-base-is-moof, no base_data_offset, and the
            // data offset lands on the mdat payload, which holds exactly the
            // samples.
            assert!(
                f.default_base_is_moof && f.base_data_offset.is_none(),
                "{}: tfhd default-base-is-moof {}, base_data_offset {:?}",
                seg.uri,
                f.default_base_is_moof,
                f.base_data_offset
            );
            assert_eq!(
                f.data_offset,
                Some(f.moof_size as i64 + 8),
                "{} fragment {i}: trun data_offset vs moof size {}",
                seg.uri,
                f.moof_size
            );
            assert_eq!(
                f.mdat_payload.map(|n| n as u64),
                Some(f.sample_bytes),
                "{} fragment {i}: mdat payload vs Σ sample sizes",
                seg.uri
            );
            assert_eq!(
                f.tfdt_version,
                Some(1),
                "{}: tfdt must be version 1",
                seg.uri
            );
            assert_eq!(
                Some(f.track_id),
                init.trex().map(|t| t.track_id),
                "{}: track id (tfhd vs the init's trex)",
                seg.uri
            );
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
        let secs = seg_ticks as f64 / f64::from(init.timescale());
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

/// Peak segment bit rate of a media playlist's recorded segments
/// (bytes × 8 / EXTINF, HLS2 §4.4.6.2).
fn measured_peak_bps(rec: &Recording, playlist: &str) -> u64 {
    rec.timeline(playlist)
        .values()
        .map(|s| (rec.file(&s.uri).len() as f64 * 8.0 / s.duration) as u64)
        .max()
        .unwrap_or(0)
}

/// BANDWIDTH of the last multivariant playlist covers the largest sum of
/// the renditions' peak segment bit rates.
fn assert_bandwidth_covers_peaks(rec: &Recording) {
    let idx = rec.last_ok("index.m3u8").expect("index.m3u8 served");
    let mv = parse_multivariant(&idx.body).unwrap();
    let variant = &mv.variants[0];
    let bw: u64 = variant.bandwidth;
    let peak = measured_peak_bps(rec, "video.m3u8") + measured_peak_bps(rec, "audio.m3u8");
    eprintln!("BANDWIDTH {bw}, measured peak video + audio {peak}");
    // 0.1 % slack: EXTINF is printed with 5 decimals, weir divides by ticks.
    assert!(
        bw + bw / 1000 >= peak,
        "BANDWIDTH {bw} < measured peak segment bit rate {peak} (video {} + audio {}):\n{}",
        measured_peak_bps(rec, "video.m3u8"),
        measured_peak_bps(rec, "audio.m3u8"),
        idx.body
    );
    if let Some(avg) = variant.average_bandwidth {
        assert!(avg <= bw, "{}", idx.body);
    }
}

/// Per recorded segment of `playlist` (by MSN): its Discontinuity Sequence
/// Number, media start and end (seconds, from tfdt and the trun durations)
/// and PROGRAM-DATE-TIME (ms).
#[derive(Debug, Clone, Copy)]
struct SegTime {
    dsn: u64,
    start: f64,
    end: f64,
    pdt_ms: Option<i64>,
}

fn segment_times(rec: &Recording, playlist: &str) -> BTreeMap<u64, SegTime> {
    let mut dsn: BTreeMap<u64, u64> = BTreeMap::new();
    for snap in rec.of(playlist).filter(|s| s.status == 200) {
        let Ok(pl) = parse_media(&snap.body) else {
            continue;
        };
        let mut d = pl.discontinuity_sequence;
        for (i, seg) in pl.segments.iter().enumerate() {
            d += u64::from(seg.discontinuity);
            let msn = pl.media_sequence + i as u64;
            let old = dsn.insert(msn, d);
            assert!(
                old.is_none_or(|o| o == d),
                "{playlist}: MSN {msn} changed Discontinuity Sequence Number {old:?} -> {d}"
            );
        }
    }
    let mut inits: HashMap<String, Init> = HashMap::new();
    rec.timeline(playlist)
        .into_iter()
        .map(|(msn, seg)| {
            let map = seg.map.clone().unwrap();
            let init = inits
                .entry(map.clone())
                .or_insert_with(|| parse_init(&map, rec.file(&map)));
            let (_, frags) = parse_fragments(&seg.uri, rec.file(&seg.uri), init);
            let ts = f64::from(init.timescale());
            let start = frags[0].tfdt as f64 / ts;
            let end = frags.iter().map(|f| f.tfdt + f.duration).max().unwrap() as f64 / ts;
            (
                msn,
                SegTime {
                    dsn: dsn[&msn],
                    start,
                    end,
                    pdt_ms: seg.pdt_ms,
                },
            )
        })
        .collect()
}

/// HLS2 §6.2.4-M2c: matching content in the video playlist and the audio
/// rendition has matching Discontinuity Sequence Numbers (checked at every
/// video segment's start time).
fn assert_renditions_share_discontinuity_sequence(rec: &Recording) {
    let v = segment_times(rec, "video.m3u8");
    let a = segment_times(rec, "audio.m3u8");
    for (msn, vs) in &v {
        let t = vs.start + 0.05;
        if let Some((amsn, at)) = a.iter().find(|(_, x)| x.start <= t && t < x.end) {
            assert_eq!(
                vs.dsn, at.dsn,
                "video MSN {msn} ({:.3}–{:.3} s) has DSN {} but audio MSN {amsn} ({:.3}–{:.3} s) has DSN {}\n--- video ---\n{}\n--- audio ---\n{}",
                vs.start, vs.end, vs.dsn, at.start, at.end, at.dsn,
                rec.dump("video.m3u8", 1),
                rec.dump("audio.m3u8", 1)
            );
        }
    }
}

/// HLS2 §6.2.4: PROGRAM-DATE-TIME maps media time to wall-clock time the
/// same way in every media playlist (and within a playlist, between
/// discontinuities): PDT − media start is one constant (±3 ms) per DSN.
fn assert_pdt_mapping_consistent(rec: &Recording) {
    let mut by_dsn: BTreeMap<u64, Vec<(String, f64)>> = BTreeMap::new();
    for name in MEDIA {
        for (msn, st) in segment_times(rec, name) {
            if let Some(pdt) = st.pdt_ms {
                by_dsn
                    .entry(st.dsn)
                    .or_default()
                    .push((format!("{name} MSN {msn}"), pdt as f64 - st.start * 1000.0));
            }
        }
    }
    for (dsn, offs) in by_dsn {
        let lo = offs.iter().map(|x| x.1).fold(f64::MAX, f64::min);
        let hi = offs.iter().map(|x| x.1).fold(f64::MIN, f64::max);
        assert!(
            hi - lo <= 3.0,
            "DSN {dsn}: PDT − media time varies by {:.0} ms: {:?}",
            hi - lo,
            offs.iter()
                .map(|(w, o)| format!("{w}: {:+.0}", o - lo))
                .collect::<Vec<_>>()
        );
    }
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
    let rec = Recorder::start(
        weir.http_addr,
        LIVE_BASE,
        MEDIA,
        &["index.m3u8"],
        LIVE_INTERVAL,
    );
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
        http_request(
            weir.http_addr,
            "GET",
            &format!("{LIVE_BASE}/{path}"),
            headers,
        )
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
    http.insert(
        "index gzip",
        get("index.m3u8", &[("Accept-Encoding", "gzip")]),
    );
    // Validators (HTTP-04): a conditional GET with the current ETag, and the
    // identity and gzip representations of one playlist version (retried
    // when the playlist changes between the requests).
    for _ in 0..5 {
        let plain = get("video.m3u8", &[]);
        let gz = get("video.m3u8", &[("Accept-Encoding", "gzip")]);
        let etag = plain.header("etag").unwrap_or_default().to_owned();
        let cond = get("video.m3u8", &[("If-None-Match", &etag)]);
        let gz_same =
            gz.header("content-encoding") == Some("gzip") && gunzip(&gz.body) == plain.text();
        let cond_same = cond.status != 200 || cond.text() == plain.text();
        http.insert("etag identity", plain);
        http.insert("etag gzip", gz);
        http.insert("etag conditional", cond);
        if gz_same && cond_same {
            break;
        }
    }
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
    let far_ahead = format!("{}/seg-99999.m4s", vseg.uri.rsplit_once('/').unwrap().0);
    http.insert("segment far ahead", get(&far_ahead, &[]));
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
        assert!(
            r.violations.is_empty(),
            "{name}: {}",
            r.violations.join("\n")
        );
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
    eprintln!(
        "ts24: video tfdt {} .. {} ({:.3} s .. {:.3} s), {} segments",
        v.first_tfdt,
        v.end_tfdt,
        v.first_tfdt as f64 / f64::from(v.timescale),
        v.end_tfdt as f64 / f64::from(v.timescale),
        v.segments
    );
    let vsecs = (v.end_tfdt - v.first_tfdt) as f64 / f64::from(v.timescale);
    let asecs = (a.end_tfdt - a.first_tfdt) as f64 / f64::from(a.timescale);
    assert!(
        vsecs > 19.0 && asecs > 19.0,
        "video {vsecs} s, audio {asecs} s"
    );
    assert_eq!(
        v.samples,
        ffprobe_count_packets(&asset, "v:0"),
        "video samples"
    );
    assert_eq!(
        a.samples,
        ffprobe_count_packets(&asset, "a:0"),
        "audio samples"
    );
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
        assert!(
            pl.endlist,
            "{name} after the end:\n{}",
            s.after_end[name].text()
        );
    }
    let _ = s.publisher_exit_at;
}

/// Publishes `input` with `-c copy` at `speed` × real time (`-readrate`).
fn publish_at(input: &Path, url: &str, speed: f64, extra_out: &[&str]) -> Ffmpeg {
    let speed = speed.to_string();
    let mut args: Vec<&str> = vec![
        "-readrate",
        &speed,
        "-i",
        input.to_str().unwrap(),
        "-c",
        "copy",
    ];
    args.extend_from_slice(extra_out);
    args.extend(["-f", "flv", url]);
    Ffmpeg::spawn(&args)
}

fn wait_success(ff: &mut Ffmpeg, timeout: Duration, what: &str) -> Instant {
    let st = ff.wait_timeout(timeout);
    assert!(
        st.is_some_and(|s| s.success()),
        "{what}: ffmpeg {st:?}\n{}",
        ff.stderr()
    );
    Instant::now()
}

// ---------------------------------------------------------------------------
// Case 19: reconnect within the grace period continues the same playlists
// ---------------------------------------------------------------------------
struct ReconnectRun {
    rec: Recording,
    killed: Instant,
    resumed: Instant,
    /// ENDLIST this long after the second publisher exited.
    endlist: Option<Duration>,
}

/// ~8 s of publish, kill -9, the same key again 1.5 s later for 10 s.
fn reconnect_recording() -> ReconnectRun {
    let first_asset = common::assets::small_av(20);
    let second_asset = common::assets::small_av(10);
    let weir = Weir::start(&["--playlist-window", "15", "--grace-period", "10"]);
    let base = "/live/rc";
    let rec = Recorder::start(weir.http_addr, base, MEDIA, &[], Duration::from_millis(500));
    let url = weir.rtmp_url("rc");
    let mut first = Ffmpeg::publish(&first_asset, &url, true, &[]);
    weir.wait_live("rc");
    let live = Instant::now();
    std::thread::sleep(Duration::from_secs(8).saturating_sub(live.elapsed()));
    first.kill9();
    let killed = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    let mut second = Ffmpeg::publish(&second_asset, &url, true, &[]);
    let resumed = Instant::now();
    assert!(resumed - killed < Duration::from_secs(3));
    let exit = wait_success(&mut second, Duration::from_secs(30), "second publish");
    let endlist =
        wait_endlist(&weir, base, MEDIA, Duration::from_secs(5)).map(|t| t.duration_since(exit));
    let rec = rec.wait_ended(Duration::from_secs(5));
    assert!(rec.fetch_errors.is_empty(), "{:?}", rec.fetch_errors);
    ReconnectRun {
        rec,
        killed,
        resumed,
        endlist,
    }
}

#[test]
fn case19_reconnect_within_grace_one_discontinuity() {
    let ReconnectRun {
        rec,
        killed,
        resumed,
        endlist,
    } = reconnect_recording();
    eprintln!("reconnect: ENDLIST {endlist:?} after the second publisher exited");
    assert!(
        endlist.is_some_and(|d| d <= Duration::from_secs(1)),
        "case 17: ENDLIST {endlist:?} after a graceful finish"
    );
    let opts = InvariantOptions {
        quiet: Some((killed, resumed + Duration::from_secs(3))),
        ..default_invariants(Duration::from_millis(500), 1.0)
    };
    for name in MEDIA {
        let r = check_invariants(&rec, name, &opts);
        assert!(
            r.violations.is_empty(),
            "{name}: {}",
            r.violations.join("\n")
        );
        let timeline = rec.timeline(name);
        let discs: Vec<u64> = timeline
            .iter()
            .filter(|(_, s)| s.discontinuity)
            .map(|(m, _)| *m)
            .collect();
        let last = rec.last_media(name);
        assert_eq!(
            discs.len(),
            1,
            "{name}: exactly one DISCONTINUITY expected, at MSNs {discs:?}\n{}",
            rec.dump(name, 1)
        );
        assert_eq!(last.discontinuities(), 1, "{name}\n{}", rec.dump(name, 1));
        assert!(
            discs[0] >= 2,
            "{name}: the discontinuity should follow the first publish's segments"
        );
        eprintln!("{name} after reconnect:\n{}", rec.dump(name, 1));
    }
    check_track(&rec, "video.m3u8", true);
    check_track(&rec, "audio.m3u8", false);

    // Concat-probe of every video segment: DTS keeps increasing across the
    // reconnect. Segments are grouped by init only if the inits differ.
    let timeline = rec.timeline("video.m3u8");
    let maps: Vec<String> = rec.last_media("video.m3u8").maps();
    let same_init = maps.windows(2).all(|w| rec.file(&w[0]) == rec.file(&w[1]));
    if !same_init {
        eprintln!("reconnect created a new, different init: {maps:?}");
    }
    let first_map = timeline.values().next().unwrap().map.clone().unwrap();
    let segs: Vec<&[u8]> = timeline
        .values()
        .filter(|s| same_init || s.map.as_deref() == Some(first_map.as_str()))
        .map(|s| rec.file(&s.uri))
        .collect();
    let p = concat_probe("reconnect-video.mp4", rec.file(&first_map), &segs);
    assert_strictly_increasing_dts(&p.packets, "video across the reconnect");
    // HLS-PL-07 / §6.2.4: the tail segment that the reconnect closes keeps
    // the first publish's PDT mapping; both renditions share each mapping.
    assert_pdt_mapping_consistent(&rec);
    assert_renditions_share_discontinuity_sequence(&rec);
}

// ---------------------------------------------------------------------------
// Case 29: a resolution change gets a new init after a DISCONTINUITY
// ---------------------------------------------------------------------------
/// 6 s of 720p then 16 s of 360p in one FLV, published at 4 × real time
/// and recorded.
fn resolution_change_recording() -> (Recording, Duration) {
    let a = high_asset("hls-high-720p30-aac48k-6s", "1280x720", 6, 60, "2M");
    let b = high_asset("hls-high-360p30-aac48k-16s", "640x360", 16, 60, "600k");
    // ffmpeg's concat demuxer keeps only the first sequence header, so the
    // two files' tags are joined here; `ffmpeg -c copy` does forward a
    // sequence header that differs from the current one.
    let fa = read_flv(&a);
    let fb = read_flv(&b);
    let offset = fa.tags.iter().map(|t| t.ts).max().unwrap() + 34;
    let mut tags = fa.tags.clone();
    tags.extend(fb.tags.iter().filter(|t| t.kind != 18).map(|t| FlvTag {
        ts: t.ts + offset,
        ..t.clone()
    }));
    let headers: Vec<&FlvTag> = tags.iter().filter(|t| t.is_avc_sequence_header()).collect();
    assert_eq!(headers.len(), 2);
    assert_ne!(headers[0].data, headers[1].data);
    let joined = write_flv_asset(
        &format!("{}+{}.flv", asset_stem(&a), asset_stem(&b)),
        &Flv {
            header: fa.header.clone(),
            tags,
        },
    );

    let weir = Weir::start(&[]);
    let base = "/live/res";
    let interval = Duration::from_millis(125);
    let rec = Recorder::start(weir.http_addr, base, MEDIA, &["index.m3u8"], interval);
    let mut ff = publish_at(&joined, &weir.rtmp_url("res"), 4.0, &[]);
    wait_success(&mut ff, Duration::from_secs(30), "publish");
    let rec = rec.wait_ended(Duration::from_secs(5));
    assert!(rec.fetch_errors.is_empty(), "{:?}", rec.fetch_errors);
    (rec, interval)
}

#[test]
fn case29_resolution_change_new_init_after_discontinuity() {
    // Default window (6): the DISCONTINUITY and the 720p segments slide out
    // before the end, so DISCONTINUITY-SEQUENCE and the MAP above the first
    // segment are exercised too (HLS-PL-04, HLS-PL-05).
    let (rec, interval) = resolution_change_recording();
    let opts = default_invariants(interval, 4.0);
    for name in MEDIA {
        let r = check_invariants(&rec, name, &opts);
        assert!(
            r.violations.is_empty(),
            "{name}: {}",
            r.violations.join("\n")
        );
    }
    let timeline = rec.timeline("video.m3u8");
    let segs: Vec<&MediaSeg> = timeline.values().collect();
    let text = || {
        segs.iter()
            .map(|s| {
                format!(
                    "{} {} disc={} map={:?}",
                    s.uri, s.duration, s.discontinuity, s.map
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut maps: Vec<String> = Vec::new();
    for s in &segs {
        let m = s.map.clone().unwrap();
        if !maps.contains(&m) {
            maps.push(m);
        }
    }
    assert_eq!(maps.len(), 2, "two init URIs expected:\n{}", text());
    assert!(
        maps[0].ends_with("init-v1.mp4") && maps[1].ends_with("init-v2.mp4"),
        "maps {maps:?}\n{}",
        text()
    );
    let first_new = segs
        .iter()
        .position(|s| s.map.as_deref() == Some(maps[1].as_str()))
        .unwrap();
    assert!(first_new >= 2, "{}", text());
    assert!(
        segs[first_new].discontinuity,
        "the first segment under {} must follow EXT-X-DISCONTINUITY:\n{}",
        maps[1],
        text()
    );
    assert_eq!(
        segs.iter().filter(|s| s.discontinuity).count(),
        1,
        "one DISCONTINUITY:\n{}",
        text()
    );
    assert!(
        segs[first_new..]
            .iter()
            .all(|s| s.map.as_deref() == Some(maps[1].as_str())),
        "{}",
        text()
    );
    // After the slide: the discontinuity is counted, the new MAP leads.
    let last = rec.last_media("video.m3u8");
    assert!(
        last.media_sequence as usize > first_new,
        "{}",
        rec.dump("video.m3u8", 1)
    );
    assert_eq!(
        last.discontinuity_sequence,
        1,
        "{}",
        rec.dump("video.m3u8", 1)
    );
    assert_eq!(
        last.maps(),
        [maps[1].clone()],
        "{}",
        rec.dump("video.m3u8", 1)
    );
    let audio = rec.last_media("audio.m3u8");
    eprintln!(
        "audio across the video resolution change: maps {:?}, DISCONTINUITY-SEQUENCE {} (video {})",
        audio.maps(),
        audio.discontinuity_sequence,
        last.discontinuity_sequence
    );

    for (map, seg, w, h) in [
        (&maps[0], segs[0], 1280, 720),
        (&maps[1], segs[first_new], 640, 360),
    ] {
        let p = concat_probe(
            &format!("res-{w}.mp4"),
            rec.file(map),
            &[rec.file(&seg.uri)],
        );
        let v = video_stream(&p.streams).expect("video stream");
        assert_eq!(
            (v["width"].as_u64(), v["height"].as_u64()),
            (Some(w), Some(h)),
            "{map} + {}: {v}",
            seg.uri
        );
        assert!(p.packets[0].key, "{} starts with a key frame", seg.uri);
    }
    check_track(&rec, "video.m3u8", true);
    check_track(&rec, "audio.m3u8", false);
    if let Some(idx) = rec.last_ok("index.m3u8") {
        eprintln!("multivariant after the resolution change:\n{}", idx.body);
    }
    // One clock across the change (the timestamps are continuous).
    let mut all: Vec<(String, f64)> = Vec::new();
    for name in MEDIA {
        for (msn, st) in segment_times(&rec, name) {
            all.push((
                format!("{name} {msn}"),
                st.pdt_ms.unwrap() as f64 - st.start * 1000.0,
            ));
        }
    }
    let lo = all.iter().map(|x| x.1).fold(f64::MAX, f64::min);
    let hi = all.iter().map(|x| x.1).fold(f64::MIN, f64::max);
    assert!(
        hi - lo <= 3.0,
        "PDT − media time varies by {} ms: {all:?}",
        hi - lo
    );
    // HLS2 §6.2.4-M2c: the audio rendition's Discontinuity Sequence Numbers
    // match the video's for the same content.
    assert_renditions_share_discontinuity_sequence(&rec);
    // BANDWIDTH covers the 720p segments too (HLS2 §4.4.6.2: the largest
    // sum of peak segment bit rates), not just the current init's.
    assert_bandwidth_covers_peaks(&rec);
}

// ---------------------------------------------------------------------------
// Case 30: repeated identical sequence headers change nothing
// ---------------------------------------------------------------------------
#[test]
fn case30_repeated_identical_sequence_headers_no_discontinuity() {
    let src = read_flv(&common::assets::small_av(10));
    let avc = src
        .tags
        .iter()
        .find(|t| t.is_avc_sequence_header())
        .unwrap()
        .clone();
    let aac = src
        .tags
        .iter()
        .find(|t| t.is_aac_sequence_header())
        .unwrap()
        .clone();
    // Before every key frame but the first: the AVC and AAC sequence headers
    // again, byte for byte (OBS and some hardware encoders do this).
    let mut repeated = Vec::new();
    let mut seen_key = false;
    for t in &src.tags {
        if t.is_avc_key_frame() {
            if seen_key {
                repeated.push(FlvTag {
                    ts: t.ts,
                    ..avc.clone()
                });
                repeated.push(FlvTag {
                    ts: t.ts,
                    ..aac.clone()
                });
            }
            seen_key = true;
        }
        repeated.push(t.clone());
    }
    let extra = repeated
        .iter()
        .filter(|t| t.is_avc_sequence_header())
        .count();
    assert!(extra >= 5, "only {extra} AVC sequence headers");

    let weir = Weir::start(&["--playlist-window", "20"]);
    let plain = spawn_flv_publish(weir.rtmp_addr, "plain", src.tags.clone(), 4.0);
    let rep = spawn_flv_publish(weir.rtmp_addr, "rep", repeated, 4.0);
    plain.join().unwrap().expect("plain publish");
    rep.join().unwrap().expect("publish with repeated headers");

    let mut recs = Vec::new();
    for key in ["plain", "rep"] {
        let base = format!("/live/{key}");
        wait_endlist(&weir, &base, MEDIA, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{key}: no ENDLIST"));
        let rec = Recorder::start(
            weir.http_addr,
            &base,
            MEDIA,
            &[],
            Duration::from_millis(100),
        )
        .wait_ended(Duration::from_secs(10));
        assert!(rec.fetch_errors.is_empty(), "{key}: {:?}", rec.fetch_errors);
        recs.push(rec);
    }
    let (plain, rep) = (&recs[0], &recs[1]);
    for name in MEDIA {
        let pl = rep.last_media(name);
        let text = rep.dump(name, 1);
        assert_eq!(
            pl.discontinuities(),
            0,
            "{name} with repeated headers:\n{text}"
        );
        assert_eq!(pl.maps().len(), 1, "{name}: one init URI expected:\n{text}");
        assert!(pl.maps()[0].ends_with("init-v1.mp4"), "{text}");
        assert_eq!(pl.discontinuity_sequence, 0, "{text}");
        let base_pl = plain.last_media(name);
        let durations =
            |p: &MediaPlaylist| p.segments.iter().map(|s| s.duration).collect::<Vec<_>>();
        assert_eq!(
            durations(&pl),
            durations(&base_pl),
            "{name}: segment boundaries differ from the run without repeats\nrepeats:\n{text}\nplain:\n{}",
            plain.dump(name, 1)
        );
        // Same fragments, tick for tick.
        let (map_p, map_r) = (&base_pl.maps()[0], &pl.maps()[0]);
        let init_p = parse_init(map_p, plain.file(map_p));
        let init_r = parse_init(map_r, rep.file(map_r));
        for (a, b) in base_pl.segments.iter().zip(&pl.segments) {
            let fa: Vec<(u64, u32, u64)> = parse_fragments(&a.uri, plain.file(&a.uri), &init_p)
                .1
                .iter()
                .map(|f| (f.tfdt, f.samples, f.duration))
                .collect();
            let fb: Vec<(u64, u32, u64)> = parse_fragments(&b.uri, rep.file(&b.uri), &init_r)
                .1
                .iter()
                .map(|f| (f.tfdt, f.samples, f.duration))
                .collect();
            assert_eq!(fa, fb, "{name}: {} vs {}", a.uri, b.uri);
        }
    }
    check_track(rep, "video.m3u8", true);
}

// ---------------------------------------------------------------------------
// Case 33 (+32, 34): tfdt continuity, sample counts and sync flags
// ---------------------------------------------------------------------------
#[test]
fn case33_tfdt_continuity_and_sample_flags() {
    let s = live_session();
    assert!(s.rec.fetch_errors.is_empty(), "{:?}", s.rec.fetch_errors);
    let v = check_track(&s.rec, "video.m3u8", true);
    let a = check_track(&s.rec, "audio.m3u8", false);
    eprintln!(
        "video: {} segments {} samples; audio: {} segments {} samples",
        v.segments, v.samples, a.segments, a.samples
    );
    assert!(
        v.segments >= 10 && a.segments >= 10,
        "need ≥ 10 consecutive segments"
    );
    assert_eq!(v.timescale, 90_000, "video timescale");
    assert_eq!(a.timescale, 48_000, "audio timescale = sample rate");
    assert_eq!(
        v.samples,
        ffprobe_count_packets(&s.asset, "v:0"),
        "video samples vs source"
    );
    assert_eq!(
        a.samples,
        ffprobe_count_packets(&s.asset, "a:0"),
        "audio samples vs source"
    );
    // Only IDR samples are sync samples (MP4-SEG-06); all audio is sync.
    assert_eq!(
        v.sync_samples,
        ffprobe_count_keyframes(&s.asset, "v:0"),
        "video sync samples vs source key frames"
    );
    assert_eq!(a.sync_samples, a.samples, "every audio sample is sync");
    // AAC-LC: 1024 ticks per sample at the sample rate (MP4-SEG-10, case 36).
    assert_eq!(
        a.end_tfdt - a.first_tfdt,
        a.samples * 1024,
        "audio durations"
    );
    // Audio and video end together (|Σ audio − Σ video| < 50 ms, case 36).
    let vs = (v.end_tfdt - v.first_tfdt) as f64 / 90_000.0;
    let as_ = (a.end_tfdt - a.first_tfdt) as f64 / 48_000.0;
    assert!((vs - as_).abs() < 0.05, "video {vs} s vs audio {as_} s");
}

// ---------------------------------------------------------------------------
// Case 38: playlist invariants, sampled every 250 ms while live
// ---------------------------------------------------------------------------
#[test]
fn case38_playlist_invariants_sampled_live() {
    let s = live_session();
    let opts = default_invariants(LIVE_INTERVAL, 1.0);
    let mut targets = Vec::new();
    for name in MEDIA {
        let r = check_invariants(&s.rec, name, &opts);
        eprintln!(
            "{name}: {} snapshots over {:?}, longest wait for a segment {:?}, TD {:?}, VERSION {:?}",
            r.checked, r.span, r.longest_wait, r.target, r.version
        );
        assert!(
            r.violations.is_empty(),
            "{name}:\n{}",
            r.violations.join("\n")
        );
        assert!(
            r.span >= Duration::from_secs(18),
            "{name}: sampled only {:?}",
            r.span
        );
        assert_eq!(
            r.version,
            Some(6),
            "{name}: EXT-X-VERSION 6 for fMP4 (HLS-PL-01)"
        );
        assert_eq!(r.target, Some(2), "{name}: TARGETDURATION for 2 s GOPs");
        targets.push(r.target);
        let last = s.rec.last_media(name);
        assert!(
            last.media_sequence > 0,
            "{name}: the window should have slid"
        );
        assert!(last.segments.len() <= 6 + 1, "{name}: window 6");
    }
    assert_eq!(
        targets[0], targets[1],
        "HLS-MV-02: one TARGETDURATION for all media playlists"
    );
    assert_pdt_mapping_consistent(&s.rec);
    assert_renditions_share_discontinuity_sequence(&s.rec);
}

// ---------------------------------------------------------------------------
// Case 39: long GOP (10 s) with a 4 s configured target
// ---------------------------------------------------------------------------
#[test]
fn case39_long_gop_segments_start_on_key_frames() {
    let asset = high_asset("hls-high-320p30-gop300-40s", "320x240", 40, 300, "300k");
    let weir = Weir::start(&["--segment-duration", "4"]);
    let base = "/live/gop";
    // 4 × real time; 125 ms sampling = 500 ms of media time.
    let interval = Duration::from_millis(125);
    let rec = Recorder::start(weir.http_addr, base, MEDIA, &["index.m3u8"], interval);
    let mut ff = publish_at(&asset, &weir.rtmp_url("gop"), 4.0, &[]);
    wait_success(&mut ff, Duration::from_secs(40), "publish");
    let rec = rec.wait_ended(Duration::from_secs(5));
    assert!(rec.fetch_errors.is_empty(), "{:?}", rec.fetch_errors);

    let opts = default_invariants(interval, 4.0);
    let mut targets = Vec::new();
    for name in MEDIA {
        let r = check_invariants(&rec, name, &opts);
        eprintln!(
            "{name}: {} snapshots, TD {:?}, longest wait {:?} (×4 media time)\n{}",
            r.checked,
            r.target,
            r.longest_wait,
            rec.dump(name, 1)
        );
        assert!(
            r.violations.is_empty(),
            "{name}:\n{}",
            r.violations.join("\n")
        );
        assert!(r.checked >= 8, "{name}: only {} snapshots", r.checked);
        targets.push(r.target);
    }
    assert_eq!(
        targets[0], targets[1],
        "HLS-MV-02: one TARGETDURATION for all media playlists"
    );
    assert!(
        targets[0] >= Some(10),
        "TARGETDURATION {:?} below the 10 s GOP",
        targets[0]
    );
    assert_segments_start_with_key_frames(&rec, "video.m3u8", "gop");
    let v = check_track(&rec, "video.m3u8", true);
    check_track(&rec, "audio.m3u8", false);
    assert_eq!(v.sync_samples, 4, "four 10 s GOPs");
    assert_eq!(v.segments, 4, "one segment per GOP");
}

// ---------------------------------------------------------------------------
// Case 41 (part): FRAME-RATE of a 30 fps publish; BANDWIDTH ≥ measured peak
// ---------------------------------------------------------------------------
#[test]
fn case41_multivariant_frame_rate_and_bandwidth() {
    let s = live_session();
    let mut rates = Vec::new();
    for snap in s.rec.of("index.m3u8").filter(|x| x.status == 200) {
        let mv = parse_multivariant(&snap.body).unwrap();
        // The value as m3u8-rs reads it, and as written (m3u8-rs keeps only
        // the number; HLS2 §4.4.6.2 asks for three decimals).
        let written = snap
            .body
            .lines()
            .find_map(|l| l.strip_prefix("#EXT-X-STREAM-INF:"))
            .and_then(|a| parse_attrs(a).remove("FRAME-RATE"))
            .unwrap_or_default();
        let fr = (mv.variants[0].frame_rate, written);
        if rates.last() != Some(&fr) {
            rates.push(fr);
        }
    }
    eprintln!("FRAME-RATE values over the session, in order: {rates:?}");
    assert_eq!(
        rates,
        [(Some(30.0), "30.000".to_owned())],
        "FRAME-RATE of a 30 fps stream"
    );
    assert_bandwidth_covers_peaks(&s.rec);
}

// ---------------------------------------------------------------------------
// Case 42: audio-only and video-only publishes
// ---------------------------------------------------------------------------
fn single_track_hls(asset: &Path, key: &str, video: bool) -> (Recording, Value) {
    let weir = Weir::start(&[]);
    let base = format!("/live/{key}");
    let mut ff = Ffmpeg::publish(asset, &weir.rtmp_url(key), false, &[]);
    wait_success(&mut ff, Duration::from_secs(30), "publish");
    let present: &'static [&'static str] = if video {
        &["video.m3u8"]
    } else {
        &["audio.m3u8"]
    };
    let absent: &'static [&'static str] = if video {
        &["index.m3u8", "audio.m3u8"]
    } else {
        &["index.m3u8", "video.m3u8"]
    };
    wait_endlist(&weir, &base, present, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("{key}: no ENDLIST\n{}", weir.stderr()));
    let rec = Recorder::start(
        weir.http_addr,
        &base,
        present,
        absent,
        Duration::from_millis(100),
    )
    .wait_ended(Duration::from_secs(10));
    let probe = ffprobe_json(&[
        "-show_streams",
        &weir.http_url(&format!("{base}/index.m3u8")),
    ])
    .unwrap_or_else(|e| panic!("{key}: ffprobe index.m3u8: {e}"));
    (rec, probe)
}

#[test]
fn case42_audio_only_hls() {
    let (rec, probe) = single_track_hls(&common::assets::audio_only(), "radio", false);
    let idx = rec.last_ok("index.m3u8").expect("index.m3u8 served");
    eprintln!("audio-only multivariant:\n{}", idx.body);
    let mv = parse_multivariant(&idx.body).unwrap();
    assert_eq!(mv.variants.len(), 1, "{}", idx.body);
    let variant = &mv.variants[0];
    let uri = &variant.uri;
    assert_eq!(variant.codecs.as_deref(), Some("mp4a.40.2"), "{}", idx.body);
    assert!(
        variant.resolution.is_none(),
        "no RESOLUTION without video:\n{}",
        idx.body
    );
    // Whatever the shape (variant URI or AUDIO rendition), it leads to audio.m3u8.
    let leads_to_audio = uri == "audio.m3u8"
        || mv
            .alternatives
            .iter()
            .any(|m| m.uri.as_deref() == Some("audio.m3u8"));
    assert!(leads_to_audio, "{}", idx.body);
    if uri != "audio.m3u8" {
        let target = rec.of(uri).last().map(|s| s.status);
        assert_eq!(
            target,
            Some(200),
            "variant URI {uri} must be served:\n{}",
            idx.body
        );
    }
    assert!(
        rec.of("video.m3u8").all(|s| s.status == 404),
        "video.m3u8 must be 404"
    );
    let streams = probe["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{}", stream_summary(streams));
    let a = audio_stream(streams).expect("audio stream");
    assert_eq!(a["codec_name"], "aac");
    assert_eq!(a["sample_rate"], "48000");
    assert_eq!(a["channels"], 2);
    check_track(&rec, "audio.m3u8", false);
}

#[test]
fn case42_video_only_hls() {
    let (rec, probe) = single_track_hls(&common::assets::video_only(), "silent", true);
    let idx = rec.last_ok("index.m3u8").expect("index.m3u8 served");
    eprintln!("video-only multivariant:\n{}", idx.body);
    let mv = parse_multivariant(&idx.body).unwrap();
    assert_eq!(mv.variants.len(), 1, "{}", idx.body);
    let variant = &mv.variants[0];
    let uri = &variant.uri;
    let codecs = variant.codecs.clone().unwrap_or_default();
    assert!(
        codecs.starts_with("avc1.") && !codecs.contains(','),
        "CODECS only the video codec: {}",
        idx.body
    );
    assert!(variant.audio.is_none(), "no AUDIO group:\n{}", idx.body);
    assert!(
        mv.alternatives
            .iter()
            .all(|m| m.media_type != AlternativeMediaType::Audio),
        "no audio rendition:\n{}",
        idx.body
    );
    assert_eq!(uri, "video.m3u8");
    assert_eq!(
        variant.resolution.map(|r| (r.width, r.height)),
        Some((320, 240))
    );
    assert!(
        rec.of("audio.m3u8").all(|s| s.status == 404),
        "audio.m3u8 must be 404"
    );
    let streams = probe["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{}", stream_summary(streams));
    let v = video_stream(streams).expect("video stream");
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(320), Some(240))
    );
    check_track(&rec, "video.m3u8", true);
}

// ---------------------------------------------------------------------------
// Case 43: HTTP headers, CORS, gzip, ranges, 404s
// ---------------------------------------------------------------------------
fn gunzip(b: &[u8]) -> String {
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gzip");
    child.stdin.take().unwrap().write_all(b).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "gzip -dc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 playlist")
}

#[test]
fn case43_http_headers_cors_gzip_range_404() {
    let s = live_session();
    let h = &s.http;
    let td = 2;
    for (label, r) in h {
        if !label.starts_with("preflight") {
            assert_eq!(
                r.header("access-control-allow-origin"),
                Some("*"),
                "{label}: ACAO on every response: {:?}",
                r.headers
            );
        }
    }
    for label in ["index", "video.m3u8", "audio.m3u8"] {
        let r = &h[label];
        assert_eq!(r.status, 200, "{label}");
        assert_eq!(
            r.header("content-type"),
            Some("application/vnd.apple.mpegurl"),
            "{label}"
        );
        let cc = r.header("cache-control");
        assert!(
            cc.is_some_and(|c| c.contains("no-cache")) || max_age(cc).is_some_and(|a| a * 2 <= td),
            "{label}: Cache-Control {cc:?} must be ≤ TD/2 or no-cache"
        );
    }
    for (label, ct) in [
        ("video init", "video/mp4"),
        ("video segment", "video/mp4"),
        ("audio init", "audio/mp4"),
        ("audio segment", "audio/mp4"),
    ] {
        let r = &h[label];
        assert_eq!(r.status, 200, "{label}");
        assert_eq!(r.header("content-type"), Some(ct), "{label}");
        let cc = r.header("cache-control");
        assert!(
            max_age(cc).is_some_and(|a| a >= 3600),
            "{label}: immutable files want a long max-age, got {cc:?}"
        );
        let expose = r
            .header("access-control-expose-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            expose == "*" || expose.contains("content-range"),
            "{label}: Access-Control-Expose-Headers {expose:?}"
        );
    }
    // Range.
    let full = &h["video segment"].body;
    let r = &h["video segment range 0-99"];
    assert_eq!(r.status, 206, "Range: bytes=0-99");
    assert_eq!(r.body.len(), 100);
    assert_eq!(&r.body[..], &full[..100]);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-99/{}", full.len()).as_str())
    );
    // Preflight.
    for label in ["preflight segment", "preflight playlist"] {
        let r = &h[label];
        assert!(
            (200..300).contains(&r.status),
            "{label}: status {}",
            r.status
        );
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("*"),
            "{label}"
        );
        let allow = r
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            allow == "*" || allow.split(',').any(|x| x.trim() == "range"),
            "{label}: Access-Control-Allow-Headers {allow:?} must allow Range"
        );
        let methods = r
            .header("access-control-allow-methods")
            .unwrap_or_default()
            .to_ascii_uppercase();
        assert!(
            methods == "*" || methods.contains("GET"),
            "{label}: {methods:?}"
        );
    }
    // gzip.
    for label in ["video.m3u8 gzip", "index gzip"] {
        let r = &h[label];
        assert_eq!(r.status, 200, "{label}");
        assert_eq!(
            r.header("content-encoding"),
            Some("gzip"),
            "{label}: {:?}",
            r.headers
        );
        let text = gunzip(&r.body);
        assert!(text.starts_with("#EXTM3U"), "{label}: {text}");
        assert_eq!(
            r.header("content-type"),
            Some("application/vnd.apple.mpegurl"),
            "{label}"
        );
    }
    // Conditional GET → 304 (HTTP-04).
    let plain = &h["etag identity"];
    assert!(plain.header("etag").is_some(), "playlists carry an ETag");
    let cond = &h["etag conditional"];
    assert_eq!(cond.status, 304, "If-None-Match with the current ETag");
    assert_eq!(
        cond.header("access-control-allow-origin"),
        Some("*"),
        "304 keeps CORS"
    );
    // 404s.
    for label in [
        "unknown stream playlist",
        "unknown stream segment",
        "segment far ahead",
    ] {
        let r = &h[label];
        assert_eq!(r.status, 404, "{label}");
        assert!(
            is_short_cache(r.header("cache-control"), td),
            "{label}: a 404 may be cached for at most a target duration: {:?}",
            r.header("cache-control")
        );
    }
}

// Case 43 / HTTP-04: the gzip and identity representations of a playlist
// are different representations, so they may not share one strong ETag
// (RFC 9110 §8.8.3; nginx weakens the ETag when it gzips). With a shared
// strong ETag, a cache that revalidates one representation with the other's
// validator is told 304 and keeps serving the wrong encoding.
#[test]
fn case43_gzip_and_identity_playlists_have_distinct_etags() {
    let s = live_session();
    let (plain, gz) = (&s.http["etag identity"], &s.http["etag gzip"]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(
        gunzip(&gz.body),
        plain.text(),
        "the two requests saw different playlist versions"
    );
    let (a, b) = (
        plain.header("etag").unwrap_or_default(),
        gz.header("etag").unwrap_or_default(),
    );
    assert!(
        a != b || a.starts_with("W/"),
        "identity and gzip playlists share the strong ETag {a}"
    );
}

// ---------------------------------------------------------------------------
// Case 44: start-up: 404 (short cache) until two segments exist
// ---------------------------------------------------------------------------
#[test]
fn case44_startup_404_until_two_segments() {
    let s = live_session();
    for name in ["video.m3u8", "audio.m3u8", "index.m3u8"] {
        let snaps: Vec<&Snapshot> = s.rec.of(name).collect();
        let first_ok = snaps
            .iter()
            .position(|x| x.status == 200)
            .unwrap_or_else(|| panic!("{name} never served"));
        let before = &snaps[..first_ok];
        let while_live = before.iter().filter(|x| x.at >= s.live_at).count();
        eprintln!(
            "{name}: {} × 404 before the first 200 ({while_live} while live), first 200 {:?} after going live",
            before.len(),
            snaps[first_ok].at.saturating_duration_since(s.live_at)
        );
        assert!(
            while_live >= 3,
            "{name}: too few requests before the playlist appeared"
        );
        for x in before {
            assert_eq!(x.status, 404, "{name} before it is ready");
            assert!(
                is_short_cache(x.cache_control.as_deref(), 2),
                "{name}: 404 with Cache-Control {:?}",
                x.cache_control
            );
        }
        if name != "index.m3u8" {
            for x in &snaps[first_ok..] {
                let pl = parse_media(&x.body).unwrap();
                assert!(
                    pl.endlist || pl.segments.len() >= 2,
                    "{name}: live playlist with {} segment(s):\n{}",
                    pl.segments.len(),
                    x.body
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Case 45 (+31, 34, 35): ffmpeg as HLS client; concat-probe of the output
// ---------------------------------------------------------------------------
#[test]
fn case45_ffmpeg_hls_client_and_concat_probe() {
    let s = live_session();
    // ffprobe of the multivariant playlist while live.
    let probe = s.index_probe.as_ref().unwrap_or_else(|e| panic!("{e}"));
    let streams = probe["streams"].as_array().unwrap();
    let v = video_stream(streams).unwrap_or_else(|| panic!("{}", stream_summary(streams)));
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(1280), Some(720))
    );
    let a = audio_stream(streams).unwrap_or_else(|| panic!("{}", stream_summary(streams)));
    assert_eq!(a["codec_name"], "aac");
    assert_eq!(a["sample_rate"], "48000");
    assert_eq!(a["channels"], 2);

    // Multivariant attributes (cases 22, 41).
    let idx = s.rec.last_ok("index.m3u8").unwrap();
    let mv = parse_multivariant(&idx.body).unwrap();
    assert_eq!(mv.variants.len(), 1, "{}", idx.body);
    let variant = &mv.variants[0];
    assert_eq!(variant.uri, "video.m3u8");
    let mut codecs: Vec<&str> = variant
        .codecs
        .as_deref()
        .expect("CODECS")
        .split(',')
        .collect();
    codecs.sort_unstable();
    assert_eq!(codecs, ["avc1.64001f", "mp4a.40.2"], "{}", idx.body);
    assert_eq!(
        variant.resolution.map(|r| (r.width, r.height)),
        Some((1280, 720))
    );
    let group = variant.audio.as_ref().expect("AUDIO group");
    let media = mv
        .alternatives
        .iter()
        .find(|m| &m.group_id == group)
        .unwrap_or_else(|| panic!("no EXT-X-MEDIA for group {group}:\n{}", idx.body));
    assert_eq!(media.media_type, AlternativeMediaType::Audio);
    assert_eq!(media.channels.as_deref(), Some("2"));
    assert_eq!(media.uri.as_deref(), Some("audio.m3u8"));
    assert!(!media.name.is_empty(), "EXT-X-MEDIA NAME");
    assert!(variant.bandwidth > 0);

    // The client.
    assert!(
        s.client_status.is_some_and(|st| st.success()),
        "ffmpeg HLS client: {:?}\n{}",
        s.client_status,
        s.client_stderr
    );
    let out = ffprobe_json(&[
        "-show_entries",
        "format=duration:stream=codec_type,codec_name,width,height,sample_rate,channels",
        s.client_out.to_str().unwrap(),
    ])
    .unwrap();
    let dur: f64 = out["format"]["duration"].as_str().unwrap().parse().unwrap();
    eprintln!("client recording: {dur} s");
    assert!((dur - 15.0).abs() <= 1.5, "client recording lasts {dur} s");
    let streams = out["streams"].as_array().unwrap();
    let v = video_stream(streams).expect("video in the client's recording");
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(1280), Some(720))
    );
    let a = audio_stream(streams).expect("audio in the client's recording");
    assert_eq!(a["codec_name"], "aac");
    assert_eq!(a["sample_rate"], "48000");
    assert_eq!(a["channels"], 2);

    // Concat-probe of all video segments.
    let rec = &s.rec;
    let vt = rec.timeline("video.m3u8");
    let vmap = vt.values().next().unwrap().map.clone().unwrap();
    assert!(vt.values().all(|x| x.map.as_deref() == Some(vmap.as_str())));
    let segs: Vec<&[u8]> = vt.values().map(|x| rec.file(&x.uri)).collect();
    assert_init_structure(rec.file(&vmap), b"vide", &vmap);
    let p = concat_probe("live720-video.mp4", rec.file(&vmap), &segs);
    let vs = video_stream(&p.streams).unwrap();
    assert_eq!(vs["profile"], "High", "{vs}");
    assert!(p.packets[0].key, "first video packet is a key frame");
    assert_strictly_increasing_dts(&p.packets, "video concat");
    let reordered = p.packets.iter().filter(|x| x.pts != x.dts).count();
    let share = reordered as f64 / p.packets.len() as f64;
    eprintln!(
        "video: {} packets, {:.0} % with pts != dts",
        p.packets.len(),
        share * 100.0
    );
    assert!(
        share >= 0.5,
        "B-frames preserved: only {:.0} % pts != dts",
        share * 100.0
    );
    // Case 35: decode and presentation times equal the source's (FLV ms ×
    // 90), packet for packet, relative to the first DTS.
    let src_video = ffprobe_json(&[
        "-select_streams",
        "v:0",
        "-show_entries",
        "packet=pts,dts",
        s.asset.to_str().unwrap(),
    ])
    .unwrap();
    let src_ts: Vec<(i64, i64)> = src_video["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["pts"].as_i64().unwrap(), x["dts"].as_i64().unwrap()))
        .collect();
    assert_eq!(p.packets.len(), src_ts.len(), "video packets vs source");
    let (d0, s0) = (p.packets[0].dts.unwrap(), src_ts[0].1);
    for (i, (x, (sp, sd))) in p.packets.iter().zip(&src_ts).enumerate() {
        let got = (x.pts.unwrap() - d0, x.dts.unwrap() - d0);
        let want = ((sp - s0) * 90, (sd - s0) * 90);
        assert_eq!(
            got, want,
            "video packet {i}: (pts, dts) relative to the first DTS"
        );
    }
    assert_segments_start_with_key_frames(rec, "video.m3u8", "live720");

    // Concat-probe of all audio segments.
    let at = rec.timeline("audio.m3u8");
    let amap = at.values().next().unwrap().map.clone().unwrap();
    let segs: Vec<&[u8]> = at.values().map(|x| rec.file(&x.uri)).collect();
    assert_init_structure(rec.file(&amap), b"soun", &amap);
    let p = concat_probe("live720-audio.mp4", rec.file(&amap), &segs);
    let asr = audio_stream(&p.streams).unwrap();
    assert_eq!(asr["sample_rate"], "48000");
    assert_eq!(asr["time_base"], "1/48000");
    assert_eq!(asr["channels"], 2);
    assert_strictly_increasing_dts(&p.packets, "audio concat");
    // (ffprobe reports no duration for the first AAC packet of any fMP4,
    // ffmpeg's own included; the trun check in case 33 covers it.)
    let odd: Vec<(usize, Option<i64>)> = p
        .packets
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, x)| x.duration != Some(1024))
        .map(|(i, x)| (i, x.duration))
        .collect();
    assert!(
        odd.is_empty(),
        "AAC packets must last 1024 samples: {odd:?}"
    );
}

// ---------------------------------------------------------------------------
// A publisher that sends faster than real time loses nothing. (Regression:
// the packager used to read a 1024-event broadcast fan-out and dropped
// frames when it lagged — a segment spanning the hole, a DISCONTINUITY and
// a raised TARGETDURATION.) 25 s of 720p (≈ 1 900 frames) are sent unpaced
// by the FLV publisher above, which drains the socket before closing
// (ffmpeg without `-re` often closes with a TCP reset that loses the tail).
// ---------------------------------------------------------------------------
#[test]
fn burst_publish_is_packaged_without_loss() {
    let asset = high_720p_25s();
    let weir = Weir::start(&["--playlist-window", "20"]);
    let base = "/live/burst";
    let tags = read_flv(&asset).tags;
    spawn_flv_publish(weir.rtmp_addr, "burst", tags, 1e6)
        .join()
        .unwrap()
        .expect("unpaced publish");
    wait_endlist(&weir, base, MEDIA, Duration::from_secs(10)).expect("ENDLIST");
    let rec = Recorder::start(weir.http_addr, base, MEDIA, &[], Duration::from_millis(100))
        .wait_ended(Duration::from_secs(10));
    let log = weir.stderr();
    assert!(
        !log.contains("fell behind"),
        "weir dropped frames:\n{}\n{}",
        log.lines()
            .filter(|l| l.contains("WARN"))
            .collect::<Vec<_>>()
            .join("\n"),
        rec.dump("video.m3u8", 1)
    );
    for name in MEDIA {
        let pl = rec.last_media(name);
        assert_eq!(pl.discontinuities(), 0, "{name}:\n{}", rec.dump(name, 1));
        assert_eq!(pl.target, Some(2), "{name}:\n{}", rec.dump(name, 1));
    }
    let v = check_track(&rec, "video.m3u8", true);
    assert_eq!(
        v.samples,
        ffprobe_count_packets(&asset, "v:0"),
        "video frames lost"
    );
}

// ---------------------------------------------------------------------------
// The checkers above catch what they claim to (no server needed).
// ---------------------------------------------------------------------------
#[test]
fn playlist_checker_self_test() {
    fn pl(td: u64, seq: u64, segs: &[(u64, f64)], extra_head: &str, endlist: bool) -> String {
        let mut s = format!(
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:{td}\n#EXT-X-MEDIA-SEQUENCE:{seq}\n{extra_head}"
        );
        s.push_str("#EXT-X-MAP:URI=\"video/init-v1.mp4\"\n");
        for (n, d) in segs {
            s.push_str(&format!(
                "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:{:06.3}Z\n#EXTINF:{d:.5},\nvideo/seg-{n}.m4s\n",
                *n as f64 * 2.0
            ));
        }
        if endlist {
            s.push_str("#EXT-X-ENDLIST\n");
        }
        s
    }
    let t0 = Instant::now();
    let rec_of = |bodies: Vec<String>| Recording {
        snapshots: bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| Snapshot {
                at: t0 + Duration::from_millis(500 * i as u64),
                name: "video.m3u8",
                status: 200,
                cache_control: None,
                body,
            })
            .collect(),
        ..Recording::default()
    };
    let opts = default_invariants(Duration::from_millis(500), 1.0);
    let violations =
        |bodies: Vec<String>| check_invariants(&rec_of(bodies), "video.m3u8", &opts).violations;
    let two = [(0, 2.0), (1, 2.0)];
    let three = [(0, 2.0), (1, 2.0), (2, 2.0)];
    let good = vec![pl(2, 0, &two, "", false), pl(2, 0, &three, "", false)];
    assert!(violations(good).is_empty());
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "TARGETDURATION changed",
            vec![pl(2, 0, &two, "", false), pl(3, 0, &three, "", false)],
        ),
        (
            "rounds above",
            vec![pl(2, 0, &[(0, 2.0), (1, 2.6)], "", false)],
        ),
        (
            "live playlist with 1",
            vec![pl(2, 0, &[(0, 2.0)], "", false)],
        ),
        (
            "MEDIA-SEQUENCE 0 -> 2 but 1",
            vec![
                pl(2, 0, &three, "", false),
                pl(2, 2, &[(1, 2.0), (2, 2.0), (3, 2.0)], "", false),
            ],
        ),
        (
            "went backwards",
            vec![
                pl(2, 1, &[(1, 2.0), (2, 2.0)], "", false),
                pl(2, 0, &three, "", false),
            ],
        ),
        (
            "no new segment",
            (0..10).map(|_| pl(2, 0, &two, "", false)).collect(),
        ),
        (
            "changed after ENDLIST",
            vec![pl(2, 0, &two, "", true), pl(2, 0, &three, "", true)],
        ),
        (
            "EXT-X-VERSION tags",
            vec![pl(2, 0, &two, "#EXT-X-VERSION:6\n", false)],
        ),
        (
            "segments were removed",
            vec![
                pl(2, 0, &three, "", false),
                pl(2, 1, &[(1, 2.0), (2, 2.0)], "", false),
            ],
        ),
    ];
    let mut cases = cases;
    cases.push((
        "ms off the previous PDT",
        vec![pl(2, 0, &two, "", false).replace("00:00:02.000Z", "00:00:03.500Z")],
    ));
    cases.push((
        "no PROGRAM-DATE-TIME",
        vec![pl(2, 0, &two, "", false)
            .replace("#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:00.000Z\n", "")],
    ));
    for (want, bodies) in cases {
        let v = violations(bodies);
        assert!(
            v.iter().any(|m| m.contains(want)),
            "expected a violation containing {want:?}, got {v:?}"
        );
    }
    // Media playlist parser: MAP, DISCONTINUITY and ordering rules.
    let p = parse_media(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"a/init-v1.mp4\"\n\
         #EXTINF:2.0,\na/seg-0.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"a/init-v2.mp4\"\n\
         #EXTINF:1.5,\na/seg-1.m4s\n",
    )
    .unwrap();
    assert_eq!(p.maps(), ["a/init-v1.mp4", "a/init-v2.mp4"]);
    assert!(p.segments[1].discontinuity && !p.segments[0].discontinuity);
    assert!(parse_media("#EXTM3U\n#EXTINF:2,\nx\n#EXT-X-MEDIA-SEQUENCE:3\n").is_err());
    // PROGRAM-DATE-TIME as m3u8-rs reads it, in ms since the epoch.
    let pdt = |t: &str| {
        parse_media(&format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:{t}\n#EXTINF:2,\nx\n"
        ))
        .ok()
        .and_then(|p| p.segments[0].pdt_ms)
    };
    assert_eq!(pdt("1970-01-01T00:00:01.500Z"), Some(1500));
    assert_eq!(
        pdt("2026-11-25T05:55:40.232Z"),
        pdt("2026-11-25T06:55:40.232+01:00")
    );
    assert_eq!(pdt("2000-03-01T00:00:00Z"), Some(951_868_800_000));
    assert_eq!(pdt("2000-03-01 00:00:00"), None, "not RFC 3339");
    let a = parse_attrs(r#"BANDWIDTH=1,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720"#);
    assert_eq!(a["CODECS"], "avc1.64001f,mp4a.40.2");
    assert_eq!(a["RESOLUTION"], "1280x720");
}

// ---------------------------------------------------------------------------
// Cases 36 and 37: ten minutes of media (published as fast as possible) with
// timestamps offset by 50 000 s: audio timing from sample counts holds over
// the whole run and tfdt goes past 2^32 at 90 kHz (pitfall 29).
// ---------------------------------------------------------------------------
#[test]
fn case36_37_ten_minutes_audio_timing_and_large_tfdt() {
    let asset = common::asset(
        "long-160x120-600s",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "600",
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "60",
            "-b:v",
            "100k",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-ar",
            "48000",
            "-ac",
            "2",
        ],
    );
    // At 30× real time (20 s): a pure burst makes ffmpeg leave Weir's acks
    // unread and close with a TCP reset, which discards its last bytes in
    // flight (see the note on burst publishes in the README).
    let weir = Weir::start(&["--playlist-window", "1000", "--grace-period", "1"]);
    let rec = Recorder::start(
        weir.http_addr,
        "/live/long",
        MEDIA,
        &[],
        Duration::from_millis(500),
    );
    let mut ff = publish_at(
        &asset,
        &weir.rtmp_url("long"),
        30.0,
        &["-output_ts_offset", "50000"],
    );
    let status = ff.wait_timeout(Duration::from_secs(120));
    assert!(status.is_some(), "publisher still running\n{}", ff.stderr());
    let rec = rec.wait_ended(Duration::from_secs(20));
    assert!(rec.fetch_errors.is_empty(), "{:?}", rec.fetch_errors);
    let v = check_track(&rec, "video.m3u8", true);
    let a = check_track(&rec, "audio.m3u8", false);

    // Case 37: 64-bit tfdt, ≈ 50 000 s.
    assert_eq!(v.timescale, 90_000);
    assert!(v.first_tfdt > 1 << 32, "video tfdt {}", v.first_tfdt);
    let start = v.first_tfdt as f64 / 90_000.0;
    assert!((start - 50_000.0).abs() < 2.0, "video starts at {start} s");
    let astart = a.first_tfdt as f64 / f64::from(a.timescale);
    assert!(
        (astart - 50_000.0).abs() < 2.0,
        "audio starts at {astart} s"
    );

    // Case 36: every AAC sample lasts 1024 ticks at 48 kHz (no gaps in this
    // source), and the tracks end together.
    assert_eq!(a.timescale, 48_000);
    assert_eq!(
        a.end_tfdt - a.first_tfdt,
        a.samples * 1024,
        "audio durations are not all 1024"
    );
    // The source's first AAC frame (dts 0) precedes the first video key frame
    // (dts 21): it is dropped so both renditions start together (pitfall 24).
    assert_eq!(a.samples, ffprobe_count_packets(&asset, "a:0") - 1);
    assert_eq!(v.samples, ffprobe_count_packets(&asset, "v:0"));
    let vend = v.end_tfdt as f64 / 90_000.0;
    let aend = a.end_tfdt as f64 / 48_000.0;
    let vspan = vend - start;
    assert!(vspan > 599.0, "only {vspan} s of video");
    assert!(
        (vend - aend).abs() < 0.05,
        "video ends at {vend:.3} s, audio at {aend:.3} s"
    );
}
