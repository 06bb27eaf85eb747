//! What a supervisor watches (`[scope]`): which queues, and which agents. The document says
//! IP Office has no configuration that constrains an MTCTI3 application, so the application
//! must: the session subscribes only to what the scope covers, and the screen's header says
//! what that is. Resolving a scope against the [`Tables`] is here, once, for both.

use std::collections::HashSet;

use serde::Serialize;

use super::ids::{Guid, Text};
use super::queue::Queue;
use super::tables::Tables;
use super::user::User;

/// Which agents are in scope.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
#[serde(tag = "kind", content = "extensions", rename_all = "snake_case")]
pub enum ScopeAgents {
    /// Every user on the site.
    #[default]
    All,
    /// The members (enabled or disabled) of the queues in scope.
    Members,
    /// Exactly these extensions.
    Listed(Vec<Text>),
}

/// The queues and agents a supervisor watches. The default covers the whole site.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
pub struct Scope {
    /// Queue names or numbers; empty: every queue.
    pub queues: Vec<Text>,
    /// Which agents.
    pub agents: ScopeAgents,
}

/// A scope resolved against what the PBX has now.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct InScope {
    /// The queues covered.
    pub queues: HashSet<Guid>,
    /// The users covered (the supervisor's own line and the lines of live calls are the
    /// session's business, not counted here).
    pub users: HashSet<Guid>,
}

/// A queue named in the scope that the PBX does not have, with the queues it may have meant.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct UnknownQueue {
    /// The name as written in the scope.
    pub name: Text,
    /// Names of the PBX's queues close to it, closest first.
    pub close: Vec<Text>,
}

/// What a scope covers now, for `check` and the header ("scope: 2 queues, 23 agents").
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
pub struct ScopeSummary {
    /// Queues in scope.
    pub queues: usize,
    /// Agents in scope.
    pub agents: usize,
    /// Queues named that the PBX does not have.
    pub unknown: Vec<UnknownQueue>,
}

impl Scope {
    /// Whether it covers the whole site (no `[scope]`, or one that narrows nothing).
    pub fn is_everything(&self) -> bool {
        self.queues.is_empty() && self.agents == ScopeAgents::All
    }

    /// Whether a scope entry names this queue: its number, or its name ignoring case.
    pub(super) fn names(entry: &str, q: &Queue) -> bool {
        let entry = entry.trim();
        q.extn.as_str() == entry || q.name.trim().eq_ignore_ascii_case(entry)
    }

    /// Whether the queue is in scope.
    pub fn covers_queue(&self, q: &Queue) -> bool {
        self.queues.is_empty() || self.queues.iter().any(|e| Self::names(e, q))
    }

    /// The extensions of the members (enabled or not) of every queue in scope.
    fn member_extns<'a>(&self, tables: &'a Tables) -> HashSet<&'a str> {
        tables
            .queues()
            .filter(|q| self.covers_queue(q))
            .flat_map(|q| q.members().iter().map(|m| m.extn.as_str()))
            .collect()
    }

    /// Whether the user is in scope by an `agents` rule that needs no queue (`all` or a
    /// list); `false` for `members`, which needs the queues ([`Scope::covers_user`]).
    pub fn covers_user_alone(&self, u: &User) -> bool {
        match &self.agents {
            ScopeAgents::All => true,
            ScopeAgents::Listed(extns) => extns.iter().any(|e| e.as_str() == u.extn.as_str()),
            ScopeAgents::Members => false,
        }
    }

    /// Whether the user is in scope by the `agents` rule.
    pub fn covers_user(&self, tables: &Tables, u: &User) -> bool {
        match &self.agents {
            ScopeAgents::All | ScopeAgents::Listed(_) => self.covers_user_alone(u),
            ScopeAgents::Members => tables
                .queues()
                .filter(|q| self.covers_queue(q))
                .any(|q| q.members().iter().any(|m| m.extn == u.extn)),
        }
    }

    /// The users in scope by the `agents` rule, for a whole pass over the users (the
    /// members are gathered once).
    fn agents_in<'a>(&'a self, tables: &'a Tables) -> impl Iterator<Item = &'a User> + 'a {
        let members = match self.agents {
            ScopeAgents::Members => self.member_extns(tables),
            _ => HashSet::new(),
        };
        tables
            .users()
            .map(|u| &**u)
            .filter(move |u| match &self.agents {
                ScopeAgents::Members => members.contains(u.extn.as_str()),
                _ => self.covers_user(tables, u),
            })
    }

    /// The queue names in the scope that match no queue the PBX has, as written.
    pub fn unknown_queues<'a>(&'a self, tables: &'a Tables) -> impl Iterator<Item = &'a Text> {
        self.queues
            .iter()
            .filter(|e| !tables.queues().any(|q| Self::names(e, q)))
    }

    /// Everything the scope covers now.
    pub fn resolve(&self, tables: &Tables) -> InScope {
        InScope {
            queues: tables
                .queues()
                .filter(|q| self.covers_queue(q))
                .map(|q| q.guid.clone())
                .collect(),
            users: self.agents_in(tables).map(|u| u.guid.clone()).collect(),
        }
    }

    /// How many queues and agents the scope covers now (for `check` and the sync report; the
    /// screen reads the same counts off its rows).
    pub fn counts(&self, tables: &Tables) -> (usize, usize) {
        let queues = tables.queues().filter(|q| self.covers_queue(q)).count();
        (queues, self.agents_in(tables).count())
    }

    /// What the scope covers now, with close matches for each unknown queue name.
    pub fn summary(&self, tables: &Tables) -> ScopeSummary {
        let (queues, agents) = self.counts(tables);
        ScopeSummary {
            queues,
            agents,
            unknown: self
                .unknown_queues(tables)
                .map(|name| UnknownQueue {
                    close: close_matches(name, tables),
                    name: name.clone(),
                })
                .collect(),
        }
    }
}

/// The PBX's queues whose name or number is close to `name` (a typo, a different case or
/// spacing), closest first, at most three.
fn close_matches(name: &str, tables: &Tables) -> Vec<Text> {
    let wanted = name.trim().to_lowercase();
    let mut scored: Vec<(f64, Text)> = tables
        .queues()
        .map(|q| {
            let by_name = strsim::jaro_winkler(&wanted, &q.name.to_lowercase());
            let by_number = strsim::jaro_winkler(&wanted, &q.extn);
            (by_name.max(by_number), q.name.clone())
        })
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}
