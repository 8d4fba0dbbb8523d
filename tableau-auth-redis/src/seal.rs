//! The record's name and its sealing, both derived from the fleet's key material.
//!
//! `master` is the store's explicit key ([`crate::RedisStore::with_key`]) or else the
//! credential's secret ([`FleetScope::secret`]). HKDF-SHA256 (salt `"tableau-auth fleet v1"`)
//! expands it twice:
//!
//! * info `"record name"`: an HMAC-SHA256 key; the record's name is the hex of the HMAC of the
//!   scope's identity (server, site, credential kind and name), so that a key name tells nothing
//!   of whose record it is;
//! * info `"seal"`: a ChaCha20-Poly1305 key. A sealed blob is `"TA1" || nonce (12 random bytes) ||
//!   ciphertext || tag`, with the record's name as the associated data: a blob copied under
//!   another fleet's name does not open.

use ring::aead::{self, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, Salt};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use tableau_auth_proto::{FleetScope, SharedSession};
use zeroize::Zeroizing;

use crate::StoreError;

const SALT: &[u8] = b"tableau-auth fleet v1";
const INFO_NAME: &[u8] = b"record name";
const INFO_SEAL: &[u8] = b"seal";
/// The first bytes of a sealed blob: the format's version.
const MAGIC: &[u8] = b"TA1";
const TAG_LEN: usize = 16;
/// The largest blob worth opening: a session encodes to at most 16 KiB.
pub(crate) const MAX_BLOB: usize = 32 * 1024;

/// The derived keys of one scope.
pub(crate) struct Sealer {
    /// 64 lowercase hex digits: the record's name (and the seal's associated data).
    name: String,
    key: LessSafeKey,
}

impl Sealer {
    /// Derives the keys of `scope` from `explicit` (the store's own key) or else the scope's
    /// secret.
    pub(crate) fn for_scope(
        scope: &FleetScope,
        explicit: Option<&[u8]>,
    ) -> Result<Self, StoreError> {
        let master = explicit
            .or_else(|| scope.secret())
            .ok_or(StoreError::NoKey)?;
        Self::derive(master, scope.identity()).ok_or(StoreError::Seal {
            reason: "key derivation failed",
        })
    }

    fn derive(master: &[u8], identity: &[u8]) -> Option<Self> {
        let prk = Salt::new(HKDF_SHA256, SALT).extract(master);
        let name_key: hmac::Key = prk.expand(&[INFO_NAME], hmac::HMAC_SHA256).ok()?.into();
        let tag = hmac::sign(&name_key, identity);
        let name = hex(tag.as_ref());
        let seal_key: UnboundKey = prk
            .expand(&[INFO_SEAL], &aead::CHACHA20_POLY1305)
            .ok()?
            .into();
        Some(Self {
            name,
            key: LessSafeKey::new(seal_key),
        })
    }

    /// The record's name: 64 lowercase hex digits.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Seals `session`.
    pub(crate) fn seal(&self, session: &SharedSession) -> Result<Vec<u8>, StoreError> {
        self.seal_bytes(&session.encode())
    }

    fn seal_bytes(&self, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0_u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| StoreError::Seal {
                reason: "the system's random number generator failed",
            })?;
        // Holds the plaintext until it is sealed in place: wiped if sealing fails.
        let mut blob = Zeroizing::new(Vec::with_capacity(
            MAGIC.len() + NONCE_LEN + plaintext.len() + TAG_LEN,
        ));
        blob.extend_from_slice(MAGIC);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(plaintext);
        let failed = || StoreError::Seal {
            reason: "sealing failed",
        };
        let body = blob.get_mut(MAGIC.len() + NONCE_LEN..).ok_or_else(failed)?;
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.name.as_bytes()),
                body,
            )
            .map_err(|_| failed())?;
        blob.extend_from_slice(tag.as_ref());
        Ok(std::mem::take(&mut *blob))
    }

    /// The session in `blob`; `None` for anything that is not a blob sealed with these keys
    /// for this name, or does not hold a session. Never panics.
    pub(crate) fn open(&self, blob: &[u8]) -> Option<SharedSession> {
        if blob.len() > MAX_BLOB || blob.len() < MAGIC.len() + NONCE_LEN + TAG_LEN {
            return None;
        }
        let rest = blob.strip_prefix(MAGIC)?;
        let (nonce, sealed) = rest.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = Zeroizing::new(sealed.to_vec());
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(self.name.as_bytes()), &mut buffer)
            .ok()?;
        SharedSession::decode(plaintext)
    }
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tableau_auth_proto::{Credentials, SignIn};

    const SESSION: &[u8] = br#"{"v":1,"token":"SENTINEL-token","site":"site-luid","content_url":"Finance","user":"user-luid","api":"3.25","signed_in":1700000000}"#;

    fn session() -> SharedSession {
        SharedSession::decode(SESSION).unwrap()
    }

    fn scope(site: &str, secret: &str) -> FleetScope {
        FleetScope::new(
            "https://tableau.example.com",
            &SignIn::new(Credentials::personal_access_token("etl", secret), site),
        )
    }

    #[test]
    fn a_sealed_session_opens_with_the_same_keys_only() {
        let a = Sealer::for_scope(&scope("Finance", "secret-a"), None).unwrap();
        let blob = a.seal(&session()).unwrap();
        assert!(blob.starts_with(b"TA1"));
        assert!(!blob.windows(8).any(|w| w == b"SENTINEL"));
        assert_eq!(*a.open(&blob).unwrap().encode(), *session().encode());
        assert_eq!(a.name().len(), 64);
        assert!(
            a.name()
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );

        // Another secret, another site (another name, same master), an explicit key.
        for other in [
            Sealer::for_scope(&scope("Finance", "secret-b"), None).unwrap(),
            Sealer::for_scope(&scope("Sales", "secret-a"), None).unwrap(),
            Sealer::for_scope(&scope("Finance", "secret-a"), Some(&[7; 32])).unwrap(),
        ] {
            assert_ne!(other.name(), a.name());
            assert!(other.open(&blob).is_none());
        }
        // Same scope and secret: the same name (every process of the fleet finds it).
        assert_eq!(
            Sealer::for_scope(&scope("Finance", "secret-a"), None)
                .unwrap()
                .name(),
            a.name()
        );
    }

    #[test]
    fn every_flipped_bit_and_every_truncation_fails_to_open() {
        let a = Sealer::for_scope(&scope("Finance", "secret-a"), None).unwrap();
        let blob = a.seal(&session()).unwrap();
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert!(a.open(&bad).is_none(), "byte {i}");
            assert!(a.open(&blob[..i]).is_none(), "length {i}");
        }
    }

    #[test]
    fn a_jwt_scope_needs_an_explicit_key() {
        let jwt = FleetScope::new(
            "https://tableau.example.com",
            &SignIn::new(Credentials::jwt("a.b.c"), "Finance"),
        );
        assert!(matches!(
            Sealer::for_scope(&jwt, None),
            Err(StoreError::NoKey)
        ));
        assert!(Sealer::for_scope(&jwt, Some(&[1; 32])).is_ok());
    }

    #[test]
    fn sealed_bytes_that_hold_no_session_open_to_none() {
        let a = Sealer::for_scope(&scope("Finance", "secret-a"), None).unwrap();
        for plaintext in [&b""[..], b"{}", b"\xff", &[b'x'; 20_000]] {
            let blob = a.seal_bytes(plaintext).unwrap();
            assert!(a.open(&blob).is_none());
        }
    }

    proptest! {
        #[test]
        fn opening_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let a = Sealer::for_scope(&scope("Finance", "secret-a"), None).unwrap();
            prop_assert!(a.open(&bytes).is_none());
            let mut prefixed = b"TA1".to_vec();
            prefixed.extend_from_slice(&bytes);
            prop_assert!(a.open(&prefixed).is_none());
        }
    }
}
