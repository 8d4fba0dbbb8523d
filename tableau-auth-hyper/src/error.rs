//! Errors of the async adapter: the core's typed errors, plus what the transport and the shared
//! session add.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::LengthLimitError;

/// What a secret is replaced with in server text (the core's marker).
const REDACTED_TEXT: &str = "[redacted]";

/// Why a session ended, as far as the client can tell; see [`crate::SessionEvent::Superseded`]
/// for the heuristic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndReason {
    /// Ended by someone else while it could not have expired: another sign-in with the same
    /// personal access token (most often), a sign-out of the same token elsewhere, an
    /// administrator, or a server restart.
    Superseded,
    /// Ended at (or after) one of its limits: idle, absolute lifetime, or credentials expiry.
    Expired,
}

impl EndReason {
    /// A short description, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Superseded => "superseded",
            Self::Expired => "expired",
        }
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong in an async exchange.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The core's error: the server refused, sent something that is not a Tableau response, a
    /// redirect was refused, a version gate, a misuse. See its predicates.
    #[error(transparent)]
    Tableau(#[from] tableau_auth_proto::Error),
    /// The session was rejected (`401002` and kin) and could not be replaced: automatic
    /// re-authentication is off, there are no stored credentials, or the request had already
    /// been replayed once on a fresh session (never a loop).
    #[error("the Tableau session has ended ({reason}): {source}")]
    SessionEnded {
        /// Superseded or expired, by the client's heuristic.
        reason: EndReason,
        /// The server's answer.
        source: tableau_auth_proto::Error,
    },
    /// Signing in on the callers' behalf (first use of the builder's credentials, a renewal, or
    /// the replacement of a rejected session) failed. The same error is handed to every task
    /// that was waiting for that sign-in, so that a failing server sees one attempt per wave of
    /// requests, not one per task.
    #[error("signing in for the shared session failed: {0}")]
    Reauthentication(Arc<Self>),
    /// An exchange took longer than its limit.
    #[error("timed out ({phase}) after {limit:?}; the server did not answer in time")]
    Timeout {
        /// Which limit ran out: `connect`, `response headers` or `exchange`.
        phase: &'static str,
        /// The configured limit that ran out.
        limit: Duration,
    },
    /// The TLS handshake failed (untrusted or expired certificate, wrong host name, …).
    #[error("TLS failed: {0}; check the server's certificate or pass its CA with ca_pem")]
    Tls(String),
    /// The connection failed or broke (refused, reset, DNS, truncated body).
    #[error("could not talk to the server: {0}")]
    Transport(String),
    /// The client was configured with something unusable (a bad PEM, no runtime, …).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The core's error, if this is (or wraps) one.
    pub fn as_tableau(&self) -> Option<&tableau_auth_proto::Error> {
        match self {
            Self::Tableau(e) | Self::SessionEnded { source: e, .. } => Some(e),
            Self::Reauthentication(e) => e.as_tableau(),
            _ => None,
        }
    }

    /// Tableau's error code (`"401001"`), when the server sent one.
    pub fn code(&self) -> Option<&str> {
        self.as_tableau().and_then(tableau_auth_proto::Error::code)
    }

    /// Whether this is (or wraps) a timeout.
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::Timeout { .. } => true,
            Self::Reauthentication(e) => e.is_timeout(),
            _ => false,
        }
    }

    /// Why the session ended, for [`Error::SessionEnded`].
    pub fn end_reason(&self) -> Option<EndReason> {
        match self {
            Self::SessionEnded { reason, .. } => Some(*reason),
            Self::Reauthentication(e) => e.end_reason(),
            _ => None,
        }
    }

    pub(crate) fn not_signed_in() -> Self {
        Self::Tableau(tableau_auth_proto::Misuse::NotSignedIn.into())
    }
}

/// The limits a client applies, for naming the one that ran out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) connect: Duration,
    pub(crate) read: Duration,
    pub(crate) exchange: Duration,
    pub(crate) max_body: usize,
}

/// Every error in the chain of `e`, itself first. `io::Error::source` skips the error it wraps
/// (it returns the *wrapped error's* source), so an `io::Error` is looked into with `get_ref`.
fn chain<'a>(e: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = vec![e];
    let mut next = Some(e);
    while let Some(current) = next {
        next = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => current.source(),
        };
        if let Some(n) = next {
            out.push(n);
        }
        if out.len() > 16 {
            break;
        }
    }
    out
}

fn describe(errors: &[&(dyn StdError + 'static)]) -> String {
    let mut text = String::new();
    for e in errors {
        let part = e.to_string();
        if !part.is_empty() && !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}

impl Error {
    /// Maps an error of the pooled hyper client, keeping timeouts and TLS apart.
    pub(crate) fn from_client(e: &hyper_util::client::legacy::Error, limits: &Limits) -> Self {
        Self::from_chain(&chain(e), e.is_connect(), limits)
    }

    /// Maps an error while reading a body through `Limited`.
    pub(crate) fn from_body(e: &(dyn StdError + Send + Sync + 'static), limits: &Limits) -> Self {
        let errors = chain(e);
        if errors.iter().any(|e| e.is::<LengthLimitError>()) {
            return Self::Tableau(tableau_auth_proto::Error::TooLarge {
                limit: limits.max_body,
            });
        }
        Self::from_chain(&errors, false, limits)
    }

    fn from_chain(errors: &[&(dyn StdError + 'static)], connect: bool, limits: &Limits) -> Self {
        for e in errors {
            if let Some(tls) = e.downcast_ref::<rustls::Error>() {
                return Self::Tls(tls.to_string());
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::TimedOut
            {
                return Self::Timeout {
                    phase: if connect { "connect" } else { "read" },
                    limit: if connect {
                        limits.connect
                    } else {
                        limits.exchange
                    },
                };
            }
        }
        let text = describe(errors);
        if connect {
            Self::Transport(format!("could not connect: {text}"))
        } else {
            Self::Transport(text)
        }
    }
}

/// Removes `secret` from every text of `e` that came from the server. The core scrubs the
/// session's *current* token; a response to a request that carried an older token (the session
/// moved on while it was in flight) is scrubbed of that token here.
pub(crate) fn scrub(e: tableau_auth_proto::Error, secret: &str) -> tableau_auth_proto::Error {
    use tableau_auth_proto::Error as E;
    if secret.is_empty() {
        return e;
    }
    let clean = |text: String| {
        if text.contains(secret) {
            text.replace(secret, REDACTED_TEXT)
        } else {
            text
        }
    };
    match e {
        E::Api(mut api) => {
            api.code = clean(api.code);
            api.summary = clean(api.summary);
            api.detail = clean(api.detail);
            E::Api(api)
        }
        E::Status {
            status,
            snippet,
            retry_after,
        } => E::Status {
            status,
            snippet: clean(snippet),
            retry_after,
        },
        other => other,
    }
}

/// The error of [`crate::drive`]: the core's, or the caller's transport's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriveError<E> {
    /// The core's error.
    #[error(transparent)]
    Tableau(tableau_auth_proto::Error),
    /// The transport's error.
    #[error("transport: {0}")]
    Transport(E),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_looked_into() {
        let tls = rustls::Error::General("bad cert".into());
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let limits = Limits {
            connect: Duration::from_secs(1),
            read: Duration::from_secs(2),
            exchange: Duration::from_secs(3),
            max_body: 10,
        };
        assert!(matches!(Error::from_body(&io, &limits), Error::Tls(_)));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let body = http_body_util::Full::new(bytes::Bytes::from(vec![b'<'; 11]));
        let limit = runtime
            .block_on(http_body_util::BodyExt::collect(
                http_body_util::Limited::new(body, 10),
            ))
            .unwrap_err();
        assert!(matches!(
            Error::from_body(&*limit, &limits),
            Error::Tableau(tableau_auth_proto::Error::TooLarge { limit: 10 })
        ));
    }

    #[test]
    fn scrub_removes_an_old_token() {
        let e = tableau_auth_proto::Error::Status {
            status: tableau_auth_proto::http::StatusCode::UNAUTHORIZED,
            snippet: "token OLD-TOKEN-123 is bad".into(),
            retry_after: None,
        };
        match scrub(e, "OLD-TOKEN-123") {
            tableau_auth_proto::Error::Status { snippet, .. } => {
                assert_eq!(snippet, format!("token {REDACTED_TEXT} is bad"));
            }
            other => panic!("{other:?}"),
        }
    }
}
