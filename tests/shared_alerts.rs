//! Shared mode's alerts and trends come from the serving side, against the real nats-server
//! and the simulator: a queue crossing its threshold raises the same alert (figure, value,
//! threshold, levels) in two viewers that started at different times, their trends agree, and
//! the wallboard of a `--shared` viewer shows the tile's level.

mod cli_support;
mod nats_support;

use std::time::{Duration, Instant};

use ipo_top::app::serve::ServeTarget;
use ipo_top::app::shared::{ViewerUpdate, follow, spawn as viewer};
use ipo_top::model::{
    AlertConfig, AlertLevel, AlertTransition, Alerts, Figure, Guid, Scope, Tables, Thresholds,
};
use ipo_top::session::SessionConfig;
use ipo_top::sim::pbx::Caller;
use ipo_top::ui::{App, Event, UiConfig};
use nats_support::{Nats, Serving};
use ratatui::{Terminal, backend::TestBackend};
use tokio::sync::mpsc;

use cli_support::{PATIENCE, endpoint, start_sim};

/// The queue the calls are placed on.
const ROADSIDE: &str = "7302";

/// The serving side's `[alerts]`: calls waiting only, warn at two and critical at three more
/// than wait now, a short dwell.
fn serving_alerts(waiting: u64) -> AlertConfig {
    let mut defaults = Thresholds::default();
    defaults.set(Figure::Waiting, AlertLevel::Warn, Some(waiting + 2));
    defaults.set(Figure::Waiting, AlertLevel::Critical, Some(waiting + 3));
    AlertConfig {
        defaults,
        dwell: Duration::from_secs(1),
        ..AlertConfig::default()
    }
}

/// A raised alert as a viewer reports it: figure, value, threshold, from, to.
type Raised = (Figure, Option<u64>, Option<u64>, AlertLevel, AlertLevel);

/// A viewer: the screen (on the wallboard, headless) and `events --json --shared`'s follower,
/// both fed from one watch.
struct View {
    rx: mpsc::Receiver<ViewerUpdate>,
    tables: Tables,
    alerts: Alerts,
    transitions: Vec<AlertTransition>,
    app: App,
    caught_up: bool,
}

impl View {
    fn new(nats: &Nats) -> View {
        let mut alerts = Alerts::new(AlertConfig::default(), Scope::default());
        alerts.set_following();
        let mut app = App::new(
            UiConfig {
                judged_elsewhere: true,
                wall: true,
                read_only: true,
                ..UiConfig::default()
            },
            Instant::now(),
        );
        app.update(Event::Resize {
            width: 120,
            height: 40,
        });
        View {
            rx: viewer(nats.site("hq")),
            tables: Tables::new(),
            alerts,
            transitions: Vec::new(),
            app,
            caught_up: false,
        }
    }

    fn take(&mut self, u: ViewerUpdate) {
        match u {
            ViewerUpdate::Model(evs) => {
                for ev in &evs {
                    self.tables.apply(ev);
                }
                self.app.update(Event::Model(evs));
            }
            ViewerUpdate::Judged(j) => {
                follow(&mut self.alerts, &self.tables, j.clone());
                self.transitions
                    .extend(std::iter::from_fn(|| self.alerts.poll_transition()));
                self.app.update(Event::Judged(j));
            }
            ViewerUpdate::CaughtUp(_) => self.caught_up = true,
        }
        self.app.update(Event::Tick {
            now: Instant::now(),
            clock: None,
        });
    }

    fn roadside(&self) -> Option<Guid> {
        self.tables
            .queues()
            .find(|q| q.extn.as_str() == ROADSIDE)
            .map(|q| q.guid.clone())
    }

    fn raised(&self) -> Vec<Raised> {
        self.transitions
            .iter()
            .filter(|t| t.extn.as_str() == ROADSIDE && t.raised())
            .map(|t| (t.figure, t.value, t.threshold, t.from, t.to))
            .collect()
    }

    fn wall(&self) -> String {
        let (w, h) = self.app.size();
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
        terminal
            .draw(|f| ipo_top::ui::view(&self.app, f))
            .expect("draw");
        terminal.backend().to_string()
    }
}

/// Feeds the viewers until `done` holds, or fails after [`PATIENCE`] (a safety net, not a
/// timing assertion).
async fn until(what: &str, views: &mut [&mut View], done: impl Fn(&[&mut View]) -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done(views) {
        let mut any = false;
        for v in views.iter_mut() {
            while let Ok(u) = v.rx.try_recv() {
                v.take(u);
                any = true;
            }
        }
        if !any {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not reached in {PATIENCE:?}; transitions: {:#?}",
            views
                .iter()
                .map(|v| v.transitions.clone())
                .collect::<Vec<_>>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queue_crossing_its_threshold_raises_the_same_alert_in_viewers_started_apart() {
    let nats = Nats::start();
    let sim = start_sim().await;
    // The simulator's clock is manual: nothing is answered or abandoned until it moves.
    let waiting = sim
        .with_pbx(|pbx, _| {
            let q = pbx.queue_by_extn(ROADSIDE).expect("Roadside in the demo");
            pbx.queue(q).map_or(0, |q| q.waiting_count() as u64)
        })
        .await
        .expect("the simulator answers");
    let serving = Serving::start(ServeTarget {
        shared: nats.site("hq"),
        endpoint: endpoint(&sim),
        session: SessionConfig::default(),
        audit: None,
        alerts: serving_alerts(waiting),
    });

    // Viewer A starts first and sees the site with Roadside at ok.
    let mut a = View::new(&nats);
    until("A sees Roadside judged", &mut [&mut a], |v| {
        v[0].caught_up
            && v[0].roadside().is_some_and(|g| {
                v[0].app
                    .trends()
                    .is_some_and(|t| t.minutes(&g).iter().any(Option::is_some))
            })
    })
    .await;
    let roadside = a.roadside().expect("Roadside");
    assert_eq!(
        a.alerts.level(&roadside),
        AlertLevel::Ok,
        "quiet before the calls"
    );
    assert!(a.raised().is_empty(), "{:?}", a.transitions);

    // Viewer B starts later.
    let mut b = View::new(&nats);
    until("B caught up", &mut [&mut a, &mut b], |v| {
        v[1].caught_up && v[1].roadside().is_some()
    })
    .await;

    // Three callers at once on Roadside: waiting crosses critical on the serving side.
    sim.with_pbx(|pbx, _| {
        let q = pbx.queue_by_extn(ROADSIDE).expect("Roadside in the demo");
        for n in 1..=3 {
            let _ = pbx.place_queue_call(q, Caller::new(&format!("0207946020{n}"), ""), 2);
        }
    })
    .await
    .expect("the simulator answers");
    until("both viewers raised critical", &mut [&mut a, &mut b], |v| {
        v.iter().all(|v| {
            v.raised()
                .iter()
                .any(|r| r.0 == Figure::Waiting && r.4 == AlertLevel::Critical)
        })
    })
    .await;
    let critical = |v: &View| {
        v.raised()
            .into_iter()
            .filter(|r| r.4 == AlertLevel::Critical)
            .collect::<Vec<_>>()
    };
    assert_eq!(critical(&a), critical(&b), "the same alert in both");
    let (figure, value, threshold, _, _) = critical(&a)[0];
    assert_eq!(figure, Figure::Waiting);
    assert_eq!(threshold, Some(waiting + 3), "the serving side's threshold");
    assert_eq!(value, Some(waiting + 3));
    assert_eq!(a.alerts.level(&roadside), AlertLevel::Critical);
    assert_eq!(a.app.alerts().level(&roadside), AlertLevel::Critical);
    assert_eq!(b.app.alerts().level(&roadside), AlertLevel::Critical);

    // Their trends are the serving side's: the same samples and intervals.
    until("the trends agree", &mut [&mut a, &mut b], |v| {
        let (ta, tb) = (v[0].app.trends(), v[1].app.trends());
        ta.zip(tb).is_some_and(|(ta, tb)| {
            ta.minutes(&roadside) == tb.minutes(&roadside)
                && ta.intervals(&roadside).len() == tb.intervals(&roadside).len()
                && ta
                    .intervals(&roadside)
                    .iter()
                    .zip(tb.intervals(&roadside))
                    .all(|(x, y)| (x.counted, x.in_time) == (y.counted, y.in_time))
        })
    })
    .await;
    let trends = a.app.trends().expect("trends");
    assert!(
        trends.minutes(&roadside).iter().any(Option::is_some),
        "B started later but has A's samples"
    );

    // The wallboard of a --shared viewer shows the tile's level.
    let wall = b.wall();
    assert!(wall.contains(AlertLevel::Critical.symbol()), "{wall}");
    assert!(
        wall.contains("Roadside") || wall.contains(ROADSIDE),
        "{wall}"
    );

    serving
        .stop(PATIENCE)
        .await
        .expect("serve ends")
        .expect("serve ok");
}
