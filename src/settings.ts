import { readFileSync } from 'node:fs';
import { distance } from 'fastest-levenshtein';
import { z } from 'zod';

/**
 * Settings plumbing shared by the gateway's and the simulator's configuration and start-up
 * (unknown-variable warnings, userinfo redaction, why HOST:PORT cannot be listened on): no
 * contract here.
 */

/** pino's levels, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A whole number written in decimal, within bounds. */
export function wholeNumber(min: number, max: number) {
  return z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

/** A decimal number within bounds, such as 0.2. */
export function decimalNumber(min: number, max: number) {
  const message = `must be a number from ${min} to ${max}`;
  return z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, message)
    .transform(Number)
    .pipe(z.number().min(min, message).max(max, message));
}

/** Reads a defaults file (JSON keyed by env name) as strings, the form the environment uses. */
export function readDefaults(path: URL): Record<string, string> {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, String(value)]));
}

/**
 * Merges `defaults` with `env` (an empty variable counts as unset) and parses every key of
 * `schema`. On failure throws `toError` of one message naming each bad variable.
 */
export function parseSettings<S extends z.ZodObject>(
  schema: S,
  sources: {
    readonly env: Readonly<Record<string, string | undefined>>;
    readonly defaults: Readonly<Record<string, string>>;
  },
  toError: (message: string) => Error,
): z.output<S> {
  const input: Record<string, string | undefined> = {};
  for (const name of Object.keys(schema.shape)) {
    const fromEnv = sources.env[name];
    input[name] = fromEnv === undefined || fromEnv === '' ? sources.defaults[name] : fromEnv;
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'configuration');
    const given = input[name];
    if (given === undefined) return `${name} is required`;
    // A setting marked `secret` (a URL with a password) is named but never echoed; any other
    // URL is echoed with its userinfo redacted.
    const field = (schema.shape as Readonly<Record<string, z.ZodType | undefined>>)[name];
    const isSecret = field?.meta()?.secret === true;
    return `${name} ${issue.message} ${isSecret ? '(value not shown)' : `(got '${redactUserinfo(given)}')`}`;
  });
  throw toError(lines.join('; '));
}

/** Freezes an object and everything below it. */
export function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) deepFreeze(child as object);
  }
  return Object.freeze(value);
}

/** The user and password of a URL (`scheme://user:pass@host`, or `user:pass@host` without one). */
const USERINFO = /^((?:[A-Za-z][A-Za-z0-9+.-]*:)?\/\/)?[^/?#\s]*@/;

/**
 * `value` with a URL's userinfo replaced by `[redacted]`: what a log line or an error message
 * may show of a setting (`redis://[redacted]@cache:6379`). Other values are returned as they are.
 */
export function redactUserinfo(value: string): string {
  return value.replace(USERINFO, '$1[redacted]@');
}

/** A variable in the environment that looks meant for a program but that it will not use. */
export interface SettingWarning {
  readonly variable: string;
  /** One sentence for the operator, naming the variable. */
  readonly message: string;
  /** The known setting it most likely meant, when one is a small edit away. */
  readonly suggestion?: string;
}

/** What `findSettingWarnings` compares the environment with. */
export interface KnownSettings {
  /** Every setting the program reads. */
  readonly names: readonly string[];
  /** A variable with one of these prefixes is taken as meant for the program. */
  readonly prefixes: readonly string[];
  /** Variables of these prefixes that belong to someone else (a library's own) and never warn. */
  readonly foreignPrefixes?: readonly string[];
  /** Settings a contract names that this version does not read (yet); setting one warns. */
  readonly unsupported?: readonly string[];
}

/**
 * Warnings for the variables of `env` that the program will ignore: a setting the contract names
 * but this version does not support; or an unknown variable with one of the program's prefixes,
 * or one edit away from an unprefixed setting (`LOGLEVEL`), with a "did you mean" suggestion
 * when a known name is close. Pure; the entry file logs them.
 */
export function findSettingWarnings(
  env: Readonly<Record<string, string | undefined>>,
  known: KnownSettings,
): SettingWarning[] {
  const names = new Set(known.names);
  const unsupported = new Set((known.unsupported ?? []).filter((name) => !names.has(name)));
  const candidates = [...names, ...unsupported];
  const unprefixed = candidates.filter((name) => !hasPrefix(name, known.prefixes));
  const warnings: SettingWarning[] = [];
  for (const variable of Object.keys(env).sort()) {
    if (names.has(variable) || env[variable] === undefined || env[variable] === '') continue;
    if (unsupported.has(variable)) {
      warnings.push({
        variable,
        message: `${variable} is set but not supported by this version; ignored`,
      });
      continue;
    }
    if (hasPrefix(variable, known.foreignPrefixes ?? [])) continue;
    const isNearUnprefixed = unprefixed.some((name) => distance(name, variable) === 1);
    if (!hasPrefix(variable, known.prefixes) && !isNearUnprefixed) continue;
    const suggestion = closestName(variable, candidates);
    warnings.push({
      variable,
      message: `${variable} is not a known setting; ignored${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
      ...(suggestion ? { suggestion } : {}),
    });
  }
  return warnings;
}

function hasPrefix(name: string, prefixes: readonly string[]): boolean {
  return prefixes.some((prefix) => name.startsWith(prefix));
}

/** The known name nearest to `variable`, if it is within a typo's reach (about a quarter of it). */
function closestName(variable: string, candidates: readonly string[]): string | undefined {
  const reach = Math.max(2, Math.floor(variable.length / 4));
  let best: { name: string; edits: number } | undefined;
  for (const name of candidates) {
    const edits = distance(variable, name);
    if (edits <= reach && (best === undefined || edits < best.edits)) best = { name, edits };
  }
  return best?.name;
}

/** Why a listen address cannot be used, by the error code `listen` fails with. */
const LISTEN_FAILURES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address in use',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  EAI_NONAME: 'host not found',
  EAI_FAIL: 'host not found',
};

/**
 * The one line that says why listening on `HOST:PORT` failed ("Cannot listen on
 * 127.0.0.1:8080: address in use"), or undefined when `error` is not such a failure.
 */
export function listenFailureMessage(
  error: unknown,
  listen: { readonly host: string; readonly port: number },
): string | undefined {
  const { code, syscall } = (error ?? {}) as { code?: unknown; syscall?: unknown };
  if (typeof code !== 'string') return undefined;
  const isListenCall = syscall === 'listen' || syscall === 'bind' || syscall === 'getaddrinfo';
  const reason = LISTEN_FAILURES[code] ?? (isListenCall ? code : undefined);
  if (reason === undefined) return undefined;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return `Cannot listen on ${host}:${listen.port}: ${reason}`;
}
