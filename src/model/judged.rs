//! A queue's alert levels and trends as the engines that judged it report them. A serving
//! process in shared mode runs [`Alerts`](super::Alerts) and [`Trends`](super::Trends) once and
//! publishes this for each queue, so every viewer shows the same levels, alerts and trends
//! whenever it started, instead of judging from its own start; the viewers' engines follow it
//! ([`Alerts::follow`](super::Alerts::follow), [`Trends::follow`](super::Trends::follow)).

use super::alerts::{AlertLevel, Figure};
use super::ids::Guid;
use super::trends::{Sample, SlInterval};

/// One figure of a queue as judged: its level, and the value and threshold of the transition
/// that set it (what a viewer's `alert_raised` / `alert_cleared` reports).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct JudgedFigure {
    /// The figure.
    pub figure: Figure,
    /// Its level.
    pub level: AlertLevel,
    /// Its value when the level last changed.
    pub value: Option<u64>,
    /// The threshold crossed then.
    pub threshold: Option<u64>,
}

/// One queue as judged.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct JudgedQueue {
    /// The queue.
    pub queue: Guid,
    /// Every figure, in [`Figure::ALL`]'s order.
    pub figures: Vec<JudgedFigure>,
    /// Calls abandoned in the last 15 minutes, as the judging side counted them.
    pub abandoned_15m: u64,
    /// The last hour's samples, oldest first, ending with the current minute.
    pub minutes: Vec<Option<Sample>>,
    /// Today's service level per 15-minute interval, oldest first.
    pub intervals: Vec<SlInterval>,
}

/// What a reader that follows another's engines is told.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Judged {
    /// A queue's levels and trends.
    Queue(JudgedQueue),
    /// The judging side no longer reports a queue.
    Gone(Guid),
    /// Whether the judging side's alerts are paused (its data is not live).
    Paused(bool),
}
