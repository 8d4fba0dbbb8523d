//! Shared helpers of the async end-to-end tests: a fake Tableau server per test (TLS + the http
//! redirect listener, on 127.0.0.1, on the test's own runtime), a client that trusts its CA,
//! credentials of every kind, an event recorder, and small readers of the fake's request log
//! and of response bodies (XML or JSON).
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::sync::{Arc, Mutex};

pub use tableau_auth_hyper::proto::secret::ExposeSecret;
pub use tableau_auth_hyper::proto::{
    ApiVersion, ConnectedApp, Credentials, Format, MintInputs, SignIn, SignOut,
};
pub use tableau_auth_hyper::{
    Client, ClientBuilder, Ended, Error, RenewReason, SessionEvent, http, proto,
};
pub use tableau_auth_tests::fake::{
    FakeConfig, FakeOptions, FakeServer, Fault, FaultRule, Listener, LoggedRequest, sample,
    sign_hs256,
};

/// The helpers that do not depend on this adapter's client.
pub use tableau_auth_tests::support::*;

/// Starts a fake with the sample configuration, TLS and the http redirect listener, on the
/// current runtime.
pub async fn start() -> FakeServer {
    start_with(FakeConfig::sample()).await
}

/// Starts a fake with `config`.
pub async fn start_with(config: FakeConfig) -> FakeServer {
    FakeServer::start(config, FakeOptions::default())
        .await
        .expect("the fake server starts")
}

/// A client builder for the fake's https URL, trusting the fake's CA (added to the built-in
/// roots).
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

/// Records every event a client emits.
#[derive(Clone, Default)]
pub struct Events(pub Arc<Mutex<Vec<SessionEvent>>>);

impl Events {
    /// Hooks the recorder into a builder.
    pub fn hook(&self, builder: ClientBuilder) -> ClientBuilder {
        let events = self.0.clone();
        builder.on_event(move |e| events.lock().unwrap().push(e.clone()))
    }

    pub fn all(&self) -> Vec<SessionEvent> {
        self.0.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }

    /// SignedIn + Renewed events.
    pub fn sign_ins(&self) -> usize {
        self.all()
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    SessionEvent::SignedIn { .. } | SessionEvent::Renewed { .. }
                )
            })
            .count()
    }

    pub fn count(&self, pred: impl Fn(&SessionEvent) -> bool) -> usize {
        self.all().iter().filter(|e| pred(e)).count()
    }
}

// ---------------------------------------------------------------------------------------------
// The caller's own REST requests

/// `GET sessions/current` of the client's current session, asking for XML.
pub fn current_request(client: &Client) -> http::Request<Vec<u8>> {
    let uri = client.api_url("sessions/current").expect("an API URL");
    get_as(Format::Xml, uri)
}

/// Sends `GET sessions/current` (in the client's format) and reads it.
pub async fn whoami(client: &Client, format: Format) -> Result<Me, Error> {
    let uri = client.api_url("sessions/current")?;
    let response = client.send(get_as(format, uri)).await?;
    assert_eq!(response.status(), 200);
    Ok(parse_me(response.body()))
}

/// Spawns `n` tasks, each sending one `GET url` (asking for XML) on a clone of `client`.
pub fn spawn_gets(
    client: &Client,
    url: &http::Uri,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Result<http::Response<Vec<u8>>, Error>>> {
    (0..n)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move { client.send(get_as(Format::Xml, url)).await })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The client's own state

/// The token the client holds.
pub fn token_of(client: &Client) -> String {
    client
        .current()
        .expect("signed in")
        .header_value()
        .to_str()
        .expect("ASCII")
        .to_owned()
}
