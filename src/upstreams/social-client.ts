import { z } from 'zod';
import type { CallContext } from '../call-context.js';
import type { Xuid } from '../xbl-vocabulary.js';
import { sendInBatches } from './upstream-batches.js';
import type { BatchCall } from './upstream-batches.js';
import { createUpstreamSender } from './upstream-http.js';
import type { UpstreamClientOptions } from './upstream-http.js';
import type { UpstreamOutcome } from './upstream-pipeline.js';

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
  getPeople(
    xuids: readonly Xuid[],
    context: CallContext,
  ): Promise<UpstreamOutcome<readonly Person[]>>;
  close(): Promise<void>;
}

/** Creates the social client on its own keep-alive pool. */
export function createSocialClient(options: UpstreamClientOptions): SocialClient {
  const upstream = createUpstreamSender(options);
  const peopleByXuids: BatchCall<z.infer<typeof peopleListSchema>, Person> = {
    endpoint: {
      upstream: 'social',
      // Fixed path: a client query string never reaches it (`?method=add` would follow people).
      path: '/users/me/people/xuids',
      versionHeaders: { 'x-xbl-contract-version': '2' },
      schema: peopleListSchema,
    },
    batchSize: options.batchSize,
    toBody: (batch) => ({ xuids: batch }),
    pick: (answer) => answer.people,
  };
  return {
    getPeople: (xuids, context) =>
      sendInBatches(upstream.send, peopleByXuids, { xuids, args: undefined, context }),
    close: upstream.close,
  };
}
