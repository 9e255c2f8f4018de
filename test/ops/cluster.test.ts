import assert from 'node:assert/strict';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { availableParallelism } from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startNode } from '../helpers/child-process.js';
import type { StartedProcess } from '../helpers/child-process.js';
import { allProfiles, startFakeUpstreams } from '../helpers/fake-upstreams.js';
import type { FakeUpstreams } from '../helpers/fake-upstreams.js';
import { AUTHORIZATION } from '../helpers/test-app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PER_WORKER_WARNING =
  'WORKERS > 1 without REDIS_URL: profile cache, throttle memory and rate limits are per worker';

type LogLine = Record<string, unknown>;

/** Runs `src/server.ts` with exactly `env` (plus PATH and a loopback listen address). */
function startGatewayProcess(env: Record<string, string>): StartedProcess {
  return startNode(['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', ...env },
  });
}

/** The log lines of `started` whose `msg` is `message`. */
function linesWith(started: StartedProcess, message: string): LogLine[] {
  return started.lines.filter((line): line is LogLine => (line as LogLine).msg === message);
}

/** Polls until `count` lines with `message` have been logged, for at most `timeoutMs`. */
async function waitForLines(
  started: StartedProcess,
  message: string,
  count: number,
  timeoutMs = 20_000,
): Promise<LogLine[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = linesWith(started, message);
    if (found.length >= count) return found;
    assert.ok(
      Date.now() < deadline,
      `${count} '${message}' lines within ${timeoutMs} ms (got ${found.length}); stderr: ${started.stderr()}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One card request on a connection of its own (no keep-alive), so each one is balanced anew. */
function getCards(port: number, xuid: string, requestId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpGet(
      {
        host: '127.0.0.1',
        port,
        path: `/friends-with-profiles?xuids=${xuid}`,
        agent: false,
        headers: { Authorization: AUTHORIZATION, 'X-Request-Id': requestId },
      },
      (response) => {
        response.resume();
        response.once('end', () => {
          resolve(response.statusCode ?? 0);
        });
      },
    );
    request.once('error', reject);
    request.setTimeout(5000, () => {
      request.destroy(new Error(`No answer to ${requestId} within 5 s`));
    });
  });
}

/** The pid in the access line of request `requestId`, waiting for the line (at most 5 s). */
async function pidThatServed(started: StartedProcess, requestId: string): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const line = linesWith(started, 'request finished').find((l) => l.reqId === requestId);
    if (line) return Number(line.pid);
    assert.ok(Date.now() < deadline, `an access line for ${requestId} within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Holds a TCP port on 127.0.0.1 until `t` ends; returns it. */
async function occupyPort(t: TestContext): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** A distinct XUID per request, so no answer comes from a worker's profile cache. */
let nextXuid = 2_533_274_790_000_000n;
function freshXuid(): string {
  nextXuid += 1n;
  return String(nextXuid);
}

describe('WORKERS=2: one primary, two workers on one port', { timeout: 90_000 }, () => {
  let upstreams: FakeUpstreams;
  let gateway: StartedProcess;
  let port: number;
  let profileDelayMs = 0;

  before(async () => {
    upstreams = await startFakeUpstreams({
      profile: async (call) => ({ ...(await allProfiles(call)), delayMs: profileDelayMs }),
    });
    gateway = startGatewayProcess({
      ...upstreams.env,
      WORKERS: '2',
      SHUTDOWN_GRACE_MS: '5000',
      MAX_EVENT_LOOP_DELAY_MS: '0',
      XBL_PROFLE_URL: 'http://typo.example',
    });
    const listening = await waitForLines(gateway, 'gateway listening', 2);
    port = Number(listening[0]?.port);
  });

  after(async () => {
    gateway.kill();
    await upstreams.close();
  });

  test('when it starts, the primary logs its own line and the warnings once, each worker its listening line', () => {
    const [primary, ...otherPrimaries] = linesWith(gateway, 'cluster primary started');
    const listening = linesWith(gateway, 'gateway listening');
    const typoWarnings = gateway.lines.filter((l) => (l as LogLine).variable === 'XBL_PROFLE_URL');

    assert.equal(otherPrimaries.length, 0, 'one primary start-up line');
    assert.equal(primary?.role, 'primary', 'it says it is the primary');
    assert.equal(primary.workers, 2, 'it says how many workers');
    assert.equal(primary.pid, gateway.child.pid, "it carries the primary's pid");
    assert.equal(new Set(listening.map((l) => l.pid)).size, 2, 'two workers, two pids');
    assert.ok(
      listening.every((l) => l.pid !== gateway.child.pid && l.port === port),
      'the workers are other processes and listen on the same port',
    );
    assert.equal(typoWarnings.length, 1, 'a setting warning is logged once, not once per worker');
    assert.equal(
      typoWarnings[0] && (typoWarnings[0] as LogLine).pid,
      gateway.child.pid,
      'by the primary',
    );
    assert.equal(
      linesWith(gateway, PER_WORKER_WARNING).length,
      1,
      'without REDIS_URL the primary warns once that state is per worker',
    );
    assert.equal(
      gateway.lines.findIndex((l) => (l as LogLine).msg === PER_WORKER_WARNING) <
        gateway.lines.findIndex((l) => (l as LogLine).msg === 'cluster primary started'),
      true,
      'the warning comes before the start-up line',
    );
  });

  test('when requests arrive on fresh connections, both workers serve them', async () => {
    const pids = new Set<number>();

    for (let i = 0; i < 8; i += 1) {
      const status = await getCards(port, freshXuid(), `balance-${i}`);
      assert.equal(status, 200, `request ${i} is answered 200`);
      pids.add(await pidThatServed(gateway, `balance-${i}`));
    }

    const workerPids = linesWith(gateway, 'gateway listening').map((l) => Number(l.pid));
    assert.deepEqual([...pids].sort(), workerPids.sort(), 'the two workers both answered');
  });

  test('when a worker is killed, requests keep succeeding and a replacement starts within seconds', async () => {
    const [victim] = linesWith(gateway, 'gateway listening');
    const victimPid = Number(victim?.pid);
    const killedAt = Date.now();
    process.kill(victimPid, 'SIGKILL');
    // Node's round robin loses a connection it hands to a worker in the instant that worker dies,
    // before the primary has noticed (README, Cluster mode): the gap starts at the notice.
    await waitForLines(gateway, 'worker exited unexpectedly', 1, 5000);

    const statuses: number[] = [];
    let replacementAt = 0;
    for (let i = 0; replacementAt === 0 || i < 10; i += 1) {
      statuses.push(await getCards(port, freshXuid(), `gap-${i}`));
      if (replacementAt === 0 && linesWith(gateway, 'gateway listening').length >= 3) {
        replacementAt = Date.now();
      }
      assert.ok(Date.now() - killedAt < 15_000, 'a replacement within 15 s');
    }
    const listening = linesWith(gateway, 'gateway listening');
    const [exited] = linesWith(gateway, 'worker exited unexpectedly');
    const lastPids = new Set<number>();
    for (let i = 0; i < 8; i += 1) {
      await getCards(port, freshXuid(), `after-${i}`);
      lastPids.add(await pidThatServed(gateway, `after-${i}`));
    }

    assert.ok(
      statuses.every((status) => status === 200),
      `every request during the gap is answered 200 (got ${statuses.join(',')})`,
    );
    assert.equal(exited?.workerPid, victimPid, 'the primary logs which worker died');
    assert.equal(exited.signal, 'SIGKILL', 'and how');
    assert.equal(exited.restartInMs, 100, 'the first replacement waits 100 ms');
    assert.equal(listening.length, 3, 'one replacement worker started');
    assert.ok(
      replacementAt - killedAt < 10_000,
      `the replacement listens within 10 s (${String(replacementAt - killedAt)} ms)`,
    );
    assert.ok(!lastPids.has(victimPid), 'the dead worker serves nothing any more');
    assert.equal(lastPids.size, 2, 'the survivor and the replacement both serve');
  });

  test('when the primary gets SIGTERM, every worker drains (an in-flight request finishes 200) and it exits 0', async () => {
    profileDelayMs = 600;
    const profileCallsBefore = upstreams.callsTo('profile').length;
    const inFlight = getCards(port, freshXuid(), 'in-flight');
    while (upstreams.callsTo('profile').length === profileCallsBefore) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }

    gateway.child.kill('SIGTERM');
    const status = await inFlight;
    const code = await gateway.exited;

    const workerPids = new Set(linesWith(gateway, 'gateway listening').map((l) => l.pid));
    workerPids.delete(linesWith(gateway, 'worker exited unexpectedly')[0]?.workerPid);
    const stoppedPids = new Set(linesWith(gateway, 'stopped').map((l) => l.pid));
    assert.equal(status, 200, 'the in-flight request is answered in full');
    assert.equal(code, 0, 'the primary exits 0 once its workers have drained');
    assert.deepEqual(stoppedPids, workerPids, "each live worker logged 'stopped' after draining");
    assert.equal(linesWith(gateway, 'all workers stopped').length, 1, 'the primary says so');
    assert.equal(
      linesWith(gateway, 'worker exited unexpectedly').length,
      1,
      'no worker was restarted while stopping',
    );
  });
});

describe('WORKERS at start-up', { timeout: 60_000 }, () => {
  for (const given of ['0', 'abc']) {
    test(`when WORKERS is '${given}', start-up stops with one line naming it`, async (t) => {
      const started = startGatewayProcess({ WORKERS: given });
      t.after(() => {
        started.kill();
      });

      const code = await started.exited;

      const lines = started
        .stderr()
        .split('\n')
        .filter((line) => line.trim() !== '');
      assert.equal(code, 1, 'exit code 1');
      assert.deepEqual(
        lines,
        [
          given === '0'
            ? "Cannot start: WORKERS must be at least 1 (got '0')"
            : "Cannot start: WORKERS must be a whole number or auto (got 'abc')",
        ],
        'one line on stderr names the variable and the value',
      );
    });
  }

  test('when WORKERS=auto and the port is in use, the primary forks one worker per CPU and stops with one line', async (t) => {
    const busyPort = await occupyPort(t);
    const upstreams = await startFakeUpstreams();
    t.after(() => upstreams.close());
    const started = startGatewayProcess({
      ...upstreams.env,
      WORKERS: 'auto',
      PORT: String(busyPort),
      // Set, so no per-worker warning; start-up does not wait for Redis.
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    t.after(() => {
      started.kill();
    });

    const code = await started.exited;

    const [primary] = linesWith(started, 'cluster primary started');
    const stderrLines = started
      .stderr()
      .split('\n')
      .filter((line) => line.trim() !== '');
    if (availableParallelism() > 1) {
      assert.equal(primary?.workers, availableParallelism(), 'auto means one worker per CPU');
    } else {
      assert.equal(primary, undefined, 'auto on one CPU is one process, no cluster');
    }
    assert.equal(code, 1, 'exit code 1, not a crash loop');
    assert.deepEqual(
      stderrLines,
      [`Cannot listen on 127.0.0.1:${busyPort}: address in use`],
      'one line on stderr for all workers',
    );
    assert.equal(linesWith(started, 'worker exited unexpectedly').length, 0, 'no restarts');
    assert.equal(linesWith(started, PER_WORKER_WARNING).length, 0, 'with REDIS_URL no warning');
  });
});
