//! TLS settings: built-in roots (plus a CA file's), a client certificate, or — loudly named —
//! none.

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig, parse_pem};
use zeroize::Zeroizing;

use crate::Error;

/// How the client checks the server's certificate and proves its own.
#[derive(Clone)]
pub(crate) struct TlsOptions {
    /// PEM files of private CAs, trusted besides (or instead of) the built-in roots.
    pub(crate) ca_pem: Vec<Vec<u8>>,
    /// Whether Mozilla's roots are trusted.
    pub(crate) built_in_roots: bool,
    /// The chain and the private key (wiped on drop), as PEM.
    pub(crate) client_cert_pem: Option<(Vec<u8>, Zeroizing<Vec<u8>>)>,
    pub(crate) danger_accept_invalid_certs: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            ca_pem: Vec::new(),
            built_in_roots: true,
            client_cert_pem: None,
            danger_accept_invalid_certs: false,
        }
    }
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca_pem_files", &self.ca_pem.len())
            .field("built_in_roots", &self.built_in_roots)
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
        let mut own = Vec::new();
        for pem in &self.ca_pem {
            let certs = certificates(pem)?;
            if certs.is_empty() {
                return Err(Error::Config("the CA file holds no certificate".to_owned()));
            }
            own.extend(certs);
        }
        match (self.built_in_roots, own.is_empty()) {
            // ureq's default: the same webpki roots, without copying them.
            (true, true) => {}
            // Added to the built-in Mozilla roots, not in their place, as the async client does.
            (true, false) => {
                let mut roots = mozilla_roots();
                roots.extend(own);
                builder = builder.root_certs(RootCerts::from(roots));
            }
            (false, false) => builder = builder.root_certs(RootCerts::from(own)),
            (false, true) if !self.danger_accept_invalid_certs => {
                return Err(Error::Config(
                    "no root to trust: the built-in roots are off and no CA file was given"
                        .to_owned(),
                ));
            }
            (false, true) => {}
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

/// Mozilla's roots (webpki), as certificates ureq's `RootCerts` takes.
fn mozilla_roots() -> Vec<Certificate<'static>> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()))
        .collect()
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
