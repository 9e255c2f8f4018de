import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { leaseKey } from '../../src/profile-cache/redis-leases.js';
import { cardOf, cardsOf, sampleProfile } from '../helpers/assertions.js';
import { allProfiles, xuidsOf } from '../helpers/fake-upstreams.js';
import type { Responder } from '../helpers/fake-upstreams.js';
import { redisServerSkip, startRedisServer } from '../helpers/redis-server.js';
import type { RedisServer } from '../helpers/redis-server.js';
import { sharingGateway, timed, until } from '../helpers/sharing-gateways.js';
import {
  AUTHORIZATION,
  DEFAULT_SETTINGS,
  OTHER_AUTHORIZATION,
  XUIDS,
} from '../helpers/test-app.js';
import type { TestGateway, TestGatewayOptions } from '../helpers/test-app.js';

const [X1, X2, X3] = XUIDS;
const QUERY = `xuids=${X1},${X2},${X3}`;
/** How long the slow profile upstream takes to answer. */
const PROFILE_DELAY_MS = 150;
const DEADLINE_MS = 800;
/**
 * Generous for Redis on loopback: these tests count calls and time leases, and a burst in one
 * process can hold the event loop past the default 50 ms (the outage tests keep that default).
 */
const REDIS_TIMEOUT_MS = 500;

/** Every asked profile, after `delayMs`. */
function slowProfiles(delayMs: number): Responder {
  return async (call) => ({ ...(await allProfiles(call)), delayMs });
}

/** Gateways sharing `redis`, each with a slow profile upstream of its own. */
async function slowGateways(
  t: TestContext,
  redis: RedisServer,
  count: number,
  options: TestGatewayOptions = {},
): Promise<TestGateway[]> {
  const gateways: TestGateway[] = [];
  for (let i = 0; i < count; i++) {
    gateways.push(
      await sharingGateway(t, redis, {
        responders: { profile: slowProfiles(PROFILE_DELAY_MS) },
        ...options,
        env: {
          REQUEST_DEADLINE_MS: String(DEADLINE_MS),
          REDIS_TIMEOUT_MS: String(REDIS_TIMEOUT_MS),
          UPSTREAM_RETRIES: '0',
          ...options.env,
        },
      }),
    );
  }
  return gateways;
}

/** Profile calls all `gateways` made. */
function profileCalls(gateways: readonly TestGateway[]): number {
  return gateways.reduce((sum, gw) => sum + gw.upstreams.callsTo('profile').length, 0);
}

/** Asserts that `res` shows every default profile of X1, X2 and X3. */
function assertAllProfiles(res: Parameters<typeof cardsOf>[0], who: string): void {
  const body = cardsOf(res);
  for (const xuid of [X1, X2, X3]) {
    assert.deepEqual(cardOf(body, xuid).profile, sampleProfile(xuid), `${who} shows ${xuid}`);
  }
}

describe('Stampede leases across replicas', { skip: redisServerSkip() }, () => {
  test('when two gateways miss the same XUIDs at once, one profile call serves both, and without leases each calls', async (t) => {
    const redis = await startRedisServer(t);
    const [a, b] = await slowGateways(t, redis, 2);
    const [c, d] = await slowGateways(t, await startRedisServer(t), 2, { profileLeases: false });
    assert.ok(a && b && c && d, 'four gateways');

    const [fromA, fromB] = await Promise.all([
      a.getCards(QUERY).then((res) => res),
      b.getCards(QUERY, OTHER_AUTHORIZATION).then((res) => res),
    ]);
    await redis.write(new Map()); // a round trip: the leases' releases have been sent before
    const leasesLeft = [...(await redis.dump()).keys()].filter((key) => key.includes(':lease:'));
    await Promise.all([
      c.getCards(QUERY).then((res) => res),
      d.getCards(QUERY, OTHER_AUTHORIZATION).then((res) => res),
    ]);

    assertAllProfiles(fromA, 'A');
    assertAllProfiles(fromB, 'B');
    assert.equal(profileCalls([a, b]), 1, 'with leases, one profile call for both gateways');
    const [holder, waiter] = a.upstreams.callsTo('profile').length === 1 ? [a, b] : [b, a];
    assert.deepEqual(
      holder.deps.state.profileLeases?.stats(),
      {
        taken: 3 * DEFAULT_SETTINGS.length,
        contended: 0,
        released: 0,
        timedOut: 0,
        unavailable: 0,
      },
      'the holder took every lease',
    );
    assert.deepEqual(
      waiter.deps.state.profileLeases?.stats(),
      {
        taken: 0,
        contended: 3 * DEFAULT_SETTINGS.length,
        released: 1,
        timedOut: 0,
        unavailable: 0,
      },
      'the other waited for them and was answered from Redis',
    );
    assert.deepEqual(leasesLeft, [], 'every lease is released once the values are in Redis');
    assert.equal(profileCalls([c, d]), 2, 'without leases, each gateway makes its own call');
  });

  test('when the lease holder fails fast, the waiter fetches on its own as soon as the lease is released', async (t) => {
    const redis = await startRedisServer(t);
    const [a, b] = await slowGateways(t, redis, 2);
    assert.ok(a && b, 'two gateways');
    a.upstreams.respond('profile', () => ({ status: 503, delayMs: 100 }));

    const fromA = a.getCards(QUERY).then((res) => res);
    await until(() => a.upstreams.callsTo('profile').length === 1, 'A holds the leases and calls');
    const [fromB, elapsedMs] = await timed(b.getCards(QUERY, OTHER_AUTHORIZATION).then((r) => r));

    assert.equal((await fromA).status, 200, 'A answers without profiles');
    assertAllProfiles(fromB, 'B');
    assert.equal(b.upstreams.callsTo('profile').length, 1, 'B fetched on its own');
    assert.equal(b.deps.state.profileLeases?.stats().released, 1, 'B saw the lease released');
    assert.ok(
      elapsedMs < 100 + PROFILE_DELAY_MS + 150,
      `B did not wait out its bound: ${elapsedMs.toFixed(0)} ms`,
    );
  });

  test('when the lease holder hangs, the waiter falls back to its own call within half the deadline', async (t) => {
    const redis = await startRedisServer(t);
    const [a, b] = await slowGateways(t, redis, 2);
    assert.ok(a && b, 'two gateways');
    a.upstreams.respond('profile', () => ({ hang: true }));

    const fromA = a.getCards(QUERY).then((res) => res);
    await until(() => a.upstreams.callsTo('profile').length === 1, 'A holds the leases and calls');
    const waiting = timed(b.getCards(QUERY, OTHER_AUTHORIZATION).then((r) => r));
    await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS / 4));
    const leases = await redis.dump();
    const callsWhileWaiting = b.upstreams.callsTo('profile').length;
    const [fromB, elapsedMs] = await waiting;

    assertAllProfiles(fromB, 'B');
    assert.equal(callsWhileWaiting, 0, 'B waits for the lease instead of calling at once');
    assert.equal(b.upstreams.callsTo('profile').length, 1, 'B fetched on its own');
    assert.equal(b.deps.state.profileLeases?.stats().timedOut, 1, 'B stopped waiting at its bound');
    assert.ok(
      elapsedMs >= DEADLINE_MS / 2 - 20 && elapsedMs < DEADLINE_MS / 2 + PROFILE_DELAY_MS + 150,
      `B waited about half its deadline, then fetched: ${elapsedMs.toFixed(0)} ms`,
    );
    assert.ok(leases.has(leaseKey(`${X1}:Gamertag`)), "A's lease was still held meanwhile");
    assert.equal((await fromA).status, 200, 'A answers at its deadline, profiles timed out');
  });

  test('when leases are in Redis, their keys name only the pair and their values hold no caller', async (t) => {
    const redis = await startRedisServer(t);
    const [a] = await slowGateways(t, redis, 1);
    assert.ok(a, 'a gateway');
    a.upstreams.respond('profile', () => ({ hang: true }));

    const fromA = a.getCards(QUERY).then((res) => res);
    await until(() => a.upstreams.callsTo('profile').length === 1, 'A holds the leases and calls');
    const leases = [...(await redis.dump())].filter(([key]) => key.includes(':lease:'));
    await fromA;

    assert.equal(leases.length, 3 * DEFAULT_SETTINGS.length, 'one lease per pair');
    for (const [key, { value, pttlMs }] of leases) {
      assert.match(key, /^fcg:v1:lease:\d+:[A-Za-z]+$/, `${key} is fcg:v1:lease:<xuid>:<setting>`);
      assert.ok(pttlMs > 0 && pttlMs <= DEADLINE_MS, `${key} lives at most the deadline`);
      for (const secret of [AUTHORIZATION, '7340501866712', 'test-token']) {
        assert.ok(!value.includes(secret), `${key}'s value holds no caller or token`);
      }
    }
  });

  test('when three gateways take a concurrent burst of overlapping lists, leases cut the profile calls per request', async (t) => {
    const pool = Array.from({ length: 24 }, (_, i) => String(2533274790000000 + i * 7919));
    /** Request `i` asks for 8 XUIDs of the pool, starting at a different place each time. */
    const listOf = (i: number) => Array.from({ length: 8 }, (_, j) => pool[(i * 5 + j) % 24]);
    const burst = async (gateways: readonly TestGateway[]) => {
      const requests = Array.from({ length: 24 }, (_, i) => {
        const gw = gateways[i % gateways.length];
        assert.ok(gw, 'a gateway');
        const caller = `XBL3.0 x=${String(1000 + i)};burst-token`;
        return gw.getCards(`xuids=${listOf(i).join(',')}`, caller).then((res) => res);
      });
      for (const res of await Promise.all(requests)) cardsOf(res);
      const calls = gateways.flatMap((gw) => gw.upstreams.callsTo('profile'));
      const xuids = calls.reduce((sum, call) => sum + xuidsOf(call).length, 0);
      return { calls: calls.length, xuids, requests: requests.length };
    };
    const withRedis = await startRedisServer(t);
    const withoutRedis = await startRedisServer(t);

    const leased = await burst(await slowGateways(t, withRedis, 3));
    const unleased = await burst(await slowGateways(t, withoutRedis, 3, { profileLeases: false }));

    const line = (name: string, run: typeof leased) =>
      `${name}: ${String(run.calls)} profile calls for ${String(run.requests)} requests ` +
      `(${(run.calls / run.requests).toFixed(2)} per request), ${String(run.xuids)} XUIDs fetched ` +
      `for ${String(pool.length)} distinct`;
    t.diagnostic(line('with leases', leased));
    t.diagnostic(line('without leases', unleased));
    assert.ok(
      leased.xuids <= pool.length + pool.length / 4,
      `with leases each XUID is fetched about once: ${line('with', leased)}`,
    );
    assert.ok(
      leased.xuids < unleased.xuids,
      `leases fetch fewer XUIDs: ${line('with', leased)}; ${line('without', unleased)}`,
    );
  });
});
