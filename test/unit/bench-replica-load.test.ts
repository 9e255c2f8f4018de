import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timeRoundRobin } from '../bench/load.js';
import type { RequestStream, RunMeasure } from '../bench/load.js';
import { redisColdCostMs, splitOf, summariseReplicaRounds } from '../bench/replica-report.js';
import type { ReplicaRound } from '../bench/replica-report.js';

/** A loopback server answering 200 after `delayMs`, recording the paths it was asked for. */
async function recordingServer(t: TestContext, delayMs = 0) {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    setTimeout(() => res.end('{}'), delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths };
}

const numbered: RequestStream = (connection, _connections, n) => ({
  path: `/r?c=${connection}&n=${n}`,
  authorization: 'XBL3.0 x=1;token',
});

/** A run record with the given latencies and profile calls per request. */
function run(p50: number, p99: number, profile: number, okPerTarget?: number[]) {
  const measure: RunMeasure = {
    durationS: 1,
    sent: 100,
    ok: 100,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    statusCodes: { 200: 100 },
    reqPerS: 100,
    p50,
    p99,
    mean: p50,
    ...(okPerTarget === undefined ? {} : { okPerTarget }),
  };
  return { ...measure, upstreamCallsPerRequest: { social: 1, profile, privacy: 1 } };
}

describe('replica bench load', () => {
  test('when one request is timed at a time over two replicas, they alternate and share evenly', async (t) => {
    const first = await recordingServer(t);
    const second = await recordingServer(t);

    const measured = await timeRoundRobin([first.url, second.url], numbered, 1);

    assert.ok(measured.ok >= 4, `several answers in 1 s (got ${measured.ok})`);
    assert.equal(measured.ok, measured.sent, 'every request answered 200');
    assert.ok(
      first.paths.every((path, i) => path.endsWith(`&n=${2 * i}`)),
      `replica 1 got the even requests, in order: ${first.paths.slice(0, 5).join(' ')}`,
    );
    assert.ok(
      second.paths.every((path, i) => path.endsWith(`&n=${2 * i + 1}`)),
      `replica 2 got the odd requests, in order: ${second.paths.slice(0, 5).join(' ')}`,
    );
    assert.ok(
      Math.abs(first.paths.length - second.paths.length) <= 1,
      'the two counts differ by at most one',
    );
    assert.deepEqual(
      measured.okPerTarget,
      [first.paths.length, second.paths.length],
      'answers per replica as the servers counted them',
    );
  });

  test('when several workers run over two slow-and-fast replicas, the requests still split evenly', async (t) => {
    const slow = await recordingServer(t, 20);
    const fast = await recordingServer(t, 0);

    const measured = await timeRoundRobin([slow.url, fast.url], numbered, 1, 4);

    const [okSlow = 0, okFast = 0] = measured.okPerTarget ?? [];
    assert.equal(okSlow + okFast, measured.ok, 'per-target answers add up to all answers');
    assert.ok(okSlow >= 4, `the slow replica answered several (${okSlow})`);
    assert.ok(
      Math.abs(okSlow - okFast) <= 4,
      `each of 4 workers alternates, so the shares differ by at most 4 (${okSlow} / ${okFast})`,
    );
    const workersOf = (paths: string[]) =>
      [...new Set(paths.map((path) => /c=(\d+)/.exec(path)?.[1]))].sort();
    assert.deepEqual(workersOf(slow.paths), ['0', '1', '2', '3'], 'every worker reaches replica 1');
    assert.deepEqual(workersOf(fast.paths), ['0', '1', '2', '3'], 'every worker reaches replica 2');
  });
});

describe('replica bench report', () => {
  test('when rounds are summarised, per-replica answers add up and Redis cost pairs rounds', () => {
    const without: ReplicaRound[] = [
      { hot: run(10, 30, 0.4, [60, 40]), cold: run(9, 20, 1) },
      { hot: run(12, 32, 0.3, [50, 50]), cold: run(10, 40, 1) },
    ];
    const withRedis: ReplicaRound[] = [
      { hot: run(11, 31, 0, [50, 50]), cold: run(12, 25, 1), redisStates: ['ok', 'ok'] },
      { hot: run(11, 31, 0.02, [50, 50]), cold: run(14, 30, 1), redisStates: ['ok', 'degraded'] },
    ];

    const a = summariseReplicaRounds('without Redis', without);
    const b = summariseReplicaRounds('with Redis', withRedis);

    assert.deepEqual(a.hotOkPerReplica, [110, 90], 'hot answers per replica summed over rounds');
    assert.equal(splitOf(a.hotOkPerReplica), '55 / 45 %', 'the split in whole per cent');
    assert.ok(
      Math.abs(a.hot.upstreamCallsPerRequest.profile - 0.35) < 1e-9,
      'median profile calls',
    );
    assert.equal(b.roundsWithRedisDegraded, 1, 'one round ended with a replica degraded');
    assert.deepEqual(
      redisColdCostMs([a, b]),
      { p50: 3.5, p99: -2.5 },
      'cold p50/p99 with Redis minus without, round by round, median',
    );
    assert.equal(redisColdCostMs([a]), undefined, 'no Redis configuration, no cost');
  });
});
