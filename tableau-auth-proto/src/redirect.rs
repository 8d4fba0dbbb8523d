//! The redirect policy (docs/protocol.md, "Redirects"). Adapters never follow redirects; the core decides.
//!
//! Only the requests that carry no session token may follow: the sign-in (its credentials are
//! re-posted, identical) and the anonymous server-info probe. They follow only to `https`, only to
//! the same host (from an `https` base, the same host and port), a Tableau Cloud pod (for `online.tableau.com`) or an allow-listed host, only
//! when the path is unchanged, and at most [`crate::ConfigBuilder::max_redirects`] times. Every
//! other redirect is an error; an http→https redirect of the same host names the URL to use.

use http::{HeaderMap, StatusCode, Uri, header};

use crate::config::{BaseUrl, Config, host_of_authority, is_cloud_host};
use crate::error::{Error, RedirectRefusal};

/// The statuses that carry a `Location` to follow.
pub(crate) fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Decides whether a redirect of the request to `base` + `path` may be followed; returns the
/// base URL to re-send the same request to.
pub(crate) fn follow(
    config: &Config,
    base: &BaseUrl,
    path: &str,
    headers: &HeaderMap,
    hops: u8,
) -> Result<BaseUrl, Error> {
    let target = location(base, headers)?;
    let refuse = |refusal| Error::Redirect {
        location: target.shown.clone(),
        refusal,
    };
    if !target.https {
        return Err(refuse(RedirectRefusal::Downgrade));
    }
    let host = host_of_authority(&target.authority);
    // From https, the same server is the same host *and* port: another port of the host may be
    // anyone's service. Only the http→https upgrade may change the port.
    let same_host = if base.is_https() {
        same_https_server(&target.authority, base.authority())
    } else {
        host == base.host()
    };
    let cloud_pod = is_cloud_host(base.host()) && is_cloud_host(host);
    let allowed = config.redirect_hosts.iter().any(|h| h == host);
    if !(same_host || cloud_pod || allowed) {
        return Err(refuse(RedirectRefusal::OtherHost));
    }
    // The request path is `{prefix}{path}`; the target must end with the same `{path}`, and
    // whatever precedes it becomes the new prefix.
    let Some(prefix) = target.path.strip_suffix(path) else {
        return Err(refuse(RedirectRefusal::PathChanged));
    };
    if hops >= config.max_redirects {
        return Err(refuse(RedirectRefusal::TooManyRedirects));
    }
    let url = format!("https://{}{}", target.authority, prefix);
    BaseUrl::parse(&url).map_err(|_| refuse(RedirectRefusal::InvalidLocation))
}

/// Whether two authorities name the same host and port over https (`h` is `h:443`).
fn same_https_server(a: &str, b: &str) -> bool {
    let key = |text: &str| {
        text.parse::<http::uri::Authority>()
            .ok()
            .map(|a| (a.host().to_ascii_lowercase(), a.port_u16().unwrap_or(443)))
    };
    matches!((key(a), key(b)), (Some(a), Some(b)) if a == b)
}

/// The error for a redirect of a request that must not follow one.
pub(crate) fn refuse(base: &BaseUrl, headers: &HeaderMap) -> Error {
    match location(base, headers) {
        Ok(target)
            if target.https
                && !base.is_https()
                && host_of_authority(&target.authority) == base.host() =>
        {
            // The https side may listen on another port: name the one the server gave.
            Error::HttpsRequired {
                https_url: base.moved_to_https(&target.authority).to_string(),
            }
        }
        Ok(target) => Error::Redirect {
            location: target.shown,
            refusal: RedirectRefusal::NotFollowed,
        },
        Err(e) => e,
    }
}

struct Target {
    https: bool,
    authority: String,
    path: String,
    /// The location as shown in errors (without its query, which might carry anything).
    shown: String,
}

fn location(base: &BaseUrl, headers: &HeaderMap) -> Result<Target, Error> {
    let invalid = |shown: String| Error::Redirect {
        location: shown,
        refusal: RedirectRefusal::InvalidLocation,
    };
    let raw = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| invalid(String::new()))?
        .trim();
    let uri: Uri = raw.parse().map_err(|_| invalid(String::new()))?;
    let path = uri.path().to_owned();
    let (https, authority) = match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => {
            let https = match scheme.to_ascii_lowercase().as_str() {
                "https" => true,
                "http" => false,
                _ => return Err(invalid(String::new())),
            };
            if authority.as_str().contains('@') {
                return Err(invalid(String::new()));
            }
            (https, authority.as_str().to_ascii_lowercase())
        }
        (None, None) if raw.starts_with('/') && !raw.starts_with("//") => {
            (base.is_https(), base.authority().to_owned())
        }
        _ => return Err(invalid(String::new())),
    };
    let scheme = if https { "https" } else { "http" };
    let shown: String = format!("{scheme}://{authority}{path}")
        .chars()
        .take(200)
        .collect();
    Ok(Target {
        https,
        authority,
        path,
        shown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(location: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::LOCATION, HeaderValue::from_str(location).unwrap());
        h
    }

    fn cfg(base: &str) -> Config {
        Config::builder(base)
            .allow_redirect_host("tableau-new.example.com")
            .build()
            .unwrap()
    }

    const PATH: &str = "/api/3.25/auth/signin";

    fn check(base: &str, location: &str, hops: u8) -> Result<String, Error> {
        let c = cfg(base);
        follow(&c, &c.base, PATH, &headers(location), hops).map(|b| b.to_string())
    }

    #[test]
    fn follows_same_host_upgrade_and_cloud_pods() {
        assert_eq!(
            check("http://h", "https://h/api/3.25/auth/signin", 0).unwrap(),
            "https://h"
        );
        assert_eq!(
            check(
                "https://online.tableau.com",
                "https://10ax.online.tableau.com/api/3.25/auth/signin",
                0
            )
            .unwrap(),
            "https://10ax.online.tableau.com"
        );
        assert_eq!(
            check(
                "https://h",
                "https://tableau-new.example.com/tab/api/3.25/auth/signin",
                0
            )
            .unwrap(),
            "https://tableau-new.example.com/tab"
        );
        assert_eq!(
            check("https://h:8443", "/api/3.25/auth/signin", 0).unwrap(),
            "https://h:8443"
        );
        // The default port, spelled or not, is the same server; the upgrade may change ports.
        assert_eq!(
            check("https://h", "https://H:443/api/3.25/auth/signin", 0).unwrap(),
            "https://h:443"
        );
        assert_eq!(
            check("http://h:8080", "https://h:8443/api/3.25/auth/signin", 0).unwrap(),
            "https://h:8443"
        );
    }

    #[test]
    fn refuses_downgrade_other_host_path_change_and_loops() {
        let refusal = |r: Result<String, Error>| match r {
            Err(Error::Redirect { refusal, .. }) => refusal,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refusal(check("https://h", "http://h/api/3.25/auth/signin", 0)),
            RedirectRefusal::Downgrade
        );
        assert_eq!(
            refusal(check("http://h", "http://h/api/3.25/auth/signin", 0)),
            RedirectRefusal::Downgrade
        );
        assert_eq!(
            refusal(check(
                "https://h",
                "https://evil.example/api/3.25/auth/signin",
                0
            )),
            RedirectRefusal::OtherHost
        );
        assert_eq!(
            refusal(check(
                "https://h.online.tableau.com.evil",
                "https://x.online.tableau.com/api/3.25/auth/signin",
                0
            )),
            RedirectRefusal::OtherHost
        );
        assert_eq!(
            refusal(check("https://h", "https://h/login", 0)),
            RedirectRefusal::PathChanged
        );
        // From https, another port of the same host is another server.
        assert_eq!(
            refusal(check("https://h", "https://h:8443/api/3.25/auth/signin", 0)),
            RedirectRefusal::OtherHost
        );
        assert_eq!(
            refusal(check("https://h:8443", "https://h/api/3.25/auth/signin", 0)),
            RedirectRefusal::OtherHost
        );
        assert_eq!(
            refusal(check("http://h", "https://h/api/3.25/auth/signin", 2)),
            RedirectRefusal::TooManyRedirects
        );
        assert_eq!(
            refusal(check("https://h", "//evil.example/api/3.25/auth/signin", 0)),
            RedirectRefusal::InvalidLocation
        );
        assert_eq!(
            refusal(check("https://h", "javascript:alert(1)", 0)),
            RedirectRefusal::InvalidLocation
        );
        assert_eq!(
            refusal(check("https://h", "https://u:p@h/api/3.25/auth/signin", 0)),
            RedirectRefusal::InvalidLocation
        );
        let c = cfg("https://h");
        assert!(matches!(
            follow(&c, &c.base, PATH, &HeaderMap::new(), 0),
            Err(Error::Redirect {
                refusal: RedirectRefusal::InvalidLocation,
                ..
            })
        ));
    }

    #[test]
    fn token_bearing_requests_name_the_https_url() {
        let c = cfg("http://h:80");
        match refuse(&c.base, &headers("https://h/api/3.25/auth/signout")) {
            Error::HttpsRequired { https_url } => assert_eq!(https_url, "https://h"),
            other => panic!("{other:?}"),
        }
        match refuse(&c.base, &headers("https://h:8443/api/3.25/auth/signout")) {
            Error::HttpsRequired { https_url } => assert_eq!(https_url, "https://h:8443"),
            other => panic!("{other:?}"),
        }
        let c = cfg("https://h");
        assert!(matches!(
            refuse(&c.base, &headers("https://other/x")),
            Error::Redirect {
                refusal: RedirectRefusal::NotFollowed,
                ..
            }
        ));
    }
}
