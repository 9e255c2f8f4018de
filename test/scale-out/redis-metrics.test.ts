import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { redisKey } from '../../src/profile-cache/redis-level.js';
import { throttleKey } from '../../src/upstreams/shared-caller-throttle.js';
import { assertProblem, cardsOf } from '../helpers/assertions.js';
import { allProfiles, emptyPeople } from '../helpers/fake-upstreams.js';
import type { Responder } from '../helpers/fake-upstreams.js';
import { scrape } from '../helpers/metrics-text.js';
import type { Scrape } from '../helpers/metrics-text.js';
import { requireTool, run } from '../helpers/prometheus-tools.js';
import { redisServerSkip, startRedisServer } from '../helpers/redis-server.js';
import type { RedisServer } from '../helpers/redis-server.js';
import { sharingGateway, until } from '../helpers/sharing-gateways.js';
import {
  AUTHORIZATION,
  DEFAULT_SETTINGS,
  OTHER_AUTHORIZATION,
  XUIDS,
  gatewayFor,
} from '../helpers/test-app.js';
import type { TestGateway } from '../helpers/test-app.js';

const ALL_XUIDS = `xuids=${XUIDS.join(',')}`;
/** Pairs one request for every XUID asks the profile cache for: 3 XUIDs × 4 default settings. */
const PAIRS = XUIDS.length * DEFAULT_SETTINGS.length;
/** The userhash of `AUTHORIZATION`. */
const CALLER = '7340501866712';
/**
 * Generous for Redis on loopback where these tests count operations: a busy machine can hold the
 * event loop past the default 50 ms, and a timed-out count would move the counters (the outage
 * test keeps that default).
 */
const STEADY_REDIS = { REDIS_TIMEOUT_MS: '500' };

/** Every series a gateway exports with `REDIS_URL` only, each at 0 before any traffic. */
const REDIS_COUNTERS = [
  'redis_operations_failed_total',
  'profile_cache_l2_reads_total',
  'profile_cache_l2_reads_failed_total',
  'profile_cache_l2_bad_values_total',
  'profile_cache_l2_writes_total',
  'profile_cache_l2_writes_dropped_total',
  'profile_lease_unavailable_total',
  'upstream_shared_throttle_reads_total',
  'upstream_shared_throttle_holds_total',
  'upstream_shared_throttle_unavailable_total',
  'upstream_shared_throttle_writes_total',
];
const REDIS_SERIES = [
  'redis_up',
  ...REDIS_COUNTERS,
  'profile_lease_pairs_total',
  'profile_lease_waits_total',
  'http_rate_limit_counted_locally_total',
];

/** Every (XUID, setting) pair of `xuids` is in Redis (writes are fire and forget). */
async function untilShared(redis: RedisServer, xuids: readonly string[]): Promise<void> {
  const wanted = xuids.flatMap((xuid) => DEFAULT_SETTINGS.map((s) => redisKey(`${xuid}:${s}`)));
  await until(async () => {
    const keys = await redis.dump();
    return wanted.every((key) => keys.has(key));
  }, 'Redis holds the profiles');
}

/** Scrapes `gw` until `condition` holds of the scrape, and returns that scrape. */
async function scrapeUntil(
  gw: TestGateway,
  condition: (metrics: Scrape) => boolean,
  what: string,
): Promise<Scrape> {
  let metrics = await scrape(gw.app);
  await until(async () => condition((metrics = await scrape(gw.app))), what);
  return metrics;
}

describe('Redis and rate limit series without REDIS_URL', () => {
  test('when REDIS_URL is unset, no Redis, L2, lease or shared throttle series is exported, and the rate limit counts its refusals', async (t) => {
    const plain = await gatewayFor(t);
    const limited = await gatewayFor(t, { env: { RATE_LIMIT_PER_CALLER: '1' } });

    await plain.getCards(ALL_XUIDS).expect(200);
    await limited.getCards(ALL_XUIDS).expect(200);
    assertProblem(await limited.getCards(ALL_XUIDS), 429, 'rate_limited');
    const [plainMetrics, limitedMetrics] = [await scrape(plain.app), await scrape(limited.app)];

    for (const metrics of [plainMetrics, limitedMetrics]) {
      for (const name of REDIS_SERIES) {
        assert.equal(metrics.value(name), undefined, `no ${name} without REDIS_URL`);
      }
      assert.ok(!/^(redis_|profile_lease_|upstream_shared_)/m.test(metrics.text), 'none at all');
      assert.equal(
        metrics.value('profile_cache_hits_total', { level: 'L2' }),
        undefined,
        'no L2 hits series without a level behind L1',
      );
    }
    assert.equal(
      plainMetrics.value('http_requests_rate_limited_total'),
      undefined,
      'no rate limit series while RATE_LIMIT_PER_CALLER is off',
    );
    assert.equal(
      limitedMetrics.value('http_requests_rate_limited_total'),
      1,
      'the refused request is counted',
    );
  });
});

describe('Redis series at /metrics', { skip: redisServerSkip() }, () => {
  test('when two gateways share Redis, every series is there at 0 first, then counts the L2 hit, the writes, the leases and the rate-limited request', async (t) => {
    const redis = await startRedisServer(t);
    const env = { ...STEADY_REDIS, RATE_LIMIT_PER_CALLER: '2', RATE_LIMIT_WINDOW_MS: '10000' };
    const a = await sharingGateway(t, redis, { env });
    const b = await sharingGateway(t, redis, { env });

    const fresh = await scrape(b.app);
    await a.getCards(ALL_XUIDS).expect(200);
    await untilShared(redis, XUIDS);
    await b.getCards(ALL_XUIDS).expect(200);
    assertProblem(await a.getCards(ALL_XUIDS), 429, 'rate_limited');
    const [ofA, ofB] = [await scrape(a.app), await scrape(b.app)];

    assert.equal(fresh.value('redis_up'), 1, 'Redis is up');
    for (const name of REDIS_COUNTERS) assert.equal(fresh.value(name), 0, `${name} starts at 0`);
    for (const outcome of ['taken', 'contended']) {
      assert.equal(fresh.value('profile_lease_pairs_total', { outcome }), 0, `${outcome} at 0`);
    }
    for (const outcome of ['released', 'timed_out']) {
      assert.equal(fresh.value('profile_lease_waits_total', { outcome }), 0, `${outcome} at 0`);
    }
    assert.equal(fresh.value('profile_cache_hits_total', { level: 'L2' }), 0, 'L2 hits at 0');
    assert.equal(fresh.value('http_requests_rate_limited_total'), 0, 'none rate limited yet');
    assert.equal(fresh.value('http_rate_limit_counted_locally_total'), 0, 'none counted locally');

    assert.equal(b.upstreams.callsTo('profile').length, 0, 'B fetched no profile');
    assert.equal(ofB.value('profile_cache_hits_total', { level: 'L2' }), PAIRS, 'B hit L2');
    assert.equal(ofB.value('profile_cache_l2_reads_total'), 1, 'with one MGET');
    assert.equal(ofB.value('profile_cache_l2_writes_total'), 0, 'B wrote nothing to Redis');
    assert.equal(ofB.value('profile_lease_pairs_total'), 0, 'nor asked a lease');
    assert.equal(ofA.value('profile_cache_hits_total', { level: 'L2' }), 0, 'A found nothing');
    assert.equal(ofA.value('profile_cache_misses_total'), PAIRS, 'A missed every pair');
    assert.equal(ofA.value('profile_cache_l2_reads_total'), 1, 'after one MGET');
    assert.equal(ofA.value('profile_cache_l2_writes_total'), 1, 'and wrote them in one pipeline');
    assert.equal(
      ofA.value('profile_lease_pairs_total', { outcome: 'taken' }),
      PAIRS,
      'A took the lease of every pair it fetched',
    );
    assert.equal(ofA.value('http_requests_rate_limited_total'), 1, 'the 3rd request, through A');
    assert.equal(ofB.value('http_requests_rate_limited_total'), 0, 'none through B');
    for (const metrics of [ofA, ofB]) {
      assert.equal(metrics.value('redis_up'), 1, 'Redis is still up');
      assert.equal(metrics.value('redis_operations_failed_total'), 0, 'nothing failed');
      assert.equal(metrics.value('profile_cache_l2_reads_failed_total'), 0, 'no read failed');
      assert.equal(metrics.value('http_rate_limit_counted_locally_total'), 0, 'counted in Redis');
    }
  });

  test('when the exposition of a Redis gateway is linted by promtool check metrics, nothing is wrong', async (t) => {
    const promtool = requireTool(t, 'promtool');
    if (!promtool) return;
    const redis = await startRedisServer(t);
    const gw = await sharingGateway(t, redis, {
      env: { ...STEADY_REDIS, RATE_LIMIT_PER_CALLER: '5' },
    });
    await gw.getCards(ALL_XUIDS).expect(200);
    const { text } = await scrape(gw.app);

    const result = await run(promtool, ['check', 'metrics'], { input: text });

    assert.ok(text.includes('redis_up 1'), 'the Redis series are in it');
    assert.equal(result.code, 0, `promtool check metrics passes: ${result.stdout}${result.stderr}`);
    assert.equal(`${result.stdout}${result.stderr}`.trim(), '', 'with no complaint');
  });

  test("when waiting for another gateway's leases, the waiter counts contended pairs and a released wait", async (t) => {
    const redis = await startRedisServer(t);
    const slow: Responder = async (call) => ({ ...(await allProfiles(call)), delayMs: 150 });
    const env = { REDIS_TIMEOUT_MS: '500', REQUEST_DEADLINE_MS: '800', UPSTREAM_RETRIES: '0' };
    const a = await sharingGateway(t, redis, { env, responders: { profile: slow } });
    const b = await sharingGateway(t, redis, { env, responders: { profile: slow } });

    await Promise.all([
      a.getCards(ALL_XUIDS).then((res) => res),
      b.getCards(ALL_XUIDS, OTHER_AUTHORIZATION).then((res) => res),
    ]);
    const [holder, waiter] = a.upstreams.callsTo('profile').length === 1 ? [a, b] : [b, a];
    const [ofHolder, ofWaiter] = [await scrape(holder.app), await scrape(waiter.app)];

    assert.equal(waiter.upstreams.callsTo('profile').length, 0, 'one gateway fetched for both');
    assert.equal(ofHolder.value('profile_lease_pairs_total', { outcome: 'taken' }), PAIRS);
    assert.equal(ofHolder.value('profile_lease_pairs_total', { outcome: 'contended' }), 0);
    assert.equal(
      ofWaiter.value('profile_lease_pairs_total', { outcome: 'contended' }),
      PAIRS,
      'the waiter found every pair leased',
    );
    assert.equal(ofWaiter.value('profile_lease_pairs_total', { outcome: 'taken' }), 0);
    assert.equal(
      ofWaiter.value('profile_lease_waits_total', { outcome: 'released' }),
      1,
      'its one wait ended with the release',
    );
    assert.equal(ofWaiter.value('profile_lease_waits_total', { outcome: 'timed_out' }), 0);
    assert.equal(
      ofWaiter.value('profile_cache_hits_total', { level: 'L2' }),
      PAIRS,
      'and it read the pairs from Redis',
    );
  });

  test('when social answers 429 through one gateway, it counts the gate written and the other counts the hold it read', async (t) => {
    const redis = await startRedisServer(t);
    const throttleCaller: Responder = (call) =>
      call.headers.authorization === AUTHORIZATION
        ? { status: 429, headers: { 'retry-after': '30' }, body: {} }
        : emptyPeople(call);
    const a = await sharingGateway(t, redis, {
      env: STEADY_REDIS,
      responders: { social: throttleCaller },
    });
    const b = await sharingGateway(t, redis, { env: STEADY_REDIS });

    await a.getCards(ALL_XUIDS).expect(200);
    await until(
      async () => (await redis.dump()).has(throttleKey('social', CALLER)),
      'Redis holds the gate',
    );
    const held = cardsOf(await b.getCards(ALL_XUIDS));
    cardsOf(await b.getCards(ALL_XUIDS));
    const [ofA, ofB] = [await scrape(a.app), await scrape(b.app)];

    assert.deepEqual(held.errors, [{ upstream: 'social', code: 'throttled' }], 'B held it back');
    assert.equal(ofA.value('upstream_shared_throttle_writes_total'), 1, 'A wrote one gate');
    assert.equal(ofA.value('upstream_shared_throttle_holds_total'), 0, 'and was held by none');
    assert.equal(ofB.value('upstream_shared_throttle_holds_total'), 1, 'B held the caller once');
    assert.equal(
      ofB.value('upstream_calls_total', { upstream: 'social', outcome: 'throttled' }),
      2,
      'both held calls are throttled attempts, the second from its own memory',
    );
    assert.equal(ofB.value('upstream_shared_throttle_writes_total'), 0, 'B wrote no gate');
    assert.equal(ofB.value('upstream_shared_throttle_unavailable_total'), 0, 'Redis answered');
  });

  test('when Redis holds garbage under the real keys, the bad values are counted and none is a hit', async (t) => {
    const redis = await startRedisServer(t);
    const gw = await sharingGateway(t, redis, { env: STEADY_REDIS });
    const garbage = XUIDS.flatMap((xuid) =>
      DEFAULT_SETTINGS.map((s): [string, string] => [
        redisKey(`${xuid}:${s}`),
        '{"not":"a profile"',
      ]),
    );
    await redis.write(new Map(garbage));

    await gw.getCards(ALL_XUIDS).expect(200);
    const metrics = await scrape(gw.app);

    assert.equal(metrics.value('profile_cache_l2_bad_values_total'), PAIRS, 'every value is bad');
    assert.equal(metrics.value('profile_cache_hits_total', { level: 'L2' }), 0, 'no L2 hit');
    assert.equal(metrics.value('profile_cache_misses_total'), PAIRS, 'every pair is a miss');
    assert.equal(metrics.value('redis_up'), 1, 'garbage is no Redis failure');
  });

  test('when Redis is paused, redis_up reads 0 and the failures are counted; once it is back, redis_up reads 1', async (t) => {
    const redis = await startRedisServer(t);
    const gw = await sharingGateway(t, redis, { env: { RATE_LIMIT_PER_CALLER: '100' } });

    redis.pause();
    const response = await gw.getCards(ALL_XUIDS);
    const paused = await scrapeUntil(
      gw,
      (metrics) => metrics.value('profile_cache_l2_writes_dropped_total') === 1,
      'the write to the paused Redis is dropped',
    );
    redis.resume();
    const back = await scrapeUntil(
      gw,
      (metrics) => metrics.value('redis_up') === 1,
      'redis_up reads 1 once Redis answers again',
    );

    assert.equal(response.status, 200, 'the request is served without Redis');
    assert.equal(paused.value('redis_up'), 0, 'Redis reads degraded (0)');
    const failed = paused.value('redis_operations_failed_total') ?? 0;
    assert.ok(failed >= 3, `the rate limit count, the read and the write failed: ${failed}`);
    assert.equal(paused.value('http_rate_limit_counted_locally_total'), 1, 'counted in process');
    assert.equal(paused.value('profile_cache_l2_reads_failed_total'), 1, 'the read timed out');
    assert.ok(
      (paused.value('profile_lease_unavailable_total') ?? 0) >= 1,
      'the lease was skipped: Redis was degraded',
    );
    assert.ok(
      (paused.value('upstream_shared_throttle_unavailable_total') ?? 0) >= 1,
      'so were the gate reads',
    );
    assert.equal(
      paused.value('profile_cache_hits_total', { level: 'L2' }),
      0,
      'no L2 hit while paused',
    );
    assert.ok(
      (back.value('redis_operations_failed_total') ?? 0) >= failed,
      'the failure count never goes back',
    );
  });
});
