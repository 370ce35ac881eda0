/** The Discoveries view as plain data: newest first, with who found it and where. */

import { Discovery } from './protocol';
import { oneLine } from './format';

export interface DiscoveryNode {
  kind: 'discovery';
  label: string;
  /** `worker-1 · task-001 · #schema` */
  description: string;
  tooltip: string;
  task: string | null;
}

export function buildDiscoveryList(discoveries: readonly Discovery[]): DiscoveryNode[] {
  return discoveries
    .map((discovery, index) => ({ discovery, index }))
    .sort((a, b) => b.discovery.created_at.localeCompare(a.discovery.created_at) || b.index - a.index)
    .map(({ discovery }) => discoveryNode(discovery));
}

export function discoveryNode(discovery: Discovery): DiscoveryNode {
  const parts = [discovery.agent_id];
  if (discovery.related_task) {
    parts.push(discovery.related_task);
  }
  parts.push(...discovery.tags.map((tag) => `#${tag}`));
  const tooltip = [
    discovery.content,
    '',
    `Agent: ${discovery.agent_id}`,
    `Task: ${discovery.related_task ?? '—'}`,
    `Tags: ${discovery.tags.length > 0 ? discovery.tags.join(', ') : '—'}`,
    `Shared: ${discovery.created_at}`,
  ].join('\n');
  return {
    kind: 'discovery',
    label: oneLine(discovery.content, 100),
    description: parts.join(' · '),
    tooltip,
    task: discovery.related_task,
  };
}
