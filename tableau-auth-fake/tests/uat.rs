//! The Tableau Cloud mode: unified access tokens (RS256) minted by the real core and signer
//! (`tableau-auth-proto`'s `UnifiedAccess`, `tableau-auth-rsa`'s `RsaSigner`) or made by hand,
//! posted over HTTP to a fake in Cloud mode. Every refusal is a 401001 with its own detail; a
//! good token signs in; a replayed `jti` is refused; a Tableau Server refuses `isUat`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tableau_auth_fake::{
    CloudConfig, ControlError, FakeConfig, FakeOptions, FakeServer, UatConfig, sample, sign_hs256,
};
use tableau_auth_proto::secret::ExposeSecret as _;
use tableau_auth_proto::{MintInputs, UatSigner as _, UnifiedAccess};
use tableau_auth_rsa::RsaSigner;

/// The private half of `sample::UAT_PUBLIC_KEY_PEM` (a test key).
const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/uat-test-key.pem"
);
/// A key no sample configuration knows.
const OTHER_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/other-uat-key.pem"
);
const V: &str = "3.27";
/// jsmith's e-mail address: the sample users' `email` is how a UAT names them.
const JSMITH_EMAIL: &str = "jsmith@example.com";
const PREFIX: &str = "Error signing in to Tableau Server (unified access token: ";

fn signer(kid: &str, path: &str) -> RsaSigner {
    RsaSigner::from_pem_file(kid, path).expect("a test key")
}

fn start(config: FakeConfig) -> FakeServer {
    FakeServer::start_blocking(config, FakeOptions::plain()).expect("the fake starts")
}

fn random() -> [u8; 16] {
    let mut bytes = [0; 16];
    getrandom::fill(&mut bytes).expect("random bytes");
    bytes
}

/// The sample UAT configuration's user jsmith, as the core mints it.
fn uat(signer: RsaSigner) -> UnifiedAccess {
    UnifiedAccess::new(
        sample::UAT_ISSUER,
        sample::UAT_TENANT_ID,
        JSMITH_EMAIL,
        Arc::new(signer),
    )
    .scope("tableau:content:read")
}

/// A token minted by the core at the fake's "now".
fn mint(fake: &FakeServer, uat: &UnifiedAccess) -> String {
    let issued_at = UNIX_EPOCH + Duration::from_secs(fake.control().now_unix());
    uat.mint(MintInputs {
        issued_at,
        random: random(),
    })
    .expect("the core mints a UAT")
    .expose_secret()
    .to_owned()
}

/// The header and claims the core writes, valid on the fake's clock, for hand-made tokens.
fn parts(fake: &FakeServer) -> (Value, Value) {
    let now = fake.control().now_unix();
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": sample::UAT_KEY_ID});
    let jti = URL_SAFE_NO_PAD.encode(random());
    let claims = json!({
        "iss": sample::UAT_ISSUER,
        "https://tableau.com/tenantId": sample::UAT_TENANT_ID,
        "email": JSMITH_EMAIL,
        "jti": jti,
        "scp": ["tableau:content:read"],
        "iat": now - 5,
        "nbf": now - 5,
        "exp": now + 300,
    });
    (header, claims)
}

/// `header.claims` signed with RS256 by `signer`.
fn sign(header: &Value, claims: &Value, signer: &RsaSigner) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signer.sign_rs256(input.as_bytes()).expect("signed");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A hand-made token: the core's header and claims, edited, signed with the sample key.
fn hand(fake: &FakeServer, edit: impl FnOnce(&mut Value, &mut Value)) -> String {
    let (mut header, mut claims) = parts(fake);
    edit(&mut header, &mut claims);
    sign(&header, &claims, &signer(sample::UAT_KEY_ID, KEY))
}

fn xml_body(jwt: &str, site: &str) -> String {
    format!(
        "<tsRequest><credentials jwt=\"{jwt}\" isUat=\"true\"><site contentUrl=\"{site}\"/></credentials></tsRequest>"
    )
}

struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| between(&self.body, "code=\"", "\""))
            .unwrap_or_default()
    }

    fn detail(&self) -> String {
        self.json()["error"]["detail"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| between(&self.body, "<detail>", "</detail>"))
            .unwrap_or_default()
    }

    fn token(&self) -> String {
        self.json()["credentials"]["token"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| between(&self.body, "token=\"", "\""))
            .expect("a credentials token")
    }
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(text[from..to].to_owned())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn call(fake: &FakeServer, method: &str, path: &str, token: Option<&str>, body: &str) -> Answer {
    let url = format!("{}/api/{V}/{path}", fake.base_url());
    let json = body.starts_with('{');
    let media = if json {
        "application/json"
    } else {
        "application/xml"
    };
    let agent = agent();
    let response = if method == "POST" {
        let mut request = agent.post(&url).header("content-type", media);
        if json {
            request = request.header("accept", media);
        }
        request.send(body)
    } else {
        let mut request = agent.get(&url);
        if let Some(token) = token {
            request = request.header("x-tableau-auth", token);
        }
        request.call()
    };
    let mut response = response.expect("an answer");
    Answer {
        status: response.status().as_u16(),
        body: response.body_mut().read_to_string().expect("a body"),
    }
}

fn sign_in(fake: &FakeServer, jwt: &str) -> Answer {
    call(fake, "POST", "auth/signin", None, &xml_body(jwt, ""))
}

/// Signs in with `jwt` and expects a 401001 whose detail names `reason`.
fn refused(fake: &FakeServer, what: &str, jwt: &str, reason: &str) -> String {
    let answer = sign_in(fake, jwt);
    assert_eq!(answer.status, 401, "{what}: {}", answer.body);
    assert_eq!(answer.code(), "401001", "{what}");
    assert_eq!(answer.detail(), format!("{PREFIX}{reason})"), "{what}");
    answer.detail()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn a_minted_uat_signs_in_in_xml_and_json_and_its_session_works() {
    let fake = start(FakeConfig::sample_cloud());
    let uat = uat(signer(sample::UAT_KEY_ID, KEY));

    let answer = sign_in(&fake, &mint(&fake, &uat));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains(sample::USER_ID), "{}", answer.body);
    let token = answer.token();
    let me = call(&fake, "GET", "sessions/current", Some(&token), "");
    assert_eq!(me.status, 200, "{}", me.body);
    assert!(me.body.contains(sample::USER_NAME), "{}", me.body);
    // The session is a JWT session: its scopes are checked per call.
    let workbooks = format!("sites/{}/workbooks", sample::DEFAULT_SITE_ID);
    let listed = call(&fake, "GET", &workbooks, Some(&token), "");
    assert_eq!(listed.status, 200, "{}", listed.body);
    let users = format!("sites/{}/users", sample::DEFAULT_SITE_ID);
    assert_eq!(
        call(&fake, "GET", &users, Some(&token), "").code(),
        "401002"
    );

    // JSON, `isUat` a boolean; to the Finance site, with the site claim.
    let finance = uat.clone().site_id(sample::FINANCE_SITE_ID);
    let body = json!({"credentials": {
        "jwt": mint(&fake, &finance), "isUat": true, "site": {"contentUrl": sample::FINANCE_SITE}
    }});
    let answer = call(&fake, "POST", "auth/signin", None, &body.to_string());
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json()["credentials"]["site"]["id"],
        sample::FINANCE_SITE_ID
    );
    assert_eq!(fake.control().live_sessions(), 2);

    // A user found by name works as well as one found by e-mail; a UAT is accepted at any URL
    // version (the server's version gates it).
    let by_name = UnifiedAccess::new(
        sample::UAT_ISSUER,
        sample::UAT_TENANT_ID,
        sample::ADMIN_NAME,
        Arc::new(signer(sample::UAT_KEY_ID, KEY)),
    )
    .scopes(sample::UAT_SCOPES);
    let url = format!("{}/api/2.4/auth/signin", fake.base_url());
    let mut response = agent()
        .post(&url)
        .header("content-type", "application/xml")
        .send(xml_body(&mint(&fake, &by_name), ""))
        .expect("an answer");
    let body = response.body_mut().read_to_string().expect("a body");
    assert_eq!(response.status(), 200, "{body}");
    assert!(body.contains(sample::ADMIN_ID), "{body}");
}

#[test]
fn every_refusal_is_401001_with_its_own_detail() {
    let fake = start(FakeConfig::sample_cloud());
    let now = fake.control().now_unix();
    let good_key = || signer(sample::UAT_KEY_ID, KEY);
    let mut details = BTreeMap::new();
    let mut check = |what: &str, jwt: String, reason: &str| {
        let detail = refused(&fake, what, &jwt, reason);
        details.entry(detail).or_insert_with(|| what.to_owned());
    };

    // 1. Malformed.
    for (what, jwt) in [
        ("not a JWT", "not-a-jwt".to_owned()),
        ("empty parts", "a.b.c".to_owned()),
        ("four parts", format!("{}.x", hand(&fake, |_, _| {}))),
        ("a header that is no object", {
            let good = hand(&fake, |_, _| {});
            let rest = good.split_once('.').expect("parts").1;
            format!("{}.{rest}", URL_SAFE_NO_PAD.encode("[1]"))
        }),
        ("padded signature", format!("{}=", hand(&fake, |_, _| {}))),
    ] {
        check(what, jwt, "malformed token");
    }
    // 2. alg.
    check(
        "alg HS256",
        hand(&fake, |h, _| h["alg"] = json!("HS256")),
        "alg is not RS256",
    );
    check(
        "alg none",
        hand(&fake, |h, _| h["alg"] = json!("none")),
        "alg is not RS256",
    );
    let (header, claims) = parts(&fake);
    let mut hs_header = header.clone();
    hs_header["alg"] = json!("HS256");
    check(
        "an HS256 token keyed with the public key",
        sign_hs256(&hs_header, &claims, sample::UAT_PUBLIC_KEY_PEM),
        "alg is not RS256",
    );
    // 3. kid.
    check(
        "unknown kid (the core, another key id)",
        mint(&fake, &uat(signer("some-other-key", KEY))),
        "unknown kid",
    );
    check(
        "no kid",
        hand(&fake, |h, _| {
            h.as_object_mut().expect("an object").remove("kid");
        }),
        "unknown kid",
    );
    // 4. Signature.
    check(
        "another key (the core)",
        mint(&fake, &uat(signer(sample::UAT_KEY_ID, OTHER_KEY))),
        "bad signature",
    );
    let good = mint(&fake, &uat(good_key()));
    let pieces: Vec<&str> = good.split('.').collect();
    let mut tampered: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(pieces[1]).expect("b64")).expect("json");
    tampered["email"] = json!("admin@example.com");
    let tampered = format!(
        "{}.{}.{}",
        pieces[0],
        URL_SAFE_NO_PAD.encode(tampered.to_string()),
        pieces[2]
    );
    check("tampered claims", tampered, "bad signature");
    check(
        "no signature",
        format!("{}.{}.", pieces[0], pieces[1]),
        "bad signature",
    );
    // 5.-7. Issuer, tenant, site.
    let wrong_issuer = UnifiedAccess::new(
        "https://elsewhere.example.com",
        sample::UAT_TENANT_ID,
        JSMITH_EMAIL,
        Arc::new(good_key()),
    )
    .scope("tableau:content:read");
    check(
        "another issuer (the core)",
        mint(&fake, &wrong_issuer),
        "iss does not match the UAT configuration",
    );
    check(
        "no iss",
        hand(&fake, |_, c| {
            c.as_object_mut().expect("an object").remove("iss");
        }),
        "iss does not match the UAT configuration",
    );
    let wrong_tenant = UnifiedAccess::new(
        sample::UAT_ISSUER,
        "another-tenant",
        JSMITH_EMAIL,
        Arc::new(good_key()),
    )
    .scope("tableau:content:read");
    check(
        "another tenant (the core)",
        mint(&fake, &wrong_tenant),
        "tenant missing or wrong",
    );
    check(
        "no tenant",
        hand(&fake, |_, c| {
            c.as_object_mut()
                .expect("an object")
                .remove("https://tableau.com/tenantId");
        }),
        "tenant missing or wrong",
    );
    check(
        "the Finance site's id, signing in to Default",
        mint(&fake, &uat(good_key()).site_id(sample::FINANCE_SITE_ID)),
        "siteId names another site",
    );
    // 8. Times (skew 60 s on the fake's clock; lifetime at most 600 s).
    check(
        "no exp",
        hand(&fake, |_, c| {
            c.as_object_mut().expect("an object").remove("exp");
        }),
        "no exp",
    );
    check(
        "exp a string",
        hand(&fake, |_, c| c["exp"] = json!("soon")),
        "no exp",
    );
    check(
        "expired beyond the skew",
        hand(&fake, |_, c| {
            c["iat"] = json!(now - 400);
            c["nbf"] = json!(now - 400);
            c["exp"] = json!(now - 61);
        }),
        "expired",
    );
    check(
        "nbf beyond the skew",
        hand(&fake, |_, c| c["nbf"] = json!(now + 120)),
        "nbf in the future",
    );
    check(
        "iat beyond the skew",
        hand(&fake, |_, c| {
            c["iat"] = json!(now + 120);
            c["nbf"] = json!(now);
        }),
        "iat in the future",
    );
    check(
        "a lifetime of 601 s",
        hand(&fake, |_, c| {
            c["iat"] = json!(now);
            c["exp"] = json!(now + 601);
        }),
        "lifetime over the limit",
    );
    check(
        "no iat and exp 11 minutes ahead",
        hand(&fake, |_, c| {
            let claims = c.as_object_mut().expect("an object");
            claims.remove("iat");
            claims.insert("exp".into(), json!(now + 660));
        }),
        "lifetime over the limit",
    );
    // 9. User.
    check(
        "the user under another claim (the core)",
        mint(&fake, &uat(good_key()).username_claim("upn")),
        "user-name claim missing",
    );
    check(
        "an empty user name",
        hand(&fake, |_, c| c["email"] = json!("")),
        "user-name claim missing",
    );
    let stranger = UnifiedAccess::new(
        sample::UAT_ISSUER,
        sample::UAT_TENANT_ID,
        "nobody@example.com",
        Arc::new(good_key()),
    )
    .scope("tableau:content:read");
    check(
        "an unknown user (the core)",
        mint(&fake, &stranger),
        "not a user of the site",
    );
    check(
        "a user of Finance only, signing in to Default",
        hand(&fake, |_, c| c["email"] = json!(sample::FINANCE_USER_NAME)),
        "not a user of the site",
    );
    // 10. Scopes.
    check(
        "no scp",
        hand(&fake, |_, c| {
            c.as_object_mut().expect("an object").remove("scp");
        }),
        "scp missing or empty",
    );
    check(
        "scp empty",
        hand(&fake, |_, c| c["scp"] = json!([])),
        "scp missing or empty",
    );
    check(
        "scp a string",
        hand(&fake, |_, c| c["scp"] = json!("tableau:content:read")),
        "scp missing or empty",
    );
    check(
        "a scope the configuration does not allow (the core)",
        mint(&fake, &uat(good_key()).scope("tableau:content:write")),
        "scope not allowed",
    );
    // 11. jti.
    check(
        "no jti",
        hand(&fake, |_, c| {
            c.as_object_mut().expect("an object").remove("jti");
        }),
        "jti missing",
    );
    let once = mint(&fake, &uat(good_key()));
    assert_eq!(sign_in(&fake, &once).status, 200);
    check("a replayed jti", once, "jti already used");

    // Eighteen reasons, each its own detail; no refusal left a session behind.
    assert_eq!(details.len(), 18, "{details:#?}");
    assert_eq!(fake.control().live_sessions(), 1);
}

#[test]
fn times_follow_the_fake_clock_with_the_skew_allowance() {
    let fake = start(FakeConfig::sample_cloud());
    let control = fake.control();
    let uat = uat(signer(sample::UAT_KEY_ID, KEY));
    // exp is 300 s after issue: 330 s later it is within the 60 s allowance, 361 s later not.
    let within = mint(&fake, &uat);
    let beyond = mint(&fake, &uat);
    control.advance(Duration::from_secs(330));
    assert_eq!(sign_in(&fake, &within).status, 200);
    control.advance(Duration::from_secs(31));
    refused(&fake, "after exp and the skew", &beyond, "expired");
    // A token minted 50 s ahead of the fake's clock is accepted; 70 s ahead is not.
    let ahead = |secs: u64| {
        let issued_at = UNIX_EPOCH + Duration::from_secs(control.now_unix() + secs);
        uat.mint(MintInputs {
            issued_at,
            random: random(),
        })
        .expect("minted")
        .expose_secret()
        .to_owned()
    };
    assert_eq!(sign_in(&fake, &ahead(50)).status, 200);
    refused(&fake, "70 s ahead", &ahead(70), "nbf in the future");
    // A tighter allowance, through the configuration.
    control
        .update_config(|c| {
            if let Some(cloud) = c.cloud.as_mut() {
                cloud.uat_clock_skew_secs = 0;
            }
        })
        .expect("config");
    refused(&fake, "1 s ahead, no skew", &ahead(6), "nbf in the future");
}

#[test]
fn uat_configurations_take_pkcs1_keys_their_own_claims_and_wildcard_scopes() {
    let other = signer("second-key", OTHER_KEY);
    let pkcs1 = UatConfig::rsa_public_key_pem(&other.public_key_der().expect("public key"));
    assert!(pkcs1.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
    let second = UatConfig::builder(
        "https://second-issuer.example.com",
        "tenant-2",
        "second-key",
        pkcs1,
    )
    .username_claim("upn")
    .scope("tableau:content:*")
    .build();
    let mut config = FakeConfig::sample_cloud();
    if let Some(cloud) = config.cloud.as_mut() {
        cloud.uat_configurations.push(second.clone());
    }
    let fake = start(config);
    let uat = UnifiedAccess::new(
        "https://second-issuer.example.com",
        "tenant-2",
        JSMITH_EMAIL,
        Arc::new(other),
    )
    .username_claim("upn")
    .scope("tableau:content:read")
    .scope("tableau:content:write");
    let answer = sign_in(&fake, &mint(&fake, &uat));
    assert_eq!(answer.status, 200, "{}", answer.body);
    // The first configuration's issuer with the second key: the kid decides the configuration.
    let crossed = UnifiedAccess::new(
        sample::UAT_ISSUER,
        "tenant-2",
        JSMITH_EMAIL,
        Arc::new(signer("second-key", OTHER_KEY)),
    )
    .username_claim("upn")
    .scope("tableau:content:read");
    refused(
        &fake,
        "crossed issuer",
        &mint(&fake, &crossed),
        "iss does not match the UAT configuration",
    );

    // Configurations the fake refuses.
    let control = fake.control();
    let duplicate = control.update_config(|c| {
        if let Some(cloud) = c.cloud.as_mut() {
            cloud.uat_configurations.push(second.clone());
        }
    });
    assert_eq!(
        duplicate,
        Err(ControlError::DuplicateUatKeyId("second-key".into()))
    );
    let broken = control.update_config(|c| {
        if let Some(cloud) = c.cloud.as_mut() {
            cloud.uat_configurations[1].public_key_pem = "not a key".into();
        }
    });
    assert!(
        matches!(&broken, Err(ControlError::UatPublicKey { key_id, .. }) if key_id == "second-key"),
        "{broken:?}"
    );
    let old = control.update_config(|c| c.rest_api_version = "3.26".into());
    assert_eq!(old, Err(ControlError::CloudApiVersion("3.26".into())));
    // None of them was applied.
    assert_eq!(control.config().rest_api_version, "3.27");
}

#[test]
fn a_tableau_server_refuses_uats_and_the_cloud_keeps_connected_apps() {
    // Server mode: the sample (3.25, no cloud), and a 3.27 server without the Cloud mode.
    for config in [
        FakeConfig::sample(),
        FakeConfig::sample()
            .into_builder()
            .rest_api_version("3.27")
            .build(),
    ] {
        let version = config.rest_api_version.clone();
        let fake = start(config);
        let jwt = hand(&fake, |_, _| {});
        let url = format!("{}/api/{version}/auth/signin", fake.base_url());
        let mut response = agent()
            .post(&url)
            .header("content-type", "application/xml")
            .send(xml_body(&jwt, ""))
            .expect("an answer");
        let body = response.body_mut().read_to_string().expect("a body");
        assert_eq!(response.status(), 401, "{body}");
        assert!(body.contains("<error code=\"401001\">"), "{body}");
        assert!(
            body.contains("<detail>Error signing in to Tableau Server</detail>"),
            "{body}"
        );
        assert_eq!(fake.control().live_sessions(), 0);
    }

    // The Cloud mode still takes connected-app JWTs (isUat="false").
    let fake = start(FakeConfig::sample_cloud());
    let now = fake.control().now_unix();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": sample::APP_SECRET_ID, "iss": sample::APP_CLIENT_ID});
    let claims = json!({
        "iss": sample::APP_CLIENT_ID, "sub": sample::USER_NAME, "aud": "tableau",
        "exp": now + 300, "jti": "connected-app-1", "scp": ["tableau:content:read"],
    });
    let jwt = sign_hs256(&header, &claims, sample::APP_SECRET_VALUE);
    let body = xml_body(&jwt, "").replace("isUat=\"true\"", "isUat=\"false\"");
    let answer = call(&fake, "POST", "auth/signin", None, &body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    // And a Cloud without UAT configurations refuses every UAT as an unknown kid.
    let fake = start(
        FakeConfig::builder()
            .cloud(CloudConfig::builder().build())
            .build(),
    );
    refused(
        &fake,
        "no configuration",
        &hand(&fake, |_, _| {}),
        "unknown kid",
    );
}

#[test]
fn the_binary_serves_the_sample_cloud() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fake-tableau"))
        .args(["--cloud", "--print-sample-config"])
        .output()
        .expect("run");
    assert!(output.status.success());
    let printed: FakeConfig = serde_json::from_slice(&output.stdout).expect("a configuration");
    let sample = FakeConfig::sample_cloud();
    assert_eq!(printed.cloud, sample.cloud);
    assert_eq!(printed.rest_api_version, sample::CLOUD_REST_API_VERSION);
    assert_eq!(printed.users, sample.users);
}
