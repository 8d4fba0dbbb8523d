//! Security properties of the blocking client against the fake Tableau server: the http→https
//! redirect listener, redirects to other hosts and certificate checks. (Secrets kept out of every
//! error message, event and output: `tests/tests/no_secret_leaks.rs`.)

mod common;

use std::time::Duration;

use common::*;

/// The port of a `scheme://host:port` URL.
fn port_of(url: &str) -> &str {
    url.rsplit(':').next().expect("a port")
}

/// The redirect listener's entries of the log.
fn on_http(fake: &FakeServer) -> Vec<LoggedRequest> {
    fake.request_log()
        .into_iter()
        .filter(|e| e.listener == Listener::HttpRedirect)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The http → https redirect listener

#[test]
fn an_http_base_is_upgraded_by_the_probe_and_the_password_only_goes_over_https() {
    for status in [301, 302, 303, 307, 308] {
        let fake = start();
        fake.control().set_redirect_status(status).expect("status");
        let http_url = fake.http_redirect_url().expect("a redirect listener");
        let mut client = Client::builder(http_url)
            .ca_pem(fake.ca_pem().expect("CA"))
            .build()
            .expect("client");
        let signed_in = client.sign_in(password()).expect("sign-in");
        // The anonymous probe followed the same-host upgrade; the sign-in went straight to https.
        assert_eq!(
            signed_in.moved_to.as_deref(),
            Some(fake.base_url()),
            "{status}"
        );
        assert_eq!(client.session().base_url(), fake.base_url());
        let log = fake.request_log();
        assert_eq!(
            describe(&log),
            [
                format!("GET /api/2.4/serverinfo {status} (http)"),
                "GET /api/2.4/serverinfo 200".to_owned(),
                "POST /api/3.25/auth/signin 200".to_owned(),
            ]
        );
        assert!(log[2].body_str().contains(sample::USER_PASSWORD));
        // Nothing secret ever reached the plain-http listener.
        for entry in on_http(&fake) {
            assert_eq!(entry.method, "GET");
            assert!(entry.body.is_empty());
            assert!(!entry.body_str().contains(sample::USER_PASSWORD));
            assert_eq!(entry.token(), None);
            assert!(!entry.is_signin());
        }

        // Everything afterwards, a re-sign-in included, uses the https URL.
        whoami(&mut client).expect("whoami");
        fake.control().drop_sessions(None);
        whoami(&mut client).expect("re-sign-in");
        assert_eq!(client.sign_out().expect("sign-out"), SignOut::Confirmed);
        assert_eq!(
            on_http(&fake).len(),
            1,
            "{:?}",
            describe(&fake.request_log())
        );
    }
}

#[test]
fn with_a_fixed_version_the_probe_still_runs_first_so_no_password_goes_over_http() {
    // Before any secret goes to a plain-http base, the core asks the anonymous server info:
    // the same-host https upgrade moves the session, and the sign-in goes straight to https.
    for status in [301, 302, 303, 307, 308] {
        let fake = start();
        fake.control().set_redirect_status(status).expect("status");
        let http_url = fake.http_redirect_url().expect("a redirect listener");
        let mut client = Client::builder(http_url)
            .api_version(v("3.25"))
            .ca_pem(fake.ca_pem().expect("CA"))
            .build()
            .expect("client");
        let signed_in = client.sign_in(password()).expect("sign-in");
        assert_eq!(signed_in.moved_to.as_deref(), Some(fake.base_url()));
        assert_eq!(
            signed_in.api_version,
            v("3.25"),
            "a fixed version stays fixed"
        );
        let log = fake.request_log();
        assert_eq!(
            describe(&log),
            [
                format!("GET /api/2.4/serverinfo {status} (http)"),
                "GET /api/2.4/serverinfo 200".to_owned(),
                "POST /api/3.25/auth/signin 200".to_owned(),
            ]
        );
        assert!(
            on_http(&fake).iter().all(|r| r.body.is_empty()),
            "nothing secret over http"
        );
        assert_eq!(client.session().base_url(), fake.base_url());
    }
}

#[test]
fn a_redirect_to_another_host_is_refused() {
    // The fake's `Fault::Status` cannot set a `Location`, so the other host comes from the
    // redirect listener itself: reached as `localhost`, it redirects to `127.0.0.1`, which is
    // another host by name.
    for fixed in [false, true] {
        let fake = start();
        let http_url = fake.http_redirect_url().expect("a redirect listener");
        let alias = format!("http://localhost:{}", port_of(http_url));
        let mut builder = Client::builder(alias).ca_pem(fake.ca_pem().expect("CA"));
        if fixed {
            builder = builder.api_version(v("3.25"));
        }
        let mut client = builder.build().expect("client");
        let err = client.sign_in(password()).expect_err("another host");
        match err.as_tableau() {
            Some(proto::Error::Redirect { location, refusal }) => {
                assert_eq!(*refusal, proto::RedirectRefusal::OtherHost);
                assert!(location.starts_with(fake.base_url()), "{location}");
            }
            _ => panic!("expected a refused redirect, got {err:?}"),
        }
        // Nothing reached the other host.
        let log = fake.request_log();
        assert!(
            log.iter().all(|e| e.listener == Listener::HttpRedirect),
            "{:?}",
            describe(&log)
        );
        assert_eq!(log.len(), 1);
        assert!(
            !log[0].is_signin(),
            "the probe runs first even with a fixed version"
        );
        assert!(!client.session().is_signed_in());
        assert!(!client.session().is_busy());
    }
}

#[test]
fn a_redirect_without_location_is_refused_and_never_followed() {
    let fake = start();
    let redirect = Fault::Status {
        status: 302,
        retry_after: None,
        body: None,
    };
    let mut client = client(&fake, Format::Xml);
    fake.control()
        .add_fault(FaultRule::exact(SIGNIN, redirect.clone()).once());
    let err = client
        .sign_in(password())
        .expect_err("302 without Location");
    assert!(
        matches!(
            err.as_tableau(),
            Some(proto::Error::Redirect {
                refusal: proto::RedirectRefusal::InvalidLocation,
                ..
            })
        ),
        "{err:?}"
    );
    client.sign_in(password()).expect("sign-in");
    fake.control()
        .add_fault(FaultRule::exact(CURRENT, redirect).once());
    let before = fake.request_log().len();
    let err = whoami(&mut client).expect_err("a redirect of a token-bearing call");
    assert!(
        matches!(err.as_tableau(), Some(proto::Error::Redirect { .. })),
        "{err:?}"
    );
    assert_eq!(
        fake.request_log().len(),
        before + 1,
        "not followed, not retried"
    );
    whoami(&mut client).expect("still usable");
}

#[test]
fn a_saved_token_never_goes_to_http_the_probe_moves_it_to_https() {
    // Signing out a saved token over an http base: the anonymous probe runs first, follows the
    // same-host upgrade, and the token goes only to https.
    let fake = start();
    let mut owner = client(&fake, Format::Xml);
    owner.sign_in(password()).expect("sign-in");
    let token = owner.session().token().expect("a token").clone();
    let http_url = fake.http_redirect_url().expect("a redirect listener");
    let mut other = Client::builder(http_url)
        .api_version(v("3.25"))
        .ca_pem(fake.ca_pem().expect("CA"))
        .build()
        .expect("client");
    let outcome = other.sign_out_token(token).expect("signed out over https");
    assert_eq!(outcome, SignOut::Confirmed);
    let log = fake.request_log();
    assert_eq!(
        describe(&log)[2..],
        [
            "GET /api/2.4/serverinfo 301 (http)",
            "GET /api/2.4/serverinfo 200",
            "POST /api/3.25/auth/signout 204",
        ]
    );
    assert!(
        on_http(&fake).iter().all(|r| r.token().is_none()),
        "no token over http"
    );
    assert_eq!(fake.control().live_sessions(), 0);
}

#[test]
fn a_dropped_connection_is_a_transport_error_not_tls() {
    let fake = start();
    let mut client = builder(&fake).build().expect("client");
    client.server_info().expect("probe");
    fake.control()
        .add_fault(FaultRule::exact(SIGNIN, Fault::DropConnection));
    let err = client.sign_in(password()).expect_err("dropped");
    assert!(matches!(err, Error::Transport(_)), "{err:?}\n{err}");
}

// ---------------------------------------------------------------------------------------------
// Certificates

#[test]
fn an_untrusted_certificate_is_a_tls_error_before_any_request() {
    let fake = start();
    let stranger = start();
    let builders = [
        // The built-in roots do not know the fake's CA.
        Client::builder(fake.base_url()),
        // Another fake's CA did not sign this certificate.
        Client::builder(fake.base_url()).ca_pem(stranger.ca_pem().expect("CA")),
    ];
    for builder in builders {
        let mut client = builder
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let err = client.server_info().expect_err("untrusted");
        assert!(matches!(err, Error::Tls(_)), "{err:?}");
        let err = client.sign_in(password()).expect_err("untrusted");
        assert!(matches!(err, Error::Tls(_)), "{err:?}");
        assert!(err.to_string().contains("certificate"), "{err}");
        assert!(!client.session().is_busy());
    }
    // The handshake failed, so no HTTP request was ever received.
    assert!(
        fake.request_log().is_empty(),
        "{:?}",
        describe(&fake.request_log())
    );
    assert!(stranger.request_log().is_empty());
}

#[test]
fn danger_accept_invalid_certs_signs_in() {
    let fake = start();
    let mut client = Client::builder(fake.base_url())
        .danger_accept_invalid_certs(true)
        .build()
        .expect("client");
    let signed_in = client.sign_in(pat()).expect("sign-in without verification");
    assert_eq!(signed_in.user_id.as_str(), sample::USER_ID);
    whoami(&mut client).expect("whoami");
}

#[test]
fn the_ca_file_and_the_localhost_name_are_trusted() {
    let fake = start();
    let pem = std::fs::read(fake.ca_file().expect("a CA file")).expect("readable");
    let https = format!("https://localhost:{}", port_of(fake.base_url()));
    let mut client = Client::builder(https).ca_pem(pem).build().expect("client");
    let signed_in = client.sign_in(password()).expect("sign-in");
    assert_eq!(signed_in.moved_to, None);
    whoami(&mut client).expect("whoami");

    let err = Client::builder(fake.base_url())
        .ca_pem("not a PEM")
        .build()
        .expect_err("no certificate");
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// The client's own Debug

#[test]
fn the_client_and_its_policy_show_no_secret_in_debug() {
    let fake = start();
    let (callback, _take) = recorder();
    let mut client = builder(&fake).on_event(callback).build().expect("client");
    client.sign_in(pat()).expect("PAT sign-in");
    let token = token_of(&client);
    let shown = format!("{client:?}");
    assert!(!shown.contains(sample::USER_PAT_SECRET), "{shown}");
    assert!(!shown.contains(&token), "{shown}");
    // A connected app: neither its secret nor a minted JWT.
    client
        .sign_in(sign_in(&fake, Kind::ConnectedApp))
        .expect("connected-app sign-in");
    let token = token_of(&client);
    let shown = format!("{client:?}");
    assert!(!shown.contains(sample::APP_SECRET_VALUE), "{shown}");
    assert!(!shown.contains(&token), "{shown}");
    assert!(!shown.contains("eyJ"), "a JWT: {shown}");
}

#[test]
fn a_proxy_password_shows_in_no_debug() {
    let builder = Client::builder("https://tableau.example.com")
        .proxy("http://svc-etl:pr0xy-s3cret@proxy.corp:3128");
    let shown = format!("{builder:?}");
    assert!(!shown.contains("pr0xy-s3cret"), "{shown}");
    assert!(shown.contains("proxy.corp:3128"), "{shown}");
    let client = builder.build().expect("client");
    let shown = format!("{client:?}");
    assert!(!shown.contains("pr0xy-s3cret"), "{shown}");
    // A URL that is not one is refused without being echoed.
    let err = Client::builder("https://tableau.example.com")
        .proxy("pr0xy-s3cret not a url")
        .build()
        .expect_err("not a proxy URL");
    assert!(!err.to_string().contains("pr0xy-s3cret"), "{err}");
}

/// Mutual TLS against a fake that asks for a client certificate: with the one its CA issued,
/// the client signs in and calls; without one, or with another CA's, the handshake fails with a
/// typed error, nothing reaches the server, and the key is never shown.
#[test]
fn mutual_tls_signs_in_with_the_client_certificate_only() {
    let pki = ClientPki::generate();
    let options = FakeOptions::builder()
        .redirect_listener(false)
        .client_ca(pki.ca_pem.clone())
        .build();
    let fake = FakeServer::start_blocking(FakeConfig::sample(), options).expect("the fake");
    let mut client = builder(&fake)
        .client_cert_pem(pki.cert_pem.clone(), pki.key_pem.clone())
        .build()
        .expect("client");
    client
        .sign_in(password())
        .expect("sign-in with the certificate");
    whoami(&mut client).expect("a call with the certificate");
    let shown = format!("{client:?}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    let reached = fake.request_log().len();
    for presented in [None, Some(pki.stranger.clone())] {
        let mut b = builder(&fake);
        if let Some((cert, key)) = presented.clone() {
            b = b.client_cert_pem(cert, key);
        }
        let mut client = b.build().expect("client");
        let e = client
            .sign_in(password())
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
