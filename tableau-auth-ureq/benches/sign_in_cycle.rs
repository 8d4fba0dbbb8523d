//! Sign-in + sign-out cycles per second over loopback TLS against the in-process fake server:
//! our blocking client (with all its time limits), a bare ureq agent sending the same two
//! requests without any time limit (the goal: ours ≥ 0.9× that), the same bare agent with our
//! limits (ureq's own resolver then spawns a thread per request), and (when `TSC_PYTHON` names a
//! Python with tableauserverclient installed) TSC doing the same cycle.
//!
//! `cargo bench -p tableau-auth-ureq --bench sign_in_cycle` — rounds are interleaved (and the
//! order within a round alternates) so that machine noise hits every client alike; the report
//! is the median of the rounds, and the median of each round's own ratio.
//!
//! `BENCH_ONLY=ours|bare|limits|literal` runs that one client alone for one round (for `perf`
//! or `strace -c`; `literal` is the bare agent with our limits and a resolver that only parses
//! the IP literal: what ureq's time limits cost without the resolver's thread); `BENCH_VERBOSE=1` reports how many connections each client used.

use std::process::Command;
use std::time::{Duration, Instant};

use tableau_auth_tests::fake::{FakeConfig, FakeOptions, FakeServer, sample};
use tableau_auth_ureq::Client;
use tableau_auth_ureq::http::Uri;
use tableau_auth_ureq::proto::{ApiVersion, Credentials, SignIn};
use tableau_auth_ureq::ureq;
use tableau_auth_ureq::ureq::config::Config as AgentConfig;
use tableau_auth_ureq::ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use tableau_auth_ureq::ureq::unversioned::transport::NextTimeout;

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
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        let sample = match only.as_str() {
            "ours" => run(round, || ours_cycle(&base, &ca)),
            "bare" => run(round, || bare_cycle(&base, &ca, false)),
            "limits" => run(round, || bare_cycle(&base, &ca, true)),
            "literal" => run(round, || bare_cycle_with(&base, &ca, true, true)),
            other => panic!("BENCH_ONLY={other}: ours, bare, limits or literal"),
        };
        report_connections(&only, &fake);
        println!(
            "{only}: {:.1} cycles/s, client thread {:.1} µs CPU per cycle",
            sample.rate, sample.cpu_us
        );
        return;
    }

    let mut ours = Series::default();
    let mut bare = Series::default();
    let mut bare_unlimited = Series::default();
    let mut python = Vec::new();
    for i in 0..rounds {
        // Alternate which of the two compared clients goes first.
        if i % 2 == 0 {
            ours.push(run(round, || ours_cycle(&base, &ca)));
            report_connections("ours", &fake);
            bare_unlimited.push(run(round, || bare_cycle(&base, &ca, false)));
            report_connections("bare, no limits", &fake);
        } else {
            bare_unlimited.push(run(round, || bare_cycle(&base, &ca, false)));
            report_connections("bare, no limits", &fake);
            ours.push(run(round, || ours_cycle(&base, &ca)));
            report_connections("ours", &fake);
        }
        bare.push(run(round, || bare_cycle(&base, &ca, true)));
        report_connections("bare, our limits", &fake);
        if let Some(py) = &tsc {
            python.push(tsc_round(py, &base, &ca_file, round));
        }
        fake.control().clear_log();
    }
    println!("sign-in + sign-out cycles per second (median of {rounds} rounds of {round:?}),");
    println!("and the client thread's CPU time per cycle (median):");
    println!(
        "  tableau-auth-ureq   {:>9.1}   {:>6.1} µs   (resolve, connect, read and exchange limits)",
        ours.rate(),
        ours.cpu_us()
    );
    for (name, other, goal) in [
        ("bare, no limits ", &bare_unlimited, "; goal ≥ 0.9"),
        ("bare, our limits", &bare, ""),
    ] {
        println!(
            "  {name}    {:>9.1}   {:>6.1} µs   ours/that = {:.3} (median of per-round ratios: {:.3}{goal})",
            other.rate(),
            other.cpu_us(),
            ours.rate() / other.rate(),
            ours.ratio_to(other),
        );
    }
    if !python.is_empty() {
        let py = median(python);
        println!(
            "  TSC (Python)        {py:>9.1}               ours/TSC  = {:.2}",
            ours.rate() / py
        );
    } else if !quick {
        println!(
            "  TSC (Python)        skipped: set TSC_PYTHON to a python with tableauserverclient"
        );
    }
}

/// One round of one client.
struct Sample {
    /// Cycles per second.
    rate: f64,
    /// The client thread's CPU time per cycle, in µs (0 where the OS does not tell).
    cpu_us: f64,
}

/// The rounds of one client.
#[derive(Default)]
struct Series(Vec<Sample>);

impl Series {
    fn push(&mut self, sample: Sample) {
        self.0.push(sample);
    }
    fn rate(&self) -> f64 {
        median(self.0.iter().map(|s| s.rate).collect())
    }
    fn cpu_us(&self) -> f64 {
        median(self.0.iter().map(|s| s.cpu_us).collect())
    }
    /// The median of the per-round ratios of rates (rounds run side by side).
    fn ratio_to(&self, other: &Self) -> f64 {
        median(
            self.0
                .iter()
                .zip(&other.0)
                .map(|(a, b)| a.rate / b.rate)
                .collect(),
        )
    }
}

/// Nanoseconds this thread has run on a CPU (Linux's schedstat), if the OS tells.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Runs the cycle `cycles` makes for `round`; returns cycles/s and the CPU time per cycle.
fn run(round: Duration, mut cycles: impl FnMut() -> Box<dyn FnMut() -> bool>) -> Sample {
    let mut cycle = cycles();
    let cpu = thread_cpu_ns();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < round {
        assert!(cycle(), "a cycle failed");
        n += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let cpu_us = match (cpu, thread_cpu_ns()) {
        (Some(before), Some(after)) => after.saturating_sub(before) as f64 / 1000.0 / n as f64,
        _ => 0.0,
    };
    Sample { rate, cpu_us }
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
    bare_cycle_with(base, ca, limits, false)
}

/// Resolves IP literals only, without a thread.
#[derive(Debug)]
struct LiteralResolver;

impl Resolver for LiteralResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _: &AgentConfig,
        _: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let authority = uri.authority().expect("a full URL");
        let mut addrs = self.empty();
        addrs.push(authority.as_str().parse().expect("an IP literal"));
        Ok(addrs)
    }
}

fn bare_cycle_with(base: &str, ca: &str, limits: bool, literal: bool) -> Box<dyn FnMut() -> bool> {
    use tableau_auth_ureq::ureq::Agent;
    use tableau_auth_ureq::ureq::tls::{Certificate, RootCerts, TlsConfig};
    use tableau_auth_ureq::ureq::unversioned::transport::DefaultConnector;
    let cert = Certificate::from_pem(ca.as_bytes()).unwrap_or_else(|e| panic!("ca: {e}"));
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&[cert]))
        .build();
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        // The same limits our client sets (its defaults), with ureq's own resolver: a thread
        // per request for the lookup, which the `bare, no limits` row does not pay.
        .timeout_resolve(limits.then_some(Duration::from_secs(10)))
        .timeout_connect(limits.then_some(Duration::from_secs(10)))
        .timeout_recv_response(limits.then_some(Duration::from_secs(30)))
        .timeout_global(limits.then_some(Duration::from_secs(60)))
        .tls_config(tls)
        .build();
    let agent = if literal {
        Agent::with_parts(config, DefaultConnector::new(), LiteralResolver)
    } else {
        config.into()
    };
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
