//! `baton mcp`: the MCP server that the daemon hands to each of its agents. It speaks
//! MCP on standard input and output (nothing else may reach stdout) and turns every
//! tool call into one request to the workspace's daemon, on behalf of one agent and,
//! for a worker, of the task it works on.
//!
//! A refusal of the daemon is a tool result with `isError` and the daemon's message,
//! so that the model can read it and correct itself; the bridge itself keeps serving.
//!
//! What a tool sends is stored and reaches every client, so the secrets of the
//! agent's environment (which the bridge shares) are hidden in it first.

use std::borrow::Cow;
use std::path::PathBuf;

use baton_protocol::methods::{
    self, FailTaskParams, ListTasksParams, MasterPlan, NewDiscovery, NewTask, Request, TaskRef,
};
use baton_protocol::secrets::Secrets;
use baton_protocol::{
    Client, ClientError, ConnectConfig, ReviewTaskParams, ReviewVerdict, Task, TaskId, TaskStatus,
    Workspace,
};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::schemars::{self, JsonSchema};
use rmcp::{tool, tool_handler, tool_router, ServerHandler, ServiceExt};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::args::McpArgs;

/// What the server tells the model about itself, once, at the start.
const INSTRUCTIONS: &str = "baton coordinates the agents that work on this workspace: \
     the plan of tasks, and the discoveries the agents share. Read what others found with \
     list_discoveries, share what others should know with report_discovery, add work for \
     others with add_task, and give up on your task with fail_task when it cannot be done. \
     A reviewer gives its verdict with review_task.";

/// Why the bridge could not serve.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error(
        "no baton daemon runs for {} (nothing answers at {}: {source}); the daemon starts \
         `baton mcp` for its agents, so start it first (`baton daemon start`)",
        workspace.display(),
        socket.display()
    )]
    NoDaemon {
        workspace: PathBuf,
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Client(ClientError),
    #[error("the MCP session did not start: {0}")]
    Start(#[from] Box<rmcp::service::ServerInitializeError>),
    #[error("the MCP session ended abnormally: {0}")]
    Serve(#[from] tokio::task::JoinError),
}

/// Connects to the workspace's running daemon (never starting one: the daemon that
/// started this agent runs) and serves MCP on stdin and stdout until stdin closes.
pub async fn serve(workspace: &Workspace, args: McpArgs) -> Result<(), McpError> {
    let config = ConnectConfig {
        start: false,
        ..ConnectConfig::default()
    };
    let client = match Client::connect(workspace, &config).await {
        Ok(client) => client,
        Err(ClientError::Connect { socket, source }) => {
            return Err(McpError::NoDaemon {
                workspace: workspace.root().to_owned(),
                socket,
                source,
            })
        }
        Err(err) => return Err(McpError::Client(err)),
    };
    let bridge = Bridge {
        client,
        agent: args.agent,
        task: args.task,
        secrets: Secrets::among(std::env::vars()),
    };
    let running = bridge
        .serve(rmcp::transport::stdio())
        .await
        .map_err(Box::new)?;
    running.waiting().await?;
    Ok(())
}

/// One agent's tools: its connection to the daemon, who it is and what it works on.
pub struct Bridge {
    client: Client,
    agent: String,
    /// The task the agent works on; none for the leader.
    task: Option<TaskId>,
    /// The agent's keys and tokens, which its tools' requests never carry.
    secrets: Secrets,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AddTaskArgs {
    #[schemars(
        description = "What to do, in words that an agent who has not seen your \
        work understands: the change, where it goes, and how to tell that it is done."
    )]
    pub description: String,
    #[schemars(
        range(min = 1, max = 10),
        description = "From 1 (most urgent) to 10 (least urgent); 5 when left out. \
        Ready tasks are started most urgent first."
    )]
    pub priority: Option<u8>,
    #[schemars(description = "Ids of the tasks that must be done before this one \
        starts, as earlier add_task calls returned them, e.g. [\"task-003\"].")]
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// Files the task concerns, relative to the workspace root.
    #[serde(default)]
    pub context_files: Vec<String>,
    /// Advice for the agent that takes the task: an approach, a pitfall, a convention.
    #[serde(default)]
    pub hints: String,
    /// The Claude model for this task's agent (e.g. a smaller one for a simple
    /// change); left out, the workspace's model.
    #[serde(default)]
    pub model: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReportDiscoveryArgs {
    /// The finding, self-contained, in a sentence or a few: what is true, and where.
    pub content: String,
    /// Short keywords to find it by, e.g. ["build", "database"].
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListTasksArgs {
    /// Only the tasks with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "status_schema")]
    pub status: Option<String>,
    /// Skip this many tasks of the list: for the rest of a list cut short.
    #[serde(default)]
    pub offset: usize,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListDiscoveriesArgs {
    /// Only the discoveries before this position: for the earlier ones of a list cut
    /// short.
    #[serde(default)]
    pub before: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetTaskArgs {
    /// The task's id, e.g. "task-007".
    pub id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FailTaskArgs {
    #[schemars(
        description = "Why the task cannot be done: what blocked you, what you \
        tried, and what would be needed."
    )]
    pub error: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReviewTaskArgs {
    #[schemars(
        schema_with = "verdict_schema",
        description = "\"approve\" when the work may be merged as it is, \
        \"changes_requested\" when it must change first."
    )]
    pub verdict: String,
    #[schemars(
        description = "Why: for changes_requested, exactly what to change and where \
        (the agent that did the work reads it); for approve, optional."
    )]
    #[serde(default)]
    pub reasons: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SetMasterPlanArgs {
    /// The plan, as text (Markdown is fine).
    pub plan: String,
}

/// The status names, as the protocol spells them.
fn status_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let names: Vec<&str> = TaskStatus::ALL
        .iter()
        .map(|status| status.as_str())
        .collect();
    schemars::json_schema!({
        "type": "string",
        "enum": names,
    })
}

/// The verdict names, as the protocol spells them.
fn verdict_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "enum": [ReviewVerdict::Approve.as_str(), ReviewVerdict::ChangesRequested.as_str()],
    })
}

#[tool_router]
impl Bridge {
    #[tool(
        description = "Add a task to the team's plan; an agent takes it up once \
        every task it depends on is done. Use it to split work into pieces that can be \
        done and checked on their own. Answers {\"id\": \"task-007\"}: give such ids as \
        `dependencies` of later add_task calls to order the work. Added while you work \
        on a task, it becomes a subtask of yours."
    )]
    async fn add_task(&self, Parameters(args): Parameters<AddTaskArgs>) -> CallToolResult {
        let mut task = NewTask::new(args.description);
        if let Some(priority) = args.priority {
            task.priority = priority;
        }
        task.dependencies = args.dependencies.into_iter().map(TaskId::from).collect();
        task.context_files = args.context_files;
        task.hints = args.hints;
        task.model = args.model;
        task.parent_task = self.task.clone();
        let added = self.request::<methods::AddTask>(&task).await;
        answer(added.map(|task| json!({ "id": task.id })))
    }

    #[tool(
        description = "Share a finding with every other agent: a fact about the \
        code, a decision, a pitfall or a convention that others working toward the same \
        goal should know (\"the tests need DATABASE_URL\", \"ids are UUIDs, not \
        integers\"). One finding per call. Answers the discovery as recorded."
    )]
    async fn report_discovery(
        &self,
        Parameters(args): Parameters<ReportDiscoveryArgs>,
    ) -> CallToolResult {
        let discovery = NewDiscovery {
            agent_id: self.agent.clone(),
            content: args.content,
            related_task: self.task.clone(),
            tags: args.tags,
        };
        answer(self.request::<methods::AddDiscovery>(&discovery).await)
    }

    #[tool(
        description = "List everything the agents have shared with report_discovery, \
        oldest first. Read it before you start, so as not to find out again what others \
        already know. A long list is cut to its newest part, and says how to ask for \
        the earlier ones.",
        annotations(read_only_hint = true)
    )]
    async fn list_discoveries(
        &self,
        Parameters(args): Parameters<ListDiscoveriesArgs>,
    ) -> CallToolResult {
        let found = match self.request::<methods::ListDiscoveries>(&()).await {
            Ok(found) => found,
            Err(err) => return refusal(err.to_string()),
        };
        let end = args.before.unwrap_or(found.len()).min(found.len());
        let start = end - fitting(found[..end].iter().rev());
        let shown = &found[start..end];
        if start == 0 {
            return answer(Ok(shown));
        }
        answer(Ok(json!({
            "discoveries": shown,
            "left_out": format!(
                "{start} earlier discoveries; list_discoveries with before: {start} lists them"
            ),
        })))
    }

    #[tool(
        description = "List the tasks of the plan: id, description, status, priority, \
        dependencies and the agent that holds it; a finished task shows its output or \
        error, cut when long (get_task gives the whole). `status` narrows the list \
        (available, claimed, in_progress, done, failed, cancelled). A long list is cut, \
        and says how to ask for the rest.",
        annotations(read_only_hint = true)
    )]
    async fn list_tasks(&self, Parameters(args): Parameters<ListTasksArgs>) -> CallToolResult {
        let status = match args.status.as_deref().map(str::parse::<TaskStatus>) {
            None => None,
            Some(Ok(status)) => Some(status),
            Some(Err(message)) => return refusal(message),
        };
        let tasks = match self
            .request::<methods::ListTasks>(&ListTasksParams { status })
            .await
        {
            Ok(tasks) => tasks,
            Err(err) => return refusal(err.to_string()),
        };
        let from = args.offset.min(tasks.len());
        let summaries: Vec<TaskSummary> = tasks[from..].iter().map(TaskSummary::of).collect();
        let shown = &summaries[..fitting(summaries.iter())];
        let end = from + shown.len();
        if end == tasks.len() {
            return answer(Ok(shown));
        }
        answer(Ok(json!({
            "tasks": shown,
            "left_out": format!(
                "{} more tasks; list_tasks with offset: {end} (and the same status) lists them",
                tasks.len() - end
            ),
        })))
    }

    #[tool(
        description = "Everything about one task, by id: description, status, priority, \
        dependencies, context (files, hints, parent task), and its result (output, files \
        changed, discoveries, subtasks, error) once it has one.",
        annotations(read_only_hint = true)
    )]
    async fn get_task(&self, Parameters(args): Parameters<GetTaskArgs>) -> CallToolResult {
        let task = TaskRef {
            task_id: TaskId::from(args.id),
        };
        answer(self.request::<methods::GetTask>(&task).await)
    }

    #[tool(
        description = "Give up on your task, saying why. Use it only when the task \
        cannot be done as described (something it needs is missing or wrong, or it \
        contradicts the code); the tasks that depend on it fail too. Stop working after \
        calling it."
    )]
    async fn fail_task(&self, Parameters(args): Parameters<FailTaskArgs>) -> CallToolResult {
        let Some(task) = self.task.clone() else {
            return refusal(format!(
                "agent {} has no task to fail; only an agent working on a task can give it up",
                self.agent
            ));
        };
        let params = FailTaskParams {
            task_id: task,
            error: args.error,
        };
        let failed = self.request::<methods::FailTask>(&params).await;
        answer(failed.map(|task| json!({ "id": task.id, "status": task.status })))
    }

    #[tool(
        description = "Give your verdict on the task you review, once, when you have \
        read its changes: approve, or changes_requested with the reasons. Only a \
        reviewer of a task can call it; the work lands or goes back to its agent by it."
    )]
    async fn review_task(&self, Parameters(args): Parameters<ReviewTaskArgs>) -> CallToolResult {
        let Some(task) = self.task.clone() else {
            return refusal(format!(
                "agent {} reviews no task; only a reviewer baton started on a task can give a verdict",
                self.agent
            ));
        };
        let verdict = match args.verdict.as_str() {
            "approve" => ReviewVerdict::Approve,
            "changes_requested" => ReviewVerdict::ChangesRequested,
            other => {
                return refusal(format!(
                    "`{other}` is no verdict; give \"approve\" or \"changes_requested\""
                ))
            }
        };
        let params = ReviewTaskParams {
            task_id: task,
            agent_id: self.agent.clone(),
            verdict,
            reasons: args.reasons,
        };
        let given = self.request::<methods::ReviewTask>(&params).await;
        answer(given.map(|()| json!({ "verdict": verdict.as_str() })))
    }

    #[tool(
        description = "Record the master plan: the overall approach to the goal, \
        which every worker reads along with its task. For the leader, when the goal came \
        without a plan: call it once, before adding the tasks. A plan there already stays."
    )]
    async fn set_master_plan(
        &self,
        Parameters(args): Parameters<SetMasterPlanArgs>,
    ) -> CallToolResult {
        if self.task.is_some() {
            return refusal(
                "only the leader records the master plan; share what you found with \
                 report_discovery",
            );
        }
        // The plan a goal came with (the user's) or an earlier leader made is the one
        // every worker was and will be given.
        match self.request::<methods::GetStatus>(&()).await {
            Ok(status) if !status.master_plan.trim().is_empty() => {
                return refusal(
                    "the goal has a master plan already, which stays as it is: add the \
                     tasks by it",
                );
            }
            Ok(_) => {}
            Err(err) => return answer::<()>(Err(err)),
        }
        let plan = MasterPlan { plan: args.plan };
        let set = self.request::<methods::SetMasterPlan>(&plan).await;
        answer(set.map(|()| json!({ "ok": true })))
    }
}

#[tool_handler]
impl ServerHandler for Bridge {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("baton", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}

impl Bridge {
    /// Sends one request for the agent, with every secret of its environment hidden
    /// in every string of it.
    async fn request<R: Request>(&self, params: &R::Params) -> Result<R::Result, ClientError> {
        let unreadable = |err: serde_json::Error| ClientError::Protocol(err.to_string());
        let mut sent = serde_json::to_value(params).map_err(unreadable)?;
        self.secrets.hide_in(&mut sent);
        let params = serde_json::from_value::<R::Params>(sent).map_err(unreadable)?;
        self.client.request::<R>(&params).await
    }
}

/// The most one tool's answer holds, in bytes of JSON: what a model reads of one tool
/// result and still has room to work (about 16,000 tokens). Longer lists are cut, and
/// say how to ask for the rest.
const ANSWER_BUDGET: usize = 64 * 1024;

/// The most characters of a text a task's summary shows.
const SUMMARY_CHARS: usize = 500;

/// How many of `items`, from the first, fit in [`ANSWER_BUDGET`]; at least one, so
/// that asking for the rest always gets on.
fn fitting<'a, T: Serialize + 'a>(items: impl Iterator<Item = &'a T>) -> usize {
    let mut size = 0;
    let mut count = 0;
    for item in items {
        size += serde_json::to_string(item).map_or(0, |text| text.len()) + 1;
        if size > ANSWER_BUDGET && count > 0 {
            break;
        }
        count += 1;
    }
    count
}

/// A task as `list_tasks` shows it: enough to choose what to look at with `get_task`.
#[derive(Debug, Serialize)]
struct TaskSummary<'a> {
    id: &'a TaskId,
    description: Cow<'a, str>,
    status: TaskStatus,
    priority: u8,
    dependencies: &'a [TaskId],
    claimed_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Cow<'a, str>>,
}

impl<'a> TaskSummary<'a> {
    fn of(task: &'a Task) -> Self {
        let result = task.result.as_ref().filter(|_| task.status.is_finished());
        TaskSummary {
            id: &task.id,
            description: summarized(&task.description),
            status: task.status,
            priority: task.priority,
            dependencies: &task.dependencies,
            claimed_by: task.claimed_by.as_deref(),
            output: result
                .map(|result| result.output.as_str())
                .filter(|output| !output.is_empty())
                .map(summarized),
            error: result
                .and_then(|result| result.error.as_deref())
                .map(summarized),
        }
    }
}

/// `text` cut to [`SUMMARY_CHARS`], saying so.
fn summarized(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(SUMMARY_CHARS) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}… (cut; get_task gives the whole)", &text[..end])),
    }
}

/// A daemon's answer as a tool result: its JSON, or its refusal.
fn answer<T: Serialize>(outcome: Result<T, ClientError>) -> CallToolResult {
    match outcome {
        Ok(value) => match serde_json::to_string(&value) {
            Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
            Err(err) => refusal(format!("the answer could not be written as JSON: {err}")),
        },
        Err(err) => refusal(err.to_string()),
    }
}

/// The commands the daemon's messages name for people, and the tool that does the
/// same for an agent, which has no `baton` to run.
const AGENT_WORDS: &[(&str, &str)] = &[("`baton tasks`", "`list_tasks`")];

/// A tool result that tells the model what went wrong, in the tools' words.
fn refusal(message: impl Into<String>) -> CallToolResult {
    let mut message = message.into();
    for (command, tool) in AGENT_WORDS {
        message = message.replace(command, tool);
    }
    CallToolResult::error(vec![ContentBlock::text(message)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tools_are_the_product_s_seven_and_review_task_each_described_with_a_schema() {
        let tools = Bridge::tool_router().list_all();
        let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "add_task",
                "fail_task",
                "get_task",
                "list_discoveries",
                "list_tasks",
                "report_discovery",
                "review_task",
                "set_master_plan"
            ]
        );
        for tool in &tools {
            assert!(
                tool.description.as_deref().is_some_and(|d| d.len() > 80),
                "{} needs a description written for the model",
                tool.name
            );
            assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
        }
    }

    #[test]
    fn add_task_asks_for_a_description_and_documents_every_field() {
        let tools = Bridge::tool_router().list_all();
        let add = tools.iter().find(|tool| tool.name == "add_task").unwrap();
        let schema = serde_json::Value::Object((*add.input_schema).clone());
        assert_eq!(schema["required"], json!(["description"]));
        for field in [
            "description",
            "priority",
            "dependencies",
            "context_files",
            "hints",
            "model",
        ] {
            let property = &schema["properties"][field];
            assert!(
                property["description"].is_string(),
                "{field} is undocumented: {property}"
            );
        }
        assert_eq!(schema["properties"]["priority"]["minimum"], 1);
        assert_eq!(schema["properties"]["priority"]["maximum"], 10);
    }

    #[test]
    fn review_task_offers_the_two_verdicts_and_asks_only_for_the_verdict() {
        let tools = Bridge::tool_router().list_all();
        let review = tools
            .iter()
            .find(|tool| tool.name == "review_task")
            .unwrap();
        let schema = serde_json::Value::Object((*review.input_schema).clone());
        assert_eq!(schema["required"], json!(["verdict"]));
        assert_eq!(
            schema["properties"]["verdict"]["enum"],
            json!(["approve", "changes_requested"])
        );
        assert!(schema["properties"]["reasons"]["description"].is_string());
    }

    #[test]
    fn a_refusal_names_the_tool_where_the_message_names_a_command() {
        let refused =
            super::refusal("dependency task-999 does not exist; `baton tasks` lists the ids");
        let text = serde_json::to_value(&refused).unwrap()["content"][0]["text"].clone();
        assert_eq!(
            text,
            "dependency task-999 does not exist; `list_tasks` lists the ids"
        );
    }

    #[test]
    fn list_tasks_offers_the_protocol_status_names() {
        let tools = Bridge::tool_router().list_all();
        let list = tools.iter().find(|tool| tool.name == "list_tasks").unwrap();
        let schema = serde_json::Value::Object((*list.input_schema).clone());
        assert_eq!(
            schema["properties"]["status"]["enum"],
            json!([
                "available",
                "claimed",
                "in_progress",
                "done",
                "failed",
                "cancelled"
            ])
        );
        assert!(schema
            .get("required")
            .is_none_or(|required| required.as_array().is_some_and(Vec::is_empty)));
    }

    #[test]
    fn a_task_summary_shows_the_outcome_only_of_a_finished_task() {
        let mut task: Task = serde_json::from_value(json!({
            "id": "task-002",
            "description": "write the migration",
            "status": "in_progress",
            "priority": 3,
            "claimed_by": "worker-1",
            "dependencies": ["task-001"],
            "result": { "subtasks_created": ["task-003"] },
            "created_at": "2025-01-01T00:00:00",
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(TaskSummary::of(&task)).unwrap(),
            json!({
                "id": "task-002",
                "description": "write the migration",
                "status": "in_progress",
                "priority": 3,
                "dependencies": ["task-001"],
                "claimed_by": "worker-1",
            })
        );
        task.status = TaskStatus::Failed;
        task.result.as_mut().unwrap().error = Some("the schema is missing".into());
        assert_eq!(
            serde_json::to_value(TaskSummary::of(&task)).unwrap()["error"],
            "the schema is missing"
        );
    }
}
