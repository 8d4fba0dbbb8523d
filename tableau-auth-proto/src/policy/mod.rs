//! The session policy: every decision about a session that outlives one exchange.

mod fleet;
mod snapshot;
mod throttle;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::{HeaderMap, Request, Response, StatusCode};
use secrecy::ExposeSecret as _;

use crate::config::Config;
use crate::error::{Error, Misuse};
use crate::event::{Event, SignOut};
use crate::expiry::Ended;
use crate::fleet::{FleetConfig, StoreRequest};
use crate::intent::{Intent, SignIn};
use crate::lifecycle::{RenewReason, SessionEvent};
use crate::response::Verdict;
use crate::secret::Redactor;
use crate::session::{Session, Step};

use fleet::{Fleet, FleetStep, Phase};
use snapshot::Pulse;
pub use snapshot::{Grant, Snapshot};
use throttle::{Budget, Decision};

/// What a driver supplies with every step: the time on both clocks, and fresh random bytes
/// (for the jitter of a throttle window and the ID of a connected-app JWT).
#[derive(Clone, Copy)]
pub struct Inputs {
    /// The monotonic clock.
    pub now: Instant,
    /// The wall clock (JWT claims, `Retry-After` dates).
    pub wall: SystemTime,
    /// 16 bytes from a CSPRNG (a test may pass fixed ones).
    pub random: [u8; 16],
}

impl Inputs {
    /// Inputs from these readings.
    pub fn new(now: Instant, wall: SystemTime, random: [u8; 16]) -> Self {
        Self { now, wall, random }
    }
}

impl fmt::Debug for Inputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inputs")
            .field("now", &self.now)
            .field("wall", &self.wall)
            .finish_non_exhaustive()
    }
}

/// One caller's call, from [`Policy::begin`] to [`Action::Done`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(u64);

/// What a caller wants of the session.
#[derive(Debug)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // moved once, into `begin`
pub enum Call {
    /// One exchange of the session. A [`Intent::SignIn`] signs out a session held before, and
    /// keeps its credentials for later sign-ins; [`Intent::SwitchSite`],
    /// [`Intent::CurrentSession`] and [`Intent::RevokeServerAdminTokens`] are kept alive like
    /// [`Call::Request`]s.
    Intent(Intent),
    /// The caller's own request, authorized with the session's token: signed in first when
    /// there is no session (with the kept credentials) or it is due for renewal, signed in
    /// again once and replayed once when the server rejects it, retried after a throttle. Any
    /// other failure ends the call with a typed error.
    Request,
    /// A request passing through a middleware: like [`Call::Request`], but a failure is
    /// delivered as the server's answer ([`Outcome::Deliver`]), except a session that stays
    /// rejected ([`Error::SessionEnded`]).
    Forward,
    /// A live session to use: signs in or renews first when needed.
    Ready,
    /// A new sign-in with the kept credentials, unless another one happened since the call
    /// began (the caller asked for a new session).
    Renew,
    /// The renewal timer: renews the session if it is due ([`Policy::poll_timeout`]).
    Maintain,
    /// Ends a fleet's shared session for every process ([`Policy::set_fleet`]): signs it out and
    /// retires the store's record, so that the next use anywhere signs in anew. Without a fleet,
    /// the same as [`Intent::SignOut`].
    Retire,
    /// The end of a scope begun by the [`Intent::SignIn`] call `id` (a guard dropped, a `with`
    /// block left): signs out like [`Intent::SignOut`] when the session is still the one that
    /// call signed in (renewals, re-sign-ins and site switches since included). When the client
    /// signed in anew since, that newer session is left alone ([`SignOut::Replaced`]); when it
    /// signed out, [`SignOut::NotSignedIn`]. Nothing is sent in either case, so that a scope's
    /// late sign-out can never end the session of the code that came after it.
    EndScope(CallId),
}

/// What the driver does next for a call.
#[non_exhaustive]
pub enum Action {
    /// Send this request and give the answer to [`Policy::handle_response`] (or a transport
    /// failure to [`Policy::transport_failed`]).
    Send(Request<Vec<u8>>),
    /// Send the caller's own request, authorized with this grant, and give the answer to
    /// [`Policy::handle_reply`] unless [`Grant::completes`] says it is final.
    Authorize(Grant),
    /// Run this operation on the fleet's session store and give its answer to
    /// [`Policy::handle_store`] (or a failure to [`Policy::store_failed`]).
    Store(StoreRequest),
    /// Poll again at this instant (a throttle window, or a pause while another process signs in).
    WaitUntil(Instant),
    /// Another call of this policy runs the exchange this one waits for: poll again once it
    /// made progress (after its next `handle_*`, `transport_failed` or `cancel`).
    Wait,
    /// The call is over.
    Done(Outcome),
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Send(r) => crate::session::debug_send(f, r),
            Self::Authorize(grant) => f.debug_tuple("Authorize").field(grant).finish(),
            Self::Store(request) => f.debug_tuple("Store").field(&request.op).finish(),
            Self::WaitUntil(at) => f.debug_tuple("WaitUntil").field(at).finish(),
            Self::Wait => f.write_str("Wait"),
            Self::Done(outcome) => f.debug_tuple("Done").field(outcome).finish(),
        }
    }
}

/// How a call ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The intent's event.
    Event(Event),
    /// The live session ([`Call::Ready`], [`Call::Renew`]).
    Ready(Arc<Snapshot>),
    /// Nothing was due ([`Call::Maintain`]).
    Idle,
    /// The last answer to the caller's own request is the call's answer.
    Deliver,
    /// The call failed.
    Failed(Error),
    /// End the call with the transport error the driver reported.
    TransportError,
}

#[derive(Debug)]
enum Kind {
    Intent(Box<Intent>),
    Request,
    Forward,
    Ready,
    Renew { seen: u64 },
    Maintain,
}

/// Why a call runs an exchange of the session.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    /// A sign-in with the kept credentials: the first (`None`) or a renewal.
    SignIn(Option<RenewReason>),
    /// The sign-out of the old session before an explicit sign-in.
    SignOutFirst,
    /// The call's own intent.
    Intent,
}

#[derive(Debug, Clone, Copy)]
struct Running {
    purpose: Purpose,
    /// The sign-in attempt's number, or the attempt count when the exchange started.
    attempt: u64,
    generation: u64,
    sent_at: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Rejection {
    generation: u64,
    ticket: u64,
    reason: Ended,
}

#[derive(Debug)]
struct CallState {
    kind: Kind,
    budget: Budget,
    /// The attempt count when the call began.
    ticket: u64,
    outbox: Option<Request<Vec<u8>>>,
    running: Option<Running>,
    done: Option<Outcome>,
    rejected: Option<Rejection>,
    replayed: bool,
    renewal_tried: bool,
    signed_out_first: bool,
    /// A sign-out that retires the fleet's record ([`Call::Retire`]).
    retire: bool,
    /// A sign-out only of the session this sign-in call began ([`Call::EndScope`]).
    scope: Option<CallId>,
    /// Where the call is in the fleet's procedure.
    fleet: Option<FleetStep>,
    store_outbox: Option<StoreRequest>,
    store_pending: bool,
}

/// The session a call may use, or what it does first (`Then(None)`: decide again).
#[allow(clippy::large_enum_variant)] // a return value, never stored
enum Live {
    Use(Arc<Snapshot>),
    Then(Option<Action>),
}

/// The most steps one `poll` takes before it returns (each is a decision that needs no IO).
const MAX_STEPS: usize = 16;

/// The session policy for any number of concurrent calls: every decision about a session
/// that outlives one exchange, made once, here, for every driver.
///
/// A [`Session`] runs one exchange at a time. A [`Policy`] owns a session and the rules around
/// it, for any number of concurrent *calls*:
///
/// * **throttling**: a `429`/`503` on any exchange (sign-in, sign-out, switch site, server
///   info, tickets, the caller's own requests) opens one window for the whole session, of the
///   server's `Retry-After` (seconds or a date) or a default delay, plus jitter from the
///   caller's random bytes; every call waits for it, and each call's retries and total wait are
///   capped ([`crate::ConfigBuilder::retries`]; beyond: [`Error::Throttled`]);
/// * **re-authentication**: a rejected session (`401002` and kin) is signed in again at most
///   once per generation, whatever the number of calls rejected with it; each call replays
///   once, and a second rejection is [`Error::SessionEnded`] (superseded or expired); a failed
///   sign-in answers every call that was waiting for it ([`Error::SignInFailed`]);
/// * **renewal** shortly before the session's estimated end, paused for a while after a
///   failure (the old token is still used meanwhile); a session that was already due when it
///   was signed in (credentials about to expire) is not renewed on every call;
/// * **sign-out before a new sign-in**, the site kept across re-sign-ins after a switch, a
///   fresh JWT for every connected-app sign-in;
/// * **scopes**: the end of a scope ([`Call::EndScope`]: a guard, a `with` block) signs out
///   only the session its own sign-in began, never one signed in after it;
/// * **events** in one vocabulary ([`SessionEvent`], [`Policy::poll_event`]), a warning among
///   them when a sign-in's credentials are about to expire.
///
/// ## Driving it
///
/// A driver [`Policy::begin`]s a [`Call`], then loops on [`Policy::poll`] until
/// [`Action::Done`]: it sends what [`Action::Send`] gives (and feeds the answer to
/// [`Policy::handle_response`]), sends its own request with the [`Grant`] of
/// [`Action::Authorize`] (and feeds the answer to [`Policy::handle_reply`]), sleeps until the
/// instant of [`Action::WaitUntil`], and parks on [`Action::Wait`] until another call of the same
/// policy made progress. Every input carries the time and fresh random bytes ([`Inputs`]).
///
/// ```
/// use std::time::{Instant, SystemTime};
/// use tableau_auth_proto::{
///     Action, ApiVersion, Call, Config, Credentials, Inputs, Outcome, Policy, SignIn, http,
/// };
///
/// let config = Config::builder("https://tableau.example.com")
///     .api_version(ApiVersion::new(3, 25))
///     .build()?;
/// let mut policy = Policy::new(config, Instant::now());
/// policy.set_credentials(Some(SignIn::new(
///     Credentials::personal_access_token("etl", "s3cret-pat-value"),
///     "Finance",
/// )));
/// // The server: a canned sign-in, then a workbooks listing.
/// let sign_in = br#"<tsResponse><credentials token="Qm7s2fVbX0kLr9Tq4nWc8yHa1JdEe5Pu">
///     <site id="6b7179ba-b82b-4f0f-91ed-812074ac5da6" contentUrl="Finance"/>
///     <user id="1a96d216-e9b8-497b-a82a-0b899a965e01"/></credentials></tsResponse>"#;
/// let inputs = || Inputs::new(Instant::now(), SystemTime::now(), [7; 16]);
///
/// let call = policy.begin(Call::Request);
/// let answer = loop {
///     match policy.poll(call, inputs()) {
///         Action::Send(request) => {
///             assert!(request.uri().path().ends_with("/auth/signin"));
///             policy.handle_response(call, http::Response::new(sign_in.to_vec()), inputs());
///         }
///         Action::Authorize(grant) => {
///             let mut mine = http::Request::get(grant.snapshot().site_url("workbooks")?).body(())?;
///             grant.authorize(&mut mine)?;
///             let reply = http::Response::new(b"<tsResponse/>".to_vec());
///             if grant.completes(reply.status()) {
///                 break reply; // the fast path: nothing more to decide
///             }
///             policy.handle_reply(call, &grant, reply.status(), reply.headers(), Some(reply.body()), inputs());
///         }
///         Action::WaitUntil(at) => std::thread::sleep(at.saturating_duration_since(Instant::now())),
///         Action::Wait => unreachable!("one caller never waits for another"),
///         Action::Done(Outcome::Failed(e)) => return Err(e.into()),
///         Action::Done(other) => panic!("{other:?}"),
///         _ => unreachable!(),
///     }
/// };
/// assert_eq!(answer.status(), 200);
/// assert_eq!(policy.generation(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Policy {
    session: Session,
    sign_in: Option<SignIn>,
    generation: u64,
    published: Option<Arc<Snapshot>>,
    pulse: Arc<Pulse>,
    calls: BTreeMap<CallId, CallState>,
    next_call: u64,
    owner: Option<CallId>,
    /// The explicit sign-in call whose session this is ([`Call::EndScope`]); renewals,
    /// re-sign-ins and site switches keep it.
    scope: Option<CallId>,
    last_failure: Option<(u64, Error)>,
    ended_reported: u64,
    events: VecDeque<SessionEvent>,
    fleet: Option<Fleet>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("session", &self.session)
            .field("generation", &self.generation)
            .field("has_credentials", &self.sign_in.is_some())
            .field("calls", &self.calls.len())
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// A policy with nothing signed in; `now` is the origin of its shared clocks.
    pub fn new(config: Config, now: Instant) -> Self {
        Self {
            session: Session::new(config),
            sign_in: None,
            generation: 0,
            published: None,
            pulse: Arc::new(Pulse::new(now)),
            calls: BTreeMap::new(),
            next_call: 0,
            owner: None,
            scope: None,
            last_failure: None,
            ended_reported: 0,
            events: VecDeque::new(),
            fleet: None,
        }
    }

    /// Keeps these credentials for sign-ins the policy makes on its own (the first use, a
    /// renewal, a re-authentication). An explicit [`Intent::SignIn`] replaces them.
    pub fn set_credentials(&mut self, sign_in: Option<SignIn>) {
        self.sign_in = sign_in;
        self.last_failure = None;
        self.rescope();
    }

    /// Shares the session with the other processes of a fleet through a store (or stops
    /// sharing, with `None`): from now on a call that needs a new session asks the store first
    /// ([`Action::Store`]), adopts a session another process published, and publishes its own
    /// sign-ins; the idle limit is left to the server (a lapsed session is signed in again on
    /// its `401002`), and [`Intent::SignOut`] leaves the session signed in for the others
    /// ([`crate::SignOut::LeftToFleet`]; [`Call::Retire`] ends it).
    pub fn set_fleet(&mut self, config: Option<FleetConfig>) {
        self.session.set_shared(config.is_some());
        self.fleet = config.map(Fleet::new);
        self.rescope();
    }

    /// Whether the session is shared with a fleet ([`Policy::set_fleet`]).
    pub fn is_shared(&self) -> bool {
        self.fleet.is_some()
    }

    /// Keeps an explicit sign-in's credentials for a fleet; a session held for other
    /// credentials (another fleet) is forgotten, not signed out.
    fn keep_for_fleet(&mut self, sign_in: SignIn) {
        let origin = self.session.config().base.to_string().to_ascii_lowercase();
        let same = self.sign_in.as_ref().is_some_and(|kept| {
            crate::fleet::FleetScope::new(&origin, kept).identity()
                == crate::fleet::FleetScope::new(&origin, &sign_in).identity()
        });
        if !same {
            self.session.forget();
            self.published = None;
            if let Some(fleet) = &mut self.fleet {
                fleet.forget();
            }
            self.last_failure = None;
        }
        self.sign_in = Some(sign_in);
        self.rescope();
    }

    fn rescope(&mut self) {
        if let Some(fleet) = &mut self.fleet {
            let origin = self.session.config().base.to_string().to_ascii_lowercase();
            fleet.set_scope(&origin, self.sign_in.as_ref());
        }
    }

    /// Whether credentials are kept.
    pub fn has_credentials(&self) -> bool {
        self.sign_in.is_some()
    }

    /// The session (URLs, version, token), read-only: the policy runs its exchanges.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The generation of the session: how many sign-ins (renewals and site switches
    /// included) this policy made; 0 before the first.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The live session, for authorizing requests without the policy ([`Snapshot::grant`]).
    /// A driver that shares it publishes it again after each `handle_*` call.
    pub fn snapshot(&self) -> Option<&Arc<Snapshot>> {
        self.published.as_ref()
    }

    /// When [`Call::Maintain`] will have work: the proactive renewal's instant.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.published
            .as_ref()
            .and_then(|s| s.renew_at())
            .map(|(at, _)| at)
    }

    /// The next event, if any. Drivers forward each to their callback and logs.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// Starts a call.
    pub fn begin(&mut self, call: Call) -> CallId {
        let id = CallId(self.next_call);
        self.next_call += 1;
        let retire = matches!(call, Call::Retire);
        let scope = match call {
            Call::EndScope(scope) => Some(scope),
            _ => None,
        };
        let kind = match call {
            Call::Intent(intent) => Kind::Intent(Box::new(intent)),
            Call::Retire | Call::EndScope(_) => Kind::Intent(Box::new(Intent::SignOut)),
            Call::Request => Kind::Request,
            Call::Forward => Kind::Forward,
            Call::Ready => Kind::Ready,
            Call::Renew => Kind::Renew {
                seen: self.generation,
            },
            Call::Maintain => Kind::Maintain,
        };
        self.calls.insert(
            id,
            CallState {
                kind,
                budget: Budget::default(),
                ticket: self.pulse.attempts(),
                outbox: None,
                running: None,
                done: None,
                rejected: None,
                replayed: false,
                renewal_tried: false,
                signed_out_first: false,
                retire,
                scope,
                fleet: None,
                store_outbox: None,
                store_pending: false,
            },
        );
        id
    }

    /// What the call does next. Returns [`Action::Done`] once; the call is then forgotten.
    pub fn poll(&mut self, id: CallId, inputs: Inputs) -> Action {
        for _ in 0..MAX_STEPS {
            let Some(call) = self.calls.get_mut(&id) else {
                return Action::Done(Outcome::Failed(Misuse::UnknownCall.into()));
            };
            if let Some(request) = call.store_outbox.take() {
                call.store_pending = true;
                return Action::Store(request);
            }
            if let Some(request) = call.outbox.take() {
                return Action::Send(request);
            }
            if call.running.is_some() || call.store_pending {
                // Polled before the answer to its request came back: the driver's mistake. The
                // call ends, and its exchange with it, so that it cannot hold up the others
                // (a lock it may hold is left to its TTL: the driver is not following the
                // contract, so it would not run the release either).
                let _ = self.cancel(id);
                return Action::Done(Outcome::Failed(Misuse::ExchangeInFlight.into()));
            }
            if let Some(outcome) = call.done.take() {
                self.calls.remove(&id);
                return Action::Done(outcome);
            }
            if let Some(until) = self.pulse.throttled_until(inputs.now) {
                return Action::WaitUntil(until);
            }
            if let Some(action) = self.step(id, inputs) {
                if matches!(action, Action::Done(_)) {
                    self.calls.remove(&id);
                    if self.owner == Some(id) {
                        self.owner = None;
                    }
                }
                return action;
            }
        }
        let _ = self.cancel(id);
        Action::Done(Outcome::Failed(Misuse::UnknownCall.into()))
    }

    /// Feeds the answer to the request of the call's last [`Action::Send`].
    pub fn handle_response(&mut self, id: CallId, response: Response<Vec<u8>>, inputs: Inputs) {
        let Some(running) = self.calls.get_mut(&id).and_then(|c| c.running.take()) else {
            return;
        };
        match self.session.handle_response(response, inputs.now) {
            Ok(Step::Send(request)) => {
                if let Some(call) = self.calls.get_mut(&id) {
                    call.running = Some(running);
                    call.outbox = Some(request);
                }
            }
            Ok(Step::Done(event)) => {
                self.owner = None;
                self.on_event(id, running, event, inputs);
            }
            Err(error) => {
                self.owner = None;
                self.on_error(id, running, error, inputs);
            }
        }
    }

    /// Feeds the answer to the caller's own request sent with `grant` (from
    /// [`Action::Authorize`] or [`Snapshot::grant`]). `body` may be `None` when
    /// [`Grant::needs_body`] says the policy does not need it.
    pub fn handle_reply(
        &mut self,
        id: CallId,
        grant: &Grant,
        status: StatusCode,
        headers: &HeaderMap,
        body: Option<&[u8]>,
        inputs: Inputs,
    ) {
        if status.is_success() && grant.generation() == self.generation {
            self.pulse.touch(grant.sent_at);
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let forward = matches!(call.kind, Kind::Forward);
        if status.is_success() {
            call.done = Some(Outcome::Deliver);
            return;
        }
        let mut response = Response::new(body.unwrap_or_default());
        *response.status_mut() = status;
        *response.headers_mut() = headers.clone();
        let mut sent = Redactor::default();
        sent.push(grant.snapshot.token_text());
        let scrub = |e: Error| e.scrubbed(&sent);
        match self.session.classify(&response) {
            Verdict::Success => call.done = Some(Outcome::Deliver),
            Verdict::Reauthenticate(e) => {
                self.on_rejected(id, grant.generation(), grant.ticket, scrub(e), inputs.now);
            }
            Verdict::Retry(e) => {
                if let Some(e) = self.on_throttled(id, scrub(e), inputs) {
                    self.finish(
                        id,
                        if forward {
                            Outcome::Deliver
                        } else {
                            Outcome::Failed(e)
                        },
                    );
                }
            }
            Verdict::Fail(e) => {
                self.finish(
                    id,
                    if forward {
                        Outcome::Deliver
                    } else {
                        Outcome::Failed(scrub(e))
                    },
                );
            }
        }
    }

    /// The transport failed on the call's request (after an [`Action::Send`] or
    /// [`Action::Authorize`]). `message` describes it (no secret): another call waiting for
    /// the same sign-in gets it in [`Error::SignInFailed`]. Poll the call again: it usually
    /// ends in [`Outcome::TransportError`], but a failed proactive renewal goes on with the
    /// old token (and pauses renewal), and a failed sign-out before a new sign-in goes on with
    /// the sign-in.
    pub fn transport_failed(&mut self, id: CallId, message: &str) {
        if self.owner == Some(id) {
            self.session.abort();
            self.owner = None;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.outbox = None;
        match call.running.take() {
            Some(Running {
                purpose: Purpose::SignIn(reason),
                attempt,
                sent_at,
                ..
            }) => {
                let error = Error::Transport {
                    message: message.to_owned(),
                };
                self.renewal_failed(attempt, &error);
                self.fleet_sign_in_failed(id);
                if matches!(reason, Some(RenewReason::Expiring(_))) {
                    // Not fatal, as in `on_error`; pause renewal (counted from the attempt: no
                    // clock here) so that every call does not first wait for a failing sign-in.
                    let backoff = self.session.config().renewal_backoff();
                    if let Some(at) = sent_at.checked_add(backoff) {
                        self.pulse.pause_renewal_until(at);
                    }
                } else {
                    self.finish(id, Outcome::TransportError);
                }
            }
            // Best effort, as in `on_error`: the new sign-in is what was asked for.
            Some(Running {
                purpose: Purpose::SignOutFirst,
                ..
            }) => call.signed_out_first = true,
            _ => self.finish(id, Outcome::TransportError),
        }
    }

    /// Forgets a call whose caller went away (a cancelled task), or that ended on the fast
    /// path; an exchange it ran is aborted, so that other calls can go on. A no-op for a call
    /// that is done.
    ///
    /// Returns what the call leaves to the fleet's store: when it may hold the sign-in lock
    /// (cancelled between asking for it and publishing), a [`StoreOp::Release`] of it. Run it
    /// without feeding its answer back (the call is gone): the other processes then take over
    /// at once instead of waiting out the lock's TTL. Not running it, or a failure, leaves the
    /// lock to its TTL, as a process that died would.
    ///
    /// [`StoreOp::Release`]: crate::fleet::StoreOp::Release
    #[must_use = "a cancelled call may leave the fleet's sign-in lock to release"]
    pub fn cancel(&mut self, id: CallId) -> Option<StoreRequest> {
        if self.owner == Some(id) {
            self.session.abort();
            self.owner = None;
        }
        let call = self.calls.remove(&id)?;
        self.fleet_cancelled(call.fleet?, call.store_outbox.is_some())
    }

    // ----- decisions -----------------------------------------------------------------------

    /// One decision for the call: an action for the driver, or `None` to decide again.
    fn step(&mut self, id: CallId, inputs: Inputs) -> Option<Action> {
        let call = self.calls.get(&id)?;
        if let Some(step) = call.fleet
            && matches!(step.phase, Phase::Waiting(_) | Phase::Locked)
        {
            // Waiting for another process's sign-in, or holding the lock for one's own.
            return self.sign_in(id, step.reason, inputs);
        }
        match &call.kind {
            Kind::Intent(intent) => match &**intent {
                Intent::SignIn(sign_in) if self.fleet.is_some() => {
                    // A fleet's sign-in adopts the fleet's session when there is one: signing
                    // in anew would end it for every other process (one session per PAT).
                    let sign_in = sign_in.clone();
                    self.keep_for_fleet(sign_in);
                    match self.live_session(id, inputs) {
                        Live::Use(snapshot) => {
                            self.scope = Some(id);
                            Some(Action::Done(Outcome::Event(Event::SignedIn(
                                snapshot.signed_in().clone(),
                            ))))
                        }
                        Live::Then(next) => next,
                    }
                }
                Intent::SignIn(sign_in) => {
                    if !call.signed_out_first && self.session.is_signed_in() {
                        return self.start(id, Intent::SignOut, Purpose::SignOutFirst, 0, inputs);
                    }
                    let intent =
                        Intent::SignIn(sign_in.clone().mint_inputs(inputs.wall, inputs.random));
                    self.start(id, intent, Purpose::Intent, self.pulse.attempts(), inputs)
                }
                Intent::SignOut if call.scope.is_some_and(|scope| self.scope != Some(scope)) => {
                    // Not the session the scope began: the client signed in anew or out since.
                    let outcome = if self.session.is_signed_in() {
                        SignOut::Replaced
                    } else {
                        SignOut::NotSignedIn
                    };
                    Some(Action::Done(Outcome::Event(Event::SignedOut(outcome))))
                }
                Intent::SignOut
                    if !call.retire && self.fleet.as_ref().is_some_and(Fleet::holds) =>
                {
                    // The fleet's session outlives this process: forget it here only.
                    self.session.forget();
                    self.published = None;
                    self.scope = None;
                    if let Some(fleet) = &mut self.fleet {
                        fleet.forget();
                    }
                    Some(Action::Done(Outcome::Event(Event::SignedOut(
                        SignOut::LeftToFleet,
                    ))))
                }
                Intent::Resume(_) if self.fleet.is_some() => {
                    Some(Action::Done(Outcome::Failed(Misuse::ResumeInFleet.into())))
                }
                Intent::Resume(token)
                    if !call.signed_out_first
                        && self
                            .session
                            .token()
                            .is_some_and(|held| held.expose_secret() != token.expose_secret()) =>
                {
                    // Another session is held: it ends first, as before a new sign-in.
                    self.start(id, Intent::SignOut, Purpose::SignOutFirst, 0, inputs)
                }
                intent @ (Intent::SwitchSite(_)
                | Intent::CurrentSession
                | Intent::RevokeServerAdminTokens) => {
                    let intent = intent.clone();
                    match self.live_session(id, inputs) {
                        Live::Use(_) => {
                            self.start(id, intent, Purpose::Intent, self.pulse.attempts(), inputs)
                        }
                        Live::Then(next) => next,
                    }
                }
                intent => {
                    let intent = intent.clone();
                    self.start(id, intent, Purpose::Intent, self.pulse.attempts(), inputs)
                }
            },
            Kind::Request | Kind::Forward => match self.live_session(id, inputs) {
                Live::Use(snapshot) => Some(Action::Authorize(Grant {
                    snapshot,
                    sent_at: inputs.now,
                    ticket: self.pulse.attempts(),
                })),
                Live::Then(next) => next,
            },
            Kind::Ready => match self.live_session(id, inputs) {
                Live::Use(snapshot) => Some(Action::Done(Outcome::Ready(snapshot))),
                Live::Then(next) => next,
            },
            Kind::Renew { seen } => {
                if let Some(snapshot) = &self.published
                    && self.generation != *seen
                {
                    return Some(Action::Done(Outcome::Ready(snapshot.clone())));
                }
                if let Some(e) = self.failure_after(call.ticket) {
                    return Some(Action::Done(Outcome::Failed(e)));
                }
                let reason = self.published.as_ref().map(|_| RenewReason::Requested);
                self.sign_in(id, reason, inputs)
            }
            Kind::Maintain => {
                let due = self
                    .published
                    .as_ref()
                    .and_then(|s| s.renewal_due(inputs.now));
                match due {
                    // Another call runs an exchange (perhaps this very renewal): see what it
                    // leaves behind.
                    Some(_) if !call.renewal_tried && self.owner.is_some() => Some(Action::Wait),
                    Some(why) if !call.renewal_tried => {
                        if let Some(call) = self.calls.get_mut(&id) {
                            call.renewal_tried = true;
                        }
                        self.sign_in(id, Some(RenewReason::Expiring(why)), inputs)
                    }
                    // Renewed, or failed and paused: `poll_timeout` is ahead again.
                    _ => Some(Action::Done(Outcome::Idle)),
                }
            }
        }
    }

    /// The session the call may use now, or what to do first.
    fn live_session(&mut self, id: CallId, inputs: Inputs) -> Live {
        let Some(call) = self.calls.get_mut(&id) else {
            return Live::Then(None);
        };
        if let Some(rejection) = call.rejected {
            if self.generation != rejection.generation
                && let Some(snapshot) = &self.published
            {
                call.rejected = None;
                return Live::Use(snapshot.clone());
            }
            if let Some(e) = self.failure_after(rejection.ticket) {
                return Live::Then(Some(Action::Done(Outcome::Failed(e))));
            }
            let reason = RenewReason::Rejected(rejection.reason);
            return Live::Then(self.sign_in(id, Some(reason), inputs));
        }
        let ticket = call.ticket;
        let Some(snapshot) = self.published.clone() else {
            if self.sign_in.is_none() {
                return Live::Then(Some(Action::Done(Outcome::Failed(
                    Misuse::NotSignedIn.into(),
                ))));
            }
            if let Some(e) = self.failure_after(ticket) {
                return Live::Then(Some(Action::Done(Outcome::Failed(e))));
            }
            return Live::Then(self.sign_in(id, None, inputs));
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return Live::Then(None);
        };
        if !call.renewal_tried
            && self.owner.is_none()
            && let Some(why) = snapshot.renewal_due(inputs.now)
        {
            call.renewal_tried = true;
            return Live::Then(self.sign_in(id, Some(RenewReason::Expiring(why)), inputs));
        }
        Live::Use(snapshot)
    }

    /// The failure of a sign-in attempt started after `ticket`: it answers the caller too.
    fn failure_after(&self, ticket: u64) -> Option<Error> {
        match &self.last_failure {
            Some((attempt, e)) if *attempt > ticket => {
                Some(Error::SignInFailed(Box::new(e.clone())))
            }
            _ => None,
        }
    }

    /// Starts a sign-in with the kept credentials, unless another call runs an exchange.
    fn sign_in(
        &mut self,
        id: CallId,
        reason: Option<RenewReason>,
        inputs: Inputs,
    ) -> Option<Action> {
        if self.owner.is_some_and(|owner| owner != id) {
            return Some(Action::Wait);
        }
        if let Some(next) = self.fleet_sign_in(id, reason, inputs) {
            return next;
        }
        let Some(sign_in) = self.sign_in.clone() else {
            return Some(Action::Done(Outcome::Failed(Misuse::NotSignedIn.into())));
        };
        let attempt = self.pulse.start_attempt();
        let intent = Intent::SignIn(sign_in.mint_inputs(inputs.wall, inputs.random));
        self.start(id, intent, Purpose::SignIn(reason), attempt, inputs)
    }

    /// Starts an exchange of the session for the call, unless another call runs one.
    fn start(
        &mut self,
        id: CallId,
        intent: Intent,
        purpose: Purpose,
        attempt: u64,
        inputs: Inputs,
    ) -> Option<Action> {
        if self.owner.is_some_and(|owner| owner != id) {
            return Some(Action::Wait);
        }
        let running = Running {
            purpose,
            attempt,
            generation: self.generation,
            sent_at: inputs.now,
        };
        match self.session.start(intent, inputs.now) {
            Ok(Step::Send(request)) => {
                self.owner = Some(id);
                if let Some(call) = self.calls.get_mut(&id) {
                    call.running = Some(running);
                }
                Some(Action::Send(request))
            }
            Ok(Step::Done(event)) => {
                self.on_event(id, running, event, inputs);
                None
            }
            Err(error) => {
                self.on_error(id, running, error, inputs);
                None
            }
        }
    }

    fn on_event(&mut self, id: CallId, running: Running, event: Event, inputs: Inputs) {
        match running.purpose {
            Purpose::SignIn(reason) => {
                if let Err(e) = self.publish(|generation| match reason {
                    None => SessionEvent::SignedIn { generation },
                    Some(reason) => SessionEvent::Renewed { generation, reason },
                }) {
                    self.finish(id, Outcome::Failed(e));
                    return;
                }
                self.fleet_signed_in(id, inputs);
            }
            Purpose::SignOutFirst => {
                if let Event::SignedOut(outcome) = event {
                    self.signed_out(outcome);
                }
                if let Some(call) = self.calls.get_mut(&id) {
                    call.signed_out_first = true;
                }
            }
            Purpose::Intent => {
                let intent = match self.calls.get(&id).map(|c| &c.kind) {
                    Some(Kind::Intent(intent)) => (**intent).clone(),
                    _ => return,
                };
                match (&intent, &event) {
                    (Intent::SignIn(sign_in), Event::SignedIn(_)) => {
                        self.sign_in = Some(sign_in.clone());
                        self.rescope();
                        if let Err(e) =
                            self.publish(|generation| SessionEvent::SignedIn { generation })
                        {
                            self.finish(id, Outcome::Failed(e));
                            return;
                        }
                        self.scope = Some(id);
                    }
                    (Intent::SignOut, Event::SignedOut(outcome)) => {
                        let retire = self.calls.get(&id).is_some_and(|c| c.retire);
                        if !retire {
                            self.sign_in = None;
                            self.rescope();
                        }
                        self.signed_out(*outcome);
                        if retire {
                            self.fleet_retire(id, inputs);
                        }
                    }
                    (Intent::Resume(_), Event::Resumed(_)) => {
                        if let Err(e) =
                            self.publish(|generation| SessionEvent::Resumed { generation })
                        {
                            self.finish(id, Outcome::Failed(e));
                            return;
                        }
                        self.scope = None;
                    }
                    (Intent::SwitchSite(site), Event::SiteSwitched(_)) => {
                        // A later sign-in must land on the new site.
                        self.sign_in = self.sign_in.take().map(|s| s.with_site(site.clone()));
                        self.rescope();
                        if let Err(e) =
                            self.publish(|generation| SessionEvent::SignedIn { generation })
                        {
                            self.finish(id, Outcome::Failed(e));
                            return;
                        }
                    }
                    (_, Event::CurrentSession(_) | Event::ServerAdminTokensRevoked)
                        if running.generation == self.generation =>
                    {
                        self.pulse.touch(running.sent_at);
                    }
                    _ => {}
                }
                let _ = inputs;
                self.finish(id, Outcome::Event(event));
            }
        }
    }

    fn on_error(&mut self, id: CallId, running: Running, error: Error, inputs: Inputs) {
        if error.is_retryable() {
            let proactive = matches!(
                running.purpose,
                Purpose::SignIn(Some(RenewReason::Expiring(_)))
            );
            match self.on_throttled(id, error, inputs) {
                // Waiting out the window; a proactive renewal is tried again after it.
                None if proactive => {
                    if let Some(call) = self.calls.get_mut(&id) {
                        call.renewal_tried = false;
                    }
                }
                None => {}
                // Not fatal either: the old token goes on, and renewal pauses for as long as
                // the server asked.
                Some(e) if proactive => {
                    self.fleet_sign_in_failed(id);
                    let wait = match &e {
                        Error::Throttled { wait, .. } => *wait,
                        _ => self.session.config().renewal_backoff(),
                    };
                    self.renewal_failed(running.attempt, &e);
                    if let Some(at) = inputs.now.checked_add(wait) {
                        self.pulse.pause_renewal_until(at);
                    }
                }
                Some(e) => {
                    if matches!(running.purpose, Purpose::SignIn(_)) {
                        self.fleet_sign_in_failed(id);
                    }
                    self.finish(id, Outcome::Failed(e));
                }
            }
            return;
        }
        match running.purpose {
            Purpose::SignIn(reason) => {
                self.renewal_failed(running.attempt, &error);
                self.fleet_sign_in_failed(id);
                if let Some(RenewReason::Expiring(_)) = reason {
                    // Not fatal: the old token may be valid for the margin; pause renewal.
                    let backoff = self.session.config().renewal_backoff();
                    if let Some(at) = inputs.now.checked_add(backoff) {
                        self.pulse.pause_renewal_until(at);
                    }
                } else {
                    self.finish(id, Outcome::Failed(Error::SignInFailed(Box::new(error))));
                }
            }
            // Best effort: the new sign-in is what was asked for.
            Purpose::SignOutFirst => {
                if let Some(call) = self.calls.get_mut(&id) {
                    call.signed_out_first = true;
                }
            }
            Purpose::Intent => {
                let keeps_session = matches!(
                    self.calls.get(&id).map(|c| &c.kind),
                    Some(Kind::Intent(intent))
                        if matches!(
                            **intent,
                            Intent::SwitchSite(_)
                                | Intent::CurrentSession
                                | Intent::RevokeServerAdminTokens
                        )
                );
                if keeps_session && error.is_reauth_needed() {
                    self.on_rejected(id, running.generation, running.attempt, error, inputs.now);
                } else {
                    self.finish(id, Outcome::Failed(error));
                }
            }
        }
    }

    /// A throttled answer: opens the window and lets the call wait, or returns the error
    /// that ends it (over its caps).
    fn on_throttled(&mut self, id: CallId, error: Error, inputs: Inputs) -> Option<Error> {
        let call = self.calls.get_mut(&id)?;
        let retry = self.session.config().retry;
        let status = error.status().unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        match call
            .budget
            .decide(&retry, error, inputs.now, inputs.wall, inputs.random)
        {
            Decision::Wait { until, delay } => {
                if self.pulse.throttle(inputs.now, until) {
                    self.events
                        .push_back(SessionEvent::Throttled { delay, status });
                }
                None
            }
            Decision::GiveUp(e) => Some(e),
        }
    }

    /// The server rejected the session of `generation`: sign in again once, or give up.
    fn on_rejected(&mut self, id: CallId, generation: u64, ticket: u64, error: Error, at: Instant) {
        let reason = self.note_end(generation, at);
        let may_retry = self.session.config().reauthenticate && self.sign_in.is_some();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.replayed || !may_retry {
            let source = Box::new(error);
            self.finish(id, Outcome::Failed(Error::SessionEnded { reason, source }));
        } else {
            call.replayed = true;
            call.rejected = Some(Rejection {
                generation,
                ticket,
                reason,
            });
        }
    }

    /// Superseded or expired; reported once per generation, and only for the one in use.
    fn note_end(&mut self, generation: u64, at: Instant) -> Ended {
        let reason = match &self.published {
            Some(s) if s.generation() == generation => {
                s.schedule().rejection_reason(self.pulse.last_used(), at)
            }
            _ => Ended::Expired,
        };
        if generation == self.generation && self.ended_reported < generation {
            self.ended_reported = generation;
            self.events
                .push_back(SessionEvent::Ended { generation, reason });
        }
        reason
    }

    fn renewal_failed(&mut self, attempt: u64, error: &Error) {
        self.last_failure = Some((attempt, error.clone()));
        self.events.push_back(SessionEvent::RenewalFailed {
            generation: self.generation,
            error: error.to_string(),
        });
    }

    /// Publishes the session's new sign-in as the next generation, and reports it: `event`
    /// of the new generation, then a warning when the credentials expire soon.
    fn publish(&mut self, event: impl FnOnce(u64) -> SessionEvent) -> Result<(), Error> {
        let config = self.session.config();
        let warn_within = config.credentials_warning;
        let snapshot = Snapshot::publish(
            &self.session,
            self.generation + 1,
            config.renew_before_expiry,
            self.pulse.clone(),
        )?;
        self.generation += 1;
        let schedule = snapshot.schedule();
        let remaining = schedule
            .credentials_expire_at
            .map(|at| at.saturating_duration_since(schedule.signed_in_at()));
        self.published = Some(Arc::new(snapshot));
        self.last_failure = None;
        let generation = self.generation;
        self.events.push_back(event(generation));
        if let Some(remaining) = remaining.filter(|left| *left < warn_within) {
            self.events.push_back(SessionEvent::CredentialsExpiring {
                generation,
                remaining,
            });
        }
        Ok(())
    }

    fn signed_out(&mut self, outcome: SignOut) {
        self.published = None;
        self.scope = None;
        if outcome != SignOut::NotSignedIn {
            self.events.push_back(SessionEvent::SignedOut {
                generation: self.generation,
                outcome,
            });
        }
    }

    fn finish(&mut self, id: CallId, outcome: Outcome) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.done = Some(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)] // some instant to count from
    fn a_request_to_send_shows_no_credential() {
        let config = Config::builder("https://tableau.example.com")
            .api_version(crate::ApiVersion::new(3, 25))
            .build()
            .unwrap();
        let mut policy = Policy::new(config, Instant::now());
        let secret = "SENTINEL-password-value";
        let sign_in = SignIn::new(crate::Credentials::password("u", secret), "");
        let id = policy.begin(Call::Intent(Intent::SignIn(sign_in)));
        let inputs = Inputs::new(Instant::now(), SystemTime::UNIX_EPOCH, [9; 16]);
        let action = policy.poll(id, inputs);
        let Action::Send(request) = &action else {
            panic!("a sign-in sends a request");
        };
        assert!(String::from_utf8_lossy(request.body()).contains(secret));
        let shown = format!("{action:?} {action:#?} {policy:?} {inputs:?}");
        assert!(
            !shown.contains(secret) && !shown.contains("83, 69, 78"),
            "{shown}"
        );
        assert!(shown.contains("bytes]"), "{shown}");
    }

    const SIGNED_IN: &str = r#"<tsResponse><credentials token="TokenTokenTokenToken">
        <site id="6b7179ba-b82b-4f0f-91ed-812074ac5da6" contentUrl=""/>
        <user id="1a96d216-e9b8-497b-a82a-0b899a965e01"/></credentials></tsResponse>"#;

    fn answer(status: u16, body: &str) -> Response<Vec<u8>> {
        let mut response = Response::new(body.as_bytes().to_vec());
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        response
    }

    /// A policy signed in at `t0` whose renewal is due 1 s later.
    fn signed_in(t0: Instant) -> Policy {
        let config = Config::builder("https://tableau.example.com")
            .api_version(crate::ApiVersion::new(3, 25))
            .idle_limit(std::time::Duration::from_secs(61))
            .build()
            .unwrap();
        let mut policy = Policy::new(config, t0);
        policy.set_credentials(Some(SignIn::new(
            crate::Credentials::password("u", "p"),
            "",
        )));
        let at = |secs| {
            Inputs::new(
                t0 + std::time::Duration::from_secs(secs),
                SystemTime::UNIX_EPOCH,
                [1; 16],
            )
        };
        let id = policy.begin(Call::Ready);
        assert!(matches!(policy.poll(id, at(0)), Action::Send(_)));
        policy.handle_response(id, answer(200, SIGNED_IN), at(0));
        assert!(matches!(
            policy.poll(id, at(0)),
            Action::Done(Outcome::Ready(_))
        ));
        policy
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // some instant to count from
    fn the_renewal_timer_waits_for_a_busy_exchange_and_is_never_left_due() {
        let t0 = Instant::now();
        let mut policy = signed_in(t0);
        let at = |secs| {
            Inputs::new(
                t0 + std::time::Duration::from_secs(secs),
                SystemTime::UNIX_EPOCH,
                [1; 16],
            )
        };
        assert_eq!(
            policy.poll_timeout(),
            Some(t0 + std::time::Duration::from_secs(1))
        );
        // Another call holds the exchange: the timer parks instead of giving up.
        let busy = policy.begin(Call::Intent(Intent::ServerInfo));
        assert!(matches!(policy.poll(busy, at(2)), Action::Send(_)));
        let timer = policy.begin(Call::Maintain);
        assert!(matches!(policy.poll(timer, at(2)), Action::Wait));
        assert!(
            policy.cancel(busy).is_none(),
            "no fleet, nothing to release"
        );
        // Now it renews; the server fails; renewal pauses and the timer is not due any more.
        assert!(matches!(policy.poll(timer, at(2)), Action::Send(_)));
        policy.handle_response(timer, answer(500, "oops"), at(2));
        assert!(matches!(
            policy.poll(timer, at(2)),
            Action::Done(Outcome::Idle)
        ));
        assert!(
            policy
                .poll_timeout()
                .is_some_and(|due| due > t0 + std::time::Duration::from_secs(2))
        );
        assert_eq!(policy.generation(), 1);
        let failed = std::iter::from_fn(|| policy.poll_event())
            .any(|e| matches!(e, SessionEvent::RenewalFailed { generation: 1, .. }));
        assert!(failed);
    }

    /// Runs `call` to its end, answering every exchange with `status` and `body`; returns the
    /// outcome and how many requests it sent.
    fn run(
        policy: &mut Policy,
        call: Call,
        status: u16,
        body: &str,
        t0: Instant,
    ) -> (Outcome, usize) {
        let inputs = Inputs::new(t0, SystemTime::UNIX_EPOCH, [3; 16]);
        let id = policy.begin(call);
        let mut sent = 0;
        loop {
            match policy.poll(id, inputs) {
                Action::Send(_) => {
                    sent += 1;
                    policy.handle_response(id, answer(status, body), inputs);
                }
                Action::Done(outcome) => return (outcome, sent),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// An explicit sign-in's call, run to its end.
    fn sign_in(policy: &mut Policy, t0: Instant) -> CallId {
        let inputs = Inputs::new(t0, SystemTime::UNIX_EPOCH, [3; 16]);
        let sign_in = SignIn::new(crate::Credentials::password("u", "p"), "");
        let id = policy.begin(Call::Intent(Intent::SignIn(sign_in)));
        loop {
            match policy.poll(id, inputs) {
                Action::Send(request) if request.uri().path().ends_with("signin") => {
                    policy.handle_response(id, answer(200, SIGNED_IN), inputs);
                }
                Action::Send(_) => policy.handle_response(id, answer(204, ""), inputs),
                Action::Done(Outcome::Event(Event::SignedIn(_))) => return id,
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // some instant to count from
    fn a_scope_ends_only_the_session_its_sign_in_began() {
        let t0 = Instant::now();
        let fresh = || {
            let config = Config::builder("https://tableau.example.com")
                .api_version(crate::ApiVersion::new(3, 25))
                .build()
                .unwrap();
            Policy::new(config, t0)
        };
        let signed_out = |outcome| matches!(outcome, Outcome::Event(Event::SignedOut(o)) if o == SignOut::Confirmed);

        // Its own session, renewed since: signed out.
        let mut policy = fresh();
        let scope = sign_in(&mut policy, t0);
        let (renewed, _) = run(&mut policy, Call::Renew, 200, SIGNED_IN, t0);
        assert!(matches!(renewed, Outcome::Ready(_)));
        assert_eq!(policy.generation(), 2);
        let (outcome, sent) = run(&mut policy, Call::EndScope(scope), 204, "", t0);
        assert!(signed_out(outcome) && sent == 1);
        assert!(!policy.session().is_signed_in());

        // Signed in anew since: that session is left alone, nothing is sent.
        let mut policy = fresh();
        let scope = sign_in(&mut policy, t0);
        let newer = sign_in(&mut policy, t0);
        let (outcome, sent) = run(&mut policy, Call::EndScope(scope), 204, "", t0);
        assert!(
            matches!(outcome, Outcome::Event(Event::SignedOut(SignOut::Replaced))),
            "{outcome:?}"
        );
        assert_eq!((sent, policy.generation()), (0, 2));
        assert!(policy.session().is_signed_in() && policy.has_credentials());
        // The newer scope still ends its own session, once.
        let (outcome, sent) = run(&mut policy, Call::EndScope(newer), 204, "", t0);
        assert!(signed_out(outcome) && sent == 1);
        let (outcome, sent) = run(&mut policy, Call::EndScope(newer), 204, "", t0);
        assert!(
            matches!(
                outcome,
                Outcome::Event(Event::SignedOut(SignOut::NotSignedIn))
            ),
            "{outcome:?}"
        );
        assert_eq!(sent, 0);

        // Signed out since: nothing to do. A sign-in made on first use is no scope's.
        let mut policy = fresh();
        let scope = sign_in(&mut policy, t0);
        let (outcome, sent) = run(&mut policy, Call::Intent(Intent::SignOut), 204, "", t0);
        assert!(signed_out(outcome) && sent == 1);
        policy.set_credentials(Some(SignIn::new(
            crate::Credentials::password("u", "p"),
            "",
        )));
        let (ready, _) = run(&mut policy, Call::Ready, 200, SIGNED_IN, t0);
        assert!(matches!(ready, Outcome::Ready(_)));
        let (outcome, sent) = run(&mut policy, Call::EndScope(scope), 204, "", t0);
        assert!(
            matches!(outcome, Outcome::Event(Event::SignedOut(SignOut::Replaced))),
            "{outcome:?}"
        );
        assert_eq!(sent, 0);
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // some instant to count from
    fn a_sign_in_warns_when_its_credentials_expire_soon() {
        let t0 = Instant::now();
        let answer_with = |estimate: &str| {
            SIGNED_IN.replace(
                "<credentials ",
                &format!("<credentials estimatedTimeToExpiration=\"{estimate}\" "),
            )
        };
        let policy_with = |warning: Option<std::time::Duration>| {
            let mut config = Config::builder("https://tableau.example.com")
                .api_version(crate::ApiVersion::new(3, 25));
            if let Some(warning) = warning {
                config = config.credentials_warning(warning);
            }
            let mut policy = Policy::new(config.build().unwrap(), t0);
            policy.set_credentials(Some(SignIn::new(
                crate::Credentials::personal_access_token("n", "s"),
                "",
            )));
            policy
        };
        let events =
            |policy: &mut Policy| std::iter::from_fn(|| policy.poll_event()).collect::<Vec<_>>();
        let day = 24 * 3600;

        // 3 days 2 hours left: the sign-in, then the warning; again with a renewal.
        let mut policy = policy_with(None);
        let (ready, _) = run(&mut policy, Call::Ready, 200, &answer_with("3:02:00"), t0);
        assert!(matches!(ready, Outcome::Ready(_)));
        let remaining = std::time::Duration::from_secs(3 * day + 2 * 3600);
        let warning = SessionEvent::CredentialsExpiring {
            generation: 1,
            remaining,
        };
        assert_eq!(
            events(&mut policy),
            vec![SessionEvent::SignedIn { generation: 1 }, warning.clone()]
        );
        assert!(warning.is_warning());
        assert!(
            warning.to_string().contains("3 days and 2 hours"),
            "{warning}"
        );
        let (renewed, _) = run(&mut policy, Call::Renew, 200, &answer_with("3:01:00"), t0);
        assert!(matches!(renewed, Outcome::Ready(_)));
        let after = events(&mut policy);
        assert!(
            matches!(
                after[..],
                [
                    SessionEvent::Renewed { generation: 2, .. },
                    SessionEvent::CredentialsExpiring { generation: 2, .. }
                ]
            ),
            "{after:?}"
        );

        // A year left, no estimate, or warnings turned off: nothing to say.
        for (estimate, warning) in [
            (Some("364:23:59"), None),
            (None, None),
            (Some("0:00:05"), Some(std::time::Duration::ZERO)),
        ] {
            let mut policy = policy_with(warning);
            let answer = estimate.map_or_else(|| SIGNED_IN.to_owned(), answer_with);
            let (ready, _) = run(&mut policy, Call::Ready, 200, &answer, t0);
            assert!(matches!(ready, Outcome::Ready(_)));
            assert_eq!(
                events(&mut policy),
                vec![SessionEvent::SignedIn { generation: 1 }],
                "{estimate:?}"
            );
        }
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // some instant to count from
    fn resuming_a_saved_token_replaces_another_session_but_never_its_own() {
        const CURRENT: &str = r#"<tsResponse><session>
            <site id="6b7179ba-b82b-4f0f-91ed-812074ac5da6" name="Finance Team" contentUrl="Finance"/>
            <user id="1a96d216-e9b8-497b-a82a-0b899a965e01" name="jsmith"/></session></tsResponse>"#;
        let t0 = Instant::now();
        let config = Config::builder("https://tableau.example.com")
            .api_version(crate::ApiVersion::new(3, 25))
            .build()
            .unwrap();
        let inputs = Inputs::new(t0, SystemTime::UNIX_EPOCH, [5; 16]);
        // Runs the call, answering each request by its path; the requests' "METHOD path token".
        let resume = |policy: &mut Policy, token: &str| {
            let id = policy.begin(Call::Intent(Intent::Resume(crate::secret::AuthToken::new(
                token,
            ))));
            let mut sent = Vec::new();
            loop {
                match policy.poll(id, inputs) {
                    Action::Send(request) => {
                        let auth = request.headers()[crate::X_TABLEAU_AUTH]
                            .to_str()
                            .unwrap()
                            .to_owned();
                        let path = request.uri().path().to_owned();
                        sent.push(format!("{} {path} {auth}", request.method()));
                        let answer = if path.ends_with("signout") {
                            answer(204, "")
                        } else {
                            answer(200, CURRENT)
                        };
                        policy.handle_response(id, answer, inputs);
                    }
                    Action::Done(outcome) => return (outcome, sent),
                    other => panic!("unexpected {other:?}"),
                }
            }
        };
        let mut policy = Policy::new(config.clone(), t0);
        let (outcome, sent) = resume(&mut policy, "saved-token-1");
        let Outcome::Event(Event::Resumed(me)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            (me.user_name.as_str(), me.site_content_url.as_str()),
            ("jsmith", "Finance")
        );
        assert_eq!(sent, ["GET /api/3.25/sessions/current saved-token-1"]);
        assert_eq!(policy.generation(), 1);
        let snapshot = policy.snapshot().cloned().expect("published");
        assert_eq!(snapshot.token_text(), "saved-token-1");
        assert_eq!(
            snapshot.signed_in().site_id.as_str(),
            "6b7179ba-b82b-4f0f-91ed-812074ac5da6"
        );
        assert!(!policy.has_credentials(), "resuming keeps no credentials");
        assert_eq!(
            std::iter::from_fn(|| policy.poll_event()).collect::<Vec<_>>(),
            vec![SessionEvent::Resumed { generation: 1 }]
        );
        // The same token again: nothing to sign out first.
        let (_, sent) = resume(&mut policy, "saved-token-1");
        assert_eq!(sent, ["GET /api/3.25/sessions/current saved-token-1"]);
        // Another token: the held session ends first, as before a new sign-in.
        let (_, sent) = resume(&mut policy, "saved-token-2");
        assert_eq!(
            sent,
            [
                "POST /api/3.25/auth/signout saved-token-1",
                "GET /api/3.25/sessions/current saved-token-2"
            ]
        );
        assert_eq!(
            policy
                .snapshot()
                .map(|s| s.token_text().to_owned())
                .as_deref(),
            Some("saved-token-2")
        );

        // A fleet's session comes from its store.
        let mut fleet = Policy::new(config, t0);
        fleet.set_fleet(Some(FleetConfig::new()));
        let (outcome, sent) = resume(&mut fleet, "saved-token-1");
        assert!(
            matches!(
                outcome,
                Outcome::Failed(Error::Misuse(Misuse::ResumeInFleet))
            ),
            "{outcome:?}"
        );
        assert!(sent.is_empty());
    }

    #[test]
    fn the_policy_is_send_and_sync() {
        fn is<T: Send + Sync>() {}
        is::<Policy>();
        is::<Snapshot>();
        is::<Grant>();
        is::<Action>();
    }
}
