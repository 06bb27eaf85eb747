//! The configuration file (TOML): where the PBX is, who we are to it, how its certificate is
//! trusted. Unknown keys and bad values are errors that name the file, the line, the key and
//! what is expected. The password itself is never in the file, argv, logs or errors: it comes
//! from an environment variable or from a file only its owner can read.

mod alerts;
mod error;
mod scope;
mod shared;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::clock::{ZoneCalendar, wall_clock};
use crate::model::{AlertConfig, StatsConfig};
use crate::session::{Endpoint, Fingerprint, Secret, SessionConfig, Trust};
use crate::ui::{Keymap, KeymapError};
pub use alerts::DEFAULT_ROTATE_SECS;
use alerts::{RawAlerts, RawWall, alert_config, wall_rotate};
pub use error::ConfigError;
use error::Source;
use scope::{RawScope, scope_settings};
pub use scope::{ScopeFlags, ScopeSettings, parse_agents};
pub use shared::{NatsCredentials, SharedSettings};
use shared::{RawShared, shared_settings};

/// The hint given when there is no configuration file.
pub const NO_CONFIG_HINT: &str = "copy config.example.toml there and edit it, or pass --config PATH; \
     to see ipo-top without a PBX, run `ipo-top --demo`";

/// The session settings for `--demo` (no configuration file): the demo site's supervisor
/// (4100), statistics counted in the local time zone, and `read_only` as decided.
pub fn demo_session_config(read_only: bool) -> SessionConfig {
    let calendar = ZoneCalendar::named("local").ok();
    SessionConfig {
        read_only,
        supervisor_extension: Some("4100".to_owned()),
        stats: StatsConfig {
            clock: calendar.map(|c| wall_clock(std::sync::Arc::new(c))),
            ..StatsConfig::default()
        },
        ..SessionConfig::default()
    }
}

/// The default configuration file: `config.toml` in the user's configuration directory
/// (`~/.config/ipo-top/config.toml` on Linux).
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "ipo-top").map(|d| d.config_dir().join("config.toml"))
}

/// Everything the configuration says, resolved (paths made absolute, password read).
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// How to reach the PBX.
    pub endpoint: Endpoint,
    /// How the session behaves.
    pub session: SessionConfig,
    /// The supervisor's own extension, if configured.
    pub supervisor_extension: Option<String>,
    /// Where the password comes from (to say what to fix after a refused login).
    pub password_source: PasswordSource,
    /// The screen's settings (`[ui]`).
    pub ui: UiSettings,
    /// The keymap, with `[keys]` applied.
    pub keymap: Keymap,
    /// What this supervisor watches (`[scope]`); the session is given its [`Scope`].
    ///
    /// [`Scope`]: crate::model::Scope
    pub scope: ScopeSettings,
    /// Thresholds and alerts (`[alerts]`).
    pub alerts: AlertConfig,
    /// How long each page of the wallboard shows (`[wall] rotate_secs`).
    pub wall_rotate: Duration,
    /// What the file says that still works but should change (an old key), for the log
    /// once it is open.
    pub warnings: Vec<String>,
    /// Shared mode (`[shared]`): the NATS server and site, if configured.
    pub shared: Option<SharedSettings>,
    /// Whether the file names a PBX (`[pbx]`); a shared-mode viewer's need not.
    pub has_pbx: bool,
}

impl Config {
    /// Fails, saying what to do, when the file names no PBX (a viewer's file used for a
    /// command that connects to the PBX).
    pub fn require_pbx(&self) -> Result<(), ConfigError> {
        if self.has_pbx {
            return Ok(());
        }
        Err(ConfigError::Invalid {
            location: self.path.display().to_string(),
            key: "pbx".to_owned(),
            message: "this file has no [pbx]: add it to connect to the PBX, or run with \
                      --shared to watch the site through NATS"
                .to_owned(),
        })
    }

    /// Whether this run is read-only: `--read-only` (`flag`) or `[ui] read_only`. The one
    /// place the two meet; the screen and the session are both given the answer.
    pub fn read_only(&self, flag: bool) -> bool {
        flag || self.ui.read_only
    }

    /// Applies `--queue` and `--agents` for this run: the one place the file and the flags
    /// meet; the session (and through it `check`, `events` and the screen) is given the
    /// result.
    pub fn override_scope(&mut self, flags: &ScopeFlags) {
        self.scope = self.scope.overridden(flags);
        self.session.scope = self.scope.scope();
    }
}

/// Where the password is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// An environment variable (`password_env`).
    Env(String),
    /// A file (`password_file`), resolved against the configuration's directory.
    File(PathBuf),
}

impl fmt::Display for PasswordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordSource::Env(v) => write!(f, "the environment variable {v}"),
            PasswordSource::File(p) => write!(f, "the password file {}", p.display()),
        }
    }
}

/// The screen's settings (`[ui]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UiSettings {
    /// Read-only (`[ui] read_only` or `--read-only`): every function is hidden and blocked,
    /// and the session sends no SubscribeCmd at all.
    pub read_only: bool,
    /// Whether force clear (`F`) is offered (`[ui] allow_force_clear`); the document calls it
    /// brutal and says it should not normally be offered.
    pub allow_force_clear: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// Required, except in a shared-mode viewer's file (`[shared]` without `[pbx]`).
    pbx: Option<RawPbx>,
    #[serde(default)]
    tls: RawTls,
    supervisor: Option<RawSupervisor>,
    #[serde(default)]
    session: RawSession,
    #[serde(default)]
    stats: RawStats,
    #[serde(default)]
    ui: RawUi,
    #[serde(default)]
    scope: RawScope,
    #[serde(default)]
    alerts: RawAlerts,
    #[serde(default)]
    wall: RawWall,
    #[serde(default)]
    keys: std::collections::BTreeMap<String, Spanned<RawKeys>>,
    shared: Option<RawShared>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStats {
    service_level_secs: Option<Spanned<i64>>,
    short_abandon_secs: Option<Spanned<i64>>,
    timezone: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawUi {
    read_only: Option<bool>,
    allow_force_clear: Option<bool>,
    long_wait_secs: Option<Spanned<i64>>,
}

/// One key or several for an action in `[keys]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawKeys {
    One(String),
    Many(Vec<String>),
}

impl RawKeys {
    fn keys(&self) -> Vec<String> {
        match self {
            RawKeys::One(k) => vec![k.clone()],
            RawKeys::Many(ks) => ks.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPbx {
    host: Spanned<String>,
    port: Option<Spanned<i64>>,
    username: Spanned<String>,
    password_env: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    connect_timeout_secs: Option<Spanned<i64>>,
    secondary: Option<Spanned<String>>,
    secondary_port: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca_file: Option<Spanned<String>>,
    fingerprint: Option<Spanned<String>>,
    secondary_fingerprint: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSupervisor {
    extension: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSession {
    subscribe_window: Option<Spanned<i64>>,
    subscription_timeout_secs: Option<Spanned<i64>>,
}

/// Reads the configuration at `path`, or at the default path when `None`.
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    let (path, text) = read(path)?;
    parse(&path, &text)
}

/// Which system `ipo-top trust` looks at, from the configuration (its password is not read:
/// trusting a certificate needs no credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustTarget {
    /// The configuration file (where the pin is written).
    pub path: PathBuf,
    /// The host.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The key the pin goes in: `fingerprint`, or `secondary_fingerprint`.
    pub key: &'static str,
}

/// Reads the host and port `ipo-top trust` connects to: `[pbx] host` (or `secondary` with
/// `secondary`) and its port.
pub fn trust_target(path: Option<&Path>, secondary: bool) -> Result<TrustTarget, ConfigError> {
    let (path, text) = read(path)?;
    let src = Source {
        path: &path,
        text: &text,
    };
    let raw: RawConfig = toml::from_str(&text).map_err(|e| src.toml_error(&e))?;
    let pbx = raw.pbx.as_ref().ok_or_else(|| no_pbx(&src))?;
    let primary_port = src.port(pbx.port.as_ref(), "pbx.port", 443)?;
    let (host, port, key) = if secondary {
        let Some(h) = &pbx.secondary else {
            return Err(ConfigError::Invalid {
                location: src.location(None),
                key: "pbx.secondary".to_owned(),
                message: "there is no secondary system to trust; add [pbx] secondary first"
                    .to_owned(),
            });
        };
        (
            h.get_ref().trim().to_owned(),
            src.port(
                pbx.secondary_port.as_ref(),
                "pbx.secondary_port",
                primary_port,
            )?,
            "secondary_fingerprint",
        )
    } else {
        (
            pbx.host.get_ref().trim().to_owned(),
            primary_port,
            "fingerprint",
        )
    };
    if !is_host(&host) {
        return Err(ConfigError::Invalid {
            location: src.location(None),
            key: if secondary {
                "pbx.secondary"
            } else {
                "pbx.host"
            }
            .to_owned(),
            message: "expected a host name or IP address".to_owned(),
        });
    }
    Ok(TrustTarget {
        path,
        host,
        port,
        key,
    })
}

fn read(path: Option<&Path>) -> Result<(PathBuf, String), ConfigError> {
    let (path, given) = match path {
        Some(p) => (p.to_owned(), true),
        None => (default_path().ok_or(ConfigError::NoDefaultPath)?, false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::Missing {
                path,
                hint: if given {
                    "check the path given to --config"
                } else {
                    NO_CONFIG_HINT
                },
            });
        }
        Err(e) => {
            return Err(ConfigError::Read {
                path,
                reason: e.to_string(),
            });
        }
    };
    Ok((path, text))
}

/// Parses and resolves a configuration's text (`path` names it in errors and anchors relative
/// paths). Tables are read in file order so that the first error reported is the first written.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let src = Source { path, text };
    let raw: RawConfig = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    let base = path.parent().unwrap_or(Path::new("."));

    // A shared-mode viewer needs no PBX (nor its password): the serving process has those.
    let (pbx, (host, port, username, password, connect_timeout)) = match &raw.pbx {
        Some(pbx) => (Some(pbx), pbx_settings(&src, pbx, base)?),
        None if raw.shared.is_some() => (
            None,
            (
                String::new(),
                443,
                String::new(),
                Secret::new(""),
                Duration::from_secs(10),
            ),
        ),
        None => return Err(no_pbx(&src)),
    };
    let trust = tls_trust(&src, &raw.tls, base)?;
    let mut session = session_settings(&src, &raw.session)?;
    // Jitter differs per process so that several ipo-top instances do not reconnect in step.
    session.seed = u64::from(std::process::id()) ^ 0x1970_0101;
    session.stats = stats_config(&src, &raw.stats)?;
    let supervisor_extension = supervisor_extension(&src, raw.supervisor.as_ref())?;
    session.supervisor_extension = supervisor_extension.clone();

    let endpoint = Endpoint {
        host,
        port,
        username,
        password,
        trust,
        connect_timeout,
    };
    session.secondary = match pbx {
        Some(pbx) => secondary_endpoint(&src, pbx, &raw.tls, &endpoint)?,
        None => None,
    };
    let password_source = pbx.map_or(PasswordSource::Env(String::new()), |p| {
        password_source(p, base)
    });

    let ui = UiSettings {
        read_only: raw.ui.read_only.unwrap_or(false),
        allow_force_clear: raw.ui.allow_force_clear.unwrap_or(false),
    };
    session.read_only = ui.read_only;
    let (alerts, old_key) = alert_config(&src, &raw.alerts, raw.ui.long_wait_secs.as_ref())?;
    let wall_rotate = wall_rotate(&src, &raw.wall)?;
    let keymap = keymap(&src, &raw.keys, ui.allow_force_clear)?;
    let scope = scope_settings(&src, &raw.scope)?;
    session.scope = scope.scope();
    let shared = shared_settings(&src, raw.shared.as_ref(), base)?;

    Ok(Config {
        path: path.to_owned(),
        endpoint,
        session,
        supervisor_extension,
        password_source,
        ui,
        keymap,
        scope,
        alerts,
        wall_rotate,
        warnings: old_key.into_iter().collect(),
        shared,
        has_pbx: pbx.is_some(),
    })
}

/// `[pbx]` is missing (and this is no shared-mode viewer's file).
fn no_pbx(src: &Source<'_>) -> ConfigError {
    ConfigError::Invalid {
        location: src.location(None),
        key: "pbx".to_owned(),
        message: "required, but missing (see config.example.toml); a shared-mode viewer's \
                  file may have [shared] instead"
            .to_owned(),
    }
}

/// `[pbx]` for the primary system: host, port, service user, password, connect timeout.
fn pbx_settings(
    src: &Source<'_>,
    pbx: &RawPbx,
    base: &Path,
) -> Result<(String, u16, String, Secret, Duration), ConfigError> {
    let host = pbx.host.get_ref().trim().to_owned();
    if !is_host(&host) {
        return Err(src.invalid(
            &pbx.host,
            "pbx.host",
            "expected a host name or IP address, e.g. \"ipo.example.net\" or \"10.1.2.3\"",
        ));
    }
    let port = src.port(pbx.port.as_ref(), "pbx.port", 443)?;
    let username = pbx.username.get_ref().clone();
    if username.is_empty() || username.contains(':') {
        return Err(src.invalid(
            &pbx.username,
            "pbx.username",
            "expected the service user's name (not empty, no ':')",
        ));
    }
    let password = match (&pbx.password_env, &pbx.password_file) {
        (Some(env), None) => password_from_env(src, env)?,
        (None, Some(file)) => password_from_file(src, base, file)?,
        (Some(env), Some(_)) => {
            return Err(src.invalid(
                env,
                "pbx.password_env",
                "give password_env or password_file, not both",
            ));
        }
        (None, None) => {
            return Err(ConfigError::Invalid {
                location: src.location(Some(pbx.host.span().start)),
                key: "pbx.password_env".to_owned(),
                message: "required: password_env = \"VARIABLE\" or password_file = \"PATH\" \
                          (the password itself never goes in this file)"
                    .to_owned(),
            });
        }
    };
    let connect_timeout = match &pbx.connect_timeout_secs {
        None => Duration::from_secs(10),
        Some(s) => Duration::from_secs(src.number(
            s,
            "pbx.connect_timeout_secs",
            |n| (1..=300).contains(n),
            "expected seconds from 1 to 300",
        )?),
    };
    Ok((host, port, username, password, connect_timeout))
}

/// Where the password comes from, to say what to fix after a refused login (already checked
/// by [`pbx_settings`]).
fn password_source(pbx: &RawPbx, base: &Path) -> PasswordSource {
    match (&pbx.password_env, &pbx.password_file) {
        (_, Some(file)) => PasswordSource::File(base.join(file.get_ref())),
        (Some(env), None) => PasswordSource::Env(env.get_ref().clone()),
        (None, None) => PasswordSource::Env(String::new()),
    }
}

/// `[tls]`: how the primary's certificate is trusted.
fn tls_trust(src: &Source<'_>, tls: &RawTls, base: &Path) -> Result<Trust, ConfigError> {
    match (&tls.ca_file, &tls.fingerprint) {
        (Some(ca), None) => {
            let p = base.join(ca.get_ref());
            if !p.is_file() {
                return Err(src.invalid(
                    ca,
                    "tls.ca_file",
                    format!(
                        "expected a PEM file with the PBX's CA certificate; {} does not exist",
                        p.display()
                    ),
                ));
            }
            Ok(Trust::CaFile(p))
        }
        (None, Some(fp)) => Ok(Trust::Fingerprint(
            fp.get_ref()
                .parse::<Fingerprint>()
                .map_err(|e| src.invalid(fp, "tls.fingerprint", e))?,
        )),
        (Some(ca), Some(_)) => {
            Err(src.invalid(ca, "tls.ca_file", "give ca_file or fingerprint, not both"))
        }
        (None, None) => Ok(Trust::SystemRoots),
    }
}

/// `[session]`: subscription flow control and expiry.
fn session_settings(src: &Source<'_>, raw: &RawSession) -> Result<SessionConfig, ConfigError> {
    let mut session = SessionConfig::default();
    if let Some(w) = &raw.subscribe_window {
        session.subscribe_window = src.number(
            w,
            "session.subscribe_window",
            |n| (1..=1024).contains(n),
            "expected a number of outstanding subscribe requests from 1 to 1024",
        )?;
    }
    if let Some(t) = &raw.subscription_timeout_secs {
        session.subscription_timeout_secs = src.number(
            t,
            "session.subscription_timeout_secs",
            |n| matches!(n, 0 | 60..=86_400),
            "expected 0 (no expiry) or seconds from 60 to 86400",
        )?;
    }
    Ok(session)
}

/// `[supervisor] extension`, if the table is there.
fn supervisor_extension(
    src: &Source<'_>,
    raw: Option<&RawSupervisor>,
) -> Result<Option<String>, ConfigError> {
    let Some(s) = raw else { return Ok(None) };
    let e = s.extension.get_ref().trim();
    if e.is_empty() || !e.chars().all(|c| c.is_ascii_digit()) {
        return Err(src.invalid(
            &s.extension,
            "supervisor.extension",
            "expected the supervisor's extension number, e.g. \"4190\"",
        ));
    }
    Ok(Some(e.to_owned()))
}

/// `[keys]`: the keymap with the overrides applied; an error points at the override it is about.
fn keymap(
    src: &Source<'_>,
    keys: &std::collections::BTreeMap<String, Spanned<RawKeys>>,
    allow_force_clear: bool,
) -> Result<Keymap, ConfigError> {
    let overrides: Vec<(&str, Vec<String>)> = keys
        .iter()
        .map(|(action, keys)| (action.as_str(), keys.get_ref().keys()))
        .collect();
    Keymap::build(
        overrides.iter().map(|(a, k)| (*a, k.iter())),
        allow_force_clear,
    )
    .map_err(|e| {
        // For a double binding, one of the two actions was overridden.
        let named = match &e {
            KeymapError::UnknownAction { name } => Some(name.as_str()),
            KeymapError::NoKeys { action }
            | KeymapError::BadKey { action, .. }
            | KeymapError::TypedKey { action, .. } => Some(*action),
            KeymapError::ConfirmKey { .. } => Some("confirm"),
            KeymapError::ForceClearOff => Some("force_clear"),
            KeymapError::DoubleBinding { first, second, .. } => keys
                .contains_key(*second)
                .then_some(*second)
                .or(Some(*first)),
        };
        match named.and_then(|n| keys.get(n).map(|span| (n, span))) {
            Some((n, span)) => src.invalid(span, &format!("keys.{n}"), &e),
            None => ConfigError::Invalid {
                location: src.location(None),
                key: "keys".to_owned(),
                message: e.to_string(),
            },
        }
    })
}

/// A host name or IP address as written in `[pbx]`: not empty, no path, no spaces.
fn is_host(host: &str) -> bool {
    !(host.is_empty() || host.contains('/') || host.contains(' '))
}

/// `[pbx] secondary`: the same service user on the secondary system, trusted the same way
/// (with `[tls] secondary_fingerprint` instead of `fingerprint` when pinning: each system has
/// its own certificate).
fn secondary_endpoint(
    src: &Source<'_>,
    pbx: &RawPbx,
    tls: &RawTls,
    primary: &Endpoint,
) -> Result<Option<Endpoint>, ConfigError> {
    let Some(host) = &pbx.secondary else {
        if let Some(fp) = &tls.secondary_fingerprint {
            return Err(src.invalid(
                fp,
                "tls.secondary_fingerprint",
                "there is no [pbx] secondary to pin; remove it or add the secondary system",
            ));
        }
        return Ok(None);
    };
    let name = host.get_ref().trim().to_owned();
    if !is_host(&name) {
        return Err(src.invalid(
            host,
            "pbx.secondary",
            "expected the secondary system's host name or IP address, e.g. \"10.1.2.4\"",
        ));
    }
    if name == primary.host && pbx.secondary_port.is_none() {
        return Err(src.invalid(
            host,
            "pbx.secondary",
            "the secondary is the primary itself; give the other system's address",
        ));
    }
    let port = src.port(
        pbx.secondary_port.as_ref(),
        "pbx.secondary_port",
        primary.port,
    )?;
    let trust = match (&primary.trust, &tls.secondary_fingerprint) {
        (Trust::Fingerprint(_), Some(fp)) => Trust::Fingerprint(
            fp.get_ref()
                .parse::<Fingerprint>()
                .map_err(|e| src.invalid(fp, "tls.secondary_fingerprint", e))?,
        ),
        (Trust::Fingerprint(_), None) => {
            return Err(src.invalid(
                host,
                "pbx.secondary",
                "the primary's certificate is pinned with [tls] fingerprint; pin the \
                 secondary's too with [tls] secondary_fingerprint (ipo-top trust --secondary \
                 shows it)",
            ));
        }
        (_, Some(fp)) => {
            return Err(src.invalid(
                fp,
                "tls.secondary_fingerprint",
                "goes with [tls] fingerprint; with ca_file or the system roots the secondary \
                 is checked the same way as the primary",
            ));
        }
        (other, None) => other.clone(),
    };
    Ok(Some(Endpoint {
        host: name,
        port,
        trust,
        ..primary.clone()
    }))
}

/// `[stats]`: thresholds and the time zone whose midnight starts the counting period.
fn stats_config(src: &Source<'_>, raw: &RawStats) -> Result<StatsConfig, ConfigError> {
    let mut stats = StatsConfig::default();
    if let Some(s) = &raw.service_level_secs {
        stats.service_level = Duration::from_secs(src.number(
            s,
            "stats.service_level_secs",
            |n| (1..=3600).contains(n),
            "expected seconds from 1 to 3600 within which a call counts as answered in time",
        )?);
    }
    if let Some(s) = &raw.short_abandon_secs {
        stats.short_abandon = Duration::from_secs(src.number(
            s,
            "stats.short_abandon_secs",
            |n| (0..=600).contains(n),
            "expected seconds from 0 (count every abandon) to 600",
        )?);
    }
    let calendar = match &raw.timezone {
        // Without a usable local zone (no time zone database), counting starts at start only.
        None => ZoneCalendar::named("local").ok(),
        Some(z) => Some(
            ZoneCalendar::named(z.get_ref().trim())
                .map_err(|e| src.invalid(z, "stats.timezone", e))?,
        ),
    };
    stats.clock = calendar.map(|c| wall_clock(std::sync::Arc::new(c)));
    Ok(stats)
}

fn password_from_env(src: &Source<'_>, var: &Spanned<String>) -> Result<Secret, ConfigError> {
    let name = var.get_ref();
    if name.is_empty() || name.contains('=') {
        return Err(src.invalid(
            var,
            "pbx.password_env",
            "expected the name of an environment variable, e.g. \"IPO_TOP_PASSWORD\"",
        ));
    }
    match std::env::var(name) {
        Ok(p) if !p.is_empty() => Ok(Secret::new(p)),
        Ok(_) => Err(src.invalid(
            var,
            "pbx.password_env",
            format!(
                "the environment variable {name} is empty; set it to the service user's password"
            ),
        )),
        Err(_) => Err(src.invalid(
            var,
            "pbx.password_env",
            format!(
                "the environment variable {name} is not set; set it to the service user's password"
            ),
        )),
    }
}

fn password_from_file(
    src: &Source<'_>,
    base: &Path,
    file: &Spanned<String>,
) -> Result<Secret, ConfigError> {
    use std::io::Read;
    let path = base.join(file.get_ref());
    // Opened once, checked on the handle (a regular file of ours that nobody else can read)
    // and read from that same handle: nothing can be swapped in between.
    let mut text = String::new();
    super::private::open_secret(&path)
        .map_err(|e| src.invalid(file, "pbx.password_file", e.to_string()))?
        .read_to_string(&mut text)
        .map_err(|e| {
            src.invalid(
                file,
                "pbx.password_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
    // One trailing line end is the editor's, not the password's.
    let pw = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if pw.is_empty() {
        return Err(src.invalid(
            file,
            "pbx.password_file",
            format!("{} is empty", path.display()),
        ));
    }
    Ok(Secret::new(pw))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A scratch directory for configuration files (and password files beside them), removed
    /// when dropped; names are unique within the process.
    pub(in crate::app) struct Dir(pub(in crate::app) PathBuf);
    impl Dir {
        pub(in crate::app) fn new(name: &str) -> Dir {
            let d =
                std::env::temp_dir().join(format!("ipo-top-config-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            let _ = std::fs::create_dir_all(&d);
            Dir(d)
        }
        pub(in crate::app) fn write(&self, name: &str, text: &str, mode: u32) -> PathBuf {
            let p = self.0.join(name);
            let _ = std::fs::write(&p, text);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode));
            }
            #[cfg(not(unix))]
            let _ = mode;
            p
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn err(path: &Path, text: &str) -> String {
        match parse(path, text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_good_file_resolves_relative_paths_and_reads_the_password_file() {
        let d = Dir::new("good");
        d.write("pw", "correct horse\n", 0o600);
        let cfg = "[pbx]\nhost = \"10.1.2.3\"\nport = 8443\nusername = \"ctiservice\"\n\
                   password_file = \"pw\"\n\n[tls]\nfingerprint = \"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\"\n\n\
                   [supervisor]\nextension = \"4190\"\n\n[session]\nsubscribe_window = 16\n";
        let path = d.write("config.toml", cfg, 0o600);
        let c = match parse(&path, cfg) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.endpoint.host, "10.1.2.3");
        assert_eq!(c.endpoint.port, 8443);
        assert_eq!(c.endpoint.password.expose(), "correct horse");
        assert!(matches!(c.endpoint.trust, Trust::Fingerprint(_)));
        assert_eq!(c.session.subscribe_window, 16);
        assert_eq!(c.supervisor_extension.as_deref(), Some("4190"));
        assert!(!format!("{c:?}").contains("correct horse"));
    }

    #[test]
    fn unknown_keys_name_file_line_and_key() {
        let p = Path::new("/etc/ipo-top/config.toml");
        let e = err(
            p,
            "[pbx]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"X\"\ncolour = \"blue\"\n",
        );
        assert!(e.starts_with("/etc/ipo-top/config.toml:5:"), "{e}");
        assert!(e.contains("pbx.colour: unknown key"), "{e}");
        assert!(e.contains("expected one of"), "{e}");
        let e = err(
            p,
            "[pbx]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"X\"\n[colours]\nx = 1\n",
        );
        assert!(e.contains(":5:2: colours: unknown key"), "{e}");
        let e = err(
            p,
            "[pbx]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"X\"\n[ui]\nx = 1\n",
        );
        assert!(e.contains(":6:1: ui.x: unknown key"), "{e}");
    }

    const PBX: &str = "[pbx]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"PATH\"\n";

    #[test]
    fn ui_settings_and_key_overrides_are_read() {
        let p = Path::new("c.toml");
        let text = format!(
            "{PBX}[ui]\nlong_wait_secs = 90\n[keys]\nquit = \"x\"\ndown = [\"Down\", \"l\"]\n"
        );
        let c = match parse(p, &text) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        // The old name of [alerts] longest_warn_secs, still read, with a warning for the log.
        assert_eq!(c.alerts.longest_warn(None), Some(Duration::from_secs(90)));
        assert!(
            c.warnings.iter().any(|w| w.contains("c.toml:6:")
                && w.contains("[ui] long_wait_secs is now [alerts] longest_warn_secs")),
            "{:?}",
            c.warnings
        );
        use crate::ui::{Context, Key, KeyAction};
        assert_eq!(
            c.keymap.action(Context::Main, Key::char('x')),
            Some(KeyAction::Quit)
        );
        assert_eq!(
            c.keymap.action(Context::Main, Key::char('l')),
            Some(KeyAction::Down)
        );
        assert_eq!(c.keymap.action(Context::Main, Key::char('j')), None);
        assert_eq!(c.password_source, PasswordSource::Env("PATH".into()));
        let defaults = match parse(p, PBX) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(defaults.ui, UiSettings::default());
        assert_eq!(defaults.keymap, Keymap::default());
        assert!(!defaults.keymap.offers_force_clear());
    }

    #[test]
    fn force_clear_is_offered_only_when_allowed_and_read_only_reaches_the_session() {
        let p = Path::new("c.toml");
        let c = match parse(
            p,
            &format!("{PBX}[ui]\nallow_force_clear = true\nread_only = true\n"),
        ) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert!(c.ui.allow_force_clear && c.keymap.offers_force_clear());
        assert!(c.ui.read_only && c.session.read_only);
        let e = err(p, &format!("{PBX}[keys]\nforce_clear = \"x\"\n"));
        assert!(
            e.contains("keys.force_clear: force_clear has no key unless [ui] allow_force_clear"),
            "{e}"
        );
        let e = err(p, &format!("{PBX}[keys]\nconfirm = \"Enter\"\n"));
        assert!(
            e.contains("keys.confirm: confirm: Enter cannot confirm"),
            "{e}"
        );
    }

    #[test]
    fn bad_key_overrides_name_the_line_and_both_actions() {
        let p = Path::new("c.toml");
        let e = err(p, &format!("{PBX}[keys]\nhelp = \"q\"\n"));
        assert!(
            e.starts_with("c.toml:6:8: keys.help: key q is bound twice"),
            "{e}"
        );
        assert!(e.contains("to help and to quit"), "{e}");
        let e = err(p, &format!("{PBX}[keys]\njump = \"g\"\n"));
        assert!(e.contains("keys.jump: no such action `jump`"), "{e}");
        let e = err(p, &format!("{PBX}[keys]\nquit = \"Hyper-x\"\n"));
        assert!(e.contains("keys.quit: quit: `Hyper-x` is not a key"), "{e}");
        let e = err(p, &format!("{PBX}[ui]\nlong_wait_secs = 0\n"));
        assert!(e.contains("ui.long_wait_secs: expected seconds"), "{e}");
    }

    #[test]
    fn bad_values_say_what_is_expected() {
        let p = Path::new("c.toml");
        let e = err(
            p,
            "[pbx]\nhost = \"h\"\nport = \"https\"\nusername = \"u\"\npassword_env = \"X\"\n",
        );
        assert!(e.starts_with("c.toml:3:") && e.contains("pbx.port"), "{e}");
        let e = err(
            p,
            "[pbx]\nhost = \"h\"\nport = 70000\nusername = \"u\"\npassword_env = \"X\"\n",
        );
        assert!(
            e.contains("c.toml:3:8: pbx.port: expected a port number from 1 to 65535"),
            "{e}"
        );
        let e = err(p, "[pbx]\nhost = \"h\"\nusername = \"u\"\n");
        assert!(e.contains("pbx.password_env: required"), "{e}");
        let e = err(p, "[pbx]\nusername = \"u\"\npassword_env = \"X\"\n");
        assert!(e.contains("pbx.host: required"), "{e}");
        let e = err(
            p,
            "[pbx]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"IPO_TOP_TEST_UNSET_VARIABLE\"\n",
        );
        assert!(e.contains("c.toml:4:16: pbx.password_env: the environment variable IPO_TOP_TEST_UNSET_VARIABLE is not set"), "{e}");
        let e = err(
            p,
            "[pbx]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"PATH\"\n[tls]\nfingerprint = \"AB:CD\"\n",
        );
        assert!(
            e.contains("c.toml:6:15: tls.fingerprint: a SHA-256 fingerprint is 32 bytes"),
            "{e}"
        );
        let e = err(p, "[pbx\nhost = 1\n");
        assert!(e.starts_with("c.toml:1:"), "{e}");
    }

    #[test]
    fn the_scope_is_read_and_the_flags_override_it() {
        use crate::model::{ScopeAgents, Text};
        let p = Path::new("/etc/ipo-top/c.toml");
        let c = parse(p, PBX).unwrap();
        assert!(c.session.scope.is_everything());
        let c = parse(
            p,
            &format!("{PBX}[scope]\nqueues = [\"Sales\", \"7301\"]\n"),
        )
        .unwrap();
        assert_eq!(c.session.scope.queues, ["Sales", "7301"].map(Text::from));
        assert_eq!(c.session.scope.agents, ScopeAgents::Members);
        let mut c = parse(p, &format!("{PBX}[scope]\nagents = [\"4101\", \"4102\"]\n")).unwrap();
        assert_eq!(
            c.session.scope.agents,
            ScopeAgents::Listed(vec!["4101".into(), "4102".into()])
        );
        assert!(c.session.scope.queues.is_empty());
        c.override_scope(&ScopeFlags {
            queues: vec!["Support".into()],
            agents: Some(ScopeAgents::All),
        });
        assert_eq!(c.session.scope.queues, [Text::from("Support")]);
        assert_eq!(c.session.scope.agents, ScopeAgents::All);
        let mut c = parse(
            p,
            &format!("{PBX}[scope]\nqueues = [\"Sales\"]\nagents = \"all\"\n"),
        )
        .unwrap();
        assert_eq!(c.session.scope.agents, ScopeAgents::All);
        c.override_scope(&ScopeFlags::default());
        assert_eq!(c.session.scope.agents, ScopeAgents::All);
        assert_eq!(parse_agents("members"), Ok(ScopeAgents::Members));
        assert_eq!(
            parse_agents("4101, 4102"),
            Ok(ScopeAgents::Listed(vec!["4101".into(), "4102".into()]))
        );
        assert!(parse_agents("everyone").is_err());
    }

    #[test]
    fn bad_scope_values_name_the_line_and_key() {
        let p = Path::new("/etc/ipo-top/c.toml");
        let line = PBX.lines().count() + 2;
        for (text, key) in [
            ("agents = \"everyone\"\n", "scope.agents"),
            ("agents = [\"41a\"]\n", "scope.agents"),
            ("queues = [\" \"]\n", "scope.queues"),
            ("queue = [\"Sales\"]\n", "queue"),
        ] {
            let e = err(p, &format!("{PBX}[scope]\n{text}"));
            assert!(
                e.starts_with(&format!("/etc/ipo-top/c.toml:{line}:")),
                "{e}"
            );
            assert!(e.contains(key), "{e}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_password_file_others_can_read_is_refused() {
        let d = Dir::new("perm");
        let pw = d.write("pw", "hunter2", 0o640);
        let cfg = "[pbx]\nhost = \"h\"\nusername = \"u\"\npassword_file = \"pw\"\n";
        let path = d.write("config.toml", cfg, 0o644);
        let e = err(&path, cfg);
        assert!(e.contains("pbx.password_file"), "{e}");
        assert!(e.contains("mode 0640") && e.contains("chmod 600"), "{e}");
        assert!(!e.contains("hunter2"));
        let _ = pw;
    }

    #[cfg(unix)]
    #[test]
    fn a_password_file_behind_a_link_or_not_ours_is_refused() {
        let d = Dir::new("link");
        let real = d.write("real-pw", "hunter2", 0o600);
        std::os::unix::fs::symlink(&real, d.0.join("pw")).expect("linked");
        let cfg = "[pbx]\nhost = \"h\"\nusername = \"u\"\npassword_file = \"pw\"\n";
        let path = d.write("config.toml", cfg, 0o600);
        let e = err(&path, cfg);
        assert!(
            e.contains("pbx.password_file") && e.contains("symbolic link"),
            "{e}"
        );
        // Another user's file, however closed, is refused (only root can make one here).
        if rustix::process::geteuid().is_root() {
            let _ = std::fs::remove_file(d.0.join("pw"));
            let pw = d.write("pw", "hunter2", 0o600);
            rustix::fs::chown(&pw, Some(rustix::fs::Uid::from_raw(65534)), None).expect("chowned");
            let e = err(&path, cfg);
            assert!(e.contains("belongs to user id 65534"), "{e}");
            assert!(!e.contains("hunter2"));
        }
    }

    /// The example file parses as shipped (with its password variable swapped for one that is
    /// set here), and with every commented alternative switched on instead.
    #[test]
    fn the_example_file_is_valid_in_both_forms() {
        let d = Dir::new("example");
        d.write("ipo-root-ca.pem", "-----BEGIN CERTIFICATE-----\n", 0o644);
        d.write("ipo-top.password", "pw\n", 0o600);
        let example = include_str!("../../config.example.toml");
        let shipped = example.replace("\"IPO_TOP_PASSWORD\"", "\"PATH\"");
        let path = d.write("config.toml", &shipped, 0o644);
        if let Err(e) = parse(&path, &shipped) {
            panic!("{e}");
        }
        let mut alt = String::new();
        for line in example.lines() {
            let l = if line.starts_with("password_env") || line.starts_with("ca_file") {
                format!("# {line}")
            } else if let Some(rest) = line.strip_prefix("# ") {
                if rest.contains(" = ") && !rest.starts_with(' ') && !rest.contains("  ") {
                    rest.to_owned()
                } else {
                    line.to_owned()
                }
            } else {
                line.to_owned()
            };
            alt.push_str(&l);
            alt.push('\n');
        }
        assert!(
            alt.contains("\nfingerprint = ") && alt.contains("\npassword_file = "),
            "{alt}"
        );
        match parse(&path, &alt) {
            Ok(c) => assert!(matches!(c.endpoint.trust, Trust::Fingerprint(_))),
            Err(e) => panic!("{e}\n{alt}"),
        }
    }

    #[test]
    fn stats_secondary_and_read_only_are_read_and_checked() {
        let p = Path::new("c.toml");
        let c = match parse(
            p,
            &format!(
                "{PBX}secondary = \"10.1.2.4\"\n[ui]\nread_only = true\n[stats]\nservice_level_secs = 30\nshort_abandon_secs = 0\ntimezone = \"UTC\"\n"
            ),
        ) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.session.stats.service_level, Duration::from_secs(30));
        assert_eq!(c.session.stats.short_abandon, Duration::ZERO);
        assert!(c.session.stats.clock.is_some());
        assert!(c.ui.read_only && c.session.read_only);
        let sec = c
            .session
            .secondary
            .as_ref()
            .map(|e| (e.host.clone(), e.port));
        assert_eq!(sec, Some(("10.1.2.4".to_owned(), 443)));
        let e = err(p, &format!("{PBX}[stats]\ntimezone = \"Mars/Olympus\"\n"));
        assert!(
            e.contains("c.toml:6:12: stats.timezone: unknown time zone"),
            "{e}"
        );
        let e = err(p, &format!("{PBX}[stats]\nservice_level_secs = 0\n"));
        assert!(
            e.contains("stats.service_level_secs: expected seconds from 1 to 3600"),
            "{e}"
        );
        // A pinned primary needs the secondary's own pin.
        let fp = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
        let e = err(
            p,
            &format!("{PBX}secondary = \"10.1.2.4\"\n[tls]\nfingerprint = \"{fp}\"\n"),
        );
        assert!(
            e.contains("pbx.secondary") && e.contains("secondary_fingerprint"),
            "{e}"
        );
        let e = err(
            p,
            &format!("{PBX}[tls]\nsecondary_fingerprint = \"{fp}\"\n"),
        );
        assert!(
            e.contains("tls.secondary_fingerprint: there is no [pbx] secondary"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_file_says_where_we_looked() {
        let e = load(Some(Path::new("/nonexistent/ipo-top.toml")))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("/nonexistent/ipo-top.toml"), "{e}");
    }
}
