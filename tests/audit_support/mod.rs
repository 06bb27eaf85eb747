//! What the audit tests share: a recorder standing in for the session, and the request a
//! transfer on the busy site makes.
#![allow(dead_code)]

use std::cell::RefCell;

use ipo_top::app::audit::Commands;
use ipo_top::model::{Command, CommandId};
use ipo_top::ui::{Action, App, Event, Key, KeyCode, Request, Theme};

use super::ui_fixture::{app, busy_site};

/// Records what would have gone to the session.
#[derive(Default)]
pub struct Recorder {
    pub sent: RefCell<Vec<Command>>,
}

impl Commands for Recorder {
    fn command(&self, command: Command) -> CommandId {
        let mut sent = self.sent.borrow_mut();
        sent.push(command);
        CommandId(100 + sent.len() as u64)
    }
}

/// The screen and the request a transfer of the selected waiting call to 4103 makes.
pub fn transfer() -> (App, Request) {
    let (site, evs) = busy_site();
    let mut a = app(&site, evs, 120, 40, Theme::colour());
    let mut actions = a.update(Event::Key(Key::char('t')));
    for c in "4103".chars() {
        actions.extend(a.update(Event::Key(Key::char(c))));
    }
    actions.extend(a.update(Event::Key(Key::plain(KeyCode::Enter))));
    match actions.as_slice() {
        [Action::Send(r)] => {
            let r = r.clone();
            (a, r)
        }
        other => panic!("expected a transfer, got {other:?}"),
    }
}
