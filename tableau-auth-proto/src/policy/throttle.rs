//! Waiting out a throttled (429) or unavailable (503) server: how long, with what jitter, and
//! within which caps. One window per session (in [`super::snapshot::Pulse`]); one budget per call.

use std::time::{Duration, Instant, SystemTime};

use crate::config::RetryPolicy;
use crate::error::Error;

/// The share of a wait added as jitter, at most: a tenth, and never more than a second.
const JITTER_SHARE: u32 = 10;
const JITTER_CAP: Duration = Duration::from_secs(1);

/// What one call has spent on throttling so far.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Budget {
    retries: u32,
    waited: Duration,
}

/// The decision on a throttled answer.
pub(crate) enum Decision {
    /// Wait until this instant (the window, jitter included), then try again.
    Wait { until: Instant, delay: Duration },
    /// Over the caps: end the call with this error.
    GiveUp(Error),
}

impl Budget {
    /// Decides what to do about `error` (retryable: 429/503), received at `now` / `wall`, with
    /// `random` bytes for the jitter. Spends the budget when it waits.
    pub(crate) fn decide(
        &mut self,
        policy: &RetryPolicy,
        error: Error,
        now: Instant,
        wall: SystemTime,
        random: [u8; 16],
    ) -> Decision {
        let wait = error
            .retry_after()
            .map_or(policy.default_delay, |r| r.delay_from(wall));
        let status = error
            .status()
            .unwrap_or(http::StatusCode::TOO_MANY_REQUESTS);
        if self.retries >= policy.max_retries || self.waited.saturating_add(wait) > policy.max_wait
        {
            return Decision::GiveUp(Error::Throttled {
                status,
                wait,
                waited: self.waited,
                retries: self.retries,
                max_retries: policy.max_retries,
                max_wait: policy.max_wait,
                source: Box::new(error),
            });
        }
        self.retries += 1;
        self.waited = self.waited.saturating_add(wait);
        let delay = wait.saturating_add(jitter(wait, random));
        Decision::Wait {
            until: now.checked_add(delay).unwrap_or(now),
            delay,
        }
    }
}

/// Up to a tenth of `delay` (at most a second), from the caller's random bytes: callers
/// throttled together do not come back together.
pub(crate) fn jitter(delay: Duration, random: [u8; 16]) -> Duration {
    let [a, b, c, d, e, f, g, h, ..] = random;
    let bits = u64::from_le_bytes([a, b, c, d, e, f, g, h]) >> 11;
    let fraction = bits as f64 / (1u64 << 53) as f64;
    (delay / JITTER_SHARE).min(JITTER_CAP).mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ApiError, RetryAfter};
    use http::StatusCode;

    fn throttled(secs: u64) -> Error {
        Error::Api(ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "429000".into(),
            summary: "Too Many Requests".into(),
            detail: String::new(),
            retry_after: Some(RetryAfter::Delay(Duration::from_secs(secs))),
        })
    }

    #[test]
    fn jitter_stays_within_a_tenth_and_a_second() {
        for secs in [0u64, 1, 5, 60, 3_600] {
            let delay = Duration::from_secs(secs);
            for byte in [0u8, 1, 127, 255] {
                let j = jitter(delay, [byte; 16]);
                assert!(j <= delay / 10 && j <= Duration::from_secs(1), "{j:?}");
            }
        }
        assert!(jitter(Duration::from_secs(5), [255; 16]) > Duration::from_millis(400));
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // some instant to count from
    fn the_budget_caps_retries_and_total_wait() {
        let policy = RetryPolicy {
            max_retries: 2,
            max_wait: Duration::from_secs(10),
            default_delay: Duration::from_secs(1),
        };
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut budget = Budget::default();
        assert!(matches!(
            budget.decide(&policy, throttled(4), now, wall, [0; 16]),
            Decision::Wait { delay, .. } if delay == Duration::from_secs(4)
        ));
        // 4 + 7 > 10: over the total wait, and the error names the wait.
        match budget.decide(&policy, throttled(7), now, wall, [0; 16]) {
            Decision::GiveUp(Error::Throttled {
                wait,
                waited,
                retries,
                ..
            }) => {
                assert_eq!(
                    (wait, waited, retries),
                    (Duration::from_secs(7), Duration::from_secs(4), 1)
                );
            }
            _ => panic!("expected Throttled"),
        }
        assert!(matches!(
            budget.decide(&policy, throttled(1), now, wall, [0; 16]),
            Decision::Wait { .. }
        ));
        // Two retries spent.
        let e = match budget.decide(&policy, throttled(1), now, wall, [0; 16]) {
            Decision::GiveUp(e) => e,
            Decision::Wait { .. } => panic!("over the retry cap"),
        };
        assert!(e.to_string().contains("asks to wait 1 s"), "{e}");
        assert_eq!(e.code(), Some("429000"));
        assert!(e.is_retryable());
    }
}
