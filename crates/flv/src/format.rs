//! The codec-independent picture format every video configuration reports
//! (a leaf module: the codec modules build it, `codec.rs` re-exports it).

use crate::sps::ColourInfo;

/// The codec-independent picture format of a configuration: what a
/// packager needs for the sample entry, the `colr` box and the manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoFormat {
    /// Display width in luma samples (after cropping / conformance window).
    pub width: u32,
    /// Display height in luma samples.
    pub height: u32,
    /// Sample aspect ratio, when signalled.
    pub sar: Option<(u16, u16)>,
    /// Frames per second as a fraction (not reduced), when signalled.
    pub frame_rate: Option<(u32, u32)>,
    /// Colour description (H.273 code points and range), when signalled.
    pub colour: Option<ColourInfo>,
    /// Luma bit depth.
    pub bit_depth: u8,
}
