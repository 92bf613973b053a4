//! The chunk stream layer: messages split into interleaved chunks (RTMP §5.3).

mod decoder;
mod encoder;

pub use decoder::ChunkDecoder;
pub use encoder::ChunkEncoder;

use bytes::Bytes;

/// Chunk size both directions start with (RTMP §5.4.1).
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// Chunk sizes above this are treated as this (RTMP-PC-02): no message is longer.
pub const MAX_CHUNK_SIZE: u32 = 0x00FF_FFFF;
/// The 24-bit timestamp value that announces a 4-byte extended timestamp.
pub const EXTENDED_TIMESTAMP: u32 = 0x00FF_FFFF;

/// One reassembled RTMP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub csid: u32,
    /// Wire timestamp in ms; wraps at 2^32 (and at 2^31 for ffmpeg/OBS, RTMP-TS-02).
    pub timestamp: u32,
    pub type_id: u8,
    /// Message stream id (the `msid`, little-endian on the wire).
    pub stream_id: u32,
    pub payload: Bytes,
}

/// Chunk-layer failures. All are caused by the peer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChunkError {
    #[error("message too large ({size} > {limit} bytes)")]
    MessageTooLarge { size: u32, limit: u32 },
    #[error("invalid Set Chunk Size {0:#x} (must be 1..=0x7fffffff)")]
    InvalidChunkSize(u32),
    #[error("Set Chunk Size {size} is below the configured floor of {floor}")]
    ChunkSizeBelowFloor { size: u32, floor: u32 },
    #[error("chunk fmt {fmt} on csid {csid} with no previous header to inherit from")]
    NoPreviousHeader { csid: u32, fmt: u8 },
    #[error("chunk fmt {fmt} on csid {csid} starts a message before the previous one completed")]
    HeaderInsideMessage { csid: u32, fmt: u8 },
    #[error("more than {limit} chunk streams in use")]
    TooManyChunkStreams { limit: usize },
    #[error("partly received messages exceed {limit} bytes")]
    ReassemblyLimit { limit: usize },
}

#[cfg(test)]
mod tests;
