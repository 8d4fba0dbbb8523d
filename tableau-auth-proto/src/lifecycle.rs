//! The lifecycle of a session as the [`crate::Policy`] reports it: signed in, renewed, ended
//! (superseded or expired), throttled, signed out. Plain data, produced by the core
//! ([`crate::Policy::poll_event`]) and forwarded by every adapter, to its callback and its logs,
//! so that they all speak one vocabulary.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use crate::event::SignOut;
pub use crate::expiry::Ended;
use crate::expiry::Expiry;

/// Why the policy replaced its session with a new sign-in of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenewReason {
    /// Proactively, shortly before this limit.
    Expiring(Expiry),
    /// The server rejected the token (`401002` and kin), for this reason.
    Rejected(Ended),
    /// The caller asked for a new session.
    Requested,
}

impl RenewReason {
    /// A short description, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expiring(e) => e.as_str(),
            Self::Rejected(ended) => ended.as_str(),
            Self::Requested => "requested",
        }
    }
}

/// Something that happened to a session. No variant carries a secret.
///
/// Generations count the sessions of one policy: every sign-in (a renewal and a site switch,
/// which brings a new token, included) makes the next one; the first is 1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A sign-in the caller asked for (or the first use of kept credentials) succeeded; also a
    /// site switch, which brings a new token.
    SignedIn {
        /// The new session's generation.
        generation: u64,
    },
    /// The policy signed in again on its own (or because the caller asked it to).
    Renewed {
        /// The new session's generation.
        generation: u64,
        /// Why.
        reason: RenewReason,
    },
    /// The server rejected the session of `generation`; reported once per generation.
    Ended {
        /// The generation that ended.
        generation: u64,
        /// Superseded or expired (see [`Ended`]).
        reason: Ended,
    },
    /// The server throttled (429) or was unavailable (503). Every caller of the session waits
    /// until the window ends; reported once per window, not per caller.
    Throttled {
        /// The wait (the server's `Retry-After`, or the default delay, plus jitter).
        delay: Duration,
        /// 429 or 503.
        status: StatusCode,
    },
    /// A renewal (proactive, after a rejection, or asked for) failed.
    RenewalFailed {
        /// The generation that was to be replaced (0: none yet).
        generation: u64,
        /// The error, secrets scrubbed.
        error: String,
    },
    /// The policy took the session another process of its fleet signed in (from the store),
    /// instead of signing in itself.
    Adopted {
        /// The adopted session's generation in this policy.
        generation: u64,
        /// The store's version of it (epoch prefix and the fleet's generation), for logs.
        version: String,
    },
    /// The fleet's session store failed; the calls go on with the cached token, and a call that
    /// needs a new session fails or signs in locally ([`crate::WhenStoreDown`]). Reported once per
    /// outage.
    StoreUnavailable {
        /// What failed (no secret).
        error: String,
    },
    /// The fleet's session store answers again.
    StoreRecovered,
    /// The store being down, this process signed in on its own: with a PAT, the fleet's
    /// processes may end each other's sessions until the store is back.
    FleetSplit {
        /// The local session's generation.
        generation: u64,
    },
    /// The credentials this session signed in with expire soon, as Tableau estimated at the
    /// sign-in (a PAT's `estimatedTimeToExpiration`): within
    /// [`crate::ConfigBuilder::credentials_warning`]. Reported with every sign-in that brings
    /// such an estimate (adoptions of a fleet's session included), as a warning. Create new
    /// credentials before then: once they expire, every sign-in fails (`401001`).
    CredentialsExpiring {
        /// The generation of the session whose sign-in brought the estimate.
        generation: u64,
        /// How long the credentials had left at that sign-in.
        remaining: Duration,
    },
    /// A session signed in elsewhere was taken up from its token ([`crate::Intent::Resume`]).
    Resumed {
        /// Its generation in this policy.
        generation: u64,
    },
    /// The session was signed out.
    SignedOut {
        /// The generation signed out.
        generation: u64,
        /// How the server answered.
        outcome: SignOut,
    },
}

impl SessionEvent {
    /// Whether the event deserves a warning in logs (superseded sessions, throttling, failed
    /// renewals) rather than an informational line.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            Self::Ended {
                reason: Ended::Superseded,
                ..
            } | Self::Throttled { .. }
                | Self::RenewalFailed { .. }
                | Self::StoreUnavailable { .. }
                | Self::FleetSplit { .. }
                | Self::CredentialsExpiring { .. }
        )
    }
}

impl fmt::Display for SessionEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SignedIn { generation } => write!(f, "signed in (generation {generation})"),
            Self::Renewed { generation, reason } => write!(
                f,
                "session renewed (generation {generation}, {})",
                reason.as_str()
            ),
            Self::Ended {
                generation,
                reason: Ended::Superseded,
            } => write!(
                f,
                "session superseded (generation {generation}): ended by someone else, e.g. \
                 another sign-in with the same PAT"
            ),
            Self::Ended {
                generation,
                reason: Ended::Expired,
            } => write!(f, "session expired (generation {generation})"),
            Self::Throttled { delay, status } => write!(
                f,
                "throttled by the server (HTTP {}): every caller waits {} ms",
                status.as_u16(),
                delay.as_millis()
            ),
            Self::RenewalFailed { generation, error } => {
                write!(f, "renewal failed (generation {generation}): {error}")
            }
            Self::Adopted {
                generation,
                version,
            } => write!(
                f,
                "adopted the fleet's session {version} from the store (generation {generation})"
            ),
            Self::StoreUnavailable { error } => write!(
                f,
                "the fleet's session store is unavailable ({error}): going on with the cached \
                 session"
            ),
            Self::StoreRecovered => f.write_str("the fleet's session store answers again"),
            Self::FleetSplit { generation } => write!(
                f,
                "signed in without the fleet's store (generation {generation}): processes sharing \
                 the PAT may end each other's sessions until the store is back"
            ),
            Self::CredentialsExpiring {
                generation,
                remaining,
            } => {
                let hours = remaining.as_secs() / 3600;
                let count = |n: u64, unit: &str| match n {
                    1 => format!("1 {unit}"),
                    n => format!("{n} {unit}s"),
                };
                write!(
                    f,
                    "the credentials of this session (generation {generation}) expire in about \
                     {} and {}, as Tableau estimated at sign-in: create new ones before then, or \
                     every sign-in will fail",
                    count(hours / 24, "day"),
                    count(hours % 24, "hour")
                )
            }
            Self::Resumed { generation } => write!(
                f,
                "resumed a session signed in elsewhere, from its token (generation {generation})"
            ),
            Self::SignedOut {
                generation,
                outcome,
            } => write!(f, "signed out (generation {generation}, {outcome:?})"),
        }
    }
}

/// A callback that receives every [`SessionEvent`] of a client. It runs on the thread or task
/// that caused the event, so it should be quick: count, log, send to a channel.
pub type EventCallback = Arc<dyn Fn(&SessionEvent) + Send + Sync>;
