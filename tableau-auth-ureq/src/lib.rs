//! # tableau-auth-ureq
//!
//! Drives the Sans-IO core [`tableau_auth_proto`] over blocking [ureq](https://docs.rs/ureq):
//! a ready [`Client`] for scripts, [`drive`] for one exchange over any other blocking transport,
//! and the `tableau-auth` command-line tool.
//!
//! The client never lets the transport follow a redirect (the core decides), keeps error bodies
//! (Tableau's error codes live there), bounds every body, and puts a limit on the name lookup,
//! connecting, waiting and on each whole exchange. Its own resolver keeps those limits cheap:
//! IP literals are used as they are, a name's addresses are kept for a short while
//! ([`ClientBuilder::dns_cache`]), and a lookup that hangs is abandoned at the limit
//! ([`ClientBuilder::resolver`] swaps in your own lookup).
//!
//! ## Who decides what
//!
//! Every decision about Tableau and the session is the core's session policy,
//! [`proto::Policy`], the same for every adapter: waiting out 429/503 (`Retry-After`, with
//! jitter, within the caps of [`ClientBuilder::retries`], on *every* exchange: sign-in,
//! sign-out, switch site, tickets, your own calls), signing in again once when the server ended
//! the session (`401002`) and replaying once, renewing shortly before the session's estimated
//! end (a failed renewal is not fatal: the old token goes on), signing out before a new
//! sign-in, keeping the site across re-sign-ins after [`Client::switch_site`], minting a fresh
//! JWT for each connected-app sign-in, and the events. The [`Client`] is its driver: it sends
//! the requests the policy asks for, sleeps when told, supplies the clocks and random bytes,
//! and owns TLS and the time limits.
//!
//! ## Quick start
//!
//! Sign in with a personal access token, make an authorized REST call, sign out. (This runs
//! against the fake Tableau server of [`tableau-auth-fake`](https://docs.rs/tableau-auth-fake);
//! with a real server, `server` is `https://tableau.example.com` and no `ca_pem` is needed for a
//! publicly trusted certificate.)
//!
//! ```
//! use tableau_auth_ureq::proto::{Credentials, SignIn, SignOut};
//! use tableau_auth_ureq::{Client, http};
//! # use tableau_auth_fake::{FakeConfig, FakeOptions, FakeServer, sample};
//! # let fake = FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::default())?;
//! # let (server, ca_pem) = (fake.base_url(), fake.ca_pem().unwrap_or_default());
//! # let (pat_name, pat_secret) = (sample::USER_PAT_NAME, sample::USER_PAT_SECRET.to_owned());
//! // let pat_secret = std::env::var("TABLEAU_PAT_SECRET")?; // secrets from the environment
//!
//! let mut client = Client::builder(server).ca_pem(ca_pem).build()?;
//! let pat = Credentials::personal_access_token(pat_name, pat_secret);
//! // The guard signs out when dropped, on every path out of this block.
//! let mut session = client.sign_in_guard(SignIn::new(pat, ""))?;
//! let url = session.session().api_url("sessions/current")?;
//! let request = http::Request::get(url).header("accept", "application/json").body(Vec::new())?;
//! let response = session.send(request)?; // authorized; re-signs in once on 401002
//! assert_eq!(response.status(), 200);
//! assert_eq!(session.sign_out()?, SignOut::Confirmed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Map of the crate
//!
//! * [`Client`] / [`ClientBuilder`]: one session over a ureq agent — [`Client::sign_in`],
//!   [`Client::sign_in_guard`] ([`SignOutGuard`]) and [`Client::with_sign_in`] (TSC's `with`
//!   block), [`Client::send`] for your own REST calls
//!   (authorized, and kept alive by the policy), [`Client::switch_site`],
//!   [`Client::current_session`] (who and where, typed), [`Client::trusted_ticket`],
//!   [`Client::server_info`], [`Client::sign_out`], [`Client::resume`] (a session saved
//!   elsewhere, from its token), [`Client::revoke_server_admin_tokens`]; [`Client::session`]
//!   reads the core's [`proto::Session`] (URLs, token, site); [`Client::agent`] is the
//!   configured agent, for calls that must go without the token.
//! * [`ClientBuilder::on_event`]: what happened to the session (sign-ins, renewals and why,
//!   sessions the server ended, waits on 429/503, failed renewals, sign-outs) as the policy's
//!   [`proto::lifecycle::SessionEvent`]s, the async client's vocabulary too;
//!   [`Client::generation`] counts the sign-ins.
//! * [`drive`]: runs one exchange of a [`proto::Session`] over *your* blocking transport (a
//!   closure), with no policy around it; [`DriveError`] is its error. To run the whole policy
//!   over your own transport, drive a [`proto::Policy`] as the `embed_drive` example does.
//! * [`Error`]: everything the client can fail with.
//! * Re-exports: [`proto`] (the core), [`http`], [`ureq`], so that versions always match.
//! * The `tableau-auth` binary (`src/bin/tableau-auth.rs`): server info, sign-in (handing the
//!   token over, or signing out again), whoami, switch site, sign-out and trusted tickets from
//!   a shell, secrets from the environment only; see `tableau-auth --help`. Feature `cli`:
//!   `cargo install tableau-auth-ureq --features cli`.
//!
//! Cargo features: `cli` (off by default) builds the `tableau-auth` binary and brings its
//! dependencies (clap, serde_json), which library users never compile; the core's `jwt`
//! feature (connected apps) is always on.
//!
//! ## Errors
//!
//! [`Error`] (`#[non_exhaustive]`) is the core's typed error ([`Error::Tableau`], with Tableau's
//! code and the predicates of [`proto::Error`]) or what the transport adds: [`Error::Timeout`]
//! (which limit ran out), [`Error::Tls`], [`Error::Transport`] and [`Error::Config`]. Use
//! [`Error::code`], [`Error::as_tableau`] and [`Error::is_timeout`] rather than messages.
//!
//! When the policy gives up, the core's error says why, with the server's answer as its
//! [`root`](proto::Error::root): [`Throttled`](proto::Error::Throttled) (still 429/503 beyond
//! the caps; it names the wait), [`SessionEnded`](proto::Error::SessionEnded) (the session was
//! rejected again after its one re-sign-in, or could not be signed in again: no kept sign-in),
//! [`SignInFailed`](proto::Error::SignInFailed) (the sign-in made again for the call failed:
//! revoked credentials, a used JWT). [`Error::code`] reads the root's code (`401002`,
//! `401001`). A failed call leaves the session usable: an exchange that failed is aborted, and
//! a failed sign-out keeps the session.
//!
//! ## Security
//!
//! * Redirects are never followed by ureq (`max_redirects(0)`); the core decides, and never
//!   sends credentials or a token to another host or over plain http.
//! * Error responses are read (`http_status_as_error(false)`) but every body is bounded
//!   ([`ClientBuilder::max_body`]), a response's head to 32 KiB, and every exchange has time
//!   limits.
//! * Secrets (passwords, PAT secrets, JWTs, tokens, tickets) are redacted in `Debug`, `Display`
//!   and errors, and zeroized when the core drops them. The CLI reads secrets only from
//!   environment variables.
//! * [`ClientBuilder::ca_pem`] *adds* a private CA to the built-in Mozilla roots, as the async
//!   client's does ([`ClientBuilder::built_in_roots`] turns those off);
//!   [`ClientBuilder::danger_accept_invalid_certs`] is for throwaway test servers only.
//!
//! ## Examples
//!
//! Each runs against an in-process fake Tableau server when no server is given:
//!
//! * `pat_script`: a blocking script — PAT from the environment, list workbooks, sign out
//!   through the guard. `cargo run -p tableau-auth-ureq --example pat_script`
//! * `embed_drive`: another SDK embedding the core's [`proto::Policy`] over its own transport,
//!   with no rule of its own (connected-app JWTs minted per sign-in, one re-sign-in on
//!   `401002`: all the policy's). `cargo run -p tableau-auth-ureq --example embed_drive`
//! * `ticket_server`: a small web server that embeds a view for each user with trusted
//!   tickets. `cargo run -p tableau-auth-ureq --example ticket_server`
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod entropy;
mod error;
mod resolver;
mod tls;

pub use client::{Client, ClientBuilder, SentRequest, SignOutGuard};
pub use error::{DriveError, Error};
/// The core, re-exported so that versions always match.
pub use tableau_auth_proto as proto;
pub use tableau_auth_proto::http;
/// The RS256 signer of unified access tokens (a PKCS#8 PEM key, on ring), for
/// [`proto::UnifiedAccess`].
pub use tableau_auth_rsa::{KeyError, RsaSigner};
/// The transport, re-exported so that versions always match.
pub use ureq;

use std::time::Instant;

use tableau_auth_proto::http::{Request, Response};
use tableau_auth_proto::{Event, Intent, Session, Step};

/// Runs one exchange of `session` to its end over any blocking transport: `send` gets each
/// request the core builds and returns the response (it must not follow redirects, and should
/// read at most [`tableau_auth_proto::Config::max_body`] bytes of body). A transport error
/// aborts the exchange, leaving the session as it was.
///
/// ```
/// use tableau_auth_ureq::{drive, http, proto::{Config, Event, Intent, Session}};
///
/// let mut session = Session::new(Config::builder("https://tableau.example.com").build()?);
/// let event = drive(&mut session, Intent::ServerInfo, |request| {
///     assert_eq!(request.uri().path(), "/api/2.4/serverinfo");
///     let body = "<tsResponse><serverInfo><productVersion build='b'>2025.1.3</productVersion>\
///                 <restApiVersion>3.25</restApiVersion></serverInfo></tsResponse>";
///     Ok::<_, std::io::Error>(http::Response::new(body.as_bytes().to_vec()))
/// })?;
/// assert!(matches!(event, Event::ServerInfo(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn drive<E>(
    session: &mut Session,
    intent: Intent,
    mut send: impl FnMut(Request<Vec<u8>>) -> Result<Response<Vec<u8>>, E>,
) -> Result<Event, DriveError<E>> {
    let mut step = session
        .start(intent, Instant::now())
        .map_err(DriveError::Tableau)?;
    loop {
        match step {
            Step::Send(request) => {
                let response = match send(request) {
                    Ok(response) => response,
                    Err(e) => {
                        session.abort();
                        return Err(DriveError::Transport(e));
                    }
                };
                step = session
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
