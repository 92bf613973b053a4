//! HTTP routes: the stream API, health check, server clock, and each
//! stream's manifests (HLS playlists, DASH MPD) and segments; the browser UI
//! comes from `ui.rs`.

use std::sync::Arc;

use std::time::Instant;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;

use weir_packager::names::FileName;

use crate::auth::{query_param, tokenize_mpd, tokenize_playlist, PlayTokens};
use crate::registry::Registry;
use crate::stream::store::{Playlist, Store};
use crate::stream::StreamInfo;

mod ui;

#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    /// Signed play URLs, when a play secret is configured.
    pub play_tokens: Option<PlayTokens>,
    /// `*` alone: any origin.
    pub cors_origins: Vec<String>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/streams", get(streams))
        .route("/time", get(time))
        .route("/metrics", get(crate::metrics::serve))
        .route("/{app}/{key}/{*file}", get(stream_file))
        .merge(ui::routes())
        // JSON compresses on the fly; playlists come pre-compressed (one gzip
        // per update, not per request); media segments never.
        .layer(
            CompressionLayer::new().compress_when(
                SizeAbove::new(256)
                    .and(NotForContentType::const_new("video/"))
                    .and(NotForContentType::const_new("audio/"))
                    .and(NotForContentType::const_new(PLAYLIST_TYPE))
                    .and(NotForContentType::const_new(MPD_TYPE)),
            ),
        )
        .layer(cors(&state.cors_origins))
        // Outermost: final status codes, bytes as sent (compressed).
        .layer(crate::metrics::HttpMetricsLayer::new(
            state.registry.metrics().clone(),
        ))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

/// CORS open to any origin (HTTP-03). The exposed headers are named, not
/// `*`: players read `Date` for clock sync (DASH-MPD-07, pitfall 33) and
/// `Content-Range`/`Content-Length` for ranges; `Age` passes through CDNs.
fn cors(origins: &[String]) -> CorsLayer {
    use axum::http::Method;
    use tower_http::cors::{AllowHeaders, AllowOrigin};
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers(AllowHeaders::any())
        .expose_headers([
            header::DATE,
            header::AGE,
            header::CONTENT_LENGTH,
            header::CONTENT_RANGE,
            header::ETAG,
        ])
        .max_age(std::time::Duration::from_secs(86_400))
}

/// The server clock for DASH `UTCTiming` (`urn:mpeg:dash:utc:http-iso:2014`):
/// ISO 8601 UTC with milliseconds, never cached.
async fn time() -> Response {
    match weir_packager::hls::format_program_date_time(std::time::SystemTime::now()) {
        Ok(now) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            now,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[derive(Serialize)]
struct Streams {
    streams: Vec<StreamInfo>,
}

async fn streams(State(state): State<AppState>) -> impl IntoResponse {
    let streams = state.registry.list().iter().map(|s| s.info()).collect();
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        Json(Streams { streams }),
    )
}

/// Playlists change every segment: a cache may hold one for at most half a
/// target duration (checklist case 43; pitfall 26).
const PLAYLIST_CACHE: &str = "public, max-age=1";
/// Segments and init segments never change under their URI.
const MEDIA_CACHE: &str = "public, max-age=31536000, immutable";
const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
const MPD_TYPE: &str = "application/dash+xml";

/// A missing file may appear a moment later (the next segment).
const MISSING_CACHE: &str = "no-cache";

async fn stream_file(
    State(state): State<AppState>,
    Path((app, key, file)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    // Signed play URLs: checked before anything about the stream is said.
    let token = query.as_deref().and_then(|q| query_param(q, "token"));
    if let Some(tokens) = &state.play_tokens {
        if let Err(e) = tokens.verify(&app, &key, token, std::time::SystemTime::now()) {
            return (
                StatusCode::FORBIDDEN,
                [(header::CACHE_CONTROL, "no-store")],
                e.to_string(),
            )
                .into_response();
        }
    }
    let Some(name) = FileName::parse(&file) else {
        return not_found();
    };
    // Newest first: the instance publishing now, then ended ones whose
    // files are still within their retention.
    let instances = state.registry.instances(&app, &key);
    if name.is_manifest() {
        // The newest instance that has this manifest: until a new instance
        // has its first playlists, the last ones served stay (they never go
        // backwards: the new instance continues their numbering).
        let Some(stream) = instances
            .iter()
            .find(|s| s.store.playlist(&name).is_some())
            .or(instances.first())
        else {
            return not_found();
        };
        let content_type = name.content_type();
        let blocking = match BlockingReload::parse(query.as_deref()) {
            Ok(b) => b,
            Err(why) => return bad_request(why),
        };
        let delta = match (&blocking, name) {
            (Some(b), FileName::MediaPlaylist(track)) if b.skip => {
                Some(FileName::DeltaPlaylist(track))
            }
            _ => None,
        };
        let found = match &blocking {
            Some(b) if b.msn.is_some() => b.wait(&stream.store, &name).await,
            _ => Ok(stream.store.playlist(&name)),
        };
        let p = match found {
            Ok(p) => p,
            Err(status) => return blocking_error(status),
        };
        // A delta update only where one applies; else the full playlist.
        let mut p = match (delta, p) {
            (Some(delta), _) => match stream.store.playlist(&delta) {
                Some(skip) => skip,
                None => match stream.store.playlist(&name) {
                    Some(p) => p,
                    None => return not_found(),
                },
            },
            (None, Some(p)) => p,
            (None, None) => return not_found(),
        };
        // The viewer's token carries over to every URI the manifest lists.
        if let (Some(token), Some(_)) = (token, &state.play_tokens) {
            p = p.with_text(if content_type == MPD_TYPE {
                tokenize_mpd(&String::from_utf8_lossy(&p.text), token)
            } else {
                tokenize_playlist(&String::from_utf8_lossy(&p.text), token)
            });
        }
        let wants_gzip = p.gzip.is_some()
            && headers
                .get(header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
        // Each encoding is its own representation: its own strong ETag.
        let etag = if wants_gzip {
            HeaderValue::from_str(&format!("{}-gz\"", p.etag.trim_end_matches('"'))).ok()
        } else {
            HeaderValue::from_str(&p.etag).ok()
        };
        let fresh = headers
            .get(header::IF_NONE_MATCH)
            .zip(etag.as_ref())
            .is_some_and(|(have, current)| have == current);
        let mut resp = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            match p.gzip.filter(|_| wants_gzip) {
                Some(gz) => (
                    [
                        (header::CONTENT_TYPE, content_type),
                        (header::CONTENT_ENCODING, "gzip"),
                    ],
                    gz,
                )
                    .into_response(),
                None => ([(header::CONTENT_TYPE, content_type)], p.text).into_response(),
            }
        };
        let h = resp.headers_mut();
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(PLAYLIST_CACHE),
        );
        if let Some(etag) = etag {
            h.insert(header::ETAG, etag);
        }
        return resp;
    }
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
            if let Some(resp) = in_progress_segment(&stream.store, name) {
                return resp;
            }
            // A preload-hinted part (LLHLS-04) is held until it is complete,
            // then sent whole.
            match wait_for_part(&stream.store, name).await {
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

/// `_HLS_msn` / `_HLS_part` / `_HLS_skip` of a media playlist request
/// (LLHLS-07, LLHLS-09).
#[derive(Debug, PartialEq, Eq)]
struct BlockingReload {
    msn: Option<u64>,
    part: Option<u64>,
    skip: bool,
}

impl BlockingReload {
    fn parse(query: Option<&str>) -> Result<Option<BlockingReload>, &'static str> {
        let Some(q) = query else { return Ok(None) };
        let number = |name: &str| -> Result<Option<u64>, &'static str> {
            match query_param(q, name) {
                None => Ok(None),
                Some(v) => v
                    .parse()
                    .map(Some)
                    .map_err(|_| "_HLS_msn and _HLS_part must be whole numbers"),
            }
        };
        let msn = number("_HLS_msn")?;
        let part = number("_HLS_part")?;
        let skip = match query_param(q, "_HLS_skip") {
            None => false,
            Some("YES") | Some("v2") => true,
            Some(_) => return Err("_HLS_skip must be YES or v2"),
        };
        if part.is_some() && msn.is_none() {
            return Err("_HLS_part needs _HLS_msn");
        }
        if msn.is_none() && !skip {
            return Ok(None);
        }
        Ok(Some(BlockingReload { msn, part, skip }))
    }

    /// Holds the request until the playlist has the asked segment or part
    /// (answered as soon as it is made), 503 after three target durations.
    /// Every waiter of a stream wakes on the stream's one change
    /// notification, and checks its deadline on the shared one-second
    /// clock: no timer or poll per request.
    async fn wait(&self, store: &Store, name: &FileName) -> Result<Option<Playlist>, StatusCode> {
        let Some(msn) = self.msn else {
            return Ok(store.playlist(name));
        };
        let mut changed = store.subscribe();
        let mut tick = ticker();
        let started = Instant::now();
        loop {
            let Some(p) = store.playlist(name) else {
                return Ok(None);
            };
            let Some(pos) = p.position else {
                // Not a low-latency playlist: answer it as it is.
                return Ok(Some(p));
            };
            // More than two segments ahead of the live edge (LLHLS-07).
            if msn > pos.open_segment.saturating_add(1) {
                return Err(StatusCode::BAD_REQUEST);
            }
            if pos.has(msn, self.part) {
                return Ok(Some(p));
            }
            let limit = std::time::Duration::from_secs(3 * u64::from(pos.target.max(1)));
            if started.elapsed() >= limit {
                return Err(StatusCode::SERVICE_UNAVAILABLE);
            }
            tokio::select! {
                r = changed.changed() => if r.is_err() { return Ok(store.playlist(name)) },
                _ = tick.changed() => {}
            }
        }
    }
}

/// A part that is not made yet but is the next one (or the one after) of
/// its track: wait for it, bounded by three target durations.
async fn wait_for_part(store: &Store, name: FileName) -> Option<crate::stream::store::StoredFile> {
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
    let mut tick = ticker();
    let started = Instant::now();
    loop {
        if let Some(f) = store.get(&name, Instant::now()) {
            return Some(f);
        }
        let pos = store.playlist(&playlist)?.position?;
        // Only the hinted part or the first of the next segment.
        let near = (msn == pos.open_segment && index <= pos.open_parts)
            || (msn == pos.open_segment + 1 && index == 0);
        let limit = std::time::Duration::from_secs(3 * u64::from(pos.target.max(1)));
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
    /// segment), or an error when it stalls for three target durations.
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
fn in_progress_segment(store: &Arc<Store>, name: FileName) -> Option<Response> {
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
        tick: ticker(),
        last_progress: Instant::now(),
        limit: std::time::Duration::from_secs(3 * u64::from(pos.target.max(1))),
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

/// One shared clock for every blocked request's deadline.
fn ticker() -> tokio::sync::watch::Receiver<()> {
    static TICK: std::sync::OnceLock<tokio::sync::watch::Sender<()>> = std::sync::OnceLock::new();
    TICK.get_or_init(|| {
        let (tx, _) = tokio::sync::watch::channel(());
        let sender = tx.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_millis(500));
            loop {
                every.tick().await;
                sender.send_replace(());
            }
        });
        tx
    })
    .subscribe()
}

fn bad_request(why: &'static str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, MISSING_CACHE)],
        why,
    )
        .into_response()
}

fn blocking_error(status: StatusCode) -> Response {
    let why = if status == StatusCode::BAD_REQUEST {
        "_HLS_msn is more than two segments ahead of the playlist"
    } else {
        "the requested segment or part did not appear in time"
    };
    (status, [(header::CACHE_CONTROL, MISSING_CACHE)], why).into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, MISSING_CACHE)],
        "not found",
    )
        .into_response()
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

    use weir_flv::TrackKind;
    use weir_packager::names::{FileName, InstanceId};

    use super::{in_progress_segment, parse_range};
    use crate::stream::store::{Position, Store};

    const INST: InstanceId = InstanceId::from_millis(1);

    fn seg(number: u64) -> FileName {
        FileName::Segment {
            track: TrackKind::Video,
            instance: INST,
            number,
        }
    }

    fn part(segment: u64, index: u32) -> FileName {
        FileName::Part {
            track: TrackKind::Video,
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
            FileName::MediaPlaylist(TrackKind::Video),
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
        let resp = in_progress_segment(&o, seg(5)).expect("in progress");
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
        let resp = in_progress_segment(&o, seg(5)).unwrap();
        put(&o, seg(5), b"styp+moof0moof1");
        assert_eq!(&body(resp).await[..], b"styp+moof0moof1");
    }

    /// Only the segment in progress, only while live (case 55 holds for the
    /// next one), and only with low latency (a playlist Position).
    #[test]
    fn only_the_segment_in_progress_is_streamed() {
        let o = store(1, false);
        assert!(in_progress_segment(&o, seg(6)).is_none());
        assert!(in_progress_segment(&o, seg(4)).is_none());
        assert!(in_progress_segment(&o, part(5, 1)).is_none());
        let audio = FileName::Segment {
            track: TrackKind::Audio,
            instance: INST,
            number: 5,
        };
        assert!(in_progress_segment(&o, audio).is_none());
        assert!(in_progress_segment(&store(1, true), seg(5)).is_none());
        let plain = Arc::new(Store::default());
        plain.set_playlist(
            FileName::MediaPlaylist(TrackKind::Video),
            "#EXTM3U\n".into(),
        );
        assert!(in_progress_segment(&plain, seg(5)).is_none());
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
