import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { batonCandidates, findWorkspaceRoot, programCandidates } from '../../src/model/workspace';
import {
  activityLine,
  crashMessage,
  errorMessage,
  errorRemedy,
  loadStateQuestion,
  newGoalQuestion,
  runFinishedActions,
  runFinishedMessage,
  runFinishedSeverity,
  taskFailedMessage,
} from '../../src/model/messages';
import { tasksViewMessage } from '../../src/model/statusText';
import { setupReport } from '../../src/model/setup';
import { agentEnvironment } from '../../src/model/agentEnv';
import { runOverrides, Settings } from '../../src/model/settings';
import { parsePriority, unknownDependencies } from '../../src/model/taskInput';
import { formatCost, formatDuration } from '../../src/model/format';
import { result, task } from './fixtures';

test('the workspace is the nearest folder up with .baton or .git, as the CLI finds it', () => {
  const present = new Set(['/home/me/shop/.git']);
  const exists = (p: string) => present.has(p);
  assert.equal(findWorkspaceRoot('/home/me/shop/src/app', exists), '/home/me/shop');
  assert.equal(findWorkspaceRoot('/tmp/loose', exists), '/tmp/loose');
  present.add('/home/me/shop/src/.baton');
  assert.equal(findWorkspaceRoot('/home/me/shop/src/app', exists), '/home/me/shop/src');
});

test('baton is looked for in the setting, else the workspace build, else PATH, else $CARGO_HOME/bin', () => {
  assert.deepEqual(batonCandidates('/opt/baton/bin/baton', '/ws', { PATH: '/usr/bin' }), ['/opt/baton/bin/baton']);
  assert.deepEqual(batonCandidates('~/bin/baton', '/ws', { HOME: '/home/me' }), ['/home/me/bin/baton']);
  const PATH = ['/usr/local/bin', '/usr/bin'].join(path.delimiter);
  assert.deepEqual(batonCandidates('', '/ws', { PATH, HOME: '/home/me' }), [
    '/ws/target/debug/baton',
    '/ws/target/release/baton',
    '/usr/local/bin/baton',
    '/usr/bin/baton',
    '/home/me/.cargo/bin/baton',
  ]);
  assert.deepEqual(batonCandidates('', '/ws', { PATH: '/usr/bin', HOME: '/home/me', CARGO_HOME: '/opt/cargo' }).slice(-1), [
    '/opt/cargo/bin/baton',
  ]);
});

test('the agent command is looked for as a path, else on PATH', () => {
  const PATH = ['/usr/local/bin', '/usr/bin'].join(path.delimiter);
  assert.deepEqual(programCandidates('claude', '/ws', { PATH }), ['/usr/local/bin/claude', '/usr/bin/claude']);
  assert.deepEqual(programCandidates('/opt/claude/bin/claude', '/ws', { PATH }), ['/opt/claude/bin/claude']);
  assert.deepEqual(programCandidates('tools/claude', '/ws', { PATH }), ['/ws/tools/claude']);
});

test("a daemon error is shown as its message, not its stack", () => {
  const error = Object.assign(new Error('task task-099 not found; `baton tasks` lists the ids'), {
    code: -32011,
    data: { kind: 'TaskNotFoundError' },
  });
  assert.equal(errorMessage(error), 'task task-099 not found; `baton tasks` lists the ids');
  assert.equal(errorMessage({ message: 'first line\n    at stack (file.js:1:1)' }), 'first line');
  assert.equal(errorMessage(undefined), 'something went wrong; the “Baton” output channel has details');
});

test('a failed task is announced, a cancelled one or a cascade is not', () => {
  assert.equal(
    taskFailedMessage(task({ id: 'task-002', status: 'failed', result: result({ error: 'tests fail' }) })),
    'Baton: task-002 failed: tests fail',
  );
  assert.equal(taskFailedMessage(task({ id: 'task-003', status: 'cancelled' })), undefined);
  assert.equal(
    taskFailedMessage(task({ id: 'task-004', status: 'failed', failed_dependency: 'task-002' })),
    undefined,
  );
});

test('the end of a run is announced with its result and summary', () => {
  assert.equal(
    runFinishedMessage({ goal: 'g', tasks_completed: 3, tasks_failed: 1, discoveries: 2, summary: 'Added the table.', cost_usd: 1.84 }),
    'Baton: run finished: 3 done, 1 failed, 2 discoveries, $1.84 — Added the table.',
  );
  assert.equal(
    runFinishedMessage({ goal: 'g', tasks_completed: 1, tasks_failed: 0, tasks_cancelled: 2, discoveries: 0, summary: '', cost_usd: 0.5 }),
    'Baton: run finished: 1 done, 0 failed, 2 cancelled, $0.50',
  );
});

test('agent activity reads as a line', () => {
  assert.equal(activityLine('worker-1', 'task-001', 'tool', 'Edit'), 'worker-1 (task-001): uses Edit');
  assert.equal(activityLine('leader', null, 'text', 'Planning\nthe work'), 'leader: Planning the work');
  assert.equal(activityLine('worker-2', 'task-002', 'finished', ''), 'worker-2 (task-002): finished');
  assert.equal(
    activityLine('worker-1', 'task-003', 'rate_limited', 'rate limited; no agent starts before 14:00:00 UTC'),
    'worker-1 (task-003): rate limited; no agent starts before 14:00:00 UTC',
  );
  assert.equal(activityLine('worker-1', null, 'some_later_kind', 'what it said'), 'worker-1: what it said');
});

test('durations and costs read short', () => {
  assert.equal(formatDuration(850), '850ms');
  assert.equal(formatDuration(12_400), '12s');
  assert.equal(formatDuration(185_000), '3m 05s');
  assert.equal(formatDuration(3_720_000), '1h 02m');
  assert.equal(formatCost(0), '$0.00');
  assert.equal(formatCost(0.0042), '$0.0042');
  assert.equal(formatCost(1.844), '$1.84');
});

test('a typed priority is 1 to 10, empty for 5; anything else says so', () => {
  assert.deepEqual(parsePriority(''), { priority: 5 });
  assert.deepEqual(parsePriority(' 2 '), { priority: 2 });
  assert.deepEqual(parsePriority('10'), { priority: 10 });
  for (const typed of ['0', '11', '2.5', '-1', 'high']) {
    const parsed = parsePriority(typed);
    assert.ok('error' in parsed, `${typed} is refused`);
    assert.match(parsed.error, /from 1 \(most urgent\) to 10/);
  }
});

test('a typed dependency that matches no task is named, a filter is not', () => {
  const candidates = [
    { id: 'task-001', description: 'Write the greeting module' },
    { id: 'task-002', description: 'Add tests' },
  ];
  assert.equal(unknownDependencies('', candidates), undefined);
  assert.equal(unknownDependencies('task-00', candidates), undefined);
  assert.equal(unknownDependencies('greeting', candidates), undefined);
  assert.match(unknownDependencies('task-099', candidates) ?? '', /^task-099 matches no task/);
  assert.match(unknownDependencies('task-001, task-7', candidates) ?? '', /^task-7 matches no task/);
});

test('settings are sent with the run, only those that are set', () => {
  const settings: Settings = {
    cliPath: '',
    daemonPath: '',
    maxWorkers: 0,
    model: '',
    taskTimeout: 0,
    agentCommand: '',
    permissionMode: '',
    allowedTools: [],
    taskBudgetUsd: 0,
    runBudgetUsd: 0,
    verifyCommand: ' ',
    review: 'workspace',
    notifyOnRunFinished: true,
    notifyOnTaskFailure: true,
  };
  assert.equal(runOverrides(settings), undefined);
  assert.deepEqual(
    runOverrides({
      ...settings,
      maxWorkers: 2,
      model: ' claude-opus ',
      taskTimeout: 90,
      agentCommand: ' /opt/claude ',
      permissionMode: 'plan',
      allowedTools: ['Read', ' ', 'Bash(npm test)'],
      taskBudgetUsd: 0.5,
      runBudgetUsd: 3,
      verifyCommand: ' npm test ',
      review: 'on',
    }),
    {
      max_workers: 2,
      model: 'claude-opus',
      task_timeout: 90,
      agent_command: '/opt/claude',
      permission_mode: 'plan',
      allowed_tools: ['Read', 'Bash(npm test)'],
      task_budget_usd: 0.5,
      run_budget_usd: 3,
      verify_command: 'npm test',
      review: true,
    },
  );
  assert.deepEqual(runOverrides({ ...settings, review: 'off' }), { review: false });
});

test('an error the daemon marked with a cause gets the editor’s words and buttons', () => {
  const error = (cause: string) =>
    Object.assign(new Error('a run is already going; `baton status` shows it, `baton stop` ends it'), {
      data: { kind: 'OrchestrationError', cause },
    });
  const going = errorRemedy(error('run_going'), 'baton.runPredefined');
  assert.ok(going);
  assert.doesNotMatch(going.message, /`baton/);
  assert.deepEqual(
    going.actions.map((a) => a.action),
    ['stop', 'showStatus'],
  );
  assert.deepEqual(errorRemedy(error('no_goal'), 'baton.runLeader')?.actions.map((a) => a.action), ['init']);
  const nothing = errorRemedy(error('nothing_to_run'), 'baton.runPredefined');
  assert.doesNotMatch(nothing?.message ?? '`baton', /`baton/);
  assert.deepEqual(nothing?.actions.map((a) => a.action), ['addTask']);
  assert.deepEqual(errorRemedy(error('not_a_git_repository'), 'baton.runPredefined')?.actions.map((a) => a.action), [
    'sharedIsolation',
  ]);
  const merge = errorRemedy(error('not_a_git_repository'), 'baton.merge');
  assert.match(merge?.message ?? '', /nothing to merge/);
  assert.deepEqual(merge?.actions, []);
  assert.equal(errorRemedy(error('something_newer'), 'baton.merge'), undefined);
  assert.equal(errorRemedy(new Error('plain'), 'baton.merge'), undefined);
});

test('a run that did nothing is an error, one with failures a warning', () => {
  const run = { goal: 'g', discoveries: 0, summary: '', cost_usd: 0 };
  assert.equal(runFinishedSeverity({ ...run, tasks_completed: 0, tasks_failed: 0 }), 'error');
  assert.equal(runFinishedSeverity({ ...run, tasks_completed: 0, tasks_failed: 2 }), 'error');
  assert.equal(runFinishedSeverity({ ...run, tasks_completed: 1, tasks_failed: 1 }), 'warning');
  assert.equal(runFinishedSeverity({ ...run, tasks_completed: 3, tasks_failed: 0 }), 'info');
  assert.equal(runFinishedSeverity({ ...run, tasks_completed: 3, tasks_failed: 0, stopped: 'the run budget is spent' }), 'warning');
});

test('Load State asks before it replaces tasks, and says what it replaces', () => {
  assert.equal(loadStateQuestion(0, 0, 'saved.json'), undefined);
  assert.match(loadStateQuestion(4, 1, 'saved.json') ?? '', /^Replace the 4 tasks and 1 discovery of this workspace with those of saved\.json\?.*put aside in the workspace's history/);
});

test('the Tasks view says when the leader plans and when it may be out of date', () => {
  assert.equal(tasksViewMessage({ planning: false, stale: false }), undefined);
  assert.equal(tasksViewMessage({ planning: true, stale: false, status: { goal: 'Greet' } }), 'The leader is planning “Greet”…');
  assert.match(tasksViewMessage({ planning: true, stale: true }) ?? '', /may be out of date/);
});

test('Check Setup says what is there and what to do about what is not', () => {
  const ready = setupReport({
    agentCommand: 'claude',
    agentPath: '/usr/bin/claude',
    agentVersion: '2.0.1 (Claude Code)\n',
    apiKey: true,
    login: false,
    baton: { path: '/home/me/.cargo/bin/baton' },
  });
  assert.equal(ready.ready, true);
  assert.deepEqual(ready.lines, [
    '✓ baton: /home/me/.cargo/bin/baton',
    '✓ Claude Code: /usr/bin/claude (2.0.1 (Claude Code))',
    '✓ ANTHROPIC_API_KEY is set',
  ]);
  const missing = setupReport({ agentCommand: 'claude', apiKey: false, login: false, baton: { tried: ['/usr/bin/baton', '/home/me/.cargo/bin/baton'] } });
  assert.equal(missing.ready, false);
  assert.match(missing.lines[0], /^✗ baton was not found \(looked for \/usr\/bin\/baton, \/home\/me\/\.cargo\/bin\/baton\)/);
  assert.match(missing.lines[1], /^✗ the agents' program “claude” was not found; install Claude Code/);
  assert.match(missing.lines[2], /^✗ no ANTHROPIC_API_KEY/);
  assert.equal(setupReport({ agentCommand: 'claude', agentPath: '/c', apiKey: false, login: true, baton: { path: '/b' } }).ready, true);
});

test('a crash notice says when the daemon was last seen, and whether the run went on', () => {
  const at = new Date(2026, 11, 1, 22, 5, 9).toISOString();
  assert.equal(
    crashMessage({ stopped_at: at, log_file: '.baton/logs/batond.log', run_resumed: true }),
    'Baton: the daemon stopped unexpectedly (last seen working at 2026-12-01 22:05:09) and was started again; the run that was going was resumed',
  );
  assert.doesNotMatch(crashMessage({ stopped_at: at, log_file: 'x', run_resumed: false }), /resumed/);
});

test("a run takes the editor's model and proxy variables, and nothing else of its environment", () => {
  assert.deepEqual(
    agentEnvironment({
      ANTHROPIC_API_KEY: 'sk-ant',
      CLAUDE_CODE_USE_BEDROCK: '1',
      AWS_REGION: 'eu-west-1',
      https_proxy: 'http://proxy:3128',
      NODE_EXTRA_CA_CERTS: '/etc/ca.pem',
      PATH: '/usr/bin',
      HOME: '/home/me',
      SECRET_TOKEN: 'no',
      UNSET: undefined,
    }),
    {
      ANTHROPIC_API_KEY: 'sk-ant',
      CLAUDE_CODE_USE_BEDROCK: '1',
      AWS_REGION: 'eu-west-1',
      https_proxy: 'http://proxy:3128',
      NODE_EXTRA_CA_CERTS: '/etc/ca.pem',
    },
  );
});

test('a new goal asks before it puts a board with finished work aside', () => {
  const open = [task({ id: 'task-001' })];
  const finished = [task({ id: 'task-001', status: 'done' }), task({ id: 'task-002' })];
  assert.equal(newGoalQuestion('Greet', 'Greet', finished, 1), undefined, 'the same goal');
  assert.equal(newGoalQuestion('Greet', 'Wave', open, 1), undefined, 'nothing finished: the tasks stay anyway');
  assert.match(newGoalQuestion('Greet', 'Wave', finished, 1) ?? '', /^A new goal starts an empty board: the 2 tasks and 1 discovery of “Greet” are put aside/);
});

test('a finished run offers its report when the daemon wrote one', () => {
  const result = { goal: 'g', tasks_completed: 1, tasks_failed: 0, discoveries: 0, summary: '', cost_usd: 0 };
  assert.deepEqual(runFinishedActions(result), ['Show Status']);
  assert.deepEqual(runFinishedActions({ ...result, report: '.baton/logs/reports/run-1.md' }), ['Open Report', 'Show Status']);
});
