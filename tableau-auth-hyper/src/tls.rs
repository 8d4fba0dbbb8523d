//! TLS settings: the built-in webpki roots plus extra CAs, a client certificate, or — loudly
//! named — no verification at all. One crypto backend: ring.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use zeroize::Zeroizing;

use crate::Error;

/// How the client checks the server's certificate and proves its own.
#[derive(Clone)]
pub(crate) struct TlsOptions {
    pub(crate) built_in_roots: bool,
    pub(crate) ca_pem: Vec<Vec<u8>>,
    /// The chain and the private key (wiped on drop), as PEM.
    pub(crate) client_cert_pem: Option<(Vec<u8>, Zeroizing<Vec<u8>>)>,
    pub(crate) danger_accept_invalid_certs: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            built_in_roots: true,
            ca_pem: Vec::new(),
            client_cert_pem: None,
            danger_accept_invalid_certs: false,
        }
    }
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("built_in_roots", &self.built_in_roots)
            .field("ca_pem_files", &self.ca_pem.len())
            .field("client_cert", &self.client_cert_pem.is_some())
            .field(
                "danger_accept_invalid_certs",
                &self.danger_accept_invalid_certs,
            )
            .finish()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsOptions {
    /// The root store: the Mozilla roots of `webpki-roots` (unless turned off) **plus** every
    /// certificate of every `ca_pem`.
    pub(crate) fn root_store(&self) -> Result<RootCertStore, Error> {
        let mut roots = RootCertStore::empty();
        if self.built_in_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for pem in &self.ca_pem {
            let certs = certificates(pem)?;
            if certs.is_empty() {
                return Err(Error::Config("a CA PEM holds no certificate".to_owned()));
            }
            let (added, ignored) = roots.add_parsable_certificates(certs);
            if added == 0 || ignored > 0 {
                return Err(Error::Config(format!(
                    "a CA PEM holds {ignored} certificate(s) that cannot be used as a root"
                )));
            }
        }
        if roots.is_empty() && !self.danger_accept_invalid_certs {
            return Err(Error::Config(
                "no trusted roots: built-in roots are off and no CA PEM was given".to_owned(),
            ));
        }
        Ok(roots)
    }

    /// The rustls client configuration (ring provider, TLS 1.2 and 1.3).
    pub(crate) fn client_config(&self) -> Result<ClientConfig, Error> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS: {e}")))?;
        let builder = if self.danger_accept_invalid_certs {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate {
                    algorithms: provider.signature_verification_algorithms,
                }))
        } else {
            builder.with_root_certificates(self.root_store()?)
        };
        let config = match &self.client_cert_pem {
            Some((chain, key)) => {
                let chain = certificates(chain)?;
                if chain.is_empty() {
                    return Err(Error::Config(
                        "the client certificate PEM holds no certificate".to_owned(),
                    ));
                }
                let key = PrivateKeyDer::from_pem_slice(key)
                    .map_err(|e| Error::Config(format!("bad client key PEM: {e}")))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| Error::Config(format!("unusable client certificate: {e}")))?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(config)
    }
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("bad PEM: {e}")))
}

/// Accepts any server certificate (but still checks that the handshake is signed by the key in
/// it, so that the connection is at least consistent). Only built by
/// `danger_accept_invalid_certs(true)`.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn extra_roots_are_added_to_the_built_in_ones() {
        let built_in = webpki_roots::TLS_SERVER_ROOTS.len();
        let mut options = TlsOptions::default();
        assert_eq!(options.root_store().unwrap().len(), built_in);
        options.ca_pem.push(ca_pem().into_bytes());
        assert_eq!(options.root_store().unwrap().len(), built_in + 1);
        options.built_in_roots = false;
        assert_eq!(options.root_store().unwrap().len(), 1);
        options.ca_pem.clear();
        assert!(options.root_store().is_err(), "no roots at all is refused");
        assert!(options.client_config().is_err());
    }

    #[test]
    fn bad_pems_are_config_errors() {
        let options = TlsOptions {
            ca_pem: vec![b"not a pem".to_vec()],
            ..TlsOptions::default()
        };
        assert!(matches!(options.root_store(), Err(Error::Config(_))));
        let options = TlsOptions {
            client_cert_pem: Some((ca_pem().into_bytes(), b"no key".to_vec().into())),
            ..TlsOptions::default()
        };
        assert!(matches!(options.client_config(), Err(Error::Config(_))));
    }

    #[test]
    fn a_client_certificate_is_accepted() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["client.example".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let options = TlsOptions {
            client_cert_pem: Some((
                cert.pem().into_bytes(),
                key.serialize_pem().into_bytes().into(),
            )),
            ..TlsOptions::default()
        };
        assert!(
            options
                .client_config()
                .unwrap()
                .client_auth_cert_resolver
                .has_certs()
        );
    }

    #[test]
    fn the_dangerous_verifier_needs_no_roots() {
        let options = TlsOptions {
            built_in_roots: false,
            danger_accept_invalid_certs: true,
            ..TlsOptions::default()
        };
        assert!(options.client_config().is_ok());
    }
}
