//! Cancellation in the middle of a sign-in: a task whose future is dropped while its sign-in
//! hangs (an outer `tokio::time::timeout`, or `JoinHandle::abort`) leaves the session usable —
//! the single-flight lock is released and the core's exchange is aborted — so the next task,
//! even one already queued behind it, signs in.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// A fake whose next `POST auth/signin` never answers (after the version probe is done).
async fn hung_sign_in(client: &Client, fake: &FakeServer) {
    client.server_info().await.expect("server info");
    fake.control()
        .add_fault(FaultRule::exact(SIGNIN, Fault::Hang).method("POST").once());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_task_signs_in_after_the_hung_one_is_cancelled() {
    let fake = start().await;
    let events = Events::default();
    let client = events
        .hook(
            builder(&fake)
                .sign_in(password())
                .exchange_timeout(Duration::from_secs(30)),
        )
        .build()
        .expect("client");
    hung_sign_in(&client, &fake).await;
    let url = current_url(&fake);

    // Task A: its sign-in hangs; an outer timeout cancels it after 1 s.
    let a = {
        let client = client.clone();
        tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(1), client.current_or_sign_in()).await
        })
    };
    // Task B starts while A holds the single-flight lock, and queues behind it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let b = {
        let client = client.clone();
        tokio::spawn(async move { client.send(get_as(Format::Xml, url)).await })
    };
    assert!(a.await.expect("no panic").is_err(), "A was cancelled");
    let response = b.await.expect("no panic").expect("B signs in after A");
    assert_eq!(parse_me(response.body()).user_id, sample::USER_ID);
    assert_within(started, Duration::from_secs(5), "B after A's cancellation");

    assert!(
        !client.with_session(|s| s.is_busy()),
        "no exchange left in flight"
    );
    let log = fake.request_log();
    assert_eq!(
        sign_ins(&log),
        2,
        "A's hung sign-in and B's: {:?}",
        describe(&log)
    );
    // A cancelled attempt is not a failure to share: B tried on its own.
    assert_eq!(events.all(), vec![SessionEvent::SignedIn { generation: 1 }]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_sign_in_cancelled_by_timeout_leaves_the_client_usable() {
    let fake = start().await;
    let client = builder(&fake)
        .exchange_timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    hung_sign_in(&client, &fake).await;
    let cancelled = tokio::time::timeout(Duration::from_secs(1), client.sign_in(password())).await;
    assert!(cancelled.is_err(), "cancelled by the timeout");
    assert!(!client.is_signed_in());
    assert!(!client.with_session(|s| s.is_busy()));
    let signed_in = tokio::time::timeout(Duration::from_secs(5), client.sign_in(password()))
        .await
        .expect("not blocked by the cancelled task")
        .expect("sign-in");
    assert_eq!(signed_in.user_id.as_str(), sample::USER_ID);
    whoami(&client, Format::Xml)
        .await
        .expect("the session works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_task_mid_renewal_leaves_the_session_to_the_others() {
    let fake = start().await;
    let client = builder(&fake)
        .sign_in(pat())
        .exchange_timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    client.current_or_sign_in().await.expect("sign-in");
    let url = current_url(&fake);
    // The session is dropped and the next sign-in hangs: the first rejected task renews and
    // hangs; it is then aborted.
    fake.control().drop_sessions(None);
    fake.control()
        .add_fault(FaultRule::exact(SIGNIN, Fault::Hang).method("POST").once());
    let a = {
        let client = client.clone();
        let url = url.clone();
        tokio::spawn(async move { client.send(get_as(Format::Xml, url)).await })
    };
    // Wait until A's renewal is in flight.
    let waiting = Instant::now();
    while sign_ins(&fake.request_log()) < 2 {
        assert_within(waiting, Duration::from_secs(5), "A's renewal starts");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Others pile up behind it.
    let others = spawn_gets(&client, &url, 10);
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.abort();
    assert!(a.await.expect_err("aborted").is_cancelled());
    for task in others {
        let response = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("not stuck")
            .expect("no panic")
            .expect("the others succeed");
        assert_eq!(parse_me(response.body()).user_id, sample::USER_ID);
    }
    assert!(!client.with_session(|s| s.is_busy()));
    // The first sign-in, A's hung one, and exactly one more for the ten others.
    assert_eq!(sign_ins(&fake.request_log()), 3);
    assert_eq!(client.generation(), 2);
}
