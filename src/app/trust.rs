//! `ipo-top trust`: trust on first use. Completes only a TLS handshake with the PBX (nothing is
//! sent after it, no credentials), shows the certificate's subject, issuer, validity and SHA-256
//! fingerprint, and on a typed `yes` pins it in the configuration file (`[tls] fingerprint`, or
//! `secondary_fingerprint` for the secondary system), keeping the rest of the file and its
//! comments as they are. A later certificate that is not the pinned one is refused, with both
//! fingerprints and this command to run.

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Duration;

use super::Exit;
use super::cert;
use super::check::connect_failure_line;
use super::config::TrustTarget;
use crate::session::{Fingerprint, fetch_certificate};
use crate::ui::text::clean;

/// Why the pin could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The file could not be read or written.
    #[error("cannot update {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The edit would leave a file that is not valid TOML (it was left unchanged).
    #[error(
        "{path} would no longer be valid TOML after pinning ({reason}); it was left unchanged: set [tls] {key} = \"{fingerprint}\" by hand"
    )]
    Invalid {
        /// The file.
        path: String,
        /// The parser's complaint.
        reason: String,
        /// The key.
        key: &'static str,
        /// The fingerprint.
        fingerprint: String,
    },
}

/// Runs `ipo-top trust` for `target`: `input` gives the answer, `out` shows everything.
pub async fn run(
    target: &TrustTarget,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> (Exit, Option<String>) {
    let authority = if target.host.contains(':') {
        format!("[{}]:{}", target.host, target.port)
    } else {
        format!("{}:{}", target.host, target.port)
    };
    let der = match fetch_certificate(&target.host, target.port, Duration::from_secs(10)).await {
        Ok(der) => der,
        Err(e) => {
            let (exit, line) = connect_failure_line(&e, &target.path);
            return (exit, Some(line));
        }
    };
    let fingerprint = Fingerprint::of(&der);
    let mut text = format!(
        "The system at {authority} presented this certificate (only the TLS handshake was made: \
         nothing was sent, no password):\n"
    );
    match cert::summarize(&der) {
        Ok(summary) => text.push_str(&summary.to_string()),
        Err(e) => text.push_str(&format!("  ({e})\n")),
    }
    text.push_str(&format!("  SHA-256:   {fingerprint}\n\n"));
    text.push_str(
        "Check this fingerprint against the one the system itself shows (IP Office Manager or \
         Web Manager: Security settings, the system's identity certificate) before trusting it.\n",
    );
    text.push_str(&format!(
        "Type yes to pin it as [tls] {} in {} (anything else changes nothing): ",
        target.key,
        target.path.display()
    ));
    // The certificate's names come from the network: cleaned, line by line.
    let text: String = text
        .split_inclusive('\n')
        .map(|l| match l.strip_suffix('\n') {
            Some(l) => format!("{}\n", clean(l)),
            None => clean(l).into_owned(),
        })
        .collect();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return (Exit::Other, Some("cannot write to the terminal".to_owned()));
    }
    let mut answer = String::new();
    if input.read_line(&mut answer).is_err() || answer.trim() != "yes" {
        let _ = writeln!(out);
        return (
            Exit::Other,
            Some("not trusted: the configuration was left as it was".to_owned()),
        );
    }
    match write_pin(&target.path, target.key, &fingerprint) {
        Ok(()) => {
            let _ = writeln!(
                out,
                "Pinned: {} now trusts exactly this certificate. Check the connection with: \
                 ipo-top check --config {}",
                target.path.display(),
                target.path.display()
            );
            (Exit::Ok, None)
        }
        Err(e) => (Exit::Config, Some(clean(&e.to_string()).into_owned())),
    }
}

/// Writes `key = "fingerprint"` into the `[tls]` table of the configuration at `path`,
/// replacing an older pin and commenting out a `ca_file` (a pin replaces it); everything else,
/// comments included, stays as it was. The file is replaced atomically with its permissions:
/// the new text goes into a fresh private file beside it (an unpredictable name, created
/// exclusively, so nothing planted there is followed), which then takes the old one's place.
pub fn write_pin(
    path: &Path,
    key: &'static str,
    fingerprint: &Fingerprint,
) -> Result<(), PinError> {
    let io = |e: std::io::Error| PinError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let new = pinned(&text, key, fingerprint);
    if let Err(e) = toml::from_str::<toml::Table>(&new) {
        return Err(PinError::Invalid {
            path: path.display().to_string(),
            reason: e.message().to_owned(),
            key,
            fingerprint: fingerprint.to_string(),
        });
    }
    let perms = std::fs::metadata(path).map_err(io)?.permissions();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".ipo-top-trust")
        .suffix(".toml")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(new.as_bytes()).map_err(io)?;
    let file = tmp.as_file();
    file.set_permissions(perms).map_err(io)?;
    file.sync_all().map_err(io)?;
    // On failure the temporary file is removed when dropped.
    tmp.persist(path).map(drop).map_err(|e| io(e.error))
}

/// The configuration text with the pin in it (see [`write_pin`]).
pub fn pinned(text: &str, key: &str, fingerprint: &Fingerprint) -> String {
    let pin_line = format!("{key} = \"{fingerprint}\" # pinned with ipo-top trust\n");
    let mut out: Vec<String> = Vec::new();
    let mut section: Option<String> = None;
    let mut tls_header: Option<usize> = None;
    let mut placed = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with('[') && !t.starts_with("[[") {
            section = t
                .trim_start_matches('[')
                .split(']')
                .next()
                .map(|s| s.trim().to_owned());
            if section.as_deref() == Some("tls") {
                tls_header = Some(out.len());
            }
            out.push(line.to_owned());
            continue;
        }
        let line_key = t
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"'))
            .filter(|_| !t.starts_with('#'));
        if section.as_deref() == Some("tls") {
            if line_key == Some(key) {
                if !placed {
                    out.push(pin_line.clone());
                    placed = true;
                }
                continue;
            }
            if key == "fingerprint" && line_key == Some("ca_file") {
                out.push(format!(
                    "# {} # replaced by the pinned fingerprint\n",
                    line.trim_end()
                ));
                continue;
            }
        }
        out.push(line.to_owned());
    }
    if !placed {
        match tls_header {
            Some(i) => out.insert(i + 1, pin_line),
            None => {
                if out.last().is_some_and(|l| !l.ends_with('\n')) {
                    out.push("\n".to_owned());
                }
                out.push(format!("\n[tls]\n{pin_line}"));
            }
        }
    }
    out.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp() -> Fingerprint {
        Fingerprint([0xAB; 32])
    }

    #[test]
    fn the_pin_replaces_ca_file_and_keeps_everything_else() {
        let text = "# mine\n[pbx]\nhost = \"10.1.2.3\" # the PBX\n\n[tls]\n# how we trust it\nca_file = \"ca.pem\"\n\n[supervisor]\nextension = \"4190\"\n";
        let new = pinned(text, "fingerprint", &fp());
        assert_eq!(
            new,
            format!(
                "# mine\n[pbx]\nhost = \"10.1.2.3\" # the PBX\n\n[tls]\nfingerprint = \"{}\" # pinned with ipo-top trust\n# how we trust it\n# ca_file = \"ca.pem\" # replaced by the pinned fingerprint\n\n[supervisor]\nextension = \"4190\"\n",
                fp()
            )
        );
        assert!(toml::from_str::<toml::Table>(&new).is_ok());
        // Pinning again replaces the pin in place.
        let again = pinned(&new, "fingerprint", &Fingerprint([0x01; 32]));
        assert_eq!(again.matches("fingerprint = ").count(), 1, "{again}");
        assert!(again.contains("01:01:01"));
    }

    /// A scratch directory, removed when dropped.
    struct Dir(tempfile::TempDir);

    impl Dir {
        fn new() -> Dir {
            Dir(tempfile::tempdir().expect("a temporary directory"))
        }
    }

    #[cfg(unix)]
    #[test]
    fn pinning_writes_a_fresh_private_file_and_follows_no_planted_link() {
        use std::os::unix::fs::PermissionsExt;
        let d = Dir::new();
        let config = d.0.path().join("config.toml");
        std::fs::write(&config, "[pbx]\nhost = \"h\"\n").expect("written");
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).expect("mode");
        // Another user of the machine plants links where a predictable temporary name would be.
        let victim = d.0.path().join("victim");
        std::fs::write(&victim, "keep").expect("written");
        for name in [
            "config.toml.ipo-top-trust",
            "config.ipo-top-trust",
            ".ipo-top-trust",
        ] {
            std::os::unix::fs::symlink(&victim, d.0.path().join(name)).expect("linked");
        }
        write_pin(&config, "fingerprint", &fp()).expect("pinned");
        assert_eq!(
            std::fs::read_to_string(&victim).ok().as_deref(),
            Some("keep")
        );
        let meta = std::fs::symlink_metadata(&config).expect("there");
        assert!(meta.is_file(), "the configuration is a file, not a link");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(&config).expect("read");
        assert!(text.contains("fingerprint = "), "{text}");
        // Nothing is left behind but the links that were there.
        let left = std::fs::read_dir(d.0.path()).map(Iterator::count).ok();
        assert_eq!(left, Some(5));
    }

    #[test]
    fn without_a_tls_table_one_is_added_and_a_secondary_pin_leaves_ca_file() {
        let new = pinned("[pbx]\nhost = \"h\"", "fingerprint", &fp());
        assert!(
            new.ends_with(&format!(
                "[pbx]\nhost = \"h\"\n\n[tls]\nfingerprint = \"{}\" # pinned with ipo-top trust\n",
                fp()
            )),
            "{new}"
        );
        let text = "[tls]\nfingerprint = \"AA\"\n";
        let new = pinned(text, "secondary_fingerprint", &fp());
        assert!(
            new.contains("\nfingerprint = \"AA\"\n") && new.contains("secondary_fingerprint = ")
        );
    }
}
