import { z } from 'zod';
import type { Xuid } from '../xbl-vocabulary.js';
import { createUpstreamPool, inBatches, postJson } from './upstream-http.js';
import type { UpstreamOutcome, UpstreamPoolOptions } from './upstream-http.js';
import { buildXblHeaders } from './xbl-headers.js';
import type { CallContext } from './xbl-headers.js';

/** Fixed path: a client query string never reaches it (`?method=add` would follow people). */
const PEOPLE_XUIDS_PATH = '/users/me/people/xuids';

const VERSION_HEADERS = { 'x-xbl-contract-version': '2' } as const;

const personSchema = z.object({
  xuid: z.string(),
  isFavorite: z.boolean().optional(),
  isFollowingCaller: z.boolean().optional(),
  socialNetworks: z.array(z.string()).optional(),
});

/** PeopleList (UPSTREAMS.md §2); unknown members such as `isFriend` are dropped. */
const peopleListSchema = z.object({ people: z.array(personSchema) });

/** One person of the caller's people collection, as the social service described them. */
export type Person = z.infer<typeof personSchema>;

/** Options of the social client. */
export interface SocialClientOptions extends UpstreamPoolOptions {
  readonly batchSize: number;
}

/** The social (people) service client. */
export interface SocialClient {
  /** Which of `xuids` are in the caller's people collection; absent ones are not. */
  getPeople(xuids: readonly Xuid[], context: CallContext): Promise<UpstreamOutcome<Person[]>>;
  close(): Promise<void>;
}

/** Creates the social client on its own keep-alive pool. */
export function createSocialClient(options: SocialClientOptions): SocialClient {
  const upstream = createUpstreamPool(options);
  return {
    getPeople(xuids, context) {
      const logger = context.logger.child({ upstream: 'social' });
      return inBatches(xuids, options.batchSize, async (batch) => {
        const outcome = await postJson(upstream, {
          path: PEOPLE_XUIDS_PATH,
          headers: buildXblHeaders(context, { versionHeaders: VERSION_HEADERS }),
          body: { xuids: batch },
          signal: context.signal,
          schema: peopleListSchema,
          logger,
          xuidCount: batch.length,
        });
        return outcome.ok ? { ok: true, value: outcome.value.people } : outcome;
      });
    },
    close: () => upstream.close(),
  };
}
