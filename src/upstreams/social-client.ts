import { z } from 'zod';
import type { Xuid } from '../xbl-vocabulary.js';
import { createUpstreamPool, sendInBatches } from './upstream-http.js';
import type { UpstreamClientOptions, UpstreamOutcome } from './upstream-http.js';
import type { CallContext } from './xbl-headers.js';

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

/** The social (people) service client. */
export interface SocialClient {
  /** Which of `xuids` are in the caller's people collection; absent ones are not. */
  getPeople(xuids: readonly Xuid[], context: CallContext): Promise<UpstreamOutcome<Person[]>>;
  close(): Promise<void>;
}

/** Creates the social client on its own keep-alive pool. */
export function createSocialClient(options: UpstreamClientOptions): SocialClient {
  const upstream = createUpstreamPool(options);
  const call = {
    upstream: 'social',
    // Fixed path: a client query string never reaches it (`?method=add` would follow people).
    path: '/users/me/people/xuids',
    versionHeaders: { 'x-xbl-contract-version': '2' },
    schema: peopleListSchema,
    batchSize: options.batchSize,
    throttle: options.throttle,
    toBody: (batch: readonly Xuid[]) => ({ xuids: batch }),
    pick: (answer: z.infer<typeof peopleListSchema>) => answer.people,
  } as const;
  return {
    getPeople: (xuids, context) => sendInBatches(upstream, call, xuids, context),
    close: () => upstream.close(),
  };
}
