//! Multivariant playlist writer: the three publish shapes pinned with insta
//! snapshots and parsed back with m3u8-rs (checklist §8 cases 41 and 42),
//! plus error cases.

use m3u8_rs::{parse_master_playlist_res, AlternativeMediaType, MasterPlaylist};
use proptest::prelude::*;
use weir_packager::hls::{
    write_multivariant, AudioRendition, HlsError, Multivariant, VideoVariant,
};

fn video() -> VideoVariant {
    VideoVariant {
        uri: "video/index.m3u8".into(),
        codecs: "avc1.64001f".into(),
        width: 1280,
        height: 720,
        frame_rate: Some(30_000.0 / 1_001.0),
        bandwidth: 3_000_000,
        average_bandwidth: Some(2_500_000),
        video_range: None,
    }
}

fn audio() -> AudioRendition {
    AudioRendition {
        uri: "audio/index.m3u8".into(),
        codecs: "mp4a.40.2".into(),
        channels: 2,
        sample_rate: Some(48_000),
        bandwidth: 132_000,
        average_bandwidth: Some(128_000),
        group_id: "audio".into(),
        name: "Main".into(),
        language: Some("en".into()),
    }
}

fn write(video: Option<VideoVariant>, audio: Option<AudioRendition>) -> Result<String, HlsError> {
    write_multivariant(&Multivariant {
        video: video.into_iter().collect(),
        audio: audio.into_iter().collect(),
        independent_segments: true,
    })
}

fn parse(text: &str) -> MasterPlaylist {
    assert!(text.starts_with("#EXTM3U\n"));
    assert!(text.ends_with('\n'));
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
    assert!(m3u8_rs::is_master_playlist(text.as_bytes()));
    parse_master_playlist_res(text.as_bytes()).unwrap()
}

#[test]
fn video_and_audio() {
    let text = write(Some(video()), Some(audio())).unwrap();
    insta::assert_snapshot!("multivariant_video_audio", text);
    let m = parse(&text);
    assert_eq!(m.version, Some(4));
    assert!(m.independent_segments);
    assert_eq!(m.variants.len(), 1);
    let v = &m.variants[0];
    assert_eq!(v.uri, "video/index.m3u8");
    assert_eq!(v.bandwidth, 3_132_000, "video peak + audio peak");
    assert_eq!(v.average_bandwidth, Some(2_628_000));
    assert_eq!(v.codecs.as_deref(), Some("avc1.64001f,mp4a.40.2"));
    let resolution = v.resolution.unwrap();
    assert_eq!((resolution.width, resolution.height), (1280, 720));
    assert_eq!(v.frame_rate, Some(29.97));
    assert!(text.contains("FRAME-RATE=29.970,"), "three decimals");
    assert_eq!(v.audio.as_deref(), Some("audio"));
    assert_eq!(m.alternatives.len(), 1);
    let a = &m.alternatives[0];
    assert_eq!(a.media_type, AlternativeMediaType::Audio);
    assert_eq!(a.group_id, "audio");
    assert_eq!(a.name, "Main");
    assert_eq!(a.language.as_deref(), Some("en"));
    assert!(a.default && a.autoselect && !a.forced);
    assert_eq!(a.channels.as_deref(), Some("2"));
    assert_eq!(a.uri.as_deref(), Some("audio/index.m3u8"));
    let sample_rate = a
        .other_attributes
        .as_ref()
        .and_then(|o| o.get("SAMPLE-RATE"))
        .map(|v| v.as_str().to_owned());
    assert_eq!(sample_rate.as_deref(), Some("48000"));
}

#[test]
fn video_only() {
    let text = write(Some(video()), None).unwrap();
    insta::assert_snapshot!("multivariant_video_only", text);
    let m = parse(&text);
    assert_eq!(m.version, None, "nothing here needs a version above 1");
    assert!(m.alternatives.is_empty());
    let v = &m.variants[0];
    assert_eq!(v.bandwidth, 3_000_000);
    assert_eq!(v.average_bandwidth, Some(2_500_000));
    assert_eq!(v.codecs.as_deref(), Some("avc1.64001f"));
    assert_eq!(v.audio, None, "no AUDIO group without audio");
    assert_eq!(v.frame_rate, Some(29.97));
    assert!(v.resolution.is_some());
}

#[test]
fn audio_only() {
    let text = write(None, Some(audio())).unwrap();
    insta::assert_snapshot!("multivariant_audio_only", text);
    let m = parse(&text);
    assert!(m.alternatives.is_empty(), "no EXT-X-MEDIA");
    assert_eq!(m.variants.len(), 1);
    let v = &m.variants[0];
    assert_eq!(v.uri, "audio/index.m3u8");
    assert_eq!(v.bandwidth, 132_000);
    assert_eq!(v.average_bandwidth, Some(128_000));
    assert_eq!(v.codecs.as_deref(), Some("mp4a.40.2"));
    assert_eq!(v.resolution, None);
    assert_eq!(v.frame_rate, None);
    assert_eq!(v.audio, None);
}

#[test]
fn optional_attributes() {
    let mut v = video();
    v.frame_rate = None;
    v.average_bandwidth = None;
    let mut a = audio();
    a.language = None;
    a.sample_rate = None;
    let text = write(Some(v.clone()), Some(a.clone())).unwrap();
    assert!(!text.contains("FRAME-RATE"));
    assert!(!text.contains("AVERAGE-BANDWIDTH"));
    assert!(!text.contains("LANGUAGE"));
    assert!(!text.contains("SAMPLE-RATE"));
    parse(&text);
    // One average missing: no partial sum.
    v.average_bandwidth = Some(2_500_000);
    a.average_bandwidth = None;
    let text = write(Some(v), Some(a)).unwrap();
    assert!(!text.contains("AVERAGE-BANDWIDTH"));
    // Without independent segments, no tag.
    let text = write_multivariant(&Multivariant {
        video: vec![video()],
        audio: Vec::new(),
        independent_segments: false,
    })
    .unwrap();
    assert!(!text.contains("INDEPENDENT"));
}

#[test]
fn frame_rates_print_three_decimals() {
    for (rate, printed) in [
        (30.0, "30.000"),
        (60_000.0 / 1_001.0, "59.940"),
        (24_000.0 / 1_001.0, "23.976"),
        (25.0, "25.000"),
        (0.5, "0.500"),
    ] {
        let mut v = video();
        v.frame_rate = Some(rate);
        let text = write(Some(v), None).unwrap();
        assert!(text.contains(&format!("FRAME-RATE={printed}\n")), "{text}");
    }
}

#[test]
fn no_media_is_refused() {
    assert_eq!(write(None, None), Err(HlsError::NoMedia));
}

#[test]
fn bad_quoted_strings_are_refused() {
    let mut cases: Vec<(Option<VideoVariant>, Option<AudioRendition>)> = Vec::new();
    for bad in ["Ma\"in", "Ma\nin", "Ma\rin", ""] {
        let mut a = audio();
        a.name = bad.into();
        cases.push((Some(video()), Some(a)));
        let mut a = audio();
        a.group_id = bad.into();
        cases.push((Some(video()), Some(a)));
        let mut a = audio();
        a.codecs = bad.into();
        cases.push((None, Some(a)));
        let mut v = video();
        v.codecs = bad.into();
        cases.push((Some(v), None));
        let mut a = audio();
        a.uri = format!("audio/{bad}.m3u8");
        if !bad.is_empty() {
            cases.push((Some(video()), Some(a)));
        }
        let mut v = video();
        v.uri = format!("video/{bad}.m3u8");
        if !bad.is_empty() {
            cases.push((Some(v), Some(audio())));
        }
    }
    let mut a = audio();
    a.language = Some("en US".into());
    cases.push((Some(video()), Some(a)));
    let mut v = video();
    v.codecs = "avc1.64001f,mp4a.40.2".into(); // one codec per track
    cases.push((Some(v), Some(audio())));
    let mut v = video();
    v.uri = "https://cdn.example/video.m3u8".into();
    cases.push((Some(v), None));
    for (i, (v, a)) in cases.into_iter().enumerate() {
        assert!(
            matches!(write(v, a), Err(HlsError::InvalidString { .. })),
            "case {i}"
        );
    }
}

#[test]
fn bad_values_are_refused() {
    let mut cases: Vec<(Option<VideoVariant>, Option<AudioRendition>)> = Vec::new();
    for rate in [f64::NAN, f64::INFINITY, 0.0, -30.0, 1000.5] {
        let mut v = video();
        v.frame_rate = Some(rate);
        cases.push((Some(v), None));
    }
    let mut v = video();
    v.width = 0;
    cases.push((Some(v), None));
    let mut v = video();
    v.bandwidth = 0;
    cases.push((Some(v), Some(audio())));
    let mut a = audio();
    a.bandwidth = 0;
    cases.push((None, Some(a)));
    let mut a = audio();
    a.channels = 0;
    cases.push((Some(video()), Some(a)));
    let mut a = audio();
    a.channels = 0;
    cases.push((None, Some(a)));
    let mut v = video();
    v.bandwidth = u64::MAX;
    cases.push((Some(v), Some(audio())));
    for (i, (v, a)) in cases.into_iter().enumerate() {
        assert!(
            matches!(write(v, a), Err(HlsError::InvalidValue { .. })),
            "case {i}"
        );
    }
}

proptest! {
    #[test]
    fn random_variants_round_trip_through_m3u8_rs(
        has_video in any::<bool>(),
        has_audio in any::<bool>(),
        width in 1u32..8192,
        height in 1u32..4320,
        fps_milli in 1u32..240_000,
        video_bw in 1u64..100_000_000,
        audio_bw in 1u64..1_000_000,
        channels in 1u8..16,
        name in "[A-Za-z0-9 ()_-]{1,24}",
        group in "[a-z0-9_-]{1,12}",
    ) {
        prop_assume!(has_video || has_audio);
        let frame_rate = f64::from(fps_milli) / 1000.0;
        let v = has_video.then(|| VideoVariant {
            width,
            height,
            frame_rate: Some(frame_rate),
            bandwidth: video_bw,
            ..video()
        });
        let a = has_audio.then(|| AudioRendition {
            bandwidth: audio_bw,
            channels,
            name: name.clone(),
            group_id: group.clone(),
            ..audio()
        });
        let text = write(v, a).unwrap();
        let m = parse(&text);
        prop_assert_eq!(m.variants.len(), 1);
        let variant = &m.variants[0];
        let expected_bw = if has_video { video_bw } else { 0 } + if has_audio { audio_bw } else { 0 };
        prop_assert_eq!(variant.bandwidth, expected_bw);
        let codecs = variant.codecs.as_deref().unwrap();
        prop_assert_eq!(codecs.contains("avc1"), has_video);
        prop_assert_eq!(codecs.contains("mp4a"), has_audio);
        if has_video {
            let r = variant.resolution.unwrap();
            prop_assert_eq!((r.width, r.height), (u64::from(width), u64::from(height)));
            prop_assert!((variant.frame_rate.unwrap() - frame_rate).abs() < 0.0005);
        }
        prop_assert_eq!(m.alternatives.len(), usize::from(has_video && has_audio));
        if let Some(alt) = m.alternatives.first() {
            prop_assert_eq!(&alt.name, &name);
            prop_assert_eq!(&alt.group_id, &group);
            prop_assert_eq!(variant.audio.as_deref(), Some(group.as_str()));
            prop_assert_eq!(alt.channels.clone(), Some(channels.to_string()));
        }
    }
}

/// Issue 14 §3: HDR variants say VIDEO-RANGE; SDR ones leave it out (its
/// default), so SDR playlists are unchanged.
#[test]
fn video_range_is_written_for_pq_and_hlg_only() {
    for (range, line) in [
        (Some("PQ"), Some("VIDEO-RANGE=PQ")),
        (Some("HLG"), Some("VIDEO-RANGE=HLG")),
        (None, None),
    ] {
        let text = write(
            Some(VideoVariant {
                video_range: range,
                ..video()
            }),
            Some(audio()),
        )
        .unwrap();
        match line {
            Some(l) => assert!(text.contains(l), "{text}"),
            None => assert!(!text.contains("VIDEO-RANGE"), "{text}"),
        }
        parse(&text);
    }
}
