import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import supertest from 'supertest';
import type { FriendCardsResult } from '../../src/friend-cards/friend-card.js';
import { decodeEntry, encodeEntry, redisKey } from '../../src/profile-cache/redis-level.js';
import { cardOf, cardsOf, sampleProfile } from '../helpers/assertions.js';
import { startGatewayProcess } from '../helpers/child-process.js';
import type { StartedProcess } from '../helpers/child-process.js';
import {
  allProfiles,
  denyProfileTo,
  sampleSetting,
  startFakeUpstreams,
} from '../helpers/fake-upstreams.js';
import type { FakeUpstreams, ProfileBody, Responder } from '../helpers/fake-upstreams.js';
import { redisServerSkip, startRedisServer } from '../helpers/redis-server.js';
import type { RedisServer } from '../helpers/redis-server.js';
import { until } from '../helpers/sharing-gateways.js';
import {
  AUTHORIZATION,
  DEFAULT_SETTINGS,
  OTHER_AUTHORIZATION,
  XUIDS,
  gatewayFor,
  startTestGateway,
} from '../helpers/test-app.js';
import type { TestGateway, TestGatewayOptions } from '../helpers/test-app.js';

const [X1, X2, X3] = XUIDS;
const TIMEOUT_MS = 50;
const TTL_MS = 60_000;
const STALE_MS = 600_000;
/** What a request may take over the same request without Redis (the brief's bound). */
const SLACK_MS = 100;

/** Settings of every gateway here: a shared Redis and the default cache timing. */
function redisEnv(redis: RedisServer): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    REDIS_TIMEOUT_MS: String(TIMEOUT_MS),
    PROFILE_CACHE_TTL_MS: String(TTL_MS),
    PROFILE_CACHE_STALE_MS: String(STALE_MS),
  };
}

/** What `/readyz` says about Redis. */
async function readyzRedis(gw: TestGateway): Promise<{ status: number; redis: unknown }> {
  const res = await supertest(gw.app).get('/readyz');
  return { status: res.status, redis: (res.body as { redis?: unknown }).redis };
}

/** A gateway on its own fake upstreams sharing `redis`, once its connection is ready. */
async function sharingGateway(
  t: TestContext,
  redis: RedisServer,
  options: TestGatewayOptions = {},
): Promise<TestGateway> {
  const gw = await gatewayFor(t, { ...options, env: { ...redisEnv(redis), ...options.env } });
  await until(() => gw.deps.redis?.state() === 'ok', 'the gateway connects to Redis');
  return gw;
}

/** Resolves once Redis holds every default setting of `xuids` (writes are fire and forget). */
async function untilShared(redis: RedisServer, xuids: readonly string[]): Promise<void> {
  const wanted = xuids.flatMap((xuid) => DEFAULT_SETTINGS.map((s) => redisKey(`${xuid}:${s}`)));
  await until(
    async () => {
      const keys = await redis.dump();
      return wanted.every((key) => keys.has(key));
    },
    `Redis holds the profiles of ${xuids.join(', ')}`,
  );
}

/** A gateway process (`src/server.ts`) on its own fake upstreams. */
interface RunningProcess {
  readonly process: StartedProcess;
  readonly upstreams: FakeUpstreams;
  readonly base: string;
}

/** Starts `src/server.ts` on a free loopback port; ended by its PID when `t` ends. */
async function startRedisGatewayProcess(
  t: TestContext,
  env: Record<string, string>,
): Promise<RunningProcess> {
  const upstreams = await startFakeUpstreams();
  const gateway = startGatewayProcess(t, upstreams, env);
  const { port } = await gateway.waitForLog('gateway listening');
  await gateway.waitForLog('redis ok');
  return { process: gateway, upstreams, base: `http://127.0.0.1:${String(port)}` };
}

/** Milliseconds one card request takes, with its status. */
async function timedCards(gw: TestGateway, query: string): Promise<[number, number]> {
  const startedAt = performance.now();
  const res = await gw.getCards(query);
  return [res.status, performance.now() - startedAt];
}

describe(
  'Redis as the shared second level of the profile cache',
  { skip: redisServerSkip() },
  () => {
    test('when a profile was fetched through one gateway, a second gateway serves it without a profile call', async (t) => {
      const redis = await startRedisServer(t);
      const a = await sharingGateway(t, redis);
      const b = await sharingGateway(t, redis);
      cardsOf(await a.getCards(`xuids=${X1}`));
      await untilShared(redis, [X1]);

      const res = await b.getCards(`xuids=${X1}`, OTHER_AUTHORIZATION);

      assert.deepEqual(cardOf(cardsOf(res), X1).profile, sampleProfile(X1), 'B shows the profile');
      assert.equal(a.upstreams.callsTo('profile').length, 1, 'A fetched the profile once');
      assert.equal(b.upstreams.callsTo('profile').length, 0, 'B made no profile call');
      assert.equal(b.upstreams.callsTo('privacy').length, 1, 'B still asks privacy itself');
      assert.equal(b.deps.cache.size().entries, DEFAULT_SETTINGS.length, 'B keeps them in L1');
    });

    test('when a list is partly shared, the second gateway fetches only the XUIDs Redis lacks', async (t) => {
      const redis = await startRedisServer(t);
      const a = await sharingGateway(t, redis);
      const b = await sharingGateway(t, redis);
      cardsOf(await a.getCards(`xuids=${X1},${X2}`));
      await untilShared(redis, [X1, X2]);

      const res = await b.getCards(`xuids=${X1},${X2},${X3}`);

      const body = cardsOf(res);
      for (const xuid of [X1, X2, X3]) {
        assert.deepEqual(
          cardOf(body, xuid).profile,
          sampleProfile(xuid),
          `${xuid} has its profile`,
        );
      }
      const calls = b.upstreams.callsTo('profile');
      assert.equal(calls.length, 1, 'B made one profile call');
      assert.deepEqual(
        (calls[0]?.body as ProfileBody).userIds,
        [X3],
        'only the unshared XUID goes',
      );
      await untilShared(redis, [X3]);
    });

    test('when a shared value is past its TTL and the profile upstream fails, it is served stale', async (t) => {
      const redis = await startRedisServer(t);
      const b = await sharingGateway(t, redis, {
        env: { UPSTREAM_RETRIES: '0' },
        responders: { profile: () => ({ status: 503 }) },
      });
      const storedAtMs = Date.now() - TTL_MS - 1000;
      await redis.write(
        new Map(
          DEFAULT_SETTINGS.map((s) => [
            redisKey(`${X1}:${s}`),
            encodeEntry({ value: sampleSetting(X1, s), storedAtMs }),
          ]),
        ),
      );

      const res = await b.getCards(`xuids=${X1}`);

      const card = cardOf(cardsOf(res), X1);
      assert.equal(b.upstreams.callsTo('profile').length, 1, 'a stale value is fetched anew');
      assert.deepEqual(card.profile, sampleProfile(X1), 'the stale shared value is served');
      assert.equal(card.profileStatus, 'ok', 'the card shows the profile');
    });

    test('when mixed traffic has passed, Redis holds only profile settings of asked XUIDs, with their TTL and stale window', async (t) => {
      const redis = await startRedisServer(t);
      const asked = new Set<string>([X1, X2, X3, '2533274790000001', '2533274790000002']);
      const strangerXuid = '2533274799999999';
      // Profile answers that add a user nobody asked for, as a hostile upstream might.
      const profileWithStranger: Responder = async (call) => {
        const answer = await allProfiles(call);
        const body = answer.body as { profileUsers: unknown[] };
        body.profileUsers.push({
          id: strangerXuid,
          hostId: strangerXuid,
          isSponsoredUser: false,
          settings: [{ id: 'Gamertag', value: 'Stranger' }],
        });
        return answer;
      };
      const a = await sharingGateway(t, redis, {
        env: { UPSTREAM_RETRIES: '0' },
        responders: {
          social: () => ({
            body: {
              people: [{ xuid: X1, isFavorite: true, socialNetworks: ['LegacyXboxLive'] }],
              totalCount: 1,
            },
          }),
          profile: profileWithStranger,
          privacy: denyProfileTo([X2]),
        },
      });
      const statuses: number[] = [];

      statuses.push((await a.getCards(`xuids=${X1},${X2}&settings=Gamertag,Gamerscore`)).status);
      a.upstreams.respond('privacy', () => ({ status: 500 }));
      statuses.push((await a.getCards(`xuids=${X3}`)).status);
      a.upstreams.respond('privacy', () => ({ status: 401 }));
      statuses.push((await a.getCards('xuids=2533274790000001', OTHER_AUTHORIZATION)).status);
      a.upstreams.respond('privacy', denyProfileTo([]));
      a.upstreams.respond('profile', () => ({ status: 401 }));
      statuses.push((await a.getCards('xuids=2533274790000002')).status);

      assert.deepEqual(statuses, [200, 200, 401, 401], 'cards, a partial answer and two 401s');
      await untilShared(redis, [X3, '2533274790000001']);
      const dump = await redis.dump();
      for (const xuid of [X1, X2]) {
        assert.ok(dump.has(redisKey(`${xuid}:Gamertag`)), `the asked setting of ${xuid} is shared`);
        assert.ok(!dump.has(redisKey(`${xuid}:Gamertag`).replace('Gamertag', 'GameDisplayName')));
      }
      const forbidden = [
        AUTHORIZATION,
        OTHER_AUTHORIZATION,
        ...[AUTHORIZATION, OTHER_AUTHORIZATION].flatMap((auth) => auth.split(/[=;]/)),
        'XBL3.0',
        'isAllowed',
        'reasons',
        'BlockList',
        'isFavorite',
        'socialNetworks',
        'people',
        'Stranger',
        strangerXuid,
      ].filter((word) => word.length > 4);
      for (const [key, { value, pttlMs }] of dump) {
        const match = /^fcg:v1:profile:(\d+):([A-Za-z]+)$/.exec(key);
        assert.ok(match, `key ${key} is a namespaced profile pair`);
        const [, xuid = '', setting = ''] = match;
        assert.ok(asked.has(xuid), `key ${key} is of an asked XUID`);
        assert.ok(DEFAULT_SETTINGS.includes(setting), `key ${key} is of a profile setting`);
        assert.ok(xuid !== '2533274790000002', 'a profile answered 401 is not shared');
        assert.equal(decodeEntry(value)?.value, sampleSetting(xuid, setting), `${key} holds it`);
        assert.ok(
          pttlMs > TTL_MS && pttlMs <= TTL_MS + STALE_MS,
          `${key} lives TTL + stale window`,
        );
        for (const word of forbidden) {
          assert.ok(!`${key} ${value}`.includes(word), `${key} holds no '${word}'`);
        }
      }
    });

    test('when Redis is paused past the timeout, killed and restarted, every request is 200 within the bound and sharing resumes', async (t) => {
      const redis = await startRedisServer(t);
      const baseline = await gatewayFor(t);
      const a = await sharingGateway(t, redis);
      const b = await sharingGateway(t, redis);
      const query = `xuids=${X1},${X2},${X3}`;
      // The same cold request without Redis, its median of five after a warm-up.
      cardsOf(await baseline.getCards(query));
      const baselineTimes: number[] = [];
      for (let i = 0; i < 5; i++) {
        baseline.deps.cache.clear();
        baselineTimes.push((await timedCards(baseline, query))[1]);
      }
      baselineTimes.sort((x, y) => x - y);
      const boundMs = (baselineTimes[2] ?? 0) + TIMEOUT_MS + SLACK_MS;
      cardsOf(await a.getCards(query));
      /** Cold requests through A (L1 emptied first), each checked against the bound. */
      const checkRequests = async (phase: string) => {
        for (let i = 0; i < 3; i++) {
          a.deps.cache.clear();
          const [status, elapsedMs] = await timedCards(a, query);
          assert.equal(status, 200, `${phase}: request ${i} is served`);
          assert.ok(
            elapsedMs <= boundMs,
            `${phase}: request ${i} took ${elapsedMs.toFixed(1)} ms, bound ${boundMs.toFixed(1)} ms`,
          );
        }
      };

      redis.pause();
      await checkRequests('paused');
      const whilePaused = await readyzRedis(a);
      redis.resume();
      await until(async () => (await readyzRedis(a)).redis === 'ok', 'Redis is ok after resuming');
      await redis.kill();
      await until(() => a.deps.redis?.state() === 'degraded', 'the level sees Redis gone');
      await checkRequests('killed');
      const whileDown = await readyzRedis(a);
      await redis.restart();
      await until(async () => (await readyzRedis(a)).redis === 'ok', 'A reconnects');
      await until(async () => (await readyzRedis(b)).redis === 'ok', 'B reconnects');
      const profileCallsOfB = b.upstreams.callsTo('profile').length;
      a.deps.cache.clear();
      cardsOf(await a.getCards(`xuids=${X2}`));
      await untilShared(redis, [X2]);
      const shared = await b.getCards(`xuids=${X2}`);

      assert.deepEqual(whilePaused, { status: 200, redis: 'degraded' }, 'paused: 200, degraded');
      assert.deepEqual(whileDown, { status: 200, redis: 'degraded' }, 'down: 200, degraded');
      assert.deepEqual(cardOf(cardsOf(shared), X2).profile, sampleProfile(X2), 'B shows it');
      assert.equal(
        b.upstreams.callsTo('profile').length,
        profileCallsOfB,
        'after the restart, a profile fetched through A is served by B without a profile call',
      );
      const stats = a.deps.sharedCache?.stats();
      assert.ok(
        (stats?.failedReads ?? 0) >= 6,
        'the reads while paused and down counted as misses',
      );
    });

    test('when Redis holds garbage under the real keys, requests are 200, the values count as misses and are replaced', async (t) => {
      const redis = await startRedisServer(t);
      const b = await sharingGateway(t, redis);
      const [first, second, third, fourth] = DEFAULT_SETTINGS.map((s) => redisKey(`${X1}:${s}`));
      const garbage = new Map([
        [first ?? '', 'not json at all'],
        [second ?? '', JSON.stringify({ v: 2, at: Date.now(), value: 'from a newer format' })],
        [third ?? '', JSON.stringify({ v: 1, at: 'yesterday', value: 7 })],
        [fourth ?? '', '[1,2,3]'],
      ]);
      await redis.write(garbage);

      const res = await b.getCards(`xuids=${X1}`);

      assert.deepEqual(cardOf(cardsOf(res), X1).profile, sampleProfile(X1), 'the real profile');
      assert.equal(b.upstreams.callsTo('profile').length, 1, 'garbage is a miss: one profile call');
      assert.equal(
        b.deps.sharedCache?.stats().unreadableValues,
        4,
        'each garbage value was counted',
      );
      await until(async () => {
        const dump = await redis.dump();
        return [...garbage.keys()].every((key) => decodeEntry(dump.get(key)?.value) !== undefined);
      }, 'the fetched values replace the garbage');
      assert.equal((await readyzRedis(b)).redis, 'ok', 'garbage does not make Redis degraded');
    });

    test('when REDIS_URL carries the right password the level is ok, and a wrong one is degraded; neither password appears in logs or /readyz', async (t) => {
      const redis = await startRedisServer(t, { password: 'hunter2-right' });
      const right = await sharingGateway(t, redis);
      const wrongUrl = redis.url.replace('hunter2-right', 'hunter2-wrong');
      const wrong = await gatewayFor(t, { env: { ...redisEnv(redis), REDIS_URL: wrongUrl } });
      await until(() => wrong.logs.some((l) => l.msg === 'redis degraded'), 'refused');

      const readyRight = await supertest(right.app).get('/readyz');
      const readyWrong = await supertest(wrong.app).get('/readyz');
      cardsOf(await wrong.getCards(`xuids=${X1}`));

      assert.equal(
        (readyRight.body as { redis?: unknown }).redis,
        'ok',
        'the right password is ok',
      );
      assert.equal(readyWrong.status, 200, 'a refused Redis leaves the gateway ready');
      assert.equal((readyWrong.body as { redis?: unknown }).redis, 'degraded', 'and degraded');
      for (const text of [right.logText(), wrong.logText(), readyRight.text, readyWrong.text]) {
        assert.ok(!text.includes('hunter2'), 'no password in logs or /readyz');
      }
    });

    test('when Redis is paused at shutdown, closing the gateway takes at most the Redis timeout plus a little', async (t) => {
      const redis = await startRedisServer(t);
      const gw = await startTestGateway({ env: redisEnv(redis) });
      await until(() => gw.deps.redis?.state() === 'ok', 'the gateway connects to Redis');
      cardsOf(await gw.getCards(`xuids=${X1}`));
      redis.pause();
      gw.deps.cache.clear();
      cardsOf(await gw.getCards(`xuids=${X2}`));

      const startedAt = performance.now();
      await gw.close();
      const elapsedMs = performance.now() - startedAt;

      assert.ok(elapsedMs <= TIMEOUT_MS + SLACK_MS, `close took ${elapsedMs.toFixed(1)} ms`);
      redis.resume();
    });

    test("when two gateway processes share a password-protected Redis, the second serves the first one's fetch, and SIGTERM closes the connection after the drain", async (t) => {
      const redis = await startRedisServer(t, { password: 'hunter2-process' });
      const processEnv = { ...redisEnv(redis), LOG_LEVEL: 'debug' };
      const a = await startRedisGatewayProcess(t, processEnv);
      const b = await startRedisGatewayProcess(t, processEnv);
      const cards = (gateway: RunningProcess, authorization: string) =>
        fetch(`${gateway.base}/friends-with-profiles?xuids=${X1}`, {
          headers: { Authorization: authorization },
        });
      assert.equal((await cards(a, AUTHORIZATION)).status, 200, 'A serves the card');
      await untilShared(redis, [X1]);

      const fromB = await cards(b, OTHER_AUTHORIZATION);
      const readyz = (await (await fetch(`${b.base}/readyz`)).json()) as { redis?: unknown };
      b.process.child.kill('SIGTERM');
      const code = await b.process.exited;

      assert.equal(fromB.status, 200, 'B serves the card');
      assert.deepEqual(
        cardOf((await fromB.json()) as FriendCardsResult, X1).profile,
        sampleProfile(X1),
        'B shows the profile A fetched',
      );
      assert.equal(b.upstreams.callsTo('profile').length, 0, 'B made no profile call');
      assert.equal(readyz.redis, 'ok', "B's /readyz shows Redis ok");
      assert.equal(code, 0, 'B exits 0');
      const messages = b.process.lines.map((line) => (line as { msg?: unknown }).msg);
      const closedAt = messages.indexOf('redis closed');
      assert.ok(closedAt > messages.indexOf('draining'), 'Redis is closed after the drain');
      assert.ok(closedAt < messages.indexOf('stopped'), 'and before the process stops');
      assert.equal(await redis.connectedClients(), 1, "only A's connection is left");
      for (const gateway of [a, b]) {
        assert.ok(!JSON.stringify(gateway.process.lines).includes('hunter2'), 'no password logged');
      }
    });

    test('when REDIS_URL is unset, /readyz has no redis member and nothing connects', async (t) => {
      const gw = await gatewayFor(t);

      const res = await supertest(gw.app).get('/readyz');

      assert.equal(res.status, 200, 'ready');
      assert.equal('redis' in (res.body as object), false, 'no redis member without REDIS_URL');
      assert.equal(gw.deps.redis, undefined, 'no Redis connection is made');
    });
  },
);
