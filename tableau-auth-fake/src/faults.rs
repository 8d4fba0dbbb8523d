//! Fault injection: rules that replace (or delay) the fake's normal answer for matching paths.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What to do instead of (or before) answering normally.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FaultWire", into = "FaultWire")]
#[non_exhaustive]
pub enum Fault {
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Answer with this status instead (optional `Retry-After` header and body; the default
    /// body is a small HTML page, like a gateway's).
    Status {
        /// HTTP status code (100..=999).
        status: u16,
        /// `Retry-After` header value.
        retry_after: Option<String>,
        /// Body (content type guessed: `{` → JSON, `<?xml`/`<tsResponse` → XML, else HTML).
        body: Option<String>,
    },
    /// Answer with this redirect status and `Location` header (verbatim, absolute or relative;
    /// left out if it is not a valid header value), and a small HTML body. The fake never
    /// follows anything itself: this is how a test points a client at another server.
    Redirect {
        /// HTTP status code (300..=399; a client is expected to act on 301, 302, 303, 307, 308).
        status: u16,
        /// The `Location` header.
        location: String,
    },
    /// 200 with random non-XML, non-JSON bytes (labelled with the content type the client asked).
    Garbage,
    /// 200 whose `Content-Length` promises more than is sent; the connection is then closed.
    Truncated,
    /// 200 with a body of `bytes` × `<`, streamed lazily with an exact `Content-Length`.
    Huge {
        /// Body size.
        bytes: u64,
    },
    /// 200 with an empty XML body whose head carries about `bytes` of extra headers
    /// (`X-Fake-Padding-<n>`, 4 KiB each): for a client's limit on a response's head.
    LargeHead {
        /// Bytes of extra header values (at least 1).
        bytes: u32,
    },
    /// Close the connection without answering (after reading the request).
    DropConnection,
    /// Never answer (until the server shuts down).
    Hang,
}

/// JSON form of [`Fault`]: `{"kind": "delay", "ms": 500}`, `{"kind": "status", "status": 503,
/// "retry_after": "5", "body": "..."}`, `{"kind": "garbage"}`, `{"kind": "truncated"}`,
/// `{"kind": "huge", "bytes": 67108864}`, `{"kind": "large_head", "bytes": 65536}`,
/// `{"kind": "drop_connection"}`, `{"kind": "hang"}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum FaultWire {
    Delay {
        ms: u64,
    },
    Status {
        status: u16,
        #[serde(default)]
        retry_after: Option<String>,
        #[serde(default)]
        body: Option<String>,
    },
    Redirect {
        status: u16,
        location: String,
    },
    Garbage,
    Truncated,
    Huge {
        bytes: u64,
    },
    LargeHead {
        bytes: u32,
    },
    DropConnection,
    Hang,
}

impl TryFrom<FaultWire> for Fault {
    type Error = String;

    fn try_from(wire: FaultWire) -> Result<Self, String> {
        Ok(match wire {
            FaultWire::Delay { ms } => Self::Delay(Duration::from_millis(ms)),
            FaultWire::Status {
                status,
                retry_after,
                body,
            } => {
                if !(100..=999).contains(&status) {
                    return Err(format!("status {status} out of range"));
                }
                Self::Status {
                    status,
                    retry_after,
                    body,
                }
            }
            FaultWire::Redirect { status, location } => {
                if !(300..=399).contains(&status) {
                    return Err(format!("status {status} is not a redirect"));
                }
                Self::Redirect { status, location }
            }
            FaultWire::Garbage => Self::Garbage,
            FaultWire::Truncated => Self::Truncated,
            FaultWire::Huge { bytes } => Self::Huge { bytes },
            FaultWire::LargeHead { bytes } => {
                // hyper refuses to send a head past its own limits long before 16 MiB.
                if !(1..=16 << 20).contains(&bytes) {
                    return Err(format!(
                        "large_head of {bytes} bytes out of range (1..=16 MiB)"
                    ));
                }
                Self::LargeHead { bytes }
            }
            FaultWire::DropConnection => Self::DropConnection,
            FaultWire::Hang => Self::Hang,
        })
    }
}

impl From<Fault> for FaultWire {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::Delay(d) => Self::Delay {
                ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            Fault::Status {
                status,
                retry_after,
                body,
            } => Self::Status {
                status,
                retry_after,
                body,
            },
            Fault::Redirect { status, location } => Self::Redirect { status, location },
            Fault::Garbage => Self::Garbage,
            Fault::Truncated => Self::Truncated,
            Fault::Huge { bytes } => Self::Huge { bytes },
            Fault::LargeHead { bytes } => Self::LargeHead { bytes },
            Fault::DropConnection => Self::DropConnection,
            Fault::Hang => Self::Hang,
        }
    }
}

/// A fault bound to a path (exact or prefix), optionally a method, optionally a number of uses.
///
/// JSON: `{"path": "/api/3.25/auth/signin", "prefix": false, "method": "POST", "times": 1,
/// "fault": {"kind": "hang"}}` (`prefix`, `method`, `times` optional; no `times` = forever).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaultRule {
    /// Path to match (no query string).
    pub path: String,
    /// Match every path starting with `path` instead of the exact path.
    #[serde(default)]
    pub prefix: bool,
    /// Only this method (case-insensitive), if set.
    #[serde(default)]
    pub method: Option<String>,
    /// Remaining uses; `None` = unlimited. A rule at 0 is removed.
    #[serde(default)]
    pub times: Option<u32>,
    /// What to do.
    pub fault: Fault,
}

impl FaultRule {
    /// A rule for exactly `path`, applying forever.
    pub fn exact(path: impl Into<String>, fault: Fault) -> Self {
        Self {
            path: path.into(),
            prefix: false,
            method: None,
            times: None,
            fault,
        }
    }

    /// A rule for every path starting with `prefix`, applying forever.
    pub fn prefix(prefix: impl Into<String>, fault: Fault) -> Self {
        Self {
            prefix: true,
            ..Self::exact(prefix, fault)
        }
    }

    /// Applies to the next request only.
    #[must_use]
    pub fn once(self) -> Self {
        self.times(1)
    }

    /// Applies to the next `n` matching requests.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Restricts the rule to one method.
    #[must_use]
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let path_ok = if self.prefix {
            path.starts_with(&self.path)
        } else {
            path == self.path
        };
        path_ok
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
    }
}

/// Takes the first matching rule's fault, consuming one use of it.
pub(crate) fn take(rules: &mut Vec<FaultRule>, method: &str, path: &str) -> Option<Fault> {
    let index = rules.iter().position(|r| r.matches(method, path))?;
    let rule = &mut rules[index];
    let fault = rule.fault.clone();
    if let Some(times) = rule.times.as_mut() {
        *times = times.saturating_sub(1);
        if *times == 0 {
            rules.remove(index);
        }
    }
    Some(fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_matching() {
        let rule: FaultRule = serde_json::from_str(
            r#"{"path":"/api/","prefix":true,"times":2,"fault":{"kind":"delay","ms":250}}"#,
        )
        .expect("parse");
        assert_eq!(rule.fault, Fault::Delay(Duration::from_millis(250)));
        let mut rules = vec![rule, FaultRule::exact("/x", Fault::Hang).method("GET")];
        assert!(take(&mut rules, "POST", "/x").is_none());
        assert_eq!(take(&mut rules, "get", "/x"), Some(Fault::Hang));
        assert!(take(&mut rules, "GET", "/api/3.25/serverinfo").is_some());
        assert!(take(&mut rules, "GET", "/api/3.25/serverinfo").is_some());
        assert!(take(&mut rules, "GET", "/api/3.25/serverinfo").is_none());
        assert_eq!(rules.len(), 1);
        let bad: Result<FaultRule, _> =
            serde_json::from_str(r#"{"path":"/","fault":{"kind":"status","status":42}}"#);
        assert!(bad.is_err());
        let round = serde_json::to_string(&FaultRule::exact("/", Fault::Huge { bytes: 9 }))
            .expect("serialize");
        assert!(round.contains(r#""kind":"huge""#), "{round}");
        let head: FaultRule =
            serde_json::from_str(r#"{"path":"/","fault":{"kind":"large_head","bytes":65536}}"#)
                .expect("parse");
        assert_eq!(head.fault, Fault::LargeHead { bytes: 65536 });
        for bytes in [0, (16 << 20) + 1] {
            let json = format!(r#"{{"path":"/","fault":{{"kind":"large_head","bytes":{bytes}}}}}"#);
            assert!(serde_json::from_str::<FaultRule>(&json).is_err(), "{json}");
        }
        let redirect: FaultRule = serde_json::from_str(
            r#"{"path":"/a","fault":{"kind":"redirect","status":307,"location":"https://b/a"}}"#,
        )
        .expect("parse");
        assert_eq!(
            redirect.fault,
            Fault::Redirect {
                status: 307,
                location: "https://b/a".to_owned()
            }
        );
        let bad: Result<FaultRule, _> = serde_json::from_str(
            r#"{"path":"/","fault":{"kind":"redirect","status":200,"location":"/"}}"#,
        );
        assert!(bad.is_err());
    }
}
