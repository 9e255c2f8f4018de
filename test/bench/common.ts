// What both modes of `npm run bench` share: the error that stops a run, progress lines, the
// machine and commit, and what the bench asks its services (simulator counters, readiness,
// sample cards, a warmed cache).
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { request } from 'undici';
import type { Population } from '../../src/simulator/population.js';
import { authorizationOf, cardsPath, HOT_POOL_SIZE } from './load.js';
import type { RunMeasure } from './load.js';
import type { Calls, MachineInfo } from './report.js';
import { ROOT } from './services.js';
import type { Service } from './services.js';

/** Pause after each run so requests cut at its end settle before the counters are read (ms). */
export const SETTLE_MS = 200;

/** Thrown for a bench that cannot give meaningful figures: reported, exit status 1. */
export class BenchError extends Error {
  override readonly name = 'BenchError';
}

export function describeMachine(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown CPU',
    cpuCount: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
  };
}

export function currentCommit(): string {
  try {
    const git = (args: string[]) =>
      execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' }).trim();
    const commit = git(['rev-parse', '--short', 'HEAD']);
    const isDirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
    return isDirty ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return 'unknown';
  }
}

export function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Calls each upstream has received so far, from the simulator's counters. */
export async function readCalls(simulator: Service): Promise<Calls> {
  const { statusCode, body } = await request(`${simulator.url}/simulator/stats`);
  const answer = (await body.json()) as { calls?: Partial<Calls> };
  const calls = answer.calls;
  if (statusCode !== 200 || calls === undefined) {
    throw new BenchError(`The simulator's /simulator/stats answered ${statusCode}`);
  }
  return { social: calls.social ?? 0, profile: calls.profile ?? 0, privacy: calls.privacy ?? 0 };
}

/** GETs a card path as `authorization`; the parsed body, or a BenchError for anything but 200. */
export async function getCards(
  baseUrl: string,
  path: string,
  authorization: string,
): Promise<unknown> {
  const { statusCode, body } = await request(`${baseUrl}${path}`, { headers: { authorization } });
  const text = await body.text();
  if (statusCode !== 200) {
    throw new BenchError(`GET ${baseUrl}${path.slice(0, 60)}… answered ${statusCode}: ${text}`);
  }
  return JSON.parse(text) as unknown;
}

/** Fails the bench when most answers of a run were errors: its figures would mean nothing. */
export function checkMostlyOk(label: string, measure: RunMeasure): void {
  const failed = measure.non2xx + measure.errors;
  if (measure.ok === 0 || failed > measure.ok) {
    throw new BenchError(
      `${label}: only ${measure.ok} of ${measure.sent} requests answered 2xx ` +
        `(status codes ${JSON.stringify(measure.statusCodes)}, ${measure.errors} errors, ` +
        `${measure.timeouts} timeouts)`,
    );
  }
}

/** What a gateway's `/readyz` says of its circuits and (with `REDIS_URL`) of Redis. */
async function readReadiness(
  gateway: Service,
): Promise<{ upstreams: Record<string, { circuit: string }>; redis?: string }> {
  const { body } = await request(`${gateway.url}/readyz`);
  return (await body.json()) as { upstreams: Record<string, { circuit: string }>; redis?: string };
}

/**
 * Stops the bench when a gateway circuit is not closed after a run: an open circuit skips an
 * upstream call, so the run's figures would flatter the gateway instead of measuring it.
 * Resolves to the gateway's Redis state, when it has one.
 */
export async function checkCircuitsClosed(
  gateway: Service,
  label: string,
): Promise<string | undefined> {
  const ready = await readReadiness(gateway);
  const notClosed = Object.entries(ready.upstreams).filter(
    ([, { circuit }]) => circuit !== 'closed',
  );
  if (notClosed.length > 0) {
    throw new BenchError(
      `After ${label.trim()}, circuits are not closed (${notClosed.map(([name, { circuit }]) => `${name}: ${circuit}`).join(', ')}): the figures would not be comparable`,
    );
  }
  return ready.redis;
}

/**
 * Loads the hot pool (the population's `HOT_POOL_SIZE` XUIDs from index `from`) through the
 * gateway, 100 per request, so its cache holds them all.
 */
export async function warmCache(gateway: Service, population: Population, from = 0): Promise<void> {
  for (let start = from; start < from + HOT_POOL_SIZE; start += 100) {
    const xuids = Array.from({ length: 100 }, (_, k) => population.xuidAt(start + k));
    await getCards(gateway.url, cardsPath(xuids), authorizationOf(0));
  }
}
