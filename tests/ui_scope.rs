//! The header with a scope: it says what the scope covers, warns on one line about a queue
//! the PBX does not have and carries on; without a scope nothing new appears.

mod ui_fixture;

use ipo_top::model::{Scope, ScopeAgents, Text};
use ipo_top::ui::{App, Event, Theme, UiConfig};
use ui_fixture::{CLOCK, app, busy_site, render};

fn scoped(queues: &[&str], agents: ScopeAgents, w: u16, h: u16) -> App {
    let (site, evs) = busy_site();
    let config = UiConfig {
        pbx: "ipo-hq.example.net".into(),
        theme: Theme::monochrome(),
        supervisor: Some("4190".into()),
        scope: Scope {
            queues: queues.iter().map(|q| Text::from(*q)).collect(),
            agents,
        },
        ..UiConfig::default()
    };
    let mut a = App::new(config, site.at(0));
    a.update(Event::Resize {
        width: w,
        height: h,
    });
    a.update(Event::Model(evs));
    a.update(Event::Tick {
        now: site.now(),
        clock: Some(CLOCK),
    });
    a
}

fn header(a: &App) -> String {
    render(a).lines().next().unwrap_or_default().to_owned()
}

#[test]
fn the_header_says_what_is_in_scope() {
    let a = scoped(&["Roadside"], ScopeAgents::Members, 160, 48);
    let h = header(&a);
    assert!(h.contains("scope: 1 queue, 5 agents"), "{h}");
    assert!(!h.contains("no queue"), "{h}");
}

#[test]
fn a_queue_the_pbx_does_not_have_is_one_warning_and_the_rest_is_shown() {
    let a = scoped(&["Roadsde", "7303"], ScopeAgents::Members, 160, 48);
    let h = header(&a);
    assert!(h.contains("scope: 1 queue, 2 agents"), "{h}");
    assert!(h.contains("no queue \"Roadsde\""), "{h}");
    // The rest of the screen is drawn as ever.
    assert!(render(&a).contains("Sales"));
}

#[test]
fn without_a_scope_the_header_is_unchanged() {
    let (site, evs) = busy_site();
    let plain = app(&site, evs, 160, 48, Theme::monochrome());
    let everything = scoped(&[], ScopeAgents::All, 160, 48);
    assert_eq!(header(&plain), header(&everything));
    assert!(!header(&plain).contains("scope"));
}

#[test]
fn the_panes_list_only_what_is_in_scope() {
    let a = scoped(&["Roadside"], ScopeAgents::Members, 160, 48);
    let d = a.derived();
    assert_eq!(d.queues().len(), 1);
    assert_eq!(d.agents_len(), 5);
    assert_eq!(d.totals().agents, 5);
    let listed = scoped(&[], ScopeAgents::Listed(vec!["4101".into()]), 160, 48);
    assert_eq!(listed.derived().agents_len(), 1);
    assert!(listed.derived().queues().len() > 1);
}
