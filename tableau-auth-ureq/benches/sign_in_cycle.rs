//! Sign-in + sign-out cycles per second over loopback TLS against the in-process fake server:
//! our blocking client, a bare ureq agent sending the same two requests, and (when
//! `TSC_PYTHON` names a Python with tableauserverclient installed) TSC doing the same cycle.
//!
//! `cargo bench -p tableau-auth-ureq --bench sign_in_cycle` — rounds are interleaved so that
//! machine noise hits every client alike; the report is the median of the rounds and ratios.

use std::process::Command;
use std::time::{Duration, Instant};

use tableau_auth_tests::fake::{FakeConfig, FakeOptions, FakeServer, sample};
use tableau_auth_ureq::Client;
use tableau_auth_ureq::proto::{ApiVersion, Credentials, SignIn};

const ROUNDS: usize = 5;
const ROUND: Duration = Duration::from_secs(3);

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run one short round.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (rounds, round) = if quick {
        (1, Duration::from_millis(300))
    } else {
        (ROUNDS, ROUND)
    };
    let fake = FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::default())
        .unwrap_or_else(|e| panic!("fake server: {e}"));
    let base = fake.base_url().to_owned();
    let ca = fake.ca_pem().unwrap_or_default().to_owned();
    let ca_file = fake
        .ca_file()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let tsc = std::env::var("TSC_PYTHON").ok().filter(|_| !quick);

    let mut ours = Vec::new();
    let mut bare = Vec::new();
    let mut bare_unlimited = Vec::new();
    let mut python = Vec::new();
    for _ in 0..rounds {
        ours.push(run(round, || ours_cycle(&base, &ca)));
        report_connections("ours", &fake);
        bare.push(run(round, || bare_cycle(&base, &ca, true)));
        report_connections("bare", &fake);
        bare_unlimited.push(run(round, || bare_cycle(&base, &ca, false)));
        report_connections("bare, no limits", &fake);
        if let Some(py) = &tsc {
            python.push(tsc_round(py, &base, &ca_file, round));
        }
        fake.control().clear_log();
    }
    let ours = median(ours);
    let bare = median(bare);
    let bare_unlimited = median(bare_unlimited);
    println!("sign-in + sign-out cycles per second (median of {rounds} rounds of {round:?}):");
    println!("  tableau-auth-ureq   {ours:>9.1}");
    println!(
        "  bare ureq           {bare:>9.1}   ours/bare = {:.3}",
        ours / bare
    );
    println!(
        "  bare, no limits     {bare_unlimited:>9.1}   ours/that = {:.3}",
        ours / bare_unlimited
    );
    if !python.is_empty() {
        let py = median(python);
        println!(
            "  TSC (Python)        {py:>9.1}   ours/TSC  = {:.2}",
            ours / py
        );
    } else if !quick {
        println!(
            "  TSC (Python)        skipped: set TSC_PYTHON to a python with tableauserverclient"
        );
    }
}

/// Runs `cycles` (each returning how many cycles it did) for `round`; returns cycles/s.
fn run(round: Duration, mut cycles: impl FnMut() -> Box<dyn FnMut() -> bool>) -> f64 {
    let mut cycle = cycles();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < round {
        assert!(cycle(), "a cycle failed");
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn ours_cycle(base: &str, ca: &str) -> Box<dyn FnMut() -> bool> {
    let mut client = Client::builder(base)
        .ca_pem(ca.as_bytes().to_vec())
        .api_version(ApiVersion::new(3, 25))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    Box::new(move || {
        let creds = Credentials::password(sample::USER_NAME, sample::USER_PASSWORD);
        client.sign_in(SignIn::new(creds, "")).is_ok() && client.sign_out().is_ok()
    })
}

fn bare_cycle(base: &str, ca: &str, limits: bool) -> Box<dyn FnMut() -> bool> {
    use tableau_auth_ureq::ureq::Agent;
    use tableau_auth_ureq::ureq::tls::{Certificate, RootCerts, TlsConfig};
    let cert = Certificate::from_pem(ca.as_bytes()).unwrap_or_else(|e| panic!("ca: {e}"));
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&[cert]))
        .build();
    let agent: Agent = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        // The same limits our client sets (its defaults); without them ureq is faster, which
        // the `bare, no limits` row shows.
        .timeout_connect(limits.then_some(Duration::from_secs(10)))
        .timeout_recv_response(limits.then_some(Duration::from_secs(30)))
        .timeout_global(limits.then_some(Duration::from_secs(60)))
        .tls_config(tls)
        .build()
        .into();
    let sign_in = format!("{base}/api/3.25/auth/signin");
    let sign_out = format!("{base}/api/3.25/auth/signout");
    let body = format!(
        r#"<tsRequest><credentials name="{}" password="{}"><site contentUrl=""/></credentials></tsRequest>"#,
        sample::USER_NAME,
        sample::USER_PASSWORD
    );
    Box::new(move || {
        let Ok(mut r) = agent
            .post(&sign_in)
            .header("content-type", "application/xml")
            .send(body.as_bytes())
        else {
            return false;
        };
        let Ok(text) = r.body_mut().read_to_string() else {
            return false;
        };
        let Some(token) = text
            .split("token=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        else {
            return false;
        };
        agent
            .post(&sign_out)
            .header("x-tableau-auth", token)
            .send_empty()
            .map(|r| r.status().as_u16() == 204)
            .unwrap_or(false)
    })
}

fn tsc_round(python: &str, base: &str, ca_file: &str, round: Duration) -> f64 {
    let script = format!("{}/../scripts/tsc_cycle.py", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(python)
        .args([&script, base, ca_file, &round.as_secs_f64().to_string()])
        .args([sample::USER_NAME, sample::USER_PASSWORD])
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().unwrap_or_else(|_| {
        panic!(
            "TSC script said: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// How many connections the requests since the last call came over (connection reuse check).
fn report_connections(who: &str, fake: &FakeServer) {
    let log = fake.control().request_log();
    let peers: std::collections::BTreeSet<&str> = log.iter().map(|r| r.peer.as_str()).collect();
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        let first = log
            .first()
            .map(|r| format!("{:?}", r.headers))
            .unwrap_or_default();
        eprintln!(
            "{who}: {} requests over {} connections; {first}",
            log.len(),
            peers.len()
        );
    }
    fake.control().clear_log();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
