//! What a certificate says, for a person deciding whether to trust it: subject, issuer,
//! validity and the names it covers. The DER is read by `x509-parser`; this module only says
//! how each part is shown. Anything the parser refuses is reported as such, never guessed.

use std::fmt;

use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};
use x509_parser::time::ASN1Time;

/// The parts of a certificate `ipo-top trust` shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateSummary {
    /// The subject, e.g. "CN=ipo.example.net, O=Example".
    pub subject: String,
    /// The issuer.
    pub issuer: String,
    /// Not valid before (UTC, "YYYY-MM-DD HH:MM:SS UTC").
    pub not_before: String,
    /// Not valid after.
    pub not_after: String,
    /// Subject alternative names (DNS names and IP addresses).
    pub names: Vec<String>,
}

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the certificate could not be read ({0})")]
pub struct CertError(String);

/// Reads the summary of a DER certificate.
pub fn summarize(der: &[u8]) -> Result<CertificateSummary, CertError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertError(e.to_string()))?;
    let validity = cert.validity();
    // A malformed name extension hides the names, not the rest of the certificate.
    let names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(general_name)
            .collect(),
        _ => Vec::new(),
    };
    Ok(CertificateSummary {
        subject: name(cert.subject()),
        issuer: name(cert.issuer()),
        not_before: time(&validity.not_before)?,
        not_after: time(&validity.not_after)?,
        names,
    })
}

/// A Name as "CN=..., O=...", with the short keys a person knows and dotted OIDs otherwise.
fn name(name: &X509Name<'_>) -> String {
    let parts: Vec<String> = name
        .iter()
        .flat_map(|rdn| rdn.iter())
        .map(|atv| {
            let key = match atv.attr_type().as_bytes() {
                [0x55, 0x04, 0x03] => "CN".to_owned(),
                [0x55, 0x04, 0x06] => "C".to_owned(),
                [0x55, 0x04, 0x07] => "L".to_owned(),
                [0x55, 0x04, 0x08] => "ST".to_owned(),
                [0x55, 0x04, 0x0A] => "O".to_owned(),
                [0x55, 0x04, 0x0B] => "OU".to_owned(),
                [0x55, 0x04, 0x05] => "serialNumber".to_owned(),
                _ => atv.attr_type().to_id_string(),
            };
            let value = atv.attr_value();
            format!("{key}={}", string(value.header.tag().0, value.data))
        })
        .collect();
    if parts.is_empty() {
        "(empty)".to_owned()
    } else {
        parts.join(", ")
    }
}

/// ASN.1 tag number of a BMPString (UTF-16BE).
const BMP_STRING: u32 = 30;

/// A directory string as text, cleaned (the certificate comes from the network).
fn string(tag: u32, body: &[u8]) -> String {
    let raw = if tag == BMP_STRING {
        let units: Vec<u16> = body
            .chunks(2)
            .map(|c| {
                u16::from_be_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            })
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(body).into_owned()
    };
    crate::ui::text::clean(&raw).into_owned()
}

/// A validity bound as "YYYY-MM-DD HH:MM:SS UTC".
fn time(t: &ASN1Time) -> Result<String, CertError> {
    let at = jiff::Timestamp::from_second(t.timestamp())
        .map_err(|_| CertError("bad time".to_owned()))?;
    Ok(at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
}

/// A DNS name or IP address as shown; other kinds of name are not shown.
fn general_name(n: &GeneralName<'_>) -> Option<String> {
    match n {
        GeneralName::DNSName(dns) => Some(string(0, dns.as_bytes())),
        GeneralName::IPAddress(ip) => Some(match *ip {
            [a, b, c, d] => format!("{a}.{b}.{c}.{d}"),
            b => match <[u8; 16]>::try_from(b) {
                Ok(o) => std::net::Ipv6Addr::from(o).to_string(),
                Err(_) => "(bad IP address)".to_owned(),
            },
        }),
        _ => None,
    }
}

impl fmt::Display for CertificateSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  subject:   {}", self.subject)?;
        writeln!(f, "  issuer:    {}", self.issuer)?;
        writeln!(f, "  valid:     {} to {}", self.not_before, self.not_after)?;
        if !self.names.is_empty() {
            writeln!(f, "  names:     {}", self.names.join(", "))?;
        }
        Ok(())
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_reads_back() {
        let mut params = rcgen::CertificateParams::new(vec![
            "ipo.example.net".to_owned(),
            "10.1.2.3".to_owned(),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ipo.example.net");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Harbour Mutual");
        params.not_before = rcgen::date_time_ymd(2024, 3, 1);
        params.not_after = rcgen::date_time_ymd(2034, 3, 1);
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("{e}"));
        let s = summarize(cert.der()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.subject, "CN=ipo.example.net, O=Harbour Mutual");
        assert_eq!(s.issuer, s.subject, "self-signed");
        assert_eq!(s.not_before, "2024-03-01 00:00:00 UTC");
        assert_eq!(s.not_after, "2034-03-01 00:00:00 UTC");
        assert_eq!(s.names, ["ipo.example.net", "10.1.2.3"]);
    }

    #[test]
    fn garbage_is_refused_not_guessed() {
        assert!(summarize(&[]).is_err());
        assert!(summarize(&[0x30, 0x82, 0xFF]).is_err());
        assert!(summarize(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        assert!(summarize(b"-----BEGIN CERTIFICATE-----").is_err());
    }
}
