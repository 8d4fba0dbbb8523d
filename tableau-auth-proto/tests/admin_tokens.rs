//! `Intent::RevokeServerAdminTokens` (`DELETE auth/serverAdminAccessTokens`, API 3.11+, Tableau
//! Server only): the request, the version gate, the answers, and the policy keeping it alive.

mod support;

use support::*;
use tableau_auth_proto::http::{Response, StatusCode};
use tableau_auth_proto::secret::ExposeSecret;
use tableau_auth_proto::{
    Action, ApiVersion, Call, Config, Credentials, Error, Event, Feature, Format, Inputs, Intent,
    Misuse, Outcome, Policy, Session, Step,
};

fn pat() -> Credentials {
    Credentials::personal_access_token(PAT_NAME, PAT_SECRET)
}

/// Revokes on `s`, answering with `status` and `body`; exactly one request is sent.
fn revoke(s: &mut Session, status: u16, body: impl Into<Vec<u8>>) -> Result<Event, Error> {
    let (sent, r) = drive(
        s,
        Intent::RevokeServerAdminTokens,
        vec![response(status, body)],
    );
    assert_eq!(sent.len(), 1, "one request, never a follow-up");
    r
}

/// A session signed in with a password at `version`, in XML.
fn signed_in_at(version: ApiVersion) -> Session {
    let mut s = Session::new(config(Format::Xml, Some(version)));
    let (_, r) = drive(
        &mut s,
        sign_in(Credentials::password("admin", PASSWORD), "").into(),
        vec![response(200, sign_in_body(Format::Xml))],
    );
    assert!(r.is_ok(), "{r:?}");
    s
}

#[test]
fn revoke_server_admin_tokens_carries_the_sessions_token_and_shows_it_nowhere() {
    // The request's shape, in both formats: tests/requests.rs (snapshots).
    for format in [Format::Xml, Format::Json] {
        let mut s = signed_in(format);
        let (sent, r) = drive(
            &mut s,
            Intent::RevokeServerAdminTokens,
            vec![response(204, "")],
        );
        assert!(r.is_ok(), "{r:?}");
        let [request] = sent.as_slice() else {
            panic!("{sent:?}")
        };
        assert_eq!(request.headers()["x-tableau-auth"], TOKEN);
        // Debug shows the method, the URL and the size, never the token.
        let shown = format!("{:?}", Step::Send(request.clone()));
        assert!(!shown.contains(SENTINEL), "{shown}");
        assert!(shown.contains("DELETE"), "{shown}");
    }
}

#[test]
fn revoke_server_admin_tokens_204_is_the_event_and_keeps_the_session() {
    for (status, body) in [(204, ""), (200, ""), (200, "<tsResponse/>")] {
        let mut s = signed_in(Format::Xml);
        let before = s.signed_in().cloned();
        let r = revoke(&mut s, status, body);
        assert!(
            matches!(r, Ok(Event::ServerAdminTokensRevoked)),
            "{status}: {r:?}"
        );
        assert!(s.is_signed_in() && !s.is_busy());
        assert_eq!(s.token().unwrap().expose_secret(), TOKEN);
        assert_eq!(s.signed_in().cloned(), before);
    }
}

#[test]
fn revoke_server_admin_tokens_403004_is_a_typed_error_and_keeps_the_session() {
    for ext in ["xml", "json"] {
        for format in [Format::Xml, Format::Json] {
            let mut s = signed_in(format);
            let e = revoke(&mut s, 403, fixture(&format!("error_403004.{ext}"))).unwrap_err();
            assert_eq!(e.code(), Some("403004"), "{ext}/{format:?}: {e:?}");
            assert_eq!(e.status(), Some(StatusCode::FORBIDDEN));
            assert!(matches!(e, Error::Api(_)), "{e:?}");
            assert!(!e.is_reauth_needed() && !e.is_retryable());
            assert!(s.is_signed_in() && !s.is_busy(), "SignedIn unchanged");
            assert_eq!(s.token().unwrap().expose_secret(), TOKEN);
        }
    }
    // The other documented answers: typed with their codes, the session untouched.
    for (status, file, code) in [
        (404, "error_404003.xml", "404003"),
        (405, "error_405000.json", "405000"),
    ] {
        let mut s = signed_in(Format::Xml);
        let e = revoke(&mut s, status, fixture(file)).unwrap_err();
        assert_eq!(e.code(), Some(code), "{e:?}");
        assert!(s.is_signed_in() && !s.is_busy());
    }
    let mut s = signed_in(Format::Json);
    let not_found =
        r#"{"error":{"summary":"Resource Not Found","detail":"no such thing","code":"404000"}}"#;
    let e = revoke(&mut s, 404, not_found).unwrap_err();
    assert_eq!(e.code(), Some("404000"));
}

#[test]
fn revoke_server_admin_tokens_scrubs_a_token_echoed_in_a_refusal() {
    // The 401 and redirect answers, as for sessions/current: responses.rs, `a_token_request*`.
    let mut s = signed_in(Format::Json);
    let echo = format!(
        r#"{{"error":{{"summary":"Forbidden","detail":"token {TOKEN} is no admin's","code":"403004"}}}}"#
    );
    let e = revoke(&mut s, 403, echo).unwrap_err();
    assert_eq!(e.code(), Some("403004"));
    assert!(!format!("{e} {e:?}").contains(SENTINEL), "{e:?}");
}

#[test]
fn revoke_server_admin_tokens_needs_a_session_and_is_gated_at_3_11() {
    let mut s = Session::new(config(Format::Xml, Some(ApiVersion::new(3, 25))));
    let (sent, r) = drive(&mut s, Intent::RevokeServerAdminTokens, vec![]);
    assert!(sent.is_empty());
    assert!(
        matches!(r, Err(Error::Misuse(Misuse::NotSignedIn))),
        "{r:?}"
    );

    assert_eq!(
        Feature::RevokeServerAdminTokens.min_version(),
        ApiVersion::new(3, 11)
    );
    // 3.10 is where TSC gates its own (undocumented) POST: we follow the documented 3.11.
    let mut s = signed_in_at(ApiVersion::new(3, 10));
    let (sent, r) = drive(&mut s, Intent::RevokeServerAdminTokens, vec![]);
    assert!(sent.is_empty(), "nothing sent below 3.11");
    let e = r.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unsupported {
                feature: Feature::RevokeServerAdminTokens,
                required,
                actual,
            } if required == ApiVersion::new(3, 11) && actual == ApiVersion::new(3, 10)
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("3.11"), "{e}");
    assert!(s.is_signed_in() && !s.is_busy());

    let mut s = signed_in_at(ApiVersion::new(3, 11));
    let (sent, r) = drive(
        &mut s,
        Intent::RevokeServerAdminTokens,
        vec![response(204, "")],
    );
    assert_eq!(
        sent[0].uri(),
        "https://tableau.example.com/api/3.11/auth/serverAdminAccessTokens"
    );
    assert!(matches!(r, Ok(Event::ServerAdminTokensRevoked)), "{r:?}");
}

#[test]
fn revoke_server_admin_tokens_is_refused_on_tableau_cloud_before_sending() {
    let cfg = Config::builder("https://10ax.online.tableau.com")
        .api_version(ApiVersion::new(3, 25))
        .build()
        .unwrap();
    let mut s = Session::new(cfg);
    let (_, r) = drive(
        &mut s,
        sign_in(pat(), "acme").into(),
        vec![response(200, sign_in_body(Format::Xml))],
    );
    assert!(r.is_ok(), "{r:?}");
    let (sent, r) = drive(&mut s, Intent::RevokeServerAdminTokens, vec![]);
    assert!(sent.is_empty());
    assert!(
        matches!(
            r,
            Err(Error::NotOnTableauCloud {
                feature: Feature::RevokeServerAdminTokens
            })
        ),
        "{r:?}"
    );
    assert!(s.is_signed_in() && !s.is_busy());
}

#[test]
fn revoke_server_admin_tokens_never_panics_on_garbage() {
    // A small deterministic generator: statuses, header values and bodies of every kind.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let statuses = [
        100, 200, 201, 204, 206, 299, 301, 302, 307, 400, 401, 403, 404, 405, 429, 500, 503, 599,
    ];
    let bodies: [&[u8]; 8] = [
        b"",
        b"<tsResponse><error code=\"403004\"><summary/></error>",
        b"{\"error\":{\"code\":4030",
        b"\xff\xfe\x00<\x00t",
        b"<html>nope</html>",
        b"{\"error\":{\"code\":403004,\"summary\":[],\"detail\":{}}}",
        b"<tsResponse><error code=\"\"/></tsResponse>",
        b"-1",
    ];
    for round in 0..2_000 {
        let format = if round % 2 == 0 {
            Format::Xml
        } else {
            Format::Json
        };
        let mut s = signed_in(format);
        let Ok(Step::Send(_)) = s.start(Intent::RevokeServerAdminTokens, t0()) else {
            panic!("the DELETE is sent")
        };
        let status = statuses[(next() % statuses.len() as u64) as usize];
        let mut body = bodies[(next() % bodies.len() as u64) as usize].to_vec();
        let cut = (next() % (body.len() as u64 + 1)) as usize;
        body.truncate(cut);
        for _ in 0..(next() % 4) {
            body.push((next() & 0xff) as u8);
        }
        let mut answer = Response::new(body);
        *answer.status_mut() = StatusCode::from_u16(status).unwrap();
        if next() % 3 == 0 {
            answer
                .headers_mut()
                .insert("location", "https://elsewhere.example/x".parse().unwrap());
        }
        if next() % 3 == 0 {
            answer
                .headers_mut()
                .insert("retry-after", "soon".parse().unwrap());
        }
        let r = s.handle_response(answer, t0());
        // Whatever came back, the exchange is over and the session as it was.
        assert!(!s.is_busy());
        assert!(s.is_signed_in());
        assert_eq!(s.token().unwrap().expose_secret(), TOKEN);
        match r {
            Ok(Step::Done(Event::ServerAdminTokensRevoked)) => {
                assert!((200..300).contains(&status), "{status}")
            }
            Ok(other) => panic!("{status}: {other:?}"),
            Err(e) => {
                assert!(!(200..300).contains(&status), "{status}: {e:?}");
                assert!(!format!("{e} {e:?}").contains(SENTINEL));
            }
        }
    }
}

// ----- the policy: kept alive like sessions/current -----------------------------------------

/// Runs one call of `policy` to its end, answering each request it sends with the next of
/// `answers`; returns the requests (method and path) and the outcome.
fn run(policy: &mut Policy, call: Call, answers: Vec<Response<Vec<u8>>>) -> (Vec<String>, Outcome) {
    let inputs = Inputs::new(t0(), wall_clock(), [7; 16]);
    let id = policy.begin(call);
    let mut answers = answers.into_iter();
    let mut sent = Vec::new();
    for _ in 0..32 {
        match policy.poll(id, inputs) {
            Action::Send(request) => {
                sent.push(format!("{} {}", request.method(), request.uri().path()));
                let Some(answer) = answers.next() else {
                    panic!("more requests than answers: {sent:?}")
                };
                policy.handle_response(id, answer, inputs);
            }
            Action::Done(outcome) => return (sent, outcome),
            other => panic!("unexpected {other:?} after {sent:?}"),
        }
    }
    panic!("the call never ended: {sent:?}")
}

fn policy() -> Policy {
    let cfg = Config::builder(BASE)
        .api_version(ApiVersion::new(3, 25))
        .user_agent(USER_AGENT)
        .build()
        .unwrap();
    let mut policy = Policy::new(cfg, t0());
    policy.set_credentials(Some(sign_in(pat(), "Finance")));
    policy
}

const DELETE: &str = "DELETE /api/3.25/auth/serverAdminAccessTokens";
const SIGNIN: &str = "POST /api/3.25/auth/signin";

#[test]
fn the_policy_signs_in_first_then_revokes() {
    let mut policy = policy();
    let (sent, outcome) = run(
        &mut policy,
        Call::Intent(Intent::RevokeServerAdminTokens),
        vec![response(200, sign_in_body(Format::Xml)), response(204, "")],
    );
    assert_eq!(sent, [SIGNIN, DELETE]);
    assert!(
        matches!(outcome, Outcome::Event(Event::ServerAdminTokensRevoked)),
        "{outcome:?}"
    );
    assert_eq!(policy.generation(), 1);
}

#[test]
fn the_policy_signs_in_again_once_on_401002_and_retries_once() {
    let mut policy = policy();
    let gone = || response(401, fixture("error_401002.xml"));
    let (sent, outcome) = run(
        &mut policy,
        Call::Intent(Intent::RevokeServerAdminTokens),
        vec![
            response(200, sign_in_body(Format::Xml)),
            gone(),
            response(200, sign_in_body(Format::Xml)),
            response(204, ""),
        ],
    );
    assert_eq!(sent, [SIGNIN, DELETE, SIGNIN, DELETE]);
    assert!(
        matches!(outcome, Outcome::Event(Event::ServerAdminTokensRevoked)),
        "{outcome:?}"
    );
    assert_eq!(policy.generation(), 2);

    // Rejected again after the one re-sign-in: SessionEnded with Tableau's 401002, no loop.
    let (sent, outcome) = run(
        &mut policy,
        Call::Intent(Intent::RevokeServerAdminTokens),
        vec![gone(), response(200, sign_in_body(Format::Xml)), gone()],
    );
    assert_eq!(sent, [DELETE, SIGNIN, DELETE]);
    let Outcome::Failed(e) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(matches!(e, Error::SessionEnded { .. }), "{e:?}");
    assert_eq!(e.code(), Some("401002"));
}

#[test]
fn the_policy_does_not_retry_a_403004() {
    let mut policy = policy();
    let (sent, outcome) = run(
        &mut policy,
        Call::Intent(Intent::RevokeServerAdminTokens),
        vec![
            response(200, sign_in_body(Format::Xml)),
            response(403, fixture("error_403004.xml")),
        ],
    );
    assert_eq!(sent, [SIGNIN, DELETE]);
    let Outcome::Failed(e) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(e.code(), Some("403004"), "{e:?}");
    assert!(policy.session().is_signed_in(), "the session stays");
    assert_eq!(policy.generation(), 1);
}
