//! Test support for tableau-auth: a fake Tableau server and fixtures shared by the end-to-end
//! tests.
//!
//! The fake server ([`fake::FakeServer`]) is an independent implementation of the wire protocol
//! described in `shared/protocol/tableau-auth.md`; it deliberately does not use
//! `tableau-auth-proto`, so that it can catch the client's mistakes instead of sharing them.
#![forbid(unsafe_code)]

pub mod fake;
pub mod sentinel;
pub mod support;
