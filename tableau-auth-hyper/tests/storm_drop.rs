//! 1,000 tasks on one session while the server drops it: every request succeeds and exactly one
//! new sign-in replaces the session (single-flight by generation), whoever saw the rejection.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

const TASKS: usize = 1_000;
const PER_TASK: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_survive_the_server_dropping_the_session() {
    let fake = start().await;
    let events = Events::default();
    let client = events
        .hook(builder(&fake).sign_in(pat()))
        .build()
        .expect("client");
    let url = client
        .current_or_sign_in()
        .await
        .expect("sign-in")
        .api_url("sessions/current")
        .expect("URL");
    fake.control().clear_log();
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            let done = done.clone();
            tokio::spawn(async move {
                for _ in 0..PER_TASK {
                    let response = client.send(get_as(Format::Xml, url.clone())).await?;
                    assert_eq!(parse_me(response.body()).user_id, sample::USER_ID);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    // Mid-run: once a quarter of the calls are done, the server drops every session.
    while done.load(Ordering::Relaxed) < TASKS * PER_TASK / 4 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let dropped = fake.control().drop_sessions(None);
    let done_at_drop = done.load(Ordering::Relaxed);
    assert_eq!(dropped, 1, "one live session (the PAT's)");
    let mut failed = Vec::new();
    for task in tasks {
        if let Err(e) = task.await.expect("no panic") {
            failed.push(e.to_string());
        }
    }
    let elapsed = started.elapsed();
    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert_eq!(done.load(Ordering::Relaxed), TASKS * PER_TASK);
    assert!(done_at_drop < TASKS * PER_TASK, "the drop came mid-run");

    let log = fake.request_log();
    assert_eq!(sign_ins(&log), 1, "exactly one new sign-in");
    let rejected = log
        .iter()
        .filter(|e| e.path == CURRENT && e.status == Some(401))
        .count();
    assert!(rejected >= 1, "some requests saw the dropped session");
    assert!(
        rejected <= TASKS,
        "each task is rejected at most once: {rejected}"
    );
    assert_eq!(
        log.iter()
            .filter(|e| e.path == CURRENT && e.status == Some(200))
            .count(),
        TASKS * PER_TASK
    );
    assert_eq!(client.generation(), 2);
    // Dropped long before any limit: the client calls it superseded, once.
    assert_eq!(
        events.all(),
        vec![
            SessionEvent::SignedIn { generation: 1 },
            SessionEvent::Ended {
                generation: 1,
                reason: Ended::Superseded
            },
            SessionEvent::Renewed {
                generation: 2,
                reason: RenewReason::Rejected(Ended::Superseded)
            },
        ]
    );
    eprintln!(
        "{TASKS} tasks x {PER_TASK} calls in {elapsed:?}; {rejected} rejected and replayed; drop after {done_at_drop} calls"
    );
}
