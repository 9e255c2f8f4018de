import assert from 'node:assert/strict';
import { test } from 'node:test';
import request from 'supertest';
import { createFaults, type FaultOptions } from '../../src/simulator/faults.js';
import { PRIVACY_PATH, PROFILE_PATH, SOCIAL_PATH } from '../../src/simulator/simulator-app.js';
import { startUnlimitedSimulator } from '../helpers/simulator-server.js';

const AUTHORIZATION = 'XBL3.0 x=2535405290015920;token';
const QUIET = { latencyMs: 0, failureRate: 0 };

test('when the profile failure rate is 1, profile answers 500 or 503 and the others still answer', async (t) => {
  const { url, population } = await startUnlimitedSimulator(t, { SIM_PROFILE_FAILURE_RATE: '1' });
  const xuid = population.xuidAt(0);

  const profileStatuses = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const response = await request(url)
        .post(PROFILE_PATH)
        .set({ Authorization: AUTHORIZATION, 'x-xbl-contract-version': '2' })
        .send({ userIds: [xuid], settings: ['Gamertag'] });
      return response.status;
    }),
  );
  const social = await request(url)
    .post(SOCIAL_PATH)
    .set('Authorization', AUTHORIZATION)
    .send({ xuids: [xuid] });

  assert.ok(
    profileStatuses.every((status) => status === 500 || status === 503),
    `every profile call fails with 500 or 503 (got ${profileStatuses.join(', ')})`,
  );
  assert.ok(new Set(profileStatuses).size === 2, 'both 500 and 503 occur over 20 calls');
  assert.equal(social.status, 200, 'failure injection is per service');
});

test('when the social latency is 150 ms, social answers take at least that long', async (t) => {
  const { url, population } = await startUnlimitedSimulator(t, { SIM_SOCIAL_LATENCY_MS: '150' });
  const xuid = population.xuidAt(0);

  const startedMs = performance.now();
  const response = await request(url)
    .post(SOCIAL_PATH)
    .set('Authorization', AUTHORIZATION)
    .send({ xuids: [xuid] });
  const elapsedMs = performance.now() - startedMs;

  assert.equal(response.status, 200, 'a slow answer is still a good one');
  assert.ok(elapsedMs >= 145, `the answer took ${Math.round(elapsedMs)} ms, at least 150 ms`);
});

test('when the malformed rate is 1, answers are 200 JSON whose body does not parse', async (t) => {
  const { url, population } = await startUnlimitedSimulator(t, { SIM_MALFORMED_RATE: '1' });
  const xuid = population.xuidAt(0);

  const response = await request(url)
    .post(PRIVACY_PATH)
    .set('Authorization', AUTHORIZATION)
    .buffer(true)
    .parse((res, done) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        done(null, text);
      });
    })
    .send({ users: [{ xuid }], permissions: ['ViewTargetProfile'] });

  assert.equal(response.status, 200, 'the status claims success');
  assert.match(response.headers['content-type'] ?? '', /json/, 'the type claims JSON');
  assert.throws(() => JSON.parse(String(response.body)), SyntaxError, 'the body is cut short');
});

test('when the simulator closes, delayed calls are answered 503 at once', async (t) => {
  const { url, population, simulator } = await startUnlimitedSimulator(t, {
    SIM_PRIVACY_LATENCY_MS: '10000',
  });
  const xuid = population.xuidAt(0);

  const startedMs = performance.now();
  const pending = request(url)
    .post(PRIVACY_PATH)
    .set('Authorization', AUTHORIZATION)
    .send({ users: [{ xuid }], permissions: ['ViewTargetProfile'] })
    .then((response) => response);
  await new Promise((resolve) => setTimeout(resolve, 50));
  simulator.close();
  const response = await pending;

  assert.equal(response.status, 503, 'the cut delay answers 503');
  assert.ok(performance.now() - startedMs < 5000, 'the call did not wait for its 10 s delay');
});

test('when two fault injectors share a seed, they draw the same decisions', () => {
  const options: FaultOptions = {
    seed: 99,
    jitterMs: 50,
    malformedRate: 0.2,
    social: { latencyMs: 10, failureRate: 0.3 },
    profile: QUIET,
    privacy: QUIET,
  };
  const first = createFaults(options);
  const second = createFaults(options);

  const firstDraws = Array.from({ length: 50 }, () => first.draw('social'));
  const secondDraws = Array.from({ length: 50 }, () => second.draw('social'));

  assert.deepEqual(firstDraws, secondDraws, 'the same seed repeats the same faults');
  assert.ok(
    firstDraws.every((draw) => draw.delayMs >= 10 && draw.delayMs <= 60),
    'each delay is the latency plus at most the jitter',
  );
  assert.ok(
    firstDraws.some((draw) => draw.failureStatus !== undefined),
    'some calls fail',
  );
  assert.ok(
    firstDraws.some((draw) => draw.isMalformed),
    'some answers are malformed',
  );
});

test('when fault options are out of range, createFaults throws a TypeError', () => {
  const base = { seed: 1, jitterMs: 0, malformedRate: 0, social: QUIET, profile: QUIET };

  assert.throws(
    () => createFaults({ ...base, privacy: { latencyMs: 0, failureRate: 1.5 } }),
    TypeError,
    'a failure rate above 1 is refused',
  );
  assert.throws(
    () => createFaults({ ...base, privacy: { latencyMs: -1, failureRate: 0 } }),
    TypeError,
    'a negative latency is refused',
  );
});
