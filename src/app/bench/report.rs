//! The bench's figures: one [`Run`] per rate, built from what each part measured, printed as
//! one table (a column per run) with the performance targets beside, or as one JSON object.
//! Targets are shown as met or not, never asserted.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::bare::Bare;
use super::replay::Replay;
use super::screen::{RSS_AT, Screen};
use crate::app::tui::MIN_FRAME;

/// p50 and p99 of a set of samples.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Pct {
    /// The median.
    pub p50: f64,
    /// The 99th percentile.
    pub p99: f64,
}

pub(super) fn pct_of(mut v: Vec<f64>) -> Pct {
    if v.is_empty() {
        return Pct::default();
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        v.get(i).copied().unwrap_or_default()
    };
    Pct {
        p50: at(0.5),
        p99: at(0.99),
    }
}

fn ms(v: &[Duration]) -> Pct {
    pct_of(v.iter().map(|d| d.as_secs_f64() * 1e3).collect())
}

fn pct_cpu(cpu: Duration, window: Duration) -> f64 {
    100.0 * cpu.as_secs_f64() / window.as_secs_f64().max(1e-9)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::INFINITY }
}

/// One performance target and where the run stands.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What is measured.
    pub what: String,
    /// The target.
    pub target: String,
    /// The measured figure.
    pub measured: String,
    /// Whether it is met.
    pub met: bool,
}

/// Every figure of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Call changes per second asked of the simulator.
    pub rate: f64,
    /// The measurement window, seconds.
    pub seconds: f64,
    /// Connect to the last call already there in the rows, ms.
    pub full_picture_ms: f64,
    /// The same for the bare client, ms.
    pub bare_full_picture_ms: f64,
    /// Notify reached the screen -> rows updated, ms.
    pub notify_to_rows_ms: Pct,
    /// Notify reached the screen -> frame written, ms (includes the frame cap).
    pub notify_to_frame_ms: Pct,
    /// The frame cap included in `notify_to_frame_ms`, ms.
    pub frame_cap_ms: f64,
    /// The dashboard's CPU, % of one core.
    pub dashboard_cpu_pct: f64,
    /// `ipo-top events --json > /dev/null` against the same simulator, % of one core.
    pub events_cpu_pct: f64,
    /// The simulator serving the dashboard, % of one core.
    pub sim_cpu_pct: f64,
    /// Notifies replayed sans-IO.
    pub replay_notifies: u64,
    /// Engine, model and `App::update` per Notify, µs.
    pub replay_us_per_notify: f64,
    /// Plain `prost` decode per Notify, µs.
    pub decode_us_per_notify: f64,
    /// Render time per frame, ms.
    pub render_ms: Pct,
    /// Bytes per frame.
    pub frame_bytes: Pct,
    /// Frames per second.
    pub frames_per_sec: f64,
    /// Bytes per second to the terminal.
    pub bytes_per_sec: f64,
    /// Key pressed -> frame answering it, ms.
    pub key_ms: Pct,
    /// CPU time to render a frame where one agent row changed, ms.
    pub one_row_render_ms: Pct,
    /// Bytes such a frame wrote.
    pub one_row_bytes: Pct,
    /// Resident memory 60 s after the start, MiB (absent when the run was shorter).
    pub rss_60s_mib: Option<f64>,
    /// Resident memory at the end, MiB.
    pub rss_end_mib: f64,
    /// Notifies the dashboard's session received.
    pub notifies: u64,
    /// NotifyAcks it sent.
    pub acked: u64,
    /// Notifies the bare client received, acknowledged, and missed (notify_id gaps).
    pub bare_notifies: u64,
    /// NotifyAcks the bare client sent.
    pub bare_acked: u64,
    /// Gaps in the bare client's notify_id sequences.
    pub bare_missing: u64,
    /// The performance targets that apply to this run.
    pub targets: Vec<Target>,
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

impl Run {
    /// The figures of one run.
    pub fn new(rate: f64, bare: &Bare, events_cpu: f64, screen: &Screen, replay: &Replay) -> Run {
        let secs = screen.window.as_secs_f64().max(1e-9);
        let mut run = Run {
            rate,
            seconds: secs,
            full_picture_ms: screen.full_picture.as_secs_f64() * 1e3,
            bare_full_picture_ms: bare.full_picture.as_secs_f64() * 1e3,
            notify_to_rows_ms: ms(&screen.to_rows),
            notify_to_frame_ms: ms(&screen.to_frame),
            frame_cap_ms: MIN_FRAME.as_secs_f64() * 1e3,
            dashboard_cpu_pct: pct_cpu(screen.cpu, screen.window),
            events_cpu_pct: events_cpu,
            sim_cpu_pct: pct_cpu(screen.sim_cpu, screen.window),
            replay_notifies: replay.notifies,
            replay_us_per_notify: replay.per_notify.as_secs_f64() * 1e6,
            decode_us_per_notify: replay.decode_per_notify.as_secs_f64() * 1e6,
            render_ms: ms(&screen.render),
            frame_bytes: pct_of(screen.frame_bytes.iter().map(|b| *b as f64).collect()),
            frames_per_sec: screen.frames as f64 / secs,
            bytes_per_sec: screen.bytes as f64 / secs,
            key_ms: ms(&screen.key),
            one_row_render_ms: ms(&screen.one_row_render),
            one_row_bytes: pct_of(screen.one_row_bytes.iter().map(|b| *b as f64).collect()),
            rss_60s_mib: screen.rss_at_60.map(mib),
            rss_end_mib: mib(screen.rss_end),
            notifies: screen.counters.notifies,
            acked: screen.counters.acks,
            bare_notifies: bare.notifies,
            bare_acked: bare.acked,
            bare_missing: bare.missing,
            targets: Vec::new(),
        };
        run.targets = targets(&run);
        run
    }

    /// Every Notify acknowledged, by the dashboard and by the bare client, none missing.
    pub fn all_acked(&self) -> bool {
        self.notifies > 0
            && self.acked == self.notifies
            && self.bare_acked == self.bare_notifies
            && self.bare_missing == 0
    }
}

pub(super) fn target(what: &str, target: &str, measured: String, met: bool) -> Target {
    Target {
        what: what.to_owned(),
        target: target.to_owned(),
        measured,
        met,
    }
}

/// The performance targets for this run's rate.
fn targets(r: &Run) -> Vec<Target> {
    let mut t = Vec::new();
    let vs_sim = ratio(r.dashboard_cpu_pct, r.sim_cpu_pct);
    let vs_events = ratio(r.dashboard_cpu_pct, r.events_cpu_pct);
    if r.rate == 500.0 || r.rate == 2000.0 {
        t.push(target(
            "dashboard CPU / simulator CPU",
            "<= 2x",
            format!("{vs_sim:.1}x"),
            vs_sim <= 2.0,
        ));
        t.push(target(
            "dashboard CPU / events --json CPU",
            "<= 1.5x",
            format!("{vs_events:.1}x"),
            vs_events <= 1.5,
        ));
    }
    if r.replay_notifies > 0 {
        let x = ratio(r.replay_us_per_notify, r.decode_us_per_notify);
        t.push(target(
            "sans-IO replay / bare decode, per Notify",
            "<= 5x",
            format!("{x:.1}x"),
            x <= 5.0,
        ));
    }
    if r.rate >= 10_000.0 {
        t.push(target(
            "every Notify acked",
            "all",
            format!("{} of {}", r.acked, r.notifies),
            r.all_acked(),
        ));
        t.push(target(
            "frames per second",
            ">= 5",
            format!("{:.1}", r.frames_per_sec),
            r.frames_per_sec >= 5.0,
        ));
        t.push(target(
            "key answered (p99)",
            "<= 100 ms",
            format!("{:.1} ms", r.key_ms.p99),
            r.key_ms.p99 <= 100.0,
        ));
        match r.rss_60s_mib {
            Some(at60) => {
                let drift = 100.0 * (r.rss_end_mib - at60).abs() / at60.max(1e-9);
                t.push(target(
                    "memory at the end vs at 60 s",
                    "within 5 %",
                    format!("{drift:.1} %"),
                    drift <= 5.0,
                ));
            }
            None => t.push(target(
                "memory at the end vs at 60 s",
                "within 5 %",
                format!("run shorter than {} s", RSS_AT.as_secs()),
                false,
            )),
        }
    }
    if r.rate == 0.0 {
        t.push(target(
            "one row changed: render CPU (p99)",
            "< 1 ms",
            format!("{:.2} ms", r.one_row_render_ms.p99),
            r.one_row_render_ms.p99 < 1.0,
        ));
        t.push(target(
            "one row changed: bytes (p99)",
            "< 1 KB",
            format!("{:.0} B", r.one_row_bytes.p99),
            r.one_row_bytes.p99 < 1024.0,
        ));
        t.push(target(
            "frames per second, idle",
            "about 1",
            format!("{:.1}", r.frames_per_sec),
            r.frames_per_sec <= 1.5,
        ));
    }
    let x = ratio(r.full_picture_ms, r.bare_full_picture_ms);
    t.push(target(
        "full picture / bare client's",
        "<= 1.2x",
        format!("{x:.2}x"),
        x <= 1.2,
    ));
    t.push(target(
        "resident memory",
        "<= 64 MiB",
        format!("{:.1} MiB", r.rss_end_mib),
        r.rss_end_mib <= 64.0,
    ));
    t
}

/// The whole bench: where it ran and every run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The headless terminal's size, e.g. "200x60".
    pub size: String,
    /// CPU cores the machine offers.
    pub cores: usize,
    /// The runs, in order.
    pub runs: Vec<Run>,
}

fn p(v: Pct, digits: usize) -> String {
    format!("{:.d$} / {:.d$}", v.p50, v.p99, d = digits)
}

impl Report {
    /// The report as one table of figures and one of targets.
    pub fn table(&self) -> String {
        let r = &self.runs;
        let cap = MIN_FRAME.as_millis();
        let rows: Vec<(String, Vec<String>)> = vec![
            (
                "changes/s".into(),
                r.iter().map(|x| format!("{}", x.rate)).collect(),
            ),
            (
                "window (s)".into(),
                r.iter().map(|x| format!("{:.1}", x.seconds)).collect(),
            ),
            (
                "full picture, dashboard / bare (ms)".into(),
                r.iter()
                    .map(|x| format!("{:.0} / {:.0}", x.full_picture_ms, x.bare_full_picture_ms))
                    .collect(),
            ),
            (
                "Notify -> rows p50/p99 (ms)".into(),
                r.iter().map(|x| p(x.notify_to_rows_ms, 2)).collect(),
            ),
            (
                format!("Notify -> frame p50/p99 (ms, cap {cap} ms)"),
                r.iter().map(|x| p(x.notify_to_frame_ms, 1)).collect(),
            ),
            (
                "CPU % dashboard / events / sim".into(),
                r.iter()
                    .map(|x| {
                        format!(
                            "{:.1} / {:.1} / {:.1}",
                            x.dashboard_cpu_pct, x.events_cpu_pct, x.sim_cpu_pct
                        )
                    })
                    .collect(),
            ),
            (
                "replay / decode per Notify (µs)".into(),
                r.iter()
                    .map(|x| {
                        format!(
                            "{:.1} / {:.2} ({:.0}x)",
                            x.replay_us_per_notify,
                            x.decode_us_per_notify,
                            ratio(x.replay_us_per_notify, x.decode_us_per_notify)
                        )
                    })
                    .collect(),
            ),
            (
                "render p50/p99 (ms)".into(),
                r.iter().map(|x| p(x.render_ms, 2)).collect(),
            ),
            (
                "bytes per frame p50/p99".into(),
                r.iter().map(|x| p(x.frame_bytes, 0)).collect(),
            ),
            (
                "one row changed: render CPU p50/p99 (ms)".into(),
                r.iter().map(|x| p(x.one_row_render_ms, 2)).collect(),
            ),
            (
                "one row changed: bytes p50/p99".into(),
                r.iter().map(|x| p(x.one_row_bytes, 0)).collect(),
            ),
            (
                "frames/s".into(),
                r.iter()
                    .map(|x| format!("{:.1}", x.frames_per_sec))
                    .collect(),
            ),
            (
                "bytes/s to the terminal".into(),
                r.iter()
                    .map(|x| format!("{:.0}", x.bytes_per_sec))
                    .collect(),
            ),
            (
                "key answered p50/p99 (ms)".into(),
                r.iter().map(|x| p(x.key_ms, 1)).collect(),
            ),
            (
                "resident MiB at 60 s / end".into(),
                r.iter()
                    .map(|x| {
                        format!(
                            "{} / {:.1}",
                            x.rss_60s_mib.map_or("-".into(), |m| format!("{m:.1}")),
                            x.rss_end_mib
                        )
                    })
                    .collect(),
            ),
            (
                "Notifies acked (dashboard; bare)".into(),
                r.iter()
                    .map(|x| {
                        format!(
                            "{}/{}; {}/{}",
                            x.acked, x.notifies, x.bare_acked, x.bare_notifies
                        )
                    })
                    .collect(),
            ),
            (
                "missing (bare client)".into(),
                r.iter().map(|x| x.bare_missing.to_string()).collect(),
            ),
        ];
        let mut out = String::new();
        let _ = writeln!(
            out,
            "ipo-top bench: scale site (3000 users, 150 queues, ~2000 calls), {} terminal, {} cores",
            self.size, self.cores
        );
        let w0 = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        let widths: Vec<usize> = (0..r.len())
            .map(|i| {
                rows.iter()
                    .filter_map(|(_, v)| v.get(i))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for (k, v) in &rows {
            let _ = write!(out, "{k:<w0$}");
            for (cell, w) in v.iter().zip(&widths) {
                let _ = write!(out, " | {cell:>w$}");
            }
            out.push('\n');
        }
        out.push('\n');
        let _ = writeln!(
            out,
            "targets (ratios within one run; shown, never asserted):"
        );
        for x in r {
            for t in &x.targets {
                let _ = writeln!(
                    out,
                    "  {:>6}/s  {:<42} {:<11} {:<22} {}",
                    x.rate,
                    t.what,
                    t.target,
                    t.measured,
                    if t.met { "met" } else { "NOT met" }
                );
            }
        }
        let _ = writeln!(
            out,
            "Notify -> rows/frame: from when a Notify's batch reached the screen (for a batch that waited while the screen was busy, from the screen's previous look: an upper bound); frames are capped at one per {cap} ms."
        );
        out
    }
}
