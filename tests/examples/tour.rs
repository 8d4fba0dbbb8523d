//! The one-command tour: every authentication flow of tableau-auth, with both adapters, against
//! a fake Tableau Server started in-process.
//!
//! ```text
//! cargo run -p tableau-auth-tests --example tour
//! ```
//!
//! Part 1 drives the blocking client (`tableau-auth-ureq`, XML), part 2 the async client
//! (`tableau-auth-hyper`, JSON, plus one call through its tower layer), each against its own
//! fake server (TLS, with a CA generated at start and given to the client; the sample users,
//! sites, PATs and connected app of `tableau_auth_tests::fake::sample`). Each part walks through:
//! server info, sign-in with a password, a PAT and a connected app (the core mints the JWT),
//! impersonation, switch site, `sessions/current`, expiry and transparent renewal (the fake's
//! clock jumps past the idle limit), sign-out, and a trusted ticket.
//!
//! For every step it prints what went over the wire (method, path and status, as the fake
//! received them) and what came back. It never prints a secret: passwords, the PAT secret, JWTs,
//! session tokens and tickets show as `******** (N bytes)`.
//!
//! Everything here uses only the public APIs of the adapters and the core: copy freely. The
//! fake server's control handle (its clock, its request log) stands in for a real server and
//! its administrator.

use std::error::Error;
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tableau_auth_tests::fake::{FakeConfig, FakeOptions, FakeServer, LoggedRequest, sample};

// Both adapters re-export the same core (`proto`) and `http` crates.
use tableau_auth_hyper::http;
use tableau_auth_hyper::proto::secret::ExposeSecret;
use tableau_auth_hyper::proto::{
    ConnectedApp, Credentials, CurrentSession, Expiry, Format, ServerInfo, SignIn, SignOut,
    SignedIn, TicketRequest, UserId, Verdict,
};

/// The steps of each part, in order (part 2 adds [`TOWER_STEP`] before the sign-out).
pub(crate) const STEPS: [&str; 10] = [
    "server info / version discovery",
    "sign in: password",
    "sign in: personal access token",
    "sign in: connected app (JWT minted by the core)",
    "impersonation",
    "switch site",
    "sessions/current",
    "expiry and renewal",
    "sign out",
    "trusted ticket",
];

/// The extra step of part 2: one call through the tower layer.
pub(crate) const TOWER_STEP: &str = "tower layer";

/// The scope the connected app's JWTs carry.
const SCOPE: &str = "tableau:content:read";

/// What the tour did, counted from the fake servers' request logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Part 1 (blocking) and part 2 (async).
    pub(crate) parts: [PartSummary; 2],
}

/// What one part did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartSummary {
    /// `tableau-auth-ureq` or `tableau-auth-hyper`.
    pub(crate) adapter: &'static str,
    /// Steps printed.
    pub(crate) steps: usize,
    /// Requests the fake server received.
    pub(crate) requests: usize,
    /// Sign-in requests the fake server received.
    pub(crate) sign_ins: usize,
    /// Sign-in requests the fake received during the expiry step (the transparent renewal).
    pub(crate) renewal_sign_ins: usize,
    /// Wall-clock time of the part.
    pub(crate) elapsed_ms: u128,
}

type TourError = Box<dyn Error>;

fn main() -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match run(&mut stdout) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = stdout.flush();
            eprintln!("tour failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts two fake servers (one per part: part 1 moves its fake's clock forward by hours, which
/// would make part 2's freshly minted JWTs look issued in the past) and runs the tour.
pub(crate) fn run(out: &mut dyn Write) -> Result<Summary, TourError> {
    let blocking = start_fake().context("starting the fake server for part 1")?;
    let nonblocking = start_fake().context("starting the fake server for part 2")?;
    run_on(&blocking, &nonblocking, out)
}

/// A fake Tableau Server on 127.0.0.1 over TLS, with the sample configuration.
pub(crate) fn start_fake() -> std::io::Result<FakeServer> {
    let options = FakeOptions::builder().redirect_listener(false).build();
    FakeServer::start_blocking(FakeConfig::sample(), options)
}

/// Runs part 1 on `blocking` and part 2 on `nonblocking` (both TLS fakes with the sample
/// configuration), writing the narrative to `out`.
pub(crate) fn run_on(
    blocking: &FakeServer,
    nonblocking: &FakeServer,
    out: &mut dyn Write,
) -> Result<Summary, TourError> {
    writeln!(
        out,
        "tableau-auth tour: every sign-in flow, with both adapters, against a fake Tableau Server."
    )?;
    writeln!(
        out,
        "No secret is printed: passwords, PAT secrets, JWTs, tokens and tickets show as {}.",
        masked_len(None)
    )?;
    let first = part1(blocking, out)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting a tokio runtime")?;
    let second = runtime.block_on(part2(nonblocking, out))?;
    writeln!(out)?;
    for part in [&first, &second] {
        writeln!(
            out,
            "{}: {} steps, {} requests, {} sign-ins ({} of them the transparent renewal), {} ms",
            part.adapter,
            part.steps,
            part.requests,
            part.sign_ins,
            part.renewal_sign_ins,
            part.elapsed_ms
        )?;
    }
    Ok(Summary {
        parts: [first, second],
    })
}

// ---------------------------------------------------------------------------------------------
// Part 1: the blocking client

fn part1(fake: &FakeServer, out: &mut dyn Write) -> Result<PartSummary, TourError> {
    use tableau_auth_ureq::Client;

    let started = Instant::now();
    let mut tour = Narrator::new(1, fake, out);
    tour.intro("the blocking client (tableau-auth-ureq), XML")?;
    let ca_pem = fake.ca_pem().context("the fake serves TLS")?;
    let idle_limit = Duration::from_secs(fake.control().config().idle_limit_secs);
    let mut client = Client::builder(fake.base_url())
        .ca_pem(ca_pem) // trust the fake's CA (it replaces the built-in roots)
        .format(Format::Xml)
        .idle_limit(idle_limit) // the server's idle limit, as its administrator set it
        .build()
        .context("building the blocking client")?;
    let format = client.session().config().format();

    // 1. Server info: anonymous; the client adopts the server's REST API version.
    let mut step = tour.begin(STEPS[0]);
    let info = client.server_info().context("server info")?;
    step.wire();
    step.say(server_info_line(&info));
    tour.end(step)?;

    // 2-4. One sign-in per kind of credentials.
    for (title, what, credentials) in sign_in_kinds() {
        let mut step = tour.begin(title);
        step.say(what);
        if client.session().is_signed_in() {
            step.say("(a sign-in first signs out the session the client holds)");
        }
        let signed_in = client
            .sign_in(SignIn::new(credentials, ""))
            .context(title)?;
        step.wire();
        step.say(signed_in_line(&signed_in));
        step.say(token_line(
            client.session().token().map(|t| t.expose_secret().len()),
            client.session().poll_timeout(),
            signed_in.credentials_expire_at,
        ));
        tour.end(step)?;
    }

    // 5. Impersonation: the administrator's credentials, the session of another user.
    let mut step = tour.begin(STEPS[4]);
    let (what, sign_in) = impersonation()?;
    step.say(what);
    let signed_in = client.sign_in(sign_in).context("impersonation")?;
    let me = client.current_session().context("sessions/current")?;
    step.wire();
    step.say(signed_in_line(&signed_in));
    step.say(format!(
        "the session belongs to {} ({}), not to {}",
        me.user_name,
        short(me.user_id.as_str()),
        sample::ADMIN_NAME
    ));
    tour.end(step)?;

    // 6. Switch site: a new token for the Finance site; the old one is dead.
    let mut step = tour.begin(STEPS[5]);
    let old = client.session().token().cloned();
    let switched = client
        .switch_site(sample::FINANCE_SITE)
        .context("switch site")?
        .context("switch site: the session was already on Finance")?;
    step.wire();
    step.say(signed_in_line(&switched));
    step.say(format!(
        "new token: {}",
        token_changed(old.as_ref(), client.session().token())
    ));
    tour.end(step)?;

    // 7. sessions/current: who and where, from the server's point of view.
    let mut step = tour.begin(STEPS[6]);
    let me = client.current_session().context("sessions/current")?;
    step.wire();
    step.say(me_line(&me));
    tour.end(step)?;

    // 8. Expiry: the server's clock passes the idle limit; the next call renews by itself.
    let mut step = tour.begin(STEPS[7]);
    let advance = idle_limit + Duration::from_secs(60);
    fake.control().advance(advance);
    step.say(format!(
        "the fake's clock jumps {} (its idle limit is {}): the session expires server-side",
        human(advance),
        human(idle_limit)
    ));
    let before = sign_ins(&fake.request_log());
    let old = client.session().token().cloned();
    let me = client
        .current_session()
        .context("a call after the expiry")?;
    let after = sign_ins(&fake.request_log());
    step.wire();
    step.say(format!(
        "401002 → the client signed in again with the same credentials and replayed the call: {}",
        me_line(&me)
    ));
    step.say(format!(
        "sign-ins seen by the fake: {before} → {after}; new token: {}",
        token_changed(old.as_ref(), client.session().token())
    ));
    let renewal_sign_ins = after - before;
    tour.end(step)?;

    // 9. Sign out; the old token no longer works.
    let mut step = tour.begin(STEPS[8]);
    let old = client
        .session()
        .token()
        .cloned()
        .context("a session to sign out")?;
    let outcome = client.sign_out().context("sign out")?;
    step.wire();
    step.say(format!("sign-out: {}", sign_out_text(outcome)));
    // What a script holding on to the old token would see. (The client cannot be given a token,
    // so this call goes through the client's agent: same TLS trust, but no authorization.)
    let agent = client.agent().clone(); // cheap: an Arc
    let url = client.session().api_url("sessions/current")?;
    let response = agent
        .get(url.to_string())
        .header("x-tableau-auth", old.expose_secret())
        .header("accept", format.media_type())
        .call()
        .context("sessions/current with the old token")?;
    let response = into_vec(response).context("reading the response")?;
    step.wire();
    step.say(format!(
        "the old token is refused: {}",
        verdict_text(client.session().classify(&response))
    ));
    let refused = client.send(get_request(url, format)?);
    step.say(format!(
        "and the client sends nothing without a session: {}",
        match refused {
            Ok(_) => "it sent the call anyway".to_owned(),
            Err(e) => e.to_string(),
        }
    ));
    tour.end(step)?;

    // 10. Trusted ticket (anonymous, from a trusted host), redeemed once.
    let mut step = tour.begin(STEPS[9]);
    let ticket = client
        .trusted_ticket(TicketRequest::new(sample::USER_NAME))
        .context("trusted ticket")?;
    step.wire();
    let url = ticket.redemption_url("Superstore", "Overview");
    step.say(format!(
        "ticket {} for {} on the Default site",
        masked_len(Some(ticket.value().expose_secret().len())),
        sample::USER_NAME
    ));
    step.say(format!(
        "redemption URL: {}",
        mask_ticket_in_url(url.expose_secret())
    ));
    for attempt in ["first", "second"] {
        let response = agent
            .get(url.expose_secret())
            .call()
            .context("redeeming the ticket")?;
        step.wire();
        step.say(redemption_line(
            attempt,
            response.status(),
            response.headers(),
        ));
    }
    tour.end(step)?;

    tour.summary("tableau-auth-ureq", renewal_sign_ins, started)
}

/// A ureq response with its body read (bounded) into a `Vec`.
fn into_vec(
    response: http::Response<tableau_auth_ureq::ureq::Body>,
) -> Result<http::Response<Vec<u8>>, TourError> {
    let (parts, mut body) = response.into_parts();
    let bytes = body.with_config().limit(1 << 20).read_to_vec()?;
    Ok(http::Response::from_parts(parts, bytes))
}

// ---------------------------------------------------------------------------------------------
// Part 2: the async client, shared by tasks, and its tower layer

async fn part2(fake: &FakeServer, out: &mut dyn Write) -> Result<PartSummary, TourError> {
    use tableau_auth_hyper::bytes::Bytes;
    use tableau_auth_hyper::http_body_util::{BodyExt as _, Full, Limited};
    use tableau_auth_hyper::tower::{Layer as _, Service as _, ServiceExt as _};
    use tableau_auth_hyper::{Client, SessionEvent, TableauAuthLayer};

    let started = Instant::now();
    let mut tour = Narrator::new(2, fake, out);
    tour.intro("the async client (tableau-auth-hyper), JSON, one session shared by tasks")?;
    let ca_pem = fake.ca_pem().context("the fake serves TLS")?;
    let idle_limit = Duration::from_secs(fake.control().config().idle_limit_secs);
    // Every session event (no secret in any), printed with the step that caused it.
    let events: Arc<Mutex<Vec<SessionEvent>>> = Arc::default();
    let sink = events.clone();
    let client = Client::builder(fake.base_url())
        .ca_pem(ca_pem) // the fake's CA, added to the built-in roots
        .format(Format::Json)
        .idle_limit(idle_limit)
        .on_event(move |event| {
            if let Ok(mut events) = sink.lock() {
                events.push(event.clone());
            }
        })
        .build()
        .context("building the async client")?;
    let format = Format::Json;
    let take_events = || -> Vec<String> {
        events
            .lock()
            .map(|mut e| e.drain(..).map(|e| event_text(&e)).collect())
            .unwrap_or_default()
    };

    // 1. Server info.
    let mut step = tour.begin(STEPS[0]);
    let info = client.server_info().await.context("server info")?;
    step.wire();
    step.say(server_info_line(&info));
    tour.end(step)?;

    // 2-4. One sign-in per kind of credentials.
    for (title, what, credentials) in sign_in_kinds() {
        let mut step = tour.begin(title);
        step.say(what);
        if client.is_signed_in() {
            step.say("(a sign-in first signs out the session the client holds)");
        }
        let signed_in = client
            .sign_in(SignIn::new(credentials, ""))
            .await
            .context(title)?;
        step.wire();
        step.say(signed_in_line(&signed_in));
        step.say(token_line(
            client.current().map(|c| c.header_value().len()),
            client.with_session(|s| s.poll_timeout()),
            signed_in.credentials_expire_at,
        ));
        step.events(take_events());
        tour.end(step)?;
    }

    // 5. Impersonation.
    let mut step = tour.begin(STEPS[4]);
    let (what, sign_in) = impersonation()?;
    step.say(what);
    let signed_in = client.sign_in(sign_in).await.context("impersonation")?;
    let me = client.current_session().await.context("sessions/current")?;
    step.wire();
    step.say(signed_in_line(&signed_in));
    step.say(format!(
        "the session belongs to {} ({}), not to {}",
        me.user_name,
        short(me.user_id.as_str()),
        sample::ADMIN_NAME
    ));
    step.events(take_events());
    tour.end(step)?;

    // 6. Switch site.
    let mut step = tour.begin(STEPS[5]);
    let old = client.current().map(|c| c.header_value().clone());
    let switched = client
        .switch_site(sample::FINANCE_SITE)
        .await
        .context("switch site")?
        .context("switch site: the session was already on Finance")?;
    step.wire();
    step.say(signed_in_line(&switched));
    let new = client.current().map(|c| c.header_value().clone());
    step.say(format!(
        "new token: {}",
        if old.is_some() && new.is_some() && old != new {
            "yes"
        } else {
            "no"
        }
    ));
    step.events(take_events());
    tour.end(step)?;

    // 7. sessions/current.
    let mut step = tour.begin(STEPS[6]);
    let me = client.current_session().await.context("sessions/current")?;
    step.wire();
    step.say(me_line(&me));
    tour.end(step)?;

    // 8. Expiry: four tasks call at once after the server's clock jumped; one sign-in for all.
    let mut step = tour.begin(STEPS[7]);
    let advance = idle_limit + Duration::from_secs(60);
    fake.control().advance(advance);
    step.say(format!(
        "the fake's clock jumps {} (its idle limit is {}): the session expires server-side",
        human(advance),
        human(idle_limit)
    ));
    let before = sign_ins(&fake.request_log());
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let client = client.clone(); // clones share one session
        tasks.push(tokio::spawn(async move { client.current_session().await }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        let me = task
            .await
            .map_err(|e| format!("a task failed: {e}"))?
            .map_err(|e| format!("a call after the expiry: {e}"))?;
        answers.push(me_line(&me));
    }
    answers.dedup();
    let after = sign_ins(&fake.request_log());
    step.wire();
    step.say(format!(
        "4 tasks called sessions/current together: 401002 → one shared sign-in (single-flight) \
         → each replayed once: {}",
        answers.join(" | ")
    ));
    step.say(format!("sign-ins seen by the fake: {before} → {after}"));
    step.events(take_events());
    step.say(
        "(the fake's clock jumped, not ours: by the client's clock no deadline had passed, so it \
         reports the rejection as 'superseded')",
    );
    let renewal_sign_ins = after - before;
    tour.end(step)?;

    // 9. The tower layer: any tower service (here the client's own pooled hyper client) gets
    //    X-Tableau-Auth added, and a 401002 renewed once.
    let mut step = tour.begin(TOWER_STEP);
    let mut service = TableauAuthLayer::new(&client).layer(client.hyper_client());
    let request = http::Request::get(client.api_url("sessions/current")?)
        .header("accept", format.media_type())
        .body(Full::new(Bytes::new()))?;
    let response = service
        .ready()
        .await
        .context("tower layer")?
        .call(request)
        .await
        .context("tower layer")?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, 1 << 20)
        .collect()
        .await
        .context("reading the response")?
        .to_bytes();
    // The layer hands back the raw answer; the core reads it as `current_session()` would.
    let status = parts.status;
    let response = http::Response::from_parts(parts, body);
    let via_layer = client
        .with_session(|session| session.read_current_session(&response))
        .context("tower layer")?;
    if via_layer != me {
        return Err(format!("tower layer: {status}, not the session of step 7").into());
    }
    step.wire();
    step.say(format!(
        "TableauAuthLayer over client.hyper_client(): {status}, {}",
        me_line(&via_layer)
    ));
    tour.end(step)?;

    // 10. Sign out; the old token no longer works.
    let mut step = tour.begin(STEPS[8]);
    let old = client
        .current()
        .map(|c| c.header_value().clone())
        .context("a session to sign out")?;
    let outcome = client.sign_out().await.context("sign out")?;
    step.wire();
    step.say(format!("sign-out: {}", sign_out_text(outcome)));
    // What a task holding on to the old token would see (sent without the client's help).
    let url = client.api_url("sessions/current")?;
    let request = http::Request::get(url.clone())
        .header("x-tableau-auth", old)
        .header("accept", format.media_type())
        .body(Full::new(Bytes::new()))?;
    let response = client
        .hyper_client()
        .request(request)
        .await
        .context("sessions/current with the old token")?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, 1 << 20)
        .collect()
        .await
        .context("reading the response")?
        .to_bytes();
    let response = http::Response::from_parts(parts, body.to_vec());
    step.wire();
    step.say(format!(
        "the old token is refused: {}",
        verdict_text(client.with_session(|s| s.classify(&response)))
    ));
    let refused = client.send(get_request(url, format)?).await;
    step.say(format!(
        "and the client sends nothing without a session: {}",
        match refused {
            Ok(_) => "it sent the call anyway".to_owned(),
            Err(e) => e.to_string(),
        }
    ));
    step.events(take_events());
    tour.end(step)?;

    // 11. Trusted ticket, redeemed once.
    let mut step = tour.begin(STEPS[9]);
    let ticket = client
        .trusted_ticket(TicketRequest::new(sample::USER_NAME).target_site(sample::FINANCE_SITE))
        .await
        .context("trusted ticket")?;
    step.wire();
    let url = ticket.redemption_url("Superstore", "Overview");
    step.say(format!(
        "ticket {} for {} on the {} site",
        masked_len(Some(ticket.value().expose_secret().len())),
        sample::USER_NAME,
        sample::FINANCE_SITE
    ));
    step.say(format!(
        "redemption URL: {}",
        mask_ticket_in_url(url.expose_secret())
    ));
    let uri: http::Uri = url.expose_secret().parse().context("the redemption URL")?;
    for attempt in ["first", "second"] {
        let request = http::Request::get(uri.clone()).body(Full::new(Bytes::new()))?;
        let response = client
            .hyper_client()
            .request(request)
            .await
            .context("redeeming the ticket")?;
        step.wire();
        step.say(redemption_line(
            attempt,
            response.status(),
            response.headers(),
        ));
    }
    tour.end(step)?;

    tour.summary("tableau-auth-hyper", renewal_sign_ins, started)
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

/// The sample's connected app (direct trust), signing in as the sample user. The adapter mints
/// a fresh JWT (new `jti`, `iat`, `exp`) for every sign-in, renewals included.
fn connected_app() -> ConnectedApp {
    ConnectedApp::new(
        sample::APP_CLIENT_ID,
        sample::APP_SECRET_ID,
        sample::APP_SECRET_VALUE,
        sample::USER_NAME,
    )
    .scope(SCOPE)
}

/// The three kinds of credentials, each signing in the sample user to the Default site: the
/// step's title, what it uses, and the credentials.
fn sign_in_kinds() -> [(&'static str, String, Credentials); 3] {
    [
        (
            STEPS[1],
            format!("user {} on the Default site", sample::USER_NAME),
            Credentials::password(sample::USER_NAME, sample::USER_PASSWORD),
        ),
        (
            STEPS[2],
            format!("PAT {:?} of {}", sample::USER_PAT_NAME, sample::USER_NAME),
            Credentials::personal_access_token(sample::USER_PAT_NAME, sample::USER_PAT_SECRET),
        ),
        (
            STEPS[3],
            format!(
                "connected app {}, JWT sub={}, scope {SCOPE}",
                short(sample::APP_CLIENT_ID),
                sample::USER_NAME
            ),
            Credentials::ConnectedApp(connected_app()),
        ),
    ]
}

/// The administrator signs in with its own password, acting as the sample user (by LUID).
fn impersonation() -> Result<(String, SignIn), TourError> {
    let target = UserId::parse(sample::USER_ID).context("the sample user's LUID")?;
    let admin = Credentials::password(sample::ADMIN_NAME, sample::ADMIN_PASSWORD);
    let what = format!(
        "{} signs in with its password, acting as {} (by LUID)",
        sample::ADMIN_NAME,
        sample::USER_NAME
    );
    Ok((what, SignIn::new(admin, "").impersonate(target)))
}

fn redemption_line(attempt: &str, status: http::StatusCode, headers: &http::HeaderMap) -> String {
    // The cookie is a session too: only say whether there is one.
    let cookie = if headers.contains_key("set-cookie") {
        " with a session cookie"
    } else {
        " (a ticket redeems once)"
    };
    format!("{attempt} redemption: {status}{cookie}")
}

/// A `GET` asking for `format`.
fn get_request(url: http::Uri, format: Format) -> Result<http::Request<Vec<u8>>, TourError> {
    Ok(http::Request::get(url)
        .header("accept", format.media_type())
        .body(Vec::new())?)
}

/// What `sessions/current` says, as the adapters read it (`current_session()`).
fn me_line(me: &CurrentSession) -> String {
    format!(
        "user {} ({}, {}) on site {:?} (contentUrl {:?}, {})",
        me.user_name,
        short(me.user_id.as_str()),
        me.site_role.as_deref().unwrap_or_default(),
        me.site_name,
        me.site_content_url.as_str(),
        short(me.site_id.as_str())
    )
}

fn server_info_line(info: &ServerInfo) -> String {
    format!(
        "Tableau {} (build {}), REST API {}{}: the client will use {}",
        info.product_version,
        info.build.as_deref().unwrap_or("?"),
        info.rest_api_version,
        info.platform
            .as_deref()
            .map(|p| format!(", {p}"))
            .unwrap_or_default(),
        info.rest_api_version
    )
}

fn signed_in_line(s: &SignedIn) -> String {
    format!(
        "site {} (contentUrl {:?}), user {}, API {}",
        s.site_id.as_str(),
        s.site_content_url.as_str(),
        s.user_id.as_str(),
        s.api_version
    )
}

/// The token (masked), when the client will sign in again, and when the PAT expires.
fn token_line(
    token_len: Option<usize>,
    renew: Option<(Instant, Expiry)>,
    credentials_expire_at: Option<Instant>,
) -> String {
    let now = Instant::now();
    let mut line = format!("token {}", masked_len(token_len));
    if let Some((at, why)) = renew {
        line.push_str(&format!(
            "; renews in {} (before the {})",
            human(at.saturating_duration_since(now)),
            why.as_str()
        ));
    }
    if let Some(at) = credentials_expire_at {
        line.push_str(&format!(
            "; the PAT expires in {}",
            human(at.saturating_duration_since(now))
        ));
    }
    line
}

fn token_changed(
    old: Option<&tableau_auth_hyper::proto::secret::AuthToken>,
    new: Option<&tableau_auth_hyper::proto::secret::AuthToken>,
) -> &'static str {
    match (old, new) {
        (Some(old), Some(new)) if old.expose_secret() != new.expose_secret() => "yes",
        _ => "no",
    }
}

fn sign_out_text(outcome: SignOut) -> &'static str {
    match outcome {
        SignOut::Confirmed => "confirmed (204)",
        SignOut::AlreadyGone => "the session was already gone (401), not an error",
        SignOut::NotSignedIn => "not signed in, nothing sent",
        _ => "done",
    }
}

fn verdict_text(verdict: Verdict) -> String {
    match verdict {
        Verdict::Success => "no, it still works".to_owned(),
        Verdict::Reauthenticate(e) => format!(
            "{} {} (the session is gone: sign in again)",
            e.status().map(|s| s.as_u16()).unwrap_or_default(),
            e.code().unwrap_or("-")
        ),
        Verdict::Retry(e) | Verdict::Fail(e) => e.to_string(),
        _ => "unclassified".to_owned(),
    }
}

/// The core's own wording of an event (`Display`), the same in every adapter.
fn event_text(event: &tableau_auth_hyper::SessionEvent) -> String {
    event.to_string()
}

/// `******** (N bytes)`: the only way a secret is ever shown.
fn masked_len(len: Option<usize>) -> String {
    match len {
        Some(len) => format!("******** ({len} bytes)"),
        None => "******** (N bytes)".to_owned(),
    }
}

/// `…/trusted/{ticket}/…` with the ticket masked.
fn mask_ticket_in_url(url: &str) -> String {
    const MARK: &str = "/trusted/";
    match url.find(MARK) {
        Some(at) => {
            let start = at + MARK.len();
            let rest = &url[start..];
            let end = rest.find('/').unwrap_or(rest.len());
            format!("{}********{}", &url[..start], &rest[end..])
        }
        None => url.to_owned(),
    }
}

/// The first block of a LUID, for readable lines (`1a96d216…`).
fn short(luid: &str) -> String {
    match luid.split_once('-') {
        Some((head, _)) => format!("{head}…"),
        None => luid.to_owned(),
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        86_400.. => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3_600),
        3_600.. => format!("{}h{:02}m", s / 3_600, s % 3_600 / 60),
        60.. => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}ms", d.as_millis()),
    }
}

fn sign_ins(log: &[LoggedRequest]) -> usize {
    log.iter().filter(|e| e.is_signin()).count()
}

/// Adds what was being done to an error (or a missing value).
trait Context<T> {
    fn context(self, what: &str) -> Result<T, TourError>;
}

impl<T, E: std::fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: &str) -> Result<T, TourError> {
        self.map_err(|e| format!("{what}: {e}").into())
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: &str) -> Result<T, TourError> {
        self.ok_or_else(|| format!("{what}: missing").into())
    }
}

// ---------------------------------------------------------------------------------------------
// The narrative

/// Numbers the steps of one part and prints them with what the fake received.
struct Narrator<'a> {
    part: usize,
    steps: usize,
    fake: &'a FakeServer,
    log_start: usize,
    out: &'a mut dyn Write,
}

/// One step being recorded: printed (with its timing) when it ends.
struct Step<'a> {
    title: &'static str,
    started: Instant,
    fake: &'a FakeServer,
    seen: usize,
    lines: Vec<String>,
}

impl<'a> Narrator<'a> {
    fn new(part: usize, fake: &'a FakeServer, out: &'a mut dyn Write) -> Self {
        Self {
            part,
            steps: 0,
            fake,
            log_start: fake.request_log().len(),
            out,
        }
    }

    fn intro(&mut self, what: &str) -> std::io::Result<()> {
        writeln!(self.out)?;
        writeln!(self.out, "== Part {}: {what} ==", self.part)?;
        writeln!(
            self.out,
            "fake Tableau Server at {} (TLS; its CA is generated at start and given to the client)",
            self.fake.base_url()
        )
    }

    fn begin(&self, title: &'static str) -> Step<'a> {
        Step {
            title,
            started: Instant::now(),
            fake: self.fake,
            seen: self.fake.request_log().len(),
            lines: Vec::new(),
        }
    }

    fn end(&mut self, mut step: Step<'_>) -> std::io::Result<()> {
        step.wire();
        self.steps += 1;
        let ms = step.started.elapsed().as_millis();
        let header = format!("[{}.{}] {}", self.part, self.steps, step.title);
        writeln!(self.out, "{header:<68}{ms:>5} ms")?;
        for line in &step.lines {
            writeln!(self.out, "      {line}")?;
        }
        Ok(())
    }

    fn summary(
        self,
        adapter: &'static str,
        renewal_sign_ins: usize,
        started: Instant,
    ) -> Result<PartSummary, TourError> {
        let log = self.fake.request_log();
        let log = log.get(self.log_start..).unwrap_or_default();
        Ok(PartSummary {
            adapter,
            steps: self.steps,
            requests: log.len(),
            sign_ins: sign_ins(log),
            renewal_sign_ins,
            elapsed_ms: started.elapsed().as_millis(),
        })
    }
}

impl Step<'_> {
    fn say(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    fn events(&mut self, events: Vec<String>) {
        for event in events {
            self.lines.push(format!("event: {event}"));
        }
    }

    /// Adds what the fake received since the last call: `→ METHOD path  [status]`, repeated
    /// lines merged. Only the method, the path (a ticket in it masked) and the status: never a
    /// header or a body.
    fn wire(&mut self) {
        let log = self.fake.request_log();
        let new = log.get(self.seen..).unwrap_or_default();
        self.seen = log.len();
        let mut lines: Vec<(String, usize)> = Vec::new();
        for entry in new {
            let status = entry.status.map_or("-".to_owned(), |s| s.to_string());
            let line = format!(
                "{} {}  [{status}]",
                entry.method,
                mask_ticket_in_url(&entry.path)
            );
            match lines.last_mut() {
                Some((last, n)) if *last == line => *n += 1,
                _ => lines.push((line, 1)),
            }
        }
        for (line, n) in lines {
            let times = if n > 1 {
                format!("{n}× ")
            } else {
                String::new()
            };
            self.lines.push(format!("→ {times}{line}"));
        }
    }
}
