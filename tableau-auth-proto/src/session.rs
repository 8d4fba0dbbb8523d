//! The session state machine: one exchange in flight, state `Idle` or `SignedIn`.

use std::fmt;
use std::time::Instant;

use http::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue, USER_AGENT};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::config::{BaseUrl, Config, Format, Origin};
use crate::error::{Error, Misuse};
use crate::event::{CurrentSession, Event, ServerInfo, SignOut, SignedIn};
use crate::expiry::{Expiry, RenewalSchedule};
use crate::intent::{Credentials, Intent, SignIn, SiteContentUrl, SiteId, TicketRequest, UserId};
use crate::redirect;
use crate::response::Verdict;
use crate::response::{error_from_response, foreign};
use crate::secret::{AuthToken, Redactor, TicketValue, secret_from_cow};
use crate::ticket::{TrustedTicket, is_ticket_shaped};
use crate::version::{ApiVersion, Feature, legacy_product_to_api};
use crate::wire::{self, Body, CredentialFields, CredentialsDoc, Parsed, SessionDoc};

/// The header that carries the session token.
pub const X_TABLEAU_AUTH: HeaderName = HeaderName::from_static("x-tableau-auth");

/// What the caller does next.
#[must_use = "a Step::Send must be sent and its response fed back to handle_response"]
pub enum Step {
    /// Send this request and pass its response to [`Session::handle_response`].
    Send(Request<Vec<u8>>),
    /// The exchange is over.
    Done(Event),
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The body may hold credentials: show only its size.
            Self::Send(r) => write!(
                f,
                "Send({} {} [{} bytes])",
                r.method(),
                r.uri(),
                r.body().len()
            ),
            Self::Done(e) => f.debug_tuple("Done").field(e).finish(),
        }
    }
}

struct Active {
    token: AuthToken,
    info: SignedIn,
    signed_in_at: Instant,
    last_used: Instant,
}

/// What to do once the server-info probe has told the version.
enum Then {
    SignIn(Box<SignIn>),
    SignOut(AuthToken),
    Ticket(TicketRequest),
}

enum Exchange {
    ServerInfo {
        then: Option<Then>,
        legacy: bool,
        base: BaseUrl,
        hops: u8,
    },
    SignIn {
        body: Zeroizing<Vec<u8>>,
        path: String,
        base: BaseUrl,
        version: ApiVersion,
        hops: u8,
        redactor: Redactor,
    },
    SignOut {
        /// The token signed out is the session's own (not one given in the intent).
        own: bool,
        token: AuthToken,
    },
    SwitchSite {
        version: ApiVersion,
    },
    Ticket {
        site: SiteContentUrl,
    },
    CurrentSession,
}

impl Exchange {
    fn name(&self) -> &'static str {
        match self {
            Self::ServerInfo { .. } => "server info",
            Self::SignIn { .. } => "sign-in",
            Self::SignOut { .. } => "sign-out",
            Self::SwitchSite { .. } => "switch site",
            Self::Ticket { .. } => "trusted ticket",
            Self::CurrentSession => "current session",
        }
    }
}

/// A Tableau session: the Sans-IO state machine. See the crate docs for the driving loop.
///
/// After any `Err` the session is in a defined state: an exchange that failed is over, and the
/// session keeps what it had before that exchange (Idle, or SignedIn unchanged). A sign-out that
/// finds the session already gone is an [`Event`], not an error.
pub struct Session {
    config: Config,
    base: BaseUrl,
    version: Option<ApiVersion>,
    active: Option<Active>,
    exchange: Option<Exchange>,
    /// A plain-http base answered the anonymous probe without redirecting: it really is plain
    /// http, and secrets may go there (the caller chose an http URL).
    http_checked: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("base_url", &format_args!("{}", self.base))
            .field("api_version", &self.version)
            .field("signed_in", &self.active.as_ref().map(|a| &a.info))
            .field("in_flight", &self.exchange.as_ref().map(Exchange::name))
            .finish()
    }
}

impl Session {
    /// A session with nothing signed in.
    pub fn new(config: Config) -> Self {
        Self {
            base: config.base.clone(),
            version: config.api_version,
            config,
            active: None,
            exchange: None,
            http_checked: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The base URL in use: the configured one, or where a followed redirect moved it.
    pub fn base_url(&self) -> String {
        self.base.to_string()
    }

    /// The server the session's token may be sent to (the base URL in use): the check that
    /// [`Session::authorize_request`] makes, as a value an adapter can keep.
    pub fn origin(&self) -> Origin {
        self.base.origin()
    }

    /// The API version in use (fixed, negotiated, or `None` before the first exchange).
    pub fn api_version(&self) -> Option<ApiVersion> {
        self.version
    }

    /// Whether a session token is held.
    pub fn is_signed_in(&self) -> bool {
        self.active.is_some()
    }

    /// The current session, if signed in.
    pub fn signed_in(&self) -> Option<&SignedIn> {
        self.active.as_ref().map(|a| &a.info)
    }

    /// The session token, if signed in.
    pub fn token(&self) -> Option<&AuthToken> {
        self.active.as_ref().map(|a| &a.token)
    }

    /// Whether an exchange is in flight.
    pub fn is_busy(&self) -> bool {
        self.exchange.is_some()
    }

    /// Starts an exchange. Returns the first request to send, or `Done` when nothing needs to be
    /// sent (signing out without a session). Checks every version gate it can before anything is
    /// sent.
    pub fn start(&mut self, intent: Intent, now: Instant) -> Result<Step, Error> {
        let _ = now;
        if self.exchange.is_some() {
            return Err(Misuse::ExchangeInFlight.into());
        }
        match intent {
            Intent::ServerInfo => Ok(self.probe(None)?),
            Intent::SignIn(sign_in) => {
                check_mint_inputs(&sign_in)?;
                match self.version {
                    Some(version) if !self.must_check_http() => {
                        self.send_sign_in(&sign_in, self.base.clone(), version)
                    }
                    _ => self.probe(Some(Then::SignIn(Box::new(sign_in)))),
                }
            }
            Intent::SignOut => {
                let Some(active) = &self.active else {
                    return Ok(Step::Done(Event::SignedOut(SignOut::NotSignedIn)));
                };
                let (token, version) = (active.token.clone(), active.info.api_version);
                self.send_sign_out(token, version, true)
            }
            Intent::SignOutToken(token) => match self.version {
                _ if token.expose_secret().is_empty() => Err(Misuse::Empty("session token").into()),
                _ if !token.expose_secret().bytes().all(|b| b.is_ascii_graphic()) => {
                    Err(Misuse::InvalidCharacter("session token").into())
                }
                Some(version) if !self.must_check_http() => {
                    self.send_sign_out(token, version, false)
                }
                _ => self.probe(Some(Then::SignOut(token))),
            },
            Intent::SwitchSite(site) => {
                let Some(active) = &self.active else {
                    return Err(Misuse::NotSignedIn.into());
                };
                let version = active.info.api_version;
                if self.base.is_tableau_cloud() {
                    return Err(Error::NotOnTableauCloud {
                        feature: Feature::SwitchSite,
                    });
                }
                require(Feature::SwitchSite, version)?;
                self.require_format(version)?;
                let body = Body::SwitchSite {
                    site: site.as_str(),
                }
                .encode(self.config.format)?;
                let url = self.api_path(version, "/auth/switchSite");
                let request = self.request(Method::POST, &url, body, true)?;
                self.exchange = Some(Exchange::SwitchSite { version });
                Ok(Step::Send(request))
            }
            Intent::TrustedTicket(ticket) if self.must_check_http() => {
                self.probe(Some(Then::Ticket(ticket)))
            }
            Intent::TrustedTicket(ticket) => self.send_ticket(ticket),
            Intent::CurrentSession => {
                let Some(active) = &self.active else {
                    return Err(Misuse::NotSignedIn.into());
                };
                let version = active.info.api_version;
                // Believed gate (protocol §6.1: 3.1 per PSTableauREST).
                require(Feature::CurrentSession, version)?;
                self.require_format(version)?;
                let url = self.api_path(version, "/sessions/current");
                let request = self.request(Method::GET, &url, Vec::new(), true)?;
                self.exchange = Some(Exchange::CurrentSession);
                Ok(Step::Send(request))
            }
        }
    }

    /// Feeds the response to the request of the last [`Step::Send`]. The body should be read
    /// with a limit of [`Config::max_body`] + 1 bytes; it is wiped once parsed, since it may
    /// hold a token.
    pub fn handle_response(
        &mut self,
        response: Response<Vec<u8>>,
        now: Instant,
    ) -> Result<Step, Error> {
        let exchange = self.exchange.take().ok_or(Misuse::NoExchange)?;
        // Whatever the server sends back, no error may carry a secret of this exchange. The
        // secrets are gathered before the exchange is consumed, the redactor only on error.
        let mut exchange = exchange;
        let mut secrets = Redactor::default();
        match &mut exchange {
            // Moved, not copied: the sign-in's secrets travel with the response from here on.
            Exchange::SignIn { redactor: sent, .. } => secrets = std::mem::take(sent),
            Exchange::SignOut { token, .. }
            | Exchange::ServerInfo {
                then: Some(Then::SignOut(token)),
                ..
            } => secrets.push(token.expose_secret()),
            // The probe before a sign-in sends no secret, but a server may still echo one.
            Exchange::ServerInfo {
                then: Some(Then::SignIn(sign_in)),
                ..
            } => sign_in.credentials.add_secrets_to(&mut secrets),
            _ => {}
        }
        let result = self.exchange_response(exchange, response, now, &mut secrets);
        // After an error the session is as it was, so its token is the one the exchange had.
        result.map_err(|e| {
            secrets.extend(&self.token_redactor());
            e.scrubbed(&secrets)
        })
    }

    /// The response to `exchange`; `secrets` are the exchange's own (a redirected sign-in takes
    /// them back into its next exchange).
    fn exchange_response(
        &mut self,
        exchange: Exchange,
        response: Response<Vec<u8>>,
        now: Instant,
        secrets: &mut Redactor,
    ) -> Result<Step, Error> {
        let (parts, body) = response.into_parts();
        let body = Zeroizing::new(body);
        let (status, headers) = (parts.status, &parts.headers);
        // A sign-out is decided by its status alone: its body is never read.
        let sign_out_done = matches!(exchange, Exchange::SignOut { .. })
            && (status.is_success() || status == StatusCode::UNAUTHORIZED);
        if body.len() > self.config.max_body && !sign_out_done {
            return Err(Error::TooLarge {
                limit: self.config.max_body,
            });
        }
        match exchange {
            Exchange::ServerInfo {
                then,
                legacy,
                base,
                hops,
            } => self.on_server_info(status, headers, &body, then, legacy, base, hops),
            Exchange::SignIn {
                body: request_body,
                path,
                base,
                version,
                hops,
                redactor: _,
            } => {
                if redirect::is_redirect(status) {
                    let next = redirect::follow(&self.config, &base, &path, headers, hops)?;
                    let url = next.join(&path);
                    let request = self.request(Method::POST, &url, request_body.to_vec(), false)?;
                    self.exchange = Some(Exchange::SignIn {
                        body: request_body,
                        path,
                        base: next,
                        version,
                        hops: hops + 1,
                        redactor: std::mem::take(secrets),
                    });
                    return Ok(Step::Send(request));
                }
                if status.is_success() {
                    let info = self.on_credentials(&body, version, base, now, secrets)?;
                    return Ok(Step::Done(Event::SignedIn(info)));
                }
                let error = error_from_response(status, headers, &body, secrets);
                // A 405000 on sign-in is the tell-tale of a POST turned into a GET by a
                // redirect from http (protocol §12): name the https URL instead.
                if status == StatusCode::METHOD_NOT_ALLOWED && (!base.is_https() || hops > 0) {
                    return Err(Error::HttpsRequired {
                        https_url: base.to_https().to_string(),
                    });
                }
                Err(error)
            }
            Exchange::SignOut { own, .. } => {
                if status.is_success() || status == StatusCode::UNAUTHORIZED {
                    if own {
                        self.active = None;
                    }
                    let outcome = if status.is_success() {
                        SignOut::Confirmed
                    } else {
                        SignOut::AlreadyGone
                    };
                    return Ok(Step::Done(Event::SignedOut(outcome)));
                }
                // `secrets` holds the token signed out (the session's own or a saved one).
                Err(self.token_request_error(status, headers, &body, secrets))
            }
            Exchange::SwitchSite { version } => {
                if status.is_success() {
                    let redactor = self.token_redactor();
                    let base = self.base.clone();
                    let info = self.on_credentials(&body, version, base, now, &redactor)?;
                    return Ok(Step::Done(Event::SiteSwitched(info)));
                }
                let error =
                    self.token_request_error(status, headers, &body, &self.token_redactor());
                if error.code() == Some("403070") {
                    return Ok(Step::Done(Event::SiteUnchanged));
                }
                Err(error)
            }
            Exchange::Ticket { site } => {
                if !status.is_success() {
                    let redactor = self.token_redactor();
                    return Err(self.token_request_error(status, headers, &body, &redactor));
                }
                let text = std::str::from_utf8(&body).unwrap_or_default().trim();
                if text == "-1" {
                    return Err(Error::TicketRefused);
                }
                if !is_ticket_shaped(text) {
                    return Err(foreign(status, None, &body, &Redactor::default()));
                }
                let ticket =
                    TrustedTicket::new(TicketValue::new(text), site, self.base.to_string());
                Ok(Step::Done(Event::TicketIssued(ticket)))
            }
            Exchange::CurrentSession => self.on_current_session(status, headers, &body, now),
        }
    }

    /// Reads the answer to `sessions/current`. Never changes who is signed in: a 401 is an
    /// error (`is_reauth_needed`), and the session stays as it was, like a switch site's. A 2xx
    /// proves the token alive, so the idle clock restarts.
    fn on_current_session(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: Instant,
    ) -> Result<Step, Error> {
        let current = self.current_session_from(status, headers, body)?;
        self.touch(now);
        Ok(Step::Done(Event::CurrentSession(current)))
    }

    /// Reads an answer to `GET sessions/current` that the caller sent on its own (through
    /// [`Session::authorize_request`], a tower layer, another SDK's client): the reading
    /// [`Intent::CurrentSession`] does, with the same errors (a `401002` is
    /// [`Error::is_reauth_needed`], a redirect is refused, server text is scrubbed of the token,
    /// a body over [`Config::max_body`] is [`Error::TooLarge`]). It changes nothing: call
    /// [`Session::touch`] after a success, as after any authorized call.
    ///
    /// ```
    /// use tableau_auth_proto::{Config, Session, http};
    ///
    /// let session = Session::new(Config::builder("https://tableau.example.com").build()?);
    /// let body = br#"<tsResponse><session>
    ///     <site id="6b7179ba-b82b-4f0f-91ed-812074ac5da6" name="Finance Team" contentUrl="Finance"/>
    ///     <user id="1a96d216-e9b8-497b-a82a-0b899a965e01" name="jsmith" siteRole="Creator"/>
    ///   </session></tsResponse>"#;
    /// let me = session.read_current_session(&http::Response::new(&body[..]))?;
    /// assert_eq!((me.user_name.as_str(), me.site_name.as_str()), ("jsmith", "Finance Team"));
    /// assert_eq!(me.site_role.as_deref(), Some("Creator"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_current_session<B: AsRef<[u8]>>(
        &self,
        response: &Response<B>,
    ) -> Result<CurrentSession, Error> {
        let body = response.body().as_ref();
        if body.len() > self.config.max_body {
            return Err(Error::TooLarge {
                limit: self.config.max_body,
            });
        }
        self.current_session_from(response.status(), response.headers(), body)
    }

    fn current_session_from(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<CurrentSession, Error> {
        let redactor = self.token_redactor();
        if !status.is_success() {
            return Err(self.token_request_error(status, headers, body, &redactor));
        }
        let doc: SessionDoc<'_> = match wire::parse_session(body) {
            Some(doc) => doc,
            None => match wire::parse(body)? {
                Parsed::Tableau(doc) => match doc.session {
                    Some(doc) => doc,
                    None => return Err(missing(body, "session")),
                },
                _ => return Err(foreign(status, None, body, &redactor)),
            },
        };
        let SessionDoc { site, user } = doc;
        for (path, value) in [("session.site.id", &site.id), ("session.user.id", &user.id)] {
            if value.trim().is_empty() {
                return Err(Error::Decode {
                    format: sniff_format(body),
                    path: path.to_owned(),
                    message: "the identifier is empty".to_owned(),
                });
            }
        }
        let text = |value: Option<std::borrow::Cow<'_, str>>| value.map(|v| v.into_owned());
        Ok(CurrentSession {
            site_id: SiteId::from_server(&site.id),
            site_name: site.name.into_owned(),
            site_content_url: SiteContentUrl::from(&*site.content_url),
            user_id: UserId::from_server(&user.id),
            user_name: user.name.into_owned(),
            site_role: text(user.site_role),
            full_name: text(user.full_name),
            email: text(user.email),
            last_login: text(user.last_login),
            auth_setting: text(user.auth_setting),
            external_auth_user_id: text(user.external_auth_user_id),
            locale: text(user.locale),
            language: text(user.language),
        })
    }

    /// Drops the exchange in flight (a cancelled task, a transport error). The session keeps its
    /// state; the next [`Session::start`] is allowed.
    pub fn abort(&mut self) {
        self.exchange = None;
    }

    /// Adds `X-Tableau-Auth` (marked sensitive) to the caller's own REST request.
    pub fn authorize(&self, headers: &mut HeaderMap) -> Result<(), Error> {
        let active = self.active.as_ref().ok_or(Misuse::NotSignedIn)?;
        let mut value =
            HeaderValue::from_str(active.token.expose_secret()).map_err(|_| Misuse::NotSignedIn)?;
        value.set_sensitive(true);
        headers.insert(X_TABLEAU_AUTH, value);
        Ok(())
    }

    /// Adds `X-Tableau-Auth` to the caller's own request, after checking that it goes to this
    /// session's server: same scheme, host and port as the base URL in use. A token never goes
    /// to another host, or over plain http when the session is on https.
    pub fn authorize_request<B>(&self, request: &mut Request<B>) -> Result<(), Error> {
        if !self.base.serves(request.uri()) {
            return Err(Misuse::ForeignUrl.into());
        }
        self.authorize(request.headers_mut())
    }

    /// Records that the session was used at `now` (a response to an authorized call arrived):
    /// the server's idle clock restarted, so [`Session::poll_timeout`] moves later.
    pub fn touch(&mut self, now: Instant) {
        if let Some(active) = &mut self.active {
            active.last_used = active.last_used.max(now);
        }
    }

    /// When to sign in again before the session ends, and why; `None` when not signed in.
    /// The idle limit counts from the last [`Session::touch`] (or the sign-in).
    pub fn poll_timeout(&self) -> Option<(Instant, Expiry)> {
        let active = self.active.as_ref()?;
        self.renewal_schedule()?.renew_at(active.last_used)
    }

    /// The signed-in session's deadlines as plain values; `None` when not signed in.
    pub(crate) fn renewal_schedule(&self) -> Option<RenewalSchedule> {
        let active = self.active.as_ref()?;
        Some(RenewalSchedule {
            signed_in_at: active.signed_in_at,
            idle_limit: self.config.idle_limit,
            lifetime_at: self
                .config
                .lifetime_limit
                .and_then(|limit| active.signed_in_at.checked_add(limit)),
            credentials_expire_at: active.info.credentials_expire_at,
            margin: self.config.expiry_margin,
        })
    }

    /// Tells what a response to the caller's own authorized REST call means, so that no adapter
    /// parses Tableau errors itself. Secrets (the token) are scrubbed from any error text.
    pub fn classify<B: AsRef<[u8]>>(&self, response: &Response<B>) -> Verdict {
        let status = response.status();
        if status.is_success() {
            return Verdict::Success;
        }
        let error = if redirect::is_redirect(status) {
            redirect::refuse(&self.base, response.headers())
        } else {
            let body = response.body().as_ref();
            let body = body.get(..self.config.max_body).unwrap_or(body);
            error_from_response(status, response.headers(), body, &self.token_redactor())
        };
        if error.is_reauth_needed() {
            Verdict::Reauthenticate(error)
        } else if error.is_retryable() {
            Verdict::Retry(error)
        } else {
            Verdict::Fail(error)
        }
    }

    /// `{base}/api/{version}/{path}` for the caller's own calls (not site-scoped).
    pub fn api_url(&self, path: &str) -> Result<http::Uri, Error> {
        let version = self
            .active
            .as_ref()
            .map(|a| a.info.api_version)
            .or(self.version)
            .ok_or(Misuse::NotSignedIn)?;
        let url = self.api_path(version, &format!("/{}", path.trim_start_matches('/')));
        url.parse()
            .map_err(|_| Misuse::InvalidCharacter("API path").into())
    }

    /// `{base}/api/{version}/sites/{site-luid}/{path}` for the caller's site-scoped calls.
    pub fn site_url(&self, path: &str) -> Result<http::Uri, Error> {
        let active = self.active.as_ref().ok_or(Misuse::NotSignedIn)?;
        let url = self.api_path(
            active.info.api_version,
            &format!(
                "/sites/{}/{}",
                active.info.site_id,
                path.trim_start_matches('/')
            ),
        );
        url.parse()
            .map_err(|_| Misuse::InvalidCharacter("API path").into())
    }

    // ----- exchanges -------------------------------------------------------------------------

    fn probe(&mut self, then: Option<Then>) -> Result<Step, Error> {
        let base = self.base.clone();
        let request = self.get(&base.join(&server_info_path()))?;
        self.exchange = Some(Exchange::ServerInfo {
            then,
            legacy: false,
            base,
            hops: 0,
        });
        Ok(Step::Send(request))
    }

    #[allow(clippy::too_many_arguments)]
    fn on_server_info(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        then: Option<Then>,
        legacy: bool,
        base: BaseUrl,
        hops: u8,
    ) -> Result<Step, Error> {
        let path = if legacy {
            LEGACY_PROBE_PATH.to_owned()
        } else {
            server_info_path()
        };
        if redirect::is_redirect(status) {
            // The probe carries no secret; following an upgrade here means the credentials go
            // straight to https afterwards.
            let path_only = path.split('?').next().unwrap_or(&path);
            let next = redirect::follow(&self.config, &base, path_only, headers, hops)?;
            let request = self.get(&next.join(&path))?;
            self.exchange = Some(Exchange::ServerInfo {
                then,
                legacy,
                base: next,
                hops: hops + 1,
            });
            return Ok(Step::Send(request));
        }
        let no_secrets = Redactor::default();
        if !status.is_success() {
            let error = error_from_response(status, headers, body, &no_secrets);
            if !legacy && matches!(error.code(), Some("404003" | "404001")) {
                // A server older than 10.1 has no serverinfo: ask the pre-REST endpoint.
                let request = self.get(&base.join(LEGACY_PROBE_PATH))?;
                self.exchange = Some(Exchange::ServerInfo {
                    then,
                    legacy: true,
                    base,
                    hops,
                });
                return Ok(Step::Send(request));
            }
            return Err(error);
        }
        let info = match wire::parse(body)? {
            Parsed::Tableau(doc) => match doc.server_info {
                Some(si) => ServerInfo {
                    product_version: si.product_version.value.trim().to_owned(),
                    build: si.product_version.build.map(|b| b.into_owned()),
                    rest_api_version: si.rest_api_version.parse().map_err(|e| Error::Decode {
                        format: sniff_format(body),
                        path: "serverInfo.restApiVersion".to_owned(),
                        message: format!("{e}"),
                    })?,
                    platform: si.platform.map(|p| p.into_owned()),
                    legacy: false,
                },
                None => return Err(missing(body, "serverInfo")),
            },
            Parsed::Legacy(doc) => ServerInfo {
                rest_api_version: legacy_product_to_api(&doc.version.product_version),
                product_version: doc.version.product_version,
                build: None,
                platform: None,
                legacy: true,
            },
            Parsed::Foreign => return Err(foreign(status, None, body, &no_secrets)),
        };
        self.base = base;
        self.http_checked = true;
        if self.config.api_version.is_none() {
            let adopted = match self.config.max_api_version {
                Some(max) => info.rest_api_version.min(max),
                None => info.rest_api_version,
            };
            self.version = Some(adopted);
        }
        match (then, self.version) {
            (Some(Then::SignIn(sign_in)), Some(version)) => {
                self.send_sign_in(&sign_in, self.base.clone(), version)
            }
            (Some(Then::SignOut(token)), Some(version)) => {
                self.send_sign_out(token, version, false)
            }
            (Some(Then::Ticket(ticket)), _) => self.send_ticket(ticket),
            _ => Ok(Step::Done(Event::ServerInfo(info))),
        }
    }

    fn send_sign_in(
        &mut self,
        sign_in: &SignIn,
        base: BaseUrl,
        version: ApiVersion,
    ) -> Result<Step, Error> {
        let impersonate = sign_in.impersonate.as_ref().map(UserId::as_str);
        let mut redactor = Redactor::default();
        let site = sign_in.site.as_str();
        let encode = |fields: CredentialFields<'_>| {
            Body::SignIn {
                credentials: fields,
                site,
                impersonate,
            }
            .encode(self.config.format)
        };
        let body = match &sign_in.credentials {
            Credentials::Password { name, password } => {
                redactor.push(password.expose_secret());
                encode(CredentialFields::Password {
                    name,
                    password: password.expose_secret(),
                })?
            }
            Credentials::PersonalAccessToken { name, secret } => {
                require(Feature::PersonalAccessToken, version)?;
                if impersonate.is_some() {
                    require(Feature::PersonalAccessTokenImpersonation, version)?;
                }
                redactor.push(secret.expose_secret());
                encode(CredentialFields::PersonalAccessToken {
                    name,
                    secret: secret.expose_secret(),
                })?
            }
            Credentials::Jwt { jwt, is_uat } => {
                require(Feature::Jwt, version)?;
                if *is_uat {
                    require(Feature::UnifiedAccessToken, version)?;
                }
                redactor.push(jwt.expose_secret());
                encode(CredentialFields::Jwt {
                    jwt: jwt.expose_secret(),
                    is_uat: *is_uat,
                })?
            }
            #[cfg(feature = "jwt")]
            Credentials::ConnectedApp(app) => {
                require(Feature::Jwt, version)?;
                let inputs = sign_in.mint.ok_or(Misuse::MissingMintInputs)?;
                let jwt = app.mint(inputs)?;
                sign_in.credentials.add_secrets_to(&mut redactor);
                redactor.push(jwt.expose_secret());
                encode(CredentialFields::Jwt {
                    jwt: jwt.expose_secret(),
                    is_uat: false,
                })?
            }
        };
        let body = Zeroizing::new(body);
        self.require_format(version)?;
        let path = format!("/api/{version}/auth/signin");
        let request = self.request(Method::POST, &base.join(&path), body.to_vec(), false)?;
        self.exchange = Some(Exchange::SignIn {
            body,
            path,
            base,
            version,
            hops: 0,
            redactor,
        });
        Ok(Step::Send(request))
    }

    fn send_sign_out(
        &mut self,
        token: AuthToken,
        version: ApiVersion,
        own: bool,
    ) -> Result<Step, Error> {
        let url = self.api_path(version, "/auth/signout");
        let mut request = self.request(Method::POST, &url, Vec::new(), false)?;
        let mut value = HeaderValue::from_str(token.expose_secret())
            .map_err(|_| Misuse::InvalidCharacter("session token"))?;
        value.set_sensitive(true);
        request.headers_mut().insert(X_TABLEAU_AUTH, value);
        self.exchange = Some(Exchange::SignOut { own, token });
        Ok(Step::Send(request))
    }

    fn send_ticket(&mut self, ticket: TicketRequest) -> Result<Step, Error> {
        if self.base.is_tableau_cloud() {
            return Err(Error::NotOnTableauCloud {
                feature: Feature::TrustedTicket,
            });
        }
        if ticket.username.is_empty() {
            return Err(Misuse::Empty("ticket user name").into());
        }
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("username", &ticket.username);
        // Sent even when empty: some integrators report the Default site needs it explicitly.
        form.append_pair("target_site", ticket.target_site.as_str());
        if let Some(ip) = ticket.client_ip {
            form.append_pair("client_ip", &ip.to_string());
        }
        let body = form.finish().into_bytes();
        let mut request = self.request(Method::POST, &self.base.join("/trusted"), body, false)?;
        request.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
        );
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static("text/plain"));
        self.exchange = Some(Exchange::Ticket {
            site: ticket.target_site,
        });
        Ok(Step::Send(request))
    }

    /// Reads a `credentials` document into the new session state (sign-in and switch site).
    fn on_credentials(
        &mut self,
        body: &[u8],
        version: ApiVersion,
        base: BaseUrl,
        now: Instant,
        redactor: &Redactor,
    ) -> Result<SignedIn, Error> {
        let credentials: CredentialsDoc<'_> = match wire::parse_credentials(body) {
            Some(c) => c,
            None => match wire::parse(body)? {
                Parsed::Tableau(doc) => match doc.credentials {
                    Some(c) => c,
                    None => return Err(missing(body, "credentials")),
                },
                _ => return Err(foreign(StatusCode::OK, None, body, redactor)),
            },
        };
        let CredentialsDoc {
            token,
            estimated_time_to_expiration,
            site,
            user,
        } = credentials;
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::Decode {
                format: sniff_format(body),
                path: "credentials.token".to_owned(),
                message: "the token is empty or not printable ASCII".to_owned(),
            });
        }
        let moved_to = (base != self.config.base).then(|| base.to_string());
        let info = SignedIn {
            site_id: SiteId::from_server(&site.id),
            site_content_url: SiteContentUrl::from(&*site.content_url),
            user_id: UserId::from_server(&user.id),
            api_version: version,
            credentials_expire_at: estimated_time_to_expiration
                .as_deref()
                .and_then(wire::parse_estimated_time_to_expiration)
                .and_then(|d| now.checked_add(d)),
            moved_to,
        };
        self.active = Some(Active {
            token: AuthToken::from(secret_from_cow(token)),
            info: info.clone(),
            signed_in_at: now,
            last_used: now,
        });
        self.base = base;
        self.version = Some(version);
        Ok(info)
    }

    // ----- helpers -----------------------------------------------------------------------

    /// Whether the base is plain http and not yet known to stay so. Before a secret goes to
    /// such a base, the anonymous probe runs: a server that redirects it to https moves the
    /// session there, so the secret never travels in clear text (protocol §12).
    fn must_check_http(&self) -> bool {
        !self.base.is_https() && !self.http_checked
    }

    fn api_path(&self, version: ApiVersion, path: &str) -> String {
        self.base.join(&format!("/api/{version}{path}"))
    }

    fn require_format(&self, version: ApiVersion) -> Result<(), Error> {
        match self.config.format {
            Format::Json => require(Feature::Json, version),
            Format::Xml => Ok(()),
        }
    }

    /// The anonymous version probes. They always ask for XML, which every version has (JSON
    /// arrives only at 2.5, and the probe exists to find out the version); the answer is parsed
    /// whatever its format.
    fn get(&self, url: &str) -> Result<Request<Vec<u8>>, Error> {
        let mut request = self.request(Method::GET, url, Vec::new(), false)?;
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static(Format::Xml.media_type()));
        Ok(request)
    }

    fn request(
        &self,
        method: Method,
        url: &str,
        body: Vec<u8>,
        authorized: bool,
    ) -> Result<Request<Vec<u8>>, Error> {
        let format = self.config.format;
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(url)
            .header(USER_AGENT, self.config.user_agent.clone())
            .header(ACCEPT, format.media_type());
        if method == Method::POST {
            builder = builder.header(CONTENT_TYPE, format.media_type());
        }
        let mut request = builder
            .body(body)
            .map_err(|_| Misuse::InvalidCharacter("request URL"))?;
        if authorized {
            self.authorize(request.headers_mut())?;
        }
        Ok(request)
    }

    fn token_redactor(&self) -> Redactor {
        let mut redactor = Redactor::default();
        if let Some(active) = &self.active {
            redactor.push(active.token.expose_secret());
        }
        redactor
    }

    /// The error for a response to a request that carries the token (never follows redirects).
    fn token_request_error(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> Error {
        if redirect::is_redirect(status) {
            return redirect::refuse(&self.base, headers);
        }
        error_from_response(status, headers, body, redactor)
    }
}

const LEGACY_PROBE_PATH: &str = "/auth?format=xml";

fn server_info_path() -> String {
    format!("/api/{}/serverinfo", ApiVersion::SERVER_INFO_PROBE)
}

fn require(feature: Feature, actual: ApiVersion) -> Result<(), Error> {
    let required = feature.min_version();
    if actual < required {
        return Err(Error::Unsupported {
            feature,
            required,
            actual,
        });
    }
    Ok(())
}

fn check_mint_inputs(sign_in: &SignIn) -> Result<(), Error> {
    #[cfg(feature = "jwt")]
    if matches!(sign_in.credentials, Credentials::ConnectedApp(_)) && sign_in.mint.is_none() {
        return Err(Misuse::MissingMintInputs.into());
    }
    let _ = sign_in;
    Ok(())
}

fn sniff_format(body: &[u8]) -> Format {
    if body.trim_ascii_start().starts_with(b"{") {
        Format::Json
    } else {
        Format::Xml
    }
}

fn missing(body: &[u8], element: &str) -> Error {
    Error::Decode {
        format: sniff_format(body),
        path: element.to_owned(),
        message: format!("the response has no `{element}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn is<T: Send + Sync>() {}
        is::<Session>();
        is::<Step>();
        is::<Error>();
        is::<Verdict>();
    }
}
