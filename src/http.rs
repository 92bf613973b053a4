//! HTTP routes: the stream API and health check (playlists and segments come with the packager).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower_http::cors::CorsLayer;

use crate::registry::Registry;
use crate::stream::StreamInfo;

#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/streams", get(streams))
        .layer(CorsLayer::permissive())
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
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
