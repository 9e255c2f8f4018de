import { z } from 'zod';
import { InvalidRequestError } from '../errors.js';
import type { ParameterIssue } from '../errors.js';
import type { FriendCardsRequest } from '../friend-cards/friend-card.js';
import {
  DECIMAL_XUID,
  DEFAULT_SETTINGS,
  PERMISSION_IDS,
  PROFILE_SETTING_IDS,
  VIEW_PROFILE_PERMISSION,
} from '../xbl-vocabulary.js';

/** Largest XUID: XUIDs are unsigned 64-bit integers. */
const MAX_XUID = '18446744073709551615';

/** Options of the query schema. */
export interface FriendsQueryOptions {
  /** Most distinct XUIDs one request may ask for (API.md §3: 100). */
  readonly maxXuids: number;
}

/** One XUID of the list; `abort` leaves the range check to decimal strings only. */
const xuidItem = z
  .string()
  .regex(DECIMAL_XUID, {
    error: (issue) =>
      issue.input === ''
        ? 'an item is empty'
        : `'${String(issue.input).slice(0, 40)}' is not a decimal XUID (1-20 digits, no sign, no leading zero)`,
    abort: true,
  })
  // Digit strings of one length compare as their numbers do; only 20 digits can be too large.
  .refine((xuid) => xuid.length < MAX_XUID.length || xuid <= MAX_XUID, {
    error: (issue) => `'${String(issue.input)}' is larger than ${MAX_XUID}`,
  })
  .meta({ description: `A XUID: a decimal unsigned 64-bit integer up to ${MAX_XUID}` });

function knownId<const Ids extends readonly [string, ...string[]]>(ids: Ids) {
  return z.enum(ids, {
    error: (issue) =>
      issue.input === ''
        ? 'an item is empty'
        : `'${String(issue.input).slice(0, 60)}' is not a known id`,
  });
}

/**
 * A comma-separated list given once, de-duplicated in first-seen order, then each item checked
 * by `items`. The OpenAPI document shows the checked list (`io: 'output'`): an array of `items`
 * sent as one comma-separated value (`style: form`, `explode: false`).
 */
function commaList<Item extends z.ZodType<string, string>>(
  items: z.ZodArray<Item>,
): z.ZodPipe<z.ZodPipe<z.ZodString, z.ZodTransform<string[], string>>, z.ZodArray<Item>> {
  return z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? 'the parameter is required'
          : 'it must be given once, as a comma-separated list',
    })
    .transform((raw) => [...new Set(raw.split(','))])
    .pipe(items);
}

/** Builds the zod schema of `GET /friends-with-profiles`'s query; other parameters are ignored. */
export function createFriendsQuerySchema(options: FriendsQueryOptions) {
  return z.object({
    xuids: commaList(
      z
        .array(xuidItem)
        .min(1)
        .max(options.maxXuids, `at most ${options.maxXuids} distinct XUIDs are allowed`),
    ).meta({
      description: `The players to get cards for: 1 to ${options.maxXuids} XUIDs after duplicates are removed, each 1-20 digits with no sign or leading zero, at most ${MAX_XUID}; one card each, in request order`,
      examples: [['2533274791381930', '2533274792986770']],
    }),
    settings: commaList(z.array(knownId(PROFILE_SETTING_IDS)).min(1))
      .default([...DEFAULT_SETTINGS])
      .meta({
        description: 'Profile settings to show on each card, as the profile service names them',
      }),
    permissions: commaList(z.array(knownId(PERMISSION_IDS)).min(1))
      .default([VIEW_PROFILE_PERMISSION])
      .meta({
        description: `Permissions to report on each card; ${VIEW_PROFILE_PERMISSION} is always checked, since it decides whether the profile is shown, but only reported when asked`,
      }),
  });
}

/** The parsed query schema's type. */
export type FriendsQuerySchema = ReturnType<typeof createFriendsQuerySchema>;

/** `xuids[]=…` and the like: a known parameter in array shape (API.md §5 rule 8). */
const ARRAY_SHAPED = /^(xuids|settings|permissions)\[/;

/**
 * Validates the query (as the simple query parser gives it) into a use-case request; throws a
 * 400 naming each bad parameter, with the first problem found in it.
 */
export function parseFriendsQuery(query: unknown, schema: FriendsQuerySchema): FriendCardsRequest {
  const fields = (typeof query === 'object' && query !== null ? query : {}) as Record<
    string,
    unknown
  >;
  const issues = new Map<string, string>();
  for (const key of Object.keys(fields)) {
    const name = ARRAY_SHAPED.exec(key)?.[1];
    if (name !== undefined && !issues.has(name)) {
      issues.set(name, `'${key.slice(0, 40)}' is not a plain parameter`);
    }
  }
  const parsed = schema.safeParse(query);
  for (const issue of parsed.error?.issues ?? []) {
    const name = String(issue.path[0] ?? 'query');
    if (!issues.has(name)) issues.set(name, issue.message);
  }
  if (!parsed.success || issues.size > 0) {
    throw new InvalidRequestError(
      [...issues].map(([parameter, message]): ParameterIssue => ({
        parameter,
        message: `Cannot parse ${parameter}: ${message}`,
      })),
    );
  }
  return parsed.data;
}
