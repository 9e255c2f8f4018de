// Results of `npm run bench` and how they are shown: medians over rounds, Markdown tables.
import type { RunMeasure } from './load.js';

export type ScenarioName = 'latency' | 'hot' | 'cold' | 'wide';
export type UpstreamName = 'social' | 'profile' | 'privacy';
export type Calls = Readonly<Record<UpstreamName, number>>;

/** What one scenario sends and against what upstream latencies. */
export interface ScenarioSpec {
  readonly name: ScenarioName;
  /** Short description for the table. */
  readonly load: string;
  readonly latencyMs: Calls;
  readonly connections: number;
  readonly xuidsPerRequest: number;
  readonly xuids: 'hot' | 'cold';
  readonly populationSize: number;
  /** Also time the slowest upstream directly, to subtract it from the aggregators' latency. */
  readonly timesSlowest: boolean;
}

/** One aggregator's run, with the upstream calls it caused per client request. */
export interface RunRecord extends RunMeasure {
  readonly upstreamCallsPerRequest: Calls;
}

/** One round: the direct upstream timing (latency only), the baseline, then the gateway. */
export interface RoundRecord {
  readonly direct?: RunMeasure;
  readonly baseline: RunRecord;
  readonly gateway: RunRecord;
}

/** A scenario's rounds and medians over them. */
export interface ScenarioResult {
  readonly spec: ScenarioSpec;
  readonly rounds: readonly RoundRecord[];
  /** Whether baseline and gateway gave the same cards for a sample request. */
  readonly outputsMatch: boolean;
  readonly medians: ScenarioMedians;
  /** Cold only: whether the gateway's never-seen XUIDs ran out (then some repeated). */
  readonly coldXuidsRanOut?: boolean;
}

/** Everything a run produced; what goes to the JSON file. */
export interface BenchReport {
  readonly commit: string;
  readonly startedAt: string;
  readonly elapsedS: number;
  readonly machine: MachineInfo;
  readonly options: BenchOptions;
  readonly gatewaySettings: Readonly<Record<string, string>>;
  readonly scenarios: readonly ScenarioResult[];
}

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly loadAverage: readonly number[];
}

export interface BenchOptions {
  readonly quick: boolean;
  readonly rounds: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly scenarios: readonly ScenarioName[];
  readonly jsonPath: string;
}

/** Medians of one aggregator's runs. */
export interface AggregatorMedians {
  readonly reqPerS: number;
  readonly p50: number;
  readonly p99: number;
  readonly upstreamCallsPerRequest: Calls;
  /** Non-2xx answers and connection errors, summed over rounds. */
  readonly failed: number;
}

/** A scenario's figures: medians over rounds, and ratios taken round by round. */
export interface ScenarioMedians {
  readonly baseline: AggregatorMedians;
  readonly gateway: AggregatorMedians;
  /** Gateway req/s ÷ baseline req/s of the same round: median, lowest, highest. */
  readonly ratio: { readonly median: number; readonly min: number; readonly max: number };
  /** Gateway latency minus baseline latency of the same round (ms). */
  readonly gatewayOverBaselineMs: { readonly p50: number; readonly p99: number };
  /** Latency only: the slowest upstream timed directly (ms). */
  readonly direct?: { readonly p50: number; readonly p99: number };
  /** Latency only: each aggregator's latency minus the slowest upstream's, same round (ms). */
  readonly overSlowestMs?: {
    readonly baseline: { readonly p50: number; readonly p99: number };
    readonly gateway: { readonly p50: number; readonly p99: number };
  };
}

/** Median; the mean of the middle two for an even count. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Medians of one aggregator's runs; failures summed. */
export function aggregatorMedians(runs: readonly RunRecord[]): AggregatorMedians {
  const of = (pick: (run: RunRecord) => number) => median(runs.map(pick));
  return {
    reqPerS: of((run) => run.reqPerS),
    p50: of((run) => run.p50),
    p99: of((run) => run.p99),
    upstreamCallsPerRequest: {
      social: of((run) => run.upstreamCallsPerRequest.social),
      profile: of((run) => run.upstreamCallsPerRequest.profile),
      privacy: of((run) => run.upstreamCallsPerRequest.privacy),
    },
    failed: runs.reduce((sum, run) => sum + run.non2xx + run.errors, 0),
  };
}

/** Medians over the rounds of one scenario; differences and ratios pair runs of one round. */
export function summariseRounds(rounds: readonly RoundRecord[]): ScenarioMedians {
  const of = (pick: (round: RoundRecord) => number) => median(rounds.map(pick));
  const ratios = rounds.map((round) => round.gateway.reqPerS / round.baseline.reqPerS);
  const directs = rounds.flatMap((round) => (round.direct === undefined ? [] : [round]));
  const overDirect = (who: 'baseline' | 'gateway') => ({
    p50: median(directs.map((round) => round[who].p50 - round.direct!.p50)),
    p99: median(directs.map((round) => round[who].p99 - round.direct!.p99)),
  });
  return {
    baseline: aggregatorMedians(rounds.map((round) => round.baseline)),
    gateway: aggregatorMedians(rounds.map((round) => round.gateway)),
    ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
    gatewayOverBaselineMs: {
      p50: of((round) => round.gateway.p50 - round.baseline.p50),
      p99: of((round) => round.gateway.p99 - round.baseline.p99),
    },
    ...(directs.length === 0
      ? {}
      : {
          direct: {
            p50: median(directs.map((round) => round.direct!.p50)),
            p99: median(directs.map((round) => round.direct!.p99)),
          },
          overSlowestMs: { baseline: overDirect('baseline'), gateway: overDirect('gateway') },
        }),
  };
}

/** A Markdown table with padded columns, so it reads well raw too. */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((cell, i) =>
    Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length), 3),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export const ms = (value: number) => value.toFixed(1);
export const signedMs = (value: number) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(1)}`;
export const calls = (value: Calls) =>
  [value.social, value.profile, value.privacy].map((n) => n.toFixed(2)).join(' / ');

/** The machine, the main table, the latency table and notes, as Markdown. */
export function formatReport(report: BenchReport): string {
  const { machine, options } = report;
  const out: string[] = [];
  out.push(
    `Commit ${report.commit}, ${report.startedAt}, ${report.elapsedS} s.`,
    `Machine: ${machine.cpuCount} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}, ` +
      `Node ${machine.node}; load average at start ${machine.loadAverage.join(' / ')}.`,
    `The load generator (autocannon, in the bench process), the simulator, the gateway and the ` +
      `baseline are separate processes sharing these same ${machine.cpuCount} cores: compare the ` +
      `gateway with the baseline of the same run rather than absolute figures across machines.`,
    `${options.rounds} rounds of ${options.durationS} s per target and scenario after a ` +
      `${options.warmupS} s warm-up, baseline and gateway interleaved; medians over rounds.`,
    '',
  );
  out.push(
    markdownTable(
      [
        'scenario',
        'load',
        'baseline req/s',
        'gateway req/s',
        'gateway / baseline',
        'baseline p50 / p99 ms',
        'gateway p50 / p99 ms',
        'gateway upstream calls per request (social / profile / privacy)',
        'failed (baseline / gateway)',
      ],
      report.scenarios.map(({ spec, medians: m }) => [
        spec.name,
        spec.load,
        m.baseline.reqPerS.toFixed(0),
        m.gateway.reqPerS.toFixed(0),
        `${m.ratio.median.toFixed(2)} (${m.ratio.min.toFixed(2)}–${m.ratio.max.toFixed(2)})`,
        `${ms(m.baseline.p50)} / ${ms(m.baseline.p99)}`,
        `${ms(m.gateway.p50)} / ${ms(m.gateway.p99)}`,
        calls(m.gateway.upstreamCallsPerRequest),
        `${m.baseline.failed} / ${m.gateway.failed}`,
      ]),
    ),
  );
  const latency = report.scenarios.find((s) => s.medians.direct !== undefined);
  if (latency?.medians.direct !== undefined && latency.medians.overSlowestMs !== undefined) {
    const {
      direct,
      overSlowestMs: over,
      baseline,
      gateway,
      gatewayOverBaselineMs,
    } = latency.medians;
    const { social, profile, privacy } = latency.spec.latencyMs;
    out.push(
      '',
      `Latency (${latency.spec.connections} connection, upstreams ${social}/${profile}/${privacy} ms; ` +
        `the slowest, privacy, called directly with the same body in the same rounds):`,
      '',
      markdownTable(
        ['', 'p50 ms', 'p99 ms', 'p50 over privacy', 'p99 over privacy'],
        [
          ['privacy called directly', ms(direct.p50), ms(direct.p99), '', ''],
          [
            'baseline',
            ms(baseline.p50),
            ms(baseline.p99),
            signedMs(over.baseline.p50),
            signedMs(over.baseline.p99),
          ],
          [
            'gateway',
            ms(gateway.p50),
            ms(gateway.p99),
            signedMs(over.gateway.p50),
            signedMs(over.gateway.p99),
          ],
          [
            'gateway − baseline',
            '',
            '',
            signedMs(gatewayOverBaselineMs.p50),
            signedMs(gatewayOverBaselineMs.p99),
          ],
        ],
      ),
    );
  }
  const settings = Object.entries(report.gatewaySettings)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  out.push(
    '',
    `- req/s counts 2xx answers; p50/p99 are exact latencies of 2xx answers as the load ` +
      `generator saw them. gateway / baseline divides each round's gateway req/s by the same ` +
      `round's baseline req/s: median (lowest–highest) over rounds. The req/s columns are medians ` +
      `of each side on its own, so in noisy rounds they need not divide to it. Differences in ms ` +
      `also pair runs of the same round.`,
    `- Gateway: dist/server.js with its defaults and ${settings} (so the hot pool, cached once ` +
      `before hot, wide and latency, stays fresh throughout), stdout drained and discarded.`,
    `- Hot pool: the simulator's first 1,000 XUIDs drawn Zipf-like (s = 1); cold: 10 XUIDs per ` +
      `request the gateway has never seen, from a population of 1,000,000. Requests rotate over ` +
      `512 callers, no two in flight sharing one.`,
    `- Baseline upstream calls per request: ` +
      report.scenarios
        .map((s) => `${s.spec.name} ${calls(s.medians.baseline.upstreamCallsPerRequest)}`)
        .join('; ') +
      ' (social / profile / privacy).',
  );
  for (const scenario of report.scenarios) {
    if (!scenario.outputsMatch) {
      out.push(
        `- Warning: in ${scenario.spec.name}, baseline and gateway answered a sample request differently.`,
      );
    }
    if (scenario.coldXuidsRanOut === true) {
      out.push(
        `- Warning: in ${scenario.spec.name}, never-seen XUIDs ran out; later requests repeated some.`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}
