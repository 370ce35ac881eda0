//! Text views of a plan and a run, pure functions from the wire types to text: the
//! plan's graph (a tree, Mermaid, DOT), the run's timeline (a lane per agent), the
//! run's markdown report, which holds both, and the run's progress line. The CLI
//! prints them and the daemon writes the report and the progress from the same code. Colour is the caller's: each view asks a [`Paint`]
//! to colour the pieces whose meaning a colour carries, and [`Plain`] leaves them.

pub mod graph;
pub mod lanes;
pub mod progress;
pub mod report;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::model::TaskStatus;
use crate::timeline::AttemptOutcome;

/// `n` things, in the singular for one: "1 task", "2 tasks".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// How a view colours its pieces; every method leaves the text as it is unless the
/// caller says otherwise.
pub trait Paint {
    /// Text standing for a task of this status.
    fn status(&self, _status: TaskStatus, text: &str) -> String {
        text.to_owned()
    }

    /// Text standing for an agent run that ended so (`None`: it still runs).
    fn outcome(&self, _outcome: Option<AttemptOutcome>, text: &str) -> String {
        text.to_owned()
    }

    /// Text of less weight: references, idle time, axes.
    fn dim(&self, text: &str) -> String {
        text.to_owned()
    }

    /// Text of more weight: the critical path.
    fn strong(&self, text: &str) -> String {
        text.to_owned()
    }
}

/// No colour: for files and for terminals that asked for none.
pub struct Plain;

impl Paint for Plain {}

/// `line` cut to `width` terminal columns, with an ellipsis when anything was left
/// out; whole when no width is given.
pub fn fit(line: &str, width: Option<usize>) -> String {
    let Some(width) = width else {
        return line.to_owned();
    };
    if line.width() <= width {
        return line.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in line.chars() {
        let wide = c.width().unwrap_or(0);
        if used + wide + 1 > width {
            break;
        }
        used += wide;
        out.push(c);
    }
    out.push('…');
    out
}

/// A legend: `items` (each as plain text, to measure, and as painted, to print) two
/// spaces apart, as many on a line as `width` holds.
pub fn legend(items: &[(String, String)], width: Option<usize>) -> String {
    let mut out = String::new();
    let mut used = 0;
    for (plain, painted) in items {
        let wide = plain.width();
        if used > 0 && width.is_some_and(|width| used + 2 + wide > width) {
            out.push('\n');
            used = 0;
        }
        if used > 0 {
            out.push_str("  ");
            used += 2;
        }
        out.push_str(painted);
        used += wide;
    }
    out.push('\n');
    out
}

/// The most characters of a text a one-line view shows. A description, goal or reason
/// may be a megabyte on one line, which no terminal line, table cell or graph node
/// can show (Mermaid refuses a diagram past 50,000 characters).
pub const LINE_CHARS: usize = 500;

/// The first line of `text`, at most [`LINE_CHARS`] characters, with a mark when
/// anything was left out.
pub fn one_line(text: &str) -> String {
    let mut lines = text.trim().lines();
    let first = lines.next().unwrap_or_default().trim_end();
    if let Some((end, _)) = first.char_indices().nth(LINE_CHARS) {
        return format!("{}…", &first[..end]);
    }
    match lines.next() {
        Some(_) => format!("{first} …"),
        None => first.to_owned(),
    }
}

/// A duration in the largest two units that say it: `45s`, `4m 12s`, `1h 02m`.
pub fn duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests;
