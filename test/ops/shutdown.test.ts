import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startNode } from '../helpers/child-process.js';
import { allProfiles, startFakeUpstreams } from '../helpers/fake-upstreams.js';
import { AUTHORIZATION } from '../helpers/test-app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('when SIGTERM arrives during a request, that request completes and the process exits 0', async (t) => {
  const upstreams = await startFakeUpstreams({
    profile: async (call) => ({ ...(await allProfiles(call)), delayMs: 400 }),
  });
  const gateway = startNode(['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', ...upstreams.env },
  });
  t.after(async () => {
    gateway.kill();
    await upstreams.close();
  });
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
});

test('when in-flight requests outlast SHUTDOWN_GRACE_MS, the process still exits 0 in time', async (t) => {
  const upstreams = await startFakeUpstreams({ profile: () => ({ hang: true }) });
  const gateway = startNode(['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      HOST: '127.0.0.1',
      REQUEST_DEADLINE_MS: '30000',
      UPSTREAM_TIMEOUT_MS: '30000',
      SHUTDOWN_GRACE_MS: '300',
      ...upstreams.env,
    },
  });
  t.after(async () => {
    gateway.kill();
    await upstreams.close();
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
