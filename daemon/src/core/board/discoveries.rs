//! What agents found: discoveries, each recorded on the board and on its task.

use baton_protocol::methods::NewDiscovery;
use baton_protocol::{BatonError, Discovery, Event};

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
}
