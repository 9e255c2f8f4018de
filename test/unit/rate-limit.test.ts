import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCallerRateLimit } from '../../src/http/rate-limit.js';

test('when the limit or window is not a positive whole number of seconds, the rate limit refuses to be created', () => {
  const bad = [
    { limit: 0, windowMs: 1000 },
    { limit: 1.5, windowMs: 1000 },
    { limit: 3, windowMs: 0 },
    { limit: 3, windowMs: 1500 },
  ];

  for (const options of bad) {
    assert.throws(() => createCallerRateLimit(options), TypeError, JSON.stringify(options));
  }
});

test('when a caller is counted in process, remaining falls to 0, the next is refused, and another caller is apart', async () => {
  const limit = createCallerRateLimit({ limit: 2, windowMs: 60_000 });

  const decisions = [];
  for (let i = 0; i < 3; i++) decisions.push(await limit.consume('caller-a'));
  const other = await limit.consume('caller-b');

  assert.deepEqual(
    decisions.map((d) => [d.isAllowed, d.remaining]),
    [
      [true, 1],
      [true, 0],
      [false, 0],
    ],
    'two allowed, the third refused',
  );
  assert.ok(
    decisions.every((d) => d.resetMs > 59_000 && d.resetMs <= 60_000),
    'reset is the rest of the window',
  );
  assert.deepEqual([other.isAllowed, other.remaining], [true, 1], 'another caller has its own');
  assert.deepEqual(limit.stats(), { counted: 4, refused: 1, countedLocally: 0 }, 'counters');
});
