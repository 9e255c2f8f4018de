import type { Request, RequestHandler, Response } from 'express';

/** The route label of a request that no route matched: never its raw path. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The status label of a request whose client closed the connection before its answer was
 * written, as nginx logs it: no status was ever sent.
 */
export const CLIENT_CLOSED_STATUS = 499;

/** Methods that keep their own label; any other becomes `OTHER`, so the label stays bounded. */
const METHOD_LABELS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * What the request metrics middleware reports: plain callbacks, so that the HTTP edge knows
 * nothing of the metrics library. Every label is bounded: a route pattern or `unmatched`, a
 * method of `METHOD_LABELS` or `OTHER`, a status code.
 */
export interface HttpRequestObserver {
  /** A request arrived. */
  requestStarted(): void;
  /** The request's connection closed after `seconds`, answered with `status` or never. */
  requestFinished(route: string, method: string, status: number, seconds: number): void;
}

const STARTED_AT = Symbol('request metrics start');

/** A response that carries the time its request arrived, on the `performance.now()` clock. */
interface TimedResponse extends Response {
  [STARTED_AT]?: number;
}

/**
 * Counts and times every request, labelled by the pattern of the route that took it (never the
 * raw path, which a client chooses). First in the chain, so a 404, 405, 414 or a shed 503 is
 * counted like any answer. One `close` listener per request and no closure: the listener is made
 * once and reads the response it is called on.
 */
export function requestMetrics(observer: HttpRequestObserver): RequestHandler {
  function finished(this: TimedResponse): void {
    const seconds = (performance.now() - (this[STARTED_AT] ?? performance.now())) / 1000;
    const status = this.writableFinished ? this.statusCode : CLIENT_CLOSED_STATUS;
    observer.requestFinished(routeOf(this.req), methodOf(this.req), status, seconds);
  }
  return (_req, res: TimedResponse, next) => {
    res[STARTED_AT] = performance.now();
    observer.requestStarted();
    res.once('close', finished);
    next();
  };
}

/** The pattern of the route that took `req` (`/friends-with-profiles`), or `unmatched`. */
function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? path : UNMATCHED_ROUTE;
}

function methodOf(req: Request): string {
  return METHOD_LABELS.has(req.method) ? req.method : 'OTHER';
}
