//! The floor-wide waiting pane: every queue's waiting calls, one row per call, longest wait
//! first; a key narrows it to the selected queue (its own order) and back; at launch the
//! floor's longest-waiting caller is selected.

mod ui_fixture;

use ipo_top::model::{CallState, LineId};
use ipo_top::ui::{App, Event, Key, KeyCode, Pane, Theme};
use ui_fixture::{CLAIMS, ROADSIDE, app, busy_site, guid, party, render};

fn press(app: &mut App, key: Key) {
    app.update(Event::Key(key));
}

/// The waiting pane's rows as (queue line, caller).
fn rows(app: &App) -> Vec<(LineId, String)> {
    (app.waiting_rows().iter())
        .filter_map(|id| app.model().appearance(*id))
        .map(|a| {
            let caller = a.call.calling.as_ref().map(|p| p.number.to_string());
            (a.key.line.clone(), caller.unwrap_or_default())
        })
        .collect()
}

fn queue(n: u8) -> LineId {
    LineId::Queue(guid(n))
}

#[test]
fn waiting_calls_of_two_queues_are_interleaved_longest_first() {
    let (mut site, _) = busy_site();
    // A caller in the second queue who has waited longer than anyone.
    site.queue_call(
        600,
        ROADSIDE,
        party("01632960999", "Long Wait"),
        1,
        CallState::Queueing,
        Vec::new(),
    );
    let evs = site.events();
    let (_, mut all) = busy_site();
    all.extend(evs);
    let a = app(&site, all, 160, 48, Theme::monochrome());
    let got = rows(&a);
    let want = [
        (queue(ROADSIDE), "01632960999"),
        (queue(CLAIMS), "02079460958"),
        (queue(CLAIMS), "01134960077"),
        (queue(CLAIMS), "02920960311"),
        (queue(ROADSIDE), "07700900461"),
    ];
    let want: Vec<(LineId, String)> = want
        .iter()
        .map(|(l, c)| (l.clone(), c.to_string()))
        .collect();
    assert_eq!(got, want);
    // At launch the floor's longest-waiting caller is selected, in the waiting pane.
    assert_eq!(a.focus(), Pane::Waiting);
    assert_eq!(a.selection().call, a.waiting_rows().first().copied());
    let text = render(&a);
    assert!(text.contains("Waiting · every queue"), "{text}");
    assert!(text.contains("QUEUE"), "{text}");
    assert!(text.contains("in Roadside"), "{text}");
}

#[test]
fn narrowed_to_one_queue_the_order_is_the_queue_s_own_and_back() {
    let (site, evs) = busy_site();
    let mut a = app(&site, evs, 80, 24, Theme::monochrome());
    let selected = a.selection().call;
    press(&mut a, Key::char('w'));
    assert!(a.view_state().narrow_waiting);
    // Claims Desk in its own order: priority 3 first, then the longest wait.
    let got: Vec<String> = rows(&a).into_iter().map(|(_, c)| c).collect();
    assert_eq!(got, ["02920960311", "02079460958", "01134960077"]);
    // The selected call is still listed, so it stays.
    assert_eq!(a.selection().call, selected);
    assert!(render(&a).contains("Claims Desk · waiting 3"));
    press(&mut a, Key::char('w'));
    assert!(!a.view_state().narrow_waiting);
    assert_eq!(rows(&a).len(), 4);
    assert_eq!(a.selection().call, selected);
}

#[test]
fn selecting_a_queue_selects_its_longest_caller_in_the_floor() {
    let (site, evs) = busy_site();
    let mut a = app(&site, evs, 80, 24, Theme::monochrome());
    press(&mut a, Key::plain(KeyCode::BackTab));
    press(&mut a, Key::char('j'));
    press(&mut a, Key::plain(KeyCode::Tab));
    let id = a.selection().call.expect("a call selected");
    let call = a.model().appearance(id).expect("listed");
    assert_eq!(call.key.line, queue(ROADSIDE));
    assert_eq!(rows(&a).len(), 4, "still every queue's calls");
}
