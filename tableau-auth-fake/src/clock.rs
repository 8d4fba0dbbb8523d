//! The fake server's clock: real wall-clock time plus an offset that tests can advance.
//!
//! Every time-dependent rule of the fake (session idle/absolute expiry, PAT expiry, JWT
//! `exp`/`nbf`, ticket timeout) reads this clock, so `advance` makes time pass instantly.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::sync::lock;

/// Wall-clock time shifted by an adjustable offset.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset: Mutex<Duration>,
}

impl Clock {
    /// A clock that starts at the real time (offset zero).
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The fake "now" as a duration since the Unix epoch (real time + offset).
    pub(crate) fn now(&self) -> Duration {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        real.saturating_add(*lock(&self.offset))
    }

    /// The fake "now" as a `SystemTime`.
    pub(crate) fn now_system(&self) -> SystemTime {
        UNIX_EPOCH + self.now()
    }

    /// The fake "now" in whole Unix seconds.
    pub(crate) fn now_unix(&self) -> u64 {
        self.now().as_secs()
    }

    /// Moves the clock forward by `by`.
    pub(crate) fn advance(&self, by: Duration) {
        let mut offset = lock(&self.offset);
        *offset = offset.saturating_add(by);
    }

    /// How far the clock has been advanced in total.
    pub(crate) fn offset(&self) -> Duration {
        *lock(&self.offset)
    }
}
