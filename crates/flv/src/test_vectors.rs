//! Real tag bodies captured from ffmpeg 5.1 + libx264 + the native AAC
//! encoder (`ffmpeg -f lavfi -i testsrc2=… -c:v libx264 … -c:a aac -f flv`),
//! dumped as the body of the first tags of each file. Expected values were
//! cross-checked with `ffprobe -show_streams` on the same files.

/// Decodes a hex string, ignoring whitespace.
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len() & 1 == 0, "odd hex length");
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// `-profile:v high -level 3.1`, 1280x720 @ 30 (720 = 45 MBs: no cropping).
/// AVC sequence header tag: 17 00 000000 + avcC (with high-profile extension).
pub(crate) const HIGH31_720P_SEQ: &str = "17000000000164001fffe1001a6764001facd9405005bb0110000003001000000303c0f183196001000668ebe3cb22c0fdf8f800";
/// `-profile:v baseline -level 3.0`, 640x360 @ 30 (368 coded rows, 8 cropped).
pub(crate) const BASE30_360P_SEQ: &str =
    "17000000000142c01effe100196742c01ed900a02ff970110000030001000003003c0f162e4801000568cb83cb20";
/// `-profile:v main -level 4.0`, 1920x1080 @ 25 (1088 coded rows).
pub(crate) const MAIN40_1080P_SEQ: &str = "1700000000014d4028ffe1001a674d4028eca03c0113f2e022000003000200000300641e30632c01000568ebe3cb20";
/// `-profile:v high -level 4.0`, 1920x1080 @ 30.
pub(crate) const HIGH40_1080P_SEQ: &str = "170000000001640028ffe1001b67640028acd940780227e5c044000003000400000300f03c60c65801000668ebe3cb22c0fdf8f800";
/// High, interlaced (`-x264-params interlaced=1`), 1920x1080 @ 30000/1001:
/// frame_mbs_only_flag = 0, so map units are field MB pairs.
pub(crate) const HIGH_INTERLACED_1080I_SEQ: &str = "170000000001640028ffe1001967640028acd94078044fde022000007d20001d4c03e2c5b2c001000668fba3cb22c0fdf8f800";
/// High, 720x576 @ 25, `setsar=16/15`, BT.709 colour, full range.
pub(crate) const HIGH_PAL_SAR_SEQ: &str = "17000000000164001effe100216764001eacd940b4126ffc0040003db808080a000003000200000300641e2c5b2c01000668ebe3cb22c0fdf8f800";
/// High, 352x288 @ 25, `setsar=5/7` (Extended_SAR).
pub(crate) const HIGH_EXT_SAR_SEQ: &str = "17000000000164000dffe1001d6764000dacd9416096ffc0014001c4000003000400000300c83c50a65801000668ebe3cb22c0fdf8f800";
/// High 10 (`-pix_fmt yuv420p10le`), 320x240.
pub(crate) const HIGH10_SEQ: &str = "1700000000016e000dffe10019676e000da6cd94141fb0110000030001000003003c0f14299601000668ebe3cb22c0fdfafa00";
/// High 4:4:4 Predictive (`-pix_fmt yuv444p`), 320x240.
pub(crate) const HIGH444_SEQ: &str = "170000000001f4000dffe1001967f4000d919b28283f6022000003000200000300781e28532c01000868ebe3c44c000440fff8f800";
/// Baseline 100x50 (both sides cropped).
pub(crate) const BASE_100X50_SEQ: &str =
    "17000000000142c00affe100196742c00ad907279e230110000003001000000303c0f122648001000568cb83cb20";

/// First 16 bytes of the first coded frame of HIGH31 (key frame, CTO 67 ms).
pub(crate) const HIGH31_KEY_FRAME_HEAD: &str = "1701000043000002ae0605ffffaadc45";
/// First 16 bytes of a later inter frame of HIGH31 (CTO 66 ms).
pub(crate) const HIGH31_INTER_FRAME_HEAD: &str = "27010000420000382d419a216c49ffbc";
/// End-of-sequence tag ffmpeg writes at the end.
pub(crate) const AVC_END_OF_SEQUENCE: &str = "1702000000";

/// AAC sequence header, 48 kHz stereo. Note the ASC `11 90 56 e5 00`:
/// ffmpeg appends a sync extension 0x2B7 + AOT 5 with sbrPresentFlag = 0.
pub(crate) const AAC_48K_STEREO_SEQ: &str = "af00119056e500";
/// AAC sequence header, 44.1 kHz mono (`12 08` + sync extension, no SBR).
pub(crate) const AAC_44K_MONO_SEQ: &str = "af00120856e500";
/// First 16 bytes of the first raw AAC frame (48 kHz stereo).
pub(crate) const AAC_FRAME_HEAD: &str = "af01de02004c61766335392e33372e31";

/// hvcC from `libx265` (320x240), trimmed to its VPS/SPS/PPS arrays
/// (numOfArrays patched from 4 to 3; the SEI array was dropped).
pub(crate) const HVCC_320X240: &str = "0101600000009000000000003cf000fcfdf8f800000f03\
    a00001001840010c01ffff01600000030090000003000003003c959809\
    a10001002a42010101600000030090000003000003003ca00a080f165959a4932bc05a020000030002000003003c10\
    a2000100074401c172b46240";

/// OpusHead from `libopus` (mono, 48 kHz, pre-skip 312).
pub(crate) const OPUS_HEAD: &str = "4f707573486561640101380180bb0000000000";

/// The avcC inside a legacy AVC sequence-header tag body (bytes 5..).
pub(crate) fn avcc_of(seq_tag_hex: &str) -> Vec<u8> {
    hex(seq_tag_hex)[5..].to_vec()
}

/// The first SPS NAL unit inside a legacy AVC sequence-header tag body.
pub(crate) fn sps_of(seq_tag_hex: &str) -> Vec<u8> {
    let avcc = avcc_of(seq_tag_hex);
    let len = usize::from(u16::from_be_bytes([avcc[6], avcc[7]]));
    avcc[8..8 + len].to_vec()
}
