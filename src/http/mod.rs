//! HTTP: the router, its state and layers. Each route's handler lives in
//! the module for what it serves — `manifest` (HLS playlists, DASH MPD),
//! `media` (segments and parts), `api` (stream list, health, clock), `ui`
//! (the browser pages) — and `/metrics` with the request counting layer in
//! `metrics`; `conditional` is the one gzip / ETag / 304 path.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use weir_packager::names::FileName;

use crate::auth::{query_param, PlayTokens};
use crate::registry::Registry;
use crate::telemetry::{Metrics, Route};
use manifest::{MPD_TYPE, PLAYLIST_TYPE};
use metrics::labelled;

mod api;
mod conditional;
mod manifest;
mod media;
mod metrics;
mod ui;

#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    /// Where responses are counted; `/metrics` serves it.
    pub metrics: Arc<Metrics>,
    /// Signed play URLs, when a play secret is configured.
    pub play_tokens: Option<PlayTokens>,
    /// `*` alone: any origin.
    pub cors_origins: Vec<String>,
    /// The deadline clock of held requests.
    pub ticker: Ticker,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", labelled(Route::Health, api::healthz))
        .route("/api/streams", labelled(Route::Api, api::streams))
        .route("/time", labelled(Route::Time, api::time))
        .route("/metrics", labelled(Route::Metrics, metrics::serve))
        // Labelled by the handler, from the file name it parses.
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
        .layer(metrics::HttpMetricsLayer::new(state.metrics.clone()))
        .with_state(state)
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

/// A missing file may appear a moment later (the next segment).
const MISSING_CACHE: &str = "no-cache";

/// A stream's file: its response labelled by what the name says it is.
async fn stream_file(
    State(state): State<AppState>,
    Path((app, key, file)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let name = FileName::parse(&file);
    let mut resp = serve_stream_file(&state, &app, &key, name, query.as_deref(), &headers).await;
    if let Some(name) = name {
        resp.extensions_mut().insert(route_of(&name));
    }
    resp
}

/// The metrics route of a stream file name.
fn route_of(name: &FileName) -> Route {
    match name {
        FileName::Multivariant | FileName::MediaPlaylist(_) | FileName::DeltaPlaylist(_) => {
            Route::Playlist
        }
        FileName::Mpd => Route::Mpd,
        FileName::Segment { .. } | FileName::Part { .. } => Route::Segment,
        FileName::Init { .. } => Route::Init,
    }
}

async fn serve_stream_file(
    state: &AppState,
    app: &str,
    key: &str,
    name: Option<FileName>,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    // Signed play URLs: checked before anything about the stream is said.
    let token = query.and_then(|q| query_param(q, "token"));
    if let Some(tokens) = &state.play_tokens {
        if let Err(e) = tokens.verify(app, key, token, std::time::SystemTime::now()) {
            return (
                StatusCode::FORBIDDEN,
                [(header::CACHE_CONTROL, "no-store")],
                e.to_string(),
            )
                .into_response();
        }
    }
    let Some(name) = name else {
        return not_found();
    };
    // Newest first: the instance publishing now, then ended ones whose
    // files are still within their retention.
    let instances = state.registry.instances(app, key);
    // The token goes into the manifest's URIs only when tokens are checked.
    let token = token.filter(|_| state.play_tokens.is_some());
    if name.is_manifest() {
        manifest::serve(&instances, name, query, token, &state.ticker, headers).await
    } else {
        media::serve(&instances, name, &state.ticker, headers).await
    }
}

#[cfg(test)]
impl AppState {
    /// An empty server: no streams, no play tokens, any origin, a stopped
    /// deadline clock.
    pub fn for_tests(metrics: Arc<Metrics>) -> AppState {
        let lifecycle = crate::stream::lifecycle::Policy {
            grace: Duration::from_secs(10),
            retention: Duration::from_secs(60),
            end_on_unpublish: false,
        };
        AppState {
            registry: Registry::new(crate::stream::Settings {
                timeline: Default::default(),
                packager: Default::default(),
                lifecycle,
            }),
            metrics,
            play_tokens: None,
            cors_origins: vec!["*".into()],
            ticker: Ticker::stopped(),
        }
    }
}

/// One shared clock for the deadlines of every held request (blocking
/// playlist reloads, preload-hinted parts, LL-DASH segments in progress):
/// they check their deadline when it ticks, so no request owns a timer.
/// Started by `main` with the server, not on first use.
#[derive(Clone)]
pub struct Ticker(Arc<watch::Sender<()>>);

impl Ticker {
    /// How often held requests check their deadlines.
    pub const PERIOD: Duration = Duration::from_millis(500);

    /// A clock ticking every [`Ticker::PERIOD`] until its task is aborted.
    pub fn start() -> (Ticker, tokio::task::JoinHandle<()>) {
        let tx = Arc::new(watch::Sender::new(()));
        let ticking = tx.clone();
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(Self::PERIOD);
            loop {
                every.tick().await;
                ticking.send_replace(());
            }
        });
        (Ticker(tx), task)
    }

    /// A clock that never ticks: deadlines are never checked (tests).
    #[cfg(test)]
    pub fn stopped() -> Ticker {
        Ticker(Arc::new(watch::Sender::new(())))
    }

    pub fn subscribe(&self) -> watch::Receiver<()> {
        self.0.subscribe()
    }
}

/// `targets` target durations (of at least one second each): how long a
/// held request may wait.
fn target_durations(targets: u32, target_secs: u32) -> Duration {
    Duration::from_secs(u64::from(targets) * u64::from(target_secs.max(1)))
}

fn bad_request(why: &'static str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, MISSING_CACHE)],
        why,
    )
        .into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, MISSING_CACHE)],
        "not found",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clock ticks once started (by `main`), with no request needed
    /// to start it.
    #[tokio::test]
    async fn ticker_ticks_once_started() {
        let (ticker, task) = Ticker::start();
        let mut tick = ticker.subscribe();
        for _ in 0..2 {
            tokio::time::timeout(Ticker::PERIOD * 2, tick.changed())
                .await
                .expect("a tick within two periods")
                .expect("the clock is running");
        }
        task.abort();
    }

    #[test]
    fn hold_limits_count_target_durations() {
        assert_eq!(target_durations(3, 2), Duration::from_secs(6));
        // Before the target duration is known (0), a second stands in.
        assert_eq!(target_durations(3, 0), Duration::from_secs(3));
    }
}
