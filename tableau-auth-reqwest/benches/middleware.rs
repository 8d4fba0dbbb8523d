//! Requests per second through the middleware against the same reqwest client sending the same
//! requests with a fixed `X-Tableau-Auth` header, at concurrency 64 and 512, side by side.
//!
//! ```text
//! cargo bench -p tableau-auth-reqwest --bench middleware
//! ```
//!
//! The fake runs in a child process (this binary, re-executed; the helpers are
//! tableau-auth-hyper's bench helpers), TLS on loopback. Rounds are paired (fixed header and
//! middleware back to back, alternating which goes first) and medians reported: the machine is
//! shared. Without `--bench` (as under `cargo test --benches`) it runs a fraction of a second.

#[path = "../../tableau-auth-hyper/benches/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{FakeChild, child_mode, load_rounds, median, paired, password, runtime, spread};
use tableau_auth_reqwest::reqwest::{self, Certificate};
use tableau_auth_reqwest::reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tableau_auth_reqwest::{Client, TableauAuthMiddleware, use_ring};

#[derive(Clone)]
enum Side {
    Fixed(reqwest::Client, String),
    Middleware(ClientWithMiddleware),
}

impl Side {
    async fn one(&self, url: &str) {
        let response = match self {
            Self::Fixed(client, token) => client
                .get(url)
                .header("x-tableau-auth", token)
                .send()
                .await
                .expect("a call"),
            Self::Middleware(client) => client.get(url).send().await.expect("a call"),
        };
        assert!(response.status().is_success());
        response.bytes().await.expect("a body");
    }
}

/// Requests per second with `concurrency` tasks for `duration`.
async fn run(side: &Side, url: &str, concurrency: usize, duration: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (side, url, done) = (side.clone(), url.to_owned(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    side.one(&url).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    if child_mode() {
        return;
    }
    let (warm_up, round, rounds) = load_rounds();
    let fake = FakeChild::start();
    use_ring();
    runtime().block_on(async {
        let http = reqwest::Client::builder()
            .tls_certs_only([Certificate::from_pem(&fake.ca_pem).expect("the CA")])
            .build()
            .expect("a reqwest client");
        let middleware = TableauAuthMiddleware::new(
            Client::builder(fake.base_url.clone()).sign_in(password()),
            http.clone(),
        )
        .expect("middleware");
        let session = middleware.client().clone();
        let current = session.current_or_sign_in().await.expect("sign-in");
        let url = current.api_url("sessions/current").expect("URL").to_string();
        let token = current
            .header_value()
            .to_str()
            .expect("an ASCII token")
            .to_owned();
        let fixed = Side::Fixed(http.clone(), token);
        let layered = Side::Middleware(ClientBuilder::new(http).with(middleware).build());
        println!("\n## reqwest: GET sessions/current over TLS (loopback), fake server in a child process, 2 cores\n");
        println!("| concurrency | fixed header req/s | middleware req/s | middleware / fixed (min..max) |");
        println!("| ---: | ---: | ---: | ---: |");
        for concurrency in [64, 512] {
            run(&fixed, &url, concurrency, warm_up).await;
            run(&layered, &url, concurrency, warm_up).await;
            let (fixeds, middlewares) = paired(
                rounds,
                || run(&fixed, &url, concurrency, round),
                || run(&layered, &url, concurrency, round),
            )
            .await;
            let ratios: Vec<f64> = fixeds.iter().zip(&middlewares).map(|(f, m)| m / f).collect();
            let (lo, hi) = spread(&ratios);
            println!(
                "| {concurrency} | {:.0} | {:.0} | {:.3} ({lo:.2}..{hi:.2}) |",
                median(fixeds),
                median(middlewares),
                median(ratios)
            );
        }
    });
    drop(fake);
}
