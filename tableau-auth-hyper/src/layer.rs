//! A tower `Layer`/`Service` pair that authorizes every request through a [`Client`]'s shared
//! session (feature `tower`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Either, Full, Limited};
use hyper::body::Body;
use tableau_auth_proto::Verdict;
use tableau_auth_proto::http::{Request, Response, StatusCode};
use tower::{Layer, Service};

use crate::shared::{Current, Shared, Trigger};
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

/// Authorizes each request with the shared session's token, re-authenticates once on `401002`.
///
/// For each `Request<Full<Bytes>>`:
///
/// 1. waits while the client is throttled (the window shared with [`Client::send`]);
/// 2. takes the session snapshot without a lock (signing in first when there is none and the
///    client has credentials, renewing first when it is about to expire — single-flight);
/// 3. refuses a request whose URI is not the session's server (scheme, host and port; so
///    absolute URIs only), with the core's `ForeignUrl` error — the check of
///    `Session::authorize_request`, done on the snapshot;
/// 4. adds `X-Tableau-Auth`, marked sensitive, and calls the inner service;
/// 5. on a 401, reads the body (bounded by the client's `max_body`) and asks the core what it
///    means: `401002` and kin → one single-flight re-authentication (by generation) and one
///    replay of the request (a `Full<Bytes>` body is cheap to clone); a second rejection is
///    [`Error::SessionEnded`]. Any other 401 is handed back with its body;
/// 6. on 429/503, opens the shared throttling window (`Retry-After`) so that other requests
///    wait, and hands the response back (retrying is left to the caller, e.g. tower's `Retry`);
/// 7. on 2xx, records the activity (the session's idle clock) with one atomic operation.
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
        // The common case, without waiting and without a boxed future: a live session that is
        // not due for renewal, and no throttling.
        let Some((current, sent_at)) = shared.ready_now() else {
            return ResponseFuture::slow(Box::pin(authorized_call(shared, inner, request)));
        };
        let (parts, body) = request.into_parts();
        let replay = Request::from_parts(parts.clone(), body.clone());
        let mut first = Request::from_parts(parts, body);
        if let Err(e) = current.authorize(&mut first) {
            return ResponseFuture::slow(Box::pin(std::future::ready(Err(e.into()))));
        }
        let ticket = shared.ticket();
        let future = inner.call(first);
        ResponseFuture {
            state: State::Calling {
                future,
                sent: Some(Sent {
                    shared,
                    inner,
                    replay,
                    current,
                    ticket,
                    sent_at,
                }),
            },
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a request in flight keeps for the rare paths (a failed response, a replay).
struct Sent<S> {
    shared: Arc<Shared>,
    inner: S,
    replay: Request<Full<Bytes>>,
    current: Arc<Current>,
    ticket: u64,
    sent_at: Instant,
}

pin_project_lite::pin_project! {
    /// The future of [`TableauAuth`]. In the common case (live session, 2xx) it only polls the
    /// inner service's future; the rare paths (waiting for a sign-in or a throttling window,
    /// reading and classifying a 401, re-authenticating and replaying) run in a boxed future.
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
                    if response.status().is_success() {
                        sent.shared
                            .touch_at(sent.current.generation(), sent.sent_at);
                        self.as_mut().project().state.set(State::Done);
                        return Poll::Ready(Ok(response.map(Either::Left)));
                    }
                    let Sent {
                        shared,
                        inner,
                        replay,
                        current,
                        ticket,
                        ..
                    } = sent;
                    let future = Box::pin(after_failure(
                        shared, inner, replay, current, ticket, response,
                    ));
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

/// The whole call, for when the session or the throttling window must be waited for first.
async fn authorized_call<S, B>(
    shared: Arc<Shared>,
    mut inner: S,
    request: Request<Full<Bytes>>,
) -> Result<Response<ResponseBody<B>>, BoxError>
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    shared.wait_throttle().await;
    let current = shared.ready().await?;
    let (parts, body) = request.into_parts();
    let mut first = Request::from_parts(parts.clone(), body.clone());
    current.authorize(&mut first)?;
    let ticket = shared.ticket();
    let sent_at = Instant::now();
    let response = inner.call(first).await.map_err(Into::into)?;
    if response.status().is_success() {
        shared.touch_at(current.generation(), sent_at);
        return Ok(response.map(Either::Left));
    }
    after_failure(
        shared,
        inner,
        Request::from_parts(parts, body),
        current,
        ticket,
        response,
    )
    .await
}

/// A non-2xx response: throttling is recorded, a 401 is read and classified, and a rejected
/// session is replaced once (single-flight) and the request replayed once.
async fn after_failure<S, B>(
    shared: Arc<Shared>,
    mut inner: S,
    request: Request<Full<Bytes>>,
    current: Arc<Current>,
    ticket: u64,
    response: Response<B>,
) -> Result<Response<ResponseBody<B>>, BoxError>
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let at = match inspect(&shared, &current, response).await? {
        Inspected::Done(response) => return Ok(response),
        Inspected::Rejected(source, at) if !shared.can_reauthenticate() => {
            let reason = shared.note_end(&current, at);
            return Err(Box::new(Error::SessionEnded { reason, source }));
        }
        Inspected::Rejected(_, at) => at,
    };
    // Rejected on this generation: one single-flight re-authentication, one replay.
    let fresh = shared
        .reauthenticate(current.generation(), ticket, Trigger::Rejected { at })
        .await?;
    let mut replay = request;
    fresh.authorize(&mut replay)?;
    std::future::poll_fn(|cx| inner.poll_ready(cx))
        .await
        .map_err(Into::into)?;
    let response = inner.call(replay).await.map_err(Into::into)?;
    match inspect(&shared, &fresh, response).await? {
        Inspected::Done(response) => Ok(response),
        Inspected::Rejected(source, at) => {
            // Never a loop: the replay was rejected too.
            let reason = shared.note_end(&fresh, at);
            Err(Box::new(Error::SessionEnded { reason, source }))
        }
    }
}

enum Inspected<B> {
    /// Hand this back to the caller.
    Done(Response<ResponseBody<B>>),
    /// The session was rejected (`401002` and kin) at this instant.
    Rejected(tableau_auth_proto::Error, Instant),
}

/// Records activity or throttling, and reads and classifies a 401.
async fn inspect<B>(
    shared: &Shared,
    sent: &Current,
    response: Response<B>,
) -> Result<Inspected<B>, BoxError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let status = response.status();
    if status.is_success() {
        shared.touch(sent.generation());
        return Ok(Inspected::Done(response.map(Either::Left)));
    }
    if status != StatusCode::UNAUTHORIZED {
        shared.throttle_response(status, response.headers());
        return Ok(Inspected::Done(response.map(Either::Left)));
    }
    let at = Instant::now();
    let limits = shared.transport.limits;
    let (parts, body) = response.into_parts();
    let bytes = Limited::new(body, limits.max_body)
        .collect()
        .await
        .map_err(|e| Error::from_body(&*e, &limits))?
        .to_bytes();
    let response = Response::from_parts(parts, bytes);
    Ok(match shared.classify(&response, sent) {
        Verdict::Reauthenticate(e) => Inspected::Rejected(e, at),
        _ => Inspected::Done(response.map(|b| Either::Right(Full::new(b)))),
    })
}
