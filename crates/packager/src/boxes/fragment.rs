//! Media chunks: `[styp] moof(mfhd, traf(tfhd, tfdt, trun)) mdat`
//! (MP4-SEG-01…08). One call writes one CMAF chunk of one track; a CMAF
//! fragment is one or more chunks, a segment one fragment.

use bytes::Bytes;

use super::brands::{STYP_COMPATIBLE, STYP_MAJOR, STYP_MINOR};
use super::writer::{BoxError, BoxWriter};

/// Flags of a sync (random-access) sample: sample_depends_on = 2 (does not
/// depend on others), sample_is_non_sync_sample = 0 (MP4-SEG-06).
pub const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;

/// Flags of a video sample that is not a sync sample: sample_depends_on = 1,
/// sample_is_non_sync_sample = 1 (MP4-SEG-06).
pub const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;

/// `tfhd` flag bits (ISO/IEC 14496-12 §8.8.7.1).
pub mod tfhd_flags {
    pub const DEFAULT_SAMPLE_DURATION: u32 = 0x00_0008;
    pub const DEFAULT_SAMPLE_SIZE: u32 = 0x00_0010;
    pub const DEFAULT_SAMPLE_FLAGS: u32 = 0x00_0020;
    pub const DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
}

/// `trun` flag bits (ISO/IEC 14496-12 §8.8.8.1).
pub mod trun_flags {
    pub const DATA_OFFSET: u32 = 0x00_0001;
    pub const FIRST_SAMPLE_FLAGS: u32 = 0x00_0004;
    pub const SAMPLE_DURATION: u32 = 0x00_0100;
    pub const SAMPLE_SIZE: u32 = 0x00_0200;
    pub const SAMPLE_FLAGS: u32 = 0x00_0400;
    pub const SAMPLE_COMPOSITION_TIME_OFFSET: u32 = 0x00_0800;
}

/// One sample of a chunk, in decode order. Times are in the track's media
/// timescale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleInfo {
    /// DTS of the next sample minus this one's (MP4-SEG-04).
    pub duration: u32,
    /// Payload length in bytes; must equal the payload's length.
    pub size: u32,
    /// A random-access point (IDR for AVC). Ignored for audio, whose samples
    /// are all sync samples.
    pub is_sync: bool,
    /// PTS − DTS; may be negative (written with `trun` version 1).
    pub composition_offset: i32,
}

/// Everything one chunk needs.
#[derive(Clone, Copy, Debug)]
pub struct FragmentSpec<'a> {
    /// `mfhd` sequence_number (MP4-SEG-05).
    pub sequence_number: u32,
    /// The track's ID in its init segment.
    pub track_id: u32,
    /// `tfdt` baseMediaDecodeTime: the DTS of the first sample (MP4-SEG-03).
    pub base_media_decode_time: u64,
    pub samples: &'a [SampleInfo],
    /// `data[i]` is sample `i`'s payload (length-prefixed NAL units for AVC,
    /// a raw AAC frame for AAC). Same length as `samples`.
    pub data: &'a [Bytes],
    pub header: ChunkHeader,
    pub sync: SyncSamples,
}

/// What comes before the chunk's `moof`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkHeader {
    /// A `styp` (brands in [`super::brands`]): the first chunk of a media
    /// segment.
    SegmentType,
    /// Nothing: a later chunk of the segment.
    None,
}

/// Which samples are sync samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncSamples {
    /// As [`SampleInfo::is_sync`] says (video).
    Flagged,
    /// Every one (audio).
    All,
}

impl FragmentSpec<'_> {
    fn flags_of(&self, sample: &SampleInfo) -> u32 {
        if self.sync == SyncSamples::All || sample.is_sync {
            SYNC_SAMPLE_FLAGS
        } else {
            NON_SYNC_SAMPLE_FLAGS
        }
    }
}

/// Writes one chunk: `[styp] moof mdat`.
///
/// `tfhd` uses default-base-is-moof with no base_data_offset; durations,
/// sizes and flags that are the same for every sample go into `tfhd` as
/// defaults and the rest into `trun`, with `first_sample_flags` when only the
/// first sample's flags differ (a keyframe followed by non-sync samples).
/// `tfdt` and `trun` are version 1. `trun.data_offset` is patched after
/// `moof` is written to point at the first payload byte in `mdat`.
///
/// Errors: no samples, `samples`/`data` of different lengths, a size that
/// differs from its payload, track_id 0, or a chunk too large for 32-bit
/// box sizes.
pub fn write_fragment(spec: &FragmentSpec) -> Result<Bytes, BoxError> {
    let payload_len = validate(spec)?;
    let layout = RunLayout::of(spec);
    // moof: 8 + mfhd 16 + traf 8 + tfhd ≤ 28 + tfdt 20 + trun ≤ 24 + 16/sample.
    let header_estimate = spec.samples.len().saturating_mul(16).saturating_add(256);
    let mut w = BoxWriter::with_capacity(header_estimate.saturating_add(payload_len));
    if spec.header == ChunkHeader::SegmentType {
        write_styp(&mut w)?;
    }
    let moof_start = w.position();
    let mut data_offset_at = None;
    w.write_box(b"moof", |w| {
        write_mfhd(w, spec.sequence_number)?;
        w.write_box(b"traf", |w| {
            write_tfhd(w, spec.track_id, &layout)?;
            write_tfdt(w, spec.base_media_decode_time)?;
            data_offset_at = Some(write_trun(w, spec, &layout)?);
            Ok(())
        })
    })?;
    // The first payload byte sits right after the 8-byte mdat header.
    let moof_size = w.position().saturating_sub(moof_start);
    let data_offset = moof_size.saturating_add(8);
    let data_offset = i32::try_from(data_offset).map_err(|_| BoxError::ValueOutOfRange {
        what: "trun data_offset",
        value: data_offset as u64,
    })?;
    let at = data_offset_at.ok_or(BoxError::PatchOutOfRange {
        at: 0,
        len: w.position(),
    })?;
    w.patch_u32(at, data_offset as u32)?;
    w.write_box(b"mdat", |w| {
        for payload in spec.data {
            w.bytes(payload);
        }
        Ok(())
    })?;
    Ok(w.finish())
}

/// Checks the spec and returns the total payload length.
fn validate(spec: &FragmentSpec) -> Result<usize, BoxError> {
    if spec.track_id == 0 {
        return Err(BoxError::InvalidTrackId);
    }
    if spec.samples.is_empty() {
        return Err(BoxError::EmptyFragment);
    }
    if spec.samples.len() != spec.data.len() {
        return Err(BoxError::SampleCountMismatch {
            samples: spec.samples.len(),
            payloads: spec.data.len(),
        });
    }
    if u32::try_from(spec.samples.len()).is_err() {
        return Err(BoxError::ValueOutOfRange {
            what: "trun sample_count",
            value: spec.samples.len() as u64,
        });
    }
    let mut total: usize = 0;
    for (index, (sample, payload)) in spec.samples.iter().zip(spec.data).enumerate() {
        if usize::try_from(sample.size).ok() != Some(payload.len()) {
            return Err(BoxError::SampleSizeMismatch {
                index,
                declared: sample.size,
                actual: payload.len(),
            });
        }
        total = total.saturating_add(payload.len());
    }
    // Fail before copying anything if the mdat cannot be written.
    let mdat_size = total.saturating_add(8);
    if u32::try_from(mdat_size).is_err() {
        return Err(BoxError::BoxTooLarge {
            fourcc: *b"mdat",
            size: mdat_size,
        });
    }
    Ok(total)
}

/// Where each per-sample value goes: a `tfhd` default when every sample
/// agrees, otherwise a `trun` column (gst `analyze_buffers` style, but
/// written from scratch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RunLayout {
    default_duration: Option<u32>,
    default_size: Option<u32>,
    default_flags: Option<u32>,
    /// Only the first sample's flags differ from `default_flags`.
    first_sample_flags: Option<u32>,
    per_sample_flags: bool,
    per_sample_composition_offset: bool,
}

/// `Some(v)` if `f` gives the same `v` for every item.
fn uniform<T, I>(mut items: I) -> Option<T>
where
    T: PartialEq,
    I: Iterator<Item = T>,
{
    let first = items.next()?;
    items.all(|v| v == first).then_some(first)
}

impl RunLayout {
    fn of(spec: &FragmentSpec) -> Self {
        let samples = spec.samples;
        let default_duration = uniform(samples.iter().map(|s| s.duration));
        let default_size = uniform(samples.iter().map(|s| s.size));
        let flags = || samples.iter().map(|s| spec.flags_of(s));
        let (default_flags, first_sample_flags, per_sample_flags) =
            match (uniform(flags()), uniform(flags().skip(1))) {
                (Some(all), _) => (Some(all), None, false),
                (None, Some(rest)) => (Some(rest), flags().next(), false),
                (None, None) => (None, None, true),
            };
        Self {
            default_duration,
            default_size,
            default_flags,
            first_sample_flags,
            per_sample_flags,
            per_sample_composition_offset: samples.iter().any(|s| s.composition_offset != 0),
        }
    }

    fn tfhd_flags(&self) -> u32 {
        let mut flags = tfhd_flags::DEFAULT_BASE_IS_MOOF;
        if self.default_duration.is_some() {
            flags |= tfhd_flags::DEFAULT_SAMPLE_DURATION;
        }
        if self.default_size.is_some() {
            flags |= tfhd_flags::DEFAULT_SAMPLE_SIZE;
        }
        if self.default_flags.is_some() {
            flags |= tfhd_flags::DEFAULT_SAMPLE_FLAGS;
        }
        flags
    }

    fn trun_flags(&self) -> u32 {
        let mut flags = trun_flags::DATA_OFFSET;
        if self.first_sample_flags.is_some() {
            flags |= trun_flags::FIRST_SAMPLE_FLAGS;
        }
        if self.default_duration.is_none() {
            flags |= trun_flags::SAMPLE_DURATION;
        }
        if self.default_size.is_none() {
            flags |= trun_flags::SAMPLE_SIZE;
        }
        if self.per_sample_flags {
            flags |= trun_flags::SAMPLE_FLAGS;
        }
        if self.per_sample_composition_offset {
            flags |= trun_flags::SAMPLE_COMPOSITION_TIME_OFFSET;
        }
        flags
    }
}

/// `styp` with Weir's segment brands (see [`super::brands`]).
pub fn write_styp(w: &mut BoxWriter) -> Result<(), BoxError> {
    w.write_box(b"styp", |w| {
        w.bytes(&STYP_MAJOR);
        w.u32(STYP_MINOR);
        for brand in &STYP_COMPATIBLE {
            w.bytes(brand);
        }
        Ok(())
    })
}

/// `mfhd`: the sequence number.
pub fn write_mfhd(w: &mut BoxWriter, sequence_number: u32) -> Result<(), BoxError> {
    w.write_full_box(b"mfhd", 0, 0, |w| {
        w.u32(sequence_number);
        Ok(())
    })
}

/// `tfdt` version 1: a 64-bit baseMediaDecodeTime, which does not wrap
/// after 13.25 h at 90 kHz as v0 does (MP4-SEG-03, pitfall 29).
pub fn write_tfdt(w: &mut BoxWriter, base_media_decode_time: u64) -> Result<(), BoxError> {
    w.write_full_box(b"tfdt", 1, 0, |w| {
        w.u64(base_media_decode_time);
        Ok(())
    })
}

fn write_tfhd(w: &mut BoxWriter, track_id: u32, layout: &RunLayout) -> Result<(), BoxError> {
    w.write_full_box(b"tfhd", 0, layout.tfhd_flags(), |w| {
        w.u32(track_id);
        // No base_data_offset or sample_description_index (trex has 1).
        for v in [
            layout.default_duration,
            layout.default_size,
            layout.default_flags,
        ]
        .into_iter()
        .flatten()
        {
            w.u32(v);
        }
        Ok(())
    })
}

/// Writes `trun` version 1 with a zero data_offset and returns where that
/// field is, for patching once the `moof` size is known.
fn write_trun(
    w: &mut BoxWriter,
    spec: &FragmentSpec,
    layout: &RunLayout,
) -> Result<usize, BoxError> {
    let mut data_offset_at = 0;
    w.write_full_box(b"trun", 1, layout.trun_flags(), |w| {
        // validate() checked that the count fits.
        w.u32(u32::try_from(spec.samples.len()).unwrap_or(u32::MAX));
        data_offset_at = w.position();
        w.i32(0); // data_offset, patched by write_fragment
        if let Some(flags) = layout.first_sample_flags {
            w.u32(flags);
        }
        for sample in spec.samples {
            if layout.default_duration.is_none() {
                w.u32(sample.duration);
            }
            if layout.default_size.is_none() {
                w.u32(sample.size);
            }
            if layout.per_sample_flags {
                w.u32(spec.flags_of(sample));
            }
            if layout.per_sample_composition_offset {
                w.i32(sample.composition_offset);
            }
        }
        Ok(())
    })?;
    Ok(data_offset_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(duration: u32, size: u32, is_sync: bool, cto: i32) -> SampleInfo {
        SampleInfo {
            duration,
            size,
            is_sync,
            composition_offset: cto,
        }
    }

    fn spec<'a>(samples: &'a [SampleInfo], data: &'a [Bytes], video: bool) -> FragmentSpec<'a> {
        FragmentSpec {
            sequence_number: 1,
            track_id: 1,
            base_media_decode_time: 0,
            samples,
            data,
            header: ChunkHeader::None,
            sync: if video {
                SyncSamples::Flagged
            } else {
                SyncSamples::All
            },
        }
    }

    #[test]
    fn keyframe_then_inter_frames_use_first_sample_flags() {
        let samples = [
            sample(3000, 10, true, 6000),
            sample(3000, 11, false, 0),
            sample(3000, 12, false, 3000),
        ];
        let data: Vec<Bytes> = vec![];
        let layout = RunLayout::of(&spec(&samples, &data, true));
        assert_eq!(
            layout,
            RunLayout {
                default_duration: Some(3000),
                default_size: None,
                default_flags: Some(NON_SYNC_SAMPLE_FLAGS),
                first_sample_flags: Some(SYNC_SAMPLE_FLAGS),
                per_sample_flags: false,
                per_sample_composition_offset: true,
            }
        );
        assert_eq!(layout.tfhd_flags(), 0x02_0028);
        assert_eq!(layout.trun_flags(), 0x00_0a05);
    }

    #[test]
    fn a_second_keyframe_needs_per_sample_flags() {
        let samples = [
            sample(3000, 10, true, 0),
            sample(3000, 10, false, 0),
            sample(3000, 10, true, 0),
        ];
        let layout = RunLayout::of(&spec(&samples, &[], true));
        assert!(layout.per_sample_flags);
        assert_eq!(layout.default_flags, None);
        assert_eq!(layout.first_sample_flags, None);
        assert_eq!(layout.default_size, Some(10));
        assert_eq!(layout.trun_flags(), 0x00_0401);
    }

    #[test]
    fn audio_is_all_sync_whatever_is_sync_says() {
        let samples = [sample(1024, 300, false, 0), sample(1024, 310, false, 0)];
        let layout = RunLayout::of(&spec(&samples, &[], false));
        assert_eq!(layout.default_flags, Some(SYNC_SAMPLE_FLAGS));
        assert_eq!(layout.default_duration, Some(1024));
        assert!(!layout.per_sample_composition_offset);
        assert_eq!(layout.trun_flags(), 0x00_0201);
    }

    #[test]
    fn non_sync_video_chunk_has_uniform_non_sync_flags() {
        // A later LL chunk of a fragment: no keyframe at all.
        let samples = [sample(3000, 10, false, 0), sample(3003, 10, false, 0)];
        let layout = RunLayout::of(&spec(&samples, &[], true));
        assert_eq!(layout.default_flags, Some(NON_SYNC_SAMPLE_FLAGS));
        assert_eq!(layout.first_sample_flags, None);
        assert_eq!(layout.default_duration, None);
    }

    #[test]
    fn errors() {
        let one = [sample(1, 3, true, 0)];
        let three_bytes = [Bytes::from_static(b"abc")];
        let two_bytes = [Bytes::from_static(b"ab")];
        assert_eq!(
            write_fragment(&spec(&[], &[], true)),
            Err(BoxError::EmptyFragment)
        );
        assert_eq!(
            write_fragment(&spec(&one, &[], true)),
            Err(BoxError::SampleCountMismatch {
                samples: 1,
                payloads: 0
            })
        );
        assert_eq!(
            write_fragment(&spec(&one, &two_bytes, true)),
            Err(BoxError::SampleSizeMismatch {
                index: 0,
                declared: 3,
                actual: 2
            })
        );
        let mut no_track = spec(&one, &three_bytes, true);
        no_track.track_id = 0;
        assert_eq!(write_fragment(&no_track), Err(BoxError::InvalidTrackId));
        assert!(write_fragment(&spec(&one, &three_bytes, true)).is_ok());
    }
}
