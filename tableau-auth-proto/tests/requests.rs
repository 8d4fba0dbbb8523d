//! Snapshots of every request the core builds: each intent × wire format × credential kind,
//! with secrets masked (method, URI, sorted headers, body).

mod support;

use std::net::Ipv4Addr;

use support::*;
use tableau_auth_proto::http::{Request, Response};
use tableau_auth_proto::{
    ApiVersion, Format, Intent, Session, SiteContentUrl, TicketRequest, UserId,
};

const FORMATS: [(&str, Format); 2] = [("xml", Format::Xml), ("json", Format::Json)];

fn snapshot(name: &str, request: &Request<Vec<u8>>) {
    let rendered = render(request);
    assert!(
        !rendered.contains(SENTINEL),
        "an unmasked secret in {name}:\n{rendered}"
    );
    insta::assert_snapshot!(name, rendered);
}

#[test]
fn sign_in_requests_for_every_credential_kind_and_format() {
    for (format_name, format) in FORMATS {
        for impersonate in [false, true] {
            for (kind, credentials) in all_credentials() {
                let mut session = Session::new(config(format, Some(ApiVersion::new(3, 27))));
                let mut intent = sign_in(credentials, "Finance");
                if impersonate {
                    intent = intent.impersonate(UserId::parse(IMPERSONATED).unwrap());
                }
                let (sent, _) = drive(
                    &mut session,
                    intent.into(),
                    vec![response(200, sign_in_body(format))],
                );
                let suffix = if impersonate { "_impersonating" } else { "" };
                snapshot(&format!("sign_in_{kind}_{format_name}{suffix}"), &sent[0]);
            }
        }
    }
}

#[test]
fn sign_in_to_the_default_site_sends_an_empty_content_url() {
    for (format_name, format) in FORMATS {
        let mut session = Session::new(config(format, Some(ApiVersion::new(3, 25))));
        let creds = tableau_auth_proto::Credentials::password("jsmith", PASSWORD);
        let (sent, _) = drive(
            &mut session,
            sign_in(creds, "").into(),
            vec![response(200, sign_in_body(format))],
        );
        snapshot(&format!("sign_in_default_site_{format_name}"), &sent[0]);
    }
}

#[test]
fn negotiation_probes_serverinfo_then_signs_in_at_the_servers_version() {
    for (format_name, format) in FORMATS {
        let mut session = Session::new(config(format, None));
        let creds = tableau_auth_proto::Credentials::personal_access_token(PAT_NAME, PAT_SECRET);
        let (sent, result) = drive(
            &mut session,
            sign_in(creds, "Finance").into(),
            vec![
                response(200, fixture("serverinfo.xml")),
                response(200, sign_in_body(format)),
            ],
        );
        assert!(result.is_ok(), "{result:?}");
        snapshot(&format!("negotiate_probe_{format_name}"), &sent[0]);
        snapshot(&format!("negotiate_sign_in_{format_name}"), &sent[1]);
    }
}

#[test]
fn legacy_servers_are_probed_at_auth_format_xml() {
    let mut session = Session::new(config(Format::Xml, None));
    let (sent, result) = drive(
        &mut session,
        Intent::ServerInfo,
        vec![
            response(404, fixture("error_404003.xml")),
            response(200, fixture("authinfo_9_3.xml")),
        ],
    );
    assert!(result.is_ok(), "{result:?}");
    snapshot("legacy_probe", &sent[1]);
}

#[test]
fn sign_out_and_switch_site_carry_the_token_as_a_sensitive_header() {
    for (format_name, format) in FORMATS {
        let mut session = signed_in(format);
        let (sent, _) = drive(
            &mut session,
            Intent::SwitchSite(SiteContentUrl::new("Marketing")),
            vec![response(200, fixture(&format!("switchsite.{format_name}")))],
        );
        snapshot(&format!("switch_site_{format_name}"), &sent[0]);
        let (sent, _) = drive(&mut session, Intent::SignOut, vec![response(204, "")]);
        snapshot(&format!("sign_out_{format_name}"), &sent[0]);
    }
}

#[test]
fn current_session_is_a_get_with_the_token_as_a_sensitive_header() {
    for (format_name, format) in FORMATS {
        let mut session = signed_in(format);
        let (sent, result) = drive(
            &mut session,
            Intent::CurrentSession,
            vec![response(
                200,
                fixture(&format!("session_current.{format_name}")),
            )],
        );
        assert!(result.is_ok(), "{result:?}");
        assert!(sent[0].body().is_empty(), "a GET without a body");
        assert!(sent[0].headers()["x-tableau-auth"].is_sensitive());
        snapshot(&format!("current_session_{format_name}"), &sent[0]);
    }
}

#[test]
fn revoking_the_admins_pats_is_a_delete_with_the_token_as_a_sensitive_header() {
    for (format_name, format) in FORMATS {
        let mut session = signed_in(format);
        let (sent, result) = drive(
            &mut session,
            Intent::RevokeServerAdminTokens,
            vec![response(204, "")],
        );
        assert!(result.is_ok(), "{result:?}");
        assert!(sent[0].body().is_empty(), "a DELETE without a body");
        assert!(sent[0].headers()["x-tableau-auth"].is_sensitive());
        snapshot(
            &format!("revoke_server_admin_tokens_{format_name}"),
            &sent[0],
        );
    }
}

#[test]
fn trusted_ticket_requests_are_form_encoded() {
    let cases = [
        ("ticket_default_site", TicketRequest::new("jsmith")),
        (
            "ticket_named_site_with_client_ip",
            TicketRequest::new("CORP\\j smith&co")
                .target_site("Sales EMEA")
                .client_ip(Ipv4Addr::new(203, 0, 113, 25)),
        ),
    ];
    for (name, ticket) in cases {
        let mut session = Session::new(config(Format::Xml, Some(ApiVersion::new(3, 25))));
        let (sent, _) = drive(
            &mut session,
            ticket.into(),
            vec![response(200, fixture("ticket_10_2.txt"))],
        );
        snapshot(name, &sent[0]);
    }
}

/// A session for a plain-http URL (with a fixed version), and the server's answer to its
/// anonymous probe: a redirect to https.
fn over_plain_http() -> (Session, Response<Vec<u8>>) {
    let cfg = tableau_auth_proto::Config::builder("http://tableau.example.com")
        .api_version(ApiVersion::new(3, 25))
        .user_agent(USER_AGENT)
        .build()
        .unwrap();
    let redirect = with_header(
        response(301, ""),
        "location",
        "https://tableau.example.com/api/2.4/serverinfo",
    );
    (Session::new(cfg), redirect)
}

#[test]
fn over_plain_http_the_probe_runs_first_so_a_redirect_moves_credentials_to_https() {
    // Even with a fixed version: the anonymous probe finds out whether http redirects.
    let (mut session, redirect) = over_plain_http();
    let creds = tableau_auth_proto::Credentials::password("jsmith", PASSWORD);
    let (sent, result) = drive(
        &mut session,
        sign_in(creds, "Finance").into(),
        vec![
            redirect,
            response(200, fixture("serverinfo.xml")),
            response(200, sign_in_body(Format::Xml)),
        ],
    );
    snapshot("http_probe_first", &sent[0]);
    snapshot("http_probe_then_https", &sent[1]);
    snapshot("http_probe_then_sign_in_over_https", &sent[2]);
    match result {
        Ok(tableau_auth_proto::Event::SignedIn(s)) => {
            assert_eq!(s.moved_to.as_deref(), Some("https://tableau.example.com"));
            assert_eq!(
                s.api_version,
                ApiVersion::new(3, 25),
                "a fixed version stays fixed"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(session.base_url(), "https://tableau.example.com");
}

#[test]
fn a_saved_token_goes_to_https_only_after_the_probe_and_in_a_sensitive_header() {
    let (mut session, redirect) = over_plain_http();
    let (sent, result) = drive(
        &mut session,
        Intent::Resume(tableau_auth_proto::secret::AuthToken::new(TOKEN)),
        vec![
            redirect,
            response(200, fixture("serverinfo.xml")),
            response(200, fixture("session_current.xml")),
        ],
    );
    assert!(
        matches!(result, Ok(tableau_auth_proto::Event::Resumed(_))),
        "{result:?}"
    );
    assert!(
        sent[..2]
            .iter()
            .all(|r| r.headers().get("x-tableau-auth").is_none())
    );
    assert!(sent[2].headers()["x-tableau-auth"].is_sensitive());
    snapshot("resume_over_https_after_the_probe", &sent[2]);
    assert_eq!(session.base_url(), "https://tableau.example.com");
    assert_eq!(
        session
            .token()
            .map(|t| tableau_auth_proto::secret::ExposeSecret::expose_secret(t).to_owned())
            .as_deref(),
        Some(TOKEN)
    );
}

#[test]
fn a_sign_in_redirected_to_a_cloud_pod_is_re_posted_identically() {
    let cfg = tableau_auth_proto::Config::builder("https://online.tableau.com")
        .api_version(ApiVersion::new(3, 25))
        .user_agent(USER_AGENT)
        .build()
        .unwrap();
    let mut session = Session::new(cfg);
    let creds = tableau_auth_proto::Credentials::personal_access_token(PAT_NAME, PAT_SECRET);
    let redirect = with_header(
        response(301, ""),
        "location",
        "https://10ax.online.tableau.com/api/3.25/auth/signin",
    );
    let (sent, result) = drive(
        &mut session,
        sign_in(creds, "acme").into(),
        vec![redirect, response(200, sign_in_body(Format::Xml))],
    );
    assert_eq!(sent[0].body(), sent[1].body(), "the same body is re-posted");
    snapshot("redirect_cloud_first", &sent[0]);
    snapshot("redirect_cloud_then_pod", &sent[1]);
    match result {
        Ok(tableau_auth_proto::Event::SignedIn(s)) => {
            assert_eq!(
                s.moved_to.as_deref(),
                Some("https://10ax.online.tableau.com")
            );
        }
        other => panic!("{other:?}"),
    }
}
