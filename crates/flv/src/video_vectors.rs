//! Real E-RTMP video tag bodies from ffmpeg 9.0.2 (the imageio-ffmpeg static
//! build): `ffmpeg -f lavfi -i testsrc2=size=320x240:rate=30 -t 1 -c:v <enc>
//! … -g 30 -f flv out.flv`, then the body of each video tag. Sequence-start
//! constants are the record after the 5-byte E-RTMP header (byte 0 + FourCC).
//! Expected values were cross-checked with ffmpeg 9 reading the same files
//! and with the `CODECS` ffmpeg 9 writes for them
//! (`-c copy -f hls -hls_segment_type fmp4 -master_pl_name m.m3u8`).
// ---- HEVC: `-c:v libx265 -x265-params info=0` --------------------------

/// hvcC, Main, 320x240 @ 30 (VPS/SPS/PPS arrays).
pub(crate) const HEVC_MAIN_HVCC: &str = "0101600000009000000000003cf000fcfdf8f800000f03200001001840010c01ffff0160000003009000000300000300\
    3c959809210001002a42010101600000030090000003000003003ca00a080f165959a4932bc05a020000030002000003\
    003c1022000100074401c172b46240";

/// Key frame tag head: `91 hvc1`, CompositionTime 0x000043 (67 ms), NAL length.
pub(crate) const HEVC_MAIN_KEY_HEAD: &str = "916876633100004300000df12801af08482f3630179963fe";
/// Inter frame tag head: `a1 hvc1`, CompositionTime 0x000085 (133 ms).
pub(crate) const HEVC_MAIN_INTER_HEAD: &str = "a1687663310000850000072f0201d0195f8431840415ad95";

/// hvcC, Main 10: `-pix_fmt yuv420p10le -x265-params
/// info=0:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc`.
pub(crate) const HEVC_MAIN10_HVCC: &str = "0102200000009000000000003cf000fcfdfafa00000f03200001001840010c01ffff0220000003009000000300000300\
    3c959809210001002d42010102200000030090000003000003003ca00a080f1365959a4932bc05a84880482000000300\
    2000000303c122000100074401c172b46240";

// ---- AV1: `-c:v libsvtav1` ----------------------------------------------
// Temporal units (`*_TU`) are the CodedFrames body after `91 av01` with every
// frame / frame header OBU cut to its first 24 payload bytes (its size field
// rewritten to 24): the OBU structure and the uncompressed header start are
// real, the tile data is dropped to keep the constants small.

/// av1C, 8-bit (main profile, level idx 0, 4:2:0), configOBUs = sequence header.
pub(crate) const AV1_8BIT_AV1C: &str = "81000c000a0b0200000561e7fde017c002";
/// Key frame TU: temporal delimiter, sequence header, frame OBU (KEY_FRAME, shown).
pub(crate) const AV1_8BIT_KEY_TU: &str =
    "12000a0b0200000561e7fde357cc0232181400a18824db2a7b478b30b9705087ebf5c86d22bd8d948c";
/// Inter TU: temporal delimiter and five frame OBUs (the first a hidden inter frame).
pub(crate) const AV1_8BIT_INTER_TU: &str = "120032182810004000003d108102081040bf7817807000e27b98b5803218280802000024bd194000004fbe018000e125\
    47f3086615be32182804840000863d1c0000005fbe03e01800dca775661f6b3432182802880000b2bd1f0000004fbe01\
    8000e3bb064bcbe818a832183003000001ae3a460000010f92030000c4cb8dc15f339984";

/// av1C, 10-bit (`-pix_fmt yuv420p10le`).
pub(crate) const AV1_10BIT_AV1C: &str = "81004c000a0b0200000561e7fde017c202";
/// av1C, 10-bit with BT.2020 / PQ colour: `-vf setparams=color_primaries=bt2020:
/// color_trc=smpte2084:colorspace=bt2020nc -pix_fmt yuv420p10le`. ffmpeg 9
/// writes CODECS `av01.0.00M.10.0.110.09.16.09.0` for it.
pub(crate) const AV1_10BIT_PQ_AV1C: &str = "81004c000a0e0200000561e7fde017c284880482";
/// Its key frame TU.
pub(crate) const AV1_10BIT_PQ_KEY_TU: &str =
    "12000a0e0200000561e7fde357ce8488048232181400a1a024dd6d61671647c8b7e38f77e8e07fbb3f99876d";

// ---- VP9: `-c:v libvpx-vp9` ---------------------------------------------
// ffmpeg writes the vpcC FullBox header (version 1, flags 0) in front of the
// VPCodecConfigurationRecord. Frame heads are the first 24 bytes of the
// CodedFrames body after `91 vp09` / `a1 vp09` (VP9 has no composition time).

/// vpcC, profile 0, level 2.0, 8-bit 4:2:0, colour unspecified (2/2/2).
pub(crate) const VP9_P0_VPCC: &str = "010000000014820202020000";
pub(crate) const VP9_P0_KEY_HEAD: &str = "824983420013f00ef60438241c184a000b107fd9fa3c7718";
pub(crate) const VP9_P0_INTER_HEAD: &str = "86004092f0a14000005c7fd5f9e664fca0738f8bfafe3d2e";
/// vpcC, profile 2 (`-pix_fmt yuv420p10le`), 10-bit.
pub(crate) const VP9_P2_VPCC: &str = "010000000214a20202020000";
pub(crate) const VP9_P2_KEY_HEAD: &str = "924983420009f8077b021c120e0c2c0005687fd5f9be8fe7";
/// vpcC, profile 2 with BT.2020 / PQ (`setparams` as for AV1): 9/16/9.
pub(crate) const VP9_P2_PQ_VPCC: &str = "010000000214a20910090000";
pub(crate) const VP9_P2_PQ_KEY_HEAD: &str = "924983425009f8077b021c120e0c2c0005687fd5f9be8fe7";

/// hvcC, Main, 1920x1080 @ 25, `-vf setsar=16/15 -preset ultrafast`: the SPS
/// codes 1920x1088 with a conformance window of 8 rows, and SAR 16:15.
pub(crate) const HEVC_1080P_SAR_HVCC: &str = "01016000000090000000000078f000fcfdf8f800000f03200001001840010c01ffff01600000030090000003000003\
    0078959409210001002f420101016000000300900000030000030078a003c0801107cb965654a4c2fff0010000f68080\
    000003008000000c8422000100064401c073c189";

/// The colour every `*_PQ` / Main 10 vector signals: BT.2020 primaries,
/// PQ (SMPTE ST 2084) transfer, BT.2020 non-constant matrix, limited range.
pub(crate) const BT2020_PQ: crate::sps::ColourInfo = crate::sps::ColourInfo {
    colour_primaries: 9,
    transfer_characteristics: 16,
    matrix_coefficients: 9,
    full_range: false,
};
