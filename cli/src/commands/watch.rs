//! `baton watch`: every event as it happens.

use std::io::{self};

use baton_protocol::{ClientError, ConnectConfig, Event};

use crate::{printable, render};

use super::{terminal_width, write_out, Result, Session};

impl Session {
    /// Prints every event until the daemon closes the connection or the user presses
    /// Ctrl-C; both are a normal end.
    pub(super) async fn watch(&self) -> Result<()> {
        let mut client = self
            .connect_with(ConnectConfig {
                start: true,
                events: true,
                ..ConnectConfig::default()
            })
            .await?;
        let Some(events) = client.events() else {
            return Err(ClientError::Closed.into());
        };
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => write_out(&self.event_line(&event)?)?,
                    None => {
                        if !self.json {
                            self.note("the daemon closed the connection");
                        }
                        return Ok(());
                    }
                },
                Ok(()) = &mut ctrl_c => return Ok(()),
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
