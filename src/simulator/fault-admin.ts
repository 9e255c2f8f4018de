import express from 'express';
import type { NextFunction, Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { allowOnly, rejectInvalidBody, sendJson, sendRejection } from './answers.js';
import { faultsUpdateSchema, type Faults, type FaultSettings } from './faults.js';

/** The simulator's fault settings, read and changed at run time; not an Xbox Live path. */
export const FAULTS_PATH = '/simulator/faults';

/** Addresses of the loopback interface as a socket reports them (IPv4, IPv6, IPv4-mapped). */
const LOOPBACK_ADDRESSES: ReadonlySet<string> = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

const MAX_UPDATE_SIZE = '16kb';

/** `DELETE ?to=start` (the default) restores the start settings; `?to=none` clears every fault. */
const deleteQuerySchema = z.strictObject({
  to: z.enum(['start', 'none'], { error: "must be 'start' or 'none'" }).optional(),
});

/**
 * Whether a socket's remote address is this machine's loopback interface. Only the socket counts:
 * no header (`X-Forwarded-For`…) can make a remote caller look local.
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  return address !== undefined && LOOPBACK_ADDRESSES.has(address);
}

/**
 * `GET`, `PUT` and `DELETE` of `FAULTS_PATH`. They answer only callers on the loopback interface;
 * any other caller gets the 404 of an unknown path, so the route does not show from outside.
 */
export function faultAdminRoutes(
  faults: Faults,
  options: { readonly logger?: Pick<Logger, 'info'> | undefined } = {},
): Router {
  const router = express.Router();
  const parseJson = express.json({ limit: MAX_UPDATE_SIZE });

  function sendSettings(res: Response, settings: FaultSettings): void {
    sendJson(res, 200, settings, { 'Cache-Control': 'no-store' });
  }

  function logChange(change: string, settings: FaultSettings): void {
    options.logger?.info({ change, faults: settings }, 'simulator faults changed');
  }

  router.use(FAULTS_PATH, (req: Request, res: Response, next: NextFunction) => {
    if (isLoopbackAddress(req.socket.remoteAddress)) {
      next();
      return;
    }
    sendRejection(res, { status: 404, code: 'NotFound', description: 'No such endpoint' });
  });
  router.get(FAULTS_PATH, (_req, res) => {
    sendSettings(res, faults.settings());
  });
  router.put(FAULTS_PATH, parseJson, (req, res) => {
    const parsed = faultsUpdateSchema.safeParse(req.body);
    if (!parsed.success) {
      rejectInvalidBody(res, parsed.error);
      return;
    }
    const settings = faults.update(parsed.data);
    logChange('update', settings);
    sendSettings(res, settings);
  });
  router.delete(FAULTS_PATH, (req, res) => {
    const parsed = deleteQuerySchema.safeParse(req.query);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      sendRejection(res, {
        status: 400,
        code: 'InvalidQuery',
        description:
          issue?.code === 'unrecognized_keys'
            ? 'Only the query parameter to=start|none is allowed'
            : "to must be 'start' or 'none'",
      });
      return;
    }
    const to = parsed.data.to ?? 'start';
    const settings = to === 'none' ? faults.clear() : faults.reset();
    logChange(to === 'none' ? 'clear' : 'reset', settings);
    sendSettings(res, settings);
  });
  router.all(FAULTS_PATH, allowOnly('GET, HEAD, PUT, DELETE'));
  return router;
}
