//! The client's sans-IO session wired to the simulator's sans-IO [`Exchange`], on virtual
//! time: every frame is encoded and decoded as on the wire, but there is no socket and no
//! clock, so a scripted day runs in milliseconds and every time the client measures is exact
//! (which a test can compute by hand).
//!
//! [`Pair`] is the client and the server side by side: [`Pair::step_to`] moves both to an
//! instant, [`Pair::drive`] carries messages between them until both are quiet, and
//! [`Pair::advance`] does both up to a later time, stopping at every deadline on the way.

#![allow(dead_code)] // each test crate uses a part of this

use std::time::{Duration, Instant};

use ipo_top::model::{
    Appearance, AppearanceId, Command, CommandId, CommandReport, Guid, LineId, ModelEvent, Tables,
};
use ipo_top::protocol::{Framing, decode, encode, pb};
use ipo_top::session::{Disconnect, Io, Session, SessionConfig, SessionEvent, SyncReport};
use ipo_top::sim::Exchange;
use ipo_top::sim::conn::{CommandRecord, ConnConfig, FaultSettings};
use ipo_top::sim::pbx::{Line, Pbx, UserId};
use ipo_top::sim::script::{Script, ScriptRunner};

/// The client's connection on the server.
const CONN: u64 = 1;

/// The client (a session) and the server (an exchange: the PBX, its script and the connection
/// serving the client, open while the link is up), on one virtual clock.
pub struct Pair {
    pub now: Instant,
    pub start: Instant,
    pub server: Exchange,
    /// Whether the PBX can be reached (a connection attempt fails while false).
    pub reachable: bool,
    pub client: Session,
    /// A copy of the model kept from the session's events, as the screen keeps one.
    pub replica: Tables,
    pub syncs: Vec<SyncReport>,
    pub reports: Vec<CommandReport>,
    pub records: Vec<CommandRecord>,
    /// Why the model ended every call at once (a restart detected), each time it did.
    pub resets: Vec<String>,
    /// The caps the session said it reached.
    pub capped: Vec<ipo_top::model::CapReached>,
    /// Play a system before R11.1: `getversioninfo` never reaches the PBX, so never answered.
    pub before_11_1: bool,
    next_command: u64,
}

impl Pair {
    /// A scripted site: the script's own site, clock and seed.
    pub fn scripted(toml: &str, conn: ConnConfig, session: SessionConfig) -> Pair {
        let script = Script::parse(toml).expect("a valid script");
        let site = script.build_site().expect("the script's site");
        let tod = script.time_of_day().expect("the script's time of day");
        let start = Instant::now();
        let pbx = Pbx::new(site, script.site.seed, tod, start).expect("the site");
        let runner = ScriptRunner::new(&script, start);
        Pair::with(pbx, Some(runner), start, conn, session)
    }

    /// The demo site with its own traffic (seeded: the same day every time), at 10:30.
    pub fn demo(seed: u64, conn: ConnConfig, session: SessionConfig) -> Pair {
        let start = Instant::now();
        let tod = "10:30".parse().expect("a time of day");
        let pbx = Pbx::new(ipo_top::sim::Site::demo(), seed, tod, start).expect("the demo site");
        Pair::with(pbx, None, start, conn, session)
    }

    fn with(
        pbx: Pbx,
        script: Option<ScriptRunner>,
        start: Instant,
        conn_config: ConnConfig,
        session: SessionConfig,
    ) -> Pair {
        let conn_config = ConnConfig {
            record_commands: true,
            ..conn_config
        };
        let l = Pair {
            now: start,
            start,
            server: Exchange::new(pbx, script, conn_config),
            reachable: true,
            client: Session::new(session, start),
            replica: Tables::new(),
            syncs: Vec::new(),
            reports: Vec::new(),
            records: Vec::new(),
            resets: Vec::new(),
            capped: Vec::new(),
            before_11_1: false,
            next_command: 1,
        };
        // Nothing happens until the first `advance` (or `pump`): a test can set the scene
        // (reachable, faults) first.
        l
    }

    /// Moves the PBX and the client on, together, handling every deadline on the way.
    pub fn advance(&mut self, by: Duration) {
        self.drive();
        let end = self.now + by;
        loop {
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|t| *t <= end)
                .min();
            let Some(t) = next else {
                break;
            };
            self.step_to(t.max(self.now));
        }
        self.step_to(end);
    }

    /// Moves both sides on to `t` (the site, the connection's timers, the session's timers).
    pub fn step_to(&mut self, t: Instant) {
        self.now = t;
        self.server.handle_timeout(t);
        self.drive();
        self.client.handle_timeout(t);
        self.drive();
    }

    /// Carries everything each side has to say to the other until both are quiet.
    pub fn drive(&mut self) {
        while self.step() {}
    }

    /// Carries what each side has to say now to the other once; whether anything moved.
    pub fn step(&mut self) -> bool {
        let mut busy = false;
        while let Some(io) = self.client.poll_io() {
            busy = true;
            self.on_io(io);
        }
        while let Some(ev) = self.client.poll_event() {
            busy = true;
            self.on_event(ev);
        }
        while let Some(frame) = self.client.poll_transmit() {
            busy = true;
            let msg = decode(&frame, Framing::Framed).expect("the client's frames decode");
            let version_request = matches!(
                &msg.payload,
                Some(pb::message::Payload::Generalcmd(g))
                    if matches!(g.payload, Some(pb::general_cmd::Payload::Getversioninfo(_)))
            );
            if version_request && self.before_11_1 {
                continue;
            }
            self.server.handle_message(self.now, CONN, msg);
        }
        self.server.pump();
        while let Some(r) = self.server.poll_record(CONN) {
            self.records.push(r);
        }
        let mut frames = Vec::new();
        while let Some(msg) = self.server.poll_transmit(CONN) {
            frames.push(encode(&msg, Framing::Framed).expect("the PBX's frames encode"));
        }
        for f in frames {
            busy = true;
            self.client.handle_frame(self.now, &f);
        }
        busy
    }

    fn on_io(&mut self, io: Io) {
        match io {
            Io::Connect(_) => {
                if self.reachable {
                    self.server.open(CONN);
                    self.client.handle_connected(self.now);
                } else {
                    self.client.handle_closed(
                        self.now,
                        Disconnect::Failed("connection refused".to_owned()),
                    );
                }
            }
            Io::Close | Io::Shutdown => {
                self.server.close(CONN);
            }
            Io::Ping => self.client.handle_pong(self.now),
            // One system here: it answers when it can be reached.
            Io::Probe(_) => self.client.handle_probe(self.now, self.reachable),
        }
    }

    fn on_event(&mut self, ev: SessionEvent) {
        match ev {
            SessionEvent::Model(m) => {
                if let ModelEvent::CallsReset { reason } = &m {
                    self.resets.push(reason.to_string());
                }
                self.replica.apply(&m);
            }
            SessionEvent::Synced(r) => self.syncs.push(r),
            SessionEvent::SubscribeFailed(f) => panic!("a subscription was refused: {f:?}"),
            SessionEvent::Command(r) => self.reports.push(r),
            SessionEvent::ConnectFailed(e) => panic!("a connection failed: {e:?}"),
            SessionEvent::CapReached(c) => self.capped.push(c),
            SessionEvent::Lagged { folded } => panic!("the engine itself never lags: {folded}"),
        }
    }

    /// The link drops (the connection is gone on the PBX's side too).
    pub fn drop_link(&mut self, why: &str) {
        self.server.close(CONN);
        self.client
            .handle_closed(self.now, Disconnect::Failed(why.to_owned()));
        self.drive();
    }

    /// The PBX reboots: every call ends and the link drops.
    pub fn restart(&mut self) {
        self.server.restart();
        self.drop_link("connection reset by peer");
    }

    /// The PBX ends every subscription with SubscribeTerminated.
    pub fn terminate_subscriptions(&mut self) -> usize {
        let n = self.server.terminate_all();
        self.drive();
        n
    }

    /// Frames that are no MTCTI3 reach the client.
    pub fn garbage(&mut self) {
        self.client
            .handle_frame(self.now, &[0, 0, 0, 2, 0x0A, 0x00]);
        self.client
            .handle_frame(self.now, &[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        self.drive();
    }

    /// Switches the connection's faults.
    pub fn set_faults(&mut self, faults: FaultSettings) {
        self.server.set_faults(faults);
    }

    /// Sends a command as the screen would; returns its id.
    pub fn command(&mut self, cmd: Command) -> CommandId {
        let id = CommandId(self.next_command);
        self.next_command += 1;
        self.client.handle_command(self.now, id, cmd);
        self.drive();
        id
    }

    /// The reports about one command so far.
    pub fn reports_of(&self, id: CommandId) -> Vec<CommandReport> {
        self.reports
            .iter()
            .filter(|r| r.id == id)
            .cloned()
            .collect()
    }

    /// Seconds since the start, for messages.
    pub fn t(&self) -> f64 {
        self.now.saturating_duration_since(self.start).as_secs_f64()
    }

    // ------------------------------------------------------------------------------------
    // Looking things up

    pub fn user(&self, extn: &str) -> UserId {
        self.server
            .pbx
            .user_by_extn(extn)
            .expect("a user of the site")
    }

    pub fn user_guid(&self, extn: &str) -> Guid {
        let id = self.user(extn);
        Guid::from_bytes(&self.server.pbx.user(id).expect("the user").guid)
    }

    pub fn queue_guid(&self, extn: &str) -> Guid {
        let id = self
            .server
            .pbx
            .queue_by_extn(extn)
            .expect("a group of the site");
        Guid::from_bytes(&self.server.pbx.queue(id).expect("the group").guid)
    }

    /// The client's appearance on a line whose caller has this number.
    pub fn appearance(&self, line: &LineId, caller: &str) -> Option<&Appearance> {
        self.client
            .model()
            .appearances_on(line)
            .find(|a| {
                a.call.calling.as_ref().is_some_and(|p| p.number == caller)
                    || a.call
                        .connected
                        .as_ref()
                        .is_some_and(|p| p.number == caller)
            })
            .map(|a| &**a)
    }

    pub fn appearance_id(&self, line: &LineId, caller: &str) -> AppearanceId {
        self.appearance(line, caller)
            .map(|a| a.id)
            .unwrap_or_else(|| panic!("no appearance of {caller} on {line} at {}s", self.t()))
    }

    /// The extensions of the users whose phone rings with a call `which` accepts.
    fn ringing(&self, which: impl Fn(&pb::CallInfo) -> bool) -> Vec<String> {
        let pbx = &self.server.pbx;
        pbx.users()
            .filter(|u| {
                let line = Line::User(u.id);
                pbx.calls_on(line).iter().any(|(_, k)| {
                    pbx.callinfo(line, *k)
                        .is_some_and(|ci| ci.state == 4 && which(&ci))
                })
            })
            .map(|u| u.spec.extn.clone())
            .collect()
    }

    /// The user whose phone rings now, if exactly one does.
    pub fn ringing_user(&self) -> Option<String> {
        match &self.ringing(|_| true)[..] {
            [one] => Some(one.clone()),
            _ => None,
        }
    }

    /// A user whose phone rings with the call from `caller`.
    pub fn ringing_with(&self, caller: &str) -> Option<String> {
        self.ringing(|ci| ci.callingparty.as_ref().is_some_and(|p| p.number == caller))
            .into_iter()
            .next()
    }

    /// Asserts that the model and the reader's copy hold exactly the simulator's calls,
    /// `when` saying at which point of the story.
    pub fn assert_calls_true(&self, when: &str) {
        let want = self.pbx_calls();
        assert_eq!(
            Self::model_calls(self.client.model()),
            want,
            "the model {when}"
        );
        assert_eq!(Self::model_calls(&self.replica), want, "the copy {when}");
    }

    /// The simulator's calls now, as (line, callid, state, gcid) sorted: what the client's
    /// model must hold.
    pub fn pbx_calls(&self) -> Vec<(String, i32, i32, Vec<u8>)> {
        let mut lines = Vec::new();
        for u in self.server.pbx.users() {
            lines.push((format!("user {}", hex(&u.guid)), Line::User(u.id)));
        }
        for q in self.server.pbx.queues() {
            lines.push((format!("queue {}", hex(&q.guid)), Line::Queue(q.id)));
        }
        lines.push(("park server".to_owned(), Line::Park));
        let mut out = Vec::new();
        for (label, line) in lines {
            for (callid, key) in self.server.pbx.calls_on(line) {
                if let Some(ci) = self.server.pbx.callinfo(line, key) {
                    out.push((label.clone(), callid, ci.state, ci.gcid));
                }
            }
        }
        out.sort();
        out
    }

    /// The client's calls now, in the same form.
    pub fn model_calls(m: &Tables) -> Vec<(String, i32, i32, Vec<u8>)> {
        let mut out: Vec<_> = m
            .appearances()
            .map(|a| {
                let line = match &a.key.line {
                    LineId::User(g) => format!("user {g}"),
                    LineId::Queue(g) => format!("queue {g}"),
                    LineId::ParkServer => "park server".to_owned(),
                };
                (
                    line,
                    a.key.callid,
                    a.call.state.code(),
                    a.call
                        .gcid
                        .as_ref()
                        .map(|g| g.as_bytes().to_vec())
                        .unwrap_or_default(),
                )
            })
            .collect();
        out.sort();
        out
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// The demo site with no traffic of its own: nothing parked, no overflow, and nobody answers
/// within a test's time unless the test says so.
const QUIET_DEMO: &str = r#"[site]
scenario = "demo"
time_of_day = "10:00"
seed = 1
ring_for = 600
talk = 900
acw = 30
patience = 1800
parked = false
overflow = false
"#;

/// A script on the quiet demo site, then `steps` (`[[step]]` tables).
pub fn quiet_demo(steps: &str) -> String {
    format!("{QUIET_DEMO}{steps}")
}
