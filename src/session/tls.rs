//! How the PBX's certificate is trusted: a CA file (chain and name checked, IP-address names
//! included), the system roots, or a pinned SHA-256 fingerprint of the PBX's own certificate.
//! A pin replaces the chain and name checks (IP Office certificates are usually self-signed,
//! often for an IP address) but the handshake signature is still verified. Nothing here turns
//! verification off for a session: the one configuration that accepts any certificate, used
//! by `ipo-top trust` to look at one before anyone trusts it, cannot be reached from outside
//! the session module:
//!
//! ```compile_fail
//! let _ = ipo_top::session::tls::inspect_config();
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use sha2::{Digest, Sha256};

/// A SHA-256 fingerprint of a certificate (its DER encoding).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }
}

impl fmt::Display for Fingerprint {
    /// `AB:CD:...`, the form browsers and `openssl x509 -fingerprint -sha256` print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// Why a fingerprint does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a SHA-256 fingerprint is 32 bytes in hex, e.g. \"AB:CD:...\" (64 hex digits, colons optional); {0}"
)]
pub struct FingerprintError(String);

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    /// Accepts `AB:CD:...`, `ab cd ...` or `abcd...`; an optional `sha256:` or `SHA256=` prefix.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let t = [
            "sha256:",
            "sha256=",
            "SHA256:",
            "SHA256=",
            "SHA256 Fingerprint=",
        ]
        .iter()
        .find_map(|p| t.strip_prefix(p))
        .unwrap_or(t);
        let hex: String = t
            .chars()
            .filter(|c| !matches!(c, ':' | ' ' | '-'))
            .collect();
        if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(FingerprintError(format!("{bad:?} is not a hex digit")));
        }
        if hex.len() != 64 {
            return Err(FingerprintError(format!(
                "this one has {} hex digits",
                hex.len()
            )));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            let pair = hex.get(i * 2..i * 2 + 2).unwrap_or("00");
            *byte = u8::from_str_radix(pair, 16)
                .map_err(|e| FingerprintError(format!("{pair:?}: {e}")))?;
        }
        Ok(Fingerprint(out))
    }
}

/// How the PBX's certificate is trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The operating system's trusted roots.
    SystemRoots,
    /// The CA certificates (PEM) in this file.
    CaFile(PathBuf),
    /// Exactly the certificate with this SHA-256 fingerprint.
    Fingerprint(Fingerprint),
}

/// Why the TLS settings could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file could not be read.
    #[error("cannot read the CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The CA file has no usable certificate.
    #[error("the CA file {0} holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\")")]
    NoCertificate(PathBuf),
    /// No trusted root could be loaded from the system.
    #[error("no trusted root certificates found on this system; set [tls] ca_file or fingerprint")]
    NoSystemRoots,
    /// rustls refused the settings.
    #[error("TLS settings refused: {0}")]
    Rustls(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_ca_file(path: &Path) -> Result<RootCertStore, TlsSetupError> {
    let bytes = std::fs::read(path).map_err(|e| TlsSetupError::CaFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|e| TlsSetupError::CaFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        roots.add(cert).map_err(|e| TlsSetupError::CaFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    if roots.is_empty() {
        return Err(TlsSetupError::NoCertificate(path.to_owned()));
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, TlsSetupError> {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::warn!(error = %e, "while loading the system's trusted roots");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    tracing::debug!(added, ignored, "system roots");
    if roots.is_empty() {
        return Err(TlsSetupError::NoSystemRoots);
    }
    Ok(roots)
}

/// The rustls client settings for a trust choice.
pub fn client_config(trust: &Trust) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
    let config = match trust {
        Trust::SystemRoots => builder
            .with_root_certificates(system_roots()?)
            .with_no_client_auth(),
        Trust::CaFile(path) => builder
            .with_root_certificates(load_ca_file(path)?)
            .with_no_client_auth(),
        Trust::Fingerprint(fp) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EndEntityCheck {
                rule: EndEntityRule::Pinned(*fp),
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A certificate whose fingerprint is not the pinned one.
#[derive(Debug, thiserror::Error)]
#[error("the PBX's certificate has SHA-256 fingerprint {got}, not the pinned {want}")]
pub struct FingerprintMismatch {
    /// What the configuration pins.
    pub want: Fingerprint,
    /// What the PBX presented.
    pub got: Fingerprint,
}

/// A verifier that decides on the end-entity certificate alone, whatever its chain or names,
/// and still verifies that the server holds its private key (the handshake signature, checked
/// with the provider's algorithms).
#[derive(Debug)]
struct EndEntityCheck {
    rule: EndEntityRule,
    algorithms: WebPkiSupportedAlgorithms,
}

/// What an [`EndEntityCheck`] does with the certificate.
#[derive(Debug)]
enum EndEntityRule {
    /// Accept exactly the certificate with this SHA-256 fingerprint (`[tls] fingerprint`).
    Pinned(Fingerprint),
    /// Accept any, keeping it for the admin to look at (`ipo-top trust`).
    Capture(CapturedCertificate),
}

impl ServerCertVerifier for EndEntityCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.rule {
            EndEntityRule::Pinned(pin) => {
                let got = Fingerprint::of(end_entity);
                if got != *pin {
                    return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                        rustls::OtherError(Arc::new(FingerprintMismatch { want: *pin, got })),
                    )));
                }
            }
            EndEntityRule::Capture(captured) => {
                if let Ok(mut slot) = captured.0.lock() {
                    *slot = Some(end_entity.as_ref().to_vec());
                }
            }
        }
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

/// The settings `ipo-top trust` uses to look at a certificate before anyone trusts it: the
/// handshake completes whatever the chain (so the server proves it holds the certificate's
/// private key: the handshake signature is still verified), and the end-entity certificate is
/// kept for the admin to check by its fingerprint. Nothing is ever sent over such a
/// connection; no session uses these settings. Private to the session module: the only way in
/// is [`super::fetch_certificate`], so no other code can open a link that accepts any
/// certificate.
pub(super) fn inspect_config() -> Result<(Arc<ClientConfig>, CapturedCertificate), TlsSetupError> {
    let provider = provider();
    let captured = CapturedCertificate::default();
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(EndEntityCheck {
            rule: EndEntityRule::Capture(captured.clone()),
            algorithms: provider.signature_verification_algorithms,
        }))
        .with_no_client_auth();
    Ok((Arc::new(config), captured))
}

/// The end-entity certificate (DER) a handshake presented, once it has.
#[derive(Clone, Debug, Default)]
pub(super) struct CapturedCertificate(Arc<std::sync::Mutex<Option<Vec<u8>>>>);

impl CapturedCertificate {
    /// The certificate, if the handshake got that far.
    pub(super) fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

/// A certificate problem in words a supervisor's admin can act on.
pub fn describe_certificate_error(e: &CertificateError, host: &str) -> String {
    match e {
        CertificateError::UnknownIssuer => {
            "the PBX's certificate is not signed by a CA this machine trusts".to_owned()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("the PBX's certificate is not valid for the name {host}")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "the PBX's certificate has expired".to_owned()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "the PBX's certificate is not valid yet (check this machine's clock)".to_owned()
        }
        CertificateError::BadSignature => "the PBX's certificate has a bad signature".to_owned(),
        CertificateError::Other(other) => other.to_string(),
        other => format!("the PBX's certificate was refused: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_the_usual_forms() {
        let colons = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
        let fp: Fingerprint = colons.parse().unwrap_or(Fingerprint([0; 32]));
        assert_eq!(fp.to_string(), colons);
        let bare = colons.replace(':', "").to_lowercase();
        assert_eq!(bare.parse::<Fingerprint>().ok(), Some(fp));
        assert_eq!(
            format!("sha256:{bare}").parse::<Fingerprint>().ok(),
            Some(fp)
        );
        let short = "AB:CD".parse::<Fingerprint>();
        assert!(short.is_err_and(|e| e.to_string().contains("4 hex digits")));
        let bad = colons.replace("AB", "XY").parse::<Fingerprint>();
        assert!(bad.is_err_and(|e| e.to_string().contains("'X'")));
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("ipo-top-tls-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("empty.pem");
        let _ = std::fs::write(&path, "not a certificate\n");
        let err = client_config(&Trust::CaFile(path.clone())).err();
        assert!(matches!(err, Some(TlsSetupError::NoCertificate(p)) if p == path));
        let missing = dir.join("missing.pem");
        let err = client_config(&Trust::CaFile(missing)).err();
        assert!(matches!(err, Some(TlsSetupError::CaFile { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
