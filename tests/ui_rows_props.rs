//! The incremental rows against the from-scratch oracle: random sequences of model changes
//! (users and queues added, changed and removed; calls new, changed, ended and moving between
//! queues, agents and the park server; the filter; a resync and a move to the other system)
//! go through the model into the screen in batches of random size, and after every batch
//! every pane's rows, order and figures must equal a rebuild of the same model.

use std::time::{Duration, Instant};

use ipo_top::model::{
    Absence, CallLost, CallSnapshot, CallState, ConnectionState, Gcid, Guid, LineEntry, LineId,
    Model, Party, PbxSystem, PhoneState, QueueDetail, QueueMember, QueueStatus, RemoveReason,
    Scope, ScopeAgents, Text, UserStatus,
};
use ipo_top::ui::rows::{AgentWidths, AgentWords, QueueWidths, QueueWords, from_scratch};
use ipo_top::ui::{App, Event, Key, KeyCode, UiConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

const EXTNS: [&str; 7] = ["4101", "4102", "4103", "999", "1000", "x1", "+5"];
const NAMES: [&str; 4] = ["Ng", "Okafor", "Quist", "Claims"];
const FILTERS: [&str; 6] = ["", "41", "claims", "avail", "0770", "ok"];
const SLOTS: [&str; 3] = ["1", "2", "10"];
const STATES: [CallState; 6] = [
    CallState::Queueing,
    CallState::Ringing,
    CallState::Connected,
    CallState::OnHold,
    CallState::Dialling,
    CallState::Retargeting,
];
const PHONES: [PhoneState; 5] = [
    PhoneState::Idle,
    PhoneState::Ringing,
    PhoneState::Connected,
    PhoneState::AfterCallWork,
    PhoneState::Logout,
];

#[derive(Clone, Debug)]
enum Line {
    User(u8),
    Queue(u8),
    Park,
}

#[derive(Clone, Debug)]
enum Op {
    User {
        n: u8,
        extn: usize,
        name: usize,
    },
    RemoveUser(u8),
    Status {
        n: u8,
        dnd: bool,
        off: bool,
        away: bool,
    },
    Phone {
        n: u8,
        phone: usize,
    },
    Queue {
        n: u8,
        extn: usize,
        name: usize,
    },
    RemoveQueue(u8),
    Members {
        n: u8,
        members: Vec<(usize, bool)>,
    },
    Call {
        line: Line,
        callid: i32,
        state: usize,
        priority: i32,
        gcid: Option<u8>,
        caller: usize,
        slot: usize,
    },
    Lost {
        line: Line,
        callid: i32,
    },
    Resync(Line),
    FinishResync(Line),
    System(bool),
    Filter(usize),
    /// The waiting pane narrowed to the selected queue, or widened to every queue.
    NarrowWaiting,
    /// A key of the agent grid: narrow to the selected queue's members, the next sort
    /// column, reverse; or the next queue selected.
    AgentKey(char),
    Deliver,
    Wait(u8),
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        2 => (0u8..6).prop_map(Line::User),
        2 => (0u8..4).prop_map(Line::Queue),
        1 => Just(Line::Park),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..6, 0..EXTNS.len(), 0..NAMES.len()).prop_map(|(n, extn, name)| Op::User { n, extn, name }),
        1 => (0u8..6).prop_map(Op::RemoveUser),
        3 => (0u8..6, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(n, dnd, off, away)| Op::Status { n, dnd, off, away }),
        3 => (0u8..6, 0..PHONES.len()).prop_map(|(n, phone)| Op::Phone { n, phone }),
        2 => (0u8..4, 0..EXTNS.len(), 0..NAMES.len()).prop_map(|(n, extn, name)| Op::Queue { n, extn, name }),
        1 => (0u8..4).prop_map(Op::RemoveQueue),
        2 => (0u8..4, prop::collection::vec((0..EXTNS.len(), any::<bool>()), 0..4)).prop_map(|(n, members)| Op::Members { n, members }),
        8 => (line(), 1i32..8, 0..STATES.len(), 0i32..3, prop::option::of(0u8..4), 0..NAMES.len(), 0..SLOTS.len())
            .prop_map(|(line, callid, state, priority, gcid, caller, slot)| Op::Call { line, callid, state, priority, gcid, caller, slot }),
        3 => (line(), 1i32..8).prop_map(|(line, callid)| Op::Lost { line, callid }),
        1 => line().prop_map(Op::Resync),
        1 => line().prop_map(Op::FinishResync),
        1 => any::<bool>().prop_map(Op::System),
        1 => (0..FILTERS.len()).prop_map(Op::Filter),
        1 => Just(Op::NarrowWaiting),
        2 => prop::sample::select(vec!['o', '>', 'I', 'q']).prop_map(Op::AgentKey),
        4 => Just(Op::Deliver),
        2 => (0u8..3).prop_map(Op::Wait),
    ]
}

fn guid(kind: u8, n: u8) -> Guid {
    Guid::from_bytes(&[kind, n])
}

fn line_id(l: &Line) -> LineId {
    match l {
        Line::User(n) => LineId::User(guid(1, *n)),
        Line::Queue(n) => LineId::Queue(guid(2, *n)),
        Line::Park => LineId::ParkServer,
    }
}

fn party(i: usize) -> Party {
    Party {
        number: format!("07700{i}").into(),
        name: NAMES[i % NAMES.len()].into(),
        ..Party::default()
    }
}

/// The scopes a run may watch: the whole site, queues by name or number with their members,
/// every user, listed extensions, and a queue the PBX does not have.
fn scope(n: usize) -> Scope {
    let texts = |xs: &[&str]| xs.iter().map(|x| Text::from(*x)).collect::<Vec<_>>();
    match n {
        0 => Scope::default(),
        1 => Scope {
            queues: texts(&["okafor", "999"]),
            agents: ScopeAgents::Members,
        },
        2 => Scope {
            queues: texts(&["Claims"]),
            agents: ScopeAgents::All,
        },
        3 => Scope {
            queues: Vec::new(),
            agents: ScopeAgents::Listed(texts(&["4101", "999"])),
        },
        _ => Scope {
            queues: texts(&["x1", "nowhere"]),
            agents: ScopeAgents::Listed(texts(&["4102", "+5"])),
        },
    }
}

const SCOPES: usize = 5;

/// A model, the screen fed from it, and the clock.
struct Run {
    model: Model,
    app: App,
    base: Instant,
    secs: u64,
}

impl Run {
    fn new(scope: Scope) -> Run {
        let base = Instant::now();
        let mut model = Model::new();
        model.set_connection(ConnectionState::Connected {
            round_trip_ms: None,
        });
        model.set_park_available(base, true);
        let mut run = Run {
            model,
            app: App::new(
                UiConfig {
                    scope,
                    ..UiConfig::default()
                },
                base,
            ),
            base,
            secs: 0,
        };
        // A small site to start from: every user and queue there, queues sharing members.
        for n in 0..6u8 {
            let extn = usize::from(n) % EXTNS.len();
            run.step(&Op::User {
                n,
                extn,
                name: usize::from(n) % NAMES.len(),
            });
        }
        for n in 0..4u8 {
            run.step(&Op::Queue {
                n,
                extn: usize::from(n) + 2,
                name: usize::from(n),
            });
            let members = (0..3).map(|i| ((usize::from(n) + i) % 6, i != 2)).collect();
            run.step(&Op::Members { n, members });
        }
        run.deliver();
        // Settle the start-up selection, so every later batch keeps it by identity.
        run.app.update(Event::Key(Key::plain(KeyCode::Tab)));
        run
    }

    fn now(&self) -> Instant {
        self.base + Duration::from_secs(self.secs)
    }

    /// Gives the screen the model's events as one batch, and checks that the selected agent
    /// and parked call stayed on their rows or moved to their old neighbours.
    fn deliver(&mut self) {
        let events: Vec<_> = std::iter::from_fn(|| self.model.poll_event()).collect();
        self.kept(|app| app.update(Event::Model(events)));
    }

    fn kept(&mut self, change: impl FnOnce(&mut App) -> Vec<ipo_top::ui::Action>) {
        let agents =
            |app: &App| -> Vec<Guid> { app.derived().agents(..).map(|r| r.guid.clone()).collect() };
        let (old_agents, old_parked) = (agents(&self.app), self.app.derived().parked().to_vec());
        let before = self.app.selection().clone();
        change(&mut self.app);
        let after = self.app.selection();
        let want = neighbour(before.agent.as_ref(), &old_agents, &agents(&self.app));
        assert_eq!(after.agent, want, "agent kept");
        let parked = self.app.derived().parked();
        let want = neighbour(before.parked.as_ref(), &old_parked, parked);
        assert_eq!(after.parked, want, "parked call kept");
    }

    fn filter(&mut self, text: &str) {
        self.app.update(Event::Key(Key::char('/')));
        self.kept(|app| app.update(Event::Key(Key::ctrl('u'))));
        for c in text.chars() {
            self.kept(|app| app.update(Event::Key(Key::char(c))));
        }
        self.app.update(Event::Key(Key::plain(KeyCode::Enter)));
    }

    fn step(&mut self, op: &Op) {
        let now = self.now();
        let m = &mut self.model;
        match op {
            Op::User { n, extn, name } => {
                m.upsert_user(
                    now,
                    LineEntry {
                        guid: guid(1, *n),
                        extn: EXTNS[*extn].into(),
                        name: NAMES[*name].into(),
                    },
                );
            }
            Op::RemoveUser(n) => {
                m.remove_user(now, &guid(1, *n), RemoveReason::Deleted);
            }
            Op::Status { n, dnd, off, away } => {
                let st = UserStatus {
                    full_name: format!("{} Full", NAMES[*n as usize % NAMES.len()]).into(),
                    dnd: *dnd,
                    logged_off: *off,
                    absence: away.then(|| Absence {
                        msg: 4,
                        text: "14:00".into(),
                        phrase: "AT LUNCH".into(),
                    }),
                    ..UserStatus::default()
                };
                m.set_user_status(now, &guid(1, *n), Text::empty(), Text::empty(), st);
            }
            Op::Phone { n, phone } => {
                m.set_phone_state(now, &guid(1, *n), PHONES[*phone]);
            }
            Op::Queue { n, extn, name } => {
                m.upsert_queue(LineEntry {
                    guid: guid(2, *n),
                    extn: EXTNS[*extn].into(),
                    name: NAMES[*name].into(),
                });
            }
            Op::RemoveQueue(n) => {
                m.remove_queue(now, &guid(2, *n), RemoveReason::Deleted);
            }
            Op::Members { n, members } => {
                let members = members
                    .iter()
                    .map(|(e, enabled)| QueueMember {
                        extn: EXTNS[*e].into(),
                        enabled: *enabled,
                    })
                    .collect();
                let status = QueueStatus {
                    members: Some(members),
                    ..QueueStatus::default()
                };
                m.set_queue_status(&guid(2, *n), Text::empty(), Text::empty(), status);
            }
            Op::Call {
                line,
                callid,
                state,
                priority,
                gcid,
                caller,
                slot,
            } => {
                let snap = CallSnapshot {
                    callid: *callid,
                    state: STATES[*state],
                    gcid: gcid.map(|g| Gcid::from_bytes(&[9, g])),
                    calling: Some(party(*caller)),
                    queue: matches!(line, Line::Queue(_)).then(|| QueueDetail {
                        number: "7301".into(),
                        name: NAMES[*caller % NAMES.len()].into(),
                        priority: *priority,
                        ..QueueDetail::default()
                    }),
                    park_slot: if matches!(line, Line::Park) {
                        SLOTS[*slot].into()
                    } else {
                        Text::empty()
                    },
                    ..CallSnapshot::default()
                };
                m.call_info(now, line_id(line), snap);
            }
            Op::Lost { line, callid } => {
                let lost = CallLost {
                    callid: *callid,
                    reference_callid: 0,
                    cause: 16,
                    this_end_dropped: false,
                    description: Text::empty(),
                };
                m.call_lost(now, line_id(line), lost);
            }
            Op::Resync(line) => m.begin_resync(&line_id(line)),
            Op::FinishResync(line) => m.finish_resync(now, &line_id(line)),
            Op::System(secondary) => {
                let system = if *secondary {
                    PbxSystem::Secondary
                } else {
                    PbxSystem::Primary
                };
                m.set_system(now, system);
            }
            Op::Filter(f) => {
                self.deliver();
                self.filter(FILTERS[*f]);
            }
            Op::NarrowWaiting => {
                self.deliver();
                self.app.update(Event::Key(Key::char('w')));
            }
            Op::AgentKey(c) => {
                self.deliver();
                let key = match c {
                    // The next queue: Tab back to the queue pane, move down, Tab on.
                    'q' => None,
                    c => Some(Key::char(*c)),
                };
                match key {
                    Some(k) => self.kept(|app| app.update(Event::Key(k))),
                    None => {
                        let focus = self.app.focus();
                        while self.app.focus() != ipo_top::ui::Pane::Queues {
                            self.app.update(Event::Key(Key::plain(KeyCode::Tab)));
                        }
                        self.kept(|app| app.update(Event::Key(Key::char('j'))));
                        while self.app.focus() != focus {
                            self.app.update(Event::Key(Key::plain(KeyCode::Tab)));
                        }
                    }
                }
            }
            Op::Deliver => self.deliver(),
            Op::Wait(s) => self.secs += u64::from(*s),
        }
    }

    /// Every pane equals the rebuild; the agent and queue columns' widths are their widest
    /// rows'; the selected agent is listed.
    fn check(&self) -> Result<(), TestCaseError> {
        let d = self.app.derived();
        let model = self.app.model();
        let view = self.app.view_state();
        let narrow = (view.narrow_agents)
            .then_some(self.app.selection().queue.as_ref())
            .flatten();
        let scope = &self.app.config().scope;
        let oracle = from_scratch(model, &self.app.filter().text, scope, view.agents, narrow);
        prop_assert_eq!(d.panes(), oracle);
        let mut widest = AgentWidths::default();
        for r in d.agents(..) {
            let u = model
                .user(&r.guid)
                .ok_or_else(|| TestCaseError::fail("no user"))?;
            let w = AgentWords::of(model, u, r).widths();
            for (a, b) in widest.0.iter_mut().zip(w.0) {
                *a = (*a).max(b);
            }
        }
        prop_assert_eq!(d.agent_widths(), widest);
        let mut widest = QueueWidths::default();
        let scope = &self.app.config().scope;
        for q in model.queues().filter(|q| scope.covers_queue(q)) {
            for (a, b) in widest.0.iter_mut().zip(QueueWords::of(q).widths().0) {
                *a = (*a).max(b);
            }
        }
        prop_assert_eq!(d.queue_widths(), widest);
        for (i, r) in d.agents(..).enumerate() {
            prop_assert_eq!(d.agent_position(&r.guid), Some(i));
        }
        // The selected waiting call is one the pane lists; nothing is selected only when
        // it lists nothing.
        let rows = self.app.waiting_rows();
        match self.app.selection().call {
            Some(c) => prop_assert!(rows.contains(&c), "selected call not listed"),
            None => prop_assert!(rows.is_empty(), "no call selected"),
        }
        match &self.app.selection().agent {
            Some(g) => prop_assert!(d.agent_position(g).is_some(), "selected agent not listed"),
            None => prop_assert!(d.agents_len() == 0, "no agent selected"),
        }
        Ok(())
    }
}

/// The selection the screen keeps: the item while it is listed, else the next old row that
/// still is, else the previous one, else the first row.
fn neighbour<T: Clone + PartialEq>(sel: Option<&T>, old: &[T], new: &[T]) -> Option<T> {
    let Some(sel) = sel else {
        return new.first().cloned();
    };
    if new.contains(sel) {
        return Some(sel.clone());
    }
    if let Some(at) = old.iter().position(|r| r == sel) {
        let after = old[at + 1..].iter().find(|r| new.contains(r));
        let before = old[..at].iter().rev().find(|r| new.contains(r));
        if let Some(n) = after.or(before) {
            return Some(n.clone());
        }
    }
    new.first().cloned()
}

fn run(scope_n: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut r = Run::new(scope(scope_n));
    for op in ops {
        r.step(op);
        if matches!(
            op,
            Op::Deliver | Op::Filter(_) | Op::NarrowWaiting | Op::AgentKey(_)
        ) {
            r.check()?;
        }
        r.secs += 1;
    }
    r.deliver();
    r.check()
}

#[test]
fn incremental_rows_equal_a_rebuild_after_every_batch() {
    // Seeded, so a failure is found again by the same run.
    let config = Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[13; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let ops = (0..SCOPES, prop::collection::vec(op(), 1..60));
    if let Err(e) = runner.run(&ops, |(scope, ops)| run(scope, &ops)) {
        panic!("{e}");
    }
}
