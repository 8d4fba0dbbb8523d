//! The published session: what a request needs to be authorized, readable from many callers
//! without the policy's lock, and the per-session atomics (last use, throttle window) that the
//! fast path reads and writes.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::header::HeaderValue;
use http::{Request, StatusCode, Uri};
use secrecy::ExposeSecret;

use crate::config::Origin;
use crate::error::{Error, Misuse};
use crate::event::SignedIn;
use crate::expiry::{Expiry, RenewalSchedule};
use crate::intent::SiteId;
use crate::session::{NO_QUERY, Session, X_TABLEAU_AUTH, build_url};
use crate::version::ApiVersion;

/// How precisely the last use is recorded (idle limits are minutes, margins seconds): busy
/// callers on several cores do not all write the same cache line on every response.
const TOUCH_RESOLUTION: Duration = Duration::from_millis(10);

/// The instants every caller of one policy shares, as nanoseconds since `epoch` in atomics.
/// Written only by the core's code (the policy under its owner's lock, a [`Grant`] on the fast
/// path).
#[derive(Debug)]
pub(crate) struct Pulse {
    epoch: Instant,
    /// The last time a response to an authorized request succeeded.
    last_used: AtomicU64,
    /// The end of the throttle window (0: never throttled).
    throttled_until: AtomicU64,
    /// No proactive renewal before this instant (after a failed one).
    renew_not_before: AtomicU64,
    /// How many sign-in attempts were started.
    attempts: AtomicU64,
}

impl Pulse {
    pub(crate) fn new(epoch: Instant) -> Self {
        Self {
            epoch,
            last_used: AtomicU64::new(0),
            throttled_until: AtomicU64::new(0),
            renew_not_before: AtomicU64::new(0),
            attempts: AtomicU64::new(0),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    fn instant(&self, nanos: u64) -> Instant {
        self.epoch
            .checked_add(Duration::from_nanos(nanos))
            .unwrap_or(self.epoch)
    }

    pub(crate) fn last_used(&self) -> Instant {
        self.instant(self.last_used.load(Ordering::Relaxed))
    }

    /// Records a use at `at`; only moves when more than [`TOUCH_RESOLUTION`] later.
    pub(crate) fn touch(&self, at: Instant) {
        let at = self.nanos(at);
        let last = self.last_used.load(Ordering::Relaxed);
        if at > last.saturating_add(TOUCH_RESOLUTION.as_nanos() as u64) {
            self.last_used.fetch_max(at, Ordering::Relaxed);
        }
    }

    /// The end of the throttle window, if it is still open at `now`.
    pub(crate) fn throttled_until(&self, now: Instant) -> Option<Instant> {
        let until = self.throttled_until.load(Ordering::Acquire);
        (until != 0 && self.nanos(now) < until).then(|| self.instant(until))
    }

    /// Opens (or extends) the window to `until`; whether no window was open at `now`.
    pub(crate) fn throttle(&self, now: Instant, until: Instant) -> bool {
        let previous = self
            .throttled_until
            .fetch_max(self.nanos(until).max(1), Ordering::AcqRel);
        previous <= self.nanos(now)
    }

    pub(crate) fn renew_not_before(&self) -> Instant {
        self.instant(self.renew_not_before.load(Ordering::Relaxed))
    }

    pub(crate) fn pause_renewal_until(&self, at: Instant) {
        self.renew_not_before
            .fetch_max(self.nanos(at), Ordering::Relaxed);
    }

    pub(crate) fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Acquire)
    }

    /// Counts a new sign-in attempt and returns its number (1 for the first).
    pub(crate) fn start_attempt(&self) -> u64 {
        self.attempts.fetch_add(1, Ordering::AcqRel) + 1
    }
}

/// The session as the [`crate::Policy`] published it: token, generation, site, user, URLs and
/// deadlines. Immutable; every new sign-in publishes a new one with a higher generation.
///
/// It exists so that many callers can authorize their requests without taking the policy's
/// lock: [`Snapshot::grant`] decides, from the shared throttle window and the renewal
/// deadline, whether a request may go right now, and [`Grant::completes`] records a
/// successful answer. Everything else goes through the policy.
pub struct Snapshot {
    token: HeaderValue,
    generation: u64,
    info: SignedIn,
    origin: Origin,
    base_url: String,
    api_base: String,
    site_base: String,
    schedule: RenewalSchedule,
    /// Proactive renewal is on, and would help (the session was not already due when signed in).
    renews: bool,
    pulse: Arc<Pulse>,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("token", &crate::secret::REDACTED)
            .field("generation", &self.generation)
            .field("signed_in", &self.info)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    pub(crate) fn publish(
        session: &Session,
        generation: u64,
        renew_before_expiry: bool,
        pulse: Arc<Pulse>,
    ) -> Result<Self, Error> {
        let (Some(token), Some(info), Some(schedule)) = (
            session.token(),
            session.signed_in(),
            session.renewal_schedule(),
        ) else {
            return Err(Misuse::NotSignedIn.into());
        };
        let mut token = HeaderValue::from_str(token.expose_secret())
            .map_err(|_| Misuse::InvalidCharacter("session token"))?;
        token.set_sensitive(true);
        let signed_in_at = schedule.signed_in_at();
        let renews = renew_before_expiry
            && schedule
                .renew_at(signed_in_at)
                .is_some_and(|(at, _)| at > signed_in_at);
        Ok(Self {
            token,
            generation,
            info: info.clone(),
            origin: session.origin(),
            api_base: session.api_prefix()?,
            site_base: session.site_prefix()?,
            base_url: session.base_url(),
            schedule,
            renews,
            pulse,
        })
    }

    /// The server the token may be sent to (scheme, host and port).
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The generation: 1 for the first sign-in of a policy, one more for each later one.
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
    /// [`Snapshot::authorize`], which also checks where the request goes.
    pub fn header_value(&self) -> &HeaderValue {
        &self.token
    }

    /// The session token, to save for another process or a later run, which takes the session
    /// up with [`crate::Intent::Resume`]. A secret: `Debug` hides it, and the copy is wiped on
    /// drop.
    pub fn token(&self) -> crate::secret::AuthToken {
        crate::secret::AuthToken::new(self.token_text())
    }

    /// `{base}/api/{version}/{path}` (like [`Session::api_url`]).
    pub fn api_url(&self, path: &str) -> Result<Uri, Error> {
        build_url(&self.api_base, path, NO_QUERY)
    }

    /// `{base}/api/{version}/{path}?{query}`, the query percent-encoded (like
    /// [`Session::api_url_with`]).
    pub fn api_url_with<I, K, V>(&self, path: &str, query: I) -> Result<Uri, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        build_url(&self.api_base, path, query)
    }

    /// `{base}/api/{version}/sites/{site-luid}/{path}` (like [`Session::site_url`]).
    pub fn site_url(&self, path: &str) -> Result<Uri, Error> {
        build_url(&self.site_base, path, NO_QUERY)
    }

    /// `{base}/api/{version}/sites/{site-luid}/{path}?{query}`, the query percent-encoded (like
    /// [`Session::site_url_with`]).
    pub fn site_url_with<I, K, V>(&self, path: &str, query: I) -> Result<Uri, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        build_url(&self.site_base, path, query)
    }

    /// Whether `uri` goes to this session's server: same scheme, host and port.
    pub fn is_same_server(&self, uri: &Uri) -> bool {
        self.origin.matches(uri)
    }

    /// Adds `X-Tableau-Auth` (sensitive) to a request for this session's server; a request for
    /// any other server (or over plain http when the session is on https) is refused with
    /// [`Misuse::ForeignUrl`], as [`Session::authorize_request`] does.
    pub fn authorize<B>(&self, request: &mut Request<B>) -> Result<(), Error> {
        if !self.is_same_server(request.uri()) {
            return Err(Misuse::ForeignUrl.into());
        }
        request
            .headers_mut()
            .insert(X_TABLEAU_AUTH, self.token.clone());
        Ok(())
    }

    /// When the policy will sign in again before the session ends, and why, given its last
    /// use so far; `None` when it will not (renewal off, no deadline, or the session was
    /// already due when it was signed in, so that a new sign-in would not help).
    pub fn renew_at(&self) -> Option<(Instant, Expiry)> {
        if !self.renews {
            return None;
        }
        let (at, why) = self.schedule.renew_at(self.pulse.last_used())?;
        Some((at.max(self.pulse.renew_not_before()), why))
    }

    /// Whether a proactive renewal is due at `now`.
    pub(crate) fn renewal_due(&self, now: Instant) -> Option<Expiry> {
        self.renew_at()
            .and_then(|(at, why)| (now >= at).then_some(why))
    }

    pub(crate) fn schedule(&self) -> &RenewalSchedule {
        &self.schedule
    }

    /// The fast path: a grant to send one request now, or `None` when the caller must go
    /// through the policy ([`crate::Call::Request`]) because the server is throttling or the
    /// session is due for renewal. No lock; two atomic loads.
    pub fn grant(self: &Arc<Self>, now: Instant) -> Option<Grant> {
        if self.pulse.throttled_until(now).is_some() || self.renewal_due(now).is_some() {
            return None;
        }
        Some(Grant {
            snapshot: self.clone(),
            sent_at: now,
            ticket: self.pulse.attempts(),
        })
    }

    pub(crate) fn token_text(&self) -> &str {
        self.token.to_str().unwrap_or_default()
    }
}

/// Leave to send one of the caller's own requests with a session's token: from
/// [`Snapshot::grant`] (the fast path) or [`crate::Action::Authorize`]. Authorize the request
/// with it, send it, then ask [`Grant::completes`]; when that says no, hand the answer to
/// [`crate::Policy::handle_reply`] with this grant.
#[derive(Debug, Clone)]
pub struct Grant {
    pub(crate) snapshot: Arc<Snapshot>,
    pub(crate) sent_at: Instant,
    /// The number of sign-in attempts started when the grant was given.
    pub(crate) ticket: u64,
}

impl Grant {
    /// Adds the token to `request` (see [`Snapshot::authorize`]).
    pub fn authorize<B>(&self, request: &mut Request<B>) -> Result<(), Error> {
        self.snapshot.authorize(request)
    }

    /// Adds the token to the headers of a request whose URL has these parts, for an HTTP stack
    /// whose requests are not `http::Request`s (see [`Origin::matches_parts`]); a request for
    /// another server is refused with [`Misuse::ForeignUrl`].
    pub fn authorize_headers(
        &self,
        scheme: &str,
        host: &str,
        port: Option<u16>,
        headers: &mut http::HeaderMap,
    ) -> Result<(), Error> {
        if !self.snapshot.origin.matches_parts(scheme, host, port) {
            return Err(Misuse::ForeignUrl.into());
        }
        headers.insert(X_TABLEAU_AUTH, self.snapshot.token.clone());
        Ok(())
    }

    /// The session the grant is for.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// The generation of the session the grant is for.
    pub fn generation(&self) -> u64 {
        self.snapshot.generation
    }

    /// Whether an answer with `status` ends the call on the fast path (a success: its use is
    /// recorded). When it does not, the policy decides: [`crate::Policy::handle_reply`].
    pub fn completes(&self, status: StatusCode) -> bool {
        if status.is_success() {
            self.snapshot.pulse.touch(self.sent_at);
            true
        } else {
            false
        }
    }

    /// Whether the policy needs the body of an answer with `status` to decide (a `401`: is it
    /// the session, `401002`, or something else?). A caller that streams bodies through reads
    /// it only then.
    pub fn needs_body(status: StatusCode) -> bool {
        status == StatusCode::UNAUTHORIZED
    }
}
