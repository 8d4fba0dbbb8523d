//! What the two bench binaries share: the fake in a child process, the two sides (raw hyper
//! with a fixed token header, and the tower layer), and the load loops.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tableau_auth_hyper::bytes::Bytes;
use tableau_auth_hyper::http::header::{ACCEPT, HeaderValue};
use tableau_auth_hyper::http_body_util::{BodyExt as _, Full};
use tableau_auth_hyper::proto::{Credentials, SignIn, X_TABLEAU_AUTH};
use tableau_auth_hyper::{Client, HyperClient, TableauAuth, http};
use tableau_auth_tests::fake::{FakeConfig, FakeOptions, FakeServer, sample};
use tower::{Service, ServiceExt};

const CHILD: &str = "TABLEAU_AUTH_HYPER_BENCH_FAKE";

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// In the child process (re-executed by [`FakeChild::start`]): serves the fake and returns
/// `true`; the caller's `main` then ends.
pub fn child_mode() -> bool {
    if std::env::var_os(CHILD).is_some() {
        serve_fake();
        true
    } else {
        false
    }
}

/// Whether cargo runs this as a benchmark (`--bench`); otherwise a short smoke run.
pub fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The load benches' warm-up, round length and number of paired rounds: 2 s, 0.8 s and 15
/// under `--bench`, a short smoke run otherwise.
pub fn load_rounds() -> (Duration, Duration, usize) {
    if full_run() {
        (Duration::from_secs(2), Duration::from_millis(800), 15)
    } else {
        (Duration::from_millis(100), Duration::from_millis(200), 1)
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// `rounds` paired rounds of `a` and `b`, alternating which goes first, so that a pair sees
/// about the same background load on a shared machine: each side's results, round by round.
pub async fn paired<T, FA, FB>(
    rounds: usize,
    mut a: impl FnMut() -> FA,
    mut b: impl FnMut() -> FB,
) -> (Vec<T>, Vec<T>)
where
    FA: Future<Output = T>,
    FB: Future<Output = T>,
{
    let (mut ours, mut theirs) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for i in 0..rounds {
        if i % 2 == 0 {
            ours.push(a().await);
            theirs.push(b().await);
        } else {
            theirs.push(b().await);
            ours.push(a().await);
        }
    }
    (ours, theirs)
}

/// The smallest and the largest of paired rounds' ratios.
pub fn spread(ratios: &[f64]) -> (f64, f64) {
    (
        ratios.iter().copied().fold(f64::INFINITY, f64::min),
        ratios.iter().copied().fold(0.0, f64::max),
    )
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub fn password() -> SignIn {
    SignIn::new(
        Credentials::password(sample::USER_NAME, sample::USER_PASSWORD),
        "",
    )
}

pub fn builder(fake: &FakeChild) -> tableau_auth_hyper::ClientBuilder {
    Client::builder(fake.base_url.clone()).ca_pem(fake.ca_pem.clone())
}

pub enum Side {
    Raw(HyperClient, HeaderValue),
    Tower(TableauAuth<HyperClient>),
}

impl Side {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Raw(..) => "raw hyper",
            Self::Tower(_) => "tower layer",
        }
    }
}

#[derive(Clone)]
enum Worker {
    Raw(HyperClient, HeaderValue),
    Tower(TableauAuth<HyperClient>),
}

impl Worker {
    fn of(side: &Side) -> Self {
        match side {
            Side::Raw(c, t) => Self::Raw(c.clone(), t.clone()),
            Side::Tower(s) => Self::Tower(s.clone()),
        }
    }

    async fn one(&mut self, url: &http::Uri) -> Result<(), BoxError> {
        let request = http::Request::get(url.clone())
            .header(ACCEPT, "application/xml")
            .body(Full::new(Bytes::new()))?;
        let status = match self {
            Self::Raw(client, token) => {
                let mut request = request;
                request.headers_mut().insert(X_TABLEAU_AUTH, token.clone());
                let response = client.request(request).await?;
                let status = response.status();
                response.into_body().collect().await?;
                status
            }
            Self::Tower(service) => {
                let response = service.ready().await?.call(request).await?;
                let status = response.status();
                response.into_body().collect().await?;
                status
            }
        };
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}").into())
        }
    }
}

/// What one round measured.
#[derive(Clone, Copy)]
pub struct Rate {
    /// Requests per second.
    pub per_second: f64,
    /// CPU time of this (client) process per request, in microseconds.
    pub cpu_us: f64,
}

/// User + system CPU time of this process, all threads (Linux `/proc/self/stat`, 100 Hz ticks).
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of the whole line are the 12th and 13th after the name.
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Requests per second with `concurrency` tasks for `duration`, and client CPU per request.
pub async fn run(side: &Side, url: &http::Uri, concurrency: usize, duration: Duration) -> Rate {
    let done = Arc::new(AtomicU64::new(0));
    let cpu = cpu_time();
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let mut worker = Worker::of(side);
            let (url, done) = (url.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    worker.one(&url).await.expect("a successful request");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
    let requests = done.load(Ordering::Relaxed) as f64;
    Rate {
        per_second: requests / started.elapsed().as_secs_f64(),
        cpu_us: (cpu_time() - cpu).as_secs_f64() * 1e6 / requests,
    }
}

/// Sends `total` requests with `concurrency` tasks; returns how many were sent.
pub async fn run_count(side: &Side, url: &http::Uri, concurrency: usize, total: u64) -> u64 {
    let left = Arc::new(AtomicU64::new(total));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let mut worker = Worker::of(side);
            let (url, left) = (url.clone(), left.clone());
            tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    worker.one(&url).await.expect("a successful request");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
    total
}

// ---------------------------------------------------------------------------------------------
// The fake, in a child process

pub struct FakeChild {
    child: Child,
    pub base_url: String,
    pub ca_pem: Vec<u8>,
}

impl FakeChild {
    pub fn start() -> Self {
        let mut child = Command::new(std::env::current_exe().expect("this binary"))
            .env(CHILD, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the fake starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let base_url = lines.next().expect("a line").expect("the base URL");
        let ca_file = lines.next().expect("a line").expect("the CA file");
        let ca_pem = std::fs::read(ca_file).expect("the CA");
        Self {
            child,
            base_url,
            ca_pem,
        }
    }
}

impl Drop for FakeChild {
    fn drop(&mut self) {
        // Closing its stdin stops the child.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Child mode: serves the sample fake until stdin closes; clears its request log every
/// second so that a long run does not grow it without bound.
fn serve_fake() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let fake = runtime.block_on(async {
        let fake = FakeServer::start(FakeConfig::sample(), FakeOptions::default())
            .await
            .expect("the fake starts");
        let control = fake.control();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                control.clear_log();
            }
        });
        fake
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", fake.base_url()).expect("stdout");
    writeln!(out, "{}", fake.ca_file().expect("a CA file").display()).expect("stdout");
    out.flush().expect("stdout");
    drop(out);
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(fake);
    runtime.shutdown_background();
}
