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
