//! # tableau-auth-rsa
//!
//! The RS256 signer of Tableau Cloud unified access tokens (UAT), on *ring* (tableau-auth's one
//! crypto backend): it loads the UAT configuration's private key (PKCS#8, PEM or DER) and signs
//! the tokens that tableau-auth's core mints ([`tableau_auth_proto::UnifiedAccess`]) — the core
//! itself holds no RSA code and draws no randomness. Both adapters re-export it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use tableau_auth_proto::{Credentials, SignIn, UnifiedAccess};
//! use tableau_auth_rsa::RsaSigner;
//!
//! let signer = RsaSigner::from_pem_file("key-1", "uat-private-key.pem")?;
//! let uat = UnifiedAccess::new("https://issuer.example.com", "tenant-id", "jsmith@example.com", Arc::new(signer))
//!     .scope("tableau:content:read");
//! let sign_in = SignIn::new(Credentials::unified_access(uat), "");
//! # Ok::<(), tableau_auth_rsa::KeyError>(())
//! ```
//!
//! The key is kept as its PKCS#8 bytes in a buffer wiped on drop, and never shown: `Debug`
//! prints the key ID only, and errors name the file, never its content. (ring's own parsed form
//! of the key is rebuilt for each signature and dropped right after; ring does not wipe it.)
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

use std::fmt;
use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use tableau_auth_proto::{SignerError, UatSigner};
use zeroize::Zeroizing;

/// A key that could not be loaded. No variant carries key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read the UAT key file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The PEM holds no `PRIVATE KEY` (PKCS#8) block.
    #[error(
        "no PKCS#8 private key (-----BEGIN PRIVATE KEY-----) in {what}; convert an RSA key with `openssl pkcs8 -topk8 -nocrypt`"
    )]
    NotPkcs8 {
        /// The file, or "the PEM".
        what: String,
    },
    /// The key is not an RSA key ring accepts (2048 to 8192 bits).
    #[error(
        "the UAT key in {what} is not an RSA private key ring accepts (2048 to 8192 bits): {reason}"
    )]
    Rejected {
        /// The file, or "the PEM".
        what: String,
        /// ring's reason.
        reason: String,
    },
    /// The key ID is empty.
    #[error("the UAT key id is empty")]
    EmptyKeyId,
}

/// Signs unified access tokens with RS256 (RSASSA-PKCS1-v1_5 with SHA-256).
pub struct RsaSigner {
    key_id: String,
    pkcs8: Zeroizing<Vec<u8>>,
    rng: SystemRandom,
}

impl fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaSigner")
            .field("key_id", &self.key_id)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl RsaSigner {
    /// The key in a PKCS#8 PEM file (`-----BEGIN PRIVATE KEY-----`), under the UAT
    /// configuration's key ID (`kid`).
    pub fn from_pem_file(
        key_id: impl Into<String>,
        path: impl AsRef<Path>,
    ) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let pem = Zeroizing::new(std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?);
        Self::from_pem_named(key_id.into(), &pem, &path.display().to_string())
    }

    /// The key in PKCS#8 PEM text.
    pub fn from_pem(key_id: impl Into<String>, pem: &[u8]) -> Result<Self, KeyError> {
        Self::from_pem_named(key_id.into(), pem, "the PEM")
    }

    /// The key as PKCS#8 DER bytes.
    pub fn from_pkcs8_der(key_id: impl Into<String>, der: &[u8]) -> Result<Self, KeyError> {
        Self::checked(key_id.into(), Zeroizing::new(der.to_vec()), "the DER")
    }

    fn from_pem_named(key_id: String, pem: &[u8], what: &str) -> Result<Self, KeyError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem).map_err(|_| KeyError::NotPkcs8 {
            what: what.to_owned(),
        })?;
        Self::checked(
            key_id,
            Zeroizing::new(der.secret_pkcs8_der().to_vec()),
            what,
        )
    }

    fn checked(key_id: String, pkcs8: Zeroizing<Vec<u8>>, what: &str) -> Result<Self, KeyError> {
        if key_id.is_empty() {
            return Err(KeyError::EmptyKeyId);
        }
        RsaKeyPair::from_pkcs8(&pkcs8).map_err(|e| KeyError::Rejected {
            what: what.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            key_id,
            pkcs8,
            rng: SystemRandom::new(),
        })
    }

    /// The public key (PKCS#1 `RSAPublicKey` DER), for a UAT configuration or a test's verifier.
    pub fn public_key_der(&self) -> Result<Vec<u8>, SignerError> {
        use ring::signature::KeyPair as _;
        let pair = self.pair()?;
        Ok(pair.public_key().as_ref().to_vec())
    }

    fn pair(&self) -> Result<RsaKeyPair, SignerError> {
        RsaKeyPair::from_pkcs8(&self.pkcs8).map_err(|e| SignerError(e.to_string()))
    }
}

impl UatSigner for RsaSigner {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let pair = self.pair()?;
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
            .map_err(|_| SignerError("ring could not sign".to_owned()))?;
        Ok(signature)
    }
}
