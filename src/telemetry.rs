//! Every metric Weir exports, as prometheus-client families under the
//! `weir_` prefix, and the label values they take. A leaf: nothing here
//! knows HTTP, streams or RTMP sessions. The hosts record into it — the
//! RTMP listener (connections, bytes, errors, publishers, segment publish
//! delay) and the HTTP layer (requests, response bytes) as things happen;
//! the streams' own plain counters are copied in at scrape time
//! ([`Metrics::set_streams_live`], [`Metrics::set_track_totals`]).
//!
//! Everything updated per read or per request is an atomic: the label
//! families with fixed label values (tracks, routes, error kinds) are
//! resolved to `Counter` handles once, at construction, so the hot paths
//! neither hash nor allocate. Only `weir_http_requests_total` looks its
//! `(route, status)` child up per request (a read lock, no allocation once
//! the child exists).

use std::sync::atomic::Ordering;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use weir_flv::TrackKind;

/// Upper bounds (seconds) of `weir_segment_publish_delay_seconds`.
const DELAY_BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0,
];

/// The `route` label of the HTTP metrics: a fixed set, never the raw path
/// (whose stream keys and segment numbers are unbounded). Each route of the
/// router attaches its own; a request no route matched is `Other`.
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

    fn index(self) -> usize {
        self as usize
    }
}

/// The `kind` label of `weir_rtmp_connection_errors_total` (which session
/// error is which kind is the RTMP listener's call).
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
    /// Raised to the streams' own totals on each scrape.
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

    /// Scrape time: how many streams are live now.
    pub fn set_streams_live(&self, n: usize) {
        self.streams_live.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Scrape time: the frames and segments of `track` the streams counted
    /// since the server started. Raised, never lowered: counters stay
    /// monotonic when two scrapes race.
    pub fn set_track_totals(&self, track: TrackKind, frames: u64, segments: u64) {
        self.frames
            .get(track)
            .inner()
            .fetch_max(frames, Ordering::Relaxed);
        self.segments
            .get(track)
            .inner()
            .fetch_max(segments, Ordering::Relaxed);
    }

    /// One HTTP response of `route` with `status`.
    pub fn http_response(&self, route: Route, status: u16) {
        self.http_requests
            .get_or_create(&RequestLabels {
                route: route.as_str(),
                status,
            })
            .inc();
    }

    /// The counter of response body bytes sent for `route`.
    pub fn http_bytes(&self, route: Route) -> Option<&Counter> {
        self.http_bytes.get(route.index())
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
}

/// Decrements its gauge when dropped.
pub struct GaugeGuard(Gauge);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The value of one series in a text exposition.
    pub(crate) fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
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
    fn text_output_has_every_family() {
        let m = Metrics::new();
        let guard = m.rtmp_connection();
        m.publisher_started();
        m.ingest_bytes(100);
        m.set_streams_live(1);
        m.set_track_totals(TrackKind::Video, 1, 1);
        m.set_track_totals(TrackKind::Audio, 2, 0);
        m.segments_listed(1, Duration::from_millis(3));
        m.rtmp_error(RtmpErrorKind::Handshake);
        m.http_response(Route::Playlist, 200);
        m.http_response(Route::Playlist, 200);
        if let Some(c) = m.http_bytes(Route::Playlist) {
            c.inc_by(5);
        }
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
            assert_eq!(v("weir_streams_live"), Some(1.0), "{text}");
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
            // (Request counting by route: http/metrics.rs.)
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

    /// Totals copied in at scrape time only ever rise (a slower scrape
    /// finishing after a newer one cannot lower a counter).
    #[test]
    fn track_totals_never_go_down() {
        let m = Metrics::new();
        m.set_track_totals(TrackKind::Video, 10, 2);
        m.set_track_totals(TrackKind::Video, 7, 1);
        let text = m.encode(false).unwrap();
        assert_eq!(
            value(&text, "weir_ingest_frames_total{track=\"video\"}"),
            Some(10.0)
        );
        assert_eq!(
            value(&text, "weir_segments_total{track=\"video\"}"),
            Some(2.0)
        );
    }
}
