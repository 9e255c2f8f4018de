import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  allowOnly,
  rejectInvalidBody,
  sendJson,
  sendRejection,
  type Rejection,
} from './answers.js';
import { faultAdminRoutes } from './fault-admin.js';
import { createFaults, type ServiceName } from './faults.js';
import {
  createPopulation,
  PERMISSION_IDS,
  PROFILE_SETTING_IDS,
  type PermissionResult,
  type Person,
  type Population,
  type ProfileSetting,
} from './population.js';
import { BURST_LIMIT, createRateLimiter } from './rate-limiter.js';
import type { SimulatorConfig } from './simulator-config.js';

/** `UPSTREAMS.md` §2: the social service's people/xuids path. */
export const SOCIAL_PATH = '/users/me/people/xuids';

/** `UPSTREAMS.md` §1: the profile service's batch settings path. */
export const PROFILE_PATH = '/users/batch/profile/settings';

/** `UPSTREAMS.md` §3: the privacy service's permission/validate path. */
export const PRIVACY_PATH = '/users/me/permission/validate';

/** Calls received per service since start, for load tests; not an Xbox Live path. */
export const STATS_PATH = '/simulator/stats';

/** Tokens that make every service reject the call, so tests can exercise upstream 401/403. */
export const REJECTED_TOKENS = Object.freeze({ expired: 'expired', forbidden: 'forbidden' });

/** Collaborators of `createSimulatorApp`; all optional. */
export interface SimulatorAppOptions {
  /** Clock of the rate limiter (ms); inject one in tests. */
  readonly now?: () => number;
  /** Logs unexpected errors and fault changes; silent when absent. */
  readonly logger?: Pick<Logger, 'error' | 'info'>;
}

/** A built simulator: the Express app, its population, and `close()` to cut pending delays. */
export interface Simulator {
  readonly app: Express;
  readonly population: Population;
  /** Ends injected delays at once (their calls answer 503); call before closing the server. */
  close(): void;
}

interface Answer {
  readonly status: 200 | 204;
  readonly body?: object;
  readonly headers?: Readonly<Record<string, string>>;
}

interface Gate {
  readonly service: ServiceName;
  /** Service-specific header rules, checked right after the credentials. */
  readonly checkHeaders?: (req: Request) => Rejection | undefined;
}

interface Endpoint<Body> extends Gate {
  readonly bodySchema: z.ZodType<Body>;
  readonly answer: (callerXuid: string, body: Body, req: Request) => Answer;
}

const MAX_BODY_SIZE = '1mb';
// Lists of ids carry at most every known id a few times over; anything longer is abuse.
const MAX_IDS_PER_CALL = 64;
// Real userhashes are about 20 digits; the bound keeps rate-limiter keys small.
const AUTHORIZATION_PATTERN = /^XBL3\.0 x=([^;\s]{1,64});(\S+)$/;
const XUID_PATTERN = /^[1-9]\d{0,19}$/;
const MAX_XUID = '18446744073709551615';
const HEALTHY = Object.freeze({ status: 'ok' });

/** A decimal XUID string: 1–20 digits, no leading zero, at most 2^64 − 1. */
function isXuid(value: string): boolean {
  // Same-length decimal strings compare like the numbers they spell.
  return XUID_PATTERN.test(value) && (value.length < 20 || value <= MAX_XUID);
}

/** Builds the three fake Xbox Live services of `UPSTREAMS.md` on one Express app. */
export function createSimulatorApp(
  config: SimulatorConfig,
  options: SimulatorAppOptions = {},
): Simulator {
  const population = createPopulation(config.population);
  const faults = createFaults(config.faults);
  const rateLimiter = config.rateLimit.isEnabled
    ? createRateLimiter({
        scale: config.rateLimit.scale,
        ...(options.now === undefined ? {} : { now: options.now }),
      })
    : undefined;
  const shutdown = new AbortController();
  // What admit() learned about a call, for respond(); entries go with their requests.
  const admitted = new WeakMap<Request, { callerXuid: string; isMalformed: boolean }>();
  const parseJson = express.json({ limit: MAX_BODY_SIZE });
  // Every call a service receives, whatever it answers: what a gateway costs its upstreams.
  const calls: Record<ServiceName, number> = { social: 0, profile: 0, privacy: 0 };

  const xuid = z.string('must be a decimal XUID string').refine(isXuid, 'must be a decimal XUID');
  const xuidList = z
    .array(xuid)
    .max(config.maxBatchSize, `must hold at most ${config.maxBatchSize} XUIDs`);
  const settingIds = z
    .array(z.enum(PROFILE_SETTING_IDS, { error: 'is not a known profile setting' }))
    .min(1, 'must not be empty')
    .max(MAX_IDS_PER_CALL, `must hold at most ${MAX_IDS_PER_CALL} entries`);
  const permissionIds = z
    .array(z.enum(PERMISSION_IDS, { error: 'is not a known permission' }))
    .min(1, 'must not be empty')
    .max(MAX_IDS_PER_CALL, `must hold at most ${MAX_IDS_PER_CALL} entries`);
  const privacyUser = z.union(
    [z.object({ xuid }), z.object({ anonymousUser: z.literal('crossNetworkUser') })],
    { error: 'must be {"xuid": "<decimal XUID>"} or {"anonymousUser": "crossNetworkUser"}' },
  );

  const people: Endpoint<{ xuids: string[] }> = {
    service: 'social',
    // UPSTREAMS.md §2: `xuids` is the only member allowed.
    bodySchema: z.strictObject({ xuids: xuidList }),
    answer(callerXuid, body, req) {
      // UPSTREAMS.md §2: ?method=add|remove follows or unfollows on the player's behalf (204).
      // Nothing changes here, but a gateway that forwards the query string sees a 204.
      const method = req.query['method'];
      if (method === 'add' || method === 'remove') return { status: 204 };
      const collection = population.peopleOf(callerXuid);
      const found: Person[] = [];
      const seen = new Set<string>();
      for (const candidate of body.xuids) {
        const person = collection.get(candidate);
        if (person === undefined || seen.has(candidate)) continue;
        seen.add(candidate);
        found.push(person);
      }
      return { status: 200, body: { people: found, totalCount: found.length } };
    },
  };

  const profile: Endpoint<{ userIds: string[]; settings: ProfileSetting['id'][] }> = {
    service: 'profile',
    bodySchema: z.object({
      userIds: xuidList.min(1, 'must not be empty'),
      settings: settingIds,
    }),
    checkHeaders: checkProfileContractVersion,
    answer(_callerXuid, body) {
      const settingIdsAsked = [...new Set(body.settings)];
      const profileUsers = [];
      const seen = new Set<string>();
      for (const id of body.userIds) {
        const user = population.user(id);
        // UPSTREAMS.md §1: unknown users are omitted.
        if (user === undefined || seen.has(id)) continue;
        seen.add(id);
        const settings: ProfileSetting[] = [];
        for (const settingId of settingIdsAsked) {
          const setting = user.settings[settingId];
          if (setting !== undefined) settings.push(setting);
        }
        profileUsers.push({ id, hostId: id, settings, isSponsoredUser: false });
      }
      return { status: 200, body: { profileUsers } };
    },
  };

  const privacy: Endpoint<{
    users: ({ xuid: string } | { anonymousUser: 'crossNetworkUser' })[];
    permissions: (typeof PERMISSION_IDS)[number][];
  }> = {
    service: 'privacy',
    bodySchema: z.object({
      users: z
        .array(privacyUser)
        .min(1, 'must not be empty')
        .max(config.maxBatchSize, `must hold at most ${config.maxBatchSize} users`),
      permissions: permissionIds,
    }),
    answer(callerXuid, body) {
      const responses = body.users.map((user) => {
        if (!('xuid' in user)) {
          return {
            user: { anonymousUser: user.anonymousUser },
            permissions: body.permissions.map(crossNetworkPermission),
          };
        }
        const target = user.xuid;
        return {
          user: { xuid: target },
          // UPSTREAMS.md §3: results are positional, result i answers permission i.
          permissions: body.permissions.map((id) => population.permission(callerXuid, target, id)),
        };
      });
      // UPSTREAMS.md §3: answers fold in block and mute lists and must not be reused.
      return {
        status: 200,
        body: { responses },
        headers: { 'Cache-Control': 'no-cache, no-store' },
      };
    },
  };

  /** Credentials, throttling and faults, before the body is read; passes on what `respond` needs. */
  function admit(endpoint: Gate) {
    return async function admitCall(
      req: Request,
      res: Response,
      next: NextFunction,
    ): Promise<void> {
      calls[endpoint.service] += 1;
      const credentials = checkAuthorization(req.get('authorization'));
      if ('status' in credentials) {
        sendRejection(res, credentials);
        return;
      }
      const headerRejection = endpoint.checkHeaders?.(req);
      if (headerRejection !== undefined) {
        sendRejection(res, headerRejection);
        return;
      }
      if (rateLimiter !== undefined) {
        const decision = rateLimiter.check(`${endpoint.service} ${credentials.userhash}`);
        if (!decision.isAllowed) {
          sendThrottled(res, decision);
          return;
        }
      }
      const fault = faults.draw(endpoint.service);
      const waited = await wait(fault.kind === 'hang' ? Infinity : fault.delayMs, res);
      if (waited === 'gone') return;
      if (waited === 'closing') {
        sendRejection(res, {
          status: 503,
          code: 'ShuttingDown',
          description: 'The simulator is shutting down',
        });
        return;
      }
      switch (fault.kind) {
        case 'hang':
          // Only the client's timeout, its hang-up or close() ends a hang.
          return;
        case 'reset':
          resetConnection(req);
          return;
        case 'throttle':
          sendThrottled(res, {
            ...SIMULATED_THROTTLING,
            retryAfterSeconds: fault.retryAfterSeconds,
          });
          return;
        case 'error':
          sendRejection(res, simulatedError(fault.status, fault.retryAfterSeconds));
          return;
        case 'answer':
        case 'malformed':
          admitted.set(req, {
            callerXuid: population.callerFor(credentials.userhash),
            isMalformed: fault.kind === 'malformed',
          });
          next();
      }
    };
  }

  /** Validates the parsed body and sends the endpoint's answer. */
  function respond<Body>(endpoint: Endpoint<Body>) {
    return function respondToCall(req: Request, res: Response): void {
      const call = admitted.get(req);
      if (call === undefined) throw new Error('Call reached respond() without admit()');
      const parsed = endpoint.bodySchema.safeParse(req.body);
      if (!parsed.success) {
        rejectInvalidBody(res, parsed.error);
        return;
      }
      const answer = endpoint.answer(call.callerXuid, parsed.data, req);
      if (answer.body === undefined) {
        res.status(answer.status).end();
        return;
      }
      sendJson(res, answer.status, answer.body, answer.headers, { isMalformed: call.isMalformed });
    };
  }

  /**
   * Order per call: credentials, service headers, rate limit, latency, then the drawn fault (hang,
   * reset, throttle, error) or the body and the answer (malformed or not).
   */
  function serve<Body>(endpoint: Endpoint<Body>) {
    return [admit(endpoint), parseJson, respond(endpoint)];
  }

  /**
   * Waits `delayMs` (`Infinity`: until something else happens). 'closing' when the simulator
   * closes first (or has closed), 'gone' when the client hangs up first, so no wait outlives its
   * call; a call without delay is never cut.
   */
  async function wait(delayMs: number, res: Response): Promise<'elapsed' | 'closing' | 'gone'> {
    const hangUp = new AbortController();
    const outcome = (): 'elapsed' | 'closing' | 'gone' => {
      if (shutdown.signal.aborted) return 'closing';
      return hangUp.signal.aborted ? 'gone' : 'elapsed';
    };
    if (delayMs <= 0) return 'elapsed';
    if (shutdown.signal.aborted) return 'closing';
    const onClose = (): void => {
      hangUp.abort();
    };
    res.once('close', onClose);
    const signal = AbortSignal.any([shutdown.signal, hangUp.signal]);
    try {
      if (Number.isFinite(delayMs)) {
        await sleep(delayMs, undefined, { signal });
      } else {
        await new Promise((resolve) => {
          signal.addEventListener('abort', resolve, { once: true });
        });
      }
    } catch {
      // An aborted sleep rejects; which signal fired is read below.
    } finally {
      res.off('close', onClose);
    }
    return outcome();
  }

  function handleError(error: unknown, _req: Request, res: Response, next: NextFunction): void {
    if (res.headersSent) {
      next(error);
      return;
    }
    const rejection = rejectionFor(error);
    if (rejection.status >= 500) options.logger?.error({ err: error }, 'simulator request failed');
    sendRejection(res, rejection);
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => {
    sendJson(res, 200, HEALTHY);
  });
  app.all('/healthz', allowOnly('GET, HEAD'));
  app.get(STATS_PATH, (_req, res) => {
    sendJson(res, 200, { calls });
  });
  app.all(STATS_PATH, allowOnly('GET, HEAD'));
  app.use(faultAdminRoutes(faults, { logger: options.logger }));
  app.post(SOCIAL_PATH, ...serve(people));
  app.all(SOCIAL_PATH, allowOnly('POST'));
  app.post(PROFILE_PATH, ...serve(profile));
  app.all(PROFILE_PATH, allowOnly('POST'));
  app.post(PRIVACY_PATH, ...serve(privacy));
  app.all(PRIVACY_PATH, allowOnly('POST'));
  app.use((_req: Request, res: Response) => {
    sendRejection(res, { status: 404, code: 'NotFound', description: 'No such endpoint' });
  });
  app.use(handleError);

  return {
    app,
    population,
    close() {
      shutdown.abort();
    },
  };
}

/** The throttling body of a simulated 429: as if the burst window were full. */
const SIMULATED_THROTTLING = Object.freeze({
  currentRequests: BURST_LIMIT.maxRequests + 1,
  maxRequests: BURST_LIMIT.maxRequests,
  periodInSeconds: BURST_LIMIT.periodMs / 1000,
});

/** `UPSTREAMS.md`, throttling: 429 with `Retry-After` and the throttling body. */
function sendThrottled(
  res: Response,
  throttling: {
    readonly currentRequests: number;
    readonly maxRequests: number;
    readonly periodInSeconds: number;
    readonly retryAfterSeconds: number;
  },
): void {
  sendJson(
    res,
    429,
    {
      version: 1,
      currentRequests: throttling.currentRequests,
      maxRequests: throttling.maxRequests,
      periodInSeconds: throttling.periodInSeconds,
      limitType: 'Rate',
    },
    { 'Retry-After': String(throttling.retryAfterSeconds) },
  );
}

/** A simulated error: the status, its reason phrase as the code, `Retry-After` on a 503. */
function simulatedError(status: number, retryAfterSeconds: number): Rejection {
  return {
    status,
    code: (STATUS_CODES[status] ?? 'Error').replace(/[^A-Za-z]/g, ''),
    description: 'Simulated failure',
    ...(status === 503 ? { headers: { 'Retry-After': String(retryAfterSeconds) } } : {}),
  };
}

/** Drops the connection with a TCP reset, as a crashed or overloaded upstream might. */
function resetConnection(req: Request): void {
  const socket = req.socket;
  if (socket.destroyed) return;
  socket.resetAndDestroy();
}

/** Credentials of `Authorization: XBL3.0 x=<userhash>;<token>`, or why they are refused. */
function checkAuthorization(header: string | undefined): { userhash: string } | Rejection {
  if (header === undefined || header === '') {
    return {
      status: 401,
      code: 'MissingAuthorization',
      description: 'The Authorization header is required',
    };
  }
  const match = AUTHORIZATION_PATTERN.exec(header);
  const userhash = match?.[1];
  const token = match?.[2];
  if (userhash === undefined || token === undefined) {
    return {
      status: 401,
      code: 'InvalidAuthorization',
      description: 'Authorization must be XBL3.0 x=<userhash>;<token>',
    };
  }
  if (token === REJECTED_TOKENS.expired) {
    return { status: 401, code: 'TokenExpired', description: 'The token has expired' };
  }
  if (token === REJECTED_TOKENS.forbidden) {
    return { status: 403, code: 'Forbidden', description: 'The token does not grant access' };
  }
  return { userhash };
}

/** `UPSTREAMS.md` §1: contract version 2 is required; missing is 400, any other 406. */
function checkProfileContractVersion(req: Request): Rejection | undefined {
  const version = req.get('x-xbl-contract-version');
  if (version === undefined) {
    return {
      status: 400,
      code: 'MissingContractVersion',
      description: 'The x-xbl-contract-version header is required',
    };
  }
  if (version.trim() !== '2') {
    return {
      status: 406,
      code: 'UnsupportedContractVersion',
      description: 'Only x-xbl-contract-version 2 is supported',
    };
  }
  return undefined;
}

const CROSS_NETWORK_DENIED: PermissionResult = Object.freeze({
  isAllowed: false,
  reasons: Object.freeze([Object.freeze({ reason: 'CrossNetworkUserMustBeFriend' })]),
});
const CROSS_NETWORK_ALLOWED: PermissionResult = Object.freeze({ isAllowed: true });

/** Off-network players may not be talked to unless they are friends; the rest is allowed. */
function crossNetworkPermission(permissionId: (typeof PERMISSION_IDS)[number]): PermissionResult {
  return permissionId.startsWith('CommunicateUsing') ? CROSS_NETWORK_DENIED : CROSS_NETWORK_ALLOWED;
}

/** Maps body-parser and unexpected errors to a small JSON rejection. */
function rejectionFor(error: unknown): Rejection {
  const status =
    typeof error === 'object' &&
    error !== null &&
    'status' in error &&
    typeof error.status === 'number'
      ? error.status
      : 500;
  const type =
    typeof error === 'object' && error !== null && 'type' in error && typeof error.type === 'string'
      ? error.type
      : '';
  if (type === 'entity.parse.failed') {
    return { status: 400, code: 'InvalidJson', description: 'The body is not valid JSON' };
  }
  if (status === 413) {
    return { status, code: 'BodyTooLarge', description: `The body exceeds ${MAX_BODY_SIZE}` };
  }
  if (status >= 400 && status < 500) {
    return { status, code: 'BadRequest', description: 'The request cannot be read' };
  }
  return { status: 500, code: 'InternalServerError', description: 'Unexpected simulator error' };
}
