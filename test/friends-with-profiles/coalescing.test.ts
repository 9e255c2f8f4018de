import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import supertest from 'supertest';
import { asCardsResult, sampleProfile } from '../helpers/assertions.js';
import { allProfiles, emptyPeople } from '../helpers/fake-upstreams.js';
import type {
  FakeResponse,
  ProfileBody,
  RecordedCall,
  Responder,
} from '../helpers/fake-upstreams.js';
import {
  AUTHORIZATION,
  OTHER_AUTHORIZATION,
  XUIDS,
  startTestGateway,
} from '../helpers/test-app.js';
import type { TestGateway } from '../helpers/test-app.js';

const [X1, X2, X3] = XUIDS;

/** A promise with its resolver, to hold an upstream answer or wait for an event. */
function createSignal<T = void>() {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Social responder that resolves `signal` once `count` calls have arrived. */
function socialCountingTo(count: number, signal: { resolve: () => void }): Responder {
  let seen = 0;
  return (call) => {
    seen += 1;
    if (seen === count) signal.resolve();
    return emptyPeople(call);
  };
}

/** Profile responder that answers every call only once `release` resolves. */
function profileHeldUntil(release: Promise<void>, arrived?: () => void): Responder {
  return async (call) => {
    arrived?.();
    await release;
    return allProfiles(call);
  };
}

function userIdsOf(call: RecordedCall | undefined): string[] {
  assert.ok(call, 'a profile call should have been recorded');
  return (call.body as ProfileBody).userIds;
}

/** Starts a supertest request at once and returns its promise. */
function send(gw: TestGateway, query: string, authorization = AUTHORIZATION) {
  return gw.getCards(query, authorization).then((response) => response);
}

describe('in-flight coalescing of profile fetches', () => {
  test('when five requests miss on the same XUIDs at once, the profile upstream is called once and all get the profile', async (t) => {
    const allArrived = createSignal();
    const gw = await startTestGateway({
      responders: {
        social: socialCountingTo(5, allArrived),
        profile: profileHeldUntil(allArrived.promise),
      },
    });
    t.after(() => gw.close());
    const query = `xuids=${X1},${X2}`;

    const responses = await Promise.all(Array.from({ length: 5 }, () => send(gw, query)));

    assert.equal(
      gw.upstreams.callsTo('social').length,
      5,
      'every request should have called social',
    );
    assert.equal(
      gw.upstreams.callsTo('profile').length,
      1,
      'the five requests should share one profile call',
    );
    for (const [index, response] of responses.entries()) {
      assert.equal(response.status, 200, `request ${index} should succeed`);
      assert.deepEqual(
        asCardsResult(response.body).cards.map((card) => card.profile),
        [sampleProfile(X1), sampleProfile(X2)],
        `request ${index} should get both profiles from the shared fetch`,
      );
      assert.equal(
        asCardsResult(response.body).partial,
        false,
        `request ${index} should not be partial`,
      );
    }
    assert.equal(
      gw.deps.profiles.inFlightCount(),
      0,
      'the in-flight map should be empty afterwards',
    );
  });

  test('when two requests with overlapping XUIDs miss at once, the overlapping XUID is fetched once', async (t) => {
    const bothArrived = createSignal();
    const gw = await startTestGateway({
      responders: {
        social: socialCountingTo(2, bothArrived),
        profile: profileHeldUntil(bothArrived.promise),
      },
    });
    t.after(() => gw.close());

    const [first, second] = await Promise.all([
      send(gw, `xuids=${X1},${X2}`),
      send(gw, `xuids=${X2},${X3}`),
    ]);

    const calls = gw.upstreams.callsTo('profile');
    assert.equal(
      calls.length,
      2,
      'one call for the first request, one for the part only the second needs',
    );
    assert.deepEqual(
      calls.flatMap(userIdsOf).sort(),
      [X1, X2, X3].sort(),
      'each XUID should go upstream exactly once',
    );
    assert.deepEqual(
      asCardsResult(first.body).cards.map((card) => card.profile),
      [sampleProfile(X1), sampleProfile(X2)],
      'the first request should get both profiles',
    );
    assert.deepEqual(
      asCardsResult(second.body).cards.map((card) => card.profile),
      [sampleProfile(X2), sampleProfile(X3)],
      'the second request should get both profiles',
    );
    assert.equal(
      gw.deps.profiles.inFlightCount(),
      0,
      'the in-flight map should be empty afterwards',
    );
  });

  test('when the request that started a shared fetch disconnects, the fetch goes on and the waiting request gets the profile', async (t) => {
    const profileCalled = createSignal();
    const joinerArrived = createSignal();
    const release = createSignal();
    const gw = await startTestGateway({
      responders: {
        social: (call) => {
          if (call.headers.authorization === OTHER_AUTHORIZATION) joinerArrived.resolve();
          return emptyPeople(call);
        },
        profile: profileHeldUntil(release.promise, profileCalled.resolve),
      },
    });
    t.after(() => gw.close());
    const server = createServer(gw.app);
    const starterHungUp = createSignal();
    server.on('request', (req, res) => {
      res.on('close', () => {
        if (req.headers.authorization === AUTHORIZATION && !res.writableFinished) {
          starterHungUp.resolve();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => {
            resolve();
          });
        }),
    );
    const { port } = server.address() as AddressInfo;
    const query = `xuids=${X1},${X2}`;
    const starter = httpRequest({
      host: '127.0.0.1',
      port,
      path: `/friends-with-profiles?${query}`,
      headers: { authorization: AUTHORIZATION },
    });
    starter.on('error', () => undefined); // the test destroys it on purpose
    starter.end();
    await profileCalled.promise;
    const waiting = supertest(server)
      .get(`/friends-with-profiles?${query}`)
      .set('Authorization', OTHER_AUTHORIZATION)
      .then((response) => response);
    await joinerArrived.promise;

    starter.destroy();
    await starterHungUp.promise;
    release.resolve();
    const response = await waiting;

    assert.equal(response.status, 200, 'the waiting request should succeed');
    assert.deepEqual(
      asCardsResult(response.body).cards.map((card) => card.profileStatus),
      ['ok', 'ok'],
      'the waiting request should get the profiles of the shared fetch',
    );
    assert.deepEqual(
      asCardsResult(response.body).cards.map((card) => card.profile),
      [sampleProfile(X1), sampleProfile(X2)],
      'the profiles should be the upstream values',
    );
    assert.equal(
      gw.upstreams.callsTo('profile').length,
      1,
      'the upstream should have seen one profile call',
    );
    assert.equal(
      gw.deps.profiles.inFlightCount(),
      0,
      'the in-flight map should be empty afterwards',
    );
  });

  const rejections: { status: number; answer: FakeResponse }[] = [
    { status: 401, answer: { status: 401 } },
    { status: 403, answer: { status: 403 } },
  ];
  for (const { status, answer } of rejections) {
    test(`when a shared fetch under caller A's token gets ${status}, caller B is retried with B's own token and gets the profile while A gets ${status}`, async (t) => {
      const { gw, first, second } = await shareFetchThenAnswer(t, answer);

      assert.equal(first.status, status, `caller A should get the upstream's ${status}`);
      assert.equal(second.status, 200, 'caller B should not inherit the rejection of A');
      assertRetriedForSecondCaller(gw, second.body);
    });
  }

  test("when a shared fetch under caller A's token gets 429, caller B is retried with B's own token and is not throttled", async (t) => {
    const { gw, first, second } = await shareFetchThenAnswer(t, {
      status: 429,
      headers: { 'retry-after': '5' },
    });

    assert.equal(first.status, 200, 'caller A still has social and privacy, so A gets 200');
    const firstBody = asCardsResult(first.body);
    assert.deepEqual(
      firstBody.errors,
      [{ upstream: 'profile', code: 'throttled', status: 429 }],
      'caller A should see the profile part throttled',
    );
    assert.equal(firstBody.partial, true, "caller A's answer should be partial");
    assert.deepEqual(
      firstBody.cards.map((card) => card.profileStatus),
      ['unavailable', 'unavailable'],
      'caller A should get no profiles',
    );
    assert.equal(second.status, 200, 'caller B should succeed');
    assert.deepEqual(asCardsResult(second.body).errors, [], 'caller B should not be throttled');
    assertRetriedForSecondCaller(gw, second.body);
  });

  test('when the shared fetch hangs past the deadline, every waiting request times out and the in-flight map empties', async (t) => {
    const profileCalled = createSignal();
    const gw = await startTestGateway({
      env: { REQUEST_DEADLINE_MS: '200' },
      responders: {
        profile: () => {
          profileCalled.resolve();
          return { hang: true };
        },
      },
    });
    t.after(() => gw.close());
    const query = `xuids=${X1}`;

    const firstPending = send(gw, query, AUTHORIZATION);
    await profileCalled.promise;
    const secondPending = send(gw, query, OTHER_AUTHORIZATION);
    const responses = await Promise.all([firstPending, secondPending]);
    const emptied = await waitFor(() => gw.deps.profiles.inFlightCount() === 0, 1000);

    assert.equal(
      gw.upstreams.callsTo('profile').length,
      1,
      'the two requests should share one call',
    );
    for (const [index, response] of responses.entries()) {
      assert.deepEqual(
        asCardsResult(response.body).errors,
        [{ upstream: 'profile', code: 'timeout' }],
        `request ${index} should report the profile part as timed out`,
      );
    }
    assert.ok(
      emptied,
      'the in-flight map should empty once the shared fetch hits its own deadline',
    );
  });
});

/**
 * Caller A starts a profile fetch, caller B joins it while it is held, then the profile upstream
 * answers `answerToA` to A's token and the default 200 to any other token.
 */
async function shareFetchThenAnswer(
  t: { after: (fn: () => Promise<void>) => void },
  answerToA: FakeResponse,
) {
  const profileCalled = createSignal();
  const joinerArrived = createSignal();
  const release = createSignal();
  const gw = await startTestGateway({
    responders: {
      social: (call) => {
        if (call.headers.authorization === OTHER_AUTHORIZATION) joinerArrived.resolve();
        return emptyPeople(call);
      },
      profile: async (call) => {
        if (call.headers.authorization !== AUTHORIZATION) return allProfiles(call);
        profileCalled.resolve();
        await release.promise;
        return answerToA;
      },
    },
  });
  t.after(() => gw.close());
  const query = `xuids=${X1},${X2}`;

  const firstPending = send(gw, query, AUTHORIZATION);
  await profileCalled.promise;
  const secondPending = send(gw, query, OTHER_AUTHORIZATION);
  await joinerArrived.promise;
  release.resolve();
  const [first, second] = await Promise.all([firstPending, secondPending]);
  return { gw, first, second };
}

function assertRetriedForSecondCaller(gw: TestGateway, body: unknown): void {
  assert.deepEqual(
    asCardsResult(body).cards.map((card) => card.profile),
    [sampleProfile(X1), sampleProfile(X2)],
    'caller B should get both profiles',
  );
  assert.equal(asCardsResult(body).partial, false, "caller B's answer should be complete");
  const calls = gw.upstreams.callsTo('profile');
  assert.equal(calls.length, 2, "A's shared call plus B's retry should make two profile calls");
  assert.equal(
    calls[0]?.headers.authorization,
    AUTHORIZATION,
    "the shared call should carry A's token",
  );
  assert.equal(
    calls[1]?.headers.authorization,
    OTHER_AUTHORIZATION,
    "the retry should carry B's own token",
  );
  assert.deepEqual(
    [...userIdsOf(calls[1])].sort(),
    [X1, X2].sort(),
    "the retry should ask B's XUIDs",
  );
  assert.equal(gw.deps.profiles.inFlightCount(), 0, 'the in-flight map should be empty afterwards');
}

/** Polls `condition` every few milliseconds until it holds or `timeoutMs` passes. */
async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const giveUpAt = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > giveUpAt) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}
