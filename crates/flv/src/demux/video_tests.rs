//! Demuxer tests for the video codecs beyond H.264: HEVC (E-RTMP `hvc1` and
//! legacy CodecID 12), AV1 and VP9.

use super::tests::{cat, frame, video_config};
use super::*;
use crate::test_vectors::hex;
use crate::video_vectors::*;

/// An E-RTMP SequenceStart tag: `90` + FourCC + record.
fn seq_start(fourcc: &[u8; 4], record_hex: &str) -> Bytes {
    cat(&[&[0x90], fourcc, &hex(record_hex)])
}

/// E-RTMP hvc1: configuration, then real CodedFrames whose SI24
/// composition times (67, 133 ms) give PTS; CodedFramesX gives PTS = DTS.
#[test]
fn hvc1_sequence_start_and_coded_frames() {
    let mut d = Demuxer::default();
    let (config, changed) = video_config(d.push_video(0, seq_start(b"hvc1", HEVC_MAIN_HVCC)));
    assert!(!changed);
    assert_eq!(config.codec_string().as_deref(), Some("hvc1.1.6.L60.90"));
    let f = frame(d.push_video(0, Bytes::from(hex(HEVC_MAIN_KEY_HEAD))));
    assert_eq!((f.dts_ms, f.pts_ms, f.keyframe), (0, 67, true));
    assert_eq!(&f.data[..], &hex(HEVC_MAIN_KEY_HEAD)[8..]);
    let f = frame(d.push_video(34, Bytes::from(hex(HEVC_MAIN_INTER_HEAD))));
    assert_eq!((f.dts_ms, f.pts_ms, f.keyframe), (34, 167, false));
    let x = cat(&[&[0xa3], b"hvc1", &[0, 0, 0, 1, 0x02]]);
    let f = frame(d.push_video(67, x));
    assert_eq!((f.dts_ms, f.pts_ms, f.keyframe), (67, 67, false));
}

/// Legacy CodecID 12 gives the same configuration as E-RTMP hvc1 (an
/// identical record is a no-op) and SI24 composition offsets.
#[test]
fn legacy_codec_id_12_hevc() {
    let mut d = Demuxer::default();
    let legacy = cat(&[&[0x1c, 0x00, 0, 0, 0], &hex(HEVC_MAIN_HVCC)]);
    let (config, _) = video_config(d.push_video(0, legacy));
    assert!(matches!(config, VideoConfig::Hevc(_)));
    assert_eq!(
        d.push_video(0, seq_start(b"hvc1", HEVC_MAIN_HVCC)),
        Ok(None)
    );
    let key = cat(&[&[0x1c, 0x01, 0x00, 0x00, 0x42], &[0, 0, 0, 2, 0x26, 0x01]]);
    let f = frame(d.push_video(1000, key));
    assert_eq!((f.dts_ms, f.pts_ms, f.keyframe), (1000, 1066, true));
    assert_eq!(&f.data[..], &[0, 0, 0, 2, 0x26, 0x01]);
}

/// FLV-SEQ-01 across codecs: identical records are no-ops, a different
/// record (Main → Main 10, HEVC → AVC) is a change.
#[test]
fn flv_seq_01_hevc_changes() {
    let mut d = Demuxer::default();
    video_config(d.push_video(0, seq_start(b"hvc1", HEVC_MAIN_HVCC)));
    assert_eq!(
        d.push_video(10, seq_start(b"hvc1", HEVC_MAIN_HVCC)),
        Ok(None)
    );
    let (config, changed) = video_config(d.push_video(20, seq_start(b"hvc1", HEVC_MAIN10_HVCC)));
    assert!(changed);
    assert_eq!(config.format().map(|f| f.bit_depth), Some(10));
    assert_eq!(
        d.push_video(30, seq_start(b"hvc1", HEVC_MAIN10_HVCC)),
        Ok(None)
    );
    let avc = Bytes::from(hex(crate::test_vectors::HIGH31_720P_SEQ));
    let (config, changed) = video_config(d.push_video(40, avc));
    assert!(changed);
    assert_eq!(&config.fourcc(), b"avc1");
}

/// E-RTMP av01: the configuration, then frames whose key flag comes from
/// the OBUs (sequence header + shown KEY_FRAME), not from the FLV frame
/// type; no composition offset (CodedFrames and CodedFramesX alike).
#[test]
fn av01_key_frames_come_from_the_bitstream() {
    let mut d = Demuxer::default();
    let (config, changed) = video_config(d.push_video(0, seq_start(b"av01", AV1_8BIT_AV1C)));
    assert!(!changed);
    assert_eq!(config.codec_string().as_deref(), Some("av01.0.00M.08"));
    assert_eq!(config.codec_name(), "AV1");
    let key = hex(AV1_8BIT_KEY_TU);
    let inter = hex(AV1_8BIT_INTER_TU);
    let f = frame(d.push_video(0, cat(&[&[0x91], b"av01", &key])));
    assert_eq!((f.dts_ms, f.pts_ms, f.keyframe), (0, 0, true));
    assert_eq!(&f.data[..], &key[..]);
    let f = frame(d.push_video(33, cat(&[&[0xa1], b"av01", &inter])));
    assert_eq!((f.dts_ms, f.pts_ms, f.keyframe), (33, 33, false));
    // The publisher claims a key frame that is not one: not a key frame.
    let f = frame(d.push_video(66, cat(&[&[0x93], b"av01", &inter])));
    assert_eq!((f.pts_ms, f.keyframe), (66, false));
    // A real key frame flagged inter by the publisher is still one.
    let f = frame(d.push_video(100, cat(&[&[0xa3], b"av01", &key])));
    assert_eq!((f.pts_ms, f.keyframe), (100, true));
    // FLV-SEQ-01: identical av1C is a no-op, 8-bit → 10-bit PQ a change.
    assert_eq!(
        d.push_video(133, seq_start(b"av01", AV1_8BIT_AV1C)),
        Ok(None)
    );
    let (config, changed) = video_config(d.push_video(133, seq_start(b"av01", AV1_10BIT_PQ_AV1C)));
    assert!(changed);
    assert_eq!(config.format().map(|f| f.bit_depth), Some(10));
}

/// E-RTMP vp09: the configuration is held until the first key frame and
/// then reported, with that frame's size, just before it. Inter frames
/// before it are dropped; no composition offset.
#[test]
fn vp09_config_waits_for_the_first_key_frame() {
    let mut d = Demuxer::default();
    let inter = cat(&[&[0xa1], b"vp09", &hex(VP9_P0_INTER_HEAD)]);
    let key = cat(&[&[0x91], b"vp09", &hex(VP9_P0_KEY_HEAD)]);
    let events: Vec<_> = d
        .push_video_events(0, seq_start(b"vp09", VP9_P0_VPCC))
        .unwrap()
        .collect();
    assert!(events.is_empty());
    assert!(d.video_config().is_none());
    // A repeat while held is a no-op; an inter frame is dropped.
    assert_eq!(d.push_video(0, seq_start(b"vp09", VP9_P0_VPCC)), Ok(None));
    assert_eq!(d.push_video(10, inter.clone()), Ok(None));
    let events: Vec<_> = d.push_video_events(33, key.clone()).unwrap().collect();
    let [DemuxEvent::VideoConfig { config, changed }, DemuxEvent::Frame(f)] = &events[..] else {
        panic!("expected config + frame, got {events:?}");
    };
    assert!(!changed);
    let VideoConfig::Vp9(vp9) = config else {
        panic!("expected VP9, got {config:?}");
    };
    assert_eq!((vp9.width, vp9.height), (320, 240));
    assert_eq!(config.codec_string().as_deref(), Some("vp09.00.20.08"));
    assert_eq!(
        config.format().map(|f| (f.width, f.height)),
        Some((320, 240))
    );
    assert_eq!(d.video_config(), Some(config));
    assert_eq!((f.dts_ms, f.pts_ms, f.keyframe), (33, 33, true));
    // Then frames flow; the key flag comes from the bitstream.
    let f = frame(d.push_video(66, inter.clone()));
    assert_eq!((f.pts_ms, f.keyframe), (66, false));
    let claimed_key = cat(&[&[0x91], b"vp09", &hex(VP9_P0_INTER_HEAD)]);
    assert!(!frame(d.push_video(100, claimed_key)).keyframe);
    // Later key frames of the same size are plain frames.
    let f = frame(d.push_video(133, key.clone()));
    assert!(f.keyframe);
    // FLV-SEQ-01: the same vpcC is a no-op, profile 2 a change (reported
    // at its first key frame).
    assert_eq!(d.push_video(166, seq_start(b"vp09", VP9_P0_VPCC)), Ok(None));
    assert_eq!(d.push_video(200, seq_start(b"vp09", VP9_P2_VPCC)), Ok(None));
    assert!(d.video_config().is_none());
    assert_eq!(d.push_video(233, inter), Ok(None));
    let key2 = cat(&[&[0x91], b"vp09", &hex(VP9_P2_KEY_HEAD)]);
    let (config, changed) = video_config(d.push_video(266, key2));
    assert!(changed);
    assert_eq!(config.codec_string().as_deref(), Some("vp09.02.20.10"));
    // push_video keeps the key frame for second_event.
    let DemuxEvent::Frame(f) = d.second_event().unwrap() else {
        panic!("expected the held frame");
    };
    assert_eq!((f.dts_ms, f.keyframe), (266, true));
    assert_eq!(d.second_event(), None);
}

/// A VP9 key frame with a new picture size (vpcC unchanged) is a new
/// configuration, reported before the frame.
#[test]
fn vp09_resolution_change_at_a_key_frame() {
    let mut d = Demuxer::default();
    assert_eq!(d.push_video(0, seq_start(b"vp09", VP9_P0_VPCC)), Ok(None));
    let key = hex(VP9_P0_KEY_HEAD);
    let mut events = d
        .push_video_events(0, cat(&[&[0x91], b"vp09", &key]))
        .unwrap();
    assert!(matches!(
        events.next(),
        Some(DemuxEvent::VideoConfig { changed: false, .. })
    ));
    assert!(matches!(events.next(), Some(DemuxEvent::Frame(_))));
    assert_eq!(events.next(), None);
    // frame_width_minus_1 0x013f → 0x027f: 640 wide.
    let mut wide = key.clone();
    wide[5] = 0x27; // bits 4..11 of frame_width_minus_1
    let events: Vec<_> = d
        .push_video_events(1000, cat(&[&[0x91], b"vp09", &wide]))
        .unwrap()
        .collect();
    let [DemuxEvent::VideoConfig {
        config,
        changed: true,
    }, DemuxEvent::Frame(_)] = &events[..]
    else {
        panic!("expected a changed config + frame, got {events:?}");
    };
    assert_eq!(
        config.format().map(|f| (f.width, f.height)),
        Some((640, 240))
    );
}
