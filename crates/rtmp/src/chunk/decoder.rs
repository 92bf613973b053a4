//! Chunk stream → messages (RTMP §5.3, RTMP-CH-01…08).
//!
//! The decoder is resumable at any byte boundary: it parses a whole chunk
//! (header + payload) from the front of the input or consumes nothing, so the
//! caller simply appends socket reads to one buffer and calls
//! [`ChunkDecoder::decode`] until it returns `Ok(None)`.

use std::collections::HashMap;

use bytes::{Buf, BytesMut};

use super::{ChunkError, Message, DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP, MAX_CHUNK_SIZE};
use crate::limits::Limits;

/// What the last header on a chunk stream said; fmt 1–3 headers inherit from it.
#[derive(Clone, Copy, Debug, Default)]
struct HeaderState {
    /// Absolute timestamp of the last message started on this csid.
    timestamp: u32,
    /// The delta a Type-3 chunk that starts a new message adds again (RTMP-CH-03).
    delta: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
    /// The value of the extended timestamp field when the last fmt 0/1/2 header had one.
    extended: Option<u32>,
}

#[derive(Debug, Default)]
struct ChunkStream {
    header: HeaderState,
    partial: Option<Partial>,
}

#[derive(Debug)]
struct Partial {
    buf: BytesMut,
}

/// Reassembles messages from interleaved chunk streams, one buffer per csid.
#[derive(Debug)]
pub struct ChunkDecoder {
    chunk_size: u32,
    streams: HashMap<u32, ChunkStream>,
    buffered: usize,
    max_message_size: u32,
    max_reassembly_bytes: usize,
    max_chunk_streams: usize,
    min_chunk_size: u32,
}

/// A parsed chunk header, before it is applied to the chunk stream state.
struct Header {
    fmt: u8,
    csid: u32,
    /// Bytes of basic + message header + extended timestamp.
    len: usize,
    /// Whether the 24-bit field was 0xFFFFFF and an extended field followed.
    extended: bool,
    timestamp_field: Option<u32>,
    length: Option<u32>,
    type_id: Option<u8>,
    stream_id: Option<u32>,
}

/// Outcome of one chunk.
enum Chunk {
    /// The chunk's payload is not all buffered yet; nothing was consumed.
    Incomplete,
    /// The chunk was consumed; its message needs more chunks.
    Consumed,
    Message(Message),
}

/// Reads big-endian fields from a slice; `None` means "need more bytes".
struct Peek<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Peek<'a> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }
    fn be(&mut self, n: usize) -> Option<u32> {
        let s = self.buf.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(s.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
    }
    fn le32(&mut self) -> Option<u32> {
        let s = self.buf.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
}

impl ChunkDecoder {
    pub fn new(limits: &Limits) -> Self {
        ChunkDecoder {
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: HashMap::new(),
            buffered: 0,
            max_message_size: limits.max_message_size,
            max_reassembly_bytes: limits.max_reassembly_bytes,
            max_chunk_streams: limits.max_chunk_streams,
            min_chunk_size: limits.min_peer_chunk_size,
        }
    }

    /// The peer's current chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Apply a Set Chunk Size from the peer (RTMP-PC-02): top bit must be 0, zero is
    /// invalid, anything above 0xFFFFFF means 0xFFFFFF. Returns the size now in force.
    pub fn set_chunk_size(&mut self, raw: u32) -> Result<u32, ChunkError> {
        if raw == 0 || raw & 0x8000_0000 != 0 {
            return Err(ChunkError::InvalidChunkSize(raw));
        }
        if raw < self.min_chunk_size {
            return Err(ChunkError::ChunkSizeBelowFloor {
                size: raw,
                floor: self.min_chunk_size,
            });
        }
        self.chunk_size = raw.min(MAX_CHUNK_SIZE);
        Ok(self.chunk_size)
    }

    /// Abort Message (RTMP-CH-08): drop the partly received message on `csid`.
    pub fn abort(&mut self, csid: u32) {
        if let Some(p) = self.streams.get_mut(&csid).and_then(|s| s.partial.take()) {
            self.buffered = self.buffered.saturating_sub(p.buf.len());
        }
    }

    /// Bytes currently held in partly received messages.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Decode chunks from the front of `input` until one message completes.
    /// `Ok(None)`: every whole chunk was consumed and more bytes are needed.
    pub fn decode(&mut self, input: &mut BytesMut) -> Result<Option<Message>, ChunkError> {
        loop {
            let Some(header) = self.parse_header(input)? else {
                return Ok(None);
            };
            match self.apply_chunk(header, input)? {
                Chunk::Incomplete => return Ok(None),
                Chunk::Consumed => {}
                Chunk::Message(msg) => return Ok(Some(msg)),
            }
        }
    }

    fn parse_header(&self, input: &[u8]) -> Result<Option<Header>, ChunkError> {
        let mut p = Peek { buf: input, pos: 0 };
        let Some(b0) = p.u8() else { return Ok(None) };
        let fmt = b0 >> 6;
        // Basic header (RTMP-CH-01): 0 → 2 bytes, 1 → 3 bytes (little-endian extension).
        let csid = match b0 & 0x3f {
            0 => match p.u8() {
                Some(b1) => u32::from(b1) + 64,
                None => return Ok(None),
            },
            1 => match (p.u8(), p.u8()) {
                (Some(b1), Some(b2)) => u32::from(b2) * 256 + u32::from(b1) + 64,
                _ => return Ok(None),
            },
            n => u32::from(n),
        };
        let mut h = Header {
            fmt,
            csid,
            len: 0,
            extended: false,
            timestamp_field: None,
            length: None,
            type_id: None,
            stream_id: None,
        };
        // Message header (RTMP-CH-02).
        if fmt <= 2 {
            let Some(ts) = p.be(3) else { return Ok(None) };
            h.timestamp_field = Some(ts);
        }
        if fmt <= 1 {
            let (Some(len), Some(ty)) = (p.be(3), p.u8()) else {
                return Ok(None);
            };
            h.length = Some(len);
            h.type_id = Some(ty);
        }
        if fmt == 0 {
            let Some(sid) = p.le32() else { return Ok(None) };
            h.stream_id = Some(sid);
        }
        if fmt != 0 && !self.streams.contains_key(&csid) {
            return Err(ChunkError::NoPreviousHeader { csid, fmt });
        }
        // Extended timestamp (RTMP-CH-04/05).
        if h.timestamp_field == Some(EXTENDED_TIMESTAMP) {
            let Some(ext) = p.be(4) else { return Ok(None) };
            h.timestamp_field = Some(ext);
            h.extended = true;
        } else if fmt == 3 {
            if let Some(stored) = self.streams.get(&csid).and_then(|s| s.header.extended) {
                // Writers disagree on whether Type-3 chunks repeat the extended
                // field (OBS before #10097, librtmp did not). Peek: consume the
                // four bytes only when they equal the stored value.
                let avail = p.buf.get(p.pos..).unwrap_or_default();
                let want = stored.to_be_bytes();
                let n = avail.len().min(4);
                if avail.get(..n) == want.get(..n) {
                    if n < 4 {
                        // Could still be the field: wait for more bytes.
                        return Ok(None);
                    }
                    p.pos += 4;
                }
            }
        }
        h.len = p.pos;
        Ok(Some(h))
    }

    /// Apply a parsed header and take its payload if the whole chunk is buffered.
    fn apply_chunk(&mut self, h: Header, input: &mut BytesMut) -> Result<Chunk, ChunkError> {
        if !self.streams.contains_key(&h.csid) && self.streams.len() >= self.max_chunk_streams {
            return Err(ChunkError::TooManyChunkStreams {
                limit: self.max_chunk_streams,
            });
        }
        let (prev, in_progress) = match self.streams.get(&h.csid) {
            Some(cs) => (cs.header, cs.partial.as_ref().map(|p| p.buf.len())),
            None => (HeaderState::default(), None),
        };

        // Work out which message this chunk belongs to without mutating state:
        // the chunk's payload may not be in `input` yet.
        let (header, have) = match in_progress {
            Some(_) if h.fmt != 3 => {
                // A new header in the middle of a message lies about lengths
                // (one of the probes that panics other RTMP crates).
                return Err(ChunkError::HeaderInsideMessage {
                    csid: h.csid,
                    fmt: h.fmt,
                });
            }
            Some(have) => (prev, have),
            None => (self.next_header(prev, &h)?, 0),
        };

        let msg_len = header.length as usize;
        let take = msg_len.saturating_sub(have).min(self.chunk_size as usize);
        if input.len() < h.len + take {
            return Ok(Chunk::Incomplete);
        }
        input.advance(h.len);

        // Whole message in one chunk: hand out the input bytes themselves (no copy).
        if have == 0 && take == msg_len {
            let payload = input.split_to(take).freeze();
            self.streams.entry(h.csid).or_default().header = header;
            return Ok(Chunk::Message(Message {
                csid: h.csid,
                timestamp: header.timestamp,
                type_id: header.type_id,
                stream_id: header.stream_id,
                payload,
            }));
        }

        if self.buffered + take > self.max_reassembly_bytes {
            return Err(ChunkError::ReassemblyLimit {
                limit: self.max_reassembly_bytes,
            });
        }
        let cs = self.streams.entry(h.csid).or_default();
        cs.header = header;
        let partial = cs.partial.get_or_insert_with(|| Partial {
            // Reserve a bounded amount, never the declared length (RTMP-CH-07):
            // a peer may declare 16 MiB and send 1 KiB.
            buf: BytesMut::with_capacity(msg_len.min(64 * 1024)),
        });
        partial.buf.extend_from_slice(&input[..take]);
        input.advance(take);
        self.buffered += take;

        if partial.buf.len() < msg_len {
            return Ok(Chunk::Consumed);
        }
        let payload = match cs.partial.take() {
            Some(p) => p.buf.freeze(),
            None => return Ok(Chunk::Consumed),
        };
        self.buffered = self.buffered.saturating_sub(payload.len());
        Ok(Chunk::Message(Message {
            csid: h.csid,
            timestamp: header.timestamp,
            type_id: header.type_id,
            stream_id: header.stream_id,
            payload,
        }))
    }

    /// The header state of a chunk that starts a new message.
    fn next_header(&self, prev: HeaderState, h: &Header) -> Result<HeaderState, ChunkError> {
        let mut next = prev;
        let field = h.timestamp_field.unwrap_or_default();
        match h.fmt {
            0 => {
                // After a Type-0 chunk the delta a Type-3 chunk re-adds is the
                // absolute timestamp (RTMP-CH-03; checklist case 10).
                next.timestamp = field;
                next.delta = field;
            }
            1 | 2 => {
                // Extended timestamps on fmt 1/2 are deltas too (RTMP-CH-04, pitfall 2).
                next.delta = field;
                next.timestamp = prev.timestamp.wrapping_add(field);
            }
            _ => next.timestamp = prev.timestamp.wrapping_add(prev.delta),
        }
        if h.fmt <= 2 {
            next.extended = h.extended.then_some(field);
        }
        if let Some(l) = h.length {
            next.length = l;
        }
        if let Some(t) = h.type_id {
            next.type_id = t;
        }
        if let Some(s) = h.stream_id {
            next.stream_id = s;
        }
        if next.length > self.max_message_size {
            return Err(ChunkError::MessageTooLarge {
                size: next.length,
                limit: self.max_message_size,
            });
        }
        Ok(next)
    }
}
