//! End-to-end tests of the `tableau-auth` binary against the in-process fake Tableau server.
//!
//! Every test runs the built binary with a cleared environment plus only the variables it
//! needs, and checks stdout, stderr and the exit status.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tableau_auth_tests::fake::{
    FakeConfig, FakeOptions, FakeServer, Fault, FaultRule, Listener, sample,
};
use tableau_auth_tests::sentinel;
use tableau_auth_tests::support::{UAT_KEY_FILE as UAT_KEY, expire_user_pat_in};
use tableau_auth_ureq::proto::secret::ExposeSecret as _;
use tableau_auth_ureq::proto::{ConnectedApp, MintInputs};

const BIN: &str = env!("CARGO_BIN_EXE_tableau-auth");

fn fake() -> FakeServer {
    FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::default()).expect("fake server")
}

/// The finished run of the binary.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn json(&self) -> Value {
        let mut lines = self.stdout.lines();
        let first = lines
            .next()
            .unwrap_or_else(|| panic!("no stdout: {self:?}"));
        assert!(
            lines.next().is_none(),
            "more than one line on stdout: {self:?}"
        );
        let value: Value = serde_json::from_str(first)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"));
        assert!(value.is_object(), "{self:?}");
        value
    }

    /// The `key: value` lines of the human output.
    fn field(&self, key: &str) -> Option<String> {
        self.stdout.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k == key).then(|| v.trim().to_owned())
        })
    }

    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }

    fn fails(self, code: i32) -> Self {
        assert_eq!(self.code, code, "{self:?}");
        self
    }
}

/// A command line under construction: the binary, an empty environment.
struct Cli {
    command: Command,
}

impl Cli {
    fn new() -> Self {
        let mut command = Command::new(BIN);
        command.env_clear();
        Self { command }
    }

    /// `--server <fake> --ca-file <its CA>`.
    fn to(fake: &FakeServer) -> Self {
        Self::new()
            .args(["--server", fake.base_url()])
            .arg("--ca-file")
            .arg(fake.ca_file().expect("TLS fake").to_str().unwrap())
    }

    fn arg(mut self, arg: &str) -> Self {
        self.command.arg(arg);
        self
    }

    fn args<const N: usize>(mut self, args: [&str; N]) -> Self {
        self.command.args(args);
        self
    }

    fn env(mut self, name: &str, value: &str) -> Self {
        self.command.env(name, value);
        self
    }

    /// `--username admin` with the admin's password.
    fn admin(self) -> Self {
        self.args(["--username", sample::ADMIN_NAME])
            .env("TABLEAU_PASSWORD", sample::ADMIN_PASSWORD)
    }

    /// `--username jsmith` with jsmith's password.
    fn jsmith(self) -> Self {
        self.args(["--username", sample::USER_NAME])
            .env("TABLEAU_PASSWORD", sample::USER_PASSWORD)
    }

    fn run(mut self) -> Run {
        let start = Instant::now();
        let output = self.command.output().expect("run tableau-auth");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
            elapsed: start.elapsed(),
        }
    }
}

/// A connected-app JWT minted by the core, with a fresh `jti` each time.
fn ready_jwt(user: &str) -> String {
    static NEXT: AtomicU8 = AtomicU8::new(1);
    let app = ConnectedApp::new(
        sample::APP_CLIENT_ID,
        sample::APP_SECRET_ID,
        sample::APP_SECRET_VALUE,
        user,
    )
    .scope("tableau:content:read");
    let jwt = app
        .mint(MintInputs {
            issued_at: SystemTime::now(),
            random: [NEXT.fetch_add(1, Ordering::Relaxed); 16],
        })
        .expect("mint");
    jwt.expose_secret().to_owned()
}

/// The session tokens the fake saw signed out (sent to `auth/signout`).
fn signed_out_tokens(fake: &FakeServer) -> Vec<String> {
    fake.request_log()
        .iter()
        .filter(|r| r.path_ends_with("/auth/signout"))
        .filter_map(|r| r.token().map(str::to_owned))
        .collect()
}

#[test]
fn server_info_human_and_json() {
    let fake = fake();
    let human = Cli::to(&fake).arg("server-info").run().ok();
    assert_eq!(
        human.field("product_version").as_deref(),
        Some(sample::PRODUCT_VERSION)
    );
    assert_eq!(human.field("build").as_deref(), Some(sample::BUILD));
    assert_eq!(
        human.field("rest_api_version").as_deref(),
        Some(sample::REST_API_VERSION)
    );
    assert!(human.stderr.is_empty(), "{human:?}");

    // Global options after the subcommand work too.
    let json = Cli::new()
        .arg("server-info")
        .args(["--json", "--server", fake.base_url(), "--ca-file"])
        .arg(fake.ca_file().unwrap().to_str().unwrap())
        .run()
        .ok();
    let v = json.json();
    assert_eq!(v["product_version"], sample::PRODUCT_VERSION);
    assert_eq!(v["build"], sample::BUILD);
    assert_eq!(v["rest_api_version"], sample::REST_API_VERSION);

    // Settings from the environment.
    let env = Cli::new()
        .env("TABLEAU_SERVER", fake.base_url())
        .env("TABLEAU_CA_FILE", fake.ca_file().unwrap().to_str().unwrap())
        .args(["--json", "server-info"])
        .run()
        .ok();
    assert_eq!(env.json()["rest_api_version"], sample::REST_API_VERSION);

    // Empty settings in the environment count as unset ("" is the Default site anyway).
    let run = Cli::to(&fake)
        .admin()
        .env("TABLEAU_SITE", "")
        .env("TABLEAU_API_VERSION", "")
        .args(["--json", "sign-in"])
        .run()
        .ok();
    assert_eq!(run.json()["site_id"], sample::DEFAULT_SITE_ID);
    let run = Cli::new()
        .env("TABLEAU_SERVER", fake.base_url())
        .env("TABLEAU_CA_FILE", "")
        .arg("server-info")
        .run()
        .fails(4);
    assert!(run.stderr.contains("TLS"), "{run:?}");
}

#[test]
fn sign_in_with_each_credential_kind_in_xml_and_json() {
    let fake = fake();
    let control = fake.control();
    for wire in ["xml", "json"] {
        // Password, human output.
        let run = Cli::to(&fake)
            .admin()
            .args(["--wire", wire, "sign-in"])
            .run()
            .ok();
        assert_eq!(
            run.field("site_id").as_deref(),
            Some(sample::DEFAULT_SITE_ID),
            "{run:?}"
        );
        assert_eq!(run.field("site_content_url").as_deref(), Some(""));
        assert_eq!(run.field("user_id").as_deref(), Some(sample::ADMIN_ID));
        assert_eq!(
            run.field("api_version").as_deref(),
            Some(sample::REST_API_VERSION)
        );
        assert!(run.stderr.is_empty(), "{run:?}");

        // PAT, on the Finance site, JSON output.
        let run = Cli::to(&fake)
            .args([
                "--pat-name",
                sample::USER_PAT_NAME,
                "--site",
                sample::FINANCE_SITE,
            ])
            .env("TABLEAU_PAT_SECRET", sample::USER_PAT_SECRET)
            .args(["--wire", wire, "--json", "sign-in"])
            .run()
            .ok();
        let v = run.json();
        assert_eq!(v["site_id"], sample::FINANCE_SITE_ID);
        assert_eq!(v["site_content_url"], sample::FINANCE_SITE);
        assert_eq!(v["user_id"], sample::USER_ID);
        assert_eq!(v["api_version"], sample::REST_API_VERSION);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "api_version",
                "credentials_expire_in_secs",
                "site_content_url",
                "site_id",
                "user_id"
            ]
        );
        // Tableau's estimate of the PAT's remaining lifetime (to the minute).
        let control = fake.control();
        let expires = control
            .config()
            .pats
            .iter()
            .find(|p| p.name == sample::USER_PAT_NAME)
            .and_then(|p| p.expires_at_unix)
            .expect("the sample PAT expires");
        let left = expires - control.now_unix();
        let told = v["credentials_expire_in_secs"].as_u64().expect("seconds");
        assert!(told <= left && told + 120 >= left, "{told} vs {left}");

        // A ready JWT.
        let run = Cli::to(&fake)
            .arg("--jwt")
            .env("TABLEAU_JWT", &ready_jwt(sample::USER_NAME))
            .args(["--wire", wire, "--json", "sign-in"])
            .run()
            .ok();
        assert_eq!(run.json()["user_id"], sample::USER_ID);

        // A connected app (the tool mints the JWT), default scope and explicit scopes.
        for scopes in [
            &[][..],
            &[
                "--scope",
                "tableau:content:read",
                "--scope",
                "tableau:views:embed",
            ],
        ] {
            let mut cli = Cli::to(&fake)
                .args(["--connected-app", sample::APP_CLIENT_ID])
                .args(["--secret-id", sample::APP_SECRET_ID])
                .args(["--jwt-user", sample::USER_NAME])
                .env("TABLEAU_CONNECTED_APP_SECRET", sample::APP_SECRET_VALUE);
            for s in scopes {
                cli = cli.arg(s);
            }
            let run = cli.args(["--wire", wire, "--json", "sign-in"]).run().ok();
            assert_eq!(run.json()["user_id"], sample::USER_ID);
        }
    }
    // Every sign-in signed out, and the server saw the wire format asked for.
    assert_eq!(control.live_sessions(), 0);
    let log = fake.request_log();
    let sign_ins: Vec<_> = log.iter().filter(|r| r.is_signin()).collect();
    assert_eq!(sign_ins.len(), 10);
    assert_eq!(signed_out_tokens(&fake).len(), 10);
    assert!(
        sign_ins
            .iter()
            .any(|r| r.header("content-type") == Some("application/json"))
    );
    assert!(
        sign_ins
            .iter()
            .any(|r| r.header("content-type") == Some("application/xml"))
    );
}

#[test]
fn impersonation_as_the_admin() {
    let fake = fake();
    let run = Cli::to(&fake)
        .admin()
        .args(["--impersonate", sample::USER_ID, "--json", "sign-in"])
        .run()
        .ok();
    assert_eq!(run.json()["user_id"], sample::USER_ID);
    let run = Cli::to(&fake)
        .admin()
        .args(["--impersonate", sample::USER_ID, "whoami"])
        .run()
        .ok();
    assert_eq!(run.field("user_name").as_deref(), Some(sample::USER_NAME));
    assert_eq!(run.field("site_role").as_deref(), Some("Creator"));
    // A non-admin may not impersonate: the server refuses.
    let run = Cli::to(&fake)
        .jsmith()
        .args(["--impersonate", sample::ADMIN_ID, "sign-in"])
        .run();
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(fake.control().live_sessions(), 0);
}

#[test]
fn whoami_in_xml_and_json() {
    let fake = fake();
    for wire in ["xml", "json"] {
        let run = Cli::to(&fake)
            .jsmith()
            .args([
                "--site",
                sample::FINANCE_SITE,
                "--wire",
                wire,
                "--json",
                "whoami",
            ])
            .run()
            .ok();
        let v = run.json();
        assert_eq!(v["site_id"], sample::FINANCE_SITE_ID);
        assert_eq!(v["site_content_url"], sample::FINANCE_SITE);
        assert_eq!(v["user_id"], sample::USER_ID);
        assert_eq!(v["user_name"], sample::USER_NAME);
        assert_eq!(v["site_role"], "Explorer");
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "site_content_url",
                "site_id",
                "site_role",
                "user_id",
                "user_name"
            ]
        );

        let run = Cli::to(&fake)
            .admin()
            .args(["--wire", wire, "whoami"])
            .run()
            .ok();
        assert_eq!(run.field("user_name").as_deref(), Some(sample::ADMIN_NAME));
        assert_eq!(
            run.field("site_role").as_deref(),
            Some("ServerAdministrator")
        );
        assert_eq!(
            run.field("site_id").as_deref(),
            Some(sample::DEFAULT_SITE_ID)
        );
    }
    // The call carried the session's token and asked for the wire format.
    let current: Vec<_> = fake
        .request_log()
        .into_iter()
        .filter(|r| r.path_ends_with("/sessions/current"))
        .collect();
    assert_eq!(current.len(), 4);
    assert!(
        current
            .iter()
            .all(|r| r.token().is_some() && r.status == Some(200))
    );
    assert_eq!(current[1].header("accept"), Some("application/xml"));
    assert_eq!(current[3].header("accept"), Some("application/json"));
    assert_eq!(fake.control().live_sessions(), 0);
}

#[test]
fn whoami_signs_out_even_when_its_second_call_fails() {
    let fake = fake();
    let control = fake.control();
    let path = format!("/api/{}/sessions/current", sample::REST_API_VERSION);
    control.add_fault(FaultRule::exact(
        path,
        Fault::Status {
            status: 500,
            retry_after: None,
            body: None,
        },
    ));
    let run = Cli::to(&fake)
        .admin()
        .args(["--json", "whoami"])
        .run()
        .fails(4);
    assert!(run.stderr.contains("HTTP 500"), "{run:?}");
    assert_eq!(run.json()["error"]["kind"], "status");
    assert_eq!(control.live_sessions(), 0, "whoami left its session open");
    assert_eq!(signed_out_tokens(&fake).len(), 1);

    // A sign-out that fails after a success (the server broke) changes neither the output nor
    // the status: a warning.
    control.clear_faults();
    let signout = format!("/api/{}/auth/signout", sample::REST_API_VERSION);
    control.add_fault(FaultRule::exact(
        &signout,
        Fault::Status {
            status: 500,
            retry_after: None,
            body: None,
        },
    ));
    let run = Cli::to(&fake)
        .admin()
        .args(["--json", "sign-in"])
        .run()
        .ok();
    assert_eq!(run.json()["user_id"], sample::ADMIN_ID);
    assert!(run.stderr.contains("could not sign out"), "{run:?}");
    control.clear_faults();
    control.drop_sessions(None);
}

#[test]
fn a_throttled_sign_out_is_waited_for_or_fails_the_command() {
    let fake = fake();
    let control = fake.control();
    let signout = format!("/api/{}/auth/signout", sample::REST_API_VERSION);
    let busy = |retry_after: Option<&str>| Fault::Status {
        status: 503,
        retry_after: retry_after.map(str::to_owned),
        body: None,
    };

    // Once, with Retry-After: 1: the sign-out is retried and the session ends.
    control.add_fault(FaultRule::exact(&signout, busy(Some("1"))).once());
    let run = Cli::to(&fake)
        .admin()
        .args(["--json", "sign-in"])
        .run()
        .ok();
    assert_eq!(run.json()["user_id"], sample::ADMIN_ID);
    assert!(!run.stderr.contains("could not sign out"), "{run:?}");
    assert_eq!(control.live_sessions(), 0, "sign-in left its session open");
    let attempts: Vec<_> = fake
        .request_log()
        .into_iter()
        .filter(|r| r.path == signout)
        .map(|r| r.status)
        .collect();
    assert_eq!(attempts, [Some(503), Some(204)]);

    // Still throttled once the retries --timeout allows are used up: the session is left
    // open, so the command does not exit 0; the one JSON object is the error.
    control.add_fault(FaultRule::exact(&signout, busy(None)));
    for json in [true, false] {
        let mut cli = Cli::to(&fake).admin().args(["--timeout", "2"]);
        if json {
            cli = cli.arg("--json");
        }
        let run = cli.arg("sign-in").run().fails(4);
        assert!(run.stderr.contains("could not sign out"), "{run:?}");
        assert!(run.stderr.contains("HTTP 503"), "{run:?}");
        assert!(run.elapsed < Duration::from_secs(10), "{run:?}");
        if json {
            let error = &run.json()["error"];
            assert_eq!(error["kind"], "throttled", "{run:?}");
            assert_eq!(error["code"], Value::Null);
        } else {
            assert!(run.stdout.is_empty(), "{run:?}");
        }
        assert_eq!(control.live_sessions(), 1, "{run:?}");
        control.drop_sessions(None);
    }
}

#[test]
fn switch_site_to_finance_and_back() {
    let fake = fake();
    let run = Cli::to(&fake)
        .admin()
        .args(["switch-site", sample::FINANCE_SITE])
        .run()
        .ok();
    assert_eq!(
        run.field("site_id").as_deref(),
        Some(sample::FINANCE_SITE_ID)
    );
    assert_eq!(
        run.field("site_content_url").as_deref(),
        Some(sample::FINANCE_SITE)
    );
    assert_eq!(run.field("user_id").as_deref(), Some(sample::ADMIN_ID));

    let run = Cli::to(&fake)
        .admin()
        .args(["--site", sample::FINANCE_SITE, "--json", "switch-site", ""])
        .run()
        .ok();
    let v = run.json();
    assert_eq!(v["site_id"], sample::DEFAULT_SITE_ID);
    assert_eq!(v["site_content_url"], "");
    assert!(run.stderr.is_empty(), "{run:?}");
    let log = fake.request_log();
    let last_sign_in = log.iter().rfind(|r| r.is_signin()).unwrap();
    assert!(
        last_sign_in.body_str().contains("contentUrl=\"Finance\""),
        "{last_sign_in:?}"
    );
    let switch = log
        .iter()
        .rfind(|r| r.path_ends_with("/auth/switchSite"))
        .unwrap();
    assert!(switch.body_str().contains("contentUrl=\"\""), "{switch:?}");

    // Already there (403070): the unchanged session, success.
    let run = Cli::to(&fake)
        .admin()
        .args(["--json", "switch-site", ""])
        .run()
        .ok();
    assert_eq!(run.json()["site_id"], sample::DEFAULT_SITE_ID);
    assert!(run.stderr.contains("already on that site"), "{run:?}");

    // A site the user is not on: refused, still signed out.
    let run = Cli::to(&fake)
        .args([
            "--username",
            sample::FINANCE_USER_NAME,
            "--site",
            sample::FINANCE_SITE,
        ])
        .env("TABLEAU_PASSWORD", sample::FINANCE_USER_PASSWORD)
        .args(["switch-site", ""])
        .run()
        .fails(3);
    assert!(run.stderr.contains("401001"), "{run:?}");
    assert_eq!(fake.control().live_sessions(), 0);
}

#[test]
fn token_then_sign_out_then_already_gone() {
    let fake = fake();
    let control = fake.control();
    let run = Cli::to(&fake).admin().arg("token").run().ok();
    let token = run.stdout.strip_suffix('\n').expect("newline").to_owned();
    assert!(
        !token.is_empty() && !token.contains(char::is_whitespace),
        "{run:?}"
    );
    assert!(
        control.has_session(&token),
        "the token's session is not open"
    );
    assert_eq!(control.live_sessions(), 1);
    assert!(signed_out_tokens(&fake).is_empty());

    let run = Cli::to(&fake)
        .env("TABLEAU_AUTH_TOKEN", &token)
        .arg("sign-out")
        .run()
        .ok();
    assert_eq!(run.field("signed_out").as_deref(), Some("confirmed"));
    assert!(!run.stdout.contains(&token) && !run.stderr.contains(&token));
    assert!(!control.has_session(&token));

    let run = Cli::to(&fake)
        .env("TABLEAU_AUTH_TOKEN", &token)
        .args(["--json", "sign-out"])
        .run()
        .ok();
    assert_eq!(
        run.json(),
        serde_json::json!({ "signed_out": "already_gone" })
    );
    let run = Cli::to(&fake)
        .env("TABLEAU_AUTH_TOKEN", &token)
        .arg("sign-out")
        .run()
        .ok();
    assert_eq!(run.field("signed_out").as_deref(), Some("already_gone"));

    // JSON form of token.
    let run = Cli::to(&fake).jsmith().args(["--json", "token"]).run().ok();
    let token = run.json()["token"].as_str().expect("token").to_owned();
    assert!(control.has_session(&token));
    Cli::to(&fake)
        .env("TABLEAU_AUTH_TOKEN", &format!("{token}\n"))
        .arg("sign-out")
        .run()
        .ok();
    assert_eq!(control.live_sessions(), 0);
}

#[test]
fn trusted_tickets() {
    let fake = fake();
    let run = Cli::to(&fake)
        .args(["ticket", sample::USER_NAME])
        .run()
        .ok();
    let ticket = run.stdout.strip_suffix('\n').expect("newline");
    assert!(!ticket.is_empty() && ticket != "-1" && !ticket.contains(char::is_whitespace));
    assert!(run.stderr.is_empty(), "{run:?}");

    let run = Cli::to(&fake)
        .args(["--json", "ticket", sample::FINANCE_USER_NAME])
        .args([
            "--target-site",
            sample::FINANCE_SITE,
            "--client-ip",
            "10.1.2.3",
        ])
        .run()
        .ok();
    let v = run.json();
    assert!(
        v["ticket"].as_str().is_some_and(|t| !t.is_empty()),
        "{run:?}"
    );
    assert_eq!(v.as_object().unwrap().len(), 1);
    let form = fake.request_log().last().unwrap().body_str().into_owned();
    assert!(
        form.contains("target_site=Finance") && form.contains("client_ip=10.1.2.3"),
        "{form}"
    );

    // --site is the default target site.
    let run = Cli::to(&fake)
        .args([
            "--site",
            sample::FINANCE_SITE,
            "ticket",
            sample::FINANCE_USER_NAME,
        ])
        .run()
        .ok();
    assert!(!run.stdout.trim().is_empty());

    // The global --username (ignored by ticket) does not replace the ticket's user.
    Cli::to(&fake)
        .admin()
        .args(["ticket", sample::USER_NAME])
        .run()
        .ok();
    let form = fake.request_log().last().unwrap().body_str().into_owned();
    assert!(form.starts_with("username=jsmith&"), "{form}");

    let run = Cli::to(&fake).args(["ticket", "nobody"]).run().fails(3);
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(run.stderr.contains("-1"), "{run:?}");
    let run = Cli::to(&fake)
        .args(["--json", "ticket", "nobody"])
        .run()
        .fails(3);
    assert_eq!(run.json()["error"]["kind"], "ticket_refused");

    Cli::to(&fake)
        .args(["ticket", "x", "--client-ip", "::1"])
        .run()
        .fails(2);
}

#[test]
fn wrong_password_is_a_refusal_with_the_code() {
    let fake = fake();
    let run = Cli::to(&fake)
        .args(["--username", sample::USER_NAME])
        .env("TABLEAU_PASSWORD", "not-the-password")
        .arg("sign-in")
        .run()
        .fails(3);
    assert!(run.stdout.is_empty(), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.contains("401001"), "{run:?}");
    assert!(run.stderr.contains("Signin Error"), "{run:?}");
    assert!(!run.stderr.contains("not-the-password"));

    let run = Cli::to(&fake)
        .args(["--username", sample::USER_NAME])
        .env("TABLEAU_PASSWORD", "not-the-password")
        .args(["--json", "whoami"])
        .run()
        .fails(3);
    let v = run.json();
    assert_eq!(v["error"]["code"], "401001");
    assert_eq!(v["error"]["summary"], "Signin Error");
    assert_eq!(v["error"]["kind"], "api");
    assert!(v["error"]["detail"].is_string());
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
}

#[test]
fn http_to_https_redirect_moves_without_sending_secrets_in_clear() {
    let fake = fake();
    let redirect = fake
        .http_redirect_url()
        .expect("redirect listener")
        .to_owned();
    let ca = fake.ca_file().unwrap().to_str().unwrap().to_owned();
    let via_http = |extra: &[&str]| {
        let mut cli = Cli::new().args(["--server", &redirect, "--ca-file", &ca]);
        for a in extra {
            cli = cli.arg(a);
        }
        cli
    };
    // The core follows the anonymous server-info probe's upgrade to https of the same host,
    // then posts the credentials straight to https; the tool says the server moved.
    let run = via_http(&["--json", "sign-in"]).admin().run().ok();
    let v = run.json();
    assert_eq!(v["user_id"], sample::ADMIN_ID);
    assert_eq!(v["moved_to"], fake.base_url());
    assert!(run.stderr.contains("plain http"), "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("use --server {}", fake.base_url())),
        "{run:?}"
    );

    // With a fixed API version the core would post first; the tool probes first instead.
    let run = via_http(&["--api-version", "3.25", "whoami"])
        .admin()
        .run()
        .ok();
    assert_eq!(run.field("user_name").as_deref(), Some(sample::ADMIN_NAME));
    assert_eq!(run.field("moved_to").as_deref(), Some(fake.base_url()));

    let run = via_http(&["token"]).jsmith().run().ok();
    let token = run.stdout.trim().to_owned();
    // whoami on that session probes first too: the token never travels over plain http.
    let run = via_http(&["--api-version", "3.25", "whoami"])
        .env("TABLEAU_AUTH_TOKEN", &token)
        .run()
        .ok();
    assert_eq!(run.field("user_name").as_deref(), Some(sample::USER_NAME));
    assert_eq!(run.field("moved_to").as_deref(), Some(fake.base_url()));
    via_http(&["--api-version", "3.25", "sign-out"])
        .env("TABLEAU_AUTH_TOKEN", &token)
        .run()
        .ok();
    via_http(&["ticket", sample::USER_NAME]).run().ok();
    assert_eq!(fake.control().live_sessions(), 0);

    // A redirect to another host (localhost → 127.0.0.1) is refused: exit 4.
    let other = redirect.replace("127.0.0.1", "localhost");
    let run = Cli::new()
        .args(["--server", &other, "--ca-file", &ca, "sign-in"])
        .admin()
        .run()
        .fails(4);
    assert!(run.stderr.contains("redirect"), "{run:?}");

    // The plain-http listener never saw a password, a token or a body.
    let plain: Vec<_> = fake
        .request_log()
        .into_iter()
        .filter(|r| r.listener == Listener::HttpRedirect)
        .collect();
    assert!(!plain.is_empty());
    for r in &plain {
        assert_eq!(r.method, "GET", "{r:?}");
        assert!(r.body.is_empty(), "{r:?}");
        assert!(r.token().is_none(), "{r:?}");
        assert!(!r.is_signin(), "{r:?}");
    }
}

#[test]
fn tls_trust_and_its_override() {
    let fake = fake();
    let run = Cli::new()
        .args(["--server", fake.base_url(), "server-info"])
        .run()
        .fails(4);
    assert!(run.stderr.contains("TLS"), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");

    let run = Cli::new()
        .args([
            "--server",
            fake.base_url(),
            "--json",
            "--danger-accept-invalid-certs",
        ])
        .admin()
        .arg("sign-in")
        .run()
        .ok();
    assert_eq!(run.json()["user_id"], sample::ADMIN_ID);
    assert!(run.stderr.contains("not checked"), "{run:?}");

    Cli::new()
        .args([
            "--server",
            fake.base_url(),
            "--ca-file",
            "/nonexistent/ca.pem",
            "server-info",
        ])
        .run()
        .fails(2);
}

/// `--client-cert` and `--client-key` (or their variables) against a fake that asks for a
/// client certificate: signs in with them, fails with exit 4 (kind `tls`) without; each flag
/// needs the other; an unreadable file is named (exit 2); the key is never printed.
#[test]
fn mutual_tls_with_client_cert_and_key_files() {
    let pki = tableau_auth_tests::support::ClientPki::generate();
    let options = FakeOptions::builder()
        .redirect_listener(false)
        .client_ca(pki.ca_pem.clone())
        .build();
    let fake = FakeServer::start_blocking(FakeConfig::sample(), options).expect("the fake");
    let dir = std::env::temp_dir().join(format!("tableau-auth-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let (cert, key) = (dir.join("client.pem"), dir.join("client.key"));
    std::fs::write(&cert, &pki.cert_pem).expect("write the certificate");
    std::fs::write(&key, &pki.key_pem).expect("write the key");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let key_line = pki
        .key_pem
        .lines()
        .nth(1)
        .expect("a base64 line of the key");

    let run = Cli::to(&fake)
        .args(["--client-cert", cert, "--client-key", key, "--json"])
        .jsmith()
        .arg("sign-in")
        .run()
        .ok();
    assert_eq!(run.json()["user_id"], sample::USER_ID);
    let run = Cli::to(&fake)
        .env("TABLEAU_CLIENT_CERT", cert)
        .env("TABLEAU_CLIENT_KEY", key)
        .jsmith()
        .arg("whoami")
        .run()
        .ok();
    assert!(!run.stdout.contains(key_line) && !run.stderr.contains(key_line));

    let run = Cli::to(&fake)
        .args(["--json"])
        .jsmith()
        .arg("sign-in")
        .run()
        .fails(4);
    assert_eq!(run.json()["error"]["kind"], "tls", "{run:?}");
    Cli::to(&fake)
        .args(["--client-cert", cert])
        .jsmith()
        .arg("sign-in")
        .run()
        .fails(2);
    let run = Cli::to(&fake)
        .args([
            "--client-cert",
            cert,
            "--client-key",
            "/nonexistent/client.key",
        ])
        .jsmith()
        .arg("sign-in")
        .run()
        .fails(2);
    assert!(run.stderr.contains("/nonexistent/client.key"), "{run:?}");
    // A certificate file given as the key: refused, and neither file's content is shown.
    let run = Cli::to(&fake)
        .args(["--client-cert", cert, "--client-key", cert])
        .jsmith()
        .arg("sign-in")
        .run();
    assert_ne!(run.code, 0, "{run:?}");
    assert!(!run.stderr.contains("BEGIN"), "{run:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_hanging_server_times_out() {
    let fake = fake();
    let signin = format!("/api/{}/auth/signin", sample::REST_API_VERSION);
    fake.control()
        .add_fault(FaultRule::exact(signin, Fault::Hang));
    let run = Cli::to(&fake)
        .admin()
        .args(["--timeout", "1", "sign-in"])
        .run()
        .fails(4);
    assert!(run.elapsed < Duration::from_secs(3), "{run:?}");
    assert!(run.stderr.contains("timed out"), "{run:?}");

    fake.control()
        .add_fault(FaultRule::prefix("/api/", Fault::Hang));
    let run = Cli::to(&fake)
        .args(["--json", "server-info", "--timeout", "1"])
        .run()
        .fails(4);
    assert!(run.elapsed < Duration::from_secs(3), "{run:?}");
    assert_eq!(run.json()["error"]["kind"], "timeout");
}

#[test]
fn usage_errors_exit_2() {
    let fake = fake();
    let cases: Vec<(Cli, &str)> = vec![
        (Cli::to(&fake).arg("sign-in"), "no credentials"),
        (
            Cli::to(&fake).admin().args(["--pat-name", "p", "sign-in"]),
            "only one kind",
        ),
        (
            Cli::to(&fake).args(["--username", "admin", "whoami"]),
            "TABLEAU_PASSWORD",
        ),
        (
            Cli::to(&fake).args(["--pat-name", "p", "token"]),
            "TABLEAU_PAT_SECRET",
        ),
        (Cli::to(&fake).args(["--jwt", "sign-in"]), "TABLEAU_JWT"),
        (
            Cli::to(&fake).args([
                "--connected-app",
                "c",
                "--secret-id",
                "s",
                "--jwt-user",
                "u",
                "sign-in",
            ]),
            "TABLEAU_SECRET_VALUE",
        ),
        (Cli::to(&fake).arg("sign-out"), "TABLEAU_AUTH_TOKEN"),
        (
            Cli::to(&fake)
                .admin()
                .args(["--impersonate", "not-a-luid", "sign-in"]),
            "LUID",
        ),
        (Cli::new().admin().arg("sign-in"), "--server"),
        (
            Cli::to(&fake).args(["--connected-app", "c", "sign-in"]),
            "--secret-id",
        ),
        (
            Cli::to(&fake).args(["--scope", "x", "sign-in"]),
            "--connected-app",
        ),
        (
            Cli::to(&fake).args(["--api-version", "three", "server-info"]),
            "--api-version",
        ),
        (
            Cli::to(&fake).args(["--timeout", "0", "server-info"]),
            "--timeout",
        ),
        (
            Cli::to(&fake).args(["--wire", "yaml", "server-info"]),
            "--wire",
        ),
        (
            Cli::to(&fake).args(["--password", "x", "sign-in"]),
            "--password",
        ),
        (Cli::to(&fake).arg("switch-site"), "<SITE>"),
        (
            Cli::new().args(["--server", "ftp://x", "server-info"]),
            "https://",
        ),
    ];
    for (cli, needle) in cases {
        let run = cli.run().fails(2);
        assert!(run.stdout.is_empty(), "{run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
        assert!(run.stderr.starts_with("tableau-auth: "), "{run:?}");
        assert!(run.stderr.contains(needle), "{needle}: {run:?}");
    }
    // --json: the error object on stdout as well.
    let run = Cli::to(&fake).args(["--json", "sign-in"]).run().fails(2);
    assert_eq!(run.json()["error"]["kind"], "usage");
    let run = Cli::to(&fake)
        .args(["--json", "--wire", "yaml", "sign-in"])
        .run()
        .fails(2);
    assert_eq!(run.json()["error"]["kind"], "usage");
    let run = Cli::new().arg("--json").run().fails(2);
    assert_eq!(run.json()["error"]["kind"], "usage");
    let run = Cli::new().run().fails(2);
    assert!(
        run.stdout.is_empty() && run.stderr.contains("Usage:"),
        "{run:?}"
    );
    // Nothing was sent for any of them (the --server check needs no request either).
    assert!(fake.request_log().is_empty());
}

#[test]
fn help_and_version() {
    let run = Cli::new()
        .env("TABLEAU_SERVER", "https://SENTINEL-server.example.com")
        .env("TABLEAU_SITE", "SENTINEL-site")
        .env("TABLEAU_PASSWORD", "SENTINEL-password")
        .arg("--help")
        .run()
        .ok();
    for needle in [
        "TABLEAU_SERVER",
        "TABLEAU_SITE",
        "TABLEAU_API_VERSION",
        "TABLEAU_CA_FILE",
        "TABLEAU_PASSWORD",
        "TABLEAU_PAT_SECRET",
        "TABLEAU_JWT",
        "TABLEAU_SECRET_VALUE",
        "TABLEAU_AUTH_TOKEN",
        "Exit status",
        "server-info",
        "switch-site",
        "--danger-accept-invalid-certs",
    ] {
        assert!(run.stdout.contains(needle), "{needle} missing from --help");
    }
    for code in ["0 ", "2 ", "3 ", "4 "] {
        assert!(
            run.stdout.contains(&format!("  {code} ")),
            "exit {code} undocumented"
        );
    }
    assert!(
        !run.stdout.contains("SENTINEL"),
        "--help shows an env value"
    );
    let run = Cli::new().arg("--version").run().ok();
    assert!(run.stdout.starts_with("tableau-auth "), "{run:?}");
    let run = Cli::new().args(["ticket", "--help"]).run().ok();
    assert!(run.stdout.contains("--target-site"), "{run:?}");
}

// ---------------------------------------------------------------------------------------------
// Secrets never leak (issue 6): the sentinel set and checker of `tableau_auth_tests::sentinel`

/// A set of credential options and the environment that goes with them.
struct Creds {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// Whether the server accepts them.
    good: bool,
}

fn creds(name: &'static str, args: &[&str], env: &[(&'static str, &str)], good: bool) -> Creds {
    Creds {
        name,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        good,
    }
}

/// Every credential kind (good and refused), with a sentinel secret in its variable. JWTs are
/// made fresh for each call (their `jti` is single-use) and registered with `leaks`.
fn every_creds(fake: &FakeServer, leaks: &sentinel::Leaks) -> Vec<Creds> {
    use sentinel::*;
    let jwt = hand_jwt(fake, sample::USER_NAME, APP_SECRET);
    leaks.register("a hand-signed JWT", &jwt);
    let bad_jwt = hand_jwt(fake, sample::USER_NAME, WRONG_APP_SECRET);
    leaks.register("a wrongly signed JWT", &bad_jwt);
    let app = |user: &'static str| {
        vec![
            "--connected-app",
            sample::APP_CLIENT_ID,
            "--secret-id",
            sample::APP_SECRET_ID,
            "--jwt-user",
            user,
        ]
    };
    let mut app_admin = app(sample::ADMIN_NAME);
    app_admin.extend(["--impersonate", sample::USER_ID]);
    vec![
        creds(
            "password",
            &["--username", sample::USER_NAME],
            &[("TABLEAU_PASSWORD", PASSWORD)],
            true,
        ),
        creds(
            "PAT",
            &["--pat-name", sample::USER_PAT_NAME],
            &[("TABLEAU_PAT_SECRET", PAT_SECRET)],
            true,
        ),
        creds("JWT", &["--jwt"], &[("TABLEAU_JWT", &jwt)], true),
        creds(
            "connected app",
            &app(sample::USER_NAME),
            &[("TABLEAU_CONNECTED_APP_SECRET", APP_SECRET)],
            true,
        ),
        creds(
            "admin password, impersonating",
            &[
                "--username",
                sample::ADMIN_NAME,
                "--impersonate",
                sample::USER_ID,
            ],
            &[("TABLEAU_PASSWORD", ADMIN_PASSWORD)],
            true,
        ),
        creds(
            "admin PAT, impersonating",
            &[
                "--pat-name",
                sample::ADMIN_PAT_NAME,
                "--impersonate",
                sample::USER_ID,
            ],
            &[("TABLEAU_PAT_SECRET", ADMIN_PAT_SECRET)],
            true,
        ),
        creds(
            "connected app as admin, impersonating",
            &app_admin,
            &[("TABLEAU_CONNECTED_APP_SECRET", APP_SECRET)],
            true,
        ),
        creds(
            "wrong password",
            &["--username", sample::USER_NAME],
            &[("TABLEAU_PASSWORD", WRONG_PASSWORD)],
            false,
        ),
        creds(
            "wrong PAT secret",
            &["--pat-name", sample::USER_PAT_NAME],
            &[("TABLEAU_PAT_SECRET", WRONG_PAT_SECRET)],
            false,
        ),
        creds(
            "revoked PAT",
            &["--pat-name", sample::REVOKED_PAT_NAME],
            &[("TABLEAU_PAT_SECRET", REVOKED_PAT_SECRET)],
            false,
        ),
        creds(
            "wrongly signed JWT",
            &["--jwt"],
            &[("TABLEAU_JWT", &bad_jwt)],
            false,
        ),
        creds(
            "not a JWT",
            &["--jwt"],
            &[("TABLEAU_JWT", FORGED_JWT)],
            false,
        ),
        creds(
            "connected app, wrong secret",
            &app(sample::USER_NAME),
            &[("TABLEAU_CONNECTED_APP_SECRET", WRONG_APP_SECRET)],
            false,
        ),
        creds(
            "non-admin impersonating",
            &[
                "--username",
                sample::USER_NAME,
                "--impersonate",
                sample::ADMIN_ID,
            ],
            &[("TABLEAU_PASSWORD", PASSWORD)],
            false,
        ),
    ]
}

/// The sentinel in every secret variable (a command's own credentials then override theirs).
fn with_sentinels(mut cli: Cli) -> Cli {
    for (name, value) in [
        ("TABLEAU_PASSWORD", sentinel::WRONG_PASSWORD),
        ("TABLEAU_PAT_SECRET", sentinel::WRONG_PAT_SECRET),
        ("TABLEAU_JWT", sentinel::FORGED_JWT),
        ("TABLEAU_CONNECTED_APP_SECRET", sentinel::WRONG_APP_SECRET),
        ("TABLEAU_AUTH_TOKEN", sentinel::STALE_TOKEN),
    ] {
        cli = cli.env(name, value);
    }
    cli
}

/// Checks stdout and stderr of `run` (after learning the tokens the fake saw). `token` and
/// `ticket` print their value on stdout when they succeed: that value, and only it.
fn check_output(fake: &FakeServer, leaks: &sentinel::Leaks, what: &str, command: &str, run: &Run) {
    leaks.register_from_log(&fake.request_log());
    leaks.assert_clean(&format!("{what}: stderr"), &run.stderr);
    let printed = matches!(command, "token" | "ticket") && run.code == 0;
    if !printed {
        leaks.assert_clean(&format!("{what}: stdout"), &run.stdout);
        return;
    }
    let value = match serde_json::from_str::<Value>(run.stdout.trim()) {
        Ok(json) => json[command].as_str().map(str::to_owned),
        Err(_) => Some(run.stdout.trim().to_owned()),
    };
    let value = value.filter(|v| !v.is_empty() && v != "-1");
    let value = value.unwrap_or_else(|| panic!("{what}: no {command} on stdout"));
    if command == "token" {
        assert!(
            fake.control().has_session(&value),
            "{what}: the printed token is not a live session"
        );
    }
    leaks.register(format!("a {command} the tool printed"), &value);
    // Nothing but the value: the rest of stdout is clean.
    leaks.assert_clean(
        &format!("{what}: stdout around the {command}"),
        &run.stdout.replace(&value, ""),
    );
}

fn run_cli(fake: &FakeServer, leaks: &sentinel::Leaks, what: &str, cli: Cli, command: &str) -> Run {
    let run = cli.run();
    check_output(fake, leaks, what, command, &run);
    run
}

/// With sentinels in every secret and every credential kind, no command prints a secret,
/// whatever happens; `token` and `ticket` print exactly their value.
#[test]
fn no_secret_is_ever_printed() {
    let fake = FakeServer::start_blocking(sentinel::config(), FakeOptions::default())
        .expect("fake server");
    let control = fake.control();
    let leaks = sentinel::Leaks::new();
    // The JSON runs are verbose too: every request and session event on stderr.
    let to = |json: bool| {
        let mut cli = with_sentinels(Cli::to(&fake));
        if json {
            cli = cli.args(["--json", "--verbose"]);
        }
        cli
    };
    let mut runs = 0;
    let mut printed = 0;
    for json in [false, true] {
        // Every credential kind through every command that signs in.
        for command in [
            &["sign-in"][..],
            &["whoami"],
            &["switch-site", sample::FINANCE_SITE],
            &["token"],
        ] {
            for creds in every_creds(&fake, &leaks) {
                let what = format!("{} {command:?} json={json}", creds.name);
                let mut cli = to(json);
                for (name, value) in &creds.env {
                    cli = cli.env(name, value);
                }
                for arg in creds
                    .args
                    .iter()
                    .map(String::as_str)
                    .chain(command.iter().copied())
                {
                    cli = cli.arg(arg);
                }
                let run = run_cli(&fake, &leaks, &what, cli, command[0]);
                runs += 1;
                assert_eq!(
                    run.code == 0,
                    creds.good,
                    "{what}: exit status {}",
                    run.code
                );
                if run.code == 0 && command[0] == "token" {
                    printed += 1;
                    let token = signed_out_or_live_token(&fake, &run);
                    // Use that session (no sign-in, no sign-out): no token printed.
                    let cli = to(json).env("TABLEAU_AUTH_TOKEN", &token).arg("whoami");
                    let me = run_cli(&fake, &leaks, &format!("{what}: whoami"), cli, "whoami");
                    assert_eq!(
                        me.code, 0,
                        "{what}: whoami with the token: exit {}",
                        me.code
                    );
                    assert!(
                        control.has_session(&token),
                        "{what}: whoami ended the session"
                    );
                    runs += 1;
                    // End that session with the printed token: its sign-out prints no token.
                    let cli = to(json).env("TABLEAU_AUTH_TOKEN", &token).arg("sign-out");
                    let out = run_cli(&fake, &leaks, &format!("{what}: sign-out"), cli, "sign-out");
                    assert_eq!(out.code, 0, "{what}: sign-out exit {}", out.code);
                }
            }
        }
        // The commands without credentials, with every secret variable set.
        for command in [
            &["server-info"][..],
            &["sign-out"],
            &["ticket", sample::USER_NAME],
            &["ticket", "nobody"],
            &["whoami"],
            &["switch-site", sample::FINANCE_SITE],
            &["--help"],
            &["--version"],
        ] {
            let what = format!("{command:?} json={json}");
            let mut cli = to(json);
            for arg in command {
                cli = cli.arg(arg);
            }
            let run = run_cli(&fake, &leaks, &what, cli, command[0]);
            runs += 1;
            if command == ["ticket", sample::USER_NAME] {
                assert_eq!(run.code, 0, "{what}: exit {}", run.code);
                printed += 1;
            }
            // The stale session in TABLEAU_AUTH_TOKEN: refused by the server, or by the tool.
            if command[0] == "whoami" {
                assert_eq!(run.code, 3, "{what}: exit {}", run.code);
            }
            if command[0] == "switch-site" {
                assert_eq!(run.code, 2, "{what}: exit {}", run.code);
            }
        }
        // Failures, each echoing the secret it was sent where a server could.
        let signin = format!("/api/{}/auth/signin", sample::REST_API_VERSION);
        let echo = |status: u16, body: String| Fault::Status {
            status,
            retry_after: None,
            body: Some(body),
        };
        let xml = sentinel::Form::Xml.apply(sentinel::PASSWORD);
        let failures: Vec<(&str, Option<Fault>, Vec<&str>)> = vec![
            (
                "a 401 echoing the password",
                Some(echo(
                    401,
                    format!(
                        "<tsResponse><error code=\"401001\"><summary>Signin Error</summary>\
                         <detail>bad password {xml} for jsmith</detail></error></tsResponse>"
                    ),
                )),
                vec![],
            ),
            (
                "a JSON 401 echoing the password",
                Some(echo(
                    401,
                    serde_json::json!({"error": {"code": "401001", "summary": "Signin Error",
                        "detail": format!("bad password {}", sentinel::PASSWORD)}})
                    .to_string(),
                )),
                vec!["--wire", "json"],
            ),
            (
                "an HTML 502 echoing the password",
                Some(echo(
                    502,
                    format!("<html><body>upstream: {}</body></html>", sentinel::PASSWORD),
                )),
                vec![],
            ),
            ("garbage", Some(Fault::Garbage), vec![]),
            ("truncated", Some(Fault::Truncated), vec![]),
            ("huge", Some(Fault::Huge { bytes: 8 << 20 }), vec![]),
            ("dropped", Some(Fault::DropConnection), vec![]),
            (
                "302 without Location",
                Some(echo(302, String::new())),
                vec![],
            ),
        ];
        for (name, fault, extra) in failures {
            let what = format!("whoami, {name}, json={json}");
            if let Some(fault) = fault {
                control.add_fault(FaultRule::exact(&signin, fault).once());
            }
            let mut cli = to(json)
                .args(["--username", sample::USER_NAME])
                .env("TABLEAU_PASSWORD", sentinel::PASSWORD);
            for arg in extra {
                cli = cli.arg(arg);
            }
            let run = run_cli(&fake, &leaks, &what, cli.arg("whoami"), "whoami");
            runs += 1;
            assert_ne!(run.code, 0, "{what}: succeeded");
            assert!(
                control.faults().is_empty(),
                "{what}: the fault was never reached"
            );
            if name.contains("echoing") {
                assert!(
                    run.stderr.contains("[redacted]"),
                    "{what}: no scrubbed echo"
                );
            }
        }
        // A server echoing the session token of TABLEAU_AUTH_TOKEN (the core never held it).
        let current = format!("/api/{}/sessions/current", sample::REST_API_VERSION);
        control.add_fault(
            FaultRule::exact(
                &current,
                echo(
                    401,
                    format!(
                        "<tsResponse><error code=\"401002\"><summary>Unauthorized Access\
                         </summary><detail>token {} is dead</detail></error></tsResponse>",
                        sentinel::STALE_TOKEN
                    ),
                ),
            )
            .once(),
        );
        let run = run_cli(
            &fake,
            &leaks,
            "whoami with a token echoed",
            to(json).arg("whoami"),
            "whoami",
        );
        assert_eq!(run.code, 3, "token echoed: exit {}", run.code);
        assert!(
            run.stderr.contains("[redacted]"),
            "no scrubbed echo: {run:?}"
        );
        assert!(control.faults().is_empty(), "the echo was never reached");
        runs += 1;
        // A hang, a redirect to another host, an untrusted certificate, a secret as a flag.
        control.add_fault(FaultRule::exact(&signin, Fault::Hang).once());
        let cli = to(json)
            .args(["--username", sample::USER_NAME, "--timeout", "1"])
            .env("TABLEAU_PASSWORD", sentinel::PASSWORD)
            .arg("sign-in");
        let run = run_cli(&fake, &leaks, "a hang", cli, "sign-in");
        assert_eq!(run.code, 4, "a hang: exit {}", run.code);
        let redirect = fake.http_redirect_url().expect("a redirect listener");
        let other = redirect.replace("127.0.0.1", "localhost");
        let cli = with_sentinels(Cli::new())
            .args(["--server", &other, "--ca-file"])
            .arg(fake.ca_file().unwrap().to_str().unwrap())
            .args(["--username", sample::USER_NAME])
            .env("TABLEAU_PASSWORD", sentinel::PASSWORD)
            .arg("sign-in");
        let run = run_cli(&fake, &leaks, "redirect to another host", cli, "sign-in");
        assert_eq!(run.code, 4, "redirect: exit {}", run.code);
        let cli = with_sentinels(Cli::new())
            .args(["--server", fake.base_url()])
            .args(["--pat-name", sample::USER_PAT_NAME])
            .env("TABLEAU_PAT_SECRET", sentinel::PAT_SECRET)
            .arg("sign-in");
        let run = run_cli(&fake, &leaks, "untrusted certificate", cli, "sign-in");
        assert_eq!(run.code, 4, "TLS: exit {}", run.code);
        let cli = to(json).args([
            "--username",
            sample::USER_NAME,
            "--username",
            "x",
            "sign-in",
        ]);
        let run = run_cli(&fake, &leaks, "a usage error", cli, "sign-in");
        assert_eq!(run.code, 2, "usage: exit {}", run.code);
        runs += 4;
    }
    assert_eq!(runs, 2 * (4 * 14 + 7 + 8 + 8 + 1 + 4));
    assert_eq!(
        printed,
        2 * (7 + 1),
        "every good token and ticket was printed"
    );
    // The sentinels did reach the server.
    let log = fake.request_log();
    assert!(log.iter().any(|e| {
        e.body_str()
            .contains(&sentinel::Form::Xml.apply(sentinel::PASSWORD))
    }));
}

/// The token a successful `token` run printed.
fn signed_out_or_live_token(fake: &FakeServer, run: &Run) -> String {
    let text = run.stdout.trim();
    let token = match serde_json::from_str::<Value>(text) {
        Ok(json) => json["token"].as_str().unwrap_or_default().to_owned(),
        Err(_) => text.to_owned(),
    };
    assert!(fake.control().has_session(&token), "not a live token");
    token
}

// ---------------------------------------------------------------------------------------------
// Issue 14: one session across runs, TABLEAU_PAT_NAME, --verbose, named steps, URL mistakes

/// Whether `line` is a `--verbose` request line: `METHOD /path STATUS N ms`.
fn is_request_line(line: &str, method: &str, path: &str, status: &str) -> bool {
    let Some(rest) = line.strip_prefix(&format!("tableau-auth: {method} {path} {status} ")) else {
        return false;
    };
    rest.strip_suffix(" ms")
        .is_some_and(|ms| ms.parse::<u64>().is_ok())
}

#[test]
fn one_session_across_runs_with_tableau_auth_token() {
    let fake = fake();
    let control = fake.control();
    let pat = |cli: Cli| {
        cli.env("TABLEAU_PAT_NAME", sample::USER_PAT_NAME)
            .env("TABLEAU_PAT_SECRET", sample::USER_PAT_SECRET)
    };
    // token --json: the token and the session, named as sign-in --json names them.
    let run = pat(Cli::to(&fake)).args(["--json", "token"]).run().ok();
    let v = run.json();
    let token = v["token"].as_str().expect("token").to_owned();
    assert!(control.has_session(&token));
    assert_eq!(v["site_id"], sample::DEFAULT_SITE_ID);
    assert_eq!(v["site_content_url"], "");
    assert_eq!(v["user_id"], sample::USER_ID);
    assert_eq!(v["api_version"], sample::REST_API_VERSION);
    assert!(v["credentials_expire_in_secs"].as_u64().is_some(), "{v}");
    assert_eq!(v.as_object().unwrap().len(), 6, "{v}");

    // whoami on that session, with the credentials still in the environment: no sign-in, no
    // sign-out, the session stays open.
    let before = fake.request_log().len();
    let run = pat(Cli::to(&fake))
        .env("TABLEAU_AUTH_TOKEN", &token)
        .args(["whoami", "--verbose"])
        .run()
        .ok();
    assert_eq!(run.field("user_name").as_deref(), Some(sample::USER_NAME));
    assert_eq!(run.field("user_id").as_deref(), Some(sample::USER_ID));
    let current = format!("/api/{}/sessions/current", sample::REST_API_VERSION);
    assert!(
        run.stderr
            .lines()
            .any(|l| is_request_line(l, "GET", &current, "200")),
        "{run:?}"
    );
    assert!(!run.stdout.contains(&token) && !run.stderr.contains(&token));
    let log = fake.request_log();
    let sent = &log[before..];
    assert!(
        sent.iter()
            .all(|r| !r.is_signin() && !r.path_ends_with("/auth/signout")),
        "{sent:?}"
    );
    assert!(control.has_session(&token));
    let run = Cli::to(&fake)
        .env("TABLEAU_AUTH_TOKEN", &format!("{token}\n"))
        .args(["--json", "--wire", "json", "whoami"])
        .run()
        .ok();
    assert_eq!(run.json()["user_name"], sample::USER_NAME);
    assert_eq!(control.live_sessions(), 1);

    // switch-site refuses the session (a switch replaces its token), before sending anything.
    let before = fake.request_log().len();
    let run = pat(Cli::to(&fake))
        .env("TABLEAU_AUTH_TOKEN", &token)
        .args(["switch-site", sample::FINANCE_SITE])
        .run()
        .fails(2);
    assert!(run.stderr.contains("token --site"), "{run:?}");
    assert_eq!(fake.request_log().len(), before);

    // Credentials given as flags sign in anew (and out), whatever TABLEAU_AUTH_TOKEN says;
    // they win over TABLEAU_PAT_NAME too.
    let run = pat(Cli::to(&fake))
        .env("TABLEAU_AUTH_TOKEN", &token)
        .admin()
        .args(["--json", "whoami"])
        .run()
        .ok();
    assert_eq!(run.json()["user_name"], sample::ADMIN_NAME);
    let run = pat(Cli::to(&fake))
        .env("TABLEAU_AUTH_TOKEN", &token)
        .admin()
        .args(["--json", "switch-site", sample::FINANCE_SITE])
        .run()
        .ok();
    assert_eq!(run.json()["site_id"], sample::FINANCE_SITE_ID);
    assert!(control.has_session(&token));
    assert_eq!(control.live_sessions(), 1);

    // sign-out ends it; whoami on the dead session: exit 3 with Tableau's code, step named.
    Cli::to(&fake)
        .env("TABLEAU_AUTH_TOKEN", &token)
        .arg("sign-out")
        .run()
        .ok();
    assert_eq!(control.live_sessions(), 0);
    let run = Cli::to(&fake)
        .env("TABLEAU_AUTH_TOKEN", &token)
        .arg("whoami")
        .run()
        .fails(3);
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(
        run.stderr
            .starts_with("tableau-auth: whoami failed: the session in TABLEAU_AUTH_TOKEN"),
        "{run:?}"
    );
    assert!(run.stderr.contains("401002"), "{run:?}");
    let run = Cli::to(&fake)
        .env("TABLEAU_AUTH_TOKEN", &token)
        .args(["--json", "whoami"])
        .run()
        .fails(3);
    let v = run.json();
    assert_eq!(v["error"]["code"], "401002");
    assert_eq!(v["error"]["step"], "whoami");
    assert!(!run.stdout.contains(&token) && !run.stderr.contains(&token));

    // A blank TABLEAU_AUTH_TOKEN is unset: whoami signs in (and out).
    let run = pat(Cli::to(&fake))
        .env("TABLEAU_AUTH_TOKEN", " ")
        .arg("whoami")
        .run()
        .ok();
    assert_eq!(run.field("user_name").as_deref(), Some(sample::USER_NAME));
    assert_eq!(control.live_sessions(), 0);
}

#[test]
fn pat_name_from_the_environment() {
    let fake = fake();
    let run = Cli::to(&fake)
        .env("TABLEAU_PAT_NAME", sample::USER_PAT_NAME)
        .env("TABLEAU_PAT_SECRET", sample::USER_PAT_SECRET)
        .args(["--json", "sign-in"])
        .run()
        .ok();
    assert_eq!(run.json()["user_id"], sample::USER_ID);
    // The flag wins over the variable.
    let run = Cli::to(&fake)
        .env("TABLEAU_PAT_NAME", "not-a-pat")
        .args(["--pat-name", sample::ADMIN_PAT_NAME])
        .env("TABLEAU_PAT_SECRET", sample::ADMIN_PAT_SECRET)
        .args(["--json", "sign-in"])
        .run()
        .ok();
    assert_eq!(run.json()["user_id"], sample::ADMIN_ID);
    // Without its secret: a usage error naming the secret's variable.
    let run = Cli::to(&fake)
        .env("TABLEAU_PAT_NAME", sample::USER_PAT_NAME)
        .arg("sign-in")
        .run()
        .fails(2);
    assert!(run.stderr.contains("TABLEAU_PAT_SECRET"), "{run:?}");
    let run = Cli::new().arg("--help").run().ok();
    assert!(run.stdout.contains("TABLEAU_PAT_NAME"), "{run:?}");
    assert_eq!(fake.control().live_sessions(), 0);
}

#[test]
fn verbose_shows_the_session_and_no_secret() {
    let fake = fake();
    let run = Cli::to(&fake)
        .jsmith()
        .args(["--verbose", "whoami"])
        .run()
        .ok();
    assert!(
        run.stderr.contains("session: signed in") && run.stderr.contains("session: signed out"),
        "{run:?}"
    );
    assert!(!run.stderr.contains(sample::USER_PASSWORD), "{run:?}");
    // One line per request: the probe, the sign-in, sessions/current, the sign-out.
    for request in [
        "GET /api/2.4/serverinfo 200 ",
        "POST /api/3.25/auth/signin 200 ",
        "GET /api/3.25/sessions/current 200 ",
        "POST /api/3.25/auth/signout 204 ",
    ] {
        assert!(
            run.stderr.lines().any(|l| {
                let line = l.trim_start_matches("tableau-auth: ");
                line.starts_with(request) && line.ends_with(" ms")
            }),
            "{request}: {run:?}"
        );
    }
    // Without --verbose, nothing on stderr.
    let run = Cli::to(&fake).jsmith().arg("whoami").run().ok();
    assert!(run.stderr.is_empty(), "{run:?}");
}

#[test]
fn the_failing_step_is_named() {
    let fake = fake();
    let run = Cli::to(&fake)
        .args(["--username", sample::USER_NAME])
        .env("TABLEAU_PASSWORD", "not-the-password")
        .args(["--json", "switch-site", sample::FINANCE_SITE])
        .run()
        .fails(3);
    assert_eq!(run.json()["error"]["step"], "sign-in");
    assert!(
        run.stderr.starts_with("tableau-auth: sign-in failed: "),
        "{run:?}"
    );
    // jsmith is not on Finance: the switch fails, after a good sign-in (then signed out).
    let run = Cli::to(&fake)
        .jsmith()
        .args(["switch-site", "NoSuchSite"])
        .run()
        .fails(3);
    assert!(
        run.stderr.starts_with("tableau-auth: switch-site failed: "),
        "{run:?}"
    );
    let run = Cli::to(&fake)
        .args(["--json", "ticket", "nobody"])
        .run()
        .fails(3);
    assert_eq!(run.json()["error"]["step"], "ticket");
    assert_eq!(fake.control().live_sessions(), 0);
}

#[test]
fn http_to_a_tls_port_says_https() {
    let fake = fake();
    let https = fake.base_url();
    let http = https.replacen("https://", "http://", 1);
    let run = Cli::new()
        .args(["--server", &http, "server-info"])
        .run()
        .fails(4);
    assert!(run.stderr.contains("this port speaks https"), "{run:?}");
    assert!(run.stderr.contains(&format!("--server {https}")), "{run:?}");
    let run = Cli::new()
        .args(["--server", &http, "--json", "sign-in"])
        .jsmith()
        .run()
        .fails(4);
    let v = run.json();
    assert_eq!(v["error"]["kind"], "transport");
    assert_eq!(v["error"]["summary"], "this port speaks https");
    assert!(!run.stderr.contains(sample::USER_PASSWORD), "{run:?}");
}

#[test]
fn credentials_in_the_server_url_are_refused() {
    let fake = fake();
    let port = fake.base_url().rsplit(':').next().unwrap().to_owned();
    let password = "SENTINEL-url-password";
    for server in [
        format!("https://jsmith:{password}@127.0.0.1:{port}"),
        format!("https://jsmith:{password}@127.0.0.1:{port}/path"),
        format!("http://{password}@127.0.0.1:{port}"),
    ] {
        for cli in [
            Cli::new().args(["--server", &server]),
            Cli::new().env("TABLEAU_SERVER", &server),
        ] {
            let run = cli.args(["--json", "server-info"]).run().fails(2);
            assert_eq!(run.json()["error"]["kind"], "usage");
            assert!(
                run.stderr.contains("credentials in the server URL"),
                "{run:?}"
            );
            assert!(
                !run.stdout.contains(password) && !run.stderr.contains(password),
                "{run:?}"
            );
        }
    }
    assert!(fake.request_log().is_empty());
}

#[test]
fn the_connected_app_secret_comes_from_tableau_secret_value() {
    let fake = fake();
    let app = || {
        Cli::to(&fake)
            .args(["--connected-app", sample::APP_CLIENT_ID])
            .args(["--secret-id", sample::APP_SECRET_ID])
            .args(["--jwt-user", sample::USER_NAME])
    };
    // The name the library's Credentials::from_lookup and the examples read.
    let run = app()
        .env("TABLEAU_SECRET_VALUE", sample::APP_SECRET_VALUE)
        .args(["--json", "sign-in"])
        .run()
        .ok();
    assert_eq!(run.json()["user_id"], sample::USER_ID);
    // Neither name set: a usage error that names the variable, never a value.
    let run = app().args(["sign-in"]).run().fails(2);
    assert!(run.stderr.contains("TABLEAU_SECRET_VALUE"), "{run:?}");
}

#[test]
fn a_uat_is_minted_from_the_key_file_and_gated_at_api_3_27() {
    let fake = fake();
    let uat = |cli: Cli, key: &str| {
        cli.args([
            "--uat-issuer",
            "https://issuer.example.com",
            "--uat-tenant",
            "tenant-1",
            "--uat-key-id",
            "key-1",
            "--uat-user",
            "jsmith@example.com",
            "--uat-key-file",
            key,
        ])
    };
    // The fake is a Tableau Server at API 3.25: refused before anything is sent.
    let run = uat(Cli::to(&fake), UAT_KEY)
        .args(["token", "--json"])
        .run()
        .fails(3);
    assert!(run.stdout.contains("3.27"), "{run:?}");
    assert_eq!(
        fake.request_log().iter().filter(|r| r.is_signin()).count(),
        0
    );
    // A key file that is not a PKCS#8 key is named, never shown.
    let pem = std::fs::read_to_string(UAT_KEY).unwrap();
    let secret_line = pem.lines().nth(2).unwrap().to_owned();
    let not_a_key = std::env::temp_dir().join(format!("not-a-key-{}.pem", std::process::id()));
    std::fs::write(&not_a_key, "SENTINEL-not-a-key").unwrap();
    let run = uat(Cli::to(&fake), not_a_key.to_str().unwrap())
        .arg("token")
        .run()
        .fails(2);
    assert!(run.stderr.contains("not-a-key-"), "{run:?}");
    assert!(!run.stderr.contains("SENTINEL") && !run.stdout.contains("SENTINEL"));
    let _ = std::fs::remove_file(&not_a_key);
    // --scope goes with a minted token only; a missing UAT option is named.
    let run = Cli::to(&fake)
        .jsmith()
        .args(["--scope", "x", "token"])
        .run()
        .fails(2);
    assert!(run.stderr.contains("--scope"), "{run:?}");
    let run = Cli::to(&fake)
        .args(["--uat-issuer", "https://issuer.example.com", "token"])
        .run()
        .fails(2);
    assert!(run.stderr.contains("uat"), "{run:?}");
    assert!(!run.stderr.contains(&secret_line) && !run.stdout.contains(&secret_line));
}

#[test]
fn revoke_admin_tokens_signs_in_revokes_and_signs_out() {
    let fake = fake();
    let revoke_path = "/auth/serverAdminAccessTokens";
    let admin_pat_revoked = |fake: &FakeServer| {
        fake.control()
            .config()
            .pats
            .iter()
            .any(|p| p.name == sample::ADMIN_PAT_NAME && p.revoked)
    };

    // Not a server administrator: Tableau's 403004, exit 3, the step named, signed out anyway.
    let run = Cli::to(&fake)
        .jsmith()
        .args(["--json", "revoke-admin-tokens"])
        .run()
        .fails(3);
    let v = run.json();
    assert_eq!(v["error"]["code"], "403004", "{run:?}");
    assert_eq!(v["error"]["kind"], "api");
    assert_eq!(v["error"]["step"], "revoke-admin-tokens");
    assert!(
        run.stderr
            .starts_with("tableau-auth: revoke-admin-tokens failed: "),
        "{run:?}"
    );
    assert_eq!(fake.control().live_sessions(), 0);
    assert!(!admin_pat_revoked(&fake));

    // Below 3.11: refused before anything is sent (exit 3, kind unsupported), signed out.
    let run = Cli::to(&fake)
        .admin()
        .args(["--api-version", "3.10", "--json", "revoke-admin-tokens"])
        .run()
        .fails(3);
    assert_eq!(run.json()["error"]["kind"], "unsupported", "{run:?}");
    assert!(run.stderr.contains("3.11"), "{run:?}");
    assert_eq!(fake.control().live_sessions(), 0);
    assert!(!admin_pat_revoked(&fake));
    let deletes = |fake: &FakeServer| {
        fake.request_log()
            .into_iter()
            .filter(|r| r.path_ends_with(revoke_path))
            .collect::<Vec<_>>()
    };
    assert_eq!(deletes(&fake).len(), 1, "only jsmith's DELETE so far");

    // The admin's PAT: human output, then JSON with the admin's password.
    let run = Cli::to(&fake)
        .args(["--pat-name", sample::ADMIN_PAT_NAME])
        .env("TABLEAU_PAT_SECRET", sample::ADMIN_PAT_SECRET)
        .arg("revoke-admin-tokens")
        .run()
        .ok();
    assert_eq!(
        run.field("revoked").as_deref(),
        Some("server_admin_tokens"),
        "{run:?}"
    );
    assert!(!run.stdout.contains(sample::ADMIN_PAT_SECRET));
    assert!(!run.stderr.contains(sample::ADMIN_PAT_SECRET));
    assert!(admin_pat_revoked(&fake));
    assert_eq!(fake.control().live_sessions(), 0, "signed out");
    let last = deletes(&fake).pop().expect("the DELETE");
    assert_eq!(last.method, "DELETE");
    assert_eq!(last.status, Some(204));
    assert!(last.token().is_some());
    // The session that revoked was the one signed out.
    assert_eq!(
        signed_out_tokens(&fake).last().map(String::as_str),
        last.token()
    );

    let run = Cli::to(&fake)
        .admin()
        .args(["--wire", "json", "--json", "revoke-admin-tokens"])
        .run()
        .ok();
    assert_eq!(
        run.json(),
        serde_json::json!({"revoked": "server_admin_tokens"})
    );
    assert_eq!(fake.control().live_sessions(), 0);

    // The revoked PAT no longer signs in: Tableau's 401001, exit 3.
    let run = Cli::to(&fake)
        .args(["--pat-name", sample::ADMIN_PAT_NAME])
        .env("TABLEAU_PAT_SECRET", sample::ADMIN_PAT_SECRET)
        .args(["--json", "revoke-admin-tokens"])
        .run()
        .fails(3);
    assert_eq!(run.json()["error"]["code"], "401001");
    assert_eq!(run.json()["error"]["step"], "sign-in");

    let run = Cli::new().args(["--help"]).run().ok();
    assert!(run.stdout.contains("revoke-admin-tokens"), "{run:?}");
}

/// A PAT that Tableau says expires within two weeks is a warning on stderr, even without
/// `--verbose`; stdout (what scripts read) is unchanged, and a PAT with a year left says nothing.
#[test]
fn a_pat_about_to_expire_is_a_warning_on_stderr() {
    let fake = fake();
    let whoami = || {
        Cli::to(&fake)
            .args(["--pat-name", sample::USER_PAT_NAME])
            .env("TABLEAU_PAT_SECRET", sample::USER_PAT_SECRET)
            .args(["--json", "whoami"])
            .run()
            .ok()
    };
    expire_user_pat_in(&fake, 365 * 24 * 3600);
    let run = whoami();
    assert_eq!(run.json()["user_name"], sample::USER_NAME);
    assert!(!run.stderr.contains("expire"), "{run:?}");

    expire_user_pat_in(&fake, 5 * 24 * 3600 + 3600);
    let run = whoami();
    assert_eq!(run.json()["user_name"], sample::USER_NAME);
    assert!(
        run.stderr.contains("warning:")
            && run.stderr.contains("expire in about 5 days and 1 hour,"),
        "{run:?}"
    );
    assert!(!run.stderr.contains(sample::USER_PAT_SECRET));
}
