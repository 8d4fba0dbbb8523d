//! Plugging another HTTP stack into a [`Client`](crate::Client)'s shared session: a middleware
//! of that stack relays each caller's request through [`Client::relay`](crate::Client::relay)
//! ([`Relay`]), and the session's own exchanges (sign-in, sign-out, …) can go through that
//! stack too ([`Exchanger`], [`ClientBuilder::exchanger`](crate::ClientBuilder::exchanger)).
//!
//! The session policy stays the core's: the relay only sends what it is told to send, as the
//! tower layer does. `tableau-auth-reqwest` is built on this.

use std::future::Future;
use std::pin::Pin;

use tableau_auth_proto::Grant;
use tableau_auth_proto::http::{HeaderMap, Request, Response, StatusCode};

use crate::Error;

/// A caller's request passing through a middleware: the client authorizes it and has it sent
/// (again, after a re-authentication or a throttle window) whenever the session policy grants
/// it.
pub trait Relay: Send {
    /// A request of the stack.
    type Request: Send;
    /// An answer, as the caller gets it back.
    type Reply: Relayed + Send;
    /// The caller's error: the stack's, or the client's ([`Error`]).
    type Error: From<Error> + std::fmt::Display + Send;

    /// The request to authorize and send: the caller's on the first call, a copy of it on a
    /// replay. A request that cannot be sent again (a streaming body) answers an error then.
    fn request(&mut self) -> Result<Self::Request, Self::Error>;

    /// Adds the session's token with `grant`: [`Grant::authorize`] for an `http::Request`,
    /// [`Grant::authorize_headers`] for a stack of its own (both refuse another server).
    fn authorize(&self, request: &mut Self::Request, grant: &Grant) -> Result<(), Error>;

    /// Sends one authorized request.
    fn send(
        &mut self,
        request: Self::Request,
    ) -> impl Future<Output = Result<Self::Reply, Self::Error>> + Send;
}

/// What the session policy reads of an answer to a relayed request.
pub trait Relayed {
    /// The status.
    fn status(&self) -> StatusCode;
    /// The headers (`Retry-After`).
    fn headers(&self) -> &HeaderMap;
    /// The body, read (bounded) when [`tableau_auth_proto::Grant::needs_body`] says the
    /// policy needs it to decide (a 401: `401002` or another code); `None` otherwise.
    fn body(&self) -> Option<&[u8]>;
}

impl Relayed for Response<Vec<u8>> {
    fn status(&self) -> StatusCode {
        self.status()
    }

    fn headers(&self) -> &HeaderMap {
        self.headers()
    }

    fn body(&self) -> Option<&[u8]> {
        Some(self.body().as_slice())
    }
}

/// A boxed future of an [`Exchanger`].
pub type ExchangeFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response<Vec<u8>>, Error>> + Send + 'a>>;

/// Sends the session's own exchanges (sign-in, sign-out, switch site, version probe, …)
/// instead of the client's hyper transport, e.g. over the caller's own HTTP client, with its
/// TLS trust and proxy.
pub trait Exchanger: Send + Sync + 'static {
    /// Sends `request` and reads the whole answer, at most `max_body` bytes of body (more is
    /// the core's `TooLarge` error); bounded in time.
    fn exchange(&self, request: Request<Vec<u8>>, max_body: usize) -> ExchangeFuture<'_>;
}
