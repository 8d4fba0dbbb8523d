//! The blocking client: a driver of the core's [`Policy`] over a ureq agent.
//!
//! Every decision about Tableau and the session (throttling, re-authentication, renewal,
//! signing out before a new sign-in, the site kept across re-sign-ins, fresh connected-app
//! JWTs, events) is the core's. This module moves bytes, sleeps when told, reads the clocks
//! and the random generator, and owns TLS and the time limits.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tableau_auth_proto::http::{Method, Request, Response, StatusCode};
use tableau_auth_proto::lifecycle::{EventCallback, SessionEvent};
use tableau_auth_proto::secret::{ExposeSecret, SecretString};
use tableau_auth_proto::{
    Action, ApiVersion, Call, CallId, Config, CurrentSession, Event, Format, Intent, Outcome,
    Policy, ServerInfo, Session, SignIn, SignOut, SignedIn, SiteContentUrl, StoreReply,
    StoreRequest, TicketRequest, TrustedTicket,
};
use ureq::Agent;
use ureq::unversioned::transport::DefaultConnector;
use zeroize::Zeroizing;

use crate::Error;
use crate::entropy::Entropy;
use crate::error::Limits;
use crate::resolver::{CachingResolver, DEFAULT_CACHE_TTL, Lookup};
use crate::tls::TlsOptions;

/// The largest response head the client reads (32 KiB: four times what common servers and
/// proxies allow themselves), ureq's buffer for reading a response (the head must fit, with
/// room to see that it is too large) and its buffer for writing a request.
const MAX_RESPONSE_HEAD: usize = 32 * 1024;
const INPUT_BUFFER: usize = MAX_RESPONSE_HEAD + 8 * 1024;
const OUTPUT_BUFFER: usize = 16 * 1024;

/// A proxy's URL, which may carry a password: shown as scheme, host and port only.
#[derive(Clone)]
struct ProxyUrl(SecretString);

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = self
            .0
            .expose_secret()
            .parse::<tableau_auth_proto::http::Uri>();
        match uri
            .as_ref()
            .ok()
            .and_then(|u| Some((u.scheme_str()?, u.host()?)))
        {
            Some((scheme, host)) => {
                let port = uri.as_ref().ok().and_then(|u| u.port_u16());
                match port {
                    Some(port) => write!(f, "ProxyUrl({scheme}://{host}:{port})"),
                    None => write!(f, "ProxyUrl({scheme}://{host})"),
                }
            }
            None => f.write_str("ProxyUrl(<unreadable>)"),
        }
    }
}

/// The caller's event callback, if any.
#[derive(Clone, Default)]
struct Callback(Option<EventCallback>);

/// What [`ClientBuilder::on_request`] is told of each request the client sent: never a header,
/// a body or a query (which could carry a secret).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SentRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a Method,
    /// The URL's path.
    pub path: &'a str,
    /// The answer's status; `None` when the transport failed.
    pub status: Option<StatusCode>,
    /// From sending to the whole answer read.
    pub elapsed: Duration,
}

/// A callback told of each request ([`ClientBuilder::on_request`]).
type RequestCallback = Arc<dyn Fn(&SentRequest<'_>) + Send + Sync>;

/// The caller's per-request callback, if any.
#[derive(Clone, Default)]
struct RequestHook(Option<RequestCallback>);

impl fmt::Debug for RequestHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

/// Builder of a [`Client`]; every setting has a safe default.
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    server: String,
    format: Format,
    api_version: Option<ApiVersion>,
    user_agent: Option<String>,
    tls: TlsOptions,
    connect_timeout: Duration,
    read_timeout: Duration,
    exchange_timeout: Duration,
    proxy: Option<ProxyUrl>,
    lookup: Lookup,
    dns_cache: Duration,
    max_body: usize,
    max_retries: u32,
    max_retry_wait: Duration,
    idle_limit: Option<Duration>,
    expiry_margin: Option<Duration>,
    credentials_warning: Option<Duration>,
    callback: Callback,
    on_request: RequestHook,
    #[cfg(feature = "redis")]
    store: Option<(
        tableau_auth_redis::RedisStore,
        tableau_auth_proto::FleetConfig,
    )>,
}

impl ClientBuilder {
    /// Shares the session with every process that uses the same store and credentials (cron
    /// jobs, workers and services with one PAT): a process adopts the session another one
    /// published instead of signing in (which would end it for all), and a rejected or expiring
    /// session is replaced once for the whole fleet. [`Client::sign_in`] adopts the fleet's
    /// session when there is one, and [`Client::sign_out`] (or a guard's drop) leaves it
    /// signed in for the others; [`Client::retire`] ends it. Requests never touch the store.
    ///
    /// ```no_run
    /// use tableau_auth_redis::RedisStore;
    /// use tableau_auth_ureq::{Client, proto::{Credentials, FleetConfig, SignIn}};
    ///
    /// let mut client = Client::builder("https://tableau.example.com")
    ///     .session_store(RedisStore::open("redis://127.0.0.1:6379")?, FleetConfig::new())
    ///     .build()?;
    /// client.sign_in(SignIn::new(Credentials::personal_access_token("etl", "s3cret"), ""))?;
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

    /// Receives every [`SessionEvent`] of the client, as the core's [`Policy`] reports them:
    /// sign-ins, renewals (with the reason), sessions the server ended (superseded or expired),
    /// waits on 429/503, failed renewals, sign-outs. Called on the caller's thread, inside the
    /// call that caused the event; no event carries a secret.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicU64, Ordering}};
    /// use tableau_auth_ureq::{Client, proto::lifecycle::SessionEvent};
    ///
    /// let renewals = Arc::new(AtomicU64::new(0));
    /// let seen = renewals.clone();
    /// let client = Client::builder("https://tableau.example.com")
    ///     .on_event(move |event| {
    ///         if let SessionEvent::Renewed { reason, .. } = event {
    ///             eprintln!("session renewed: {}", reason.as_str());
    ///             seen.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     })
    ///     .build()?;
    /// assert_eq!(client.generation(), 0, "no sign-in yet");
    /// # Ok::<(), tableau_auth_ureq::Error>(())
    /// ```
    pub fn on_event(mut self, callback: impl Fn(&SessionEvent) + Send + Sync + 'static) -> Self {
        let callback: EventCallback = Arc::new(callback);
        self.callback = Callback(Some(callback));
        self
    }

    /// Is told of every request the client sends (the core's and the caller's): method, path,
    /// status and time taken, never a header, body or query. For logs such as the CLI's
    /// `--verbose`.
    ///
    /// ```
    /// let client = tableau_auth_ureq::Client::builder("https://tableau.example.com")
    ///     .on_request(|r| eprintln!("{} {} {:?} {} ms", r.method, r.path, r.status, r.elapsed.as_millis()))
    ///     .build()?;
    /// # Ok::<(), tableau_auth_ureq::Error>(())
    /// ```
    pub fn on_request(
        mut self,
        callback: impl Fn(&SentRequest<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.on_request = RequestHook(Some(Arc::new(callback)));
        self
    }

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

    /// Also trusts the roots in this PEM (for a server with a private CA), besides the
    /// built-in Mozilla roots (webpki), as the async client's `ca_pem` does. Call it several
    /// times for several files; turn the built-in roots off with
    /// [`built_in_roots`](Self::built_in_roots) to trust only your CAs. A PEM with no
    /// certificate fails [`build`](Self::build).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca_pem.push(pem.into());
        self
    }

    /// Whether the built-in Mozilla roots are trusted (default `true`). Off, only the
    /// [`ca_pem`](Self::ca_pem) roots are, and [`build`](Self::build) fails without one.
    pub fn built_in_roots(mut self, trust: bool) -> Self {
        self.tls.built_in_roots = trust;
        self
    }

    /// Presents a client certificate (PEM chain and PEM private key).
    pub fn client_cert_pem(mut self, chain: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.tls.client_cert_pem = Some((chain.into(), Zeroizing::new(key.into())));
        self
    }

    /// Accepts any certificate, expired, self-signed or for another host. **Dangerous**: a
    /// man in the middle then sees every password and token. For tests against a throwaway
    /// server only.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.tls.danger_accept_invalid_certs = accept;
        self
    }

    /// The limit on looking the server's name up, and again on connecting to it (TCP, proxy,
    /// TLS); default 10 s. A name lookup that takes longer fails with
    /// [`Error::Timeout`] (phase `resolve`) even if the system resolver never answers.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The limit on waiting for the response headers; default 30 s.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The limit on one whole request/response, body included; default 60 s.
    pub fn exchange_timeout(mut self, timeout: Duration) -> Self {
        self.exchange_timeout = timeout;
        self
    }

    /// Sends everything through this proxy (`http://[user:password@]host:port`, `socks5://…`).
    /// The URL is kept as a secret (it may carry a password): `Debug` shows its scheme, host
    /// and port only, an unusable one is an [`Error::Config`] that does not repeat it, and it
    /// is wiped from memory when the builder is dropped.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(ProxyUrl(SecretString::from(url.into())));
        self
    }

    /// Looks host names up with `lookup` instead of the system resolver (`getaddrinfo`): to pin
    /// a name to an address (like curl's `--resolve`), or to use another naming service. It
    /// gets the host (an IPv6 literal without brackets never reaches it: IP literals are used
    /// as they are) and the port, and returns at least one address.
    ///
    /// It runs as the system lookup does: on a helper thread, at most one at a time for each
    /// host and port, with its answer kept for [`dns_cache`](Self::dns_cache); the request
    /// waits for it no longer than [`connect_timeout`](Self::connect_timeout) (nor the
    /// exchange limit), then fails with [`Error::Timeout`]. A lookup that never returns keeps
    /// its thread, not the caller.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use tableau_auth_ureq::Client;
    ///
    /// let client = Client::builder("https://tableau.example.com")
    ///     .resolver(|host, port| match host {
    ///         "tableau.example.com" => Ok(vec![SocketAddr::from(([10, 0, 0, 7], port))]),
    ///         _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "unknown host")),
    ///     })
    ///     .build()?;
    /// # drop(client);
    /// # Ok::<(), tableau_auth_ureq::Error>(())
    /// ```
    pub fn resolver(
        mut self,
        lookup: impl Fn(&str, u16) -> std::io::Result<Vec<std::net::SocketAddr>> + Send + Sync + 'static,
    ) -> Self {
        self.lookup = Lookup(Some(Arc::new(lookup)));
        self
    }

    /// How long the addresses of a host name are kept (default 30 s); `Duration::ZERO` looks
    /// the name up for every request. Within that time no request waits for a lookup (ureq
    /// alone looks the host up for every request, on a new thread whenever there is a time
    /// limit). IP literals are never looked up; a failed lookup is not kept.
    pub fn dns_cache(mut self, ttl: Duration) -> Self {
        self.dns_cache = ttl;
        self
    }

    /// The largest response body read (default 1 MiB); a larger one is refused unread.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The caps on waiting out a throttled (429) or unavailable (503) server, for each call of
    /// the client (sign-in, sign-out, switch site, server info, tickets, [`Client::send`]):
    /// at most `max_retries` retries (default 3) and `max_total_wait` of waiting in all
    /// (default 60 s). The wait is the server's `Retry-After` (or 1 s), plus a little jitter;
    /// beyond the caps the call fails with the core's
    /// [`Throttled`](tableau_auth_proto::Error::Throttled), which names the wait. The core's
    /// [`ConfigBuilder::retries`](tableau_auth_proto::ConfigBuilder::retries).
    pub fn retries(mut self, max_retries: u32, max_total_wait: Duration) -> Self {
        self.max_retries = max_retries;
        self.max_retry_wait = max_total_wait;
        self
    }

    /// The server's session idle limit, for signing in again before it (default: the core's).
    pub fn idle_limit(mut self, limit: Duration) -> Self {
        self.idle_limit = Some(limit);
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
        self.expiry_margin = Some(margin);
        self
    }

    /// Builds the client. Nothing is sent yet.
    pub fn build(self) -> Result<Client, Error> {
        let mut config = Config::builder(self.server)
            .format(self.format)
            .max_body(self.max_body)
            .retries(self.max_retries, self.max_retry_wait);
        if let Some(v) = self.api_version {
            config = config.api_version(v);
        }
        if let Some(ua) = &self.user_agent {
            config = config.user_agent(ua.clone());
        }
        if let Some(limit) = self.idle_limit {
            config = config.idle_limit(limit);
        }
        if let Some(margin) = self.expiry_margin {
            config = config.expiry_margin(margin);
        }
        if let Some(before) = self.credentials_warning {
            config = config.credentials_warning(before);
        }
        let config = config
            .build()
            .map_err(|e| Error::Tableau(tableau_auth_proto::Error::Config(e)))?;
        let proxy = match &self.proxy {
            Some(ProxyUrl(url)) => Some(
                ureq::Proxy::new(url.expose_secret())
                    .map_err(|_| Error::Config("invalid proxy URL".to_owned()))?,
            ),
            None => None,
        };
        let agent_config = Agent::config_builder()
            // Keep error bodies: Tableau's <error code> is in them.
            .http_status_as_error(false)
            // Never follow redirects: the core decides (docs/protocol.md, "Redirects").
            .max_redirects(0)
            .max_redirects_will_error(false)
            .tls_config(self.tls.to_ureq()?)
            .proxy(proxy)
            // The name lookup gets its own limit; see `CachingResolver` for why it is cheap.
            .timeout_resolve(Some(self.connect_timeout))
            .timeout_connect(Some(self.connect_timeout))
            .timeout_recv_response(Some(self.read_timeout))
            .timeout_global(Some(self.exchange_timeout))
            // ureq zero-fills 128 KiB for each of these per connection by default: pages a
            // short-lived process (the CLI) pays for in page faults. A response's head and a
            // request's head fit well within these; bodies stream through them in chunks.
            .input_buffer_size(INPUT_BUFFER)
            .output_buffer_size(OUTPUT_BUFFER)
            .max_response_header_size(MAX_RESPONSE_HEAD)
            .build();
        let resolver = CachingResolver::new(self.lookup, self.dns_cache);
        let agent = Agent::with_parts(agent_config, DefaultConnector::new(), resolver);
        #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
        let mut policy = Policy::new(config, Instant::now());
        #[cfg(feature = "redis")]
        let store = self.store.map(|(store, fleet)| {
            policy.set_fleet(Some(fleet));
            store
        });
        Ok(Client {
            agent,
            policy,
            #[cfg(feature = "redis")]
            store,
            limits: Limits {
                connect: self.connect_timeout,
                read: self.read_timeout,
                exchange: self.exchange_timeout,
                max_body: self.max_body,
            },
            callback: self.callback,
            on_request: self.on_request,
            entropy: Entropy::default(),
        })
    }
}

/// A blocking Tableau client: one session, driven over ureq.
///
/// The session's rules are the core's [`Policy`]: waits on 429/503 within the caps of
/// [`ClientBuilder::retries`], one re-sign-in and replay when the server ended the session
/// (`401002`), renewal shortly before the session's estimated end, sign-out before a new
/// sign-in, the site kept across re-sign-ins, a fresh JWT for each connected-app sign-in. The
/// client drives it: it sends what the policy asks, sleeps when told, and reports the policy's
/// events to [`ClientBuilder::on_event`].
///
/// ```no_run
/// use tableau_auth_ureq::{Client, http, proto::{Credentials, SignIn}};
///
/// let mut client = Client::builder("https://tableau.example.com").build()?;
/// let pat = Credentials::personal_access_token("etl", std::env::var("TABLEAU_PAT_SECRET").unwrap_or_default());
/// let mut session = client.sign_in_guard(SignIn::new(pat, "Finance"))?;
/// let request = http::Request::get(session.session().site_url("workbooks")?).body(Vec::new()).unwrap();
/// let response = session.send(request)?; // authorized; re-signs in once on 401002
/// println!("{}", String::from_utf8_lossy(response.body()));
/// // Dropping the guard signs out.
/// # Ok::<(), tableau_auth_ureq::Error>(())
/// ```
#[derive(Debug)]
pub struct Client {
    agent: Agent,
    policy: Policy,
    limits: Limits,
    callback: Callback,
    on_request: RequestHook,
    entropy: Entropy,
    #[cfg(feature = "redis")]
    store: Option<tableau_auth_redis::RedisStore>,
}

/// How a driven call ended.
enum Finished {
    /// The outcome of an intent.
    Event(Event),
    /// The answer to the caller's own request.
    Reply(Response<Vec<u8>>),
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
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            exchange_timeout: Duration::from_secs(60),
            proxy: None,
            lookup: Lookup::default(),
            dns_cache: DEFAULT_CACHE_TTL,
            max_body: Config::DEFAULT_MAX_BODY,
            max_retries: Config::DEFAULT_MAX_RETRIES,
            max_retry_wait: Config::DEFAULT_MAX_RETRY_WAIT,
            idle_limit: None,
            expiry_margin: None,
            credentials_warning: None,
            callback: Callback::default(),
            on_request: RequestHook::default(),
            #[cfg(feature = "redis")]
            store: None,
        }
    }

    /// The generation of the session: how many times this client has signed in (renewals and
    /// site switches, which bring a new token, included); 0 before the first sign-in.
    pub fn generation(&self) -> u64 {
        self.policy.generation()
    }

    /// The session (token, site, version, URLs), read-only: the core's policy runs it.
    pub fn session(&self) -> &Session {
        self.policy.session()
    }

    /// The ureq agent this client sends with: the same TLS trust, client certificate, proxy
    /// and timeouts, redirects never followed, error statuses returned as responses. For
    /// requests that must go *without* the session's token (redeeming a trusted ticket as a
    /// browser would, calling another service through the same proxy); nothing sent through it
    /// is authorized, retried or checked by the client.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// Asks the server its versions (anonymous); the session adopts its API version.
    pub fn server_info(&mut self) -> Result<ServerInfo, Error> {
        match self.intent(Intent::ServerInfo)? {
            Event::ServerInfo(info) => Ok(info),
            other => Err(unexpected(&other)),
        }
    }

    /// Signs in and keeps the sign-in so that the client can sign in again when the session
    /// ends or is about to (a connected app then mints a fresh JWT). A session the client
    /// already holds is signed out first, so that it does not stay open on the server.
    pub fn sign_in(&mut self, sign_in: SignIn) -> Result<SignedIn, Error> {
        match self.intent(Intent::SignIn(sign_in))? {
            Event::SignedIn(info) => Ok(info),
            other => Err(unexpected(&other)),
        }
    }

    /// Signs in and returns a guard that signs out when dropped (like TSC's `with` block).
    /// The guard ends only the session its sign-in began (renewed or re-signed-in since, it
    /// is still that one): after a new [`Client::sign_in`] through it, that newer session is
    /// kept ([`SignOut::Replaced`]).
    pub fn sign_in_guard(&mut self, sign_in: SignIn) -> Result<SignOutGuard<'_>, Error> {
        let scope = self.policy.begin(Call::Intent(Intent::SignIn(sign_in)));
        match self.event_of(scope)? {
            Event::SignedIn(_) => Ok(SignOutGuard {
                client: self,
                scope,
                armed: true,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Signs in, runs `body` with the client, then signs out, whatever the body did: succeeded,
    /// failed (its error is returned, never replaced by the sign-out's) or panicked (the
    /// sign-out runs while unwinding). If the body succeeded but the sign-out failed, the body's
    /// value is still returned and the failure is logged (`tracing`, warn). The same as the
    /// async client's `with_sign_in`; [`Client::sign_in_guard`] is the guard form.
    ///
    /// ```no_run
    /// # use tableau_auth_ureq::{Client, Error, proto::{Credentials, SignIn}};
    /// # let mut client = Client::builder("https://tableau.example.com").build()?;
    /// let sign_in = SignIn::new(Credentials::personal_access_token("etl", "secret"), "");
    /// let me = client.with_sign_in(sign_in, |client| client.current_session())?;
    /// println!("{} on {}", me.user_name, me.site_name);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn with_sign_in<T, E: From<Error>>(
        &mut self,
        sign_in: SignIn,
        body: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut guard = self.sign_in_guard(sign_in)?;
        let value = body(&mut guard)?;
        if let Err(e) = guard.sign_out() {
            tracing::warn!(target: "tableau_auth_ureq", error = %e, "the sign-out at the end of with_sign_in failed");
        }
        Ok(value)
    }

    /// Ends the scope begun by the sign-in call `scope` ([`Call::EndScope`]).
    fn end_scope(&mut self, scope: CallId) -> Result<SignOut, Error> {
        let id = self.policy.begin(Call::EndScope(scope));
        match self.event_of(id)? {
            Event::SignedOut(outcome) => Ok(outcome),
            other => Err(unexpected(&other)),
        }
    }

    /// Signs out, and forgets the kept sign-in. A session the server already dropped is
    /// `Ok(SignOut::AlreadyGone)`, not an error; without a session nothing is sent. A failed
    /// sign-out keeps the session usable.
    pub fn sign_out(&mut self) -> Result<SignOut, Error> {
        match self.intent(Intent::SignOut)? {
            Event::SignedOut(outcome) => Ok(outcome),
            other => Err(unexpected(&other)),
        }
    }

    /// Ends a fleet's shared session for every process ([`ClientBuilder::session_store`]):
    /// signs it out and retires the store's record, so that the next use anywhere signs in
    /// anew. Without a store, the same as [`Client::sign_out`].
    pub fn retire(&mut self) -> Result<SignOut, Error> {
        match self.run(Call::Retire, None)? {
            Finished::Event(Event::SignedOut(outcome)) => Ok(outcome),
            Finished::Event(other) => Err(unexpected(&other)),
            Finished::Reply(_) => Err(internal("an answer to a request the caller never made")),
        }
    }

    /// Runs one operation of the fleet's store; a failure as the message the policy keeps.
    fn store(&self, request: &StoreRequest) -> Result<StoreReply, String> {
        #[cfg(feature = "redis")]
        if let Some(store) = &self.store {
            return store.execute_blocking(request).map_err(|e| e.to_string());
        }
        let _ = request;
        Err("no session store is configured".to_owned())
    }

    /// Signs out a token saved elsewhere (by another process).
    pub fn sign_out_token(
        &mut self,
        token: tableau_auth_proto::secret::AuthToken,
    ) -> Result<SignOut, Error> {
        match self.intent(Intent::SignOutToken(token))? {
            Event::SignedOut(outcome) => Ok(outcome),
            other => Err(unexpected(&other)),
        }
    }

    /// Moves the session to another site; later re-sign-ins land there. `Ok(None)`: it was
    /// already there (`403070`).
    pub fn switch_site(
        &mut self,
        site: impl Into<SiteContentUrl>,
    ) -> Result<Option<SignedIn>, Error> {
        match self.intent(Intent::SwitchSite(site.into()))? {
            Event::SiteSwitched(info) => Ok(Some(info)),
            Event::SiteUnchanged => Ok(None),
            other => Err(unexpected(&other)),
        }
    }

    /// Asks Tableau Server for a trusted ticket.
    pub fn trusted_ticket(&mut self, request: TicketRequest) -> Result<TrustedTicket, Error> {
        match self.intent(Intent::TrustedTicket(request))? {
            Event::TicketIssued(ticket) => Ok(ticket),
            other => Err(unexpected(&other)),
        }
    }

    /// Who and where the session is (`GET sessions/current`, API 3.1+): the user's and the
    /// site's names, and proof that the token is alive. Kept alive as [`Client::send`] keeps
    /// its calls.
    pub fn current_session(&mut self) -> Result<CurrentSession, Error> {
        match self.intent(Intent::CurrentSession)? {
            Event::CurrentSession(me) => Ok(me),
            other => Err(unexpected(&other)),
        }
    }

    /// Takes up a session signed in elsewhere, from its token (saved by another process, an
    /// earlier run, a parent script: TSC#58, TSC#1246): `GET sessions/current` with it, after
    /// the anonymous version probe when needed. Alive, it becomes this client's session — who and
    /// where it is comes back. Another session held before is signed out first, as before a new
    /// sign-in (the same token is kept as it is); refused (a `401002`: expired or signed out),
    /// a typed error.
    ///
    /// A resumed session is kept alive like any other; when the server ends it, the client signs
    /// in again only if the builder gave it credentials.
    pub fn resume(
        &mut self,
        token: tableau_auth_proto::secret::AuthToken,
    ) -> Result<CurrentSession, Error> {
        match self.intent(Intent::Resume(token))? {
            Event::Resumed(me) => Ok(me),
            other => Err(unexpected(&other)),
        }
    }

    /// Revokes every personal access token created by a server administrator (`DELETE
    /// auth/serverAdminAccessTokens`, API 3.11+, Tableau Server only; TSC's
    /// `revoke_all_server_admin_tokens`). The caller must be a server administrator: otherwise
    /// [`Error::Tableau`] with Tableau's `403004` ([`Error::code`]). Below API 3.11, or on
    /// Tableau Cloud, it is refused before anything is sent. The session itself stays signed
    /// in. Kept alive as [`Client::send`] keeps its calls (a `401002` signs in again once).
    pub fn revoke_server_admin_tokens(&mut self) -> Result<(), Error> {
        match self.intent(Intent::RevokeServerAdminTokens)? {
            Event::ServerAdminTokensRevoked => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends the caller's own REST request with `X-Tableau-Auth` (only to the session's own
    /// server). The core's policy keeps it alive: it signs in first when there is no session
    /// yet (with the kept sign-in) or it is about to end; on `401002` it signs in again once
    /// and the request is replayed once (a second rejection is the core's
    /// [`SessionEnded`](tableau_auth_proto::Error::SessionEnded)); on 429/503 the client
    /// waits as the policy says, within [`ClientBuilder::retries`].
    ///
    /// A request without an `Accept` header gets the client's [`ClientBuilder::format`]
    /// (`application/xml` or `application/json`); an `Accept` the caller set is kept as it is.
    ///
    /// `Ok` is always a 2xx answer. Any other answer comes back as a typed error, not as a
    /// response: [`Error::Tableau`] with Tableau's code when the body has one
    /// ([`Error::code`]), the status otherwise; after the waits and the one re-sign-in above,
    /// the core's [`Throttled`](tableau_auth_proto::Error::Throttled) or
    /// [`SessionEnded`](tableau_auth_proto::Error::SessionEnded).
    pub fn send(&mut self, mut request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let headers = request.headers_mut();
        if !headers.contains_key(tableau_auth_proto::http::header::ACCEPT) {
            let media_type = self.policy.session().config().format().media_type();
            headers.insert(
                tableau_auth_proto::http::header::ACCEPT,
                tableau_auth_proto::http::HeaderValue::from_static(media_type),
            );
        }
        match self.run(Call::Request, Some(&request))? {
            Finished::Reply(response) => Ok(response),
            Finished::Event(other) => Err(unexpected(&other)),
        }
    }

    /// Runs one intent through the policy.
    fn intent(&mut self, intent: Intent) -> Result<Event, Error> {
        let id = self.policy.begin(Call::Intent(intent));
        self.event_of(id)
    }

    /// Runs a call without a request of the caller's, begun as `id`, to its event.
    fn event_of(&mut self, id: CallId) -> Result<Event, Error> {
        match self.run_begun(id, None)? {
            Finished::Event(event) => Ok(event),
            Finished::Reply(_) => Err(internal("an answer to a request the caller never made")),
        }
    }

    /// Drives one call of the policy to its end: the only loop of the client.
    fn run(&mut self, call: Call, own: Option<&Request<Vec<u8>>>) -> Result<Finished, Error> {
        let id = self.policy.begin(call);
        self.run_begun(id, own)
    }

    /// [`Client::run`] for a call already begun (its id names a scope: [`Call::EndScope`]).
    fn run_begun(&mut self, id: CallId, own: Option<&Request<Vec<u8>>>) -> Result<Finished, Error> {
        let result = self.drive(id, own);
        // Forgets the call, whatever happened: a no-op once it is done; aborts an exchange it
        // left running; ends a call that was answered on the fast path. A fleet's lock it may
        // hold (an error of this client's ended it mid-sign-in) is released for the others.
        if let Some(release) = self.policy.cancel(id) {
            let _ = self.store(&release);
        }
        self.forward_events();
        result
    }

    fn drive(&mut self, id: CallId, own: Option<&Request<Vec<u8>>>) -> Result<Finished, Error> {
        // The last answer to the caller's own request, and the last transport error.
        let mut last_reply: Option<Response<Vec<u8>>> = None;
        let mut transport_error: Option<Error> = None;
        loop {
            let action = self.policy.poll(id, self.entropy.inputs()?);
            self.forward_events();
            match action {
                Action::Send(request) => match self.transport(request) {
                    Ok(response) => {
                        self.policy
                            .handle_response(id, response, self.entropy.inputs()?)
                    }
                    Err(e) => {
                        self.policy.transport_failed(id, &e.to_string());
                        transport_error = Some(e);
                    }
                },
                Action::Authorize(grant) => {
                    let Some(own) = own else {
                        return Err(internal(
                            "the policy asked for a request the caller never made",
                        ));
                    };
                    let mut request = own.clone();
                    grant.authorize(&mut request)?;
                    match self.transport(request) {
                        Ok(response) => {
                            if grant.completes(response.status()) {
                                return Ok(Finished::Reply(response));
                            }
                            let (status, headers) = (response.status(), response.headers());
                            let body = Some(response.body().as_slice());
                            self.policy.handle_reply(
                                id,
                                &grant,
                                status,
                                headers,
                                body,
                                self.entropy.inputs()?,
                            );
                            last_reply = Some(response);
                        }
                        Err(e) => {
                            self.policy.transport_failed(id, &e.to_string());
                            transport_error = Some(e);
                        }
                    }
                }
                Action::Store(request) => {
                    let reply = self.store(&request);
                    let inputs = self.entropy.inputs()?;
                    match reply {
                        Ok(reply) => self.policy.handle_store(id, reply, inputs),
                        Err(e) => self.policy.store_failed(id, &e, inputs),
                    }
                }
                Action::WaitUntil(at) => {
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                }
                Action::Wait => {
                    return Err(internal("the policy made the only caller wait for another"));
                }
                Action::Done(outcome) => {
                    return match outcome {
                        Outcome::Event(event) => Ok(Finished::Event(event)),
                        Outcome::Deliver => last_reply
                            .map(Finished::Reply)
                            .ok_or_else(|| internal("no answer to deliver")),
                        Outcome::Failed(e) => Err(e.into()),
                        Outcome::TransportError => Err(transport_error
                            .unwrap_or_else(|| internal("a transport error that never happened"))),
                        other => Err(internal(&format!("unexpected outcome {other:?}"))),
                    };
                }
                // Not shown: a request to send may carry credentials in its body.
                _ => return Err(internal("an action this client does not know")),
            }
            self.forward_events();
        }
    }

    /// Sends `request` exactly as given — no token added, no policy applied — over the client's
    /// transport: the same TLS trust, proxy and limits, the body read up to `max_body`, the same
    /// typed errors, and [`ClientBuilder::on_request`] told of it. For requests the session does
    /// not make, such as one with a token saved by another process (the CLI's
    /// `TABLEAU_AUTH_TOKEN`); their answers are the caller's to read (e.g. with
    /// [`Session::read_current_session`](tableau_auth_proto::Session::read_current_session)).
    pub fn send_as_is(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        self.transport(request)
    }

    /// Hands the policy's queued events to `tracing` (target `tableau_auth_ureq`: a warning for
    /// a superseded session, throttling or a failed renewal) and to the caller's callback.
    fn forward_events(&mut self) {
        while let Some(event) = self.policy.poll_event() {
            if event.is_warning() {
                tracing::warn!(target: "tableau_auth_ureq", "{event}");
            } else {
                tracing::info!(target: "tableau_auth_ureq", "{event}");
            }
            if let Some(callback) = &self.callback.0 {
                callback(&event);
            }
        }
    }

    /// One request over ureq, with the body read up to `max_body`.
    fn transport(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let Some(hook) = &self.on_request.0 else {
            return self.exchange(request);
        };
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let started = Instant::now();
        let result = self.exchange(request);
        hook(&SentRequest {
            method: &method,
            path: &path,
            status: result.as_ref().ok().map(Response::status),
            elapsed: started.elapsed(),
        });
        result
    }

    /// One request and its whole answer, the body read up to `max_body`.
    fn exchange(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let response = self
            .agent
            .run(request)
            .map_err(|e| Error::from_ureq(e, &self.limits))?;
        let (parts, mut body) = response.into_parts();
        let bytes = body
            .with_config()
            .limit(self.limits.max_body as u64)
            .read_to_vec()
            .map_err(|e| Error::from_ureq(e, &self.limits))?;
        Ok(Response::from_parts(parts, bytes))
    }
}

fn unexpected(event: &Event) -> Error {
    internal(&format!("unexpected outcome: {event:?}"))
}

/// A broken promise between the client and the core (a bug, never the server's doing).
fn internal(what: &str) -> Error {
    Error::Transport(format!("internal error of the client: {what}"))
}

/// Signs out when dropped, so a script cannot forget to (TSC's `with server.auth.sign_in(…)`).
/// Dropping never panics and never replaces the caller's own error: a failed sign-out on drop
/// is ignored. Call [`SignOutGuard::sign_out`] to see its outcome.
#[derive(Debug)]
pub struct SignOutGuard<'a> {
    client: &'a mut Client,
    scope: CallId,
    armed: bool,
}

impl SignOutGuard<'_> {
    /// Signs out now and reports how ([`SignOut::Replaced`]: the client signed in anew through
    /// the guard since, and that session is kept).
    pub fn sign_out(mut self) -> Result<SignOut, Error> {
        self.armed = false;
        self.client.end_scope(self.scope)
    }

    /// Keeps the session open (the guard will not sign out).
    pub fn keep(mut self) {
        self.armed = false;
    }
}

impl std::ops::Deref for SignOutGuard<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client
    }
}

impl std::ops::DerefMut for SignOutGuard<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client
    }
}

impl Drop for SignOutGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            // The caller may be unwinding or returning its own error: never mask it.
            let _ = self.client.end_scope(self.scope);
        }
    }
}
