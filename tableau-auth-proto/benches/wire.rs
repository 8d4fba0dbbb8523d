//! The wire work of the core, each measurement next to a bare baseline in the same group.
//!
//! * `parse_signin`, `parse_error`, `parse_serverinfo`: `Session::handle_response` of a
//!   protocol-shaped document (docs/protocol.md: "The response", "Errors on the caller's
//!   calls", "Server info and the version") against a bare `quick_xml::de` / `serde_json`
//!   deserialisation of the same bytes into a minimal struct of owned `String`s. Both arms clone
//!   the body `Vec` and wrap it in an `http::Response` inside the timed routine; both run under
//!   `iter_batched` so that dropping the outputs is untimed in both.
//! * `build_request`: `Session::start` of each intent against `format!` (XML) or
//!   `serde_json::to_vec(&json!(..))` (JSON) of the same body plus the same `http::Request`.
//!   The inputs need no escaping, so both arms produce byte-identical requests (checked once
//!   before measuring).
//! * `classify`: `Session::classify` of a 401002 response against the bare error deserialise.
//!
//! `cargo bench -p tableau-auth-proto --bench wire`; results are summarised in BENCHMARKS.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    BatchSize, BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main,
};
use serde::Deserialize;
use tableau_auth_proto::http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use tableau_auth_proto::http::{HeaderValue, Method, Request, Response, StatusCode};
use tableau_auth_proto::{
    ApiVersion, Config, Credentials, Error, Event, Format, Intent, Session, SignIn, SiteContentUrl,
    Step, TicketRequest, UserId, Verdict, X_TABLEAU_AUTH,
};

// ----- inputs ----------------------------------------------------------------------------------

const BASE: &str = "https://tableau.example.com";
const VERSION: ApiVersion = ApiVersion::new(3, 25);
const USER_AGENT_VALUE: &str = concat!("tableau-auth/", env!("CARGO_PKG_VERSION"));

const USER_NAME: &str = "jsmith";
const PASSWORD: &str = "s3cr3t!";
const PAT_NAME: &str = "nightly-etl";
const PAT_SECRET: &str = "q9ZpXc4LkT0vR2bN8sHw1A==:Wm3fK7pQ2zR8tV1xB4nC6yH9jL0sD5aE";
const SITE: &str = "Finance";
const OTHER_SITE: &str = "Marketing";
const IMPERSONATE: &str = "dd2239f6-ddf1-4107-981a-4cf94e415794";
const TOKEN: &str = "Qm7s2fVbX0kLr9Tq4nWc8yHa1JdEe5Pu";

/// A connected-app JWT as `ConnectedApp::mint` makes it for [`connected_app`] and [`mint_time`]
/// with `[7; 16]` (519 bytes; checked at start-up when the `jwt` feature is on).
const READY_JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjBiNmQwYzNlLTkxZTItNGQ4YS1hMWI3\
LTVhMGY0ZTNjMmQxOSIsImlzcyI6IjdmMWY1YzlhLTNhMGUtNGM0ZS05ZDViLTJiOGMxZTZmMGExMSJ9.eyJpc3MiOiI3ZjFm\
NWM5YS0zYTBlLTRjNGUtOWQ1Yi0yYjhjMWU2ZjBhMTEiLCJzdWIiOiJqc21pdGhAZXhhbXBsZS5jb20iLCJhdWQiOiJ0YWJs\
ZWF1IiwiZXhwIjoxNzY3MjI1OTAwLCJqdGkiOiIwNzA3MDcwNy0wNzA3LTQ3MDctODcwNy0wNzA3MDcwNzA3MDciLCJzY3Ai\
OlsidGFibGVhdTpjb250ZW50OnJlYWQiLCJ0YWJsZWF1OnZpZXdzOmVtYmVkIl0sImlhdCI6MTc2NzIyNTU5NSwibmJmIjox\
NzY3MjI1NTk1fQ.wqNc8EaF6CyUE6CxSvKkNvn9i0m7QDxuph3GE_NIGJk";

#[cfg(feature = "jwt")]
fn connected_app() -> tableau_auth_proto::ConnectedApp {
    tableau_auth_proto::ConnectedApp::new(
        "7f1f5c9a-3a0e-4c4e-9d5b-2b8c1e6f0a11",
        "0b6d0c3e-91e2-4d8a-a1b7-5a0f4e3c2d19",
        "vW3kq9Zp0LrT8sHw1mYe6Ua3OgJdXc4LkT0vR2bN8sE=",
        "jsmith@example.com",
    )
    .scope("tableau:content:read")
    .scope("tableau:views:embed")
}

/// The bench plays the adapter, which owns the clock; one reading serves every call.
#[allow(clippy::disallowed_methods)]
fn clock() -> Instant {
    Instant::now()
}

#[cfg(feature = "jwt")]
fn mint_time() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

// ----- documents, exactly in the protocol reference's shapes ------------------------------------

/// The sign-in response (docs/protocol.md, "The response"), XML.
const SIGNIN_XML: &str = r#"<?xml version='1.0' encoding='UTF-8'?>
<tsResponse xmlns="http://tableau.com/api"
            xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
            xsi:schemaLocation="http://tableau.com/api https://help.tableau.com/samples/en-us/rest_api/ts-api_3_25.xsd">
  <credentials token="Qm7s2fVbX0kLr9Tq4nWc8yHa1JdEe5Pu" estimatedTimeToExpiration="364:23:59">
    <site id="6b7179ba-b82b-4f0f-91ed-812074ac5da6" contentUrl="Finance"/>
    <user id="1a96d216-e9b8-497b-a82a-0b899a965e01"/>
  </credentials>
</tsResponse>
"#;

/// The sign-in response, JSON.
const SIGNIN_JSON: &str = r#"{"credentials": {
   "site": {"id": "6b7179ba-b82b-4f0f-91ed-812074ac5da6", "contentUrl": "Finance"},
   "user": {"id": "1a96d216-e9b8-497b-a82a-0b899a965e01"},
   "token": "Qm7s2fVbX0kLr9Tq4nWc8yHa1JdEe5Pu",
   "estimatedTimeToExpiration": "364:23:59"}}
"#;

/// An error document (docs/protocol.md, "Errors on the caller's calls"), XML, with a 401002.
const ERROR_XML: &str = r#"<?xml version='1.0' encoding='UTF-8'?>
<tsResponse xmlns="http://tableau.com/api" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
            xsi:schemaLocation="http://tableau.com/api https://help.tableau.com/samples/en-us/rest_api/ts-api_3_24.xsd">
  <error code="401002">
    <summary>Unauthorized Access</summary>
    <detail>Invalid authentication credentials were provided.</detail>
  </error>
</tsResponse>
"#;

/// An error document, JSON (key order as observed: summary, detail, code).
const ERROR_JSON: &str = r#"{"error": {"summary": "Unauthorized Access", "detail": "Invalid authentication credentials were provided.", "code": "401002"}}
"#;

/// Server info (docs/protocol.md, "Server info and the version"), XML.
const SERVERINFO_XML: &str = r#"<tsResponse xmlns="http://tableau.com/api" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
            xsi:schemaLocation="http://tableau.com/api https://help.tableau.com/samples/en-us/rest_api/ts-api_3_25.xsd">
  <serverInfo>
    <productVersion build="20251.25.0318.0917">2025.1.3</productVersion>
    <prepConductorVersion>2025.1.0</prepConductorVersion>
    <restApiVersion>3.25</restApiVersion>
    <platform>linux</platform>
    <serverSettings>
      <oAuthEnabled>true</oAuthEnabled>
      <sheetImageMaxAgeFloor>1</sheetImageMaxAgeFloor>
      <sheetImageMaxAgeCeiling>60</sheetImageMaxAgeCeiling>
      <offlineInteractionSupportedPhase>2</offlineInteractionSupportedPhase>
    </serverSettings>
  </serverInfo>
</tsResponse>
"#;

/// Server info, JSON.
const SERVERINFO_JSON: &str = r#"{"serverInfo": {"productVersion": {"value": "2025.1.3", "build": "20251.25.0318.0917"},
                "prepConductorVersion": "2025.1.0",
                "restApiVersion": "3.25",
                "platform": "linux",
                "serverSettings": {"oAuthEnabled": true, "sheetImageMaxAgeFloor": 1,
                                   "sheetImageMaxAgeCeiling": 60, "offlineInteractionSupportedPhase": 2}}}
"#;

fn document(format: Format, xml: &str, json: &str) -> Vec<u8> {
    match format {
        Format::Xml => xml.as_bytes().to_vec(),
        Format::Json => json.as_bytes().to_vec(),
    }
}

fn tag(format: Format) -> &'static str {
    match format {
        Format::Xml => "xml",
        Format::Json => "json",
    }
}

/// What an adapter hands the core: the status and the body bytes (no headers, which would only
/// add the same cost to both arms).
fn response(status: StatusCode, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

// ----- baseline documents: the fair minimum, owned Strings ---------------------------------------

#[derive(Debug, Deserialize)]
struct SignInXml {
    credentials: CredentialsXml,
}

#[derive(Debug, Deserialize)]
struct CredentialsXml {
    #[serde(rename = "@token")]
    token: String,
    site: SiteXml,
    user: UserXml,
}

#[derive(Debug, Deserialize)]
struct SiteXml {
    #[serde(rename = "@id")]
    id: String,
    #[serde(rename = "@contentUrl")]
    content_url: String,
}

#[derive(Debug, Deserialize)]
struct UserXml {
    #[serde(rename = "@id")]
    id: String,
}

#[derive(Debug, Deserialize)]
struct SignInJson {
    credentials: CredentialsJson,
}

#[derive(Debug, Deserialize)]
struct CredentialsJson {
    token: String,
    site: SiteJson,
    user: UserJson,
}

#[derive(Debug, Deserialize)]
struct SiteJson {
    id: String,
    #[serde(rename = "contentUrl")]
    content_url: String,
}

#[derive(Debug, Deserialize)]
struct UserJson {
    id: String,
}

#[derive(Debug, Deserialize)]
struct ErrorDocXml {
    error: ErrorXml,
}

#[derive(Debug, Deserialize)]
struct ErrorXml {
    #[serde(rename = "@code")]
    code: String,
    summary: String,
    detail: String,
}

#[derive(Debug, Deserialize)]
struct ErrorDocJson {
    error: ErrorJson,
}

#[derive(Debug, Deserialize)]
struct ErrorJson {
    code: String,
    summary: String,
    detail: String,
}

#[derive(Debug, Deserialize)]
struct ServerInfoDocXml {
    #[serde(rename = "serverInfo")]
    server_info: ServerInfoXml,
}

#[derive(Debug, Deserialize)]
struct ServerInfoXml {
    #[serde(rename = "productVersion")]
    product_version: ProductVersionXml,
    #[serde(rename = "restApiVersion")]
    rest_api_version: String,
    platform: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ProductVersionXml {
    #[serde(rename = "$text")]
    value: String,
    #[serde(rename = "@build")]
    build: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ServerInfoDocJson {
    #[serde(rename = "serverInfo")]
    server_info: ServerInfoJson,
}

#[derive(Debug, Deserialize)]
struct ServerInfoJson {
    #[serde(rename = "productVersion")]
    product_version: ProductVersionJson,
    #[serde(rename = "restApiVersion")]
    rest_api_version: String,
    platform: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ProductVersionJson {
    value: String,
    build: Option<String>,
}

/// The four fields every sign-in parse must yield: token, site id, contentUrl, user id.
type Fields = (String, String, String, String);

fn baseline_sign_in(format: Format, body: &[u8]) -> Fields {
    match format {
        Format::Xml => {
            let text = std::str::from_utf8(body).expect("UTF-8");
            let d: SignInXml = quick_xml::de::from_str(text).expect("sign-in XML");
            let c = d.credentials;
            (c.token, c.site.id, c.site.content_url, c.user.id)
        }
        Format::Json => {
            let d: SignInJson = serde_json::from_slice(body).expect("sign-in JSON");
            let c = d.credentials;
            (c.token, c.site.id, c.site.content_url, c.user.id)
        }
    }
}

/// `(code, summary, detail)`.
fn baseline_error(format: Format, body: &[u8]) -> (String, String, String) {
    match format {
        Format::Xml => {
            let text = std::str::from_utf8(body).expect("UTF-8");
            let d: ErrorDocXml = quick_xml::de::from_str(text).expect("error XML");
            (d.error.code, d.error.summary, d.error.detail)
        }
        Format::Json => {
            let d: ErrorDocJson = serde_json::from_slice(body).expect("error JSON");
            (d.error.code, d.error.summary, d.error.detail)
        }
    }
}

/// `(product version, build, restApiVersion, platform)`.
fn baseline_server_info(
    format: Format,
    body: &[u8],
) -> (String, Option<String>, String, Option<String>) {
    match format {
        Format::Xml => {
            let text = std::str::from_utf8(body).expect("UTF-8");
            let d: ServerInfoDocXml = quick_xml::de::from_str(text).expect("serverinfo XML");
            let s = d.server_info;
            let pv = s.product_version;
            (pv.value, pv.build, s.rest_api_version, s.platform)
        }
        Format::Json => {
            let d: ServerInfoDocJson = serde_json::from_slice(body).expect("serverinfo JSON");
            let s = d.server_info;
            let pv = s.product_version;
            (pv.value, pv.build, s.rest_api_version, s.platform)
        }
    }
}

// ----- sessions ------------------------------------------------------------------------------

fn config(format: Format, fixed_version: bool) -> Config {
    let builder = Config::builder(BASE).format(format);
    let builder = if fixed_version {
        builder.api_version(VERSION)
    } else {
        builder
    };
    builder.build().expect("config")
}

fn pat_sign_in() -> SignIn {
    SignIn::new(
        Credentials::personal_access_token(PAT_NAME, PAT_SECRET),
        SITE,
    )
}

/// A session with the PAT sign-in started (its first request taken, not sent).
fn session_awaiting(config: &Config, now: Instant) -> Session {
    let mut session = Session::new(config.clone());
    match session.start(pat_sign_in().into(), now) {
        Ok(Step::Send(_)) => session,
        other => panic!("start: {other:?}"),
    }
}

/// A signed-in session (PAT, the sign-in response above).
fn signed_in_session(format: Format, now: Instant) -> Session {
    let config = config(format, true);
    let mut session = session_awaiting(&config, now);
    let body = document(format, SIGNIN_XML, SIGNIN_JSON);
    match session.handle_response(response(StatusCode::OK, body), now) {
        Ok(Step::Done(Event::SignedIn(_))) => session,
        other => panic!("sign-in: {other:?}"),
    }
}

// ----- parsing ---------------------------------------------------------------------------------

/// `ours` feeds `body` to a session made by `setup`; `baseline` deserialises it bare.
fn parse_pair<B>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    format: Format,
    setup: impl Fn() -> Session,
    status: StatusCode,
    body: &[u8],
    now: Instant,
    baseline: impl Fn(Format, &[u8]) -> B,
) {
    let body = body.to_vec();
    group.bench_function(BenchmarkId::new("ours", tag(format)), |b| {
        b.iter_batched(
            &setup,
            |mut session| {
                let step = session.handle_response(response(status, body.clone()), now);
                (session, step)
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function(BenchmarkId::new("baseline", tag(format)), |b| {
        b.iter_batched(
            || (),
            |()| {
                let response = response(status, body.clone());
                baseline(format, response.body())
            },
            BatchSize::SmallInput,
        );
    });
}

fn parse_sign_in(c: &mut Criterion) {
    let now = clock();
    let mut group = c.benchmark_group("parse_signin");
    for format in [Format::Xml, Format::Json] {
        let config = config(format, true);
        let body = document(format, SIGNIN_XML, SIGNIN_JSON);
        parse_pair(
            &mut group,
            format,
            || session_awaiting(&config, now),
            StatusCode::OK,
            &body,
            now,
            baseline_sign_in,
        );
    }
    group.finish();
}

fn parse_error(c: &mut Criterion) {
    let now = clock();
    let mut group = c.benchmark_group("parse_error");
    for format in [Format::Xml, Format::Json] {
        let config = config(format, true);
        let body = document(format, ERROR_XML, ERROR_JSON);
        parse_pair(
            &mut group,
            format,
            || session_awaiting(&config, now),
            StatusCode::UNAUTHORIZED,
            &body,
            now,
            baseline_error,
        );
    }
    group.finish();
}

fn parse_server_info(c: &mut Criterion) {
    let now = clock();
    let mut group = c.benchmark_group("parse_serverinfo");
    for format in [Format::Xml, Format::Json] {
        // No fixed version: the sign-in starts with the probe, and feeding serverinfo also builds
        // the sign-in request (the `ours` arm).
        let config = config(format, false);
        let body = document(format, SERVERINFO_XML, SERVERINFO_JSON);
        parse_pair(
            &mut group,
            format,
            || session_awaiting(&config, now),
            StatusCode::OK,
            &body,
            now,
            baseline_server_info,
        );
        // The probe alone (`Intent::ServerInfo`): ends in `Event::ServerInfo`, builds nothing.
        let body = body.clone();
        group.bench_function(BenchmarkId::new("ours_probe_only", tag(format)), |b| {
            b.iter_batched(
                || {
                    let mut session = Session::new(config.clone());
                    match session.start(Intent::ServerInfo, now) {
                        Ok(Step::Send(_)) => session,
                        other => panic!("start: {other:?}"),
                    }
                },
                |mut session| {
                    let step = session.handle_response(response(StatusCode::OK, body.clone()), now);
                    (session, step)
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

// ----- building requests -------------------------------------------------------------------

/// The requests `build_request` measures.
#[derive(Clone, Copy)]
enum Kind {
    Password,
    Pat,
    Jwt,
    ConnectedApp,
    Impersonate,
    SwitchSite,
    SignOut,
    Ticket,
}

const KINDS: [Kind; 8] = [
    Kind::Password,
    Kind::Pat,
    Kind::Jwt,
    Kind::ConnectedApp,
    Kind::Impersonate,
    Kind::SwitchSite,
    Kind::SignOut,
    Kind::Ticket,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Password => "signin_password",
            Self::Pat => "signin_pat",
            Self::Jwt => "signin_jwt",
            Self::ConnectedApp => "signin_connected_app",
            Self::Impersonate => "signin_pat_impersonate",
            Self::SwitchSite => "switch_site",
            Self::SignOut => "sign_out",
            Self::Ticket => "trusted_ticket",
        }
    }

    /// Whether `start` needs a signed-in session.
    fn needs_session(self) -> bool {
        matches!(self, Self::SwitchSite | Self::SignOut)
    }

    /// `None` when this build has no connected-app support.
    fn intent(self) -> Option<Intent> {
        let sign_in = |credentials| SignIn::new(credentials, SITE);
        Some(match self {
            Self::Password => sign_in(Credentials::password(USER_NAME, PASSWORD)).into(),
            Self::Pat => pat_sign_in().into(),
            Self::Jwt => sign_in(Credentials::jwt(READY_JWT)).into(),
            #[cfg(feature = "jwt")]
            Self::ConnectedApp => sign_in(Credentials::ConnectedApp(connected_app()))
                .mint_inputs(mint_time(), [7; 16])
                .into(),
            #[cfg(not(feature = "jwt"))]
            Self::ConnectedApp => return None,
            Self::Impersonate => pat_sign_in()
                .impersonate(UserId::parse(IMPERSONATE).expect("LUID"))
                .into(),
            Self::SwitchSite => Intent::SwitchSite(SiteContentUrl::new(OTHER_SITE)),
            Self::SignOut => Intent::SignOut,
            Self::Ticket => TicketRequest::new(USER_NAME).target_site(SITE).into(),
        })
    }

    /// The same request written by hand: no escaping, no checks, no session.
    fn baseline(self, format: Format) -> Request<Vec<u8>> {
        let xml = format == Format::Xml;
        let media = format.media_type();
        // XML only; the JSON bodies are built with `json!`.
        let credentials = |attributes: String, user: Option<&str>| -> Vec<u8> {
            let user = user.map(|id| format!("<user id=\"{id}\"/>"));
            format!(
                "<tsRequest><credentials {attributes}><site contentUrl=\"{SITE}\"/>{}\
                 </credentials></tsRequest>",
                user.as_deref().unwrap_or("")
            )
            .into_bytes()
        };
        let (path, body, authorized) = match (self, xml) {
            (Self::Password, true) => (
                format!("/api/{VERSION}/auth/signin"),
                credentials(
                    format!("name=\"{USER_NAME}\" password=\"{PASSWORD}\""),
                    None,
                ),
                false,
            ),
            (Self::Password, false) => (
                format!("/api/{VERSION}/auth/signin"),
                json_body(&serde_json::json!({"credentials": {
                    "name": USER_NAME, "password": PASSWORD, "site": {"contentUrl": SITE}}})),
                false,
            ),
            (Self::Pat | Self::Impersonate, true) => (
                format!("/api/{VERSION}/auth/signin"),
                credentials(
                    format!(
                        "personalAccessTokenName=\"{PAT_NAME}\" \
                         personalAccessTokenSecret=\"{PAT_SECRET}\""
                    ),
                    matches!(self, Self::Impersonate).then_some(IMPERSONATE),
                ),
                false,
            ),
            (Self::Pat, false) => (
                format!("/api/{VERSION}/auth/signin"),
                json_body(&serde_json::json!({"credentials": {
                    "personalAccessTokenName": PAT_NAME,
                    "personalAccessTokenSecret": PAT_SECRET,
                    "site": {"contentUrl": SITE}}})),
                false,
            ),
            (Self::Impersonate, false) => (
                format!("/api/{VERSION}/auth/signin"),
                json_body(&serde_json::json!({"credentials": {
                    "personalAccessTokenName": PAT_NAME,
                    "personalAccessTokenSecret": PAT_SECRET,
                    "site": {"contentUrl": SITE},
                    "user": {"id": IMPERSONATE}}})),
                false,
            ),
            // The connected-app baseline sends the JWT ours mints (identical inputs give an
            // identical JWT), so the difference is the minting.
            (Self::Jwt | Self::ConnectedApp, true) => (
                format!("/api/{VERSION}/auth/signin"),
                credentials(format!("jwt=\"{READY_JWT}\""), None),
                false,
            ),
            (Self::Jwt | Self::ConnectedApp, false) => (
                format!("/api/{VERSION}/auth/signin"),
                json_body(&serde_json::json!({"credentials": {
                    "jwt": READY_JWT, "site": {"contentUrl": SITE}}})),
                false,
            ),
            (Self::SwitchSite, true) => (
                format!("/api/{VERSION}/auth/switchSite"),
                format!("<tsRequest><site contentUrl=\"{OTHER_SITE}\"/></tsRequest>").into_bytes(),
                true,
            ),
            (Self::SwitchSite, false) => (
                format!("/api/{VERSION}/auth/switchSite"),
                json_body(&serde_json::json!({"site": {"contentUrl": OTHER_SITE}})),
                true,
            ),
            (Self::SignOut, _) => (format!("/api/{VERSION}/auth/signout"), Vec::new(), true),
            (Self::Ticket, _) => {
                let body = format!("username={USER_NAME}&target_site={SITE}").into_bytes();
                return Request::builder()
                    .method(Method::POST)
                    .uri(format!("{BASE}/trusted"))
                    .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE))
                    .header(ACCEPT, "text/plain")
                    .header(
                        CONTENT_TYPE,
                        "application/x-www-form-urlencoded; charset=UTF-8",
                    )
                    .body(body)
                    .expect("request");
            }
        };
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("{BASE}{path}"))
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE))
            .header(ACCEPT, media)
            .header(CONTENT_TYPE, media)
            .body(body)
            .expect("request");
        if authorized {
            let mut value = HeaderValue::from_str(TOKEN).expect("token");
            value.set_sensitive(true);
            request.headers_mut().insert(X_TABLEAU_AUTH, value);
        }
        request
    }
}

fn json_body(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON")
}

fn start(session: &mut Session, intent: Intent, now: Instant) -> Request<Vec<u8>> {
    match session.start(intent, now) {
        Ok(Step::Send(request)) => request,
        other => panic!("start: {other:?}"),
    }
}

/// Both arms must put the same request on the wire, or the comparison means nothing.
fn check_same_request(kind: Kind, format: Format, ours: &Request<Vec<u8>>) {
    let base = kind.baseline(format);
    let what = format!("{} {}", kind.name(), tag(format));
    assert_eq!(ours.method(), base.method(), "{what}");
    assert_eq!(ours.uri(), base.uri(), "{what}");
    assert_eq!(ours.headers(), base.headers(), "{what}");
    if format == Format::Json && !ours.body().is_empty() && kind_has_json_body(kind) {
        let a: serde_json::Value = serde_json::from_slice(ours.body()).expect("ours JSON");
        let b: serde_json::Value = serde_json::from_slice(base.body()).expect("baseline JSON");
        assert_eq!(a, b, "{what}");
    } else {
        assert_eq!(ours.body(), base.body(), "{what}");
    }
}

fn kind_has_json_body(kind: Kind) -> bool {
    !matches!(kind, Kind::SignOut | Kind::Ticket)
}

fn build_requests(c: &mut Criterion) {
    let now = clock();
    let mut group = c.benchmark_group("build_request");
    for format in [Format::Xml, Format::Json] {
        let config = config(format, true);
        for kind in KINDS {
            let Some(intent) = kind.intent() else {
                continue;
            };
            let id = format!("{}_{}", tag(format), kind.name());
            if kind.needs_session() {
                // One signed-in session; `abort` ends the (trivial) exchange `start` opened.
                let mut session = signed_in_session(format, now);
                check_same_request(kind, format, &start(&mut session, intent, now));
                session.abort();
                group.bench_function(BenchmarkId::new("ours", &id), |b| {
                    b.iter_batched(
                        || kind.intent().expect("intent"),
                        |intent| {
                            let step = session.start(intent, now);
                            session.abort();
                            step
                        },
                        BatchSize::SmallInput,
                    );
                });
            } else {
                let mut session = Session::new(config.clone());
                check_same_request(kind, format, &start(&mut session, intent, now));
                group.bench_function(BenchmarkId::new("ours", &id), |b| {
                    b.iter_batched(
                        || (Session::new(config.clone()), kind.intent().expect("intent")),
                        |(mut session, intent)| {
                            let step = session.start(intent, now);
                            (session, step)
                        },
                        BatchSize::SmallInput,
                    );
                });
            }
            group.bench_function(BenchmarkId::new("baseline", &id), |b| {
                b.iter_batched(|| (), |()| kind.baseline(format), BatchSize::SmallInput);
            });
        }
    }
    group.finish();
}

// ----- classify ------------------------------------------------------------------------------

fn classify(c: &mut Criterion) {
    let now = clock();
    let mut group = c.benchmark_group("classify");
    for format in [Format::Xml, Format::Json] {
        let session = signed_in_session(format, now);
        let response = response(
            StatusCode::UNAUTHORIZED,
            document(format, ERROR_XML, ERROR_JSON),
        );
        group.bench_function(BenchmarkId::new("ours", tag(format)), |b| {
            b.iter(|| session.classify(black_box(&response)));
        });
        group.bench_function(BenchmarkId::new("baseline", tag(format)), |b| {
            b.iter(|| baseline_error(format, black_box(&response).body()));
        });
    }
    group.finish();
}

// ----- sanity: every `ours` arm takes the path it is named after --------------------------------

fn check_outcomes() {
    let now = clock();
    for format in [Format::Xml, Format::Json] {
        let what = tag(format);

        let fixed = config(format, true);
        let body = document(format, SIGNIN_XML, SIGNIN_JSON);
        let (token, site_id, content_url, user_id) = baseline_sign_in(format, &body);
        let mut session = session_awaiting(&fixed, now);
        match session.handle_response(response(StatusCode::OK, body), now) {
            Ok(Step::Done(Event::SignedIn(info))) => {
                assert_eq!(info.site_id.as_str(), site_id, "{what}");
                assert_eq!(info.site_content_url.as_str(), content_url, "{what}");
                assert_eq!(info.user_id.as_str(), user_id, "{what}");
                assert!(info.credentials_expire_at.is_some(), "{what}");
                assert_eq!(token, TOKEN, "{what}");
                assert!(session.token().is_some(), "{what}");
            }
            other => panic!("{what} sign-in: {other:?}"),
        }

        let body = document(format, ERROR_XML, ERROR_JSON);
        let (code, summary, detail) = baseline_error(format, &body);
        let mut session = session_awaiting(&fixed, now);
        match session.handle_response(response(StatusCode::UNAUTHORIZED, body.clone()), now) {
            Err(Error::Api(e)) => {
                assert_eq!(e.code, code, "{what}");
                assert_eq!(e.summary, summary, "{what}");
                assert_eq!(e.detail, detail, "{what}");
            }
            other => panic!("{what} sign-in error: {other:?}"),
        }
        let signed_in = signed_in_session(format, now);
        match signed_in.classify(&response(StatusCode::UNAUTHORIZED, body)) {
            Verdict::Reauthenticate(e) => assert_eq!(e.code(), Some("401002"), "{what}"),
            other => panic!("{what} classify: {other:?}"),
        }

        let probing = config(format, false);
        let body = document(format, SERVERINFO_XML, SERVERINFO_JSON);
        let (product, build, rest, platform) = baseline_server_info(format, &body);
        let mut session = session_awaiting(&probing, now);
        match session.handle_response(response(StatusCode::OK, body.clone()), now) {
            Ok(Step::Send(request)) => {
                assert!(
                    request.uri().path().ends_with("/3.25/auth/signin"),
                    "{what}"
                );
            }
            other => panic!("{what} serverinfo: {other:?}"),
        }
        let mut session = Session::new(probing.clone());
        let _probe = start(&mut session, Intent::ServerInfo, now);
        match session.handle_response(response(StatusCode::OK, body), now) {
            Ok(Step::Done(Event::ServerInfo(info))) => {
                assert_eq!(info.product_version, product, "{what}");
                assert_eq!(info.build, build, "{what}");
                assert_eq!(info.rest_api_version.to_string(), rest, "{what}");
                assert_eq!(info.platform, platform, "{what}");
            }
            other => panic!("{what} serverinfo probe: {other:?}"),
        }
    }
    #[cfg(feature = "jwt")]
    {
        use tableau_auth_proto::MintInputs;
        use tableau_auth_proto::secret::ExposeSecret;
        let jwt = connected_app()
            .mint(MintInputs {
                issued_at: mint_time(),
                random: [7; 16],
            })
            .expect("mint");
        assert_eq!(jwt.expose_secret(), READY_JWT);
    }
}

fn benches(c: &mut Criterion) {
    check_outcomes();
    parse_sign_in(c);
    parse_error(c);
    parse_server_info(c);
    build_requests(c);
    classify(c);
}

criterion_group! {
    name = wire;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = benches
}
criterion_main!(wire);
