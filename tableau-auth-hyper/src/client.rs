//! The async client: one session shared by every clone, driven over hyper.

use std::pin::pin;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use tableau_auth_proto::http::request::Parts;
use tableau_auth_proto::http::{Request, Response};
use tableau_auth_proto::secret::AuthToken;
use tableau_auth_proto::{
    ApiVersion, Call, Config, CurrentSession, Event, Format, Intent, Outcome, Policy, ServerInfo,
    Session, SignIn, SignOut, SignedIn, SiteContentUrl, Snapshot, TicketRequest, TrustedTicket,
};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::error::{Error, Limits};
use crate::event::{EventCallback, SessionEvent};
use crate::relay::{Exchanger, Relay, Relayed};
use crate::shared::{NoRequest, Shared, unexpected};
use crate::tls::TlsOptions;
use crate::transport::{HyperClient, Proxy, Transport};

/// No query parameters (for the URL builders without `_with`).
const NO_QUERY: [(&str, &str); 0] = [];

/// Builder of a [`Client`]; every setting has a safe default.
#[must_use]
pub struct ClientBuilder {
    server: String,
    format: Format,
    api_version: Option<ApiVersion>,
    user_agent: Option<String>,
    tls: TlsOptions,
    proxy: Option<Result<Proxy, String>>,
    connect_timeout: Duration,
    read_timeout: Duration,
    exchange_timeout: Duration,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    max_body: usize,
    max_retries: u32,
    max_retry_wait: Duration,
    idle_limit: Duration,
    expiry_margin: Duration,
    credentials_warning: Option<Duration>,
    lifetime_limit: Option<Duration>,
    sign_in: Option<SignIn>,
    reauthenticate: bool,
    renew_before_expiry: bool,
    on_event: Option<EventCallback>,
    #[cfg(feature = "redis")]
    store: Option<(
        tableau_auth_redis::RedisStore,
        tableau_auth_proto::FleetConfig,
    )>,
    exchanger: Option<Arc<dyn Exchanger>>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("server", &self.server)
            .field("format", &self.format)
            .field("tls", &self.tls)
            .field("proxy", &self.proxy)
            .field("exchange_timeout", &self.exchange_timeout)
            .field("max_body", &self.max_body)
            .field("sign_in", &self.sign_in)
            .field("on_event", &self.on_event.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// XML (default) or JSON bodies.
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Uses this REST API version instead of asking the server.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = Some(version);
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Also trusts the CA certificates in this PEM (for a server with a private CA). They are
    /// **added** to the built-in Mozilla roots (`webpki-roots`), unlike the ureq adapter where
    /// they replace them; call it several times for several files, and turn the built-in roots
    /// off with [`ClientBuilder::built_in_roots`] to trust only your CAs.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca_pem.push(pem.into());
        self
    }

    /// Whether the built-in Mozilla roots are trusted (default `true`).
    pub fn built_in_roots(mut self, trust: bool) -> Self {
        self.tls.built_in_roots = trust;
        self
    }

    /// Presents a client certificate (PEM chain and PEM private key).
    pub fn client_cert_pem(mut self, chain: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.tls.client_cert_pem = Some((chain.into(), Zeroizing::new(key.into())));
        self
    }

    /// Accepts any certificate, expired, self-signed or for another host. **Dangerous**: a man
    /// in the middle then sees every password and token. For tests against a throwaway server
    /// only.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.tls.danger_accept_invalid_certs = accept;
        self
    }

    /// Connects through this HTTP proxy, `http://host:port` (the port defaults to 80), with
    /// optional credentials: `http://user:password@host:port` (percent-encode special
    /// characters) is sent as `Proxy-Authorization: Basic` on every `CONNECT`.
    ///
    /// Every connection — `https://` and `http://` servers alike — is an HTTP `CONNECT` tunnel
    /// to the server's host and port (hyper-util's `Tunnel`): for `https://` the TLS handshake
    /// and everything after it run end to end with the server through the tunnel, so the proxy
    /// sees the host and port, never a password, token or JWT. The proxy itself is reached over
    /// plain TCP (no `https://` or `socks5://` proxy), and the connect timeout covers the TCP
    /// connection to it and the `CONNECT` exchange together. A proxy that refuses the tunnel
    /// (`407`, `403`, closing) is an [`Error::Transport`]; a proxy that does not answer in time
    /// is an [`Error::Timeout`] (`connect`).
    ///
    /// An unusable URL makes [`ClientBuilder::build`] fail with [`Error::Config`], whose message
    /// never repeats the URL. The credentials are never shown by `Debug`, in errors or in
    /// `tracing` events.
    ///
    /// ```no_run
    /// use tableau_auth_hyper::Client;
    ///
    /// # fn run() -> Result<(), tableau_auth_hyper::Error> {
    /// let proxy = std::env::var("TABLEAU_PROXY").unwrap_or_else(|_| "http://proxy.corp:3128".into());
    /// let client = Client::builder("https://tableau.example.com")
    ///     .proxy(proxy) // e.g. "http://svc-etl:s3cr%40t@proxy.corp:3128"
    ///     .build()?;
    /// # drop(client); Ok(()) }
    /// ```
    pub fn proxy(mut self, url: impl AsRef<str>) -> Self {
        self.proxy = Some(Proxy::parse(url.as_ref()));
        self
    }

    /// The limit on connecting (TCP, on the connector; with a proxy, the TCP connection to the
    /// proxy and its `CONNECT` exchange); default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The limit on waiting for the response head (TLS handshake included); default 30 s.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The limit on one whole request/response, body included; default 60 s.
    pub fn exchange_timeout(mut self, timeout: Duration) -> Self {
        self.exchange_timeout = timeout;
        self
    }

    /// How long an idle pooled connection is kept; default 90 s.
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// How many idle connections per host the pool keeps (default: no limit; 0 turns pooling
    /// off).
    pub fn pool_max_idle_per_host(mut self, connections: usize) -> Self {
        self.pool_max_idle_per_host = connections;
        self
    }

    /// The largest response body read (default 1 MiB, [`Config::DEFAULT_MAX_BODY`]); a larger
    /// one is an error ([`tableau_auth_proto::Error::TooLarge`]), refused unread when its
    /// `Content-Length` says so. Applies to [`Client::send`] too.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The core's caps on waiting out a throttled (429) or unavailable (503) server: each call
    /// (a sign-in, [`Client::send`], [`Client::current_session`], a request through the tower
    /// layer, …) retries at most `max_retries` times (default 3) and waits at most
    /// `max_total_wait` in all (default 60 s). A wait beyond them ends the call with the core's
    /// [`tableau_auth_proto::Error::Throttled`], at once (the tower layer hands the last
    /// response back instead).
    pub fn retries(mut self, max_retries: u32, max_total_wait: Duration) -> Self {
        self.max_retries = max_retries;
        self.max_retry_wait = max_total_wait;
        self
    }

    /// The server's session idle limit (default: the core's, 120 minutes). Renewal and the
    /// superseded/expired heuristic count on it.
    pub fn idle_limit(mut self, limit: Duration) -> Self {
        self.idle_limit = limit;
        self
    }

    /// How close to the end of the credentials' lifetime (a PAT's, as Tableau estimates it at
    /// sign-in) a sign-in is reported as a warning event, `CredentialsExpiring` (default: the
    /// core's, 14 days; `Duration::ZERO` never warns).
    pub fn credentials_warning(mut self, before: Duration) -> Self {
        self.credentials_warning = Some(before);
        self
    }

    /// How long before the estimated end of the session the client signs in again (default:
    /// the core's, 60 s).
    pub fn expiry_margin(mut self, margin: Duration) -> Self {
        self.expiry_margin = margin;
        self
    }

    /// The server's absolute session limit, when it has one.
    pub fn lifetime_limit(mut self, limit: Duration) -> Self {
        self.lifetime_limit = Some(limit);
        self
    }

    /// Credentials to sign in with on first use (the first [`Client::send`] or
    /// [`Client::current_or_sign_in`]), single-flight across tasks, and to renew with. A
    /// ready-made JWT usually signs in only once (its `jti` is single-use): to renew, use a
    /// connected app ([`tableau_auth_proto::Credentials::ConnectedApp`]: a fresh JWT is minted
    /// for every sign-in), a PAT or a password.
    pub fn sign_in(mut self, sign_in: SignIn) -> Self {
        self.sign_in = Some(sign_in);
        self
    }

    /// Whether a rejected session (`401002` and kin) is replaced by signing in again once and
    /// replaying the request once (default `true`). When off, the rejection is returned as the
    /// core's [`tableau_auth_proto::Error::SessionEnded`].
    pub fn reauthenticate(mut self, on: bool) -> Self {
        self.reauthenticate = on;
        self
    }

    /// Whether the client signs in again before sending when the session is about to expire
    /// (the core's [`Policy::poll_timeout`]; default `true`).
    pub fn renew_before_expiry(mut self, on: bool) -> Self {
        self.renew_before_expiry = on;
        self
    }

    /// Shares the session with every process that uses the same store and credentials (a
    /// fleet of workers with one PAT): the first to need a session signs in and publishes it,
    /// the others adopt it; a rejected or expiring session is replaced once for the whole fleet.
    /// The hot path never touches the store. `fleet` tunes the sign-in lock and what happens
    /// when the store is down (see [`tableau_auth_proto::FleetConfig`]).
    ///
    /// ```no_run
    /// use tableau_auth_hyper::Client;
    /// use tableau_auth_proto::{Credentials, FleetConfig, SignIn};
    /// use tableau_auth_redis::RedisStore;
    ///
    /// let client = Client::builder("https://tableau.example.com")
    ///     .sign_in(SignIn::new(Credentials::personal_access_token("etl", "s3cret"), "Finance"))
    ///     .session_store(RedisStore::open("redis://127.0.0.1:6379")?, FleetConfig::new())
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "redis")]
    pub fn session_store(
        mut self,
        store: tableau_auth_redis::RedisStore,
        fleet: tableau_auth_proto::FleetConfig,
    ) -> Self {
        self.store = Some((store, fleet));
        self
    }

    /// Sends the session's own exchanges (sign-in, sign-out, switch site, the version probe)
    /// through `exchanger` instead of this client's hyper transport: e.g. over the caller's own
    /// HTTP client, with its TLS trust and proxy (see [`crate::relay`]). The transport options
    /// of this builder then only serve [`Client::hyper_client`].
    pub fn exchanger(mut self, exchanger: impl Exchanger) -> Self {
        self.exchanger = Some(Arc::new(exchanger));
        self
    }

    /// Receives every [`SessionEvent`] (in addition to `tracing`), in order, on a task of the
    /// client (usually the one that caused it). It may use the client; it should be quick.
    pub fn on_event(mut self, callback: impl Fn(&SessionEvent) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(callback));
        self
    }

    /// Builds the client. Nothing is sent yet; no runtime is needed until the first request.
    pub fn build(self) -> Result<Client, Error> {
        let mut config = Config::builder(self.server)
            .format(self.format)
            .max_body(self.max_body)
            .idle_limit(self.idle_limit)
            .expiry_margin(self.expiry_margin)
            .retries(self.max_retries, self.max_retry_wait)
            .reauthenticate(self.reauthenticate)
            .renew_before_expiry(self.renew_before_expiry);
        if let Some(before) = self.credentials_warning {
            config = config.credentials_warning(before);
        }
        if let Some(v) = self.api_version {
            config = config.api_version(v);
        }
        if let Some(ua) = &self.user_agent {
            config = config.user_agent(ua.clone());
        }
        if let Some(limit) = self.lifetime_limit {
            config = config.lifetime_limit(limit);
        }
        let config = config
            .build()
            .map_err(|e| Error::Tableau(tableau_auth_proto::Error::Config(e)))?;
        let limits = Limits {
            connect: self.connect_timeout,
            read: self.read_timeout,
            exchange: self.exchange_timeout,
            max_body: self.max_body,
        };
        let proxy = self
            .proxy
            .transpose()
            .map_err(|e| Error::Config(format!("proxy: {e}")))?;
        let transport = Transport::with_proxy(
            &self.tls,
            proxy.as_ref(),
            limits,
            self.pool_idle_timeout,
            self.pool_max_idle_per_host,
        )?;
        let mut policy = Policy::new(config, Instant::now());
        policy.set_credentials(self.sign_in);
        #[cfg(feature = "redis")]
        let store = self.store.map(|(store, fleet)| {
            policy.set_fleet(Some(fleet));
            store
        });
        #[cfg(not(feature = "redis"))]
        let store = None;
        Ok(Client {
            shared: Arc::new(Shared::new(
                policy,
                transport,
                self.on_event,
                store,
                self.exchanger,
            )),
        })
    }
}

/// An async Tableau client. Cheap to clone: **clones share one session** (one token, one
/// connection pool, one single-flight sign-in, one throttling window), so hand a clone to
/// every task.
///
/// ```no_run
/// use tableau_auth_hyper::{Client, http, proto::{Credentials, SignIn}};
///
/// # async fn run() -> Result<(), tableau_auth_hyper::Error> {
/// let client = Client::builder("https://tableau.example.com").build()?;
/// let pat = Credentials::personal_access_token("etl", std::env::var("TABLEAU_PAT_SECRET").unwrap_or_default());
/// client.sign_in(SignIn::new(pat, "Finance")).await?;
/// let url = client.site_url("workbooks")?;
/// let response = client.send(http::Request::get(url).body(Vec::new()).unwrap()).await?;
/// println!("{}", String::from_utf8_lossy(response.body()));
/// client.sign_out().await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    /// Starts building a client for the server at `server` (`https://host[:port]`).
    pub fn builder(server: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            server: server.into(),
            format: Format::Xml,
            api_version: None,
            user_agent: None,
            tls: TlsOptions::default(),
            proxy: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            exchange_timeout: Duration::from_secs(60),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: usize::MAX,
            max_body: Config::DEFAULT_MAX_BODY,
            max_retries: 3,
            max_retry_wait: Duration::from_secs(60),
            idle_limit: Config::DEFAULT_IDLE_LIMIT,
            expiry_margin: Config::DEFAULT_EXPIRY_MARGIN,
            credentials_warning: None,
            lifetime_limit: None,
            sign_in: None,
            reauthenticate: true,
            renew_before_expiry: true,
            on_event: None,
            #[cfg(feature = "redis")]
            store: None,
            exchanger: None,
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Runs `call` without a request of the caller's, to its outcome.
    async fn outcome(&self, call: Call) -> Result<Outcome, Error> {
        // Boxed: the driver's future is large, and the calls that need it are rare.
        Box::pin(self.shared.run(call, &mut NoRequest, None))
            .await?
            .outcome()
    }

    /// Runs one intent of the core (kept alive like a request when it needs the session).
    async fn intent(&self, intent: Intent) -> Result<Event, Error> {
        match self.outcome(Call::Intent(intent)).await? {
            Outcome::Event(event) => Ok(event),
            other => Err(unexpected(&other)),
        }
    }

    /// A live session, from [`Call::Ready`] or [`Call::Renew`].
    async fn session(&self, call: Call) -> Result<Arc<Snapshot>, Error> {
        match self.outcome(call).await? {
            Outcome::Ready(snapshot) => Ok(snapshot),
            other => Err(unexpected(&other)),
        }
    }

    /// The current session snapshot (lock-free), or `None` when not signed in.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.shared.current()
    }

    /// The current snapshot, signing in first (single-flight) with the builder's credentials
    /// when there is none, renewing first when it is about to expire, and waiting first while
    /// the server throttles. Lock-free when none of that is needed.
    pub async fn current_or_sign_in(&self) -> Result<Arc<Snapshot>, Error> {
        if let Some(grant) = self.shared.grant() {
            return Ok(grant.snapshot().clone());
        }
        self.session(Call::Ready).await
    }

    /// The generation of the current session (0: never signed in or signed out).
    pub fn generation(&self) -> u64 {
        self.current().map_or(0, |c| c.generation())
    }

    /// Whether a session is held.
    pub fn is_signed_in(&self) -> bool {
        self.current().is_some()
    }

    /// `{base}/api/{version}/{path}` of the current session.
    pub fn api_url(&self, path: &str) -> Result<tableau_auth_proto::http::Uri, Error> {
        self.api_url_with(path, NO_QUERY)
    }

    /// `{base}/api/{version}/sites/{site-luid}/{path}` of the current session.
    pub fn site_url(&self, path: &str) -> Result<tableau_auth_proto::http::Uri, Error> {
        self.site_url_with(path, NO_QUERY)
    }

    /// [`Client::api_url`] with query parameters, percent-encoded
    /// ([`tableau_auth_proto::Session::api_url_with`]).
    pub fn api_url_with<I, K, V>(
        &self,
        path: &str,
        query: I,
    ) -> Result<tableau_auth_proto::http::Uri, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let url = match self.current() {
            Some(c) => c.api_url_with(path, query),
            None => self.shared.with_session(|s| s.api_url_with(path, query)),
        };
        Ok(url?)
    }

    /// [`Client::site_url`] with query parameters, percent-encoded: e.g.
    /// `site_url_with("workbooks", [("filter", "name:eq:Regional Sales")])`.
    pub fn site_url_with<I, K, V>(
        &self,
        path: &str,
        query: I,
    ) -> Result<tableau_auth_proto::http::Uri, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let current = self.current().ok_or_else(Error::not_signed_in)?;
        Ok(current.site_url_with(path, query)?)
    }

    /// Runs `f` on the core session (read-only). Takes a short lock: do not hold on to it.
    pub fn with_session<R>(&self, f: impl FnOnce(&Session) -> R) -> R {
        self.shared.with_session(f)
    }

    /// The pooled hyper client this client sends with (same TLS settings and pool), for your
    /// own requests, for instance under [`crate::TableauAuthLayer`].
    pub fn hyper_client(&self) -> HyperClient {
        self.shared.transport.client.clone()
    }

    /// Asks the server its versions (anonymous); the session adopts its API version.
    pub async fn server_info(&self) -> Result<ServerInfo, Error> {
        match self.intent(Intent::ServerInfo).await? {
            Event::ServerInfo(info) => Ok(info),
            other => Err(unexpected(&other)),
        }
    }

    /// Signs in and keeps the sign-in so that the client can sign in again when the session
    /// expires or is superseded (a connected app then mints a fresh JWT). A session the client
    /// already holds is signed out first. Every clone sees the new session at once.
    pub async fn sign_in(&self, sign_in: SignIn) -> Result<SignedIn, Error> {
        match self.intent(Intent::SignIn(sign_in)).await? {
            Event::SignedIn(info) => Ok(info),
            other => Err(unexpected(&other)),
        }
    }

    /// Signs in again now with the stored credentials (single-flight: tasks calling it together
    /// share one sign-in) and returns the new snapshot.
    pub async fn renew(&self) -> Result<Arc<Snapshot>, Error> {
        self.session(Call::Renew).await
    }

    /// Ends a fleet's shared session for every process ([`ClientBuilder::session_store`]):
    /// signs it out and retires the store's record, so that the next use anywhere signs in
    /// anew. Without a store, the same as [`Client::sign_out`] (a fleet's
    /// [`Client::sign_out`] leaves the session signed in for the other processes).
    pub async fn retire(&self) -> Result<SignOut, Error> {
        match self.outcome(Call::Retire).await? {
            Outcome::Event(Event::SignedOut(outcome)) => Ok(outcome),
            other => Err(unexpected(&other)),
        }
    }

    /// Signs out and forgets the credentials. A session the server already dropped is
    /// `Ok(SignOut::AlreadyGone)`, not an error; without a session nothing is sent.
    pub async fn sign_out(&self) -> Result<SignOut, Error> {
        match self.intent(Intent::SignOut).await? {
            Event::SignedOut(outcome) => Ok(outcome),
            other => Err(unexpected(&other)),
        }
    }

    /// Signs out a token saved elsewhere (by another process).
    pub async fn sign_out_token(&self, token: AuthToken) -> Result<SignOut, Error> {
        match self.intent(Intent::SignOutToken(token)).await? {
            Event::SignedOut(outcome) => Ok(outcome),
            other => Err(unexpected(&other)),
        }
    }

    /// Moves the session to another site. `Ok(None)`: it was already there (`403070`). Later
    /// sign-ins with the kept credentials land on the new site.
    pub async fn switch_site(
        &self,
        site: impl Into<SiteContentUrl>,
    ) -> Result<Option<SignedIn>, Error> {
        match self.intent(Intent::SwitchSite(site.into())).await? {
            Event::SiteSwitched(info) => Ok(Some(info)),
            Event::SiteUnchanged => Ok(None),
            other => Err(unexpected(&other)),
        }
    }

    /// Asks Tableau Server for a trusted ticket.
    pub async fn trusted_ticket(&self, request: TicketRequest) -> Result<TrustedTicket, Error> {
        match self.intent(Intent::TrustedTicket(request)).await? {
            Event::TicketIssued(ticket) => Ok(ticket),
            other => Err(unexpected(&other)),
        }
    }

    /// Takes up a session signed in elsewhere, from its token (saved by another process, an
    /// earlier run, a parent script: TSC#58, TSC#1246): `GET sessions/current` with it, after
    /// the anonymous version probe when needed. Alive, it becomes the session every clone shares
    /// — who and where it is comes back. Another session held before is signed out first, as
    /// before a new sign-in (the same token is kept as it is); refused (a `401002`: expired or
    /// signed out), a typed error. Not with a fleet's session store (its session comes from the
    /// store).
    ///
    /// A resumed session is kept alive like any other; when the server ends it, the client signs
    /// in again only if the builder gave it credentials.
    pub async fn resume(&self, token: AuthToken) -> Result<CurrentSession, Error> {
        match self.intent(Intent::Resume(token)).await? {
            Event::Resumed(me) => Ok(me),
            other => Err(unexpected(&other)),
        }
    }

    /// Revokes every personal access token created by a server administrator (`DELETE
    /// auth/serverAdminAccessTokens`, API 3.11+, Tableau Server only; TSC's
    /// `revoke_all_server_admin_tokens`). The caller must be a server administrator: otherwise
    /// [`Error::Tableau`] with Tableau's `403004` ([`Error::code`]). Below API 3.11, or on
    /// Tableau Cloud, it is refused before anything is sent. The session itself stays signed
    /// in.
    ///
    /// Kept alive as [`Client::current_session`] is: it signs in first when there is no
    /// session and the builder has credentials, and on `401002` signs in again once —
    /// single-flight — and asks once more.
    pub async fn revoke_server_admin_tokens(&self) -> Result<(), Error> {
        match self.intent(Intent::RevokeServerAdminTokens).await? {
            Event::ServerAdminTokensRevoked => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Who and where the session is (`GET sessions/current`, API 3.1+): the user's and the
    /// site's names, and proof that the token is alive.
    ///
    /// Like [`Client::send`], it signs in first when there is no session and the builder has
    /// credentials, renews first when the session is about to expire, waits out a throttled
    /// server (429/503, within [`ClientBuilder::retries`]), and on `401002` (and kin) signs in
    /// again once — single-flight — and asks once more; a second rejection is the core's
    /// [`tableau_auth_proto::Error::SessionEnded`].
    pub async fn current_session(&self) -> Result<CurrentSession, Error> {
        match self.intent(Intent::CurrentSession).await? {
            Event::CurrentSession(me) => Ok(me),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends the caller's own REST request with `X-Tableau-Auth`, from any task.
    ///
    /// The common case takes no lock: the published snapshot grants the request (not
    /// throttled, not due for renewal), it is authorized and sent, and a 2xx answer is
    /// returned as it came. Otherwise the core's policy decides, and this call follows it:
    ///
    /// * it waits first while the server throttles (one window shared by all tasks);
    /// * it signs in first when there is no session and the builder has credentials, and
    ///   renews first when the session is about to expire — single-flight (a failed renewal
    ///   is not fatal: the old token is used);
    /// * on `401002` (and kin) it signs in again once — single-flight — and replays once; a
    ///   second rejection is the core's [`tableau_auth_proto::Error::SessionEnded`];
    /// * on 429/503 it waits (`Retry-After`, seconds or HTTP date, plus jitter) and retries,
    ///   within [`ClientBuilder::retries`] (beyond: [`tableau_auth_proto::Error::Throttled`]);
    /// * any other failure is a typed error.
    pub async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let (parts, body) = request.into_parts();
        let mut own = Sending {
            transport: &self.shared.transport,
            parts,
            body: Bytes::from(body),
        };
        self.drive(Call::Request, &mut own).await
    }

    /// Relays a request passing through a middleware of another HTTP stack (see
    /// [`crate::relay`]): like [`Client::send`], but a failure the session policy gives up on
    /// is handed back as the server's answer (a 401, the last 429, a 500, …), except a session
    /// that stays rejected after the replay ([`tableau_auth_proto::Error::SessionEnded`]). The
    /// request must be for the session's server ([`Client::origin`]).
    pub async fn relay<R: Relay>(&self, relay: &mut R) -> Result<R::Reply, R::Error> {
        self.drive(Call::Forward, relay).await
    }

    /// The fast path (the published session's grant), else the call through the policy.
    async fn drive<R: Relay>(&self, call: Call, own: &mut R) -> Result<R::Reply, R::Error> {
        let first = match self.shared.grant() {
            Some(grant) => {
                let mut request = own.request()?;
                own.authorize(&mut request, &grant)?;
                let response = own.send(request).await?;
                if grant.completes(response.status()) {
                    return Ok(response);
                }
                Some((grant, response))
            }
            None => None,
        };
        Ok(Box::pin(self.shared.run(call, own, first))
            .await?
            .answer()?)
    }

    /// The server the session's token goes to (scheme, host and port): requests for it are
    /// authorized, any other is refused by [`Client::send`] (a middleware passes those through
    /// untouched).
    pub fn origin(&self) -> tableau_auth_proto::Origin {
        self.shared.with_session(|s| s.origin())
    }

    /// Whether a URL with these parts goes to the session's server ([`Client::origin`],
    /// [`tableau_auth_proto::Origin::matches_parts`]), without a lock once a session is
    /// published: what a middleware asks of every request.
    pub fn serves_parts(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        self.shared
            .serves_parts(scheme, host, port)
            .unwrap_or_else(|| self.origin().matches_parts(scheme, host, port))
    }

    /// Starts a background task that renews the session shortly before it would expire (the
    /// core's [`Policy::poll_timeout`], counted from the last successful response), so that a
    /// service idle for longer than the server's idle limit finds a live session on its next
    /// request. A failed renewal is reported ([`SessionEvent::RenewalFailed`]) and tried again
    /// after a pause. The task stops when the returned guard is dropped, or when every clone of
    /// the client is. Needs a tokio runtime.
    pub fn spawn_renewal(&self) -> Result<RenewalTask, Error> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Config("spawn_renewal needs a tokio runtime".to_owned()))?;
        let weak = Arc::downgrade(&self.shared);
        let published = self.shared.published.clone();
        Ok(RenewalTask {
            handle: runtime.spawn(renewal_loop(weak, published)),
        })
    }
}

/// The caller's request of [`Client::send`], sent over the client's transport.
struct Sending<'a> {
    transport: &'a Transport,
    parts: Parts,
    body: Bytes,
}

impl Relay for Sending<'_> {
    type Request = Request<Full<Bytes>>;
    type Reply = Response<Vec<u8>>;
    type Error = Error;

    fn request(&mut self) -> Result<Request<Full<Bytes>>, Error> {
        Ok(Request::from_parts(
            self.parts.clone(),
            Full::new(self.body.clone()),
        ))
    }

    fn authorize(
        &self,
        request: &mut Request<Full<Bytes>>,
        grant: &tableau_auth_proto::Grant,
    ) -> Result<(), Error> {
        Ok(grant.authorize(request)?)
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Self::Reply, Error> {
        self.transport.send_full(request).await
    }
}

/// The background renewal task of [`Client::spawn_renewal`]; dropping it stops the task.
#[derive(Debug)]
#[must_use = "dropping the RenewalTask stops the renewal"]
pub struct RenewalTask {
    handle: JoinHandle<()>,
}

impl RenewalTask {
    /// Whether the task has stopped (every clone of the client was dropped).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl Drop for RenewalTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Sleeps until the policy's renewal instant (or a new session), then runs [`Call::Maintain`].
async fn renewal_loop(weak: Weak<Shared>, published: Arc<Notify>) {
    loop {
        // Register for "a new session was published" before reading the instant.
        let mut renewed = pin!(published.notified());
        renewed.as_mut().enable();
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let due = shared.renewal_due();
        drop(shared);
        let Some(at) = due else {
            renewed.await;
            continue;
        };
        tokio::select! {
            () = &mut renewed => continue,
            () = tokio::time::sleep_until(at.into()) => {}
        }
        let Some(shared) = weak.upgrade() else {
            return;
        };
        // Failures are the policy's to report (events) and to pause after.
        let _ = shared.run(Call::Maintain, &mut NoRequest, None).await;
    }
}
