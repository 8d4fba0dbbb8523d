//! Errors of the async adapter: the core's typed errors (the session policy's among them),
//! plus what the transport adds.

use std::error::Error as StdError;
use std::time::Duration;

use http_body_util::LengthLimitError;
use tableau_auth_proto::Ended;

/// Everything that can go wrong in an async exchange.
///
/// What the session's policy decides is the core's error ([`Error::Tableau`]): a session that
/// stayed rejected ([`tableau_auth_proto::Error::SessionEnded`], see [`Error::end_reason`]), a
/// shared sign-in that failed for every call waiting on it
/// ([`tableau_auth_proto::Error::SignInFailed`]), a server throttling beyond the caps
/// ([`tableau_auth_proto::Error::Throttled`]). The transport adds its own variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The core's error: the server refused, sent something that is not a Tableau response, a
    /// redirect was refused, a version gate, a misuse, and the policy's errors. See its
    /// predicates.
    #[error(transparent)]
    Tableau(#[from] tableau_auth_proto::Error),
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
    /// The core's error, if this is one.
    pub fn as_tableau(&self) -> Option<&tableau_auth_proto::Error> {
        match self {
            Self::Tableau(e) => Some(e),
            _ => None,
        }
    }

    /// Tableau's error code (`"401001"`), when the server sent one (also behind a policy
    /// error, see [`tableau_auth_proto::Error::root`]).
    pub fn code(&self) -> Option<&str> {
        self.as_tableau().and_then(tableau_auth_proto::Error::code)
    }

    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    /// Why the session ended — superseded or expired — for the core's
    /// [`tableau_auth_proto::Error::SessionEnded`] (also behind
    /// [`tableau_auth_proto::Error::SignInFailed`]).
    pub fn end_reason(&self) -> Option<Ended> {
        self.as_tableau().and_then(tableau_auth_proto::Error::ended)
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
    /// A response whose head is past the limit the blocking client has too.
    pub(crate) fn head_too_large() -> Self {
        Self::Transport(format!(
            "the response's head is larger than {} bytes",
            crate::transport::MAX_RESPONSE_HEAD
        ))
    }

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
}
