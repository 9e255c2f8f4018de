import { createClient } from '@redis/client';
import type { Logger } from 'pino';

/** How often the connection pings Redis, so `/readyz` follows Redis without any traffic. */
const HEALTH_CHECK_INTERVAL_MS = 1000;

/**
 * Commands that may wait to be sent or for their reply. A stalled Redis keeps timed-out commands
 * in the queue until it answers; past this bound every new command fails at once.
 */
const MAX_QUEUED_COMMANDS = 10_000;

/** Reconnect backoff: exponential from 50 ms, capped at 2 s, plus up to 100 ms of jitter. */
const RECONNECT_BASE_MS = 50;
const RECONNECT_CAP_MS = 2000;
const RECONNECT_JITTER_MS = 100;

/** A TCP connect that takes longer is abandoned and retried with backoff. */
const CONNECT_TIMEOUT_MS = 1000;

/** What `/readyz` shows for Redis (API.md §4): `degraded` when down or its last operation failed. */
export type RedisState = 'ok' | 'degraded';

/** Counters of the connection, for tests and metrics. */
export interface RedisConnectionStats {
  /** Operations of any user, and health-check pings, that timed out or failed. */
  readonly failures: number;
}

/** Options of the Redis connection. */
export interface RedisConnectionOptions {
  /** `redis://` or `rediss://` URL; it may hold a password, so it is never logged. */
  readonly url: string;
  /** The most one command waits on Redis (`REDIS_TIMEOUT_MS`), sent or not. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/** The client options of the one connection; its commands carry no timeout of their own. */
function connect(url: string) {
  return createClient({
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
}

/**
 * `rejectInFlight` applies the timeout after a command was sent too: a stalled Redis answers
 * late, and its reply is then dropped instead of holding the request.
 */
function bounded(client: ReturnType<typeof connect>, timeoutMs: number) {
  return client.withCommandOptions({ timeout: timeoutMs, rejectInFlight: true });
}

/** Redis commands on the process's one connection, each bounded by `REDIS_TIMEOUT_MS`. */
export type RedisCommands = ReturnType<typeof bounded>;

/**
 * The process's one Redis connection, shared by the profile cache level, the stampede leases,
 * the shared throttle gates and the rate limit. Every user reports how its operations ended, so
 * one state describes Redis for `/readyz` and the log.
 */
export interface RedisConnection {
  /** Commands bounded by `timeoutMs`, also once sent; they reject, so callers catch. */
  readonly commands: RedisCommands;
  readonly timeoutMs: number;
  /** `ok` while connected and the last operation succeeded. */
  state(): RedisState;
  /** Reports an operation that Redis answered. */
  succeeded(): void;
  /** Reports an operation that timed out or failed. */
  failed(error: unknown): void;
  stats(): RedisConnectionStats;
  /** Stops the health check and closes the connection, waiting at most `timeoutMs`. */
  close(): Promise<void>;
}

/**
 * Creates the connection and starts connecting in the background: the gateway works without
 * Redis until it answers, and reconnects with backoff whenever it goes away (API.md §6 rule 2).
 */
export function createRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const { url, timeoutMs } = options;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('Cannot create Redis connection: timeoutMs must be a positive integer');
  }
  const logger = options.logger;
  const password = passwordOf(url);
  logger.info({ redis: withoutPassword(url) }, 'redis connecting');
  const client = connect(url);
  const commands = bounded(client, timeoutMs);

  let lastFailed = false;
  let failures = 0;
  let reported: RedisState | 'connecting' = 'connecting';
  let isClosed = false;
  const state = (): RedisState => (client.isReady && !lastFailed ? 'ok' : 'degraded');

  function report(error?: unknown): void {
    const current = state();
    if (current === reported || isClosed) return;
    reported = current;
    if (current === 'ok') logger.info('redis ok');
    else logger.warn({ reason: describeError(error, password) }, 'redis degraded');
  }
  function succeeded(): void {
    lastFailed = false;
    if (reported !== 'ok') report();
  }
  function failed(error: unknown): void {
    failures++;
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
    if (client.isReady) commands.ping().then(succeeded, failed);
    else report();
  }, HEALTH_CHECK_INTERVAL_MS);
  healthCheck.unref();

  return {
    commands,
    timeoutMs,
    state,
    succeeded,
    failed,
    stats: () => ({ failures }),
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
      logger.info('redis closed');
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
