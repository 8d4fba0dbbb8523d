//! `serverinfo`, `sessions/current`, `sites/{id}/workbooks`, `sites/{id}/users/{id}` and the
//! legacy `/auth?format=xml`.

use super::super::render::xml_escape;
use super::super::reply::{ApiError, Reply, ServerInfoReply, SessionReply, Workbook};
use super::super::state::{AuthKind, Core, Session};
use super::Request;

pub(super) fn server_info(core: &Core) -> Reply {
    Reply::ServerInfo(ServerInfoReply {
        product_version: core.config.product_version.clone(),
        build: core.config.build.clone(),
        rest_api_version: core.config.rest_api_version.clone(),
    })
}

/// Session + user + site, or the error to answer.
fn whoami(core: &mut Core, req: &Request<'_>) -> Result<(Session, SessionReply), ApiError> {
    let (_, session) = core.authenticate(req.token(), req.now)?;
    let site = core
        .config
        .site_by_content_url(&session.site)
        .ok_or_else(ApiError::invalid_credentials)?;
    let user = core
        .config
        .user_by_id(&session.user_id)
        .ok_or_else(ApiError::invalid_credentials)?;
    let reply = SessionReply {
        site_id: site.id.clone(),
        site_name: site.name.clone(),
        content_url: site.content_url.clone(),
        user_id: user.id.clone(),
        user_name: user.name.clone(),
        site_role: user
            .role_on(&site.content_url)
            .unwrap_or("Unlicensed")
            .to_owned(),
    };
    Ok((session, reply))
}

pub(super) fn current_session(core: &mut Core, req: &Request<'_>) -> Reply {
    match whoami(core, req) {
        Ok((_, me)) => Reply::Session(me),
        Err(e) => e.into(),
    }
}

/// A JWT session needs one of `wanted` scopes (`resource:*` wildcards honoured); other
/// sessions always pass. Missing scope → 401 401002 (what users report).
fn scope_check(session: &Session, wanted: &[&str]) -> Result<(), ApiError> {
    let AuthKind::Jwt(scopes) = &session.kind else {
        return Ok(());
    };
    let granted = scopes.iter().any(|s| {
        wanted.iter().any(|w| {
            s == w
                || s.strip_suffix(":*")
                    .is_some_and(|prefix| w.rsplit_once(':').is_some_and(|(p, _)| p == prefix))
        })
    });
    if granted {
        Ok(())
    } else {
        Err(ApiError::invalid_credentials())
    }
}

fn site_scoped(
    core: &mut Core,
    req: &Request<'_>,
    site_luid: &str,
    scopes: &[&str],
) -> Result<SessionReply, ApiError> {
    let (session, me) = whoami(core, req)?;
    if !me.site_id.eq_ignore_ascii_case(site_luid) {
        return Err(ApiError::wrong_site(site_luid));
    }
    scope_check(&session, scopes)?;
    Ok(me)
}

pub(super) fn workbooks(core: &mut Core, req: &Request<'_>, site_luid: &str) -> Reply {
    let me = match site_scoped(
        core,
        req,
        site_luid,
        &["tableau:content:read", "tableau:workbooks:read"],
    ) {
        Ok(me) => me,
        Err(e) => return e.into(),
    };
    let tail: String = {
        let hex: Vec<char> = me.site_id.chars().filter(char::is_ascii_hexdigit).collect();
        hex[hex.len().saturating_sub(12)..].iter().collect()
    };
    let project = format!("1f2e3d4c-0000-4000-8000-{tail}");
    Reply::Workbooks(vec![
        Workbook {
            id: format!("3a1b2c3d-0001-4000-8000-{tail}"),
            name: "Superstore".into(),
            content_url: "Superstore".into(),
            project_id: project.clone(),
            project_name: "Default".into(),
            owner_id: me.user_id.clone(),
        },
        Workbook {
            id: format!("3a1b2c3d-0002-4000-8000-{tail}"),
            name: "Regional Sales".into(),
            content_url: "RegionalSales".into(),
            project_id: project,
            project_name: "Default".into(),
            owner_id: me.user_id,
        },
    ])
}

pub(super) fn user(core: &mut Core, req: &Request<'_>, site_luid: &str, user_luid: &str) -> Reply {
    let me = match site_scoped(core, req, site_luid, &["tableau:users:read"]) {
        Ok(me) => me,
        Err(e) => return e.into(),
    };
    let Some(user) = core.config.user_by_id(user_luid) else {
        return ApiError::user_not_found(user_luid).into();
    };
    let Some(role) = user.role_on(&me.content_url) else {
        return ApiError::user_not_found(user_luid).into();
    };
    Reply::User(SessionReply {
        site_role: role.to_owned(),
        user_id: user.id.clone(),
        user_name: user.name.clone(),
        ..me
    })
}

/// `GET /auth?format=xml` on a legacy (pre-10.1) server: the `<authinfo>` document.
pub(super) fn legacy_auth(core: &Core, req: &Request<'_>) -> Reply {
    if !core.config.legacy_server || req.method != "GET" {
        return Reply::html(404, "404 - Not Found");
    }
    let wants_xml = form_urlencoded::parse(req.query.unwrap_or("").as_bytes())
        .any(|(k, v)| k == "format" && v == "xml");
    if !wants_xml {
        return Reply::html(200, "Tableau Server - Sign In");
    }
    let product = &core.config.product_version;
    let short: String = product.split('.').take(2).collect::<Vec<_>>().join(".");
    let body = format!(
        "<?xml version='1.0' encoding='UTF-8'?><authinfo><version version=\"0.31\">\
         <api_version>0.31</api_version><server_api_version>v0</server_api_version>\
         <document_version>9.3</document_version><product_version>{}</product_version>\
         <external_version>{}</external_version><build>{}</build>\
         <publishing_method>signedbinary</publishing_method>\
         <mobile_api_version>2.3.0</mobile_api_version></version></authinfo>",
        xml_escape(&short),
        xml_escape(product),
        xml_escape(&core.config.build)
    );
    Reply::Raw {
        status: 200,
        content_type: "application/xml;charset=UTF-8",
        body,
        headers: Vec::new(),
    }
}
