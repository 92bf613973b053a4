//! CMAF packaging for Weir: decoder configurations and frames in, init
//! segments, media segments and playlists out. No I/O, no clocks: time is
//! always an argument.

// No unwrap/expect outside tests: everything here can be reached by bytes a
// peer controls, so failures are errors, never panics (clippy enforces it).
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod boxes;
pub mod clock;
pub mod cuts;
pub mod dash;
pub mod filler;
pub mod hls;
pub mod manifests;
pub mod names;
mod pdt;
pub mod playlists;
pub mod segmenter;
pub mod stream;
mod track;
pub mod view;
