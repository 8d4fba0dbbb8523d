//! Every fault of the fake, injected on the sign-in and on the caller's own `send`, over
//! loopback TLS: the typed error that comes out, the limit that bounds it, and that the client is
//! still usable once the fault is cleared. Also TLS trust (extra CA, untrusted, the dangerous
//! switch) and a refused connection.
//!
//! Elapsed times are only checked against an upper bound tied to a configured limit (timeout,
//! retry cap), or a lower bound tied to a `Retry-After`, never as a speed goal.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tableau_auth_hyper::proto::{RetryAfter, SignedIn};

const FIVE_S: Duration = Duration::from_secs(5);

/// What a fault on the sign-in left behind.
struct SignInFault {
    fake: FakeServer,
    client: Client,
    result: Result<SignedIn, Error>,
    started: Instant,
}

/// Probes the version first (so the fault hits the sign-in itself), then signs in with `fault`
/// on `POST auth/signin`.
async fn on_sign_in(
    fault: Fault,
    tweak: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> SignInFault {
    let fake = start().await;
    let client = tweak(builder(&fake)).build().expect("client");
    client.server_info().await.expect("server info");
    fake.control()
        .add_fault(FaultRule::exact(SIGNIN, fault).method("POST"));
    let started = Instant::now();
    let result = client.sign_in(password()).await;
    SignInFault {
        fake,
        client,
        result,
        started,
    }
}

impl SignInFault {
    fn err(&self) -> &Error {
        match &self.result {
            Err(e) => e,
            Ok(s) => panic!("expected an error, got {s:?}"),
        }
    }

    /// The failed sign-in left the client idle and not busy; once the fault is gone the same
    /// client signs in and works.
    async fn recovers(self) {
        assert!(!self.client.with_session(|s| s.is_busy()));
        assert!(!self.client.is_signed_in());
        self.fake.control().clear_faults();
        let signed_in = self
            .client
            .sign_in(password())
            .await
            .expect("sign-in after the fault");
        assert_eq!(signed_in.user_id.as_str(), sample::USER_ID);
        whoami(&self.client, Format::Xml)
            .await
            .expect("whoami after the fault");
    }
}

/// What a fault on the caller's `GET sessions/current` left behind.
struct SendFault {
    fake: FakeServer,
    client: Client,
    token: String,
    sign_ins: usize,
    result: Result<http::Response<Vec<u8>>, Error>,
    started: Instant,
}

async fn on_send(fault: Fault, tweak: impl FnOnce(ClientBuilder) -> ClientBuilder) -> SendFault {
    on_send_rule(FaultRule::exact(CURRENT, fault), tweak).await
}

async fn on_send_rule(
    rule: FaultRule,
    tweak: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> SendFault {
    let fake = start().await;
    let client = tweak(builder(&fake)).build().expect("client");
    client.sign_in(password()).await.expect("sign-in");
    let token = token_of(&client);
    let sign_ins = sign_ins(&fake.request_log());
    fake.control().add_fault(rule);
    let request = current_request(&client);
    let started = Instant::now();
    let result = client.send(request).await;
    SendFault {
        fake,
        client,
        token,
        sign_ins,
        result,
        started,
    }
}

impl SendFault {
    fn err(&self) -> &Error {
        match &self.result {
            Err(e) => e,
            Ok(r) => panic!("expected an error, got HTTP {}", r.status()),
        }
    }

    /// The session survived the failed call: same token, no extra sign-in, the next call works.
    async fn recovers(self) {
        assert!(self.client.is_signed_in());
        assert_eq!(token_of(&self.client), self.token);
        self.fake.control().clear_faults();
        let me = whoami(&self.client, Format::Xml)
            .await
            .expect("whoami after the fault");
        assert_eq!(me.user_id, sample::USER_ID);
        assert_eq!(token_of(&self.client), self.token);
        assert_eq!(sign_ins(&self.fake.request_log()), self.sign_ins);
    }

    /// The `sessions/current` requests the fake saw.
    fn calls(&self) -> usize {
        self.fake
            .request_log()
            .iter()
            .filter(|e| e.path == CURRENT)
            .count()
    }
}

fn timeout(seconds: u64) -> impl FnOnce(ClientBuilder) -> ClientBuilder {
    move |b| b.exchange_timeout(Duration::from_secs(seconds))
}

// ---------------------------------------------------------------------------------------------
// Delay, Hang

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_shorter_than_the_timeout_succeeds() {
    let delay = Fault::Delay(Duration::from_millis(300));
    let case = on_sign_in(delay.clone(), timeout(3)).await;
    let signed_in = case.result.as_ref().expect("a slow sign-in succeeds");
    assert_eq!(signed_in.site_id.as_str(), sample::DEFAULT_SITE_ID);
    assert!(case.started.elapsed() >= Duration::from_millis(300));
    assert_within(case.started, Duration::from_secs(3), "slow sign-in");

    let case = on_send(delay, timeout(3)).await;
    let response = case.result.as_ref().expect("a slow call succeeds");
    assert_eq!(parse_me(response.body()).user_id, sample::USER_ID);
    assert_eq!(case.calls(), 1);
    case.recovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_longer_than_the_timeout_times_out() {
    let delay = Fault::Delay(Duration::from_secs(30));
    let case = on_sign_in(delay.clone(), timeout(1)).await;
    match case.err() {
        Error::Timeout { limit, phase } => {
            assert_eq!(*limit, Duration::from_secs(1));
            assert_eq!(*phase, "exchange");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_within(case.started, FIVE_S, "1 s exchange timeout on sign-in");
    case.recovers().await;

    let case = on_send(delay, timeout(1)).await;
    assert!(case.err().is_timeout(), "{:?}", case.err());
    assert_within(case.started, FIVE_S, "1 s exchange timeout on send");
    assert_eq!(case.calls(), 1, "a timeout is not retried");
    case.recovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_times_out_within_one_second() {
    let case = on_sign_in(Fault::Hang, timeout(1)).await;
    assert!(case.err().is_timeout(), "{:?}", case.err());
    assert!(case.started.elapsed() >= Duration::from_secs(1));
    assert_within(case.started, FIVE_S, "hang on sign-in, 1 s timeout");
    let log = case.fake.request_log();
    assert_eq!(log.last().map(|e| e.status), Some(None), "never answered");
    case.recovers().await;

    let case = on_send(Fault::Hang, timeout(1)).await;
    assert!(case.err().is_timeout(), "{:?}", case.err());
    assert_within(case.started, FIVE_S, "hang on send, 1 s timeout");
    case.recovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_head_timeout_alone_bounds_a_hang() {
    let tweak = |b: ClientBuilder| {
        b.exchange_timeout(Duration::from_secs(60))
            .read_timeout(Duration::from_secs(1))
    };
    let case = on_sign_in(Fault::Hang, tweak).await;
    match case.err() {
        Error::Timeout { phase, limit } => {
            assert_eq!(*phase, "response headers");
            assert_eq!(*limit, Duration::from_secs(1));
        }
        other => panic!("{other:?}"),
    }
    assert_within(case.started, FIVE_S, "hang, 1 s head timeout");
    case.recovers().await;
}

// ---------------------------------------------------------------------------------------------
// Status 503 / 429 and Retry-After

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_waits_for_retry_after_and_succeeds() {
    for code in [503, 429] {
        let rule = FaultRule::exact(CURRENT, status(code, Some("1"))).once();
        let case = on_send_rule(rule, |b| b).await;
        let response = case.result.as_ref().expect("retried and succeeded");
        assert_eq!(parse_me(response.body()).user_id, sample::USER_ID);
        let log = case.fake.request_log();
        let calls: Vec<_> = log.iter().filter(|e| e.path == CURRENT).collect();
        assert_eq!(calls.len(), 2, "{:?}", describe(&log));
        assert_eq!(calls[0].status, Some(code));
        assert_eq!(calls[1].status, Some(200));
        assert!(case.started.elapsed() >= Duration::from_secs(1), "waited");
        assert_within(case.started, FIVE_S, "one retry after 1 s");
        case.recovers().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_beyond_the_cap_is_returned_at_once() {
    for code in [503, 429] {
        let case = on_send(status(code, Some("30")), |b| {
            b.retries(3, Duration::from_secs(5))
        })
        .await;
        let err = case.err();
        assert_eq!(
            err.as_tableau()
                .and_then(proto::Error::status)
                .map(|s| s.as_u16()),
            Some(code)
        );
        assert_eq!(
            err.as_tableau().and_then(proto::Error::retry_after),
            Some(RetryAfter::Delay(Duration::from_secs(30)))
        );
        assert_eq!(case.calls(), 1, "not retried");
        assert_within(case.started, FIVE_S, "Retry-After beyond the cap");
        case.recovers().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_bounded_and_a_past_date_means_no_wait() {
    let case = on_send(status(503, Some("0")), |b| {
        b.retries(2, Duration::from_secs(60))
    })
    .await;
    assert!(
        case.err()
            .as_tableau()
            .is_some_and(proto::Error::is_retryable)
    );
    assert_eq!(case.calls(), 3, "the call and two retries");
    case.recovers().await;

    let rule = FaultRule::exact(CURRENT, status(429, Some("Sun, 06 Nov 1994 08:49:37 GMT"))).once();
    let case = on_send_rule(rule, |b| b.retries(1, Duration::from_secs(1))).await;
    assert_eq!(
        case.result.as_ref().map(|r| r.status()).ok(),
        Some(http::StatusCode::OK)
    );
    assert_eq!(case.calls(), 2);
    assert_within(case.started, Duration::from_secs(2), "a past date");
    case.recovers().await;

    // An HTTP date two seconds ahead is honoured like "2".
    let at = std::time::SystemTime::now() + Duration::from_secs(2);
    let date = httpdate::fmt_http_date(at);
    let rule = FaultRule::exact(CURRENT, status(503, Some(&date))).once();
    let case = on_send_rule(rule, |b| b).await;
    assert!(case.result.is_ok());
    assert!(
        case.started.elapsed() >= Duration::from_millis(900),
        "waited"
    );
    assert_within(case.started, FIVE_S, "an HTTP date 2 s ahead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_sign_in_waits_and_succeeds_for_every_task() {
    for code in [503, 429] {
        let fake = start().await;
        let events = Events::default();
        let client = events
            .hook(builder(&fake).sign_in(password()))
            .build()
            .expect("client");
        // The version probe first, so that the fault hits the sign-in itself.
        client.server_info().await.expect("server info");
        fake.control().add_fault(
            FaultRule::exact(SIGNIN, status(code, Some("1")))
                .method("POST")
                .once(),
        );
        let started = Instant::now();
        for task in spawn_gets(&client, &current_url(&fake), 20) {
            let response = task.await.expect("no panic").expect("every task succeeds");
            assert_eq!(parse_me(response.body()).user_id, sample::USER_ID);
        }
        assert!(started.elapsed() >= Duration::from_secs(1), "waited");
        assert_within(started, FIVE_S, "one wait of 1 s");
        let log = fake.request_log();
        assert_eq!(sign_ins(&log), 2, "{:?}", describe(&log));
        assert_eq!(with_status(&log, code), 1, "one window for every task");
        match events.all().as_slice() {
            [
                SessionEvent::Throttled { status, .. },
                SessionEvent::SignedIn { generation: 1 },
            ] => assert_eq!(status.as_u16(), code),
            other => panic!("one window, one sign-in: {other:?}"),
        }

        // An explicit sign-in waits too.
        fake.control().add_fault(
            FaultRule::exact(SIGNIN, status(code, Some("1")))
                .method("POST")
                .once(),
        );
        let started = Instant::now();
        client.sign_in(password()).await.expect("sign-in");
        assert!(started.elapsed() >= Duration::from_secs(1), "waited");
        assert_within(started, FIVE_S, "one wait of 1 s");
        assert_eq!(client.generation(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_throttled_beyond_the_caps_is_a_typed_error() {
    for code in [503, 429] {
        let case = on_sign_in(status(code, Some("1")), |b| {
            b.retries(1, Duration::from_secs(5))
        })
        .await;
        match case.err() {
            Error::Tableau(proto::Error::Throttled {
                status,
                retries,
                max_retries,
                ..
            }) => {
                assert_eq!(status.as_u16(), code);
                assert_eq!((*retries, *max_retries), (1, 1));
            }
            other => panic!("expected Throttled, got {other:?}"),
        }
        assert!(
            case.err()
                .as_tableau()
                .is_some_and(proto::Error::is_retryable)
        );
        assert_eq!(
            case.err().as_tableau().and_then(proto::Error::retry_after),
            Some(RetryAfter::Delay(Duration::from_secs(1)))
        );
        assert_eq!(sign_ins(&case.fake.request_log()), 2, "one retry");
        assert!(case.started.elapsed() >= Duration::from_secs(1), "waited");
        assert_within(case.started, FIVE_S, "one retry after 1 s");
        case.recovers().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_current_session_waits_and_asks_again() {
    let fake = start().await;
    let events = Events::default();
    let client = events
        .hook(builder(&fake).retries(3, FIVE_S))
        .build()
        .expect("client");
    client.sign_in(password()).await.expect("sign-in");
    fake.control().add_fault(
        FaultRule::exact(CURRENT, status(429, Some("1")))
            .method("GET")
            .once(),
    );
    let before = fake.request_log().len();
    let started = Instant::now();
    let me = client.current_session().await.expect("asked again");
    assert_eq!(me.user_id.as_str(), sample::USER_ID);
    assert!(started.elapsed() >= Duration::from_secs(1), "waited");
    assert_within(started, FIVE_S, "one retry after 1 s");
    assert_eq!(
        describe(&log_from(&fake, before)),
        [
            "GET /api/3.25/sessions/current 429",
            "GET /api/3.25/sessions/current 200"
        ]
    );
    assert_eq!(
        events.count(|e| matches!(e, SessionEvent::Throttled { .. })),
        1
    );

    // A wait beyond the cap is the error at once.
    fake.control().add_fault(
        FaultRule::exact(CURRENT, status(503, Some("30")))
            .method("GET")
            .once(),
    );
    let started = Instant::now();
    let err = client.current_session().await.expect_err("beyond the cap");
    assert!(
        matches!(err, Error::Tableau(proto::Error::Throttled { .. })),
        "{err:?}"
    );
    assert_eq!(
        err.as_tableau()
            .and_then(proto::Error::status)
            .map(|s| s.as_u16()),
        Some(503)
    );
    assert_within(started, FIVE_S, "not waited");
    client.current_session().await.expect("works again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_statuses_are_typed() {
    let case = on_sign_in(status(502, None), |b| b).await;
    match case.err() {
        Error::Tableau(proto::Error::Status {
            status, snippet, ..
        }) => {
            assert_eq!(status.as_u16(), 502);
            assert!(snippet.contains("Error 502"), "{snippet}");
        }
        other => panic!("expected Status, got {other:?}"),
    }
    case.recovers().await;

    let body = tableau_error_xml("500000", "Internal Server Error", "boom");
    let fault = Fault::Status {
        status: 500,
        retry_after: None,
        body: Some(body),
    };
    let case = on_send(fault, |b| b).await;
    assert_eq!(case.err().code(), Some("500000"));
    assert_eq!(case.calls(), 1);
    case.recovers().await;
}

// ---------------------------------------------------------------------------------------------
// Garbage, Truncated, Huge, DropConnection

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_a_typed_error() {
    let case = on_sign_in(Fault::Garbage, |b| b).await;
    assert!(
        matches!(
            case.err(),
            Error::Tableau(proto::Error::Status { .. } | proto::Error::Decode { .. })
        ),
        "{:?}",
        case.err()
    );
    case.recovers().await;

    // On the version probe too.
    let fake = start().await;
    fake.control()
        .add_fault(FaultRule::exact(PROBE, Fault::Garbage).once());
    let client = client(&fake, Format::Json);
    let err = client.sign_in(password()).await.expect_err("garbage probe");
    assert!(
        matches!(
            err,
            Error::Tableau(proto::Error::Status { .. } | proto::Error::Decode { .. })
        ),
        "{err:?}"
    );
    assert_eq!(sign_ins(&fake.request_log()), 0);
    client
        .sign_in(password())
        .await
        .expect("the next sign-in probes again");

    // On send, a 2xx body is the caller's to parse: handed back as it came.
    let case = on_send(Fault::Garbage, |b| b).await;
    assert_eq!(
        case.result.as_ref().map(|r| r.status().as_u16()).ok(),
        Some(200)
    );
    case.recovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_body_is_a_transport_error() {
    is_a_transport_error(Fault::Truncated, "truncated sign-in").await;
}

/// `fault` on a sign-in is a transport error within [`FIVE_S`] (`what` names it), and so is it on
/// a send; the client recovers from both.
async fn is_a_transport_error(fault: Fault, what: &str) {
    let case = on_sign_in(fault.clone(), timeout(5)).await;
    assert!(
        matches!(case.err(), Error::Transport(_)),
        "{:?}",
        case.err()
    );
    assert_within(case.started, FIVE_S, what);
    case.recovers().await;

    let case = on_send(fault, timeout(5)).await;
    assert!(
        matches!(case.err(), Error::Transport(_)),
        "{:?}",
        case.err()
    );
    case.recovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_head_past_32_kib_is_a_transport_error() {
    // As the blocking client (tableau-auth-ureq's tests/e2e_faults.rs): heads up to 32 KiB.
    let too_big = |e: &Error| matches!(e, Error::Transport(m) if m == HEAD_TOO_LARGE);
    let case = on_sign_in(Fault::LargeHead { bytes: 40 << 10 }, |b| b).await;
    assert!(too_big(case.err()), "{:?}", case.err());
    case.recovers().await;

    let case = on_send(Fault::LargeHead { bytes: 40 << 10 }, |b| b).await;
    assert!(too_big(case.err()), "{:?}", case.err());
    case.recovers().await;

    let case = on_send(Fault::LargeHead { bytes: 24 << 10 }, |b| b).await;
    let response = case.result.as_ref().expect("a 24 KiB head fits");
    assert_eq!(response.status(), 200);
    assert_eq!(head_padding(response), 24 << 10);
    case.recovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_body_is_refused_at_max_body() {
    let huge = Fault::Huge { bytes: 64 << 20 };
    let limit = |b: ClientBuilder| b.max_body(64 << 10).exchange_timeout(FIVE_S);
    let case = on_sign_in(huge.clone(), limit).await;
    assert!(
        matches!(
            case.err(),
            Error::Tableau(proto::Error::TooLarge { limit: 65_536 })
        ),
        "{:?}",
        case.err()
    );
    assert_within(case.started, FIVE_S, "huge sign-in body");
    case.recovers().await;

    let case = on_send(huge, limit).await;
    assert!(
        matches!(case.err(), Error::Tableau(proto::Error::TooLarge { .. })),
        "{:?}",
        case.err()
    );
    case.recovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_a_transport_error() {
    is_a_transport_error(Fault::DropConnection, "dropped sign-in").await;
}

// ---------------------------------------------------------------------------------------------
// TLS and connecting

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_trust_is_checked() {
    let fake = start().await;
    // The Mozilla roots alone do not know the fake's CA.
    let untrusted = Client::builder(fake.base_url()).build().expect("client");
    let err = untrusted.server_info().await.expect_err("untrusted");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(err.to_string().contains("ca_pem"), "{err}");

    // Only the fake's CA.
    let only_ca = builder(&fake)
        .built_in_roots(false)
        .build()
        .expect("client");
    only_ca.server_info().await.expect("trusted CA");

    // Loudly dangerous: anything goes.
    let danger = Client::builder(fake.base_url())
        .danger_accept_invalid_certs(true)
        .build()
        .expect("client");
    danger.sign_in(password()).await.expect("no verification");

    // A client certificate is presented (the fake does not ask for one: the handshake works).
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["client.example".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let with_cert = builder(&fake)
        .client_cert_pem(cert.pem(), key.serialize_pem())
        .build()
        .expect("client");
    with_cert.server_info().await.expect("server info");
}

/// Mutual TLS, as the blocking client's `e2e_security.rs` tests it: the fake asks for a client
/// certificate from its CA; with it the client signs in and calls, without it (or with another
/// CA's) the handshake fails with a typed error and nothing reaches the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_signs_in_with_the_client_certificate_only() {
    let pki = ClientPki::generate();
    let options = FakeOptions::builder()
        .redirect_listener(false)
        .client_ca(pki.ca_pem.clone())
        .build();
    let fake = FakeServer::start(FakeConfig::sample(), options)
        .await
        .expect("the fake");
    let client = builder(&fake)
        .client_cert_pem(pki.cert_pem.clone(), pki.key_pem.clone())
        .build()
        .expect("client");
    client
        .sign_in(password())
        .await
        .expect("sign-in with the certificate");
    whoami(&client, Format::Xml)
        .await
        .expect("a call with the certificate");
    assert!(!format!("{client:?}").contains("PRIVATE KEY"));
    let reached = fake.request_log().len();
    for presented in [None, Some(pki.stranger.clone())] {
        let mut b = builder(&fake);
        if let Some((cert, key)) = presented.clone() {
            b = b.client_cert_pem(cert, key);
        }
        let client = b.build().expect("client");
        let e = client
            .sign_in(password())
            .await
            .expect_err("no sign-in without the right certificate");
        assert!(
            matches!(e, Error::Tls(_) | Error::Transport(_)),
            "{}: {e:?}",
            presented.is_some()
        );
        assert!(!format!("{e} {e:?}").contains("PRIVATE KEY"));
    }
    assert_eq!(fake.request_log().len(), reached, "nothing else reached it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_a_transport_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let client = Client::builder(format!("https://127.0.0.1:{port}"))
        .connect_timeout(Duration::from_secs(1))
        .build()
        .expect("client");
    let started = Instant::now();
    let err = client.server_info().await.expect_err("refused");
    match &err {
        Error::Transport(text) => assert!(text.starts_with("could not connect"), "{text}"),
        other => panic!("{other:?}"),
    }
    assert_within(started, FIVE_S, "refused connection");
}
