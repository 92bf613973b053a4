//! Sans-IO RTMP server.

pub mod amf0;
pub mod handshake;
