//! AAC AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1), including explicit
//! SBR/PS signalling (FLV-A-02, FLV-A-03).

use bytes::Bytes;

use crate::bits::BitReader;
use crate::error::FlvError;
use crate::multichannel::MultichannelConfig;

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
    /// The E-RTMP MultichannelConfig layout, when the publisher sent one
    /// (ffmpeg does, after the sequence header, for 5.1 and more).
    pub channel_layout: Option<MultichannelConfig>,
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
        channel_layout: None,
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

/// `mp4a.40.<AOT>` with the audio object type in decimal (RFC 6381 §3.3).
pub fn aac_codec_string(object_type: u8) -> String {
    format!("mp4a.40.{object_type}")
}

#[cfg(test)]
mod tests;
