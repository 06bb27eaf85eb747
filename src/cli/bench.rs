//! `ipo-top bench`: the options, and the log the dashboard under measurement writes as the
//! screen would.

use clap::Args;
use tracing::level_filters::LevelFilter;

use ipo_top::app::bench::{self, DEFAULT_RATES, Options};
use ipo_top::app::{self, Exit, logging};

/// Options of `ipo-top bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Call changes per second (one run). Without it: 500, 2000 and 10000, then an idle run
    /// (0).
    #[arg(long, value_name = "CHANGES_PER_SEC", value_parser = rate)]
    pub rate: Option<f64>,
    /// How long each run is measured, after the dashboard has the full picture.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,
    /// The headless terminal's size, COLUMNSxROWS (80x24 or 200x60).
    #[arg(long, value_name = "COLSxROWS", default_value = "200x60", value_parser = size)]
    pub size: (u16, u16),
    /// Print one JSON object with every figure instead of the table.
    #[arg(long)]
    pub json: bool,
    /// With --shared: the headless watchers (besides one drawn viewer) in shared mode.
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub viewers: u16,
}

fn rate(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && (0.0..=200_000.0).contains(r))
        .ok_or_else(|| format!("`{s}`: give 0 to 200000 changes per second"))
}

fn size(s: &str) -> Result<(u16, u16), String> {
    let usage = || format!("`{s}`: write COLUMNSxROWS, e.g. 80x24 or 200x60");
    let (w, h) = s.split_once('x').ok_or_else(usage)?;
    let w: u16 = w.parse().map_err(|_| usage())?;
    let h: u16 = h.parse().map_err(|_| usage())?;
    if !(20..=1000).contains(&w) || !(5..=1000).contains(&h) {
        return Err(usage());
    }
    Ok((w, h))
}

/// Runs the bench.
/// `shared` (the global `--shared`): measure shared mode (`ipo-top serve`, nats-server,
/// `--viewers` watchers and one drawn viewer) instead of the direct dashboard.
pub fn run(args: &BenchArgs, level: LevelFilter, shared: bool) -> Exit {
    let _log = match logging::init(level, None) {
        Ok(guard) => guard,
        Err(e) => {
            app::complain("ipo-top", &format_args!("{e} (carrying on without a log)"));
            None
        }
    };
    let opts = Options {
        rates: args
            .rate
            .map_or_else(|| DEFAULT_RATES.to_vec(), |r| vec![r]),
        seconds: std::time::Duration::from_secs(args.seconds),
        size: args.size,
        json: args.json,
        log_level: level.to_string().to_lowercase(),
        shared: shared.then_some(usize::from(args.viewers)),
    };
    bench::run(&opts)
}
