import { Router } from 'express';
import { methodNotAllowed } from '../http/method-not-allowed.js';

/** What `/metrics` serves: an exposition and its content type, built at scrape time. */
export interface MetricsSource {
  /** The Prometheus text format's content type, version included. */
  readonly contentType: string;
  /** Every metric as text, read now. */
  render(): Promise<string>;
}

/**
 * `GET /metrics`, the Prometheus scrape target (API.md §4). It is not a card request, so load
 * shedding never refuses it (API.md §5 rule 6): an operator sees the shedding while it happens.
 */
export function metricsRoutes(source: MetricsSource): Router {
  const router = Router();
  router
    .route('/metrics')
    .get(async (_req, res) => {
      const text = await source.render();
      res.set('Content-Type', source.contentType).set('Cache-Control', 'no-store').send(text);
    })
    .all(methodNotAllowed(['GET', 'HEAD']));
  return router;
}
