//! When the screen draws: a frame only when something shown changed, for the PBX's changes
//! at most every [`MIN_FRAME`], for the supervisor's own input at once.

use std::time::{Duration, Instant};

/// The shortest time between two frames drawn for the PBX's changes (a cap of 10 frames a
/// second: what arrives in between is folded into the next). A key is answered at once.
pub const MIN_FRAME: Duration = Duration::from_millis(100);

/// When the next frame may be drawn: changes from the PBX wait for [`MIN_FRAME`] after the
/// last frame, so a busy site costs at most ten frames a second; the supervisor's own input
/// is drawn at once.
#[derive(Debug, Default)]
pub struct Pacer {
    last: Option<Instant>,
    input: bool,
}

impl Pacer {
    /// A key or a resize came: the next frame is not held back.
    pub fn input(&mut self) {
        self.input = true;
    }

    /// `None`: a frame may be drawn now; else not before the time given.
    pub fn wait(&self, now: Instant) -> Option<Instant> {
        match self.last {
            Some(t) if !self.input && now < t + MIN_FRAME => Some(t + MIN_FRAME),
            _ => None,
        }
    }

    /// A frame was drawn at `now`.
    pub fn drawn(&mut self, now: Instant) {
        self.last = Some(now);
        self.input = false;
    }
}
