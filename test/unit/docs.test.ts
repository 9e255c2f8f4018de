import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { readDefaults, settingsSchema } from '../../src/config.js';
import { ERROR_CODES } from '../../src/errors.js';
import { simulatorSettingsSchema } from '../../src/simulator/simulator-config.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Rows of the Markdown table that follows `heading`'s first table: first cell → second cell. */
function tableAfter(marker: string): Map<string, string> {
  const start = README.indexOf(marker);
  assert.ok(start >= 0, `the README contains '${marker}'`);
  const lines = README.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows = new Map<string, string>();
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const [name = '', value = ''] = line
      .split('|')
      .slice(1)
      .map((cell) => cell.trim().replace(/^`|`$/g, ''));
    rows.set(name, value);
  }
  return rows;
}

test('the README configuration table lists exactly the settings and defaults of the schema', () => {
  const defaults = readDefaults();

  const table = tableAfter('## Configuration');

  assert.deepEqual(
    [...table.keys()],
    Object.keys(settingsSchema.shape),
    'same settings, same order',
  );
  for (const [name, value] of table) {
    // An empty default (a setting that is off unless given) reads `unset` in the table.
    const expected = defaults[name] === '' ? 'unset' : defaults[name];
    assert.equal(value, expected, `${name}'s README default matches config/defaults.json`);
  }
});

test('the README simulator table lists exactly the simulator settings and defaults', () => {
  const defaults = readDefaults(new URL('../../config/simulator.json', import.meta.url));

  const table = tableAfter('The simulator (`node dist/simulator.js`');

  assert.deepEqual(
    [...table.keys()],
    Object.keys(simulatorSettingsSchema.shape),
    'same simulator settings, same order',
  );
  for (const [name, value] of table) {
    assert.equal(value, defaults[name], `${name}'s README default matches config/simulator.json`);
  }
});

test('every setting with a default has a description, and every default parses', () => {
  const defaults = readDefaults();

  const parsed = settingsSchema.safeParse(defaults);

  assert.equal(parsed.success, true, 'config/defaults.json passes the schema on its own');
  for (const [name, schema] of Object.entries(settingsSchema.shape)) {
    assert.ok(schema.description, `${name} has a .describe() line`);
  }
});

test('the README error table lists exactly the error codes the gateway can answer with', () => {
  const table = tableAfter('The codes:');

  assert.deepEqual(
    [...table.keys()].sort(),
    [...ERROR_CODES].sort(),
    'README codes and ERROR_CODES are the same set',
  );
});
