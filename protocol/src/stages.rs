//! What a run did at each stage of its tasks' way to the integration branch: how
//! often tasks entered it and what agents spent in it, for the run's result.

use serde::{Deserialize, Serialize};

use crate::model::TaskStage;

/// One stage's share of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StageTally {
    /// How many times a task entered the stage (a task sent back enters it again).
    pub entered: usize,
    /// What agents spent while their task was at this stage, in US dollars.
    pub cost_usd: f64,
}

/// A run's tallies by stage: `work` (the agent on its task), `verify` (bringing the
/// integration branch in, the verification command, the landing: no model, so no
/// cost), `resolve` (the agent resolving a conflict), `review` (the reviewer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ByStage {
    pub work: StageTally,
    pub verify: StageTally,
    pub resolve: StageTally,
    pub review: StageTally,
}

impl ByStage {
    pub fn get(&self, stage: TaskStage) -> &StageTally {
        match stage {
            TaskStage::Working => &self.work,
            TaskStage::Verifying => &self.verify,
            TaskStage::Resolving => &self.resolve,
            TaskStage::Reviewing => &self.review,
        }
    }

    pub fn get_mut(&mut self, stage: TaskStage) -> &mut StageTally {
        match stage {
            TaskStage::Working => &mut self.work,
            TaskStage::Verifying => &mut self.verify,
            TaskStage::Resolving => &mut self.resolve,
            TaskStage::Reviewing => &mut self.review,
        }
    }
}

/// The held tasks (claimed or in progress) counted by the stage they are at, for
/// status and the run's progress line. A held task with no stage yet is about to
/// work, so it counts as working.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeldByStage {
    pub working: usize,
    pub verifying: usize,
    pub resolving: usize,
    pub reviewing: usize,
}

impl HeldByStage {
    pub fn get(&self, stage: TaskStage) -> usize {
        match stage {
            TaskStage::Working => self.working,
            TaskStage::Verifying => self.verifying,
            TaskStage::Resolving => self.resolving,
            TaskStage::Reviewing => self.reviewing,
        }
    }

    pub fn get_mut(&mut self, stage: TaskStage) -> &mut usize {
        match stage {
            TaskStage::Working => &mut self.working,
            TaskStage::Verifying => &mut self.verifying,
            TaskStage::Resolving => &mut self.resolving,
            TaskStage::Reviewing => &mut self.reviewing,
        }
    }
}

impl FromIterator<Option<TaskStage>> for HeldByStage {
    /// Counts held tasks from each one's stage.
    fn from_iter<I: IntoIterator<Item = Option<TaskStage>>>(stages: I) -> HeldByStage {
        let mut counts = HeldByStage::default();
        for stage in stages {
            *counts.get_mut(stage.unwrap_or(TaskStage::Working)) += 1;
        }
        counts
    }
}
