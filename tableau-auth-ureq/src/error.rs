//! Errors of the blocking adapter: the core's typed errors, plus what the transport adds.

use std::time::Duration;

/// Everything that can go wrong in a blocking exchange.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The core's error: the server refused, sent something that is not a Tableau response, a
    /// redirect was refused, a version gate, a misuse. See its predicates.
    #[error(transparent)]
    Tableau(#[from] tableau_auth_proto::Error),
    /// An exchange took longer than its limit.
    #[error("timed out ({phase}) after {limit:?}; the server did not answer in time")]
    Timeout {
        /// Which limit ran out (connect, receive response, global, …).
        phase: String,
        /// The configured limit that ran out.
        limit: Duration,
    },
    /// The TLS handshake failed (untrusted or expired certificate, wrong host name, …).
    #[error("TLS failed: {0}; check the server's certificate or pass its CA with --ca-file")]
    Tls(String),
    /// The connection failed or broke (refused, reset, DNS, truncated body).
    #[error("could not talk to the server: {0}")]
    Transport(String),
    /// The client was configured with something unusable (a bad PEM file, proxy URL, …).
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

    /// Tableau's error code (`"401001"`), when the server sent one.
    pub fn code(&self) -> Option<&str> {
        self.as_tableau().and_then(tableau_auth_proto::Error::code)
    }

    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    /// Maps a ureq error, keeping timeouts, TLS and body limits apart.
    pub(crate) fn from_ureq(e: ureq::Error, limits: &Limits) -> Self {
        match e {
            ureq::Error::Timeout(phase) => Self::Timeout {
                limit: match phase {
                    ureq::Timeout::Connect | ureq::Timeout::Resolve => limits.connect,
                    ureq::Timeout::RecvResponse => limits.read,
                    _ => limits.exchange,
                },
                phase: phase.to_string(),
            },
            ureq::Error::BodyExceedsLimit(_) => {
                Self::Tableau(tableau_auth_proto::Error::TooLarge {
                    limit: limits.max_body,
                })
            }
            ureq::Error::LargeResponseHeader(_, limit) => {
                Self::Transport(format!("the response's head is larger than {limit} bytes"))
            }
            ureq::Error::Tls(m) => Self::Tls(m.to_owned()),
            ureq::Error::Rustls(e) => Self::Tls(e.to_string()),
            ureq::Error::Pem(e) => Self::Config(format!("bad PEM: {e}")),
            ureq::Error::InvalidProxyUrl => Self::Config("invalid proxy URL".to_owned()),
            ureq::Error::Io(e) if is_tls_io(&e) => Self::Tls(e.to_string()),
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => Self::Timeout {
                phase: "read".to_owned(),
                limit: limits.read,
            },
            other => Self::Transport(other.to_string()),
        }
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

/// rustls reports handshake failures as I/O errors wrapping a `rustls::Error`. A peer that
/// merely closed the connection (no `close_notify`) is a transport failure, not a TLS one.
fn is_tls_io(e: &std::io::Error) -> bool {
    let text = e.to_string();
    !text.contains("close_notify")
        && [
            "certificate",
            "handshake",
            "corrupt message",
            "alert",
            "UnknownIssuer",
        ]
        .iter()
        .any(|needle| text.contains(needle))
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
