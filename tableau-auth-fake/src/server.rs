//! Listeners, connections and the per-request pipeline (log → fault → redirect → route).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, LOCATION, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::body::{BoxError, HugeBody, ResBody, TruncatedBody, full};
use super::clock::Clock;
use super::config::FakeConfig;
use super::control::{self, FakeControl};
use super::error::ControlError;
use super::faults::{self, Fault, FaultRule};
use super::handlers;
use super::log::{Listener, LoggedRequest};
use super::random;
use super::render::{Format, Rendered, render};
use super::reply::{ApiError, Reply};
use super::state::Core;
use super::sync::lock;
use super::tls::{self, CaFile, ServerCert};

/// Largest request body read (bigger ones get 400 400000).
const MAX_BODY: usize = 1024 * 1024;

/// How to start a [`FakeServer`]: [`FakeOptions::default`] (TLS and a redirect listener),
/// [`FakeOptions::plain`], [`FakeOptions::with_cert`], or [`FakeOptions::builder`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeOptions {
    /// Serve HTTPS (certificate from a CA generated at start) instead of plain HTTP.
    pub tls: bool,
    /// Also open a plain-HTTP listener that redirects every request to the main listener.
    pub redirect_listener: bool,
    /// Status the redirect listener answers with: 301 (default), 302, 303, 307 or 308.
    pub redirect_status: u16,
    /// Main listener port (0 = any free port).
    pub port: u16,
    /// Redirect listener port (0 = any free port).
    pub redirect_port: u16,
    /// The server certificate presented when [`tls`](Self::tls) is on: valid (the default) or
    /// deliberately broken, for certificate-check tests. Ignored without TLS.
    pub cert: ServerCert,
    /// Mutual TLS: the PEM of the CA whose certificates clients must present (a handshake
    /// without one, or with one it did not issue, fails). `None` (the default): no client
    /// certificate is asked for. Ignored without TLS.
    pub client_ca: Option<String>,
}

impl Default for FakeOptions {
    /// TLS on, redirect listener on (301), ports picked by the OS.
    fn default() -> Self {
        Self {
            tls: true,
            redirect_listener: true,
            redirect_status: 301,
            port: 0,
            redirect_port: 0,
            cert: ServerCert::Valid,
            client_ca: None,
        }
    }
}

impl FakeOptions {
    /// Plain HTTP, no redirect listener.
    pub fn plain() -> Self {
        Self {
            tls: false,
            redirect_listener: false,
            ..Self::default()
        }
    }

    /// TLS with the server certificate `cert` (see [`ServerCert`]), no redirect listener.
    pub fn with_cert(cert: ServerCert) -> Self {
        Self {
            redirect_listener: false,
            cert,
            ..Self::default()
        }
    }

    /// A builder starting from [`FakeOptions::default`] (TLS on, redirect listener on with
    /// 301, ports picked by the OS, a valid certificate).
    ///
    /// ```
    /// use tableau_auth_fake::FakeOptions;
    ///
    /// let options = FakeOptions::builder().redirect_listener(false).port(0).build();
    /// assert!(options.tls);
    /// ```
    pub fn builder() -> FakeOptionsBuilder {
        FakeOptionsBuilder {
            options: Self::default(),
        }
    }
}

/// Builds [`FakeOptions`] ([`FakeOptions::builder`]).
#[derive(Clone, Debug)]
#[must_use]
pub struct FakeOptionsBuilder {
    options: FakeOptions,
}

impl FakeOptionsBuilder {
    /// Serve HTTPS (certificate from a CA generated at start) or plain HTTP.
    pub fn tls(mut self, tls: bool) -> Self {
        self.options.tls = tls;
        self
    }

    /// Also open a plain-HTTP listener that redirects every request to the main listener.
    pub fn redirect_listener(mut self, on: bool) -> Self {
        self.options.redirect_listener = on;
        self
    }

    /// The redirect listener's status: 301, 302, 303, 307 or 308 (checked at start).
    pub fn redirect_status(mut self, status: u16) -> Self {
        self.options.redirect_status = status;
        self
    }

    /// Main listener port (0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.options.port = port;
        self
    }

    /// Redirect listener port (0: any free port).
    pub fn redirect_port(mut self, port: u16) -> Self {
        self.options.redirect_port = port;
        self
    }

    /// The server certificate presented over TLS (see [`ServerCert`]).
    pub fn cert(mut self, cert: ServerCert) -> Self {
        self.options.cert = cert;
        self
    }

    /// Mutual TLS: clients must present a certificate issued by the CA in `pem` (see
    /// [`FakeOptions::client_ca`]). A PEM that holds no usable CA fails the start.
    pub fn client_ca(mut self, pem: impl Into<String>) -> Self {
        self.options.client_ca = Some(pem.into());
        self
    }

    /// The options.
    #[must_use]
    pub fn build(self) -> FakeOptions {
        self.options
    }
}

/// State shared by the listeners, the connections and the control handle.
pub(crate) struct Shared {
    pub(crate) core: Mutex<Core>,
    pub(crate) clock: Clock,
    pub(crate) log: Mutex<Vec<LoggedRequest>>,
    next_seq: AtomicU64,
    pub(crate) faults: Mutex<Vec<FaultRule>>,
    pub(crate) redirect_status: AtomicU16,
    pub(crate) base_url: String,
    tls: bool,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    fn push_log(&self, mut entry: LoggedRequest) -> u64 {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        entry.seq = seq;
        lock(&self.log).push(entry);
        seq
    }

    fn set_status(&self, seq: u64, status: u16) {
        if let Some(e) = lock(&self.log).iter_mut().rev().find(|e| e.seq == seq) {
            e.status = Some(status);
        }
    }
}

/// Whether `status` is a redirect status the redirect listener may use.
pub(crate) fn valid_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// A running fake Tableau Server. Dropping it shuts it down.
pub struct FakeServer {
    shared: Arc<Shared>,
    base_url: String,
    redirect_url: Option<String>,
    ca_pem: Option<String>,
    ca_file: Option<CaFile>,
    shutdown: watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("base_url", &self.base_url)
            .field("redirect_url", &self.redirect_url)
            .finish_non_exhaustive()
    }
}

fn invalid(e: ControlError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

impl FakeServer {
    /// Binds `127.0.0.1` and serves on the current tokio runtime (needs the `net` and `time`
    /// drivers). Fails on an invalid config (version not `X.Y`, duplicates: an
    /// [`io::ErrorKind::InvalidInput`] error whose inner error, [`io::Error::get_ref`], is the
    /// [`ControlError`]), an invalid
    /// redirect status, or a bind error.
    pub async fn start(config: FakeConfig, options: FakeOptions) -> io::Result<Self> {
        let version = config.validate().map_err(invalid)?;
        if !valid_redirect(options.redirect_status) {
            return Err(invalid(ControlError::RedirectStatus(
                options.redirect_status,
            )));
        }
        let main = TcpListener::bind(("127.0.0.1", options.port)).await?;
        let port = main.local_addr()?.port();
        let scheme = if options.tls { "https" } else { "http" };
        let base_url = format!("{scheme}://127.0.0.1:{port}");
        let (acceptor, ca_pem, ca_file) = if options.tls {
            let material = tls::generate(options.cert, options.client_ca.as_deref())?;
            let file = CaFile::write(&material.ca_pem)?;
            (Some(material.acceptor), Some(material.ca_pem), Some(file))
        } else {
            (None, None, None)
        };
        let redirect = if options.redirect_listener {
            Some(TcpListener::bind(("127.0.0.1", options.redirect_port)).await?)
        } else {
            None
        };
        let redirect_url = match &redirect {
            Some(l) => Some(format!("http://127.0.0.1:{}", l.local_addr()?.port())),
            None => None,
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            core: Mutex::new(Core::new(config, version)),
            clock: Clock::new(),
            log: Mutex::new(Vec::new()),
            next_seq: AtomicU64::new(0),
            faults: Mutex::new(Vec::new()),
            redirect_status: AtomicU16::new(options.redirect_status),
            base_url: base_url.clone(),
            tls: options.tls,
            shutdown: shutdown_rx,
        });
        tokio::spawn(accept_loop(main, shared.clone(), Listener::Https, acceptor));
        if let Some(listener) = redirect {
            tokio::spawn(accept_loop(
                listener,
                shared.clone(),
                Listener::HttpRedirect,
                None,
            ));
        }
        Ok(Self {
            shared,
            base_url,
            redirect_url,
            ca_pem,
            ca_file,
            shutdown,
            runtime: None,
        })
    }

    /// Like [`start`](Self::start) but on a runtime of its own (2 worker threads), for blocking
    /// clients. May be called from any thread, including from inside another runtime.
    pub fn start_blocking(config: FakeConfig, options: FakeOptions) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-tableau")
            .enable_all()
            .build()?;
        let started = std::thread::scope(|scope| {
            scope
                .spawn(|| runtime.block_on(Self::start(config, options)))
                .join()
        });
        let mut server = started.map_err(|_| io::Error::other("fake server start panicked"))??;
        server.runtime = Some(runtime);
        Ok(server)
    }

    /// `https://127.0.0.1:PORT` (or `http://` without TLS), no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `http://127.0.0.1:PORT2` of the redirect listener, if enabled.
    pub fn http_redirect_url(&self) -> Option<&str> {
        self.redirect_url.as_deref()
    }

    /// PEM of the CA that signed the server certificate (TLS only). With a broken
    /// [`FakeOptions::cert`] it is still the CA a client would be given: for
    /// [`ServerCert::UnknownCa`] it is *not* the one that signed the certificate.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Path of a temp file holding [`ca_pem`](Self::ca_pem) (TLS only; removed on drop).
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_ref().map(CaFile::path)
    }

    /// The control handle (clock, config, faults, sessions, log).
    pub fn control(&self) -> FakeControl {
        FakeControl::new(self.shared.clone())
    }

    /// A copy of the request log.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Stops accepting, ends all connections (hanging requests included). Idempotent.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Resolves once shutdown is requested (or the server is gone).
pub(crate) async fn wait_shutdown(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    kind: Listener,
    acceptor: Option<TlsAcceptor>,
) {
    loop {
        let accepted = tokio::select! {
            () = wait_shutdown(shared.shutdown.clone()) => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, peer)) = accepted else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let stop = wait_shutdown(shared.shutdown.clone());
            let serve = async move {
                match acceptor {
                    Some(acceptor) => {
                        let handshake =
                            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                        if let Ok(Ok(tls)) = handshake.await {
                            serve_io(tls, shared, kind, peer).await;
                        }
                    }
                    None => serve_io(stream, shared, kind, peer).await,
                }
            };
            tokio::select! {
                () = serve => {}
                () = stop => {}
            }
        });
    }
}

async fn serve_io<I>(io: I, shared: Arc<Shared>, kind: Listener, peer: SocketAddr)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| handle(req, shared.clone(), kind, peer));
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service)
        .await;
}

fn response(status: u16, content_type: Option<&str>, body: ResBody) -> Response<ResBody> {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(c).ok()) {
        resp.headers_mut().insert(CONTENT_TYPE, ct);
    }
    resp
}

fn from_rendered(rendered: Rendered) -> Response<ResBody> {
    let mut resp = response(rendered.status, rendered.content_type, full(rendered.body));
    for (name, value) in rendered.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

fn wants_json(req: &http::request::Parts) -> bool {
    req.headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("application/json"))
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    kind: Listener,
    peer: SocketAddr,
) -> Result<Response<ResBody>, BoxError> {
    let (parts, body) = req.into_parts();
    let (body, too_large) = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => (collected.to_bytes(), false),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => (Bytes::new(), true),
        Err(e) => return Err(e),
    };
    if kind == Listener::Https && parts.uri.path().starts_with("/_fake/") {
        let (method, path) = (parts.method.as_str(), parts.uri.path());
        let reply = control::http(&shared, method, path, parts.uri.query(), &body);
        let format = Format {
            json: true,
            version: lock(&shared.core).version,
        };
        return Ok(from_rendered(render(&reply, format)));
    }

    let (seq, fault) = log_and_take_fault(&shared, kind, peer, &parts, &body);
    if let Some(fault) = fault {
        match fault {
            Fault::Delay(delay) => {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = wait_shutdown(shared.shutdown.clone()) => return Err("shut down".into()),
                }
            }
            Fault::Hang => {
                wait_shutdown(shared.shutdown.clone()).await;
                return Err("shut down while hanging".into());
            }
            Fault::DropConnection => return Err("connection dropped on purpose".into()),
            other => {
                let resp = fault_response(other, wants_json(&parts));
                shared.set_status(seq, resp.status().as_u16());
                return Ok(resp);
            }
        }
    }
    let resp = answer_normally(&shared, kind, peer, &parts, &body, too_large);
    shared.set_status(seq, resp.status().as_u16());
    Ok(resp)
}

/// Logs the request and takes the first fault rule that matches it.
fn log_and_take_fault(
    shared: &Shared,
    kind: Listener,
    peer: SocketAddr,
    parts: &http::request::Parts,
    body: &Bytes,
) -> (u64, Option<Fault>) {
    let mut headers = std::collections::BTreeMap::<String, String>::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let (method, path) = (parts.method.as_str(), parts.uri.path());
    let seq = shared.push_log(LoggedRequest {
        seq: 0,
        listener: kind,
        peer: peer.to_string(),
        method: method.to_owned(),
        path: path.to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers,
        body: body.to_vec(),
        at: shared.clock.now_system(),
        status: None,
    });
    (seq, faults::take(&mut lock(&shared.faults), method, path))
}

/// The answer of a listener when no fault applies: the redirect listener's redirect, or the
/// protocol handlers' reply.
fn answer_normally(
    shared: &Shared,
    kind: Listener,
    peer: SocketAddr,
    parts: &http::request::Parts,
    body: &Bytes,
    too_large: bool,
) -> Response<ResBody> {
    if kind == Listener::HttpRedirect {
        let status = shared.redirect_status.load(Ordering::Relaxed);
        let target = format!(
            "{}{}",
            shared.base_url,
            parts.uri.path_and_query().map_or("/", |p| p.as_str())
        );
        let mut resp = response(
            status,
            Some("text/html;charset=UTF-8"),
            full(format!(
                "<html><head><title>{status} Moved</title></head><body><a href=\"{target}\">moved</a></body></html>"
            )),
        );
        if let Ok(v) = HeaderValue::from_str(&target) {
            resp.headers_mut().insert(LOCATION, v);
        }
        return resp;
    }
    let now = shared.clock.now();
    let (reply, format) = {
        let mut core = lock(&shared.core);
        if too_large {
            let version = core.version;
            (
                Reply::from(ApiError::bad_request("the request body is too large")),
                Format {
                    json: false,
                    version,
                },
            )
        } else {
            let request = handlers::Request {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query(),
                headers: &parts.headers,
                body,
                peer: peer.ip(),
                now,
                tls: shared.tls,
            };
            handlers::route(&mut core, &request)
        }
    };
    from_rendered(render(&reply, format))
}

/// A body that is ready at once (every body the fake builds, except a hang), collected without
/// a runtime, at most `limit` bytes.
fn collect_ready(body: ResBody, limit: usize) -> Result<Vec<u8>, String> {
    use http_body::Body as _;
    let mut body = std::pin::pin!(body);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut bytes = Vec::new();
    loop {
        match body.as_mut().poll_frame(&mut cx) {
            std::task::Poll::Ready(None) => return Ok(bytes),
            std::task::Poll::Ready(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    let room = limit.saturating_sub(bytes.len());
                    bytes.extend_from_slice(&data[..data.len().min(room)]);
                    if bytes.len() >= limit {
                        return Ok(bytes);
                    }
                }
            }
            std::task::Poll::Ready(Some(Err(e))) => return Err(format!("the body failed: {e}")),
            std::task::Poll::Pending => return Err("the body is not ready".to_owned()),
        }
    }
}

impl FakeServer {
    /// Answers one request in process, with no socket, as the main listener would: logged,
    /// faults applied, the same handlers. For drivers on simulated time: a [`Fault::Delay`]
    /// advances the fake's clock instead of sleeping; [`Fault::Hang`],
    /// [`Fault::DropConnection`] and a truncated body are `Err` (what a transport reports).
    /// Bodies are cut at `limit` bytes.
    pub fn answer(
        &self,
        request: Request<Vec<u8>>,
        limit: usize,
    ) -> Result<Response<Vec<u8>>, String> {
        let shared = &self.shared;
        let (parts, body) = request.into_parts();
        let body = Bytes::from(body);
        let too_large = body.len() > MAX_BODY;
        let peer = SocketAddr::from(([127, 0, 0, 1], 0));
        let (seq, fault) = log_and_take_fault(shared, Listener::Https, peer, &parts, &body);
        let resp = match fault {
            None => answer_normally(shared, Listener::Https, peer, &parts, &body, too_large),
            Some(Fault::Delay(delay)) => {
                shared.clock.advance(delay);
                answer_normally(shared, Listener::Https, peer, &parts, &body, too_large)
            }
            Some(Fault::Hang) => return Err("the server never answered".to_owned()),
            Some(Fault::DropConnection) => return Err("the connection was dropped".to_owned()),
            Some(other) => fault_response(other, wants_json(&parts)),
        };
        shared.set_status(seq, resp.status().as_u16());
        let (parts, body) = resp.into_parts();
        Ok(Response::from_parts(parts, collect_ready(body, limit)?))
    }
}

fn fault_response(fault: Fault, json: bool) -> Response<ResBody> {
    let xml_or_json = if json {
        "application/json;charset=UTF-8"
    } else {
        "application/xml;charset=UTF-8"
    };
    match fault {
        Fault::Status {
            status,
            retry_after,
            body,
        } => {
            let body = body.unwrap_or_else(|| {
                format!(
                    "<!DOCTYPE html><html><head><title>{status}</title></head><body><h1>Error {status}</h1></body></html>"
                )
            });
            let trimmed = body.trim_start();
            let content_type = if trimmed.starts_with('{') {
                "application/json;charset=UTF-8"
            } else if trimmed.starts_with("<?xml") || trimmed.starts_with("<tsResponse") {
                "application/xml;charset=UTF-8"
            } else {
                "text/html;charset=UTF-8"
            };
            let mut resp = response(status, Some(content_type), full(body));
            if let Some(v) = retry_after.and_then(|r| HeaderValue::from_str(&r).ok()) {
                resp.headers_mut().insert(RETRY_AFTER, v);
            }
            resp
        }
        Fault::Redirect { status, location } => {
            let mut resp = response(
                status,
                Some("text/html;charset=UTF-8"),
                full(format!(
                    "<html><head><title>{status} Moved</title></head><body>moved</body></html>"
                )),
            );
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(LOCATION, v);
            }
            resp
        }
        Fault::Garbage => response(200, Some(xml_or_json), full(random::garbage(512))),
        Fault::Truncated => {
            let head: &'static [u8] = b"<?xml version='1.0' encoding='UTF-8'?><tsResponse xmlns=\"http://tableau.com/api\"><credentials token=\"";
            let mut resp = response(
                200,
                Some("application/xml;charset=UTF-8"),
                TruncatedBody::new(head).boxed(),
            );
            resp.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(head.len() as u64 + 4096));
            resp
        }
        Fault::Huge { bytes } => {
            let mut resp = response(
                200,
                Some("application/xml;charset=UTF-8"),
                HugeBody::new(bytes).boxed(),
            );
            resp.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(bytes));
            resp
        }
        Fault::LargeHead { bytes } => {
            let mut resp = response(
                200,
                Some("application/xml;charset=UTF-8"),
                full(
                    "<?xml version='1.0' encoding='UTF-8'?><tsResponse xmlns=\"http://tableau.com/api\"/>",
                ),
            );
            const CHUNK: usize = 4096;
            let (bytes, headers) = (bytes as usize, resp.headers_mut());
            for (n, start) in (0..bytes).step_by(CHUNK).enumerate() {
                let value = "p".repeat(CHUNK.min(bytes - start));
                if let (Ok(name), Ok(value)) = (
                    HeaderName::try_from(format!("x-fake-padding-{n}")),
                    HeaderValue::try_from(value),
                ) {
                    headers.insert(name, value);
                }
            }
            resp
        }
        // Handled by the caller; answer something sane if they ever get here.
        Fault::Delay(_) | Fault::DropConnection | Fault::Hang => {
            response(500, Some("text/plain"), full("fault"))
        }
    }
}
