//! The control handle ([`FakeControl`]) and the `/_fake/...` HTTP control endpoints.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::config::FakeConfig;
use super::error::ControlError;
use super::faults::FaultRule;
use super::log::LoggedRequest;
use super::reply::Reply;
use super::server::{Shared, valid_redirect};
use super::sync::lock;

/// Controls a running [`FakeServer`](super::FakeServer): clock, config, faults, sessions, log.
/// Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct FakeControl {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeControl")
            .field("base_url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

impl FakeControl {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Moves the fake clock forward (session idle/absolute expiry, PAT expiry, JWT `exp`,
    /// ticket timeout all follow it).
    pub fn advance(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// Total amount the clock has been advanced.
    pub fn clock_offset(&self) -> Duration {
        self.shared.clock.offset()
    }

    /// The fake "now" in Unix seconds (use it for JWT `iat`/`exp` after advancing).
    pub fn now_unix(&self) -> u64 {
        self.shared.clock.now_unix()
    }

    /// A copy of the current configuration.
    pub fn config(&self) -> FakeConfig {
        lock(&self.shared.core).config.clone()
    }

    /// Replaces the configuration (live sessions, used JWT ids and tickets are kept). An
    /// invalid configuration ([`FakeConfig::validate`]) is refused and nothing changes.
    pub fn set_config(&self, config: FakeConfig) -> Result<(), ControlError> {
        let version = config.validate()?;
        let mut core = lock(&self.shared.core);
        core.config = config;
        core.version = version;
        Ok(())
    }

    /// Edits the configuration in place (validated afterwards; rejected edits are not applied).
    pub fn update_config(&self, edit: impl FnOnce(&mut FakeConfig)) -> Result<(), ControlError> {
        let mut config = self.config();
        edit(&mut config);
        self.set_config(config)
    }

    /// Adds a fault rule (rules are tried in insertion order; the first match applies).
    pub fn add_fault(&self, rule: FaultRule) {
        lock(&self.shared.faults).push(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// The rules not yet used up.
    pub fn faults(&self) -> Vec<FaultRule> {
        lock(&self.shared.faults).clone()
    }

    /// Ends all sessions (`None`) or those of one user (by name). Returns how many ended.
    pub fn drop_sessions(&self, user_name: Option<&str>) -> usize {
        lock(&self.shared.core).drop_sessions(user_name)
    }

    /// Number of sessions currently held (expired ones are only noticed when used).
    pub fn live_sessions(&self) -> usize {
        lock(&self.shared.core).sessions.len()
    }

    /// Whether `token` is a held session (does not refresh its idle timer or check expiry).
    pub fn has_session(&self, token: &str) -> bool {
        lock(&self.shared.core).sessions.contains_key(token)
    }

    /// A copy of the request log.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Empties the request log.
    pub fn clear_log(&self) {
        lock(&self.shared.log).clear();
    }

    /// Sets the redirect listener's status (301, 302, 303, 307 or 308; any other is
    /// [`ControlError::RedirectStatus`]).
    pub fn set_redirect_status(&self, status: u16) -> Result<(), ControlError> {
        if !valid_redirect(status) {
            return Err(ControlError::RedirectStatus(status));
        }
        self.shared.redirect_status.store(status, Ordering::Relaxed);
        Ok(())
    }

    /// The main listener's base URL.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn bad(why: impl std::fmt::Display) -> Reply {
    Reply::json(
        400,
        serde_json::json!({ "error": why.to_string() }).to_string(),
    )
}

fn json_of<T: serde::Serialize>(value: &T) -> Reply {
    match serde_json::to_string(value) {
        Ok(text) => Reply::json(200, text),
        Err(e) => Reply::json(
            500,
            serde_json::json!({ "error": e.to_string() }).to_string(),
        ),
    }
}

/// `/_fake/...` requests (see the table in the module docs of `fake`).
pub(crate) fn http(
    shared: &Arc<Shared>,
    method: &str,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Reply {
    let control = FakeControl::new(shared.clone());
    let clock = |c: &FakeControl| {
        json_of(&serde_json::json!({
            "offset_secs": c.clock_offset().as_secs(),
            "now_unix": c.now_unix(),
        }))
    };
    match (method, path.trim_end_matches('/')) {
        ("GET", "/_fake/config") => json_of(&control.config()),
        ("POST", "/_fake/config") => match serde_json::from_slice::<FakeConfig>(body) {
            Ok(config) => match control.set_config(config) {
                Ok(()) => Reply::NoContent,
                Err(e) => bad(e),
            },
            Err(e) => bad(e),
        },
        ("GET", "/_fake/clock") => clock(&control),
        ("POST", "/_fake/clock/advance") => {
            let secs =
                query_param(query, "secs").map(|s| s.parse::<u64>().map(Duration::from_secs));
            let ms = query_param(query, "ms").map(|s| s.parse::<u64>().map(Duration::from_millis));
            match secs.or(ms) {
                Some(Ok(by)) => {
                    control.advance(by);
                    clock(&control)
                }
                _ => bad("give ?secs=N or ?ms=N"),
            }
        }
        ("GET", "/_fake/faults") => json_of(&control.faults()),
        ("POST", "/_fake/faults") => {
            let rules = serde_json::from_slice::<FaultRule>(body)
                .map(|r| vec![r])
                .or_else(|_| serde_json::from_slice::<Vec<FaultRule>>(body));
            match rules {
                Ok(rules) => {
                    for rule in rules {
                        control.add_fault(rule);
                    }
                    Reply::NoContent
                }
                Err(e) => bad(e),
            }
        }
        ("DELETE", "/_fake/faults") => {
            control.clear_faults();
            Reply::NoContent
        }
        ("POST", "/_fake/sessions/drop") => {
            let user = query_param(query, "user");
            let dropped = control.drop_sessions(user.as_deref());
            json_of(&serde_json::json!({ "dropped": dropped }))
        }
        ("GET", "/_fake/sessions") => {
            json_of(&serde_json::json!({ "live": control.live_sessions() }))
        }
        ("GET", "/_fake/log") => json_of(&control.request_log()),
        ("DELETE", "/_fake/log") => {
            control.clear_log();
            Reply::NoContent
        }
        ("POST", "/_fake/redirect") => {
            match query_param(query, "status").and_then(|s| s.parse::<u16>().ok()) {
                Some(status) => match control.set_redirect_status(status) {
                    Ok(()) => Reply::NoContent,
                    Err(e) => bad(e),
                },
                None => bad("give ?status=301|302|303|307|308"),
            }
        }
        _ => Reply::json(404, r#"{"error":"unknown control endpoint"}"#),
    }
}
