//! A load tool, and an example of one session shared by many tasks.
//!
//! ```text
//! TABLEAU_PAT_NAME=etl TABLEAU_PAT_SECRET=… \
//!   cargo run --release -p tableau-auth-hyper --example load -- \
//!   --server https://tableau.example.com [--ca-file corp-ca.pem] [--site Finance] \
//!   --tasks 64 --requests 100 [--interval-ms 10] [--redis redis://127.0.0.1:6379]
//! ```
//!
//! N tasks share one client (one session, signed in once on first use with the PAT); each makes
//! M authorized `GET sessions/current` calls, `--interval-ms` apart. Prints one JSON object:
//! `{"ok": …, "failed": …, "sign_ins": …, "elapsed_ms": …}` (sign-ins *this process* made,
//! counted through the event callback). Exits with 1 when any call failed, 2 on bad arguments.
//!
//! With `--redis URL` (`redis://` or `rediss://`; built with `--features redis`), every process
//! started with the same URL, server, site and PAT shares one session: the first to need it
//! signs in and publishes it, the others adopt it. The JSON then also has `"adopted"` (sessions
//! this process took from the store) and `"store_round_trips"` (its Redis round trips).
//! `--lock-ttl-ms` sets the fleet's sign-in lock TTL (default 30 s).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tableau_auth_hyper::proto::{Credentials, SignIn};
use tableau_auth_hyper::{Client, Error, SessionEvent, http};

const USAGE: &str = "usage: load --server URL [--ca-file PEM] [--site SITE] --tasks N --requests M \
                     [--interval-ms MS] [--redis URL] [--lock-ttl-ms MS] \
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
    pub(crate) interval: Duration,
    pub(crate) redis: Option<String>,
    pub(crate) lock_ttl: Option<Duration>,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LoadReport {
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    pub(crate) sign_ins: u64,
    pub(crate) elapsed_ms: u64,
    /// With `--redis`: sessions adopted from the store, and the store's round trips.
    pub(crate) fleet: Option<(u64, u64)>,
}

impl LoadReport {
    pub(crate) fn to_json(self) -> String {
        let fleet = match self.fleet {
            Some((adopted, round_trips)) => {
                format!(r#", "adopted": {adopted}, "store_round_trips": {round_trips}"#)
            }
            None => String::new(),
        };
        format!(
            r#"{{"ok": {}, "failed": {}, "sign_ins": {}, "elapsed_ms": {}{fleet}}}"#,
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
    let (mut interval, mut redis, mut lock_ttl) = (Duration::ZERO, None, None);
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
            "--interval-ms" => {
                let text = value()?;
                let ms = text
                    .parse::<u64>()
                    .map_err(|_| format!("--interval-ms wants milliseconds, not {text:?}"))?;
                interval = Duration::from_millis(ms);
            }
            "--redis" => redis = Some(value()?),
            "--lock-ttl-ms" => {
                lock_ttl = Some(Duration::from_millis(count(value()?)? as u64));
            }
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
        interval,
        redis,
        lock_ttl,
    })
}

/// Runs the load: `tasks` tasks share one client, each makes `requests` calls.
pub(crate) async fn run(args: LoadArgs) -> Result<LoadReport, Error> {
    let sign_ins = Arc::new(AtomicU64::new(0));
    let adopted = Arc::new(AtomicU64::new(0));
    let (counter, adoptions) = (sign_ins.clone(), adopted.clone());
    let credentials = Credentials::personal_access_token(args.pat_name, args.pat_secret);
    let mut builder = Client::builder(args.server)
        .sign_in(SignIn::new(credentials, &args.site))
        .on_event(move |event| match event {
            SessionEvent::SignedIn { .. } | SessionEvent::Renewed { .. } => {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            SessionEvent::Adopted { .. } => {
                adoptions.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        });
    let store = match &args.redis {
        Some(url) => Some(fleet::store(url)?),
        None => None,
    };
    #[cfg(feature = "redis")]
    if let Some(store) = &store {
        let mut config = tableau_auth_hyper::proto::FleetConfig::new();
        if let Some(ttl) = args.lock_ttl {
            config = config.lock_ttl(ttl);
        }
        builder = builder.session_store(store.clone(), config);
    }
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
            let (requests, interval) = (args.requests as u64, args.interval);
            tokio::spawn(async move {
                for done in 0..requests {
                    if done > 0 && !interval.is_zero() {
                        tokio::time::sleep(interval).await;
                    }
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
        fleet: store
            .as_ref()
            .map(|s| (adopted.load(Ordering::Relaxed), fleet::round_trips(s))),
    })
}

/// The session store, when the example is built with the `redis` feature.
#[cfg(feature = "redis")]
mod fleet {
    use tableau_auth_hyper::Error;
    pub(crate) use tableau_auth_redis::RedisStore as Store;

    pub(crate) fn store(url: &str) -> Result<Store, Error> {
        Store::open(url).map_err(|e| Error::Config(format!("--redis: {e}")))
    }

    pub(crate) fn round_trips(store: &Store) -> u64 {
        store.round_trips()
    }
}

#[cfg(not(feature = "redis"))]
mod fleet {
    use tableau_auth_hyper::Error;
    pub(crate) type Store = std::convert::Infallible;

    pub(crate) fn store(_url: &str) -> Result<Store, Error> {
        Err(Error::Config(
            "--redis needs the example built with --features redis".to_owned(),
        ))
    }

    pub(crate) fn round_trips(store: &Store) -> u64 {
        match *store {}
    }
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
