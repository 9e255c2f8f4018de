// What `npm run bench` sends and how it measures: request streams (hot pool, cold XUIDs, rotating
// callers), one autocannon run with exact per-response latencies, direct upstream timing, and
// closed-loop requests alternating over replicas.
import autocannon from 'autocannon';
import { Pool } from 'undici';
import type { Population } from '../../src/simulator/population.js';
import { mulberry32 } from '../../src/simulator/random.js';

/** Distinct callers requests rotate over; each connection owns its own share of them. */
export const CALLER_COUNT = 512;
/** The hot pool: the first XUIDs of the simulator's population. */
export const HOT_POOL_SIZE = 1000;
/** Zipf exponent of draws from the hot pool. */
const ZIPF_S = 1;
/** Precomputed XUID lists per hot stream; connections walk it from different offsets. */
const HOT_LIST_COUNT = 4096;
/** How long one client request may take before autocannon counts a timeout (s). */
const REQUEST_TIMEOUT_S = 5;

/** One client request: which path, as whom. */
export interface BenchRequest {
  readonly path: string;
  readonly authorization: string;
}

/** Gives connection `connection` its `n`-th request. */
export type RequestStream = (connection: number, connections: number, n: number) => BenchRequest;

/** `XBL3.0 x=<userhash>;<token>` of caller `index`; the simulator maps any userhash to a player. */
export function authorizationOf(index: number): string {
  return `XBL3.0 x=${String(2_000_000_000_000_000_000n + BigInt(index))};bench-xsts-token`;
}

/** The caller of connection `connection`'s `n`-th request: no two connections share a caller. */
function callerOf(connection: number, connections: number, n: number): number {
  const perConnection = Math.max(1, Math.floor(CALLER_COUNT / connections));
  return connection + connections * (n % perConnection);
}

/** The card path for `xuids`. */
export function cardsPath(xuids: readonly string[]): string {
  return `/friends-with-profiles?xuids=${xuids.join(',')}`;
}

/**
 * Lists of `perRequest` distinct XUIDs drawn Zipf-like from the hot pool (rank k has weight
 * 1/k^s), the same for every run so gateway and baseline get identical work. The pool is the
 * population's `HOT_POOL_SIZE` XUIDs from index `from` (by default its first ones).
 */
export function hotLists(
  population: Population,
  perRequest: number,
  seed = 7,
  from = 0,
): string[][] {
  const weights = Array.from({ length: HOT_POOL_SIZE }, (_, k) => 1 / (k + 1) ** ZIPF_S);
  const total = weights.reduce((sum, w) => sum + w, 0);
  const cumulative: number[] = [];
  let sum = 0;
  for (const weight of weights) cumulative.push((sum += weight / total));
  const random = mulberry32(seed);
  const draw = (): number => {
    const u = random();
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (cumulative[mid]! < u) low = mid + 1;
      else high = mid;
    }
    return low;
  };
  const pool = Array.from({ length: HOT_POOL_SIZE }, (_, index) => population.xuidAt(from + index));
  return Array.from({ length: HOT_LIST_COUNT }, () => {
    const picked = new Set<number>();
    while (picked.size < perRequest) picked.add(draw());
    return [...picked].map((index) => pool[index]!);
  });
}

/** Hot requests: precomputed lists, each connection starting at its own offset. */
export function hotStream(lists: readonly (readonly string[])[]): RequestStream {
  const paths = lists.map(cardsPath);
  return (connection, connections, n) => {
    const offset = Math.floor((paths.length / connections) * connection);
    return {
      path: paths[(offset + n) % paths.length]!,
      authorization: authorizationOf(callerOf(connection, connections, n)),
    };
  };
}

/** A run of population indexes handed out in order; `wrapped` tells when it started over. */
export interface Cursor {
  next(count: number): number[];
  readonly wrapped: number;
  readonly used: number;
}

/** Indexes `from` … `to - 1`, each handed out once until the range is used up, then again. */
export function createCursor(from: number, to: number): Cursor {
  let position = from;
  let wrapped = 0;
  let used = 0;
  return {
    next(count) {
      if (position + count > to) {
        position = from;
        wrapped += 1;
      }
      const indexes = Array.from({ length: count }, (_, k) => position + k);
      position += count;
      used += count;
      return indexes;
    },
    get wrapped() {
      return wrapped;
    },
    get used() {
      return used;
    },
  };
}

/** Cold requests: the next `perRequest` XUIDs of `cursor` on every request. */
export function coldStream(
  population: Population,
  cursor: Cursor,
  perRequest: number,
): RequestStream {
  return (connection, connections, n) => ({
    path: cardsPath(cursor.next(perRequest).map((index) => population.xuidAt(index))),
    authorization: authorizationOf(callerOf(connection, connections, n)),
  });
}

/** What one measured run gave. */
export interface RunMeasure {
  readonly durationS: number;
  /** Requests sent, answered or not. */
  readonly sent: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly statusCodes: Readonly<Record<string, number>>;
  /** 2xx answers per second. */
  readonly reqPerS: number;
  /** Latency of 2xx answers (ms), exact rather than autocannon's whole-millisecond histogram. */
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  /** With several targets (timeRoundRobin) only: 2xx answers of each, in the targets' order. */
  readonly okPerTarget?: readonly number[];
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

function summarise(
  durations: number[],
  fields: Omit<RunMeasure, 'p50' | 'p99' | 'mean' | 'reqPerS'>,
): RunMeasure {
  const sorted = durations.sort((a, b) => a - b);
  const mean = sorted.reduce((sum, d) => sum + d, 0) / Math.max(1, sorted.length);
  return {
    ...fields,
    reqPerS: fields.ok / Math.max(fields.durationS, 0.001),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean,
  };
}

/** The autocannon instance running now, so a signal can stop it. */
let current: autocannon.Instance | undefined;

/** Stops the autocannon run in progress, if any. */
export function stopLoad(): void {
  current?.stop();
}

/** Drives `baseUrl` with `stream` over `connections` keep-alive connections for `durationS`. */
export async function runLoad(
  baseUrl: string,
  stream: RequestStream,
  connections: number,
  durationS: number,
): Promise<RunMeasure> {
  const durations: number[] = [];
  let nextConnection = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: baseUrl,
        connections,
        duration: durationS,
        timeout: REQUEST_TIMEOUT_S,
        // Each connection gets its own request sequence, hence its own callers.
        setupClient(client) {
          const connection = nextConnection++;
          let n = 0;
          client.setRequests([
            {
              method: 'GET',
              setupRequest(request) {
                const next = stream(connection, connections, n++);
                return {
                  ...request,
                  path: next.path,
                  headers: { authorization: next.authorization },
                };
              },
            },
          ]);
        },
      },
      (error: unknown, done: autocannon.Result) => {
        current = undefined;
        if (error) reject(error instanceof Error ? error : new Error('autocannon failed'));
        else resolve(done);
      },
    );
    current = instance;
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) durations.push(responseTime);
    });
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) {
    statusCodes[code] = count ?? 0;
  }
  return summarise(durations, {
    durationS: result.duration,
    sent: result.requests.sent,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
  });
}

/** One direct upstream call: path, headers and body. */
export interface DirectCall {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Times calls made one after another over an undici Pool of one connection for `durationS`:
 * what one upstream costs on its own, to subtract from the aggregators' latency.
 */
export async function timeDirect(
  baseUrl: string,
  nextCall: (n: number) => DirectCall,
  durationS: number,
): Promise<RunMeasure> {
  const pool = new Pool(baseUrl, { connections: 1 });
  const durations: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let sent = 0;
  const startedAt = performance.now();
  const endAt = startedAt + durationS * 1000;
  try {
    while (performance.now() < endAt) {
      const call = nextCall(sent);
      sent += 1;
      const callStartedAt = performance.now();
      try {
        const { statusCode, body } = await pool.request({ method: 'POST', ...call });
        await body.text();
        const elapsed = performance.now() - callStartedAt;
        statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
        if (statusCode === 200) durations.push(elapsed);
      } catch {
        errors += 1;
      }
    }
  } finally {
    await pool.close();
  }
  const ok = statusCodes[200] ?? 0;
  return summarise(durations, {
    durationS: (performance.now() - startedAt) / 1000,
    sent,
    ok,
    non2xx: sent - ok - errors,
    errors,
    timeouts: 0,
    statusCodes,
  });
}

/**
 * Drives `baseUrls` with `stream` for `durationS` from `concurrency` closed-loop workers, each
 * sending one request at a time and alternating targets (worker w's k-th request goes to target
 * (w + k) mod n), so the targets share the requests evenly, interleaved, whatever their speed —
 * as a round-robin load balancer would. Keep-alive undici Pools, one per target; exact latencies.
 */
export async function timeRoundRobin(
  baseUrls: readonly string[],
  stream: RequestStream,
  durationS: number,
  concurrency = 1,
): Promise<RunMeasure> {
  const pools = baseUrls.map((url) => new Pool(url, { connections: concurrency }));
  const durations: number[] = [];
  const statusCodes: Record<string, number> = {};
  const okPerTarget = baseUrls.map(() => 0);
  let errors = 0;
  let sent = 0;
  const startedAt = performance.now();
  const endAt = startedAt + durationS * 1000;
  async function work(worker: number): Promise<void> {
    for (let k = 0; performance.now() < endAt; k += 1) {
      const target = (worker + k) % pools.length;
      const next = stream(worker, concurrency, k);
      sent += 1;
      const requestStartedAt = performance.now();
      try {
        const { statusCode, body } = await pools[target]!.request({
          method: 'GET',
          path: next.path,
          headers: { authorization: next.authorization },
          headersTimeout: REQUEST_TIMEOUT_S * 1000,
          bodyTimeout: REQUEST_TIMEOUT_S * 1000,
        });
        await body.text();
        const elapsed = performance.now() - requestStartedAt;
        statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
        if (statusCode >= 200 && statusCode < 300) {
          durations.push(elapsed);
          okPerTarget[target]! += 1;
        }
      } catch {
        errors += 1;
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, (_, worker) => work(worker)));
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
  }
  const ok = durations.length;
  return summarise(durations, {
    durationS: (performance.now() - startedAt) / 1000,
    sent,
    ok,
    non2xx: sent - ok - errors,
    errors,
    timeouts: 0,
    statusCodes,
    ...(baseUrls.length > 1 ? { okPerTarget } : {}),
  });
}
