//! A tiny web server that embeds a Tableau view for each of its users with trusted tickets
//! (Tableau Server only).
//!
//! ```text
//! cargo run -p tableau-auth-ureq --example ticket_server -- \
//!   --server https://tableau.example.com --workbook Superstore --view Overview \
//!   [--site Finance] [--ca-file corp-ca.pem] [--listen 127.0.0.1:8080]
//! cargo run -p tableau-auth-ureq --example ticket_server   # demo: fake server, one request
//! ```
//!
//! For each `GET /dashboard`, the server asks Tableau (`POST /trusted`) for a one-time ticket
//! for the user, and answers with a page whose `<iframe>` redeems it
//! (`{server}/trusted/{ticket}[/t/{site}]/views/{workbook}/{view}`). Tableau trusts the *web
//! server's IP address* (`wgserver.trusted_hosts`), so no credentials are configured here, and
//! whoever can make this server ask for a ticket can view as anyone:
//!
//! * the user comes from `X-Forwarded-User`, set by the authenticating reverse proxy in front
//!   of this server (oauth2-proxy, mod_auth_openidc, …) — never from a query parameter;
//! * the server listens on a loopback address only, so that only that proxy reaches it;
//! * the end user's IPv4 address (first `X-Forwarded-For` entry) goes with the ticket request,
//!   for servers that check it at redemption;
//! * the page is `Cache-Control: no-store` and `Referrer-Policy: no-referrer` (the redemption
//!   URL *is* the ticket), and tickets never go to the log.
//!
//! Without `--server` (or with `--demo`) the fake Tableau server of `tableau-auth-tests` runs on
//! 127.0.0.1, this server answers one request that the example makes to itself, prints the
//! response with the ticket masked, and exits. Exits with 2 on bad arguments.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use tableau_auth_ureq::proto::secret::ExposeSecret;
use tableau_auth_ureq::proto::{self, TicketRequest};
use tableau_auth_ureq::{Client, Error};

const USAGE: &str = "usage: ticket_server [--server URL] [--site SITE] [--workbook NAME] \
                     [--view NAME] [--ca-file PEM] [--listen 127.0.0.1:PORT] [--demo] \
                     (server and site also in TABLEAU_SERVER and TABLEAU_SITE)";

/// The largest request head read from a browser (through the proxy).
const MAX_HEAD: u64 = 16 * 1024;

/// Which Tableau view to embed, and where Tableau is.
pub(crate) struct Settings {
    pub(crate) server: String,
    pub(crate) ca_pem: Option<Vec<u8>>,
    /// The site's contentUrl (`""`: the Default site).
    pub(crate) site: String,
    pub(crate) workbook: String,
    pub(crate) view: String,
}

/// What the command line asks for.
pub(crate) enum Mode {
    /// A real server, listening on this (loopback) address.
    Server(Settings, SocketAddr),
    /// The in-process fake and one request (`--demo`, or no server given).
    Demo,
}

/// One answer to a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// Reads the arguments (without the program name) and the environment.
pub(crate) fn parse_args(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Mode, String> {
    let (mut server, mut site, mut ca_file, mut demo) =
        (env("TABLEAU_SERVER"), env("TABLEAU_SITE"), None, false);
    let (mut workbook, mut view) = ("Superstore".to_owned(), "Overview".to_owned());
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--server" => server = Some(value()?),
            "--site" => site = Some(value()?),
            "--workbook" => workbook = value()?,
            "--view" => view = value()?,
            "--ca-file" => ca_file = Some(PathBuf::from(value()?)),
            "--listen" => {
                let text = value()?;
                listen = text
                    .parse()
                    .map_err(|_| format!("--listen wants IP:PORT, not {text:?}"))?;
            }
            "--demo" => demo = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    if !listen.ip().is_loopback() {
        return Err(format!(
            "--listen {listen}: listen on loopback only, behind the authenticating proxy"
        ));
    }
    let Some(server) = server.filter(|_| !demo) else {
        return Ok(Mode::Demo);
    };
    let ca_pem = match ca_file {
        Some(path) => {
            Some(std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?)
        }
        None => None,
    };
    let settings = Settings {
        server,
        ca_pem,
        site: site.unwrap_or_default(),
        workbook,
        view,
    };
    Ok(Mode::Server(settings, listen))
}

/// Serves `listener` one connection at a time; stops after `limit` requests (`None`: never).
/// Returns how many requests it answered.
pub(crate) fn run(
    listener: TcpListener,
    settings: &Settings,
    limit: Option<usize>,
) -> Result<usize, Error> {
    let mut builder = Client::builder(settings.server.as_str())
        .user_agent("ticket-server-example/0.1")
        .exchange_timeout(Duration::from_secs(15));
    if let Some(pem) = &settings.ca_pem {
        builder = builder.ca_pem(pem.clone());
    }
    let mut client = builder.build()?;
    let mut served = 0;
    while limit.is_none_or(|limit| served < limit) {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        if let Err(e) = serve(&mut client, settings, stream) {
            eprintln!("{peer}: {e}");
        }
        served += 1;
    }
    Ok(served)
}

/// Reads one request from `stream` and answers it.
fn serve(client: &mut Client, settings: &Settings, stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?.take(MAX_HEAD));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let (mut user, mut forwarded_for) = (None, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_owned();
            match name.trim().to_ascii_lowercase().as_str() {
                "x-forwarded-user" => user = Some(value),
                "x-forwarded-for" => forwarded_for = Some(value),
                _ => {}
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let page = match (method, path) {
        ("GET", "/dashboard") => dashboard(client, settings, user.as_deref(), forwarded_for),
        _ => Page {
            status: 404,
            body: "<!doctype html><p>Not found.</p>".to_owned(),
        },
    };
    let who = user.as_deref().unwrap_or("-");
    eprintln!("{method} {path} user={who} -> {}", page.status);
    respond(stream, &page)
}

/// The page for `user`: a ticket, redeemed by an iframe.
fn dashboard(
    client: &mut Client,
    settings: &Settings,
    user: Option<&str>,
    forwarded_for: Option<String>,
) -> Page {
    let Some(user) = user.filter(|u| !u.is_empty()) else {
        return Page {
            status: 401,
            body: "<!doctype html><p>Sign in first (no X-Forwarded-User).</p>".to_owned(),
        };
    };
    let mut request = TicketRequest::new(user).target_site(&settings.site);
    let browser_ip = forwarded_for
        .as_deref()
        .and_then(|list| list.split(',').next())
        .and_then(|first| first.trim().parse::<Ipv4Addr>().ok());
    if let Some(ip) = browser_ip {
        request = request.client_ip(ip);
    }
    match client.trusted_ticket(request) {
        Ok(ticket) => {
            let url = ticket.redemption_url(&settings.workbook, &settings.view);
            let src = format!("{}?:embed=yes&:showVizHome=no", url.expose_secret());
            Page {
                status: 200,
                body: format!(
                    "<!doctype html>\n<title>{view}</title>\n<iframe src=\"{src}\" width=\"1000\" \
                     height=\"800\"></iframe>\n",
                    view = html_escape(&settings.view),
                    src = html_escape(&src),
                ),
            }
        }
        // Tableau answered `-1`: the web server's IP is not trusted, or the user is unknown or
        // has no role on the site (the server log says which).
        Err(Error::Tableau(proto::Error::TicketRefused)) => Page {
            status: 403,
            body: "<!doctype html><p>Tableau would not issue a ticket for you.</p>".to_owned(),
        },
        Err(e) => {
            eprintln!("ticket request failed: {e}");
            Page {
                status: 502,
                body: "<!doctype html><p>Tableau is not reachable.</p>".to_owned(),
            }
        }
    }
}

fn respond(mut stream: TcpStream, page: &Page) -> std::io::Result<()> {
    let reason = match page.status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Bad Gateway",
    };
    write!(
        stream,
        "HTTP/1.1 {} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         Connection: close\r\n\r\n{}",
        page.status,
        page.body.len(),
        page.body
    )?;
    stream.flush()
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `GET /dashboard` on `addr` as `user` (what the proxy would send), returning status and body.
pub(crate) fn fetch_dashboard(addr: SocketAddr, user: Option<&str>) -> std::io::Result<Page> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let user_header = user.map_or_else(String::new, |u| format!("X-Forwarded-User: {u}\r\n"));
    write!(
        stream,
        "GET /dashboard HTTP/1.1\r\nHost: {addr}\r\n{user_header}\
         X-Forwarded-For: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Page {
        status,
        body: body.to_owned(),
    })
}

/// `text` with every ticket (the path segment after `/trusted/`) replaced by `****`.
pub(crate) fn mask_tickets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("/trusted/") {
        let (before, after) = rest.split_at(at + "/trusted/".len());
        out.push_str(before);
        out.push_str("****");
        let end = after.find(['/', '"', '?']).unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn main() {
    let mode = match parse_args(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(mode) => mode,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let result = match mode {
        Mode::Server(settings, listen) => TcpListener::bind(listen)
            .map_err(|e| format!("cannot listen on {listen}: {e}"))
            .and_then(|listener| {
                println!("serving http://{listen}/dashboard for {}", settings.server);
                run(listener, &settings, None).map_err(|e| e.to_string())
            })
            .map(|_| ()),
        Mode::Demo => demo::run().map_err(|e| e.to_string()),
    };
    if let Err(message) = result {
        eprintln!("{message}");
        std::process::exit(2);
    }
}

/// The demo: the fake Tableau server, this server on a free loopback port, one request.
pub(crate) mod demo {
    use std::net::TcpListener;

    use tableau_auth_tests::fake::{FakeConfig, FakeOptions, FakeServer, sample};

    use super::Settings;

    /// Settings for `fake`'s Default site.
    pub(crate) fn settings(fake: &FakeServer) -> Settings {
        Settings {
            server: fake.base_url().to_owned(),
            ca_pem: fake.ca_pem().map(|pem| pem.as_bytes().to_vec()),
            site: String::new(),
            workbook: "Superstore".to_owned(),
            view: "Overview".to_owned(),
        }
    }

    pub(crate) fn run() -> Result<(), Box<dyn std::error::Error>> {
        let fake = FakeServer::start_blocking(FakeConfig::sample(), FakeOptions::default())?;
        println!("(demo: fake Tableau server at {})", fake.base_url());
        let settings = settings(&fake);
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let server = std::thread::spawn(move || super::run(listener, &settings, Some(1)));
        let page = super::fetch_dashboard(addr, Some(sample::USER_NAME))?;
        server
            .join()
            .map_err(|_| "the web server panicked")?
            .map_err(|e| e.to_string())?;
        println!(
            "GET http://{addr}/dashboard as {} -> {}\n{}",
            sample::USER_NAME,
            page.status,
            super::mask_tickets(&page.body)
        );
        Ok(())
    }
}
