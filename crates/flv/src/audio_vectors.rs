//! Real audio tag bodies from ffmpeg 9.0.2 (the imageio-ffmpeg static
//! build), `-f lavfi -i sine=… -c:a <encoder> -f flv`: the first audio tags
//! of each file, whole for sequence starts and MultichannelConfig packets
//! and cut to their first bytes for coded frames. ffmpeg 9 writes the
//! E-RTMP FourCC form for Opus, FLAC, AC-3 and E-AC-3 and the legacy
//! SoundFormat 2 for MP3. The `*_MP4_*` constants are the payloads of the
//! boxes the same ffmpeg writes when it remuxes each file to MP4
//! (`-c copy x.mp4`), after the FullBox header where the box has one.

use bytes::Bytes;

use crate::test_vectors::hex;

/// The body of an E-RTMP tag given in hex: after the ExHeader byte and the
/// FourCC.
pub(crate) fn ex_body(tag_hex: &str) -> Bytes {
    Bytes::from(hex(tag_hex)).slice(5..)
}

// ---- Opus (libopus) ---------------------------------------------------------

/// SequenceStart, stereo: the OpusHead (pre-skip 312, 48 kHz, family 0).
pub(crate) const OPUS_STEREO_SEQ: &str = "904f7075734f707573486561640102380180bb0000000000";
/// MultichannelConfig, stereo: Native, 2 channels, flags FL | FR.
pub(crate) const OPUS_STEREO_MULTICHANNEL: &str = "944f707573010200000003";
/// First coded frame (TOC 0xfc: CELT FB 20 ms, stereo, one frame).
pub(crate) const OPUS_STEREO_FRAME: &str = "914f707573fc7e0299e7f9ecf511d613fd3afcf53c747846";
/// `dOps` ffmpeg writes for OPUS_STEREO_SEQ.
pub(crate) const OPUS_STEREO_MP4_DOPS: &str = "000201380000bb80000000";
/// SequenceStart, `-ac 6`: family 1, 4 streams, 2 coupled, mapping 0 4 1 2 3 5.
pub(crate) const OPUS_51_SEQ: &str =
    "904f7075734f707573486561640106380180bb00000000010402000401020305";
/// MultichannelConfig, 5.1: Native, 6 channels, flags 0x3f.
pub(crate) const OPUS_51_MULTICHANNEL: &str = "944f70757301060000003f";
/// First coded frame of the 5.1 stream (multistream, self-delimited).
pub(crate) const OPUS_51_FRAME: &str = "914f707573fc02fffefc02fffef8fe087249472710e4c85b";
/// `dOps` ffmpeg writes for OPUS_51_SEQ.
pub(crate) const OPUS_51_MP4_DOPS: &str = "000601380000bb800000010402000401020305";

// ---- FLAC (native encoder) --------------------------------------------------

/// SequenceStart, mono 48 kHz 16-bit: the bare 34-byte STREAMINFO
/// (no `fLaC` marker, no metadata block header).
pub(crate) const FLAC_MONO_SEQ: &str =
    "90664c6143040004000000000008150bb800f00000000000000000000000000000000000000000";
/// First coded frame, mono (block size code 0xa = 1024).
pub(crate) const FLAC_MONO_FRAME: &str = "91664c6143fff8aa0800ed4c000000eb01d602c003a7048a";
/// SequenceStart, stereo 48 kHz 16-bit.
pub(crate) const FLAC_STEREO_SEQ: &str =
    "90664c6143040004000000000010980bb802f00000000000000000000000000000000000000000";
/// MultichannelConfig, stereo.
pub(crate) const FLAC_STEREO_MULTICHANNEL: &str = "94664c6143010200000003";
/// First two coded frames, stereo (frame numbers 0 and 1).
pub(crate) const FLAC_STEREO_FRAME: &str = "91664c6143fff8aa88005b4c000000a6014c01f202950336";
pub(crate) const FLAC_STEREO_FRAME_2: &str = "91664c6143fff8aa88015c4c076406e3065c05cf053e04a7";
/// `dfLa` (after version/flags) ffmpeg writes for FLAC_STEREO_SEQ.
pub(crate) const FLAC_STEREO_MP4_DFLA: &str =
    "80000022040004000000000010980bb802f00000000000000000000000000000000000000000";
/// SequenceStart, stereo 44.1 kHz 24-bit (`-sample_fmt s32`).
pub(crate) const FLAC_44K_24BIT_SEQ: &str =
    "90664c61430400040000000000189a0ac443700000000000000000000000000000000000000000";
/// First coded frame of it (block size code 0xa, sample rate code 9 = 44.1 kHz).
pub(crate) const FLAC_44K_24BIT_FRAME: &str = "91664c6143fff8a98c00b24c00000000b504016954021cef";

// ---- AC-3 / E-AC-3 (native encoders) ----------------------------------------

/// SequenceStart for `ac-3`: the FourCC and nothing else.
pub(crate) const AC3_SEQ: &str = "9061632d33";
/// MultichannelConfig, 5.1: Native, 6 channels, flags 0x60f (FL FR FC LFE SL SR).
pub(crate) const AC3_51_MULTICHANNEL: &str = "9461632d3301060000060f";
/// First coded frame, `-ac 6`: 48 kHz, 448 kbit/s, acmod 7, LFE.
pub(crate) const AC3_51_FRAME: &str =
    "9161632d330b77b50b1e40ebf8403eff99ff0841fc3f87f0dd5c3e86fbfe757cf9f3e7cf";
/// `dac3` ffmpeg writes for the 5.1 stream.
pub(crate) const AC3_51_MP4_DAC3: &str = "103de0";
/// First coded frame, `-ac 2`: 48 kHz, 192 kbit/s, acmod 2.
pub(crate) const AC3_STEREO_FRAME: &str =
    "9161632d330b77fe95144043e106f46370c0c0c21818187ff7aefdf3e7cf9f38ef70dfbe";
/// `dac3` ffmpeg writes for the stereo stream.
pub(crate) const AC3_STEREO_MP4_DAC3: &str = "101140";
/// SequenceStart for `ec-3`: the FourCC and nothing else.
pub(crate) const EAC3_SEQ: &str = "9065632d33";
/// First coded frame, mono: 48 kHz, 6 blocks, 384 bytes (96 kbit/s).
pub(crate) const EAC3_MONO_FRAME: &str =
    "9165632d330b7700bf3287c00021064060e3bd57af0df3f7cf9f437cf9f3e7d0df0695f9";
/// `dec3` ffmpeg writes for the mono stream.
pub(crate) const EAC3_MONO_MP4_DEC3: &str = "0300200200";
/// First coded frame, `-ac 6`: 1792 bytes (448 kbit/s), acmod 7, LFE.
pub(crate) const EAC3_51_FRAME: &str =
    "9165632d330b77037f3f87c00020f820000200400004001fcc7e0107e1f87e10fa1beff9";
/// `dec3` ffmpeg writes for the 5.1 stream.
pub(crate) const EAC3_51_MP4_DEC3: &str = "0e00200f00";

// ---- MP3 (libmp3lame, legacy SoundFormat 2) ---------------------------------

/// 44.1 kHz mono: `2e` (MP3, 44 kHz, 16-bit, mono), MPEG-1 Layer III 64 kbit/s.
pub(crate) const MP3_44K_MONO_FRAME: &str = "2efffb50c40000074c0165b43080316c156a7732d0020000";
/// The next frame of the same stream (padding bit set: another size, the same configuration).
pub(crate) const MP3_44K_MONO_FRAME_2: &str = "2efffb52c412820870212dfdd10020ce83a5758ee04c0101";
/// 22.05 kHz mono: `2a` (MP3, 22 kHz), MPEG-2 Layer III 32 kbit/s.
pub(crate) const MP3_22K_MONO_FRAME: &str = "2afff340c40012b05e8c5f4f180001a7db6ff857a7d0f43d";
/// 48 kHz joint stereo: `2f` (ffmpeg flags 48 kHz MP3 as 44 kHz), MPEG-1 L3 128 kbit/s.
pub(crate) const MP3_48K_STEREO_FRAME: &str = "2ffffb94640000017a00596d0c600c00000d20a000010c74";
/// `esds` ffmpeg writes (objectTypeIndication at byte 17: 0x6B, 0x69).
pub(crate) const MP3_44K_MP4_ESDS: &str =
    "00000000038080801b000100048080800d6b150000000000fa080000fa08068080800102";
pub(crate) const MP3_22K_MP4_ESDS: &str =
    "00000000038080801b000100048080800d691500000000007d0600007d06068080800102";

// ---- AAC 5.1 ------------------------------------------------------------------

/// Legacy AAC sequence header, `-ac 6`: LC 48 kHz channelConfiguration 6.
pub(crate) const AAC_51_SEQ: &str = "af0011b056e500";
/// The E-RTMP MultichannelConfig ffmpeg sends after it (FourCC `mp4a`).
pub(crate) const AAC_51_MULTICHANNEL: &str = "946d70346101060000003f";
