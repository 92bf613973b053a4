//! What the packager publishes about each track: its segments and parts,
//! the segment in progress, and the live state playlist writers read.
//! A leaf: the stream and its tracks make these, the manifests read them.

use std::time::SystemTime;

use weir_flv::ColourInfo;

use crate::boxes::BoxError;
use crate::names::{FileName, InstanceId, TrackId};

/// A finished media segment of one track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Media sequence number, per track, never reset (HLS-LIVE-08).
    pub number: u64,
    /// Its file, e.g. `video/mx2k118b/seg-12.m4s`.
    pub name: FileName,
    /// The init segment it needs.
    pub init: FileName,
    pub base_decode_time: u64,
    /// Duration in track ticks.
    pub duration: u64,
    pub timescale: u32,
    /// First segment after a reconnect, a timeline jump or a new configuration.
    pub discontinuity: bool,
    pub program_date_time: SystemTime,
    pub size: usize,
    /// DASH Period: starts again after a discontinuity or a drift re-anchor,
    /// at the same cut on every track.
    pub period: u64,
    /// The segment's parts (its CMAF chunks), in order (LL-HLS).
    pub parts: Vec<PartInfo>,
}

/// One CMAF chunk of a segment, published on its own as an LL-HLS part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartInfo {
    /// Media sequence number of the segment it belongs to.
    pub segment: u64,
    /// Index within the segment, from 0.
    pub index: u32,
    /// Its file, e.g. `video/mx2k118b/part-12.3.m4s`.
    pub name: FileName,
    /// Ticks.
    pub duration: u64,
    pub timescale: u32,
    /// Starts with a key frame (INDEPENDENT=YES).
    pub independent: bool,
}

/// The segment being built: the parts made so far (LL-HLS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenSegment {
    pub number: u64,
    /// Decode time of its first sample, in `timescale` ticks.
    pub base_decode_time: u64,
    pub timescale: u32,
    /// DASH Period it belongs to.
    pub period: u64,
    pub init: FileName,
    pub discontinuity: bool,
    pub program_date_time: SystemTime,
    pub parts: Vec<PartInfo>,
}

impl SegmentInfo {
    pub fn duration_secs(&self) -> f64 {
        self.duration as f64 / f64::from(self.timescale.max(1))
    }
}

/// Per-track live state exposed to playlist writers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackView {
    pub id: TrackId,
    pub codec: String,
    /// The stream instance whose files these are.
    pub instance: InstanceId,
    /// The current init segment.
    pub init: FileName,
    pub segments: Vec<SegmentInfo>,
    /// Number of the first listed segment (EXT-X-MEDIA-SEQUENCE).
    pub media_sequence: u64,
    /// Discontinuities that slid out of the window (EXT-X-DISCONTINUITY-SEQUENCE).
    pub discontinuity_sequence: u64,
    /// The segment in progress, once it has a part.
    pub open: Option<OpenSegment>,
    /// Peak and average bits per second over the segments made so far.
    pub peak_bitrate: u64,
    pub average_bitrate: u64,
    pub video: Option<VideoParams>,
    pub audio: Option<AudioParams>,
    /// The first DASH Period it is listed in: a track that starts after the
    /// first cut joins at the next Period, so that no Period's sets change
    /// once listed (DASH-MPD-02). HLS lists it from its first segment.
    pub first_period: u64,
    /// Its segments start and end where the reference track's do: true
    /// for the reference and for audio (which follows the reference's cuts
    /// by construction), measured for every other video track.
    pub aligned: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VideoParams {
    pub width: u32,
    pub height: u32,
    pub frame_rate: Option<f64>,
    /// Sample aspect ratio from the SPS, when it says.
    pub sar: Option<(u16, u16)>,
    /// The colour description, when the bitstream has one.
    pub colour: Option<ColourInfo>,
}

impl VideoParams {
    /// The dynamic range the transfer characteristics say (H.273: 16 is
    /// SMPTE ST 2084 PQ, 18 is ARIB STD-B67 HLG; anything else is SDR).
    pub fn range(&self) -> VideoRange {
        match self.colour.map(|c| c.transfer_characteristics) {
            Some(16) => VideoRange::Pq,
            Some(18) => VideoRange::Hlg,
            _ => VideoRange::Sdr,
        }
    }
}

/// HLS `VIDEO-RANGE` (rfc8216bis §4.4.6.2), the DASH transfer property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoRange {
    Sdr,
    Pq,
    Hlg,
}

impl Eq for VideoParams {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioParams {
    pub sample_rate: u32,
    pub channels: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum PackagerError {
    #[error("writing boxes: {0}")]
    Box(#[from] BoxError),
}

/// Bits per second of `bytes` over `ticks`, as a player computes it from
/// the playlist: over the EXTINF as written (five decimals, rounded half up,
/// so up to 5 µs short) and rounded up, so BANDWIDTH is never below the peak
/// it describes (HLS-MV-01).
pub fn segment_bitrate(bytes: usize, ticks: u64, timescale: u32) -> u64 {
    // Duration in units of 10 µs, rounded down: at most the printed EXTINF.
    let units = (u128::from(ticks) * 100_000 / u128::from(timescale.max(1))).max(1);
    let bits = (bytes as u128) * 8 * 100_000;
    u64::try_from(bits.div_ceil(units)).unwrap_or(u64::MAX)
}

/// Millisecond timestamps only approximate a frame rate (33/34 ms steps at
/// 30 fps, 33/34/33 at 29.97): snap a mean-step estimate to the nearest common
/// rate within 0.2 %, else round to 3 decimals (pitfall 41).
pub fn snap_frame_rate(fps: f64) -> f64 {
    const COMMON: [f64; 10] = [
        24000.0 / 1001.0,
        24.0,
        25.0,
        30000.0 / 1001.0,
        30.0,
        48.0,
        50.0,
        60000.0 / 1001.0,
        60.0,
        120.0,
    ];
    let snapped = COMMON
        .iter()
        .copied()
        .filter(|r| (fps - r).abs() <= r * 0.002)
        .min_by(|a, b| (fps - a).abs().total_cmp(&(fps - b).abs()))
        .unwrap_or(fps);
    (snapped * 1000.0).round() / 1000.0
}
