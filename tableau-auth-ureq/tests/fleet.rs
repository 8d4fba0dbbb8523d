//! The blocking client and the `tableau-auth` CLI sharing a fleet's session through a real
//! `redis-server` (started on a free loopback port for each test), against the fake.
//!
//! The many-process runs (six processes × twenty tasks, failures of the server and of Redis) are
//! in tableau-auth-hyper's `fleet` tests; the policy's decisions in the core's tests. Here: the
//! blocking client adopts, leaves and retires like the async one, and a cron script using the
//! CLI with the services' PAT stops ending their session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;
use tableau_auth_redis::RedisStore;
use tableau_auth_tests::redis_server::RedisServer;
use tableau_auth_ureq::proto::{Credentials, FleetConfig, SignIn, SignOut};

const BIN: &str = env!("CARGO_BIN_EXE_tableau-auth");

fn pat() -> SignIn {
    SignIn::new(
        Credentials::personal_access_token(sample::USER_PAT_NAME, sample::USER_PAT_SECRET),
        "",
    )
}

fn fleet_client(fake: &FakeServer, redis: &RedisServer) -> Client {
    builder(fake)
        .session_store(
            RedisStore::open(&redis.url()).expect("a store"),
            FleetConfig::new(),
        )
        .build()
        .expect("a client")
}

#[test]
fn blocking_clients_share_one_session_leave_it_and_retire_it() {
    let fake = start();
    let redis = RedisServer::start();
    let mut a = fleet_client(&fake, &redis);
    let mut b = fleet_client(&fake, &redis);
    a.sign_in(pat()).expect("a signs in");
    b.sign_in(pat()).expect("b adopts");
    assert_eq!(sign_ins(&fake.request_log()), 1, "one sign-in for both");
    assert_eq!(token_of(&a), token_of(&b));
    whoami(&mut b).expect("b's calls work");
    // A guard's drop, or a sign-out, leaves the fleet's session signed in.
    let shared = token_of(&b);
    drop(a.sign_in_guard(pat()).expect("adopts again"));
    assert_eq!(b.sign_out().expect("sign-out"), SignOut::LeftToFleet);
    assert!(fake.control().has_session(&shared));
    a.sign_in(pat()).expect("adopts again");
    whoami(&mut a).expect("still usable");
    assert_eq!(token_of(&a), shared);
    assert_eq!(sign_ins(&fake.request_log()), 1);
    // Retire ends it for everyone: the next use anywhere signs in anew.
    assert_eq!(a.retire().expect("retire"), SignOut::Confirmed);
    assert_eq!(fake.control().live_sessions(), 0);
    b.sign_in(pat()).expect("b signs in anew");
    assert_eq!(sign_ins(&fake.request_log()), 2);
}

#[test]
fn a_session_rejected_in_one_process_is_replaced_once_and_adopted_by_the_other() {
    let fake = start();
    let redis = RedisServer::start();
    let mut a = fleet_client(&fake, &redis);
    let mut b = fleet_client(&fake, &redis);
    a.sign_in(pat()).unwrap();
    b.sign_in(pat()).unwrap();
    fake.control().drop_sessions(None);
    whoami(&mut a).expect("a replays after one fleet sign-in");
    whoami(&mut b).expect("b adopts a's new session on its 401002");
    assert_eq!(sign_ins(&fake.request_log()), 2);
    assert_eq!(token_of(&a), token_of(&b));
}

#[test]
fn a_store_that_cannot_be_reached_fails_closed_with_a_typed_error() {
    let fake = start();
    let mut redis = RedisServer::start();
    let mut client = fleet_client(&fake, &redis);
    redis.stop();
    let error = client.sign_in(pat()).expect_err("no store, no sign-in");
    let shown = error.to_string();
    assert!(shown.contains("session store"), "{shown}");
    assert!(
        matches!(
            error.as_tableau(),
            Some(proto::Error::StoreUnavailable { .. })
        ),
        "{error:?}"
    );
    assert_eq!(sign_ins(&fake.request_log()), 0, "failed closed");
}

fn cli(fake: &FakeServer, redis: &RedisServer, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BIN)
        .env_clear()
        .args(["--server", fake.base_url(), "--ca-file"])
        .arg(fake.ca_file().unwrap())
        .args(["--pat-name", sample::USER_PAT_NAME])
        .env("TABLEAU_PAT_SECRET", sample::USER_PAT_SECRET)
        .env("TABLEAU_SESSION_STORE", redis.url())
        .args(args)
        .output()
        .expect("run tableau-auth");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn a_cron_script_with_the_session_store_stops_ending_the_services_session() {
    let fake = start();
    let redis = RedisServer::start();
    // The service signs in and shares its session.
    let mut service = fleet_client(&fake, &redis);
    service.sign_in(pat()).unwrap();
    let service_token = token_of(&service);
    // The cron script: token, whoami and sign-in adopt it and leave it signed in.
    let (code, token, err) = cli(&fake, &redis, &["token"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(token.trim(), service_token);
    let (code, out, err) = cli(&fake, &redis, &["whoami"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(sample::USER_NAME), "{out}");
    let (code, _, err) = cli(&fake, &redis, &["sign-in"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        sign_ins(&fake.request_log()),
        1,
        "the script never signed in"
    );
    assert!(fake.control().has_session(&service_token));
    whoami(&mut service).expect("the service's session lives on");
    // retire ends it for everyone.
    let (code, out, err) = cli(&fake, &redis, &["retire", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#""signed_out":"confirmed""#), "{out}");
    assert!(!fake.control().has_session(&service_token));
}

#[test]
fn the_cli_names_an_unreachable_store_and_hides_its_password() {
    let fake = start();
    let mut redis = RedisServer::start();
    redis.stop();
    let output = Command::new(BIN)
        .env_clear()
        .args(["--server", fake.base_url(), "--ca-file"])
        .arg(fake.ca_file().unwrap())
        .args(["--pat-name", sample::USER_PAT_NAME])
        .env("TABLEAU_PAT_SECRET", sample::USER_PAT_SECRET)
        .env(
            "TABLEAU_SESSION_STORE",
            format!("redis://:SENTINEL-redis-pw@127.0.0.1:{}", redis.port()),
        )
        .args(["token", "--json"])
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(4), "{out} {err}");
    assert!(out.contains("session_store"), "{out}");
    assert!(
        !out.contains("SENTINEL") && !err.contains("SENTINEL"),
        "{out} {err}"
    );
    let (code, _, err) = cli(&fake, &redis, &["retire"]);
    assert_eq!(code, 4, "{err}");
    let no_store = Command::new(BIN)
        .env_clear()
        .args(["--server", fake.base_url(), "retire"])
        .output()
        .unwrap();
    assert_eq!(no_store.status.code(), Some(2));
}
