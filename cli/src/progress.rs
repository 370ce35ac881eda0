//! A run's progress as the daemon sends it (`$/progress`), shown the one way by
//! `baton run` and `baton watch`: a bar under their output on a terminal, a line
//! each time it changes otherwise, nothing with `--json` (whose output stays the
//! daemon's own). The daemon writes the line (`views::progress::line`), so every
//! client says the same thing.

use std::time::Duration;

use baton_protocol::methods::{WorkDoneKind, WorkDoneProgress};
use indicatif::{ProgressBar, ProgressStyle};

use crate::printable;

/// Where a run's progress is shown.
pub struct ProgressLine {
    shown: Shown,
    /// The bar of the run going, on a terminal.
    bar: Option<ProgressBar>,
}

enum Shown {
    Bar,
    Lines,
    Nothing,
}

impl ProgressLine {
    /// A bar when stderr is a terminal, lines when it is not, nothing for `--json`.
    pub fn new(json: bool) -> ProgressLine {
        let shown = if json {
            Shown::Nothing
        } else if console::Term::stderr().is_term() {
            Shown::Bar
        } else {
            Shown::Lines
        };
        ProgressLine { shown, bar: None }
    }

    /// Shows one `$/progress` value: a run's beginning and each change show its
    /// line; its end takes the bar away (the run's last event says how it ended).
    pub fn follow(&mut self, progress: &WorkDoneProgress) {
        let message = printable::text(progress.message.as_deref().unwrap_or_default());
        match (&self.shown, progress.kind) {
            (Shown::Nothing, _) => {}
            (Shown::Lines, WorkDoneKind::End) => {}
            (Shown::Lines, WorkDoneKind::Begin | WorkDoneKind::Report) => {
                eprintln!("{}", line(&message));
            }
            (Shown::Bar, WorkDoneKind::End) => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
            (Shown::Bar, WorkDoneKind::Begin | WorkDoneKind::Report) => {
                let bar = self.bar.get_or_insert_with(new_bar);
                bar.set_position(progress.percentage.unwrap_or(0).into());
                bar.set_message(message.into_owned());
            }
        }
    }

    /// Prints with the bar out of the way, so that the two do not mix.
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// Takes the bar away for good.
    pub fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// The run's progress as a line of its own, where no bar can be drawn.
pub fn line(message: &str) -> String {
    format!("progress: {message}")
}

fn new_bar() -> ProgressBar {
    let bar = ProgressBar::new(100);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {bar:30} {msg}")
            .expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
