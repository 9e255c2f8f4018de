import { Router } from 'express';
import { z } from 'zod';
import { methodNotAllowed } from '../http/method-not-allowed.js';
import type { UpstreamName } from '../xbl-vocabulary.js';

/** State of an upstream's circuit as `/readyz` reports it (API.md §5 rule 3). */
export const circuitStateSchema = z.enum(['closed', 'open', 'half-open']);

/** State of an upstream's circuit. */
export type CircuitState = z.infer<typeof circuitStateSchema>;

/** Size of the in-process profile cache as `/readyz` shows it. */
export const cacheSizeSchema = z.object({
  entries: z.int().min(0).meta({ description: 'Cached (XUID, setting) values' }),
  bytes: z.int().min(0).meta({ description: 'Their size as the byte bound counts it' }),
});

/** Size of the in-process profile cache. */
export type CacheSize = Readonly<z.infer<typeof cacheSizeSchema>>;

const upstreamStateSchema = z.object({ circuit: circuitStateSchema });

/** The `/healthz` body. */
export const healthSchema = z.object({ status: z.literal('ok') });

/** The `/readyz` body, 200 or 503 (API.md §4). */
export const readinessSchema = z.object({
  status: z.enum(['ready', 'draining', 'not_ready']).meta({
    description:
      'ready (200); draining after SIGTERM (503); not_ready when every circuit is open and none is due for a probe (503)',
  }),
  upstreams: z.object({
    social: upstreamStateSchema,
    profile: upstreamStateSchema,
    privacy: upstreamStateSchema,
  } satisfies Record<UpstreamName, z.ZodType>),
  cache: cacheSizeSchema,
  redis: z.enum(['ok', 'degraded']).optional().meta({
    description:
      'With REDIS_URL set only: degraded while Redis is down or slow; the replica stays ready either way',
  }),
});

/** The shared Redis level's state as `/readyz` shows it. */
export type RedisState = NonNullable<z.infer<typeof readinessSchema>['redis']>;

/** What the health routes read; none of it touches an upstream. */
export interface HealthDeps {
  /** True once SIGTERM started draining. */
  readonly isDraining: () => boolean;
  readonly circuitStates: () => Readonly<Record<UpstreamName, CircuitState>>;
  readonly cacheSize: () => CacheSize;
  /** The shared Redis level's state; absent without `REDIS_URL` (API.md §4). */
  readonly redisState?: (() => RedisState) | undefined;
}

/** `/healthz` (liveness, no I/O) and `/readyz` (can this replica serve?). */
export function healthRoutes(deps: HealthDeps): Router {
  const router = Router();
  router
    .route('/healthz')
    .get((_req, res) => {
      res.set('Cache-Control', 'no-store').json({ status: 'ok' });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));
  router
    .route('/readyz')
    .get((_req, res) => {
      const states = deps.circuitStates();
      const isEveryCircuitOpen = Object.values(states).every((state) => state === 'open');
      const isReady = !deps.isDraining() && !isEveryCircuitOpen;
      const upstreams = Object.fromEntries(
        Object.entries(states).map(([name, state]) => [name, { circuit: state }]),
      );
      res
        .status(isReady ? 200 : 503)
        .set('Cache-Control', 'no-store')
        .json({
          status: isReady ? 'ready' : deps.isDraining() ? 'draining' : 'not_ready',
          upstreams,
          cache: deps.cacheSize(),
          // Redis is an optimisation: degraded or not, it never makes the replica unready.
          ...(deps.redisState && { redis: deps.redisState() }),
        });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));
  return router;
}
