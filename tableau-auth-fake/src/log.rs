//! The request log: every request the fake received (control requests under `/_fake/` excepted).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

/// Which listener received a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Listener {
    /// The main listener (HTTPS when TLS is on, plain HTTP otherwise).
    Https,
    /// The plain-HTTP listener that answers everything with a redirect.
    HttpRedirect,
}

/// One received request.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct LoggedRequest {
    /// Position in the log (0-based, never reused even after a clear).
    pub seq: u64,
    /// Listener that received it.
    pub listener: Listener,
    /// Peer address (`ip:port`).
    pub peer: String,
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string (without `?`).
    pub query: Option<String>,
    /// Headers, names lower-cased; repeated headers joined with `, `. Secrets (X-Tableau-Auth)
    /// are kept verbatim so tests can check which token was sent.
    pub headers: BTreeMap<String, String>,
    /// Raw body bytes (serialized as lossy UTF-8).
    #[serde(serialize_with = "lossy")]
    pub body: Vec<u8>,
    /// Arrival time on the fake clock.
    pub at: SystemTime,
    /// Status answered, `None` while in flight or when no response was sent (fault).
    pub status: Option<u16>,
}

fn lossy<S: Serializer>(body: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(body))
}

impl LoggedRequest {
    /// A header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The `X-Tableau-Auth` token sent, if any.
    pub fn token(&self) -> Option<&str> {
        self.header("x-tableau-auth")
    }

    /// The body as (lossy) UTF-8.
    pub fn body_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Whether the path ends with `suffix`, compared case-insensitively (e.g. `"/auth/signin"`).
    pub fn path_ends_with(&self, suffix: &str) -> bool {
        self.path
            .to_ascii_lowercase()
            .ends_with(&suffix.to_ascii_lowercase())
    }

    /// Whether this is a sign-in request (any method, any version).
    pub fn is_signin(&self) -> bool {
        self.path.starts_with("/api/") && self.path_ends_with("/auth/signin")
    }
}
