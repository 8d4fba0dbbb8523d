//! Building requests: the sign-in, sign-out, switch-site, current-session, admin-token
//! revocation, ticket and probe requests the core sends, their common headers, and the token header.

use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue, USER_AGENT};
use http::{HeaderMap, Method, Request};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::urls::{server_info_path, sign_in_path};
use super::{Exchange, Session, Step, Then, X_TABLEAU_AUTH};
use crate::config::{BaseUrl, Format};
use crate::error::{Error, Misuse};
use crate::intent::{Credentials, SignIn, SiteContentUrl, TicketRequest, UserId};
use crate::secret::{AuthToken, Redactor};
use crate::version::{ApiVersion, Feature};
use crate::wire::{Body, CredentialFields};

impl Session {
    /// Adds `X-Tableau-Auth` (marked sensitive) to `headers`, without checking where they go:
    /// for the requests the core builds itself (and the fuzzer). The caller's own requests go
    /// through [`Session::authorize_request`], which checks the origin first.
    pub(crate) fn authorize(&self, headers: &mut HeaderMap) -> Result<(), Error> {
        let active = self.active.as_ref().ok_or(Misuse::NotSignedIn)?;
        let value = token_header(&active.token).map_err(|_| Misuse::NotSignedIn)?;
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

    pub(super) fn probe(&mut self, then: Option<Then>) -> Result<Step, Error> {
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

    pub(super) fn send_sign_in(
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
            #[cfg(feature = "jwt")]
            Credentials::UnifiedAccess(uat) => {
                require(Feature::Jwt, version)?;
                require(Feature::UnifiedAccessToken, version)?;
                let inputs = sign_in.mint.ok_or(Misuse::MissingMintInputs)?;
                let jwt = uat.mint(inputs)?;
                redactor.push(jwt.expose_secret());
                encode(CredentialFields::Jwt {
                    jwt: jwt.expose_secret(),
                    is_uat: true,
                })?
            }
        };
        let body = Zeroizing::new(body);
        self.require_format(version)?;
        let path = sign_in_path(version);
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

    pub(super) fn send_sign_out(
        &mut self,
        token: AuthToken,
        version: ApiVersion,
        own: bool,
    ) -> Result<Step, Error> {
        let url = self.api_path(version, "/auth/signout");
        let mut request = self.request(Method::POST, &url, Vec::new(), false)?;
        request
            .headers_mut()
            .insert(X_TABLEAU_AUTH, token_header(&token)?);
        self.exchange = Some(Exchange::SignOut { own, token });
        Ok(Step::Send(request))
    }

    /// `POST auth/switchSite` with the session's token (Tableau Server only, API 2.6+).
    pub(super) fn send_switch_site(
        &mut self,
        site: &SiteContentUrl,
        version: ApiVersion,
    ) -> Result<Step, Error> {
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

    /// `GET sessions/current` with the session's token.
    pub(super) fn send_current_session(&mut self, version: ApiVersion) -> Result<Step, Error> {
        let mut request = self.sessions_current(version)?;
        self.authorize(request.headers_mut())?;
        self.exchange = Some(Exchange::CurrentSession);
        Ok(Step::Send(request))
    }

    /// `GET sessions/current`, gated, without a token yet (the session's own, or a saved one).
    fn sessions_current(&self, version: ApiVersion) -> Result<Request<Vec<u8>>, Error> {
        // Believed gate (docs/protocol.md, "Version gates": 3.1 per PSTableauREST).
        require(Feature::CurrentSession, version)?;
        self.require_format(version)?;
        let url = self.api_path(version, "/sessions/current");
        self.request(Method::GET, &url, Vec::new(), false)
    }

    /// `GET sessions/current` with a saved token, to take its session up
    /// ([`crate::Intent::Resume`]).
    pub(super) fn send_resume(
        &mut self,
        token: AuthToken,
        version: ApiVersion,
    ) -> Result<Step, Error> {
        let mut request = self.sessions_current(version)?;
        request
            .headers_mut()
            .insert(X_TABLEAU_AUTH, token_header(&token)?);
        self.exchange = Some(Exchange::Resume { token, version });
        Ok(Step::Send(request))
    }

    /// `DELETE auth/serverAdminAccessTokens` with the session's token (Tableau Server only, API
    /// 3.11+): no body, `Accept` in the session's format.
    pub(super) fn send_revoke_server_admin_tokens(
        &mut self,
        version: ApiVersion,
    ) -> Result<Step, Error> {
        if self.base.is_tableau_cloud() {
            return Err(Error::NotOnTableauCloud {
                feature: Feature::RevokeServerAdminTokens,
            });
        }
        require(Feature::RevokeServerAdminTokens, version)?;
        self.require_format(version)?;
        let url = self.api_path(version, "/auth/serverAdminAccessTokens");
        let request = self.request(Method::DELETE, &url, Vec::new(), true)?;
        self.exchange = Some(Exchange::RevokeServerAdminTokens);
        Ok(Step::Send(request))
    }

    pub(super) fn send_ticket(&mut self, ticket: TicketRequest) -> Result<Step, Error> {
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

    fn require_format(&self, version: ApiVersion) -> Result<(), Error> {
        match self.config.format {
            Format::Json => require(Feature::Json, version),
            Format::Xml => Ok(()),
        }
    }

    /// The anonymous version probes. They always ask for XML, which every version has (JSON
    /// arrives only at 2.5, and the probe exists to find out the version); the answer is parsed
    /// whatever its format.
    pub(super) fn get(&self, url: &str) -> Result<Request<Vec<u8>>, Error> {
        let mut request = self.request(Method::GET, url, Vec::new(), false)?;
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static(Format::Xml.media_type()));
        Ok(request)
    }

    pub(super) fn request(
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

/// `X-Tableau-Auth` for `token`, marked sensitive (never logged by HTTP stacks that honour it).
fn token_header(token: &AuthToken) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(token.expose_secret())
        .map_err(|_| Misuse::InvalidCharacter("session token"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// A token given by the caller (to sign out or to resume) is one a header can carry.
pub(super) fn check_token(token: &AuthToken) -> Result<(), Error> {
    let text = token.expose_secret();
    if text.is_empty() {
        return Err(Misuse::Empty("session token").into());
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Misuse::InvalidCharacter("session token").into());
    }
    Ok(())
}

pub(super) fn check_mint_inputs(sign_in: &SignIn) -> Result<(), Error> {
    #[cfg(feature = "jwt")]
    if matches!(
        sign_in.credentials,
        Credentials::ConnectedApp(_) | Credentials::UnifiedAccess(_)
    ) && sign_in.mint.is_none()
    {
        return Err(Misuse::MissingMintInputs.into());
    }
    let _ = sign_in;
    Ok(())
}
