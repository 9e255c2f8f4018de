import { Router } from 'express';
import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import { OverloadedError } from '../errors.js';
import { getFriendCards } from '../friend-cards/get-friend-cards.js';
import type { FriendCardsDeps } from '../friend-cards/get-friend-cards.js';
import { parseCallerCredentials } from '../http/caller-credentials.js';
import type { CallerCredentials } from '../http/caller-credentials.js';
import { methodNotAllowed } from '../http/method-not-allowed.js';
import { requestIdOf } from '../http/request-id.js';
import { resolveTraceContext } from '../http/trace-context.js';
import { createCorrelationVector } from '../upstreams/xbl-headers.js';
import type { CallContext } from '../upstreams/xbl-headers.js';
import { createFriendsQuerySchema, parseFriendsQuery } from './friends-query.js';

/** What the card route needs. */
export interface FriendsRouteDeps {
  readonly config: Config;
  readonly friendCards: FriendCardsDeps;
}

/** `GET /friends-with-profiles`: validate, get the cards, answer JSON that no cache keeps. */
export function friendsWithProfilesRoutes(deps: FriendsRouteDeps): Router {
  const { deadlineMs, maxInFlight } = deps.config.requests;
  const schema = createFriendsQuerySchema({ maxXuids: deps.config.requests.maxXuids });
  let inFlight = 0;

  async function getCards(req: Request, res: Response): Promise<void> {
    if (inFlight >= maxInFlight) {
      throw new OverloadedError(`Cannot take the request: ${inFlight} card requests in progress`);
    }
    const credentials = parseCallerCredentials(req.headers.authorization);
    const request = parseFriendsQuery(req.query, schema);

    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
    });
    const context = createCallContext(req, res, credentials, deadlineMs);
    const result = await getFriendCards(request, context, deps.friendCards);
    res.set('Cache-Control', 'private, no-store').json(result);
  }

  const router = Router();
  router
    .route('/friends-with-profiles')
    .get(getCards)
    .all(methodNotAllowed(['GET', 'HEAD']));
  return router;
}

/** The per-request context of upstream calls; its signal fires at the deadline or on hang-up. */
function createCallContext(
  req: Request,
  res: Response,
  credentials: CallerCredentials,
  deadlineMs: number,
): CallContext {
  const hangUp = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) hangUp.abort();
  });
  return {
    authorization: credentials.authorization,
    callerId: credentials.userHash,
    requestId: requestIdOf(res),
    trace: resolveTraceContext(req.headers.traceparent, req.headers.tracestate),
    signal: AbortSignal.any([AbortSignal.timeout(deadlineMs), hangUp.signal]),
    logger: req.log,
    nextCorrelationVector: createCorrelationVector(),
  };
}
