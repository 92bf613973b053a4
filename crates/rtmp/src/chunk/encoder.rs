//! Messages → chunks for what the server sends (replies and control messages).

use bytes::{BufMut, BytesMut};

use super::{DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP, MAX_CHUNK_SIZE};

/// Splits outgoing messages into chunks. Weir sends few, small messages, so
/// every message starts with a Type-0 header and continues with Type-3 chunks;
/// header compression would save nothing worth its state.
#[derive(Debug)]
pub struct ChunkEncoder {
    chunk_size: u32,
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        ChunkEncoder {
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

impl ChunkEncoder {
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Change the outgoing chunk size. The caller must first send the Set Chunk
    /// Size message itself (with the old size), as RTMP §5.4.1 requires.
    pub fn set_chunk_size(&mut self, size: u32) {
        self.chunk_size = size.clamp(1, MAX_CHUNK_SIZE);
    }

    /// Append the chunks of one message to `out`.
    pub fn encode(
        &self,
        csid: u32,
        timestamp: u32,
        type_id: u8,
        stream_id: u32,
        payload: &[u8],
        out: &mut BytesMut,
    ) {
        let extended = timestamp >= EXTENDED_TIMESTAMP;
        let ts_field = if extended {
            EXTENDED_TIMESTAMP
        } else {
            timestamp
        };
        let chunk = self.chunk_size as usize;
        let mut first = true;
        let mut rest = payload;
        loop {
            let fmt = if first { 0u8 } else { 3u8 };
            put_basic_header(fmt, csid, out);
            if first {
                put_u24(ts_field, out);
                put_u24(payload.len() as u32, out);
                out.put_u8(type_id);
                out.put_u32_le(stream_id);
            }
            if extended {
                out.put_u32(timestamp);
            }
            let n = rest.len().min(chunk);
            let (now, later) = rest.split_at(n);
            out.put_slice(now);
            rest = later;
            first = false;
            if rest.is_empty() {
                break;
            }
        }
    }
}

fn put_u24(v: u32, out: &mut BytesMut) {
    out.put_slice(&v.to_be_bytes()[1..]);
}

/// Basic header (RTMP-CH-01): 1, 2 or 3 bytes depending on the csid.
pub(crate) fn put_basic_header(fmt: u8, csid: u32, out: &mut BytesMut) {
    let fmt = fmt << 6;
    match csid {
        2..=63 => out.put_u8(fmt | csid as u8),
        64..=319 => {
            out.put_u8(fmt);
            out.put_u8((csid - 64) as u8);
        }
        _ => {
            let id = csid.saturating_sub(64).min(0xFFFF);
            out.put_u8(fmt | 1);
            out.put_u8((id & 0xff) as u8);
            out.put_u8((id >> 8) as u8);
        }
    }
}
