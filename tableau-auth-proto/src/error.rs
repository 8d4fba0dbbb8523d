//! Typed errors: who said no, and what the caller can do about it.
//!
//! The variants keep apart what must not be confused: the server refused ([`Error::Api`]), the
//! server sent something that is not a Tableau response ([`Error::Status`], [`Error::Decode`],
//! [`Error::TooLarge`]), the core refused to go on ([`Error::Redirect`], [`Error::HttpsRequired`],
//! [`Error::Unsupported`]), and the caller broke the contract ([`Error::Misuse`]). Use the
//! predicates ([`Error::is_reauth_needed`], [`Error::is_retryable`], [`Error::retry_after`],
//! [`Error::code`]) instead of matching messages. No message ever contains a secret.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::StatusCode;

use crate::config::{ConfigError, Format};
use crate::expiry::Ended;
use crate::version::{ApiVersion, Feature};

/// Everything that can go wrong in the core.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a Tableau error (`<error code summary detail>`).
    #[error(transparent)]
    Api(ApiError),
    /// The body looked like a Tableau response but could not be decoded.
    #[error("the server's {format} response could not be decoded at `{path}`: {message}")]
    Decode {
        /// The format the body was read as.
        format: Format,
        /// Where in the document decoding failed (`credentials.site.id`).
        path: String,
        /// What was wrong there.
        message: String,
    },
    /// The server answered with a body that is not a Tableau response (an HTML page from a
    /// proxy, a load balancer or the wrong host), or with an unexpected status.
    #[error("the server answered HTTP {status} with {}", describe_snippet(.snippet))]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The start of the body (at most 512 bytes, lossy UTF-8, secrets scrubbed).
        snippet: String,
        /// When to try again, from `Retry-After` (on 429 and 503).
        retry_after: Option<RetryAfter>,
    },
    /// The response body is larger than the configured limit.
    #[error("the response body is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit ([`crate::Config::max_body`]).
        limit: usize,
    },
    /// The server redirected and the core refused to follow.
    #[error("refused to follow the redirect to `{location}`: {refusal}")]
    Redirect {
        /// The `Location` the server sent (truncated to 200 characters).
        location: String,
        /// Why it was refused.
        refusal: RedirectRefusal,
    },
    /// The server wants https: an http request was redirected and arrived without its body
    /// (`405000`), or a non-sign-in request was redirected to https.
    #[error("the server redirected to https; use the https URL: {https_url}")]
    HttpsRequired {
        /// The base URL to configure instead.
        https_url: String,
    },
    /// The feature needs a newer REST API version than the server has.
    #[error("{feature} needs REST API {required} or later, but the session uses {actual}")]
    Unsupported {
        /// The feature.
        feature: Feature,
        /// The oldest version that has it.
        required: ApiVersion,
        /// The version in use.
        actual: ApiVersion,
    },
    /// The feature does not exist on Tableau Cloud.
    #[error("{feature} is not available on Tableau Cloud{}", cloud_hint(*.feature))]
    NotOnTableauCloud {
        /// The feature.
        feature: Feature,
    },
    /// Tableau Server answered a trusted-ticket request with `-1`.
    #[error(
        "Tableau Server refused the trusted ticket (-1). Usual causes: this host is not in the \
         trusted hosts list (tsm authentication trusted configure -th; IPv4 only), the user does \
         not exist, is unlicensed or needs its DOMAIN\\ prefix, target_site is not the site's \
         contentUrl (case-sensitive) or the user is not on it; the exact reason is in the \
         server's VizQL logs"
    )]
    TicketRefused,
    /// The server rejected the session and the [`crate::Policy`] could not make it good: the
    /// replay after one re-authentication was rejected too, or re-authentication is off or has
    /// no credentials. Never retried further.
    #[error("the Tableau session has ended ({reason}): {source}")]
    SessionEnded {
        /// Superseded or expired.
        reason: Ended,
        /// The server's rejection.
        source: Box<Self>,
    },
    /// Signing in again, which this call needed (its session was rejected, due, or missing),
    /// failed; the sign-in may have been made for another caller of the same session.
    #[error("signing in again for the session failed: {0}")]
    SignInFailed(Box<Self>),
    /// The server throttled (429) or was unavailable (503) beyond the policy's caps on retries
    /// and total wait ([`crate::ConfigBuilder::retries`]).
    #[error(
        "the server is throttling (HTTP {}) and asks to wait {} s more; the retry cap is {max_retries} \
         retries and {} s in all ({retries} retries and {} s waited so far): {source}",
        .status.as_u16(), .wait.as_secs_f32(), .max_wait.as_secs_f32(), .waited.as_secs_f32()
    )]
    Throttled {
        /// 429 or 503.
        status: StatusCode,
        /// The wait the server asked for (`Retry-After`, or the default delay).
        wait: Duration,
        /// How long this call had already waited.
        waited: Duration,
        /// How many times this call had already retried.
        retries: u32,
        /// The configured cap on retries.
        max_retries: u32,
        /// The configured cap on the total wait.
        max_wait: Duration,
        /// The server's answer.
        source: Box<Self>,
    },
    /// The session store a fleet shares ([`crate::FleetConfig`]) could not be used when the
    /// session needed it: it is unreachable and the policy fails closed
    /// ([`crate::WhenStoreDown::FailClosed`]), its local sign-ins are used up, or another
    /// process's sign-in took longer than the wait allows.
    #[error("the fleet's session store cannot be used: {reason}")]
    StoreUnavailable {
        /// What happened (no secret, no URL).
        reason: String,
    },
    /// The signer of a unified access token failed ([`crate::UatSigner`]).
    #[error("signing the unified access token failed: {message}")]
    Signing {
        /// What the signer said (never the key).
        message: String,
    },
    /// The transport failed on an exchange that another caller of the session ran (its own
    /// error went to that caller); the adapter's description, secrets excluded.
    #[error("the transport failed: {message}")]
    Transport {
        /// What the adapter reported.
        message: String,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The caller broke the core's contract.
    #[error(transparent)]
    Misuse(#[from] Misuse),
}

fn describe_snippet(snippet: &str) -> String {
    if snippet.is_empty() {
        "an empty body".to_owned()
    } else {
        format!("a body that is not a Tableau response: {snippet:?}")
    }
}

fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        '#' => "`#` (which would cut the URL short)".to_owned(),
        c if c.is_control() => format!("the control character {}", c.escape_unicode()),
        c => format!("`{c}`"),
    }
}

fn cloud_hint(feature: Feature) -> &'static str {
    match feature {
        Feature::SwitchSite => "; sign in again with the other site's contentUrl",
        Feature::TrustedTicket => "; use a connected app for embedding",
        _ => "",
    }
}

impl Error {
    /// Removes known secrets from every text that came from the server.
    pub(crate) fn scrubbed(self, redactor: &crate::secret::Redactor) -> Self {
        match self {
            Self::Api(mut e) => {
                e.code = redactor.scrub(e.code);
                e.summary = redactor.scrub(e.summary);
                e.detail = redactor.scrub(e.detail);
                Self::Api(e)
            }
            Self::Decode {
                format,
                path,
                message,
            } => Self::Decode {
                format,
                path: redactor.scrub(path),
                message: redactor.scrub(message),
            },
            Self::Status {
                status,
                snippet,
                retry_after,
            } => Self::Status {
                status,
                snippet: redactor.scrub(snippet),
                retry_after,
            },
            Self::Redirect { location, refusal } => Self::Redirect {
                location: redactor.scrub(location),
                refusal,
            },
            // A policy error: the server's answer inside it is scrubbed, the rest kept.
            mut policy @ (Self::SessionEnded { .. }
            | Self::SignInFailed(_)
            | Self::Throttled { .. }) => {
                if let Self::SessionEnded { source, .. }
                | Self::SignInFailed(source)
                | Self::Throttled { source, .. } = &mut policy
                {
                    let inner = std::mem::replace(&mut **source, Self::TicketRefused);
                    **source = inner.scrubbed(redactor);
                }
                policy
            }
            Self::Transport { message } => Self::Transport {
                message: redactor.scrub(message),
            },
            Self::StoreUnavailable { reason } => Self::StoreUnavailable {
                reason: redactor.scrub(reason),
            },
            other => other,
        }
    }

    /// The server's answer behind a policy error ([`Error::SessionEnded`],
    /// [`Error::SignInFailed`], [`Error::Throttled`]); the error itself otherwise.
    pub fn root(&self) -> &Self {
        match self {
            Self::SessionEnded { source, .. }
            | Self::SignInFailed(source)
            | Self::Throttled { source, .. } => source.root(),
            other => other,
        }
    }

    /// Tableau's error code (`"401002"`), when the server sent one (also behind a policy
    /// error: see [`Error::root`]).
    pub fn code(&self) -> Option<&str> {
        match self.root() {
            Self::Api(e) => Some(&e.code),
            _ => None,
        }
    }

    /// The HTTP status of the response this error came from, if any (also behind a policy
    /// error).
    pub fn status(&self) -> Option<StatusCode> {
        match self.root() {
            Self::Api(e) => Some(e.status),
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Why the session ended, for [`Error::SessionEnded`] (also behind
    /// [`Error::SignInFailed`]).
    pub fn ended(&self) -> Option<Ended> {
        match self {
            Self::SessionEnded { reason, .. } => Some(*reason),
            Self::SignInFailed(source) => source.ended(),
            _ => None,
        }
    }

    /// Whether signing in again (once) and replaying the request may help: the session token is
    /// missing, expired, signed out, revoked or superseded (`401000`, `401002`, `401003`,
    /// `401004`, or a 401 without a Tableau body). Never true for `401001` (bad credentials).
    /// Policy errors ([`Error::SessionEnded`] and kin) answer `false`: the policy already signed
    /// in again once.
    pub fn is_reauth_needed(&self) -> bool {
        match self {
            Self::Api(e) => e.is_reauth_needed(),
            Self::Status { status, .. } => *status == StatusCode::UNAUTHORIZED,
            _ => false,
        }
    }

    /// Whether waiting and trying again may help (HTTP 429 and 503; [`Error::Throttled`] too,
    /// after a longer wait than the policy's cap).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.status(),
            Some(StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE)
        )
    }

    /// The server's `Retry-After`, when it sent one.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            Self::Api(e) => e.retry_after,
            Self::Status { retry_after, .. } => *retry_after,
            Self::Throttled { source, .. } => source.retry_after(),
            _ => None,
        }
    }
}

/// A Tableau error response: `<error code="401002"><summary/><detail/></error>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The six-digit code; its first three digits are the HTTP status. Compare as strings.
    pub code: String,
    /// The summary (free text, may be localised: never branch on it).
    pub summary: String,
    /// The detail (free text, secrets scrubbed).
    pub detail: String,
    /// When to try again, from `Retry-After`.
    pub retry_after: Option<RetryAfter>,
}

impl ApiError {
    /// See [`Error::is_reauth_needed`].
    pub fn is_reauth_needed(&self) -> bool {
        // 401003 and 401004 exist in Tableau's catalogue with no confirmed meaning (docs/protocol.md,
        // "Open questions" 2): treated like 401002.
        matches!(
            self.code.as_str(),
            "401000" | "401002" | "401003" | "401004"
        )
    }

    fn hint(&self) -> &'static str {
        match self.code.as_str() {
            "401001" => {
                " (the sign-in was rejected: check the credentials, that the PAT is neither \
                 revoked nor expired, and that the site contentUrl exists and the user belongs \
                 to it; for a JWT the number in parentheses is the connected-app error)"
            }
            "401002" => {
                " (the session token is no longer valid: expired, signed out, or superseded by \
                 another sign-in with the same personal access token; sign in again)"
            }
            "401000" => " (no session token was sent; sign in first)",
            "405000" => " (often a redirect that turned a POST into a GET: use the https URL)",
            "403070" => " (the session is already on that site)",
            _ => "",
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tableau error {} (HTTP {}): {}",
            self.code,
            self.status.as_u16(),
            self.summary
        )?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        f.write_str(self.hint())
    }
}

impl std::error::Error for ApiError {}

/// When the server asked to be tried again (`Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// A delay in seconds.
    Delay(Duration),
    /// An HTTP date.
    At(SystemTime),
}

impl RetryAfter {
    /// Parses a `Retry-After` value: delta-seconds or an HTTP date.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            // Absurd values saturate instead of failing: the caller caps the wait anyway.
            let secs = value.parse::<u64>().unwrap_or(u64::MAX);
            return Some(Self::Delay(Duration::from_secs(secs)));
        }
        httpdate::parse_http_date(value).ok().map(Self::At)
    }

    /// How long to wait from `now` (zero for a date in the past).
    pub fn delay_from(self, now: SystemTime) -> Duration {
        match self {
            Self::Delay(d) => d,
            Self::At(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
        }
    }
}

/// Why a redirect was not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectRefusal {
    /// The `Location` is missing or is not an absolute or relative URL.
    InvalidLocation,
    /// To plain http: credentials would travel in clear text.
    Downgrade,
    /// Another host that is not allow-listed (from https, another port too): credentials would
    /// go to a stranger.
    OtherHost,
    /// The path changed: not a move of the whole server.
    PathChanged,
    /// More hops than [`crate::ConfigBuilder::max_redirects`].
    TooManyRedirects,
    /// Only sign-in and server info follow redirects; other requests carry a session token.
    NotFollowed,
}

impl fmt::Display for RedirectRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidLocation => "the Location header is missing or invalid",
            Self::Downgrade => "it goes to plain http, where credentials travel in clear text",
            Self::OtherHost => "it goes to another host (allow it with allow_redirect_host)",
            Self::PathChanged => "it changes the request path",
            Self::TooManyRedirects => "too many redirects",
            Self::NotFollowed => {
                "requests that carry a session token are never redirected; fix the server URL"
            }
        })
    }
}

/// The caller broke the core's contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// `start` was called while an exchange is in flight; finish it or call `abort`.
    #[error("an exchange is already in flight: feed its responses to handle_response, or abort it")]
    ExchangeInFlight,
    /// A [`crate::Policy`] call id that is unknown or already finished.
    #[error("no such call: it finished or was cancelled")]
    UnknownCall,
    /// `handle_response` was called with no exchange in flight.
    #[error("no exchange is in flight: call start first")]
    NoExchange,
    /// The intent needs a session and there is none.
    #[error("not signed in")]
    NotSignedIn,
    /// A request to authorize goes to another server (scheme, host or port) than the session's.
    #[error(
        "refusing to send the session token to a URL outside the session's server; build URLs \
         with Session::api_url or Session::site_url"
    )]
    ForeignUrl,
    /// A value contains a character XML cannot carry.
    #[error("the {0} contains a control character that cannot be sent")]
    InvalidCharacter(&'static str),
    /// A path given to [`crate::Session::api_url`], [`crate::Session::site_url`] or their
    /// `_with` and [`crate::Snapshot`] forms contains a character that cannot be sent in a URL
    /// as it is (a space, a control character, `"`, `<`, `>`, `` ` ``, `#`).
    #[error(
        "the {what} contains {}, which cannot be sent in a URL as it is: percent-encode it in the \
         path (a space is %20), and pass query parameters to api_url_with or site_url_with, which \
         encode them",
        describe_char(*.character)
    )]
    Unencoded {
        /// What was refused (`"API path"`).
        what: &'static str,
        /// The first offending character.
        character: char,
    },
    /// A URL built for the caller is longer than `http::Uri` accepts (65,534 bytes).
    #[error("the URL would be longer than 65,534 bytes")]
    UrlTooLong,
    /// A required value is empty.
    #[error("the {0} must not be empty")]
    Empty(&'static str),
    /// [`crate::Intent::Resume`] on a policy shared by a fleet ([`crate::Policy::set_fleet`]):
    /// the fleet's session comes from its store.
    #[error(
        "a fleet's session comes from its session store: resume a saved token only in a client of its own"
    )]
    ResumeInFleet,
    /// A connected-app sign-in without [`crate::SignIn::mint_inputs`].
    #[error("a connected-app sign-in needs mint inputs (the time and 16 random bytes)")]
    MissingMintInputs,
    /// A user attribute claim is empty or uses a name the core writes itself (`exp`, `sub`, …).
    #[error("the JWT user attribute `{0}` is empty or a reserved claim name")]
    ReservedClaim(String),
    /// The wall-clock time given for a JWT is before 1970.
    #[error("the JWT issue time is before 1970")]
    ClockBeforeEpoch,
    /// The connected-app JWT lifetime is out of range.
    #[error("a connected-app JWT must expire within 10 minutes of issue (asked: {0:?})")]
    JwtLifetime(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        assert_eq!(
            RetryAfter::parse("120"),
            Some(RetryAfter::Delay(Duration::from_secs(120)))
        );
        let at = RetryAfter::parse("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let base = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:00 GMT").unwrap();
        assert_eq!(at.delay_from(base), Duration::from_secs(37));
        assert_eq!(
            at.delay_from(base + Duration::from_secs(3600)),
            Duration::ZERO
        );
        assert_eq!(RetryAfter::parse("soon"), None);
        assert_eq!(RetryAfter::parse(""), None);
        assert_eq!(RetryAfter::parse("-5"), None);
        assert!(matches!(
            RetryAfter::parse("99999999999999999999999"),
            Some(RetryAfter::Delay(_))
        ));
    }

    #[test]
    fn the_answer_inside_a_policy_error_is_scrubbed() {
        let mut redactor = crate::secret::Redactor::default();
        redactor.push("SENTINEL-token-value");
        let answer = || {
            Error::Api(ApiError {
                status: StatusCode::UNAUTHORIZED,
                code: "401002".into(),
                summary: "s".into(),
                detail: "echo SENTINEL-token-value".into(),
                retry_after: None,
            })
        };
        for error in [
            Error::SessionEnded {
                reason: Ended::Superseded,
                source: Box::new(answer()),
            },
            Error::SignInFailed(Box::new(Error::SignInFailed(Box::new(answer())))),
            Error::Throttled {
                status: StatusCode::TOO_MANY_REQUESTS,
                wait: Duration::from_secs(9),
                waited: Duration::ZERO,
                retries: 0,
                max_retries: 3,
                max_wait: Duration::from_secs(60),
                source: Box::new(answer()),
            },
        ] {
            let scrubbed = error.scrubbed(&redactor);
            let shown = format!("{scrubbed} {scrubbed:?}");
            assert!(!shown.contains("SENTINEL"), "{shown}");
            assert_eq!(scrubbed.code(), Some("401002"), "the rest is kept");
        }
    }

    #[test]
    fn predicates_follow_codes() {
        let api = |status: u16, code: &str| {
            Error::Api(ApiError {
                status: StatusCode::from_u16(status).unwrap(),
                code: code.into(),
                summary: "s".into(),
                detail: "d".into(),
                retry_after: None,
            })
        };
        assert!(api(401, "401002").is_reauth_needed());
        assert!(api(401, "401000").is_reauth_needed());
        assert!(!api(401, "401001").is_reauth_needed());
        assert!(!api(403, "403004").is_reauth_needed());
        assert!(api(503, "503000").is_retryable());
        assert!(!api(500, "500000").is_retryable());
        assert_eq!(api(401, "401002").code(), Some("401002"));
        assert!(api(401, "401001").to_string().contains("rejected"));
    }
}
