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
    /// A NATS credentials file: its text (JWT and seed) and the user's name, `[shared] user`
    /// or else the `name` its JWT gives.
    Creds {
        /// The file's text.
        text: Secret,
        /// The name the command subject and the inbox carry.
        user: String,
    },
    /// An nkey seed, and the user's name where `[shared] user` gives it (the server knows an
    /// nkey user by its public key only).
    Nkey {
        /// The seed.
        seed: Secret,
        /// The name the command subject and the inbox carry.
        user: Option<String>,
    },
    /// A user and its password.
    UserPassword {
        /// The NATS user.
        user: String,
        /// Its password.
        password: Secret,
    },
}

impl NatsCredentials {
    /// The NATS user's name as this process uses it: the last token of its command subject
    /// (`ipo-top.SITE.cmd.USER`) and its inbox prefix (`_INBOX_USER`). A claim the NATS
    /// server's permissions must back: the serving side trusts the subject only because the
    /// server lets each user publish on its own. `None` without a name.
    pub fn user(&self) -> Option<&str> {
        match self {
            NatsCredentials::None | NatsCredentials::Nkey { user: None, .. } => None,
            NatsCredentials::Creds { user, .. }
            | NatsCredentials::Nkey {
                user: Some(user), ..
            }
            | NatsCredentials::UserPassword { user, .. } => Some(user),
        }
    }
}

/// Why the user's name could not be read from a NATS credentials file.
#[derive(Debug, thiserror::Error)]
pub enum CredsNameError {
    /// No `-----BEGIN NATS USER JWT-----` block.
    #[error("it holds no user JWT (a -----BEGIN NATS USER JWT----- block)")]
    NoJwt,
    /// The JWT is not header.claims.signature, or its claims are not base64url JSON.
    #[error("its user JWT cannot be read: {0}")]
    Malformed(String),
    /// The claims have no `name`.
    #[error("its user JWT names no user (no \"name\" claim)")]
    NoName,
    /// The name could not end a NATS subject.
    #[error(
        "its user JWT names the user {0:?}, which cannot end a NATS subject (letters, digits, '-' or '_')"
    )]
    NotAToken(String),
}

/// The user's name in a NATS credentials file: the `name` claim of its user JWT (what `nsc
/// add user NAME` writes). The JWT is only read, not verified: the name is no proof of
/// anything, the NATS server checks the JWT and the seed when this process logs in.
pub fn creds_user_name(text: &str) -> Result<String, CredsNameError> {
    use base64::Engine as _;
    let mut lines = text.lines().map(str::trim);
    lines
        .by_ref()
        .find(|l| l.starts_with("---") && l.contains("BEGIN NATS USER JWT"))
        .ok_or(CredsNameError::NoJwt)?;
    let jwt = lines.find(|l| !l.is_empty()).ok_or(CredsNameError::NoJwt)?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [_, claims, _] = parts.as_slice() else {
        return Err(CredsNameError::Malformed(format!(
            "{} parts where a JWT has 3",
            parts.len()
        )));
    };
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .map_err(|e| CredsNameError::Malformed(format!("its claims are not base64url: {e}")))?;
    #[derive(Deserialize)]
    struct Claims {
        name: Option<String>,
    }
    let claims: Claims = serde_json::from_slice(&json)
        .map_err(|e| CredsNameError::Malformed(format!("its claims are not JSON: {e}")))?;
    let name = claims.name.ok_or(CredsNameError::NoName)?;
    if crate::share::functions::is_token(&name) {
        Ok(name)
    } else {
        Err(CredsNameError::NotAToken(name))
    }
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
    // The user's name ends its command subject and its inbox prefix: one NATS could not
    // deliver there would leave it unanswered.
    let user = match &raw.user {
        Some(u) if !crate::share::functions::is_token(u.get_ref().trim()) => {
            return Err(src.invalid(
                u,
                "shared.user",
                "expected a NATS user name of letters, digits, '-' or '_' (it ends this \
                 user's command subject ipo-top.SITE.cmd.USER and its inbox _INBOX_USER)",
            ));
        }
        Some(u) => Some(u.get_ref().trim().to_owned()),
        None => None,
    };
    let credentials = match (&raw.creds_file, &raw.nkey_file, &raw.password_file) {
        (None, None, None) => match &raw.user {
            None => NatsCredentials::None,
            Some(u) => {
                return Err(src.invalid(
                    u,
                    "shared.password_file",
                    "required with shared.user: a file holding the NATS user's password (or \
                     give creds_file or nkey_file, with which user names the command subject)",
                ));
            }
        },
        (Some(f), None, None) => {
            // The file's last line ends as it did: async-nats finds the seed's block by the
            // line break after its END marker, which reading a secret trims.
            let text = secret_file(src, base, f, "shared.creds_file")?;
            let text = Secret::new(format!("{}\n", text.expose()));
            let user = match user {
                Some(u) => u,
                None => creds_user_name(text.expose()).map_err(|e| {
                    src.invalid(
                        f,
                        "shared.creds_file",
                        format!(
                            "cannot tell the NATS user's name: {e}; set [shared] user = \"NAME\" \
                             to the name its command subject carries (the serving side's \
                             [shared.users.NAME] and the NATS permissions use it)"
                        ),
                    )
                })?,
            };
            NatsCredentials::Creds { text, user }
        }
        (None, Some(f), None) => NatsCredentials::Nkey {
            seed: secret_file(src, base, f, "shared.nkey_file")?,
            user,
        },
        (None, None, Some(f)) => match user {
            Some(user) => NatsCredentials::UserPassword {
                user,
                password: secret_file(src, base, f, "shared.password_file")?,
            },
            None => {
                return Err(src.invalid(
                    f,
                    "shared.user",
                    "required with shared.password_file: the NATS user's name",
                ));
            }
        },
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
        // The name is the last token of the user's command subject: one that NATS could not
        // deliver there would map nobody.
        if !crate::share::functions::is_token(name) {
            return Err(src.invalid(
                &u.extension,
                &format!("shared.users.{name}"),
                "expected a NATS user name of letters, digits, '-' or '_' (it ends the user's command subject)",
            ));
        }
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
    use super::creds_user_name;

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

    /// A credentials file as `nsc` writes it, its JWT's claims as given (the signature is
    /// not checked here: the NATS server does that).
    fn creds(claims: &str) -> String {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!(
            "-----BEGIN NATS USER JWT-----\n{}.{}.c2ln\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\n\
             -----BEGIN USER NKEY SEED-----\nSUAIO3FHUX5PNV2LQIIP7TZ3N4L7TX3W53MQGEIVYFIGA635OZCKEYHFLM\n\
             ------END USER NKEY SEED------\n",
            b64(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#),
            b64(claims)
        )
    }

    #[test]
    fn a_creds_or_nkey_user_is_named_by_its_jwt_or_by_shared_user() {
        let dir = Dir::new("shared-names");
        dir.write(
            "carol.creds",
            &creds(r#"{"jti":"X","name":"carol","sub":"UABC","nats":{"type":"user"}}"#),
            0o600,
        );
        dir.write(
            "dave.nk",
            "SUAIO3FHUX5PNV2LQIIP7TZ3N4L7TX3W53MQGEIVYFIGA635OZCKEYHFLM\n",
            0o600,
        );
        let user = |text: &str| match with(&dir, text) {
            Ok(c) => c
                .shared
                .expect("shared")
                .credentials
                .user()
                .map(str::to_owned),
            Err(e) => panic!("{text}\n-> {e}"),
        };
        let head = "[shared]\nnats = \"nats://127.0.0.1\"\nsite = \"hq\"\n";
        // The creds file's JWT names its user; [shared] user names another subject instead.
        assert_eq!(
            user(&format!("{head}creds_file = \"carol.creds\"\n")).as_deref(),
            Some("carol")
        );
        assert_eq!(
            user(&format!(
                "{head}creds_file = \"carol.creds\"\nuser = \"carol-2\"\n"
            ))
            .as_deref(),
            Some("carol-2")
        );
        // An nkey has no name but the one given; without it the viewer has none.
        assert_eq!(
            user(&format!("{head}nkey_file = \"dave.nk\"\nuser = \"dave\"\n")).as_deref(),
            Some("dave")
        );
        assert_eq!(user(&format!("{head}nkey_file = \"dave.nk\"\n")), None);
        assert_eq!(user(head), None);
    }

    #[test]
    fn a_creds_file_whose_user_cannot_be_named_says_what_to_set() {
        for (claims, says) in [
            (r#"{"sub":"UABC"}"#, "no \"name\" claim"),
            (
                r#"{"name":"Carol Smith"}"#,
                "\"Carol Smith\", which cannot end a NATS subject",
            ),
            ("not json", "not JSON"),
        ] {
            let e = creds_user_name(&creds(claims))
                .expect_err(claims)
                .to_string();
            assert!(e.contains(says), "{claims} -> {e}");
        }
        let e = creds_user_name("SUAIO3FHUX5PNV2LQ\n")
            .expect_err("no JWT")
            .to_string();
        assert!(e.contains("BEGIN NATS USER JWT"), "{e}");
        let e = creds_user_name("-----BEGIN NATS USER JWT-----\neyJ.x\n")
            .expect_err("two parts")
            .to_string();
        assert!(e.contains("2 parts"), "{e}");

        let dir = Dir::new("shared-noname");
        dir.write("x.creds", &creds(r#"{"name":"Carol Smith"}"#), 0o600);
        let e = match with(
            &dir,
            "[shared]\nnats = \"nats://127.0.0.1\"\nsite = \"hq\"\ncreds_file = \"x.creds\"\n",
        ) {
            Ok(_) => panic!("accepted a name that cannot end a subject"),
            Err(e) => e,
        };
        assert!(
            e.contains("shared.creds_file") && e.contains("[shared] user = \"NAME\""),
            "{e}"
        );
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
                "[shared]\nnats = \"nats://127.0.0.1\"\nsite = \"hq\"\nuser = \"a.b\"\npassword_file = \"pw\"\n",
                "shared.user",
                "command subject",
            ),
            (
                "[shared]\nnats = \"nats://127.0.0.1\"\nsite = \"hq\"\n[shared.users.bob]\nextension = \"x1\"\n",
                "shared.users.bob.extension",
                "extension number",
            ),
            (
                "[shared]\nnats = \"nats://127.0.0.1\"\nsite = \"hq\"\n[shared.users.\"a.b\"]\nextension = \"4100\"\n",
                "shared.users.a.b",
                "NATS user name",
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
