//! The stand-in's TLS: a certificate authority made at start-up, and a
//! certificate it signs for `127.0.0.1` and `localhost`. The real Azure CLI
//! trusts the authority through `REQUESTS_CA_BUNDLE`; MSAL and az refuse
//! plain HTTP for tokens, so TLS is not optional.

use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The authority's certificate (PEM, for the client) and the server's TLS configuration.
pub struct Tls {
    pub ca_pem: String,
    pub server: Arc<ServerConfig>,
}

fn tls_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("cannot make the stand-in's certificates: {e}"))
}

pub fn generate() -> io::Result<Tls> {
    let ca_key = KeyPair::generate().map_err(tls_error)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "goldsmith Azure stand-in CA");
    let ca_cert = ca.self_signed(&ca_key).map_err(tls_error)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(tls_error)?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).map_err(tls_error)?;
    leaf.subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    leaf.distinguished_name
        .push(DnType::CommonName, "goldsmith Azure stand-in");
    let cert = leaf.signed_by(&key, &issuer).map_err(tls_error)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_single_cert(
            vec![
                CertificateDer::from(cert.der().to_vec()),
                CertificateDer::from(ca_cert.der().to_vec()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .map_err(tls_error)?;
    Ok(Tls {
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
    })
}
