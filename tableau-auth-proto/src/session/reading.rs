//! Reading responses: server info, credentials, the current session and trusted tickets, and
//! what an answer to the caller's own call means (`classify`).

use std::time::Instant;

use http::{HeaderMap, Response, StatusCode};
use secrecy::ExposeSecret;

use super::urls::{LEGACY_PROBE_PATH, server_info_path};
use super::{Active, Exchange, Session, Step, Then};
use crate::config::{BaseUrl, Format};
use crate::error::Error;
use crate::event::{CurrentSession, Event, ServerInfo, SignedIn};
use crate::intent::{SiteContentUrl, SiteId, UserId};
use crate::redirect;
use crate::response::{Verdict, error_from_response, foreign};
use crate::secret::{AuthToken, Redactor, TicketValue, secret_from_cow};
use crate::ticket::{TrustedTicket, is_ticket_shaped};
use crate::version::{ApiVersion, legacy_product_to_api};
use crate::wire::{self, CredentialsDoc, Parsed, SessionDoc};

impl Session {
    /// Reads the answer to a version probe: follows an allowed redirect, falls back to the
    /// pre-REST endpoint, adopts the version, then sends what was waiting on it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_server_info(
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
            (Some(Then::Resume(token)), Some(version)) => self.send_resume(token, version),
            _ => Ok(Step::Done(Event::ServerInfo(info))),
        }
    }

    /// Reads a `credentials` document into the new session state (sign-in and switch site).
    pub(super) fn on_credentials(
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

    /// Reads the answer to `sessions/current`. Never changes who is signed in: a 401 is an
    /// error (`is_reauth_needed`), and the session stays as it was, like a switch site's. A 2xx
    /// proves the token alive, so the idle clock restarts.
    pub(super) fn on_current_session(
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

    /// Reads the answer to `DELETE auth/serverAdminAccessTokens`. Never changes the session: a
    /// 2xx (its body, normally empty, is not read) is the event and proves the token alive, so
    /// the idle clock restarts; anything else is the error Tableau's code says (`403004`: not a
    /// server administrator; a `401` is `is_reauth_needed`), a redirect is refused.
    pub(super) fn on_server_admin_tokens_revoked(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: Instant,
    ) -> Result<Step, Error> {
        self.token_request_succeeded(status, headers, body)?;
        self.touch(now);
        Ok(Step::Done(Event::ServerAdminTokensRevoked))
    }

    /// Reads the answer to `POST /trusted`: a ticket, or `-1` when the server refuses one.
    pub(super) fn on_ticket(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        site: SiteContentUrl,
    ) -> Result<Step, Error> {
        self.token_request_succeeded(status, headers, body)?;
        let text = std::str::from_utf8(body).unwrap_or_default().trim();
        if text == "-1" {
            return Err(Error::TicketRefused);
        }
        if !is_ticket_shaped(text) {
            return Err(foreign(status, None, body, &Redactor::default()));
        }
        let ticket = TrustedTicket::new(TicketValue::new(text), site, self.base.to_string());
        Ok(Step::Done(Event::TicketIssued(ticket)))
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
    ///
    /// [`Intent::CurrentSession`]: crate::Intent::CurrentSession
    /// [`Config::max_body`]: crate::Config::max_body
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
        self.token_request_succeeded(status, headers, body)?;
        parse_current_session(status, body, &self.token_redactor())
    }

    /// Reads the answer to `GET sessions/current` asked with a saved token
    /// ([`crate::Intent::Resume`]): alive, it becomes this session; anything else is the error
    /// Tableau's code says (scrubbed of that token), and the session stays as it was.
    #[allow(clippy::too_many_arguments)] // one exchange's every input
    pub(super) fn on_resumed(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        token: AuthToken,
        version: ApiVersion,
        now: Instant,
        secrets: &Redactor,
    ) -> Result<Step, Error> {
        if !status.is_success() {
            return Err(self.token_request_error(status, headers, body, secrets));
        }
        let current = parse_current_session(status, body, secrets)?;
        let info = SignedIn {
            site_id: current.site_id.clone(),
            site_content_url: current.site_content_url.clone(),
            user_id: current.user_id.clone(),
            api_version: version,
            credentials_expire_at: None,
            moved_to: None,
        };
        self.active = Some(Active {
            token,
            info,
            signed_in_at: now,
            last_used: now,
        });
        self.version = Some(version);
        Ok(Step::Done(Event::Resumed(current)))
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

    /// The session's token, to scrub from any server text.
    pub(super) fn token_redactor(&self) -> Redactor {
        let mut redactor = Redactor::default();
        if let Some(active) = &self.active {
            redactor.push(active.token.expose_secret());
        }
        redactor
    }

    /// `Ok` for a 2xx answer to a request that carries the session's token, else its error
    /// ([`Session::token_request_error`], scrubbed of the token).
    fn token_request_succeeded(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), Error> {
        if status.is_success() {
            return Ok(());
        }
        Err(self.token_request_error(status, headers, body, &self.token_redactor()))
    }

    /// The error for a response to a request that carries the token (never follows redirects).
    pub(super) fn token_request_error(
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

/// A `sessions/current` document (XML or JSON) read into a [`CurrentSession`]; `redactor` holds
/// the token the request carried.
fn parse_current_session(
    status: StatusCode,
    body: &[u8],
    redactor: &Redactor,
) -> Result<CurrentSession, Error> {
    let doc: SessionDoc<'_> = match wire::parse_session(body) {
        Some(doc) => doc,
        None => match wire::parse(body)? {
            Parsed::Tableau(doc) => match doc.session {
                Some(doc) => doc,
                None => return Err(missing(body, "session")),
            },
            _ => return Err(foreign(status, None, body, redactor)),
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
