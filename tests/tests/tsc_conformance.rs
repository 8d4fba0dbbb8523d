//! The real tableauserverclient (TSC 0.42, from PyPI) drives the fake Tableau server through
//! every flow TSC offers against it: `tests/tsc/conformance.py`, one named check per flow.
//!
//! The python comes from `TSC_PYTHON`, else from the venv `scripts/setup-tsc.sh` makes by default
//! (`$TMPDIR/tableau-auth-tsc-venv`, `/tmp` without `TMPDIR`). `bash scripts/test.sh` runs that
//! script first, so CI always has it; without either, this test fails and says how to get one (it
//! never passes by skipping). The test fails naming every flow that failed, when a flow the list
//! below expects did not run (or one it does not know ran), and when the script's output holds a
//! secret: a sample password or PAT secret, or any token, cookie, ticket or JWT the fake saw.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tableau_auth_tests::fake::{FakeConfig, FakeOptions, FakeServer, LoggedRequest, sample};

/// The flows of `tests/tsc/conformance.py`, in its order.
const FLOWS: [&str; 26] = [
    "password_sign_in",
    "pat_sign_in",
    "pat_second_sign_in_ends_the_first",
    "jwt_sign_in",
    "jwt_scope_outside_is_401002",
    "sign_in_refused_is_401001",
    "impersonation",
    "switch_site",
    "switch_site_to_current_is_403070_no_op",
    "switch_site_refused_keeps_the_session",
    "sign_out",
    "with_sign_in_block",
    "use_server_version_true",
    "use_server_version_method",
    "use_server_version_legacy_404003",
    "server_info",
    "workbooks_paged",
    "paging_past_the_last_page",
    "paging_errors",
    "users_get_by_id",
    "users_get_by_id_forbidden_403133",
    "dead_token_401002",
    "sign_out_of_a_dead_session",
    "revoke_all_server_admin_tokens_is_an_unknown_endpoint_404003",
    "trusted_ticket",
    "json",
];

/// The TSC release the suite is written for (pinned by `scripts/setup-tsc.sh`).
const TSC_VERSION: &str = "0.42";

/// Longest the script may run (it takes about a second).
const TIMEOUT: Duration = Duration::from_secs(120);

const HOW_TO_GET_TSC: &str = "run `bash scripts/test.sh` (it installs TSC first), or \
     `TSC_PYTHON=$(bash scripts/setup-tsc.sh) cargo test -p tableau-auth-tests --test tsc_conformance`";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// The venv python `scripts/setup-tsc.sh` makes when given no path.
fn default_venv_python() -> PathBuf {
    let tmp = std::env::var_os("TMPDIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    let venv = tmp.join("tableau-auth-tsc-venv");
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// `TSC_PYTHON`, else the default venv's python; panics saying how to get one.
fn tsc_python() -> PathBuf {
    if let Some(python) = std::env::var_os("TSC_PYTHON").filter(|p| !p.is_empty()) {
        let python = PathBuf::from(python);
        assert!(
            python.is_file(),
            "TSC_PYTHON={} is not a file: {HOW_TO_GET_TSC}",
            python.display()
        );
        return python;
    }
    let python = default_venv_python();
    assert!(
        python.is_file(),
        "no python with tableauserverclient {TSC_VERSION}: TSC_PYTHON is not set and {} does not \
         exist; {HOW_TO_GET_TSC}",
        python.display()
    );
    python
}

/// What the script printed and how it ended.
struct Run {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs the script against `fake`, killing it after [`TIMEOUT`].
fn run_script(python: &Path, fake: &FakeServer) -> Run {
    let script = workspace_root()
        .join("tests")
        .join("tsc")
        .join("conformance.py");
    let ca_file = fake.ca_file().expect("a TLS fake has a CA file");
    let started = Instant::now();
    let mut child = Command::new(python)
        .arg(&script)
        .arg(fake.base_url())
        .arg(ca_file)
        .env_remove("TSC_CONFORMANCE_ONLY")
        .env("PYTHONIOENCODING", "utf-8")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {HOW_TO_GET_TSC}", python.display()));
    let read_all = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = read_all(Box::new(child.stderr.take().expect("piped stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("the script's status") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the TSC conformance script ran longer than {TIMEOUT:?}; output so far:\n{}",
                stdout.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        elapsed: started.elapsed(),
    }
}

/// `(flow, None)` for `ok flow`, `(flow, Some(why))` for `FAIL flow: why`.
fn results(stdout: &str) -> Vec<(String, Option<String>)> {
    stdout
        .lines()
        .filter_map(|line| {
            if let Some(flow) = line.strip_prefix("ok ") {
                Some((flow.trim().to_owned(), None))
            } else {
                let rest = line.strip_prefix("FAIL ")?;
                let (flow, why) = rest.split_once(':').unwrap_or((rest, ""));
                Some((flow.trim().to_owned(), Some(why.trim().to_owned())))
            }
        })
        .collect()
}

/// Every secret the script must never print, with what it is: the sample's, and every token,
/// cookie, ticket and JWT the fake saw during the run.
fn secrets(log: &[LoggedRequest]) -> Vec<(&'static str, String)> {
    let mut secrets: Vec<(&'static str, String)> = [
        sample::ADMIN_PASSWORD,
        sample::USER_PASSWORD,
        sample::FINANCE_USER_PASSWORD,
        sample::ADMIN_PAT_SECRET,
        sample::USER_PAT_SECRET,
        sample::REVOKED_PAT_SECRET,
        sample::EXPIRED_PAT_SECRET,
        sample::APP_SECRET_VALUE,
        sample::DISABLED_APP_SECRET_VALUE,
    ]
    .iter()
    .map(|s| ("a sample password or secret", (*s).to_owned()))
    .collect();
    for entry in log {
        if let Some(token) = entry.token() {
            secrets.push(("a session token", token.to_owned()));
        }
        if let Some(cookies) = entry.header("cookie") {
            for cookie in cookies.split(';') {
                if let Some((_, value)) = cookie.trim().split_once('=') {
                    secrets.push(("a cookie", value.to_owned()));
                }
            }
        }
        // `/trusted/{ticket}/…`: the ticket as sent (percent-encoded) and decoded.
        if let Some(rest) = entry.path.strip_prefix("/trusted/") {
            let encoded = rest.split('/').next().unwrap_or_default();
            let decoded = percent_decode(encoded);
            secrets.push(("a trusted ticket", encoded.to_owned()));
            secrets.push(("a trusted ticket", decoded));
        }
        // JWTs in sign-in bodies (XML `jwt="…"` or JSON `"jwt":"…"`).
        let body = entry.body_str();
        for marker in ["jwt=\"", "\"jwt\":\""] {
            for (i, _) in body.match_indices(marker) {
                let value = &body[i + marker.len()..];
                if let Some(jwt) = value.split('"').next() {
                    secrets.push(("a JWT", jwt.to_owned()));
                }
            }
        }
    }
    secrets.retain(|(_, s)| s.len() >= 6);
    secrets.sort();
    secrets.dedup();
    secrets
}

/// `%XX` escapes decoded (enough for tickets: base64 characters and `:`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn real_tsc_drives_every_flow_of_the_fake() {
    let python = tsc_python();
    let fake = FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::default())
        .expect("the fake server starts");
    let run = run_script(&python, &fake);
    let transcript = format!(
        "TSC conformance ({} in {:.1?}, {}):\n--- stdout\n{}--- stderr\n{}",
        python.display(),
        run.elapsed,
        run.status,
        run.stdout,
        run.stderr
    );

    // Nothing secret in anything it printed (checked first: the other messages show the output).
    let leaked: Vec<&str> = secrets(&fake.request_log())
        .into_iter()
        .filter(|(_, s)| run.stdout.contains(s.as_str()) || run.stderr.contains(s.as_str()))
        .map(|(what, _)| what)
        .collect();
    assert!(
        leaked.is_empty(),
        "the TSC conformance script printed secrets: {leaked:?} (output withheld)"
    );

    assert!(
        run.stdout
            .lines()
            .next()
            .is_some_and(|l| l.starts_with(&format!("# tableauserverclient {TSC_VERSION}"))),
        "not tableauserverclient {TSC_VERSION} ({HOW_TO_GET_TSC})\n{transcript}"
    );
    let results = results(&run.stdout);
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(flow, why)| why.as_ref().map(|why| format!("{flow} ({why})")))
        .collect();
    assert!(
        failed.is_empty(),
        "TSC flows failed against the fake: {}\n{transcript}",
        failed.join("; ")
    );
    let ran: Vec<&str> = results.iter().map(|(flow, _)| flow.as_str()).collect();
    let missing: Vec<&str> = FLOWS.iter().copied().filter(|f| !ran.contains(f)).collect();
    let unknown: Vec<&str> = ran.iter().copied().filter(|f| !FLOWS.contains(f)).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "flows that did not run: {missing:?}; flows this test does not list: {unknown:?}\n{transcript}"
    );
    assert_eq!(ran, FLOWS, "each flow once, in order\n{transcript}");
    assert!(
        run.status.success(),
        "the script failed without naming a flow\n{transcript}"
    );
}
