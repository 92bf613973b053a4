//! Command-line configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// RTMP in, HLS and DASH out.
#[derive(Parser, Debug, Clone)]
#[command(name = "weir", version, about)]
pub struct Cli {
    /// Address the RTMP listener binds (publishers connect here).
    #[arg(long, env = "WEIR_RTMP_LISTEN", default_value = "0.0.0.0:1935")]
    pub rtmp_listen: SocketAddr,

    /// Address the HTTP server binds (playlists, segments, API, player).
    #[arg(long, env = "WEIR_HTTP_LISTEN", default_value = "0.0.0.0:8080")]
    pub http_listen: SocketAddr,

    /// Seconds a stream whose publisher left stays listed and can be resumed
    /// by a reconnect of the same key.
    #[arg(long, env = "WEIR_GRACE_PERIOD", default_value_t = 10.0, value_parser = parse_secs)]
    pub grace_period: f64,

    /// Seconds an ended stream's last playlists, MPD and segments stay
    /// fetchable after the grace period (players finishing the window),
    /// before they answer 404 and the memory is freed.
    #[arg(long, env = "WEIR_ENDED_RETENTION", default_value_t = 60.0, value_parser = parse_secs)]
    pub ended_retention: f64,

    /// Seconds a new RTMP connection has to finish its handshake.
    #[arg(long, env = "WEIR_HANDSHAKE_TIMEOUT", default_value_t = 10.0, value_parser = parse_secs)]
    pub handshake_timeout: f64,

    /// Seconds of silence after which an RTMP connection is closed.
    #[arg(long, env = "WEIR_IDLE_TIMEOUT", default_value_t = 30.0, value_parser = parse_secs)]
    pub idle_timeout: f64,

    /// Concurrent RTMP connections accepted; more are closed at once.
    #[arg(long, env = "WEIR_MAX_CONNECTIONS", default_value_t = 1000)]
    pub max_connections: usize,

    /// Largest RTMP message accepted, in bytes.
    #[arg(long, env = "WEIR_MAX_MESSAGE_SIZE", default_value_t = 8 << 20)]
    pub max_message_size: u32,

    /// Timestamp steps larger than this (ms) are rebased as discontinuities.
    #[arg(long, env = "WEIR_MAX_TIMESTAMP_JUMP_MS", default_value_t = 5_000)]
    pub max_timestamp_jump_ms: u64,

    /// Target segment duration in seconds (segments start on key frames, so a
    /// longer GOP makes longer segments).
    #[arg(long, env = "WEIR_SEGMENT_DURATION", default_value_t = 2.0, value_parser = parse_secs)]
    pub segment_duration: f64,

    /// Segments listed in each live media playlist.
    #[arg(long, env = "WEIR_PLAYLIST_WINDOW", default_value_t = 6)]
    pub playlist_window: usize,

    /// DASH: drift (ms) between the publisher's media clock and the wall
    /// clock past which the MPD re-anchors with a new Period.
    #[arg(long, env = "WEIR_DASH_DRIFT_THRESHOLD_MS", default_value_t = 500)]
    pub dash_drift_threshold_ms: u64,

    /// Log format: "text" or "json".
    #[arg(long, env = "WEIR_LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    /// Developer aid: write every byte each RTMP client sends to DIR/<conn>.rtmp.
    #[arg(long, hide = true)]
    pub capture_dir: Option<PathBuf>,
}

fn parse_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|e| format!("{s:?} is not a number: {e}"))?;
    if !(0.0..=86_400.0).contains(&v) || !v.is_finite() {
        return Err(format!("{v} is out of range (0..=86400 seconds)"));
    }
    Ok(v)
}

impl Cli {
    pub fn grace(&self) -> Duration {
        Duration::from_secs_f64(self.grace_period)
    }

    pub fn ended_retention(&self) -> Duration {
        Duration::from_secs_f64(self.ended_retention)
    }

    pub fn packager(&self) -> weir_packager::stream::PackagerConfig {
        weir_packager::stream::PackagerConfig {
            target_duration: Duration::from_secs_f64(self.segment_duration.max(0.5)),
            window: self.playlist_window.max(3),
            drift_threshold: Duration::from_millis(self.dash_drift_threshold_ms.max(50)),
            ..Default::default()
        }
    }

    pub fn limits(&self) -> weir_rtmp::Limits {
        weir_rtmp::Limits {
            max_message_size: self.max_message_size,
            handshake_timeout: Duration::from_secs_f64(self.handshake_timeout),
            idle_timeout: Duration::from_secs_f64(self.idle_timeout),
            max_connections: self.max_connections,
            ..weir_rtmp::Limits::default()
        }
    }
}
