import { z } from 'zod';
import { deepFreeze, LOG_LEVELS, parseSettings, readDefaults, wholeNumber } from '../settings.js';
import type { FaultOptions } from './faults.js';
import { MAX_POPULATION_SIZE, MIN_POPULATION_SIZE } from './population.js';

/** Where the simulator's defaults live; the same relative URL works from `src/` and `dist/`. */
export const SIMULATOR_DEFAULTS_PATH = new URL('../../config/simulator.json', import.meta.url);

const TRUE_WORDS = new Set(['true', 'on', '1', 'yes']);
const ONE_HOUR_MS = 3_600_000;

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
  SIM_SOCIAL_LATENCY_MS: wholeNumber(0, ONE_HOUR_MS).describe(
    'delay added to every social (people) answer (ms)',
  ),
  SIM_PROFILE_LATENCY_MS: wholeNumber(0, ONE_HOUR_MS).describe(
    'delay added to every profile answer (ms)',
  ),
  SIM_PRIVACY_LATENCY_MS: wholeNumber(0, ONE_HOUR_MS).describe(
    'delay added to every privacy answer (ms)',
  ),
  SIM_LATENCY_JITTER_MS: wholeNumber(0, ONE_HOUR_MS).describe(
    'up to this much random extra delay on every answer of every service (ms)',
  ),
  SIM_SOCIAL_FAILURE_RATE: rate().describe('share of social calls answered 500 or 503 (0..1)'),
  SIM_PROFILE_FAILURE_RATE: rate().describe('share of profile calls answered 500 or 503 (0..1)'),
  SIM_PRIVACY_FAILURE_RATE: rate().describe('share of privacy calls answered 500 or 503 (0..1)'),
  SIM_MALFORMED_RATE: rate().describe(
    'share of otherwise good answers of every service sent as truncated JSON with status 200 (0..1)',
  ),
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
      jitterMs: s.SIM_LATENCY_JITTER_MS,
      malformedRate: s.SIM_MALFORMED_RATE,
      social: { latencyMs: s.SIM_SOCIAL_LATENCY_MS, failureRate: s.SIM_SOCIAL_FAILURE_RATE },
      profile: { latencyMs: s.SIM_PROFILE_LATENCY_MS, failureRate: s.SIM_PROFILE_FAILURE_RATE },
      privacy: { latencyMs: s.SIM_PRIVACY_LATENCY_MS, failureRate: s.SIM_PRIVACY_FAILURE_RATE },
    },
    rateLimit: { isEnabled: s.SIM_RATE_LIMIT, scale: s.SIM_RATE_LIMIT_SCALE },
  };
}
