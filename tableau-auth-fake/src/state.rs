//! Server-side state: the configuration, live sessions, PAT → session index, used JWT ids and
//! outstanding trusted tickets.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::config::{FakeConfig, UserConfig};
use super::random;
use super::reply::ApiError;
use super::version::ApiVersion;

/// How a session was created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AuthKind {
    Password,
    /// PAT name.
    Pat(String),
    /// JWT scopes.
    Jwt(Vec<String>),
}

/// A live REST session (one credentials token).
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) user_id: String,
    pub(crate) site: String,
    pub(crate) created: Duration,
    pub(crate) last_used: Duration,
    pub(crate) kind: AuthKind,
}

/// An issued, not yet redeemed trusted ticket.
#[derive(Clone, Debug)]
pub(crate) struct Ticket {
    pub(crate) site: String,
    pub(crate) issued: Duration,
    /// LUID of the user the ticket was issued for.
    pub(crate) user_id: String,
}

/// A browser session created by a trusted-ticket redemption (`workgroup_session_id`).
#[derive(Clone, Debug)]
pub(crate) struct WebSession {
    pub(crate) user_id: String,
    pub(crate) site: String,
    pub(crate) last_used: Duration,
}

/// Everything behind the server's lock.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: FakeConfig,
    pub(crate) version: ApiVersion,
    pub(crate) sessions: BTreeMap<String, Session>,
    /// PAT name → its one live token.
    pub(crate) pat_sessions: BTreeMap<String, String>,
    pub(crate) seen_jti: BTreeSet<String>,
    pub(crate) tickets: BTreeMap<String, Ticket>,
    /// `workgroup_session_id` cookie value → browser session.
    pub(crate) web_sessions: BTreeMap<String, WebSession>,
    /// User LUID → time of the last sign-in (fake clock), for `lastLogin`.
    pub(crate) last_login: BTreeMap<String, Duration>,
}

impl Core {
    pub(crate) fn new(config: FakeConfig, version: ApiVersion) -> Self {
        Self {
            config,
            version,
            sessions: BTreeMap::new(),
            pat_sessions: BTreeMap::new(),
            seen_jti: BTreeSet::new(),
            tickets: BTreeMap::new(),
            web_sessions: BTreeMap::new(),
            last_login: BTreeMap::new(),
        }
    }

    /// Creates a session and returns its token. A PAT session ends the PAT's previous one.
    pub(crate) fn create_session(
        &mut self,
        user_id: &str,
        site: &str,
        kind: AuthKind,
        now: Duration,
    ) -> String {
        let token = loop {
            let candidate = random::token();
            if !self.sessions.contains_key(&candidate) {
                break candidate;
            }
        };
        if let AuthKind::Pat(name) = &kind
            && let Some(old) = self.pat_sessions.insert(name.clone(), token.clone())
        {
            self.sessions.remove(&old);
        }
        self.last_login.insert(user_id.to_owned(), now);
        self.sessions.insert(
            token.clone(),
            Session {
                user_id: user_id.to_owned(),
                site: site.to_owned(),
                created: now,
                last_used: now,
                kind,
            },
        );
        token
    }

    /// Ends a session (and its PAT index entry).
    pub(crate) fn remove_session(&mut self, token: &str) -> Option<Session> {
        let session = self.sessions.remove(token)?;
        if let AuthKind::Pat(name) = &session.kind
            && self.pat_sessions.get(name).is_some_and(|t| t == token)
        {
            self.pat_sessions.remove(name);
        }
        Some(session)
    }

    /// Validates a token: missing → 401000; unknown or expired (idle / absolute on the fake
    /// clock) → 401002 (and the session is removed). Refreshes the idle timer.
    pub(crate) fn authenticate(
        &mut self,
        token: Option<&str>,
        now: Duration,
    ) -> Result<(String, Session), ApiError> {
        let token = match token {
            Some(t) if !t.is_empty() => t,
            _ => return Err(ApiError::no_credentials()),
        };
        let idle = Duration::from_secs(self.config.idle_limit_secs);
        let lifetime = self.config.lifetime_limit_secs.map(Duration::from_secs);
        let Some(session) = self.sessions.get_mut(token) else {
            return Err(ApiError::invalid_credentials());
        };
        let idle_expired = now.saturating_sub(session.last_used) >= idle;
        let life_expired = lifetime.is_some_and(|l| now.saturating_sub(session.created) >= l);
        if idle_expired || life_expired {
            self.remove_session(token);
            return Err(ApiError::invalid_credentials());
        }
        session.last_used = now;
        Ok((token.to_owned(), session.clone()))
    }

    /// Ends every session, or those of one user (by name). Returns how many ended.
    pub(crate) fn drop_sessions(&mut self, user_name: Option<&str>) -> usize {
        let user_id = match user_name {
            Some(name) => match self.config.user_by_name(name) {
                Some(u) => Some(u.id.clone()),
                None => return 0,
            },
            None => None,
        };
        let doomed: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| user_id.as_ref().is_none_or(|id| *id == s.user_id))
            .map(|(t, _)| t.clone())
            .collect();
        for token in &doomed {
            self.remove_session(token);
        }
        doomed.len()
    }

    /// The session's user (if still configured).
    pub(crate) fn user(&self, session: &Session) -> Option<&UserConfig> {
        self.config.user_by_id(&session.user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pat_supersede_and_expiry() {
        let mut core = Core::new(FakeConfig::sample(), ApiVersion::new(3, 25));
        let t0 = Duration::from_secs(1_000);
        let a = core.create_session("u", "", AuthKind::Pat("p".into()), t0);
        let b = core.create_session("u", "", AuthKind::Pat("p".into()), t0);
        assert!(core.authenticate(Some(&a), t0).is_err());
        assert!(core.authenticate(Some(&b), t0).is_ok());
        let idle = Duration::from_secs(core.config.idle_limit_secs);
        assert!(
            core.authenticate(Some(&b), t0 + idle - Duration::from_secs(1))
                .is_ok()
        );
        let later = t0 + idle - Duration::from_secs(1) + idle;
        assert_eq!(
            core.authenticate(Some(&b), later).map(|_| ()),
            Err(ApiError::invalid_credentials())
        );
        assert!(core.pat_sessions.is_empty());
        assert_eq!(
            core.authenticate(None, t0).map(|_| ()),
            Err(ApiError::no_credentials())
        );
    }
}
