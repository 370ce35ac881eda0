/** package.json is the user's map: every command titled under "Baton", every setting described. */

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const commandsSource = fs.readFileSync(path.join(root, 'src', 'commands.ts'), 'utf8');

test('every operation of the product has a palette command under category Baton', () => {
  const titles = new Map<string, string>(
    manifest.contributes.commands.map((c: { command: string; title: string }) => [c.title, c.command]),
  );
  for (const title of [
    'Initialize Goal',
    'Add Task',
    'Run with Leader Planning',
    'Run Predefined Tasks',
    'Plan Goal',
    'Run Plan',
    'Stop',
    'Show Status',
    'Cancel Task',
    'Retry Task',
    'Show Task Log',
    'Save State',
    'Load State',
    'Open Settings',
    'Show Plan Graph',
    'Show Changes',
    'Show Timeline',
  ]) {
    assert.ok(titles.has(title), `no command titled “${title}”`);
  }
  for (const command of manifest.contributes.commands) {
    assert.equal(command.category, 'Baton', `${command.command} is not under category Baton`);
  }
});

test('every contributed command is registered, and every registered one contributed', () => {
  const contributed = new Set<string>(manifest.contributes.commands.map((c: { command: string }) => c.command));
  const registered = new Set([...commandsSource.matchAll(/\['(baton\.[A-Za-z]+)'/g)].map((m) => m[1]));
  assert.deepEqual([...registered].sort(), [...contributed].sort());
});

test('every setting has a description and a default', () => {
  const properties = manifest.contributes.configuration.properties as Record<string, Record<string, unknown>>;
  for (const [name, property] of Object.entries(properties)) {
    assert.ok(property.description || property.markdownDescription, `${name} has no description`);
    assert.ok('default' in property, `${name} has no default`);
  }
  for (const name of ['baton.path', 'baton.run.maxWorkers', 'baton.run.model', 'baton.run.taskTimeout']) {
    assert.ok(name in properties, `no setting ${name}`);
  }
});
