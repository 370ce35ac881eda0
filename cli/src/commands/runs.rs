//! A run from outside it: `baton status`, `start`, `stop`, `merge`, `clean`. Starting
//! a run with a goal and following it are `crate::run`'s.

use baton_protocol::methods::{self};

use crate::render;

use super::{Result, Session};

impl Session {
    pub(super) async fn status(&self) -> Result<()> {
        let status = self.request::<methods::GetStatus>(&()).await?;
        self.show(&status, |status| render::status(status, chrono::Utc::now()))
    }

    pub(super) async fn start(&self) -> Result<()> {
        // `baton/run` rather than `baton/start`, so that agents get this shell's
        // ANTHROPIC_* and the rest.
        let status = self.request::<methods::GetStatus>(&()).await?;
        if status.run.is_none() {
            if crate::run::waiting(&status.progress.by_status) == 0 {
                return self.show(&status, |_| crate::run::NOTHING_TO_RUN.into());
            }
            let params = methods::RunParams {
                mode: baton_protocol::RunMode::Predefined,
                goal: None,
                wait: false,
                overrides: None,
                env: Some(baton_protocol::AgentEnv::from_process()),
            };
            self.request::<methods::Run>(&params).await?;
        }
        let status = self.request::<methods::GetStatus>(&()).await?;
        self.show(&status, |status| {
            format!("started  {}", render::progress(&status.progress))
        })
    }

    pub(super) async fn stop(&self) -> Result<()> {
        let before = self.request::<methods::GetStatus>(&()).await?;
        if before.run.is_none() && !before.running {
            return self.show(&before, |status| {
                format!(
                    "no run is going; nothing to stop\n{}",
                    render::progress(&status.progress)
                )
            });
        }
        let status = self.request::<methods::Stop>(&()).await?;
        self.show(&status, |status| {
            format!("stopped  {}", render::progress(&status.progress))
        })
    }

    pub(super) async fn merge(&self) -> Result<()> {
        let merged = self.request::<methods::Merge>(&()).await?;
        self.show(&merged, |merged| merged.message.clone())
    }

    pub(super) async fn clean(&self, all: bool) -> Result<()> {
        let cleaned = self
            .request::<methods::Clean>(&methods::CleanParams { all })
            .await?;
        self.show(&cleaned, |cleaned| {
            match cleaned.branches.len() + cleaned.checkouts {
                0 => "nothing to clean".into(),
                _ => format!(
                    "removed {} branch(es) of finished tasks and {} idle checkout(s)",
                    cleaned.branches.len(),
                    cleaned.checkouts
                ),
            }
        })
    }
}
