import { availableParallelism } from 'node:os';
import { z } from 'zod';
import {
  decimalNumber,
  deepFreeze,
  findSettingWarnings,
  LOG_LEVELS,
  parseSettings,
  readDefaults as readDefaultsFile,
  redactUserinfo,
  wholeNumber,
} from './settings.js';
import type { SettingWarning } from './settings.js';

export type { SettingWarning } from './settings.js';

/** Where the defaults of every setting live: `config/defaults.json`, beside `src/` and `dist/`. */
export const DEFAULTS_PATH = new URL('../config/defaults.json', import.meta.url);

/** An http(s) base URL; a trailing slash is dropped so paths can be appended. */
function baseUrl() {
  return z
    .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
    .transform((value) => value.replace(/\/+$/, ''));
}

const ONE_HOUR_MS = 3_600_000;

/** More workers than this is a typo, not a deployment: each one is a whole gateway process. */
const MAX_WORKERS = 256;

/** Every setting by its environment name; `.describe()` is the line the README table repeats. */
export const settingsSchema = z.object({
  PORT: wholeNumber(0, 65_535).describe(
    'listen port (0 = any free port, the chosen one is logged)',
  ),
  HOST: z.string().trim().min(1).describe('listen address'),
  XBL_SOCIAL_URL: baseUrl().describe('base URL of the social (people) service'),
  XBL_PROFILE_URL: baseUrl().describe('base URL of the profile service'),
  XBL_PRIVACY_URL: baseUrl().describe('base URL of the privacy service'),
  LOG_LEVEL: z.enum(LOG_LEVELS).describe('pino log level'),
  REQUEST_DEADLINE_MS: wholeNumber(1, 60_000).describe(
    'the most one client request may wait on upstreams (ms)',
  ),
  PROFILE_CACHE_TTL_MS: wholeNumber(0, 24 * ONE_HOUR_MS).describe(
    'how long a cached profile setting is fresh (ms)',
  ),
  PROFILE_CACHE_STALE_MS: wholeNumber(0, 24 * ONE_HOUR_MS).describe(
    'how long past its TTL a profile setting may still be served when the profile upstream fails (ms)',
  ),
  PROFILE_CACHE_MAX_BYTES: wholeNumber(1024, 2 ** 34).describe(
    'bound on the in-process profile cache (bytes)',
  ),
  // Marked secret: the URL may carry a password, so a bad value is never echoed back.
  REDIS_URL: z
    .string()
    .trim()
    .transform((value) => (value === '' ? undefined : value))
    .pipe(
      z
        .url({ protocol: /^rediss?$/, hostname: /./, error: 'must be a redis:// or rediss:// URL' })
        .optional(),
    )
    .meta({
      description:
        'Redis shared by replicas: profile cache, leases, throttle gates, rate limit; unset = none',
      secret: true,
    }),
  REDIS_TIMEOUT_MS: wholeNumber(1, 10_000).describe(
    'the most one Redis operation waits before the gateway goes on without it: a cache miss, or local leases, throttle gates and counts (ms)',
  ),
  RATE_LIMIT_PER_CALLER: z
    .string()
    .trim()
    .transform((value) => (value === '' ? undefined : value))
    .pipe(wholeNumber(1, 1_000_000).optional())
    .describe(
      'card requests one caller (the userhash of Authorization) may make per window, counted across replicas sharing REDIS_URL; unset = off',
    ),
  RATE_LIMIT_WINDOW_MS: wholeNumber(1000, 24 * ONE_HOUR_MS)
    .refine((value) => value % 1000 === 0, 'must be whole seconds (a multiple of 1000)')
    .describe('the window of RATE_LIMIT_PER_CALLER (ms, whole seconds)'),
  // `auto` is resolved here, once: os.availableParallelism(), the CPUs this process may run on.
  WORKERS: z
    .string()
    .trim()
    .regex(/^(?:\d+|auto)$/, 'must be a whole number or auto')
    .transform((value) => (value === 'auto' ? availableParallelism() : Number(value)))
    .pipe(
      z
        .number()
        .int()
        .min(1, 'must be at least 1')
        .max(MAX_WORKERS, `must be at most ${MAX_WORKERS}`),
    )
    .describe(
      'worker processes sharing the port under one primary (auto = one per CPU); 1 = no cluster',
    ),
  MAX_XUIDS_PER_REQUEST: wholeNumber(1, 100).describe(
    'most distinct XUIDs one client request may ask for',
  ),
  UPSTREAM_BATCH_SIZE: wholeNumber(1, 100).describe(
    'most XUIDs sent in one upstream call; longer lists go as concurrent batches',
  ),
  UPSTREAM_CONNECTIONS: wholeNumber(1, 1024).describe('keep-alive connections per upstream'),
  UPSTREAM_MAX_QUEUED: wholeNumber(0, 100_000).describe(
    "calls that may wait for one of an upstream's connections; past it a part fails fast as unavailable",
  ),
  UPSTREAM_TIMEOUT_MS: wholeNumber(1, 60_000).describe(
    'the most one upstream call may wait for headers or between body chunks (ms)',
  ),
  UPSTREAM_MAX_BODY_BYTES: wholeNumber(1024, 2 ** 30).describe(
    'a larger upstream answer is bad_response (bytes)',
  ),
  UPSTREAM_RETRIES: wholeNumber(0, 5).describe(
    'extra attempts after a connection reset or refusal, 500, 502, 503 or 504, while the deadline allows',
  ),
  RETRY_BUDGET_RATIO: decimalNumber(0, 1).describe(
    'retries to one upstream are at most this share of its calls over the last 10 s (plus 1 per second)',
  ),
  BREAKER_FAILURE_THRESHOLD: wholeNumber(1, 1000).describe(
    "consecutive failed calls (connection failure, 500/502/503/504, timeout) that open an upstream's circuit",
  ),
  BREAKER_HALF_OPEN_AFTER_MS: wholeNumber(1, 10 * 60_000).describe(
    'how long a circuit stays open before one probe call is let through (ms)',
  ),
  MAX_IN_FLIGHT_REQUESTS: wholeNumber(1, 1_000_000).describe(
    'past this many card requests in progress, a new one is shed with 503',
  ),
  HEADERS_TIMEOUT_MS: wholeNumber(1000, 10 * 60_000).describe(
    'a client that has not sent its whole request head by then is disconnected (ms)',
  ),
  SHUTDOWN_GRACE_MS: wholeNumber(0, 10 * 60_000).describe(
    'the most SIGTERM waits for in-flight requests (ms)',
  ),
  SHUTDOWN_DELAY_MS: wholeNumber(0, 60_000).describe(
    'after SIGTERM, how long /readyz answers 503 draining while new connections are still accepted (ms)',
  ),
  MAX_EVENT_LOOP_DELAY_MS: wholeNumber(0, 60_000).describe(
    'past this event-loop delay, new card requests are shed with 503 (ms; 0 = off)',
  ),
});

/**
 * Prefixes of the gateway's variables: an unknown one of these is most likely a typo. `OTEL_` is
 * not among them: OpenTelemetry's SDK reads its own variables.
 */
export const SETTING_PREFIXES = [
  'XBL_',
  'PROFILE_CACHE_',
  'UPSTREAM_',
  'BREAKER_',
  'RETRY_',
  'REQUEST_',
  'SHUTDOWN_',
  'MAX_',
  'HEADERS_',
  'REDIS_',
  'RATE_LIMIT_',
  'CORS_',
] as const;

/**
 * Every setting API.md names (§2, §4, §5, §6). One that the schema above lacks is set-but-ignored
 * and warned about at start-up; once the schema gains it, the warning goes by itself.
 */
export const CONTRACT_SETTINGS = [
  'PORT',
  'HOST',
  'XBL_SOCIAL_URL',
  'XBL_PROFILE_URL',
  'XBL_PRIVACY_URL',
  'LOG_LEVEL',
  'REQUEST_DEADLINE_MS',
  'PROFILE_CACHE_TTL_MS',
  'PROFILE_CACHE_STALE_MS',
  'PROFILE_CACHE_MAX_BYTES',
  'REDIS_URL',
  'WORKERS',
  'CORS_ALLOWED_ORIGINS',
  'UPSTREAM_RETRIES',
  'RETRY_BUDGET_RATIO',
  'BREAKER_FAILURE_THRESHOLD',
  'BREAKER_HALF_OPEN_AFTER_MS',
  'UPSTREAM_MAX_BODY_BYTES',
  'MAX_IN_FLIGHT_REQUESTS',
  'MAX_EVENT_LOOP_DELAY_MS',
  'HEADERS_TIMEOUT_MS',
  'SHUTDOWN_GRACE_MS',
  'REDIS_TIMEOUT_MS',
  'RATE_LIMIT_PER_CALLER',
  'RATE_LIMIT_WINDOW_MS',
] as const;

/** Prefixes of variables that other software in the process reads (OpenTelemetry's SDK). */
const FOREIGN_PREFIXES = ['OTEL_'];

/** The names of all settings, as the environment spells them. */
export type SettingName = keyof z.input<typeof settingsSchema>;

type Settings = z.output<typeof settingsSchema>;

/** The gateway's parsed, frozen configuration, grouped by the part of the code that uses it. */
export interface Config {
  readonly listen: { readonly port: number; readonly host: string };
  readonly logLevel: Settings['LOG_LEVEL'];
  readonly upstreams: {
    readonly socialUrl: string;
    readonly profileUrl: string;
    readonly privacyUrl: string;
    readonly batchSize: number;
    readonly connections: number;
    readonly maxQueued: number;
    readonly timeoutMs: number;
    readonly maxBodyBytes: number;
    readonly retries: number;
    readonly retryBudgetRatio: number;
    readonly breaker: { readonly failureThreshold: number; readonly halfOpenAfterMs: number };
  };
  readonly requests: {
    readonly deadlineMs: number;
    readonly maxXuids: number;
    readonly maxInFlight: number;
    readonly maxEventLoopDelayMs: number;
  };
  readonly profileCache: {
    readonly ttlMs: number;
    readonly staleMs: number;
    readonly maxBytes: number;
  };
  /** The shared second level; `url` undefined = in-process cache only. */
  readonly redis: { readonly url: string | undefined; readonly timeoutMs: number };
  /** Card requests per caller and window; `perCaller` undefined = no limit. */
  readonly rateLimit: { readonly perCaller: number | undefined; readonly windowMs: number };
  /** Gateway processes under one primary (`WORKERS`, `auto` resolved); 1 = no cluster. */
  readonly workers: number;
  readonly server: {
    readonly headersTimeoutMs: number;
    readonly shutdownGraceMs: number;
    readonly shutdownDelayMs: number;
  };
}

/** Thrown when a setting is invalid; the message names every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads `config/defaults.json` as strings, the form the environment gives values in. */
export function readDefaults(path: URL = DEFAULTS_PATH): Record<string, string> {
  return readDefaultsFile(path);
}

/**
 * Merges the defaults with `env`, validates every setting and returns a frozen `Config`.
 * Pure apart from reading the defaults file; only entry files call it, with `process.env`.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  defaults: Record<string, string> = readDefaults(),
): Config {
  const settings = parseSettings(settingsSchema, { env, defaults }, (message) => {
    return new ConfigError(`Cannot start: ${message}`);
  });
  return deepFreeze(toConfig(settings));
}

/**
 * What start-up should warn about in `env`: contract settings this version ignores, and unknown
 * variables with the gateway's prefixes (with a "did you mean" when a setting is close). Pure.
 */
export function settingWarnings(
  env: Readonly<Record<string, string | undefined>>,
): SettingWarning[] {
  return findSettingWarnings(env, {
    names: Object.keys(settingsSchema.shape),
    prefixes: SETTING_PREFIXES,
    foreignPrefixes: FOREIGN_PREFIXES,
    unsupported: CONTRACT_SETTINGS,
  });
}

/**
 * The settings `env` gives a value other than the default, by name, for the start-up line; a
 * URL's userinfo is redacted. Pure apart from reading the defaults file.
 */
export function nonDefaultSettings(
  env: Readonly<Record<string, string | undefined>>,
  defaults: Record<string, string> = readDefaults(),
): Record<string, string> {
  const changed: Record<string, string> = {};
  for (const name of Object.keys(settingsSchema.shape)) {
    const value = env[name]?.trim();
    if (value === undefined || value === '' || value === defaults[name]) continue;
    changed[name] = redactUserinfo(value);
  }
  return changed;
}

/** An upstream base URL without its userinfo, as the start-up line shows it. */
export function withoutUserinfo(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.href.replace(/\/+$/, '');
}

function toConfig(s: Settings): Config {
  return {
    listen: { port: s.PORT, host: s.HOST },
    logLevel: s.LOG_LEVEL,
    upstreams: {
      socialUrl: s.XBL_SOCIAL_URL,
      profileUrl: s.XBL_PROFILE_URL,
      privacyUrl: s.XBL_PRIVACY_URL,
      batchSize: s.UPSTREAM_BATCH_SIZE,
      connections: s.UPSTREAM_CONNECTIONS,
      maxQueued: s.UPSTREAM_MAX_QUEUED,
      timeoutMs: s.UPSTREAM_TIMEOUT_MS,
      maxBodyBytes: s.UPSTREAM_MAX_BODY_BYTES,
      retries: s.UPSTREAM_RETRIES,
      retryBudgetRatio: s.RETRY_BUDGET_RATIO,
      breaker: {
        failureThreshold: s.BREAKER_FAILURE_THRESHOLD,
        halfOpenAfterMs: s.BREAKER_HALF_OPEN_AFTER_MS,
      },
    },
    requests: {
      deadlineMs: s.REQUEST_DEADLINE_MS,
      maxXuids: s.MAX_XUIDS_PER_REQUEST,
      maxInFlight: s.MAX_IN_FLIGHT_REQUESTS,
      maxEventLoopDelayMs: s.MAX_EVENT_LOOP_DELAY_MS,
    },
    profileCache: {
      ttlMs: s.PROFILE_CACHE_TTL_MS,
      staleMs: s.PROFILE_CACHE_STALE_MS,
      maxBytes: s.PROFILE_CACHE_MAX_BYTES,
    },
    redis: { url: s.REDIS_URL, timeoutMs: s.REDIS_TIMEOUT_MS },
    rateLimit: { perCaller: s.RATE_LIMIT_PER_CALLER, windowMs: s.RATE_LIMIT_WINDOW_MS },
    workers: s.WORKERS,
    server: {
      headersTimeoutMs: s.HEADERS_TIMEOUT_MS,
      shutdownGraceMs: s.SHUTDOWN_GRACE_MS,
      shutdownDelayMs: s.SHUTDOWN_DELAY_MS,
    },
  };
}
