//! What only the reqwest middleware does, against the fake (the behaviours every adapter shares
//! run in the workspace's scenario suite, `tests/tests/scenarios.rs`, this middleware included):
//! requests for other servers pass through untouched, a body that cannot be cloned is never
//! replayed, clones share one session, the session's own exchanges use the caller's client.

use std::sync::Arc;

use tableau_auth_reqwest::proto::{Credentials, SignIn};
use tableau_auth_reqwest::reqwest::{self, Body, Certificate};
use tableau_auth_reqwest::reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tableau_auth_reqwest::{Client, Error, TableauAuthMiddleware, use_ring};
use tableau_auth_tests::fake::{FakeConfig, FakeOptions, FakeServer, sample};
use tableau_auth_tests::support::sign_ins;

fn fake() -> FakeServer {
    FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::default()).expect("fake")
}

fn pat() -> SignIn {
    SignIn::new(
        Credentials::personal_access_token(sample::USER_PAT_NAME, sample::USER_PAT_SECRET),
        "",
    )
}

/// A reqwest client trusting the fakes' CAs, and a middleware for `fake` on it.
fn stack(fake: &FakeServer, also: &[&FakeServer]) -> (ClientWithMiddleware, Client) {
    use_ring();
    let certs = std::iter::once(fake)
        .chain(also.iter().copied())
        .map(|f| Certificate::from_pem(f.ca_pem().expect("tls").as_bytes()).expect("a CA"));
    let http = reqwest::Client::builder()
        .tls_certs_only(certs)
        .build()
        .expect("a reqwest client");
    let middleware = TableauAuthMiddleware::new(
        Client::builder(fake.base_url()).sign_in(pat()),
        http.clone(),
    )
    .expect("middleware");
    let session = middleware.client().clone();
    (ClientBuilder::new(http).with(middleware).build(), session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_another_server_passes_through_without_a_token() {
    let (tableau, other) = (fake(), fake());
    let (http, _) = stack(&tableau, &[&other]);
    let url = format!("{}/api/3.25/serverinfo", other.base_url());
    let response = http.get(url).send().await.expect("passed through");
    assert!(response.status().is_success());
    let seen = other.request_log();
    assert_eq!(seen.len(), 1);
    assert!(
        !seen[0].headers.contains_key("x-tableau-auth"),
        "no token to another server"
    );
    assert!(
        tableau.request_log().is_empty(),
        "no sign-in for a request that is not ours"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_the_server_sign_in_once_and_clones_share_the_session() {
    let tableau = fake();
    let (http, _) = stack(&tableau, &[]);
    let url = format!("{}/api/3.25/sessions/current", tableau.base_url());
    let clones: Vec<_> = (0..16).map(|_| (http.clone(), url.clone())).collect();
    let tasks: Vec<_> = clones
        .into_iter()
        .map(|(http, url)| tokio::spawn(async move { http.get(url).send().await }))
        .collect();
    for task in tasks {
        let response = task.await.expect("task").expect("a call");
        assert_eq!(response.status(), 200);
    }
    assert_eq!(sign_ins(&tableau.request_log()), 1);
    let authorized = tableau
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with("/sessions/current"))
        .all(|r| r.headers.contains_key("x-tableau-auth"));
    assert!(authorized);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_cannot_be_cloned_is_not_replayed_but_a_buffered_one_is() {
    let tableau = fake();
    let (http, session) = stack(&tableau, &[]);
    session.sign_in(pat()).await.expect("signed in");
    let url = session
        .api_url("sessions/current")
        .expect("a URL")
        .to_string();
    // The server ends the session: the next request must be replayed after a new sign-in.
    tableau.control().drop_sessions(None);
    let streaming = Body::wrap(http_body_util::Full::new(bytes::Bytes::from_static(b"x")));
    let e = http
        .get(url.clone())
        .body(streaming)
        .send()
        .await
        .expect_err("no replay of a stream");
    assert!(matches!(Error::of(&e), Some(Error::NotReplayable)), "{e:?}");
    assert!(e.to_string().contains("cannot be cloned"), "{e}");
    // A buffered body is replayed after the one shared re-sign-in.
    tableau.control().drop_sessions(None);
    let response = http.get(url).body("x").send().await.expect("replayed");
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_exchanges_use_the_callers_client() {
    // A reqwest client that does not trust the fake: the sign-in fails with a typed transport
    // error naming TLS, so the middleware's exchanges went through it.
    use_ring();
    let tableau = fake();
    let http = reqwest::Client::builder()
        .tls_certs_only(std::iter::empty::<Certificate>())
        .build()
        .expect("client");
    let middleware = TableauAuthMiddleware::new(
        Client::builder(tableau.base_url()).sign_in(pat()),
        http.clone(),
    )
    .expect("middleware");
    let session = Arc::new(middleware.client().clone());
    let error = session.sign_in(pat()).await.expect_err("untrusted");
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
    assert!(tableau.request_log().is_empty());
}

#[path = "../examples/service.rs"]
#[allow(dead_code)]
mod service;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_example_signs_in_once_for_all_its_tasks() {
    let tableau = fake();
    let report = service::run(service::Settings {
        server: tableau.base_url().to_owned(),
        site: String::new(),
        pat_name: sample::USER_PAT_NAME.to_owned(),
        pat_secret: sample::USER_PAT_SECRET.to_owned(),
        ca_pem: Some(tableau.ca_pem().expect("tls").as_bytes().to_vec()),
        tasks: 24,
    })
    .await
    .expect("the example runs");
    assert_eq!((report.ok, report.failed), (24, 0), "{report:?}");
    assert_eq!(sign_ins(&tableau.request_log()), 1);
    assert_eq!(report.events, ["signed in (generation 1)"]);
    let shown = format!("{report:?}");
    assert!(!shown.contains(sample::USER_PAT_SECRET));
}
