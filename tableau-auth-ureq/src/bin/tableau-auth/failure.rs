//! Failures: their exit status, their one-line message on stderr and their JSON form.

use std::io::Write as _;
use std::sync::Mutex;

use tableau_auth_ureq::Error;
use tableau_auth_ureq::proto::{self, Misuse};

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command line or the environment is unusable (exit 2).
    Usage(String),
    /// The client's error (exit 3 or 4, or 2 for a configuration the core refuses).
    Client(Error),
    /// The client's error in a named step of the command ("switch-site failed: …"), with what
    /// the user can do about it, if anything particular.
    During {
        /// The step: `sign-in`, `whoami`, `switch-site`, `sign-out`, `server-info`, `ticket`,
        /// `revoke-admin-tokens`.
        step: &'static str,
        /// Said after `"{step} failed: "` (e.g. where the session came from).
        context: Option<&'static str>,
        /// The error (boxed: it is large).
        error: Box<Error>,
    },
    /// The output could not be written (exit 1).
    Output(std::io::Error),
    /// The sign-out after a successful command was still throttled after the retries the
    /// timeout allows: the session stays open on the server (exit 4, like any transient
    /// failure).
    SignOut(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self::Client(e)
    }
}

impl From<proto::Error> for Failure {
    fn from(e: proto::Error) -> Self {
        Self::Client(Error::Tableau(e))
    }
}

/// A failure as reported: exit status, kind, Tableau's code and texts, the stderr line.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) status: u8,
    /// The step that failed, if the command has steps.
    pub(crate) step: Option<&'static str>,
    pub(crate) kind: &'static str,
    pub(crate) code: Option<String>,
    pub(crate) summary: String,
    pub(crate) detail: String,
    pub(crate) line: String,
}

impl Report {
    fn new(status: u8, kind: &'static str, summary: &str, line: String) -> Self {
        Self {
            status,
            step: None,
            kind,
            code: None,
            summary: summary.to_owned(),
            detail: line.clone(),
            line,
        }
    }
}

impl Failure {
    /// How this failure is reported.
    pub(crate) fn report(&self) -> Report {
        match self {
            Self::Usage(message) => Report::new(2, "usage", "usage error", message.clone()),
            Self::Output(e) => Report::new(
                1,
                "output",
                "output failed",
                format!("could not write the output: {e}"),
            ),
            Self::Client(e) => client_report(e),
            Self::During {
                step,
                context,
                error,
            } => {
                let mut report = client_report(error);
                let head = match context {
                    Some(context) => format!("{step} failed: {context}"),
                    None => format!("{step} failed"),
                };
                report = prefixed(report, &head);
                report.step = Some(step);
                report
            }
            Self::SignOut(e) => prefixed(
                client_report(e),
                "could not sign out, the session stays open on the server until it expires",
            ),
        }
    }

    /// Writes the one-line message on stderr and, with `--json`, the error object on stdout.
    pub(crate) fn emit(&self, json: bool) -> u8 {
        let report = self.report();
        warn(&report.line);
        if json {
            let mut object = serde_json::json!({
                "error": {
                    "code": report.code,
                    "summary": scrub(&report.summary),
                    "detail": scrub(&report.detail),
                    "kind": report.kind,
                }
            });
            if let Some(step) = report.step {
                object["error"]["step"] = step.into();
            }
            let mut out = std::io::stdout().lock();
            // Nothing more can be done when stdout is gone: the status still tells.
            let _ = writeln!(out, "{object}").and_then(|()| out.flush());
        }
        report.status
    }
}

/// Writes `tableau-auth: <message>` on stderr, as one line, secrets scrubbed.
pub(crate) fn warn(message: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "tableau-auth: {}", one_line(&scrub(message)));
}

/// Secrets the core does not know of (the session token from `TABLEAU_AUTH_TOKEN`, which the
/// client never holds as its own session), scrubbed from every message as the core scrubs its
/// own.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Scrubs `secret` from every message written from now on.
pub(crate) fn keep_secret(secret: &str) {
    // Shorter values would mangle messages and cannot be a token.
    if secret.len() >= 4 {
        let mut secrets = SECRETS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        secrets.push(secret.to_owned());
    }
}

/// `text` with every kept secret replaced by `[redacted]`.
pub(crate) fn scrub(text: &str) -> String {
    let secrets = SECRETS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    secrets.iter().fold(text.to_owned(), |text, secret| {
        text.replace(secret.as_str(), "[redacted]")
    })
}

/// Replaces control characters (newlines, escape sequences a hostile server might send) by
/// spaces, so that every message is one harmless line.
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The message of a plain-http request that a TLS server answered (see `https_port`).
pub(crate) const HTTPS_PORT: &str = "this port speaks https";

fn client_report(e: &Error) -> Report {
    match e {
        Error::Tableau(e) => core_report(e),
        Error::Timeout { .. } => Report::new(
            4,
            "timeout",
            "timeout",
            format!("{e} (the limit is set with --timeout)"),
        ),
        Error::Tls(_) => Report::new(4, "tls", "TLS failure", e.to_string()),
        Error::Transport(text) if text.contains(HTTPS_PORT) => {
            Report::new(4, "transport", "this port speaks https", text.clone())
        }
        Error::Transport(_) => Report::new(4, "transport", "transport failure", e.to_string()),
        Error::Config(_) => Report::new(2, "usage", "invalid configuration", e.to_string()),
        _ => Report::new(4, "transport", "transport failure", e.to_string()),
    }
}

fn core_report(e: &proto::Error) -> Report {
    use proto::Error as E;
    match e {
        E::Api(api) => {
            let mut line = format!("Tableau error {} ({})", api.code, api.summary);
            if !api.detail.is_empty() {
                line.push_str(": ");
                line.push_str(&api.detail);
            }
            line.push_str(&hint(api));
            Report {
                status: 3,
                step: None,
                kind: "api",
                code: Some(api.code.clone()),
                summary: api.summary.clone(),
                detail: api.detail.clone(),
                line,
            }
        }
        E::TicketRefused => {
            Report::new(3, "ticket_refused", "trusted ticket refused", e.to_string())
        }
        E::Unsupported { .. } => Report::new(
            3,
            "unsupported",
            "not supported by this version",
            e.to_string(),
        ),
        E::NotOnTableauCloud { .. } => Report::new(
            3,
            "not_on_tableau_cloud",
            "not available on Tableau Cloud",
            e.to_string(),
        ),
        E::HttpsRequired { https_url } => Report::new(
            4,
            "https_required",
            "https required",
            format!("the server redirected to https; use --server {https_url}"),
        ),
        E::Redirect { location, refusal } => {
            // The core's text for another host names a library setting this tool has not.
            let why = match refusal {
                proto::RedirectRefusal::OtherHost => {
                    "it goes to another host; if you trust that host, use it in --server".to_owned()
                }
                other => other.to_string(),
            };
            Report::new(
                4,
                "redirect",
                "redirect refused",
                format!("refused to follow the redirect to `{location}`: {why}"),
            )
        }
        E::Decode { .. } => Report::new(4, "decode", "unreadable response", e.to_string()),
        E::Status { .. } => Report::new(4, "status", "unexpected response", e.to_string()),
        E::TooLarge { .. } => Report::new(4, "too_large", "response too large", e.to_string()),
        E::Config(_) => Report::new(
            2,
            "usage",
            "invalid configuration",
            format!("{e} (--server)"),
        ),
        E::Misuse(m) => match m {
            // Values from the command line the core cannot send: the user can fix them.
            Misuse::Empty(_) | Misuse::InvalidCharacter(_) | Misuse::ReservedClaim(_) => {
                Report::new(2, "usage", "invalid value", e.to_string())
            }
            _ => Report::new(4, "internal", "internal error", e.to_string()),
        },
        // The policy's errors. Throttled beyond the retries --timeout allows: transient, like
        // a timeout; the server's code (if it sent one) is kept.
        E::Throttled { .. } => Report {
            code: e.code().map(str::to_owned),
            ..Report::new(
                4,
                "throttled",
                "server busy",
                format!("{e} (the total wait is capped by --timeout)"),
            )
        },
        // Rejected again after one re-sign-in: reported as the rejection itself (401002).
        E::SessionEnded { reason, source } => prefixed(
            core_report(source),
            &format!("the session has ended ({reason})"),
        ),
        // The sign-in made again for the call failed: reported as that failure (401001, …).
        E::SignInFailed(source) => prefixed(core_report(source), "signing in again failed"),
        E::Transport { .. } => Report::new(4, "transport", "transport failure", e.to_string()),
        E::StoreUnavailable { .. } => Report::new(
            4,
            "session_store",
            "session store unavailable",
            format!("{e} (--session-store)"),
        ),
        _ if e.code().is_some() => Report {
            code: e.code().map(str::to_owned),
            ..Report::new(3, "api", "refused", e.to_string())
        },
        _ => Report::new(4, "other", "failure", e.to_string()),
    }
}

/// `report` with `context` in front of its line.
fn prefixed(mut report: Report, context: &str) -> Report {
    report.line = format!("{context}: {}", report.line);
    report
}

/// The core's advice for a Tableau error: the end of its `Display` text. The core keeps its
/// hints private; whatever follows code, status, summary and detail is the hint.
fn hint(api: &proto::ApiError) -> String {
    let shown = api.to_string();
    let mut head = format!(
        "Tableau error {} (HTTP {}): {}",
        api.code,
        api.status.as_u16(),
        api.summary
    );
    if !api.detail.is_empty() {
        head.push_str(": ");
        head.push_str(&api.detail);
    }
    shown
        .strip_prefix(&head)
        .map(str::to_owned)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tableau_auth_ureq::http::StatusCode;
    use tableau_auth_ureq::proto::{ApiError, Ended, Error as E};

    use super::*;

    fn api(status: StatusCode, code: &str) -> E {
        E::Api(ApiError {
            status,
            code: code.to_owned(),
            summary: "Unauthorized Access".to_owned(),
            detail: String::new(),
            retry_after: None,
        })
    }

    fn report(e: E) -> Report {
        Failure::from(e).report()
    }

    #[test]
    fn the_policy_errors_map_to_their_server_answer() {
        // Rejected again after one re-sign-in: like a 401002.
        let ended = report(E::SessionEnded {
            reason: Ended::Superseded,
            source: Box::new(api(StatusCode::UNAUTHORIZED, "401002")),
        });
        assert_eq!(
            (ended.status, ended.kind, ended.code.as_deref()),
            (3, "api", Some("401002"))
        );
        assert!(
            ended.line.starts_with("the session has ended"),
            "{}",
            ended.line
        );

        // A failed re-sign-in: its own answer (401001), or a transport failure.
        let failed = report(E::SignInFailed(Box::new(api(
            StatusCode::UNAUTHORIZED,
            "401001",
        ))));
        assert_eq!(
            (failed.status, failed.kind, failed.code.as_deref()),
            (3, "api", Some("401001"))
        );
        let failed = report(E::SignInFailed(Box::new(E::Transport {
            message: "connection reset".to_owned(),
        })));
        assert_eq!((failed.status, failed.kind), (4, "transport"));

        // Throttled beyond the caps: transient, exit 4, with the server's code if any.
        let throttled = report(E::Throttled {
            status: StatusCode::TOO_MANY_REQUESTS,
            wait: Duration::from_secs(30),
            waited: Duration::ZERO,
            retries: 0,
            max_retries: 3,
            max_wait: Duration::from_secs(5),
            source: Box::new(api(StatusCode::TOO_MANY_REQUESTS, "429000")),
        });
        assert_eq!(
            (throttled.status, throttled.kind, throttled.code.as_deref()),
            (4, "throttled", Some("429000"))
        );
        assert!(throttled.line.contains("--timeout"), "{}", throttled.line);
        let sign_out = Failure::SignOut(Error::Tableau(E::Throttled {
            status: StatusCode::SERVICE_UNAVAILABLE,
            wait: Duration::from_secs(1),
            waited: Duration::from_secs(2),
            retries: 2,
            max_retries: 3,
            max_wait: Duration::from_secs(2),
            source: Box::new(E::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                snippet: String::new(),
                retry_after: None,
            }),
        }))
        .report();
        assert_eq!((sign_out.status, sign_out.kind), (4, "throttled"));
        assert!(
            sign_out.line.starts_with("could not sign out"),
            "{}",
            sign_out.line
        );
    }
}
