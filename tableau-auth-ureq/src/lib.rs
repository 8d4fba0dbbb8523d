//! # tableau-auth-ureq
//!
//! Drives the Sans-IO core [`tableau_auth_proto`] over blocking [ureq](https://docs.rs/ureq):
//! a ready [`Client`] for scripts, [`drive`] for any other blocking transport, and the
//! `tableau-auth` command-line tool.
//!
//! The client never lets the transport follow a redirect (the core decides), keeps error bodies
//! (Tableau's error codes live there), bounds every body, and puts a limit on connecting,
//! waiting and on each whole exchange.
//!
//! ```no_run
//! use tableau_auth_ureq::Client;
//! use tableau_auth_ureq::proto::{Credentials, SignIn};
//!
//! let mut client = Client::builder("https://tableau.example.com").build()?;
//! let secret = std::env::var("TABLEAU_PAT_SECRET").unwrap_or_default();
//! let signed_in = client.sign_in(SignIn::new(Credentials::personal_access_token("etl", secret), "Finance"))?;
//! println!("site {} user {}", signed_in.site_id, signed_in.user_id);
//! client.sign_out()?;
//! # Ok::<(), tableau_auth_ureq::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod error;
mod tls;

pub use client::{Client, ClientBuilder, SignOutGuard};
pub use error::{DriveError, Error};
/// The core, re-exported so that versions always match.
pub use tableau_auth_proto as proto;
pub use tableau_auth_proto::http;
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
