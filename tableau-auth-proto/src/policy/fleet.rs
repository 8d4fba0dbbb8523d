//! The fleet's decisions: when a call reads the store, what it compares, when it takes the
//! sign-in lock, what it adopts and what it publishes; what happens while the store is down.
//!
//! A call that needs a new session (none yet, rejected, due for renewal) asks the store to
//! [`StoreOp::Acquire`] the sign-in lock *unless the record moved* past the version this process
//! holds. A moved record with a session that opens is adopted (no sign-in). A free lock is taken
//! and the call signs in, then publishes with a compare-and-set on the version it saw. A busy
//! lock means another process is signing in: the call pauses (growing from
//! [`FleetConfig::poll_interval`]) and asks again, until the record moves or the lock expires.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::fleet::{
    FleetConfig, FleetScope, LockOwner, Record, StoreOp, StoreReply, StoreRequest, Version,
    WhenStoreDown,
};
use crate::intent::SignIn;
use crate::lifecycle::{RenewReason, SessionEvent};

use super::{Action, CallId, Inputs, Outcome, Policy};

/// The longest pause before the store is tried again after a failure.
const MAX_STORE_PAUSE: Duration = Duration::from_secs(30);
/// How many times in a row one call may find the record moved to something it cannot adopt
/// (retired, or sealed for someone else) before it gives up on the store for this sign-in.
const MAX_BOUNCES: u8 = 4;

/// The fleet state of a policy.
#[derive(Debug)]
pub(super) struct Fleet {
    config: FleetConfig,
    scope: Option<Arc<FleetScope>>,
    /// The store's version of the session this process uses (adopted or published by it);
    /// `None` when it uses none, or one signed in without the store.
    held: Option<Version>,
    down: Option<Down>,
    pause: Duration,
    /// The sign-in under way is this process's own (the store is down).
    local: bool,
}

#[derive(Debug)]
struct Down {
    until: Instant,
    error: String,
    local_sign_ins: u32,
}

/// Where a call is in the fleet's procedure.
#[derive(Debug, Clone, Copy)]
pub(super) struct FleetStep {
    pub(super) reason: Option<RenewReason>,
    seen: Option<Version>,
    owner: LockOwner,
    since: Instant,
    pause: Duration,
    bounces: u8,
    pub(super) phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// An [`StoreOp::Acquire`] is out.
    Acquire,
    /// The lock is busy: ask again at this instant.
    Waiting(Instant),
    /// The call holds the lock and signs in.
    Locked,
    /// A [`StoreOp::Publish`] of the new session (or of a retirement) is out.
    Publish,
    /// A [`StoreOp::Release`] after a failed sign-in is out.
    Release,
}

impl Fleet {
    pub(super) fn new(config: FleetConfig) -> Self {
        let pause = config.retry_store_after_value();
        Self {
            config,
            scope: None,
            held: None,
            down: None,
            pause,
            local: false,
        }
    }

    pub(super) fn set_scope(&mut self, origin: &str, sign_in: Option<&SignIn>) {
        self.scope = sign_in.map(|s| Arc::new(FleetScope::new(origin, s)));
    }

    /// Whether the process uses the fleet's session (adopted or published).
    pub(super) fn holds(&self) -> bool {
        self.held.is_some()
    }

    pub(super) fn forget(&mut self) {
        self.held = None;
    }
}

impl Policy {
    /// Continues (or starts) the fleet's procedure for a call that needs a new session:
    /// `None` when the plain sign-in goes on (no fleet, no credentials, the lock is held, or the
    /// store is down and local sign-ins are allowed), else what the call does (`Some(None)`:
    /// decide again).
    pub(super) fn fleet_sign_in(
        &mut self,
        id: CallId,
        reason: Option<RenewReason>,
        inputs: Inputs,
    ) -> Option<Option<Action>> {
        let fleet = self.fleet.as_mut()?;
        let scope = fleet.scope.clone()?;
        let call = self.calls.get_mut(&id)?;
        match call.fleet.map(|s| s.phase) {
            Some(Phase::Locked) => return None,
            Some(Phase::Waiting(until)) if inputs.now < until => {
                return Some(Some(Action::WaitUntil(until)));
            }
            _ => {}
        }
        if let Some(down) = &mut fleet.down
            && inputs.now < down.until
        {
            call.fleet = None;
            return match fleet.config.when_store_down_value() {
                WhenStoreDown::SignInLocally { max_sign_ins }
                    if down.local_sign_ins < max_sign_ins =>
                {
                    down.local_sign_ins += 1;
                    fleet.held = None;
                    fleet.local = true;
                    None
                }
                WhenStoreDown::SignInLocally { max_sign_ins } => Some(Some(Action::Done(
                    Outcome::Failed(Error::StoreUnavailable {
                        reason: format!(
                            "{}; this process already signed in {max_sign_ins} time(s) \
                             without it",
                            down.error
                        ),
                    }),
                ))),
                _ => Some(Some(Action::Done(Outcome::Failed(
                    Error::StoreUnavailable {
                        reason: format!(
                            "{}; failing closed rather than signing in outside the fleet",
                            down.error
                        ),
                    },
                )))),
            };
        }
        let step = call.fleet.get_or_insert(FleetStep {
            reason,
            seen: fleet.held,
            owner: LockOwner(inputs.random),
            since: inputs.now,
            pause: fleet.config.poll_interval_value(),
            bounces: 0,
            phase: Phase::Acquire,
        });
        let waited = inputs.now.saturating_duration_since(step.since);
        if waited > fleet.config.max_wait_value() {
            call.fleet = None;
            return Some(Some(Action::Done(Outcome::Failed(
                Error::StoreUnavailable {
                    reason: format!(
                        "another process held the sign-in lock for {} s without publishing a session \
                     (the wait allows {} s)",
                        waited.as_secs(),
                        fleet.config.max_wait_value().as_secs()
                    ),
                },
            ))));
        }
        step.phase = Phase::Acquire;
        call.store_outbox = Some(StoreRequest {
            scope,
            op: StoreOp::Acquire {
                seen: step.seen,
                owner: step.owner,
                ttl: fleet.config.lock_ttl_value(),
            },
        });
        self.owner = Some(id);
        Some(None)
    }

    /// The store's answer to the call's last [`Action::Store`].
    pub fn handle_store(&mut self, id: CallId, reply: StoreReply, inputs: Inputs) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !std::mem::take(&mut call.store_pending) {
            return;
        }
        let Some(mut step) = call.fleet.take() else {
            return;
        };
        if let Some(fleet) = &mut self.fleet
            && fleet.down.take().is_some()
        {
            fleet.pause = fleet.config.retry_store_after_value();
            self.events.push_back(SessionEvent::StoreRecovered);
        }
        match (step.phase, reply) {
            (Phase::Acquire, StoreReply::Moved(record)) => {
                let adopted = record
                    .as_ref()
                    .is_some_and(|r| self.adopt(r, step.reason, inputs));
                if adopted {
                    self.owner = None;
                    return;
                }
                step.bounces += 1;
                if step.bounces > MAX_BOUNCES {
                    self.owner = None;
                    self.store_down(
                        id,
                        "the record keeps changing to sessions that cannot be adopted",
                        inputs,
                    );
                    return;
                }
                step.seen = record.map(|r| r.version);
                self.reissue(id, step);
            }
            (Phase::Acquire, StoreReply::Acquired) => {
                step.phase = Phase::Locked;
                if let Some(call) = self.calls.get_mut(&id) {
                    call.fleet = Some(step);
                }
            }
            (Phase::Acquire, StoreReply::Busy) => {
                let until = inputs.now.checked_add(step.pause).unwrap_or(inputs.now);
                step.pause = (step.pause * 3 / 2).min(FleetConfig::MAX_POLL_INTERVAL);
                step.phase = Phase::Waiting(until);
                if let Some(call) = self.calls.get_mut(&id) {
                    call.fleet = Some(step);
                }
            }
            (Phase::Publish, StoreReply::Published(version)) => {
                self.owner = None;
                if let Some(fleet) = &mut self.fleet {
                    fleet.held = self.published.as_ref().map(|_| version);
                }
            }
            (Phase::Publish, StoreReply::Moved(record)) => {
                // Someone published while this call signed in (its lock expired, or the store
                // was emptied): the store's record wins, so that the fleet converges on one.
                self.owner = None;
                let adopted = record
                    .as_ref()
                    .is_some_and(|r| self.adopt(r, step.reason, inputs));
                if !adopted && let Some(fleet) = &mut self.fleet {
                    fleet.held = None;
                }
            }
            (Phase::Release, StoreReply::Released) => self.owner = None,
            (_, reply) => {
                let what = format!("an answer that does not fit the operation: {reply:?}");
                self.owner = None;
                self.store_down(id, &what, inputs);
            }
        }
    }

    /// The store failed on the call's last [`Action::Store`] (unreachable, timed out, an
    /// unexpected answer). `message` describes it (no secret, no password in a URL). Poll the
    /// call again: it goes on with the cached session, signs in locally or fails, as
    /// [`FleetConfig::when_store_down`] says.
    pub fn store_failed(&mut self, id: CallId, message: &str, inputs: Inputs) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !std::mem::take(&mut call.store_pending) {
            return;
        }
        if self.owner == Some(id) {
            self.owner = None;
        }
        self.store_down(id, message, inputs);
    }

    fn store_down(&mut self, id: CallId, message: &str, inputs: Inputs) {
        let step = self.calls.get_mut(&id).and_then(|c| c.fleet.take());
        let Some(fleet) = &mut self.fleet else {
            return;
        };
        let until = inputs.now.checked_add(fleet.pause).unwrap_or(inputs.now);
        fleet.pause = (fleet.pause * 2).min(MAX_STORE_PAUSE);
        match &mut fleet.down {
            Some(down) => {
                down.until = until;
                message.clone_into(&mut down.error);
            }
            None => {
                fleet.down = Some(Down {
                    until,
                    error: message.to_owned(),
                    local_sign_ins: 0,
                });
                self.events.push_back(SessionEvent::StoreUnavailable {
                    error: message.to_owned(),
                });
            }
        }
        if let Some(FleetStep {
            phase: Phase::Publish,
            ..
        }) = step
        {
            // The new session was signed in but could not be shared: it is this process's own.
            fleet.held = None;
            self.events.push_back(SessionEvent::FleetSplit {
                generation: self.generation,
            });
        }
    }

    /// Sends the step's acquire again at once (the record moved to one it could not adopt).
    fn reissue(&mut self, id: CallId, step: FleetStep) {
        let (Some(fleet), Some(call)) = (&self.fleet, self.calls.get_mut(&id)) else {
            return;
        };
        let Some(scope) = fleet.scope.clone() else {
            return;
        };
        call.store_outbox = Some(StoreRequest {
            scope,
            op: StoreOp::Acquire {
                seen: step.seen,
                owner: step.owner,
                ttl: fleet.config.lock_ttl_value(),
            },
        });
        call.fleet = Some(FleetStep {
            phase: Phase::Acquire,
            ..step
        });
    }

    /// Adopts the record's session, unless it cannot serve: none in it, or (for a renewal)
    /// itself due. Whether it was adopted.
    fn adopt(&mut self, record: &Record, reason: Option<RenewReason>, inputs: Inputs) -> bool {
        let Some(shared) = &record.session else {
            return false;
        };
        if self.session.adopt(shared, inputs.now, inputs.wall).is_err() {
            return false;
        }
        let version = record.version.to_string();
        if self
            .publish(|generation| SessionEvent::Adopted {
                generation,
                version,
            })
            .is_err()
        {
            return false;
        }
        let due = matches!(reason, Some(RenewReason::Expiring(_)))
            && self
                .published
                .as_ref()
                .and_then(|s| s.renewal_due(inputs.now))
                .is_some();
        if let Some(fleet) = &mut self.fleet {
            fleet.held = Some(record.version);
        }
        !due
    }

    /// After the call's sign-in succeeded: publishes the new session to the store (the call
    /// holds the lock).
    pub(super) fn fleet_signed_in(&mut self, id: CallId, inputs: Inputs) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(mut step) = call.fleet.take() else {
            if let Some(fleet) = &mut self.fleet
                && std::mem::take(&mut fleet.local)
            {
                fleet.held = None;
                self.events.push_back(SessionEvent::FleetSplit {
                    generation: self.generation,
                });
            }
            return;
        };
        let (Some(fleet), Some(shared)) =
            (&self.fleet, self.session.to_shared(inputs.wall, inputs.now))
        else {
            return;
        };
        let Some(scope) = fleet.scope.clone() else {
            return;
        };
        step.phase = Phase::Publish;
        call.fleet = Some(step);
        call.store_outbox = Some(StoreRequest {
            scope,
            op: StoreOp::Publish {
                seen: step.seen,
                owner: step.owner,
                new_epoch: u128::from_be_bytes(inputs.random),
                session: Some(shared),
            },
        });
        self.owner = Some(id);
    }

    /// After the call's sign-in failed: releases the lock it holds.
    pub(super) fn fleet_sign_in_failed(&mut self, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(mut step) = call.fleet.take() else {
            return;
        };
        let Some(scope) = self.fleet.as_ref().and_then(|f| f.scope.clone()) else {
            return;
        };
        if step.phase != Phase::Locked {
            return;
        }
        step.phase = Phase::Release;
        call.fleet = Some(step);
        call.store_outbox = Some(StoreRequest {
            scope,
            op: StoreOp::Release { owner: step.owner },
        });
        self.owner = Some(id);
    }

    /// A cancelled call's step: the release of the lock it may hold. `unsent`: its acquire
    /// never left (so no lock was taken).
    pub(super) fn fleet_cancelled(&self, step: FleetStep, unsent: bool) -> Option<StoreRequest> {
        let held = match step.phase {
            Phase::Waiting(_) => false,
            Phase::Acquire => !unsent,
            Phase::Locked | Phase::Publish | Phase::Release => true,
        };
        let scope = self.fleet.as_ref()?.scope.clone()?;
        // Releasing is safe whatever happened meanwhile: the store only deletes a lock that
        // still names this step's owner.
        held.then_some(StoreRequest {
            scope,
            op: StoreOp::Release { owner: step.owner },
        })
    }

    /// After a retiring sign-out: moves the record past the session.
    pub(super) fn fleet_retire(&mut self, id: CallId, inputs: Inputs) {
        let Some(fleet) = &mut self.fleet else {
            return;
        };
        let (Some(seen), Some(scope)) = (fleet.held.take(), fleet.scope.clone()) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let owner = LockOwner(inputs.random);
        call.fleet = Some(FleetStep {
            reason: None,
            seen: Some(seen),
            owner,
            since: inputs.now,
            pause: Duration::ZERO,
            bounces: 0,
            phase: Phase::Publish,
        });
        call.store_outbox = Some(StoreRequest {
            scope,
            op: StoreOp::Publish {
                seen: Some(seen),
                owner,
                new_epoch: u128::from_be_bytes(inputs.random),
                session: None,
            },
        });
        self.owner = Some(id);
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests need some instant to count from
mod tests {
    use std::time::SystemTime;

    use http::{Response, StatusCode};

    use super::*;
    use crate::config::Config;
    use crate::event::{Event, SignOut};
    use crate::fleet::SharedSession;
    use crate::intent::{Credentials, Intent};
    use crate::policy::Call;
    use crate::secret::ExposeSecret;

    /// The store's contract, in memory: what the Redis scripts do, for the decisions' tests.
    type Stored = (Version, Option<Vec<u8>>);

    /// (One fleet's record and lock at a time: another scope swaps them in.)
    #[derive(Default)]
    struct Model {
        record: Option<Stored>,
        lock: Option<LockOwner>,
        down: bool,
        /// Publishes run twice (the first answer lost, the operation sent again).
        twice: bool,
        sign_ins: u32,
        scope: Vec<u8>,
        others: std::collections::HashMap<Vec<u8>, (Option<Stored>, Option<LockOwner>)>,
    }

    impl Model {
        fn run(&mut self, request: StoreRequest) -> Option<StoreReply> {
            if self.down {
                return None;
            }
            let scope = request.scope.identity().to_vec();
            if self.scope != scope {
                let mine = (self.record.take(), self.lock.take());
                let old = std::mem::replace(&mut self.scope, scope.clone());
                self.others.insert(old, mine);
                (self.record, self.lock) = self.others.remove(&scope).unwrap_or_default();
            }
            if self.twice
                && let StoreOp::Publish {
                    seen,
                    owner,
                    new_epoch,
                    session,
                } = &request.op
            {
                let again = StoreOp::Publish {
                    seen: *seen,
                    owner: *owner,
                    new_epoch: *new_epoch,
                    session: session.clone(),
                };
                self.twice = false;
                self.run(StoreRequest {
                    scope: request.scope.clone(),
                    op: again,
                });
            }
            let op = request.op;
            let current = self.record.as_ref().map(|(v, _)| *v);
            let moved = |record: &Option<(Version, Option<Vec<u8>>)>| {
                StoreReply::Moved(record.as_ref().map(|(version, bytes)| Record {
                    version: *version,
                    session: bytes.as_deref().and_then(SharedSession::decode),
                }))
            };
            Some(match op {
                StoreOp::Acquire { seen, owner, .. } => {
                    if current != seen {
                        moved(&self.record)
                    } else if self.lock.is_none() {
                        self.lock = Some(owner);
                        StoreReply::Acquired
                    } else {
                        StoreReply::Busy
                    }
                }
                StoreOp::Publish {
                    seen,
                    owner,
                    new_epoch,
                    session,
                } => {
                    if self.lock == Some(owner) {
                        self.lock = None;
                    }
                    if current != seen {
                        return Some(moved(&self.record));
                    }
                    let version = match current {
                        Some(v) => Version {
                            generation: v.generation + 1,
                            ..v
                        },
                        None => Version {
                            epoch: new_epoch,
                            generation: 1,
                        },
                    };
                    self.record = Some((version, session.map(|s| s.encode().to_vec())));
                    StoreReply::Published(version)
                }
                StoreOp::Release { owner } => {
                    if self.lock == Some(owner) {
                        self.lock = None;
                    }
                    StoreReply::Released
                }
            })
        }
    }

    fn token(n: u32) -> String {
        format!("FleetToken{n:04}xxxxxxxxxxxxxxxxxxxx")
    }

    fn signed_in(n: u32) -> Response<Vec<u8>> {
        Response::new(
            format!(
                r#"<tsResponse><credentials token="{}">
                <site id="6b7179ba-b82b-4f0f-91ed-812074ac5da6" contentUrl=""/>
                <user id="1a96d216-e9b8-497b-a82a-0b899a965e01"/></credentials></tsResponse>"#,
                token(n)
            )
            .into_bytes(),
        )
    }

    fn policy(t0: Instant, fleet: FleetConfig) -> Policy {
        let config = Config::builder("https://tableau.example.com")
            .api_version(crate::ApiVersion::new(3, 25))
            .build()
            .unwrap();
        let mut policy = Policy::new(config, t0);
        policy.set_credentials(Some(SignIn::new(
            Credentials::personal_access_token("etl", "pat-secret"),
            "",
        )));
        policy.set_fleet(Some(fleet));
        policy
    }

    /// Drives one call to its end against the model store and a server that signs in with a
    /// new token each time; returns the outcome, with time moving on every wait.
    fn drive(policy: &mut Policy, store: &mut Model, call: Call, clock: &mut Instant) -> Outcome {
        let id = policy.begin(call);
        drive_begun(policy, store, id, clock)
    }

    /// [`drive`] for a call already begun (its id names a scope).
    fn drive_begun(
        policy: &mut Policy,
        store: &mut Model,
        id: CallId,
        clock: &mut Instant,
    ) -> Outcome {
        for _ in 0..10_000 {
            let inputs = Inputs::new(*clock, SystemTime::UNIX_EPOCH, [store.sign_ins as u8; 16]);
            match policy.poll(id, inputs) {
                Action::Store(request) => match store.run(request) {
                    Some(reply) => policy.handle_store(id, reply, inputs),
                    None => policy.store_failed(id, "connection refused", inputs),
                },
                Action::Send(request) if request.uri().path().ends_with("/signin") => {
                    store.sign_ins += 1;
                    policy.handle_response(id, signed_in(store.sign_ins), inputs);
                }
                Action::Send(_) => {
                    let mut ok = Response::new(Vec::new());
                    *ok.status_mut() = StatusCode::NO_CONTENT;
                    policy.handle_response(id, ok, inputs);
                }
                Action::Authorize(grant) => {
                    let status = StatusCode::OK;
                    if !grant.completes(status) {
                        policy.handle_reply(id, &grant, status, &Default::default(), None, inputs);
                    }
                    return Outcome::Deliver;
                }
                Action::WaitUntil(at) => *clock = at.max(*clock),
                Action::Wait => panic!("a single caller never waits for another"),
                Action::Done(outcome) => return outcome,
            }
        }
        panic!("the call never ended");
    }

    fn token_of(policy: &Policy) -> String {
        policy
            .session()
            .token()
            .map(|t| t.expose_secret().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn the_second_process_adopts_the_first_ones_session() {
        let mut clock = Instant::now();
        let mut store = Model::default();
        let mut a = policy(clock, FleetConfig::new());
        let mut b = policy(clock, FleetConfig::new());
        assert!(matches!(
            drive(&mut a, &mut store, Call::Request, &mut clock),
            Outcome::Deliver
        ));
        assert!(matches!(
            drive(&mut b, &mut store, Call::Request, &mut clock),
            Outcome::Deliver
        ));
        assert_eq!(store.sign_ins, 1, "one sign-in for the fleet");
        assert_eq!(token_of(&a), token_of(&b));
        assert!(store.lock.is_none(), "the lock is released by the publish");
        let events: Vec<_> = std::iter::from_fn(|| b.poll_event()).collect();
        assert!(
            matches!(
                events.as_slice(),
                [SessionEvent::Adopted { generation: 1, .. }]
            ),
            "{events:?}"
        );
    }

    #[test]
    fn a_call_cancelled_while_holding_the_lock_leaves_its_release() {
        let mut clock = Instant::now();
        let mut store = Model::default();
        let mut a = policy(clock, FleetConfig::new());
        let inputs = Inputs::new(clock, SystemTime::UNIX_EPOCH, [7; 16]);
        // A takes the lock and starts its sign-in; then its task is dropped.
        let id = a.begin(Call::Request);
        let Action::Store(acquire) = a.poll(id, inputs) else {
            panic!("the fleet's store comes first");
        };
        // Cancelled while its acquire is out (its answer never read): the lock may be taken.
        let reply = store.run(acquire).unwrap();
        assert!(matches!(reply, StoreReply::Acquired));
        let release = a.cancel(id).expect("a release of the lock it may hold");
        assert!(matches!(release.op, StoreOp::Release { owner } if Some(owner) == store.lock));
        // Cancelled holding the lock, its sign-in under way.
        let id = a.begin(Call::Request);
        let Action::Store(acquire) = a.poll(id, inputs) else {
            panic!("the fleet's store comes first");
        };
        store.lock = None;
        let reply = store.run(acquire).unwrap();
        a.handle_store(id, reply, inputs);
        assert!(
            matches!(a.poll(id, inputs), Action::Send(r) if r.uri().path().ends_with("/signin"))
        );
        let release = a.cancel(id).expect("a release of the lock it holds");
        assert!(a.cancel(id).is_none(), "once");
        assert!(matches!(store.run(release), Some(StoreReply::Released)));
        assert!(store.lock.is_none());
        // Another process signs in at once: no wait for the lock's TTL.
        let mut b = policy(clock, FleetConfig::new());
        let start = clock;
        assert!(matches!(
            drive(&mut b, &mut store, Call::Request, &mut clock),
            Outcome::Deliver
        ));
        assert_eq!(clock, start, "no pause");
        assert_eq!(store.sign_ins, 1);
        // A call waiting for another process's lock holds nothing.
        let mut busy = Model {
            lock: Some(LockOwner([0xee; 16])),
            ..Model::default()
        };
        let mut d = policy(clock, FleetConfig::new());
        let waiting = d.begin(Call::Request);
        let Action::Store(acquire) = d.poll(waiting, inputs) else {
            panic!("the fleet's store comes first");
        };
        busy.scope = acquire.scope.identity().to_vec();
        let reply = busy.run(acquire).unwrap();
        assert!(matches!(reply, StoreReply::Busy));
        d.handle_store(waiting, reply, inputs);
        assert!(matches!(d.poll(waiting, inputs), Action::WaitUntil(_)));
        assert!(d.cancel(waiting).is_none(), "a waiting call holds no lock");
        assert_eq!(busy.lock, Some(LockOwner([0xee; 16])));
    }

    #[test]
    fn a_busy_lock_is_waited_out_and_a_dead_holders_lock_taken_over() {
        let mut clock = Instant::now();
        let etl = SignIn::new(Credentials::personal_access_token("etl", "pat-secret"), "");
        let mut store = Model {
            lock: Some(LockOwner([0xee; 16])),
            scope: FleetScope::new("https://tableau.example.com", &etl)
                .identity()
                .to_vec(),
            ..Model::default()
        };
        let mut a = policy(clock, FleetConfig::new().max_wait(Duration::from_secs(3)));
        let start = clock;
        // The holder never publishes: the call gives up after the wait, with a typed error.
        match drive(&mut a, &mut store, Call::Request, &mut clock) {
            Outcome::Failed(Error::StoreUnavailable { reason }) => {
                assert!(reason.contains("sign-in lock"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(clock.duration_since(start) >= Duration::from_secs(3));
        assert_eq!(store.sign_ins, 0);
        // The lock expires (the store's TTL): the next call signs in.
        store.lock = None;
        assert!(matches!(
            drive(&mut a, &mut store, Call::Request, &mut clock),
            Outcome::Deliver
        ));
        assert_eq!(store.sign_ins, 1);
    }

    #[test]
    fn a_rejected_session_is_replaced_once_for_the_fleet() {
        let mut clock = Instant::now();
        let mut store = Model::default();
        let mut a = policy(clock, FleetConfig::new());
        let mut b = policy(clock, FleetConfig::new());
        drive(&mut a, &mut store, Call::Request, &mut clock);
        drive(&mut b, &mut store, Call::Request, &mut clock);
        // The server ends the session: each process's next call is rejected; a signs in again
        // and publishes, b adopts (a rejected call replays once).
        let replay = |p: &mut Policy, store: &mut Model, clock: &mut Instant| {
            let id = p.begin(Call::Request);
            let inputs = Inputs::new(*clock, SystemTime::UNIX_EPOCH, [4; 16]);
            let Action::Authorize(grant) = p.poll(id, inputs) else {
                panic!("signed in");
            };
            let mut rejected = Response::new(
                br#"<tsResponse><error code="401002"><summary>x</summary><detail>y</detail></error></tsResponse>"#
                    .to_vec(),
            );
            *rejected.status_mut() = StatusCode::UNAUTHORIZED;
            p.handle_reply(
                id,
                &grant,
                rejected.status(),
                rejected.headers(),
                Some(rejected.body()),
                inputs,
            );
            loop {
                let inputs = Inputs::new(
                    *clock,
                    SystemTime::UNIX_EPOCH,
                    [store.sign_ins as u8 + 9; 16],
                );
                match p.poll(id, inputs) {
                    Action::Store(request) => {
                        let reply = store.run(request).unwrap();
                        p.handle_store(id, reply, inputs);
                    }
                    Action::Send(_) => {
                        store.sign_ins += 1;
                        p.handle_response(id, signed_in(store.sign_ins), inputs);
                    }
                    Action::Authorize(_) => return,
                    Action::WaitUntil(at) => *clock = at,
                    other => panic!("{other:?}"),
                }
            }
        };
        replay(&mut a, &mut store, &mut clock);
        replay(&mut b, &mut store, &mut clock);
        assert_eq!(store.sign_ins, 2, "one more sign-in for the fleet");
        assert_eq!(token_of(&a), token(2));
        assert_eq!(token_of(&b), token(2));
    }

    #[test]
    fn a_store_that_is_down_fails_closed_or_signs_in_locally_as_configured() {
        let mut clock = Instant::now();
        let mut store = Model {
            down: true,
            ..Model::default()
        };
        let mut closed = policy(clock, FleetConfig::new());
        match drive(&mut closed, &mut store, Call::Request, &mut clock) {
            Outcome::Failed(e @ Error::StoreUnavailable { .. }) => {
                assert!(e.to_string().contains("connection refused"), "{e}");
                assert!(e.to_string().contains("failing closed"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(store.sign_ins, 0);
        let local =
            FleetConfig::new().when_store_down(WhenStoreDown::SignInLocally { max_sign_ins: 1 });
        let mut open = policy(clock, local);
        assert!(matches!(
            drive(&mut open, &mut store, Call::Request, &mut clock),
            Outcome::Deliver
        ));
        assert_eq!(store.sign_ins, 1);
        let events: Vec<_> = std::iter::from_fn(|| open.poll_event()).collect();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, SessionEvent::StoreUnavailable { .. })),
            "{events:?}"
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, SessionEvent::FleetSplit { .. })),
            "{events:?}"
        );
        // The store is back: the next need for a session goes through it again.
        store.down = false;
        clock += Duration::from_secs(2);
        assert!(matches!(
            drive(&mut open, &mut store, Call::Renew, &mut clock),
            Outcome::Ready(_)
        ));
        assert_eq!(store.sign_ins, 2);
        assert!(store.record.is_some(), "published once the store is back");
    }

    #[test]
    fn a_publish_sent_twice_adopts_its_own_session() {
        let mut clock = Instant::now();
        let mut store = Model {
            twice: true,
            ..Model::default()
        };
        let mut a = policy(clock, FleetConfig::new());
        assert!(matches!(
            drive(&mut a, &mut store, Call::Request, &mut clock),
            Outcome::Deliver
        ));
        assert_eq!(store.sign_ins, 1);
        let (version, _) = store.record.clone().unwrap();
        assert_eq!(version.generation, 1, "published once");
        let events: Vec<_> = std::iter::from_fn(|| a.poll_event()).collect();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, SessionEvent::Adopted { .. })),
            "the second answer (moved, to its own session) is adopted: {events:?}"
        );
        assert_eq!(token_of(&a), token(1));
        // It holds the record's version: a second process adopts, nobody signs in again.
        let mut b = policy(clock, FleetConfig::new());
        drive(&mut b, &mut store, Call::Request, &mut clock);
        assert_eq!(store.sign_ins, 1);
    }

    #[test]
    fn an_explicit_sign_in_adopts_the_fleets_session() {
        let mut clock = Instant::now();
        let mut store = Model::default();
        let mut a = policy(clock, FleetConfig::new());
        drive(&mut a, &mut store, Call::Request, &mut clock);
        let mut b = policy(clock, FleetConfig::new());
        b.set_credentials(None);
        let sign_in = SignIn::new(Credentials::personal_access_token("etl", "pat-secret"), "");
        let out = drive(
            &mut b,
            &mut store,
            Call::Intent(Intent::SignIn(sign_in)),
            &mut clock,
        );
        assert!(matches!(out, Outcome::Event(Event::SignedIn(_))), "{out:?}");
        assert_eq!(store.sign_ins, 1, "adopted, not signed in again");
        assert_eq!(token_of(&a), token_of(&b));
        // Another PAT is another fleet: its own sign-in.
        let other = SignIn::new(Credentials::personal_access_token("other", "pat-2"), "");
        let out = drive(
            &mut b,
            &mut store,
            Call::Intent(Intent::SignIn(other)),
            &mut clock,
        );
        assert!(matches!(out, Outcome::Event(Event::SignedIn(_))), "{out:?}");
        assert_eq!(store.sign_ins, 2);
    }

    #[test]
    fn a_scope_of_a_fleet_leaves_the_fleets_session_signed_in() {
        let mut clock = Instant::now();
        let mut store = Model::default();
        let mut a = policy(clock, FleetConfig::new());
        drive(&mut a, &mut store, Call::Request, &mut clock);
        let mut b = policy(clock, FleetConfig::new());
        let sign_in = SignIn::new(Credentials::personal_access_token("etl", "pat-secret"), "");
        let scope = b.begin(Call::Intent(Intent::SignIn(sign_in)));
        let out = drive_begun(&mut b, &mut store, scope, &mut clock);
        assert!(matches!(out, Outcome::Event(Event::SignedIn(_))), "{out:?}");
        // The scope ends: this process forgets the session, the fleet keeps it.
        let out = drive(&mut b, &mut store, Call::EndScope(scope), &mut clock);
        assert!(
            matches!(out, Outcome::Event(Event::SignedOut(SignOut::LeftToFleet))),
            "{out:?}"
        );
        assert!(store.record.as_ref().is_some_and(|(_, s)| s.is_some()));
        assert_eq!(store.sign_ins, 1, "adopted, never signed out");
        assert!(a.session().is_signed_in());
    }

    #[test]
    fn sign_out_leaves_the_fleets_session_and_retire_ends_it() {
        let mut clock = Instant::now();
        let mut store = Model::default();
        let mut a = policy(clock, FleetConfig::new());
        drive(&mut a, &mut store, Call::Request, &mut clock);
        let out = drive(
            &mut a,
            &mut store,
            Call::Intent(Intent::SignOut),
            &mut clock,
        );
        assert!(
            matches!(out, Outcome::Event(Event::SignedOut(SignOut::LeftToFleet))),
            "{out:?}"
        );
        assert!(store.record.as_ref().is_some_and(|(_, s)| s.is_some()));
        // Using it again adopts the same session (no sign-in), then retiring ends it for all.
        drive(&mut a, &mut store, Call::Request, &mut clock);
        assert_eq!(store.sign_ins, 1);
        let out = drive(&mut a, &mut store, Call::Retire, &mut clock);
        assert!(
            matches!(out, Outcome::Event(Event::SignedOut(SignOut::Confirmed))),
            "{out:?}"
        );
        let (version, session) = store.record.clone().unwrap();
        assert_eq!(version.generation, 2);
        assert!(session.is_none(), "retired");
        let mut b = policy(clock, FleetConfig::new());
        drive(&mut b, &mut store, Call::Request, &mut clock);
        assert_eq!(store.sign_ins, 2, "a retired record is never adopted");
    }
}
