//! Shared helpers of the end-to-end tests: a fake Tableau server per test (TLS + the http
//! redirect listener, on 127.0.0.1), a client that trusts its CA, credentials of every kind, and
//! small readers of the fake's request log and of response bodies (XML or JSON).
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use tableau_auth_tests::fake::{
    FakeConfig, FakeOptions, FakeServer, Fault, FaultRule, Listener, LoggedRequest, sample,
    sign_hs256,
};
pub use tableau_auth_ureq::proto::lifecycle::{RenewReason, SessionEvent};
pub use tableau_auth_ureq::proto::secret::ExposeSecret;
pub use tableau_auth_ureq::proto::{
    ApiVersion, ConnectedApp, Credentials, Feature, Format, MintInputs, SignIn, SignOut, UserId,
};
pub use tableau_auth_ureq::{Client, ClientBuilder, Error, http, proto, ureq};

/// The helpers that do not depend on this adapter's client.
pub use tableau_auth_tests::support::*;

/// Starts a fake with the sample configuration, TLS and the http redirect listener.
pub fn start() -> FakeServer {
    FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::default())
        .expect("the fake server starts")
}

/// A client builder for the fake's https URL, trusting (only) the fake's CA.
pub fn builder(fake: &FakeServer) -> ClientBuilder {
    Client::builder(fake.base_url()).ca_pem(fake.ca_pem().expect("a TLS fake has a CA"))
}

/// A client for the fake in `format`.
pub fn client(fake: &FakeServer, format: Format) -> Client {
    builder(fake)
        .format(format)
        .build()
        .expect("the client builds")
}

// ---------------------------------------------------------------------------------------------
// The caller's own REST requests

/// A GET of `uri` asking for the client's format.
pub fn get(client: &Client, uri: http::Uri) -> http::Request<Vec<u8>> {
    get_as(client.session().config().format(), uri)
}

/// `GET sessions/current`.
pub fn current_request(client: &Client) -> http::Request<Vec<u8>> {
    let uri = client
        .session()
        .api_url("sessions/current")
        .expect("an API URL");
    get(client, uri)
}

/// `GET sites/{site-luid}/workbooks`.
pub fn workbooks_request(client: &Client) -> http::Request<Vec<u8>> {
    let uri = client.session().site_url("workbooks").expect("a site URL");
    get(client, uri)
}

/// Sends `GET sessions/current` and reads it.
pub fn whoami(client: &mut Client) -> Result<Me, Error> {
    let request = current_request(client);
    let response = client.send(request)?;
    assert_eq!(response.status(), 200);
    Ok(parse_me(response.body()))
}

/// Sends `GET sites/{site}/workbooks` and returns the workbook names.
pub fn workbook_names(client: &mut Client) -> Result<Vec<String>, Error> {
    let request = workbooks_request(client);
    let response = client.send(request)?;
    assert_eq!(response.status(), 200);
    Ok(parse_workbook_names(response.body()))
}

// ---------------------------------------------------------------------------------------------
// The client's own state

/// The session token the client holds (to compare with what the fake saw).
pub fn token_of(client: &Client) -> String {
    client
        .session()
        .token()
        .expect("signed in")
        .expose_secret()
        .to_owned()
}

/// An agent that trusts the fake's CA and never follows redirects (for redeeming tickets).
pub fn plain_agent(fake: &FakeServer) -> ureq::Agent {
    use ureq::tls::{PemItem, RootCerts, TlsConfig, parse_pem};
    let pem = fake.ca_pem().expect("a TLS fake has a CA");
    let certs: Vec<_> = parse_pem(pem.as_bytes())
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&certs))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

// ---------------------------------------------------------------------------------------------
// Events

/// A callback for [`ClientBuilder::on_event`], and a function that takes every event it
/// received since it was last called.
pub fn recorder() -> (
    impl Fn(&SessionEvent) + Send + Sync + 'static,
    impl Fn() -> Vec<SessionEvent>,
) {
    let seen: Arc<Mutex<Vec<SessionEvent>>> = Arc::default();
    let sink = seen.clone();
    (
        move |event: &SessionEvent| sink.lock().expect("events").push(event.clone()),
        move || std::mem::take(&mut *seen.lock().expect("events")),
    )
}
