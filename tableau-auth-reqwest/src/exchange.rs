//! The session's own exchanges (sign-in, sign-out, switch site, the version probe) over the
//! caller's reqwest client, bounded in time and in body size.

use std::time::Duration;

use tableau_auth_hyper::Error;
use tableau_auth_hyper::http::{Request, Response};
use tableau_auth_hyper::relay::{ExchangeFuture, Exchanger};

pub(crate) struct ReqwestExchanger {
    client: reqwest::Client,
    timeout: Duration,
}

impl ReqwestExchanger {
    pub(crate) fn new(client: reqwest::Client, timeout: Duration) -> Self {
        Self { client, timeout }
    }

    async fn send(
        &self,
        request: Request<Vec<u8>>,
        max_body: usize,
    ) -> Result<Response<Vec<u8>>, Error> {
        let request = reqwest::Request::try_from(request)
            .map_err(|e| Error::Transport(format!("the request could not be built: {e}")))?;
        let transport = |e: reqwest::Error| Error::Transport(chain(&e.without_url()));
        let mut response = self.client.execute(request).await.map_err(transport)?;
        let too_large =
            || Error::Tableau(tableau_auth_hyper::proto::Error::TooLarge { limit: max_body });
        if response
            .content_length()
            .is_some_and(|n| n > max_body as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let mut answer = Response::new(body);
        *answer.status_mut() = response.status();
        *answer.headers_mut() = std::mem::take(response.headers_mut());
        Ok(answer)
    }
}

/// An error and its causes on one line ("error sending request: … : invalid peer certificate:
/// UnknownIssuer"): reqwest's own text names none of them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

impl Exchanger for ReqwestExchanger {
    fn exchange(&self, request: Request<Vec<u8>>, max_body: usize) -> ExchangeFuture<'_> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.send(request, max_body))
                .await
                .unwrap_or(Err(Error::Timeout {
                    phase: "exchange",
                    limit: self.timeout,
                }))
        })
    }
}
