//! What agent and queue rows say in their cells of varying width, in words: one place for
//! the view to draw them from and for the rows to measure their columns by (a column is as
//! wide as its widest row; the [`Census`] keeps that width as rows change rather than
//! measuring every row on every frame).

use crate::model::FastMap;
use std::borrow::Cow;
use std::collections::BTreeMap;

use super::super::text::{clean, duration, width};
use super::figures::AgentRow;
use crate::model::{Appearance, Guid, Party, Queue, Tables, User};

/// A party's number for a cell ("withheld" when it is).
pub fn number_words(p: Option<&Party>) -> Cow<'_, str> {
    match p {
        Some(p) if p.withheld && p.number.is_empty() => Cow::Borrowed("withheld"),
        Some(p) => clean(&p.number),
        None => Cow::Borrowed(""),
    }
}

/// The text beside the party: its name, or why the agent is away.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Beside<'a> {
    /// The other party's name.
    Name(Cow<'a, str>),
    /// The agent's absence message (shown dim).
    Absence(Cow<'a, str>),
    /// Nothing.
    Nothing,
}

/// The words of an agent row's cells that vary in width, borrowed from the model where the
/// text needs no cleaning (nearly always): measuring a row that moved allocates nothing.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AgentWords<'a> {
    /// Extension.
    pub extn: Cow<'a, str>,
    /// Name.
    pub name: Cow<'a, str>,
    /// The other party's number on the shown call.
    pub number: Cow<'a, str>,
    /// How many more calls, as " +N" after the number.
    pub more: Option<String>,
    /// Beside the party.
    pub beside: Beside<'a>,
    /// The shown call's queue.
    pub queue: Cow<'a, str>,
}

impl<'a> AgentWords<'a> {
    /// The words of `row`, the row of user `u`.
    pub fn of(model: &'a Tables, u: &'a User, row: &AgentRow) -> AgentWords<'a> {
        let call = row.call.and_then(|id| model.appearance(id));
        Self::with_call(u, call.map(|c| &**c), row.more)
    }

    /// The words of user `u`'s row showing `call`, with `more` calls besides.
    pub fn with_call(u: &'a User, call: Option<&'a Appearance>, more: usize) -> AgentWords<'a> {
        // The other party's number and name, borrowed when the snapshot holds the party.
        let (number, party_name) = match call.and_then(|a| a.call.other_party()) {
            Some(Cow::Borrowed(p)) => (number_words(Some(p)), Some(clean(&p.name))),
            Some(Cow::Owned(p)) => (
                Cow::Owned(number_words(Some(&p)).into_owned()),
                Some(Cow::Owned(clean(&p.name).into_owned())),
            ),
            None => (Cow::Borrowed(""), None),
        };
        let beside = match (
            party_name,
            u.status.as_ref().and_then(|s| s.absence.as_ref()),
        ) {
            (Some(name), _) => Beside::Name(name),
            (None, Some(abs)) => Beside::Absence(clean(&abs.phrase)),
            (None, None) => Beside::Nothing,
        };
        AgentWords {
            extn: clean(&u.extn),
            name: clean(&u.name),
            number,
            more: (more > 0).then(|| format!(" +{more}")),
            beside,
            queue: call
                .and_then(|a| a.call.queue.as_ref())
                .map_or(Cow::Borrowed(""), |q| clean(&q.name)),
        }
    }

    /// The widths of the cells: extension, name, party, beside, queue.
    pub fn widths(&self) -> AgentWidths {
        let beside = match &self.beside {
            Beside::Name(s) | Beside::Absence(s) => width(s),
            Beside::Nothing => 0,
        };
        AgentWidths([
            width(&self.extn),
            width(&self.name),
            width(&self.number) + self.more.as_deref().map_or(0, width),
            beside,
            width(&self.queue),
        ])
    }
}

/// The widths of an agent row's varying cells: extension, name, party, beside, queue.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct AgentWidths(pub [usize; 5]);

/// The words of a queue row's cells that vary in width (and are not times).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct QueueWords {
    /// Name.
    pub name: String,
    /// Number.
    pub number: String,
    /// Calls answered in the period.
    pub answered: String,
    /// Calls abandoned in the period.
    pub abandoned: String,
    /// Average speed of answer (none before the first timed answer).
    pub asa: Option<String>,
    /// How many members it lists (no cell of its own: it bounds the available and busy
    /// counts).
    pub members: String,
}

impl QueueWords {
    /// The words of a queue's row.
    pub fn of(q: &Queue) -> QueueWords {
        QueueWords {
            name: clean(&q.name).into_owned(),
            number: clean(&q.extn).into_owned(),
            answered: q.stats.answered.to_string(),
            abandoned: q.stats.abandoned.to_string(),
            asa: q.stats.asa().map(duration),
            members: q.members().len().to_string(),
        }
    }

    /// The widths of the cells: name, number, answered, abandoned, ASA ("-" when none), and
    /// of the member count.
    pub fn widths(&self) -> QueueWidths {
        QueueWidths([
            width(&self.name),
            width(&self.number),
            width(&self.answered),
            width(&self.abandoned),
            self.asa.as_deref().map_or(1, width),
            width(&self.members),
        ])
    }
}

/// The widths of a queue row's varying cells: name, number, answered, abandoned, ASA, and of
/// its member count.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct QueueWidths(pub [usize; 6]);

/// Per column, how many rows have each cell width, so the widest is known without measuring
/// every row again when one changes.
#[derive(Debug)]
pub struct Census<const N: usize> {
    rows: FastMap<Guid, [usize; N]>,
    counts: [BTreeMap<usize, usize>; N],
}

impl<const N: usize> Default for Census<N> {
    fn default() -> Self {
        Census {
            rows: FastMap::default(),
            counts: std::array::from_fn(|_| BTreeMap::new()),
        }
    }
}

impl<const N: usize> Census<N> {
    /// Counts a row's widths (in place of its old ones).
    pub fn measure(&mut self, guid: &Guid, widths: [usize; N]) {
        self.forget(guid);
        for (count, w) in self.counts.iter_mut().zip(widths) {
            *count.entry(w).or_default() += 1;
        }
        self.rows.insert(guid.clone(), widths);
    }

    /// Stops counting a row.
    pub fn forget(&mut self, guid: &Guid) {
        let Some(widths) = self.rows.remove(guid) else {
            return;
        };
        for (count, w) in self.counts.iter_mut().zip(widths) {
            if let Some(n) = count.get_mut(&w) {
                *n -= 1;
                if *n == 0 {
                    count.remove(&w);
                }
            }
        }
    }

    /// The widest cell of each column (0 when there are no rows).
    pub fn widest(&self) -> [usize; N] {
        self.counts
            .each_ref()
            .map(|c| c.last_key_value().map_or(0, |(w, _)| *w))
    }
}
