//! Security properties of the blocking client against the fake Tableau server: the http→https
//! redirect listener, redirects to other hosts, certificate checks, and secrets kept out of every
//! error message.

mod common;

use std::fmt::Write as _;
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

#[test]
fn an_echoed_request_body_does_not_leak_the_password() {
    for format in [Format::Xml, Format::Json] {
        let fake = start();
        let mut client = client(&fake, format);
        let admin = || {
            SignIn::new(
                Credentials::password(sample::ADMIN_NAME, sample::ADMIN_PASSWORD),
                "",
            )
        };
        client.sign_in(admin()).expect("sign-in");
        let sent = fake.request_log()[1].body_str().into_owned();
        let encoded = match format {
            Format::Xml => sent
                .split("password=\"")
                .nth(1)
                .and_then(|r| r.split('"').next()),
            Format::Json => sent
                .split("\"password\":\"")
                .nth(1)
                .and_then(|r| r.split("\",\"").next()),
        }
        .expect("the password field")
        .to_owned();
        fake.control().add_fault(FaultRule::exact(
            SIGNIN,
            Fault::Status {
                status: 400,
                retry_after: None,
                body: Some(format!("<html><body>Bad request: {sent}</body></html>")),
            },
        ));
        let err = client.sign_in(admin()).expect_err("400");
        let Error::Tableau(proto::Error::Status { snippet, .. }) = &err else {
            panic!("{err:?}")
        };
        assert!(
            !snippet.contains(&encoded),
            "{format:?}: the password is in the error: {err}"
        );
    }
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
// Secrets never appear in errors

const PASSWORD: &str = "SENTINEL-pw-5d1f0c";
const PAT_SECRET: &str = "SENTINEL-pat-9e2b7a";
const WRONG_PASSWORD: &str = "SENTINEL-wrong-3c8d4e";

/// Every text of `err` that a caller might print.
fn renderings(err: &Error) -> String {
    let mut text = format!("{err}\n{err:?}\n{err:#?}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let _ = write!(text, "\n{s}\n{s:?}");
        source = s.source();
    }
    text
}

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        // Debug escapes quotes and backslashes; look for both spellings.
        let escaped = format!("{secret:?}");
        let escaped = &escaped[1..escaped.len() - 1];
        assert!(
            !text.contains(secret) && !text.contains(escaped),
            "{what} shows a secret: {text}"
        );
    }
}

fn record(errors: &mut Vec<(String, Error)>, what: &str, result: Result<(), Error>) {
    match result {
        Err(e) => errors.push((what.to_owned(), e)),
        Ok(()) => panic!("{what}: expected an error"),
    }
}

fn echo_html(secret: &str) -> Fault {
    Fault::Status {
        status: 500,
        retry_after: None,
        body: Some(format!(
            "<!DOCTYPE html><html><body>proxy error for {secret} ({secret})</body></html>"
        )),
    }
}

fn echo_tableau(status: u16, code: &str, secret: &str) -> Fault {
    Fault::Status {
        status,
        retry_after: None,
        body: Some(tableau_error_xml(
            code,
            &format!("about {secret}"),
            &format!("the value {secret} was rejected"),
        )),
    }
}

fn echo_json(status: u16, code: &str, secret: &str) -> Fault {
    Fault::Status {
        status,
        retry_after: None,
        body: Some(format!(
            r#"{{"error":{{"summary":"about {secret}","detail":"{secret} rejected","code":"{code}"}}}}"#
        )),
    }
}

#[test]
fn no_error_shows_a_password_pat_secret_jwt_or_token() {
    let fake = start();
    let control = fake.control();
    control
        .update_config(|c| {
            for u in &mut c.users {
                if u.name == sample::USER_NAME {
                    u.password = Some(PASSWORD.into());
                }
            }
            for p in &mut c.pats {
                if p.name == sample::USER_PAT_NAME {
                    p.secret = PAT_SECRET.into();
                }
            }
        })
        .expect("sentinel config");
    let sentinel_password = || SignIn::new(Credentials::password(sample::USER_NAME, PASSWORD), "");
    let sentinel_pat = || {
        SignIn::new(
            Credentials::personal_access_token(sample::USER_PAT_NAME, PAT_SECRET),
            "",
        )
    };
    let jwt = hand_jwt(&fake, sample::USER_NAME);
    let mut errors: Vec<(String, Error)> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();

    for format in [Format::Xml, Format::Json] {
        let mut client = builder(&fake)
            .format(format)
            .exchange_timeout(Duration::from_secs(1))
            .build()
            .expect("client");

        // Refused credentials.
        record(
            &mut errors,
            "wrong password",
            client
                .sign_in(SignIn::new(
                    Credentials::password(sample::USER_NAME, WRONG_PASSWORD),
                    "",
                ))
                .map(drop),
        );
        // A server (or proxy) that echoes the secret it was sent, as HTML, Tableau XML or JSON.
        let echoes: [(&str, SignIn, &str); 3] = [
            ("password", sentinel_password(), PASSWORD),
            ("PAT", sentinel_pat(), PAT_SECRET),
            ("JWT", SignIn::new(Credentials::jwt(jwt.clone()), ""), &jwt),
        ];
        for (what, sign_in, secret) in echoes {
            for fault in [
                echo_html(secret),
                echo_tableau(401, "401001", secret),
                echo_json(401, "401001", secret),
                echo_tableau(503, "503000", secret),
                Fault::Garbage,
                Fault::Truncated,
                Fault::DropConnection,
                Fault::Hang,
            ] {
                control.add_fault(FaultRule::exact(SIGNIN, fault.clone()).once());
                record(
                    &mut errors,
                    &format!("{what} sign-in, {fault:?}"),
                    client.sign_in(sign_in.clone()).map(drop),
                );
            }
        }
        // A 200 whose credentials document is broken and carries the secret.
        control.add_fault(
            FaultRule::exact(
                SIGNIN,
                Fault::Status {
                    status: 200,
                    retry_after: None,
                    body: Some(format!(
                        "<tsResponse><credentials token=\"{PASSWORD}\"><site contentUrl=\"{PASSWORD}\"/></credentials></tsResponse>"
                    )),
                },
            )
            .once(),
        );
        record(
            &mut errors,
            "broken credentials",
            client.sign_in(sentinel_password()).map(drop),
        );

        // Signed in: errors of calls that carry the token (each round echoes the current one).
        client.sign_in(sentinel_pat()).expect("sign-in");
        let echoes: [fn(&str) -> Fault; 5] = [
            echo_html,
            |t| echo_tableau(500, "500000", t),
            |t| echo_json(500, "500000", t),
            |t| echo_tableau(403, "403000", t),
            // (No 503 here: `send` would retry it and succeed.)
            |t| echo_tableau(404, "404000", t),
        ];
        for echo in echoes {
            let token = token_of(&client);
            tokens.push(token.clone());
            let fault = echo(&token);
            control.add_fault(FaultRule::exact(CURRENT, fault.clone()).once());
            let request = current_request(&client);
            record(
                &mut errors,
                &format!("send, {fault:?}"),
                client.send(request).map(drop),
            );
            control.add_fault(FaultRule::exact("/api/3.25/auth/switchSite", fault.clone()).once());
            record(
                &mut errors,
                &format!("switch site, {fault:?}"),
                client.switch_site(sample::FINANCE_SITE).map(drop),
            );
            control.add_fault(FaultRule::exact(SIGNOUT, fault.clone()).once());
            record(
                &mut errors,
                &format!("sign-out, {fault:?}"),
                client.sign_out().map(drop),
            );
            // The failed sign-out forgot the kept sign-in; sign in again for the next round.
            client.sign_in(sentinel_pat()).expect("sign-in");
        }
        let token = token_of(&client);
        tokens.push(token.clone());
        // A 401 echoing the token whose re-sign-in is then refused (and echoes the secret).
        control.add_fault(FaultRule::exact(CURRENT, echo_tableau(401, "401002", &token)).once());
        control.add_fault(FaultRule::exact(SIGNIN, echo_tableau(401, "401001", PAT_SECRET)).once());
        let request = current_request(&client);
        record(
            &mut errors,
            "send then refused re-sign-in",
            client.send(request).map(drop),
        );

        let shown = format!("{client:?}\n{:?}", client.session());
        let mut secrets = vec![PASSWORD, PAT_SECRET, WRONG_PASSWORD, jwt.as_str()];
        secrets.extend(tokens.iter().map(String::as_str));
        assert_clean("the client's Debug", &shown, &secrets);
    }
    let mut secrets = vec![PASSWORD, PAT_SECRET, WRONG_PASSWORD, jwt.as_str()];
    secrets.extend(tokens.iter().map(String::as_str));
    for (what, err) in &errors {
        assert_clean(what, &renderings(err), &secrets);
    }
    // The echoes did reach the errors, scrubbed: the checks above are not vacuous.
    let scrubbed = errors
        .iter()
        .filter(|(_, e)| e.to_string().contains("[redacted]"))
        .count();
    assert!(
        scrubbed >= 30,
        "only {scrubbed} errors carried a scrubbed echo"
    );
    assert!(errors.len() > 60, "{}", errors.len());
    // And the sentinels did reach the server, so the checks above are not vacuous.
    let log = fake.request_log();
    assert!(log.iter().any(|e| e.body_str().contains(PASSWORD)));
    assert!(log.iter().any(|e| e.body_str().contains(PAT_SECRET)));
}
