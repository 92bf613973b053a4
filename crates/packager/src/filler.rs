//! Media that fills the time a publisher was away, so that a stream whose
//! publisher came back within the grace period keeps pace with the wall
//! clock: the picture the viewers last saw (the last key frame, repeated)
//! and silence, from where the old publisher's media ended to where the new
//! one's begins.
//!
//! Without it the gap exists on the wall clock but not in the media: HLS
//! players play straight from the old media into the new and end up that
//! much closer to the live edge (with that much less buffer), and DASH
//! players wait out the hole between the Periods. With it every player
//! plays through, at the latency it had.
//!
//! Only what Weir can make without an encoder is made: H.264 key frames it
//! already has, and AAC-LC silence (a raw data block with no spectral data,
//! which needs no encoder state). Streams with other audio get no filler.

use std::time::Duration;

use bytes::Bytes;
use weir_flv::{AacConfig, Frame, TrackKind};

use crate::names::TrackId;

/// What one track fills with, and where its media ended.
#[derive(Clone, Debug)]
pub(crate) struct FillSource {
    pub track: TrackId,
    /// The last key frame (video) or a silent frame (audio).
    pub frame: Bytes,
    /// Where the track's media ended, in its ticks.
    pub end_ticks: u64,
    pub timescale: u32,
    /// Ticks between two filler frames.
    pub step_ticks: u64,
}

/// The frames that fill every track from where its media ended up to
/// `fill_to_ms`, interleaved as a publisher would send them (video first at
/// a tie, so the other tracks follow the reference's cuts). Empty when
/// there is no gap, or when it is longer than `longest` (players have
/// stalled by then).
///
/// Video starts where the earliest track ended, so that audio, whose first
/// filler frame starts a segment, cuts with it (its segmenter keeps it
/// from going back); audio continues its own sample count.
pub(crate) fn filler_frames(
    sources: &[FillSource],
    fill_to_ms: i64,
    longest: Duration,
) -> Vec<(TrackId, Frame)> {
    let end_ms = |s: &FillSource| {
        i64::try_from(s.end_ticks * 1000 / u64::from(s.timescale.max(1))).unwrap_or(i64::MAX)
    };
    let (Some(start_ms), Some(first_ms)) = (
        sources.iter().map(end_ms).max(),
        sources.iter().map(end_ms).min(),
    ) else {
        return Vec::new();
    };
    let gap_ms = u64::try_from(fill_to_ms.saturating_sub(start_ms)).unwrap_or(0);
    if gap_ms == 0 || Duration::from_millis(gap_ms) > longest {
        return Vec::new();
    }
    let mut frames = Vec::new();
    for s in sources {
        let ts = u64::from(s.timescale.max(1));
        let mut ticks = match s.track.kind {
            TrackKind::Video => u64::try_from(first_ms).unwrap_or(0) * ts / 1000,
            TrackKind::Audio => s.end_ticks,
        };
        loop {
            let ms = i64::try_from(ticks * 1000 / ts).unwrap_or(i64::MAX);
            if ms >= fill_to_ms {
                break;
            }
            let frame = Frame {
                track: s.track.kind,
                dts_ms: ms,
                pts_ms: ms,
                keyframe: true,
                discontinuity: false,
                data: s.frame.clone(),
            };
            frames.push((s.track, frame));
            ticks += s.step_ticks.max(1);
        }
    }
    frames.sort_by_key(|(id, f)| (f.dts_ms, *id));
    frames
}

/// A silent AAC-LC raw data block (ISO/IEC 14496-3 §4.4.2.1) for a 1024-
/// sample frame of `config`, or `None` when `config` is not plain AAC-LC
/// mono or stereo (SBR and PS need their own extension payloads).
///
/// The block is one single channel element (mono) or one channel pair
/// element without a common window (stereo) whose `ics_info` says
/// `max_sfb = 0`: no scale factor bands, so no section, scale factor or
/// spectral data, and every coefficient is zero; then `ID_END`.
pub fn silent_aac_frame(config: &AacConfig) -> Option<Bytes> {
    let plain_lc = config.object_type == 2
        && config.core_object_type == 2
        && config.sample_rate == config.core_sample_rate
        && config.samples_per_frame == 1024;
    if !plain_lc {
        return None;
    }
    let mut w = BitWriter::default();
    match config.channels {
        1 => {
            w.put(0, 3); // ID_SCE
            w.put(0, 4); // element_instance_tag
            silent_ics(&mut w);
        }
        2 => {
            w.put(1, 3); // ID_CPE
            w.put(0, 4); // element_instance_tag
            w.put(0, 1); // common_window
            silent_ics(&mut w);
            silent_ics(&mut w);
        }
        _ => return None,
    }
    w.put(7, 3); // ID_END
    Some(Bytes::from(w.finish()))
}

/// `individual_channel_stream` of a channel with no spectral data.
fn silent_ics(w: &mut BitWriter) {
    w.put(0, 8); // global_gain: nothing is scaled by it
    w.put(0, 1); // ics_reserved_bit
    w.put(0, 2); // window_sequence: ONLY_LONG_SEQUENCE
    w.put(0, 1); // window_shape
    w.put(0, 6); // max_sfb = 0: no bands follow
    w.put(0, 1); // predictor_data_present
    w.put(0, 1); // pulse_data_present
    w.put(0, 1); // tns_data_present
    w.put(0, 1); // gain_control_data_present
}

/// MSB-first bit writer, zero-padded to a byte boundary.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, width: u32) {
        for i in (0..width).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if value >> i & 1 == 1 {
                if let Some(last) = self.bytes.last_mut() {
                    *last |= 0x80 >> (self.bits % 8);
                }
            }
            self.bits += 1;
        }
    }

    fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aac(object_type: u8, channels: u8, sample_rate: u32, core: u32, spf: u32) -> AacConfig {
        AacConfig {
            record: Bytes::new(),
            object_type,
            core_object_type: 2,
            sample_rate,
            core_sample_rate: core,
            channels,
            samples_per_frame: spf,
            channel_layout: None,
        }
    }

    fn source(track: TrackId, end_ticks: u64, timescale: u32, step_ticks: u64) -> FillSource {
        FillSource {
            track,
            frame: Bytes::from_static(b"x"),
            end_ticks,
            timescale,
            step_ticks,
        }
    }

    #[test]
    fn filler_starts_where_each_track_ended_and_interleaves_video_first() {
        // Video ended at 2.000 s, audio at 2.016 s; fill to 3 s.
        let sources = [
            source(TrackId::VIDEO, 180_000, 90_000, 45_000),
            source(TrackId::AUDIO, 96_768, 48_000, 1024),
        ];
        let frames = filler_frames(&sources, 3000, Duration::from_secs(12));
        let video: Vec<i64> = frames
            .iter()
            .filter(|(t, _)| *t == TrackId::VIDEO)
            .map(|(_, f)| f.dts_ms)
            .collect();
        assert_eq!(video, [2000, 2500]);
        let audio: Vec<i64> = frames
            .iter()
            .filter(|(t, _)| *t == TrackId::AUDIO)
            .map(|(_, f)| f.dts_ms)
            .collect();
        assert_eq!(audio.first(), Some(&2016));
        assert!(audio.iter().all(|t| *t < 3000));
        assert_eq!(audio.len(), (3000 - 2016) * 48 / 1024 + 1);
        // In time order, video first at a tie.
        assert!(frames
            .windows(2)
            .all(|w| (w[0].1.dts_ms, w[0].0) <= (w[1].1.dts_ms, w[1].0)));
        assert!(frames.iter().all(|(_, f)| f.keyframe));
    }

    #[test]
    fn no_filler_without_a_gap_or_past_the_window() {
        let sources = [source(TrackId::VIDEO, 180_000, 90_000, 45_000)];
        assert!(filler_frames(&sources, 2000, Duration::from_secs(12)).is_empty());
        assert!(filler_frames(&sources, 1000, Duration::from_secs(12)).is_empty());
        assert!(filler_frames(&sources, 20_000, Duration::from_secs(12)).is_empty());
        assert!(filler_frames(&[], 20_000, Duration::from_secs(12)).is_empty());
    }

    #[test]
    fn silent_frames_are_the_smallest_valid_blocks() {
        // SCE(3) tag(4) ics(22) END(3) = 32 bits.
        assert_eq!(
            silent_aac_frame(&aac(2, 1, 48_000, 48_000, 1024)).unwrap()[..],
            [0x00, 0x00, 0x00, 0x07]
        );
        // CPE(3) tag(4) common_window(1) 2 × ics(22) END(3) = 55 bits.
        assert_eq!(
            silent_aac_frame(&aac(2, 2, 44_100, 44_100, 1024)).unwrap()[..],
            [0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e]
        );
    }

    #[test]
    fn only_plain_lc_mono_or_stereo_is_filled() {
        assert!(silent_aac_frame(&aac(5, 2, 48_000, 24_000, 2048)).is_none());
        assert!(silent_aac_frame(&aac(2, 6, 48_000, 48_000, 1024)).is_none());
        assert!(silent_aac_frame(&aac(2, 2, 48_000, 48_000, 960)).is_none());
        assert!(silent_aac_frame(&aac(29, 2, 48_000, 24_000, 2048)).is_none());
    }
}
