//! End to end: the blocking client signs in to the fake in Tableau Cloud mode with a unified
//! access token (minted by the core, signed by the ring signer from the test key), in XML and
//! JSON, calls `sessions/current`, and after the fake drops the session signs in again with a
//! new token (a new `jti`), which the fake verifies independently.

mod common;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use tableau_auth_tests::support::UAT_KEY_FILE as UAT_KEY;
use tableau_auth_ureq::RsaSigner;
use tableau_auth_ureq::proto::UnifiedAccess;

fn uat_sign_in() -> SignIn {
    let signer = RsaSigner::from_pem_file(sample::UAT_KEY_ID, UAT_KEY).expect("the test key");
    let uat = UnifiedAccess::new(
        sample::UAT_ISSUER,
        sample::UAT_TENANT_ID,
        "jsmith@example.com",
        Arc::new(signer),
    )
    .scope("tableau:content:read");
    SignIn::new(Credentials::unified_access(uat), "")
}

/// The JWT of a sign-in body (XML or JSON).
fn jwt_in(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match json["credentials"]["jwt"].as_str() {
        Some(jwt) => jwt.to_owned(),
        None => {
            let from = body.find("jwt=\"").expect("a jwt attribute") + 5;
            body[from..].split('"').next().expect("a value").to_owned()
        }
    }
}

/// A JWT's header and claims.
fn decoded(jwt: &str) -> (serde_json::Value, serde_json::Value) {
    let mut parts = jwt.split('.');
    let mut next = || -> serde_json::Value {
        let part = parts.next().expect("a part");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
    };
    (next(), next())
}

#[test]
fn a_uat_signs_in_to_tableau_cloud_and_a_lost_session_signs_in_with_a_new_token() {
    for format in [Format::Xml, Format::Json] {
        let fake = FakeServer::start_blocking(FakeConfig::sample_cloud(), FakeOptions::default())
            .expect("the fake starts");
        let control = fake.control();
        let mut client = client(&fake, format);

        let signed_in = client.sign_in(uat_sign_in()).expect("a UAT sign-in");
        assert_eq!(signed_in.user_id.as_str(), sample::USER_ID);
        assert_eq!(signed_in.site_id.as_str(), sample::DEFAULT_SITE_ID);
        assert_eq!(signed_in.api_version, v("3.27"));
        let me = whoami(&mut client).expect("sessions/current");
        assert_eq!(me.user_name, sample::USER_NAME);
        assert_eq!(me.site_id, sample::DEFAULT_SITE_ID);
        assert_eq!(
            workbook_names(&mut client).expect("workbooks (tableau:content:read)"),
            ["Superstore", "Regional Sales"]
        );

        // The fake ends the session: the next call signs in again, with a new token.
        assert_eq!(control.drop_sessions(None), 1);
        let before = fake.request_log().len();
        let me = whoami(&mut client).expect("recovers with a new UAT");
        assert_eq!(me.user_id, sample::USER_ID);
        let after = log_from(&fake, before);
        assert_eq!(
            describe(&after),
            [
                "GET /api/3.27/sessions/current 401",
                "POST /api/3.27/auth/signin 200",
                "GET /api/3.27/sessions/current 200",
            ],
            "{format:?}"
        );

        let sign_ins: Vec<_> = fake
            .request_log()
            .into_iter()
            .filter(|e| e.is_signin())
            .collect();
        assert_eq!(sign_ins.len(), 2, "{format:?}");
        let mut jtis = Vec::new();
        for entry in &sign_ins {
            assert_eq!(entry.status, Some(200));
            let body = entry.body_str();
            match format {
                Format::Xml => assert!(body.contains("isUat=\"true\""), "{body}"),
                _ => assert!(body.contains("\"isUat\":true"), "{body}"),
            }
            let (header, claims) = decoded(&jwt_in(&body));
            assert_eq!(header["alg"], "RS256");
            assert_eq!(header["kid"], sample::UAT_KEY_ID);
            assert_eq!(claims["iss"], sample::UAT_ISSUER);
            assert_eq!(
                claims["https://tableau.com/tenantId"],
                sample::UAT_TENANT_ID
            );
            assert_eq!(claims["email"], "jsmith@example.com");
            jtis.push(claims["jti"].as_str().expect("a jti").to_owned());
        }
        assert_ne!(
            jtis[0], jtis[1],
            "{format:?}: a new token for the new sign-in"
        );
        assert_eq!(control.live_sessions(), 1);
    }
}

#[test]
fn a_tableau_server_at_3_27_refuses_the_uat() {
    // The same token to a Tableau Server (no Cloud mode) of the same version: 401001.
    let config = FakeConfig::sample()
        .into_builder()
        .rest_api_version("3.27")
        .build();
    let fake = FakeServer::start_blocking(config, FakeOptions::default()).expect("the fake starts");
    let mut client = client(&fake, Format::Xml);
    let err = client.sign_in(uat_sign_in()).expect_err("refused");
    assert_eq!(err.code(), Some("401001"), "{err:?}");
    assert_eq!(fake.control().live_sessions(), 0);
}
