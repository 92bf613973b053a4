//! DASH from the packager's own state, with a fake clock: the real ffmpeg
//! FLV fixture is fed through `Demuxer` + `StreamPackager` while the wall
//! clock advances with the media (optionally faster or slower, or with a
//! gap for a reconnect). Every MPD is rendered, parsed back with
//! `dash-mpd-core`, and checked against checklist §5 (DASH-MPD-01…12).

mod boxes_support;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use weir_flv::Demuxer;
use weir_packager::dash::{
    live_mpd, write_mpd, LiveState, LowLatencyDash, Mpd, MpdSettings, UTC_HTTP_ISO,
};
use weir_packager::names::InstanceId;
use weir_packager::stream::{InstanceStart, PackagerConfig, PackagerEvent, StreamPackager};

use boxes_support::{find_box, read_flv, FIXTURE};

/// Loop period of the fixture: its audio runs 2.067 s, so a 2 s loop would
/// overlap audio and make the sample-counted audio timeline run ahead of the
/// timestamps by 67 ms a pass.
const FIXTURE_MS: u32 = 2100;

#[derive(Clone, Copy, Default)]
struct Scenario {
    /// Times the 2 s fixture is played back to back.
    passes: u32,
    /// Wall-clock seconds per media second (1.0: real time).
    wall_per_media: f64,
    /// Before this pass, the publisher drops and reconnects after a gap.
    reconnect: Option<(u32, Duration)>,
    audio_only: bool,
    video_only: bool,
    /// LL-DASH (DASH-LL-01), with LL-HLS parts.
    low_latency: bool,
}

struct Update {
    now: SystemTime,
    mpd: Mpd,
    xml: String,
    parsed: dash_mpd_core::MPD,
}

struct Run {
    updates: Vec<Update>,
    /// Segment bytes by URI.
    files: HashMap<String, Bytes>,
}

fn base() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn settings(low_latency: bool) -> MpdSettings {
    MpdSettings {
        window: 4,
        time_url: "../../time".into(),
        head_url: "index.mpd".into(),
        low_latency: low_latency.then_some(LowLatencyDash {
            chunk: Duration::from_millis(500),
        }),
    }
}

fn render(p: &mut StreamPackager, now: SystemTime) -> Option<Update> {
    let target = p.target_duration()?;
    let tracks = p.tracks();
    let state = LiveState {
        tracks: &tracks,
        clock: p.clock(),
        target_duration: target,
        longest_segment: p.longest_segment(),
        ended: p.is_ended(),
        waiting: p.is_waiting(),
        now,
    };
    let mpd = live_mpd(&state, &settings(p.config().low_latency))?;
    let xml = write_mpd(&mpd).expect("MPD renders");
    let parsed = dash_mpd_core::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    Some(Update {
        now,
        mpd,
        xml,
        parsed,
    })
}

/// Stores the files the packager made; whether it made any.
fn collect(p: &mut StreamPackager, files: &mut HashMap<String, Bytes>) -> bool {
    let mut changed = false;
    while let Some(ev) = p.poll_event() {
        changed = true;
        match ev {
            PackagerEvent::Init { name, bytes, .. } => {
                files.insert(name.to_string(), bytes);
            }
            PackagerEvent::Segment { info, bytes, .. } => {
                files.insert(info.name.to_string(), bytes);
            }
            PackagerEvent::Part { info, bytes, .. } => {
                files.insert(info.name.to_string(), bytes);
            }
            PackagerEvent::Removed { .. } => {}
        }
    }
    changed
}

fn run(s: Scenario) -> Run {
    let tags = read_flv(&Bytes::from(std::fs::read(FIXTURE).unwrap()));
    let mut demux = Demuxer::default();
    let mut p = StreamPackager::new(
        PackagerConfig {
            target_duration: Duration::from_secs(1),
            part_duration: Duration::from_millis(500),
            window: 4,
            drift_threshold: Duration::from_millis(500),
            low_latency: s.low_latency,
            ..PackagerConfig::default()
        },
        InstanceStart::new(InstanceId::from_millis(1_796_000_000_123)),
    );
    let mut updates = Vec::new();
    let mut files = HashMap::new();
    let mut gap = Duration::ZERO;
    let mut media_base = 0u32;
    let mut now = base();
    for pass in 0..s.passes {
        if let Some((at, g)) = s.reconnect.filter(|(at, _)| *at == pass) {
            let _ = at;
            // As the host does: the publisher left (its media is all
            // published), then a new one came back.
            p.publisher_left(now).unwrap();
            if collect(&mut p, &mut files) {
                updates.extend(render(&mut p, now));
            }
            demux.reconnect();
            // Back after the gap: the time away is filled.
            now += g;
            p.reconnect(now).unwrap();
            if collect(&mut p, &mut files) {
                updates.extend(render(&mut p, now));
            }
            gap += g;
            // A reconnecting encoder starts its clock again at zero.
            media_base = 0;
        }
        for t in &tags {
            let ts = t.timestamp_ms + media_base;
            let media_total = u64::from(pass * FIXTURE_MS + t.timestamp_ms);
            // Interleaving puts audio a few ms behind video: the wall clock
            // never goes back.
            now = now.max(
                base()
                    + gap
                    + Duration::from_secs_f64(media_total as f64 / 1000.0 * s.wall_per_media),
            );
            let r = match t.tag_type {
                9 if !s.audio_only => demux.push_video(ts, t.body.clone()),
                8 if !s.video_only => demux.push_audio(ts, t.body.clone()),
                _ => continue,
            };
            if let Ok(Some(ev)) = r {
                p.push(&ev, now).unwrap();
            }
            if collect(&mut p, &mut files) {
                updates.extend(render(&mut p, now));
            }
        }
        media_base += FIXTURE_MS;
    }
    p.end().unwrap();
    while let Some(ev) = p.poll_event() {
        if let PackagerEvent::Segment { info, bytes, .. } = ev {
            files.insert(info.name.to_string(), bytes);
        }
    }
    updates.extend(render(&mut p, now + Duration::from_millis(10)));
    assert!(!updates.is_empty(), "no MPD was made");
    Run { updates, files }
}

fn tfdt(segment: &[u8]) -> u64 {
    // The whole box: 8-byte header, then version and flags.
    let (_, tfdt) = find_box(segment, &[b"moof", b"traf", b"tfdt"]);
    assert_eq!(tfdt[8], 1, "tfdt version 1 (MP4-SEG-05)");
    u64::from_be_bytes(tfdt[12..20].try_into().unwrap())
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// AST + Period@start + (t + d − PTO) / timescale of every listed segment.
fn availability(m: &Mpd) -> Vec<(String, SystemTime)> {
    let mut out = Vec::new();
    for p in &m.periods {
        for a in &p.adaptation_sets {
            let t = &a.representations[0].template;
            for (i, s) in t.timeline.iter().enumerate() {
                let media_end = (s.t + s.d) as f64 - t.presentation_time_offset as f64;
                let at = secs(p.start) + media_end / f64::from(t.timescale);
                let uri = t
                    .media
                    .replace("$Number$", &(t.start_number + i as u64).to_string());
                out.push((
                    uri,
                    m.availability_start_time + Duration::from_secs_f64(at.max(0.0)),
                ));
            }
        }
    }
    out
}

#[test]
fn mpd_invariants_across_updates_dash_mpd_01_02_03_case_53() {
    let r = run(Scenario {
        passes: 8,
        wall_per_media: 1.0,
        ..Default::default()
    });
    let first = &r.updates[0];
    assert!(first
        .xml
        .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let mut last_publish = first.mpd.publish_time;
    let mut period_starts: HashMap<String, Duration> = HashMap::new();
    let mut durations_by_t: HashMap<(u32, u64), u64> = HashMap::new();
    let mut start_numbers: HashMap<u32, u64> = HashMap::new();
    for u in &r.updates {
        let m = &u.parsed;
        assert_eq!(m.mpdtype.as_deref(), Some("dynamic"));
        assert_eq!(
            m.availabilityStartTime, first.parsed.availabilityStartTime,
            "AST never changes (DASH-MPD-01)"
        );
        assert!(m.profiles.as_deref().unwrap().contains("isoff-live:2011"));
        assert!(m.minBufferTime.is_some());
        assert!(u.mpd.publish_time >= last_publish);
        last_publish = u.mpd.publish_time;
        assert_eq!(
            m.minimumUpdatePeriod.is_some(),
            !u.mpd.periods.is_empty() && u.mpd.minimum_update_period.is_some()
        );
        assert_eq!(m.UTCTiming[0].schemeIdUri, UTC_HTTP_ISO);
        assert_eq!(m.UTCTiming[0].value.as_deref(), Some("../../time"));
        let tsbd = m.timeShiftBufferDepth.unwrap();
        assert_eq!(
            tsbd,
            Duration::from_secs(4),
            "window × target (DASH-MPD-01)"
        );
        assert!(
            m.suggestedPresentationDelay.unwrap() < tsbd,
            "the delay leaves a non-empty buffer (DASH-MPD-10)"
        );
        for p in &m.periods {
            let id = p.id.clone().expect("Period@id (DASH-MPD-02)");
            let start = p.start.expect("Period@start");
            assert_eq!(*period_starts.entry(id).or_insert(start), start);
            for a in &p.adaptations {
                let aid: u32 = a.id.as_deref().unwrap().parse().unwrap();
                let ct = a.contentType.as_deref().unwrap();
                assert_eq!(ct, if aid == 1 { "video" } else { "audio" });
                assert_eq!(
                    a.mimeType.as_deref(),
                    Some(if aid == 1 { "video/mp4" } else { "audio/mp4" })
                );
                assert_eq!(a.segmentAlignment, Some(true));
                assert_eq!(a.startWithSAP, Some(1));
                let rep = &a.representations[0];
                assert!(rep.bandwidth.unwrap() > 0);
                let codecs = rep.codecs.as_deref().unwrap();
                if aid == 1 {
                    assert_eq!(codecs, "avc1.64000d", "from the avcC (CODEC-01)");
                    assert_eq!((rep.width, rep.height), (Some(320), Some(240)));
                    assert!(rep.frameRate.is_some());
                    assert_eq!(rep.sar.as_deref(), Some("1:1"));
                } else {
                    assert_eq!(codecs, "mp4a.40.2", "from the ASC (CODEC-02)");
                    assert_eq!(rep.audioSamplingRate.as_deref(), Some("48000"));
                    assert_eq!(rep.AudioChannelConfiguration.len(), 1);
                }
                let st = rep.SegmentTemplate.as_ref().unwrap();
                let sn = st.startNumber.unwrap();
                let prev = start_numbers.entry(aid).or_insert(sn);
                assert!(sn >= *prev, "startNumber only grows");
                *prev = sn;
                // Existing S entries are never edited (DASH-MPD-05).
                for s in &st.SegmentTimeline.as_ref().unwrap().segments {
                    assert_eq!(s.r, None);
                    let d = *durations_by_t.entry((aid, s.t.unwrap())).or_insert(s.d);
                    assert_eq!(d, s.d, "S@t={:?} changed its duration", s.t);
                }
            }
        }
    }
    // publishTime moves whenever the content does.
    for w in r.updates.windows(2) {
        if w[0].xml != w[1].xml {
            assert!(w[1].mpd.publish_time > w[0].mpd.publish_time);
        }
    }
}

#[test]
fn timeline_equals_the_segments_tfdt_and_durations_dash_mpd_05_case_54() {
    let r = run(Scenario {
        passes: 6,
        wall_per_media: 1.0,
        ..Default::default()
    });
    let mut checked = 0;
    for u in &r.updates {
        for p in &u.mpd.periods {
            for a in &p.adaptation_sets {
                let t = &a.representations[0].template;
                assert!(r.files.contains_key(&t.initialization));
                for (i, w) in t.timeline.windows(2).enumerate() {
                    assert_eq!(w[0].t + w[0].d, w[1].t, "gapless timeline at S {i}");
                }
                for (i, s) in t.timeline.iter().enumerate() {
                    let uri = t
                        .media
                        .replace("$Number$", &(t.start_number + i as u64).to_string());
                    let bytes = &r.files[&uri];
                    assert_eq!(tfdt(bytes), s.t, "{uri}: S@t is its tfdt");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 20, "{checked}");
}

#[test]
fn segments_are_listed_only_once_available_and_on_time_dash_mpd_06_case_55() {
    for rate in [1.0, 0.995, 1.005] {
        let r = run(Scenario {
            passes: 10,
            wall_per_media: rate,
            ..Default::default()
        });
        for u in &r.updates {
            for (uri, at) in availability(&u.mpd) {
                // Listed at most the drift threshold before its availability
                // time, and never long after it (DASH-MPD-08).
                let lead = at.duration_since(u.now).unwrap_or_default();
                assert!(
                    lead <= Duration::from_millis(560),
                    "{uri}: {lead:?} early at rate {rate}"
                );
            }
        }
    }
}

#[test]
fn drift_past_the_threshold_starts_a_new_period_dash_mpd_08_case_60() {
    // Media 2 % fast against the wall clock (case 60 uses 1 % over minutes).
    let r = run(Scenario {
        passes: 30,
        wall_per_media: 0.98,
        ..Default::default()
    });
    let last = &r.updates.last().unwrap().mpd;
    let all_ids: Vec<String> = r
        .updates
        .iter()
        .flat_map(|u| u.mpd.periods.iter().map(|p| p.id.clone()))
        .collect();
    assert!(
        all_ids.iter().any(|id| id == "p1"),
        "no re-anchor: {all_ids:?}"
    );
    // No mapping ever put a listed segment far into the future: the guard
    // sees the drift at a segment's end and the new Period starts at the
    // cut after the next, so the lead can pass the 500 ms threshold by two
    // segments' drift (2 × 20 ms here) plus audio's overhang past the video
    // cut (under one 21 ms AAC frame at 48 kHz), then falls back to zero.
    let mut max_lead = Duration::ZERO;
    for u in &r.updates {
        for (_, at) in availability(&u.mpd) {
            max_lead = max_lead.max(at.duration_since(u.now).unwrap_or_default());
        }
    }
    assert!(max_lead <= Duration::from_millis(620), "{max_lead:?}");
    // Every track shares the Period boundaries.
    for p in &last.periods {
        assert_eq!(p.adaptation_sets.len(), 2, "{}", p.id);
        let v = &p.adaptation_sets[0].representations[0].template;
        let a = &p.adaptation_sets[1].representations[0].template;
        let v0 = (v.timeline[0].t as f64 - v.presentation_time_offset as f64) / 90_000.0;
        let a0 = (a.timeline[0].t as f64 - a.presentation_time_offset as f64) / 48_000.0;
        assert!((v0 - a0).abs() < 0.05, "{}: video {v0} audio {a0}", p.id);
    }
}

#[test]
fn a_reconnect_opens_a_period_at_its_wall_clock_time_dash_mpd_09() {
    let r = run(Scenario {
        passes: 6,
        wall_per_media: 1.0,
        reconnect: Some((3, Duration::from_secs(4))),
        ..Default::default()
    });
    let u = r
        .updates
        .iter()
        .find(|u| u.mpd.periods.len() == 2)
        .expect("two Periods after the reconnect");
    // The 4 s the publisher was away are filled (last key frame, silence),
    // made when the new publisher came: no drift to re-anchor for.
    let most = r.updates.iter().map(|u| u.mpd.periods.len()).max();
    assert_eq!(most, Some(2), "{}", r.updates.last().unwrap().xml);
    let (p0, p1) = (&u.mpd.periods[0], &u.mpd.periods[1]);
    assert_eq!((p0.id.as_str(), p1.id.as_str()), ("p0", "p1"));
    // p0 runs up to p1: no hole for players to wait out (issue 12).
    let v0 = &p0.adaptation_sets[0].representations[0].template;
    let end = v0.timeline.last().map(|s| s.t + s.d).unwrap() - v0.presentation_time_offset;
    let hole = secs(p1.start) - secs(p0.start) - end as f64 / 90_000.0;
    assert!(hole.abs() < 0.06, "hole {hole}\n{}", u.xml);
    // p1 starts when the new publisher's media came: three 2.1 s passes
    // and the 4 s away, on the wall clock (DASH-MPD-09).
    let ast = u
        .mpd
        .availability_start_time
        .duration_since(base())
        .unwrap();
    let wall = secs(ast) + secs(p1.start);
    assert!(
        (wall - (3.0 * 2.1 + 4.0)).abs() < 0.1,
        "p1 at {wall} s\n{}",
        u.xml
    );
    let v1 = &p1.adaptation_sets[0].representations[0].template;
    assert_eq!(v1.start_number, v0.start_number + v0.timeline.len() as u64);
    assert_eq!(v1.presentation_time_offset, v1.timeline[0].t);
    // The new publisher's media timeline continues monotonic (HLS-LIVE-08).
    assert!(v1.timeline[0].t >= v0.timeline.last().map(|s| s.t + s.d).unwrap());
}

#[test]
fn a_configuration_change_opens_a_connected_period() {
    // Same fixture with the publisher's clock running on: the demuxer sees
    // a reconnect but no gap, as a mid-stream encoder restart would.
    let r = run(Scenario {
        passes: 4,
        wall_per_media: 1.0,
        reconnect: Some((2, Duration::ZERO)),
        ..Default::default()
    });
    let u = r.updates.iter().find(|u| u.mpd.periods.len() == 2).unwrap();
    let (p0, p1) = (&u.mpd.periods[0], &u.mpd.periods[1]);
    let v0 = &p0.adaptation_sets[0].representations[0].template;
    let end = v0.timeline.last().map(|s| s.t + s.d).unwrap() - v0.presentation_time_offset;
    let p0_end = secs(p0.start) + end as f64 / 90_000.0;
    assert!((secs(p1.start) - p0_end).abs() < 0.06, "{}", u.xml);
}

#[test]
fn end_of_live_gives_the_last_period_a_duration_dash_mpd_12_case_59() {
    let r = run(Scenario {
        passes: 3,
        wall_per_media: 1.0,
        ..Default::default()
    });
    let before = &r.updates[r.updates.len() - 2].mpd;
    let last = r.updates.last().unwrap();
    assert!(before.minimum_update_period.is_some());
    assert_eq!(last.parsed.minimumUpdatePeriod, None, "{}", last.xml);
    assert!(!last.xml.contains("minimumUpdatePeriod"));
    let p = last.mpd.periods.last().unwrap();
    let v = &p.adaptation_sets[0].representations[0].template;
    let end = v.timeline.last().map(|s| s.t + s.d).unwrap() - v.presentation_time_offset;
    let d = last.parsed.periods.last().unwrap().duration.unwrap();
    assert!(
        (secs(d) - end as f64 / 90_000.0).abs() < 0.002,
        "{d:?} vs {end}"
    );
}

#[test]
fn audio_only_and_video_only_have_one_adaptation_set_case_42() {
    for (audio_only, kind) in [(true, "audio"), (false, "video")] {
        let r = run(Scenario {
            passes: 3,
            wall_per_media: 1.0,
            audio_only,
            video_only: !audio_only,
            ..Default::default()
        });
        let m = &r.updates.last().unwrap().parsed;
        for p in &m.periods {
            assert_eq!(p.adaptations.len(), 1);
            assert_eq!(p.adaptations[0].contentType.as_deref(), Some(kind));
        }
    }
}

#[test]
fn the_same_state_renders_the_same_bytes() {
    let a = run(Scenario {
        passes: 2,
        wall_per_media: 1.0,
        ..Default::default()
    });
    let b = run(Scenario {
        passes: 2,
        wall_per_media: 1.0,
        ..Default::default()
    });
    let xa: Vec<&str> = a.updates.iter().map(|u| u.xml.as_str()).collect();
    let xb: Vec<&str> = b.updates.iter().map(|u| u.xml.as_str()).collect();
    assert_eq!(xa, xb);
    insta::assert_snapshot!("mpd_two_passes_ended", a.updates.last().unwrap().xml);
}

/// DASH-LL-01: with low latency, the segment in progress is listed from its
/// start with a predicted duration (later corrected to the real one),
/// the template says how early segments may be fetched
/// (availabilityTimeOffset = segment − chunk, availabilityTimeComplete
/// false), and the MPD carries ServiceDescription latency targets and a
/// ProducerReferenceTime on the MPD's own clock; dash-mpd-core parses it.
#[test]
fn low_latency_lists_the_segment_in_progress_dash_ll_01() {
    let r = run(Scenario {
        passes: 8,
        wall_per_media: 1.0,
        low_latency: true,
        ..Default::default()
    });
    let live: Vec<&Update> = r
        .updates
        .iter()
        .filter(|u| u.mpd.minimum_update_period.is_some())
        .collect();
    assert!(live.len() > 20);
    let mut listed_early = 0;
    for u in &live {
        assert_eq!(
            u.mpd.minimum_update_period,
            Some(Duration::from_millis(500))
        );
        let sd = u.mpd.service_description.expect("ServiceDescription");
        assert_eq!(sd.latency_target, Duration::from_millis(1500));
        assert!(sd.latency_min < sd.latency_target && sd.latency_target < sd.latency_max);
        assert!(
            u.xml.contains(r#"availabilityTimeOffset="0.5""#),
            "{}",
            u.xml
        );
        assert!(u.xml.contains(r#"availabilityTimeComplete="false""#));
        assert!(
            u.xml.contains(r#"<Latency referenceId="0" target="1500""#),
            "{}",
            u.xml
        );
        for p in &u.mpd.periods {
            for a in &p.adaptation_sets {
                let t = &a.representations[0].template;
                let prt = a
                    .producer_reference_time
                    .as_ref()
                    .expect("ProducerReferenceTime");
                // On the MPD's timeline: AST + Period@start + (t − PTO).
                let first = t.timeline[0];
                assert_eq!(prt.presentation_time, first.t);
                let offset = (first.t - t.presentation_time_offset) as f64 / f64::from(t.timescale);
                let expect =
                    u.mpd.availability_start_time + p.start + Duration::from_secs_f64(offset);
                let skew = prt
                    .wall_clock_time
                    .duration_since(expect)
                    .unwrap_or_else(|e| e.duration());
                assert!(skew < Duration::from_millis(2), "{skew:?}");
                // The timeline is continuous: the entry for the segment in
                // progress starts where the last complete one ends.
                for w in t.timeline.windows(2) {
                    assert_eq!(w[1].t, w[0].t + w[0].d, "{}", u.xml);
                }
                // The entry for the segment in progress is the one after the
                // last complete segment, and it became a real segment.
                let last = t.start_number + t.timeline.len() as u64 - 1;
                let uri = t.media.replace("$Number$", &last.to_string());
                assert!(r.files.contains_key(&uri), "{uri} listed but never made");
            }
            let parsed = &u.parsed;
            assert!(!parsed.periods.is_empty());
        }
        // The newest listed segment: mostly not complete yet (its end, the
        // non-LL availability, is still ahead).
        let ato = Duration::from_millis(500);
        let newest_end = availability(&u.mpd)
            .into_iter()
            .map(|(_, at)| at)
            .max()
            .unwrap();
        if newest_end > u.now + Duration::from_millis(100) {
            listed_early += 1;
        }
        // Listed from its start, so available (its first chunk made) about
        // one chunk later, never much more.
        let available = newest_end - ato;
        assert!(
            available.duration_since(u.now).unwrap_or_default() < ato + Duration::from_millis(300),
            "listed {:?} before its first chunk",
            available.duration_since(u.now)
        );
    }
    // Most updates list a segment before it is complete.
    assert!(
        listed_early * 2 > live.len(),
        "{listed_early} of {}",
        live.len()
    );
}
