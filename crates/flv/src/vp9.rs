//! VPCodecConfigurationRecord (`vpcC`, VP Codec ISO Media File Format
//! Binding §2.2) and the start of the VP9 uncompressed frame header (VP9
//! bitstream §6.2): the `CODECS` string (CODEC-06) and the picture size,
//! which vpcC does not carry.

use bytes::Bytes;

use crate::bits::BitReader;
use crate::error::FlvError;
use crate::format::VideoFormat;
use crate::reader::Reader;
use crate::sps::ColourInfo;

/// Unspecified colour code point (H.273): the vpcC value when the encoder
/// did not tag the stream.
const UNSPECIFIED: u8 = 2;

/// A parsed `vpcC` record, with the picture size of the first key frame
/// once the demuxer has seen it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vp9Config {
    /// The sequence-start body verbatim. ffmpeg sends the vpcC box payload
    /// with its FullBox header (version 1, flags 0); a bare record is
    /// accepted too (see [`Vp9Config::has_full_box_header`]).
    pub record: Bytes,
    /// Whether `record` starts with the FullBox version/flags.
    pub has_full_box_header: bool,
    pub profile: u8,
    pub level: u8,
    /// 8, 10 or 12.
    pub bit_depth: u8,
    /// 0 = 4:2:0 vertical, 1 = 4:2:0 colocated, 2 = 4:2:2, 3 = 4:4:4.
    pub chroma_subsampling: u8,
    pub video_full_range_flag: bool,
    pub colour_primaries: u8,
    pub transfer_characteristics: u8,
    pub matrix_coefficients: u8,
    pub codec_initialization_data: Bytes,
    /// Picture size from the first key frame (0 × 0 until then).
    pub width: u32,
    pub height: u32,
}

impl Vp9Config {
    /// The vpcC box payload for a sample entry: FullBox version 1 and
    /// flags 0, then the record (whatever form it arrived in).
    pub fn vpcc_box_payload(&self) -> Bytes {
        if self.has_full_box_header {
            self.record.clone()
        } else {
            Bytes::from([&[1u8, 0, 0, 0][..], &self.record[..]].concat())
        }
    }

    /// Whether the colour fields say more than the CODECS defaults
    /// (4:2:0 colocated, BT.709, limited range). Unspecified code points
    /// (2/2/2, what an untagged encoder writes) say nothing.
    fn colour_is_default(&self) -> bool {
        let colours = (
            self.colour_primaries,
            self.transfer_characteristics,
            self.matrix_coefficients,
        );
        let described = colours != (UNSPECIFIED, UNSPECIFIED, UNSPECIFIED);
        self.chroma_subsampling == 1
            && !self.video_full_range_flag
            && (!described || colours == (1, 1, 1))
    }

    /// `CODECS` value per the VP9 ISOBMFF binding "Codecs Parameter String":
    /// `vp09.PP.LL.DD`, or the full `vp09.PP.LL.DD.CC.cp.tc.mc.FF` when
    /// the colour fields are not the defaults (e.g. HDR10
    /// `vp09.02.20.10.01.09.16.09.00`). ffmpeg 9 writes the short form only.
    pub fn codec_string(&self) -> String {
        let mut out = format!(
            "vp09.{:02}.{:02}.{:02}",
            self.profile, self.level, self.bit_depth
        );
        if !self.colour_is_default() {
            out.push_str(&format!(
                ".{:02}.{:02}.{:02}.{:02}.{:02}",
                self.chroma_subsampling,
                self.colour_primaries,
                self.transfer_characteristics,
                self.matrix_coefficients,
                u8::from(self.video_full_range_flag)
            ));
        }
        out
    }

    /// The picture format: the key-frame size, bit depth and colour
    /// (`None` when the code points are unspecified).
    pub fn format(&self) -> VideoFormat {
        let described = (
            self.colour_primaries,
            self.transfer_characteristics,
            self.matrix_coefficients,
        ) != (UNSPECIFIED, UNSPECIFIED, UNSPECIFIED);
        VideoFormat {
            width: self.width,
            height: self.height,
            sar: None,
            frame_rate: None,
            colour: described.then_some(ColourInfo {
                colour_primaries: self.colour_primaries,
                transfer_characteristics: self.transfer_characteristics,
                matrix_coefficients: self.matrix_coefficients,
                full_range: self.video_full_range_flag,
            }),
            bit_depth: self.bit_depth,
        }
    }
}

/// Parses a VPCodecConfigurationRecord (version 1), with or without the
/// FullBox version/flags in front.
///
/// A body that starts `01 00 00 00` is taken as FullBox version 1: a bare
/// record cannot start that way (its third byte holds a bit depth ≥ 8).
/// Other FullBox versions (the version 0 draft) are unsupported. Rejects
/// profiles above 3, bit depths other than 8/10/12, chroma subsampling
/// above 3 and truncation.
pub fn parse_vpcc(record: Bytes) -> Result<Vp9Config, FlvError> {
    let has_full_box_header = record.get(1..4) == Some(&[0, 0, 0][..]);
    let mut r = Reader::new(record.clone());
    if has_full_box_header {
        let version = r.u8("vpcC version")?;
        if version != 1 {
            return Err(FlvError::unsupported(format!(
                "vpcC version {version} (only version 1 is supported)"
            )));
        }
        r.skip(3, "vpcC flags")?;
    }
    let profile = r.u8("vpcC profile")?;
    if profile > 3 {
        return Err(FlvError::invalid(
            "vpcC profile",
            format!("{profile}, expected 0..=3"),
        ));
    }
    let level = r.u8("vpcC level")?;
    let b = r.u8("vpcC bitDepth/chromaSubsampling/videoFullRangeFlag")?;
    let bit_depth = b >> 4;
    if !matches!(bit_depth, 8 | 10 | 12) {
        return Err(FlvError::invalid(
            "vpcC bitDepth",
            format!("{bit_depth}, expected 8, 10 or 12"),
        ));
    }
    let chroma_subsampling = (b >> 1) & 0x07;
    if chroma_subsampling > 3 {
        return Err(FlvError::invalid(
            "vpcC chromaSubsampling",
            format!("{chroma_subsampling}, expected 0..=3"),
        ));
    }
    let colour_primaries = r.u8("vpcC colourPrimaries")?;
    let transfer_characteristics = r.u8("vpcC transferCharacteristics")?;
    let matrix_coefficients = r.u8("vpcC matrixCoefficients")?;
    let init_size = r.u16("vpcC codecIntializationDataSize")?;
    let codec_initialization_data =
        r.take(usize::from(init_size), "vpcC codecIntializationData")?;
    Ok(Vp9Config {
        record,
        has_full_box_header,
        profile,
        level,
        bit_depth,
        chroma_subsampling,
        video_full_range_flag: b & 0x01 != 0,
        colour_primaries,
        transfer_characteristics,
        matrix_coefficients,
        codec_initialization_data,
        width: 0,
        height: 0,
    })
}

/// The picture size of a VP9 key frame, from its uncompressed header
/// (frame marker, profile, show_existing_frame, frame_type, sync code
/// `49 83 42`, colour config, `frame_width_minus_1`/`frame_height_minus_1`).
/// `None` for inter and intra-only frames, shown existing frames and
/// anything that does not parse. The first frame of a superframe is read.
pub fn vp9_frame_size(frame: &[u8]) -> Option<(u32, u32)> {
    let mut r = BitReader::new(frame, "VP9 uncompressed header");
    if r.bits(2).ok()? != 2 {
        return None; // frame_marker
    }
    let low = r.bits(1).ok()?;
    let high = r.bits(1).ok()?;
    let profile = (high << 1) | low;
    if profile == 3 && r.flag().ok()? {
        return None; // reserved_zero
    }
    if r.flag().ok()? {
        return None; // show_existing_frame
    }
    if r.flag().ok()? {
        return None; // frame_type = NON_KEY_FRAME
    }
    let _show_frame = r.flag().ok()?;
    let _error_resilient = r.flag().ok()?;
    if r.bits(24).ok()? != 0x49_8342 {
        return None; // frame_sync_code
    }
    if profile >= 2 {
        let _ten_or_twelve_bit = r.flag().ok()?;
    }
    let color_space = r.bits(3).ok()?;
    const CS_RGB: u32 = 7;
    if color_space != CS_RGB {
        let _color_range = r.flag().ok()?;
        if profile == 1 || profile == 3 {
            r.skip(3).ok()?; // subsampling_x, subsampling_y, reserved_zero
        }
    } else if profile == 1 || profile == 3 {
        r.skip(1).ok()?; // reserved_zero
    }
    let width = r.bits(16).ok()?.saturating_add(1);
    let height = r.bits(16).ok()?.saturating_add(1);
    Some((width, height))
}

#[cfg(test)]
mod tests;
