//! The PBX side of MTCTI3 as one sans-IO state machine: the [`Pbx`], the [`ScriptRunner`]
//! driving it (when the site runs a script) and every open [`Connection`], keyed by an id the
//! driver chooses.
//!
//! The wss server ([`super::server`]), the tests' client/server pair and the scale bench all
//! drive the simulator through this one type, so the PBX's changes reach the connections the
//! same way everywhere:
//!
//! - inputs: [`Exchange::open`] / [`Exchange::close`] a connection, [`Exchange::handle_message`]
//!   (a decoded message from a client), [`Exchange::handle_timeout`] (the time moved on), and
//!   changes made to [`Exchange::pbx`] directly (reported at the next [`Exchange::pump`]);
//! - outputs: [`Exchange::poll_transmit`] (the next message for a connection),
//!   [`Exchange::poll_record`] (its command log) and [`Exchange::poll_timeout`] (when to call
//!   [`Exchange::handle_timeout`] next).

use std::collections::BTreeMap;
use std::time::Instant;

use super::conn::{CommandRecord, ConnConfig, Connection, FaultSettings};
use super::pbx::{Change, Pbx};
use super::script::ScriptRunner;
use crate::protocol::pb;

/// The PBX, its script and the connections it serves.
#[derive(Debug)]
pub struct Exchange {
    /// The PBX. Changes made to it directly reach the connections at the next
    /// [`Exchange::pump`] (every other input pumps by itself).
    pub pbx: Pbx,
    runner: Option<ScriptRunner>,
    conns: BTreeMap<u64, Connection>,
    config: ConnConfig,
    call_changes: u64,
}

impl Exchange {
    /// A PBX with no connections; `runner` plays a script on it (else it runs its own
    /// traffic), and connections open with `config`.
    pub fn new(pbx: Pbx, runner: Option<ScriptRunner>, config: ConnConfig) -> Self {
        Exchange {
            pbx,
            runner,
            conns: BTreeMap::new(),
            config,
            call_changes: 0,
        }
    }

    /// The script being played, if any.
    pub fn runner(&self) -> Option<&ScriptRunner> {
        self.runner.as_ref()
    }

    /// The faults new connections start with (and open ones show).
    pub fn faults(&self) -> FaultSettings {
        self.config.faults
    }

    /// Changes the faults every connection shows, open ones and those opened later.
    pub fn set_faults(&mut self, faults: FaultSettings) {
        self.config.faults = faults;
        for c in self.conns.values_mut() {
            c.set_faults(faults);
        }
    }

    /// Opens connection `id` (replacing one of the same id).
    pub fn open(&mut self, id: u64) {
        self.conns.insert(id, Connection::new(self.config));
    }

    /// Closes connection `id`; `false` when it was not open.
    pub fn close(&mut self, id: u64) -> bool {
        self.conns.remove(&id).is_some()
    }

    /// Closes every connection; returns how many there were.
    pub fn close_all(&mut self) -> usize {
        std::mem::take(&mut self.conns).len()
    }

    /// Connection `id`, when open.
    pub fn connection(&self, id: u64) -> Option<&Connection> {
        self.conns.get(&id)
    }

    /// The open connections, by id.
    pub fn connections(&self) -> impl Iterator<Item = (u64, &Connection)> {
        self.conns.iter().map(|(id, c)| (*id, c))
    }

    /// How many call changes (a call's new state, or its end) have reached the connections.
    pub fn call_changes(&self) -> u64 {
        self.call_changes
    }

    /// Takes one message from connection `id`'s client (nothing when it is not open), then
    /// reports what it changed.
    pub fn handle_message(&mut self, now: Instant, id: u64, msg: pb::Message) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.handle_message(now, msg, &mut self.pbx);
        }
        self.pump();
    }

    /// Moves the site (its script, or its own traffic) and every connection's timers on to
    /// `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.runner {
            Some(runner) => runner.run_until(now, &mut self.pbx),
            None => self.pbx.handle_timeout(now),
        }
        self.pump();
        for c in self.conns.values_mut() {
            c.handle_timeout(now);
        }
    }

    /// When [`Exchange::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let conns = self.conns.values().filter_map(Connection::poll_timeout);
        let script = self.runner.as_ref().and_then(ScriptRunner::poll_timeout);
        self.pbx
            .poll_timeout()
            .into_iter()
            .chain(conns)
            .chain(script)
            .min()
    }

    /// Reports the PBX's changes to every connection.
    pub fn pump(&mut self) {
        while let Some(change) = self.pbx.poll_change() {
            if matches!(change, Change::Call { .. } | Change::CallLost { .. }) {
                self.call_changes += 1;
            }
            for c in self.conns.values_mut() {
                c.handle_change(&change, &self.pbx);
            }
        }
    }

    /// The next message for connection `id`'s client.
    pub fn poll_transmit(&mut self, id: u64) -> Option<pb::Message> {
        self.conns.get_mut(&id)?.poll_transmit(&self.pbx)
    }

    /// The next command record of connection `id` (kept when
    /// [`ConnConfig::record_commands`] is set).
    pub fn poll_record(&mut self, id: u64) -> Option<CommandRecord> {
        self.conns.get_mut(&id)?.poll_record()
    }

    /// Ends every subscription of every connection with SubscribeTerminated (a fault); returns
    /// how many ended.
    pub fn terminate_all(&mut self) -> usize {
        self.conns.values_mut().map(Connection::terminate_all).sum()
    }

    /// The PBX reboots: every call ends and every connection drops. Returns how many
    /// connections there were.
    pub fn restart(&mut self) -> usize {
        self.pbx.restart();
        let n = self.close_all();
        self.pump();
        n
    }
}
