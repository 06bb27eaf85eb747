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

/// The agent grid's extensions, in order.
fn agents(app: &App) -> Vec<String> {
    (app.derived().agents(..))
        .filter_map(|r| app.model().user(&r.guid))
        .map(|u| u.extn.to_string())
        .collect()
}

#[test]
fn the_agent_grid_narrows_to_the_selected_queue_s_members_and_back() {
    let (site, evs) = busy_site();
    let mut a = app(&site, evs, 160, 48, Theme::monochrome());
    let everyone = agents(&a).len();
    press(&mut a, Key::char('o'));
    assert!(a.view_state().narrow_agents);
    let members: Vec<String> = (a.selection().queue.as_ref())
        .and_then(|g| a.model().queue(g))
        .map(|q| q.members().iter().map(|m| m.extn.to_string()).collect())
        .unwrap_or_default();
    let narrowed = agents(&a);
    assert!(narrowed.len() < everyone);
    assert!(narrowed.iter().all(|e| members.contains(e)), "{narrowed:?}");
    assert!(render(&a).contains("members of Claims Desk"));
    press(&mut a, Key::char('o'));
    assert_eq!(agents(&a).len(), everyone);
}

#[test]
fn each_sort_orders_the_grid_and_reverses_and_the_heading_marks_it() {
    let (site, evs) = busy_site();
    let mut a = app(&site, evs, 160, 48, Theme::monochrome());
    assert!(render(&a).contains("STATE▲"));
    // Extension: as numbers.
    press(&mut a, Key::char('>'));
    assert!(render(&a).contains("TIME▲"));
    press(&mut a, Key::char('>'));
    let extns: Vec<u32> = agents(&a).iter().filter_map(|e| e.parse().ok()).collect();
    let mut sorted = extns.clone();
    sorted.sort_unstable();
    assert_eq!(extns, sorted);
    assert!(render(&a).contains("EXTN▲"));
    press(&mut a, Key::char('I'));
    let down: Vec<u32> = agents(&a).iter().filter_map(|e| e.parse().ok()).collect();
    sorted.reverse();
    assert_eq!(down, sorted);
    assert!(render(&a).contains("EXTN▼"));
    // Name, ignoring case; then queue; then back to state.
    press(&mut a, Key::char('I'));
    press(&mut a, Key::char('>'));
    let names: Vec<String> = (a.derived().agents(..))
        .filter_map(|r| a.model().user(&r.guid))
        .map(|u| u.name.to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    press(&mut a, Key::char('>'));
    assert!(render(&a).contains("QUEUE▲"));
    press(&mut a, Key::char('>'));
    assert!(render(&a).contains("STATE▲"));
}

#[test]
fn a_change_of_view_asks_for_it_to_be_kept_and_a_kept_one_is_used() {
    let (site, evs) = busy_site();
    let mut a = app(&site, evs.clone(), 160, 48, Theme::monochrome());
    let actions = a.update(Event::Key(Key::char('>')));
    let Some(ipo_top::ui::Action::SaveView(view)) = actions.first().cloned() else {
        panic!("no SaveView: {actions:?}");
    };
    assert_eq!(view, *a.view_state());
    // A later run starts with it.
    let config = ipo_top::ui::UiConfig {
        view: view.clone(),
        theme: Theme::monochrome(),
        ..ipo_top::ui::UiConfig::default()
    };
    let mut b = App::new(config, site.at(0));
    b.update(Event::Model(evs));
    assert_eq!(*b.view_state(), view);
    b.update(Event::Resize {
        width: 160,
        height: 48,
    });
    assert!(render(&b).contains("TIME▲"));
}
