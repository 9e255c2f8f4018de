import assert from 'node:assert/strict';
import { test } from 'node:test';
import request from 'supertest';
import { createRateLimiter, type RateDecision } from '../../src/simulator/rate-limiter.js';
import { PROFILE_PATH, SOCIAL_PATH } from '../../src/simulator/simulator-app.js';
import { startSimulator } from '../helpers/simulator-server.js';

const SECOND_MS = 1000;

/** A clock that only moves when the test says so. */
function createClock(startMs = 1_000_000) {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

/** Calls `check` `count` times and returns the decisions. */
function callTimes(limiter: { check(key: string): RateDecision }, key: string, count: number) {
  return Array.from({ length: count }, () => limiter.check(key));
}

test('when 10 calls arrive within 15 s, the 11th is refused until the oldest leaves the window', () => {
  const clock = createClock();
  const limiter = createRateLimiter({ now: clock.now });

  const first = callTimes(limiter, 'caller', 10);
  clock.advance(4 * SECOND_MS);
  const eleventh = limiter.check('caller');

  assert.ok(
    first.every((decision) => decision.isAllowed),
    'the first 10 calls are allowed',
  );
  assert.deepEqual(
    eleventh,
    {
      isAllowed: false,
      retryAfterSeconds: 11,
      currentRequests: 11,
      maxRequests: 10,
      periodInSeconds: 15,
    },
    'the 11th call is refused by the 15 s window and told to wait 11 s',
  );
});

test('when the burst window has passed, calls are allowed again', () => {
  const clock = createClock();
  const limiter = createRateLimiter({ now: clock.now });
  callTimes(limiter, 'caller', 10);

  clock.advance(15 * SECOND_MS);

  assert.equal(limiter.check('caller').isAllowed, true, 'a call 15 s later is allowed');
});

test('when 30 calls are spread over 300 s, the 31st is refused by the sustain window', () => {
  const clock = createClock();
  const limiter = createRateLimiter({ now: clock.now });

  for (let burst = 0; burst < 3; burst += 1) {
    const decisions = callTimes(limiter, 'caller', 10);
    assert.ok(
      decisions.every((d) => d.isAllowed),
      `burst ${burst} of 10 calls is allowed`,
    );
    clock.advance(20 * SECOND_MS);
  }
  const decision = limiter.check('caller');

  assert.ok(!decision.isAllowed, 'the 31st call within 300 s is refused');
  assert.equal(decision.periodInSeconds, 300, 'the sustain window binds');
  assert.equal(decision.maxRequests, 30, 'the sustain limit is 30');
  assert.equal(
    decision.retryAfterSeconds,
    240,
    'Retry-After waits until the first call is 300 s old (240 s from now)',
  );
});

test('when calls are refused, they still count toward the sustain window', () => {
  const clock = createClock();
  const limiter = createRateLimiter({ now: clock.now });
  callTimes(limiter, 'caller', 10);
  const refused = callTimes(limiter, 'caller', 20);

  clock.advance(16 * SECOND_MS);
  const afterBurst = limiter.check('caller');

  assert.ok(
    refused.every((d) => !d.isAllowed),
    'calls past the burst limit are refused',
  );
  assert.ok(!afterBurst.isAllowed, '10 allowed + 20 refused calls fill the sustain window');
  assert.equal(afterBurst.periodInSeconds, 300, 'sustain is the reason');
});

test('when one caller is throttled, another caller is not', () => {
  const clock = createClock();
  const limiter = createRateLimiter({ now: clock.now });
  callTimes(limiter, 'first', 11);

  assert.equal(limiter.check('second').isAllowed, true, 'limits are kept per key');
});

test('when the scale is 2, both limits double; when 0.1, one call per window remains', () => {
  const clock = createClock();
  const doubled = createRateLimiter({ now: clock.now, scale: 2 });
  const tiny = createRateLimiter({ now: clock.now, scale: 0.1 });

  const doubledDecisions = callTimes(doubled, 'caller', 21);
  const tinyDecisions = callTimes(tiny, 'caller', 2);

  assert.equal(doubledDecisions.filter((d) => d.isAllowed).length, 20, '20 calls per 15 s');
  assert.equal(tinyDecisions.filter((d) => d.isAllowed).length, 1, 'at least 1 call per window');
});

test('when more keys arrive than maxKeys, the least recently seen are forgotten', () => {
  const limiter = createRateLimiter({ maxKeys: 100 });

  for (let caller = 0; caller < 1000; caller += 1) limiter.check(`caller-${caller}`);

  assert.equal(limiter.keyCount, 100, 'memory stays bounded by maxKeys');
});

test('when the limiter is built with a zero scale, it throws a TypeError', () => {
  assert.throws(() => createRateLimiter({ scale: 0 }), TypeError, 'a zero scale is refused');
});

/** One profile call for the given userhash. */
function callProfile(url: string, userhash: string, xuid: string) {
  return request(url)
    .post(PROFILE_PATH)
    .set({ Authorization: `XBL3.0 x=${userhash};token`, 'x-xbl-contract-version': '2' })
    .send({ userIds: [xuid], settings: ['Gamertag'] });
}

test('when a caller makes 11 profile calls in 15 s, the 11th answers 429 with Retry-After and body', async (t) => {
  const clock = createClock();
  const { url, population } = await startSimulator(t, {}, clock);
  const xuid = population.xuidAt(0);

  const statuses: number[] = [];
  for (let call = 0; call < 10; call += 1) {
    statuses.push((await callProfile(url, 'player-1', xuid)).status);
    clock.advance(100);
  }
  const throttled = await callProfile(url, 'player-1', xuid);

  assert.deepEqual(statuses, Array(10).fill(200), 'the first 10 calls are answered');
  assert.equal(throttled.status, 429, 'the 11th call is throttled');
  assert.equal(
    throttled.headers['retry-after'],
    '14',
    'Retry-After is whole seconds to a free slot',
  );
  assert.deepEqual(
    throttled.body,
    { version: 1, currentRequests: 11, maxRequests: 10, periodInSeconds: 15, limitType: 'Rate' },
    'the body says which limit was hit',
  );
});

test('when a caller is throttled on profile, its social calls and other callers still pass', async (t) => {
  const clock = createClock();
  const { url, population } = await startSimulator(t, {}, clock);
  const xuid = population.xuidAt(0);
  for (let call = 0; call < 11; call += 1) await callProfile(url, 'player-1', xuid);

  const social = await request(url)
    .post(SOCIAL_PATH)
    .set('Authorization', 'XBL3.0 x=player-1;token')
    .send({ xuids: [xuid] });
  const otherCaller = await callProfile(url, 'player-2', xuid);

  assert.equal(social.status, 200, 'the limit is per service');
  assert.equal(otherCaller.status, 200, 'the limit is per caller');
});

test('when SIM_RATE_LIMIT is false, 40 calls in a row are all answered', async (t) => {
  const clock = createClock();
  const { url, population } = await startSimulator(t, { SIM_RATE_LIMIT: 'false' }, clock);
  const xuid = population.xuidAt(0);

  const statuses = await Promise.all(
    Array.from({ length: 40 }, async () => (await callProfile(url, 'player-1', xuid)).status),
  );

  assert.deepEqual(statuses, Array(40).fill(200), 'no call is throttled');
});

test('when SIM_RATE_LIMIT_SCALE is 0.5, the 6th call in 15 s answers 429 naming 5', async (t) => {
  const clock = createClock();
  const { url, population } = await startSimulator(t, { SIM_RATE_LIMIT_SCALE: '0.5' }, clock);
  const xuid = population.xuidAt(0);

  const statuses: number[] = [];
  for (let call = 0; call < 5; call += 1) {
    statuses.push((await callProfile(url, 'player-1', xuid)).status);
  }
  const throttled = await callProfile(url, 'player-1', xuid);

  assert.deepEqual(statuses, Array(5).fill(200), 'the first 5 calls are answered');
  assert.equal(throttled.status, 429, 'the 6th call is throttled');
  assert.equal(
    (throttled.body as { maxRequests: number }).maxRequests,
    5,
    'the body names the scaled limit',
  );
});
