//! One live session per personal access token: two separate `Client`s with the same PAT
//! supersede each other. The client tells "superseded" (killed by someone else's sign-in while
//! it could not have expired) from "expired", through the event callback and the error; it
//! replaces the session once and replays once, and a replay rejected again is an error, never
//! a loop.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_with_one_pat_supersede_each_other() {
    let fake = start().await;
    let (events_a, events_b) = (Events::default(), Events::default());
    let a = events_a.hook(builder(&fake)).build().expect("client A");
    let b = events_b.hook(builder(&fake)).build().expect("client B");
    a.sign_in(pat()).await.expect("A signs in");
    let token_a = token_of(&a);
    b.sign_in(pat())
        .await
        .expect("B signs in (and ends A's session)");
    assert!(!fake.control().has_session(&token_a), "A's session is gone");

    // A's next call is rejected, reported as superseded, replaced, and replayed.
    let me = whoami(&a, Format::Xml).await.expect("A recovers");
    assert_eq!(me.user_id, sample::USER_ID);
    assert_eq!(
        events_a.all(),
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
    // Which in turn superseded B.
    whoami(&b, Format::Json).await.expect("B recovers");
    assert!(events_b.all().contains(&SessionEvent::Ended {
        generation: 1,
        reason: Ended::Superseded
    }));
    assert_eq!(sign_ins(&fake.request_log()), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_reauthentication_a_superseded_session_is_a_typed_error() {
    let fake = start().await;
    let events = Events::default();
    let a = events
        .hook(builder(&fake).reauthenticate(false))
        .build()
        .expect("client A");
    let b = client(&fake, Format::Xml);
    a.sign_in(pat()).await.expect("A");
    b.sign_in(pat()).await.expect("B");
    let err = whoami(&a, Format::Xml).await.expect_err("A was superseded");
    assert_eq!(err.end_reason(), Some(Ended::Superseded), "{err:?}");
    assert_eq!(err.code(), Some("401002"));
    assert!(err.to_string().contains("superseded"), "{err}");
    assert!(events.all().contains(&SessionEvent::Ended {
        generation: 1,
        reason: Ended::Superseded
    }));
    assert_eq!(sign_ins(&fake.request_log()), 2, "no sign-in on A's behalf");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idled_out_session_is_expired_not_superseded() {
    let mut config = FakeConfig::sample();
    config.idle_limit_secs = 1;
    let fake = start_with(config).await;
    let events = Events::default();
    let client = events
        .hook(
            builder(&fake)
                .idle_limit(Duration::from_secs(1))
                .expiry_margin(Duration::ZERO)
                .renew_before_expiry(false)
                .reauthenticate(false),
        )
        .build()
        .expect("client");
    client.sign_in(pat()).await.expect("sign-in");
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let err = whoami(&client, Format::Xml).await.expect_err("idled out");
    assert_eq!(err.end_reason(), Some(Ended::Expired), "{err:?}");
    assert!(events.all().contains(&SessionEvent::Ended {
        generation: 1,
        reason: Ended::Expired
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_rejected_again_is_an_error_not_a_loop() {
    let fake = start().await;
    let client = builder(&fake).sign_in(pat()).build().expect("client");
    client.current_or_sign_in().await.expect("sign-in");
    let rejection = session_gone();
    fake.control()
        .add_fault(FaultRule::exact(CURRENT, rejection).times(2));
    let err = whoami(&client, Format::Xml)
        .await
        .expect_err("rejected twice");
    assert!(
        matches!(err, Error::Tableau(proto::Error::SessionEnded { .. })),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("401002"));
    let log = fake.request_log();
    assert_eq!(
        log.iter().filter(|e| e.path == CURRENT).count(),
        2,
        "one call, one replay: {:?}",
        describe(&log)
    );
    assert_eq!(sign_ins(&log), 2, "one re-authentication");
    // The fault is used up: the next call works on the new session.
    whoami(&client, Format::Xml).await.expect("works again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reauthentication_is_shared_by_the_tasks_waiting_for_it() {
    let fake = start().await;
    let client = builder(&fake).sign_in(password()).build().expect("client");
    client.current_or_sign_in().await.expect("sign-in");
    let url = current_url(&fake);
    // The session ends and the password changes: re-authentication can only fail.
    fake.control().drop_sessions(None);
    fake.control()
        .update_config(|c| {
            for user in &mut c.users {
                if user.name == sample::USER_NAME {
                    user.password = Some("changed-elsewhere".to_owned());
                }
            }
        })
        .expect("config");
    // Slow down the failing sign-in so that every rejected task waits for it.
    fake.control().add_fault(
        FaultRule::exact(SIGNIN, Fault::Delay(Duration::from_millis(300)))
            .method("POST")
            .once(),
    );
    let tasks = spawn_gets(&client, &url, 50);
    for task in tasks {
        let err = task.await.expect("no panic").expect_err("no session");
        assert!(
            matches!(err, Error::Tableau(proto::Error::SignInFailed(_))),
            "{err:?}"
        );
        assert_eq!(err.code(), Some("401001"), "{err:?}");
    }
    let attempts = sign_ins(&fake.request_log()) - 1;
    assert!(
        (1..=2).contains(&attempts),
        "50 rejected tasks, {attempts} sign-in attempts"
    );
}
