//! The `tower_service` example's logic, run in-process against the fake: many tasks share one
//! session through `TableauAuthLayer` (one sign-in), a session ended by the server costs exactly
//! one re-sign-in for all of them, every API call carries the token, and bad credentials are a
//! typed error. Also its argument parsing: secrets never come from flags.
#![cfg(feature = "tower")]

mod common;

#[path = "../examples/tower_service.rs"]
#[allow(dead_code)]
mod tower_service;

use std::sync::atomic::Ordering;

use common::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_share_one_session_and_one_re_sign_in() {
    let fake = start().await;
    let settings = tower_service::demo::settings(&fake, 24, 4);
    let (client, counter) = tower_service::client(&settings).expect("a client");

    let first = tower_service::run(&client, &counter, 24, 4)
        .await
        .expect("a run");
    assert_eq!((first.ok, first.failed, first.sign_ins), (96, 0, 1));
    // Half the calls list the fake's two workbooks.
    assert_eq!(first.workbooks_seen, 48 * 2);

    assert_eq!(fake.control().drop_sessions(None), 1);
    let second = tower_service::run(&client, &counter, 24, 4)
        .await
        .expect("a run");
    assert_eq!((second.ok, second.failed, second.sign_ins), (96, 0, 2));
    assert_eq!(counter.load(Ordering::Relaxed), 2);

    let log = fake.request_log();
    assert_eq!(sign_ins(&log), 2, "{:?}", describe(&log));
    let calls: Vec<_> = log
        .iter()
        .filter(|r| {
            r.path.starts_with("/api/") && !r.is_signin() && !r.path_ends_with("/serverinfo")
        })
        .collect();
    assert!(calls.len() >= 192, "{}", calls.len());
    assert!(
        calls.iter().all(|r| r.token().is_some()),
        "every call authorized"
    );
    // The tokens the calls carried: the first session's and the second's. (Not in two runs in
    // the log: a task's call with the old token may be logged after another task's replay.)
    let tokens: std::collections::BTreeSet<_> = calls.iter().filter_map(|r| r.token()).collect();
    assert_eq!(tokens.len(), 2, "one token per session");

    assert_eq!(
        client.sign_out().await.expect("signed out"),
        SignOut::Confirmed
    );
    assert_eq!(fake.control().live_sessions(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_pat_is_a_typed_error_before_any_task_starts() {
    let fake = start().await;
    let mut settings = tower_service::demo::settings(&fake, 4, 2);
    settings.credentials = Credentials::personal_access_token(sample::USER_PAT_NAME, "wrong");
    let (client, sign_ins) = tower_service::client(&settings).expect("a client");
    let error = tower_service::run(&client, &sign_ins, 4, 2)
        .await
        .expect_err("refused");
    let error = error.downcast_ref::<Error>().expect("the client's error");
    assert_eq!(error.code(), Some("401001"), "{error}");
    assert!(!error.to_string().contains(sample::USER_PAT_SECRET));
    let log = fake.request_log();
    assert_eq!(
        log.iter()
            .filter(|r| !r.is_signin() && !r.path_ends_with("/serverinfo"))
            .count(),
        0,
        "{:?}",
        describe(&log)
    );
}

#[test]
fn arguments() {
    let demo = tower_service::parse_args(args(&["--tasks", "3"]), |_| None);
    assert!(matches!(
        demo,
        Ok(tower_service::Mode::Demo {
            tasks: 3,
            requests: 4
        })
    ));
    let env = |name: &str| match name {
        "TABLEAU_PAT_NAME" => Some("etl".to_owned()),
        "TABLEAU_PAT_SECRET" => Some("s3cret".to_owned()),
        _ => None,
    };
    let Ok(tower_service::Mode::Server(settings)) = tower_service::parse_args(
        args(&[
            "--server",
            "https://t",
            "--site",
            "Finance",
            "--requests",
            "9",
        ]),
        env,
    ) else {
        panic!("a server");
    };
    assert_eq!(
        (settings.site.as_str(), settings.tasks, settings.requests),
        ("Finance", 16, 9)
    );
    assert_eq!(settings.credentials.kind(), "personal access token");
    for bad in [
        &["--server", "https://t", "--tasks", "0"][..],
        &["--pat-secret", "s3cret"],
        &["--requests"],
    ] {
        assert!(
            tower_service::parse_args(args(bad), env).is_err(),
            "{bad:?}"
        );
    }
    let no_secret = tower_service::parse_args(args(&["--server", "https://t"]), |_| None);
    assert!(
        no_secret
            .err()
            .expect("no PAT")
            .contains("TABLEAU_PAT_NAME")
    );
}
