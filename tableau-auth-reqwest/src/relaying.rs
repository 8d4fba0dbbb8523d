//! One request through the middleware: the [`Relay`] the shared session drives (authorize,
//! send down the chain, replay a copy when the policy says so).

use bytes::Bytes;
use reqwest_middleware::Next;
use tableau_auth_hyper::http::{self, HeaderMap, StatusCode};
use tableau_auth_hyper::proto::Grant;
use tableau_auth_hyper::relay::{Relay, Relayed};

use crate::Error;

/// Why a relayed request failed: the chain's own error (handed back as it came), or ours.
pub(crate) enum Failure {
    Stack(reqwest_middleware::Error),
    Ours(Error),
}

impl From<tableau_auth_hyper::Error> for Failure {
    fn from(e: tableau_auth_hyper::Error) -> Self {
        Self::Ours(Error::Auth(e))
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stack(e) => write!(f, "{e}"),
            Self::Ours(e) => write!(f, "{e}"),
        }
    }
}

/// The caller's request, the rest of the chain, and a copy for a replay.
pub(crate) struct Relaying<'a> {
    first: Option<reqwest::Request>,
    copy: Option<reqwest::Request>,
    extensions: &'a mut http::Extensions,
    next: Next<'a>,
    max_body: usize,
}

impl<'a> Relaying<'a> {
    pub(crate) fn new(
        request: reqwest::Request,
        extensions: &'a mut http::Extensions,
        next: Next<'a>,
        max_body: usize,
    ) -> Self {
        Self {
            first: Some(request),
            copy: None,
            extensions,
            next,
            max_body,
        }
    }
}

impl Relay for Relaying<'_> {
    type Request = reqwest::Request;
    type Reply = Passed;
    type Error = Failure;

    fn request(&mut self) -> Result<reqwest::Request, Failure> {
        match self.first.take() {
            Some(request) => {
                // Kept for a replay; a streaming body has none.
                self.copy = request.try_clone();
                Ok(request)
            }
            None => self
                .copy
                .as_ref()
                .and_then(reqwest::Request::try_clone)
                .ok_or(Failure::Ours(Error::NotReplayable)),
        }
    }

    fn authorize(
        &self,
        request: &mut reqwest::Request,
        grant: &Grant,
    ) -> Result<(), tableau_auth_hyper::Error> {
        // The headers are taken out (an empty map allocates nothing) so that the URL stays
        // borrowed while they are written: no copy of scheme or host on the hot path.
        let mut headers = std::mem::take(request.headers_mut());
        let url = request.url();
        let authorized = grant.authorize_headers(
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port(),
            &mut headers,
        );
        *request.headers_mut() = headers;
        Ok(authorized?)
    }

    async fn send(&mut self, request: reqwest::Request) -> Result<Passed, Failure> {
        let response = self
            .next
            .clone()
            .run(request, self.extensions)
            .await
            .map_err(Failure::Stack)?;
        Passed::read(response, self.max_body).await
    }
}

/// An answer down the chain, as it is handed back, and its body when the core needs it.
pub(crate) struct Passed {
    response: reqwest::Response,
    body: Option<Bytes>,
}

impl Passed {
    /// Reads the body (at most `max_body` bytes) only when the core needs it to decide
    /// ([`Grant::needs_body`]); the answer is then rebuilt from the bytes read.
    async fn read(mut response: reqwest::Response, max_body: usize) -> Result<Self, Failure> {
        if !Grant::needs_body(response.status()) {
            return Ok(Self {
                response,
                body: None,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Failure::Stack(e.into()))?
        {
            if body.len() + chunk.len() > max_body {
                return Err(Failure::Ours(Error::Auth(
                    tableau_auth_hyper::Error::Tableau(
                        tableau_auth_hyper::proto::Error::TooLarge { limit: max_body },
                    ),
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let body = Bytes::from(body);
        let mut rebuilt = http::Response::new(body.clone());
        *rebuilt.status_mut() = response.status();
        *rebuilt.version_mut() = response.version();
        *rebuilt.headers_mut() = response.headers().clone();
        Ok(Self {
            response: reqwest::Response::from(rebuilt),
            body: Some(body),
        })
    }

    pub(crate) fn into_response(self) -> reqwest::Response {
        self.response
    }
}

impl Relayed for Passed {
    fn status(&self) -> StatusCode {
        self.response.status()
    }

    fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }
}
