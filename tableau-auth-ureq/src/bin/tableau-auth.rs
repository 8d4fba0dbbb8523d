//! `tableau-auth`: sign in to Tableau Server or Tableau Cloud from scripts (see `--help`).
//!
//! Secrets come only from the environment. Commands that sign in and do not hand the session
//! over (`sign-in`, `whoami`, `switch-site`, `revoke-admin-tokens`) always sign out, through the client's
//! [`SignOutGuard`], and a failed sign-out never replaces the real outcome; they print their
//! result once signed out, so that a sign-out the server kept throttling (the session left
//! open) fails the command instead of passing unnoticed.
//!
//! With a session token in `TABLEAU_AUTH_TOKEN` (from `token`), `whoami` uses that session
//! and neither signs in nor signs out (`adopted.rs`), unless credentials are given as flags on
//! the command line; `sign-out` ends it; `switch-site` refuses it (a switch replaces the token,
//! which this tool prints only from `token`).
//!
//! Every rule about the session (waits on 429/503 within `--timeout`, one re-sign-in on
//! `401002`) is the core's policy, run by the client; this tool only maps its errors to exit
//! statuses (`failure.rs`).
#![forbid(unsafe_code)]

#[path = "tableau-auth/adopted.rs"]
mod adopted;
#[path = "tableau-auth/args.rs"]
mod args;
#[path = "tableau-auth/failure.rs"]
mod failure;

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::{CommandFactory as _, FromArgMatches as _};
use serde_json::Value;
use tableau_auth_redis::RedisStore;
use tableau_auth_ureq::proto::secret::{AuthToken, ExposeSecret as _};
use tableau_auth_ureq::proto::{
    ApiVersion, ConnectedApp, Credentials, CurrentSession, FleetConfig, SignIn, SignOut, SignedIn,
    TicketRequest, UnifiedAccess,
};
use tableau_auth_ureq::{Client, RsaSigner, SignOutGuard};

use args::{Cli, Command, CredentialArgs, Options};
use failure::{Failure, HTTPS_PORT, warn};

/// The `User-Agent` of every request.
const USER_AGENT: &str = concat!("tableau-auth/", env!("CARGO_PKG_VERSION"));

/// The longest wait for a connection, whatever `--timeout` says.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The scope of a connected-app JWT when no `--scope` is given.
const DEFAULT_SCOPE: &str = "tableau:content:read";

fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, matches)));
    let (mut cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return usage_exit(&e),
    };
    let out = Out {
        json: cli.options.json,
    };
    let flags = args::credentials_on_command_line(&matches);
    if flags && args::source(&matches, "pat_name") == Some(clap::parser::ValueSource::EnvVariable) {
        // Credentials given as flags win over TABLEAU_PAT_NAME, as every flag wins over the
        // environment.
        cli.credentials.pat_name = None;
    }
    match run(&cli, flags, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => ExitCode::from(failure.emit(out.json)),
    }
}

/// clap's own errors: help and version go to stdout with status 0; a usage error becomes one
/// line on stderr (and, with `--json` on the command line, an error object on stdout), status 2.
fn usage_exit(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    // The command line could not be parsed, so look for --json by hand (before any `--`).
    let json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // No command at all: the help, on stderr.
            let _ = e.print();
            let failure = Failure::Usage("no command given (see --help)".to_owned());
            return ExitCode::from(if json { failure.emit(true) } else { 2 });
        }
        _ => {}
    }
    let rendered = e.render().to_string();
    let message = rendered
        .split("\n\n")
        .map(|paragraph| paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty() && !p.starts_with("Usage:") && !p.starts_with("For more"))
        .collect::<Vec<_>>()
        .join("; ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    ExitCode::from(Failure::Usage(format!("{message} (see --help)")).emit(json))
}

/// Runs the command; `flags`: credentials were given as flags on the command line.
fn run(cli: &Cli, flags: bool, out: Out) -> Result<(), Failure> {
    let options = &cli.options;
    let site = options.site.clone().unwrap_or_default();
    match &cli.command {
        Command::ServerInfo => {
            let mut client = client(options)?;
            let info = client.server_info().map_err(during("server-info"))?;
            note_moved(&client);
            out.fields(vec![
                ("product_version", info.product_version.into()),
                ("build", info.build.into()),
                ("rest_api_version", info.rest_api_version.to_string().into()),
            ])
        }
        Command::SignIn => {
            let sign_in = sign_in_request(&cli.credentials, &site)?;
            let mut client = client(options)?;
            let guard = sign_in_guard(&mut client, sign_in)?;
            let fields = match guard.session().signed_in() {
                Some(info) => Ok(session_fields(info)),
                None => Err(not_signed_in()),
            };
            finish(guard, fields, out)
        }
        Command::Whoami => {
            if !flags && let Some(token) = session_token()? {
                let mut client = client(options)?;
                let fields = adopted::whoami(&mut client, &token)?;
                note_moved(&client);
                return out.fields(fields);
            }
            let sign_in = sign_in_request(&cli.credentials, &site)?;
            let mut client = client(options)?;
            let mut guard = sign_in_guard(&mut client, sign_in)?;
            let fields = whoami(&mut guard);
            finish(guard, fields, out)
        }
        Command::SwitchSite { target } => {
            if !flags && session_token()?.is_some() {
                return Err(Failure::Usage(
                    "switch-site does not use the session in TABLEAU_AUTH_TOKEN (a switch \
                     replaces its token): run `token --site SITE` for a session on that site, \
                     or give credentials as flags to sign in, switch and sign out"
                        .to_owned(),
                ));
            }
            let sign_in = sign_in_request(&cli.credentials, &site)?;
            let mut client = client(options)?;
            let mut guard = sign_in_guard(&mut client, sign_in)?;
            let fields = switch_site(&mut guard, target);
            finish(guard, fields, out)
        }
        Command::RevokeAdminTokens => {
            let sign_in = sign_in_request(&cli.credentials, &site)?;
            let mut client = client(options)?;
            let mut guard = sign_in_guard(&mut client, sign_in)?;
            let fields = revoke_admin_tokens(&mut guard);
            finish(guard, fields, out)
        }
        Command::Token => {
            let sign_in = sign_in_request(&cli.credentials, &site)?;
            let mut client = client(options)?;
            client.sign_in(sign_in).map_err(during("sign-in"))?;
            note_moved(&client);
            let written = match (client.session().token(), client.session().signed_in()) {
                (Some(token), Some(info)) if out.json => {
                    let mut fields = vec![("token", token.expose_secret().into())];
                    fields.extend(session_fields(info));
                    out.fields(fields)
                }
                (Some(token), _) => out.only("token", token.expose_secret()),
                (None, _) => Err(not_signed_in()),
            };
            if written.is_err() {
                // Nobody got the token: end the session instead of leaving it open.
                let _ = client.sign_out();
            }
            written
        }
        Command::SignOut => {
            let token = secret_env("TABLEAU_AUTH_TOKEN", "sign-out reads the session token")?;
            failure::keep_secret(token.trim());
            let token = AuthToken::new(token.trim());
            let mut client = client(options)?;
            let outcome = client.sign_out_token(token).map_err(during("sign-out"))?;
            note_moved(&client);
            out.fields(vec![("signed_out", sign_out_name(outcome).into())])
        }
        Command::Retire => {
            if options.session_store.is_none() {
                return Err(Failure::Usage(
                    "retire ends a fleet's shared session: give --session-store URL (or set \
                     TABLEAU_SESSION_STORE); to end a saved token, use sign-out"
                        .to_owned(),
                ));
            }
            let sign_in = sign_in_request(&cli.credentials, &site)?;
            let mut client = client(options)?;
            client.sign_in(sign_in).map_err(during("sign-in"))?;
            let outcome = client.retire().map_err(during("retire"))?;
            out.fields(vec![("signed_out", sign_out_name(outcome).into())])
        }
        Command::Ticket {
            user,
            target_site,
            client_ip,
        } => {
            let mut client = client(options)?;
            let mut request = TicketRequest::new(user.as_str())
                .target_site(target_site.as_deref().unwrap_or(&site));
            if let Some(ip) = client_ip {
                request = request.client_ip(*ip);
            }
            let ticket = client.trusted_ticket(request).map_err(during("ticket"))?;
            note_moved(&client);
            out.only("ticket", ticket.value().expose_secret())
        }
    }
}

/// How a sign-out ended, as the output names it.
fn sign_out_name(outcome: SignOut) -> &'static str {
    match outcome {
        SignOut::Confirmed => "confirmed",
        SignOut::AlreadyGone => "already_gone",
        SignOut::LeftToFleet => "left_to_fleet",
        SignOut::Replaced => "replaced",
        _ => "not_signed_in",
    }
}

/// The session token in `TABLEAU_AUTH_TOKEN`, if set and not blank (kept out of every message
/// from now on).
fn session_token() -> Result<Option<String>, Failure> {
    match std::env::var_os("TABLEAU_AUTH_TOKEN") {
        None => Ok(None),
        Some(value) => {
            let value = value
                .into_string()
                .map_err(|_| Failure::Usage("TABLEAU_AUTH_TOKEN is not valid UTF-8".to_owned()))?;
            let token = value.trim();
            failure::keep_secret(token);
            Ok((!token.is_empty()).then(|| token.to_owned()))
        }
    }
}

/// The base URL of a plain-http `--server`, for telling that its port speaks https.
static PLAIN_HTTP: OnceLock<String> = OnceLock::new();

/// The failure of a step: the client's error, named after the step. A plain-http request that
/// a TLS server answered says so.
fn during(step: &'static str) -> impl FnOnce(tableau_auth_ureq::Error) -> Failure {
    move |error| Failure::During {
        step,
        context: None,
        error: Box::new(tls_port(error)),
    }
}

/// A plain-http request that a TLS server answered: a transport error saying so.
fn tls_port(error: tableau_auth_ureq::Error) -> tableau_auth_ureq::Error {
    match (error, PLAIN_HTTP.get()) {
        (tableau_auth_ureq::Error::Transport(text), Some(base)) if speaks_tls(&text) => {
            let https = base.replacen("http://", "https://", 1);
            tableau_auth_ureq::Error::Transport(format!(
                "{HTTPS_PORT}: use --server {https} (a plain-http request got no HTTP \
                 answer: {text})"
            ))
        }
        (other, _) => other,
    }
}

/// Whether a transport error is the one a plain-http request gets from a TLS server: its
/// answer (a TLS alert record) is not HTTP.
fn speaks_tls(text: &str) -> bool {
    text.contains("http parse fail") || text.contains("invalid HTTP version")
}

/// The fields a command prints.
type Fields = Vec<(&'static str, Value)>;

/// `whoami` after the sign-in: `GET sessions/current` in the `--wire` format (the client's),
/// read by the core.
fn whoami(client: &mut Client) -> Result<Fields, Failure> {
    let me = client.current_session().map_err(during("whoami"))?;
    let mut fields = current_session_fields(me);
    push_moved_to(client, &mut fields);
    Ok(fields)
}

/// The fields of `whoami`: who and where a session is.
fn current_session_fields(me: CurrentSession) -> Fields {
    vec![
        ("site_id", me.site_id.as_str().into()),
        ("site_content_url", me.site_content_url.as_str().into()),
        ("user_id", me.user_id.as_str().into()),
        ("user_name", me.user_name.into()),
        ("site_role", me.site_role.into()),
    ]
}

/// `moved_to`, when the sign-in followed a redirect: the base URL to configure from now on.
fn push_moved_to(client: &Client, fields: &mut Fields) {
    if let Some(moved) = client
        .session()
        .signed_in()
        .and_then(|s| s.moved_to.clone())
    {
        fields.push(("moved_to", moved.into()));
    }
}

/// `switch-site` after the sign-in; "already there" (403070) shows the unchanged session.
fn switch_site(client: &mut Client, target: &str) -> Result<Fields, Failure> {
    let switched = client.switch_site(target).map_err(during("switch-site"))?;
    let info = match switched {
        Some(info) => info,
        None => {
            warn("note: the session is already on that site");
            client
                .session()
                .signed_in()
                .cloned()
                .ok_or_else(not_signed_in)?
        }
    };
    Ok(session_fields(&info))
}

/// `revoke-admin-tokens` after the sign-in: `DELETE auth/serverAdminAccessTokens` (a caller who
/// is not a server administrator gets Tableau's `403004`, exit 3).
fn revoke_admin_tokens(client: &mut Client) -> Result<Fields, Failure> {
    client
        .revoke_server_admin_tokens()
        .map_err(during("revoke-admin-tokens"))?;
    let mut fields = vec![("revoked", "server_admin_tokens".into())];
    push_moved_to(client, &mut fields);
    Ok(fields)
}

/// Signs out after a command's main step, then prints what it found. On success a failed
/// sign-out is only a warning, except one the server still throttled after the retries
/// `--timeout` allows: the session certainly stays open, so the command fails (exit 4) and
/// prints the error instead. On failure the guard signs out when dropped and its outcome is
/// ignored, so the real error wins.
fn finish(
    guard: SignOutGuard<'_>,
    result: Result<Fields, Failure>,
    out: Out,
) -> Result<(), Failure> {
    match result {
        Ok(fields) => {
            match guard.sign_out() {
                Ok(_) => {}
                Err(e) if e.as_tableau().is_some_and(is_throttled) => {
                    return Err(Failure::SignOut(e));
                }
                Err(e) => {
                    let line = Failure::Client(e).report().line;
                    warn(&format!("warning: could not sign out: {line}"));
                }
            }
            out.fields(fields)
        }
        Err(failure) => {
            drop(guard);
            Err(failure)
        }
    }
}

/// Whether the server was still throttling (429/503) once the retries ran out.
fn is_throttled(e: &tableau_auth_ureq::proto::Error) -> bool {
    matches!(e, tableau_auth_ureq::proto::Error::Throttled { .. })
}

fn sign_in_guard(client: &mut Client, sign_in: SignIn) -> Result<SignOutGuard<'_>, Failure> {
    let guard = client.sign_in_guard(sign_in).map_err(during("sign-in"))?;
    note_moved(&guard);
    Ok(guard)
}

fn not_signed_in() -> Failure {
    Failure::Client(tableau_auth_ureq::Error::Transport(
        "the client reported a sign-in but holds no session".to_owned(),
    ))
}

/// The session as `sign-in` and `switch-site` print it.
fn session_fields(info: &SignedIn) -> Fields {
    let mut fields = vec![
        ("site_id", info.site_id.as_str().into()),
        ("site_content_url", info.site_content_url.as_str().into()),
        ("user_id", info.user_id.as_str().into()),
        ("api_version", info.api_version.to_string().into()),
    ];
    if let Some(at) = info.credentials_expire_at {
        // Tableau's estimate of the PAT's remaining lifetime, at the sign-in (a minute's
        // resolution): for scripts that watch their credentials.
        let left = at.saturating_duration_since(std::time::Instant::now());
        fields.push(("credentials_expire_in_secs", left.as_secs().into()));
    }
    if let Some(moved) = &info.moved_to {
        fields.push(("moved_to", moved.as_str().into()));
    }
    fields
}

/// Builds the client from the options (nothing is sent yet).
fn client(options: &Options) -> Result<Client, Failure> {
    let server = options
        .server
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Failure::Usage("no server: pass --server URL or set TABLEAU_SERVER".to_owned())
        })?;
    if has_user_info(server) {
        // A valid URL, but its password would be one more secret on a command line (and in
        // shell histories): refused, never used, never shown.
        return Err(Failure::Usage(
            "credentials in the server URL (user:password@) are refused: give --server \
             https://host[:port], and the credentials as flags and environment variables"
                .to_owned(),
        ));
    }
    let timeout = Duration::from_secs(options.timeout);
    let mut builder = Client::builder(server)
        .format(options.wire.into())
        .user_agent(USER_AGENT)
        .exchange_timeout(timeout)
        .read_timeout(timeout)
        .connect_timeout(timeout.min(CONNECT_TIMEOUT))
        // The core's policy waits out a throttled exchange (sign-in, whoami, sign-out, …) as
        // Retry-After asks, but never longer than --timeout in all for each.
        .retries(3, timeout);
    if let Some(url) = options
        .session_store
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let store =
            RedisStore::open(url).map_err(|e| Failure::Usage(format!("--session-store: {e}")))?;
        // The lock outlives the longest sign-in: a version probe, a redirect and the sign-in,
        // each within --timeout.
        let fleet = FleetConfig::new().lock_ttl(timeout.saturating_mul(3));
        builder = builder.session_store(store, fleet);
    }
    if let Some(text) = options
        .api_version
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let version: ApiVersion = text
            .parse()
            .map_err(|e| Failure::Usage(format!("--api-version: {e}")))?;
        builder = builder.api_version(version);
    }
    if let Some(path) = options
        .ca_file
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(std::path::Path::new)
    {
        let pem = std::fs::read(path).map_err(|e| {
            Failure::Usage(format!("cannot read --ca-file {}: {e}", path.display()))
        })?;
        builder = builder.built_in_roots(false).ca_pem(pem);
    }
    if let (Some(cert), Some(key)) = (&options.client_cert, &options.client_key) {
        let read = |flag: &str, path: &std::ffi::OsStr| {
            let path = std::path::Path::new(path);
            std::fs::read(path)
                .map_err(|e| Failure::Usage(format!("cannot read {flag} {}: {e}", path.display())))
        };
        builder = builder.client_cert_pem(read("--client-cert", cert)?, read("--client-key", key)?);
    }
    if let Some(url) = options
        .proxy
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        builder = builder.proxy(url);
    }
    if options.verbose {
        // The session's events (sign-ins, waits on 429/503, sign-outs): no secret in any.
        builder = builder
            .on_event(|event| warn(&format!("session: {event}")))
            .on_request(|r| {
                adopted::request_line(true, r.method.as_str(), r.path, r.status, r.elapsed);
            });
    } else {
        // Credentials about to expire break every later run: said even without --verbose.
        builder = builder.on_event(|event| {
            if matches!(
                event,
                tableau_auth_ureq::proto::lifecycle::SessionEvent::CredentialsExpiring { .. }
            ) {
                warn(&format!("warning: {event}"));
            }
        });
    }
    if options.danger_accept_invalid_certs {
        warn("warning: --danger-accept-invalid-certs: the server's certificate is not checked");
        builder = builder.danger_accept_invalid_certs(true);
    }
    let client = builder.build()?;
    if !client.session().config().is_https() {
        let _ = PLAIN_HTTP.set(client.session().config().base_url());
        warn("warning: --server is plain http; use https:// so that nothing travels in clear text");
    }
    Ok(client)
}

/// Whether a URL has user information (`user:password@host`) in its authority.
fn has_user_info(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.contains('@')
}

/// Tells on stderr that a redirect moved the server, and where to point `--server` instead.
fn note_moved(client: &Client) {
    let session = client.session();
    let now = session.base_url();
    if now != session.config().base_url() {
        warn(&format!(
            "note: the server moved to {now}; use --server {now}"
        ));
    }
}

/// A unified access token configuration from the `--uat-*` options; the key is read from its
/// file (whose path, never its content, may appear in a message).
fn uat_credentials(c: &CredentialArgs, issuer: &str) -> Result<Credentials, Failure> {
    let (Some(tenant), Some(key_id), Some(key_file), Some(user)) =
        (&c.uat_tenant, &c.uat_key_id, &c.uat_key_file, &c.uat_user)
    else {
        return Err(Failure::Usage(
            "--uat-issuer needs --uat-tenant, --uat-key-id, --uat-key-file and --uat-user"
                .to_owned(),
        ));
    };
    let signer = RsaSigner::from_pem_file(key_id.as_str(), key_file)
        .map_err(|e| Failure::Usage(format!("--uat-key-file: {e}")))?;
    let mut uat = UnifiedAccess::new(issuer, tenant.as_str(), user.as_str(), Arc::new(signer));
    if let Some(claim) = &c.uat_username_claim {
        uat = uat.username_claim(claim.as_str());
    }
    let uat = if c.scope.is_empty() {
        uat.scope(DEFAULT_SCOPE)
    } else {
        uat.scopes(c.scope.iter().map(String::as_str))
    };
    Ok(Credentials::unified_access(uat))
}

/// The sign-in the credential options describe (exactly one kind).
fn sign_in_request(c: &CredentialArgs, site: &str) -> Result<SignIn, Failure> {
    let given: Vec<&str> = [
        (c.username.is_some(), "--username"),
        (c.pat_name.is_some(), "--pat-name"),
        (c.jwt, "--jwt"),
        (c.connected_app.is_some(), "--connected-app"),
        (c.uat_issuer.is_some(), "--uat-issuer"),
    ]
    .into_iter()
    .filter_map(|(given, flag)| given.then_some(flag))
    .collect();
    match given.as_slice() {
        [] => {
            return Err(Failure::Usage(
                "no credentials: give one of --username, --pat-name, --jwt, --connected-app or \
                 --uat-issuer"
                    .to_owned(),
            ));
        }
        [_] => {}
        several => {
            return Err(Failure::Usage(format!(
                "give only one kind of credentials, not {}",
                several.join(" and ")
            )));
        }
    }
    if !c.scope.is_empty() && c.connected_app.is_none() && c.uat_issuer.is_none() {
        return Err(Failure::Usage(
            "--scope applies to --connected-app and --uat-issuer only".to_owned(),
        ));
    }
    let credentials = if let Some(name) = &c.username {
        Credentials::password(
            name.as_str(),
            secret_env("TABLEAU_PASSWORD", "--username reads the password")?,
        )
    } else if let Some(name) = &c.pat_name {
        Credentials::personal_access_token(
            name.as_str(),
            secret_env("TABLEAU_PAT_SECRET", "--pat-name reads the token's secret")?,
        )
    } else if c.jwt {
        let jwt = secret_env("TABLEAU_JWT", "--jwt reads the JWT")?;
        Credentials::jwt(jwt.trim())
    } else if let Some(issuer) = &c.uat_issuer {
        uat_credentials(c, issuer)?
    } else {
        let (Some(client_id), Some(secret_id), Some(user)) =
            (&c.connected_app, &c.secret_id, &c.jwt_user)
        else {
            return Err(Failure::Usage(
                "--connected-app needs --secret-id and --jwt-user".to_owned(),
            ));
        };
        // The name the library's `Credentials::from_lookup` and the examples read; the CLI's
        // first name for it still works.
        let purpose = "--connected-app reads the secret value";
        let secret = match secret_env(tableau_auth_ureq::proto::env::SECRET_VALUE, purpose) {
            Err(_) if std::env::var_os("TABLEAU_CONNECTED_APP_SECRET").is_some() => {
                secret_env("TABLEAU_CONNECTED_APP_SECRET", purpose)?
            }
            other => other?,
        };
        let app = ConnectedApp::new(
            client_id.as_str(),
            secret_id.as_str(),
            secret,
            user.as_str(),
        );
        let app = if c.scope.is_empty() {
            app.scope(DEFAULT_SCOPE)
        } else {
            app.scopes(c.scope.iter().map(String::as_str))
        };
        Credentials::ConnectedApp(app)
    };
    let mut sign_in = SignIn::new(credentials, site);
    if let Some(user) = &c.impersonate {
        sign_in = sign_in.impersonate(user.clone());
    }
    Ok(sign_in)
}

/// A secret from the environment; missing, empty or not UTF-8 is a usage error that names the
/// variable (never its value).
fn secret_env(name: &str, purpose: &str) -> Result<String, Failure> {
    let missing = |what: &str| Failure::Usage(format!("{name} is {what} ({purpose} from it)"));
    match std::env::var_os(name) {
        None => Err(missing("not set")),
        Some(value) if value.is_empty() => Err(missing("empty")),
        Some(value) => value.into_string().map_err(|_| missing("not valid UTF-8")),
    }
}

/// Where results go: `key: value` lines, or one JSON object.
#[derive(Debug, Clone, Copy)]
struct Out {
    json: bool,
}

impl Out {
    /// Prints named fields; `null` ones are left out of the human form.
    fn fields(self, fields: Vec<(&'static str, Value)>) -> Result<(), Failure> {
        let text = if self.json {
            let object: serde_json::Map<String, Value> = fields
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect();
            format!("{}\n", Value::Object(object))
        } else {
            let mut text = String::new();
            for (key, value) in fields {
                let value = match value {
                    Value::Null => continue,
                    Value::String(s) => failure::one_line(&s),
                    other => other.to_string(),
                };
                if value.is_empty() {
                    text.push_str(&format!("{key}:\n"));
                } else {
                    text.push_str(&format!("{key}: {value}\n"));
                }
            }
            text
        };
        write_stdout(&text)
    }

    /// Prints one value alone (the token, the ticket), or `{"key": value}`.
    fn only(self, key: &str, value: &str) -> Result<(), Failure> {
        if self.json {
            let object = serde_json::json!({ key: value });
            write_stdout(&format!("{object}\n"))
        } else {
            write_stdout(&format!("{value}\n"))
        }
    }
}

fn write_stdout(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Failure::Output)
}
