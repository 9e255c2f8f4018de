import { z } from 'zod';
import type { ProfileSettingId, Xuid } from '../xbl-vocabulary.js';
import { createUpstreamPool, inBatches, postJson } from './upstream-http.js';
import type { UpstreamOutcome, UpstreamPoolOptions } from './upstream-http.js';
import { buildXblHeaders } from './xbl-headers.js';
import type { CallContext } from './xbl-headers.js';

const BATCH_SETTINGS_PATH = '/users/batch/profile/settings';

/** UPSTREAMS.md §1: the profile service answers 400 without contract version 2. */
const VERSION_HEADERS = { 'x-xbl-contract-version': '2' } as const;

const profileUserSchema = z.object({
  id: z.string(),
  settings: z.array(z.object({ id: z.string(), value: z.string() })),
});

/** Batch profile answer; `hostId`, `isSponsoredUser` and other extras are dropped. */
const profileBatchSchema = z.object({ profileUsers: z.array(profileUserSchema) });

/** One user's profile as the profile service sent it; settings matched by id, never position. */
export type ProfileUser = z.infer<typeof profileUserSchema>;

/** Options of the profile client. */
export interface ProfileClientOptions extends UpstreamPoolOptions {
  readonly batchSize: number;
}

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
export function createProfileClient(options: ProfileClientOptions): ProfileClient {
  const upstream = createUpstreamPool(options);
  return {
    getProfiles(xuids, settings, context) {
      const logger = context.logger.child({ upstream: 'profile' });
      return inBatches(xuids, options.batchSize, async (batch) => {
        const outcome = await postJson(upstream, {
          path: BATCH_SETTINGS_PATH,
          headers: buildXblHeaders(context, { versionHeaders: VERSION_HEADERS }),
          body: { userIds: batch, settings },
          signal: context.signal,
          schema: profileBatchSchema,
          logger,
          xuidCount: batch.length,
        });
        return outcome.ok ? { ok: true, value: outcome.value.profileUsers } : outcome;
      });
    },
    close: () => upstream.close(),
  };
}
