//! Folding: many model events between two frames derive each touched row once, and the
//! screen they give is the one applying them one at a time gives.

mod ui_fixture;

use ipo_top::model::{CallState, LineId, ModelEvent};
use ipo_top::ui::{App, Event, Theme};
use ui_fixture::{CLAIMS, app, buffer, busy_site, guid};

fn derivations(app: &App) -> u64 {
    app.derived().derivations()
}

#[test]
fn a_thousand_events_derive_each_touched_row_once_and_draw_the_same_screen() {
    let (mut site, evs) = busy_site();
    let mut folded = app(&site, evs.clone(), 160, 48, Theme::colour());
    let mut stepped = app(&site, evs, 160, 48, Theme::colour());

    // A waiting call in Claims Desk changes priority and an agent's call goes on and off
    // hold, 500 times each: 1000 changes on two lines.
    let queued = site
        .model
        .appearances_on(&LineId::Queue(guid(CLAIMS)))
        .find(|a| a.call.state == CallState::Queueing)
        .map(|a| (a.key.line.clone(), a.call.clone()))
        .expect("a call waits in the fixture");
    let talking = site
        .model
        .appearances()
        .find(|a| matches!(a.key.line, LineId::User(_)) && a.call.state == CallState::Connected)
        .map(|a| (a.key.line.clone(), a.call.clone()))
        .expect("an agent talks in the fixture");
    let at = site.now();
    let mut events: Vec<ModelEvent> = Vec::new();
    for i in 0..500 {
        let (line, mut snap) = queued.clone();
        if let Some(q) = snap.queue.as_mut() {
            q.priority = 5 + i % 2;
        }
        site.model.call_info(at, line, snap);
        let (line, mut snap) = talking.clone();
        snap.state = if i % 2 == 0 {
            CallState::OnHold
        } else {
            CallState::Connected
        };
        site.model.call_info(at, line, snap);
        events.extend(site.events());
    }
    assert!(events.len() >= 1000, "{} events", events.len());

    let before = derivations(&folded);
    folded.update(Event::Model(events.clone()));
    // One queue and one agent touched: two rows derived, however many events.
    assert_eq!(derivations(&folded) - before, 2);

    let before = derivations(&stepped);
    for ev in events {
        stepped.update(Event::Model(vec![ev]));
    }
    assert!(derivations(&stepped) - before >= 1000);

    assert_eq!(buffer(&folded), buffer(&stepped));
    assert_eq!(folded.selection(), stepped.selection());
    assert_eq!(folded.derived().panes(), stepped.derived().panes());
}
