//! A tower `Layer`/`Service` pair that authorizes every request through a [`Client`]'s shared
//! session (feature `tower`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Either, Full, Limited};
use hyper::body::Body;
use tableau_auth_proto::http::request::Parts;
use tableau_auth_proto::http::{HeaderMap, Request, Response, StatusCode};
use tableau_auth_proto::{Call, Grant};
use tower::{Layer, Service};

use crate::error::Limits;
use crate::relay::{Relay, Relayed};
use crate::shared::Shared;
use crate::{Client, Error};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of a [`TableauAuth`] response: the inner service's body as it came (`Left`), or,
/// for a 401 that had to be read to be classified and is handed back, that body (`Right`).
pub type ResponseBody<B> = Either<B, Full<Bytes>>;

/// Applies [`TableauAuth`] to a service; holds a clone of the [`Client`] whose session it uses.
#[derive(Clone, Debug)]
pub struct TableauAuthLayer {
    client: Client,
}

impl TableauAuthLayer {
    /// A layer that authorizes with `client`'s session (shared with every clone of it).
    pub fn new(client: &Client) -> Self {
        Self {
            client: client.clone(),
        }
    }
}

impl<S> Layer<S> for TableauAuthLayer {
    type Service = TableauAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TableauAuth::new(inner, &self.client)
    }
}

/// Authorizes each request with the shared session's token; the core's session policy decides
/// everything else.
///
/// For each `Request<Full<Bytes>>`:
///
/// 1. **The fast path**, without a lock or a boxed future: the published session snapshot
///    grants the request (a session, no throttling, no renewal due). The layer refuses a
///    request whose URI is not the session's server (scheme, host and port; so absolute URIs
///    only) with the core's `ForeignUrl` error, adds `X-Tableau-Auth` (marked sensitive), and
///    calls the inner service; a 2xx answer is handed back as it came (its use recorded with
///    one atomic operation).
/// 2. Otherwise the call goes through the core's [`tableau_auth_proto::Policy`] as a
///    [`Call::Forward`], which may sign in first (the client's credentials, single-flight),
///    renew first when the session is about to expire, wait while the server throttles (one
///    window shared with [`Client::send`] and every other call), and decides about a non-2xx
///    answer. A `401` is read (bounded by the client's `max_body`) so that the core can tell
///    `401002` (the session ended: one single-flight re-authentication, one replay of the
///    request — a `Full<Bytes>` body is cheap to clone) from any other 401; other bodies are
///    never read. A 429/503 is waited out and retried within the client's
///    [`crate::ClientBuilder::retries`].
/// 3. A failure the policy gives up on is handed back as the server's answer (a 401 with the
///    body that was read, the last 429, a 500, …), except a session that stays rejected after
///    the replay, which is the core's [`tableau_auth_proto::Error::SessionEnded`].
///
/// Errors are boxed (`tower`'s convention): the inner service's, or an [`Error`].
pub struct TableauAuth<S> {
    inner: S,
    client: Client,
}

impl<S: Clone> Clone for TableauAuth<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            client: self.client.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for TableauAuth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableauAuth")
            .field("inner", &self.inner)
            .field("current", &self.client.current())
            .finish()
    }
}

impl<S> TableauAuth<S> {
    /// Wraps `inner`, authorizing with `client`'s session.
    pub fn new(inner: S, client: &Client) -> Self {
        Self {
            inner,
            client: client.clone(),
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The client whose session authorizes the requests.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl<S, B> Service<Request<Full<Bytes>>> for TableauAuth<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody<B>>;
    type Error = BoxError;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<Full<Bytes>>) -> Self::Future {
        // The service that was polled ready goes into the future; a clone stays for the next
        // call (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.client.shared().clone();
        // The common case, without waiting and without a boxed future: the core's fast path.
        let Some(grant) = shared.grant() else {
            return ResponseFuture::slow(Box::pin(forward(shared, inner, request, None)));
        };
        let (parts, body) = request.into_parts();
        let replay = Request::from_parts(parts.clone(), body.clone());
        let mut first = Request::from_parts(parts, body);
        if let Err(e) = grant.authorize(&mut first) {
            let error: BoxError = Box::new(Error::from(e));
            return ResponseFuture::slow(Box::pin(std::future::ready(Err(error))));
        }
        let future = inner.call(first);
        ResponseFuture {
            state: State::Calling {
                future,
                sent: Some(Sent {
                    shared,
                    inner,
                    replay,
                    grant,
                }),
            },
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a request in flight on the fast path keeps for the rare paths (an answer the policy
/// must decide about, a replay).
struct Sent<S> {
    shared: Arc<Shared>,
    inner: S,
    replay: Request<Full<Bytes>>,
    grant: Grant,
}

pin_project_lite::pin_project! {
    /// The future of [`TableauAuth`]. In the common case (the fast path's grant, a 2xx) it only
    /// polls the inner service's future; the rare paths (the session policy: signing in,
    /// waiting, reading a 401, replaying) run in a boxed future.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    {
        Calling {
            #[pin]
            future: S::Future,
            sent: Option<Sent<S>>,
        },
        Slow {
            future: BoxFuture<Result<Response<ResponseBody<B>>, BoxError>>,
        },
        Done,
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
{
    fn slow(future: BoxFuture<Result<Response<ResponseBody<B>>, BoxError>>) -> Self {
        Self {
            state: State::Slow { future },
        }
    }
}

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl<S, B> Future for ResponseFuture<S, B>
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody<B>>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let this = self.as_mut().project();
            match this.state.project() {
                StateProj::Calling { future, sent } => {
                    let result = match future.poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(result) => result,
                    };
                    let Some(sent) = sent.take() else {
                        return Poll::Ready(Err("polled after completion".into()));
                    };
                    let response = match result {
                        Ok(response) => response,
                        Err(e) => {
                            self.as_mut().project().state.set(State::Done);
                            return Poll::Ready(Err(e.into()));
                        }
                    };
                    if sent.grant.completes(response.status()) {
                        self.as_mut().project().state.set(State::Done);
                        return Poll::Ready(Ok(response.map(Either::Left)));
                    }
                    let Sent {
                        shared,
                        inner,
                        replay,
                        grant,
                    } = sent;
                    let future = Box::pin(forward(shared, inner, replay, Some((grant, response))));
                    self.as_mut().project().state.set(State::Slow { future });
                }
                StateProj::Slow { future } => {
                    let output = match future.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(output) => output,
                    };
                    self.as_mut().project().state.set(State::Done);
                    return Poll::Ready(output);
                }
                StateProj::Done => return Poll::Ready(Err("polled after completion".into())),
            }
        }
    }
}

/// The call through the core's policy ([`Call::Forward`]), after the fast path's `first`
/// answer when there was one.
async fn forward<S, B>(
    shared: Arc<Shared>,
    inner: S,
    request: Request<Full<Bytes>>,
    first: Option<(Grant, Response<B>)>,
) -> Result<Response<ResponseBody<B>>, BoxError>
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>> + Send,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send,
    B::Error: Into<BoxError>,
{
    let limits = shared.transport.limits;
    let (parts, body) = request.into_parts();
    let mut own = Forwarding {
        inner,
        parts,
        body,
        // The caller polled the service ready for this call; it was not used yet unless the
        // fast path sent with it.
        ready: first.is_none(),
        limits,
    };
    let first = match first {
        Some((grant, response)) => Some((grant, passed(response, &limits).await?)),
        None => None,
    };
    let answer = shared.run(Call::Forward, &mut own, first).await?.answer()?;
    Ok(answer.response)
}

/// The caller's request through the inner service.
struct Forwarding<S> {
    inner: S,
    parts: Parts,
    body: Full<Bytes>,
    /// Whether the inner service is ready for a call.
    ready: bool,
    limits: Limits,
}

impl<S, B> Relay for Forwarding<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>> + Send,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send,
    B::Error: Into<BoxError>,
{
    type Request = Request<Full<Bytes>>;
    type Reply = Passed<B>;
    type Error = BoxError;

    fn request(&mut self) -> Result<Request<Full<Bytes>>, BoxError> {
        Ok(Request::from_parts(self.parts.clone(), self.body.clone()))
    }

    fn authorize(&self, request: &mut Request<Full<Bytes>>, grant: &Grant) -> Result<(), Error> {
        Ok(grant.authorize(request)?)
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Passed<B>, BoxError> {
        if !self.ready {
            std::future::poll_fn(|cx| self.inner.poll_ready(cx))
                .await
                .map_err(Into::into)?;
        }
        self.ready = false;
        let response = self.inner.call(request).await.map_err(Into::into)?;
        passed(response, &self.limits).await
    }
}

/// An answer of the inner service, as it is handed back, and its body when the core needs it.
struct Passed<B> {
    response: Response<ResponseBody<B>>,
    body: Option<Bytes>,
}

impl<B> Relayed for Passed<B> {
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

/// Reads the body (bounded by `max_body`) only when the core needs it to decide
/// ([`Grant::needs_body`]); then it is handed back from the bytes read.
async fn passed<B>(response: Response<B>, limits: &Limits) -> Result<Passed<B>, BoxError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    if !Grant::needs_body(response.status()) {
        return Ok(Passed {
            response: response.map(Either::Left),
            body: None,
        });
    }
    let (parts, body) = response.into_parts();
    let bytes = Limited::new(body, limits.max_body)
        .collect()
        .await
        .map_err(|e| Error::from_body(&*e, limits))?
        .to_bytes();
    Ok(Passed {
        response: Response::from_parts(parts, Either::Right(Full::new(bytes.clone()))),
        body: Some(bytes),
    })
}
