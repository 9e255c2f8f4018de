// `npm run chaos`: the built gateway under load while the simulator's faults change at random.
//
// Starts the simulator (rate limits off, upstreams 2 ms ± 1) and the gateway (its default
// REQUEST_DEADLINE_MS, LOG_LEVEL=warn, stdout drained) on 127.0.0.1, warms up without faults,
// then drives the gateway with autocannon while a seeded schedule PUTs per-service faults to
// /simulator/faults every few seconds. Every response is checked in autocannon's onResponse hook:
// its status must be one the contract allows, and a 200's cards must not show a profile the
// privacy answer did not allow (checked against the simulator's deterministic population). Exits
// non-zero on a disallowed status, a privacy violation, an unanswered request, a dead gateway or
// RSS growth above 20 % after warm-up; stops every process it started on every exit path.
import { readFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { request } from 'undici';
import { createPopulation } from '../../src/simulator/population.js';
import { mulberry32 } from '../../src/simulator/random.js';
import { authorizationOf, cardsPath, percentile } from '../bench/load.js';
import { killAllNow, ROOT, startService } from '../bench/services.js';
import type { Service } from '../bench/services.js';
import type { ServiceFaults } from '../../src/simulator/faults.js';
import { QUIET_FAULTS } from '../helpers/simulator-server.js';

const SERVICES = ['social', 'profile', 'privacy'] as const;
type ServiceName = (typeof SERVICES)[number];

const POPULATION_SEED = 1;
const POPULATION_SIZE = 5000;
/** XUIDs requests draw from: the first of the population. */
const XUID_POOL_SIZE = 3000;
const XUIDS_PER_REQUEST = 10;
const CALLER_COUNT = 400;
const CONNECTIONS = 16;
const WARMUP_S = 5;
/** Faults change this often (ms). */
const STEP_MS = 4000;
/** A request autocannon waits longer for than this counts as unanswered (s). */
const REQUEST_TIMEOUT_S = 5;
/** The whole run, start to stop, never takes longer than this (ms). */
const HARD_CAP_MS = 120_000;
const MAX_DURATION_S = 90;
const MAX_RSS_GROWTH = 0.2;
const ALLOWED_STATUSES: ReadonlySet<number> = new Set([200, 429, 502, 503, 504]);
const ERROR_STATUSES = [500, 502, 503, 504] as const;

/** One service's settings as PUT to /simulator/faults (every member, so nothing carries over). */
type FaultSettings = ServiceFaults;

/** One step of the schedule: when, and what each service does from then on. */
interface Step {
  readonly atMs: number;
  readonly faults: Record<ServiceName, FaultSettings>;
  readonly label: Record<ServiceName, string>;
}

const QUIET: FaultSettings = { ...QUIET_FAULTS, latencyMs: 2, jitterMs: 1 };

const FAULT_KINDS = ['error', 'hang', 'reset', 'malformed', 'throttle', 'latency'] as const;

/** The fault schedule of `seed`: the same seed always gives the same steps. */
export function faultSchedule(seed: number, durationMs: number): Step[] {
  const random = mulberry32(seed);
  const between = (low: number, high: number): number =>
    Math.round((low + random() * (high - low)) * 100) / 100;
  const steps: Step[] = [];
  for (let atMs = 0; atMs < durationMs; atMs += STEP_MS) {
    const faults = {} as Record<ServiceName, FaultSettings>;
    const label = {} as Record<ServiceName, string>;
    for (const service of SERVICES) {
      // About half of the time a service is quiet.
      if (random() < 0.5) {
        faults[service] = { ...QUIET };
        label[service] = 'none';
        continue;
      }
      const kind = FAULT_KINDS[Math.floor(random() * FAULT_KINDS.length)]!;
      const settings = { ...QUIET };
      switch (kind) {
        case 'error': {
          settings.errorRate = between(0.2, 0.9);
          const statuses = ERROR_STATUSES.filter(() => random() < 0.5);
          settings.errorStatus = statuses.length > 0 ? statuses : [503];
          label[service] = `error ${settings.errorRate} [${settings.errorStatus.join(',')}]`;
          break;
        }
        case 'hang':
          settings.hangRate = between(0.05, 0.4);
          label[service] = `hang ${settings.hangRate}`;
          break;
        case 'reset':
          settings.resetRate = between(0.1, 0.6);
          label[service] = `reset ${settings.resetRate}`;
          break;
        case 'malformed':
          settings.malformedRate = between(0.1, 0.6);
          label[service] = `malformed ${settings.malformedRate}`;
          break;
        case 'throttle':
          settings.throttleRate = between(0.2, 0.9);
          settings.retryAfterSeconds = 1 + Math.floor(random() * 3);
          label[service] =
            `429 ${settings.throttleRate} Retry-After ${settings.retryAfterSeconds}s`;
          break;
        case 'latency':
          settings.latencyMs = 100 + Math.floor(random() * 1200);
          settings.jitterMs = Math.floor(random() * 200);
          label[service] = `latency ${settings.latencyMs}±${settings.jitterMs} ms`;
          break;
      }
      faults[service] = settings;
    }
    steps.push({ atMs, faults, label });
  }
  return steps;
}

interface Options {
  readonly durationS: number;
  readonly seed: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: { duration: { type: 'string' }, seed: { type: 'string' } },
    strict: true,
  });
  const durationS = values.duration === undefined ? 60 : Number(values.duration);
  if (!Number.isInteger(durationS) || durationS < 1 || durationS > MAX_DURATION_S) {
    throw new Error(`--duration must be a whole number from 1 to ${MAX_DURATION_S}`);
  }
  const seed =
    values.seed === undefined ? Math.floor(Math.random() * 0xffff_ffff) : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
    throw new Error('--seed must be a whole number from 0 to 4294967295');
  }
  return { durationS, seed };
}

const population = createPopulation({ seed: POPULATION_SEED, size: POPULATION_SIZE });
const pool = Array.from({ length: XUID_POOL_SIZE }, (_, index) => population.xuidAt(index));
const authorizations = Array.from({ length: CALLER_COUNT }, (_, index) => authorizationOf(index));
const callerXuids = authorizations.map((authorization) =>
  population.callerFor(/x=([^;]+);/.exec(authorization)![1]!),
);

/** What the checker saw. */
const seen = {
  statuses: new Map<number, number>(),
  disallowed: new Map<number, number>(),
  ok: 0,
  partial: 0,
  privacyViolations: [] as string[],
  durations: [] as number[],
};

function violation(text: string): void {
  violationCount += 1;
  if (seen.privacyViolations.length < 20) seen.privacyViolations.push(text);
}
let violationCount = 0;

interface Card {
  xuid: string;
  profileStatus: string;
  profile: unknown;
  permissions: Record<string, { isAllowed?: boolean } | undefined> | null;
}

/** Checks one 200 body against what its caller may see. */
function checkBody(body: string, caller: number, xuids: readonly string[]): void {
  let parsed: { cards?: Card[]; partial?: boolean; errors?: { upstream: string }[] };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    violation(`200 with a body that is not JSON: ${body.slice(0, 80)}`);
    return;
  }
  const cards = parsed.cards ?? [];
  if (cards.length !== xuids.length) {
    violation(`200 with ${cards.length} cards for ${xuids.length} XUIDs`);
  }
  if (parsed.partial === true) seen.partial += 1;
  const privacyFailed = (parsed.errors ?? []).some((error) => error.upstream === 'privacy');
  const callerXuid = callerXuids[caller]!;
  for (const card of cards) {
    if (card.profile === null) continue;
    const problems: string[] = [];
    if (card.profileStatus !== 'ok') problems.push(`profileStatus ${card.profileStatus}`);
    if (privacyFailed) problems.push('errors include privacy');
    if (card.permissions?.ViewTargetProfile?.isAllowed !== true) {
      problems.push('ViewTargetProfile not allowed in permissions');
    }
    if (!population.permission(callerXuid, card.xuid, 'ViewTargetProfile').isAllowed) {
      problems.push(`simulator denies ${callerXuid} → ${card.xuid}`);
    }
    if (problems.length > 0) {
      violation(`profile shown for ${card.xuid}: ${problems.join(', ')}`);
    }
  }
}

/** Per-connection request: the caller and XUIDs of the request in flight (pipelining 1). */
interface InFlight {
  caller: number;
  xuids: string[];
}

function runLoad(
  url: string,
  durationS: number,
  random: () => number,
  check: boolean,
): Promise<autocannon.Result> {
  let nextConnection = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: CONNECTIONS,
        duration: durationS,
        timeout: REQUEST_TIMEOUT_S,
        setupClient(client) {
          const connection = nextConnection++;
          const perConnection = Math.floor(CALLER_COUNT / CONNECTIONS);
          let n = 0;
          const inFlight: InFlight = { caller: 0, xuids: [] };
          client.setRequests([
            {
              method: 'GET',
              setupRequest(req) {
                // No two connections share a caller; each rotates over its own share.
                inFlight.caller = connection + CONNECTIONS * (n++ % perConnection);
                const picked = new Set<string>();
                while (picked.size < XUIDS_PER_REQUEST) {
                  picked.add(pool[Math.floor(random() * pool.length)]!);
                }
                inFlight.xuids = [...picked];
                return {
                  ...req,
                  path: cardsPath(inFlight.xuids),
                  headers: { authorization: authorizations[inFlight.caller]! },
                };
              },
              onResponse(status, body) {
                if (!check) return;
                seen.statuses.set(status, (seen.statuses.get(status) ?? 0) + 1);
                if (!ALLOWED_STATUSES.has(status)) {
                  seen.disallowed.set(status, (seen.disallowed.get(status) ?? 0) + 1);
                  return;
                }
                if (status === 200) {
                  seen.ok += 1;
                  checkBody(body, inFlight.caller, inFlight.xuids);
                }
              },
            },
          ]);
        },
      },
      (error: unknown, done: autocannon.Result) => {
        if (error) reject(error instanceof Error ? error : new Error('autocannon failed'));
        else resolve(done);
      },
    );
    current = instance;
    instance.on('response', (_client, _statusCode, _bytes, responseTime) => {
      if (check) seen.durations.push(responseTime);
    });
  });
}

let current: autocannon.Instance | undefined;

async function putFaults(simulator: Service, faults: Record<ServiceName, FaultSettings>) {
  const { statusCode, body } = await request(`${simulator.url}/simulator/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
  });
  const text = await body.text();
  if (statusCode !== 200) throw new Error(`PUT /simulator/faults answered ${statusCode}: ${text}`);
}

async function readCalls(simulator: Service): Promise<Record<ServiceName, number>> {
  const { body } = await request(`${simulator.url}/simulator/stats`);
  const { calls } = (await body.json()) as { calls: Partial<Record<ServiceName, number>> };
  return { social: calls.social ?? 0, profile: calls.profile ?? 0, privacy: calls.privacy ?? 0 };
}

/** VmRSS of `pid` in kB, from /proc (Linux); undefined where it cannot be read. */
function rssKb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function currentCommit(): string {
  try {
    const git = (args: string[]) =>
      execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' }).trim();
    const commit = git(['rev-parse', '--short', 'HEAD']);
    return git(['status', '--porcelain', '--untracked-files=no']) === ''
      ? commit
      : `${commit} (with uncommitted changes)`;
  } catch {
    return 'unknown';
  }
}

/** A free loopback port, found by listening on port 0 and closing again. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** The gateway child, if started: killed with the bench's services on every exit path. */
let gatewayChild: ChildProcess | undefined;
function killGatewayNow(): void {
  if (gatewayChild?.exitCode === null && gatewayChild.signalCode === null) {
    gatewayChild.kill('SIGKILL');
  }
}
process.once('exit', killGatewayNow);

/**
 * Starts the gateway at LOG_LEVEL=warn, where it logs no listening line: on a free port chosen
 * here, ready once /healthz answers 200; stdout is drained and dropped.
 */
async function startGateway(env: Record<string, string>): Promise<Service> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/server.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  gatewayChild = child;
  child.stdout.resume();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((done) => {
    child.once('exit', () => {
      done();
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`gateway exited before it was ready; stderr: ${stderr.trim() || '(empty)'}`);
    }
    try {
      const { statusCode, body } = await request(`${url}/healthz`);
      await body.dump();
      if (statusCode === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway not ready within 20 s; stderr: ${stderr.trim() || '(empty)'}`);
    }
    await sleep(100);
  }
  let stopping: Promise<void> | undefined;
  return {
    name: 'gateway',
    pid: child.pid ?? -1,
    url,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
const out = (line = '') => process.stdout.write(`${line}\n`);
const mb = (kb: number | undefined) => (kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`);

async function main(): Promise<number> {
  const options = parseOptions();
  const started: Service[] = [];
  const stopAll = async () => {
    current?.stop();
    await Promise.all(started.map((service) => service.stop()));
  };
  /** Stops the load and every started process, then ends this process by `signal`. */
  const stopEverything = (signal: NodeJS.Signals) => {
    current?.stop();
    killGatewayNow();
    killAllNow();
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', () => {
    process.stderr.write('\nSIGINT: stopping\n');
    stopEverything('SIGINT');
  });
  process.once('SIGTERM', () => {
    stopEverything('SIGTERM');
  });
  const hardCap = setTimeout(() => {
    process.stderr.write(`chaos run passed its ${HARD_CAP_MS / 1000} s cap: stopping\n`);
    stopEverything('SIGTERM');
  }, HARD_CAP_MS);
  hardCap.unref();

  try {
    out(
      `chaos run at ${currentCommit()}, seed ${options.seed} (replay: npm run chaos -- --seed ${options.seed} --duration ${options.durationS})`,
    );
    const simulator = await startService(
      'simulator',
      ['dist/simulator.js'],
      {
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        SIM_RATE_LIMIT: 'false',
        SIM_SEED: String(POPULATION_SEED),
        SIM_POPULATION_SIZE: String(POPULATION_SIZE),
        ...Object.fromEntries(
          SERVICES.flatMap((s) => [
            [`SIM_${s.toUpperCase()}_LATENCY_MS`, String(QUIET.latencyMs)],
            [`SIM_${s.toUpperCase()}_JITTER_MS`, String(QUIET.jitterMs)],
          ]),
        ),
      },
      'simulator listening',
    );
    started.push(simulator);
    const gateway = await startGateway({
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      XBL_SOCIAL_URL: simulator.url,
      XBL_PROFILE_URL: simulator.url,
      XBL_PRIVACY_URL: simulator.url,
    });
    started.push(gateway);

    const random = mulberry32(options.seed ^ 0x5eed);
    await putFaults(simulator, { social: QUIET, profile: QUIET, privacy: QUIET });
    await runLoad(gateway.url, WARMUP_S, random, false);
    await sleep(500);
    const rssBefore = rssKb(gateway.pid);
    const callsBefore = await readCalls(simulator);

    const steps = faultSchedule(options.seed, options.durationS * 1000);
    const startedAt = performance.now();
    let gatewayDied = false;
    let faultError: unknown;
    const scheduler = (async () => {
      for (const step of steps) {
        const wait = startedAt + step.atMs - performance.now();
        if (wait > 0) await sleep(wait);
        if (!isAlive(gateway.pid)) gatewayDied = true;
        await putFaults(simulator, step.faults);
      }
    })().catch((error: unknown) => {
      faultError = error;
    });
    const result = await runLoad(gateway.url, options.durationS, random, true);
    await scheduler;
    await putFaults(simulator, { social: QUIET, profile: QUIET, privacy: QUIET });
    await sleep(1000);
    const callsAfter = await readCalls(simulator);
    if (!isAlive(gateway.pid)) gatewayDied = true;
    const rssAfter = rssKb(gateway.pid);

    // Report.
    const sent = result.requests.sent;
    const sorted = seen.durations.sort((a, b) => a - b);
    out();
    out('fault schedule (per service, from the given second):');
    for (const step of steps) {
      out(
        `  t=${String(step.atMs / 1000).padStart(3)}s  ` +
          SERVICES.map((s) => `${s}: ${step.label[s]}`).join('; '),
      );
    }
    out();
    out(
      `requests sent ${sent}, answered ${seen.durations.length}, timeouts ${result.timeouts}, errors ${result.errors}`,
    );
    out(
      `status counts ${JSON.stringify(Object.fromEntries([...seen.statuses].sort(([a], [b]) => a - b)))}`,
    );
    out(
      `partial 200s ${seen.partial} of ${seen.ok} (${((100 * seen.partial) / Math.max(1, seen.ok)).toFixed(1)} %)`,
    );
    out(
      `latency of all answers p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms`,
    );
    out(
      'upstream calls per client request: ' +
        SERVICES.map(
          (s) => `${s} ${((callsAfter[s] - callsBefore[s]) / Math.max(1, sent)).toFixed(3)}`,
        ).join(', '),
    );
    const growth =
      rssBefore !== undefined && rssAfter !== undefined ? rssAfter / rssBefore - 1 : undefined;
    out(
      `gateway RSS after warm-up ${mb(rssBefore)}, after the run ${mb(rssAfter)}` +
        (growth === undefined ? '' : ` (${(growth * 100).toFixed(1)} %)`),
    );
    out(`seed ${options.seed}`);

    const failures: string[] = [];
    if (seen.disallowed.size > 0) {
      failures.push(`disallowed statuses ${JSON.stringify(Object.fromEntries(seen.disallowed))}`);
    }
    if (violationCount > 0) {
      failures.push(
        `${violationCount} privacy or shape violations, e.g.:\n    ${seen.privacyViolations.join('\n    ')}`,
      );
    }
    if (result.timeouts > 0 || result.errors > 0) {
      failures.push(
        `${result.timeouts} requests unanswered in ${REQUEST_TIMEOUT_S} s, ${result.errors} connection errors`,
      );
    }
    if (gatewayDied) failures.push('the gateway process died');
    if (growth !== undefined && growth > MAX_RSS_GROWTH) {
      failures.push(`gateway RSS grew ${(growth * 100).toFixed(1)} % after warm-up`);
    }
    if (faultError !== undefined)
      failures.push(
        `changing faults failed: ${faultError instanceof Error ? faultError.message : 'unknown error'}`,
      );
    out();
    if (failures.length === 0) out('PASS');
    else for (const failure of failures) out(`FAIL: ${failure}`);
    return failures.length === 0 ? 0 : 1;
  } finally {
    await stopAll();
    clearTimeout(hardCap);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `chaos run failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    killAllNow();
    process.exitCode = 1;
  },
);
