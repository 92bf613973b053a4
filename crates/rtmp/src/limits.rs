//! Every bound a peer can push against, in one value (style: one `Limits`, passed in).

use std::time::Duration;

use crate::amf0::Amf0Limits;

/// Resource limits for one RTMP connection (and, for `max_connections`, the listener).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest message accepted, checked on the header before anything is buffered
    /// (RTMP-CH-07). 8 MiB holds 4K keyframes; nginx-rtmp's 1 MiB does not.
    pub max_message_size: u32,
    /// Bytes held across all partly received messages of a connection.
    pub max_reassembly_bytes: usize,
    /// Distinct chunk stream ids a peer may use (real encoders use fewer than ten).
    pub max_chunk_streams: usize,
    /// Smallest Set Chunk Size accepted from a peer: tiny chunks turn every payload
    /// byte into a header parse (RTMP-PC-03, Red5#475).
    pub min_peer_chunk_size: u32,
    /// Deadline for C0..C2 (RTMP-HS-06).
    pub handshake_timeout: Duration,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Message streams (createStream) per connection.
    pub max_streams_per_connection: u32,
    /// Concurrent TCP connections on the RTMP listener (enforced by the host).
    pub max_connections: usize,
    /// AMF0 decoding bounds for commands and metadata (RTMP-CMD-09).
    pub amf: Amf0Limits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 8 << 20,
            max_reassembly_bytes: 24 << 20,
            max_chunk_streams: 64,
            min_peer_chunk_size: 32,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_streams_per_connection: 8,
            max_connections: 1000,
            amf: Amf0Limits::default(),
        }
    }
}
