//! One session for a fleet, measured: the hot path with the session shared through Redis
//! against the same client sharing it only in-process (64 tasks, paired rounds), the Redis
//! round trips per call, and what a fleet's sign-in and an adoption add to a plain sign-in.
//!
//! ```text
//! cargo bench -p tableau-auth-hyper --features redis --bench fleet
//! ```
//!
//! The fake runs in a child process (this binary, re-executed), Redis is a real `redis-server`
//! on loopback (`scripts/ensure-redis.sh` installs it). Rounds are paired (in-process and Redis
//! back to back, alternating which goes first) and medians reported: the machine is shared.
//! Without `--bench` (as under `cargo test --benches`) it runs a fraction of a second per case.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use tableau_auth_hyper::proto::FleetConfig;
use tableau_auth_hyper::{Client, http};
use tableau_auth_redis::RedisStore;
use tableau_auth_tests::redis_server::RedisServer;

const TASKS: usize = 64;

fn main() {
    if child_mode() {
        return;
    }
    let (round, rounds, sign_ins) = if full_run() {
        (Duration::from_millis(800), 15, 200)
    } else {
        (Duration::from_millis(100), 1, 5)
    };
    let fake = FakeChild::start();
    let redis = RedisServer::start();
    runtime().block_on(async {
        let store = RedisStore::open(&redis.url()).expect("a store");
        let local = builder(&fake).sign_in(password()).build().expect("client");
        let shared = builder(&fake)
            .sign_in(password())
            .session_store(store.clone(), FleetConfig::new())
            .build()
            .expect("client");
        let url = local
            .current_or_sign_in()
            .await
            .expect("sign-in")
            .api_url("sessions/current")
            .expect("URL");
        shared.current_or_sign_in().await.expect("adopted or signed in");
        for client in [&local, &shared] {
            load(client, &url, round).await;
        }
        let trips_before = store.round_trips();
        let (locals, shareds) = paired(
            rounds,
            || load(&local, &url, round),
            || load(&shared, &url, round),
        )
        .await;
        let calls: u64 = shareds.iter().map(|s| s.0).sum();
        let (locals, shareds): (Vec<f64>, Vec<f64>) = (
            locals.into_iter().map(|l| l.1).collect(),
            shareds.into_iter().map(|s| s.1).collect(),
        );
        let trips = store.round_trips() - trips_before;
        let ratios: Vec<f64> = locals.iter().zip(&shareds).map(|(l, s)| s / l).collect();
        let (lo, hi) = spread(&ratios);
        println!(
            "\n## the hot path: {TASKS} tasks × GET sessions/current (TLS, loopback), session shared in-process vs through Redis\n"
        );
        println!(
            "| in-process req/s | Redis-shared req/s | Redis / in-process (min..max) | Redis round trips per call |"
        );
        println!("| ---: | ---: | ---: | ---: |");
        println!(
            "| {:.0} | {:.0} | {:.3} ({lo:.2}..{hi:.2}) | {} in {calls} calls |",
            median(locals),
            median(shareds),
            median(ratios),
            trips
        );

        // A sign-in of a new process: plain, the fleet's first (lock, sign-in, publish), and an
        // adoption (the session is in Redis).
        let (mut plain, mut first, mut adopt) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..sign_ins {
            let fresh = || builder(&fake).sign_in(password());
            plain.push(time_sign_in(fresh().build().expect("client")).await);
            redis.command(&[b"FLUSHALL"]);
            let fleet = |store: &RedisStore| {
                fresh()
                    .session_store(store.clone(), FleetConfig::new())
                    .build()
                    .expect("client")
            };
            let store = RedisStore::open(&redis.url()).expect("a store");
            first.push(time_sign_in(fleet(&store)).await);
            let store = RedisStore::open(&redis.url()).expect("a store");
            adopt.push(time_sign_in(fleet(&store)).await);
        }
        println!(
            "\n## a new process's first call ({sign_ins} of each; a new TLS connection and, for the fleet, a new Redis connection)\n"
        );
        println!("| | p50 ms | p99 ms | p50 added to a plain sign-in |");
        println!("| --- | ---: | ---: | ---: |");
        let p50_plain = percentile(&mut plain, 0.5);
        for (name, values) in [
            ("plain sign-in (no store)", &mut plain),
            ("fleet's sign-in (acquire, sign in, publish)", &mut first),
            ("adoption (acquire finds the session)", &mut adopt),
        ] {
            let (p50, p99) = (percentile(values, 0.5), percentile(values, 0.99));
            println!(
                "| {name} | {p50:.2} | {p99:.2} | {:+.2} |",
                p50 - p50_plain
            );
        }
    });
    drop(fake);
}

/// Calls made by `TASKS` tasks in `duration`, and their rate.
async fn load(client: &Client, url: &http::Uri, duration: Duration) -> (u64, f64) {
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (client, url, done) = (client.clone(), url.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let request = http::Request::get(url.clone())
                        .body(Vec::new())
                        .expect("request");
                    let response = client.send(request).await.expect("a call");
                    assert!(response.status().is_success());
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic");
    }
    let n = done.load(Ordering::Relaxed);
    (n, n as f64 / started.elapsed().as_secs_f64())
}

/// Milliseconds from a new client to its session.
async fn time_sign_in(client: Client) -> f64 {
    let started = Instant::now();
    client.current_or_sign_in().await.expect("a session");
    started.elapsed().as_secs_f64() * 1e3
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let index = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[index.min(values.len() - 1)]
}
