import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startGatewayProcess } from '../helpers/child-process.js';
import { allProfiles, startFakeUpstreams } from '../helpers/fake-upstreams.js';
import { AUTHORIZATION } from '../helpers/test-app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

test('when SIGTERM arrives during a request, that request completes and the process exits 0', async (t) => {
  const upstreams = await startFakeUpstreams({
    profile: async (call) => ({ ...(await allProfiles(call)), delayMs: 400 }),
  });
  const gateway = startGatewayProcess(t, upstreams, {});
  const { port } = await gateway.waitForLog('gateway listening');
  const base = `http://127.0.0.1:${String(port)}`;

  const inFlight = fetch(`${base}/friends-with-profiles?xuids=2533274791381930`, {
    headers: { Authorization: AUTHORIZATION },
  });
  while (upstreams.callsTo('profile').length === 0) await new Promise((r) => setTimeout(r, 10));
  gateway.child.kill('SIGTERM');
  await gateway.waitForLog('draining');
  const lateConnection = await fetch(`${base}/healthz`).then(
    (response) => response.status,
    () => 'refused',
  );
  const response = await inFlight;
  const answeredAt = Date.now();
  const code = await gateway.exited;
  const exitDelayMs = Date.now() - answeredAt;

  assert.equal(response.status, 200, 'the in-flight request is answered in full');
  assert.equal(
    ((await response.json()) as { partial: boolean }).partial,
    false,
    'the in-flight request lost no part while draining',
  );
  assert.equal(lateConnection, 'refused', 'a new connection after SIGTERM is not accepted');
  assert.equal(code, 0, 'the process exits 0 after draining');
  assert.ok(
    exitDelayMs < 2000,
    `the idle keep-alive connection does not hold the exit (exited ${String(exitDelayMs)} ms after the answer)`,
  );
  assert.ok(
    logIndex(gateway.lines, 'stopped') > logIndex(gateway.lines, 'draining'),
    "'stopped' is logged after 'draining', once the in-flight request was answered",
  );
});

test('when in-flight requests outlast SHUTDOWN_GRACE_MS, the process still exits 0 in time', async (t) => {
  const upstreams = await startFakeUpstreams({ profile: () => ({ hang: true }) });
  const gateway = startGatewayProcess(t, upstreams, {
    REQUEST_DEADLINE_MS: '30000',
    UPSTREAM_TIMEOUT_MS: '30000',
    SHUTDOWN_GRACE_MS: '300',
  });
  const { port } = await gateway.waitForLog('gateway listening');
  const stuck = fetch(`http://127.0.0.1:${String(port)}/friends-with-profiles?xuids=1`, {
    headers: { Authorization: AUTHORIZATION },
  }).catch(() => 'cut');
  while (upstreams.callsTo('profile').length === 0) await new Promise((r) => setTimeout(r, 10));

  const startedAt = Date.now();
  gateway.child.kill('SIGTERM');
  const code = await gateway.exited;
  const waitedMs = Date.now() - startedAt;

  assert.equal(code, 0, 'the process exits 0 after the grace period');
  assert.ok(
    waitedMs < 5000,
    `the process stops soon after the grace period (took ${String(waitedMs)} ms)`,
  );
  assert.equal(await stuck, 'cut', 'the stuck request is cut when the grace period ends');
});

/** `GET path` on a connection of its own (no keep-alive pool), or 'refused'. */
function getOnNewConnection(
  port: number,
  path: string,
): Promise<{ status: number; connection: string | undefined; body: unknown } | 'refused'> {
  return new Promise((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          connection: res.headers.connection,
          body: JSON.parse(text) as unknown,
        });
      });
    });
    req.on('error', () => {
      resolve('refused');
    });
  });
}

/** The position of the first log line with `msg`, or -1. */
function logIndex(lines: readonly unknown[], msg: string): number {
  return lines.findIndex((line) => (line as { msg?: unknown } | undefined)?.msg === msg);
}

test('when SIGTERM arrives with SHUTDOWN_DELAY_MS set, /readyz answers 503 draining on new connections during the delay, then the process stops accepting and exits 0', async (t) => {
  const upstreams = await startFakeUpstreams();
  const gateway = startGatewayProcess(t, upstreams, { SHUTDOWN_DELAY_MS: '1500' });
  const port = Number((await gateway.waitForLog('gateway listening')).port);

  const signalledAt = Date.now();
  gateway.child.kill('SIGTERM');
  await gateway.waitForLog('draining');
  const readyz = await getOnNewConnection(port, '/readyz');
  const healthz = await getOnNewConnection(port, '/healthz');
  const code = await gateway.exited;
  const tookMs = Date.now() - signalledAt;
  const afterExit = await getOnNewConnection(port, '/healthz');

  assert.ok(readyz !== 'refused', 'a new connection during the delay is still accepted');
  assert.equal(readyz.status, 503, '/readyz answers 503 at once after SIGTERM');
  assert.equal(
    (readyz.body as { status?: unknown }).status,
    'draining',
    '/readyz says the gateway is draining',
  );
  assert.equal(readyz.connection, 'close', 'a draining gateway asks clients to reconnect');
  assert.ok(healthz !== 'refused', 'liveness still answers during the delay');
  assert.equal(healthz.status, 200, 'liveness stays 200 while draining: the process is healthy');
  assert.equal(code, 0, 'the process exits 0 after the delay');
  assert.ok(tookMs >= 1400, `the listener stays open for the delay (exited after ${tookMs} ms)`);
  assert.ok(tookMs < 5000, `the process exits soon after the delay (took ${tookMs} ms)`);
  assert.equal(afterExit, 'refused', 'nothing listens once the process has exited');
  const order = ['signal received', 'draining', 'stopped'].map((msg) =>
    logIndex(gateway.lines, msg),
  );
  assert.ok(
    order.every((index, i) => index >= 0 && (i === 0 || index > (order[i - 1] ?? -1))),
    `the log reads 'signal received', 'draining', 'stopped' in that order (positions ${order.join(', ')})`,
  );
});

/**
 * Compiles the gateway as `npm run build` does, into a fresh directory inside the repository (so
 * `node_modules` resolves) with `config/` beside it; removed when `t` ends. The built server, not
 * tsx, is what runs in production: tsx wraps `process.stdout`, which changes how pino writes.
 */
function buildGatewayFor(t: TestContext): string {
  const build = mkdtempSync(join(ROOT, '.test-build-'));
  t.after(() => {
    rmSync(build, { recursive: true, force: true });
  });
  execFileSync(
    NPM,
    ['exec', '--', 'tsc', '-p', 'tsconfig.build.json', '--outDir', join(build, 'dist')],
    {
      cwd: ROOT,
      stdio: 'pipe',
    },
  );
  cpSync(join(ROOT, 'config'), join(build, 'config'), { recursive: true });
  return build;
}

test(
  'when stdout and stderr are a closed pipe, SIGTERM still makes node dist/server.js exit 0 within the grace period',
  { timeout: 120_000 },
  async (t) => {
    const build = buildGatewayFor(t);
    const upstreams = await startFakeUpstreams();
    // `node dist/server.js 2>&1 | head -1` with a real pipe (Node's own stdio pipes are
    // socketpairs): once head has printed 'gateway listening' it exits, and every later line
    // meets a broken pipe. bash waits for the whole pipeline and exits with the gateway's code.
    const shell = spawn(
      'bash',
      ['-c', '"$0" dist/server.js 2>&1 | head -1; exit "${PIPESTATUS[0]}"', process.execPath],
      {
        cwd: build,
        env: {
          PATH: process.env.PATH,
          PORT: '0',
          HOST: '127.0.0.1',
          SHUTDOWN_GRACE_MS: '1000',
          ...upstreams.env,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise<number | null>((resolve) => shell.once('exit', resolve));
    let gatewayPid = 0;
    t.after(async () => {
      if (gatewayPid > 0) {
        try {
          process.kill(gatewayPid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await upstreams.close();
    });
    const [firstLine] = (await once(createInterface({ input: shell.stdout }), 'line')) as [string];
    const listening = JSON.parse(firstLine) as { msg: string; pid: number };
    gatewayPid = listening.pid;
    // Let head exit, so the pipe is closed before the signal; no request in between, so the
    // first line to meet the broken pipe is the shutdown's own 'signal received'.
    await new Promise((resolve) => setTimeout(resolve, 200));

    const startedAt = Date.now();
    process.kill(gatewayPid, 'SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<'hung'>((resolve) => setTimeout(resolve, 1000 + 4000, 'hung')),
    ]);
    const tookMs = Date.now() - startedAt;

    assert.equal(listening.msg, 'gateway listening', 'precondition: head printed the first line');
    assert.equal(
      code,
      0,
      `the process exits 0 though its log lines cannot be written (got ${code})`,
    );
    assert.ok(tookMs < 1000 + 2000, `the process exits within grace + margin (took ${tookMs} ms)`);
  },
);

test('when a second SIGTERM arrives while draining, the process exits at once with 143', async (t) => {
  const upstreams = await startFakeUpstreams();
  const gateway = startGatewayProcess(t, upstreams, { SHUTDOWN_DELAY_MS: '30000' });
  await gateway.waitForLog('gateway listening');
  gateway.child.kill('SIGTERM');
  await gateway.waitForLog('draining');

  const startedAt = Date.now();
  gateway.child.kill('SIGTERM');
  const code = await gateway.exited;
  const tookMs = Date.now() - startedAt;

  assert.equal(code, 143, 'the second signal exits with 128 + SIGTERM, not 0');
  assert.ok(tookMs < 1000, `the second signal does not wait for the delay (took ${tookMs} ms)`);
});
