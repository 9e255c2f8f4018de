import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import supertest from 'supertest';
import type { FriendCardsResult } from '../../src/friend-cards/friend-card.js';
import type { ProblemBody } from '../../src/http/problem-details.js';
import type { FaultSettings } from '../../src/simulator/faults.js';
import { FAULTS_PATH } from '../../src/simulator/fault-admin.js';
import type { ExampleRequest } from '../../src/simulator/population.js';
import { createConformance, resolve } from '../helpers/openapi-conformance.js';
import type { Answer, Conformance, Node } from '../helpers/openapi-conformance.js';
import { startUnlimitedSimulator } from '../helpers/simulator-server.js';
import { gatewayFor } from '../helpers/test-app.js';
import type { TestGatewayOptions } from '../helpers/test-app.js';

const CARDS = '/friends-with-profiles';

/** A gateway on a simulator, and the document the gateway itself serves. */
interface World {
  readonly conformance: Conformance;
  readonly example: ExampleRequest;
  /** A request to the gateway. */
  request(): supertest.Agent;
  /** `GET path` on the gateway, with `authorization` when given. */
  get(path: string, authorization?: string): Promise<Answer>;
  /** The example caller's cards for the example XUIDs, with two permissions. */
  getCards(authorization?: string): Promise<Answer>;
  /** Merges `faults` into the simulator's fault settings (its loopback admin route). */
  setFaults(faults: Partial<Record<keyof FaultSettings, object>>): Promise<void>;
}

async function startWorld(t: TestContext, options: TestGatewayOptions = {}): Promise<World> {
  const simulator = await startUnlimitedSimulator(t);
  const gw = await gatewayFor(t, {
    ...options,
    env: {
      XBL_SOCIAL_URL: simulator.url,
      XBL_PROFILE_URL: simulator.url,
      XBL_PRIVACY_URL: simulator.url,
      ...options.env,
    },
  });
  const served = await supertest(gw.app).get('/openapi.json');
  assert.equal(served.status, 200, 'the gateway serves its document');
  const example = simulator.population.exampleRequest();
  const get = async (path: string, authorization?: string): Promise<Answer> => {
    const call = supertest(gw.app).get(path);
    return authorization === undefined ? call : call.set('Authorization', authorization);
  };
  return {
    conformance: createConformance(JSON.parse(served.text) as Node),
    example,
    request: () => supertest.agent(gw.app),
    get,
    getCards: (authorization = example.authorization) =>
      get(
        `${CARDS}?xuids=${example.xuids.join(',')}&permissions=ViewTargetProfile,CommunicateUsingText`,
        authorization,
      ),
    async setFaults(faults) {
      const response = await fetch(`${simulator.url}${FAULTS_PATH}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(faults),
      });
      assert.equal(
        response.status,
        200,
        `the simulator takes the faults: ${await response.text()}`,
      );
    },
  };
}

/** The same faults on all three services. */
function everywhere(faults: object): Partial<Record<keyof FaultSettings, object>> {
  return { social: faults, profile: faults, privacy: faults };
}

function problemOf(answer: Answer): ProblemBody {
  return JSON.parse(answer.text) as ProblemBody;
}

test('when every part answers, the 200 conforms to the document', async (t) => {
  const world = await startWorld(t);

  const answer = await world.getCards();

  assert.equal(answer.status, 200, `a complete answer: ${answer.text}`);
  const body = JSON.parse(answer.text) as FriendCardsResult;
  assert.equal(body.partial, false, 'nothing failed');
  assert.ok(
    body.cards.some((card) => card.profileStatus === 'ok') &&
      body.cards.some((card) => card.profileStatus === 'denied'),
    'the example shows shown and denied profiles',
  );
  world.conformance.assertConforms(answer, CARDS);
});

test('when the social service fails every call, the partial 200 conforms to the document', async (t) => {
  const world = await startWorld(t);
  await world.setFaults({ social: { errorRate: 1, errorStatus: 500 } });

  const answer = await world.getCards();

  assert.equal(answer.status, 200, `two parts of three still answer 200: ${answer.text}`);
  const body = JSON.parse(answer.text) as FriendCardsResult;
  assert.equal(body.partial, true, 'the answer is partial');
  assert.deepEqual(body.errors, [{ upstream: 'social', code: 'unavailable', status: 500 }]);
  world.conformance.assertConforms(answer, CARDS);
});

test('when the query is bad, the 400 with errors conforms to the document', async (t) => {
  const world = await startWorld(t);

  const answer = await world.get(
    `${CARDS}?xuids=12a&settings=Nickname`,
    world.example.authorization,
  );

  assert.equal(answer.status, 400, 'a bad query is answered 400');
  assert.deepEqual(
    problemOf(answer).errors?.map((issue) => issue.parameter),
    ['xuids', 'settings'],
    'errors name each bad parameter',
  );
  world.conformance.assertConforms(answer, CARDS);
});

test('when Authorization is missing or an upstream rejects the token, each 401 conforms', async (t) => {
  const world = await startWorld(t);

  const missing = await world.getCards('');
  const rejected = await world.getCards('XBL3.0 x=3218841136841218711;expired');

  assert.equal(missing.status, 401, 'no Authorization is answered 401');
  assert.equal(problemOf(missing).type.endsWith(':missing_authorization'), true, 'its code');
  assert.equal(rejected.status, 401, "an upstream's 401 is answered 401");
  assert.equal(problemOf(rejected).type.endsWith(':upstream_unauthorized'), true, 'its code');
  world.conformance.assertConforms(missing, CARDS);
  world.conformance.assertConforms(rejected, CARDS);
});

test('when the upstreams refuse the token, the 403 conforms to the document', async (t) => {
  const world = await startWorld(t);

  const answer = await world.getCards('XBL3.0 x=3218841136841218711;forbidden');

  assert.equal(answer.status, 403, "an upstream's 403 is answered 403");
  world.conformance.assertConforms(answer, CARDS);
});

test('when every service throttles the caller, the 429 with Retry-After conforms', async (t) => {
  const world = await startWorld(t);
  await world.setFaults(everywhere({ throttleRate: 1, retryAfterSeconds: 3 }));

  const answer = await world.getCards();

  assert.equal(answer.status, 429, `nothing could be served: ${answer.text}`);
  assert.equal(answer.headers['retry-after'], '3', "Retry-After is the upstreams' 3 s");
  world.conformance.assertConforms(answer, CARDS);
});

test('when every service fails every call, the 502 conforms to the document', async (t) => {
  const world = await startWorld(t);
  await world.setFaults(everywhere({ errorRate: 1, errorStatus: 500 }));

  const answer = await world.getCards();

  assert.equal(answer.status, 502, `every part failed: ${answer.text}`);
  world.conformance.assertConforms(answer, CARDS);
});

test('when every service hangs past the deadline, the 504 conforms to the document', async (t) => {
  const world = await startWorld(t, { env: { REQUEST_DEADLINE_MS: '300' } });
  await world.setFaults(everywhere({ hangRate: 1 }));

  const answer = await world.getCards();

  assert.equal(answer.status, 504, `every part timed out: ${answer.text}`);
  world.conformance.assertConforms(answer, CARDS);
});

test('when the event loop lags, the shed 503 with Retry-After conforms to the document', async (t) => {
  const world = await startWorld(t, {
    env: { MAX_EVENT_LOOP_DELAY_MS: '1000' },
    eventLoopDelay: () => 5000,
  });

  const answer = await world.getCards();

  assert.equal(answer.status, 503, 'the request is shed');
  world.conformance.assertConforms(answer, CARDS);
});

test('when a path is unknown, a method wrong or a URL too long, each answer conforms', async (t) => {
  const world = await startWorld(t);

  const notFound = await world.get('/friends');
  const wrongMethod = await world.request().post(CARDS);
  const tooLong = await world.get(`${CARDS}?xuids=${'1,'.repeat(5000)}1`);

  assert.equal(notFound.status, 404, 'an unknown path is answered 404');
  assert.equal(wrongMethod.status, 405, 'POST on the card route is answered 405');
  assert.equal(tooLong.status, 414, 'a 10 kB URL is answered 414');
  const { document } = world.conformance;
  world.conformance.assertMatches(
    notFound,
    resolve(document, '#/components/responses/NotFound'),
    'GET /friends',
  );
  world.conformance.assertMatches(
    wrongMethod,
    resolve(document, '#/components/responses/MethodNotAllowed'),
    `POST ${CARDS}`,
  );
  world.conformance.assertConforms(tooLong, CARDS);
});

test('the health, readiness, document and docs answers conform to the document', async (t) => {
  const world = await startWorld(t);

  const answers = {
    '/healthz': await world.get('/healthz'),
    '/readyz': await world.get('/readyz'),
    '/openapi.json': await world.get('/openapi.json'),
    '/docs': await world.get('/docs'),
  };

  for (const [path, answer] of Object.entries(answers)) {
    assert.equal(answer.status, 200, `${path} answers 200`);
    world.conformance.assertConforms(answer, path);
  }
});
