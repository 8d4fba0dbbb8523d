//! Embedding the Sans-IO core in another SDK: driving the core's session [`Policy`] over the
//! SDK's own transport.
//!
//! An SDK that already has an HTTP stack does not want a second client: it keeps a [`Policy`]
//! (the core: every Tableau decision, and every rule about the session) and drives it over
//! *its own* transport. This one's transport is a `ureq::Agent` it configures itself; a
//! hand-written HTTP/1.1 client, a test double or a corporate proxy library would do just as
//! well. The SDK writes no rule of its own: no re-authentication, no retry, no renewal. It
//! [`Policy::begin`]s a [`Call`] and does what [`Policy::poll`] says ([`Action`]): sends the
//! request of [`Action::Send`] and feeds the answer to [`Policy::handle_response`]; sends its
//! own request authorized by the [`Grant`] of [`Action::Authorize`] and, unless
//! [`Grant::completes`], feeds the answer to [`Policy::handle_reply`]; sleeps until
//! [`Action::WaitUntil`]; stops at [`Action::Done`]. Each step gets the clocks and 16 random
//! bytes ([`Inputs`]: throttle jitter, connected-app JWT IDs), and the policy's events
//! ([`SessionEvent`]) are drained with [`Policy::poll_event`].
//!
//! ```text
//! # personal access token
//! TABLEAU_PAT_NAME=etl TABLEAU_PAT_SECRET=… \
//!   cargo run -p tableau-auth-ureq --example embed_drive -- --server https://tableau.example.com
//! # or a connected app (direct trust), signing in as --username
//! TABLEAU_CLIENT_ID=… TABLEAU_SECRET_ID=… TABLEAU_SECRET_VALUE=… \
//!   cargo run -p tableau-auth-ureq --example embed_drive -- --server https://tableau.example.com \
//!   --username jsmith@example.com [--site Finance] [--ca-file corp-ca.pem]
//! cargo run -p tableau-auth-ureq --example embed_drive   # demo: an in-process fake server
//! ```
//!
//! Secrets come only from the environment. Without a server (or with `--demo`) the fake
//! Tableau server of `tableau-auth-tests` runs on 127.0.0.1 and the SDK signs in to it as a
//! connected app. Exits with 1 when Tableau refuses, 2 on bad arguments.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tableau_auth_ureq::http::{Request, Response, header::ACCEPT};
use tableau_auth_ureq::proto::lifecycle::SessionEvent;
use tableau_auth_ureq::proto::{
    self, Action, ApiVersion, Call, CallId, Config, ConnectedApp, Credentials, Event, Grant,
    Inputs, Intent, Outcome, Policy, ServerInfo, Session, SignIn, SignOut, SignedIn,
};
use tableau_auth_ureq::ureq;

const USAGE: &str = "usage: embed_drive [--server URL] [--site SITE] [--ca-file PEM] \
                     [--username NAME] [--demo] (PAT in TABLEAU_PAT_NAME and TABLEAU_PAT_SECRET, \
                     or a connected app in TABLEAU_CLIENT_ID, TABLEAU_SECRET_ID and \
                     TABLEAU_SECRET_VALUE; server and site also in TABLEAU_SERVER and TABLEAU_SITE)";

// ---------------------------------------------------------------------------------------------
// The SDK

/// The SDK's errors: the core's typed error (with its predicates: `code()`, `is_retryable()`,
/// …), its own transport's, and an answer it did not expect.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SdkError {
    /// Tableau said no, or sent something that is not a Tableau response, or the policy gave
    /// up (a session ended again after one re-sign-in, a server throttling beyond the caps).
    #[error(transparent)]
    Tableau(#[from] proto::Error),
    /// The SDK's own HTTP stack failed.
    #[error("transport: {0}")]
    Transport(#[from] ureq::Error),
    /// A response the SDK cannot use (not JSON, a member missing, an unexpected event).
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// How a call of the policy ended, for the SDK.
enum Finished {
    /// An intent's outcome.
    Event(Event),
    /// The answer to the SDK's own request.
    Reply(Response<Vec<u8>>),
}

/// A toy SDK with its own HTTP stack that embeds the core for Tableau authentication.
pub(crate) struct Sdk {
    policy: Policy,
    agent: ureq::Agent,
    /// `METHOD path` of every request the SDK's transport sent (never headers or bodies:
    /// those carry credentials and tokens).
    pub(crate) sent: Vec<String>,
    /// Every event of the policy, in order (no event carries a secret).
    pub(crate) events: Vec<SessionEvent>,
}

impl Sdk {
    /// An SDK for `server`, trusting `ca_pem` instead of the built-in roots when given.
    pub(crate) fn new(server: &str, ca_pem: Option<&[u8]>) -> Result<Self, SdkError> {
        let config = Config::builder(server)
            .user_agent("my-sdk/1.0 (tableau-auth-proto)")
            .build()
            .map_err(proto::Error::from)?;
        Ok(Self {
            policy: Policy::new(config, Instant::now()),
            agent: agent(ca_pem)?,
            sent: Vec::new(),
            events: Vec::new(),
        })
    }

    /// The core session (token, site, version, URLs), read-only: the policy runs it.
    pub(crate) fn session(&self) -> &Session {
        self.policy.session()
    }

    /// Which limit of the session comes first, while signed in: the policy renews the session
    /// shortly before it.
    pub(crate) fn first_limit(&self) -> Option<&'static str> {
        let (_, why) = self.policy.snapshot()?.renew_at()?;
        Some(why.as_str())
    }

    /// Drives one call of the policy over the SDK's transport: the heart of the embedding.
    /// `own` is the SDK's own request, for [`Call::Request`].
    fn run(&mut self, call: Call, own: Option<&Request<Vec<u8>>>) -> Result<Finished, SdkError> {
        let id = self.policy.begin(call);
        let result = self.drive(id, own);
        // Forget the call however it ended (a no-op once it is done). With a fleet's store
        // (`Policy::set_fleet`), an SDK would run the release this returns; this one has none.
        let _no_store_to_release_on = self.policy.cancel(id);
        self.drain_events();
        result
    }

    fn drive(&mut self, id: CallId, own: Option<&Request<Vec<u8>>>) -> Result<Finished, SdkError> {
        let max_body = self.policy.session().config().max_body();
        let (mut last_reply, mut transport_error) = (None, None);
        loop {
            let action = self.policy.poll(id, inputs()?);
            self.drain_events();
            match action {
                Action::Send(request) => {
                    self.note(&request);
                    match transport(&self.agent, request, max_body) {
                        Ok(response) => self.policy.handle_response(id, response, inputs()?),
                        Err(e) => {
                            self.policy.transport_failed(id, &e.to_string());
                            transport_error = Some(e);
                        }
                    }
                }
                Action::Authorize(grant) => {
                    let own = own.ok_or_else(|| unexpected("a request to authorize"))?;
                    match self.send_own(&grant, own.clone(), max_body) {
                        Ok(response) if grant.completes(response.status()) => {
                            return Ok(Finished::Reply(response));
                        }
                        Ok(response) => {
                            let (status, headers) = (response.status(), response.headers());
                            let body = Some(response.body().as_slice());
                            self.policy
                                .handle_reply(id, &grant, status, headers, body, inputs()?);
                            last_reply = Some(response);
                        }
                        Err(SdkError::Transport(e)) => {
                            self.policy.transport_failed(id, &e.to_string());
                            transport_error = Some(e);
                        }
                        Err(e) => return Err(e),
                    }
                }
                Action::WaitUntil(at) => {
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                }
                // Only for several callers sharing one policy; this SDK has one.
                Action::Wait => return Err(unexpected("a wait with a single caller")),
                Action::Done(Outcome::Event(event)) => return Ok(Finished::Event(event)),
                Action::Done(Outcome::Deliver) => {
                    return last_reply
                        .map(Finished::Reply)
                        .ok_or_else(|| unexpected("an answer"));
                }
                Action::Done(Outcome::Failed(e)) => return Err(e.into()),
                Action::Done(Outcome::TransportError) => {
                    return Err(transport_error
                        .map(SdkError::Transport)
                        .unwrap_or_else(|| unexpected("a transport error")));
                }
                // Never shown with `{:?}`: a request to send may carry credentials in its body.
                _ => return Err(unexpected("an action this SDK knows")),
            }
            self.drain_events();
        }
    }

    /// Authorizes (a copy of) the SDK's own request with the grant and sends it.
    fn send_own(
        &mut self,
        grant: &Grant,
        mut request: Request<Vec<u8>>,
        max_body: usize,
    ) -> Result<Response<Vec<u8>>, SdkError> {
        // Adds X-Tableau-Auth (sensitive), only for the session's own server.
        grant.authorize(&mut request)?;
        self.note(&request);
        Ok(transport(&self.agent, request, max_body)?)
    }

    fn note(&mut self, request: &Request<Vec<u8>>) {
        self.sent
            .push(format!("{} {}", request.method(), request.uri().path()));
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.policy.poll_event() {
            self.events.push(event);
        }
    }

    /// Runs an intent through the policy.
    fn intent(&mut self, intent: Intent) -> Result<Event, SdkError> {
        match self.run(Call::Intent(intent), None)? {
            Finished::Event(event) => Ok(event),
            Finished::Reply(_) => Err(unexpected("an event")),
        }
    }

    /// The server's versions (anonymous); the session adopts its REST API version.
    pub(crate) fn server_info(&mut self) -> Result<ServerInfo, SdkError> {
        match self.intent(Intent::ServerInfo)? {
            Event::ServerInfo(info) => Ok(info),
            other => Err(SdkError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Signs in; the policy keeps the sign-in to sign in again later (a connected app mints a
    /// fresh JWT each time).
    pub(crate) fn sign_in(&mut self, sign_in: SignIn) -> Result<SignedIn, SdkError> {
        match self.intent(Intent::SignIn(sign_in))? {
            Event::SignedIn(info) => Ok(info),
            other => Err(SdkError::Unexpected(format!("{other:?}"))),
        }
    }

    /// `GET` of an API path (`site_scoped`: under `sites/{site-luid}/`) as JSON, authorized.
    /// Whatever the session needs first (a renewal, a re-sign-in and replay after `401002`, a
    /// wait on 429/503) the policy decides.
    pub(crate) fn get_json(&mut self, path: &str, site_scoped: bool) -> Result<Value, SdkError> {
        let uri = if site_scoped {
            self.session().site_url(path)?
        } else {
            self.session().api_url(path)?
        };
        let request = Request::get(uri)
            .header(ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| SdkError::Unexpected(e.to_string()))?;
        match self.run(Call::Request, Some(&request))? {
            Finished::Reply(response) => serde_json::from_slice(response.body())
                .map_err(|e| SdkError::Unexpected(format!("{path}: {e}"))),
            Finished::Event(other) => Err(SdkError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Signs out (a session the server already ended is `SignOut::AlreadyGone`, not an error).
    pub(crate) fn sign_out(&mut self) -> Result<SignOut, SdkError> {
        match self.intent(Intent::SignOut)? {
            Event::SignedOut(outcome) => Ok(outcome),
            other => Err(SdkError::Unexpected(format!("{other:?}"))),
        }
    }
}

/// This moment on both clocks and 16 fresh random bytes: the policy's only inputs besides the
/// answers (a connected app mints its JWT's `iat`, `exp` and `jti` from them; the throttle
/// window's jitter comes from them).
fn inputs() -> Result<Inputs, SdkError> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random)
        .map_err(|e| SdkError::Unexpected(format!("no randomness: {e}")))?;
    Ok(Inputs::new(Instant::now(), SystemTime::now(), random))
}

fn unexpected(what: &str) -> SdkError {
    SdkError::Unexpected(format!("the policy did not give {what}"))
}

/// The SDK's HTTP stack. The core's contract for a transport: never follow a redirect (the
/// core decides which to follow), hand over error responses with their bodies (Tableau's error
/// codes are there), and read at most `max_body` + 1 bytes of body.
fn agent(ca_pem: Option<&[u8]>) -> Result<ureq::Agent, SdkError> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig, parse_pem};
    let mut config = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(Duration::from_secs(60)));
    if let Some(pem) = ca_pem {
        let mut certs = Vec::new();
        for item in parse_pem(pem) {
            if let PemItem::Certificate(cert) = item? {
                certs.push(cert);
            }
        }
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::new_with_certs(&certs))
            .build();
        config = config.tls_config(tls);
    }
    Ok(config.build().into())
}

/// Sends one request over `agent` and reads its body (bounded).
fn transport(
    agent: &ureq::Agent,
    request: Request<Vec<u8>>,
    max_body: usize,
) -> Result<Response<Vec<u8>>, ureq::Error> {
    let (parts, mut body) = agent.run(request)?.into_parts();
    let bytes = body
        .with_config()
        .limit(max_body as u64 + 1)
        .read_to_vec()?;
    Ok(Response::from_parts(parts, bytes))
}

// ---------------------------------------------------------------------------------------------
// The program using the SDK

/// Where and as whom to sign in.
pub(crate) struct Settings {
    pub(crate) server: String,
    pub(crate) ca_pem: Option<Vec<u8>>,
    pub(crate) site: String,
    pub(crate) credentials: Credentials,
}

/// What the command line asks for.
pub(crate) enum Mode {
    /// A real server.
    Server(Box<Settings>),
    /// The in-process fake (`--demo`, or no server given).
    Demo,
}

/// What the program found out through the SDK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) product_version: String,
    pub(crate) api_version: ApiVersion,
    pub(crate) user_name: String,
    pub(crate) workbooks: usize,
    /// Which limit of the session comes first (the policy renews before it), while signed in.
    pub(crate) first_limit: Option<&'static str>,
    pub(crate) signed_out: SignOut,
    /// `METHOD path` of every request, in order.
    pub(crate) sent: Vec<String>,
    /// The policy's events, in order.
    pub(crate) events: Vec<SessionEvent>,
}

/// Reads the arguments (without the program name) and the environment.
pub(crate) fn parse_args(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Mode, String> {
    let (mut server, mut site, mut username) = (
        env("TABLEAU_SERVER"),
        env("TABLEAU_SITE"),
        env("TABLEAU_USERNAME"),
    );
    let (mut ca_file, mut demo) = (None, false);
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--server" => server = Some(value()?),
            "--site" => site = Some(value()?),
            "--username" => username = Some(value()?),
            "--ca-file" => ca_file = Some(PathBuf::from(value()?)),
            "--demo" => demo = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    let Some(server) = server.filter(|_| !demo) else {
        return Ok(Mode::Demo);
    };
    let credentials = match (env("TABLEAU_PAT_NAME"), env("TABLEAU_PAT_SECRET")) {
        (Some(name), Some(secret)) => Credentials::personal_access_token(name, secret),
        _ => {
            let need = |name: &str| env(name).ok_or_else(|| format!("set {name}; {USAGE}"));
            let username =
                username.ok_or_else(|| format!("a connected app needs --username; {USAGE}"))?;
            Credentials::ConnectedApp(
                ConnectedApp::new(
                    need("TABLEAU_CLIENT_ID")?,
                    need("TABLEAU_SECRET_ID")?,
                    need("TABLEAU_SECRET_VALUE")?,
                    username,
                )
                .scope("tableau:content:read"),
            )
        }
    };
    let ca_pem = match ca_file {
        Some(path) => {
            Some(std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?)
        }
        None => None,
    };
    Ok(Mode::Server(Box::new(Settings {
        server,
        ca_pem,
        site: site.unwrap_or_default(),
        credentials,
    })))
}

/// Uses the SDK: server info, sign-in, two REST calls, sign-out.
pub(crate) fn run(settings: Settings) -> Result<Report, SdkError> {
    let mut sdk = Sdk::new(&settings.server, settings.ca_pem.as_deref())?;
    let info = sdk.server_info()?;
    let signed_in = sdk.sign_in(SignIn::new(settings.credentials, &settings.site))?;
    let first_limit = sdk.first_limit();
    let result = calls(&mut sdk);
    // Sign out whatever happened, then report the first error.
    let signed_out = sdk.sign_out();
    let (user_name, workbooks) = result?;
    Ok(Report {
        product_version: info.product_version,
        api_version: signed_in.api_version,
        user_name,
        workbooks,
        first_limit,
        signed_out: signed_out?,
        sent: std::mem::take(&mut sdk.sent),
        events: std::mem::take(&mut sdk.events),
    })
}

/// The calls made with the session: who am I, and how many workbooks are there.
fn calls(sdk: &mut Sdk) -> Result<(String, usize), SdkError> {
    let me = sdk.get_json("sessions/current", false)?;
    let user_name = me
        .pointer("/session/user/name")
        .and_then(Value::as_str)
        .ok_or_else(|| SdkError::Unexpected("no session.user.name".to_owned()))?
        .to_owned();
    let list = sdk.get_json("workbooks?pageSize=100", true)?;
    let workbooks = list
        .pointer("/workbooks/workbook")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    Ok((user_name, workbooks))
}

fn main() {
    let mode = match parse_args(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(mode) => mode,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let (_fake, settings) = match mode {
        Mode::Server(settings) => (None, *settings),
        Mode::Demo => match demo::start() {
            Ok((fake, settings)) => (Some(fake), settings),
            Err(e) => {
                eprintln!("cannot start the demo server: {e}");
                std::process::exit(2);
            }
        },
    };
    match run(settings) {
        Ok(report) => {
            println!(
                "Tableau {} (REST API {}); signed in as {}; {} workbooks; signed out: {:?}",
                report.product_version,
                report.api_version,
                report.user_name,
                report.workbooks,
                report.signed_out
            );
            if let Some(limit) = report.first_limit {
                println!("the session would have been renewed before its {limit}");
            }
            println!("requests sent by the SDK's own transport:");
            for line in &report.sent {
                println!("  {line}");
            }
            println!("the session's events:");
            for event in &report.events {
                println!("  {event}");
            }
        }
        Err(e) => {
            match e.code() {
                Some(code) => eprintln!("failed (Tableau error {code}): {e}"),
                None => eprintln!("failed: {e}"),
            }
            std::process::exit(1);
        }
    }
}

impl SdkError {
    /// Tableau's error code (`"401001"`), when the server sent one.
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            Self::Tableau(e) => e.code(),
            _ => None,
        }
    }
}

/// The demo: the fake Tableau server with its sample configuration (TLS with a CA of its own).
pub(crate) mod demo {
    use tableau_auth_tests::fake::{FakeConfig, FakeOptions, FakeServer, sample};
    use tableau_auth_ureq::proto::{ConnectedApp, Credentials};

    use super::Settings;

    /// Starts the fake on 127.0.0.1 and returns it with settings for its sample connected app.
    pub(crate) fn start() -> std::io::Result<(FakeServer, Settings)> {
        let fake = FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::default())?;
        println!("(demo: fake Tableau server at {})", fake.base_url());
        let settings = settings(&fake);
        Ok((fake, settings))
    }

    /// Settings for `fake`'s sample connected app, signing in as its sample user.
    pub(crate) fn settings(fake: &FakeServer) -> Settings {
        Settings {
            server: fake.base_url().to_owned(),
            ca_pem: fake.ca_pem().map(|pem| pem.as_bytes().to_vec()),
            site: String::new(),
            credentials: Credentials::ConnectedApp(
                ConnectedApp::new(
                    sample::APP_CLIENT_ID,
                    sample::APP_SECRET_ID,
                    sample::APP_SECRET_VALUE,
                    sample::USER_NAME,
                )
                .scope("tableau:content:read"),
            ),
        }
    }
}
