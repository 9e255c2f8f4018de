import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startNode } from '../helpers/child-process.js';
import { startFakeUpstreams } from '../helpers/fake-upstreams.js';
import type { FakeUpstreams } from '../helpers/fake-upstreams.js';
import { AUTHORIZATION } from '../helpers/test-app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * Does what the Dockerfile does, without a Docker engine: compile, install production
 * dependencies only in a clean directory with the built output and config/, then run
 * `node dist/server.js` (the image's CMD) and `node dist/simulator.js` (docker-compose's).
 */
describe('the production image steps', { timeout: 240_000 }, () => {
  let image: string;
  let upstreams: FakeUpstreams;

  before(() => {
    image = mkdtempSync(join(tmpdir(), 'friend-card-image-'));
    execFileSync(
      NPM,
      ['exec', '--', 'tsc', '-p', 'tsconfig.build.json', '--outDir', join(image, 'dist')],
      {
        cwd: ROOT,
        stdio: 'pipe',
      },
    );
    for (const file of ['package.json', 'package-lock.json'])
      cpSync(join(ROOT, file), join(image, file));
    cpSync(join(ROOT, 'config'), join(image, 'config'), { recursive: true });
    execFileSync(
      NPM,
      ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
      {
        cwd: image,
        stdio: 'pipe',
      },
    );
  });

  before(async () => {
    upstreams = await startFakeUpstreams();
  });

  after(async () => {
    await upstreams.close();
    rmSync(image, { recursive: true, force: true });
  });

  test('when installed with --omit=dev, no development tool is present', () => {
    assert.equal(existsSync(join(image, 'node_modules', 'express')), true, 'express is installed');
    for (const tool of ['typescript', 'tsx', 'eslint', 'supertest']) {
      assert.equal(
        existsSync(join(image, 'node_modules', tool)),
        false,
        `${tool} is not in the image`,
      );
    }
  });

  test('when node dist/server.js runs, /healthz and a card request answer, and SIGTERM exits 0', async () => {
    const gateway = startNode(['dist/server.js'], {
      cwd: image,
      env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', ...upstreams.env },
    });
    try {
      const { port } = await gateway.waitForLog('gateway listening');
      const base = `http://127.0.0.1:${String(port)}`;

      const health = await fetch(`${base}/healthz`);
      const cards = await fetch(`${base}/friends-with-profiles?xuids=2533274791381930`, {
        headers: { Authorization: AUTHORIZATION },
      });
      const body = (await cards.json()) as { cards: { profileStatus: string }[] };
      gateway.child.kill('SIGTERM');
      const code = await gateway.exited;

      assert.equal(health.status, 200, '/healthz answers 200');
      assert.deepEqual(await health.json(), { status: 'ok' }, '/healthz says ok');
      assert.equal(cards.status, 200, 'a card request is served from the built output');
      assert.equal(body.cards[0]?.profileStatus, 'ok', 'the card carries its profile');
      assert.equal(code, 0, 'SIGTERM ends the process with exit code 0');
    } finally {
      gateway.kill();
    }
  });

  test('when node dist/server.js runs, /openapi.json and the /docs page files answer', async () => {
    const gateway = startNode(['dist/server.js'], {
      cwd: image,
      env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', ...upstreams.env },
    });
    try {
      const { port } = await gateway.waitForLog('gateway listening');
      const base = `http://127.0.0.1:${String(port)}`;

      const document = await fetch(`${base}/openapi.json`);
      const files = await Promise.all(
        ['/docs', '/docs/start.js', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css'].map(
          async (path) => [path, (await fetch(`${base}${path}`)).status] as const,
        ),
      );

      assert.equal(document.status, 200, '/openapi.json answers 200');
      assert.equal(
        ((await document.json()) as { openapi: string }).openapi,
        '3.1.1',
        'it is the OpenAPI 3.1 document',
      );
      for (const [path, status] of files) {
        assert.equal(status, 200, `${path} is served from the production install`);
      }
    } finally {
      gateway.kill();
    }
  });

  test('when node dist/simulator.js runs, it serves the three upstream paths on one port', async () => {
    const simulator = startNode(['dist/simulator.js'], {
      cwd: image,
      env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1' },
    });
    try {
      const { port } = await simulator.waitForLog('simulator listening');

      const answer = await fetch(`http://127.0.0.1:${String(port)}/users/me/people/xuids`, {
        method: 'POST',
        headers: { Authorization: AUTHORIZATION, 'Content-Type': 'application/json' },
        body: JSON.stringify({ xuids: ['2533274791381930'] }),
      });
      simulator.child.kill('SIGTERM');
      const code = await simulator.exited;

      assert.equal(answer.status, 200, 'the simulator answers people/xuids');
      assert.equal(code, 0, 'SIGTERM ends the simulator with exit code 0');
    } finally {
      simulator.kill();
    }
  });

  test('when a setting is invalid, node dist/server.js stops before listening and names it', async () => {
    const gateway = startNode(['dist/server.js'], {
      cwd: image,
      env: { PATH: process.env.PATH, PORT: '0', REQUEST_DEADLINE_MS: 'soon' },
    });
    let stderr = '';
    gateway.child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));

    const code = await gateway.exited;

    assert.equal(code, 1, 'start-up fails with exit code 1');
    assert.match(stderr, /REQUEST_DEADLINE_MS/, 'the message names the bad variable');
  });
});
