//! One track of a stream: its decoder configuration, its segmenter, the
//! segment it is building and the segments of its live window. The stream
//! ([`crate::stream`]) decides where tracks cut; a track turns what its
//! segmenter makes into fragments, parts and segments.

use std::collections::VecDeque;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use weir_flv::{AudioConfig, TrackKind};

use crate::boxes::{self, ChunkHeader, FragmentSpec, SampleInfo, SyncSamples};
use crate::cuts::Cut;
use crate::names::{FileName, InstanceId, TrackId};
use crate::segmenter::{CmafChunk, TrackSegmenter};
use crate::view::{
    segment_bitrate, snap_frame_rate, AudioParams, OpenSegment, PackagerError, PartInfo,
    SegmentInfo, TrackView, VideoParams,
};

/// What a decoder configuration says about the media, by kind.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum MediaParams {
    Video(VideoParams),
    Audio(AudioParams),
}

/// A track's current decoder configuration and the init segment made from it.
pub(crate) struct TrackConfig {
    pub timescale: u32,
    /// Ticks of one frame, used to close the last sample at a flush.
    pub default_duration: u32,
    pub codec: String,
    /// The configuration record as sent: equal records are the same
    /// configuration (FLV-SEQ-01).
    pub record: Bytes,
    pub version: u32,
    pub init: FileName,
    pub params: MediaParams,
}

/// The segment being built: present only between its first chunk and its end.
struct Building {
    bytes: BytesMut,
    parts: Vec<PartInfo>,
    base: u64,
    period: u64,
    discontinuity: bool,
    pdt: SystemTime,
}

/// The live window and the numbering of the track's segments: the one
/// segment counter.
pub(crate) struct Window {
    segments: VecDeque<SegmentInfo>,
    /// Number of the next segment (the one being built).
    next_number: u64,
    /// Discontinuities that slid out of the window (HLS-PL-04).
    discontinuity_sequence: u64,
    /// No segment was made yet: the numbering may still follow the
    /// reference's.
    fresh: bool,
}

impl Window {
    pub fn new(next_number: u64, discontinuity_sequence: u64) -> Self {
        Window {
            segments: VecDeque::new(),
            next_number,
            discontinuity_sequence,
            fresh: true,
        }
    }

    /// Until the track made its first segment, its numbering follows the
    /// reference's.
    fn follow_numbering(&mut self, reference_number: u64) {
        if self.fresh {
            self.next_number = reference_number;
        }
    }

    pub fn next_number(&self) -> u64 {
        self.next_number
    }

    /// EXT-X-DISCONTINUITY-SEQUENCE after the window's own discontinuities.
    pub fn discontinuities_so_far(&self) -> u64 {
        self.discontinuity_sequence
            + self.segments.iter().filter(|s| s.discontinuity).count() as u64
    }

    pub fn segments(&self) -> &VecDeque<SegmentInfo> {
        &self.segments
    }
}

/// Bit rates over the track's life (BANDWIDTH describes the variant over
/// its life, not per init).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rates {
    peak: u64,
    bytes: u64,
    ticks: u64,
}

/// A frame-rate estimate from DTS steps (pitfall 41).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FrameRate {
    step_sum_ms: i64,
    steps: u64,
    last_dts_ms: Option<i64>,
}

impl FrameRate {
    pub fn observe(&mut self, dts_ms: i64, discontinuity: bool) {
        if let Some(prev) = self.last_dts_ms {
            let step = dts_ms - prev;
            if !discontinuity && (1..=1000).contains(&step) {
                self.step_sum_ms += step;
                self.steps += 1;
            }
        }
        self.last_dts_ms = Some(dts_ms);
    }

    fn estimate(&self) -> Option<f64> {
        (self.steps >= 10 && self.step_sum_ms > 0)
            .then(|| snap_frame_rate(self.steps as f64 * 1000.0 / self.step_sum_ms as f64))
    }
}

/// A segment the track finished.
pub(crate) struct Finished {
    pub info: SegmentInfo,
    pub bytes: Bytes,
}

pub(crate) struct Track {
    pub id: TrackId,
    instance: InstanceId,
    pub config: TrackConfig,
    pub seg: TrackSegmenter,
    building: Option<Building>,
    pub window: Window,
    /// The next segment follows a discontinuity (reconnect, another
    /// track's new configuration).
    pub pending_discontinuity: bool,
    rates: Rates,
    /// `mfhd` sequence number of the next fragment (MP4-SEG-05).
    fragment_sequence: u32,
    /// Video: the last key frame, repeated to fill a publisher's absence;
    /// audio: a silent frame, for the same ([`crate::filler`]).
    pub filler: Option<Bytes>,
    pub frame_rate: FrameRate,
    /// Audio whose frames differ in length (Opus, FLAC, E-AC-3, …): the
    /// configuration that reads each frame's sample count.
    pub frame_samples: Option<AudioConfig>,
    /// See [`TrackView::first_period`].
    pub first_period: u64,
}

/// What a new track continues from: the track it replaces (a changed
/// configuration) keeps its numbering, window and rates.
pub(crate) struct Carried {
    pub window: Window,
    pub rates: Rates,
    pub fragment_sequence: u32,
    pub first_period: u64,
}

impl Carried {
    pub fn fresh(next_number: u64, discontinuity_sequence: u64, first_period: u64) -> Self {
        Carried {
            window: Window::new(next_number, discontinuity_sequence),
            rates: Rates::default(),
            fragment_sequence: 1,
            first_period,
        }
    }
}

impl Track {
    pub fn new(
        id: TrackId,
        instance: InstanceId,
        config: TrackConfig,
        seg: TrackSegmenter,
        carried: Carried,
    ) -> Self {
        Track {
            id,
            instance,
            pending_discontinuity: config.version > 1,
            config,
            seg,
            building: None,
            window: carried.window,
            rates: carried.rates,
            fragment_sequence: carried.fragment_sequence,
            filler: None,
            frame_rate: FrameRate::default(),
            frame_samples: None,
            first_period: carried.first_period,
        }
    }

    /// Hands the numbering, window and rates on to the track's next
    /// configuration.
    pub fn carry(&mut self) -> Carried {
        Carried {
            window: Window {
                segments: std::mem::take(&mut self.window.segments),
                next_number: self.window.next_number,
                discontinuity_sequence: self.window.discontinuity_sequence,
                fresh: self.window.fresh,
            },
            rates: self.rates,
            fragment_sequence: self.fragment_sequence,
            first_period: self.first_period,
        }
    }

    /// The number the segment starting at the next cut will have: the
    /// next one, or the one after when a segment is open (the cut ends it).
    pub fn next_segment_number(&self) -> u64 {
        self.window.next_number + u64::from(self.seg.is_open())
    }

    /// This track cuts, following a reference cut: its segments are in the
    /// reference's Period and, for a track that has made none yet, carry
    /// the reference's numbers (renditions' sequence numbers match: LL-HLS
    /// rendition reports, player switches).
    pub fn starts_segment(&mut self, cut: Cut) {
        // Only the first segment: later cuts end a segment that already
        // has its number.
        if let Some(number) = cut.number.filter(|_| !self.seg.is_open()) {
            self.window.follow_numbering(number);
        }
        self.seg.set_period(cut.period);
    }

    /// The box track_ID: one per kind, so that the renditions of a kind are
    /// interchangeable in one decoder (MSE switches them in one buffer).
    fn box_track_id(&self) -> u32 {
        match self.id.kind {
            TrackKind::Video => 1,
            TrackKind::Audio => 2,
        }
    }

    /// Writes one chunk as a fragment, appends it to the segment being
    /// built and returns it as a part. The first chunk of a segment opens
    /// it, stamped with `pdt`.
    pub fn write_chunk(
        &mut self,
        chunk: &CmafChunk,
        pdt: SystemTime,
    ) -> Result<(PartInfo, Bytes), PackagerError> {
        let samples: Vec<SampleInfo> = chunk
            .samples
            .iter()
            .map(|s| SampleInfo {
                duration: s.duration,
                size: u32::try_from(s.data.len()).unwrap_or(u32::MAX),
                is_sync: s.is_sync,
                composition_offset: s.composition_offset,
            })
            .collect();
        let data: Vec<Bytes> = chunk.samples.iter().map(|s| s.data.clone()).collect();
        let bytes = boxes::write_fragment(&FragmentSpec {
            sequence_number: self.fragment_sequence,
            track_id: self.box_track_id(),
            base_media_decode_time: chunk.base_decode_time,
            samples: &samples,
            data: &data,
            header: if chunk.index == 0 {
                ChunkHeader::SegmentType
            } else {
                ChunkHeader::None
            },
            sync: match self.id.kind {
                TrackKind::Video => SyncSamples::Flagged,
                TrackKind::Audio => SyncSamples::All,
            },
        })?;
        self.fragment_sequence = self.fragment_sequence.wrapping_add(1).max(1);
        let segment = self.window.next_number;
        let info = PartInfo {
            segment,
            index: chunk.index,
            name: FileName::Part {
                track: self.id,
                instance: self.instance,
                segment,
                index: chunk.index,
            },
            duration: chunk.duration(),
            timescale: self.config.timescale,
            independent: chunk.independent,
        };
        if chunk.index == 0 || self.building.is_none() {
            self.building = Some(Building {
                bytes: BytesMut::new(),
                parts: Vec::new(),
                base: chunk.base_decode_time,
                period: chunk.period,
                discontinuity: chunk.discontinuity,
                pdt,
            });
        }
        if let Some(b) = self.building.as_mut() {
            b.bytes.extend_from_slice(&bytes);
            b.parts.push(info.clone());
        }
        Ok((info, bytes))
    }

    /// Closes the segment being built (the segmenter's `SegmentEnd`) into
    /// the window; `None` when nothing was built.
    pub fn finish_segment(
        &mut self,
        base_decode_time: u64,
        duration: u64,
        discontinuity: bool,
        period: u64,
        pdt: SystemTime,
    ) -> Option<Finished> {
        let building = self.building.take()?;
        let bytes = building.bytes.freeze();
        if bytes.is_empty() {
            return None;
        }
        let number = self.window.next_number;
        self.window.next_number += 1;
        self.window.fresh = false;
        let info = SegmentInfo {
            number,
            name: FileName::Segment {
                track: self.id,
                instance: self.instance,
                number,
            },
            init: self.config.init,
            base_decode_time,
            duration,
            timescale: self.config.timescale,
            discontinuity,
            program_date_time: pdt,
            size: bytes.len(),
            period,
            parts: building.parts,
        };
        if duration > 0 {
            let bps = segment_bitrate(bytes.len(), duration, self.config.timescale);
            self.rates.peak = self.rates.peak.max(bps);
            self.rates.bytes += bytes.len() as u64;
            self.rates.ticks += duration;
        }
        self.window.segments.push_back(info.clone());
        Some(Finished { info, bytes })
    }

    /// The oldest segment, when the window holds more than `window`: it
    /// slides out.
    pub fn evict(&mut self, window: usize) -> Option<SegmentInfo> {
        if self.window.segments.len() <= window {
            return None;
        }
        let old = self.window.segments.pop_front()?;
        // A DISCONTINUITY tag that slides out is counted (HLS-PL-04).
        if old.discontinuity {
            self.window.discontinuity_sequence += 1;
        }
        Some(old)
    }

    /// The live state playlist writers see. `aligned`: whether the track's
    /// cuts coincide with the reference's ([`crate::stream`] measures it).
    pub fn view(&self, aligned: bool) -> TrackView {
        let t = &self.config;
        TrackView {
            id: self.id,
            codec: t.codec.clone(),
            instance: self.instance,
            init: t.init,
            segments: self.window.segments.iter().cloned().collect(),
            open: self.building.as_ref().map(|b| OpenSegment {
                number: self.window.next_number,
                base_decode_time: b.base,
                timescale: t.timescale,
                period: b.period,
                init: t.init,
                discontinuity: b.discontinuity,
                program_date_time: b.pdt,
                parts: b.parts.clone(),
            }),
            media_sequence: self
                .window
                .segments
                .front()
                .map_or(self.window.next_number, |s| s.number),
            discontinuity_sequence: self.window.discontinuity_sequence,
            peak_bitrate: self.rates.peak,
            average_bitrate: if self.rates.ticks > 0 {
                segment_bitrate(self.rates.bytes as usize, self.rates.ticks, t.timescale)
            } else {
                0
            },
            video: match &t.params {
                MediaParams::Video(v) => {
                    let mut v = v.clone();
                    if let Some(fps) = self.frame_rate.estimate() {
                        v.frame_rate = Some(fps);
                    }
                    Some(v)
                }
                MediaParams::Audio(_) => None,
            },
            audio: match &t.params {
                MediaParams::Audio(a) => Some(a.clone()),
                MediaParams::Video(_) => None,
            },
            first_period: self.first_period,
            aligned,
        }
    }
}
