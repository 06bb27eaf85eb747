//! Exponential backoff with seeded jitter, reset only after the link (or subscription) has
//! stayed up a while, so a PBX that accepts and then drops us at once is not hammered.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a backoff grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffConfig {
    /// The first delay (before jitter).
    pub initial: Duration,
    /// No delay is longer than this.
    pub max: Duration,
    /// How long the link must stay up before the next failure starts again from `initial`.
    pub stable_after: Duration,
}

impl BackoffConfig {
    /// Reconnecting to the PBX: from about 0.5 s, doubling, capped at 30 s, reset after a
    /// minute up.
    pub const RECONNECT: BackoffConfig = BackoffConfig {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(30),
        stable_after: Duration::from_secs(60),
    };

    /// Subscribing again after MTCTISESS_TOOMANY or SubscribeTerminated: from 1 s, capped at
    /// 30 s, reset after a minute active.
    pub const RESUBSCRIBE: BackoffConfig = BackoffConfig {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(30),
        stable_after: Duration::from_secs(60),
    };
}

/// The share of each delay that is random: a delay is drawn from `[d * (1 - J), d]`, so many
/// clients (or many subscriptions) that failed together do not come back together.
const JITTER: f64 = 0.25;

/// A backoff: each failure gives a longer delay, until a success that lasted.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    failures: u32,
    up_since: Option<Instant>,
}

impl Backoff {
    /// A backoff that has seen no failure.
    pub fn new(config: BackoffConfig) -> Self {
        Backoff {
            config,
            failures: 0,
            up_since: None,
        }
    }

    /// The link (or subscription) is up from `now`.
    pub fn up(&mut self, now: Instant) {
        self.up_since = Some(now);
    }

    /// It failed at `now`: the delay before the next attempt. Starts again from the initial
    /// delay if it had been up for at least `stable_after`.
    pub fn failed(&mut self, now: Instant, rng: &mut ChaCha8Rng) -> Duration {
        if let Some(since) = self.up_since.take() {
            if now.saturating_duration_since(since) >= self.config.stable_after {
                self.failures = 0;
            }
        }
        let exp = self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        let nominal = self
            .config
            .initial
            .saturating_mul(1u32 << exp)
            .min(self.config.max);
        let factor = 1.0 - JITTER * rng.random::<f64>();
        nominal.mul_f64(factor)
    }

    /// Forgets all failures (someone asked to try again now).
    pub fn reset(&mut self) {
        self.failures = 0;
        self.up_since = None;
    }

    /// How many failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// A seeded random source for jitter.
pub fn seeded(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_from_half_a_second_to_the_cap_and_resets_only_after_a_stable_link() {
        let t0 = Instant::now();
        let mut rng = seeded(7);
        let mut b = Backoff::new(BackoffConfig::RECONNECT);
        let delays: Vec<Duration> = (0..10).map(|_| b.failed(t0, &mut rng)).collect();
        let nominal = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0];
        for (d, n) in delays.iter().zip(nominal) {
            let s = d.as_secs_f64();
            assert!(
                s <= n && s >= n * (1.0 - JITTER),
                "{s} not in jitter range of {n}"
            );
        }

        // Up for ten seconds only, then down again: the delay keeps its size.
        b.up(t0);
        let short = b.failed(t0 + Duration::from_secs(10), &mut rng);
        assert!(short >= Duration::from_secs(22), "{short:?}");
        // Up for two minutes: back to about half a second.
        b.up(t0);
        let after_stable = b.failed(t0 + Duration::from_secs(120), &mut rng);
        assert!(
            after_stable <= Duration::from_millis(500),
            "{after_stable:?}"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let t0 = Instant::now();
        let run = |seed| {
            let mut rng = seeded(seed);
            let mut b = Backoff::new(BackoffConfig::RECONNECT);
            (0..8).map(|_| b.failed(t0, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }
}
