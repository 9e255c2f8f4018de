// `npm run bench`: latency and throughput of the built gateway against the simulator, with a
// baseline measured in the same run. Everything stays on 127.0.0.1 and stops by itself.
import autocannon from 'autocannon';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { createPopulation } from '../../src/simulator/population.js';
import { loadSimulatorConfig } from '../../src/simulator/simulator-config.js';
import { startNode } from '../helpers/child-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Simulated latency of social, profile and privacy (ms): BENCH_LATENCY_MS=20,30,40. */
const [SOCIAL_MS, PROFILE_MS, PRIVACY_MS] = (process.env.BENCH_LATENCY_MS ?? '20,30,40')
  .split(',')
  .map(Number);
const SEQUENTIAL_REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const ROUNDS = 3;
const XUIDS_PER_REQUEST = 10;
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);
const LOAD_CONNECTIONS = 32;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

/** Times `count` sequential calls of `once` and returns their durations in ms. */
async function timeSequential(
  count: number,
  once: (i: number) => Promise<void>,
): Promise<number[]> {
  const durations: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const startedAt = performance.now();
    await once(i);
    durations.push(performance.now() - startedAt);
  }
  return durations;
}

async function expectOk(pool: Pool, options: Parameters<Pool['request']>[0]): Promise<void> {
  const { statusCode, body } = await pool.request(options);
  const text = await body.text();
  if (statusCode !== 200)
    throw new Error(`Bench request failed: ${statusCode} ${text.slice(0, 200)}`);
}

async function main(): Promise<void> {
  const simulatorConfig = loadSimulatorConfig({});
  const population = createPopulation(simulatorConfig.population);
  const { authorization } = population.exampleRequest();
  const xuidsFor = (i: number) =>
    Array.from({ length: XUIDS_PER_REQUEST }, (_, k) =>
      population.xuidAt((i * XUIDS_PER_REQUEST + k) % population.size),
    );

  const env = { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn' };
  const simulator = startNode(['dist/simulator.js'], {
    cwd: ROOT,
    env: {
      ...env,
      LOG_LEVEL: 'info',
      SIM_RATE_LIMIT: 'false',
      SIM_SOCIAL_LATENCY_MS: String(SOCIAL_MS),
      SIM_PROFILE_LATENCY_MS: String(PROFILE_MS),
      SIM_PRIVACY_LATENCY_MS: String(PRIVACY_MS),
    },
  });
  const simulatorPort = String((await simulator.waitForLog('simulator listening')).port);
  const simulatorUrl = `http://127.0.0.1:${simulatorPort}`;
  const gateway = startNode(['dist/server.js'], {
    cwd: ROOT,
    env: {
      ...env,
      LOG_LEVEL: 'info',
      XBL_SOCIAL_URL: simulatorUrl,
      XBL_PROFILE_URL: simulatorUrl,
      XBL_PRIVACY_URL: simulatorUrl,
    },
  });
  const gatewayPort = String((await gateway.waitForLog('gateway listening')).port);
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;

  const toGateway = new Pool(gatewayUrl, { connections: LOAD_CONNECTIONS });
  const toSimulator = new Pool(simulatorUrl, { connections: 16 });
  const cardsPath = (xuids: readonly string[]) => `/friends-with-profiles?xuids=${xuids.join(',')}`;
  const headers = { authorization, 'content-type': 'application/json' };

  /** The ideal a client could do alone: the three upstream calls at once, from this process. */
  const direct = (xuids: readonly string[]) =>
    Promise.all([
      expectOk(toSimulator, {
        method: 'POST',
        path: '/users/me/people/xuids',
        headers,
        body: JSON.stringify({ xuids }),
      }),
      expectOk(toSimulator, {
        method: 'POST',
        path: '/users/batch/profile/settings',
        headers: { ...headers, 'x-xbl-contract-version': '2' },
        body: JSON.stringify({
          userIds: xuids,
          settings: ['GameDisplayName', 'GameDisplayPicRaw', 'Gamerscore', 'Gamertag'],
        }),
      }),
      expectOk(toSimulator, {
        method: 'POST',
        path: '/users/me/permission/validate',
        headers,
        body: JSON.stringify({
          users: xuids.map((xuid) => ({ xuid })),
          permissions: ['ViewTargetProfile'],
        }),
      }),
    ]).then(() => undefined);
  const viaGateway = (xuids: readonly string[]) =>
    expectOk(toGateway, { method: 'GET', path: cardsPath(xuids), headers: { authorization } });

  try {
    // Warm up connections and the JIT on both paths.
    await timeSequential(30, (i) => direct(xuidsFor(i)));
    await timeSequential(30, (i) => viaGateway(xuidsFor(i)));

    // Per scenario: every sample, and the median of each round (to show the noise).
    const rows: Record<string, number[]> = { baseline: [], cold: [], warm: [] };
    const samples: Record<string, number[]> = { baseline: [], cold: [], warm: [] };
    const record = (name: string, durations: number[]) => {
      rows[name]!.push(median(durations));
      samples[name]!.push(...durations);
    };
    const warmXuids = xuidsFor(0);
    let offset = 100;
    for (let round = 0; round < ROUNDS; round += 1) {
      const base = offset;
      record(
        'baseline',
        await timeSequential(SEQUENTIAL_REQUESTS, (i) => direct(xuidsFor(base + i))),
      );
      // Cold: XUIDs the gateway has never seen, so the profile upstream is called every time.
      record(
        'cold',
        await timeSequential(SEQUENTIAL_REQUESTS, (i) =>
          viaGateway(xuidsFor(base + SEQUENTIAL_REQUESTS + i)),
        ),
      );
      record('warm', await timeSequential(SEQUENTIAL_REQUESTS, () => viaGateway(warmXuids)));
      offset += 2 * SEQUENTIAL_REQUESTS;
    }
    const baseline = median(samples.baseline!);
    const report = (label: string, name: string) => {
      const all = samples[name]!;
      return `${label.padEnd(40)} p50 ${median(all).toFixed(1).padStart(6)} ms  p90 ${percentile(all, 90).toFixed(1).padStart(6)} ms  p50/baseline ${(median(all) / baseline).toFixed(2)}  round p50s ${rows[name]!.map((v) => v.toFixed(1)).join(' / ')}`;
    };

    const load = await autocannon({
      url: `${gatewayUrl}${cardsPath(warmXuids)}`,
      headers: { authorization },
      connections: LOAD_CONNECTIONS,
      duration: LOAD_SECONDS,
    });

    process.stdout.write(
      [
        `Simulator latency social/profile/privacy: ${SOCIAL_MS}/${PROFILE_MS}/${PRIVACY_MS} ms; ${XUIDS_PER_REQUEST} XUIDs per request; ${SEQUENTIAL_REQUESTS} sequential requests x ${ROUNDS} rounds, p50/p90 over all samples`,
        report('baseline: three direct calls at once', 'baseline'),
        report('gateway, cold cache (3 upstream calls)', 'cold'),
        report('gateway, warm cache (2 upstream calls)', 'warm'),
        `gateway overhead over baseline, cold: ${(median(samples.cold!) - baseline).toFixed(1)} ms`,
        `load, warm cache, ${LOAD_CONNECTIONS} connections x ${LOAD_SECONDS} s: ${load.requests.average.toFixed(0)} req/s, p50 ${load.latency.p50} ms, p99 ${load.latency.p99} ms, non-2xx ${load.non2xx}, errors ${load.errors}`,
      ].join('\n') + '\n',
    );
  } finally {
    await Promise.all([toGateway.close(), toSimulator.close()]);
    gateway.child.kill('SIGTERM');
    simulator.child.kill('SIGTERM');
    await Promise.all([gateway.exited, simulator.exited]);
  }
}

await main();
