//! `fake-tableau`: runs the fake Tableau Server until killed.
//!
//! Prints exactly one JSON line on stdout once ready, e.g.
//! `{"base_url":"https://127.0.0.1:PORT","ca_file":"/tmp/...pem","http_redirect_url":"http://127.0.0.1:PORT2"}`
//! (`ca_file` only with `--tls`, `http_redirect_url` only with `--redirect-port`).
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tableau_auth_fake::{FakeConfig, FakeOptions, FakeServer};

/// A fake Tableau Server on 127.0.0.1 for end-to-end tests.
#[derive(Debug, Parser)]
#[command(name = "fake-tableau", version)]
struct Args {
    /// Port of the main listener (0 = pick a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Serve HTTPS with a certificate from a CA generated at start (its PEM path is printed).
    #[arg(long)]
    tls: bool,
    /// JSON configuration file (default: the built-in sample configuration).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Also open a plain-HTTP listener that redirects everything to the main one
    /// (0 = pick a free port).
    #[arg(long, value_name = "N")]
    redirect_port: Option<u16>,
    /// Redirect status of the redirect listener (301, 302, 303, 307, 308).
    #[arg(long, default_value_t = 301)]
    redirect_status: u16,
    /// Be the sample Tableau Cloud (REST API 3.27, unified access tokens verified against the
    /// sample UAT configuration) instead of the sample Tableau Server; with
    /// --print-sample-config, print that configuration.
    #[arg(long, conflicts_with = "config")]
    cloud: bool,
    /// With --tls: ask clients for a certificate issued by the CA in this PEM file (mutual TLS).
    #[arg(long, value_name = "PEM", requires = "tls")]
    client_ca: Option<PathBuf>,
    /// Print the sample configuration as JSON and exit.
    #[arg(long)]
    print_sample_config: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-tableau: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let sample = if args.cloud {
        FakeConfig::sample_cloud()
    } else {
        FakeConfig::sample()
    };
    if args.print_sample_config {
        println!("{}", serde_json::to_string_pretty(&sample)?);
        return Ok(());
    }
    let config = match &args.config {
        Some(path) => serde_json::from_str(&std::fs::read_to_string(path)?)?,
        None => sample,
    };
    let mut options = FakeOptions::builder()
        .tls(args.tls)
        .redirect_listener(args.redirect_port.is_some())
        .redirect_status(args.redirect_status)
        .port(args.port)
        .redirect_port(args.redirect_port.unwrap_or(0));
    if let Some(path) = &args.client_ca {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read --client-ca {}: {e}", path.display()))?;
        options = options.client_ca(pem);
    }
    let options = options.build();
    let server = FakeServer::start(config, options).await?;
    let mut ready = serde_json::Map::new();
    ready.insert("base_url".into(), server.base_url().into());
    if let Some(ca) = server.ca_file() {
        ready.insert("ca_file".into(), ca.display().to_string().into());
    }
    if let Some(url) = server.http_redirect_url() {
        ready.insert("http_redirect_url".into(), url.into());
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", serde_json::Value::Object(ready))?;
    stdout.flush()?;
    drop(stdout);
    wait_for_signal().await;
    server.shutdown();
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
