//! Credentials never go where they must not (issue 6, part 3): an attack matrix against the fake
//! Tableau server. Every attack (row) × every credential (column) × every adapter (the blocking
//! ureq `Client`, the async hyper `Client`, and the hyper crate's tower layer), asserting
//!
//! 1. the adapter's **typed** error (a match on the error enums, never on message text), and
//! 2. on the fakes' request logs (bodies, headers and queries of every logged request), that no
//!    password, PAT secret, JWT, connected-app secret or session token reached a wrong listener
//!    or host — and that the attacker received nothing at all; plus bounds on what the real
//!    server received (redirect loops end after a few requests, refused calls are neither
//!    followed nor retried).
//!
//! Topology, started once per adapter test and reused by all its cases (faults and logs are
//! reset between cases):
//!
//! * `real`: the server the client is configured for, reached as `https://localhost:P` (its
//!   certificate names `localhost` and `127.0.0.1`), with its plain-http redirect listener `R`;
//! * `evil`: a second TLS fake whose CA the client **also trusts**, so that a followed redirect
//!   would be served and would sign in: reached as `https://127.0.0.1:E` (another host name) or
//!   `https://localhost:E` (same host, another port);
//! * `evil_http`: a plain-http fake, `http://localhost:H`;
//! * `expired`, `wrong_name`, `unknown_ca`: TLS fakes with a broken certificate
//!   ([`ServerCert`]), reached as `https://localhost:…`, whose published CA the client trusts.
//!
//! Columns: the five credential kinds of [`ALL_KINDS`] (password, PAT, a ready-made JWT, a JWT
//! minted by the core, a connected app minting its own JWT), signing in; and `Token`: a session
//! token at work — after a PAT sign-in, `GET sessions/current` (`send`), `switch_site` and
//! `sign_out`, each redirected in turn; for the rows where the redirect or the TLS failure hits
//! before any exchange (probe, upgrade, certificates), `sign_out_token` of a saved token instead.
//! The redirect statuses 301, 302, 303, 307 and 308 rotate over the columns, so that each row
//! meets each status with every adapter; every other column runs a variant client (a fixed API
//! version, so no probe precedes an https sign-in; for the untrusted certificate, the built-in
//! roots instead of a wrong CA).
//!
//! Expected (see [`expected`]): a sign-in redirected off the server (another host, or from https
//! another port of the same host) is `Redirect { OtherHost }`, to plain http
//! `Redirect { Downgrade }`, in a loop `Redirect { TooManyRedirects }`, to a scheme-relative
//! `//host/…` `Redirect { InvalidLocation }`; a redirected token-bearing call is
//! `Redirect { NotFollowed }` (the tower layer hands the 3xx back untouched, not followed); a
//! bad certificate is `Tls`.

use std::time::{Duration, Instant};

use tableau_auth_hyper as hyper_adapter;
use tableau_auth_hyper::bytes::Bytes;
use tableau_auth_hyper::http_body_util::Full;
use tableau_auth_hyper::{TableauAuthLayer, proto};
use tableau_auth_tests::fake::{
    FakeConfig, FakeOptions, FakeServer, Fault, FaultRule, Listener, LoggedRequest, ServerCert,
    sample,
};
use tableau_auth_tests::support::{
    ALL_KINDS, CURRENT, Kind, PROBE, SIGNIN, SIGNOUT, assert_within, describe, get_as, pat,
    sign_in, sign_ins,
};
use tableau_auth_ureq as ureq_adapter;
use tower::{Layer as _, ServiceExt as _};

use proto::secret::{AuthToken, ExposeSecret as _};
use proto::{ApiVersion, Format, RedirectRefusal};

/// `switchSite` at the sample's version.
const SWITCH: &str = "/api/3.25/auth/switchSite";
/// The redirect statuses a client must handle.
const STATUSES: [u16; 5] = [301, 302, 303, 307, 308];
/// A generous bound on one case (each takes milliseconds): only shows that loops end.
const CASE_BOUND: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Rows, columns, expectations

/// An attack: a row of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attack {
    /// The sign-in (or the token-bearing call) answers a redirect to `https://127.0.0.1:E`:
    /// another host name, a server that would accept the credentials.
    OtherHost,
    /// … to `https://localhost:E`: the same host name on another port, another server.
    OtherPort,
    /// … to `http://localhost:H`: an https→http downgrade to a plain listener.
    Downgrade,
    /// … to `http://localhost:R`: the real server's own plain-http listener.
    DowngradeSameHost,
    /// … to its own URL (absolute `Location`), every time: a loop.
    LoopSelf,
    /// … to its own path (relative `Location`), every time.
    LoopRelative,
    /// … to `https://localhost:E`, which redirects back: two servers pointing at each other.
    PingPong,
    /// … to `//127.0.0.1:E/…`: a scheme-relative `Location` naming another host.
    SchemeRelative,
    /// The anonymous version probe (sent before any secret) answers a redirect to
    /// `https://127.0.0.1:E`.
    ProbeOtherHost,
    /// The anonymous version probe redirects to itself, every time.
    ProbeLoop,
    /// The base URL is `http://localhost:R`, whose "upgrade" redirect names
    /// `https://127.0.0.1:P`: another host name, however much the same server.
    UpgradeOtherHost,
    /// The server certificate is signed by a CA the client was not given.
    UntrustedCa,
    /// The certificate is trusted and current, but issued for another name.
    WrongName,
    /// The certificate is trusted and for the right name, but expired.
    Expired,
}

const ATTACKS: [Attack; 14] = [
    Attack::OtherHost,
    Attack::OtherPort,
    Attack::Downgrade,
    Attack::DowngradeSameHost,
    Attack::LoopSelf,
    Attack::LoopRelative,
    Attack::PingPong,
    Attack::SchemeRelative,
    Attack::ProbeOtherHost,
    Attack::ProbeLoop,
    Attack::UpgradeOtherHost,
    Attack::UntrustedCa,
    Attack::WrongName,
    Attack::Expired,
];

impl Attack {
    fn is_tls(self) -> bool {
        matches!(self, Self::UntrustedCa | Self::WrongName | Self::Expired)
    }

    /// Whether the attack hits before the first exchange of a session (the anonymous probe or
    /// the TLS handshake): token-bearing calls are then tested with `sign_out_token`.
    fn before_any_session(self) -> bool {
        self.is_tls()
            || matches!(
                self,
                Self::ProbeOtherHost | Self::ProbeLoop | Self::UpgradeOtherHost
            )
    }

    fn is_loop(self) -> bool {
        matches!(self, Self::LoopSelf | Self::LoopRelative | Self::ProbeLoop)
    }
}

/// A credential: a column of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cred {
    /// A sign-in with this kind of credentials.
    SignIn(Kind),
    /// A session token at work (send, switch site, sign out; or sign out a saved token).
    Token,
}

fn columns() -> Vec<Cred> {
    let mut columns: Vec<Cred> = ALL_KINDS.iter().copied().map(Cred::SignIn).collect();
    columns.push(Cred::Token);
    columns
}

/// The adapter under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Adapter {
    Ureq,
    Hyper,
    Tower,
}

/// What an attempt came to, by error variant (never by message, and never showing one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// `Error::Tableau(proto::Error::Redirect { refusal, .. })`.
    Refused(RedirectRefusal),
    /// `Error::Tls(_)`.
    Tls,
    /// The tower layer returned the 3xx response as it came.
    HandedBack(u16),
    /// It succeeded.
    Succeeded,
    /// Any other error, by variant name.
    Other(&'static str),
}

/// The typed outcome every (attack, credential, adapter) must come to.
fn expected(attack: Attack, cred: Cred, adapter: Adapter, status: u16) -> Outcome {
    use Attack::*;
    use RedirectRefusal as R;
    if attack.is_tls() {
        return Outcome::Tls;
    }
    match attack {
        ProbeOtherHost | UpgradeOtherHost => return Outcome::Refused(R::OtherHost),
        ProbeLoop => return Outcome::Refused(R::TooManyRedirects),
        _ => {}
    }
    match (cred, adapter) {
        (Cred::Token, Adapter::Tower) => Outcome::HandedBack(status),
        (_, _) if attack == SchemeRelative => Outcome::Refused(R::InvalidLocation),
        (Cred::Token, _) => Outcome::Refused(R::NotFollowed),
        (Cred::SignIn(_), _) => Outcome::Refused(match attack {
            Downgrade | DowngradeSameHost => R::Downgrade,
            LoopSelf | LoopRelative => R::TooManyRedirects,
            _ => R::OtherHost,
        }),
    }
}

fn ureq_outcome<T>(result: &Result<T, ureq_adapter::Error>) -> Outcome {
    use ureq_adapter::Error as E;
    match result {
        Ok(_) => Outcome::Succeeded,
        Err(E::Tableau(proto::Error::Redirect { refusal, .. })) => Outcome::Refused(*refusal),
        Err(E::Tableau(_)) => Outcome::Other("Tableau (not Redirect)"),
        Err(E::Tls(_)) => Outcome::Tls,
        Err(E::Timeout { .. }) => Outcome::Other("Timeout"),
        Err(E::Transport(_)) => Outcome::Other("Transport"),
        Err(E::Config(_)) => Outcome::Other("Config"),
        Err(_) => Outcome::Other("another variant"),
    }
}

fn hyper_error_outcome(error: &hyper_adapter::Error) -> Outcome {
    use hyper_adapter::Error as E;
    match error {
        E::Tableau(proto::Error::Redirect { refusal, .. }) => Outcome::Refused(*refusal),
        // Signing in on the callers' behalf (the tower layer) wraps the sign-in's error.
        E::Tableau(proto::Error::SignInFailed(inner)) => match &**inner {
            proto::Error::Redirect { refusal, .. } => Outcome::Refused(*refusal),
            proto::Error::Transport { .. } => Outcome::Other("Transport"),
            _ => Outcome::Other("Tableau (not Redirect)"),
        },
        E::Tableau(proto::Error::SessionEnded { .. }) => Outcome::Other("SessionEnded"),
        E::Tableau(_) => Outcome::Other("Tableau (not Redirect)"),
        E::Tls(_) => Outcome::Tls,
        E::Timeout { .. } => Outcome::Other("Timeout"),
        E::Transport(_) => Outcome::Other("Transport"),
        E::Config(_) => Outcome::Other("Config"),
        _ => Outcome::Other("another variant"),
    }
}

fn hyper_outcome<T>(result: &Result<T, hyper_adapter::Error>) -> Outcome {
    match result {
        Ok(_) => Outcome::Succeeded,
        Err(e) => hyper_error_outcome(e),
    }
}

// ---------------------------------------------------------------------------------------------
// The servers

fn port(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a URL with a port")
}

struct World {
    real: FakeServer,
    evil: FakeServer,
    evil_http: FakeServer,
    expired: FakeServer,
    wrong_name: FakeServer,
    unknown_ca: FakeServer,
}

/// The options of each server of the [`World`], in order.
fn world_options() -> [FakeOptions; 6] {
    [
        FakeOptions::default(),
        FakeOptions::builder().redirect_listener(false).build(),
        FakeOptions::plain(),
        FakeOptions::with_cert(ServerCert::Expired),
        FakeOptions::with_cert(ServerCert::WrongName),
        FakeOptions::with_cert(ServerCert::UnknownCa),
    ]
}

impl World {
    fn from_servers(servers: Vec<FakeServer>) -> Self {
        let [real, evil, evil_http, expired, wrong_name, unknown_ca]: [FakeServer; 6] =
            servers.try_into().expect("six servers");
        Self {
            real,
            evil,
            evil_http,
            expired,
            wrong_name,
            unknown_ca,
        }
    }

    fn start_blocking() -> Self {
        Self::from_servers(
            world_options()
                .into_iter()
                .map(|o| FakeServer::start_blocking(FakeConfig::sample(), o).expect("fake starts"))
                .collect(),
        )
    }

    async fn start() -> Self {
        let mut servers = Vec::new();
        for options in world_options() {
            let server = FakeServer::start(FakeConfig::sample(), options).await;
            servers.push(server.expect("fake starts"));
        }
        Self::from_servers(servers)
    }

    fn all(&self) -> [(&'static str, &FakeServer); 6] {
        [
            ("real", &self.real),
            ("evil", &self.evil),
            ("evil_http", &self.evil_http),
            ("expired", &self.expired),
            ("wrong_name", &self.wrong_name),
            ("unknown_ca", &self.unknown_ca),
        ]
    }

    fn p(&self) -> u16 {
        port(self.real.base_url())
    }

    fn r(&self) -> u16 {
        port(self.real.http_redirect_url().expect("a redirect listener"))
    }

    fn e(&self) -> u16 {
        port(self.evil.base_url())
    }

    fn h(&self) -> u16 {
        port(self.evil_http.base_url())
    }

    /// `https://localhost:P`, the URL the client is normally configured with.
    fn real_base(&self) -> String {
        format!("https://localhost:{}", self.p())
    }

    fn broken(&self, attack: Attack) -> Option<&FakeServer> {
        match attack {
            Attack::UntrustedCa => Some(&self.unknown_ca),
            Attack::WrongName => Some(&self.wrong_name),
            Attack::Expired => Some(&self.expired),
            _ => None,
        }
    }

    /// The base URL of the client under `attack`.
    fn base(&self, attack: Attack) -> String {
        match (attack, self.broken(attack)) {
            (_, Some(broken)) => format!("https://localhost:{}", port(broken.base_url())),
            (Attack::UpgradeOtherHost, None) => format!("http://localhost:{}", self.r()),
            _ => self.real_base(),
        }
    }

    /// The CA certificates the client trusts under `attack`: the real server's and the evil
    /// one's (a followed redirect would succeed), or the broken server's published CA. With
    /// `variant`, an untrusted certificate meets the built-in roots only.
    fn trust(&self, attack: Attack, variant: bool) -> Option<String> {
        match self.broken(attack) {
            Some(_) if attack == Attack::UntrustedCa && variant => None,
            Some(broken) => Some(broken.ca_pem().expect("a CA").to_owned()),
            None => Some(format!(
                "{}{}",
                self.real.ca_pem().expect("a CA"),
                self.evil.ca_pem().expect("a CA")
            )),
        }
    }

    /// Forgets the previous case: faults, logs, the redirect listener's status.
    fn reset(&self) {
        for (_, server) in self.all() {
            let control = server.control();
            control.clear_faults();
            control.clear_log();
        }
        self.real
            .control()
            .set_redirect_status(301)
            .expect("a redirect status");
    }

    /// Makes the servers play `attack` on requests to `path` (the probe rows pick the probe).
    fn arm(&self, attack: Attack, path: &str, status: u16) {
        let redirect = |server: &FakeServer, path: &str, location: String| {
            server
                .control()
                .add_fault(FaultRule::exact(path, Fault::Redirect { status, location }));
        };
        let (p, e, h, r) = (self.p(), self.e(), self.h(), self.r());
        match attack {
            Attack::OtherHost => redirect(&self.real, path, format!("https://127.0.0.1:{e}{path}")),
            Attack::OtherPort => redirect(&self.real, path, format!("https://localhost:{e}{path}")),
            Attack::Downgrade => redirect(&self.real, path, format!("http://localhost:{h}{path}")),
            Attack::DowngradeSameHost => {
                redirect(&self.real, path, format!("http://localhost:{r}{path}"));
            }
            Attack::LoopSelf => redirect(&self.real, path, format!("https://localhost:{p}{path}")),
            Attack::LoopRelative => redirect(&self.real, path, path.to_owned()),
            Attack::SchemeRelative => redirect(&self.real, path, format!("//127.0.0.1:{e}{path}")),
            Attack::PingPong => {
                redirect(&self.real, path, format!("https://localhost:{e}{path}"));
                redirect(&self.evil, path, format!("https://localhost:{p}{path}"));
            }
            Attack::ProbeOtherHost => {
                redirect(&self.real, PROBE, format!("https://127.0.0.1:{e}{PROBE}"));
            }
            Attack::ProbeLoop => {
                redirect(&self.real, PROBE, format!("https://localhost:{p}{PROBE}"));
            }
            Attack::UpgradeOtherHost => self
                .real
                .control()
                .set_redirect_status(status)
                .expect("a redirect status"),
            Attack::UntrustedCa | Attack::WrongName | Attack::Expired => {}
        }
    }

    /// Where nothing secret may arrive under `attack`: (label, requests received, whether it
    /// must have received nothing at all).
    fn wrong_places(&self, attack: Attack) -> Vec<(&'static str, Vec<LoggedRequest>, bool)> {
        let (plain, tls): (Vec<_>, Vec<_>) = self
            .real
            .request_log()
            .into_iter()
            .partition(|e| e.listener == Listener::HttpRedirect);
        let mut places = vec![
            (
                "evil (another server, trusted)",
                self.evil.request_log(),
                true,
            ),
            ("evil_http (plain http)", self.evil_http.request_log(), true),
        ];
        if attack == Attack::UpgradeOtherHost {
            // The configured base: it gets the anonymous probe, and nothing secret.
            places.push(("real's plain-http listener", plain, false));
            // Named `127.0.0.1` by the redirect: another host to the client.
            places.push(("real reached as another host", tls, true));
        } else {
            places.push(("real's plain-http listener", plain, true));
        }
        for (label, server) in [
            ("expired", &self.expired),
            ("wrong_name", &self.wrong_name),
            ("unknown_ca", &self.unknown_ca),
        ] {
            places.push((label, server.request_log(), true));
        }
        places
    }
}

// ---------------------------------------------------------------------------------------------
// Looking for secrets in the logs

/// Which secrets `entry` carries, by label (never by value), anywhere: body, headers, query.
fn leaks(entry: &LoggedRequest, tokens: &[String]) -> Vec<&'static str> {
    let mut text = entry.body_str().into_owned();
    for (name, value) in &entry.headers {
        text.push('\n');
        text.push_str(name);
        text.push_str(": ");
        text.push_str(value);
    }
    if let Some(query) = &entry.query {
        text.push('\n');
        text.push_str(query);
    }
    let mut found = Vec::new();
    let mut check = |hit: bool, label| {
        if hit {
            found.push(label);
        }
    };
    check(text.contains(sample::USER_PASSWORD), "password");
    check(text.contains(sample::USER_PAT_SECRET), "PAT secret");
    check(
        text.contains(sample::APP_SECRET_VALUE),
        "connected-app secret",
    );
    // Every JWT starts with the base64url of `{"`.
    check(text.contains("eyJ"), "JWT");
    check(entry.token().is_some(), "X-Tableau-Auth header");
    check(
        tokens.iter().any(|t| text.contains(t.as_str())),
        "session token",
    );
    check(entry.is_signin(), "sign-in request");
    found
}

/// The label [`leaks`] gives the secret of `kind`.
fn label_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Password => "password",
        Kind::Pat => "PAT secret",
        Kind::ReadyJwt | Kind::MintedJwt | Kind::ConnectedApp => "JWT",
    }
}

/// One case's facts, for the checks and their messages.
struct Case {
    adapter: Adapter,
    attack: Attack,
    cred: Cred,
    status: u16,
    /// Every other column: a fixed API version (no probe before an https sign-in; an http base
    /// is probed all the same), and an untrusted certificate checked against the built-in
    /// roots only instead of the published CA.
    variant: bool,
    started: Instant,
}

impl Case {
    fn new(adapter: Adapter, attack: Attack, cred: Cred, row: usize, column: usize) -> Self {
        // The ureq and hyper rotations are shifted, so that another status meets each cell.
        let shift = if adapter == Adapter::Ureq { 0 } else { 2 };
        Self {
            adapter,
            attack,
            cred,
            status: STATUSES[(row + column + shift) % STATUSES.len()],
            variant: column % 2 == 1,
            started: Instant::now(),
        }
    }

    /// The fixed version of the client, if any (never on the probe rows: they need the probe).
    fn api_version(&self) -> Option<ApiVersion> {
        let probe = matches!(self.attack, Attack::ProbeOtherHost | Attack::ProbeLoop);
        (self.variant && !probe).then(|| "3.25".parse().expect("a version"))
    }

    fn name(&self) -> String {
        let status = if self.attack.is_tls() {
            String::new()
        } else {
            format!(" {}", self.status)
        };
        let variant = if self.variant { " (variant)" } else { "" };
        format!(
            "{:?} × {:?} × {:?}{status}{variant}",
            self.attack, self.cred, self.adapter
        )
    }

    fn expected(&self) -> Outcome {
        expected(self.attack, self.cred, self.adapter, self.status)
    }
}

/// The checks every case ends with: no secret in a wrong place, nothing at all at the
/// attacker, the connected-app secret nowhere, the case bounded in time.
fn check_places(world: &World, case: &Case, tokens: &[String]) {
    let name = case.name();
    for (label, entries, must_be_empty) in world.wrong_places(case.attack) {
        for entry in &entries {
            let found = leaks(entry, tokens);
            assert!(
                found.is_empty(),
                "{name}: {found:?} reached {label} ({} {})",
                entry.method,
                entry.path
            );
        }
        if must_be_empty {
            assert!(
                entries.is_empty(),
                "{name}: {label} received requests: {:?}",
                describe(&entries)
            );
        }
    }
    for (label, server) in world.all() {
        for entry in server.request_log() {
            assert!(
                !leaks(&entry, tokens).contains(&"connected-app secret"),
                "{name}: the connected app's secret value was sent to {label}"
            );
        }
    }
    assert_within(case.started, CASE_BOUND, &name);
}

/// After a sign-in attempt: what the real server received is bounded, and (the positive
/// control of [`leaks`]) its sign-ins carry the credential that was kept from the others.
fn check_sign_in(world: &World, case: &Case, kind: Kind) {
    let name = case.name();
    let log = world.real.request_log();
    let https: Vec<_> = log
        .iter()
        .filter(|e| e.listener == Listener::Https)
        .cloned()
        .collect();
    let signins = sign_ins(&https);
    match case.attack {
        a if a.before_any_session() => {
            assert_eq!(signins, 0, "{name}: {:?}", describe(&log));
            if a.is_tls() {
                assert!(log.is_empty(), "{name}: {:?}", describe(&log));
            }
            if a == Attack::ProbeLoop {
                // The probe followed itself a bounded number of times.
                assert!(
                    (2..=4).contains(&https.len()),
                    "{name}: {:?}",
                    describe(&log)
                );
            }
        }
        a if a.is_loop() => assert!(
            (2..=3).contains(&signins),
            "{name}: a loop must end soon: {:?}",
            describe(&log)
        ),
        _ => assert_eq!(signins, 1, "{name}: {:?}", describe(&log)),
    }
    for entry in https.iter().filter(|e| e.is_signin()) {
        assert!(
            leaks(entry, &[]).contains(&label_of(kind)),
            "{name}: the sentinel of {kind:?} is not found in the real sign-in"
        );
    }
}

/// After a redirected token-bearing call on `path`: the real server got exactly one request
/// there (not followed, not retried), carrying the session's token.
fn check_token_call(world: &World, case: &Case, path: &str, token: &str) {
    let name = case.name();
    let log = world.real.request_log();
    let calls: Vec<_> = log
        .iter()
        .filter(|e| e.listener == Listener::Https && e.path == path)
        .collect();
    assert_eq!(calls.len(), 1, "{name} {path}: {:?}", describe(&log));
    assert!(
        calls[0].token() == Some(token),
        "{name} {path}: the call did not carry the session's token"
    );
    assert_eq!(
        calls[0].status,
        Some(case.status),
        "{name} {path}: {:?}",
        describe(&log)
    );
}

/// After `sign_out_token` under an attack that hits first: nothing was signed out anywhere.
fn check_saved_token(world: &World, case: &Case) {
    for (label, server) in world.all() {
        let log = server.request_log();
        assert!(
            !log.iter().any(|e| e.path_ends_with("/auth/signout")),
            "{}: a sign-out reached {label}: {:?}",
            case.name(),
            describe(&log)
        );
    }
}

fn assert_outcome(case: &Case, outcome: Outcome, what: &str) {
    assert_eq!(outcome, case.expected(), "{}: {what}", case.name());
}

// ---------------------------------------------------------------------------------------------
// ureq

/// The client of `case` (base URL, trusted CAs, fixed version as the case says).
fn ureq_client(world: &World, case: &Case) -> ureq_adapter::Client {
    let mut builder = ureq_adapter::Client::builder(world.base(case.attack))
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(10))
        .exchange_timeout(Duration::from_secs(10));
    if let Some(pem) = world.trust(case.attack, case.variant) {
        builder = builder.ca_pem(pem);
    }
    if let Some(version) = case.api_version() {
        builder = builder.api_version(version);
    }
    builder.build().expect("the client builds")
}

/// A token from a PAT sign-in at the real server, with a client of its own.
fn ureq_token(world: &World) -> String {
    let mut owner = ureq_adapter::Client::builder(world.real_base())
        .ca_pem(world.real.ca_pem().expect("a CA"))
        .build()
        .expect("the client builds");
    owner.sign_in(pat()).expect("sign-in at the real server");
    let token = owner.session().token().expect("a token");
    token.expose_secret().to_owned()
}

fn ureq_case(world: &World, case: &Case) {
    world.reset();
    match case.cred {
        Cred::SignIn(kind) => {
            world.arm(case.attack, SIGNIN, case.status);
            let mut client = ureq_client(world, case);
            let result = client.sign_in(sign_in(&world.real, kind));
            let outcome = ureq_outcome(&result);
            check_places(world, case, &[]);
            check_sign_in(world, case, kind);
            assert_outcome(case, outcome, "sign-in");
            assert!(!client.session().is_signed_in(), "{}", case.name());
            assert!(!client.session().is_busy(), "{}", case.name());
        }
        Cred::Token if case.attack.before_any_session() => {
            let token = ureq_token(world);
            world.reset();
            world.arm(case.attack, SIGNOUT, case.status);
            let mut client = ureq_client(world, case);
            let result = client.sign_out_token(AuthToken::new(token.clone()));
            let outcome = ureq_outcome(&result);
            check_places(world, case, std::slice::from_ref(&token));
            check_saved_token(world, case);
            assert_outcome(case, outcome, "sign_out_token");
        }
        Cred::Token => {
            let mut client = ureq_client(world, case);
            client.sign_in(pat()).expect("sign-in at the real server");
            let token = client
                .session()
                .token()
                .expect("a token")
                .expose_secret()
                .to_owned();
            let tokens = std::slice::from_ref(&token);
            let calls: [(&str, &str); 3] = [
                (CURRENT, "send sessions/current"),
                (SWITCH, "switch site"),
                (SIGNOUT, "sign out"),
            ];
            for (path, what) in calls {
                world.reset();
                world.arm(case.attack, path, case.status);
                let outcome = match path {
                    CURRENT => {
                        let uri = client.session().api_url("sessions/current").expect("a URL");
                        ureq_outcome(&client.send(get_as(Format::Xml, uri)))
                    }
                    SWITCH => ureq_outcome(&client.switch_site(sample::FINANCE_SITE)),
                    _ => ureq_outcome(&client.sign_out()),
                };
                check_places(world, case, tokens);
                check_token_call(world, case, path, &token);
                assert_outcome(case, outcome, what);
            }
        }
    }
}

#[test]
fn ureq_client_sends_no_credential_to_a_wrong_place() {
    let world = World::start_blocking();
    let mut cases = 0;
    for (row, attack) in ATTACKS.into_iter().enumerate() {
        for (column, cred) in columns().into_iter().enumerate() {
            let case = Case::new(Adapter::Ureq, attack, cred, row, column);
            ureq_case(&world, &case);
            cases += 1;
        }
    }
    assert_eq!(cases, ATTACKS.len() * 6);
}

// ---------------------------------------------------------------------------------------------
// hyper (the client, and the tower layer over its hyper client)

/// The client builder of `case` (base URL, trusted CAs, fixed version as the case says).
fn hyper_builder(world: &World, case: &Case) -> hyper_adapter::ClientBuilder {
    let mut builder = hyper_adapter::Client::builder(world.base(case.attack))
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(10))
        .exchange_timeout(Duration::from_secs(10));
    if let Some(pem) = world.trust(case.attack, case.variant) {
        builder = builder.ca_pem(pem);
    }
    if let Some(version) = case.api_version() {
        builder = builder.api_version(version);
    }
    builder
}

fn hyper_client(world: &World, case: &Case) -> hyper_adapter::Client {
    hyper_builder(world, case)
        .build()
        .expect("the client builds")
}

fn hyper_token(client: &hyper_adapter::Client) -> String {
    client
        .current()
        .expect("signed in")
        .header_value()
        .to_str()
        .expect("an ASCII token")
        .to_owned()
}

/// `GET sessions/current` of `base`, for the tower layer.
fn tower_request(base: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(format!("{base}{CURRENT}"))
        .header("accept", Format::Xml.media_type())
        .body(Full::new(Bytes::new()))
        .expect("a request")
}

async fn hyper_case(world: &World, case: &Case) {
    world.reset();
    match case.cred {
        Cred::SignIn(kind) => {
            world.arm(case.attack, SIGNIN, case.status);
            let outcome = if case.adapter == Adapter::Tower {
                // The layer signs in on the caller's behalf with the builder's credentials.
                let client = hyper_builder(world, case)
                    .sign_in(sign_in(&world.real, kind))
                    .build()
                    .expect("the client builds");
                let service = TableauAuthLayer::new(&client).layer(client.hyper_client());
                let result = service
                    .oneshot(tower_request(&world.base(case.attack)))
                    .await;
                match result {
                    Ok(response) => Outcome::HandedBack(response.status().as_u16()),
                    Err(e) => match e.downcast_ref::<hyper_adapter::Error>() {
                        Some(e) => hyper_error_outcome(e),
                        None => Outcome::Other("the inner service's error"),
                    },
                }
            } else {
                let client = hyper_client(world, case);
                let result = client.sign_in(sign_in(&world.real, kind)).await;
                let outcome = hyper_outcome(&result);
                if outcome != Outcome::Succeeded {
                    assert!(!client.is_signed_in(), "{}", case.name());
                }
                outcome
            };
            check_places(world, case, &[]);
            check_sign_in(world, case, kind);
            assert_outcome(case, outcome, "sign-in");
        }
        Cred::Token if case.attack.before_any_session() => {
            let owner = hyper_adapter::Client::builder(world.real_base())
                .ca_pem(world.real.ca_pem().expect("a CA"))
                .build()
                .expect("the client builds");
            owner
                .sign_in(pat())
                .await
                .expect("sign-in at the real server");
            let token = hyper_token(&owner);
            world.reset();
            world.arm(case.attack, SIGNOUT, case.status);
            let client = hyper_client(world, case);
            let result = client.sign_out_token(AuthToken::new(token.clone())).await;
            let outcome = hyper_outcome(&result);
            check_places(world, case, std::slice::from_ref(&token));
            check_saved_token(world, case);
            assert_outcome(case, outcome, "sign_out_token");
        }
        Cred::Token if case.adapter == Adapter::Tower => {
            let client = hyper_client(world, case);
            client
                .sign_in(pat())
                .await
                .expect("sign-in at the real server");
            let token = hyper_token(&client);
            world.reset();
            world.arm(case.attack, CURRENT, case.status);
            let service = TableauAuthLayer::new(&client).layer(client.hyper_client());
            let outcome = match service.oneshot(tower_request(&world.real_base())).await {
                Ok(response) => Outcome::HandedBack(response.status().as_u16()),
                Err(e) => match e.downcast_ref::<hyper_adapter::Error>() {
                    Some(e) => hyper_error_outcome(e),
                    None => Outcome::Other("the inner service's error"),
                },
            };
            check_places(world, case, std::slice::from_ref(&token));
            check_token_call(world, case, CURRENT, &token);
            assert_outcome(case, outcome, "GET through the layer");
        }
        Cred::Token => {
            let client = hyper_client(world, case);
            client
                .sign_in(pat())
                .await
                .expect("sign-in at the real server");
            let token = hyper_token(&client);
            let tokens = std::slice::from_ref(&token);
            let calls: [(&str, &str); 3] = [
                (CURRENT, "send sessions/current"),
                (SWITCH, "switch site"),
                (SIGNOUT, "sign out"),
            ];
            for (path, what) in calls {
                world.reset();
                world.arm(case.attack, path, case.status);
                let outcome = match path {
                    CURRENT => {
                        let uri = client.api_url("sessions/current").expect("a URL");
                        hyper_outcome(&client.send(get_as(Format::Xml, uri)).await)
                    }
                    SWITCH => hyper_outcome(&client.switch_site(sample::FINANCE_SITE).await),
                    _ => hyper_outcome(&client.sign_out().await),
                };
                check_places(world, case, tokens);
                check_token_call(world, case, path, &token);
                assert_outcome(case, outcome, what);
            }
        }
    }
}

async fn hyper_matrix(adapter: Adapter) -> usize {
    let world = World::start().await;
    let mut cases = 0;
    for (row, attack) in ATTACKS.into_iter().enumerate() {
        for (column, cred) in columns().into_iter().enumerate() {
            if adapter == Adapter::Tower && cred == Cred::Token && attack.before_any_session() {
                // The layer has no call that sends a saved token.
                continue;
            }
            let case = Case::new(adapter, attack, cred, row, column);
            hyper_case(&world, &case).await;
            cases += 1;
        }
    }
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_client_sends_no_credential_to_a_wrong_place() {
    let cases = hyper_matrix(Adapter::Hyper).await;
    assert_eq!(cases, ATTACKS.len() * 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_layer_sends_no_credential_to_a_wrong_place() {
    let cases = hyper_matrix(Adapter::Tower).await;
    let skipped = ATTACKS.iter().filter(|a| a.before_any_session()).count();
    assert_eq!(cases, ATTACKS.len() * 6 - skipped);
}

// ---------------------------------------------------------------------------------------------
// The matrix itself

#[test]
fn every_row_meets_every_status_and_expectations_are_typed() {
    // The rotation gives each row every status over its columns, with each adapter, and both
    // the plain and the variant client.
    for (row, attack) in ATTACKS.into_iter().enumerate() {
        for adapter in [Adapter::Ureq, Adapter::Hyper, Adapter::Tower] {
            let cases: Vec<Case> = columns()
                .into_iter()
                .enumerate()
                .map(|(column, cred)| Case::new(adapter, attack, cred, row, column))
                .collect();
            let mut seen: Vec<u16> = cases.iter().map(|c| c.status).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen, STATUSES, "{attack:?} {adapter:?}");
            assert!(cases.iter().any(|c| c.variant) && cases.iter().any(|c| !c.variant));
        }
    }
    // No cell expects success: every attack ends in a typed refusal, a TLS error, or (the
    // layer) a 3xx handed back unfollowed.
    for attack in ATTACKS {
        for cred in columns() {
            for adapter in [Adapter::Ureq, Adapter::Hyper, Adapter::Tower] {
                let outcome = expected(attack, cred, adapter, 307);
                assert!(
                    matches!(
                        outcome,
                        Outcome::Refused(_) | Outcome::Tls | Outcome::HandedBack(307)
                    ),
                    "{attack:?} {cred:?} {adapter:?}: {outcome:?}"
                );
            }
        }
    }
}
