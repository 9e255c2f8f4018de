import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/http/request-logging.js';
import {
  VALUE_FORMAT_VERSION,
  createRedisLevel,
  decodeEntry,
  encodeEntry,
  redisKey,
} from '../../src/profile-cache/redis-level.js';
import { createRedisConnection, withoutPassword } from '../../src/redis/redis-connection.js';

/** A logger whose lines are kept in `lines`. */
function capturingLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

/** A loopback port with nothing listening on it (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('Redis value codec', () => {
  test('when an entry is encoded and decoded, the same value and fetch time come back', () => {
    const entry = {
      value: 'Gamertag of 2533274791381930 — "quoted" ünïcode',
      storedAtMs: 1_700_000,
    };

    const decoded = decodeEntry(encodeEntry(entry));

    assert.deepEqual(decoded, entry, 'the round trip keeps value and time');
  });

  test('when an entry is encoded, it carries the format version', () => {
    const text = encodeEntry({ value: 'x', storedAtMs: 1 });

    const parsed = JSON.parse(text) as { v?: unknown };

    assert.equal(parsed.v, VALUE_FORMAT_VERSION, 'the stored value names its format version');
  });

  const misses: [string, unknown][] = [
    ['another format version', JSON.stringify({ v: 2, at: 1, value: 'x' })],
    ['no version', JSON.stringify({ at: 1, value: 'x' })],
    ['a version as a string', JSON.stringify({ v: '1', at: 1, value: 'x' })],
    ['garbage text', 'not json'],
    ['truncated JSON', encodeEntry({ value: 'x', storedAtMs: 1 }).slice(0, 12)],
    ['an empty string', ''],
    ['JSON null', 'null'],
    ['a JSON array', '[1,"x"]'],
    ['a JSON number', '42'],
    ['a value that is a number', JSON.stringify({ v: 1, at: 1, value: 7 })],
    ['a value that is null', JSON.stringify({ v: 1, at: 1, value: null })],
    ['a time that is a string', JSON.stringify({ v: 1, at: '1', value: 'x' })],
    ['a negative time', JSON.stringify({ v: 1, at: -5, value: 'x' })],
    ['a fractional time', JSON.stringify({ v: 1, at: 1.5, value: 'x' })],
    ['a time past safe integers', '{"v":1,"at":1e300,"value":"x"}'],
    ['a missing reply', null],
    ['a reply that is not a string', 12],
  ];
  for (const [what, stored] of misses) {
    test(`when the stored value is ${what}, decoding gives a miss`, () => {
      const decoded = decodeEntry(stored);

      assert.equal(decoded, undefined, `${what} is a miss, not a crash`);
    });
  }

  test('when a stored value has a __proto__ member, it is ignored data', () => {
    const text = '{"v":1,"at":5,"value":"x","__proto__":{"polluted":true}}';

    const decoded = decodeEntry(text);

    assert.deepEqual(decoded, { value: 'x', storedAtMs: 5 }, 'only the three members are read');
    assert.equal(({} as { polluted?: unknown }).polluted, undefined, 'no prototype is polluted');
  });

  test('when a pair key is turned into a Redis key, it is namespaced and versioned', () => {
    const key = redisKey('2533274791381930:Gamertag');

    assert.equal(
      key,
      'fcg:v1:profile:2533274791381930:Gamertag',
      'fcg:v1:profile:<xuid>:<setting>',
    );
  });

  test('when a URL with a password is shown, the password is replaced', () => {
    const shown = withoutPassword('redis://user:s3cret-pass@cache.example.com:6380/1');

    assert.ok(!shown.includes('s3cret'), `no password in '${shown}'`);
    assert.ok(shown.includes('cache.example.com:6380'), 'the host and port remain');
  });
});

describe('Redis level without a server', () => {
  test('when the options are unbounded or negative, the connection and the level refuse to be created', () => {
    const { logger } = capturingLogger();
    const base = { url: 'redis://127.0.0.1:1', timeoutMs: 50, logger };

    assert.throws(() => createRedisConnection({ ...base, timeoutMs: 0 }), TypeError, 'timeout 0');
    assert.throws(
      () => createRedisConnection({ ...base, timeoutMs: 1.5 }),
      TypeError,
      'timeout 1.5',
    );
    const connection = createRedisConnection(base);
    try {
      assert.throws(
        () => createRedisLevel({ connection, lifetimeMs: -1 }),
        TypeError,
        'lifetime -1',
      );
    } finally {
      void connection.close();
    }
  });

  test('when nothing listens at REDIS_URL, reads miss and writes drop at once, the connection is degraded, and no password is logged', async (t) => {
    const { logger, lines } = capturingLogger();
    const url = `redis://:pa55word-xyz@127.0.0.1:${await closedPort()}`;
    const connection = createRedisConnection({ url, timeoutMs: 50, logger });
    const level = createRedisLevel({ connection, lifetimeMs: 1000 });
    t.after(() => connection.close());
    const deadline = performance.now() + 2000;
    while (!lines.some((line) => line.includes('redis degraded'))) {
      assert.ok(performance.now() < deadline, 'the refused connection is logged within 2 s');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }

    const startedAt = performance.now();
    const entries = await level.get(['1:Gamertag', '2:Gamertag']);
    await level.set([['1:Gamertag', { value: 'x', storedAtMs: Date.now() }]]);
    const elapsedMs = performance.now() - startedAt;

    assert.ok(
      entries.every((entry) => entry === undefined),
      'every key is a miss',
    );
    assert.ok(elapsedMs < 50, `offline reads and writes fail at once, took ${elapsedMs} ms`);
    assert.equal(connection.state(), 'degraded', 'the connection reports itself degraded');
    assert.deepEqual(
      level.stats(),
      { reads: 1, failedReads: 1, unreadableValues: 0, writes: 1, droppedWrites: 1 },
      'the failed read and the dropped write are counted',
    );
    assert.ok(!lines.join('').includes('pa55word'), 'the password is never logged');
  });
});
