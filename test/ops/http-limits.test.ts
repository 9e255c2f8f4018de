import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/http/request-logging.js';
import { startGateway } from '../../src/start-gateway.js';
import type { RunningGateway } from '../../src/start-gateway.js';
import { startFakeUpstreams } from '../helpers/fake-upstreams.js';
import type { FakeUpstreams } from '../helpers/fake-upstreams.js';
import { AUTHORIZATION } from '../helpers/test-app.js';

/** The listening gateway, as `node dist/server.js` runs it, on fake upstreams. */
async function startListening(
  env: Record<string, string> = {},
): Promise<{ gateway: RunningGateway; upstreams: FakeUpstreams; close: () => Promise<void> }> {
  const upstreams = await startFakeUpstreams();
  const config = loadConfig({ ...upstreams.env, PORT: '0', HOST: '127.0.0.1', ...env });
  const gateway = await startGateway(config, createLogger({ level: 'silent' }));
  return {
    gateway,
    upstreams,
    close: async () => {
      gateway.server.closeAllConnections();
      await gateway.shutdown();
      await upstreams.close();
    },
  };
}

/** Sends raw bytes and resolves with everything the server wrote before closing. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => {
      resolve(answer);
    });
    socket.on('error', reject);
    socket.write(bytes);
  });
}

test('when the request head is over 16 KiB, the gateway answers 431 and calls no upstream', async (t) => {
  const { gateway, upstreams, close } = await startListening();
  t.after(close);
  const head =
    `GET /friends-with-profiles?xuids=1 HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTHORIZATION}\r\n` +
    `X-Padding: ${'a'.repeat(17 * 1024)}\r\nConnection: close\r\n\r\n`;

  const answer = await rawExchange(gateway.port, head);

  assert.match(answer, /^HTTP\/1\.1 431 /, 'an oversized head is answered 431');
  assert.equal(upstreams.calls.length, 0, 'no upstream is called');
});

test('when the URL is over 8 KiB on a listening gateway, it answers 414 and calls no upstream', async (t) => {
  const { gateway, upstreams, close } = await startListening();
  t.after(close);
  const xuids = Array.from({ length: 600 }, (_, i) => String(2533274790000000 + i)).join(',');

  const answer = await rawExchange(
    gateway.port,
    `GET /friends-with-profiles?xuids=${xuids} HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTHORIZATION}\r\nConnection: close\r\n\r\n`,
  );

  assert.match(answer, /^HTTP\/1\.1 414 /, 'a URL over 8 KiB is answered 414');
  assert.match(answer, /application\/problem\+json/, 'as a problem response');
  assert.equal(upstreams.calls.length, 0, 'no upstream is called');
});

test('when a client sends its head slower than HEADERS_TIMEOUT_MS, it is disconnected', async (t) => {
  const { gateway, close } = await startListening({ HEADERS_TIMEOUT_MS: '1000' });
  t.after(close);
  const startedAt = Date.now();

  const answer = await rawExchange(gateway.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
  const waitedMs = Date.now() - startedAt;

  assert.match(answer, /^HTTP\/1\.1 408 |^$/, 'the slow client gets 408 or a closed connection');
  assert.ok(waitedMs >= 900, `not before the timeout (closed after ${String(waitedMs)} ms)`);
  assert.ok(waitedMs < 5000, `soon after the timeout (closed after ${String(waitedMs)} ms)`);
});
