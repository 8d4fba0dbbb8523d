//! Blocking adapter for [`tableau_auth_proto`] over ureq.
//!
//! This crate is a placeholder until the ureq adapter lands; it re-exports the core so that
//! dependants can already name it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use tableau_auth_proto as proto;
