//! When a signed-in session must be renewed: the server's idle and lifetime limits and the
//! credentials' own expiry, as deadlines computed from caller-supplied instants.

use std::time::{Duration, Instant};

/// Why [`crate::Session::poll_timeout`] asks for a new sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expiry {
    /// The session is about to pass the server's idle limit.
    IdleLimit,
    /// The session is about to pass the server's absolute lifetime limit.
    LifetimeLimit,
    /// The credentials (a PAT) are about to expire, per `estimatedTimeToExpiration`.
    Credentials,
}

impl Expiry {
    /// A short description, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdleLimit => "session idle limit",
            Self::LifetimeLimit => "session lifetime limit",
            Self::Credentials => "credentials expiry",
        }
    }
}

/// Why the server rejected a session (`401002` and kin), as far as the client's clock can tell.
/// The one vocabulary for a session's end: events, renewal reasons and errors all use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ended {
    /// Every deadline the client knows of was still ahead: someone else ended it. Usually
    /// another sign-in with the same personal access token (Tableau keeps one session per PAT);
    /// also a sign-out of the same token elsewhere, an administrator, or a server restart. A
    /// heuristic: a server whose idle limit is shorter than the configured one reports its
    /// expiries as superseded.
    Superseded,
    /// The rejection came at or after one of the session's deadlines.
    Expired,
}

impl Ended {
    /// `"superseded"` or `"expired"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Superseded => "superseded",
            Self::Expired => "expired",
        }
    }
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signed-in session's deadlines as plain values: the idle limit counted from the last use,
/// the lifetime limit and the credentials' expiry, each brought forward by the margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RenewalSchedule {
    pub(crate) signed_in_at: Instant,
    pub(crate) idle_limit: Duration,
    pub(crate) lifetime_at: Option<Instant>,
    pub(crate) credentials_expire_at: Option<Instant>,
    pub(crate) margin: Duration,
}

impl RenewalSchedule {
    /// When the sign-in's response was handed to the session.
    pub(crate) fn signed_in_at(&self) -> Instant {
        self.signed_in_at
    }

    /// When to sign in again if the session was last used at `last_used`, and why: the
    /// earliest of the idle limit (from the last use, or the sign-in if later), the lifetime
    /// limit and the credentials' expiry, each brought forward by the expiry margin. `None` when
    /// every deadline lies beyond what [`Instant`] can represent (no deadline at all).
    pub(crate) fn renew_at(&self, last_used: Instant) -> Option<(Instant, Expiry)> {
        let before = |deadline: Instant| deadline.checked_sub(self.margin).unwrap_or(deadline);
        let idle = last_used
            .max(self.signed_in_at)
            .checked_add(self.idle_limit);
        [
            (idle, Expiry::IdleLimit),
            (self.lifetime_at, Expiry::LifetimeLimit),
            (self.credentials_expire_at, Expiry::Credentials),
        ]
        .into_iter()
        .filter_map(|(at, why)| at.map(|at| (before(at), why)))
        .min_by_key(|(at, _)| *at)
    }

    /// Why the server rejected this session (`401002`) at `at`, as far as the client's clock can
    /// tell, given its last use at `last_used`: [`Ended::Superseded`] when a deadline of
    /// [`RenewalSchedule::renew_at`] exists and was still ahead (another sign-in with the same
    /// PAT, a sign-out elsewhere, a server restart), [`Ended::Expired`] otherwise. A
    /// heuristic: it knows only the limits the client was configured with.
    pub(crate) fn rejection_reason(&self, last_used: Instant, at: Instant) -> Ended {
        match self.renew_at(last_used) {
            Some((deadline, _)) if at < deadline => Ended::Superseded,
            _ => Ended::Expired,
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests need some instant to count from
mod tests {
    use super::*;

    fn schedule(start: Instant) -> RenewalSchedule {
        RenewalSchedule {
            signed_in_at: start,
            idle_limit: Duration::from_secs(240 * 60),
            lifetime_at: start.checked_add(Duration::from_secs(24 * 3600)),
            credentials_expire_at: None,
            margin: Duration::from_secs(60),
        }
    }

    #[test]
    fn the_earliest_deadline_wins_minus_the_margin() {
        let start = Instant::now();
        let s = schedule(start);
        let hour = Duration::from_secs(3600);
        assert_eq!(
            s.renew_at(start),
            Some((
                start + 4 * hour - Duration::from_secs(60),
                Expiry::IdleLimit
            ))
        );
        // Used 22 hours in: the lifetime limit comes before the idle one.
        assert_eq!(
            s.renew_at(start + 22 * hour),
            Some((
                start + 24 * hour - Duration::from_secs(60),
                Expiry::LifetimeLimit
            ))
        );
        // A last use before the sign-in counts from the sign-in.
        assert_eq!(s.renew_at(start - hour), s.renew_at(start));
        let pat = RenewalSchedule {
            credentials_expire_at: Some(start + hour),
            ..s
        };
        assert_eq!(
            pat.renew_at(start).map(|(_, why)| why),
            Some(Expiry::Credentials)
        );
    }

    #[test]
    fn a_rejection_before_every_deadline_is_superseded_after_one_expired() {
        let start = Instant::now();
        let s = schedule(start);
        let hour = Duration::from_secs(3600);
        assert_eq!(s.rejection_reason(start, start + hour), Ended::Superseded);
        assert_eq!(s.rejection_reason(start, start + 4 * hour), Ended::Expired);
        // Used recently: the idle deadline moved, so the same instant is superseded.
        assert_eq!(
            s.rejection_reason(start + 3 * hour, start + 4 * hour),
            Ended::Superseded
        );
    }

    #[test]
    fn deadlines_beyond_instant_are_none() {
        let start = Instant::now();
        let s = RenewalSchedule {
            idle_limit: Duration::MAX,
            lifetime_at: None,
            ..schedule(start)
        };
        assert_eq!(s.renew_at(start), None);
        assert_eq!(s.rejection_reason(start, start), Ended::Expired);
    }
}
