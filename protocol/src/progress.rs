//! How far the plan has got: its tasks counted by status, and the held ones by
//! the stage they are at, as status and the run's progress line give them.

use serde::{Deserialize, Serialize};

use crate::model::TaskStatus;
use crate::stages::HeldByStage;

/// Task counts, one per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByStatus {
    pub available: usize,
    pub claimed: usize,
    pub in_progress: usize,
    pub done: usize,
    pub failed: usize,
    pub cancelled: usize,
}

impl ByStatus {
    pub fn get(&self, status: TaskStatus) -> usize {
        match status {
            TaskStatus::Available => self.available,
            TaskStatus::Claimed => self.claimed,
            TaskStatus::InProgress => self.in_progress,
            TaskStatus::Done => self.done,
            TaskStatus::Failed => self.failed,
            TaskStatus::Cancelled => self.cancelled,
        }
    }

    pub fn get_mut(&mut self, status: TaskStatus) -> &mut usize {
        match status {
            TaskStatus::Available => &mut self.available,
            TaskStatus::Claimed => &mut self.claimed,
            TaskStatus::InProgress => &mut self.in_progress,
            TaskStatus::Done => &mut self.done,
            TaskStatus::Failed => &mut self.failed,
            TaskStatus::Cancelled => &mut self.cancelled,
        }
    }

    pub fn total(&self) -> usize {
        TaskStatus::ALL.iter().map(|s| self.get(*s)).sum()
    }
}

/// How far the plan has got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub total_tasks: usize,
    /// Finished tasks (done, failed or cancelled) out of all, rounded down.
    pub percent_complete: u32,
    pub by_status: ByStatus,
    /// The held tasks (claimed or in progress) by the stage they are at.
    #[serde(default)]
    pub by_stage: HeldByStage,
}

impl Progress {
    /// The progress these counts make: the total and the finished share follow.
    pub fn of(by_status: ByStatus, by_stage: HeldByStage) -> Progress {
        let total_tasks = by_status.total();
        let finished = by_status.done + by_status.failed + by_status.cancelled;
        Progress {
            total_tasks,
            percent_complete: (finished * 100).checked_div(total_tasks).unwrap_or(0) as u32,
            by_status,
            by_stage,
        }
    }
}
