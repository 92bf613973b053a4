//! Media playlist writer: a scripted live timeline pinned with insta
//! snapshots, every output parsed back with m3u8-rs and checked by a small
//! playlist validator (checklist §8 case 38), error cases, and proptests.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use m3u8_rs::parse_media_playlist_res;
use proptest::prelude::*;
use weir_packager::hls::{
    check_update, round_half_up_secs, write_media, HlsError, MapRef, MediaDuration, MediaPlaylist,
    Part, PartialSegment, PreloadHint, PreloadHintKind, RenditionReport, Segment, ServerControl,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const VIDEO: u32 = 90_000;

/// 2026-11-24T12:00:00Z, the wall clock at the first segment.
fn anchor() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_521_600)
}

fn ticks(ticks: u64, timescale: u32) -> MediaDuration {
    MediaDuration::new(ticks, NonZeroU32::new(timescale).unwrap())
}

fn ms(ms: u64) -> MediaDuration {
    MediaDuration::from_millis(ms)
}

/// A segment of a 29.97 fps stream with a 2 s GOP (60 frames = 2.002 s),
/// PDT = anchor + media time, as the stream owner is meant to compute it.
fn seg(msn: u64, duration: MediaDuration, map: &str, media_time: Duration) -> Segment {
    Segment {
        uri: format!("seg-{msn}.m4s"),
        duration,
        map: MapRef { uri: map.into() },
        discontinuity: false,
        program_date_time: Some(anchor() + media_time),
        parts: Vec::new(),
    }
}

fn live(target: u32, segments: Vec<Segment>) -> MediaPlaylist {
    MediaPlaylist {
        target_duration: target,
        media_sequence: 0,
        discontinuity_sequence: 0,
        segments,
        ended: false,
        independent_segments: false,
        part_target: None,
        server_control: None,
        partial_segment: None,
        preload_hints: Vec::new(),
        rendition_reports: Vec::new(),
        skip: None,
    }
}

/// The scripted timeline: a publish of 2.002 s segments (the first one
/// slightly shorter), PDT on every segment.
struct Timeline {
    playlist: MediaPlaylist,
    media_time: Duration,
    map: String,
}

impl Timeline {
    fn new() -> Self {
        Self {
            playlist: live(2, Vec::new()),
            media_time: Duration::ZERO,
            map: "init-0.mp4".into(),
        }
    }

    fn push(&mut self, duration: MediaDuration) {
        let msn = self.playlist.next_media_sequence();
        let s = seg(msn, duration, &self.map, self.media_time);
        self.media_time += duration.to_std();
        self.playlist.segments.push(s);
    }

    /// Encoder reconnect with a new decoder configuration (HLS-LIVE-08):
    /// new init segment, DISCONTINUITY, PDT re-anchored to the wall clock.
    fn reconnect(&mut self, gap: Duration, duration: MediaDuration) {
        self.map = "init-1.mp4".into();
        self.media_time += gap;
        self.push(duration);
        if let Some(last) = self.playlist.segments.last_mut() {
            last.discontinuity = true;
        }
    }

    fn snapshot(&self) -> (MediaPlaylist, String) {
        let text = write_media(&self.playlist).unwrap();
        check_round_trip(&self.playlist, &text);
        validate_text(&text);
        (self.playlist.clone(), text)
    }
}

/// Parses `text` with m3u8-rs and checks it says what `model` says.
fn check_round_trip(model: &MediaPlaylist, text: &str) {
    let parsed = parse_media_playlist_res(text.as_bytes()).unwrap();
    let skip = usize::try_from(model.skip.unwrap_or(0)).unwrap();
    let expected_version = if model.skip.is_some() { 9 } else { 6 };
    assert_eq!(parsed.version, Some(expected_version));
    assert_eq!(parsed.target_duration, u64::from(model.target_duration));
    assert_eq!(parsed.media_sequence, model.media_sequence);
    assert_eq!(parsed.discontinuity_sequence, model.discontinuity_sequence);
    assert_eq!(parsed.end_list, model.ended);
    assert_eq!(parsed.playlist_type, None, "live playlists have no type");
    assert_eq!(parsed.independent_segments, model.independent_segments);
    let listed = &model.segments[skip..];
    assert_eq!(parsed.segments.len(), listed.len());
    // m3u8-rs attaches EXT-X-MAP only to the segment right after it; the
    // map in effect is the last one seen.
    let mut map_in_effect: Option<String> = None;
    for (i, (got, want)) in parsed.segments.iter().zip(listed).enumerate() {
        assert_eq!(got.uri, want.uri);
        let exact = want.duration.ticks() as f64 / f64::from(want.duration.timescale().get());
        assert!(
            (f64::from(got.duration) - exact).abs() < 0.001,
            "segment {i}: EXTINF {} vs {exact}",
            got.duration
        );
        assert_eq!(got.discontinuity, want.discontinuity, "segment {i}");
        if let Some(map) = &got.map {
            map_in_effect = Some(map.uri.clone());
        }
        if i == 0 {
            assert!(got.map.is_some(), "EXT-X-MAP above the first segment");
        }
        assert_eq!(map_in_effect.as_deref(), Some(want.map.uri.as_str()));
        let got_pdt = got.program_date_time.map(|t| t.timestamp_millis());
        let want_pdt = want
            .program_date_time
            .map(|t| i64::try_from(t.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap());
        assert_eq!(got_pdt, want_pdt, "segment {i} PDT");
    }
}

/// The invariants of checklist §8 case 38 that one snapshot can show, read
/// from the text itself rather than from a parser.
fn validate_text(text: &str) {
    assert!(text.starts_with("#EXTM3U\n"));
    assert!(text.ends_with('\n'));
    assert!(!text.contains('\r'));
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "control character"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.iter().all(|l| l.trim() == *l && !l.is_empty()));
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("#EXT-X-VERSION:"), 1);
    assert_eq!(count("#EXT-X-TARGETDURATION:"), 1);
    assert_eq!(count("#EXT-X-MEDIA-SEQUENCE:"), 1);
    assert_eq!(count("#EXT-X-DISCONTINUITY-SEQUENCE:"), 1);
    assert_eq!(count("#EXT-X-PLAYLIST-TYPE"), 0);
    assert!(count("#EXT-X-ENDLIST") <= 1);
    let target: u64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
        .unwrap()
        .parse()
        .unwrap();
    let position = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix));
    let first_segment = position("#EXTINF:").or(position("#EXT-X-PART:"));
    if let Some(first_segment) = first_segment {
        let map = position("#EXT-X-MAP:").expect("EXT-X-MAP present");
        assert!(map < first_segment, "EXT-X-MAP above the first segment");
        let sequence = position("#EXT-X-DISCONTINUITY-SEQUENCE:").unwrap();
        assert!(sequence < first_segment);
        if let Some(disc) = lines.iter().position(|l| *l == "#EXT-X-DISCONTINUITY") {
            assert!(sequence < disc);
        }
    }
    for (i, l) in lines.iter().enumerate() {
        if let Some(extinf) = l.strip_prefix("#EXTINF:") {
            let value = extinf.strip_suffix(',').unwrap();
            let (int, frac) = value.split_once('.').unwrap();
            assert_eq!(frac.len(), 5, "five decimals: {value}");
            let units: u64 = format!("{int}{frac}").parse().unwrap();
            assert!(
                (units + 50_000) / 100_000 <= target,
                "EXTINF {value} > {target}"
            );
            let uri = lines[i + 1];
            assert!(!uri.starts_with('#'), "URI line follows EXTINF");
        }
    }
}

// ---------------------------------------------------------------------------
// The scripted timeline, snapshot by snapshot
// ---------------------------------------------------------------------------

#[test]
fn live_three_segments() {
    let mut t = Timeline::new();
    t.push(ticks(177_177, VIDEO)); // 1.96863 s: first GOP starts late
    t.push(ticks(180_180, VIDEO)); // 2.00200 s
    t.push(ticks(180_180, VIDEO));
    let (_, text) = t.snapshot();
    insta::assert_snapshot!("live_three_segments", text);
}

#[test]
fn live_window_slides() {
    let mut t = Timeline::new();
    for _ in 0..3 {
        t.push(ticks(180_180, VIDEO));
    }
    let (before, _) = t.snapshot();
    t.push(ticks(180_180, VIDEO));
    let removed = t.playlist.remove_oldest().unwrap();
    assert_eq!(removed.uri, "seg-0.m4s");
    let (after, text) = t.snapshot();
    assert_eq!(after.media_sequence, 1);
    assert_eq!(after.discontinuity_sequence, 0);
    check_update(&before, &after).unwrap();
    insta::assert_snapshot!("live_after_slide", text);
}

#[test]
fn discontinuity_with_new_map_in_the_middle() {
    let mut t = Timeline::new();
    for _ in 0..3 {
        t.push(ticks(180_180, VIDEO));
    }
    let (before, _) = t.snapshot();
    t.reconnect(Duration::from_millis(4_321), ticks(180_000, VIDEO));
    t.push(ticks(180_000, VIDEO));
    t.playlist.remove_oldest();
    let (after, text) = t.snapshot();
    check_update(&before, &after).unwrap();
    assert_eq!(after.discontinuity_sequence, 0, "the tag is still listed");
    let parsed = parse_media_playlist_res(text.as_bytes()).unwrap();
    let maps: Vec<_> = parsed
        .segments
        .iter()
        .map(|s| s.map.as_ref().map(|m| m.uri.as_str()))
        .collect();
    assert_eq!(
        maps,
        [Some("init-0.mp4"), None, Some("init-1.mp4"), None],
        "MAP above the first segment and at the change only"
    );
    insta::assert_snapshot!("discontinuity_new_map", text);
}

#[test]
fn discontinuity_slides_out() {
    let mut t = Timeline::new();
    for _ in 0..3 {
        t.push(ticks(180_180, VIDEO));
    }
    t.reconnect(Duration::from_millis(4_321), ticks(180_000, VIDEO));
    let mut previous = t.snapshot().0;
    for expected_sequence in [0, 0, 0, 1] {
        t.push(ticks(180_000, VIDEO));
        t.playlist.remove_oldest();
        let (now, _) = t.snapshot();
        check_update(&previous, &now).unwrap();
        assert_eq!(now.discontinuity_sequence, expected_sequence);
        previous = now;
    }
    let (last, text) = t.snapshot();
    assert_eq!(last.media_sequence, 4);
    assert!(!last.segments.iter().any(|s| s.discontinuity));
    assert!(!text.contains("#EXT-X-DISCONTINUITY\n"));
    assert!(text.contains("#EXT-X-MAP:URI=\"init-1.mp4\"\n"));
    assert!(!text.contains("init-0.mp4"));
    insta::assert_snapshot!("discontinuity_slid_out", text);

    // Forgetting to bump the sequence is caught by the update check.
    let mut wrong = last.clone();
    wrong.discontinuity_sequence = 0;
    let mut before = last.clone();
    before.media_sequence = 3;
    before.discontinuity_sequence = 0;
    before.segments.insert(0, {
        let mut s = seg(3, ticks(180_000, VIDEO), "init-1.mp4", Duration::ZERO);
        s.discontinuity = true;
        s
    });
    assert!(check_update(&before, &last).is_ok());
    assert!(matches!(
        check_update(&before, &wrong),
        Err(HlsError::InvalidUpdate { .. })
    ));
}

#[test]
fn ended_playlist() {
    let mut t = Timeline::new();
    for _ in 0..3 {
        t.push(ticks(180_180, VIDEO));
    }
    let (before, _) = t.snapshot();
    t.push(ticks(90_090, VIDEO)); // the last GOP is cut short by unpublish
    t.playlist.ended = true;
    let (after, text) = t.snapshot();
    check_update(&before, &after).unwrap();
    assert!(text.ends_with("seg-3.m4s\n#EXT-X-ENDLIST\n"));
    insta::assert_snapshot!("ended", text);

    let mut changed = after.clone();
    changed.segments.pop();
    assert!(check_update(&after, &changed).is_err(), "ended is final");
}

#[test]
fn ended_with_no_segment_is_allowed() {
    let mut p = live(2, Vec::new());
    p.ended = true;
    let text = write_media(&p).unwrap();
    check_round_trip(&p, &text);
    insta::assert_snapshot!(text, @r"
    #EXTM3U
    #EXT-X-VERSION:6
    #EXT-X-TARGETDURATION:2
    #EXT-X-MEDIA-SEQUENCE:0
    #EXT-X-DISCONTINUITY-SEQUENCE:0
    #EXT-X-ENDLIST
    ");
}

#[test]
fn playlist_duration_and_helpers() {
    let mut t = Timeline::new();
    t.push(ticks(180_180, VIDEO));
    t.push(ticks(96_256, 48_000)); // 2.005333… s of AAC
    assert_eq!(t.playlist.duration(), Duration::from_nanos(4_007_333_334));
    assert_eq!(t.playlist.next_media_sequence(), 2);
    assert_eq!(
        weir_packager::hls::availability_duration(
            t.playlist.segments[0].duration,
            t.playlist.duration()
        ),
        Duration::from_nanos(6_009_333_334)
    );
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

fn one_segment(duration: MediaDuration) -> MediaPlaylist {
    live(2, vec![seg(0, duration, "init.mp4", Duration::ZERO)])
}

#[test]
fn extinf_rounding_against_target_duration() {
    for ok in [
        ms(2_000),
        ms(2_400),
        ms(2_499),
        ticks(224_999, VIDEO),
        ms(1),
    ] {
        assert!(write_media(&one_segment(ok)).is_ok(), "{}", ok.decimal());
    }
    let err = write_media(&one_segment(ms(2_600))).unwrap_err();
    assert_eq!(
        err,
        HlsError::SegmentOverTarget {
            index: 0,
            uri: "seg-0.m4s".into(),
            extinf: "2.60000".into(),
            rounded: 3,
            target: 2,
        }
    );
    // Half rounds up.
    assert!(matches!(
        write_media(&one_segment(ms(2_500))),
        Err(HlsError::SegmentOverTarget { rounded: 3, .. })
    ));
    assert_eq!(round_half_up_secs(ms(2_400)), 2);
    assert_eq!(round_half_up_secs(ms(2_500)), 3);
    assert_eq!(round_half_up_secs(ms(2_600)), 3);
}

#[test]
fn zero_target_duration_is_refused() {
    let mut p = one_segment(ms(500));
    p.target_duration = 0;
    assert_eq!(write_media(&p), Err(HlsError::ZeroTargetDuration));
}

#[test]
fn empty_live_playlist_is_refused() {
    assert_eq!(
        write_media(&live(2, Vec::new())),
        Err(HlsError::EmptyLivePlaylist)
    );
}

#[test]
fn bad_characters_are_refused() {
    let cases: [(&str, &str); 9] = [
        ("seg\n1.m4s", "init.mp4"),
        ("seg\r1.m4s", "init.mp4"),
        ("seg 1.m4s", "init.mp4"),
        ("#seg.m4s", "init.mp4"),
        ("", "init.mp4"),
        ("https://cdn.example/seg.m4s", "init.mp4"),
        ("seg.m4s", "in\"it.mp4"),
        ("seg.m4s", "init\n.mp4"),
        ("seg.m4s", "/abs/init.mp4"),
    ];
    for (uri, map) in cases {
        let mut p = one_segment(ms(2_000));
        p.segments[0].uri = uri.into();
        p.segments[0].map.uri = map.into();
        assert!(
            matches!(write_media(&p), Err(HlsError::InvalidString { .. })),
            "{uri:?} {map:?}"
        );
    }
}

#[test]
fn map_change_needs_a_discontinuity() {
    let mut p = live(
        2,
        vec![
            seg(0, ms(2_000), "init-0.mp4", Duration::ZERO),
            seg(1, ms(2_000), "init-1.mp4", Duration::from_secs(2)),
        ],
    );
    assert_eq!(
        write_media(&p),
        Err(HlsError::MapChangeWithoutDiscontinuity { index: 1 })
    );
    p.segments[1].discontinuity = true;
    assert!(write_media(&p).is_ok());
}

#[test]
fn program_date_time_on_first_segment_and_after_discontinuities() {
    let mut p = live(
        2,
        vec![
            seg(0, ms(2_000), "init.mp4", Duration::ZERO),
            seg(1, ms(2_000), "init.mp4", Duration::from_secs(2)),
            seg(2, ms(2_000), "init.mp4", Duration::from_secs(9)),
        ],
    );
    p.segments[2].discontinuity = true;
    p.segments[1].program_date_time = None; // allowed: derivable
    assert!(write_media(&p).is_ok());
    p.segments[2].program_date_time = None;
    assert_eq!(
        write_media(&p),
        Err(HlsError::MissingProgramDateTime { index: 2 })
    );
    p.segments[2].program_date_time = Some(anchor());
    p.segments[0].program_date_time = None;
    assert_eq!(
        write_media(&p),
        Err(HlsError::MissingProgramDateTime { index: 0 })
    );
    // No PDT anywhere is allowed (it is a SHOULD) outside low-latency mode.
    for s in &mut p.segments {
        s.program_date_time = None;
    }
    let text = write_media(&p).unwrap();
    assert!(!text.contains("PROGRAM-DATE-TIME"));
    check_round_trip(&p, &text);
    // Before 1970 cannot be written.
    p.segments[0].program_date_time = Some(UNIX_EPOCH - Duration::from_secs(1));
    p.segments[2].program_date_time = Some(anchor());
    assert_eq!(write_media(&p), Err(HlsError::ProgramDateTimeOutOfRange));
}

#[test]
fn update_check_catches_illegal_changes() {
    let mut t = Timeline::new();
    for _ in 0..3 {
        t.push(ticks(180_180, VIDEO));
    }
    let prev = t.playlist.clone();

    let mut target = prev.clone();
    target.target_duration = 3;
    let mut backwards = prev.clone();
    backwards.media_sequence = 0;
    backwards.segments.remove(0); // removed without bumping the sequence
    let mut rewritten = prev.clone();
    rewritten.segments[1].duration = ms(1_000);
    let mut truncated = prev.clone();
    truncated.segments.pop();
    for next in [target, backwards, rewritten, truncated] {
        assert!(matches!(
            check_update(&prev, &next),
            Err(HlsError::InvalidUpdate { .. })
        ));
    }
    assert!(check_update(&prev, &prev).is_ok());
}

// ---------------------------------------------------------------------------
// Low-latency tags (modelled now, used later)
// ---------------------------------------------------------------------------

fn part(uri: &str, duration_ms: u64, independent: bool) -> Part {
    Part {
        uri: uri.into(),
        duration: ms(duration_ms),
        independent,
    }
}

fn low_latency() -> MediaPlaylist {
    let mut t = Timeline::new();
    for _ in 0..6 {
        t.push(ms(2_000));
    }
    let mut p = t.playlist;
    p.target_duration = 2;
    p.part_target = Some(ms(500));
    p.server_control = Some(ServerControl {
        can_block_reload: true,
        can_skip_until: Some(ms(12_000)),
        hold_back: None,
        part_hold_back: Some(ms(1_500)),
    });
    p.segments[5].parts = vec![
        part("seg-5.0.m4s", 500, true),
        part("seg-5.1.m4s", 500, false),
        part("seg-5.2.m4s", 500, false),
        part("seg-5.3.m4s", 500, false),
    ];
    p.partial_segment = Some(PartialSegment {
        map: MapRef {
            uri: "init-0.mp4".into(),
        },
        discontinuity: false,
        program_date_time: Some(anchor() + Duration::from_secs(12)),
        parts: vec![
            part("seg-6.0.m4s", 500, true),
            part("seg-6.1.m4s", 500, false),
        ],
    });
    p.preload_hints = vec![PreloadHint {
        kind: PreloadHintKind::Part,
        uri: "seg-6.2.m4s".into(),
    }];
    p.rendition_reports = vec![RenditionReport {
        uri: "../audio/index.m3u8".into(),
        last_msn: 6,
        last_part: Some(1),
    }];
    p
}

#[test]
fn low_latency_playlist() {
    let p = low_latency();
    let text = write_media(&p).unwrap();
    check_round_trip(&p, &text);
    validate_text(&text);
    let parsed = parse_media_playlist_res(text.as_bytes()).unwrap();
    let tags: Vec<_> = parsed
        .segments
        .iter()
        .flat_map(|s| &s.unknown_tags)
        .map(|t| t.tag.as_str())
        .collect();
    assert_eq!(
        tags,
        [
            "X-SERVER-CONTROL",
            "X-PART-INF",
            "X-PART",
            "X-PART",
            "X-PART",
            "X-PART"
        ],
        "parts of complete segments parse as their tags"
    );
    insta::assert_snapshot!("low_latency", text);
}

#[test]
fn delta_update_skips_old_segments() {
    let mut p = low_latency();
    assert_eq!(
        p.max_skippable_segments(),
        0,
        "6 × 2 s is exactly the window"
    );
    p.segments
        .insert(0, seg(100, ms(2_000), "init-0.mp4", Duration::ZERO));
    p.segments
        .insert(0, seg(99, ms(2_000), "init-0.mp4", Duration::ZERO));
    assert_eq!(p.max_skippable_segments(), 2);
    p.skip = Some(2);
    let text = write_media(&p).unwrap();
    check_round_trip(&p, &text);
    validate_text(&text);
    assert!(text.contains("#EXT-X-VERSION:9\n"));
    assert!(text.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n"));
    assert!(!text.contains("seg-99.m4s") && !text.contains("seg-100.m4s"));
    // The full playlist minus the skipped lines is the delta.
    p.skip = None;
    let full = write_media(&p).unwrap();
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("#EXT-X-VERSION") && !l.starts_with("#EXT-X-SKIP"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let full_lines = strip(&full);
    let delta_lines = strip(&text);
    let mut rest = full_lines.iter();
    assert!(
        delta_lines.iter().all(|l| rest.any(|f| f == l)),
        "the delta is a subsequence of the full playlist"
    );
    // Skipped: MAP + PDT + EXTINF + URI and PDT + EXTINF + URI; the MAP
    // moves down to the first listed segment.
    assert_eq!(full_lines.len() - delta_lines.len(), 6);
    let removed: Vec<_> = full_lines
        .iter()
        .filter(|l| !delta_lines.contains(l))
        .collect();
    assert_eq!(removed, ["seg-99.m4s", "seg-100.m4s"]);

    p.skip = Some(3);
    assert!(matches!(write_media(&p), Err(HlsError::LowLatency { .. })));
}

#[test]
fn low_latency_rules() {
    let broken: [fn(&mut MediaPlaylist); 9] = [
        |p| p.part_target = None,
        |p| p.server_control = None,
        |p| {
            if let Some(c) = &mut p.server_control {
                c.part_hold_back = Some(ms(999));
            }
        },
        |p| {
            if let Some(c) = &mut p.server_control {
                c.hold_back = Some(ms(5_999));
            }
        },
        |p| {
            if let Some(c) = &mut p.server_control {
                c.can_skip_until = Some(ms(11_999));
            }
        },
        |p| p.segments[5].parts[1].duration = ms(501),
        |p| p.segments[5].parts[1].duration = ms(424), // < 85 %, not last
        |p| {
            p.ended = true;
            p.partial_segment = None;
        },
        |p| {
            p.preload_hints.clear();
            p.ended = true;
        },
    ];
    for (i, breaking) in broken.iter().enumerate() {
        let mut p = low_latency();
        breaking(&mut p);
        assert!(
            matches!(write_media(&p), Err(HlsError::LowLatency { .. })),
            "case {i}"
        );
    }
    // Allowed: a short last part, a short independent part, a short part of
    // the segment in progress.
    let mut p = low_latency();
    p.segments[5].parts[3].duration = ms(100);
    p.segments[5].parts[0].duration = ms(100);
    if let Some(partial) = &mut p.partial_segment {
        partial.parts[0].duration = ms(100);
    }
    assert!(write_media(&p).is_ok());
    // Low-latency playlists need PDT.
    let mut p = low_latency();
    for s in &mut p.segments {
        s.program_date_time = None;
    }
    assert_eq!(
        write_media(&p),
        Err(HlsError::MissingProgramDateTime { index: 0 })
    );
}

#[test]
fn live_playlist_of_only_parts() {
    let mut p = low_latency();
    p.segments.clear();
    p.media_sequence = 6;
    let text = write_media(&p).unwrap();
    validate_text(&text);
    assert!(text.contains("#EXT-X-MAP:URI=\"init-0.mp4\"\n#EXT-X-PROGRAM-DATE-TIME"));
    assert!(!text.contains("#EXTINF"));
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Spec {
    target: u32,
    timescale: u32,
    media_sequence: u64,
    discontinuity_sequence: u64,
    with_pdt: bool,
    ended: bool,
    segments: Vec<(u64, bool, String)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        1u32..=12,
        prop::sample::select(vec![1_000u32, 44_100, 48_000, 90_000, 1]),
        0u64..(1 << 40),
        0u64..1000,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(target, timescale, msn, dsn, with_pdt, ended)| {
            // Exact duration below target + 0.5 s: EXTINF rounds to ≤ target.
            let max = u64::from(target) * u64::from(timescale) + (u64::from(timescale) - 1) / 2;
            let segment = (1..=max, prop::bool::weighted(0.15), "[a-z0-9_-]{1,16}");
            (
                Just((target, timescale, msn, dsn, with_pdt, ended)),
                prop::collection::vec(segment, 1..24),
            )
        })
        .prop_map(
            |((target, timescale, msn, dsn, with_pdt, ended), segments)| Spec {
                target,
                timescale,
                media_sequence: msn,
                discontinuity_sequence: dsn,
                with_pdt,
                ended,
                segments,
            },
        )
}

fn build(spec: &Spec) -> MediaPlaylist {
    let mut generation = 0;
    let mut media_time = Duration::ZERO;
    let segments = spec
        .segments
        .iter()
        .enumerate()
        .map(|(i, (t, discontinuity, name))| {
            if *discontinuity {
                generation += 1;
            }
            let duration = ticks(*t, spec.timescale);
            let s = Segment {
                uri: format!("{name}/{i}.m4s"),
                duration,
                map: MapRef {
                    uri: format!("init-{generation}.mp4"),
                },
                discontinuity: *discontinuity,
                program_date_time: spec.with_pdt.then(|| anchor() + media_time),
                parts: Vec::new(),
            };
            media_time += duration.to_std();
            s
        })
        .collect();
    let mut p = live(spec.target, segments);
    p.media_sequence = spec.media_sequence;
    p.discontinuity_sequence = spec.discontinuity_sequence;
    p.ended = spec.ended;
    p
}

proptest! {
    #[test]
    fn random_playlists_round_trip_through_m3u8_rs(spec in spec()) {
        let p = build(&spec);
        let text = write_media(&p).unwrap();
        check_round_trip(&p, &text);
        validate_text(&text);
        // Deterministic: the same model renders the same bytes.
        prop_assert_eq!(write_media(&p.clone()).unwrap(), text);
    }

    #[test]
    fn writing_fails_exactly_when_a_segment_rounds_above_target(
        target in 1u32..6,
        durations in prop::collection::vec(0u64..9_000, 1..8),
    ) {
        let segments = durations
            .iter()
            .enumerate()
            .map(|(i, d)| seg(i as u64, ms(*d), "init.mp4", Duration::ZERO))
            .collect();
        let p = live(target, segments);
        let over = durations.iter().position(|d| (d + 500) / 1000 > u64::from(target));
        match (write_media(&p), over) {
            (Ok(_), None) => {}
            (Err(HlsError::SegmentOverTarget { index, .. }), Some(first)) => {
                prop_assert_eq!(index, first)
            }
            (result, over) => prop_assert!(false, "{result:?} for {over:?}"),
        }
    }

    #[test]
    fn sliding_windows_are_legal_updates(
        spec in spec(),
        steps in prop::collection::vec((any::<bool>(), 0usize..3), 1..20),
    ) {
        let mut spec = spec;
        spec.ended = false;
        let mut p = build(&spec);
        let mut previous = p.clone();
        for (next_id, (discontinuity, removals)) in (p.segments.len()..).zip(steps) {
            let map = if discontinuity {
                format!("init-r{next_id}.mp4")
            } else {
                p.segments.last().map_or("init-0.mp4".into(), |s| s.map.uri.clone())
            };
            let last_pdt = p.segments.last().and_then(|s| s.program_date_time);
            p.segments.push(Segment {
                uri: format!("new-{next_id}.m4s"),
                duration: ticks(u64::from(spec.timescale), spec.timescale),
                map: MapRef { uri: map },
                discontinuity,
                program_date_time: last_pdt.map(|t| t + Duration::from_secs(30)),
                parts: Vec::new(),
            });
            for _ in 0..removals.min(p.segments.len() - 1) {
                p.remove_oldest();
            }
            let text = write_media(&p).unwrap();
            check_round_trip(&p, &text);
            validate_text(&text);
            prop_assert!(check_update(&previous, &p).is_ok());
            previous = p.clone();
        }
    }
}
