//! A 429 burst: mid-run, the server starts throttling (`Retry-After: 1`): every request gets a
//! 429. The wait is shared: the first 429 opens a window that every task of the client waits
//! for — also the tasks whose own requests were never throttled — so the run takes about one
//! wait more than without throttling (not one per task or per request), no request reaches the
//! server during the window, and the 429s are only the requests already in flight when the
//! first one came back: far fewer than the tasks, where waiting per task would earn one 429 per
//! task (and more with retries).
//!
//! The fake's faults are counted, not timed; the server "throttles for a second" here by keeping
//! an unlimited 429 rule until 0.9 s after the client first saw a 429 (the client's window is at
//! least 1 s from then, so a client that waits as told never sees the rule lifted early).

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::*;

const TASKS: usize = 64;
const PER_TASK: usize = 12;
/// When the server starts throttling, after the start of the run.
const THROTTLE_AFTER: Duration = Duration::from_millis(300);
/// The tasks keep calling through the window (so that a task that is not throttled itself
/// would send during it, if the wait were not shared).
const PACE: Duration = Duration::from_millis(80);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_burst_costs_one_shared_wait() {
    let fake = start().await;
    let events = Events::default();
    let control = fake.control();
    let recorder = events.clone();
    let client = builder(&fake)
        .sign_in(password())
        .retries(3, Duration::from_secs(10))
        .on_event(move |event| {
            recorder.0.lock().unwrap().push(event.clone());
            if matches!(event, SessionEvent::Throttled { .. }) {
                // The server stops throttling a little before the second it asked for.
                let control = control.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(900)).await;
                    control.clear_faults();
                });
            }
        })
        .build()
        .expect("client");
    let url = client
        .current_or_sign_in()
        .await
        .expect("sign-in")
        .api_url("sessions/current")
        .expect("URL");
    // The same run without throttling first, to know what "one wait more" means (after a run
    // that warms the connection pool).
    run(&client, &url, None).await;
    let baseline = run(&client, &url, None).await;
    fake.control().clear_log();
    let elapsed = run(&client, &url, Some(fake.control())).await;

    let log = fake.request_log();
    let throttled: Vec<SystemTime> = log
        .iter()
        .filter(|e| e.status == Some(429))
        .map(|e| e.at)
        .collect();
    assert!(!throttled.is_empty());
    assert!(
        throttled.len() <= TASKS / 2,
        "{} 429s for {TASKS} tasks: only the requests in flight, not one per task",
        throttled.len()
    );
    assert_eq!(
        log.iter().filter(|e| e.status == Some(200)).count(),
        TASKS * PER_TASK
    );
    // About one wait more than without throttling: at least the server's second, far less
    // than two.
    let extra = elapsed.saturating_sub(baseline);
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(
        extra > Duration::from_millis(800) && extra < Duration::from_millis(1_900),
        "one wait, not many: {elapsed:?} against {baseline:?} without throttling"
    );
    // One shared window, announced once.
    assert_eq!(
        events.count(|e| matches!(e, SessionEvent::Throttled { .. })),
        1,
        "{:?}",
        events.all()
    );
    // Nobody sent during the window — not even the tasks that were never throttled.
    let first = *throttled.iter().min().expect("a 429");
    let quiet_from = first + Duration::from_millis(250);
    let quiet_to = first + Duration::from_millis(900);
    let during: Vec<_> = log
        .iter()
        .filter(|e| e.at > quiet_from && e.at < quiet_to)
        .cloned()
        .collect();
    assert!(
        during.is_empty(),
        "{} requests arrived during the window: {:?}",
        during.len(),
        describe(&during)
    );
    eprintln!(
        "{TASKS} tasks x {PER_TASK} calls, {} throttled: {elapsed:?} ({baseline:?} without)",
        throttled.len()
    );
}

/// Every task makes `PER_TASK` calls, one every `PACE`; the tasks start 1 ms apart, so that
/// their calls are spread out. With `throttle`, the server throttles from `THROTTLE_AFTER` on.
async fn run(
    client: &Client,
    url: &http::Uri,
    throttle: Option<tableau_auth_tests::fake::FakeControl>,
) -> Duration {
    let started = Instant::now();
    if let Some(control) = throttle {
        tokio::spawn(async move {
            tokio::time::sleep(THROTTLE_AFTER).await;
            control.add_fault(
                FaultRule::exact(CURRENT, status(429, Some("1")))
                    .method("GET")
                    .times(100_000),
            );
        });
    }
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i as u64)).await;
                for _ in 0..PER_TASK {
                    client.send(get_as(Format::Xml, url.clone())).await?;
                    tokio::time::sleep(PACE).await;
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic").expect("every call succeeds");
    }
    started.elapsed()
}
