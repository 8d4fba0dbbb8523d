//! Property-based tests of the Sans-IO core.
//!
//! 1. No server input makes the core panic, and every exchange ends in a defined state
//!    (`server_input_never_panics_and_leaves_a_defined_state`, `classify_*`).
//! 2. The requests the core builds parse back to exactly the caller's values
//!    (`sign_in_request_*`, `switch_site_request_*`, `sign_out_token_request_*`,
//!    `trusted_ticket_form_*`, `control_characters_*`).
//! 3. Sign-in and switch-site responses in any shape a server may send parse to exactly their
//!    values (`sign_in_response_round_trips_in_both_formats`).
//! 4. A small reference model and the real session agree on every random sequence of operations
//!    (`session_agrees_with_the_reference_model`).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use quick_xml::events::{BytesStart, Event as XmlEvent};
use quick_xml::{Reader, XmlVersion};
use serde_json::{Value, json};
use tableau_auth_proto::http::header::{ACCEPT, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use tableau_auth_proto::http::{HeaderName, HeaderValue, Method, Request, Response};
use tableau_auth_proto::http::{StatusCode, Uri};
use tableau_auth_proto::secret::{AuthToken, ExposeSecret};
use tableau_auth_proto::{
    ApiVersion, Config, ConnectedApp, Credentials, Error, Event, Expiry, Feature, Format, Intent,
    Misuse, RedirectRefusal, Session, SignIn, SignOut, Step, TicketRequest, UserId, Verdict,
    X_TABLEAU_AUTH,
};

// ----- fixtures --------------------------------------------------------------------------------

const BASE_URL: &str = "https://tableau.example.com";
const HOST: &str = "tableau.example.com";
const V3_27: ApiVersion = ApiVersion::new(3, 27);
const SITE_LUID: &str = "6b7179ba-b82b-4f0f-91ed-812074ac5da6";
const USER_LUID: &str = "1a96d216-e9b8-497b-a82a-0b899a965e01";
/// The credential secret of the property-1 sign-ins; long, so no honest text contains it.
const SECRET: &str = "SENTINEL7Qx2zSecretValueNeverShown";
/// The session token of a session signed in before the exchange under test.
const SESSION_TOKEN: &str = "SENTINEL4Kp9wSessionTokenNeverShown";
/// The token of the canned sign-in response in the body vocabulary.
const NEW_TOKEN: &str = "Qm7s2fVbX0kLr9Tq4nWc8yHa1JdEe5Pu";
/// A token saved by another process, signed out with `Intent::SignOutToken`.
const SAVED_TOKEN: &str = "SENTINEL2Ha8vSavedTokenNeverShown";
const SIGN_IN_PATH: &str = "/api/3.27/auth/signin";
const PROBE_PATH: &str = "/api/2.4/serverinfo";

/// The one clock reading of the file: a base that every test adds offsets to.
#[allow(clippy::disallowed_methods)]
fn t0() -> Instant {
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now)
}

fn at(secs: u64) -> Instant {
    t0() + Duration::from_secs(secs)
}

fn mint_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Password,
    Pat,
    Jwt,
    Uat,
    ConnectedApp,
}

const KINDS: [Kind; 5] = [
    Kind::Password,
    Kind::Pat,
    Kind::Jwt,
    Kind::Uat,
    Kind::ConnectedApp,
];

fn kind() -> impl Strategy<Value = Kind> {
    select(KINDS.to_vec())
}

fn format() -> impl Strategy<Value = Format> {
    prop_oneof![Just(Format::Xml), Just(Format::Json)]
}

fn connected_app(user: &str, secret: &str) -> ConnectedApp {
    ConnectedApp::new("client-id", "secret-id", secret, user).scope("tableau:content:read")
}

fn credentials(kind: Kind, name: &str, secret: &str) -> Credentials {
    match kind {
        Kind::Password => Credentials::password(name, secret),
        Kind::Pat => Credentials::personal_access_token(name, secret),
        Kind::Jwt => Credentials::jwt(secret),
        Kind::Uat => Credentials::unified_access_token(secret),
        Kind::ConnectedApp => Credentials::ConnectedApp(connected_app(name, secret)),
    }
}

fn sign_in(kind: Kind, name: &str, secret: &str, site: &str) -> SignIn {
    SignIn::new(credentials(kind, name, secret), site).mint_inputs(mint_time(), [7; 16])
}

fn config(format: Format, version: Option<ApiVersion>) -> Config {
    let builder = Config::builder(BASE_URL).format(format);
    match version {
        Some(v) => builder.api_version(v),
        None => builder,
    }
    .build()
    .unwrap()
}

fn response(
    status: u16,
    headers: &[(HeaderName, HeaderValue)],
    body: Vec<u8>,
) -> Response<Vec<u8>> {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        r.headers_mut().append(name.clone(), value.clone());
    }
    r
}

/// XML attribute/text escaping as a server would do it; `char_refs` also writes every non-ASCII
/// character as a hexadecimal character reference.
fn xml_escape(value: &str, char_refs: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if char_refs && !c.is_ascii() => out.push_str(&format!("&#x{:X};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn json_str(value: &str) -> String {
    serde_json::to_string(value).unwrap()
}

fn credentials_xml(token: &str, content_url: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><tsResponse xmlns=\"http://tableau.com/api\">\
         <credentials token=\"{}\" estimatedTimeToExpiration=\"364:23:59\">\
         <site id=\"{SITE_LUID}\" contentUrl=\"{}\"/><user id=\"{USER_LUID}\"/>\
         </credentials></tsResponse>",
        xml_escape(token, false),
        xml_escape(content_url, false)
    )
}

fn credentials_json(token: &str, content_url: &str) -> String {
    format!(
        "{{\"credentials\":{{\"site\":{{\"id\":\"{SITE_LUID}\",\"contentUrl\":{}}},\
         \"user\":{{\"id\":\"{USER_LUID}\"}},\"token\":{},\"estimatedTimeToExpiration\":\"364:23:59\"}}}}",
        json_str(content_url),
        json_str(token)
    )
}

fn session_xml(user_name: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><tsResponse xmlns=\"http://tableau.com/api\">\
         <session><site id=\"{SITE_LUID}\" name=\"Finance Team\" contentUrl=\"Finance\"/>\
         <user id=\"{USER_LUID}\" name=\"{}\" siteRole=\"Creator\" lastLogin=\"2025-05-02T08:14:55Z\"/>\
         </session></tsResponse>",
        xml_escape(user_name, false)
    )
}

fn session_json(user_name: &str) -> String {
    format!(
        "{{\"session\":{{\"site\":{{\"id\":\"{SITE_LUID}\",\"name\":\"Finance Team\",\"contentUrl\":\"\"}},\
         \"user\":{{\"id\":\"{USER_LUID}\",\"name\":{},\"siteRole\":\"Creator\"}}}}}}",
        json_str(user_name)
    )
}

fn error_xml(code: &str, summary: &str, detail: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?>\n<tsResponse xmlns=\"http://tableau.com/api\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"http://tableau.com/api https://help.tableau.com/samples/en-us/rest_api/ts-api_3_24.xsd\">\
         <error code=\"{}\"><summary>{}</summary><detail>{}</detail></error></tsResponse>",
        xml_escape(code, false),
        xml_escape(summary, false),
        xml_escape(detail, false)
    )
}

fn error_json(code: &str, summary: &str, detail: &str) -> String {
    format!(
        "{{\"error\":{{\"summary\":{},\"detail\":{},\"code\":{}}}}}",
        json_str(summary),
        json_str(detail),
        json_str(code)
    )
}

fn server_info_xml(version: &str) -> String {
    format!(
        "<tsResponse xmlns=\"http://tableau.com/api\"><serverInfo>\
         <productVersion build=\"20251.25.0318.0917\">2025.1.3</productVersion>\
         <prepConductorVersion>2025.1.0</prepConductorVersion>\
         <restApiVersion>{version}</restApiVersion><platform>linux</platform>\
         <serverSettings><oAuthEnabled>true</oAuthEnabled></serverSettings>\
         </serverInfo></tsResponse>"
    )
}

fn server_info_json(version: &str) -> String {
    format!(
        "{{\"serverInfo\":{{\"productVersion\":{{\"value\":\"2025.1.3\",\"build\":\"20251.25.0318.0917\"}},\
         \"prepConductorVersion\":\"2025.1.0\",\"restApiVersion\":\"{version}\",\"platform\":\"linux\",\
         \"serverSettings\":{{\"oAuthEnabled\":true}}}}}}"
    )
}

const HTML_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\
     <body><h1>Bad Gateway</h1><p>The proxy server received an invalid response.</p></body></html>";

// ----- property 1: server input never panics ---------------------------------------------------

/// Valid documents of every kind the core reads, plus some that echo a secret back.
fn valid_documents() -> &'static [Vec<u8>] {
    static DOCS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut docs: Vec<String> = vec![
            credentials_xml(NEW_TOKEN, "Finance"),
            credentials_json(NEW_TOKEN, "Finance"),
            credentials_xml(NEW_TOKEN, ""),
            credentials_json("tok\"en&<x>", "Sales & <Marketing>\n"),
            server_info_xml("3.27"),
            server_info_json("3.27"),
            server_info_xml("2.4"),
            server_info_json("3.4"),
            server_info_xml("65535.65535"),
            server_info_json("not.a.version"),
            session_xml("jsmith@example.com"),
            session_json("j\"smith & <co>\n"),
            "<authinfo><version version=\"0.31\"><product_version>9.3</product_version>\
             <external_version>9.3.4</external_version></version></authinfo>"
                .to_owned(),
            "Zk3vQ9aLTyW1sBc8R2dXhA==:pL7tN2wQ9eR4yU6iO8aS1dF3".to_owned(),
            "Qw8_Lp3ZtR2-mX9vKc4NbH7s\n".to_owned(),
            "-1".to_owned(),
            String::new(),
            // Secrets echoed back where they do not belong.
            error_xml("401001", "Signin Error", &format!("bad password {SECRET}")),
            error_json("401002", SECRET, SESSION_TOKEN),
            format!("<html><body>login failed for {SECRET} / {SESSION_TOKEN}</body></html>"),
            format!("{{\"credentials\":{{\"token\":\"t\",\"site\":\"{SECRET}\",\"user\":{{\"id\":\"u\"}}}}}}"),
            format!("{{\"credentials\":{{\"token\":\"t\",\"site\":{{\"id\":\"s\"}},\"user\":\"{SESSION_TOKEN}\"}}}}"),
            format!("<tsResponse><error code=\"{SECRET}\"><summary>{SESSION_TOKEN}</summary></error></tsResponse>"),
            format!("<tsResponse><serverInfo><restApiVersion>{SECRET}</restApiVersion></serverInfo></tsResponse>"),
            format!("<tsResponse><session><site id=\"{SESSION_TOKEN}\"/><user name=\"{SECRET}\"/></session></tsResponse>"),
            format!("{{\"session\":{{\"site\":{{\"id\":1}},\"user\":\"{SESSION_TOKEN}\"}}}}"),
        ];
        for code in [
            "401000", "401001", "401002", "401003", "403070", "404001", "404003", "405000",
            "500000",
        ] {
            docs.push(error_xml(code, "Summary", "Detail & more"));
            docs.push(error_json(code, "Summary", "Detail"));
        }
        docs.push("{\"error\":{\"code\":401002,\"summary\":\"s\"}}".to_owned());
        docs.into_iter().map(String::into_bytes).collect()
    })
}

/// Bodies a hostile or broken server might send, each built once.
fn large_bodies() -> &'static [Vec<u8>] {
    static BODIES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BODIES.get_or_init(|| {
        let nested = "<a>".repeat(50_000);
        let huge = "A".repeat(200_000);
        vec![
            format!("<tsResponse>{nested}").into_bytes(),
            format!("<tsResponse><credentials token=\"t\">{nested}</credentials></tsResponse>")
                .into_bytes(),
            format!("<tsResponse><error code=\"401002\"><detail>{nested}").into_bytes(),
            format!("{{\"credentials\":{}", "[".repeat(50_000)).into_bytes(),
            format!("{{\"error\":{}", "{\"a\":".repeat(20_000)).into_bytes(),
            credentials_xml(&huge, &huge).into_bytes(),
            credentials_json(&huge, "s").into_bytes(),
            error_xml("401001", &huge, &huge).into_bytes(),
            format!("<tsResponse><error code=\"{huge}\"/></tsResponse>").into_bytes(),
            // One byte over the default limit.
            vec![b' '; Config::DEFAULT_MAX_BODY + 1],
        ]
    })
}

const SNIPPETS: [&[u8]; 14] = [
    b"<",
    b">",
    b"\"",
    b"&",
    b"&amp;",
    b"&#0;",
    b"]]>",
    b"<!--",
    b"\0",
    b"\xff",
    b"{",
    b"}",
    b"\\u0000",
    b"<tsResponse>",
];

#[derive(Debug, Clone)]
enum Mutation {
    Replace(Index, u8),
    Insert(Index, usize),
    Delete(Index, Index),
}

fn mutate(mut doc: Vec<u8>, mutations: Vec<Mutation>) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::Replace(i, b) if !doc.is_empty() => {
                let i = i.index(doc.len());
                doc[i] = b;
            }
            Mutation::Insert(i, s) => {
                let i = i.index(doc.len() + 1);
                let snippet = SNIPPETS[s % SNIPPETS.len()];
                doc.splice(i..i, snippet.iter().copied());
            }
            Mutation::Delete(a, b) if !doc.is_empty() => {
                let (a, b) = (a.index(doc.len()), b.index(doc.len()));
                doc.drain(a.min(b)..a.max(b));
            }
            _ => {}
        }
    }
    doc
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<Index>(), any::<usize>()).prop_map(|(i, s)| Mutation::Insert(i, s)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Delete(a, b)),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let docs = valid_documents().to_vec();
    prop_oneof![
        3 => vec(any::<u8>(), 0..256),
        4 => select(docs.clone()),
        3 => (select(docs.clone()), any::<Index>())
            .prop_map(|(d, i)| d[..i.index(d.len() + 1)].to_vec()),
        4 => (select(docs.clone()), vec(mutation(), 1..6)).prop_map(|(d, m)| mutate(d, m)),
        1 => Just(HTML_PAGE.as_bytes().to_vec()),
        1 => select(large_bodies().to_vec()),
        // Invalid UTF-8 inside an otherwise valid document.
        2 => (select(docs), any::<Index>(), select(vec![0xffu8, 0xc3, 0xe2, 0x80]))
            .prop_map(|(mut d, i, b)| {
                let i = i.index(d.len() + 1);
                d.insert(i, b);
                d
            }),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => 100u16..=599,
        2 => select(vec![
            200u16, 201, 204, 301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 429, 500, 502, 503,
        ]),
    ]
}

/// Header bytes made acceptable to `HeaderValue` (the transport would refuse the rest).
fn header_value(bytes: &[u8]) -> HeaderValue {
    let clean: Vec<u8> = bytes
        .iter()
        .map(|&b| {
            if (b < 0x20 && b != b'\t') || b == 0x7f {
                b'?'
            } else {
                b
            }
        })
        .collect();
    HeaderValue::from_bytes(&clean).unwrap()
}

fn location() -> impl Strategy<Value = String> {
    let scheme = select(vec!["https", "http", "HTTPS", "ftp", "javascript", ""]);
    let host = select(vec![
        HOST,
        "TABLEAU.EXAMPLE.COM",
        "tableau.example.com:8443",
        "tableau.example.com.",
        "evil.example",
        "tableau.example.com.evil.example",
        "user:pw@tableau.example.com",
        "tableau.example.com@evil.example",
        "[::1]",
        "10ax.online.tableau.com",
        "",
    ]);
    let prefix = select(vec!["", "/tab", "/..", "/", "/%2e%2e"]);
    let path = select(vec![
        SIGN_IN_PATH,
        PROBE_PATH,
        "/auth",
        "/trusted",
        "/api/3.27/auth/signout",
        "/api/3.27/auth/switchSite",
        "/login",
        "",
    ]);
    let suffix = select(vec!["", "?a=b", "#frag", "/", "?format=xml"]);
    prop_oneof![
        4 => (scheme, host, prefix, path, suffix).prop_map(|(s, h, pre, p, suf)| {
            if s.is_empty() {
                format!("{pre}{p}{suf}")
            } else {
                format!("{s}://{h}{pre}{p}{suf}")
            }
        }),
        1 => any::<String>(),
        1 => select(vec![
            "//evil.example/api/3.27/auth/signin".to_owned(),
            "https://evil.example\\@tableau.example.com/api/3.27/auth/signin".to_owned(),
            " https://tableau.example.com/api/3.27/auth/signin ".to_owned(),
            format!("https://{HOST}/{}", "x/".repeat(2_000)),
            "javascript:alert(1)".to_owned(),
            String::new(),
        ]),
    ]
}

fn header() -> impl Strategy<Value = (HeaderName, HeaderValue)> {
    prop_oneof![
        3 => location().prop_map(|l| (LOCATION, header_value(l.as_bytes()))),
        2 => prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            Just("99999999999999999999999999".to_owned()),
            select(vec![
                "Sun, 06 Nov 1994 08:49:37 GMT".to_owned(),
                "Wed, 21 Oct 2065 07:28:00 GMT".to_owned(),
                "Sunday, 06-Nov-94 08:49:37 GMT".to_owned(),
                "-1".to_owned(),
                " 120 ".to_owned(),
                "soon".to_owned(),
                String::new(),
            ]),
            any::<String>(),
        ]
        .prop_map(|v| (RETRY_AFTER, header_value(v.as_bytes()))),
        1 => select(vec![
            "application/xml",
            "application/json",
            "text/html; charset=utf-8",
            "text/plain",
            "application/json; charset=latin1",
            "garbage/",
        ])
        .prop_map(|v| (CONTENT_TYPE, HeaderValue::from_static(v))),
        1 => ("[a-z][a-z0-9-]{0,20}", vec(any::<u8>(), 0..48)).prop_map(|(n, v)| {
            (HeaderName::from_bytes(n.as_bytes()).unwrap(), header_value(&v))
        }),
    ]
}

/// A response body, shown as (lossy, shortened) text in failure reports.
#[derive(Clone)]
struct Body(Vec<u8>);

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = String::from_utf8_lossy(&self.0);
        let shown: String = text.chars().take(400).collect();
        write!(f, "Body({} bytes: {shown:?})", self.0.len())
    }
}

type RawResponse = (u16, Vec<(HeaderName, HeaderValue)>, Body);

fn raw_response() -> impl Strategy<Value = RawResponse> {
    (status(), vec(header(), 0..4), body().prop_map(Body))
}

/// One answer of the server: arbitrary, or plausible for the request it answers (so that
/// multi-request exchanges get past their first request).
#[derive(Debug, Clone)]
enum Answer {
    Raw(RawResponse),
    Plausible(Index, Vec<(HeaderName, HeaderValue)>),
    RedirectToSelf { status: u16, relative: bool },
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        4 => raw_response().prop_map(Answer::Raw),
        2 => (any::<Index>(), vec(header(), 0..2)).prop_map(|(i, h)| Answer::Plausible(i, h)),
        1 => (select(vec![301u16, 302, 303, 307, 308]), any::<bool>())
            .prop_map(|(status, relative)| Answer::RedirectToSelf { status, relative }),
    ]
}

/// The response `answer` stands for, given the request it answers.
fn resolve(answer: Answer, request: &Uri) -> (u16, Vec<(HeaderName, HeaderValue)>, Vec<u8>) {
    let (pick, headers) = match answer {
        Answer::Raw((status, headers, body)) => return (status, headers, body.0),
        Answer::RedirectToSelf { status, relative } => {
            let target = request.path_and_query().map_or("/", |p| p.as_str());
            let location = if relative {
                target.to_owned()
            } else {
                format!("{BASE_URL}{target}")
            };
            let headers = vec![(LOCATION, HeaderValue::from_str(&location).unwrap())];
            return (status, headers, Vec::new());
        }
        Answer::Plausible(pick, headers) => (pick, headers),
    };
    let path = request.path();
    let choices: Vec<(u16, String)> = if path.ends_with("/serverinfo") || path.ends_with("/auth") {
        vec![
            (200, server_info_xml("3.27")),
            (200, server_info_json("3.27")),
            (200, server_info_xml("3.4")),
            (200, server_info_json("2.4")),
            (
                200,
                "<authinfo><version><product_version>10.0</product_version></version></authinfo>"
                    .to_owned(),
            ),
            (404, error_xml("404003", "Not found", "Unknown resource")),
        ]
    } else if path.ends_with("/auth/signin") || path.ends_with("/auth/switchSite") {
        vec![
            (200, credentials_xml(NEW_TOKEN, "Finance")),
            (200, credentials_json(NEW_TOKEN, "Finance")),
            (
                401,
                error_json("401001", "Signin Error", "Error signing in"),
            ),
            (
                403,
                error_xml("403070", "Forbidden", "Already on that site"),
            ),
            (405, error_xml("405000", "Method Not Allowed", "GET")),
            // The secret of the request, or the session token, echoed back.
            (
                200,
                format!(
                    "{{\"credentials\":{{\"token\":\"t\",\"site\":\"{SECRET}\",\"user\":{{\"id\":\"u\"}}}}}}"
                ),
            ),
            (
                200,
                format!(
                    "<tsResponse><credentials token=\"t\"><site id=\"s\"/><user id=\"u\"/></credentials>\
                     <serverInfo><restApiVersion>{SESSION_TOKEN}</restApiVersion></serverInfo></tsResponse>"
                ),
            ),
            (401, error_xml("401001", SECRET, SESSION_TOKEN)),
        ]
    } else if path.ends_with("/sessions/current") {
        vec![
            (200, session_xml("jsmith@example.com")),
            (200, session_json("admin")),
            (401, error_xml("401002", "Unauthorized Access", "Invalid")),
            (401, error_json("401002", SESSION_TOKEN, SESSION_TOKEN)),
            (200, credentials_xml(NEW_TOKEN, "Finance")),
            (
                200,
                format!(
                    "<tsResponse><session><site id=\"{SESSION_TOKEN}\"/></session></tsResponse>"
                ),
            ),
            (502, HTML_PAGE.to_owned()),
        ]
    } else if path.ends_with("/auth/signout") {
        vec![
            (204, String::new()),
            (200, String::new()),
            (401, error_xml("401002", "Unauthorized Access", "Invalid")),
            (500, HTML_PAGE.to_owned()),
        ]
    } else {
        vec![
            (
                200,
                "Zk3vQ9aLTyW1sBc8R2dXhA==:pL7tN2wQ9eR4yU6iO8aS1dF3".to_owned(),
            ),
            (200, "-1".to_owned()),
            (200, HTML_PAGE.to_owned()),
        ]
    };
    let (status, body) = choices[pick.index(choices.len())].clone();
    (status, headers, body.into_bytes())
}

#[derive(Debug, Clone, Copy)]
enum Exchange {
    ServerInfo {
        fixed_version: bool,
    },
    SignIn {
        kind: Kind,
        probe: bool,
        signed_in_before: bool,
    },
    SignOut,
    SignOutToken {
        probe: bool,
        signed_in_before: bool,
    },
    SwitchSite,
    Ticket {
        signed_in_before: bool,
    },
    CurrentSession,
}

fn exchange() -> impl Strategy<Value = Exchange> {
    prop_oneof![
        1 => any::<bool>().prop_map(|fixed_version| Exchange::ServerInfo { fixed_version }),
        3 => (kind(), any::<bool>(), any::<bool>()).prop_map(|(kind, probe, signed_in_before)| {
            Exchange::SignIn { kind, probe, signed_in_before }
        }),
        1 => Just(Exchange::SignOut),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(probe, signed_in_before)| {
            Exchange::SignOutToken { probe, signed_in_before }
        }),
        1 => Just(Exchange::SwitchSite),
        1 => any::<bool>().prop_map(|signed_in_before| Exchange::Ticket { signed_in_before }),
        1 => Just(Exchange::CurrentSession),
    ]
}

/// Drives `step` to the end with well-behaved answers: serverinfo 3.27, then a sign-in with
/// `token`.
fn finish_with_canned_answers(session: &mut Session, mut step: Step, token: &str) -> Event {
    let mut now = 1;
    loop {
        match step {
            Step::Send(request) => {
                let path = request.uri().path().to_owned();
                let body = if path.ends_with("/serverinfo") {
                    server_info_xml("3.27")
                } else if path.ends_with("/auth/signin") {
                    credentials_xml(token, "Finance")
                } else {
                    panic!("unexpected request {path}");
                };
                now += 1;
                step = session
                    .handle_response(response(200, &[], body.into_bytes()), at(now))
                    .unwrap();
            }
            Step::Done(event) => return event,
        }
    }
}

fn signed_in_session(format: Format, version: Option<ApiVersion>) -> Session {
    let mut session = Session::new(config(format, version));
    let step = session
        .start(
            sign_in(Kind::Password, "admin", "pw", "Finance").into(),
            at(0),
        )
        .unwrap();
    let event = finish_with_canned_answers(&mut session, step, SESSION_TOKEN);
    assert!(matches!(event, Event::SignedIn(_)), "{event:?}");
    session
}

/// What an exchange may change: the session and its token.
type Snapshot = (Option<tableau_auth_proto::SignedIn>, Option<String>);

fn snapshot(session: &Session) -> Snapshot {
    (
        session.signed_in().cloned(),
        session.token().map(|t| t.expose_secret().to_owned()),
    )
}

/// Checks that none of the secrets the session knows appears in `text`.
fn assert_no_secret(text: &str, secrets: &[&str]) -> Result<(), TestCaseError> {
    for secret in secrets {
        prop_assert!(!text.contains(secret), "a secret leaked: {}", text);
    }
    Ok(())
}

fn is_https_to_base_host(request: &Request<Vec<u8>>) -> bool {
    request.uri().scheme_str() == Some("https") && request.uri().host() == Some(HOST)
}

fn check_exchange(
    format: Format,
    exchange: Exchange,
    answers: Vec<Answer>,
) -> Result<(), TestCaseError> {
    let signed_in_before = match exchange {
        Exchange::SignOut | Exchange::SwitchSite | Exchange::CurrentSession => true,
        Exchange::SignIn {
            signed_in_before, ..
        }
        | Exchange::SignOutToken {
            signed_in_before, ..
        }
        | Exchange::Ticket { signed_in_before } => signed_in_before,
        Exchange::ServerInfo { .. } => false,
    };
    let version = match exchange {
        Exchange::ServerInfo {
            fixed_version: false,
        }
        | Exchange::SignIn { probe: true, .. }
        | Exchange::SignOutToken { probe: true, .. } => None,
        _ => Some(V3_27),
    };
    let mut session = if signed_in_before {
        signed_in_session(format, version)
    } else {
        Session::new(config(format, version))
    };
    let before = snapshot(&session);
    let mut secrets = Vec::new();
    if signed_in_before {
        secrets.push(SESSION_TOKEN);
    }
    // The password, PAT secret or JWT, once it has been sent. (A connected app's secret value
    // never leaves the core, only the JWT minted with it; the version probe before a sign-in
    // carries no secret.)
    let sends_secret =
        matches!(exchange, Exchange::SignIn { kind, .. } if kind != Kind::ConnectedApp);
    let intent: Intent = match exchange {
        Exchange::ServerInfo { .. } => Intent::ServerInfo,
        Exchange::SignIn { kind, .. } => sign_in(kind, "etl-user", SECRET, "Finance").into(),
        Exchange::SignOut => Intent::SignOut,
        Exchange::SignOutToken { .. } => Intent::SignOutToken(AuthToken::new(SAVED_TOKEN)),
        Exchange::SwitchSite => Intent::SwitchSite("Marketing".into()),
        Exchange::Ticket { .. } => TicketRequest::new("jsmith").target_site("Sales").into(),
        Exchange::CurrentSession => Intent::CurrentSession,
    };
    let first = match session.start(intent, at(10)) {
        Ok(Step::Send(request)) => request,
        other => return Err(TestCaseError::fail(format!("start: {other:?}"))),
    };
    prop_assert!(is_https_to_base_host(&first));
    if let Exchange::CurrentSession = exchange {
        prop_assert_eq!(first.method(), Method::GET);
        prop_assert!(first.uri().path().ends_with("/sessions/current"));
        let value = first.headers().get(X_TABLEAU_AUTH).expect("the token");
        prop_assert_eq!(value.to_str().unwrap(), SESSION_TOKEN);
        prop_assert!(value.is_sensitive());
    }
    let mut sign_in_body: Option<Vec<u8>> = first
        .uri()
        .path()
        .ends_with("/auth/signin")
        .then(|| first.body().clone());
    if sends_secret && sign_in_body.is_some() {
        secrets.push(SECRET);
    }
    // The saved token, once it has been sent.
    let saved_token_sent = |request: &Request<Vec<u8>>| -> Result<bool, TestCaseError> {
        if !request.uri().path().ends_with("/auth/signout") {
            return Ok(false);
        }
        let value = request
            .headers()
            .get(X_TABLEAU_AUTH)
            .expect("the saved token");
        prop_assert_eq!(value.to_str().unwrap(), SAVED_TOKEN);
        prop_assert!(value.is_sensitive());
        Ok(true)
    };
    if let Exchange::SignOutToken { .. } = exchange
        && saved_token_sent(&first)?
    {
        secrets.push(SAVED_TOKEN);
    }
    let mut last_uri = first.uri().clone();
    for (i, answer) in answers.into_iter().enumerate() {
        let (status, headers, body) = resolve(answer, &last_uri);
        let now = at(20 + i as u64);
        let result = session.handle_response(response(status, &headers, body), now);
        prop_assert_eq!(session.poll_timeout().is_some(), session.is_signed_in());
        match result {
            Ok(Step::Send(next)) => {
                prop_assert!(session.is_busy());
                // Only the anonymous probe and the sign-in are ever re-sent, and only to
                // https on the configured host; a sign-out may only follow the probe.
                prop_assert!(is_https_to_base_host(&next), "followed to {}", next.uri());
                let after_probe =
                    last_uri.path().ends_with("/serverinfo") || last_uri.path().ends_with("/auth");
                last_uri = next.uri().clone();
                let path = next.uri().path();
                if let Exchange::SignOutToken { .. } = exchange
                    && after_probe
                    && saved_token_sent(&next)?
                {
                    secrets.push(SAVED_TOKEN);
                    continue;
                }
                prop_assert!(next.headers().get(X_TABLEAU_AUTH).is_none());
                match exchange {
                    Exchange::ServerInfo { .. } => {
                        prop_assert!(path.ends_with("/serverinfo") || path.ends_with("/auth"));
                    }
                    Exchange::SignIn { .. } if path.ends_with("/auth/signin") => {
                        prop_assert_eq!(next.method(), Method::POST);
                        // A redirected sign-in re-posts the identical body.
                        if let Some(sent) = &sign_in_body {
                            prop_assert_eq!(sent, next.body());
                        }
                        sign_in_body = Some(next.body().clone());
                        if sends_secret && !secrets.contains(&SECRET) {
                            secrets.push(SECRET);
                        }
                    }
                    Exchange::SignIn { .. } => {
                        prop_assert!(path.ends_with("/serverinfo") || path.ends_with("/auth"));
                        prop_assert!(sign_in_body.is_none(), "probe after sign-in: {}", path);
                    }
                    Exchange::SignOutToken { .. } if after_probe => {
                        prop_assert!(path.ends_with("/serverinfo") || path.ends_with("/auth"));
                    }
                    _ => {
                        return Err(TestCaseError::fail(format!(
                            "{exchange:?} was re-sent to {}",
                            next.uri()
                        )));
                    }
                }
            }
            Ok(Step::Done(event)) => {
                prop_assert!(!session.is_busy());
                assert_no_secret(&format!("{event:?}"), &secrets)?;
                let after = snapshot(&session);
                match (exchange, &event) {
                    (Exchange::ServerInfo { .. }, Event::ServerInfo(_))
                    | (Exchange::SwitchSite, Event::SiteUnchanged)
                    | (Exchange::Ticket { .. }, Event::TicketIssued(_)) => {
                        prop_assert_eq!(&after, &before);
                    }
                    // Reading the session never changes it, and only a 2xx reads as one.
                    (Exchange::CurrentSession, Event::CurrentSession(me)) => {
                        prop_assert_eq!(&after, &before);
                        prop_assert!((200..300).contains(&status));
                        prop_assert!(!me.site_id.as_str().trim().is_empty());
                        prop_assert!(!me.user_id.as_str().trim().is_empty());
                    }
                    // Another process's token: the session's own state is not touched.
                    (Exchange::SignOutToken { .. }, Event::SignedOut(outcome)) => {
                        prop_assert_eq!(&after, &before);
                        prop_assert!(secrets.contains(&SAVED_TOKEN), "signed out, nothing sent");
                        prop_assert!((200..300).contains(&status) || status == 401);
                        let expected = if status == 401 {
                            SignOut::AlreadyGone
                        } else {
                            SignOut::Confirmed
                        };
                        prop_assert_eq!(*outcome, expected);
                    }
                    (Exchange::SignIn { .. }, Event::SignedIn(info))
                    | (Exchange::SwitchSite, Event::SiteSwitched(info)) => {
                        prop_assert_eq!(after.0.as_ref(), Some(info));
                        let token = after.1.unwrap();
                        prop_assert!(
                            !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic())
                        );
                    }
                    (Exchange::SignOut, Event::SignedOut(outcome)) => {
                        prop_assert_eq!(&after, &(None, None));
                        let expected = if status == 401 {
                            SignOut::AlreadyGone
                        } else {
                            SignOut::Confirmed
                        };
                        prop_assert!((200..300).contains(&status) || status == 401);
                        prop_assert_eq!(*outcome, expected);
                    }
                    _ => {
                        return Err(TestCaseError::fail(format!(
                            "{exchange:?} ended in {event:?}"
                        )));
                    }
                }
                return Ok(());
            }
            Err(error) => {
                prop_assert!(!session.is_busy());
                prop_assert_eq!(snapshot(&session), before, "after {}", error);
                assert_no_secret(&format!("{error} {error:?}"), &secrets)?;
                // A sign-out answered 2xx or 401 is never an error, unless the body is over
                // the limit (checked before anything else).
                let sign_out_sent = match exchange {
                    Exchange::SignOut => true,
                    Exchange::SignOutToken { .. } => secrets.contains(&SAVED_TOKEN),
                    _ => false,
                };
                if sign_out_sent && !matches!(error, Error::TooLarge { .. }) {
                    prop_assert!(!(200..300).contains(&status) && status != 401);
                }
                return Ok(());
            }
        }
    }
    // The answers ran out mid-exchange: the transport "failed".
    prop_assert!(session.is_busy());
    session.abort();
    prop_assert!(!session.is_busy());
    prop_assert_eq!(snapshot(&session), before);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    /// Whatever a server answers to any exchange, the core returns (no panic), and the session
    /// ends idle with what it had before, unless the exchange succeeded as documented.
    #[test]
    fn server_input_never_panics_and_leaves_a_defined_state(
        format in format(),
        exchange in exchange(),
        answers in vec(answer(), 1..6),
    ) {
        check_exchange(format, exchange, answers)?;
    }

    /// `classify` reads any response to the caller's own call without panicking, and its
    /// verdict agrees with the error predicates.
    #[test]
    fn classify_never_panics_on_any_response(
        format in format(),
        signed_in in any::<bool>(),
        (status, headers, body) in raw_response(),
    ) {
        let session = if signed_in {
            signed_in_session(format, Some(V3_27))
        } else {
            Session::new(config(format, Some(V3_27)))
        };
        let secrets: &[&str] = if signed_in { &[SESSION_TOKEN] } else { &[] };
        let r = response(status, &headers, body.0);
        match session.classify(&r) {
            Verdict::Success => prop_assert!((200..300).contains(&status)),
            Verdict::Reauthenticate(e) => {
                prop_assert!(e.is_reauth_needed());
                prop_assert_ne!(e.code(), Some("401001"));
                assert_no_secret(&format!("{e} {e:?}"), secrets)?;
            }
            Verdict::Retry(e) => {
                prop_assert!(e.is_retryable() && !e.is_reauth_needed());
                assert_no_secret(&format!("{e} {e:?}"), secrets)?;
            }
            Verdict::Fail(e) => {
                prop_assert!(!e.is_retryable() && !e.is_reauth_needed());
                assert_no_secret(&format!("{e} {e:?}"), secrets)?;
            }
            other => return Err(TestCaseError::fail(format!("unknown verdict {other:?}"))),
        }
    }
}

/// Text a server may put in `summary` / `detail`.
fn free_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,40}",
        Just("Signin Error".to_owned()),
        Just("Error signing in to Tableau Server (16)".to_owned()),
        vec(xml_char(), 0..20).prop_map(String::from_iter),
    ]
}

#[derive(Debug, Clone)]
struct ErrorDocStyle {
    json: bool,
    declaration: bool,
    namespace: bool,
    pretty: bool,
    comments: bool,
    code_as_element: bool,
    code_as_number: bool,
    cdata: bool,
    summary: Option<String>,
    detail: Option<String>,
    extras: bool,
    order: Vec<u32>,
}

fn error_doc_style() -> impl Strategy<Value = ErrorDocStyle> {
    (
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (
            proptest::option::of(free_text()),
            proptest::option::of(free_text()),
        ),
        vec(any::<u32>(), 8),
    )
        .prop_map(
            |(
                (json, declaration, namespace, pretty),
                (comments, code_as_element, code_as_number, cdata),
                (summary, detail),
                order,
            )| ErrorDocStyle {
                json,
                declaration,
                namespace,
                pretty,
                comments,
                code_as_element,
                code_as_number,
                cdata,
                summary,
                detail,
                extras: order[0] % 2 == 0,
                order,
            },
        )
}

/// Sorts `items` by the random `keys` (stable, so equal keys keep their order).
fn shuffled<T>(items: Vec<T>, keys: &[u32]) -> Vec<T> {
    let mut keyed: Vec<(u32, T)> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| (keys[i % keys.len()].rotate_left(i as u32), item))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, item)| item).collect()
}

fn render_error_doc(code: &str, s: &ErrorDocStyle) -> String {
    let nl = if s.pretty { "\n  " } else { "" };
    if s.json {
        let mut members = vec![format!(
            "\"code\":{}",
            if s.code_as_number {
                code.to_owned()
            } else {
                json_str(code)
            }
        )];
        if let Some(t) = &s.summary {
            members.push(format!("\"summary\":{}", json_str(t)));
        }
        if let Some(t) = &s.detail {
            members.push(format!("\"detail\":{}", json_str(t)));
        }
        if s.extras {
            members.push("\"extra\":[1,{\"a\":null},\"x\"]".to_owned());
        }
        let error = shuffled(members, &s.order).join(&format!(",{nl}"));
        let mut top = vec![format!("\"error\":{{{nl}{error}}}")];
        if s.extras {
            top.push("\"pagination\":{\"pageNumber\":\"1\"}".to_owned());
        }
        return format!("{{{nl}{}{nl}}}", shuffled(top, &s.order[1..]).join(","));
    }
    let comment = if s.comments { "<!-- c -->" } else { "" };
    let text = |t: &str| {
        if s.cdata && !t.contains("]]>") {
            format!("<![CDATA[{t}]]>")
        } else {
            xml_escape(t, false)
        }
    };
    let mut children = Vec::new();
    if s.code_as_element {
        children.push(format!("<code>{code}</code>"));
    }
    if let Some(t) = &s.summary {
        children.push(format!("<summary>{}</summary>", text(t)));
    }
    if let Some(t) = &s.detail {
        children.push(format!("<detail>{}</detail>", text(t)));
    }
    let mut attrs = Vec::new();
    if !s.code_as_element {
        attrs.push(format!("code=\"{code}\""));
    }
    if s.extras {
        attrs.push("kind=\"auth\"".to_owned());
    }
    let attrs = shuffled(attrs, &s.order).join(" ");
    let children = shuffled(children, &s.order[2..]).join(&format!("{comment}{nl}"));
    let root_attrs = if s.namespace {
        " xmlns=\"http://tableau.com/api\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"http://tableau.com/api https://help.tableau.com/samples/en-us/rest_api/ts-api_3_24.xsd\""
    } else {
        ""
    };
    let declaration = if s.declaration {
        "<?xml version='1.0' encoding='UTF-8'?>\n"
    } else {
        ""
    };
    let extra = if s.extras {
        "<pagination pageNumber=\"1\"/>"
    } else {
        ""
    };
    let bom = if s.order[3].is_multiple_of(3) {
        "\u{FEFF}"
    } else {
        ""
    };
    format!(
        "{bom}{declaration}<tsResponse{root_attrs}>{nl}{comment}<error {attrs}>{nl}{children}</error>{nl}{extra}</tsResponse>\n"
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A well-formed `401001` (bad credentials) body is never read as "sign in again", whatever
    /// the status, headers and syntactic shape: re-authenticating could not help.
    #[test]
    fn classify_never_reauthenticates_bad_credentials(
        signed_in in any::<bool>(),
        status in status(),
        headers in vec(header(), 0..3),
        style in error_doc_style(),
    ) {
        let session = if signed_in {
            signed_in_session(Format::Xml, Some(V3_27))
        } else {
            Session::new(config(Format::Json, Some(V3_27)))
        };
        let body = render_error_doc("401001", &style);
        let verdict = session.classify(&response(status, &headers, body.clone().into_bytes()));
        prop_assert!(
            !matches!(verdict, Verdict::Reauthenticate(_)),
            "{} for HTTP {} {:?}", format!("{verdict:?}"), status, body
        );
        if status == 401 {
            // And it is read as the Tableau error it is.
            match verdict {
                Verdict::Fail(e) => prop_assert_eq!(e.code(), Some("401001"), "{:?}", body),
                other => return Err(TestCaseError::fail(format!("{other:?} for {body:?}"))),
            }
        }
    }
}

// ----- property 2: request bodies round-trip ---------------------------------------------------

/// Characters XML 1.0 can carry in an attribute (all but C0 controls other than TAB, LF, CR,
/// and U+FFFE / U+FFFF).
fn is_xml_char(c: char) -> bool {
    !(((c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}')
}

fn xml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>().prop_filter("XML 1.0 character", |c| is_xml_char(*c)),
        3 => select(vec![
            '"', '\'', '&', '<', '>', '\n', '\t', '\r', ' ', ';', '#', ':', '=', '+', '/', '%',
            '\\', '{', '}', 'é', '漢', '🦀', '\u{a0}', '\u{85}', '\u{2028}', '\u{7f}', '\u{fffd}',
            '\u{feff}',
        ]),
        4 => proptest::char::range('a', 'z'),
    ]
}

fn xml_text() -> impl Strategy<Value = String> {
    vec(xml_char(), 0..24).prop_map(String::from_iter)
}

/// Characters the XML encoder must refuse.
fn non_xml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        (0u32..0x20)
            .prop_filter("not TAB/LF/CR", |c| !matches!(c, 9 | 10 | 13))
            .prop_map(|c| char::from_u32(c).unwrap()),
        Just('\u{FFFE}'),
        Just('\u{FFFF}'),
    ]
}

fn luid() -> impl Strategy<Value = String> {
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
}

#[derive(Debug, PartialEq, Eq)]
struct Element {
    name: String,
    attributes: BTreeMap<String, String>,
    children: Vec<Self>,
}

fn element(start: &BytesStart<'_>) -> Element {
    let attributes = start
        .attributes()
        .map(|a| {
            let a = a.expect("a well-formed attribute");
            (
                a.key.as_ref().to_owned(),
                // What a conforming XML 1.0 processor reads, after attribute-value normalisation.
                a.normalized_value(XmlVersion::Implicit1_0)
                    .expect("a valid attribute value")
                    .into_owned(),
            )
        })
        .collect();
    Element {
        name: start.name().as_ref().to_owned(),
        attributes,
        children: Vec::new(),
    }
}

/// Parses a request body into its element tree, refusing anything but elements.
fn parse_xml(body: &[u8]) -> Element {
    let text = std::str::from_utf8(body).expect("a UTF-8 body");
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let mut attach = |stack: &mut Vec<Element>, el: Element| match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => {
            assert!(root.is_none(), "two document elements");
            root = Some(el);
        }
    };
    loop {
        match reader.read_event().expect("well-formed XML") {
            XmlEvent::Start(e) => stack.push(element(&e)),
            XmlEvent::Empty(e) => {
                let el = element(&e);
                attach(&mut stack, el);
            }
            XmlEvent::End(_) => {
                let el = stack.pop().expect("balanced tags");
                attach(&mut stack, el);
            }
            XmlEvent::Eof => break,
            other => panic!("unexpected XML content {other:?}"),
        }
    }
    assert!(stack.is_empty(), "unclosed elements");
    root.expect("a document element")
}

fn el(name: &str, attributes: &[(&str, &str)], children: Vec<Element>) -> Element {
    Element {
        name: name.to_owned(),
        attributes: attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        children,
    }
}

/// The `credentials` attributes (XML) / members (JSON) a sign-in must carry.
fn credential_fields(kind: Kind, name: &str, secret: &str) -> Vec<(&'static str, String)> {
    match kind {
        Kind::Password => vec![("name", name.to_owned()), ("password", secret.to_owned())],
        Kind::Pat => vec![
            ("personalAccessTokenName", name.to_owned()),
            ("personalAccessTokenSecret", secret.to_owned()),
        ],
        Kind::Jwt => vec![("jwt", secret.to_owned())],
        Kind::Uat => vec![("jwt", secret.to_owned()), ("isUat", "true".to_owned())],
        Kind::ConnectedApp => {
            let jwt = connected_app(name, secret)
                .mint(tableau_auth_proto::MintInputs {
                    issued_at: mint_time(),
                    random: [7; 16],
                })
                .unwrap();
            vec![("jwt", jwt.expose_secret().to_owned())]
        }
    }
}

fn assert_sign_in_body(
    format: Format,
    body: &[u8],
    fields: &[(&'static str, String)],
    site: &str,
    user: Option<&str>,
) -> Result<(), TestCaseError> {
    match format {
        Format::Xml => {
            let attrs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let mut children = vec![el("site", &[("contentUrl", site)], vec![])];
            if let Some(id) = user {
                children.push(el("user", &[("id", id)], vec![]));
            }
            let expected = el("tsRequest", &[], vec![el("credentials", &attrs, children)]);
            prop_assert_eq!(parse_xml(body), expected);
        }
        Format::Json => {
            let mut credentials = serde_json::Map::new();
            for (k, v) in fields {
                let value = if *k == "isUat" {
                    Value::Bool(true)
                } else {
                    Value::String(v.clone())
                };
                credentials.insert((*k).to_owned(), value);
            }
            credentials.insert("site".to_owned(), json!({ "contentUrl": site }));
            if let Some(id) = user {
                credentials.insert("user".to_owned(), json!({ "id": id }));
            }
            let parsed: Value = serde_json::from_slice(body).expect("a JSON body");
            prop_assert_eq!(parsed, json!({ "credentials": credentials }));
        }
    }
    Ok(())
}

fn assert_request_head(
    request: &Request<Vec<u8>>,
    format: Format,
    url: &str,
    token: Option<&str>,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(request.method(), Method::POST);
    prop_assert_eq!(request.uri().to_string(), url);
    let media = HeaderValue::from_static(format.media_type());
    prop_assert_eq!(request.headers().get(CONTENT_TYPE), Some(&media));
    prop_assert_eq!(request.headers().get(ACCEPT), Some(&media));
    match token {
        Some(token) => {
            let value = request
                .headers()
                .get(X_TABLEAU_AUTH)
                .expect("X-Tableau-Auth");
            prop_assert_eq!(value.to_str().unwrap(), token);
            prop_assert!(value.is_sensitive());
        }
        None => prop_assert!(request.headers().get(X_TABLEAU_AUTH).is_none()),
    }
    Ok(())
}

fn started_sign_in(format: Format, intent: SignIn) -> (Session, Result<Step, Error>) {
    let mut session = Session::new(config(format, Some(V3_27)));
    let result = session.start(intent.into(), at(0));
    (session, result)
}

#[derive(Debug, Clone, Copy)]
enum Field {
    Name,
    Secret,
    Site,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every credential kind, in both formats: the body the core sends parses back to exactly
    /// the caller's name, secret (or minted JWT), site and impersonated user.
    #[test]
    fn sign_in_request_round_trips_in_both_formats(
        format in format(),
        kind in kind(),
        name in xml_text(),
        secret in xml_text(),
        site in xml_text(),
        user in proptest::option::of(luid()),
    ) {
        let mut intent = sign_in(kind, &name, &secret, &site);
        if let Some(id) = &user {
            intent = intent.impersonate(UserId::parse(id).unwrap());
        }
        let (session, result) = started_sign_in(format, intent);
        if kind == Kind::ConnectedApp && (name.is_empty() || secret.is_empty()) {
            prop_assert!(matches!(result, Err(Error::Misuse(Misuse::Empty(_)))), "{:?}", result);
            prop_assert!(!session.is_busy());
            return Ok(());
        }
        let request = match result {
            Ok(Step::Send(request)) => request,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        assert_request_head(&request, format, &format!("{BASE_URL}{SIGN_IN_PATH}"), None)?;
        let fields = credential_fields(kind, &name, &secret);
        assert_sign_in_body(format, request.body(), &fields, &site, user.as_deref())?;
    }

    /// A character XML 1.0 cannot carry is refused before anything is sent in XML (nothing is
    /// in flight afterwards); JSON escapes it, and the value still round-trips.
    #[test]
    fn control_characters_are_refused_in_xml_and_carried_in_json(
        format in format(),
        (kind, field) in prop_oneof![
            (select(vec![Kind::Password, Kind::Pat]), Just(Field::Name)),
            (select(vec![Kind::Password, Kind::Pat, Kind::Jwt, Kind::Uat]), Just(Field::Secret)),
            (kind(), Just(Field::Site)),
        ],
        (mut name, mut secret, mut site) in (xml_text(), xml_text(), xml_text()),
        bad in non_xml_char(),
        position in any::<Index>(),
    ) {
        name.push('n');
        secret.push('s');
        let target = match field {
            Field::Name => &mut name,
            Field::Secret => &mut secret,
            Field::Site => &mut site,
        };
        let chars: Vec<char> = target.chars().collect();
        let i = position.index(chars.len() + 1);
        *target = chars[..i].iter().chain([bad].iter()).chain(chars[i..].iter()).collect();
        let (session, result) = started_sign_in(format, sign_in(kind, &name, &secret, &site));
        match format {
            Format::Xml => {
                prop_assert!(
                    matches!(result, Err(Error::Misuse(Misuse::InvalidCharacter(_)))),
                    "{:?}", result
                );
                prop_assert!(!session.is_busy() && !session.is_signed_in());
            }
            Format::Json => {
                let request = match result {
                    Ok(Step::Send(request)) => request,
                    other => return Err(TestCaseError::fail(format!("{other:?}"))),
                };
                let fields = credential_fields(kind, &name, &secret);
                assert_sign_in_body(format, request.body(), &fields, &site, None)?;
            }
        }
    }

    /// The switch-site body carries exactly the target contentUrl, with the session token; an
    /// XML-illegal character is refused and leaves the session as it was.
    #[test]
    fn switch_site_request_round_trips_content_url(
        format in format(),
        site in xml_text(),
        bad in proptest::option::of((non_xml_char(), any::<Index>())),
    ) {
        let mut session = signed_in_session(format, Some(V3_27));
        let before = snapshot(&session);
        let site = match bad {
            Some((c, i)) => {
                let chars: Vec<char> = site.chars().collect();
                let i = i.index(chars.len() + 1);
                chars[..i].iter().chain([c].iter()).chain(chars[i..].iter()).collect()
            }
            None => site,
        };
        let result = session.start(Intent::SwitchSite(site.as_str().into()), at(5));
        if bad.is_some() && format == Format::Xml {
            prop_assert!(
                matches!(result, Err(Error::Misuse(Misuse::InvalidCharacter(_)))),
                "{:?}", result
            );
            prop_assert!(!session.is_busy());
            prop_assert_eq!(snapshot(&session), before);
            return Ok(());
        }
        let request = match result {
            Ok(Step::Send(request)) => request,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        let url = format!("{BASE_URL}/api/3.27/auth/switchSite");
        assert_request_head(&request, format, &url, Some(SESSION_TOKEN))?;
        match format {
            Format::Xml => {
                let expected = el("tsRequest", &[], vec![el("site", &[("contentUrl", &site)], vec![])]);
                prop_assert_eq!(parse_xml(request.body()), expected);
            }
            Format::Json => {
                let parsed: Value = serde_json::from_slice(request.body()).unwrap();
                prop_assert_eq!(parsed, json!({ "site": { "contentUrl": site } }));
            }
        }
    }

    /// Signing out a saved token sends exactly that token (marked sensitive) and nothing else,
    /// leaving the session's own state alone; a token that cannot be a header value is refused
    /// before anything is sent.
    #[test]
    fn sign_out_token_request_carries_exactly_the_token(
        format in format(),
        signed_in in any::<bool>(),
        token in "[!-~]{1,64}",
        bad in proptest::option::of((
            prop_oneof![
                (0u8..0x20).prop_filter("not TAB", |b| *b != b'\t'),
                Just(0x7fu8),
            ],
            any::<Index>(),
        )),
    ) {
        let mut session = if signed_in {
            signed_in_session(format, Some(V3_27))
        } else {
            Session::new(config(format, Some(V3_27)))
        };
        let before = snapshot(&session);
        let token = match bad {
            Some((b, i)) => {
                let mut bytes = token.into_bytes();
                let i = i.index(bytes.len() + 1);
                bytes.insert(i, b);
                String::from_utf8(bytes).unwrap()
            }
            None => token,
        };
        let result = session.start(Intent::SignOutToken(AuthToken::new(token.as_str())), at(5));
        prop_assert_eq!(snapshot(&session), before);
        if bad.is_some() {
            prop_assert!(
                matches!(result, Err(Error::Misuse(Misuse::InvalidCharacter(_)))),
                "{:?}", result
            );
            prop_assert!(!session.is_busy());
            return Ok(());
        }
        let request = match result {
            Ok(Step::Send(request)) => request,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        let url = format!("{BASE_URL}/api/3.27/auth/signout");
        assert_request_head(&request, format, &url, Some(&token))?;
        prop_assert!(request.body().is_empty());
        prop_assert!(session.is_busy());
    }

    /// The trusted-ticket form carries exactly the user name, the site and the client IP, for
    /// any text at all (form encoding can carry every character).
    #[test]
    fn trusted_ticket_form_round_trips(
        username in prop_oneof![any::<String>(), xml_text()],
        site in prop_oneof![any::<String>(), xml_text()],
        ip in proptest::option::of(any::<[u8; 4]>().prop_map(Ipv4Addr::from)),
        signed_in in any::<bool>(),
    ) {
        let mut session = if signed_in {
            signed_in_session(Format::Xml, Some(V3_27))
        } else {
            Session::new(config(Format::Xml, Some(V3_27)))
        };
        let mut ticket = TicketRequest::new(username.as_str()).target_site(site.as_str());
        if let Some(ip) = ip {
            ticket = ticket.client_ip(ip);
        }
        let result = session.start(ticket.into(), at(5));
        if username.is_empty() {
            prop_assert!(matches!(result, Err(Error::Misuse(Misuse::Empty(_)))), "{:?}", result);
            prop_assert!(!session.is_busy());
            return Ok(());
        }
        let request = match result {
            Ok(Step::Send(request)) => request,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        prop_assert_eq!(request.method(), Method::POST);
        prop_assert_eq!(request.uri().to_string(), format!("{BASE_URL}/trusted"));
        prop_assert_eq!(
            request.headers().get(CONTENT_TYPE).unwrap(),
            "application/x-www-form-urlencoded; charset=UTF-8"
        );
        // The ticket request is not a REST call: it never carries the session token.
        prop_assert!(request.headers().get(X_TABLEAU_AUTH).is_none());
        let pairs: Vec<(String, String)> = form_urlencoded::parse(request.body())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut expected = vec![
            ("username".to_owned(), username.clone()),
            ("target_site".to_owned(), site.clone()),
        ];
        if let Some(ip) = ip {
            expected.push(("client_ip".to_owned(), ip.to_string()));
        }
        prop_assert_eq!(pairs, expected);
    }
}

// ----- property 3: responses round-trip --------------------------------------------------------

#[derive(Debug, Clone)]
struct CredentialsFields {
    token: String,
    site_id: String,
    content_url: String,
    user_id: String,
    /// `(days, hours, minutes, zero-padded)`.
    expires: Option<(u32, u8, u8, bool)>,
}

impl CredentialsFields {
    fn expires_text(&self) -> Option<String> {
        self.expires.map(|(d, h, m, padded)| {
            if padded {
                format!("{d}:{h:02}:{m:02}")
            } else {
                format!("{d}:{h}:{m}")
            }
        })
    }

    fn expires_in(&self) -> Option<Duration> {
        self.expires.map(|(d, h, m, _)| {
            Duration::from_secs(u64::from(d) * 86_400 + u64::from(h) * 3_600 + u64::from(m) * 60)
        })
    }
}

#[derive(Debug, Clone)]
struct ResponseStyle {
    json: bool,
    declaration: bool,
    namespace: bool,
    char_refs: bool,
    pretty: bool,
    comments: bool,
    extras: bool,
    order: Vec<u32>,
}

fn response_style() -> impl Strategy<Value = ResponseStyle> {
    (
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        vec(any::<u32>(), 8),
    )
        .prop_map(
            |((json, declaration, namespace, char_refs), (pretty, comments, extras), order)| {
                ResponseStyle {
                    json,
                    declaration,
                    namespace,
                    char_refs,
                    pretty,
                    comments,
                    extras,
                    order,
                }
            },
        )
}

fn credentials_fields(json: bool) -> impl Strategy<Value = CredentialsFields> {
    let content_url = if json {
        prop_oneof![any::<String>(), xml_text()].boxed()
    } else {
        xml_text().boxed()
    };
    (
        "[!-~]{1,64}",
        luid(),
        content_url,
        luid(),
        proptest::option::of((0u32..100_000, 0u8..24, 0u8..60, any::<bool>())),
    )
        .prop_map(
            |(token, site_id, content_url, user_id, expires)| CredentialsFields {
                token,
                site_id,
                content_url,
                user_id,
                expires,
            },
        )
}

fn credentials_response() -> impl Strategy<Value = (CredentialsFields, ResponseStyle)> {
    response_style().prop_flat_map(|style| (credentials_fields(style.json), Just(style)))
}

fn render_credentials(f: &CredentialsFields, s: &ResponseStyle) -> String {
    if s.json {
        render_credentials_json(f, s)
    } else {
        render_credentials_xml(f, s)
    }
}

fn json_object(members: Vec<String>, keys: &[u32], nl: &str) -> String {
    format!(
        "{{{nl}{}{nl}}}",
        shuffled(members, keys).join(&format!(",{nl}"))
    )
}

fn render_credentials_json(f: &CredentialsFields, s: &ResponseStyle) -> String {
    let nl = if s.pretty { "\n  " } else { "" };
    let mut site = vec![
        format!("\"id\":{}", json_str(&f.site_id)),
        format!("\"contentUrl\":{}", json_str(&f.content_url)),
    ];
    let mut user = vec![format!("\"id\":{}", json_str(&f.user_id))];
    let mut credentials = vec![format!("\"token\":{}", json_str(&f.token))];
    if let Some(e) = f.expires_text() {
        credentials.push(format!("\"estimatedTimeToExpiration\":{}", json_str(&e)));
    }
    let mut top = Vec::new();
    if s.extras {
        site.push("\"name\":\"Finance & Co\"".to_owned());
        user.push("\"name\":\"jsmith\"".to_owned());
        user.push("\"domain\":{\"name\":\"local\"}".to_owned());
        credentials.push("\"authSetting\":null".to_owned());
        credentials.push("\"extra\":[1.5e3,{\"a\":[true,false]},\"x\"]".to_owned());
        top.push("\"pagination\":{\"pageNumber\":\"1\",\"totalAvailable\":1}".to_owned());
    }
    credentials.push(format!("\"site\":{}", json_object(site, &s.order, nl)));
    credentials.push(format!("\"user\":{}", json_object(user, &s.order[1..], nl)));
    top.push(format!(
        "\"credentials\":{}",
        json_object(credentials, &s.order[2..], nl)
    ));
    json_object(top, &s.order[3..], nl)
}

fn xml_element(name: &str, attrs: Vec<String>, children: Vec<String>, s: &ResponseStyle) -> String {
    let attrs: String = attrs.into_iter().map(|a| format!(" {a}")).collect();
    if children.is_empty() {
        return format!("<{name}{attrs}/>");
    }
    let nl = if s.pretty { "\n  " } else { "" };
    let comment = if s.comments { "<!-- comment -->" } else { "" };
    let inner = children.join(&format!("{nl}{comment}"));
    format!("<{name}{attrs}>{nl}{inner}{nl}</{name}>")
}

fn render_credentials_xml(f: &CredentialsFields, s: &ResponseStyle) -> String {
    let esc = |v: &str| xml_escape(v, s.char_refs);
    let mut site = vec![
        format!("id=\"{}\"", esc(&f.site_id)),
        format!("contentUrl=\"{}\"", esc(&f.content_url)),
    ];
    let mut user = vec![format!("id=\"{}\"", esc(&f.user_id))];
    let mut credentials = vec![format!("token=\"{}\"", esc(&f.token))];
    if let Some(e) = f.expires_text() {
        credentials.push(format!("estimatedTimeToExpiration=\"{e}\""));
    }
    let mut user_children = Vec::new();
    let mut credentials_children = Vec::new();
    let mut top_children = Vec::new();
    if s.extras {
        site.push("name=\"Finance &amp; Co\"".to_owned());
        user.push("siteRole=\"SiteAdministratorCreator\"".to_owned());
        credentials.push("authSetting=\"ServerDefault\"".to_owned());
        user_children.push("<domain name=\"local\"/>".to_owned());
        credentials_children
            .push("<extra a=\"1\"><nested>text &amp; more</nested><nested/></extra>".to_owned());
        top_children.push("<pagination pageNumber=\"1\" pageSize=\"100\"/>".to_owned());
    }
    credentials_children.push(xml_element("site", shuffled(site, &s.order), vec![], s));
    credentials_children.push(xml_element(
        "user",
        shuffled(user, &s.order[1..]),
        user_children,
        s,
    ));
    top_children.push(xml_element(
        "credentials",
        shuffled(credentials, &s.order[2..]),
        shuffled(credentials_children, &s.order[3..]),
        s,
    ));
    let mut root_attrs = Vec::new();
    if s.namespace {
        root_attrs.push("xmlns=\"http://tableau.com/api\"".to_owned());
        root_attrs.push("xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"".to_owned());
        root_attrs.push(
            "xsi:schemaLocation=\"http://tableau.com/api \
             https://help.tableau.com/samples/en-us/rest_api/ts-api_3_25.xsd\""
                .to_owned(),
        );
    }
    let root = xml_element(
        "tsResponse",
        shuffled(root_attrs, &s.order[4..]),
        shuffled(top_children, &s.order[5..]),
        s,
    );
    let declaration = if s.declaration {
        "<?xml version='1.0' encoding='UTF-8'?>\n"
    } else {
        ""
    };
    // Some servers and proxies start XML with a byte-order mark. (JSON with one is a known bug,
    // left out here: see the report.)
    let bom = if s.order[6].is_multiple_of(3) {
        "\u{FEFF}"
    } else {
        ""
    };
    format!("{bom}{declaration}{root}")
}

fn assert_session_holds(
    session: &Session,
    info: &tableau_auth_proto::SignedIn,
    f: &CredentialsFields,
    now: Instant,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(session.signed_in(), Some(info));
    prop_assert_eq!(info.site_id.as_str(), f.site_id.as_str());
    prop_assert_eq!(info.site_content_url.as_str(), f.content_url.as_str());
    prop_assert_eq!(info.user_id.as_str(), f.user_id.as_str());
    prop_assert_eq!(info.api_version, V3_27);
    prop_assert_eq!(info.credentials_expire_at, f.expires_in().map(|d| now + d));
    prop_assert_eq!(info.moved_to.as_deref(), None);
    prop_assert_eq!(
        session.token().map(|t| t.expose_secret()),
        Some(f.token.as_str())
    );
    // The token goes out on the caller's requests, marked sensitive, replacing any stale one.
    let mut call = Request::get(session.api_url("sessions/current").unwrap())
        .header(X_TABLEAU_AUTH, HeaderValue::from_static("stale"))
        .body(())
        .unwrap();
    session.authorize_request(&mut call).unwrap();
    let headers = call.headers();
    let value = headers.get(X_TABLEAU_AUTH).unwrap();
    prop_assert_eq!(value.to_str().unwrap(), f.token.as_str());
    prop_assert!(value.is_sensitive());
    prop_assert_eq!(headers.len(), 1);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// A sign-in response in either format, in any shape a server may give it (namespaces or
    /// none, any attribute, member and element order, unknown extras, character references,
    /// comments), signs in with exactly its values; so does a switch-site response after it.
    #[test]
    fn sign_in_response_round_trips_in_both_formats(
        format in format(),
        kind in kind(),
        (first, first_style) in credentials_response(),
        (second, second_style) in credentials_response(),
    ) {
        let mut session = Session::new(config(format, Some(V3_27)));
        let step = session.start(sign_in(kind, "etl", "s3cret", "Finance").into(), at(0)).unwrap();
        prop_assert!(matches!(step, Step::Send(_)));
        let body = render_credentials(&first, &first_style);
        let now = at(1);
        let info = match session.handle_response(response(200, &[], body.clone().into_bytes()), now) {
            Ok(Step::Done(Event::SignedIn(info))) => info,
            other => return Err(TestCaseError::fail(format!("{other:?} for {body}"))),
        };
        prop_assert!(!session.is_busy());
        assert_session_holds(&session, &info, &first, now)?;

        let step = session.start(Intent::SwitchSite("Marketing".into()), at(2)).unwrap();
        prop_assert!(matches!(step, Step::Send(_)));
        let body = render_credentials(&second, &second_style);
        let now = at(3);
        let info = match session.handle_response(response(200, &[], body.clone().into_bytes()), now) {
            Ok(Step::Done(Event::SiteSwitched(info))) => info,
            other => return Err(TestCaseError::fail(format!("{other:?} for {body}"))),
        };
        assert_session_holds(&session, &info, &second, now)?;
    }
}

// ----- property 4: model-based ---------------------------------------------------------------

const SITES: [&str; 4] = ["", "Finance", "Sales & <Marketing>", "ünïcode\tsite"];
const SAVED_TOKENS: [&str; 2] = ["saved-token-A", "tok-0-"];
const SERVER_VERSIONS: [ApiVersion; 3] = [
    ApiVersion::new(3, 4),
    ApiVersion::new(3, 25),
    ApiVersion::new(3, 27),
];
const GARBAGE: [&[u8]; 6] = [
    b"",
    b"<html><body>maintenance</body></html>",
    b"\xff\xfe\x00",
    b"{\"credentials\": {}}",
    b"<tsResponse><credentials token=\"\"/></tsResponse>",
    b"{\"serverInfo\":{\"restApiVersion\":\"x\"}}",
];

#[derive(Debug, Clone, Copy)]
enum RedirectTo {
    SameHostAbsolute,
    SameHostRelative,
    OtherHost,
    Downgrade,
}

#[derive(Debug, Clone)]
enum Reply {
    Success {
        expires: Option<(u32, u8, u8)>,
        server_version: usize,
    },
    Unauthorized401002,
    BadCredentials401001,
    SameSite403070,
    ServerErrorHtml,
    Redirect {
        status: u16,
        to: RedirectTo,
    },
    Garbage(usize),
}

#[derive(Debug, Clone)]
enum Op {
    StartSignIn {
        kind: Kind,
        site: usize,
    },
    StartSignOut,
    StartSignOutToken {
        token: usize,
    },
    StartSwitch {
        site: usize,
    },
    StartServerInfo,
    Abort,
    Feed(Reply),
    /// `touch` at `now` minus this many seconds (a late report of an earlier use).
    Touch(u64),
    Advance(u64),
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        6 => (
            proptest::option::of((0u32..400, 0u8..24, 0u8..60)),
            0..SERVER_VERSIONS.len(),
        )
            .prop_map(|(expires, server_version)| Reply::Success { expires, server_version }),
        1 => Just(Reply::Unauthorized401002),
        1 => Just(Reply::BadCredentials401001),
        1 => Just(Reply::SameSite403070),
        1 => Just(Reply::ServerErrorHtml),
        2 => (
            select(vec![301u16, 302, 303, 307, 308]),
            select(vec![
                RedirectTo::SameHostAbsolute,
                RedirectTo::SameHostRelative,
                RedirectTo::OtherHost,
                RedirectTo::Downgrade,
            ]),
        )
            .prop_map(|(status, to)| Reply::Redirect { status, to }),
        1 => (0..GARBAGE.len()).prop_map(Reply::Garbage),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (kind(), 0..SITES.len()).prop_map(|(kind, site)| Op::StartSignIn { kind, site }),
        2 => Just(Op::StartSignOut),
        1 => (0..SAVED_TOKENS.len()).prop_map(|token| Op::StartSignOutToken { token }),
        2 => (0..SITES.len()).prop_map(|site| Op::StartSwitch { site }),
        1 => Just(Op::StartServerInfo),
        1 => Just(Op::Abort),
        7 => reply().prop_map(Op::Feed),
        1 => prop_oneof![Just(0u64), 0u64..3_600].prop_map(Op::Touch),
        2 => prop_oneof![0u64..120, 0u64..100_000].prop_map(Op::Advance),
    ]
}

#[derive(Debug, Clone)]
struct ModelConfig {
    format: Format,
    fixed: Option<ApiVersion>,
    idle: Duration,
    margin: Duration,
    lifetime: Option<Duration>,
    max_redirects: u8,
}

fn model_config() -> impl Strategy<Value = ModelConfig> {
    (
        format(),
        proptest::option::of(select(SERVER_VERSIONS.to_vec())),
        1u64..=480,
        0u64..=600,
        proptest::option::of(1u64..=1_440),
        0u8..=3,
    )
        .prop_map(
            |(format, fixed, idle, margin, lifetime, max_redirects)| ModelConfig {
                format,
                fixed,
                idle: Duration::from_secs(idle * 60),
                margin: Duration::from_secs(margin),
                lifetime: lifetime.map(|m| Duration::from_secs(m * 60)),
                max_redirects,
            },
        )
}

impl ModelConfig {
    fn build(&self) -> Config {
        let mut builder = Config::builder(BASE_URL)
            .format(self.format)
            .idle_limit(self.idle)
            .expiry_margin(self.margin)
            .max_redirects(self.max_redirects);
        if let Some(v) = self.fixed {
            builder = builder.api_version(v);
        }
        if let Some(l) = self.lifetime {
            builder = builder.lifetime_limit(l);
        }
        builder.build().unwrap()
    }
}

#[derive(Debug, Clone)]
struct ModelSession {
    site: String,
    token: String,
    version: ApiVersion,
    signed_in_at: Instant,
    last_used: Instant,
    credentials_expire_at: Option<Instant>,
}

/// What the probe before an exchange leads to.
#[derive(Debug, Clone)]
enum Then {
    SignIn(Kind, String),
    SignOut(String),
}

#[derive(Debug, Clone)]
enum InFlight {
    Probe {
        then: Option<Then>,
        hops: u8,
    },
    SignIn {
        site: String,
        version: ApiVersion,
        hops: u8,
    },
    SignOut,
    SignOutToken {
        token: String,
    },
    Switch {
        site: String,
        version: ApiVersion,
    },
}

/// What one operation returned, abstracted to what the model can predict.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Nothing,
    Send,
    ServerInfo,
    SignedIn,
    SignedOut(SignOut),
    SiteSwitched,
    SiteUnchanged,
    Misuse(Misuse),
    Unsupported(Feature),
    Redirect(RedirectRefusal),
    Api(String),
    OtherError,
}

fn outcome(result: &Result<Step, Error>) -> Outcome {
    match result {
        Ok(Step::Send(_)) => Outcome::Send,
        Ok(Step::Done(Event::ServerInfo(_))) => Outcome::ServerInfo,
        Ok(Step::Done(Event::SignedIn(_))) => Outcome::SignedIn,
        Ok(Step::Done(Event::SignedOut(s))) => Outcome::SignedOut(*s),
        Ok(Step::Done(Event::SiteSwitched(_))) => Outcome::SiteSwitched,
        Ok(Step::Done(Event::SiteUnchanged)) => Outcome::SiteUnchanged,
        Ok(Step::Done(other)) => panic!("unexpected event {other:?}"),
        Err(Error::Misuse(m)) => Outcome::Misuse(m.clone()),
        Err(Error::Unsupported { feature, .. }) => Outcome::Unsupported(*feature),
        Err(Error::Redirect { refusal, .. }) => Outcome::Redirect(*refusal),
        Err(Error::Api(e)) => Outcome::Api(e.code.clone()),
        Err(_) => Outcome::OtherError,
    }
}

/// The documented rules, and nothing else.
#[derive(Debug)]
struct Model {
    config: ModelConfig,
    version: Option<ApiVersion>,
    active: Option<ModelSession>,
    in_flight: Option<InFlight>,
}

fn required(feature: Feature, version: ApiVersion) -> Result<(), Outcome> {
    if version < feature.min_version() {
        Err(Outcome::Unsupported(feature))
    } else {
        Ok(())
    }
}

impl Model {
    fn new(config: ModelConfig) -> Self {
        Self {
            version: config.fixed,
            config,
            active: None,
            in_flight: None,
        }
    }

    fn begin_sign_in(&mut self, kind: Kind, site: String, version: ApiVersion) -> Outcome {
        let gates = || -> Result<(), Outcome> {
            match kind {
                Kind::Password => {}
                Kind::Pat => required(Feature::PersonalAccessToken, version)?,
                Kind::Jwt | Kind::ConnectedApp => required(Feature::Jwt, version)?,
                Kind::Uat => {
                    required(Feature::Jwt, version)?;
                    required(Feature::UnifiedAccessToken, version)?;
                }
            }
            if self.config.format == Format::Json {
                required(Feature::Json, version)?;
            }
            Ok(())
        };
        if let Err(outcome) = gates() {
            return outcome;
        }
        self.in_flight = Some(InFlight::SignIn {
            site,
            version,
            hops: 0,
        });
        Outcome::Send
    }

    fn start(&mut self, op: &Op) -> Outcome {
        if self.in_flight.is_some() {
            return Outcome::Misuse(Misuse::ExchangeInFlight);
        }
        match op {
            Op::StartSignIn { kind, site } => {
                let site = SITES[*site].to_owned();
                match self.version {
                    Some(v) => self.begin_sign_in(*kind, site, v),
                    None => {
                        self.in_flight = Some(InFlight::Probe {
                            then: Some(Then::SignIn(*kind, site)),
                            hops: 0,
                        });
                        Outcome::Send
                    }
                }
            }
            Op::StartSignOut => match &self.active {
                None => Outcome::SignedOut(SignOut::NotSignedIn),
                Some(_) => {
                    self.in_flight = Some(InFlight::SignOut);
                    Outcome::Send
                }
            },
            Op::StartSignOutToken { token } => {
                let token = SAVED_TOKENS[*token].to_owned();
                self.in_flight = Some(match self.version {
                    Some(_) => InFlight::SignOutToken { token },
                    None => InFlight::Probe {
                        then: Some(Then::SignOut(token)),
                        hops: 0,
                    },
                });
                Outcome::Send
            }
            Op::StartSwitch { site } => match &self.active {
                None => Outcome::Misuse(Misuse::NotSignedIn),
                Some(active) => {
                    // Every version the model uses has switchSite (2.6) and JSON (2.5).
                    self.in_flight = Some(InFlight::Switch {
                        site: SITES[*site].to_owned(),
                        version: active.version,
                    });
                    Outcome::Send
                }
            },
            Op::StartServerInfo => {
                self.in_flight = Some(InFlight::Probe {
                    then: None,
                    hops: 0,
                });
                Outcome::Send
            }
            _ => unreachable!(),
        }
    }

    fn sign_in_done(
        &mut self,
        site: &str,
        version: ApiVersion,
        token: &str,
        expires: Option<(u32, u8, u8)>,
        now: Instant,
    ) {
        self.active = Some(ModelSession {
            site: site.to_owned(),
            token: token.to_owned(),
            version,
            signed_in_at: now,
            last_used: now,
            credentials_expire_at: expires.map(|(d, h, m)| {
                now + Duration::from_secs(
                    u64::from(d) * 86_400 + u64::from(h) * 3_600 + u64::from(m) * 60,
                )
            }),
        });
        self.version = Some(version);
    }

    fn follow(&self, to: RedirectTo, hops: u8) -> Result<u8, Outcome> {
        match to {
            RedirectTo::SameHostAbsolute | RedirectTo::SameHostRelative
                if hops < self.config.max_redirects =>
            {
                Ok(hops + 1)
            }
            RedirectTo::SameHostAbsolute | RedirectTo::SameHostRelative => {
                Err(Outcome::Redirect(RedirectRefusal::TooManyRedirects))
            }
            RedirectTo::OtherHost => Err(Outcome::Redirect(RedirectRefusal::OtherHost)),
            RedirectTo::Downgrade => Err(Outcome::Redirect(RedirectRefusal::Downgrade)),
        }
    }

    fn feed(&mut self, reply: &Reply, token: &str, now: Instant) -> Outcome {
        let Some(in_flight) = self.in_flight.take() else {
            return Outcome::Misuse(Misuse::NoExchange);
        };
        let api = |code: &str| Outcome::Api(code.to_owned());
        match (in_flight, reply) {
            (InFlight::Probe { then, .. }, Reply::Success { server_version, .. }) => {
                if self.config.fixed.is_none() {
                    self.version = Some(SERVER_VERSIONS[*server_version]);
                }
                match (then, self.version) {
                    (Some(Then::SignIn(kind, site)), Some(v)) => self.begin_sign_in(kind, site, v),
                    (Some(Then::SignOut(token)), Some(_)) => {
                        self.in_flight = Some(InFlight::SignOutToken { token });
                        Outcome::Send
                    }
                    _ => Outcome::ServerInfo,
                }
            }
            (InFlight::Probe { then, hops }, Reply::Redirect { to, .. }) => {
                match self.follow(*to, hops) {
                    Ok(hops) => {
                        self.in_flight = Some(InFlight::Probe { then, hops });
                        Outcome::Send
                    }
                    Err(outcome) => outcome,
                }
            }
            (
                InFlight::SignIn {
                    site,
                    version,
                    hops,
                },
                Reply::Redirect { to, .. },
            ) => match self.follow(*to, hops) {
                Ok(hops) => {
                    self.in_flight = Some(InFlight::SignIn {
                        site,
                        version,
                        hops,
                    });
                    Outcome::Send
                }
                Err(outcome) => outcome,
            },
            (InFlight::SignIn { site, version, .. }, Reply::Success { expires, .. }) => {
                self.sign_in_done(&site, version, token, *expires, now);
                Outcome::SignedIn
            }
            (InFlight::SignOut, Reply::Success { .. } | Reply::Garbage(_)) => {
                self.active = None;
                Outcome::SignedOut(SignOut::Confirmed)
            }
            (InFlight::SignOut, Reply::Unauthorized401002 | Reply::BadCredentials401001) => {
                self.active = None;
                Outcome::SignedOut(SignOut::AlreadyGone)
            }
            // Another process's token: the session's own state is not touched.
            (InFlight::SignOutToken { .. }, Reply::Success { .. } | Reply::Garbage(_)) => {
                Outcome::SignedOut(SignOut::Confirmed)
            }
            (
                InFlight::SignOutToken { .. },
                Reply::Unauthorized401002 | Reply::BadCredentials401001,
            ) => Outcome::SignedOut(SignOut::AlreadyGone),
            (InFlight::Switch { site, version }, Reply::Success { expires, .. }) => {
                self.sign_in_done(&site, version, token, *expires, now);
                Outcome::SiteSwitched
            }
            (InFlight::Switch { .. }, Reply::SameSite403070) => Outcome::SiteUnchanged,
            (
                InFlight::SignOut | InFlight::SignOutToken { .. } | InFlight::Switch { .. },
                Reply::Redirect { .. },
            ) => Outcome::Redirect(RedirectRefusal::NotFollowed),
            (_, Reply::Unauthorized401002) => api("401002"),
            (_, Reply::BadCredentials401001) => api("401001"),
            (_, Reply::SameSite403070) => api("403070"),
            (_, Reply::ServerErrorHtml | Reply::Garbage(_)) => Outcome::OtherError,
        }
    }

    fn poll_timeout(&self) -> Option<(Instant, Expiry)> {
        let active = self.active.as_ref()?;
        let margin = self.config.margin;
        let before = |d: Instant| d.checked_sub(margin).unwrap_or(d);
        let mut candidates = vec![(
            before(active.last_used + self.config.idle),
            Expiry::IdleLimit,
        )];
        if let Some(limit) = self.config.lifetime {
            candidates.push((before(active.signed_in_at + limit), Expiry::LifetimeLimit));
        }
        if let Some(at) = active.credentials_expire_at {
            candidates.push((before(at), Expiry::Credentials));
        }
        candidates.into_iter().min_by_key(|(at, _)| *at)
    }
}

/// The HTTP response the server gives for `reply` to the exchange the model has in flight.
fn model_response(
    model: &Model,
    reply: &Reply,
    token: &str,
    last_uri: Option<&Uri>,
) -> Response<Vec<u8>> {
    let json = model.config.format == Format::Json;
    let error = |status: u16, code: &str| {
        let body = if json {
            error_json(code, "Summary", "Detail")
        } else {
            error_xml(code, "Summary", "Detail")
        };
        response(status, &[], body.into_bytes())
    };
    match reply {
        Reply::Success {
            expires,
            server_version,
        } => match &model.in_flight {
            Some(InFlight::Probe { .. }) => {
                let v = SERVER_VERSIONS[*server_version].to_string();
                let body = if json {
                    server_info_json(&v)
                } else {
                    server_info_xml(&v)
                };
                response(200, &[], body.into_bytes())
            }
            Some(InFlight::SignIn { site, .. } | InFlight::Switch { site, .. }) => {
                let fields = CredentialsFields {
                    token: token.to_owned(),
                    site_id: SITE_LUID.to_owned(),
                    content_url: site.clone(),
                    user_id: USER_LUID.to_owned(),
                    expires: expires.map(|(d, h, m)| (d, h, m, true)),
                };
                let style = ResponseStyle {
                    json,
                    declaration: true,
                    namespace: true,
                    char_refs: false,
                    pretty: false,
                    comments: false,
                    extras: false,
                    order: vec![0; 8],
                };
                response(200, &[], render_credentials(&fields, &style).into_bytes())
            }
            Some(InFlight::SignOut | InFlight::SignOutToken { .. }) | None => {
                response(204, &[], Vec::new())
            }
        },
        Reply::Unauthorized401002 => error(401, "401002"),
        Reply::BadCredentials401001 => error(401, "401001"),
        Reply::SameSite403070 => error(403, "403070"),
        Reply::ServerErrorHtml => response(500, &[], HTML_PAGE.as_bytes().to_vec()),
        Reply::Redirect { status, to } => {
            let path = last_uri.map_or("/", |u| u.path_and_query().map_or("/", |p| p.as_str()));
            let location = match to {
                RedirectTo::SameHostAbsolute => format!("{BASE_URL}{path}"),
                RedirectTo::SameHostRelative => path.to_owned(),
                RedirectTo::OtherHost => format!("https://evil.example.com{path}"),
                RedirectTo::Downgrade => format!("http://{HOST}{path}"),
            };
            response(
                *status,
                &[(LOCATION, HeaderValue::from_str(&location).unwrap())],
                Vec::new(),
            )
        }
        Reply::Garbage(i) => response(200, &[], GARBAGE[*i].to_vec()),
    }
}

fn check_against_model(config: ModelConfig, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut session = Session::new(config.build());
    let mut model = Model::new(config);
    let mut now = at(86_400);
    let mut last_uri: Option<Uri> = None;
    for (n, op) in ops.iter().enumerate() {
        let (expected, actual) = match op {
            Op::StartSignIn { kind, site } => {
                let intent = sign_in(*kind, "etl", "s3cret", SITES[*site]).into();
                (model.start(op), session.start(intent, now))
            }
            Op::StartSignOut => (model.start(op), session.start(Intent::SignOut, now)),
            Op::StartSignOutToken { token } => {
                let intent = Intent::SignOutToken(AuthToken::new(SAVED_TOKENS[*token]));
                (model.start(op), session.start(intent, now))
            }
            Op::StartSwitch { site } => {
                let intent = Intent::SwitchSite(SITES[*site].into());
                (model.start(op), session.start(intent, now))
            }
            Op::StartServerInfo => (model.start(op), session.start(Intent::ServerInfo, now)),
            Op::Feed(reply) => {
                let token = format!("tok-{n}-{}", "x".repeat(n % 3));
                let response = model_response(&model, reply, &token, last_uri.as_ref());
                let expected = model.feed(reply, &token, now);
                (expected, session.handle_response(response, now))
            }
            Op::Abort => {
                model.in_flight = None;
                session.abort();
                (Outcome::Nothing, Ok(Step::Done(Event::SiteUnchanged)))
            }
            Op::Touch(back) => {
                let used = now - Duration::from_secs(*back);
                if let Some(active) = &mut model.active {
                    active.last_used = active.last_used.max(used);
                }
                session.touch(used);
                (Outcome::Nothing, Ok(Step::Done(Event::SiteUnchanged)))
            }
            Op::Advance(secs) => {
                now += Duration::from_secs(*secs);
                (Outcome::Nothing, Ok(Step::Done(Event::SiteUnchanged)))
            }
        };
        let context = format!("step {n} ({op:?}) of {ops:?}");
        if expected != Outcome::Nothing {
            prop_assert_eq!(outcome(&actual), expected, "{}: {:?}", context, actual);
        }
        if let Ok(Step::Send(request)) = &actual {
            prop_assert!(is_https_to_base_host(request), "{}", context);
            let token = request.headers().get(X_TABLEAU_AUTH);
            match &model.in_flight {
                Some(InFlight::SignOut | InFlight::Switch { .. }) => {
                    let expected = model.active.as_ref().map(|a| a.token.as_str());
                    prop_assert_eq!(token.map(|t| t.to_str().unwrap()), expected, "{}", context);
                }
                Some(InFlight::SignOutToken { token: saved }) => {
                    let sent = token.map(|t| t.to_str().unwrap());
                    prop_assert_eq!(sent, Some(saved.as_str()), "{}", context);
                }
                _ => prop_assert!(token.is_none(), "{}", context),
            }
            last_uri = Some(request.uri().clone());
        }
        prop_assert_eq!(session.is_busy(), model.in_flight.is_some(), "{}", context);
        prop_assert_eq!(
            session.is_signed_in(),
            model.active.is_some(),
            "{}",
            context
        );
        prop_assert_eq!(session.api_version(), model.version, "{}", context);
        prop_assert_eq!(
            session.signed_in().map(|s| s.site_content_url.as_str()),
            model.active.as_ref().map(|a| a.site.as_str()),
            "{}",
            context
        );
        prop_assert_eq!(
            session.signed_in().map(|s| s.api_version),
            model.active.as_ref().map(|a| a.version),
            "{}",
            context
        );
        prop_assert_eq!(
            session.token().map(|t| t.expose_secret()),
            model.active.as_ref().map(|a| a.token.as_str()),
            "{}",
            context
        );
        let poll = session.poll_timeout();
        prop_assert_eq!(poll, model.poll_timeout(), "{}", context);
        prop_assert_eq!(poll.is_some(), session.is_signed_in(), "{}", context);
        if let (Some((deadline, _)), Some(active)) = (poll, &model.active) {
            let floor = active
                .signed_in_at
                .checked_sub(model.config.margin)
                .unwrap_or(active.signed_in_at);
            prop_assert!(deadline >= floor, "{}", context);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The session and a reference model of the documented rules agree after every operation
    /// of a random sequence: results, signed-in-ness, site, token, busy-ness, API version and
    /// the re-sign-in deadline.
    #[test]
    fn session_agrees_with_the_reference_model(
        config in model_config(),
        ops in vec(op(), 1..=30),
    ) {
        check_against_model(config, ops)?;
    }
}

// ----- Regressions for faults these properties found (fixed in the core) ----------------------

#[test]
fn bom_prefixed_json_401001_is_not_reauthenticate() {
    let session = Session::new(config(Format::Json, Some(V3_27)));
    let body =
        "\u{FEFF}{\"error\":{\"summary\":\"Signin Error\",\"detail\":\"d\",\"code\":\"401001\"}}";
    let verdict = session.classify(&response(401, &[], body.as_bytes().to_vec()));
    assert!(
        matches!(verdict, Verdict::Fail(ref e) if e.code() == Some("401001")),
        "{verdict:?}"
    );
}

#[test]
fn bom_prefixed_json_credentials_sign_in() {
    let mut session = Session::new(config(Format::Json, Some(V3_27)));
    let _ = session
        .start(sign_in(Kind::Password, "u", "p", "").into(), at(0))
        .unwrap();
    let body = format!("\u{FEFF}{}", credentials_json(NEW_TOKEN, "Finance"));
    let result = session.handle_response(response(200, &[], body.into_bytes()), at(1));
    assert!(
        matches!(result, Ok(Step::Done(Event::SignedIn(_)))),
        "{result:?}"
    );
}

#[test]
fn poll_timeout_does_not_panic_on_long_limits() {
    for builder in [
        Config::builder(BASE_URL).idle_limit(Duration::MAX),
        Config::builder(BASE_URL).lifetime_limit(Duration::MAX),
    ] {
        let mut session = Session::new(builder.api_version(V3_27).build().unwrap());
        let step = session
            .start(sign_in(Kind::Password, "u", "p", "").into(), at(0))
            .unwrap();
        let _ = finish_with_canned_answers(&mut session, step, "tok");
        let _ = session.poll_timeout();
    }
}

#[test]
fn probe_errors_scrub_the_pending_sign_in_secret() {
    let mut session = Session::new(config(Format::Xml, None));
    let _ = session
        .start(sign_in(Kind::Password, "u", SECRET, "").into(), at(0))
        .unwrap();
    let body = error_xml(
        "500000",
        "Internal error",
        &format!("while handling {SECRET}"),
    );
    let error = session
        .handle_response(response(500, &[], body.into_bytes()), at(1))
        .unwrap_err();
    assert!(!format!("{error} {error:?}").contains(SECRET), "{error}");
}

#[test]
fn an_oversized_sign_out_answer_still_ends_the_session() {
    let mut session = Session::new(config(Format::Xml, Some(V3_27)));
    let step = session
        .start(sign_in(Kind::Password, "u", "p", "").into(), at(0))
        .unwrap();
    let _ = finish_with_canned_answers(&mut session, step, "tok");
    assert!(session.is_signed_in());
    let _ = session.start(Intent::SignOut, at(1)).unwrap();
    let huge = vec![b'x'; Config::DEFAULT_MAX_BODY + 1];
    let result = session.handle_response(response(401, &[], huge), at(2));
    assert!(
        matches!(result, Ok(Step::Done(Event::SignedOut(_)))),
        "{result:?}"
    );
    assert!(!session.is_signed_in());
}

#[test]
fn off_schema_401001_texts_still_yield_the_code() {
    let session = Session::new(config(Format::Xml, Some(V3_27)));
    for body in [
        r#"<tsResponse><error code="401001"><summary>Signin <b>Error</b></summary><detail/></error></tsResponse>"#,
        r#"{"error":{"summary":401,"detail":["x"],"code":"401001"}}"#,
        r#"{"error":{"summary":null,"detail":{"a":1},"code":401001}}"#,
    ] {
        let verdict = session.classify(&response(401, &[], body.as_bytes().to_vec()));
        assert!(
            matches!(verdict, Verdict::Fail(ref e) if e.code() == Some("401001")),
            "{body}: {verdict:?}"
        );
    }
}

#[test]
fn saved_tokens_are_validated_before_sending() {
    let mut session = Session::new(config(Format::Xml, Some(V3_27)));
    for bad in ["", " tok", "tok\u{e9}"] {
        let result = session.start(Intent::SignOutToken(AuthToken::new(bad)), at(0));
        assert!(
            matches!(result, Err(Error::Misuse(_))),
            "{bad:?}: {result:?}"
        );
        assert!(!session.is_busy());
    }
}

// ---------------------------------------------------------------------------------------------
// The session policy under arbitrary answers, interleavings and time (the `drive_policy` fuzz
// target's invariants, checked on stable with random inputs).

#[cfg(feature = "fuzzing")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn the_policy_keeps_its_invariants_under_any_answers(
        data in vec(any::<u8>(), 0..768)
    ) {
        prop_assert!(tableau_auth_proto::fuzzing::run_target("drive_policy", t0(), &data));
    }
}
