//! `POST auth/signout`, `POST auth/switchSite` and `DELETE auth/serverAdminAccessTokens`.

use super::super::reply::{ApiError, CredentialsReply, Reply};
use super::super::state::{AuthKind, Core};
use super::super::version::ApiVersion;
use super::signin::site_of;
use super::{Request, parse_body};

/// 204 and the token dies; a dead/unknown token → 401 401002; no token → 401 401000.
pub(super) fn sign_out(core: &mut Core, req: &Request<'_>) -> Reply {
    match core.authenticate(req.token(), req.now) {
        Ok((token, _)) => {
            core.remove_session(&token);
            Reply::NoContent
        }
        Err(e) => e.into(),
    }
}

/// New token on the target site, old token dead. Same site → 403 403070; unknown site or user
/// not on it → 401 401001 (an assumption: the doc only says "believed 401/403/404").
pub(super) fn switch_site(core: &mut Core, req: &Request<'_>, v: ApiVersion) -> Reply {
    match switch_inner(core, req, v) {
        Ok(c) => Reply::Credentials(c),
        Err(e) => e.into(),
    }
}

fn switch_inner(
    core: &mut Core,
    req: &Request<'_>,
    v: ApiVersion,
) -> Result<CredentialsReply, ApiError> {
    let (token, session) = core.authenticate(req.token(), req.now)?;
    let root = parse_body(req, v)?;
    let target = site_of(&root)?;
    if target == session.site {
        return Err(ApiError::already_on_site(target));
    }
    let site = core
        .config
        .site_by_content_url(target)
        .cloned()
        .ok_or_else(ApiError::signin)?;
    let user = core
        .user(&session)
        .filter(|u| u.role_on(&site.content_url).is_some())
        .cloned()
        .ok_or_else(ApiError::signin)?;
    core.remove_session(&token);
    let new_token = core.create_session(&user.id, &site.content_url, session.kind, req.now);
    Ok(CredentialsReply {
        token: new_token,
        site_id: site.id,
        content_url: site.content_url,
        user_id: user.id,
        estimated_time_to_expiration: None,
    })
}

/// Revoke Administrator Personal Access Tokens (Tableau Server only): 204, and every PAT whose
/// owner is a server administrator is revoked (its next sign-in is 401 401001; the sessions it
/// already opened live on). In order: no or dead token → 401 (401000 / 401002); Tableau Cloud
/// mode → 404 404000; a JWT session (no scope covers the method) → 401 401002; a caller who is
/// not a server administrator (an impersonated user counts as themself) → 403 403004.
pub(super) fn revoke_admin_pats(core: &mut Core, req: &Request<'_>) -> Reply {
    let session = match core.authenticate(req.token(), req.now) {
        Ok((_, session)) => session,
        Err(e) => return e.into(),
    };
    if core.config.cloud.is_some() {
        return ApiError::not_on_cloud("auth/serverAdminAccessTokens").into();
    }
    if let AuthKind::Jwt(_) = session.kind {
        return ApiError::invalid_credentials().into();
    }
    if !core.user(&session).is_some_and(|u| u.server_admin) {
        return ApiError::not_server_admin().into();
    }
    let admins: Vec<String> = core
        .config
        .users
        .iter()
        .filter(|u| u.server_admin)
        .map(|u| u.name.clone())
        .collect();
    for pat in &mut core.config.pats {
        if admins.contains(&pat.owner) {
            pat.revoked = true;
        }
    }
    Reply::NoContent
}
