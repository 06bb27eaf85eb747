//! What the screen runs with, decided once from its source and `--read-only`.

use std::path::PathBuf;

use super::Source;
use crate::app::{config, demo};
use crate::session::SessionConfig;
use crate::ui::{Theme, UiConfig};

/// What the screen runs with, from its source and `--read-only`.
pub(crate) struct Settings {
    pub(crate) endpoint: crate::session::Endpoint,
    pub(crate) session: SessionConfig,
    pub(crate) ui: UiConfig,
    pub(crate) config_path: Option<PathBuf>,
    /// The PBX as the audit log names it.
    pub(crate) audit_pbx: String,
}

pub(crate) fn settings(source: &Source, flag: bool) -> Settings {
    // Decided once here, for the screen and the session alike (read-only is enforced where
    // SubscribeCmds are made, not only on the screen).
    let read_only = match source {
        Source::Config(c) => c.read_only(flag),
        Source::Demo(_) => flag,
        // A viewer's functions go through the serving process; --read-only still holds here.
        Source::Shared(c, _) => c.read_only(flag),
    };
    let theme = Theme::from_no_color(std::env::var_os("NO_COLOR").as_deref());
    match source {
        Source::Config(c) => Settings {
            endpoint: c.endpoint.clone(),
            session: SessionConfig {
                read_only,
                ..c.session.clone()
            },
            ui: UiConfig {
                pbx: c.endpoint.authority(),
                ..configured(c, theme, read_only)
            },
            config_path: Some(c.path.clone()),
            audit_pbx: c.endpoint.authority(),
        },
        Source::Shared(c, s) => Settings {
            endpoint: c.endpoint.clone(),
            session: c.session.clone(),
            ui: UiConfig {
                // The banner names the site; the PBX is the serving side's, not this machine's
                // to name.
                banner: Some(format!("shared: {} via NATS", s.site)),
                // Levels, alerts and trends are the serving side's, so every viewer agrees.
                judged_elsewhere: true,
                ..configured(c, theme, read_only)
            },
            config_path: None,
            audit_pbx: format!("{} via NATS", s.site),
        },
        Source::Demo(endpoint) => Settings {
            endpoint: endpoint.clone(),
            session: config::demo_session_config(read_only),
            ui: UiConfig {
                pbx: "simulated call centre".to_owned(),
                banner: Some("DEMO".to_owned()),
                theme,
                supervisor: Some(demo::DEMO_SUPERVISOR.to_owned()),
                read_only,
                ..UiConfig::default()
            },
            config_path: None,
            audit_pbx: format!("demo {}", endpoint.authority()),
        },
    }
}

/// The screen's settings that come from the configuration file, direct or shared alike.
fn configured(c: &config::Config, theme: Theme, read_only: bool) -> UiConfig {
    UiConfig {
        alerts: c.alerts.clone(),
        wall_rotate: c.wall_rotate,
        theme,
        keymap: c.keymap.clone(),
        supervisor: c.supervisor_extension.clone(),
        read_only,
        scope: c.session.scope.clone(),
        ..UiConfig::default()
    }
}
