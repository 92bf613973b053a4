//! FLV / Enhanced-RTMP tag bodies → decoder configurations and frames.
//!
//! `weir-flv` parses the payloads of RTMP audio (type 8) and video (type 9)
//! messages — FLV tag bodies without the FLV file or tag header — into
//! typed values: legacy FLV AVC and AAC, and Enhanced RTMP v1/v2 (FourCC
//! codecs, ModEx, multitrack). Sequence headers become decoder
//! configurations ([`AvcConfig`] from `avcC` with its first SPS parsed,
//! [`AacConfig`] from the AudioSpecificConfig) that carry their RFC 6381
//! `CODECS` strings; coded frames come back as zero-copy [`bytes::Bytes`]
//! slices of the input with their composition offset. The crate is sans-IO
//! and stateless: no sockets, clocks or async, and every malformed input is
//! an [`FlvError`], never a panic.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod aac;
mod ac3;
mod audio;
mod avc;
mod bits;
mod codec;
mod demux;
mod error;
mod ex;
mod flac;
mod mp3;
mod multichannel;
mod opus;
mod reader;
mod sps;
mod video;

#[cfg(test)]
mod audio_vectors;
#[cfg(test)]
mod test_vectors;

pub mod timeline;

// Video codecs beyond H.264 (issue 14).
mod av1;
mod format;
mod hevc;
#[cfg(test)]
mod video_vectors;
mod vp9;
pub use av1::{
    av1_is_key_frame, obus, parse_av1c, parse_sequence_header, Av1Config, Av1SequenceHeader, Obu,
};
pub use codec::video_codec_name;
pub use demux::DemuxEvents;
pub use format::VideoFormat;
pub use hevc::{hevc_codec_string, parse_hevc_sps, parse_hvcc, HevcConfig, HevcSpsInfo};
pub use vp9::{parse_vpcc, vp9_frame_size, Vp9Config};

pub use aac::{aac_codec_string, parse_asc, AacConfig};
pub use ac3::{
    ac3_frame_samples, eac3_frame_samples, parse_ac3_header, parse_eac3_header, Ac3Config,
    Eac3Config, AC3_FRAME_SAMPLES,
};
pub use audio::{parse_audio, AudioPacket, AudioTag};
pub use avc::{avc_codec_string, parse_avcc, AvcConfig};
pub use codec::{fourcc_to_string, AudioConfig, VideoConfig};
pub use demux::{DemuxEvent, Demuxer, Frame};
pub use error::FlvError;
pub use flac::{flac_frame_samples, parse_flac_config, FlacConfig};
pub use mp3::{mp3_frame_samples, parse_mp3_header, Mp3Config, MpegAudioVersion};
pub use multichannel::{parse_multichannel_config, ChannelOrder, MultichannelConfig};
pub use opus::{opus_packet_samples, parse_opus_head, OpusConfig, OPUS_SAMPLE_RATE};
pub use sps::{parse_sps, ColourInfo, SpsInfo};
pub use video::{parse_video, FrameType, VideoPacket, VideoTag};

/// Which kind of media a track carries (video orders first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrackKind {
    Video,
    Audio,
}
