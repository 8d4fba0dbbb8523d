//! End-to-end flows of the blocking client against the fake Tableau server over loopback TLS:
//! every credential kind in both wire formats, impersonation, the caller's own REST calls, site
//! switching, sign-out, version negotiation and gates, re-sign-in after a lost session, the
//! sign-out guard, trusted tickets and revoking the server administrators' PATs.

mod common;

use std::time::Duration;

use common::*;
use tableau_auth_ureq::proto::{Ended, Expiry, TicketRequest};

// ---------------------------------------------------------------------------------------------
// The whole life of a session, per credential kind and format

/// Sign in, two authorized calls, switch to Finance, the same site again (403070), back to the
/// Default site, sign out, sign out again.
fn full_flow(kind: Kind, format: Format) {
    let fake = start();
    let control = fake.control();
    let mut client = client(&fake, format);

    // Sign in: the probe first (no version fixed), then the sign-in at the server's version.
    let signed_in = client.sign_in(sign_in(&fake, kind)).expect("sign-in");
    assert_eq!(signed_in.site_id.as_str(), sample::DEFAULT_SITE_ID);
    assert_eq!(signed_in.site_content_url.as_str(), "");
    assert!(signed_in.site_content_url.is_default());
    assert_eq!(signed_in.user_id.as_str(), sample::USER_ID);
    assert_eq!(signed_in.api_version, v("3.25"));
    assert_eq!(signed_in.moved_to, None);
    // Only a PAT sign-in carries estimatedTimeToExpiration.
    assert_eq!(
        signed_in.credentials_expire_at.is_some(),
        kind == Kind::Pat,
        "{kind:?}"
    );
    let log = fake.request_log();
    assert_eq!(
        describe(&log),
        [
            "GET /api/2.4/serverinfo 200",
            "POST /api/3.25/auth/signin 200"
        ],
        "{kind:?} {format:?}"
    );
    let signin = &log[1];
    assert_eq!(signin.header("content-type"), Some(format.media_type()));
    assert_eq!(signin.header("accept"), Some(format.media_type()));
    let body = signin.body_str();
    let field = match kind {
        Kind::Password => "password",
        Kind::Pat => "personalAccessTokenSecret",
        Kind::ReadyJwt | Kind::MintedJwt | Kind::ConnectedApp => "jwt",
    };
    assert!(body.contains(field), "{kind:?}: {body}");
    assert!(body.trim_start().starts_with('{') == (format == Format::Json));
    let token = token_of(&client);
    assert!(control.has_session(&token));
    assert_eq!(control.live_sessions(), 1);

    // The caller's own calls carry the token and read in the chosen format.
    let me = whoami(&mut client).expect("sessions/current");
    assert_eq!(
        me,
        Me {
            site_id: sample::DEFAULT_SITE_ID.into(),
            site_content_url: String::new(),
            user_id: sample::USER_ID.into(),
            user_name: sample::USER_NAME.into(),
        }
    );
    assert_eq!(
        workbook_names(&mut client).expect("workbooks"),
        ["Superstore", "Regional Sales"]
    );
    let log = fake.request_log();
    assert_eq!(log.len(), 4, "{:?}", describe(&log));
    for call in &log[2..] {
        assert_eq!(call.token(), Some(token.as_str()));
        assert_eq!(call.status, Some(200));
    }
    assert_eq!(
        log[3].path,
        format!("/api/3.25/sites/{}/workbooks", sample::DEFAULT_SITE_ID)
    );

    // Switch to Finance: a new token, the old one dead, site-scoped URLs follow.
    let switched = client
        .switch_site(sample::FINANCE_SITE)
        .expect("switch site")
        .expect("the site changed");
    assert_eq!(switched.site_id.as_str(), sample::FINANCE_SITE_ID);
    assert_eq!(switched.site_content_url.as_str(), sample::FINANCE_SITE);
    assert_eq!(switched.user_id.as_str(), sample::USER_ID);
    let finance_token = token_of(&client);
    assert_ne!(finance_token, token);
    assert!(!control.has_session(&token));
    assert!(control.has_session(&finance_token));
    assert_eq!(
        client.session().signed_in().map(|s| s.site_id.as_str()),
        Some(sample::FINANCE_SITE_ID)
    );
    let me = whoami(&mut client).expect("sessions/current on Finance");
    assert_eq!(me.site_id, sample::FINANCE_SITE_ID);
    assert_eq!(me.site_content_url, sample::FINANCE_SITE);
    assert_eq!(workbook_names(&mut client).expect("workbooks").len(), 2);
    let last = fake.request_log().pop().expect("a request");
    assert_eq!(
        last.path,
        format!("/api/3.25/sites/{}/workbooks", sample::FINANCE_SITE_ID)
    );

    // The same site again: 403070 is Ok(None) and changes nothing.
    assert_eq!(
        client.switch_site(sample::FINANCE_SITE).expect("403070"),
        None
    );
    assert_eq!(token_of(&client), finance_token);
    let last = fake.request_log().pop().expect("a request");
    assert_eq!(last.status, Some(403));

    // And back to the Default site.
    let back = client
        .switch_site("")
        .expect("switch back")
        .expect("the site changed");
    assert_eq!(back.site_id.as_str(), sample::DEFAULT_SITE_ID);
    assert_eq!(
        whoami(&mut client).expect("whoami").site_id,
        sample::DEFAULT_SITE_ID
    );

    // Sign out (204), then again: nothing is sent.
    let before = fake.request_log().len();
    assert_eq!(client.sign_out().expect("sign-out"), SignOut::Confirmed);
    assert!(!client.session().is_signed_in());
    assert_eq!(control.live_sessions(), 0);
    let log = log_from(&fake, before);
    assert_eq!(describe(&log), ["POST /api/3.25/auth/signout 204"]);
    assert_eq!(
        client.sign_out().expect("second sign-out"),
        SignOut::NotSignedIn
    );
    assert_eq!(fake.request_log().len(), before + 1, "nothing sent");
}

#[test]
fn password_xml() {
    full_flow(Kind::Password, Format::Xml);
}

#[test]
fn password_json() {
    full_flow(Kind::Password, Format::Json);
}

#[test]
fn pat_xml() {
    full_flow(Kind::Pat, Format::Xml);
}

#[test]
fn pat_json() {
    full_flow(Kind::Pat, Format::Json);
}

#[test]
fn hand_signed_jwt_xml() {
    full_flow(Kind::ReadyJwt, Format::Xml);
}

#[test]
fn hand_signed_jwt_json() {
    full_flow(Kind::ReadyJwt, Format::Json);
}

#[test]
fn core_minted_jwt_xml() {
    full_flow(Kind::MintedJwt, Format::Xml);
}

#[test]
fn core_minted_jwt_json() {
    full_flow(Kind::MintedJwt, Format::Json);
}

#[test]
fn connected_app_xml() {
    full_flow(Kind::ConnectedApp, Format::Xml);
}

#[test]
fn connected_app_json() {
    full_flow(Kind::ConnectedApp, Format::Json);
}

// ---------------------------------------------------------------------------------------------
// Impersonation

/// An administrator signs in as the normal user: the session is the normal user's.
fn impersonate(kind: Kind, format: Format) {
    let fake = start();
    fake.control()
        .update_config(|c| c.pat_impersonation_enabled = true)
        .expect("config");
    let mut client = client(&fake, format);
    let target = UserId::parse(sample::USER_ID).expect("a LUID");
    let sign_in = SignIn::new(credentials(&fake, kind, true), "").impersonate(target);
    let signed_in = client.sign_in(sign_in).expect("impersonated sign-in");
    assert_eq!(signed_in.user_id.as_str(), sample::USER_ID, "{kind:?}");
    assert_ne!(signed_in.user_id.as_str(), sample::ADMIN_ID);
    let me = whoami(&mut client).expect("whoami");
    assert_eq!(me.user_id, sample::USER_ID);
    assert_eq!(me.user_name, sample::USER_NAME);
    let signin = fake
        .request_log()
        .into_iter()
        .find(LoggedRequest::is_signin)
        .expect("a sign-in");
    assert!(signin.body_str().contains(sample::USER_ID), "{kind:?}");
}

#[test]
fn impersonation_every_kind_both_formats() {
    for kind in ALL_KINDS {
        for format in [Format::Xml, Format::Json] {
            impersonate(kind, format);
        }
    }
}

#[test]
fn impersonation_is_refused_for_a_non_admin_and_for_a_pat_when_disabled() {
    let fake = start();
    let mut client = client(&fake, Format::Xml);
    let target = UserId::parse(sample::FINANCE_USER_ID).expect("a LUID");
    let err = client
        .sign_in(password().impersonate(target.clone()))
        .expect_err("a normal user may not impersonate");
    assert_eq!(err.code(), Some("401001"), "{err:?}");
    // PAT impersonation is off in the sample config (tsm pat-impersonation).
    let admin_pat = SignIn::new(credentials(&fake, Kind::Pat, true), "")
        .impersonate(UserId::parse(sample::USER_ID).expect("a LUID"));
    let err = client.sign_in(admin_pat).expect_err("disabled");
    assert_eq!(err.code(), Some("401001"), "{err:?}");
    assert!(!client.session().is_signed_in());
}

// ---------------------------------------------------------------------------------------------
// Server info and version negotiation

#[test]
fn server_info_is_anonymous_and_sets_the_version() {
    let fake = start();
    let mut client = client(&fake, Format::Json);
    assert_eq!(client.session().api_version(), None);
    let info = client.server_info().expect("server info");
    assert_eq!(info.product_version, sample::PRODUCT_VERSION);
    assert_eq!(info.build.as_deref(), Some(sample::BUILD));
    assert_eq!(info.rest_api_version, v(sample::REST_API_VERSION));
    assert_eq!(info.platform.as_deref(), Some("linux"));
    assert!(!info.legacy);
    assert_eq!(client.session().api_version(), Some(v("3.25")));
    let log = fake.request_log();
    assert_eq!(describe(&log), ["GET /api/2.4/serverinfo 200"]);
    // The probe asks for XML (every version has it) and carries no token.
    assert_eq!(log[0].header("accept"), Some("application/xml"));
    assert_eq!(log[0].token(), None);
    // Once known, a sign-in does not probe again.
    client.sign_in(password()).expect("sign-in");
    assert_eq!(
        describe(&fake.request_log()),
        [
            "GET /api/2.4/serverinfo 200",
            "POST /api/3.25/auth/signin 200"
        ]
    );
}

#[test]
fn sign_in_probes_first_then_uses_the_negotiated_version() {
    let fake = start();
    fake.control()
        .update_config(|c| c.rest_api_version = "3.19".into())
        .expect("config");
    let mut client = client(&fake, Format::Xml);
    let signed_in = client.sign_in(pat()).expect("sign-in");
    assert_eq!(signed_in.api_version, v("3.19"));
    let log = fake.request_log();
    assert_eq!(
        describe(&log),
        [
            "GET /api/2.4/serverinfo 200",
            "POST /api/3.19/auth/signin 200"
        ]
    );
    // The caller's URLs follow the negotiated version.
    assert_eq!(
        client
            .session()
            .api_url("sessions/current")
            .expect("url")
            .path(),
        "/api/3.19/sessions/current"
    );
    whoami(&mut client).expect("whoami at 3.19");
}

#[test]
fn a_fixed_version_skips_the_probe() {
    let fake = start();
    let mut client = builder(&fake)
        .api_version(v("3.20"))
        .build()
        .expect("client");
    let signed_in = client.sign_in(password()).expect("sign-in");
    assert_eq!(signed_in.api_version, v("3.20"));
    assert_eq!(
        describe(&fake.request_log()),
        ["POST /api/3.20/auth/signin 200"]
    );
}

#[test]
fn a_legacy_server_is_probed_with_the_pre_rest_endpoint() {
    let fake = start();
    fake.control()
        .update_config(|c| {
            c.legacy_server = true;
            c.rest_api_version = "2.3".into();
            c.product_version = "10.0.2".into();
        })
        .expect("config");
    let mut client = client(&fake, Format::Xml);
    let info = client.server_info().expect("legacy server info");
    assert!(info.legacy);
    assert_eq!(info.rest_api_version, v("2.3"));
    let signed_in = client.sign_in(password()).expect("sign-in at 2.3");
    assert_eq!(signed_in.api_version, v("2.3"));
    assert_eq!(
        describe(&fake.request_log()),
        [
            "GET /api/2.4/serverinfo 404",
            "GET /auth 200",
            "POST /api/2.3/auth/signin 200"
        ]
    );
}

/// Lowers the fake's version, signs in with `sign_in` and expects a version gate before any
/// sign-in request.
fn gated(version: &str, format: Format, sign_in: impl FnOnce(&FakeServer) -> SignIn) -> Error {
    let fake = start();
    fake.control()
        .update_config(|c| c.rest_api_version = version.into())
        .expect("config");
    let mut client = client(&fake, format);
    let err = client.sign_in(sign_in(&fake)).expect_err("gated");
    let log = fake.request_log();
    assert_eq!(sign_ins(&log), 0, "{:?}", describe(&log));
    assert_eq!(describe(&log), ["GET /api/2.4/serverinfo 200"]);
    assert!(!client.session().is_signed_in());
    err
}

fn assert_unsupported(err: &Error, feature: Feature, required: &str, actual: &str) {
    match err.as_tableau() {
        Some(proto::Error::Unsupported {
            feature: f,
            required: r,
            actual: a,
        }) => {
            assert_eq!((*f, *r, *a), (feature, v(required), v(actual)), "{err}");
        }
        _ => panic!("expected Unsupported, got {err:?}"),
    }
}

#[test]
fn version_gates_stop_before_sending() {
    let err = gated("3.5", Format::Xml, |_| pat());
    assert_unsupported(&err, Feature::PersonalAccessToken, "3.6", "3.5");

    let err = gated("3.16", Format::Xml, |f| sign_in(f, Kind::ConnectedApp));
    assert_unsupported(&err, Feature::Jwt, "3.17", "3.16");
    let err = gated("3.16", Format::Json, |f| sign_in(f, Kind::ReadyJwt));
    assert_unsupported(&err, Feature::Jwt, "3.17", "3.16");

    let err = gated("3.10", Format::Xml, |f| {
        SignIn::new(credentials(f, Kind::Pat, true), "")
            .impersonate(UserId::parse(sample::USER_ID).expect("a LUID"))
    });
    assert_unsupported(
        &err,
        Feature::PersonalAccessTokenImpersonation,
        "3.11",
        "3.10",
    );

    let err = gated("2.4", Format::Json, |_| password());
    assert_unsupported(&err, Feature::Json, "2.5", "2.4");
}

#[test]
fn switch_site_is_gated_below_2_6() {
    let fake = start();
    fake.control()
        .update_config(|c| c.rest_api_version = "2.5".into())
        .expect("config");
    let mut client = client(&fake, Format::Xml);
    client.sign_in(password()).expect("password sign-in at 2.5");
    let before = fake.request_log().len();
    let err = client.switch_site(sample::FINANCE_SITE).expect_err("gated");
    assert_unsupported(&err, Feature::SwitchSite, "2.6", "2.5");
    assert_eq!(fake.request_log().len(), before, "nothing sent");
    assert!(client.session().is_signed_in());
}

// ---------------------------------------------------------------------------------------------
// Losing the session: PAT supersede, expiry, server-side drops

#[test]
fn pat_supersede_re_signs_in_once() {
    let fake = start();
    let mut first = client(&fake, Format::Xml);
    let mut second = client(&fake, Format::Xml);
    first.sign_in(pat()).expect("first sign-in");
    let first_token = token_of(&first);
    second
        .sign_in(pat())
        .expect("second sign-in with the same PAT");
    // One live session per PAT: the second sign-in ended the first.
    assert!(!fake.control().has_session(&first_token));
    assert_eq!(fake.control().live_sessions(), 1);

    let before = fake.request_log();
    let me = whoami(&mut first).expect("the first client recovers");
    assert_eq!(me.user_id, sample::USER_ID);
    let after = log_from(&fake, before.len());
    assert_eq!(
        describe(&after),
        [
            "GET /api/3.25/sessions/current 401",
            "POST /api/3.25/auth/signin 200",
            "GET /api/3.25/sessions/current 200",
        ]
    );
    assert_eq!(sign_ins(&after), 1, "exactly one extra sign-in");
    assert_eq!(after[0].token(), Some(first_token.as_str()));
    let new_token = token_of(&first);
    assert_ne!(new_token, first_token);
    assert_eq!(after[2].token(), Some(new_token.as_str()));
    assert!(after[0].body_str().is_empty());
    // The replay was the same request, and now the second client's session is the one gone.
    assert_eq!(after[2].path, after[0].path);
    assert_eq!(after[2].method, after[0].method);
    assert_eq!(second.sign_out().expect("sign-out"), SignOut::AlreadyGone);
}

#[test]
fn idle_expiry_is_recovered_on_401002_with_one_sign_in() {
    let fake = start();
    let idle = Duration::from_secs(FakeConfig::sample().idle_limit_secs);
    // The client knows the server's idle limit, but the fake's clock is the one that moves:
    // the client's own (real) clock says the session is fresh, so it learns of the expiry
    // from the 401002.
    let mut client = builder(&fake).idle_limit(idle).build().expect("client");
    client.sign_in(password()).expect("sign-in");
    whoami(&mut client).expect("whoami");
    fake.control().advance(idle + Duration::from_secs(60));
    let before = fake.request_log().len();
    let names = workbook_names(&mut client).expect("recovers");
    assert_eq!(names.len(), 2);
    let after = log_from(&fake, before);
    assert_eq!(
        describe(&after),
        [
            format!(
                "GET /api/3.25/sites/{}/workbooks 401",
                sample::DEFAULT_SITE_ID
            ),
            "POST /api/3.25/auth/signin 200".to_owned(),
            format!(
                "GET /api/3.25/sites/{}/workbooks 200",
                sample::DEFAULT_SITE_ID
            ),
        ]
    );
    assert_eq!(sign_ins(&after), 1);
}

#[test]
fn a_short_client_idle_limit_re_signs_in_proactively() {
    let fake = start();
    // 61 s with the core's 60 s margin: the client signs in again once 1 s has passed.
    let mut client = builder(&fake)
        .idle_limit(Duration::from_secs(61))
        .build()
        .expect("client");
    client.sign_in(pat()).expect("sign-in");
    let old = token_of(&client);
    std::thread::sleep(Duration::from_millis(1_200));
    fake.control().advance(Duration::from_secs(
        FakeConfig::sample().idle_limit_secs + 60,
    ));
    let before = fake.request_log().len();
    whoami(&mut client).expect("whoami");
    let after = log_from(&fake, before);
    // Proactive: the sign-in comes first and no request ever met a 401.
    assert_eq!(
        describe(&after),
        [
            "POST /api/3.25/auth/signin 200",
            "GET /api/3.25/sessions/current 200",
        ]
    );
    assert_ne!(token_of(&client), old);
}

#[test]
fn credentials_about_to_expire_do_not_sign_in_on_every_call() {
    let fake = start();
    // The PAT expires in 30 s by the fake's clock: within the client's 60 s expiry margin from
    // the moment it signs in, so a renewal could never help (the new session would be due too).
    expire_user_pat_in(&fake, 30);
    let (callback, take) = recorder();
    let mut client = builder(&fake).on_event(callback).build().expect("client");
    let signed_in = client.sign_in(pat()).expect("sign-in");
    assert!(signed_in.credentials_expire_at.is_some(), "{signed_in:?}");
    let token = token_of(&client);
    let before = fake.request_log().len();
    for _ in 0..3 {
        whoami(&mut client).expect("whoami");
    }
    client.current_session().expect("sessions/current");
    assert_eq!(workbook_names(&mut client).expect("workbooks").len(), 2);
    let after = log_from(&fake, before);
    assert_eq!(sign_ins(&after), 0, "{:?}", describe(&after));
    assert_eq!(after.len(), 5, "{:?}", describe(&after));
    assert!(after.iter().all(|e| e.token() == Some(token.as_str())));
    assert_eq!(client.generation(), 1);
    // One sign-in, one warning that the PAT is about to expire; no renewal.
    assert_eq!(
        take(),
        [
            SessionEvent::SignedIn { generation: 1 },
            SessionEvent::CredentialsExpiring {
                generation: 1,
                remaining: Duration::ZERO
            }
        ]
    );
}

#[test]
fn a_failed_proactive_renewal_is_not_fatal() {
    for fault in [status(500, None), Fault::DropConnection] {
        let fake = start();
        let (callback, take) = recorder();
        // 61 s with the core's 60 s margin: a renewal is due once 1 s has passed.
        let mut client = builder(&fake)
            .idle_limit(Duration::from_secs(61))
            .on_event(callback)
            .build()
            .expect("client");
        client.sign_in(pat()).expect("sign-in");
        let token = token_of(&client);
        std::thread::sleep(Duration::from_millis(1_200));
        fake.control()
            .add_fault(FaultRule::exact(SIGNIN, fault.clone()).once());
        let before = fake.request_log().len();
        let me = whoami(&mut client).expect("the call goes on with the old token");
        assert_eq!(me.user_id, sample::USER_ID, "{fault:?}");
        let after = log_from(&fake, before);
        assert_eq!(after.len(), 2, "{fault:?}: {:?}", describe(&after));
        assert!(after[0].is_signin(), "{fault:?}: {:?}", describe(&after));
        assert_eq!(after[1].path, CURRENT);
        assert_eq!(after[1].status, Some(200));
        assert_eq!(after[1].token(), Some(token.as_str()), "{fault:?}");
        assert_eq!(token_of(&client), token);
        assert_eq!(client.generation(), 1);
        let events = take();
        assert!(
            matches!(
                events.as_slice(),
                [
                    SessionEvent::SignedIn { generation: 1 },
                    SessionEvent::RenewalFailed { generation: 1, .. },
                ]
            ),
            "{fault:?}: {events:?}"
        );
        // The renewal pauses after a failure (a quarter of the margin): a call made once it
        // would be due again does not try again yet.
        std::thread::sleep(Duration::from_millis(1_200));
        let before = fake.request_log().len();
        whoami(&mut client).expect("whoami");
        let after = log_from(&fake, before);
        assert_eq!(
            describe(&after),
            ["GET /api/3.25/sessions/current 200"],
            "{fault:?}"
        );
    }
}

#[test]
fn a_re_sign_in_after_a_site_switch_lands_on_the_new_site() {
    let fake = start();
    let mut client = client(&fake, Format::Json);
    client.sign_in(password()).expect("sign-in");
    client
        .switch_site(sample::FINANCE_SITE)
        .expect("switch")
        .expect("moved");
    // The request is built for the Finance site before the session is lost.
    let request = workbooks_request(&client);
    fake.control().drop_sessions(None);
    let before = fake.request_log().len();
    let response = client.send(request).expect("recovers");
    assert_eq!(response.status(), 200);
    let after = log_from(&fake, before);
    assert_eq!(sign_ins(&after), 1, "{:?}", describe(&after));
    let signin = after.iter().find(|e| e.is_signin()).expect("a sign-in");
    let body: serde_json::Value = serde_json::from_slice(&signin.body).expect("JSON body");
    assert_eq!(
        body["credentials"]["site"]["contentUrl"],
        sample::FINANCE_SITE
    );
    assert_eq!(
        client.session().signed_in().map(|s| s.site_id.as_str()),
        Some(sample::FINANCE_SITE_ID)
    );
    assert_eq!(
        whoami(&mut client).expect("whoami").site_content_url,
        sample::FINANCE_SITE
    );
}

#[test]
fn a_second_401_after_the_replay_is_an_error_not_a_loop() {
    let fake = start();
    let mut client = client(&fake, Format::Xml);
    client.sign_in(password()).expect("sign-in");
    fake.control()
        .add_fault(FaultRule::exact(CURRENT, session_gone()));
    let before = fake.request_log().len();
    let err = whoami(&mut client).expect_err("still 401");
    assert_eq!(err.code(), Some("401002"), "{err:?}");
    // The core's verdict: the session ended again after its one re-sign-in; the server's
    // rejection is its root.
    assert_session_ended(&err);
    let after = log_from(&fake, before);
    assert_eq!(
        describe(&after),
        [
            "GET /api/3.25/sessions/current 401",
            "POST /api/3.25/auth/signin 200",
            "GET /api/3.25/sessions/current 401",
        ]
    );
    // The session stays usable once the server behaves.
    fake.control().clear_faults();
    whoami(&mut client).expect("whoami");
}

#[test]
fn a_failed_re_sign_in_is_a_typed_error_with_a_bounded_log() {
    let fake = start();
    let mut client = client(&fake, Format::Json);
    client.sign_in(pat()).expect("sign-in");
    // The PAT is revoked and its session ends: re-signing in fails with 401001.
    fake.control()
        .update_config(|c| {
            for p in &mut c.pats {
                if p.name == sample::USER_PAT_NAME {
                    p.revoked = true;
                }
            }
        })
        .expect("config");
    assert_eq!(fake.control().drop_sessions(None), 1);
    for _ in 0..2 {
        let before = fake.request_log().len();
        let err = whoami(&mut client).expect_err("revoked");
        assert_eq!(err.code(), Some("401001"), "{err:?}");
        assert!(!err.as_tableau().is_some_and(proto::Error::is_reauth_needed));
        assert!(
            matches!(err.as_tableau(), Some(proto::Error::SignInFailed(_))),
            "{err:?}"
        );
        assert_eq!(
            describe(&log_from(&fake, before)),
            [
                "GET /api/3.25/sessions/current 401",
                "POST /api/3.25/auth/signin 401",
            ]
        );
    }
}

#[test]
fn a_ready_jwt_cannot_sign_in_twice_but_a_connected_app_can() {
    // A ready-made JWT is replayed verbatim on re-sign-in; its jti was used: 401001.
    let fake = start();
    let mut client = client(&fake, Format::Xml);
    client
        .sign_in(sign_in(&fake, Kind::ReadyJwt))
        .expect("sign-in");
    fake.control().drop_sessions(None);
    let before = fake.request_log().len();
    let err = whoami(&mut client).expect_err("the JWT was used");
    assert_eq!(err.code(), Some("401001"), "{err:?}");
    assert_eq!(sign_ins(&log_from(&fake, before)), 1);
    assert_eq!(log_from(&fake, before).len(), 2);

    // A connected app mints a fresh JWT (new jti, new exp) for the re-sign-in.
    let mut client = client_for_app(&fake);
    fake.control().drop_sessions(None);
    let before = fake.request_log().len();
    whoami(&mut client).expect("a fresh JWT signs in again");
    let after = log_from(&fake, before);
    assert_eq!(sign_ins(&after), 1);
    let jwts: Vec<String> = fake
        .request_log()
        .iter()
        .filter(|e| e.is_signin() && e.status == Some(200))
        .map(|e| e.body_str().into_owned())
        .collect();
    assert_eq!(jwts.len(), 3);
    assert_ne!(jwts[1], jwts[2], "a new JWT for each sign-in");
}

/// A [`proto::Error::SessionEnded`] whose root is the server's rejection (`401002`).
fn assert_session_ended(err: &Error) {
    let Some(proto::Error::SessionEnded { source, .. }) = err.as_tableau() else {
        panic!("expected SessionEnded, got {err:?}");
    };
    assert!(source.is_reauth_needed(), "{source:?}");
    assert!(
        err.as_tableau()
            .is_some_and(|e| e.root().is_reauth_needed())
    );
    assert!(!err.as_tableau().is_some_and(proto::Error::is_reauth_needed));
}

fn client_for_app(fake: &FakeServer) -> Client {
    let mut client = client(fake, Format::Xml);
    client
        .sign_in(sign_in(fake, Kind::ConnectedApp))
        .expect("sign-in");
    client
}

#[test]
fn sign_out_of_a_dropped_session_is_already_gone() {
    for format in [Format::Xml, Format::Json] {
        let fake = start();
        let mut client = client(&fake, format);
        client.sign_in(password()).expect("sign-in");
        assert_eq!(fake.control().drop_sessions(Some(sample::USER_NAME)), 1);
        let before = fake.request_log().len();
        assert_eq!(
            client.sign_out().expect("not an error"),
            SignOut::AlreadyGone
        );
        assert!(!client.session().is_signed_in());
        assert_eq!(
            describe(&log_from(&fake, before)),
            ["POST /api/3.25/auth/signout 401"]
        );
    }
}

#[test]
fn sign_out_token_ends_a_session_saved_elsewhere() {
    let fake = start();
    let mut owner = client(&fake, Format::Xml);
    owner.sign_in(password()).expect("sign-in");
    let token = owner.session().token().expect("a token").clone();
    let mut other = client(&fake, Format::Json);
    assert_eq!(
        other.sign_out_token(token.clone()).expect("sign-out"),
        SignOut::Confirmed
    );
    assert_eq!(fake.control().live_sessions(), 0);
    assert_eq!(
        other.sign_out_token(token).expect("again"),
        SignOut::AlreadyGone
    );
    // The probe ran once, for the version.
    assert_eq!(
        describe(&fake.request_log())[2..],
        [
            "GET /api/2.4/serverinfo 200",
            "POST /api/3.25/auth/signout 204",
            "POST /api/3.25/auth/signout 401",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// The sign-out guard

#[test]
fn the_guard_signs_out_on_drop() {
    let fake = start();
    let mut client = client(&fake, Format::Xml);
    {
        let mut guard = client.sign_in_guard(pat()).expect("sign-in");
        assert_eq!(whoami(&mut guard).expect("whoami").user_id, sample::USER_ID);
        assert_eq!(fake.control().live_sessions(), 1);
    }
    assert_eq!(fake.control().live_sessions(), 0);
    let log = fake.request_log();
    assert_eq!(
        describe(&log).last().map(String::as_str),
        Some("POST /api/3.25/auth/signout 204")
    );
    assert!(!client.session().is_signed_in());
}

#[test]
fn the_guard_signs_out_while_unwinding() {
    let fake = start();
    let mut client = client(&fake, Format::Xml);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = client.sign_in_guard(password()).expect("sign-in");
        panic!("the caller's own failure");
    }));
    assert!(result.is_err());
    assert_eq!(fake.control().live_sessions(), 0);
    assert_eq!(
        describe(&fake.request_log()).last().map(String::as_str),
        Some("POST /api/3.25/auth/signout 204")
    );
}

#[test]
fn with_sign_in_signs_out_after_the_body_succeeded_failed_or_panicked() {
    let fake = start();
    let mut client = client(&fake, Format::Xml);
    let me = client
        .with_sign_in(password(), |client| client.current_session())
        .expect("the body's value");
    assert_eq!(me.user_name, sample::USER_NAME);
    assert_eq!(fake.control().live_sessions(), 0);
    assert!(!client.session().is_signed_in());

    let failed: Result<(), Error> = client.with_sign_in(password(), |client| {
        assert!(client.session().is_signed_in());
        Err(Error::Transport("the body's own failure".to_owned()))
    });
    assert!(
        matches!(&failed, Err(Error::Transport(m)) if m == "the body's own failure"),
        "{failed:?}"
    );
    assert_eq!(fake.control().live_sessions(), 0);

    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _: Result<(), Error> = client.with_sign_in(password(), |_| panic!("the body panics"));
    }));
    assert!(unwound.is_err());
    assert_eq!(
        fake.control().live_sessions(),
        0,
        "signed out while unwinding"
    );
    assert_eq!(
        describe(&fake.request_log()).last().map(String::as_str),
        Some("POST /api/3.25/auth/signout 204")
    );
}

#[test]
fn the_guard_never_panics_when_signing_out_fails() {
    for fault in [
        Fault::Status {
            status: 500,
            retry_after: None,
            body: None,
        },
        Fault::DropConnection,
    ] {
        let fake = start();
        fake.control()
            .add_fault(FaultRule::exact(SIGNOUT, fault.clone()));
        let mut client = client(&fake, Format::Xml);
        {
            let _guard = client.sign_in_guard(password()).expect("sign-in");
        }
        let log = fake.request_log();
        let last = log.last().expect("a request");
        assert_eq!(last.path, SIGNOUT, "{fault:?}");
        // The server still holds the session; the client kept its token (the exchange failed).
        assert_eq!(fake.control().live_sessions(), 1, "{fault:?}");
        assert!(client.session().is_signed_in());
        assert!(!client.session().is_busy());
        // And the client is still usable.
        fake.control().clear_faults();
        assert_eq!(client.sign_out().expect("sign-out"), SignOut::Confirmed);
    }
}

#[test]
fn the_guard_reports_an_explicit_sign_out_and_can_keep_the_session() {
    let fake = start();
    let mut client = client(&fake, Format::Json);
    let guard = client.sign_in_guard(password()).expect("sign-in");
    assert_eq!(guard.sign_out().expect("sign-out"), SignOut::Confirmed);
    assert_eq!(fake.control().live_sessions(), 0);
    let sign_outs = |fake: &FakeServer| {
        fake.request_log()
            .iter()
            .filter(|e| e.path == SIGNOUT)
            .count()
    };
    assert_eq!(sign_outs(&fake), 1, "not signed out twice");

    let guard = client.sign_in_guard(password()).expect("sign-in");
    guard.keep();
    assert_eq!(fake.control().live_sessions(), 1);
    assert_eq!(sign_outs(&fake), 1);
    assert!(client.session().is_signed_in());
}

// ---------------------------------------------------------------------------------------------
// Trusted tickets

#[test]
fn trusted_tickets_are_issued_and_redeem_once() {
    for (site, user) in [
        ("", sample::USER_NAME),
        (sample::FINANCE_SITE, sample::FINANCE_USER_NAME),
    ] {
        let fake = start();
        let mut client = client(&fake, Format::Xml);
        let ticket = client
            .trusted_ticket(TicketRequest::new(user).target_site(site))
            .expect("a ticket");
        assert_eq!(ticket.site().as_str(), site);
        assert!(
            !client.session().is_signed_in(),
            "a ticket is not a session"
        );
        let issue = fake.request_log().pop().expect("the request");
        assert_eq!(
            (issue.method.as_str(), issue.path.as_str()),
            ("POST", "/trusted")
        );
        assert_eq!(
            issue.header("content-type"),
            Some("application/x-www-form-urlencoded; charset=UTF-8")
        );
        assert!(
            issue.body_str().contains("username="),
            "{}",
            issue.body_str()
        );
        let url = ticket.redemption_url("Superstore", "Overview");
        let url = url.expose_secret();
        assert!(
            url.starts_with(&format!("{}/trusted/", fake.base_url())),
            "{url}"
        );
        assert_eq!(url.contains("/t/Finance/"), !site.is_empty(), "{url}");
        assert!(!format!("{ticket:?}").contains(ticket.value().expose_secret()));

        let agent = plain_agent(&fake);
        // Redemption redirects to the view without the ticket, with a session cookie.
        let first = agent.get(url).call().expect("redeem");
        assert_eq!(first.status(), 302);
        let view = if site.is_empty() {
            "/views/Superstore/Overview".to_owned()
        } else {
            format!("/t/{site}/views/Superstore/Overview")
        };
        assert_eq!(
            first
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok()),
            Some(view.as_str())
        );
        assert!(first.headers().contains_key("set-cookie"));
        let second = agent.get(url).call().expect("redeem again");
        assert_eq!(second.status(), 401, "a ticket redeems once");
    }
}

#[test]
fn refused_tickets_are_ticket_refused() {
    let fake = start();
    let mut client = client(&fake, Format::Xml);
    let refused = |client: &mut Client, request: TicketRequest| match client.trusted_ticket(request)
    {
        Err(Error::Tableau(proto::Error::TicketRefused)) => {}
        other => panic!("expected TicketRefused, got {other:?}"),
    };
    refused(&mut client, TicketRequest::new("nobody"));
    // The Finance-only user is not on the Default site; jsmith is not on an unknown site.
    refused(&mut client, TicketRequest::new(sample::FINANCE_USER_NAME));
    refused(
        &mut client,
        TicketRequest::new(sample::USER_NAME).target_site("finance"),
    );
    // This host is not a trusted host any more.
    fake.control()
        .update_config(|c| c.trusted_hosts.clear())
        .expect("config");
    refused(&mut client, TicketRequest::new(sample::USER_NAME));
    let log = fake.request_log();
    assert_eq!(log.len(), 4);
    assert!(
        log.iter()
            .all(|e| e.status == Some(200) && e.path == "/trusted")
    );
    // A refusal leaves the client usable.
    fake.control()
        .update_config(|c| c.trusted_hosts = vec!["127.0.0.1".into()])
        .expect("config");
    client
        .trusted_ticket(TicketRequest::new(sample::USER_NAME))
        .expect("a ticket");
}

// ---------------------------------------------------------------------------------------------
// sessions/current, read by the core

#[test]
fn current_session_is_typed_in_both_formats_and_follows_the_site() {
    let fake = start();
    for format in [Format::Xml, Format::Json] {
        let mut client = client(&fake, format);
        client.sign_in(password()).expect("sign-in");
        let me = client.current_session().expect("sessions/current");
        assert_eq!(me.site_id.as_str(), sample::DEFAULT_SITE_ID);
        assert_eq!(me.site_name, sample::DEFAULT_SITE_NAME);
        assert!(me.site_content_url.is_default());
        assert_eq!(me.user_id.as_str(), sample::USER_ID);
        assert_eq!(me.user_name, sample::USER_NAME);
        assert_eq!(me.site_role.as_deref(), Some("Creator"));
        let last = fake.request_log().pop().expect("a request");
        assert_eq!(
            describe(std::slice::from_ref(&last)),
            ["GET /api/3.25/sessions/current 200"]
        );
        assert_eq!(last.header("accept"), Some(format.media_type()));
        assert_eq!(last.token(), Some(token_of(&client).as_str()));
        assert!(last.body_str().is_empty());

        client
            .switch_site(sample::FINANCE_SITE)
            .expect("switch")
            .expect("moved");
        let me = client
            .current_session()
            .expect("sessions/current on Finance");
        assert_eq!(me.site_id.as_str(), sample::FINANCE_SITE_ID);
        assert_eq!(me.site_name, sample::FINANCE_SITE_NAME);
        assert_eq!(me.site_content_url.as_str(), sample::FINANCE_SITE);
        assert_eq!(me.site_role.as_deref(), Some("Explorer"));

        assert_eq!(client.sign_out().expect("sign-out"), SignOut::Confirmed);
        let before = fake.request_log().len();
        let err = client.current_session().expect_err("no session");
        assert!(
            matches!(
                err.as_tableau(),
                Some(proto::Error::Misuse(proto::Misuse::NotSignedIn))
            ),
            "{err:?}"
        );
        assert_eq!(fake.request_log().len(), before, "nothing sent");
    }
}

#[test]
fn current_session_re_signs_in_once_when_superseded() {
    let fake = start();
    let mut first = client(&fake, Format::Json);
    let mut second = client(&fake, Format::Json);
    first.sign_in(pat()).expect("first sign-in");
    let first_token = token_of(&first);
    second
        .sign_in(pat())
        .expect("the same PAT ends the first session");
    let before = fake.request_log().len();
    let me = first.current_session().expect("the first client recovers");
    assert_eq!(me.user_id.as_str(), sample::USER_ID);
    let after = log_from(&fake, before);
    assert_eq!(
        describe(&after),
        [
            "GET /api/3.25/sessions/current 401",
            "POST /api/3.25/auth/signin 200",
            "GET /api/3.25/sessions/current 200",
        ]
    );
    assert_eq!(after[0].token(), Some(first_token.as_str()));
    assert_eq!(after[2].token(), Some(token_of(&first).as_str()));
    assert_ne!(token_of(&first), first_token);
    assert_eq!(second.sign_out().expect("sign-out"), SignOut::AlreadyGone);
}

#[test]
fn current_session_rejected_twice_is_a_typed_error_without_the_token() {
    let fake = start();
    let mut client = client(&fake, Format::Xml);
    client.sign_in(password()).expect("sign-in");
    let token = token_of(&client);
    fake.control()
        .add_fault(FaultRule::exact(CURRENT, session_gone()));
    let before = fake.request_log().len();
    let err = client.current_session().expect_err("still 401");
    assert_eq!(err.code(), Some("401002"), "{err:?}");
    assert_session_ended(&err);
    assert!(!format!("{err} {err:?}").contains(&token));
    let after = log_from(&fake, before);
    assert_eq!(
        describe(&after),
        [
            "GET /api/3.25/sessions/current 401",
            "POST /api/3.25/auth/signin 200",
            "GET /api/3.25/sessions/current 401",
        ]
    );
    // The core kept the (re-signed-in) session: it works once the server behaves.
    assert!(client.session().is_signed_in());
    fake.control().clear_faults();
    assert_eq!(
        client.current_session().expect("whoami").user_name,
        sample::USER_NAME
    );
}

// ----- the event callback -------------------------------------------------------------------

#[test]
fn a_pat_close_to_its_end_is_a_warning_event_unless_turned_off() {
    let fake = start();
    expire_user_pat_in(&fake, 2 * 24 * 3600);
    let (callback, take) = recorder();
    let mut client = builder(&fake).on_event(callback).build().expect("client");
    client.sign_in(pat()).expect("sign-in");
    let events = take();
    assert!(
        matches!(
            events[..],
            [
                SessionEvent::SignedIn { generation: 1 },
                SessionEvent::CredentialsExpiring { generation: 1, remaining }
            ] if remaining <= Duration::from_secs(2 * 24 * 3600)
        ),
        "{events:?}"
    );
    let (callback, take) = recorder();
    let mut client = builder(&fake)
        .credentials_warning(Duration::ZERO)
        .on_event(callback)
        .build()
        .expect("client");
    client.sign_in(pat()).expect("sign-in");
    assert_eq!(take(), [SessionEvent::SignedIn { generation: 1 }]);
}

#[test]
fn the_event_callback_tells_each_step_of_the_session() {
    let fake = start();
    let (callback, take) = recorder();
    let mut client = builder(&fake).on_event(callback).build().expect("client");
    assert_eq!(client.generation(), 0);

    client.sign_in(pat()).expect("sign-in");
    assert_eq!(take(), [SessionEvent::SignedIn { generation: 1 }]);
    client.switch_site(sample::FINANCE_SITE).expect("switch");
    assert_eq!(take(), [SessionEvent::SignedIn { generation: 2 }]);
    client
        .switch_site(sample::FINANCE_SITE)
        .expect("already there");
    assert_eq!(take(), [], "403070: no new token, no event");

    // The server drops the session while, by the client's clock, nothing could have expired.
    assert_eq!(fake.control().drop_sessions(None), 1);
    client.current_session().expect("renewed, then answered");
    assert_eq!(
        take(),
        [
            SessionEvent::Ended {
                generation: 2,
                reason: Ended::Superseded
            },
            SessionEvent::Renewed {
                generation: 3,
                reason: RenewReason::Rejected(Ended::Superseded)
            },
        ]
    );

    // A 429 that asks for no wait: one throttle event, then the answer.
    fake.control()
        .add_fault(FaultRule::exact(CURRENT, status(429, Some("0"))).once());
    client.current_session().expect("after the wait");
    assert_eq!(
        take(),
        [SessionEvent::Throttled {
            delay: Duration::ZERO,
            status: http::StatusCode::TOO_MANY_REQUESTS
        }]
    );

    // A renewal that fails: the PAT is revoked, then the session dropped.
    fake.control()
        .update_config(|c| c.pats.iter_mut().for_each(|p| p.revoked = true))
        .expect("config");
    fake.control().drop_sessions(None);
    let err = client.current_session().expect_err("the PAT is revoked");
    assert_eq!(err.code(), Some("401001"), "{err:?}");
    let events = take();
    assert!(
        matches!(
            events.as_slice(),
            [
                SessionEvent::Ended {
                    generation: 3,
                    reason: Ended::Superseded
                },
                SessionEvent::RenewalFailed { generation: 3, error },
            ] if error.contains("401001")
        ),
        "{events:?}"
    );
    assert!(!format!("{events:?}").contains(sample::USER_PAT_SECRET));

    assert_eq!(client.sign_out().expect("sign-out"), SignOut::AlreadyGone);
    assert_eq!(
        take(),
        [SessionEvent::SignedOut {
            generation: 3,
            outcome: SignOut::AlreadyGone
        }]
    );
    assert_eq!(
        client.sign_out().expect("nothing to do"),
        SignOut::NotSignedIn
    );
    assert_eq!(take(), [], "no session, no event");
    assert_eq!(client.generation(), 3);
}

#[test]
fn the_event_callback_tells_a_proactive_renewal_and_why() {
    let fake = start();
    let (callback, take) = recorder();
    // 61 s with the core's 60 s margin: the client signs in again once 1 s has passed.
    let mut client = builder(&fake)
        .idle_limit(Duration::from_secs(61))
        .on_event(callback)
        .build()
        .expect("client");
    client.sign_in(pat()).expect("sign-in");
    std::thread::sleep(Duration::from_millis(1_200));
    client.current_session().expect("renewed first");
    assert_eq!(
        take(),
        [
            SessionEvent::SignedIn { generation: 1 },
            SessionEvent::Renewed {
                generation: 2,
                reason: RenewReason::Expiring(Expiry::IdleLimit)
            },
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Revoking the server administrators' personal access tokens (the flows run on every driver:
// tests/tests/scenarios.rs, `revoking_the_admins_pats`)

/// A sign-in of the sample's server administrator with `kind`.
fn admin(fake: &FakeServer, kind: Kind) -> SignIn {
    SignIn::new(credentials(fake, kind, true), "")
}

#[test]
fn revoke_server_admin_tokens_is_gated_below_3_11() {
    let fake = start();
    fake.control()
        .update_config(|c| c.rest_api_version = "3.10".into())
        .expect("config");
    let mut client = client(&fake, Format::Xml);
    client
        .sign_in(admin(&fake, Kind::Password))
        .expect("the admin signs in at 3.10");
    let before = fake.request_log().len();
    let err = client
        .revoke_server_admin_tokens()
        .expect_err("gated below 3.11");
    assert_unsupported(&err, Feature::RevokeServerAdminTokens, "3.11", "3.10");
    assert_eq!(fake.request_log().len(), before, "nothing sent");
    assert!(client.session().is_signed_in());
    assert!(
        fake.control()
            .config()
            .pats
            .iter()
            .any(|p| p.name == sample::ADMIN_PAT_NAME && !p.revoked)
    );
}
