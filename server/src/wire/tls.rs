//! TLS for the PostgreSQL listener: the rustls acceptor pgwire negotiates with (after an
//! `SSLRequest`, or directly for PostgreSQL 17's `sslnegotiation=direct`).
//!
//! The crypto provider is named (ring) rather than left to rustls' process default: both ring
//! and aws-lc-rs are in the dependency tree, and with both compiled in
//! `ServerConfig::builder()` panics for want of a default.

use std::path::Path;
use std::sync::Arc;

use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::tokio_rustls::rustls;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The ALPN protocol name PostgreSQL clients send; without it a direct-TLS client
/// (`sslnegotiation=direct`) is dropped by pgwire.
const POSTGRESQL_ALPN: &[u8] = b"postgresql";

/// What TLS needs at start: the acceptor, and the PEM of the certificate chain for
/// SCRAM-SHA-256-PLUS channel binding.
pub struct TlsSetup {
    pub acceptor: TlsAcceptor,
    pub cert_pem: Vec<u8>,
}

/// Loads `cert` (a PEM chain, leaf first) and `key`; the error is the sentence the operator
/// sees.
pub fn load(cert: &Path, key: &Path) -> Result<TlsSetup, String> {
    let cert_pem = std::fs::read(cert)
        .map_err(|e| format!("cannot read --tls-cert {}: {e}", cert.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            format!(
                "--tls-cert {} is not a PEM certificate chain: {e}",
                cert.display()
            )
        })?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert {} holds no certificate",
            cert.display()
        ));
    }
    let key_pem =
        std::fs::read(key).map_err(|e| format!("cannot read --tls-key {}: {e}", key.display()))?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("--tls-key {} is not a PEM private key: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| format!("--tls-cert and --tls-key do not make a usable pair: {e}"))?;
    config.alpn_protocols = vec![POSTGRESQL_ALPN.to_vec()];
    Ok(TlsSetup {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        cert_pem,
    })
}
