//! What a response means: Tableau's `<error>`, a foreign body, `Retry-After`, and the verdict on
//! a response to the caller's own REST call.

use http::header::RETRY_AFTER;
use http::{HeaderMap, StatusCode};

use crate::error::{ApiError, Error, RetryAfter};
use crate::secret::Redactor;
use crate::wire::{self, Parsed};

/// The longest part of a foreign body kept in [`Error::Status`].
const SNIPPET_LEN: usize = 512;

/// What a response to the caller's own REST call means; see [`crate::Session::classify`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Verdict {
    /// 2xx: use the response.
    Success,
    /// The session is gone (`401002` and kin): sign in again once, then replay the request once.
    Reauthenticate(Error),
    /// Throttled or unavailable (429, 503): wait ([`Error::retry_after`]) and try again.
    Retry(Error),
    /// Anything else: give up with this error.
    Fail(Error),
}

fn retry_after(status: StatusCode, headers: &HeaderMap) -> Option<RetryAfter> {
    if !matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        return None;
    }
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(RetryAfter::parse)
}

/// The typed error for a non-success response: Tableau's `<error>` when there is one, else the
/// status with a snippet of the body.
pub(crate) fn error_from_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    redactor: &Redactor,
) -> Error {
    let retry = retry_after(status, headers);
    if let Ok(Parsed::Tableau(doc)) = wire::parse(body)
        && let Some(e) = doc.error
        && !e.code.is_empty()
    {
        return Error::Api(ApiError {
            status,
            code: redactor.scrub(e.code),
            summary: redactor.scrub(e.summary),
            detail: redactor.scrub(e.detail),
            retry_after: retry,
        });
    }
    foreign(status, retry, body, redactor)
}

pub(crate) fn foreign(
    status: StatusCode,
    retry_after: Option<RetryAfter>,
    body: &[u8],
    redactor: &Redactor,
) -> Error {
    // Scrub before cutting, so that a secret straddling the cut cannot leak in part.
    let mut snippet = redactor.scrub(String::from_utf8_lossy(body).trim().to_owned());
    if snippet.len() > SNIPPET_LEN {
        let mut end = SNIPPET_LEN;
        while !snippet.is_char_boundary(end) {
            end -= 1;
        }
        snippet.truncate(end);
    }
    Error::Status {
        status,
        snippet,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_scrubbed_before_they_are_cut() {
        let mut redactor = Redactor::default();
        redactor.push("SECRET-SECRET");
        let mut body = vec![b'x'; SNIPPET_LEN - 4];
        body.extend_from_slice(b"SECRET-SECRET and more");
        match foreign(StatusCode::BAD_GATEWAY, None, &body, &redactor) {
            Error::Status { snippet, .. } => {
                assert!(snippet.len() <= SNIPPET_LEN);
                assert!(!snippet.contains("SECR"), "{snippet}");
            }
            other => panic!("{other:?}"),
        }
    }
}
