//! What an exchange ended in: the outputs of [`crate::Session::handle_response`].

use std::time::Instant;

use crate::intent::{SiteContentUrl, SiteId, UserId};
use crate::ticket::TrustedTicket;
use crate::version::ApiVersion;

/// The outcome of a finished exchange.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The server's versions (and the session adopted its API version unless one was fixed).
    ServerInfo(ServerInfo),
    /// Signed in; the token is in [`crate::Session::token`].
    SignedIn(SignedIn),
    /// The session is over (or there was none); local state is cleared in every case.
    SignedOut(SignOut),
    /// Moved to another site; the new token replaced the old one.
    SiteSwitched(SignedIn),
    /// The server said the session is already on that site (`403070`); nothing changed.
    SiteUnchanged,
    /// A trusted ticket was issued.
    TicketIssued(TrustedTicket),
    /// Who and where the session is, from `GET sessions/current`.
    CurrentSession(CurrentSession),
    /// The server revoked every personal access token created by a server administrator
    /// (`DELETE auth/serverAdminAccessTokens` answered 2xx, usually 204). The session is
    /// unchanged.
    ServerAdminTokensRevoked,
    /// A session signed in elsewhere was taken up from its token ([`crate::Intent::Resume`]):
    /// who and where it is, as `GET sessions/current` told.
    Resumed(CurrentSession),
}

/// A new session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedIn {
    /// The site's LUID, for site-scoped URLs.
    pub site_id: SiteId,
    /// The site's contentUrl as the server echoed it.
    pub site_content_url: SiteContentUrl,
    /// The signed-in (or impersonated) user's LUID.
    pub user_id: UserId,
    /// The API version the session uses from now on.
    pub api_version: ApiVersion,
    /// When the credentials themselves (a PAT) are estimated to expire, from
    /// `estimatedTimeToExpiration`.
    pub credentials_expire_at: Option<Instant>,
    /// When a redirect was followed, the base URL the caller should configure from now on.
    pub moved_to: Option<String>,
}

/// How a sign-out ended. None of these is an error: a session that is gone is what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignOut {
    /// The server ended the session (204).
    Confirmed,
    /// The server said the token was already invalid (401: expired, signed out or superseded).
    AlreadyGone,
    /// There was no session; nothing was sent.
    NotSignedIn,
    /// The session is a fleet's ([`crate::FleetConfig`]): it was left signed in for the other
    /// processes and forgotten here; nothing was sent. [`crate::Call::Retire`] ends it for all.
    LeftToFleet,
    /// The sign-out was for a scope's session ([`crate::Call::EndScope`]: a guard, a `with`
    /// block), but the client has signed in anew since: that newer session was left signed in,
    /// and nothing was sent.
    Replaced,
}

/// The server's versions, from `serverinfo` (or the legacy `/auth?format=xml` probe).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The product version (`2025.1.3`).
    pub product_version: String,
    /// The build (`20251.25.0318.0917`), when sent.
    pub build: Option<String>,
    /// The newest REST API version the server speaks.
    pub rest_api_version: ApiVersion,
    /// `linux` or `windows`, on servers that say.
    pub platform: Option<String>,
    /// Whether this came from the legacy pre-2.4 probe (the version is then TSC's mapping).
    pub legacy: bool,
}

/// Who and where the session is: the answer to `GET sessions/current`
/// ([`crate::Intent::CurrentSession`]). Unlike [`SignedIn`], it has the user's and the site's
/// *names*; it also proves that the token is alive.
///
/// The optional fields are the user attributes Tableau documents as optional; they are passed
/// on as the server sent them (`last_login` is an ISO 8601 text such as `2025-05-02T08:14:55Z`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CurrentSession {
    /// The site's LUID.
    pub site_id: SiteId,
    /// The site's display name (`Finance Team`).
    pub site_name: String,
    /// The site's contentUrl (`""` for the Default site).
    pub site_content_url: SiteContentUrl,
    /// The user's LUID (the impersonated user's, when impersonating).
    pub user_id: UserId,
    /// The user's name (`jsmith@example.com`).
    pub user_name: String,
    /// The user's site role (`Creator`, `Explorer`, `SiteAdministratorCreator`, …).
    pub site_role: Option<String>,
    /// The user's full (display) name.
    pub full_name: Option<String>,
    /// The user's email address.
    pub email: Option<String>,
    /// When the user last signed in, as the server wrote it.
    pub last_login: Option<String>,
    /// The user's authentication setting (`ServerDefault`, `SAML`, `OpenID`, …).
    pub auth_setting: Option<String>,
    /// The user's identifier in the external identity provider.
    pub external_auth_user_id: Option<String>,
    /// The user's locale (`en_US`).
    pub locale: Option<String>,
    /// The user's language (`en`).
    pub language: Option<String>,
}
