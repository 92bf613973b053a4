//! Prometheus metrics: one [`Metrics`] (shared as `Arc`, owned by the stream
//! [`Registry`](crate::registry::Registry)) holding every handle, the
//! `GET /metrics` handler and the HTTP middleware that counts requests and
//! response bytes.
//!
//! Everything updated per frame, per read or per request is an atomic: the
//! label families with fixed label values (tracks, routes, error kinds) are
//! resolved to `Counter` handles once, at construction, so the hot paths
//! neither hash nor allocate. Only `weir_http_requests_total` looks its
//! `(route, status)` child up per request (a read lock, no allocation once
//! the child exists).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use weir_flv::TrackKind;
use weir_packager::names::FileName;
use weir_rtmp::{ChunkError, SessionError};

use crate::http::AppState;
use crate::stream::lifecycle::Phase;

/// Content type of the OpenMetrics text format (sent when the scraper asks
/// for it, as Prometheus does).
pub const OPENMETRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of the Prometheus text format 0.0.4 (everyone else: curl, browsers).
pub const PROMETHEUS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of `weir_segment_publish_delay_seconds`.
const DELAY_BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0,
];

/// The `route` label of the HTTP metrics: a fixed set, never the raw path
/// (whose stream keys and segment numbers are unbounded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Playlist,
    Mpd,
    Segment,
    Init,
    Api,
    Time,
    Metrics,
    Page,
    Asset,
    Health,
    Other,
}

impl Route {
    pub const ALL: [Route; 11] = [
        Route::Playlist,
        Route::Mpd,
        Route::Segment,
        Route::Init,
        Route::Api,
        Route::Time,
        Route::Metrics,
        Route::Page,
        Route::Asset,
        Route::Health,
        Route::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Route::Playlist => "playlist",
            Route::Mpd => "mpd",
            Route::Segment => "segment",
            Route::Init => "init",
            Route::Api => "api",
            Route::Time => "time",
            Route::Metrics => "metrics",
            Route::Page => "page",
            Route::Asset => "asset",
            Route::Health => "health",
            Route::Other => "other",
        }
    }

    /// The route of a request path, following the router in `http/mod.rs` and
    /// `http/ui.rs`: `/{app}/{key}/{*file}` by file type, `/{app}/{key}[/]` the
    /// player page, the fixed paths by name, anything else `other`.
    pub fn classify(path: &str) -> Route {
        match path {
            "/" => return Route::Page,
            "/healthz" => return Route::Health,
            "/time" => return Route::Time,
            "/metrics" => return Route::Metrics,
            _ => {}
        }
        let Some(rest) = path.strip_prefix('/') else {
            return Route::Other;
        };
        let mut parts = rest.splitn(3, '/');
        let first = parts.next().unwrap_or_default();
        let second = parts.next();
        let file = parts.next();
        let stream = !first.is_empty() && second.is_some_and(|k| !k.is_empty());
        if let (true, Some(name)) = (stream, file.and_then(FileName::parse)) {
            return match name {
                FileName::Multivariant
                | FileName::MediaPlaylist(_)
                | FileName::DeltaPlaylist(_) => Route::Playlist,
                FileName::Mpd => Route::Mpd,
                FileName::Segment { .. } | FileName::Part { .. } => Route::Segment,
                FileName::Init { .. } => Route::Init,
            };
        }
        match first {
            "api" => return Route::Api,
            "assets" => return Route::Asset,
            _ => {}
        }
        if stream && matches!(file, None | Some("")) {
            return Route::Page;
        }
        Route::Other
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The `kind` label of `weir_rtmp_connection_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtmpErrorKind {
    /// Not an RTMP handshake (e.g. an HTTP request on the RTMP port).
    Handshake,
    HandshakeTimeout,
    IdleTimeout,
    /// Malformed chunk stream or command.
    Protocol,
    /// A configured limit: message size, chunk streams, reassembly buffer,
    /// streams per connection, chunk size floor.
    LimitExceeded,
    /// Refused at accept: `--max-connections` reached.
    ConnectionLimit,
    /// The socket failed: read error, write error or write timeout.
    Io,
}

impl RtmpErrorKind {
    pub const ALL: [RtmpErrorKind; 7] = [
        RtmpErrorKind::Handshake,
        RtmpErrorKind::HandshakeTimeout,
        RtmpErrorKind::IdleTimeout,
        RtmpErrorKind::Protocol,
        RtmpErrorKind::LimitExceeded,
        RtmpErrorKind::ConnectionLimit,
        RtmpErrorKind::Io,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RtmpErrorKind::Handshake => "handshake",
            RtmpErrorKind::HandshakeTimeout => "handshake_timeout",
            RtmpErrorKind::IdleTimeout => "idle_timeout",
            RtmpErrorKind::Protocol => "protocol",
            RtmpErrorKind::LimitExceeded => "limit_exceeded",
            RtmpErrorKind::ConnectionLimit => "connection_limit",
            RtmpErrorKind::Io => "io",
        }
    }

    /// The kind of the error a session ended with.
    pub fn of(e: &SessionError) -> RtmpErrorKind {
        match e {
            SessionError::Handshake(_) => RtmpErrorKind::Handshake,
            SessionError::HandshakeTimeout(_) => RtmpErrorKind::HandshakeTimeout,
            SessionError::IdleTimeout(_) => RtmpErrorKind::IdleTimeout,
            SessionError::TooManyStreams { .. } => RtmpErrorKind::LimitExceeded,
            SessionError::Chunk(c) => match c {
                ChunkError::MessageTooLarge { .. }
                | ChunkError::ChunkSizeBelowFloor { .. }
                | ChunkError::TooManyChunkStreams { .. }
                | ChunkError::ReassemblyLimit { .. } => RtmpErrorKind::LimitExceeded,
                ChunkError::InvalidChunkSize(_)
                | ChunkError::NoPreviousHeader { .. }
                | ChunkError::HeaderInsideMessage { .. } => RtmpErrorKind::Protocol,
            },
            SessionError::Command(_) | SessionError::Closed => RtmpErrorKind::Protocol,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TrackLabels {
    track: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// Counter handles of one track-labelled family.
struct PerTrack {
    video: Counter,
    audio: Counter,
}

impl PerTrack {
    fn new(family: &Family<TrackLabels, Counter>) -> Self {
        PerTrack {
            video: family.get_or_create_owned(&TrackLabels { track: "video" }),
            audio: family.get_or_create_owned(&TrackLabels { track: "audio" }),
        }
    }

    fn get(&self, track: TrackKind) -> &Counter {
        match track {
            TrackKind::Video => &self.video,
            TrackKind::Audio => &self.audio,
        }
    }
}

/// Every metric Weir exports, registered under the `weir_` prefix.
pub struct Metrics {
    registry: Registry,
    /// Set from the stream registry on each scrape.
    streams_live: Gauge,
    publishers: Gauge,
    rtmp_connections: Gauge,
    ingest_bytes: Counter,
    frames: PerTrack,
    segments: PerTrack,
    http_requests: Family<RequestLabels, Counter>,
    /// Indexed by [`Route::index`].
    http_bytes: Vec<Counter>,
    /// Indexed by [`RtmpErrorKind::index`].
    rtmp_errors: Vec<Counter>,
    publish_delay: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("weir");
        let streams_live = Gauge::default();
        registry.register(
            "streams_live",
            "Streams with a publisher (state live in /api/streams)",
            streams_live.clone(),
        );
        let publishers = Gauge::default();
        registry.register(
            "publishers_connected",
            "RTMP connections currently publishing",
            publishers.clone(),
        );
        let rtmp_connections = Gauge::default();
        registry.register(
            "rtmp_connections",
            "Open RTMP connections",
            rtmp_connections.clone(),
        );
        let ingest_bytes = Counter::default();
        registry.register(
            "ingest_bytes",
            "Bytes read from RTMP connections",
            ingest_bytes.clone(),
        );
        let frames = Family::<TrackLabels, Counter>::default();
        registry.register(
            "ingest_frames",
            "Audio and video frames demuxed from publishers",
            frames.clone(),
        );
        let segments = Family::<TrackLabels, Counter>::default();
        registry.register(
            "segments",
            "Media segments made (init segments not included)",
            segments.clone(),
        );
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP responses by route and status code",
            http_requests.clone(),
        );
        let bytes = Family::<RouteLabels, Counter>::default();
        registry.register(
            "http_response_bytes",
            "HTTP response body bytes sent, by route (after compression)",
            bytes.clone(),
        );
        let errors = Family::<KindLabels, Counter>::default();
        registry.register(
            "rtmp_connection_errors",
            "RTMP connections that ended on an error, by kind",
            errors.clone(),
        );
        let publish_delay = Histogram::new(DELAY_BUCKETS);
        registry.register_with_unit(
            "segment_publish_delay",
            "Time from the frame that completes a segment arriving to the segment being listed \
             in the playlists",
            Unit::Seconds,
            publish_delay.clone(),
        );
        Metrics {
            registry,
            streams_live,
            publishers,
            rtmp_connections,
            ingest_bytes,
            frames: PerTrack::new(&frames),
            segments: PerTrack::new(&segments),
            http_requests,
            http_bytes: Route::ALL
                .iter()
                .map(|r| bytes.get_or_create_owned(&RouteLabels { route: r.as_str() }))
                .collect(),
            rtmp_errors: RtmpErrorKind::ALL
                .iter()
                .map(|k| errors.get_or_create_owned(&KindLabels { kind: k.as_str() }))
                .collect(),
            publish_delay,
        }
    }

    /// Counts an open RTMP connection until the guard drops.
    pub fn rtmp_connection(&self) -> GaugeGuard {
        self.rtmp_connections.inc();
        GaugeGuard(self.rtmp_connections.clone())
    }

    /// A connection started publishing (its first stream).
    pub fn publisher_started(&self) {
        self.publishers.inc();
    }

    /// A connection stopped publishing (its last stream).
    pub fn publisher_stopped(&self) {
        self.publishers.dec();
    }

    pub fn ingest_bytes(&self, n: usize) {
        self.ingest_bytes.inc_by(n as u64);
    }

    pub fn frame(&self, track: TrackKind) {
        self.frames.get(track).inc();
    }

    pub fn segment(&self, track: TrackKind) {
        self.segments.get(track).inc();
    }

    /// `segments` segments were listed `delay` after the push that made them.
    /// Segments held back until the playlists first appear (each track's
    /// first few, before TARGETDURATION is known) are not observed: the
    /// histogram measures the pipeline, not the start-up policy.
    pub fn segments_listed(&self, segments: usize, delay: Duration) {
        let secs = delay.as_secs_f64();
        for _ in 0..segments {
            self.publish_delay.observe(secs);
        }
    }

    pub fn rtmp_error(&self, kind: RtmpErrorKind) {
        if let Some(c) = self.rtmp_errors.get(kind.index()) {
            c.inc();
        }
    }

    /// The registry in the OpenMetrics or the Prometheus 0.0.4 text format.
    pub fn encode(&self, openmetrics: bool) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(8 << 10);
        if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        }
        Ok(out)
    }

    /// Counts a response and its body bytes: from `Content-Length` (or an
    /// exact body size) when known, else frame by frame as the body streams
    /// (gzip on the fly).
    fn record_response(&self, route: Route, head: bool, resp: Response) -> Response {
        self.http_requests
            .get_or_create(&RequestLabels {
                route: route.as_str(),
                status: resp.status().as_u16(),
            })
            .inc();
        let Some(counter) = self.http_bytes.get(route.index()) else {
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
}

/// Decrements its gauge when dropped.
pub struct GaugeGuard(Gauge);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `GET /metrics`: OpenMetrics when the scraper's `Accept` asks for it,
/// else the Prometheus text format; never cached.
pub async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let metrics = state.registry.metrics();
    let live = state
        .registry
        .list()
        .iter()
        .filter(|s| matches!(s.phase(), Phase::Live { .. }))
        .count();
    metrics
        .streams_live
        .set(i64::try_from(live).unwrap_or(i64::MAX));
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
        let route = Route::classify(req.uri().path());
        let head = req.method() == Method::HEAD;
        let metrics = self.metrics.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(metrics.record_response(route, head, resp))
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
    use super::*;

    #[test]
    fn routes_are_a_fixed_set() {
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
            ("/api", Route::Api),
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
            ("//x.m3u8", Route::Other),
            ("/live//index.m3u8", Route::Other),
            ("", Route::Other),
        ];
        for (path, want) in cases {
            assert_eq!(Route::classify(path), want, "{path}");
        }
    }

    #[test]
    fn index_matches_all() {
        for (i, r) in Route::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        for (i, k) in RtmpErrorKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }

    #[test]
    fn error_kinds() {
        use weir_rtmp::handshake::HandshakeError;
        let cases = [
            (
                SessionError::Handshake(HandshakeError::BadVersion(b'G')),
                "handshake",
            ),
            (
                SessionError::HandshakeTimeout(Duration::from_secs(1)),
                "handshake_timeout",
            ),
            (
                SessionError::IdleTimeout(Duration::from_secs(1)),
                "idle_timeout",
            ),
            (
                SessionError::Chunk(ChunkError::MessageTooLarge { size: 2, limit: 1 }),
                "limit_exceeded",
            ),
            (
                SessionError::Chunk(ChunkError::InvalidChunkSize(0)),
                "protocol",
            ),
            (SessionError::TooManyStreams { limit: 1 }, "limit_exceeded"),
            (SessionError::Closed, "protocol"),
        ];
        for (e, want) in cases {
            assert_eq!(RtmpErrorKind::of(&e).as_str(), want, "{e}");
        }
    }

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn text_output_has_every_family() {
        let m = Metrics::new();
        let guard = m.rtmp_connection();
        m.publisher_started();
        m.ingest_bytes(100);
        m.frame(TrackKind::Video);
        m.frame(TrackKind::Audio);
        m.frame(TrackKind::Audio);
        m.segment(TrackKind::Video);
        m.segments_listed(1, Duration::from_millis(3));
        m.rtmp_error(RtmpErrorKind::Handshake);
        m.record_response(Route::Playlist, false, "hello".into_response());
        m.record_response(Route::Playlist, true, "hello".into_response());
        for openmetrics in [false, true] {
            let text = m.encode(openmetrics).unwrap();
            for family in [
                "weir_streams_live",
                "weir_publishers_connected",
                "weir_rtmp_connections",
                "weir_ingest_bytes",
                "weir_ingest_frames",
                "weir_segments",
                "weir_http_requests",
                "weir_http_response_bytes",
                "weir_rtmp_connection_errors",
                "weir_segment_publish_delay_seconds",
            ] {
                // Prometheus 0.0.4 names a counter family with `_total`.
                assert!(
                    text.contains(&format!("# TYPE {family} "))
                        || text.contains(&format!("# TYPE {family}_total counter")),
                    "{family} missing:\n{text}"
                );
            }
            let v = |s| value(&text, s);
            assert_eq!(v("weir_rtmp_connections"), Some(1.0), "{text}");
            assert_eq!(v("weir_publishers_connected"), Some(1.0));
            assert_eq!(v("weir_ingest_bytes_total"), Some(100.0));
            assert_eq!(
                v("weir_ingest_frames_total{track=\"audio\"}"),
                Some(2.0),
                "{text}"
            );
            assert_eq!(v("weir_ingest_frames_total{track=\"video\"}"), Some(1.0));
            assert_eq!(v("weir_segments_total{track=\"video\"}"), Some(1.0));
            assert_eq!(v("weir_segments_total{track=\"audio\"}"), Some(0.0));
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
                v("weir_http_response_bytes_total{route=\"other\"}"),
                Some(0.0)
            );
            assert_eq!(
                v("weir_rtmp_connection_errors_total{kind=\"handshake\"}"),
                Some(1.0)
            );
            assert_eq!(
                v("weir_rtmp_connection_errors_total{kind=\"io\"}"),
                Some(0.0)
            );
            assert_eq!(v("weir_segment_publish_delay_seconds_count"), Some(1.0));
            assert_eq!(
                v("weir_segment_publish_delay_seconds_bucket{le=\"0.005\"}"),
                Some(1.0),
                "{text}"
            );
            assert_eq!(
                v("weir_segment_publish_delay_seconds_bucket{le=\"0.0025\"}"),
                Some(0.0)
            );
            assert_eq!(text.contains("# EOF"), openmetrics);
        }
        drop(guard);
        m.publisher_stopped();
        let text = m.encode(false).unwrap();
        assert_eq!(value(&text, "weir_rtmp_connections"), Some(0.0));
        assert_eq!(value(&text, "weir_publishers_connected"), Some(0.0));
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
        let resp = Body::new(chunks).into_response();
        let resp = m.record_response(Route::Mpd, false, resp);
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
}
