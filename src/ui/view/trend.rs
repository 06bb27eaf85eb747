//! Trends drawn as text: sparklines in ratatui's eighth-block bars (its `symbols::bar`), one
//! cell a minute, and the wall-clock time of an earlier moment for the axis labels.

use std::time::Instant;

use ratatui::symbols::bar;

use crate::model::{Sample, TREND_MINUTES};
use crate::ui::app::App;

/// A sparkline of `values` scaled to `max` (at least 1): a gap (no sample) is a space, zero
/// the lowest bar, `max` the full block.
pub(super) fn bars(values: &[Option<u64>], max: u64) -> String {
    let max = max.max(1);
    let levels = [
        bar::ONE_EIGHTH,
        bar::ONE_QUARTER,
        bar::THREE_EIGHTHS,
        bar::HALF,
        bar::FIVE_EIGHTHS,
        bar::THREE_QUARTERS,
        bar::SEVEN_EIGHTHS,
        bar::FULL,
    ];
    values
        .iter()
        .map(|v| match v {
            None => " ",
            Some(0) => bar::ONE_EIGHTH,
            Some(v) => {
                // 1..=max over the seven bars above the lowest.
                let i = 1 + (v.min(&max) * 7).div_ceil(max).saturating_sub(1) as usize;
                levels.get(i.min(7)).copied().unwrap_or(bar::FULL)
            }
        })
        .collect()
}

/// The last `n` minutes of a queue's samples, through `f`.
pub(super) fn last(
    samples: &[Option<Sample>],
    n: usize,
    f: fn(&Sample) -> u64,
) -> Vec<Option<u64>> {
    let n = n.min(TREND_MINUTES);
    samples
        .get(samples.len().saturating_sub(n)..)
        .unwrap_or_default()
        .iter()
        .map(|s| s.as_ref().map(f))
        .collect()
}

/// The wall clock (`HH:MM`) at `t`, from the screen's clock at its `now`.
pub(super) fn clock_at(app: &App, t: Instant) -> Option<String> {
    let c = app.clock()?;
    let now_secs = i64::from(c.hour) * 3600 + i64::from(c.minute) * 60 + i64::from(c.second);
    let back = i64::try_from(app.now().saturating_duration_since(t).as_secs()).ok()?;
    let secs = (now_secs - back).rem_euclid(86_400);
    Some(format!("{:02}:{:02}", secs / 3600, secs / 60 % 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_max_and_leave_gaps_blank() {
        assert_eq!(
            bars(&[None, Some(0), Some(1), Some(4), Some(8), Some(9)], 8),
            " ▁▂▅██"
        );
        assert_eq!(bars(&[Some(0), Some(0)], 0), "▁▁");
        assert_eq!(bars(&[Some(1)], 1), "█");
    }
}
