//! A load tool, and an example of one session shared by many tasks.
//!
//! ```text
//! TABLEAU_PAT_NAME=etl TABLEAU_PAT_SECRET=… \
//!   cargo run --release -p tableau-auth-hyper --example load -- \
//!   --server https://tableau.example.com [--ca-file corp-ca.pem] [--site Finance] \
//!   --tasks 64 --requests 100
//! ```
//!
//! N tasks share one client (one session, signed in once on first use with the PAT); each makes
//! M authorized `GET sessions/current` calls. Prints one JSON object:
//! `{"ok": …, "failed": …, "sign_ins": …, "elapsed_ms": …}` (sign-ins counted through the event
//! callback). Exits with 1 when any call failed, 2 on bad arguments.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tableau_auth_hyper::proto::{Credentials, SignIn};
use tableau_auth_hyper::{Client, Error, SessionEvent, http};

const USAGE: &str = "usage: load --server URL [--ca-file PEM] [--site SITE] --tasks N --requests M \
                     (PAT in TABLEAU_PAT_NAME and TABLEAU_PAT_SECRET)";

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadArgs {
    pub(crate) server: String,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) site: String,
    pub(crate) tasks: usize,
    pub(crate) requests: usize,
    pub(crate) pat_name: String,
    pub(crate) pat_secret: String,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LoadReport {
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    pub(crate) sign_ins: u64,
    pub(crate) elapsed_ms: u64,
}

impl LoadReport {
    pub(crate) fn to_json(self) -> String {
        format!(
            r#"{{"ok": {}, "failed": {}, "sign_ins": {}, "elapsed_ms": {}}}"#,
            self.ok, self.failed, self.sign_ins, self.elapsed_ms
        )
    }
}

/// Reads the arguments (without the program name) and the PAT from `env`.
pub(crate) fn parse_args(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<LoadArgs, String> {
    let (mut server, mut ca_file, mut site, mut tasks, mut requests) =
        (None, None, String::new(), None, None);
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let count = |text: String| {
            text.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{flag} wants a positive number, not {text:?}"))
        };
        match flag.as_str() {
            "--server" => server = Some(value()?),
            "--ca-file" => ca_file = Some(PathBuf::from(value()?)),
            "--site" => site = value()?,
            "--tasks" => tasks = Some(count(value()?)?),
            "--requests" => requests = Some(count(value()?)?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    let need = |v: Option<String>, what: &str| v.ok_or_else(|| format!("missing {what}; {USAGE}"));
    Ok(LoadArgs {
        server: need(server, "--server")?,
        ca_file,
        site,
        tasks: tasks.ok_or_else(|| format!("missing --tasks; {USAGE}"))?,
        requests: requests.ok_or_else(|| format!("missing --requests; {USAGE}"))?,
        pat_name: need(env("TABLEAU_PAT_NAME"), "TABLEAU_PAT_NAME")?,
        pat_secret: need(env("TABLEAU_PAT_SECRET"), "TABLEAU_PAT_SECRET")?,
    })
}

/// Runs the load: `tasks` tasks share one client, each makes `requests` calls.
pub(crate) async fn run(args: LoadArgs) -> Result<LoadReport, Error> {
    let sign_ins = Arc::new(AtomicU64::new(0));
    let counter = sign_ins.clone();
    let credentials = Credentials::personal_access_token(args.pat_name, args.pat_secret);
    let mut builder = Client::builder(args.server)
        .sign_in(SignIn::new(credentials, &args.site))
        .on_event(move |event| {
            if matches!(
                event,
                SessionEvent::SignedIn { .. } | SessionEvent::Renewed { .. }
            ) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
    if let Some(path) = &args.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        builder = builder.ca_pem(pem);
    }
    let client = builder.build()?;
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.tasks)
        .map(|_| {
            let (client, ok, failed) = (client.clone(), ok.clone(), failed.clone());
            let requests = args.requests as u64;
            tokio::spawn(async move {
                for done in 0..requests {
                    let call = async {
                        let url = client
                            .current_or_sign_in()
                            .await?
                            .api_url("sessions/current")?;
                        let request = http::Request::get(url)
                            .body(Vec::new())
                            .map_err(|e| Error::Config(e.to_string()))?;
                        client.send(request).await
                    };
                    match call.await {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            eprintln!("call failed: {e}");
                            failed.fetch_add(1, Ordering::Relaxed);
                            if !client.is_signed_in() {
                                // Without a session the rest would fail the same way.
                                failed.fetch_add(requests - done - 1, Ordering::Relaxed);
                                break;
                            }
                            0
                        }
                    };
                }
            })
        })
        .collect();
    for task in tasks {
        if task.await.is_err() {
            failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(LoadReport {
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        sign_ins: sign_ins.load(Ordering::Relaxed),
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

#[tokio::main]
async fn main() {
    let args = match parse_args(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    match run(args).await {
        Ok(report) => {
            println!("{}", report.to_json());
            if report.failed > 0 {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
