import { z } from 'zod';
import type { PermissionId, Xuid } from '../xbl-vocabulary.js';
import { createUpstreamPool, inBatches, postJson } from './upstream-http.js';
import type { UpstreamOutcome, UpstreamPoolOptions } from './upstream-http.js';
import { buildXblHeaders } from './xbl-headers.js';
import type { CallContext } from './xbl-headers.js';

const PERMISSION_VALIDATE_PATH = '/users/me/permission/validate';

/** UPSTREAMS.md §3: `X-RequestedServiceVersion` is documented as required; the SDK sends the other. */
const VERSION_HEADERS = {
  'x-requestedserviceversion': '1',
  'x-xbl-contract-version': '1',
} as const;

const reasonSchema = z.object({
  reason: z.string(),
  restrictedSetting: z.string().optional(),
  restrictedPrivilege: z.string().optional(),
});

const permissionResultSchema = z.object({
  isAllowed: z.boolean(),
  reasons: z.array(reasonSchema).optional(),
});

const userResponseSchema = z.object({
  // `anonymousUser` entries have no xuid; they are never asked for, so they are ignored.
  user: z.object({ xuid: z.string().optional() }),
  permissions: z.array(permissionResultSchema),
});

const validateResponseSchema = z.object({ responses: z.array(userResponseSchema) });

/** One permission's answer, passed to the client as the privacy service gave it. */
export type PermissionResult = z.infer<typeof permissionResultSchema>;

/** One user's answer: results are positional, result i answers asked permission i. */
export type UserPermissions = z.infer<typeof userResponseSchema>;

/** Options of the privacy client. */
export interface PrivacyClientOptions extends UpstreamPoolOptions {
  readonly batchSize: number;
}

/** The privacy service client. Its answers are never cached or shared between callers. */
export interface PrivacyClient {
  validatePermissions(
    xuids: readonly Xuid[],
    permissions: readonly PermissionId[],
    context: CallContext,
  ): Promise<UpstreamOutcome<UserPermissions[]>>;
  close(): Promise<void>;
}

/** Creates the privacy client on its own keep-alive pool. */
export function createPrivacyClient(options: PrivacyClientOptions): PrivacyClient {
  const upstream = createUpstreamPool(options);
  return {
    validatePermissions(xuids, permissions, context) {
      const logger = context.logger.child({ upstream: 'privacy' });
      return inBatches(xuids, options.batchSize, async (batch) => {
        const outcome = await postJson(upstream, {
          path: PERMISSION_VALIDATE_PATH,
          headers: buildXblHeaders(context, { versionHeaders: VERSION_HEADERS }),
          body: { users: batch.map((xuid) => ({ xuid })), permissions },
          signal: context.signal,
          schema: validateResponseSchema,
          logger,
          xuidCount: batch.length,
        });
        return outcome.ok ? { ok: true, value: outcome.value.responses } : outcome;
      });
    },
    close: () => upstream.close(),
  };
}
