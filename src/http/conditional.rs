//! The one conditional-GET path: every response whose bytes are made ahead
//! of time (playlists, MPDs, the UI's embedded pages and assets) goes out
//! through [`respond`], which picks gzip from `Accept-Encoding` (RFC 9110
//! §12.5.3), gives each encoding its own strong ETag and answers a matching
//! `If-None-Match` (§13.1.2, weak comparison) with `304 Not Modified`.
//!
//! Not tower-http's `CompressionLayer`: that compresses each response as it
//! is sent, whereas these bodies are gzipped once when they are made (a
//! playlist once per update, not once per request), and it does not give
//! the gzip form its own ETag or answer `If-None-Match`.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// A body made ahead of time, with its gzip form when that exists.
pub struct Representation<'a> {
    pub body: Bytes,
    pub gzip: Option<Bytes>,
    /// The strong entity tag of `body`, quoted (`"…"`).
    pub etag: &'a str,
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

/// `200` with the body in the encoding the request accepts, or `304` (no
/// body) when the request already holds it. Both carry `ETag`,
/// `Cache-Control` and, when a gzip form exists, `Vary: accept-encoding`;
/// a `304` carries no other representation metadata (§15.4.5). HEAD needs
/// nothing here: axum answers it from the same response without the body.
pub fn respond(request: &HeaderMap, rep: Representation<'_>) -> Response {
    let varies = rep.gzip.is_some();
    let gzip = rep.gzip.filter(|_| accepts_gzip(request));
    // Each encoding is its own representation, with its own strong ETag.
    let etag = match gzip {
        Some(_) => format!("{}-gz\"", rep.etag.trim_end_matches('"')),
        None => rep.etag.to_owned(),
    };
    let mut resp = if if_none_match(request, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut resp = match gzip {
            Some(gz) => ([(header::CONTENT_ENCODING, "gzip")], gz).into_response(),
            None => rep.body.into_response(),
        };
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(rep.content_type),
        );
        resp
    };
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(rep.cache_control),
    );
    if varies {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

/// Whether `Accept-Encoding` allows gzip: an explicit `gzip` (or its alias
/// `x-gzip`) decides by its q-value, else `*` does; `q=0` means "not
/// acceptable" (§12.4.2). No header, or one naming neither, gets identity.
fn accepts_gzip(request: &HeaderMap) -> bool {
    let mut explicit = None;
    let mut any = None;
    let items = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for item in items {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(1.0, |(_, v)| v.trim().parse::<f32>().unwrap_or(0.0));
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            explicit.get_or_insert(q);
        } else if coding == "*" {
            any.get_or_insert(q);
        }
    }
    explicit.or(any).is_some_and(|q| q > 0.0)
}

/// Whether `If-None-Match` names `etag` (or is `*`): the weak comparison
/// of RFC 9110 §13.1.2 (`W/"x"` matches `"x"`), over every listed tag of
/// every header line. An entity tag may hold commas, so the list is read
/// tag by tag, not split on commas.
fn if_none_match(request: &HeaderMap, etag: &str) -> bool {
    let ours = opaque(etag);
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|list| {
            let mut rest = list;
            loop {
                rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
                if rest.is_empty() {
                    return false;
                }
                if let Some(after) = rest.strip_prefix('*') {
                    if after.trim_start().is_empty() || after.trim_start().starts_with(',') {
                        return true;
                    }
                }
                let tag = rest.strip_prefix("W/").unwrap_or(rest);
                let Some(inner) = tag.strip_prefix('"') else {
                    return false;
                };
                let Some(end) = inner.find('"') else {
                    return false;
                };
                if inner.get(..end) == Some(ours) {
                    return true;
                }
                rest = inner.get(end + 1..).unwrap_or_default();
            }
        })
}

/// The opaque tag of an entity tag: without `W/` and the quotes.
fn opaque(etag: &str) -> &str {
    let tag = etag.strip_prefix("W/").unwrap_or(etag);
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"0123abcd\"";

    fn request(headers: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            let name = header::HeaderName::from_bytes(k.as_bytes()).unwrap();
            h.append(name, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn rep() -> Representation<'static> {
        Representation {
            body: Bytes::from_static(b"#EXTM3U\n"),
            gzip: Some(Bytes::from_static(b"gz")),
            etag: ETAG,
            content_type: "application/vnd.apple.mpegurl",
            cache_control: "public, max-age=1",
        }
    }

    fn header(resp: &Response, name: header::HeaderName) -> Option<&str> {
        resp.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn gzip_is_chosen_by_q_value() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], false),
            (&[("accept-encoding", "gzip")], true),
            (&[("accept-encoding", "GZIP, br")], true),
            (&[("accept-encoding", "br, x-gzip")], true),
            (&[("accept-encoding", "gzip;q=0.5")], true),
            // q=0: not acceptable (RFC 9110 §12.4.2).
            (&[("accept-encoding", "gzip;q=0")], false),
            (&[("accept-encoding", "gzip; Q=0.000")], false),
            (&[("accept-encoding", "gzip;q=0, *")], false),
            (&[("accept-encoding", "*")], true),
            (&[("accept-encoding", "*;q=0")], false),
            (&[("accept-encoding", "gzip, *;q=0")], true),
            (
                &[("accept-encoding", "br"), ("accept-encoding", "gzip")],
                true,
            ),
            (&[("accept-encoding", "identity, br")], false),
            (&[("accept-encoding", "gzipper")], false),
        ];
        for (headers, want) in cases {
            let h = request(headers);
            assert_eq!(accepts_gzip(&h), *want, "{headers:?}");
        }
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        let cases: &[(&str, bool)] = &[
            ("\"0123abcd\"", true),
            // A cache that weakened our strong tag still revalidates.
            ("W/\"0123abcd\"", true),
            ("\"other\", W/\"0123abcd\"", true),
            ("\"other\",\"0123abcd\"", true),
            ("*", true),
            ("\"other\"", false),
            ("\"0123abcd-gz\"", false),
            ("0123abcd", false),
            ("\"a,\"0123abcd\"", false),
            ("\"a,b\", \"0123abcd\"", true),
            ("", false),
            ("W/", false),
            ("\"unterminated", false),
        ];
        for (value, want) in cases {
            let h = request(&[("if-none-match", value)]);
            assert_eq!(if_none_match(&h, ETAG), *want, "{value}");
        }
        // Tags spread over several header lines.
        let h = request(&[
            ("if-none-match", "\"x\""),
            ("if-none-match", "\"0123abcd\""),
        ]);
        assert!(if_none_match(&h, ETAG));
    }

    #[test]
    fn each_encoding_has_its_own_etag() {
        let plain = respond(&request(&[]), rep());
        assert_eq!(plain.status(), StatusCode::OK);
        assert_eq!(header(&plain, header::ETAG), Some(ETAG));
        assert_eq!(header(&plain, header::CONTENT_ENCODING), None);
        assert_eq!(header(&plain, header::VARY), Some("accept-encoding"));
        let gz = respond(&request(&[("accept-encoding", "gzip")]), rep());
        assert_eq!(header(&gz, header::ETAG), Some("\"0123abcd-gz\""));
        assert_eq!(header(&gz, header::CONTENT_ENCODING), Some("gzip"));
        assert_eq!(
            header(&gz, header::CONTENT_TYPE),
            Some("application/vnd.apple.mpegurl")
        );
        // The gzip ETag does not validate the identity body, nor the reverse.
        let h = request(&[("if-none-match", "\"0123abcd-gz\"")]);
        assert_eq!(respond(&h, rep()).status(), StatusCode::OK);
        let h = request(&[("if-none-match", ETAG), ("accept-encoding", "gzip")]);
        assert_eq!(respond(&h, rep()).status(), StatusCode::OK);
        // Without a gzip form nothing varies by Accept-Encoding.
        let only_plain = Representation {
            gzip: None,
            ..rep()
        };
        let resp = respond(&request(&[("accept-encoding", "gzip")]), only_plain);
        assert_eq!(header(&resp, header::CONTENT_ENCODING), None);
        assert_eq!(header(&resp, header::VARY), None);
        assert_eq!(header(&resp, header::ETAG), Some(ETAG));
    }

    #[tokio::test]
    async fn not_modified_has_etag_and_cache_control_and_no_body() {
        for (inm, encoding, etag) in [
            (ETAG, "identity", ETAG),
            ("W/\"0123abcd-gz\"", "gzip", "\"0123abcd-gz\""),
            ("*", "gzip", "\"0123abcd-gz\""),
        ] {
            let h = request(&[("if-none-match", inm), ("accept-encoding", encoding)]);
            let resp = respond(&h, rep());
            assert_eq!(resp.status(), StatusCode::NOT_MODIFIED, "{inm}");
            assert_eq!(header(&resp, header::ETAG), Some(etag));
            assert_eq!(
                header(&resp, header::CACHE_CONTROL),
                Some("public, max-age=1")
            );
            assert_eq!(header(&resp, header::VARY), Some("accept-encoding"));
            assert_eq!(header(&resp, header::CONTENT_TYPE), None);
            assert_eq!(header(&resp, header::CONTENT_ENCODING), None);
            let body = axum::body::to_bytes(resp.into_body(), 1 << 10)
                .await
                .unwrap();
            assert!(body.is_empty());
        }
    }
}
