//! Unified access token (Tableau Cloud, RS256) verification.
//!
//! Checks, in this order, each failure a 401001 whose detail is
//! `Error signing in to Tableau Server (unified access token: <reason>)`, the reason being
//! [`Refusal::reason`]:
//!
//! 1. three base64url (unpadded) parts, header and payload JSON objects → `malformed token`
//! 2. header `alg` is `RS256` → else `alg is not RS256`
//! 3. header `kid` names a UAT configuration → else `unknown kid`
//! 4. RS256 signature over `header.payload` with the configuration's public key (ring's
//!    verifier) → else `bad signature`
//! 5. `iss` equals the configuration's issuer → else `iss does not match the UAT configuration`
//! 6. `https://tableau.com/tenantId` equals its tenant → else `tenant missing or wrong`
//! 7. `https://tableau.com/siteId`, when present, is the sign-in site's LUID → else
//!    `siteId names another site`
//! 8. `exp` a number → else `no exp`; not past (by more than the skew) → else `expired`;
//!    `nbf` and `iat`, when present, numbers not in the future (by more than the skew) → else
//!    `nbf in the future`, `iat in the future`; `exp` − (`iat`, else now) at most
//!    `jwt_max_lifetime_secs` → else `lifetime over the limit`
//! 9. the user-name claim a non-empty string → else `user-name claim missing`; naming a user
//!    (by name, else by e-mail) with a role on the site → else `not a user of the site`
//! 10. `scp` a non-empty array of strings → else `scp missing or empty`; each allowed by the
//!     configuration → else `scope not allowed`
//! 11. `jti` a non-empty string → else `jti missing`; never seen before (connected-app JWT ids
//!     included) → else `jti already used` (it is then remembered)

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde_json::{Map, Value};

use super::super::config::{FakeConfig, SiteConfig, UatConfig, UserConfig};
use super::super::state::Core;
use super::super::uat_key;
use super::jwt::Claims;

/// The claim that carries the tenant.
const TENANT_CLAIM: &str = "https://tableau.com/tenantId";
/// The claim that may carry the site's LUID.
const SITE_CLAIM: &str = "https://tableau.com/siteId";

/// Why a UAT was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Malformed,
    Algorithm,
    UnknownKey,
    Signature,
    Issuer,
    Tenant,
    Site,
    NoExpiry,
    Expired,
    NotYetValid,
    IssuedInFuture,
    TooLong,
    NoUser,
    NotAUser,
    NoScopes,
    ScopeNotAllowed,
    NoJti,
    Replayed,
}

impl Refusal {
    /// The reason in the 401001 detail.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "malformed token",
            Self::Algorithm => "alg is not RS256",
            Self::UnknownKey => "unknown kid",
            Self::Signature => "bad signature",
            Self::Issuer => "iss does not match the UAT configuration",
            Self::Tenant => "tenant missing or wrong",
            Self::Site => "siteId names another site",
            Self::NoExpiry => "no exp",
            Self::Expired => "expired",
            Self::NotYetValid => "nbf in the future",
            Self::IssuedInFuture => "iat in the future",
            Self::TooLong => "lifetime over the limit",
            Self::NoUser => "user-name claim missing",
            Self::NotAUser => "not a user of the site",
            Self::NoScopes => "scp missing or empty",
            Self::ScopeNotAllowed => "scope not allowed",
            Self::NoJti => "jti missing",
            Self::Replayed => "jti already used",
        }
    }
}

fn decode_object(part: &str) -> Result<Map<String, Value>, Refusal> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Refusal::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Refusal::Malformed),
    }
}

fn string<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// A numeric claim: `Ok(None)` when absent, the refusal when present but not a number.
fn number(map: &Map<String, Value>, key: &str, bad: Refusal) -> Result<Option<f64>, Refusal> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or(bad),
    }
}

/// The user a user-name claim names: the user of that name, else the one user whose e-mail
/// address it is (ASCII case-insensitive).
fn user_named<'a>(config: &'a FakeConfig, name: &str) -> Option<&'a UserConfig> {
    if let Some(user) = config.user_by_name(name) {
        return Some(user);
    }
    let mut by_email = config.users.iter().filter(|u| {
        u.email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(name))
    });
    match (by_email.next(), by_email.next()) {
        (Some(user), None) => Some(user),
        _ => None,
    }
}

/// Whether the configuration allows `scope` (exactly, or by an entry `prefix*`).
fn allowed(uat: &UatConfig, scope: &str) -> bool {
    uat.scopes.iter().any(|a| match a.strip_suffix('*') {
        Some(prefix) => scope.starts_with(prefix),
        None => a == scope,
    })
}

pub(super) fn verify(
    core: &mut Core,
    token: &str,
    site: &SiteConfig,
    now: Duration,
) -> Result<Claims, Refusal> {
    let cloud = core.config.cloud.as_ref().ok_or(Refusal::UnknownKey)?;
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    let header = decode_object(h64)?;
    let payload = decode_object(p64)?;
    let signature = URL_SAFE_NO_PAD
        .decode(s64)
        .map_err(|_| Refusal::Malformed)?;

    if string(&header, "alg") != Some("RS256") {
        return Err(Refusal::Algorithm);
    }
    let uat = string(&header, "kid")
        .and_then(|kid| cloud.uat_configurations.iter().find(|u| u.key_id == kid))
        .ok_or(Refusal::UnknownKey)?;
    // The key was checked when the configuration was taken; a key that fails now fails closed.
    let key = uat_key::rsa_public_key_der(&uat.public_key_pem).map_err(|_| Refusal::Signature)?;
    let input = &token[..h64.len() + 1 + p64.len()];
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
        .verify(input.as_bytes(), &signature)
        .map_err(|_| Refusal::Signature)?;

    if string(&payload, "iss") != Some(uat.issuer.as_str()) {
        return Err(Refusal::Issuer);
    }
    if string(&payload, TENANT_CLAIM) != Some(uat.tenant_id.as_str()) {
        return Err(Refusal::Tenant);
    }
    if let Some(claim) = payload.get(SITE_CLAIM)
        && !claim
            .as_str()
            .is_some_and(|id| id.eq_ignore_ascii_case(&site.id))
    {
        return Err(Refusal::Site);
    }

    let now_secs = now.as_secs_f64();
    let skew = cloud.uat_clock_skew_secs as f64;
    let exp = number(&payload, "exp", Refusal::NoExpiry)?.ok_or(Refusal::NoExpiry)?;
    if exp + skew <= now_secs {
        return Err(Refusal::Expired);
    }
    if number(&payload, "nbf", Refusal::NotYetValid)?.is_some_and(|nbf| nbf > now_secs + skew) {
        return Err(Refusal::NotYetValid);
    }
    let iat = number(&payload, "iat", Refusal::IssuedInFuture)?;
    if iat.is_some_and(|iat| iat > now_secs + skew) {
        return Err(Refusal::IssuedInFuture);
    }
    if exp - iat.unwrap_or(now_secs) > core.config.jwt_max_lifetime_secs as f64 {
        return Err(Refusal::TooLong);
    }

    let name = string(&payload, &uat.username_claim)
        .filter(|n| !n.is_empty())
        .ok_or(Refusal::NoUser)?;
    let user = user_named(&core.config, name)
        .filter(|u| u.role_on(&site.content_url).is_some())
        .cloned()
        .ok_or(Refusal::NotAUser)?;
    let scopes: Vec<String> = match payload.get("scp") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or(Refusal::NoScopes)?,
        _ => return Err(Refusal::NoScopes),
    };
    if !scopes.iter().all(|s| allowed(uat, s)) {
        return Err(Refusal::ScopeNotAllowed);
    }
    let jti = string(&payload, "jti")
        .filter(|j| !j.is_empty())
        .ok_or(Refusal::NoJti)?;
    if !core.seen_jti.insert(jti.to_owned()) {
        return Err(Refusal::Replayed);
    }
    Ok(Claims { user, scopes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

    #[test]
    fn every_refusal_has_its_own_reason() {
        let all = [
            Refusal::Malformed,
            Refusal::Algorithm,
            Refusal::UnknownKey,
            Refusal::Signature,
            Refusal::Issuer,
            Refusal::Tenant,
            Refusal::Site,
            Refusal::NoExpiry,
            Refusal::Expired,
            Refusal::NotYetValid,
            Refusal::IssuedInFuture,
            Refusal::TooLong,
            Refusal::NoUser,
            Refusal::NotAUser,
            Refusal::NoScopes,
            Refusal::ScopeNotAllowed,
            Refusal::NoJti,
            Refusal::Replayed,
        ];
        let reasons: std::collections::BTreeSet<_> = all.iter().map(|r| r.reason()).collect();
        assert_eq!(reasons.len(), all.len());
    }

    #[test]
    fn users_by_name_then_by_email_and_scopes_by_prefix() {
        let config = FakeConfig::sample_cloud();
        let by = |name| user_named(&config, name).map(|u| u.name.as_str());
        assert_eq!(by(sample::USER_NAME), Some(sample::USER_NAME));
        assert_eq!(by("JSmith@Example.com"), Some(sample::USER_NAME));
        assert_eq!(
            by(sample::FINANCE_USER_NAME),
            Some(sample::FINANCE_USER_NAME)
        );
        assert_eq!(by("nobody@example.com"), None);
        let uat = UatConfig::builder("i", "t", "k", "p")
            .scope("tableau:content:*")
            .scope("tableau:users:read")
            .build();
        assert!(allowed(&uat, "tableau:content:read"));
        assert!(allowed(&uat, "tableau:users:read"));
        assert!(!allowed(&uat, "tableau:users:write"));
        assert!(!allowed(&uat, "tableau:content"));
    }
}
