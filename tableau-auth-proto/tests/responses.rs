//! Every documented response shape, XML and JSON, successes and errors, driven through the
//! session; plus the classifier, the version gates, expiry and misuse.

mod support;

use std::time::Duration;

use support::*;
use tableau_auth_proto::http::{Request, StatusCode};
use tableau_auth_proto::secret::ExposeSecret;
use tableau_auth_proto::{
    ApiVersion, Config, Credentials, Error, Event, Expiry, Feature, Format, Intent, Misuse,
    RedirectRefusal, RetryAfter, Session, SignOut, SiteContentUrl, TicketRequest, UserId, Verdict,
};

fn pat() -> Credentials {
    Credentials::personal_access_token(PAT_NAME, PAT_SECRET)
}

fn fresh(format: Format) -> Session {
    Session::new(config(format, Some(ApiVersion::new(3, 25))))
}

fn sign_in_with(format: Format, status: u16, body: Vec<u8>) -> (Session, Result<Event, Error>) {
    let mut s = fresh(format);
    let (_, result) = drive(
        &mut s,
        sign_in(pat(), "Finance").into(),
        vec![response(status, body)],
    );
    (s, result)
}

#[test]
fn documented_sign_in_responses_parse_in_both_formats() {
    for (file, format) in [("signin.xml", Format::Xml), ("signin.json", Format::Json)] {
        let (s, result) = sign_in_with(format, 200, fixture(file));
        let Ok(Event::SignedIn(info)) = result else {
            panic!("{file}: {result:?}")
        };
        assert_eq!(
            info.site_id.as_str(),
            "6b7179ba-b82b-4f0f-91ed-812074ac5da6"
        );
        assert_eq!(info.site_content_url.as_str(), "Finance");
        assert_eq!(
            info.user_id.as_str(),
            "1a96d216-e9b8-497b-a82a-0b899a965e01"
        );
        assert_eq!(info.api_version, ApiVersion::new(3, 25));
        assert_eq!(
            s.token().unwrap().expose_secret(),
            "Qm7s2fVbX0kLr9Tq4nWc8yHa1JdEe5Pu"
        );
        // 364:23:59 is believed to be days:hours:minutes (docs/protocol.md, "Open questions" 1).
        let expected = Duration::from_secs(364 * 86_400 + 23 * 3_600 + 59 * 60);
        assert_eq!(info.credentials_expire_at, Some(t0() + expected), "{file}");
        assert_eq!(info.moved_to, None);
    }
}

#[test]
fn old_schema_cloud_token_and_impersonation_responses_parse() {
    let (s, result) = sign_in_with(Format::Xml, 200, fixture("signin_schema_2_3.xml"));
    let Ok(Event::SignedIn(info)) = result else {
        panic!("{result:?}")
    };
    assert_eq!(info.site_content_url.as_str(), "Samples");
    assert_eq!(info.credentials_expire_at, None);
    assert!(s.is_signed_in());

    let (s, result) = sign_in_with(Format::Xml, 200, fixture("signin_cloud_token.xml"));
    assert!(matches!(result, Ok(Event::SignedIn(_))));
    let mut call = Request::get(s.site_url("workbooks").unwrap())
        .body(())
        .unwrap();
    s.authorize_request(&mut call).unwrap();
    let value = &call.headers()["x-tableau-auth"];
    assert!(value.is_sensitive());
    assert_eq!(
        value.to_str().unwrap(),
        "AbCdEfGh12345678|XyZwVuTs98765432|9a8b7c6d-5e4f-3a2b-1c0d-ef9876543210"
    );

    let mut s = fresh(Format::Xml);
    let intent = sign_in(pat(), "").impersonate(UserId::parse(IMPERSONATED).unwrap());
    let (_, result) = drive(
        &mut s,
        intent.into(),
        vec![response(
            200,
            fixture("signin_impersonate_default_site.xml"),
        )],
    );
    let Ok(Event::SignedIn(info)) = result else {
        panic!("{result:?}")
    };
    assert!(info.site_content_url.is_default());
    assert_eq!(
        info.user_id.as_str(),
        IMPERSONATED,
        "the response names the impersonated user"
    );
}

#[test]
fn sign_in_errors_are_typed_and_leave_the_session_idle() {
    for format in ["xml", "json"] {
        for (code, status, reauth) in [
            ("401001", 401, false),
            ("400000", 400, false),
            ("500000", 500, false),
        ] {
            let (s, result) = sign_in_with(
                Format::Xml,
                status,
                fixture(&format!("error_{code}.{format}")),
            );
            let err = result.unwrap_err();
            assert_eq!(err.code(), Some(code), "{format} {code}: {err}");
            assert_eq!(err.status(), Some(StatusCode::from_u16(status).unwrap()));
            assert_eq!(err.is_reauth_needed(), reauth);
            assert!(!err.is_retryable());
            assert!(!s.is_signed_in() && !s.is_busy());
        }
    }
    let (_, result) = sign_in_with(Format::Json, 401, fixture("error_401001_jwt.json"));
    let msg = result.unwrap_err().to_string();
    assert!(msg.contains("(16)") && msg.contains("rejected"), "{msg}");
}

#[test]
fn a_failed_sign_in_keeps_the_previous_session() {
    let mut s = signed_in(Format::Xml);
    let (_, result) = drive(
        &mut s,
        sign_in(pat(), "Finance").into(),
        vec![response(401, fixture("error_401001.xml"))],
    );
    assert!(result.is_err());
    assert_eq!(
        s.token().unwrap().expose_secret(),
        TOKEN,
        "SignedIn unchanged after an Err"
    );
}

#[test]
fn method_not_allowed_names_the_https_url_only_after_http() {
    let (_, result) = sign_in_with(Format::Xml, 405, fixture("error_405000.xml"));
    assert_eq!(
        result.unwrap_err().code(),
        Some("405000"),
        "over https it is the server's own error"
    );

    let cfg = Config::builder("http://tableau.example.com:80/tab")
        .api_version(ApiVersion::new(3, 25))
        .build()
        .unwrap();
    let mut s = Session::new(cfg);
    let (_, result) = drive(
        &mut s,
        sign_in(pat(), "").into(),
        // The probe answers without redirecting (a plain-http server), then the sign-in: 405.
        vec![
            response(200, fixture("serverinfo.xml")),
            response(405, fixture("error_405000.json")),
        ],
    );
    match result {
        Err(Error::HttpsRequired { https_url }) => {
            assert_eq!(https_url, "https://tableau.example.com/tab")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn foreign_empty_truncated_and_oversized_bodies_are_typed_errors() {
    let (_, r) = sign_in_with(Format::Xml, 502, fixture("proxy_502.html"));
    match r.unwrap_err() {
        Error::Status {
            status, snippet, ..
        } => {
            assert_eq!(status, StatusCode::BAD_GATEWAY);
            assert!(snippet.contains("502 Bad Gateway"));
        }
        other => panic!("{other:?}"),
    }
    let (_, r) = sign_in_with(Format::Xml, 200, Vec::new());
    let e = r.unwrap_err();
    assert!(
        matches!(&e, Error::Status { snippet, .. } if snippet.is_empty()),
        "{e:?}"
    );
    assert!(e.to_string().contains("empty body"));

    for (file, format) in [("signin.xml", Format::Xml), ("signin.json", Format::Json)] {
        let mut body = fixture(file);
        body.truncate(body.len() / 2);
        let (s, r) = sign_in_with(format, 200, body);
        assert!(matches!(r, Err(Error::Decode { .. })), "{file}: {r:?}");
        assert!(!s.is_signed_in());
    }

    let (_, r) = sign_in_with(
        Format::Json,
        200,
        br#"{"credentials":{"token":"t","site":{"contentUrl":"x"},"user":{"id":"u"}}}"#.to_vec(),
    );
    match r {
        Err(Error::Decode { path, .. }) => assert_eq!(path, "credentials.site"),
        other => panic!("{other:?}"),
    }

    let mut s = Session::new(
        Config::builder(BASE)
            .api_version(ApiVersion::new(3, 25))
            .max_body(1024)
            .build()
            .unwrap(),
    );
    let mut huge = fixture("signin.xml");
    huge.resize(4096, b' ');
    let (_, r) = drive(&mut s, sign_in(pat(), "").into(), vec![response(200, huge)]);
    assert!(matches!(r, Err(Error::TooLarge { limit: 1024 })), "{r:?}");
}

#[test]
fn throttling_carries_retry_after_in_seconds_or_as_a_date() {
    let r = with_header(
        response(429, fixture("cloud_429.html")),
        "retry-after",
        "30",
    );
    let mut s = fresh(Format::Xml);
    let (_, result) = drive(&mut s, sign_in(pat(), "").into(), vec![r]);
    let e = result.unwrap_err();
    assert!(e.is_retryable());
    assert_eq!(
        e.retry_after(),
        Some(RetryAfter::Delay(Duration::from_secs(30)))
    );

    let s = signed_in(Format::Xml);
    let r = with_header(
        response(503, fixture("error_500000.xml")),
        "retry-after",
        "Wed, 21 Oct 2026 07:28:00 GMT",
    );
    match s.classify(&r) {
        Verdict::Retry(e) => assert!(matches!(e.retry_after(), Some(RetryAfter::At(_)))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn server_info_in_both_formats_sets_the_version() {
    for file in ["serverinfo.xml", "serverinfo.json"] {
        let mut s = Session::new(config(Format::Json, None));
        let (sent, result) = drive(
            &mut s,
            Intent::ServerInfo,
            vec![response(200, fixture(file))],
        );
        assert_eq!(sent.len(), 1);
        let Ok(Event::ServerInfo(info)) = result else {
            panic!("{file}: {result:?}")
        };
        assert_eq!(info.product_version, "2025.1.3");
        assert_eq!(info.build.as_deref(), Some("20251.25.0318.0917"));
        assert_eq!(info.rest_api_version, ApiVersion::new(3, 25));
        assert_eq!(info.platform.as_deref(), Some("linux"));
        assert!(!info.legacy);
        assert_eq!(s.api_version(), Some(ApiVersion::new(3, 25)));
    }
    let mut s = Session::new(config(Format::Xml, None));
    let (_, result) = drive(
        &mut s,
        Intent::ServerInfo,
        vec![response(200, fixture("serverinfo_10_1.xml"))],
    );
    assert!(
        matches!(result, Ok(Event::ServerInfo(i)) if i.rest_api_version == ApiVersion::new(2, 4) && i.platform.is_none())
    );
}

#[test]
fn a_fixed_version_is_not_replaced_and_a_cap_is_applied() {
    let mut s = fresh(Format::Xml);
    let (_, _) = drive(
        &mut s,
        Intent::ServerInfo,
        vec![response(200, fixture("serverinfo.xml"))],
    );
    assert_eq!(s.api_version(), Some(ApiVersion::new(3, 25)));
    let cfg = Config::builder(BASE)
        .max_api_version(ApiVersion::new(3, 19))
        .build()
        .unwrap();
    let mut s = Session::new(cfg);
    let (_, _) = drive(
        &mut s,
        Intent::ServerInfo,
        vec![response(200, fixture("serverinfo.json"))],
    );
    assert_eq!(s.api_version(), Some(ApiVersion::new(3, 19)));
}

#[test]
fn old_servers_fall_back_to_the_legacy_probe_and_gate_features_before_sending_credentials() {
    let mut s = Session::new(config(Format::Xml, None));
    let (sent, result) = drive(
        &mut s,
        sign_in(pat(), "").into(),
        vec![
            response(404, fixture("error_404003.xml")),
            response(200, fixture("authinfo_9_3.xml")),
        ],
    );
    assert_eq!(sent.len(), 2, "two probes, no sign-in");
    assert!(
        sent.iter()
            .all(|r| !String::from_utf8_lossy(r.body()).contains(SENTINEL))
    );
    match result {
        Err(Error::Unsupported {
            feature,
            required,
            actual,
        }) => {
            assert_eq!(feature, Feature::PersonalAccessToken);
            assert_eq!(required, ApiVersion::new(3, 6));
            assert_eq!(actual, ApiVersion::new(2, 2), "9.3 maps to 2.2 as TSC does");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_html_page_at_serverinfo_means_not_a_tableau_server() {
    let mut s = Session::new(config(Format::Xml, None));
    let (_, r) = drive(
        &mut s,
        Intent::ServerInfo,
        vec![response(404, fixture("wrong_site_404.html"))],
    );
    assert!(
        matches!(
            r,
            Err(Error::Status {
                status: StatusCode::NOT_FOUND,
                ..
            })
        ),
        "{r:?}"
    );
    let (_, r) = drive(
        &mut s,
        Intent::ServerInfo,
        vec![response(200, fixture("wrong_site_404.html"))],
    );
    assert!(
        matches!(
            r,
            Err(Error::Status {
                status: StatusCode::OK,
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(s.api_version(), None);
}

#[test]
fn version_gates_refuse_before_anything_is_sent() {
    let app = Credentials::ConnectedApp(connected_app());
    let cases: Vec<(ApiVersion, Format, Credentials, bool, Feature)> = vec![
        (
            ApiVersion::new(3, 5),
            Format::Xml,
            pat(),
            false,
            Feature::PersonalAccessToken,
        ),
        (
            ApiVersion::new(3, 10),
            Format::Xml,
            pat(),
            true,
            Feature::PersonalAccessTokenImpersonation,
        ),
        (
            ApiVersion::new(3, 16),
            Format::Xml,
            Credentials::jwt(JWT),
            false,
            Feature::Jwt,
        ),
        (
            ApiVersion::new(3, 16),
            Format::Xml,
            app,
            false,
            Feature::Jwt,
        ),
        (
            ApiVersion::new(3, 26),
            Format::Xml,
            Credentials::unified_access_token(JWT),
            false,
            Feature::UnifiedAccessToken,
        ),
        (
            ApiVersion::new(2, 4),
            Format::Json,
            Credentials::password("u", PASSWORD),
            false,
            Feature::Json,
        ),
    ];
    for (version, format, credentials, impersonate, feature) in cases {
        let mut s = Session::new(config(format, Some(version)));
        let mut intent = sign_in(credentials, "");
        if impersonate {
            intent = intent.impersonate(UserId::parse(IMPERSONATED).unwrap());
        }
        let (sent, r) = drive(&mut s, intent.into(), vec![]);
        assert!(sent.is_empty());
        match r {
            Err(e @ Error::Unsupported { .. }) => {
                assert!(
                    matches!(e, Error::Unsupported { feature: f, .. } if f == feature),
                    "{e:?}"
                );
                assert!(e.to_string().contains(&feature.min_version().to_string()));
            }
            other => panic!("{feature:?}: {other:?}"),
        }
        assert!(!s.is_busy());
    }
    let mut s = Session::new(config(Format::Xml, Some(ApiVersion::new(2, 5))));
    let (_, _) = drive(
        &mut s,
        sign_in(Credentials::password("u", PASSWORD), "").into(),
        vec![response(200, sign_in_body(Format::Xml))],
    );
    let (sent, r) = drive(&mut s, Intent::SwitchSite("B".into()), vec![]);
    assert!(
        sent.is_empty()
            && matches!(
                r,
                Err(Error::Unsupported {
                    feature: Feature::SwitchSite,
                    ..
                })
            )
    );
}

#[test]
fn tableau_cloud_refuses_switch_site_and_tickets() {
    let cfg = Config::builder("https://10ax.online.tableau.com")
        .api_version(ApiVersion::new(3, 25))
        .build()
        .unwrap();
    let mut s = Session::new(cfg);
    let (_, _) = drive(
        &mut s,
        sign_in(pat(), "acme").into(),
        vec![response(200, sign_in_body(Format::Xml))],
    );
    let (sent, r) = drive(&mut s, Intent::SwitchSite("other".into()), vec![]);
    assert!(sent.is_empty());
    let e = r.unwrap_err();
    assert!(matches!(
        e,
        Error::NotOnTableauCloud {
            feature: Feature::SwitchSite
        }
    ));
    assert!(e.to_string().contains("sign in again"));
    let (_, r) = drive(&mut s, TicketRequest::new("u").into(), vec![]);
    assert!(matches!(
        r,
        Err(Error::NotOnTableauCloud {
            feature: Feature::TrustedTicket
        })
    ));
}

#[test]
fn switch_site_replaces_the_token_and_403070_changes_nothing() {
    for format in [Format::Xml, Format::Json] {
        let ext = if format == Format::Xml { "xml" } else { "json" };
        let mut s = signed_in(format);
        let (_, r) = drive(
            &mut s,
            Intent::SwitchSite("Marketing".into()),
            vec![response(200, fixture(&format!("switchsite.{ext}")))],
        );
        let Ok(Event::SiteSwitched(info)) = r else {
            panic!("{r:?}")
        };
        assert_eq!(info.site_content_url.as_str(), "Marketing");
        assert_eq!(
            s.signed_in().unwrap().site_id.as_str(),
            "2b3c4d5e-6f70-4812-93a4-b5c6d7e8f901"
        );
        assert_eq!(
            s.token().unwrap().expose_secret(),
            "Mk4Lp9Qr2St7Uv1Wx6Yz3Ab8Cd5Ef0Gh"
        );

        let (_, r) = drive(
            &mut s,
            Intent::SwitchSite("Marketing".into()),
            vec![response(403, fixture(&format!("error_403070.{ext}")))],
        );
        assert!(matches!(r, Ok(Event::SiteUnchanged)), "{r:?}");
        assert_eq!(
            s.token().unwrap().expose_secret(),
            "Mk4Lp9Qr2St7Uv1Wx6Yz3Ab8Cd5Ef0Gh"
        );

        let (_, r) = drive(
            &mut s,
            Intent::SwitchSite(SiteContentUrl::default_site()),
            vec![response(401, fixture(&format!("error_401002.{ext}")))],
        );
        assert!(r.unwrap_err().is_reauth_needed());
        assert!(s.is_signed_in(), "SignedIn unchanged after an Err");
    }
    let mut s = fresh(Format::Xml);
    let (_, r) = drive(&mut s, Intent::SwitchSite("x".into()), vec![]);
    assert!(matches!(r, Err(Error::Misuse(Misuse::NotSignedIn))));
}

#[test]
fn sign_out_clears_the_session_on_204_and_on_401_and_sends_nothing_without_one() {
    let mut s = signed_in(Format::Xml);
    let (_, r) = drive(&mut s, Intent::SignOut, vec![response(204, "")]);
    assert!(matches!(r, Ok(Event::SignedOut(SignOut::Confirmed))));
    assert!(!s.is_signed_in() && s.token().is_none());

    for file in ["error_401002.xml", "error_401002.json", "error_401000.xml"] {
        let mut s = signed_in(Format::Xml);
        let (_, r) = drive(&mut s, Intent::SignOut, vec![response(401, fixture(file))]);
        assert!(
            matches!(r, Ok(Event::SignedOut(SignOut::AlreadyGone))),
            "{file}: {r:?}"
        );
        assert!(!s.is_signed_in());
    }

    let mut s = signed_in(Format::Xml);
    let (_, r) = drive(
        &mut s,
        Intent::SignOut,
        vec![response(500, fixture("error_500000.xml"))],
    );
    assert!(r.is_err());
    assert!(
        s.is_signed_in(),
        "a failed sign-out keeps the session, so it can be retried"
    );

    let mut s = fresh(Format::Xml);
    let (sent, r) = drive(&mut s, Intent::SignOut, vec![]);
    assert!(sent.is_empty());
    assert!(matches!(r, Ok(Event::SignedOut(SignOut::NotSignedIn))));
}

#[test]
fn trusted_tickets_are_issued_refused_or_rejected_as_foreign() {
    for file in ["ticket_10_2.txt", "ticket_pre_10_2.txt"] {
        let mut s = fresh(Format::Xml);
        let (_, r) = drive(
            &mut s,
            TicketRequest::new("jsmith").target_site("Sales").into(),
            vec![response(200, fixture(file))],
        );
        let Ok(Event::TicketIssued(t)) = r else {
            panic!("{file}: {r:?}")
        };
        let expected = String::from_utf8(fixture(file)).unwrap();
        assert_eq!(t.value().expose_secret(), expected.trim());
        assert!(
            t.redemption_url("W", "V")
                .expose_secret()
                .starts_with("https://tableau.example.com/trusted/")
        );
        assert!(
            t.redemption_url("W", "V")
                .expose_secret()
                .contains("/t/Sales/views/W/V")
        );
    }
    let mut s = fresh(Format::Xml);
    let (_, r) = drive(
        &mut s,
        TicketRequest::new("jsmith").into(),
        vec![response(200, fixture("ticket_refused.txt"))],
    );
    let e = r.unwrap_err();
    assert!(matches!(e, Error::TicketRefused));
    assert!(
        e.to_string().contains("trusted hosts"),
        "the message lists the documented causes"
    );
    let (_, r) = drive(
        &mut s,
        TicketRequest::new("jsmith").into(),
        vec![response(200, fixture("wrong_site_404.html"))],
    );
    assert!(
        matches!(r, Err(Error::Status { .. })),
        "a login page is not a ticket: {r:?}"
    );
    let (_, r) = drive(&mut s, TicketRequest::new("").into(), vec![]);
    assert!(matches!(r, Err(Error::Misuse(Misuse::Empty(_)))));
}

#[test]
fn classify_tells_reauth_retry_and_give_up_apart() {
    let s = signed_in(Format::Json);
    assert!(matches!(s.classify(&response(200, "{}")), Verdict::Success));
    for file in ["error_401002.xml", "error_401002.json", "error_401000.json"] {
        assert!(
            matches!(
                s.classify(&response(401, fixture(file))),
                Verdict::Reauthenticate(_)
            ),
            "{file}"
        );
    }
    assert!(
        matches!(s.classify(&response(401, fixture("error_401001.json"))), Verdict::Fail(e) if e.code() == Some("401001"))
    );
    assert!(matches!(
        s.classify(&response(403, fixture("error_403070.xml"))),
        Verdict::Fail(_)
    ));
    assert!(matches!(
        s.classify(&response(429, fixture("cloud_429.html"))),
        Verdict::Retry(_)
    ));
    assert!(matches!(
        s.classify(&response(500, fixture("error_500000.json"))),
        Verdict::Fail(_)
    ));
    let moved = with_header(response(302, ""), "location", "https://elsewhere.example/x");
    assert!(matches!(
        s.classify(&moved),
        Verdict::Fail(Error::Redirect {
            refusal: RedirectRefusal::NotFollowed,
            ..
        })
    ));
    // A server echoing the token in an error page gets it scrubbed.
    let echo = response(400, format!("<html>bad token {TOKEN}</html>"));
    let Verdict::Fail(e) = s.classify(&echo) else {
        panic!()
    };
    assert!(!format!("{e} {e:?}").contains(SENTINEL));
}

#[test]
fn poll_timeout_tracks_idle_lifetime_and_credential_expiry() {
    let cfg = Config::builder(BASE)
        .api_version(ApiVersion::new(3, 25))
        .idle_limit(Duration::from_secs(120 * 60))
        .expiry_margin(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut s = Session::new(cfg.clone());
    assert_eq!(s.poll_timeout(), None);
    let (_, _) = drive(
        &mut s,
        sign_in(pat(), "").into(),
        vec![response(200, fixture("signin_schema_2_3.xml"))],
    );
    assert_eq!(
        s.poll_timeout(),
        Some((t0() + Duration::from_secs(119 * 60), Expiry::IdleLimit))
    );
    s.touch(t0() + Duration::from_secs(30 * 60));
    assert_eq!(
        s.poll_timeout(),
        Some((t0() + Duration::from_secs(149 * 60), Expiry::IdleLimit))
    );
    s.touch(t0());
    assert_eq!(
        s.poll_timeout().unwrap().0,
        t0() + Duration::from_secs(149 * 60),
        "time never goes back"
    );

    let cfg = Config::builder(BASE)
        .api_version(ApiVersion::new(3, 25))
        .lifetime_limit(Duration::from_secs(60 * 60))
        .build()
        .unwrap();
    let mut s = Session::new(cfg);
    let (_, _) = drive(
        &mut s,
        sign_in(pat(), "").into(),
        vec![response(200, fixture("signin_schema_2_3.xml"))],
    );
    assert_eq!(
        s.poll_timeout(),
        Some((t0() + Duration::from_secs(59 * 60), Expiry::LifetimeLimit))
    );

    let body = fixture("signin.xml");
    let body = String::from_utf8(body)
        .unwrap()
        .replace("364:23:59", "0:00:30")
        .into_bytes();
    let mut s = Session::new(config(Format::Xml, Some(ApiVersion::new(3, 25))));
    let (_, _) = drive(&mut s, sign_in(pat(), "").into(), vec![response(200, body)]);
    assert_eq!(s.poll_timeout().unwrap().1, Expiry::Credentials);
}

#[test]
fn sign_in_redirects_to_strangers_or_plain_http_are_refused_without_resending() {
    for (location, refusal) in [
        (
            "https://evil.example/api/3.25/auth/signin",
            RedirectRefusal::OtherHost,
        ),
        (
            "http://tableau.example.com/api/3.25/auth/signin",
            RedirectRefusal::Downgrade,
        ),
        (
            "https://tableau.example.com/login?next=x",
            RedirectRefusal::PathChanged,
        ),
    ] {
        let mut s = fresh(Format::Xml);
        let r = with_header(response(302, ""), "location", location);
        let (sent, result) = drive(&mut s, sign_in(pat(), "").into(), vec![r]);
        assert_eq!(sent.len(), 1, "nothing re-sent for {location}");
        match result {
            Err(Error::Redirect {
                refusal: got,
                location: shown,
            }) => {
                assert_eq!(got, refusal);
                assert!(!shown.contains('?'), "the query is not echoed");
            }
            other => panic!("{other:?}"),
        }
        assert!(!s.is_busy());
    }
    // A loop ends at the hop limit.
    let cfg = Config::builder("https://tableau.example.com")
        .api_version(ApiVersion::new(3, 25))
        .build()
        .unwrap();
    let mut s = Session::new(cfg);
    let hop = || {
        with_header(
            response(307, ""),
            "location",
            "https://tableau.example.com/api/3.25/auth/signin",
        )
    };
    let (sent, r) = drive(&mut s, sign_in(pat(), "").into(), vec![hop(), hop(), hop()]);
    assert_eq!(sent.len(), 3);
    assert!(matches!(
        r,
        Err(Error::Redirect {
            refusal: RedirectRefusal::TooManyRedirects,
            ..
        })
    ));
}

#[test]
fn the_serverinfo_probe_follows_an_https_upgrade_so_credentials_never_go_over_http() {
    let cfg = Config::builder("http://tableau.example.com")
        .build()
        .unwrap();
    let mut s = Session::new(cfg);
    let up = with_header(
        response(301, ""),
        "location",
        "https://tableau.example.com/api/2.4/serverinfo",
    );
    let (sent, r) = drive(
        &mut s,
        sign_in(Credentials::password("u", PASSWORD), "").into(),
        vec![
            up,
            response(200, fixture("serverinfo.xml")),
            response(200, sign_in_body(Format::Xml)),
        ],
    );
    assert!(
        matches!(r, Ok(Event::SignedIn(ref i)) if i.moved_to.as_deref() == Some("https://tableau.example.com")),
        "{r:?}"
    );
    assert_eq!(sent[0].uri().scheme_str(), Some("http"));
    assert!(sent[0].body().is_empty());
    assert_eq!(
        sent[2].uri().to_string(),
        "https://tableau.example.com/api/3.25/auth/signin"
    );
}

#[test]
fn misuse_is_reported_not_panicked() {
    let mut s = fresh(Format::Xml);
    assert!(matches!(
        s.handle_response(response(200, ""), t0()),
        Err(Error::Misuse(Misuse::NoExchange))
    ));
    let _ = s.start(sign_in(pat(), "").into(), t0()).unwrap();
    assert!(matches!(
        s.start(Intent::ServerInfo, t0()),
        Err(Error::Misuse(Misuse::ExchangeInFlight))
    ));
    s.abort();
    assert!(!s.is_busy());
    assert!(s.start(Intent::ServerInfo, t0()).is_ok());
    let mut s = fresh(Format::Xml);
    let no_inputs = tableau_auth_proto::SignIn::new(Credentials::ConnectedApp(connected_app()), "");
    assert!(matches!(
        s.start(no_inputs.into(), t0()),
        Err(Error::Misuse(Misuse::MissingMintInputs))
    ));
    assert!(matches!(
        s.authorize_request(
            &mut Request::get(s.api_url("sessions/current").unwrap())
                .body(())
                .unwrap()
        ),
        Err(Error::Misuse(Misuse::NotSignedIn))
    ));
    assert!(s.site_url("workbooks").is_err());
    let s = signed_in(Format::Xml);
    assert_eq!(
        s.site_url("workbooks").unwrap().to_string(),
        format!("https://tableau.example.com/api/3.25/sites/{SITE_ID}/workbooks")
    );
    assert_eq!(
        s.api_url("sessions/current").unwrap().to_string(),
        "https://tableau.example.com/api/3.25/sessions/current"
    );
}

#[test]
fn a_token_saved_elsewhere_can_be_signed_out_without_touching_the_session() {
    use tableau_auth_proto::secret::AuthToken;
    let mut s = fresh(Format::Xml);
    let (sent, r) = drive(
        &mut s,
        Intent::SignOutToken(AuthToken::new(TOKEN)),
        vec![response(204, "")],
    );
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].uri().path(), "/api/3.25/auth/signout");
    assert!(sent[0].headers()["x-tableau-auth"].is_sensitive());
    assert_eq!(sent[0].headers()["x-tableau-auth"], TOKEN);
    assert!(matches!(r, Ok(Event::SignedOut(SignOut::Confirmed))));

    // Without a known version the server is asked first; a dead token is still an event.
    let mut s = signed_in(Format::Xml);
    let mut unversioned = Session::new(config(Format::Json, None));
    let (sent, r) = drive(
        &mut unversioned,
        Intent::SignOutToken(AuthToken::new(TOKEN)),
        vec![
            response(200, fixture("serverinfo.json")),
            response(401, fixture("error_401002.json")),
        ],
    );
    assert_eq!(sent[1].uri().path(), "/api/3.25/auth/signout");
    assert!(matches!(r, Ok(Event::SignedOut(SignOut::AlreadyGone))));
    let (_, r) = drive(
        &mut s,
        Intent::SignOutToken(AuthToken::new("other-token")),
        vec![response(204, "")],
    );
    assert!(r.is_ok());
    assert!(
        s.is_signed_in(),
        "signing out another token leaves this session alone"
    );
}

#[test]
fn authorize_request_refuses_other_servers_and_plain_http() {
    let s = signed_in(Format::Xml);
    let request = |uri: &str| Request::get(uri).body(()).unwrap();
    let mut ok = request("https://TABLEAU.example.com/api/3.25/sessions/current");
    s.authorize_request(&mut ok).unwrap();
    assert!(ok.headers()["x-tableau-auth"].is_sensitive());
    for uri in [
        "http://tableau.example.com/api/3.25/sessions/current",
        "https://tableau.example.com:8443/api/3.25/sessions/current",
        "https://evil.example/api/3.25/sessions/current",
        "https://tableau.example.com.evil.example/x",
        "/api/3.25/sessions/current",
    ] {
        let mut r = request(uri);
        let e = s.authorize_request(&mut r).unwrap_err();
        assert!(
            matches!(e, Error::Misuse(Misuse::ForeignUrl)),
            "{uri}: {e:?}"
        );
        assert!(r.headers().get("x-tableau-auth").is_none());
    }
}

// ----- sessions/current -------------------------------------------------------------------

fn current_session(s: &mut Session, status: u16, body: impl Into<Vec<u8>>) -> Result<Event, Error> {
    let (sent, r) = drive(s, Intent::CurrentSession, vec![response(status, body)]);
    assert_eq!(sent.len(), 1, "one request, never a follow-up");
    r
}

#[test]
fn current_session_reads_every_documented_attribute_in_both_formats() {
    for ext in ["xml", "json"] {
        // Sniffed, not chosen by the configured format: each body is read by each session.
        for format in [Format::Xml, Format::Json] {
            let mut s = signed_in(format);
            let r = current_session(&mut s, 200, fixture(&format!("session_current.{ext}")));
            let Ok(Event::CurrentSession(me)) = r else {
                panic!("{ext}/{format:?}: {r:?}")
            };
            assert_eq!(me.site_id.as_str(), SITE_ID);
            assert_eq!(me.site_name, "Finance & Co");
            assert_eq!(me.site_content_url.as_str(), "Finance");
            assert_eq!(me.user_id.as_str(), USER_ID);
            assert_eq!(me.user_name, "jsmith@example.com");
            assert_eq!(me.site_role.as_deref(), Some("Creator"));
            assert_eq!(me.last_login.as_deref(), Some("2025-05-02T08:14:55Z"));
            assert_eq!(me.auth_setting.as_deref(), Some("ServerDefault"));
            assert_eq!(
                me.external_auth_user_id.as_deref(),
                Some("00u1abcd2EFGH3ijk4l5")
            );
            assert_eq!(me.email.as_deref(), Some("jsmith@example.com"));
            assert_eq!(me.full_name.as_deref(), Some("Jane Smith"));
            assert_eq!(me.locale.as_deref(), Some("en_US"));
            assert_eq!(me.language.as_deref(), Some("en"));
            // Reading it changes nothing about the session.
            assert!(s.is_signed_in() && !s.is_busy());
            assert_eq!(s.token().unwrap().expose_secret(), TOKEN);
            assert_eq!(s.signed_in().unwrap().site_id.as_str(), SITE_ID);
        }
    }
}

#[test]
fn current_session_without_optional_attributes_on_the_default_site() {
    for ext in ["xml", "json"] {
        let mut s = signed_in(Format::Xml);
        let r = current_session(
            &mut s,
            200,
            fixture(&format!("session_current_minimal.{ext}")),
        );
        let Ok(Event::CurrentSession(me)) = r else {
            panic!("{ext}: {r:?}")
        };
        assert_eq!(me.site_id.as_str(), "a946d998-2ead-4894-bb50-1054a91dcab3");
        assert_eq!(me.site_name, "Default");
        assert!(me.site_content_url.is_default());
        assert_eq!(me.user_id.as_str(), IMPERSONATED);
        assert_eq!(me.user_name, "admin");
        for optional in [
            &me.site_role,
            &me.full_name,
            &me.email,
            &me.last_login,
            &me.auth_setting,
            &me.external_auth_user_id,
            &me.locale,
            &me.language,
        ] {
            assert_eq!(optional, &None, "{ext}");
        }
    }
}

#[test]
fn read_current_session_reads_what_the_intent_reads_and_changes_nothing() {
    // For callers who sent `GET sessions/current` themselves (tower layer, another SDK).
    for ext in ["xml", "json"] {
        for file in ["session_current", "session_current_minimal"] {
            let body = fixture(&format!("{file}.{ext}"));
            let mut by_intent = signed_in(Format::Xml);
            let Ok(Event::CurrentSession(expected)) =
                current_session(&mut by_intent, 200, body.clone())
            else {
                panic!("{file}.{ext}")
            };
            let s = signed_in(Format::Xml);
            let deadline = s.poll_timeout();
            let read = s.read_current_session(&response(200, body)).expect("read");
            assert_eq!(read, expected, "{file}.{ext}");
            assert_eq!(s.poll_timeout(), deadline, "no touch: the caller decides");
            assert!(s.is_signed_in() && !s.is_busy());
        }
    }
    let s = signed_in(Format::Json);
    // The same errors as the exchange: 401002 asks for a new sign-in, the token is scrubbed.
    let echo = format!(
        r#"{{"error":{{"summary":"Unauthorized Access","detail":"token {TOKEN} is invalid","code":"401002"}}}}"#
    );
    let e = s.read_current_session(&response(401, echo)).unwrap_err();
    assert!(e.is_reauth_needed(), "{e:?}");
    assert!(!format!("{e} {e:?}").contains(SENTINEL));
    // A redirect is refused, never read as an answer.
    let mut moved = response(302, Vec::new());
    moved.headers_mut().insert(
        "location",
        "https://evil.example/api/3.25/sessions/current"
            .parse()
            .unwrap(),
    );
    let e = s.read_current_session(&moved).unwrap_err();
    assert!(matches!(e, Error::Redirect { .. }), "{e:?}");
    // A body over the limit is refused before it is parsed.
    let huge = vec![b' '; s.config().max_body() + 1];
    let e = s.read_current_session(&response(200, huge)).unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e:?}");
    // Not a session document.
    let e = s
        .read_current_session(&response(200, sign_in_body(Format::Xml)))
        .unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains(SENTINEL));
}

/// The requests made with the session's token that leave it as it was: `sessions/current`, and
/// revoking the server administrators' PATs. Each with a success answer.
fn token_requests() -> [(Intent, &'static str, u16, Vec<u8>); 2] {
    [
        (
            Intent::CurrentSession,
            "sessions/current",
            200,
            fixture("session_current.xml"),
        ),
        (
            Intent::RevokeServerAdminTokens,
            "auth/serverAdminAccessTokens",
            204,
            Vec::new(),
        ),
    ]
}

#[test]
fn a_token_request_that_succeeds_restarts_the_idle_clock() {
    for (intent, path, status, body) in token_requests() {
        let mut s = signed_in(Format::Xml);
        let (before, _) = s.poll_timeout().unwrap();
        let later = t0() + Duration::from_secs(600);
        let sent = s.start(intent, later).unwrap();
        assert!(matches!(sent, tableau_auth_proto::Step::Send(_)));
        let r = s.handle_response(response(status, body), later);
        assert!(
            matches!(
                r,
                Ok(tableau_auth_proto::Step::Done(
                    Event::CurrentSession(_) | Event::ServerAdminTokensRevoked
                ))
            ),
            "{path}: {r:?}"
        );
        let (after, _) = s.poll_timeout().unwrap();
        assert_eq!(after, before + Duration::from_secs(600), "{path}");
    }
}

#[test]
fn a_token_requests_401_is_reauth_needed_scrubbed_and_keeps_the_session() {
    // Decision: like switch site (and unlike sign-out, which asked for the session to end), a
    // 401 here is an error and the session stays as it was: the caller decides to sign in
    // again, which replaces it. An exchange that fails never changes the state.
    for (intent, path, _, _) in token_requests() {
        let ask = |s: &mut Session, status: u16, body: Vec<u8>| {
            let (sent, r) = drive(s, intent.clone(), vec![response(status, body)]);
            assert_eq!(sent.len(), 1, "{path}: one request, never a follow-up");
            r
        };
        for ext in ["xml", "json"] {
            for file in ["error_401002", "error_401000"] {
                let mut s = signed_in(Format::Xml);
                let r = ask(&mut s, 401, fixture(&format!("{file}.{ext}")));
                let e = r.unwrap_err();
                assert!(e.is_reauth_needed(), "{path} {file}.{ext}: {e:?}");
                assert_eq!(e.code(), Some(&file["error_".len()..]));
                assert!(s.is_signed_in(), "{path}: SignedIn unchanged after an Err");
                assert_eq!(s.token().unwrap().expose_secret(), TOKEN);
                assert!(!s.is_busy());
            }
        }
        // A server echoing the token in its error text: scrubbed.
        let mut s = signed_in(Format::Json);
        let echo = format!(
            r#"{{"error":{{"summary":"Unauthorized Access","detail":"token {TOKEN} is invalid","code":"401002"}}}}"#
        );
        let e = ask(&mut s, 401, echo.into_bytes()).unwrap_err();
        assert!(e.is_reauth_needed());
        for shown in [format!("{e}"), format!("{e:?}")] {
            assert!(!shown.contains(SENTINEL), "{path}: {shown}");
        }
        let html = format!("<html><body>gateway saw {TOKEN}</body></html>");
        let e = ask(&mut s, 502, html.into_bytes()).unwrap_err();
        assert!(matches!(e, Error::Status { .. }), "{path}: {e:?}");
        assert!(!format!("{e} {e:?}").contains(SENTINEL));
    }
}

#[test]
fn a_token_requests_redirect_is_refused_and_nothing_follows() {
    for (intent, path, _, _) in token_requests() {
        let mut s = signed_in(Format::Xml);
        for location in [
            format!("https://evil.example/api/3.25/{path}"),
            format!("https://tableau.example.com/api/3.25/{path}"),
        ] {
            for status in [302, 307] {
                let redirect = with_header(response(status, ""), "location", &location);
                let (sent, r) = drive(&mut s, intent.clone(), vec![redirect]);
                assert_eq!(sent.len(), 1, "{location}: never resent");
                assert!(
                    matches!(
                        r,
                        Err(Error::Redirect {
                            refusal: RedirectRefusal::NotFollowed,
                            ..
                        })
                    ),
                    "{location} {status}: {r:?}"
                );
                assert!(s.is_signed_in() && !s.is_busy());
            }
        }
    }
}

#[test]
fn current_session_malformed_answers_are_typed_errors_without_secrets() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "no user name (XML)",
            format!(
                r#"<tsResponse><session><site id="{SITE_ID}" name="S" contentUrl=""/><user id="{TOKEN}"/></session></tsResponse>"#
            ),
            "session.user: missing field `@name`",
        ),
        (
            "no site (JSON)",
            format!(r#"{{"session":{{"user":{{"id":"{USER_ID}","name":"{TOKEN}"}}}}}}"#),
            "site",
        ),
        (
            "a number for a name (JSON)",
            format!(
                r#"{{"session":{{"site":{{"id":"{SITE_ID}","name":7,"contentUrl":""}},"user":{{"id":"{USER_ID}","name":"{TOKEN}"}}}}}}"#
            ),
            "session.site",
        ),
        (
            "an empty user id",
            format!(
                r#"<tsResponse><session><site id="{SITE_ID}" name="S" contentUrl=""/><user id=" " name="{TOKEN}"/></session></tsResponse>"#
            ),
            "session.user.id",
        ),
        (
            "a credentials document instead",
            String::from_utf8(sign_in_body(Format::Xml)).unwrap(),
            "session",
        ),
        (
            "truncated",
            format!(
                r#"<tsResponse><session><site id="{SITE_ID}" name="S" contentUrl=""/><user id="{USER_ID}" name="{TOKEN}""#
            ),
            "",
        ),
    ];
    for (what, body, path_part) in cases {
        let mut s = signed_in(Format::Xml);
        let e = current_session(&mut s, 200, body).unwrap_err();
        match &e {
            Error::Decode { path, message, .. } => assert!(
                format!("{path}: {message}").contains(path_part),
                "{what}: {e:?}"
            ),
            other => panic!("{what}: {other:?}"),
        }
        assert!(!format!("{e} {e:?}").contains(SENTINEL), "{what}: {e:?}");
        assert!(s.is_signed_in() && !s.is_busy(), "{what}");
    }
    // Not a Tableau document at all.
    let mut s = signed_in(Format::Xml);
    for body in ["", "<html><body>hi</body></html>", "-1"] {
        let e = current_session(&mut s, 200, body).unwrap_err();
        assert!(matches!(e, Error::Status { .. }), "{body:?}: {e:?}");
    }
    // Larger than the limit: refused unread.
    let limit = sign_in_body(Format::Xml).len() + 16;
    let cfg = Config::builder(BASE)
        .api_version(ApiVersion::new(3, 25))
        .max_body(limit)
        .build()
        .unwrap();
    let mut s = Session::new(cfg);
    let (_, r) = drive(
        &mut s,
        sign_in(pat(), "Finance").into(),
        vec![response(200, sign_in_body(Format::Xml))],
    );
    assert!(r.is_ok(), "{r:?}");
    let mut big = fixture("session_current_minimal.xml");
    big.resize(limit + 1, b' ');
    let e = current_session(&mut s, 200, big).unwrap_err();
    assert!(
        matches!(e, Error::TooLarge { limit: l } if l == limit),
        "{e:?}"
    );
}

#[test]
fn current_session_needs_a_session_and_is_gated_at_believed_3_1_per_pstableaurest() {
    let mut s = fresh(Format::Xml);
    let (sent, r) = drive(&mut s, Intent::CurrentSession, vec![]);
    assert!(sent.is_empty());
    assert!(
        matches!(r, Err(Error::Misuse(Misuse::NotSignedIn))),
        "{r:?}"
    );

    assert_eq!(Feature::CurrentSession.min_version(), ApiVersion::new(3, 1));
    let session_at = |version: ApiVersion| {
        let mut s = Session::new(config(Format::Xml, Some(version)));
        let (_, r) = drive(
            &mut s,
            sign_in(Credentials::password("u", PASSWORD), "").into(),
            vec![response(200, sign_in_body(Format::Xml))],
        );
        assert!(r.is_ok(), "{r:?}");
        s
    };
    let mut s = session_at(ApiVersion::new(3, 0));
    let (sent, r) = drive(&mut s, Intent::CurrentSession, vec![]);
    assert!(sent.is_empty());
    let e = r.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unsupported {
                feature: Feature::CurrentSession,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("3.1"), "{e}");
    assert!(s.is_signed_in() && !s.is_busy());
    let mut s = session_at(ApiVersion::new(3, 1));
    let (sent, r) = drive(
        &mut s,
        Intent::CurrentSession,
        vec![response(200, fixture("session_current.xml"))],
    );
    assert_eq!(
        sent[0].uri(),
        "https://tableau.example.com/api/3.1/sessions/current"
    );
    assert!(matches!(r, Ok(Event::CurrentSession(_))), "{r:?}");
}
