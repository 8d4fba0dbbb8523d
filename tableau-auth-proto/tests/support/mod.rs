//! Helpers shared by the core's integration tests: configs, canned responses, fixtures, a
//! driver, and a renderer that masks secrets for snapshots.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tableau_auth_proto::http::{Request, Response, StatusCode};
use tableau_auth_proto::secret::ExposeSecret;
use tableau_auth_proto::{
    ApiVersion, Config, ConnectedApp, Credentials, Error, Event, Format, Intent, Session, SignIn,
    Step,
};

pub const BASE: &str = "https://tableau.example.com";
pub const USER_AGENT: &str = "tableau-auth-tests";

// Sentinel secrets: none of them may ever appear in a Debug, a Display or an error.
pub const PASSWORD: &str = "pw-SENTINEL-4c1e\"&<\n";
pub const PAT_NAME: &str = "nightly-etl";
pub const PAT_SECRET: &str = "pat-SENTINEL-q9Zp==:Wm3+/";
pub const JWT: &str = "jwt-SENTINEL-eyJhbGciOiJIUzI1NiJ9.e30.sig";
pub const APP_SECRET: &str = "app-SENTINEL-8d0c";
pub const TOKEN: &str = "tok-SENTINEL-Qm7s2fVbX0kLr9Tq4n";
pub const TICKET: &str = "tktSENTINEL9aLTyW1sBc8R2dX==:pL7tN2wQ9eR4yU6iO8aS1dF3";
pub const SENTINEL: &str = "SENTINEL";

pub const SITE_ID: &str = "6b7179ba-b82b-4f0f-91ed-812074ac5da6";
pub const USER_ID: &str = "1a96d216-e9b8-497b-a82a-0b899a965e01";
pub const IMPERSONATED: &str = "dd2239f6-ddf1-4107-981a-4cf94e415794";

/// The wall-clock time connected-app JWTs are minted at in tests.
pub fn wall_clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

pub fn config(format: Format, version: Option<ApiVersion>) -> Config {
    let mut b = Config::builder(BASE).format(format).user_agent(USER_AGENT);
    if let Some(v) = version {
        b = b.api_version(v);
    }
    b.build().unwrap()
}

pub fn connected_app() -> ConnectedApp {
    ConnectedApp::new(
        "client-7c1d",
        "secret-id-42",
        APP_SECRET,
        "jsmith@example.com",
    )
    .scopes(["tableau:content:read", "tableau:datasources:update"])
}

/// Every credential kind, by name.
pub fn all_credentials() -> Vec<(&'static str, Credentials)> {
    vec![
        ("password", Credentials::password("jsmith", PASSWORD)),
        (
            "pat",
            Credentials::personal_access_token(PAT_NAME, PAT_SECRET),
        ),
        ("jwt", Credentials::jwt(JWT)),
        ("uat", Credentials::unified_access_token(JWT)),
        ("connected_app", Credentials::ConnectedApp(connected_app())),
        ("uat_minted", Credentials::unified_access(unified_access())),
    ]
}

/// A stand-in RS256 signer (the core never signs RSA itself): a fixed "signature".
pub struct TestSigner;

impl tableau_auth_proto::UatSigner for TestSigner {
    fn key_id(&self) -> &str {
        "uat-key-7"
    }

    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, tableau_auth_proto::SignerError> {
        Ok(message.iter().take(8).copied().collect())
    }
}

pub fn unified_access() -> tableau_auth_proto::UnifiedAccess {
    tableau_auth_proto::UnifiedAccess::new(
        "https://issuer.example.com",
        "tenant-3f2a",
        "jsmith@example.com",
        std::sync::Arc::new(TestSigner),
    )
    .scopes(["tableau:content:read"])
}

pub fn sign_in(credentials: Credentials, site: &str) -> SignIn {
    SignIn::new(credentials, site).mint_inputs(wall_clock(), [0x5a; 16])
}

pub fn response(status: u16, body: impl Into<Vec<u8>>) -> Response<Vec<u8>> {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r
}

pub fn with_header(mut r: Response<Vec<u8>>, name: &'static str, value: &str) -> Response<Vec<u8>> {
    r.headers_mut().insert(name, value.parse().unwrap());
    r
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A sign-in response carrying the sentinel token.
pub fn sign_in_body(format: Format) -> Vec<u8> {
    match format {
        Format::Xml => format!(
            r#"<tsResponse xmlns="http://tableau.com/api"><credentials token="{TOKEN}" estimatedTimeToExpiration="10:00:00"><site id="{SITE_ID}" contentUrl="Finance"/><user id="{USER_ID}"/></credentials></tsResponse>"#
        ),
        Format::Json => format!(
            r#"{{"credentials":{{"site":{{"id":"{SITE_ID}","contentUrl":"Finance"}},"user":{{"id":"{USER_ID}"}},"token":"{TOKEN}","estimatedTimeToExpiration":"10:00:00"}}}}"#
        ),
    }
    .into_bytes()
}

#[allow(clippy::disallowed_methods)] // the tests, not the core, own the clock
pub fn t0() -> Instant {
    // A fixed base for the tests' monotonic time; only offsets from it matter.
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Starts `intent` and answers each request with the next response; returns the requests sent
/// and how the exchange ended.
pub fn drive(
    session: &mut Session,
    intent: Intent,
    responses: Vec<Response<Vec<u8>>>,
) -> (Vec<Request<Vec<u8>>>, Result<Event, Error>) {
    let mut sent = Vec::new();
    let mut responses = responses.into_iter();
    let mut step = match session.start(intent, t0()) {
        Ok(step) => step,
        Err(e) => return (sent, Err(e)),
    };
    loop {
        match step {
            Step::Done(event) => return (sent, Ok(event)),
            Step::Send(request) => {
                sent.push(request);
                let Some(response) = responses.next() else {
                    panic!("the core sent more requests than the test has responses: {sent:?}");
                };
                step = match session.handle_response(response, t0()) {
                    Ok(step) => step,
                    Err(e) => return (sent, Err(e)),
                };
            }
        }
    }
}

/// A session signed in with a PAT, in `format`, at API 3.25.
pub fn signed_in(format: Format) -> Session {
    let mut s = Session::new(config(format, Some(ApiVersion::new(3, 25))));
    let creds = Credentials::personal_access_token(PAT_NAME, PAT_SECRET);
    let (_, result) = drive(
        &mut s,
        sign_in(creds, "Finance").into(),
        vec![response(200, sign_in_body(format))],
    );
    assert!(matches!(result, Ok(Event::SignedIn(_))), "{result:?}");
    s
}

/// Renders a request for a snapshot: method, URI, sorted headers (sensitive ones masked), and
/// the body with every known secret replaced by its name.
pub fn render(request: &Request<Vec<u8>>) -> String {
    let mut out = format!("{} {}\n", request.method(), request.uri());
    let mut headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| {
            let value = if v.is_sensitive() {
                "[sensitive]".to_owned()
            } else {
                v.to_str().unwrap().to_owned()
            };
            (k.as_str().to_owned(), value)
        })
        .collect();
    headers.sort();
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\n"));
    }
    let body = String::from_utf8(request.body().clone()).unwrap();
    out.push('\n');
    out.push_str(&mask(&body));
    out
}

/// Replaces the sentinel secrets, in the forms they take on the wire, by their names.
pub fn mask(text: &str) -> String {
    let xml = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;")
            .replace('\n', "&#10;")
    };
    let json = |s: &str| serde_like_json_escape(s);
    let form = |s: &str| {
        s.replace('=', "%3D")
            .replace(':', "%3A")
            .replace('+', "%2B")
            .replace('/', "%2F")
    };
    let mut out = text.to_owned();
    for (secret, name) in [
        (PASSWORD, "[PASSWORD]"),
        (PAT_SECRET, "[PAT_SECRET]"),
        (JWT, "[JWT]"),
        (TOKEN, "[TOKEN]"),
    ] {
        out = out
            .replace(&xml(secret), name)
            .replace(&json(secret), name)
            .replace(&form(secret), name);
    }
    // A minted connected-app JWT: three base64url parts.
    let minted = connected_app()
        .mint(tableau_auth_proto::MintInputs {
            issued_at: wall_clock(),
            random: [0x5a; 16],
        })
        .unwrap();
    out.replace(minted.expose_secret(), "[MINTED_JWT]")
}

fn serde_like_json_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}
