import { z } from 'zod';
import type { ProfileSettingId, Xuid } from '../xbl-vocabulary.js';
import { createUpstreamPool, sendInBatches } from './upstream-http.js';
import type { UpstreamClientOptions, UpstreamOutcome } from './upstream-http.js';
import type { CallContext } from './xbl-headers.js';

const profileUserSchema = z.object({
  id: z.string(),
  settings: z.array(z.object({ id: z.string(), value: z.string() })),
});

/** Batch profile answer; `hostId`, `isSponsoredUser` and other extras are dropped. */
const profileBatchSchema = z.object({ profileUsers: z.array(profileUserSchema) });

/** One user's profile as the profile service sent it; settings matched by id, never position. */
export type ProfileUser = z.infer<typeof profileUserSchema>;

/** The profile service client. */
export interface ProfileClient {
  /** The requested settings of `xuids`; unknown users are simply absent from the answer. */
  getProfiles(
    xuids: readonly Xuid[],
    settings: readonly ProfileSettingId[],
    context: CallContext,
  ): Promise<UpstreamOutcome<ProfileUser[]>>;
  close(): Promise<void>;
}

/** Creates the profile client on its own keep-alive pool. */
export function createProfileClient(options: UpstreamClientOptions): ProfileClient {
  const upstream = createUpstreamPool(options);
  return {
    getProfiles(xuids, settings, context) {
      const call = {
        upstream: 'profile',
        path: '/users/batch/profile/settings',
        // UPSTREAMS.md §1: the profile service answers 400 without contract version 2.
        versionHeaders: { 'x-xbl-contract-version': '2' },
        schema: profileBatchSchema,
        batchSize: options.batchSize,
        throttle: options.throttle,
        toBody: (batch: readonly Xuid[]) => ({ userIds: batch, settings }),
        pick: (answer: z.infer<typeof profileBatchSchema>) => answer.profileUsers,
      } as const;
      return sendInBatches(upstream, call, xuids, context);
    },
    close: () => upstream.close(),
  };
}
