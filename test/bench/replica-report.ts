// Results of `npm run bench -- --replicas <n>` and how they are shown: per configuration (without
// Redis, with one shared Redis) medians over rounds, Redis's cost paired round by round.
import { aggregatorMedians, calls, markdownTable, median, ms, signedMs } from './report.js';
import type { AggregatorMedians, MachineInfo, RunRecord } from './report.js';

/** The two ways the replicas run: each with its own cache only, or all sharing one Redis. */
export type ReplicaConfigName = 'without Redis' | 'with Redis';

export interface ReplicaBenchOptions {
  readonly quick: boolean;
  readonly replicas: number;
  readonly rounds: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly jsonPath: string;
}

/** One round of one configuration: the hot pool split over the replicas, then cold requests. */
export interface ReplicaRound {
  readonly hot: RunRecord;
  readonly cold: RunRecord;
  /** The replicas' `/readyz` Redis state after the round's runs (with Redis only). */
  readonly redisStates?: readonly string[];
}

/** A configuration's rounds and medians over them. */
export interface ReplicaConfigResult {
  readonly name: ReplicaConfigName;
  readonly rounds: readonly ReplicaRound[];
  readonly hot: AggregatorMedians;
  readonly cold: AggregatorMedians;
  /** 2xx hot answers per replica, summed over rounds. */
  readonly hotOkPerReplica: readonly number[];
  /** Rounds after which some replica reported Redis degraded. */
  readonly roundsWithRedisDegraded: number;
}

/** Everything a replica run produced; what goes to the JSON file. */
export interface ReplicaReport {
  readonly commit: string;
  readonly startedAt: string;
  readonly elapsedS: number;
  readonly machine: MachineInfo;
  readonly options: ReplicaBenchOptions;
  readonly gatewaySettings: Readonly<Record<string, string>>;
  readonly hotConnections: number;
  /** False when redis-server was missing: the Redis configuration was left out. */
  readonly redisServer: boolean;
  readonly configurations: readonly ReplicaConfigResult[];
  /** Why the cards of a sample request differed between replicas or configurations, if they did. */
  readonly sampleMismatch?: string;
}

/** A configuration's figures from its rounds. */
export function summariseReplicaRounds(
  name: ReplicaConfigName,
  rounds: readonly ReplicaRound[],
): ReplicaConfigResult {
  const hotOkPerReplica: number[] = [];
  for (const round of rounds) {
    (round.hot.okPerTarget ?? []).forEach((ok, index) => {
      hotOkPerReplica[index] = (hotOkPerReplica[index] ?? 0) + ok;
    });
  }
  return {
    name,
    rounds,
    hot: aggregatorMedians(rounds.map((round) => round.hot)),
    cold: aggregatorMedians(rounds.map((round) => round.cold)),
    hotOkPerReplica,
    roundsWithRedisDegraded: rounds.filter((round) =>
      (round.redisStates ?? []).some((state) => state !== 'ok'),
    ).length,
  };
}

/** Each replica's share of `okPerReplica`, in whole per cent: "50 / 50 %". */
export function splitOf(okPerReplica: readonly number[]): string {
  const total = okPerReplica.reduce((sum, ok) => sum + ok, 0);
  if (total === 0) return 'none';
  return `${okPerReplica.map((ok) => ((100 * ok) / total).toFixed(0)).join(' / ')} %`;
}

/**
 * The cold p50 with Redis minus without, paired round by round (the two configurations' cold
 * runs of one round ran one after the other): median over rounds; undefined without Redis.
 */
export function redisColdCostMs(
  configurations: readonly ReplicaConfigResult[],
): { readonly p50: number; readonly p99: number } | undefined {
  const without = configurations.find((c) => c.name === 'without Redis');
  const withRedis = configurations.find((c) => c.name === 'with Redis');
  if (without === undefined || withRedis === undefined) return undefined;
  const pairs = withRedis.rounds.map((round, index) => [round.cold, without.rounds[index]!.cold]);
  return {
    p50: median(pairs.map(([r, w]) => r!.p50 - w!.p50)),
    p99: median(pairs.map(([r, w]) => r!.p99 - w!.p99)),
  };
}

/** The headline, the table and notes, as Markdown. */
export function formatReplicaReport(report: ReplicaReport): string {
  const { machine, options, configurations } = report;
  const n = options.replicas;
  const out: string[] = [];
  out.push(
    `Commit ${report.commit}, ${report.startedAt}, ${report.elapsedS} s.`,
    `Machine: ${machine.cpuCount} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}, ` +
      `Node ${machine.node}; load average at start ${machine.loadAverage.join(' / ')}.`,
    `${n} gateway replicas per configuration on one simulator (upstreams 5 ms), the load ` +
      `generator, the simulator${report.redisServer ? ' and redis-server' : ''} sharing these ` +
      `${machine.cpuCount} cores. ${options.rounds} rounds of ${options.durationS} s per run after ` +
      `a ${options.warmupS} s warm-up, configurations interleaved; medians over rounds.`,
    '',
  );
  if (!report.redisServer) {
    out.push(
      `**redis-server is not installed: the configuration with Redis was SKIPPED** ` +
        `(apt-get install redis-server).`,
      '',
    );
  }
  const headline = configurations
    .map((c) => `${c.hot.upstreamCallsPerRequest.profile.toFixed(2)} ${c.name}`)
    .join(', ');
  out.push(`**Profile calls per hot request, cache warmed through replica 1 only: ${headline}.**`);
  const cost = redisColdCostMs(configurations);
  const coldLine = configurations.map((c) => `${ms(c.cold.p50)} ms ${c.name}`).join(', ');
  out.push(
    `Cold request alone (10 new XUIDs, one request at a time): p50 ${coldLine}` +
      (cost === undefined
        ? '.'
        : `; Redis adds ${signedMs(cost.p50)} ms at p50, ${signedMs(cost.p99)} ms at p99 ` +
          `(paired by round).`),
    '',
  );
  out.push(
    markdownTable(
      [
        'configuration',
        `hot req/s (${report.hotConnections} in flight)`,
        'hot p50 / p99 ms',
        'hot profile calls per request',
        'hot upstream calls per request (social / profile / privacy)',
        'hot answers per replica',
        'cold p50 / p99 ms (1 at a time)',
        'cold profile calls per request',
        'failed (hot / cold)',
      ],
      configurations.map((c) => [
        c.name,
        c.hot.reqPerS.toFixed(0),
        `${ms(c.hot.p50)} / ${ms(c.hot.p99)}`,
        c.hot.upstreamCallsPerRequest.profile.toFixed(2),
        calls(c.hot.upstreamCallsPerRequest),
        splitOf(c.hotOkPerReplica),
        `${ms(c.cold.p50)} / ${ms(c.cold.p99)}`,
        c.cold.upstreamCallsPerRequest.profile.toFixed(2),
        `${c.hot.failed} / ${c.cold.failed}`,
      ]),
    ),
  );
  const settings = Object.entries(report.gatewaySettings)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  out.push(
    '',
    `- Hot: ${report.hotConnections} requests in flight, split round-robin request by request ` +
      `over the ${n} replicas, 10 ` +
      `XUIDs per request drawn Zipf-like from a pool of 1,000 that is new in every round and was ` +
      `loaded through replica 1 alone just before; without Redis the other replicas fetch it ` +
      `again, so their share of profile calls falls as they fill and depends on the run's length.`,
    `- Cold: 10 XUIDs per request no gateway has seen, one request at a time, alternating ` +
      `replicas; the difference is what a miss pays for Redis (the L2 read, the leases, the ` +
      `gate check before each upstream call).`,
    `- Gateways: dist/server.js with its defaults and ${settings}` +
      (report.redisServer ? `, plus REDIS_URL of one redis-server for "with Redis".` : '.'),
  );
  for (const c of configurations) {
    if (c.roundsWithRedisDegraded > 0) {
      out.push(
        `- Warning: ${c.name}, a replica reported Redis degraded after ` +
          `${c.roundsWithRedisDegraded} of ${c.rounds.length} rounds (operations past REDIS_TIMEOUT_MS count as misses).`,
      );
    }
  }
  if (report.sampleMismatch !== undefined) {
    out.push(`- Warning: ${report.sampleMismatch}.`);
  }
  return `${out.join('\n')}\n`;
}
