//! `baton timeline` and the lines `baton watch` gives agent runs.

use baton_protocol::AttemptRecord;
use console::style;

/// One line for an agent run starting or ending, for `baton watch`.
pub fn event_line(record: &AttemptRecord) -> String {
    let on = record
        .task
        .as_ref()
        .map(|task| format!(" on {task}"))
        .unwrap_or_default();
    match record.outcome {
        None => format!("{} {}{on}", style("agent started").cyan(), record.lane),
        Some(outcome) => {
            let mut line = format!(
                "{} {}{on}: {} (${:.4})",
                style("agent ended").cyan(),
                record.lane,
                outcome.as_str(),
                record.cost_usd
            );
            if let Some(reason) = &record.reason {
                line.push_str(&format!(": {}", reason.lines().next().unwrap_or_default()));
            }
            line
        }
    }
}
