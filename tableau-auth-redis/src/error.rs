//! What can go wrong between a process and its Redis.

use std::time::Duration;

/// A store operation failed. The policy treats every one alike
/// ([`tableau_auth_proto::Policy::store_failed`]); the message says why, and never contains the
/// URL's user name or password, a key, or a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The Redis URL is not one this store takes.
    #[error("invalid Redis URL: {reason}")]
    InvalidUrl {
        /// Why.
        reason: String,
    },
    /// The credential has no secret to derive the sealing key from (a ready-made JWT or unified
    /// access token): give the store one with [`crate::RedisStore::with_key`].
    #[error(
        "the credential has no secret to seal the fleet's session with (a ready-made JWT): \
         give the store a key with RedisStore::with_key"
    )]
    NoKey,
    /// The key given to [`crate::RedisStore::with_key`] is shorter than 32 bytes.
    #[error("a sealing key must be at least 32 bytes long")]
    KeyTooShort,
    /// Redis could not be reached, refused the connection or the credentials, or the
    /// connection broke.
    #[error("cannot reach Redis: {message}")]
    Connect {
        /// What happened, with the server's host and port.
        message: String,
    },
    /// Redis did not answer in time.
    #[error("Redis did not answer {what} within {after:?}")]
    Timeout {
        /// The step that timed out (`"connect"`, `"acquire"`, `"publish"`, `"release"`).
        what: &'static str,
        /// The time limit ([`crate::RedisStore::timeout`]).
        after: Duration,
    },
    /// Redis answered with an error.
    #[error("Redis error: {message}")]
    Redis {
        /// The error, as Redis and the client library put it.
        message: String,
    },
    /// Redis answered something the store's scripts never return.
    #[error("unexpected reply from Redis: {what}")]
    UnexpectedReply {
        /// What was wrong with it (never its contents).
        what: String,
    },
    /// The session could not be sealed (the system's random number generator failed).
    #[error("cannot seal the session: {reason}")]
    Seal {
        /// Why.
        reason: &'static str,
    },
}
