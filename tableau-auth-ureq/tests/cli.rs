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
            ["api_version", "site_content_url", "site_id", "user_id"]
        );

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

    // A failing sign-out after a success changes neither the output nor the status.
    control.clear_faults();
    let signout = format!("/api/{}/auth/signout", sample::REST_API_VERSION);
    control.add_fault(FaultRule::exact(
        signout,
        Fault::Status {
            status: 503,
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
            "TABLEAU_CONNECTED_APP_SECRET",
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
        "TABLEAU_CONNECTED_APP_SECRET",
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

/// With sentinel values in every secret variable, no command prints one; with real secrets,
/// nothing but `token` and `ticket` prints the token or ticket, and nothing prints a password.
#[test]
fn no_secret_is_ever_printed() {
    let fake = fake();
    let control = fake.control();
    let sentinels = [
        ("TABLEAU_PASSWORD", "SENTINEL-password-7d1f"),
        ("TABLEAU_PAT_SECRET", "SENTINEL-pat-secret-7d1f"),
        ("TABLEAU_JWT", "SENTINEL-jwt-7d1f"),
        ("TABLEAU_CONNECTED_APP_SECRET", "SENTINEL-app-secret-7d1f"),
        ("TABLEAU_AUTH_TOKEN", "SENTINEL-token-7d1f"),
    ];
    // A server that echoes the password back in its error must not make us print it.
    control.add_fault(
        FaultRule::exact(
            format!("/api/{}/auth/signin", sample::REST_API_VERSION),
            Fault::Status {
                status: 401,
                retry_after: None,
                body: Some(
                    "<tsResponse><error code=\"401001\"><summary>Signin Error</summary>\
                     <detail>bad password SENTINEL-password-7d1f for admin</detail></error>\
                     </tsResponse>"
                        .to_owned(),
                ),
            },
        )
        .once(),
    );
    let credentials: [&[&str]; 5] = [
        &["--username", sample::ADMIN_NAME],
        &["--pat-name", sample::ADMIN_PAT_NAME],
        &["--jwt"],
        &[
            "--connected-app",
            sample::APP_CLIENT_ID,
            "--secret-id",
            sample::APP_SECRET_ID,
            "--jwt-user",
            sample::ADMIN_NAME,
        ],
        &["--username", sample::ADMIN_NAME, "--jwt"],
    ];
    let commands: [&[&str]; 9] = [
        &["server-info"],
        &["sign-in"],
        &["whoami"],
        &["switch-site", sample::FINANCE_SITE],
        &["token"],
        &["sign-out"],
        &["ticket", sample::USER_NAME],
        &["--help"],
        &["--version"],
    ];
    let mut runs = 0;
    for json in [false, true] {
        for creds in credentials {
            for command in commands {
                let mut cli = Cli::to(&fake);
                for (name, value) in sentinels {
                    cli = cli.env(name, value);
                }
                if json {
                    cli = cli.arg("--json");
                }
                for a in creds.iter().chain(command.iter()) {
                    cli = cli.arg(a);
                }
                let run = cli.run();
                runs += 1;
                let exempt = matches!(command[0], "token" | "ticket");
                for (_, sentinel) in sentinels {
                    assert!(
                        !run.stderr.contains(sentinel),
                        "{command:?} {creds:?}: {run:?}"
                    );
                    assert!(
                        exempt || !run.stdout.contains(sentinel),
                        "{command:?} {creds:?}: {run:?}"
                    );
                }
                assert!(
                    !run.stderr.contains("7d1f") && !run.stdout.contains("7d1f"),
                    "{run:?}"
                );
            }
        }
    }
    assert_eq!(runs, 90);
    assert!(
        control.faults().is_empty(),
        "the echoing fault was never hit"
    );

    // Real secrets: the password never shows, and the session token only with `token`.
    for command in [
        &["sign-in"][..],
        &["whoami"],
        &["switch-site", sample::FINANCE_SITE],
    ] {
        for json in [false, true] {
            let mut cli = Cli::to(&fake).admin();
            if json {
                cli = cli.arg("--json");
            }
            for a in command {
                cli = cli.arg(a);
            }
            let run = cli.run().ok();
            let token = signed_out_tokens(&fake).pop().expect("signed out");
            for secret in [sample::ADMIN_PASSWORD, token.as_str()] {
                assert!(
                    !run.stdout.contains(secret) && !run.stderr.contains(secret),
                    "{run:?}"
                );
            }
        }
    }
    let run = Cli::to(&fake).admin().arg("token").run().ok();
    assert!(!run.stdout.contains(sample::ADMIN_PASSWORD) && run.stderr.is_empty());
    let run = Cli::to(&fake)
        .env("TABLEAU_AUTH_TOKEN", run.stdout.trim())
        .arg("sign-out")
        .run()
        .ok();
    assert!(run.stdout.trim() == "signed_out: confirmed", "{run:?}");
    assert_eq!(control.live_sessions(), 0);
}
