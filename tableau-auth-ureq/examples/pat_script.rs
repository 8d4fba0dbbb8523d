//! A blocking script: sign in with a personal access token, list the site's workbooks, sign out.
//!
//! ```text
//! TABLEAU_PAT_NAME=etl TABLEAU_PAT_SECRET=… \
//!   cargo run -p tableau-auth-ureq --example pat_script -- \
//!   --server https://tableau.example.com [--site Finance] [--ca-file corp-ca.pem]
//! cargo run -p tableau-auth-ureq --example pat_script   # demo: an in-process fake server
//! ```
//!
//! The server and site may also come from `TABLEAU_SERVER` and `TABLEAU_SITE`; the PAT comes
//! only from the environment (a flag would end up in the shell history and in `ps`). Without a
//! server (or with `--demo`) the script starts the fake Tableau server of `tableau-auth-tests`
//! on 127.0.0.1 and runs against it.
//!
//! The sign-in returns a [`SignOutGuard`](tableau_auth_ureq::SignOutGuard): every way out of
//! [`run`] — the `?` of a failed call included — signs out, so the PAT's one session is never
//! left open on the server. Exits with 1 when Tableau refuses, 2 on bad arguments.

use std::error::Error;
use std::path::PathBuf;

use serde_json::Value;
use tableau_auth_ureq::http::{self, header::ACCEPT};
use tableau_auth_ureq::proto::{ApiVersion, Credentials, Format, SignIn, SignOut};
use tableau_auth_ureq::{Client, SignOutGuard};

const USAGE: &str = "usage: pat_script [--server URL] [--site SITE] [--ca-file PEM] [--demo] \
                     (PAT in TABLEAU_PAT_NAME and TABLEAU_PAT_SECRET; server and site also in \
                     TABLEAU_SERVER and TABLEAU_SITE)";

/// Where and as whom to sign in. No `Debug`: nothing here should be printed wholesale
/// (`Credentials` itself redacts its secret, but a habit is a habit).
pub(crate) struct Settings {
    /// `https://host[:port]`.
    pub(crate) server: String,
    /// PEM of a private CA to trust instead of the built-in roots.
    pub(crate) ca_pem: Option<Vec<u8>>,
    /// The site's contentUrl (`""`: the Default site).
    pub(crate) site: String,
    pub(crate) credentials: Credentials,
}

/// What the command line asks for.
pub(crate) enum Mode {
    /// A real server.
    Server(Box<Settings>),
    /// The in-process fake (`--demo`, or no server given).
    Demo,
}

/// What the script found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) user_name: String,
    pub(crate) site_id: String,
    pub(crate) api_version: ApiVersion,
    /// Workbook names of the first page (up to 100).
    pub(crate) workbooks: Vec<String>,
    /// How many workbooks the site has in all (`pagination.totalAvailable`).
    pub(crate) total_workbooks: Option<u64>,
    pub(crate) signed_out: SignOut,
}

/// Reads the arguments (without the program name) and the environment.
pub(crate) fn parse_args(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Mode, String> {
    let (mut server, mut site, mut ca_file, mut demo) =
        (env("TABLEAU_SERVER"), env("TABLEAU_SITE"), None, false);
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--server" => server = Some(value()?),
            "--site" => site = Some(value()?),
            "--ca-file" => ca_file = Some(PathBuf::from(value()?)),
            "--demo" => demo = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    let Some(server) = server.filter(|_| !demo) else {
        return Ok(Mode::Demo);
    };
    let need = |name: &str| env(name).ok_or_else(|| format!("set {name}; {USAGE}"));
    let credentials =
        Credentials::personal_access_token(need("TABLEAU_PAT_NAME")?, need("TABLEAU_PAT_SECRET")?);
    let ca_pem = match ca_file {
        Some(path) => {
            Some(std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?)
        }
        None => None,
    };
    Ok(Mode::Server(Box::new(Settings {
        server,
        ca_pem,
        site: site.unwrap_or_default(),
        credentials,
    })))
}

/// Signs in, reads who it is and the workbooks, signs out.
pub(crate) fn run(settings: Settings) -> Result<Report, Box<dyn Error>> {
    let mut builder = Client::builder(settings.server)
        .format(Format::Json)
        .user_agent("pat-script-example/0.1");
    if let Some(pem) = settings.ca_pem {
        builder = builder.ca_pem(pem);
    }
    let mut client = builder.build()?;
    // From here on, returning (with `?` or not) signs out.
    let mut session = client.sign_in_guard(SignIn::new(settings.credentials, &settings.site))?;
    let signed_in = session
        .session()
        .signed_in()
        .cloned()
        .ok_or("signed in, yet no session")?;

    // Who the session belongs to (sign-in returns only LUIDs): `GET sessions/current`, typed.
    let user_name = session.current_session()?.user_name;

    let list = get_json(&mut session, "workbooks?pageSize=100&pageNumber=1", true)?;
    let workbooks = list
        .pointer("/workbooks/workbook")
        .and_then(Value::as_array)
        .map(|all| {
            all.iter()
                .filter_map(|w| w.get("name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default(); // an empty site has no `workbook` member
    let total_workbooks = list
        .pointer("/pagination/totalAvailable")
        .and_then(Value::as_str)
        .and_then(|n| n.parse().ok());

    let signed_out = session.sign_out()?;
    Ok(Report {
        user_name,
        site_id: signed_in.site_id.to_string(),
        api_version: signed_in.api_version,
        workbooks,
        total_workbooks,
        signed_out,
    })
}

/// `GET` of an API path (site-scoped or not) as JSON, authorized by the session.
fn get_json(
    session: &mut SignOutGuard<'_>,
    path: &str,
    site_scoped: bool,
) -> Result<Value, Box<dyn Error>> {
    let uri = if site_scoped {
        session.session().site_url(path)?
    } else {
        session.session().api_url(path)?
    };
    let request = http::Request::get(uri)
        .header(ACCEPT, "application/json")
        .body(Vec::new())?;
    // Adds X-Tableau-Auth; signs in again once on 401002; waits out a 429/503 (within limits).
    let response = session.send(request)?;
    Ok(serde_json::from_slice(response.body())?)
}

fn main() {
    let mode = match parse_args(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(mode) => mode,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    // The fake lives as long as `_fake`; dropping it shuts it down.
    let (_fake, settings) = match mode {
        Mode::Server(settings) => (None, *settings),
        Mode::Demo => match demo::start() {
            Ok((fake, settings)) => (Some(fake), settings),
            Err(e) => {
                eprintln!("cannot start the demo server: {e}");
                std::process::exit(2);
            }
        },
    };
    match run(settings) {
        Ok(report) => {
            println!(
                "signed in as {} on site {} (REST API {})",
                report.user_name, report.site_id, report.api_version
            );
            let total = report
                .total_workbooks
                .map_or_else(String::new, |n| format!(" of {n}"));
            println!("{}{total} workbooks:", report.workbooks.len());
            for name in &report.workbooks {
                println!("  {name}");
            }
            println!("signed out: {:?}", report.signed_out);
        }
        Err(e) => {
            eprintln!("failed: {e}");
            std::process::exit(1);
        }
    }
}

/// The demo: the fake Tableau server with its sample configuration (TLS with a CA of its own).
pub(crate) mod demo {
    use tableau_auth_tests::fake::{FakeConfig, FakeOptions, FakeServer, sample};
    use tableau_auth_ureq::proto::Credentials;

    use super::Settings;

    /// Starts the fake on 127.0.0.1 and returns it with settings for its sample PAT.
    pub(crate) fn start() -> std::io::Result<(FakeServer, Settings)> {
        let fake = FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::default())?;
        println!("(demo: fake Tableau server at {})", fake.base_url());
        let settings = settings(&fake);
        Ok((fake, settings))
    }

    /// Settings for `fake`'s sample PAT on its Default site.
    pub(crate) fn settings(fake: &FakeServer) -> Settings {
        Settings {
            server: fake.base_url().to_owned(),
            ca_pem: fake.ca_pem().map(|pem| pem.as_bytes().to_vec()),
            site: String::new(),
            credentials: Credentials::personal_access_token(
                sample::USER_PAT_NAME,
                sample::USER_PAT_SECRET,
            ),
        }
    }
}
