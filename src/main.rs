//! Weir: RTMP in, CMAF segments out over HLS and DASH.

mod auth;
mod config;
mod http;
mod ingest;
mod registry;
mod stream;
mod telemetry;

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

fn main() -> std::process::ExitCode {
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("weir: invalid configuration: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some((stream, ttl)) = &config.print_play_token {
        return print_play_token(&config, stream, *ttl);
    }
    init_tracing(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("weir: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weir: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `--print-play-token APP/KEY`: a token for the stream's play URLs.
fn print_play_token(config: &Config, stream: &str, ttl: Duration) -> std::process::ExitCode {
    let Some(secret) = &config.play_secret else {
        eprintln!("weir: --print-play-token needs play_secret to be configured");
        return std::process::ExitCode::from(2);
    };
    let Some((app, key)) = stream.split_once('/') else {
        eprintln!("weir: --print-play-token takes APP/KEY, e.g. live/cam1");
        return std::process::ExitCode::from(2);
    };
    let expiry = std::time::SystemTime::now() + ttl;
    println!("{}", auth::PlayTokens::new(secret).sign(app, key, expiry));
    std::process::ExitCode::SUCCESS
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if format == LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(cli: Config) -> Result<(), String> {
    let registry = registry::Registry::new(stream_settings(&cli));
    let metrics = Arc::new(telemetry::Metrics::new());
    let timers = tokio::spawn(registry.clone().run_timers());
    let rtmp = TcpListener::bind(cli.rtmp_listen)
        .await
        .map_err(|e| format!("cannot listen for RTMP on {}: {e}", cli.rtmp_listen))?;
    let http = TcpListener::bind(cli.http_listen)
        .await
        .map_err(|e| format!("cannot listen for HTTP on {}: {e}", cli.http_listen))?;
    let rtmp_addr = rtmp.local_addr().map_err(|e| e.to_string())?;
    let http_addr = http.local_addr().map_err(|e| e.to_string())?;
    // One machine-readable line so scripts and tests can use port 0.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "weir listening rtmp={rtmp_addr} http={http_addr}");
    let _ = out.flush();
    drop(out);
    info!(%rtmp_addr, %http_addr, "weir listening");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ingest = Arc::new(ingest::Ingest {
        registry: registry.clone(),
        metrics: metrics.clone(),
        limits: cli.limits(),
        capture_dir: cli.capture_dir.clone(),
        authorizer: auth::PublishAuthorizer::new(cli.apps.clone(), cli.publish_auth.clone()),
        max_streams: cli.max_streams,
        shutdown: stop_rx.clone(),
    });
    let rtmp_task = tokio::spawn(ingest::serve(rtmp, ingest));
    let (ticker, ticking) = http::Ticker::start();
    let app = http::router(http::AppState {
        registry: registry.clone(),
        metrics,
        play_tokens: cli.play_secret.as_deref().map(auth::PlayTokens::new),
        cors_origins: cli.cors_origins.clone(),
        ticker,
    });
    let (http_stop_tx, mut http_stop) = tokio::sync::watch::channel(false);
    let server = axum::serve(http, app).with_graceful_shutdown(async move {
        let _ = http_stop.wait_for(|stop| *stop).await;
    });
    let server = tokio::spawn(async move { server.await });

    shutdown_signal().await;
    // Graceful shutdown: no new publishers; every publisher is asked to
    // reconnect (ERTMP-08) and its stream ended (ENDLIST, DASH end of live);
    // HTTP keeps answering briefly so players and caches see the ends, then
    // stops accepting and drains within the timeout.
    info!("shutting down");
    let deadline = Instant::now() + cli.shutdown_timeout;
    rtmp_task.abort();
    let _ = stop_tx.send(true);
    // Publishers were asked to leave: give them a moment, then end everything.
    let ends = registry.end_all(Duration::from_secs(5));
    let linger = Duration::from_secs(1).min(cli.shutdown_timeout);
    let drained = tokio::time::timeout_at(deadline.into(), async {
        ends.await;
        tokio::time::sleep(linger).await;
    })
    .await;
    if drained.is_err() {
        warn!("streams did not all end within the shutdown timeout");
    }
    // Only now stop accepting HTTP; the server ends after its in-flight
    // requests.
    let _ = http_stop_tx.send(true);
    timers.abort();
    // The ticker outlives the requests it bounds.
    let served = tokio::time::timeout_at(deadline.into(), server).await;
    ticking.abort();
    match served {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(format!("HTTP server failed: {e}")),
        Ok(Err(e)) => Err(format!("HTTP server task failed: {e}")),
        Err(_) => {
            warn!("HTTP requests still in flight at the shutdown timeout; exiting");
            Ok(())
        }
    }
}

/// What every stream is made with: timeline, packaging, lifecycle.
fn stream_settings(cli: &Config) -> stream::Settings {
    stream::Settings {
        timeline: weir_flv::timeline::TimelineConfig {
            max_jump_ms: cli.max_timestamp_jump_ms,
        },
        packager: cli.packager(),
        lifecycle: stream::lifecycle::Policy {
            grace: cli.grace_period,
            retention: cli.ended_retention,
            end_on_unpublish: cli.end_on_unpublish,
        },
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
