//! What a certificate says, for a person deciding whether to trust it: subject, issuer,
//! validity and the names it covers, read from its DER. A small reader of the few X.509 parts
//! shown; anything it does not understand is shown as such, never guessed.

use std::fmt;

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
pub struct CertError(&'static str);

/// One DER element: its tag and contents.
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Reads one element from the front of `input`; returns it and the rest.
fn tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), CertError> {
    let (&tag, rest) = input.split_first().ok_or(CertError("truncated"))?;
    let (&first, rest) = rest.split_first().ok_or(CertError("truncated"))?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(CertError("bad length"));
        }
        let (bytes, rest) = rest.split_at(n);
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    if rest.len() < len {
        return Err(CertError("truncated"));
    }
    let (body, rest) = rest.split_at(len);
    Ok((Tlv { tag, body }, rest))
}

/// The elements inside a constructed element, in order.
fn children(body: &[u8]) -> Result<Vec<Tlv<'_>>, CertError> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (t, r) = tlv(rest)?;
        out.push(t);
        rest = r;
    }
    Ok(out)
}

fn expect(t: &Tlv<'_>, tag: u8, what: &'static str) -> Result<(), CertError> {
    if t.tag == tag {
        Ok(())
    } else {
        Err(CertError(what))
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;

/// Reads the summary of a DER certificate.
pub fn summarize(der: &[u8]) -> Result<CertificateSummary, CertError> {
    let (cert, _) = tlv(der)?;
    expect(&cert, SEQUENCE, "not a certificate")?;
    let parts = children(cert.body)?;
    let tbs = parts.first().ok_or(CertError("empty certificate"))?;
    expect(tbs, SEQUENCE, "no to-be-signed part")?;
    let fields = children(tbs.body)?;
    // An explicit version ([0]) comes first when present.
    let skip = usize::from(fields.first().is_some_and(|f| f.tag == 0xA0));
    let field = |i: usize| fields.get(skip + i).ok_or(CertError("missing fields"));
    let issuer = field(2)?;
    let validity = field(3)?;
    let subject = field(4)?;
    expect(issuer, SEQUENCE, "bad issuer")?;
    expect(validity, SEQUENCE, "bad validity")?;
    expect(subject, SEQUENCE, "bad subject")?;
    let times = children(validity.body)?;
    let (Some(nb), Some(na)) = (times.first(), times.get(1)) else {
        return Err(CertError("bad validity"));
    };
    let mut names = Vec::new();
    for f in fields.iter().skip(skip + 5) {
        if f.tag == 0xA3 {
            names = subject_alt_names(f.body).unwrap_or_default();
        }
    }
    Ok(CertificateSummary {
        subject: name(subject.body)?,
        issuer: name(issuer.body)?,
        not_before: time(nb)?,
        not_after: time(na)?,
        names,
    })
}

/// A Name as "CN=..., O=...".
fn name(body: &[u8]) -> Result<String, CertError> {
    let mut parts = Vec::new();
    for rdn in children(body)? {
        expect(&rdn, SET, "bad name")?;
        for atv in children(rdn.body)? {
            expect(&atv, SEQUENCE, "bad name")?;
            let kv = children(atv.body)?;
            let (Some(oid), Some(value)) = (kv.first(), kv.get(1)) else {
                return Err(CertError("bad name"));
            };
            let key = match oid.body {
                [0x55, 0x04, 0x03] => "CN".to_owned(),
                [0x55, 0x04, 0x06] => "C".to_owned(),
                [0x55, 0x04, 0x07] => "L".to_owned(),
                [0x55, 0x04, 0x08] => "ST".to_owned(),
                [0x55, 0x04, 0x0A] => "O".to_owned(),
                [0x55, 0x04, 0x0B] => "OU".to_owned(),
                [0x55, 0x04, 0x05] => "serialNumber".to_owned(),
                other => oid_text(other),
            };
            parts.push(format!("{key}={}", string(value)));
        }
    }
    Ok(if parts.is_empty() {
        "(empty)".to_owned()
    } else {
        parts.join(", ")
    })
}

/// A directory string as text; control characters are shown escaped (the certificate comes
/// from the network).
fn string(t: &Tlv<'_>) -> String {
    let raw = match t.tag {
        // BMPString: UTF-16BE.
        0x1E => {
            let units: Vec<u16> = t
                .body
                .chunks(2)
                .map(|c| {
                    u16::from_be_bytes([
                        c.first().copied().unwrap_or(0),
                        c.get(1).copied().unwrap_or(0),
                    ])
                })
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => String::from_utf8_lossy(t.body).into_owned(),
    };
    raw.chars().flat_map(char::escape_debug).collect::<String>()
}

fn oid_text(body: &[u8]) -> String {
    let mut out = String::new();
    if let Some((&first, rest)) = body.split_first() {
        out.push_str(&format!("{}.{}", first / 40, first % 40));
        let mut n: u64 = 0;
        for b in rest {
            n = (n << 7) | u64::from(b & 0x7F);
            if b & 0x80 == 0 {
                out.push_str(&format!(".{n}"));
                n = 0;
            }
        }
    }
    out
}

/// UTCTime or GeneralizedTime as "YYYY-MM-DD HH:MM:SS UTC".
fn time(t: &Tlv<'_>) -> Result<String, CertError> {
    let s = std::str::from_utf8(t.body).map_err(|_| CertError("bad time"))?;
    let digits = |r: std::ops::Range<usize>| {
        s.get(r)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(CertError("bad time"))
    };
    let (year, rest) = match t.tag {
        0x17 => {
            let yy: u32 = digits(0..2)?.parse().map_err(|_| CertError("bad time"))?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        0x18 => (digits(0..4)?.parse().map_err(|_| CertError("bad time"))?, 4),
        _ => return Err(CertError("bad time")),
    };
    Ok(format!(
        "{year:04}-{}-{} {}:{}:{} UTC",
        digits(rest..rest + 2)?,
        digits(rest + 2..rest + 4)?,
        digits(rest + 4..rest + 6)?,
        digits(rest + 6..rest + 8)?,
        digits(rest + 8..rest + 10)?
    ))
}

/// DNS names and IP addresses from the extensions ([3] EXPLICIT Extensions).
fn subject_alt_names(body: &[u8]) -> Result<Vec<String>, CertError> {
    let (exts, _) = tlv(body)?;
    let mut out = Vec::new();
    for ext in children(exts.body)? {
        let parts = children(ext.body)?;
        let Some(oid) = parts.first() else { continue };
        if oid.body != [0x55, 0x1D, 0x11] {
            continue;
        }
        // extnValue is the last part (an OCTET STRING holding GeneralNames).
        let Some(value) = parts.last() else { continue };
        let (general_names, _) = tlv(value.body)?;
        for n in children(general_names.body)? {
            match n.tag {
                0x82 => out.push(string(&n)),
                0x87 => out.push(match n.body {
                    [a, b, c, d] => format!("{a}.{b}.{c}.{d}"),
                    b if b.len() == 16 => {
                        let mut o = [0u8; 16];
                        o.copy_from_slice(b);
                        std::net::Ipv6Addr::from(o).to_string()
                    }
                    _ => "(bad IP address)".to_owned(),
                }),
                _ => {}
            }
        }
    }
    Ok(out)
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
