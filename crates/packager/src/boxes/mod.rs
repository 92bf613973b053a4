//! ISO-BMFF / CMAF box writers (checklist §3).
//!
//! - [`writer`]: the one primitive, [`BoxWriter::write_box`], which reserves
//!   a 32-bit size, runs the body and back-patches the size (an oversize box
//!   is an error, never a truncated size), plus [`BoxError`].
//! - [`init`]: one-track init segments (`ftyp` + `moov`) for AVC and AAC.
//! - [`fragment`]: one-track chunks (`[styp] moof mdat`), with `tfhd`/`trun`
//!   layout derived from the samples and `data_offset` patched after `moof`.
//! - [`brands`]: `ftyp`/`styp` brand policy.
//!
//! Everything here is pure: no I/O, no clocks, and every invalid input is a
//! [`BoxError`].
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

pub mod brands;
pub mod fragment;
pub mod init;
mod sample_entry;
pub mod writer;

pub use fragment::{
    write_fragment, ChunkHeader, FragmentSpec, SampleInfo, SyncSamples, NON_SYNC_SAMPLE_FLAGS,
    SYNC_SAMPLE_FLAGS,
};
pub use init::{
    audio_frame_ticks, audio_init, audio_timescale, sound_init, video_init, visual_init,
    MOVIE_TIMESCALE, VIDEO_TIMESCALE,
};
pub use sample_entry::{mp4a_sample_rate, AudioCodec, AudioEntry, VisualCodec, VisualEntry};
pub use writer::{BoxError, BoxWriter};
