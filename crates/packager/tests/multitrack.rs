//! Many tracks in one stream (issue 13): three video renditions and two
//! audio tracks fed in memory from a real ffmpeg FLV on a fake clock, every
//! output read back with the oracles (`mp4-atom`, `m3u8-rs`,
//! `dash-mpd-core`).

mod boxes_support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use mp4_atom::{Decode, Mdat, Moof, Styp};
use weir_flv::{DemuxEvent, Demuxer, TrackKind};
use weir_packager::manifests::{mpd_settings, render, Manifests};
use weir_packager::names::{FileName, InstanceId, TrackId};
use weir_packager::stream::{
    InstanceStart, PackagerConfig, PackagerEvent, SegmentInfo, StreamPackager,
};

use boxes_support::{read_flv, FIXTURE};

const INST: InstanceId = InstanceId::from_millis(1_796_000_000_123);
/// Sync sample: sample_depends_on = 2, not a non-sync sample.
const NON_SYNC: u32 = 0x0001_0000;

struct Published {
    packager: StreamPackager,
    segments: BTreeMap<TrackId, Vec<(SegmentInfo, Bytes)>>,
    manifests: Manifests,
}

/// The 2 s fixture `passes` times, its video as tracks 0, 1 and 2 and its
/// audio as tracks 0 and 1. Video track 2's timestamps are shifted by
/// `shift_ms` (one frame moves its key frames off the others').
fn publish(passes: u32, shift_ms: u32) -> Published {
    let tags = read_flv(&Bytes::from(std::fs::read(FIXTURE).unwrap()));
    let mut demuxers: Vec<Demuxer> = (0..5).map(|_| Demuxer::default()).collect();
    let mut p = StreamPackager::new(
        PackagerConfig {
            target_duration: Duration::from_secs(1),
            part_duration: Duration::from_millis(500),
            window: 4,
            ..PackagerConfig::default()
        },
        InstanceStart::new(INST),
    );
    let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut segments: BTreeMap<TrackId, Vec<(SegmentInfo, Bytes)>> = BTreeMap::new();
    let mut drain = |p: &mut StreamPackager| {
        while let Some(ev) = p.poll_event() {
            if let PackagerEvent::Segment { track, info, bytes } = ev {
                segments.entry(track).or_default().push((info, bytes));
            }
        }
    };
    for pass in 0..passes {
        for t in &tags {
            let ts = t.timestamp_ms + pass * 2000;
            let now = epoch + Duration::from_millis(u64::from(ts));
            // (demuxer, track index, timestamp) for each copy of the tag.
            let copies: Vec<(usize, u8, u32)> = match t.tag_type {
                9 => vec![(0, 0, ts), (1, 1, ts), (2, 2, ts + shift_ms)],
                8 => vec![(3, 0, ts), (4, 1, ts)],
                _ => continue,
            };
            for (d, index, ts) in copies {
                let r = match t.tag_type {
                    9 => demuxers[d].push_video(ts, t.body.clone()),
                    _ => demuxers[d].push_audio(ts, t.body.clone()),
                };
                if let Ok(Some(ev)) = r {
                    p.push_track(index, &ev, now).unwrap();
                }
                drain(&mut p);
            }
        }
    }
    let now = epoch + Duration::from_millis(u64::from(passes) * 2000);
    let settings = mpd_settings(&p);
    let manifests = render(&mut p, &settings, true, now).expect("playlists are ready");
    assert!(manifests.errors.is_empty(), "{:?}", manifests.errors);
    drain(&mut p);
    Published {
        packager: p,
        segments,
        manifests,
    }
}

fn id(kind: TrackKind, index: u8) -> TrackId {
    TrackId::new(kind, index)
}

/// Each chunk of a segment decodes as `[styp] moof mdat`; returns the
/// chunks' tfdt and first-sample sync flag.
fn chunks(segment: &[u8]) -> Vec<(u64, bool)> {
    let mut buf = segment;
    let mut out = Vec::new();
    while !buf.is_empty() {
        if buf.get(4..8) == Some(b"styp") {
            Styp::decode(&mut buf).expect("styp");
        }
        let moof = Moof::decode(&mut buf).expect("moof");
        Mdat::decode(&mut buf).expect("mdat");
        let traf = &moof.traf[0];
        let first = traf.trun[0].samples.iter().next().expect("a sample");
        let flags = first.flags.or(traf.tfhd.default_sample_flags).unwrap_or(0);
        let tfdt = traf.tfdt.as_ref().expect("tfdt").base_media_decode_time;
        out.push((tfdt, flags & NON_SYNC == 0));
    }
    out
}

/// Every track's segments start on a key frame and their tfdt runs on
/// without a gap (MP4-SEG-03, MP4-SEG-04, MP4-SEG-07).
fn assert_tracks_are_continuous(published: &Published) {
    assert_eq!(published.segments.len(), 5, "five tracks made segments");
    for (track, segs) in &published.segments {
        assert!(segs.len() >= 6, "{track}: {} segments", segs.len());
        let mut next = None;
        for (info, bytes) in segs {
            let cs = chunks(bytes);
            let (tfdt, sync) = cs[0];
            assert_eq!(tfdt, info.base_decode_time, "{}", info.name);
            assert!(sync, "{} starts on a key frame", info.name);
            if let Some(n) = next {
                assert_eq!(tfdt, n, "{}: tfdt continues", info.name);
            }
            next = Some(info.base_decode_time + info.duration);
            assert!(matches!(info.name, FileName::Segment { track: t, .. } if t == *track));
        }
    }
}

fn media_playlists(m: &Manifests) -> BTreeMap<String, m3u8_rs::MediaPlaylist> {
    m.media
        .iter()
        .map(|media| {
            let parsed = match m3u8_rs::parse_playlist_res(media.text.as_bytes()) {
                Ok(m3u8_rs::Playlist::MediaPlaylist(pl)) => pl,
                other => panic!("{}: {other:?}\n{}", media.name, media.text),
            };
            (media.name.to_string(), parsed)
        })
        .collect()
}

/// HLS-MV-01…03, LLHLS-05: five media playlists, one variant per video
/// track with its own CODECS/RESOLUTION/FRAME-RATE and the audio group,
/// two audio renditions, and a rendition report on every other rendition.
fn assert_hls(m: &Manifests) {
    let media = media_playlists(m);
    let names: Vec<&str> = media.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "audio.m3u8",
            "audio1.m3u8",
            "video.m3u8",
            "video1.m3u8",
            "video2.m3u8"
        ]
    );
    for (name, pl) in &media {
        assert!(pl.segments.len() >= 2, "{name}");
        let reports = m
            .media
            .iter()
            .find(|x| x.name.to_string() == *name)
            .map(|x| x.text.matches("#EXT-X-RENDITION-REPORT:").count());
        assert_eq!(reports, Some(4), "{name} reports on the four others");
    }
    let text = m.multivariant.as_deref().expect("multivariant");
    let mv = match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(pl)) => pl,
        other => panic!("{other:?}\n{text}"),
    };
    let uris: Vec<&str> = mv.variants.iter().map(|v| v.uri.as_str()).collect();
    assert_eq!(uris, ["video.m3u8", "video1.m3u8", "video2.m3u8"], "{text}");
    for v in &mv.variants {
        assert_eq!(v.codecs.as_deref(), Some("avc1.64000d,mp4a.40.2"), "{text}");
        assert_eq!(v.audio.as_deref(), Some("audio"));
        let res = v.resolution.expect("RESOLUTION");
        assert_eq!((res.width, res.height), (320, 240));
        assert_eq!(v.frame_rate, Some(30.0));
        assert!(v.bandwidth > 0);
    }
    let audio: Vec<(&str, bool)> = mv
        .alternatives
        .iter()
        .map(|a| (a.uri.as_deref().unwrap_or(""), a.default))
        .collect();
    assert_eq!(
        audio,
        [("audio.m3u8", true), ("audio1.m3u8", false)],
        "{text}"
    );
}

/// DASH-MPD-01…05: one video AdaptationSet with three Representations, one
/// AdaptationSet per audio track; `segmentAlignment` as measured.
fn assert_dash(m: &Manifests, aligned: bool) {
    let xml = m.mpd.as_deref().expect("MPD");
    let mpd = dash_mpd_core::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let period = mpd.periods.last().expect("a Period");
    let video: Vec<_> = period
        .adaptations
        .iter()
        .filter(|a| a.contentType.as_deref() == Some("video"))
        .collect();
    let audio: Vec<_> = period
        .adaptations
        .iter()
        .filter(|a| a.contentType.as_deref() == Some("audio"))
        .collect();
    assert_eq!(video.len(), 1, "{xml}");
    assert_eq!(audio.len(), 2, "{xml}");
    let reps: Vec<&str> = video[0]
        .representations
        .iter()
        .filter_map(|r| r.id.as_deref())
        .collect();
    assert_eq!(reps, ["video", "video1", "video2"], "{xml}");
    let audio_reps: Vec<&str> = audio
        .iter()
        .flat_map(|a| a.representations.iter().filter_map(|r| r.id.as_deref()))
        .collect();
    assert_eq!(audio_reps, ["audio", "audio1"], "{xml}");
    let expected = if aligned { "true" } else { "false" };
    assert!(
        xml.contains(&format!(
            "contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"{expected}\""
        )),
        "{xml}"
    );
}

#[test]
fn three_aligned_video_tracks_and_two_audio_tracks() {
    let published = publish(5, 0);
    assert_tracks_are_continuous(&published);
    assert_hls(&published.manifests);
    assert_dash(&published.manifests, true);
    let views = published.packager.tracks();
    assert!(views.iter().all(|v| v.aligned));
    // Aligned renditions cut at the same times, under the same numbers.
    let starts = |i| -> Vec<(u64, u64)> {
        published.segments[&id(TrackKind::Video, i)]
            .iter()
            .map(|(s, _)| (s.number, s.base_decode_time))
            .collect()
    };
    assert_eq!(starts(0), starts(1));
    assert_eq!(starts(0), starts(2));
}

#[test]
fn a_rendition_one_frame_off_is_published_as_not_aligned_and_stays_valid() {
    let published = publish(5, 33);
    assert_tracks_are_continuous(&published);
    assert_hls(&published.manifests);
    assert_dash(&published.manifests, false);
    let views = published.packager.tracks();
    let aligned: Vec<(String, bool)> = views
        .iter()
        .map(|v| (v.id.to_string(), v.aligned))
        .collect();
    assert_eq!(
        aligned,
        [
            ("video".to_owned(), true),
            ("video1".to_owned(), true),
            ("video2".to_owned(), false),
            ("audio".to_owned(), true),
            ("audio1".to_owned(), true),
        ]
    );
    // Its segments still start on its own key frames, one frame after
    // the reference's cuts.
    let reference = &published.segments[&id(TrackKind::Video, 0)];
    let shifted = &published.segments[&id(TrackKind::Video, 2)];
    let (r, s) = (&reference[2].0, &shifted[2].0);
    assert_eq!(s.base_decode_time, r.base_decode_time + 33 * 90);
}

/// A track that starts late takes the others' numbering (its segment
/// numbers stay comparable with theirs) and joins the MPD at a new Period;
/// one that stops leaves the others going.
#[test]
fn a_late_track_continues_the_numbering_and_a_stopped_track_stops_alone() {
    let tags = read_flv(&Bytes::from(std::fs::read(FIXTURE).unwrap()));
    let mut main = Demuxer::default();
    let mut audio = Demuxer::default();
    let mut late = Demuxer::default();
    let mut p = StreamPackager::new(
        PackagerConfig {
            target_duration: Duration::from_secs(1),
            window: 4,
            ..PackagerConfig::default()
        },
        InstanceStart::new(INST),
    );
    let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut firsts: BTreeMap<TrackId, u64> = BTreeMap::new();
    let mut mpds = Vec::new();
    for pass in 0..6u32 {
        for t in &tags {
            let ts = t.timestamp_ms + pass * 2000;
            let now = epoch + Duration::from_millis(u64::from(ts));
            let mut feed = |d: &mut Demuxer, index: u8, video: bool| {
                let r = if video {
                    d.push_video(ts, t.body.clone())
                } else {
                    d.push_audio(ts, t.body.clone())
                };
                if let Ok(Some(ev)) = r {
                    p.push_track(index, &ev, now).unwrap();
                }
            };
            match t.tag_type {
                9 => {
                    feed(&mut main, 0, true);
                    // Video track 1 joins in the third pass.
                    if pass >= 2 {
                        feed(&mut late, 1, true);
                    }
                }
                // The audio track stops after the fourth pass.
                8 if pass < 4 => feed(&mut audio, 0, false),
                _ => {}
            }
            let mut changed = false;
            while let Some(ev) = p.poll_event() {
                changed = true;
                if let PackagerEvent::Segment { track, info, .. } = ev {
                    firsts.entry(track).or_insert(info.number);
                }
            }
            if changed {
                let settings = mpd_settings(&p);
                if let Some(mpd) = render(&mut p, &settings, true, now).and_then(|m| m.mpd) {
                    mpds.push(mpd);
                }
            }
        }
    }
    // DASH-MPD-02: a Period, once listed, keeps its sets and
    // Representations; the late track joins at a Period of its own.
    let mut periods: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for xml in &mpds {
        let mpd = dash_mpd_core::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        for period in &mpd.periods {
            let sets: Vec<Vec<String>> = period
                .adaptations
                .iter()
                .map(|a| {
                    a.representations
                        .iter()
                        .filter_map(|r| r.id.clone())
                        .collect()
                })
                .collect();
            let id = period.id.clone().expect("Period@id");
            if let Some(seen) = periods.get(&id) {
                assert_eq!(seen, &sets, "Period {id} changed:\n{xml}");
            }
            periods.insert(id, sets);
        }
    }
    let with = |reps: &[&str]| {
        periods.values().any(|sets| {
            sets.iter()
                .any(|s| s.iter().map(String::as_str).eq(reps.iter().copied()))
        })
    };
    assert!(with(&["video"]), "{periods:?}");
    assert!(with(&["video", "video1"]), "{periods:?}");
    let v0 = p.track(TrackId::VIDEO).unwrap();
    let v1 = p.track(id(TrackKind::Video, 1)).unwrap();
    let a0 = p.track(TrackId::AUDIO).unwrap();
    assert_eq!(firsts[&TrackId::VIDEO], 0);
    assert!(firsts[&id(TrackKind::Video, 1)] >= 3, "{firsts:?}");
    assert!(v1.aligned);
    // The late track's segments carry the reference's numbers for the
    // same media times.
    for s in &v1.segments {
        let same = v0.segments.iter().find(|r| r.number == s.number);
        if let Some(r) = same {
            assert_eq!(r.base_decode_time, s.base_decode_time, "{}", s.name);
        }
    }
    // Audio stopped at 8 s; video went on to 12 s.
    let end = |v: &weir_packager::stream::TrackView| {
        v.segments
            .last()
            .map(|s| (s.base_decode_time + s.duration) as f64 / f64::from(s.timescale))
            .unwrap_or(0.0)
    };
    assert!(end(&a0) <= 8.1, "{}", end(&a0));
    assert!(end(&v0) >= 10.9, "{}", end(&v0));
    let _ = DemuxEvent::EndOfSequence(TrackKind::Video);
}

/// FLV-SEQ-01, HLS-MV-02 with several tracks: a new decoder configuration
/// on one rendition publishes its next init version, and every track's
/// next segment follows a discontinuity, so that all media playlists keep
/// the same discontinuity structure.
#[test]
fn a_new_configuration_on_one_rendition_breaks_every_track_together() {
    let tags = read_flv(&Bytes::from(std::fs::read(FIXTURE).unwrap()));
    let mut demuxers: Vec<Demuxer> = (0..3).map(|_| Demuxer::default()).collect();
    let mut p = StreamPackager::new(
        PackagerConfig {
            target_duration: Duration::from_secs(1),
            window: 6,
            ..PackagerConfig::default()
        },
        InstanceStart::new(INST),
    );
    let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut inits = Vec::new();
    let mut changed_at = None;
    let mut first_config: Option<weir_flv::AvcConfig> = None;
    for pass in 0..4u32 {
        for t in &tags {
            let ts = t.timestamp_ms + pass * 2000;
            let now = epoch + Duration::from_millis(u64::from(ts));
            let copies: &[(usize, u8)] = match t.tag_type {
                9 => &[(0, 0), (1, 1)],
                8 => &[(2, 0)],
                _ => continue,
            };
            for &(d, index) in copies {
                let r = match t.tag_type {
                    9 => demuxers[d].push_video(ts, t.body.clone()),
                    _ => demuxers[d].push_audio(ts, t.body.clone()),
                };
                // Half way, rendition 1's encoder restarts with another
                // configuration (the same SPS/PPS, a record that differs).
                if index == 1 && pass == 2 && changed_at.is_none() {
                    if let Some(mut avc) = first_config.clone() {
                        let mut record = avc.record.to_vec();
                        record.push(0);
                        avc.record = Bytes::from(record);
                        changed_at = Some(ts);
                        let change = DemuxEvent::VideoConfig {
                            config: weir_flv::VideoConfig::Avc(avc),
                            changed: true,
                        };
                        p.push_track(index, &change, now).unwrap();
                    }
                }
                let Ok(Some(ev)) = r else { continue };
                if let DemuxEvent::VideoConfig {
                    config: weir_flv::VideoConfig::Avc(avc),
                    ..
                } = &ev
                {
                    first_config.get_or_insert_with(|| avc.clone());
                }
                p.push_track(index, &ev, now).unwrap();
                while let Some(ev) = p.poll_event() {
                    if let PackagerEvent::Init { name, .. } = ev {
                        inits.push(name.to_string());
                    }
                }
            }
        }
    }
    assert_eq!(
        inits,
        [
            "video/mx2k118b/init-v1.mp4",
            "video1/mx2k118b/init-v1.mp4",
            "audio/mx2k118b/init-v1.mp4",
            "video1/mx2k118b/init-v2.mp4",
        ]
    );
    assert_eq!(changed_at, Some(4000));
    // One discontinuity on every track, at its first segment from 4 s on.
    for view in p.tracks() {
        let disc: Vec<u64> = view
            .segments
            .iter()
            .filter(|s| s.discontinuity)
            .map(|s| s.base_decode_time * 1000 / u64::from(s.timescale))
            .collect();
        assert_eq!(disc.len(), 1, "{}: {disc:?}", view.id);
        assert!((4000..4100).contains(&disc[0]), "{}: {disc:?}", view.id);
    }
    let v1 = p.track(id(TrackKind::Video, 1)).unwrap();
    assert_eq!(v1.init.to_string(), "video1/mx2k118b/init-v2.mp4");
    let settings = mpd_settings(&p);
    let now = epoch + Duration::from_secs(8);
    let m = render(&mut p, &settings, true, now).unwrap();
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    for (name, pl) in media_playlists(&m) {
        let discs = pl.segments.iter().filter(|s| s.discontinuity).count();
        assert_eq!(discs, 1, "{name}");
    }
}
