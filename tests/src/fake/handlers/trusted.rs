//! Trusted tickets: `POST /trusted` (issue) and `GET /trusted/{ticket}/[t/{site}/]views/...`
//! (single redemption).

use std::time::Duration;

use percent_encoding::percent_decode_str;

use super::super::random;
use super::super::reply::Reply;
use super::super::state::{Core, Ticket};
use super::Request;

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
    core.config.user_by_name(&username)?.role_on(&target_site)?;
    let ticket = random::ticket();
    core.tickets.insert(
        ticket.clone(),
        Ticket {
            site: target_site,
            issued: req.now,
        },
    );
    Some(ticket)
}

/// 200 `redeemed` + a session cookie, once; unknown, reused, expired or wrong-site → 401.
pub(super) fn redeem(core: &mut Core, req: &Request<'_>, rest: &str) -> Reply {
    if req.method != "GET" && req.method != "HEAD" {
        return Reply::html(405, "405 - Method Not Allowed");
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
    let secure = if req.tls { "; Secure" } else { "" };
    Reply::Raw {
        status: 200,
        content_type: "text/plain;charset=UTF-8",
        body: "redeemed".into(),
        headers: vec![(
            "set-cookie",
            format!(
                "workgroup_session_id={}; Path=/; HttpOnly{secure}",
                random::token()
            ),
        )],
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
                },
            );
            let reply = redeem(&mut core, &get("/trusted/x", &headers, 280), &path);
            assert_eq!(reply.status(), 200, "{path}");
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
