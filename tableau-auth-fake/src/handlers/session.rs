//! `POST auth/signout` and `POST auth/switchSite`.

use super::super::reply::{ApiError, CredentialsReply, Reply};
use super::super::state::Core;
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
