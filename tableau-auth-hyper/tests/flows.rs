//! Every flow and credential kind, XML and JSON, over loopback TLS against the fake: sign-in,
//! authorized calls, sign-out, server info, switch site, trusted tickets, signing out a foreign
//! token, lazy sign-in from the builder, clones sharing one session, `drive` over a custom
//! transport, and that no secret shows in events, `Debug` or errors.

mod common;

use std::time::Duration;

use common::*;
use tableau_auth_hyper::bytes::Bytes;
use tableau_auth_hyper::http_body_util::{BodyExt as _, Full, Limited};
use tableau_auth_hyper::proto::{Config, Event, Intent, Session, TicketRequest};
use tableau_auth_hyper::{DriveError, drive};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_credential_kind_signs_in_calls_and_signs_out_in_both_formats() {
    let fake = start().await;
    for format in [Format::Xml, Format::Json] {
        for kind in KINDS_EXCEPT_MINTED {
            let events = Events::default();
            let client = events
                .hook(builder(&fake).format(format))
                .build()
                .expect("client");
            let signed_in = client
                .sign_in(sign_in(&fake, kind))
                .await
                .unwrap_or_else(|e| panic!("{kind:?} {format}: {e}"));
            assert_eq!(signed_in.site_id.as_str(), sample::DEFAULT_SITE_ID);
            assert_eq!(signed_in.user_id.as_str(), sample::USER_ID);
            assert_eq!(client.generation(), 1);

            let me = whoami(&client, format).await.expect("whoami");
            assert_eq!(me.user_name, sample::USER_NAME, "{kind:?} {format}");
            let log = fake.request_log();
            let call = log.iter().rev().find(|e| e.path == CURRENT).expect("call");
            assert_eq!(call.token(), Some(token_of(&client).as_str()));

            assert_eq!(
                client.sign_out().await.expect("sign out"),
                SignOut::Confirmed
            );
            assert!(!client.is_signed_in());
            assert_eq!(
                client.sign_out().await.expect("nothing to sign out"),
                SignOut::NotSignedIn
            );
            assert_eq!(
                events.all(),
                vec![
                    SessionEvent::SignedIn { generation: 1 },
                    SessionEvent::SignedOut {
                        generation: 1,
                        outcome: SignOut::Confirmed
                    }
                ],
                "{kind:?} {format}"
            );
            // Signed out: a request is refused before anything is sent.
            let before = fake.request_log().len();
            let err = client
                .send(get_as(format, current_url(&fake)))
                .await
                .expect_err("not signed in");
            assert!(
                matches!(
                    err.as_tableau(),
                    Some(proto::Error::Misuse(proto::Misuse::NotSignedIn))
                ),
                "{err:?}"
            );
            assert_eq!(fake.request_log().len(), before);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builder_credentials_sign_in_once_on_first_use() {
    let fake = start().await;
    let events = Events::default();
    let client = events
        .hook(builder(&fake).sign_in(pat()))
        .build()
        .expect("client");
    assert!(!client.is_signed_in());
    let url = current_url(&fake);
    let tasks = spawn_gets(&client, &url, 20);
    for task in tasks {
        let response = task.await.expect("no panic").expect("a call");
        assert_eq!(parse_me(response.body()).user_id, sample::USER_ID);
    }
    assert_eq!(sign_ins(&fake.request_log()), 1, "one sign-in for 20 tasks");
    assert_eq!(events.all(), vec![SessionEvent::SignedIn { generation: 1 }]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_share_one_session() {
    let fake = start().await;
    let a = client(&fake, Format::Json);
    let b = a.clone();
    a.sign_in(password()).await.expect("sign in");
    assert_eq!(b.generation(), 1);
    assert_eq!(token_of(&a), token_of(&b));
    whoami(&b, Format::Json)
        .await
        .expect("the clone is signed in");
    let renewed = b.renew().await.expect("renew");
    assert_eq!(renewed.generation(), 2);
    assert_eq!(a.generation(), 2);
    assert_eq!(token_of(&a), token_of(&b));
    whoami(&a, Format::Json).await.expect("the new token works");
    assert_eq!(sign_ins(&fake.request_log()), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_info_switch_site_and_trusted_tickets() {
    let fake = start().await;
    for format in [Format::Xml, Format::Json] {
        let events = Events::default();
        let client = events
            .hook(builder(&fake).format(format))
            .build()
            .expect("client");
        let info = client.server_info().await.expect("server info");
        assert_eq!(info.rest_api_version.to_string(), sample::REST_API_VERSION);
        assert_eq!(info.product_version, sample::PRODUCT_VERSION);
        client
            .sign_in(SignIn::new(
                Credentials::password(sample::ADMIN_NAME, sample::ADMIN_PASSWORD),
                "",
            ))
            .await
            .expect("admin sign-in");
        let switched = client
            .switch_site(sample::FINANCE_SITE)
            .await
            .expect("switch")
            .expect("a new site");
        assert_eq!(switched.site_id.as_str(), sample::FINANCE_SITE_ID);
        assert_eq!(client.generation(), 2);
        assert_eq!(
            whoami(&client, format).await.expect("whoami").site_id,
            sample::FINANCE_SITE_ID
        );
        assert_eq!(
            client
                .switch_site(sample::FINANCE_SITE)
                .await
                .expect("same"),
            None
        );
        // A renewal lands on the site switched to.
        client.renew().await.expect("renew");
        assert_eq!(
            whoami(&client, format)
                .await
                .expect("whoami")
                .site_content_url,
            sample::FINANCE_SITE
        );
        let ticket = client
            .trusted_ticket(TicketRequest::new(sample::USER_NAME))
            .await
            .expect("ticket");
        assert!(!ticket.value().expose_secret().is_empty());
        assert_eq!(events.sign_ins(), 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_token_is_signed_out_and_a_gone_session_is_not_an_error() {
    let fake = start().await;
    let holder = client(&fake, Format::Xml);
    holder.sign_in(password()).await.expect("sign in");
    let token = proto::secret::AuthToken::new(token_of(&holder));
    let other = client(&fake, Format::Xml);
    assert_eq!(
        other.sign_out_token(token).await.expect("sign out"),
        SignOut::Confirmed
    );
    assert_eq!(
        holder.sign_out().await.expect("already gone"),
        SignOut::AlreadyGone
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_another_server_is_refused_before_sending() {
    let fake = start().await;
    let client = client(&fake, Format::Xml);
    client.sign_in(password()).await.expect("sign in");
    let before = fake.request_log().len();
    let plain = fake.base_url().replace("https://", "http://");
    for url in [
        "https://evil.example/api/3.25/sessions/current".to_owned(),
        format!("{plain}{CURRENT}"),
        format!("{}{CURRENT}", fake.http_redirect_url().expect("listener")),
    ] {
        let err = client
            .send(get_as(Format::Xml, url.parse().expect("URL")))
            .await
            .expect_err(&url);
        assert!(
            matches!(
                err.as_tableau(),
                Some(proto::Error::Misuse(proto::Misuse::ForeignUrl))
            ),
            "{url}: {err:?}"
        );
    }
    assert_eq!(fake.request_log().len(), before, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drive_runs_over_any_async_transport_and_is_send() {
    let fake = start().await;
    let transport = client(&fake, Format::Json).hyper_client();
    let base = fake.base_url().to_owned();
    let task = tokio::spawn(async move {
        let config = Config::builder(base).format(Format::Json).build()?;
        let mut session = Session::new(config);
        let send = |request: http::Request<Vec<u8>>| {
            let transport = transport.clone();
            async move {
                let response = transport
                    .request(request.map(|b| Full::new(Bytes::from(b))))
                    .await?;
                let (parts, body) = response.into_parts();
                let bytes = Limited::new(body, 1 << 20)
                    .collect()
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))?
                    .to_bytes();
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(http::Response::from_parts(
                    parts,
                    bytes.to_vec(),
                ))
            }
        };
        let event = drive(&mut session, Intent::SignIn(password()), send).await?;
        assert!(matches!(event, Event::SignedIn(_)));
        assert!(session.is_signed_in());
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(session)
    });
    let session = task.await.expect("no panic").expect("signed in");
    assert!(!session.is_busy());
    assert_eq!(sign_ins(&fake.request_log()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drive_aborts_on_transport_errors_and_cancellation() {
    let config = Config::builder("https://tableau.example.com")
        .build()
        .expect("config");
    let mut session = Session::new(config);
    let failed = drive(&mut session, Intent::ServerInfo, async |_| {
        Err::<http::Response<Vec<u8>>, _>("refused")
    })
    .await;
    assert!(matches!(failed, Err(DriveError::Transport("refused"))));
    assert!(!session.is_busy());
    let hung = tokio::time::timeout(
        Duration::from_millis(50),
        drive(&mut session, Intent::ServerInfo, async |_| {
            std::future::pending::<Result<http::Response<Vec<u8>>, ()>>().await
        }),
    )
    .await;
    assert!(hung.is_err(), "timed out");
    assert!(!session.is_busy(), "the cancelled exchange was aborted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_shows_in_events_debug_or_errors() {
    let fake = start().await;
    let events = Events::default();
    let client = events
        .hook(builder(&fake).sign_in(pat()))
        .build()
        .expect("client");
    let mut shown = vec![format!("{client:?}")];
    client.current_or_sign_in().await.expect("sign in");
    let token = token_of(&client);
    shown.push(format!("{client:?}"));
    shown.push(format!("{:?}", client.current()));
    shown.push(format!(
        "{:?}",
        client.current().expect("current").header_value()
    ));
    // A server that echoes the token in an error body.
    fake.control().add_fault(
        FaultRule::exact(
            CURRENT,
            Fault::Status {
                status: 500,
                retry_after: None,
                body: Some(tableau_error_xml("500000", "echo", &token)),
            },
        )
        .once(),
    );
    let err = client
        .send(current_request(&client))
        .await
        .expect_err("500");
    shown.push(format!("{err:?}"));
    shown.push(err.to_string());
    // A wrong password, echoed back.
    let wrong = client
        .sign_in(SignIn::new(
            Credentials::password(sample::USER_NAME, "wrong-password-SENTINEL"),
            "",
        ))
        .await
        .expect_err("wrong password");
    shown.push(format!("{wrong:?} {wrong}"));
    for event in events.all() {
        shown.push(format!("{event:?}"));
    }
    for text in &shown {
        for secret in [
            token.as_str(),
            sample::USER_PAT_SECRET,
            "wrong-password-SENTINEL",
        ] {
            assert!(!text.contains(secret), "a secret in {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_session_is_typed_in_both_formats_and_follows_the_site() {
    let fake = start().await;
    for format in [Format::Xml, Format::Json] {
        let client = client(&fake, format);
        // No session and no stored credentials: refused before anything is sent.
        let before = fake.request_log().len();
        let err = client.current_session().await.expect_err("not signed in");
        assert!(
            matches!(
                err.as_tableau(),
                Some(proto::Error::Misuse(proto::Misuse::NotSignedIn))
            ),
            "{err:?}"
        );
        assert_eq!(fake.request_log().len(), before);

        client.sign_in(password()).await.expect("sign in");
        let me = client.current_session().await.expect("sessions/current");
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

        client
            .switch_site(sample::FINANCE_SITE)
            .await
            .expect("switch")
            .expect("moved");
        let me = client.current_session().await.expect("on Finance");
        assert_eq!(me.site_id.as_str(), sample::FINANCE_SITE_ID);
        assert_eq!(me.site_name, sample::FINANCE_SITE_NAME);
        assert_eq!(me.site_content_url.as_str(), sample::FINANCE_SITE);
        assert_eq!(me.site_role.as_deref(), Some("Explorer"));
        assert_eq!(
            client.sign_out().await.expect("sign out"),
            SignOut::Confirmed
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_session_signs_in_lazily_and_replaces_a_dropped_session_once() {
    let fake = start().await;
    let events = Events::default();
    let client = events
        .hook(builder(&fake).format(Format::Json).sign_in(pat()))
        .build()
        .expect("client");
    let me = client.current_session().await.expect("lazy sign-in");
    assert_eq!(me.user_id.as_str(), sample::USER_ID);
    assert_eq!(sign_ins(&fake.request_log()), 1);
    assert_eq!(client.generation(), 1);

    // The server drops the session: one sign-in, one replay.
    fake.control().drop_sessions(None);
    let before = fake.request_log().len();
    let me = client.current_session().await.expect("recovers");
    assert_eq!(me.user_name, sample::USER_NAME);
    assert_eq!(
        describe(&log_from(&fake, before)),
        [
            "GET /api/3.25/sessions/current 401",
            "POST /api/3.25/auth/signin 200",
            "GET /api/3.25/sessions/current 200",
        ]
    );
    assert_eq!(client.generation(), 2);

    // Rejected again after the replay: SessionEnded, never a loop, no token in the error.
    let token = token_of(&client);
    fake.control()
        .add_fault(FaultRule::exact(CURRENT, session_gone()));
    let before = fake.request_log().len();
    let err = client.current_session().await.expect_err("still 401");
    assert!(
        matches!(err, Error::Tableau(proto::Error::SessionEnded { .. })),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("401002"));
    assert!(!format!("{err} {err:?}").contains(&token));
    assert_eq!(
        describe(&log_from(&fake, before)),
        [
            "GET /api/3.25/sessions/current 401",
            "POST /api/3.25/auth/signin 200",
            "GET /api/3.25/sessions/current 401",
        ]
    );
    fake.control().clear_faults();
    client.current_session().await.expect("works again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_parameters_are_percent_encoded_and_reach_the_server() {
    let fake = start().await;
    let client = client(&fake, Format::Xml);
    client.sign_in(password()).await.expect("sign in");
    let uri = client
        .site_url_with(
            "workbooks",
            [("filter", "name:eq:Regional Sales"), ("pageSize", "100")],
        )
        .expect("a URL");
    assert!(
        uri.to_string()
            .ends_with("/workbooks?filter=name:eq:Regional%20Sales&pageSize=100"),
        "{uri}"
    );
    let response = client
        .send(get_as(Format::Xml, uri))
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200);
    let sent = fake.request_log().pop().expect("logged");
    assert_eq!(
        sent.query.as_deref(),
        Some("filter=name:eq:Regional%20Sales&pageSize=100")
    );
    // Without a session there is no site to put in the URL.
    client.sign_out().await.expect("sign out");
    assert!(client.site_url_with("workbooks", [("a", "b")]).is_err());
}
