import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRetryBudget } from '../../src/upstreams/retry-budget.js';

describe('createRetryBudget', () => {
  test('when many calls fail, retries stay within the ratio of calls plus the floor', () => {
    let nowMs = 100_000;
    const budget = createRetryBudget({
      ratio: 0.2,
      windowMs: 10_000,
      minRetriesPerSecond: 1,
      now: () => nowMs,
    });
    let granted = 0;

    for (let i = 0; i < 1000; i += 1) {
      budget.recordCall();
      if (budget.tryRetry()) granted += 1;
      nowMs += 5;
    }

    assert.equal(granted, 0.2 * 1000 + 10, 'a fifth of 1000 calls, plus 1 per second of window');
  });

  test('when the window has passed, spent retries are forgotten', () => {
    let nowMs = 100_000;
    const budget = createRetryBudget({
      ratio: 0,
      windowMs: 2000,
      minRetriesPerSecond: 1,
      now: () => nowMs,
    });
    const first = [budget.tryRetry(), budget.tryRetry(), budget.tryRetry()];

    nowMs += 2000;
    const later = budget.tryRetry();

    assert.deepEqual(first, [true, true, false], 'the floor of 2 retries over 2 s is spent');
    assert.equal(later, true, 'after the window a retry is allowed again');
  });
});
