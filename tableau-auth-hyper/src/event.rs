//! Typed events of the shared session, for logs and counters. None carries a secret.

use std::sync::Arc;
use std::time::Duration;

use tableau_auth_proto::http::StatusCode;
use tableau_auth_proto::{Expiry, SignOut};

/// Why the shared session was replaced by a new sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenewReason {
    /// Proactively, shortly before this limit (the core's `poll_timeout`).
    Expiring(Expiry),
    /// The server rejected the token and it could not have expired: see
    /// [`SessionEvent::Superseded`].
    Superseded,
    /// The server rejected the token at or after one of its limits.
    Expired,
    /// [`crate::Client::renew`] was called.
    Requested,
}

impl RenewReason {
    /// A short description, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expiring(e) => e.as_str(),
            Self::Superseded => "superseded",
            Self::Expired => "expired",
            Self::Requested => "requested",
        }
    }
}

/// Something that happened to the shared session. Emitted through `tracing` (target
/// `tableau_auth_hyper`) and, when set, through [`crate::ClientBuilder::on_event`].
///
/// Generations count sign-ins of one [`crate::Client`] (and its clones): the first is 1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A sign-in asked for by the caller ([`crate::Client::sign_in`], or the first use of
    /// credentials given to the builder) succeeded; also a site switch
    /// ([`crate::Client::switch_site`]), which brings a new token.
    SignedIn {
        /// The new session's generation.
        generation: u64,
    },
    /// The client signed in again on its own (or on [`crate::Client::renew`]).
    Renewed {
        /// The new session's generation.
        generation: u64,
        /// Why.
        reason: RenewReason,
    },
    /// The server rejected the session of `generation` (`401002` and kin) although, by the
    /// client's clock, it could not have expired: every deadline of the core's
    /// [`poll_timeout`](tableau_auth_proto::Session::poll_timeout) (the idle limit counted from
    /// the last successful response, the lifetime limit, the credentials' expiry, each minus
    /// the expiry margin) was still ahead when the rejection arrived. Usually another sign-in
    /// with the same personal access token (Tableau keeps one session per PAT); also a sign-out
    /// of the same token elsewhere, an administrator, or a server restart. The heuristic only
    /// knows the limits it was configured with: a server whose idle limit is shorter than the
    /// client's `idle_limit` reports its expiries as superseded.
    Superseded {
        /// The generation that ended.
        generation: u64,
    },
    /// The server rejected the session of `generation` at or after one of its deadlines.
    Expired {
        /// The generation that ended.
        generation: u64,
    },
    /// The server throttled (429) or was unavailable (503); every task of the client waits
    /// this long before sending again. Emitted once per throttling window, not per task.
    Throttled {
        /// The shared wait (the server's `Retry-After`, or 1 s, plus jitter).
        delay: Duration,
        /// 429 or 503.
        status: StatusCode,
    },
    /// A renewal (proactive or after a rejection) failed.
    RenewalFailed {
        /// The generation that was to be replaced (0: none yet).
        generation: u64,
        /// The error, secrets scrubbed.
        error: String,
    },
    /// The session was signed out.
    SignedOut {
        /// The generation signed out.
        generation: u64,
        /// How the server answered.
        outcome: SignOut,
    },
}

/// A callback that receives every [`SessionEvent`]; it runs on the task that caused the event,
/// so it should be quick (count, log, send to a channel).
pub type EventCallback = Arc<dyn Fn(&SessionEvent) + Send + Sync>;

/// Logs `event` through `tracing` and hands it to the callback, if any.
pub(crate) fn emit(callback: Option<&EventCallback>, event: &SessionEvent) {
    match event {
        SessionEvent::SignedIn { generation } => {
            tracing::info!(target: "tableau_auth_hyper", generation, "signed in");
        }
        SessionEvent::Renewed { generation, reason } => {
            tracing::info!(target: "tableau_auth_hyper", generation, reason = reason.as_str(), "session renewed");
        }
        SessionEvent::Superseded { generation } => {
            tracing::warn!(target: "tableau_auth_hyper", generation, "session superseded (ended by someone else, e.g. another sign-in with the same PAT)");
        }
        SessionEvent::Expired { generation } => {
            tracing::info!(target: "tableau_auth_hyper", generation, "session expired");
        }
        SessionEvent::Throttled { delay, status } => {
            tracing::warn!(target: "tableau_auth_hyper", delay_ms = delay.as_millis() as u64, status = status.as_u16(), "throttled by the server; all tasks wait");
        }
        SessionEvent::RenewalFailed { generation, error } => {
            tracing::warn!(target: "tableau_auth_hyper", generation, error = %error, "renewal failed");
        }
        SessionEvent::SignedOut {
            generation,
            outcome,
        } => {
            tracing::info!(target: "tableau_auth_hyper", generation, outcome = ?outcome, "signed out");
        }
    }
    if let Some(callback) = callback {
        callback(event);
    }
}
