//! `whoami` with the session in `TABLEAU_AUTH_TOKEN`: no sign-in, no sign-out.
//!
//! The client has no way to adopt a session it did not sign in (its policy holds only its own),
//! so this sends `GET sessions/current` itself, with `Client::send_as_is` (the client's TLS trust,
//! proxy, time limits and typed errors; redirects never followed) and the core's URL, and lets the core read
//! the answer ([`Session::read_current_session`]: Tableau's errors, refused redirects, size
//! limit). The token goes only where the core would send it: an anonymous server-info probe
//! first learns the API version and follows an http→https upgrade of the same host. It is
//! scrubbed from every message (`failure::keep_secret`), as the core scrubs its own.
//!
//! [`Session::read_current_session`]: tableau_auth_ureq::proto::Session::read_current_session

use std::time::Duration;

use tableau_auth_ureq::http::{Request, StatusCode, header};
use tableau_auth_ureq::proto::{self, Feature, X_TABLEAU_AUTH};
use tableau_auth_ureq::{Client, Error};

use crate::Fields;
use crate::failure::{Failure, warn};

/// What `whoami` says about the session it could not use.
const FROM_ENV: &str = "the session in TABLEAU_AUTH_TOKEN";

/// `GET sessions/current` with the token, read by the core.
pub(crate) fn whoami(client: &mut Client, token: &str) -> Result<Fields, Failure> {
    let step = |error: Error| Failure::During {
        step: "whoami",
        context: Some(FROM_ENV),
        error: Box::new(error),
    };
    let session = client.session();
    if session.api_version().is_none() || !session.config().is_https() {
        client.server_info().map_err(crate::during("server-info"))?;
    }
    let session = client.session();
    let version = session.api_version().ok_or_else(|| {
        step(Error::Transport(
            "no API version after server-info".to_owned(),
        ))
    })?;
    let required = Feature::CurrentSession.min_version();
    if version < required {
        return Err(step(Error::Tableau(proto::Error::Unsupported {
            feature: Feature::CurrentSession,
            required,
            actual: version,
        })));
    }
    let uri = session
        .api_url("sessions/current")
        .map_err(|e| step(e.into()))?;
    let mut auth = header::HeaderValue::from_str(token).map_err(|_| {
        Failure::Usage("TABLEAU_AUTH_TOKEN holds characters a header cannot carry".to_owned())
    })?;
    auth.set_sensitive(true);
    let request = Request::get(uri.clone())
        .header(X_TABLEAU_AUTH, auth)
        .header(header::ACCEPT, session.config().format().media_type())
        .header(header::USER_AGENT, crate::USER_AGENT)
        .body(Vec::new())
        .map_err(|_| step(Error::Transport("could not build the request".to_owned())))?;
    // The client's own transport, limits and errors (and its `--verbose` line).
    let response = client
        .send_as_is(request)
        .map_err(|e| step(crate::tls_port(e)))?;
    let me = client
        .session()
        .read_current_session(&response)
        .map_err(|e| step(e.into()))?;
    let mut fields: Fields = vec![
        ("site_id", me.site_id.as_str().into()),
        ("site_content_url", me.site_content_url.as_str().into()),
        ("user_id", me.user_id.as_str().into()),
        ("user_name", me.user_name.into()),
        ("site_role", me.site_role.into()),
    ];
    let now = client.session().base_url();
    if now != client.session().config().base_url() {
        fields.push(("moved_to", now.into()));
    }
    Ok(fields)
}

/// `--verbose`: one line on stderr for a request this tool sent itself: method, path (paths
/// carry no secret; no query is shown), status (or `failed`), milliseconds.
pub(crate) fn request_line(
    verbose: bool,
    method: &str,
    path: &str,
    status: Option<StatusCode>,
    elapsed: Duration,
) {
    if !verbose {
        return;
    }
    let status = status.map_or_else(|| "failed".to_owned(), |s| s.as_u16().to_string());
    warn(&format!(
        "{method} {path} {status} {} ms",
        elapsed.as_millis()
    ));
}
