import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { callerKey } from '../../src/redis/redis-keys.js';
import { assertProblem, cardsOf } from '../helpers/assertions.js';
import { redisServerSkip, startRedisServer } from '../helpers/redis-server.js';
import { REDIS_TIMEOUT_MS, sharingGateway, timed, until } from '../helpers/sharing-gateways.js';
import { AUTHORIZATION, OTHER_AUTHORIZATION, XUIDS } from '../helpers/test-app.js';

const QUERY = `xuids=${XUIDS[0]}`;
const LIMITED = { RATE_LIMIT_PER_CALLER: '3', RATE_LIMIT_WINDOW_MS: '10000' };
/** The userhash of `AUTHORIZATION`. */
const CALLER = '7340501866712';

describe('Per-caller rate limit across replicas', { skip: redisServerSkip() }, () => {
  test('when two gateways share Redis, they share one count per caller, kept under a hash of the caller, each over its one connection', async (t) => {
    const redis = await startRedisServer(t);
    const a = await sharingGateway(t, redis, { env: LIMITED });
    const b = await sharingGateway(t, redis, { env: LIMITED });

    const first = await a.getCards(QUERY);
    const second = await b.getCards(QUERY);
    const third = await a.getCards(QUERY);
    const callsOfB = b.upstreams.calls.length;
    const refused = await b.getCards(QUERY);
    const callsAfterRefusal = b.upstreams.calls.length;
    const other = await b.getCards(QUERY, OTHER_AUTHORIZATION);
    const dump = await redis.dump();
    const connections = await redis.connectedClients();

    assert.deepEqual(
      [first, second, third].map((res) => res.headers['ratelimit-remaining']),
      ['2', '1', '0'],
      'A and B count the same requests',
    );
    assertProblem(refused, 429, 'rate_limited');
    assert.equal(callsAfterRefusal, callsOfB, 'the refused request calls no upstream');
    cardsOf(other);
    assert.equal(
      connections,
      2,
      'one connection per gateway for the cache, leases, gates and counts together',
    );
    const counter = dump.get(`fcg:v1:ratelimit:${callerKey(CALLER)}`);
    assert.ok(counter, 'the count is in Redis under fcg:v1:ratelimit:<caller hash>');
    assert.ok(Number(counter.value) >= 4, `it counted every request: ${counter.value}`);
    assert.ok(counter.pttlMs > 0 && counter.pttlMs <= 10_000, 'it expires with the window');
    for (const [key, { value }] of dump) {
      for (const secret of [CALLER, 'test-token', AUTHORIZATION]) {
        assert.ok(!`${key} ${value}`.includes(secret), `${key} holds no '${secret}'`);
      }
    }
  });

  test('when Redis is paused, then killed, the limit holds per process, and no request waits past the Redis timeout or fails', async (t) => {
    const redis = await startRedisServer(t);
    const a = await sharingGateway(t, redis, { env: LIMITED });
    const b = await sharingGateway(t, redis, { env: LIMITED });

    redis.pause();
    const paused = [];
    for (let i = 0; i < 4; i++) paused.push(await timed(a.getCards(QUERY).then((res) => res)));
    redis.resume();
    await until(() => a.deps.redis?.state() === 'ok', 'A sees Redis back');
    await redis.kill();
    await until(() => b.deps.redis?.state() === 'degraded', 'B sees Redis gone');
    const killed = [];
    for (let i = 0; i < 4; i++) killed.push(await timed(b.getCards(QUERY).then((res) => res)));

    for (const [phase, answers] of [
      ['paused', paused],
      ['killed', killed],
    ] as const) {
      const statuses = answers.map(([res]) => res.status);
      assert.deepEqual(statuses, [200, 200, 200, 429], `${phase}: the 4th is over the limit`);
      for (const [i, [, elapsedMs]] of answers.entries()) {
        assert.ok(
          elapsedMs < REDIS_TIMEOUT_MS * 2 + 150,
          `${phase}: request ${String(i + 1)} took ${elapsedMs.toFixed(0)} ms`,
        );
      }
    }
    assert.ok(
      (a.deps.state.rateLimit?.stats().countedLocally ?? 0) >= 4,
      'A counted in process while Redis was paused',
    );
    assert.ok(
      (b.deps.state.rateLimit?.stats().countedLocally ?? 0) >= 4,
      'B counted in process while Redis was down',
    );
  });
});
