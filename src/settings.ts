import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Settings plumbing shared by the gateway's and the simulator's configuration: no contract here. */

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
    // A setting marked `secret` (a URL with a password) is named but never echoed.
    const field = (schema.shape as Readonly<Record<string, z.ZodType | undefined>>)[name];
    const isSecret = field?.meta()?.secret === true;
    return `${name} ${issue.message} ${isSecret ? '(value not shown)' : `(got '${given}')`}`;
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
