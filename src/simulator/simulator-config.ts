import { z } from 'zod';
import {
  deepFreeze,
  findSettingWarnings,
  LOG_LEVELS,
  parseSettings,
  readDefaults,
  wholeNumber,
} from '../settings.js';
import type { SettingWarning } from '../settings.js';
import {
  ERROR_STATUS_RANGE,
  MAX_DELAY_MS,
  MAX_ERROR_STATUSES,
  MAX_RETRY_AFTER_SECONDS,
  SERVICE_NAMES,
  type FaultOptions,
  type ServiceFaults,
  type ServiceName,
} from './faults.js';
import { MAX_POPULATION_SIZE, MIN_POPULATION_SIZE } from './population.js';

/** Where the simulator's defaults live; the same relative URL works from `src/` and `dist/`. */
export const SIMULATOR_DEFAULTS_PATH = new URL('../../config/simulator.json', import.meta.url);

const TRUE_WORDS = new Set(['true', 'on', '1', 'yes']);

/** A decimal number from 0 to 1, such as 0.05. */
function rate() {
  const message = 'must be a number from 0 to 1';
  return z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, message)
    .transform(Number)
    .pipe(z.number().min(0, message).max(1, message));
}

/** One error status, or a comma-separated list of them (`500,503`). */
function statusList() {
  const { min, max } = ERROR_STATUS_RANGE;
  const message = `must be a status from ${min} to ${max}, or a comma-separated list of them`;
  return z
    .string()
    .trim()
    .regex(/^\d+(\s*,\s*\d+)*$/, message)
    .transform((value) => value.split(',').map(Number))
    .pipe(
      z
        .array(z.number().int().min(min, message).max(max, message))
        .max(MAX_ERROR_STATUSES, `must list at most ${MAX_ERROR_STATUSES} statuses`),
    );
}

/** How a service is called in the descriptions of its settings. */
const SERVICE_WORDS: Readonly<Record<ServiceName, string>> = {
  social: 'social (people)',
  profile: 'profile',
  privacy: 'privacy',
};

/** The environment name of one service's setting, e.g. `SIM_PROFILE_HANG_RATE`. */
type ServiceSettingName<Kind extends string> = `SIM_${Uppercase<ServiceName>}_${Kind}`;

function upper<S extends ServiceName>(service: S): Uppercase<S> {
  return service.toUpperCase() as Uppercase<S>;
}

/** The same setting for each service, in the order of `SERVICE_NAMES`. */
function perService<Kind extends string, Schema extends z.ZodType>(
  kind: Kind,
  schema: () => Schema,
  describe: (service: string) => string,
): Record<ServiceSettingName<Kind>, Schema> {
  const entries = SERVICE_NAMES.map((service) => {
    return [`SIM_${upper(service)}_${kind}`, schema().describe(describe(SERVICE_WORDS[service]))];
  });
  return Object.fromEntries(entries) as Record<ServiceSettingName<Kind>, Schema>;
}

/** A switch: true/false, on/off, yes/no or 1/0, any case. */
function flag() {
  return z
    .string()
    .trim()
    .regex(/^(true|false|on|off|yes|no|1|0)$/i, 'must be true or false (or on/off)')
    .transform((value) => TRUE_WORDS.has(value.toLowerCase()));
}

/** Every simulator setting by its environment name; `.describe()` is the README line. */
export const simulatorSettingsSchema = z.object({
  PORT: wholeNumber(0, 65_535).describe(
    'listen port (0 = any free port, the chosen one is logged)',
  ),
  HOST: z.string().trim().min(1, 'must not be empty').describe('listen address'),
  LOG_LEVEL: z
    .enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })
    .describe('pino log level'),
  SIM_SEED: wholeNumber(0, 0xffff_ffff).describe(
    'seed of the synthetic population and of fault draws; the same seed gives the same players',
  ),
  SIM_POPULATION_SIZE: wholeNumber(MIN_POPULATION_SIZE, MAX_POPULATION_SIZE).describe(
    'number of synthetic players (a few of them have XUIDs above 2^53)',
  ),
  SIM_MAX_BATCH: wholeNumber(1, 10_000).describe(
    'most XUIDs one upstream call may carry; more is answered 400',
  ),
  ...perService(
    'LATENCY_MS',
    () => wholeNumber(0, MAX_DELAY_MS),
    (service) => {
      return `base delay added to every ${service} answer (ms)`;
    },
  ),
  ...perService(
    'JITTER_MS',
    () => wholeNumber(0, MAX_DELAY_MS),
    (service) => {
      return `up to this much random extra delay on every ${service} answer (ms)`;
    },
  ),
  ...perService('ERROR_RATE', rate, (service) => {
    return `share of ${service} calls answered with an error status instead (0..1)`;
  }),
  ...perService('ERROR_STATUS', statusList, (service) => {
    return `status of those ${service} errors (400..599); of a comma-separated list, one per call`;
  }),
  ...perService('HANG_RATE', rate, (service) => {
    return `share of ${service} calls never answered, left for the client's timeout (0..1)`;
  }),
  ...perService('RESET_RATE', rate, (service) => {
    return `share of ${service} calls whose connection is reset instead of answered (0..1)`;
  }),
  ...perService('THROTTLE_RATE', rate, (service) => {
    return `share of ${service} calls answered 429, apart from the real rate limit (0..1)`;
  }),
  ...perService(
    'RETRY_AFTER_SECONDS',
    () => wholeNumber(0, MAX_RETRY_AFTER_SECONDS),
    (service) => {
      return `Retry-After of simulated ${service} 429 and 503 answers (s)`;
    },
  ),
  ...perService('MALFORMED_RATE', rate, (service) => {
    return `share of otherwise good ${service} answers sent as truncated JSON with status 200 (0..1)`;
  }),
  SIM_RATE_LIMIT: flag().describe(
    'fine-grained rate limiting per caller and service, 10 per 15 s and 30 per 300 s (true/false)',
  ),
  SIM_RATE_LIMIT_SCALE: z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, 'must be a positive number')
    .transform(Number)
    .pipe(z.number().positive('must be a positive number').max(10_000, 'must be at most 10000'))
    .describe('multiplies both rate limits (2 = 20 per 15 s and 60 per 300 s)'),
});

/** Settings of earlier versions that became one per service, and what replaces them. */
const RETIRED_SETTINGS: Readonly<Record<string, string>> = {
  SIM_LATENCY_JITTER_MS: 'set SIM_SOCIAL_JITTER_MS, SIM_PROFILE_JITTER_MS, SIM_PRIVACY_JITTER_MS',
  SIM_MALFORMED_RATE:
    'set SIM_SOCIAL_MALFORMED_RATE, SIM_PROFILE_MALFORMED_RATE, SIM_PRIVACY_MALFORMED_RATE',
  SIM_SOCIAL_FAILURE_RATE: 'set SIM_SOCIAL_ERROR_RATE (statuses: SIM_SOCIAL_ERROR_STATUS)',
  SIM_PROFILE_FAILURE_RATE: 'set SIM_PROFILE_ERROR_RATE (statuses: SIM_PROFILE_ERROR_STATUS)',
  SIM_PRIVACY_FAILURE_RATE: 'set SIM_PRIVACY_ERROR_RATE (statuses: SIM_PRIVACY_ERROR_STATUS)',
};

/** The names of all simulator settings, as the environment spells them. */
export type SimulatorSettingName = keyof z.input<typeof simulatorSettingsSchema>;

type Settings = z.output<typeof simulatorSettingsSchema>;

/** The simulator's parsed, frozen configuration; `createSimulatorApp` takes it as is. */
export interface SimulatorConfig {
  readonly listen: { readonly port: number; readonly host: string };
  readonly logLevel: Settings['LOG_LEVEL'];
  readonly population: { readonly seed: number; readonly size: number };
  readonly maxBatchSize: number;
  readonly faults: FaultOptions;
  readonly rateLimit: { readonly isEnabled: boolean; readonly scale: number };
}

/** Thrown when a simulator setting is invalid; the message names every bad variable. */
export class SimulatorConfigError extends Error {
  override readonly name = 'SimulatorConfigError';
}

/** Reads `config/simulator.json` as strings, the form the environment gives values in. */
export function readSimulatorDefaults(path: URL = SIMULATOR_DEFAULTS_PATH): Record<string, string> {
  return readDefaults(path);
}

/**
 * Merges the defaults with `env`, validates every setting and returns a frozen `SimulatorConfig`.
 * Pure apart from reading the defaults file; an empty variable counts as unset.
 */
export function loadSimulatorConfig(
  env: Readonly<Record<string, string | undefined>>,
  defaults: Readonly<Record<string, string>> = readSimulatorDefaults(),
): SimulatorConfig {
  const retired = Object.keys(RETIRED_SETTINGS).filter((name) => (env[name] ?? '') !== '');
  if (retired.length > 0) {
    const lines = retired.map((name) => `${name} is no longer read: ${RETIRED_SETTINGS[name]}`);
    throw new SimulatorConfigError(`Cannot start simulator: ${lines.join('; ')}`);
  }
  const settings = parseSettings(simulatorSettingsSchema, { env, defaults }, (message) => {
    return new SimulatorConfigError(`Cannot start simulator: ${message}`);
  });
  return deepFreeze(toSimulatorConfig(settings));
}

function toSimulatorConfig(s: Settings): SimulatorConfig {
  return {
    listen: { port: s.PORT, host: s.HOST },
    logLevel: s.LOG_LEVEL,
    population: { seed: s.SIM_SEED, size: s.SIM_POPULATION_SIZE },
    maxBatchSize: s.SIM_MAX_BATCH,
    faults: {
      seed: s.SIM_SEED,
      social: serviceFaults(s, 'social'),
      profile: serviceFaults(s, 'profile'),
      privacy: serviceFaults(s, 'privacy'),
    },
    rateLimit: { isEnabled: s.SIM_RATE_LIMIT, scale: s.SIM_RATE_LIMIT_SCALE },
  };
}

function serviceFaults(s: Settings, service: ServiceName): ServiceFaults {
  const name = upper(service);
  return {
    latencyMs: s[`SIM_${name}_LATENCY_MS` as const],
    jitterMs: s[`SIM_${name}_JITTER_MS` as const],
    errorRate: s[`SIM_${name}_ERROR_RATE` as const],
    errorStatus: s[`SIM_${name}_ERROR_STATUS` as const],
    hangRate: s[`SIM_${name}_HANG_RATE` as const],
    resetRate: s[`SIM_${name}_RESET_RATE` as const],
    throttleRate: s[`SIM_${name}_THROTTLE_RATE` as const],
    retryAfterSeconds: s[`SIM_${name}_RETRY_AFTER_SECONDS` as const],
    malformedRate: s[`SIM_${name}_MALFORMED_RATE` as const],
  };
}

/**
 * Warnings for the `SIM_` variables of `env` the simulator does not know (with a "did you mean"
 * when one of its settings is close), and for a near miss of `PORT`, `HOST` or `LOG_LEVEL`. Pure.
 */
export function simulatorSettingWarnings(
  env: Readonly<Record<string, string | undefined>>,
): SettingWarning[] {
  return findSettingWarnings(env, {
    names: Object.keys(simulatorSettingsSchema.shape),
    prefixes: ['SIM_'],
  });
}
