//! Setting the workspace up: `baton init`, `baton config`.

use std::fs;
use std::io::{self};

use baton_protocol::methods::{self, ConfigPatch, InitParams};
use baton_protocol::Config;
use serde_json::Value;

use crate::args::InitArgs;
use crate::{printable, render, settings};

use super::{CommandError, Result, Session};

impl Session {
    pub(super) async fn init(&self, args: InitArgs) -> Result<()> {
        let master_plan = match (args.plan, args.plan_file) {
            (Some(plan), _) => plan,
            (None, Some(file)) => fs::read_to_string(&file).map_err(|err| {
                CommandError::Input(format!("cannot read the plan {}: {err}", file.display()))
            })?,
            (None, None) => String::new(),
        };
        let goal = args.goal;
        let params = InitParams {
            goal: goal.clone(),
            master_plan,
            config: ConfigPatch {
                max_workers: args.max_workers,
                model: args.model,
                task_timeout: args.task_timeout,
                verify_command: args.verify.map(Some),
                ..ConfigPatch::default()
            },
            keep: args.keep,
        };
        let before = self.request::<methods::GetStatus>(&()).await?;
        let counts = &before.progress.by_status;
        let finished = counts.done + counts.failed + counts.cancelled;
        let status = self.request::<methods::Init>(&params).await?;
        if !args.keep && finished > 0 && before.goal != goal {
            self.note(&format!(
                "the earlier board ({}) was archived: `baton history` lists it, \
                 `baton load` brings it back (`--keep` keeps a board under a new goal)",
                render::count(before.progress.total_tasks, "task", "tasks")
            ));
        }
        // The goal this command set: another client's may be set since.
        self.show(&status, |_| format!("goal set: {}", printable::text(&goal)))
    }

    pub(super) async fn config(
        &self,
        key: Option<String>,
        values: Vec<String>,
        show_default: bool,
    ) -> Result<()> {
        let Some(key) = key else {
            let config = self.request::<methods::GetConfig>(&()).await?;
            return self.show(&config, render::config);
        };
        if show_default {
            let text = settings::default_prompt(&key).map_err(input)?.to_owned();
            return self.show(&text, String::clone);
        }
        if values.is_empty() {
            settings::known(&key).map_err(input)?;
            let config = self.request::<methods::GetConfig>(&()).await?;
            let value = setting(&config, &key)?;
            return self.show(&value, |value| render::config_value(&key, value));
        }
        let patch = settings::patch(&key, &values).map_err(input)?;
        let config = self.request::<methods::Configure>(&patch).await?;
        setting(&config, &key)?;
        // Shown from the copy made printable, as every view is.
        self.show(&config, |shown| {
            let value = setting(shown, &key).unwrap_or_default();
            format!("{key} = {}", render::config_value(&key, &value))
        })?;
        let lowered = config.run_budget_usd.filter(|_| key == "run_budget_usd");
        if let (Some(budget), false) = (lowered, self.json) {
            let status = self.request::<methods::GetStatus>(&()).await?;
            let spent = status.run.map_or(0.0, |run| run.cost_usd);
            if spent >= budget {
                self.note(&format!(
                    "the run going has spent ${spent:.4} already: its agents stop at their next model turn"
                ));
            }
        }
        Ok(())
    }
}

/// Every setting's name, as the protocol spells it.
/// A setting the command line could not read: nothing was sent.
fn input(err: settings::SettingError) -> CommandError {
    match err {
        settings::SettingError::Unknown(_) => CommandError::Usage(err.to_string()),
        settings::SettingError::Value(_) => CommandError::Input(err.to_string()),
    }
}

/// One setting's value in a configuration.
fn setting(config: &Config, key: &str) -> Result<Value> {
    let settings = serde_json::to_value(config).map_err(io::Error::from)?;
    settings
        .get(key)
        .cloned()
        .ok_or_else(|| CommandError::Input(format!("unknown setting `{key}`")))
}
