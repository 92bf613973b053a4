//! HEVCDecoderConfigurationRecord (`hvcC`, ISO/IEC 14496-15 §8.3.3) and the
//! H.265 sequence parameter set (ITU-T H.265 §7.3.2.2, VUI §E.2.1): the
//! fields a packager needs and the RFC 6381 `CODECS` string (CODEC-03).

use bytes::Bytes;

use crate::avc::read_parameter_sets;
use crate::bits::{rbsp, BitReader};
use crate::error::FlvError;
use crate::format::VideoFormat;
use crate::reader::Reader;
use crate::sps::{cropped, read_vui_head, VuiHead};

/// NAL unit types of the parameter sets kept from hvcC arrays.
const NAL_VPS: u8 = 32;
const NAL_SPS: u8 = 33;
const NAL_PPS: u8 = 34;

/// Largest picture side accepted: level 6.2 allows `sqrt(8 × MaxLumaPs)`
/// = 16 888 luma samples along one side.
const MAX_SIDE: u32 = 16_888;

/// A parsed `hvcC` record. `record` keeps the bytes verbatim for the mp4
/// `hvcC` box; the other fields are read from it and its first SPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcConfig {
    /// The whole HEVCDecoderConfigurationRecord, verbatim.
    pub record: Bytes,
    pub configuration_version: u8,
    /// `general_profile_space` (0..=3; CODECS letter none/A/B/C).
    pub general_profile_space: u8,
    /// `general_tier_flag`: false = Main tier, true = High tier.
    pub general_tier_flag: bool,
    pub general_profile_idc: u8,
    pub general_profile_compatibility_flags: u32,
    /// The 48 bits of `general_constraint_indicator_flags`, in the low bits.
    pub general_constraint_indicator_flags: u64,
    pub general_level_idc: u8,
    /// `chromaFormat` (0 = 4:0:0, 1 = 4:2:0, 2 = 4:2:2, 3 = 4:4:4).
    pub chroma_format_idc: u8,
    /// `bitDepthLumaMinus8 + 8`.
    pub bit_depth_luma: u8,
    /// `bitDepthChromaMinus8 + 8`.
    pub bit_depth_chroma: u8,
    /// Size of the NAL unit length prefix in coded frames: 1, 2 or 4.
    pub nal_length_size: u8,
    /// Video parameter sets (NAL type 32, with their 2-byte header).
    pub vps: Vec<Bytes>,
    /// Sequence parameter sets (NAL type 33).
    pub sps: Vec<Bytes>,
    /// Picture parameter sets (NAL type 34).
    pub pps: Vec<Bytes>,
    /// Parsed from the first SPS.
    pub sps_info: HevcSpsInfo,
}

/// What Weir takes from an H.265 SPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcSpsInfo {
    /// Display size after the conformance window, luma bit depth, VUI
    /// sample aspect ratio, colour description and frame rate
    /// (`(vui_time_scale, vui_num_units_in_tick)`, not reduced).
    pub format: VideoFormat,
    pub chroma_format_idc: u8,
    pub bit_depth_chroma: u8,
}

impl HevcConfig {
    /// RFC 6381 `CODECS` value per ISO/IEC 14496-15 Annex E (CODEC-03),
    /// e.g. `hvc1.1.6.L93.B0`.
    pub fn codec_string(&self) -> String {
        hevc_codec_string(
            self.general_profile_space,
            self.general_profile_idc,
            self.general_profile_compatibility_flags,
            self.general_tier_flag,
            self.general_level_idc,
            self.general_constraint_indicator_flags,
        )
    }

    /// The picture format, from the first SPS.
    pub fn format(&self) -> VideoFormat {
        self.sps_info.format
    }
}

/// `hvc1.` + profile space letter (none/A/B/C) + profile_idc + `.` + hex of
/// the bit-reversed compatibility flags + `.` + `L`/`H` + level_idc + one
/// `.XX` per constraint byte, trailing zero bytes dropped (CODEC-03).
pub fn hevc_codec_string(
    profile_space: u8,
    profile_idc: u8,
    compatibility_flags: u32,
    high_tier: bool,
    level_idc: u8,
    constraint_flags: u64,
) -> String {
    let space = match profile_space {
        1 => "A",
        2 => "B",
        3 => "C",
        _ => "",
    };
    let tier = if high_tier { 'H' } else { 'L' };
    let mut out = format!(
        "hvc1.{space}{profile_idc}.{:X}.{tier}{level_idc}",
        compatibility_flags.reverse_bits()
    );
    let bytes = constraint_flags.to_be_bytes();
    let constraint = bytes.get(2..).unwrap_or_default();
    let used = constraint
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i.saturating_add(1));
    for b in constraint.iter().take(used) {
        out.push_str(&format!(".{b:X}"));
    }
    out
}

/// Parses an HEVCDecoderConfigurationRecord.
///
/// Rejects configurationVersion ≠ 1, `lengthSizeMinusOne` = 2, a record
/// without an SPS, empty NAL units and truncation anywhere. Arrays of
/// other NAL types (SEI) are skipped; they stay in `record`. The first SPS
/// must parse (picture size, bit depth); its VUI is optional.
pub fn parse_hvcc(record: Bytes) -> Result<HevcConfig, FlvError> {
    let mut r = Reader::new(record.clone());
    let version = r.u8("hvcC configurationVersion")?;
    if version != 1 {
        return Err(FlvError::invalid(
            "hvcC configurationVersion",
            format!("{version}, expected 1"),
        ));
    }
    let b = r.u8("hvcC general_profile_space/tier/profile_idc")?;
    let general_profile_space = b >> 6;
    let general_tier_flag = b & 0x20 != 0;
    let general_profile_idc = b & 0x1f;
    let general_profile_compatibility_flags = u32::from_be_bytes([
        r.u8("hvcC general_profile_compatibility_flags")?,
        r.u8("hvcC general_profile_compatibility_flags")?,
        r.u8("hvcC general_profile_compatibility_flags")?,
        r.u8("hvcC general_profile_compatibility_flags")?,
    ]);
    let hi = u64::from(r.u16("hvcC general_constraint_indicator_flags")?);
    let lo = u64::from(r.u16("hvcC general_constraint_indicator_flags")?);
    let lo2 = u64::from(r.u16("hvcC general_constraint_indicator_flags")?);
    let general_constraint_indicator_flags = (hi << 32) | (lo << 16) | lo2;
    let general_level_idc = r.u8("hvcC general_level_idc")?;
    let _min_spatial_segmentation = r.u16("hvcC min_spatial_segmentation_idc")?;
    let _parallelism_type = r.u8("hvcC parallelismType")?;
    let chroma_format_idc = r.u8("hvcC chromaFormat")? & 0x03;
    let bit_depth_luma = (r.u8("hvcC bitDepthLumaMinus8")? & 0x07).saturating_add(8);
    let bit_depth_chroma = (r.u8("hvcC bitDepthChromaMinus8")? & 0x07).saturating_add(8);
    let _avg_frame_rate = r.u16("hvcC avgFrameRate")?;
    let nal_length_size = match r.u8("hvcC lengthSizeMinusOne")? & 0x03 {
        0 => 1,
        1 => 2,
        3 => 4,
        _ => {
            return Err(FlvError::invalid(
                "hvcC lengthSizeMinusOne",
                "2 (3-byte NAL lengths) is not allowed",
            ))
        }
    };
    let num_arrays = r.u8("hvcC numOfArrays")?;
    let (mut vps, mut sps, mut pps) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..num_arrays {
        let nal_type = r.u8("hvcC NAL_unit_type")? & 0x3f;
        let count = r.u16("hvcC numNalus")?;
        let (list, what) = match nal_type {
            NAL_VPS => (&mut vps, "hvcC VPS"),
            NAL_SPS => (&mut sps, "hvcC SPS"),
            NAL_PPS => (&mut pps, "hvcC PPS"),
            _ => {
                read_parameter_sets(&mut r, count, "hvcC NAL unit")?;
                continue;
            }
        };
        list.extend(read_parameter_sets(&mut r, count, what)?);
    }
    let first_sps = sps
        .first()
        .ok_or_else(|| FlvError::invalid("hvcC arrays", "no SPS (NAL type 33)"))?;
    let sps_info = parse_hevc_sps(first_sps)?;
    Ok(HevcConfig {
        record,
        configuration_version: version,
        general_profile_space,
        general_tier_flag,
        general_profile_idc,
        general_profile_compatibility_flags,
        general_constraint_indicator_flags,
        general_level_idc,
        chroma_format_idc,
        bit_depth_luma,
        bit_depth_chroma,
        nal_length_size,
        vps,
        sps,
        pps,
        sps_info,
    })
}

/// Parses an H.265 SPS NAL unit (with its 2-byte NAL header, as stored in
/// hvcC). Emulation-prevention bytes are removed first.
///
/// The syntax up to the bit depths is required; the rest (reference
/// picture sets, VUI) is read as far as it goes, and a VUI that cannot be
/// reached or is cut short leaves its fields `None`.
pub fn parse_hevc_sps(nal: &[u8]) -> Result<HevcSpsInfo, FlvError> {
    let header = nal.get(..2).ok_or(FlvError::Truncated {
        what: "HEVC SPS NAL header",
        need: 2,
        have: nal.len(),
    })?;
    let first = header.first().copied().unwrap_or(0);
    if first & 0x80 != 0 {
        return Err(FlvError::invalid(
            "HEVC SPS NAL header",
            "forbidden_zero_bit is set",
        ));
    }
    let nal_type = (first >> 1) & 0x3f;
    if nal_type != NAL_SPS {
        return Err(FlvError::invalid(
            "HEVC SPS NAL header",
            format!("nal_unit_type {nal_type} is not 33 (SPS)"),
        ));
    }
    let data = rbsp(nal);
    let mut r = BitReader::new(&data, "HEVC SPS");
    r.skip(16)?; // NAL header, checked above
    let _vps_id = r.bits(4)?;
    let max_sub_layers_minus1 = r.bits(3)?;
    let _temporal_id_nesting = r.flag()?;
    skip_profile_tier_level(&mut r, max_sub_layers_minus1)?;
    let _sps_id = r.ue_max(15, "sps_seq_parameter_set_id")?;
    let chroma_format_idc = r.u8_ue_max(3, "chroma_format_idc")?;
    let separate_colour_plane = chroma_format_idc == 3 && r.flag()?;
    let pic_width = side(r.ue()?, "pic_width_in_luma_samples")?;
    let pic_height = side(r.ue()?, "pic_height_in_luma_samples")?;
    let (crop_x, crop_y) = if r.flag()? {
        // conformance_window_flag; H.265 Table 6-1 SubWidthC / SubHeightC.
        let (sub_w, sub_h): (u64, u64) = match (chroma_format_idc, separate_colour_plane) {
            (1, _) => (2, 2),
            (2, _) => (2, 1),
            _ => (1, 1),
        };
        let left = u64::from(r.ue()?);
        let right = u64::from(r.ue()?);
        let top = u64::from(r.ue()?);
        let bottom = u64::from(r.ue()?);
        (
            left.saturating_add(right).saturating_mul(sub_w),
            top.saturating_add(bottom).saturating_mul(sub_h),
        )
    } else {
        (0, 0)
    };
    let width = cropped(pic_width, crop_x, "conf_win_left/right_offset")?;
    let height = cropped(pic_height, crop_y, "conf_win_top/bottom_offset")?;
    let bit_depth_luma = 8u8.saturating_add(r.u8_ue_max(8, "bit_depth_luma_minus8")?);
    let bit_depth_chroma = 8u8.saturating_add(r.u8_ue_max(8, "bit_depth_chroma_minus8")?);
    let mut info = HevcSpsInfo {
        format: VideoFormat {
            width,
            height,
            sar: None,
            frame_rate: None,
            colour: None,
            bit_depth: bit_depth_luma,
        },
        chroma_format_idc,
        bit_depth_chroma,
    };
    // Everything after the bit depths only leads to the VUI: a failure
    // there keeps the picture size.
    let _ = read_to_vui(&mut r, max_sub_layers_minus1, &mut info);
    Ok(info)
}

/// `minus0` bounded by [`MAX_SIDE`] and non-zero.
fn side(v: u32, field: &'static str) -> Result<u32, FlvError> {
    if v == 0 || v > MAX_SIDE {
        return Err(FlvError::invalid(
            field,
            format!("{v} is outside 1..={MAX_SIDE}"),
        ));
    }
    Ok(v)
}

/// profile_tier_level(1, maxNumSubLayersMinus1) (H.265 §7.3.3): skipped,
/// the general fields are taken from hvcC.
fn skip_profile_tier_level(
    r: &mut BitReader<'_>,
    max_sub_layers_minus1: u32,
) -> Result<(), FlvError> {
    r.skip(96)?; // general profile (88 bits) + general_level_idc
    let mut present = [(false, false); 8];
    for p in present.iter_mut().take(max_sub_layers_minus1 as usize) {
        *p = (r.flag()?, r.flag()?);
    }
    if max_sub_layers_minus1 > 0 {
        for _ in max_sub_layers_minus1..8 {
            r.skip(2)?; // reserved_zero_2bits
        }
    }
    for &(profile, level) in present.iter().take(max_sub_layers_minus1 as usize) {
        if profile {
            r.skip(88)?;
        }
        if level {
            r.skip(8)?;
        }
    }
    Ok(())
}

/// From log2_max_pic_order_cnt_lsb_minus4 through the VUI.
fn read_to_vui(
    r: &mut BitReader<'_>,
    max_sub_layers_minus1: u32,
    info: &mut HevcSpsInfo,
) -> Result<(), FlvError> {
    let log2_max_poc_lsb = r
        .ue_max(12, "log2_max_pic_order_cnt_lsb_minus4")?
        .saturating_add(4);
    let ordering_info_present = r.flag()?;
    let first = if ordering_info_present {
        0
    } else {
        max_sub_layers_minus1
    };
    for _ in first..=max_sub_layers_minus1 {
        let _max_dec_pic_buffering_minus1 = r.ue()?;
        let _max_num_reorder_pics = r.ue()?;
        let _max_latency_increase_plus1 = r.ue()?;
    }
    for _ in 0..6 {
        // log2_min_luma_coding_block_size_minus3 … max_transform_hierarchy_depth_intra
        let _ = r.ue()?;
    }
    if r.flag()? && r.flag()? {
        // scaling_list_enabled_flag && sps_scaling_list_data_present_flag
        skip_scaling_list_data(r)?;
    }
    let _amp = r.flag()?;
    let _sao = r.flag()?;
    if r.flag()? {
        // pcm_enabled_flag
        r.skip(8)?; // pcm_sample_bit_depth_luma/chroma_minus1
        let _ = r.ue()?;
        let _ = r.ue()?;
        let _pcm_loop_filter_disabled = r.flag()?;
    }
    let num_sets = r.ue_max(64, "num_short_term_ref_pic_sets")?;
    let mut num_delta_pocs: Vec<u32> = Vec::with_capacity(num_sets as usize);
    for idx in 0..num_sets {
        let n = st_ref_pic_set(r, idx, &num_delta_pocs)?;
        num_delta_pocs.push(n);
    }
    if r.flag()? {
        // long_term_ref_pics_present_flag
        let n = r.ue_max(32, "num_long_term_ref_pics_sps")?;
        for _ in 0..n {
            r.skip(log2_max_poc_lsb as usize)?; // lt_ref_pic_poc_lsb_sps
            let _used = r.flag()?;
        }
    }
    let _temporal_mvp = r.flag()?;
    let _strong_intra_smoothing = r.flag()?;
    if r.flag()? {
        // vui_parameters_present_flag
        read_vui(r, info)?;
    }
    Ok(())
}

/// scaling_list_data() (H.265 §7.3.4): read and discard.
fn skip_scaling_list_data(r: &mut BitReader<'_>) -> Result<(), FlvError> {
    for size_id in 0..4u32 {
        let step = if size_id == 3 { 3 } else { 1 };
        for _matrix_id in (0..6).step_by(step) {
            if !r.flag()? {
                // scaling_list_pred_mode_flag = 0
                let _delta = r.ue()?;
            } else {
                // coefNum = Min(64, 1 << (4 + (sizeId << 1))).
                let coefs = if size_id == 0 { 16 } else { 64 };
                if size_id > 1 {
                    let _dc = r.se()?;
                }
                for _ in 0..coefs {
                    let _delta = r.se()?;
                }
            }
        }
    }
    Ok(())
}

/// st_ref_pic_set(stRpsIdx) (H.265 §7.3.7) as it appears in the SPS;
/// returns NumDeltaPocs[stRpsIdx].
fn st_ref_pic_set(r: &mut BitReader<'_>, idx: u32, previous: &[u32]) -> Result<u32, FlvError> {
    if idx != 0 && r.flag()? {
        // inter_ref_pic_set_prediction_flag: in the SPS delta_idx_minus1 is
        // absent (0), so the reference is the previous set.
        let _delta_rps_sign = r.flag()?;
        let _abs_delta_rps_minus1 = r.ue()?;
        let ref_pocs = previous.last().copied().unwrap_or(0);
        let mut count = 0u32;
        for _ in 0..=ref_pocs {
            let used = r.flag()?;
            let use_delta = used || r.flag()?;
            if use_delta {
                count = count.saturating_add(1);
            }
        }
        return Ok(count);
    }
    let negative = r.ue_max(16, "num_negative_pics")?;
    let positive = r.ue_max(16, "num_positive_pics")?;
    for _ in 0..negative.saturating_add(positive) {
        let _delta_poc_minus1 = r.ue()?;
        let _used = r.flag()?;
    }
    Ok(negative.saturating_add(positive))
}

/// vui_parameters() (H.265 §E.2.1) up to and including the timing info.
fn read_vui(r: &mut BitReader<'_>, info: &mut HevcSpsInfo) -> Result<(), FlvError> {
    let mut head = VuiHead::default();
    let res = read_vui_head(r, &mut head);
    info.format.sar = head.sar;
    info.format.colour = head.colour;
    res?;
    let _neutral_chroma = r.flag()?;
    let _field_seq = r.flag()?;
    let _frame_field_info = r.flag()?;
    if r.flag()? {
        // default_display_window_flag
        for _ in 0..4 {
            let _ = r.ue()?;
        }
    }
    if r.flag()? {
        // vui_timing_info_present_flag
        let num_units_in_tick = r.bits(32)?;
        let time_scale = r.bits(32)?;
        info.format.frame_rate =
            (num_units_in_tick != 0 && time_scale != 0).then_some((time_scale, num_units_in_tick));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
