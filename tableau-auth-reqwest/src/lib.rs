//! # tableau-auth-reqwest
//!
//! Tableau Server and Tableau Cloud authentication as [`reqwest_middleware`] middleware: add
//! [`TableauAuthMiddleware`] to the reqwest client you already have, and every request for the
//! Tableau server carries the session's `X-Tableau-Auth` token.
//!
//! The session policy is not written here: it is tableau-auth's core
//! ([`tableau_auth_hyper::proto::Policy`]), driven through [`tableau_auth_hyper::Client`]'s
//! shared session (see [`tableau_auth_hyper::relay`]), so this middleware behaves exactly as the
//! other adapters:
//!
//! * only requests for the session's own server (scheme, host and port) are touched; any other
//!   passes through as it came, without a token;
//! * the first request signs in (single-flight, with the credentials given to the builder);
//! * the body of an answer is read only for a `401` (bounded), to tell `401002` (the session
//!   ended: one shared re-sign-in, one replay) from any other 401; a request whose body cannot
//!   be cloned (a stream) gets a typed error instead of a replay;
//! * `429`/`503` are waited out (`Retry-After`, one window for every caller) within the
//!   client's retry caps; the session is renewed before it expires;
//! * a failure the policy gives up on is handed back as the server's answer (a 401, the last
//!   429, a 500), except a session that stays rejected after the replay, which is an error;
//! * the session's own exchanges (sign-in, sign-out, …) go through your reqwest client too: its
//!   TLS trust and proxy apply;
//! * clones of the middleware (and of the `ClientWithMiddleware`) share one session; with the
//!   `redis` feature, so can processes ([`tableau_auth_hyper::ClientBuilder::session_store`]).
//!
//! ```no_run
//! use tableau_auth_reqwest::{Client, TableauAuthMiddleware, use_ring};
//! use tableau_auth_reqwest::proto::{Credentials, SignIn};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use_ring(); // reqwest with rustls, on the ring provider
//! let http = reqwest::Client::new();
//! let pat = Credentials::personal_access_token("etl", std::env::var("TABLEAU_PAT_SECRET")?);
//! let auth = TableauAuthMiddleware::new(
//!     Client::builder("https://tableau.example.com").sign_in(SignIn::new(pat, "Finance")),
//!     http.clone(),
//! )?;
//! let session = auth.client().clone();
//! let client = reqwest_middleware::ClientBuilder::new(http).with(auth).build();
//! let workbooks = client
//!     .get(session.site_url("workbooks")?.to_string())
//!     .send()
//!     .await?;
//! println!("{}", workbooks.status());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod exchange;
mod relaying;

use std::fmt;
use std::time::Duration;

use reqwest_middleware::{Middleware, Next};

pub use tableau_auth_hyper::{Client, ClientBuilder, SessionEvent, proto};
/// The reqwest and reqwest-middleware this crate is built with.
pub use {reqwest, reqwest_middleware};

use exchange::ReqwestExchanger;
use relaying::Relaying;

/// Installs *ring* as rustls's process-wide crypto provider, unless one is installed already.
/// reqwest is built here with rustls and no provider of its own (ring is tableau-auth's one
/// crypto backend): call this once before building a reqwest client.
pub fn use_ring() {
    // An error means a provider is installed already: that one serves.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What can go wrong in the middleware, inside the [`reqwest_middleware::Error::Middleware`]
/// it returns ([`Error::of`] finds it).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The session: signing in, a session that stays rejected, throttling beyond the caps, …
    Auth(tableau_auth_hyper::Error),
    /// The request had to be sent again (after a re-sign-in or a throttle window) but its body
    /// is a stream that cannot be cloned: buffer it (`Vec<u8>`, `Bytes`, `String`) to allow it.
    NotReplayable,
    /// A request or answer could not be converted between reqwest and `http`.
    Convert(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auth(e) => write!(f, "{e}"),
            Self::NotReplayable => f.write_str(
                "the request must be sent again (after a new sign-in or a throttle window), but its \
                 body is a stream that cannot be cloned; buffer the body to allow a replay",
            ),
            Self::Convert(what) => write!(f, "the request or answer could not be converted: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Auth(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    /// The middleware's error inside an error of the middleware chain, if it is one.
    pub fn of(error: &reqwest_middleware::Error) -> Option<&Self> {
        match error {
            reqwest_middleware::Error::Middleware(e) => e.downcast_ref(),
            reqwest_middleware::Error::Reqwest(_) => None,
        }
    }
}

/// The middleware: authorizes every request for the session's server with the shared session
/// of its [`Client`]. Cheap to clone; clones share the session.
#[derive(Clone, Debug)]
pub struct TableauAuthMiddleware {
    client: Client,
    max_body: usize,
}

impl TableauAuthMiddleware {
    /// The default limit on a `401` body read to classify it, and on the session's exchanges.
    pub const DEFAULT_MAX_BODY: usize = 1 << 20;
    /// The default limit on each of the session's own exchanges (sign-in, …) in all.
    pub const DEFAULT_EXCHANGE_TIMEOUT: Duration = Duration::from_secs(60);

    /// A middleware for the session `builder` describes (server, credentials, retries, events,
    /// a fleet's store, …), whose own exchanges go through `http` (the reqwest client the
    /// middleware is added to, so that its TLS trust and proxy apply). The builder's transport
    /// settings (CA, proxy, timeouts) are not used.
    pub fn new(builder: ClientBuilder, http: reqwest::Client) -> Result<Self, Error> {
        Self::with_limits(
            builder,
            http,
            Self::DEFAULT_MAX_BODY,
            Self::DEFAULT_EXCHANGE_TIMEOUT,
        )
    }

    /// [`TableauAuthMiddleware::new`] with other limits: the most bytes read of a body the
    /// session needs (a 401, a sign-in's answer) and the time each of the session's exchanges
    /// may take in all.
    pub fn with_limits(
        builder: ClientBuilder,
        http: reqwest::Client,
        max_body: usize,
        exchange_timeout: Duration,
    ) -> Result<Self, Error> {
        let client = builder
            .max_body(max_body)
            .exchanger(ReqwestExchanger::new(http, exchange_timeout))
            .build()
            .map_err(Error::Auth)?;
        Ok(Self { client, max_body })
    }

    /// The session's client: URLs ([`Client::site_url`]), sign-in and sign-out, the current
    /// session, events. Every clone shares the middleware's session.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait::async_trait]
impl Middleware for TableauAuthMiddleware {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let url = request.url();
        let ours = self
            .client
            .serves_parts(url.scheme(), url.host_str().unwrap_or(""), url.port());
        if !ours {
            return next.run(request, extensions).await;
        }
        let mut relaying = Relaying::new(request, extensions, next, self.max_body);
        match self.client.relay(&mut relaying).await {
            Ok(passed) => Ok(passed.into_response()),
            Err(relaying::Failure::Stack(e)) => Err(e),
            Err(relaying::Failure::Ours(e)) => Err(reqwest_middleware::Error::middleware(e)),
        }
    }
}

use tableau_auth_hyper::http;
