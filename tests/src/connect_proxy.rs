//! A tiny HTTP `CONNECT` proxy for the adapters' proxy tests, over loopback only: it reads the
//! request head, records it, connects to the target on 127.0.0.1 (or localhost), answers
//! `200 Connection established` and copies bytes both ways, recording them. The fake Tableau
//! server speaks TLS, so what the proxy copies is TLS: it must never see a password, a token or
//! a JWT. Other modes refuse (`407`), close, or never answer.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::fake::FakeServer;

/// What the test proxy does with a `CONNECT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Opens the tunnel to 127.0.0.1 / localhost targets.
    Tunnel,
    /// Answers `407 Proxy Authentication Required`.
    Refuse407,
    /// Closes the connection without answering.
    Close,
    /// Reads the head and never answers.
    Silent,
}

#[derive(Default)]
struct Seen {
    /// Every request head, as text.
    heads: Vec<String>,
    /// Every byte copied through the tunnels, both directions.
    copied: Vec<u8>,
}

pub struct ConnectProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ConnectProxy {
    /// Starts one on a free loopback port, on the current tokio runtime.
    pub async fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, mode, log.clone()));
            }
        });
        Self { addr, seen, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request head it read, as text.
    pub fn heads(&self) -> Vec<String> {
        self.seen.lock().expect("the proxy log").heads.clone()
    }

    /// Every byte it copied through its tunnels, both directions.
    pub fn copied(&self) -> Vec<u8> {
        self.seen.lock().expect("the proxy log").copied.clone()
    }
}

async fn serve(mut client: TcpStream, mode: Mode, log: Arc<Mutex<Seen>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 || !matches!(client.read(&mut byte).await, Ok(1)) {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    log.lock().expect("the proxy log").heads.push(head.clone());
    match mode {
        Mode::Tunnel => {}
        Mode::Refuse407 => {
            let _ = client
                .write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                      proxy-authenticate: Basic realm=\"corp\"\r\ncontent-length: 0\r\n\r\n",
                )
                .await;
            return;
        }
        Mode::Close => return,
        Mode::Silent => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
    }
    let line = head.lines().next().unwrap_or_default();
    let mut words = line.split(' ');
    let target = match (words.next(), words.next()) {
        (Some("CONNECT"), Some(target))
            if target.starts_with("127.0.0.1:") || target.starts_with("localhost:") =>
        {
            target.to_owned()
        }
        _ => {
            let _ = client
                .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
                .await;
            return;
        }
    };
    let Ok(upstream) = TcpStream::connect(&target).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    tokio::join!(
        copy(client_read, upstream_write, &log),
        copy(upstream_read, client_write, &log),
    );
}

/// Copies until either side closes, recording the bytes.
async fn copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    log: &Mutex<Seen>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        log.lock()
            .expect("the proxy log")
            .copied
            .extend_from_slice(&buf[..n]);
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Whether `needle` occurs in `haystack` (bytes a proxy copied).
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
}

/// The user name the tests put in a proxy URL.
pub const PROXY_USER: &str = "proxy-user";
/// The proxy password, percent-encoded in the URL (`@` is `%40`).
pub const PROXY_PASSWORD: &str = "pr@xy-pass";
/// [`PROXY_PASSWORD`] as it appears in the URL.
pub const PROXY_PASSWORD_ENCODED: &str = "pr%40xy-pass";
/// `base64("proxy-user:pr@xy-pass")`.
pub const PROXY_BASIC: &str = "cHJveHktdXNlcjpwckB4eS1wYXNz";

/// Every form of the proxy's password.
pub fn proxy_secrets() -> [&'static str; 3] {
    [PROXY_PASSWORD, PROXY_PASSWORD_ENCODED, PROXY_BASIC]
}

/// The fake's `host:port`.
pub fn target(fake: &FakeServer) -> String {
    fake.base_url()
        .strip_prefix("https://")
        .expect("an https fake")
        .trim_end_matches('/')
        .to_owned()
}
