//! # tableau-auth-proto
//!
//! A Sans-IO protocol core for authenticating to Tableau Server and Tableau Cloud: sign in with
//! a password, a personal access token (PAT), a ready JWT or a connected app (whose JWT it mints),
//! impersonate, switch site, sign out, read the current session (`sessions/current`), discover
//! the server's REST API version, and issue trusted tickets, over XML or JSON.
//!
//! **The contract.** The core is a pure state machine. Intents go in, [`http::Request`] values
//! come out; response bytes go in, typed [`Event`]s and [`Error`]s come out. It opens no socket,
//! reads no clock and draws no randomness: `now` is an argument, and the wall-clock time and
//! random bytes a connected-app JWT needs come in [`SignIn::mint_inputs`]. It never panics on any
//! bytes a server sends. It makes every protocol decision (URLs, bodies, headers, parsing, version
//! gates, redirect policy, error classification, expiry) so that adapters only move bytes.
//!
//! Most programs want an adapter that moves the bytes for them: `tableau-auth-ureq` (blocking,
//! and the `tableau-auth` command-line tool) or `tableau-auth-hyper` (async, one session shared by
//! many tasks, a tower layer). Use this crate directly to embed Tableau authentication in another
//! SDK, another runtime or a test double.
//!
//! ## Quick start, offline
//!
//! The core needs no server: here the "server" is a canned response. Sign in with a PAT, use the
//! token on one of your own REST calls, and ask the core what a `401002` answer to that call
//! means.
//!
//! ```
//! use std::time::Instant;
//! use tableau_auth_proto::secret::ExposeSecret;
//! use tableau_auth_proto::{
//!     ApiVersion, Config, Credentials, Event, Session, SignIn, Step, Verdict, http,
//! };
//!
//! let config = Config::builder("https://tableau.example.com")
//!     .api_version(ApiVersion::new(3, 25)) // or leave it out: the core asks `serverinfo` first
//!     .build()?;
//! let mut session = Session::new(config);
//!
//! // 1. An intent in, a request out.
//! let pat = Credentials::personal_access_token("etl", "s3cret-pat-value");
//! let step = session.start(SignIn::new(pat, "Finance").into(), Instant::now())?;
//! let Step::Send(request) = step else { panic!("a sign-in sends a request") };
//! assert_eq!(request.method(), "POST");
//! assert_eq!(request.uri(), "https://tableau.example.com/api/3.25/auth/signin");
//! assert!(!format!("{request:?}").contains("s3cret-pat-value"), "secrets stay out of Debug");
//!
//! // 2. The response in (whatever transport carried it), an event out.
//! let body = br#"<tsResponse><credentials token="Qm7s2fVbX0kLr9Tq4nWc8yHa1JdEe5Pu"
//!     estimatedTimeToExpiration="364:23:59">
//!     <site id="6b7179ba-b82b-4f0f-91ed-812074ac5da6" contentUrl="Finance"/>
//!     <user id="1a96d216-e9b8-497b-a82a-0b899a965e01"/></credentials></tsResponse>"#;
//! let step = session.handle_response(http::Response::new(body.to_vec()), Instant::now())?;
//! let Step::Done(Event::SignedIn(signed_in)) = step else { panic!("signed in") };
//! assert_eq!(signed_in.site_id.as_str(), "6b7179ba-b82b-4f0f-91ed-812074ac5da6");
//! assert_eq!(session.token().map(|t| t.expose_secret()), Some("Qm7s2fVbX0kLr9Tq4nWc8yHa1JdEe5Pu"));
//!
//! // 3. Your own REST call, authorized (the header is marked sensitive)...
//! let mut call = http::Request::get(session.site_url("workbooks")?).body(())?;
//! session.authorize_request(&mut call)?;
//! assert!(call.headers()["x-tableau-auth"].is_sensitive());
//!
//! // 4. ...and what its answer means: the session is gone, sign in again once.
//! let rejected = http::Response::builder().status(401).body(
//!     br#"<tsResponse><error code="401002"><summary>Unauthorized Access</summary>
//!         <detail>Invalid authentication credentials were provided.</detail></error></tsResponse>"#,
//! )?;
//! assert!(matches!(session.classify(&rejected), Verdict::Reauthenticate(e) if e.code() == Some("401002")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Embedding: the session policy in one loop
//!
//! A [`Policy`] owns a session and every decision around it: when to sign in (again), how long
//! to wait on a throttled server, when a rejected session is over. A driver begins a [`Call`]
//! and does what [`Policy::poll`] says until it is done. Here the "server" is a closure that
//! signs in, throttles the first call (`429`, `Retry-After: 0`), then rejects the session
//! (`401002`): the policy waits, signs in again once, and replays the call.
//!
//! ```
//! use std::time::{Instant, SystemTime};
//! use tableau_auth_proto::{Action, ApiVersion, Call, Config, Credentials, Inputs, Outcome, Policy, SignIn, http};
//! # let mut answers = canned::answers();
//! # let mut server = move |_: &http::Request<Vec<u8>>| answers.remove(0);
//!
//! let config = Config::builder("https://tableau.example.com").api_version(ApiVersion::new(3, 25)).build()?;
//! let mut policy = Policy::new(config, Instant::now());
//! policy.set_credentials(Some(SignIn::new(Credentials::personal_access_token("etl", "s3cret"), "")));
//! let inputs = || Inputs::new(Instant::now(), SystemTime::now(), [0; 16]); // use a CSPRNG
//!
//! let call = policy.begin(Call::Request);
//! let answer = loop {
//!     match policy.poll(call, inputs()) {
//!         Action::Send(request) => policy.handle_response(call, server(&request), inputs()),
//!         Action::Authorize(grant) => {
//!             let mut mine = http::Request::get(grant.snapshot().site_url("workbooks")?).body(Vec::new())?;
//!             grant.authorize(&mut mine)?;
//!             let reply = server(&mine);
//!             if grant.completes(reply.status()) { break reply; }
//!             policy.handle_reply(call, &grant, reply.status(), reply.headers(), Some(reply.body()), inputs());
//!         }
//!         Action::WaitUntil(at) => std::thread::sleep(at.saturating_duration_since(Instant::now())),
//!         Action::Done(Outcome::Failed(e)) => return Err(e.into()),
//!         other => unreachable!("{other:?}"), // Wait: only with concurrent calls
//!     }
//! };
//! assert_eq!(answer.status(), 200);
//! assert_eq!(policy.generation(), 2, "signed in, rejected, signed in again once");
//! # mod canned {
//! #     use tableau_auth_proto::http::Response;
//! #     fn signed_in(token: &str) -> Response<Vec<u8>> {
//! #         Response::new(format!(r#"<tsResponse><credentials token="{token}"><site id="6b7179ba-b82b-4f0f-91ed-812074ac5da6" contentUrl=""/><user id="1a96d216-e9b8-497b-a82a-0b899a965e01"/></credentials></tsResponse>"#).into_bytes())
//! #     }
//! #     fn status(code: u16, body: &str, retry_after: Option<&str>) -> Response<Vec<u8>> {
//! #         let mut b = Response::builder().status(code);
//! #         if let Some(r) = retry_after { b = b.header("retry-after", r); }
//! #         b.body(body.as_bytes().to_vec()).unwrap()
//! #     }
//! #     pub fn answers() -> Vec<Response<Vec<u8>>> {
//! #         vec![
//! #             signed_in("TokenOneTokenOneTokenOne"),
//! #             status(429, "", Some("0")),
//! #             status(401, r#"<tsResponse><error code="401002"><summary>Unauthorized</summary><detail/></error></tsResponse>"#, None),
//! #             signed_in("TokenTwoTokenTwoTokenTwo"),
//! #             status(200, "<tsResponse/>", None),
//! #         ]
//! #     }
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With many concurrent callers (tasks sharing one session), keep the policy behind a lock,
//! park a call on [`Action::Wait`] until another call's `handle_*` made progress, and publish
//! [`Policy::snapshot`] so that requests can take the lock-free fast path
//! ([`Snapshot::grant`]). `tableau-auth-ureq` (blocking) and `tableau-auth-hyper` (async, tower)
//! are such drivers; `tableau_auth_tests::sim` is one on simulated time.
//!
//! ## One exchange at a time: the session
//!
//! Under the policy, a [`Session`] runs one exchange at a time. Start it, send each request the
//! core returns, feed the response back, until the core says `Done` (a sign-in may take
//! several requests: a version probe, a redirect):
//!
//! ```no_run
//! # use std::time::Instant;
//! # use tableau_auth_proto::{Config, Credentials, Error, SignIn, Session, Step};
//! # fn send(r: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, Error> { todo!() }
//! # fn main() -> Result<(), Error> {
//! let mut s = Session::new(Config::builder("https://tableau.example.com").build()?);
//! let intent = SignIn::new(Credentials::personal_access_token("etl", "s3cret"), "Finance").into();
//! let mut step = s.start(intent, Instant::now())?;
//! let event = loop {
//!     match step {
//!         Step::Send(request) => step = s.handle_response(send(request)?, Instant::now())?,
//!         Step::Done(event) => break event,
//!     }
//! };
//! # let _ = event; Ok(()) }
//! ```
//!
//! A transport must not follow redirects (the core decides), must hand over error responses
//! with their bodies, and should read at most [`Config::max_body`] + 1 bytes of body. After
//! signing in, [`Session::authorize_request`] adds `X-Tableau-Auth` to the caller's own REST
//! requests (for this server only) and [`Session::classify`] tells what a response to one of
//! them means; the [`Policy`] acts on it.
//!
//! **States.**
//!
//! ```text
//!            start(SignIn) ─► [serverinfo probe, if no version is fixed] ─► POST auth/signin
//!   Idle ──────────────────────────────────────────────────────────────────────────► SignedIn
//!    ▲                         (3xx: https/same host only, Redirects)                 │    │
//!    │  SignOut: 204 → SignedOut(Confirmed), 401 → SignedOut(AlreadyGone)            │    │
//!    └────────────────────────────────────────────────────────────────────────────────┘    │
//!                 SwitchSite: 200 → SiteSwitched (new token), 403070 → SiteUnchanged ◄─────┘
//!                 CurrentSession: 200 → CurrentSession (state unchanged; a 401 is an Err)
//!                 RevokeServerAdminTokens: 2xx → ServerAdminTokensRevoked (state unchanged)
//! ```
//!
//! (The redirect rules are in the repository's `docs/protocol.md`, "Redirects".)
//!
//! An exchange that ends in `Err` leaves the session as it was before it (Idle, or SignedIn
//! unchanged). [`Session::abort`] drops an exchange whose transport failed.
//!
//! ## Map of the crate
//!
//! | What | Items |
//! | --- | --- |
//! | Configuration | [`Config`], [`ConfigBuilder`], [`Format`], [`ApiVersion`], [`ConfigError`] |
//! | The state machine (one exchange) | [`Session`], [`Step`], [`Origin`], [`X_TABLEAU_AUTH`] |
//! | The session policy (many calls) | [`Policy`], [`Call`], [`CallId`], [`Action`], [`Outcome`], [`Inputs`], [`Snapshot`], [`Grant`], [`Expiry`], [`Ended`] |
//! | Intents (inputs) | [`Intent`], [`SignIn`], [`Credentials`], [`MintInputs`], [`TicketRequest`], [`SiteContentUrl`] |
//! | Credentials from the environment (the caller reads it) | [`Credentials::from_lookup`], [`env`](mod@env) (the variable names), [`CredentialsLookupError`] |
//! | Events (outputs) | [`Event`], [`SignedIn`], [`SignOut`], [`ServerInfo`], [`CurrentSession`], [`TrustedTicket`], [`SiteId`], [`UserId`] |
//! | Your own REST calls | [`Session::authorize_request`], [`Session::api_url`], [`Session::site_url`], [`Session::api_url_with`] and [`Session::site_url_with`] (query parameters, percent-encoded), [`Session::classify`] → [`Verdict`] |
//! | Connected apps (feature `jwt`) | [`ConnectedApp`], [`MAX_JWT_LIFETIME`] |
//! | Unified access tokens (feature `jwt`) | [`UnifiedAccess`], [`UatSigner`] (the caller signs: `tableau-auth-rsa`), [`SignerError`] |
//! | One session for a fleet of processes | [`Policy::set_fleet`], [`FleetConfig`], [`WhenStoreDown`], [`StoreRequest`], [`StoreOp`], [`StoreReply`], [`Record`], [`Version`], [`SharedSession`], [`FleetScope`], [`LockOwner`] (a store runs them: `tableau-auth-redis`) |
//! | Errors | [`Error`], [`ApiError`], [`Misuse`], [`RedirectRefusal`], [`RetryAfter`], [`Feature`], [`InvalidApiVersion`], [`InvalidLuid`] |
//! | Lifecycle (what the policy reports) | [`lifecycle::SessionEvent`], [`lifecycle::RenewReason`] |
//! | Secrets | [`secret`]: [`secret::AuthToken`], [`secret::TicketValue`], [`secret::ExposeSecret`] |
//! | Fuzzing (feature `fuzzing`) | `fuzzing` |
//!
//! ## Features
//!
//! * `jwt` (default): [`ConnectedApp`] and HS256 minting of connected-app JWTs (direct trust),
//!   a fresh one for every sign-in; [`UnifiedAccess`], whose RS256 tokens the caller's signer
//!   signs. Without it the crate has no HMAC or base64 dependency;
//!   ready-made JWTs ([`Credentials::jwt`]) still work.
//! * `fuzzing`: entry points for fuzzers and corpus replay (`fuzzing` module). Adds API, changes
//!   no behaviour.
//!
//! ## Errors
//!
//! Every fallible call returns [`Error`] (`#[non_exhaustive]`), which keeps apart what must not
//! be confused: the server said no with a Tableau code ([`Error::Api`]); the server sent
//! something that is not a Tableau response ([`Error::Status`], [`Error::Decode`],
//! [`Error::TooLarge`]); the core refused to go on ([`Error::Redirect`],
//! [`Error::HttpsRequired`], [`Error::Unsupported`], [`Error::NotOnTableauCloud`],
//! [`Error::TicketRefused`]); the configuration or the caller was wrong ([`Error::Config`],
//! [`Error::Misuse`]). Decide with the predicates [`Error::code`], [`Error::is_reauth_needed`],
//! [`Error::is_retryable`] and [`Error::retry_after`], never by matching messages. The adapters
//! wrap this error and add their transport's failures and timeouts.
//!
//! ## Security
//!
//! * **Secrets** ([`secret`]) never appear in `Debug`, `Display` or errors, and are zeroized when
//!   dropped; server text that echoes one is scrubbed. The only way to read one is
//!   [`secret::ExposeSecret::expose_secret`], so every read is visible in review.
//! * **The token header** set by [`Session::authorize_request`] and [`Grant::authorize`] is
//!   marked sensitive, and both refuse a request for any other server (scheme, host and port)
//!   or over plain http when the session is on https.
//! * **Redirects** are never followed by a transport: the core decides. A sign-in follows only
//!   https → https to the same host (or an allow-listed one), with a hop limit; credentials and
//!   tokens never go to another host or over plain http.
//! * **Bounded input**: every body is checked against [`Config::max_body`]; no input panics.
//!
//! ## Examples
//!
//! * `examples/mint_jwt.rs` (this crate): mint a connected-app JWT, with the clock and the
//!   randomness supplied by the program, and show its header and claims —
//!   `cargo run -p tableau-auth-proto --example mint_jwt`.
//! * `tableau-auth-ureq/examples/embed_drive.rs`: an SDK embedding this core through `drive`
//!   over its own transport.
//! * `tableau-auth-ureq/examples/pat_script.rs`, `ticket_server.rs` and
//!   `tableau-auth-hyper/examples/tower_service.rs`: the adapters at work.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unimplemented,
    clippy::todo
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub use http;

mod config;
pub mod env;
mod error;
mod event;
mod expiry;
pub mod fleet;
mod intent;
#[cfg(feature = "jwt")]
mod jwt;
pub mod lifecycle;
mod mint;
mod policy;
mod redirect;
mod response;
pub mod secret;
mod session;
mod ticket;
#[cfg(feature = "jwt")]
mod uat;
mod version;
mod wire;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

pub use config::{Config, ConfigBuilder, ConfigError, Format, Origin};
pub use env::CredentialsLookupError;
pub use error::{ApiError, Error, Misuse, RedirectRefusal, RetryAfter};
pub use event::{CurrentSession, Event, ServerInfo, SignOut, SignedIn};
pub use expiry::{Ended, Expiry};
pub use fleet::{
    FleetConfig, FleetScope, LockOwner, Record, SharedSession, StoreOp, StoreReply, StoreRequest,
    Version, WhenStoreDown,
};
pub use intent::{
    Credentials, Intent, InvalidLuid, SignIn, SiteContentUrl, SiteId, TicketRequest, UserId,
};
#[cfg(feature = "jwt")]
pub use jwt::{ConnectedApp, MAX_LIFETIME as MAX_JWT_LIFETIME};
pub use mint::MintInputs;
pub use policy::{Action, Call, CallId, Grant, Inputs, Outcome, Policy, Snapshot};
pub use response::Verdict;
pub use session::{Session, Step, X_TABLEAU_AUTH};
pub use ticket::TrustedTicket;
#[cfg(feature = "jwt")]
pub use uat::{SignerError, UatSigner, UnifiedAccess};
pub use version::{ApiVersion, Feature, InvalidApiVersion};

/// The README's examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
