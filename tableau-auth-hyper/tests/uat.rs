//! End to end, async: the client signs in to the fake in Tableau Cloud mode with a unified
//! access token (minted by the core, signed by the ring signer from the test key), calls
//! `sessions/current`, and after the fake drops the session signs in again with a new token
//! (a new `jti`), which the fake verifies independently.

mod common;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use tableau_auth_hyper::RsaSigner;
use tableau_auth_hyper::proto::UnifiedAccess;
use tableau_auth_tests::support::UAT_KEY_FILE as UAT_KEY;

/// The `jti` of the UAT in a sign-in body (XML or JSON).
fn jti_of(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let jwt = match json["credentials"]["jwt"].as_str() {
        Some(jwt) => jwt.to_owned(),
        None => {
            let from = body.find("jwt=\"").expect("a jwt attribute") + 5;
            body[from..].split('"').next().expect("a value").to_owned()
        }
    };
    let claims = jwt.split('.').nth(1).expect("claims");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("base64url"))
            .expect("JSON claims");
    claims["jti"].as_str().expect("a jti").to_owned()
}

#[tokio::test]
async fn a_uat_signs_in_to_tableau_cloud_and_a_lost_session_signs_in_with_a_new_token() {
    let fake = start_with(FakeConfig::sample_cloud()).await;
    let control = fake.control();
    let client = client(&fake, Format::Json);
    let signer = RsaSigner::from_pem_file(sample::UAT_KEY_ID, UAT_KEY).expect("the test key");
    let uat = UnifiedAccess::new(
        sample::UAT_ISSUER,
        sample::UAT_TENANT_ID,
        "jsmith@example.com",
        Arc::new(signer),
    )
    .scope("tableau:content:read");

    let signed_in = client
        .sign_in(SignIn::new(Credentials::unified_access(uat), ""))
        .await
        .expect("a UAT sign-in");
    assert_eq!(signed_in.user_id.as_str(), sample::USER_ID);
    assert_eq!(signed_in.api_version, v("3.27"));
    let me = whoami(&client, Format::Json)
        .await
        .expect("sessions/current");
    assert_eq!(me.user_name, sample::USER_NAME);

    assert_eq!(control.drop_sessions(None), 1);
    let before = fake.request_log().len();
    let me = whoami(&client, Format::Json).await.expect("recovers");
    assert_eq!(me.user_id, sample::USER_ID);
    assert_eq!(
        describe(&log_from(&fake, before)),
        [
            "GET /api/3.27/sessions/current 401",
            "POST /api/3.27/auth/signin 200",
            "GET /api/3.27/sessions/current 200",
        ]
    );
    let jtis: Vec<String> = fake
        .request_log()
        .iter()
        .filter(|e| e.is_signin())
        .map(|e| {
            let body = e.body_str();
            assert!(body.contains("\"isUat\":true"), "{body}");
            jti_of(&body)
        })
        .collect();
    assert_eq!(jtis.len(), 2);
    assert_ne!(jtis[0], jtis[1], "a new token for the new sign-in");
    assert_eq!(control.live_sessions(), 1);
}
