//! The transport: hyper-util's pooled legacy client over hyper-rustls, with a limit on connecting,
//! on waiting for the response head, on the whole exchange (body included), and on the body size.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client as LegacyClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tableau_auth_proto::http::header::CONTENT_LENGTH;
use tableau_auth_proto::http::{Request, Response};

use crate::Error;
use crate::error::Limits;
use crate::tls::TlsOptions;

/// The pooled hyper client the adapter sends with: HTTP/1.1 over rustls (ring), `http://` or
/// `https://`, never following redirects. Clone it to send your own requests over the same pool
/// (for instance under [`crate::TableauAuthLayer`]).
pub type HyperClient = LegacyClient<HttpsConnector<HttpConnector>, Full<Bytes>>;

#[derive(Clone, Debug)]
pub(crate) struct Transport {
    pub(crate) client: HyperClient,
    pub(crate) limits: Limits,
}

impl Transport {
    pub(crate) fn new(
        tls: &TlsOptions,
        limits: Limits,
        pool_idle_timeout: Duration,
        pool_max_idle_per_host: usize,
    ) -> Result<Self, Error> {
        let mut http = HttpConnector::new();
        // The https connector decides the scheme; the core decides whether plain http is allowed.
        http.enforce_http(false);
        http.set_connect_timeout(Some(limits.connect));
        http.set_nodelay(true);
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls.client_config()?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        // hyper-util never follows redirects: the core decides (protocol §12).
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
