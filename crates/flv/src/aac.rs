//! AAC AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1), including explicit
//! SBR/PS signalling (FLV-A-02, FLV-A-03).

use bytes::Bytes;

use crate::bits::BitReader;
use crate::codec::aac_codec_string;
use crate::error::FlvError;

/// A parsed AudioSpecificConfig. `record` keeps the bytes verbatim for the
/// mp4 `esds` box; the other fields are read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacConfig {
    /// The AudioSpecificConfig, verbatim.
    pub record: Bytes,
    /// The audio object type to signal in `CODECS`: 2 (LC), 5 (HE-AAC, SBR)
    /// or 29 (HE-AACv2, PS) for the common cases; escape AOTs (31) are
    /// resolved to 32 + 6 bits.
    pub object_type: u8,
    /// The core codec's object type (2 for HE-AAC whose core is LC).
    pub core_object_type: u8,
    /// Output sample rate in Hz: the SBR rate when SBR is signalled,
    /// otherwise the core rate.
    pub sample_rate: u32,
    /// Core (AAC) sample rate in Hz.
    pub core_sample_rate: u32,
    /// Output channel count: the count for channelConfiguration 1..=7 and
    /// 11..=14 (equal to the configuration for 1..=6; 7 → 8), 2 when
    /// parametric stereo is signalled, 0 when the layout is given by a
    /// program_config_element.
    pub channels: u8,
    /// Output samples per access unit, at `sample_rate`: 1024 (960 with
    /// frameLengthFlag; 512/480 for AAC-LD) for plain AAC, doubled when SBR
    /// runs at twice the core rate (2048 for HE-AAC).
    pub samples_per_frame: u32,
}

impl AacConfig {
    /// RFC 6381 `CODECS` value `mp4a.40.<AOT>` (CODEC-02).
    pub fn codec_string(&self) -> String {
        aac_codec_string(self.object_type)
    }
}

/// Sampling frequencies for samplingFrequencyIndex 0..=12 (Table 1.10).
const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

const AOT_SBR: u8 = 5;
const AOT_PS: u8 = 29;
const AOT_ER_AAC_LD: u8 = 23;
const AOT_ER_BSAC: u8 = 22;
const SYNC_EXTENSION_SBR: u32 = 0x2b7;
const SYNC_EXTENSION_PS: u32 = 0x548;

/// Object types whose specific config is a GASpecificConfig.
fn is_general_audio(aot: u8) -> bool {
    matches!(aot, 1..=4 | 6 | 7 | 17 | 19..=23)
}

/// Error-resilient object types, which carry `epConfig` after their config.
fn is_error_resilient(aot: u8) -> bool {
    (17..=27).contains(&aot)
}

/// Parses an AudioSpecificConfig.
///
/// Handles the escape object type (31 → 32 + 6 bits), the explicit 24-bit
/// frequency (index 15), explicit hierarchical SBR/PS signalling (AOT 5 or
/// 29 first), GASpecificConfig (frameLengthFlag, dependsOnCoreCoder,
/// program_config_element) and backward-compatible explicit signalling
/// (sync extension 0x2B7 + AOT 5, then 0x548 for PS) when at least 16 bits
/// remain. Reserved sampling indices (13, 14) and channel configurations
/// are errors. For object types without a GASpecificConfig only the common
/// header is read.
pub fn parse_asc(record: Bytes) -> Result<AacConfig, FlvError> {
    let mut r = BitReader::new(&record, "AudioSpecificConfig");
    let first_aot = read_object_type(&mut r)?;
    let core_sample_rate = read_sample_rate(&mut r, "samplingFrequencyIndex")?;
    let channel_config = r.u8_bits(4)?;

    let mut sbr = false;
    let mut ps = false;
    let mut ext_sample_rate = None;
    let mut core_object_type = first_aot;
    if first_aot == AOT_SBR || first_aot == AOT_PS {
        // Explicit hierarchical signalling.
        sbr = true;
        ps = first_aot == AOT_PS;
        ext_sample_rate = Some(read_sample_rate(&mut r, "extensionSamplingFrequencyIndex")?);
        core_object_type = read_object_type(&mut r)?;
        if core_object_type == AOT_ER_BSAC {
            let _extension_channel_configuration = r.bits(4)?;
        }
    }

    let mut frame_length = 1024;
    let mut header_complete = false;
    if is_general_audio(core_object_type) {
        frame_length = ga_specific_config(&mut r, channel_config, core_object_type)?;
        header_complete = true;
        if is_error_resilient(core_object_type) {
            let ep_config = r.bits(2)?;
            // ErrorProtectionSpecificConfig is not parsed: stop here.
            header_complete = ep_config < 2;
        }
    }

    if header_complete && !sbr && r.bits_left() >= 16 {
        // Backward-compatible explicit signalling.
        if r.bits(11)? == SYNC_EXTENSION_SBR {
            let ext_object_type = read_object_type(&mut r)?;
            if ext_object_type == AOT_SBR {
                if r.flag()? {
                    // sbrPresentFlag
                    sbr = true;
                    ext_sample_rate =
                        Some(read_sample_rate(&mut r, "extensionSamplingFrequencyIndex")?);
                    if r.bits_left() >= 12 && r.bits(11)? == SYNC_EXTENSION_PS {
                        ps = r.flag()?;
                    }
                }
            } else if ext_object_type == AOT_ER_BSAC {
                if r.flag()? {
                    // BSAC with SBR: the object type to signal stays 22.
                    sbr = true;
                    ext_sample_rate =
                        Some(read_sample_rate(&mut r, "extensionSamplingFrequencyIndex")?);
                }
                let _extension_channel_configuration = r.bits(4)?;
            }
        }
    }

    let object_type = if ps {
        AOT_PS
    } else if sbr && core_object_type != AOT_ER_BSAC {
        AOT_SBR
    } else {
        core_object_type
    };
    let sample_rate = match ext_sample_rate {
        Some(rate) if sbr => rate,
        _ => core_sample_rate,
    };
    if sample_rate < core_sample_rate {
        return Err(FlvError::invalid(
            "extensionSamplingFrequency",
            format!("SBR rate {sample_rate} Hz is below the core rate {core_sample_rate} Hz"),
        ));
    }
    // SBR either doubles the core rate (dual-rate) or runs at it
    // (downsampled SBR); only the former doubles the output frame.
    let samples_per_frame = if sample_rate > core_sample_rate {
        frame_length.saturating_mul(2)
    } else {
        frame_length
    };
    let channels = if ps {
        2
    } else {
        channel_count(channel_config)?
    };
    Ok(AacConfig {
        record,
        object_type,
        core_object_type,
        sample_rate,
        core_sample_rate,
        channels,
        samples_per_frame,
    })
}

/// GetAudioObjectType(): 5 bits, or 32 + 6 more bits after the escape 31.
fn read_object_type(r: &mut BitReader<'_>) -> Result<u8, FlvError> {
    let aot = r.u8_bits(5)?;
    let aot = if aot == 31 {
        // 32 + (0..=63) ≤ 95: never saturates.
        32u8.saturating_add(r.u8_bits(6)?)
    } else {
        aot
    };
    if aot == 0 {
        return Err(FlvError::invalid("audioObjectType", "0 (null object)"));
    }
    Ok(aot)
}

/// samplingFrequencyIndex (4 bits), with index 15 followed by a 24-bit rate.
fn read_sample_rate(r: &mut BitReader<'_>, what: &'static str) -> Result<u32, FlvError> {
    let index = r.bits(4)?;
    if index == 0x0f {
        let rate = r.bits(24)?;
        if rate == 0 {
            return Err(FlvError::invalid(what, "explicit sampling frequency 0"));
        }
        return Ok(rate);
    }
    SAMPLE_RATES
        .get(index as usize)
        .copied()
        .ok_or_else(|| FlvError::invalid(what, format!("reserved index {index}")))
}

/// Output channel count for a channelConfiguration (Table 1.19 of later
/// editions of ISO/IEC 14496-3); 0 stays 0 (program_config_element).
fn channel_count(config: u8) -> Result<u8, FlvError> {
    match config {
        0..=6 => Ok(config),
        7 | 12 | 14 => Ok(8),
        11 => Ok(7),
        13 => Ok(24),
        _ => Err(FlvError::unsupported(format!(
            "AAC channelConfiguration {config} (reserved)"
        ))),
    }
}

/// GASpecificConfig (ISO/IEC 14496-3 §4.4.1). Returns the core frame length.
fn ga_specific_config(
    r: &mut BitReader<'_>,
    channel_config: u8,
    object_type: u8,
) -> Result<u32, FlvError> {
    let frame_length_flag = r.flag()?;
    if r.flag()? {
        // dependsOnCoreCoder
        let _core_coder_delay = r.bits(14)?;
    }
    let extension_flag = r.flag()?;
    if channel_config == 0 {
        skip_program_config_element(r)?;
    }
    if object_type == 6 || object_type == 20 {
        let _layer_nr = r.bits(3)?;
    }
    if extension_flag {
        if object_type == AOT_ER_BSAC {
            let _num_of_sub_frame = r.bits(5)?;
            let _layer_length = r.bits(11)?;
        }
        if matches!(object_type, 17 | 19 | 20 | 23) {
            // aacSection/Scalefactor/SpectralDataResilienceFlag
            r.skip(3)?;
        }
        let _extension_flag3 = r.flag()?;
    }
    Ok(match (object_type == AOT_ER_AAC_LD, frame_length_flag) {
        (true, true) => 480,
        (true, false) => 512,
        (false, true) => 960,
        (false, false) => 1024,
    })
}

/// program_config_element() (ISO/IEC 14496-3 §4.4.1.1): read and discard.
/// Its byte_alignment() is relative to the start of the AudioSpecificConfig,
/// which is where the reader starts.
fn skip_program_config_element(r: &mut BitReader<'_>) -> Result<(), FlvError> {
    let _element_instance_tag = r.bits(4)?;
    let _object_type = r.bits(2)?;
    let _sampling_frequency_index = r.bits(4)?;
    let front = r.bits(4)?;
    let side = r.bits(4)?;
    let back = r.bits(4)?;
    let lfe = r.bits(2)?;
    let assoc = r.bits(3)?;
    let cc = r.bits(4)?;
    if r.flag()? {
        let _mono_mixdown_element_number = r.bits(4)?;
    }
    if r.flag()? {
        let _stereo_mixdown_element_number = r.bits(4)?;
    }
    if r.flag()? {
        let _matrix_mixdown_idx = r.bits(2)?;
        let _pseudo_surround_enable = r.flag()?;
    }
    // Each count is at most 15 (comment bytes at most 255), so none of the
    // saturating operations below can saturate.
    let with_cpe_flag = front.saturating_add(side).saturating_add(back) as usize;
    r.skip(with_cpe_flag.saturating_mul(5))?; // is_cpe + element_tag_select
    r.skip((lfe.saturating_add(assoc) as usize).saturating_mul(4))?; // element_tag_select
    r.skip((cc as usize).saturating_mul(5))?; // cc_element_is_ind_sw + tag_select
    r.byte_align()?;
    let comment_bytes = r.bits(8)? as usize;
    r.skip(comment_bytes.saturating_mul(8))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bits::test_util::BitWriter;
    use crate::test_vectors::*;

    fn asc(bytes: &[u8]) -> Result<AacConfig, FlvError> {
        parse_asc(Bytes::copy_from_slice(bytes))
    }

    /// (object_type, core_object_type, sample_rate, core_sample_rate,
    /// channels, samples_per_frame, CODECS)
    type Summary = (u8, u8, u32, u32, u8, u32, String);

    fn summary(c: &AacConfig) -> Summary {
        (
            c.object_type,
            c.core_object_type,
            c.sample_rate,
            c.core_sample_rate,
            c.channels,
            c.samples_per_frame,
            c.codec_string(),
        )
    }

    fn s(v: (u8, u8, u32, u32, u8, u32, &str)) -> Summary {
        (v.0, v.1, v.2, v.3, v.4, v.5, v.6.to_string())
    }

    /// GASpecificConfig with all flags clear.
    fn ga_plain(w: &mut BitWriter) {
        w.bit(false); // frameLengthFlag
        w.bit(false); // dependsOnCoreCoder
        w.bit(false); // extensionFlag
    }

    /// CODEC-02 / FLV-A-02: AAC LC 48 kHz stereo and 44.1 kHz mono.
    #[test]
    fn codec_02_lc_plain() {
        // 00010 0011 0010 000: AOT 2, index 3 (48000), 2 channels, GA flags.
        let c = asc(&[0x11, 0x90]).unwrap();
        assert_eq!(summary(&c), s((2, 2, 48000, 48000, 2, 1024, "mp4a.40.2")));
        // 00010 0100 0001 000: AOT 2, index 4 (44100), 1 channel.
        let c = asc(&[0x12, 0x08]).unwrap();
        assert_eq!(summary(&c), s((2, 2, 44100, 44100, 1, 1024, "mp4a.40.2")));
        assert_eq!(&c.record[..], &[0x12, 0x08]);
    }

    /// ffmpeg's encoder appends sync extension 0x2B7 + AOT 5 with
    /// sbrPresentFlag = 0: still plain LC.
    #[test]
    fn real_ffmpeg_asc_with_sbr_absent_extension() {
        let c = asc(&hex(AAC_48K_STEREO_SEQ)[2..]).unwrap();
        assert_eq!(summary(&c), s((2, 2, 48000, 48000, 2, 1024, "mp4a.40.2")));
        let c = asc(&hex(AAC_44K_MONO_SEQ)[2..]).unwrap();
        assert_eq!(summary(&c), s((2, 2, 44100, 44100, 1, 1024, "mp4a.40.2")));
    }

    /// FLV-A-03 explicit hierarchical HE-AAC: `2b 11 88 00`.
    #[test]
    fn he_aac_explicit_hierarchical() {
        let mut w = BitWriter::new();
        w.bits(5, 5); // audioObjectType 5 (SBR)
        w.bits(4, 6); // samplingFrequencyIndex 6 (24000, core)
        w.bits(4, 2); // channelConfiguration 2
        w.bits(4, 3); // extensionSamplingFrequencyIndex 3 (48000)
        w.bits(5, 2); // audioObjectType 2 (core LC)
        ga_plain(&mut w);
        let bytes = w.finish();
        assert_eq!(bytes, vec![0x2b, 0x11, 0x88, 0x00]);
        let c = asc(&bytes).unwrap();
        assert_eq!(summary(&c), s((5, 2, 48000, 24000, 2, 2048, "mp4a.40.5")));
    }

    /// FLV-A-03 explicit hierarchical HE-AACv2 (PS): mono core, stereo out.
    #[test]
    fn he_aac_v2_explicit_hierarchical() {
        let mut w = BitWriter::new();
        w.bits(5, 29); // audioObjectType 29 (PS)
        w.bits(4, 6); // samplingFrequencyIndex 6 (24000)
        w.bits(4, 1); // channelConfiguration 1
        w.bits(4, 3); // extensionSamplingFrequencyIndex 3 (48000)
        w.bits(5, 2); // audioObjectType 2
        ga_plain(&mut w);
        let bytes = w.finish();
        assert_eq!(bytes, vec![0xeb, 0x09, 0x88, 0x00]);
        let c = asc(&bytes).unwrap();
        assert_eq!(summary(&c), s((29, 2, 48000, 24000, 2, 2048, "mp4a.40.29")));
    }

    fn backward_compatible(sbr: bool, ps: Option<bool>) -> Vec<u8> {
        let mut w = BitWriter::new();
        w.bits(5, 2); // audioObjectType 2
        w.bits(4, 6); // samplingFrequencyIndex 6 (24000)
        w.bits(4, if ps.is_some() { 1 } else { 2 }); // channelConfiguration
        ga_plain(&mut w);
        w.bits(11, 0x2b7); // syncExtensionType
        w.bits(5, 5); // extensionAudioObjectType 5
        w.bit(sbr); // sbrPresentFlag
        if sbr {
            w.bits(4, 3); // extensionSamplingFrequencyIndex 3 (48000)
            if let Some(ps) = ps {
                w.bits(11, 0x548); // syncExtensionType (PS)
                w.bit(ps); // psPresentFlag
            }
        }
        w.finish()
    }

    /// FLV-A-03 backward-compatible explicit: AOT 2 + 0x2B7 + AOT 5.
    #[test]
    fn he_aac_backward_compatible_explicit() {
        let c = asc(&backward_compatible(true, None)).unwrap();
        assert_eq!(summary(&c), s((5, 2, 48000, 24000, 2, 2048, "mp4a.40.5")));
        let c = asc(&backward_compatible(false, None)).unwrap();
        assert_eq!(summary(&c), s((2, 2, 24000, 24000, 2, 1024, "mp4a.40.2")));
    }

    /// Backward-compatible PS: 0x548 + psPresentFlag after the SBR part.
    #[test]
    fn he_aac_v2_backward_compatible_explicit() {
        let c = asc(&backward_compatible(true, Some(true))).unwrap();
        assert_eq!(summary(&c), s((29, 2, 48000, 24000, 2, 2048, "mp4a.40.29")));
        let c = asc(&backward_compatible(true, Some(false))).unwrap();
        assert_eq!(summary(&c), s((5, 2, 48000, 24000, 1, 2048, "mp4a.40.5")));
    }

    /// Downsampled SBR: extension rate = core rate, frames stay 1024.
    #[test]
    fn downsampled_sbr() {
        let mut w = BitWriter::new();
        w.bits(5, 5); // audioObjectType 5
        w.bits(4, 3); // samplingFrequencyIndex 3 (48000)
        w.bits(4, 2); // channelConfiguration 2
        w.bits(4, 3); // extensionSamplingFrequencyIndex 3 (48000)
        w.bits(5, 2); // audioObjectType 2
        ga_plain(&mut w);
        let c = asc(&w.finish()).unwrap();
        assert_eq!(summary(&c), s((5, 2, 48000, 48000, 2, 1024, "mp4a.40.5")));
    }

    /// FLV-A-02 escape: 31 → 32 + 6 bits (42 = USAC, 32 = MPEG-1 Layer 1).
    #[test]
    fn escape_object_type() {
        for (ext, aot) in [(10u64, 42u8), (0, 32), (63, 95)] {
            let mut w = BitWriter::new();
            w.bits(5, 31); // audioObjectType escape
            w.bits(6, ext); // audioObjectTypeExt
            w.bits(4, 3); // samplingFrequencyIndex 3 (48000)
            w.bits(4, 2); // channelConfiguration 2
            let c = asc(&w.finish()).unwrap();
            assert_eq!(c.object_type, aot);
            assert_eq!(c.core_object_type, aot);
            assert_eq!((c.sample_rate, c.channels), (48000, 2));
            assert_eq!(c.codec_string(), format!("mp4a.40.{aot}"));
        }
    }

    /// FLV-A-02 explicit frequency: index 15 + 24-bit rate, in the core
    /// and in the SBR extension.
    #[test]
    fn explicit_sampling_frequency() {
        let mut w = BitWriter::new();
        w.bits(5, 2); // audioObjectType 2
        w.bits(4, 15); // samplingFrequencyIndex escape
        w.bits(24, 37_800); // samplingFrequency
        w.bits(4, 2); // channelConfiguration 2
        ga_plain(&mut w);
        let c = asc(&w.finish()).unwrap();
        assert_eq!((c.sample_rate, c.core_sample_rate), (37_800, 37_800));

        let mut w = BitWriter::new();
        w.bits(5, 5); // audioObjectType 5
        w.bits(4, 15); // samplingFrequencyIndex escape
        w.bits(24, 18_900); // samplingFrequency (core)
        w.bits(4, 1); // channelConfiguration 1
        w.bits(4, 15); // extensionSamplingFrequencyIndex escape
        w.bits(24, 37_800); // extensionSamplingFrequency
        w.bits(5, 2); // audioObjectType 2
        ga_plain(&mut w);
        let c = asc(&w.finish()).unwrap();
        assert_eq!(summary(&c), s((5, 2, 37_800, 18_900, 1, 2048, "mp4a.40.5")));
    }

    #[test]
    fn reserved_sampling_index_and_null_object_are_errors() {
        for index in [13u64, 14] {
            let mut w = BitWriter::new();
            w.bits(5, 2); // audioObjectType 2
            w.bits(4, index); // samplingFrequencyIndex (reserved)
            w.bits(4, 2); // channelConfiguration 2
            ga_plain(&mut w);
            assert!(matches!(asc(&w.finish()), Err(FlvError::Invalid { .. })));
        }
        // 00000 0011 0010 000: AOT 0.
        assert!(matches!(asc(&[0x01, 0x90]), Err(FlvError::Invalid { .. })));
        // Explicit frequency 0.
        let mut w = BitWriter::new();
        w.bits(5, 2).bits(4, 15).bits(24, 0).bits(4, 2);
        ga_plain(&mut w);
        assert!(matches!(asc(&w.finish()), Err(FlvError::Invalid { .. })));
    }

    #[test]
    fn channel_configurations() {
        for (config, channels) in [
            (1u64, 1u8),
            (6, 6),
            (7, 8),
            (11, 7),
            (12, 8),
            (13, 24),
            (14, 8),
        ] {
            let mut w = BitWriter::new();
            w.bits(5, 2).bits(4, 3).bits(4, config); // AOT 2, 48000, config
            ga_plain(&mut w);
            assert_eq!(asc(&w.finish()).unwrap().channels, channels, "{config}");
        }
        for config in [8u64, 9, 10, 15] {
            let mut w = BitWriter::new();
            w.bits(5, 2).bits(4, 3).bits(4, config);
            ga_plain(&mut w);
            assert!(matches!(
                asc(&w.finish()),
                Err(FlvError::Unsupported { .. })
            ));
        }
    }

    #[test]
    fn frame_length_flag_gives_960() {
        let mut w = BitWriter::new();
        w.bits(5, 2).bits(4, 3).bits(4, 2); // AOT 2, 48000, stereo
        w.bit(true); // frameLengthFlag (960)
        w.bit(false); // dependsOnCoreCoder
        w.bit(false); // extensionFlag
        assert_eq!(asc(&w.finish()).unwrap().samples_per_frame, 960);
    }

    /// dependsOnCoreCoder's 14-bit delay is skipped, so the SBR sync
    /// extension after it is still found.
    #[test]
    fn core_coder_delay_is_skipped() {
        let mut w = BitWriter::new();
        w.bits(5, 2).bits(4, 6).bits(4, 2); // AOT 2, 24000, stereo
        w.bit(false); // frameLengthFlag
        w.bit(true); // dependsOnCoreCoder
        w.bits(14, 0x3fff); // coreCoderDelay
        w.bit(false); // extensionFlag
        w.bits(11, 0x2b7).bits(5, 5).bit(true).bits(4, 3); // SBR, 48000
        let c = asc(&w.finish()).unwrap();
        assert_eq!((c.object_type, c.sample_rate), (5, 48000));
    }

    /// channelConfiguration 0: the program_config_element is skipped bit
    /// exactly (including its byte alignment and comment) and channels
    /// stays 0; the SBR extension after it is still found.
    #[test]
    fn program_config_element_is_skipped() {
        let mut w = BitWriter::new();
        w.bits(5, 2).bits(4, 6).bits(4, 0); // AOT 2, 24000, channelConfiguration 0
        ga_plain(&mut w);
        w.bits(4, 0); // element_instance_tag
        w.bits(2, 1); // object_type
        w.bits(4, 6); // sampling_frequency_index
        w.bits(4, 2); // num_front_channel_elements
        w.bits(4, 1); // num_side_channel_elements
        w.bits(4, 1); // num_back_channel_elements
        w.bits(2, 1); // num_lfe_channel_elements
        w.bits(3, 1); // num_assoc_data_elements
        w.bits(4, 1); // num_valid_cc_elements
        w.bit(true).bits(4, 0); // mono_mixdown_present + element number
        w.bit(false); // stereo_mixdown_present
        w.bit(true).bits(2, 1).bit(false); // matrix_mixdown_idx_present + idx + pseudo surround
        for _ in 0..4 {
            w.bit(true).bits(4, 0); // front/side/back: is_cpe + tag
        }
        w.bits(4, 0); // lfe_element_tag_select
        w.bits(4, 0); // assoc_data_element_tag_select
        w.bit(false).bits(4, 0); // cc_element_is_ind_sw + tag
                                 // byte_alignment(): 16 + 41 + 33 = 90 bits so far, 6 bits of padding.
        w.bits(6, 0);
        w.bits(8, 2); // comment_field_bytes
        w.bits(16, 0x4142); // comment
        w.bits(11, 0x2b7).bits(5, 5).bit(true).bits(4, 3); // SBR, 48000
        let c = asc(&w.finish()).unwrap();
        assert_eq!(c.channels, 0);
        assert_eq!(
            (c.object_type, c.sample_rate, c.samples_per_frame),
            (5, 48000, 2048)
        );
    }

    /// ER AAC LD: 512-sample frames (480 with frameLengthFlag); epConfig read.
    #[test]
    fn aac_ld_frame_length() {
        for (flag, expected) in [(false, 512), (true, 480)] {
            let mut w = BitWriter::new();
            w.bits(5, 23).bits(4, 3).bits(4, 2); // AOT 23, 48000, stereo
            w.bit(flag); // frameLengthFlag
            w.bit(false); // dependsOnCoreCoder
            w.bit(true); // extensionFlag
            w.bits(3, 0); // aacSection/Scalefactor/SpectralDataResilienceFlag
            w.bit(false); // extensionFlag3
            w.bits(2, 0); // epConfig
            let c = asc(&w.finish()).unwrap();
            assert_eq!((c.object_type, c.samples_per_frame), (23, expected));
        }
    }

    /// Prefixes that cut the mandatory part fail; prefixes that cut only
    /// the optional sync extension may parse as the core codec. Never a panic.
    #[test]
    fn truncation_at_every_prefix() {
        let hierarchical = [0x2b, 0x11, 0x88, 0x00];
        for n in 0..hierarchical.len() {
            assert!(asc(&hierarchical[..n]).is_err(), "prefix {n}");
        }
        for n in 0..2 {
            assert!(asc(&[0x11, 0x90][..n]).is_err(), "prefix {n}");
        }
        let compat = backward_compatible(true, Some(true));
        for n in 0..compat.len() {
            match asc(&compat[..n]) {
                Err(_) => {}
                Ok(c) => {
                    assert!(n >= 2);
                    assert!([2, 5, 29].contains(&c.object_type));
                    assert_eq!(c.core_sample_rate, 24000);
                }
            }
        }
    }

    /// Fuzz regression: AOT 5 with an explicit 8.39 MHz core rate and a
    /// 44.1 kHz SBR rate. SBR never lowers the rate.
    #[test]
    fn fuzz_regression_sbr_rate_below_core_rate() {
        assert!(matches!(
            asc(&[0x2f, 0x80, 0x16, 0x00, 0x05, 0x14]),
            Err(FlvError::Invalid {
                what: "extensionSamplingFrequency",
                ..
            })
        ));
    }

    #[test]
    fn record_is_verbatim_and_zero_copy() {
        let record = Bytes::from(vec![0x11, 0x90, 0x56, 0xe5, 0x00]);
        let c = parse_asc(record.clone()).unwrap();
        assert_eq!(c.record.as_ptr(), record.as_ptr());
        assert_eq!(c.record.len(), 5);
    }
}
