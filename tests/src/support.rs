//! Helpers shared by the adapters' end-to-end tests.
//!
//! Everything here is independent of an adapter's own `Client`: credentials of every kind for the
//! fake's sample configuration, the sample's well-known paths, readers of the fake's request log
//! and of response bodies (XML or JSON), and fault shorthands. Each adapter's
//! `tests/common/mod.rs` re-exports this module and adds what needs its own client.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tableau_auth_proto::secret::ExposeSecret;
use tableau_auth_proto::{ApiVersion, ConnectedApp, Credentials, Format, MintInputs, SignIn, http};

use crate::fake::{FakeServer, Fault, Listener, LoggedRequest, sample, sign_hs256};

/// The scope every JWT of these tests carries (the fake checks it on `workbooks`).
pub const SCOPE: &str = "tableau:content:read";
/// The sign-in path at the sample's version.
pub const SIGNIN: &str = "/api/3.25/auth/signin";
/// The sign-out path at the sample's version.
pub const SIGNOUT: &str = "/api/3.25/auth/signout";
/// `sessions/current` at the sample's version.
pub const CURRENT: &str = "/api/3.25/sessions/current";
/// The version probe.
pub const PROBE: &str = "/api/2.4/serverinfo";

/// `text` as the core's API version type.
pub fn v(text: &str) -> ApiVersion {
    text.parse().expect("a valid API version")
}

// ---------------------------------------------------------------------------------------------
// Credentials

/// The credential kinds of the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A user name and password.
    Password,
    /// A personal access token.
    Pat,
    /// A ready-made JWT (minted here with [`sign_hs256`]; one use only, its `jti` is remembered).
    ReadyJwt,
    /// A ready-made JWT minted with the core's [`ConnectedApp::mint`] (one use only as well).
    MintedJwt,
    /// A connected app: the core mints a fresh JWT for every sign-in.
    ConnectedApp,
}

/// Every credential kind.
pub const ALL_KINDS: [Kind; 5] = [
    Kind::Password,
    Kind::Pat,
    Kind::ReadyJwt,
    Kind::MintedJwt,
    Kind::ConnectedApp,
];

/// Every credential kind but [`Kind::MintedJwt`] (which only tests the core's minting, not the
/// adapter: once a JWT is minted, it is a [`Kind::ReadyJwt`] to the adapter).
pub const KINDS_EXCEPT_MINTED: [Kind; 4] = [
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

/// Makes the normal user's PAT ([`pat`]) expire `secs` seconds from the fake's now: its
/// sign-ins then carry Tableau's `estimatedTimeToExpiration`, and fail once it has passed.
pub fn expire_user_pat_in(fake: &FakeServer, secs: u64) {
    let at = fake.control().now_unix() + secs;
    fake.control()
        .update_config(|c| {
            for p in &mut c.pats {
                if p.name == sample::USER_PAT_NAME {
                    p.expires_at_unix = Some(at);
                }
            }
        })
        .expect("the fake takes the configuration");
}

/// A PAT sign-in of the normal user to the Default site.
pub fn pat() -> SignIn {
    SignIn::new(
        Credentials::personal_access_token(sample::USER_PAT_NAME, sample::USER_PAT_SECRET),
        "",
    )
}

// ---------------------------------------------------------------------------------------------
// The caller's own REST requests and their bodies

/// A GET of `uri` asking for `format`.
pub fn get_as(format: Format, uri: http::Uri) -> http::Request<Vec<u8>> {
    http::Request::get(uri)
        .header("accept", format.media_type())
        .body(Vec::new())
        .expect("a valid request")
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
    /// The site's LUID.
    pub site_id: String,
    /// The site's content URL (empty for the Default site).
    pub site_content_url: String,
    /// The user's LUID.
    pub user_id: String,
    /// The user's name.
    pub user_name: String,
}

/// Whether a response body is JSON (rather than XML).
fn is_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Reads a `session` document, XML or JSON.
pub fn parse_me(body: &[u8]) -> Me {
    let text = String::from_utf8_lossy(body);
    if is_json(&text) {
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

/// Reads the workbook names of a `workbooks` document, XML or JSON.
pub fn parse_workbook_names(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    if is_json(&text) {
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON workbooks");
        json["workbooks"]["workbook"]
            .as_array()
            .expect("a workbook array")
            .iter()
            .map(|w| w["name"].as_str().expect("a name").to_owned())
            .collect()
    } else {
        xml_tags(&text, "workbook")
            .into_iter()
            .map(|w| w["name"].clone())
            .collect()
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

/// A Tableau XML error body.
pub fn tableau_error_xml(code: &str, summary: &str, detail: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><tsResponse xmlns=\"http://tableau.com/api\">\
         <error code=\"{code}\"><summary>{summary}</summary><detail>{detail}</detail></error>\
         </tsResponse>"
    )
}

/// A status fault with an optional `Retry-After`.
/// A 401 with Tableau's `401002` document: the server no longer knows the session (expired,
/// superseded or signed out elsewhere).
pub fn session_gone() -> Fault {
    Fault::Status {
        status: 401,
        retry_after: None,
        body: Some(tableau_error_xml(
            "401002",
            "Unauthorized Access",
            "Invalid authentication credentials were provided.",
        )),
    }
}

pub fn status(status: u16, retry_after: Option<&str>) -> Fault {
    Fault::Status {
        status,
        retry_after: retry_after.map(str::to_owned),
        body: None,
    }
}

// ---------------------------------------------------------------------------------------------
// The fake's log

/// `METHOD path status` of each entry (with ` (http)` for the redirect listener), for
/// assertion messages and comparisons.
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

/// What both clients say of a response whose head is past their 32 KiB limit.
pub const HEAD_TOO_LARGE: &str = "the response's head is larger than 32768 bytes";

/// Bytes of the padding a `Fault::LargeHead` answer carried, as the client delivered them.
pub fn head_padding(response: &http::Response<Vec<u8>>) -> usize {
    response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-fake-padding-"))
        .map(|(_, value)| value.len())
        .sum()
}

/// Number of sign-in requests in `log`.
pub fn sign_ins(log: &[LoggedRequest]) -> usize {
    log.iter().filter(|e| e.is_signin()).count()
}

/// Number of requests with `status` in `log`.
pub fn with_status(log: &[LoggedRequest], status: u16) -> usize {
    log.iter().filter(|e| e.status == Some(status)).count()
}

/// The log entries from position `from` on.
pub fn log_from(fake: &FakeServer, from: usize) -> Vec<LoggedRequest> {
    fake.request_log().into_iter().skip(from).collect()
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

/// One multi-threaded tokio runtime (2 workers) for a test binary whose tests are blocking but
/// drive the async client: built once, shared by every test of the binary.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// A CA and a client certificate it issued, for the mutual-TLS tests (PEM text): give
/// [`ca_pem`](Self::ca_pem) to the fake (`FakeOptions::builder().client_ca(..)`) and the
/// certificate and key to the client. [`stranger`](Self::stranger) is a certificate and key from
/// another CA, which the fake must refuse.
pub struct ClientPki {
    /// The CA clients' certificates must come from.
    pub ca_pem: String,
    /// A client certificate it issued, and its PKCS#8 key.
    pub cert_pem: String,
    /// The key of [`cert_pem`](Self::cert_pem).
    pub key_pem: String,
    /// A client certificate and key from an unrelated CA.
    pub stranger: (String, String),
}

impl ClientPki {
    /// Generates fresh ones.
    pub fn generate() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let issue = |ca_name: &str| {
            let ca_key = KeyPair::generate().expect("a CA key");
            let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
            ca.distinguished_name.push(DnType::CommonName, ca_name);
            ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let ca_cert = ca.self_signed(&ca_key).expect("a CA certificate");
            let issuer = Issuer::new(ca, ca_key);
            let key = KeyPair::generate().expect("a client key");
            let mut leaf = CertificateParams::new(Vec::<String>::new()).expect("client params");
            leaf.distinguished_name
                .push(DnType::CommonName, "etl-client");
            leaf.is_ca = IsCa::ExplicitNoCa;
            leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            let cert = leaf.signed_by(&key, &issuer).expect("a client certificate");
            (ca_cert.pem(), cert.pem(), key.serialize_pem())
        };
        let (ca_pem, cert_pem, key_pem) = issue("client CA");
        let (_, stranger_cert, stranger_key) = issue("another CA");
        Self {
            ca_pem,
            cert_pem,
            key_pem,
            stranger: (stranger_cert, stranger_key),
        }
    }
}

/// The private half of the sample Tableau Cloud's UAT public key (RSA 2048, PKCS#8; a test key
/// that protects nothing), for `RsaSigner::from_pem_file` and the CLI's `--uat-key-file`.
pub const UAT_KEY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tableau-auth-rsa/tests/fixtures/uat-test-key.pem"
);
