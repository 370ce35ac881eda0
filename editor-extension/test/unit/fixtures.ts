/** Wire objects for the unit tests, shaped as the daemon sends them. */

import { Discovery, Status, Task } from '../../src/model/protocol';

export function task(overrides: Partial<Task> & { id: string }): Task {
  return {
    description: `work on ${overrides.id}`,
    status: 'available',
    priority: 5,
    claimed_by: null,
    dependencies: [],
    context: { files: [], hints: '', parent_task: null },
    result: null,
    created_at: '2026-11-30T02:45:57.293592Z',
    claimed_at: null,
    completed_at: null,
    attempts: 0,
    usage: { cost_usd: 0, input_tokens: 0, output_tokens: 0, turns: 0, duration_ms: 0 },
    ...overrides,
  };
}

export function result(overrides: Partial<NonNullable<Task['result']>> = {}): NonNullable<Task['result']> {
  return {
    output: '',
    files_modified: [],
    files_created: [],
    error: null,
    discoveries: [],
    subtasks_created: [],
    ...overrides,
  };
}

export function discovery(overrides: Partial<Discovery> = {}): Discovery {
  return {
    agent_id: 'worker-1',
    content: 'the shop already has a sessions table',
    related_task: 'task-001',
    tags: ['schema'],
    created_at: '2026-11-30T02:45:58.510454Z',
    ...overrides,
  };
}

export function status(overrides: Partial<Status> = {}): Status {
  return {
    goal: 'Add user accounts to the shop',
    master_plan: '',
    running: false,
    progress: {
      total_tasks: 0,
      percent_complete: 0,
      by_status: { available: 0, claimed: 0, in_progress: 0, done: 0, failed: 0, cancelled: 0 },
    },
    agents: [],
    discoveries: [],
    run: null,
    cost_usd: 0,
    last_activity: null,
    ...overrides,
  };
}
