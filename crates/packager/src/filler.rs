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

use bytes::Bytes;
use weir_flv::AacConfig;

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
        }
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
