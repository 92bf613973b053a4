//! Configuration: built-in defaults, then a TOML file (`--config`), then
//! `WEIR_*` environment variables, then command-line flags — each later
//! source overrides the earlier ones, key by key. `weir.example.toml`
//! documents every key with its default.
//!
//! Every flag has the same name as its file key (`--segment-duration` ↔
//! `segment_duration`) and its variable (`WEIR_SEGMENT_DURATION`). Invalid
//! values fail at start with a message naming the key and where it came from.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

/// RTMP in, HLS and DASH out.
///
/// Every option can also be set in the TOML file given with --config (same
/// name, with underscores) or as WEIR_<NAME> in the environment. Precedence:
/// flag > environment > file > default.
#[derive(Parser, Debug, Clone, Default)]
#[command(name = "weir", version, about)]
pub struct Cli {
    /// TOML configuration file (see weir.example.toml).
    #[arg(long, env = "WEIR_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Address the RTMP listener binds [default: 0.0.0.0:1935].
    #[arg(long, env = "WEIR_RTMP_LISTEN", value_name = "ADDR")]
    pub rtmp_listen: Option<SocketAddr>,

    /// Address the HTTP server binds [default: 0.0.0.0:8080].
    #[arg(long, env = "WEIR_HTTP_LISTEN", value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,

    /// Seconds a stream whose publisher left (unpublished or dropped) waits
    /// for it to come back and continue the same playlists [default: 10].
    #[arg(long, env = "WEIR_GRACE_PERIOD", value_name = "SECS")]
    pub grace_period: Option<f64>,

    /// End a stream at once when its publisher unpublishes gracefully,
    /// instead of waiting the grace period (true or false) [default: false].
    #[arg(long, env = "WEIR_END_ON_UNPUBLISH", value_name = "BOOL")]
    pub end_on_unpublish: Option<bool>,

    /// Seconds an ended stream's files stay fetchable after the grace period
    /// [default: 60].
    #[arg(long, env = "WEIR_ENDED_RETENTION", value_name = "SECS")]
    pub ended_retention: Option<f64>,

    /// Seconds a new RTMP connection has to finish its handshake [default: 10].
    #[arg(long, env = "WEIR_HANDSHAKE_TIMEOUT", value_name = "SECS")]
    pub handshake_timeout: Option<f64>,

    /// Seconds of silence after which an RTMP connection is closed [default: 30].
    #[arg(long, env = "WEIR_IDLE_TIMEOUT", value_name = "SECS")]
    pub idle_timeout: Option<f64>,

    /// Concurrent RTMP connections accepted [default: 1000].
    #[arg(long, env = "WEIR_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// Streams published at once; more publishes are refused [default: 100].
    #[arg(long, env = "WEIR_MAX_STREAMS", value_name = "N")]
    pub max_streams: Option<usize>,

    /// Largest RTMP message accepted, bytes [default: 8388608].
    #[arg(long, env = "WEIR_MAX_MESSAGE_SIZE", value_name = "BYTES")]
    pub max_message_size: Option<u32>,

    /// Timestamp steps larger than this are rebased as discontinuities, ms
    /// [default: 5000].
    #[arg(long, env = "WEIR_MAX_TIMESTAMP_JUMP_MS", value_name = "MS")]
    pub max_timestamp_jump_ms: Option<u64>,

    /// Target segment duration, seconds; segments start on key frames
    /// [default: 2].
    #[arg(long, env = "WEIR_SEGMENT_DURATION", value_name = "SECS")]
    pub segment_duration: Option<f64>,

    /// Longest CMAF chunk (LL-HLS part), seconds [default: 0.5].
    #[arg(long, env = "WEIR_PART_DURATION", value_name = "SECS")]
    pub part_duration: Option<f64>,

    /// Low-latency HLS and DASH: parts, preload hints, blocking reloads,
    /// delta updates; the DASH segment in progress sent chunk by chunk
    /// (true or false) [default: false].
    #[arg(long, env = "WEIR_LOW_LATENCY", value_name = "BOOL")]
    pub low_latency: Option<bool>,

    /// Segments listed in each live playlist and the MPD [default: 6].
    #[arg(long, env = "WEIR_PLAYLIST_WINDOW", value_name = "N")]
    pub playlist_window: Option<usize>,

    /// Media/wall-clock drift that makes DASH start a new Period, ms
    /// [default: 500].
    #[arg(long, env = "WEIR_DASH_DRIFT_THRESHOLD_MS", value_name = "MS")]
    pub dash_drift_threshold_ms: Option<u64>,

    /// RTMP apps accepted, comma-separated; empty accepts any [default: live].
    #[arg(long, env = "WEIR_APPS", value_name = "LIST", value_delimiter = ',')]
    pub apps: Option<Vec<String>>,

    /// Origins allowed by CORS, comma-separated, or * [default: *].
    #[arg(
        long,
        env = "WEIR_CORS_ORIGINS",
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub cors_origins: Option<Vec<String>>,

    /// Publish callback: POST JSON {app, key, query, client} here; a 2xx
    /// answer allows the publish [default: none].
    #[arg(long, env = "WEIR_PUBLISH_CALLBACK", value_name = "URL")]
    pub publish_callback: Option<String>,

    /// Seconds the publish callback may take before the publish is refused
    /// [default: 3].
    #[arg(long, env = "WEIR_PUBLISH_CALLBACK_TIMEOUT", value_name = "SECS")]
    pub publish_callback_timeout: Option<f64>,

    /// Secret for signed play URLs (HMAC-SHA256); when set, every playlist,
    /// MPD and segment needs a valid ?token= [default: none].
    #[arg(
        long,
        env = "WEIR_PLAY_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub play_secret: Option<String>,

    /// Seconds SIGTERM/SIGINT waits for HTTP downloads before exiting
    /// [default: 10].
    #[arg(long, env = "WEIR_SHUTDOWN_TIMEOUT", value_name = "SECS")]
    pub shutdown_timeout: Option<f64>,

    /// Log format: text or json [default: text].
    #[arg(long, env = "WEIR_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// Print a signed play token for APP/KEY (with the configured
    /// play_secret) and exit; the token goes in ?token= of the stream's URLs.
    #[arg(long, value_name = "APP/KEY")]
    pub print_play_token: Option<String>,

    /// Lifetime of the token --print-play-token prints, seconds [default: 3600].
    #[arg(long, value_name = "SECS", requires = "print_play_token")]
    pub play_token_ttl: Option<f64>,

    /// Developer aid: write every byte each RTMP client sends to DIR/<conn>.rtmp.
    #[arg(long, hide = true)]
    pub capture_dir: Option<PathBuf>,
}

/// The TOML file: the same keys as the flags, plus `[publish_keys.APP]`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    rtmp_listen: Option<SocketAddr>,
    http_listen: Option<SocketAddr>,
    grace_period: Option<f64>,
    end_on_unpublish: Option<bool>,
    ended_retention: Option<f64>,
    handshake_timeout: Option<f64>,
    idle_timeout: Option<f64>,
    max_connections: Option<usize>,
    max_streams: Option<usize>,
    max_message_size: Option<u32>,
    max_timestamp_jump_ms: Option<u64>,
    segment_duration: Option<f64>,
    part_duration: Option<f64>,
    low_latency: Option<bool>,
    playlist_window: Option<usize>,
    dash_drift_threshold_ms: Option<u64>,
    apps: Option<Vec<String>>,
    cors_origins: Option<Vec<String>>,
    publish_callback: Option<String>,
    publish_callback_timeout: Option<f64>,
    play_secret: Option<String>,
    shutdown_timeout: Option<f64>,
    log_format: Option<String>,
    /// App → stream name (or `*`) → secret the publisher passes as `?key=`.
    publish_keys: Option<BTreeMap<String, BTreeMap<String, String>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Who may publish.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PublishAuth {
    /// App → stream name (or `*`) → secret. An app listed here only accepts
    /// publishes that carry the stream's secret as `?key=`.
    pub keys: BTreeMap<String, BTreeMap<String, String>>,
    pub callback: Option<String>,
    pub callback_timeout: Duration,
}

/// The resolved configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub rtmp_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub grace_period: Duration,
    pub end_on_unpublish: bool,
    pub ended_retention: Duration,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_streams: usize,
    pub max_message_size: u32,
    pub max_timestamp_jump_ms: u64,
    pub segment_duration: Duration,
    pub part_duration: Duration,
    pub low_latency: bool,
    pub playlist_window: usize,
    pub dash_drift_threshold: Duration,
    /// Empty: any app.
    pub apps: Vec<String>,
    /// `*` alone: any origin.
    pub cors_origins: Vec<String>,
    pub publish_auth: PublishAuth,
    pub play_secret: Option<String>,
    pub shutdown_timeout: Duration,
    pub log_format: LogFormat,
    pub capture_dir: Option<PathBuf>,
    /// `--print-play-token`: (APP/KEY, lifetime).
    pub print_play_token: Option<(String, Duration)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: {reason}")]
    Parse { path: String, reason: String },
    #[error("`{key}` ({source_name}): {reason}")]
    Invalid {
        key: &'static str,
        source_name: &'static str,
        reason: String,
    },
}

/// A value and where it came from, for error messages.
struct Val<T> {
    value: T,
    from: &'static str,
}

fn pick<T>(cli: Option<T>, file: Option<T>, default: T) -> Val<T> {
    match (cli, file) {
        (Some(v), _) => Val {
            value: v,
            from: "flag or environment",
        },
        (None, Some(v)) => Val {
            value: v,
            from: "configuration file",
        },
        (None, None) => Val {
            value: default,
            from: "default",
        },
    }
}

fn secs(
    key: &'static str,
    v: Val<f64>,
    range: std::ops::RangeInclusive<f64>,
) -> Result<Duration, ConfigError> {
    if !v.value.is_finite() || !range.contains(&v.value) {
        return Err(ConfigError::Invalid {
            key,
            source_name: v.from,
            reason: format!(
                "{} is out of range ({}..={} seconds)",
                v.value,
                range.start(),
                range.end()
            ),
        });
    }
    Ok(Duration::from_secs_f64(v.value))
}

fn at_least<T: PartialOrd + std::fmt::Display>(
    key: &'static str,
    v: Val<T>,
    min: T,
) -> Result<T, ConfigError> {
    if v.value < min {
        return Err(ConfigError::Invalid {
            key,
            source_name: v.from,
            reason: format!("{} is below the minimum {min}", v.value),
        });
    }
    Ok(v.value)
}

impl Config {
    /// Flags and environment, then the file they name.
    pub fn load() -> Result<Config, ConfigError> {
        let cli = Cli::parse();
        let file = match &cli.config {
            Some(path) => Some(read_file(path)?),
            None => None,
        };
        Config::resolve(cli, file)
    }

    fn resolve(cli: Cli, file: Option<FileConfig>) -> Result<Config, ConfigError> {
        let f = file.unwrap_or_default();
        let default_addr = |port: u16| SocketAddr::from(([0, 0, 0, 0], port));
        let log_format = pick(cli.log_format, f.log_format, "text".to_owned());
        let log_format = match log_format.value.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError::Invalid {
                    key: "log_format",
                    source_name: log_format.from,
                    reason: format!("{other:?} is not \"text\" or \"json\""),
                })
            }
        };
        let segment_duration = secs(
            "segment_duration",
            pick(cli.segment_duration, f.segment_duration, 2.0),
            0.5..=60.0,
        )?;
        let part_duration = secs(
            "part_duration",
            pick(cli.part_duration, f.part_duration, 0.5),
            0.1..=10.0,
        )?;
        if part_duration > segment_duration {
            return Err(ConfigError::Invalid {
                key: "part_duration",
                source_name: "configuration",
                reason: format!(
                    "{part_duration:?} is longer than segment_duration {segment_duration:?}"
                ),
            });
        }
        let callback = pick(cli.publish_callback, f.publish_callback, String::new());
        let callback = match callback.value.trim() {
            "" => None,
            url if url.starts_with("http://") => Some(url.to_owned()),
            url => {
                return Err(ConfigError::Invalid {
                    key: "publish_callback",
                    source_name: callback.from,
                    reason: format!("{url:?} is not an http:// URL"),
                })
            }
        };
        let play_secret = pick(cli.play_secret, f.play_secret, String::new());
        let play_secret = match play_secret.value.as_str() {
            "" => None,
            s if s.len() < 16 => {
                return Err(ConfigError::Invalid {
                    key: "play_secret",
                    source_name: play_secret.from,
                    reason: "is shorter than 16 characters".to_owned(),
                })
            }
            s => Some(s.to_owned()),
        };
        let cors_origins = pick(cli.cors_origins, f.cors_origins, vec!["*".to_owned()]);
        if cors_origins.value.is_empty() {
            return Err(ConfigError::Invalid {
                key: "cors_origins",
                source_name: cors_origins.from,
                reason: "is empty (use [\"*\"] for any origin)".to_owned(),
            });
        }
        let keys = f.publish_keys.unwrap_or_default();
        for (app, streams) in &keys {
            if streams.values().any(|s| s.is_empty()) {
                return Err(ConfigError::Invalid {
                    key: "publish_keys",
                    source_name: "configuration file",
                    reason: format!("app {app:?} has an empty secret"),
                });
            }
        }
        Ok(Config {
            rtmp_listen: pick(cli.rtmp_listen, f.rtmp_listen, default_addr(1935)).value,
            http_listen: pick(cli.http_listen, f.http_listen, default_addr(8080)).value,
            grace_period: secs(
                "grace_period",
                pick(cli.grace_period, f.grace_period, 10.0),
                0.0..=86_400.0,
            )?,
            end_on_unpublish: pick(cli.end_on_unpublish, f.end_on_unpublish, false).value,
            ended_retention: secs(
                "ended_retention",
                pick(cli.ended_retention, f.ended_retention, 60.0),
                0.0..=86_400.0,
            )?,
            handshake_timeout: secs(
                "handshake_timeout",
                pick(cli.handshake_timeout, f.handshake_timeout, 10.0),
                0.1..=600.0,
            )?,
            idle_timeout: secs(
                "idle_timeout",
                pick(cli.idle_timeout, f.idle_timeout, 30.0),
                0.1..=3_600.0,
            )?,
            max_connections: at_least(
                "max_connections",
                pick(cli.max_connections, f.max_connections, 1000),
                1,
            )?,
            max_streams: at_least("max_streams", pick(cli.max_streams, f.max_streams, 100), 1)?,
            max_message_size: at_least(
                "max_message_size",
                pick(cli.max_message_size, f.max_message_size, 8 << 20),
                4096,
            )?,
            max_timestamp_jump_ms: at_least(
                "max_timestamp_jump_ms",
                pick(cli.max_timestamp_jump_ms, f.max_timestamp_jump_ms, 5_000),
                100,
            )?,
            segment_duration,
            part_duration,
            // Opt-in: LL asks more of players, caches and the network (a
            // playlist request per part, held requests, chunked segments).
            low_latency: pick(cli.low_latency, f.low_latency, false).value,
            playlist_window: at_least(
                "playlist_window",
                pick(cli.playlist_window, f.playlist_window, 6),
                3,
            )?,
            dash_drift_threshold: Duration::from_millis(at_least(
                "dash_drift_threshold_ms",
                pick(cli.dash_drift_threshold_ms, f.dash_drift_threshold_ms, 500),
                50,
            )?),
            apps: pick(cli.apps, f.apps, vec!["live".to_owned()])
                .value
                .into_iter()
                .filter(|a| !a.is_empty())
                .collect(),
            cors_origins: cors_origins.value,
            publish_auth: PublishAuth {
                keys,
                callback,
                callback_timeout: secs(
                    "publish_callback_timeout",
                    pick(
                        cli.publish_callback_timeout,
                        f.publish_callback_timeout,
                        3.0,
                    ),
                    0.1..=60.0,
                )?,
            },
            play_secret,
            shutdown_timeout: secs(
                "shutdown_timeout",
                pick(cli.shutdown_timeout, f.shutdown_timeout, 10.0),
                0.0..=600.0,
            )?,
            log_format,
            capture_dir: cli.capture_dir,
            print_play_token: match cli.print_play_token {
                Some(stream) => Some((
                    stream,
                    secs(
                        "play_token_ttl",
                        pick(cli.play_token_ttl, None, 3600.0),
                        1.0..=31_536_000.0,
                    )?,
                )),
                None => None,
            },
        })
    }

    pub fn packager(&self) -> weir_packager::stream::PackagerConfig {
        weir_packager::stream::PackagerConfig {
            target_duration: self.segment_duration,
            part_duration: self.part_duration,
            window: self.playlist_window,
            drift_threshold: self.dash_drift_threshold,
            low_latency: self.low_latency,
            reference_video: None,
        }
    }

    pub fn limits(&self) -> weir_rtmp::Limits {
        weir_rtmp::Limits {
            max_message_size: self.max_message_size,
            handshake_timeout: self.handshake_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            ..weir_rtmp::Limits::default()
        }
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    parse_file(&path.display().to_string(), &text)
}

fn parse_file(path: &str, text: &str) -> Result<FileConfig, ConfigError> {
    // toml's message names the key and shows the line.
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["weir"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap()
    }

    fn resolve(args: &[&str], file: &str) -> Result<Config, ConfigError> {
        Config::resolve(cli(args), Some(parse_file("weir.toml", file)?))
    }

    #[test]
    fn defaults() {
        let c = Config::resolve(Cli::default(), None).unwrap();
        assert_eq!(c.rtmp_listen, "0.0.0.0:1935".parse().unwrap());
        assert_eq!(c.http_listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(c.segment_duration, Duration::from_secs(2));
        assert_eq!(c.playlist_window, 6);
        assert_eq!(c.apps, vec!["live"]);
        assert_eq!(c.cors_origins, vec!["*"]);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.play_secret, None);
        assert_eq!(
            c.publish_auth,
            PublishAuth {
                callback_timeout: Duration::from_secs(3),
                ..PublishAuth::default()
            }
        );
    }

    #[test]
    fn the_example_file_parses_and_matches_the_defaults() {
        let text = include_str!("../weir.example.toml");
        let c = Config::resolve(
            Cli::default(),
            Some(parse_file("weir.example.toml", text).unwrap()),
        )
        .unwrap();
        let mut defaults = Config::resolve(Cli::default(), None).unwrap();
        // The example shows a publish key; everything else is the default.
        defaults.publish_auth.keys = c.publish_auth.keys.clone();
        assert_eq!(c, defaults);
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let c = resolve(
            &["--segment-duration", "4"],
            "segment_duration = 3.0\nplaylist_window = 10\n",
        )
        .unwrap();
        assert_eq!(c.segment_duration, Duration::from_secs(4));
        assert_eq!(c.playlist_window, 10);
        assert_eq!(c.grace_period, Duration::from_secs(10));
    }

    #[test]
    fn the_environment_overrides_the_file() {
        // clap reads WEIR_* itself; a variable no other test sets.
        std::env::set_var("WEIR_SHUTDOWN_TIMEOUT", "2.5");
        let c = resolve(&[], "shutdown_timeout = 7.0\n").unwrap();
        std::env::remove_var("WEIR_SHUTDOWN_TIMEOUT");
        assert_eq!(c.shutdown_timeout, Duration::from_millis(2500));
        let c = resolve(&[], "shutdown_timeout = 7.0\n").unwrap();
        assert_eq!(c.shutdown_timeout, Duration::from_secs(7));
    }

    #[test]
    fn errors_name_the_key() {
        let e = resolve(&[], "segment_duration = 100.0\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`segment_duration` (configuration file): 100 is out of range (0.5..=60 seconds)"
        );
        let e = resolve(&[], "segmnet_duration = 1.0\n").unwrap_err();
        assert!(e.to_string().contains("segmnet_duration"), "{e}");
        let e = resolve(&[], "playlist_window = \"six\"\n").unwrap_err();
        assert!(e.to_string().contains("playlist_window"), "{e}");
        let e = resolve(&["--log-format", "xml"], "").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("`log_format` (flag or environment)"),
            "{e}"
        );
        let e = resolve(&[], "play_secret = \"short\"\n").unwrap_err();
        assert!(e.to_string().contains("play_secret"), "{e}");
        let e = resolve(&[], "publish_callback = \"ftp://x\"\n").unwrap_err();
        assert!(e.to_string().contains("publish_callback"), "{e}");
        let e = resolve(&[], "part_duration = 3.0\n").unwrap_err();
        assert!(e.to_string().contains("part_duration"), "{e}");
        assert!(matches!(
            read_file(Path::new("/nonexistent/weir.toml")),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn publish_keys_per_app() {
        let c = resolve(
            &[],
            "[publish_keys.live]\ncam1 = \"s3cret\"\n\"*\" = \"shared\"\n",
        )
        .unwrap();
        assert_eq!(c.publish_auth.keys["live"]["cam1"], "s3cret");
        assert_eq!(c.publish_auth.keys["live"]["*"], "shared");
        assert!(resolve(&[], "[publish_keys.live]\ncam1 = \"\"\n").is_err());
    }
}
