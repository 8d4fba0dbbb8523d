//! The transport of the blocking client: its name resolution (IP literals used as they are,
//! names cached, a slow lookup bounded by the connect and exchange limits, one lookup thread
//! per host), a trickling server bounded by the exchange and read limits, the `Accept` header
//! of the caller's own requests, and `ca_pem` adding to the built-in roots.
//!
//! Elapsed times are only ever checked against an upper bound tied to a configured limit.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const FIVE_S: Duration = Duration::from_secs(5);

/// The fake's port.
fn port(fake: &FakeServer) -> u16 {
    fake.base_url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port in the fake's URL")
}

/// A builder for `https://localhost:PORT` of the fake, trusting its CA (its certificate names
/// `localhost` too).
fn by_name(fake: &FakeServer) -> ClientBuilder {
    Client::builder(format!("https://localhost:{}", port(fake)))
        .ca_pem(fake.ca_pem().expect("a TLS fake has a CA"))
}

/// A lookup that answers 127.0.0.1 and counts its calls.
fn counting_lookup(
    calls: &Arc<AtomicUsize>,
) -> impl Fn(&str, u16) -> std::io::Result<Vec<SocketAddr>> + Send + Sync + 'static {
    let calls = calls.clone();
    move |host, port| {
        assert_eq!(host, "localhost");
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
    }
}

// ---------------------------------------------------------------------------------------------
// Name resolution

#[test]
fn a_slow_lookup_times_out_within_the_connect_limit_and_runs_once() {
    let fake = start();
    let calls = Arc::new(AtomicUsize::new(0));
    // The lookup hangs until the test opens the gate (or 30 s pass).
    let (open, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let counted = calls.clone();
    let mut client = by_name(&fake)
        .connect_timeout(Duration::from_secs(1))
        .exchange_timeout(Duration::from_secs(60))
        .resolver(move |_, port| {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = gate
                .lock()
                .expect("gate")
                .recv_timeout(Duration::from_secs(30));
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        })
        .build()
        .expect("client");

    for attempt in 0..2 {
        let started = Instant::now();
        let err = client.server_info().expect_err("the lookup hangs");
        match &err {
            Error::Timeout { phase, limit } => {
                assert_eq!(phase, "resolve", "{err}");
                assert_eq!(*limit, Duration::from_secs(1));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(started.elapsed() >= Duration::from_millis(900), "{attempt}");
        assert_within(started, FIVE_S, "hung lookup, 1 s connect timeout");
    }
    // The second call waited for the same lookup: no thread per request.
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(fake.request_log().is_empty(), "nothing reached the server");

    // Once the lookup answers, its answer is used, and kept.
    open.send(()).expect("the lookup waits");
    let deadline = Instant::now() + FIVE_S;
    let info = loop {
        match client.server_info() {
            Ok(info) => break info,
            Err(e) if e.is_timeout() && Instant::now() < deadline => continue,
            Err(e) => panic!("after the lookup answered: {e:?}"),
        }
    };
    assert!(!info.product_version.is_empty());
    client.server_info().expect("again");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the answer was kept");
}

#[test]
fn the_exchange_limit_bounds_a_slow_lookup_too() {
    let fake = start();
    let (_open, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let mut client = by_name(&fake)
        .connect_timeout(Duration::from_secs(60))
        .exchange_timeout(Duration::from_secs(1))
        .resolver(move |_, _| {
            let _ = gate
                .lock()
                .expect("gate")
                .recv_timeout(Duration::from_secs(30));
            Err(std::io::Error::other("gave up"))
        })
        .build()
        .expect("client");
    let started = Instant::now();
    let err = client.sign_in(password()).expect_err("the lookup hangs");
    assert!(err.is_timeout(), "{err:?}");
    assert_within(started, FIVE_S, "hung lookup, 1 s exchange timeout");
}

#[test]
fn ip_literals_are_never_looked_up() {
    let fake = start();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut client = builder(&fake)
        .resolver(move |_, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            Err(std::io::Error::other("no lookups here"))
        })
        .build()
        .expect("client");
    client.sign_in(password()).expect("sign-in over 127.0.0.1");
    whoami(&mut client).expect("whoami");
    assert_eq!(client.sign_out().expect("sign-out"), SignOut::Confirmed);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn a_name_is_looked_up_once_while_cached_and_every_time_without_the_cache() {
    let fake = start();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut client = by_name(&fake)
        .resolver(counting_lookup(&calls))
        .build()
        .expect("client");
    client.sign_in(password()).expect("sign-in");
    whoami(&mut client).expect("whoami");
    client.sign_out().expect("sign-out");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one lookup, then the cache"
    );

    fake.control().clear_log();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut client = by_name(&fake)
        .resolver(counting_lookup(&calls))
        .dns_cache(Duration::ZERO)
        .build()
        .expect("client");
    client.sign_in(password()).expect("sign-in");
    whoami(&mut client).expect("whoami");
    client.sign_out().expect("sign-out");
    // The version probe, sign-in, whoami, sign-out.
    let requests = fake.request_log().len();
    assert_eq!(requests, 4);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        requests,
        "a lookup per request"
    );
}

#[test]
fn a_failed_lookup_is_a_transport_error_and_is_not_kept() {
    let fake = start();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let mut client = by_name(&fake)
        .resolver(move |_, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such host",
            ))
        })
        .build()
        .expect("client");
    for _ in 0..2 {
        let err = client.server_info().expect_err("no address");
        assert!(matches!(err, Error::Transport(_)), "{err:?}");
        assert!(err.to_string().contains("no such host"), "{err}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2, "a failure is not cached");

    // An empty answer is "host not found", not a panic.
    let mut client = by_name(&fake)
        .resolver(|_, _| Ok(Vec::new()))
        .build()
        .expect("client");
    let err = client.server_info().expect_err("no address");
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// A trickling server (plain http on 127.0.0.1, written here: the fake answers whole)

/// Serves one connection: reads the request head, then writes `head` and trickles `trickle`
/// one byte every 50 ms until the client goes away or 30 s pass.
fn trickling_server(
    head: &'static str,
    trickle: &'static [u8],
) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        let until = Instant::now() + Duration::from_secs(30);
        for byte in trickle.iter().cycle() {
            std::thread::sleep(Duration::from_millis(50));
            if Instant::now() > until || stream.write_all(&[*byte]).is_err() {
                return;
            }
        }
    });
    (url, handle)
}

#[test]
fn a_trickling_body_times_out_within_the_exchange_limit() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\ncontent-length: 100000\r\n\r\n";
    let (url, server) = trickling_server(head, b"<");
    let mut client = Client::builder(url)
        .exchange_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let started = Instant::now();
    let err = client.server_info().expect_err("the body never ends");
    match &err {
        Error::Timeout { limit, .. } => assert_eq!(*limit, Duration::from_secs(1)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_within(started, FIVE_S, "trickling body, 1 s exchange timeout");
    drop(client);
    server.join().expect("the server ends");
}

#[test]
fn trickling_headers_time_out_within_the_read_limit() {
    let (url, server) = trickling_server("", b"HTTP/1.1 200 OK\r\nx-slow: ");
    let mut client = Client::builder(url)
        .exchange_timeout(Duration::from_secs(60))
        .read_timeout(Duration::from_secs(1))
        .build()
        .expect("client");
    let started = Instant::now();
    let err = client.server_info().expect_err("the head never ends");
    match &err {
        Error::Timeout { limit, .. } => assert_eq!(*limit, Duration::from_secs(1)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_within(started, FIVE_S, "trickling headers, 1 s read timeout");
    drop(client);
    server.join().expect("the server ends");
}

// ---------------------------------------------------------------------------------------------
// The caller's own requests: Accept

fn accept_of_last_current(fake: &FakeServer) -> Option<String> {
    fake.request_log()
        .iter()
        .rev()
        .find(|r| r.path == CURRENT)
        .and_then(|r| r.headers.get("accept").cloned())
}

#[test]
fn send_asks_for_the_clients_format_unless_the_caller_chose() {
    let fake = start();
    for (format, media_type) in [
        (Format::Json, "application/json"),
        (Format::Xml, "application/xml"),
    ] {
        let mut client = client(&fake, format);
        client.sign_in(password()).expect("sign-in");
        let uri = client.session().api_url("sessions/current").expect("url");
        let bare = http::Request::get(uri.clone())
            .body(Vec::new())
            .expect("request");
        let response = client.send(bare).expect("sessions/current");
        assert_eq!(response.status(), 200);
        assert_eq!(accept_of_last_current(&fake).as_deref(), Some(media_type));
        let body = String::from_utf8_lossy(response.body()).into_owned();
        match format {
            Format::Json => assert!(body.trim_start().starts_with('{'), "{body}"),
            _ => assert!(body.contains("<tsResponse"), "{body}"),
        }

        // The caller's own Accept is kept as it is.
        let own = http::Request::get(uri)
            .header("accept", "text/plain")
            .body(Vec::new())
            .expect("request");
        let _ = client.send(own);
        assert_eq!(accept_of_last_current(&fake).as_deref(), Some("text/plain"));
        client.sign_out().expect("sign-out");
    }
}

// ---------------------------------------------------------------------------------------------
// ca_pem adds to the built-in roots

#[test]
fn ca_pem_adds_to_the_built_in_roots() {
    let fake = start();
    let ca = fake.ca_pem().expect("a CA");
    let client = builder(&fake).build().expect("client");
    let roots = client.agent().config().tls_config().root_certs();
    let ureq::tls::RootCerts::Specific(certs) = roots else {
        panic!("expected specific roots, got {roots:?}");
    };
    let pem_der = ureq::tls::Certificate::from_pem(ca.as_bytes()).expect("the CA parses");
    assert!(
        certs.iter().any(|c| c.der() == pem_der.der()),
        "the private CA is trusted"
    );
    // Far more than the one private CA: Mozilla's roots are all there.
    assert!(certs.len() > 100, "{} roots", certs.len());

    // And the client does trust the fake through the added CA.
    let mut client = builder(&fake).build().expect("client");
    client.sign_in(password()).expect("sign-in");

    // Without ca_pem: ureq's default webpki roots, which do not know the fake.
    let plain = Client::builder(fake.base_url()).build().expect("client");
    assert!(matches!(
        plain.agent().config().tls_config().root_certs(),
        ureq::tls::RootCerts::WebPki
    ));
    let mut plain = plain;
    let err = plain.server_info().expect_err("an unknown CA");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
}

#[test]
fn a_pem_without_certificates_is_refused() {
    let err = Client::builder("https://tableau.example.com")
        .ca_pem(b"not a pem".to_vec())
        .build()
        .expect_err("no certificate");
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

#[test]
fn without_the_built_in_roots_only_the_given_cas_are_trusted() {
    let fake = start();
    let client = builder(&fake)
        .built_in_roots(false)
        .build()
        .expect("client");
    let roots = client.agent().config().tls_config().root_certs();
    let ureq::tls::RootCerts::Specific(certs) = roots else {
        panic!("expected specific roots, got {roots:?}");
    };
    assert_eq!(certs.len(), 1, "the fake's CA alone");
    let mut client = client;
    client
        .sign_in(password())
        .expect("sign-in with the fake's CA alone");

    let err = Client::builder(fake.base_url())
        .built_in_roots(false)
        .build()
        .expect_err("nothing to trust");
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}
