//! The examples' logic, run in-process against the fake: `pat_script` (sign in with a PAT, list
//! workbooks, the guard signs out on every path), `embed_drive` (an SDK driving the core's
//! `Policy` over its own transport, with no rule of its own: connected-app JWTs minted per
//! sign-in, one re-sign-in on `401002`, all the policy's) and
//! `ticket_server` (a web server whose pages redeem real, single-use trusted tickets). Also
//! their argument parsing: secrets never come from flags.

mod common;

#[path = "../examples/embed_drive.rs"]
#[allow(dead_code)]
mod embed_drive;
#[path = "../examples/pat_script.rs"]
#[allow(dead_code)]
mod pat_script;
#[path = "../examples/ticket_server.rs"]
#[allow(dead_code)]
mod ticket_server;

use std::net::TcpListener;

use common::*;
use tableau_auth_ureq::proto::lifecycle::{RenewReason, SessionEvent};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn pat_env(name: &str) -> Option<String> {
    match name {
        "TABLEAU_PAT_NAME" => Some(sample::USER_PAT_NAME.to_owned()),
        "TABLEAU_PAT_SECRET" => Some(sample::USER_PAT_SECRET.to_owned()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// pat_script

#[test]
fn pat_script_lists_the_workbooks_and_signs_out() {
    let fake = start();
    let report = pat_script::run(pat_script::demo::settings(&fake)).expect("a run");
    assert_eq!(report.user_name, sample::USER_NAME);
    assert_eq!(report.site_id, sample::DEFAULT_SITE_ID);
    assert_eq!(report.api_version.to_string(), sample::REST_API_VERSION);
    assert_eq!(report.workbooks, ["Superstore", "Regional Sales"]);
    assert_eq!(report.total_workbooks, Some(2));
    assert_eq!(report.signed_out, SignOut::Confirmed);
    assert_eq!(fake.control().live_sessions(), 0);
    let log = fake.request_log();
    assert_eq!(sign_ins(&log), 1, "{:?}", describe(&log));
    assert!(
        log.iter()
            .any(|r| r.path_ends_with("/auth/signout") && r.status == Some(204))
    );
}

#[test]
fn pat_script_signs_out_when_a_call_fails() {
    let fake = start();
    let workbooks = format!(
        "/api/{}/sites/{}/workbooks",
        sample::REST_API_VERSION,
        sample::DEFAULT_SITE_ID
    );
    fake.control()
        .add_fault(FaultRule::exact(workbooks, status(500, None)));
    let error = pat_script::run(pat_script::demo::settings(&fake))
        .expect_err("the failed call is the error");
    let error = error.downcast_ref::<Error>().expect("the client's error");
    assert_eq!(
        error
            .as_tableau()
            .and_then(|e| e.status())
            .map(|s| s.as_u16()),
        Some(500)
    );
    // The guard signed out on the way out.
    assert_eq!(fake.control().live_sessions(), 0);
    let log = fake.request_log();
    assert!(
        log.iter().any(|r| r.path_ends_with("/auth/signout")),
        "{:?}",
        describe(&log)
    );
}

#[test]
fn pat_script_reports_a_bad_pat_with_its_code() {
    let fake = start();
    let mut settings = pat_script::demo::settings(&fake);
    settings.credentials = Credentials::personal_access_token(sample::USER_PAT_NAME, "wrong");
    let error = pat_script::run(settings).expect_err("refused");
    let error = error.downcast_ref::<Error>().expect("the client's error");
    assert_eq!(error.code(), Some("401001"));
    assert!(!error.to_string().contains(sample::USER_PAT_SECRET));
}

#[test]
fn pat_script_arguments() {
    let demo = pat_script::parse_args(Vec::new(), |_| None).expect("no server: the demo");
    assert!(matches!(demo, pat_script::Mode::Demo));
    let forced = pat_script::parse_args(args(&["--server", "https://x", "--demo"]), pat_env);
    assert!(matches!(forced, Ok(pat_script::Mode::Demo)));
    let real = pat_script::parse_args(args(&["--site", "Finance"]), |name| match name {
        "TABLEAU_SERVER" => Some("https://tableau.example.com".to_owned()),
        other => pat_env(other),
    });
    let Ok(pat_script::Mode::Server(settings)) = real else {
        panic!("a server from TABLEAU_SERVER");
    };
    assert_eq!(settings.server, "https://tableau.example.com");
    assert_eq!(settings.site, "Finance");
    assert_eq!(settings.credentials.kind(), "personal access token");
    let no_secret = pat_script::parse_args(args(&["--server", "https://x"]), |name| {
        (name == "TABLEAU_PAT_NAME").then(|| "etl".to_owned())
    });
    assert!(
        no_secret
            .err()
            .expect("no secret")
            .contains("TABLEAU_PAT_SECRET")
    );
    for bad in [
        &["--pat-secret", "s3cret"][..],
        &["--server"],
        &["--ca-file", "/nonexistent/ca.pem", "--server", "https://x"],
    ] {
        assert!(
            pat_script::parse_args(args(bad), pat_env).is_err(),
            "{bad:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// embed_drive

#[test]
fn embed_drive_runs_every_exchange_over_the_sdk_transport() {
    let fake = start();
    let report = embed_drive::run(embed_drive::demo::settings(&fake)).expect("a run");
    assert_eq!(report.product_version, sample::PRODUCT_VERSION);
    assert_eq!(report.api_version.to_string(), sample::REST_API_VERSION);
    assert_eq!(report.user_name, sample::USER_NAME);
    assert_eq!(report.workbooks, 2);
    assert_eq!(report.first_limit, Some("session idle limit"));
    assert_eq!(report.signed_out, SignOut::Confirmed);
    let v = sample::REST_API_VERSION;
    let site = sample::DEFAULT_SITE_ID;
    assert_eq!(
        report.sent,
        [
            "GET /api/2.4/serverinfo".to_owned(),
            format!("POST /api/{v}/auth/signin"),
            format!("GET /api/{v}/sessions/current"),
            format!("GET /api/{v}/sites/{site}/workbooks"),
            format!("POST /api/{v}/auth/signout"),
        ]
    );
    assert_eq!(
        report.events,
        [
            SessionEvent::SignedIn { generation: 1 },
            SessionEvent::SignedOut {
                generation: 1,
                outcome: SignOut::Confirmed
            },
        ]
    );
    // Everything the SDK sent reached the fake, and the minted JWT was accepted.
    let log = fake.request_log();
    assert_eq!(log.len(), report.sent.len(), "{:?}", describe(&log));
    let sign_in = log.iter().find(|r| r.is_signin()).expect("a sign-in");
    assert_eq!(sign_in.status, Some(200));
    assert!(
        sign_in.body_str().contains("jwt="),
        "{}",
        sign_in.body_str()
    );
    assert_eq!(fake.control().live_sessions(), 0);
}

#[test]
fn embed_drive_signs_in_again_once_when_the_session_is_gone() {
    let fake = start();
    let settings = embed_drive::demo::settings(&fake);
    let mut sdk =
        embed_drive::Sdk::new(&settings.server, settings.ca_pem.as_deref()).expect("an SDK");
    sdk.sign_in(SignIn::new(settings.credentials, ""))
        .expect("signed in");
    let first = sdk
        .session()
        .token()
        .expect("a token")
        .expose_secret()
        .to_owned();
    assert_eq!(fake.control().drop_sessions(None), 1);

    let me = sdk.get_json("sessions/current", false).expect("replayed");
    assert_eq!(
        me.pointer("/session/user/name"),
        Some(&sample::USER_NAME.into())
    );
    let second = sdk
        .session()
        .token()
        .expect("a token")
        .expose_secret()
        .to_owned();
    assert_ne!(first, second);
    let log = fake.request_log();
    assert_eq!(sign_ins(&log), 2, "{:?}", describe(&log));
    // Each sign-in carried a JWT of its own (a fresh jti and iat).
    let bodies: Vec<_> = log
        .iter()
        .filter(|r| r.is_signin())
        .map(|r| r.body_str().into_owned())
        .collect();
    assert_ne!(bodies[0], bodies[1]);

    // A session that is rejected again right after the re-sign-in is an error, not a loop.
    let current = format!("/api/{}/sessions/current", sample::REST_API_VERSION);
    let rejected = tableau_error_xml(
        "401002",
        "Unauthorized Access",
        "Invalid authentication credentials were provided.",
    );
    fake.control().add_fault(
        FaultRule::exact(
            current,
            Fault::Status {
                status: 401,
                retry_after: None,
                body: Some(rejected),
            },
        )
        .times(2),
    );
    sdk.events.clear();
    let error = sdk
        .get_json("sessions/current", false)
        .expect_err("rejected twice");
    assert_eq!(error.code(), Some("401002"));
    // The policy's verdict, not the SDK's: the session ended again after one re-sign-in.
    assert!(
        matches!(
            error,
            embed_drive::SdkError::Tableau(proto::Error::SessionEnded { .. })
        ),
        "{error:?}"
    );
    assert_eq!(sign_ins(&fake.request_log()), 3);
    assert!(
        matches!(
            sdk.events.as_slice(),
            [
                SessionEvent::Ended { generation: 2, .. },
                SessionEvent::Renewed {
                    generation: 3,
                    reason: RenewReason::Rejected(_)
                },
                SessionEvent::Ended { generation: 3, .. },
            ]
        ),
        "{:?}",
        sdk.events
    );
    assert_eq!(sdk.sign_out().expect("signed out"), SignOut::Confirmed);
}

#[test]
fn embed_drive_reports_a_transport_failure_and_keeps_the_session_usable() {
    let fake = start();
    let settings = embed_drive::demo::settings(&fake);
    let mut sdk =
        embed_drive::Sdk::new(&settings.server, settings.ca_pem.as_deref()).expect("an SDK");
    sdk.sign_in(SignIn::new(settings.credentials, ""))
        .expect("signed in");
    let signout = format!("/api/{}/auth/signout", sample::REST_API_VERSION);
    fake.control()
        .add_fault(FaultRule::exact(signout, Fault::DropConnection).once());
    let error = sdk.sign_out().expect_err("the connection dropped");
    assert!(
        matches!(error, embed_drive::SdkError::Transport(_)),
        "{error:?}"
    );
    // The policy aborted the exchange: the session is still signed in, and signing out works.
    assert!(sdk.session().is_signed_in());
    assert_eq!(sdk.sign_out().expect("signed out"), SignOut::Confirmed);
}

#[test]
fn embed_drive_arguments() {
    let app_env = |name: &str| match name {
        "TABLEAU_SERVER" => Some("https://tableau.example.com".to_owned()),
        "TABLEAU_CLIENT_ID" => Some("client".to_owned()),
        "TABLEAU_SECRET_ID" => Some("secret-id".to_owned()),
        "TABLEAU_SECRET_VALUE" => Some("value".to_owned()),
        _ => None,
    };
    let Ok(embed_drive::Mode::Server(app)) =
        embed_drive::parse_args(args(&["--username", "jsmith"]), app_env)
    else {
        panic!("a connected app");
    };
    assert_eq!(app.credentials.kind(), "connected app");
    let no_user = embed_drive::parse_args(Vec::new(), app_env);
    assert!(no_user.err().expect("no user").contains("--username"));
    let Ok(embed_drive::Mode::Server(pat)) =
        embed_drive::parse_args(args(&["--server", "https://x"]), pat_env)
    else {
        panic!("a PAT");
    };
    assert_eq!(pat.credentials.kind(), "personal access token");
    assert!(matches!(
        embed_drive::parse_args(Vec::new(), |_| None),
        Ok(embed_drive::Mode::Demo)
    ));
}

// ---------------------------------------------------------------------------------------------
// ticket_server

/// Serves `requests` requests of the example's web server on a free loopback port.
fn ticket_server(
    fake: &FakeServer,
    site: &str,
    requests: usize,
) -> (
    std::net::SocketAddr,
    std::thread::JoinHandle<Result<usize, Error>>,
) {
    let mut settings = ticket_server::demo::settings(fake);
    settings.site = site.to_owned();
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("a port");
    let addr = listener.local_addr().expect("an address");
    let handle =
        std::thread::spawn(move || ticket_server::run(listener, &settings, Some(requests)));
    (addr, handle)
}

/// The iframe's `src`, unescaped.
fn iframe_src(html: &str) -> String {
    let start = html.find("src=\"").expect("an iframe src") + 5;
    let end = start + html[start..].find('"').expect("a closing quote");
    html[start..end].replace("&amp;", "&")
}

#[test]
fn ticket_server_pages_redeem_a_single_use_ticket() {
    let fake = start();
    let (addr, server) = ticket_server(&fake, sample::FINANCE_SITE, 4);

    let page = ticket_server::fetch_dashboard(addr, Some(sample::USER_NAME)).expect("a page");
    assert_eq!(page.status, 200, "{}", page.body);
    let src = iframe_src(&page.body);
    let prefix = format!("{}/trusted/", fake.base_url());
    assert!(src.starts_with(&prefix), "{src}");
    assert!(
        src.ends_with("/t/Finance/views/Superstore/Overview?:embed=yes&:showVizHome=no"),
        "{src}"
    );
    let masked = ticket_server::mask_tickets(&page.body);
    assert!(masked.contains("/trusted/****/t/Finance/"), "{masked}");
    let ticket = src[prefix.len()..].split('/').next().expect("a ticket");
    assert!(!masked.contains(ticket));

    // The ticket is real: the fake redeems it once, then never again.
    let agent = plain_agent(&fake);
    let redeemed = agent.get(&src).call().expect("redeemed");
    assert_eq!(redeemed.status(), 302, "to the view, without the ticket");
    assert_eq!(
        redeemed
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/t/Finance/views/Superstore/Overview?:embed=yes&:showVizHome=no")
    );
    assert!(redeemed.headers().contains_key("set-cookie"));
    assert_eq!(agent.get(&src).call().expect("an answer").status(), 401);

    // The fake refuses an unknown user (`-1`): a 403 page without a ticket.
    let refused = ticket_server::fetch_dashboard(addr, Some("nobody")).expect("a page");
    assert_eq!(refused.status, 403);
    assert!(!refused.body.contains("/trusted/"));
    // No proxy header: no ticket is even asked for.
    let tickets_before = fake
        .request_log()
        .iter()
        .filter(|r| r.path == "/trusted")
        .count();
    let anonymous = ticket_server::fetch_dashboard(addr, None).expect("a page");
    assert_eq!(anonymous.status, 401);
    let tickets_after = fake
        .request_log()
        .iter()
        .filter(|r| r.path == "/trusted")
        .count();
    assert_eq!(tickets_before, tickets_after);
    assert_eq!(tickets_after, 2);
    // The ticket requests carried the user and the browser's address from the proxy.
    let first = fake
        .request_log()
        .into_iter()
        .find(|r| r.path == "/trusted")
        .expect("a ticket request");
    assert!(
        first.body_str().contains("username=jsmith"),
        "{}",
        first.body_str()
    );
    assert!(
        first.body_str().contains("client_ip=127.0.0.1"),
        "{}",
        first.body_str()
    );

    let mut other = std::net::TcpStream::connect(addr).expect("connects");
    std::io::Write::write_all(&mut other, b"GET /elsewhere HTTP/1.1\r\n\r\n").expect("sent");
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut other, &mut answer).expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert_eq!(server.join().expect("no panic").expect("served"), 4);
}

#[test]
fn ticket_server_arguments_and_masking() {
    assert!(matches!(
        ticket_server::parse_args(Vec::new(), |_| None),
        Ok(ticket_server::Mode::Demo)
    ));
    let Ok(ticket_server::Mode::Server(settings, listen)) = ticket_server::parse_args(
        args(&[
            "--server",
            "https://t",
            "--view",
            "Q1",
            "--listen",
            "127.0.0.1:9000",
        ]),
        |_| None,
    ) else {
        panic!("a server");
    };
    assert_eq!((settings.view.as_str(), listen.port()), ("Q1", 9000));
    let public = ticket_server::parse_args(
        args(&["--server", "https://t", "--listen", "0.0.0.0:8080"]),
        |_| None,
    );
    assert!(public.err().expect("refused").contains("loopback"));
    assert_eq!(
        ticket_server::mask_tickets("a /trusted/Zk3v%2BQ:pL7/t/S/views/W/V and /trusted/abc\"x"),
        "a /trusted/****/t/S/views/W/V and /trusted/****\"x"
    );
}
