//! Tableau Cloud's unified access tokens (UAT): RS256 JWTs signed with the customer's own RSA
//! key, minted afresh for every sign-in (re-sign-ins included) and sent with `isUat`.
//!
//! The core builds the header and the claims and hands the signing input to a [`UatSigner`] the
//! caller provides, so that it holds no RSA code and draws no randomness (RSA signing needs
//! some); the adapters ship one on *ring* that loads a PKCS#8 PEM key. Header
//! `{"alg":"RS256","typ":"JWT","kid":<key id>}`; claims `iss` (the UAT configuration's issuer),
//! `https://tableau.com/tenantId`, the user name under a configurable claim (default `email`),
//! `jti` (a UUID v4 from the caller's random bytes: unique, unlike an issuer-and-time `jti`),
//! `scp`, `iat` and `nbf` backdated by the clock skew, `exp` (at most 10 minutes after issue),
//! and optionally `https://tableau.com/siteId`; no `sub`, no `aud` (docs/protocol.md, "Unified
//! access tokens").

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use serde_json::{Map, Value};
use zeroize::Zeroize;

use crate::error::{Error, Misuse};
use crate::jwt::{append_json_b64, check_mint, uuid_v4};
use crate::mint::MintInputs;

/// The claim that carries the tenant.
pub(crate) const TENANT_CLAIM: &str = "https://tableau.com/tenantId";
/// The claim that carries the site, when one is set.
pub(crate) const SITE_CLAIM: &str = "https://tableau.com/siteId";
/// The default claim that carries the user name.
pub(crate) const DEFAULT_USERNAME_CLAIM: &str = "email";

/// Claims the core writes itself: the user-name claim may not take one of these names.
const RESERVED: [&str; 9] = [
    "iss",
    "exp",
    "jti",
    "scp",
    "iat",
    "nbf",
    "sub",
    TENANT_CLAIM,
    SITE_CLAIM,
];

/// Signs a UAT with the caller's RSA key: RS256 (RSASSA-PKCS1-v1_5 with SHA-256).
///
/// The core never sees the key. An implementation keeps it in a secret type (redacted,
/// zeroized) and should not show it in `Debug`.
pub trait UatSigner: Send + Sync {
    /// The key's ID in the UAT configuration: the JWT header's `kid`.
    fn key_id(&self) -> &str;

    /// The RS256 signature of `message` (the JWT's `header.claims`).
    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignerError>;
}

/// A [`UatSigner`] that could not sign; the message names why, never the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the UAT signer failed: {0}")]
pub struct SignerError(pub String);

/// A UAT configuration and the user its tokens sign in as.
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, UNIX_EPOCH};
/// use tableau_auth_proto::{MintInputs, SignerError, UatSigner, UnifiedAccess};
/// use tableau_auth_proto::secret::ExposeSecret;
///
/// /// A stand-in: a real signer signs with RS256 (the adapters ship one on ring).
/// struct Fixed;
/// impl UatSigner for Fixed {
///     fn key_id(&self) -> &str { "key-1" }
///     fn sign_rs256(&self, _: &[u8]) -> Result<Vec<u8>, SignerError> { Ok(vec![1, 2, 3]) }
/// }
///
/// let uat = UnifiedAccess::new("https://issuer.example.com", "tenant-1", "jsmith@example.com", Arc::new(Fixed))
///     .scope("tableau:content:read");
/// let jwt = uat.mint(MintInputs { issued_at: UNIX_EPOCH + Duration::from_secs(1_767_225_600), random: [7; 16] })?;
/// assert_eq!(jwt.expose_secret().split('.').count(), 3);
/// # Ok::<(), tableau_auth_proto::Error>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct UnifiedAccess {
    issuer: String,
    tenant_id: String,
    username: String,
    username_claim: String,
    scopes: Vec<String>,
    site_id: Option<String>,
    lifetime: Duration,
    clock_skew: Duration,
    signer: Arc<dyn UatSigner>,
}

impl UnifiedAccess {
    /// The default token lifetime: 5 minutes.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(5 * 60);
    /// The default backdating of `iat` and `nbf`: 5 seconds.
    pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(5);

    /// A UAT configuration (`issuer` URI, `tenant_id`) signing in as `username` (under the
    /// `email` claim unless [`UnifiedAccess::username_claim`] says otherwise), its tokens
    /// signed by `signer`. Add at least one scope.
    pub fn new(
        issuer: impl Into<String>,
        tenant_id: impl Into<String>,
        username: impl Into<String>,
        signer: Arc<dyn UatSigner>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            tenant_id: tenant_id.into(),
            username: username.into(),
            username_claim: DEFAULT_USERNAME_CLAIM.to_owned(),
            scopes: Vec::new(),
            site_id: None,
            lifetime: Self::DEFAULT_LIFETIME,
            clock_skew: Self::DEFAULT_CLOCK_SKEW,
            signer,
        }
    }

    /// Adds a scope (`tableau:content:read`).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds scopes.
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// The claim that carries the user name, as the UAT configuration names it.
    pub fn username_claim(mut self, claim: impl Into<String>) -> Self {
        self.username_claim = claim.into();
        self
    }

    /// The site the token is for (`https://tableau.com/siteId`).
    pub fn site_id(mut self, site_id: impl Into<String>) -> Self {
        self.site_id = Some(site_id.into());
        self
    }

    /// The token lifetime (plus the clock skew at most 10 minutes).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// How far `iat` and `nbf` are backdated.
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// The user the tokens sign in as.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Who signs in, for a fleet's scope: the configuration and the user (no secret).
    pub(crate) fn fleet_identity(&self) -> String {
        format!("{}\n{}\n{}", self.issuer, self.tenant_id, self.username)
    }

    /// Mints a signed token.
    pub fn mint(&self, inputs: MintInputs) -> Result<SecretString, Error> {
        let (issued, skew) = check_mint(
            &[
                (&self.issuer, "UAT issuer"),
                (&self.tenant_id, "UAT tenant id"),
                (&self.username, "UAT user name"),
                (&self.username_claim, "UAT user-name claim"),
                (self.signer.key_id(), "UAT key id"),
            ],
            &self.scopes,
            self.lifetime,
            self.clock_skew,
            inputs,
        )?;
        if RESERVED.contains(&self.username_claim.as_str()) {
            return Err(Misuse::ReservedClaim(self.username_claim.clone()).into());
        }
        let mut header = Map::new();
        header.insert("alg".into(), "RS256".into());
        header.insert("typ".into(), "JWT".into());
        header.insert("kid".into(), self.signer.key_id().into());
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer.clone().into());
        claims.insert(TENANT_CLAIM.into(), self.tenant_id.clone().into());
        claims.insert(self.username_claim.clone(), self.username.clone().into());
        claims.insert("jti".into(), uuid_v4(inputs.random).into());
        claims.insert("scp".into(), self.scopes.clone().into());
        claims.insert("iat".into(), issued.saturating_sub(skew).into());
        claims.insert("nbf".into(), issued.saturating_sub(skew).into());
        claims.insert(
            "exp".into(),
            issued.saturating_add(self.lifetime.as_secs()).into(),
        );
        if let Some(site) = &self.site_id {
            claims.insert(SITE_CLAIM.into(), site.clone().into());
        }
        let mut token = String::with_capacity(1024);
        append_json_b64(&mut token, &Value::Object(header))?;
        token.push('.');
        append_json_b64(&mut token, &Value::Object(claims))?;
        let signature = self
            .signer
            .sign_rs256(token.as_bytes())
            .map_err(|e| Error::Signing { message: e.0 })?;
        if signature.is_empty() {
            return Err(Error::Signing {
                message: "the signer returned no signature".to_owned(),
            });
        }
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        let secret = SecretString::from(token.as_str().to_owned());
        token.zeroize();
        Ok(secret)
    }
}

impl fmt::Debug for UnifiedAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnifiedAccess")
            .field("issuer", &self.issuer)
            .field("tenant_id", &self.tenant_id)
            .field("username", &self.username)
            .field("username_claim", &self.username_claim)
            .field("scopes", &self.scopes)
            .field("key_id", &self.signer.key_id())
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use secrecy::ExposeSecret;
    use std::time::UNIX_EPOCH;

    struct Echo;
    impl UatSigner for Echo {
        fn key_id(&self) -> &str {
            "kid-1"
        }
        fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
            Ok(message.iter().rev().copied().collect())
        }
    }

    struct Broken;
    impl UatSigner for Broken {
        fn key_id(&self) -> &str {
            "kid-1"
        }
        fn sign_rs256(&self, _: &[u8]) -> Result<Vec<u8>, SignerError> {
            Err(SignerError("the key is not an RSA key".into()))
        }
    }

    fn inputs(random: u8) -> MintInputs {
        MintInputs {
            issued_at: UNIX_EPOCH + Duration::from_secs(1_767_225_600),
            random: [random; 16],
        }
    }

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn uat() -> UnifiedAccess {
        UnifiedAccess::new(
            "https://issuer.example.com",
            "tenant-1",
            "jsmith@example.com",
            Arc::new(Echo),
        )
        .scope("tableau:content:read")
    }

    #[test]
    fn mints_the_documented_header_and_claims_and_signs_the_input() {
        let jwt = uat().site_id("site-1").mint(inputs(0xab)).unwrap();
        let parts: Vec<&str> = jwt.expose_secret().split('.').collect();
        assert_eq!(
            decode(parts[0]),
            serde_json::json!({"alg":"RS256","typ":"JWT","kid":"kid-1"})
        );
        let claims = decode(parts[1]);
        assert_eq!(
            claims,
            serde_json::json!({
                "iss": "https://issuer.example.com",
                "https://tableau.com/tenantId": "tenant-1",
                "https://tableau.com/siteId": "site-1",
                "email": "jsmith@example.com",
                "jti": "abababab-abab-4bab-abab-abababababab",
                "scp": ["tableau:content:read"],
                "iat": 1_767_225_600 - 5,
                "nbf": 1_767_225_600 - 5,
                "exp": 1_767_225_600 + 300,
            })
        );
        let input = format!("{}.{}", parts[0], parts[1]);
        let signed: Vec<u8> = input.bytes().rev().collect();
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap(), signed);
    }

    #[test]
    fn the_user_name_claim_is_configurable_but_not_a_reserved_one() {
        let jwt = uat().username_claim("upn").mint(inputs(1)).unwrap();
        let claims = decode(jwt.expose_secret().split('.').nth(1).unwrap());
        assert_eq!(claims["upn"], "jsmith@example.com");
        assert!(claims.get("email").is_none() && claims.get("sub").is_none());
        for reserved in ["iss", "sub", "exp", TENANT_CLAIM] {
            let e = uat().username_claim(reserved).mint(inputs(1)).unwrap_err();
            assert!(
                matches!(e, Error::Misuse(Misuse::ReservedClaim(_))),
                "{reserved}: {e}"
            );
        }
    }

    #[test]
    fn bad_settings_and_a_failing_signer_are_typed_errors() {
        let too_long = uat().lifetime(Duration::from_secs(10 * 60)).mint(inputs(1));
        assert!(matches!(
            too_long,
            Err(Error::Misuse(Misuse::JwtLifetime(_)))
        ));
        let no_scope = UnifiedAccess::new("i", "t", "u", Arc::new(Echo)).mint(inputs(1));
        assert!(matches!(no_scope, Err(Error::Misuse(Misuse::Empty(_)))));
        let broken = UnifiedAccess::new("i", "t", "u", Arc::new(Broken))
            .scope("s")
            .mint(inputs(1))
            .unwrap_err();
        assert!(broken.to_string().contains("not an RSA key"), "{broken}");
        assert!(!format!("{:?}", uat()).contains("Echo"));
    }
}
