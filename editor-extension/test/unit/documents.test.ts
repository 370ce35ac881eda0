import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { renderStatusReport, renderTaskLog } from '../../src/model/documents';
import { localTime } from '../../src/model/format';
import { buildDiscoveryList } from '../../src/model/discoveries';
import { discovery, result, status, task } from './fixtures';

test('a task log reads as a transcript', () => {
  const log = [
    '{"type":"system","subtype":"init","session_id":"s","model":"claude-sonnet-4-20250514"}',
    '{"type":"stream_event","event":{"type":"message_start","message":{"id":"m1","usage":{"input_tokens":100,"output_tokens":1}}}}',
    '{"type":"assistant","message":{"content":[{"type":"text","text":"Looking at the schema"},{"type":"tool_use","name":"Read","input":{"file_path":"db/schema.sql"}}]}}',
    '{"type":"stream_event","event":{"type":"message_delta","usage":{"output_tokens":40}}}',
    '{"type":"user","message":{"content":[{"type":"tool_result","content":"CREATE TABLE users"}]}}',
    '{"type":"result","subtype":"success","is_error":false,"result":"done","total_cost_usd":0.01,"num_turns":1,"duration_ms":500,"session_id":"s"}',
    '{"type":"result","subtype":"success","is_error":false,"result":"again","total_cost_usd":0.05,"model_usage_since_last_result":{"claude-sonnet-4-20250514":{"costUSD":0.04}},"num_turns":1,"duration_ms":300,"session_id":"s"}',
    '{"type":"baton_verify","command":"make check","passed":false,"status":2,"output":"test parse ... FAILED\\n"}',
    '{"type":"baton_verify","command":"make check","passed":false,"outcome":"stopped","status":null,"output":""}',
    '{"type":"baton_verify","command":"make check","passed":false,"outcome":"timed_out","status":null,"output":"still waiting"}',
    '{"type":"baton","subtype":"sent_back","text":"Merging baton/integration into your work conflicts in app.txt; its agent is resumed"}',
    '{"type":"baton","subtype":"merged","text":"into baton/integration: 1 file(s) modified, 0 created"}',
    'not json at all',
    '',
  ].join('\n');
  assert.equal(
    renderTaskLog('task-001', log),
    [
      '# Agent log of task-001',
      '',
      '',
      '── session s, model claude-sonnet-4-20250514 ──',
      '[assistant] Looking at the schema',
      '[tool] Read {"file_path":"db/schema.sql"}',
      '[tool result] CREATE TABLE users',
      '[result: success, $0.01, 1 turn, 500ms]',
      '    done',
      '[result: success, $0.04, 1 turn, 300ms]',
      '    again',
      '[baton] verification failed (exit status 2): make check',
      '    test parse ... FAILED',
      '[baton] verification stopped: make check',
      '[baton] verification timed out: make check',
      '    still waiting',
      '[baton] sent back: Merging baton/integration into your work conflicts in app.txt; its agent is resumed',
      '[baton] merged: into baton/integration: 1 file(s) modified, 0 created',
      'not json at all',
      '',
    ].join('\n'),
  );
});

test('an empty log says so', () => {
  assert.match(renderTaskLog('task-009', ''), /no agent has worked on this task yet/);
});

test('the status report has the goal, progress, tasks, configuration and daemon', () => {
  const report = renderStatusReport({
    status: status({
      master_plan: '1. Schema',
      progress: {
        total_tasks: 2,
        percent_complete: 50,
        by_status: { available: 0, claimed: 0, in_progress: 0, done: 1, failed: 1, cancelled: 0 },
      },
      discoveries: [discovery()],
      cost_usd: 0.5,
    }),
    tasks: [
      task({ id: 'task-001', status: 'done', usage: { cost_usd: 0.5, input_tokens: 1, output_tokens: 1, turns: 1, duration_ms: 1 } }),
      task({ id: 'task-002', status: 'failed', result: result({ error: 'boom' }) }),
    ],
    config: {
      max_workers: 2,
      model: 'claude-sonnet-4-20250514',
      task_timeout: 600,
      max_attempts: 1,
      task_budget_usd: null,
      run_budget_usd: 5,
      agent_command: 'claude',
      agent_args: [],
      permission_mode: 'acceptEdits',
      allowed_tools: [],
      isolation: null,
      leader_prompt: null,
      worker_prompt: null,
    },
    daemon: { version: '0.1.0', pid: 42, workspace: '/tmp/shop', socket: '/tmp/baton-0/x.sock', log_file: '/tmp/shop/.baton/logs/d' },
    now: new Date('2026-11-30T03:00:00Z'),
  });
  assert.match(report, /^Goal: {6}Add user accounts to the shop$/m);
  assert.match(report, /^Progress: {2}1\/2 done \(50%\)$/m);
  assert.equal(report.match(/failed/g)?.length, 2, 'the Tasks line and the failed task say failed, the progress line does not');
  assert.match(report, /^- task-001 \[done\] work on task-001 {2}\(P5, \$0\.50\)$/m);
  assert.match(report, /^ {4}error: boom$/m);
  assert.match(report, /^max_workers: {3}2$/m);
  assert.match(report, /^budgets: {7}task none, run \$5\.00$/m);
  assert.match(report, /^batond 0\.1\.0, pid 42$/m);
  assert.match(report, /^- worker-1 \(task-001\): the shop already has a sessions table$/m);
});

test('the status report says which outside claim a run waits for', () => {
  const report = renderStatusReport({
    status: status({
      run: {
        mode: 'predefined',
        started_at: '2026-11-30T02:45:57Z',
        cost_usd: 0,
        paused_until: null,
        stopped: null,
        waiting_for: [{ task_id: 'task-001', agent_id: 'me', returns_at: '2026-11-30T02:55:57Z' }],
      },
    }),
    tasks: [],
    now: new Date('2026-11-30T03:00:00Z'),
  });
  assert.ok(
    report.includes(`waiting for task-001, claimed by me outside this run: back in the queue at ${localTime('2026-11-30T02:55:57Z')} unless finished first`),
    report,
  );
});

test('timestamps read in local time', () => {
  const at = new Date(2026, 10, 30, 14, 5, 9);
  assert.equal(localTime(at.toISOString()), '2026-11-30 14:05:09');
  assert.equal(localTime('not a time'), 'not a time');
});

test('discoveries come newest first, with agent, task and tags', () => {
  const list = buildDiscoveryList([
    discovery({ content: 'older', created_at: '2026-11-30T01:00:00Z' }),
    discovery({ content: 'newer', created_at: '2026-11-30T02:00:00Z', related_task: null, tags: [] }),
  ]);
  assert.deepEqual(
    list.map((node) => [node.label, node.description]),
    [
      ['newer', 'worker-1'],
      ['older', 'worker-1 · task-001 · #schema'],
    ],
  );
  assert.match(list[1].tooltip, /Tags: schema/);
});
