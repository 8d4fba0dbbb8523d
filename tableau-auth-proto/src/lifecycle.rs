//! The lifecycle of a client's session as adapters report it: signed in, renewed, superseded
//! or expired, throttled, signed out. Plain data, shared by the adapters so that their logs and
//! callbacks speak one vocabulary.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use crate::event::SignOut;
use crate::expiry::Expiry;

/// Why a client replaced its session with a new sign-in of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenewReason {
    /// Proactively, shortly before this limit ([`crate::Session::poll_timeout`]).
    Expiring(Expiry),
    /// The server rejected the token and it could not have expired: see
    /// [`SessionEvent::Superseded`].
    Superseded,
    /// The server rejected the token at or after one of its limits.
    Expired,
    /// The caller asked for a new session (e.g. `renew()` of the async client).
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

/// Something that happened to a client's session: the vocabulary both adapters report in
/// (`tableau-auth-hyper` through `tracing` and a callback, `tableau-auth-ureq` through a
/// callback), and that an SDK driving the core itself can reuse. No variant carries a secret.
///
/// Generations count the sign-ins of one client (a site switch, which brings a new token,
/// included): the first is 1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A sign-in asked for by the caller (or the first use of credentials given to a client's
    /// builder) succeeded; also a site switch, which brings a new token.
    SignedIn {
        /// The new session's generation.
        generation: u64,
    },
    /// The client signed in again on its own (or because the caller asked it to).
    Renewed {
        /// The new session's generation.
        generation: u64,
        /// Why.
        reason: RenewReason,
    },
    /// The server rejected the session of `generation` (`401002` and kin) although, by the
    /// client's clock, it could not have expired: every deadline of
    /// [`crate::Session::poll_timeout`] (the idle limit counted from
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
    /// The server throttled (429) or was unavailable (503); the client waits this long before
    /// sending again (the async client: every task, and once per window, not per task).
    Throttled {
        /// The wait (the server's `Retry-After`, or 1 s; the async client adds jitter).
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

/// A callback that receives every [`SessionEvent`] of a client. It runs on the thread or task
/// that caused the event, so it should be quick: count, log, send to a channel.
pub type EventCallback = Arc<dyn Fn(&SessionEvent) + Send + Sync>;
