//! `whoami` with the session in `TABLEAU_AUTH_TOKEN`: no sign-in, no sign-out.
//!
//! The client takes the session up ([`Client::resume`]: `GET sessions/current` with the token,
//! after the anonymous version probe and the http→https check a sign-in makes, so the token goes
//! only where the core would send its own), and this command then leaves it open. The token is
//! scrubbed from every message (`failure::keep_secret`), as the core scrubs its own.

use std::time::Duration;

use tableau_auth_ureq::Client;
use tableau_auth_ureq::http::StatusCode;
use tableau_auth_ureq::proto::secret::AuthToken;

use crate::Fields;
use crate::failure::{Failure, warn};

/// What `whoami` says about the session it could not use.
const FROM_ENV: &str = "the session in TABLEAU_AUTH_TOKEN";

/// Who and where the session of `token` is.
pub(crate) fn whoami(client: &mut Client, token: &str) -> Result<Fields, Failure> {
    let me = client
        .resume(AuthToken::new(token))
        .map_err(|error| Failure::During {
            step: "whoami",
            context: Some(FROM_ENV),
            error: Box::new(crate::tls_port(error)),
        })?;
    let mut fields = crate::current_session_fields(me);
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
