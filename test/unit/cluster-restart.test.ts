import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { RESTART_POLICY, restartDelayMs } from '../../src/cluster-primary.js';
import { loadConfig } from '../../src/config.js';

test('when workers keep dying young, the restart delay doubles from 100 ms up to 10 s', () => {
  const delays: number[] = [];

  let previous: number | undefined;
  for (let i = 0; i < 10; i += 1) {
    previous = restartDelayMs(previous, 50);
    delays.push(previous);
  }

  assert.deepEqual(
    delays,
    [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000],
    'doubling, capped at the maximum',
  );
});

test('when a worker lived 30 s before dying, the restart delay is back to 100 ms', () => {
  const afterLongLife = restartDelayMs(10_000, RESTART_POLICY.resetAfterMs);

  const afterShortLife = restartDelayMs(10_000, RESTART_POLICY.resetAfterMs - 1);

  assert.equal(afterLongLife, RESTART_POLICY.firstDelayMs, 'a long life resets the delay');
  assert.equal(afterShortLife, RESTART_POLICY.maxDelayMs, 'a shorter one does not');
});

test('when WORKERS is auto, a number or unset, it parses to a worker count', () => {
  const auto = loadConfig({ WORKERS: 'auto' }).workers;

  const given = loadConfig({ WORKERS: ' 3 ' }).workers;
  const unset = loadConfig({}).workers;

  assert.equal(auto, availableParallelism(), 'auto is one worker per CPU');
  assert.equal(given, 3, 'a number is taken as it is');
  assert.equal(unset, 1, 'the default is one process, no cluster');
});

test('when WORKERS is 0, negative, fractional or a word, loadConfig refuses it naming WORKERS', () => {
  for (const value of ['0', '-1', '1.5', 'many', '257']) {
    assert.throws(
      () => loadConfig({ WORKERS: value }),
      /Cannot start: WORKERS must be /,
      `'${value}' is refused`,
    );
  }
});
