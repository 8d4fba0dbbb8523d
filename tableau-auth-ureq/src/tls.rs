//! TLS settings: built-in roots, a CA file, a client certificate, or — loudly named — none.

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig, parse_pem};

use crate::Error;

/// How the client checks the server's certificate and proves its own.
#[derive(Clone, Default)]
pub(crate) struct TlsOptions {
    pub(crate) ca_pem: Option<Vec<u8>>,
    pub(crate) client_cert_pem: Option<(Vec<u8>, Vec<u8>)>,
    pub(crate) danger_accept_invalid_certs: bool,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca_pem", &self.ca_pem.as_ref().map(|p| p.len()))
            .field("client_cert", &self.client_cert_pem.is_some())
            .field(
                "danger_accept_invalid_certs",
                &self.danger_accept_invalid_certs,
            )
            .finish()
    }
}

impl TlsOptions {
    pub(crate) fn to_ureq(&self) -> Result<TlsConfig, Error> {
        let mut builder = TlsConfig::builder();
        if let Some(pem) = &self.ca_pem {
            let certs = certificates(pem)?;
            if certs.is_empty() {
                return Err(Error::Config("the CA file holds no certificate".to_owned()));
            }
            builder = builder.root_certs(RootCerts::new_with_certs(&certs));
        }
        if let Some((chain, key)) = &self.client_cert_pem {
            let chain = certificates(chain)?;
            let key = PrivateKey::from_pem(key)
                .map_err(|e| Error::Config(format!("bad client key PEM: {e}")))?;
            builder = builder.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
        }
        if self.danger_accept_invalid_certs {
            builder = builder.disable_verification(true);
        }
        Ok(builder.build())
    }
}

fn certificates(pem: &[u8]) -> Result<Vec<Certificate<'static>>, Error> {
    let mut certs = Vec::new();
    for item in parse_pem(pem) {
        if let PemItem::Certificate(c) = item.map_err(|e| Error::Config(format!("bad PEM: {e}")))? {
            certs.push(c);
        }
    }
    Ok(certs)
}
