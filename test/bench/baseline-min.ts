// The bench's same-run baseline: the least a friend-card aggregator can do. Raw node:http, one
// keep-alive undici Pool per upstream, the three upstream calls at once with the headers the
// gateway sends, the same merge and privacy rule (a profile only where ViewTargetProfile is
// allowed), and nothing else: no framework, no cache, no validation, no logging, no tracing
// headers, one upstream call per service (at most 100 XUIDs), only `xuids` read from the query.
//
// The merge is written out here rather than imported from src/friend-cards/merge-cards.ts: that
// module's input types come from the upstream clients and the profile cache, and the baseline
// must stay the same while those change, or it would stop being a fixed yardstick.
//
//   node --import tsx test/bench/baseline-min.ts
//   env: PORT (0 = any free port), HOST (127.0.0.1), UPSTREAM_URL (the three services' origin)
//
// Logs one JSON line {"msg":"baseline listening","port":…} once it listens; SIGTERM stops it.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const SOCIAL_PATH = '/users/me/people/xuids';
const PROFILE_PATH = '/users/batch/profile/settings';
const PRIVACY_PATH = '/users/me/permission/validate';
/** The gateway's defaults when the client names no settings or permissions. */
const SETTINGS = ['GameDisplayName', 'GameDisplayPicRaw', 'Gamerscore', 'Gamertag'] as const;
const VIEW_PROFILE = 'ViewTargetProfile';
/** As many keep-alive connections per upstream as the gateway's UPSTREAM_CONNECTIONS default. */
const CONNECTIONS_PER_UPSTREAM = 64;

interface PeopleAnswer {
  readonly people: readonly {
    readonly xuid: string;
    readonly isFavorite?: boolean;
    readonly isFollowingCaller?: boolean;
    readonly socialNetworks?: readonly string[];
  }[];
}

interface ProfileAnswer {
  readonly profileUsers: readonly {
    readonly id: string;
    readonly settings: readonly { readonly id: string; readonly value: string }[];
  }[];
}

interface PermissionResult {
  readonly isAllowed: boolean;
  readonly reasons?: readonly unknown[];
}

interface PrivacyAnswer {
  readonly responses: readonly {
    readonly user: { readonly xuid?: string };
    readonly permissions: readonly PermissionResult[];
  }[];
}

interface Relationship {
  readonly inPeopleCollection: boolean;
  readonly isFavorite: boolean;
  readonly isFollowingCaller: boolean;
  readonly socialNetworks: readonly string[];
}

const NOT_IN_PEOPLE: Relationship = Object.freeze({
  inPeopleCollection: false,
  isFavorite: false,
  isFollowingCaller: false,
  socialNetworks: [],
});

const upstreamUrl = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:8081';
const poolOptions = { connections: CONNECTIONS_PER_UPSTREAM, keepAliveTimeout: 30_000 };
const pools = {
  social: new Pool(upstreamUrl, poolOptions),
  profile: new Pool(upstreamUrl, poolOptions),
  privacy: new Pool(upstreamUrl, poolOptions),
};

/** POSTs JSON and returns the parsed answer, or undefined for anything but a 200 with JSON. */
async function postJson<T>(
  pool: Pool,
  path: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<T | undefined> {
  try {
    const response = await pool.request({
      method: 'POST',
      path,
      headers,
      body: JSON.stringify(body),
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return undefined;
    }
    return (await response.body.json()) as T;
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'private, no-store',
  });
  res.end(text);
}

async function getCards(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const [path = '', query = ''] = (req.url ?? '').split('?', 2);
  if (req.method !== 'GET' || path !== '/friends-with-profiles') {
    send(res, 404, { title: 'Not found' });
    return;
  }
  const authorization = req.headers.authorization;
  const raw = new URLSearchParams(query).get('xuids');
  if (authorization === undefined || raw === null || raw === '') {
    send(res, 400, { title: 'Authorization and xuids are required' });
    return;
  }
  const xuids = [...new Set(raw.split(','))];
  const json = { 'content-type': 'application/json', accept: 'application/json', authorization };

  const [people, profiles, privacy] = await Promise.all([
    postJson<PeopleAnswer>(
      pools.social,
      SOCIAL_PATH,
      { ...json, 'x-xbl-contract-version': '2' },
      { xuids },
    ),
    postJson<ProfileAnswer>(
      pools.profile,
      PROFILE_PATH,
      { ...json, 'x-xbl-contract-version': '2' },
      { userIds: xuids, settings: SETTINGS },
    ),
    postJson<PrivacyAnswer>(
      pools.privacy,
      PRIVACY_PATH,
      { ...json, 'x-requestedserviceversion': '1', 'x-xbl-contract-version': '1' },
      { users: xuids.map((xuid) => ({ xuid })), permissions: [VIEW_PROFILE] },
    ),
  ]);

  const relationships = new Map<string, Relationship>();
  for (const person of people?.people ?? []) {
    relationships.set(person.xuid, {
      inPeopleCollection: true,
      isFavorite: person.isFavorite ?? false,
      isFollowingCaller: person.isFollowingCaller ?? false,
      socialNetworks: person.socialNetworks ?? [],
    });
  }
  const values = new Map<string, Map<string, string>>();
  for (const user of profiles?.profileUsers ?? []) {
    values.set(user.id, new Map(user.settings.map((setting) => [setting.id, setting.value])));
  }
  const viewProfile = new Map<string, PermissionResult>();
  for (const { user, permissions } of privacy?.responses ?? []) {
    const result = permissions[0];
    if (user.xuid !== undefined && result !== undefined) viewProfile.set(user.xuid, result);
  }

  const cards = xuids.map((xuid) => {
    const permission = viewProfile.get(xuid);
    const profile = values.get(xuid);
    // Privacy fails closed: no answer means no profile, and only isAllowed: true shows one.
    const profileStatus =
      permission === undefined
        ? 'unavailable'
        : !permission.isAllowed
          ? 'denied'
          : profile === undefined
            ? 'unavailable'
            : 'ok';
    return {
      xuid,
      relationship: people === undefined ? null : (relationships.get(xuid) ?? NOT_IN_PEOPLE),
      profileStatus,
      profile:
        profileStatus === 'ok' && profile !== undefined
          ? Object.fromEntries(SETTINGS.map((id) => [id, profile.get(id) ?? null]))
          : null,
      permissions: permission === undefined ? null : { [VIEW_PROFILE]: permission },
    };
  });
  const errors = [
    ...(people === undefined ? [{ upstream: 'social', code: 'unavailable' }] : []),
    ...(profiles === undefined ? [{ upstream: 'profile', code: 'unavailable' }] : []),
    ...(privacy === undefined ? [{ upstream: 'privacy', code: 'unavailable' }] : []),
  ];
  send(res, 200, { cards, partial: errors.length > 0, errors });
}

const server = createServer((req, res) => {
  getCards(req, res).catch(() => {
    if (!res.headersSent) send(res, 500, { title: 'Unexpected error' });
  });
});

server.listen(
  { port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' },
  () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ msg: 'baseline listening', port })}\n`);
  },
);

process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void Promise.all(Object.values(pools).map((pool) => pool.destroy()));
});
