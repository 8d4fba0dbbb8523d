//! One session for a fleet: what many processes sharing one session through a store exchange
//! with it, and the options of the sharing.
//!
//! A personal access token allows one live session: a second sign-in with it, from anywhere,
//! ends the first. Processes that share a PAT therefore share its session through a store (the
//! `tableau-auth-redis` crate is one). The [`crate::Policy`] decides everything: when to read the
//! store, what to compare, when to take the sign-in lock, what to adopt and what to publish. The
//! store only executes [`StoreOp`]s atomically and seals what it keeps:
//!
//! * **the record**: a [`Version`] (an epoch chosen when the record is first written, and a
//!   generation the store increments on every publish) and a sealed [`SharedSession`] (none for
//!   a retired session);
//! * **the sign-in lock**: an owner value with a time to live; it only saves duplicate sign-ins;
//!   correctness comes from the compare-and-set of [`StoreOp::Publish`] on the version, so a
//!   slow sign-in can never overwrite a newer session.
//!
//! A store keys and seals the records of a [`FleetScope`]: the server, the site and the
//! credential's identity, with the credential's secret as the key material (whoever holds the
//! PAT may read the fleet's session; nobody else).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::intent::{Credentials, SignIn};
use crate::secret::{AuthToken, REDACTED};
use crate::version::ApiVersion;

/// What a process does when the store cannot be reached and its session needs a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhenStoreDown {
    /// Fail the call with [`crate::Error::StoreUnavailable`]: the fleet never holds two sessions
    /// (with a PAT, a sign-in of its own would end the others' session).
    FailClosed,
    /// Sign in within the process, at most `max_sign_ins` times per outage, and report
    /// [`crate::lifecycle::SessionEvent::FleetSplit`]: the fleet's processes may end each other's
    /// sessions until the store is back.
    SignInLocally {
        /// The most sign-ins of one process while the store stays unreachable.
        max_sign_ins: u32,
    },
}

/// How a [`crate::Policy`] shares its session with other processes through a store.
///
/// ```
/// use std::time::Duration;
/// use tableau_auth_proto::{FleetConfig, WhenStoreDown};
///
/// let fleet = FleetConfig::new()
///     .lock_ttl(Duration::from_secs(20))
///     .when_store_down(WhenStoreDown::SignInLocally { max_sign_ins: 2 });
/// assert_eq!(fleet.lock_ttl_value(), Duration::from_secs(20));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetConfig {
    lock_ttl: Duration,
    max_wait: Option<Duration>,
    poll_interval: Duration,
    when_down: WhenStoreDown,
    retry_store_after: Duration,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl FleetConfig {
    /// The default time to live of the sign-in lock: 30 s. It must exceed the time a sign-in
    /// may take (the adapter's request timeout, times the redirects and the version probe).
    pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(30);
    /// The first pause of a process waiting for another's sign-in; it grows by half each time,
    /// up to [`FleetConfig::MAX_POLL_INTERVAL`].
    pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(20);
    /// The longest pause between two looks at the store while waiting.
    pub const MAX_POLL_INTERVAL: Duration = Duration::from_millis(500);
    /// The first pause before the store is tried again after it failed (doubling up to 30 s).
    pub const DEFAULT_RETRY_STORE_AFTER: Duration = Duration::from_secs(1);

    /// The defaults: a 30 s lock, waiting up to the lock's TTL plus 5 s for another process's
    /// sign-in, failing closed when the store is down.
    pub fn new() -> Self {
        Self {
            lock_ttl: Self::DEFAULT_LOCK_TTL,
            max_wait: None,
            poll_interval: Self::DEFAULT_POLL_INTERVAL,
            when_down: WhenStoreDown::FailClosed,
            retry_store_after: Self::DEFAULT_RETRY_STORE_AFTER,
        }
    }

    /// The sign-in lock's time to live (at least 1 s): a process that dies while it holds the
    /// lock delays the others by at most this long.
    pub fn lock_ttl(mut self, ttl: Duration) -> Self {
        self.lock_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// How long a call waits for another process's sign-in before it fails with
    /// [`crate::Error::StoreUnavailable`] (default: the lock's TTL plus 5 s).
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = Some(wait);
        self
    }

    /// The first pause between looks at the store while waiting (at least 1 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// What to do when the store cannot be reached (default [`WhenStoreDown::FailClosed`]).
    pub fn when_store_down(mut self, when: WhenStoreDown) -> Self {
        self.when_down = when;
        self
    }

    /// The first pause before the store is tried again after a failure (doubling, up to 30 s).
    pub fn retry_store_after(mut self, pause: Duration) -> Self {
        self.retry_store_after = pause;
        self
    }

    /// The sign-in lock's time to live.
    pub fn lock_ttl_value(&self) -> Duration {
        self.lock_ttl
    }

    /// How long a call waits for another process's sign-in.
    pub fn max_wait_value(&self) -> Duration {
        self.max_wait
            .unwrap_or_else(|| self.lock_ttl.saturating_add(Duration::from_secs(5)))
    }

    pub(crate) fn poll_interval_value(&self) -> Duration {
        self.poll_interval
    }

    /// What happens when the store is down.
    pub fn when_store_down_value(&self) -> WhenStoreDown {
        self.when_down
    }

    pub(crate) fn retry_store_after_value(&self) -> Duration {
        self.retry_store_after
    }
}

/// Which fleet a session belongs to: the server, the site and the credential's identity (kind
/// and name), and the credential's secret, from which a store derives the record's key and its
/// sealing key. `Debug` shows neither; both are wiped on drop.
pub struct FleetScope {
    identity: Zeroizing<Vec<u8>>,
    secret: Option<Zeroizing<Vec<u8>>>,
}

impl fmt::Debug for FleetScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetScope")
            .field("identity", &REDACTED)
            .field("secret", &self.secret.as_ref().map(|_| REDACTED))
            .finish()
    }
}

impl FleetScope {
    /// The scope of `sign_in` at the server `origin` (scheme, host and port).
    ///
    /// The secret is the password, the PAT's secret or the connected app's secret value; a
    /// ready-made JWT changes with every sign-in and gives none (the store then needs a key of
    /// its own).
    pub fn new(origin: &str, sign_in: &SignIn) -> Self {
        let (kind, name, secret): (&str, String, Option<&str>) = match &sign_in.credentials {
            Credentials::Password { name, password } => {
                ("password", name.clone(), Some(password.expose_secret()))
            }
            Credentials::PersonalAccessToken { name, secret } => {
                ("pat", name.clone(), Some(secret.expose_secret()))
            }
            Credentials::Jwt { is_uat, .. } => {
                (if *is_uat { "uat" } else { "jwt" }, String::new(), None)
            }
            #[cfg(feature = "jwt")]
            Credentials::ConnectedApp(app) => (
                "connected-app",
                app.fleet_identity(),
                Some(app.secret_value()),
            ),
            // The key is the signer's: the store needs a key of its own.
            #[cfg(feature = "jwt")]
            Credentials::UnifiedAccess(uat) => ("uat-minted", uat.fleet_identity(), None),
        };
        let impersonate = sign_in
            .impersonate
            .as_ref()
            .map(|u| u.as_str().to_owned())
            .unwrap_or_default();
        let mut identity = Zeroizing::new(Vec::new());
        for part in [
            "tableau-auth fleet v1",
            origin,
            sign_in.site.as_str(),
            kind,
            &name,
            &impersonate,
        ] {
            // Length-prefixed, so that no two different scopes share a byte string.
            identity.extend_from_slice(&(part.len() as u64).to_be_bytes());
            identity.extend_from_slice(part.as_bytes());
        }
        Self {
            identity,
            secret: secret.map(|s| Zeroizing::new(s.as_bytes().to_vec())),
        }
    }

    /// The scope's identity as bytes (server, site, credential kind and name): input to the
    /// store's keyed hash of the record's key. Never store it in clear.
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }

    /// The credential's secret: key material for the record's key and its sealing.
    pub fn secret(&self) -> Option<&[u8]> {
        self.secret.as_deref().map(Vec::as_slice)
    }
}

/// Which record a store holds: `epoch` is chosen at random by the first writer of an empty
/// store (so that a store emptied by a restart is not mistaken for an old generation), and
/// `generation` grows by one with every publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    /// The epoch (random, fixed while the record exists).
    pub epoch: u128,
    /// The generation within the epoch (1 for the first record).
    pub generation: u64,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}…/{}", self.epoch >> 96, self.generation)
    }
}

/// The session a record shares: the token and what using it needs. `Debug` hides the token; it
/// is wiped on drop.
#[derive(Clone)]
pub struct SharedSession {
    pub(crate) token: AuthToken,
    pub(crate) site_id: String,
    pub(crate) site_content_url: String,
    pub(crate) user_id: String,
    pub(crate) api_version: ApiVersion,
    /// Seconds since the Unix epoch.
    pub(crate) signed_in: u64,
    pub(crate) credentials_expire: Option<u64>,
}

impl fmt::Debug for SharedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedSession")
            .field("token", &REDACTED)
            .field("site_id", &self.site_id)
            .field("api_version", &self.api_version)
            .field("signed_in", &self.signed_in)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Encoded<'a> {
    v: u8,
    token: &'a str,
    site: &'a str,
    content_url: &'a str,
    user: &'a str,
    api: &'a str,
    signed_in: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<u64>,
}

/// The most bytes a store hands back for one record: bigger is not ours.
const MAX_ENCODED: usize = 16 * 1024;

impl SharedSession {
    /// The bytes a store seals: plain data, wiped on drop.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let api = self.api_version.to_string();
        let encoded = Encoded {
            v: 1,
            token: self.token.expose_secret(),
            site: &self.site_id,
            content_url: &self.site_content_url,
            user: &self.user_id,
            api: &api,
            signed_in: self.signed_in,
            expires: self.credentials_expire,
        };
        Zeroizing::new(serde_json::to_vec(&encoded).unwrap_or_default())
    }

    /// The session in bytes a store opened; `None` for anything that is not one (never panics).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > MAX_ENCODED {
            return None;
        }
        let encoded: Encoded<'_> = serde_json::from_slice(bytes).ok()?;
        let token = encoded.token;
        if encoded.v != 1
            || token.is_empty()
            || !token.bytes().all(|b| b.is_ascii_graphic())
            || encoded.site.is_empty()
            || encoded.user.is_empty()
        {
            return None;
        }
        Some(Self {
            token: AuthToken::new(token),
            site_id: encoded.site.to_owned(),
            site_content_url: encoded.content_url.to_owned(),
            user_id: encoded.user.to_owned(),
            api_version: encoded.api.parse().ok()?,
            signed_in: encoded.signed_in,
            credentials_expire: encoded.expires,
        })
    }

    /// When the session was signed in (wall clock).
    pub fn signed_in_at(&self) -> SystemTime {
        UNIX_EPOCH
            .checked_add(Duration::from_secs(self.signed_in))
            .unwrap_or(UNIX_EPOCH)
    }
}

/// A record as the store holds it. `session` is `None` when the session was retired, or when
/// the sealed bytes do not open (tampered with, written by another fleet, or garbage): such a
/// record is never adopted, only replaced.
#[derive(Debug, Clone)]
pub struct Record {
    /// The record's version.
    pub version: Version,
    /// The session, if the record holds one that opened.
    pub session: Option<SharedSession>,
}

/// The value that marks the sign-in lock as one call's (random, from the caller's bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LockOwner(pub(crate) [u8; 16]);

impl LockOwner {
    /// An owner from 16 random bytes (the policy makes its own from [`crate::Inputs::random`];
    /// this is for a store's tests and for drivers of their own).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The owner as 32 lowercase hex digits, the value the store keeps.
    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for LockOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LockOwner({})", self.to_hex())
    }
}

/// An operation a store runs atomically for the policy ([`crate::Action::Store`]); its answer
/// goes to [`crate::Policy::handle_store`], a failure to [`crate::Policy::store_failed`].
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreOp {
    /// If the record's version is not `seen` (`None`: no record), answer
    /// [`StoreReply::Moved`] with it; otherwise take the sign-in lock for `owner` if it is free
    /// ([`StoreReply::Acquired`]) or answer [`StoreReply::Busy`].
    Acquire {
        /// The version the caller compares with.
        seen: Option<Version>,
        /// The lock's owner value.
        owner: LockOwner,
        /// The lock's time to live.
        ttl: Duration,
    },
    /// Releases the lock if `owner` holds it; then, if the record's version is still `seen`,
    /// writes `session` (or, for `None`, a retired record) as the next generation (`seen`'s
    /// generation + 1, or generation 1 with epoch `new_epoch` when there is no record) and
    /// answers [`StoreReply::Published`]; otherwise answers [`StoreReply::Moved`].
    Publish {
        /// The version the session replaces.
        seen: Option<Version>,
        /// The lock's owner value.
        owner: LockOwner,
        /// The epoch of a record written into an empty store.
        new_epoch: u128,
        /// The session to share; `None` retires the record.
        session: Option<SharedSession>,
    },
    /// Releases the lock if `owner` holds it (a failed sign-in); answers
    /// [`StoreReply::Released`].
    Release {
        /// The lock's owner value.
        owner: LockOwner,
    },
}

/// A store operation for the fleet of `scope` ([`crate::Action::Store`]).
#[derive(Debug)]
pub struct StoreRequest {
    /// Whose record and lock.
    pub scope: Arc<FleetScope>,
    /// What to do.
    pub op: StoreOp,
}

/// A store's answer to a [`StoreOp`].
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreReply {
    /// The record is not the version the caller saw: here it is (`None`: there is none).
    Moved(Option<Record>),
    /// The caller holds the sign-in lock.
    Acquired,
    /// Another process holds the sign-in lock.
    Busy,
    /// The session was written as this version.
    Published(Version),
    /// The lock was released (or was not the caller's).
    Released,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> SharedSession {
        SharedSession {
            token: AuthToken::new("SENTINEL-token-value"),
            site_id: "6b7179ba-b82b-4f0f-91ed-812074ac5da6".into(),
            site_content_url: "Finance".into(),
            user_id: "1a96d216-e9b8-497b-a82a-0b899a965e01".into(),
            api_version: ApiVersion::new(3, 25),
            signed_in: 1_700_000_000,
            credentials_expire: Some(1_700_003_600),
        }
    }

    #[test]
    fn a_session_round_trips_and_never_shows_its_token() {
        let s = session();
        let bytes = s.encode();
        let back = SharedSession::decode(&bytes).unwrap();
        assert_eq!(back.token.expose_secret(), "SENTINEL-token-value");
        assert_eq!(back.site_content_url, "Finance");
        assert_eq!(back.api_version, ApiVersion::new(3, 25));
        assert_eq!(back.credentials_expire, Some(1_700_003_600));
        assert!(!format!("{back:?}").contains("SENTINEL"));
    }

    #[test]
    fn bytes_that_are_not_a_session_decode_to_none() {
        for bad in [
            &b""[..],
            b"{}",
            b"\xff\xfe",
            br#"{"v":2,"token":"t","site":"s","content_url":"","user":"u","api":"3.25","signed_in":1}"#,
            br#"{"v":1,"token":"a b","site":"s","content_url":"","user":"u","api":"3.25","signed_in":1}"#,
            br#"{"v":1,"token":"t","site":"s","content_url":"","user":"u","api":"x","signed_in":1}"#,
        ] {
            assert!(SharedSession::decode(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn scopes_differ_by_every_part_and_hide_their_secret() {
        let pat = |name: &str, site: &str| {
            FleetScope::new(
                "https://tableau.example.com",
                &SignIn::new(
                    Credentials::personal_access_token(name, "SENTINEL-pat"),
                    site,
                ),
            )
        };
        let a = pat("etl", "Finance");
        assert_ne!(a.identity(), pat("etl", "Sales").identity());
        assert_ne!(a.identity(), pat("etl2", "Finance").identity());
        assert_eq!(a.identity(), pat("etl", "Finance").identity());
        assert_eq!(a.secret(), Some(&b"SENTINEL-pat"[..]));
        assert!(!format!("{a:?}").contains("SENTINEL") && !format!("{a:?}").contains("etl"));
    }
}
