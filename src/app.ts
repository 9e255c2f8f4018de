import type { Tracer } from '@opentelemetry/api';
import express from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { NotFoundError, UriTooLongError } from './errors.js';
import { problemDetails } from './http/problem-details.js';
import { requestId } from './http/request-id.js';
import { requestLogging } from './http/request-logging.js';
import { serverSpans, traceLogFields } from './http/server-span.js';
import { createEventLoopDelayLimit, createInFlightLimit } from './http/load-shedding.js';
import type { EventLoopDelayLimit, InFlightLimit } from './http/load-shedding.js';
import { requestMetrics } from './http/request-metrics.js';
import { createGatewayMetrics } from './metrics/gateway-metrics.js';
import type { GatewayMetrics } from './metrics/gateway-metrics.js';
import { createCallerRateLimit } from './http/rate-limit.js';
import type { CallerRateLimit } from './http/rate-limit.js';
import type { ProfileCacheLevel } from './profile-cache/cache-level.js';
import { createProfileLoader } from './profile-cache/load-profiles.js';
import type { ProfileLoader } from './profile-cache/load-profiles.js';
import { createProfileCache } from './profile-cache/profile-cache.js';
import type { ProfileCache } from './profile-cache/profile-cache.js';
import { createProfileLoadsInFlight } from './profile-cache/profile-loads.js';
import type { ProfileLoadsInFlight } from './profile-cache/profile-loads.js';
import { createRedisLeases } from './profile-cache/redis-leases.js';
import type { ProfileLeases } from './profile-cache/redis-leases.js';
import { createRedisLevel } from './profile-cache/redis-level.js';
import type { RedisLevel } from './profile-cache/redis-level.js';
import { buildOpenApiDocument } from './openapi.js';
import type { OpenApiDocument } from './openapi.js';
import { apiDocsRoutes } from './routes/api-docs.js';
import { createRedisConnection } from './redis/redis-connection.js';
import type { RedisConnection } from './redis/redis-connection.js';
import { friendsWithProfilesRoutes } from './routes/friends-with-profiles.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { createCallerThrottle } from './upstreams/caller-throttle.js';
import type { CallerThrottle } from './upstreams/caller-throttle.js';
import { createSharedCallerThrottle } from './upstreams/shared-caller-throttle.js';
import { createPrivacyClient } from './upstreams/privacy-client.js';
import type { PrivacyClient } from './upstreams/privacy-client.js';
import { createProfileClient } from './upstreams/profile-client.js';
import type { ProfileClient } from './upstreams/profile-client.js';
import { createSocialClient } from './upstreams/social-client.js';
import type { SocialClient } from './upstreams/social-client.js';
import { createRetryBudget } from './upstreams/retry-budget.js';
import type { RetryBudget } from './upstreams/retry-budget.js';
import { createUpstreamCircuit } from './upstreams/upstream-circuit.js';
import type { CircuitStateName, UpstreamCircuit } from './upstreams/upstream-circuit.js';
import { upstreamPolicies } from './upstreams/upstream-policies.js';
import type { UpstreamName } from './xbl-vocabulary.js';

/** Most (upstream, caller) pairs remembered as throttled; the oldest are forgotten first. */
const MAX_THROTTLED_CALLERS = 100_000;

/** API.md §5 rule 8: a longer URL gets 414 before anything else runs. */
const MAX_URL_BYTES = 8192;

/**
 * The gateway's per-process state, in one place so that scale-out can swap or share each part.
 * With `REDIS_URL`, the throttle memory, the rate limit and the profile loads (through leases)
 * reach across replicas; the rest is each process's own.
 */
export interface ProcessState {
  /** Card requests in progress, for shedding past `MAX_IN_FLIGHT_REQUESTS`. */
  readonly inFlightRequests: InFlightLimit;
  /** The sampled event-loop delay, for shedding past `MAX_EVENT_LOOP_DELAY_MS`. */
  readonly eventLoopDelay: EventLoopDelayLimit;
  /**
   * Which callers each upstream throttled, until their `Retry-After` (API.md §5 rule 4); with
   * Redis, gates set by every replica are honoured too.
   */
  readonly callerThrottle: CallerThrottle;
  /** `RATE_LIMIT_PER_CALLER`, counted in Redis when there is one; absent when off. */
  readonly rateLimit: CallerRateLimit | undefined;
  /** Profile loads in flight by (XUID, setting), which concurrent requests join. */
  readonly profileLoads: ProfileLoadsInFlight;
  /** Leases that keep replicas from fetching the same profiles at once; absent without Redis. */
  readonly profileLeases: ProfileLeases | undefined;
  /** Each upstream's circuit breaker and retry budget. */
  readonly circuits: Readonly<Record<UpstreamName, UpstreamCircuit>>;
  readonly retryBudgets: Readonly<Record<UpstreamName, RetryBudget>>;
}

/** Retry budgets count calls over this window (API.md §5: the last 10 s). */
const RETRY_BUDGET_WINDOW_MS = 10_000;

/** Everything the app uses, built once by the entry file (or a test) and passed down. */
export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly state: ProcessState;
  readonly social: SocialClient;
  readonly profile: ProfileClient;
  readonly privacy: PrivacyClient;
  readonly cache: ProfileCache;
  readonly profiles: ProfileLoader;
  /** The one Redis connection when `REDIS_URL` is set; `/readyz` shows it, `close()` closes it. */
  readonly redis?: RedisConnection | undefined;
  /** The profile cache's Redis level, on that connection. */
  readonly sharedCache?: RedisLevel | undefined;
  /** This gateway's own metrics registry and the observers every layer reports to. */
  readonly metrics: GatewayMetrics;
  /** The process's tracer when tracing is on (`tracing/tracing.ts`); absent when off. */
  readonly tracer?: Tracer | undefined;
  /** The OpenAPI document served at `/openapi.json`, built once. */
  readonly openApi: OpenApiDocument;
}

/** Options of `createDeps` that tests override. */
export interface CreateDepsOptions {
  /** Clock of the profile cache and the throttle memory, in milliseconds. */
  readonly now?: () => number;
  /** Profile cache levels behind the in-process one, nearest first. */
  readonly sharedCacheLevels?: readonly ProfileCacheLevel[];
  /** Reads the event-loop delay (ms) instead of sampling the loop. */
  readonly eventLoopDelay?: () => number;
  /**
   * Export Node's process metrics (CPU, memory, GC, event-loop lag) at `/metrics`; true by
   * default. Their GC observer and loop monitor cannot be stopped, so tests turn them off.
   */
  readonly processMetrics?: boolean;
  /** The tracer of server and upstream spans; tracing is off without one. */
  readonly tracer?: Tracer | undefined;
  /** False to build a Redis gateway without stampede leases, to measure what they save. */
  readonly profileLeases?: boolean;
}

/** Builds the per-process state, the upstream clients, the profile cache and the loader. */
export function createDeps(
  config: Config,
  logger: Logger,
  options: CreateDepsOptions = {},
): AppDeps {
  const { upstreams } = config;
  // Built before the event-loop delay sampler starts: its few ms of CPU are not load.
  const openApi = buildOpenApiDocument({ maxXuids: config.requests.maxXuids });
  const perUpstream = <T>(create: () => T): Record<UpstreamName, T> => ({
    social: create(),
    profile: create(),
    privacy: create(),
  });
  const redis =
    config.redis.url === undefined
      ? undefined
      : createRedisConnection({ url: config.redis.url, timeoutMs: config.redis.timeoutMs, logger });
  const localThrottle = createCallerThrottle({
    maxCallers: MAX_THROTTLED_CALLERS,
    now: options.now,
  });
  // The users of the one Redis connection, which `/metrics` reads the counters of.
  const redisUsers = redis && {
    connection: redis,
    throttle: createSharedCallerThrottle({ local: localThrottle, connection: redis }),
    cacheLevel: createRedisLevel({
      connection: redis,
      lifetimeMs: config.profileCache.ttlMs + config.profileCache.staleMs,
      now: options.now,
    }),
    leases: options.profileLeases === false ? undefined : createRedisLeases(redis),
  };
  const sharedCache = redisUsers?.cacheLevel;
  const { perCaller, windowMs } = config.rateLimit;
  const state: ProcessState = {
    inFlightRequests: createInFlightLimit(config.requests.maxInFlight),
    eventLoopDelay: createEventLoopDelayLimit({
      maxDelayMs: config.requests.maxEventLoopDelayMs,
      observe: options.eventLoopDelay,
    }),
    callerThrottle: redisUsers?.throttle ?? localThrottle,
    rateLimit:
      perCaller === undefined
        ? undefined
        : createCallerRateLimit({ limit: perCaller, windowMs, redis }),
    profileLoads: createProfileLoadsInFlight(),
    profileLeases: redisUsers?.leases,
    circuits: perUpstream(() => createUpstreamCircuit(upstreams.breaker)),
    retryBudgets: perUpstream(() =>
      createRetryBudget({
        ratio: upstreams.retryBudgetRatio,
        windowMs: RETRY_BUDGET_WINDOW_MS,
        minRetriesPerSecond: 1,
      }),
    ),
  };
  const sharedLevels = [
    ...(options.sharedCacheLevels ?? []),
    ...(sharedCache ? [sharedCache] : []),
  ];
  // The gauges read the circuits, the cache and the Redis users' counters at scrape time; the
  // cache is built below.
  const metrics = createGatewayMetrics({
    processMetrics: options.processMetrics ?? true,
    circuitStates: () => circuitStates(state),
    cacheSize: () => cache.size(),
    sharedCacheLevels: sharedLevels.length,
    scaleOut: { redis: redisUsers, rateLimit: state.rateLimit },
  });
  const clientOptions = (upstream: UpstreamName, baseUrl: string) => ({
    baseUrl,
    connections: upstreams.connections,
    timeoutMs: upstreams.timeoutMs,
    maxBodyBytes: upstreams.maxBodyBytes,
    batchSize: upstreams.batchSize,
    policies: upstreamPolicies({
      retries: upstreams.retries,
      maxConcurrent: upstreams.connections,
      maxQueued: upstreams.maxQueued,
      throttle: state.callerThrottle,
      circuit: state.circuits[upstream],
      retryBudget: state.retryBudgets[upstream],
      observer: metrics.upstream(upstream),
      tracer: options.tracer,
      baseUrl,
    }),
  });
  const social = createSocialClient(clientOptions('social', upstreams.socialUrl));
  const profile = createProfileClient(clientOptions('profile', upstreams.profileUrl));
  const privacy = createPrivacyClient(clientOptions('privacy', upstreams.privacyUrl));
  const cache = createProfileCache({
    ...config.profileCache,
    sharedLevels,
    now: options.now,
    observer: metrics.cache,
  });
  const profiles = createProfileLoader({
    cache,
    client: profile,
    fetchDeadlineMs: config.requests.deadlineMs,
    inFlight: state.profileLoads,
    observer: metrics.cache,
    leases: state.profileLeases,
  });
  const { tracer } = options;
  return {
    config,
    logger,
    state,
    social,
    profile,
    privacy,
    cache,
    profiles,
    redis,
    sharedCache,
    metrics,
    tracer,
    openApi,
  };
}

/** The gateway app plus the hooks its process needs. */
export interface Gateway {
  readonly app: Express;
  /** Marks the gateway as draining: `/readyz` answers 503 from now on. */
  startDraining(): void;
  /** Closes the upstream pools and the Redis connection, and stops the event-loop delay sampler. */
  close(): Promise<void>;
}

/** Builds the Express app; never reads the environment, listens or touches signals. */
export function buildApp(deps: AppDeps): Gateway {
  const { redis } = deps;
  let isDraining = false;
  const app = express();
  app.set('query parser', 'simple');
  app.set('etag', false);
  app.set('x-powered-by', false);
  // No answer carries a validator (no ETag, no Last-Modified), so no conditional request can
  // match one: without this, `If-None-Match: *` turns a card or health answer into an empty 304.
  Object.defineProperty(app.request, 'fresh', { configurable: true, get: () => false });

  app.use(requestId);
  if (deps.tracer) app.use(serverSpans(deps.tracer));
  app.use(requestMetrics(deps.metrics.http));
  app.use(requestLogging(deps.logger, deps.tracer && { extraFields: traceLogFields }));
  app.use(helmet());
  app.use(rejectLongUrls);
  app.use((_req: Request, res: Response, next: NextFunction) => {
    // While draining, a keep-alive client is told to reconnect, so its next request goes to a
    // replica the balancer still routes to.
    if (isDraining) res.setHeader('Connection', 'close');
    next();
  });
  app.use(
    healthRoutes({
      isDraining: () => isDraining,
      circuitStates: () => circuitStates(deps.state),
      cacheSize: () => deps.cache.size(),
      redisState: redis && (() => redis.state()),
    }),
  );
  app.use(metricsRoutes(deps.metrics));
  app.use(
    friendsWithProfilesRoutes({
      config: deps.config,
      friendCards: { social: deps.social, privacy: deps.privacy, profiles: deps.profiles },
      inFlight: deps.state.inFlightRequests,
      eventLoopDelay: deps.state.eventLoopDelay,
      onShed: (reason) => {
        deps.metrics.shed(reason);
      },
      rateLimit: deps.state.rateLimit,
    }),
  );
  app.use(apiDocsRoutes({ document: deps.openApi }));
  app.use((req: Request) => {
    throw new NotFoundError(req.path);
  });
  app.use(problemDetails);

  return {
    app,
    startDraining: () => {
      isDraining = true;
    },
    close: async () => {
      deps.state.eventLoopDelay.stop();
      await Promise.all([
        deps.social.close(),
        deps.profile.close(),
        deps.privacy.close(),
        redis?.close(),
      ]);
    },
  };
}

/** Each upstream's circuit state now, for `/readyz` and `/metrics`. */
function circuitStates(state: ProcessState): Record<UpstreamName, CircuitStateName> {
  const { circuits } = state;
  return {
    social: circuits.social.state(),
    profile: circuits.profile.state(),
    privacy: circuits.privacy.state(),
  };
}

function rejectLongUrls(req: Request, res: Response, next: NextFunction): void {
  if (req.url.length > MAX_URL_BYTES) {
    res.setHeader('Connection', 'close');
    next(new UriTooLongError(MAX_URL_BYTES));
    return;
  }
  next();
}
