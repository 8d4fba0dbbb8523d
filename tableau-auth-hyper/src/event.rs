//! Typed events of the shared session, for logs and counters, in the core's vocabulary. None
//! carries a secret.

pub use tableau_auth_proto::lifecycle::{Ended, EventCallback, RenewReason, SessionEvent};

/// Logs `event` through `tracing` (a warning when the core says so, else information) and
/// hands it to the callback, if any.
pub(crate) fn emit(callback: Option<&EventCallback>, event: &SessionEvent) {
    if event.is_warning() {
        tracing::warn!(target: "tableau_auth_hyper", "{event}");
    } else {
        tracing::info!(target: "tableau_auth_hyper", "{event}");
    }
    if let Some(callback) = callback {
        callback(event);
    }
}
