import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCorrelationVector, randomHex, startDeadline } from '../../src/call-context.js';

describe('startDeadline', () => {
  test('when the duration passes, the signal aborts', async () => {
    const deadline = startDeadline(20);

    await new Promise((resolve) => setTimeout(resolve, 60));

    assert.equal(deadline.signal.aborted, true, 'the deadline fired');
  });

  test('when cleared before it passes, the signal never aborts', async () => {
    const deadline = startDeadline(20);

    deadline.clear();
    await new Promise((resolve) => setTimeout(resolve, 60));

    assert.equal(deadline.signal.aborted, false, 'a cleared deadline does not fire');
  });

  test('when aborted (the client hung up), the signal aborts at once', () => {
    const deadline = startDeadline(10_000);

    deadline.abort();

    assert.equal(deadline.signal.aborted, true, 'abort fires the signal now');
  });
});

describe('random ids', () => {
  test('when many ids are drawn across pool refills, each is hex of the asked length and unique', () => {
    const ids = Array.from({ length: 2000 }, () => randomHex(16));

    assert.ok(
      ids.every((id) => /^[0-9a-f]{32}$/.test(id)),
      'each id is 32 hex digits',
    );
    assert.equal(new Set(ids).size, ids.length, 'no id repeats');
  });

  test('when a correlation vector is used, it counts up on one random base', () => {
    const next = createCorrelationVector();

    const [first, second] = [next(), next()];

    assert.match(first, /^[A-Za-z0-9+/]{16}\.1$/, 'a base64 base and .1');
    assert.equal(second, first.replace(/\.1$/, '.2'), 'the same base and .2');
  });
});
