//! Connected-app JWTs (direct trust, HS256), minted afresh for every sign-in.
//!
//! Header `{"alg":"HS256","typ":"JWT","kid":<secret id>,"iss":<client id>}`; claims `iss`, `sub`,
//! `aud: "tableau"`, `exp` (at most 10 minutes after issue), `jti` (a UUID v4 from the caller's 16
//! random bytes), `scp` (a non-empty array), `iat` and `nbf` (backdated by the clock skew), and
//! optional user attributes. The key is the raw bytes of the secret value as displayed (docs/protocol.md,
//! "Connected-app JWTs"). The core reads no clock and draws no randomness: both come in [`MintInputs`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::Sha256;
use zeroize::Zeroize;

use crate::error::{Error, Misuse};
use crate::mint::MintInputs;

/// The longest lifetime Tableau accepts for a connected-app JWT (longer: error 16).
pub const MAX_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Claims the core writes itself; user attributes may not use these names.
const RESERVED_CLAIMS: [&str; 8] = ["iss", "sub", "aud", "exp", "jti", "scp", "iat", "nbf"];

/// A connected app with direct trust, and the user its JWTs sign in as.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tableau_auth_proto::{ConnectedApp, MintInputs};
/// use tableau_auth_proto::secret::ExposeSecret;
///
/// let app = ConnectedApp::new("client-id", "secret-id", "secret-value", "jsmith@example.com")
///     .scope("tableau:content:read");
/// let jwt = app.mint(MintInputs {
///     issued_at: UNIX_EPOCH + Duration::from_secs(1_767_225_600),
///     random: [7; 16],
/// })?;
/// assert_eq!(jwt.expose_secret().split('.').count(), 3);
/// # Ok::<(), tableau_auth_proto::Error>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct ConnectedApp {
    client_id: String,
    secret_id: String,
    secret_value: SecretString,
    username: String,
    scopes: Vec<String>,
    lifetime: Duration,
    clock_skew: Duration,
    user_attributes: BTreeMap<String, Vec<String>>,
}

impl ConnectedApp {
    /// Who signs in, for a fleet's scope: the app, the secret's ID and the user (no secret).
    pub(crate) fn fleet_identity(&self) -> String {
        format!("{}\n{}\n{}", self.client_id, self.secret_id, self.username)
    }

    /// The default JWT lifetime: 5 minutes.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(5 * 60);
    /// The default backdating of `iat` and `nbf` to absorb clock skew: 5 seconds.
    pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(5);

    /// A connected app (`client_id`, secret `secret_id` with value `secret_value`) signing in as
    /// `username` (the JWT `sub`: the Tableau user name, case-sensitive). Add at least one scope.
    pub fn new(
        client_id: impl Into<String>,
        secret_id: impl Into<String>,
        secret_value: impl Into<String>,
        username: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            secret_id: secret_id.into(),
            secret_value: SecretString::from(secret_value.into()),
            username: username.into(),
            scopes: Vec::new(),
            lifetime: Self::DEFAULT_LIFETIME,
            clock_skew: Self::DEFAULT_CLOCK_SKEW,
            user_attributes: BTreeMap::new(),
        }
    }

    /// Adds a scope (`tableau:content:read`, `tableau:projects:*`, …).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds several scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// How long each JWT is valid (default 5 minutes; with the clock skew at most 10 minutes).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// How far `iat` and `nbf` are backdated (default 5 seconds).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Adds a user attribute claim (for `USERATTRIBUTE()`); one value is sent as a string,
    /// several as an array.
    pub fn user_attribute<I, S>(mut self, name: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.user_attributes
            .insert(name.into(), values.into_iter().map(Into::into).collect());
        self
    }

    pub(crate) fn secret_value(&self) -> &str {
        self.secret_value.expose_secret()
    }

    /// The user the JWTs sign in as.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Mints a signed JWT.
    pub fn mint(&self, inputs: MintInputs) -> Result<SecretString, Error> {
        let (issued, skew) = check_mint(
            &[
                (&self.client_id, "connected-app client id"),
                (&self.secret_id, "connected-app secret id"),
                (&self.username, "JWT user name"),
                (
                    self.secret_value.expose_secret(),
                    "connected-app secret value",
                ),
            ],
            &self.scopes,
            self.lifetime,
            self.clock_skew,
            inputs,
        )?;
        if let Some(name) = self
            .user_attributes
            .keys()
            .find(|k| k.is_empty() || RESERVED_CLAIMS.contains(&k.as_str()))
        {
            return Err(Misuse::ReservedClaim(name.clone()).into());
        }
        let header = Header {
            alg: "HS256",
            typ: "JWT",
            kid: &self.secret_id,
            iss: &self.client_id,
        };
        let attributes: BTreeMap<&str, AttributeValue<'_>> = self
            .user_attributes
            .iter()
            .map(|(k, v)| {
                let value = match v.as_slice() {
                    [one] => AttributeValue::One(one),
                    many => AttributeValue::Many(many),
                };
                (k.as_str(), value)
            })
            .collect();
        let claims = Claims {
            iss: &self.client_id,
            sub: &self.username,
            aud: "tableau",
            exp: issued.saturating_add(self.lifetime.as_secs()),
            jti: uuid_v4(inputs.random),
            scp: &self.scopes,
            iat: issued.saturating_sub(skew),
            nbf: issued.saturating_sub(skew),
            attributes,
        };
        let mut token = String::with_capacity(512);
        append_json_b64(&mut token, &header)?;
        token.push('.');
        append_json_b64(&mut token, &claims)?;
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(self.secret_value.expose_secret().as_bytes())
                .map_err(|_| Misuse::Empty("connected-app secret value"))?;
        mac.update(token.as_bytes());
        let signature = mac.finalize().into_bytes();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_slice(), &mut token);
        let secret = SecretString::from(token.as_str().to_owned());
        token.zeroize();
        Ok(secret)
    }
}

impl fmt::Debug for ConnectedApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectedApp")
            .field("client_id", &self.client_id)
            .field("secret_id", &self.secret_id)
            .field("secret_value", &crate::secret::REDACTED)
            .field("username", &self.username)
            .field("scopes", &self.scopes)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
    iss: &'a str,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    jti: String,
    scp: &'a [String],
    iat: u64,
    nbf: u64,
    #[serde(flatten)]
    attributes: BTreeMap<&'a str, AttributeValue<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum AttributeValue<'a> {
    One(&'a str),
    Many(&'a [String]),
}

/// Checks what every minted JWT needs (the named values not empty, scopes, the lifetime within
/// [`MAX_LIFETIME`] with the skew) and returns the issue time and the skew, in seconds.
pub(crate) fn check_mint(
    required: &[(&str, &'static str)],
    scopes: &[String],
    lifetime: Duration,
    clock_skew: Duration,
    inputs: MintInputs,
) -> Result<(u64, u64), Error> {
    if let Some((_, what)) = required.iter().find(|(value, _)| value.is_empty()) {
        return Err(Misuse::Empty(what).into());
    }
    if scopes.is_empty() || scopes.iter().any(String::is_empty) {
        return Err(Misuse::Empty("JWT scope list").into());
    }
    if lifetime.is_zero() || lifetime.saturating_add(clock_skew) > MAX_LIFETIME {
        return Err(Misuse::JwtLifetime(lifetime.saturating_add(clock_skew)).into());
    }
    let issued = inputs
        .issued_at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Misuse::ClockBeforeEpoch)?
        .as_secs();
    Ok((issued, clock_skew.as_secs()))
}

pub(crate) fn append_json_b64<T: Serialize>(out: &mut String, value: &T) -> Result<(), Error> {
    let json = serde_json::to_vec(value).map_err(|_| Misuse::Empty("JWT claims"))?;
    URL_SAFE_NO_PAD.encode_string(&json, out);
    Ok(())
}

/// Formats 16 random bytes as a version-4 UUID.
pub(crate) fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        for nibble in [byte >> 4, byte & 0x0f] {
            out.push(char::from(
                HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(random: u8) -> MintInputs {
        MintInputs {
            issued_at: UNIX_EPOCH + Duration::from_secs(1_767_225_600),
            random: [random; 16],
        }
    }

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn mints_documented_header_and_claims() {
        let app = ConnectedApp::new("cid", "sid", "value", "jsmith")
            .scope("tableau:content:read")
            .user_attribute("Region", ["East"]);
        let jwt = app.mint(inputs(0xab)).unwrap();
        let parts: Vec<&str> = jwt.expose_secret().split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode(parts[0]);
        assert_eq!(
            header,
            serde_json::json!({"alg":"HS256","typ":"JWT","kid":"sid","iss":"cid"})
        );
        let claims = decode(parts[1]);
        assert_eq!(claims["iss"], "cid");
        assert_eq!(claims["sub"], "jsmith");
        assert_eq!(claims["aud"], "tableau");
        assert_eq!(claims["exp"], 1_767_225_600 + 300);
        assert_eq!(claims["iat"], 1_767_225_600 - 5);
        assert_eq!(claims["nbf"], 1_767_225_600 - 5);
        assert_eq!(claims["scp"], serde_json::json!(["tableau:content:read"]));
        assert_eq!(claims["Region"], "East");
        assert_eq!(claims["jti"], "abababab-abab-4bab-abab-abababababab");
        // The signature is HMAC-SHA256 over `header.claims` keyed by the secret value's bytes.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"value").unwrap();
        mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            mac.finalize().into_bytes().to_vec()
        );
    }

    #[test]
    fn every_mint_has_its_own_jti() {
        let app = ConnectedApp::new("cid", "sid", "value", "u").scope("s");
        let a = app.mint(inputs(1)).unwrap();
        let b = app.mint(inputs(2)).unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn refuses_bad_settings() {
        let ok = ConnectedApp::new("cid", "sid", "value", "u").scope("s");
        assert!(
            ConnectedApp::new("cid", "sid", "value", "u")
                .mint(inputs(0))
                .is_err(),
            "no scope"
        );
        assert!(
            ok.clone()
                .lifetime(Duration::from_secs(600))
                .mint(inputs(0))
                .is_err(),
            "600 s + 5 s skew"
        );
        assert!(
            ok.clone()
                .lifetime(Duration::from_secs(595))
                .mint(inputs(0))
                .is_ok()
        );
        assert!(ok.clone().lifetime(Duration::ZERO).mint(inputs(0)).is_err());
        assert!(
            ok.clone()
                .user_attribute("exp", ["1"])
                .mint(inputs(0))
                .is_err()
        );
        assert!(
            ConnectedApp::new("", "sid", "value", "u")
                .scope("s")
                .mint(inputs(0))
                .is_err()
        );
        assert!(
            ConnectedApp::new("c", "sid", "", "u")
                .scope("s")
                .mint(inputs(0))
                .is_err()
        );
        let before_epoch = MintInputs {
            issued_at: UNIX_EPOCH - Duration::from_secs(1),
            random: [0; 16],
        };
        assert!(ok.mint(before_epoch).is_err());
    }

    #[test]
    fn debug_hides_the_secret_value() {
        let app = ConnectedApp::new("cid", "sid", "SENTINEL", "u");
        assert!(!format!("{app:?}").contains("SENTINEL"));
    }
}
