//! `GET /metrics`, and the layer that counts every HTTP response and its
//! body bytes by route. The families themselves live in
//! [`crate::telemetry`]; the route label of a response is attached where
//! its route is registered ([`labelled`]) or, for a stream's files, by the
//! handler that parsed the file name.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use prometheus_client::metrics::counter::Counter;
use weir_flv::TrackKind;

use super::AppState;
use crate::telemetry::{Metrics, Route};

/// Content type of the OpenMetrics text format (sent when the scraper asks
/// for it, as Prometheus does).
pub const OPENMETRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of the Prometheus text format 0.0.4 (everyone else: curl, browsers).
pub const PROMETHEUS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET` on `handler`, its responses labelled `route` in the HTTP metrics.
pub fn labelled<H, T, S>(route: Route, handler: H) -> MethodRouter<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    get(handler).layer(axum::middleware::map_response(
        move |mut resp: Response| async move {
            resp.extensions_mut().insert(route);
            resp
        },
    ))
}

/// `GET /metrics`: the streams' counters read now, then OpenMetrics when the
/// scraper's `Accept` asks for it, else the Prometheus text format; never
/// cached.
pub async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let totals = state.registry.totals();
    let metrics = &state.metrics;
    metrics.set_streams_live(totals.live);
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let t = totals.streams.track(kind);
        metrics.set_track_totals(kind, t.frames, t.segments);
    }
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    match metrics.encode(openmetrics) {
        Ok(text) => (
            [
                (
                    header::CONTENT_TYPE,
                    if openmetrics {
                        OPENMETRICS_TYPE
                    } else {
                        PROMETHEUS_TYPE
                    },
                ),
                (header::CACHE_CONTROL, "no-store"),
            ],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Counts a response and its body bytes: from `Content-Length` (or an
/// exact body size) when known, else frame by frame as the body streams
/// (gzip on the fly).
fn record_response(metrics: &Metrics, head: bool, resp: Response) -> Response {
    // A response no route labelled: nothing matched its path.
    let route = resp
        .extensions()
        .get::<Route>()
        .copied()
        .unwrap_or(Route::Other);
    metrics.http_response(route, resp.status().as_u16());
    let Some(counter) = metrics.http_bytes(route) else {
        return resp;
    };
    if head {
        return resp;
    }
    let known = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| http_body::Body::size_hint(resp.body()).exact());
    match known {
        Some(n) => {
            counter.inc_by(n);
            resp
        }
        None => {
            let counter = counter.clone();
            resp.map(|inner| Body::new(CountingBody { inner, counter }))
        }
    }
}

/// Tower layer counting `weir_http_requests_total` and
/// `weir_http_response_bytes_total`; outermost in the router, so it sees the
/// final status and the bytes as sent (compressed).
#[derive(Clone)]
pub struct HttpMetricsLayer {
    metrics: Arc<Metrics>,
}

impl HttpMetricsLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        HttpMetricsLayer { metrics }
    }
}

impl<S> tower_layer::Layer<S> for HttpMetricsLayer {
    type Service = HttpMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct HttpMetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> tower_service::Service<Request> for HttpMetricsService<S>
where
    S: tower_service::Service<Request, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let head = req.method() == Method::HEAD;
        let metrics = self.metrics.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(record_response(&metrics, head, resp))
        })
    }
}

/// A response body that adds the size of each data frame to a counter.
struct CountingBody {
    inner: Body,
    counter: Counter,
}

impl http_body::Body for CountingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &poll {
            if let Some(data) = frame.data_ref() {
                self.counter.inc_by(data.len() as u64);
            }
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::http::{router, AppState};
    use crate::telemetry::tests::value;

    fn labelled_response(route: Route, body: &'static str) -> Response {
        let mut resp = body.into_response();
        resp.extensions_mut().insert(route);
        resp
    }

    #[test]
    fn responses_are_counted_by_their_label() {
        let m = Metrics::new();
        record_response(&m, false, labelled_response(Route::Playlist, "hello"));
        record_response(&m, true, labelled_response(Route::Playlist, "hello"));
        record_response(&m, false, "unlabelled".into_response());
        let text = m.encode(false).unwrap();
        let v = |s| value(&text, s);
        assert_eq!(
            v("weir_http_requests_total{route=\"playlist\",status=\"200\"}"),
            Some(2.0),
            "{text}"
        );
        // HEAD sends no body: 5 bytes, not 10.
        assert_eq!(
            v("weir_http_response_bytes_total{route=\"playlist\"}"),
            Some(5.0)
        );
        assert_eq!(
            v("weir_http_requests_total{route=\"other\",status=\"200\"}"),
            Some(1.0)
        );
        assert_eq!(
            v("weir_http_response_bytes_total{route=\"other\"}"),
            Some(10.0)
        );
    }

    /// A body of the given chunks with no size hint (like gzip on the fly).
    struct Chunks(std::collections::VecDeque<Bytes>);

    impl http_body::Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    #[tokio::test]
    async fn streamed_bodies_are_counted_frame_by_frame() {
        let m = Metrics::new();
        let chunks = Chunks([Bytes::from_static(b"abc"), Bytes::from_static(b"defgh")].into());
        let mut resp = Body::new(chunks).into_response();
        resp.extensions_mut().insert(Route::Mpd);
        let resp = record_response(&m, false, resp);
        let bytes = |m: &Metrics| {
            value(
                &m.encode(false).unwrap(),
                "weir_http_response_bytes_total{route=\"mpd\"}",
            )
        };
        // Nothing sent yet.
        assert_eq!(bytes(&m), Some(0.0));
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&body[..], b"abcdefgh");
        assert_eq!(bytes(&m), Some(8.0));
    }

    /// The label each route attaches, through the real router: the label
    /// comes from where the route is registered (or, for a stream's files,
    /// from the file name the handler parsed), never from re-reading the
    /// path. Requests no route matched are `other`.
    #[tokio::test]
    async fn routes_label_their_responses() {
        let cases = [
            ("/live/k/index.m3u8", Route::Playlist),
            ("/live/k/video.m3u8", Route::Playlist),
            ("/live/k/audio.m3u8", Route::Playlist),
            ("/live/k/index.mpd", Route::Mpd),
            ("/live/k/video/mx2k118b/seg-3.m4s", Route::Segment),
            ("/live/k/audio/mx2k118b/seg-12.m4s", Route::Segment),
            ("/live/k/video/mx2k118b/part-12.1.m4s", Route::Segment),
            ("/live/k/video/mx2k118b/init-v1.mp4", Route::Init),
            // Names Weir never makes (the old unversioned form among them).
            ("/live/k/video/seg-3.m4s", Route::Other),
            ("/api/streams", Route::Api),
            ("/time", Route::Time),
            ("/metrics", Route::Metrics),
            ("/healthz", Route::Health),
            ("/", Route::Page),
            ("/live/k/", Route::Page),
            ("/live/k", Route::Page),
            ("/assets/x.js", Route::Asset),
            ("/assets/hls.min.js", Route::Asset),
            ("/live/k/video/other.txt", Route::Other),
            ("/live/k/video/mx2k118b/seg-3.mp4", Route::Other),
            ("/favicon.ico", Route::Other),
            // `/{app}/{key}`: the player page's redirect.
            ("/metrics/x", Route::Page),
            ("/live/k/video/x", Route::Other),
            // Empty path segments still match a route (which answers 404):
            // the label is the route that answered.
            ("//x.m3u8", Route::Page),
            ("/live//index.m3u8", Route::Playlist),
            ("/api", Route::Other),
        ];
        for (path, want) in cases {
            let metrics = Arc::new(Metrics::new());
            let app = router(AppState::for_tests(metrics.clone()));
            let req = Request::builder().uri(path).body(Body::empty()).unwrap();
            let status = app.oneshot(req).await.unwrap().status().as_u16();
            let text = metrics.encode(false).unwrap();
            let series = format!(
                "weir_http_requests_total{{route=\"{}\",status=\"{status}\"}}",
                want.as_str()
            );
            assert_eq!(value(&text, &series), Some(1.0), "{path}: {series}\n{text}");
        }
    }
}
