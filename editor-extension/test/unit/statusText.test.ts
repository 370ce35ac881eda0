import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { progressLine, statusBarText, StatusView } from '../../src/model/statusText';
import { ByStatus } from '../../src/model/protocol';

const none: ByStatus = { available: 0, claimed: 0, in_progress: 0, done: 0, failed: 0, cancelled: 0 };

function view(overrides: Partial<StatusView>): StatusView {
  return { connection: 'connected', runActive: false, counts: none, busyAgents: [], ...overrides };
}

test('idle without tasks says idle', () => {
  assert.equal(statusBarText(view({})).text, '$(check) Baton: idle');
});

test('idle with tasks says how many are done', () => {
  const counts = { ...none, done: 2, available: 1 };
  assert.equal(statusBarText(view({ counts })).text, '$(check) Baton: idle · 2/3 done');
});

test('idle with a failed task warns and counts it', () => {
  const counts = { ...none, done: 1, failed: 1 };
  assert.equal(statusBarText(view({ counts })).text, '$(warning) Baton: idle · 1/2 done, 1 failed');
});

test('a running run shows done over total, failures and the busy agents', () => {
  const counts = { ...none, done: 4, failed: 1, in_progress: 2, available: 3 };
  const text = statusBarText(view({ runActive: true, counts, busyAgents: ['worker-1', 'worker-2'], percentage: 50 }));
  assert.equal(text.text, '$(sync~spin) Baton: 4/10 done, 1 failed, 2 agents');
  assert.match(text.tooltip, /50% finished/);
  assert.match(text.tooltip, /worker-1, worker-2/);
});

test('one agent is an agent, not agents', () => {
  const counts = { ...none, in_progress: 1 };
  assert.equal(statusBarText(view({ runActive: true, counts, busyAgents: ['leader'] })).text, '$(sync~spin) Baton: 0/1 done, 1 agent');
});

test('a lost daemon shows as disconnected with the reason', () => {
  const text = statusBarText(view({ connection: 'disconnected', error: 'cannot reach the daemon' }));
  assert.equal(text.text, '$(debug-disconnect) Baton: disconnected');
  assert.match(text.tooltip, /cannot reach the daemon/);
});

test('a workspace without baton invites to begin, and a failed start says why', () => {
  assert.equal(statusBarText(view({ connection: 'absent' })).text, '$(organization) Baton');
  const failed = statusBarText(view({ connection: 'absent', error: 'the baton CLI was not found' }));
  assert.equal(failed.text, '$(error) Baton');
  assert.match(failed.tooltip, /not found/);
});

test('the progress line counts cancelled tasks too', () => {
  assert.equal(progressLine({ ...none, done: 1, cancelled: 2 }), '1/3 done, 2 cancelled');
});

test('the tooltip names the baton CLI in use, and every path tried when none was found', () => {
  const counts = { available: 0, claimed: 0, in_progress: 0, done: 0, failed: 0, cancelled: 0 };
  const idle = statusBarText({ connection: 'connected', runActive: false, counts, busyAgents: [], cli: '/home/me/.cargo/bin/baton' });
  assert.match(idle.tooltip, /^baton: \/home\/me\/\.cargo\/bin\/baton$/m);
  const missing = statusBarText({
    connection: 'absent',
    runActive: false,
    counts,
    busyAgents: [],
    error: 'the baton CLI was not found; install it (`cargo install --path cli`) or set “baton.path”. Looked for: /usr/bin/baton, /home/me/.cargo/bin/baton',
  });
  assert.match(missing.tooltip, /Looked for: \/usr\/bin\/baton, \/home\/me\/\.cargo\/bin\/baton/);
});

test('a run shows the daemon’s count of its own tasks, not the earlier runs’ work on the board', () => {
  const counts = { ...none, done: 17, in_progress: 1 };
  const running = view({ runActive: true, counts, busyAgents: ['worker-1'], percentage: 0, progressMessage: '0/1 done, 1 agent' });
  assert.equal(statusBarText(running).text, '$(sync~spin) Baton: 0/1 done, 1 agent');
  assert.match(statusBarText(running).tooltip, /Daemon: 0\/1 done, 1 agent/);
  const summing = statusBarText({ ...running, phase: 'summarising', progressMessage: '1/1 done, 0 agents' });
  assert.equal(summing.text, '$(sync~spin) Baton: summing up…');
});

test('the status bar says what the run is doing when the daemon says', () => {
  const counts = { available: 1, claimed: 0, in_progress: 0, done: 2, failed: 0, cancelled: 0 };
  const base = { connection: 'connected' as const, runActive: true, counts, busyAgents: ['leader'] };
  assert.equal(statusBarText({ ...base, phase: 'planning' }).text, '$(sync~spin) Baton: planning…');
  assert.equal(statusBarText({ ...base, phase: 'summarising' }).text, '$(sync~spin) Baton: summing up · 2/3 done');
  assert.equal(statusBarText({ ...base, phase: 'working' }).text, '$(sync~spin) Baton: 2/3 done, 1 agent');
  assert.equal(statusBarText(base).text, '$(sync~spin) Baton: 2/3 done, 1 agent');
});
