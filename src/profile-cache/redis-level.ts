import { createClient } from '@redis/client';
import type { Logger } from 'pino';
import type { CacheEntry, ProfileCacheLevel } from './cache-level.js';

/**
 * Where profile pairs live in Redis: `fcg:v1:profile:<xuid>:<setting>`. Only profile settings
 * are ever written under it, never privacy or people answers, tokens or userhashes (API.md §6
 * rule 3). A change of the key scheme bumps the `v1`.
 */
export const REDIS_KEY_PREFIX = 'fcg:v1:profile:';

/** The format version inside every value; a value of another version is a miss. */
export const VALUE_FORMAT_VERSION = 1;

/** How often the level pings Redis, so `/readyz` follows Redis without any traffic. */
const HEALTH_CHECK_INTERVAL_MS = 1000;

/**
 * Commands that may wait to be sent or for their reply. A stalled Redis keeps timed-out commands
 * in the queue until it answers; past this bound every new command fails at once (a miss).
 */
const MAX_QUEUED_COMMANDS = 10_000;

/** Reconnect backoff: exponential from 50 ms, capped at 2 s, plus up to 100 ms of jitter. */
const RECONNECT_BASE_MS = 50;
const RECONNECT_CAP_MS = 2000;
const RECONNECT_JITTER_MS = 100;

/** A TCP connect that takes longer is abandoned and retried with backoff. */
const CONNECT_TIMEOUT_MS = 1000;

/** What `/readyz` shows for Redis (API.md §4): `degraded` when down or its last operation failed. */
export type RedisLevelState = 'ok' | 'degraded';

/** Counters of the level, for tests and metrics. */
export interface RedisLevelStats {
  /** MGET round trips started. */
  readonly reads: number;
  /** Reads that timed out or failed: all their keys counted as misses. */
  readonly failedReads: number;
  /** Values found under a real key that did not parse (another format, garbage): misses. */
  readonly unreadableValues: number;
  /** SET pipelines started. */
  readonly writes: number;
  /** Pipelines that timed out or failed: their values are simply not shared. */
  readonly droppedWrites: number;
}

/** Options of the Redis level. */
export interface RedisLevelOptions {
  /** `redis://` or `rediss://` URL; it may hold a password, so it is never logged. */
  readonly url: string;
  /** The most one read or write waits on Redis (`REDIS_TIMEOUT_MS`). */
  readonly timeoutMs: number;
  /** How long Redis keeps a value (PX): the cache's TTL plus its stale window. */
  readonly lifetimeMs: number;
  readonly logger: Logger;
  /** The cache's clock, in milliseconds: a value stored "in the future" counts as stored now. */
  readonly now?: () => number;
}

/** The shared second level of the profile cache, over one Redis connection. */
export interface RedisLevel extends ProfileCacheLevel {
  state(): RedisLevelState;
  stats(): RedisLevelStats;
  /** Stops the health check and closes the connection, waiting at most `timeoutMs`. */
  close(): Promise<void>;
}

/** The Redis key of a profile cache pair key (`<xuid>:<setting>`). */
export function redisKey(pairKey: string): string {
  return REDIS_KEY_PREFIX + pairKey;
}

/** The stored form of an entry: its format version, fetch time and value. */
export function encodeEntry(entry: CacheEntry): string {
  return JSON.stringify({ v: VALUE_FORMAT_VERSION, at: entry.storedAtMs, value: entry.value });
}

/** An entry from its stored form; anything else (another version, garbage, wrong types) is a miss. */
export function decodeEntry(text: unknown): CacheEntry | undefined {
  if (typeof text !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { v, at, value } = parsed as Record<string, unknown>;
  if (v !== VALUE_FORMAT_VERSION || typeof value !== 'string') return undefined;
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return undefined;
  return { value, storedAtMs: at };
}

/**
 * Creates the Redis level and starts connecting in the background: the gateway serves from L1
 * and upstream until Redis answers. Every read and write is bounded by `timeoutMs` and counts
 * as a miss or a dropped write when Redis is down, slow or holds garbage (API.md §6 rule 2).
 */
export function createRedisLevel(options: RedisLevelOptions): RedisLevel {
  const { url, timeoutMs, lifetimeMs } = options;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('Cannot create Redis cache level: timeoutMs must be a positive integer');
  }
  if (!Number.isInteger(lifetimeMs) || lifetimeMs < 0) {
    throw new TypeError('Cannot create Redis cache level: lifetimeMs must be a whole number');
  }
  const now = options.now ?? Date.now;
  const logger = options.logger.child({ cacheLevel: 'redis' });
  const password = passwordOf(url);
  logger.info({ redis: withoutPassword(url) }, 'redis cache level connecting');
  const stats = { reads: 0, failedReads: 0, unreadableValues: 0, writes: 0, droppedWrites: 0 };

  const client = createClient({
    url,
    // While disconnected a command fails at once instead of waiting in an offline queue, and
    // while connected the queue of unsent and unanswered commands is bounded.
    disableOfflineQueue: true,
    commandsQueueMaxLength: MAX_QUEUED_COMMANDS,
    socket: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectStrategy: (retries) =>
        Math.min(RECONNECT_BASE_MS * 2 ** Math.min(retries, 16), RECONNECT_CAP_MS) +
        Math.floor(Math.random() * RECONNECT_JITTER_MS),
    },
  });
  // `rejectInFlight` applies the timeout after a command was sent too: a stalled Redis answers
  // late, and its reply is then dropped instead of holding the request.
  const timed = client.withCommandOptions({ timeout: timeoutMs, rejectInFlight: true });

  let lastFailed = false;
  let reported: RedisLevelState | 'connecting' = 'connecting';
  let isClosed = false;
  const state = (): RedisLevelState => (client.isReady && !lastFailed ? 'ok' : 'degraded');

  function report(error?: unknown): void {
    const current = state();
    if (current === reported || isClosed) return;
    reported = current;
    if (current === 'ok') logger.info('redis cache level ok');
    else logger.warn({ reason: describeError(error, password) }, 'redis cache level degraded');
  }
  function succeeded(): void {
    lastFailed = false;
    report();
  }
  function failed(error: unknown): void {
    lastFailed = true;
    report(error);
  }

  client.on('ready', succeeded);
  // Without a listener an error event would crash the process; each failed reconnect emits one.
  client.on('error', (error: unknown) => {
    report(error);
    logger.debug({ reason: describeError(error, password) }, 'redis connection error');
  });
  client.connect().catch((error: unknown) => {
    report(error);
  });
  const healthCheck = setInterval(() => {
    if (client.isReady) timed.ping().then(succeeded, failed);
    else report();
  }, HEALTH_CHECK_INTERVAL_MS);
  healthCheck.unref();

  return {
    async get(keys) {
      if (keys.length === 0) return [];
      stats.reads++;
      let replies: readonly unknown[];
      try {
        replies = await timed.mGet(keys.map(redisKey));
      } catch (error) {
        stats.failedReads++;
        failed(error);
        return [];
      }
      succeeded();
      const nowMs = now();
      return replies.map((reply) => {
        if (reply === null) return undefined;
        const entry = decodeEntry(reply);
        if (entry === undefined) {
          stats.unreadableValues++;
          return undefined;
        }
        // Clocks of replicas differ a little; an entry never counts as fresher than new.
        return entry.storedAtMs <= nowMs ? entry : { value: entry.value, storedAtMs: nowMs };
      });
    },
    set(entries) {
      if (entries.length === 0 || lifetimeMs === 0) return Promise.resolve();
      stats.writes++;
      const pipeline = timed.multi();
      const expiration = { type: 'PX', value: lifetimeMs } as const;
      for (const [key, entry] of entries) {
        pipeline.set(redisKey(key), encodeEntry(entry), { expiration });
      }
      // Started here, settled in the background: callers do not wait, and it never rejects.
      return pipeline.execAsPipeline().then(succeeded, (error: unknown) => {
        stats.droppedWrites++;
        failed(error);
      });
    },
    state,
    stats: () => ({ ...stats }),
    async close() {
      isClosed = true;
      clearInterval(healthCheck);
      const closing = client.isOpen ? client.close().catch(() => undefined) : Promise.resolve();
      let timer: NodeJS.Timeout | undefined;
      const tooLong = new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([closing, tooLong]);
      clearTimeout(timer);
      // A Redis that does not answer would hold a graceful close: cut the connection.
      client.destroy();
      logger.info('redis cache level closed');
    },
  };
}

/** The password of `url` as written and decoded, to keep it out of logged text. */
function passwordOf(url: string): readonly string[] {
  try {
    const { password } = new URL(url);
    return password === '' ? [] : [password, decodeURIComponent(password)];
  } catch {
    return [];
  }
}

/** `url` with its password replaced by `***`, for the log. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.href;
  } catch {
    return 'an unparsable URL';
  }
}

/** A short, loggable description of a client error, without the password. */
function describeError(error: unknown, password: readonly string[]): string | undefined {
  if (!(error instanceof Error)) return undefined;
  let text = `${error.constructor.name}: ${error.message}`;
  for (const secret of password) text = text.split(secret).join('***');
  return text;
}
