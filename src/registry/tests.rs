//! The registry on a fake clock (`t0 + offsets` passed to `claim`,
//! `release` and `handle_timeout`): resume within the grace period, a new
//! instance after it, retention, the numbering a key keeps across
//! instances, and the timer table. The media is the packager's 2 s FLV
//! fixture, fed as RTMP messages.

use std::time::{Duration, Instant};

use bytes::Bytes;
use weir_flv::TrackKind;
use weir_packager::names::{FileName, TrackId};
use weir_rtmp::MediaKind;

use super::*;
use crate::stream::lifecycle::Policy;

const GRACE: Duration = Duration::from_secs(10);
const RETENTION: Duration = Duration::from_secs(60);
const MS: Duration = Duration::from_millis(1);

fn registry(end_on_unpublish: bool) -> Arc<Registry> {
    Registry::new(Settings {
        timeline: Default::default(),
        packager: weir_packager::stream::PackagerConfig {
            target_duration: Duration::from_secs(1),
            window: 3,
            low_latency: false,
            ..Default::default()
        },
        lifecycle: Policy {
            grace: GRACE,
            retention: RETENTION,
            end_on_unpublish,
        },
    })
}

fn addr() -> SocketAddr {
    "127.0.0.1:1".parse().unwrap()
}

/// The fixture's FLV tags: (kind, timestamp ms, body).
fn fixture() -> Vec<(MediaKind, u32, Bytes)> {
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/packager/tests/fixtures/testsrc2-320x240-h264-aac48k.flv"
    ))
    .unwrap();
    let be = |b: &[u8]| b.iter().fold(0u32, |a, x| a << 8 | u32::from(*x));
    let mut pos = be(&file[5..9]) as usize + 4;
    let mut tags = Vec::new();
    while pos + 11 <= file.len() {
        let kind = file[pos];
        let size = be(&file[pos + 1..pos + 4]) as usize;
        let ts = be(&file[pos + 4..pos + 7]) | u32::from(file[pos + 7]) << 24;
        let body = Bytes::copy_from_slice(&file[pos + 11..pos + 11 + size]);
        match kind {
            8 => tags.push((MediaKind::Audio, ts, body)),
            9 => tags.push((MediaKind::Video, ts, body)),
            _ => {}
        }
        pos += 11 + size + 4;
    }
    tags
}

/// Publishes the fixture `passes` times back to back, from `base` ms.
fn publish(stream: &Stream, passes: u32, base: u32) {
    let tags = fixture();
    for pass in 0..passes {
        for (kind, ts, body) in &tags {
            stream.push_media(*kind, base + pass * 2100 + ts, body.clone());
        }
    }
}

fn playlist(stream: &Stream, track: TrackKind) -> String {
    let p = stream
        .store
        .playlist(&FileName::MediaPlaylist(TrackId::new(track, 0)))
        .expect("media playlist");
    String::from_utf8(p.text.to_vec()).unwrap()
}

fn media_sequence(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|n| n.parse().ok())
        .expect("EXT-X-MEDIA-SEQUENCE")
}

/// The numbers of the segments a media playlist lists.
fn segment_numbers(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(FileName::parse)
        .filter_map(|n| match n {
            FileName::Segment { number, .. } => Some(number),
            _ => None,
        })
        .collect()
}

#[test]
fn one_publisher_per_key_rtmp_cmd_06() {
    let r = registry(false);
    let t0 = Instant::now();
    let (s, g) = r.claim("live", "a", addr(), 10, t0).unwrap();
    assert_eq!(g, 0);
    assert_eq!(
        r.claim("live", "a", addr(), 10, t0).err(),
        Some(ClaimError::AlreadyLive {
            app: "live".into(),
            key: "a".into()
        })
    );
    assert_eq!(r.list().len(), 1);
    assert!(Arc::ptr_eq(&r.instances("live", "a")[0], &s));
    assert!(r.instances("live", "b").is_empty());
}

/// Issue 12 §3 (HLS-LIVE-08): a publisher that left, gracefully or not,
/// is waited for: the stream stays listed as reconnecting, with no ENDLIST,
/// and one that comes back within the grace period continues it.
#[test]
fn a_publisher_back_within_the_grace_period_continues_the_playlists() {
    for how in [Departure::Graceful, Departure::Abrupt] {
        let r = registry(false);
        let t0 = Instant::now();
        let (s, g) = r.claim("live", "a", addr(), 10, t0).unwrap();
        publish(&s, 2, 0);
        let before = playlist(&s, TrackKind::Video);
        r.release(&s, g, how, t0);
        assert_eq!(r.list()[0].info().state, "reconnecting", "{how:?}");
        assert_eq!(r.poll_timeout(), Some(t0 + GRACE));
        r.handle_timeout(t0 + GRACE - MS);
        assert!(!playlist(&s, TrackKind::Video).contains("#EXT-X-ENDLIST"));

        let (again, g) = r.claim("live", "a", addr(), 10, t0 + GRACE - MS).unwrap();
        assert!(Arc::ptr_eq(&s, &again), "{how:?}: the same instance");
        assert_eq!(g, 1);
        assert_eq!(r.poll_timeout(), None);
        // The encoder's clock starts again at zero.
        publish(&s, 2, 0);
        let after = playlist(&s, TrackKind::Video);
        assert!(media_sequence(&after) >= media_sequence(&before));
        assert_eq!(
            after.matches("#EXT-X-DISCONTINUITY\n").count(),
            1,
            "{after}"
        );
        assert!(!after.contains("#EXT-X-ENDLIST"));
        let numbers = segment_numbers(&after);
        assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{after}");
    }
}

/// Issue 12 §3: only when the grace period runs out do the playlists get
/// ENDLIST (HLS-LIVE-09); the files stay fetchable for the retention, then
/// the key's files are released.
#[test]
fn the_grace_period_running_out_ends_the_stream_then_the_retention_frees_it() {
    let r = registry(false);
    let t0 = Instant::now();
    let (s, g) = r.claim("live", "a", addr(), 10, t0).unwrap();
    publish(&s, 2, 0);
    r.release(&s, g, Departure::Graceful, t0);
    r.handle_timeout(t0 + GRACE);
    assert!(playlist(&s, TrackKind::Video).ends_with("#EXT-X-ENDLIST\n"));
    assert_eq!(
        r.list()[0].info().state,
        "ended",
        "listed while it is served"
    );
    assert_eq!(r.instances("live", "a").len(), 1, "its files are served");
    assert_eq!(r.poll_timeout(), Some(t0 + GRACE + RETENTION));
    r.handle_timeout(t0 + GRACE + RETENTION - MS);
    assert_eq!(r.instances("live", "a").len(), 1);
    r.handle_timeout(t0 + GRACE + RETENTION);
    assert!(r.instances("live", "a").is_empty());
    assert!(r.list().is_empty());
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn end_on_unpublish_ends_a_graceful_unpublish_at_once() {
    let r = registry(true);
    let t0 = Instant::now();
    let (s, g) = r.claim("live", "a", addr(), 10, t0).unwrap();
    publish(&s, 2, 0);
    r.release(&s, g, Departure::Graceful, t0);
    assert!(playlist(&s, TrackKind::Video).ends_with("#EXT-X-ENDLIST\n"));
    assert_eq!(r.list()[0].info().state, "ended");
}

/// Issue 12 §1 and §4: a key published again one millisecond after its grace
/// period is a new instance. Its file names are new, its numbering goes on
/// after the old one's, and the old instance's files keep answering (with
/// their own bytes) until their retention passes.
#[test]
fn a_publish_after_the_grace_period_is_a_new_instance_that_continues_the_numbering() {
    let r = registry(false);
    let t0 = Instant::now();
    let (old, g) = r.claim("live", "a", addr(), 10, t0).unwrap();
    publish(&old, 3, 0);
    r.release(&old, g, Departure::Abrupt, t0);
    // The timer was not serviced yet: the claim itself sees the grace expired.
    let (new, g) = r.claim("live", "a", addr(), 10, t0 + GRACE + MS).unwrap();
    assert_eq!(g, 0);
    assert!(!Arc::ptr_eq(&old, &new));
    assert!(new.instance > old.instance);
    let old_text = playlist(&old, TrackKind::Video);
    assert!(old_text.ends_with("#EXT-X-ENDLIST\n"), "{old_text}");
    let last_old = *segment_numbers(&old_text).last().unwrap();

    // Until the new instance has playlists, HTTP finds the old ones.
    let both = r.instances("live", "a");
    assert_eq!(both.len(), 2);
    assert!(Arc::ptr_eq(&both[0], &new) && Arc::ptr_eq(&both[1], &old));

    publish(&new, 2, 0);
    let text = playlist(&new, TrackKind::Video);
    assert!(media_sequence(&text) > last_old, "{text}");
    assert_eq!(segment_numbers(&text)[0], last_old + 1, "{text}");
    let inst = new.instance.to_string();
    assert!(text
        .lines()
        .filter(|l| l.contains(".m4s") || l.contains(".mp4"))
        .all(|l| l.contains(&inst)));

    // The old instance is dropped at its own deadline; the new one stays.
    r.handle_timeout(t0 + GRACE + RETENTION);
    let left = r.instances("live", "a");
    assert_eq!(left.len(), 1);
    assert!(Arc::ptr_eq(&left[0], &new));
}

/// A key whose last instance is gone is remembered: published again later,
/// it still continues its numbering, under a later instance id.
#[test]
fn a_key_published_again_after_it_was_forgotten_continues_its_numbering() {
    let r = registry(false);
    let t0 = Instant::now();
    let (old, g) = r.claim("live", "show", addr(), 10, t0).unwrap();
    publish(&old, 3, 0);
    r.release(&old, g, Departure::Graceful, t0);
    r.handle_timeout(t0 + GRACE);
    // The last segment served, closed when the stream ended.
    let last_old = *segment_numbers(&playlist(&old, TrackKind::Video))
        .last()
        .unwrap();
    r.handle_timeout(t0 + GRACE + RETENTION);
    assert!(r.instances("live", "show").is_empty());

    let (new, _) = r
        .claim("live", "show", addr(), 10, t0 + GRACE + RETENTION)
        .unwrap();
    assert!(new.instance > old.instance);
    publish(&new, 2, 0);
    let text = playlist(&new, TrackKind::Video);
    assert_eq!(segment_numbers(&text)[0], last_old + 1, "{text}");
    // One discontinuity further than the old playlists (HLS-PL-04).
    assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"), "{text}");
}

/// `max_streams` counts streams that are live or waiting for their
/// publisher, not ended ones still serving their files.
#[test]
fn the_stream_limit_counts_live_and_waiting_streams() {
    let r = registry(false);
    let t0 = Instant::now();
    let (a, g) = r.claim("live", "a", addr(), 1, t0).unwrap();
    assert_eq!(
        r.claim("live", "b", addr(), 1, t0).err(),
        Some(ClaimError::TooManyStreams(1))
    );
    r.release(&a, g, Departure::Abrupt, t0);
    assert_eq!(
        r.claim("live", "b", addr(), 1, t0).err(),
        Some(ClaimError::TooManyStreams(1)),
        "a waiting stream still counts"
    );
    // Resuming it is allowed at the limit.
    assert!(r.claim("live", "a", addr(), 1, t0 + MS).is_ok());
    let a = r.instances("live", "a")[0].clone();
    r.release(&a, 1, Departure::Abrupt, t0 + MS);
    r.handle_timeout(t0 + MS + GRACE);
    assert!(r.claim("live", "b", addr(), 1, t0 + MS + GRACE).is_ok());
}

/// A publisher replaced by a newer one (resume) leaves late: nothing
/// happens to the stream.
#[test]
fn a_stale_release_changes_nothing() {
    let r = registry(false);
    let t0 = Instant::now();
    let (s, g0) = r.claim("live", "a", addr(), 10, t0).unwrap();
    r.release(&s, g0, Departure::Abrupt, t0);
    let (_, g1) = r.claim("live", "a", addr(), 10, t0 + MS).unwrap();
    r.release(&s, g0, Departure::Abrupt, t0 + 2 * MS);
    assert_eq!(s.phase(), Phase::Live { generation: g1 });
    assert_eq!(r.poll_timeout(), None);
}

/// Shutdown ends every stream, live or waiting, at once.
#[tokio::test]
async fn end_all_ends_every_stream() {
    let r = registry(false);
    let t0 = Instant::now();
    let (a, ga) = r.claim("live", "a", addr(), 10, t0).unwrap();
    let (b, _) = r.claim("live", "b", addr(), 10, t0).unwrap();
    publish(&a, 2, 0);
    publish(&b, 2, 0);
    r.release(&a, ga, Departure::Abrupt, t0);
    // b's publisher never leaves: end_all stops waiting after its patience.
    r.end_all(Duration::from_millis(50)).await;
    for s in [&a, &b] {
        assert!(matches!(s.phase(), Phase::Ended { .. }));
        assert!(playlist(s, TrackKind::Video).ends_with("#EXT-X-ENDLIST\n"));
    }
    assert!(r.list().iter().all(|s| s.info().state == "ended"));
}

/// The metrics exporter's totals: every stream counted once, frames as
/// demuxed and segments as made, and nothing lost when a stream is dropped
/// (the counters stay monotonic across retention).
#[test]
fn totals_outlive_the_streams_they_count() {
    let r = registry(false);
    let t0 = Instant::now();
    let (s, g) = r.claim("live", "a", addr(), 10, t0).unwrap();
    publish(&s, 2, 0);
    let during = r.totals();
    assert_eq!(during.live, 1);
    assert_eq!(during.streams, s.stats());
    let info = s.info();
    assert_eq!(
        Some(during.streams.video.frames),
        info.video.map(|v| v.frames)
    );
    assert_eq!(
        Some(during.streams.audio.frames),
        info.audio.map(|a| a.frames)
    );
    assert!(during.streams.video.segments >= 1);
    assert!(during.streams.audio.segments >= 1);
    r.release(&s, g, Departure::Graceful, t0);
    r.handle_timeout(t0 + GRACE);
    // Ending closes the last segments: counted too.
    let ended = r.totals();
    assert_eq!(ended.live, 0);
    assert!(ended.streams.video.segments > during.streams.video.segments);
    r.handle_timeout(t0 + GRACE + RETENTION);
    assert!(r.instances("live", "a").is_empty());
    assert_eq!(r.totals(), ended);
    // A new instance adds to them.
    let (s2, _) = r
        .claim("live", "a", addr(), 10, t0 + GRACE + RETENTION)
        .unwrap();
    publish(&s2, 1, 0);
    let again = r.totals();
    assert_eq!(again.live, 1);
    assert_eq!(
        again.streams.video.frames,
        ended.streams.video.frames + s2.stats().video.frames
    );
}
