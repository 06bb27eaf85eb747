//! The scripted mode: a site with no traffic of its own, where calls and events happen at fixed
//! times, so that a run replays identically (`ipo-top sim --script FILE`, or the built-in
//! [`E2E`] script with `--script e2e`).
//!
//! # Format
//!
//! A script is TOML: an optional `[site]` table, then one `[[step]]` table per event, each
//! with `at` (seconds after the start, fractions allowed) and exactly one action.
//!
//! ```toml
//! [site]
//! scenario = "demo"     # the users, groups and park slots of a built-in scenario ("demo")
//! time_of_day = "10:00" # the site's clock at the start
//! seed = 1              # seeds what little is drawn (e.g. how long an outside number rings)
//! answer_after = 6      # agents answer a ringing call after this many seconds;
//!                       # leave it out and nobody answers unless a step says so
//! ring_for = 600        # seconds a group call rings one member before moving on
//! talk = 900            # seconds an answered call lasts before the far end hangs up
//! acw = 30              # seconds of after-call work after a group call
//! patience = 1800       # seconds a caller waits unanswered before hanging up
//! parked = false        # keep the scenario's call parked at the start
//! overflow = false      # keep the scenario's group overflows
//!
//! [[step]]
//! at = 0
//! call = { queue = "7301", number = "01632960001", name = "Harbour Freight Ltd", priority = 2 }
//!
//! [[step]]
//! at = 2.5
//! call = { user = "4100", number = "02079460123" }   # an outside call straight to a user
//! ```
//!
//! The actions:
//!
//! | action | what happens |
//! |---|---|
//! | `call = { queue = "7301", number = "…", name = "…", priority = 1 }` | a caller arrives at a group (by extension or name); `name` and `priority` (1..=3, default 1) are optional |
//! | `call = { user = "4102", number = "…", name = "…" }` | an outside caller rings a user directly |
//! | `answer = { user = "4102" }` | the user picks up the call ringing there |
//! | `hangup = { user = "4102" }` | the far end hangs up the user's call |
//! | `park = { slot = "5", number = "…", name = "…" }` | a call appears parked in a slot |
//! | `dnd = { user = "4102", on = true }` | do not disturb on or off |
//! | `logged_off = { user = "4102", on = true }` | the user logs off (or on) |
//! | `service_mode = { queue = "7302", mode = "NS" }` | `Active`, `NS` or `OOS` |
//! | `member = { queue = "7301", user = "4108", enabled = true }` | adds a member, or enables or disables one |
//!
//! A script is checked as a whole before the simulator starts: a step naming a user or group the
//! site does not have, a bad slot, priority or mode, or a step with no action or two, is an
//! error naming the step. A step that cannot act when its time comes (`answer` with nothing
//! ringing) does nothing and is logged.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::pbx::{Caller, Pbx, QueueId, UserId};
use super::site::{Site, TimeOfDay, Traffic, is_park_slot};
use crate::protocol::cmd::ServiceMode;

/// The built-in `e2e` script, for end-to-end tests of a client (see its comments for what a
/// client sees when).
pub const E2E: &str = include_str!("scripts/e2e.toml");

/// The latest a step may happen, in seconds after the start (a year).
pub const MAX_AT: f64 = 365.0 * 86_400.0;

/// Why a script cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScriptError {
    /// Not valid TOML, or fields the format does not have.
    #[error("the script is not valid: {0}")]
    Toml(String),
    /// The `[site]` table is wrong.
    #[error("[site]: {0}")]
    Site(String),
    /// A step is wrong (steps are numbered from 1 in file order).
    #[error("step {step} (at = {at}): {message}")]
    Step {
        /// The step's number.
        step: usize,
        /// Its `at`.
        at: f64,
        /// What is wrong and what to write instead.
        message: String,
    },
}

/// The `[site]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptSite {
    /// The built-in scenario whose users, groups and park slots the script uses.
    pub scenario: String,
    /// The site's clock at the start, `HH:MM` or `HH:MM:SS`.
    pub time_of_day: String,
    /// The seed of what little is still drawn.
    pub seed: u64,
    /// Seconds after which a ringing user answers by themselves (none: only `answer` steps).
    pub answer_after: Option<u32>,
    /// Seconds a group call rings one member before moving on to the next.
    pub ring_for: u32,
    /// Seconds an answered call lasts before the far end hangs up.
    pub talk: u32,
    /// Seconds of after-call work following a group call.
    pub acw: u32,
    /// Seconds a caller waits unanswered before hanging up.
    pub patience: u32,
    /// Keep the call the scenario has parked at the start.
    pub parked: bool,
    /// Keep the scenario's group overflows (off by default, so a waiting call stays where the
    /// script put it).
    pub overflow: bool,
}

impl Default for ScriptSite {
    fn default() -> Self {
        ScriptSite {
            scenario: "demo".to_string(),
            time_of_day: "10:00".to_string(),
            seed: 1,
            answer_after: None,
            ring_for: 600,
            talk: 900,
            acw: 30,
            patience: 1800,
            parked: false,
            overflow: false,
        }
    }
}

/// `call = { ... }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallStep {
    /// The group called (extension or name).
    pub queue: Option<String>,
    /// The user called directly (extension).
    pub user: Option<String>,
    /// The caller's number.
    pub number: String,
    /// The caller's name.
    #[serde(default)]
    pub name: String,
    /// The call's priority in the group, 1..=3.
    #[serde(default = "one")]
    pub priority: u8,
}

fn one() -> u8 {
    1
}

/// `answer = { user }`, `hangup = { user }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserStep {
    /// The user's extension.
    pub user: String,
}

/// `dnd = { user, on }`, `logged_off = { user, on }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFlagStep {
    /// The user's extension.
    pub user: String,
    /// On or off.
    pub on: bool,
}

/// `park = { slot, number, name }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParkStep {
    /// The slot, 1 to 9 characters of `0-9 # *`.
    pub slot: String,
    /// The caller's number.
    pub number: String,
    /// The caller's name.
    #[serde(default)]
    pub name: String,
}

/// `service_mode = { queue, mode }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceModeStep {
    /// The group (extension or name).
    pub queue: String,
    /// `Active`, `NS` or `OOS`.
    pub mode: String,
}

/// `member = { queue, user, enabled }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberStep {
    /// The group (extension or name).
    pub queue: String,
    /// The user's extension.
    pub user: String,
    /// Whether the member takes the group's calls.
    pub enabled: bool,
}

/// One `[[step]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Seconds after the start.
    pub at: f64,
    /// A caller arrives.
    pub call: Option<CallStep>,
    /// A user answers.
    pub answer: Option<UserStep>,
    /// The far end hangs up.
    pub hangup: Option<UserStep>,
    /// A call appears parked.
    pub park: Option<ParkStep>,
    /// Do not disturb.
    pub dnd: Option<UserFlagStep>,
    /// Logged off.
    pub logged_off: Option<UserFlagStep>,
    /// A group's service mode.
    pub service_mode: Option<ServiceModeStep>,
    /// A group's member.
    pub member: Option<MemberStep>,
}

impl Step {
    fn actions(&self) -> usize {
        [
            self.call.is_some(),
            self.answer.is_some(),
            self.hangup.is_some(),
            self.park.is_some(),
            self.dnd.is_some(),
            self.logged_off.is_some(),
            self.service_mode.is_some(),
            self.member.is_some(),
        ]
        .into_iter()
        .filter(|a| *a)
        .count()
    }
}

/// A script, read and checked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// The site.
    #[serde(default)]
    pub site: ScriptSite,
    /// The steps, in file order.
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
}

/// A service mode by the document's name (`Active`, `NS`, `OOS`) or the same in lower case.
fn parse_mode(mode: &str) -> Option<ServiceMode> {
    [
        ServiceMode::Active,
        ServiceMode::NightService,
        ServiceMode::OutOfService,
    ]
    .into_iter()
    .find(|m| mode == m.name() || mode == m.name().to_lowercase())
}

impl Script {
    /// Reads a script and checks it against its site.
    pub fn parse(text: &str) -> Result<Script, ScriptError> {
        let script: Script = toml::from_str(text).map_err(|e| ScriptError::Toml(e.to_string()))?;
        script.check()?;
        Ok(script)
    }

    /// The built-in `e2e` script.
    pub fn e2e() -> Result<Script, ScriptError> {
        Script::parse(E2E)
    }

    /// The site's clock at the start.
    pub fn time_of_day(&self) -> Result<TimeOfDay, ScriptError> {
        self.site
            .time_of_day
            .parse()
            .map_err(|e: super::site::TimeOfDayError| ScriptError::Site(e.to_string()))
    }

    /// The site the script runs on: the scenario's users, groups and park slots, no traffic of
    /// its own, and the script's fixed durations.
    pub fn build_site(&self) -> Result<Site, ScriptError> {
        let s = &self.site;
        let mut site = match s.scenario.as_str() {
            "demo" => Site::demo(),
            other => {
                return Err(ScriptError::Site(format!(
                    "scenario `{other}` is not built in; write \"demo\""
                )));
            }
        };
        if s.ring_for == 0 {
            return Err(ScriptError::Site(
                "ring_for must be at least 1 second".into(),
            ));
        }
        for q in &mut site.queues {
            q.calls_per_hour = 0.0;
            q.no_answer_time = s.ring_for;
            if !s.overflow {
                q.overflow = None;
            }
        }
        let answer = s.answer_after.unwrap_or(0);
        site.traffic = Traffic {
            answer_delay: answer..=answer,
            no_answer_chance: if s.answer_after.is_some() { 0.0 } else { 1.0 },
            talk: s.talk..=s.talk,
            direct_talk: s.talk..=s.talk,
            acw: s.acw..=s.acw,
            patience: s.patience..=s.patience,
            voicemail_message: 30..=30,
            outbound_answer_chance: 1.0,
            ..Traffic::quiet()
        };
        site.warmup = Duration::ZERO;
        site.start_waiting = 0;
        site.start_ringing = 0;
        if !s.parked {
            site.parked.clear();
        }
        Ok(site)
    }

    fn check(&self) -> Result<(), ScriptError> {
        let site = self.build_site()?;
        self.time_of_day()?;
        let user = |extn: &str| site.users.iter().any(|u| u.extn == extn);
        let queue = |q: &str| site.queues.iter().any(|x| x.extn == q || x.name == q);
        for (i, step) in self.steps.iter().enumerate() {
            let fail = |message: String| ScriptError::Step {
                step: i + 1,
                at: step.at,
                message,
            };
            if !(step.at.is_finite() && (0.0..=MAX_AT).contains(&step.at)) {
                return Err(fail(format!("`at` must be 0 to {MAX_AT} seconds (a year)")));
            }
            match step.actions() {
                1 => {}
                0 => return Err(fail("no action: give one of call, answer, hangup, park, dnd, logged_off, service_mode, member".into())),
                _ => return Err(fail("more than one action: write one step per action".into())),
            }
            let no_user = |u: &str| fail(format!("there is no user {u} on this site"));
            let no_queue = |q: &str| fail(format!("there is no group {q} on this site"));
            if let Some(c) = &step.call {
                match (&c.queue, &c.user) {
                    (Some(q), None) if !queue(q) => return Err(no_queue(q)),
                    (None, Some(u)) if !user(u) => return Err(no_user(u)),
                    (Some(_), None) | (None, Some(_)) => {}
                    _ => {
                        return Err(fail(
                            "a call goes to a `queue` or to a `user`: give one".into(),
                        ));
                    }
                }
                if !(1..=3).contains(&c.priority) {
                    return Err(fail(format!("priority {} is not 1, 2 or 3", c.priority)));
                }
            }
            for u in [&step.answer, &step.hangup].into_iter().flatten() {
                if !user(&u.user) {
                    return Err(no_user(&u.user));
                }
            }
            for u in [&step.dnd, &step.logged_off].into_iter().flatten() {
                if !user(&u.user) {
                    return Err(no_user(&u.user));
                }
            }
            if let Some(p) = &step.park
                && !is_park_slot(&p.slot)
            {
                return Err(fail(format!(
                    "park slot `{}` must be 1 to 9 characters of 0-9 # *",
                    p.slot
                )));
            }
            if let Some(m) = &step.service_mode {
                if !queue(&m.queue) {
                    return Err(no_queue(&m.queue));
                }
                if parse_mode(&m.mode).is_none() {
                    return Err(fail(format!(
                        "service mode `{}`: write Active, NS or OOS",
                        m.mode
                    )));
                }
            }
            if let Some(m) = &step.member {
                if !queue(&m.queue) {
                    return Err(no_queue(&m.queue));
                }
                if !user(&m.user) {
                    return Err(no_user(&m.user));
                }
            }
        }
        Ok(())
    }
}

/// Carries out a script's steps on a PBX at their times (sans-IO, like the PBX).
#[derive(Debug)]
pub struct ScriptRunner {
    steps: Vec<Step>,
    next: usize,
    start: Instant,
    skipped: Vec<String>,
}

impl ScriptRunner {
    /// A runner whose time 0 is `start` (the instant the PBX was built at).
    pub fn new(script: &Script, start: Instant) -> Self {
        let mut steps = script.steps.clone();
        // Stable: steps at the same time keep their file order.
        steps.sort_by(|a, b| a.at.total_cmp(&b.at));
        ScriptRunner {
            steps,
            next: 0,
            start,
            skipped: Vec::new(),
        }
    }

    fn due(&self, step: &Step) -> Instant {
        // `at` was checked to be 0..=MAX_AT, so it converts.
        self.start + Duration::try_from_secs_f64(step.at.clamp(0.0, MAX_AT)).unwrap_or_default()
    }

    /// When the next step is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.steps.get(self.next).map(|s| self.due(s))
    }

    /// Whether every step has been carried out.
    pub fn finished(&self) -> bool {
        self.next >= self.steps.len()
    }

    /// Steps not yet carried out.
    pub fn steps_left(&self) -> usize {
        self.steps.len().saturating_sub(self.next)
    }

    /// Steps that could not act when their time came, in words.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Advances the PBX to `now`, carrying out each step due on the way at its exact time.
    pub fn run_until(&mut self, now: Instant, pbx: &mut Pbx) {
        while let Some(step) = self.steps.get(self.next) {
            let at = self.due(step);
            if at > now {
                break;
            }
            let step = step.clone();
            self.next += 1;
            pbx.handle_timeout(at);
            if let Err(why) = apply(&step, pbx) {
                tracing::warn!(at = step.at, "script step skipped: {why}");
                self.skipped.push(format!("at {}: {why}", step.at));
            }
        }
        pbx.handle_timeout(now);
    }
}

fn find_queue(pbx: &Pbx, q: &str) -> Option<QueueId> {
    pbx.queue_by_extn(q).or_else(|| pbx.queue_by_name(q))
}

fn find_user(pbx: &Pbx, u: &str) -> Result<UserId, String> {
    pbx.user_by_extn(u).ok_or_else(|| format!("no user {u}"))
}

fn apply(step: &Step, pbx: &mut Pbx) -> Result<(), String> {
    if let Some(c) = &step.call {
        let caller = Caller::new(&c.number, &c.name);
        if let Some(q) = &c.queue {
            let id = find_queue(pbx, q).ok_or_else(|| format!("no group {q}"))?;
            return match pbx.place_queue_call(id, caller, c.priority) {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(format!(
                    "group {q} takes no calls (not Active, no voicemail)"
                )),
                Err(e) => Err(e.to_string()),
            };
        }
        if let Some(u) = &c.user {
            let id = find_user(pbx, u)?;
            return pbx
                .place_user_call(id, caller)
                .map(|_| ())
                .ok_or_else(|| format!("user {u} cannot take a call"));
        }
    }
    if let Some(a) = &step.answer {
        let id = find_user(pbx, &a.user)?;
        return pbx
            .answer_ringing(id)
            .then_some(())
            .ok_or_else(|| format!("nothing rings at {}", a.user));
    }
    if let Some(h) = &step.hangup {
        let id = find_user(pbx, &h.user)?;
        return pbx
            .far_end_hangs_up(id)
            .then_some(())
            .ok_or_else(|| format!("{} is on no call", h.user));
    }
    if let Some(p) = &step.park {
        return pbx
            .park_new_call(&p.slot, Caller::new(&p.number, &p.name), None)
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    if let Some(d) = &step.dnd {
        let id = find_user(pbx, &d.user)?;
        pbx.set_dnd(id, d.on);
    }
    if let Some(d) = &step.logged_off {
        let id = find_user(pbx, &d.user)?;
        pbx.set_logged_off(id, d.on);
    }
    if let Some(m) = &step.service_mode {
        let id = find_queue(pbx, &m.queue).ok_or_else(|| format!("no group {}", m.queue))?;
        let mode = parse_mode(&m.mode).ok_or_else(|| format!("no mode {}", m.mode))?;
        pbx.set_service_mode(id, mode);
    }
    if let Some(m) = &step.member {
        let q = find_queue(pbx, &m.queue).ok_or_else(|| format!("no group {}", m.queue))?;
        let u = find_user(pbx, &m.user)?;
        pbx.set_member(q, u, m.enabled);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_script_is_valid() {
        let script = Script::e2e().expect("e2e parses and checks");
        assert!(!script.steps.is_empty());
    }

    #[test]
    fn mistakes_name_the_step() {
        let bad = |text: &str| Script::parse(text).expect_err("refused").to_string();
        assert!(bad("[[step]]\nat = 1\n").contains("step 1 (at = 1): no action"));
        assert!(
            bad("[[step]]\nat = 0\ndnd = { user = \"4100\", on = true }\n[[step]]\nat = 2\nanswer = { user = \"9999\" }\n")
                .contains("step 2 (at = 2): there is no user 9999")
        );
        assert!(
            bad("[[step]]\nat = 0\ncall = { queue = \"Nowhere\", number = \"1\" }\n")
                .contains("no group Nowhere")
        );
        assert!(
            bad("[[step]]\nat = 0\npark = { slot = \"AB\", number = \"1\" }\n")
                .contains("park slot")
        );
        for at in ["-1", "1e30", "nan"] {
            let text = format!("[[step]]\nat = {at}\ndnd = {{ user = \"4100\", on = true }}\n");
            assert!(bad(&text).contains("must be 0 to"), "{at}");
        }
        assert!(bad("[site]\nscenario = \"mars\"\n").contains("scenario `mars`"));
        assert!(bad("[[step]]\nat = 0\nteleport = {}\n").contains("not valid"));
    }
}
