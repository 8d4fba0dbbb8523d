//! Entry points for fuzzers and corpus replay (feature `fuzzing`). Each is a thin call into the
//! real code paths; none may panic on any input. Inputs are read through a small vocabulary
//! (real statuses, headers, Tableau documents) so a fuzzer reaches deep states quickly.
//!
//! Unlike the rest of the core, these functions assert invariants: a panic here is a finding.
#![allow(clippy::panic, clippy::indexing_slicing)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderValue, Response, StatusCode};

use crate::secret::AuthToken;

use crate::{
    ApiVersion, Config, ConnectedApp, Credentials, Format, Intent, MintInputs, Session, SignIn,
    SiteContentUrl, Step, TicketRequest, UserId,
};

/// The fuzz targets by name (the files in `fuzz/fuzz_targets/`), so that the fuzzer and the
/// corpus replay on stable call exactly the same code.
pub const TARGETS: [&str; 5] = [
    "parse_response",
    "sign_in_response",
    "drive_session",
    "mint_jwt",
    "drive_policy",
];

/// Runs the fuzz target `name` on `data`; `false` if there is no such target.
pub fn run_target(name: &str, now: Instant, data: &[u8]) -> bool {
    match name {
        "parse_response" => {
            let (status, body) = match data.split_first() {
                Some((s, rest)) => (200 + u16::from(*s) * 2, rest),
                None => (200, data),
            };
            parse_response(status, body);
        }
        "sign_in_response" => {
            if let Some((&first, rest)) = data.split_first() {
                let status = 100 + u16::from(first) * 2;
                let _ = sign_in_then_out(now, first & 1 == 1, status, &[], rest);
            }
        }
        "drive_session" => drive_session(now, data),
        "mint_jwt" => mint_jwt(data),
        "drive_policy" => drive_policy(now, data),
        _ => return false,
    }
    true
}

/// Parses `body` as every response the core reads (both formats, errors included).
pub fn parse_response(status: u16, body: &[u8]) {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let _ = crate::wire::parse(body);
    let _ = crate::wire::parse_credentials(body);
    let _ = crate::wire::parse_session(body);
    let _ = crate::response::error_from_response(
        status,
        &http::HeaderMap::new(),
        body,
        &crate::secret::Redactor::default(),
    );
}

/// Runs a sign-in against one canned response and, if that signed in, a sign-out against a
/// second one. Returns whether the session ended signed in.
pub fn sign_in_then_out(
    now: Instant,
    format_json: bool,
    status: u16,
    headers: &[(String, Vec<u8>)],
    body: &[u8],
) -> bool {
    let format = if format_json {
        Format::Json
    } else {
        Format::Xml
    };
    let Ok(config) = Config::builder("https://tableau.example.com")
        .api_version(ApiVersion::new(3, 25))
        .format(format)
        .build()
    else {
        return false;
    };
    let mut session = Session::new(config);
    let intent = Intent::SignIn(SignIn::new(Credentials::password("u", "p"), "s"));
    let Ok(Step::Send(_)) = session.start(intent, now) else {
        return false;
    };
    let mut response = Response::new(body.to_vec());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    let _ = session.handle_response(response, now + Duration::from_millis(1));
    let _ = session.poll_timeout();
    session.is_signed_in()
}

/// Statuses a Tableau server, a proxy or a redirect may answer with.
const STATUSES: [u16; 16] = [
    200, 204, 301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 429, 500, 502, 503,
];

/// Bodies of every shape the core reads; the fuzzer's own bytes are used as well.
const BODIES: [&str; 14] = [
    r#"<tsResponse xmlns="http://tableau.com/api"><credentials token="t0k3n" estimatedTimeToExpiration="1:02:03"><site id="6b7179ba-b82b-4f0f-91ed-812074ac5da6" contentUrl="Finance"/><user id="1a96d216-e9b8-497b-a82a-0b899a965e01"/></credentials></tsResponse>"#,
    r#"{"credentials":{"site":{"id":"s","contentUrl":""},"user":{"id":"u"},"token":"t0k3n"}}"#,
    r#"<tsResponse><error code="401002"><summary>Unauthorized Access</summary><detail>d</detail></error></tsResponse>"#,
    r#"{"error":{"summary":"Signin Error","detail":"Error signing in to Tableau Server (16)","code":"401001"}}"#,
    r#"<tsResponse><error code="403070"><summary>s</summary><detail>d</detail></error></tsResponse>"#,
    r#"<tsResponse><error code="404003"><summary>s</summary><detail>d</detail></error></tsResponse>"#,
    r#"<tsResponse><serverInfo><productVersion build="b">2025.1.3</productVersion><restApiVersion>3.25</restApiVersion></serverInfo></tsResponse>"#,
    r#"{"serverInfo":{"productVersion":{"value":"2025.1.3","build":"b"},"restApiVersion":"3.25"}}"#,
    r#"<authinfo><version version="0.31"><product_version>9.3</product_version></version></authinfo>"#,
    r#"<tsResponse xmlns="http://tableau.com/api"><session><site id="6b7179ba-b82b-4f0f-91ed-812074ac5da6" name="Finance Team" contentUrl="Finance"/><user id="1a96d216-e9b8-497b-a82a-0b899a965e01" name="jsmith@example.com" siteRole="Creator"/></session></tsResponse>"#,
    r#"{"session":{"site":{"id":"s","name":"Default","contentUrl":""},"user":{"id":"u","name":"admin","siteRole":"ServerAdministrator"}}}"#,
    "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
    "Zk3vQ9aLTyW1sBc8R2dXhA==:pL7tN2wQ9eR4yU6iO8aS1dF3",
    "-1",
];

const LOCATIONS: [&str; 6] = [
    "https://tableau.example.com/api/3.25/auth/signin",
    "https://tableau.example.com/api/2.4/serverinfo",
    "http://tableau.example.com/api/3.25/auth/signin",
    "https://evil.example/api/3.25/auth/signin",
    "/api/3.25/auth/signin",
    "//evil.example/x",
];

/// Reads the fuzzer's bytes one decision at a time; runs out gracefully.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(first)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        let i = usize::from(self.byte()?);
        items.get(i % items.len().max(1)).copied()
    }

    fn bytes(&mut self) -> &[u8] {
        let n = usize::from(self.byte().unwrap_or(0)).min(self.data.len());
        let (taken, rest) = self.data.split_at(n);
        self.data = rest;
        taken
    }
}

/// Drives a whole session with arbitrary sequences of intents, responses (statuses, headers,
/// redirects, bodies from the vocabulary or raw), aborts, activity and time. Checks the
/// invariants a caller relies on after every step; panics (a finding) if one breaks.
pub fn drive_session(t0: Instant, data: &[u8]) {
    let mut input = Input { data };
    let format = if input.byte().unwrap_or(0) & 1 == 1 {
        Format::Json
    } else {
        Format::Xml
    };
    let mut builder = Config::builder(match input.byte().unwrap_or(0) % 3 {
        0 => "https://tableau.example.com",
        1 => "http://tableau.example.com",
        _ => "https://online.tableau.com",
    })
    .format(format)
    .max_body(4096);
    if input.byte().unwrap_or(0) & 1 == 1 {
        builder = builder.api_version(ApiVersion::new(
            3,
            u16::from(input.byte().unwrap_or(25) % 30),
        ));
    }
    let Ok(config) = builder.build() else { return };
    let mut session = Session::new(config);
    let mut elapsed = Duration::ZERO;
    while let Some(op) = input.byte() {
        let now = t0 + elapsed;
        match op % 8 {
            0 => {
                let credentials = match input.byte().unwrap_or(0) % 5 {
                    0 => Credentials::password("u", "pw-secret"),
                    1 => Credentials::personal_access_token("n", "pat-secret"),
                    2 => Credentials::jwt("a.b.c"),
                    3 => Credentials::unified_access_token("a.b.c"),
                    _ => Credentials::ConnectedApp(
                        ConnectedApp::new("cid", "sid", "app-secret", "u")
                            .scope("tableau:content:read"),
                    ),
                };
                let mut sign_in = SignIn::new(credentials, "Finance")
                    .mint_inputs(UNIX_EPOCH + Duration::from_secs(1_767_225_600), [7; 16]);
                if input.byte().unwrap_or(0) & 1 == 1
                    && let Ok(user) = UserId::parse("dd2239f6-ddf1-4107-981a-4cf94e415794")
                {
                    sign_in = sign_in.impersonate(user);
                }
                let _ = session.start(sign_in.into(), now);
            }
            1 => {
                let _ = session.start(Intent::SignOut, now);
            }
            2 => {
                let _ = session.start(Intent::SwitchSite(SiteContentUrl::new("Marketing")), now);
            }
            3 => {
                let intent = match input.byte().unwrap_or(0) % 5 {
                    0 => Intent::ServerInfo,
                    1 => Intent::CurrentSession,
                    2 => Intent::RevokeServerAdminTokens,
                    3 => Intent::Resume(AuthToken::new("saved-session-token")),
                    _ => Intent::TrustedTicket(TicketRequest::new("jsmith").target_site("Sales")),
                };
                let _ = session.start(intent, now);
            }
            4 | 5 => {
                let status = input.pick(&STATUSES).unwrap_or(200);
                let body = match input.byte().unwrap_or(0) % 3 {
                    0 => input.bytes().to_vec(),
                    _ => input.pick(&BODIES).unwrap_or("").as_bytes().to_vec(),
                };
                let mut response = Response::new(body);
                *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                if let Some(location) = input.pick(&LOCATIONS) {
                    response
                        .headers_mut()
                        .insert(http::header::LOCATION, HeaderValue::from_static(location));
                }
                if input.byte().unwrap_or(0) & 1 == 1 {
                    response
                        .headers_mut()
                        .insert(http::header::RETRY_AFTER, HeaderValue::from_static("30"));
                }
                let verdict = session.classify(&response);
                let _ = verdict;
                let was_signed_in = session.is_signed_in();
                let result = session.handle_response(response, now);
                // Invariants: an exchange that errs is over, and an error never signs anyone in.
                if result.is_err() {
                    assert!(!session.is_busy(), "busy after an error");
                    assert!(
                        session.is_signed_in() == was_signed_in,
                        "state changed on an error"
                    );
                }
            }
            6 => {
                session.abort();
                assert!(!session.is_busy());
            }
            _ => {
                elapsed += Duration::from_secs(u64::from(input.byte().unwrap_or(0)) * 60);
                session.touch(t0 + elapsed);
            }
        }
        assert_eq!(session.poll_timeout().is_some(), session.is_signed_in());
        if let Some(token) = session.token() {
            let mut headers = http::HeaderMap::new();
            assert!(session.authorize(&mut headers).is_ok());
            let _ = token;
        }
    }
}

/// Drives the session [`crate::Policy`] with up to four concurrent calls of every kind,
/// answering each request with arbitrary statuses, `Retry-After` values and bodies, failing
/// transports, cancellations and passing time. Checks after every step: calls end (each poll
/// either acts or parks, and parked calls are woken by others' progress), the generation only
/// grows and only with a successful sign-in, and no more than one exchange runs at a time.
pub fn drive_policy(t0: Instant, data: &[u8]) {
    use crate::{
        Action, Call, FleetConfig, Inputs, Policy, Record, SharedSession, StoreOp, StoreReply,
        Version, WhenStoreDown,
    };
    /// A record's session as a store would hand it back.
    const SHARED: &[u8] = br#"{"v":1,"token":"SharedTokenSharedToken","site":"6b7179ba-b82b-4f0f-91ed-812074ac5da6","content_url":"","user":"1a96d216-e9b8-497b-a82a-0b899a965e01","api":"3.25","signed_in":0}"#;
    let mut input = Input { data };
    let mut config = Config::builder("https://tableau.example.com")
        .api_version(ApiVersion::new(3, 25))
        .retries(
            u32::from(input.byte().unwrap_or(3) % 4),
            Duration::from_secs(30),
        )
        .idle_limit(Duration::from_secs(600))
        .expiry_margin(Duration::from_secs(60));
    let flags = input.byte().unwrap_or(0);
    if flags & 1 == 1 {
        config = config.reauthenticate(false);
    }
    let Ok(config) = config.build() else {
        return;
    };
    let mut policy = Policy::new(config, t0);
    // Shared by a fleet: the store's answers come from the input too.
    let shared = flags & 2 == 2;
    if shared {
        let when = if flags & 4 == 4 {
            WhenStoreDown::FailClosed
        } else {
            WhenStoreDown::SignInLocally { max_sign_ins: 2 }
        };
        policy.set_fleet(Some(FleetConfig::new().when_store_down(when)));
    }
    policy.set_credentials(Some(SignIn::new(
        Credentials::personal_access_token("n", "pat-secret"),
        "",
    )));
    let mut elapsed = Duration::ZERO;
    let mut calls = Vec::new();
    for _ in 0..=(input.byte().unwrap_or(0) % 4) {
        let call = match input.byte().unwrap_or(0) % 8 {
            0 => Call::Request,
            1 => Call::Forward,
            2 => Call::Ready,
            3 => Call::Renew,
            4 if flags & 16 == 16 => {
                Call::Intent(Intent::Resume(AuthToken::new("saved-session-token")))
            }
            4 => Call::Maintain,
            5 if input.byte().unwrap_or(0) & 1 == 1 => {
                Call::Intent(Intent::RevokeServerAdminTokens)
            }
            5 => Call::Intent(Intent::CurrentSession),
            6 if shared => Call::Retire,
            6 => Call::Intent(Intent::SignOut),
            // A scope: an explicit sign-in, and its end racing it and the other calls.
            _ if flags & 8 == 8 => {
                let scope = policy.begin(Call::Intent(Intent::SignIn(SignIn::new(
                    Credentials::personal_access_token("n", "pat-secret"),
                    "",
                ))));
                calls.push(scope);
                Call::EndScope(scope)
            }
            _ => Call::Intent(Intent::SwitchSite(SiteContentUrl::new("Sales"))),
        };
        calls.push(policy.begin(call));
    }
    let mut generation = 0;
    let mut steps = 0;
    while !calls.is_empty() && steps < 256 {
        steps += 1;
        let index = usize::from(input.byte().unwrap_or(0)) % calls.len();
        let id = calls[index];
        let inputs = Inputs::new(
            t0 + elapsed,
            SystemTime::UNIX_EPOCH,
            [input.byte().unwrap_or(0); 16],
        );
        let answer = |input: &mut Input<'_>| {
            let status = input.pick(&STATUSES).unwrap_or(200);
            let body = match input.byte().unwrap_or(0) % 3 {
                0 => input.bytes().to_vec(),
                _ => input.pick(&BODIES).unwrap_or("").as_bytes().to_vec(),
            };
            let mut response = Response::new(body);
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if input.byte().unwrap_or(0) % 2 == 1 {
                let after = input.pick(&["0", "1", "120", "Sun, 06 Nov 1994 08:49:37 GMT", "soon"]);
                if let Some(v) = after.and_then(|a| HeaderValue::from_str(a).ok()) {
                    response.headers_mut().insert(http::header::RETRY_AFTER, v);
                }
            }
            response
        };
        match policy.poll(id, inputs) {
            Action::Send(_) => match input.byte().unwrap_or(0) % 8 {
                0 => policy.transport_failed(id, "reset"),
                1 => {
                    // Cancelled with its exchange out: a lock it may hold comes back to release.
                    if let Some(release) = policy.cancel(id) {
                        assert!(matches!(release.op, StoreOp::Release { .. }), "{release:?}");
                    }
                    calls.remove(index);
                }
                _ => {
                    let response = answer(&mut input);
                    policy.handle_response(id, response, inputs);
                }
            },
            Action::Authorize(grant) => {
                let response = answer(&mut input);
                if grant.completes(response.status()) {
                    // Done on the fast path: it never asked for the lock.
                    assert!(policy.cancel(id).is_none());
                    calls.remove(index);
                } else {
                    let (status, headers) = (response.status(), response.headers());
                    policy.handle_reply(id, &grant, status, headers, Some(response.body()), inputs);
                }
            }
            Action::Store(request) => {
                let session = || {
                    policy
                        .session()
                        .is_signed_in()
                        .then(|| SharedSession::decode(SHARED))
                        .flatten()
                };
                let version = Version {
                    epoch: u128::from(input.byte().unwrap_or(0)),
                    generation: u64::from(input.byte().unwrap_or(0)),
                };
                let reply = match input.byte().unwrap_or(0) % 8 {
                    0 => None,
                    1 => Some(StoreReply::Moved(None)),
                    2 => Some(StoreReply::Moved(Some(Record {
                        version,
                        session: SharedSession::decode(input.bytes()).or_else(session),
                    }))),
                    3 => Some(StoreReply::Busy),
                    4 => Some(StoreReply::Published(version)),
                    5 => Some(StoreReply::Released),
                    _ => Some(match request.op {
                        StoreOp::Acquire { .. } => StoreReply::Acquired,
                        StoreOp::Publish { .. } => StoreReply::Published(version),
                        _ => StoreReply::Released,
                    }),
                };
                match reply {
                    Some(reply) => policy.handle_store(id, reply, inputs),
                    None => policy.store_failed(id, "connection refused", inputs),
                }
            }
            Action::WaitUntil(at) => {
                assert!(at > t0 + elapsed, "a wait that is already over");
                elapsed = at.saturating_duration_since(t0);
            }
            Action::Wait => {
                // Another call holds the exchange: step one of the others.
                assert!(calls.len() > 1, "a lone call parked: nobody will wake it");
            }
            Action::Done(_) => {
                calls.remove(index);
            }
        }
        while policy.poll_event().is_some() {}
        assert!(
            policy.generation() >= generation,
            "the generation went back"
        );
        generation = policy.generation();
        assert_eq!(
            policy.snapshot().map(|s| s.generation()),
            policy.session().is_signed_in().then_some(generation),
            "the published session is the session's"
        );
        elapsed += Duration::from_secs(u64::from(input.byte().unwrap_or(0) % 4));
    }
}

/// Mints a connected-app JWT from arbitrary settings and checks what it emits: three base64url
/// parts whose claims carry `aud: "tableau"`, an `exp` at most 10 minutes after issue, and the
/// scopes asked for.
pub fn mint_jwt(data: &[u8]) {
    let mut input = Input { data };
    let text = |input: &mut Input<'_>| String::from_utf8_lossy(input.bytes()).into_owned();
    let (client, secret_id, secret, user) = (
        text(&mut input),
        text(&mut input),
        text(&mut input),
        text(&mut input),
    );
    let scopes: Vec<String> = (0..input.byte().unwrap_or(1) % 4)
        .map(|_| text(&mut input))
        .collect();
    let lifetime = Duration::from_secs(u64::from(input.byte().unwrap_or(0)) * 4);
    let skew = Duration::from_secs(u64::from(input.byte().unwrap_or(0) % 16));
    let mut random = [0u8; 16];
    for slot in &mut random {
        *slot = input.byte().unwrap_or(0);
    }
    let issued = u64::from(input.byte().unwrap_or(0)) << 24;
    let app = ConnectedApp::new(client, secret_id, secret, user)
        .scopes(scopes.clone())
        .lifetime(lifetime)
        .clock_skew(skew);
    let inputs = MintInputs {
        issued_at: SystemTime::UNIX_EPOCH + Duration::from_secs(issued),
        random,
    };
    if let Ok(jwt) = app.mint(inputs) {
        use base64::Engine;
        use secrecy::ExposeSecret;
        let parts: Vec<&str> = jwt.expose_secret().split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims = parts
            .get(1)
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .ok()
            })
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
        let Some(claims) = claims else {
            panic!("the claims part is not base64url JSON")
        };
        assert_eq!(claims["aud"], "tableau");
        let exp = claims["exp"].as_u64().unwrap_or(u64::MAX);
        assert!(
            exp >= issued && exp - issued <= 600,
            "exp {exp} issued {issued}"
        );
        assert_eq!(claims["scp"], serde_json::json!(scopes));
    }
}
