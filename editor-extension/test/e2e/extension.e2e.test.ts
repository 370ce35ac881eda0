/**
 * The extension in a real VS Code (code-server) in headless Chromium, on a real
 * daemon: commands from the palette, the status bar and the Tasks view following a
 * run, notifications, context menus, state files, a daemon restart. The agents are
 * test/fake-claude, which prints Claude Code's stream-json after a short pause.
 * Screenshots go to test-artifacts/.
 */

import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Browser } from 'playwright-core';
import {
  ARTIFACTS_DIR,
  CodeServer,
  findTools,
  launchBrowser,
  makeSandbox,
  Sandbox,
  Tools,
  waitUntil,
  Workbench,
  writeUserSettings,
} from './harness';

let tools: Tools;
let sandbox: Sandbox;
let server: CodeServer;
let browser: Browser;
let bench: Workbench;
let failed = false;

/** One step of the scenario; a failure leaves a screenshot and skips the rest. */
function step(name: string, body: () => Promise<void>): void {
  test(name, async (t) => {
    if (failed) {
      t.skip('an earlier step failed');
      return;
    }
    try {
      await body();
    } catch (error) {
      failed = true;
      await bench?.screenshot(`failed-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`).catch(() => undefined);
      throw error;
    }
  });
}

function baton(...args: string[]): string {
  return execFileSync(tools.baton, ['-C', sandbox.workspace, ...args], { encoding: 'utf8', timeout: 30_000 });
}

before(async () => {
  tools = findTools();
  fs.rmSync(ARTIFACTS_DIR, { recursive: true, force: true });
  sandbox = makeSandbox();
  writeUserSettings(sandbox, {
    'baton.path': tools.baton,
    // A setting for the runs the editor starts; the workspace keeps its own (3).
    'baton.run.maxWorkers': 2,
  });
  fs.writeFileSync(
    path.join(sandbox.files, 'seed-state.json'),
    JSON.stringify({
      goal: 'Greet people',
      tasks: [
        {
          id: 'task-001',
          description: 'Write the greeting module',
          status: 'available',
          priority: 1,
          created_at: '2026-11-30T00:00:00Z',
        },
      ],
      discoveries: [
        {
          agent_id: 'scout',
          content: 'the README promises a friendly hello',
          related_task: 'task-001',
          tags: ['docs'],
          created_at: '2026-11-30T00:00:01Z',
        },
      ],
      config: { agent_command: tools.fakeClaude, max_workers: 3 },
    }),
  );
  fs.writeFileSync(
    path.join(sandbox.files, 'broken-state.json'),
    JSON.stringify({
      tasks: [
        {
          id: 'task-001',
          description: 'Depends on nothing that exists',
          status: 'available',
          priority: 1,
          dependencies: ['task-000'],
          created_at: '2026-11-30T00:00:00Z',
        },
      ],
    }),
  );
  server = new CodeServer(tools, sandbox);
  server.installExtension();
  await server.start();
  browser = await launchBrowser(tools);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  bench = new Workbench(page);
});

after(async () => {
  await browser?.close().catch(() => undefined);
  server?.stop();
  if (sandbox) {
    try {
      baton('daemon', 'stop');
    } catch {
      // No daemon left.
    }
    if (!failed && !process.env.BATON_E2E_KEEP) {
      fs.rmSync(sandbox.root, { recursive: true, force: true });
    } else {
      console.log(`sandbox kept at ${sandbox.root}`);
    }
  }
});

step('the extension starts quietly in a workspace that does not use baton yet', async () => {
  await bench.open(server.url, sandbox.workspace);
  assert.equal(await bench.statusText(), 'Baton');
  assert.equal(fs.existsSync(path.join(sandbox.workspace, '.baton')), false, 'no daemon is started unasked');
  await bench.showBatonViews();
  await bench.widenSideBar(620);
  await bench.pane('Tasks').getByText('No tasks yet').waitFor({ timeout: 10_000 });
  await bench.screenshot('01-opened');
  await bench.statusItem().click();
  await bench.waitForNotification(/baton is not started in this folder yet/);
  assert.equal(fs.existsSync(path.join(sandbox.workspace, '.baton')), false, 'looking at the status starts nothing');
  await bench.clearNotifications();
});

step('Load State starts the daemon and shows the tasks and discoveries of the file', async () => {
  await bench.runCommand('Baton: Load State');
  await bench.answerFileDialog(path.join(sandbox.files, 'seed-state.json'), `${sandbox.workspace}/`);
  await bench.waitForNotification(/loaded 1 task from seed-state\.json/);
  await bench.waitForStatus(/Baton: idle · 0\/1 done$/);
  await bench.waitForRow('Tasks', 'Available (1)');
  await bench.waitForRow('Tasks', 'task-001 Write the greeting module');
  await bench.waitForRow('Discoveries', 'the README promises a friendly hello');
  await bench.clearNotifications();
  assert.ok(fs.existsSync(path.join(sandbox.workspace, '.baton')), 'the daemon keeps its state in the workspace');
});

step('Check Setup says what the agents need and where it found it', async () => {
  await bench.runCommand('Baton: Check Setup');
  const toast = await bench.waitForNotification(/✓ baton: .*✓ Claude Code: .*fake-claude \(0\.0\.0 \(fake Claude Code\)\)/);
  assert.match((await toast.innerText()) ?? '', /ANTHROPIC_API_KEY|login/);
  await bench.clearNotifications();
});

step('Initialize Goal sets the goal through two input boxes', async () => {
  await bench.runCommand('Baton: Initialize Goal');
  await bench.answer('Initialize Goal (1/2)', 'Greet people in their own language');
  await bench.answer('Initialize Goal (2/2)', '');
  await waitUntil(
    () => JSON.parse(baton('status', '--json')).goal === 'Greet people in their own language',
    10_000,
    'the goal to be set',
  );
});

step('Add Task asks for description, priority, dependencies, context files and hints', async () => {
  // An open file is not taken for a context file unasked.
  await bench.openFile('greeting.js');
  await bench.runCommand('Baton: Add Task');
  await bench.answer('Add Task (1/5)', 'Add tests for the greeting');
  // A priority out of range is refused where it was typed, and the wizard stays open.
  await bench.type('Add Task (2/5)', '11');
  await bench.refusedWith(/“11” is not a priority: type a whole number from 1 \(most urgent\) to 10/);
  await bench.type('Add Task (2/5)', '0');
  await bench.refusedWith(/“0” is not a priority/);
  await bench.answer('Add Task (2/5)', '2');
  // So is a dependency that does not exist.
  await bench.type('Add Task (3/5)', 'task-099');
  await bench.refusedWith(/task-099 matches no task to depend on/);
  await bench.type('Add Task (3/5)', '');
  await bench.quickInput().locator('.monaco-list-row', { hasText: 'matches no task' }).waitFor({ state: 'hidden', timeout: 10_000 });
  await bench.pickMany('Add Task (3/5)', ['task-001']);
  await bench.pickMany('Add Task (4/5)', ['README.md']);
  await bench.answer('Add Task (5/5)', 'Cover the default language');
  await bench.waitForRow('Tasks', 'task-002 Add tests for the greeting');

  await bench.runCommand('Baton: Add Task');
  await bench.answer('Add Task (1/5)', 'Document the greeting');
  await bench.answer('Add Task (2/5)', '');
  await bench.pickMany('Add Task (3/5)', []);
  await bench.pickMany('Add Task (4/5)', []);
  await bench.answer('Add Task (5/5)', '');
  await bench.waitForRow('Tasks', 'Available (3)');

  const added = JSON.parse(baton('show', 'task-002', '--json'));
  assert.equal(added.description, 'Add tests for the greeting');
  assert.equal(added.priority, 2);
  assert.deepEqual(added.dependencies, ['task-001']);
  assert.deepEqual(added.context.files, ['README.md']);
  assert.equal(added.context.hints, 'Cover the default language');
  assert.equal(JSON.parse(baton('show', 'task-003', '--json')).priority, 5);
  await bench.waitForStatus(/Baton: idle · 0\/3 done$/);
  await bench.screenshot('02-tasks-added');
});

step('a missing agent command is an error that says how to fix it, and no run starts', async () => {
  const agent = JSON.parse(baton('config', '--json')).agent_command;
  baton('config', 'agent_command', '/nonexistent/claude');
  try {
    await bench.runCommand('Baton: Run Predefined Tasks');
    const toast = await bench.waitForNotification(/the agents’ program “\/nonexistent\/claude” .* was not found/);
    assert.match((await toast.innerText()) ?? '', /Open Setting/);
    assert.match(await bench.statusText(), /Baton: idle · 0\/3 done$/);
    assert.equal(JSON.parse(baton('status', '--json')).run, null, 'no run started');
    await bench.screenshot('02b-agent-missing');
  } finally {
    baton('config', 'agent_command', agent);
  }
  await bench.clearNotifications();
});

step('Run Predefined Tasks: the status bar and the Tasks view follow the run', async () => {
  await bench.runCommand('Baton: Run Predefined Tasks');
  // Two agents at once: the run default of the settings (max_workers 2).
  await bench.waitForStatus(/Baton: 0\/3 done, 2 working, 2 agents/, 20_000);
  await bench.waitForRow('Tasks', /In progress \(2\)|Claimed \(2\)/);
  await bench.screenshot('03-run-in-progress');
  // The two first tasks done, the one that waited for task-001 at work.
  await bench.waitForStatus(/Baton: 2\/3 done, 1 working, 1 agent$/, 20_000);
  await bench.waitForRow('Tasks', 'Done (2)');
  // The daemon's work-done progress ($/progress) reaches the status bar's tooltip.
  await waitUntil(
    async () => /Running — \d+% finished/.test((await bench.statusItem().getAttribute('aria-label')) ?? ''),
    10_000,
    'the status bar to show the percentage the daemon reported',
  );
  await bench.screenshot('04-run-half-way');
  const finished = await bench.waitForNotification(/run finished: 3 done, 0 failed/, 30_000);
  await bench.waitForStatus(/Baton: idle · 3\/3 done$/);
  await bench.waitForRow('Tasks', 'Done (3)');
  await bench.waitForRow('Discoveries', 'fake agent finished task-002');
  await bench.row('Tasks', 'task-002 Add tests for the greeting').hover();
  await bench.screenshot('05-run-finished');
  assert.match((await finished.textContent()) ?? '', /\$0\.0\d/);
  const description = await bench.row('Tasks', 'task-002').textContent();
  assert.match(description ?? '', /P2 · after task-001 · worker-\d · \d+s · \$0\.01/);
  await bench.clearNotifications();
});

step("the status bar opens the status; the editor's settings governed the run, not the workspace", async () => {
  await bench.statusItem().click();
  await bench.waitForEditor('Baton Status.md', /Progress: +3\/3 done/);
  await bench.waitForEditor('Baton Status.md', /Goal: +Greet people in their own language/);
  await bench.screenshot('06-status');
  // The run had two agents at once (baton.run.maxWorkers), and the workspace's
  // configuration is what it was: the CLI and the next run go by it.
  assert.equal(baton('config', 'max_workers').trim(), '3');
});

step('Show Task Log shows what the agent did', async () => {
  await bench.runCommand('Baton: Show Task Log');
  await bench.quickInput().locator('.monaco-list-row', { hasText: 'task-001' }).first().waitFor({ timeout: 10_000 });
  await bench.answer('Show Task Log', 'task-001');
  await bench.waitForEditor('task-001.log', /\[result: success, \$0\.01, 1 turn, 500ms\]/);
  assert.match(await bench.editorText(), /\[tool\] Write/);
  await bench.screenshot('07-task-log');
});

step('the Tasks view opens the files a task changed', async () => {
  const row = await bench.waitForRow('Tasks', 'task-003 Document the greeting');
  await bench.contextMenu(row, 'Open Changed Files');
  // Not in the checkout yet: opened from the integration branch, and titled so.
  await bench.waitForEditor('task-003.txt (baton/integration)', /written by worker-\d for task-003/);
  await bench.waitForNotification(/task-003\.txt is shown as it is on branch baton\/integration/);
  await bench.clearNotifications();
});

step('agent activity goes to the Baton output channel', async () => {
  await bench.runCommand('Baton: Show Agent Activity');
  const output = bench.page.locator('.part.panel .monaco-editor .view-lines').first();
  await waitUntil(
    async () => /worker-\d \(task-00\d\): uses Write/.test((await output.innerText().catch(() => '')).replace(/\u00a0/g, ' ')),
    15_000,
    'the output channel to show agent activity',
  );
  await bench.screenshot('08-agent-activity');
});

step('a failing task is announced, with its log one click away', async () => {
  await bench.runCommand('Baton: Add Task');
  await bench.answer('Add Task (1/5)', 'Translate the greeting [fail]');
  await bench.answer('Add Task (2/5)', '');
  await bench.pickMany('Add Task (3/5)', []);
  await bench.pickMany('Add Task (4/5)', []);
  await bench.answer('Add Task (5/5)', '');
  await bench.waitForRow('Tasks', 'task-004 Translate the greeting');
  await bench.runCommand('Baton: Run Predefined Tasks');
  const toast = await bench.waitForNotification(/task-004 failed: .*the fake agent was told to fail/, 30_000);
  await bench.waitForNotification(/run finished: 0 done, 1 failed/, 30_000);
  await bench.waitForStatus(/Baton: idle · 3\/4 done, 1 failed$/);
  await bench.waitForRow('Tasks', 'Failed (1)');
  await bench.screenshot('09-task-failed');
  await toast.locator('.monaco-button', { hasText: 'Show Log' }).click();
  await bench.waitForEditor('task-004.log', /\[result: error/);
  await bench.clearNotifications();
});

step('Retry with no run going offers to run it now', async () => {
  await bench.contextMenu(await bench.waitForRow('Tasks', 'task-004'), 'Retry Task');
  const toast = await bench.waitForNotification(/task-004 reopened; it waits for a run/);
  await bench.waitForRow('Tasks', 'Available (1)');
  await toast.locator('.monaco-button', { hasText: 'Run Now' }).click();
  await bench.waitForNotification(/run finished: 0 done, 1 failed/, 30_000);
  await bench.waitForRow('Tasks', 'Failed (1)');
  assert.equal(JSON.parse(baton('show', 'task-004', '--json')).attempts, 2);
  await bench.clearNotifications();
});

step('the Tasks view retries and cancels a task from its context menu', async () => {
  await bench.contextMenu(await bench.waitForRow('Tasks', 'task-004'), 'Retry Task');
  await bench.waitForRow('Tasks', 'Available (1)');
  await bench.contextMenu(await bench.waitForRow('Tasks', 'task-004'), 'Cancel Task');
  await bench.waitForRow('Tasks', 'Cancelled (1)');
  assert.equal(JSON.parse(baton('show', 'task-004', '--json')).status, 'cancelled');
  await bench.screenshot('10-retried-and-cancelled');
});

step('Save State writes the state file', async () => {
  const file = path.join(sandbox.files, 'saved-state.json');
  await bench.runCommand('Baton: Save State');
  await bench.answerFileDialog(file, path.join(sandbox.workspace, 'baton-state.json'));
  // The notification names the file the daemon wrote, once it is written.
  const toast = await bench.waitForNotification(/saved 4 tasks and 4 discoveries to /);
  const said = (await toast.textContent()) ?? '';
  assert.ok(said.includes(`to ${file}`), `the state is saved to the file typed, not elsewhere: “${said}”`);
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(saved.tasks.length, 4);
  await bench.clearNotifications();
});

step("a daemon error is shown as the daemon's message", async () => {
  await bench.runCommand('Baton: Load State');
  await bench.answerFileDialog(path.join(sandbox.files, 'broken-state.json'), `${sandbox.workspace}/`);
  await bench.answerDialog(/Replace the 4 tasks and 4 discoveries of this workspace with those of broken-state\.json\?/, 'Replace');
  const toast = await bench.waitForNotification(/dependency task-000 of task-001 does not exist/);
  const text = (await toast.textContent()) ?? '';
  assert.doesNotMatch(text, /\bat .+:\d+:\d+/, 'no stack trace');
  assert.doesNotMatch(text, /Request .* failed/);
  await bench.screenshot('11-daemon-error');
  // Nothing changed.
  await bench.waitForRow('Tasks', 'Done (3)');
  await bench.clearNotifications();
});

step('the extension reconnects when the daemon restarts', async () => {
  baton('daemon', 'stop');
  await bench.waitForStatus(/Baton: disconnected/, 15_000);
  await bench.screenshot('12-disconnected');
  baton('daemon', 'start');
  await bench.waitForStatus(/Baton: idle · 3\/4 done, 1 cancelled$/, 20_000);
  await bench.runCommand('Baton: Show Status');
  await bench.waitForEditor('Baton Status.md', /Progress: +3\/4 done/);
  await bench.screenshot('13-reconnected');
});

step('Restart Daemon and Show Daemon Log, from the palette', async () => {
  const before = JSON.parse(baton('daemon', 'status', '--json')).pid as number;
  await bench.runCommand('Baton: Restart Daemon');
  await waitUntil(
    () => {
      try {
        return JSON.parse(baton('daemon', 'status', '--json')).pid !== before;
      } catch {
        return false;
      }
    },
    20_000,
    'a new daemon',
  );
  await bench.waitForStatus(/Baton: idle · 3\/4 done, 1 cancelled$/, 20_000);
  await bench.runCommand('Baton: Show Daemon Log');
  await bench.waitForEditor(/daemon\.log/, /serving/);
});

step('Stop ends the agents of a run, and their tasks go back to the queue', async () => {
  await bench.runCommand('Baton: Add Task');
  await bench.answer('Add Task (1/5)', 'Polish the greeting [slow]');
  await bench.answer('Add Task (2/5)', '');
  await bench.pickMany('Add Task (3/5)', []);
  await bench.pickMany('Add Task (4/5)', []);
  await bench.answer('Add Task (5/5)', '');
  await bench.waitForRow('Tasks', 'task-005 Polish the greeting');
  await bench.runCommand('Baton: Run Predefined Tasks');
  // The run's own task, not the board's earlier work.
  await bench.waitForStatus(/Baton: 0\/1 done, 1 working, 1 agent$/, 20_000);
  await bench.runCommand('Baton: Stop');
  await bench.waitForStatus(/Baton: idle · 3\/5 done, 1 cancelled$/, 20_000);
  await bench.waitForRow('Tasks', 'Available (1)');
  assert.equal(JSON.parse(baton('show', 'task-005', '--json')).status, 'available');
  await bench.clearNotifications();
});

step('Run with Leader Planning: the leader plans the goal, then the workers run its tasks', async () => {
  await bench.runCommand('Baton: Run with Leader Planning');
  await bench.answer('Run with Leader Planning', 'Greet people in three languages');
  // The board has finished work: a new goal would put it aside, so the extension asks.
  await bench.answerDialog(/A new goal starts an empty board: the 5 tasks and \d+ discoveries of “Greet people in their own language” are put aside/, 'Keep the Tasks');
  await bench.waitForRow('Tasks', 'Say hello in French', 30_000);
  await bench.waitForNotification(/run finished: 3 done, 0 failed/, 60_000);
  await bench.waitForStatus(/Baton: idle · 6\/7 done, 1 cancelled$/);
  await bench.waitForRow('Tasks', 'Done (6)');
  assert.equal(JSON.parse(baton('status', '--json')).goal, 'Greet people in three languages');
  await bench.screenshot('14-leader-run');
  await bench.runCommand('Baton: Show Leader Log');
  await bench.waitForEditor('leader.log', /\[tool\] mcp__baton__add_task \{"description":"Say hello in French"\}/);
  await bench.clearNotifications();
});

step('kill -9 of the daemon mid-run: the user is told, the daemon starts again and the run goes on', async () => {
  baton('add', 'Wave goodbye [slow]');
  await bench.waitForRow('Tasks', 'Wave goodbye');
  await bench.runCommand('Baton: Run Predefined Tasks');
  await bench.waitForStatus(/Baton: 0\/1 done, 1 working, 1 agent$/, 20_000);
  const pid = JSON.parse(baton('daemon', 'status', '--json')).pid as number;
  process.kill(pid, 'SIGKILL');
  // The extension's own words, or the daemon's crash notice when it gives one.
  await bench.waitForNotification(
    /the daemon stopped (during the run; it was started again and the run goes on|unexpectedly .*; the run that was going was resumed)/,
    30_000,
  );
  await bench.screenshot('15-daemon-restarted');
  await bench.waitForNotification(/run finished: 1 done, 0 failed/, 60_000);
  await bench.waitForStatus(/Baton: idle · 7\/8 done, 1 cancelled$/);
  assert.notEqual(JSON.parse(baton('daemon', 'status', '--json')).pid, pid, 'a new daemon');
  await bench.clearNotifications();
});

step('a long description at the default sidebar width: the whole first line is the label', async () => {
  const long = 'Rewrite the greeting so that it greets everyone in their own language and politely, with tests for each';
  baton('add', long);
  await bench.resizeSideBar(300);
  const row = await bench.waitForRow('Tasks', 'task-009');
  assert.match(((await row.textContent()) ?? '').replace(/\s+/g, ' '), new RegExp(`task-009 ${long}`));
  // The hover shows when the pointer comes onto the row; one that came while the
  // workbench was busy may be missed, so the pointer leaves and comes back until it shows.
  const hover = bench.page.locator('.monaco-hover, .workbench-hover', { hasText: long }).first();
  await waitUntil(
    async () => {
      await bench.page.mouse.move(0, 0);
      await row.hover();
      return hover
        .waitFor({ timeout: 3_000 })
        .then(() => true)
        .catch(() => false);
    },
    20_000,
    'the hover of the long description',
  );
  await bench.screenshot('16-long-description-default-width');
});

step('the Tasks view edits a task that has not finished, and deletes one that never started', async () => {
  await bench.widenSideBar(620);
  await bench.contextMenu(await bench.waitForRow('Tasks', 'task-009'), 'Edit Task');
  await bench.answer('Edit task-009 (1/3)', 'Say goodbye politely');
  await bench.type('Edit task-009 (2/3)', '12');
  await bench.refusedWith(/“12” is not a priority/);
  await bench.answer('Edit task-009 (2/3)', '2');
  await bench.pickMany('Edit task-009 (3/3)', ['task-008']);
  await bench.waitForRow('Tasks', 'task-009 Say goodbye politely');
  const edited = JSON.parse(baton('show', 'task-009', '--json'));
  assert.equal(edited.description, 'Say goodbye politely');
  assert.equal(edited.priority, 2);
  assert.deepEqual(edited.dependencies, ['task-008']);

  await bench.contextMenu(await bench.waitForRow('Tasks', 'task-009'), 'Delete Task');
  await bench.answerDialog(/Delete task-009 “Say goodbye politely”\?/, 'Delete');
  await waitUntil(async () => !(await bench.rowsOf('Tasks')).some((row) => row.includes('task-009')), 10_000, 'task-009 to leave the Tasks view');
  const ids = (JSON.parse(baton('tasks', '--json')) as { id: string }[]).map((task) => task.id);
  assert.ok(!ids.includes('task-009'), `task-009 is deleted: ${ids}`);
  await bench.screenshot('17-edited-and-deleted');
});

step("Load State asks first, and a loaded task's log is its own, never this workspace's old one", async () => {
  const other = path.join(sandbox.files, 'other-state.json');
  fs.writeFileSync(
    other,
    JSON.stringify({
      goal: 'Another goal',
      tasks: [
        {
          id: 'task-001',
          description: 'Another workspace’s first task',
          status: 'done',
          priority: 1,
          attempts: 1,
          created_at: '2026-11-29T00:00:00Z',
          claimed_at: '2026-11-29T00:00:01Z',
          completed_at: '2026-11-29T00:00:02Z',
          claimed_by: 'worker-9',
          result: { output: 'done elsewhere' },
        },
      ],
      config: { agent_command: tools.fakeClaude },
    }),
  );
  await bench.runCommand('Baton: Load State');
  await bench.answerFileDialog(other, `${sandbox.workspace}/`);
  await bench.answerDialog(/Replace the \d+ tasks and \d+ discoveries of this workspace with those of other-state\.json\?/, 'Replace');
  await bench.waitForNotification(/loaded 1 task from other-state\.json/);
  await bench.waitForRow('Tasks', 'task-001 Another workspace’s first task');
  await bench.runCommand('Baton: Show Task Log');
  await bench.answer('Show Task Log', 'task-001');
  await bench.waitForEditor('task-001.log', /# Agent log of task-001/);
  const log = await bench.editorText();
  assert.doesNotMatch(log, /Working on task-001|fake agent/, 'the transcript of the task-001 this workspace had before is not shown');
  await bench.screenshot('18-loaded-state-log');
  await bench.clearNotifications();
});

step('Show Plan Graph draws the plan and follows a run as it goes; a click on a node opens the task', async () => {
  const first = baton('add', 'Shape the plan graph [slow]').trim();
  const second = baton('add', 'Follow the graph [two files]', '-d', first).trim();
  await bench.runCommand('Baton: Run Predefined Tasks');
  await bench.waitForStatus(/1 agent$/, 20_000);
  await bench.runCommand('Baton: Show Plan Graph');
  await bench.page.locator('.tabs-container .tab.active', { hasText: 'Baton: Plan Graph' }).waitFor({ timeout: 10_000 });
  const graph = await bench.webview('svg#graph');
  const node = (id: string) => graph.locator(`g.node[data-id="${id}"]`);
  await node(first).and(graph.locator('[data-status="in_progress"], [data-status="claimed"]')).waitFor({ timeout: 20_000 });
  assert.equal(await node(second).getAttribute('data-status'), 'available');
  assert.match((await graph.locator(`path.edge[data-id="${first}->${second}"]`).getAttribute('class')) ?? '', /critical/);
  assert.match((await graph.locator('#timing').textContent()) ?? '', /\d+ tasks, laid out in \d+ ms/);
  // The dependency is drawn left of the task that waits for it.
  const [left, right] = [await node(first).boundingBox(), await node(second).boundingBox()];
  assert.ok(left && right && left.x + left.width < right.x, `${JSON.stringify(left)} is left of ${JSON.stringify(right)}`);
  await bench.screenshot('19-plan-graph-running');
  // The same node, updated in place when its task is done.
  const element = await node(first).elementHandle();
  await node(first).and(graph.locator('[data-status="done"]')).waitFor({ timeout: 40_000 });
  assert.ok(await element?.evaluate((group) => group.isConnected), 'the node is updated in place, not drawn again');
  await bench.waitForNotification(/run finished: 2 done, 0 failed/, 40_000);
  await node(second).and(graph.locator('[data-status="done"]')).waitFor({ timeout: 10_000 });
  await bench.screenshot('20-plan-graph-done');
  await node(second).click();
  await bench.waitForEditor(`${second}.log`, /# Agent log of task-\d+/);
  await bench.clearNotifications();
});

step('Show Changes opens the diff of what a task changed, against the commit it started from', async () => {
  const [first] = (JSON.parse(baton('tasks', '--json')) as { id: string; description: string }[])
    .filter((task) => task.description.startsWith('Shape the plan graph'))
    .map((task) => task.id);
  await bench.runCommand('Baton: Show Changes');
  await bench.answer('Baton: Show Changes', first);
  await bench.page.locator('.tabs-container .tab.active', { hasText: `${first}.txt (${first})` }).waitFor({ timeout: 15_000 });
  const diff = bench.page.locator('.editor-group-container.active .monaco-diff-editor').first();
  await diff.waitFor({ timeout: 10_000 });
  await waitUntil(
    async () => new RegExp(`written by worker-\\d for ${first}`).test((await diff.innerText().catch(() => '')).replace(/\u00a0/g, ' ')),
    15_000,
    'the diff to show the file the task wrote',
  );
  await bench.screenshot('21-show-changes');
  // A task that changed two files: the multi-file changes view, a diff per file.
  const second = (JSON.parse(baton('tasks', '--json')) as { id: string; description: string }[]).find((task) =>
    task.description.startsWith('Follow the graph'),
  )!.id;
  await bench.runCommand('Baton: Show Changes');
  await bench.answer('Baton: Show Changes', second);
  await bench.page.locator('.tabs-container .tab.active', { hasText: `${second}: 2 files changed` }).waitFor({ timeout: 15_000 });
  const both = bench.page.locator('.editor-group-container.active');
  await waitUntil(
    async () => {
      const shown = (await both.innerText().catch(() => '')).replace(/\u00a0/g, ' ');
      return shown.includes(`${second}.txt`) && shown.includes(`${second}-notes.txt`) && shown.includes(`notes of worker-`);
    },
    15_000,
    'the changes view to show both files and their contents',
  );
  await bench.screenshot('21b-show-changes-two-files');
});

step('Show Timeline puts the last run’s agents on lanes, a bar per agent run, with the idle time between', async () => {
  await bench.runCommand('Baton: Show Timeline');
  await bench.page.locator('.tabs-container .tab.active', { hasText: 'Baton: Timeline' }).waitFor({ timeout: 10_000 });
  const timeline = await bench.webview('svg#timeline');
  // The run of the plan graph's step: one worker ran task after task, then the summary.
  await timeline.locator('g.lane[data-lane="summary"]').waitFor({ timeout: 10_000 });
  const workers = timeline.locator('g.lane[data-lane^="worker-"]');
  assert.ok((await workers.count()) >= 1);
  const done = timeline.locator('g.lane[data-lane^="worker-"] g.bar[data-outcome="done"]');
  assert.equal(await done.count(), 2, 'a bar for each task of the run');
  assert.ok((await timeline.locator('g.lane[data-lane="summary"] rect.idle').count()) >= 1, 'the summary waited: idle');
  assert.match((await timeline.locator('#summary').textContent()) ?? '', /^Run \d+ of \d+ · \d+s · \d+ lanes · at most 1 agent at once$/);
  await bench.screenshot('22-timeline');
});

step("a finished run's notification opens the run's report in the markdown preview", async () => {
  baton('add', 'Write down what was done');
  await bench.runCommand('Baton: Run Predefined Tasks');
  const toast = await bench.waitForNotification(/run finished: 1 done, 0 failed/, 40_000);
  await toast.locator('.monaco-button', { hasText: 'Open Report' }).click();
  await bench.page.locator('.tabs-container .tab.active', { hasText: /Preview run-\d+\.md/ }).waitFor({ timeout: 15_000 });
  const preview = await bench.webview('h1, h2');
  await waitUntil(
    async () => /Another goal/.test((await preview.locator('body').innerText().catch(() => '')) ?? ''),
    15_000,
    "the preview to show the run's goal",
  );
  await bench.screenshot('23-run-report');
  await bench.clearNotifications();
});
