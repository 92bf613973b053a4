//! Chunk layer tests: byte vectors for the checklist cases (§8 A) and a
//! writer→reader round trip over random chunk sizes, splits and interleaving.

use std::collections::HashMap;

use bytes::{BufMut, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::limits::Limits;

fn decoder() -> ChunkDecoder {
    ChunkDecoder::new(&Limits::default())
}

/// Decode everything in `bytes`, fed in one piece.
fn decode_all(d: &mut ChunkDecoder, bytes: &[u8]) -> Result<Vec<Message>, ChunkError> {
    let mut input = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(m) = d.decode(&mut input)? {
        out.push(m);
    }
    Ok(out)
}

/// Decode `bytes` fed one byte at a time.
fn decode_bytewise(d: &mut ChunkDecoder, bytes: &[u8]) -> Result<Vec<Message>, ChunkError> {
    let mut input = BytesMut::new();
    let mut out = Vec::new();
    for b in bytes {
        input.put_u8(*b);
        while let Some(m) = d.decode(&mut input)? {
            out.push(m);
        }
    }
    Ok(out)
}

fn u24(v: u32) -> [u8; 3] {
    let b = v.to_be_bytes();
    [b[1], b[2], b[3]]
}

/// fmt 0 header on a 1-byte basic header csid.
fn fmt0(csid: u8, ts: u32, len: u32, ty: u8, sid: u32) -> Vec<u8> {
    let mut v = vec![csid];
    v.extend_from_slice(&u24(ts.min(0xFF_FFFF)));
    v.extend_from_slice(&u24(len));
    v.push(ty);
    v.extend_from_slice(&sid.to_le_bytes());
    if ts >= 0xFF_FFFF {
        v.extend_from_slice(&ts.to_be_bytes());
    }
    v
}

#[test]
fn type3_chunk_starting_a_message_readds_delta_case_10_rtmp_ch_03() {
    // fmt0 ts=40 len=2 type 8 on csid 4, then three fmt3 chunks each starting a new message.
    let mut b = fmt0(4, 40, 2, 8, 1);
    b.extend_from_slice(&[0xaf, 0x01]);
    for _ in 0..3 {
        b.push(0xc0 | 4); // fmt 3, csid 4
        b.extend_from_slice(&[0xaf, 0x01]);
    }
    let ts: Vec<u32> = decode_all(&mut decoder(), &b)
        .unwrap()
        .iter()
        .map(|m| m.timestamp)
        .collect();
    assert_eq!(ts, vec![40, 80, 120, 160]);
}

#[test]
fn fmt1_then_fmt3_new_message_uses_fmt1_delta_pitfall_3() {
    // The probe that exposed scuffle#650: 1000, +23 (fmt1), fmt3 → 1046.
    let mut b = fmt0(6, 1000, 1, 9, 1);
    b.push(0x17);
    b.push(0x40 | 6); // fmt1
    b.extend_from_slice(&u24(23));
    b.extend_from_slice(&u24(1));
    b.push(9);
    b.push(0x27);
    b.push(0xc0 | 6);
    b.push(0x27);
    let ts: Vec<u32> = decode_all(&mut decoder(), &b)
        .unwrap()
        .iter()
        .map(|m| m.timestamp)
        .collect();
    assert_eq!(ts, vec![1000, 1023, 1046]);
}

/// A 300-byte message at ts 0x01000010 over three 128-byte chunks.
fn extended_message(with_ext_in_continuations: bool) -> Vec<u8> {
    let ts = 0x0100_0010u32;
    let payload: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8 + 1).collect();
    let mut b = fmt0(6, ts, 300, 9, 1);
    let mut chunks = payload.chunks(128);
    b.extend_from_slice(chunks.next().unwrap());
    for c in chunks {
        b.push(0xc0 | 6);
        if with_ext_in_continuations {
            b.extend_from_slice(&ts.to_be_bytes());
        }
        b.extend_from_slice(c);
    }
    b
}

#[test]
fn type3_extended_timestamp_with_and_without_field_case_9_rtmp_ch_05() {
    let a = decode_all(&mut decoder(), &extended_message(true)).unwrap();
    let b = decode_all(&mut decoder(), &extended_message(false)).unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a, b);
    assert_eq!(a[0].timestamp, 0x0100_0010);
    assert_eq!(a[0].payload.len(), 300);
    assert_eq!(a[0].payload[0], 1);
    // Byte-at-a-time feeding gives the same result (resumable at every boundary).
    assert_eq!(
        decode_bytewise(&mut decoder(), &extended_message(true)).unwrap(),
        a
    );
    assert_eq!(
        decode_bytewise(&mut decoder(), &extended_message(false)).unwrap(),
        a
    );
}

#[test]
fn extended_timestamp_on_fmt2_is_a_delta_and_wraps_rtmp_ch_04() {
    let mut b = fmt0(4, 0xFFFF_FFF0, 1, 8, 1);
    b.push(0xaf);
    b.push(0x80 | 4); // fmt2, delta 0x20
    b.extend_from_slice(&u24(0x20));
    b.push(0xaf);
    // fmt2 with an extended delta.
    b.push(0x80 | 4);
    b.extend_from_slice(&u24(0xFF_FFFF));
    b.extend_from_slice(&0x0100_0000u32.to_be_bytes());
    b.push(0xaf);
    let ts: Vec<u32> = decode_all(&mut decoder(), &b)
        .unwrap()
        .iter()
        .map(|m| m.timestamp)
        .collect();
    assert_eq!(ts, vec![0xFFFF_FFF0, 0x10, 0x0100_0010]);
}

#[test]
fn basic_header_sizes_rtmp_ch_01() {
    for csid in [2u32, 63, 64, 319, 320, 65_599] {
        let mut out = BytesMut::new();
        ChunkEncoder::default().encode(csid, 7, 20, 0, b"hello", &mut out);
        let msgs = decode_all(&mut decoder(), &out).unwrap();
        assert_eq!(msgs.len(), 1, "csid {csid}");
        assert_eq!(msgs[0].csid, csid);
        assert_eq!(&msgs[0].payload[..], b"hello");
    }
    // 3-byte form, explicit bytes: csid = b2*256 + b1 + 64 (pitfall 4).
    let mut b = vec![0x01, 0x10, 0x02];
    b.extend_from_slice(&u24(5));
    b.extend_from_slice(&u24(1));
    b.push(8);
    b.extend_from_slice(&1u32.to_le_bytes());
    b.push(0xaf);
    assert_eq!(
        decode_all(&mut decoder(), &b).unwrap()[0].csid,
        2 * 256 + 0x10 + 64
    );
}

#[test]
fn interleaved_chunk_streams_reassemble_separately_rtmp_ch_06() {
    // 200-byte video on csid 6 split at 128, a 4-byte audio message on csid 4 between.
    let video: Vec<u8> = (0..200u32).map(|i| i as u8).collect();
    let mut b = fmt0(6, 0, 200, 9, 1);
    b.extend_from_slice(&video[..128]);
    b.extend_from_slice(&fmt0(4, 0, 4, 8, 1));
    b.extend_from_slice(&[0xaf, 1, 2, 3]);
    b.push(0xc0 | 6);
    b.extend_from_slice(&video[128..]);
    let msgs = decode_all(&mut decoder(), &b).unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].type_id, 8);
    assert_eq!(&msgs[1].payload[..], &video[..]);
}

#[test]
fn header_that_shrinks_a_message_in_progress_is_an_error() {
    let mut b = fmt0(6, 0, 1000, 9, 1);
    b.extend_from_slice(&[0u8; 128]);
    b.push(0x40 | 6); // fmt1 with length 10 on the same csid
    b.extend_from_slice(&u24(0));
    b.extend_from_slice(&u24(10));
    b.push(9);
    b.extend_from_slice(&[0u8; 10]);
    assert_eq!(
        decode_all(&mut decoder(), &b),
        Err(ChunkError::HeaderInsideMessage { csid: 6, fmt: 1 })
    );
}

#[test]
fn compressed_header_without_predecessor_is_an_error() {
    let b = [0x40 | 5, 0, 0, 1, 0, 0, 1, 8, 0];
    assert_eq!(
        decode_all(&mut decoder(), &b),
        Err(ChunkError::NoPreviousHeader { csid: 5, fmt: 1 })
    );
}

#[test]
fn set_chunk_size_rules_case_7_rtmp_pc_02() {
    let mut d = decoder();
    assert_eq!(d.set_chunk_size(0x7FFF_FFFF), Ok(MAX_CHUNK_SIZE));
    assert_eq!(d.set_chunk_size(0), Err(ChunkError::InvalidChunkSize(0)));
    assert_eq!(
        d.set_chunk_size(0x8000_0001),
        Err(ChunkError::InvalidChunkSize(0x8000_0001))
    );
    assert!(matches!(
        d.set_chunk_size(1),
        Err(ChunkError::ChunkSizeBelowFloor { size: 1, .. })
    ));
    assert_eq!(d.set_chunk_size(4096), Ok(4096));
    // After clamping to the maximum, a 1 MiB message with 1 KiB delivered holds
    // about 1 KiB, not the declared size.
    let mut d = decoder();
    d.set_chunk_size(0x7FFF_FFFF).unwrap();
    let mut b = fmt0(6, 0, 1 << 20, 9, 1);
    b.extend_from_slice(&[0u8; 1024]);
    let mut input = BytesMut::from(&b[..]);
    assert_eq!(d.decode(&mut input), Ok(None));
    assert!(input.capacity() < 64 * 1024);
}

#[test]
fn oversized_message_is_rejected_before_buffering_case_8_rtmp_ch_07() {
    let mut d = decoder();
    let mut b = fmt0(6, 0, 16 * 1024 * 1024 - 1, 9, 1);
    b.extend_from_slice(&[0u8; 128]);
    let err = decode_all(&mut d, &b).unwrap_err();
    assert_eq!(
        err,
        ChunkError::MessageTooLarge {
            size: 16 * 1024 * 1024 - 1,
            limit: 8 << 20
        }
    );
    assert_eq!(
        err.to_string(),
        "message too large (16777215 > 8388608 bytes)"
    );
}

#[test]
fn partial_message_buffers_only_what_arrived_case_8() {
    let mut d = decoder();
    d.set_chunk_size(4096).unwrap();
    let mut b = fmt0(6, 0, 4 << 20, 9, 1);
    b.extend_from_slice(&[0u8; 1024]);
    // The chunk is incomplete (4096 bytes expected), so nothing is consumed or buffered.
    let mut input = BytesMut::from(&b[..]);
    assert_eq!(d.decode(&mut input), Ok(None));
    assert_eq!(d.buffered_bytes(), 0);
    // One whole chunk: 4096 bytes buffered, no more.
    let mut b = fmt0(6, 0, 4 << 20, 9, 1);
    b.extend_from_slice(&[0u8; 4096]);
    let mut input = BytesMut::from(&b[..]);
    assert_eq!(d.decode(&mut input), Ok(None));
    assert_eq!(d.buffered_bytes(), 4096);
    d.abort(6);
    assert_eq!(d.buffered_bytes(), 0);
}

#[test]
fn chunk_stream_count_is_bounded() {
    let limits = Limits {
        max_chunk_streams: 4,
        ..Limits::default()
    };
    let mut d = ChunkDecoder::new(&limits);
    let mut b = Vec::new();
    for csid in 3..10u8 {
        b.extend_from_slice(&fmt0(csid, 0, 1, 8, 1));
        b.push(0);
    }
    assert_eq!(
        decode_all(&mut d, &b),
        Err(ChunkError::TooManyChunkStreams { limit: 4 })
    );
}

/// A test-only writer that compresses headers the way librtmp and ffmpeg do
/// (fmt 1/2/3 whenever fields repeat), optionally omitting the extended
/// timestamp in Type-3 chunks like old OBS.
struct TestWriter {
    chunk_size: usize,
    omit_ext_in_type3: bool,
    last: HashMap<u32, (u32, u32, u8, u32, u32)>, // ts, len, type, sid, delta
}

impl TestWriter {
    fn chunks(&mut self, m: &Message) -> Vec<Vec<u8>> {
        let len = m.payload.len() as u32;
        let prev = self.last.get(&m.csid).copied();
        let (fmt, field) = match prev {
            Some((pts, plen, pty, psid, pdelta)) if psid == m.stream_id && m.timestamp >= pts => {
                let delta = m.timestamp - pts;
                if plen != len || pty != m.type_id {
                    (1, delta)
                } else if delta != pdelta {
                    (2, delta)
                } else {
                    (3, delta)
                }
            }
            _ => (0, m.timestamp),
        };
        let delta = if fmt == 0 { m.timestamp } else { field };
        self.last
            .insert(m.csid, (m.timestamp, len, m.type_id, m.stream_id, delta));
        // The extended field carries the header's timestamp field (or the inherited delta).
        let ext = field >= 0xFF_FFFF;
        let mut out = Vec::new();
        let mut first = true;
        for piece in m.payload.chunks(self.chunk_size.max(1)).chain(
            // A zero-length message still has one (empty) chunk.
            std::iter::once(&[][..]).filter(|_| m.payload.is_empty()),
        ) {
            let mut b = BytesMut::new();
            let f = if first { fmt } else { 3 };
            super::encoder::put_basic_header(f, m.csid, &mut b);
            if first && fmt <= 2 {
                b.put_slice(&u24(field.min(0xFF_FFFF)));
            }
            if first && fmt <= 1 {
                b.put_slice(&u24(len));
                b.put_u8(m.type_id);
            }
            if first && fmt == 0 {
                b.put_u32_le(m.stream_id);
            }
            if ext && (first && fmt <= 2 || !self.omit_ext_in_type3) {
                b.put_u32(field);
            }
            b.put_slice(piece);
            out.push(b.to_vec());
            first = false;
        }
        out
    }
}

fn arb_message() -> impl Strategy<Value = (u32, u8, u32, u32, Vec<u8>)> {
    (
        prop_oneof![Just(3u32), Just(4), Just(6), Just(64), Just(400)],
        prop_oneof![Just(8u8), Just(9), Just(18)],
        0u32..3,
        prop_oneof![0u32..100, Just(0), 0xFF_FFF0u32..0x100_0010],
        // First byte 0x17/0xaf like real FLV tags, so the Type-3 peek cannot
        // mistake payload for an extended timestamp.
        proptest::collection::vec(any::<u8>(), 0..700).prop_map(|mut v| {
            v.insert(0, 0x17);
            v
        }),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// Round trip: random messages on random csids, header compression, random
    /// chunk sizes, interleaving across csids and random read splits.
    #[test]
    fn writer_reader_round_trip(
        msgs in proptest::collection::vec(arb_message(), 1..40),
        chunk_size in prop_oneof![Just(32usize), Just(128), Just(4096), 33usize..300],
        omit_ext in any::<bool>(),
        splits in proptest::collection::vec(1usize..500, 1..50),
    ) {
        let mut ts_by_csid: HashMap<u32, u32> = HashMap::new();
        let messages: Vec<Message> = msgs.into_iter().map(|(csid, ty, sid, dts, payload)| {
            let ts = ts_by_csid.entry(csid).or_insert(0);
            *ts = ts.wrapping_add(dts);
            Message { csid, timestamp: *ts, type_id: ty, stream_id: sid, payload: payload.into() }
        }).collect();
        let mut w = TestWriter { chunk_size, omit_ext_in_type3: omit_ext, last: HashMap::new() };
        // Interleave: round-robin between csids, keeping each csid's order.
        let mut queues: Vec<(u32, std::collections::VecDeque<Vec<u8>>)> = Vec::new();
        let mut wire = Vec::new();
        let mut pending: HashMap<u32, std::collections::VecDeque<&Message>> = HashMap::new();
        let mut order = Vec::new();
        for m in &messages {
            if !pending.contains_key(&m.csid) { order.push(m.csid); }
            pending.entry(m.csid).or_default().push_back(m);
        }
        for csid in &order { queues.push((*csid, Default::default())); }
        loop {
            let mut progressed = false;
            for (csid, q) in queues.iter_mut() {
                if q.is_empty() {
                    if let Some(m) = pending.get_mut(csid).and_then(|p| p.pop_front()) {
                        q.extend(w.chunks(m));
                    }
                }
                if let Some(c) = q.pop_front() { wire.extend_from_slice(&c); progressed = true; }
            }
            if !progressed { break; }
        }
        let mut d = ChunkDecoder::new(&Limits { min_peer_chunk_size: 1, ..Limits::default() });
        d.set_chunk_size(chunk_size as u32).unwrap();
        let mut input = BytesMut::new();
        let mut got = Vec::new();
        let mut pos = 0;
        let mut si = 0;
        while pos < wire.len() {
            let n = splits[si % splits.len()].min(wire.len() - pos);
            si += 1;
            input.extend_from_slice(&wire[pos..pos + n]);
            pos += n;
            while let Some(m) = d.decode(&mut input).unwrap() { got.push(m); }
        }
        // Compare per csid (interleaving changes the global order).
        for csid in order {
            let want: Vec<&Message> = messages.iter().filter(|m| m.csid == csid).collect();
            let have: Vec<&Message> = got.iter().filter(|m| m.csid == csid).collect();
            prop_assert_eq!(want, have);
        }
    }
}

#[test]
fn fuzz_chunk_decoder() {
    bolero::check!().for_each(|input: &[u8]| {
        let mut d = ChunkDecoder::new(&Limits {
            max_message_size: 1 << 16,
            max_reassembly_bytes: 1 << 18,
            ..Limits::default()
        });
        // The first byte picks a chunk size so small and large sizes both get exercised.
        let size = u32::from(input.first().copied().unwrap_or(128)).max(1) * 16;
        let _ = d.set_chunk_size(size);
        let mut buf = BytesMut::from(input);
        while let Ok(Some(_)) = d.decode(&mut buf) {}
        assert!(d.buffered_bytes() <= 1 << 18);
    });
}
