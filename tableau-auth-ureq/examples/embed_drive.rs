//! Embedding the Sans-IO core in another SDK through [`drive`](tableau_auth_ureq::drive).
//!
//! An SDK that already has an HTTP stack does not want a second client: it keeps a
//! [`Session`] (the core: every Tableau decision) and hands [`drive`](tableau_auth_ureq::drive)
//! a closure that sends one `http::Request<Vec<u8>>` over *its own* transport. This one's
//! transport is a `ureq::Agent` it configures itself; a hand-written HTTP/1.1 client, a test
//! double or a corporate proxy library would do just as well. The types an SDK author deals
//! with: [`Config`] → [`Session`]; [`Intent`] in, [`Event`] out (or a core [`proto::Error`]);
//! [`Session::authorize_request`] and [`Session::classify`] ([`Verdict`]) around its own REST
//! calls; [`Session::needs_sign_in`] before them; [`SignIn::mint_inputs`] (clock and randomness
//! for connected-app JWTs, which the core does not have).
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
use tableau_auth_ureq::drive;
use tableau_auth_ureq::http::{Request, Response, header::ACCEPT};
use tableau_auth_ureq::proto::{
    self, ApiVersion, Config, ConnectedApp, Credentials, Event, Intent, ServerInfo, Session,
    SignIn, SignOut, SignedIn, Verdict,
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
    /// Tableau said no, or sent something that is not a Tableau response, or the SDK misused
    /// the session.
    #[error(transparent)]
    Tableau(#[from] proto::Error),
    /// The SDK's own HTTP stack failed.
    #[error("transport: {0}")]
    Transport(#[from] ureq::Error),
    /// A response the SDK cannot use (not JSON, a member missing, an unexpected event).
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

impl From<tableau_auth_ureq::DriveError<ureq::Error>> for SdkError {
    fn from(e: tableau_auth_ureq::DriveError<ureq::Error>) -> Self {
        match e {
            tableau_auth_ureq::DriveError::Tableau(e) => Self::Tableau(e),
            tableau_auth_ureq::DriveError::Transport(e) => Self::Transport(e),
            other => Self::Unexpected(other.to_string()),
        }
    }
}

/// A toy SDK with its own HTTP stack that embeds the core for Tableau authentication.
pub(crate) struct Sdk {
    session: Session,
    agent: ureq::Agent,
    /// Kept to sign in again when the server ends the session (`401002`).
    sign_in: Option<SignIn>,
    /// `METHOD path` of every request the SDK's transport sent (never headers or bodies:
    /// those carry credentials and tokens).
    pub(crate) sent: Vec<String>,
}

impl Sdk {
    /// An SDK for `server`, trusting `ca_pem` instead of the built-in roots when given.
    pub(crate) fn new(server: &str, ca_pem: Option<&[u8]>) -> Result<Self, SdkError> {
        let config = Config::builder(server)
            .user_agent("my-sdk/1.0 (tableau-auth-proto)")
            .build()
            .map_err(proto::Error::from)?;
        Ok(Self {
            session: Session::new(config),
            agent: agent(ca_pem)?,
            sign_in: None,
            sent: Vec::new(),
        })
    }

    /// The core session (token, site, version, URLs, expiry).
    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    /// Runs one exchange of the core over the SDK's transport: the heart of the embedding.
    fn exchange(&mut self, intent: Intent) -> Result<Event, SdkError> {
        let Self {
            session,
            agent,
            sent,
            ..
        } = self;
        let max_body = session.config().max_body();
        let event = drive(session, intent, |request| {
            sent.push(format!("{} {}", request.method(), request.uri().path()));
            transport(agent, request, max_body)
        })?;
        Ok(event)
    }

    /// The server's versions (anonymous); the session adopts its REST API version.
    pub(crate) fn server_info(&mut self) -> Result<ServerInfo, SdkError> {
        match self.exchange(Intent::ServerInfo)? {
            Event::ServerInfo(info) => Ok(info),
            other => Err(SdkError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Signs in, and keeps the sign-in to sign in again later.
    pub(crate) fn sign_in(&mut self, sign_in: SignIn) -> Result<SignedIn, SdkError> {
        let event = self.exchange(Intent::SignIn(fresh(&sign_in)?))?;
        self.sign_in = Some(sign_in);
        match event {
            Event::SignedIn(info) => Ok(info),
            other => Err(SdkError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Signs in again with the kept sign-in (a connected app mints a new JWT).
    fn sign_in_again(&mut self) -> Result<(), SdkError> {
        let sign_in = self
            .sign_in
            .as_ref()
            .ok_or_else(|| SdkError::Unexpected("never signed in".to_owned()))?;
        let sign_in = fresh(sign_in)?;
        self.exchange(Intent::SignIn(sign_in)).map(|_| ())
    }

    /// `GET` of an API path (`site_scoped`: under `sites/{site-luid}/`) as JSON, authorized.
    /// Signs in again first when the session is about to expire, and once more, replaying
    /// once, when the server says the session is gone; a 429/503 is returned to the caller.
    pub(crate) fn get_json(&mut self, path: &str, site_scoped: bool) -> Result<Value, SdkError> {
        if self.sign_in.is_some() && self.session.needs_sign_in(Instant::now()) {
            self.sign_in_again()?;
        }
        let mut replayed = false;
        loop {
            let uri = if site_scoped {
                self.session.site_url(path)?
            } else {
                self.session.api_url(path)?
            };
            let mut request = Request::get(uri)
                .header(ACCEPT, "application/json")
                .body(Vec::new())
                .map_err(|e| SdkError::Unexpected(e.to_string()))?;
            // Adds X-Tableau-Auth (sensitive), only for the session's own server.
            self.session.authorize_request(&mut request)?;
            self.sent
                .push(format!("{} {}", request.method(), request.uri().path()));
            let max_body = self.session.config().max_body();
            let response = transport(&self.agent, request, max_body)?;
            // The core reads Tableau's error codes, so the SDK never parses them itself.
            match self.session.classify(&response) {
                Verdict::Success => {
                    self.session.touch(Instant::now());
                    return serde_json::from_slice(response.body())
                        .map_err(|e| SdkError::Unexpected(format!("{path}: {e}")));
                }
                Verdict::Reauthenticate(_) if !replayed && self.sign_in.is_some() => {
                    self.sign_in_again()?;
                    replayed = true;
                }
                Verdict::Reauthenticate(e) | Verdict::Retry(e) | Verdict::Fail(e) => {
                    return Err(e.into());
                }
                other => return Err(SdkError::Unexpected(format!("{other:?}"))),
            }
        }
    }

    /// Signs out (a session the server already ended is `SignOut::AlreadyGone`, not an error).
    pub(crate) fn sign_out(&mut self) -> Result<SignOut, SdkError> {
        match self.exchange(Intent::SignOut)? {
            Event::SignedOut(outcome) => {
                self.sign_in = None;
                Ok(outcome)
            }
            other => Err(SdkError::Unexpected(format!("{other:?}"))),
        }
    }
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

/// The sign-in with this moment's wall-clock time and 16 fresh random bytes: a connected app
/// mints its JWT from them (`iat`, `exp`, `jti`); the other credentials ignore them.
fn fresh(sign_in: &SignIn) -> Result<SignIn, SdkError> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random)
        .map_err(|e| SdkError::Unexpected(format!("no randomness: {e}")))?;
    Ok(sign_in.clone().mint_inputs(SystemTime::now(), random))
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
    /// Which limit of the session comes first (`Session::poll_timeout`), while signed in.
    pub(crate) first_limit: Option<&'static str>,
    pub(crate) signed_out: SignOut,
    /// `METHOD path` of every request, in order.
    pub(crate) sent: Vec<String>,
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
    let first_limit = sdk.session().poll_timeout().map(|(_, why)| why.as_str());
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
