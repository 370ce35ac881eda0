//! `baton watch`: every event as it happens, and while a run goes its progress line,
//! as `baton run` shows it.

use std::io::{self};

use baton_protocol::{ClientError, ConnectConfig, Event};

use crate::progress::ProgressLine;
use crate::{printable, render};

use super::{terminal_width, write_out, Result, Session};

impl Session {
    /// Prints every event until the daemon closes the connection or the user presses
    /// Ctrl-C; both are a normal end. With `--json` the output is the events alone.
    pub(super) async fn watch(&self) -> Result<()> {
        let mut client = self
            .connect_with(ConnectConfig {
                start: true,
                events: true,
                ..ConnectConfig::default()
            })
            .await?;
        let (Some(mut events), Some(mut progress)) = (client.take_events(), client.take_progress())
        else {
            return Err(ClientError::Closed.into());
        };
        let mut line = ProgressLine::new(self.json);
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                Some(value) = progress.recv() => line.follow(&value),
                event = events.recv() => match event {
                    Some(event) => {
                        let shown = self.event_line(&event)?;
                        line.suspend(|| write_out(&shown))?;
                    }
                    None => {
                        line.clear();
                        if !self.json {
                            self.note("the daemon closed the connection");
                        }
                        return Ok(());
                    }
                },
                Ok(()) = &mut ctrl_c => {
                    line.clear();
                    return Ok(());
                }
            }
        }
    }

    /// One event as `watch` prints it: a JSON line, or a line of text.
    fn event_line(&self, event: &Event) -> Result<String> {
        if self.json {
            Ok(serde_json::to_string(event).map_err(io::Error::from)?)
        } else if !render::worth_a_line(event) {
            Ok(String::new())
        } else {
            let event = printable::object(event).map_err(io::Error::from)?;
            Ok(render::fit(
                &render::event(&event),
                terminal_width(console::Term::stdout()),
            ))
        }
    }
}
