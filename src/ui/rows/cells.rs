//! What an agent row says, in words: one place for the view to draw it from and for the grid
//! to measure its columns by (a column is as wide as its widest row, and the grid keeps that
//! width as rows change rather than measuring every row on every frame).

use super::super::text::{clean, width};
use super::figures::AgentRow;
use crate::model::{Party, Tables, User};

/// A party's number for a cell ("withheld" when it is).
pub fn number_words(p: Option<&Party>) -> String {
    match p {
        Some(p) if p.withheld && p.number.is_empty() => "withheld".to_owned(),
        Some(p) => clean(&p.number).into_owned(),
        None => String::new(),
    }
}

/// The text beside the party: its name, or why the agent is away.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Beside {
    /// The other party's name.
    Name(String),
    /// The agent's absence message (shown dim).
    Absence(String),
    /// Nothing.
    Nothing,
}

/// The words of an agent row's cells that vary in width.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AgentWords {
    /// Extension.
    pub extn: String,
    /// Name.
    pub name: String,
    /// The other party's number on the shown call.
    pub number: String,
    /// How many more calls, as " +N" after the number.
    pub more: Option<String>,
    /// Beside the party.
    pub beside: Beside,
    /// The shown call's queue.
    pub queue: String,
}

impl AgentWords {
    /// The words of `row`, the row of user `u`.
    pub fn of(model: &Tables, u: &User, row: &AgentRow) -> AgentWords {
        let call = row.call.and_then(|id| model.appearance(id));
        let other = call.and_then(|a| a.call.other_party());
        let beside = match (&other, u.status.as_ref().and_then(|s| s.absence.as_ref())) {
            (Some(p), _) => Beside::Name(clean(&p.name).into_owned()),
            (None, Some(abs)) => Beside::Absence(clean(&abs.phrase).into_owned()),
            (None, None) => Beside::Nothing,
        };
        AgentWords {
            extn: clean(&u.extn).into_owned(),
            name: clean(&u.name).into_owned(),
            number: number_words(other.as_ref()),
            more: (row.more > 0).then(|| format!(" +{}", row.more)),
            beside,
            queue: call
                .and_then(|a| a.call.queue.as_ref())
                .map(|q| clean(&q.name).into_owned())
                .unwrap_or_default(),
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
