//! The run's report: when a run ends, its markdown report (goal, plan, timeline,
//! costs, failures; rendered by `baton_protocol::views::report`, as `baton report`
//! shows it) is written to `.baton/logs/reports/run-N.md`, private like all of
//! `.baton`, and its path goes into the run's result.

use std::io::Write;
use std::path::Path;

use baton_protocol::views::report::{markdown, RunReport};
use chrono::Utc;

use super::agent::Context;
use crate::core::Finished;

/// Writes the report of the run about to end with `summary`; answers its path, or
/// none when it could not be written (the run ends all the same; the log says why).
pub(super) fn write(context: &Context, finished: &Finished, summary: &str) -> Option<String> {
    let (result, tasks, timeline) = context.orchestrator.read(|board| {
        (
            board.closing_result(finished, summary),
            board.tasks(None),
            board.timeline(None),
        )
    });
    let (Some(result), Ok(mut timeline)) = (result, timeline) else {
        return None;
    };
    // Written as the run ends, for reading after it.
    timeline.going = false;
    let report = RunReport {
        result: &result,
        tasks: &tasks,
        finished: &finished.tasks,
        timeline: &timeline,
        now: Utc::now(),
    };
    let path = context.workspace.run_report(result.run);
    // Read with `cat` as often as in an editor: what agents wrote in it steers no
    // terminal.
    let text = baton_protocol::printable::text(&markdown(&report)).into_owned();
    match write_private(&path, &text) {
        Ok(()) => Some(path.display().to_string()),
        Err(err) => {
            tracing::warn!("cannot write the run's report {}: {err}", path.display());
            None
        }
    }
}

/// Writes `text` to `path` whole or not at all, the file 0600 in 0700 directories.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let directory = path.parent().unwrap_or(Path::new("."));
    baton_protocol::private::create_dir(directory)?;
    // A temporary file is created 0600.
    let mut file = tempfile::NamedTempFile::new_in(directory)?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|err| err.error)?;
    Ok(())
}
