//! # tableau-auth-fake
//!
//! A faithful fake Tableau Server for end-to-end tests: the REST API's authentication methods,
//! a few site-scoped resources and trusted tickets, as Tableau's own Python client (TSC) and
//! plain HTTP clients see them. It is independent of any Tableau client (it shares no code with
//! one), so it catches a client's mistakes instead of sharing them. Use it from your own tests
//! (as a dev-dependency) or run the `fake-tableau` binary.
//!
//! Start one with [`FakeServer::start`] (async, on the caller's tokio runtime) or
//! [`FakeServer::start_blocking`] (own runtime, for blocking clients). It listens on
//! `127.0.0.1` only, optionally with TLS (a CA generated at start, see [`FakeServer::ca_file`])
//! and optionally with a plain-HTTP listener that redirects everything to the main one.
//! [`FakeOptions::cert`] swaps the server certificate for a broken one ([`ServerCert`]:
//! expired, not yet valid, issued for another name, signed by an unpublished CA), and
//! [`Fault::Redirect`] answers a path with any redirect status and `Location` (for instance
//! another fake's URL), so that tests can play a man in the middle or a malicious redirect.
//!
//! Behaviour follows the repository's `docs/protocol.md`: sign-in (password, PAT, connected-app
//! JWT, impersonation; at any URL version, gated by the server's version; in Tableau Cloud mode,
//! [`FakeConfig::cloud`], unified access tokens verified against [`UatConfig`]s), sign-out, switch
//! site, serverinfo, sessions/current, Revoke Administrator Personal Access Tokens, Query Sites,
//! workbooks, users (list and Query User), all
//! lists paged, trusted tickets (redeemed by a 302 to the view, whose page lives behind the
//! `workgroup_session_id` cookie), session idle/absolute expiry on a controllable clock, one
//! live session per PAT, XML or JSON bodies, the documented error codes. The sample world
//! ([`FakeConfig::sample`], names and secrets in [`sample`]), how to run `fake-tableau`, and
//! every choice made where Tableau's documentation is silent are in the crate's README.
//! Faults ([`Fault`]) can be injected per path, and every request is recorded
//! ([`LoggedRequest`]).
//!
//! A configuration is built with [`FakeConfig::builder`] (or starts from
//! [`FakeConfig::sample`] and is edited: its fields are public), the start options with
//! [`FakeOptions::builder`]. A running fake is changed through its [`FakeControl`]; a refused
//! change is a [`ControlError`].
//!
//! ```
//! use std::time::Duration;
//! use tableau_auth_fake::{
//!     ControlError, FakeConfig, FakeOptions, FakeServer, PatConfig, UserConfig,
//! };
//!
//! let ana = UserConfig::builder("ana", "0b6b4f0e-1c8d-4a57-9f1e-5f2f7a3c9d10")
//!     .password("pw")
//!     .site_role("", "Creator")
//!     .build();
//! let config = FakeConfig::builder()
//!     .user(ana)
//!     .pat(PatConfig::builder("ana-pat", "c2VjcmV0:c2VjcmV0", "ana").build())
//!     .rest_api_version("3.19")
//!     .build();
//! let options = FakeOptions::builder().tls(false).redirect_listener(false).build();
//! let fake = FakeServer::start_blocking(config, options)?;
//! let control = fake.control();
//! control.advance(Duration::from_secs(60)); // the fake clock (session and PAT expiry follow it)
//! control.update_config(|c| c.pat_impersonation_enabled = true)?;
//! let refused = control.update_config(|c| c.rest_api_version = "three".into());
//! assert_eq!(refused, Err(ControlError::ApiVersion("three".into())));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Control over HTTP (main listener, outside `/api`, never logged, never faulted):
//!
//! | method + path | effect |
//! | --- | --- |
//! | `GET /_fake/config` | the current [`FakeConfig`] as JSON |
//! | `POST /_fake/config` | replace the config (JSON body); 204, or 400 with a reason |
//! | `GET /_fake/clock` | `{"offset_secs": N, "now_unix": N}` |
//! | `POST /_fake/clock/advance?secs=N` (or `ms=N`) | move the fake clock forward |
//! | `GET /_fake/faults` | the pending fault rules |
//! | `POST /_fake/faults` | add a [`FaultRule`] (JSON object) or several (array; kinds in [`Fault`], e.g. `{"kind": "redirect", "status": 302, "location": "…"}`); 204 |
//! | `DELETE /_fake/faults` | remove all fault rules; 204 |
//! | `POST /_fake/sessions/drop[?user=NAME]` | end all sessions or one user's: `{"dropped": N}` |
//! | `GET /_fake/sessions` | `{"live": N}` |
//! | `GET /_fake/log` | the request log as a JSON array |
//! | `DELETE /_fake/log` | clear the request log; 204 |
//! | `POST /_fake/redirect?status=N` | status of the redirect listener (301, 302, 303, 307, 308) |

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod body;
mod builders;
mod clock;
mod config;
mod control;
mod error;
mod faults;
mod handlers;
mod jwt_mint;
mod log;
mod random;
mod render;
mod reply;
mod reqdoc;
mod server;
mod state;
mod sync;
mod tls;
mod uat_key;
mod version;

pub use builders::{
    CloudConfigBuilder, ConnectedAppConfigBuilder, FakeConfigBuilder, PatConfigBuilder,
    UatConfigBuilder, UserConfigBuilder, WorkbookConfigBuilder,
};
pub use config::{
    CloudConfig, ConnectedAppConfig, FakeConfig, PastLastPage, PatConfig, SiteConfig, UatConfig,
    UserConfig, ViewWithoutSession, WorkbookConfig, sample,
};
pub use control::FakeControl;
pub use error::ControlError;
pub use faults::{Fault, FaultRule};
pub use jwt_mint::sign_hs256;
pub use log::{Listener, LoggedRequest};
pub use server::{FakeOptions, FakeOptionsBuilder, FakeServer};
pub use tls::ServerCert;
pub use version::ApiVersion;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
