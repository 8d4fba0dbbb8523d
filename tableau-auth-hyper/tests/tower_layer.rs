//! The tower layer over the client's own pooled hyper client (and over recording services):
//! the token header (sensitive) on every request, foreign URIs refused before the inner service
//! is called, one single-flight re-authentication and one replay on `401002` across many
//! concurrent calls, a second rejection as an error, other 401s handed back with their body,
//! throttling shared with the client, `poll_ready` delegated, and the tower-http accessors.
#![cfg(feature = "tower")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::*;
use tableau_auth_hyper::bytes::Bytes;
use tableau_auth_hyper::http_body_util::{BodyExt as _, Full};
use tableau_auth_hyper::hyper::body::Body;
use tableau_auth_hyper::{HyperClient, TableauAuth, TableauAuthLayer};
use tower::{Layer, Service, ServiceExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn request(url: &http::Uri) -> http::Request<Full<Bytes>> {
    http::Request::get(url.clone())
        .header("accept", "application/xml")
        .body(Full::new(Bytes::new()))
        .expect("request")
}

async fn body_text<B>(response: http::Response<B>) -> String
where
    B: Body,
    B::Error: std::fmt::Debug,
{
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Forwards to the hyper client and records every request's headers.
#[derive(Clone)]
struct Recording {
    inner: HyperClient,
    seen: Arc<Mutex<Vec<http::HeaderMap>>>,
}

impl Service<http::Request<Full<Bytes>>> for Recording {
    type Response = <HyperClient as Service<http::Request<Full<Bytes>>>>::Response;
    type Error = <HyperClient as Service<http::Request<Full<Bytes>>>>::Error;
    type Future = <HyperClient as Service<http::Request<Full<Bytes>>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: http::Request<Full<Bytes>>) -> Self::Future {
        self.seen.lock().unwrap().push(request.headers().clone());
        Service::call(&mut self.inner, request)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_adds_the_sensitive_token_header() {
    let fake = start().await;
    let client = builder(&fake).sign_in(password()).build().expect("client");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let inner = Recording {
        inner: client.hyper_client(),
        seen: seen.clone(),
    };
    let service = TableauAuthLayer::new(&client).layer(inner);
    let url = current_url(&fake);
    let response = service.oneshot(request(&url)).await.expect("call");
    assert_eq!(response.status(), 200);
    assert_eq!(
        parse_me(body_text(response).await.as_bytes()).user_id,
        sample::USER_ID
    );
    let seen = seen.lock().unwrap();
    let header = seen[0].get("x-tableau-auth").expect("the token header");
    assert!(header.is_sensitive());
    assert_eq!(header.to_str().expect("ASCII"), token_of(&client));
    assert_eq!(format!("{header:?}"), "Sensitive");
    let log = fake.request_log();
    assert_eq!(
        log.last().and_then(|e| e.token()),
        Some(token_of(&client).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_another_server_never_reaches_the_inner_service() {
    let fake = start().await;
    let client = builder(&fake).sign_in(password()).build().expect("client");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let inner = tower::service_fn(move |_request: http::Request<Full<Bytes>>| {
        counted.fetch_add(1, Ordering::Relaxed);
        async { Ok::<_, BoxError>(http::Response::new(Full::new(Bytes::new()))) }
    });
    let mut service = TableauAuth::new(inner, &client);
    for url in [
        "https://evil.example/api/3.25/sessions/current".to_owned(),
        fake.base_url().replace("https://", "http://") + CURRENT,
        CURRENT.to_owned(),
    ] {
        let err = service
            .ready()
            .await
            .expect("ready")
            .call(request(&url.parse().expect("URI")))
            .await
            .expect_err("refused");
        let err = err.downcast_ref::<Error>().expect("our error");
        assert!(
            matches!(
                err.as_tableau(),
                Some(proto::Error::Misuse(proto::Misuse::ForeignUrl))
            ),
            "{url}: {err:?}"
        );
    }
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_session_is_replaced_once_for_all_concurrent_calls() {
    const CALLS: usize = 100;
    let fake = start().await;
    let events = Events::default();
    let client = events
        .hook(builder(&fake).sign_in(pat()))
        .build()
        .expect("client");
    let service = TableauAuthLayer::new(&client).layer(client.hyper_client());
    let url = current_url(&fake);
    service
        .clone()
        .oneshot(request(&url))
        .await
        .expect("first call");
    fake.control().drop_sessions(None);
    let tasks: Vec<_> = (0..CALLS)
        .map(|_| {
            let service = service.clone();
            let url = url.clone();
            tokio::spawn(async move { service.oneshot(request(&url)).await })
        })
        .collect();
    for task in tasks {
        let response = task.await.expect("no panic").expect("call");
        assert_eq!(response.status(), 200);
    }
    let log = fake.request_log();
    assert_eq!(sign_ins(&log), 2, "one renewal for {CALLS} calls");
    assert_eq!(
        log.iter()
            .filter(|e| e.path == CURRENT && e.status == Some(200))
            .count(),
        CALLS + 1
    );
    assert!(events.all().contains(&SessionEvent::Renewed {
        generation: 2,
        reason: RenewReason::Rejected(Ended::Superseded)
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_rejected_again_is_an_error() {
    let fake = start().await;
    let client = builder(&fake).sign_in(password()).build().expect("client");
    let service = TableauAuthLayer::new(&client).layer(client.hyper_client());
    let url = current_url(&fake);
    client.current_or_sign_in().await.expect("sign-in");
    let rejection = Fault::Status {
        status: 401,
        retry_after: None,
        body: Some(tableau_error_xml("401002", "Unauthorized", "expired")),
    };
    fake.control()
        .add_fault(FaultRule::exact(CURRENT, rejection).times(2));
    let err = service
        .clone()
        .oneshot(request(&url))
        .await
        .expect_err("rejected twice");
    let err = err.downcast_ref::<Error>().expect("our error");
    assert!(
        matches!(err, Error::Tableau(proto::Error::SessionEnded { .. })),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("401002"));
    let log = fake.request_log();
    assert_eq!(log.iter().filter(|e| e.path == CURRENT).count(), 2);
    assert_eq!(sign_ins(&log), 2);
    let response = service.oneshot(request(&url)).await.expect("works again");
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_401_is_handed_back_with_its_body() {
    let fake = start().await;
    let client = builder(&fake).sign_in(password()).build().expect("client");
    let service = TableauAuthLayer::new(&client).layer(client.hyper_client());
    let url = current_url(&fake);
    client.current_or_sign_in().await.expect("sign-in");
    let refusal = Fault::Status {
        status: 401,
        retry_after: None,
        body: Some(tableau_error_xml("401001", "Signin Error", "nope")),
    };
    fake.control()
        .add_fault(FaultRule::exact(CURRENT, refusal).once());
    let response = service.oneshot(request(&url)).await.expect("a response");
    assert_eq!(response.status(), 401);
    assert!(body_text(response).await.contains("401001"));
    assert_eq!(sign_ins(&fake.request_log()), 1, "no re-authentication");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_waited_out_and_shared_with_the_client() {
    let fake = start().await;
    let client = builder(&fake)
        .sign_in(password())
        .retries(3, Duration::from_secs(5))
        .build()
        .expect("client");
    let service = TableauAuthLayer::new(&client).layer(client.hyper_client());
    let url = current_url(&fake);
    client.current_or_sign_in().await.expect("sign-in");
    fake.control()
        .add_fault(FaultRule::exact(CURRENT, status(429, Some("1"))).once());
    let before = fake.request_log().len();
    let started = Instant::now();
    let layered = {
        let service = service.clone();
        let url = url.clone();
        tokio::spawn(async move { service.oneshot(request(&url)).await })
    };
    // The client's own request, sent during the window the layer's request opened, waits for
    // it too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = client
        .send(current_request(&client))
        .await
        .expect("the client's call");
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_secs(1), "waited");
    let response = layered.await.expect("no panic").expect("a response");
    assert_eq!(response.status(), 200, "waited out and retried");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_within(started, Duration::from_secs(5), "one window");
    let log = log_from(&fake, before);
    assert_eq!(with_status(&log, 429), 1, "{:?}", describe(&log));
    assert_eq!(with_status(&log, 200), 2, "{:?}", describe(&log));

    // Beyond the caps, the server's answer is handed back as it came, at once.
    fake.control()
        .add_fault(FaultRule::exact(CURRENT, status(503, Some("30"))).once());
    let started = Instant::now();
    let response = service.oneshot(request(&url)).await.expect("a response");
    assert_eq!(response.status(), 503, "passed back");
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"30"[..])
    );
    assert_within(started, Duration::from_secs(5), "not waited");
}

/// Not ready `pending` times, then ready; counts polls; fails when told to.
#[derive(Clone)]
struct Gate {
    pending: Arc<AtomicUsize>,
    polls: Arc<AtomicUsize>,
    fail: bool,
}

impl Service<http::Request<Full<Bytes>>> for Gate {
    type Response = http::Response<Full<Bytes>>;
    type Error = BoxError;
    type Future = std::future::Ready<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        if self.fail {
            return Poll::Ready(Err("inner not ready".into()));
        }
        if self.pending.load(Ordering::Relaxed) > 0 {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: http::Request<Full<Bytes>>) -> Self::Future {
        std::future::ready(Ok(http::Response::new(Full::new(Bytes::from_static(
            b"ok",
        )))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_ready_is_delegated_and_the_accessors_work() {
    let fake = start().await;
    let client = builder(&fake).sign_in(password()).build().expect("client");
    let gate = Gate {
        pending: Arc::new(AtomicUsize::new(2)),
        polls: Arc::new(AtomicUsize::new(0)),
        fail: false,
    };
    let mut service = TableauAuthLayer::new(&client).layer(gate.clone());
    let response = service
        .ready()
        .await
        .expect("ready")
        .call(request(&current_url(&fake)))
        .await
        .expect("call");
    assert_eq!(body_text(response).await, "ok");
    assert_eq!(
        gate.polls.load(Ordering::Relaxed),
        3,
        "two pending, one ready"
    );

    let mut failing = TableauAuth::new(
        Gate {
            fail: true,
            ..gate.clone()
        },
        &client,
    );
    let err = failing.ready().await.err().expect("not ready");
    assert_eq!(err.to_string(), "inner not ready");

    // tower-http's accessors, and Clone.
    let copy = service.clone();
    assert!(Arc::ptr_eq(&copy.get_ref().polls, &gate.polls));
    service.get_mut().fail = true;
    assert!(service.get_ref().fail);
    assert!(!copy.get_ref().fail);
    assert_eq!(service.client().generation(), copy.client().generation());
    let inner = service.into_inner();
    assert!(inner.fail);
}
