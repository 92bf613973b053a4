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
