//! # tableau-auth-redis
//!
//! One Tableau session for a fleet of processes, shared through Redis.
//!
//! A personal access token allows one live session: a second sign-in with it, from anywhere,
//! ends the first. Processes that share a PAT therefore share its session through a store. The
//! core's [`Policy`](tableau_auth_proto::Policy) decides everything (when to look at the store,
//! what to adopt, when to take the sign-in lock, what to publish) and hands the driver
//! [`StoreRequest`]s ([`Action::Store`](tableau_auth_proto::Action::Store)). [`RedisStore`] runs
//! each one atomically in Redis, with a Lua script, and seals what it keeps:
//!
//! * the **record**, a hash at `<prefix>:{<name>}:session` with the fields `epoch` (32 hex
//!   digits), `gen` (the generation) and `blob` (the session, sealed with ChaCha20-Poly1305;
//!   empty for a retired session);
//! * the **sign-in lock**, a string at `<prefix>:{<name>}:lock` holding its owner's random hex,
//!   with a time to live.
//!
//! `<name>` is a keyed hash of the server, site and credential: Redis holds nothing in clear
//! that names the fleet or its user, and nothing secret. The keys (the record's name and the
//! sealing key) are derived from the credential's secret, so every process holding the PAT
//! finds and opens the record and nobody else does; a ready-made JWT has no lasting secret and
//! needs [`RedisStore::with_key`]. Whoever can write to Redis can delete or replay a record, at
//! worst costing a sign-in; they cannot read or forge a session.
//!
//! Both adapters use it; a driver of its own runs the core's requests like this:
//!
//! ```no_run
//! use std::time::Duration;
//! use tableau_auth_proto::Action;
//! use tableau_auth_redis::RedisStore;
//!
//! fn drive(store: &RedisStore, action: Action) {
//!     if let Action::Store(request) = action {
//!         match store.execute_blocking(&request) {
//!             Ok(reply) => { /* policy.handle_store(id, reply, inputs) */ }
//!             Err(error) => { /* policy.store_failed(id, &error.to_string(), inputs) */ }
//!         }
//!     }
//! }
//!
//! let store = RedisStore::open("rediss://:password@redis.internal:6380")?
//!     .key_prefix("etl")
//!     .timeout(Duration::from_secs(1));
//! # drop(store);
//! # Ok::<(), tableau_auth_redis::StoreError>(())
//! ```
//!
//! Feature `tokio` adds `RedisStore::execute`, the same on a multiplexed async connection.
//! TLS (`rediss://`) uses rustls with the *ring* provider and the Mozilla roots, in both modes.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unimplemented,
    clippy::todo
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod error;
mod scripts;
mod seal;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::{ConnectionAddr, RedisError, Value};
use tableau_auth_proto::{FleetScope, StoreOp, StoreReply, StoreRequest, Version};
use zeroize::Zeroizing;

pub use error::StoreError;

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

use scripts::{Kind, epoch_text, parse_reply};
use seal::Sealer;

/// The default prefix of every key.
const DEFAULT_PREFIX: &str = "tableau-auth";
/// The default time limit of a connection and of each operation.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// The shortest explicit key.
const MIN_KEY_LEN: usize = 32;
/// The longest lock time to live the store passes on (a day): Redis refuses huge ones.
const MAX_LOCK_TTL_MS: u128 = 24 * 60 * 60 * 1000;

/// A fleet's session store in Redis: runs the core's [`StoreRequest`]s.
///
/// Cheap to clone (the clones share the connections). Connects lazily, on the first operation;
/// a connection that failed is dropped and made anew on the next one. `Debug` shows the host,
/// port and key prefix, never the URL's user name or password.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    config: Config,
    round_trips: AtomicU64,
    blocking: Mutex<Option<redis::Connection>>,
    #[cfg(feature = "tokio")]
    multiplexed: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

#[derive(Clone)]
struct Config {
    /// `host:port`, for messages.
    endpoint: String,
    /// The URL's password as written and as used: scrubbed from every message.
    secrets: Vec<String>,
    key: Option<Zeroizing<Vec<u8>>>,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.inner.config;
        f.debug_struct("RedisStore")
            .field("endpoint", &config.endpoint)
            .field("key_prefix", &config.prefix)
            .field("timeout", &config.timeout)
            .finish_non_exhaustive()
    }
}

fn invalid(reason: &str) -> StoreError {
    StoreError::InvalidUrl {
        reason: reason.to_owned(),
    }
}

/// An operation ready to send: the script's keys and arguments, and the keys to open a reply.
struct Prepared {
    kind: Kind,
    sealer: Sealer,
    keys: Vec<String>,
    args: Vec<Vec<u8>>,
}

impl Prepared {
    fn command(&self, by_hash: bool) -> redis::Cmd {
        let script = self.kind.script();
        let mut cmd = if by_hash {
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(&script.hash);
            cmd
        } else {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(script.code);
            cmd
        };
        cmd.arg(self.keys.len());
        for key in &self.keys {
            cmd.arg(key);
        }
        for arg in &self.args {
            cmd.arg(arg.as_slice());
        }
        cmd
    }
}

fn is_noscript(error: &RedisError) -> bool {
    error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

fn seen_args(seen: Option<Version>) -> [Vec<u8>; 2] {
    match seen {
        None => [Vec::new(), Vec::new()],
        Some(v) => [
            epoch_text(v.epoch).into_bytes(),
            v.generation.to_string().into_bytes(),
        ],
    }
}

impl RedisStore {
    /// A store at `url`: `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS
    /// (certificates are always verified). Unix sockets are not supported. Validates the URL;
    /// connects on first use.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let parsed = redis::parse_redis_url(url).ok_or_else(|| {
            invalid("expected redis://host[:port][/db], or rediss://host[:port][/db] for TLS")
        })?;
        match parsed.scheme() {
            "redis" | "rediss" => {}
            "redis+unix" | "unix" | "valkey+unix" => {
                return Err(invalid(
                    "Unix sockets are not supported: use redis:// or rediss://",
                ));
            }
            _ => return Err(invalid("the scheme must be redis://, or rediss:// for TLS")),
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid("the URL has no host"));
        }
        if parsed.fragment().is_some() {
            return Err(invalid(
                "a fragment (such as #insecure) is not supported: TLS certificates are always verified",
            ));
        }
        let mut secrets: Vec<String> = parsed
            .password()
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .into_iter()
            .collect();
        let client = redis::Client::open(url).map_err(|e| StoreError::InvalidUrl {
            reason: scrub(e.to_string(), &secrets),
        })?;
        let info = client.get_connection_info();
        if let Some(password) = info.redis_settings().password()
            && !password.is_empty()
            && !secrets.iter().any(|s| s == password)
        {
            secrets.push(password.to_owned());
        }
        let endpoint = match info.addr() {
            ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
            ConnectionAddr::TcpTls { host, port, .. } => format!("{host}:{port} (TLS)"),
            _ => return Err(invalid("only TCP connections are supported")),
        };
        Ok(Self::from_parts(
            client,
            Config {
                endpoint,
                secrets,
                key: None,
                prefix: DEFAULT_PREFIX.to_owned(),
                timeout: DEFAULT_TIMEOUT,
            },
            0,
        ))
    }

    fn from_parts(client: redis::Client, config: Config, round_trips: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                config,
                round_trips: AtomicU64::new(round_trips),
                blocking: Mutex::new(None),
                #[cfg(feature = "tokio")]
                multiplexed: Mutex::new(None),
            }),
        }
    }

    /// The store with its configuration changed (and fresh connections).
    fn reconfigured(self, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.inner.config.clone();
        change(&mut config);
        Self::from_parts(
            self.inner.client.clone(),
            config,
            self.inner.round_trips.load(Ordering::Relaxed),
        )
    }

    /// Seals records with this key (at least 32 bytes; wiped on drop) instead of the
    /// credential's secret. Required for ready-made JWTs and unified access tokens, which have
    /// no lasting secret ([`FleetScope::secret`] is `None`); every process of the fleet needs the
    /// same key. It also names the records: changing it starts an empty store.
    pub fn with_key(self, key: impl Into<Vec<u8>>) -> Result<Self, StoreError> {
        let key = Zeroizing::new(key.into());
        if key.len() < MIN_KEY_LEN {
            return Err(StoreError::KeyTooShort);
        }
        Ok(self.reconfigured(|c| c.key = Some(key)))
    }

    /// The prefix of every key (default `"tableau-auth"`).
    pub fn key_prefix(self, prefix: &str) -> Self {
        let prefix = prefix.to_owned();
        self.reconfigured(|c| c.prefix = prefix)
    }

    /// The time limit of connecting and of each operation (default 2 s, at least 1 ms).
    pub fn timeout(self, timeout: Duration) -> Self {
        self.reconfigured(|c| c.timeout = timeout.max(Duration::from_millis(1)))
    }

    /// The Redis round trips this store and its clones made so far: each new connection counts
    /// one, each operation one (two when Redis did not know the script yet). A session used
    /// without a new sign-in makes none: benchmarks check the hot path with it.
    pub fn round_trips(&self) -> u64 {
        self.inner.round_trips.load(Ordering::Relaxed)
    }

    /// The Redis keys of `scope`'s record and lock, e.g.
    /// `tableau-auth:{<64 hex digits>}:session` and `tableau-auth:{<64 hex digits>}:lock` (the
    /// braces are a cluster hash tag: both keys are in one slot).
    pub fn keys_for(&self, scope: &FleetScope) -> Result<(String, String), StoreError> {
        let sealer = Sealer::for_scope(scope, self.explicit_key())?;
        Ok(self.key_names(&sealer))
    }

    fn explicit_key(&self) -> Option<&[u8]> {
        self.inner.config.key.as_ref().map(|k| k.as_slice())
    }

    fn key_names(&self, sealer: &Sealer) -> (String, String) {
        let prefix = &self.inner.config.prefix;
        let name = sealer.name();
        (
            format!("{prefix}:{{{name}}}:session"),
            format!("{prefix}:{{{name}}}:lock"),
        )
    }

    fn count(&self) {
        self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
    }

    fn prepare(&self, request: &StoreRequest) -> Result<Prepared, StoreError> {
        let sealer = Sealer::for_scope(&request.scope, self.explicit_key())?;
        let (record, lock) = self.key_names(&sealer);
        let (kind, keys, args) = match &request.op {
            StoreOp::Acquire { seen, owner, ttl } => {
                let ttl_ms = ttl.as_millis().clamp(1, MAX_LOCK_TTL_MS);
                let [epoch, generation] = seen_args(*seen);
                (
                    Kind::Acquire,
                    vec![record, lock],
                    vec![
                        epoch,
                        generation,
                        owner.to_hex().into_bytes(),
                        ttl_ms.to_string().into_bytes(),
                    ],
                )
            }
            StoreOp::Publish {
                seen,
                owner,
                new_epoch,
                session,
            } => {
                let blob = match session {
                    Some(session) => sealer.seal(session)?,
                    None => Vec::new(),
                };
                let [epoch, generation] = seen_args(*seen);
                (
                    Kind::Publish,
                    vec![record, lock],
                    vec![
                        epoch,
                        generation,
                        epoch_text(*new_epoch).into_bytes(),
                        blob,
                        owner.to_hex().into_bytes(),
                    ],
                )
            }
            StoreOp::Release { owner } => {
                (Kind::Release, vec![lock], vec![owner.to_hex().into_bytes()])
            }
            _ => {
                return Err(StoreError::UnexpectedReply {
                    what: "a store operation this version of tableau-auth-redis does not know"
                        .to_owned(),
                });
            }
        };
        Ok(Prepared {
            kind,
            sealer,
            keys,
            args,
        })
    }

    fn scrubbed(&self, error: &RedisError) -> String {
        scrub(error.to_string(), &self.inner.config.secrets)
    }

    fn connect_error(&self, error: &RedisError) -> StoreError {
        let config = &self.inner.config;
        if error.is_timeout() {
            StoreError::Timeout {
                what: "connect",
                after: config.timeout,
            }
        } else {
            StoreError::Connect {
                message: format!("{}: {}", config.endpoint, self.scrubbed(error)),
            }
        }
    }

    fn operation_error(&self, kind: Kind, error: &RedisError) -> StoreError {
        let config = &self.inner.config;
        if error.is_timeout() {
            StoreError::Timeout {
                what: kind.name(),
                after: config.timeout,
            }
        } else if error.is_io_error()
            || error.is_connection_dropped()
            || error.is_connection_refusal()
        {
            StoreError::Connect {
                message: format!(
                    "{}: the connection failed during {}: {}",
                    config.endpoint,
                    kind.name(),
                    self.scrubbed(error)
                ),
            }
        } else {
            StoreError::Redis {
                message: format!("{}: {}", kind.name(), self.scrubbed(error)),
            }
        }
    }

    /// Runs one operation on a blocking connection (one at a time per store and its clones),
    /// within [`RedisStore::timeout`] for connecting and for each step.
    pub fn execute_blocking(&self, request: &StoreRequest) -> Result<StoreReply, StoreError> {
        let prepared = self.prepare(request)?;
        let mut slot = self
            .inner
            .blocking
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let reused = slot.is_some();
        let mut result = self.run_blocking(&mut slot, &prepared);
        if result.is_err() {
            *slot = None;
        }
        if reused && matches!(result, Err(StoreError::Connect { .. })) {
            // A connection kept from before may have died with a Redis that restarted since:
            // one more try on a fresh one. Every operation may run twice (see `scripts`).
            result = self.run_blocking(&mut slot, &prepared);
            if result.is_err() {
                *slot = None;
            }
        }
        drop(slot);
        parse_reply(prepared.kind, result?, &prepared.sealer)
    }

    fn run_blocking(
        &self,
        slot: &mut Option<redis::Connection>,
        prepared: &Prepared,
    ) -> Result<Value, StoreError> {
        let connection = match slot {
            Some(connection) => connection,
            None => slot.insert(self.connect_blocking()?),
        };
        self.count();
        let first = prepared.command(true).query::<Value>(connection);
        let result = match first {
            Err(error) if is_noscript(&error) => {
                self.count();
                prepared.command(false).query::<Value>(connection)
            }
            other => other,
        };
        result.map_err(|e| self.operation_error(prepared.kind, &e))
    }

    fn connect_blocking(&self) -> Result<redis::Connection, StoreError> {
        let timeout = self.inner.config.timeout;
        self.count();
        let connection = self
            .inner
            .client
            .get_connection_with_timeout(timeout)
            .map_err(|e| self.connect_error(&e))?;
        connection
            .set_read_timeout(Some(timeout))
            .and_then(|()| connection.set_write_timeout(Some(timeout)))
            .map_err(|e| self.connect_error(&e))?;
        Ok(connection)
    }

    /// Runs one operation on a multiplexed async connection (shared by the store's clones),
    /// every step within [`RedisStore::timeout`]. Needs a tokio runtime with its time driver.
    #[cfg(feature = "tokio")]
    pub async fn execute(&self, request: &StoreRequest) -> Result<StoreReply, StoreError> {
        let prepared = self.prepare(request)?;
        let cached = self
            .inner
            .multiplexed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let reused = cached.is_some();
        let mut result = self.execute_async_once(cached, &prepared).await;
        if reused && matches!(result, Err(StoreError::Connect { .. })) {
            // A connection kept from before may have died with a Redis that restarted since:
            // one more try on a fresh one. Every operation may run twice (see `scripts`).
            result = self.execute_async_once(None, &prepared).await;
        }
        parse_reply(prepared.kind, result?, &prepared.sealer)
    }

    /// One try of an operation on `cached`, or on a new connection; a failed connection is
    /// forgotten.
    #[cfg(feature = "tokio")]
    async fn execute_async_once(
        &self,
        cached: Option<redis::aio::MultiplexedConnection>,
        prepared: &Prepared,
    ) -> Result<Value, StoreError> {
        let mut connection = match cached {
            Some(connection) => connection,
            None => {
                let connection = self.connect_async().await?;
                *self
                    .inner
                    .multiplexed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(connection.clone());
                connection
            }
        };
        let result = self.run_async(&mut connection, prepared).await;
        if result.is_err() {
            *self
                .inner
                .multiplexed
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = None;
        }
        result
    }

    #[cfg(feature = "tokio")]
    async fn connect_async(&self) -> Result<redis::aio::MultiplexedConnection, StoreError> {
        let timeout = self.inner.config.timeout;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        self.count();
        let connecting = self
            .inner
            .client
            .get_multiplexed_async_connection_with_config(&config);
        match tokio::time::timeout(timeout, connecting).await {
            Err(_) => Err(StoreError::Timeout {
                what: "connect",
                after: timeout,
            }),
            Ok(Err(error)) => Err(self.connect_error(&error)),
            Ok(Ok(connection)) => Ok(connection),
        }
    }

    #[cfg(feature = "tokio")]
    async fn run_async(
        &self,
        connection: &mut redis::aio::MultiplexedConnection,
        prepared: &Prepared,
    ) -> Result<Value, StoreError> {
        let timeout = self.inner.config.timeout;
        let timed_out = || StoreError::Timeout {
            what: prepared.kind.name(),
            after: timeout,
        };
        self.count();
        let by_hash = prepared.command(true);
        let first = tokio::time::timeout(timeout, by_hash.query_async::<Value>(connection))
            .await
            .map_err(|_| timed_out())?;
        let result = match first {
            Err(error) if is_noscript(&error) => {
                self.count();
                let by_code = prepared.command(false);
                tokio::time::timeout(timeout, by_code.query_async::<Value>(connection))
                    .await
                    .map_err(|_| timed_out())?
            }
            other => other,
        };
        result.map_err(|e| self.operation_error(prepared.kind, &e))
    }
}

/// `text` with every secret replaced.
fn scrub(mut text: String, secrets: &[String]) -> String {
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "[redacted]");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_validated_and_their_secrets_never_shown() {
        for (url, why) in [
            ("127.0.0.1:6379", "expected redis://"),
            ("http://127.0.0.1:6379", "expected redis://"),
            ("valkey://127.0.0.1:6379", "scheme"),
            ("redis+unix:///tmp/redis.sock", "Unix"),
            ("unix:///tmp/redis.sock", "Unix"),
            (
                "rediss://:SENTINEL-pw@redis.example.com/#insecure",
                "fragment",
            ),
            ("redis://:SENTINEL-pw@", "expected redis://"),
            ("not a url", "expected redis://"),
        ] {
            let error = RedisStore::open(url).unwrap_err();
            let text = error.to_string();
            assert!(matches!(error, StoreError::InvalidUrl { .. }), "{url}");
            assert!(text.contains(why), "{url}: {text}");
            assert!(!text.contains("SENTINEL"), "{text}");
        }
        for url in [
            "redis://:SENTINEL-pw@127.0.0.1:6390/2",
            "redis://SENTINEL-user:SENTINEL-pw@127.0.0.1:6390",
            "rediss://:SENTINEL%2Dpw@redis.example.com",
        ] {
            let store = RedisStore::open(url).unwrap();
            let shown = format!("{store:?}");
            assert!(!shown.contains("SENTINEL"), "{shown}");
            assert!(shown.contains("6390") || shown.contains("redis.example.com:6379"));
        }
    }

    #[test]
    fn keys_must_be_long_enough() {
        let store = RedisStore::open("redis://127.0.0.1").unwrap();
        assert!(matches!(
            store.clone().with_key(vec![0; 31]),
            Err(StoreError::KeyTooShort)
        ));
        assert!(store.with_key(vec![0; 32]).is_ok());
    }

    #[test]
    fn scrubbing_replaces_every_occurrence() {
        let secrets = vec!["pw-1".to_owned(), String::new()];
        assert_eq!(
            scrub("a pw-1 b pw-1".to_owned(), &secrets),
            "a [redacted] b [redacted]"
        );
    }
}
