//! StreamPackager end to end on a real ffmpeg FLV: demuxed frames in, init
//! segments, media segments and the live window out.

mod boxes_support;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use weir_flv::{DemuxEvent, Demuxer, Frame, TrackKind};
use weir_packager::names::{FileName, InstanceId, TrackId};
use weir_packager::stream::{
    InstanceStart, PackagerConfig, PackagerEvent, SegmentInfo, StreamPackager,
};

use boxes_support::{read_flv, FIXTURE};

/// The instance every test stream is (`mx2k118b` in file names).
const INST: InstanceId = InstanceId::from_millis(1_796_000_000_123);

/// Feed the 2 s fixture `passes` times back to back (timestamps continued),
/// sequence headers included each time (identical repeats, FLV-SEQ-01).
fn run(passes: u32, reconnect_after: Option<u32>) -> (StreamPackager, Vec<PackagerEvent>) {
    run_from(InstanceStart::new(INST), passes, reconnect_after)
}

fn run_from(
    start: InstanceStart,
    passes: u32,
    reconnect_after: Option<u32>,
) -> (StreamPackager, Vec<PackagerEvent>) {
    let tags = read_flv(&Bytes::from(std::fs::read(FIXTURE).unwrap()));
    let mut demux = Demuxer::default();
    let mut p = StreamPackager::new(
        PackagerConfig {
            target_duration: Duration::from_secs(1),
            part_duration: Duration::from_millis(500),
            window: 3,
            ..PackagerConfig::default()
        },
        start,
    );
    let mut events = Vec::new();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for pass in 0..passes {
        if Some(pass) == reconnect_after {
            // As the host does: the publisher left (its media is all
            // published), then a new one came back.
            p.publisher_left(now).unwrap();
            events.extend(std::iter::from_fn(|| p.poll_event()));
            demux.reconnect();
            // Back at once: nothing to fill.
            p.reconnect(now).unwrap();
        }
        for t in &tags {
            let ts = t.timestamp_ms + pass * 2000;
            let r = match t.tag_type {
                9 => demux.push_video(ts, t.body.clone()),
                8 => demux.push_audio(ts, t.body.clone()),
                _ => continue,
            };
            if let Ok(Some(ev)) = r {
                p.push(&ev, now).unwrap();
            }
            events.extend(std::iter::from_fn(|| p.poll_event()));
        }
    }
    p.end().unwrap();
    events.extend(std::iter::from_fn(|| p.poll_event()));
    (p, events)
}

fn segments(events: &[PackagerEvent], kind: TrackKind) -> Vec<SegmentInfo> {
    events
        .iter()
        .filter_map(|e| match e {
            PackagerEvent::Segment { track, info, .. } if track.kind == kind => Some(info.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn repeated_identical_sequence_headers_make_one_init_case_30() {
    let (_, events) = run(4, None);
    let inits: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            PackagerEvent::Init { name, .. } => Some(name.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        inits,
        vec!["video/mx2k118b/init-v1.mp4", "audio/mx2k118b/init-v1.mp4"]
    );
    for kind in [TrackKind::Video, TrackKind::Audio] {
        assert!(segments(&events, kind).iter().all(|s| !s.discontinuity));
    }
}

#[test]
fn segments_are_continuous_numbered_and_windowed_mp4_seg_04_hls_pl_03() {
    let (mut p, events) = run(4, None);
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let segs = segments(&events, kind);
        assert!(segs.len() >= 7, "{kind:?}: {}", segs.len());
        for (i, w) in segs.windows(2).enumerate() {
            assert_eq!(w[0].number, i as u64);
            assert_eq!(w[1].base_decode_time, w[0].base_decode_time + w[0].duration);
        }
        let view = p.track(TrackId::new(kind, 0)).unwrap();
        assert_eq!(view.segments.len(), 3);
        assert_eq!(view.media_sequence, segs.len() as u64 - 3);
        let removed = events
            .iter()
            .filter(|e| matches!(e, PackagerEvent::Removed { track, .. } if track.kind == kind))
            .count();
        assert_eq!(removed, segs.len() - 3);
    }
    // 1 s GOPs at a 1 s target: every full video segment lasts 1 s at 90 kHz.
    let video = segments(&events, TrackKind::Video);
    assert!(video[..video.len() - 1]
        .iter()
        .all(|s| s.duration == 90_000));
    // Audio is cut at the video boundaries (the first
    // audio frame of this encode starts 46 ms in: AAC priming).
    let audio = segments(&events, TrackKind::Audio);
    // (Only within the first pass: looping the fixture overlaps its audio tail
    // with the next pass, which the packager resolves by never going back.)
    for (v, a) in video.iter().zip(&audio).skip(1).take(1) {
        let v_ms = v.base_decode_time as f64 / 90.0;
        let a_ms = a.base_decode_time as f64 / 48.0;
        // Audio decode times count samples and follow the wire clock within
        // 1.5 frames (32 ms at 48 kHz); the cut is at the first frame past the boundary.
        assert!((v_ms - a_ms).abs() <= 33.0, "video {v_ms} audio {a_ms}");
    }
    assert_eq!(p.target_duration(), Some(1));
    assert!(p.is_ended());
    let view = p.track(TrackId::new(TrackKind::Video, 0)).unwrap();
    assert_eq!(view.codec, "avc1.64000d");
    assert!(view.peak_bitrate >= view.average_bitrate && view.average_bitrate > 0);
}

#[test]
fn reconnect_marks_one_discontinuity_that_later_slides_out_hls_live_08() {
    let (p, events) = run(6, Some(2));
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let segs = segments(&events, kind);
        let disc: Vec<u64> = segs
            .iter()
            .filter(|s| s.discontinuity)
            .map(|s| s.number)
            .collect();
        assert_eq!(disc.len(), 1, "{kind:?}: {disc:?}");
        // Numbers never restart and decode times never go back.
        for w in segs.windows(2) {
            assert_eq!(w[1].number, w[0].number + 1);
            assert!(w[1].base_decode_time >= w[0].base_decode_time + w[0].duration);
        }
        let view = p.track(TrackId::new(kind, 0)).unwrap();
        assert_eq!(view.discontinuity_sequence, 1, "{kind:?}");
    }
}

/// Issue 12 §3: when the publisher leaves, all it sent is published at
/// once (the open segments close), the playlists stay live (no ENDLIST),
/// and the publisher that comes back continues after a discontinuity with
/// decode times that never go back (MP4-SEG-04, HLS-LIVE-08).
#[test]
fn a_publisher_that_leaves_has_all_its_media_published_at_once() {
    let mut p = StreamPackager::new(
        PackagerConfig {
            target_duration: Duration::from_secs(1),
            window: 3,
            ..PackagerConfig::default()
        },
        InstanceStart::new(INST),
    );
    let tags = read_flv(&Bytes::from(std::fs::read(FIXTURE).unwrap()));
    let mut demux = Demuxer::default();
    let mut last_dts = std::collections::HashMap::new();
    for t in &tags {
        let r = match t.tag_type {
            9 => demux.push_video(t.timestamp_ms, t.body.clone()),
            8 => demux.push_audio(t.timestamp_ms, t.body.clone()),
            _ => continue,
        };
        if let Ok(Some(ev)) = r {
            if let DemuxEvent::Frame(f) = &ev {
                last_dts.insert(f.track, f.dts_ms);
            }
            p.push(&ev, now()).unwrap();
        }
    }
    let before: Vec<PackagerEvent> = std::iter::from_fn(|| p.poll_event()).collect();
    p.publisher_left(now()).unwrap();
    assert!(p.is_waiting() && !p.is_ended());
    let flushed: Vec<PackagerEvent> = std::iter::from_fn(|| p.poll_event()).collect();
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let last = segments(&flushed, kind);
        assert_eq!(last.len(), 1, "{kind:?}: the open segment closed");
        let end_ms =
            (last[0].base_decode_time + last[0].duration) * 1000 / u64::from(last[0].timescale);
        assert!(
            end_ms as i64 > last_dts[&kind],
            "{kind:?}: the last frame ({} ms) is in it (ends {end_ms} ms)",
            last_dts[&kind]
        );
        let view = p.track(TrackId::new(kind, 0)).unwrap();
        assert!(view.open.is_none(), "{kind:?}: nothing in progress");
        let text = weir_packager::hls::write_media(&weir_packager::playlists::media_playlist(
            &view,
            2,
            false,
            None,
            &[],
        ))
        .unwrap();
        assert!(!text.contains("#EXT-X-ENDLIST"), "{text}");
    }
    // Leaving twice publishes nothing more.
    p.publisher_left(now()).unwrap();
    assert!(p.poll_event().is_none());

    // The publisher comes back with its clock at zero.
    demux.reconnect();
    p.reconnect(now()).unwrap();
    assert!(!p.is_waiting());
    for t in &tags {
        let r = match t.tag_type {
            9 => demux.push_video(t.timestamp_ms, t.body.clone()),
            8 => demux.push_audio(t.timestamp_ms, t.body.clone()),
            _ => continue,
        };
        if let Ok(Some(ev)) = r {
            p.push(&ev, now()).unwrap();
        }
    }
    p.end().unwrap();
    let after: Vec<PackagerEvent> = std::iter::from_fn(|| p.poll_event()).collect();
    let all: Vec<PackagerEvent> = before.into_iter().chain(flushed).chain(after).collect();
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let segs = segments(&all, kind);
        assert_eq!(
            segs.iter().filter(|s| s.discontinuity).count(),
            1,
            "{kind:?}"
        );
        for w in segs.windows(2) {
            assert_eq!(w[1].number, w[0].number + 1, "{kind:?}");
            assert!(
                w[1].base_decode_time >= w[0].base_decode_time + w[0].duration,
                "{kind:?}: tfdt went back at segment {}",
                w[1].number
            );
        }
    }
}

/// Issue 12: the time a publisher was away is filled with the last key
/// frame and silence, so the media keeps pace with the wall clock (players
/// keep their latency and need not wait out a hole): the filler continues
/// the old media (same init, no discontinuity, PROGRAM-DATE-TIME running
/// on), covers the gap to within a frame, and the new publisher's media
/// follows it after the one discontinuity.
#[test]
fn the_time_away_is_filled_with_the_last_picture_and_silence() {
    let config = PackagerConfig {
        target_duration: Duration::from_secs(1),
        window: 6,
        low_latency: false,
        ..PackagerConfig::default()
    };
    let mut p = StreamPackager::new(config, InstanceStart::new(INST));
    let tags = read_flv(&Bytes::from(std::fs::read(FIXTURE).unwrap()));
    let mut demux = Demuxer::default();
    let feed = |p: &mut StreamPackager, demux: &mut Demuxer, at: SystemTime| {
        for t in &tags {
            let r = match t.tag_type {
                9 => demux.push_video(t.timestamp_ms, t.body.clone()),
                8 => demux.push_audio(t.timestamp_ms, t.body.clone()),
                _ => continue,
            };
            if let Ok(Some(ev)) = r {
                p.push(&ev, at).unwrap();
            }
        }
    };
    // The fixture's media runs 2.067 s: the publisher sends it in real time
    // (its first frame maps to t0) and leaves when it is done.
    let t0 = now();
    feed(&mut p, &mut demux, t0);
    let left = t0 + Duration::from_millis(2_067);
    p.publisher_left(left).unwrap();
    let before: Vec<PackagerEvent> = std::iter::from_fn(|| p.poll_event()).collect();
    let gap = Duration::from_millis(3_300);
    demux.reconnect();
    p.reconnect(left + gap).unwrap();
    let filled: Vec<PackagerEvent> = std::iter::from_fn(|| p.poll_event()).collect();
    feed(&mut p, &mut demux, left + gap);
    p.end().unwrap();
    let after: Vec<PackagerEvent> = std::iter::from_fn(|| p.poll_event()).collect();

    let key = tags
        .iter()
        .find(|t| t.tag_type == 9 && t.body[0] >> 4 == 1 && t.body[1] == 1)
        .map(|t| t.body.len())
        .unwrap();
    // Where the old publisher's media ended: the later of the two tracks.
    let old_end_secs = [TrackKind::Video, TrackKind::Audio]
        .into_iter()
        .map(|kind| {
            let s = segments(&before, kind).pop().unwrap();
            (s.base_decode_time + s.duration) as f64 / f64::from(s.timescale)
        })
        .fold(0.0, f64::max);
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let old = segments(&before, kind);
        let all: Vec<SegmentInfo> = segments(&before, kind)
            .into_iter()
            .chain(segments(&filled, kind))
            .chain(segments(&after, kind))
            .collect();
        let old_end = old.last().map(|s| s.base_decode_time + s.duration).unwrap();
        // The first segment of the new publisher: the only discontinuity.
        let disc: Vec<&SegmentInfo> = all.iter().filter(|s| s.discontinuity).collect();
        assert_eq!(disc.len(), 1, "{kind:?}");
        let first_new = disc[0];
        let ts = f64::from(first_new.timescale);
        let filler_secs = (first_new.base_decode_time - old_end) as f64 / ts;
        let resumed_at = first_new.base_decode_time as f64 / ts;
        // Video to within a frame; audio also starts as late after the
        // video as the publisher's does (46 ms in the fixture).
        let frame = if kind == TrackKind::Video {
            0.034
        } else {
            0.022 + 0.046
        };
        assert!(
            (resumed_at - old_end_secs - gap.as_secs_f64()).abs() <= frame,
            "{kind:?}: media resumed at {resumed_at} s, {gap:?} after {old_end_secs} s"
        );
        // The filler is contiguous, in the old init, with PDT running on.
        let filler: Vec<&SegmentInfo> = all
            .iter()
            .filter(|s| s.number > old.last().unwrap().number && s.number < first_new.number)
            .collect();
        assert!(!filler.is_empty(), "{kind:?}: no filler segment");
        let mut at = old_end;
        for s in &filler {
            assert_eq!(s.base_decode_time, at, "{kind:?} seg {}", s.number);
            assert!(!s.discontinuity);
            assert_eq!(s.init, old.last().unwrap().init);
            at += s.duration;
        }
        let pdt = |s: &SegmentInfo| s.program_date_time.duration_since(t0).unwrap_or_default();
        let pdt_gap = pdt(first_new).as_secs_f64() - pdt(filler[0]).as_secs_f64();
        assert!(
            (pdt_gap - filler_secs).abs() < 0.05,
            "{kind:?}: PDT {pdt_gap} s over {filler_secs} s of filler"
        );
        if kind == TrackKind::Video {
            // One repeated key frame per segment: a segment is about its
            // size, not a GOP's.
            assert!(filler.iter().all(|s| s.size < key + 1_000), "{filler:?}");
        }
    }
}

/// A continuous publish as ffmpeg's FLV muxer interleaves it (DTS order;
/// 30 fps video with 1 s GOPs in 33/34 ms steps, 48 kHz AAC from 46 ms on in
/// 21/22 ms steps), with the fixture's decoder configurations and payloads.
struct Synthetic {
    p: StreamPackager,
    events: Vec<PackagerEvent>,
    video_config: DemuxEvent,
    key: Bytes,
    inter: Bytes,
    aac: Bytes,
    v: i64,
    a: i64,
    /// The next frame of each track is the first after a reconnect
    /// (audio, video).
    first_after_reconnect: (bool, bool),
}

impl Synthetic {
    fn new(config: PackagerConfig) -> Self {
        let tags = read_flv(&Bytes::from(std::fs::read(FIXTURE).unwrap()));
        let mut demux = Demuxer::default();
        let mut p = StreamPackager::new(config, InstanceStart::new(INST));
        let (mut video_config, mut key, mut inter, mut aac) = (None, None, None, None);
        for t in &tags {
            let r = match t.tag_type {
                9 => demux.push_video(t.timestamp_ms, t.body.clone()),
                8 => demux.push_audio(t.timestamp_ms, t.body.clone()),
                _ => continue,
            };
            match r {
                Ok(Some(ev @ DemuxEvent::VideoConfig { .. })) => {
                    p.push(&ev, now()).unwrap();
                    video_config = Some(ev);
                }
                Ok(Some(ev @ DemuxEvent::AudioConfig { .. })) => p.push(&ev, now()).unwrap(),
                Ok(Some(DemuxEvent::Frame(f))) => match f.track {
                    TrackKind::Video if f.keyframe => key = key.or(Some(f.data)),
                    TrackKind::Video => inter = inter.or(Some(f.data)),
                    TrackKind::Audio => aac = aac.or(Some(f.data)),
                },
                _ => {}
            }
        }
        Synthetic {
            p,
            events: Vec::new(),
            video_config: video_config.unwrap(),
            key: key.unwrap(),
            inter: inter.unwrap(),
            aac: aac.unwrap(),
            v: 0,
            a: 0,
            first_after_reconnect: (false, false),
        }
    }

    fn video_ms(n: i64) -> i64 {
        (n * 1000 + 15) / 30
    }

    fn audio_ms(n: i64) -> i64 {
        46 + (n * 1024 * 1000 + 24_000) / 48_000
    }

    /// Publish frames until video reaches `until_ms`.
    fn run_to(&mut self, until_ms: i64) {
        while Self::video_ms(self.v) < until_ms {
            let (a, v) = (self.a, self.v);
            let frame = if Self::audio_ms(a) < Self::video_ms(v) {
                self.a += 1;
                Frame {
                    track: TrackKind::Audio,
                    dts_ms: Self::audio_ms(a),
                    pts_ms: Self::audio_ms(a),
                    keyframe: true,
                    discontinuity: std::mem::take(&mut self.first_after_reconnect.0),
                    data: self.aac.clone(),
                }
            } else {
                self.v += 1;
                let keyframe = v % 30 == 0;
                Frame {
                    track: TrackKind::Video,
                    dts_ms: Self::video_ms(v),
                    pts_ms: Self::video_ms(v),
                    keyframe,
                    discontinuity: std::mem::take(&mut self.first_after_reconnect.1),
                    data: if keyframe {
                        self.key.clone()
                    } else {
                        self.inter.clone()
                    },
                }
            };
            self.push(&DemuxEvent::Frame(frame));
        }
    }

    fn push(&mut self, ev: &DemuxEvent) {
        self.p.push(ev, now()).unwrap();
        self.events
            .extend(std::iter::from_fn(|| self.p.poll_event()));
    }

    /// The low-latency media playlist of `kind`, as written.
    fn playlist(&mut self, kind: TrackKind) -> String {
        let target_duration = self.p.target_duration().unwrap();
        let ll = Some(weir_packager::playlists::LowLatency {
            part_target: self.p.config().part_target(),
        });
        let view = self.p.track(TrackId::new(kind, 0)).unwrap();
        let other = match kind {
            TrackKind::Video => self.p.track(TrackId::new(TrackKind::Audio, 0)),
            TrackKind::Audio => self.p.track(TrackId::new(TrackKind::Video, 0)),
        };
        let playlist = weir_packager::playlists::media_playlist(
            &view,
            target_duration,
            false,
            ll,
            &other.iter().collect::<Vec<_>>(),
        );
        weir_packager::hls::write_media(&playlist).unwrap()
    }
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// LLHLS-01 on a continuous publish ([`Synthetic`]), 2 s segments on the
/// default 0.5 s part grid: every part of every complete segment is within
/// 85–100 % of PART-TARGET — the last one too, so no 1-frame sliver that
/// hls.js can skip — and the playlists render.
#[test]
fn parts_fill_85_to_100_percent_of_part_target_on_both_tracks_llhls_01() {
    let mut s = Synthetic::new(PackagerConfig::default());
    s.run_to(30_000);
    let target = s.p.config().part_target();
    assert_eq!(target, Duration::from_millis(550));
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let segs = segments(&s.events, kind);
        assert!(segs.len() >= 13, "{kind:?}: {} segments", segs.len());
        // The first audio segment starts 46 ms late; the rest are whole.
        for seg in &segs[1..] {
            let total: u64 = seg.parts.iter().map(|p| p.duration).sum();
            assert_eq!(total, seg.duration, "{kind:?} seg {}", seg.number);
            assert_eq!(
                seg.parts.len(),
                4,
                "{kind:?} seg {}: {:?}",
                seg.number,
                seg.parts
            );
            for part in &seg.parts {
                let secs = part.duration as f64 / f64::from(part.timescale);
                let ratio = secs / target.as_secs_f64();
                assert!(
                    (0.85..=1.0).contains(&ratio),
                    "{kind:?} {} lasts {secs:.3} s = {:.0} % of PART-TARGET",
                    part.name,
                    ratio * 100.0
                );
            }
        }
    }
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let text = s.playlist(kind);
        assert!(text.contains("#EXT-X-PART-INF:PART-TARGET=0.55"), "{text}");
        assert!(text.contains("PART-HOLD-BACK=1.65"), "{text}");
    }
}

/// LLHLS-04: when the next part needs a new init segment (the publisher sent
/// a new decoder configuration), the playlist hints it with
/// `EXT-X-PRELOAD-HINT:TYPE=MAP` before the part hint, until the new
/// segment's first part lists it under its own EXT-X-MAP.
#[test]
fn a_new_configuration_is_hinted_with_a_map_preload_hint_llhls_04() {
    let mut s = Synthetic::new(PackagerConfig::default());
    s.run_to(6_000);
    let DemuxEvent::VideoConfig { config, .. } = s.video_config.clone() else {
        unreachable!()
    };
    let weir_flv::VideoConfig::Avc(mut avc) = config else {
        panic!("AVC fixture")
    };
    // Another record: a configuration change as FLV-SEQ-01 sees it.
    let mut record = avc.record.to_vec();
    record.push(0);
    avc.record = Bytes::from(record);
    s.push(&DemuxEvent::VideoConfig {
        config: weir_flv::VideoConfig::Avc(avc),
        changed: true,
    });
    let text = s.playlist(TrackKind::Video);
    let map = "#EXT-X-PRELOAD-HINT:TYPE=MAP,URI=\"video/mx2k118b/init-v2.mp4\"";
    let part = "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=";
    let (m, p) = (text.find(map), text.find(part));
    assert!(m.is_some() && p.is_some() && m < p, "{text}");
    // The audio playlist needs no new init.
    assert!(!s.playlist(TrackKind::Audio).contains("TYPE=MAP"));
    // Once the new segment has a part, its EXT-X-MAP names the init.
    s.run_to(6_600);
    let text = s.playlist(TrackKind::Video);
    assert!(!text.contains("TYPE=MAP"), "{text}");
    assert!(
        text.contains("#EXT-X-MAP:URI=\"video/mx2k118b/init-v2.mp4\""),
        "{text}"
    );
}

/// Issue 12 §1 and §4 (HLS-LIVE-08, HLS-PL-03/04): a key published again
/// after its stream ended is a new instance: every file name carries the new
/// instance id (no URI of the first instance is made again), and the
/// numbering goes on after the last segment of the first instance, one
/// discontinuity further, so the playlists at the same URLs never go
/// backwards.
#[test]
fn a_new_instance_continues_the_numbering_under_new_names() {
    let (first, events1) = run(3, None);
    let next = InstanceId::from_millis(INST.millis() + 60_000);
    let start = first.successor(next);
    let last = segments(&events1, TrackKind::Video).last().unwrap().number;
    assert_eq!(start.instance, next);
    assert_eq!(start.media_sequence, last + 1);
    let first_view = first.track(TrackId::new(TrackKind::Video, 0)).unwrap();
    assert_eq!(
        start.discontinuity_sequence,
        first_view.discontinuity_sequence + 1
    );
    let (mut second, events2) = run_from(start, 3, None);

    let names = |events: &[PackagerEvent]| -> Vec<FileName> {
        events
            .iter()
            .flat_map(|e| match e {
                PackagerEvent::Init { name, .. } => vec![*name],
                PackagerEvent::Segment { info, .. } => vec![info.name],
                PackagerEvent::Part { info, .. } => vec![info.name],
                PackagerEvent::Removed { .. } => vec![],
            })
            .collect()
    };
    let (n1, n2) = (names(&events1), names(&events2));
    assert!(n1.iter().all(|n| n.instance() == Some(INST)));
    assert!(n2.iter().all(|n| n.instance() == Some(next)));
    let uris1: std::collections::HashSet<String> = n1.iter().map(|n| n.to_string()).collect();
    assert!(n2.iter().all(|n| !uris1.contains(&n.to_string())));

    for kind in [TrackKind::Video, TrackKind::Audio] {
        let segs = segments(&events2, kind);
        assert_eq!(segs[0].number, last + 1, "{kind:?}");
        assert!(!segs[0].discontinuity, "{kind:?}: a fresh playlist");
        let view = second.track(TrackId::new(kind, 0)).unwrap();
        assert!(view.media_sequence > last, "{kind:?}");
        assert_eq!(
            view.discontinuity_sequence, start.discontinuity_sequence,
            "{kind:?}"
        );
    }
    let target = second.target_duration().unwrap();
    let text = weir_packager::hls::write_media(&weir_packager::playlists::media_playlist(
        &second.track(TrackId::new(TrackKind::Video, 0)).unwrap(),
        target,
        second.is_ended(),
        None,
        &[],
    ))
    .unwrap();
    assert!(text.contains("video/mx2k2biz/seg-"), "{text}");
    assert!(
        text.contains(&format!(
            "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
            start.discontinuity_sequence
        )),
        "{text}"
    );
}

/// Issue 12, as ffmpeg publishes: interleaved audio and video in real time,
/// the publisher leaves at 5 s and another comes back 2.2 s later (its
/// timestamps continued by the demuxer's rebase, its first frame a key
/// frame). Both media playlists get their one discontinuity at the same
/// point (HLS-MV-02: the same DISCONTINUITY-SEQUENCE), audio segments
/// follow video's cuts (no sliver segments), and the filler fills the gap.
#[test]
fn a_filled_reconnect_keeps_audio_and_video_cut_together() {
    let mut s = Synthetic::new(PackagerConfig {
        low_latency: false,
        ..PackagerConfig::default()
    });
    s.run_to(5_000);
    let t0 = now();
    s.p.publisher_left(t0 + Duration::from_millis(5_000))
        .unwrap();
    s.p.reconnect(t0 + Duration::from_millis(7_200)).unwrap();
    s.events.extend(std::iter::from_fn(|| s.p.poll_event()));
    // The new publisher starts with a key frame; its first frames carry the
    // demuxer's discontinuity flag.
    s.v = (s.v + 29) / 30 * 30;
    s.a = (0..)
        .find(|&n| Synthetic::audio_ms(n) >= Synthetic::video_ms(s.v) - 40)
        .unwrap();
    s.first_after_reconnect = (true, true);
    s.run_to(Synthetic::video_ms(s.v) + 9_000);
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let segs = segments(&s.events, kind);
        let disc: Vec<&SegmentInfo> = segs.iter().filter(|x| x.discontinuity).collect();
        let table: Vec<String> = segs
            .iter()
            .map(|x| {
                format!(
                    "#{} {:.3}+{:.3}{}",
                    x.number,
                    x.base_decode_time as f64 / f64::from(x.timescale),
                    x.duration_secs(),
                    if x.discontinuity { " DISC" } else { "" }
                )
            })
            .collect();
        assert_eq!(disc.len(), 1, "{kind:?}: {table:#?}");
        for w in segs.windows(2) {
            assert_eq!(
                w[1].base_decode_time,
                w[0].base_decode_time + w[0].duration,
                "{kind:?}"
            );
        }
        let short: Vec<&SegmentInfo> = segs
            .iter()
            .rev()
            .skip(1)
            .filter(|x| x.duration_secs() < 0.5)
            .collect();
        assert!(short.len() <= 1, "{kind:?}: sliver segments {table:#?}");
    }
    let v = segments(&s.events, TrackKind::Video);
    let a = segments(&s.events, TrackKind::Audio);
    let vd = v.iter().find(|x| x.discontinuity).unwrap();
    let ad = a.iter().find(|x| x.discontinuity).unwrap();
    let at = |x: &SegmentInfo| x.base_decode_time as f64 / f64::from(x.timescale);
    assert!(
        (at(vd) - at(ad)).abs() < 0.03,
        "video {} audio {}",
        at(vd),
        at(ad)
    );
    assert!((at(vd) - 7.2).abs() < 0.05, "resumed at {}", at(vd));
}
