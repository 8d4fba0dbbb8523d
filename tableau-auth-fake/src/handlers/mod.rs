//! Request routing and the protocol handlers. Everything here is synchronous and runs under the
//! server's lock; no handler panics on any input.

mod jwt;
mod resources;
mod session;
mod signin;
mod trusted;
mod uat;

use std::net::IpAddr;
use std::time::Duration;

use http::HeaderMap;

use super::render::Format;
use super::reply::{ApiError, Reply};
use super::reqdoc::{self, Elem};
use super::state::Core;
use super::version::{ApiVersion, since};

/// What a handler sees of a request.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    pub(crate) peer: IpAddr,
    /// Fake-clock time.
    pub(crate) now: Duration,
    /// Whether the main listener speaks TLS.
    pub(crate) tls: bool,
}

impl Request<'_> {
    /// The `X-Tableau-Auth` value; a non-UTF-8 value becomes a token that matches nothing.
    pub(crate) fn token(&self) -> Option<&str> {
        self.headers
            .get("x-tableau-auth")
            .map(|v| v.to_str().unwrap_or("\u{fffd}").trim())
    }

    fn mime(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    }

    /// `Accept` asks for JSON.
    fn accepts_json(&self) -> bool {
        self.mime("accept")
            .split(',')
            .any(|part| part.split(';').next().unwrap_or("").trim() == "application/json")
    }

    /// The `Content-Type` media type (lower case, parameters stripped).
    pub(crate) fn content_type(&self) -> String {
        self.mime("content-type")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_owned()
    }
}

/// Reads a `tsRequest` body: JSON when `Content-Type: application/json` (and the version knows
/// JSON), XML otherwise. Anything unreadable → 400 400000.
pub(crate) fn parse_body(req: &Request<'_>, version: ApiVersion) -> Result<Elem, ApiError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    let json = req.content_type() == "application/json" && version >= since::JSON;
    let parsed = if json {
        reqdoc::from_json(req.body)
    } else {
        reqdoc::from_xml(req.body)
    };
    let root = parsed.map_err(|e| ApiError::bad_request(&e))?;
    if root.name != "tsRequest" {
        return Err(ApiError::bad_request("the root element is not tsRequest"));
    }
    Ok(root)
}

/// Routes one request and says how to render the answer.
pub(crate) fn route(core: &mut Core, req: &Request<'_>) -> (Reply, Format) {
    let mut format = Format {
        json: false,
        version: core.version,
    };
    let reply = if let Some(rest) = req.path.strip_prefix("/api/") {
        let (version_text, resource) = rest.split_once('/').unwrap_or((rest, ""));
        match ApiVersion::parse(version_text) {
            Some(v) if v >= since::REST && v <= core.version => {
                format.version = v;
                format.json = req.accepts_json() && v >= since::JSON;
                api(core, req, v, resource)
            }
            _ => ApiError::unknown_resource(&format!("/{rest}")).into(),
        }
    } else if req.path == "/trusted" || req.path == "/trusted/" {
        trusted::issue(core, req)
    } else if let Some(rest) = req.path.strip_prefix("/trusted/") {
        trusted::redeem(core, req, rest)
    } else if req.path == "/auth" || req.path == "/auth/" {
        resources::legacy_auth(core, req)
    } else if req.path.starts_with("/views/") || req.path.starts_with("/t/") {
        trusted::view(core, req)
    } else {
        Reply::html(404, "404 - Not Found")
    };
    (reply, format)
}

/// `/api/{v}/{resource}`.
fn api(core: &mut Core, req: &Request<'_>, v: ApiVersion, resource: &str) -> Reply {
    let unknown = || -> Reply { ApiError::unknown_resource(&format!("/{v}/{resource}")).into() };
    let segments: Vec<&str> = resource
        .trim_end_matches('/')
        .split('/')
        .collect::<Vec<_>>();
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    let method = req.method;
    let need = |wanted: &'static str| -> Option<Reply> {
        (method != wanted).then(|| ApiError::method_not_allowed(method, wanted).into())
    };
    match lower.as_slice() {
        ["auth", "signin"] => need("POST").unwrap_or_else(|| signin::sign_in(core, req, v)),
        ["auth", "signout"] => need("POST").unwrap_or_else(|| session::sign_out(core, req)),
        ["auth", "switchsite"] if v >= since::SWITCH_SITE => {
            need("POST").unwrap_or_else(|| session::switch_site(core, req, v))
        }
        ["auth", "serveradminaccesstokens"] if v >= since::REVOKE_ADMIN_PATS => {
            need("DELETE").unwrap_or_else(|| session::revoke_admin_pats(core, req))
        }
        ["serverinfo"] if v >= since::SERVER_INFO && !core.config.legacy_server => {
            need("GET").unwrap_or_else(|| resources::server_info(core))
        }
        ["sessions", "current"] if v >= since::SESSIONS_CURRENT => {
            need("GET").unwrap_or_else(|| resources::current_session(core, req))
        }
        ["sites"] => need("GET").unwrap_or_else(|| resources::sites(core, req)),
        ["sites", _, "users"] => {
            need("GET").unwrap_or_else(|| resources::users(core, req, segments[1]))
        }
        ["sites", _, "workbooks"] => {
            need("GET").unwrap_or_else(|| resources::workbooks(core, req, segments[1]))
        }
        ["sites", _, "users", _] => {
            need("GET").unwrap_or_else(|| resources::user(core, req, segments[1], segments[3]))
        }
        _ => unknown(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use http::HeaderValue;

    use super::super::config::FakeConfig;
    use super::super::random;
    use super::*;

    /// Random and mutated inputs through every route: nothing panics, every status is sane.
    #[test]
    fn no_panics_on_hostile_input() {
        let mut core = Core::new(FakeConfig::sample(), ApiVersion::new(3, 25));
        let seeds: [&[u8]; 4] = [
            br#"<tsRequest><credentials name="jsmith" password="s3cr3t!"><site contentUrl="" /><user id="x"/></credentials></tsRequest>"#,
            br#"{"credentials":{"jwt":"eyJh.eyJz.c2ln","isUat":"maybe","site":{"contentUrl":"Finance"}}}"#,
            br#"<tsRequest><site contentUrl="Finance"/></tsRequest>"#,
            b"username=jsmith&target_site=Finance&client_ip=1.2.3.4",
        ];
        let paths = [
            "/api/3.25/auth/signin",
            "/api/2.0/auth/signin",
            "/api/3.25/auth/switchSite",
            "/api/3.25/auth/signout",
            "/api/3.25/auth/serverAdminAccessTokens",
            "/api/3.10/auth/serverAdminAccessTokens",
            "/api/3.25/auth/revokeAllServerAdminTokens",
            "/api/3.25/serverinfo",
            "/api/3.25/sessions/current",
            "/api/3.25/sites/x/workbooks",
            "/api/3.25/sites/x/users/y",
            "/api/3.25/sites/x/users",
            "/api/3.25/sites",
            "/views/a/b",
            "/t/Finance/views/a/b",
            "/api/99999999999.1/x",
            "/api/",
            "/api",
            "/trusted",
            "/trusted/%ff/t/",
            "/auth",
            "/",
        ];
        let types = [
            "application/xml",
            "application/json",
            "application/x-www-form-urlencoded",
            "",
        ];
        let mut noise = [0u8; 64];
        for i in 0..3_000usize {
            random::fill(&mut noise);
            let mut body = seeds[i % seeds.len()].to_vec();
            for chunk in noise.chunks(4).take(usize::from(noise[0] % 6)) {
                let at = usize::from(chunk[1]) % (body.len() + 1);
                match chunk[0] % 3 {
                    0 if at < body.len() => {
                        body.remove(at);
                    }
                    1 => body.insert(at, chunk[2]),
                    _ => body.truncate(at),
                }
            }
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(types[i % types.len()]) {
                headers.insert("content-type", v);
            }
            if i % 2 == 0 {
                headers.insert("accept", HeaderValue::from_static("application/json"));
            }
            if i % 3 == 0 {
                headers.insert("x-tableau-auth", HeaderValue::from_static("tok"));
            }
            let req = Request {
                method: match i % 7 {
                    0 => "GET",
                    3 => "DELETE",
                    _ => "POST",
                },
                path: paths[i % paths.len()],
                query: Some(
                    [
                        "format=xml&x=%zz",
                        "pageSize=0",
                        "pageNumber=99999999999999999999&pageSize=1000",
                    ][i % 3],
                ),
                headers: &headers,
                body: &body,
                peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
                now: Duration::from_secs(1_700_000_000),
                tls: true,
            };
            let (reply, format) = route(&mut core, &req);
            let rendered = super::super::render::render(&reply, format);
            assert!((200..600).contains(&rendered.status));
        }
    }
}
