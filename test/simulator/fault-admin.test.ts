import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { test, type TestContext } from 'node:test';
import { FAULTS_PATH, isLoopbackAddress } from '../../src/simulator/fault-admin.js';
import type { FaultSettings } from '../../src/simulator/faults.js';
import { createSimulatorApp } from '../../src/simulator/simulator-app.js';
import { loadSimulatorConfig } from '../../src/simulator/simulator-config.js';
import { QUIET_FAULTS, startUnlimitedSimulator } from '../helpers/simulator-server.js';
import { ClientTimeoutError, callsOf, rawCall, type RawAnswer } from './raw-call.js';

const QUIET = QUIET_FAULTS;

interface World {
  readonly url: string;
  readonly calls: ReturnType<typeof callsOf>;
  /** `PUT`s `body` as JSON to the admin route. */
  put(body: unknown): Promise<RawAnswer>;
  /** The settings `GET` answers now. */
  settings(): Promise<FaultSettings>;
}

async function startWorld(t: TestContext, env: Record<string, string> = {}): Promise<World> {
  const { url, population } = await startUnlimitedSimulator(t, env);
  return {
    url,
    calls: callsOf(population.xuidAt(0)),
    put: (body) => rawCall(url, { method: 'PUT', path: FAULTS_PATH, body }),
    async settings() {
      const answer = await rawCall(url, { method: 'GET', path: FAULTS_PATH });
      assert.equal(answer.status, 200, `GET ${FAULTS_PATH} answers 200`);
      return JSON.parse(answer.text) as FaultSettings;
    },
  };
}

/** Statuses of `count` calls made one after the other, so their order is the draw order. */
async function statusesInTurn(url: string, call: Parameters<typeof rawCall>[1], count: number) {
  const statuses: number[] = [];
  for (let i = 0; i < count; i += 1) statuses.push((await rawCall(url, call)).status);
  return statuses;
}

test('isLoopbackAddress accepts only the loopback addresses a socket reports', () => {
  for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
    assert.equal(isLoopbackAddress(address), true, `${address} is loopback`);
  }
  for (const address of [
    undefined,
    '',
    '0.0.0.0',
    '::',
    '10.1.2.3',
    '::ffff:10.1.2.3',
    'localhost',
  ]) {
    assert.equal(isLoopbackAddress(address), false, `${String(address)} is not loopback`);
  }
});

test('GET /simulator/faults on 127.0.0.1 shows the start settings of every service', async (t) => {
  const world = await startWorld(t, {
    SIM_PROFILE_LATENCY_MS: '20',
    SIM_PRIVACY_ERROR_STATUS: '504',
  });

  const answer = await rawCall(world.url, { method: 'GET', path: FAULTS_PATH });

  assert.equal(answer.status, 200, 'a loopback caller is answered');
  assert.equal(answer.headers['cache-control'], 'no-store', 'settings are never cached');
  assert.deepEqual(
    JSON.parse(answer.text),
    {
      social: QUIET,
      profile: { ...QUIET, latencyMs: 20 },
      privacy: { ...QUIET, errorStatus: [504] },
    },
    'the settings of each service, statuses as a list',
  );
});

test('when PUT changes a service, its calls fail at once and later updates merge', async (t) => {
  const world = await startWorld(t, { SIM_PROFILE_LATENCY_MS: '20' });

  const first = await world.put({ profile: { errorRate: 1, errorStatus: 503 } });
  const failing = await rawCall(world.url, world.calls.profile);
  const second = await world.put({ profile: { retryAfterSeconds: 4 } });
  const stillFailing = await rawCall(world.url, world.calls.profile);
  const social = await rawCall(world.url, world.calls.social);

  assert.equal(first.status, 200, 'the update is accepted');
  assert.deepEqual(
    (JSON.parse(first.text) as FaultSettings).profile,
    { ...QUIET, latencyMs: 20, errorRate: 1, errorStatus: [503] },
    'PUT answers the merged settings',
  );
  assert.equal(failing.status, 503, 'the next profile call gets the new status');
  assert.deepEqual(
    (await world.settings()).profile,
    { ...QUIET, latencyMs: 20, errorRate: 1, errorStatus: [503], retryAfterSeconds: 4 },
    'the second update kept the first one',
  );
  assert.equal(second.status, 200, 'the second update is accepted');
  assert.equal(stillFailing.headers['retry-after'], '4', 'the 503 carries the new Retry-After');
  assert.equal(social.status, 200, 'another service is untouched');
});

test('when PUT sets hang, reset and throttle at run time, each is seen by the client', async (t) => {
  const world = await startWorld(t);

  const update = await world.put({
    social: { hangRate: 1 },
    profile: { resetRate: 1 },
    privacy: { throttleRate: 1, retryAfterSeconds: 2 },
  });

  assert.equal(update.status, 200, 'the update is accepted');
  await assert.rejects(
    rawCall(world.url, { ...world.calls.social, timeoutMs: 150 }),
    ClientTimeoutError,
    'a hung social call is cut by the client timeout',
  );
  await assert.rejects(rawCall(world.url, world.calls.profile), (error: NodeJS.ErrnoException) => {
    assert.equal(error.code, 'ECONNRESET', 'a profile call sees a reset socket');
    return true;
  });
  const throttled = await rawCall(world.url, world.calls.privacy);
  assert.equal(throttled.status, 429, 'a privacy call is throttled');
  assert.equal(throttled.headers['retry-after'], '2', 'with the Retry-After of the update');
});

test('when PUT sets latency, an error status and malformed answers, the calls show them', async (t) => {
  const world = await startWorld(t);

  await world.put({
    social: { latencyMs: 120, jitterMs: 0 },
    profile: { errorRate: 1, errorStatus: [502] },
    privacy: { malformedRate: 1 },
  });
  const startedMs = performance.now();
  const slow = await rawCall(world.url, world.calls.social);
  const elapsedMs = performance.now() - startedMs;
  const failed = await rawCall(world.url, world.calls.profile);
  const malformed = await rawCall(world.url, world.calls.privacy);

  assert.equal(slow.status, 200, 'a slow answer is a good one');
  assert.ok(elapsedMs >= 115, `the social call took ${Math.round(elapsedMs)} ms, at least 120`);
  assert.equal(failed.status, 502, 'the profile call answers the status set');
  assert.equal(malformed.status, 200, 'a malformed answer claims success');
  assert.throws(() => JSON.parse(malformed.text), SyntaxError, 'its JSON is cut short');
});

test('when a PUT body is invalid, it is answered 400 and nothing changes', async (t) => {
  const world = await startWorld(t);
  const invalid: [unknown, RegExp][] = [
    [{ profile: { errorRates: 0.5 } }, /Unrecognized key/],
    [{ presence: { errorRate: 0.5 } }, /Unrecognized key/],
    [{ profile: { errorRate: 1.5 } }, /profile\.errorRate must be a number from 0 to 1/],
    [{ profile: { errorRate: '0.5' } }, /profile\.errorRate/],
    [{ social: { errorStatus: 200 } }, /social\.errorStatus/],
    [{ social: { errorStatus: [] } }, /social\.errorStatus/],
    [{ privacy: { latencyMs: 1.5 } }, /privacy\.latencyMs must be a whole number/],
    [{ privacy: { retryAfterSeconds: -1 } }, /privacy\.retryAfterSeconds/],
    [{ social: { hangRate: 1 }, profile: { resetRate: 7 } }, /profile\.resetRate/],
    [[], /expected a JSON object/],
  ];

  for (const [body, message] of invalid) {
    const answer = await world.put(body);

    assert.equal(answer.status, 400, `${JSON.stringify(body)} is refused`);
    const { code, description } = JSON.parse(answer.text) as { code: string; description: string };
    assert.equal(code, 'InvalidRequestBody', 'the code says the body is wrong');
    assert.match(description, message, `the description says why for ${JSON.stringify(body)}`);
  }
  const brokenJson = await rawCall(world.url, {
    method: 'PUT',
    path: FAULTS_PATH,
    text: '{"profile": {',
  });
  const notJson = await rawCall(world.url, {
    method: 'PUT',
    path: FAULTS_PATH,
    headers: { 'Content-Type': 'text/plain' },
    text: 'profile.errorRate=1',
  });

  assert.equal(brokenJson.status, 400, 'broken JSON is refused');
  assert.equal(notJson.status, 400, 'a body that is not JSON is refused');
  assert.deepEqual(
    await world.settings(),
    { social: QUIET, profile: QUIET, privacy: QUIET },
    'no refused update changed anything, not even the valid half of one',
  );
});

test('when DELETE is called, the start settings come back; with ?to=none every fault goes', async (t) => {
  const world = await startWorld(t, { SIM_SOCIAL_ERROR_RATE: '1', SIM_SOCIAL_ERROR_STATUS: '504' });

  await world.put({ social: { errorStatus: 502 }, privacy: { hangRate: 1 } });
  const changed = await rawCall(world.url, world.calls.social);
  const reset = await rawCall(world.url, { method: 'DELETE', path: FAULTS_PATH });
  const afterReset = await rawCall(world.url, world.calls.social);
  const privacy = await rawCall(world.url, world.calls.privacy);
  const cleared = await rawCall(world.url, { method: 'DELETE', path: `${FAULTS_PATH}?to=none` });
  const afterClear = await rawCall(world.url, world.calls.social);
  const bogus = await rawCall(world.url, { method: 'DELETE', path: `${FAULTS_PATH}?to=never` });

  assert.equal(changed.status, 502, 'the update applied');
  assert.equal(reset.status, 200, 'DELETE is answered 200');
  assert.deepEqual(
    JSON.parse(reset.text),
    { social: { ...QUIET, errorRate: 1, errorStatus: [504] }, profile: QUIET, privacy: QUIET },
    'DELETE answers the start settings',
  );
  assert.equal(afterReset.status, 504, 'social fails as configured at start again');
  assert.equal(privacy.status, 200, 'the privacy hang is gone');
  assert.equal(cleared.status, 200, 'DELETE ?to=none is answered 200');
  assert.equal(
    (JSON.parse(cleared.text) as FaultSettings).social.errorRate,
    0,
    'no error rate is left',
  );
  assert.equal(afterClear.status, 200, 'social answers again');
  assert.equal(bogus.status, 400, 'an unknown target is refused');
});

test('when DELETE restarts the draws, the same updates repeat the same faults', async (t) => {
  const world = await startWorld(t);
  const chaos = { profile: { errorRate: 0.5, errorStatus: [500, 502, 503, 504] } };

  await world.put(chaos);
  const firstRun = await statusesInTurn(world.url, world.calls.profile, 16);
  await rawCall(world.url, { method: 'DELETE', path: FAULTS_PATH });
  await world.put(chaos);
  const secondRun = await statusesInTurn(world.url, world.calls.profile, 16);

  assert.ok(new Set(firstRun).size > 2, `the run mixes answers and errors (${firstRun.join(',')})`);
  assert.deepEqual(secondRun, firstRun, 'the seed decides, not the time or the earlier traffic');
});

test('when another method is used on /simulator/faults, it answers 405 with Allow', async (t) => {
  const world = await startWorld(t);

  const answer = await rawCall(world.url, { method: 'POST', path: FAULTS_PATH, body: {} });

  assert.equal(answer.status, 405, 'POST is not a method of the admin route');
  assert.equal(answer.headers['allow'], 'GET, HEAD, PUT, DELETE', 'Allow names the methods');
});

/** An IPv4 address of this machine that is not loopback, if it has one. */
function outsideAddress(): string | undefined {
  const addresses = Object.values(networkInterfaces()).flatMap((entries) => entries ?? []);
  return addresses.find((entry) => entry.family === 'IPv4' && !entry.internal)?.address;
}

const OUTSIDE_ADDRESS = outsideAddress();

test(
  'when a caller is not on loopback, /simulator/faults answers 404 and changes nothing',
  { skip: OUTSIDE_ADDRESS === undefined ? 'this machine has no non-loopback IPv4' : false },
  async (t) => {
    const host = OUTSIDE_ADDRESS ?? '';
    const simulator = createSimulatorApp(loadSimulatorConfig({ SIM_RATE_LIMIT: 'false' }));
    const server = createServer(simulator.app);
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    t.after(async () => {
      simulator.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const url = `http://${host}:${(server.address() as AddressInfo).port}`;
    const forged = { 'X-Forwarded-For': '127.0.0.1' };

    const read = await rawCall(url, { method: 'GET', path: FAULTS_PATH, headers: forged });
    const write = await rawCall(url, {
      method: 'PUT',
      path: FAULTS_PATH,
      headers: forged,
      body: { social: { errorRate: 1 } },
    });
    const remove = await rawCall(url, { method: 'DELETE', path: FAULTS_PATH });
    const social = await rawCall(url, callsOf(simulator.population.xuidAt(0)).social);

    assert.deepEqual(
      [read.status, write.status, remove.status],
      [404, 404, 404],
      'the admin route does not exist for a remote caller, whatever its headers say',
    );
    assert.equal(social.status, 200, 'the refused PUT changed nothing; the services still answer');
  },
);
