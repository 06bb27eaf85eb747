//! `[shared]`: the NATS server a site's serving process and viewers meet on, who this process
//! is to it, and which NATS user is which supervisor. Credentials are files only their owner can
//! read (checked on the open handle, as the PBX's password file is); a NATS server that is not
//! on this machine is reached over TLS only.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::error::{ConfigError, Source};
use crate::session::Secret;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawShared {
    nats: Spanned<String>,
    site: Spanned<String>,
    creds_file: Option<Spanned<String>>,
    nkey_file: Option<Spanned<String>>,
    user: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
    anonymous_functions: Option<Spanned<bool>>,
    #[serde(default)]
    users: BTreeMap<String, RawSharedUser>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSharedUser {
    extension: Spanned<String>,
}

/// Who this process is to the NATS server.
#[derive(Clone, Debug)]
pub enum NatsCredentials {
    /// Nothing: the server asks for no authentication.
    None,
    /// A NATS credentials file's text (JWT and seed).
    Creds(Secret),
    /// An nkey seed.
    Nkey(Secret),
    /// A user and its password.
    UserPassword {
        /// The NATS user.
        user: String,
        /// Its password.
        password: Secret,
    },
}

/// `[shared]`, resolved.
#[derive(Clone, Debug)]
pub struct SharedSettings {
    /// The NATS server's URL (`nats://HOST:PORT`, or `tls://HOST:PORT`).
    pub url: String,
    /// The site's name: the buckets are `ipo-top-SITE` and `ipo-top-lock-SITE`.
    pub site: String,
    /// Who this process is to the NATS server.
    pub credentials: NatsCredentials,
    /// CA certificates (PEM) for the NATS server's TLS certificate; default the system's roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Whether the serving side carries out functions from viewers on a NATS server that proves
    /// no identity (allowed only with a loopback URL).
    pub anonymous_functions: bool,
    /// NATS user -> the supervisor's extension (that user's My line).
    pub users: BTreeMap<String, String>,
}

/// The URL's host and whether it asks for TLS; `None` for what is not a NATS URL.
fn url_parts(url: &str) -> Option<(&str, bool)> {
    let (scheme, rest) = url.split_once("://")?;
    let tls = match scheme {
        "nats" => false,
        "tls" => true,
        _ => return None,
    };
    let authority = rest.split('/').next()?;
    let hostport = authority.rsplit('@').next()?;
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        hostport.split(':').next()?
    };
    (!host.is_empty()).then_some((host, tls))
}

/// Whether `host` is this machine.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl SharedSettings {
    /// Whether the NATS server is on this machine.
    pub fn is_loopback(&self) -> bool {
        url_parts(&self.url).is_some_and(|(h, _)| is_loopback(h))
    }
}

fn secret_file(
    src: &Source<'_>,
    base: &Path,
    file: &Spanned<String>,
    key: &str,
) -> Result<Secret, ConfigError> {
    use std::io::Read;
    let path = base.join(file.get_ref());
    let mut text = String::new();
    crate::app::private::open_secret(&path)
        .map_err(|e| src.invalid(file, key, e.to_string()))?
        .read_to_string(&mut text)
        .map_err(|e| src.invalid(file, key, format!("cannot read {}: {e}", path.display())))?;
    let text = text.trim_end_matches(['\r', '\n']);
    if text.is_empty() {
        return Err(src.invalid(file, key, format!("{} is empty", path.display())));
    }
    Ok(Secret::new(text))
}

pub(super) fn shared_settings(
    src: &Source<'_>,
    raw: Option<&RawShared>,
    base: &Path,
) -> Result<Option<SharedSettings>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let url = raw.nats.get_ref().trim().to_owned();
    let Some((host, tls)) = url_parts(&url) else {
        return Err(src.invalid(
            &raw.nats,
            "shared.nats",
            "expected nats://HOST:PORT (this machine) or tls://HOST:PORT",
        ));
    };
    let loopback = is_loopback(host);
    if !loopback && !tls {
        return Err(src.invalid(
            &raw.nats,
            "shared.nats",
            format!(
                "{host} is not this machine: the link to it carries callers' numbers and \
                 credentials, so it needs TLS (tls://{host}:PORT)"
            ),
        ));
    }
    let site = raw.site.get_ref().trim().to_owned();
    if site.is_empty()
        || site.len() > 32
        || !site
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(src.invalid(
            &raw.site,
            "shared.site",
            "expected a name of 1 to 32 letters, digits, '-' or '_' (it names the buckets)",
        ));
    }
    let credentials = match (
        &raw.creds_file,
        &raw.nkey_file,
        &raw.user,
        &raw.password_file,
    ) {
        (None, None, None, None) => NatsCredentials::None,
        (Some(f), None, None, None) => {
            NatsCredentials::Creds(secret_file(src, base, f, "shared.creds_file")?)
        }
        (None, Some(f), None, None) => {
            NatsCredentials::Nkey(secret_file(src, base, f, "shared.nkey_file")?)
        }
        (None, None, Some(user), Some(f)) => {
            if user.get_ref().trim().is_empty() {
                return Err(src.invalid(user, "shared.user", "expected the NATS user's name"));
            }
            NatsCredentials::UserPassword {
                user: user.get_ref().trim().to_owned(),
                password: secret_file(src, base, f, "shared.password_file")?,
            }
        }
        (None, None, Some(user), None) => {
            return Err(src.invalid(
                user,
                "shared.password_file",
                "required with shared.user: a file holding the NATS user's password",
            ));
        }
        (None, None, None, Some(f)) => {
            return Err(src.invalid(
                f,
                "shared.user",
                "required with shared.password_file: the NATS user's name",
            ));
        }
        _ => {
            return Err(src.invalid(
                &raw.nats,
                "shared.creds_file",
                "give one of creds_file, nkey_file, or user with password_file",
            ));
        }
    };
    let anonymous_functions = match &raw.anonymous_functions {
        Some(a) if *a.get_ref() && !loopback => {
            return Err(src.invalid(
                a,
                "shared.anonymous_functions",
                "allowed only with a NATS server on this machine (nats://127.0.0.1:PORT): \
                 elsewhere, give each supervisor a NATS user",
            ));
        }
        Some(a) => *a.get_ref(),
        None => false,
    };
    let mut users = BTreeMap::new();
    for (name, u) in &raw.users {
        let extn = u.extension.get_ref().trim();
        if extn.is_empty() || !extn.bytes().all(|b| b.is_ascii_digit()) {
            return Err(src.invalid(
                &u.extension,
                &format!("shared.users.{name}.extension"),
                "expected the supervisor's extension number, e.g. \"4100\"",
            ));
        }
        users.insert(name.clone(), extn.to_owned());
    }
    Ok(Some(SharedSettings {
        url,
        site,
        credentials,
        ca_file: raw.ca_file.as_ref().map(|f| base.join(f.get_ref())),
        anonymous_functions,
        users,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::super::tests::Dir;

    const PBX: &str = "[pbx]\nhost = \"10.1.2.3\"\nusername = \"u\"\npassword_file = \"pw\"\n";

    fn with(dir: &Dir, shared: &str) -> Result<super::super::Config, String> {
        dir.write("pw", "secret\n", 0o600);
        let path = dir.write("c.toml", &format!("{PBX}{shared}"), 0o600);
        super::super::parse(&path, &std::fs::read_to_string(&path).unwrap_or_default())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn shared_is_read_with_its_credentials_and_users() {
        let dir = Dir::new("shared-ok");
        dir.write("nats-pw", "natspass\n", 0o600);
        let c = with(
            &dir,
            "[shared]\nnats = \"nats://127.0.0.1:4222\"\nsite = \"hq-1\"\nuser = \"serve\"\n\
             password_file = \"nats-pw\"\nanonymous_functions = true\n\
             [shared.users.alice]\nextension = \"4100\"\n",
        );
        let s = match c {
            Ok(c) => c.shared.expect("shared"),
            Err(e) => panic!("{e}"),
        };
        assert_eq!(s.site, "hq-1");
        assert!(s.anonymous_functions && s.is_loopback());
        assert_eq!(s.users.get("alice").map(String::as_str), Some("4100"));
        match s.credentials {
            super::NatsCredentials::UserPassword { user, password } => {
                assert_eq!(user, "serve");
                assert_eq!(password.expose(), "natspass");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_viewers_file_needs_no_pbx_and_says_so_when_used_for_the_pbx() {
        let dir = Dir::new("shared-viewer");
        let path = dir.write(
            "v.toml",
            "[shared]\nnats = \"nats://127.0.0.1:4222\"\nsite = \"hq\"\n",
            0o600,
        );
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let c = match parse(&path, &text) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert!(!c.has_pbx && c.shared.is_some());
        let e = c.require_pbx().expect_err("no pbx").to_string();
        assert!(e.contains("pbx") && e.contains("--shared"), "{e}");
        // Without [shared] either, [pbx] is required as it always was.
        let path = dir.write("none.toml", "[ui]\nread_only = true\n", 0o600);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        match parse(&path, &text) {
            Ok(_) => panic!("accepted a file without [pbx]"),
            Err(e) => assert!(e.to_string().contains("pbx: required"), "{e}"),
        }
    }

    #[test]
    fn bad_shared_values_name_the_key() {
        let dir = Dir::new("shared-bad");
        dir.write("open-pw", "x\n", 0o644);
        for (text, key, says) in [
            (
                "[shared]\nnats = \"nats://10.9.9.9:4222\"\nsite = \"hq\"\n",
                "shared.nats",
                "needs TLS",
            ),
            (
                "[shared]\nnats = \"http://127.0.0.1\"\nsite = \"hq\"\n",
                "shared.nats",
                "expected nats://",
            ),
            (
                "[shared]\nnats = \"nats://127.0.0.1\"\nsite = \"h q\"\n",
                "shared.site",
                "letters, digits",
            ),
            (
                "[shared]\nnats = \"tls://nats.example.net:4222\"\nsite = \"hq\"\nanonymous_functions = true\n",
                "shared.anonymous_functions",
                "this machine",
            ),
            (
                "[shared]\nnats = \"nats://127.0.0.1\"\nsite = \"hq\"\nuser = \"v\"\npassword_file = \"open-pw\"\n",
                "shared.password_file",
                "chmod",
            ),
            (
                "[shared]\nnats = \"nats://127.0.0.1\"\nsite = \"hq\"\nuser = \"v\"\n",
                "shared.password_file",
                "required",
            ),
            (
                "[shared]\nnats = \"nats://127.0.0.1\"\nsite = \"hq\"\n[shared.users.bob]\nextension = \"x1\"\n",
                "shared.users.bob.extension",
                "extension number",
            ),
        ] {
            let e = match with(&dir, text) {
                Ok(_) => panic!("accepted:\n{text}"),
                Err(e) => e,
            };
            assert!(e.contains(key) && e.contains(says), "{text}\n-> {e}");
        }
    }
}
