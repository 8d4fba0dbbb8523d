//! Typed events of the shared session, for logs and counters. None carries a secret.

pub use tableau_auth_proto::lifecycle::{EventCallback, RenewReason, SessionEvent};

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
        // A variant added to the core's vocabulary after this adapter was written.
        other => tracing::info!(target: "tableau_auth_hyper", event = ?other, "session event"),
    }
    if let Some(callback) = callback {
        callback(event);
    }
}
