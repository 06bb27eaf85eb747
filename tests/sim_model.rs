//! The simulated PBX on virtual time: routing, the life of a group call, abandon, service modes,
//! overflow, ring modes, direct calls, feature bits and determinism. No sleeps: time moves only
//! when a test says so.

use std::time::{Duration, Instant};

use ipo_top::protocol::bits::CallFeatures;
use ipo_top::protocol::cmd::ServiceMode;
use ipo_top::protocol::pb;
use ipo_top::protocol::pb::call_info::{Direction, State};
use ipo_top::sim::pbx::features;
use ipo_top::sim::site::{MemberSpec, OverflowSpec, QueueSpec, RingMode, Traffic, UserSpec};
use ipo_top::sim::{Caller, Change, Line, Pbx, PhoneState, QueueId, Site, UserId};

/// A quiet site: agents 4201-4203, Claims (7301) with all three as members, and fixed
/// durations so a test knows when things happen: answer after 4 s, talk 200 s, after-call work
/// 60 s, callers give up after 90 s.
fn quiet_site() -> Site {
    let users = vec![
        UserSpec::new("4201", "Achterberg", "Femke Achterberg"),
        UserSpec::new("4202", "Nakashima", "Kenji Nakashima"),
        UserSpec::new("4203", "Oyelaran", "Tolu Oyelaran"),
    ];
    let mut claims = QueueSpec::new(
        "7301",
        "Claims",
        vec![
            MemberSpec::enabled("4201"),
            MemberSpec::enabled("4202"),
            MemberSpec::enabled("4203"),
        ],
    );
    claims.no_answer_time = 10;
    claims.did = "03007301".to_string();
    Site {
        users,
        queues: vec![claims],
        traffic: Traffic {
            answer_delay: 4..=4,
            no_answer_chance: 0.0,
            talk: 200..=200,
            acw: 60..=60,
            patience: 90..=90,
            ..Traffic::quiet()
        },
        ..Site::default()
    }
}

struct Run {
    pbx: Pbx,
    t0: Instant,
    at: Duration,
}

impl Run {
    fn new(site: Site) -> Run {
        let t0 = Instant::now();
        let pbx = Pbx::new(site, 1, "10:00".parse().expect("time"), t0).expect("valid site");
        Run {
            pbx,
            t0,
            at: Duration::ZERO,
        }
    }

    /// Moves virtual time forward and returns what changed meanwhile.
    fn advance(&mut self, secs: u64) -> Vec<Change> {
        self.at += Duration::from_secs(secs);
        self.pbx.handle_timeout(self.t0 + self.at);
        self.changes()
    }

    fn changes(&mut self) -> Vec<Change> {
        std::iter::from_fn(|| self.pbx.poll_change()).collect()
    }

    fn user(&self, extn: &str) -> UserId {
        self.pbx.user_by_extn(extn).expect("user")
    }

    fn queue(&self, name: &str) -> QueueId {
        self.pbx.queue_by_name(name).expect("queue")
    }

    fn place(&mut self, queue: &str, number: &str) -> ipo_top::sim::CallKey {
        let q = self.queue(queue);
        self.pbx
            .place_queue_call(q, Caller::new(number, "Harbour Freight Ltd"), 2)
            .expect("placed")
            .expect("the group takes calls")
    }

    fn info(&self, line: Line, call: ipo_top::sim::CallKey) -> pb::CallInfo {
        self.pbx.callinfo(line, call).expect("appearance")
    }
}

/// The users whose lines got a new or changed appearance.
fn users_rung(changes: &[Change]) -> Vec<UserId> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Call {
                line: Line::User(u),
                ..
            } => Some(*u),
            _ => None,
        })
        .collect()
}

fn lost_on(changes: &[Change], line: Line) -> Vec<(i32, bool)> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::CallLost {
                line: l,
                reason,
                this_end_dropped,
                ..
            } if *l == line => Some((*reason, *this_end_dropped)),
            _ => None,
        })
        .collect()
}

fn target_numbers(info: &pb::CallInfo) -> Vec<String> {
    info.targets
        .iter()
        .flat_map(|t| &t.target)
        .filter_map(|t| t.partyinfo.as_ref().map(|p| p.number.clone()))
        .collect()
}

fn state(info: &pb::CallInfo) -> State {
    State::try_from(info.state).expect("known state")
}

#[test]
fn a_queued_call_rings_an_idle_enabled_member_and_never_a_dnd_or_disabled_one() {
    // 4201 is in DND and 4202 is disabled in the group: only 4203 may ring.
    let mut site = quiet_site();
    site.users[0].dnd = true;
    site.queues[0].members[1].enabled = false;
    let mut run = Run::new(site);
    let q = run.queue("Claims");
    let call = run.place("Claims", "01632960001");
    let changes = run.changes();
    assert_eq!(users_rung(&changes), vec![run.user("4203")]);

    let on_queue = run.info(Line::Queue(q), call);
    assert_eq!(state(&on_queue), State::Ringing);
    assert_eq!(
        on_queue.featuresavailable,
        features::QUEUE_RINGING.to_wire()
    );
    assert_eq!(target_numbers(&on_queue), vec!["4203"]);
    let on_agent = run.info(Line::User(run.user("4203")), call);
    assert_eq!(state(&on_agent), State::Ringing);
    assert_eq!(on_agent.direction, Direction::Inbound as i32);
    assert_eq!(on_agent.featuresavailable, 0x23, "DROP ANSWER REDIRECT");

    // A second caller finds nobody else eligible: it queues, nominally targeting only 4203.
    let second = run.place("Claims", "01632960002");
    assert!(users_rung(&run.changes()).is_empty());
    let waiting = run.info(Line::Queue(q), second);
    assert_eq!(state(&waiting), State::Queueing);
    assert_eq!(
        waiting.featuresavailable,
        features::QUEUE_QUEUEING.to_wire()
    );
    assert_eq!(target_numbers(&waiting), vec!["4203"]);
    // Over the whole wait, neither 4201 nor 4202 is ever offered anything.
    let later = run.advance(80);
    let forbidden = [run.user("4201"), run.user("4202")];
    assert!(
        users_rung(&later).iter().all(|u| !forbidden.contains(u)),
        "a DND or disabled member was rung"
    );
}

#[test]
fn answer_talk_and_end_show_on_queue_and_agent_with_the_same_gcid() {
    let mut site = quiet_site();
    site.queues[0].members = vec![MemberSpec::enabled("4203")];
    let mut run = Run::new(site);
    let q = run.queue("Claims");
    let agent = run.user("4203");
    let call = run.place("Claims", "01632960003");
    run.changes();

    // Answered after 4 s: CONNECTED on both lines, one gcid.
    let answered = run.advance(4);
    assert!(
        answered
            .iter()
            .any(|c| matches!(c, Change::Call { line: Line::Queue(x), .. } if *x == q))
    );
    let on_queue = run.info(Line::Queue(q), call);
    let on_agent = run.info(Line::User(agent), call);
    assert_eq!(state(&on_queue), State::Connected);
    assert_eq!(state(&on_agent), State::Connected);
    assert_eq!(on_queue.gcid, on_agent.gcid);
    assert_eq!(on_queue.gcid.len(), 9);
    assert_eq!(
        on_queue.gcid[..5],
        [0x01, 192, 168, 42, 11],
        "01 + the system's address"
    );
    assert_eq!(
        on_queue.connectedparty.as_ref().map(|p| p.number.as_str()),
        Some("4203")
    );
    assert_eq!(
        on_agent.callingparty.as_ref().map(|p| p.number.as_str()),
        Some("01632960003")
    );
    assert_eq!(
        on_agent
            .originalcalledparty
            .as_ref()
            .map(|p| p.name.as_str()),
        Some("Claims")
    );
    assert_eq!(on_agent.queueinfo.as_ref().map(|i| i.priority), Some(2));
    assert_eq!(
        on_queue.trunkinfo.as_ref().map(|t| t.did.as_str()),
        Some("03007301")
    );
    assert_eq!(run.pbx.stats().answered, 1);

    // After 200 s of talk the call ends: CallLost with reason 16 on both lines.
    assert!(run.advance(199).is_empty());
    let ended = run.advance(1);
    assert_eq!(lost_on(&ended, Line::Queue(q)).len(), 1);
    assert_eq!(lost_on(&ended, Line::Queue(q))[0].0, 16);
    assert_eq!(lost_on(&ended, Line::User(agent)).len(), 1);
    assert_eq!(lost_on(&ended, Line::User(agent))[0].0, 16);
    assert!(run.pbx.callinfo(Line::Queue(q), call).is_none());

    // After-call work: the agent is not offered the next call for 60 s.
    assert_eq!(
        run.pbx.user(agent).map(|u| u.phone_state()),
        Some(PhoneState::Acw)
    );
    let next = run.place("Claims", "01632960004");
    assert!(users_rung(&run.changes()).is_empty());
    assert_eq!(state(&run.info(Line::Queue(q), next)), State::Queueing);
    assert!(users_rung(&run.advance(59)).is_empty());
    assert_eq!(users_rung(&run.advance(1)), vec![agent]);
}

#[test]
fn a_caller_abandons_after_their_patience() {
    // Nobody can answer: everyone is in DND.
    let mut site = quiet_site();
    for u in &mut site.users {
        u.dnd = true;
    }
    let mut run = Run::new(site);
    let q = run.queue("Claims");
    let call = run.place("Claims", "07700900123");
    run.changes();
    assert!(run.advance(89).is_empty(), "still waiting after 89 s");
    let gone = run.advance(1);
    assert_eq!(lost_on(&gone, Line::Queue(q)), vec![(16, false)]);
    assert!(run.pbx.callinfo(Line::Queue(q), call).is_none());
    let stats = run.pbx.stats();
    assert_eq!((stats.abandoned, stats.answered, stats.waiting), (1, 0, 0));
}

#[test]
fn night_service_and_out_of_service_stop_routing() {
    let mut site = quiet_site();
    site.queues[0].members = vec![MemberSpec::enabled("4203")];
    site.users[2].dnd = true;
    let mut run = Run::new(site);
    let q = run.queue("Claims");
    let agent = run.user("4203");

    // In night service without voicemail a call never shows on the group.
    run.pbx.set_service_mode(q, ServiceMode::NightService);
    run.changes();
    let unseen = run
        .pbx
        .place_queue_call(q, Caller::new("01632960005", ""), 1)
        .expect("placed");
    assert!(unseen.is_none());
    assert!(run.changes().is_empty());

    // With voicemail on it is answered by voicemail, never by an agent.
    run.pbx.set_queue_voicemail(q, true);
    let to_vm = run.place("Claims", "01632960006");
    let vm = run.info(Line::Queue(q), to_vm);
    assert_eq!(state(&vm), State::Answeredbyvoicemail);
    assert_eq!(vm.featuresavailable, features::QUEUE_VOICEMAIL.to_wire());
    run.pbx.set_queue_voicemail(q, false);

    // A call waiting when the group goes out of service is not routed, even to a free agent.
    run.pbx.set_service_mode(q, ServiceMode::Active);
    let waiting = run.place("Claims", "01632960007");
    run.pbx.set_service_mode(q, ServiceMode::OutOfService);
    run.pbx.set_dnd(agent, false);
    let meanwhile = run.advance(30);
    assert!(!users_rung(&meanwhile).contains(&agent));
    assert_eq!(state(&run.info(Line::Queue(q), waiting)), State::Queueing);

    // Back in service, the agent rings at once.
    run.pbx.set_service_mode(q, ServiceMode::Active);
    assert_eq!(users_rung(&run.changes()), vec![agent]);
}

#[test]
fn a_waiting_call_overflows_to_the_second_group() {
    let mut site = quiet_site();
    site.users[0].dnd = true;
    site.queues[0].members = vec![MemberSpec::enabled("4203")];
    let mut roadside = QueueSpec::new("7302", "Roadside", vec![MemberSpec::enabled("4201")]);
    roadside.overflow = Some(OverflowSpec {
        queue_extn: "7301".to_string(),
        after: Duration::from_secs(30),
    });
    site.queues.push(roadside);
    let mut run = Run::new(site);
    let road = run.queue("Roadside");
    let call = run.place("Roadside", "01632960008");
    run.changes();
    let before = run.info(Line::Queue(road), call);
    assert_eq!(state(&before), State::Queueing);
    assert_eq!(
        before
            .queueinfo
            .as_ref()
            .map(|i| i.overflow_number.as_str()),
        Some("")
    );

    assert!(users_rung(&run.advance(29)).is_empty());
    let overflowed = run.advance(1);
    assert_eq!(users_rung(&overflowed), vec![run.user("4203")]);
    let after = run.info(Line::Queue(road), call);
    let qi = after.queueinfo.clone().expect("queueinfo");
    assert_eq!(
        (
            qi.number.as_str(),
            qi.overflow_number.as_str(),
            qi.overflow_name.as_str()
        ),
        ("7302", "7301", "Claims")
    );
    // The call is still reported on the group it arrived at.
    assert_eq!(state(&after), State::Ringing);
    assert_eq!(run.pbx.stats().overflowed, 1);
}

#[test]
fn ring_modes_pick_members_as_configured() {
    // Sequential: the first free member in list order.
    let mut site = quiet_site();
    site.queues[0].ring_mode = RingMode::Sequential;
    site.queues[0].members.reverse();
    let mut run = Run::new(site);
    run.place("Claims", "01632960010");
    assert_eq!(users_rung(&run.changes()), vec![run.user("4203")]);

    // Group: everyone free rings; the first to answer takes it and the others stop ringing.
    let mut site = quiet_site();
    site.queues[0].ring_mode = RingMode::Group;
    let mut run = Run::new(site);
    let call = run.place("Claims", "01632960011");
    let rung = users_rung(&run.changes());
    assert_eq!(rung.len(), 3);
    let q = run.queue("Claims");
    assert_eq!(target_numbers(&run.info(Line::Queue(q), call)).len(), 3);
    let answered = run.advance(4);
    let lost: usize = rung
        .iter()
        .map(|u| lost_on(&answered, Line::User(*u)).len())
        .sum();
    assert_eq!(lost, 2, "the two who did not answer lose the call");

    // Ring idle: the member idle longest, not the first in the list.
    let mut run = Run::new(quiet_site());
    let first = users_rung(&{
        run.place("Claims", "01632960012");
        run.changes()
    });
    assert_eq!(first, vec![run.user("4201")]);
    run.advance(4 + 200 + 60); // answered, talked, after-call work done
    run.place("Claims", "01632960013");
    assert_eq!(users_rung(&run.changes()), vec![run.user("4202")]);
}

#[test]
fn an_unanswered_agent_loses_the_call_to_the_next_member() {
    let mut site = quiet_site();
    site.queues[0].ring_mode = RingMode::Sequential;
    site.traffic.no_answer_chance = 1.0;
    let mut run = Run::new(site);
    let q = run.queue("Claims");
    let call = run.place("Claims", "01632960014");
    assert_eq!(users_rung(&run.changes()), vec![run.user("4201")]);
    let moved = run.advance(10);
    assert_eq!(lost_on(&moved, Line::User(run.user("4201"))).len(), 1);
    assert_eq!(users_rung(&moved), vec![run.user("4202")]);
    assert_eq!(
        target_numbers(&run.info(Line::Queue(q), call)),
        vec!["4202"]
    );
}

#[test]
fn lines_changes_are_reported() {
    let mut run = Run::new(quiet_site());
    let id = run
        .pbx
        .add_user(UserSpec::new("4299", "Brennan", "Siobhan Brennan"))
        .expect("added");
    let added = run.changes();
    assert!(matches!(
        added.as_slice(),
        [Change::Lines(ipo_top::sim::LinesOp::Add, e)] if e.extn == "4299" && e.name == "Brennan"
    ));
    assert!(
        run.pbx
            .add_user(UserSpec::new("4299", "Twice", "Twice"))
            .is_err()
    );

    run.pbx.rename_user(id, "Brennan-Ross");
    let renamed = run.changes();
    assert!(renamed.iter().any(|c| matches!(
        c,
        Change::Lines(ipo_top::sim::LinesOp::Change, e) if e.name == "Brennan-Ross"
    )));
    assert!(renamed.contains(&Change::UserConfig(id)));

    // Removing an agent who is ringing sends the call back to its group.
    let q = run.queue("Claims");
    let call = run.place("Claims", "01632960015");
    let rung = users_rung(&run.changes());
    assert_eq!(rung.len(), 1);
    run.pbx.remove_user(rung[0]);
    let removed = run.changes();
    assert!(
        removed
            .iter()
            .any(|c| matches!(c, Change::Lines(ipo_top::sim::LinesOp::Delete, _)))
    );
    assert!(removed.contains(&Change::QueueConfig(q)));
    assert!(run.pbx.callinfo(Line::Queue(q), call).is_some());
    assert!(run.pbx.user(rung[0]).is_none());
}

/// Runs the demo site for `hours` of virtual time, calling `each` with every change.
fn run_demo(seed: u64, hours: u64, mut each: impl FnMut(&Pbx, &Change)) -> Pbx {
    let t0 = Instant::now();
    let mut pbx = Pbx::new(Site::demo(), seed, "09:00".parse().expect("time"), t0).expect("demo");
    let end = t0 + Duration::from_secs(hours * 3600);
    while let Some(at) = pbx.poll_timeout() {
        if at > end {
            break;
        }
        pbx.handle_timeout(at);
        while let Some(c) = pbx.poll_change() {
            each(&pbx, &c);
        }
    }
    pbx
}

#[test]
fn the_same_seed_gives_the_same_day() {
    let record = |seed| {
        let mut log = Vec::new();
        run_demo(seed, 3, |pbx, c| {
            let snapshot = match c {
                Change::Call { line, call, .. } => format!("{:?}", pbx.callinfo(*line, *call)),
                _ => String::new(),
            };
            log.push(format!("{c:?} {snapshot}"));
        });
        log
    };
    let first = record(42);
    assert!(first.len() > 1000, "a busy morning has many changes");
    assert_eq!(first, record(42));
    assert_ne!(first, record(43));
}

#[test]
fn every_appearance_carries_the_features_of_its_line_type_and_state() {
    let mut seen = std::collections::BTreeSet::new();
    run_demo(7, 2, |pbx, c| {
        let Change::Call { line, call, .. } = c else {
            return;
        };
        let Some(info) = pbx.callinfo(*line, *call) else {
            return;
        };
        let f = CallFeatures::from_wire(info.featuresavailable);
        let st = state(&info);
        let expected = match (line, st) {
            (Line::Queue(_), State::Queueing) => features::QUEUE_QUEUEING,
            (Line::Queue(_), State::Ringing) => features::QUEUE_RINGING,
            (Line::Queue(_), State::Connected) => features::QUEUE_CONNECTED,
            (Line::Queue(_), State::Answeredbyvoicemail) => features::QUEUE_VOICEMAIL,
            (Line::User(_), State::Ringing) => features::USER_RINGING,
            (Line::User(_), State::Ringback) => features::USER_RINGBACK,
            (Line::User(_), State::Connected) => features::USER_CONNECTED,
            (Line::Park, State::Onhold) => features::PARKED,
            other => panic!("unexpected appearance {other:?}"),
        };
        assert_eq!(f, expected, "{line:?} {st:?}");
        match line {
            Line::Queue(_) => assert!((f & features::USER_ONLY).is_empty()),
            _ => assert!((f & features::QUEUE_ONLY).is_empty()),
        }
        seen.insert(format!("{:?} {st:?}", std::mem::discriminant(line)));
    });
    assert!(
        seen.len() >= 6,
        "the demo shows most kinds of appearance: {seen:?}"
    );
}

#[test]
fn users_make_and_receive_direct_calls() {
    // Four users with their own calls only, and a call parked now and then for a colleague.
    let mut users: Vec<UserSpec> = ["4301", "4302", "4303", "4304"]
        .iter()
        .map(|e| {
            let mut u = UserSpec::new(e, &format!("User{e}"), &format!("User {e}"));
            u.direct_calls = true;
            u.did = format!("0300{e}");
            u
        })
        .collect();
    users[0].dnd = true;
    let site = Site {
        users,
        park_slots: vec!["1".to_string(), "2".to_string()],
        traffic: Traffic {
            park_chance: 0.5,
            curve: ipo_top::sim::site::DailyCurve::flat(),
            ..Traffic::default()
        },
        ..Site::default()
    };
    let t0 = Instant::now();
    let mut pbx = Pbx::new(site, 3, "10:00".parse().expect("time"), t0).expect("site");
    let dnd = pbx.user_by_extn("4301").expect("user");
    let (mut inbound, mut outbound, mut internal, mut parked, mut picked_up) =
        (false, false, false, false, false);
    while let Some(at) = pbx.poll_timeout() {
        if at > t0 + Duration::from_secs(4 * 3600) {
            break;
        }
        pbx.handle_timeout(at);
        while let Some(c) = pbx.poll_change() {
            let Change::Call { line, call, .. } = c else {
                continue;
            };
            let Some(info) = pbx.callinfo(line, call) else {
                continue;
            };
            assert!(info.queueinfo.is_none() && info.originalcalledparty.is_none());
            let Line::User(u) = line else {
                parked |= !info.parkslot.is_empty();
                continue;
            };
            let direction = Direction::try_from(info.direction).expect("direction");
            let to_user = info
                .connectedparty
                .as_ref()
                .or(info.callingparty.as_ref())
                .is_some_and(|p| p.nametype == 5);
            match direction {
                Direction::Inbound if !to_user => {
                    assert_ne!(u, dnd, "a user in DND receives no calls");
                    let user = pbx.user(u).expect("user");
                    let did = info.trunkinfo.as_ref().map(|t| t.did.as_str());
                    assert_eq!(did, Some(user.spec.did.as_str()));
                    inbound = true;
                }
                Direction::Outbound => {
                    assert!(info.dialinfo.is_some());
                    if to_user {
                        internal = true;
                    } else {
                        outbound = true;
                    }
                }
                Direction::Pickup => picked_up = true,
                _ => {}
            }
        }
    }
    assert!(
        inbound && outbound && internal && parked && picked_up,
        "in {inbound} out {outbound} internal {internal} parked {parked} pickup {picked_up}"
    );
}

#[test]
fn the_demo_is_alive_from_the_first_second() {
    let t0 = Instant::now();
    for seed in [1, 7, 42, 1234, 99_999] {
        for time in ["08:15", "10:30", "16:45"] {
            let mut pbx =
                Pbx::new(Site::demo(), seed, time.parse().expect("time"), t0).expect("demo");
            let s = pbx.stats();
            let ctx = format!("seed {seed} at {time}: {s:?}");
            assert!(s.talking >= 3, "agents are talking at the start: {ctx}");
            assert!(s.waiting >= 2, "calls wait at the start: {ctx}");
            assert!(s.ringing >= 1, "agents ring at the start: {ctx}");
            assert_eq!(s.parked, 1);
            assert!(pbx.users().any(|u| u.spec.dnd));
            assert!(pbx.users().any(|u| u.spec.logged_off));
            // And a second later it is still so: the calls did not all vanish at once.
            pbx.handle_timeout(t0 + Duration::from_secs(1));
            while pbx.poll_change().is_some() {}
            let s = pbx.stats();
            assert!(s.waiting >= 1 && s.talking >= 3, "one second in: {s:?}");
        }
    }
}

#[test]
fn the_scale_site_is_as_large_as_asked_and_changes_at_its_rate() {
    use ipo_top::sim::scale::ScaleOptions;
    let t0 = Instant::now();
    let opts = ScaleOptions::default();
    let mut pbx =
        Pbx::new(Site::scale(opts), 3, "10:30".parse().expect("time"), t0).expect("scale");
    assert_eq!(pbx.users().count(), 3000);
    assert_eq!(pbx.queues().count(), 150);
    assert!(pbx.queues().all(|q| q.members().len() == 20));
    let s = pbx.stats();
    assert!(
        (1800..=2200).contains(&s.calls),
        "about 2000 calls at the start: {s:?}"
    );
    // Ten seconds of site time: about 500 call changes a second.
    pbx.handle_timeout(t0 + Duration::from_secs(10));
    let changes = std::iter::from_fn(|| pbx.poll_change())
        .filter(|c| matches!(c, Change::Call { .. } | Change::CallLost { .. }))
        .count();
    assert!(
        (4500..=5500).contains(&changes),
        "{changes} changes in 10 s"
    );
    let s = pbx.stats();
    assert!(
        (1800..=2200).contains(&s.calls),
        "and still about 2000: {s:?}"
    );
}

#[test]
fn the_scale_site_at_rate_zero_stands_still_with_its_calls_in_place() {
    use ipo_top::sim::scale::ScaleOptions;
    let t0 = Instant::now();
    let opts = ScaleOptions {
        changes_per_sec: 0.0,
        ..ScaleOptions::default()
    };
    let mut pbx =
        Pbx::new(Site::scale(opts), 3, "10:30".parse().expect("time"), t0).expect("scale");
    let before = pbx.stats();
    assert!(
        (1800..=2200).contains(&before.calls),
        "about 2000 calls at the start: {before:?}"
    );
    // An hour of site time: nothing arrives, changes or ends.
    pbx.handle_timeout(t0 + Duration::from_secs(3600));
    let changes = std::iter::from_fn(|| pbx.poll_change()).count();
    assert_eq!(changes, 0, "a still site reports no change");
    let after = pbx.stats();
    let counts = |s: &ipo_top::sim::SiteStats| (s.calls, s.waiting, s.ringing, s.talking, s.acw);
    assert_eq!(
        counts(&after),
        counts(&before),
        "the same calls, as they were"
    );
    assert_eq!(after.arrived, 0);
}
