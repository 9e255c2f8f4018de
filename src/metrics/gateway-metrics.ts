import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SHED_REASONS } from '../http/load-shedding.js';
import type { ShedReason } from '../http/load-shedding.js';
import type { HttpRequestObserver } from '../http/request-metrics.js';
import type { ProfileCacheObserver } from '../profile-cache/cache-observer.js';
import type { ProfileCacheSize } from '../profile-cache/memory-level.js';
import { CALL_OUTCOMES } from '../upstreams/policies/metrics.js';
import { registerScaleOutMetrics } from './scale-out-metrics.js';
import type { ScaleOutSources } from './scale-out-metrics.js';
import type { CallOutcome, UpstreamCallObserver } from '../upstreams/policies/metrics.js';
import type { CircuitStateName } from '../upstreams/upstream-circuit.js';
import type { UpstreamName } from '../xbl-vocabulary.js';

const UPSTREAM_NAMES: readonly UpstreamName[] = ['social', 'profile', 'privacy'];

/** Card requests end within `REQUEST_DEADLINE_MS` (1 s by default): fine below it, coarse past. */
const HTTP_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5];

/** One upstream attempt takes from a few milliseconds to `UPSTREAM_TIMEOUT_MS` (1 s by default). */
const UPSTREAM_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1];

/** `upstream_circuit_state`'s values: the further from closed, the higher. */
const CIRCUIT_STATE_VALUES: Readonly<Record<CircuitStateName, number>> = {
  closed: 0,
  'half-open': 1,
  open: 2,
};

/** Options of `createGatewayMetrics`: what the gauges read at scrape time. */
export interface GatewayMetricsOptions {
  /** Node's process metrics (CPU, memory, heap, event loop lag, GC): on in a real server. */
  readonly processMetrics: boolean;
  readonly circuitStates: () => Readonly<Record<UpstreamName, CircuitStateName>>;
  /** Size of the in-process profile cache level. */
  readonly cacheSize: () => ProfileCacheSize;
  /** Profile cache levels behind L1 (Redis among them): their hits are exported at 0 from the start. */
  readonly sharedCacheLevels?: number;
  /** Redis and the rate limit, whose counters are read at scrape time; absent parts export nothing. */
  readonly scaleOut?: ScaleOutSources;
}

/**
 * The gateway's metrics: one prom-client registry per gateway (never the library's global one,
 * so a process may hold several gateways), and the plain observers the layers report to.
 */
export interface GatewayMetrics {
  readonly registry: Registry;
  /** The Prometheus text format's content type. */
  readonly contentType: string;
  /** Every metric in the text format, gauges read now. */
  render(): Promise<string>;
  readonly http: HttpRequestObserver;
  readonly cache: ProfileCacheObserver;
  /** The observer of one upstream's calls, its series bound once. */
  upstream(name: UpstreamName): UpstreamCallObserver;
  /** Counts one shed card request. */
  shed(reason: ShedReason): void;
}

/** The series one (route, method, status) reports to, bound once. */
interface HttpSeries {
  readonly requests: Counter.Internal;
  readonly duration: Histogram.Internal<'route' | 'status_class'>;
}

/** The series one (upstream, outcome) reports to, bound once. */
interface UpstreamSeries {
  readonly calls: Counter.Internal;
  readonly duration: Histogram.Internal<'upstream' | 'outcome'>;
}

/** Creates the registry and every metric of the gateway. */
export function createGatewayMetrics(options: GatewayMetricsOptions): GatewayMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const http = httpMetrics(registers);
  const upstream = upstreamMetrics(registers, options.circuitStates);
  const cache = cacheMetrics(registers, options.cacheSize, options.sharedCacheLevels ?? 0);
  registerScaleOutMetrics(registers, options.scaleOut ?? {});
  const shedTotal = new Counter({
    name: 'http_requests_shed_total',
    help: 'Card requests answered 503 overloaded without any upstream call, by reason',
    labelNames: ['reason'],
    registers,
  });
  const shedSeries = new Map(SHED_REASONS.map((reason) => [reason, shedTotal.labels(reason)]));
  for (const series of shedSeries.values()) series.inc(0);

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    http,
    cache,
    upstream,
    shed: (reason) => {
      shedSeries.get(reason)?.inc();
    },
  };
}

function httpMetrics(registers: Registry[]): HttpRequestObserver {
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route pattern (or unmatched), method and status',
    labelNames: ['route', 'method', 'status'],
    registers,
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from a request arriving to its connection closing, by route pattern and status class',
    labelNames: ['route', 'status_class'],
    buckets: HTTP_BUCKETS_SECONDS,
    registers,
  });
  let started = 0;
  let finished = 0;
  new Gauge({
    name: 'http_requests_in_flight',
    help: 'HTTP requests arrived and not yet answered, this scrape included',
    registers,
    collect() {
      this.set(started - finished);
    },
  });

  // Route → method → status → series: three map reads per request, no label hashing of ours.
  const byRoute = new Map<string, Map<string, Map<number, HttpSeries>>>();
  function seriesOf(route: string, method: string, status: number): HttpSeries {
    let byMethod = byRoute.get(route);
    if (!byMethod) byRoute.set(route, (byMethod = new Map<string, Map<number, HttpSeries>>()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map<number, HttpSeries>()));
    let series = byStatus.get(status);
    if (!series) {
      series = {
        requests: requests.labels(route, method, String(status)),
        duration: duration.labels(route, `${String(Math.floor(status / 100))}xx`),
      };
      byStatus.set(status, series);
    }
    return series;
  }

  return {
    requestStarted: () => {
      started += 1;
    },
    requestFinished: (route, method, status, seconds) => {
      finished += 1;
      const series = seriesOf(route, method, status);
      series.requests.inc();
      series.duration.observe(seconds);
    },
  };
}

function upstreamMetrics(
  registers: Registry[],
  circuitStates: GatewayMetricsOptions['circuitStates'],
): (name: UpstreamName) => UpstreamCallObserver {
  const calls = new Counter({
    name: 'upstream_calls_total',
    help: 'Upstream call attempts by outcome; held-back (throttled) and circuit_open ones are not sent',
    labelNames: ['upstream', 'outcome'],
    registers,
  });
  const duration = new Histogram({
    name: 'upstream_call_duration_seconds',
    help: 'Time of one upstream call attempt, bulkhead wait included, by outcome',
    labelNames: ['upstream', 'outcome'],
    buckets: UPSTREAM_BUCKETS_SECONDS,
    registers,
  });
  const retries = new Counter({
    name: 'upstream_retries_total',
    help: 'Upstream calls sent again after a transient failure',
    labelNames: ['upstream'],
    registers,
  });
  new Gauge({
    name: 'upstream_circuit_state',
    help: "Each upstream's circuit: 0 closed, 1 half-open (or open and due for a probe), 2 open",
    labelNames: ['upstream'],
    registers,
    collect() {
      const states = circuitStates();
      for (const name of UPSTREAM_NAMES)
        this.set({ upstream: name }, CIRCUIT_STATE_VALUES[states[name]]);
    },
  });

  function bind(name: UpstreamName): UpstreamCallObserver {
    const bound = new Map<CallOutcome, UpstreamSeries>();
    for (const outcome of CALL_OUTCOMES) {
      const series = {
        calls: calls.labels(name, outcome),
        duration: duration.labels(name, outcome),
      };
      // Every outcome is exported from the start, so rate() sees its first increase.
      series.calls.inc(0);
      bound.set(outcome, series);
    }
    const retried = retries.labels(name);
    retried.inc(0);
    return {
      attemptFinished: (outcome, seconds) => {
        const series = bound.get(outcome);
        series?.calls.inc();
        series?.duration.observe(seconds);
      },
      retried: () => {
        retried.inc();
      },
    };
  }
  const observers: Readonly<Record<UpstreamName, UpstreamCallObserver>> = {
    social: bind('social'),
    profile: bind('profile'),
    privacy: bind('privacy'),
  };
  return (name) => observers[name];
}

function cacheMetrics(
  registers: Registry[],
  cacheSize: GatewayMetricsOptions['cacheSize'],
  sharedLevels: number,
): ProfileCacheObserver {
  const counter = (name: string, help: string) => {
    const metric = new Counter({ name, help, registers });
    metric.inc(0);
    return metric;
  };
  const hits = new Counter({
    name: 'profile_cache_hits_total',
    help: '(XUID, setting) pairs found fresh in the profile cache, by level (L1 in process)',
    labelNames: ['level'],
    registers,
  });
  const misses = counter(
    'profile_cache_misses_total',
    '(XUID, setting) pairs looked up and fresh at no cache level, so fetched from the profile service',
  );
  const staleServed = counter(
    'profile_cache_stale_served_total',
    '(XUID, setting) pairs served past their TTL because fetching them failed',
  );
  const evictions = counter(
    'profile_cache_evictions_total',
    'Entries the in-process cache level dropped to stay within PROFILE_CACHE_MAX_BYTES',
  );
  const coalesced = counter(
    'profile_cache_coalesced_total',
    '(XUID, setting) pairs that joined a profile load already in flight instead of starting one',
  );
  new Gauge({
    name: 'profile_cache_entries',
    help: 'Entries in the in-process profile cache level',
    registers,
    collect() {
      this.set(cacheSize().entries);
    },
  });
  new Gauge({
    name: 'profile_cache_bytes',
    help: 'Estimated size of the in-process profile cache level',
    registers,
    collect() {
      this.set(cacheSize().bytes);
    },
  });

  const hitsAt: Counter.Internal[] = [];
  const hitsOf = (depth: number): Counter.Internal => {
    let series = hitsAt[depth];
    if (!series) hitsAt[depth] = series = hits.labels(`L${String(depth + 1)}`);
    return series;
  };
  for (let depth = 0; depth <= sharedLevels; depth++) hitsOf(depth).inc(0);

  return {
    hits: (depth, count) => {
      hitsOf(depth).inc(count);
    },
    misses: (count) => {
      misses.inc(count);
    },
    staleServed: (count) => {
      staleServed.inc(count);
    },
    evicted: (count) => {
      evictions.inc(count);
    },
    coalesced: (count) => {
      coalesced.inc(count);
    },
  };
}
