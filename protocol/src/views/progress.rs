//! A run's progress in a line. The daemon sends it as the message of `$/progress`,
//! and `baton run`, `baton watch` and the editor show it as it comes, so that all
//! of them say the same thing.

use super::count;
use crate::model::{OutsideClaim, TaskStage};
use crate::progress::Progress;

/// `2/5 done, 2 working, 1 verifying, 1 failed, 3 agents`: the done tasks out of
/// all, the held ones by stage (working always, another stage only when a task is
/// at it), the failed and cancelled ones when any, and how many agents run.
pub fn line(progress: &Progress, agents: usize) -> String {
    let counts = &progress.by_status;
    let mut parts = vec![format!("{}/{} done", counts.done, progress.total_tasks)];
    parts.extend(TaskStage::ALL.into_iter().filter_map(|stage| {
        let held = progress.by_stage.get(stage);
        (stage == TaskStage::Working || held > 0).then(|| format!("{held} {stage}"))
    }));
    if counts.failed > 0 {
        parts.push(format!("{} failed", counts.failed));
    }
    if counts.cancelled > 0 {
        parts.push(format!("{} cancelled", counts.cancelled));
    }
    parts.push(count(agents, "agent", "agents"));
    parts.join(", ")
}

/// What a run with nothing of its own to do waits for (`RunStatus::waiting_for`),
/// and what ends the wait: `waiting for task-001, claimed by me outside this run:
/// back in the queue at 05:52 unless finished first`. None when it waits for none.
pub fn waiting(claims: &[OutsideClaim]) -> Option<String> {
    let first_return = claims.iter().filter_map(|claim| claim.returns_at).min();
    let back = match first_return {
        Some(at) => format!(
            "back in the queue at {} unless finished first",
            at.with_timezone(&chrono::Local).format("%H:%M")
        ),
        None => "held until finished".to_owned(),
    };
    match claims {
        [] => None,
        [claim] => Some(format!(
            "waiting for {}, claimed by {} outside this run: {back}",
            claim.task_id, claim.agent_id
        )),
        claims => {
            let held: Vec<String> = claims
                .iter()
                .map(|claim| format!("{} ({})", claim.task_id, claim.agent_id))
                .collect();
            Some(format!(
                "waiting for {}, claimed outside this run: the first {back}",
                held.join(", ")
            ))
        }
    }
}
