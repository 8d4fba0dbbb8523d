//! Connected-app (direct trust, HS256) JWT verification.
//!
//! Checks, in this order, each failure giving the connected-app error number that ends up in
//! the 401001 detail `Error signing in to Tableau Server (<n>)`:
//!
//! 1. three base64url (unpadded) parts, header and payload JSON objects → else 10084
//! 2. header `kid` and `iss` present (strings) → else 10083
//! 3. header `alg` is `HS256` → else 10087
//! 4. an app with client id = header `iss` exists on the sign-in site → else 126;
//!    payload `iss`, when present, equals header `iss` → else 10089; app enabled → else 10090
//! 5. `kid` equals the app's secret id → else 10085
//! 6. HMAC-SHA256 over `header.payload` keyed with the secret value's bytes → else 127
//! 7. `aud` is the string `tableau` → else 16
//! 8. `exp` present, in the future and at most `jwt_max_lifetime_secs` ahead; `nbf` (if
//!    present) not in the future → else 16
//! 9. `sub` names an existing user → else 5
//! 10. `scp` a non-empty array of strings → else 16
//! 11. `jti` a non-empty string never seen before → else 16 (it is then remembered)

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::super::config::UserConfig;
use super::super::state::Core;

/// What a valid JWT grants.
pub(super) struct Claims {
    pub(super) user: UserConfig,
    pub(super) scopes: Vec<String>,
}

const PARSE: u32 = 10084;
const BAD_JWT: u32 = 10083;
const BLOCKED_ALG: u32 = 10087;
const APP_NOT_FOUND: u32 = 126;
const ISSUER_MISMATCH: u32 = 10089;
const APP_DISABLED: u32 = 10090;
const KEY_NOT_FOUND: u32 = 10085;
const SECRET_NOT_FOUND: u32 = 127;
const LOGIN_FAILED: u32 = 16;
const USER_NOT_FOUND: u32 = 5;

fn decode_object(part: &str) -> Result<Map<String, Value>, u32> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| PARSE)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(PARSE),
    }
}

fn string<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

pub(super) fn verify(
    core: &mut Core,
    token: &str,
    site: &str,
    now: Duration,
) -> Result<Claims, u32> {
    let mut parts = token.trim().split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(PARSE);
    };
    let header = decode_object(h64)?;
    let payload = decode_object(p64)?;
    let signature = URL_SAFE_NO_PAD.decode(s64).map_err(|_| PARSE)?;

    let (Some(kid), Some(iss)) = (string(&header, "kid"), string(&header, "iss")) else {
        return Err(BAD_JWT);
    };
    if string(&header, "alg") != Some("HS256") {
        return Err(BLOCKED_ALG);
    }
    let app = core
        .config
        .app_by_client_id(iss)
        .filter(|a| a.site == site)
        .ok_or(APP_NOT_FOUND)?;
    if payload.get("iss").is_some_and(|p| p.as_str() != Some(iss)) {
        return Err(ISSUER_MISMATCH);
    }
    if !app.enabled {
        return Err(APP_DISABLED);
    }
    if kid != app.secret_id {
        return Err(KEY_NOT_FOUND);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(app.secret_value.as_bytes())
        .map_err(|_| SECRET_NOT_FOUND)?;
    mac.update(h64.as_bytes());
    mac.update(b".");
    mac.update(p64.as_bytes());
    mac.verify_slice(&signature).map_err(|_| SECRET_NOT_FOUND)?;

    if string(&payload, "aud") != Some("tableau") {
        return Err(LOGIN_FAILED);
    }
    let now_secs = now.as_secs_f64();
    let exp = payload
        .get("exp")
        .and_then(Value::as_f64)
        .ok_or(LOGIN_FAILED)?;
    let max = core.config.jwt_max_lifetime_secs as f64;
    if exp <= now_secs || exp - now_secs > max {
        return Err(LOGIN_FAILED);
    }
    if let Some(nbf) = payload.get("nbf") {
        match nbf.as_f64() {
            Some(nbf) if nbf <= now_secs => {}
            _ => return Err(LOGIN_FAILED),
        }
    }
    let user = string(&payload, "sub")
        .and_then(|sub| core.config.user_by_name(sub))
        .cloned()
        .ok_or(USER_NOT_FOUND)?;
    let scopes: Vec<String> = match payload.get("scp") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or(LOGIN_FAILED)?,
        _ => return Err(LOGIN_FAILED),
    };
    let jti = string(&payload, "jti")
        .filter(|j| !j.is_empty())
        .ok_or(LOGIN_FAILED)?;
    if !core.seen_jti.insert(jti.to_owned()) {
        return Err(LOGIN_FAILED);
    }
    Ok(Claims { user, scopes })
}
