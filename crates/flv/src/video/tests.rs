use super::*;
use crate::test_vectors::*;
use crate::video_vectors::*;

fn parse_hex(s: &str) -> Result<VideoTag, FlvError> {
    parse_video(Bytes::from(hex(s)))
}

/// Concatenates byte groups (one group per field in the tests).
fn cat(parts: &[&[u8]]) -> Bytes {
    Bytes::from(parts.concat())
}

fn coded(tag: &VideoTag) -> (i32, &[u8]) {
    match &tag.packet {
        VideoPacket::Coded {
            composition_offset_ms,
            data,
        } => (*composition_offset_ms, &data[..]),
        other => panic!("expected Coded, got {other:?}"),
    }
}

fn config(tag: &VideoTag) -> &VideoConfig {
    match &tag.packet {
        VideoPacket::SequenceStart(c) => c,
        other => panic!("expected SequenceStart, got {other:?}"),
    }
}

fn unsupported_text(r: Result<VideoTag, FlvError>) -> String {
    match r {
        Err(FlvError::Unsupported { what }) => what,
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

// ---- FLV-V-01: legacy AVC -------------------------------------------

#[test]
fn flv_v_01_real_sequence_header() {
    let tag = parse_hex(HIGH31_720P_SEQ).unwrap();
    assert_eq!(tag.frame_type, FrameType::Key);
    let c = config(&tag);
    assert_eq!(c.codec_string().as_deref(), Some("avc1.64001f"));
    assert_eq!(&c.record()[..], &avcc_of(HIGH31_720P_SEQ)[..]);
    assert_eq!(&c.fourcc(), b"avc1");
    let VideoConfig::Avc(avc) = c else {
        panic!("not AVC")
    };
    assert_eq!((avc.sps_info.width, avc.sps_info.height), (1280, 720));
}

#[test]
fn flv_v_01_real_coded_frames_and_composition_time() {
    let payload = Bytes::from(hex(HIGH31_KEY_FRAME_HEAD));
    let tag = parse_video(payload.clone()).unwrap();
    assert_eq!(tag.frame_type, FrameType::Key);
    assert!(tag.frame_type.is_key());
    let (cto, data) = coded(&tag);
    assert_eq!(cto, 67);
    assert_eq!(data, &payload[5..]);
    // Zero copy: the data is a slice of the payload.
    assert_eq!(data.as_ptr(), payload[5..].as_ptr());

    let tag = parse_hex(HIGH31_INTER_FRAME_HEAD).unwrap();
    assert_eq!(tag.frame_type, FrameType::Inter);
    assert!(!tag.frame_type.is_key());
    assert_eq!(coded(&tag).0, 66);
}

/// RTMP-TS-05: the SI24 is signed.
#[test]
fn flv_v_01_negative_composition_time() {
    let tag = parse_video(cat(&[
        &[0x27],             // FrameType 2 (inter) | CodecID 7
        &[0x01],             // AVCPacketType 1 (NALUs)
        &[0xff, 0xff, 0xbe], // CompositionTime −66
        &[0, 0, 0, 1, 0x41], // NALU (length 1)
    ]))
    .unwrap();
    assert_eq!(coded(&tag), (-66, &[0, 0, 0, 1, 0x41][..]));
}

/// Empty coded payloads are returned; callers decide.
#[test]
fn flv_v_01_empty_coded_frame_is_returned() {
    let tag = parse_video(cat(&[&[0x17, 0x01, 0, 0, 0]])).unwrap();
    assert_eq!(coded(&tag), (0, &[][..]));
}

#[test]
fn flv_v_01_end_of_sequence() {
    let tag = parse_hex(AVC_END_OF_SEQUENCE).unwrap();
    assert_eq!(tag.packet, VideoPacket::SequenceEnd);
}

#[test]
fn flv_v_01_bad_avc_packet_type() {
    assert!(matches!(
        parse_video(cat(&[&[0x17, 0x03, 0, 0, 0]])),
        Err(FlvError::Invalid {
            what: "AVCPacketType",
            ..
        })
    ));
}

/// Every prefix of a legacy tag fails, except the sequence-header
/// prefix that stops before the optional avcC extension and coded-frame
/// prefixes that keep the 5-byte header (shorter data).
#[test]
fn flv_v_01_truncation_at_every_prefix() {
    let seq = Bytes::from(hex(HIGH31_720P_SEQ));
    for n in 0..seq.len() {
        let res = parse_video(seq.slice(..n));
        assert_eq!(res.is_ok(), n == seq.len() - 4, "prefix {n}");
    }
    let frame = Bytes::from(hex(HIGH31_KEY_FRAME_HEAD));
    for n in 0..frame.len() {
        let res = parse_video(frame.slice(..n));
        assert_eq!(res.is_ok(), n >= 5, "prefix {n}");
    }
    assert!(matches!(
        parse_video(Bytes::new()),
        Err(FlvError::Truncated { .. })
    ));
}

/// ERTMP-09: legacy CodecID 12 is HEVC laid out like legacy AVC (packet
/// type, SI24 composition time, hvcC); it is never parsed as AVC.
#[test]
fn ertmp_09_legacy_codec_id_12_is_hevc() {
    let hvcc = hex(HEVC_MAIN_HVCC);
    // FrameType 1 | CodecID 12, packet type 0, CompositionTime 0, hvcC.
    let tag = parse_video(cat(&[&[0x1c, 0x00, 0, 0, 0], &hvcc])).unwrap();
    assert_eq!(tag.frame_type, FrameType::Key);
    let c = config(&tag);
    assert!(matches!(c, VideoConfig::Hevc(_)), "{c:?}");
    assert_eq!(&c.fourcc(), b"hvc1");
    assert_eq!(c.codec_string().as_deref(), Some("hvc1.1.6.L60.90"));
    assert_eq!(&c.record()[..], &hvcc[..]);
    // Coded frames: SI24 composition time, signed.
    let tag = parse_video(cat(&[&[0x2c, 0x01, 0xff, 0xff, 0xbe], &[0, 0, 0, 1, 0x02]])).unwrap();
    assert_eq!(tag.frame_type, FrameType::Inter);
    assert_eq!(coded(&tag), (-66, &[0, 0, 0, 1, 0x02][..]));
    let tag = parse_video(cat(&[&[0x1c, 0x02, 0, 0, 0]])).unwrap();
    assert_eq!(tag.packet, VideoPacket::SequenceEnd);
    // An avcC behind CodecID 12 is not taken for AVC: it fails as an hvcC.
    let mut body = hex(HIGH31_720P_SEQ);
    body[0] = 0x1c;
    assert!(!matches!(
        parse_video(Bytes::from(body)),
        Ok(VideoTag {
            packet: VideoPacket::SequenceStart(VideoConfig::Avc(_)),
            ..
        })
    ));
}

/// ERTMP-09: legacy CodecID 13 (AV1) stays a clear Unsupported error.
#[test]
fn ertmp_09_legacy_codec_id_13_is_unsupported() {
    let mut body = hex(HIGH31_720P_SEQ);
    body[0] = 0x1d; // FrameType 1 | CodecID 13
    let text = unsupported_text(parse_video(Bytes::from(body)));
    assert!(
        text.contains("CodecID 13") && text.contains("AV1"),
        "{text}"
    );
}

#[test]
fn other_legacy_codecs_are_unsupported() {
    for (codec, name) in [
        (2u8, "Sorenson"),
        (3, "Screen video"),
        (4, "VP6"),
        (5, "alpha"),
        (6, "Screen video v2"),
        (0, "reserved"),
        (8, "reserved"),
        (15, "reserved"),
    ] {
        let text = unsupported_text(parse_video(cat(&[&[0x10 | codec, 0, 0]])));
        assert!(text.contains(name), "{codec}: {text}");
    }
}

#[test]
fn legacy_command_frame_is_ignored() {
    // FrameType 5 | CodecID 7, VideoCommand 0 (start of seek).
    let tag = parse_video(cat(&[&[0x57, 0x00]])).unwrap();
    assert_eq!(tag.frame_type, FrameType::Command);
    assert!(matches!(tag.packet, VideoPacket::Ignored { .. }));
}

#[test]
fn legacy_reserved_frame_types_are_invalid() {
    for b0 in [0x07u8, 0x67, 0x77] {
        assert!(matches!(
            parse_video(cat(&[&[b0, 0x01, 0, 0, 0]])),
            Err(FlvError::Invalid {
                what: "VideoFrameType",
                ..
            })
        ));
    }
    // Frame types 2, 3 and 4 are accepted.
    for (b0, ft) in [
        (0x27u8, FrameType::Inter),
        (0x37, FrameType::Disposable),
        (0x47, FrameType::GeneratedKey),
    ] {
        let tag = parse_video(cat(&[&[b0, 0x01, 0, 0, 0]])).unwrap();
        assert_eq!(tag.frame_type, ft);
    }
    assert!(FrameType::GeneratedKey.is_key());
}

// ---- ERTMP-01…03: Enhanced RTMP, single track ------------------------

#[test]
fn ertmp_avc1_sequence_start() {
    let avcc = avcc_of(HIGH31_720P_SEQ);
    let tag = parse_video(cat(&[
        &[0x90], // IsExHeader | FrameType 1 | PacketType 0 (SequenceStart)
        b"avc1", // FourCC
        &avcc,   // AVCDecoderConfigurationRecord
    ]))
    .unwrap();
    assert_eq!(tag.frame_type, FrameType::Key);
    assert_eq!(config(&tag).codec_string().as_deref(), Some("avc1.64001f"));
    assert_eq!(&config(&tag).record()[..], &avcc[..]);
}

#[test]
fn ertmp_avc1_coded_frames_and_coded_frames_x() {
    let tag = parse_video(cat(&[
        &[0x91],             // IsExHeader | FrameType 1 | CodedFrames
        b"avc1",             // FourCC
        &[0x00, 0x00, 0x21], // CompositionTime 33
        &[0, 0, 0, 1, 0x65], // NALU
    ]))
    .unwrap();
    assert_eq!(coded(&tag), (33, &[0, 0, 0, 1, 0x65][..]));
    let tag = parse_video(cat(&[
        &[0xa3],             // IsExHeader | FrameType 2 | CodedFramesX
        b"avc1",             // FourCC
        &[0, 0, 0, 1, 0x41], // NALU, no CompositionTime
    ]))
    .unwrap();
    assert_eq!(tag.frame_type, FrameType::Inter);
    assert_eq!(coded(&tag), (0, &[0, 0, 0, 1, 0x41][..]));
}

/// ERTMP-03: an E-RTMP hvc1 SequenceStart is an HEVC configuration.
#[test]
fn ertmp_03_hvc1_sequence_start() {
    for (record, codecs) in [
        (HEVC_MAIN_HVCC, "hvc1.1.6.L60.90"),
        (HEVC_MAIN10_HVCC, "hvc1.2.4.L60.90"),
    ] {
        let hvcc = hex(record);
        let tag = parse_video(cat(&[&[0x90], b"hvc1", &hvcc])).unwrap();
        let c = config(&tag);
        assert!(matches!(c, VideoConfig::Hevc(_)), "{c:?}");
        assert_eq!(c.codec_string().as_deref(), Some(codecs));
        assert_eq!(&c.record()[..], &hvcc[..]);
        assert_eq!(c.codec_name(), "HEVC");
        let f = c.format().unwrap();
        assert_eq!((f.width, f.height, f.frame_rate), (320, 240, Some((30, 1))));
    }
    // A broken hvcC is an error, not an Unsupported config.
    assert!(parse_video(cat(&[&[0x90], b"hvc1", &[0x01, 0x01]])).is_err());
}

/// Real HEVC CodedFrames from ffmpeg 9: SI24 composition time (67, 133 ms).
#[test]
fn ertmp_hvc1_real_coded_frames() {
    let tag = parse_hex(HEVC_MAIN_KEY_HEAD).unwrap();
    assert_eq!(tag.frame_type, FrameType::Key);
    assert_eq!(coded(&tag).0, 67);
    assert_eq!(coded(&tag).1, &hex(HEVC_MAIN_KEY_HEAD)[8..]);
    let tag = parse_hex(HEVC_MAIN_INTER_HEAD).unwrap();
    assert_eq!(tag.frame_type, FrameType::Inter);
    assert_eq!(coded(&tag).0, 133);
    // CodedFramesX: no composition time.
    let tag = parse_video(cat(&[&[0xa3], b"hvc1", &[0, 0, 0, 1, 0x02]])).unwrap();
    assert_eq!(coded(&tag), (0, &[0, 0, 0, 1, 0x02][..]));
}

/// ERTMP-03: an E-RTMP av01 SequenceStart is an AV1 configuration; a
/// broken av1C is an error.
#[test]
fn ertmp_03_av01_sequence_start() {
    let record = hex(AV1_10BIT_AV1C);
    let tag = parse_video(cat(&[&[0x90], b"av01", &record])).unwrap();
    let c = config(&tag);
    assert!(matches!(c, VideoConfig::Av1(_)), "{c:?}");
    assert_eq!(c.codec_string().as_deref(), Some("av01.0.00M.10"));
    assert_eq!(&c.record()[..], &record[..]);
    assert_eq!(&c.fourcc(), b"av01");
    assert!(parse_video(cat(&[&[0x90], b"av01", &[0x81, 0x00, 0x0c, 0x00]])).is_err());
}

/// ERTMP-03: an E-RTMP vp09 SequenceStart is a VP9 configuration (its
/// size comes later, from the first key frame).
#[test]
fn ertmp_03_vp09_sequence_start() {
    let record = hex(VP9_P2_VPCC);
    let tag = parse_video(cat(&[&[0x90], b"vp09", &record])).unwrap();
    let c = config(&tag);
    assert!(matches!(c, VideoConfig::Vp9(_)), "{c:?}");
    assert_eq!(c.codec_string().as_deref(), Some("vp09.02.20.10"));
    assert_eq!(&c.record()[..], &record[..]);
    assert_eq!((&c.fourcc(), c.codec_name()), (b"vp09", "VP9"));
    assert!(parse_video(cat(&[&[0x90], b"vp09", &[0x01, 0x00]])).is_err());
    // Real coded frames: no composition time.
    let tag = parse_video(cat(&[&[0x91], b"vp09", &hex(VP9_P0_KEY_HEAD)])).unwrap();
    assert_eq!(coded(&tag), (0, &hex(VP9_P0_KEY_HEAD)[..]));
}

/// ERTMP-03: recognised but not packaged codecs keep their record.
#[test]
fn ertmp_03_vp08_and_vvc1_are_unsupported_configs() {
    for (fourcc, name) in [(b"vp08", "VP8"), (b"vvc1", "VVC (H.266)")] {
        let tag = parse_video(cat(&[&[0x90], fourcc, &[0x81, 0x00]])).unwrap();
        let c = config(&tag);
        assert_eq!(
            c,
            &VideoConfig::Unsupported {
                fourcc: *fourcc,
                record: Bytes::from_static(&[0x81, 0x00])
            }
        );
        assert_eq!(&c.fourcc(), fourcc);
        assert_eq!(c.codec_string(), None);
        assert_eq!(c.format(), None);
        assert_eq!(c.codec_name(), name);
    }
}

/// CodedFrames carry SI24 for hvc1/vvc1 only; av01/vp09/vp08 do not.
#[test]
fn ertmp_02_composition_time_only_for_nal_codecs() {
    for fourcc in [b"hvc1", b"vvc1"] {
        let tag = parse_video(cat(&[&[0x91], fourcc, &[0xff, 0xff, 0xff], &[0xaa]])).unwrap();
        assert_eq!(coded(&tag), (-1, &[0xaa][..]));
    }
    for fourcc in [b"av01", b"vp09", b"vp08"] {
        let tag = parse_video(cat(&[&[0x91], fourcc, &[0x12, 0x00, 0x0a]])).unwrap();
        assert_eq!(coded(&tag), (0, &[0x12, 0x00, 0x0a][..]));
    }
}

#[test]
fn ertmp_sequence_end_metadata_and_mpeg2ts() {
    let tag = parse_video(cat(&[&[0x92], b"hvc1"])).unwrap();
    assert_eq!(tag.packet, VideoPacket::SequenceEnd);
    // Metadata with frame type 5, as ffmpeg writes it: no VideoCommand.
    let tag = parse_video(cat(&[
        &[0xd4],             // IsExHeader | FrameType 5 | Metadata
        b"hvc1",             // FourCC
        &[0x02, 0x00, 0x09], // AMF0 string "colorInfo" (length 9) …
        b"colorInfo",        // … its bytes
    ]))
    .unwrap();
    assert!(matches!(tag.packet, VideoPacket::Ignored { .. }));
    // Metadata ignores the frame type, even a reserved one.
    let tag = parse_video(cat(&[&[0x84], b"avc1"])).unwrap();
    assert!(matches!(tag.packet, VideoPacket::Ignored { .. }));
    let tag = parse_video(cat(&[&[0x95], b"av01", &[0x80]])).unwrap();
    assert!(matches!(tag.packet, VideoPacket::Ignored { .. }));
}

#[test]
fn ertmp_command_frame_is_ignored() {
    // IsExHeader | FrameType 5 | CodedFrames, VideoCommand 1 (end seek).
    let tag = parse_video(cat(&[&[0xd1, 0x01]])).unwrap();
    assert_eq!(tag.frame_type, FrameType::Command);
    assert!(matches!(tag.packet, VideoPacket::Ignored { .. }));
    assert!(matches!(
        parse_video(cat(&[&[0xd1]])),
        Err(FlvError::Truncated {
            what: "VideoCommand",
            ..
        })
    ));
}

/// ERTMP-02: unknown values fail in a controlled way.
#[test]
fn ertmp_02_unknown_fourcc_packet_type_and_frame_type() {
    let text = unsupported_text(parse_video(cat(&[&[0x91], b"xyz\x01", &[0, 0, 0]])));
    assert!(text.contains("xyz\\x01"), "{text}");
    assert!(
        text.contains("unknown codec") && text.contains("Weir packages"),
        "{text}"
    );
    for packet_type in 8u8..=15 {
        let text = unsupported_text(parse_video(cat(&[&[0x90 | packet_type], b"avc1"])));
        assert!(text.contains("VideoPacketType"), "{text}");
    }
    for b0 in [0x81u8, 0xe1, 0xf1] {
        assert!(matches!(
            parse_video(cat(&[&[b0], b"avc1", &[0, 0, 0]])),
            Err(FlvError::Invalid {
                what: "VideoFrameType",
                ..
            })
        ));
    }
}

// ---- ERTMP-06: ModEx ----------------------------------------------

#[test]
fn ertmp_06_mod_ex_timestamp_offset_nano() {
    let tag = parse_video(cat(&[
        &[0x97],             // IsExHeader | FrameType 1 | ModEx
        &[0x02],             // modExDataSize − 1 = 2 (3 bytes)
        &[0x0f, 0x42, 0x3f], // TimestampOffsetNano 999 999
        &[0x01],             // ModExType 0 | PacketType 1 (CodedFrames)
        b"avc1",             // FourCC
        &[0x00, 0x00, 0x10], // CompositionTime 16
        &[0xab],             // data
    ]))
    .unwrap();
    assert_eq!(coded(&tag), (16, &[0xab][..]));
}

#[test]
fn ertmp_06_mod_ex_16_bit_size_and_chain() {
    let avcc = avcc_of(BASE30_360P_SEQ);
    let big = vec![0x5a; 300];
    let tag = parse_video(cat(&[
        &[0x97],       // IsExHeader | FrameType 1 | ModEx
        &[0xff],       // modExDataSize − 1 = 255 → 16-bit size follows
        &[0x01, 0x2b], // modExDataSize − 1 = 299 (300 bytes)
        &big,          // modExData
        &[0x17],       // ModExType 1 (unknown, skipped) | PacketType 7 (ModEx again)
        &[0x00],       // modExDataSize − 1 = 0 (1 byte)
        &[0x00],       // modExData
        &[0x00],       // ModExType 0 | PacketType 0 (SequenceStart)
        b"avc1",       // FourCC
        &avcc,         // avcC
    ]))
    .unwrap();
    assert_eq!(config(&tag).codec_string().as_deref(), Some("avc1.42c01e"));
}

#[test]
fn ertmp_06_mod_ex_truncated() {
    let full = cat(&[&[0x97, 0x02, 0x00, 0x00, 0x00, 0x03], b"avc1", &[0x41]]);
    for n in 1..6 {
        assert!(parse_video(full.slice(..n)).is_err(), "prefix {n}");
    }
    assert!(parse_video(cat(&[&[0x97, 0xff, 0x01]])).is_err());
}

// ---- ERTMP-05: multitrack -------------------------------------------

#[test]
fn ertmp_05_one_track() {
    let tag = parse_video(cat(&[
        &[0x96],             // IsExHeader | FrameType 1 | Multitrack
        &[0x03],             // AvMultitrackType 0 (OneTrack) | PacketType 3 (CodedFramesX)
        b"avc1",             // FourCC
        &[0x00],             // trackId 0
        &[0, 0, 0, 1, 0x65], // data
    ]))
    .unwrap();
    assert_eq!(coded(&tag), (0, &[0, 0, 0, 1, 0x65][..]));
    let tag = parse_video(cat(&[&[0x96, 0x03], b"avc1", &[0x02], &[0x65]])).unwrap();
    assert!(
        matches!(tag.packet, VideoPacket::Ignored { .. }),
        "trackId 2 only"
    );
}

#[test]
fn ertmp_05_many_tracks_selects_track_0() {
    let tag = parse_video(cat(&[
        &[0x96],                         // IsExHeader | FrameType 1 | Multitrack
        &[0x11],                         // AvMultitrackType 1 (ManyTracks) | CodedFrames
        b"avc1",                         // FourCC shared by all tracks
        &[0x01],                         // trackId 1
        &[0x00, 0x00, 0x04],             // sizeOfTrack 4
        &[0x00, 0x00, 0x00, 0xee],       // CTO 0 + data of track 1 (skipped)
        &[0x00],                         // trackId 0
        &[0x00, 0x00, 0x05],             // sizeOfTrack 5
        &[0x00, 0x00, 0x21, 0xaa, 0xbb], // CTO 33 + data of track 0
        &[0x02],                         // trackId 2
        &[0x00, 0x00, 0x00],             // sizeOfTrack 0
    ]))
    .unwrap();
    assert_eq!(coded(&tag), (33, &[0xaa, 0xbb][..]));
}

#[test]
fn ertmp_05_many_tracks_many_codecs() {
    let avcc = avcc_of(MAIN40_1080P_SEQ);
    let hvcc = hex(HVCC_320X240);
    let mut parts: Vec<&[u8]> = vec![
        &[0x96], // IsExHeader | FrameType 1 | Multitrack
        &[0x20], // AvMultitrackType 2 (ManyTracksManyCodecs) | SequenceStart
        b"hvc1", // FourCC of the first track
        &[0x01], // trackId 1
    ];
    let hvcc_size = (hvcc.len() as u32).to_be_bytes();
    parts.push(&hvcc_size[1..]); // sizeOfTrack
    parts.push(&hvcc);
    let avcc_size = (avcc.len() as u32).to_be_bytes();
    parts.extend_from_slice(&[b"avc1", &[0x00], &avcc_size[1..], &avcc]);
    let tag = parse_video(cat(&parts)).unwrap();
    assert_eq!(config(&tag).codec_string().as_deref(), Some("avc1.4d4028"));
}

#[test]
fn ertmp_05_no_default_track_is_ignored() {
    let tag = parse_video(cat(&[
        &[0x96, 0x13],          // Multitrack; ManyTracks | CodedFramesX
        b"vp09",                // FourCC
        &[0x01, 0, 0, 1, 0xaa], // trackId 1, size 1, data
        &[0x02, 0, 0, 0],       // trackId 2, size 0
    ]))
    .unwrap();
    assert!(matches!(tag.packet, VideoPacket::Ignored { .. }));
    // No tracks at all.
    let tag = parse_video(cat(&[&[0x96, 0x13], b"vp09"])).unwrap();
    assert!(matches!(tag.packet, VideoPacket::Ignored { .. }));
}

/// The whole message is walked: a later track running past the end is
/// an error even when track 0 came first.
#[test]
fn ertmp_05_track_size_past_the_end() {
    let res = parse_video(cat(&[
        &[0x96, 0x13],          // Multitrack; ManyTracks | CodedFramesX
        b"avc1",                // FourCC
        &[0x00, 0, 0, 1, 0xaa], // trackId 0, size 1
        &[0x01, 0, 0, 9, 0xbb], // trackId 1, size 9 but 1 byte left
    ]));
    assert!(matches!(res, Err(FlvError::Truncated { .. })));
}

#[test]
fn ertmp_05_bad_multitrack_headers() {
    // Multitrack inside multitrack, and ModEx inside multitrack.
    for b in [0x06u8, 0x07] {
        assert!(matches!(
            parse_video(cat(&[&[0x96, b], b"avc1", &[0x00]])),
            Err(FlvError::Invalid { .. })
        ));
    }
    // AvMultitrackType 3 is reserved.
    let text = unsupported_text(parse_video(cat(&[&[0x96, 0x31], b"avc1", &[0x00]])));
    assert!(text.contains("AvMultitrackType 3"), "{text}");
}

#[test]
fn ertmp_05_metadata_in_multitrack_is_ignored() {
    let tag = parse_video(cat(&[&[0x96, 0x04], b"hvc1", &[0x00], &[0x02, 0x00]])).unwrap();
    assert!(matches!(tag.packet, VideoPacket::Ignored { .. }));
}

#[test]
fn ertmp_mod_ex_then_multitrack() {
    let tag = parse_video(cat(&[
        &[0x97],          // IsExHeader | FrameType 1 | ModEx
        &[0x02, 0, 0, 1], // 3 bytes of ModEx data
        &[0x06],          // ModExType 0 | PacketType 6 (Multitrack)
        &[0x03],          // OneTrack | CodedFramesX
        b"av01",          // FourCC
        &[0x00],          // trackId 0
        &[0x12, 0x00],    // OBUs
    ]))
    .unwrap();
    assert_eq!(coded(&tag), (0, &[0x12, 0x00][..]));
}

/// Every strict prefix of an E-RTMP message fails or, for a
/// many-tracks message cut exactly between tracks, parses without panic.
#[test]
fn ertmp_truncation_at_every_prefix() {
    let avcc = avcc_of(HIGH31_720P_SEQ);
    let single = cat(&[&[0x90], b"avc1", &avcc]);
    for n in 0..single.len() {
        let ok = parse_video(single.slice(..n)).is_ok();
        assert_eq!(ok, n == single.len() - 4, "prefix {n}");
    }
    let multi = cat(&[
        &[0x96, 0x11],
        b"avc1",
        &[0x01, 0, 0, 4, 0, 0, 0, 0xee],
        &[0x00, 0, 0, 4, 0, 0, 1, 0xaa],
    ]);
    for n in 0..multi.len() {
        let res = parse_video(multi.slice(..n));
        if res.is_ok() {
            assert!(n == 6 || n == 14, "prefix {n} parsed");
        }
    }
}
