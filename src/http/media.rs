//! A stream's media: init segments, segments and parts, with byte ranges;
//! LL-HLS preload-hinted parts are held until made, and an LL-DASH segment
//! in progress goes out chunk by chunk.

use std::sync::Arc;
use std::time::Instant;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use weir_packager::names::FileName;

use super::{not_found, Ticker};
use crate::stream::store::{Store, StoredFile};
use crate::stream::Stream;

/// Segments and init segments never change under their URI.
const MEDIA_CACHE: &str = "public, max-age=31536000, immutable";

/// LLHLS-04: a request for the preload-hinted part (or the first part of
/// the next segment) is held until the part is made, like a blocking
/// playlist reload, for at most three target durations.
const PRELOAD_HINT_LIMIT_TARGETS: u32 = 3;
/// DASH-LL-01: a segment sent while in progress ends with an error when no
/// part of it is made for three target durations (the publisher stalled).
const SEGMENT_STALL_LIMIT_TARGETS: u32 = 3;

/// The media file `name` of the instances of a key (newest first).
pub async fn serve(
    instances: &[Arc<Stream>],
    name: FileName,
    ticker: &Ticker,
    headers: &HeaderMap,
) -> Response {
    // Media belongs to the instance named in its URI, and only to it.
    let Some(stream) = instances
        .iter()
        .find(|s| name.instance() == Some(s.instance))
    else {
        return not_found();
    };
    let f = match stream.store.get(&name, Instant::now()) {
        Some(f) => f,
        None => {
            // LL-DASH: the segment in progress goes out chunk by chunk.
            if let Some(resp) = in_progress_segment(&stream.store, name, ticker) {
                return resp;
            }
            // A preload-hinted part (LLHLS-04) is held until it is complete,
            // then sent whole.
            match wait_for_part(&stream.store, name, ticker).await {
                Some(f) => f,
                None => return not_found(),
            }
        }
    };
    let len = f.bytes.len();
    let base = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(f.content_type),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static(MEDIA_CACHE)),
        (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
    ];
    match headers
        .get(header::RANGE)
        .map(|r| parse_range(r.as_bytes(), len))
    {
        None => (base, f.bytes).into_response(),
        Some(Some((start, end))) => {
            let range = format!("bytes {start}-{end}/{len}");
            let mut resp = (
                StatusCode::PARTIAL_CONTENT,
                base,
                f.bytes.slice(start..end + 1),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&range) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            resp
        }
        Some(None) => {
            let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            resp
        }
    }
}

/// A part that is not made yet but is the next one (or the one after) of
/// its track: wait for it, for at most [`PRELOAD_HINT_LIMIT_TARGETS`]
/// target durations.
async fn wait_for_part(store: &Store, name: FileName, ticker: &Ticker) -> Option<StoredFile> {
    let FileName::Part {
        track,
        segment: msn,
        index,
        ..
    } = name
    else {
        return None;
    };
    let index = u64::from(index);
    let playlist = FileName::MediaPlaylist(track);
    let mut changed = store.subscribe();
    let mut tick = ticker.subscribe();
    let started = Instant::now();
    loop {
        if let Some(f) = store.get(&name, Instant::now()) {
            return Some(f);
        }
        let pos = store.playlist(&playlist)?.position?;
        // Only the hinted part or the first of the next segment.
        let near = (msn == pos.open_segment && index <= pos.open_parts)
            || (msn == pos.open_segment + 1 && index == 0);
        let limit = super::target_durations(PRELOAD_HINT_LIMIT_TARGETS, pos.target);
        if pos.ended || !near || started.elapsed() >= limit {
            return None;
        }
        tokio::select! {
            r = changed.changed() => if r.is_err() { return None },
            _ = tick.changed() => {}
        }
    }
}

/// Where [`in_progress_segment`]'s body is.
struct Progress {
    store: Arc<Store>,
    /// The segment in progress.
    segment: FileName,
    next_part: u32,
    sent: usize,
    done: bool,
    changed: tokio::sync::watch::Receiver<u64>,
    tick: tokio::sync::watch::Receiver<()>,
    last_progress: Instant,
    limit: std::time::Duration,
}

impl Progress {
    /// The next piece of the body: a part as soon as it is made, the rest of
    /// the segment once it is complete (so the body always equals the
    /// segment), or an error when it stalls for
    /// [`SEGMENT_STALL_LIMIT_TARGETS`] target durations.
    async fn next(mut self) -> Option<(std::io::Result<bytes::Bytes>, Progress)> {
        loop {
            if self.done {
                return None;
            }
            let now = Instant::now();
            let part = match self.segment {
                FileName::Segment {
                    track,
                    instance,
                    number,
                } => FileName::Part {
                    track,
                    instance,
                    segment: number,
                    index: self.next_part,
                },
                _ => return None,
            };
            if let Some(p) = self.store.get(&part, now) {
                self.next_part += 1;
                self.sent += p.bytes.len();
                self.last_progress = now;
                return Some((Ok(p.bytes), self));
            }
            if let Some(seg) = self.store.get(&self.segment, now) {
                self.done = true;
                let rest = seg.bytes.slice(self.sent.min(seg.bytes.len())..);
                if rest.is_empty() {
                    return None;
                }
                return Some((Ok(rest), self));
            }
            if now.duration_since(self.last_progress) >= self.limit {
                self.done = true;
                let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "segment stalled");
                return Some((Err(e), self));
            }
            tokio::select! {
                r = self.changed.changed() => if r.is_err() { self.done = true },
                _ = self.tick.changed() => {}
            }
        }
    }
}

/// LL-DASH (DASH-LL-01): a request for the segment in progress (listed in
/// the MPD from its start) is answered at once with the chunks made so far,
/// then each CMAF chunk as it is made (chunked transfer), ending when the
/// segment is complete. Only with low latency on, and only for the segment
/// in progress: a later one stays 404 (case 55).
fn in_progress_segment(store: &Arc<Store>, name: FileName, ticker: &Ticker) -> Option<Response> {
    let FileName::Segment { track, number, .. } = name else {
        return None;
    };
    let pos = store.playlist(&FileName::MediaPlaylist(track))?.position?;
    if pos.ended || number != pos.open_segment {
        return None;
    }
    let content_type = name.content_type();
    let progress = Progress {
        store: store.clone(),
        segment: name,
        next_part: 0,
        sent: 0,
        done: false,
        changed: store.subscribe(),
        tick: ticker.subscribe(),
        last_progress: Instant::now(),
        limit: super::target_durations(SEGMENT_STALL_LIMIT_TARGETS, pos.target),
    };
    let body =
        axum::body::Body::from_stream(futures_util::stream::unfold(progress, Progress::next));
    Some(
        (
            [
                (header::CONTENT_TYPE, content_type),
                // The bytes are the segment's, as it will be: cacheable once whole.
                (header::CACHE_CONTROL, MEDIA_CACHE),
            ],
            body,
        )
            .into_response(),
    )
}

/// One `bytes=a-b`, `a-` or `-n` range → inclusive bounds; `None` if unsatisfiable.
fn parse_range(value: &[u8], len: usize) -> Option<(usize, usize)> {
    let s = std::str::from_utf8(value).ok()?.trim();
    let spec = s.strip_prefix("bytes=")?;
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: usize = n.parse().ok()?;
            (len.saturating_sub(n), len - 1)
        }
        (a, "") => (a.parse().ok()?, len - 1),
        (a, b) => (a.parse().ok()?, b.parse::<usize>().ok()?.min(len - 1)),
    };
    (start <= end && start < len).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;

    use weir_packager::names::{FileName, InstanceId, TrackId};

    use super::parse_range;
    use crate::http::Ticker;
    use crate::stream::store::{Position, Store};

    const INST: InstanceId = InstanceId::from_millis(1);

    /// The in-progress response, on a clock that never ticks.
    fn streamed(store: &Arc<Store>, name: FileName) -> Option<axum::response::Response> {
        super::in_progress_segment(store, name, &Ticker::stopped())
    }

    fn seg(number: u64) -> FileName {
        FileName::Segment {
            track: TrackId::VIDEO,
            instance: INST,
            number,
        }
    }

    fn part(segment: u64, index: u32) -> FileName {
        FileName::Part {
            track: TrackId::VIDEO,
            instance: INST,
            segment,
            index,
        }
    }

    /// An store whose video playlist says segment 5 is in progress.
    fn store(open_parts: u64, ended: bool) -> Arc<Store> {
        let o = Arc::new(Store::default());
        let position = Position {
            last_segment: Some(4),
            open_segment: 5,
            open_parts,
            ended,
            target: 2,
        };
        o.set_media_playlist(
            FileName::MediaPlaylist(TrackId::VIDEO),
            "#EXTM3U\n".into(),
            Some(position),
        );
        o
    }

    fn put(o: &Store, name: FileName, bytes: &'static [u8]) {
        o.put(name, Bytes::from_static(bytes));
    }

    async fn body(resp: axum::response::Response) -> Bytes {
        axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap()
    }

    /// DASH-LL-01: the segment in progress is sent as its chunks are made —
    /// what exists at once, later parts as they come (a request before the
    /// first part waits for it) — and ends with exactly the segment's bytes.
    #[tokio::test]
    async fn segment_in_progress_streams_its_parts_then_ends_dash_ll_01() {
        let o = store(0, false);
        let resp = streamed(&o, seg(5)).expect("in progress");
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get("content-length").is_none());
        let writer = {
            let o = o.clone();
            tokio::spawn(async move {
                for (name, bytes) in [
                    (part(5, 0), &b"styp+moof0"[..]),
                    (part(5, 1), b"moof1"),
                    (part(5, 2), b"moof2"),
                ] {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    put(&o, name, bytes);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                put(&o, seg(5), b"styp+moof0moof1moof2");
            })
        };
        assert_eq!(&body(resp).await[..], b"styp+moof0moof1moof2");
        writer.await.unwrap();
    }

    /// Parts gone or missed: the rest of the complete segment is sent, so the
    /// body is still the segment.
    #[tokio::test]
    async fn a_missed_part_is_made_up_from_the_complete_segment() {
        let o = store(1, false);
        put(&o, part(5, 0), b"styp+moof0");
        let resp = streamed(&o, seg(5)).unwrap();
        put(&o, seg(5), b"styp+moof0moof1");
        assert_eq!(&body(resp).await[..], b"styp+moof0moof1");
    }

    /// Only the segment in progress, only while live (case 55 holds for the
    /// next one), and only with low latency (a playlist Position).
    #[test]
    fn only_the_segment_in_progress_is_streamed() {
        let o = store(1, false);
        assert!(streamed(&o, seg(6)).is_none());
        assert!(streamed(&o, seg(4)).is_none());
        assert!(streamed(&o, part(5, 1)).is_none());
        let audio = FileName::Segment {
            track: TrackId::AUDIO,
            instance: INST,
            number: 5,
        };
        assert!(streamed(&o, audio).is_none());
        assert!(streamed(&store(1, true), seg(5)).is_none());
        let plain = Arc::new(Store::default());
        plain.set_playlist(FileName::MediaPlaylist(TrackId::VIDEO), "#EXTM3U\n".into());
        assert!(streamed(&plain, seg(5)).is_none());
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(b"bytes=0-99", 1000), Some((0, 99)));
        assert_eq!(parse_range(b"bytes=900-", 1000), Some((900, 999)));
        assert_eq!(parse_range(b"bytes=-100", 1000), Some((900, 999)));
        assert_eq!(parse_range(b"bytes=0-5000", 1000), Some((0, 999)));
        assert_eq!(parse_range(b"bytes=1000-", 1000), None);
        assert_eq!(parse_range(b"bytes=5-1", 1000), None);
        assert_eq!(parse_range(b"items=0-1", 1000), None);
        assert_eq!(parse_range(b"bytes=0-1,5-6", 1000), None);
    }
}
