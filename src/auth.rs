//! Who may publish (per-app stream keys, an HTTP callback) and who may play
//! (signed, expiring URL tokens).
//!
//! Secrets and tokens are never logged: errors say what was wrong, not with
//! which value.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tracing::warn;

use crate::config::PublishAuth;

/// Why a publish was refused (the text goes to the publisher's onStatus).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("app {0:?} is not served here")]
    UnknownApp(String),
    #[error("a valid ?key= is required to publish this stream")]
    BadKey,
    #[error("the publish callback refused it (HTTP {0})")]
    CallbackRefused(u16),
    #[error("the publish callback failed: {0}")]
    CallbackFailed(String),
    #[error("the publish callback did not answer within {0:?}")]
    CallbackTimeout(Duration),
}

/// What the callback receives.
#[derive(Serialize)]
struct CallbackBody<'a> {
    app: &'a str,
    key: &'a str,
    query: &'a str,
    client: String,
}

pub struct PublishAuthorizer {
    apps: Vec<String>,
    auth: PublishAuth,
    client: reqwest::Client,
}

impl PublishAuthorizer {
    pub fn new(apps: Vec<String>, auth: PublishAuth) -> Self {
        PublishAuthorizer {
            apps,
            auth,
            client: reqwest::Client::new(),
        }
    }

    /// Keys first (no I/O), then the callback.
    pub async fn authorize(
        &self,
        app: &str,
        key: &str,
        query: Option<&str>,
        client: SocketAddr,
    ) -> Result<(), Refusal> {
        if !self.apps.is_empty() && !self.apps.iter().any(|a| a == app) {
            return Err(Refusal::UnknownApp(app.to_owned()));
        }
        if let Some(streams) = self.auth.keys.get(app) {
            let given = query.and_then(|q| query_param(q, "key"));
            let ok = given.is_some_and(|g| {
                [streams.get(key), streams.get("*")]
                    .into_iter()
                    .flatten()
                    .any(|secret| constant_time_eq(secret.as_bytes(), g.as_bytes()))
            });
            if !ok {
                return Err(Refusal::BadKey);
            }
        }
        let Some(url) = &self.auth.callback else {
            return Ok(());
        };
        let body = CallbackBody {
            app,
            key,
            query: query.unwrap_or(""),
            client: client.to_string(),
        };
        let timeout = self.auth.callback_timeout;
        let send = self.client.post(url).json(&body).send();
        match tokio::time::timeout(timeout, send).await {
            Err(_) => Err(Refusal::CallbackTimeout(timeout)),
            Ok(Err(e)) => {
                // Without the URL: it may carry the operator's own secret.
                let e = e.without_url().to_string();
                warn!(error = %e, "publish callback failed");
                Err(Refusal::CallbackFailed(e))
            }
            Ok(Ok(r)) if r.status().is_success() => Ok(()),
            Ok(Ok(r)) => Err(Refusal::CallbackRefused(r.status().as_u16())),
        }
    }
}

/// The value of `name` in a `a=1&b=2` query (not percent-decoded: keys and
/// tokens are URL-safe by construction).
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Signed play URLs: `?token=EXPIRY-HEX`, where EXPIRY is Unix seconds and
/// HEX the HMAC-SHA256 of `APP/KEY/EXPIRY` under the play secret. One token
/// covers every playlist, MPD and segment of the stream until it expires.
#[derive(Clone)]
pub struct PlayTokens {
    secret: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("a play token is required")]
    Missing,
    #[error("the play token is malformed")]
    Malformed,
    #[error("the play token has expired")]
    Expired,
    #[error("the play token is not valid for this stream")]
    BadSignature,
}

impl PlayTokens {
    pub fn new(secret: &str) -> Self {
        PlayTokens {
            secret: secret.as_bytes().to_vec(),
        }
    }

    fn mac(&self, app: &str, key: &str, expiry: u64) -> Hmac<Sha256> {
        // Any key length is valid for HMAC.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.secret) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        mac.update(format!("{app}/{key}/{expiry}").as_bytes());
        mac
    }

    /// A token for `app/key` valid until `expiry`.
    pub fn sign(&self, app: &str, key: &str, expiry: SystemTime) -> String {
        let exp = expiry.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let sig = self.mac(app, key, exp).finalize().into_bytes();
        format!("{exp}-{}", hex::encode(sig))
    }

    pub fn verify(
        &self,
        app: &str,
        key: &str,
        token: Option<&str>,
        now: SystemTime,
    ) -> Result<(), TokenError> {
        let token = token.ok_or(TokenError::Missing)?;
        let (exp, sig) = token.split_once('-').ok_or(TokenError::Malformed)?;
        let exp: u64 = exp.parse().map_err(|_| TokenError::Malformed)?;
        let sig = hex::decode(sig).map_err(|_| TokenError::Malformed)?;
        // Signature before expiry: a forged token learns nothing from the answer.
        self.mac(app, key, exp)
            .verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if now > exp {
            return Err(TokenError::Expired);
        }
        Ok(())
    }
}

/// `uri` with `?token=` (or `&token=`) appended.
fn tokenized(uri: &str, token: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}token={token}")
}

/// An HLS playlist whose every URI carries the viewer's token: URI lines and
/// `URI="…"` attributes (EXT-X-MAP, EXT-X-MEDIA, parts, hints), so it carries
/// over from the multivariant playlist to media playlists and segments.
pub fn tokenize_playlist(text: &str, token: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        if line.is_empty() {
        } else if !line.starts_with('#') {
            out.push_str(&tokenized(line, token));
        } else {
            out.push_str(&tokenize_attr(line, "URI=\"", token));
        }
        out.push('\n');
    }
    out
}

/// An MPD whose segment, init and clock-fallback URLs carry the token.
pub fn tokenize_mpd(text: &str, token: &str) -> String {
    let t = tokenize_attr(text, "initialization=\"", token);
    let t = tokenize_attr(&t, "media=\"", token);
    // The http-head clock fallback is the MPD itself.
    t.replace(
        "value=\"index.mpd\"",
        &format!("value=\"{}\"", tokenized("index.mpd", token)),
    )
}

fn tokenize_attr(text: &str, prefix: &str, token: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let (head, tail) = rest.split_at(i + prefix.len());
        out.push_str(head);
        let Some(end) = tail.find('"') else {
            rest = tail;
            break;
        };
        let (value, after) = tail.split_at(end);
        out.push_str(&tokenized(value, token));
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn authorizer(keys: &[(&str, &str, &str)], callback: Option<String>) -> PublishAuthorizer {
        let mut map: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (app, key, secret) in keys {
            map.entry((*app).into())
                .or_default()
                .insert((*key).into(), (*secret).into());
        }
        PublishAuthorizer::new(
            vec!["live".into(), "open".into()],
            PublishAuth {
                keys: map,
                callback,
                callback_timeout: Duration::from_millis(300),
            },
        )
    }

    fn peer() -> SocketAddr {
        "127.0.0.1:5000".parse().unwrap()
    }

    #[tokio::test]
    async fn stream_keys_per_app() {
        let a = authorizer(&[("live", "cam1", "s3cret"), ("live", "*", "shared")], None);
        assert_eq!(
            a.authorize("live", "cam1", Some("key=s3cret"), peer())
                .await,
            Ok(())
        );
        assert_eq!(
            a.authorize("live", "cam2", Some("x=1&key=shared"), peer())
                .await,
            Ok(())
        );
        assert_eq!(
            a.authorize("live", "cam1", Some("key=shared"), peer())
                .await,
            Ok(())
        );
        assert_eq!(
            a.authorize("live", "cam1", Some("key=wrong"), peer()).await,
            Err(Refusal::BadKey)
        );
        assert_eq!(
            a.authorize("live", "cam1", None, peer()).await,
            Err(Refusal::BadKey)
        );
        // An app without keys is open; an app not served is refused.
        assert_eq!(a.authorize("open", "x", None, peer()).await, Ok(()));
        assert_eq!(
            a.authorize("other", "x", None, peer()).await,
            Err(Refusal::UnknownApp("other".into()))
        );
    }

    #[test]
    fn play_tokens_verify_expire_and_resist_forgery() {
        let t = PlayTokens::new("0123456789abcdef-secret");
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let token = t.sign("live", "cam1", now + Duration::from_secs(60));
        assert!(token.starts_with("1800000060-"));
        assert_eq!(t.verify("live", "cam1", Some(&token), now), Ok(()));
        assert_eq!(
            t.verify("live", "cam1", Some(&token), now + Duration::from_secs(61)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            t.verify("live", "cam2", Some(&token), now),
            Err(TokenError::BadSignature)
        );
        // A later expiry with the old signature is a forgery.
        let sig = token.split_once('-').unwrap().1;
        let forged = format!("1900000000-{sig}");
        assert_eq!(
            t.verify("live", "cam1", Some(&forged), now),
            Err(TokenError::BadSignature)
        );
        let other = PlayTokens::new("another-secret-of-16").sign("live", "cam1", now);
        assert_eq!(
            t.verify("live", "cam1", Some(&other), now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            t.verify("live", "cam1", None, now),
            Err(TokenError::Missing)
        );
        for bad in ["", "abc", "12-zz", "-", "1800000060"] {
            assert_eq!(
                t.verify("live", "cam1", Some(bad), now),
                Err(TokenError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn tokens_carry_into_every_playlist_uri() {
        let text = "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",URI=\"audio.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nvideo.m3u8\n#EXT-X-MAP:URI=\"video/init-v1.mp4\"\n#EXTINF:2.0,\nvideo/seg-1.m4s\n";
        let out = tokenize_playlist(text, "9-ab");
        assert_eq!(
            out,
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",URI=\"audio.m3u8?token=9-ab\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nvideo.m3u8?token=9-ab\n#EXT-X-MAP:URI=\"video/init-v1.mp4?token=9-ab\"\n#EXTINF:2.0,\nvideo/seg-1.m4s?token=9-ab\n"
        );
        let mpd = r#"<SegmentTemplate initialization="video/init-v1.mp4" media="video/seg-$Number$.m4s"/><UTCTiming value="../../time"/><UTCTiming value="index.mpd"/>"#;
        assert_eq!(
            tokenize_mpd(mpd, "9-ab"),
            r#"<SegmentTemplate initialization="video/init-v1.mp4?token=9-ab" media="video/seg-$Number$.m4s?token=9-ab"/><UTCTiming value="../../time"/><UTCTiming value="index.mpd?token=9-ab"/>"#
        );
    }

    #[test]
    fn query_params() {
        assert_eq!(query_param("a=1&key=x", "key"), Some("x"));
        assert_eq!(query_param("key", "key"), None);
        assert_eq!(query_param("", "key"), None);
    }
}
