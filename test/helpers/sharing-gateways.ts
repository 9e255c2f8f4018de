import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { RedisServer } from './redis-server.js';
import { gatewayFor } from './test-app.js';
import type { TestGateway, TestGatewayOptions } from './test-app.js';

/** `REDIS_TIMEOUT_MS` of every gateway in the scale-out tests. */
export const REDIS_TIMEOUT_MS = 50;

/** Polls `condition` every 20 ms until it holds, failing after `timeoutMs`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A gateway on its own fake upstreams sharing `redis`, once its connection is ready. */
export async function sharingGateway(
  t: TestContext,
  redis: RedisServer,
  options: TestGatewayOptions = {},
): Promise<TestGateway> {
  const gw = await gatewayFor(t, {
    ...options,
    env: { REDIS_URL: redis.url, REDIS_TIMEOUT_MS: String(REDIS_TIMEOUT_MS), ...options.env },
  });
  await until(() => gw.deps.redis?.state() === 'ok', 'the gateway connects to Redis');
  return gw;
}

/** Milliseconds `request` takes to settle, with its result. */
export async function timed<T>(request: PromiseLike<T>): Promise<[T, number]> {
  const startedAt = performance.now();
  const result = await request;
  return [result, performance.now() - startedAt];
}
