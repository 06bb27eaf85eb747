//! `R` after the PBX refused the login: re-read the configuration and the password source,
//! and log in again only if the credentials changed. IP Office locks a service user out after
//! repeated failures, so a password the PBX refused is never sent again.

use std::fmt;

use sha2::{Digest, Sha256};

use super::config::{Config, ConfigError, PasswordSource};
use crate::session::Endpoint;

/// Who ipo-top logs in as, where: the password is kept only as a digest, so the refused
/// password does not stay in memory after its session is gone.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginIdentity {
    host: String,
    port: u16,
    username: String,
    password_sha256: [u8; 32],
}

impl LoginIdentity {
    /// The identity an endpoint logs in with.
    pub fn of(endpoint: &Endpoint) -> LoginIdentity {
        LoginIdentity {
            host: endpoint.host.to_ascii_lowercase(),
            port: endpoint.port,
            username: endpoint.username.clone(),
            password_sha256: Sha256::digest(endpoint.password.expose().as_bytes()).into(),
        }
    }
}

impl fmt::Debug for LoginIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginIdentity")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What to do about a retry.
#[derive(Debug)]
pub enum RetryDecision {
    /// The credentials changed: start a new session with this configuration.
    Retry(Box<Config>),
    /// Do not log in; the reason says what to fix.
    Refuse(String),
}

/// Decides a retry after the login `refused` was refused, given the configuration read again.
pub fn decide(refused: &LoginIdentity, fresh: Result<Config, ConfigError>) -> RetryDecision {
    let config = match fresh {
        Ok(c) => c,
        Err(e) => {
            return RetryDecision::Refuse(format!(
                "the configuration cannot be used: {e}. Fix it, then press R."
            ));
        }
    };
    if LoginIdentity::of(&config.endpoint) != *refused {
        return RetryDecision::Retry(Box::new(config));
    }
    let fix = match &config.password_source {
        PasswordSource::File(p) => format!(
            "put the right password in {} (or fix pbx.username in {}), then press R",
            p.display(),
            config.path.display()
        ),
        // A running process never sees its environment change.
        PasswordSource::Env(v) => format!(
            "{v} cannot change while ipo-top runs: set pbx.password_file in {} instead (or \
             fix pbx.username), then press R; or quit and start ipo-top again with the right \
             password",
            config.path.display()
        ),
    };
    RetryDecision::Refuse(format!(
        "the username and password are still the ones the PBX refused, and a refused password \
         is never sent again: {fix}."
    ))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::app::config::parse;
    use crate::app::config::tests::Dir;

    impl Dir {
        fn password(&self, text: &str) -> PathBuf {
            self.write("pw", text, 0o600)
        }
        fn config(&self, username: &str) -> Result<Config, ConfigError> {
            let path = self.0.join("config.toml");
            let text = format!(
                "[pbx]\nhost = \"ipo.example.net\"\nusername = \"{username}\"\n\
                 password_file = \"pw\"\n"
            );
            parse(&path, &text)
        }
    }
    fn refused_identity(d: &Dir) -> LoginIdentity {
        match d.config("ctiservice") {
            Ok(c) => LoginIdentity::of(&c.endpoint),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn unchanged_credentials_are_refused_saying_what_to_fix() {
        let d = Dir::new("unchanged");
        d.password("wrong horse\n");
        let refused = refused_identity(&d);
        // Nothing was fixed: R re-reads the same file and refuses.
        match decide(&refused, d.config("ctiservice")) {
            RetryDecision::Refuse(why) => {
                assert!(why.contains("still the ones the PBX refused"), "{why}");
                assert!(why.contains(&d.0.join("pw").display().to_string()), "{why}");
            }
            RetryDecision::Retry(_) => panic!("a refused password would be sent again"),
        }
    }

    #[test]
    fn a_fixed_password_or_username_is_retried() {
        let d = Dir::new("fixed");
        d.password("wrong horse\n");
        let refused = refused_identity(&d);
        d.password("correct horse\n");
        match decide(&refused, d.config("ctiservice")) {
            RetryDecision::Retry(c) => assert_eq!(c.endpoint.password.expose(), "correct horse"),
            RetryDecision::Refuse(why) => panic!("{why}"),
        }
        d.password("wrong horse\n");
        assert!(matches!(
            decide(&refused, d.config("other-user")),
            RetryDecision::Retry(_)
        ));
    }

    #[test]
    fn a_broken_configuration_is_refused_with_its_error() {
        let d = Dir::new("broken");
        d.password("wrong horse\n");
        let refused = refused_identity(&d);
        let broken = parse(Path::new("c.toml"), "[pbx]\nhost = \"\"\n");
        match decide(&refused, broken) {
            RetryDecision::Refuse(why) => {
                assert!(why.contains("configuration cannot be used"), "{why}")
            }
            RetryDecision::Retry(_) => panic!("retried with a broken configuration"),
        }
    }

    #[test]
    fn a_password_from_the_environment_says_it_cannot_change() {
        let text = "[pbx]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"PATH\"\n";
        let c = |t: &str| parse(Path::new("c.toml"), t);
        let refused = match c(text) {
            Ok(cfg) => LoginIdentity::of(&cfg.endpoint),
            Err(e) => panic!("{e}"),
        };
        match decide(&refused, c(text)) {
            RetryDecision::Refuse(why) => {
                assert!(
                    why.contains("PATH cannot change while ipo-top runs"),
                    "{why}"
                )
            }
            RetryDecision::Retry(_) => panic!("retried unchanged credentials"),
        }
        assert!(!format!("{refused:?}").contains("password"));
    }
}
