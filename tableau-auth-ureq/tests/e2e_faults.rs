//! Every fault of the fake, injected on the sign-in and on the caller's own `send`, over
//! loopback TLS: the typed error that comes out, the limit that bounds it, and that the client is
//! still usable once the fault is cleared. Throttling (429/503) is waited out on every exchange
//! (sign-in, sign-out, switch site, the caller's own calls), as the core's policy decides.
//!
//! Elapsed times are only ever checked against an upper bound tied to a configured limit
//! (exchange or read timeout, retry cap), never as a speed goal.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tableau_auth_ureq::proto::{RetryAfter, SignedIn};

/// What a fault on the sign-in left behind.
struct SignInFault {
    fake: FakeServer,
    client: Client,
    result: Result<SignedIn, Error>,
    started: Instant,
}

/// Probes the version first (so the fault hits the sign-in itself), then signs in with `fault`
/// on `POST auth/signin`.
fn on_sign_in(fault: Fault, tweak: impl FnOnce(ClientBuilder) -> ClientBuilder) -> SignInFault {
    on_sign_in_rule(FaultRule::exact(SIGNIN, fault).method("POST"), tweak)
}

fn on_sign_in_rule(
    rule: FaultRule,
    tweak: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> SignInFault {
    let fake = start();
    let mut client = tweak(builder(&fake)).build().expect("client");
    client.server_info().expect("server info");
    fake.control().add_fault(rule);
    let started = Instant::now();
    let result = client.sign_in(password());
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

    /// The slow sign-in succeeded with a single request.
    fn recovers_after_success(self) {
        assert!(self.client.session().is_signed_in());
        assert_eq!(sign_ins(&self.fake.request_log()), 1);
    }

    /// The failed sign-in left the client idle and not busy; once the fault is gone the same
    /// client signs in and works.
    fn recovers(mut self) {
        assert!(!self.client.session().is_busy());
        assert!(!self.client.session().is_signed_in());
        self.fake.control().clear_faults();
        let signed_in = self
            .client
            .sign_in(password())
            .expect("sign-in after the fault");
        assert_eq!(signed_in.user_id.as_str(), sample::USER_ID);
        whoami(&mut self.client).expect("whoami after the fault");
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

fn on_send(fault: Fault, tweak: impl FnOnce(ClientBuilder) -> ClientBuilder) -> SendFault {
    on_send_rule(FaultRule::exact(CURRENT, fault), tweak)
}

fn on_send_rule(rule: FaultRule, tweak: impl FnOnce(ClientBuilder) -> ClientBuilder) -> SendFault {
    let fake = start();
    let mut client = tweak(builder(&fake)).build().expect("client");
    client.sign_in(password()).expect("sign-in");
    let token = token_of(&client);
    let sign_ins = sign_ins(&fake.request_log());
    fake.control().add_fault(rule);
    let request = current_request(&client);
    let started = Instant::now();
    let result = client.send(request);
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
    fn recovers(mut self) {
        assert!(!self.client.session().is_busy());
        assert!(self.client.session().is_signed_in());
        assert_eq!(token_of(&self.client), self.token);
        self.fake.control().clear_faults();
        let me = whoami(&mut self.client).expect("whoami after the fault");
        assert_eq!(me.user_id, sample::USER_ID);
        assert_eq!(token_of(&self.client), self.token);
        assert_eq!(sign_ins(&self.fake.request_log()), self.sign_ins);
    }

    /// The `sessions/current` requests the fake saw (attempts of this `send`, and later ones).
    fn calls(&self) -> usize {
        self.fake
            .request_log()
            .iter()
            .filter(|e| e.path == CURRENT)
            .count()
    }
}

fn status(status: u16, retry_after: Option<&str>) -> Fault {
    Fault::Status {
        status,
        retry_after: retry_after.map(str::to_owned),
        body: None,
    }
}

fn timeout(seconds: u64) -> impl FnOnce(ClientBuilder) -> ClientBuilder {
    move |b| b.exchange_timeout(Duration::from_secs(seconds))
}

const FIVE_S: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Delay, Hang

#[test]
fn a_delay_shorter_than_the_timeout_succeeds() {
    let delay = Fault::Delay(Duration::from_millis(300));
    let case = on_sign_in(delay.clone(), timeout(3));
    let signed_in = case.result.as_ref().expect("a slow sign-in succeeds");
    assert_eq!(signed_in.site_id.as_str(), sample::DEFAULT_SITE_ID);
    assert_within(case.started, Duration::from_secs(3), "slow sign-in");
    case.recovers_after_success();

    let case = on_send(delay, timeout(3));
    let response = case.result.as_ref().expect("a slow call succeeds");
    assert_eq!(parse_me(response.body()).user_id, sample::USER_ID);
    assert_eq!(case.calls(), 1);
    case.recovers();
}

#[test]
fn a_delay_longer_than_the_timeout_times_out() {
    let delay = Fault::Delay(Duration::from_secs(30));
    let case = on_sign_in(delay.clone(), timeout(1));
    match case.err() {
        Error::Timeout { limit, .. } => assert_eq!(*limit, Duration::from_secs(1)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(case.err().is_timeout());
    assert_within(case.started, FIVE_S, "1 s exchange timeout on sign-in");
    case.recovers();

    let case = on_send(delay, timeout(1));
    assert!(case.err().is_timeout(), "{:?}", case.err());
    assert_within(case.started, FIVE_S, "1 s exchange timeout on send");
    assert_eq!(case.calls(), 1, "a timeout is not retried");
    case.recovers();
}

#[test]
fn a_hang_times_out_within_bound() {
    let case = on_sign_in(Fault::Hang, timeout(1));
    assert!(case.err().is_timeout(), "{:?}", case.err());
    assert_within(
        case.started,
        FIVE_S,
        "hang on sign-in, 1 s exchange timeout",
    );
    let log = case.fake.request_log();
    assert_eq!(log.last().map(|e| e.status), Some(None), "never answered");
    case.recovers();

    let case = on_send(Fault::Hang, timeout(1));
    assert!(case.err().is_timeout(), "{:?}", case.err());
    assert_within(case.started, FIVE_S, "hang on send, 1 s exchange timeout");
    case.recovers();
}

#[test]
fn the_read_timeout_alone_bounds_a_hang() {
    // The exchange limit is generous; the limit on waiting for the response headers cuts in.
    let tweak = |b: ClientBuilder| {
        b.exchange_timeout(Duration::from_secs(60))
            .read_timeout(Duration::from_secs(1))
    };
    let case = on_sign_in(Fault::Hang, tweak);
    assert!(case.err().is_timeout(), "{:?}", case.err());
    assert_within(case.started, FIVE_S, "hang, 1 s read timeout");
    case.recovers();
}

// ---------------------------------------------------------------------------------------------
// Status 503 / 429 and Retry-After

#[test]
fn send_waits_for_retry_after_and_succeeds() {
    for code in [503, 429] {
        let rule = FaultRule::exact(CURRENT, status(code, Some("1"))).once();
        let case = on_send_rule(rule, |b| b);
        let response = case.result.as_ref().expect("retried and succeeded");
        assert_eq!(response.status(), 200);
        assert_eq!(parse_me(response.body()).user_id, sample::USER_ID);
        let log = case.fake.request_log();
        let calls: Vec<_> = log.iter().filter(|e| e.path == CURRENT).collect();
        assert_eq!(calls.len(), 2, "{:?}", describe(&log));
        assert_eq!(calls[0].status, Some(code));
        assert_eq!(calls[1].status, Some(200));
        // Bounded by the one-second Retry-After plus the exchanges, well under the 60 s cap.
        assert_within(case.started, FIVE_S, "one retry after 1 s");
        case.recovers();
    }
}

#[test]
fn a_retry_after_beyond_the_cap_is_returned_at_once() {
    for code in [503, 429] {
        let case = on_send(status(code, Some("30")), |b| {
            b.retries(3, Duration::from_secs(5))
        });
        let err = case.err();
        assert_eq!(
            err.as_tableau()
                .and_then(proto::Error::status)
                .map(|s| s.as_u16()),
            Some(code)
        );
        assert!(err.as_tableau().is_some_and(proto::Error::is_retryable));
        assert_eq!(
            err.as_tableau().and_then(proto::Error::retry_after),
            Some(RetryAfter::Delay(Duration::from_secs(30)))
        );
        // The policy's verdict, naming the wait; the server's answer is its root.
        match err.as_tableau() {
            Some(proto::Error::Throttled {
                wait,
                retries,
                max_wait,
                ..
            }) => {
                assert_eq!(
                    (*wait, *retries, *max_wait),
                    (Duration::from_secs(30), 0, FIVE_S)
                );
            }
            _ => panic!("expected Throttled, got {err:?}"),
        }
        assert!(
            matches!(
                err.as_tableau().map(proto::Error::root),
                Some(proto::Error::Status { .. })
            ),
            "{err:?}"
        );
        assert_eq!(case.calls(), 1, "not retried");
        // The 5 s cap is below the 30 s asked for: no waiting at all.
        assert_within(case.started, FIVE_S, "Retry-After beyond the cap");
        case.recovers();
    }
}

#[test]
fn retries_are_bounded() {
    // Retry-After: 0 forever: the initial attempt and two retries, then the error.
    let case = on_send(status(503, Some("0")), |b| {
        b.retries(2, Duration::from_secs(60))
    });
    assert_eq!(
        case.err()
            .as_tableau()
            .and_then(proto::Error::status)
            .map(|s| s.as_u16()),
        Some(503)
    );
    assert_eq!(case.calls(), 3);
    assert!(
        matches!(
            case.err().as_tableau(),
            Some(proto::Error::Throttled { retries: 2, .. })
        ),
        "{:?}",
        case.err()
    );
    case.recovers();

    // No retries configured: the first 503 is the answer.
    let case = on_send(status(503, Some("0")), |b| {
        b.retries(0, Duration::from_secs(60))
    });
    assert!(
        case.err()
            .as_tableau()
            .is_some_and(proto::Error::is_retryable)
    );
    assert_eq!(case.calls(), 1);
    case.recovers();
}

#[test]
fn a_retry_after_date_in_the_past_retries_at_once() {
    let rule = FaultRule::exact(CURRENT, status(429, Some("Sun, 06 Nov 1994 08:49:37 GMT"))).once();
    let case = on_send_rule(rule, |b| b.retries(1, Duration::from_secs(1)));
    assert_eq!(
        case.result.as_ref().map(|r| r.status()).ok(),
        Some(http::StatusCode::OK)
    );
    assert_eq!(case.calls(), 2);
    assert_within(case.started, FIVE_S, "a past date means no wait");
    case.recovers();
}

#[test]
fn a_throttled_sign_in_waits_and_signs_in() {
    for code in [429, 503] {
        let (callback, take) = recorder();
        let rule = FaultRule::exact(SIGNIN, status(code, Some("1")))
            .method("POST")
            .once();
        let case = on_sign_in_rule(rule, |b| b.on_event(callback));
        let signed_in = case.result.as_ref().expect("signed in after the wait");
        assert_eq!(signed_in.user_id.as_str(), sample::USER_ID);
        // It waited for the server's Retry-After (one second) before trying again.
        assert!(
            case.started.elapsed() >= Duration::from_secs(1),
            "{:?}",
            case.started.elapsed()
        );
        assert_within(case.started, FIVE_S, "one retry after 1 s");
        let log = case.fake.request_log();
        let attempts: Vec<_> = log.iter().filter(|e| e.is_signin()).collect();
        assert_eq!(attempts.len(), 2, "{:?}", describe(&log));
        assert_eq!(attempts[0].status, Some(code));
        assert_eq!(attempts[1].status, Some(200));
        let events = take();
        match events.as_slice() {
            [
                SessionEvent::Throttled { delay, status },
                SessionEvent::SignedIn { generation: 1 },
            ] => {
                assert_eq!(status.as_u16(), code);
                // Retry-After plus at most a tenth of it as jitter.
                assert!(
                    *delay >= Duration::from_secs(1) && *delay <= Duration::from_millis(1_100),
                    "{delay:?}"
                );
            }
            other => panic!("expected one Throttled event, then SignedIn: {other:?}"),
        }
        assert!(case.client.session().is_signed_in());
        assert_eq!(case.client.generation(), 1);
    }
}

#[test]
fn a_sign_in_throttled_beyond_the_cap_is_throttled_at_once() {
    for code in [503, 429] {
        // Retry-After: 30 against a 5 s cap: no wait at all.
        let case = on_sign_in(status(code, Some("30")), |b| {
            b.retries(3, Duration::from_secs(5))
        });
        let err = case.err();
        assert!(
            matches!(
                err.as_tableau(),
                Some(proto::Error::Throttled { retries: 0, .. })
            ),
            "{err:?}"
        );
        assert!(
            err.as_tableau().is_some_and(proto::Error::is_retryable),
            "{err:?}"
        );
        assert_eq!(
            err.as_tableau().and_then(proto::Error::retry_after),
            Some(RetryAfter::Delay(Duration::from_secs(30)))
        );
        assert_eq!(
            sign_ins(&case.fake.request_log()),
            1,
            "over the cap: not retried"
        );
        assert_within(case.started, FIVE_S, "Retry-After beyond the cap");
        case.recovers();
    }
    // No retries configured: the first 429 is the answer, whatever it asks.
    let case = on_sign_in(status(429, Some("1")), |b| {
        b.retries(0, Duration::from_secs(60))
    });
    assert!(
        matches!(
            case.err().as_tableau(),
            Some(proto::Error::Throttled { max_retries: 0, .. })
        ),
        "{:?}",
        case.err()
    );
    assert_eq!(sign_ins(&case.fake.request_log()), 1);
    case.recovers();
}

#[test]
fn a_throttled_sign_out_is_retried_and_the_session_ends() {
    let fake = start();
    let (callback, take) = recorder();
    let mut client = builder(&fake).on_event(callback).build().expect("client");
    client.sign_in(password()).expect("sign-in");
    assert_eq!(fake.control().live_sessions(), 1);
    fake.control()
        .add_fault(FaultRule::exact(SIGNOUT, status(503, Some("1"))).once());
    let before = fake.request_log().len();
    let started = Instant::now();
    assert_eq!(client.sign_out().expect("signed out"), SignOut::Confirmed);
    assert_within(started, FIVE_S, "one retry after 1 s");
    assert_eq!(
        describe(&log_from(&fake, before)),
        [
            "POST /api/3.25/auth/signout 503",
            "POST /api/3.25/auth/signout 204"
        ]
    );
    // The server's session is gone, and the client holds none.
    assert_eq!(fake.control().live_sessions(), 0);
    assert!(!client.session().is_signed_in());
    let events = take();
    assert!(
        matches!(
            events.as_slice(),
            [
                SessionEvent::SignedIn { generation: 1 },
                SessionEvent::Throttled { .. },
                SessionEvent::SignedOut {
                    generation: 1,
                    outcome: SignOut::Confirmed
                },
            ]
        ),
        "{events:?}"
    );

    // Throttled beyond the cap: a typed error, and the session stays usable (and open).
    client.sign_in(password()).expect("sign-in");
    fake.control()
        .add_fault(FaultRule::exact(SIGNOUT, status(503, Some("120"))).once());
    let err = client.sign_out().expect_err("beyond the 60 s cap");
    assert!(
        matches!(err.as_tableau(), Some(proto::Error::Throttled { .. })),
        "{err:?}"
    );
    assert!(client.session().is_signed_in());
    assert_eq!(fake.control().live_sessions(), 1);
    whoami(&mut client).expect("still usable");
    assert_eq!(client.sign_out().expect("signed out"), SignOut::Confirmed);
    assert_eq!(fake.control().live_sessions(), 0);
}

#[test]
fn a_throttled_switch_site_is_retried() {
    let fake = start();
    let mut client = client(&fake, Format::Xml);
    client.sign_in(password()).expect("sign-in");
    let token = token_of(&client);
    let switch = "/api/3.25/auth/switchSite";
    fake.control()
        .add_fault(FaultRule::exact(switch, status(429, Some("1"))).once());
    let before = fake.request_log().len();
    let started = Instant::now();
    let switched = client
        .switch_site(sample::FINANCE_SITE)
        .expect("switched after the wait")
        .expect("the site changed");
    assert_within(started, FIVE_S, "one retry after 1 s");
    assert_eq!(switched.site_id.as_str(), sample::FINANCE_SITE_ID);
    assert_eq!(
        describe(&log_from(&fake, before)),
        [
            "POST /api/3.25/auth/switchSite 429",
            "POST /api/3.25/auth/switchSite 200"
        ]
    );
    assert_ne!(token_of(&client), token);
    assert_eq!(client.generation(), 2);
    assert_eq!(
        whoami(&mut client).expect("whoami").site_id,
        sample::FINANCE_SITE_ID
    );
}

#[test]
fn other_statuses_are_typed() {
    // A gateway's HTML page: Status with a snippet.
    let case = on_sign_in(status(502, None), |b| b);
    match case.err() {
        Error::Tableau(proto::Error::Status {
            status, snippet, ..
        }) => {
            assert_eq!(status.as_u16(), 502);
            assert!(snippet.contains("Error 502"), "{snippet}");
        }
        other => panic!("expected Status, got {other:?}"),
    }
    case.recovers();

    // A Tableau error body: Api with its code.
    let body = tableau_error_xml("500000", "Internal Server Error", "boom");
    let fault = Fault::Status {
        status: 500,
        retry_after: None,
        body: Some(body),
    };
    let case = on_send(fault, |b| b);
    assert_eq!(case.err().code(), Some("500000"));
    assert!(matches!(case.err(), Error::Tableau(proto::Error::Api(_))));
    assert_eq!(case.calls(), 1);
    case.recovers();
}

// ---------------------------------------------------------------------------------------------
// Garbage, Truncated, Huge, DropConnection

#[test]
fn garbage_is_a_typed_error_on_sign_in() {
    let case = on_sign_in(Fault::Garbage, |b| b);
    assert!(
        matches!(
            case.err(),
            Error::Tableau(proto::Error::Status { .. } | proto::Error::Decode { .. })
        ),
        "{:?}",
        case.err()
    );
    case.recovers();

    // On the version probe too.
    let fake = start();
    fake.control()
        .add_fault(FaultRule::exact(PROBE, Fault::Garbage).once());
    let mut client = client(&fake, Format::Json);
    let err = client.sign_in(password()).expect_err("garbage probe");
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
        .expect("the next sign-in probes again");
}

#[test]
fn garbage_on_send_is_handed_to_the_caller() {
    // `send` returns the caller's 2xx response as it came: parsing it is the caller's job.
    let case = on_send(Fault::Garbage, |b| b);
    let response = case.result.as_ref().expect("a 200 is a success");
    assert_eq!(response.status(), 200);
    assert_eq!(response.body().len(), 512);
    case.recovers();
}

#[test]
fn a_response_head_past_32_kib_is_a_transport_error() {
    // The client reads a response's head up to 32 KiB (ureq's buffer; the CLI's start-up pays
    // for every page of it): past that, a typed error that says so, and the client goes on.
    // tableau-auth-hyper's tests/faults.rs holds the async client to the same.
    let too_big = |e: &Error| matches!(e, Error::Transport(m) if m == HEAD_TOO_LARGE);
    let case = on_sign_in(Fault::LargeHead { bytes: 40 << 10 }, |b| b);
    assert!(too_big(case.err()), "{:?}", case.err());
    case.recovers();

    let case = on_send(Fault::LargeHead { bytes: 40 << 10 }, |b| b);
    assert!(too_big(case.err()), "{:?}", case.err());
    case.recovers();

    // A 24 KiB head is read: the caller gets the answer, headers and all.
    let case = on_send(Fault::LargeHead { bytes: 24 << 10 }, |b| b);
    let response = case.result.as_ref().expect("a 24 KiB head fits");
    assert_eq!(response.status(), 200);
    assert_eq!(head_padding(response), 24 << 10);
    case.recovers();
}

#[test]
fn a_truncated_body_is_a_transport_error_within_bound() {
    let expected = |e: &Error| {
        matches!(
            e,
            Error::Transport(_) | Error::Tableau(proto::Error::Decode { .. })
        )
    };
    let case = on_sign_in(Fault::Truncated, timeout(5));
    assert!(expected(case.err()), "{:?}", case.err());
    assert_within(
        case.started,
        FIVE_S,
        "truncated sign-in, 5 s exchange timeout",
    );
    case.recovers();

    let case = on_send(Fault::Truncated, timeout(5));
    assert!(expected(case.err()), "{:?}", case.err());
    assert_within(case.started, FIVE_S, "truncated call, 5 s exchange timeout");
    case.recovers();
}

fn assert_too_large(e: &Error) {
    match e {
        Error::Tableau(proto::Error::TooLarge { limit }) => assert_eq!(*limit, 1 << 20),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn a_huge_body_is_too_large() {
    let huge = Fault::Huge { bytes: 64 << 20 };
    let tweak = |b: ClientBuilder| {
        b.max_body(1 << 20)
            .exchange_timeout(Duration::from_secs(10))
    };
    let case = on_sign_in(huge.clone(), tweak);
    assert_too_large(case.err());
    assert_within(case.started, Duration::from_secs(10), "64 MiB sign-in");
    case.recovers();

    let case = on_send(huge, tweak);
    assert_too_large(case.err());
    assert_within(case.started, Duration::from_secs(10), "64 MiB call");
    assert_eq!(case.calls(), 1);
    case.recovers();
}

#[test]
fn a_huge_body_is_not_read_whole() {
    // 1 TiB with a 10 s exchange timeout: reading it whole would take far longer than 10 s,
    // so the only way to end in TooLarge (and not in Timeout) is to stop at the 1 MiB cap.
    let huge = Fault::Huge { bytes: 1 << 40 };
    let tweak = |b: ClientBuilder| {
        b.max_body(1 << 20)
            .exchange_timeout(Duration::from_secs(10))
    };
    let case = on_sign_in(huge.clone(), tweak);
    assert_too_large(case.err());
    assert_within(case.started, Duration::from_secs(10), "1 TiB sign-in");
    case.recovers();

    let case = on_send(huge, tweak);
    assert_too_large(case.err());
    assert_within(case.started, Duration::from_secs(10), "1 TiB call");
    case.recovers();
}

#[test]
fn a_dropped_connection_is_an_error_and_the_client_recovers() {
    // NOTE: ureq reports this as rustls' "peer closed connection without sending TLS
    // close_notify", which the client classifies as `Error::Tls` (with a hint about
    // certificates) instead of `Error::Transport`: reported as a bug, not asserted here.
    let case = on_sign_in(Fault::DropConnection, timeout(5));
    let err = case.err();
    assert!(!err.is_timeout() && err.as_tableau().is_none(), "{err:?}");
    assert_within(case.started, FIVE_S, "dropped sign-in");
    let log = case.fake.request_log();
    assert_eq!(log.last().map(|e| e.status), Some(None), "never answered");
    case.recovers();

    let case = on_send(Fault::DropConnection, timeout(5));
    let err = case.err();
    assert!(!err.is_timeout() && err.as_tableau().is_none(), "{err:?}");
    assert_within(case.started, FIVE_S, "dropped call");
    assert_eq!(case.calls(), 1, "a dropped connection is not retried");
    case.recovers();
}

// ---------------------------------------------------------------------------------------------
// Faults on the other exchanges leave the session as it was

#[test]
fn faults_on_switch_site_and_sign_out_leave_the_session_as_it_was() {
    let fake = start();
    let mut client = builder(&fake)
        .exchange_timeout(Duration::from_secs(1))
        .build()
        .expect("client");
    client.sign_in(password()).expect("sign-in");
    let token = token_of(&client);
    let switch = "/api/3.25/auth/switchSite";
    for fault in [
        Fault::Garbage,
        Fault::Truncated,
        Fault::Hang,
        // Beyond the 60 s cap on waiting: not retried (a shorter one is waited out).
        status(503, Some("120")),
    ] {
        fake.control()
            .add_fault(FaultRule::exact(switch, fault.clone()).once());
        let err = client
            .switch_site(sample::FINANCE_SITE)
            .expect_err("faulted");
        assert!(!matches!(err, Error::Config(_)), "{fault:?}: {err:?}");
        assert_eq!(token_of(&client), token, "{fault:?}");
        assert_eq!(
            client.session().signed_in().map(|s| s.site_id.as_str()),
            Some(sample::DEFAULT_SITE_ID)
        );
        assert!(!client.session().is_busy());
    }
    fake.control()
        .add_fault(FaultRule::exact(SIGNOUT, Fault::Hang).once());
    let started = Instant::now();
    let err = client.sign_out().expect_err("hung sign-out");
    assert!(err.is_timeout(), "{err:?}");
    assert_within(started, FIVE_S, "hung sign-out, 1 s exchange timeout");
    assert!(client.session().is_signed_in());
    whoami(&mut client).expect("still usable");
    assert_eq!(token_of(&client), token);
    assert_eq!(
        client
            .switch_site(sample::FINANCE_SITE)
            .expect("switch")
            .map(|s| s.site_id.as_str().to_owned()),
        Some(sample::FINANCE_SITE_ID.to_owned())
    );
    assert_eq!(client.sign_out().expect("sign-out"), SignOut::Confirmed);
}

#[test]
fn a_failed_sign_out_before_a_new_sign_in_does_not_stop_it() {
    // The old session is signed out first, best effort: the new sign-in is what was asked for.
    for fault in [status(500, None), Fault::DropConnection] {
        let fake = start();
        let mut client = client(&fake, Format::Xml);
        client.sign_in(password()).expect("sign-in");
        let old = token_of(&client);
        fake.control()
            .add_fault(FaultRule::exact(SIGNOUT, fault.clone()).once());
        let before = fake.request_log().len();
        client
            .sign_in(password())
            .unwrap_or_else(|e| panic!("{fault:?}: {e:?}"));
        let after = log_from(&fake, before);
        assert_eq!(after.len(), 2, "{fault:?}: {:?}", describe(&after));
        assert_eq!(after[0].path, SIGNOUT);
        assert_eq!(after[0].token(), Some(old.as_str()));
        assert!(after[1].is_signin());
        assert_ne!(token_of(&client), old);
        assert_eq!(client.generation(), 2);
        whoami(&mut client).expect("the new session works");
    }
}
