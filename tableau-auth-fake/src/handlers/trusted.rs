//! Trusted tickets: `POST /trusted` (issue), `GET /trusted/{ticket}/[t/{site}/]views/...`
//! (single redemption: a 302 to the view without the `/trusted/{ticket}` prefix, with a
//! `workgroup_session_id` cookie) and the view pages behind that cookie.

use std::time::Duration;

use percent_encoding::percent_decode_str;

use super::super::config::ViewWithoutSession;
use super::super::random;
use super::super::render::xml_escape;
use super::super::reply::Reply;
use super::super::state::{Core, Ticket, WebSession};
use super::Request;

/// The session cookie's name.
const COOKIE: &str = "workgroup_session_id";

/// The ticket or `-1`, always HTTP 200 ("believed" in the protocol doc).
pub(super) fn issue(core: &mut Core, req: &Request<'_>) -> Reply {
    match issue_inner(core, req) {
        Some(ticket) => Reply::text(200, ticket),
        None => Reply::text(200, "-1"),
    }
}

fn issue_inner(core: &mut Core, req: &Request<'_>) -> Option<String> {
    if req.method != "POST" || req.content_type() != "application/x-www-form-urlencoded" {
        return None;
    }
    let peer = req.peer.to_string();
    if !core.config.trusted_hosts.contains(&peer) {
        return None;
    }
    let mut username = None;
    let mut target_site = String::new();
    for (key, value) in form_urlencoded::parse(req.body) {
        match key.as_ref() {
            "username" => username = Some(value.into_owned()),
            "target_site" => target_site = value.into_owned(),
            _ => {}
        }
    }
    let username = username.filter(|u| !u.is_empty())?;
    core.config.site_by_content_url(&target_site)?;
    let user = core.config.user_by_name(&username)?;
    user.role_on(&target_site)?;
    let user_id = user.id.clone();
    let ticket = random::ticket();
    core.tickets.insert(
        ticket.clone(),
        Ticket {
            site: target_site,
            issued: req.now,
            user_id,
        },
    );
    Some(ticket)
}

/// 405 with `Allow: GET, HEAD`.
fn get_only() -> Reply {
    match Reply::html(405, "405 - Method Not Allowed") {
        Reply::Raw {
            status,
            content_type,
            body,
            ..
        } => Reply::Raw {
            status,
            content_type,
            body,
            headers: vec![("allow", "GET, HEAD".to_owned())],
        },
        other => other,
    }
}

/// Once: 302 to the view (the path without `/trusted/{ticket}`, the query kept) with a new
/// `workgroup_session_id` cookie; unknown, reused, expired or wrong-site → 401.
pub(super) fn redeem(core: &mut Core, req: &Request<'_>, rest: &str) -> Reply {
    if req.method != "GET" && req.method != "HEAD" {
        return get_only();
    }
    let Ok(decoded) = percent_decode_str(rest).decode_utf8() else {
        return Reply::html(404, "404 - Not Found");
    };
    // A 10.2-style ticket is 49 characters and may contain '/', so try that length first.
    let shaped_10_2 = decoded.get(24..25) == Some(":")
        && decoded.get(49..).is_some_and(|rest| rest.starts_with('/'));
    let (ticket, remainder) = if shaped_10_2 {
        decoded.split_at(49)
    } else {
        decoded.split_at(decoded.find('/').unwrap_or(decoded.len()))
    };
    let site = if remainder.starts_with("/views/") {
        String::new()
    } else if let Some(after_t) = remainder.strip_prefix("/t/") {
        match after_t.split_once('/') {
            Some((site, views)) if views.starts_with("views/") => site.to_owned(),
            _ => return Reply::html(404, "404 - Not Found"),
        }
    } else {
        return Reply::html(404, "404 - Not Found");
    };
    let Some(found) = core.tickets.remove(ticket) else {
        return unauthorized();
    };
    let timeout = Duration::from_secs(core.config.ticket_timeout_secs);
    if req.now.saturating_sub(found.issued) > timeout || found.site != site {
        return unauthorized();
    }
    // The view path as the client wrote it: the raw suffix of `rest` that decodes to the
    // remainder (so that encoded characters in workbook or view names stay encoded).
    let raw_remainder = rest
        .char_indices()
        .filter(|(_, c)| *c == '/')
        .map(|(i, _)| &rest[i..])
        .find(|suffix| percent_decode_str(suffix).decode_utf8().ok().as_deref() == Some(remainder))
        .unwrap_or(remainder);
    let mut location = raw_remainder.to_owned();
    if let Some(query) = req.query {
        location.push('?');
        location.push_str(query);
    }
    let cookie = loop {
        let candidate = random::token();
        if !core.web_sessions.contains_key(&candidate) {
            break candidate;
        }
    };
    core.web_sessions.insert(
        cookie.clone(),
        WebSession {
            user_id: found.user_id,
            site,
            last_used: req.now,
        },
    );
    let secure = if req.tls { "; Secure" } else { "" };
    Reply::Raw {
        status: 302,
        content_type: "text/html;charset=UTF-8",
        body: format!(
            "<!DOCTYPE html><html><head><title>302 Found</title></head><body><a href=\"{}\">view</a></body></html>",
            xml_escape(&location)
        ),
        headers: vec![
            ("location", location),
            (
                "set-cookie",
                format!("{COOKIE}={cookie}; Path=/; HttpOnly{secure}"),
            ),
        ],
    }
}

/// The `workgroup_session_id` cookie's value, if sent.
fn session_cookie<'a>(req: &Request<'a>) -> Option<&'a str> {
    req.headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
}

/// `GET /views/{workbook}/{view}` or `/t/{site}/views/{workbook}/{view}`: a small HTML page
/// for a live browser session on that site (idle limit as for REST sessions); otherwise a
/// redirect to sign-in or 401 (`view_without_session`). An unknown workbook or view is 404.
pub(super) fn view(core: &mut Core, req: &Request<'_>) -> Reply {
    if req.method != "GET" && req.method != "HEAD" {
        return get_only();
    }
    let Ok(path) = percent_decode_str(req.path).decode_utf8() else {
        return Reply::html(404, "404 - Not Found");
    };
    let (site, views) = if let Some(views) = path.strip_prefix("/views/") {
        (String::new(), views)
    } else {
        match path
            .strip_prefix("/t/")
            .and_then(|after| after.split_once("/views/"))
        {
            Some((site, views)) if !site.is_empty() && !site.contains('/') => {
                (site.to_owned(), views)
            }
            _ => return Reply::html(404, "404 - Not Found"),
        }
    };
    let Some((workbook, view)) = views.split_once('/') else {
        return Reply::html(404, "404 - Not Found");
    };
    let idle = Duration::from_secs(core.config.idle_limit_secs);
    let now = req.now;
    let live = session_cookie(req).and_then(|cookie| {
        let session = core.web_sessions.get_mut(cookie)?;
        if now.saturating_sub(session.last_used) >= idle {
            core.web_sessions.remove(cookie);
            return None;
        }
        (session.site == site).then(|| {
            session.last_used = now;
            session.user_id.clone()
        })
    });
    let Some(user_id) = live else {
        return match core.config.view_without_session {
            ViewWithoutSession::Unauthorized => Reply::html(401, "401 - Unauthorized"),
            ViewWithoutSession::RedirectToSignin => {
                let target: String = form_urlencoded::byte_serialize(req.path.as_bytes()).collect();
                Reply::Raw {
                    status: 302,
                    content_type: "text/html;charset=UTF-8",
                    body: "<!DOCTYPE html><html><head><title>302 Found</title></head><body>sign in</body></html>".into(),
                    headers: vec![("location", format!("/#/signin?redirect={target}"))],
                }
            }
        };
    };
    let found = core
        .config
        .workbooks_on(&site)
        .find(|w| w.content_url == workbook)
        .filter(|w| w.views.iter().any(|v| v == view))
        .cloned();
    let Some(found) = found else {
        return Reply::html(404, "404 - Not Found");
    };
    let user = core
        .config
        .user_by_id(&user_id)
        .map(|u| u.name.clone())
        .unwrap_or_default();
    Reply::Raw {
        status: 200,
        content_type: "text/html;charset=UTF-8",
        body: format!(
            "<!DOCTYPE html><html><head><title>{wb} - {view}</title></head><body>\
             <h1>{wb}: {view}</h1><p id=\"user\">{user}</p><p id=\"site\">{site}</p></body></html>",
            wb = xml_escape(&found.name),
            view = xml_escape(view),
            user = xml_escape(&user),
            site = xml_escape(&site),
        ),
        headers: Vec::new(),
    }
}

fn unauthorized() -> Reply {
    Reply::html(401, "401 - Could not locate unexpired trusted ticket")
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use http::HeaderMap;

    use super::super::super::config::FakeConfig;
    use super::super::super::version::ApiVersion;
    use super::*;

    fn get<'a>(path: &'a str, headers: &'a HeaderMap, now: u64) -> Request<'a> {
        Request {
            method: "GET",
            path,
            query: None,
            headers,
            body: b"",
            peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
            now: Duration::from_secs(now),
            tls: false,
        }
    }

    #[test]
    fn tickets_with_slashes_raw_or_encoded() {
        let mut core = Core::new(FakeConfig::sample(), ApiVersion::new(3, 25));
        let headers = HeaderMap::new();
        let raw = "ab/cdefghijklmnopqrs+w==:ABCDEFGHIJKLMNOPQRSTUVWX";
        assert_eq!(raw.len(), 49);
        for (site, path) in [
            ("", format!("{raw}/views/W/V")),
            ("Finance", format!("{raw}/t/Finance/views/W/V")),
            (
                "",
                "ab%2Fcdefghijklmnopqrs%2Bw%3D%3D:ABCDEFGHIJKLMNOPQRSTUVWX/views/W/V".to_owned(),
            ),
        ] {
            core.tickets.insert(
                raw.to_owned(),
                Ticket {
                    site: site.to_owned(),
                    issued: Duration::from_secs(100),
                    user_id: "u".to_owned(),
                },
            );
            let reply = redeem(&mut core, &get("/trusted/x", &headers, 280), &path);
            assert_eq!(reply.status(), 302, "{path}");
            let again = redeem(&mut core, &get("/trusted/x", &headers, 280), &path);
            assert_eq!(again.status(), 401, "{path}");
        }
        for junk in [
            "",
            "/",
            "%ff%fe",
            "x/views",
            "x/t/",
            "x/t/S/other",
            "\u{e9}\u{e9}",
        ] {
            let reply = redeem(&mut core, &get("/trusted/x", &headers, 0), junk);
            assert!(matches!(reply.status(), 401 | 404), "{junk}");
        }
        // A pre-10.2 style ticket (no colon) is taken up to the first slash.
        core.tickets.insert(
            "Qw8_Lp3ZtR2-mX9vKc4NbH7s".to_owned(),
            Ticket {
                site: String::new(),
                issued: Duration::from_secs(0),
                user_id: "u".to_owned(),
            },
        );
        let reply = redeem(
            &mut core,
            &get("/trusted/x", &headers, 181),
            "Qw8_Lp3ZtR2-mX9vKc4NbH7s/views/A/B",
        );
        assert_eq!(reply.status(), 401, "expired after 180 s");
    }
}
