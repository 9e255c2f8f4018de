import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The three upstreams by name. */
export type FakeUpstreamName = 'social' | 'profile' | 'privacy';

/** One call a fake upstream received. */
export interface RecordedCall {
  readonly upstream: FakeUpstreamName;
  readonly method: string;
  /** Path and query exactly as received. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body, or the raw text when it was not JSON. */
  readonly body: unknown;
}

/** What a fake answers; `body` is sent as JSON unless `rawBody` is given. */
export interface FakeResponse {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly rawBody?: string;
  /** Wait this long before answering. */
  readonly delayMs?: number;
  /** Never answer (the gateway's deadline must cut the call). */
  readonly hang?: boolean;
  /** Destroy the socket instead of answering (a connection reset). */
  readonly reset?: boolean;
}

/** Decides a fake upstream's answer to one call. */
export type Responder = (call: RecordedCall) => FakeResponse | Promise<FakeResponse>;

/** Three loopback servers standing in for social, profile and privacy. */
export interface FakeUpstreams {
  /** Base URLs as `XBL_*_URL` take them. */
  readonly env: {
    readonly XBL_SOCIAL_URL: string;
    readonly XBL_PROFILE_URL: string;
    readonly XBL_PRIVACY_URL: string;
  };
  /** Every call received, in arrival order. */
  readonly calls: RecordedCall[];
  callsTo(upstream: FakeUpstreamName): RecordedCall[];
  /** Replaces one upstream's responder. */
  respond(upstream: FakeUpstreamName, responder: Responder): void;
  /**
   * How many calls to `upstream` the gateway abandoned: their connection closed before the fake
   * answered (an aborted call). A fake's own `reset` and its closing at the end do not count.
   */
  abandonedCount(upstream: FakeUpstreamName): number;
  /** Resolves once `count` calls to `upstream` have been abandoned (see `abandonedCount`). */
  callsAbandoned(upstream: FakeUpstreamName, count?: number): Promise<void>;
  close(): Promise<void>;
}

/** Sample values every default profile answer uses: `<setting> of <xuid>`. */
export function sampleSetting(xuid: string, setting: string): string {
  return `${setting} of ${xuid}`;
}

/** The JSON body the gateway sends to social. */
export interface SocialBody {
  readonly xuids: string[];
}

/** The JSON body the gateway sends to profile. */
export interface ProfileBody {
  readonly userIds: string[];
  readonly settings: string[];
}

/** The JSON body the gateway sends to privacy. */
export interface PrivacyBody {
  readonly users: { xuid: string }[];
  readonly permissions: string[];
}

/** The XUIDs one recorded call carries, whatever the upstream's body shape. */
export function xuidsOf(call: RecordedCall): string[] {
  const body = call.body as {
    xuids?: string[];
    userIds?: string[];
    users?: { xuid: string }[];
  };
  return body.xuids ?? body.userIds ?? body.users?.map((user) => user.xuid) ?? [];
}

/** Social default: nobody is in the caller's people collection. */
export const emptyPeople: Responder = () => ({ body: { people: [], totalCount: 0 } });

/** Profile default: every asked user with every asked setting, values from `sampleSetting`. */
export const allProfiles: Responder = (call) => {
  const { userIds, settings } = call.body as ProfileBody;
  return {
    body: {
      profileUsers: userIds.map((id) => ({
        id,
        hostId: id,
        isSponsoredUser: false,
        settings: settings.map((setting) => ({ id: setting, value: sampleSetting(id, setting) })),
      })),
    },
  };
};

/** Privacy default: every permission allowed for every asked user. */
export const allowEverything: Responder = (call) => {
  const { users, permissions } = call.body as PrivacyBody;
  return {
    body: {
      responses: users.map((user) => ({
        user: { xuid: user.xuid },
        permissions: permissions.map(() => ({ isAllowed: true })),
      })),
    },
  };
};

/** Privacy answer that denies `ViewTargetProfile` to `deniedXuids` and allows the rest. */
export function denyProfileTo(
  deniedXuids: readonly string[],
  reason = 'BlockListRestrictsTarget',
): Responder {
  const denied = new Set(deniedXuids);
  return (call) => {
    const { users, permissions } = call.body as PrivacyBody;
    return {
      body: {
        responses: users.map((user) => ({
          user: { xuid: user.xuid },
          permissions: permissions.map((permission) =>
            denied.has(user.xuid) && permission === 'ViewTargetProfile'
              ? { isAllowed: false, reasons: [{ reason }] }
              : { isAllowed: true },
          ),
        })),
      },
    };
  };
}

/** A barrier: `arrive()` resolves once `parties` callers have arrived. */
export interface Barrier {
  arrive(): Promise<void>;
  readonly arrived: number;
}

/** Creates a barrier for proving that calls are in flight together. */
export function createBarrier(parties: number): Barrier {
  let arrived = 0;
  let release: () => void = () => undefined;
  const open = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    arrive() {
      arrived += 1;
      if (arrived >= parties) release();
      return open;
    },
    get arrived() {
      return arrived;
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Counts abandoned calls per upstream and wakes whoever waits for a count. */
function createAbandonment() {
  const counts = new Map<FakeUpstreamName, number>();
  const waiters: { upstream: FakeUpstreamName; count: number; resolve: () => void }[] = [];
  let isClosing = false;
  return {
    note: (upstream: FakeUpstreamName) => {
      if (isClosing) return;
      const count = (counts.get(upstream) ?? 0) + 1;
      counts.set(upstream, count);
      for (const waiter of [...waiters]) {
        if (waiter.upstream === upstream && waiter.count <= count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    },
    count: (upstream: FakeUpstreamName) => counts.get(upstream) ?? 0,
    reach: (upstream: FakeUpstreamName, count: number): Promise<void> => {
      if ((counts.get(upstream) ?? 0) >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ upstream, count, resolve }));
    },
    startClosing: () => {
      isClosing = true;
    },
  };
}

async function startOne(
  upstream: FakeUpstreamName,
  calls: RecordedCall[],
  responders: Map<FakeUpstreamName, Responder>,
  onAbandoned: (upstream: FakeUpstreamName) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let isResetByFake = false;
    res.on('close', () => {
      if (!res.writableFinished && !isResetByFake) onAbandoned(upstream);
    });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the raw text: the test may assert on it
      }
      const call: RecordedCall = {
        upstream,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
      };
      calls.push(call);
      const responder = responders.get(upstream);
      void Promise.resolve(responder ? responder(call) : { status: 500 }).then(async (answer) => {
        if (answer.delayMs) await delay(answer.delayMs);
        if (answer.hang) return;
        if (answer.reset) {
          isResetByFake = true;
          req.socket.destroy();
          return;
        }
        const payload =
          answer.rawBody ?? (answer.body === undefined ? '' : JSON.stringify(answer.body));
        res.writeHead(answer.status ?? 200, {
          'content-type': 'application/json',
          ...answer.headers,
        });
        res.end(payload);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

/** Starts the three fakes with the defaults above unless `responders` overrides them. */
export async function startFakeUpstreams(
  responders: Partial<Record<FakeUpstreamName, Responder>> = {},
): Promise<FakeUpstreams> {
  const calls: RecordedCall[] = [];
  const current = new Map<FakeUpstreamName, Responder>([
    ['social', responders.social ?? emptyPeople],
    ['profile', responders.profile ?? allProfiles],
    ['privacy', responders.privacy ?? allowEverything],
  ]);
  const abandonment = createAbandonment();
  const [social, profile, privacy] = await Promise.all([
    startOne('social', calls, current, abandonment.note),
    startOne('profile', calls, current, abandonment.note),
    startOne('privacy', calls, current, abandonment.note),
  ]);
  return {
    env: { XBL_SOCIAL_URL: social.url, XBL_PROFILE_URL: profile.url, XBL_PRIVACY_URL: privacy.url },
    calls,
    callsTo: (upstream) => calls.filter((call) => call.upstream === upstream),
    respond: (upstream, responder) => {
      current.set(upstream, responder);
    },
    abandonedCount: (upstream) => abandonment.count(upstream),
    callsAbandoned: (upstream, count = 1) => abandonment.reach(upstream, count),
    close: async () => {
      abandonment.startClosing();
      await Promise.all(
        [social, profile, privacy].map(
          ({ server }) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => {
                resolve();
              });
            }),
        ),
      );
    },
  };
}
