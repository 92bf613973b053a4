//! AV1CodecConfigurationRecord (`av1C`, AV1-ISOBMFF §2.3), the OBU walk and
//! the sequence header OBU (AV1 §5.3, §5.5): picture size, bit depth and
//! colour, the `CODECS` string (CODEC-05) and key-frame detection.

use bytes::Bytes;

use crate::bits::BitReader;
use crate::error::FlvError;
use crate::format::VideoFormat;
use crate::reader::Reader;
use crate::sps::ColourInfo;

/// OBU types (AV1 §6.2.2).
const OBU_SEQUENCE_HEADER: u8 = 1;
const OBU_FRAME_HEADER: u8 = 3;
const OBU_FRAME: u8 = 6;

/// `color_primaries` / `transfer_characteristics` / `matrix_coefficients`
/// when `color_description_present_flag` is 0: unspecified (2).
const UNSPECIFIED: u8 = 2;

/// A parsed `av1C` record with its sequence header OBU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Av1Config {
    /// The whole AV1CodecConfigurationRecord (including configOBUs), verbatim.
    pub record: Bytes,
    pub seq_profile: u8,
    pub seq_level_idx_0: u8,
    /// `seq_tier_0`: false = Main (M), true = High (H).
    pub seq_tier_0: bool,
    pub high_bitdepth: bool,
    pub twelve_bit: bool,
    pub monochrome: bool,
    pub chroma_subsampling_x: bool,
    pub chroma_subsampling_y: bool,
    pub chroma_sample_position: u8,
    /// `configOBUs`: the OBUs after the 4-byte header.
    pub config_obus: Bytes,
    /// The sequence header OBU from `configOBUs`.
    pub sequence_header: Av1SequenceHeader,
}

/// What Weir takes from an AV1 sequence header OBU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Av1SequenceHeader {
    pub seq_profile: u8,
    pub reduced_still_picture_header: bool,
    /// `max_frame_width_minus_1 + 1`.
    pub max_frame_width: u32,
    /// `max_frame_height_minus_1 + 1`.
    pub max_frame_height: u32,
    /// `(time_scale, num_units_in_display_tick)` from timing_info, when present.
    pub frame_rate: Option<(u32, u32)>,
    /// 8, 10 or 12.
    pub bit_depth: u8,
    pub mono_chrome: bool,
    /// Whether `color_description_present_flag` was set.
    pub color_description_present: bool,
    /// H.273 code points (2, 2, 2 when not described) and `color_range`.
    pub colour: ColourInfo,
    pub subsampling_x: bool,
    pub subsampling_y: bool,
    pub chroma_sample_position: u8,
}

impl Av1Config {
    /// The bit depth the av1C states: 8, 10 or 12.
    pub fn bit_depth(&self) -> u8 {
        match (self.high_bitdepth, self.twelve_bit) {
            (true, true) => 12,
            (true, false) => 10,
            _ => 8,
        }
    }

    /// RFC 6381 `CODECS` value per the AV1-ISOBMFF binding (CODEC-05):
    /// `av01.P.LLT.DD`, plus `.M.CCC.cp.tc.mc.F` when the sequence header
    /// has a colour description that is not the default (BT.709, limited
    /// range) or the chroma format is not 4:2:0, e.g. `av01.0.08M.08`,
    /// `av01.0.00M.10.0.110.09.16.09.0`.
    pub fn codec_string(&self) -> String {
        let tier = if self.seq_tier_0 { 'H' } else { 'M' };
        let mut out = format!(
            "av01.{}.{:02}{tier}.{:02}",
            self.seq_profile,
            self.seq_level_idx_0,
            self.bit_depth()
        );
        let seq = &self.sequence_header;
        let colour = seq.colour;
        let chroma_position = if self.chroma_subsampling_x && self.chroma_subsampling_y {
            self.chroma_sample_position
        } else {
            0
        };
        let tail = (
            u8::from(self.monochrome),
            u8::from(self.chroma_subsampling_x),
            u8::from(self.chroma_subsampling_y),
            chroma_position,
            colour.colour_primaries,
            colour.transfer_characteristics,
            colour.matrix_coefficients,
            u8::from(colour.full_range),
        );
        // The spec's defaults for the optional fields.
        let default = (0, 1, 1, 0, 1, 1, 1, 0);
        let non_default_chroma = tail.0 != 0 || tail.1 != 1 || tail.2 != 1;
        if (seq.color_description_present && tail != default) || non_default_chroma {
            let (m, sx, sy, pos, cp, tc, mc, f) = tail;
            out.push_str(&format!(".{m}.{sx}{sy}{pos}.{cp:02}.{tc:02}.{mc:02}.{f}"));
        }
        out
    }

    /// The picture format: the sequence header's maximum frame size, bit
    /// depth, timing and colour (`None` colour when not described).
    pub fn format(&self) -> VideoFormat {
        let seq = &self.sequence_header;
        VideoFormat {
            width: seq.max_frame_width,
            height: seq.max_frame_height,
            sar: None,
            frame_rate: seq.frame_rate,
            colour: seq.color_description_present.then_some(seq.colour),
            bit_depth: seq.bit_depth,
        }
    }
}

/// Parses an AV1CodecConfigurationRecord.
///
/// Rejects marker ≠ 1, version ≠ 1, truncation, and `configOBUs` without a
/// sequence header OBU (the picture size comes from it).
pub fn parse_av1c(record: Bytes) -> Result<Av1Config, FlvError> {
    let mut r = Reader::new(record.clone());
    let b0 = r.u8("av1C marker/version")?;
    if b0 != 0x81 {
        return Err(FlvError::invalid(
            "av1C marker/version",
            format!("0x{b0:02x}, expected marker 1 and version 1 (0x81)"),
        ));
    }
    let b1 = r.u8("av1C seq_profile/seq_level_idx_0")?;
    let b2 = r.u8("av1C seq_tier_0/…/chroma_sample_position")?;
    let _b3 = r.u8("av1C initial_presentation_delay")?;
    let config_obus = r.rest();
    let mut sequence_header = None;
    for obu in obus(&config_obus) {
        let obu = obu?;
        if obu.obu_type == OBU_SEQUENCE_HEADER {
            sequence_header = Some(parse_sequence_header(obu.payload)?);
            break;
        }
    }
    let sequence_header = sequence_header
        .ok_or_else(|| FlvError::invalid("av1C configOBUs", "no sequence header OBU"))?;
    Ok(Av1Config {
        record,
        seq_profile: b1 >> 5,
        seq_level_idx_0: b1 & 0x1f,
        seq_tier_0: b2 & 0x80 != 0,
        high_bitdepth: b2 & 0x40 != 0,
        twelve_bit: b2 & 0x20 != 0,
        monochrome: b2 & 0x10 != 0,
        chroma_subsampling_x: b2 & 0x08 != 0,
        chroma_subsampling_y: b2 & 0x04 != 0,
        chroma_sample_position: b2 & 0x03,
        config_obus,
        sequence_header,
    })
}

/// One OBU of a low-overhead bitstream: its type and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Obu<'a> {
    pub obu_type: u8,
    pub payload: &'a [u8],
}

/// Iterator over the OBUs of a buffer (AV1 §5.3): header, optional
/// extension byte, `leb128` size when `obu_has_size_field` is set (else
/// the OBU runs to the end). Yields one error and stops on broken input.
pub fn obus(data: &[u8]) -> impl Iterator<Item = Result<Obu<'_>, FlvError>> + '_ {
    let mut rest = data;
    let mut failed = false;
    std::iter::from_fn(move || {
        if rest.is_empty() || failed {
            return None;
        }
        let res = next_obu(&mut rest);
        failed = res.is_err();
        Some(res)
    })
}

fn next_obu<'a>(rest: &mut &'a [u8]) -> Result<Obu<'a>, FlvError> {
    let (&header, mut tail) = rest.split_first().ok_or(FlvError::Truncated {
        what: "OBU header",
        need: 1,
        have: 0,
    })?;
    if header & 0x80 != 0 {
        return Err(FlvError::invalid("OBU header", "obu_forbidden_bit is set"));
    }
    let obu_type = (header >> 3) & 0x0f;
    if header & 0x04 != 0 {
        // obu_extension_flag: one more header byte.
        tail = tail.get(1..).ok_or(FlvError::Truncated {
            what: "OBU extension header",
            need: 1,
            have: 0,
        })?;
    }
    let size = if header & 0x02 != 0 {
        let (size, after) = leb128(tail)?;
        tail = after;
        usize::try_from(size).map_err(|_| FlvError::invalid("OBU obu_size", "too large"))?
    } else {
        tail.len()
    };
    let payload = tail.get(..size).ok_or(FlvError::Truncated {
        what: "OBU payload",
        need: size,
        have: tail.len(),
    })?;
    *rest = tail.get(size..).unwrap_or_default();
    Ok(Obu { obu_type, payload })
}

/// `leb128()` (AV1 §4.10.5): at most 8 bytes, value below 2^32.
fn leb128(data: &[u8]) -> Result<(u64, &[u8]), FlvError> {
    let mut value: u64 = 0;
    for (i, (&b, shift)) in data.iter().zip((0u32..56).step_by(7)).enumerate() {
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            if value > u64::from(u32::MAX) {
                return Err(FlvError::invalid(
                    "OBU obu_size",
                    "leb128 value above 2^32 - 1",
                ));
            }
            return Ok((value, data.get(i.saturating_add(1)..).unwrap_or_default()));
        }
    }
    if data.len() < 8 {
        Err(FlvError::Truncated {
            what: "OBU obu_size (leb128)",
            need: 1,
            have: 0,
        })
    } else {
        Err(FlvError::invalid(
            "OBU obu_size",
            "leb128 longer than 8 bytes",
        ))
    }
}

/// `uvlc()` (AV1 §4.10.3).
fn uvlc(r: &mut BitReader<'_>) -> Result<u32, FlvError> {
    let mut leading_zeros: u32 = 0;
    while !r.flag()? {
        leading_zeros = leading_zeros.saturating_add(1);
        if leading_zeros >= 32 {
            return Ok(u32::MAX);
        }
    }
    let value = r.bits(leading_zeros)?;
    Ok(value.saturating_add((1u32 << leading_zeros).saturating_sub(1)))
}

/// sequence_header_obu() (AV1 §5.5) up to and including color_config().
pub fn parse_sequence_header(payload: &[u8]) -> Result<Av1SequenceHeader, FlvError> {
    let mut r = BitReader::new(payload, "AV1 sequence header OBU");
    let seq_profile = r.u8_bits(3)?;
    if seq_profile > 2 {
        return Err(FlvError::invalid(
            "AV1 seq_profile",
            format!("{seq_profile}, expected 0, 1 or 2"),
        ));
    }
    let _still_picture = r.flag()?;
    let reduced_still_picture_header = r.flag()?;
    let mut frame_rate = None;
    if reduced_still_picture_header {
        r.skip(5)?; // seq_level_idx[0]
    } else {
        let timing_info_present = r.flag()?;
        let mut decoder_model_info_present = false;
        let mut buffer_delay_length = 0u32;
        if timing_info_present {
            let num_units_in_display_tick = r.bits(32)?;
            let time_scale = r.bits(32)?;
            if r.flag()? {
                // equal_picture_interval
                let _num_ticks_per_picture_minus_1 = uvlc(&mut r)?;
            }
            frame_rate = (num_units_in_display_tick != 0 && time_scale != 0)
                .then_some((time_scale, num_units_in_display_tick));
            decoder_model_info_present = r.flag()?;
            if decoder_model_info_present {
                buffer_delay_length = r.bits(5)?.saturating_add(1);
                r.skip(32)?; // num_units_in_decoding_tick
                r.skip(10)?; // buffer_removal_time / frame_presentation_time lengths
            }
        }
        let initial_display_delay_present = r.flag()?;
        let operating_points = r.bits(5)?.saturating_add(1);
        for _ in 0..operating_points {
            r.skip(12)?; // operating_point_idc
            let seq_level_idx = r.bits(5)?;
            if seq_level_idx > 7 {
                r.skip(1)?; // seq_tier
            }
            if decoder_model_info_present && r.flag()? {
                // operating_parameters_info(): two delays and low_delay_mode_flag.
                r.skip(
                    (buffer_delay_length as usize)
                        .saturating_mul(2)
                        .saturating_add(1),
                )?;
            }
            if initial_display_delay_present && r.flag()? {
                r.skip(4)?; // initial_display_delay_minus_1
            }
        }
    }
    let width_bits = r.bits(4)?.saturating_add(1);
    let height_bits = r.bits(4)?.saturating_add(1);
    let max_frame_width = r.bits(width_bits)?.saturating_add(1);
    let max_frame_height = r.bits(height_bits)?.saturating_add(1);
    if !reduced_still_picture_header && r.flag()? {
        // frame_id_numbers_present_flag
        r.skip(7)?; // delta_frame_id_length_minus_2, additional_frame_id_length_minus_1
    }
    r.skip(3)?; // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    if !reduced_still_picture_header {
        r.skip(4)?; // interintra, masked compound, warped motion, dual filter
        let enable_order_hint = r.flag()?;
        if enable_order_hint {
            r.skip(2)?; // enable_jnt_comp, enable_ref_frame_mvs
        }
        let seq_force_screen_content_tools = if r.flag()? {
            // seq_choose_screen_content_tools
            2
        } else {
            r.bits(1)?
        };
        if seq_force_screen_content_tools > 0 && !r.flag()? {
            // seq_choose_integer_mv = 0: seq_force_integer_mv
            r.skip(1)?;
        }
        if enable_order_hint {
            r.skip(3)?; // order_hint_bits_minus_1
        }
    }
    r.skip(3)?; // enable_superres, enable_cdef, enable_restoration
    color_config(
        &mut r,
        seq_profile,
        reduced_still_picture_header,
        max_frame_width,
        max_frame_height,
        frame_rate,
    )
}

/// color_config() (AV1 §5.5.2).
fn color_config(
    r: &mut BitReader<'_>,
    seq_profile: u8,
    reduced_still_picture_header: bool,
    max_frame_width: u32,
    max_frame_height: u32,
    frame_rate: Option<(u32, u32)>,
) -> Result<Av1SequenceHeader, FlvError> {
    let high_bitdepth = r.flag()?;
    let bit_depth = if seq_profile == 2 && high_bitdepth {
        if r.flag()? {
            12
        } else {
            10
        }
    } else if high_bitdepth {
        10
    } else {
        8
    };
    let mono_chrome = seq_profile != 1 && r.flag()?;
    let color_description_present = r.flag()?;
    let (cp, tc, mc) = if color_description_present {
        (r.u8_bits(8)?, r.u8_bits(8)?, r.u8_bits(8)?)
    } else {
        (UNSPECIFIED, UNSPECIFIED, UNSPECIFIED)
    };
    let (full_range, subsampling_x, subsampling_y, chroma_sample_position);
    if mono_chrome {
        full_range = r.flag()?;
        (subsampling_x, subsampling_y, chroma_sample_position) = (true, true, 0);
    } else if (cp, tc, mc) == (1, 13, 0) {
        // BT.709 primaries, sRGB transfer, identity matrix: 4:4:4 RGB.
        full_range = true;
        (subsampling_x, subsampling_y, chroma_sample_position) = (false, false, 0);
    } else {
        full_range = r.flag()?;
        (subsampling_x, subsampling_y) = match seq_profile {
            0 => (true, true),
            1 => (false, false),
            _ if bit_depth == 12 => {
                let x = r.flag()?;
                (x, x && r.flag()?)
            }
            _ => (true, false),
        };
        chroma_sample_position = if subsampling_x && subsampling_y {
            r.u8_bits(2)?
        } else {
            0
        };
    }
    Ok(Av1SequenceHeader {
        seq_profile,
        reduced_still_picture_header,
        max_frame_width,
        max_frame_height,
        frame_rate,
        bit_depth,
        mono_chrome,
        color_description_present,
        colour: ColourInfo {
            colour_primaries: cp,
            transfer_characteristics: tc,
            matrix_coefficients: mc,
            full_range,
        },
        subsampling_x,
        subsampling_y,
        chroma_sample_position,
    })
}

/// Whether one temporal unit (the body of an E-RTMP `av01` coded frame) is
/// a random access point in the AV1-ISOBMFF sense: it carries a sequence
/// header OBU, and its first frame (header) OBU has
/// `show_existing_frame` = 0, `frame_type` = KEY_FRAME and `show_frame` = 1
/// (a key frame that is not shown, a "delayed random access point", does
/// not count). `reduced_still_picture_header` (from the same sequence
/// header) means every frame is a shown key frame. Broken OBU framing is
/// never a key frame.
pub fn av1_is_key_frame(temporal_unit: &[u8]) -> bool {
    let mut reduced = None;
    for obu in obus(temporal_unit) {
        let Ok(obu) = obu else {
            return false;
        };
        match obu.obu_type {
            OBU_SEQUENCE_HEADER => {
                // reduced_still_picture_header is the fifth bit.
                let Some(&b) = obu.payload.first() else {
                    return false;
                };
                reduced = Some(b & 0x08 != 0);
            }
            OBU_FRAME_HEADER | OBU_FRAME => {
                return match reduced {
                    None => false,
                    Some(true) => true,
                    // show_existing_frame (1) = 0, frame_type (2) = KEY_FRAME (0),
                    // show_frame (1) = 1: the top four bits are 0001.
                    Some(false) => obu.payload.first().is_some_and(|&b| b >> 4 == 0b0001),
                };
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests;
