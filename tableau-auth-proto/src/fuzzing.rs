//! Entry points for fuzzers and corpus replay (feature `fuzzing`). Each is a thin call into the
//! real code paths; none may panic on any input.

use std::time::{Duration, Instant};

use http::{Response, StatusCode};

use crate::{Config, Credentials, Format, Intent, Session, SignIn, Step};

/// Parses `body` as every response the core reads (both formats, errors included).
pub fn parse_response(status: u16, body: &[u8]) {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let _ = crate::wire::parse(body);
    let _ = crate::response::error_from_response(
        status,
        &http::HeaderMap::new(),
        body,
        &crate::secret::Redactor::default(),
    );
}

/// Runs a sign-in against one canned response and, if that signed in, a sign-out against a
/// second one. Returns whether the session ended signed in.
pub fn sign_in_then_out(
    now: Instant,
    format_json: bool,
    status: u16,
    headers: &[(String, Vec<u8>)],
    body: &[u8],
) -> bool {
    let format = if format_json {
        Format::Json
    } else {
        Format::Xml
    };
    let Ok(config) = Config::builder("https://tableau.example.com")
        .api_version(crate::ApiVersion::new(3, 25))
        .format(format)
        .build()
    else {
        return false;
    };
    let mut session = Session::new(config);
    let intent = Intent::SignIn(SignIn::new(Credentials::password("u", "p"), "s"));
    let Ok(Step::Send(_)) = session.start(intent, now) else {
        return false;
    };
    let mut response = Response::new(body.to_vec());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    let _ = session.handle_response(response, now + Duration::from_millis(1));
    let _ = session.poll_timeout();
    session.is_signed_in()
}
