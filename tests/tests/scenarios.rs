//! One scenario suite for every driver of the core's session policy: the blocking client
//! (`tableau-auth-ureq`), the async client and its tower layer (`tableau-auth-hyper`), the
//! reqwest middleware (`tableau-auth-reqwest`), and the in-core driver on simulated time
//! (`tableau_auth_tests::sim`). Each scenario is written once
//! (flows × faults × concurrency) and runs against each driver, so that a behaviour one driver
//! has and another lacks cannot land.
//!
//! Every driver is configured the same way and reports the same things: the typed error's
//! code, status and kind, the session's generation, and the policy's events. The fake server
//! counts what reached it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tableau_auth_proto::FleetConfig;
use tableau_auth_redis::RedisStore;
use tableau_auth_tests::redis_server::RedisServer;

use tableau_auth_proto::lifecycle::{RenewReason, SessionEvent};
use tableau_auth_proto::secret::{AuthToken, ExposeSecret as _};
use tableau_auth_proto::{
    Call, Config, Ended, Event, Format, Intent, Outcome, SignIn, SignOut, http,
};
use tableau_auth_tests::fake::{FakeConfig, FakeOptions, FakeServer, Fault, FaultRule, sample};
use tableau_auth_tests::sim::{Finished, Sim};
use tableau_auth_tests::support::{
    HEAD_TOO_LARGE, Kind, credentials, describe, expire_user_pat_in, log_from, pat, session_gone,
    sign_in as sign_in_as, tableau_error_xml,
};

const SIGNIN: &str = "/api/3.25/auth/signin";
const RETRIES: u32 = 3;
const MAX_WAIT: Duration = Duration::from_secs(10);

// ----- what every driver reports --------------------------------------------------------------

/// A failed call, as every driver reports it.
#[derive(Debug, Clone)]
struct Failure {
    code: Option<String>,
    status: Option<u16>,
    ended: Option<Ended>,
    throttled: bool,
    sign_in_failed: bool,
    store_unavailable: bool,
    text: String,
}

impl Failure {
    fn from_core(e: &tableau_auth_proto::Error) -> Self {
        use tableau_auth_proto::Error as E;
        Self {
            code: e.code().map(str::to_owned),
            status: e.status().map(|s| s.as_u16()),
            ended: e.ended(),
            throttled: matches!(e, E::Throttled { .. }),
            sign_in_failed: matches!(e, E::SignInFailed(_)),
            store_unavailable: matches!(e, E::StoreUnavailable { .. }),
            text: e.to_string(),
        }
    }

    fn other(text: String) -> Self {
        Self {
            code: None,
            status: None,
            ended: None,
            throttled: false,
            sign_in_failed: false,
            store_unavailable: false,
            text,
        }
    }

    /// A non-2xx answer a middleware delivered as it was.
    fn delivered(status: u16) -> Self {
        Self {
            status: Some(status),
            ..Self::other(format!("HTTP {status}"))
        }
    }
}

type Res<T> = Result<T, Failure>;

/// How a driver is configured beyond the suite's defaults (the same for every driver).
#[derive(Debug, Clone, Copy, Default)]
struct Setup {
    idle_limit: Option<Duration>,
    margin: Option<Duration>,
    /// Share the session through the Redis on this loopback port.
    redis_port: Option<u16>,
}

impl Setup {
    /// The fleet's store, if the setup shares the session.
    fn store(&self) -> Option<RedisStore> {
        self.redis_port.map(|port| {
            RedisStore::open(&format!("redis://127.0.0.1:{port}")).expect("a store URL")
        })
    }
}

/// What a scenario does inside a scope ([`Driver::scope`]).
#[allow(clippy::large_enum_variant)] // one per scope
enum Inside {
    /// A site-scoped GET of the caller's own.
    Get(&'static str),
    /// The server drops the session, then a GET (a re-sign-in inside the scope).
    LoseSessionThenGet(&'static str),
    /// A new explicit sign-in.
    SignIn(SignIn),
}

/// Builds the driver under test.
type Make<'a> = &'a dyn Fn(Setup) -> Box<dyn Driver>;

trait Driver {
    fn name(&self) -> &'static str;
    fn fake(&self) -> &FakeServer;
    /// Another driver of the same kind on the same fake: another process of a fleet.
    fn peer(&self, setup: Setup) -> Box<dyn Driver>;
    fn sign_in(&mut self, sign_in: SignIn) -> Res<()>;
    /// A site-scoped GET of the caller's own; the status of a success.
    fn get(&mut self, path: &str) -> Res<u16>;
    /// `n` site-scoped GETs at once (the blocking client makes them in turn).
    fn storm(&mut self, n: usize, path: &str) -> Vec<Res<u16>>;
    /// Who is signed in (`sessions/current`): the user's name.
    fn whoami(&mut self) -> Res<String>;
    /// `Ok(false)`: already on that site.
    fn switch_site(&mut self, site: &str) -> Res<bool>;
    fn sign_out(&mut self) -> Res<SignOut>;
    /// Revokes the server administrators' PATs (`DELETE auth/serverAdminAccessTokens`).
    fn revoke_admin_tokens(&mut self) -> Res<()>;
    /// The session's token, to save and resume elsewhere.
    fn token(&mut self) -> Option<String>;
    /// Takes up the session of a saved `token`: who it is (the user's name).
    fn resume(&mut self, token: &str) -> Res<String>;
    /// Signs in with a scope (a guard; TSC's `with` block), does `inside` in it, then ends the
    /// scope: how the scope's sign-out ended.
    fn scope(&mut self, sign_in: SignIn, inside: Inside) -> Res<SignOut>;
    fn generation(&self) -> u64;
    fn events(&self) -> Vec<SessionEvent>;
    /// Lets `by` pass (simulated time moves; real drivers sleep).
    fn pass(&mut self, by: Duration) {
        std::thread::sleep(by);
    }
}

fn config(base: &str, setup: Setup) -> tableau_auth_proto::ConfigBuilder {
    let mut config = Config::builder(base)
        .format(Format::Xml)
        .retries(RETRIES, MAX_WAIT);
    if let Some(limit) = setup.idle_limit {
        config = config.idle_limit(limit);
    }
    if let Some(margin) = setup.margin {
        config = config.expiry_margin(margin);
    }
    config
}

fn fake() -> Arc<FakeServer> {
    Arc::new(
        FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::default()).expect("fake"),
    )
}

// ----- the in-core driver on simulated time ---------------------------------------------------

struct SimDriver(Sim);

impl SimDriver {
    fn new(setup: Setup) -> Self {
        Self::on(fake(), setup)
    }

    fn on(fake: Arc<FakeServer>, setup: Setup) -> Self {
        let config = config(fake.base_url(), setup).build().expect("config");
        let mut sim = Sim::new(fake, config);
        if let Some(store) = setup.store() {
            sim.share(
                FleetConfig::new(),
                Box::new(move |request| store.execute_blocking(request).map_err(|e| e.to_string())),
            );
        }
        Self(sim)
    }

    fn own_get(&mut self, path: &str) -> Res<http::Request<Vec<u8>>> {
        let snapshot = self
            .0
            .policy()
            .snapshot()
            .cloned()
            .ok_or_else(|| Failure::other("not signed in".into()))?;
        let uri = snapshot
            .site_url(path)
            .map_err(|e| Failure::from_core(&e))?;
        Ok(http::Request::get(uri).body(Vec::new()).expect("request"))
    }

    fn event(&mut self, intent: Intent) -> Res<Event> {
        match self.0.run(Call::Intent(intent), None) {
            Finished::Outcome(Outcome::Event(event), _) => Ok(event),
            other => Err(sim_failure(other)),
        }
    }

    /// Runs a sign-out call (an intent's, a scope's end) to its outcome.
    fn signed_out(&mut self, call: Call) -> Res<SignOut> {
        match self.0.run(call, None) {
            Finished::Outcome(Outcome::Event(Event::SignedOut(outcome)), _) => Ok(outcome),
            other => Err(sim_failure(other)),
        }
    }
}

fn sim_failure(finished: Finished) -> Failure {
    match finished {
        Finished::Outcome(Outcome::Failed(e), _) => Failure::from_core(&e),
        other => Failure::other(format!("{other:?}")),
    }
}

fn sim_status(finished: Finished) -> Res<u16> {
    match finished {
        Finished::Outcome(Outcome::Deliver, Some(response)) => Ok(response.status().as_u16()),
        other => Err(sim_failure(other)),
    }
}

impl Driver for SimDriver {
    fn name(&self) -> &'static str {
        "sim"
    }
    fn fake(&self) -> &FakeServer {
        &self.0.fake
    }
    fn peer(&self, setup: Setup) -> Box<dyn Driver> {
        Box::new(Self::on(self.0.fake.clone(), setup))
    }
    fn sign_in(&mut self, sign_in: SignIn) -> Res<()> {
        self.event(Intent::SignIn(sign_in)).map(|_| ())
    }
    fn get(&mut self, path: &str) -> Res<u16> {
        let request = self.own_get(path)?;
        sim_status(self.0.run(Call::Request, Some(request)))
    }
    fn storm(&mut self, n: usize, path: &str) -> Vec<Res<u16>> {
        let request = match self.own_get(path) {
            Ok(r) => r,
            Err(e) => return vec![Err(e)],
        };
        let calls = (0..n)
            .map(|_| (Call::Request, Some(request.clone())))
            .collect();
        self.0.run_all(calls).into_iter().map(sim_status).collect()
    }
    fn whoami(&mut self) -> Res<String> {
        match self.event(Intent::CurrentSession)? {
            Event::CurrentSession(me) => Ok(me.user_name),
            other => Err(Failure::other(format!("{other:?}"))),
        }
    }
    fn switch_site(&mut self, site: &str) -> Res<bool> {
        match self.event(Intent::SwitchSite(site.into()))? {
            Event::SiteSwitched(_) => Ok(true),
            Event::SiteUnchanged => Ok(false),
            other => Err(Failure::other(format!("{other:?}"))),
        }
    }
    fn sign_out(&mut self) -> Res<SignOut> {
        self.signed_out(Call::Intent(Intent::SignOut))
    }
    fn revoke_admin_tokens(&mut self) -> Res<()> {
        match self.event(Intent::RevokeServerAdminTokens)? {
            Event::ServerAdminTokensRevoked => Ok(()),
            other => Err(Failure::other(format!("{other:?}"))),
        }
    }
    fn token(&mut self) -> Option<String> {
        let token = self.0.policy().session().token()?;
        Some(token.expose_secret().to_owned())
    }
    fn resume(&mut self, token: &str) -> Res<String> {
        match self.event(Intent::Resume(AuthToken::new(token)))? {
            Event::Resumed(me) => Ok(me.user_name),
            other => Err(Failure::other(format!("{other:?}"))),
        }
    }
    fn scope(&mut self, sign_in: SignIn, inside: Inside) -> Res<SignOut> {
        let scope = self.0.policy().begin(Call::Intent(Intent::SignIn(sign_in)));
        match self.0.run_begun(scope, None) {
            Finished::Outcome(Outcome::Event(Event::SignedIn(_)), _) => {}
            other => return Err(sim_failure(other)),
        }
        match inside {
            Inside::Get(path) => self.get(path).map(drop)?,
            Inside::LoseSessionThenGet(path) => {
                self.0.fake.control().drop_sessions(None);
                self.get(path).map(drop)?;
            }
            Inside::SignIn(sign_in) => self.sign_in(sign_in)?,
        }
        self.signed_out(Call::EndScope(scope))
    }
    fn generation(&self) -> u64 {
        self.0.generation()
    }
    fn events(&self) -> Vec<SessionEvent> {
        self.0.events.clone()
    }
    fn pass(&mut self, by: Duration) {
        self.0.advance(by);
    }
}

// ----- the blocking client --------------------------------------------------------------------

type EventLog = Arc<Mutex<Vec<SessionEvent>>>;

/// A client builder of either adapter, configured as every driver of the suite is: the fake's
/// CA, the suite's retry caps, the setup's limits, events recorded into `events`.
macro_rules! configured {
    ($client:ty, $fake:expr, $setup:expr, $events:expr) => {{
        let sink = EventLog::clone($events);
        let mut builder = <$client>::builder($fake.base_url())
            .ca_pem($fake.ca_pem().expect("tls").as_bytes().to_vec())
            .retries(RETRIES, MAX_WAIT)
            .on_event(move |e| sink.lock().unwrap().push(e.clone()));
        if let Some(limit) = $setup.idle_limit {
            builder = builder.idle_limit(limit);
        }
        if let Some(margin) = $setup.margin {
            builder = builder.expiry_margin(margin);
        }
        if let Some(store) = $setup.store() {
            builder = builder.session_store(store, FleetConfig::new());
        }
        builder
    }};
}

struct Blocking {
    fake: Arc<FakeServer>,
    client: tableau_auth_ureq::Client,
    events: EventLog,
}

fn ureq_failure(e: &tableau_auth_ureq::Error) -> Failure {
    match e {
        tableau_auth_ureq::Error::Tableau(core) => Failure::from_core(core),
        other => Failure::other(other.to_string()),
    }
}

impl Blocking {
    fn new(setup: Setup) -> Self {
        Self::on(fake(), setup)
    }

    fn on(fake: Arc<FakeServer>, setup: Setup) -> Self {
        let events = EventLog::default();
        let builder = configured!(tableau_auth_ureq::Client, &fake, setup, &events);
        let client = builder.build().expect("client");
        Self {
            fake,
            client,
            events,
        }
    }
}

/// A site-scoped GET of the caller's own through the blocking client.
fn blocking_get(client: &mut tableau_auth_ureq::Client, path: &str) -> Res<u16> {
    let uri = client
        .session()
        .site_url(path)
        .map_err(|e| Failure::from_core(&e))?;
    let request = http::Request::get(uri).body(Vec::new()).expect("request");
    client
        .send(request)
        .map(|r| r.status().as_u16())
        .map_err(|e| ureq_failure(&e))
}

impl Driver for Blocking {
    fn name(&self) -> &'static str {
        "blocking"
    }
    fn fake(&self) -> &FakeServer {
        &self.fake
    }
    fn peer(&self, setup: Setup) -> Box<dyn Driver> {
        Box::new(Self::on(self.fake.clone(), setup))
    }
    fn sign_in(&mut self, sign_in: SignIn) -> Res<()> {
        self.client
            .sign_in(sign_in)
            .map(|_| ())
            .map_err(|e| ureq_failure(&e))
    }
    fn get(&mut self, path: &str) -> Res<u16> {
        blocking_get(&mut self.client, path)
    }
    fn storm(&mut self, n: usize, path: &str) -> Vec<Res<u16>> {
        (0..n).map(|_| self.get(path)).collect()
    }
    fn whoami(&mut self) -> Res<String> {
        self.client
            .current_session()
            .map(|me| me.user_name)
            .map_err(|e| ureq_failure(&e))
    }
    fn switch_site(&mut self, site: &str) -> Res<bool> {
        self.client
            .switch_site(site)
            .map(|s| s.is_some())
            .map_err(|e| ureq_failure(&e))
    }
    fn sign_out(&mut self) -> Res<SignOut> {
        self.client.sign_out().map_err(|e| ureq_failure(&e))
    }
    fn revoke_admin_tokens(&mut self) -> Res<()> {
        self.client
            .revoke_server_admin_tokens()
            .map_err(|e| ureq_failure(&e))
    }
    fn token(&mut self) -> Option<String> {
        let token = self.client.session().token()?;
        Some(token.expose_secret().to_owned())
    }
    fn resume(&mut self, token: &str) -> Res<String> {
        self.client
            .resume(AuthToken::new(token))
            .map(|me| me.user_name)
            .map_err(|e| ureq_failure(&e))
    }
    fn scope(&mut self, sign_in: SignIn, inside: Inside) -> Res<SignOut> {
        let mut guard = self
            .client
            .sign_in_guard(sign_in)
            .map_err(|e| ureq_failure(&e))?;
        match inside {
            Inside::Get(path) => blocking_get(&mut guard, path).map(drop)?,
            Inside::LoseSessionThenGet(path) => {
                self.fake.control().drop_sessions(None);
                blocking_get(&mut guard, path).map(drop)?;
            }
            Inside::SignIn(sign_in) => guard
                .sign_in(sign_in)
                .map(drop)
                .map_err(|e| ureq_failure(&e))?,
        }
        guard.sign_out().map_err(|e| ureq_failure(&e))
    }
    fn generation(&self) -> u64 {
        self.client.generation()
    }
    fn events(&self) -> Vec<SessionEvent> {
        self.events.lock().unwrap().clone()
    }
}

// ----- the async client and the tower layer ---------------------------------------------------

use tableau_auth_tests::support::runtime;

fn hyper_failure(e: &tableau_auth_hyper::Error) -> Failure {
    match e.as_tableau() {
        Some(core) => Failure::from_core(core),
        None => Failure::other(e.to_string()),
    }
}

/// How the caller's own requests go out: the async client's `send`, its tower layer, or a
/// reqwest client with the middleware (the session is a `tableau_auth_hyper::Client` in all
/// three: the middleware's own).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Client,
    Tower,
    Reqwest,
}

struct Async {
    fake: Arc<FakeServer>,
    client: tableau_auth_hyper::Client,
    events: EventLog,
    via: Via,
    reqwest: Option<tableau_auth_reqwest::reqwest_middleware::ClientWithMiddleware>,
}

impl Async {
    fn new(setup: Setup, via: Via) -> Self {
        Self::on(fake(), setup, via)
    }

    fn on(fake: Arc<FakeServer>, setup: Setup, via: Via) -> Self {
        let events = EventLog::default();
        let builder = configured!(tableau_auth_hyper::Client, &fake, setup, &events);
        let (client, reqwest) = if via == Via::Reqwest {
            use tableau_auth_reqwest::{TableauAuthMiddleware, reqwest, reqwest_middleware};
            tableau_auth_reqwest::use_ring();
            let ca = reqwest::Certificate::from_pem(fake.ca_pem().expect("tls").as_bytes())
                .expect("the fake's CA");
            let http = reqwest::Client::builder()
                .tls_certs_only([ca])
                .build()
                .expect("a reqwest client");
            let middleware = TableauAuthMiddleware::new(builder, http.clone()).expect("middleware");
            let client = middleware.client().clone();
            let http = reqwest_middleware::ClientBuilder::new(http)
                .with(middleware)
                .build();
            (client, Some(http))
        } else {
            (
                runtime().block_on(async { builder.build().expect("client") }),
                None,
            )
        };
        Self {
            fake,
            client,
            events,
            via,
            reqwest,
        }
    }
}

/// One own GET through the client, the tower layer or the reqwest middleware.
async fn async_get(
    client: tableau_auth_hyper::Client,
    via: Via,
    reqwest: Option<tableau_auth_reqwest::reqwest_middleware::ClientWithMiddleware>,
    path: String,
) -> Res<u16> {
    use http_body_util::Full;
    use tower::{Layer as _, ServiceExt as _};
    let uri = client.site_url(&path).map_err(|e| hyper_failure(&e))?;
    if let Some(http) = reqwest {
        return match http.get(uri.to_string()).send().await {
            Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
            Ok(response) => Err(Failure::delivered(response.status().as_u16())),
            Err(e) => Err(match tableau_auth_reqwest::Error::of(&e) {
                Some(tableau_auth_reqwest::Error::Auth(e)) => hyper_failure(e),
                _ => Failure::other(e.to_string()),
            }),
        };
    }
    if via == Via::Client {
        let request = http::Request::get(uri).body(Vec::new()).expect("request");
        return client
            .send(request)
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| hyper_failure(&e));
    }
    let service = tableau_auth_hyper::TableauAuthLayer::new(&client).layer(client.hyper_client());
    let request = http::Request::get(uri)
        .body(Full::new(bytes::Bytes::new()))
        .expect("request");
    match service.oneshot(request).await {
        Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
        Ok(response) => Err(Failure::delivered(response.status().as_u16())),
        Err(e) => Err(match e.downcast_ref::<tableau_auth_hyper::Error>() {
            Some(e) => hyper_failure(e),
            None => Failure::other(e.to_string()),
        }),
    }
}

impl Driver for Async {
    fn name(&self) -> &'static str {
        match self.via {
            Via::Client => "async",
            Via::Tower => "tower",
            Via::Reqwest => "reqwest",
        }
    }
    fn fake(&self) -> &FakeServer {
        &self.fake
    }
    fn peer(&self, setup: Setup) -> Box<dyn Driver> {
        Box::new(Self::on(self.fake.clone(), setup, self.via))
    }
    fn sign_in(&mut self, sign_in: SignIn) -> Res<()> {
        runtime()
            .block_on(self.client.sign_in(sign_in))
            .map(|_| ())
            .map_err(|e| hyper_failure(&e))
    }
    fn get(&mut self, path: &str) -> Res<u16> {
        runtime().block_on(async_get(
            self.client.clone(),
            self.via,
            self.reqwest.clone(),
            path.to_owned(),
        ))
    }
    fn storm(&mut self, n: usize, path: &str) -> Vec<Res<u16>> {
        runtime().block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    tokio::spawn(async_get(
                        self.client.clone(),
                        self.via,
                        self.reqwest.clone(),
                        path.to_owned(),
                    ))
                })
                .collect();
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await.expect("task"));
            }
            results
        })
    }
    fn whoami(&mut self) -> Res<String> {
        runtime()
            .block_on(self.client.current_session())
            .map(|me| me.user_name)
            .map_err(|e| hyper_failure(&e))
    }
    fn switch_site(&mut self, site: &str) -> Res<bool> {
        runtime()
            .block_on(self.client.switch_site(site))
            .map(|s| s.is_some())
            .map_err(|e| hyper_failure(&e))
    }
    fn sign_out(&mut self) -> Res<SignOut> {
        runtime()
            .block_on(self.client.sign_out())
            .map_err(|e| hyper_failure(&e))
    }
    fn revoke_admin_tokens(&mut self) -> Res<()> {
        runtime()
            .block_on(self.client.revoke_server_admin_tokens())
            .map_err(|e| hyper_failure(&e))
    }
    fn token(&mut self) -> Option<String> {
        let current = self.client.current()?;
        Some(current.token().expose_secret().to_owned())
    }
    fn resume(&mut self, token: &str) -> Res<String> {
        runtime()
            .block_on(self.client.resume(AuthToken::new(token)))
            .map(|me| me.user_name)
            .map_err(|e| hyper_failure(&e))
    }
    fn scope(&mut self, sign_in: SignIn, inside: Inside) -> Res<SignOut> {
        let get = |path: &str| {
            async_get(
                self.client.clone(),
                self.via,
                self.reqwest.clone(),
                path.to_owned(),
            )
        };
        runtime().block_on(async {
            let guard = self
                .client
                .sign_in_guard(sign_in)
                .await
                .map_err(|e| hyper_failure(&e))?;
            match inside {
                Inside::Get(path) => get(path).await.map(drop)?,
                Inside::LoseSessionThenGet(path) => {
                    self.fake.control().drop_sessions(None);
                    get(path).await.map(drop)?;
                }
                Inside::SignIn(sign_in) => guard
                    .sign_in(sign_in)
                    .await
                    .map(drop)
                    .map_err(|e| hyper_failure(&e))?,
            }
            guard.sign_out().await.map_err(|e| hyper_failure(&e))
        })
    }
    fn generation(&self) -> u64 {
        self.client.generation()
    }
    fn events(&self) -> Vec<SessionEvent> {
        self.events.lock().unwrap().clone()
    }
}

// ----- helpers ----------------------------------------------------------------------------------

fn throttle(status: u16, retry_after: &str) -> Fault {
    Fault::Status {
        status,
        retry_after: Some(retry_after.to_owned()),
        body: None,
    }
}

/// Successful sign-ins the fake saw.
fn sign_ins(d: &dyn Driver) -> usize {
    d.fake()
        .request_log()
        .iter()
        .filter(|r| r.is_signin() && r.status == Some(200))
        .count()
}

/// Sign-in attempts the fake saw, whatever their answer.
fn sign_in_attempts(d: &dyn Driver) -> usize {
    d.fake()
        .request_log()
        .iter()
        .filter(|r| r.is_signin())
        .count()
}

fn throttled_events(d: &dyn Driver) -> usize {
    d.events()
        .iter()
        .filter(|e| matches!(e, SessionEvent::Throttled { .. }))
        .count()
}

// ----- the scenarios ------------------------------------------------------------------------

/// A sign-in answered 429 + `Retry-After: 1` waits and signs in (Tableau Cloud answers 429000
/// under load, and a fleet that starts at once is load).
fn throttled_sign_in_waits_and_succeeds(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    d.fake()
        .control()
        .add_fault(FaultRule::exact(SIGNIN, throttle(429, "1")).once());
    d.sign_in(pat()).expect("signed in after the wait");
    assert_eq!(sign_in_attempts(d), 2, "one throttled attempt, one more");
    assert_eq!(throttled_events(d), 1);
    assert_eq!(d.generation(), 1);
    assert_eq!(d.get("workbooks").map_err(|e| e.text), Ok(200));
}

/// A sign-in answered with a head past 32 KiB is refused (the transport stops reading there),
/// and the next sign-in works: memory stays bounded whatever the server sends.
fn an_oversized_response_head_is_refused(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    d.fake().control().add_fault(
        FaultRule::exact(SIGNIN, Fault::LargeHead { bytes: 40 << 10 })
            .method("POST")
            .once(),
    );
    let e = d.sign_in(pat()).expect_err("a 40 KiB head");
    if d.name() == "sim" {
        // Simulated time has no transport: the core reads the answer, whose body is empty.
        assert!(e.text.contains("credentials"), "{e:?}");
    } else {
        assert!(e.text.contains(HEAD_TOO_LARGE), "{e:?}");
    }
    assert_eq!(d.generation(), 0);
    d.sign_in(pat()).expect("the next sign-in");
    assert_eq!(d.get("workbooks").map_err(|e| e.text), Ok(200));
}

/// A sign-out answered 503 + `Retry-After: 1` is retried: the session does not stay open.
fn throttled_sign_out_is_retried(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    d.sign_in(pat()).expect("sign in");
    d.fake()
        .control()
        .add_fault(FaultRule::exact("/api/3.25/auth/signout", throttle(503, "1")).once());
    assert_eq!(d.sign_out().expect("signed out"), SignOut::Confirmed);
    assert_eq!(d.fake().control().live_sessions(), 0, "nothing left open");
}

/// A sign-out throttled beyond the cap is an error naming the wait, never a silent success.
fn sign_out_throttled_beyond_the_cap_fails(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    d.sign_in(pat()).expect("sign in");
    d.fake().control().add_fault(FaultRule::exact(
        "/api/3.25/auth/signout",
        throttle(503, "3600"),
    ));
    let e = d.sign_out().expect_err("throttled beyond the cap");
    assert!(e.throttled, "{e:?}");
    assert!(e.text.contains("3600"), "names the wait: {}", e.text);
    assert_eq!(d.fake().control().live_sessions(), 1);
}

/// A 429 on switch-site is retried; a later re-sign-in lands on the new site.
fn throttled_switch_site_is_retried_and_the_site_kept(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    d.sign_in(pat()).expect("sign in");
    d.fake()
        .control()
        .add_fault(FaultRule::exact("/api/3.25/auth/switchSite", throttle(429, "1")).once());
    assert_eq!(
        d.switch_site(sample::FINANCE_SITE).map_err(|e| e.text),
        Ok(true)
    );
    let generation = d.generation();
    d.fake().control().drop_sessions(None);
    assert_eq!(
        d.get("workbooks").map_err(|e| e.text),
        Ok(200),
        "re-signed in after the rejection"
    );
    assert_eq!(d.generation(), generation + 1);
    let last = d
        .fake()
        .request_log()
        .into_iter()
        .rfind(|r| r.is_signin() && r.status == Some(200))
        .expect("a sign-in");
    assert!(
        last.body_str()
            .contains(&format!("contentUrl=\"{}\"", sample::FINANCE_SITE)),
        "the re-sign-in goes to the switched site: {}",
        last.body_str()
    );
}

/// `sessions/current` answered 429 is retried, as every other call.
fn throttled_current_session_is_retried(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    d.sign_in(pat()).expect("sign in");
    d.fake()
        .control()
        .add_fault(FaultRule::exact("/api/3.25/sessions/current", throttle(429, "1")).once());
    assert_eq!(
        d.whoami().map_err(|e| e.text),
        Ok(sample::USER_NAME.to_owned())
    );
    assert_eq!(throttled_events(d), 1);
}

/// A throttle beyond the cap fails at once with a typed error that names the wait.
fn throttle_beyond_the_cap_is_a_typed_error(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    d.sign_in(pat()).expect("sign in");
    d.fake()
        .control()
        .add_fault(FaultRule::prefix("/api/3.25/sites/", throttle(429, "3600")).once());
    let e = d.get("workbooks").expect_err("beyond the cap");
    assert_eq!(e.status, Some(429), "{e:?}");
    // A middleware (tower, reqwest) hands the last answer back as it came.
    if !matches!(d.name(), "tower" | "reqwest") {
        assert!(e.throttled, "{e:?}");
        assert!(e.text.contains("3600"), "{}", e.text);
    }
    assert_eq!(throttled_events(d), 0, "nobody waited");
}

/// A session the server ended is signed in again once and the call replayed once; the event
/// says it was superseded (every deadline was still ahead).
fn rejected_session_is_renewed_once(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    d.sign_in(pat()).expect("sign in");
    d.fake().control().drop_sessions(None);
    assert_eq!(d.get("workbooks").map_err(|e| e.text), Ok(200));
    assert_eq!(sign_ins(d), 2);
    assert_eq!(d.generation(), 2);
    let events = d.events();
    assert!(
        events.contains(&SessionEvent::Ended {
            generation: 1,
            reason: Ended::Superseded
        }),
        "{events:?}"
    );
    assert!(
        events.contains(&SessionEvent::Renewed {
            generation: 2,
            reason: RenewReason::Rejected(Ended::Superseded)
        }),
        "{events:?}"
    );
}

/// A replay rejected too ends the call: never a loop.
fn rejected_replay_ends_the_session(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    d.sign_in(pat()).expect("sign in");
    d.fake()
        .control()
        .add_fault(FaultRule::prefix("/api/3.25/sites/", session_gone()).times(2));
    let e = d.get("workbooks").expect_err("rejected twice");
    assert_eq!(e.ended, Some(Ended::Superseded), "{e:?}");
    assert_eq!(e.code.as_deref(), Some("401002"));
    assert_eq!(sign_ins(d), 2, "exactly one re-sign-in");
}

/// N calls rejected on one generation cause exactly one sign-in; each replays once.
fn storm_of_rejections_signs_in_once(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    d.sign_in(pat()).expect("sign in");
    d.fake().control().drop_sessions(None);
    let results = d.storm(16, "workbooks");
    assert!(
        results.iter().all(|r| r.as_ref().is_ok_and(|s| *s == 200)),
        "{results:?}"
    );
    assert_eq!(sign_ins(d), 2, "one sign-in for the whole storm");
}

/// A failed re-sign-in answers every call that waited for it: a refusing server sees one
/// attempt per wave of rejected calls, not one per call.
fn failed_sign_in_is_shared_by_the_storm(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    d.sign_in(pat()).expect("sign in");
    d.fake().control().drop_sessions(None);
    let refused = Fault::Status {
        status: 401,
        retry_after: None,
        body: Some(tableau_error_xml("401001", "Signin Error", "refused")),
    };
    d.fake()
        .control()
        .add_fault(FaultRule::exact(SIGNIN, refused));
    let n = 8;
    let results = d.storm(n, "workbooks");
    for result in &results {
        let e = result.as_ref().expect_err("every call fails");
        assert!(e.sign_in_failed, "{e:?}");
        assert_eq!(e.code.as_deref(), Some("401001"), "{e:?}");
    }
    let failed = sign_in_attempts(d) - 1;
    match d.name() {
        // One wave, deterministically.
        "sim" => assert_eq!(failed, 1),
        // One call at a time: each call is its own wave.
        "blocking" => assert_eq!(failed, n),
        // Calls that started after an attempt failed make a new wave; never one per call.
        _ => assert!((1..n).contains(&failed), "{failed} attempts for {n} calls"),
    }
}

/// A failed proactive renewal is not fatal: the call goes on with the old token, and renewal
/// pauses instead of being tried on every call.
fn failed_proactive_renewal_is_not_fatal(make: Make<'_>) {
    // Renewal is due 1 s after the last use (idle limit 9 s minus an 8 s margin), and pauses
    // 2 s after a failure (a quarter of the margin): room for two calls on a loaded machine.
    // The fake's own idle limit (hours) keeps the session alive.
    let mut d = make(Setup {
        idle_limit: Some(Duration::from_secs(9)),
        margin: Some(Duration::from_secs(8)),
        ..Setup::default()
    });
    let d = d.as_mut();
    d.sign_in(pat()).expect("sign in");
    let failing = Fault::Status {
        status: 500,
        retry_after: None,
        body: None,
    };
    d.fake()
        .control()
        .add_fault(FaultRule::exact(SIGNIN, failing).once());
    d.pass(Duration::from_millis(1_200));
    assert_eq!(d.get("workbooks").map_err(|e| e.text), Ok(200));
    assert_eq!(d.get("workbooks").map_err(|e| e.text), Ok(200));
    assert!(
        d.events()
            .iter()
            .any(|e| matches!(e, SessionEvent::RenewalFailed { generation: 1, .. })),
        "{:?}",
        d.events()
    );
    assert_eq!(d.generation(), 1, "the old session goes on");
    assert_eq!(
        sign_in_attempts(d),
        2,
        "paused after the failure, not tried on every call"
    );
}

/// A proactive renewal throttled beyond the cap is not fatal either, and it is not tried again
/// before the server said to (no hammering a server that asked for an hour).
fn proactive_renewal_throttled_beyond_the_cap_pauses(make: Make<'_>) {
    let mut d = make(Setup {
        idle_limit: Some(Duration::from_secs(3)),
        margin: Some(Duration::from_secs(2)),
        ..Setup::default()
    });
    let d = d.as_mut();
    d.sign_in(pat()).expect("sign in");
    d.fake()
        .control()
        .add_fault(FaultRule::exact(SIGNIN, throttle(429, "3600")));
    d.pass(Duration::from_millis(1_200));
    for _ in 0..3 {
        assert_eq!(d.get("workbooks").map_err(|e| e.text), Ok(200));
    }
    assert_eq!(
        sign_in_attempts(d),
        2,
        "one throttled renewal, then a pause"
    );
    assert_eq!(d.generation(), 1);
    assert!(
        d.events().iter().any(
            |e| matches!(e, SessionEvent::RenewalFailed { error, .. } if error.contains("3600"))
        ),
        "{:?}",
        d.events()
    );
}

/// Credentials about to expire (a PAT whose `estimatedTimeToExpiration` is inside the expiry
/// margin when it signs in) do not sign in again on every call: a new session would be due too.
fn credentials_about_to_expire_do_not_sign_in_on_every_call(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    expire_user_pat_in(d.fake(), 30);
    d.sign_in(pat()).expect("sign in");
    for _ in 0..3 {
        assert_eq!(d.get("workbooks").map_err(|e| e.text), Ok(200));
    }
    assert_eq!(
        d.whoami().map_err(|e| e.text),
        Ok(sample::USER_NAME.to_owned())
    );
    assert_eq!(sign_in_attempts(d), 1);
    assert_eq!(d.generation(), 1);
}

/// A sign-in whose PAT expires within two weeks (Tableau's `estimatedTimeToExpiration`) is
/// reported as a warning, once per sign-in; one with a year left is not.
fn credentials_close_to_their_end_are_warned_about(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    let warnings = |d: &dyn Driver| {
        d.events()
            .into_iter()
            .filter_map(|e| match e {
                SessionEvent::CredentialsExpiring {
                    generation,
                    remaining,
                } => Some((generation, remaining)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    const DAY: u64 = 24 * 3600;
    expire_user_pat_in(d.fake(), 300 * DAY);
    d.sign_in(pat()).expect("sign in");
    assert_eq!(warnings(d), vec![]);

    expire_user_pat_in(d.fake(), 3 * DAY);
    d.sign_in(pat()).expect("sign in again");
    let seen = warnings(d);
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (generation, remaining) = seen[0];
    assert_eq!(generation, 2);
    // The estimate has a resolution of a minute.
    assert!(
        remaining <= Duration::from_secs(3 * DAY)
            && remaining >= Duration::from_secs(3 * DAY - 120),
        "{remaining:?}"
    );
    assert_eq!(d.get("workbooks").map_err(|e| e.text), Ok(200));
    assert_eq!(warnings(d).len(), 1, "calls do not warn, sign-ins do");
}

/// A connected app mints a fresh JWT for every sign-in the policy makes (the fake refuses a
/// `jti` it has seen), and the re-sign-in after a rejection goes through.
fn connected_app_signs_in_again_with_a_fresh_jwt(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    let app = sign_in_as(d.fake(), Kind::ConnectedApp);
    d.sign_in(app).expect("sign in");
    d.fake().control().drop_sessions(None);
    assert_eq!(d.get("workbooks").map_err(|e| e.text), Ok(200));
    let bodies: Vec<String> = d
        .fake()
        .request_log()
        .iter()
        .filter(|r| r.is_signin() && r.status == Some(200))
        .map(|r| r.body_str().into_owned())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert_ne!(bodies[0], bodies[1], "two different JWTs");
}

// ----- a fleet: processes sharing one session through Redis ----------------------------------

/// A real Redis, and the setup of a driver sharing the session through it.
fn fleet() -> (RedisServer, Setup) {
    let redis = RedisServer::start();
    let setup = Setup {
        redis_port: Some(redis.port()),
        ..Setup::default()
    };
    (redis, setup)
}

fn adopted(d: &dyn Driver) -> usize {
    d.events()
        .iter()
        .filter(|e| matches!(e, SessionEvent::Adopted { .. }))
        .count()
}

/// A second process adopts the first one's session: one sign-in for both, and a sign-out
/// leaves the fleet's session signed in.
fn a_fleet_shares_one_session(make: Make<'_>) {
    let (_redis, setup) = fleet();
    let mut a = make(setup);
    let mut b = a.peer(setup);
    a.sign_in(pat()).expect("a signs in");
    b.sign_in(pat()).expect("b adopts");
    assert_eq!(sign_ins(a.as_ref()), 1, "one sign-in for the fleet");
    assert_eq!(adopted(b.as_ref()), 1);
    assert_eq!(b.get("workbooks").map_err(|e| e.text), Ok(200));
    assert_eq!(b.sign_out().map_err(|e| e.text), Ok(SignOut::LeftToFleet));
    assert_eq!(a.fake().control().live_sessions(), 1, "left signed in");
    assert_eq!(a.get("workbooks").map_err(|e| e.text), Ok(200));
}

/// A session the server dropped is replaced once for the whole fleet: the first process to
/// see the rejection signs in and publishes, the other adopts on its own rejection.
fn a_fleet_replaces_a_rejected_session_once(make: Make<'_>) {
    let (_redis, setup) = fleet();
    let mut a = make(setup);
    let mut b = a.peer(setup);
    a.sign_in(pat()).expect("a signs in");
    b.sign_in(pat()).expect("b adopts");
    a.fake().control().drop_sessions(None);
    assert!(
        a.storm(8, "workbooks")
            .iter()
            .all(|r| r.as_ref().ok() == Some(&200))
    );
    assert!(
        b.storm(8, "workbooks")
            .iter()
            .all(|r| r.as_ref().ok() == Some(&200))
    );
    assert_eq!(sign_ins(a.as_ref()), 2, "exactly one more");
    assert_eq!(adopted(b.as_ref()), 2, "b adopted twice, signed in never");
}

/// A store that cannot be reached fails closed: a typed error, and no sign-in that would end
/// the fleet's session.
fn a_fleet_without_its_store_fails_closed(make: Make<'_>) {
    let (mut redis, setup) = fleet();
    let mut a = make(setup);
    redis.stop();
    let e = a.sign_in(pat()).expect_err("no store, no sign-in");
    assert!(e.store_unavailable, "{e:?}");
    assert_eq!(sign_in_attempts(a.as_ref()), 0);
    assert!(
        a.events()
            .iter()
            .any(|e| matches!(e, SessionEvent::StoreUnavailable { .. }))
    );
}

/// A scope (TSC's `with` block) ends its own session, through a re-sign-in inside it too, and
/// never a session the client signed in anew inside it: nothing is sent for that one.
fn a_scope_signs_out_its_own_session_and_no_newer_one(make: Make<'_>) {
    let mut d = make(Setup::default());
    let d = d.as_mut();
    let mut passwords: Vec<SignIn> = (0..4)
        .map(|_| sign_in_as(d.fake(), Kind::Password))
        .collect();
    let mut password = || passwords.pop().expect("enough sign-ins");

    let signed_out = d.scope(password(), Inside::Get("workbooks"));
    assert_eq!(signed_out.map_err(|e| e.text), Ok(SignOut::Confirmed));
    assert_eq!(d.fake().control().live_sessions(), 0);

    let signed_out = d.scope(password(), Inside::LoseSessionThenGet("workbooks"));
    assert_eq!(signed_out.map_err(|e| e.text), Ok(SignOut::Confirmed));
    assert_eq!(sign_ins(d), 3, "one re-sign-in inside the scope");
    assert_eq!(
        d.fake().control().live_sessions(),
        0,
        "the re-signed-in session ended"
    );

    let sign_outs = |d: &dyn Driver| {
        d.fake()
            .request_log()
            .iter()
            .filter(|r| r.path.ends_with("/auth/signout"))
            .count()
    };
    let before = sign_outs(d);
    let signed_out = d.scope(password(), Inside::SignIn(password()));
    assert_eq!(signed_out.map_err(|e| e.text), Ok(SignOut::Replaced));
    assert_eq!(
        sign_outs(d),
        before + 1,
        "only the sign-out before the new sign-in"
    );
    assert_eq!(
        d.fake().control().live_sessions(),
        1,
        "the newer session is kept"
    );
    assert_eq!(
        d.whoami().map_err(|e| e.text),
        Ok(sample::USER_NAME.to_owned())
    );
    assert_eq!(d.sign_out().map_err(|e| e.text), Ok(SignOut::Confirmed));
}

/// Revoking the server administrators' PATs (the documented `DELETE`): a non-administrator's
/// call is the typed `403004` and keeps the session; an administrator's, on a session the server
/// dropped, signs in again once and revokes; from then on the administrator's PAT is refused
/// (`401001`) and the others' are not.
fn revoking_the_admins_pats(make: Make<'_>) {
    const REVOKE: &str = "/api/3.25/auth/serverAdminAccessTokens";
    let mut d = make(Setup::default());
    let d = d.as_mut();
    let admin = |d: &dyn Driver, kind| SignIn::new(credentials(d.fake(), kind, true), "");

    d.sign_in(pat()).expect("jsmith signs in");
    let e = d
        .revoke_admin_tokens()
        .expect_err("jsmith is no administrator");
    assert_eq!(
        (e.code.as_deref(), e.status),
        (Some("403004"), Some(403)),
        "{e:?}"
    );
    assert_eq!(d.generation(), 1, "a 403 is no reason to sign in again");
    assert_eq!(
        d.whoami().map_err(|e| e.text),
        Ok(sample::USER_NAME.to_owned())
    );

    let sign_in = admin(d, Kind::Password);
    d.sign_in(sign_in).expect("the administrator signs in");
    assert_eq!(d.fake().control().drop_sessions(None), 1);
    let before = d.fake().request_log().len();
    d.revoke_admin_tokens()
        .expect("signed in again, then revoked");
    assert_eq!(
        describe(&log_from(d.fake(), before)),
        [
            format!("DELETE {REVOKE} 401"),
            format!("POST {SIGNIN} 200"),
            format!("DELETE {REVOKE} 204"),
        ]
    );
    assert_eq!(d.generation(), 3);

    let mut other = d.peer(Setup::default());
    let e = other
        .sign_in(admin(d, Kind::Pat))
        .expect_err("the administrator's PAT is revoked");
    assert_eq!(e.code.as_deref(), Some("401001"), "{e:?}");
    other.sign_in(pat()).expect("jsmith's PAT still signs in");
}

/// A session saved by one client (its token) is taken up by another (TSC#58, TSC#1246): no
/// sign-in, the same user, its own calls authorized with it; a dead token is a typed `401002`
/// and the client keeps what it had; and a resumed session the server ends is not signed in
/// again without credentials.
fn a_saved_session_is_resumed_by_another_client(make: Make<'_>) {
    let mut a = make(Setup::default());
    a.sign_in(pat()).expect("a signs in");
    let token = a.token().expect("a holds a token");
    let mut b = a.peer(Setup::default());
    let before = sign_ins(a.as_ref());
    assert_eq!(
        b.resume(&token).map_err(|e| e.text),
        Ok(sample::USER_NAME.to_owned())
    );
    assert_eq!(sign_ins(b.as_ref()), before, "no sign-in");
    assert_eq!(b.token().as_deref(), Some(token.as_str()));
    assert_eq!(b.generation(), 1);
    assert!(
        b.events()
            .iter()
            .any(|e| matches!(e, SessionEvent::Resumed { generation: 1 }))
    );
    assert_eq!(b.get("workbooks").map_err(|e| e.text), Ok(200));
    let last = b.fake().request_log().pop().expect("the call");
    assert_eq!(last.token(), Some(token.as_str()));

    // A token the server no longer knows: 401002, and b keeps its session.
    assert_eq!(a.sign_out().map_err(|e| e.text), Ok(SignOut::Confirmed));
    let e = b.resume(&token).expect_err("signed out by a");
    assert_eq!(e.code.as_deref(), Some("401002"), "{e:?}");
    assert_eq!(b.token().as_deref(), Some(token.as_str()));
    assert_eq!(b.generation(), 1);
    // Without credentials, the ended session is an error, never a sign-in.
    let e = b
        .get("workbooks")
        .expect_err("no credentials to sign in again with");
    assert!(
        e.ended.is_some() || e.code.as_deref() == Some("401002"),
        "{e:?}"
    );
    assert_eq!(sign_ins(b.as_ref()), before);
}

macro_rules! scenarios {
    ($($scenario:ident),* $(,)?) => {
        mod sim {
            $(#[test] fn $scenario() { super::$scenario(&|s| Box::new(super::SimDriver::new(s))); })*
        }
        mod blocking {
            $(#[test] fn $scenario() { super::$scenario(&|s| Box::new(super::Blocking::new(s))); })*
        }
        mod asynchronous {
            $(#[test] fn $scenario() { super::$scenario(&|s| Box::new(super::Async::new(s, super::Via::Client))); })*
        }
        mod tower_layer {
            $(#[test] fn $scenario() { super::$scenario(&|s| Box::new(super::Async::new(s, super::Via::Tower))); })*
        }
        mod reqwest_middleware {
            $(#[test] fn $scenario() { super::$scenario(&|s| Box::new(super::Async::new(s, super::Via::Reqwest))); })*
        }
    };
}

scenarios!(
    throttled_sign_in_waits_and_succeeds,
    an_oversized_response_head_is_refused,
    throttled_sign_out_is_retried,
    sign_out_throttled_beyond_the_cap_fails,
    throttled_switch_site_is_retried_and_the_site_kept,
    throttled_current_session_is_retried,
    throttle_beyond_the_cap_is_a_typed_error,
    rejected_session_is_renewed_once,
    rejected_replay_ends_the_session,
    storm_of_rejections_signs_in_once,
    failed_sign_in_is_shared_by_the_storm,
    failed_proactive_renewal_is_not_fatal,
    proactive_renewal_throttled_beyond_the_cap_pauses,
    credentials_about_to_expire_do_not_sign_in_on_every_call,
    credentials_close_to_their_end_are_warned_about,
    connected_app_signs_in_again_with_a_fresh_jwt,
    a_fleet_shares_one_session,
    a_fleet_replaces_a_rejected_session_once,
    a_fleet_without_its_store_fails_closed,
    a_scope_signs_out_its_own_session_and_no_newer_one,
    revoking_the_admins_pats,
    a_saved_session_is_resumed_by_another_client,
);
