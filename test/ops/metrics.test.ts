import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import supertest from 'supertest';
import { assertProblem, cardsOf } from '../helpers/assertions.js';
import { allProfiles, allowEverything, emptyPeople } from '../helpers/fake-upstreams.js';
import type { FakeResponse, FakeUpstreamName, Responder } from '../helpers/fake-upstreams.js';
import { scrape } from '../helpers/metrics-text.js';
import type { Scrape } from '../helpers/metrics-text.js';
import {
  AUTHORIZATION,
  DEFAULT_SETTINGS,
  OTHER_AUTHORIZATION,
  XUIDS,
  gatewayFor,
  listenFor,
} from '../helpers/test-app.js';

const ALL_XUIDS = `xuids=${XUIDS.join(',')}`;
/** Pairs one request for every XUID asks the profile cache for: 3 XUIDs × 4 default settings. */
const PAIRS = XUIDS.length * DEFAULT_SETTINGS.length;

/** A responder that always answers `response`. */
const answer =
  (response: FakeResponse): Responder =>
  () =>
    response;

/** Resolves once `condition()` holds, polling every 10 ms for at most `timeoutMs`. */
async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 2000) {
  const endAt = performance.now() + timeoutMs;
  while (!(await condition())) {
    assert.ok(performance.now() < endAt, `the condition should hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function calls(metrics: Scrape, upstream: FakeUpstreamName, outcome: string): number | undefined {
  return metrics.value('upstream_calls_total', { upstream, outcome });
}

describe('/metrics', () => {
  test('when card requests went through the upstreams, request, upstream and cache series count them', async (t) => {
    const gw = await gatewayFor(t);

    await gw.getCards(ALL_XUIDS).expect(200);
    await gw.getCards(ALL_XUIDS).expect(200);
    const metrics = await scrape(gw.app);

    const card = { route: '/friends-with-profiles', method: 'GET', status: '200' };
    assert.equal(metrics.value('http_requests_total', card), 2, 'both card requests counted');
    assert.equal(
      metrics.value('http_request_duration_seconds_count', {
        route: '/friends-with-profiles',
        status_class: '2xx',
      }),
      2,
      'both card requests timed',
    );
    assert.match(metrics.text, /^# TYPE http_request_duration_seconds histogram$/m, 'a histogram');
    assert.equal(calls(metrics, 'social', 'ok'), 2, 'one social call per request');
    assert.equal(calls(metrics, 'privacy', 'ok'), 2, 'one privacy call per request');
    assert.equal(calls(metrics, 'profile', 'ok'), 1, 'profile only for the cold request');
    assert.equal(
      metrics.value('upstream_call_duration_seconds_count', { upstream: 'profile' }),
      1,
      'the profile call is timed',
    );
    assert.equal(metrics.value('upstream_retries_total'), 0, 'nothing was retried');
    assert.equal(metrics.value('upstream_circuit_state'), 0, 'every circuit is closed (0)');
    assert.equal(metrics.value('profile_cache_misses_total'), PAIRS, 'the cold request missed');
    assert.equal(
      metrics.value('profile_cache_hits_total', { level: 'L1' }),
      PAIRS,
      'the warm request hit L1 for every pair',
    );
    const size = gw.deps.cache.size();
    assert.equal(metrics.value('profile_cache_entries'), size.entries, 'entries read at scrape');
    assert.equal(metrics.value('profile_cache_bytes'), size.bytes, 'bytes read at scrape');
    assert.equal(size.entries, PAIRS, 'every fetched pair is cached');
    assert.equal(metrics.value('http_requests_in_flight'), 1, 'only the scrape is in flight');
  });

  test('when a path is unknown, it is counted under route unmatched and never by its raw path', async (t) => {
    const gw = await gatewayFor(t);

    await supertest(gw.app).get('/players/2533274791381930/secret-admin').expect(404);
    await supertest(gw.app).post('/healthz').expect(405);
    const metrics = await scrape(gw.app);

    assert.equal(
      metrics.value('http_requests_total', { route: 'unmatched', method: 'GET', status: '404' }),
      1,
      'the 404 is under route unmatched',
    );
    assert.equal(
      metrics.value('http_requests_total', { route: '/healthz', method: 'POST', status: '405' }),
      1,
      'a wrong method on a known path keeps its route pattern',
    );
    assert.ok(!metrics.text.includes('players'), 'the raw path appears nowhere');
    const routes = new Set(metrics.samples.map((sample) => sample.labels.route).filter(Boolean));
    assert.deepEqual([...routes].sort(), ['/healthz', 'unmatched'], 'only patterns and unmatched');
  });

  test('when requests carried XUIDs, a token, a caller and a request id, none of them is in the body', async (t) => {
    const gw = await gatewayFor(t);
    const [, token = ''] = AUTHORIZATION.split(';');
    const userHash = /x=(\d+)/.exec(AUTHORIZATION)?.[1] ?? '';

    await gw.getCards(ALL_XUIDS).set('X-Request-Id', 'trace-me-42').expect(200);
    await gw.getCards(`xuids=${XUIDS[0]}`, OTHER_AUTHORIZATION).expect(200);
    await gw.getCards('xuids=12a').expect(400);
    const { text } = await scrape(gw.app);

    for (const secret of [...XUIDS, token, userHash, 'trace-me-42', '12a']) {
      assert.ok(secret.length > 0 && !text.includes(secret), `'${secret}' is not in /metrics`);
    }
  });

  test('when two gateways run in one process, each has its own registry', async (t) => {
    const busy = await gatewayFor(t);
    const idle = await gatewayFor(t);

    await busy.getCards(ALL_XUIDS).expect(200);
    const metrics = await scrape(idle.app);

    assert.equal(
      metrics.value('http_requests_total', { route: '/friends-with-profiles' }),
      undefined,
      "the idle gateway's scrape shows none of the other's card requests",
    );
    assert.equal(calls(metrics, 'social', 'ok'), 0, 'nor its upstream calls');
  });
});

describe('upstream outcomes at /metrics', () => {
  /** Each fault of one upstream, and the outcome label its one attempt must be counted under. */
  const faults: {
    name: string;
    upstream: FakeUpstreamName;
    response: FakeResponse;
    outcome: string;
    env?: Record<string, string>;
  }[] = [
    {
      name: 'hangs past UPSTREAM_TIMEOUT_MS',
      upstream: 'social',
      response: { hang: true },
      outcome: 'timeout',
      env: { UPSTREAM_TIMEOUT_MS: '100' },
    },
    { name: 'answers 500', upstream: 'profile', response: { status: 500 }, outcome: 'unavailable' },
    {
      name: 'answers 200 with truncated JSON',
      upstream: 'privacy',
      response: { rawBody: '{"responses": [' },
      outcome: 'bad_response',
    },
    {
      name: 'answers 429',
      upstream: 'social',
      response: { status: 429, headers: { 'retry-after': '5' } },
      outcome: 'throttled',
    },
    {
      name: 'answers 401',
      upstream: 'privacy',
      response: { status: 401 },
      outcome: 'credentials_rejected',
    },
    {
      name: 'answers 403',
      upstream: 'profile',
      response: { status: 403 },
      outcome: 'credentials_rejected',
    },
  ];

  for (const fault of faults) {
    test(`when ${fault.upstream} ${fault.name}, its one attempt is counted as ${fault.outcome}`, async (t) => {
      const gw = await gatewayFor(t, {
        env: { UPSTREAM_RETRIES: '0', ...fault.env },
        responders: { [fault.upstream]: answer(fault.response) },
      });

      await gw.getCards(ALL_XUIDS);
      const metrics = await scrape(gw.app);

      assert.equal(calls(metrics, fault.upstream, fault.outcome), 1, `one ${fault.outcome}`);
      assert.equal(
        metrics.value('upstream_call_duration_seconds_count', {
          upstream: fault.upstream,
          outcome: fault.outcome,
        }),
        1,
        'and it is timed under the same labels',
      );
      assert.equal(
        metrics.value('upstream_calls_total', { upstream: fault.upstream }),
        1,
        'no other outcome for that upstream',
      );
    });
  }

  test('when an upstream fails once and the retry succeeds, both attempts and one retry are counted', async (t) => {
    let profileCalls = 0;
    const gw = await gatewayFor(t, {
      responders: {
        profile: (call) => {
          profileCalls += 1;
          return profileCalls === 1 ? { status: 503 } : allProfiles(call);
        },
      },
    });

    const response = await gw.getCards(ALL_XUIDS).expect(200);
    const metrics = await scrape(gw.app);

    assert.equal(cardsOf(response).partial, false, 'the retry made the answer complete');
    assert.equal(calls(metrics, 'profile', 'unavailable'), 1, 'the failed attempt');
    assert.equal(calls(metrics, 'profile', 'ok'), 1, 'the successful retry');
    assert.equal(
      metrics.value('upstream_retries_total', { upstream: 'profile' }),
      1,
      'one retry of profile',
    );
    assert.equal(
      metrics.value('upstream_retries_total', { upstream: 'social' }),
      0,
      'none of social',
    );
  });

  test('when the circuit is open, each rejected call is counted once as circuit_open and the gauge reads 2', async (t) => {
    const gw = await gatewayFor(t, {
      env: { UPSTREAM_RETRIES: '2', BREAKER_FAILURE_THRESHOLD: '1' },
      responders: { social: answer({ status: 500 }) },
    });

    await gw.getCards(ALL_XUIDS);
    await gw.getCards(ALL_XUIDS);
    const metrics = await scrape(gw.app);

    assert.equal(gw.upstreams.callsTo('social').length, 1, 'social was called once');
    assert.equal(calls(metrics, 'social', 'unavailable'), 1, 'the call that opened the circuit');
    assert.equal(
      calls(metrics, 'social', 'circuit_open'),
      2,
      "the first call's retry and the second request, each once",
    );
    assert.equal(
      metrics.value('upstream_retries_total', { upstream: 'social' }),
      1,
      'the retry that met the open circuit',
    );
    assert.equal(
      metrics.value('upstream_circuit_state', { upstream: 'social' }),
      2,
      'social reads open (2)',
    );
    assert.equal(
      metrics.value('upstream_circuit_state', { upstream: 'privacy' }),
      0,
      'privacy reads closed (0)',
    );
  });

  test('when a caller is held back after a 429, the hold is counted once as throttled and nothing is sent', async (t) => {
    const gw = await gatewayFor(t, {
      responders: { social: answer({ status: 429, headers: { 'retry-after': '30' } }) },
    });

    await gw.getCards(ALL_XUIDS);
    await gw.getCards(ALL_XUIDS);
    const metrics = await scrape(gw.app);

    assert.equal(gw.upstreams.callsTo('social').length, 1, 'the second call was not sent');
    assert.equal(calls(metrics, 'social', 'throttled'), 2, 'the 429 and the hold, once each');
    assert.equal(metrics.value('upstream_retries_total'), 0, 'a 429 is never retried');
  });

  test("when an upstream's connections and queue are full, the call fails fast as bulkhead_full", async (t) => {
    const gw = await gatewayFor(t, {
      env: { UPSTREAM_CONNECTIONS: '1', UPSTREAM_MAX_QUEUED: '0', UPSTREAM_RETRIES: '0' },
      responders: { profile: async (call) => ({ ...(await allProfiles(call)), delayMs: 300 }) },
    });

    const answers = await Promise.all([
      gw.getCards(`xuids=${XUIDS[0]}`).then((response) => response),
      gw.getCards(`xuids=${XUIDS[1]}`).then((response) => response),
    ]);
    const metrics = await scrape(gw.app);

    assert.ok(
      answers.some((response) => response.status === 200),
      'the request that got the connections is answered',
    );
    assert.equal(gw.upstreams.callsTo('profile').length, 1, 'one profile call was sent');
    assert.equal(calls(metrics, 'profile', 'bulkhead_full'), 1, 'the other failed fast');
    assert.equal(calls(metrics, 'profile', 'ok'), 1, 'and the sent one succeeded');
  });
});

describe('profile cache series at /metrics', () => {
  test('when a fetch fails after the TTL, the stale pairs served are counted', async (t) => {
    let nowMs = 1_000_000;
    const gw = await gatewayFor(t, {
      env: {
        PROFILE_CACHE_TTL_MS: '1000',
        PROFILE_CACHE_STALE_MS: '60000',
        UPSTREAM_RETRIES: '0',
      },
      now: () => nowMs,
    });
    await gw.getCards(ALL_XUIDS).expect(200);
    gw.upstreams.respond('profile', answer({ status: 500 }));
    nowMs += 2000;

    const response = await gw.getCards(ALL_XUIDS).expect(200);
    const metrics = await scrape(gw.app);

    assert.equal(cardsOf(response).partial, false, 'stale values made the answer complete');
    assert.equal(metrics.value('profile_cache_stale_served_total'), PAIRS, 'every pair was stale');
    assert.equal(
      metrics.value('profile_cache_misses_total'),
      2 * PAIRS,
      'stale pairs are misses: they were fetched again',
    );
    assert.equal(metrics.value('profile_cache_hits_total'), 0, 'nothing was fresh');
  });

  test('when a second request asks for pairs already being loaded, it joins the load and is counted as coalesced', async (t) => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const gw = await gatewayFor(t, {
      responders: {
        profile: async (call) => {
          await held;
          return allProfiles(call);
        },
      },
    });

    const first = gw.getCards(ALL_XUIDS).then((response) => response);
    await until(() => gw.upstreams.callsTo('profile').length === 1);
    const second = gw.getCards(ALL_XUIDS, OTHER_AUTHORIZATION).then((response) => response);
    await until(() => gw.upstreams.callsTo('privacy').length === 2);
    release();
    await Promise.all([first, second]);
    const metrics = await scrape(gw.app);

    assert.equal(gw.upstreams.callsTo('profile').length, 1, 'one profile call for both');
    assert.equal(metrics.value('profile_cache_coalesced_total'), PAIRS, 'every pair joined');
    assert.equal(metrics.value('profile_cache_misses_total'), PAIRS, 'only the first missed');
  });

  test('when the cache is too small for a request, its evictions are counted', async (t) => {
    const gw = await gatewayFor(t, { env: { PROFILE_CACHE_MAX_BYTES: '1024' } });

    await gw.getCards(ALL_XUIDS).expect(200);
    const metrics = await scrape(gw.app);

    const entries = metrics.value('profile_cache_entries') ?? 0;
    assert.ok(entries > 0 && entries < PAIRS, `some pairs fit (${entries} of ${PAIRS})`);
    assert.equal(
      metrics.value('profile_cache_evictions_total'),
      PAIRS - entries,
      'every stored pair that is gone was evicted',
    );
    assert.ok(
      (metrics.value('profile_cache_bytes') ?? Infinity) <= 1024,
      'the bytes gauge stays within the bound',
    );
  });
});

describe('/metrics while the gateway sheds load', () => {
  test('when MAX_IN_FLIGHT_REQUESTS card requests are held, a new one is shed, and /metrics still answers and counts it', async (t) => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow =
      (responder: Responder): Responder =>
      async (call) => {
        await held;
        return responder(call);
      };
    const gw = await gatewayFor(t, {
      env: { MAX_IN_FLIGHT_REQUESTS: '1', REQUEST_DEADLINE_MS: '3000' },
      responders: {
        social: slow(emptyPeople),
        profile: slow(allProfiles),
        privacy: slow(allowEverything),
      },
    });
    const first = gw.getCards(`xuids=${XUIDS[0]}`).then((response) => response);
    await until(() => gw.upstreams.calls.length === 3);

    const shed = await gw.getCards(`xuids=${XUIDS[1]}`);
    const metrics = await scrape(gw.app);
    release();
    await first;

    assertProblem(shed, 503, 'overloaded');
    assert.equal(
      metrics.value('http_requests_shed_total', { reason: 'in_flight' }),
      1,
      'the shed request is counted under in_flight',
    );
    assert.equal(
      metrics.value('http_requests_total', {
        route: '/friends-with-profiles',
        method: 'GET',
        status: '503',
      }),
      1,
      'and answered 503',
    );
    assert.equal(
      metrics.value('http_requests_in_flight'),
      2,
      'the held card request and the scrape are in flight',
    );
  });

  test('when the event loop lags past MAX_EVENT_LOOP_DELAY_MS, card requests are shed and /metrics answers', async (t) => {
    const gw = await gatewayFor(t, {
      env: { MAX_EVENT_LOOP_DELAY_MS: '100' },
      eventLoopDelay: () => 500,
    });

    const shed = await gw.getCards(ALL_XUIDS);
    const metrics = await scrape(gw.app);

    assertProblem(shed, 503, 'overloaded');
    assert.equal(
      metrics.value('http_requests_shed_total', { reason: 'event_loop_delay' }),
      1,
      'counted under event_loop_delay',
    );
    assert.equal(
      metrics.value('http_requests_shed_total', { reason: 'in_flight' }),
      0,
      'not under in_flight',
    );
    assert.equal(gw.upstreams.calls.length, 0, 'the shed request called no upstream');
  });
});

test('when a client hangs up before its answer, the request is counted with status 499', async (t) => {
  const gw = await gatewayFor(t, { responders: { social: answer({ hang: true }) } });
  const port = await listenFor(t, gw.app);

  const request = httpRequest({
    host: '127.0.0.1',
    port,
    path: `/friends-with-profiles?${ALL_XUIDS}`,
    headers: { authorization: AUTHORIZATION },
  });
  request.on('error', () => undefined);
  request.end();
  await until(() => gw.upstreams.callsTo('social').length === 1);
  request.destroy();
  let metrics: Scrape | undefined;
  await until(async () => {
    metrics = await scrape(gw.app);
    return metrics.value('http_requests_total', { status: '499' }) !== undefined;
  });

  assert.equal(
    metrics?.value('http_requests_total', {
      route: '/friends-with-profiles',
      method: 'GET',
      status: '499',
    }),
    1,
    'the abandoned card request is counted once, as 499',
  );
});
