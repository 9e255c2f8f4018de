import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { callerKey } from '../../src/redis/redis-keys.js';
import { throttleKey } from '../../src/upstreams/shared-caller-throttle.js';
import type { SharedCallerThrottle } from '../../src/upstreams/shared-caller-throttle.js';
import { cardsOf } from '../helpers/assertions.js';
import { emptyPeople } from '../helpers/fake-upstreams.js';
import type { Responder } from '../helpers/fake-upstreams.js';
import { redisServerSkip, startRedisServer } from '../helpers/redis-server.js';
import { REDIS_TIMEOUT_MS, sharingGateway, timed, until } from '../helpers/sharing-gateways.js';
import { AUTHORIZATION, OTHER_AUTHORIZATION, XUIDS } from '../helpers/test-app.js';

const QUERY = `xuids=${XUIDS[0]}`;
/** The userhash of `AUTHORIZATION`. */
const CALLER = '7340501866712';
const OTHER_CALLER = '9912345678901';

/** Answers 429 with `Retry-After: <seconds>` to `AUTHORIZATION` and people to anyone else. */
function throttleFirstCaller(retryAfterSeconds: number): Responder {
  return (call) =>
    call.headers.authorization === AUTHORIZATION
      ? { status: 429, headers: { 'retry-after': String(retryAfterSeconds) }, body: {} }
      : emptyPeople(call);
}

/** Social calls `gw` sent for the caller whose `Authorization` is `authorization`. */
function socialCallsOf(
  gw: { upstreams: { callsTo(name: 'social'): { headers: { authorization?: string } }[] } },
  authorization: string,
): number {
  return gw.upstreams.callsTo('social').filter((c) => c.headers.authorization === authorization)
    .length;
}

describe('Per-caller throttle gates shared through Redis', { skip: redisServerSkip() }, () => {
  test('when social answers 429 with Retry-After 2 to a caller through A, B holds that caller back from social until it passes, and not another caller', async (t) => {
    const redis = await startRedisServer(t);
    const a = await sharingGateway(t, redis, { responders: { social: throttleFirstCaller(2) } });
    const b = await sharingGateway(t, redis);

    const throttled = cardsOf(await a.getCards(QUERY));
    const recordedAt = performance.now();
    await until(
      async () => (await redis.dump()).has(throttleKey('social', CALLER)),
      'Redis holds the gate',
    );
    const gate = (await redis.dump()).get(throttleKey('social', CALLER));
    const held = cardsOf(await b.getCards(QUERY));
    const other = cardsOf(await b.getCards(QUERY, OTHER_AUTHORIZATION));
    const heldAgain = cardsOf(await b.getCards(QUERY));
    const gatesOfB = (b.deps.state.callerThrottle as SharedCallerThrottle).stats();
    await new Promise((resolve) => setTimeout(resolve, recordedAt + 2100 - performance.now()));
    const resumed = cardsOf(await b.getCards(QUERY));

    assert.deepEqual(
      throttled.errors,
      [{ upstream: 'social', code: 'throttled', status: 429 }],
      'A reports the upstream 429',
    );
    assert.ok(gate, 'a gate is in Redis');
    assert.ok(
      gate.pttlMs > 1000 && gate.pttlMs <= 2000,
      `it lives the Retry-After: ${gate.pttlMs}`,
    );
    assert.deepEqual(
      held.errors,
      [{ upstream: 'social', code: 'throttled' }],
      "B's social part is throttled, with no status since nothing was sent",
    );
    assert.deepEqual(other.errors, [], 'another caller is not held back');
    assert.deepEqual(heldAgain.errors, held.errors, 'held back again');
    assert.equal(socialCallsOf(b, OTHER_AUTHORIZATION), 1, 'B calls social for the other caller');
    assert.equal(
      gatesOfB.heldByShared,
      1,
      'B read the gate from Redis once, then held the caller back from its own memory',
    );
    assert.deepEqual(resumed.errors, [], 'after Retry-After, B calls social for the caller again');
    assert.equal(socialCallsOf(b, AUTHORIZATION), 1, 'only after Retry-After: one call');
    assert.equal(socialCallsOf(a, AUTHORIZATION), 1, 'A sent the caller to social once');
  });

  test('when a gate is in Redis, its key names the upstream and a hash of the caller, never the userhash or token', async (t) => {
    const redis = await startRedisServer(t);
    const a = await sharingGateway(t, redis, { responders: { social: throttleFirstCaller(30) } });

    cardsOf(await a.getCards(QUERY));
    await until(async () => (await redis.dump()).size > 0, 'Redis holds the gate');
    const dump = await redis.dump();

    assert.deepEqual(
      [...dump.keys()].filter((key) => key.includes(':throttle:')),
      [`fcg:v1:throttle:social:${callerKey(CALLER)}`],
      'one gate: fcg:v1:throttle:<upstream>:<caller hash>',
    );
    for (const [key, { value }] of dump) {
      for (const secret of [CALLER, 'test-token', AUTHORIZATION]) {
        assert.ok(!`${key} ${value}`.includes(secret), `${key} holds no '${secret}'`);
      }
    }
    assert.notEqual(callerKey(CALLER), callerKey(OTHER_CALLER), 'callers hash apart');
  });

  test('when Redis is paused, a gate check costs at most the Redis timeout and the local gate still holds', async (t) => {
    const redis = await startRedisServer(t);
    const a = await sharingGateway(t, redis, { responders: { social: throttleFirstCaller(30) } });

    redis.pause();
    const [first, firstMs] = await timed(a.getCards(QUERY).then((res) => res));
    const [second, secondMs] = await timed(a.getCards(QUERY).then((res) => res));
    redis.resume();

    assert.deepEqual(
      cardsOf(first).errors,
      [{ upstream: 'social', code: 'throttled', status: 429 }],
      'the 429 is reported',
    );
    assert.deepEqual(
      cardsOf(second).errors,
      [{ upstream: 'social', code: 'throttled' }],
      'the local gate holds the caller back without Redis',
    );
    assert.equal(socialCallsOf(a, AUTHORIZATION), 1, 'social was called once');
    assert.ok(firstMs < REDIS_TIMEOUT_MS * 2 + 100, `first took ${firstMs.toFixed(0)} ms`);
    assert.ok(secondMs < REDIS_TIMEOUT_MS * 2 + 100, `second took ${secondMs.toFixed(0)} ms`);
  });
});
