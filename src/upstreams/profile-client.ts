import { z } from 'zod';
import type { CallContext } from '../call-context.js';
import type { ProfileSettingId, Xuid } from '../xbl-vocabulary.js';
import { sendInBatches } from './upstream-batches.js';
import type { BatchCall } from './upstream-batches.js';
import { createUpstreamSender } from './upstream-http.js';
import type { UpstreamClientOptions } from './upstream-http.js';
import type { UpstreamEndpoint, UpstreamOutcome } from './upstream-pipeline.js';

const profileUserSchema = z.object({
  id: z.string(),
  settings: z.array(z.object({ id: z.string(), value: z.string() })),
});

/** Batch profile answer; `hostId`, `isSponsoredUser` and other extras are dropped. */
const profileBatchSchema = z.object({ profileUsers: z.array(profileUserSchema) });

type ProfileBatch = z.infer<typeof profileBatchSchema>;

/** One user's profile as the profile service sent it; settings matched by id, never position. */
export type ProfileUser = z.infer<typeof profileUserSchema>;

/** The profile service client. */
export interface ProfileClient {
  /** The requested settings of `xuids`; unknown users are simply absent from the answer. */
  getProfiles(
    xuids: readonly Xuid[],
    settings: readonly ProfileSettingId[],
    context: CallContext,
  ): Promise<UpstreamOutcome<readonly ProfileUser[]>>;
  close(): Promise<void>;
}

const PROFILE_SETTINGS: UpstreamEndpoint<ProfileBatch> = {
  upstream: 'profile',
  path: '/users/batch/profile/settings',
  // UPSTREAMS.md §1: the profile service answers 400 without contract version 2.
  versionHeaders: { 'x-xbl-contract-version': '2' },
  schema: profileBatchSchema,
};

/** Creates the profile client on its own keep-alive pool. */
export function createProfileClient(options: UpstreamClientOptions): ProfileClient {
  const upstream = createUpstreamSender(options);
  const call: BatchCall<ProfileBatch, ProfileUser, readonly ProfileSettingId[]> = {
    endpoint: PROFILE_SETTINGS,
    batchSize: options.batchSize,
    toBody: (batch, settings) => ({ userIds: batch, settings }),
    pick: (answer) => answer.profileUsers,
  };
  return {
    getProfiles: (xuids, settings, context) =>
      sendInBatches(upstream.send, call, { xuids, args: settings, context }),
    close: upstream.close,
  };
}
