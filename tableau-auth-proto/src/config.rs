//! What a session needs to know before it sends anything: where the server is, which wire
//! format and API version to use, and the limits it keeps.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use http::uri::{Scheme, Uri};

use crate::version::ApiVersion;

/// The wire format of request and response bodies, chosen per session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// `application/xml`, Tableau's default (every API version).
    #[default]
    Xml,
    /// `application/json` (API 2.5 and later).
    Json,
}

impl Format {
    /// The media type sent in `Accept` and `Content-Type`.
    pub const fn media_type(self) -> &'static str {
        match self {
            Self::Xml => "application/xml",
            Self::Json => "application/json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Xml => "XML",
            Self::Json => "JSON",
        })
    }
}

/// A configuration the core refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The server URL could not be parsed.
    #[error("the server URL `{0}` is not a valid absolute URL")]
    InvalidUrl(String),
    /// The server URL has no scheme or a scheme other than `http`/`https`.
    #[error("the server URL `{0}` must start with https:// (or http://)")]
    Scheme(String),
    /// The server URL carries a query or a fragment.
    #[error("the server URL `{0}` must not carry a query or a fragment")]
    QueryOrFragment(String),
    /// The user agent is not a valid header value.
    #[error("the user agent is not a valid HTTP header value")]
    UserAgent,
    /// A limit was zero or out of range.
    #[error("{0}")]
    Limit(&'static str),
}

/// The one server a session's token may be sent to: a scheme and an authority (host and port as
/// the base URL spells them). Cheap to clone; from [`crate::Session::origin`].
///
/// ```
/// use tableau_auth_proto::{Config, Session, http::Uri};
///
/// let session = Session::new(Config::builder("https://tableau.example.com").build()?);
/// let origin = session.origin();
/// assert!(origin.matches(&"https://TABLEAU.example.com/api/3.25/sites".parse::<Uri>()?));
/// assert!(!origin.matches(&"http://tableau.example.com/api".parse::<Uri>()?), "plain http");
/// assert!(!origin.matches(&"https://tableau.example.com:8443/api".parse::<Uri>()?), "another port");
/// assert!(!origin.matches(&"https://evil.example/api".parse::<Uri>()?), "another host");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    https: bool,
    authority: Arc<str>,
}

impl Origin {
    /// Whether `uri` goes to this server: the same scheme and the same authority (host and
    /// port spelled the same way, letter case aside). Anything else — another host, another
    /// port, plain http, a relative URI — is not this server, and gets no token.
    pub fn matches(&self, uri: &Uri) -> bool {
        same_origin(self.https, &self.authority, uri)
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// The host and port, as the base URL spells them.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Whether a URL with these parts goes to this server, for an HTTP stack whose URLs are
    /// not `http::Uri`s (`url::Url`: `scheme()`, `host_str()`, `port()`): the same scheme, the
    /// same host (letter case aside; an IPv6 address in brackets), the same port (a default
    /// port and none compare equal).
    pub fn matches_parts(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let default = if self.https { 443 } else { 80 };
        let (own_host, own_port) = split_authority(&self.authority);
        scheme == self.scheme()
            && own_host.eq_ignore_ascii_case(host)
            && own_port.unwrap_or(default) == port.unwrap_or(default)
    }
}

/// `host[:port]` or `[v6][:port]` as host and port.
fn split_authority(authority: &str) -> (&str, Option<u16>) {
    match authority.rsplit_once(':') {
        Some((host, port))
            if !port.contains(']') && (!host.starts_with('[') || host.ends_with(']')) =>
        {
            match port.parse() {
                Ok(port) => (host, Some(port)),
                Err(_) => (authority, None),
            }
        }
        _ => (authority, None),
    }
}

fn same_origin(https: bool, authority: &str, uri: &Uri) -> bool {
    uri.scheme_str() == Some(if https { "https" } else { "http" })
        && uri
            .authority()
            .is_some_and(|a| a.as_str().eq_ignore_ascii_case(authority))
}

/// The validated base URL of a Tableau server: scheme, authority and an optional path prefix.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl {
    https: bool,
    authority: String,
    /// Empty, or a prefix starting with `/` and without a trailing `/`.
    prefix: String,
}

impl BaseUrl {
    pub(crate) fn parse(text: &str) -> Result<Self, ConfigError> {
        // Never echo user info (`https://user:password@host`) back in an error.
        let shown = || match (text.find("://"), text.rfind('@')) {
            (Some(start), Some(at)) if at > start => {
                let (scheme, rest) = text.split_at(start + 3);
                let host = rest.rsplit('@').next().unwrap_or_default();
                format!("{scheme}[redacted]@{host}")
                    .chars()
                    .take(200)
                    .collect()
            }
            _ => text.chars().take(200).collect::<String>(),
        };
        let uri: Uri = text
            .trim()
            .parse()
            .map_err(|_| ConfigError::InvalidUrl(shown()))?;
        let https = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => return Err(ConfigError::Scheme(shown())),
        };
        let authority = match uri.authority() {
            Some(a) if !a.host().is_empty() => a.as_str().to_ascii_lowercase(),
            _ => return Err(ConfigError::InvalidUrl(shown())),
        };
        if authority.contains('@') {
            // user:password@host would put a secret into every URL we print.
            return Err(ConfigError::InvalidUrl(shown()));
        }
        if uri.query().is_some() || text.contains('#') {
            return Err(ConfigError::QueryOrFragment(shown()));
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            https,
            authority,
            prefix,
        })
    }

    pub(crate) fn is_https(&self) -> bool {
        self.https
    }

    /// Whether `uri` goes to this server (see [`Origin::matches`]).
    pub(crate) fn serves(&self, uri: &Uri) -> bool {
        same_origin(self.https, &self.authority, uri)
    }

    pub(crate) fn origin(&self) -> Origin {
        Origin {
            https: self.https,
            authority: Arc::from(self.authority.as_str()),
        }
    }

    pub(crate) fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    pub(crate) fn authority(&self) -> &str {
        &self.authority
    }

    pub(crate) fn host(&self) -> &str {
        host_of_authority(&self.authority)
    }

    /// The same server over https, with the default port if the http one was the default.
    pub(crate) fn to_https(&self) -> Self {
        let authority = match self.authority.strip_suffix(":80") {
            Some(host) => host.to_owned(),
            None => self.authority.clone(),
        };
        Self {
            https: true,
            authority,
            prefix: self.prefix.clone(),
        }
    }

    /// The same prefix on `https://{authority}`.
    pub(crate) fn moved_to_https(&self, authority: &str) -> Self {
        Self {
            https: true,
            authority: authority.to_ascii_lowercase(),
            prefix: self.prefix.clone(),
        }
    }

    /// `{scheme}://{authority}{prefix}{path}`; `path` starts with `/`.
    pub(crate) fn join(&self, path: &str) -> String {
        format!(
            "{}://{}{}{}",
            self.scheme(),
            self.authority,
            self.prefix,
            path
        )
    }

    /// Whether this server is Tableau Cloud (a `*.online.tableau.com` pod or the bare host).
    pub(crate) fn is_tableau_cloud(&self) -> bool {
        is_cloud_host(self.host())
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme(), self.authority, self.prefix)
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({self})")
    }
}

pub(crate) fn host_of_authority(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        // An IPv6 literal: `[::1]:443`.
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split(':').next().unwrap_or(authority)
}

pub(crate) fn is_cloud_host(host: &str) -> bool {
    host == "online.tableau.com" || host.ends_with(".online.tableau.com")
}

/// How a [`crate::Session`] talks to one server. Build it with [`Config::builder`].
///
/// ```
/// use std::time::Duration;
/// use tableau_auth_proto::{Config, Format};
///
/// let config = Config::builder("https://tableau.example.com")
///     .format(Format::Json)
///     .idle_limit(Duration::from_secs(240 * 60))
///     .build()?;
/// assert_eq!(config.api_version(), None); // asked of the server before signing in
/// # Ok::<(), tableau_auth_proto::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) base: BaseUrl,
    pub(crate) api_version: Option<ApiVersion>,
    pub(crate) max_api_version: Option<ApiVersion>,
    pub(crate) format: Format,
    pub(crate) user_agent: HeaderValue,
    pub(crate) max_body: usize,
    pub(crate) redirect_hosts: Vec<String>,
    pub(crate) max_redirects: u8,
    pub(crate) expiry_margin: Duration,
    pub(crate) credentials_warning: Duration,
    pub(crate) idle_limit: Duration,
    pub(crate) lifetime_limit: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    pub(crate) reauthenticate: bool,
    pub(crate) renew_before_expiry: bool,
}

/// The caps of the [`crate::Policy`] on waiting out a throttled (429) or unavailable (503)
/// server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// How many times one call retries.
    pub(crate) max_retries: u32,
    /// The longest one call waits in all.
    pub(crate) max_wait: Duration,
    /// The wait when the server sends no usable `Retry-After`.
    pub(crate) default_delay: Duration,
}

impl Config {
    /// The default number of retries of one call on 429/503: 3.
    pub const DEFAULT_MAX_RETRIES: u32 = 3;
    /// The default cap on one call's total wait on 429/503: 60 s.
    pub const DEFAULT_MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
    /// The wait on a 429/503 without a usable `Retry-After`: 1 s.
    pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);
    /// The default limit on a response body: 1 MiB, far above any authentication response.
    pub const DEFAULT_MAX_BODY: usize = 1 << 20;
    /// The default idle limit assumed for a session: 120 minutes. Tableau Cloud's is 120
    /// minutes (a Salesforce KB); Tableau Server's default is 240 (`wgserver.session.idle_limit`).
    pub const DEFAULT_IDLE_LIMIT: Duration = Duration::from_secs(120 * 60);
    /// The default margin before expiry at which [`crate::Session::poll_timeout`] fires: 60 s.
    pub const DEFAULT_EXPIRY_MARGIN: Duration = Duration::from_secs(60);
    /// How close to the end of the credentials' lifetime a sign-in warns by default
    /// ([`crate::lifecycle::SessionEvent::CredentialsExpiring`]): 14 days.
    pub const DEFAULT_CREDENTIALS_WARNING: Duration = Duration::from_secs(14 * 24 * 3600);

    /// Starts a configuration for the server at `base_url` (`https://host[:port][/prefix]`).
    pub fn builder(base_url: impl Into<String>) -> ConfigBuilder {
        ConfigBuilder {
            base_url: base_url.into(),
            api_version: None,
            max_api_version: None,
            format: Format::Xml,
            user_agent: None,
            max_body: Self::DEFAULT_MAX_BODY,
            redirect_hosts: Vec::new(),
            max_redirects: 2,
            expiry_margin: Self::DEFAULT_EXPIRY_MARGIN,
            credentials_warning: Self::DEFAULT_CREDENTIALS_WARNING,
            idle_limit: Self::DEFAULT_IDLE_LIMIT,
            lifetime_limit: None,
            retry: RetryPolicy {
                max_retries: Self::DEFAULT_MAX_RETRIES,
                max_wait: Self::DEFAULT_MAX_RETRY_WAIT,
                default_delay: Self::DEFAULT_RETRY_DELAY,
            },
            reauthenticate: true,
            renew_before_expiry: true,
        }
    }

    /// How long the policy pauses proactive renewal after a failed attempt (the old token is
    /// still used meanwhile): a quarter of the expiry margin, between 250 ms and 30 s.
    pub fn renewal_backoff(&self) -> Duration {
        (self.expiry_margin / 4).clamp(Duration::from_millis(250), Duration::from_secs(30))
    }

    /// The server's base URL as configured (normalised: lower-case host, no trailing `/`).
    pub fn base_url(&self) -> String {
        self.base.to_string()
    }

    /// Whether the base URL is `https`.
    pub fn is_https(&self) -> bool {
        self.base.is_https()
    }

    /// Whether the host is Tableau Cloud (`*.online.tableau.com`); switching site and trusted
    /// tickets are refused there before anything is sent.
    pub fn is_tableau_cloud(&self) -> bool {
        self.base.is_tableau_cloud()
    }

    /// The fixed API version, or `None` when the session asks the server (`serverinfo`).
    pub fn api_version(&self) -> Option<ApiVersion> {
        self.api_version
    }

    /// The wire format of bodies.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The largest response body the core accepts; adapters should read at most one byte more.
    pub fn max_body(&self) -> usize {
        self.max_body
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &format_args!("{}", self.base))
            .field("api_version", &self.api_version)
            .field("format", &self.format)
            .field("max_body", &self.max_body)
            .field("idle_limit", &self.idle_limit)
            .field("lifetime_limit", &self.lifetime_limit)
            .finish_non_exhaustive()
    }
}

/// Builder of a [`Config`]; every setting has a safe default.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    base_url: String,
    api_version: Option<ApiVersion>,
    max_api_version: Option<ApiVersion>,
    format: Format,
    user_agent: Option<String>,
    max_body: usize,
    redirect_hosts: Vec<String>,
    max_redirects: u8,
    expiry_margin: Duration,
    credentials_warning: Duration,
    idle_limit: Duration,
    lifetime_limit: Option<Duration>,
    retry: RetryPolicy,
    reauthenticate: bool,
    renew_before_expiry: bool,
}

impl ConfigBuilder {
    /// The [`crate::Policy`]'s caps on a throttled (429) or unavailable (503) server: each call
    /// retries at most `max_retries` times and waits at most `max_total_wait` in all (defaults
    /// [`Config::DEFAULT_MAX_RETRIES`], [`Config::DEFAULT_MAX_RETRY_WAIT`]). A wait beyond
    /// them ends the call with [`crate::Error::Throttled`], which names the wait.
    pub fn retries(mut self, max_retries: u32, max_total_wait: Duration) -> Self {
        self.retry.max_retries = max_retries;
        self.retry.max_wait = max_total_wait;
        self
    }

    /// The wait on a 429/503 that has no usable `Retry-After` (default
    /// [`Config::DEFAULT_RETRY_DELAY`]).
    pub fn default_retry_delay(mut self, delay: Duration) -> Self {
        self.retry.default_delay = delay;
        self
    }

    /// Whether the [`crate::Policy`] signs in again (once per call) when the server rejects the
    /// session (`401002`); default on. Off: the rejection is [`crate::Error::SessionEnded`].
    pub fn reauthenticate(mut self, on: bool) -> Self {
        self.reauthenticate = on;
        self
    }

    /// Whether the [`crate::Policy`] signs in again shortly before the session's estimated
    /// end (default on).
    pub fn renew_before_expiry(mut self, on: bool) -> Self {
        self.renew_before_expiry = on;
        self
    }

    /// Uses this API version for everything instead of asking the server first.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = Some(version);
        self
    }

    /// Caps the version adopted from `serverinfo` (default: adopt the server's own).
    pub fn max_api_version(mut self, version: ApiVersion) -> Self {
        self.max_api_version = Some(version);
        self
    }

    /// XML (default) or JSON bodies.
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// The `User-Agent` header (default `tableau-auth/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// The largest response body accepted (default [`Config::DEFAULT_MAX_BODY`]).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Allows a sign-in redirect to this extra host (https only, same path). Tableau Cloud pods
    /// are allowed for `online.tableau.com` without this.
    pub fn allow_redirect_host(mut self, host: impl Into<String>) -> Self {
        self.redirect_hosts.push(host.into().to_ascii_lowercase());
        self
    }

    /// How many redirects one sign-in may follow (default 2; 0 refuses every redirect).
    pub fn max_redirects(mut self, hops: u8) -> Self {
        self.max_redirects = hops;
        self
    }

    /// How long before the estimated end of a session [`crate::Session::poll_timeout`] fires
    /// (default [`Config::DEFAULT_EXPIRY_MARGIN`]).
    pub fn expiry_margin(mut self, margin: Duration) -> Self {
        self.expiry_margin = margin;
        self
    }

    /// How close to the end of the credentials' lifetime (a PAT's, as Tableau estimates it at
    /// sign-in: `estimatedTimeToExpiration`) a sign-in is reported as a warning,
    /// [`crate::lifecycle::SessionEvent::CredentialsExpiring`] (default
    /// [`Config::DEFAULT_CREDENTIALS_WARNING`]; [`Duration::ZERO`] never warns).
    pub fn credentials_warning(mut self, before: Duration) -> Self {
        self.credentials_warning = before;
        self
    }

    /// The server's idle limit (default [`Config::DEFAULT_IDLE_LIMIT`]).
    pub fn idle_limit(mut self, limit: Duration) -> Self {
        self.idle_limit = limit;
        self
    }

    /// The server's absolute session limit, when `wgserver.session.apply_lifetime_limit` is on.
    pub fn lifetime_limit(mut self, limit: Duration) -> Self {
        self.lifetime_limit = Some(limit);
        self
    }

    /// Validates and builds the configuration.
    pub fn build(self) -> Result<Config, ConfigError> {
        let base = BaseUrl::parse(&self.base_url)?;
        let user_agent = match self.user_agent {
            Some(ua) => HeaderValue::try_from(ua).map_err(|_| ConfigError::UserAgent)?,
            None => HeaderValue::from_static(concat!("tableau-auth/", env!("CARGO_PKG_VERSION"))),
        };
        if self.max_body == 0 {
            return Err(ConfigError::Limit("max_body must be at least one byte"));
        }
        if self.idle_limit.is_zero() {
            return Err(ConfigError::Limit("idle_limit must be longer than zero"));
        }
        Ok(Config {
            base,
            api_version: self.api_version,
            max_api_version: self.max_api_version,
            format: self.format,
            user_agent,
            max_body: self.max_body,
            redirect_hosts: self.redirect_hosts,
            max_redirects: self.max_redirects,
            expiry_margin: self.expiry_margin,
            credentials_warning: self.credentials_warning,
            idle_limit: self.idle_limit,
            lifetime_limit: self.lifetime_limit,
            retry: self.retry,
            reauthenticate: self.reauthenticate,
            renew_before_expiry: self.renew_before_expiry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parts_match_the_origin_as_a_uri_would() {
        let origin = |base: &str| BaseUrl::parse(base).unwrap().origin();
        let plain = origin("https://tableau.example.com");
        assert!(plain.matches_parts("https", "TABLEAU.example.com", None));
        assert!(plain.matches_parts("https", "tableau.example.com", Some(443)));
        assert!(!plain.matches_parts("http", "tableau.example.com", None));
        assert!(!plain.matches_parts("https", "tableau.example.com", Some(8443)));
        assert!(!plain.matches_parts("https", "evil.example", None));
        assert!(!plain.matches_parts("https", "tableau.example.com.evil.example", None));
        let port = origin("https://tableau.example.com:8443/tab");
        assert!(port.matches_parts("https", "tableau.example.com", Some(8443)));
        assert!(!port.matches_parts("https", "tableau.example.com", None));
        let v6 = origin("https://[::1]:8443");
        assert!(v6.matches_parts("https", "[::1]", Some(8443)));
        assert!(!v6.matches_parts("https", "[::1]", None));
        let v6_default = origin("https://[::1]");
        assert!(v6_default.matches_parts("https", "[::1]", None));
    }

    #[test]
    fn base_url_normalises_and_validates() {
        let b = BaseUrl::parse("https://Tableau.Example.com:8443/tab/").unwrap();
        assert_eq!(b.to_string(), "https://tableau.example.com:8443/tab");
        assert_eq!(b.host(), "tableau.example.com");
        assert_eq!(
            b.join("/api/3.25/auth/signin"),
            "https://tableau.example.com:8443/tab/api/3.25/auth/signin"
        );
        assert!(matches!(
            BaseUrl::parse("tableau.example.com"),
            Err(ConfigError::Scheme(_)) | Err(ConfigError::InvalidUrl(_))
        ));
        assert!(matches!(
            BaseUrl::parse("ftp://x"),
            Err(ConfigError::Scheme(_))
        ));
        assert!(matches!(
            BaseUrl::parse("https://x/?a=1"),
            Err(ConfigError::QueryOrFragment(_))
        ));
        assert!(BaseUrl::parse("https://user:pw@x").is_err());
        assert_eq!(
            BaseUrl::parse("http://x:80")
                .unwrap()
                .to_https()
                .to_string(),
            "https://x"
        );
        assert_eq!(BaseUrl::parse("https://[::1]:8443").unwrap().host(), "::1");
    }

    #[test]
    fn cloud_hosts_are_recognised() {
        assert!(
            BaseUrl::parse("https://10ax.online.tableau.com")
                .unwrap()
                .is_tableau_cloud()
        );
        assert!(
            BaseUrl::parse("https://online.tableau.com")
                .unwrap()
                .is_tableau_cloud()
        );
        assert!(
            !BaseUrl::parse("https://evilonline.tableau.com.example")
                .unwrap()
                .is_tableau_cloud()
        );
        assert!(
            !BaseUrl::parse("https://notonline.tableau.com")
                .unwrap()
                .is_tableau_cloud()
        );
    }

    #[test]
    fn builder_rejects_zero_limits() {
        assert!(Config::builder("https://x").max_body(0).build().is_err());
        assert!(
            Config::builder("https://x")
                .idle_limit(Duration::ZERO)
                .build()
                .is_err()
        );
        assert!(
            Config::builder("https://x")
                .user_agent("bad\nua")
                .build()
                .is_err()
        );
    }
}
