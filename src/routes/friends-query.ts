import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import type { ParameterIssue } from '../errors.js';
import type { FriendCardsRequest } from '../friend-cards/friend-card.js';
import {
  DEFAULT_SETTINGS,
  PERMISSION_IDS,
  PROFILE_SETTING_IDS,
  VIEW_PROFILE_PERMISSION,
} from '../xbl-vocabulary.js';

/** Largest XUID: XUIDs are unsigned 64-bit integers. */
const MAX_XUID = 18_446_744_073_709_551_615n;
const DECIMAL_XUID = /^[1-9][0-9]{0,19}$/;

/** Options of the query schema. */
export interface FriendsQueryOptions {
  /** Most distinct XUIDs one request may ask for (API.md §3: 100). */
  readonly maxXuids: number;
}

/** A comma-separated list given once; each item checked by `checkItem`, duplicates removed. */
function commaList(name: string, checkItem: (item: string) => string | undefined) {
  return z
    .string({ error: `Cannot parse ${name}: it must be given once, as a comma-separated list` })
    .transform((raw, ctx) => {
      const items = raw.split(',');
      for (const item of items) {
        const problem = checkItem(item);
        if (problem !== undefined) {
          ctx.addIssue({ code: 'custom', message: `Cannot parse ${name}: ${problem}` });
          return z.NEVER;
        }
      }
      return [...new Set(items)];
    });
}

function checkXuid(item: string): string | undefined {
  if (item === '') return 'an item is empty';
  if (!DECIMAL_XUID.test(item)) {
    return `'${item.slice(0, 40)}' is not a decimal XUID (1-20 digits, no sign, no leading zero)`;
  }
  return BigInt(item) > MAX_XUID ? `'${item}' is larger than 18446744073709551615` : undefined;
}

function knownId(known: readonly string[]) {
  const set = new Set(known);
  return (item: string) => (set.has(item) ? undefined : `'${item.slice(0, 60)}' is not a known id`);
}

/** Builds the zod schema of `GET /friends-with-profiles`'s query; other parameters are ignored. */
export function createFriendsQuerySchema(options: FriendsQueryOptions) {
  return z.object({
    xuids: commaList('xuids', checkXuid).refine((xuids) => xuids.length <= options.maxXuids, {
      message: `Cannot parse xuids: at most ${options.maxXuids} distinct XUIDs are allowed`,
    }),
    settings: commaList('settings', knownId(PROFILE_SETTING_IDS)).optional(),
    permissions: commaList('permissions', knownId(PERMISSION_IDS)).optional(),
  });
}

/** The parsed query schema's type. */
export type FriendsQuerySchema = ReturnType<typeof createFriendsQuerySchema>;

/** `xuids[]=…` and the like: a known parameter in array shape (API.md §5 rule 8). */
const ARRAY_SHAPED = /^(xuids|settings|permissions)\[/;

/**
 * Validates the query (as the simple query parser gives it) into a use-case request; throws a
 * 400 naming each bad parameter.
 */
export function parseFriendsQuery(query: unknown, schema: FriendsQuerySchema): FriendCardsRequest {
  const fields = (typeof query === 'object' && query !== null ? query : {}) as Record<
    string,
    unknown
  >;
  const arrayShaped = Object.keys(fields).flatMap((key) => {
    const name = ARRAY_SHAPED.exec(key)?.[1];
    return name === undefined
      ? []
      : [
          {
            parameter: name,
            message: `Cannot parse ${name}: '${key.slice(0, 40)}' is not a plain parameter`,
          },
        ];
  });
  const parsed = schema.safeParse(query);
  if (!parsed.success || arrayShaped.length > 0) {
    const issues = (parsed.error?.issues ?? []).map((issue): ParameterIssue => ({
      parameter: String(issue.path[0] ?? 'query'),
      message:
        issue.path[0] === 'xuids' && fields.xuids === undefined
          ? 'Cannot parse xuids: the parameter is required'
          : issue.message,
    }));
    throw new InvalidRequestError([
      ...arrayShaped,
      ...issues.filter((i) => !arrayShaped.some((a) => a.parameter === i.parameter)),
    ]);
  }
  const { xuids, settings, permissions } = parsed.data;
  return {
    xuids,
    settings: (settings ?? DEFAULT_SETTINGS) as FriendCardsRequest['settings'],
    permissions: (permissions ?? [VIEW_PROFILE_PERMISSION]) as FriendCardsRequest['permissions'],
  };
}
