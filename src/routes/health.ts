import { Router } from 'express';
import { methodNotAllowed } from '../http/method-not-allowed.js';
import type { UpstreamName } from '../xbl-vocabulary.js';

/** State of an upstream's circuit as `/readyz` reports it. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Size of the in-process profile cache as `/readyz` shows it. */
export interface CacheSize {
  readonly entries: number;
  readonly bytes: number;
}

/** What the health routes read; none of it touches an upstream. */
export interface HealthDeps {
  /** True once SIGTERM started draining. */
  readonly isDraining: () => boolean;
  readonly circuitStates: () => Readonly<Record<UpstreamName, CircuitState>>;
  readonly cacheSize: () => CacheSize;
  /** The shared Redis level's state; absent without `REDIS_URL` (API.md §4). */
  readonly redisState?: (() => 'ok' | 'degraded') | undefined;
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
