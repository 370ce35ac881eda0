//! What agents found: discoveries, each recorded on the board and on its task.

use baton_protocol::methods::NewDiscovery;
use baton_protocol::{BatonError, Discovery, Event, TaskId, TaskResult};

use super::{Board, Events, Now};
use crate::core::validate;

impl Board {
    pub fn add_discovery(
        &mut self,
        new: NewDiscovery,
        now: Now,
    ) -> Result<(Discovery, Events), BatonError> {
        validate::agent_id(&new.agent_id)?;
        if new.content.trim().is_empty() {
            return Err(BatonError::invalid(
                "the discovery is empty; say what was found",
            ));
        }
        validate::report("discovery", &new.content)?;
        validate::tags(&new.tags)?;
        if let Some(task) = &new.related_task {
            self.task(task)?;
        }
        let discovery = Discovery {
            agent_id: new.agent_id,
            content: new.content,
            related_task: new.related_task,
            tags: new.tags,
            created_at: now,
        };
        self.discoveries.push(discovery.clone());
        self.changes.discoveries += 1;
        let mut events = vec![Event::Discovery(discovery.clone())];
        if let Some(task) = &discovery.related_task {
            self.changes.tasks.insert(task.clone());
            let node = self.nodes.get_mut(task).expect("checked above");
            node.result_mut()
                .discoveries
                .push(discovery.content.clone());
            events.push(Event::TaskUpdated(node.task()));
        }
        self.last_activity = Some(now);
        Ok((discovery, events))
    }

    /// The discoveries a completing agent lists in its result that it did not report
    /// while it ran, shared on the board as its own: the reference's way for an
    /// outside agent to tell the others what it found.
    pub(super) fn share_discoveries_of(
        &mut self,
        id: &TaskId,
        result: &TaskResult,
        now: Now,
    ) -> Result<Events, BatonError> {
        validate::result_discoveries(&result.discoveries)?;
        let rest = self.nodes[id].rest();
        let agent_id = rest
            .and_then(|rest| rest.claimed_by.clone())
            .unwrap_or_default();
        let reported = rest.and_then(|rest| rest.result.as_ref());
        let fresh: Vec<&String> = (result.discoveries.iter())
            .filter(|content| reported.is_none_or(|earlier| !earlier.discoveries.contains(content)))
            .collect();
        let mut events = Vec::new();
        for content in fresh {
            let discovery = Discovery {
                agent_id: agent_id.clone(),
                content: content.clone(),
                related_task: Some(id.clone()),
                tags: Vec::new(),
                created_at: now,
            };
            self.discoveries.push(discovery.clone());
            self.changes.discoveries += 1;
            events.push(Event::Discovery(discovery));
        }
        Ok(events)
    }
}
