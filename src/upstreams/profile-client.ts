import { z } from 'zod';
import type { CallContext } from '../call-context.js';
import { PROFILE_SETTING_IDS } from '../xbl-vocabulary.js';
import type { ProfileSettingId, Xuid } from '../xbl-vocabulary.js';
import { sendInBatches } from './upstream-batches.js';
import type { BatchCall } from './upstream-batches.js';
import { createUpstreamSender } from './upstream-http.js';
import type { UpstreamClientOptions } from './upstream-http.js';
import type { UpstreamEndpoint, UpstreamOutcome } from './upstream-pipeline.js';

const settingSchema = z.object({ id: z.string(), value: z.string() });

const KNOWN_SETTING_IDS: ReadonlySet<unknown> = new Set(PROFILE_SETTING_IDS);

/**
 * A user's settings. Only a known setting id can have been asked for, so only entries with one
 * are checked and kept; any other entry (`{"id":"__proto__","value":{…}}`, `{"id":"constructor"}`,
 * a setting the service added) is dropped whatever its shape instead of failing the whole
 * answer (API.md §5 rule 7). A known setting with a wrong shape is still `bad_response`.
 */
const settingsSchema = z.array(z.unknown()).transform((entries, ctx) => {
  const kept: z.infer<typeof settingSchema>[] = [];
  for (const [index, entry] of entries.entries()) {
    const id = (entry as { id?: unknown } | null)?.id;
    if (!KNOWN_SETTING_IDS.has(id)) continue;
    const parsed = settingSchema.safeParse(entry);
    if (parsed.success) kept.push(parsed.data);
    else
      ctx.addIssue({
        code: 'custom',
        message: `setting '${String(id)}' is malformed`,
        path: [index],
      });
  }
  return kept;
});

const profileUserSchema = z.object({ id: z.string(), settings: settingsSchema });

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
