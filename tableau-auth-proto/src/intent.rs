//! What the caller wants done: the inputs of [`crate::Session::start`].

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::SystemTime;

use secrecy::SecretString;

#[cfg(feature = "jwt")]
use crate::jwt::ConnectedApp;
use crate::mint::MintInputs;

/// One thing to do against the server. Each runs as a single exchange (possibly several
/// requests: a version probe, a redirect) and ends in one [`crate::Event`] or one error.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Intent {
    /// Ask the server its product and REST API versions (anonymous).
    ServerInfo,
    /// Sign in, replacing any current session when it succeeds.
    SignIn(SignIn),
    /// Sign out. Nothing is sent when there is no session.
    SignOut,
    /// Sign out a token held outside this session (saved by another process, say). The
    /// session's own state is not touched; the outcome is reported like [`Intent::SignOut`]'s.
    SignOutToken(crate::secret::AuthToken),
    /// Move the session to another site of the same Tableau Server.
    SwitchSite(SiteContentUrl),
    /// Ask Tableau Server for a trusted-authentication ticket.
    TrustedTicket(TicketRequest),
    /// Ask who and where the session is (`GET sessions/current`, API 3.1+): the user's and
    /// the site's names, and a cheap check that the token is alive. Needs a session. A `401`
    /// answer leaves the session as it was and is an error whose
    /// [`crate::Error::is_reauth_needed`] is true: sign in again (once) and retry.
    CurrentSession,
    /// Revoke every personal access token created by a server administrator
    /// (`DELETE auth/serverAdminAccessTokens`, API 3.11+, Tableau Server only; the caller must be
    /// a server administrator). Needs a session, which it leaves as it was whatever the answer:
    /// a 2xx is [`crate::Event::ServerAdminTokensRevoked`], anything else an error with
    /// Tableau's code (`403004`: not a server administrator). A `401` is an error whose
    /// [`crate::Error::is_reauth_needed`] is true, as for [`Intent::CurrentSession`].
    RevokeServerAdminTokens,
    /// Take up a session signed in elsewhere, from its token (saved by another process, an
    /// earlier run, a parent script): asks `GET sessions/current` with it (after the anonymous
    /// version probe when the version is not known yet, and the http→https check a sign-in
    /// makes). Alive, it becomes this session — the site and user the server names — and the
    /// answer is [`crate::Event::Resumed`]; refused (`401002`: expired or signed out), an
    /// error. A [`crate::Policy`] holding another session signs it out first, as before a new
    /// sign-in (so after a refusal it holds none); holding this very token, it sends no
    /// sign-out and keeps it. Credentials kept for later sign-ins are kept.
    Resume(crate::secret::AuthToken),
}

/// The contentUrl of a site (its "Site ID", as in `/#/site/Finance/`); `""` is the Default site
/// of Tableau Server. Case-sensitive, and not the site's display name. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct SiteContentUrl(Arc<str>);

impl SiteContentUrl {
    /// The site with this contentUrl.
    pub fn new(content_url: impl Into<String>) -> Self {
        Self(Arc::from(content_url.into()))
    }

    /// Tableau Server's Default site (`contentUrl=""`).
    pub fn default_site() -> Self {
        Self(Arc::from(""))
    }

    /// The contentUrl.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the Default site.
    pub fn is_default(&self) -> bool {
        self.0.is_empty()
    }

    /// The site for a person to read: `(Default site)` for `""`, the contentUrl otherwise.
    /// [`Display`](fmt::Display) writes the raw contentUrl (empty for the Default site), as a
    /// URL, a form or a machine-readable output wants it.
    ///
    /// ```
    /// use tableau_auth_proto::SiteContentUrl;
    /// assert_eq!(SiteContentUrl::default_site().to_string(), "");
    /// assert_eq!(SiteContentUrl::default_site().describe(), "(Default site)");
    /// assert_eq!(SiteContentUrl::new("Finance").describe(), "Finance");
    /// ```
    pub fn describe(&self) -> &str {
        if self.0.is_empty() {
            "(Default site)"
        } else {
            &self.0
        }
    }
}

/// The raw contentUrl: empty for the Default site (see [`SiteContentUrl::describe`]).
impl fmt::Display for SiteContentUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for SiteContentUrl {
    fn from(value: &str) -> Self {
        Self(Arc::from(value))
    }
}

impl From<String> for SiteContentUrl {
    fn from(value: String) -> Self {
        Self(Arc::from(value))
    }
}

impl From<&String> for SiteContentUrl {
    fn from(value: &String) -> Self {
        Self::from(value.as_str())
    }
}

macro_rules! luid_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Accepts a LUID: 36 characters, `8-4-4-4-12` hexadecimal digits.
            pub fn parse(luid: &str) -> Result<Self, InvalidLuid> {
                if is_luid(luid) {
                    Ok(Self(Arc::from(luid)))
                } else {
                    Err(InvalidLuid(luid.chars().take(64).collect()))
                }
            }

            /// Wraps an identifier as the server sent it (servers are trusted to send LUIDs).
            pub(crate) fn from_server(id: &str) -> Self {
                Self(Arc::from(id))
            }

            /// The LUID.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidLuid;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

luid_newtype!(
    /// The LUID of a user (from a sign-in response, or the user to impersonate).
    UserId
);
luid_newtype!(
    /// The LUID of a site, used in every site-scoped REST URL (`/sites/{site-luid}/…`).
    SiteId
);

/// A string that is not a LUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a LUID (36 characters, 8-4-4-4-12 hexadecimal digits)")]
pub struct InvalidLuid(String);

fn is_luid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The credentials of a sign-in. Exactly one kind per request.
#[derive(Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// A user name and password (refused on Tableau Cloud with MFA; use a PAT or JWT there).
    Password {
        /// The user name (domain-qualified for some Active Directory setups).
        name: String,
        /// The password.
        password: SecretString,
    },
    /// A personal access token (API 3.6+). One live session per PAT: a new sign-in with the same
    /// PAT ends the previous session.
    PersonalAccessToken {
        /// The token's name.
        name: String,
        /// The token's secret.
        secret: SecretString,
    },
    /// A ready-made JWT (connected app, EAS or UAT; API 3.17+).
    Jwt {
        /// The signed token.
        jwt: SecretString,
        /// `true` for a Tableau Cloud Unified Access Token (`isUat`, API 3.27+).
        is_uat: bool,
    },
    /// A connected app with direct trust: the core mints a fresh HS256 JWT for every sign-in.
    #[cfg(feature = "jwt")]
    ConnectedApp(ConnectedApp),
    /// A Tableau Cloud unified access token configuration: the core mints a fresh RS256 JWT
    /// for every sign-in, signed by the caller's [`crate::UatSigner`] (API 3.27+).
    #[cfg(feature = "jwt")]
    UnifiedAccess(Box<crate::UnifiedAccess>),
}

impl Credentials {
    /// Username and password credentials.
    pub fn password(name: impl Into<String>, password: impl Into<String>) -> Self {
        Self::Password {
            name: name.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// Personal access token credentials.
    pub fn personal_access_token(name: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::PersonalAccessToken {
            name: name.into(),
            secret: SecretString::from(secret.into()),
        }
    }

    /// A ready-made connected-app JWT.
    pub fn jwt(jwt: impl Into<String>) -> Self {
        Self::Jwt {
            jwt: SecretString::from(jwt.into()),
            is_uat: false,
        }
    }

    /// A Tableau Cloud unified access token configuration: a fresh token is minted and signed
    /// for every sign-in ([`crate::UnifiedAccess`]).
    #[cfg(feature = "jwt")]
    pub fn unified_access(uat: crate::UnifiedAccess) -> Self {
        Self::UnifiedAccess(Box::new(uat))
    }

    /// A Tableau Cloud Unified Access Token (sent with `isUat="true"`).
    pub fn unified_access_token(jwt: impl Into<String>) -> Self {
        Self::Jwt {
            jwt: SecretString::from(jwt.into()),
            is_uat: true,
        }
    }

    /// Adds every secret these credentials hold to `redactor`.
    pub(crate) fn add_secrets_to(&self, redactor: &mut crate::secret::Redactor) {
        use secrecy::ExposeSecret;
        match self {
            Self::Password { password, .. } => redactor.push(password.expose_secret()),
            Self::PersonalAccessToken { secret, .. } => redactor.push(secret.expose_secret()),
            Self::Jwt { jwt, .. } => redactor.push(jwt.expose_secret()),
            #[cfg(feature = "jwt")]
            Self::ConnectedApp(app) => redactor.push(app.secret_value()),
            // The key stays in the signer; each minted token is added where it is sent.
            #[cfg(feature = "jwt")]
            Self::UnifiedAccess(_) => {}
        }
    }

    /// A short name of the credential kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Password { .. } => "password",
            Self::PersonalAccessToken { .. } => "personal access token",
            Self::Jwt { is_uat: false, .. } => "JWT",
            Self::Jwt { is_uat: true, .. } => "unified access token",
            #[cfg(feature = "jwt")]
            Self::ConnectedApp(_) => "connected app",
            #[cfg(feature = "jwt")]
            Self::UnifiedAccess(_) => "unified access token (minted)",
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password { name, .. } => f
                .debug_struct("Password")
                .field("name", name)
                .field("password", &crate::secret::REDACTED)
                .finish(),
            Self::PersonalAccessToken { name, .. } => f
                .debug_struct("PersonalAccessToken")
                .field("name", name)
                .field("secret", &crate::secret::REDACTED)
                .finish(),
            Self::Jwt { is_uat, .. } => f
                .debug_struct("Jwt")
                .field("jwt", &crate::secret::REDACTED)
                .field("is_uat", is_uat)
                .finish(),
            #[cfg(feature = "jwt")]
            Self::ConnectedApp(app) => f.debug_tuple("ConnectedApp").field(app).finish(),
            #[cfg(feature = "jwt")]
            Self::UnifiedAccess(uat) => f.debug_tuple("UnifiedAccess").field(uat).finish(),
        }
    }
}

/// A sign-in: credentials, the site, and optionally a user to impersonate.
///
/// ```
/// use tableau_auth_proto::{Credentials, SignIn, UserId};
/// let sign_in = SignIn::new(Credentials::personal_access_token("etl", "secret"), "Finance")
///     .impersonate(UserId::parse("dd2239f6-ddf1-4107-981a-4cf94e415794")?);
/// # Ok::<(), tableau_auth_proto::InvalidLuid>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SignIn {
    pub(crate) credentials: Credentials,
    pub(crate) site: SiteContentUrl,
    pub(crate) impersonate: Option<UserId>,
    pub(crate) mint: Option<MintInputs>,
}

impl SignIn {
    /// Signs in with `credentials` to the site whose contentUrl is `site` (`""`: Default site).
    pub fn new(credentials: Credentials, site: impl Into<SiteContentUrl>) -> Self {
        Self {
            credentials,
            site: site.into(),
            impersonate: None,
            mint: None,
        }
    }

    /// The same sign-in to another site.
    pub fn with_site(mut self, site: impl Into<SiteContentUrl>) -> Self {
        self.site = site.into();
        self
    }

    /// Signs in as another user (by LUID); the caller must be an administrator.
    pub fn impersonate(mut self, user: UserId) -> Self {
        self.impersonate = Some(user);
        self
    }

    /// Supplies the clock reading and randomness for minting a connected-app JWT. Required for
    /// [`Credentials::ConnectedApp`], ignored by the other kinds, so adapters can always set it.
    pub fn mint_inputs(mut self, issued_at: SystemTime, random: [u8; 16]) -> Self {
        self.mint = Some(MintInputs { issued_at, random });
        self
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The site.
    pub fn site(&self) -> &SiteContentUrl {
        &self.site
    }
}

impl From<SignIn> for Intent {
    fn from(value: SignIn) -> Self {
        Self::SignIn(value)
    }
}

/// A request for a trusted ticket (`POST /trusted`, Tableau Server only).
#[derive(Debug, Clone)]
#[must_use]
pub struct TicketRequest {
    pub(crate) username: String,
    pub(crate) target_site: SiteContentUrl,
    pub(crate) client_ip: Option<Ipv4Addr>,
}

impl TicketRequest {
    /// A ticket for `username` (with multi-domain Active Directory, `DOMAIN\user`) on the
    /// Default site.
    pub fn new(username: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            target_site: SiteContentUrl::default_site(),
            client_ip: None,
        }
    }

    /// The site the ticket is for, by contentUrl.
    pub fn target_site(mut self, site: impl Into<SiteContentUrl>) -> Self {
        self.target_site = site.into();
        self
    }

    /// The end user's browser IP (IPv4 only, as Tableau supports), checked at redemption when the
    /// server matches client IPs.
    pub fn client_ip(mut self, ip: Ipv4Addr) -> Self {
        self.client_ip = Some(ip);
        self
    }

    /// The user the ticket is for.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The site the ticket is for.
    pub fn site(&self) -> &SiteContentUrl {
        &self.target_site
    }
}

impl From<TicketRequest> for Intent {
    fn from(value: TicketRequest) -> Self {
        Self::TrustedTicket(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luids_are_validated() {
        assert!(UserId::parse("dd2239f6-ddf1-4107-981a-4cf94e415794").is_ok());
        assert!(UserId::parse("DD2239F6-DDF1-4107-981A-4CF94E415794").is_ok());
        for bad in [
            "",
            "dd2239f6ddf14107981a4cf94e415794",
            "dd2239f6-ddf1-4107-981a-4cf94e41579g",
            "dd2239f6-ddf1-4107-981a-4cf94e4157945",
        ] {
            assert!(UserId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_site_comes_from_any_string_kind() {
        let from_settings = String::from("Finance");
        let site = SignIn::new(Credentials::password("u", "p"), &from_settings);
        assert_eq!(site.site.as_str(), "Finance");
        let site = SignIn::new(Credentials::password("u", "p"), from_settings);
        assert_eq!(site.site.as_str(), "Finance");
        assert!(SiteContentUrl::from(String::new()).is_default());
    }

    #[test]
    fn a_site_displays_raw_and_describes_itself_for_people() {
        let default = SiteContentUrl::default_site();
        assert_eq!(format!("{default}"), "");
        assert_eq!(default.describe(), "(Default site)");
        let finance = SiteContentUrl::new("Finance");
        assert_eq!(format!("{finance}"), "Finance");
        assert_eq!(finance.describe(), "Finance");
        // A site whose contentUrl happens to read like the description is still itself.
        assert_eq!(
            SiteContentUrl::new("(Default site)").to_string(),
            "(Default site)"
        );
        assert!(!SiteContentUrl::new("(Default site)").is_default());
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let all = [
            Credentials::password("u", "SENTINEL-pw"),
            Credentials::personal_access_token("n", "SENTINEL-pat"),
            Credentials::jwt("SENTINEL-jwt"),
        ];
        for c in all {
            let shown = format!("{c:?}");
            assert!(!shown.contains("SENTINEL"), "{shown}");
        }
    }
}
