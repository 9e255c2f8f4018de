import { z } from 'zod';
import type { CallContext } from '../call-context.js';
import type { PermissionId, Xuid } from '../xbl-vocabulary.js';
import { sendInBatches } from './upstream-batches.js';
import type { BatchCall } from './upstream-batches.js';
import { createUpstreamSender } from './upstream-http.js';
import type { UpstreamClientOptions } from './upstream-http.js';
import type { UpstreamEndpoint, UpstreamOutcome } from './upstream-pipeline.js';

const reasonSchema = z.object({
  reason: z.string(),
  restrictedSetting: z.string().optional(),
  restrictedPrivilege: z.string().optional(),
});

/** One permission's answer; the card passes it on as given (API.md §3 rule 3). */
export const permissionResultSchema = z.object({
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
  ): Promise<UpstreamOutcome<readonly UserPermissions[]>>;
  close(): Promise<void>;
}

type ValidateAnswer = z.infer<typeof validateResponseSchema>;

const PERMISSION_VALIDATE: UpstreamEndpoint<ValidateAnswer> = {
  upstream: 'privacy',
  path: '/users/me/permission/validate',
  // UPSTREAMS.md §3: X-RequestedServiceVersion is documented as required; the SDK sends the
  // contract version header instead, so both go.
  versionHeaders: { 'x-requestedserviceversion': '1', 'x-xbl-contract-version': '1' },
  schema: validateResponseSchema,
};

/** Creates the privacy client on its own keep-alive pool. */
export function createPrivacyClient(options: UpstreamClientOptions): PrivacyClient {
  const upstream = createUpstreamSender(options);
  const call: BatchCall<ValidateAnswer, UserPermissions, readonly PermissionId[]> = {
    endpoint: PERMISSION_VALIDATE,
    batchSize: options.batchSize,
    toBody: (batch, permissions) => ({ users: batch.map((xuid) => ({ xuid })), permissions }),
    pick: (answer) => answer.responses,
  };
  return {
    validatePermissions: (xuids, permissions, context) =>
      sendInBatches(upstream.send, call, { xuids, args: permissions, context }),
    close: upstream.close,
  };
}
