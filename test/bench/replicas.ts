// `npm run bench -- --replicas <n>`: n gateway replicas on one simulator, in two configurations
// measured in the same run — each replica with its own cache only, and all sharing one real
// redis-server — to show what the shared cache saves (profile calls per request when the hot
// pool was loaded through one replica only) and what it costs (a cold request's latency).
//
// Started on 127.0.0.1 and stopped by PID at the end: the simulator (rate limits off, upstreams
// 5 ms, a population of 1,000,000), redis-server (free port, temporary directory, nothing saved;
// left out, loudly, when it is not installed) and n gateways per configuration. Every round runs,
// per configuration in turn: a new hot pool loaded through replica 1, the hot load split
// round-robin over the replicas request by request (as a balancer would, not connection by
// connection: autocannon binds a connection to one target, and then each replica's share follows
// its share of the CPU), then cold requests one at a time alternating over them.
import { isDeepStrictEqual } from 'node:util';
import { createPopulation } from '../../src/simulator/population.js';
import type { Population } from '../../src/simulator/population.js';
import {
  checkCircuitsClosed,
  checkMostlyOk,
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
  HOT_POOL_SIZE,
  hotLists,
  hotStream,
  timeRoundRobin,
} from './load.js';
import type { RequestStream, RunMeasure } from './load.js';
import { summariseReplicaRounds } from './replica-report.js';
import type {
  ReplicaBenchOptions,
  ReplicaConfigName,
  ReplicaConfigResult,
  ReplicaRound,
} from './replica-report.js';
import type { RunRecord, UpstreamName } from './report.js';
import { startRedis, startService } from './services.js';
import type { Service } from './services.js';

/** Closed-loop workers of the hot load, as the hot scenario's 32 connections. */
const HOT_CONNECTIONS = 32;
const XUIDS_PER_REQUEST = 10;
const POPULATION_SIZE = 1_000_000;
const UPSTREAM_LATENCY_MS = 5;
/** Cold XUIDs come from here on, one range per configuration; hot pools lie below. */
const COLD_FROM = 500_000;

/** The settings every replica runs with besides its addresses (and REDIS_URL with Redis). */
export const REPLICA_GATEWAY_SETTINGS = {
  LOG_LEVEL: 'info',
  // The hot pool, loaded once per round, stays fresh for the whole round.
  PROFILE_CACHE_TTL_MS: '600000',
};

/** One configuration's replicas and the XUIDs of its cold requests. */
interface Configuration {
  readonly name: ReplicaConfigName;
  readonly gateways: readonly Service[];
  readonly coldStream: RequestStream;
  readonly rounds: ReplicaRound[];
}

/** What a replica run measured, for the report. */
export interface ReplicaResults {
  readonly hotConnections: number;
  readonly redisServer: boolean;
  readonly configurations: readonly ReplicaConfigResult[];
  readonly sampleMismatch?: string;
}

/** Runs `run` and divides the upstream calls the simulator counted meanwhile by the requests. */
async function withCalls(
  label: string,
  simulator: Service,
  run: () => Promise<RunMeasure>,
): Promise<RunRecord> {
  const before = await readCalls(simulator);
  const measured = await run();
  await sleep(SETTLE_MS);
  const after = await readCalls(simulator);
  checkMostlyOk(label, measured);
  const per = (name: UpstreamName) => (after[name] - before[name]) / Math.max(1, measured.sent);
  const failed = measured.non2xx + measured.errors;
  const record = {
    ...measured,
    upstreamCallsPerRequest: {
      social: per('social'),
      profile: per('profile'),
      privacy: per('privacy'),
    },
  };
  progress(
    `  ${label}: ${measured.reqPerS.toFixed(0)} req/s, p50 ${measured.p50.toFixed(1)} ms, ` +
      `p99 ${measured.p99.toFixed(1)} ms, ` +
      `profile calls per request ${record.upstreamCallsPerRequest.profile.toFixed(2)}` +
      (failed > 0 ? `, ${failed} failed ${JSON.stringify(measured.statusCodes)}` : ''),
  );
  return record;
}

/** Starts `count` gateways on `simulator`, with `REDIS_URL` when `redisUrl` is given. */
function startGateways(
  count: number,
  simulator: Service,
  redisUrl: string | undefined,
  started: Service[],
): Promise<Service[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const gateway = await startService(
        'gateway',
        ['dist/server.js'],
        {
          HOST: '127.0.0.1',
          PORT: '0',
          ...REPLICA_GATEWAY_SETTINGS,
          XBL_SOCIAL_URL: simulator.url,
          XBL_PROFILE_URL: simulator.url,
          XBL_PRIVACY_URL: simulator.url,
          ...(redisUrl === undefined ? {} : { REDIS_URL: redisUrl }),
        },
        'gateway listening',
      );
      started.push(gateway);
      return gateway;
    }),
  );
}

/** The hot pool of round `round` (0: the warm-up's): `HOT_POOL_SIZE` XUIDs no round shares. */
function hotPoolFrom(round: number): number {
  return round * HOT_POOL_SIZE;
}

/**
 * Asks every replica of every configuration for the same cards: with Redis a replica serves
 * profiles another one fetched, and they must be the very cards an upstream call gives.
 */
async function compareSample(
  configurations: readonly Configuration[],
  sample: readonly string[],
): Promise<string | undefined> {
  const answers = await Promise.all(
    configurations.flatMap((c) =>
      c.gateways.map(async (gateway, index) => ({
        who: `${c.name} replica ${index + 1}`,
        cards: await getCards(gateway.url, cardsPath(sample), authorizationOf(1)),
      })),
    ),
  );
  const first = answers[0]!;
  const differing = answers.find((answer) => !isDeepStrictEqual(answer.cards, first.cards));
  return differing === undefined
    ? undefined
    : `${differing.who} answered a sample request differently from ${first.who}`;
}

/** One configuration's runs of one round (round 0: the warm-up, not recorded). */
async function runRound(
  c: Configuration,
  simulator: Service,
  population: Population,
  round: number,
  options: ReplicaBenchOptions,
): Promise<{ hot: RunRecord; redisStates: string[] }> {
  const isWarmUp = round === 0;
  const durationS = isWarmUp ? options.warmupS : options.durationS;
  const label = (what: string) =>
    `${isWarmUp ? 'warm-up' : `round ${round}/${options.rounds}`} ${c.name} ${what}`;
  const urls = c.gateways.map((gateway) => gateway.url);
  const stream = hotStream(hotLists(population, XUIDS_PER_REQUEST, 7, hotPoolFrom(round)));

  await warmCache(c.gateways[0]!, population, hotPoolFrom(round));
  // Lets replica 1's writes to Redis land and its leases go before the others ask.
  await sleep(SETTLE_MS);
  const hot = await withCalls(label('hot'), simulator, () =>
    timeRoundRobin(urls, stream, durationS, HOT_CONNECTIONS),
  );
  const redisStates: string[] = [];
  for (const gateway of c.gateways) {
    const state = await checkCircuitsClosed(gateway, label('hot'));
    if (state !== undefined) redisStates.push(state);
  }
  return { hot, redisStates };
}

/** The cold requests of one configuration in one round. */
async function runCold(
  c: Configuration,
  simulator: Service,
  label: string,
  durationS: number,
): Promise<RunRecord> {
  const urls = c.gateways.map((gateway) => gateway.url);
  const cold = await withCalls(label, simulator, () =>
    timeRoundRobin(urls, c.coldStream, durationS),
  );
  for (const gateway of c.gateways) await checkCircuitsClosed(gateway, label);
  return cold;
}

/** Runs the replica scenarios; every process it starts is stopped by PID before it returns. */
export async function runReplicas(
  options: ReplicaBenchOptions,
  hasRedis: boolean,
): Promise<ReplicaResults> {
  const names: ReplicaConfigName[] = hasRedis ? ['without Redis', 'with Redis'] : ['without Redis'];
  progress(
    `replicas: ${options.replicas} gateways per configuration (${names.join(', ')}), ` +
      `upstreams ${UPSTREAM_LATENCY_MS} ms`,
  );
  const population = createPopulation({ seed: 1, size: POPULATION_SIZE });
  const started: Service[] = [];
  try {
    const simulator = await startService(
      'simulator',
      ['dist/simulator.js'],
      {
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        SIM_RATE_LIMIT: 'false',
        SIM_POPULATION_SIZE: String(POPULATION_SIZE),
        SIM_SOCIAL_LATENCY_MS: String(UPSTREAM_LATENCY_MS),
        SIM_PROFILE_LATENCY_MS: String(UPSTREAM_LATENCY_MS),
        SIM_PRIVACY_LATENCY_MS: String(UPSTREAM_LATENCY_MS),
      },
      'simulator listening',
    );
    started.push(simulator);
    let redisUrl: string | undefined;
    if (hasRedis) {
      const redis = await startRedis();
      started.push(redis);
      redisUrl = redis.url;
      progress(`  redis-server ${redis.url} (PID ${redis.pid})`);
    }

    // Regular XUIDs only (the population's last 8 are the large ones).
    const coldShare = Math.floor((POPULATION_SIZE - 8 - COLD_FROM) / names.length);
    const configurations: Configuration[] = [];
    for (const [index, name] of names.entries()) {
      const from = COLD_FROM + index * coldShare;
      configurations.push({
        name,
        gateways: await startGateways(
          options.replicas,
          simulator,
          name === 'with Redis' ? redisUrl : undefined,
          started,
        ),
        coldStream: coldStream(population, createCursor(from, from + coldShare), XUIDS_PER_REQUEST),
        rounds: [],
      });
    }

    // Warm-up (JIT, connections, Redis): round 0's pool, not recorded; then one sample compared.
    for (const c of configurations) {
      await runRound(c, simulator, population, 0, options);
      await runCold(c, simulator, `warm-up ${c.name} cold`, options.warmupS);
    }
    const sampleMismatch = await compareSample(
      configurations,
      hotLists(population, XUIDS_PER_REQUEST, 7, hotPoolFrom(0))[0]!,
    );
    if (sampleMismatch !== undefined) progress(`  warning: ${sampleMismatch}`);

    for (let round = 1; round <= options.rounds; round += 1) {
      const hot = new Map<Configuration, { hot: RunRecord; redisStates: string[] }>();
      for (const c of configurations) {
        hot.set(c, await runRound(c, simulator, population, round, options));
      }
      for (const c of configurations) {
        const cold = await runCold(
          c,
          simulator,
          `round ${round}/${options.rounds} ${c.name} cold`,
          options.durationS,
        );
        const { hot: hotRun, redisStates } = hot.get(c)!;
        c.rounds.push({
          hot: hotRun,
          cold,
          ...(c.name === 'with Redis' ? { redisStates } : {}),
        });
      }
    }
    return {
      hotConnections: HOT_CONNECTIONS,
      redisServer: hasRedis,
      configurations: configurations.map((c) => summariseReplicaRounds(c.name, c.rounds)),
      ...(sampleMismatch === undefined ? {} : { sampleMismatch }),
    };
  } finally {
    await Promise.all(started.map((service) => service.stop()));
  }
}
