//! A stream's manifests: HLS multivariant and media playlists (with LL-HLS
//! blocking reloads and delta updates) and the DASH MPD.

use std::time::Instant;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use weir_packager::names::FileName;

use super::conditional::Representation;
use super::{bad_request, not_found, Ticker, MISSING_CACHE};
use crate::auth::{query_param, tokenize_mpd, tokenize_playlist};
use crate::stream::store::{Playlist, Store};
use crate::stream::Stream;

/// Playlists change every segment: a cache may hold one for at most half a
/// target duration (checklist case 43; pitfall 26).
const PLAYLIST_CACHE: &str = "public, max-age=1";
pub const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
pub const MPD_TYPE: &str = "application/dash+xml";

/// LLHLS-07: a blocking playlist reload (`_HLS_msn`) is held for at most
/// three target durations; after that the server answers 503.
const BLOCKING_RELOAD_LIMIT_TARGETS: u32 = 3;

/// The manifest `name` of the instances of a key (newest first), asked with
/// `query`; `token` is the viewer's verified play token, carried over to
/// every URI the manifest lists.
pub async fn serve(
    instances: &[std::sync::Arc<Stream>],
    name: FileName,
    query: Option<&str>,
    token: Option<&str>,
    ticker: &Ticker,
    headers: &HeaderMap,
) -> Response {
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
    let blocking = match BlockingReload::parse(query) {
        Ok(b) => b,
        Err(why) => return bad_request(why),
    };
    let delta = match (&blocking, name) {
        (Some(b), FileName::MediaPlaylist(track)) if b.skip => Some(FileName::DeltaPlaylist(track)),
        _ => None,
    };
    let found = match &blocking {
        Some(b) if b.msn.is_some() => b.wait(&stream.store, &name, ticker).await,
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
    if let Some(token) = token {
        p = p.with_text(if content_type == MPD_TYPE {
            tokenize_mpd(&String::from_utf8_lossy(&p.text), token)
        } else {
            tokenize_playlist(&String::from_utf8_lossy(&p.text), token)
        });
    }
    super::conditional::respond(
        headers,
        Representation {
            body: p.text,
            gzip: p.gzip,
            etag: &p.etag,
            content_type,
            cache_control: PLAYLIST_CACHE,
        },
    )
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
    /// (answered as soon as it is made), 503 after
    /// [`BLOCKING_RELOAD_LIMIT_TARGETS`] target durations.
    /// Every waiter of a stream wakes on the stream's one change
    /// notification, and checks its deadline on the shared one-second
    /// clock: no timer or poll per request.
    async fn wait(
        &self,
        store: &Store,
        name: &FileName,
        ticker: &Ticker,
    ) -> Result<Option<Playlist>, StatusCode> {
        let Some(msn) = self.msn else {
            return Ok(store.playlist(name));
        };
        let mut changed = store.subscribe();
        let mut tick = ticker.subscribe();
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
            if started.elapsed()
                >= super::target_durations(BLOCKING_RELOAD_LIMIT_TARGETS, pos.target)
            {
                return Err(StatusCode::SERVICE_UNAVAILABLE);
            }
            tokio::select! {
                r = changed.changed() => if r.is_err() { return Ok(store.playlist(name)) },
                _ = tick.changed() => {}
            }
        }
    }
}

fn blocking_error(status: StatusCode) -> Response {
    let why = if status == StatusCode::BAD_REQUEST {
        "_HLS_msn is more than two segments ahead of the playlist"
    } else {
        "the requested segment or part did not appear in time"
    };
    (status, [(header::CACHE_CONTROL, MISSING_CACHE)], why).into_response()
}
