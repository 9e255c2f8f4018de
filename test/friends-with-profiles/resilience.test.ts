import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import supertest from 'supertest';
import { assertProblem, asCardsResult, sampleProfile } from '../helpers/assertions.js';
import { allProfiles, allowEverything, emptyPeople } from '../helpers/fake-upstreams.js';
import type { FakeResponse, FakeUpstreamName, Responder } from '../helpers/fake-upstreams.js';
import { XUIDS, gatewayFor } from '../helpers/test-app.js';
import type { TestGateway } from '../helpers/test-app.js';

const [X1] = XUIDS;
const UPSTREAMS: readonly FakeUpstreamName[] = ['social', 'profile', 'privacy'];
const HEALTHY: Record<FakeUpstreamName, Responder> = {
  social: emptyPeople,
  profile: allProfiles,
  privacy: allowEverything,
};

/** Answers `first` to the first call, then as a healthy upstream. */
function failingOnce(upstream: FakeUpstreamName, first: FakeResponse): Responder {
  let calls = 0;
  return (call) => (++calls === 1 ? first : HEALTHY[upstream](call));
}

async function readyz(gw: TestGateway) {
  const response = await supertest(gw.app).get('/readyz');
  return {
    status: response.status,
    circuits: Object.fromEntries(
      Object.entries(
        (response.body as { upstreams: Record<string, { circuit: string }> }).upstreams,
      ).map(([name, { circuit }]) => [name, circuit]),
    ),
  };
}

describe('retries', () => {
  for (const upstream of UPSTREAMS) {
    for (const [name, first] of [
      ['answers 503', { status: 503 }],
      ['answers 502', { status: 502 }],
      ['resets the connection', { reset: true }],
    ] as const) {
      test(`when ${upstream} ${name} once and then succeeds, the answer is complete after one retry`, async (t) => {
        const gw = await gatewayFor(t, {
          responders: { [upstream]: failingOnce(upstream, first) },
        });

        const response = await gw.getCards(`xuids=${X1}`);

        assert.equal(response.status, 200, 'the request is served');
        const body = asCardsResult(response.body);
        assert.equal(body.partial, false, 'the retry made the answer complete');
        assert.deepEqual(body.errors, [], 'no part is listed as failed');
        assert.deepEqual(body.cards[0]?.profile, sampleProfile(X1), 'the profile is present');
        assert.equal(gw.upstreams.callsTo(upstream).length, 2, `${upstream} is called twice`);
      });
    }
  }

  for (const status of [400, 401, 403, 404, 429]) {
    test(`when profile answers ${status}, it is not retried`, async (t) => {
      const gw = await gatewayFor(t, { responders: { profile: () => ({ status }) } });

      await gw.getCards(`xuids=${X1}`);

      assert.equal(gw.upstreams.callsTo('profile').length, 1, `a ${status} is sent once`);
    });
  }

  test('when every attempt fails, the part fails after UPSTREAM_RETRIES extra attempts', async (t) => {
    const gw = await gatewayFor(t, {
      env: { UPSTREAM_RETRIES: '2' },
      responders: { privacy: () => ({ status: 500 }) },
    });

    const response = await gw.getCards(`xuids=${X1}`);

    assert.deepEqual(
      asCardsResult(response.body).errors,
      [{ upstream: 'privacy', code: 'unavailable', status: 500 }],
      'the last failure is reported',
    );
    assert.equal(gw.upstreams.callsTo('privacy').length, 3, 'one call and two retries');
  });

  test('when the deadline leaves no room for another attempt, no retry is started', async (t) => {
    const gw = await gatewayFor(t, {
      env: { REQUEST_DEADLINE_MS: '150' },
      responders: { social: () => ({ status: 503, delayMs: 130 }) },
    });

    const response = await gw.getCards(`xuids=${X1}`);

    assert.equal(response.status, 200, 'the other parts are served');
    assert.equal(
      gw.upstreams.callsTo('social').length,
      1,
      'no attempt is started past the deadline',
    );
  });
});

describe('circuit breakers', () => {
  test('when an upstream fails BREAKER_FAILURE_THRESHOLD calls in a row, its circuit opens and it is not called', async (t) => {
    const gw = await gatewayFor(t, {
      env: { UPSTREAM_RETRIES: '0', BREAKER_FAILURE_THRESHOLD: '3' },
      responders: { social: () => ({ status: 500 }) },
    });
    for (let i = 0; i < 3; i += 1) await gw.getCards(`xuids=${X1}`);

    const response = await gw.getCards(`xuids=${X1}`);
    const ready = await readyz(gw);

    assert.deepEqual(
      asCardsResult(response.body).errors,
      [{ upstream: 'social', code: 'circuit_open' }],
      'the social part fails at once as circuit_open',
    );
    assert.equal(gw.upstreams.callsTo('social').length, 3, 'the open circuit calls nothing');
    assert.equal(ready.status, 200, 'one open circuit does not make the gateway unready');
    assert.deepEqual(
      ready.circuits,
      { social: 'open', profile: 'closed', privacy: 'closed' },
      '/readyz shows the real circuit states',
    );
  });

  test('when the half-open delay has passed, one probe goes and its success closes the circuit', async (t) => {
    const gw = await gatewayFor(t, {
      env: {
        UPSTREAM_RETRIES: '0',
        BREAKER_FAILURE_THRESHOLD: '2',
        BREAKER_HALF_OPEN_AFTER_MS: '100',
      },
      responders: { privacy: () => ({ status: 503 }) },
    });
    for (let i = 0; i < 2; i += 1) await gw.getCards(`xuids=${X1}`);
    gw.upstreams.respond('privacy', allowEverything);
    await new Promise((resolve) => setTimeout(resolve, 150));

    const dueState = (await readyz(gw)).circuits.privacy;
    const response = await gw.getCards(`xuids=${X1}`);
    const after = await readyz(gw);

    assert.equal(dueState, 'half-open', 'a circuit due for a probe shows half-open');
    assert.equal(asCardsResult(response.body).partial, false, 'the probe succeeds');
    assert.equal(gw.upstreams.callsTo('privacy').length, 3, 'exactly one probe was sent');
    assert.equal(after.circuits.privacy, 'closed', 'a successful probe closes the circuit');
  });

  test('when every circuit is open, /readyz answers 503 and card requests get 502 without upstream calls', async (t) => {
    const gw = await gatewayFor(t, {
      env: { UPSTREAM_RETRIES: '0', BREAKER_FAILURE_THRESHOLD: '1' },
      responders: {
        social: () => ({ status: 500 }),
        profile: () => ({ status: 500 }),
        privacy: () => ({ status: 500 }),
      },
    });
    await gw.getCards(`xuids=${X1}`);
    const callsBefore = gw.upstreams.calls.length;

    const ready = await readyz(gw);
    const response = await gw.getCards(`xuids=${X1}`);

    assert.equal(ready.status, 503, 'a replica whose circuits are all open is not ready');
    assertProblem(response, 502, 'upstreams_failed');
    assert.equal(gw.upstreams.calls.length, callsBefore, 'no upstream is called');
  });

  test('when the profile circuit is open, a stale profile is served without a profile call', async (t) => {
    let nowMs = 1_000_000;
    const gw = await gatewayFor(t, {
      env: {
        UPSTREAM_RETRIES: '0',
        BREAKER_FAILURE_THRESHOLD: '1',
        PROFILE_CACHE_TTL_MS: '1000',
      },
      now: () => nowMs,
    });
    await gw.getCards(`xuids=${X1}`);
    nowMs += 2000;
    gw.upstreams.respond('profile', () => ({ status: 500 }));
    await gw.getCards(`xuids=${X1}`);
    const profileCalls = gw.upstreams.callsTo('profile').length;

    const response = await gw.getCards(`xuids=${X1}`);

    const body = asCardsResult(response.body);
    const card = body.cards[0];
    assert.equal(card?.profileStatus, 'ok', 'the stale profile is served');
    assert.deepEqual(card.profile, sampleProfile(X1), 'with its cached values');
    assert.equal(body.partial, false, 'serving stale over an open circuit is not partial');
    assert.equal(gw.upstreams.callsTo('profile').length, profileCalls, 'no profile call is made');
  });

  test('when an upstream fails every call, it gets at most 1.3 calls per client request', async (t) => {
    const gw = await gatewayFor(t, { responders: { social: () => ({ status: 503 }) } });
    const requests = 60;

    for (let i = 0; i < requests; i += 1) await gw.getCards(`xuids=${X1}`);

    const perRequest = gw.upstreams.callsTo('social').length / requests;
    assert.ok(perRequest <= 1.3, `a dead upstream got ${perRequest} calls per client request`);
  });
});

describe('bulkheads', () => {
  test('when an upstream is slow and its connections and queue are full, further parts fail fast', async (t) => {
    const gw = await gatewayFor(t, {
      env: { UPSTREAM_CONNECTIONS: '1', UPSTREAM_MAX_QUEUED: '1' },
      responders: { social: () => ({ body: { people: [], totalCount: 0 }, delayMs: 400 }) },
    });
    // `.then` starts a supertest request at once.
    const held = [1, 2].map(() => gw.getCards(`xuids=${X1}`).then((response) => response));
    for (let waited = 0; gw.upstreams.callsTo('privacy').length < 2 && waited < 300; waited += 5) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const startedAt = performance.now();

    const late = await gw.getCards(`xuids=${X1}`);
    const elapsedMs = performance.now() - startedAt;
    const socialCalls = gw.upstreams.callsTo('social').length;
    await Promise.all(held);

    assert.equal(late.status, 200, 'the request is served');
    assert.deepEqual(
      asCardsResult(late.body).errors,
      [{ upstream: 'social', code: 'unavailable' }],
      'one social call runs and one waits: the third social part fails fast',
    );
    assert.ok(elapsedMs < 300, `it does not wait behind the slow upstream (${elapsedMs} ms)`);
    assert.equal(socialCalls, 1, 'meanwhile one social call was sent and the other still waits');
    assert.equal(
      gw.upstreams.callsTo('social').length,
      2,
      'the waiting call goes once there is room',
    );
  });
});
