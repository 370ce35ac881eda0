//! Random histories of operations against a board: after every step the board keeps
//! its promises, refused operations change nothing, and a drain always ends.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use baton_protocol::methods::{ConfigPatch, EditTaskParams, NewTask};
use baton_protocol::{BatonError, ByStatus, Event, Task, TaskId, TaskResult, TaskStatus, Usage};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::at;
use crate::core::{Attempt, Board, Changes, Events, Meta};

/// How long a claim lasts in these histories, so that some of them expire.
const TIMEOUT: u64 = 60;

/// The files tasks name as context: a supervised claim passes over busy ones.
const FILES: [&str; 3] = ["src/a.rs", "src/b.rs", "src/c.rs"];

/// A dependency of a task in a batch, resolved against the board when applied.
#[derive(Debug, Clone)]
enum Dependency {
    /// A task already on the board (by index, wrapping); none when there is none.
    Existing(usize),
    /// An earlier item of the same batch; none for the first item.
    Earlier(usize),
    /// Any item of the same batch: earlier, later, or the item itself.
    InBatch(usize),
    /// An id that names nothing.
    Unknown,
}

#[derive(Debug, Clone)]
struct Item {
    empty_description: bool,
    priority: u8,
    dependencies: Vec<Dependency>,
    /// Indexes into `FILES`.
    files: Vec<usize>,
}

/// Which task an operation names: one held by an agent when `any` is false and some
/// task is held, otherwise any task (or an unknown id on an empty board).
#[derive(Debug, Clone, Copy)]
struct Target {
    any: bool,
    index: usize,
}

#[derive(Debug, Clone)]
enum Op {
    Add(Vec<Item>),
    Claim(usize),
    /// A claim for an agent the daemon runs, with the files busy as a bit set.
    ClaimSupervised(usize, u8),
    Release(Target),
    /// An attempt that cost this many cents.
    RecordAttempt(Target, u16),
    Start(Target),
    Complete(Target),
    Fail(Target),
    Cancel(Target),
    Retry(Target),
    /// A new priority (maybe out of range) and, maybe, new dependencies.
    Edit(Target, u8, Option<Vec<Dependency>>),
    Delete(Target),
    /// Time passes by this many seconds, then claims expire.
    Expire(i64),
}

/// An operation with its choices made: what is applied to the board.
#[derive(Debug, Clone)]
enum Step {
    Add(Vec<NewTask>),
    Claim(&'static str),
    ClaimSupervised(&'static str, BTreeSet<String>),
    Release(TaskId),
    RecordAttempt(TaskId, u16),
    Start(TaskId),
    Complete(TaskId),
    Fail(TaskId),
    Cancel(TaskId),
    Retry(TaskId),
    Edit(EditTaskParams),
    Delete(TaskId),
    Expire(i64),
}

const AGENTS: [&str; 4] = ["agent-a", "agent-b", "agent-c", ""];

fn dependency() -> impl Strategy<Value = Dependency> {
    prop_oneof![
        12 => any::<usize>().prop_map(Dependency::Existing),
        6 => any::<usize>().prop_map(Dependency::Earlier),
        1 => any::<usize>().prop_map(Dependency::InBatch),
        1 => Just(Dependency::Unknown),
    ]
}

fn item() -> impl Strategy<Value = Item> {
    let priority = prop_oneof![40 => 1u8..=10, 1 => Just(0u8), 1 => Just(11u8)];
    (
        prop::bool::weighted(0.02),
        priority,
        prop::collection::vec(dependency(), 0..4),
        prop::collection::vec(0..FILES.len(), 0..2),
    )
        .prop_map(|(empty_description, priority, dependencies, files)| Item {
            empty_description,
            priority,
            dependencies,
            files,
        })
}

fn target() -> impl Strategy<Value = Target> {
    (prop::bool::weighted(0.4), any::<usize>()).prop_map(|(any, index)| Target { any, index })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(item(), 1..5).prop_map(Op::Add),
        4 => prop_oneof![12 => 0..3usize, 1 => Just(3usize)].prop_map(Op::Claim),
        2 => (0..3usize, 0u8..8).prop_map(|(agent, busy)| Op::ClaimSupervised(agent, busy)),
        1 => target().prop_map(Op::Release),
        1 => (target(), 0u16..500).prop_map(|(target, cents)| Op::RecordAttempt(target, cents)),
        1 => target().prop_map(Op::Start),
        4 => target().prop_map(Op::Complete),
        2 => target().prop_map(Op::Fail),
        1 => target().prop_map(Op::Cancel),
        3 => target().prop_map(Op::Retry),
        2 => (
            target(),
            prop_oneof![20 => 1u8..=10, 1 => Just(0u8)],
            prop::option::of(prop::collection::vec(dependency(), 0..3)),
        )
            .prop_map(|(target, priority, dependencies)| Op::Edit(target, priority, dependencies)),
        1 => target().prop_map(Op::Delete),
        2 => (0i64..=90).prop_map(Op::Expire),
    ]
}

/// A task handed out: to whom, when, and whether to an agent the daemon runs.
type Hold = (String, i64, bool);

/// A board under test, with what the test knows independently of it: which tasks
/// were handed out and not yet finished, released or expired, and the clock.
struct History {
    board: Board,
    handed_out: BTreeMap<TaskId, Hold>,
    clock: i64,
    /// How many tasks were ever added: no loads here, so new ids go on from it.
    added: u64,
}

impl History {
    fn new() -> History {
        let mut board = Board::default();
        let patch = ConfigPatch {
            task_timeout: Some(TIMEOUT),
            ..ConfigPatch::default()
        };
        board.configure(&patch, at(0)).unwrap();
        board.take_changes();
        History {
            board,
            handed_out: BTreeMap::new(),
            clock: 0,
            added: 0,
        }
    }

    fn target(&self, target: Target) -> TaskId {
        if !target.any && !self.handed_out.is_empty() {
            let held: Vec<&TaskId> = self.handed_out.keys().collect();
            return held[target.index % held.len()].clone();
        }
        let tasks = self.board.tasks(None);
        if tasks.is_empty() {
            return TaskId::from("task-999");
        }
        tasks[target.index % tasks.len()].id.clone()
    }

    fn batch(&self, items: &[Item]) -> Vec<NewTask> {
        let tasks = self.board.tasks(None);
        let first = self.added + 1;
        items
            .iter()
            .enumerate()
            .map(|(position, item)| NewTask {
                priority: item.priority,
                dependencies: item
                    .dependencies
                    .iter()
                    .filter_map(|dependency| match dependency {
                        Dependency::Existing(_) if tasks.is_empty() => None,
                        Dependency::Existing(i) => Some(tasks[i % tasks.len()].id.clone()),
                        Dependency::Earlier(_) if position == 0 => None,
                        Dependency::Earlier(i) => {
                            Some(TaskId::numbered(first + (i % position) as u64))
                        }
                        Dependency::InBatch(i) => Some(TaskId::numbered(
                            first + ((position + i) % items.len()) as u64,
                        )),
                        Dependency::Unknown => Some(TaskId::from("task-999")),
                    })
                    .collect(),
                context_files: item.files.iter().map(|&f| FILES[f].to_owned()).collect(),
                ..NewTask::new(if item.empty_description {
                    String::new()
                } else {
                    format!("step {position}")
                })
            })
            .collect()
    }

    /// The operation with its random choices made against the board as it is.
    fn resolve(&self, op: &Op) -> Step {
        match op {
            Op::Add(items) => Step::Add(self.batch(items)),
            Op::Claim(agent) => Step::Claim(AGENTS[*agent]),
            Op::ClaimSupervised(agent, busy) => Step::ClaimSupervised(
                AGENTS[*agent],
                (0..FILES.len())
                    .filter(|f| busy & (1 << f) != 0)
                    .map(|f| FILES[f].to_owned())
                    .collect(),
            ),
            Op::Release(target) => Step::Release(self.target(*target)),
            Op::RecordAttempt(target, cents) => Step::RecordAttempt(self.target(*target), *cents),
            Op::Start(target) => Step::Start(self.target(*target)),
            Op::Complete(target) => Step::Complete(self.target(*target)),
            Op::Fail(target) => Step::Fail(self.target(*target)),
            Op::Cancel(target) => Step::Cancel(self.target(*target)),
            Op::Retry(target) => Step::Retry(self.target(*target)),
            Op::Edit(target, priority, dependencies) => {
                let mut edit = EditTaskParams::new(self.target(*target));
                edit.priority = Some(*priority);
                // Resolved as the only item of a batch: other tasks, itself or nothing.
                edit.dependencies = dependencies.as_ref().map(|dependencies| {
                    let mut resolved = self.batch(&[Item {
                        empty_description: false,
                        priority: 5,
                        dependencies: dependencies.clone(),
                        files: Vec::new(),
                    }]);
                    let own = TaskId::numbered(self.added + 1);
                    let mut dependencies = resolved.remove(0).dependencies;
                    for dependency in &mut dependencies {
                        if *dependency == own {
                            *dependency = edit.task_id.clone();
                        }
                    }
                    dependencies
                });
                Step::Edit(edit)
            }
            Op::Delete(target) => Step::Delete(self.target(*target)),
            Op::Expire(seconds) => Step::Expire(*seconds),
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        self.perform(self.resolve(op)).map(drop)
    }

    /// Performs one step and checks everything that must hold after it. Answers the
    /// task a claim handed out.
    fn perform(&mut self, step: Step) -> Result<Option<TaskId>, TestCaseError> {
        self.clock += 1;
        if let Step::Expire(seconds) = step {
            self.clock += seconds;
        }
        let now = at(self.clock);
        let mut before = self.board.clone();
        let mut claimed = None;
        let outcome: Result<Events, BatonError> = match &step {
            Step::Add(batch) => self
                .board
                .add_tasks(batch.clone(), now)
                .map(|(_, events)| events),
            Step::Claim(agent) | Step::ClaimSupervised(agent, _) => {
                let (supervised, busy) = match &step {
                    Step::ClaimSupervised(_, busy) => (true, busy.clone()),
                    _ => (false, BTreeSet::new()),
                };
                // The most urgent ready task that names no busy file.
                let ready: Vec<TaskId> = before.ready().cloned().collect();
                let most_urgent = ready.into_iter().find(|id| {
                    let files = &before.task(id).unwrap().context.files;
                    !files.iter().any(|file| busy.contains(file))
                });
                let outcome = if supervised {
                    self.board.claim_supervised(agent, &busy, now)
                } else {
                    self.board.claim(agent, now)
                };
                match outcome {
                    Ok((Some(task), events)) => {
                        self.claimed(&task, agent, supervised, most_urgent.as_ref())?;
                        claimed = Some(task.id);
                        Ok(events)
                    }
                    Ok((None, events)) => {
                        prop_assert_eq!(most_urgent, None, "claim answered none with a task ready");
                        prop_assert!(events.is_empty());
                        Ok(events)
                    }
                    Err(err) => Err(err),
                }
            }
            Step::Release(id) => self
                .board
                .release(id, "the agent was lost", now)
                .map(|(_, events)| events),
            Step::RecordAttempt(id, cents) => {
                let attempt = Attempt {
                    usage: Usage {
                        cost_usd: f64::from(*cents) / 100.0,
                        turns: 1,
                        ..Usage::default()
                    },
                    session_id: Some(format!("session-{}", self.clock)),
                    permission_denials: Vec::new(),
                };
                self.board
                    .record_attempt(id, attempt, now)
                    .map(|(_, events)| events)
            }
            Step::Start(id) => self.board.start_task(id, now).map(|(_, events)| events),
            Step::Complete(id) => self
                .board
                .complete(id, TaskResult::default(), now)
                .map(|(_, events)| events),
            Step::Fail(id) => self
                .board
                .fail(id, "gave up", now)
                .map(|(_, events)| events),
            Step::Cancel(id) => self.board.cancel(id, now).map(|(_, events)| events),
            Step::Retry(id) => self.board.retry(id, now).map(|(_, events)| events),
            Step::Edit(edit) => self.board.edit(edit.clone(), now).map(|(_, events)| events),
            Step::Delete(id) => self.board.delete(id, now).map(|(_, events)| events),
            Step::Expire(_) => Ok(self.board.expire_claims(now)),
        };
        let changes = self.board.take_changes();
        match outcome {
            Err(err) => {
                let what = format!("{step:?}, refused with `{err}`,");
                prop_assert!(changes.is_empty(), "{} recorded {:?}", what, changes);
                unchanged(&before, &self.board, &what)?
            }
            Ok(events) => {
                events_carry_every_change(&before, &self.board, &events)?;
                changes_name_every_change(&before, &self.board, &changes)?;
                match &step {
                    Step::Add(batch) => self.added += batch.len() as u64,
                    Step::Complete(id) | Step::Fail(id) | Step::Cancel(id) | Step::Release(id) => {
                        self.handed_out.remove(id);
                    }
                    Step::Expire(_) => {
                        // Only outside agents' claims expire.
                        let clock = self.clock;
                        self.handed_out.retain(|_, (_, since, supervised)| {
                            *supervised || clock - *since <= TIMEOUT as i64
                        });
                    }
                    _ => {}
                }
            }
        }
        self.check()?;
        Ok(claimed)
    }

    /// What the test learns from a claim that handed out `task`.
    fn claimed(
        &mut self,
        task: &Task,
        agent: &str,
        supervised: bool,
        most_urgent: Option<&TaskId>,
    ) -> Result<(), TestCaseError> {
        prop_assert!(
            !self.handed_out.contains_key(&task.id),
            "claim handed out {}, which {:?} holds",
            task.id,
            self.handed_out.get(&task.id)
        );
        prop_assert_eq!(
            Some(&task.id),
            most_urgent,
            "claim skipped the most urgent task"
        );
        prop_assert_eq!(task.claimed_by.as_deref(), Some(agent));
        prop_assert_eq!(task.supervised, supervised);
        self.handed_out
            .insert(task.id.clone(), (agent.to_owned(), self.clock, supervised));
        Ok(())
    }

    /// Everything that must hold of the board at any time.
    fn check(&self) -> Result<(), TestCaseError> {
        check_board(&self.board)?;
        let held: BTreeMap<TaskId, Hold> = self
            .board
            .tasks(None)
            .into_iter()
            .filter(|task| task.status.is_held())
            .map(|task| {
                let since = task
                    .claimed_at
                    .map_or(-1, |since| (since - at(0)).num_seconds());
                let agent = task.claimed_by.unwrap_or_default();
                (task.id, (agent, since, task.supervised))
            })
            .collect();
        prop_assert_eq!(
            &held,
            &self.handed_out,
            "the held tasks are not those handed out and not finished, released or expired"
        );
        let supervised: Vec<TaskId> = held
            .into_iter()
            .filter(|(_, hold)| hold.2)
            .map(|(id, _)| id)
            .collect();
        prop_assert_eq!(self.board.supervised(), supervised);
        Ok(())
    }

    /// Finishes everything held, then claims and finishes ready tasks until none is
    /// ready, failing some (`failures` says which, in turn). Every task must end
    /// finished, within one round per task.
    fn drain(&mut self, failures: &[bool]) -> Result<(), TestCaseError> {
        let mut fails = failures.iter().copied().cycle();
        let mut finish = |history: &mut History, id: TaskId| {
            let step = if fails.next() == Some(true) {
                Step::Fail(id.clone())
            } else {
                Step::Complete(id.clone())
            };
            history.perform(step)?;
            let status = history.board.task(&id).unwrap().status;
            prop_assert!(status.is_finished(), "{} is {} after finishing", id, status);
            Ok::<_, TestCaseError>(())
        };
        for id in self.handed_out.keys().cloned().collect::<Vec<_>>() {
            finish(self, id)?;
        }
        let bound = self.board.tasks(None).len() + 1;
        for round in 0.. {
            prop_assert!(round <= bound, "the drain took more than {} rounds", bound);
            let mut claimed = Vec::new();
            while let Some(id) = self.perform(Step::Claim(AGENTS[round % 3]))? {
                claimed.push(id);
                prop_assert!(claimed.len() <= bound, "claim kept handing out tasks");
            }
            if claimed.is_empty() {
                break;
            }
            for id in claimed {
                finish(self, id)?;
            }
        }
        let unfinished: Vec<String> = self
            .board
            .tasks(None)
            .into_iter()
            .filter(|task| !task.status.is_finished())
            .map(|task| format!("{} ({})", task.id, task.status))
            .collect();
        prop_assert!(unfinished.is_empty(), "the drain left {:?}", unfinished);
        Ok(())
    }
}

/// The change record names every stored record the operation changed, which is what
/// the store writes: every task created or changed, the discoveries appended, the
/// settings when they changed; or everything, when tasks were renumbered or replaced.
fn changes_name_every_change(
    before: &Board,
    after: &Board,
    changes: &Changes,
) -> Result<(), TestCaseError> {
    let deleted = before
        .tasks(None)
        .iter()
        .any(|task| after.task(&task.id).is_err());
    if changes.everything {
        return Ok(());
    }
    prop_assert!(
        !deleted,
        "tasks were deleted and the change record says not all"
    );
    for task in after.tasks(None) {
        let changed = before
            .task(&task.id)
            .map_or(true, |earlier| earlier != task);
        prop_assert!(
            !changed || changes.tasks.contains(&task.id),
            "{} changed and the change record does not name it",
            task.id
        );
    }
    for id in &changes.tasks {
        prop_assert!(
            after.task(id).is_ok(),
            "the change record names {} which is gone",
            id
        );
    }
    prop_assert_eq!(
        before.discoveries().len() + changes.discoveries,
        after.discoveries().len(),
        "the change record miscounts the new discoveries"
    );
    for record in after.attempts() {
        let changed = before.attempts().get(record.id as usize) != Some(record);
        prop_assert!(
            !changed || changes.attempts.contains(&record.id),
            "attempt {} changed and the change record does not name it",
            record.id
        );
    }
    let settings = |board: &Board| Meta {
        last_activity: None,
        ..board.meta()
    };
    prop_assert!(
        settings(before) == settings(after) || changes.settings,
        "the settings changed and the change record says not"
    );
    Ok(())
}

/// A refused operation left the board exactly as it was.
fn unchanged(before: &Board, after: &Board, what: &str) -> Result<(), TestCaseError> {
    let (mut before, mut after) = (before.clone(), after.clone());
    prop_assert!(
        before.state() == after.state(),
        "{} changed the state",
        what
    );
    prop_assert_eq!(
        before.counts(),
        after.counts(),
        "{} changed the counts",
        what
    );
    prop_assert!(
        before.ready().eq(after.ready()),
        "{} changed the ready queue",
        what
    );
    Ok(())
}

/// The events of an operation name every task it changed, the last event of each
/// carrying the task as it is now (that is what the store persists), and no task
/// fails twice in one operation.
fn events_carry_every_change(
    before: &Board,
    after: &Board,
    events: &Events,
) -> Result<(), TestCaseError> {
    let mut last: HashMap<&TaskId, &Task> = HashMap::new();
    let mut failures: HashMap<&TaskId, usize> = HashMap::new();
    let mut deleted = BTreeSet::new();
    for event in events {
        match event {
            Event::TaskDeleted(task) => {
                deleted.insert(&task.id);
            }
            Event::TaskCreated(task) | Event::TaskUpdated(task) | Event::TaskCompleted(task) => {
                last.insert(&task.id, task);
            }
            Event::TaskFailed(task) => {
                last.insert(&task.id, task);
                *failures.entry(&task.id).or_default() += 1;
            }
            _ => {}
        }
    }
    for (id, count) in failures {
        prop_assert_eq!(count, 1, "{} failed {} times in one operation", id, count);
    }
    let mut gone: Vec<String> = before
        .tasks(None)
        .into_iter()
        .filter(|task| after.task(&task.id).is_err())
        .map(|task| task.id.to_string())
        .collect();
    gone.sort();
    prop_assert_eq!(
        gone,
        deleted.iter().map(|id| id.to_string()).collect::<Vec<_>>(),
        "the tasks gone are not those announced deleted"
    );
    for task in after.tasks(None) {
        let changed = before
            .task(&task.id)
            .map_or(true, |earlier| earlier != task);
        match last.get(&task.id) {
            Some(event) => prop_assert_eq!(*event, &task, "the last event of {} is stale", task.id),
            None => prop_assert!(!changed, "{} changed without an event", task.id),
        }
    }
    Ok(())
}

/// The length of the longest chain of tasks that depend on each task, itself included:
/// work waiting on it, so a failed or cancelled task, which waits for nothing, is no
/// link of anyone's chain.
fn chains(tasks: &[Task]) -> HashMap<TaskId, u32> {
    let mut dependents: HashMap<&TaskId, Vec<&TaskId>> = HashMap::new();
    for task in tasks {
        if matches!(task.status, TaskStatus::Failed | TaskStatus::Cancelled) {
            continue;
        }
        for dependency in &task.dependencies {
            dependents.entry(dependency).or_default().push(&task.id);
        }
    }
    fn chain_of<'a>(
        id: &'a TaskId,
        dependents: &HashMap<&'a TaskId, Vec<&'a TaskId>>,
        chain: &mut HashMap<TaskId, u32>,
    ) -> u32 {
        if let Some(&known) = chain.get(id) {
            return known;
        }
        let longest = dependents
            .get(id)
            .into_iter()
            .flatten()
            .map(|dependent| chain_of(dependent, dependents, chain))
            .max()
            .unwrap_or(0);
        chain.insert(id.clone(), 1 + longest);
        1 + longest
    }
    let mut chain = HashMap::new();
    for task in tasks {
        chain_of(&task.id, &dependents, &mut chain);
    }
    chain
}

/// The board's invariants, recomputed from its tasks alone.
pub(super) fn check_board(board: &Board) -> Result<(), TestCaseError> {
    let mut board = board.clone();
    let tasks = board.tasks(None);
    let by_id: HashMap<&TaskId, &Task> = tasks.iter().map(|task| (&task.id, task)).collect();
    prop_assert_eq!(by_id.len(), tasks.len(), "two tasks share an id");
    let status_of = |id: &TaskId| by_id[id].status;

    let mut counts = ByStatus::default();
    for task in &tasks {
        *counts.get_mut(task.status) += 1;
        let all_done = task
            .dependencies
            .iter()
            .all(|dependency| status_of(dependency) == TaskStatus::Done);
        if matches!(
            task.status,
            TaskStatus::Claimed | TaskStatus::InProgress | TaskStatus::Done
        ) {
            prop_assert!(
                all_done,
                "{} is {} with a dependency not done",
                task.id,
                task.status
            );
        }
        if !task.status.is_finished() {
            let blocked = task.dependencies.iter().find(|dependency| {
                matches!(
                    status_of(dependency),
                    TaskStatus::Failed | TaskStatus::Cancelled
                )
            });
            prop_assert!(
                blocked.is_none(),
                "{} is {} behind {:?}, which can never be done",
                task.id,
                task.status,
                blocked
            );
        }
        if let Some(dependency) = &task.failed_dependency {
            prop_assert_eq!(task.status, TaskStatus::Failed);
            prop_assert!(task.dependencies.contains(dependency));
            prop_assert!(matches!(
                status_of(dependency),
                TaskStatus::Failed | TaskStatus::Cancelled
            ));
        }
        if task.status.is_held() {
            prop_assert!(task.claimed_by.is_some() && task.claimed_at.is_some());
        }
    }
    prop_assert_eq!(board.counts(), counts, "the counts are not a recount");
    let spent: f64 = tasks.iter().map(|task| task.usage.cost_usd).sum();
    prop_assert!(
        (board.status().cost_usd - spent).abs() < 1e-6,
        "the board's cost {} is not the tasks' {}",
        board.status().cost_usd,
        spent
    );
    let progress = board.status().progress;
    prop_assert_eq!(progress.by_status, counts);
    prop_assert_eq!(progress.total_tasks, tasks.len());

    let chain = chains(&tasks);
    prop_assert_eq!(
        board.chains(),
        chain.clone(),
        "the chains are not those of a full recomputation"
    );
    let mut ready: Vec<(u8, Reverse<u32>, usize, &TaskId)> = tasks
        .iter()
        .enumerate()
        .filter(|(_, task)| {
            task.status == TaskStatus::Available
                && task
                    .dependencies
                    .iter()
                    .all(|dependency| status_of(dependency) == TaskStatus::Done)
        })
        .map(|(age, task)| (task.priority, Reverse(chain[&task.id]), age, &task.id))
        .collect();
    ready.sort();
    let expected: Vec<&TaskId> = ready.into_iter().map(|(.., id)| id).collect();
    prop_assert_eq!(
        board.ready().collect::<Vec<_>>(),
        expected,
        "the ready queue"
    );

    let agents: Vec<(String, Option<TaskId>)> = board
        .status()
        .agents
        .into_iter()
        .map(|agent| (agent.id, agent.task))
        .collect();
    let held: Vec<(String, Option<TaskId>)> = tasks
        .iter()
        .filter(|task| task.status.is_held())
        .map(|task| {
            (
                task.claimed_by.clone().unwrap_or_default(),
                Some(task.id.clone()),
            )
        })
        .collect();
    prop_assert_eq!(agents.len(), held.len());
    prop_assert!(held.iter().all(|agent| agents.contains(agent)));

    let rebuilt = Board::from_state(board.state(), false);
    prop_assert!(
        rebuilt.is_ok(),
        "its own state does not load: {:?}",
        rebuilt.err()
    );
    let mut rebuilt = rebuilt.unwrap();
    prop_assert!(
        rebuilt.state() == board.state(),
        "the state does not round-trip"
    );
    prop_assert!(
        rebuilt.ready().eq(board.ready()),
        "a rebuilt board orders the ready tasks differently"
    );
    Ok(())
}

/// A modest number of cases, so that the suite stays quick; a failure is shrunk and
/// printed, and belongs in a unit test once understood.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn random_histories_keep_every_invariant(ops in prop::collection::vec(op(), 1..60)) {
        let mut history = History::new();
        for op in &ops {
            history.apply(op)?;
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn a_drain_always_finishes_every_task(
        ops in prop::collection::vec(op(), 1..50),
        failures in prop::collection::vec(prop::bool::weighted(0.15), 1..16),
    ) {
        let mut history = History::new();
        for op in &ops {
            history.apply(op)?;
        }
        history.drain(&failures)?;
    }
}
