//! An async service in which many tasks share one Tableau session through the tower layer.
//!
//! ```text
//! TABLEAU_PAT_NAME=etl TABLEAU_PAT_SECRET=… \
//!   cargo run -p tableau-auth-hyper --features tower --example tower_service -- \
//!   --server https://tableau.example.com [--site Finance] [--ca-file corp-ca.pem] \
//!   [--tasks 16] [--requests 4]
//! cargo run -p tableau-auth-hyper --features tower --example tower_service   # demo
//! ```
//!
//! The stack is `TableauAuthLayer` around the client's own pooled hyper client: every request
//! that goes through it gets `X-Tableau-Auth` (marked sensitive), a request for another server
//! is refused, and when the server ends the session (`401002`) the layer signs in again *once*
//! for all the tasks that saw it and replays each of their requests once. Each task clones the
//! service (cheap: the session is shared, not copied) and alternates `GET sessions/current` and
//! `GET sites/{site}/workbooks`, reading bodies with a size limit.
//!
//! The server and site may also come from `TABLEAU_SERVER` and `TABLEAU_SITE`; the PAT comes
//! only from the environment. Without a server (or with `--demo`) the fake Tableau server of
//! `tableau-auth-tests` runs on 127.0.0.1; the demo then ends the session behind the service's
//! back and runs again, to show the single re-sign-in. Prints one line per run; exits with 1
//! when a call failed, 2 on bad arguments.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tableau_auth_hyper::bytes::Bytes;
use tableau_auth_hyper::http::{self, header::ACCEPT};
use tableau_auth_hyper::http_body_util::{BodyExt as _, Full, Limited};
use tableau_auth_hyper::proto::{Credentials, SignIn};
use tableau_auth_hyper::tower::{Layer as _, Service as _, ServiceExt as _};
use tableau_auth_hyper::{Client, HyperClient, SessionEvent, TableauAuth, TableauAuthLayer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "usage: tower_service [--server URL] [--site SITE] [--ca-file PEM] \
                     [--tasks N] [--requests M] [--demo] (PAT in TABLEAU_PAT_NAME and \
                     TABLEAU_PAT_SECRET; server and site also in TABLEAU_SERVER and TABLEAU_SITE)";

/// The largest response body a task reads.
const MAX_BODY: usize = 1024 * 1024;

/// Where and as whom to sign in, and how much to do.
pub(crate) struct Settings {
    pub(crate) server: String,
    pub(crate) ca_pem: Option<Vec<u8>>,
    /// The site's contentUrl (`""`: the Default site).
    pub(crate) site: String,
    pub(crate) credentials: Credentials,
    pub(crate) tasks: usize,
    pub(crate) requests: usize,
}

/// What the command line asks for.
pub(crate) enum Mode {
    /// A real server.
    Server(Box<Settings>),
    /// The in-process fake (`--demo`, or no server given), with these task counts.
    Demo { tasks: usize, requests: usize },
}

/// What one run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Report {
    /// Calls answered with 2xx.
    pub(crate) ok: u64,
    /// Calls that failed (an error, or a non-2xx status).
    pub(crate) failed: u64,
    /// Sign-ins so far (the first one and every renewal), over the client's life.
    pub(crate) sign_ins: u64,
    /// Workbooks seen in all the workbook listings.
    pub(crate) workbooks_seen: u64,
}

/// The service the tasks share: the client's hyper client under the layer.
pub(crate) type Tableau = TableauAuth<HyperClient>;

/// Reads the arguments (without the program name) and the environment.
pub(crate) fn parse_args(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Mode, String> {
    let (mut server, mut site, mut ca_file, mut demo) =
        (env("TABLEAU_SERVER"), env("TABLEAU_SITE"), None, false);
    let (mut tasks, mut requests) = (16, 4);
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
            "--site" => site = Some(value()?),
            "--ca-file" => ca_file = Some(PathBuf::from(value()?)),
            "--tasks" => tasks = count(value()?)?,
            "--requests" => requests = count(value()?)?,
            "--demo" => demo = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    let Some(server) = server.filter(|_| !demo) else {
        return Ok(Mode::Demo { tasks, requests });
    };
    let need = |name: &str| env(name).ok_or_else(|| format!("set {name}; {USAGE}"));
    let credentials =
        Credentials::personal_access_token(need("TABLEAU_PAT_NAME")?, need("TABLEAU_PAT_SECRET")?);
    let ca_pem = match ca_file {
        Some(path) => {
            Some(std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?)
        }
        None => None,
    };
    Ok(Mode::Server(Box::new(Settings {
        server,
        ca_pem,
        site: site.unwrap_or_default(),
        credentials,
        tasks,
        requests,
    })))
}

/// The client (it signs in on first use, once for all tasks) and a counter of its sign-ins.
pub(crate) fn client(settings: &Settings) -> Result<(Client, Arc<AtomicU64>), BoxError> {
    let sign_ins = Arc::new(AtomicU64::new(0));
    let counter = sign_ins.clone();
    let sign_in = SignIn::new(settings.credentials.clone(), &settings.site);
    let mut builder = Client::builder(settings.server.as_str())
        .sign_in(sign_in)
        .max_body(MAX_BODY)
        .on_event(move |event| {
            if matches!(
                event,
                SessionEvent::SignedIn { .. } | SessionEvent::Renewed { .. }
            ) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
    if let Some(pem) = &settings.ca_pem {
        // Added to the built-in roots.
        builder = builder.ca_pem(pem.clone());
    }
    Ok((builder.build()?, sign_ins))
}

/// `tasks` tasks share one layered service; each makes `requests` calls.
pub(crate) async fn run(
    client: &Client,
    sign_ins: &AtomicU64,
    tasks: usize,
    requests: usize,
) -> Result<Report, BoxError> {
    // The site's LUID (for site-scoped URLs) comes from the sign-in: sign in (once, or reuse
    // the current session) before building URLs.
    let session = client.current_or_sign_in().await?;
    let current = session.api_url("sessions/current")?;
    let workbooks = session.site_url("workbooks?pageSize=100")?;
    let service: Tableau = TableauAuthLayer::new(client).layer(client.hyper_client());

    let (ok, failed, seen) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let mut service = service.clone();
            let (current, workbooks) = (current.clone(), workbooks.clone());
            let (ok, failed, seen) = (ok.clone(), failed.clone(), seen.clone());
            tokio::spawn(async move {
                for call in 0..requests {
                    let uri = if (task + call) % 2 == 0 {
                        &current
                    } else {
                        &workbooks
                    };
                    match get_json(&mut service, uri).await {
                        Ok(json) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            let listed = json
                                .pointer("/workbooks/workbook")
                                .and_then(Value::as_array)
                                .map_or(0, Vec::len);
                            seen.fetch_add(listed as u64, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("task {task}: {e}");
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        if handle.await.is_err() {
            failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(Report {
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        sign_ins: sign_ins.load(Ordering::Relaxed),
        workbooks_seen: seen.load(Ordering::Relaxed),
    })
}

/// One `GET` through the service, its body read (bounded) and parsed as JSON.
async fn get_json(service: &mut Tableau, uri: &http::Uri) -> Result<Value, BoxError> {
    let request = http::Request::get(uri.clone())
        .header(ACCEPT, "application/json")
        .body(Full::new(Bytes::new()))?;
    let response = service.ready().await?.call(request).await?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await?
        .to_bytes();
    if !status.is_success() {
        // A 401 the layer could not cure comes back with Tableau's error document.
        return Err(format!("{uri}: {status}").into());
    }
    Ok(serde_json::from_slice(&body)?)
}

fn print(label: &str, report: &Report) {
    println!(
        "{label}: {} ok, {} failed, {} workbooks listed, {} sign-in(s) so far",
        report.ok, report.failed, report.workbooks_seen, report.sign_ins
    );
}

#[tokio::main]
async fn main() {
    let mode = match parse_args(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(mode) => mode,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let result = match mode {
        Mode::Server(settings) => real(&settings).await,
        Mode::Demo { tasks, requests } => demo::run(tasks, requests).await,
    };
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("failed: {e}");
            std::process::exit(2);
        }
    }
}

/// One run against a real server; `Ok(false)` when a call failed.
async fn real(settings: &Settings) -> Result<bool, BoxError> {
    let (client, sign_ins) = client(settings)?;
    let report = run(&client, &sign_ins, settings.tasks, settings.requests).await;
    // Sign out whatever happened: a PAT has one session, do not leave it open.
    let signed_out = client.sign_out().await;
    let report = report?;
    print(&format!("{} tasks", settings.tasks), &report);
    println!("signed out: {:?}", signed_out?);
    Ok(report.failed == 0)
}

/// The demo against the fake Tableau server, on this runtime.
pub(crate) mod demo {
    use std::sync::atomic::Ordering;

    use tableau_auth_hyper::proto::Credentials;
    use tableau_auth_tests::fake::{FakeConfig, FakeOptions, FakeServer, sample};

    use super::{BoxError, Settings};

    /// Settings for `fake`'s sample PAT on its Default site.
    pub(crate) fn settings(fake: &FakeServer, tasks: usize, requests: usize) -> Settings {
        Settings {
            server: fake.base_url().to_owned(),
            ca_pem: fake.ca_pem().map(|pem| pem.as_bytes().to_vec()),
            site: String::new(),
            credentials: Credentials::personal_access_token(
                sample::USER_PAT_NAME,
                sample::USER_PAT_SECRET,
            ),
            tasks,
            requests,
        }
    }

    /// Two runs with the session ended by the server in between.
    pub(crate) async fn run(tasks: usize, requests: usize) -> Result<bool, BoxError> {
        let fake = FakeServer::start(FakeConfig::sample(), FakeOptions::default()).await?;
        println!("(demo: fake Tableau server at {})", fake.base_url());
        let settings = settings(&fake, tasks, requests);
        let (client, sign_ins) = super::client(&settings)?;
        let first = super::run(&client, &sign_ins, tasks, requests).await?;
        super::print(&format!("{tasks} tasks"), &first);
        let dropped = fake.control().drop_sessions(None);
        println!("(the server ended {dropped} session(s) behind the service's back)");
        let second = super::run(&client, &sign_ins, tasks, requests).await?;
        super::print(&format!("{tasks} tasks again"), &second);
        println!(
            "sign-ins in all: {} (the first, and one shared by the {tasks} tasks that found the \
             session gone)",
            sign_ins.load(Ordering::Relaxed)
        );
        println!("signed out: {:?}", client.sign_out().await?);
        Ok(first.failed + second.failed == 0)
    }
}
