//! The client's sans-IO session wired to the simulator's sans-IO PBX and connection, on
//! virtual time: every frame is encoded and decoded as on the wire, but there is no socket and
//! no clock, so a scripted day runs in milliseconds and every time the client measures is
//! exact (which a test can compute by hand).

#![allow(dead_code)] // each test crate uses a part of this

use std::time::{Duration, Instant};

use ipo_top::model::{
    Appearance, AppearanceId, Command, CommandId, CommandReport, Guid, LineId, ModelEvent, Tables,
};
use ipo_top::protocol::{Framing, decode, encode};
use ipo_top::session::{Disconnect, Session, SessionConfig, SessionEvent, SyncReport};
use ipo_top::sim::conn::{CommandRecord, ConnConfig, Connection, FaultSettings};
use ipo_top::sim::pbx::{Line, Pbx, UserId};
use ipo_top::sim::script::{Script, ScriptRunner};

/// A PBX (with its script), the connection serving the client, and the client.
pub struct Loop {
    pub now: Instant,
    pub start: Instant,
    pub pbx: Pbx,
    pub script: Option<ScriptRunner>,
    pub conn_config: ConnConfig,
    /// The connection serving the client; `None` while the link is down.
    pub conn: Option<Connection>,
    /// Whether the PBX can be reached (a connection attempt fails while false).
    pub reachable: bool,
    pub session: Session,
    /// A copy of the model kept from the session's events, as the screen keeps one.
    pub replica: Tables,
    pub syncs: Vec<SyncReport>,
    pub reports: Vec<CommandReport>,
    pub records: Vec<CommandRecord>,
    /// Why the model ended every call at once (a restart detected), each time it did.
    pub resets: Vec<String>,
    /// Play a system before R11.1: `getversioninfo` never reaches the PBX, so never answered.
    pub before_11_1: bool,
    next_command: u64,
}

impl Loop {
    /// A scripted site: the script's own site, clock and seed.
    pub fn scripted(toml: &str, conn: ConnConfig, session: SessionConfig) -> Loop {
        let script = Script::parse(toml).expect("a valid script");
        let site = script.build_site().expect("the script's site");
        let tod = script.time_of_day().expect("the script's time of day");
        let start = Instant::now();
        let pbx = Pbx::new(site, script.site.seed, tod, start).expect("the site");
        let runner = ScriptRunner::new(&script, start);
        Loop::with(pbx, Some(runner), start, conn, session)
    }

    /// The demo site with its own traffic (seeded: the same day every time), at 10:30.
    pub fn demo(seed: u64, conn: ConnConfig, session: SessionConfig) -> Loop {
        let start = Instant::now();
        let tod = "10:30".parse().expect("a time of day");
        let pbx = Pbx::new(ipo_top::sim::Site::demo(), seed, tod, start).expect("the demo site");
        Loop::with(pbx, None, start, conn, session)
    }

    fn with(
        pbx: Pbx,
        script: Option<ScriptRunner>,
        start: Instant,
        conn_config: ConnConfig,
        session: SessionConfig,
    ) -> Loop {
        let session = Session::new(session, start);
        let l = Loop {
            now: start,
            start,
            pbx,
            script,
            conn_config: ConnConfig {
                record_commands: true,
                ..conn_config
            },
            conn: None,
            reachable: true,
            session,
            replica: Tables::new(),
            syncs: Vec::new(),
            reports: Vec::new(),
            records: Vec::new(),
            resets: Vec::new(),
            before_11_1: false,
            next_command: 1,
        };
        // Nothing happens until the first `advance` (or `pump`): a test can set the scene
        // (reachable, faults) first.
        l
    }

    /// Moves the PBX and the client on, together, handling every deadline on the way.
    pub fn advance(&mut self, by: Duration) {
        self.pump();
        let end = self.now + by;
        loop {
            let next = [
                self.session.poll_timeout(),
                self.conn.as_ref().and_then(Connection::poll_timeout),
                self.pbx.poll_timeout(),
                self.script.as_ref().and_then(ScriptRunner::poll_timeout),
            ]
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

    /// Moves on to `t` (the site, the connection's timers, the session's timers).
    fn step_to(&mut self, t: Instant) {
        self.now = t;
        match &mut self.script {
            Some(runner) => runner.run_until(t, &mut self.pbx),
            None => self.pbx.handle_timeout(t),
        }
        self.pump();
        if let Some(c) = &mut self.conn {
            c.handle_timeout(t);
        }
        self.session.handle_timeout(t);
        self.pump();
    }

    /// Carries everything each side has to say to the other until both are quiet.
    pub fn pump(&mut self) {
        loop {
            let mut busy = false;
            while let Some(ev) = self.session.poll_event() {
                busy = true;
                self.on_event(ev);
            }
            while let Some(frame) = self.session.poll_transmit() {
                busy = true;
                let msg = decode(&frame, Framing::Framed).expect("the client's frames decode");
                let version_request = matches!(
                    &msg.payload,
                    Some(ipo_top::protocol::pb::message::Payload::Generalcmd(g))
                        if matches!(g.payload, Some(ipo_top::protocol::pb::general_cmd::Payload::Getversioninfo(_)))
                );
                if version_request && self.before_11_1 {
                    continue;
                }
                if let Some(c) = &mut self.conn {
                    c.handle_message(self.now, msg, &mut self.pbx);
                }
            }
            while let Some(change) = self.pbx.poll_change() {
                busy = true;
                if let Some(c) = &mut self.conn {
                    c.handle_change(&change, &self.pbx);
                }
            }
            if let Some(c) = &mut self.conn {
                while let Some(r) = c.poll_record() {
                    self.records.push(r);
                }
                let mut frames = Vec::new();
                while let Some(msg) = c.poll_transmit(&self.pbx) {
                    frames.push(encode(&msg, Framing::Framed).expect("the PBX's frames encode"));
                }
                for f in frames {
                    busy = true;
                    self.session.handle_frame(self.now, &f);
                }
            }
            if !busy {
                break;
            }
        }
    }

    fn on_event(&mut self, ev: SessionEvent) {
        match ev {
            SessionEvent::Connect => {
                if self.reachable {
                    self.conn = Some(Connection::new(self.conn_config));
                    self.session.handle_connected(self.now);
                } else {
                    self.session.handle_closed(
                        self.now,
                        Disconnect::Failed("connection refused".to_owned()),
                    );
                }
            }
            SessionEvent::Disconnect | SessionEvent::Shutdown => self.conn = None,
            SessionEvent::Ping => self.session.handle_pong(self.now),
            // One system here: it answers when it can be reached.
            SessionEvent::ProbePrimary => self.session.handle_probe(self.now, self.reachable),
            SessionEvent::Model(m) => {
                if let ModelEvent::CallsReset { reason } = &m {
                    self.resets.push(reason.to_string());
                }
                self.replica.apply(&m);
            }
            SessionEvent::Synced(r) => self.syncs.push(r),
            SessionEvent::SubscribeFailed(f) => panic!("a subscription was refused: {f:?}"),
            SessionEvent::Command(r) => self.reports.push(r),
        }
    }

    /// The link drops (the connection is gone on the PBX's side too).
    pub fn drop_link(&mut self, why: &str) {
        self.conn = None;
        self.session
            .handle_closed(self.now, Disconnect::Failed(why.to_owned()));
        self.pump();
    }

    /// The PBX reboots: every call ends and the link drops.
    pub fn restart(&mut self) {
        self.pbx.restart();
        while self.pbx.poll_change().is_some() {}
        self.drop_link("connection reset by peer");
    }

    /// The PBX ends every subscription with SubscribeTerminated.
    pub fn terminate_subscriptions(&mut self) -> usize {
        let n = self.conn.as_mut().map_or(0, Connection::terminate_all);
        self.pump();
        n
    }

    /// Frames that are no MTCTI3 reach the client.
    pub fn garbage(&mut self) {
        self.session
            .handle_frame(self.now, &[0, 0, 0, 2, 0x0A, 0x00]);
        self.session
            .handle_frame(self.now, &[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        self.pump();
    }

    /// Switches the connection's faults.
    pub fn set_faults(&mut self, faults: FaultSettings) {
        self.conn_config.faults = faults;
        if let Some(c) = &mut self.conn {
            c.set_faults(faults);
        }
    }

    /// Sends a command as the screen would; returns its id.
    pub fn command(&mut self, cmd: Command) -> CommandId {
        let id = CommandId(self.next_command);
        self.next_command += 1;
        self.session.handle_command(self.now, id, cmd);
        self.pump();
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
        self.pbx.user_by_extn(extn).expect("a user of the site")
    }

    pub fn user_guid(&self, extn: &str) -> Guid {
        let id = self.user(extn);
        Guid::from_bytes(&self.pbx.user(id).expect("the user").guid)
    }

    pub fn queue_guid(&self, extn: &str) -> Guid {
        let id = self.pbx.queue_by_extn(extn).expect("a group of the site");
        Guid::from_bytes(&self.pbx.queue(id).expect("the group").guid)
    }

    /// The client's appearance on a line whose caller has this number.
    pub fn appearance(&self, line: &LineId, caller: &str) -> Option<&Appearance> {
        self.session
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

    /// The user whose phone rings now, if exactly one does.
    pub fn ringing_user(&self) -> Option<String> {
        let ringing: Vec<String> = self
            .pbx
            .users()
            .filter(|u| {
                self.pbx.calls_on(Line::User(u.id)).iter().any(|(_, k)| {
                    self.pbx
                        .callinfo(Line::User(u.id), *k)
                        .is_some_and(|ci| ci.state == 4)
                })
            })
            .map(|u| u.extn.clone())
            .collect();
        match &ringing[..] {
            [one] => Some(one.clone()),
            _ => None,
        }
    }

    /// A user whose phone rings with the call from `caller`.
    pub fn ringing_with(&self, caller: &str) -> Option<String> {
        self.pbx
            .users()
            .find(|u| {
                self.pbx.calls_on(Line::User(u.id)).iter().any(|(_, k)| {
                    self.pbx.callinfo(Line::User(u.id), *k).is_some_and(|ci| {
                        ci.state == 4
                            && ci.callingparty.as_ref().is_some_and(|p| p.number == caller)
                    })
                })
            })
            .map(|u| u.extn.clone())
    }

    /// The simulator's calls now, as (line, callid, state, gcid) sorted: what the client's
    /// model must hold.
    pub fn pbx_calls(&self) -> Vec<(String, i32, i32, Vec<u8>)> {
        let mut lines = Vec::new();
        for u in self.pbx.users() {
            lines.push((format!("user {}", hex(&u.guid)), Line::User(u.id)));
        }
        for q in self.pbx.queues() {
            lines.push((format!("queue {}", hex(&q.guid)), Line::Queue(q.id)));
        }
        lines.push(("park server".to_owned(), Line::Park));
        let mut out = Vec::new();
        for (label, line) in lines {
            for (callid, key) in self.pbx.calls_on(line) {
                if let Some(ci) = self.pbx.callinfo(line, key) {
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
