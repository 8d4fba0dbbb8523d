//! Shared helpers of the end-to-end tests: a fake Tableau server per test (TLS + the http
//! redirect listener, on 127.0.0.1), a client that trusts its CA, credentials of every kind, and
//! small readers of the fake's request log and of response bodies (XML or JSON).
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

pub use tableau_auth_tests::fake::{
    FakeConfig, FakeOptions, FakeServer, Fault, FaultRule, Listener, LoggedRequest, sample,
    sign_hs256,
};
pub use tableau_auth_ureq::proto::secret::ExposeSecret;
pub use tableau_auth_ureq::proto::{
    ApiVersion, ConnectedApp, Credentials, Feature, Format, MintInputs, SignIn, SignOut, UserId,
};
pub use tableau_auth_ureq::{Client, ClientBuilder, Error, http, proto, ureq};

/// The scope every JWT of these tests carries (the fake checks it on `workbooks`).
pub const SCOPE: &str = "tableau:content:read";

/// The sample server's REST API version, as the core's type.
pub fn v(text: &str) -> ApiVersion {
    text.parse().expect("a valid API version")
}

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

/// The credential kinds of the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Password,
    Pat,
    /// A ready-made JWT (minted here with [`sign_hs256`]; one use only, its `jti` is remembered).
    ReadyJwt,
    /// A ready-made JWT minted with the core's [`ConnectedApp::mint`].
    MintedJwt,
    /// A connected app: the core mints a fresh JWT for every sign-in.
    ConnectedApp,
}

pub const ALL_KINDS: [Kind; 5] = [
    Kind::Password,
    Kind::Pat,
    Kind::ReadyJwt,
    Kind::MintedJwt,
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
    format!("e2e-{}-{n}-{nanos}", std::process::id())
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

/// A JWT minted by the core's connected-app code, outside any session.
pub fn minted_jwt(user: &str) -> String {
    let mut random = [0u8; 16];
    random[..8].copy_from_slice(&JTI.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    random[8..12].copy_from_slice(&nanos.to_be_bytes());
    random[12..16].copy_from_slice(&std::process::id().to_be_bytes());
    let jwt = app(user)
        .mint(MintInputs {
            issued_at: SystemTime::now(),
            random,
        })
        .expect("the core mints a JWT");
    jwt.expose_secret().to_owned()
}

/// The credentials of `kind` for the sample's normal user (`jsmith`), or for the admin.
pub fn credentials(fake: &FakeServer, kind: Kind, admin: bool) -> Credentials {
    use sample::*;
    let (user, password, pat, secret) = if admin {
        (ADMIN_NAME, ADMIN_PASSWORD, ADMIN_PAT_NAME, ADMIN_PAT_SECRET)
    } else {
        (USER_NAME, USER_PASSWORD, USER_PAT_NAME, USER_PAT_SECRET)
    };
    match kind {
        Kind::Password => Credentials::password(user, password),
        Kind::Pat => Credentials::personal_access_token(pat, secret),
        Kind::ReadyJwt => Credentials::jwt(hand_jwt(fake, user)),
        Kind::MintedJwt => Credentials::jwt(minted_jwt(user)),
        Kind::ConnectedApp => Credentials::ConnectedApp(app(user)),
    }
}

/// A sign-in of the normal user with `kind` to the Default site (where the connected app is).
pub fn sign_in(fake: &FakeServer, kind: Kind) -> SignIn {
    SignIn::new(credentials(fake, kind, false), "")
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

/// A GET of `uri` asking for the client's format.
pub fn get(client: &Client, uri: http::Uri) -> http::Request<Vec<u8>> {
    http::Request::get(uri)
        .header(
            "accept",
            client.session().config().format().media_type().to_owned(),
        )
        .body(Vec::new())
        .expect("a valid request")
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

/// What `sessions/current` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub site_id: String,
    pub site_content_url: String,
    pub user_id: String,
    pub user_name: String,
}

/// Sends `GET sessions/current` and reads it.
pub fn whoami(client: &mut Client) -> Result<Me, Error> {
    let request = current_request(client);
    let response = client.send(request)?;
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

/// Sends `GET sites/{site}/workbooks` and returns the workbook names.
pub fn workbook_names(client: &mut Client) -> Result<Vec<String>, Error> {
    let request = workbooks_request(client);
    let response = client.send(request)?;
    assert_eq!(response.status(), 200);
    let text = String::from_utf8_lossy(response.body()).into_owned();
    if text.trim_start().starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON workbooks");
        Ok(json["workbooks"]["workbook"]
            .as_array()
            .expect("a workbook array")
            .iter()
            .map(|w| w["name"].as_str().expect("a name").to_owned())
            .collect())
    } else {
        Ok(xml_tags(&text, "workbook")
            .into_iter()
            .map(|w| w["name"].clone())
            .collect())
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
            continue; // `<sites` when looking for `<site`
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
            attrs.insert(key, xml_unescape(value));
            text = &text[value_start + close + 1..];
        }
        out.push(attrs);
    }
    out
}

fn xml_unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

// ---------------------------------------------------------------------------------------------
// The fake's log

/// `METHOD path status` of each entry, for assertion messages.
pub fn describe(log: &[LoggedRequest]) -> Vec<String> {
    log.iter()
        .map(|e| {
            let status = e.status.map_or("-".to_owned(), |s| s.to_string());
            let listener = match e.listener {
                Listener::Https => "",
                Listener::HttpRedirect => " (http)",
            };
            format!("{} {} {status}{listener}", e.method, e.path)
        })
        .collect()
}

/// Number of sign-in requests in `log`.
pub fn sign_ins(log: &[LoggedRequest]) -> usize {
    log.iter().filter(|e| e.is_signin()).count()
}

/// The log entries from position `from` on.
pub fn log_from(fake: &FakeServer, from: usize) -> Vec<LoggedRequest> {
    fake.request_log().into_iter().skip(from).collect()
}

/// The session token the client holds (to compare with what the fake saw).
pub fn token_of(client: &Client) -> String {
    client
        .session()
        .token()
        .expect("signed in")
        .expose_secret()
        .to_owned()
}

/// Asserts that `started` is less than `bound` ago: used only to show that a configured limit
/// (a timeout, a body cap) cut an exchange short, never as a speed goal.
pub fn assert_within(started: Instant, bound: Duration, what: &str) {
    let elapsed = started.elapsed();
    assert!(
        elapsed < bound,
        "{what}: took {elapsed:?}, expected under {bound:?}"
    );
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

/// A Tableau XML error body.
pub fn tableau_error_xml(code: &str, summary: &str, detail: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><tsResponse xmlns=\"http://tableau.com/api\">\
         <error code=\"{code}\"><summary>{summary}</summary><detail>{detail}</detail></error>\
         </tsResponse>"
    )
}

/// The sign-in path at the sample's version.
pub const SIGNIN: &str = "/api/3.25/auth/signin";
/// The sign-out path at the sample's version.
pub const SIGNOUT: &str = "/api/3.25/auth/signout";
/// `sessions/current` at the sample's version.
pub const CURRENT: &str = "/api/3.25/sessions/current";
/// The version probe.
pub const PROBE: &str = "/api/2.4/serverinfo";
