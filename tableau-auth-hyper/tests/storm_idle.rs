//! The idle limit: the fake's clock jumping past it under load costs no failed request (one
//! sign-in replaces the session on the first `401002`); with a real, short idle limit the client
//! renews *before* the server would drop the session (background task, or before sending), so
//! the server never answers 401; activity keeps the session alive; and with renewal off, a
//! session that idled out is reported as expired, not superseded.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tableau_auth_hyper::proto::Expiry;

/// A fake whose sessions expire after `secs` seconds idle.
async fn fake_with_idle_limit(secs: u64) -> FakeServer {
    let mut config = FakeConfig::sample();
    config.idle_limit_secs = secs;
    start_with(config).await
}

/// A fake whose sessions expire after 2 seconds idle, and a client (recording into `events`) that
/// knows that limit and renews `margin` before it.
async fn two_second_idle_limit(events: &Events, margin: Duration) -> (FakeServer, Client) {
    let fake = fake_with_idle_limit(2).await;
    let client = events
        .hook(
            builder(&fake)
                .sign_in(password())
                .idle_limit(Duration::from_secs(2))
                .expiry_margin(margin),
        )
        .build()
        .expect("client");
    (fake, client)
}

fn rejected(log: &[LoggedRequest]) -> usize {
    log.iter().filter(|e| e.status == Some(401)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_clock_passing_the_idle_limit_fails_no_request() {
    const TASKS: usize = 100;
    const PER_TASK: usize = 20;
    let fake = start().await; // 240-minute idle limit on the fake's clock
    let idle = Duration::from_secs(FakeConfig::sample().idle_limit_secs);
    let events = Events::default();
    let client = events
        .hook(builder(&fake).sign_in(password()).idle_limit(idle))
        .build()
        .expect("client");
    let url = current_url(&fake);
    client.current_or_sign_in().await.expect("sign-in");
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let client = client.clone();
            let url = url.clone();
            let control = fake.control();
            tokio::spawn(async move {
                for n in 0..PER_TASK {
                    if i == 0 && n == PER_TASK / 2 {
                        // Half-way through, the server's clock jumps past the idle limit: every
                        // session it holds is now expired. The client's clock did not move, so
                        // it cannot renew proactively: the first 401002 makes it sign in again.
                        control.advance(idle + Duration::from_secs(60));
                    }
                    client.send(get_as(Format::Xml, url.clone())).await?;
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no panic").expect("no failed request");
    }
    let log = fake.request_log();
    assert_eq!(sign_ins(&log), 2, "the first and exactly one renewal");
    assert!(rejected(&log) >= 1, "{:?}", describe(&log));
    assert_eq!(
        log.iter()
            .filter(|e| e.path == CURRENT && e.status == Some(200))
            .count(),
        TASKS * PER_TASK
    );
    assert_eq!(client.generation(), 2);
    assert_eq!(events.sign_ins(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_task_renews_an_idle_session_before_the_server_drops_it() {
    let events = Events::default();
    let (fake, client) = two_second_idle_limit(&events, Duration::from_millis(600)).await;
    let _renewal = client.spawn_renewal().expect("a runtime");
    let url = current_url(&fake);
    client
        .send(get_as(Format::Xml, url.clone()))
        .await
        .expect("first call");
    // Idle for longer than the server's idle limit.
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    client
        .send(get_as(Format::Xml, url.clone()))
        .await
        .expect("a call after the idle limit");
    let log = fake.request_log();
    assert_eq!(rejected(&log), 0, "never rejected: {:?}", describe(&log));
    assert!(sign_ins(&log) >= 2, "renewed in the background");
    assert!(
        events.count(|e| matches!(
            e,
            SessionEvent::Renewed {
                reason: RenewReason::Expiring(Expiry::IdleLimit),
                ..
            }
        )) >= 1
    );
    // The renewal happened while idle, before the call: the call itself did not sign in.
    let last_sign_in = log.iter().rposition(|e| e.is_signin()).expect("sign-in");
    let last_call = log.iter().rposition(|e| e.path == CURRENT).expect("call");
    assert!(last_sign_in < last_call);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_renews_before_sending_when_the_session_is_about_to_idle_out() {
    let events = Events::default();
    let (fake, client) = two_second_idle_limit(&events, Duration::from_secs(1)).await;
    let url = current_url(&fake);
    client
        .send(get_as(Format::Xml, url.clone()))
        .await
        .expect("first call");
    // Past the renewal point (idle limit minus margin), before the server's idle limit.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let tasks = spawn_gets(&client, &url, 20);
    for task in tasks {
        task.await.expect("no panic").expect("a call");
    }
    let log = fake.request_log();
    assert_eq!(rejected(&log), 0, "{:?}", describe(&log));
    assert_eq!(sign_ins(&log), 2, "one proactive renewal for 20 tasks");
    assert_eq!(
        events.all().last(),
        Some(&SessionEvent::Renewed {
            generation: 2,
            reason: RenewReason::Expiring(Expiry::IdleLimit)
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_keeps_the_session_alive_without_renewing() {
    let fake = fake_with_idle_limit(2).await;
    let client = builder(&fake)
        .sign_in(password())
        .idle_limit(Duration::from_secs(2))
        .expiry_margin(Duration::from_millis(500))
        .build()
        .expect("client");
    let _renewal = client.spawn_renewal().expect("a runtime");
    let url = current_url(&fake);
    let started = Instant::now();
    // A call every 400 ms for 3 s: past the idle limit counted from the sign-in, but never
    // idle for long. Without `touch` the client would renew at 1.5 s.
    while started.elapsed() < Duration::from_secs(3) {
        client
            .send(get_as(Format::Xml, url.clone()))
            .await
            .expect("call");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let log = fake.request_log();
    assert_eq!(sign_ins(&log), 1, "{:?}", describe(&log));
    assert_eq!(rejected(&log), 0);
    assert_eq!(client.generation(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_renewal_off_an_idled_out_session_is_reported_expired_and_replaced() {
    let fake = fake_with_idle_limit(1).await;
    let events = Events::default();
    let client = events
        .hook(
            builder(&fake)
                .sign_in(password())
                .idle_limit(Duration::from_secs(1))
                .expiry_margin(Duration::ZERO)
                .renew_before_expiry(false),
        )
        .build()
        .expect("client");
    let url = current_url(&fake);
    client
        .send(get_as(Format::Xml, url.clone()))
        .await
        .expect("first call");
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    client
        .send(get_as(Format::Xml, url.clone()))
        .await
        .expect("replaced and replayed");
    assert_eq!(rejected(&fake.request_log()), 1);
    assert_eq!(
        events.all(),
        vec![
            SessionEvent::SignedIn { generation: 1 },
            SessionEvent::Ended {
                generation: 1,
                reason: Ended::Expired
            },
            SessionEvent::Renewed {
                generation: 2,
                reason: RenewReason::Rejected(Ended::Expired)
            },
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_proactive_renewal_is_not_fatal() {
    for fault in [status(500, None), Fault::DropConnection] {
        let events = Events::default();
        let (fake, client) = two_second_idle_limit(&events, Duration::from_secs(1)).await;
        let url = current_url(&fake);
        client
            .send(get_as(Format::Xml, url.clone()))
            .await
            .expect("first call");
        // Past the renewal point (idle limit minus margin), before the server's idle limit; the
        // renewal fails.
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        fake.control().add_fault(
            FaultRule::exact(SIGNIN, fault.clone())
                .method("POST")
                .once(),
        );
        let before = fake.request_log().len();
        let response = client
            .send(get_as(Format::Xml, url.clone()))
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: the old token is still used: {e}"));
        assert_eq!(parse_me(response.body()).user_id, sample::USER_ID);
        let log = log_from(&fake, before);
        assert_eq!(sign_ins(&log), 1, "{fault:?}: {:?}", describe(&log));
        assert_eq!(
            log.last().map(|e| (e.path.as_str(), e.status)),
            Some((CURRENT, Some(200)))
        );
        assert_eq!(client.generation(), 1);
        assert_eq!(
            events.count(|e| matches!(e, SessionEvent::RenewalFailed { generation: 1, .. })),
            1,
            "{fault:?}: {:?}",
            events.all()
        );
        // Used again: the renewal is due again a little later, and then succeeds.
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        client
            .send(get_as(Format::Xml, url.clone()))
            .await
            .expect("a call after the renewal");
        assert_eq!(client.generation(), 2, "{fault:?}");
        assert_eq!(rejected(&fake.request_log()), 0);
        assert_eq!(
            events.all().last(),
            Some(&SessionEvent::Renewed {
                generation: 2,
                reason: RenewReason::Expiring(Expiry::IdleLimit)
            })
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_task_tries_again_after_a_failed_renewal() {
    let events = Events::default();
    let (fake, client) = two_second_idle_limit(&events, Duration::from_secs(1)).await;
    let _renewal = client.spawn_renewal().expect("a runtime");
    let url = current_url(&fake);
    client
        .send(get_as(Format::Xml, url.clone()))
        .await
        .expect("first call");
    fake.control().add_fault(
        FaultRule::exact(SIGNIN, status(500, None))
            .method("POST")
            .once(),
    );
    // The renewal is due 1 s after the call; it fails, pauses (a quarter of the margin), and
    // is tried again, before the server's idle limit.
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    assert_eq!(client.generation(), 2, "{:?}", events.all());
    client
        .send(get_as(Format::Xml, url.clone()))
        .await
        .expect("a call on the renewed session");
    let log = fake.request_log();
    assert_eq!(rejected(&log), 0, "{:?}", describe(&log));
    assert_eq!(with_status(&log, 500), 1);
    assert_eq!(
        events.count(|e| matches!(e, SessionEvent::RenewalFailed { .. })),
        1
    );
    assert!(events.all().contains(&SessionEvent::Renewed {
        generation: 2,
        reason: RenewReason::Expiring(Expiry::IdleLimit)
    }));
}
