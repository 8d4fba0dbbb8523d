//! The `mint_jwt` example's logic, run in-process: the JWT it mints verifies with the app's
//! secret (HMAC-SHA256 computed here, independently of the core), its header and claims are
//! what Tableau expects, and what it prints holds neither the secret nor the signature.

#[path = "../examples/mint_jwt.rs"]
#[allow(dead_code)]
mod mint_jwt;

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tableau_auth_proto::secret::ExposeSecret;

const SECRET: &str = "Kp9vXw2Rt7Ls4Qm1Zn8Yb5Hc3Jd6Fg0Ae2Wu+Vi/Ox=";

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn app_env(name: &str) -> Option<String> {
    match name {
        "TABLEAU_CLIENT_ID" => Some("client-1".to_owned()),
        "TABLEAU_SECRET_ID" => Some("secret-1".to_owned()),
        "TABLEAU_SECRET_VALUE" => Some(SECRET.to_owned()),
        _ => None,
    }
}

#[test]
fn the_minted_jwt_verifies_and_carries_the_claims() {
    let parsed = mint_jwt::parse_args(
        args(&[
            "--username",
            "jsmith",
            "--scope",
            "tableau:content:read",
            "--scope",
            "tableau:views:embed",
            "--lifetime-secs",
            "120",
            "--attribute",
            "Region=EMEA",
        ]),
        app_env,
    )
    .expect("arguments");
    assert!(!parsed.demo);
    let issued_at = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let minted = mint_jwt::run(&parsed, issued_at, [0xab; 16]).expect("a JWT");

    let jwt = minted.jwt.expose_secret();
    let (signed, signature) = jwt.rsplit_once('.').expect("three parts");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).expect("a key");
    mac.update(signed.as_bytes());
    let expected = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    assert_eq!(
        signature, expected,
        "HS256 over header.claims with the raw secret"
    );

    let header = &minted.header;
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], "secret-1");
    assert_eq!(header["iss"], "client-1");
    let claims = &minted.claims;
    assert_eq!(claims["iss"], "client-1");
    assert_eq!(claims["sub"], "jsmith");
    assert_eq!(claims["aud"], "tableau");
    assert_eq!(
        claims["scp"],
        serde_json::json!(["tableau:content:read", "tableau:views:embed"])
    );
    assert_eq!(claims["exp"], 1_767_225_600 + 120);
    assert_eq!(
        claims["iat"],
        1_767_225_600 - 5,
        "backdated by the clock skew"
    );
    assert_eq!(claims["nbf"], claims["iat"]);
    assert_eq!(claims["jti"], "abababab-abab-4bab-abab-abababababab");
    assert_eq!(claims["Region"], "EMEA");

    let shown = minted.render();
    assert!(shown.contains("\"sub\": \"jsmith\""), "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(!shown.contains(signature), "{shown}");
    assert!(!shown.contains(jwt), "{shown}");
}

#[test]
fn without_the_environment_it_mints_with_demo_values() {
    let parsed = mint_jwt::parse_args(Vec::new(), |_| None).expect("demo arguments");
    assert!(parsed.demo);
    assert_eq!(parsed.scopes, vec!["tableau:content:read".to_owned()]);
    let minted = mint_jwt::run(
        &parsed,
        UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        [1; 16],
    )
    .expect("a JWT");
    assert_eq!(minted.header["kid"], mint_jwt::DEMO_SECRET_ID);
    assert_eq!(minted.claims["exp"], 1_800_000_000 + 300);
    assert!(!minted.render().contains(mint_jwt::DEMO_SECRET_VALUE));
}

#[test]
fn bad_input_is_refused_before_anything_is_minted() {
    let partial = mint_jwt::parse_args(Vec::new(), |name| {
        (name == "TABLEAU_CLIENT_ID").then(|| "only-this".to_owned())
    });
    assert!(
        partial
            .expect_err("partial app")
            .contains("TABLEAU_SECRET_VALUE")
    );
    for bad in [
        &["--lifetime-secs", "ten"][..],
        &["--attribute", "no-equals"],
        &["--scope"],
        &["--secret-value", "flags never carry secrets"],
    ] {
        assert!(mint_jwt::parse_args(args(bad), app_env).is_err(), "{bad:?}");
    }
    // Over Tableau's 10-minute limit, and a reserved claim: the core says no.
    for bad in [
        &["--lifetime-secs", "900"][..],
        &["--attribute", "sub=someone-else"],
    ] {
        let parsed = mint_jwt::parse_args(args(bad), app_env).expect("arguments");
        let error = mint_jwt::run(
            &parsed,
            UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            [1; 16],
        )
        .expect_err("refused");
        assert!(!error.to_string().contains(SECRET), "{error}");
    }
}
