import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import type { Express } from 'express';
import supertest from 'supertest';
import { buildApp, createDeps } from '../../src/app.js';
import type { AppDeps } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { ProfileCacheLevel } from '../../src/profile-cache/cache-level.js';
import { createLogger } from '../../src/http/request-logging.js';
import { startFakeUpstreams } from './fake-upstreams.js';
import type { FakeUpstreams, Responder } from './fake-upstreams.js';

/** A caller's valid `Authorization`, as clients send it. */
export const AUTHORIZATION = 'XBL3.0 x=7340501866712;eyJhbGciOiJSUzI1NiJ9.test-token.signature';

/** A second caller, for tests about what callers share and do not share. */
export const OTHER_AUTHORIZATION = 'XBL3.0 x=9912345678901;eyJhbGciOiJSUzI1NiJ9.other-token.sig';

/** Three real XUIDs; the last is above 2^53, where a JS number would lose digits. */
export const XUIDS = ['2533274791381930', '2533274792986770', '18446744073709551615'] as const;

/** The profile settings the gateway asks for when the client names none. */
export const DEFAULT_SETTINGS: readonly string[] = [
  'GameDisplayName',
  'GameDisplayPicRaw',
  'Gamerscore',
  'Gamertag',
];

/** A gateway built on fake upstreams, with its logs captured. */
export interface TestGateway {
  readonly app: Express;
  readonly deps: AppDeps;
  readonly upstreams: FakeUpstreams;
  /** Every log line written so far, parsed. */
  readonly logs: Record<string, unknown>[];
  /** The raw log text, for "no token in logs" checks. */
  logText(): string;
  /** `GET /friends-with-profiles?xuids=…` with the default `Authorization`. */
  getCards(query: string, authorization?: string): supertest.Test;
  close(): Promise<void>;
}

/** Options of `startTestGateway`. */
export interface TestGatewayOptions {
  readonly responders?: Partial<Record<'social' | 'profile' | 'privacy', Responder>>;
  /** Settings by env name, on top of the fake upstream URLs. */
  readonly env?: Readonly<Record<string, string>>;
  /** Clock of the profile cache. */
  readonly now?: () => number;
  /** Profile cache levels behind the in-process one. */
  readonly sharedCacheLevels?: readonly ProfileCacheLevel[];
  /** Reads the event-loop delay (ms) instead of sampling the loop. */
  readonly eventLoopDelay?: () => number;
  /** False: a Redis gateway without stampede leases. */
  readonly profileLeases?: boolean;
}

/** Starts fake upstreams and a gateway app wired to them. Close it in `after`/`t.after`. */
export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const upstreams = await startFakeUpstreams(options.responders);
  const config = loadConfig({
    ...upstreams.env,
    LOG_LEVEL: 'debug',
    // A busy test machine can lag the loop past the default limit and shed a request that a test
    // expects answered: shedding by loop delay is off unless a test about it turns it on.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...options.env,
  });
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const logger = createLogger({ level: config.logLevel, destination });
  const deps = createDeps(config, logger, {
    now: options.now,
    sharedCacheLevels: options.sharedCacheLevels,
    eventLoopDelay: options.eventLoopDelay,
    processMetrics: false,
    profileLeases: options.profileLeases,
  });
  const gateway = buildApp(deps);
  return {
    app: gateway.app,
    deps,
    upstreams,
    get logs() {
      return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    logText: () => lines.join('\n'),
    getCards: (query, authorization = AUTHORIZATION) =>
      supertest(gateway.app)
        .get(`/friends-with-profiles?${query}`)
        .set('Authorization', authorization),
    close: async () => {
      await gateway.close();
      await upstreams.close();
    },
  };
}

/** Starts a test gateway (see `startTestGateway`) that is closed when test `t` ends. */
export async function gatewayFor(
  t: TestContext,
  options: TestGatewayOptions = {},
): Promise<TestGateway> {
  const gw = await startTestGateway(options);
  t.after(() => gw.close());
  return gw;
}

/**
 * Serves `app` on a loopback port until test `t` ends, for tests that need a real client
 * connection (hanging up, holding a request open). Returns the port.
 */
export async function listenFor(t: TestContext, app: Express): Promise<number> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  );
  return (server.address() as AddressInfo).port;
}
