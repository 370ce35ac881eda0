//! A run's timeline as text: one lane per agent slot, a bar per agent run over the
//! run's time axis marked by how it ended, idle time between bars visible, then the
//! axis and a legend. What ran in parallel shows as bars above one another.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::timeline::{AgentKind, AttemptOutcome, AttemptRecord, Timeline};

use super::{duration, fit, legend, Paint};

/// What fills the columns of an agent run that ended so (`None`: it still runs).
pub fn bar_mark(outcome: Option<AttemptOutcome>) -> char {
    match outcome {
        None => '▓',
        Some(AttemptOutcome::Done) => '█',
        Some(AttemptOutcome::Requeued) => 'r',
        Some(AttemptOutcome::Failed) => 'x',
        Some(AttemptOutcome::Stopped) => 's',
        Some(AttemptOutcome::Cancelled) => 'c',
        Some(AttemptOutcome::TimedOut) => 't',
        Some(AttemptOutcome::Budget) => '$',
        Some(AttemptOutcome::Lost) => '?',
    }
}

/// What an idle column of a lane holds.
const IDLE: char = '·';
/// The narrowest time axis drawn, whatever the width.
const MIN_AXIS: usize = 10;

/// The timeline in `width` columns. Agent runs still going end at `now`.
pub fn lanes(timeline: &Timeline, now: DateTime<Utc>, width: usize, paint: &dyn Paint) -> String {
    if timeline.run == 0 {
        return "No run yet; `baton run` starts one\n".into();
    }
    let attempts = &timeline.attempts;
    let (Some(start), Some(end)) = (
        attempts.iter().map(|record| record.started_at).min(),
        attempts.iter().map(|record| ended(record, now)).max(),
    ) else {
        return format!("Run {} has no agent runs yet\n", timeline.run);
    };
    let by_lane = by_lane(attempts);
    let label = by_lane
        .keys()
        .map(|(_, _, lane)| lane.len())
        .max()
        .unwrap_or(0);
    let axis = width.saturating_sub(label + 2).max(MIN_AXIS);
    let span = (end - start).num_milliseconds().max(1) as f64;
    let column = |at: DateTime<Utc>| (at - start).num_milliseconds() as f64 / span * axis as f64;
    let mut out = fit(&header(timeline, start, end, by_lane.len()), Some(width));
    out.push('\n');
    for ((_, _, lane), records) in &by_lane {
        let mut cells: Vec<Option<Option<AttemptOutcome>>> = vec![None; axis];
        for record in records {
            let first = (column(record.started_at).floor() as usize).min(axis - 1);
            let last = (column(ended(record, now)).ceil() as usize)
                .saturating_sub(1)
                .clamp(first, axis - 1);
            for cell in &mut cells[first..=last] {
                *cell = Some(record.outcome);
            }
        }
        out.push_str(&format!("{lane:<label$}  "));
        out.push_str(&paint_cells(&cells, paint));
        out.push('\n');
    }
    let total = duration((end - start).num_seconds());
    let ticks = format!(
        "{:<label$}  0s{:>rest$}",
        "",
        total,
        rest = axis.saturating_sub(2)
    );
    out.push_str(&paint.dim(&ticks));
    out.push('\n');
    out.push_str(&marks(attempts, width, paint));
    out
}

/// Each lane's agent runs, lanes in the order leader, workers, reviewers, summary,
/// numbered lanes by their number.
fn by_lane(attempts: &[AttemptRecord]) -> BTreeMap<(AgentKind, u64, String), Vec<&AttemptRecord>> {
    let mut lanes: BTreeMap<(AgentKind, u64, String), Vec<&AttemptRecord>> = BTreeMap::new();
    for record in attempts {
        let number = record
            .lane
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        lanes
            .entry((record.kind, number, record.lane.clone()))
            .or_default()
            .push(record);
    }
    lanes
}

fn ended(record: &AttemptRecord, now: DateTime<Utc>) -> DateTime<Utc> {
    record.ended_at.unwrap_or(now).max(record.started_at)
}

/// `run 2 of 2 · going · 3 agents · 4m 12s · $0.4120`
fn header(timeline: &Timeline, start: DateTime<Utc>, end: DateTime<Utc>, lanes: usize) -> String {
    let cost = (timeline.attempts.iter()).fold(0.0, |cost, record| cost + record.cost_usd);
    let going = if timeline.going { " · going" } else { "" };
    format!(
        "run {} of {}{going} · {} {} · {} · ${cost:.4}",
        timeline.run,
        timeline.runs,
        lanes,
        if lanes == 1 { "agent" } else { "agents" },
        duration((end - start).num_seconds()),
    )
}

/// A lane's cells, each run of equal cells painted once.
fn paint_cells(cells: &[Option<Option<AttemptOutcome>>], paint: &dyn Paint) -> String {
    let mut out = String::new();
    let mut at = 0;
    while at < cells.len() {
        let same = cells[at..]
            .iter()
            .take_while(|cell| **cell == cells[at])
            .count();
        match cells[at] {
            None => out.push_str(&paint.dim(&IDLE.to_string().repeat(same))),
            Some(outcome) => {
                out.push_str(&paint.outcome(outcome, &bar_mark(outcome).to_string().repeat(same)))
            }
        }
        at += same;
    }
    out
}

/// The legend: what each mark on the lanes means, for the outcomes these lanes show.
fn marks(attempts: &[AttemptRecord], width: usize, paint: &dyn Paint) -> String {
    const ORDER: [Option<AttemptOutcome>; 9] = [
        Some(AttemptOutcome::Done),
        None,
        Some(AttemptOutcome::Requeued),
        Some(AttemptOutcome::Failed),
        Some(AttemptOutcome::TimedOut),
        Some(AttemptOutcome::Budget),
        Some(AttemptOutcome::Stopped),
        Some(AttemptOutcome::Cancelled),
        Some(AttemptOutcome::Lost),
    ];
    let mut items: Vec<(String, String)> = ORDER
        .iter()
        .filter(|outcome| attempts.iter().any(|record| record.outcome == **outcome))
        .map(|&outcome| {
            let name = outcome.map_or("running", AttemptOutcome::as_str);
            let plain = format!("{} {}", bar_mark(outcome), name.replace('_', " "));
            let painted = paint.outcome(outcome, &plain);
            (plain, painted)
        })
        .collect();
    let idle = format!("{IDLE} idle");
    items.push((idle.clone(), paint.dim(&idle)));
    legend(&items, Some(width))
}
