//! An in-core driver on simulated time: the core's [`Policy`] against the fake server's handlers
//! in process ([`FakeServer::answer`]), with no socket and no real sleep. A wait the policy
//! asks for moves the simulated clock and the fake's clock together, so a scenario with
//! `Retry-After: 3600` runs in microseconds.
//!
//! Concurrent calls are interleaved one step at a time (one poll and its exchange), round-robin,
//! so that N calls can all be rejected before any of them signs in again, as N tasks would.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::{Request, Response};
use tableau_auth_proto::lifecycle::SessionEvent;
use tableau_auth_proto::{
    Action, Call, CallId, Config, FleetConfig, Inputs, Outcome, Policy, StoreReply, StoreRequest,
};

use crate::fake::FakeServer;

/// The largest body the simulated transport reads (like an adapter's `max_body` + 1).
const READ_LIMIT: usize = (1 << 20) + 1;

/// How a simulated call ended.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // a call's result, moved once
pub enum Finished {
    /// The outcome, with the last answer to the caller's own request (for `Deliver`).
    Outcome(Outcome, Option<Box<Response<Vec<u8>>>>),
    /// The transport failed (a hang or a dropped connection in the fake).
    Transport(String),
}

/// One call in flight and what it waits for.
struct Running {
    id: CallId,
    own: Option<Request<Vec<u8>>>,
    last: Option<Box<Response<Vec<u8>>>>,
    transport_error: Option<String>,
    state: State,
    slot: usize,
}

enum State {
    Ready,
    Until(Instant),
    Parked,
    Done(Box<Finished>),
}

/// Runs a fleet's store operation ([`Sim::share`]): the answer, or the failure's message.
pub type Store = Box<dyn FnMut(&StoreRequest) -> Result<StoreReply, String> + Send>;

/// The core's policy, driven on simulated time against a fake server.
pub struct Sim {
    /// The world (shared with other simulated processes of a fleet).
    pub fake: Arc<FakeServer>,
    policy: Policy,
    store: Option<Store>,
    now: Instant,
    wall: SystemTime,
    counter: u64,
    /// Every event the policy reported, in order.
    pub events: Vec<SessionEvent>,
    /// The simulated time spent waiting.
    pub waited: Duration,
}

impl Sim {
    /// A policy for `config` (built for the fake's base URL), driven against `fake`.
    pub fn new(fake: impl Into<Arc<FakeServer>>, config: Config) -> Self {
        #[allow(clippy::disallowed_methods)] // the origin of simulated time
        let now = Instant::now();
        Self {
            fake: fake.into(),
            policy: Policy::new(config, now),
            store: None,
            now,
            wall: SystemTime::now(),
            counter: 0,
            events: Vec::new(),
            waited: Duration::ZERO,
        }
    }

    /// The policy (read-only between calls, and for setting credentials).
    pub fn policy(&mut self) -> &mut Policy {
        &mut self.policy
    }

    /// Shares the session with a fleet through `store` (a real store: its operations run as
    /// they come, outside simulated time).
    pub fn share(&mut self, fleet: FleetConfig, store: Store) {
        self.policy.set_fleet(Some(fleet));
        self.store = Some(store);
    }

    /// The policy's generation.
    pub fn generation(&self) -> u64 {
        self.policy.generation()
    }

    /// The simulated monotonic time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Moves simulated time (and the fake's clock) forward.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.wall += by;
        self.waited += by;
        self.fake.control().advance(by);
    }

    /// Forgets a call in the policy, and runs the release of a lock it leaves on the store (its
    /// answer is not the call's any more).
    fn cancel(&mut self, id: CallId) {
        if let (Some(release), Some(store)) = (self.policy.cancel(id), &mut self.store) {
            let _ = store(&release);
        }
    }

    fn inputs(&mut self) -> Inputs {
        self.counter += 1;
        let mut random = [0u8; 16];
        random[..8].copy_from_slice(
            &self
                .counter
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .to_le_bytes(),
        );
        random[8..].copy_from_slice(&self.counter.to_le_bytes());
        Inputs::new(self.now, self.wall, random)
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.policy.poll_event() {
            self.events.push(event);
        }
    }

    /// Runs one call to its end.
    pub fn run(&mut self, call: Call, own: Option<Request<Vec<u8>>>) -> Finished {
        self.run_all(vec![(call, own)])
            .pop()
            .unwrap_or_else(|| Finished::Transport("no call ran".to_owned()))
    }

    /// Runs calls concurrently, one step at a time, round-robin; their ends in the same order.
    /// Panics on a deadlock (every call parked, none waiting for time).
    pub fn run_all(&mut self, calls: Vec<(Call, Option<Request<Vec<u8>>>)>) -> Vec<Finished> {
        let begun = calls
            .into_iter()
            .map(|(call, own)| (self.policy.begin(call), own))
            .collect();
        self.run_all_begun(begun)
    }

    /// Runs one call already begun ([`Policy::begin`]: its id names a scope, for
    /// [`Call::EndScope`]) to its end.
    pub fn run_begun(&mut self, id: CallId, own: Option<Request<Vec<u8>>>) -> Finished {
        self.run_all_begun(vec![(id, own)])
            .pop()
            .unwrap_or_else(|| Finished::Transport("no call ran".to_owned()))
    }

    fn run_all_begun(&mut self, calls: Vec<(CallId, Option<Request<Vec<u8>>>)>) -> Vec<Finished> {
        let mut results: Vec<Option<Finished>> = calls.iter().map(|_| None).collect();
        let mut running: Vec<Running> = calls
            .into_iter()
            .enumerate()
            .map(|(slot, (id, own))| Running {
                id,
                own,
                last: None,
                transport_error: None,
                state: State::Ready,
                slot,
            })
            .collect();
        let mut steps = 0u32;
        while !running.is_empty() {
            steps += 1;
            assert!(steps < 100_000, "the simulation does not end");
            let Some(index) = running.iter().position(|r| matches!(r.state, State::Ready)) else {
                let next = running
                    .iter()
                    .filter_map(|r| match r.state {
                        State::Until(at) => Some(at),
                        _ => None,
                    })
                    .min()
                    .expect("deadlock: every call is parked and none waits for time");
                let by = next.saturating_duration_since(self.now);
                self.advance(by);
                for r in &mut running {
                    if matches!(r.state, State::Until(at) if at <= self.now) {
                        r.state = State::Ready;
                    }
                }
                continue;
            };
            // Round-robin: the stepped call goes to the back.
            let mut call = running.remove(index);
            let progressed = self.step(&mut call);
            if progressed {
                for r in &mut running {
                    if matches!(r.state, State::Parked) {
                        r.state = State::Ready;
                    }
                }
            }
            match std::mem::replace(&mut call.state, State::Ready) {
                State::Done(finished) => results[call.slot] = Some(*finished),
                state => {
                    call.state = state;
                    running.push(call);
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Finished::Transport("lost".to_owned())))
            .collect()
    }

    /// One poll of `call` and the exchange it asks for. Whether anything changed that parked
    /// calls wait for.
    fn step(&mut self, call: &mut Running) -> bool {
        let inputs = self.inputs();
        let action = self.policy.poll(call.id, inputs);
        self.drain_events();
        let progressed = match action {
            Action::Send(request) => {
                let answer = self.fake.answer(request, READ_LIMIT);
                let inputs = self.inputs();
                match answer {
                    Ok(response) => self.policy.handle_response(call.id, response, inputs),
                    Err(e) => {
                        self.policy.transport_failed(call.id, &e);
                        call.transport_error = Some(e);
                    }
                }
                call.state = State::Ready;
                true
            }
            Action::Authorize(grant) => {
                let mut request = call.own.clone().expect("an own request to authorize");
                if let Err(e) = grant.authorize(&mut request) {
                    self.cancel(call.id);
                    self.finish(call, Finished::Outcome(Outcome::Failed(e), None));
                    return true;
                }
                let answer = self.fake.answer(request, READ_LIMIT);
                let inputs = self.inputs();
                match answer {
                    Ok(response) => {
                        if grant.completes(response.status()) {
                            self.cancel(call.id);
                            self.finish(
                                call,
                                Finished::Outcome(Outcome::Deliver, Some(Box::new(response))),
                            );
                            return true;
                        }
                        self.policy.handle_reply(
                            call.id,
                            &grant,
                            response.status(),
                            response.headers(),
                            Some(response.body()),
                            inputs,
                        );
                        call.last = Some(Box::new(response));
                    }
                    Err(e) => {
                        self.policy.transport_failed(call.id, &e);
                        call.transport_error = Some(e);
                    }
                }
                call.state = State::Ready;
                true
            }
            Action::Store(request) => {
                let reply = match &mut self.store {
                    Some(store) => store(&request),
                    None => Err("no store".to_owned()),
                };
                let inputs = self.inputs();
                match reply {
                    Ok(reply) => self.policy.handle_store(call.id, reply, inputs),
                    Err(e) => self.policy.store_failed(call.id, &e, inputs),
                }
                call.state = State::Ready;
                true
            }
            Action::WaitUntil(at) => {
                call.state = State::Until(at);
                false
            }
            Action::Wait => {
                call.state = State::Parked;
                false
            }
            Action::Done(Outcome::TransportError) => {
                let e = call.transport_error.take().unwrap_or_default();
                self.finish(call, Finished::Transport(e));
                true
            }
            Action::Done(outcome) => {
                let last = call.last.take();
                self.finish(call, Finished::Outcome(outcome, last));
                true
            }
            _ => panic!("an action this driver does not know"),
        };
        self.drain_events();
        progressed
    }

    fn finish(&mut self, call: &mut Running, finished: Finished) {
        call.state = State::Done(Box::new(finished));
    }
}
