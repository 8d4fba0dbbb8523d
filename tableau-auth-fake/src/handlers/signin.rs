//! `POST /api/{v}/auth/signin`: password, PAT, connected-app JWT and (Tableau Cloud mode)
//! unified-access-token credentials, impersonation.
//!
//! Sign In is a REST 2.0 method: it answers at every URL version the server accepts. The
//! minimum versions of PATs (3.6), connected-app JWTs (3.16), PAT impersonation (3.11) and UATs
//! (3.27) are the *server's* (the configured `rest_api_version`), not the URL's: TSC 0.42 signs
//! in at `/api/2.4/auth/signin` whatever the credentials.

use super::super::config::UserConfig;
use super::super::reply::{ApiError, CredentialsReply, Reply};
use super::super::reqdoc::Elem;
use super::super::state::{AuthKind, Core};
use super::super::version::{ApiVersion, since};
use super::{Request, jwt, parse_body, uat};

/// The credential family of a sign-in request.
enum Family<'a> {
    Password { name: &'a str, password: &'a str },
    Pat { name: &'a str, secret: &'a str },
    Jwt { token: &'a str, uat: bool },
}

pub(super) fn sign_in(core: &mut Core, req: &Request<'_>, v: ApiVersion) -> Reply {
    match sign_in_inner(core, req, v) {
        Ok(credentials) => Reply::Credentials(credentials),
        Err(e) => e.into(),
    }
}

fn bad(why: &str) -> ApiError {
    ApiError::bad_request(why)
}

/// The `credentials` element's `site/@contentUrl` and optional `user/@id`.
pub(super) fn site_of(parent: &Elem) -> Result<&str, ApiError> {
    parent
        .single("site")
        .map_err(|()| bad("more than one site element"))?
        .ok_or_else(|| bad("no site element"))?
        .attr("contentUrl")
        .ok_or_else(|| bad("the site element has no contentUrl attribute"))
}

fn family(creds: &Elem) -> Result<Family<'_>, ApiError> {
    let name = creds.attr("name");
    let password = creds.attr("password");
    let pat_name = creds.attr("personalAccessTokenName");
    let pat_secret = creds.attr("personalAccessTokenSecret");
    let jwt = creds.attr("jwt");
    let kinds = [
        name.is_some() || password.is_some(),
        pat_name.is_some() || pat_secret.is_some(),
        jwt.is_some(),
    ];
    match kinds.iter().filter(|k| **k).count() {
        // "Empty credentials": TSC's tests expect a sign-in error, not a bad request.
        0 => return Err(ApiError::signin()),
        1 => {}
        _ => return Err(bad("more than one kind of credentials")),
    }
    if let Some(token) = jwt {
        let uat = match creds.attr("isUat").map(str::to_ascii_lowercase).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(bad("isUat is not a boolean")),
        };
        return Ok(Family::Jwt { token, uat });
    }
    if kinds[1] {
        return match (pat_name, pat_secret) {
            (Some(name), Some(secret)) => Ok(Family::Pat { name, secret }),
            _ => Err(ApiError::signin()),
        };
    }
    match (name, password) {
        (Some(name), Some(password)) => Ok(Family::Password { name, password }),
        _ => Err(ApiError::signin()),
    }
}

/// `D:HH:MM` of a number of seconds.
pub(crate) fn d_hh_mm(secs: u64) -> String {
    format!(
        "{}:{:02}:{:02}",
        secs / 86_400,
        (secs % 86_400) / 3_600,
        (secs % 3_600) / 60
    )
}

fn sign_in_inner(
    core: &mut Core,
    req: &Request<'_>,
    v: ApiVersion,
) -> Result<CredentialsReply, ApiError> {
    let root = parse_body(req, v)?;
    let creds = root
        .single("credentials")
        .map_err(|()| bad("more than one credentials element"))?
        .ok_or_else(|| bad("no credentials element"))?;
    let content_url = site_of(creds)?;
    let impersonate = match creds
        .single("user")
        .map_err(|()| bad("more than one user element"))?
    {
        Some(user) => Some(
            user.attr("id")
                .ok_or_else(|| bad("the user element has no id attribute"))?,
        ),
        None => None,
    };
    let family = family(creds)?;
    let now = req.now;
    let site = core
        .config
        .site_by_content_url(content_url)
        .cloned()
        .ok_or_else(ApiError::signin)?;

    let (user, kind, pat_expiry): (UserConfig, AuthKind, Option<u64>) = match family {
        Family::Password { name, password } => {
            let user = core
                .config
                .user_by_name(name)
                .filter(|u| u.password.as_deref() == Some(password))
                .ok_or_else(ApiError::signin)?;
            (user.clone(), AuthKind::Password, None)
        }
        Family::Pat { name, secret } => {
            if core.version < since::PAT {
                return Err(ApiError::signin());
            }
            let now_secs = now.as_secs();
            let pat = core
                .config
                .pat_by_name(name)
                .filter(|p| p.secret == secret && !p.revoked)
                .filter(|p| p.expires_at_unix.is_none_or(|e| e > now_secs))
                .ok_or_else(ApiError::signin)?;
            let owner = core
                .config
                .user_by_name(&pat.owner)
                .ok_or_else(ApiError::signin)?;
            (
                owner.clone(),
                AuthKind::Pat(pat.name.clone()),
                pat.expires_at_unix,
            )
        }
        Family::Jwt { token, uat: true } => {
            // Unified access tokens: Tableau Cloud mode only; a Tableau Server refuses them.
            if core.config.cloud.is_none() || core.version < since::UAT {
                return Err(ApiError::signin());
            }
            let claims = uat::verify(core, token, &site, now)
                .map_err(|refusal| ApiError::signin_uat(refusal.reason()))?;
            (claims.user, AuthKind::Jwt(claims.scopes), None)
        }
        Family::Jwt { token, uat: false } => {
            if core.version < since::JWT {
                return Err(ApiError::signin());
            }
            let claims =
                jwt::verify(core, token, &site.content_url, now).map_err(ApiError::signin_jwt)?;
            (claims.user, AuthKind::Jwt(claims.scopes), None)
        }
    };
    if user.role_on(&site.content_url).is_none() {
        return Err(ApiError::signin());
    }
    let effective = match impersonate {
        None => user,
        Some(target_id) => {
            let pat_ok =
                core.config.pat_impersonation_enabled && core.version >= since::PAT_IMPERSONATION;
            if !user.server_admin || (matches!(kind, AuthKind::Pat(_)) && !pat_ok) {
                return Err(ApiError::signin());
            }
            let target = core
                .config
                .user_by_id(target_id)
                .filter(|t| t.role_on(&site.content_url).is_some())
                .ok_or_else(ApiError::signin)?;
            target.clone()
        }
    };
    let token = core.create_session(&effective.id, &site.content_url, kind, now);
    Ok(CredentialsReply {
        token,
        site_id: site.id,
        content_url: site.content_url,
        user_id: effective.id,
        estimated_time_to_expiration: pat_expiry.map(|e| d_hh_mm(e.saturating_sub(now.as_secs()))),
    })
}

#[cfg(test)]
mod tests {
    use super::d_hh_mm;

    #[test]
    fn expiration_format() {
        assert_eq!(d_hh_mm(0), "0:00:00");
        assert_eq!(d_hh_mm(365 * 86_400 - 60), "364:23:59");
        assert_eq!(d_hh_mm(86_400 + 3_600 * 2 + 60 * 3 + 59), "1:02:03");
    }
}
