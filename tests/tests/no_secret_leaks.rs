//! Secrets never leak (issue 6): both adapters, driven against the fake over loopback TLS with a
//! sentinel in every secret ([`sentinel::config`]), through every flow (every credential kind,
//! impersonation, sessions/current, site switches, trusted tickets, expiry and renewal on the
//! fake's clock, sign-out; unified access tokens against the fake in Tableau Cloud mode, whose
//! private key's lines are secrets too) and every failure the fake can provoke (refused credentials, Tableau
//! error bodies, HTML and JSON that echo the secrets back in several encodings, garbage,
//! truncated, huge, dropped, hanging, redirects refused, TLS refused).
//!
//! Every value touched (clients, sessions, sign-ins, tokens, tickets, events, errors and their
//! `source()` chains) is checked in `Debug`, `{:#?}` and `Display`; every `tracing` event and span
//! field of the whole run (TRACE, every target) is captured by a subscriber of our own and
//! checked at the end, after the tokens and JWTs the fake saw were added to the secrets.
//!
//! The failures are rows of [`cases`]: adding one is one line.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tableau_auth_proto::http;
use tableau_auth_proto::secret::{AuthToken, ExposeSecret as _};
use tableau_auth_proto::{
    Credentials, Format, MintInputs, ServerInfo, SignIn, SignOut, SignedIn, TicketRequest,
    TrustedTicket, UnifiedAccess,
};
use tableau_auth_tests::fake::{FakeOptions, FakeServer, Fault, FaultRule, sample};
use tableau_auth_tests::sentinel::{self, Cred, Form, Leaks};
use tableau_auth_tests::support::{
    CURRENT, PROBE, SCOPE, SIGNIN, SIGNOUT, get_as, tableau_error_xml,
};
use tableau_auth_ureq::RsaSigner;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

type BoxErr = Box<dyn std::error::Error + Send + Sync + 'static>;
type Res<T> = Result<T, BoxErr>;

const SWITCH: &str = "/api/3.25/auth/switchSite";
const TICKET: &str = "/trusted";
/// The limit on every exchange of the clients under test (the hang cases wait this long).
const TIMEOUT: Duration = Duration::from_millis(1_000);

// ---------------------------------------------------------------------------------------------
// Capturing every tracing event and span field

/// Writes every event and span (target, level, name, every field) into one text.
#[derive(Clone, Default)]
struct Capture {
    text: Arc<Mutex<String>>,
    next_id: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let _ = write!(self.0, " {}={value} / {value:?}", field.name());
    }
}

impl Capture {
    fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }
}

impl Subscriber for Capture {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut text = self.text.lock().unwrap();
        let meta = span.metadata();
        let _ = write!(
            text,
            "\nspan {} {} {}:",
            meta.level(),
            meta.target(),
            meta.name()
        );
        span.record(&mut Fields(&mut text));
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut text = self.text.lock().unwrap();
        text.push_str("\nspan record:");
        values.record(&mut Fields(&mut text));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = self.text.lock().unwrap();
        let meta = event.metadata();
        let _ = write!(text, "\n{} {}:", meta.level(), meta.target());
        event.record(&mut Fields(&mut text));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// The process-wide capture, installed once as the global default (worker threads included).
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(capture.clone())
            .expect("the only global subscriber");
        capture
    })
}

// ---------------------------------------------------------------------------------------------
// The two adapters behind one blocking interface

#[derive(Debug, Clone, Copy)]
struct Opts {
    format: Format,
    /// Retry 429/503 (the failure cases turn it off, so that every echo becomes an error).
    retries: bool,
}

trait Driver: Sized {
    const NAME: &'static str;
    fn build(base: &str, ca: Option<&str>, opts: Opts) -> Res<Self>;
    fn server_info(&mut self) -> Res<ServerInfo>;
    fn sign_in(&mut self, sign_in: SignIn) -> Res<SignedIn>;
    /// `GET sessions/current` in the client's format; the body.
    fn whoami(&mut self) -> Res<String>;
    fn switch_site(&mut self, site: &str) -> Res<Option<SignedIn>>;
    fn ticket(&mut self, request: TicketRequest) -> Res<TrustedTicket>;
    fn sign_out(&mut self) -> Res<SignOut>;
    fn sign_out_token(&mut self, token: &str) -> Res<SignOut>;
    /// The token the client holds.
    fn token(&self) -> Option<String>;
    /// Every rendering of the client's state (client, session, token, snapshot).
    fn shown(&self) -> Vec<(&'static str, String)>;
    /// Renderings of the events emitted since the last call (`Debug`, `{:#?}`).
    fn drain_events(&self) -> Vec<String> {
        Vec::new()
    }
}

fn fmt_both<T: std::fmt::Debug + ?Sized>(value: &T) -> String {
    format!("{value:?}\n{value:#?}")
}

struct Ureq {
    client: tableau_auth_ureq::Client,
    format: Format,
    events: Arc<Mutex<Vec<tableau_auth_ureq::proto::lifecycle::SessionEvent>>>,
}

impl Driver for Ureq {
    const NAME: &'static str = "ureq";

    fn build(base: &str, ca: Option<&str>, opts: Opts) -> Res<Self> {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let mut builder = tableau_auth_ureq::Client::builder(base)
            .format(opts.format)
            .connect_timeout(TIMEOUT)
            .read_timeout(TIMEOUT)
            .exchange_timeout(TIMEOUT)
            .max_body(64 << 10)
            .on_event(move |e| sink.lock().unwrap().push(e.clone()));
        if let Some(ca) = ca {
            builder = builder.ca_pem(ca);
        }
        if !opts.retries {
            builder = builder.retries(0, Duration::ZERO);
        }
        Ok(Self {
            client: builder.build()?,
            format: opts.format,
            events,
        })
    }

    fn server_info(&mut self) -> Res<ServerInfo> {
        Ok(self.client.server_info()?)
    }

    fn sign_in(&mut self, sign_in: SignIn) -> Res<SignedIn> {
        Ok(self.client.sign_in(sign_in)?)
    }

    fn whoami(&mut self) -> Res<String> {
        let uri = self.client.session().api_url("sessions/current")?;
        let response = self.client.send(get_as(self.format, uri))?;
        Ok(String::from_utf8_lossy(response.body()).into_owned())
    }

    fn switch_site(&mut self, site: &str) -> Res<Option<SignedIn>> {
        Ok(self.client.switch_site(site)?)
    }

    fn ticket(&mut self, request: TicketRequest) -> Res<TrustedTicket> {
        Ok(self.client.trusted_ticket(request)?)
    }

    fn sign_out(&mut self) -> Res<SignOut> {
        Ok(self.client.sign_out()?)
    }

    fn sign_out_token(&mut self, token: &str) -> Res<SignOut> {
        Ok(self.client.sign_out_token(AuthToken::new(token))?)
    }

    fn token(&self) -> Option<String> {
        let token = self.client.session().token()?;
        Some(token.expose_secret().to_owned())
    }

    fn shown(&self) -> Vec<(&'static str, String)> {
        let session = self.client.session();
        vec![
            ("client", fmt_both(&self.client)),
            ("session", fmt_both(session)),
            ("token", fmt_both(&session.token())),
            ("signed in", fmt_both(&session.signed_in())),
        ]
    }

    fn drain_events(&self) -> Vec<String> {
        let events = std::mem::take(&mut *self.events.lock().unwrap());
        events.iter().map(fmt_both).collect()
    }
}

use tableau_auth_tests::support::runtime;

struct Hyper {
    client: tableau_auth_hyper::Client,
    format: Format,
    events: Arc<Mutex<Vec<tableau_auth_hyper::SessionEvent>>>,
}

impl Driver for Hyper {
    const NAME: &'static str = "hyper";

    fn build(base: &str, ca: Option<&str>, opts: Opts) -> Res<Self> {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let mut builder = tableau_auth_hyper::Client::builder(base)
            .format(opts.format)
            .connect_timeout(TIMEOUT)
            .read_timeout(TIMEOUT)
            .exchange_timeout(TIMEOUT)
            .max_body(64 << 10)
            .on_event(move |e| sink.lock().unwrap().push(e.clone()));
        match ca {
            Some(ca) => builder = builder.ca_pem(ca),
            None => builder = builder.built_in_roots(true),
        }
        builder = if opts.retries {
            builder.retries(3, Duration::from_secs(5))
        } else {
            builder.retries(0, Duration::ZERO)
        };
        Ok(Self {
            client: builder.build()?,
            format: opts.format,
            events,
        })
    }

    fn server_info(&mut self) -> Res<ServerInfo> {
        Ok(runtime().block_on(self.client.server_info())?)
    }

    fn sign_in(&mut self, sign_in: SignIn) -> Res<SignedIn> {
        Ok(runtime().block_on(self.client.sign_in(sign_in))?)
    }

    fn whoami(&mut self) -> Res<String> {
        let uri = self.client.api_url("sessions/current")?;
        let response = runtime().block_on(self.client.send(get_as(self.format, uri)))?;
        Ok(String::from_utf8_lossy(response.body()).into_owned())
    }

    fn switch_site(&mut self, site: &str) -> Res<Option<SignedIn>> {
        Ok(runtime().block_on(self.client.switch_site(site))?)
    }

    fn ticket(&mut self, request: TicketRequest) -> Res<TrustedTicket> {
        Ok(runtime().block_on(self.client.trusted_ticket(request))?)
    }

    fn sign_out(&mut self) -> Res<SignOut> {
        Ok(runtime().block_on(self.client.sign_out())?)
    }

    fn sign_out_token(&mut self, token: &str) -> Res<SignOut> {
        Ok(runtime().block_on(self.client.sign_out_token(AuthToken::new(token)))?)
    }

    fn token(&self) -> Option<String> {
        let current = self.client.current()?;
        Some(current.header_value().to_str().ok()?.to_owned())
    }

    fn shown(&self) -> Vec<(&'static str, String)> {
        vec![
            ("client", fmt_both(&self.client)),
            ("current", fmt_both(&self.client.current())),
            (
                "core session",
                self.client
                    .with_session(|s| fmt_both(s) + &fmt_both(&s.token())),
            ),
        ]
    }

    fn drain_events(&self) -> Vec<String> {
        let events = std::mem::take(&mut *self.events.lock().unwrap());
        events.iter().map(fmt_both).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Checking everything a run touches

/// The state of one adapter's run: every text checked, kept for the final re-check.
struct Ctx<'a> {
    leaks: &'a Leaks,
    adapter: &'static str,
    texts: Vec<(String, String)>,
    seen: std::collections::HashSet<String>,
    errors: usize,
    /// Errors whose text shows a secret was cut out of an echo (proof the echo got there).
    scrubbed: usize,
    tokens: usize,
}

impl<'a> Ctx<'a> {
    fn new(leaks: &'a Leaks, adapter: &'static str) -> Self {
        Self {
            leaks,
            adapter,
            texts: Vec::new(),
            seen: std::collections::HashSet::new(),
            errors: 0,
            scrubbed: 0,
            tokens: 0,
        }
    }

    fn text(&mut self, what: &str, text: String) {
        if !self.seen.insert(text.clone()) {
            return; // the same rendering again (a client's state between two calls)
        }
        let what = format!("{}: {what}", self.adapter);
        self.leaks.assert_clean(&what, &text);
        self.texts.push((what, text));
    }

    fn debug<T: std::fmt::Debug + ?Sized>(&mut self, what: &str, value: &T) {
        self.text(&format!("{what} (Debug)"), format!("{value:?}"));
        self.text(&format!("{what} ({{:#?}})"), format!("{value:#?}"));
    }

    fn error(&mut self, what: &str, error: &BoxErr) {
        let what = format!("{}: {what}", self.adapter);
        let all = self.leaks.assert_error_clean(&what, &**error);
        if all.contains("[redacted]") || all.contains("[text withheld") {
            self.scrubbed += 1;
        }
        self.errors += 1;
        self.texts.push((what, all));
    }

    /// The client's state, its events, and its token registered as a secret.
    fn client<D: Driver>(&mut self, what: &str, driver: &D) {
        if let Some(token) = driver.token() {
            self.tokens += 1;
            self.leaks.register(
                format!("{} session token #{}", self.adapter, self.tokens),
                &token,
            );
        }
        for (part, text) in driver.shown() {
            self.text(&format!("{what}: {part}"), text);
        }
        for event in driver.drain_events() {
            self.text(&format!("{what}: an event"), event);
        }
    }

    /// `result` must be `Ok`; its value is checked (and so is the error, before panicking).
    fn ok<T: std::fmt::Debug, D: Driver>(&mut self, what: &str, result: Res<T>, driver: &D) -> T {
        let value = match result {
            Ok(value) => value,
            Err(e) => {
                self.error(what, &e);
                panic!("{}: {what}: {e}", self.adapter);
            }
        };
        self.debug(what, &value);
        self.client(what, driver);
        value
    }

    /// `result` must be `Err`; the error is checked.
    fn fails<T: std::fmt::Debug, D: Driver>(&mut self, what: &str, result: Res<T>, driver: &D) {
        match result {
            Ok(value) => {
                self.debug(what, &value);
                panic!("{}: {what}: expected an error, got {value:?}", self.adapter);
            }
            Err(e) => self.error(what, &e),
        }
        self.client(what, driver);
    }

    /// `result` may be either; whatever it is is checked.
    fn either<T: std::fmt::Debug, D: Driver>(&mut self, what: &str, result: Res<T>, driver: &D) {
        match result {
            Ok(value) => self.debug(what, &value),
            Err(e) => self.error(what, &e),
        }
        self.client(what, driver);
    }

    fn ticket(&mut self, what: &str, ticket: &TrustedTicket) {
        self.leaks.register(
            format!("{} ticket", self.adapter),
            ticket.value().expose_secret(),
        );
        // The redemption URL holds the ticket (percent-encoded): a secret too, but not its base.
        let url = ticket.redemption_url("Superstore", "Overview");
        self.debug(&format!("{what}: ticket"), ticket);
        self.debug(&format!("{what}: ticket value"), ticket.value());
        self.debug(&format!("{what}: redemption URL"), &url);
    }
}

// ---------------------------------------------------------------------------------------------
// The flows that succeed

fn flows<D: Driver>(ctx: &mut Ctx<'_>, fake: &FakeServer, format: Format) {
    let leaks = ctx.leaks;
    let ca = fake.ca_pem();
    let opts = Opts {
        format,
        retries: true,
    };
    let mut d = D::build(fake.base_url(), ca, opts).expect("client");
    ctx.client("a new client", &d);
    ctx.ok("server info", d.server_info(), &d);

    // Every credential kind, impersonation included; each session used once.
    for cred in Cred::GOOD {
        let sign_in = cred.sign_in(fake, leaks);
        ctx.debug(&format!("{cred:?} sign-in request"), &sign_in);
        ctx.debug(&format!("{cred:?} credentials"), sign_in.credentials());
        let signed_in = ctx.ok(&format!("{cred:?} sign-in"), d.sign_in(sign_in), &d);
        assert_eq!(signed_in.user_id.as_str(), sample::USER_ID, "{cred:?}");
        let me = ctx.ok(&format!("{cred:?} whoami"), d.whoami(), &d);
        assert!(me.contains(sample::USER_ID), "{cred:?}");
    }

    // Switching sites: there, already there (403070), and back.
    ctx.ok("PAT sign-in", d.sign_in(Cred::Pat.sign_in(fake, leaks)), &d);
    let switched = ctx.ok("switch to Finance", d.switch_site(sample::FINANCE_SITE), &d);
    assert!(switched.is_some());
    ctx.ok("whoami on Finance", d.whoami(), &d);
    let again = ctx.ok(
        "switch to Finance again",
        d.switch_site(sample::FINANCE_SITE),
        &d,
    );
    assert!(again.is_none(), "403070 is no switch");
    ctx.ok("switch back", d.switch_site(""), &d);
    ctx.ok("whoami back home", d.whoami(), &d);

    // Expiry on the fake's clock: the next call meets 401002 and signs in again by itself.
    let before = d.token();
    let idle = Duration::from_secs(sentinel::config().idle_limit_secs);
    fake.control().advance(idle + Duration::from_secs(60));
    ctx.ok("whoami after the idle limit", d.whoami(), &d);
    assert_ne!(d.token(), before, "renewed");

    // Trusted tickets, for the Default site and for Finance.
    for (site, user) in [
        ("", sample::USER_NAME),
        (sample::FINANCE_SITE, sample::FINANCE_USER_NAME),
    ] {
        let request = TicketRequest::new(user).target_site(site);
        ctx.debug("ticket request", &request);
        let ticket = ctx.ok("ticket", d.ticket(request), &d);
        ctx.ticket("ticket", &ticket);
    }

    // Signing out, twice; then a token saved elsewhere, twice (the second is already gone).
    assert_eq!(ctx.ok("sign-out", d.sign_out(), &d), SignOut::Confirmed);
    assert_eq!(
        ctx.ok("sign-out again", d.sign_out(), &d),
        SignOut::NotSignedIn
    );
    let mut other = D::build(fake.base_url(), ca, opts).expect("client");
    ctx.ok(
        "password sign-in",
        other.sign_in(Cred::Password.sign_in(fake, leaks)),
        &other,
    );
    let saved = other.token().expect("a token");
    assert_eq!(
        ctx.ok("sign-out of a saved token", d.sign_out_token(&saved), &d),
        SignOut::Confirmed
    );
    assert_eq!(
        ctx.ok("sign-out of a gone token", d.sign_out_token(&saved), &d),
        SignOut::AlreadyGone
    );
    assert_eq!(
        ctx.ok(
            "sign-out of a stale token",
            d.sign_out_token(sentinel::STALE_TOKEN),
            &d
        ),
        SignOut::AlreadyGone
    );
    ctx.client("the other client", &other);
}

// ---------------------------------------------------------------------------------------------
// Unified access tokens (a fake in Tableau Cloud mode)

/// The UAT signer, its configuration, a UAT minted outside any session, sign-ins in both
/// formats, a re-sign-in with a new token after a drop, a ready-made UAT, one signed with
/// another key, and a key in the wrong format.
fn uat_flows<D: Driver>(ctx: &mut Ctx<'_>, fake: &FakeServer) {
    let leaks = ctx.leaks;
    let control = fake.control();
    let signer = |path| RsaSigner::from_pem_file(sample::UAT_KEY_ID, path).expect("a test key");
    let uat = |path| {
        UnifiedAccess::new(
            sample::UAT_ISSUER,
            sample::UAT_TENANT_ID,
            "jsmith@example.com",
            Arc::new(signer(path)),
        )
        .scope(SCOPE)
    };
    ctx.debug("the UAT signer", &signer(sentinel::UAT_KEY_FILE));
    ctx.debug("the UAT configuration", &uat(sentinel::UAT_KEY_FILE));
    let minted = uat(sentinel::UAT_KEY_FILE)
        .mint(MintInputs {
            issued_at: std::time::SystemTime::now(),
            random: [0x5a; 16],
        })
        .expect("the core mints a UAT");
    leaks.register("a minted UAT", minted.expose_secret());
    ctx.debug("a minted UAT", &minted);

    for format in [Format::Xml, Format::Json] {
        let opts = Opts {
            format,
            retries: true,
        };
        let mut d = D::build(fake.base_url(), fake.ca_pem(), opts).expect("client");
        let sign_in = SignIn::new(Credentials::unified_access(uat(sentinel::UAT_KEY_FILE)), "");
        ctx.debug("UAT sign-in request", &sign_in);
        ctx.debug("UAT credentials", sign_in.credentials());
        ctx.ok("UAT sign-in", d.sign_in(sign_in), &d);
        ctx.ok("UAT whoami", d.whoami(), &d);
        control.drop_sessions(None);
        ctx.ok("UAT whoami after a drop (a new UAT)", d.whoami(), &d);
        ctx.ok("UAT sign-out", d.sign_out(), &d);
    }

    let opts = Opts {
        format: Format::Xml,
        retries: false,
    };
    let mut d = D::build(fake.base_url(), fake.ca_pem(), opts).expect("client");
    let ready = SignIn::new(
        Credentials::unified_access_token(minted.expose_secret()),
        "",
    );
    ctx.debug("a ready UAT sign-in request", &ready);
    ctx.ok("a ready UAT sign-in", d.sign_in(ready), &d);
    let wrong = SignIn::new(
        Credentials::unified_access(uat(sentinel::OTHER_UAT_KEY_FILE)),
        "",
    );
    ctx.fails("a UAT signed with another key", d.sign_in(wrong), &d);
    // The key's content under another PEM label: refused, and the error shows none of it.
    let pem = std::fs::read_to_string(sentinel::UAT_KEY_FILE).expect("the key");
    let relabelled = pem.replace("PRIVATE KEY", "RSA PRIVATE KEY");
    let refused =
        RsaSigner::from_pem(sample::UAT_KEY_ID, relabelled.as_bytes()).map_err(BoxErr::from);
    ctx.fails("a key in the wrong format", refused, &d);
    let _ = d.sign_out();
    ctx.client("after the UATs", &d);
}

// ---------------------------------------------------------------------------------------------
// The failures: one row each

/// What a case does.
#[derive(Debug, Clone, Copy)]
enum Op {
    ServerInfo,
    SignIn(Cred),
    /// The same hand-signed JWT twice (its `jti` is single-use).
    ReplayedJwt,
    /// Sign in through the redirect listener reached as `localhost` (another host).
    OtherHostRedirect,
    /// Sign in to the fake without trusting its CA.
    UntrustedCertificate,
    Whoami,
    SwitchSite(&'static str),
    SignOut,
    Ticket(&'static str),
    /// Sign in as jsmith with a PAT, then drop every session on the fake, then whoami.
    WhoamiAfterDrop,
}

/// Where a fault goes.
#[derive(Debug, Clone, Copy)]
enum At {
    Probe,
    SignIn,
    Current,
    Switch,
    SignOut,
    Ticket,
}

impl At {
    fn path(self) -> &'static str {
        match self {
            Self::Probe => PROBE,
            Self::SignIn => SIGNIN,
            Self::Current => CURRENT,
            Self::Switch => SWITCH,
            Self::SignOut => SIGNOUT,
            Self::Ticket => TICKET,
        }
    }
}

/// A body that echoes the secret the request carried (at `At::SignIn` the sign-in's secret,
/// elsewhere the session token), written in `Form`.
#[derive(Debug, Clone, Copy)]
enum Reply {
    Html(u16),
    TableauXml(u16, &'static str),
    TableauJson(u16, &'static str),
    /// A 200 whose credentials document is broken and carries the secret.
    BrokenCredentials,
}

#[derive(Debug, Clone, Copy)]
enum Inject {
    Echo(Reply, Form),
    Garbage,
    Truncated,
    Huge,
    Drop,
    Hang,
    /// A 302 without `Location`.
    Redirect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Error,
    /// The call may succeed (a 2xx garbage body is the caller's to read).
    Any,
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    op: Op,
    faults: Vec<(At, Inject)>,
    expect: Expect,
}

fn case(name: impl Into<String>, op: Op, faults: &[(At, Inject)]) -> Case {
    Case {
        name: name.into(),
        op,
        faults: faults.to_vec(),
        expect: Expect::Error,
    }
}

/// Every failure, once per format (hangs only in XML: they are format-blind and slow).
fn cases(format: Format) -> Vec<Case> {
    use At::*;
    use Inject::*;
    let mut cases = vec![
        // Refused credentials of every kind.
        case("wrong password", Op::SignIn(Cred::WrongPassword), &[]),
        case("wrong PAT secret", Op::SignIn(Cred::WrongPat), &[]),
        case("revoked PAT", Op::SignIn(Cred::RevokedPat), &[]),
        case("expired PAT", Op::SignIn(Cred::ExpiredPat), &[]),
        case(
            "JWT signed with a wrong key",
            Op::SignIn(Cred::WrongKeyJwt),
            &[],
        ),
        case(
            "connected app with a wrong secret",
            Op::SignIn(Cred::WrongApp),
            &[],
        ),
        case("disabled connected app", Op::SignIn(Cred::DisabledApp), &[]),
        case("not a JWT", Op::SignIn(Cred::ForgedJwt), &[]),
        case("replayed JWT", Op::ReplayedJwt, &[]),
        case(
            "impersonation by a non-admin",
            Op::SignIn(Cred::NonAdminImpersonation),
            &[],
        ),
        // Redirects and TLS.
        case("redirect to another host", Op::OtherHostRedirect, &[]),
        case("untrusted certificate", Op::UntrustedCertificate, &[]),
        case(
            "302 without Location on sign-in",
            Op::SignIn(Cred::Password),
            &[(SignIn, Redirect)],
        ),
        case(
            "302 without Location on a call",
            Op::Whoami,
            &[(Current, Redirect)],
        ),
        // Refusals of calls with a session.
        case("switch to an unknown site", Op::SwitchSite("Nowhere"), &[]),
        case("ticket refused", Op::Ticket("nobody"), &[]),
        // A 401002 echoing the token, then a re-sign-in refused with an echo of its secret.
        case(
            "401002 then a refused re-sign-in",
            Op::Whoami,
            &[
                (Current, Echo(Reply::TableauXml(401, "401002"), Form::Raw)),
                (SignIn, Echo(Reply::TableauXml(401, "401001"), Form::Xml)),
            ],
        ),
        case(
            "session dropped, renewal refused",
            Op::WhoamiAfterDrop,
            &[(SignIn, Echo(Reply::TableauJson(401, "401001"), Form::Json))],
        ),
        // Transport-level faults on every exchange.
        case("garbage server info", Op::ServerInfo, &[(Probe, Garbage)]),
        case(
            "truncated server info",
            Op::ServerInfo,
            &[(Probe, Truncated)],
        ),
        case("huge server info", Op::ServerInfo, &[(Probe, Huge)]),
        case(
            "dropped connection on the probe",
            Op::ServerInfo,
            &[(Probe, Drop)],
        ),
        case(
            "garbage ticket",
            Op::Ticket(sample::USER_NAME),
            &[(Ticket, Garbage)],
        ),
        case(
            "HTML ticket page",
            Op::Ticket(sample::USER_NAME),
            &[(Ticket, Echo(Reply::Html(500), Form::Raw))],
        ),
    ];
    let mut any = case("garbage on a call", Op::Whoami, &[(Current, Garbage)]);
    any.expect = Expect::Any;
    cases.push(any);
    for (op, at) in [
        (Op::SignIn(Cred::Password), SignIn),
        (Op::Whoami, Current),
        (Op::SwitchSite(sample::FINANCE_SITE), Switch),
        (Op::SignOut, SignOut),
    ] {
        for inject in [Garbage, Truncated, Huge, Drop, Hang] {
            if matches!(inject, Garbage) && matches!(op, Op::Whoami | Op::SignOut) {
                continue; // Whoami: above; sign-out decides by status alone.
            }
            if matches!(inject, Hang) && (format == Format::Json || matches!(at, Switch | SignOut))
            {
                continue;
            }
            cases.push(case(format!("{inject:?} at {at:?}"), op, &[(at, inject)]));
        }
    }
    // Echoes of the sign-in's secret, for every kind of credentials, body and encoding.
    let sign_in_echoes = [
        Reply::Html(500),
        Reply::TableauXml(401, "401001"),
        Reply::TableauJson(401, "401001"),
        Reply::TableauXml(400, "400000"),
        Reply::TableauXml(503, "503000"),
        Reply::BrokenCredentials,
    ];
    // What the core sent (raw, its XML, JSON), then re-escaped by a stricter serializer.
    let forms = [Form::Raw, Form::Xml, Form::Json];
    let re_escaped = [Form::XmlStrict, Form::XmlHex, Form::JsonAscii];
    for cred in Cred::GOOD {
        for echo in sign_in_echoes {
            for form in forms {
                cases.push(case(
                    format!("{cred:?} sign-in, {echo:?} echoing its secret ({form:?})"),
                    Op::SignIn(cred),
                    &[(SignIn, Echo(echo, form))],
                ));
            }
        }
        for form in re_escaped {
            for echo in [Reply::Html(500), Reply::TableauXml(401, "401001")] {
                cases.push(case(
                    format!("{cred:?} sign-in, {echo:?} echoing its secret ({form:?})"),
                    Op::SignIn(cred),
                    &[(SignIn, Echo(echo, form))],
                ));
            }
        }
    }
    // Echoes of the session token by every call that carries it.
    let token_echoes = [
        Reply::Html(500),
        Reply::TableauXml(500, "500000"),
        Reply::TableauJson(500, "500000"),
        Reply::TableauXml(403, "403000"),
        Reply::TableauXml(404, "404000"),
        Reply::TableauXml(400, "400000"),
        Reply::TableauJson(503, "503000"),
    ];
    for (op, at) in [
        (Op::Whoami, Current),
        (Op::SwitchSite(sample::FINANCE_SITE), Switch),
        (Op::SignOut, SignOut),
    ] {
        for echo in token_echoes {
            cases.push(case(
                format!("{op:?}, {echo:?} echoing the token"),
                op,
                &[(at, Echo(echo, Form::Raw))],
            ));
        }
    }
    // A 2xx is the caller's to read (sessions/current), or success (sign-out): a switch only.
    cases.push(case(
        "switch, broken credentials echoing the token",
        Op::SwitchSite(sample::FINANCE_SITE),
        &[(Switch, Echo(Reply::BrokenCredentials, Form::Raw))],
    ));
    cases
}

fn echo_body(echo: Reply, secret: &str) -> String {
    match echo {
        Reply::Html(_) => format!(
            "<!DOCTYPE html><html><body><h1>proxy error</h1><p>request for {secret} failed \
             ({secret})</p></body></html>"
        ),
        Reply::TableauXml(_, code) => tableau_error_xml(
            code,
            &format!("about {secret}"),
            &format!("the value {secret} was rejected"),
        ),
        Reply::TableauJson(_, code) => format!(
            r#"{{"error":{{"summary":"about {secret}","detail":"{secret} rejected","code":"{code}"}}}}"#
        ),
        Reply::BrokenCredentials => format!(
            "<tsResponse xmlns=\"http://tableau.com/api\"><credentials token=\"{secret}\">\
             <site contentUrl=\"{secret}\"/></credentials></tsResponse>"
        ),
    }
}

fn fault(inject: Inject, secret: &str) -> Fault {
    let status = |status: u16, body: String| Fault::Status {
        status,
        retry_after: (status == 503).then(|| "0".to_owned()),
        body: Some(body),
    };
    match inject {
        Inject::Echo(echo, form) => {
            let body = echo_body(echo, &form.apply(secret));
            match echo {
                Reply::Html(s) | Reply::TableauXml(s, _) | Reply::TableauJson(s, _) => {
                    status(s, body)
                }
                Reply::BrokenCredentials => status(200, body),
            }
        }
        Inject::Garbage => Fault::Garbage,
        Inject::Truncated => Fault::Truncated,
        Inject::Huge => Fault::Huge { bytes: 8 << 20 },
        Inject::Drop => Fault::DropConnection,
        Inject::Hang => Fault::Hang,
        Inject::Redirect => Fault::Status {
            status: 302,
            retry_after: None,
            body: None,
        },
    }
}

/// Runs every case on one client (and a few fresh ones), checking everything it touches.
fn failures<D: Driver>(ctx: &mut Ctx<'_>, fake: &FakeServer, format: Format) {
    let leaks = ctx.leaks;
    let control = fake.control();
    let ca = fake.ca_pem();
    let opts = Opts {
        format,
        retries: false,
    };
    let mut d = D::build(fake.base_url(), ca, opts).expect("client");
    for case in cases(format) {
        let what = format!("{format:?} {}", case.name);
        // Calls with a session need one: a PAT sign-in, whose secret a re-sign-in then carries.
        let mut sign_in_secret = sentinel::PAT_SECRET.to_owned();
        let needs_session = matches!(
            case.op,
            Op::Whoami | Op::SwitchSite(_) | Op::SignOut | Op::WhoamiAfterDrop
        );
        if needs_session && d.token().is_none() {
            ctx.ok(
                &format!("{what}: sign-in first"),
                d.sign_in(Cred::Pat.sign_in(fake, leaks)),
                &d,
            );
        }
        let sign_in = match case.op {
            Op::SignIn(cred) => {
                let (sign_in, secret) = cred.sign_in_and_secret(fake, leaks);
                sign_in_secret = secret;
                Some(sign_in)
            }
            _ => None,
        };
        let token = d.token().unwrap_or_default();
        for (at, inject) in &case.faults {
            let secret = match at {
                At::SignIn => sign_in_secret.as_str(),
                _ => token.as_str(),
            };
            control.add_fault(FaultRule::exact(at.path(), fault(*inject, secret)).once());
        }
        let result: Res<String> = match case.op {
            Op::ServerInfo => d.server_info().map(|i| format!("{i:?}")),
            Op::SignIn(_) => d
                .sign_in(sign_in.expect("a sign-in"))
                .map(|s| format!("{s:?}")),
            Op::ReplayedJwt => {
                let jwt = sentinel::hand_jwt(fake, sample::USER_NAME, sentinel::APP_SECRET);
                leaks.register("replayed JWT", &jwt);
                let once = SignIn::new(Credentials::jwt(jwt.clone()), "");
                ctx.ok(&format!("{what}: first use"), d.sign_in(once.clone()), &d);
                d.sign_in(once).map(|s| format!("{s:?}"))
            }
            Op::OtherHostRedirect => {
                let http = fake.http_redirect_url().expect("a redirect listener");
                let port = http.rsplit(':').next().expect("a port");
                let mut other =
                    D::build(&format!("http://localhost:{port}"), ca, opts).expect("client");
                let result = other.sign_in(Cred::Password.sign_in(fake, leaks));
                ctx.client(&what, &other);
                result.map(|s| format!("{s:?}"))
            }
            Op::UntrustedCertificate => {
                let mut other = D::build(fake.base_url(), None, opts).expect("client");
                let result = other.sign_in(Cred::Pat.sign_in(fake, leaks));
                ctx.client(&what, &other);
                result.map(|s| format!("{s:?}"))
            }
            // A 2xx body is the server's answer to the caller, not a text of ours.
            Op::Whoami => d.whoami().map(|_| "a 2xx response".to_owned()),
            Op::WhoamiAfterDrop => {
                control.drop_sessions(None);
                d.whoami().map(|_| "a 2xx response".to_owned())
            }
            Op::SwitchSite(site) => d.switch_site(site).map(|s| format!("{s:?}")),
            Op::SignOut => d.sign_out().map(|s| format!("{s:?}")),
            Op::Ticket(user) => {
                d.trusted_ticket_text(TicketRequest::new(user))
                    .map(|(text, ticket)| {
                        ctx.ticket(&what, &ticket);
                        text
                    })
            }
        };
        match case.expect {
            Expect::Error => ctx.fails(&what, result, &d),
            Expect::Any => ctx.either(&what, result, &d),
        }
        let left = control.faults();
        control.clear_faults();
        assert!(
            left.is_empty() || matches!(case.op, Op::OtherHostRedirect | Op::UntrustedCertificate),
            "{}: {what}: a fault was never reached: {left:?}",
            D::NAME
        );
        // A switch that succeeded elsewhere would leave the session on Finance: start over.
        if matches!(case.op, Op::SwitchSite(_)) {
            let _ = d.sign_out();
            let _ = d.switch_site("");
        }
    }
    let _ = d.sign_out();
    ctx.client("after the failures", &d);
}

trait TicketText {
    fn trusted_ticket_text(&mut self, request: TicketRequest) -> Res<(String, TrustedTicket)>;
}

impl<D: Driver> TicketText for D {
    fn trusted_ticket_text(&mut self, request: TicketRequest) -> Res<(String, TrustedTicket)> {
        self.ticket(request).map(|t| (format!("{t:?}"), t))
    }
}

// ---------------------------------------------------------------------------------------------
// The suites

fn start() -> FakeServer {
    FakeServer::start_blocking(sentinel::config(), FakeOptions::default()).expect("the fake starts")
}

/// Flows and failures in both formats (a fresh fake for each: the flows move its clock), the
/// adapter's own extras, then the final checks of the adapter's run.
fn run<D: Driver>(extra: impl FnOnce(&mut Ctx<'_>, &FakeServer)) {
    let capture = capture();
    let leaks = Leaks::new();
    let mut ctx = Ctx::new(&leaks, D::NAME);
    let mut log = Vec::new();
    for format in [Format::Xml, Format::Json] {
        let fake = start();
        flows::<D>(&mut ctx, &fake, format);
        failures::<D>(&mut ctx, &fake, format);
        log.extend(fake.request_log());
    }
    let fake = start();
    extra(&mut ctx, &fake);
    log.extend(fake.request_log());
    let fake = FakeServer::start_blocking(sentinel::cloud_config(), FakeOptions::default())
        .expect("the fake starts");
    uat_flows::<D>(&mut ctx, &fake);
    let uat_log = fake.request_log();
    assert!(
        uat_log
            .iter()
            .filter(|e| e.is_signin() && e.status == Some(200))
            .count()
            >= 5,
        "{}: the UAT sign-ins did not happen",
        D::NAME
    );
    log.extend(uat_log);

    // The sentinels reached the server, and the echoes reached the errors, scrubbed: the
    // checks are not vacuous.
    for secret in [sentinel::PASSWORD, sentinel::ADMIN_PAT_SECRET] {
        let wire = [Form::Xml, Form::Json].map(|f| f.apply(secret));
        assert!(
            log.iter()
                .any(|e| wire.iter().any(|w| e.body_str().contains(w.as_str()))),
            "{}: a sentinel never reached the fake",
            D::NAME
        );
    }
    assert!(ctx.errors > 250, "{}: only {} errors", D::NAME, ctx.errors);
    assert!(
        ctx.scrubbed > 150,
        "{}: only {} errors showed a scrubbed echo",
        D::NAME,
        ctx.scrubbed
    );
    assert!(ctx.tokens > 40, "{}: only {} tokens", D::NAME, ctx.tokens);

    // Now that every token and JWT the fake saw is known, everything again, tracing included.
    let known = leaks.len();
    leaks.register_from_log(&log);
    assert!(leaks.len() >= known, "{}", D::NAME);
    for (what, text) in &ctx.texts {
        leaks.assert_clean(&format!("{what} (re-checked)"), text);
    }
    leaks.assert_clean(&format!("{}: the tracing events", D::NAME), &capture.text());
}

#[test]
fn the_checker_catches_every_encoding_and_fragment() {
    let leaks = Leaks::new();
    let clean = "signed in as jsmith on site a946d998-2ead-4894-bb50-1054a91dcab3 \
                 <credentials token=\"[redacted]\"/> \"p&amp;q\" %3C%26 \\u00e4";
    assert_eq!(leaks.find(clean), None);
    for form in [
        Form::Raw,
        Form::Xml,
        Form::XmlStrict,
        Form::XmlHex,
        Form::Json,
        Form::JsonAscii,
        Form::Debug,
        Form::Percent,
        Form::Form,
    ] {
        let text = format!("error: <detail>{}</detail>", form.apply(sentinel::PASSWORD));
        let leak = leaks
            .find(&text)
            .unwrap_or_else(|| panic!("{form:?} not caught"));
        assert_eq!(leak.label, "jsmith's password", "{form:?}");
        // The report names the secret, never shows it.
        assert_eq!(leaks.find(&leak.to_string()), None, "{form:?}: {leak}");
    }
    // A fragment of 8 characters is a leak; 7 is not.
    let fragment: String = sentinel::PAT_SECRET.chars().skip(2).take(8).collect();
    assert_eq!(
        leaks.find(&format!("x{fragment}x")).map(|l| l.label),
        Some("jsmith's PAT secret".to_owned())
    );
    let short: String = sentinel::PAT_SECRET.chars().take(7).collect();
    assert_eq!(leaks.find(&format!("x{short}x")), None);
    // Runtime values, once registered.
    let token = "Qm7s2fVbX0kLr9Tq4nWc8yHa1JdEe5Pu";
    assert_eq!(leaks.find(token), None);
    leaks.register("a token", token);
    assert_eq!(
        leaks.find(&format!("{token:?}")).map(|l| l.label),
        Some("a token".into())
    );
    // assert_clean panics with the label, and the panic message is clean itself.
    let text = format!("detail=&quot;{}", Form::Xml.apply(sentinel::APP_SECRET));
    let panic =
        std::panic::catch_unwind(|| leaks.assert_clean("a test text", &text)).expect_err("caught");
    let message = panic
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(message.contains("connected-app secret"), "{message}");
    assert_eq!(
        Leaks::new().find(message),
        None,
        "the report leaks: {message}"
    );
    // The UAT keys' lines are secrets from the start, also as a fragment.
    let pem = std::fs::read_to_string(sentinel::UAT_KEY_FILE).expect("the key");
    let line = pem.lines().nth(2).expect("a key line");
    assert_eq!(
        leaks
            .find(&format!("key: {}", &line[10..30]))
            .map(|l| l.label),
        Some("the UAT private key, line 2".to_owned())
    );
    // An error's source chain is looked into.
    let inner = std::io::Error::other(format!("bad {}", sentinel::WRONG_PASSWORD));
    let outer = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Leaks::new().assert_error_clean("chain", &outer);
    }));
    assert!(found.is_err(), "a secret in a source was missed");
}

#[test]
fn the_blocking_adapter_leaks_no_secret() {
    run::<Ureq>(|_, _| {});
    // Its events went to tracing too (and were checked with everything else).
    let text = capture().text();
    for needle in ["signed in", "signed out"] {
        assert!(
            text.lines()
                .any(|l| l.contains("tableau_auth_ureq:") && l.contains(needle)),
            "no {needle:?} event of the blocking client was captured"
        );
    }
}

#[test]
fn the_async_adapter_and_its_tower_layer_leak_no_secret() {
    run::<Hyper>(hyper_extras);
    let text = capture().text();
    for needle in [
        "signed in",
        "session superseded",
        "session renewed",
        "throttled",
        "renewal failed",
        "signed out",
    ] {
        assert!(text.contains(needle), "no {needle:?} event was captured");
    }
}

/// What only the async adapter has: events of its own, renewal on demand, throttling shared by
/// tasks, the tower layer.
fn hyper_extras(ctx: &mut Ctx<'_>, fake: &FakeServer) {
    use tableau_auth_hyper::TableauAuthLayer;
    use tableau_auth_hyper::bytes::Bytes;
    use tableau_auth_hyper::http_body_util::{BodyExt as _, Full};
    use tower::{Layer as _, ServiceExt as _};

    let leaks = ctx.leaks;
    let control = fake.control();
    let opts = Opts {
        format: Format::Xml,
        retries: true,
    };
    let mut d = Hyper::build(fake.base_url(), fake.ca_pem(), opts).expect("client");
    ctx.ok("sign-in", d.sign_in(Cred::App.sign_in(fake, leaks)), &d);
    // Renewed on demand, superseded, throttled.
    ctx.ok(
        "renew",
        runtime().block_on(d.client.renew()).map_err(BoxErr::from),
        &d,
    );
    control.drop_sessions(None);
    ctx.ok("whoami after a drop", d.whoami(), &d);
    control.add_fault(
        FaultRule::exact(
            CURRENT,
            Fault::Status {
                status: 429,
                retry_after: Some("0".into()),
                body: Some(echo_body(Reply::Html(429), &d.token().expect("a token"))),
            },
        )
        .once(),
    );
    ctx.ok("whoami throttled once", d.whoami(), &d);

    // The tower layer: a call, a foreign URL, and a replayed call rejected twice.
    let service = TableauAuthLayer::new(&d.client).layer(d.client.hyper_client());
    ctx.debug("the layer", &TableauAuthLayer::new(&d.client));
    ctx.debug("the layered service", &service);
    let request = |uri: &str| {
        http::Request::get(uri)
            .header("accept", "application/xml")
            .body(Full::new(Bytes::new()))
            .expect("a request")
    };
    let current = format!("{}{CURRENT}", fake.base_url());
    let response = runtime()
        .block_on(service.clone().oneshot(request(&current)))
        .map_err(|e| e as BoxErr);
    let response = ctx.ok("a layered call", response, &d);
    let body = runtime()
        .block_on(response.into_body().collect())
        .expect("a body")
        .to_bytes();
    assert!(String::from_utf8_lossy(&body).contains(sample::USER_ID));
    let foreign = runtime()
        .block_on(service.clone().oneshot(request(
            "https://elsewhere.example/api/3.25/sessions/current",
        )))
        .map_err(|e| e as BoxErr);
    ctx.fails(
        "a layered call to another server",
        foreign.map(|r| r.status()),
        &d,
    );
    let token = d.token().expect("a token");
    control.add_fault(
        FaultRule::exact(
            CURRENT,
            fault(
                Inject::Echo(Reply::TableauXml(401, "401002"), Form::Raw),
                &token,
            ),
        )
        .once(),
    );
    control.add_fault(
        FaultRule::exact(
            CURRENT,
            Fault::Status {
                status: 401,
                retry_after: None,
                body: Some(tableau_error_xml("401002", "Unauthorized", "gone again")),
            },
        )
        .once(),
    );
    let rejected = runtime()
        .block_on(service.clone().oneshot(request(&current)))
        .map_err(|e| e as BoxErr);
    match rejected {
        Ok(response) => {
            ctx.debug("a layered call rejected twice", &response.status());
            assert_eq!(response.status(), 401);
        }
        Err(e) => ctx.error("a layered call rejected twice", &e),
    }
    ctx.client("after the layer", &d);
    assert!(
        control.faults().is_empty(),
        "the layer never met its faults"
    );

    // A renewal that fails, echoing the secret back.
    control.drop_sessions(None);
    control.add_fault(
        FaultRule::exact(
            SIGNIN,
            fault(
                Inject::Echo(Reply::TableauXml(401, "401001"), Form::Xml),
                sentinel::APP_SECRET,
            ),
        )
        .once(),
    );
    ctx.fails("whoami with a failing renewal", d.whoami(), &d);
    ctx.ok("sign-out", d.sign_out(), &d);
}
