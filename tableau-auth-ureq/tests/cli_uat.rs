//! The `tableau-auth` binary signs in to the fake in Tableau Cloud mode with a unified access
//! token minted from `--uat-*` options and a key file: `token` succeeds (also `--verbose`, in
//! JSON), and the key's content never shows on stdout or stderr.

use std::process::Command;

use tableau_auth_tests::fake::{FakeConfig, FakeOptions, FakeServer, sample};
use tableau_auth_tests::support::UAT_KEY_FILE as UAT_KEY;

const BIN: &str = env!("CARGO_BIN_EXE_tableau-auth");

#[test]
fn token_signs_in_to_tableau_cloud_with_a_uat_and_never_shows_the_key() {
    let fake = FakeServer::start_blocking(FakeConfig::sample_cloud(), FakeOptions::default())
        .expect("the fake starts");
    let control = fake.control();
    let pem = std::fs::read_to_string(UAT_KEY).expect("the test key");
    let body_lines: Vec<&str> = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
        .collect();
    assert!(body_lines.len() > 20, "a 2048-bit key has many lines");

    for extra in [&["token"][..], &["--verbose", "--json", "token"][..]] {
        let output = Command::new(BIN)
            .env_clear()
            .args(["--server", fake.base_url()])
            .arg("--ca-file")
            .arg(fake.ca_file().expect("a TLS fake"))
            .args(["--uat-issuer", sample::UAT_ISSUER])
            .args(["--uat-tenant", sample::UAT_TENANT_ID])
            .args(["--uat-key-id", sample::UAT_KEY_ID])
            .args(["--uat-user", "jsmith@example.com"])
            .args(["--uat-key-file", UAT_KEY])
            .args(["--scope", "tableau:content:read"])
            .args(extra)
            .output()
            .expect("run tableau-auth");
        let stdout = String::from_utf8(output.stdout).expect("UTF-8 stdout");
        let stderr = String::from_utf8(output.stderr).expect("UTF-8 stderr");
        assert!(
            output.status.success(),
            "{extra:?}: {:?}\n{stdout}\n{stderr}",
            output.status
        );
        let token = match serde_json::from_str::<serde_json::Value>(&stdout) {
            Ok(json) => json["token"].as_str().expect("a token").to_owned(),
            Err(_) => stdout.trim().to_owned(),
        };
        assert!(control.has_session(&token), "{extra:?}: {stdout}");
        for line in &body_lines {
            assert!(
                !stdout.contains(line) && !stderr.contains(line),
                "{extra:?}: a line of the key shows"
            );
        }
        assert!(!stdout.contains("PRIVATE KEY") && !stderr.contains("PRIVATE KEY"));
    }
    let uat_sign_ins = fake
        .request_log()
        .iter()
        .filter(|e| e.is_signin() && e.status == Some(200))
        .filter(|e| e.body_str().contains("isUat=\"true\""))
        .count();
    assert_eq!(uat_sign_ins, 2);
}
