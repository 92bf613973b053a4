//! `GET /metrics` during a real ffmpeg publish: gauges, ingest and segment
//! counters, HTTP counters by route and status, the segment publish delay
//! histogram, RTMP connection errors, and the stream count after the grace
//! period.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{assets, http_request, poll_until, Ffmpeg, Weir};

/// One sample line: `name{k="v",…} value`.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// Parses the Prometheus / OpenMetrics text format (comments skipped).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| parse_line(l).unwrap_or_else(|| panic!("bad metric line {l:?}")))
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        let mut r = r;
        loop {
            if let Some(after) = r.strip_prefix('}') {
                r = after;
                break;
            }
            let eq = r.find('=')?;
            let key = r[..eq].trim_start_matches(',').to_owned();
            let mut chars = r[eq + 1..].strip_prefix('"')?.char_indices();
            let mut value = String::new();
            let end = loop {
                let (i, c) = chars.next()?;
                match c {
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    '"' => break i,
                    c => value.push(c),
                }
            };
            labels.push((key, value));
            r = &r[eq + 1..][1 + end + 1..];
        }
        rest = r;
    }
    // A timestamp may follow the value.
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

struct Scrape(Vec<Sample>);

impl Scrape {
    /// The value of the series `name` whose labels include `labels`
    /// (summed if several match); 0 when absent.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .map(|s| s.value)
            .sum()
    }
}

fn scrape(weir: &Weir) -> Scrape {
    let r = weir.http("/metrics");
    assert_eq!(r.status, 200, "/metrics: {}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    Scrape(parse(&r.text()))
}

/// The segment URIs of a media playlist.
fn segment_uris(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn parser_reads_labels_values_and_escapes() {
    let s = parse_line(r#"a_total{route="x",msg="q\"\\ \n"} 12.5"#).unwrap();
    assert_eq!(s.name, "a_total");
    assert_eq!(
        s.labels,
        vec![
            ("route".to_owned(), "x".to_owned()),
            ("msg".to_owned(), "q\"\\ \n".to_owned())
        ]
    );
    assert_eq!(s.value, 12.5);
    let s = parse_line("g 3").unwrap();
    assert!(s.labels.is_empty());
    assert_eq!(s.value, 3.0);
    let s = parse_line(r#"h_bucket{le="+Inf"} 7 1700000000"#).unwrap();
    assert_eq!(s.value, 7.0);
    assert!(parse_line("nonsense").is_none());
}

#[test]
fn metrics_follow_a_real_publish() {
    let weir = Weir::start(&["--grace-period", "1"]);

    let m0 = scrape(&weir);
    assert_eq!(m0.get("weir_streams_live", &[]), 0.0);
    assert_eq!(m0.get("weir_publishers_connected", &[]), 0.0);
    assert_eq!(m0.get("weir_rtmp_connections", &[]), 0.0);

    // An HTTP request on the RTMP port is a handshake error.
    let mut garbage = TcpStream::connect(weir.rtmp_addr).expect("connect to RTMP");
    garbage
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut sink = Vec::new();
    let _ = garbage.read_to_end(&mut sink); // the server closes it
    let handshake_errors = poll_until(Duration::from_secs(5), || {
        let n = scrape(&weir).get(
            "weir_rtmp_connection_errors_total",
            &[("kind", "handshake")],
        );
        (n >= 1.0).then_some(n)
    });
    assert_eq!(handshake_errors, Some(1.0), "{}", weir.stderr());

    let key = "metrics";
    let mut ff = Ffmpeg::publish(&assets::small_av(20), &weir.rtmp_url(key), true, &[]);
    weir.wait_live(key);
    // The playlists appear once each track has its first few segments.
    poll_until(Duration::from_secs(20), || {
        let r = weir.http(&format!("/live/{key}/video.m3u8"));
        (r.status == 200 && !segment_uris(&r.text()).is_empty()).then_some(())
    })
    .expect("no video playlist with segments");
    let m1 = scrape(&weir);
    assert!(m1.get("weir_segments_total", &[("track", "video")]) >= 1.0);
    assert_eq!(m1.get("weir_streams_live", &[]), 1.0);
    assert_eq!(m1.get("weir_publishers_connected", &[]), 1.0);
    assert_eq!(m1.get("weir_rtmp_connections", &[]), 1.0);
    assert!(m1.get("weir_ingest_bytes_total", &[]) > 0.0);

    // Fetch a playlist, a segment and an unknown stream's playlist.
    let playlist = weir.http(&format!("/live/{key}/video.m3u8"));
    assert_eq!(playlist.status, 200);
    let uri = segment_uris(&playlist.text())
        .pop()
        .expect("a listed segment");
    let segment = weir.http(&format!("/live/{key}/{uri}"));
    assert_eq!(segment.status, 200, "{uri}");
    let segment_len = segment.body.len() as f64;
    assert!(segment_len > 0.0);
    assert_eq!(weir.http("/live/nobody/index.m3u8").status, 404);
    // A compressed (chunked) response is counted as it streams.
    let api = http_request(
        weir.http_addr,
        "GET",
        "/api/streams",
        &[("Accept-Encoding", "gzip")],
    )
    .unwrap();
    assert_eq!(api.status, 200);

    // A few seconds later: more bytes, frames and segments.
    std::thread::sleep(Duration::from_secs(3));
    let m2 = poll_until(Duration::from_secs(10), || {
        let m = scrape(&weir);
        (m.get("weir_segments_total", &[("track", "video")])
            > m1.get("weir_segments_total", &[("track", "video")]))
        .then_some(m)
    })
    .expect("segments_total did not increase");
    assert_eq!(m2.get("weir_streams_live", &[]), 1.0);
    assert_eq!(m2.get("weir_publishers_connected", &[]), 1.0);
    assert!(m2.get("weir_ingest_bytes_total", &[]) > m1.get("weir_ingest_bytes_total", &[]));
    for track in ["video", "audio"] {
        let f = |m: &Scrape| m.get("weir_ingest_frames_total", &[("track", track)]);
        assert!(f(&m1) > 0.0, "{track} frames");
        assert!(f(&m2) > f(&m1), "{track} frames did not increase");
    }
    assert!(m2.get("weir_segments_total", &[("track", "audio")]) >= 1.0);

    let requests = |m: &Scrape, route: &str, status: &str| {
        m.get(
            "weir_http_requests_total",
            &[("route", route), ("status", status)],
        )
    };
    assert!(requests(&m2, "playlist", "200") >= requests(&m1, "playlist", "200") + 1.0);
    assert!(requests(&m2, "segment", "200") >= requests(&m1, "segment", "200") + 1.0);
    assert!(requests(&m2, "playlist", "404") >= 1.0);
    assert!(requests(&m2, "api", "200") >= 1.0);
    // Scrapes count themselves.
    assert!(requests(&m2, "metrics", "200") >= 2.0);
    // No raw paths as labels.
    for s in &m2.0 {
        for (k, v) in &s.labels {
            assert!(!v.contains('/'), "label {k}={v:?} on {}", s.name);
        }
    }

    let bytes =
        |m: &Scrape, route: &str| m.get("weir_http_response_bytes_total", &[("route", route)]);
    assert!(
        bytes(&m2, "segment") - bytes(&m1, "segment") >= segment_len,
        "segment bytes {} → {}, segment {segment_len}",
        bytes(&m1, "segment"),
        bytes(&m2, "segment")
    );
    assert!(bytes(&m2, "playlist") - bytes(&m1, "playlist") >= playlist.body.len() as f64);
    assert!(bytes(&m2, "api") > 0.0, "gzip-streamed /api/streams bytes");

    let count = m2.get("weir_segment_publish_delay_seconds_count", &[]);
    let sum = m2.get("weir_segment_publish_delay_seconds_sum", &[]);
    assert!(count > 0.0);
    assert!(sum / count < 0.5, "mean publish delay {}", sum / count);
    assert_eq!(
        m2.get(
            "weir_segment_publish_delay_seconds_bucket",
            &[("le", "+Inf")]
        ),
        count
    );
    // Every segment made while live was listed with a delay.
    let segments = m2.get("weir_segments_total", &[]);
    assert!(count <= segments, "{count} delays for {segments} segments");

    // The OpenMetrics form for scrapers that ask for it.
    let om = http_request(
        weir.http_addr,
        "GET",
        "/metrics",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,*/*;q=0.1",
        )],
    )
    .unwrap();
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(om.text().trim_end().ends_with("# EOF"));
    assert!(Scrape(parse(&om.text())).get("weir_streams_live", &[]) == 1.0);

    // The publisher quits; after the 1 s grace period nothing is live.
    ff.quit();
    assert!(
        ff.wait_timeout(Duration::from_secs(10)).is_some(),
        "ffmpeg did not quit"
    );
    // Listed as ended (its files are still served) until the retention.
    poll_until(Duration::from_secs(10), || {
        weir.stream(key)
            .is_some_and(|s| s["state"] == "ended")
            .then_some(())
    })
    .expect("stream not listed as ended after the publisher quit");
    let end = poll_until(Duration::from_secs(5), || {
        let m = scrape(&weir);
        (m.get("weir_rtmp_connections", &[]) == 0.0).then_some(m)
    })
    .expect("RTMP connection still counted");
    assert_eq!(end.get("weir_streams_live", &[]), 0.0);
    assert_eq!(end.get("weir_publishers_connected", &[]), 0.0);
    assert_eq!(
        end.get(
            "weir_rtmp_connection_errors_total",
            &[("kind", "handshake")]
        ),
        1.0
    );
}
