//! Memory of one shared session and allocations per request, measured with a counting global
//! allocator (`stats_alloc`) in the client process (the fake runs in a child process).
//!
//! ```text
//! cargo bench -p tableau-auth-hyper --features tower --bench memory
//! ```

mod common;

use std::alloc::System;
use std::time::Duration;

use common::*;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tableau_auth_hyper::{Client, Snapshot, TableauAuthLayer};
use tower::Layer;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    if child_mode() {
        return;
    }
    let fake = FakeChild::start();
    runtime().block_on(async {
        let memory = memory(&fake).await;
        let client = builder(&fake).sign_in(password()).build().expect("client");
        let current = client.current_or_sign_in().await.expect("sign-in");
        let url = current.api_url("sessions/current").expect("URL");
        let token = current.header_value().clone();
        let hyper = client.hyper_client();
        let layered = TableauAuthLayer::new(&client).layer(hyper.clone());
        for side in [
            Side::Raw(hyper.clone(), token.clone()),
            Side::Tower(layered.clone()),
        ] {
            run_count(&side, &url, 64, 2_000).await; // warm-up
        }

        // Allocations per request, both sides, after the warm-up.
        println!("\n## allocations per request (client side, concurrency 64)\n");
        println!("| side | allocations / request | bytes allocated / request |");
        println!("| --- | ---: | ---: |");
        for side in [
            Side::Raw(hyper.clone(), token.clone()),
            Side::Tower(layered.clone()),
        ] {
            let name = side.name();
            let region = Region::new(GLOBAL);
            let requests = run_count(&side, &url, 64, 2_000).await;
            let change = region.change();
            println!(
                "| {name} | {:.1} | {:.0} |",
                change.allocations as f64 / requests as f64,
                change.bytes_allocated as f64 / requests as f64
            );
        }
        println!(
            "\n## memory of one shared session (counting global allocator, client process only)\n"
        );
        println!("| what | bytes |");
        println!("| --- | ---: |");
        for (what, bytes) in memory {
            println!("| {what} | {bytes} |");
        }
    });
    drop(fake);
}

/// Live heap bytes of what `region` saw allocated and not freed (`stats_alloc` already counts
/// the growth and shrinkage of reallocations in these two; `bytes_reallocated` is their net).
fn live(region: &Region<'_, System>) -> i64 {
    let c = region.change();
    c.bytes_allocated as i64 - c.bytes_deallocated as i64
}

/// What one client and one shared session hold on the heap.
async fn memory(fake: &FakeChild) -> Vec<(String, i64)> {
    let mut rows = Vec::new();
    rows.push((
        "`size_of::<Client>()` (an `Arc`; a clone allocates nothing)".to_owned(),
        size_of::<Client>() as i64,
    ));
    rows.push((
        "`size_of::<Snapshot>()` (the lock-free snapshot, inline part)".to_owned(),
        size_of::<Snapshot>() as i64,
    ));
    // A client: rustls config (≈150 webpki roots + the CA), hyper-util pool, shared state.
    let region = Region::new(GLOBAL);
    let client = builder(fake)
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    rows.push((
        "`Client::build()`: TLS config with the webpki roots + CA, hyper pool, shared state"
            .to_owned(),
        live(&region),
    ));
    let mut clones = Vec::with_capacity(1_000);
    let region = Region::new(GLOBAL);
    clones.extend((0..1_000).map(|_| client.clone()));
    rows.push((
        "`Client::clone()` (live bytes per clone, over 1,000 clones)".to_owned(),
        live(&region) / 1_000,
    ));
    drop(clones);
    // A session: the sign-in, with pooling off so that no connection stays behind, after a
    // first anonymous exchange (it fills rustls' bounded TLS session-ticket cache for the server
    // and fixes the API version).
    client.server_info().await.expect("server info");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let region = Region::new(GLOBAL);
    client.sign_in(password()).await.expect("sign-in");
    tokio::time::sleep(Duration::from_millis(300)).await;
    rows.push((
        "sign-in: the shared session (core session, snapshot, token), no pooled connection"
            .to_owned(),
        live(&region),
    ));
    // Renewals replace the session: nothing may pile up. (Each new connection also adds a net
    // TLS 1.3 ticket to rustls' cache until its bound of 8 per server: ten renewals first.)
    for _ in 0..10 {
        client.renew().await.expect("renew");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let region = Region::new(GLOBAL);
    for _ in 0..20 {
        client.renew().await.expect("renew");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    rows.push((
        "live bytes added per renewal, over 20 renewals (the old generation is freed)".to_owned(),
        live(&region) / 20,
    ));
    // Heap estimate of the snapshot from its contents.
    let current = client.current().expect("signed in");
    let estimate = size_of::<Snapshot>()
        + current.header_value().len()
        + current.base_url().len() * 3
        + 2 * 80
        + current.signed_in().site_id.as_str().len()
        + current.signed_in().user_id.as_str().len();
    rows.push((
        "estimate: `Snapshot` inline + token + URLs + ids".to_owned(),
        estimate as i64,
    ));
    rows
}
