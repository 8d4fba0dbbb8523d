//! Mints a connected-app JWT (direct trust, HS256) with the Sans-IO core and shows what is in
//! it: the decoded header and claims. Never the signature, never the secret value.
//!
//! ```text
//! TABLEAU_CLIENT_ID=… TABLEAU_SECRET_ID=… TABLEAU_SECRET_VALUE=… \
//!   cargo run -p tableau-auth-proto --example mint_jwt -- \
//!   --username jsmith@example.com [--scope tableau:content:read]… [--lifetime-secs 300] \
//!   [--attribute Region=EMEA]…
//! cargo run -p tableau-auth-proto --example mint_jwt   # demo values, no setup
//! ```
//!
//! The three connected-app values come only from the environment (a flag would end up in the
//! shell history and in `ps`); without them the example mints with made-up demo values. The
//! core reads no clock and draws no randomness: this program passes `SystemTime::now()` and 16
//! random bytes (the JWT ID) in [`MintInputs`]. To sign in with the app, hand the same
//! [`ConnectedApp`] to `Credentials::ConnectedApp`: an adapter then mints a fresh JWT for every
//! sign-in (`tableau-auth-ureq`'s `embed_drive` example shows an SDK doing it by hand).
//!
//! Exits with 2 on bad arguments or an unusable app (empty value, no scope, lifetime over
//! 10 minutes, a reserved claim name).

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use tableau_auth_proto::secret::{ExposeSecret, SecretString};
use tableau_auth_proto::{ConnectedApp, MintInputs};

/// What `--help` prints.
const USAGE: &str = "usage: mint_jwt [--username NAME] [--scope SCOPE]... [--lifetime-secs N] \
                     [--attribute NAME=VALUE]... (app in TABLEAU_CLIENT_ID, TABLEAU_SECRET_ID, \
                     TABLEAU_SECRET_VALUE; user also in TABLEAU_USERNAME)";

/// Made-up values for the demo (no Tableau site trusts them).
pub(crate) const DEMO_CLIENT_ID: &str = "demo-client-id";
pub(crate) const DEMO_SECRET_ID: &str = "demo-secret-id";
pub(crate) const DEMO_SECRET_VALUE: &str = "demo-secret-value-not-a-real-one";

/// The app, the user and the JWT's shape.
#[derive(Debug, Clone)]
pub(crate) struct MintArgs {
    pub(crate) client_id: String,
    pub(crate) secret_id: String,
    /// Kept secret from the moment it is read.
    pub(crate) secret_value: SecretString,
    pub(crate) username: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) lifetime: Duration,
    pub(crate) attributes: Vec<(String, String)>,
    /// Whether the demo values were used.
    pub(crate) demo: bool,
}

/// A minted JWT and its readable parts (`Debug` redacts the JWT).
#[derive(Debug)]
pub(crate) struct Minted {
    /// The whole token: a credential, as secret as the app's secret value for its lifetime.
    pub(crate) jwt: SecretString,
    /// The decoded header (`alg`, `typ`, `kid`, `iss`).
    pub(crate) header: serde_json::Value,
    /// The decoded claims (`iss`, `sub`, `aud`, `exp`, `jti`, `scp`, `iat`, `nbf`, attributes).
    pub(crate) claims: serde_json::Value,
}

impl Minted {
    /// What the program prints: header and claims, pretty, and only the length of the rest.
    pub(crate) fn render(&self) -> String {
        let pretty = |v: &serde_json::Value| {
            serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
        };
        format!(
            "header: {}\nclaims: {}\n(a {}-character JWT; the signature and the secret are not shown)",
            pretty(&self.header),
            pretty(&self.claims),
            self.jwt.expose_secret().len()
        )
    }
}

/// Reads the arguments (without the program name) and the app's values from `env`. Without
/// `TABLEAU_CLIENT_ID`, `TABLEAU_SECRET_ID` and `TABLEAU_SECRET_VALUE` the demo values are used.
pub(crate) fn parse_args(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<MintArgs, String> {
    let mut username = env("TABLEAU_USERNAME");
    let (mut scopes, mut attributes) = (Vec::new(), Vec::new());
    let mut lifetime = ConnectedApp::DEFAULT_LIFETIME;
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--username" => username = Some(value()?),
            "--scope" => scopes.push(value()?),
            "--lifetime-secs" => {
                let text = value()?;
                let secs = text
                    .parse::<u64>()
                    .map_err(|_| format!("--lifetime-secs wants seconds, not {text:?}"))?;
                lifetime = Duration::from_secs(secs);
            }
            "--attribute" => {
                let text = value()?;
                let (name, value) = text
                    .split_once('=')
                    .ok_or_else(|| format!("--attribute wants NAME=VALUE, not {text:?}"))?;
                attributes.push((name.to_owned(), value.to_owned()));
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    if scopes.is_empty() {
        scopes.push("tableau:content:read".to_owned());
    }
    let app = (
        env("TABLEAU_CLIENT_ID"),
        env("TABLEAU_SECRET_ID"),
        env("TABLEAU_SECRET_VALUE"),
    );
    let (client_id, secret_id, secret_value, demo) = match app {
        (Some(client_id), Some(secret_id), Some(secret_value)) => {
            (client_id, secret_id, secret_value, false)
        }
        (None, None, None) => (
            DEMO_CLIENT_ID.to_owned(),
            DEMO_SECRET_ID.to_owned(),
            DEMO_SECRET_VALUE.to_owned(),
            true,
        ),
        _ => {
            return Err(
                "set all of TABLEAU_CLIENT_ID, TABLEAU_SECRET_ID and TABLEAU_SECRET_VALUE \
                 (or none, for the demo)"
                    .to_owned(),
            );
        }
    };
    Ok(MintArgs {
        client_id,
        secret_id,
        secret_value: SecretString::from(secret_value),
        username: username.unwrap_or_else(|| "jsmith@example.com".to_owned()),
        scopes,
        lifetime,
        attributes,
        demo,
    })
}

/// Mints one JWT at `issued_at` with `random` as its ID, and decodes its header and claims.
pub(crate) fn run(
    args: &MintArgs,
    issued_at: SystemTime,
    random: [u8; 16],
) -> Result<Minted, Box<dyn std::error::Error>> {
    let mut app = ConnectedApp::new(
        args.client_id.as_str(),
        args.secret_id.as_str(),
        args.secret_value.expose_secret(),
        args.username.as_str(),
    )
    .scopes(args.scopes.iter().map(String::as_str))
    .lifetime(args.lifetime);
    for (name, value) in &args.attributes {
        app = app.user_attribute(name.as_str(), [value.as_str()]);
    }
    let jwt = app.mint(MintInputs { issued_at, random })?;
    // header.claims.signature, each base64url without padding. Only the first two are decoded.
    let mut parts = jwt.expose_secret().split('.');
    let mut decode = |what: &str| -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let part = parts
            .next()
            .ok_or_else(|| format!("the JWT has no {what}"))?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part)?;
        Ok(serde_json::from_slice(&bytes)?)
    };
    let header = decode("header")?;
    let claims = decode("claims")?;
    Ok(Minted {
        jwt,
        header,
        claims,
    })
}

/// 16 bytes from the operating system's CSPRNG: the program, not the core, owns randomness.
fn random_bytes() -> Result<[u8; 16], getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

#[allow(clippy::disallowed_methods)] // the program, not the core, owns the clock
fn main() {
    let args = match parse_args(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let random = match random_bytes() {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("no randomness for the JWT ID: {e}");
            std::process::exit(2);
        }
    };
    if args.demo {
        println!(
            "(demo: made-up app values; set TABLEAU_CLIENT_ID, TABLEAU_SECRET_ID and \
             TABLEAU_SECRET_VALUE to mint with yours)"
        );
    }
    match run(&args, SystemTime::now(), random) {
        Ok(minted) => println!("{}", minted.render()),
        Err(e) => {
            eprintln!("cannot mint: {e}");
            std::process::exit(2);
        }
    }
}
