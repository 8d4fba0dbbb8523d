//! Scoped sign-in (TSC's `with server.auth.sign_in(auth):`) for async code: `with_sign_in` signs
//! out, awaited, after its body succeeded, failed or panicked; a `SignOutGuard` signs out when
//! told to or when dropped (on a spawned task); and a scope's sign-out only ever ends the session
//! its own sign-in began — never one the client signed in anew after it.

mod common;

use std::time::Duration;

use common::*;
use tableau_auth_hyper::SignOutGuard;

/// Whether the fake still holds the session of `token`.
fn alive(fake: &FakeServer, token: &str) -> bool {
    fake.control().has_session(token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sign_in_signs_out_after_the_body_succeeded_failed_or_panicked() {
    let fake = start().await;
    let client = client(&fake, Format::Xml);

    let token = client
        .with_sign_in(sign_in(&fake, Kind::Password), |client| async move {
            whoami(&client, Format::Xml).await?;
            Ok::<_, Error>(token_of(&client))
        })
        .await
        .expect("the body's value");
    assert!(!alive(&fake, &token), "signed out after the body");
    assert!(!client.is_signed_in());

    // The body's own error comes back, and the session is ended all the same.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let kept = seen.clone();
    let failed: Result<(), Error> = client
        .with_sign_in(sign_in(&fake, Kind::Password), |client| async move {
            *kept.lock().unwrap() = token_of(&client);
            Err(Error::Config("the body's own failure".to_owned()))
        })
        .await;
    assert!(
        matches!(&failed, Err(Error::Config(m)) if m == "the body's own failure"),
        "{failed:?}"
    );
    let token = seen.lock().unwrap().clone();
    assert!(!token.is_empty() && !alive(&fake, &token));

    // A panic goes on after the sign-out.
    let (panicking, kept) = (client.clone(), seen.clone());
    let sign_in = sign_in(&fake, Kind::Password);
    let joined = tokio::spawn(async move {
        panicking
            .with_sign_in(sign_in, |client| async move {
                *kept.lock().unwrap() = token_of(&client);
                if client.is_signed_in() {
                    panic!("the body panics");
                }
                Ok::<(), Error>(())
            })
            .await
    })
    .await;
    assert!(joined.expect_err("the panic went on").is_panic());
    let token = seen.lock().unwrap().clone();
    assert!(!alive(&fake, &token), "signed out before the panic went on");

    // A failed sign-in is the caller's error type, and the body never runs.
    let refused = client
        .with_sign_in(
            SignIn::new(
                Credentials::password(sample::USER_NAME, "not-the-password"),
                "",
            ),
            |_| async { Ok::<(), Error>(()) },
        )
        .await;
    assert!(matches!(refused, Err(Error::Tableau(_))), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_signs_out_when_told_when_dropped_and_not_when_kept() {
    let fake = start().await;
    let client = client(&fake, Format::Json);

    let guard = client
        .sign_in_guard(sign_in(&fake, Kind::Password))
        .await
        .expect("sign-in");
    assert_eq!(guard.signed_in().user_id.as_str(), sample::USER_ID);
    let token = token_of(&guard);
    whoami(&guard, Format::Json)
        .await
        .expect("used through the guard");
    assert_eq!(
        guard.sign_out().await.expect("sign-out"),
        SignOut::Confirmed
    );
    assert!(!alive(&fake, &token));

    // Dropped (an early return, a `?`): signed out on a task of its own.
    async fn returns_early(
        client: &Client,
        fake: &FakeServer,
        token: &mut String,
    ) -> Result<(), Error> {
        let guard = client.sign_in_guard(sign_in(fake, Kind::Password)).await?;
        *token = token_of(&guard);
        whoami(&guard, Format::Json).await?;
        Err(Error::Config("the caller's own failure".to_owned()))
    }
    let mut token = String::new();
    assert!(returns_early(&client, &fake, &mut token).await.is_err());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while alive(&fake, &token) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!alive(&fake, &token), "the dropped guard signed out");

    // Kept: the session stays, and the client goes on with it.
    let guard = client
        .sign_in_guard(sign_in(&fake, Kind::Password))
        .await
        .expect("sign-in");
    let client = guard.keep();
    let token = token_of(&client);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(alive(&fake, &token));
    whoami(&client, Format::Json)
        .await
        .expect("still signed in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scopes_late_sign_out_never_ends_the_session_signed_in_after_it() {
    let fake = start().await;
    let events = Events::default();
    let client = events.hook(builder(&fake)).build().expect("client");

    // Told to sign out after the client signed in anew: the newer session is kept.
    let first = client
        .sign_in_guard(sign_in(&fake, Kind::Password))
        .await
        .expect("sign-in");
    client
        .sign_in(sign_in(&fake, Kind::Password))
        .await
        .expect("a new sign-in");
    let newer = token_of(&client);
    assert_eq!(first.sign_out().await.expect("no error"), SignOut::Replaced);
    assert!(alive(&fake, &newer));
    whoami(&client, Format::Xml)
        .await
        .expect("the newer session");

    // Dropped, and the next scope began at once: its session is kept too.
    let first = client
        .sign_in_guard(sign_in(&fake, Kind::Password))
        .await
        .expect("sign-in");
    drop(first);
    let second = client
        .sign_in_guard(sign_in(&fake, Kind::Password))
        .await
        .expect("sign-in");
    let token = token_of(&second);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        alive(&fake, &token),
        "the first scope's sign-out ended the second's session"
    );
    whoami(&second, Format::Xml)
        .await
        .expect("the second scope's session");
    assert_eq!(
        second.sign_out().await.expect("sign-out"),
        SignOut::Confirmed
    );
    assert!(!alive(&fake, &token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_keeps_its_session_through_a_re_sign_in_and_ends_it() {
    let fake = start().await;
    let client = client(&fake, Format::Xml);
    let guard = client
        .sign_in_guard(sign_in(&fake, Kind::Password))
        .await
        .expect("sign-in");
    let before = token_of(&guard);
    assert_eq!(fake.control().drop_sessions(None), 1);
    whoami(&guard, Format::Xml)
        .await
        .expect("signed in again once, replayed");
    let after = token_of(&guard);
    assert_ne!(before, after);
    assert_eq!(guard.generation(), 2);
    assert_eq!(
        guard.sign_out().await.expect("sign-out"),
        SignOut::Confirmed
    );
    assert!(
        !alive(&fake, &after),
        "the re-signed-in session is the scope's"
    );
}

#[test]
fn a_guard_dropped_outside_a_runtime_sends_nothing_and_never_panics() {
    let fake = FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::default())
        .expect("the fake starts");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let guard: SignOutGuard = runtime.block_on(async {
        let client = builder(&fake).build().expect("client");
        client
            .sign_in_guard(sign_in(&fake, Kind::Password))
            .await
            .expect("sign-in")
    });
    let token = token_of(&guard);
    drop(guard);
    assert!(
        alive(&fake, &token),
        "nothing could be sent without a runtime"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_sign_in_cancelled_by_a_timeout_still_signs_out() {
    let fake = start().await;
    let client = client(&fake, Format::Xml);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let work = client.with_sign_in(sign_in(&fake, Kind::Password), |client| async move {
        let _ = tx.send(token_of(&client));
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<(), Error>(())
    });
    let timed_out = tokio::time::timeout(Duration::from_millis(300), work).await;
    assert!(timed_out.is_err(), "the caller's timeout fired");
    let token = rx.await.expect("the body ran");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while alive(&fake, &token) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !alive(&fake, &token),
        "the dropped scope signed out on its own task"
    );
    assert!(!client.is_signed_in());
}
