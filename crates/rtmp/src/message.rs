//! Message types and the protocol/user control messages (RTMP §5.4, §6.2, §7.1).

use bytes::{BufMut, BytesMut};

/// RTMP message type ids (RTMP-CMD-01). An open set: unknown ids are logged and skipped.
pub mod types {
    pub const SET_CHUNK_SIZE: u8 = 1;
    pub const ABORT: u8 = 2;
    pub const ACKNOWLEDGEMENT: u8 = 3;
    pub const USER_CONTROL: u8 = 4;
    pub const WINDOW_ACK_SIZE: u8 = 5;
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    pub const AUDIO: u8 = 8;
    pub const VIDEO: u8 = 9;
    pub const AMF3_DATA: u8 = 15;
    pub const AMF3_SHARED_OBJECT: u8 = 16;
    pub const AMF3_COMMAND: u8 = 17;
    pub const AMF0_DATA: u8 = 18;
    pub const AMF0_SHARED_OBJECT: u8 = 19;
    pub const AMF0_COMMAND: u8 = 20;
    pub const AGGREGATE: u8 = 22;
}

/// User control event types (RTMP §7.1.7, RTMP-PC-06).
pub mod user_control {
    pub const STREAM_BEGIN: u16 = 0;
    pub const STREAM_EOF: u16 = 1;
    pub const STREAM_DRY: u16 = 2;
    pub const SET_BUFFER_LENGTH: u16 = 3;
    pub const STREAM_IS_RECORDED: u16 = 4;
    pub const PING_REQUEST: u16 = 6;
    pub const PING_RESPONSE: u16 = 7;
}

/// Chunk stream ids Weir sends on.
pub mod csid {
    /// Protocol control messages (RTMP-PC-01).
    pub const PROTOCOL_CONTROL: u32 = 2;
    /// Commands and their replies.
    pub const COMMAND: u32 = 3;
    /// Replies on a message stream (onStatus).
    pub const STREAM: u32 = 5;
}

/// Set Peer Bandwidth limit types (RTMP-PC-05).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitType {
    Hard = 0,
    Soft = 1,
    Dynamic = 2,
}

/// Read a big-endian u32 payload (Set Chunk Size, Ack, Window Ack Size).
pub fn read_u32(payload: &[u8]) -> Option<u32> {
    let b = payload.get(..4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

pub fn u32_payload(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

pub fn set_peer_bandwidth_payload(window: u32, limit: LimitType) -> [u8; 5] {
    let w = window.to_be_bytes();
    [w[0], w[1], w[2], w[3], limit as u8]
}

pub fn user_control_payload(event: u16, value: u32) -> BytesMut {
    let mut b = BytesMut::with_capacity(6);
    b.put_u16(event);
    b.put_u32(value);
    b
}

/// A parsed User Control message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserControl {
    pub event: u16,
    /// The first 4-byte argument (stream id or timestamp), when present.
    pub value: Option<u32>,
}

pub fn parse_user_control(payload: &[u8]) -> Option<UserControl> {
    let e = payload.get(..2)?;
    Some(UserControl {
        event: u16::from_be_bytes([e[0], e[1]]),
        value: payload.get(2..).and_then(read_u32),
    })
}
