//! TLS material generated at start: a self-signed CA and a leaf for `localhost` and
//! `127.0.0.1`, served with rustls on the ring provider. [`ServerCert`] picks a broken leaf
//! instead (expired, not yet valid, for another name, signed by a CA other than the published
//! one) for the certificate-check tests.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, date_time_ymd,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use serde::{Deserialize, Serialize};
use tokio_rustls::TlsAcceptor;

use super::random;

/// Which server certificate a TLS fake presents. In every case [`FakeServer::ca_pem`] is the
/// CA a client is meant to trust; only with [`ServerCert::Valid`] does that make the handshake
/// succeed.
///
/// [`FakeServer::ca_pem`]: super::FakeServer::ca_pem
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerCert {
    /// Signed by the published CA, for `localhost` and `127.0.0.1`, valid now (the default).
    #[default]
    Valid,
    /// Signed by the published CA, for the right names, but its validity ended in 2001.
    Expired,
    /// Signed by the published CA, for the right names, but valid only from 2090.
    NotYetValid,
    /// Signed by the published CA, valid now, but issued for `wrong-host.invalid` only (neither
    /// `localhost` nor `127.0.0.1`).
    WrongName,
    /// For the right names and valid now, but signed by a second, unpublished CA: a client that
    /// trusts the published CA sees an unknown issuer.
    UnknownCa,
}

/// The CA (PEM, written to a file) and the acceptor serving the leaf certificate.
pub(crate) struct TlsMaterial {
    pub(crate) ca_pem: String,
    pub(crate) acceptor: TlsAcceptor,
}

fn other<E: std::fmt::Display>(e: E) -> io::Error {
    io::Error::other(e.to_string())
}

/// A self-signed CA named `name`.
fn ca(name: &str) -> io::Result<(Certificate, Issuer<'static, KeyPair>)> {
    let key = KeyPair::generate().map_err(other)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).map_err(other)?;
    Ok((cert, Issuer::new(params, key)))
}

/// Generates a CA and a server certificate of the kind `choice` (signed by it, or for
/// [`ServerCert::UnknownCa`] by another CA that is served in the chain but not published).
/// With `client_ca` (a PEM), clients must present a certificate it issued.
pub(crate) fn generate(choice: ServerCert, client_ca: Option<&str>) -> io::Result<TlsMaterial> {
    let (ca_cert, ca_issuer) = ca("fake-tableau test CA")?;
    let rogue = match choice {
        ServerCert::UnknownCa => Some(ca("fake-tableau unpublished CA")?),
        _ => None,
    };
    let names = match choice {
        ServerCert::WrongName => vec!["wrong-host.invalid".to_owned()],
        _ => vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
    };
    let leaf_key = KeyPair::generate().map_err(other)?;
    let mut leaf = CertificateParams::new(names.clone()).map_err(other)?;
    leaf.distinguished_name.push(DnType::CommonName, &names[0]);
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    match choice {
        ServerCert::Expired => {
            leaf.not_before = date_time_ymd(2000, 1, 1);
            leaf.not_after = date_time_ymd(2001, 1, 1);
        }
        ServerCert::NotYetValid => {
            leaf.not_before = date_time_ymd(2090, 1, 1);
            leaf.not_after = date_time_ymd(2091, 1, 1);
        }
        _ => {}
    }
    let (leaf_cert, chain_ca) = match &rogue {
        Some((rogue_cert, rogue_issuer)) => (
            leaf.signed_by(&leaf_key, rogue_issuer).map_err(other)?,
            rogue_cert.der().clone(),
        ),
        None => (
            leaf.signed_by(&leaf_key, &ca_issuer).map_err(other)?,
            ca_cert.der().clone(),
        ),
    };

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(other)?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(cert.map_err(other)?).map_err(other)?;
            }
            if roots.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the client CA PEM holds no certificate",
                ));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(other)?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(
            vec![leaf_cert.der().clone(), chain_ca],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .map_err(other)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        ca_pem: ca_cert.pem(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    })
}

/// A PEM file in the temp directory, removed on drop.
#[derive(Debug)]
pub(crate) struct CaFile {
    path: PathBuf,
}

impl CaFile {
    pub(crate) fn write(pem: &str) -> io::Result<Self> {
        use std::io::Write as _;
        let dir = std::env::temp_dir();
        loop {
            let name = format!(
                "fake-tableau-ca-{}-{}.pem",
                std::process::id(),
                &random::token()[..12]
            );
            let path = dir.join(name);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    file.write_all(pem.as_bytes())?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
