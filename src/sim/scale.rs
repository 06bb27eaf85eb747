//! The scale scenario: a site as large as the largest IP Office, for benchmarks of clients (and
//! of the simulator itself, which must never be their bottleneck).

use std::time::Duration;

use super::site::{DailyCurve, MemberSpec, QueueSpec, RingMode, Site, Traffic, UserSpec};

/// The size and pace of a scale site.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleOptions {
    /// Users, all agents.
    pub users: usize,
    /// Hunt groups; the users are shared out among them.
    pub queues: usize,
    /// Calls in progress at once, about.
    pub calls: usize,
    /// Call changes per second across the site, about: each is one call appearance changing
    /// on one line, that is one Notify for a client subscribed to every user and group (fewer
    /// when Notifies wait for acknowledgements and carry several calls).
    pub changes_per_sec: f64,
}

impl Default for ScaleOptions {
    /// 3000 users, 150 groups, 2000 calls, 500 changes per second.
    fn default() -> Self {
        ScaleOptions {
            users: 3000,
            queues: 150,
            calls: 2000,
            changes_per_sec: 500.0,
        }
    }
}

/// Mean talk time of a scale call, in seconds.
const TALK_S: u32 = 360;

/// Call changes one group call makes in its life: queued (group), ringing (group, agent),
/// answered (group, agent), ended (group, agent).
const CHANGES_PER_CALL: f64 = 7.0;

impl ScaleOptions {
    /// Arrivals per second that keep [`ScaleOptions::calls`] calls in progress (each lasts
    /// its talk time plus a few seconds of ringing).
    pub fn arrivals_per_sec(&self) -> f64 {
        self.calls as f64 / (f64::from(TALK_S) + 5.0)
    }

    /// Holds and unholds per second making up the rest of the change rate (each is two
    /// changes: the agent's line and the group's).
    pub fn churn_per_sec(&self) -> f64 {
        ((self.changes_per_sec - self.arrivals_per_sec() * CHANGES_PER_CALL) / 2.0).max(0.0)
    }
}

impl Site {
    /// The scale site: users 100000 on, groups 70000 on (ring idle, members shared out in
    /// turn), a flat day, calls of 5 to 7 minutes arriving so that about `calls` are in
    /// progress, and holds and unholds making up the change rate. Fifteen minutes of traffic
    /// run before the start, so the calls are there from the first second. At a rate of 0
    /// the site stands still after that ([`Site::still`]).
    pub fn scale(opts: ScaleOptions) -> Site {
        let users: Vec<UserSpec> = (0..opts.users)
            .map(|i| {
                let extn = (100_000 + i).to_string();
                UserSpec::new(&extn, &format!("Agent {extn}"), &format!("Agent {extn}"))
            })
            .collect();
        let queues_n = opts.queues.max(1);
        let per_hour = opts.arrivals_per_sec() * 3600.0 / queues_n as f64;
        let queues = (0..queues_n)
            .map(|q| {
                let extn = (70_000 + q).to_string();
                let members = users
                    .iter()
                    .skip(q)
                    .step_by(queues_n)
                    .map(|u| MemberSpec::enabled(&u.extn))
                    .collect();
                let mut spec = QueueSpec::new(&extn, &format!("Group {extn}"), members);
                spec.ring_mode = RingMode::RingIdle;
                spec.calls_per_hour = per_hour;
                spec
            })
            .collect();
        Site {
            system_name: "IPO-SCALE".to_string(),
            users,
            queues,
            traffic: Traffic {
                talk: TALK_S - 60..=TALK_S + 60,
                acw: 5..=15,
                patience: 900..=1200,
                answer_delay: 2..=6,
                no_answer_chance: 0.02,
                churn_per_sec: opts.churn_per_sec(),
                curve: DailyCurve::flat(),
                ..Traffic::quiet()
            },
            warmup: Duration::from_secs(15 * 60),
            still: opts.changes_per_sec <= 0.0,
            ..Site::default()
        }
    }
}
