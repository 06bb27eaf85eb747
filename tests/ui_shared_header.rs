//! A shared viewer's header says from the start, in the band under it, why it cannot send
//! functions: read-only on the site (its NATS user may not publish on its command subject) or
//! no serving process (nobody answered `hello`), before any function key is pressed; and it
//! says nothing more once the serving process takes its functions. Rendered into a test
//! terminal at 80 and 160 columns.

mod ui_fixture;

use ipo_top::share::functions::Standing;
use ipo_top::ui::{App, Event, Theme, UiConfig};
use ui_fixture::{CLOCK, busy_site, render};

/// The busy site as a shared viewer of `hq` shows it, `w` x 24.
fn viewer(w: u16) -> App {
    let (site, events) = busy_site();
    let mut app = App::new(
        UiConfig {
            // As `ipo-top --shared` has it: the banner names the site, no PBX of its own.
            pbx: String::new(),
            banner: Some("shared: hq via NATS".into()),
            judged_elsewhere: true,
            theme: Theme::colour(),
            supervisor: Some("4190".into()),
            ..UiConfig::default()
        },
        site.at(0),
    );
    app.update(Event::Resize {
        width: w,
        height: 24,
    });
    app.update(Event::Model(events));
    app.update(Event::Tick {
        now: site.now(),
        clock: Some(CLOCK),
    });
    app
}

/// The header and the line under it (the alert band, or the panes' first line).
fn header(app: &App) -> String {
    render(app).lines().take(2).collect::<Vec<_>>().join("\n")
}

#[test]
fn the_header_says_why_no_function_can_be_sent_from_the_start() {
    for w in [80, 160] {
        for (name, standing) in [
            ("read_only", Standing::NotPermitted),
            ("no_server", Standing::NoServer),
        ] {
            let mut a = viewer(w);
            let why = standing.message("hq");
            a.update(Event::CannotSend(why.clone()));
            assert!(a.needs_redraw());
            let line = header(&a);
            let why = why.unwrap_or_default();
            assert!(line.contains(&why), "{w}: {line}");
            insta::assert_snapshot!(format!("{name}_{w}"), line);
        }
    }
}

#[test]
fn the_header_says_nothing_once_the_serving_process_takes_functions() {
    let mut a = viewer(160);
    let plain = header(&a);
    a.update(Event::CannotSend(Standing::NoServer.message("hq")));
    assert!(header(&a).contains("no serving process for hq"));
    a.update(Event::CannotSend(Standing::Allowed.message("hq")));
    assert_eq!(header(&a), plain);
}
