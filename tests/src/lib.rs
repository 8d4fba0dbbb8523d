//! Test support for tableau-auth: fixtures shared by the end-to-end tests, and the fake
//! Tableau server.
//!
//! The fake server ([`fake::FakeServer`]) is the crate `tableau-auth-fake`, re-exported here as
//! [`fake`] so that `tableau_auth_tests::fake::…` paths keep working. It is an independent
//! implementation of the wire protocol as Tableau documents it; it deliberately does not use
//! `tableau-auth-proto`, so that it can catch the client's mistakes instead of sharing them.
//! [`sim`] drives the core's session policy against it in process, on simulated time.
#![forbid(unsafe_code)]

pub use tableau_auth_fake as fake;
pub mod connect_proxy;
pub mod redis_server;
pub mod sentinel;
pub mod sim;
pub mod support;

/// The workspace README's examples, compiled as doc tests (this crate has both adapters as
/// dev-dependencies) so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadmeDoctests;

/// The TSC guide's Rust snippets, compiled as doc tests (`docs/for-tsc-users.md`).
#[cfg(doctest)]
#[doc = include_str!("../../docs/for-tsc-users.md")]
struct TscGuideDoctests;
