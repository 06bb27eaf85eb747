//! `R` after the PBX refused the login: re-read the configuration and the password source,
//! and log in again only if the credentials changed. IP Office locks a service user out after
//! repeated failures, so a password the PBX refused is never sent again.

use super::config::{Config, ConfigError, PasswordSource};
use crate::model::PbxSystem;
pub use crate::session::LoginIdentity;
use crate::session::{ConnectError, Endpoint};

/// Whom the running session logs in as on each system, and which of those logins a system
/// refused: `R` is judged against the system that refused, not always the primary.
#[derive(Debug, Clone)]
pub struct Logins {
    /// host:port and identity of the primary, then of the secondary if there is one.
    systems: Vec<(String, LoginIdentity)>,
    refused: Option<LoginIdentity>,
}

impl Logins {
    /// The logins of a session started with these endpoints.
    pub fn of(primary: &Endpoint, secondary: Option<&Endpoint>) -> Logins {
        Logins {
            systems: std::iter::once(primary)
                .chain(secondary)
                .map(|e| (e.authority(), LoginIdentity::of(e)))
                .collect(),
            refused: None,
        }
    }

    /// Takes note of a failed attempt: a refused login names the system that refused it.
    pub fn note(&mut self, e: &ConnectError) {
        if let ConnectError::LoginRejected { authority, .. }
        | ConnectError::NotResent { authority, .. } = e
        {
            if let Some((_, id)) = self.systems.iter().find(|(a, _)| a == authority) {
                self.refused = Some(id.clone());
            }
        }
    }

    /// Which system refused the login, when known.
    pub fn refused_system(&self) -> Option<PbxSystem> {
        let refused = self.refused.as_ref()?;
        match self.systems.iter().position(|(_, id)| id == refused)? {
            0 => Some(PbxSystem::Primary),
            _ => Some(PbxSystem::Secondary),
        }
    }

    /// The logins a retry must not repeat: the one refused, or (when it is not known which
    /// system refused) every one in use.
    fn refused(&self) -> Vec<LoginIdentity> {
        match &self.refused {
            Some(id) => vec![id.clone()],
            None => self.systems.iter().map(|(_, id)| id.clone()).collect(),
        }
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

/// Decides a retry after a login was refused, given the configuration read again: refused
/// when the new configuration would send the refused credentials to the system that refused
/// them (primary or secondary alike).
pub fn decide(logins: &Logins, fresh: Result<Config, ConfigError>) -> RetryDecision {
    let config = match fresh {
        Ok(c) => c,
        Err(e) => {
            return RetryDecision::Refuse(format!(
                "the configuration cannot be used: {e}. Fix it, then press R."
            ));
        }
    };
    let refused = logins.refused();
    let again = std::iter::once(&config.endpoint)
        .chain(config.session.secondary.as_ref())
        .map(LoginIdentity::of)
        .any(|id| refused.contains(&id));
    if !again {
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
    fn refused_identity(d: &Dir) -> Logins {
        match d.config("ctiservice") {
            Ok(c) => Logins::of(&c.endpoint, c.session.secondary.as_ref()),
            Err(e) => panic!("{e}"),
        }
    }

    fn with_secondary(d: &Dir, primary: &str) -> Config {
        let text = format!(
            "[pbx]\nhost = \"{primary}\"\nsecondary = \"ipo2.example.net\"\n\
             username = \"ctiservice\"\npassword_file = \"pw\"\n"
        );
        match parse(&d.0.join("config.toml"), &text) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    fn refused_by(host: &str) -> ConnectError {
        ConnectError::LoginRejected {
            status: 401,
            username: "ctiservice".into(),
            authority: format!("{host}:443"),
        }
    }

    #[test]
    fn a_login_the_secondary_refused_is_judged_against_the_secondary() {
        let d = Dir::new("secondary");
        d.password("wrong horse\n");
        let running = with_secondary(&d, "ipo.example.net");
        let mut logins = Logins::of(&running.endpoint, running.session.secondary.as_ref());
        logins.note(&refused_by("ipo2.example.net"));
        assert_eq!(logins.refused_system(), Some(PbxSystem::Secondary));
        // Only the primary changed: the retry would go to the secondary with the password it
        // refused.
        match decide(&logins, Ok(with_secondary(&d, "ipo-new.example.net"))) {
            RetryDecision::Refuse(why) => {
                assert!(why.contains("still the ones the PBX refused"), "{why}")
            }
            RetryDecision::Retry(_) => panic!("the secondary would get its refused password"),
        }
        // The password is fixed: both systems get the new one.
        d.password("correct horse\n");
        match decide(&logins, Ok(with_secondary(&d, "ipo.example.net"))) {
            RetryDecision::Retry(c) => {
                assert_eq!(c.endpoint.password.expose(), "correct horse");
                let s = c.session.secondary.as_ref().map(|s| s.password.expose());
                assert_eq!(s, Some("correct horse"));
            }
            RetryDecision::Refuse(why) => panic!("{why}"),
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
            Ok(cfg) => Logins::of(&cfg.endpoint, None),
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
