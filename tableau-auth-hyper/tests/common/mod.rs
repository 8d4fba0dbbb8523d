//! Shared helpers of the async end-to-end tests: a fake Tableau server per test (TLS + the http
//! redirect listener, on 127.0.0.1, on the test's own runtime), a client that trusts its CA,
//! credentials of every kind, an event recorder, and small readers of the fake's request log
//! and of response bodies (XML or JSON).
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

pub use tableau_auth_hyper::proto::secret::ExposeSecret;
pub use tableau_auth_hyper::proto::{
    ApiVersion, ConnectedApp, Credentials, Format, MintInputs, SignIn, SignOut,
};
pub use tableau_auth_hyper::{
    Client, ClientBuilder, EndReason, Error, RenewReason, SessionEvent, http, proto,
};
pub use tableau_auth_tests::fake::{
    FakeConfig, FakeOptions, FakeServer, Fault, FaultRule, Listener, LoggedRequest, sample,
    sign_hs256,
};

/// The scope every JWT of these tests carries.
pub const SCOPE: &str = "tableau:content:read";
/// The sign-in path at the sample's version.
pub const SIGNIN: &str = "/api/3.25/auth/signin";
/// The sign-out path at the sample's version.
pub const SIGNOUT: &str = "/api/3.25/auth/signout";
/// `sessions/current` at the sample's version.
pub const CURRENT: &str = "/api/3.25/sessions/current";
/// The version probe.
pub const PROBE: &str = "/api/2.4/serverinfo";

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

/// The credential kinds of the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Password,
    Pat,
    /// A ready-made JWT (signed here; one use only, its `jti` is remembered by the fake).
    ReadyJwt,
    /// A connected app: the core mints a fresh JWT for every sign-in.
    ConnectedApp,
}

pub const ALL_KINDS: [Kind; 4] = [
    Kind::Password,
    Kind::Pat,
    Kind::ReadyJwt,
    Kind::ConnectedApp,
];

static JTI: AtomicU64 = AtomicU64::new(1);

/// A unique JWT id (the fake refuses a `jti` it has seen).
pub fn jti() -> String {
    let n = JTI.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("hyper-e2e-{}-{n}-{nanos}", std::process::id())
}

/// A direct-trust JWT for `user`, signed here (not by the core), valid on the fake's clock.
pub fn hand_jwt(fake: &FakeServer, user: &str) -> String {
    let now = fake.control().now_unix();
    let header = serde_json::json!({
        "alg": "HS256", "typ": "JWT",
        "kid": sample::APP_SECRET_ID, "iss": sample::APP_CLIENT_ID,
    });
    let claims = serde_json::json!({
        "iss": sample::APP_CLIENT_ID, "sub": user, "aud": "tableau",
        "exp": now + 300, "iat": now, "jti": jti(), "scp": [SCOPE],
    });
    sign_hs256(&header, &claims, sample::APP_SECRET_VALUE)
}

/// The sample's enabled connected app, signing in as `user`.
pub fn app(user: &str) -> ConnectedApp {
    ConnectedApp::new(
        sample::APP_CLIENT_ID,
        sample::APP_SECRET_ID,
        sample::APP_SECRET_VALUE,
        user,
    )
    .scope(SCOPE)
}

/// The credentials of `kind` for the sample's normal user (`jsmith`).
pub fn credentials(fake: &FakeServer, kind: Kind) -> Credentials {
    use sample::*;
    match kind {
        Kind::Password => Credentials::password(USER_NAME, USER_PASSWORD),
        Kind::Pat => Credentials::personal_access_token(USER_PAT_NAME, USER_PAT_SECRET),
        Kind::ReadyJwt => Credentials::jwt(hand_jwt(fake, USER_NAME)),
        Kind::ConnectedApp => Credentials::ConnectedApp(app(USER_NAME)),
    }
}

/// A sign-in of the normal user with `kind` to the Default site.
pub fn sign_in(fake: &FakeServer, kind: Kind) -> SignIn {
    SignIn::new(credentials(fake, kind), "")
}

/// A password sign-in of the normal user to the Default site.
pub fn password() -> SignIn {
    SignIn::new(
        Credentials::password(sample::USER_NAME, sample::USER_PASSWORD),
        "",
    )
}

/// A PAT sign-in of the normal user to the Default site.
pub fn pat() -> SignIn {
    SignIn::new(
        Credentials::personal_access_token(sample::USER_PAT_NAME, sample::USER_PAT_SECRET),
        "",
    )
}

// ---------------------------------------------------------------------------------------------
// The caller's own REST requests

/// A GET of `uri` asking for `format`.
pub fn get_as(format: Format, uri: http::Uri) -> http::Request<Vec<u8>> {
    http::Request::get(uri)
        .header("accept", format.media_type())
        .body(Vec::new())
        .expect("a valid request")
}

/// `GET sessions/current` of the client's current session, asking for XML.
pub fn current_request(client: &Client) -> http::Request<Vec<u8>> {
    let uri = client.api_url("sessions/current").expect("an API URL");
    get_as(Format::Xml, uri)
}

/// The fixed `sessions/current` URL of a fake (for clients that sign in lazily).
pub fn current_url(fake: &FakeServer) -> http::Uri {
    format!("{}{CURRENT}", fake.base_url())
        .parse()
        .expect("a URL")
}

/// What `sessions/current` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub site_id: String,
    pub site_content_url: String,
    pub user_id: String,
    pub user_name: String,
}

/// Sends `GET sessions/current` (in the client's format) and reads it.
pub async fn whoami(client: &Client, format: Format) -> Result<Me, Error> {
    let uri = client.api_url("sessions/current")?;
    let response = client.send(get_as(format, uri)).await?;
    assert_eq!(response.status(), 200);
    Ok(parse_me(response.body()))
}

/// Reads a `session` document, XML or JSON.
pub fn parse_me(body: &[u8]) -> Me {
    let text = String::from_utf8_lossy(body);
    if text.trim_start().starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON session");
        let s = |v: &serde_json::Value| v.as_str().expect("a string member").to_owned();
        let session = &json["session"];
        Me {
            site_id: s(&session["site"]["id"]),
            site_content_url: s(&session["site"]["contentUrl"]),
            user_id: s(&session["user"]["id"]),
            user_name: s(&session["user"]["name"]),
        }
    } else {
        let site = xml_tags(&text, "site").into_iter().next().expect("<site>");
        let user = xml_tags(&text, "user").into_iter().next().expect("<user>");
        Me {
            site_id: site["id"].clone(),
            site_content_url: site["contentUrl"].clone(),
            user_id: user["id"].clone(),
            user_name: user["name"].clone(),
        }
    }
}

/// The attributes of every `<name …>` start tag in `xml` (a minimal reader for test bodies).
pub fn xml_tags(xml: &str, name: &str) -> Vec<BTreeMap<String, String>> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(at) = rest.find(&open) {
        let after = &rest[at + open.len()..];
        let Some(end) = after.find('>') else { break };
        rest = &after[end..];
        let inside = &after[..end];
        if !inside.is_empty() && !inside.starts_with([' ', '/', '\t', '\n']) {
            continue;
        }
        let mut attrs = BTreeMap::new();
        let mut text = inside.trim_end_matches('/');
        while let Some(eq) = text.find("=\"") {
            let key = text[..eq].trim().to_owned();
            let value_start = eq + 2;
            let Some(close) = text[value_start..].find('"') else {
                break;
            };
            let value = &text[value_start..value_start + close];
            attrs.insert(
                key,
                value
                    .replace("&quot;", "\"")
                    .replace("&apos;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&"),
            );
            text = &text[value_start + close + 1..];
        }
        out.push(attrs);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The fake's log

/// `METHOD path status` of each entry, for assertion messages.
pub fn describe(log: &[LoggedRequest]) -> Vec<String> {
    log.iter()
        .map(|e| {
            let status = e.status.map_or("-".to_owned(), |s| s.to_string());
            format!("{} {} {status}", e.method, e.path)
        })
        .collect()
}

/// Number of sign-in requests in `log`.
pub fn sign_ins(log: &[LoggedRequest]) -> usize {
    log.iter().filter(|e| e.is_signin()).count()
}

/// Number of requests with `status` in `log`.
pub fn with_status(log: &[LoggedRequest], status: u16) -> usize {
    log.iter().filter(|e| e.status == Some(status)).count()
}

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

/// Asserts that `started` is less than `bound` ago: used only to show that a configured limit
/// cut an exchange short, never as a speed goal.
pub fn assert_within(started: Instant, bound: Duration, what: &str) {
    let elapsed = started.elapsed();
    assert!(
        elapsed < bound,
        "{what}: took {elapsed:?}, expected under {bound:?}"
    );
}

/// A Tableau XML error body.
pub fn tableau_error_xml(code: &str, summary: &str, detail: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><tsResponse xmlns=\"http://tableau.com/api\">\
         <error code=\"{code}\"><summary>{summary}</summary><detail>{detail}</detail></error>\
         </tsResponse>"
    )
}

/// A status fault with an optional `Retry-After`.
pub fn status(status: u16, retry_after: Option<&str>) -> Fault {
    Fault::Status {
        status,
        retry_after: retry_after.map(str::to_owned),
        body: None,
    }
}
