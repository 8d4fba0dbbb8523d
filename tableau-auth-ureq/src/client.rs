//! The blocking client: one session, driven over a ureq agent.

use std::time::{Duration, Instant, SystemTime};

use tableau_auth_proto::http::{Request, Response, StatusCode};
use tableau_auth_proto::lifecycle::{EventCallback, RenewReason, SessionEvent};
use tableau_auth_proto::{
    ApiVersion, Config, CurrentSession, Event, Format, Intent, ServerInfo, Session, SignIn,
    SignOut, SignedIn, SiteContentUrl, TicketRequest, TrustedTicket, Verdict,
};
use ureq::Agent;

use crate::Error;
use crate::error::Limits;
use crate::events::Events;
use crate::tls::TlsOptions;

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
    proxy: Option<String>,
    max_body: usize,
    max_retries: u32,
    max_retry_wait: Duration,
    idle_limit: Option<Duration>,
    expiry_margin: Option<Duration>,
    events: Events,
}

impl ClientBuilder {
    /// Receives every [`SessionEvent`] of the client: sign-ins, renewals (with the reason),
    /// sessions the server rejected (superseded or expired), waits on 429/503, failed renewals,
    /// sign-outs. Called on the caller's thread, inside the call that caused the event; no
    /// event carries a secret.
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
        let callback: EventCallback = std::sync::Arc::new(callback);
        self.events = Events::new(Some(callback));
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

    /// Trusts the roots in this PEM (for a server with a private CA). They replace the
    /// built-in Mozilla roots, which ureq cannot combine with others.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca_pem = Some(pem.into());
        self
    }

    /// Presents a client certificate (PEM chain and PEM private key).
    pub fn client_cert_pem(mut self, chain: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.tls.client_cert_pem = Some((chain.into(), key.into()));
        self
    }

    /// Accepts any certificate, expired, self-signed or for another host. **Dangerous**: a
    /// man in the middle then sees every password and token. For tests against a throwaway
    /// server only.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.tls.danger_accept_invalid_certs = accept;
        self
    }

    /// The limit on connecting (TCP + TLS); default 10 s.
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

    /// Sends everything through this proxy (`http://host:port`, `socks5://…`).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// The largest response body read (default 1 MiB); a larger one is refused unread.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How often [`Client::send`] retries a 429/503 (default 3) and the longest it waits in
    /// all (default 60 s); a `Retry-After` beyond that is returned as the error instead.
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

    /// How long before the estimated end of the session [`Client::send`] signs in again
    /// (default: the core's, 60 s).
    pub fn expiry_margin(mut self, margin: Duration) -> Self {
        self.expiry_margin = Some(margin);
        self
    }

    /// Builds the client. Nothing is sent yet.
    pub fn build(self) -> Result<Client, Error> {
        let mut config = Config::builder(self.server)
            .format(self.format)
            .max_body(self.max_body);
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
        let config = config
            .build()
            .map_err(|e| Error::Tableau(tableau_auth_proto::Error::Config(e)))?;
        let proxy = match &self.proxy {
            Some(url) => Some(
                ureq::Proxy::new(url).map_err(|_| Error::Config("invalid proxy URL".to_owned()))?,
            ),
            None => None,
        };
        let agent: Agent = Agent::config_builder()
            // Keep error bodies: Tableau's <error code> is in them.
            .http_status_as_error(false)
            // Never follow redirects: the core decides (protocol §12).
            .max_redirects(0)
            .max_redirects_will_error(false)
            .tls_config(self.tls.to_ureq()?)
            .proxy(proxy)
            .timeout_connect(Some(self.connect_timeout))
            .timeout_recv_response(Some(self.read_timeout))
            .timeout_global(Some(self.exchange_timeout))
            .build()
            .into();
        Ok(Client {
            agent,
            session: Session::new(config),
            sign_in: None,
            limits: Limits {
                connect: self.connect_timeout,
                read: self.read_timeout,
                exchange: self.exchange_timeout,
                max_body: self.max_body,
            },
            max_retries: self.max_retries,
            max_retry_wait: self.max_retry_wait,
            events: self.events,
        })
    }
}

/// A blocking Tableau client: one session, driven over ureq.
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
    session: Session,
    sign_in: Option<SignIn>,
    limits: Limits,
    max_retries: u32,
    max_retry_wait: Duration,
    events: Events,
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
            max_body: Config::DEFAULT_MAX_BODY,
            max_retries: 3,
            max_retry_wait: Duration::from_secs(60),
            idle_limit: None,
            expiry_margin: None,
            events: Events::default(),
        }
    }

    /// The generation of the session: how many times this client has signed in (renewals and
    /// site switches, which bring a new token, included); 0 before the first sign-in.
    pub fn generation(&self) -> u64 {
        self.events.generation()
    }

    /// The session (token, site, version, URLs, expiry).
    pub fn session(&self) -> &Session {
        &self.session
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
        match self.run(Intent::ServerInfo)? {
            Event::ServerInfo(info) => Ok(info),
            other => Err(unexpected(other)),
        }
    }

    /// Signs in and keeps the sign-in so that [`Client::send`] can sign in again when the
    /// session expires (a connected app then mints a fresh JWT). A session the client already
    /// holds is signed out first, so that it does not stay open on the server.
    pub fn sign_in(&mut self, sign_in: SignIn) -> Result<SignedIn, Error> {
        if self.session.is_signed_in() {
            // Best effort: the new sign-in is what was asked for.
            let _ = self.sign_out();
        }
        let event = self.run(Intent::SignIn(fresh(&sign_in)?))?;
        self.sign_in = Some(sign_in);
        match event {
            Event::SignedIn(info) => {
                self.events.signed_in();
                Ok(info)
            }
            other => Err(unexpected(other)),
        }
    }

    /// Signs in and returns a guard that signs out when dropped (like TSC's `with` block).
    pub fn sign_in_guard(&mut self, sign_in: SignIn) -> Result<SignOutGuard<'_>, Error> {
        self.sign_in(sign_in)?;
        Ok(SignOutGuard {
            client: self,
            armed: true,
        })
    }

    /// Signs out. A session the server already dropped is `Ok(SignOut::AlreadyGone)`, not an
    /// error; without a session nothing is sent.
    pub fn sign_out(&mut self) -> Result<SignOut, Error> {
        match self.run(Intent::SignOut)? {
            Event::SignedOut(outcome) => {
                // Only once the session is gone: a failed sign-out keeps it usable.
                self.sign_in = None;
                self.events.signed_out(outcome);
                Ok(outcome)
            }
            other => Err(unexpected(other)),
        }
    }

    /// Signs out a token saved elsewhere (by another process).
    pub fn sign_out_token(
        &mut self,
        token: tableau_auth_proto::secret::AuthToken,
    ) -> Result<SignOut, Error> {
        match self.run(Intent::SignOutToken(token))? {
            Event::SignedOut(outcome) => Ok(outcome),
            other => Err(unexpected(other)),
        }
    }

    /// Moves the session to another site. `Ok(None)`: it was already there (`403070`).
    pub fn switch_site(
        &mut self,
        site: impl Into<SiteContentUrl>,
    ) -> Result<Option<SignedIn>, Error> {
        let site = site.into();
        match self.run(Intent::SwitchSite(site.clone()))? {
            Event::SiteSwitched(info) => {
                // A later re-sign-in must land on the new site.
                self.sign_in = self.sign_in.take().map(|s| s.with_site(site));
                self.events.signed_in();
                Ok(Some(info))
            }
            Event::SiteUnchanged => Ok(None),
            other => Err(unexpected(other)),
        }
    }

    /// Asks Tableau Server for a trusted ticket.
    pub fn trusted_ticket(&mut self, request: TicketRequest) -> Result<TrustedTicket, Error> {
        match self.run(Intent::TrustedTicket(request))? {
            Event::TicketIssued(ticket) => Ok(ticket),
            other => Err(unexpected(other)),
        }
    }

    /// Who and where the session is (`GET sessions/current`, API 3.1+): the user's and the
    /// site's names, and proof that the token is alive. Kept alive as [`Client::send`] keeps
    /// its calls: signs in again first when the session is about to expire; on `401002` signs
    /// in again once and asks once more; on 429/503 waits as `Retry-After` says (within the
    /// configured cap) and retries.
    pub fn current_session(&mut self) -> Result<CurrentSession, Error> {
        self.with_session(|client| match client.run(Intent::CurrentSession)? {
            Event::CurrentSession(me) => Ok(me),
            other => Err(unexpected(other)),
        })
    }

    /// Sends the caller's own REST request with `X-Tableau-Auth`. Signs in again first when
    /// the session is about to expire; on `401002` signs in again once and replays once; on
    /// 429/503 waits as `Retry-After` says (within the configured cap) and retries; any other
    /// failure is a typed error.
    pub fn send(&mut self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let (parts, body) = request.into_parts();
        self.with_session(|client| {
            let mut request = Request::from_parts(parts.clone(), body.clone());
            client.session.authorize_request(&mut request)?;
            let response = client.transport(request)?;
            match client.session.classify(&response) {
                Verdict::Success => {
                    client.session.touch(Instant::now());
                    Ok(response)
                }
                Verdict::Reauthenticate(e) | Verdict::Retry(e) | Verdict::Fail(e) => Err(e.into()),
                _ => Err(Error::Transport("unclassified response".to_owned())),
            }
        })
    }

    /// The policy of every call made with the session: sign in again first when the session
    /// is about to expire; when the server rejects the session (`is_reauth_needed`), sign in
    /// again once and try once more; when it throttles (`is_retryable`), wait as `Retry-After`
    /// says, within the configured cap, and try again; return anything else.
    fn with_session<T>(
        &mut self,
        mut attempt: impl FnMut(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if self.sign_in.is_some() && self.session.needs_sign_in(Instant::now()) {
            let reason = self
                .session
                .poll_timeout()
                .map_or(RenewReason::Expired, |(_, why)| RenewReason::Expiring(why));
            self.reauthenticate(reason)?;
        }
        let mut reauthenticated = false;
        let mut retries = 0;
        let mut waited = Duration::ZERO;
        loop {
            let e = match attempt(self) {
                Ok(value) => return Ok(value),
                Err(Error::Tableau(e)) => e,
                Err(other) => return Err(other),
            };
            if e.is_reauth_needed() {
                // Superseded when, by our clock, none of the session's deadlines had come.
                let reason = self.session.rejection_reason(Instant::now());
                self.events.rejected(reason);
                if reauthenticated || self.sign_in.is_none() {
                    return Err(e.into());
                }
                self.reauthenticate(reason)?;
                reauthenticated = true;
            } else if e.is_retryable() {
                let delay = e
                    .retry_after()
                    .map_or(Duration::from_secs(1), |r| r.delay_from(SystemTime::now()));
                if retries >= self.max_retries || waited + delay > self.max_retry_wait {
                    return Err(e.into());
                }
                let status = e.status().unwrap_or(StatusCode::TOO_MANY_REQUESTS);
                self.events.throttled(delay, status);
                std::thread::sleep(delay);
                waited += delay;
                retries += 1;
            } else {
                return Err(e.into());
            }
        }
    }

    /// Signs in again with the kept credentials, and tells the callback how it went.
    fn reauthenticate(&mut self, reason: RenewReason) -> Result<(), Error> {
        let Some(sign_in) = &self.sign_in else {
            return Ok(());
        };
        let result = fresh(sign_in).and_then(|sign_in| self.run(Intent::SignIn(sign_in)));
        match result {
            Ok(_) => {
                self.events.renewed(reason);
                Ok(())
            }
            Err(e) => {
                self.events.renewal_failed(e.to_string());
                Err(e)
            }
        }
    }

    /// Runs one exchange of the core to its end.
    fn run(&mut self, intent: Intent) -> Result<Event, Error> {
        let Self {
            agent,
            session,
            limits,
            ..
        } = self;
        let result = crate::drive(session, intent, |request| send_with(agent, request, limits));
        match result {
            Ok(event) => Ok(event),
            Err(crate::DriveError::Tableau(e)) => Err(Error::Tableau(e)),
            Err(crate::DriveError::Transport(e)) => Err(e),
        }
    }

    fn transport(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        send_with(&self.agent, request, &self.limits)
    }
}

/// One request over ureq, with the body read up to `max_body`.
fn send_with(
    agent: &Agent,
    request: Request<Vec<u8>>,
    limits: &Limits,
) -> Result<Response<Vec<u8>>, Error> {
    let response = agent
        .run(request)
        .map_err(|e| Error::from_ureq(e, limits))?;
    let (parts, mut body) = response.into_parts();
    let bytes = body
        .with_config()
        .limit(limits.max_body as u64)
        .read_to_vec()
        .map_err(|e| Error::from_ureq(e, limits))?;
    Ok(Response::from_parts(parts, bytes))
}

/// The sign-in with this moment's time and fresh randomness for a connected-app JWT.
fn fresh(sign_in: &SignIn) -> Result<SignIn, Error> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|e| Error::Config(format!("no randomness: {e}")))?;
    Ok(sign_in.clone().mint_inputs(SystemTime::now(), random))
}

fn unexpected(event: Event) -> Error {
    Error::Transport(format!("unexpected outcome: {event:?}"))
}

/// Signs out when dropped, so a script cannot forget to (TSC's `with server.auth.sign_in(…)`).
/// Dropping never panics and never replaces the caller's own error: a failed sign-out on drop
/// is ignored. Call [`SignOutGuard::sign_out`] to see its outcome.
#[derive(Debug)]
pub struct SignOutGuard<'a> {
    client: &'a mut Client,
    armed: bool,
}

impl SignOutGuard<'_> {
    /// Signs out now and reports how.
    pub fn sign_out(mut self) -> Result<SignOut, Error> {
        self.armed = false;
        self.client.sign_out()
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
            let _ = self.client.sign_out();
        }
    }
}
