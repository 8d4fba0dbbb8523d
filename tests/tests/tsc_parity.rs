//! TSC (tableauserverclient) parity: each test is named after a TSC call or behaviour and shows
//! what tableau-auth does instead, against the loopback fake Tableau server, with the blocking
//! (`tableau-auth-ureq`) and the async (`tableau-auth-hyper`) clients. `docs/for-tsc-users.md`
//! cites these tests; TSC's behaviour is as read in TSC's own source (tableau/server-client-python)
//! and the project's survey of Tableau clients (kept outside this repository), and the protocol
//! as in `docs/protocol.md`.

use std::time::{Duration, Instant};

use tableau_auth_hyper as hyper_auth;
use tableau_auth_proto::secret::ExposeSecret as _;
use tableau_auth_proto::{Credentials, Format, SignIn, SignOut, UserId};
use tableau_auth_tests::connect_proxy::{ConnectProxy, Mode};
use tableau_auth_tests::fake::{FakeConfig, FakeOptions, FakeServer, Fault, FaultRule, sample};
use tableau_auth_tests::support::*;
use tableau_auth_ureq as ureq_auth;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A TLS fake with the sample configuration, on its own runtime (usable from any test).
fn fake() -> FakeServer {
    FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::default())
        .expect("the fake server starts")
}

/// A blocking client trusting the fake's CA.
fn blocking(fake: &FakeServer) -> ureq_auth::Client {
    ureq_auth::Client::builder(fake.base_url())
        .ca_pem(fake.ca_pem().expect("a TLS fake has a CA"))
        .build()
        .expect("the blocking client builds")
}

/// An async client builder trusting the fake's CA.
fn async_builder(fake: &FakeServer) -> hyper_auth::ClientBuilder {
    hyper_auth::Client::builder(fake.base_url()).ca_pem(fake.ca_pem().expect("a TLS fake has a CA"))
}

/// A runtime for the async client in a plain `#[test]`.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The token the blocking client holds.
fn token(client: &ureq_auth::Client) -> String {
    client
        .session()
        .token()
        .expect("signed in")
        .expose_secret()
        .to_owned()
}

/// `GET sessions/current` through the blocking client.
fn whoami(client: &mut ureq_auth::Client) -> Result<Me, ureq_auth::Error> {
    let uri = client
        .session()
        .api_url("sessions/current")
        .expect("an API URL");
    let response = client.send(get_as(Format::Xml, uri))?;
    Ok(parse_me(response.body()))
}

/// `GET sessions/current` through the async client.
async fn whoami_async(client: &hyper_auth::Client) -> Result<Me, hyper_auth::Error> {
    let uri = client.api_url("sessions/current")?;
    let response = client.send(get_as(Format::Xml, uri)).await?;
    Ok(parse_me(response.body()))
}

// ---------------------------------------------------------------------------------------------
// Server(..., use_server_version=True)

/// TSC: `use_server_version` is opt-in; on any failure of the probe it logs at INFO and keeps
/// 2.4. Here the probe runs by default, and a probe that fails is a typed error: no credential
/// is sent at a guessed version.
#[test]
fn use_server_version_failure_is_typed_not_silent() {
    let faults = [
        status(500, None),
        Fault::Garbage,
        Fault::Status {
            status: 200,
            retry_after: None,
            body: Some("<html><body>Corporate proxy login</body></html>".to_owned()),
        },
    ];
    for fault in faults {
        let fake = fake();
        fake.control()
            .add_fault(FaultRule::exact(PROBE, fault.clone()).once());
        let mut client = blocking(&fake);
        let err = client.sign_in(pat()).expect_err("the probe failed");
        assert!(
            matches!(
                err.as_tableau(),
                Some(
                    tableau_auth_proto::Error::Status { .. }
                        | tableau_auth_proto::Error::Decode { .. }
                )
            ),
            "{fault:?}: {err:?}"
        );
        let log = fake.request_log();
        assert_eq!(describe(&log).len(), 1, "{fault:?}: {:?}", describe(&log));
        assert_eq!(sign_ins(&log), 0, "{fault:?}: no sign-in at a guessed 2.4");
        assert_eq!(client.session().api_version(), None, "{fault:?}");
        assert!(!client.session().is_signed_in());
        // Once the server answers, the same client negotiates and signs in.
        let signed_in = client.sign_in(pat()).expect("sign-in after the fault");
        assert_eq!(signed_in.api_version, v(sample::REST_API_VERSION));
    }

    // The async client: the same (a 503 would be waited out and asked again, as every
    // exchange is; a 502 from a gateway is not).
    let fake = fake();
    fake.control()
        .add_fault(FaultRule::exact(PROBE, status(502, None)).once());
    let rt = runtime();
    let client = async_builder(&fake).build().expect("async client");
    let err = rt
        .block_on(client.sign_in(pat()))
        .expect_err("the probe failed");
    assert_eq!(
        err.as_tableau().and_then(tableau_auth_proto::Error::status),
        Some(http::StatusCode::BAD_GATEWAY),
        "{err:?}"
    );
    assert_eq!(sign_ins(&fake.request_log()), 0);
    assert!(!client.is_signed_in());
}

/// TSC: without `use_server_version=True` every call goes to `/api/2.4/`. Both clients here ask
/// `serverinfo` first and sign in at the server's version (3.19 on this fake).
#[test]
fn use_server_version_is_the_default_in_both_clients() {
    let fake = fake();
    fake.control()
        .update_config(|c| c.rest_api_version = "3.19".into())
        .expect("config");
    let mut client = blocking(&fake);
    assert_eq!(
        client.sign_in(pat()).expect("sign-in").api_version,
        v("3.19")
    );
    assert_eq!(
        describe(&fake.request_log()),
        [
            "GET /api/2.4/serverinfo 200",
            "POST /api/3.19/auth/signin 200"
        ]
    );
    client.sign_out().expect("sign-out");

    let fake_async = self::fake();
    fake_async
        .control()
        .update_config(|c| c.rest_api_version = "3.19".into())
        .expect("config");
    let rt = runtime();
    let client = async_builder(&fake_async).build().expect("async client");
    let signed_in = rt.block_on(client.sign_in(password())).expect("sign-in");
    assert_eq!(signed_in.api_version, v("3.19"));
    assert_eq!(
        describe(&fake_async.request_log()),
        [
            "GET /api/2.4/serverinfo 200",
            "POST /api/3.19/auth/signin 200"
        ]
    );
    rt.block_on(client.sign_out()).expect("sign-out");
}

/// TSC: `Server("tableau.example.com")` silently becomes `http://tableau.example.com`, and the
/// credentials go out in clear text. Here an address without a scheme is refused when the client
/// is built, before anything is sent.
#[test]
fn server_address_without_scheme_is_refused_not_prefixed_with_http() {
    let fake = fake();
    let port = fake.base_url().rsplit(':').next().expect("a port");
    for address in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let err = ureq_auth::Client::builder(address.as_str())
            .build()
            .expect_err("no scheme");
        assert!(
            matches!(
                err.as_tableau(),
                Some(tableau_auth_proto::Error::Config(
                    tableau_auth_proto::ConfigError::Scheme(_)
                        | tableau_auth_proto::ConfigError::InvalidUrl(_)
                ))
            ),
            "{address}: {err:?}"
        );
        let err = hyper_auth::Client::builder(address.as_str())
            .build()
            .expect_err("no scheme");
        assert!(
            matches!(err.as_tableau(), Some(tableau_auth_proto::Error::Config(_))),
            "{address}: {err:?}"
        );
    }
    assert!(fake.request_log().is_empty());
}

// ---------------------------------------------------------------------------------------------
// with server.auth.sign_in(...): / server.auth.sign_out()

/// TSC#1351: a `with` block whose session died (401002) raises at its exit, so a script that
/// succeeded ends in an exception. Here signing out of a dead session is
/// `Ok(SignOut::AlreadyGone)`, whether through the guard or the async client.
#[test]
fn with_block_exit_on_a_dead_session_does_not_raise() {
    let fake = fake();
    let mut client = blocking(&fake);

    // Explicit sign-out through the guard.
    let guard = client.sign_in_guard(password()).expect("sign-in");
    assert_eq!(fake.control().drop_sessions(None), 1);
    assert_eq!(
        guard.sign_out().expect("not an error"),
        SignOut::AlreadyGone
    );
    assert!(!client.session().is_signed_in());

    // Implicit sign-out when the guard goes out of scope.
    {
        let mut guard = client.sign_in_guard(pat()).expect("sign-in");
        assert_eq!(whoami(&mut guard).expect("whoami").user_id, sample::USER_ID);
        assert_eq!(fake.control().drop_sessions(None), 1);
    }
    assert!(
        !client.session().is_signed_in(),
        "the 401 cleared the token"
    );
    assert_eq!(
        describe(&fake.request_log()).last().map(String::as_str),
        Some("POST /api/3.25/auth/signout 401")
    );

    // The async client: its guard, and `with_sign_in` (the block's exit is awaited).
    let rt = runtime();
    let client = async_builder(&fake).build().expect("async client");
    let guard = rt
        .block_on(client.sign_in_guard(password()))
        .expect("sign-in");
    assert_eq!(fake.control().drop_sessions(None), 1);
    assert_eq!(
        rt.block_on(guard.sign_out()).expect("not an error"),
        SignOut::AlreadyGone
    );
    assert!(!client.is_signed_in());
    let control = fake.control();
    let user = rt
        .block_on(client.with_sign_in(pat(), |client| async move {
            let user = client.current_session().await?.user_id;
            control.drop_sessions(None);
            Ok::<_, tableau_auth_hyper::Error>(user)
        }))
        .expect("the block's value, not an error from its exit");
    assert_eq!(user.as_str(), sample::USER_ID);
    assert!(!client.is_signed_in(), "the 401 cleared the token");
    assert_eq!(
        describe(&fake.request_log()).last().map(String::as_str),
        Some("POST /api/3.25/auth/signout 401")
    );
}

// ---------------------------------------------------------------------------------------------
// server.auth.switch_site(site_item)

/// TSC: `switch_site` treats `403070` (already on that site) as a no-op and keeps its token; any
/// other error leaves the old session in place. Here: `Ok(None)` and the same token; an unknown
/// site is an error and the old session still works. Both clients.
#[test]
fn switch_site_403070_is_a_no_op_as_in_tsc() {
    let fake = fake();
    let mut client = blocking(&fake);
    client.sign_in(password()).expect("sign-in");
    let moved = client
        .switch_site(sample::FINANCE_SITE)
        .expect("switch")
        .expect("a new site");
    assert_eq!(moved.site_id.as_str(), sample::FINANCE_SITE_ID);
    let finance_token = token(&client);
    assert_eq!(
        client.switch_site(sample::FINANCE_SITE).expect("403070"),
        None
    );
    assert_eq!(token(&client), finance_token);
    assert_eq!(fake.request_log().last().map(|e| e.status), Some(Some(403)));
    let err = client
        .switch_site("no-such-site")
        .expect_err("an unknown site");
    assert_eq!(err.code(), Some("401001"), "{err:?}");
    assert_eq!(token(&client), finance_token, "the old session is kept");
    assert_eq!(
        whoami(&mut client).expect("still usable").site_id,
        sample::FINANCE_SITE_ID
    );

    let rt = runtime();
    let client = async_builder(&fake).build().expect("async client");
    rt.block_on(client.sign_in(password())).expect("sign-in");
    rt.block_on(client.switch_site(sample::FINANCE_SITE))
        .expect("switch")
        .expect("a new site");
    let generation = client.generation();
    assert_eq!(
        rt.block_on(client.switch_site(sample::FINANCE_SITE))
            .expect("403070"),
        None
    );
    assert_eq!(client.generation(), generation, "nothing changed");
    assert!(rt.block_on(client.switch_site("no-such-site")).is_err());
    assert_eq!(client.generation(), generation);
    assert_eq!(
        rt.block_on(whoami_async(&client))
            .expect("still usable")
            .site_id,
        sample::FINANCE_SITE_ID
    );
}

// ---------------------------------------------------------------------------------------------
// user_id_to_impersonate

/// TSC: `user_id_to_impersonate` on `TableauAuth`, `PersonalAccessTokenAuth` and `JWTAuth`.
/// Here: `SignIn::impersonate` with every credential kind, with the async client (the blocking
/// one is covered in `tableau-auth-ureq/tests/e2e_flows.rs`).
#[test]
fn user_id_to_impersonate_with_every_credential_kind_async() {
    let fake = fake();
    fake.control()
        .update_config(|c| c.pat_impersonation_enabled = true)
        .expect("config");
    let rt = runtime();
    for kind in KINDS_EXCEPT_MINTED {
        for format in [Format::Xml, Format::Json] {
            let client = async_builder(&fake)
                .format(format)
                .build()
                .expect("async client");
            let target = UserId::parse(sample::USER_ID).expect("a LUID");
            let sign_in = SignIn::new(credentials(&fake, kind, true), "").impersonate(target);
            let signed_in = rt
                .block_on(client.sign_in(sign_in))
                .unwrap_or_else(|e| panic!("{kind:?} {format:?}: {e}"));
            assert_eq!(signed_in.user_id.as_str(), sample::USER_ID, "{kind:?}");
            let me = rt.block_on(whoami_async(&client)).expect("whoami");
            assert_eq!(me.user_name, sample::USER_NAME, "{kind:?} {format:?}");
            rt.block_on(client.sign_out()).expect("sign-out");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets: repr(auth) and errors

/// TSC: a credential's `__repr__` shows the first 2 characters of a PAT secret and the first 5
/// of a JWT. Here no `Debug` or error shows any of it: not the credentials, not the sign-in, not
/// the server's refusal of them (both clients).
#[test]
fn credentials_repr_shows_no_prefix_of_the_pat_secret_or_jwt() {
    const PAT_SECRET: &str = "Zq-not-a-real-pat-secret";
    const JWT: &str = "Xk3Jw.not-a-real.jwt";
    const PASSWORD: &str = "Vb8!not-a-real-password";
    let prefixes = ["Zq", "Xk3Jw", "Vb8!"];
    let clean = |what: &str, text: &str| {
        for prefix in prefixes {
            assert!(!text.contains(prefix), "{what} shows `{prefix}…`: {text}");
        }
    };
    let credentials = [
        Credentials::password(sample::USER_NAME, PASSWORD),
        Credentials::personal_access_token(sample::USER_PAT_NAME, PAT_SECRET),
        Credentials::jwt(JWT),
        Credentials::unified_access_token(JWT),
    ];
    let fake = fake();
    // UATs need 3.27 (the fake refuses them as a Tableau Server would: 401001).
    fake.control()
        .update_config(|c| c.rest_api_version = "3.27".into())
        .expect("config");
    let rt = runtime();
    for credentials in credentials {
        clean("Credentials", &format!("{credentials:?}"));
        let sign_in = SignIn::new(credentials, "")
            .impersonate(UserId::parse(sample::USER_ID).expect("a LUID"));
        clean("SignIn", &format!("{sign_in:?}"));

        let mut client = blocking(&fake);
        let err = client.sign_in(sign_in.clone()).expect_err("not valid");
        assert_eq!(err.code(), Some("401001"), "{err:?}");
        clean("blocking error", &format!("{err} {err:?}"));
        clean("blocking client", &format!("{client:?}"));

        let client = async_builder(&fake).build().expect("async client");
        let err = rt.block_on(client.sign_in(sign_in)).expect_err("not valid");
        assert_eq!(err.code(), Some("401001"), "{err:?}");
        clean("async error", &format!("{err} {err:?}"));
        clean("async client", &format!("{client:?}"));
    }
    assert_eq!(
        sign_ins(&fake.request_log()),
        8,
        "every attempt reached the server"
    );
}

// ---------------------------------------------------------------------------------------------
// http_options={"timeout": ...}, {"proxies": ...}

/// TSC#505, #849: no timeout unless one is threaded through `http_options`, so a hung server
/// hangs the script. Here both clients have limits by default (connect 10 s, response head 30 s,
/// whole exchange 60 s).
#[test]
fn http_options_timeout_is_not_needed_limits_are_on_by_default() {
    let blocking = format!("{:?}", ureq_auth::Client::builder("https://127.0.0.1"));
    for limit in [
        "connect_timeout: 10s",
        "read_timeout: 30s",
        "exchange_timeout: 60s",
    ] {
        assert!(blocking.contains(limit), "{limit}: {blocking}");
    }
    let asynchronous = format!("{:?}", hyper_auth::Client::builder("https://127.0.0.1"));
    assert!(
        asynchronous.contains("exchange_timeout: 60s"),
        "{asynchronous}"
    );
}

/// tabcmd#242 and the survey of Tableau clients: tabcmd maps `--proxy` to `{"http": proxy}` only, so https traffic
/// ignores it; TSC has only requests' environment variables, `http_options["proxies"]` or a
/// session factory. Here the blocking client's explicit proxy carries the https sign-in and the
/// calls through a `CONNECT` tunnel (TLS end to end: the proxy never sees a credential).
#[test]
fn http_options_proxies_https_goes_through_the_proxy() {
    let fake = fake();
    let proxy = tableau_auth_tests::support::runtime().block_on(ConnectProxy::start(Mode::Tunnel));
    let mut client = ureq_auth::Client::builder(fake.base_url())
        .ca_pem(fake.ca_pem().expect("a TLS fake has a CA"))
        .proxy(format!("http://{}", proxy.addr))
        .build()
        .expect("client");
    client
        .sign_in(password())
        .expect("sign-in through the proxy");
    assert_eq!(
        whoami(&mut client).expect("whoami").user_id,
        sample::USER_ID
    );
    client.sign_out().expect("sign-out");
    let target = fake
        .base_url()
        .strip_prefix("https://")
        .expect("an https fake");
    let seen: Vec<String> = proxy
        .heads()
        .iter()
        .map(|head| head.lines().next().unwrap_or_default().to_owned())
        .collect();
    assert!(!seen.is_empty(), "the proxy saw nothing");
    for line in &seen {
        assert!(
            line.starts_with(&format!("CONNECT {target} ")),
            "only tunnels: {seen:?}"
        );
        assert!(!line.contains(sample::USER_PASSWORD));
    }
    assert_eq!(
        describe(&fake.request_log()),
        [
            "GET /api/2.4/serverinfo 200",
            "POST /api/3.25/auth/signin 200",
            "GET /api/3.25/sessions/current 200",
            "POST /api/3.25/auth/signout 204",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Sessions: sharing and expiry

/// TSC#1246: multi-threaded users want one token for all threads, and the only route is the
/// private `_set_auth`. Here one async `Client` (cloned) serves plain OS threads through a
/// runtime handle: one sign-in, one token for every request.
#[test]
fn one_token_shared_by_threads_without_private_set_auth() {
    let fake = fake();
    let rt = runtime();
    let client = async_builder(&fake)
        .sign_in(pat())
        .build()
        .expect("async client");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            let handle = rt.handle().clone();
            let url = current_url(&fake);
            std::thread::spawn(move || {
                handle.block_on(async move { client.send(get_as(Format::Xml, url)).await })
            })
        })
        .collect();
    for thread in threads {
        let response = thread.join().expect("no panic").expect("a call");
        assert_eq!(parse_me(response.body()).user_id, sample::USER_ID);
    }
    let log = fake.request_log();
    assert_eq!(sign_ins(&log), 1, "one sign-in for 8 threads");
    let tokens: std::collections::BTreeSet<_> = log
        .iter()
        .filter(|e| e.path == CURRENT)
        .map(|e| e.token().expect("a token").to_owned())
        .collect();
    assert_eq!(tokens.len(), 1, "one token for every thread");
    assert_eq!(log.iter().filter(|e| e.path == CURRENT).count(), 8);
}

/// TSC#1197: the sign-in response's `estimatedTimeToExpiration` (a PAT's remaining life) is
/// thrown away. Here it is `SignedIn::credentials_expire_at` (the fake's PAT has 180 days left).
#[test]
fn estimated_time_to_expiration_is_kept_not_thrown_away() {
    let fake = fake();
    let mut client = blocking(&fake);
    let before = Instant::now();
    let signed_in = client.sign_in(pat()).expect("sign-in");
    let after = Instant::now();
    let expires = signed_in
        .credentials_expire_at
        .expect("a PAT has an expiry");
    let days_180 = Duration::from_secs(180 * 86_400);
    // The server sends whole minutes.
    assert!(
        expires >= before + days_180 - Duration::from_secs(120),
        "{:?} early",
        (before + days_180).saturating_duration_since(expires)
    );
    assert!(expires <= after + days_180, "later than the PAT's expiry");
    // A password has no such expiry.
    let signed_in = client.sign_in(password()).expect("sign-in");
    assert_eq!(signed_in.credentials_expire_at, None);
}

// ---------------------------------------------------------------------------------------------
// The page's side-by-side script

/// The Rust version of the TSC script on `docs/for-tsc-users.md`, line for line (only the URL,
/// the CA and the secret differ), blocking then async.
#[test]
fn the_tsc_script_in_rust_runs_blocking_and_async() -> Result<(), Box<dyn std::error::Error>> {
    use tableau_auth_ureq::{Client, http};
    let fake = fake();
    let ca = fake.ca_pem().expect("a TLS fake has a CA").to_owned();

    // Blocking, as on the page.
    {
        let mut client = Client::builder(fake.base_url())
            .ca_pem(ca.clone())
            .build()?;
        let pat =
            Credentials::personal_access_token(sample::USER_PAT_NAME, sample::USER_PAT_SECRET);
        let mut session = client.sign_in_guard(SignIn::new(pat, ""))?;
        let me = session.session().signed_in().expect("signed in");
        assert_eq!(
            (me.site_id.as_str(), me.user_id.as_str(), me.api_version),
            (sample::DEFAULT_SITE_ID, sample::USER_ID, v("3.25"))
        );
        session.switch_site("Finance")?;
        let url = session.session().site_url("workbooks")?;
        let response = session.send(http::Request::get(url).body(Vec::new())?)?;
        assert_eq!(parse_workbook_names(response.body()).len(), 2);
        assert_eq!(fake.control().live_sessions(), 1);
    }
    assert_eq!(fake.control().live_sessions(), 0, "the guard signed out");

    // Async, as on the page.
    let rt = runtime();
    rt.block_on(async {
        use tableau_auth_hyper::Client;
        let pat =
            Credentials::personal_access_token(sample::USER_PAT_NAME, sample::USER_PAT_SECRET);
        let client = Client::builder(fake.base_url()).ca_pem(ca).build()?;
        let me = client.sign_in(SignIn::new(pat, "")).await?;
        assert_eq!(me.user_id.as_str(), sample::USER_ID);
        client.switch_site("Finance").await?;
        let url = client.site_url("workbooks")?;
        let response = client
            .send(http::Request::get(url).body(Vec::new())?)
            .await?;
        assert_eq!(parse_workbook_names(response.body()).len(), 2);
        assert_eq!(client.sign_out().await?, SignOut::Confirmed);
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    assert_eq!(fake.control().live_sessions(), 0);
    Ok(())
}

/// TSC: a second `sign_in` overwrites the token and leaves the first session open on the
/// server. Here a client that signs in again signs its old session out first (both clients).
#[test]
fn sign_in_twice_does_not_leave_the_first_session_open() {
    let fake = fake();
    let mut client = blocking(&fake);
    client.sign_in(password()).expect("first sign-in");
    let first = token(&client);
    client.sign_in(pat()).expect("second sign-in");
    assert!(
        !fake.control().has_session(&first),
        "the first session ended"
    );
    assert_eq!(fake.control().live_sessions(), 1);
    assert_eq!(
        describe(&fake.request_log())[1..],
        [
            "POST /api/3.25/auth/signin 200",
            "POST /api/3.25/auth/signout 204",
            "POST /api/3.25/auth/signin 200",
        ]
    );
    client.sign_out().expect("sign-out");

    let rt = runtime();
    let client = async_builder(&fake).build().expect("async client");
    rt.block_on(client.sign_in(password()))
        .expect("first sign-in");
    rt.block_on(client.sign_in(pat())).expect("second sign-in");
    assert_eq!(fake.control().live_sessions(), 1);
    assert_eq!(client.generation(), 2);
    rt.block_on(client.sign_out()).expect("sign-out");
    assert_eq!(fake.control().live_sessions(), 0);
}
