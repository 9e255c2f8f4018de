import { z } from 'zod';
import type { PermissionId, Xuid } from '../xbl-vocabulary.js';
import { createUpstreamPool, sendInBatches } from './upstream-http.js';
import type { UpstreamClientOptions, UpstreamOutcome } from './upstream-http.js';
import type { CallContext } from './xbl-headers.js';

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
export function createPrivacyClient(options: UpstreamClientOptions): PrivacyClient {
  const upstream = createUpstreamPool(options);
  return {
    validatePermissions(xuids, permissions, context) {
      const call = {
        upstream: 'privacy',
        path: '/users/me/permission/validate',
        // UPSTREAMS.md §3: X-RequestedServiceVersion is documented as required; the SDK sends
        // the contract version header instead, so both go.
        versionHeaders: { 'x-requestedserviceversion': '1', 'x-xbl-contract-version': '1' },
        schema: validateResponseSchema,
        batchSize: options.batchSize,
        throttle: options.throttle,
        toBody: (batch: readonly Xuid[]) => ({
          users: batch.map((xuid) => ({ xuid })),
          permissions,
        }),
        pick: (answer: z.infer<typeof validateResponseSchema>) => answer.responses,
      } as const;
      return sendInBatches(upstream, call, xuids, context);
    },
    close: () => upstream.close(),
  };
}
