//! Requests per second through the tower layer against the fake server (TLS, loopback), side by
//! side in one run with raw hyper (the same pooled hyper-util client) sending the same requests
//! with a fixed `X-Tableau-Auth` header, at concurrency 64 and 512, with the client process's CPU
//! time per request.
//!
//! ```text
//! cargo bench -p tableau-auth-hyper --features tower --bench throughput
//! ```
//!
//! The fake runs in a child process (this same binary, re-executed), so that the client's CPU
//! time is its own. The machine may be shared: rounds are paired (raw and tower back to back,
//! alternating which goes first) and the medians are reported. Without `--bench` (as under
//! `cargo test --benches`) it runs a fraction of a second per case, as a smoke test. The memory
//! figures are in the `memory` bench, whose counting allocator would slow this one down.

mod common;

use std::task::{Context, Poll};
use std::time::Instant;

use common::*;
use tableau_auth_hyper::bytes::Bytes;
use tableau_auth_hyper::http::header::{ACCEPT, HeaderValue};
use tableau_auth_hyper::http_body_util::Full;
use tableau_auth_hyper::proto::X_TABLEAU_AUTH;
use tableau_auth_hyper::{Client, TableauAuth, TableauAuthLayer, http};
use tower::{Layer, Service, ServiceExt};

fn main() {
    if child_mode() {
        return;
    }
    let (warm_up, round, rounds) = load_rounds();
    let fake = FakeChild::start();
    runtime().block_on(async {
        let client = builder(&fake)
            .sign_in(password())
            .build()
            .expect("client");
        let current = client.current_or_sign_in().await.expect("sign-in");
        let url = current.api_url("sessions/current").expect("URL");
        let token = current.header_value().clone();
        let hyper = client.hyper_client();
        let layered = TableauAuthLayer::new(&client).layer(hyper.clone());

        println!(
            "\n## throughput: GET sessions/current over TLS (loopback), fake server in a child process, 2 cores\n"
        );
        println!(
            "| concurrency | raw hyper req/s | tower layer req/s | tower / raw req/s (min..max) | raw client CPU µs/req | tower client CPU µs/req | raw / tower CPU |"
        );
        println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for concurrency in [64, 512] {
            let raw = Side::Raw(hyper.clone(), token.clone());
            let tower = Side::Tower(layered.clone());
            run(&raw, &url, concurrency, warm_up).await;
            run(&tower, &url, concurrency, warm_up).await;
            let (raws, towers) = paired(
                rounds,
                || run(&raw, &url, concurrency, round),
                || run(&tower, &url, concurrency, round),
            )
            .await;
            let ratios: Vec<f64> = raws
                .iter()
                .zip(&towers)
                .map(|(r, t)| t.per_second / r.per_second)
                .collect();
            let (lo, hi) = spread(&ratios);
            let rate = |v: &[Rate]| median(v.iter().map(|r| r.per_second).collect());
            let cpu = |v: &[Rate]| median(v.iter().map(|r| r.cpu_us).collect());
            println!(
                "| {concurrency} | {:.0} | {:.0} | {:.3} ({lo:.2}..{hi:.2}) | {:.1} | {:.1} | {:.3} |",
                rate(&raws),
                rate(&towers),
                median(ratios),
                cpu(&raws),
                cpu(&towers),
                cpu(&raws) / cpu(&towers),
            );
        }


        // The layer's own cost: the same two sides over an inner service that answers at once.
        let calls = if full_run() { 1_000_000 } else { 10_000 };
        let (raw_ns, tower_ns) = layer_cost(&client, &url, &token, calls).await;
        println!("\n## the layer's own cost (inner service answers at once; one task; {calls} calls)\n");
        println!("| raw (token header inserted by hand) ns/call | tower layer ns/call | layer overhead ns/call |");
        println!("| ---: | ---: | ---: |");
        println!("| {raw_ns:.0} | {tower_ns:.0} | {:.0} |", tower_ns - raw_ns);
    });
    drop(fake);
}

/// An inner service that answers at once.
#[derive(Clone)]
struct Instant200;

impl Service<http::Request<Full<Bytes>>> for Instant200 {
    type Response = http::Response<Full<Bytes>>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Full<Bytes>>) -> Self::Future {
        std::hint::black_box(&request);
        std::future::ready(Ok(http::Response::new(Full::new(Bytes::new()))))
    }
}

/// Nanoseconds per call of `Instant200` directly (the token header inserted by hand) and
/// through the layer, best of three.
async fn layer_cost(
    client: &Client,
    url: &http::Uri,
    token: &HeaderValue,
    calls: u32,
) -> (f64, f64) {
    let request = || {
        http::Request::get(url.clone())
            .header(ACCEPT, "application/xml")
            .body(Full::new(Bytes::new()))
            .expect("request")
    };
    let (mut raw, mut layered) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        let mut inner = Instant200;
        let started = Instant::now();
        for _ in 0..calls {
            let mut r = request();
            r.headers_mut().insert(X_TABLEAU_AUTH, token.clone());
            let response = inner.ready().await.expect("ready").call(r).await;
            std::hint::black_box(response.expect("a response"));
        }
        raw = raw.min(started.elapsed().as_nanos() as f64 / f64::from(calls));
        let mut service = TableauAuth::new(Instant200, client);
        let started = Instant::now();
        for _ in 0..calls {
            let response = service.ready().await.expect("ready").call(request()).await;
            std::hint::black_box(response.expect("a response"));
        }
        layered = layered.min(started.elapsed().as_nanos() as f64 / f64::from(calls));
    }
    (raw, layered)
}
