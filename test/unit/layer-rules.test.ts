import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import type { Linter } from 'eslint';
import tseslint from 'typescript-eslint';

// The boundary blocks that eslint.config.js spreads into the project's config: the same objects,
// linted here without type information so that the snippets below need not exist on disk.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { layerRules } = (await import(new URL('../../eslint.layers.js', import.meta.url).href)) as {
  layerRules: Linter.Config[];
};

const boundaries = new ESLint({
  cwd: ROOT,
  overrideConfigFile: true,
  overrideConfig: [
    { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
    ...layerRules,
  ],
});

async function lint(file: string, code: string): Promise<Linter.LintMessage[]> {
  const [result] = await boundaries.lintText(`${code}\n`, { filePath: join(ROOT, file) });
  assert.ok(result, `ESLint lints ${file}`);
  return result.messages;
}

const EXPRESS = 'Only the HTTP edge (app.ts, http/, routes/) knows about Express.';
const PURE = 'mergeCards is pure: no undici, node:*, pino, lru-cache or other I/O.';
const SIBLING = 'No upstream client imports a sibling client';
const CLIENT = 'An upstream client imports from src/ only its own folder, call-context.ts';
const UPSTREAMS = 'upstreams/ imports from src/ only its own folder, call-context.ts';
const PROFILE_CACHE = 'profile-cache/ imports from src/ only its own folder, upstreams/';
const FRIEND_CARDS = 'friend-cards/ imports from src/ only its own folder, upstreams/';
const MERGE = 'merge-cards.ts imports from src/ only its own folder, call-context.ts';
const MERGE_TYPES =
  'merge-cards.ts imports only types from upstreams/, profile-cache/ and config.ts';
const ROUTES = 'routes/ imports from src/ only its own folder, http/, friend-cards/';
const ROUTES_TYPES = 'routes/ imports only types from config.ts';
const HTTP = 'http/ imports from src/ only its own folder, call-context.ts';
const APP = 'app.ts imports from src/ only';
const SIMULATOR = 'The simulator imports from src/ only its own folder and settings.ts.';
const REDIS = 'redis/ imports from src/ only its own folder.';
const GATEWAY_ENTRY = 'A gateway entry file imports from src/ only';
const METRICS_LIBRARY = 'Only metrics/ knows the metrics library';
const METRICS = 'metrics/ imports from src/ only its own folder, http/, upstreams/, profile-cache/';
const OPENAPI = 'openapi.ts imports from src/ only routes/, http/, friend-cards/';
const PRIMARY = 'cluster-primary.ts imports nothing from src/, and only types from config.ts.';

/** Each snippet must be reported once, by the boundary rule, with its layer's message. */
const FORBIDDEN: [file: string, code: string, message: string][] = [
  ['src/upstreams/social-client.ts', "import express from 'express';", EXPRESS],
  ['src/upstreams/social-client.ts', "import { healthRoutes } from '../routes/health.js';", CLIENT],
  ['src/upstreams/upstream-http.ts', "import type { Request } from 'express';", EXPRESS],
  ['src/profile-cache/profile-cache.ts', "import helmet from 'helmet';", EXPRESS],
  ['src/friend-cards/get-friend-cards.ts', "import { pinoHttp } from 'pino-http';", EXPRESS],
  [
    'src/friend-cards/merge-cards.ts',
    "import { requestIdOf } from '../http/request-id.js';",
    MERGE,
  ],
  ['src/friend-cards/merge-cards.ts', "import { healthRoutes } from '../routes/health.js';", MERGE],
  ['src/friend-cards/merge-cards.ts', "import { randomUUID } from 'node:crypto';", PURE],
  ['src/friend-cards/merge-cards.ts', "import { Pool } from 'undici';", PURE],
  ['src/friend-cards/merge-cards.ts', "import { readFile } from 'fs/promises';", PURE],
  ['src/friend-cards/merge-cards.ts', "import { pino } from 'pino';", PURE],
  ['src/friend-cards/merge-cards.ts', "import { LRUCache } from 'lru-cache';", PURE],
  [
    'src/friend-cards/merge-cards.ts',
    "import { createSocialClient } from '../upstreams/social-client.js';",
    MERGE_TYPES,
  ],
  [
    'src/friend-cards/merge-cards.ts',
    "import { type ProfileLoader, createProfileLoader } from '../profile-cache/load-profiles.js';",
    MERGE_TYPES,
  ],
  [
    'src/upstreams/upstream-http.ts',
    "import { getFriendCards } from '../friend-cards/get-friend-cards.js';",
    UPSTREAMS,
  ],
  [
    'src/upstreams/privacy-client.ts',
    "import type { FriendCard } from '../friend-cards/friend-card.js';",
    CLIENT,
  ],
  [
    'src/profile-cache/load-profiles.ts',
    "import { mergeCards } from '../friend-cards/merge-cards.js';",
    PROFILE_CACHE,
  ],
  [
    'src/profile-cache/profile-cache.ts',
    "import type { FriendCard } from '../friend-cards/friend-card.js';",
    PROFILE_CACHE,
  ],
  [
    'src/upstreams/upstream-http.ts',
    "import type { ProfileCache } from '../profile-cache/profile-cache.js';",
    UPSTREAMS,
  ],
  [
    'src/upstreams/profile-client.ts',
    "import { createProfileCache } from '../profile-cache/profile-cache.js';",
    CLIENT,
  ],
  [
    'src/routes/friends-with-profiles.ts',
    "import { createCorrelationVector } from '../upstreams/xbl-headers.js';",
    ROUTES,
  ],
  [
    'src/routes/health.ts',
    "import type { ProfileCacheSize } from '../profile-cache/profile-cache.js';",
    ROUTES,
  ],
  [
    'src/routes/friends-query.ts',
    "export { postJson } from '../upstreams/upstream-http.js';",
    ROUTES,
  ],
  ['src/routes/health.ts', "import { loadConfig } from '../config.js';", ROUTES_TYPES],
  [
    'src/upstreams/social-client.ts',
    "import { createProfileClient } from './profile-client.js';",
    SIBLING,
  ],
  [
    'src/upstreams/privacy-client.ts',
    "import type { SocialClient } from '../upstreams/social-client.js';",
    SIBLING,
  ],
  [
    'src/upstreams/presence-client.ts',
    "import { createPrivacyClient } from './privacy-client.js';",
    SIBLING,
  ],
  [
    'src/simulator/simulator-app.ts',
    "import { postJson } from '../upstreams/upstream-http.js';",
    SIMULATOR,
  ],
  ['src/simulator/population.ts', "import type { Xuid } from '../xbl-vocabulary.js';", SIMULATOR],
  ['src/simulator/simulator-app.ts', "import { GatewayError } from '../errors.js';", SIMULATOR],
  ['src/simulator/faults.ts', "import type { CallContext } from '../call-context.js';", SIMULATOR],
  [
    'src/simulator/faults.ts',
    "import { parseFriendsQuery } from '../routes/friends-query.js';",
    SIMULATOR,
  ],
  ['src/simulator/faults.ts', "import { main } from '../simulator.js';", SIMULATOR],
  ['src/simulator.ts', "import { loadConfig } from './config.js';", SIMULATOR],
  ['src/simulator.ts', "import { startGateway } from './start-gateway.js';", SIMULATOR],
  ['src/friend-cards/get-friend-cards.ts', "import { buildApp } from '../app.js';", FRIEND_CARDS],
  ['src/upstreams/caller-throttle.ts', "import type { Gateway } from '../app.js';", UPSTREAMS],
  ['src/http/request-id.ts', "import type { Gateway } from '../app.js';", HTTP],
  ['src/routes/health.ts', "import { buildApp } from '../app.js';", ROUTES],
  [
    'src/http/trace-context.ts',
    "import type { TraceContext } from '../upstreams/xbl-headers.js';",
    HTTP,
  ],
  ['src/http/problem-details.ts', "import { healthRoutes } from '../routes/health.js';", HTTP],
  [
    'src/http/request-id.ts',
    "import type { FriendCard } from '../friend-cards/friend-card.js';",
    HTTP,
  ],
  ['src/app.ts', "import { startGateway } from './start-gateway.js';", APP],
  ['src/app.ts', "import { createSimulatorApp } from './simulator/simulator-app.js';", APP],
  [
    'src/server.ts',
    "import { createSimulatorApp } from './simulator/simulator-app.js';",
    GATEWAY_ENTRY,
  ],
  ['src/routes/health.ts', "import { main } from '../server.js';", ROUTES],
  ['src/http/server-span.ts', "import { startTracing } from '../tracing/tracing.js';", HTTP],
  [
    'src/upstreams/policies/tracing.ts',
    "import { startTracing } from '../../tracing/tracing.js';",
    UPSTREAMS,
  ],
  ['src/openapi.ts', "import { buildApp } from './app.js';", OPENAPI],
  ['src/cluster-primary.ts', "import { startGateway } from './start-gateway.js';", PRIMARY],
  ['src/cluster-primary.ts', "import { buildApp } from './app.js';", PRIMARY],
  [
    'src/cluster-primary.ts',
    "import { loadConfig } from './config.js';",
    'cluster-primary.ts imports only types from config.ts. server.ts loads the config',
  ],
  ['src/app.ts', "import { runPrimary } from './cluster-primary.js';", APP],
  ['src/routes/health.ts', "import { isStopMessage } from '../cluster-primary.js';", ROUTES],
  ['src/openapi.ts', "import { createSocialClient } from './upstreams/social-client.js';", OPENAPI],
  ['src/openapi.ts', "import { loadProfiles } from './profile-cache/load-profiles.js';", OPENAPI],
  [
    'src/openapi.ts',
    "import { loadConfig } from './config.js';",
    'openapi.ts imports only types from config.ts',
  ],
  ['src/routes/api-docs.ts', "import { buildOpenApiDocument } from '../openapi.js';", ROUTES],
  [
    'src/friend-cards/friend-card.ts',
    "import type { OpenApiDocument } from '../openapi.js';",
    FRIEND_CARDS,
  ],
  [
    'src/call-context.ts',
    "import type { CallContext } from './upstreams/xbl-headers.js';",
    'call-context.ts imports from src/ only xbl-vocabulary.ts and errors.ts',
  ],
  [
    'src/errors.ts',
    "import type { FailureKind } from './upstreams/upstream-http.js';",
    'A shared module (xbl-vocabulary.ts, errors.ts) imports from src/ only call-context.ts',
  ],
  [
    'src/config.ts',
    "import { buildApp } from './app.js';",
    'config.ts imports from src/ only call-context.ts',
  ],
  [
    'src/settings.ts',
    "import type { Config } from './config.js';",
    'settings.ts imports nothing from src/.',
  ],
  [
    'src/observability/metrics.ts',
    "import { buildApp } from '../app.js';",
    'A new part of src/ imports from src/ only',
  ],
  ['src/upstreams/policies/metrics.ts', "import { Counter } from 'prom-client';", METRICS_LIBRARY],
  [
    'src/profile-cache/profile-cache.ts',
    "import { Registry } from 'prom-client';",
    METRICS_LIBRARY,
  ],
  ['src/http/request-metrics.ts', "import { Histogram } from 'prom-client';", METRICS_LIBRARY],
  ['src/app.ts', "import { collectDefaultMetrics } from 'prom-client';", METRICS_LIBRARY],
  [
    'src/upstreams/policies/metrics.ts',
    "import { createGatewayMetrics } from '../../metrics/gateway-metrics.js';",
    'upstreams/ imports from src/ only',
  ],
  [
    'src/profile-cache/load-profiles.ts',
    "import type { GatewayMetrics } from '../metrics/gateway-metrics.js';",
    PROFILE_CACHE,
  ],
  [
    'src/metrics/gateway-metrics.ts',
    "import { healthRoutes } from '../routes/health.js';",
    METRICS,
  ],
  ['src/metrics/gateway-metrics.ts', "import express from 'express';", EXPRESS],
  [
    'src/metrics/gateway-metrics.ts',
    "import { loadConfig } from '../config.js';",
    'metrics/ imports only types from config.ts',
  ],
  [
    'src/redis/redis-connection.ts',
    "import type { PairKey } from '../profile-cache/profile-cache.js';",
    REDIS,
  ],
  ['src/redis/redis-keys.ts', "import type { UpstreamName } from '../xbl-vocabulary.js';", REDIS],
  ['src/redis/redis-connection.ts', "import type { Request } from 'express';", EXPRESS],
  [
    'src/upstreams/profile-client.ts',
    "import type { RedisConnection } from '../redis/redis-connection.js';",
    CLIENT,
  ],
  [
    'src/routes/friends-with-profiles.ts',
    "import { callerKey } from '../redis/redis-keys.js';",
    ROUTES,
  ],
  [
    'src/friend-cards/get-friend-cards.ts',
    "import type { RedisConnection } from '../redis/redis-connection.js';",
    FRIEND_CARDS,
  ],
];

/** Each snippet must lint clean, so that the rules stay no broader than STYLE.md. */
const ALLOWED: [file: string, code: string][] = [
  [
    'src/friend-cards/get-friend-cards.ts',
    [
      "import { createSocialClient } from '../upstreams/social-client.js';",
      "import type { ProfileLoader } from '../profile-cache/load-profiles.js';",
      "import { mergeCards } from './merge-cards.js';",
      "import type { Config } from '../config.js';",
    ].join('\n'),
  ],
  [
    'src/friend-cards/merge-cards.ts',
    [
      "import type { Person } from '../upstreams/social-client.js';",
      "import { type PartFailure } from '../upstreams/upstream-http.js';",
      "import type { ProfileLoadResult } from '../profile-cache/load-profiles.js';",
      "import { VIEW_PROFILE_PERMISSION } from '../xbl-vocabulary.js';",
      "import { AllUpstreamsFailedError } from '../errors.js';",
      "import type { FriendCard } from './friend-card.js';",
      "import { z } from 'zod';",
    ].join('\n'),
  ],
  [
    'src/profile-cache/load-profiles.ts',
    [
      "import type { ProfileClient } from '../upstreams/profile-client.js';",
      "import { classifyFailure } from '../upstreams/upstream-http.js';",
      "import { LRUCache } from 'lru-cache';",
      "import type { ProfileCache } from './profile-cache.js';",
    ].join('\n'),
  ],
  [
    'src/upstreams/social-client.ts',
    [
      "import { Pool } from 'undici';",
      "import { createUpstreamPool } from './upstream-http.js';",
      "import { buildXblHeaders } from './xbl-headers.js';",
      "import { FailureKind } from '../errors.js';",
      "import type { Xuid } from '../xbl-vocabulary.js';",
    ].join('\n'),
  ],
  [
    'src/routes/friends-with-profiles.ts',
    [
      "import { Router } from 'express';",
      "import { getFriendCards } from '../friend-cards/get-friend-cards.js';",
      "import type { FriendCardsDeps } from '../friend-cards/get-friend-cards.js';",
      "import { requestIdOf } from '../http/request-id.js';",
      "import type { Config } from '../config.js';",
      "import { parseFriendsQuery } from './friends-query.js';",
    ].join('\n'),
  ],
  [
    'src/http/request-logging.ts',
    [
      "import { pinoHttp } from 'pino-http';",
      "import type { Request } from 'express';",
      "import { GatewayError } from '../errors.js';",
      "import { requestIdOf } from './request-id.js';",
    ].join('\n'),
  ],
  [
    'src/app.ts',
    [
      "import express from 'express';",
      "import helmet from 'helmet';",
      "import { healthRoutes } from './routes/health.js';",
      "import { requestId } from './http/request-id.js';",
      "import { createProfileCache } from './profile-cache/profile-cache.js';",
      "import { createSocialClient } from './upstreams/social-client.js';",
      "import type { Config } from './config.js';",
    ].join('\n'),
  ],
  [
    'src/simulator/simulator-config.ts',
    [
      "import { parseSettings } from '../settings.js';",
      "import express from 'express';",
      "import { mulberry32 } from './random.js';",
    ].join('\n'),
  ],
  [
    'src/simulator.ts',
    [
      "import { createSimulatorApp } from './simulator/simulator-app.js';",
      "import { readDefaults } from './settings.js';",
    ].join('\n'),
  ],
  [
    'src/start-local.ts',
    [
      "import { startGateway } from './start-gateway.js';",
      "import { loadConfig } from './config.js';",
      "import { createSimulatorApp } from './simulator/simulator-app.js';",
    ].join('\n'),
  ],
  [
    'src/server.ts',
    [
      "import { startGateway } from './start-gateway.js';",
      "import { loadConfig } from './config.js';",
      "import { createLogger } from './http/request-logging.js';",
    ].join('\n'),
  ],
  ['src/start-gateway.ts', "import { buildApp, createDeps } from './app.js';"],
  ['src/server.ts', "import { isStopMessage, runPrimary } from './cluster-primary.js';"],
  [
    'src/cluster-primary.ts',
    [
      "import cluster from 'node:cluster';",
      "import type { Logger } from 'pino';",
      "import type { Config } from './config.js';",
    ].join('\n'),
  ],
  [
    'src/metrics/gateway-metrics.ts',
    [
      "import { Counter, Registry } from 'prom-client';",
      "import { CALL_OUTCOMES } from '../upstreams/policies/metrics.js';",
      "import type { ProfileCacheObserver } from '../profile-cache/cache-observer.js';",
      "import type { HttpRequestObserver } from '../http/request-metrics.js';",
      "import type { Config } from '../config.js';",
    ].join('\n'),
  ],
  ['src/app.ts', "import { createGatewayMetrics } from './metrics/gateway-metrics.js';"],
  ['src/server.ts', "import { startTracing } from './tracing/tracing.js';"],
  [
    'src/tracing/tracing.ts',
    [
      "import { TracerProvider } from '@opentelemetry/sdk-trace';",
      "import type { Logger } from 'pino';",
    ].join('\n'),
  ],
  ['src/app.ts', "import { buildOpenApiDocument } from './openapi.js';"],
  [
    'src/openapi.ts',
    [
      "import { z } from 'zod';",
      "import { createFriendsQuerySchema } from './routes/friends-query.js';",
      "import { problemSchema } from './http/problem-details.js';",
      "import { friendCardSchema } from './friend-cards/friend-card.js';",
      "import { ERROR_CODES } from './errors.js';",
      "import type { Config } from './config.js';",
    ].join('\n'),
  ],
  [
    'src/redis/redis-connection.ts',
    [
      "import { createClient } from '@redis/client';",
      "import type { Logger } from 'pino';",
      "import { REDIS_KEYS } from './redis-keys.js';",
    ].join('\n'),
  ],
  [
    'src/profile-cache/redis-leases.ts',
    [
      "import type { RedisConnection } from '../redis/redis-connection.js';",
      "import { REDIS_KEYS } from '../redis/redis-keys.js';",
    ].join('\n'),
  ],
  [
    'src/upstreams/shared-caller-throttle.ts',
    "import { REDIS_KEYS, callerKey } from '../redis/redis-keys.js';",
  ],
  [
    'src/http/rate-limit.ts',
    [
      "import { RateLimiterRedis } from 'rate-limiter-flexible';",
      "import type { RedisConnection } from '../redis/redis-connection.js';",
      "import { callerKey } from '../redis/redis-keys.js';",
    ].join('\n'),
  ],
  ['src/config.ts', "import { parseSettings } from './settings.js';"],
  [
    'test/unit/anything.test.ts',
    [
      "import { postJson } from '../../src/upstreams/upstream-http.js';",
      "import { buildApp } from '../../src/app.js';",
      "import { createSimulatorApp } from '../../src/simulator/simulator-app.js';",
    ].join('\n'),
  ],
  // Every gateway layer may use the call context.
  ...[
    'src/server.ts',
    'src/start-gateway.ts',
    'src/app.ts',
    'src/xbl-vocabulary.ts',
    'src/errors.ts',
    'src/config.ts',
    'src/http/trace-context.ts',
    'src/routes/friends-with-profiles.ts',
    'src/friend-cards/get-friend-cards.ts',
    'src/friend-cards/merge-cards.ts',
    'src/upstreams/social-client.ts',
    'src/upstreams/xbl-headers.ts',
    'src/profile-cache/load-profiles.ts',
    'src/observability/metrics.ts',
  ].map((file): [string, string] => [
    file,
    `import { createCorrelationVector, type CallContext } from '${file.split('/').length > 2 ? '..' : '.'}/call-context.js';`,
  ]),
];

for (const [file, code, message] of FORBIDDEN) {
  test(`${file} may not: ${code}`, async () => {
    const messages = await lint(file, code);

    assert.deepEqual(
      messages.map(({ ruleId }) => ruleId),
      ['no-restricted-imports'],
      'one report, from the boundary rule',
    );
    assert.ok(
      messages[0]?.message.includes(message),
      `reported with the layer's message '${message}', got '${messages[0]?.message ?? ''}'`,
    );
  });
}

for (const [file, code] of ALLOWED) {
  test(`${file} may: ${code.split('\n').join(' ')}`, async () => {
    assert.deepEqual(await lint(file, code), []);
  });
}

test('npm run lint gives every file in src/ the same boundary rule as this test', async () => {
  const project = new ESLint({ cwd: ROOT });
  const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.ts'))
    .map((path) => join('src', path));
  const planned = [
    'src/call-context.ts',
    'src/upstreams/presence-client.ts',
    'src/observability/metrics.ts',
  ];
  assert.ok(files.length > 30, 'the source tree is found');

  for (const file of [...files, ...planned]) {
    const path = join(ROOT, file);
    const [inProject, inTest] = await Promise.all([
      project.calculateConfigForFile(path) as Promise<Linter.Config>,
      boundaries.calculateConfigForFile(path) as Promise<Linter.Config>,
    ]);
    const rule = inProject.rules?.['no-restricted-imports'];

    assert.ok(rule !== undefined, `${file} has a boundary rule`);
    assert.deepEqual(rule, inTest.rules?.['no-restricted-imports'], file);
  }
});
