//! Sample entries for `stsd` (MP4-INIT-03): the visual ones (`avc1`,
//! `hvc1`, `av01`, `vp09`, each with its configuration box, `colr` and
//! `pasp`) and `mp4a` (+`esds`).
//!
//! No `btrt`: CMAF recommends it, but an init segment is written from the
//! sequence header, before any bitrate is known, and made-up numbers would
//! be worse than none.

use weir_flv::{AacConfig, AvcConfig, ColourInfo};

use super::writer::{BoxError, BoxWriter};

/// The start of every SampleEntry: 6 reserved bytes and
/// data_reference_index 1 (the `url ` entry in `dref`).
fn write_sample_entry_header(w: &mut BoxWriter) {
    w.zeros(6);
    w.u16(1);
}

/// The video codecs Weir packages: which sample entry and configuration
/// box each uses (ISO/IEC 14496-15 for AVC and HEVC, the AV1 and VP9
/// ISOBMFF bindings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VisualCodec {
    /// `avc1` + `avcC`.
    Avc,
    /// `hvc1` + `hvcC`: parameter sets in the record only (CODEC-04).
    Hevc,
    /// `av01` + `av1C`.
    Av1,
    /// `vp09` + `vpcC` (a FullBox: the record given starts with its
    /// version 1 and flags).
    Vp9,
}

impl VisualCodec {
    fn entry(self) -> &'static [u8; 4] {
        match self {
            Self::Avc => b"avc1",
            Self::Hevc => b"hvc1",
            Self::Av1 => b"av01",
            Self::Vp9 => b"vp09",
        }
    }

    fn config(self) -> &'static [u8; 4] {
        match self {
            Self::Avc => b"avcC",
            Self::Hevc => b"hvcC",
            Self::Av1 => b"av1C",
            Self::Vp9 => b"vpcC",
        }
    }
}

/// A video sample entry, whatever the codec: the configuration record as
/// the publisher sent it (avcC, hvcC, av1C, vpcC with its FullBox header)
/// and what the
/// bitstream says about the picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VisualEntry<'a> {
    pub codec: VisualCodec,
    pub record: &'a [u8],
    /// Coded size after cropping, in luma samples.
    pub width: u32,
    pub height: u32,
    /// Sample aspect ratio, when the bitstream says.
    pub sar: Option<(u16, u16)>,
    /// Colour description (H.273 code points), written as `colr` `nclx`.
    pub colour: Option<ColourInfo>,
}

impl<'a> VisualEntry<'a> {
    /// The entry of an AVC configuration.
    pub fn avc(avc: &'a AvcConfig) -> Self {
        let sps = &avc.sps_info;
        VisualEntry {
            codec: VisualCodec::Avc,
            record: &avc.record,
            width: sps.width,
            height: sps.height,
            sar: sps.sar,
            colour: sps.colour,
        }
    }
}

/// The VisualSampleEntry with its configuration box, `colr` (when the
/// colour is described) and `pasp` (SAR, or 1:1).
pub(crate) fn write_visual(w: &mut BoxWriter, e: &VisualEntry<'_>) -> Result<(), BoxError> {
    let width = u16::try_from(e.width).map_err(|_| BoxError::ValueOutOfRange {
        what: "visual sample entry width",
        value: u64::from(e.width),
    })?;
    let height = u16::try_from(e.height).map_err(|_| BoxError::ValueOutOfRange {
        what: "visual sample entry height",
        value: u64::from(e.height),
    })?;
    w.write_box(e.codec.entry(), |w| {
        write_sample_entry_header(w);
        w.u16(0); // pre_defined
        w.u16(0); // reserved
        w.zeros(3 * 4); // pre_defined
        w.u16(width);
        w.u16(height);
        w.u32(0x0048_0000); // horizresolution 72 dpi
        w.u32(0x0048_0000); // vertresolution 72 dpi
        w.u32(0); // reserved
        w.u16(1); // frame_count
        w.zeros(32); // compressorname: empty Pascal string
        w.u16(0x0018); // depth
        w.i16(-1); // pre_defined
        w.write_box(e.codec.config(), |w| {
            w.bytes(e.record);
            Ok(())
        })?;
        if let Some(colour) = e.colour {
            w.write_box(b"colr", |w| {
                w.bytes(b"nclx");
                w.u16(u16::from(colour.colour_primaries));
                w.u16(u16::from(colour.transfer_characteristics));
                w.u16(u16::from(colour.matrix_coefficients));
                w.u8(if colour.full_range { 0x80 } else { 0 }); // full_range_flag + 7 reserved bits
                Ok(())
            })?;
        }
        let (h_spacing, v_spacing) = e.sar.unwrap_or((1, 1));
        w.write_box(b"pasp", |w| {
            w.u32(u32::from(h_spacing));
            w.u32(u32::from(v_spacing));
            Ok(())
        })
    })
}

/// `mp4a` channelcount: the ASC's output channel count (2 for parametric
/// stereo). A layout given by a program_config_element (count 0 in
/// [`AacConfig::channels`]) is written as 2, the field's template value;
/// decoders take the real layout from the ASC.
fn mp4a_channel_count(aac: &AacConfig) -> u16 {
    match aac.channels {
        0 => 2,
        n => u16::from(n),
    }
}

/// `mp4a` samplerate (the integer part of a 16.16 field): the output rate.
/// Rates above 65535 Hz (88.2/96 kHz) do not fit; they are halved until
/// they do, the integer division of the true rate that ISO/IEC 14496-12
/// §12.2.3 allows. An AAC decoder reads the real rate from the ASC.
pub fn mp4a_sample_rate(aac: &AacConfig) -> u16 {
    entry_sample_rate(aac.sample_rate)
}

/// ES_Descriptor tag (ISO/IEC 14496-1 §7.2.6.5).
const ES_DESCR_TAG: u8 = 0x03;
/// DecoderConfigDescriptor tag (§7.2.6.6).
const DECODER_CONFIG_DESCR_TAG: u8 = 0x04;
/// DecoderSpecificInfo tag (§7.2.6.7).
const DEC_SPECIFIC_INFO_TAG: u8 = 0x05;
/// SLConfigDescriptor tag (§7.3.2.3).
const SL_CONFIG_DESCR_TAG: u8 = 0x06;
/// objectTypeIndication: Audio ISO/IEC 14496-3 (AAC and its extensions).
const OTI_MPEG4_AUDIO: u8 = 0x40;
/// streamType 5 (AudioStream) << 2 | upStream 0 << 1 | reserved 1.
const STREAM_TYPE_AUDIO_BYTE: u8 = 0x05 << 2 | 0x01;
/// SLConfigDescriptor predefined = 2: the value reserved for MP4 files.
const SL_PREDEFINED_MP4: u8 = 0x02;

/// The audio codecs Weir packages and what their configuration box holds
/// (the packager converts each publisher's configuration into it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioCodec<'a> {
    /// `mp4a` + `esds` (OTI 0x40) with the AudioSpecificConfig.
    Aac { asc: &'a [u8] },
    /// `mp4a` + `esds` with no DecoderSpecificInfo: object type 0x6B
    /// (MPEG-1 audio) or 0x69 (MPEG-2 audio).
    Mp3 { object_type: u8 },
    /// `Opus` + `dOps` (Opus in ISOBMFF §4.3.2).
    Opus { dops: &'a [u8] },
    /// `fLaC` + `dfLa` (FLAC in ISOBMFF §3.3.2): FullBox version 0 around
    /// the metadata blocks.
    Flac { dfla: &'a [u8] },
    /// `ac-3` + `dac3` (ETSI TS 102 366 Annex F).
    Ac3 { dac3: &'a [u8] },
    /// `ec-3` + `dec3` (ETSI TS 102 366 Annex F).
    Eac3 { dec3: &'a [u8] },
}

/// An audio sample entry: the codec and what the entry's own fields say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioEntry<'a> {
    pub codec: AudioCodec<'a>,
    /// channelcount (decoders take the real layout from the configuration).
    pub channels: u16,
    /// The output sample rate; written halved until it fits 16 bits.
    pub sample_rate: u32,
}

impl<'a> AudioEntry<'a> {
    /// The entry of an AAC configuration.
    pub fn aac(aac: &'a AacConfig) -> Self {
        AudioEntry {
            codec: AudioCodec::Aac { asc: &aac.record },
            channels: mp4a_channel_count(aac),
            sample_rate: aac.sample_rate,
        }
    }
}

/// `samplerate`, the integer part of a 16.16 field: rates above 65535 Hz
/// are halved until they fit (ISO/IEC 14496-12 §12.2.3).
fn entry_sample_rate(rate: u32) -> u16 {
    let mut rate = rate;
    loop {
        if let Ok(rate) = u16::try_from(rate) {
            return rate;
        }
        rate /= 2;
    }
}

/// An AudioSampleEntry with its configuration box.
pub(crate) fn write_audio(w: &mut BoxWriter, e: &AudioEntry<'_>) -> Result<(), BoxError> {
    let entry: &[u8; 4] = match e.codec {
        AudioCodec::Aac { .. } | AudioCodec::Mp3 { .. } => b"mp4a",
        AudioCodec::Opus { .. } => b"Opus",
        AudioCodec::Flac { .. } => b"fLaC",
        AudioCodec::Ac3 { .. } => b"ac-3",
        AudioCodec::Eac3 { .. } => b"ec-3",
    };
    w.write_box(entry, |w| {
        write_sample_entry_header(w);
        w.zeros(2 * 4); // reserved
        w.u16(e.channels);
        w.u16(16); // samplesize
        w.u16(0); // pre_defined
        w.u16(0); // reserved
        w.u16(entry_sample_rate(e.sample_rate));
        w.u16(0); // fractional part of the 16.16 rate
        match e.codec {
            AudioCodec::Aac { asc } => write_esds(w, OTI_MPEG4_AUDIO, Some(asc)),
            AudioCodec::Mp3 { object_type } => write_esds(w, object_type, None),
            AudioCodec::Opus { dops } => w.write_box(b"dOps", |w| {
                w.bytes(dops);
                Ok(())
            }),
            AudioCodec::Flac { dfla } => w.write_full_box(b"dfLa", 0, 0, |w| {
                w.bytes(dfla);
                Ok(())
            }),
            AudioCodec::Ac3 { dac3 } => w.write_box(b"dac3", |w| {
                w.bytes(dac3);
                Ok(())
            }),
            AudioCodec::Eac3 { dec3 } => w.write_box(b"dec3", |w| {
                w.bytes(dec3);
                Ok(())
            }),
        }
    })
}

/// `esds`: ES_Descriptor → DecoderConfigDescriptor (`object_type`, audio)
/// → DecoderSpecificInfo (when there is one), then SLConfigDescriptor
/// (predefined 2). Buffer size and bitrates are 0: unknown when the init
/// segment is made.
fn write_esds(w: &mut BoxWriter, object_type: u8, dsi: Option<&[u8]>) -> Result<(), BoxError> {
    w.write_full_box(b"esds", 0, 0, |w| {
        w.write_descriptor(ES_DESCR_TAG, |w| {
            // ES_ID 0: in an MP4 file the stream is identified by its track.
            w.u16(0);
            w.u8(0); // streamDependenceFlag, URL_Flag, OCRstreamFlag, streamPriority
            w.write_descriptor(DECODER_CONFIG_DESCR_TAG, |w| {
                w.u8(object_type);
                w.u8(STREAM_TYPE_AUDIO_BYTE);
                w.u24(0)?; // bufferSizeDB
                w.u32(0); // maxBitrate
                w.u32(0); // avgBitrate
                match dsi {
                    Some(dsi) => w.write_descriptor(DEC_SPECIFIC_INFO_TAG, |w| {
                        w.bytes(dsi);
                        Ok(())
                    }),
                    None => Ok(()),
                }
            })?;
            w.write_descriptor(SL_CONFIG_DESCR_TAG, |w| {
                w.u8(SL_PREDEFINED_MP4);
                Ok(())
            })
        })
    })
}
