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
