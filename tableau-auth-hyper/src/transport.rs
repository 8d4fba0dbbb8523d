//! The transport: hyper-util's pooled legacy client over hyper-rustls, with a limit on connecting,
//! on waiting for the response head, on the whole exchange (body included), and on the body size.
//! Under TLS, the connection is a direct TCP connection or, with a proxy, hyper-util's HTTP
//! `CONNECT` tunnel ([`Tunnel`]) through that proxy.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client as LegacyClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tableau_auth_proto::http::header::{CONTENT_LENGTH, HeaderValue};
use tableau_auth_proto::http::{Request, Response, Uri};
use tokio::net::TcpStream;

use crate::Error;
use crate::error::Limits;
use crate::tls::TlsOptions;

/// The largest response head taken, as the blocking client's (32 KiB): hyper itself reads
/// heads of up to about 400 KiB, and the client refuses what it read past this.
pub(crate) const MAX_RESPONSE_HEAD: usize = 32 * 1024;

/// Refuses a response whose header lines (`name: value\r\n` each, as sent) are past
/// [`MAX_RESPONSE_HEAD`].
pub(crate) fn check_head(headers: &tableau_auth_proto::http::HeaderMap) -> Result<(), Error> {
    let size: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size > MAX_RESPONSE_HEAD {
        return Err(Error::head_too_large());
    }
    Ok(())
}

/// The pooled hyper client the adapter sends with: HTTP/1.1 over rustls (ring), `http://` or
/// `https://`, never following redirects, directly or through the builder's proxy
/// ([`crate::ClientBuilder::proxy`]). Clone it to send your own requests over the same pool (for
/// instance under [`crate::TableauAuthLayer`]).
pub type HyperClient = LegacyClient<HttpsConnector<ProxyConnector>, Full<Bytes>>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An HTTP proxy reached over plain TCP, parsed from `http://[user:password@]host[:port]`.
/// The credentials only live on as a `Proxy-Authorization: Basic` header value marked sensitive;
/// `Debug` shows the host and port, and whether there are credentials.
#[derive(Clone)]
pub(crate) struct Proxy {
    /// `http://host:port/`, without the credentials.
    uri: Uri,
    auth: Option<HeaderValue>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("at", &self.authority())
            .field("credentials", &self.auth.is_some())
            .finish()
    }
}

impl Proxy {
    /// Parses a proxy URL. The error never repeats the URL (it may hold a password).
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        const SHAPE: &str = "expected http://[user:password@]host[:port]";
        let url = url.trim();
        let uri: Uri = url
            .parse()
            .map_err(|_| format!("the proxy URL is not a valid URL; {SHAPE}"))?;
        match uri.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => {}
            Some(_) => {
                return Err(format!(
                    "only an HTTP proxy reached over plain TCP is supported (no https:// or \
                     socks proxy); {SHAPE}"
                ));
            }
            None => return Err(format!("the proxy URL has no scheme; {SHAPE}")),
        }
        let Some(authority) = uri.authority() else {
            return Err(format!("the proxy URL has no host; {SHAPE}"));
        };
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!("the proxy URL has a path or a query; {SHAPE}"));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(format!("the proxy URL has no host; {SHAPE}"));
        }
        let port = authority.port_u16().unwrap_or(80);
        let clean = Uri::builder()
            .scheme("http")
            .authority(format!("{host}:{port}"))
            .path_and_query("/")
            .build()
            .map_err(|_| format!("the proxy URL has an invalid host; {SHAPE}"))?;
        let auth = if authority.as_str().contains('@') {
            // hyper-util's proxy matcher percent-decodes the user and the password and encodes
            // them as `Basic` (a header value marked sensitive).
            let matcher = Matcher::builder().http(url).build();
            let intercept = matcher.intercept(&Uri::from_static("http://tableau.invalid/"));
            let Some(header) = intercept.as_ref().and_then(|i| i.basic_auth()) else {
                return Err(format!(
                    "the proxy URL's credentials could not be read; {SHAPE}"
                ));
            };
            let mut header = header.clone();
            header.set_sensitive(true);
            Some(header)
        } else {
            None
        };
        Ok(Self { uri: clean, auth })
    }

    /// `host:port` of the proxy.
    fn authority(&self) -> &str {
        self.uri.authority().map_or("", |a| a.as_str())
    }
}

/// The connector under TLS: a direct TCP connection to the server (hyper-util's
/// `HttpConnector`), or — with [`crate::ClientBuilder::proxy`] — a TCP connection to the proxy
/// turned into a tunnel to the server by an HTTP `CONNECT` (hyper-util's [`Tunnel`]), over which
/// TLS then runs end to end with the server. The connect timeout covers the TCP connection to the
/// proxy and the `CONNECT` exchange together.
#[derive(Clone)]
pub struct ProxyConnector {
    route: Route,
}

#[derive(Clone)]
enum Route {
    Direct(HttpConnector),
    Tunnel(Box<Tunnelled>),
}

#[derive(Clone)]
struct Tunnelled {
    tunnel: Tunnel<HttpConnector>,
    proxy: Uri,
    credentials: bool,
    timeout: Duration,
}

impl std::fmt::Debug for ProxyConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.route {
            Route::Direct(_) => f.debug_struct("ProxyConnector").finish_non_exhaustive(),
            Route::Tunnel(t) => f
                .debug_struct("ProxyConnector")
                .field("proxy", &t.proxy.authority().map_or("", |a| a.as_str()))
                .field("credentials", &t.credentials)
                .field("timeout", &t.timeout)
                .finish_non_exhaustive(),
        }
    }
}

impl ProxyConnector {
    fn new(http: HttpConnector, proxy: Option<&Proxy>, timeout: Duration) -> Self {
        let route = match proxy {
            None => Route::Direct(http),
            Some(proxy) => {
                let mut tunnel = Tunnel::new(proxy.uri.clone(), http);
                if let Some(auth) = &proxy.auth {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Route::Tunnel(Box::new(Tunnelled {
                    tunnel,
                    proxy: proxy.uri.clone(),
                    credentials: proxy.auth.is_some(),
                    timeout,
                }))
            }
        };
        Self { route }
    }
}

/// The destination with its port spelled out: hyper-util's tunnel assumes 443 when there is
/// none, which is wrong for `http://`.
fn with_port(dst: Uri) -> Result<Uri, BoxError> {
    if dst.port().is_some() {
        return Ok(dst);
    }
    let https = dst.scheme_str() == Some("https");
    let host = dst.host().ok_or("the URL has no host")?;
    let port = if https { 443 } else { 80 };
    Ok(Uri::builder()
        .scheme(if https { "https" } else { "http" })
        .authority(format!("{host}:{port}"))
        .path_and_query("/")
        .build()?)
}

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match &mut self.route {
            Route::Direct(http) => http.poll_ready(cx).map_err(Into::into),
            Route::Tunnel(t) => t.tunnel.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        match &mut self.route {
            Route::Direct(http) => {
                let connecting = http.call(dst);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
            Route::Tunnel(t) => {
                let limit = t.timeout;
                let tunnelling = with_port(dst).map(|dst| t.tunnel.call(dst));
                Box::pin(async move {
                    match tokio::time::timeout(limit, tunnelling?).await {
                        Ok(result) => result.map_err(Into::into),
                        Err(_) => Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "connecting through the proxy timed out",
                        )
                        .into()),
                    }
                })
            }
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Transport {
    pub(crate) client: HyperClient,
    pub(crate) limits: Limits,
}

impl Transport {
    /// A transport connecting directly, or through `proxy`.
    pub(crate) fn with_proxy(
        tls: &TlsOptions,
        proxy: Option<&Proxy>,
        limits: Limits,
        pool_idle_timeout: Duration,
        pool_max_idle_per_host: usize,
    ) -> Result<Self, Error> {
        let mut http = HttpConnector::new();
        // The https connector decides the scheme; the core decides whether plain http is allowed.
        http.enforce_http(false);
        http.set_connect_timeout(Some(limits.connect));
        http.set_nodelay(true);
        let connector = ProxyConnector::new(http, proxy, limits.connect);
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls.client_config()?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        // hyper-util never follows redirects: the core decides (docs/protocol.md, "Redirects").
        let client = LegacyClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(pool_idle_timeout)
            .pool_max_idle_per_host(pool_max_idle_per_host)
            .build(https);
        Ok(Self { client, limits })
    }

    /// One request of the core, with the body read up to `max_body`.
    pub(crate) async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        self.send_full(request.map(|body| Full::new(Bytes::from(body))))
            .await
    }

    /// One request, bounded in time (connect, head, whole exchange) and in body size.
    pub(crate) async fn send_full(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Vec<u8>>, Error> {
        let limits = self.limits;
        let exchange = async {
            let head = tokio::time::timeout(limits.read, self.client.request(request));
            let response = match head.await {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => return Err(Error::from_client(&e, &limits)),
                Err(_) => {
                    return Err(Error::Timeout {
                        phase: "response headers",
                        limit: limits.read,
                    });
                }
            };
            let (parts, body) = response.into_parts();
            check_head(&parts.headers)?;
            // A body announced as too large is refused unread.
            let announced = parts
                .headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if announced.is_some_and(|n| n > limits.max_body as u64) {
                return Err(Error::Tableau(tableau_auth_proto::Error::TooLarge {
                    limit: limits.max_body,
                }));
            }
            let bytes = Limited::new(body, limits.max_body)
                .collect()
                .await
                .map_err(|e| Error::from_body(&*e, &limits))?
                .to_bytes();
            Ok(Response::from_parts(parts, Vec::from(bytes)))
        };
        match tokio::time::timeout(limits.exchange, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                phase: "exchange",
                limit: limits.exchange,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_url_keeps_only_host_port_and_a_sensitive_basic_header() {
        let proxy = Proxy::parse("http://svc:s3cr%40t@proxy.corp:3128").unwrap();
        assert_eq!(proxy.uri, "http://proxy.corp:3128/");
        let auth = proxy.auth.as_ref().unwrap();
        assert!(auth.is_sensitive());
        // base64("svc:s3cr@t")
        assert_eq!(auth, "Basic c3ZjOnMzY3JAdA==");
        let debug = format!("{proxy:?}");
        assert!(
            debug.contains("proxy.corp:3128") && !debug.contains("s3cr"),
            "{debug}"
        );

        let proxy = Proxy::parse(" HTTP://proxy.corp ").unwrap();
        assert_eq!(proxy.uri, "http://proxy.corp:80/");
        assert!(proxy.auth.is_none());
        assert!(Proxy::parse("https://proxy.corp:3128").is_err());
    }

    #[test]
    fn a_tunnel_target_always_has_a_port() {
        let port = |url: &str| with_port(url.parse().unwrap()).unwrap().port_u16();
        assert_eq!(port("https://tableau.example.com/api/3.25/"), Some(443));
        assert_eq!(port("http://tableau.example.com/"), Some(80));
        assert_eq!(port("https://tableau.example.com:8443/x"), Some(8443));
        let ipv6 = with_port("https://[::1]/".parse().unwrap()).unwrap();
        assert_eq!(ipv6.authority().unwrap().as_str(), "[::1]:443");
    }

    #[test]
    fn the_connector_debug_shows_the_proxy_not_its_credentials() {
        let proxy = Proxy::parse("http://svc:s3cr3t@127.0.0.1:3128").unwrap();
        let connector =
            ProxyConnector::new(HttpConnector::new(), Some(&proxy), Duration::from_secs(1));
        let debug = format!("{connector:?}");
        assert!(
            debug.contains("127.0.0.1:3128") && !debug.contains("s3cr3t"),
            "{debug}"
        );
        assert!(!debug.contains("c3ZjOnMzY3IzdA"), "{debug}");
    }
}
