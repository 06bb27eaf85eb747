//! The simulator's TLS identity: a certificate authority and a server certificate generated at
//! start (rcgen), or a certificate and key given as PEM.
//!
//! A client trusts the simulator either through the CA ([`TlsIdentity::ca_pem`], for a
//! `ca_file`) or by pinning the SHA-256 fingerprint of the server's own end-entity certificate
//! ([`TlsIdentity::fingerprint`], `AB:CD:...`).

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

/// Why the TLS identity could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Generating a key or certificate failed.
    #[error("could not generate the simulator's certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The certificate PEM holds no certificate, or is malformed.
    #[error("the certificate file holds no readable PEM certificate: {0}")]
    CertPem(String),
    /// The key PEM holds no private key, or is malformed.
    #[error("the key file holds no readable PEM private key (PKCS#8, PKCS#1 or SEC1): {0}")]
    KeyPem(String),
    /// rustls refused the certificate and key.
    #[error("the certificate and key do not make a TLS server configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The server's certificate chain, key and the ways a client can trust it.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    /// A rustls server configuration (ring provider, TLS 1.2 and 1.3, ALPN `http/1.1`).
    pub server_config: Arc<rustls::ServerConfig>,
    /// The generated CA's certificate (PEM); `None` when the certificate was given.
    pub ca_pem: Option<String>,
    /// The server's end-entity certificate (DER).
    pub cert_der: CertificateDer<'static>,
    /// The SHA-256 fingerprint of the end-entity certificate, `AB:CD:...`.
    pub fingerprint: String,
}

/// The SHA-256 fingerprint of a DER certificate as upper-case hex pairs joined by colons.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

impl TlsIdentity {
    /// Generates a CA and a server certificate for `127.0.0.1`, `::1`, `localhost` and the
    /// extra `hosts` (names or addresses; unspecified addresses such as `0.0.0.0` are skipped).
    pub fn generate(hosts: &[String]) -> Result<TlsIdentity, TlsError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "ipo-top simulator CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let mut sans: Vec<String> = vec!["127.0.0.1".into(), "::1".into(), "localhost".into()];
        for h in hosts {
            let h = h.trim_start_matches('[').trim_end_matches(']');
            let unspecified = h.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
            if !h.is_empty() && !unspecified && !sans.iter().any(|s| s == h) {
                sans.push(h.to_string());
            }
        }
        let mut params = CertificateParams::new(sans)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "ipo-top simulator");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;

        let cert_der = cert.der().clone();
        let chain = vec![cert_der.clone(), ca_cert.der().clone()];
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok(TlsIdentity {
            server_config: server_config(chain, key_der)?,
            ca_pem: Some(ca_cert.pem()),
            fingerprint: fingerprint(&cert_der),
            cert_der,
        })
    }

    /// Uses a given certificate chain (end-entity first) and private key, both PEM.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsIdentity, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::CertPem(e.to_string()))?;
        let Some(cert_der) = chain.first().cloned() else {
            return Err(TlsError::CertPem("no CERTIFICATE block".to_string()));
        };
        let key =
            PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::KeyPem(e.to_string()))?;
        Ok(TlsIdentity {
            server_config: server_config(chain, key)?,
            ca_pem: None,
            fingerprint: fingerprint(&cert_der),
            cert_der,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_colon_separated_upper_hex() {
        let f = fingerprint(b"abc");
        assert_eq!(f.len(), 32 * 3 - 1);
        assert!(f.starts_with("BA:78:16:BF:"));
    }

    #[test]
    fn generated_identity_round_trips_through_pem() {
        let id = TlsIdentity::generate(&["sim.example".to_string(), "0.0.0.0".to_string()])
            .expect("generate");
        assert!(
            id.ca_pem
                .as_deref()
                .is_some_and(|p| p.contains("BEGIN CERTIFICATE"))
        );
        assert_eq!(id.fingerprint, fingerprint(&id.cert_der));
        assert!(matches!(
            TlsIdentity::from_pem(b"", b""),
            Err(TlsError::CertPem(_))
        ));
    }
}
