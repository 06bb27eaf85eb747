//! A call centre at a fixed moment, for the screen's tests: three queues, twelve agents in
//! every state, calls waiting, a parked call. Built through the model's own inputs, so the
//! screen gets exactly the events a session would give it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use ipo_top::model::{
    Absence, CallFeatureBits, CallSnapshot, CallState, ConnectionState, Direction, Gcid, Guid,
    LineEntry, LineId, Model, ModelEvent, Party, QueueDetail, QueueMember, QueueStatus,
    ServiceMode, Text, TrunkDetail, TrunkKind, UserStatus,
};
use ipo_top::ui::{App, Event, LocalTime, Theme, UiConfig};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// Seconds from the model's first input to the moment the screen shows.
pub const NOW: u64 = 7200;

/// The clock the header shows.
pub const CLOCK: LocalTime = LocalTime {
    hour: 14,
    minute: 32,
    second: 7,
};

/// A site being built, with a base instant all times are offsets from.
pub struct Site {
    pub model: Model,
    pub base: Instant,
    next_callid: i32,
}

pub fn guid(n: u8) -> Guid {
    Guid::from_bytes(&[0xDC, 0x51, n])
}

pub fn gcid(n: u16) -> Option<Gcid> {
    let [a, b] = n.to_be_bytes();
    Some(Gcid::from_bytes(&[0x01, 0xC0, 0xA8, 0x2A, a, b]))
}

pub fn party(number: &str, name: &str) -> Party {
    Party {
        number: number.into(),
        name: name.into(),
        ..Party::default()
    }
}

/// (guid byte, extension, name)
pub const AGENTS: [(u8, &str, &str); 12] = [
    (1, "4101", "Achterberg"),
    (2, "4102", "Nakashima"),
    (3, "4103", "Oyelaran"),
    (4, "4104", "Vasquez-Roe"),
    (5, "4105", "Lindqvist"),
    (6, "4106", "Brennan"),
    (7, "4107", "Okonkwo"),
    (8, "4108", "Fairweather"),
    (9, "4109", "Dubois"),
    (10, "4110", "Marchetti"),
    (11, "4111", "Haraldsen"),
    (12, "4112", "Ng"),
];

pub const CLAIMS: u8 = 0x71;
pub const ROADSIDE: u8 = 0x72;
pub const SALES: u8 = 0x73;

impl Site {
    /// At `secs` into the day of the fixture.
    pub fn at(&self, secs: u64) -> Instant {
        self.base + Duration::from_secs(secs)
    }

    /// `secs` before the screen's moment.
    pub fn ago(&self, secs: u64) -> Instant {
        self.at(NOW - secs)
    }

    pub fn now(&self) -> Instant {
        self.at(NOW)
    }

    /// Every event the model has produced since the last call.
    pub fn events(&mut self) -> Vec<ModelEvent> {
        std::iter::from_fn(|| self.model.poll_event()).collect()
    }

    fn callid(&mut self) -> i32 {
        self.next_callid += 1;
        self.next_callid
    }

    /// A queue call waiting on `queue` since `ago` seconds.
    pub fn queue_call(
        &mut self,
        ago: u64,
        queue: u8,
        caller: Party,
        priority: i32,
        state: CallState,
        targets: Vec<Party>,
    ) -> i32 {
        let (number, name) = match queue {
            CLAIMS => ("7301", "Claims Desk"),
            ROADSIDE => ("7302", "Roadside"),
            _ => ("7303", "Sales"),
        };
        let callid = self.callid();
        let snap = CallSnapshot {
            callid,
            state,
            direction: Direction::Inbound,
            gcid: gcid(callid as u16),
            features: CallFeatureBits(0x6060_E0B1),
            calling: Some(caller),
            trunk: Some(TrunkDetail {
                kind: TrunkKind::Sip,
                did: format!("0300{number}").into(),
            }),
            queue: Some(QueueDetail {
                number: number.into(),
                name: name.into(),
                priority,
                ..QueueDetail::default()
            }),
            targets,
            ..CallSnapshot::default()
        };
        let at = self.ago(ago);
        self.model.call_info(at, LineId::Queue(guid(queue)), snap);
        callid
    }

    /// A call on an agent's line, in `state` since `ago` seconds.
    pub fn agent_call(&mut self, ago: u64, agent: u8, snap: CallSnapshot) -> i32 {
        let callid = self.callid();
        let snap = CallSnapshot { callid, ..snap };
        let at = self.ago(ago);
        self.model.call_info(at, LineId::User(guid(agent)), snap);
        callid
    }
}

/// The bare site: users, queues, statuses, connected; no calls.
pub fn empty_site() -> Site {
    let base = Instant::now();
    let mut s = Site {
        model: Model::new(),
        base,
        next_callid: 50,
    };
    let t = s.at(0);
    s.model.set_connection(ConnectionState::Syncing {
        confirmed: 0,
        wanted: 17,
    });
    s.model.set_version("IP Office 12.2".into());
    for (g, extn, name) in AGENTS {
        s.model.upsert_user(
            t,
            LineEntry {
                guid: guid(g),
                extn: extn.into(),
                name: name.into(),
            },
        );
    }
    s.model.upsert_user(
        t,
        LineEntry {
            guid: guid(90),
            extn: "4190".into(),
            name: "Supervisor".into(),
        },
    );
    let members = |list: &[&str]| {
        Some(
            list.iter()
                .map(|e| QueueMember {
                    extn: (*e).into(),
                    enabled: *e != "4112",
                })
                .collect(),
        )
    };
    for (g, extn, name, mode, m) in [
        (
            CLAIMS,
            "7301",
            "Claims Desk",
            ServiceMode::Active,
            members(&["4101", "4102", "4104", "4105", "4106", "4110", "4112"]),
        ),
        (
            ROADSIDE,
            "7302",
            "Roadside",
            ServiceMode::Active,
            members(&["4103", "4107", "4108", "4109", "4102"]),
        ),
        (
            SALES,
            "7303",
            "Sales",
            ServiceMode::NightService,
            members(&["4111", "4112"]),
        ),
    ] {
        s.model.upsert_queue(LineEntry {
            guid: guid(g),
            extn: extn.into(),
            name: name.into(),
        });
        s.model.set_queue_status(
            &guid(g),
            Text::empty(),
            Text::empty(),
            QueueStatus {
                service_mode: mode,
                members: m,
                no_answer_secs: 15,
                ..QueueStatus::default()
            },
        );
    }
    for (g, _, name) in AGENTS {
        let mut st = UserStatus {
            full_name: format!("{name} Full").into(),
            ..UserStatus::default()
        };
        match g {
            1 => {
                st.dnd = true;
                st.absence = Some(Absence {
                    msg: 4,
                    text: "14:00".into(),
                    phrase: "AT LUNCH UNTIL 14:00".into(),
                });
            }
            4 => st.logged_off = true,
            8 => st.extn_fault = true,
            _ => {}
        }
        s.model
            .set_user_status(t, &guid(g), Text::empty(), Text::empty(), st);
    }
    s.model.set_user_status(
        t,
        &guid(90),
        Text::empty(),
        Text::empty(),
        UserStatus::default(),
    );
    s.model.set_park_available(t, true);
    s
}

/// The full site at its moment: calls waiting in two queues, agents in every state, one
/// parked call. Returns the site (for more changes) with every event so far.
pub fn busy_site() -> (Site, Vec<ModelEvent>) {
    let mut s = empty_site();
    // Claims Desk: three callers waiting, the longest past the long-wait threshold.
    s.queue_call(
        161,
        CLAIMS,
        party("02079460958", "Harbour Freight Ltd"),
        2,
        CallState::Queueing,
        vec![],
    );
    s.queue_call(
        55,
        CLAIMS,
        party("01134960077", ""),
        1,
        CallState::Queueing,
        vec![],
    );
    s.queue_call(
        21,
        CLAIMS,
        party("02920960311", "Cardiff Bay Motors"),
        3,
        CallState::Queueing,
        vec![],
    );
    // Roadside: one caller ringing agent 4103.
    let caller = party("07700900461", "Ms Amara Okafor");
    s.queue_call(
        12,
        ROADSIDE,
        caller.clone(),
        1,
        CallState::Ringing,
        vec![party("4103", "Oyelaran")],
    );
    s.agent_call(
        4,
        3,
        CallSnapshot {
            state: CallState::Ringing,
            direction: Direction::Inbound,
            gcid: gcid(54),
            features: CallFeatureBits(0x23),
            calling: Some(caller),
            queue: Some(QueueDetail {
                number: "7302".into(),
                name: "Roadside".into(),
                priority: 1,
                ..QueueDetail::default()
            }),
            ..CallSnapshot::default()
        },
    );
    // 4102 talks to a Claims Desk caller.
    s.agent_call(
        72,
        2,
        CallSnapshot {
            state: CallState::Connected,
            direction: Direction::Inbound,
            gcid: gcid(60),
            features: CallFeatureBits(0x0000_0095),
            calling: Some(party("01632960123", "Ms Ellery Quist")),
            connected: Some(party("01632960123", "Ms Ellery Quist")),
            queue: Some(QueueDetail {
                number: "7301".into(),
                name: "Claims Desk".into(),
                priority: 2,
                ..QueueDetail::default()
            }),
            recording: true,
            tag: "renewal".into(),
            ..CallSnapshot::default()
        },
    );
    // 4107 holds a Roadside call.
    s.agent_call(
        31,
        7,
        CallSnapshot {
            state: CallState::OnHold,
            direction: Direction::Inbound,
            gcid: gcid(61),
            connected: Some(party("01214960555", "Dale Garage")),
            queue: Some(QueueDetail {
                number: "7302".into(),
                name: "Roadside".into(),
                priority: 1,
                ..QueueDetail::default()
            }),
            ..CallSnapshot::default()
        },
    );
    // 4105 in after-call work.
    s.agent_call(
        37,
        5,
        CallSnapshot {
            state: CallState::AfterCallWork,
            ..CallSnapshot::default()
        },
    );
    // 4110 makes an outbound call.
    s.agent_call(
        250,
        10,
        CallSnapshot {
            state: CallState::Connected,
            direction: Direction::Outbound,
            gcid: gcid(62),
            called: "01134960000".into(),
            connected: Some(party("01134960000", "")),
            ..CallSnapshot::default()
        },
    );
    // A parked call in slot 1.
    let at = s.ago(45);
    s.model.call_info(
        at,
        LineId::ParkServer,
        CallSnapshot {
            callid: 900,
            state: CallState::OnHold,
            direction: Direction::Inbound,
            gcid: gcid(63),
            calling: Some(party("01614960000", "Pennine Tiles")),
            park_slot: "1".into(),
            // DROP BLINDXFER SETTAG
            features: CallFeatureBits(0x0000_2011),
            ..CallSnapshot::default()
        },
    );
    s.model.set_connection(ConnectionState::Connected {
        round_trip_ms: Some(3.1),
    });
    let evs = s.events();
    (s, evs)
}

/// A screen of `w` x `h` fed with `events` at the site's moment.
pub fn app(site: &Site, events: Vec<ModelEvent>, w: u16, h: u16, theme: Theme) -> App {
    let config = UiConfig {
        pbx: "ipo-hq.example.net".into(),
        theme,
        supervisor: Some("4190".into()),
        ..UiConfig::default()
    };
    let mut app = App::new(config, site.at(0));
    app.update(Event::Resize {
        width: w,
        height: h,
    });
    app.update(Event::Model(events));
    app.update(Event::Tick {
        now: site.now(),
        clock: Some(CLOCK),
    });
    app
}

/// The screen as text.
pub fn render(app: &App) -> String {
    let (w, h) = app.size();
    let backend = TestBackend::new(w, h);
    let mut terminal = match Terminal::new(backend) {
        Ok(t) => t,
        Err(e) => panic!("test terminal: {e}"),
    };
    if let Err(e) = terminal.draw(|f| ipo_top::ui::view(app, f)) {
        panic!("draw: {e}");
    }
    terminal.backend().to_string()
}

/// The screen's buffer.
pub fn buffer(app: &App) -> ratatui::buffer::Buffer {
    let (w, h) = app.size();
    let backend = TestBackend::new(w, h);
    let mut terminal = match Terminal::new(backend) {
        Ok(t) => t,
        Err(e) => panic!("test terminal: {e}"),
    };
    if let Err(e) = terminal.draw(|f| ipo_top::ui::view(app, f)) {
        panic!("draw: {e}");
    }
    terminal.backend().buffer().clone()
}
