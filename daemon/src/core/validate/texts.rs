//! The limits on what a client or an agent may send: every listing, event and
//! snapshot carries a task's texts, so each is bounded, and what the daemon passes on
//! to a program is held to what a program can be passed.

use baton_protocol::{BatonError, Config, CoordinationState, Task, TaskId, TaskResult};

use super::state_config;

/// The most a task's description or hints may hold, in bytes: every listing, event
/// and snapshot carries them, so text past this belongs in a file the task names.
pub const TEXT_LIMIT: usize = 1 << 20;

/// The most a name (an agent id, a model, a tag, a branch) may hold, in bytes: the
/// same listings carry the names of what they list, and no real name comes near.
pub const NAME_LIMIT: usize = 256;

/// The most one file's path may hold, in bytes: the longest path Linux opens.
const PATH_LIMIT: usize = 4096;

/// The most one argument of a program may hold, in bytes, as Linux passes it: for
/// what the daemon passes on as one (an argument of Claude Code, the verification
/// command).
const ARGUMENT_LIMIT: usize = 128 * 1024 - 1;

pub fn description(description: &str) -> Result<(), BatonError> {
    if description.trim().is_empty() {
        return Err(BatonError::invalid(
            "the task description is empty; say what needs to be done",
        ));
    }
    text("description", description)
}

pub fn hints(hints: &str) -> Result<(), BatonError> {
    text("hints", hints)
}

/// The files a task names for its agent to read: each a path, all of them together
/// held to a text's limit.
pub fn context_files(files: &[String]) -> Result<(), BatonError> {
    if files.iter().any(|path| path.trim().is_empty()) {
        return Err(BatonError::invalid(
            "a context file is blank; name a path in the repository, or leave it out",
        ));
    }
    if let Some(path) = files.iter().find(|path| path.len() > PATH_LIMIT) {
        return Err(BatonError::invalid(format!(
            "a context file's path is {} bytes, over the limit of {PATH_LIMIT}: {}",
            path.len(),
            excerpt(path, 60)
        )));
    }
    within_limit(
        "task's context files together",
        listed_size(files),
        "name the directories that hold them",
    )
}

/// The goal of a workspace or a run: every status and run carries it.
pub fn goal(goal: &str) -> Result<(), BatonError> {
    if goal.trim().is_empty() {
        return Err(BatonError::invalid(
            "the goal is empty; say what the team should achieve",
        ));
    }
    goal_size(goal)
}

/// A state file's goal may be empty, not over the limit.
fn goal_size(goal: &str) -> Result<(), BatonError> {
    within_limit(
        "goal",
        goal.len(),
        "put the detail in a file of the repository and name it in the goal",
    )
}

pub fn master_plan(plan: &str) -> Result<(), BatonError> {
    within_limit(
        "master plan",
        plan.len(),
        "keep the plan's detail in its tasks' descriptions",
    )
}

/// A discovery's tags: each a name, all of them together held to a text's limit.
pub fn tags(tags: &[String]) -> Result<(), BatonError> {
    for tag in tags {
        if tag.trim().is_empty() {
            return Err(BatonError::invalid(
                "a tag is blank; a tag is a word or two (`build`, `api`), or leave it out",
            ));
        }
        name("tag", tag, "a tag is a word or two (`build`, `api`)")?;
    }
    within_limit(
        "discovery's tags together",
        listed_size(tags),
        "keep the detail in the discovery itself",
    )
}

/// What an agent reports of its work is held to the same limit as what it was
/// given, all of its texts together: a result is carried by the same listings.
pub fn result(result: &TaskResult) -> Result<(), BatonError> {
    let size = result.output.len()
        + result.error.as_ref().map_or(0, String::len)
        + [
            &result.files_modified,
            &result.files_created,
            &result.discoveries,
        ]
        .into_iter()
        .flatten()
        .map(String::len)
        .sum::<usize>();
    within_limit(
        "result's texts together",
        size,
        "write long output to a file and name it among the files created",
    )
}

/// The files a client's result names: each a path, as a task's context files are.
pub fn result_files(result: &TaskResult) -> Result<(), BatonError> {
    for (which, files) in [
        ("modified", &result.files_modified),
        ("created", &result.files_created),
    ] {
        if files.iter().any(|path| path.trim().is_empty()) {
            return Err(BatonError::invalid(format!(
                "a {which} file is blank; name a path in the repository, or leave it out"
            )));
        }
    }
    Ok(())
}

/// The discoveries a result lists, each shared on the board: each says something,
/// and a result brings no more than a plan's worth of them.
pub fn result_discoveries(discoveries: &[String]) -> Result<(), BatonError> {
    if discoveries.len() > MAX_RESULT_DISCOVERIES {
        return Err(BatonError::invalid(format!(
            "the result lists {} discoveries, more than {MAX_RESULT_DISCOVERIES}; \
             keep the findings others need, or report them one by one",
            discoveries.len()
        )));
    }
    match discoveries.iter().position(|found| found.trim().is_empty()) {
        Some(index) => Err(BatonError::invalid(format!(
            "discovery {} of the result is empty; say what was found, or leave it out",
            index + 1
        ))),
        None => Ok(()),
    }
}

/// The most discoveries one result may share.
const MAX_RESULT_DISCOVERIES: usize = 1_000;

/// Why a task failed, or a discovery: the same limit as a description.
pub fn report(what: &str, text: &str) -> Result<(), BatonError> {
    within_limit(
        what,
        text.len(),
        "put long material in a file and name the file",
    )
}

fn text(what: &str, text: &str) -> Result<(), BatonError> {
    within_limit(
        &format!("task's {what}"),
        text.len(),
        "put long material in a file and name it in the task's files",
    )
}

/// The size of a list of texts as it is carried: each text's bytes, and one more for
/// each, so that a million empty texts count too.
fn listed_size(texts: &[String]) -> usize {
    texts.iter().map(|text| text.len() + 1).sum()
}

fn name(what: &str, name: &str, advice: &str) -> Result<(), BatonError> {
    if name.len() > NAME_LIMIT {
        return Err(BatonError::invalid(format!(
            "the {what} is {} bytes, over the limit of {NAME_LIMIT}: {}; {advice}",
            name.len(),
            excerpt(name, 40)
        )));
    }
    Ok(())
}

/// What the daemon passes on to a program as one argument.
fn argument(what: &str, text: &str) -> Result<(), BatonError> {
    if text.contains('\0') {
        return Err(BatonError::invalid(format!(
            "{what} holds a NUL byte, which no program can be passed; remove it"
        )));
    }
    if text.len() > ARGUMENT_LIMIT {
        return Err(BatonError::invalid(format!(
            "{what} is {} bytes, over the {ARGUMENT_LIMIT} a program is passed in one argument; keep the long part in a script it runs",
            text.len()
        )));
    }
    Ok(())
}

fn within_limit(what: &str, size: usize, advice: &str) -> Result<(), BatonError> {
    if size > TEXT_LIMIT {
        return Err(BatonError::invalid(format!(
            "the {what} is {size} bytes, over the limit of 1 MiB ({TEXT_LIMIT} bytes); {advice}"
        )));
    }
    Ok(())
}

/// At most `chars` characters of `text`, saying how much was left out: for quoting
/// what may be of any length in a message.
pub fn excerpt(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()),
    }
}

/// `text` cut to [`TEXT_LIMIT`], for what the daemon's own agents say of task
/// `id`: they are not refused like a client, but the task keeps only the start,
/// and says where the whole is.
pub fn clipped(mut text: String, id: &TaskId) -> String {
    if text.len() <= TEXT_LIMIT {
        return text;
    }
    let size = text.len();
    let mut cut = TEXT_LIMIT - 200;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(&format!(
        "\n… (cut at {cut} of {size} bytes; the whole is in the task's log: `baton logs {id}`)"
    ));
    text
}

pub fn model(model: &str) -> Result<(), BatonError> {
    if model.trim().is_empty() {
        return Err(BatonError::invalid(
            "the model is empty; name a Claude model, or leave it out for the workspace's",
        ));
    }
    argument("the model", model)?;
    name("model", model, "name a Claude model (`claude-sonnet-4-5`)")?;
    model_characters(model)
}

/// No model's name holds a space or a control character: one that does would only
/// fail later, in every agent started with it, or steer the terminal it is shown on.
/// Nor does one start with `-`: it would read as an option of the agent's program.
fn model_characters(model: &str) -> Result<(), BatonError> {
    if model.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(BatonError::invalid(format!(
            "the model {model:?} holds a space or a control character; name a Claude model (`claude-sonnet-4-5`)"
        )));
    }
    if model.starts_with('-') {
        return Err(BatonError::invalid(format!(
            "the model {model:?} starts with '-', as an option does; name a Claude model (`claude-sonnet-4-5`)"
        )));
    }
    Ok(())
}

/// A Claude Code session id, as a state file may bring one: the agent resumes it, so
/// it is a plain name (Claude Code's are UUIDs), never something an option could hide in.
pub fn session_id(session: &str) -> Result<(), BatonError> {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if session.is_empty()
        || session.len() > 128
        || session.starts_with('-')
        || !session.chars().all(plain)
    {
        return Err(BatonError::invalid(format!(
            "session_id {:?} is not a Claude Code session id (letters, digits, '-' and '_', \
             not starting with '-', at most 128 bytes); remove it and the task starts afresh",
            excerpt(session, 60)
        )));
    }
    Ok(())
}

pub fn agent_id(agent_id: &str) -> Result<(), BatonError> {
    if agent_id.trim().is_empty() {
        return Err(BatonError::invalid("the agent id is empty; name the agent"));
    }
    agent_name(agent_id)
}

/// An agent id, as a task that holds it or a discovery carries it: shown in every
/// listing, log and terminal, so within a name's limit and without control characters.
fn agent_name(agent_id: &str) -> Result<(), BatonError> {
    const ADVICE: &str = "an agent id is a short name (`worker-1`)";
    name("agent id", agent_id, ADVICE)?;
    if agent_id.chars().any(char::is_control) {
        return Err(BatonError::invalid(format!(
            "the agent id {:?} holds a control character; {ADVICE}",
            excerpt(agent_id, 40)
        )));
    }
    Ok(())
}

/// A configuration's texts, each within its limit.
pub(super) fn config_texts(config: &Config) -> Result<(), BatonError> {
    name(
        "model",
        &config.model,
        "name a Claude model (`claude-sonnet-4-5`)",
    )?;
    model_characters(&config.model)?;
    if config.agent_command.len() > PATH_LIMIT {
        return Err(BatonError::invalid(format!(
            "agent_command is {} bytes, over the limit of {PATH_LIMIT}; name the Claude Code program (`claude`)",
            config.agent_command.len()
        )));
    }
    name(
        "integration_branch",
        &config.integration_branch,
        "name a branch (`baton/integration`)",
    )?;
    for (setting, text) in [
        ("leader_prompt", &config.leader_prompt),
        ("worker_prompt", &config.worker_prompt),
        ("reviewer_prompt", &config.reviewer_prompt),
    ] {
        if let Some(text) = text {
            within_limit(setting, text.len(), "keep the long part in a file it names")?;
        }
    }
    let arguments = [
        ("model", &config.model),
        ("agent_command", &config.agent_command),
    ]
    .into_iter()
    .chain(
        config
            .verify_command
            .iter()
            .map(|command| ("verify_command", command)),
    )
    .chain(
        config
            .agent_args
            .iter()
            .map(|arg| ("an agent_args entry", arg)),
    )
    .chain(
        config
            .allowed_tools
            .iter()
            .map(|tool| ("an allowed_tools entry", tool)),
    );
    for (what, text) in arguments {
        argument(what, text)?;
    }
    if config
        .allowed_tools
        .iter()
        .any(|tool| tool.trim().is_empty())
    {
        return Err(BatonError::invalid(
            "an allowed_tools entry is blank; name a tool (Read, Bash, Bash(npm test:*)), \
             or leave it out",
        ));
    }
    for (setting, list) in [
        ("agent_args together", &config.agent_args),
        ("allowed_tools together", &config.allowed_tools),
    ] {
        within_limit(setting, listed_size(list), "give fewer of them")?;
    }
    Ok(())
}

/// A state file a client loads holds its texts to the limits of a request, but for
/// results: a task's result gathers the discoveries made on it, without a bound.
/// A store is not held to them: it keeps what earlier versions let in.
pub fn state_texts(state: &CoordinationState) -> Result<(), BatonError> {
    let bad =
        |message: String| BatonError::invalid(format!("the state file is not valid: {message}"));
    goal_size(&state.goal).map_err(|err| bad(err.message))?;
    master_plan(&state.master_plan).map_err(|err| bad(err.message))?;
    config_texts(&state_config(state)).map_err(|err| bad(err.message))?;
    for task in &state.tasks {
        task_texts(task).map_err(|err| bad(format!("{}: {}", task.id, err.message)))?;
    }
    for discovery in &state.discoveries {
        agent_id(&discovery.agent_id)
            .and_then(|()| report("discovery", &discovery.content))
            .and_then(|()| tags(&discovery.tags))
            .map_err(|err| bad(format!("a discovery: {}", err.message)))?;
    }
    for record in &state.attempts {
        agent_name(&record.lane)
            .and_then(|()| report("attempt's reason", record.reason.as_deref().unwrap_or("")))
            .map_err(|err| bad(format!("attempts[{}]: {}", record.id, err.message)))?;
    }
    Ok(())
}

fn task_texts(task: &Task) -> Result<(), BatonError> {
    description(&task.description)?;
    hints(&task.context.hints)?;
    context_files(&task.context.files)?;
    if let Some(model) = &task.model {
        self::model(model)?;
    }
    within_limit(
        "task's permission_denials together",
        listed_size(&task.permission_denials),
        "they are the tool uses its agent was refused, as Claude Code reported them",
    )?;
    match &task.claimed_by {
        Some(agent) => agent_name(agent),
        None => Ok(()),
    }
}
