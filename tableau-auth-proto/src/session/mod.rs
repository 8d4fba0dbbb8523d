//! The session state machine: one exchange in flight, state `Idle` or `SignedIn`.
//!
//! This module holds the states, the exchange in flight and the dispatch of responses to it;
//! building requests is in `requests`, reading responses in `reading`, URLs in `urls`.

mod reading;
mod requests;
mod urls;

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::header::HeaderName;
use http::{Method, Request, Response, StatusCode};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::config::{BaseUrl, Config, Origin};
use crate::error::{Error, Misuse};
use crate::event::{Event, SignOut, SignedIn};
use crate::expiry::{Expiry, RenewalSchedule};
use crate::fleet::SharedSession;
use crate::intent::{Intent, SignIn, SiteContentUrl, SiteId, TicketRequest, UserId};
use crate::redirect;
use crate::response::error_from_response;
use crate::secret::{AuthToken, Redactor};
use crate::version::ApiVersion;
use requests::{check_mint_inputs, check_token};
pub(crate) use urls::{NO_QUERY, build_url};

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
            Self::Send(r) => debug_send(f, r),
            Self::Done(e) => f.debug_tuple("Done").field(e).finish(),
        }
    }
}

/// `Send(POST https://… [312 bytes])`: a request to send as `Debug` shows it. Its body may hold
/// credentials (a sign-in's), so only its size is shown.
pub(crate) fn debug_send(f: &mut fmt::Formatter<'_>, r: &Request<Vec<u8>>) -> fmt::Result {
    write!(
        f,
        "Send({} {} [{} bytes])",
        r.method(),
        r.uri(),
        r.body().len()
    )
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
    Resume(AuthToken),
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
    RevokeServerAdminTokens,
    Resume {
        token: AuthToken,
        version: ApiVersion,
    },
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
            Self::RevokeServerAdminTokens => "revoke server admin tokens",
            Self::Resume { .. } => "resume a session",
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
    /// The session is shared by a fleet: the idle limit is not this process's to estimate.
    shared: bool,
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
            shared: false,
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
            Intent::SignOutToken(token) => {
                check_token(&token)?;
                match self.version {
                    Some(version) if !self.must_check_http() => {
                        self.send_sign_out(token, version, false)
                    }
                    _ => self.probe(Some(Then::SignOut(token))),
                }
            }
            Intent::Resume(token) => {
                check_token(&token)?;
                match self.version {
                    Some(version) if !self.must_check_http() => self.send_resume(token, version),
                    _ => self.probe(Some(Then::Resume(token))),
                }
            }
            Intent::SwitchSite(site) => {
                let Some(active) = &self.active else {
                    return Err(Misuse::NotSignedIn.into());
                };
                let version = active.info.api_version;
                self.send_switch_site(&site, version)
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
                self.send_current_session(version)
            }
            Intent::RevokeServerAdminTokens => {
                let Some(active) = &self.active else {
                    return Err(Misuse::NotSignedIn.into());
                };
                let version = active.info.api_version;
                self.send_revoke_server_admin_tokens(version)
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
            | Exchange::Resume { token, .. }
            | Exchange::ServerInfo {
                then: Some(Then::SignOut(token) | Then::Resume(token)),
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
                // redirect from http (docs/protocol.md, "Redirects"): name the https URL instead.
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
            Exchange::Ticket { site } => self.on_ticket(status, headers, &body, site),
            Exchange::CurrentSession => self.on_current_session(status, headers, &body, now),
            Exchange::RevokeServerAdminTokens => {
                self.on_server_admin_tokens_revoked(status, headers, &body, now)
            }
            Exchange::Resume { token, version } => {
                self.on_resumed(status, headers, &body, token, version, now, secrets)
            }
        }
    }

    /// Drops the exchange in flight (a cancelled task, a transport error). The session keeps its
    /// state; the next [`Session::start`] is allowed.
    pub fn abort(&mut self) {
        self.exchange = None;
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
            idle_limit: if self.shared {
                Duration::MAX
            } else {
                self.config.idle_limit
            },
            lifetime_at: self
                .config
                .lifetime_limit
                .and_then(|limit| active.signed_in_at.checked_add(limit)),
            credentials_expire_at: active.info.credentials_expire_at,
            margin: self.config.expiry_margin,
        })
    }

    /// Marks the session as shared by a fleet ([`crate::FleetConfig`]): other processes use it
    /// too, so this one's last use says nothing about the server's idle clock, and no renewal is
    /// scheduled for the idle limit (a lapsed session is signed in again on its `401002`).
    pub(crate) fn set_shared(&mut self, shared: bool) {
        self.shared = shared;
    }

    /// Takes a session another process signed in ([`crate::Policy`] adopting a fleet's record).
    /// Its deadlines count from its sign-in on the wall clock (`wall` is `now` on that clock).
    pub(crate) fn adopt(
        &mut self,
        shared: &SharedSession,
        now: Instant,
        wall: SystemTime,
    ) -> Result<(), Error> {
        if self.exchange.is_some() {
            return Err(Misuse::ExchangeInFlight.into());
        }
        let wall_secs = wall
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let age = Duration::from_secs(wall_secs.saturating_sub(shared.signed_in));
        let signed_in_at = now.checked_sub(age).unwrap_or(now);
        let credentials_expire_at = shared.credentials_expire.map(|at| {
            now.checked_add(Duration::from_secs(at.saturating_sub(wall_secs)))
                .unwrap_or(now)
        });
        let info = SignedIn {
            site_id: SiteId::from_server(&shared.site_id),
            site_content_url: SiteContentUrl::from(shared.site_content_url.as_str()),
            user_id: UserId::from_server(&shared.user_id),
            api_version: shared.api_version,
            credentials_expire_at,
            moved_to: None,
        };
        if self.version.is_none() {
            self.version = Some(shared.api_version);
        }
        self.active = Some(Active {
            token: shared.token.clone(),
            info,
            signed_in_at,
            last_used: signed_in_at,
        });
        Ok(())
    }

    /// The signed-in session as a fleet shares it; `wall` is the sign-in's time on the wall
    /// clock.
    pub(crate) fn to_shared(&self, wall: SystemTime, now: Instant) -> Option<SharedSession> {
        let active = self.active.as_ref()?;
        let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).ok();
        let age = now.saturating_duration_since(active.signed_in_at);
        let signed_in = secs(wall.checked_sub(age).unwrap_or(wall))?;
        let credentials_expire = active.info.credentials_expire_at.and_then(|at| {
            let ahead = at.saturating_duration_since(now);
            wall.checked_add(ahead).and_then(secs)
        });
        Some(SharedSession {
            token: active.token.clone(),
            site_id: active.info.site_id.as_str().to_owned(),
            site_content_url: active.info.site_content_url.as_str().to_owned(),
            user_id: active.info.user_id.as_str().to_owned(),
            api_version: active.info.api_version,
            signed_in,
            credentials_expire,
        })
    }

    /// Forgets the session without signing it out (a fleet's session stays signed in for the
    /// other processes).
    pub(crate) fn forget(&mut self) {
        self.active = None;
    }

    /// Whether the base is plain http and not yet known to stay so. Before a secret goes to
    /// such a base, the anonymous probe runs: a server that redirects it to https moves the
    /// session there, so the secret never travels in clear text (docs/protocol.md, "Redirects").
    fn must_check_http(&self) -> bool {
        !self.base.is_https() && !self.http_checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::Verdict;

    #[test]
    fn public_types_are_send_and_sync() {
        fn is<T: Send + Sync>() {}
        is::<Session>();
        is::<Step>();
        is::<Error>();
        is::<Verdict>();
    }
}
