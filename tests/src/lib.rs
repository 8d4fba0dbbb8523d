//! Test support for tableau-auth: fixtures shared by the end-to-end tests.
#![forbid(unsafe_code)]
