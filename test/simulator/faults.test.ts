import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createFaults,
  type FaultDecision,
  type FaultOptions,
  type ServiceFaults,
} from '../../src/simulator/faults.js';
import { QUIET_FAULTS, startUnlimitedSimulator } from '../helpers/simulator-server.js';
import { ClientTimeoutError, callsOf, rawCall } from './raw-call.js';

const QUIET = QUIET_FAULTS;

const STORMY: ServiceFaults = {
  latencyMs: 10,
  jitterMs: 50,
  errorRate: 0.3,
  errorStatus: [502, 504],
  hangRate: 0.1,
  resetRate: 0.1,
  throttleRate: 0.1,
  retryAfterSeconds: 3,
  malformedRate: 0.2,
};

function optionsWith(overrides: Partial<Omit<FaultOptions, 'seed'>> = {}, seed = 99): FaultOptions {
  return { seed, social: QUIET, profile: QUIET, privacy: QUIET, ...overrides };
}

test('when two fault injectors share a seed, they draw the same decisions, every kind included', () => {
  const first = createFaults(optionsWith({ social: STORMY }));
  const second = createFaults(optionsWith({ social: STORMY }));

  const firstDraws = Array.from({ length: 200 }, () => first.draw('social'));
  const secondDraws = Array.from({ length: 200 }, () => second.draw('social'));

  assert.deepEqual(firstDraws, secondDraws, 'the same seed repeats the same faults');
  assert.ok(
    firstDraws.every((draw) => draw.delayMs >= 10 && draw.delayMs <= 60),
    'each delay is the latency plus at most the jitter',
  );
  const kinds = new Set(firstDraws.map((draw) => draw.kind));
  for (const kind of ['answer', 'malformed', 'hang', 'reset', 'throttle', 'error']) {
    assert.ok(kinds.has(kind as FaultDecision['kind']), `some calls are drawn '${kind}'`);
  }
  const statuses = new Set(
    firstDraws.flatMap((draw) => (draw.kind === 'error' ? [draw.status] : [])),
  );
  assert.deepEqual([...statuses].sort(), [502, 504], 'errors use the listed statuses only');
});

test('when two seeds differ, their decisions differ', () => {
  const first = createFaults(optionsWith({ profile: STORMY }, 1));
  const second = createFaults(optionsWith({ profile: STORMY }, 2));

  const firstDraws = Array.from({ length: 50 }, () => first.draw('profile'));
  const secondDraws = Array.from({ length: 50 }, () => second.draw('profile'));

  assert.notDeepEqual(firstDraws, secondDraws, 'another seed, another sequence');
});

test('when the settings change at run time, later calls get the draws they would have had', () => {
  const changedLater = createFaults(optionsWith());
  const stormyFromStart = createFaults(optionsWith({ privacy: STORMY }));

  const quietDraws = Array.from({ length: 30 }, () => changedLater.draw('privacy'));
  Array.from({ length: 30 }, () => stormyFromStart.draw('privacy'));
  changedLater.update({ privacy: STORMY });
  const laterDraws = Array.from({ length: 50 }, () => changedLater.draw('privacy'));
  const expected = Array.from({ length: 50 }, () => stormyFromStart.draw('privacy'));

  assert.ok(
    quietDraws.every((draw) => draw.kind === 'answer' && draw.delayMs === 0),
    'quiet settings draw plain answers',
  );
  assert.deepEqual(
    laterDraws,
    expected,
    'the n-th call draws the same numbers whatever came before',
  );
});

test('when traffic goes to one service, the draws of another do not move', () => {
  const busy = createFaults(optionsWith({ social: STORMY, profile: STORMY }));
  const idle = createFaults(optionsWith({ social: STORMY, profile: STORMY }));

  Array.from({ length: 40 }, () => busy.draw('social'));
  const afterTraffic = Array.from({ length: 20 }, () => busy.draw('profile'));
  const withoutTraffic = Array.from({ length: 20 }, () => idle.draw('profile'));

  assert.deepEqual(afterTraffic, withoutTraffic, 'each service has its own sequence');
});

test('when several faults are certain, hang wins over reset, throttle, error and malformed', () => {
  const everything = { ...QUIET, errorRate: 1, resetRate: 1, throttleRate: 1, malformedRate: 1 };
  const faults = createFaults(
    optionsWith({
      social: { ...everything, hangRate: 1 },
      profile: everything,
      privacy: { ...everything, resetRate: 0, throttleRate: 0 },
    }),
  );

  assert.equal(faults.draw('social').kind, 'hang', 'a hang comes first');
  assert.equal(faults.draw('profile').kind, 'reset', 'then a reset');
  assert.equal(faults.draw('privacy').kind, 'error', 'an error beats a malformed answer');
});

test('when a service is told one error status and a Retry-After, its errors carry them', () => {
  const faults = createFaults(
    optionsWith({ social: { ...QUIET, errorRate: 1, errorStatus: [503], retryAfterSeconds: 9 } }),
  );

  const decision = faults.draw('social');

  assert.deepEqual(
    decision,
    { kind: 'error', delayMs: 0, status: 503, retryAfterSeconds: 9 },
    'a 503 with the service Retry-After',
  );
});

test('when a partial update arrives, it merges into the settings in force', () => {
  const faults = createFaults(optionsWith({ profile: { ...QUIET, latencyMs: 20 } }));

  faults.update({ profile: { errorRate: 0.5 } });
  const settings = faults.update({ profile: { errorStatus: [502] }, social: { hangRate: 0.25 } });

  assert.deepEqual(
    settings.profile,
    { ...QUIET, latencyMs: 20, errorRate: 0.5, errorStatus: [502] },
    'members not named keep their value',
  );
  assert.deepEqual(settings.social, { ...QUIET, hangRate: 0.25 }, 'another service merges alone');
  assert.deepEqual(settings.privacy, QUIET, 'a service not named is untouched');
  assert.ok(Object.isFrozen(settings.profile), 'the settings handed out are frozen');
});

test('when reset, the start settings and the start of every sequence come back', () => {
  const start = optionsWith({ social: STORMY });
  const faults = createFaults(start);
  const firstRun = Array.from({ length: 20 }, () => faults.draw('social'));

  faults.update({ social: { errorRate: 1 }, privacy: { latencyMs: 100 } });
  faults.draw('social');
  const settings = faults.reset();
  const secondRun = Array.from({ length: 20 }, () => faults.draw('social'));

  assert.deepEqual(settings, { social: STORMY, profile: QUIET, privacy: QUIET }, 'start settings');
  assert.deepEqual(secondRun, firstRun, 'the draws repeat from the start');
});

test('when cleared, every delay and rate is 0 but statuses and Retry-After are kept', () => {
  const faults = createFaults(optionsWith({ social: STORMY }));

  const settings = faults.clear();

  assert.deepEqual(
    settings.social,
    { ...QUIET, errorStatus: [502, 504], retryAfterSeconds: 3 },
    'no fault is left',
  );
  assert.equal(faults.draw('social').kind, 'answer', 'calls are answered plainly');
});

test('when fault settings are out of range, createFaults and update throw a TypeError', () => {
  assert.throws(
    () => createFaults(optionsWith({ privacy: { ...QUIET, errorRate: 1.5 } })),
    /Cannot create faults: privacy\.errorRate must be a number from 0 to 1/,
    'a rate above 1 is refused',
  );
  assert.throws(
    () => createFaults(optionsWith({ social: { ...QUIET, latencyMs: -1 } })),
    /social\.latencyMs must be a whole number/,
    'a negative latency is refused',
  );
  assert.throws(
    () => createFaults(optionsWith({ profile: { ...QUIET, errorStatus: [200] } })),
    TypeError,
    'a success status is not an error',
  );
  assert.throws(
    () => createFaults(optionsWith()).update({ social: { hangRate: 2 } }),
    /social\.hangRate/,
    'update checks what it merges',
  );
});

test('when the profile error rate is 1, profile answers 500 or 503 and the others still answer', async (t) => {
  const { url, population } = await startUnlimitedSimulator(t, { SIM_PROFILE_ERROR_RATE: '1' });
  const calls = callsOf(population.xuidAt(0));

  const answers = await Promise.all(Array.from({ length: 20 }, () => rawCall(url, calls.profile)));
  const social = await rawCall(url, calls.social);

  const statuses = answers.map((answer) => answer.status);
  assert.ok(
    statuses.every((status) => status === 500 || status === 503),
    `every profile call fails with 500 or 503 (got ${statuses.join(', ')})`,
  );
  assert.equal(new Set(statuses).size, 2, 'both 500 and 503 occur over 20 calls');
  const unavailable = answers.find((answer) => answer.status === 503);
  assert.equal(unavailable?.headers['retry-after'], '1', 'a 503 carries the default Retry-After');
  assert.equal(social.status, 200, 'error injection is per service');
});

test('when the error statuses are 502 and 504, failing calls answer exactly those', async (t) => {
  const { url, population } = await startUnlimitedSimulator(t, {
    SIM_SOCIAL_ERROR_RATE: '1',
    SIM_SOCIAL_ERROR_STATUS: '502, 504',
  });
  const calls = callsOf(population.xuidAt(0));

  const answers = await Promise.all(Array.from({ length: 20 }, () => rawCall(url, calls.social)));

  const statuses = new Set(answers.map((answer) => answer.status));
  assert.deepEqual([...statuses].sort(), [502, 504], 'only the listed statuses are answered');
  const gatewayTimeout = answers.find((answer) => answer.status === 504);
  assert.deepEqual(
    JSON.parse(gatewayTimeout?.text ?? '{}'),
    { code: 'GatewayTimeout', description: 'Simulated failure' },
    'the body names the status',
  );
});

test('when the social latency is 150 ms, social answers take at least that long', async (t) => {
  const { url, population } = await startUnlimitedSimulator(t, { SIM_SOCIAL_LATENCY_MS: '150' });
  const calls = callsOf(population.xuidAt(0));

  const startedMs = performance.now();
  const answer = await rawCall(url, calls.social);
  const elapsedMs = performance.now() - startedMs;

  assert.equal(answer.status, 200, 'a slow answer is still a good one');
  assert.ok(elapsedMs >= 145, `the answer took ${Math.round(elapsedMs)} ms, at least 150 ms`);
});

test('when the profile hang rate is 1, profile never answers and the client timeout ends the call', async (t) => {
  const { url, population } = await startUnlimitedSimulator(t, { SIM_PROFILE_HANG_RATE: '1' });
  const calls = callsOf(population.xuidAt(0));

  const startedMs = performance.now();
  const hung = rawCall(url, { ...calls.profile, timeoutMs: 200 });
  await assert.rejects(hung, ClientTimeoutError, 'only the client timeout ends the call');
  const elapsedMs = performance.now() - startedMs;
  const privacy = await rawCall(url, calls.privacy);

  assert.ok(elapsedMs >= 195, `the call waited for the timeout (${Math.round(elapsedMs)} ms)`);
  assert.equal(privacy.status, 200, 'hangs are per service');
});

test('when the privacy reset rate is 1, privacy calls end in a connection reset', async (t) => {
  const { url, population } = await startUnlimitedSimulator(t, { SIM_PRIVACY_RESET_RATE: '1' });
  const calls = callsOf(population.xuidAt(0));

  await assert.rejects(rawCall(url, calls.privacy), (error: NodeJS.ErrnoException) => {
    assert.equal(error.code, 'ECONNRESET', 'the client sees a reset socket');
    return true;
  });
  const social = await rawCall(url, calls.social);

  assert.equal(social.status, 200, 'resets are per service');
});

test('when the social throttle rate is 1, social answers 429 with Retry-After, rate limiter off', async (t) => {
  const { url, population } = await startUnlimitedSimulator(t, {
    SIM_SOCIAL_THROTTLE_RATE: '1',
    SIM_SOCIAL_RETRY_AFTER_SECONDS: '7',
  });
  const calls = callsOf(population.xuidAt(0));

  const answer = await rawCall(url, calls.social);
  const profile = await rawCall(url, calls.profile);

  assert.equal(answer.status, 429, 'the call is throttled');
  assert.equal(answer.headers['retry-after'], '7', 'Retry-After is the configured seconds');
  assert.equal(
    (JSON.parse(answer.text) as { limitType: string }).limitType,
    'Rate',
    'the body is the throttling body of UPSTREAMS.md',
  );
  assert.equal(profile.status, 200, 'throttling faults are per service');
});

test('when the malformed rate is 1, answers are 200 JSON whose body does not parse', async (t) => {
  const { url, population } = await startUnlimitedSimulator(t, {
    SIM_PRIVACY_MALFORMED_RATE: '1',
  });
  const calls = callsOf(population.xuidAt(0));

  const answer = await rawCall(url, calls.privacy);
  const social = await rawCall(url, calls.social);

  assert.equal(answer.status, 200, 'the status claims success');
  assert.match(String(answer.headers['content-type']), /json/, 'the type claims JSON');
  assert.throws(() => JSON.parse(answer.text), SyntaxError, 'the body is cut short');
  assert.doesNotThrow(() => JSON.parse(social.text), 'malformed answers are per service');
});

test('when the simulator closes, delayed and hung calls are answered 503 at once', async (t) => {
  const { url, population, simulator } = await startUnlimitedSimulator(t, {
    SIM_PRIVACY_LATENCY_MS: '10000',
    SIM_SOCIAL_HANG_RATE: '1',
  });
  const calls = callsOf(population.xuidAt(0));

  const startedMs = performance.now();
  const delayed = rawCall(url, calls.privacy);
  const hung = rawCall(url, calls.social);
  await new Promise((resolve) => setTimeout(resolve, 50));
  simulator.close();
  const answers = await Promise.all([delayed, hung]);

  assert.deepEqual(
    answers.map((answer) => answer.status),
    [503, 503],
    'the cut waits answer 503',
  );
  assert.ok(performance.now() - startedMs < 5000, 'no call waited for its delay');
});
