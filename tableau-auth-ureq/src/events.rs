//! What happened to the client's session, told to the caller's callback
//! ([`crate::ClientBuilder::on_event`]) in the core's vocabulary ([`SessionEvent`]).

use std::fmt;

use tableau_auth_proto::lifecycle::{EventCallback, RenewReason, SessionEvent};
use tableau_auth_proto::{SignOut, http::StatusCode};

/// The callback, and the generation of the session (the count of sign-ins, site switches
/// included; 0 before the first).
#[derive(Default, Clone)]
pub(crate) struct Events {
    callback: Option<EventCallback>,
    generation: u64,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("callback", &self.callback.as_ref().map(|_| "set"))
            .field("generation", &self.generation)
            .finish()
    }
}

impl Events {
    pub(crate) fn new(callback: Option<EventCallback>) -> Self {
        Self {
            callback,
            generation: 0,
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    fn emit(&self, event: &SessionEvent) {
        if let Some(callback) = &self.callback {
            callback(event);
        }
    }

    /// A sign-in or site switch the caller asked for succeeded.
    pub(crate) fn signed_in(&mut self) {
        self.generation += 1;
        self.emit(&SessionEvent::SignedIn {
            generation: self.generation,
        });
    }

    /// The client signed in again on its own.
    pub(crate) fn renewed(&mut self, reason: RenewReason) {
        self.generation += 1;
        self.emit(&SessionEvent::Renewed {
            generation: self.generation,
            reason,
        });
    }

    /// The server rejected the current session (superseded or expired, by the core's
    /// [`tableau_auth_proto::Session::rejection_reason`]).
    pub(crate) fn rejected(&self, reason: RenewReason) {
        let generation = self.generation;
        self.emit(&match reason {
            RenewReason::Superseded => SessionEvent::Superseded { generation },
            _ => SessionEvent::Expired { generation },
        });
    }

    /// A renewal failed; `error` is the error's text (secrets already scrubbed).
    pub(crate) fn renewal_failed(&self, error: String) {
        self.emit(&SessionEvent::RenewalFailed {
            generation: self.generation,
            error,
        });
    }

    /// The client waits `delay` before sending again.
    pub(crate) fn throttled(&self, delay: std::time::Duration, status: StatusCode) {
        self.emit(&SessionEvent::Throttled { delay, status });
    }

    /// The session was signed out (not reported when there was none).
    pub(crate) fn signed_out(&self, outcome: SignOut) {
        if outcome != SignOut::NotSignedIn {
            self.emit(&SessionEvent::SignedOut {
                generation: self.generation,
                outcome,
            });
        }
    }
}
