//! The command line: options, credentials and commands (clap derive).
//!
//! Secrets are deliberately not clap arguments: they are read from the environment by the
//! commands that need them, so that clap can never show, suggest or echo one.

use std::ffi::OsString;
use std::net::Ipv4Addr;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Parser, Subcommand, ValueEnum};
use tableau_auth_ureq::proto::{Format, UserId};

/// The text after the options in `--help`: environment, output and exit statuses.
const AFTER_HELP: &str = "\
Secrets come only from the environment, never from flags:
  TABLEAU_PASSWORD              the password of --username
  TABLEAU_PAT_SECRET            the secret of the personal access token --pat-name
  TABLEAU_JWT                   a ready JWT, for --jwt
  TABLEAU_SECRET_VALUE          the secret value of --connected-app's --secret-id
                                (TABLEAU_CONNECTED_APP_SECRET, its old name, still works)
  TABLEAU_AUTH_TOKEN            a session token (from `token`): whoami uses it, sign-out ends it
A unified access token (Tableau Cloud, API 3.27+) is minted and signed for every sign-in from
--uat-issuer, --uat-tenant, --uat-key-id, --uat-user and the PKCS#8 PEM key in --uat-key-file
(only the file's path is ever shown).
Settings may come from the environment too (a flag wins): TABLEAU_SERVER, TABLEAU_SITE,
TABLEAU_API_VERSION, TABLEAU_CA_FILE, TABLEAU_PAT_NAME, TABLEAU_SESSION_STORE. The server
URL carries no user name or password: credentials in it are refused.

One session for a fleet (one PAT allows one live session; a second sign-in ends the first):
  export TABLEAU_SESSION_STORE=redis://127.0.0.1:6379  # the services' store
  tableau-auth token                                   # adopts the fleet's session
token, whoami and sign-in then adopt the session the fleet shares (signing in and sharing
one only when there is none), and never sign it out; `retire` ends it for everyone.

Commands that sign in (sign-in, whoami, switch-site, token, revoke-admin-tokens) need exactly
one kind of credentials. sign-in, whoami, switch-site and revoke-admin-tokens always sign out
before exiting, even when a later step failed; token leaves its session open for a later
sign-out. A server that
throttles (429/503) is waited for as its Retry-After asks, on every request, within
--timeout in all for each.

One session for several steps of a script:
  export TABLEAU_AUTH_TOKEN=\"$(tableau-auth token)\"   # or: token --json, for the session too
  tableau-auth whoami                                  # uses that session: no sign-in/out
  tableau-auth sign-out                                # ends it
With TABLEAU_AUTH_TOKEN set, whoami neither signs in nor signs out, unless credentials are
given as flags on the command line (then it signs in anew, as without it); a session that
has ended exits 3 with Tableau's code (401002). switch-site does not use it (a switch
replaces the session's token): it is refused unless credentials are given as flags; for a
session on another site, run `token --site SITE`.
--verbose: one line per request on stderr (method, path, status, milliseconds), and the
session's events; never a secret.

Output: short `key: value` lines (token and ticket print only the value). With --json,
exactly one JSON object on stdout, on failure too: {\"error\": {\"code\": Tableau's code
or null, \"summary\": ..., \"detail\": ..., \"kind\": ...}}. Errors also go to stderr as one
line. No secret is ever printed, except the token by `token` and the ticket by `ticket`.
A failure names the step that failed (\"whoami failed: ...\"; with --json, as \"step\").
When the server moved (an http->https redirect of the same host was followed), sign-in,
whoami, switch-site and revoke-admin-tokens add `moved_to`, and stderr names the URL to use
with --server.

Exit status:
  0  success (a sign-out that finds the session already gone included)
  1  the output could not be written
  2  usage: a missing or invalid option, credential or environment variable
  3  the server refused: a Tableau error (its code, summary and detail go to stderr; a
     session ended again after one re-sign-in is its 401002, a failed re-sign-in its own
     code), a trusted ticket refused with -1, or a feature the server's version or Tableau
     Cloud lacks
  4  transport, TLS, timeout, a server still throttling (429/503) once --timeout is used up
     (kind \"throttled\"; also a sign-out after success, the session then left open), a
     redirect refused, or a response that could not be understood";

/// `tableau-auth`: sign in to Tableau Server or Tableau Cloud from scripts.
#[derive(Debug, Parser)]
#[command(
    name = "tableau-auth",
    version,
    about = "Sign in to Tableau Server or Tableau Cloud, and sign out, from scripts",
    after_help = AFTER_HELP,
    arg_required_else_help = true
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) options: Options,
    #[command(flatten)]
    pub(crate) credentials: CredentialArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The wire format of request and response bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Wire {
    /// XML (every REST API version)
    Xml,
    /// JSON (REST API 2.5 and later)
    Json,
}

impl From<Wire> for Format {
    fn from(wire: Wire) -> Self {
        match wire {
            Wire::Xml => Self::Xml,
            Wire::Json => Self::Json,
        }
    }
}

/// Where and how to talk to the server.
#[derive(Debug, Args)]
pub(crate) struct Options {
    /// The server's base URL, https://host or https://host:port
    #[arg(
        long,
        value_name = "URL",
        env = "TABLEAU_SERVER",
        hide_env_values = true,
        global = true
    )]
    pub(crate) server: Option<String>,

    /// The site's contentUrl (default: "", the Default site)
    #[arg(
        long,
        value_name = "CONTENT_URL",
        env = "TABLEAU_SITE",
        hide_env_values = true,
        global = true
    )]
    pub(crate) site: Option<String>,

    /// The REST API version to use (default: ask the server)
    #[arg(
        long,
        value_name = "X.Y",
        env = "TABLEAU_API_VERSION",
        hide_env_values = true,
        global = true
    )]
    pub(crate) api_version: Option<String>,

    /// The wire format of request and response bodies
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Wire::Xml, global = true)]
    pub(crate) wire: Wire,

    /// Trust the CA certificates in this PEM file (they replace the built-in roots; empty: unset)
    #[arg(
        long,
        value_name = "PEM",
        env = "TABLEAU_CA_FILE",
        hide_env_values = true,
        global = true
    )]
    pub(crate) ca_file: Option<OsString>,

    /// Connect through this HTTP proxy, a CONNECT tunnel (http://host:port, or
    /// http://user:password@host:port; or socks5://…). Prefer the environment variable when
    /// the URL carries a password
    #[arg(
        long,
        value_name = "URL",
        env = "TABLEAU_PROXY",
        hide_env_values = true,
        global = true
    )]
    pub(crate) proxy: Option<String>,

    /// Mutual TLS: present the client certificate (chain) in this PEM file
    #[arg(
        long,
        value_name = "PEM",
        env = "TABLEAU_CLIENT_CERT",
        hide_env_values = true,
        requires = "client_key",
        global = true
    )]
    pub(crate) client_cert: Option<OsString>,

    /// Mutual TLS: the client certificate's private key, a PEM file (only its path is ever
    /// shown)
    #[arg(
        long,
        value_name = "PEM",
        env = "TABLEAU_CLIENT_KEY",
        hide_env_values = true,
        requires = "client_cert",
        global = true
    )]
    pub(crate) client_key: Option<OsString>,

    /// Accept any server certificate. DANGEROUS: for throwaway test servers only
    #[arg(long, global = true)]
    pub(crate) danger_accept_invalid_certs: bool,

    /// The limit, in seconds, on each request/response exchange
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=86_400),
        global = true
    )]
    pub(crate) timeout: u64,

    /// Share one session with every process using this Redis and the same credentials
    /// (redis:// or rediss://): token, whoami and sign-in adopt the fleet's session (signing
    /// in only when there is none) and never sign it out; retire ends it. Prefer the
    /// environment variable when the URL carries a password
    #[arg(
        long,
        value_name = "URL",
        env = "TABLEAU_SESSION_STORE",
        hide_env_values = true,
        global = true
    )]
    pub(crate) session_store: Option<String>,

    /// Machine-readable output: exactly one JSON object on stdout
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// One line per request on stderr: method, path, status, milliseconds (never a secret)
    #[arg(long, global = true)]
    pub(crate) verbose: bool,
}

/// How to sign in: exactly one kind, for the commands that sign in.
#[derive(Debug, Args)]
#[command(next_help_heading = "Credentials (one kind)")]
pub(crate) struct CredentialArgs {
    /// Personal access token name; its secret is read from TABLEAU_PAT_SECRET
    #[arg(
        long,
        value_name = "NAME",
        env = "TABLEAU_PAT_NAME",
        hide_env_values = true,
        global = true
    )]
    pub(crate) pat_name: Option<String>,

    /// User name; the password is read from TABLEAU_PASSWORD
    #[arg(long, value_name = "NAME", global = true)]
    pub(crate) username: Option<String>,

    /// Sign in with the ready JWT in TABLEAU_JWT
    #[arg(long, global = true)]
    pub(crate) jwt: bool,

    /// Connected app (direct trust) client ID: mints a JWT signed with the secret value in
    /// TABLEAU_SECRET_VALUE
    #[arg(
        long,
        value_name = "CLIENT_ID",
        requires_all = ["secret_id", "jwt_user"],
        global = true
    )]
    pub(crate) connected_app: Option<String>,

    /// The connected app's secret ID
    #[arg(long, value_name = "ID", requires = "connected_app", global = true)]
    pub(crate) secret_id: Option<String>,

    /// The Tableau user name the connected app signs in as
    #[arg(
        long,
        value_name = "USERNAME",
        requires = "connected_app",
        global = true
    )]
    pub(crate) jwt_user: Option<String>,

    /// A scope of the connected-app JWT or the UAT; repeatable (default: tableau:content:read)
    #[arg(long, value_name = "SCOPE", global = true)]
    pub(crate) scope: Vec<String>,

    /// Tableau Cloud unified access token: the UAT configuration's issuer URI; mints an RS256
    /// JWT for every sign-in, signed with the key in --uat-key-file
    #[arg(
        long,
        value_name = "URI",
        requires_all = ["uat_tenant", "uat_key_id", "uat_key_file", "uat_user"],
        global = true
    )]
    pub(crate) uat_issuer: Option<String>,

    /// The UAT's tenant ID
    #[arg(long, value_name = "ID", requires = "uat_issuer", global = true)]
    pub(crate) uat_tenant: Option<String>,

    /// The UAT configuration's key ID (the JWT's kid)
    #[arg(long, value_name = "ID", requires = "uat_issuer", global = true)]
    pub(crate) uat_key_id: Option<String>,

    /// The UAT private key: a PKCS#8 PEM file (only its path is ever shown)
    #[arg(long, value_name = "PEM", requires = "uat_issuer", global = true)]
    pub(crate) uat_key_file: Option<std::path::PathBuf>,

    /// The user the UAT signs in as
    #[arg(long, value_name = "USERNAME", requires = "uat_issuer", global = true)]
    pub(crate) uat_user: Option<String>,

    /// The claim that carries --uat-user (default: email)
    #[arg(long, value_name = "CLAIM", requires = "uat_issuer", global = true)]
    pub(crate) uat_username_claim: Option<String>,

    /// Sign in as this user instead (a LUID); the credentials must be an administrator's
    #[arg(long, value_name = "USER_LUID", global = true)]
    pub(crate) impersonate: Option<UserId>,
}

/// Whether a kind of credentials was given as a flag on the command line (not only through the
/// environment, as `TABLEAU_PAT_NAME` can): such a flag means "sign in anew", even with a
/// session in `TABLEAU_AUTH_TOKEN`.
pub(crate) fn credentials_on_command_line(matches: &ArgMatches) -> bool {
    ["pat_name", "username", "jwt", "connected_app", "uat_issuer"]
        .into_iter()
        .any(|id| source(matches, id) == Some(ValueSource::CommandLine))
}

/// Where the value of the argument `id` came from.
pub(crate) fn source(matches: &ArgMatches, id: &str) -> Option<ValueSource> {
    // Global flags may follow the subcommand: look there too.
    let sub = matches
        .subcommand()
        .and_then(|(_, sub)| sub.value_source(id));
    match (matches.value_source(id), sub) {
        (Some(ValueSource::CommandLine), _) | (_, Some(ValueSource::CommandLine)) => {
            Some(ValueSource::CommandLine)
        }
        (top, sub) => top.or(sub),
    }
}

/// What to do.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show the server's product and REST API versions (no sign-in)
    ServerInfo,
    /// Sign in, show the session, sign out
    SignIn,
    /// Show who and where the session is (GET sessions/current): the session in
    /// TABLEAU_AUTH_TOKEN, or sign in, look, sign out
    Whoami,
    /// Sign in, switch to another site, show the new session, sign out
    SwitchSite {
        /// The contentUrl of the site to switch to ("" for the Default site)
        // Not named `site`: an argument id shared with the global --site would merge them.
        #[arg(value_name = "SITE")]
        target: String,
    },
    /// Sign in and print only the session token (--json: with its site, user and API
    /// version); the session stays open
    Token,
    /// Sign out the session whose token is in TABLEAU_AUTH_TOKEN
    SignOut,
    /// End the fleet's shared session for every process (--session-store): sign it out and
    /// retire the store's record, so that the next use anywhere signs in anew
    Retire,
    /// Sign in as a server administrator, revoke every personal access token created by a
    /// server administrator (Tableau Server, REST API 3.11+), sign out
    RevokeAdminTokens,
    /// Ask Tableau Server for a trusted ticket and print only the ticket (no sign-in)
    Ticket {
        /// The user the ticket is for (DOMAIN\user with multi-domain Active Directory)
        // Not named `username`: that id is the global --username's.
        #[arg(value_name = "USERNAME")]
        user: String,
        /// The contentUrl of the site the ticket is for (default: --site)
        #[arg(long, value_name = "SITE")]
        target_site: Option<String>,
        /// The end user's IPv4 address, checked when the ticket is redeemed
        #[arg(long, value_name = "IP")]
        client_ip: Option<Ipv4Addr>,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
