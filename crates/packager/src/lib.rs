//! CMAF packaging for Weir: decoder configurations and frames in, init
//! segments, media segments and playlists out. No I/O, no clocks: time is
//! always an argument.

pub mod boxes;
pub mod dash;
pub mod hls;
pub mod playlists;
pub mod segmenter;
pub mod stream;
