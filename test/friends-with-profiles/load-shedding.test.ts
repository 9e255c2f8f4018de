import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import supertest from 'supertest';
import type { Response } from 'supertest';
import { assertProblem, cardsOf, sampleProfile } from '../helpers/assertions.js';
import { allProfiles, allowEverything, emptyPeople } from '../helpers/fake-upstreams.js';
import type { Responder } from '../helpers/fake-upstreams.js';
import { XUIDS, gatewayFor } from '../helpers/test-app.js';
import type { TestGateway } from '../helpers/test-app.js';

const [X1, X2, X3] = XUIDS;

/** Card requests the gateway may hold at once in these tests. */
const MAX_IN_FLIGHT = 2;

/** Long enough that no held request is cut by its deadline while a test looks at the gateway. */
const DEADLINE_MS = '2000';

/** A gateway whose upstreams hold every call until `release()`. */
interface HeldGateway {
  readonly gw: TestGateway;
  /** Resolves once `count` upstream calls have arrived and are being held. */
  callsHeld(count: number): Promise<void>;
  release(): void;
}

async function heldGateway(t: TestContext): Promise<HeldGateway> {
  let releaseAll: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    releaseAll = resolve;
  });
  let held = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  const holdThen =
    (responder: Responder): Responder =>
    async (call) => {
      held += 1;
      for (const waiter of waiters) if (held >= waiter.count) waiter.resolve();
      await released;
      return responder(call);
    };
  const gw = await gatewayFor(t, {
    env: { MAX_IN_FLIGHT_REQUESTS: String(MAX_IN_FLIGHT), REQUEST_DEADLINE_MS: DEADLINE_MS },
    responders: {
      social: holdThen(emptyPeople),
      profile: holdThen(allProfiles),
      privacy: holdThen(allowEverything),
    },
  });
  return {
    gw,
    callsHeld: (count) =>
      held >= count
        ? Promise.resolve()
        : new Promise((resolve) => {
            waiters.push({ count, resolve });
          }),
    release: releaseAll,
  };
}

/** Starts `MAX_IN_FLIGHT` card requests and waits until all their upstream calls are held. */
async function fillToLimit(held: HeldGateway): Promise<Promise<Response>[]> {
  const pending = [X1, X2].map((xuid) => held.gw.getCards(`xuids=${xuid}`).then((res) => res));
  await held.callsHeld(MAX_IN_FLIGHT * 3);
  return pending;
}

describe('load shedding past MAX_IN_FLIGHT_REQUESTS', () => {
  test('when MAX_IN_FLIGHT_REQUESTS card requests are in progress, a new one gets 503 with Retry-After at once and calls no upstream', async (t) => {
    const held = await heldGateway(t);
    const pending = await fillToLimit(held);
    const callsBefore = held.gw.upstreams.calls.length;

    const startedAt = performance.now();
    const shed = await held.gw.getCards(`xuids=${X3}`);
    const elapsedMs = performance.now() - startedAt;

    assertProblem(shed, 503, 'overloaded');
    assert.match(
      String(shed.headers['retry-after']),
      /^[1-9]\d*$/,
      `the shed request should carry Retry-After in whole seconds, got '${String(shed.headers['retry-after'])}'`,
    );
    assert.ok(
      elapsedMs < 250,
      `the shed request should be answered at once, not after the held ones (took ${Math.round(elapsedMs)} ms)`,
    );
    assert.equal(
      held.gw.upstreams.calls.length,
      callsBefore,
      'the shed request should cause no upstream call',
    );
    assert.equal(callsBefore, MAX_IN_FLIGHT * 3, 'only the held requests should have called out');
    held.release();
    for (const res of await Promise.all(pending)) {
      assert.equal(res.status, 200, 'the held requests should still be answered in full');
    }
  });

  test('when MAX_IN_FLIGHT_REQUESTS card requests are in progress, /healthz and /readyz keep answering', async (t) => {
    const held = await heldGateway(t);
    const pending = await fillToLimit(held);

    const healthz = await supertest(held.gw.app).get('/healthz');
    const readyz = await supertest(held.gw.app).get('/readyz');

    assert.equal(healthz.status, 200, 'liveness should answer 200 while card requests are held');
    assert.deepEqual(healthz.body, { status: 'ok' }, 'liveness should report ok');
    assert.equal(readyz.status, 200, 'readiness should answer 200 while card requests are held');
    assert.equal(
      (readyz.body as { status?: unknown }).status,
      'ready',
      'readiness should report ready: a full gateway is not a broken one',
    );
    assert.equal(
      held.gw.upstreams.calls.length,
      MAX_IN_FLIGHT * 3,
      'the health checks should call no upstream',
    );
    held.release();
    await Promise.all(pending);
  });

  test('when the held card requests have finished, the gateway serves new requests again by itself', async (t) => {
    const held = await heldGateway(t);
    const pending = await fillToLimit(held);
    const shed = await held.gw.getCards(`xuids=${X3}`);
    assertProblem(shed, 503, 'overloaded');
    held.release();
    const finished = await Promise.all(pending);
    for (const res of finished) assert.equal(res.status, 200, 'precondition: held requests end');

    const first = await held.gw.getCards(`xuids=${X3}`);
    const second = await held.gw.getCards(`xuids=${X3},${X1}`);

    assert.deepEqual(
      cardsOf(first).cards.map((card) => card.profile),
      [sampleProfile(X3)],
      'the first request after the load fell should be served in full',
    );
    assert.deepEqual(
      cardsOf(second).cards.map((card) => card.profile),
      [sampleProfile(X3), sampleProfile(X1)],
      'the next request should be served too: finished requests free their place',
    );
    assert.equal(
      held.gw.upstreams.callsTo('social').length,
      MAX_IN_FLIGHT + 2,
      'the requests after the load fell should reach the upstreams',
    );
  });
});

describe('load shedding past MAX_EVENT_LOOP_DELAY_MS', () => {
  test('when the event-loop delay is past MAX_EVENT_LOOP_DELAY_MS, a card request gets 503 overloaded with Retry-After and calls no upstream', async (t) => {
    const gw = await gatewayFor(t, {
      env: { MAX_EVENT_LOOP_DELAY_MS: '100' },
      eventLoopDelay: () => 250,
    });

    const shed = await gw.getCards(`xuids=${X1}`);

    assertProblem(shed, 503, 'overloaded');
    assert.match(
      String(shed.headers['retry-after']),
      /^[1-9]\d*$/,
      `the shed request should carry Retry-After in whole seconds, got '${String(shed.headers['retry-after'])}'`,
    );
    assert.match(
      String((shed.body as { detail?: unknown }).detail),
      /event loop lags 250 ms/,
      'the detail should say why the request was shed',
    );
    assert.equal(gw.upstreams.calls.length, 0, 'the shed request should cause no upstream call');
  });

  test('when the event-loop delay is past MAX_EVENT_LOOP_DELAY_MS, /healthz and /readyz keep answering 200', async (t) => {
    const gw = await gatewayFor(t, {
      env: { MAX_EVENT_LOOP_DELAY_MS: '100' },
      eventLoopDelay: () => 250,
    });

    const healthz = await supertest(gw.app).get('/healthz');
    const readyz = await supertest(gw.app).get('/readyz');

    assert.equal(healthz.status, 200, 'liveness should answer 200 while the loop lags');
    assert.equal(
      readyz.status,
      200,
      'readiness should answer 200: a lagging gateway is not broken',
    );
    assert.equal(
      (readyz.body as { status?: unknown }).status,
      'ready',
      'readiness should report ready while shedding by event-loop delay',
    );
    assert.equal(gw.upstreams.calls.length, 0, 'the health checks should call no upstream');
  });

  test('when the event-loop delay falls below MAX_EVENT_LOOP_DELAY_MS again, card requests are served by themselves', async (t) => {
    let delayMs = 250;
    const gw = await gatewayFor(t, {
      env: { MAX_EVENT_LOOP_DELAY_MS: '100' },
      eventLoopDelay: () => delayMs,
    });
    const shed = await gw.getCards(`xuids=${X1}`);
    assertProblem(shed, 503, 'overloaded');

    delayMs = 20;
    const served = await gw.getCards(`xuids=${X1}`);

    assert.deepEqual(
      cardsOf(served).cards.map((card) => card.profile),
      [sampleProfile(X1)],
      'the request after the delay fell should be served in full',
    );
    assert.equal(
      gw.upstreams.callsTo('social').length,
      1,
      'only the request after the delay fell should reach the upstreams',
    );
  });

  test('when MAX_EVENT_LOOP_DELAY_MS is 0, no delay sheds a card request', async (t) => {
    const gw = await gatewayFor(t, {
      env: { MAX_EVENT_LOOP_DELAY_MS: '0' },
      eventLoopDelay: () => 60_000,
    });

    const res = await gw.getCards(`xuids=${X1}`);

    assert.equal(res.status, 200, 'shedding by event-loop delay should be off');
  });

  test('when the event loop is really blocked past MAX_EVENT_LOOP_DELAY_MS, the request arriving right after is shed and a later one is served', async (t) => {
    const gw = await gatewayFor(t, { env: { MAX_EVENT_LOOP_DELAY_MS: '50' } });
    // Let the sampler take a few samples of an idle loop first.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = await gw.getCards(`xuids=${X1}`);
    assert.equal(before.status, 200, 'precondition: an idle loop sheds nothing');

    const blockedUntil = performance.now() + 150;
    while (performance.now() < blockedUntil) {
      // Busy loop: no timer, no I/O runs until it ends.
    }
    const rightAfter = await gw.getCards(`xuids=${X2}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const later = await gw.getCards(`xuids=${X2}`);

    assertProblem(rightAfter, 503, 'overloaded');
    assert.equal(later.status, 200, 'once the loop keeps time again, requests are served');
    assert.equal(
      gw.upstreams.callsTo('social').length,
      2,
      'the shed request should cause no upstream call; the others each call once',
    );
  });
});
