//! One session shared by many tasks: an async driver of the core's [`Policy`].
//!
//! Every decision about the session (signing in on first use, renewing before expiry, signing
//! in again once on `401002`, waiting out a throttled server, which error a call ends with, what
//! to report) is the core's. This module only moves what the policy asks for:
//!
//! * **A lock.** The [`Policy`] sits in a `std::sync::Mutex` that is only ever held for one
//!   synchronous call of the policy, never across an `.await`.
//! * **A lock-free view.** After every policy call, the policy's [`Snapshot`] is published again
//!   (when it changed) in an `ArcSwapOption`, under the same lock so that the view never goes
//!   back in time. A request loads it and asks it for a [`Grant`] (the core's fast path: one
//!   atomic load of the shared throttle window, the renewal deadline); only when there is none,
//!   or the answer does not complete the call, does the request go through the policy.
//! * **Notifications.** A call the policy parks ([`Action::Wait`]: another call runs the
//!   exchange it waits for) sleeps on a `tokio::sync::Notify`, registered before the policy is
//!   polled so that no wakeup is lost; every step that may let it go on (an answer fed to the
//!   policy, a transport failure, a cancelled or finished call) wakes the parked calls.
//! * **Timers.** [`Action::WaitUntil`] sleeps until the instant the core named.
//! * **Cancellation.** A call whose future is dropped is cancelled in the policy by a drop guard,
//!   which aborts an exchange it ran, so that the next call can run it.
//! * **Events** are drained from the policy under its lock, in order, and forwarded (to the
//!   callback and to `tracing`) outside of it, by one task at a time, in that order.

use std::collections::VecDeque;
use std::fmt;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http_body_util::Full;
use tableau_auth_proto::http::{Request, Response};
use tableau_auth_proto::lifecycle::{EventCallback, SessionEvent};
use tableau_auth_proto::{
    Action, Call, CallId, Grant, Inputs, Outcome, Policy, Session, Snapshot, StoreReply,
    StoreRequest,
};
use tokio::sync::Notify;

use crate::error::Error;
use crate::event::emit;
use crate::relay::{Exchanger, Relay, Relayed};
use crate::transport::Transport;

/// For calls without a request of the caller's (intents, [`Call::Ready`], [`Call::Renew`],
/// [`Call::Maintain`]): the policy never grants them one.
pub(crate) struct NoRequest;

impl Relay for NoRequest {
    type Request = Request<Full<Bytes>>;
    type Reply = Response<Vec<u8>>;
    type Error = Error;

    fn request(&mut self) -> Result<Request<Full<Bytes>>, Error> {
        Err(unexpected(&"a grant for a call without a request"))
    }

    fn authorize(&self, request: &mut Request<Full<Bytes>>, grant: &Grant) -> Result<(), Error> {
        Ok(grant.authorize(request)?)
    }

    async fn send(&mut self, _request: Request<Full<Bytes>>) -> Result<Self::Reply, Error> {
        Err(unexpected(&"a grant for a call without a request"))
    }
}

/// How a driven call ended well.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // moved once per call, on the rare paths
pub(crate) enum Finished<R> {
    /// The policy's outcome: an event, a session, nothing to do.
    Outcome(Outcome),
    /// The answer to the caller's own request.
    Answer(R),
}

impl<R> Finished<R> {
    pub(crate) fn outcome(self) -> Result<Outcome, Error> {
        match self {
            Self::Outcome(outcome) => Ok(outcome),
            Self::Answer(_) => Err(unexpected(&"an answer")),
        }
    }

    pub(crate) fn answer(self) -> Result<R, Error> {
        match self {
            Self::Answer(answer) => Ok(answer),
            Self::Outcome(outcome) => Err(unexpected(&outcome)),
        }
    }
}

/// An outcome that does not fit the call (the core and this adapter disagree).
pub(crate) fn unexpected(what: &dyn fmt::Debug) -> Error {
    Error::Transport(format!("unexpected outcome: {what:?}"))
}

/// The time on both clocks and fresh random bytes (a throttle window's jitter, a connected-app
/// JWT's ID: they must be unpredictable).
fn readings() -> Result<Inputs, Error> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|e| Error::Config(format!("no randomness: {e}")))?;
    Ok(Inputs::new(Instant::now(), SystemTime::now(), random))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The core never panics, so a poisoned lock only means a panicking callback: go on.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Events drained from the policy, waiting to be forwarded, and whether a task forwards them.
#[derive(Default)]
struct Outbox {
    events: VecDeque<SessionEvent>,
    busy: bool,
}

/// The state every clone of a [`crate::Client`] shares.
pub(crate) struct Shared {
    pub(crate) transport: Transport,
    policy: Mutex<Policy>,
    snapshot: ArcSwapOption<Snapshot>,
    /// Wakes the calls parked on [`Action::Wait`].
    pub(crate) progress: Arc<Notify>,
    /// Wakes the renewal task when a new snapshot is published.
    pub(crate) published: Arc<Notify>,
    outbox: Mutex<Outbox>,
    on_event: Option<EventCallback>,
    /// The fleet's session store, when the session is shared across processes.
    store: Option<Store>,
    /// Sends the session's exchanges instead of `transport` ([`crate::ClientBuilder::exchanger`]).
    exchanger: Option<Arc<dyn Exchanger>>,
}

#[cfg(feature = "redis")]
pub(crate) type Store = tableau_auth_redis::RedisStore;
/// Without the `redis` feature there is no store to configure.
#[cfg(not(feature = "redis"))]
pub(crate) type Store = std::convert::Infallible;

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("current", &self.snapshot.load())
            .finish_non_exhaustive()
    }
}

/// Cancels the call in the policy when dropped before it is done: its future was dropped, or it
/// returned early (the fast path's answer, an error of the adapter's).
struct Cancel<'a> {
    shared: &'a Shared,
    id: Option<CallId>,
}

impl Drop for Cancel<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            if let Some(release) = self.shared.with_policy(|p| p.cancel(id)) {
                self.shared.release_later(release);
            }
            self.shared.progress.notify_waiters();
        }
    }
}

impl Shared {
    pub(crate) fn new(
        policy: Policy,
        transport: Transport,
        on_event: Option<EventCallback>,
        store: Option<Store>,
        exchanger: Option<Arc<dyn Exchanger>>,
    ) -> Self {
        Self {
            transport,
            policy: Mutex::new(policy),
            snapshot: ArcSwapOption::empty(),
            progress: Arc::new(Notify::new()),
            published: Arc::new(Notify::new()),
            outbox: Mutex::new(Outbox::default()),
            on_event,
            store,
            exchanger,
        }
    }

    /// Runs the release of a fleet's lock that a dropped call held, on a task of its own (a
    /// drop cannot wait): the other processes need not wait out the lock's TTL. Without a
    /// runtime (it is shutting down), the lock is left to its TTL.
    fn release_later(&self, release: StoreRequest) {
        #[cfg(feature = "redis")]
        if let (Some(store), Ok(runtime)) =
            (self.store.clone(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                let _ = store.execute(&release).await;
            });
        }
        #[cfg(not(feature = "redis"))]
        let _ = release;
    }

    /// Runs one operation of the fleet's store; a failure as the message the policy keeps.
    async fn store(&self, request: &StoreRequest) -> Result<StoreReply, String> {
        match &self.store {
            #[cfg(feature = "redis")]
            Some(store) => store.execute(request).await.map_err(|e| e.to_string()),
            #[cfg(not(feature = "redis"))]
            Some(never) => match *never {},
            None => {
                let _ = request;
                Err("no session store is configured".to_owned())
            }
        }
    }

    /// The published session, without a lock.
    pub(crate) fn current(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.load_full()
    }

    /// Whether a URL with these parts goes to the published session's server; `None` before a
    /// session.
    pub(crate) fn serves_parts(&self, scheme: &str, host: &str, port: Option<u16>) -> Option<bool> {
        self.snapshot
            .load()
            .as_ref()
            .map(|s| s.origin().matches_parts(scheme, host, port))
    }

    /// The core's fast path: a grant to send one request now, without a lock.
    pub(crate) fn grant(&self) -> Option<Grant> {
        self.snapshot.load().as_ref()?.grant(Instant::now())
    }

    /// Runs `f` on the core session (read-only). A short lock: do not hold on to it.
    pub(crate) fn with_session<R>(&self, f: impl FnOnce(&Session) -> R) -> R {
        f(lock(&self.policy).session())
    }

    /// When the renewal timer has work ([`Policy::poll_timeout`]).
    pub(crate) fn renewal_due(&self) -> Option<Instant> {
        lock(&self.policy).poll_timeout()
    }

    /// One call of the policy under its lock; then the snapshot is published again if it
    /// changed (under the lock, so that it never goes back), and the events are forwarded
    /// (outside of it).
    fn with_policy<R>(&self, f: impl FnOnce(&mut Policy) -> R) -> R {
        let (result, published, queued) = {
            let mut policy = lock(&self.policy);
            let result = f(&mut policy);
            let fresh = policy.snapshot();
            let published = !match (self.snapshot.load().as_ref(), fresh) {
                (Some(old), Some(new)) => Arc::ptr_eq(old, new),
                (old, new) => old.is_none() && new.is_none(),
            };
            if published {
                self.snapshot.store(fresh.cloned());
            }
            let mut queued = false;
            while let Some(event) = policy.poll_event() {
                lock(&self.outbox).events.push_back(event);
                queued = true;
            }
            (result, published, queued)
        };
        if published {
            self.published.notify_waiters();
        }
        if queued {
            self.forward_events();
        }
        result
    }

    /// Forwards the queued events in their order, unless another task already does (it then
    /// forwards these too). A callback may use the client: nothing is locked while it runs.
    fn forward_events(&self) {
        /// Lets another task forward again if a callback panicked.
        struct Unwinding<'a>(Option<&'a Mutex<Outbox>>);
        impl Drop for Unwinding<'_> {
            fn drop(&mut self) {
                if let Some(outbox) = self.0 {
                    lock(outbox).busy = false;
                }
            }
        }
        {
            let mut outbox = lock(&self.outbox);
            if outbox.busy {
                return;
            }
            outbox.busy = true;
        }
        let mut unwinding = Unwinding(Some(&self.outbox));
        loop {
            let event = {
                let mut outbox = lock(&self.outbox);
                let Some(event) = outbox.events.pop_front() else {
                    // Under the same lock as the empty queue: an event queued later is
                    // forwarded by the task that queued it.
                    outbox.busy = false;
                    unwinding.0 = None;
                    return;
                };
                event
            };
            emit(self.on_event.as_ref(), &event);
        }
    }

    /// Feeds an answer to the caller's own request to the policy.
    fn reply<R: Relayed>(&self, id: CallId, grant: &Grant, reply: &R) -> Result<(), Error> {
        let inputs = readings()?;
        self.with_policy(|p| {
            p.handle_reply(
                id,
                grant,
                reply.status(),
                reply.headers(),
                reply.body(),
                inputs,
            );
        });
        self.progress.notify_waiters();
        Ok(())
    }

    /// Runs `call` to its end: sends what the policy asks for, the caller's own request
    /// (`own`) whenever it grants it, sleeps until the instants it names, and parks while
    /// another call runs the exchange this one waits for. `first` is an answer the caller
    /// already got on the fast path (with its grant), which the policy decides about first.
    pub(crate) async fn run<O: Relay>(
        &self,
        call: Call,
        own: &mut O,
        first: Option<(Grant, O::Reply)>,
    ) -> Result<Finished<O::Reply>, O::Error> {
        let id = self.begin(call);
        self.run_begun(id, own, first).await
    }

    /// Starts a call in the policy; [`Shared::run_begun`] runs it. Await that at once: a call
    /// begun and never run is never cancelled.
    pub(crate) fn begin(&self, call: Call) -> CallId {
        self.with_policy(|p| p.begin(call))
    }

    /// [`Shared::run`] for a call already begun (its id names a scope: [`Call::EndScope`]).
    pub(crate) async fn run_begun<O: Relay>(
        &self,
        id: CallId,
        own: &mut O,
        first: Option<(Grant, O::Reply)>,
    ) -> Result<Finished<O::Reply>, O::Error> {
        let mut guard = Cancel {
            shared: self,
            id: Some(id),
        };
        // The last answer to the caller's request, and the last transport failure: the policy
        // says which one ends the call.
        let mut last = None;
        let mut failure = None;
        if let Some((grant, reply)) = first {
            self.reply(id, &grant, &reply)?;
            last = Some(reply);
        }
        loop {
            let mut woken = pin!(self.progress.notified());
            woken.as_mut().enable();
            let inputs = readings()?;
            match self.with_policy(|p| p.poll(id, inputs)) {
                Action::Send(request) => {
                    let response = match &self.exchanger {
                        Some(exchanger) => exchanger
                            .exchange(request, self.transport.limits.max_body)
                            .await
                            .and_then(|response| {
                                crate::transport::check_head(response.headers())?;
                                Ok(response)
                            }),
                        None => self.transport.send(request).await,
                    };
                    let inputs = readings()?;
                    match response {
                        Ok(response) => {
                            self.with_policy(|p| p.handle_response(id, response, inputs));
                        }
                        Err(e) => {
                            self.with_policy(|p| p.transport_failed(id, &e.to_string()));
                            failure = Some(O::Error::from(e));
                        }
                    }
                    self.progress.notify_waiters();
                }
                Action::Authorize(grant) => {
                    let mut request = own.request()?;
                    own.authorize(&mut request, &grant)?;
                    match own.send(request).await {
                        Ok(reply) if grant.completes(reply.status()) => {
                            return Ok(Finished::Answer(reply));
                        }
                        Ok(reply) => {
                            self.reply(id, &grant, &reply)?;
                            last = Some(reply);
                        }
                        Err(e) => {
                            self.with_policy(|p| p.transport_failed(id, &e.to_string()));
                            self.progress.notify_waiters();
                            failure = Some(e);
                        }
                    }
                }
                Action::Store(request) => {
                    let reply = self.store(&request).await;
                    let inputs = readings()?;
                    match reply {
                        Ok(reply) => self.with_policy(|p| p.handle_store(id, reply, inputs)),
                        Err(e) => self.with_policy(|p| p.store_failed(id, &e, inputs)),
                    }
                    self.progress.notify_waiters();
                }
                Action::WaitUntil(at) => tokio::time::sleep_until(at.into()).await,
                Action::Wait => woken.await,
                Action::Done(outcome) => {
                    guard.id = None;
                    self.progress.notify_waiters();
                    return match outcome {
                        Outcome::Deliver => last
                            .map(Finished::Answer)
                            .ok_or_else(|| unexpected(&"no answer to deliver").into()),
                        Outcome::TransportError => {
                            Err(failure.unwrap_or_else(|| unexpected(&"no transport error").into()))
                        }
                        Outcome::Failed(e) => Err(Error::from(e).into()),
                        other => Ok(Finished::Outcome(other)),
                    };
                }
                _ => return Err(unexpected(&"an action this adapter does not know").into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use tableau_auth_proto::{ApiVersion, Credentials, Event, Intent, SignIn};

    use super::*;
    use crate::Client;

    const SIGNIN_XML: &str = r#"<tsResponse><credentials token="TOKEN-abcdef-123456">
<site id="a946d998-2ead-4894-bb50-1054a91dcab3" contentUrl=""/>
<user id="1a96d216-e9b8-497b-a82a-0b899a965e01"/></credentials></tsResponse>"#;

    #[test]
    fn the_snapshot_is_republished_and_a_callback_may_use_the_client() {
        let slot = Arc::new(OnceLock::<Client>::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (in_callback, recorded) = (slot.clone(), seen.clone());
        let client = Client::builder("https://tableau.example.com")
            .api_version(ApiVersion::new(3, 25))
            .on_event(move |event| {
                // The policy's lock is free while a callback runs.
                let client = in_callback.get().expect("the client");
                let busy = client.with_session(Session::is_busy);
                lock(&recorded).push((event.clone(), busy, client.generation()));
            })
            .build()
            .expect("client");
        slot.set(client.clone()).expect("once");
        let shared = client.shared();
        let sign_in = SignIn::new(Credentials::password("u", "p"), "");
        let id = shared.with_policy(|p| p.begin(Call::Intent(Intent::SignIn(sign_in))));
        let inputs = readings().expect("randomness");
        assert!(matches!(
            shared.with_policy(|p| p.poll(id, inputs)),
            Action::Send(_)
        ));
        assert!(client.current().is_none());
        let response = Response::new(SIGNIN_XML.as_bytes().to_vec());
        shared.with_policy(|p| p.handle_response(id, response, inputs));
        // Published by the same policy call, before the event was forwarded.
        assert_eq!(client.generation(), 1);
        assert_eq!(
            *lock(&seen),
            vec![(SessionEvent::SignedIn { generation: 1 }, false, 1)]
        );
        assert!(matches!(
            shared.with_policy(|p| p.poll(id, inputs)),
            Action::Done(Outcome::Event(Event::SignedIn(_)))
        ));
        let shown = format!("{client:?}");
        assert!(!shown.contains("TOKEN-abcdef"), "{shown}");
    }

    #[test]
    fn a_dropped_call_is_cancelled_in_the_policy() {
        let client = Client::builder("https://tableau.example.com")
            .api_version(ApiVersion::new(3, 25))
            .build()
            .expect("client");
        let shared = client.shared();
        let sign_in = SignIn::new(Credentials::password("u", "p"), "");
        let id = shared.with_policy(|p| p.begin(Call::Intent(Intent::SignIn(sign_in))));
        let inputs = readings().expect("randomness");
        assert!(matches!(
            shared.with_policy(|p| p.poll(id, inputs)),
            Action::Send(_)
        ));
        assert!(client.with_session(Session::is_busy));
        drop(Cancel {
            shared,
            id: Some(id),
        });
        assert!(
            !client.with_session(Session::is_busy),
            "the exchange was aborted"
        );
    }
}
