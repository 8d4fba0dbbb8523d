//! `serverinfo`, `sessions/current`, `sites`, `sites/{id}/workbooks`, `sites/{id}/users`,
//! `sites/{id}/users/{id}` and the legacy `/auth?format=xml`.

use super::super::config::{PastLastPage, UserConfig};
use super::super::render::xml_escape;
use super::super::reply::{
    ApiError, Page, Reply, ServerInfoReply, SessionReply, SiteReply, UserReply, Workbook,
};
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

/// The session's site must be the URL's: an unknown site LUID is 404 `404000`, another existing
/// site 403 `403010`. Then the JWT scopes are checked.
fn site_scoped(
    core: &mut Core,
    req: &Request<'_>,
    site_luid: &str,
    scopes: &[&str],
) -> Result<(Session, SessionReply), ApiError> {
    let (session, me) = whoami(core, req)?;
    if !me.site_id.eq_ignore_ascii_case(site_luid) {
        let exists = core
            .config
            .sites
            .iter()
            .any(|s| s.id.eq_ignore_ascii_case(site_luid));
        return Err(if exists {
            ApiError::wrong_site(site_luid)
        } else {
            ApiError::site_not_found(site_luid)
        });
    }
    scope_check(&session, scopes)?;
    Ok((session, me))
}

/// `pageSize` and `pageNumber` from the query: defaults from the config; a size that is not a
/// positive integer is 400 `400007`, one above the limit 403 `403014`; a page number that is
/// not a positive integer 400 `400006`. The size is checked first.
fn paging(core: &Core, req: &Request<'_>) -> Result<(u64, u64), ApiError> {
    let mut size = u64::from(core.config.default_page_size);
    let mut number = 1;
    let positive = |v: &str| v.parse::<u64>().ok().filter(|n| *n > 0);
    let query = form_urlencoded::parse(req.query.unwrap_or("").as_bytes());
    let (mut size_text, mut number_text) = (None, None);
    for (key, value) in query {
        match key.as_ref() {
            "pageSize" => size_text = Some(value.into_owned()),
            "pageNumber" => number_text = Some(value.into_owned()),
            _ => {}
        }
    }
    if let Some(text) = size_text {
        size = positive(&text).ok_or_else(|| ApiError::invalid_page_size(&text))?;
        if size > u64::from(core.config.max_page_size) {
            return Err(ApiError::page_size_limit(size, core.config.max_page_size));
        }
    }
    if let Some(text) = number_text {
        number = positive(&text).ok_or_else(|| ApiError::invalid_page_number(&text))?;
    }
    Ok((number, size))
}

/// Cuts one page out of `items`.
fn page_of<T>(core: &Core, req: &Request<'_>, items: Vec<T>) -> Result<(Page, Vec<T>), ApiError> {
    let (number, size) = paging(core, req)?;
    let total = items.len();
    let start = (number - 1).saturating_mul(size);
    let past_end = number > 1 && start >= total as u64;
    if past_end && core.config.past_last_page == PastLastPage::Error {
        return Err(ApiError::invalid_page_number(&number.to_string()));
    }
    let page = Page {
        number,
        size,
        total,
    };
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok((page, items.into_iter().skip(start).take(size).collect()))
}

fn respond(result: Result<Reply, ApiError>) -> Reply {
    result.unwrap_or_else(Reply::from)
}

/// Query Sites: server administrators see every site, other users the sites they are on.
pub(super) fn sites(core: &mut Core, req: &Request<'_>) -> Reply {
    respond((|| {
        let (_, session) = core.authenticate(req.token(), req.now)?;
        scope_check(&session, &["tableau:sites:read"])?;
        let user = core
            .user(&session)
            .cloned()
            .ok_or_else(ApiError::invalid_credentials)?;
        let list: Vec<SiteReply> = core
            .config
            .sites
            .iter()
            .filter(|s| user.server_admin || user.role_on(&s.content_url).is_some())
            .map(|s| SiteReply {
                id: s.id.clone(),
                name: s.name.clone(),
                content_url: s.content_url.clone(),
            })
            .collect();
        let (page, list) = page_of(core, req, list)?;
        Ok(Reply::Sites(page, list))
    })())
}

pub(super) fn workbooks(core: &mut Core, req: &Request<'_>, site_luid: &str) -> Reply {
    respond((|| {
        let (_, me) = site_scoped(
            core,
            req,
            site_luid,
            &["tableau:content:read", "tableau:workbooks:read"],
        )?;
        let list: Vec<Workbook> = core
            .config
            .workbooks_on(&me.content_url)
            .map(|w| Workbook {
                id: w.id.clone(),
                name: w.name.clone(),
                content_url: w.content_url.clone(),
                project_id: w.project_id.clone(),
                project_name: w.project_name.clone(),
                owner_id: core
                    .config
                    .user_by_name(&w.owner)
                    .map(|u| u.id.clone())
                    .unwrap_or_default(),
            })
            .collect();
        let (page, list) = page_of(core, req, list)?;
        Ok(Reply::Workbooks(page, list))
    })())
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds (proleptic Gregorian, UTC).
pub(crate) fn iso8601(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or(0);
    let rem = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        (rem % 3_600) / 60,
        rem % 60
    )
}

fn user_reply(core: &Core, user: &UserConfig, role: &str) -> UserReply {
    UserReply {
        id: user.id.clone(),
        name: user.name.clone(),
        site_role: role.to_owned(),
        full_name: user.full_name.clone(),
        email: user.email.clone(),
        last_login: core.last_login.get(&user.id).map(|t| iso8601(t.as_secs())),
        external_auth_user_id: user.external_auth_user_id.clone(),
        domain: user.domain.clone(),
    }
}

/// The caller administers the session's site.
fn caller_is_admin(core: &Core, me: &SessionReply) -> bool {
    core.config
        .user_by_id(&me.user_id)
        .is_some_and(|u| u.is_admin_on(&me.content_url))
}

/// Get Users on Site: administrators only (403 `403133` otherwise, the fake's choice).
pub(super) fn users(core: &mut Core, req: &Request<'_>, site_luid: &str) -> Reply {
    respond((|| {
        let (_, me) = site_scoped(core, req, site_luid, &["tableau:users:read"])?;
        if !caller_is_admin(core, &me) {
            return Err(ApiError::user_query_forbidden("*"));
        }
        let list: Vec<UserReply> = core
            .config
            .users
            .iter()
            .filter_map(|u| u.role_on(&me.content_url).map(|r| user_reply(core, u, r)))
            .collect();
        let (page, list) = page_of(core, req, list)?;
        Ok(Reply::Users(page, list))
    })())
}

/// Query User: yourself, or anyone on the site when you administer it (403 `403133` otherwise,
/// checked before whether the user exists); a user not on the site is 404 `404002`.
pub(super) fn user(core: &mut Core, req: &Request<'_>, site_luid: &str, user_luid: &str) -> Reply {
    respond((|| {
        let (_, me) = site_scoped(core, req, site_luid, &["tableau:users:read"])?;
        if !me.user_id.eq_ignore_ascii_case(user_luid) && !caller_is_admin(core, &me) {
            return Err(ApiError::user_query_forbidden(user_luid));
        }
        let user = core
            .config
            .users
            .iter()
            .find(|u| u.id.eq_ignore_ascii_case(user_luid))
            .ok_or_else(|| ApiError::user_not_found(user_luid))?;
        let role = user
            .role_on(&me.content_url)
            .ok_or_else(|| ApiError::user_not_found(user_luid))?;
        Ok(Reply::User(user_reply(core, user, role)))
    })())
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

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_735_689_599), "2024-12-31T23:59:59Z");
    }
}
