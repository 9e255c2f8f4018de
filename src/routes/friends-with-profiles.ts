import { Router } from 'express';
import type { Request, Response } from 'express';
import { createCorrelationVector, startDeadline } from '../call-context.js';
import type { CallContext } from '../call-context.js';
import type { Config } from '../config.js';
import { OverloadedError } from '../errors.js';
import { getFriendCards } from '../friend-cards/get-friend-cards.js';
import type { FriendCardsDeps } from '../friend-cards/get-friend-cards.js';
import { parseCallerCredentials } from '../http/caller-credentials.js';
import type { CallerCredentials } from '../http/caller-credentials.js';
import type { EventLoopDelayLimit, InFlightLimit, ShedReason } from '../http/load-shedding.js';
import { enforceRateLimit } from '../http/rate-limit.js';
import type { CallerRateLimit } from '../http/rate-limit.js';
import { methodNotAllowed } from '../http/method-not-allowed.js';
import { requestIdOf } from '../http/request-id.js';
import { requestTracingOf } from '../http/server-span.js';
import { noteFailedParts, noteXuidCount } from '../http/request-logging.js';
import { resolveTraceContext } from '../http/trace-context.js';
import { createFriendsQuerySchema, parseFriendsQuery } from './friends-query.js';

/** What the card route needs. */
export interface FriendsRouteDeps {
  readonly config: Config;
  readonly friendCards: FriendCardsDeps;
  /** The per-process count of card requests in progress. */
  readonly inFlight: InFlightLimit;
  /** The per-process event-loop delay, past whose limit new card requests are shed. */
  readonly eventLoopDelay: EventLoopDelayLimit;
  /** Told of every shed request (metrics). */
  readonly onShed?: (reason: ShedReason) => void;
  /** `RATE_LIMIT_PER_CALLER`; absent when off. */
  readonly rateLimit?: CallerRateLimit | undefined;
}

/** `GET /friends-with-profiles`: validate, get the cards, answer JSON that no cache keeps. */
export function friendsWithProfilesRoutes(deps: FriendsRouteDeps): Router {
  const { deadlineMs } = deps.config.requests;
  const schema = createFriendsQuerySchema({ maxXuids: deps.config.requests.maxXuids });
  const onShed = deps.onShed ?? (() => undefined);

  async function getCards(req: Request, res: Response): Promise<void> {
    if (deps.inFlight.isFull()) {
      onShed('in_flight');
      throw new OverloadedError(
        `Cannot take the request: ${deps.inFlight.count()} card requests in progress`,
      );
    }
    if (deps.eventLoopDelay.isOverloaded()) {
      onShed('event_loop_delay');
      throw new OverloadedError(
        `Cannot take the request: the event loop lags ${Math.round(deps.eventLoopDelay.delayMs())} ms`,
      );
    }
    const credentials = parseCallerCredentials(req.headers.authorization);
    // Counted per caller before the query is read and before any upstream call (API.md §6 rule 4).
    if (deps.rateLimit) await enforceRateLimit(deps.rateLimit, credentials.userHash, res);
    const request = parseFriendsQuery(req.query, schema);
    noteXuidCount(res, request.xuids.length);

    const context = startCallContext(req, res, credentials, {
      deadlineMs,
      release: deps.inFlight.acquire(),
    });
    const result = await getFriendCards(request, context, deps.friendCards);
    noteFailedParts(res, result.errors.length);
    res.set('Cache-Control', 'private, no-store').json(result);
  }

  const router = Router();
  router
    .route('/friends-with-profiles')
    .get(getCards)
    .all(methodNotAllowed(['GET', 'HEAD']));
  return router;
}

/**
 * The per-request context of upstream calls. Its signal fires at the deadline, or when the
 * client hangs up before the answer is written (nothing is left to wait for); once the
 * connection closes, the deadline's timer is cleared and the request stops counting in flight.
 */
function startCallContext(
  req: Request,
  res: Response,
  credentials: CallerCredentials,
  options: { readonly deadlineMs: number; readonly release: () => void },
): CallContext {
  const deadline = startDeadline(options.deadlineMs);
  res.once('close', () => {
    options.release();
    if (res.writableFinished) deadline.clear();
    else deadline.abort();
  });
  // With tracing on, calls continue the server span's trace; else the client's, or a new one.
  const tracing = requestTracingOf(res);
  return {
    authorization: credentials.authorization,
    callerId: credentials.userHash,
    requestId: requestIdOf(res),
    trace: tracing?.trace ?? resolveTraceContext(req.headers.traceparent, req.headers.tracestate),
    otelContext: tracing?.context,
    signal: deadline.signal,
    deadlineAtMs: deadline.deadlineAtMs,
    logger: req.log,
    nextCorrelationVector: createCorrelationVector(),
  };
}
