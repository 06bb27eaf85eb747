//! One serving process per site: the election through the lock bucket, on virtual time.
//!
//! The bucket's `max_age` is [`LOCK_MAX_AGE`]: a key nobody renews disappears. A claimant
//! `create`s the key (which fails while someone holds it) and only once that succeeded opens its
//! MTCTI3 link; the holder renews with `update(revision)` every [`RENEW_EVERY`]; a holder that
//! could not renew for [`HOLDER_GIVES_UP`] closes its link, well before the key can expire and
//! another process can claim it. Times are measured from when a request was *sent*, which is no
//! later than when the server stamped it, so the margin only grows. Never two links per site.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long the lock key lives without a renewal (the lock bucket's `max_age`).
pub const LOCK_MAX_AGE: Duration = Duration::from_secs(10);
/// How often the holder renews.
pub const RENEW_EVERY: Duration = Duration::from_secs(3);
/// How long a holder goes on without a successful renewal before it closes its link.
pub const HOLDER_GIVES_UP: Duration = Duration::from_secs(7);
/// How often a claimant tries again while another process holds the key.
const CLAIM_EVERY: Duration = Duration::from_secs(1);
/// How soon a holder tries again after a renewal failed (NATS unreachable, timed out).
const RENEW_RETRY: Duration = Duration::from_secs(1);

/// What the I/O task is to do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LockAction {
    /// `create` the lock key (answer with [`Holder::created`] or [`Holder::create_failed`]).
    Create,
    /// `update` the lock key at this revision (answer with [`Holder::renewed`] or
    /// [`Holder::renew_failed`]).
    Update {
        /// The revision last written.
        revision: u64,
    },
    /// The lock is held: open the MTCTI3 link.
    Connect,
    /// The lock may be lost: close the MTCTI3 link now.
    Disconnect,
    /// Stopping: delete the lock key at this revision, so another process need not wait
    /// for it to expire.
    Release {
        /// The revision last written.
        revision: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Claiming {
        next_try: Instant,
        /// When the outstanding `create` was sent.
        sent: Option<Instant>,
    },
    Holding {
        revision: u64,
        /// When the last successful write was sent.
        renewed_at: Instant,
        next_renew: Instant,
        /// When the outstanding `update` was sent.
        sent: Option<Instant>,
    },
    /// Holding, but the key is not at our revision (a restarted server lost the bucket, or
    /// another process holds it): `create` decides. It succeeds only if nobody holds the key,
    /// and then the link is kept.
    Reclaiming {
        /// When the last successful write was sent.
        renewed_at: Instant,
        /// When the `create` was sent.
        sent: Instant,
    },
    Stopped,
}

/// The lock as this process sees it.
#[derive(Debug)]
pub struct Holder {
    state: State,
    actions: VecDeque<LockAction>,
}

impl Holder {
    /// A claimant that tries at once.
    pub fn new(now: Instant) -> Holder {
        Holder {
            state: State::Claiming {
                next_try: now,
                sent: None,
            },
            actions: VecDeque::new(),
        }
    }

    /// Whether this process holds the lock (and may keep a link to the PBX).
    pub fn holds(&self) -> bool {
        matches!(self.state, State::Holding { .. } | State::Reclaiming { .. })
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Claiming { next_try, sent } => {
                if sent.is_none() && now >= next_try {
                    self.state = State::Claiming {
                        next_try,
                        sent: Some(now),
                    };
                    self.actions.push_back(LockAction::Create);
                }
            }
            State::Holding {
                revision,
                renewed_at,
                next_renew,
                sent,
            } => {
                if now >= renewed_at + HOLDER_GIVES_UP {
                    self.lose(now);
                } else if sent.is_none() && now >= next_renew {
                    self.state = State::Holding {
                        revision,
                        renewed_at,
                        next_renew,
                        sent: Some(now),
                    };
                    self.actions.push_back(LockAction::Update { revision });
                }
            }
            State::Reclaiming { renewed_at, .. } => {
                if now >= renewed_at + HOLDER_GIVES_UP {
                    self.lose(now);
                }
            }
            State::Stopped => {}
        }
    }

    /// The `create` succeeded: the lock is ours, at `revision`.
    pub fn created(&mut self, now: Instant, revision: u64) {
        if let State::Claiming {
            sent: Some(sent), ..
        } = self.state
        {
            if now >= sent + HOLDER_GIVES_UP {
                // A reply slower than the give-up time is already too old to hold on to: the
                // key expires on its own, and is claimed again then.
                self.state = State::Claiming {
                    next_try: now + CLAIM_EVERY,
                    sent: None,
                };
                return;
            }
            self.state = State::Holding {
                revision,
                renewed_at: sent,
                next_renew: sent + RENEW_EVERY,
                sent: None,
            };
            self.actions.push_back(LockAction::Connect);
        } else if let State::Reclaiming { sent, .. } = self.state {
            // Nobody held the key: it is ours again, and the link was never given up.
            self.state = State::Holding {
                revision,
                renewed_at: sent,
                next_renew: sent + RENEW_EVERY,
                sent: None,
            };
            self.handle_timeout(now);
        }
    }

    /// The `create` failed (another process holds the key, or NATS did not answer).
    pub fn create_failed(&mut self, now: Instant) {
        if let State::Reclaiming { .. } = self.state {
            self.lose(now);
            return;
        }
        if let State::Claiming { sent: Some(_), .. } = self.state {
            self.state = State::Claiming {
                next_try: now + CLAIM_EVERY,
                sent: None,
            };
        }
    }

    /// The `update` succeeded, now at `revision`.
    pub fn renewed(&mut self, now: Instant, revision: u64) {
        if let State::Holding {
            sent: Some(sent), ..
        } = self.state
        {
            self.state = State::Holding {
                revision,
                renewed_at: sent,
                next_renew: sent + RENEW_EVERY,
                sent: None,
            };
            self.handle_timeout(now);
        }
    }

    /// The `update` failed. `taken`: the key is not at our revision any more (a restarted
    /// server lost it, or another process holds it): `create` it again, and lose the lock if
    /// that fails; otherwise (NATS unreachable, timed out) try again soon, until the give-up
    /// time.
    pub fn renew_failed(&mut self, now: Instant, taken: bool) {
        if let State::Holding {
            revision,
            renewed_at,
            sent: Some(_),
            ..
        } = self.state
        {
            if taken {
                self.state = State::Reclaiming {
                    renewed_at,
                    sent: now,
                };
                self.actions.push_back(LockAction::Create);
            } else {
                self.state = State::Holding {
                    revision,
                    renewed_at,
                    next_renew: now + RENEW_RETRY,
                    sent: None,
                };
                self.handle_timeout(now);
            }
        }
    }

    /// Stopping: close the link and let the key go.
    pub fn stop(&mut self) {
        match self.state {
            State::Holding { revision, .. } => {
                self.actions.push_back(LockAction::Disconnect);
                self.actions.push_back(LockAction::Release { revision });
            }
            State::Reclaiming { .. } => self.actions.push_back(LockAction::Disconnect),
            _ => {}
        }
        self.state = State::Stopped;
    }

    fn lose(&mut self, now: Instant) {
        self.actions.push_back(LockAction::Disconnect);
        self.state = State::Claiming {
            next_try: now + CLAIM_EVERY,
            sent: None,
        };
    }

    /// The next thing to do.
    pub fn poll_action(&mut self) -> Option<LockAction> {
        self.actions.pop_front()
    }

    /// When to call [`Holder::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Claiming {
                next_try,
                sent: None,
            } => Some(next_try),
            State::Claiming { sent: Some(_), .. } => None,
            State::Holding {
                renewed_at,
                next_renew,
                sent,
                ..
            } => {
                let give_up = renewed_at + HOLDER_GIVES_UP;
                Some(if sent.is_some() {
                    give_up
                } else {
                    next_renew.min(give_up)
                })
            }
            State::Reclaiming { renewed_at, .. } => Some(renewed_at + HOLDER_GIVES_UP),
            State::Stopped => None,
        }
    }
}

#[cfg(test)]
mod tests;
