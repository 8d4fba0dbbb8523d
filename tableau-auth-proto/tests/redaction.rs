//! Sentinel secrets in every credential kind, the token and a ticket: no `Debug` or `Display`
//! of any public type, event or error contains them, even when a hostile server echoes them.

mod support;

use support::*;
use tableau_auth_proto::http;
use tableau_auth_proto::secret::{AuthToken, TicketValue};
use tableau_auth_proto::{
    ApiVersion, Config, ConfigError, Credentials, Error, Event, Format, Intent, Session, SignIn,
    Step, TicketRequest, UserId,
};

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(SENTINEL), "{what} leaks a secret: {text}");
}

fn assert_debug_clean<T: std::fmt::Debug>(what: &str, value: &T) {
    assert_clean(what, &format!("{value:?}"));
    assert_clean(what, &format!("{value:#?}"));
}

fn assert_error_clean(what: &str, e: &Error) {
    assert_debug_clean(what, e);
    assert_clean(what, &e.to_string());
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        assert_clean(what, &s.to_string());
        source = s.source();
    }
}

/// Bodies in which a hostile or broken server echoes a secret it was sent. (The core can only
/// scrub secrets it knows: those of the exchange and the current token.)
fn echoing_bodies(secret: &str) -> Vec<(u16, Vec<u8>)> {
    let all = format!("before {secret} after");
    let xml_escaped = all
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;");
    let json_escaped = serde_json_escape(&all);
    vec![
        (401, format!(r#"<tsResponse><error code="401001"><summary>{xml_escaped}</summary><detail>{xml_escaped}</detail></error></tsResponse>"#).into_bytes()),
        (401, format!(r#"{{"error":{{"summary":"{json_escaped}","detail":"{json_escaped}","code":"401001"}}}}"#).into_bytes()),
        (502, format!("<html><body>{all}</body></html>").into_bytes()),
        (200, format!("<html>{}{all}</html>", "x".repeat(500)).into_bytes()),
        (200, format!(r#"{{"credentials":{{"token":"{json_escaped}","site":"{json_escaped}"}}}}"#).into_bytes()),
        (200, format!(r#"<tsResponse><credentials token="{xml_escaped}"><site/></credentials></tsResponse>"#).into_bytes()),
    ]
}

/// The secret each credential kind sends.
fn secret_of(kind: &str) -> String {
    use tableau_auth_proto::secret::ExposeSecret;
    match kind {
        "password" => PASSWORD.to_owned(),
        "pat" => PAT_SECRET.to_owned(),
        "jwt" | "uat" => JWT.to_owned(),
        _ => connected_app()
            .mint(tableau_auth_proto::MintInputs {
                issued_at: wall_clock(),
                random: [0x5a; 16],
            })
            .unwrap()
            .expose_secret()
            .to_owned(),
    }
}

fn serde_json_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[test]
fn credentials_intents_and_requests_never_show_secrets() {
    for (kind, credentials) in all_credentials() {
        assert_debug_clean(kind, &credentials);
        let intent =
            sign_in(credentials, "Finance").impersonate(UserId::parse(IMPERSONATED).unwrap());
        assert_debug_clean(kind, &intent);
        let intent: Intent = intent.into();
        assert_debug_clean(kind, &intent);
        for format in [Format::Xml, Format::Json] {
            let mut s = Session::new(config(format, Some(ApiVersion::new(3, 27))));
            let step = s
                .start(
                    sign_in(
                        all_credentials()
                            .into_iter()
                            .find(|c| c.0 == kind)
                            .unwrap()
                            .1,
                        "F",
                    )
                    .into(),
                    t0(),
                )
                .unwrap();
            assert_debug_clean(kind, &step);
            if let Step::Send(request) = &step {
                // The request itself must carry the secret (it is what signs in)...
                assert!(
                    String::from_utf8_lossy(request.body()).contains(SENTINEL)
                        || kind == "connected_app"
                        || kind == "uat_minted"
                );
            }
            assert_debug_clean(kind, &s);
        }
    }
    assert_debug_clean("connected app", &connected_app());
    assert_debug_clean("unified access", &unified_access());
}

#[test]
fn sessions_tokens_tickets_and_events_never_show_secrets() {
    let mut s = signed_in(Format::Xml);
    assert_debug_clean("session", &s);
    assert_debug_clean("token", s.token().unwrap());
    assert_debug_clean("signed in", s.signed_in().unwrap());
    assert_debug_clean("config", s.config());
    let mut call = http::Request::get(s.site_url("workbooks").unwrap())
        .body(())
        .unwrap();
    s.authorize_request(&mut call).unwrap();
    assert_debug_clean("authorized headers", call.headers());
    assert_debug_clean("authorized request", &call);
    let (_, r) = drive(&mut s, Intent::SignOut, vec![response(204, "")]);
    assert_debug_clean("sign-out", &r.unwrap());

    assert_debug_clean("token", &AuthToken::new(TOKEN));
    assert_debug_clean("ticket value", &TicketValue::new(TICKET));
    let mut s = Session::new(config(Format::Xml, Some(ApiVersion::new(3, 25))));
    let (sent, r) = drive(
        &mut s,
        TicketRequest::new("jsmith").target_site("Sales").into(),
        vec![response(200, TICKET)],
    );
    assert_debug_clean("ticket request", &sent[0].headers());
    let event = r.unwrap();
    assert_debug_clean("ticket event", &event);
    let Event::TicketIssued(ticket) = event else {
        panic!()
    };
    assert_debug_clean("ticket", &ticket);
    assert_debug_clean("redemption url", &ticket.redemption_url("W", "V"));
}

#[test]
fn errors_never_show_secrets_even_when_the_server_echoes_them() {
    for (kind, _) in all_credentials() {
        for (status, body) in echoing_bodies(&secret_of(kind)) {
            for format in [Format::Xml, Format::Json] {
                let mut s = Session::new(config(format, Some(ApiVersion::new(3, 27))));
                let creds = all_credentials()
                    .into_iter()
                    .find(|c| c.0 == kind)
                    .unwrap()
                    .1;
                let (_, r) = drive(
                    &mut s,
                    sign_in(creds, "F").into(),
                    vec![response(status, body.clone())],
                );
                match r {
                    Err(e) => assert_error_clean(kind, &e),
                    Ok(event) => assert_debug_clean(kind, &event),
                }
            }
        }
    }
    // The token, echoed in answers to calls made with it.
    let mut s = signed_in(Format::Json);
    for (status, body) in echoing_bodies(TOKEN) {
        let verdict = s.classify(&response(status.max(400), body.clone()));
        assert_debug_clean("classify", &verdict);
        let (_, r) = drive(
            &mut s,
            Intent::SwitchSite("B".into()),
            vec![response(status.max(400), body)],
        );
        assert_error_clean("switch site", &r.unwrap_err());
    }
}

#[test]
fn redirect_errors_do_not_echo_secrets_in_the_location() {
    let mut s = Session::new(config(Format::Xml, Some(ApiVersion::new(3, 25))));
    let location = format!(
        "https://evil.example/{}/x?token={TOKEN}",
        PAT_SECRET.replace(['=', ':', '+', '/'], "")
    );
    let r = with_header(response(302, ""), "location", &location);
    let creds =
        Credentials::personal_access_token(PAT_NAME, PAT_SECRET.replace(['=', ':', '+', '/'], ""));
    let (_, result) = drive(&mut s, SignIn::new(creds, "").into(), vec![r]);
    assert_error_clean("redirect", &result.unwrap_err());
}

#[test]
fn urls_with_user_info_are_not_echoed() {
    let e = Config::builder(format!("https://admin:{PASSWORD}@tableau.example.com"))
        .build()
        .unwrap_err();
    assert!(matches!(
        e,
        ConfigError::InvalidUrl(_) | ConfigError::Scheme(_)
    ));
    assert_clean("config error", &e.to_string());
    assert_debug_clean("config error", &e);
}
