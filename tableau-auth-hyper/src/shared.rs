//! One session shared by many tasks.
//!
//! **What is locked where.**
//!
//! * The token is read without a lock: [`Current`], an immutable snapshot (token header value,
//!   generation, site, API version, URLs, deadlines), sits in an `ArcSwapOption`. A request
//!   loads it (one atomic operation), checks the URL and copies the header value (a reference
//!   count). Nothing else is touched on a successful request except two atomics: the shared
//!   "throttled until" instant (a load) and the "last used" instant (a `fetch_max`).
//! * Exchanges with the server (sign-in, renewal, sign-out, switch site, …) are single-flight:
//!   they run under a `tokio::sync::Mutex` (the *gate*), which also holds the stored
//!   credentials, the generation counter and the last failed attempt.
//! * The core [`Session`] lives in a `std::sync::Mutex` that is only ever held for one
//!   synchronous call of the core (`start`, `handle_response`, `abort`, `classify`, `touch`,
//!   reading the new token), never across an `.await`. Exchanges take it between their network
//!   steps while holding the gate; `classify` of a failed response takes it briefly from any
//!   task (a success is recognised from its status alone, as the core does, without a lock).
//!
//! **Generations.** Every successful sign-in publishes a new snapshot with generation + 1. A
//! task whose request was rejected (`401002` and kin) with generation `g` calls
//! `reauthenticate(g)`: under the gate it re-checks the generation and signs in only if it is
//! still `g`; otherwise someone already did and it just replays on the newer token. So N tasks
//! rejected on one generation cause exactly one sign-in, and each replays once; a second
//! rejection of the replay is returned as [`Error::SessionEnded`], never retried again.
//!
//! **Failed sign-ins are shared too.** A task takes a ticket (the number of sign-in attempts
//! started so far) before it sends its request. If it is rejected and, once it holds the gate,
//! the last attempt started after its ticket and failed, it gets that failure
//! ([`Error::Reauthentication`]) instead of trying again: a failing server sees one attempt per
//! wave of rejected requests, not one per task.
//!
//! **Cancellation.** A task cancelled while it runs an exchange (its future dropped) releases
//! the gate (the guard is dropped) and calls [`Session::abort`] through a drop guard, so the
//! core is not left with an exchange in flight and the next task can sign in.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use tableau_auth_proto::http::header::HeaderValue;
#[cfg(feature = "tower")]
use tableau_auth_proto::http::header::{HeaderMap, RETRY_AFTER};
use tableau_auth_proto::http::{Request, Response, StatusCode, Uri};
use tableau_auth_proto::secret::ExposeSecret;
use tableau_auth_proto::{
    ApiVersion, Event, Expiry, Intent, Origin, RenewalSchedule, RetryAfter, Session, SignIn,
    SignOut, SignedIn, SiteId, Step, Verdict, X_TABLEAU_AUTH,
};
use tokio::sync::{Mutex as AsyncMutex, Notify};

use crate::error::{EndReason, Error, scrub};
use crate::event::{EventCallback, RenewReason, SessionEvent, emit};
use crate::transport::Transport;

/// How precisely the last use is recorded (idle limits are minutes; margins seconds).
const TOUCH_RESOLUTION: Duration = Duration::from_millis(10);

/// The wait after a 429/503 without a usable `Retry-After`.
const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Settings of the shared session (from the builder).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The core's expiry margin (the core's config has it too), for the renewal backoff.
    pub(crate) expiry_margin: Duration,
    pub(crate) max_retries: u32,
    pub(crate) max_retry_wait: Duration,
    pub(crate) reauthenticate: bool,
    pub(crate) renew_before_expiry: bool,
}

impl Settings {
    /// How long proactive renewal pauses after a failed attempt.
    fn renew_backoff(&self) -> Duration {
        (self.expiry_margin / 4).clamp(Duration::from_millis(250), Duration::from_secs(10))
    }
}

/// A snapshot of the shared session: what a request needs to be authorized, read without a
/// lock. Immutable; a new sign-in publishes a new one with a higher [`Current::generation`].
pub struct Current {
    token: HeaderValue,
    generation: u64,
    info: SignedIn,
    origin: Origin,
    base_url: String,
    api_base: String,
    site_base: String,
    schedule: RenewalSchedule,
}

impl fmt::Debug for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Current")
            .field("token", &"[redacted]")
            .field("generation", &self.generation)
            .field("signed_in", &self.info)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Current {
    fn from_session(session: &Session, generation: u64) -> Result<Self, Error> {
        let (Some(token), Some(info), Some(schedule)) = (
            session.token(),
            session.signed_in(),
            session.renewal_schedule(),
        ) else {
            return Err(Error::not_signed_in());
        };
        let mut token = HeaderValue::from_str(token.expose_secret())
            .map_err(|_| Error::Tableau(tableau_auth_proto::Misuse::NotSignedIn.into()))?;
        token.set_sensitive(true);
        Ok(Self {
            token,
            generation,
            info: info.clone(),
            origin: session.origin(),
            api_base: session.api_url("")?.to_string(),
            site_base: session.site_url("")?.to_string(),
            base_url: session.base_url(),
            schedule,
        })
    }

    /// The generation: 1 for the first sign-in of a client, one more for each later one.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The session as the sign-in returned it (site, user, API version, credentials expiry).
    pub fn signed_in(&self) -> &SignedIn {
        &self.info
    }

    /// The site's LUID, for site-scoped URLs.
    pub fn site_id(&self) -> &SiteId {
        &self.info.site_id
    }

    /// The API version of the session.
    pub fn api_version(&self) -> ApiVersion {
        self.info.api_version
    }

    /// The base URL of the server the session belongs to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// When the sign-in's response arrived.
    pub fn signed_in_at(&self) -> Instant {
        self.schedule.signed_in_at()
    }

    /// The session token as a header value (marked sensitive, so `Debug` hides it). Prefer
    /// [`Current::authorize`], which also checks where the request goes.
    pub fn header_value(&self) -> &HeaderValue {
        &self.token
    }

    /// `{base}/api/{version}/{path}` (like [`Session::api_url`]).
    pub fn api_url(&self, path: &str) -> Result<Uri, Error> {
        join(&self.api_base, path)
    }

    /// `{base}/api/{version}/sites/{site-luid}/{path}` (like [`Session::site_url`]).
    pub fn site_url(&self, path: &str) -> Result<Uri, Error> {
        join(&self.site_base, path)
    }

    /// Whether `uri` goes to this session's server: same scheme, host and port (the core's
    /// [`tableau_auth_proto::Origin::matches`], the check of [`Session::authorize_request`]).
    pub fn is_same_server(&self, uri: &Uri) -> bool {
        self.origin.matches(uri)
    }

    /// Adds `X-Tableau-Auth` (sensitive) to a request for this session's server; a request for
    /// any other server (or over plain http when the session is on https) is refused with
    /// [`tableau_auth_proto::Misuse::ForeignUrl`], exactly as [`Session::authorize_request`]
    /// does.
    pub fn authorize<B>(&self, request: &mut Request<B>) -> Result<(), Error> {
        if !self.is_same_server(request.uri()) {
            return Err(Error::Tableau(
                tableau_auth_proto::Misuse::ForeignUrl.into(),
            ));
        }
        request
            .headers_mut()
            .insert(X_TABLEAU_AUTH, self.token.clone());
        Ok(())
    }

    /// When to sign in again given the last use, and why: the core's
    /// [`tableau_auth_proto::RenewalSchedule::renew_at`] (the computation of
    /// [`Session::poll_timeout`]) on the snapshot, so that no lock is needed. When every deadline
    /// overflows `Instant`, the sign-in time: a deadline not after the sign-in is never acted on.
    pub fn renew_at(&self, last_used: Instant) -> (Instant, Expiry) {
        self.schedule
            .renew_at(last_used)
            .unwrap_or((self.schedule.signed_in_at(), Expiry::IdleLimit))
    }

    fn token_text(&self) -> &str {
        self.token.to_str().unwrap_or_default()
    }
}

fn join(base: &str, path: &str) -> Result<Uri, Error> {
    format!("{base}{}", path.trim_start_matches('/'))
        .parse()
        .map_err(|_| {
            Error::Tableau(tableau_auth_proto::Misuse::InvalidCharacter("API path").into())
        })
}

/// What made a task ask for a new sign-in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Trigger {
    /// No session yet; the builder's credentials are used.
    Initial,
    /// The session is about to reach a limit.
    Expiring(Expiry),
    /// The server rejected the token; the rejection arrived at this instant.
    Rejected { at: Instant },
    /// The caller asked.
    Requested,
}

/// What the single-flight gate protects besides the right to run an exchange.
struct Gate {
    sign_in: Option<SignIn>,
    generation: u64,
    /// The number of the last failed sign-in attempt and its error.
    last_failure: Option<(u64, Arc<Error>)>,
}

/// The state every clone of a [`crate::Client`] shares.
pub(crate) struct Shared {
    pub(crate) transport: Transport,
    pub(crate) settings: Settings,
    session: StdMutex<Session>,
    gate: AsyncMutex<Gate>,
    current: ArcSwapOption<Current>,
    /// The generation of the last publication (also when signed out).
    latest_generation: AtomicU64,
    /// The highest generation whose end was already reported (one event per generation).
    ended_generation: AtomicU64,
    has_credentials: AtomicBool,
    /// The origin of the nanosecond offsets below.
    epoch: Instant,
    last_used: AtomicU64,
    throttled_until: AtomicU64,
    proactive_not_before: AtomicU64,
    attempts: AtomicU64,
    jitter_counter: AtomicU64,
    jitter_seed: u64,
    pub(crate) published: Arc<Notify>,
    on_event: Option<EventCallback>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("current", &self.current.load())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Aborts the core's exchange when dropped: on a transport error, and when the task running
/// the exchange is cancelled (its future dropped at an `.await`). Aborting a finished exchange
/// is a no-op, so it always runs.
struct AbortOnDrop<'a>(&'a StdMutex<Session>);

impl Drop for AbortOnDrop<'_> {
    fn drop(&mut self) {
        lock(self.0).abort();
    }
}

fn lock(session: &StdMutex<Session>) -> MutexGuard<'_, Session> {
    // The core never panics, so a poisoned lock only means a panicking callback: go on.
    session.lock().unwrap_or_else(PoisonError::into_inner)
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The sign-in with this moment's time and fresh randomness for a connected-app JWT.
pub(crate) fn fresh(sign_in: &SignIn) -> Result<SignIn, Error> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|e| Error::Config(format!("no randomness: {e}")))?;
    Ok(sign_in.clone().mint_inputs(SystemTime::now(), random))
}

pub(crate) fn unexpected(event: &Event) -> Error {
    Error::Transport(format!("unexpected outcome: {event:?}"))
}

impl Shared {
    pub(crate) fn new(
        session: Session,
        transport: Transport,
        settings: Settings,
        sign_in: Option<SignIn>,
        on_event: Option<EventCallback>,
    ) -> Self {
        let jitter_seed = getrandom::u64().unwrap_or_else(|_| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
        Self {
            transport,
            settings,
            session: StdMutex::new(session),
            has_credentials: AtomicBool::new(sign_in.is_some()),
            gate: AsyncMutex::new(Gate {
                sign_in,
                generation: 0,
                last_failure: None,
            }),
            current: ArcSwapOption::empty(),
            latest_generation: AtomicU64::new(0),
            ended_generation: AtomicU64::new(0),
            epoch: Instant::now(),
            last_used: AtomicU64::new(0),
            throttled_until: AtomicU64::new(0),
            proactive_not_before: AtomicU64::new(0),
            attempts: AtomicU64::new(0),
            jitter_counter: AtomicU64::new(0),
            jitter_seed,
            published: Arc::new(Notify::new()),
            on_event,
        }
    }

    // ----- clocks as atomics -------------------------------------------------------------

    fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    fn instant(&self, nanos: u64) -> Instant {
        self.epoch + Duration::from_nanos(nanos)
    }

    /// The last time a response to an authorized request succeeded (or the client's creation).
    pub(crate) fn last_used(&self) -> Instant {
        self.instant(self.last_used.load(Ordering::Relaxed))
    }

    /// Records a successful response on `generation` (ignored for an older generation: its
    /// activity says nothing of the current session's idle clock).
    /// Only moves the instant when it is more than [`TOUCH_RESOLUTION`] old, so that busy
    /// tasks on several cores do not all write the same cache line on every response.
    pub(crate) fn touch(&self, generation: u64) {
        self.touch_at(generation, Instant::now());
    }

    /// [`Shared::touch`] with the instant the request was sent (the server restarts its idle
    /// clock when the request arrives, so that instant is the better one, and it saves a clock
    /// reading).
    pub(crate) fn touch_at(&self, generation: u64, at: Instant) {
        if self.latest_generation.load(Ordering::Relaxed) == generation {
            let now = self.nanos(at);
            let last = self.last_used.load(Ordering::Relaxed);
            if now > last.saturating_add(TOUCH_RESOLUTION.as_nanos() as u64) {
                self.last_used.fetch_max(now, Ordering::Relaxed);
            }
        }
    }

    // ----- reading ---------------------------------------------------------------------------

    pub(crate) fn current(&self) -> Option<Arc<Current>> {
        self.current.load_full()
    }

    pub(crate) fn emit(&self, event: &SessionEvent) {
        emit(self.on_event.as_ref(), event);
    }

    /// Runs `f` on the core session, after applying the last recorded use.
    pub(crate) fn with_session<R>(&self, f: impl FnOnce(&Session) -> R) -> R {
        let mut session = lock(&self.session);
        session.touch(self.last_used());
        f(&session)
    }

    /// What a failed response to an authorized request means (the core's `classify`, with the
    /// token that was sent scrubbed from any error text even if the session moved on since).
    pub(crate) fn classify<B: AsRef<[u8]>>(
        &self,
        response: &Response<B>,
        sent: &Current,
    ) -> Verdict {
        let verdict = lock(&self.session).classify(response);
        let secret = sent.token_text();
        match verdict {
            Verdict::Reauthenticate(e) => Verdict::Reauthenticate(scrub(e, secret)),
            Verdict::Retry(e) => Verdict::Retry(scrub(e, secret)),
            Verdict::Fail(e) => Verdict::Fail(scrub(e, secret)),
            other => other,
        }
    }

    /// Superseded or expired (see [`SessionEvent::Superseded`]); reports it once per
    /// generation, and only for the generation in use.
    pub(crate) fn note_end(&self, ended: &Current, at: Instant) -> EndReason {
        let reason = match ended.schedule.rejection_reason(self.last_used(), at) {
            RenewReason::Superseded => EndReason::Superseded,
            _ => EndReason::Expired,
        };
        let generation = ended.generation;
        if self.latest_generation.load(Ordering::Acquire) == generation
            && self
                .ended_generation
                .fetch_max(generation, Ordering::AcqRel)
                < generation
        {
            self.emit(&match reason {
                EndReason::Superseded => SessionEvent::Superseded { generation },
                EndReason::Expired => SessionEvent::Expired { generation },
            });
        }
        reason
    }

    /// Whether a rejected token can be replaced by signing in again.
    pub(crate) fn can_reauthenticate(&self) -> bool {
        self.settings.reauthenticate && self.has_credentials.load(Ordering::Acquire)
    }

    // ----- throttling ------------------------------------------------------------------------

    /// Waits until the shared "throttled until" instant has passed (one atomic load when not
    /// throttled).
    pub(crate) async fn wait_throttle(&self) {
        if self.throttled_until.load(Ordering::Acquire) != 0 {
            // Boxed: the waiting (a timer) stays out of every request's future.
            Box::pin(self.sleep_while_throttled()).await;
        }
    }

    async fn sleep_while_throttled(&self) {
        loop {
            let until = self.instant(self.throttled_until.load(Ordering::Acquire));
            if Instant::now() >= until {
                return;
            }
            tokio::time::sleep_until(until.into()).await;
        }
    }

    /// Up to 10% of `delay` (at most 1 s), from a per-client counter mixed with a random seed:
    /// clients throttled together do not come back together.
    fn jitter(&self, delay: Duration) -> Duration {
        let n = self.jitter_counter.fetch_add(1, Ordering::Relaxed);
        let r = splitmix64(n ^ self.jitter_seed);
        let fraction = (r >> 11) as f64 / (1u64 << 53) as f64;
        (delay / 10).min(Duration::from_secs(1)).mul_f64(fraction)
    }

    /// Opens (or extends) the shared throttling window for a 429/503 and returns the wait, or
    /// `None` when the server asks for longer than the retry cap (then nobody waits for it: the
    /// error goes back to the caller).
    pub(crate) fn throttle(
        &self,
        status: StatusCode,
        retry_after: Option<RetryAfter>,
    ) -> Option<Duration> {
        let delay = retry_after.map_or(DEFAULT_RETRY_DELAY, |r| r.delay_from(SystemTime::now()));
        if delay > self.settings.max_retry_wait {
            return None;
        }
        let delay = delay.saturating_add(self.jitter(delay));
        let now = Instant::now();
        let until = now
            .checked_add(delay)
            .map_or(u64::MAX, |until| self.nanos(until))
            .max(1);
        let previous = self.throttled_until.fetch_max(until, Ordering::AcqRel);
        if previous <= self.nanos(now) {
            self.emit(&SessionEvent::Throttled { delay, status });
        }
        Some(delay)
    }

    /// [`Shared::throttle`] for a core error (429/503 only).
    pub(crate) fn throttle_error(&self, e: &tableau_auth_proto::Error) -> Option<Duration> {
        let status = e.status().filter(|_| e.is_retryable())?;
        self.throttle(status, e.retry_after())
    }

    /// [`Shared::throttle`] for a raw response head (the tower layer, which passes the response
    /// through).
    #[cfg(feature = "tower")]
    pub(crate) fn throttle_response(&self, status: StatusCode, headers: &HeaderMap) {
        if matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            let retry_after = headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(RetryAfter::parse);
            let _ = self.throttle(status, retry_after);
        }
    }

    // ----- the request path --------------------------------------------------------------

    /// The snapshot to send with right now, and the instant, when nothing needs waiting for:
    /// not throttled, signed in, and not due for a proactive renewal. `None` sends the caller
    /// to [`Shared::wait_throttle`] and [`Shared::ready`]. No lock, one clock reading.
    pub(crate) fn ready_now(&self) -> Option<(Arc<Current>, Instant)> {
        let now = Instant::now();
        let throttled = self.throttled_until.load(Ordering::Acquire);
        if throttled != 0 && self.nanos(now) < throttled {
            return None;
        }
        let current = self.current.load_full()?;
        if self.settings.renew_before_expiry {
            let (at, _) = current.renew_at(self.last_used());
            if now >= at
                && at > current.signed_in_at()
                && self.nanos(now) >= self.proactive_not_before.load(Ordering::Relaxed)
            {
                return None;
            }
        }
        Some((current, now))
    }

    /// The snapshot to send with: signs in first when there is no session yet (builder
    /// credentials), and renews proactively when the session is about to expire. A failed
    /// proactive renewal is not fatal: the old token may still be valid within the margin, so
    /// it is used, and renewal pauses briefly.
    pub(crate) async fn ready(&self) -> Result<Arc<Current>, Error> {
        if let Some((current, _)) = self.ready_now() {
            return Ok(current);
        }
        let Some(current) = self.current.load_full() else {
            if !self.has_credentials.load(Ordering::Acquire) {
                return Err(Error::not_signed_in());
            }
            let seen = self.latest_generation.load(Ordering::Acquire);
            // Boxed, here and below: signing in is rare, and its future is large; every
            // request's future stays small.
            return Box::pin(self.reauthenticate(seen, self.ticket(), Trigger::Initial)).await;
        };
        if !self.settings.renew_before_expiry {
            return Ok(current);
        }
        let now = Instant::now();
        let (at, why) = current.renew_at(self.last_used());
        // A session already due when it was signed in (credentials about to expire) would be
        // due again after a new sign-in: no proactive renewal for it.
        let due = now >= at && at > current.signed_in_at();
        if !due || self.nanos(now) < self.proactive_not_before.load(Ordering::Relaxed) {
            return Ok(current);
        }
        let renewal =
            self.reauthenticate(current.generation, self.ticket(), Trigger::Expiring(why));
        match Box::pin(renewal).await {
            Ok(fresh) => Ok(fresh),
            Err(e) => {
                let pause = Instant::now() + self.settings.renew_backoff();
                self.proactive_not_before
                    .fetch_max(self.nanos(pause), Ordering::Relaxed);
                tracing::debug!(target: "tableau_auth_hyper", error = %e, "proactive renewal failed; using the current token");
                Ok(self.current.load_full().unwrap_or(current))
            }
        }
    }

    /// The number of sign-in attempts started so far. Take it before sending a request, and
    /// pass it to [`Shared::reauthenticate`] if the request is rejected: an attempt that started
    /// after it answers the rejection too, even if it failed.
    pub(crate) fn ticket(&self) -> u64 {
        self.attempts.load(Ordering::Acquire)
    }

    /// Single-flight re-authentication: signs in again only if the session is still the one of
    /// generation `seen`; otherwise returns the newer snapshot someone else published. If the
    /// last attempt started after `ticket` and failed, its error is returned without trying
    /// again.
    pub(crate) async fn reauthenticate(
        &self,
        seen: u64,
        ticket: u64,
        trigger: Trigger,
    ) -> Result<Arc<Current>, Error> {
        let mut gate = self.gate.lock().await;
        if gate.generation != seen
            && let Some(current) = self.current.load_full()
        {
            return Ok(current);
        }
        if let Some((attempt, error)) = &gate.last_failure
            && *attempt > ticket
        {
            return Err(Error::Reauthentication(error.clone()));
        }
        let Some(sign_in) = gate.sign_in.clone() else {
            return Err(Error::not_signed_in());
        };
        let reason = match trigger {
            Trigger::Initial => None,
            Trigger::Expiring(why) => Some(RenewReason::Expiring(why)),
            Trigger::Requested => Some(RenewReason::Requested),
            Trigger::Rejected { at } => Some(match self.current.load_full() {
                Some(ended) => match self.note_end(&ended, at) {
                    EndReason::Superseded => RenewReason::Superseded,
                    EndReason::Expired => RenewReason::Expired,
                },
                None => RenewReason::Expired,
            }),
        };
        let attempt = self.attempts.fetch_add(1, Ordering::AcqRel) + 1;
        let result = async {
            let intent = Intent::SignIn(fresh(&sign_in)?);
            let event = self.exchange_locked(&mut gate, intent).await?;
            match event {
                Event::SignedIn(_) => self.publish(&mut gate),
                other => Err(unexpected(&other)),
            }
        }
        .await;
        match result {
            Ok(current) => {
                gate.last_failure = None;
                let generation = current.generation;
                self.emit(&match reason {
                    None => SessionEvent::SignedIn { generation },
                    Some(reason) => SessionEvent::Renewed { generation, reason },
                });
                Ok(current)
            }
            Err(e) => {
                let error = Arc::new(e);
                gate.last_failure = Some((attempt, error.clone()));
                self.emit(&SessionEvent::RenewalFailed {
                    generation: seen,
                    error: error.to_string(),
                });
                Err(Error::Reauthentication(error))
            }
        }
    }

    // ----- exchanges (under the gate) ------------------------------------------------------

    /// Runs one exchange of the core to its end. The `Gate` borrow proves the caller holds the
    /// single-flight lock.
    async fn exchange_locked(&self, _gate: &mut Gate, intent: Intent) -> Result<Event, Error> {
        let _abort = AbortOnDrop(&self.session);
        let mut step = {
            let mut session = lock(&self.session);
            session.touch(self.last_used());
            session.start(intent, Instant::now())?
        };
        loop {
            match step {
                Step::Send(request) => {
                    self.wait_throttle().await;
                    // A transport error returns here; the guard aborts the exchange.
                    let response = self.transport.send(request).await?;
                    let handled = lock(&self.session).handle_response(response, Instant::now());
                    step = match handled {
                        Ok(step) => step,
                        Err(e) => {
                            // A throttled sign-in makes the other tasks wait too.
                            let _ = self.throttle_error(&e);
                            return Err(e.into());
                        }
                    };
                }
                Step::Done(event) => return Ok(event),
            }
        }
    }

    /// Publishes the core's new session as generation + 1.
    fn publish(&self, gate: &mut Gate) -> Result<Arc<Current>, Error> {
        let generation = gate.generation + 1;
        let current = {
            let session = lock(&self.session);
            Current::from_session(&session, generation)?
        };
        gate.generation = generation;
        let current = Arc::new(current);
        self.current.store(Some(current.clone()));
        self.latest_generation.store(generation, Ordering::Release);
        self.published.notify_waiters();
        Ok(current)
    }

    fn unpublish(&self, gate: &mut Gate) {
        gate.sign_in = None;
        self.has_credentials.store(false, Ordering::Release);
        self.current.store(None);
        self.published.notify_waiters();
    }

    /// Runs an exchange that does not change the session (server info, ticket, sign out a
    /// foreign token).
    pub(crate) async fn run(&self, intent: Intent) -> Result<Event, Error> {
        let mut gate = self.gate.lock().await;
        self.exchange_locked(&mut gate, intent).await
    }

    /// Signs in (signing out a session held before) and stores the credentials for renewals.
    pub(crate) async fn sign_in(&self, sign_in: SignIn) -> Result<SignedIn, Error> {
        let mut gate = self.gate.lock().await;
        if lock(&self.session).is_signed_in() {
            // Best effort: the new sign-in is what was asked for.
            let _ = self.sign_out_locked(&mut gate).await;
        }
        let intent = Intent::SignIn(fresh(&sign_in)?);
        let event = self.exchange_locked(&mut gate, intent).await?;
        let Event::SignedIn(info) = event else {
            return Err(unexpected(&event));
        };
        gate.sign_in = Some(sign_in);
        gate.last_failure = None;
        self.has_credentials.store(true, Ordering::Release);
        let current = self.publish(&mut gate)?;
        self.emit(&SessionEvent::SignedIn {
            generation: current.generation,
        });
        Ok(info)
    }

    /// A new sign-in with the stored credentials, whatever the state of the session.
    pub(crate) async fn renew(&self) -> Result<Arc<Current>, Error> {
        let seen = self.latest_generation.load(Ordering::Acquire);
        let trigger = if self.current.load().is_some() {
            Trigger::Requested
        } else {
            Trigger::Initial
        };
        self.reauthenticate(seen, self.ticket(), trigger).await
    }

    pub(crate) async fn sign_out(&self) -> Result<SignOut, Error> {
        let mut gate = self.gate.lock().await;
        self.sign_out_locked(&mut gate).await
    }

    async fn sign_out_locked(&self, gate: &mut Gate) -> Result<SignOut, Error> {
        let generation = gate.generation;
        let event = self.exchange_locked(gate, Intent::SignOut).await?;
        let Event::SignedOut(outcome) = event else {
            return Err(unexpected(&event));
        };
        // Only once the session is gone: a failed sign-out keeps it usable.
        self.unpublish(gate);
        if outcome != SignOut::NotSignedIn {
            self.emit(&SessionEvent::SignedOut {
                generation,
                outcome,
            });
        }
        Ok(outcome)
    }

    /// Moves the session to another site; the new token is published as a new generation.
    pub(crate) async fn switch_site(
        &self,
        site: tableau_auth_proto::SiteContentUrl,
    ) -> Result<Option<SignedIn>, Error> {
        let mut gate = self.gate.lock().await;
        let event = self
            .exchange_locked(&mut gate, Intent::SwitchSite(site.clone()))
            .await?;
        match event {
            Event::SiteSwitched(info) => {
                // A later re-sign-in must land on the new site.
                gate.sign_in = gate.sign_in.take().map(|s| s.with_site(site));
                let current = self.publish(&mut gate)?;
                self.emit(&SessionEvent::SignedIn {
                    generation: current.generation,
                });
                Ok(Some(info))
            }
            Event::SiteUnchanged => Ok(None),
            other => Err(unexpected(&other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tableau_auth_proto::Config;

    const SIGNIN_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<tsResponse xmlns="http://tableau.com/api"><credentials token="TOKEN-abcdef-123456" estimatedTimeToExpiration="361:12:00">
<site id="a946d998-2ead-4894-bb50-1054a91dcab3" contentUrl=""/><user id="1a96d216-e9b8-497b-a82a-0b899a965e01"/></credentials></tsResponse>"#;

    /// A core session signed in at `at` (fed a canned response), with these limits.
    fn signed_in(lifetime: Option<Duration>, at: Instant) -> Session {
        let mut config = Config::builder("https://tableau.example.com:8443")
            .api_version("3.25".parse().unwrap())
            .idle_limit(Duration::from_secs(600))
            .expiry_margin(Duration::from_secs(30));
        if let Some(l) = lifetime {
            config = config.lifetime_limit(l);
        }
        let mut session = Session::new(config.build().unwrap());
        let sign_in = SignIn::new(
            tableau_auth_proto::Credentials::password("u", "password"),
            "",
        );
        let step = session.start(Intent::SignIn(sign_in), at).unwrap();
        assert!(matches!(step, Step::Send(_)));
        let response = Response::new(SIGNIN_XML.as_bytes().to_vec());
        match session.handle_response(response, at).unwrap() {
            Step::Done(Event::SignedIn(_)) => session,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_snapshot_deadline_is_the_cores_poll_timeout() {
        for lifetime in [
            None,
            Some(Duration::from_secs(300)),
            Some(Duration::from_secs(3_000)),
        ] {
            let t0 = Instant::now();
            let mut session = signed_in(lifetime, t0);
            let current = Current::from_session(&session, 1).unwrap();
            for used in [0u64, 10, 200, 1_000, 5_000] {
                let last_used = t0 + Duration::from_secs(used);
                session.touch(last_used);
                assert_eq!(
                    Some(current.renew_at(last_used)),
                    session.poll_timeout(),
                    "lifetime {lifetime:?}, used at +{used} s"
                );
            }
        }
    }

    #[test]
    fn the_snapshot_url_check_is_the_cores() {
        let session = signed_in(None, Instant::now());
        let current = Current::from_session(&session, 1).unwrap();
        for url in [
            "https://tableau.example.com:8443/api/3.25/sessions/current",
            "https://TABLEAU.example.com:8443/x",
            "https://tableau.example.com/api/3.25/sessions/current",
            "http://tableau.example.com:8443/api/3.25/sessions/current",
            "https://tableau.example.com:8443.evil.example/x",
            "https://evil.example/x",
            "/api/3.25/sessions/current",
        ] {
            let mut ours = Request::get(url).body(()).unwrap();
            let mut core = Request::get(url).body(()).unwrap();
            let a = current.authorize(&mut ours).is_ok();
            let b = session.authorize_request(&mut core).is_ok();
            assert_eq!(a, b, "{url}");
            assert_eq!(
                ours.headers().get(X_TABLEAU_AUTH),
                core.headers().get(X_TABLEAU_AUTH),
                "{url}"
            );
            if a {
                assert!(ours.headers()[X_TABLEAU_AUTH].is_sensitive());
            }
        }
        assert_eq!(
            current.api_url("sessions/current").unwrap(),
            session.api_url("sessions/current").unwrap()
        );
        assert_eq!(
            current.site_url("/workbooks").unwrap(),
            session.site_url("/workbooks").unwrap()
        );
        let shown = format!("{current:?}");
        assert!(!shown.contains("TOKEN-abcdef"), "{shown}");
    }

    #[test]
    fn jitter_stays_within_a_tenth() {
        let shared = test_shared();
        for secs in [0u64, 1, 5, 60, 3_600] {
            let delay = Duration::from_secs(secs);
            for _ in 0..100 {
                let j = shared.jitter(delay);
                assert!(j <= delay / 10 && j <= Duration::from_secs(1), "{j:?}");
            }
        }
    }

    #[test]
    fn the_throttling_window_is_shared_and_capped() {
        let shared = test_shared();
        let d = shared
            .throttle(
                StatusCode::TOO_MANY_REQUESTS,
                Some(RetryAfter::Delay(Duration::from_secs(2))),
            )
            .unwrap();
        assert!(d >= Duration::from_secs(2) && d <= Duration::from_millis(2_200));
        let until = shared.throttled_until.load(Ordering::Relaxed);
        // A shorter wait never shortens the window.
        shared.throttle(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(RetryAfter::Delay(Duration::ZERO)),
        );
        assert_eq!(shared.throttled_until.load(Ordering::Relaxed), until);
        // Beyond the cap: no window, the caller gets the error.
        assert!(
            shared
                .throttle(
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(RetryAfter::Delay(Duration::from_secs(3_600)))
                )
                .is_none()
        );
        assert_eq!(shared.throttled_until.load(Ordering::Relaxed), until);
    }

    fn test_shared() -> Shared {
        let settings = Settings {
            expiry_margin: Duration::from_secs(30),
            max_retries: 3,
            max_retry_wait: Duration::from_secs(60),
            reauthenticate: true,
            renew_before_expiry: true,
        };
        let limits = crate::error::Limits {
            connect: Duration::from_secs(1),
            read: Duration::from_secs(1),
            exchange: Duration::from_secs(1),
            max_body: 1 << 20,
        };
        let transport = Transport::new(
            &crate::tls::TlsOptions::default(),
            limits,
            Duration::from_secs(1),
            usize::MAX,
        )
        .unwrap();
        let config = Config::builder("https://tableau.example.com")
            .build()
            .unwrap();
        Shared::new(Session::new(config), transport, settings, None, None)
    }
}
