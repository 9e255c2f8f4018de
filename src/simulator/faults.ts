import { z } from 'zod';
import { mulberry32 } from './random.js';

/** The three simulated upstream services, as `UPSTREAMS.md` names them. */
export const SERVICE_NAMES = ['social', 'profile', 'privacy'] as const;

/** One simulated upstream service. */
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Longest injected delay, base or jitter (ms): one hour. */
export const MAX_DELAY_MS = 3_600_000;

/** Longest `Retry-After` a simulated 429 or 503 may carry (s): one hour. */
export const MAX_RETRY_AFTER_SECONDS = 3600;

/** Error statuses a service may be told to answer: any 4xx or 5xx. */
export const ERROR_STATUS_RANGE = Object.freeze({ min: 400, max: 599 });

/** Most error statuses in one service's list. */
export const MAX_ERROR_STATUSES = 8;

/**
 * The faults of one service. Every rate is a share of calls from 0 to 1, drawn independently per
 * call; when several fire, the first of hang, reset, throttle, error, malformed wins.
 */
export interface ServiceFaults {
  /** Delay added before every answer (ms). */
  readonly latencyMs: number;
  /** Up to this much extra delay, drawn uniformly per call, on top of `latencyMs` (ms). */
  readonly jitterMs: number;
  /** Share of calls answered with one of `errorStatus` instead of the real answer. */
  readonly errorRate: number;
  /** Statuses of those errors; one is drawn uniformly per failing call. */
  readonly errorStatus: readonly number[];
  /** Share of calls never answered: the connection stays open until the client gives up. */
  readonly hangRate: number;
  /** Share of calls whose connection is reset (TCP RST) instead of answered. */
  readonly resetRate: number;
  /** Share of calls answered 429 with `Retry-After`, whatever the real rate limiter says. */
  readonly throttleRate: number;
  /** `Retry-After` of simulated 429 and 503 answers (s). */
  readonly retryAfterSeconds: number;
  /** Share of otherwise good answers whose JSON body is cut in half (status 200). */
  readonly malformedRate: number;
}

/** The faults of every service. */
export type FaultSettings = Readonly<Record<ServiceName, ServiceFaults>>;

/** Start settings of the fault injector; `createFaults` validates them. */
export interface FaultOptions extends FaultSettings {
  /** Seed of the pseudo-random sequences, so that runs are repeatable. */
  readonly seed: number;
}

/** What to do to one call: wait `delayMs`, then act as `kind` says. */
export type FaultDecision =
  | { readonly kind: 'answer' | 'malformed' | 'hang' | 'reset'; readonly delayMs: number }
  | { readonly kind: 'throttle'; readonly delayMs: number; readonly retryAfterSeconds: number }
  | {
      readonly kind: 'error';
      readonly delayMs: number;
      readonly status: number;
      readonly retryAfterSeconds: number;
    };

function rate() {
  const message = 'must be a number from 0 to 1';
  return z.number(message).min(0, message).max(1, message);
}

function delayMs() {
  const message = `must be a whole number from 0 to ${MAX_DELAY_MS}`;
  return z.int(message).min(0, message).max(MAX_DELAY_MS, message);
}

const STATUS_MESSAGE = `must be a status from ${ERROR_STATUS_RANGE.min} to ${ERROR_STATUS_RANGE.max}`;
const errorStatusValue = z
  .int(STATUS_MESSAGE)
  .min(ERROR_STATUS_RANGE.min, STATUS_MESSAGE)
  .max(ERROR_STATUS_RANGE.max, STATUS_MESSAGE);

/** One status or a non-empty list of them; always a list once parsed. */
const errorStatusList = z.union(
  [
    errorStatusValue.transform((status) => [status]),
    z
      .array(errorStatusValue)
      .min(1, 'must not be empty')
      .max(MAX_ERROR_STATUSES, `must hold at most ${MAX_ERROR_STATUSES} statuses`),
  ],
  { error: `${STATUS_MESSAGE}, or a list of them` },
);

function retryAfterSeconds() {
  const message = `must be a whole number from 0 to ${MAX_RETRY_AFTER_SECONDS}`;
  return z.int(message).min(0, message).max(MAX_RETRY_AFTER_SECONDS, message);
}

/** Every member of `ServiceFaults`, as JSON numbers; unknown members are refused. */
export const serviceFaultsSchema = z.strictObject({
  latencyMs: delayMs(),
  jitterMs: delayMs(),
  errorRate: rate(),
  errorStatus: errorStatusList,
  hangRate: rate(),
  resetRate: rate(),
  throttleRate: rate(),
  retryAfterSeconds: retryAfterSeconds(),
  malformedRate: rate(),
});

/** A run-time change: any services, any of their members; the rest keeps its value. */
export const faultsUpdateSchema = z.strictObject({
  social: serviceFaultsSchema.partial().optional(),
  profile: serviceFaultsSchema.partial().optional(),
  privacy: serviceFaultsSchema.partial().optional(),
});

/** A run-time change, as `faultsUpdateSchema` parses it. */
export type FaultsUpdate = { readonly [S in ServiceName]?: Partial<ServiceFaults> };

/** Draws a fault decision per call from a seeded sequence per service; settings change live. */
export interface Faults {
  /** The decision for the next call to `service`, under the settings of this moment. */
  draw(service: ServiceName): FaultDecision;
  /** The settings in force now. */
  settings(): FaultSettings;
  /** Merges `update` into the settings in force and returns them; `TypeError` if out of range. */
  update(update: FaultsUpdate): FaultSettings;
  /** Back to the start settings, every sequence restarted from the seed; returns them. */
  reset(): FaultSettings;
  /** Every delay and rate to 0 (statuses and Retry-After kept), sequences restarted. */
  clear(): FaultSettings;
}

/**
 * Numbers drawn per call, whatever the settings: the n-th call to a service always gets the n-th
 * group of its sequence, so a change at run time never shifts the draws of later calls.
 */
const DRAWS_PER_CALL = 7;

// One sequence per service, so traffic to one service does not shift another's faults.
const SEQUENCE_SALTS: Readonly<Record<ServiceName, number>> = {
  social: 0x50c1a1,
  profile: 0x960f11e,
  privacy: 0x9e1f4c,
};

/** Builds the fault injector; throws `TypeError` naming the first setting out of range. */
export function createFaults(options: FaultOptions): Faults {
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffff_ffff) {
    throw new TypeError(
      `Cannot create faults: seed must be a 32-bit whole number (got ${options.seed})`,
    );
  }
  const start = freezeSettings({
    social: checkServiceFaults('social', options.social),
    profile: checkServiceFaults('profile', options.profile),
    privacy: checkServiceFaults('privacy', options.privacy),
  });
  let current = start;
  let randoms = createSequences(options.seed);

  return {
    draw(service) {
      const random = randoms[service];
      const draws = Array.from({ length: DRAWS_PER_CALL }, random);
      return decide(current[service], draws);
    },
    settings() {
      return current;
    },
    update(update) {
      const next: Record<ServiceName, ServiceFaults> = { ...current };
      for (const service of SERVICE_NAMES) {
        const change = update[service];
        if (change === undefined) continue;
        next[service] = checkServiceFaults(service, {
          ...current[service],
          ...definedMembers(change),
        });
      }
      current = freezeSettings(next);
      return current;
    },
    reset() {
      current = start;
      randoms = createSequences(options.seed);
      return current;
    },
    clear() {
      const next: Record<ServiceName, ServiceFaults> = { ...current };
      for (const service of SERVICE_NAMES) {
        next[service] = {
          ...current[service],
          latencyMs: 0,
          jitterMs: 0,
          errorRate: 0,
          hangRate: 0,
          resetRate: 0,
          throttleRate: 0,
          malformedRate: 0,
        };
      }
      current = freezeSettings(next);
      randoms = createSequences(options.seed);
      return current;
    },
  };
}

/** Turns one call's draws, all in [0, 1), into its decision under `faults`. */
function decide(faults: ServiceFaults, draws: readonly number[]): FaultDecision {
  const [jitter = 0, hang = 1, reset = 1, throttle = 1, error = 1, status = 0, malformed = 1] =
    draws;
  const delayMs = faults.latencyMs + Math.floor(jitter * (faults.jitterMs + 1));
  if (hang < faults.hangRate) return { kind: 'hang', delayMs };
  if (reset < faults.resetRate) return { kind: 'reset', delayMs };
  if (throttle < faults.throttleRate) {
    return { kind: 'throttle', delayMs, retryAfterSeconds: faults.retryAfterSeconds };
  }
  if (error < faults.errorRate) {
    const statuses = faults.errorStatus;
    return {
      kind: 'error',
      delayMs,
      status: statuses[Math.floor(status * statuses.length)] ?? statuses[0] ?? 500,
      retryAfterSeconds: faults.retryAfterSeconds,
    };
  }
  return { kind: malformed < faults.malformedRate ? 'malformed' : 'answer', delayMs };
}

function createSequences(seed: number): Record<ServiceName, () => number> {
  return {
    social: mulberry32(seed ^ SEQUENCE_SALTS.social),
    profile: mulberry32(seed ^ SEQUENCE_SALTS.profile),
    privacy: mulberry32(seed ^ SEQUENCE_SALTS.privacy),
  };
}

function checkServiceFaults(service: ServiceName, faults: ServiceFaults): ServiceFaults {
  const parsed = serviceFaultsSchema.safeParse(faults);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = [service, ...(issue?.path ?? []).map(String)].join('.');
  throw new TypeError(`Cannot create faults: ${where} ${issue?.message ?? 'is invalid'}`);
}

/** The members of a partial update that are set: `undefined` never overwrites a value. */
function definedMembers(change: Partial<ServiceFaults>): Partial<ServiceFaults> {
  const members: Record<string, unknown> = change;
  return Object.fromEntries(Object.entries(members).filter(([, value]) => value !== undefined));
}

function freezeSettings(settings: Record<ServiceName, ServiceFaults>): FaultSettings {
  for (const service of SERVICE_NAMES) {
    const faults = settings[service];
    settings[service] = Object.freeze({
      ...faults,
      errorStatus: Object.freeze([...faults.errorStatus]),
    });
  }
  return Object.freeze(settings);
}
