//! Counts instructions, not seconds: runs one arm of the sign-in parse N times, to be run under
//! `valgrind --tool=callgrind` (repeatable whatever else the machine is doing). See
//! BENCHMARKS.md for the commands. Arms: `setup` (sessions and starts only), `ours` (setup +
//! `handle_response` of the 200 document), `base` (a bare deserialise of the same document).
//! Without arguments (as `cargo test --benches` runs it) it does one quick pass of each arm.

use std::time::Instant;

use serde::Deserialize;
use tableau_auth_proto::{
    ApiVersion, Config, Credentials, Event, Format, Session, SignIn, Step, http,
};

const XML: &str = include_str!("../tests/fixtures/signin.xml");
const JSON: &str = include_str!("../tests/fixtures/signin.json");

/// The fair minimum a bare client keeps: four owned strings.
#[derive(Deserialize)]
struct Bare {
    credentials: BareCredentials,
}

#[derive(Deserialize)]
struct BareCredentials {
    #[serde(rename = "@token", alias = "token")]
    token: String,
    site: BareSite,
    user: BareUser,
}

#[derive(Deserialize)]
struct BareSite {
    #[serde(rename = "@id", alias = "id")]
    id: String,
    #[serde(rename = "@contentUrl", alias = "contentUrl")]
    content_url: String,
}

#[derive(Deserialize)]
struct BareUser {
    #[serde(rename = "@id", alias = "id")]
    id: String,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.len() < 3 {
        for format in ["xml", "json"] {
            for arm in ["setup", "ours", "base"] {
                assert_eq!(run(arm, format, 10), if arm == "setup" { 0 } else { 10 });
            }
        }
        return;
    }
    let n = args[2].parse().unwrap_or(1000);
    println!("{}", run(&args[0], &args[1], n));
}

/// Runs `arm` `n` times; returns how many parses succeeded.
#[allow(clippy::disallowed_methods)] // the bench, not the core, owns the clock
fn run(arm: &str, format: &str, n: usize) -> usize {
    let (format, doc) = match format {
        "xml" => (Format::Xml, XML),
        _ => (Format::Json, JSON),
    };
    let now = Instant::now();
    let mut sessions = Vec::new();
    if arm != "base" {
        for _ in 0..n {
            let config = Config::builder("https://tableau.example.com")
                .api_version(ApiVersion::new(3, 25))
                .format(format)
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            let mut s = Session::new(config);
            let sign_in = SignIn::new(Credentials::personal_access_token("n", "secret"), "Finance");
            let _ = s.start(sign_in.into(), now);
            sessions.push(s);
        }
    }
    let body = doc.as_bytes().to_vec();
    let mut ok = 0;
    match arm {
        "ours" => {
            for s in &mut sessions {
                let response = http::Response::new(body.clone());
                if let Ok(Step::Done(Event::SignedIn(_))) = s.handle_response(response, now) {
                    ok += 1;
                }
            }
        }
        "base" => {
            for _ in 0..n {
                let response = http::Response::new(body.clone());
                let parsed: Option<Bare> = match format {
                    Format::Xml => std::str::from_utf8(response.body())
                        .ok()
                        .and_then(|t| quick_xml::de::from_str(t).ok()),
                    Format::Json => serde_json::from_slice(response.body()).ok(),
                };
                if let Some(b) = parsed {
                    let kept = [b.credentials.token, b.credentials.site.id];
                    let more = [b.credentials.site.content_url, b.credentials.user.id];
                    ok += usize::from(kept.iter().chain(&more).all(|s| !s.is_empty()));
                }
            }
        }
        _ => {}
    }
    ok
}
