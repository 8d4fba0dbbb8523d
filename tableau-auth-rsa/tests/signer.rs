//! The RS256 signer with the core's minting: every token verifies (with ring's verifier, on the
//! public key alone), every `jti` is unique, and the key never shows.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use tableau_auth_proto::secret::ExposeSecret as _;
use tableau_auth_proto::{MintInputs, UatSigner as _, UnifiedAccess};
use tableau_auth_rsa::{KeyError, RsaSigner};

const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/uat-test-key.pem"
);
const EC_KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ec-key.pem");

fn signer() -> RsaSigner {
    RsaSigner::from_pem_file("key-1", KEY).expect("the test key loads")
}

fn verifies(signer: &RsaSigner, jwt: &str) -> bool {
    let (input, signature) = jwt.rsplit_once('.').expect("three parts");
    let public = signer.public_key_der().expect("a public key");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public)
        .verify(input.as_bytes(), &signature)
        .is_ok()
}

#[test]
fn a_minted_uat_verifies_and_a_tampered_one_does_not() {
    let uat = UnifiedAccess::new(
        "https://issuer.example.com",
        "tenant-1",
        "jsmith@example.com",
        Arc::new(signer()),
    )
    .scope("tableau:content:read");
    let jwt = uat
        .mint(MintInputs {
            issued_at: UNIX_EPOCH + Duration::from_secs(1_767_225_600),
            random: [9; 16],
        })
        .expect("minted");
    let jwt = jwt.expose_secret();
    let again = signer();
    assert!(verifies(&again, jwt));
    let mut parts: Vec<&str> = jwt.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://evil.example.com"}"#);
    parts[1] = &forged;
    assert!(!verifies(&again, &parts.join(".")));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn every_minted_uat_verifies_and_has_its_own_jti(randoms in proptest::collection::vec(any::<[u8; 16]>(), 2..6), secs in 1_600_000_000u64..2_000_000_000) {
        let uat = UnifiedAccess::new("https://issuer.example.com", "tenant-1", "u@example.com", Arc::new(signer()))
            .scope("tableau:content:read");
        let mut jtis = std::collections::BTreeSet::new();
        let check = signer();
        for random in &randoms {
            let jwt = uat.mint(MintInputs { issued_at: UNIX_EPOCH + Duration::from_secs(secs), random: *random }).unwrap();
            prop_assert!(verifies(&check, jwt.expose_secret()));
            let claims = jwt.expose_secret().split('.').nth(1).unwrap().to_owned();
            let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
            jtis.insert(claims["jti"].as_str().unwrap().to_owned());
        }
        let distinct: std::collections::BTreeSet<_> = randoms.iter().collect();
        prop_assert_eq!(jtis.len(), distinct.len());
    }
}

#[test]
fn bad_keys_are_typed_errors_that_never_show_the_key() {
    let pem = std::fs::read_to_string(KEY).unwrap();
    let body_line = pem.lines().nth(3).unwrap().to_owned();
    let shown = format!("{:?}", signer());
    assert!(
        shown.contains("key-1") && !shown.contains(&body_line),
        "{shown}"
    );
    assert!(matches!(
        RsaSigner::from_pem("k", b"not a pem"),
        Err(KeyError::NotPkcs8 { .. })
    ));
    let ec = RsaSigner::from_pem_file("k", EC_KEY).unwrap_err();
    assert!(matches!(ec, KeyError::Rejected { .. }), "{ec}");
    assert!(ec.to_string().contains("ec-key.pem"));
    let missing = RsaSigner::from_pem_file("k", "/no/such/key.pem").unwrap_err();
    assert!(
        missing.to_string().contains("/no/such/key.pem"),
        "{missing}"
    );
    assert!(matches!(
        RsaSigner::from_pem("", pem.as_bytes()),
        Err(KeyError::EmptyKeyId)
    ));
    for e in [ec, missing] {
        assert!(!format!("{e} {e:?}").contains(&body_line));
    }
    assert_eq!(signer().key_id(), "key-1");
}
