//! # tableau-auth-hyper
//!
//! Drives the Sans-IO core [`tableau_auth_proto`] over async [hyper](https://docs.rs/hyper) 1 and
//! tokio: a [`Client`] whose clones share **one session** across any number of tasks, [`drive`]
//! for any other async transport, and (feature `tower`) a [`TableauAuthLayer`] that authorizes
//! the requests of any tower service.
//!
//! The transport is hyper-util's pooled client over hyper-rustls (ring only). It never follows a
//! redirect (the core decides), keeps error bodies, bounds every body
//! ([`http_body_util::Limited`], `max_body`) and a response's head (32 KiB), and puts
//! `tokio::time::timeout` around every exchange (connect on the connector, the response head,
//! and the whole exchange body included).
//!
//! ## Behind a proxy
//!
//! [`ClientBuilder::proxy`] sends every connection through an HTTP proxy reached over plain TCP
//! (`http://[user:password@]host[:port]`). Each connection is an HTTP `CONNECT` tunnel to the
//! server's host and port — hyper-util's `Tunnel` under hyper-rustls ([`ProxyConnector`]) — so
//! TLS runs end to end with Tableau and the proxy sees only `host:port`; plain `http://` servers
//! are tunnelled the same way (no absolute-form requests). Credentials in the URL become a
//! `Proxy-Authorization: Basic` header (marked sensitive) on each `CONNECT`, and are never shown
//! by `Debug`, errors or `tracing`. The connect timeout covers the TCP connection to the proxy
//! and the `CONNECT` exchange. A proxy that refuses the tunnel is an [`Error::Transport`], an
//! unusable proxy URL an [`Error::Config`]. Environment variables (`HTTPS_PROXY`, …) are not
//! read: pass the URL explicitly. Without a proxy, nothing changes.
//!
//! ```no_run
//! # fn run() -> Result<(), tableau_auth_hyper::Error> {
//! let client = tableau_auth_hyper::Client::builder("https://tableau.example.com")
//!     .proxy("http://proxy.corp:3128")
//!     .build()?;
//! # drop(client); Ok(()) }
//! ```
//!
//! ## Quick start: one client, signed in once
//!
//! (This runs against the fake Tableau server of
//! [`tableau-auth-fake`](https://docs.rs/tableau-auth-fake); with a real server, `server` is
//! `https://tableau.example.com`, and `ca_pem` is only needed for a private CA.)
//!
//! ```
//! use tableau_auth_hyper::{Client, http, proto::{Credentials, SignIn, SignOut}};
//!
//! # use tableau_auth_fake::{FakeConfig, FakeOptions, FakeServer, sample};
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! # let fake = FakeServer::start(FakeConfig::sample(), FakeOptions::default()).await?;
//! # let (server, ca_pem) = (fake.base_url(), fake.ca_pem().unwrap_or_default());
//! # let (pat_name, secret) = (sample::USER_PAT_NAME, sample::USER_PAT_SECRET.to_owned());
//! // let secret = std::env::var("TABLEAU_PAT_SECRET")?; // secrets from the environment
//! let client = Client::builder(server)
//!     .ca_pem(ca_pem) // added to the Mozilla roots
//!     .build()?;
//! let signed_in = client
//!     .sign_in(SignIn::new(Credentials::personal_access_token(pat_name, secret), ""))
//!     .await?;
//! println!("site {} user {}", signed_in.site_id, signed_in.user_id);
//! let request = http::Request::get(client.api_url("sessions/current")?).body(Vec::new())?;
//! let response = client.send(request).await?; // authorized; re-signs in once on 401002
//! assert!(response.status().is_success());
//! assert_eq!(client.sign_out().await?, SignOut::Confirmed);
//! # Ok::<(), Box<dyn std::error::Error>>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## One session shared by many tasks
//!
//! Clones of a [`Client`] share one session, and **every decision about it is the core's**:
//! the client drives the core's session policy ([`proto::Policy`]) and only moves what it asks
//! for — requests over hyper, sleeps until the instants it names, a lock, notifications.
//!
//! * **No lock on the fast path.** The policy publishes the session as an immutable
//!   [`Snapshot`] (token header value marked sensitive, generation, site, API version, URLs,
//!   deadlines), kept in an `ArcSwap`. A request loads it and asks it for a grant
//!   ([`proto::Snapshot::grant`]: not throttled, not due for renewal), checks that its URL goes
//!   to the session's server, adds the header and sends; a 2xx answer records the activity with
//!   one atomic operation ([`proto::Grant::completes`]). Nothing else is touched.
//! * **Everything else goes through the policy**, behind a `std::sync::Mutex` held only for one
//!   synchronous call of it, never across an `.await`. One async driver runs every call
//!   ([`Client::send`], [`Client::sign_in`], [`Client::current_session`], the tower layer, the
//!   renewal task, …): it sends what the policy asks for, sends the caller's own request when the
//!   policy grants it, sleeps until the instant the policy names, and parks while another call
//!   runs the exchange it waits for (a `tokio::sync::Notify`, registered before the policy is
//!   asked, so that no wakeup is lost).
//! * **Single-flight sign-in.** N tasks whose requests were rejected together (`401002` and kin)
//!   cause **one** sign-in, and each replays its request once; a replay rejected again is the
//!   core's [`proto::Error::SessionEnded`], never a loop. A sign-in that *fails* answers every
//!   task that was waiting for it ([`proto::Error::SignInFailed`]): a failing server sees one
//!   attempt per wave of requests, not one per task.
//! * **Renewal before expiry.** A session due for renewal (idle limit from the last use,
//!   lifetime limit, credentials expiry, minus the margin) is renewed before the next request
//!   (single-flight); a failed renewal is not fatal (the old token is used, and renewal pauses
//!   briefly). [`Client::spawn_renewal`] does it in the background, so that a service idle for
//!   hours finds a live session.
//! * **One throttling window.** A 429/503 on any exchange — a sign-in, a request of yours —
//!   opens one window for the whole session (`Retry-After` in seconds or as an HTTP date, or
//!   1 s, plus jitter) that every task waits for before sending, and each call retries within
//!   [`ClientBuilder::retries`] (beyond: [`proto::Error::Throttled`]).
//! * **Superseded or expired.** A rejected session is reported as
//!   [`SessionEvent::Ended`] with [`Ended::Superseded`] when, by the client's clock, none of its
//!   deadlines had come (someone else ended it — typically another sign-in with the same personal
//!   access token), else [`Ended::Expired`]. One `Client` never signs in twice at once with its
//!   PAT; two separate `Client`s (or processes) with the same PAT supersede each other, each
//!   replacing the other's session on its next request: share one `Client` instead.
//! * **Cancellation.** A task cancelled in the middle of a call (its future dropped) cancels the
//!   call in the policy through a drop guard, which aborts an exchange it ran, so that the next
//!   task can sign in.
//!
//! Every [`SessionEvent`] goes to `tracing` and to the callback of [`ClientBuilder::on_event`].
//!
//! ```no_run
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use tableau_auth_hyper::{Client, SessionEvent, http, proto::{Credentials, SignIn}};
//!
//! # async fn run() -> Result<(), tableau_auth_hyper::Error> {
//! let sign_ins = Arc::new(AtomicUsize::new(0));
//! let counter = sign_ins.clone();
//! let pat = Credentials::personal_access_token("etl", std::env::var("TABLEAU_PAT_SECRET").unwrap_or_default());
//! let client = Client::builder("https://tableau.example.com")
//!     .sign_in(SignIn::new(pat, "Finance")) // signs in on first use, once for all tasks
//!     .on_event(move |event| {
//!         if matches!(event, SessionEvent::SignedIn { .. } | SessionEvent::Renewed { .. }) {
//!             counter.fetch_add(1, Ordering::Relaxed);
//!         }
//!     })
//!     .build()?;
//! let _renewal = client.spawn_renewal()?; // keeps an idle service's session alive
//! let mut tasks = Vec::new();
//! for _ in 0..100 {
//!     let client = client.clone();
//!     tasks.push(tokio::spawn(async move {
//!         let url = client.current_or_sign_in().await?.api_url("sessions/current")?;
//!         client.send(http::Request::get(url).body(Vec::new()).unwrap()).await
//!     }));
//! }
//! for task in tasks {
//!     task.await.expect("no panic")?;
//! }
//! assert_eq!(sign_ins.load(Ordering::Relaxed), 1);
//! # Ok(()) }
//! ```
//!
//! ## A tower layer
//!
//! With the `tower` feature, [`TableauAuthLayer`] wraps any
//! `Service<Request<Full<Bytes>>, Response = Response<B>>` — here the client's own pooled hyper
//! client: it adds `X-Tableau-Auth` (sensitive) to every request, refuses a request for another
//! server, and otherwise follows the same policy as [`Client::send`] — on `401002` it signs in
//! again once (single-flight) and replays the request once, it waits out a throttled server —
//! except that a failure is handed back as the server's answer instead of an error.
//!
//! ```no_run
//! # #[cfg(feature = "tower")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use tableau_auth_hyper::{Client, TableauAuthLayer, bytes::Bytes, http, proto::{Credentials, SignIn}};
//! use tableau_auth_hyper::http_body_util::Full;
//! use tower::{Layer, Service, ServiceExt};
//!
//! let client = Client::builder("https://tableau.example.com")
//!     .sign_in(SignIn::new(Credentials::password("jsmith", "s3cret"), ""))
//!     .build()?;
//! let mut service = TableauAuthLayer::new(&client).layer(client.hyper_client());
//! let url = client.current_or_sign_in().await?.api_url("sessions/current")?;
//! let request = http::Request::get(url).body(Full::new(Bytes::new()))?;
//! let response = service.ready().await?.call(request).await?;
//! println!("{}", response.status());
//! # Ok(()) }
//! ```
//!
//! ## Map of the crate
//!
//! * [`Client`] / [`ClientBuilder`]: the shared session — [`Client::sign_in`],
//!   [`Client::current_or_sign_in`] ([`Snapshot`], the lock-free view), [`Client::send`] for
//!   your own REST calls, [`Client::current_session`], [`Client::renew`],
//!   [`Client::spawn_renewal`] ([`RenewalTask`]), [`Client::switch_site`],
//!   [`Client::trusted_ticket`], [`Client::server_info`], [`Client::sign_out`],
//!   [`Client::resume`] (a session saved elsewhere, from its token),
//!   [`Client::revoke_server_admin_tokens`]; [`Client::hyper_client`] ([`HyperClient`]) for your own requests over the same pool;
//!   [`ClientBuilder::proxy`] ([`ProxyConnector`]) for an HTTP proxy.
//! * [`Client::with_sign_in`] and [`Client::sign_in_guard`] ([`SignOutGuard`]): a scoped
//!   sign-in, TSC's `with server.auth.sign_in(auth):` — signed out, awaited, when the scope
//!   ends; a scope ends only the session its own sign-in began.
//! * [`SessionEvent`], [`RenewReason`], [`Ended`], [`EventCallback`]: what happened to the
//!   session, in the core's vocabulary, for logs and counters (also emitted through `tracing`).
//! * [`drive`]: runs one exchange of a [`proto::Session`] over *your* async transport;
//!   [`DriveError`] is its error.
//! * [`Error`]: everything the client can fail with.
//! * Feature `tower`: [`TableauAuthLayer`], [`TableauAuth`], [`ResponseFuture`],
//!   [`ResponseBody`], and the `tower` re-export.
//! * Re-exports: [`proto`] (the core), [`http`], [`hyper`], [`hyper_util`], [`http_body_util`],
//!   [`bytes`], so that versions always match.
//!
//! ## Features
//!
//! * `tower` (off by default): the tower layer. Adds API, changes no behaviour.
//!
//! ## Errors
//!
//! [`Error`] (`#[non_exhaustive]`) is the core's typed error ([`Error::Tableau`], with Tableau's
//! code and the predicates of [`proto::Error`]) — among them the policy's: a session the server
//! ended that could not be replaced ([`proto::Error::SessionEnded`], see [`Error::end_reason`]),
//! a shared sign-in that failed for every task waiting on it ([`proto::Error::SignInFailed`]), a
//! server throttling beyond the caps ([`proto::Error::Throttled`]) — or what the transport adds
//! (timeouts, TLS, connection failures, configuration). The tower layer boxes its errors, as
//! tower does: downcast to [`Error`].
//!
//! ## Security
//!
//! No event, log line or error carries a secret: the core scrubs server text, tokens live in
//! header values marked sensitive, and `Debug` of every type here redacts them. (The header
//! value copies of the token are not zeroized when dropped; the core's own copies are.)
//! Redirects are never followed by the transport (the core decides, and never sends a token or
//! credentials to another host or over plain http); a request for another server is refused
//! before the token is added; every body is bounded and every exchange has a timeout.
//!
//! ## Examples
//!
//! Each runs against an in-process fake Tableau server when no server is given:
//!
//! * `tower_service`: many tasks share one session through [`TableauAuthLayer`] around the
//!   client's hyper client; a session ended by the server costs one re-sign-in for all of them.
//!   `cargo run -p tableau-auth-hyper --features tower --example tower_service`
//! * `load`: a load tool, N tasks × M authorized calls on one shared client (needs `--server`).
//! * In `tableau-auth-ureq`: `pat_script`, `embed_drive` (the core embedded through `drive`)
//!   and `ticket_server`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod error;
mod event;
mod guard;
#[cfg(feature = "tower")]
mod layer;
pub mod relay;
mod shared;
mod tls;
mod transport;

pub use client::{Client, ClientBuilder, RenewalTask};
pub use error::{DriveError, Error};
pub use event::{Ended, EventCallback, RenewReason, SessionEvent};
pub use guard::SignOutGuard;
#[cfg(feature = "tower")]
pub use layer::{ResponseBody, ResponseFuture, TableauAuth, TableauAuthLayer};
/// The lock-free view of the shared session, published by the core's policy.
pub use tableau_auth_proto::Snapshot;
/// The former name of [`Snapshot`].
#[deprecated(note = "the session snapshot is the core's `Snapshot` now")]
pub type Current = Snapshot;
/// The core, re-exported so that versions always match.
pub use tableau_auth_proto as proto;
pub use tableau_auth_proto::http;
/// The RS256 signer of unified access tokens (a PKCS#8 PEM key, on ring), for
/// [`proto::UnifiedAccess`].
pub use tableau_auth_rsa::{KeyError, RsaSigner};
/// tower, re-exported so that versions always match (feature `tower`).
#[cfg(feature = "tower")]
pub use tower;
pub use transport::{HyperClient, ProxyConnector};
/// The transport crates, re-exported so that versions always match.
pub use {bytes, http_body_util, hyper, hyper_util};

use std::time::Instant;

use tableau_auth_proto::http::{Request, Response};
use tableau_auth_proto::{Event, Intent, Session, Step};

/// Runs one exchange of `session` to its end over any async transport: `send` gets each request
/// the core builds and returns the response (it must not follow redirects, and should read at
/// most [`tableau_auth_proto::Config::max_body`] bytes of body). A transport error aborts the
/// exchange, leaving the session as it was; so does cancelling the returned future (dropping it
/// at an `.await`).
///
/// ```
/// use tableau_auth_hyper::{drive, http, proto::{Config, Event, Intent, Session}};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut session = Session::new(Config::builder("https://tableau.example.com").build()?);
/// let event = drive(&mut session, Intent::ServerInfo, async |request: http::Request<Vec<u8>>| {
///     assert_eq!(request.uri().path(), "/api/2.4/serverinfo");
///     let body = "<tsResponse><serverInfo><productVersion build='b'>2025.1.3</productVersion>\
///                 <restApiVersion>3.25</restApiVersion></serverInfo></tsResponse>";
///     Ok::<_, std::io::Error>(http::Response::new(body.as_bytes().to_vec()))
/// })
/// .await?;
/// assert!(matches!(event, Event::ServerInfo(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
///
/// `send` is any `FnMut(Request) -> impl Future`: a closure returning an `async move` block, or
/// an `async` closure that does not borrow its own captures mutably. (An `AsyncFnMut` bound
/// would accept more closures, but rustc cannot yet prove the resulting future `Send`, so it
/// could not run in `tokio::spawn`.)
pub async fn drive<E, F, Fut>(
    session: &mut Session,
    intent: Intent,
    mut send: F,
) -> Result<Event, DriveError<E>>
where
    F: FnMut(Request<Vec<u8>>) -> Fut,
    Fut: Future<Output = Result<Response<Vec<u8>>, E>>,
{
    /// Aborts the exchange unless it finished (cancellation, transport error).
    struct Guard<'a>(&'a mut Session);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let guard = Guard(session);
    let mut step = guard
        .0
        .start(intent, Instant::now())
        .map_err(DriveError::Tableau)?;
    loop {
        match step {
            Step::Send(request) => {
                let response = send(request).await.map_err(DriveError::Transport)?;
                step = guard
                    .0
                    .handle_response(response, Instant::now())
                    .map_err(DriveError::Tableau)?;
            }
            Step::Done(event) => return Ok(event),
        }
    }
}

/// The README's examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
