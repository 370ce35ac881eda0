//! The plan as a graph: an indented tree for the terminal (each task under the tasks
//! it depends on; a task with several dependencies shown once in full and referenced
//! elsewhere), and Mermaid and Graphviz DOT documents. The critical path — the
//! longest chain of dependencies, by number of tasks — is marked in each.

use std::collections::{BTreeSet, HashMap};

use crate::model::{Task, TaskId, TaskStatus};

use super::{fit, legend, one_line, Paint};

/// The mark a task's status gets in the tree.
pub fn status_mark(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Available => "○",
        TaskStatus::Claimed => "◔",
        TaskStatus::InProgress => "◑",
        TaskStatus::Done => "✓",
        TaskStatus::Failed => "✗",
        TaskStatus::Cancelled => "⊘",
    }
}

/// The tasks of the critical path: the longest chain of dependencies by number of
/// tasks, the first in creation order among equals. Dependencies that are not on
/// the board are left out.
pub fn critical_path(tasks: &[Task]) -> BTreeSet<TaskId> {
    let index: HashMap<&TaskId, usize> = tasks
        .iter()
        .enumerate()
        .map(|(at, task)| (&task.id, at))
        .collect();
    // The longest chain ending at each task, and the dependency it comes through.
    let mut longest: Vec<Option<(usize, Option<usize>)>> = vec![None; tasks.len()];
    for start in 0..tasks.len() {
        chain_to(start, tasks, &index, &mut longest);
    }
    let mut at = (0..tasks.len())
        .max_by_key(|&at| (longest[at].map_or(0, |(length, _)| length), usize::MAX - at));
    let mut path = BTreeSet::new();
    while let Some(here) = at {
        path.insert(tasks[here].id.clone());
        at = longest[here].and_then(|(_, through)| through);
    }
    path
}

/// Fills in the longest chain ending at `at`, without recursion (plans can be long).
fn chain_to(
    at: usize,
    tasks: &[Task],
    index: &HashMap<&TaskId, usize>,
    longest: &mut [Option<(usize, Option<usize>)>],
) {
    let mut stack = vec![at];
    let mut entered = vec![false; tasks.len()];
    while let Some(&here) = stack.last() {
        if longest[here].is_some() {
            stack.pop();
            continue;
        }
        let deps: Vec<usize> = tasks[here]
            .dependencies
            .iter()
            .filter_map(|dep| index.get(dep).copied())
            .collect();
        let waiting: Vec<usize> = deps
            .iter()
            .copied()
            .filter(|&dep| longest[dep].is_none() && !entered[dep])
            .collect();
        if !entered[here] && !waiting.is_empty() {
            entered[here] = true;
            stack.extend(waiting);
            continue;
        }
        // A cycle (which the board refuses) would leave a dependency unknown: it
        // counts as no chain.
        let best = deps
            .iter()
            .filter_map(|&dep| longest[dep].map(|(length, _)| (length, dep)))
            .max_by_key(|&(length, dep)| (length, usize::MAX - dep));
        longest[here] = Some(match best {
            Some((length, dep)) => (length + 1, Some(dep)),
            None => (1, None),
        });
        stack.pop();
    }
}

/// The plan as an indented tree, one line per task, each cut to `width` when given.
/// Tasks depending on nothing on the board are the roots; a task appears in full
/// under the first of its dependencies the walk reaches, and as a reference line
/// under the others.
pub fn tree(tasks: &[Task], width: Option<usize>, paint: &dyn Paint) -> String {
    if tasks.is_empty() {
        return "No tasks yet; `baton add` adds one, `baton plan GOAL` plans a goal\n".into();
    }
    let known: BTreeSet<&TaskId> = tasks.iter().map(|task| &task.id).collect();
    let mut dependents: HashMap<&TaskId, Vec<&Task>> = HashMap::new();
    for task in tasks {
        for dep in task.dependencies.iter().filter(|dep| known.contains(dep)) {
            dependents.entry(dep).or_default().push(task);
        }
    }
    let critical = critical_path(tasks);
    let mut walk = Walk {
        dependents,
        critical: &critical,
        shown: BTreeSet::new(),
        width,
        paint,
        out: String::new(),
    };
    let roots: Vec<&Task> = tasks
        .iter()
        .filter(|task| !task.dependencies.iter().any(|dep| known.contains(dep)))
        .collect();
    for task in &roots {
        walk.subtree(task);
    }
    // Tasks caught in a cycle (a loaded file the board refused would not get here)
    // are still shown.
    for task in tasks {
        if !walk.shown.contains(&task.id) {
            walk.subtree(task);
        }
    }
    walk.out.push_str(&marks(width, paint));
    walk.out
}

/// The legend under the tree: what the marks mean.
fn marks(width: Option<usize>, paint: &dyn Paint) -> String {
    let mut items: Vec<(String, String)> = [
        TaskStatus::Available,
        TaskStatus::Claimed,
        TaskStatus::InProgress,
        TaskStatus::Done,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ]
    .into_iter()
    .map(|status| {
        let plain = format!("{} {}", status_mark(status), status.as_str());
        let painted = paint.status(status, &plain);
        (plain, painted)
    })
    .collect();
    let critical = "* critical path".to_owned();
    items.push((critical.clone(), paint.strong(&critical)));
    legend(&items, width)
}

/// How deep the tree indents, in columns; deeper levels are drawn at this indent.
const MAX_INDENT: usize = 48;

/// The depth-first walk that prints the tree.
struct Walk<'a> {
    dependents: HashMap<&'a TaskId, Vec<&'a Task>>,
    critical: &'a BTreeSet<TaskId>,
    shown: BTreeSet<TaskId>,
    width: Option<usize>,
    paint: &'a dyn Paint,
    out: String,
}

impl<'a> Walk<'a> {
    /// Prints `root` and, depth first, what depends on it, without recursion (a chain
    /// of dependencies can be as long as the plan).
    fn subtree(&mut self, root: &'a Task) {
        let mut stack = vec![(root, String::new(), None)];
        while let Some((task, indent, last)) = stack.pop() {
            let Some(below) = self.line(task, &indent, last) else {
                continue;
            };
            let children = self.dependents.get(&task.id).cloned().unwrap_or_default();
            let count = children.len();
            for (at, child) in children.into_iter().enumerate().rev() {
                stack.push((child, below.clone(), Some(at + 1 == count)));
            }
        }
    }

    /// Prints the line of `task` after `indent`; `last` says whether it is its
    /// parent's last child (none for a root). Answers the indent of its children the
    /// first time, none when it was shown already (a reference line).
    fn line(&mut self, task: &Task, indent: &str, last: Option<bool>) -> Option<String> {
        let (branch, below) = match last {
            None => ("", String::new()),
            // Past MAX_INDENT a deeper level is drawn at the same indent, so that a
            // long chain stays on the screen.
            Some(_) if indent.chars().count() >= MAX_INDENT => ("└─ ", indent.to_owned()),
            Some(false) => ("├─ ", format!("{indent}│  ")),
            Some(true) => ("└─ ", format!("{indent}   ")),
        };
        let critical = if self.critical.contains(&task.id) {
            "*"
        } else {
            " "
        };
        let marked = format!("{}{critical}{}", status_mark(task.status), task.id);
        if !self.shown.insert(task.id.clone()) {
            let line = fit(
                &format!("{indent}{branch}{marked} (shown above)"),
                self.width,
            );
            self.out.push_str(&self.paint.dim(&line));
            self.out.push('\n');
            return None;
        }
        let head = format!("{indent}{branch}");
        let line = fit(
            &format!("{head}{marked} {}", one_line(&task.description)),
            self.width,
        );
        // The fitted line begins with the head unless the width cut into it.
        let rest = line.get(head.len()..).unwrap_or_default();
        let split = marked.len().min(rest.len());
        let (shown, text) = match rest.is_char_boundary(split) {
            true => rest.split_at(split),
            false => (rest, ""),
        };
        let shown = match critical {
            "*" => self.paint.strong(shown),
            _ => shown.to_owned(),
        };
        let head = line.get(..head.len()).unwrap_or(&line);
        self.out.push_str(&format!(
            "{head}{}{text}\n",
            self.paint.status(task.status, &shown)
        ));
        Some(below)
    }
}

/// The plan as a Mermaid flowchart, left to right: a node per task (its id, status
/// and description), an edge per dependency, the critical path's edges thick.
pub fn mermaid(tasks: &[Task]) -> String {
    let critical = critical_path(tasks);
    let node: HashMap<&TaskId, String> = tasks
        .iter()
        .enumerate()
        .map(|(at, task)| (&task.id, format!("t{at}")))
        .collect();
    let mut out = String::from("flowchart LR\n");
    for task in tasks {
        let head = format!(
            "{} {} · {}",
            status_mark(task.status),
            task.id,
            task.status.as_str()
        );
        out.push_str(&format!(
            "  {}[\"{}<br/>{}\"]:::{}\n",
            node[&task.id],
            mermaid_text(&head),
            mermaid_text(&one_line(&task.description)),
            task.status.as_str()
        ));
    }
    for task in tasks {
        for dep in &task.dependencies {
            let Some(from) = node.get(dep) else { continue };
            let arrow = match critical.contains(dep) && critical.contains(&task.id) {
                true => "==>",
                false => "-->",
            };
            out.push_str(&format!("  {from} {arrow} {}\n", node[&task.id]));
        }
    }
    for (status, colour) in STATUS_COLOURS {
        out.push_str(&format!(
            "  classDef {} fill:{colour},stroke:#333,color:#000\n",
            status.as_str()
        ));
    }
    out
}

/// The plan as a Graphviz DOT digraph, left to right, coloured by status, the
/// critical path's edges thick and red.
pub fn dot(tasks: &[Task]) -> String {
    let critical = critical_path(tasks);
    let known: BTreeSet<&TaskId> = tasks.iter().map(|task| &task.id).collect();
    let mut out = String::from(
        "digraph plan {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"sans-serif\"];\n",
    );
    for task in tasks {
        let colour = STATUS_COLOURS
            .iter()
            .find(|(status, _)| *status == task.status)
            .map_or("#ffffff", |(_, colour)| colour);
        let label = format!(
            "{} · {}\n{}",
            task.id,
            task.status.as_str(),
            one_line(&task.description)
        );
        out.push_str(&format!(
            "  {} [label={}, fillcolor=\"{colour}\"];\n",
            dot_text(task.id.as_str()),
            dot_text(&label)
        ));
    }
    for task in tasks {
        for dep in task.dependencies.iter().filter(|dep| known.contains(dep)) {
            let style = match critical.contains(dep) && critical.contains(&task.id) {
                true => " [penwidth=3, color=\"#c62828\"]",
                false => "",
            };
            out.push_str(&format!(
                "  {} -> {}{style};\n",
                dot_text(dep.as_str()),
                dot_text(task.id.as_str())
            ));
        }
    }
    out.push_str("}\n");
    out
}

/// Fill colours by status, readable on light and dark backgrounds.
const STATUS_COLOURS: [(TaskStatus, &str); 6] = [
    (TaskStatus::Available, "#eeeeee"),
    (TaskStatus::Claimed, "#fff3c4"),
    (TaskStatus::InProgress, "#ffe082"),
    (TaskStatus::Done, "#a5d6a7"),
    (TaskStatus::Failed, "#ef9a9a"),
    (TaskStatus::Cancelled, "#cfd8dc"),
];

/// Text inside a Mermaid label's quotes: quotes and the characters Mermaid reads
/// as markup become entity codes.
fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            c => out.push(c),
        }
    }
    out
}

/// A DOT double-quoted string.
fn dot_text(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
