//! # tableau-auth-proto
//!
//! A Sans-IO protocol core for authenticating to Tableau Server and Tableau Cloud: sign in with
//! a password, a personal access token (PAT), a ready JWT or a connected app (whose JWT it mints),
//! impersonate, switch site, sign out, discover the server's REST API version, and issue trusted
//! tickets, over XML or JSON.
//!
//! **The contract.** The core is a pure state machine. Intents go in, [`http::Request`] values
//! come out; response bytes go in, typed [`Event`]s and [`Error`]s come out. It opens no socket,
//! reads no clock and draws no randomness: `now` is an argument, and the wall-clock time and
//! random bytes a connected-app JWT needs come in [`SignIn::mint_inputs`]. It never panics on any
//! bytes a server sends. It makes every protocol decision (URLs, bodies, headers, parsing, version
//! gates, redirect policy, error classification, expiry) so that adapters only move bytes.
//!
//! **The driving loop.** One exchange is in flight at a time. Start it, send each request the
//! core returns, feed the response back, until the core says `Done`:
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
//! The same loop runs blocking or async; `tableau-auth-ureq` and `tableau-auth-hyper` are two
//! such drivers. After signing in, [`Session::authorize`] adds `X-Tableau-Auth` to the caller's
//! own REST requests, [`Session::classify`] tells what a response to one of them means
//! (re-authenticate, wait and retry, or give up), and [`Session::poll_timeout`] says when to sign
//! in again before the session expires.
//!
//! **States.**
//!
//! ```text
//!            start(SignIn) ─► [serverinfo probe, if no version is fixed] ─► POST auth/signin
//!   Idle ──────────────────────────────────────────────────────────────────────────► SignedIn
//!    ▲                         (3xx: follow https/same host only, §12)                │    │
//!    │  SignOut: 204 → SignedOut(Confirmed), 401 → SignedOut(AlreadyGone)            │    │
//!    └────────────────────────────────────────────────────────────────────────────────┘    │
//!                 SwitchSite: 200 → SiteSwitched (new token), 403070 → SiteUnchanged ◄─────┘
//! ```
//!
//! An exchange that ends in `Err` leaves the session as it was before it (Idle, or SignedIn
//! unchanged). [`Session::abort`] drops an exchange whose transport failed.
//!
//! **Secrets** ([`secret`]) never appear in `Debug`, `Display` or errors, and are zeroized when
//! dropped; server text that echoes one is scrubbed.
//!
//! **Features.** `jwt` (default): [`ConnectedApp`] and HS256 minting. `fuzzing`: entry points
//! for fuzzers ([`fuzzing`]).
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
mod error;
mod event;
mod intent;
#[cfg(feature = "jwt")]
mod jwt;
mod redirect;
mod response;
pub mod secret;
mod session;
mod ticket;
mod version;
mod wire;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

pub use config::{Config, ConfigBuilder, ConfigError, Format};
pub use error::{ApiError, Error, Misuse, RedirectRefusal, RetryAfter};
pub use event::{Event, ServerInfo, SignOut, SignedIn};
pub use intent::{
    Credentials, Intent, InvalidLuid, MintInputs, SignIn, SiteContentUrl, SiteId, TicketRequest,
    UserId,
};
#[cfg(feature = "jwt")]
pub use jwt::{ConnectedApp, MAX_LIFETIME as MAX_JWT_LIFETIME};
pub use response::Verdict;
pub use session::{Expiry, Session, Step, X_TABLEAU_AUTH};
pub use ticket::TrustedTicket;
pub use version::{ApiVersion, Feature, InvalidApiVersion};
