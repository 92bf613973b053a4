//! The JSON and plain-text endpoints: `/healthz`, `/api/streams` and the
//! server clock at `/time`.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::AppState;
use crate::stream::StreamInfo;

pub async fn healthz() -> &'static str {
    "ok"
}

/// The server clock for DASH `UTCTiming` (`urn:mpeg:dash:utc:http-iso:2014`):
/// ISO 8601 UTC with milliseconds, never cached.
pub async fn time() -> Response {
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

pub async fn streams(State(state): State<AppState>) -> impl IntoResponse {
    let streams = state.registry.list().iter().map(|s| s.info()).collect();
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        Json(Streams { streams }),
    )
}
