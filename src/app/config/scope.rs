//! `[scope]` and the flags that override it for one run (`--queue`, `--agents`): which queues
//! and agents this supervisor watches, so that ipo-top subscribes only to them.

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;
use super::error::Source;
use crate::model::{Scope, ScopeAgents, Text};

/// `[scope]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScope {
    queues: Option<Vec<Spanned<String>>>,
    agents: Option<Spanned<RawAgents>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawAgents {
    Word(String),
    List(Vec<String>),
}

const AGENTS_EXPECTED: &str =
    "expected \"members\", \"all\" or a list of extensions, e.g. [\"4101\", \"4102\"]";

/// The scope as configured, before the defaults that depend on each other are applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSettings {
    /// Queue names or numbers; empty: every queue.
    pub queues: Vec<Text>,
    /// The agents, when given; by default the members of the queues given, or everyone.
    pub agents: Option<ScopeAgents>,
}

impl ScopeSettings {
    /// The scope the session is given.
    pub fn scope(&self) -> Scope {
        let agents = match &self.agents {
            Some(a) => a.clone(),
            None if self.queues.is_empty() => ScopeAgents::All,
            None => ScopeAgents::Members,
        };
        Scope {
            queues: self.queues.clone(),
            agents,
        }
    }

    /// With the command line's `--queue` (replacing the file's list when any is given) and
    /// `--agents`.
    pub fn overridden(&self, flags: &ScopeFlags) -> ScopeSettings {
        ScopeSettings {
            queues: if flags.queues.is_empty() {
                self.queues.clone()
            } else {
                flags.queues.iter().map(|q| Text::from(q.trim())).collect()
            },
            agents: flags.agents.clone().or_else(|| self.agents.clone()),
        }
    }
}

/// `--queue` and `--agents`, for one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeFlags {
    /// `--queue NAME`, as many as given: replaces `[scope] queues`.
    pub queues: Vec<String>,
    /// `--agents`: replaces `[scope] agents`.
    pub agents: Option<ScopeAgents>,
}

/// The agents as a word or a comma-separated list of extensions (`--agents`).
pub fn parse_agents(s: &str) -> Result<ScopeAgents, String> {
    match s.trim() {
        "members" => Ok(ScopeAgents::Members),
        "all" => Ok(ScopeAgents::All),
        list => extensions(list.split(',')).ok_or_else(|| AGENTS_EXPECTED.to_owned()),
    }
}

/// Extensions: digits, at least one.
fn extensions<'a>(items: impl Iterator<Item = &'a str>) -> Option<ScopeAgents> {
    let list: Vec<Text> = items.map(str::trim).map(Text::from).collect();
    let digits = |e: &Text| !e.is_empty() && e.chars().all(|c| c.is_ascii_digit());
    (!list.is_empty() && list.iter().all(digits)).then_some(ScopeAgents::Listed(list))
}

/// `[scope]`, checked.
pub(super) fn scope_settings(
    src: &Source<'_>,
    raw: &RawScope,
) -> Result<ScopeSettings, ConfigError> {
    let mut queues = Vec::new();
    for q in raw.queues.iter().flatten() {
        let name = q.get_ref().trim();
        if name.is_empty() {
            return Err(src.invalid(q, "scope.queues", "expected queue names or numbers"));
        }
        queues.push(Text::from(name));
    }
    let agents = match &raw.agents {
        None => None,
        Some(a) => Some(
            match a.get_ref() {
                RawAgents::Word(w) if w == "members" || w == "all" => parse_agents(w).ok(),
                RawAgents::Word(_) => None,
                RawAgents::List(l) => extensions(l.iter().map(String::as_str)),
            }
            .ok_or_else(|| src.invalid(a, "scope.agents", AGENTS_EXPECTED))?,
        ),
    };
    Ok(ScopeSettings { queues, agents })
}
