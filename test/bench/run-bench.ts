// `npm run bench`: throughput and latency of the built gateway against the built-in simulator,
// next to a minimal aggregator (test/bench/baseline-min.ts) measured in the same run.
//
// Per scenario it starts three processes on 127.0.0.1 — the simulator (rate limits off, the
// scenario's latencies), the gateway (dist/server.js, LOG_LEVEL=info, stdout drained) and the
// baseline, all pointed at the simulator — warms them up, then runs baseline and gateway in
// turn (A B A B …) with autocannon, and stops the three processes by PID. Scenarios:
//   latency  1 connection, 10 hot XUIDs per request, upstreams 20/30/40 ms (social/profile/
//            privacy); the slowest upstream (privacy) is also timed directly, to subtract
//   hot      32 connections, 10 distinct XUIDs per request drawn Zipf-like (s = 1) from a pool
//            of 1,000, upstreams 5 ms, the gateway's cache warmed with the whole pool first
//   cold     32 connections, 10 XUIDs per request that the gateway has never seen (the
//            simulator's population is raised to 1,000,000 for it), upstreams 5 ms
//   wide     32 connections, 100 distinct hot-pool XUIDs per request, upstreams 5 ms
// Requests rotate over 512 callers (distinct Authorization userhashes), each connection with
// its own share, so no two requests in flight share a caller. The simulator's GET
// /simulator/stats gives upstream calls per client request.
//
// Options (after `npm run bench --`):
//   --quick              2 rounds of 1 s per target, 1 s warm-up: a smoke run under a minute
//   --rounds <n>         rounds per scenario (default 5: a median that shrugs off a noisy round)
//   --duration <s>       seconds per measured run (default 3)
//   --scenario <list>    comma-separated subset of latency,hot,cold,wide (default all)
//   --replicas <n>       instead of the scenarios above, n gateway replicas (2 to 4) on one
//                        simulator, without Redis and sharing one redis-server (test/bench/
//                        replicas.ts); --rounds, --duration and --quick apply, --scenario not
//   --json <path>        where the JSON results go (default bench-results/bench-<time>.json)
//   --help
// Output: the machine, then Markdown tables on stdout; progress on stderr; JSON to the file.
// Exits non-zero when most answers of any run are errors.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isDeepStrictEqual } from 'node:util';
import { createPopulation } from '../../src/simulator/population.js';
import { hasRedisServer } from '../helpers/redis-server.js';
import {
  BenchError,
  checkCircuitsClosed,
  checkMostlyOk,
  currentCommit,
  describeMachine,
  getCards,
  progress,
  readCalls,
  SETTLE_MS,
  sleep,
  warmCache,
} from './common.js';
import {
  authorizationOf,
  cardsPath,
  coldStream,
  createCursor,
  hotLists,
  hotStream,
  runLoad,
  stopLoad,
  timeDirect,
} from './load.js';
import type { Cursor, DirectCall, RequestStream, RunMeasure } from './load.js';
import { formatReplicaReport } from './replica-report.js';
import type { ReplicaBenchOptions, ReplicaReport } from './replica-report.js';
import { REPLICA_GATEWAY_SETTINGS, runReplicas } from './replicas.js';
import { formatReport, summariseRounds } from './report.js';
import type {
  BenchOptions,
  BenchReport,
  Calls,
  RoundRecord,
  RunRecord,
  ScenarioName,
  ScenarioResult,
  ScenarioSpec,
  UpstreamName,
} from './report.js';
import { killAllNow, ROOT, startService } from './services.js';
import type { Service } from './services.js';

const FIVE_MS: Calls = { social: 5, profile: 5, privacy: 5 };
const SCENARIOS: readonly ScenarioSpec[] = [
  {
    name: 'latency',
    load: '1 conn, 10 hot XUIDs, 20/30/40 ms',
    latencyMs: { social: 20, profile: 30, privacy: 40 },
    connections: 1,
    xuidsPerRequest: 10,
    xuids: 'hot',
    populationSize: 5000,
    timesSlowest: true,
  },
  {
    name: 'hot',
    load: '32 conn, 10 hot XUIDs, 5 ms',
    latencyMs: FIVE_MS,
    connections: 32,
    xuidsPerRequest: 10,
    xuids: 'hot',
    populationSize: 5000,
    timesSlowest: false,
  },
  {
    name: 'cold',
    load: '32 conn, 10 new XUIDs, 5 ms',
    latencyMs: FIVE_MS,
    connections: 32,
    xuidsPerRequest: 10,
    xuids: 'cold',
    populationSize: 1_000_000,
    timesSlowest: false,
  },
  {
    name: 'wide',
    load: '32 conn, 100 hot XUIDs, 5 ms',
    latencyMs: FIVE_MS,
    connections: 32,
    xuidsPerRequest: 100,
    xuids: 'hot',
    populationSize: 5000,
    timesSlowest: false,
  },
];

/** Long enough that the hot pool, cached once, stays fresh for the whole run (default 60 s). */
const PROFILE_CACHE_TTL_MS = 600_000;
/** Cold XUIDs: the gateway's never repeat; the baseline's (no cache) may, far apart. */
const COLD_BASELINE_SHARE = 0.1;
/** Privacy's body in the gateway's words: the permission that gates profiles. */
const CHECKED_PERMISSIONS = ['ViewTargetProfile'];

const USAGE = `Usage: npm run bench -- [--quick] [--rounds <n>] [--duration <s>]
                        [--scenario latency,hot,cold,wide | --replicas <n>] [--json <path>]
  --replicas <n>  instead of the scenarios, n gateway replicas (2 to 4) on one simulator, without
                  Redis and sharing one redis-server: profile calls per hot request when the cache
                  was warmed through replica 1 only, and a cold request's latency (docs/benchmarks.md)
`;

/** What to run: the usual scenarios, or the replica scenarios. */
type BenchPlan =
  | { readonly mode: 'scenarios'; readonly options: BenchOptions }
  | { readonly mode: 'replicas'; readonly options: ReplicaBenchOptions };

function parseOptions(argv: readonly string[]): BenchPlan | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      scenario: { type: 'string' },
      replicas: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return undefined;
  }
  const quick = values.quick;
  const rounds = wholeNumber('--rounds', values.rounds, quick ? 2 : 5, 1, 20);
  const durationS = wholeNumber('--duration', values.duration, quick ? 1 : 3, 1, 60);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  if (values.replicas !== undefined) {
    if (values.scenario !== undefined) {
      throw new BenchError('Cannot combine --replicas with --scenario: they run different setups');
    }
    const options: ReplicaBenchOptions = {
      quick,
      replicas: wholeNumber('--replicas', values.replicas, 2, 2, 4),
      rounds,
      durationS,
      warmupS: quick ? 1 : 2,
      jsonPath: resolve(values.json ?? `${ROOT}bench-results/bench-replicas-${stamp}.json`),
    };
    return { mode: 'replicas', options };
  }
  const known = SCENARIOS.map((s) => s.name);
  const scenarios = (values.scenario ?? known.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of scenarios) {
    if (!known.includes(name as ScenarioName)) {
      throw new BenchError(`Unknown scenario '${name}'; known: ${known.join(', ')}`);
    }
  }
  return {
    mode: 'scenarios',
    options: {
      quick,
      rounds,
      durationS,
      warmupS: quick ? 1 : 2,
      scenarios: scenarios as ScenarioName[],
      jsonPath: resolve(values.json ?? `${ROOT}bench-results/bench-${stamp}.json`),
    },
  };
}

function wholeNumber(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BenchError(`${name} must be a whole number from ${min} to ${max} (got '${raw}')`);
  }
  return value;
}

/** Runs `stream` against `target` and counts the upstream calls it caused. */
async function measure(
  label: string,
  simulator: Service,
  target: Service,
  stream: RequestStream,
  connections: number,
  durationS: number,
): Promise<RunRecord> {
  const before = await readCalls(simulator);
  const run = await runLoad(target.url, stream, connections, durationS);
  await sleep(SETTLE_MS);
  const after = await readCalls(simulator);
  checkMostlyOk(label, run);
  const per = (name: UpstreamName) => (after[name] - before[name]) / Math.max(1, run.sent);
  const record = {
    ...run,
    upstreamCallsPerRequest: {
      social: per('social'),
      profile: per('profile'),
      privacy: per('privacy'),
    },
  };
  const failed = run.non2xx + run.errors;
  progress(
    `  ${label}: ${run.reqPerS.toFixed(0)} req/s, p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms` +
      (failed > 0 ? `, ${failed} failed ${JSON.stringify(run.statusCodes)}` : ''),
  );
  return record;
}

/** Starts the scenario's simulator, gateway and baseline, all on loopback. */
async function startServices(spec: ScenarioSpec, started: Service[]): Promise<Service[]> {
  const loopback = { HOST: '127.0.0.1', PORT: '0' };
  const simulator = await startService(
    'simulator',
    ['dist/simulator.js'],
    {
      ...loopback,
      LOG_LEVEL: 'info',
      SIM_RATE_LIMIT: 'false',
      SIM_POPULATION_SIZE: String(spec.populationSize),
      SIM_SOCIAL_LATENCY_MS: String(spec.latencyMs.social),
      SIM_PROFILE_LATENCY_MS: String(spec.latencyMs.profile),
      SIM_PRIVACY_LATENCY_MS: String(spec.latencyMs.privacy),
    },
    'simulator listening',
  );
  started.push(simulator);
  const aggregators = await Promise.all([
    startService(
      'gateway',
      ['dist/server.js'],
      {
        ...loopback,
        ...GATEWAY_SETTINGS,
        XBL_SOCIAL_URL: simulator.url,
        XBL_PROFILE_URL: simulator.url,
        XBL_PRIVACY_URL: simulator.url,
      },
      'gateway listening',
    ),
    startService(
      'baseline',
      ['--import', 'tsx', 'test/bench/baseline-min.ts'],
      { ...loopback, UPSTREAM_URL: simulator.url },
      'baseline listening',
    ),
  ]);
  started.push(...aggregators);
  return [simulator, ...aggregators];
}

/** The settings the gateway runs with besides its addresses; everything else is its default. */
const GATEWAY_SETTINGS = {
  LOG_LEVEL: 'info',
  PROFILE_CACHE_TTL_MS: String(PROFILE_CACHE_TTL_MS),
};

async function runScenario(spec: ScenarioSpec, options: BenchOptions): Promise<ScenarioResult> {
  progress(`${spec.name}: ${spec.load}`);
  const population = createPopulation({ seed: 1, size: spec.populationSize });
  const started: Service[] = [];
  try {
    const [simulator, gateway, baseline] = (await startServices(spec, started)) as [
      Service,
      Service,
      Service,
    ];

    let gatewayStream: RequestStream;
    let baselineStream: RequestStream;
    let sample: string[];
    let coldCursor: Cursor | undefined;
    let lists: string[][] = [];
    if (spec.xuids === 'hot') {
      lists = hotLists(population, spec.xuidsPerRequest);
      gatewayStream = baselineStream = hotStream(lists);
      sample = lists[0]!;
      await warmCache(gateway, population);
    } else {
      // Regular XUIDs only (the population's last 8 are the large ones).
      const regular = spec.populationSize - 8;
      const split = Math.floor(regular * (1 - COLD_BASELINE_SHARE));
      coldCursor = createCursor(0, split);
      gatewayStream = coldStream(population, coldCursor, spec.xuidsPerRequest);
      baselineStream = coldStream(population, createCursor(split, regular), spec.xuidsPerRequest);
      sample = coldCursor.next(spec.xuidsPerRequest).map((index) => population.xuidAt(index));
    }

    // Same request, same answer: the baseline does the gateway's work, no less.
    const [fromGateway, fromBaseline] = await Promise.all([
      getCards(gateway.url, cardsPath(sample), authorizationOf(1)),
      getCards(baseline.url, cardsPath(sample), authorizationOf(1)),
    ]);
    const outputsMatch = isDeepStrictEqual(fromGateway, fromBaseline);
    if (!outputsMatch) progress(`  warning: baseline and gateway answer the sample differently`);

    // The slowest upstream alone: privacy with the body the gateway sends it.
    const directCall = (n: number): DirectCall => ({
      path: '/users/me/permission/validate',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: authorizationOf(n % 512),
        'x-requestedserviceversion': '1',
        'x-xbl-contract-version': '1',
      },
      body: JSON.stringify({
        users: lists[n % lists.length]!.map((xuid) => ({ xuid })),
        permissions: CHECKED_PERMISSIONS,
      }),
    });

    // Warm-up: JIT, connections, and for cold a first share of the gateway's cache misses.
    await runLoad(baseline.url, baselineStream, spec.connections, options.warmupS);
    await runLoad(gateway.url, gatewayStream, spec.connections, options.warmupS);
    if (spec.timesSlowest) await timeDirect(simulator.url, directCall, options.warmupS);
    await sleep(SETTLE_MS);

    const rounds: RoundRecord[] = [];
    for (let round = 1; round <= options.rounds; round += 1) {
      const label = (who: string) => `${spec.name} round ${round}/${options.rounds} ${who}`;
      let direct: RunMeasure | undefined;
      if (spec.timesSlowest) {
        direct = await timeDirect(simulator.url, directCall, options.durationS);
        checkMostlyOk(label('privacy direct'), direct);
        progress(
          `  ${label('privacy direct')}: p50 ${direct.p50.toFixed(1)} ms, p99 ${direct.p99.toFixed(1)} ms`,
        );
      }
      const { connections } = spec;
      const { durationS } = options;
      const baselineRun = await measure(
        label('baseline'),
        simulator,
        baseline,
        baselineStream,
        connections,
        durationS,
      );
      const gatewayRun = await measure(
        label('gateway'),
        simulator,
        gateway,
        gatewayStream,
        connections,
        durationS,
      );
      await checkCircuitsClosed(gateway, label('gateway'));
      rounds.push({
        ...(direct === undefined ? {} : { direct }),
        baseline: baselineRun,
        gateway: gatewayRun,
      });
    }
    return {
      spec,
      rounds,
      medians: summariseRounds(rounds),
      outputsMatch,
      ...(coldCursor === undefined ? {} : { coldXuidsRanOut: coldCursor.wrapped > 0 }),
    };
  } finally {
    await Promise.all(started.map((service) => service.stop()));
  }
}

async function main(): Promise<void> {
  const plan = parseOptions(process.argv.slice(2));
  if (plan === undefined) return;
  if (plan.mode === 'replicas') {
    await mainReplicas(plan.options);
    return;
  }
  const { options } = plan;
  const startedAt = new Date();
  const machine = describeMachine();
  const specs = SCENARIOS.filter((spec) => options.scenarios.includes(spec.name));

  // A hard bound on the whole run, whatever hangs: about twice the plan.
  const runsPerRound = specs.reduce((sum, spec) => sum + (spec.timesSlowest ? 3 : 2), 0);
  const planS =
    specs.length * (3 + 3 * options.warmupS) +
    options.rounds * runsPerRound * (options.durationS + 1);
  const watchdog = setTimeout(
    () => {
      progress(`The bench exceeded its time bound of ${2 * planS + 60} s; stopping.`);
      stopEverything('SIGTERM');
    },
    (2 * planS + 60) * 1000,
  );
  watchdog.unref();

  const scenarios: ScenarioResult[] = [];
  for (const spec of specs) scenarios.push(await runScenario(spec, options));
  clearTimeout(watchdog);

  const report: BenchReport = {
    commit: currentCommit(),
    startedAt: startedAt.toISOString(),
    elapsedS: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    machine,
    options,
    gatewaySettings: GATEWAY_SETTINGS,
    scenarios,
  };
  mkdirSync(dirname(options.jsonPath), { recursive: true });
  writeFileSync(options.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(formatReport(report));
  process.stdout.write(`\nJSON: ${options.jsonPath}\n`);
}

/** `--replicas <n>`: the replica scenarios, with a time bound of their own. */
async function mainReplicas(options: ReplicaBenchOptions): Promise<void> {
  const startedAt = new Date();
  const machine = describeMachine();
  const hasRedis = hasRedisServer();
  if (!hasRedis) {
    progress(
      'SKIPPED: the configuration with Redis — redis-server is not installed ' +
        '(apt-get install redis-server); measuring the replicas without Redis only',
    );
  }
  const configurations = hasRedis ? 2 : 1;
  // Starts, then per configuration a warm-up (hot and cold) and per round a hot and a cold run.
  const planS =
    15 +
    configurations * (2 * options.warmupS + 3) +
    options.rounds * configurations * 2 * (options.durationS + 2);
  const watchdog = setTimeout(
    () => {
      progress(`The bench exceeded its time bound of ${2 * planS + 60} s; stopping.`);
      stopEverything('SIGTERM');
    },
    (2 * planS + 60) * 1000,
  );
  watchdog.unref();
  const results = await runReplicas(options, hasRedis);
  clearTimeout(watchdog);

  const report: ReplicaReport = {
    commit: currentCommit(),
    startedAt: startedAt.toISOString(),
    elapsedS: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    machine,
    options,
    gatewaySettings: REPLICA_GATEWAY_SETTINGS,
    ...results,
  };
  mkdirSync(dirname(options.jsonPath), { recursive: true });
  writeFileSync(options.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(formatReplicaReport(report));
  process.stdout.write(`\nJSON: ${options.jsonPath}\n`);
}

/** Stops the load and every started process, then ends this process by `signal`. */
function stopEverything(signal: NodeJS.Signals): void {
  stopLoad();
  killAllNow();
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
}

process.once('SIGINT', () => {
  stopEverything('SIGINT');
});
process.once('SIGTERM', () => {
  stopEverything('SIGTERM');
});

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  const message = error instanceof BenchError ? error.message : (error as Error).stack;
  process.stderr.write(`npm run bench failed: ${message ?? String(error)}\n`);
}
