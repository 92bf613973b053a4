//! Sans-IO RTMP server: bytes and timestamps in, events and bytes out.
//!
//! [`Session`] runs one connection: the handshake ([`handshake`]), the chunk
//! stream ([`chunk`]), protocol control messages ([`message`]) and the publish
//! command flow ([`command`]) with AMF0 ([`amf0`]). It owns no socket, task or
//! clock: a host (Weir's tokio adapter) feeds it socket reads and the current
//! time, writes what it transmits and acts on its [`Event`]s. Every size a peer
//! controls is bounded by [`Limits`].

// No unwrap/expect outside tests: everything here can be reached by bytes a
// peer controls, so failures are errors, never panics (clippy enforces it).
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod amf0;
pub mod chunk;
pub mod command;
pub mod handshake;
pub mod limits;
pub mod message;
pub mod session;

pub use chunk::{ChunkDecoder, ChunkEncoder, ChunkError, Message};
pub use limits::Limits;
pub use session::{
    Event, MediaKind, PublishRequest, Session, SessionConfig, SessionError, UnpublishReason,
};
