import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { FakeUpstreamName, Responder } from '../helpers/fake-upstreams.js';
import { AUTHORIZATION, XUIDS, gatewayFor, listenFor } from '../helpers/test-app.js';

const [X1, X2] = XUIDS;

/** Far longer than the test: if the upstream calls end, the deadline did not end them. */
const DEADLINE_MS = 5000;

/** How soon after the client hangs up its upstream calls must be closed. */
const HANG_UP_GRACE_MS = 300;

/** Resolves `true` when `promise` settles within `ms`, `false` otherwise; leaves no timer. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => {
      resolve(false);
    }, ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a client that hangs up', () => {
  test('when the client hangs up while its upstream calls hang, the social and privacy calls are closed long before the deadline', async (t) => {
    let arrived = 0;
    let allArrived: () => void = () => undefined;
    const allCalled = new Promise<void>((resolve) => {
      allArrived = resolve;
    });
    const hang: Responder = () => {
      arrived += 1;
      if (arrived === 3) allArrived();
      return { hang: true };
    };
    const gw = await gatewayFor(t, {
      env: { REQUEST_DEADLINE_MS: String(DEADLINE_MS) },
      responders: { social: hang, profile: hang, privacy: hang },
    });
    const port = await listenFor(t, gw.app);
    const client = httpRequest({
      host: '127.0.0.1',
      port,
      path: `/friends-with-profiles?xuids=${X1},${X2}`,
      headers: { authorization: AUTHORIZATION },
    });
    client.on('error', () => undefined); // the test destroys it on purpose
    client.end();
    await allCalled;

    const hungUpAt = performance.now();
    client.destroy();
    const upstreams: FakeUpstreamName[] = ['social', 'privacy'];
    const closedInTime = await settlesWithin(
      Promise.all(upstreams.map((upstream) => gw.upstreams.callsAbandoned(upstream))),
      HANG_UP_GRACE_MS,
    );
    const elapsedMs = Math.round(performance.now() - hungUpAt);

    assert.ok(
      closedInTime,
      `social and privacy should see their calls closed within ${HANG_UP_GRACE_MS} ms of the hang-up, ` +
        `well before the ${DEADLINE_MS} ms deadline (social ${gw.upstreams.abandonedCount('social')}, ` +
        `privacy ${gw.upstreams.abandonedCount('privacy')} closed after ${elapsedMs} ms)`,
    );
    for (const upstream of upstreams) {
      assert.equal(
        gw.upstreams.callsTo(upstream).length,
        1,
        `${upstream} should have been called once and not again after the hang-up`,
      );
      assert.equal(
        gw.upstreams.callsTo(upstream)[0]?.headers.authorization,
        AUTHORIZATION,
        `the closed ${upstream} call should be the hung-up client's`,
      );
    }
  });

  test('when clients hang up on hanging calls again and again, the circuits stay closed', async (t) => {
    const gw = await gatewayFor(t, {
      env: { REQUEST_DEADLINE_MS: String(DEADLINE_MS), BREAKER_FAILURE_THRESHOLD: '2' },
      responders: { social: () => ({ hang: true }), privacy: () => ({ hang: true }) },
    });
    const port = await listenFor(t, gw.app);

    for (let i = 1; i <= 3; i += 1) {
      const client = httpRequest({
        host: '127.0.0.1',
        port,
        path: `/friends-with-profiles?xuids=${X1}`,
        headers: { authorization: AUTHORIZATION },
      });
      client.on('error', () => undefined); // the test destroys it on purpose
      client.end();
      // An open circuit would call nothing: wait for the call at most half a second.
      for (
        let waited = 0;
        gw.upstreams.callsTo('privacy').length < i && waited < 500;
        waited += 5
      ) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      client.destroy();
      await settlesWithin(gw.upstreams.callsAbandoned('privacy', i), HANG_UP_GRACE_MS);
    }
    const ready = await fetch(`http://127.0.0.1:${String(port)}/readyz`);
    const body = (await ready.json()) as { upstreams: Record<string, { circuit: string }> };

    assert.equal(gw.upstreams.abandonedCount('privacy'), 3, 'each hang-up cut its privacy call');
    assert.equal(
      body.upstreams.social?.circuit,
      'closed',
      'hang-ups do not open the social circuit',
    );
    assert.equal(body.upstreams.privacy?.circuit, 'closed', 'nor the privacy circuit');
  });
});
