//! H.264 sequence parameter set (ITU-T H.264 §7.3.2.1.1 and Annex E VUI):
//! the fields a packager needs — cropped picture size, profile and level,
//! sample aspect ratio, VUI frame rate and colour description.

use crate::bits::{rbsp, BitReader};
use crate::error::FlvError;

/// What Weir takes from an H.264 SPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpsInfo {
    /// Display width in luma samples, after frame cropping.
    pub width: u32,
    /// Display height in luma samples, after frame cropping (frame, not field).
    pub height: u32,
    pub profile_idc: u8,
    pub level_idc: u8,
    /// Sample aspect ratio from the VUI (`aspect_ratio_idc` 1..=16 or
    /// Extended_SAR). `None` when absent, unspecified (0), reserved or 0:N.
    pub sar: Option<(u16, u16)>,
    /// `(time_scale, 2 * num_units_in_tick)` from VUI timing info: frames per
    /// second as a fraction (not reduced). `None` when absent or zero.
    pub frame_rate: Option<(u32, u32)>,
    /// VUI colour description, when `colour_description_present_flag` is set.
    pub colour: Option<ColourInfo>,
    /// Luma bit depth, `bit_depth_luma_minus8 + 8` (8 for profiles without it).
    pub bit_depth_luma: u8,
}

/// VUI colour description (ITU-T H.273 code points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColourInfo {
    pub colour_primaries: u8,
    pub transfer_characteristics: u8,
    pub matrix_coefficients: u8,
    /// `video_full_range_flag`.
    pub full_range: bool,
}

/// Picture width/height in macroblocks above which an SPS is rejected.
/// Level 6.2 allows at most 139 264 macroblocks per frame, i.e. at most
/// ~1 055 MBs along one side for a square-ish picture; 1 024 × 16 = 16 384
/// pixels per side is generous and keeps every size computation small.
const MAX_MBS_PER_SIDE: u32 = 1024;

/// `nal_unit_type` of a sequence parameter set.
const NAL_SPS: u8 = 7;

/// Profiles whose SPS carries chroma_format_idc, bit depths and scaling
/// matrices (H.264 §7.3.2.1.1).
fn has_chroma_info(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

/// Parses an SPS NAL unit (starting with its one-byte NAL header, as stored
/// in avcC). Emulation-prevention bytes are removed first.
///
/// The syntax up to and including the frame cropping is required; the VUI
/// is read as far as the timing info and tolerated when it is cut short
/// (its fields are then `None`), because the picture size does not depend
/// on it.
pub fn parse_sps(nal: &[u8]) -> Result<SpsInfo, FlvError> {
    let (&header, _) = nal.split_first().ok_or(FlvError::Truncated {
        what: "SPS NAL header",
        need: 1,
        have: 0,
    })?;
    if header & 0x80 != 0 {
        return Err(FlvError::invalid(
            "SPS NAL header",
            "forbidden_zero_bit is set",
        ));
    }
    if header & 0x1f != NAL_SPS {
        return Err(FlvError::invalid(
            "SPS NAL header",
            format!("nal_unit_type {} is not 7 (SPS)", header & 0x1f),
        ));
    }
    let data = rbsp(nal);
    let mut r = BitReader::new(&data, "SPS");
    r.skip(8)?; // NAL header, checked above

    let profile_idc = r.u8_bits(8)?;
    let _constraint_flags = r.u8_bits(8)?;
    let level_idc = r.u8_bits(8)?;
    let _sps_id = r.ue_max(31, "seq_parameter_set_id")?;

    let mut chroma_format_idc = 1u32; // inferred 4:2:0 when absent
    let mut separate_colour_plane = false;
    let mut bit_depth_luma = 8u8;
    if has_chroma_info(profile_idc) {
        chroma_format_idc = r.ue_max(3, "chroma_format_idc")?;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag()?;
        }
        bit_depth_luma = 8u8.saturating_add(r.u8_ue_max(6, "bit_depth_luma_minus8")?);
        let _bit_depth_chroma_minus8 = r.ue_max(6, "bit_depth_chroma_minus8")?;
        let _qpprime_y_zero_transform_bypass = r.flag()?;
        if r.flag()? {
            // seq_scaling_matrix_present_flag
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    // seq_scaling_list_present_flag[i]
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }

    let _log2_max_frame_num_minus4 = r.ue_max(12, "log2_max_frame_num_minus4")?;
    let pic_order_cnt_type = r.ue_max(2, "pic_order_cnt_type")?;
    if pic_order_cnt_type == 0 {
        let _log2_max_poc_lsb_minus4 = r.ue_max(12, "log2_max_pic_order_cnt_lsb_minus4")?;
    } else if pic_order_cnt_type == 1 {
        let _delta_pic_order_always_zero = r.flag()?;
        let _offset_for_non_ref_pic = r.se()?;
        let _offset_for_top_to_bottom_field = r.se()?;
        let cycle = r.ue_max(255, "num_ref_frames_in_pic_order_cnt_cycle")?;
        for _ in 0..cycle {
            let _offset_for_ref_frame = r.se()?;
        }
    }
    let _max_num_ref_frames = r.ue()?;
    let _gaps_in_frame_num_allowed = r.flag()?;
    let width_mbs = mbs(r.ue()?, "pic_width_in_mbs_minus1")?;
    let height_map_units = mbs(r.ue()?, "pic_height_in_map_units_minus1")?;
    let frame_mbs_only = r.flag()?;
    if !frame_mbs_only {
        let _mb_adaptive_frame_field = r.flag()?;
    }
    let _direct_8x8_inference = r.flag()?;

    // Sizes: width_mbs, height_map_units ≤ 1024, so every product below is
    // at most 2 * 1024 * 16 = 32 768 and cannot overflow u32.
    let field_factor: u32 = if frame_mbs_only { 1 } else { 2 };
    let coded_width = width_mbs.saturating_mul(16);
    let coded_height = height_map_units
        .saturating_mul(16)
        .saturating_mul(field_factor);

    let (crop_x, crop_y) = if r.flag()? {
        // frame_cropping_flag
        let left = r.ue()?;
        let right = r.ue()?;
        let top = r.ue()?;
        let bottom = r.ue()?;
        // H.264 §7.4.2.1.1, CropUnitX / CropUnitY.
        let chroma_array_type = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let (unit_x, unit_y): (u64, u64) = if chroma_array_type == 0 {
            (1, u64::from(field_factor))
        } else {
            let sub_width_c = if chroma_format_idc == 3 { 1 } else { 2 };
            let sub_height_c: u64 = if chroma_format_idc == 1 { 2 } else { 1 };
            (
                sub_width_c,
                sub_height_c.saturating_mul(u64::from(field_factor)),
            )
        };
        let crop_x = u64::from(left)
            .saturating_add(u64::from(right))
            .saturating_mul(unit_x);
        let crop_y = u64::from(top)
            .saturating_add(u64::from(bottom))
            .saturating_mul(unit_y);
        (crop_x, crop_y)
    } else {
        (0, 0)
    };
    let width = cropped(coded_width, crop_x, "frame_crop_left/right_offset")?;
    let height = cropped(coded_height, crop_y, "frame_crop_top/bottom_offset")?;

    let mut info = SpsInfo {
        width,
        height,
        profile_idc,
        level_idc,
        sar: None,
        frame_rate: None,
        colour: None,
        bit_depth_luma,
    };
    if r.flag()? {
        // vui_parameters_present_flag. A VUI cut short still yields the
        // fields read before the cut.
        let _ = read_vui(&mut r, &mut info);
    }
    Ok(info)
}

/// `minus1 + 1`, bounded by [`MAX_MBS_PER_SIDE`].
fn mbs(minus1: u32, field: &'static str) -> Result<u32, FlvError> {
    if minus1 >= MAX_MBS_PER_SIDE {
        return Err(FlvError::unsupported(format!(
            "{field} = {minus1}: picture larger than {} pixels per side",
            MAX_MBS_PER_SIDE * 16
        )));
    }
    Ok(minus1.saturating_add(1))
}

/// `coded − crop`, which must leave a picture (H.264 cropping, H.265
/// conformance window).
pub(crate) fn cropped(coded: u32, crop: u64, field: &'static str) -> Result<u32, FlvError> {
    match u64::from(coded).checked_sub(crop) {
        Some(v) if v > 0 => u32::try_from(v).map_err(|_| FlvError::invalid(field, "overflow")),
        _ => Err(FlvError::invalid(
            field,
            format!("cropping {crop} samples from {coded} leaves no picture"),
        )),
    }
}

/// scaling_list() (H.264 §7.3.2.1.1.1): read and discard.
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), FlvError> {
    let mut last_scale: i32 = 8;
    let mut next_scale: i32 = 8;
    for _ in 0..size {
        if next_scale != 0 {
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(FlvError::invalid(
                    "delta_scale",
                    format!("{delta} outside -128..=127"),
                ));
            }
            // last_scale ∈ 0..=255 and delta ∈ -128..=127: no overflow.
            next_scale = last_scale.saturating_add(delta).rem_euclid(256);
        }
        if next_scale != 0 {
            last_scale = next_scale;
        }
    }
    Ok(())
}

/// Table E-1 of H.264 (Table E-1 of H.265 is the same): sample aspect
/// ratios for aspect_ratio_idc 1..=16.
fn sar_from_idc(idc: u8) -> Option<(u16, u16)> {
    Some(match idc {
        1 => (1, 1),
        2 => (12, 11),
        3 => (10, 11),
        4 => (16, 11),
        5 => (40, 33),
        6 => (24, 11),
        7 => (20, 11),
        8 => (32, 11),
        9 => (80, 33),
        10 => (18, 11),
        11 => (15, 11),
        12 => (64, 33),
        13 => (160, 99),
        14 => (4, 3),
        15 => (3, 2),
        16 => (2, 1),
        _ => return None,
    })
}

const EXTENDED_SAR: u8 = 255;

/// The start that the H.264 and H.265 VUI syntax share (H.264 §E.1.1,
/// H.265 §E.2.1): aspect ratio, overscan, video signal type with the
/// colour description, chroma sample location.
#[derive(Debug, Default)]
pub(crate) struct VuiHead {
    pub(crate) sar: Option<(u16, u16)>,
    pub(crate) colour: Option<ColourInfo>,
}

/// Reads the shared VUI start into `head`. Fields read before a cut stay
/// set, so a caller may keep them when this fails.
pub(crate) fn read_vui_head(r: &mut BitReader<'_>, head: &mut VuiHead) -> Result<(), FlvError> {
    if r.flag()? {
        // aspect_ratio_info_present_flag
        let idc = r.u8_bits(8)?;
        head.sar = if idc == EXTENDED_SAR {
            let w = u16::try_from(r.bits(16)?).unwrap_or(0);
            let h = u16::try_from(r.bits(16)?).unwrap_or(0);
            (w != 0 && h != 0).then_some((w, h))
        } else {
            sar_from_idc(idc)
        };
    }
    if r.flag()? {
        // overscan_info_present_flag
        let _overscan_appropriate = r.flag()?;
    }
    if r.flag()? {
        // video_signal_type_present_flag
        let _video_format = r.bits(3)?;
        let full_range = r.flag()?;
        if r.flag()? {
            // colour_description_present_flag
            head.colour = Some(ColourInfo {
                colour_primaries: r.u8_bits(8)?,
                transfer_characteristics: r.u8_bits(8)?,
                matrix_coefficients: r.u8_bits(8)?,
                full_range,
            });
        }
    }
    if r.flag()? {
        // chroma_loc_info_present_flag
        let _top = r.ue()?;
        let _bottom = r.ue()?;
    }
    Ok(())
}

/// vui_parameters() (H.264 §E.1.1) up to and including timing_info.
fn read_vui(r: &mut BitReader<'_>, info: &mut SpsInfo) -> Result<(), FlvError> {
    let mut head = VuiHead::default();
    let res = read_vui_head(r, &mut head);
    info.sar = head.sar;
    info.colour = head.colour;
    res?;
    if r.flag()? {
        // timing_info_present_flag
        let num_units_in_tick = r.bits(32)?;
        let time_scale = r.bits(32)?;
        let _fixed_frame_rate = r.flag()?;
        info.frame_rate = match num_units_in_tick.checked_mul(2) {
            Some(den) if den != 0 && time_scale != 0 => Some((time_scale, den)),
            _ => None,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests;
