//! The `load` example's logic, run in-process against the fake: N tasks share one session (one
//! sign-in), every call succeeds, and the report is one JSON object. Also its argument parsing.

mod common;

#[path = "../examples/load.rs"]
#[allow(dead_code)]
mod load;

use common::*;

fn env(name: &str) -> Option<String> {
    match name {
        "TABLEAU_PAT_NAME" => Some(sample::USER_PAT_NAME.to_owned()),
        "TABLEAU_PAT_SECRET" => Some(sample::USER_PAT_SECRET.to_owned()),
        _ => None,
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// `--server` and `--ca-file` of `fake`, then `rest`.
fn fake_args(fake: &FakeServer, rest: &[&str]) -> Vec<String> {
    let ca_file = fake
        .ca_file()
        .expect("a CA file")
        .to_string_lossy()
        .into_owned();
    let mut list = args(&["--server", fake.base_url(), "--ca-file", &ca_file]);
    list.extend(args(rest));
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_tool_shares_one_session_across_its_tasks() {
    let fake = start().await;
    let parsed = load::parse_args(
        fake_args(&fake, &["--site", "", "--tasks", "32", "--requests", "5"]),
        env,
    )
    .expect("arguments");
    let report = load::run(parsed).await.expect("a run");
    assert_eq!(report.ok, 32 * 5);
    assert_eq!(report.failed, 0);
    assert_eq!(report.sign_ins, 1);
    assert_eq!(sign_ins(&fake.request_log()), 1);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("JSON");
    assert_eq!(json["ok"], 160);
    assert_eq!(json["failed"], 0);
    assert_eq!(json["sign_ins"], 1);
    assert!(json["elapsed_ms"].is_u64());
    assert_eq!(json.as_object().expect("an object").len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_pat_fails_every_call_and_says_so() {
    let fake = start().await;
    let parsed = load::parse_args(
        fake_args(&fake, &["--tasks", "4", "--requests", "3"]),
        |name| {
            (name == "TABLEAU_PAT_NAME" || name == "TABLEAU_PAT_SECRET").then(|| "wrong".to_owned())
        },
    )
    .expect("arguments");
    let report = load::run(parsed).await.expect("a run");
    assert_eq!((report.ok, report.failed, report.sign_ins), (0, 12, 0));
}

#[test]
fn arguments_are_checked() {
    let ok = load::parse_args(
        args(&["--server", "https://x", "--tasks", "2", "--requests", "3"]),
        env,
    )
    .expect("valid");
    assert_eq!((ok.tasks, ok.requests, ok.site.as_str()), (2, 3, ""));
    assert_eq!(ok.ca_file, None);
    for bad in [
        &["--tasks", "2", "--requests", "3"][..],
        &["--server", "https://x", "--tasks", "0", "--requests", "3"],
        &["--server", "https://x", "--tasks", "two", "--requests", "3"],
        &["--server", "https://x", "--tasks", "2"],
        &["--server"],
        &["--bogus"],
    ] {
        assert!(load::parse_args(args(bad), env).is_err(), "{bad:?}");
    }
    let no_pat = load::parse_args(
        args(&["--server", "https://x", "--tasks", "2", "--requests", "3"]),
        |_| None,
    );
    assert!(no_pat.expect_err("no PAT").contains("TABLEAU_PAT_NAME"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_sign_in_loses_no_call() {
    let fake = start().await;
    fake.control().add_fault(
        FaultRule::exact(SIGNIN, status(429, Some("1")))
            .method("POST")
            .once(),
    );
    let parsed = load::parse_args(fake_args(&fake, &["--tasks", "16", "--requests", "3"]), env)
        .expect("arguments");
    let report = load::run(parsed).await.expect("a run");
    assert_eq!((report.ok, report.failed, report.sign_ins), (48, 0, 1));
    assert!(report.elapsed_ms >= 1_000, "waited: {report:?}");
    let log = fake.request_log();
    assert_eq!(sign_ins(&log), 2, "{:?}", describe(&log));
    assert_eq!(with_status(&log, 429), 1);
}
