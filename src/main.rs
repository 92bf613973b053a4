//! Weir: RTMP in, CMAF segments out over HLS and DASH.

mod config;
mod http;
mod ingest;
mod output;
mod packaging;
mod registry;
mod stream;
mod web;

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use clap::Parser;
use tokio::net::TcpListener;
use tracing::info;
use tracing_subscriber::EnvFilter;

use crate::config::Cli;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log_format);
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
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weir: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let timeline = weir_flv::timeline::TimelineConfig {
        max_jump_ms: cli.max_timestamp_jump_ms,
    };
    let registry =
        registry::Registry::new(cli.grace(), cli.ended_retention(), timeline, cli.packager());
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

    let ingest = Arc::new(ingest::Ingest {
        registry: registry.clone(),
        limits: cli.limits(),
        capture_dir: cli.capture_dir.clone(),
    });
    tokio::spawn(ingest::serve(rtmp, ingest));
    let app = http::router(http::AppState { registry });
    tokio::select! {
        r = axum::serve(http, app) => r.map_err(|e| format!("HTTP server failed: {e}")),
        _ = shutdown_signal() => {
            info!("shutting down");
            Ok(())
        }
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
