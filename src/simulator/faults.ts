import { mulberry32 } from './random.js';

/** The three simulated upstream services, as `UPSTREAMS.md` names them. */
export const SERVICE_NAMES = ['social', 'profile', 'privacy'] as const;

/** One simulated upstream service. */
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Latency and failure injection for one service. */
export interface ServiceFaultOptions {
  /** Delay added before every answer of the service (ms). */
  readonly latencyMs: number;
  /** Share of calls (0..1) answered 500 or 503 instead of the real answer. */
  readonly failureRate: number;
}

/** Settings of the fault injector; `createFaults` validates them. */
export interface FaultOptions {
  /** Seed of the pseudo-random sequence, so that runs are repeatable. */
  readonly seed: number;
  /** Up to this much extra delay, drawn uniformly, is added to every answer (ms). */
  readonly jitterMs: number;
  /** Share of otherwise good answers (0..1) whose JSON body is cut in half. */
  readonly malformedRate: number;
  readonly social: ServiceFaultOptions;
  readonly profile: ServiceFaultOptions;
  readonly privacy: ServiceFaultOptions;
}

/** What to do to one call: wait, then fail with a status or answer (possibly malformed). */
export interface FaultDecision {
  readonly delayMs: number;
  readonly failureStatus: 500 | 503 | undefined;
  readonly isMalformed: boolean;
}

/** Draws a fault decision per call from a seeded sequence per service. */
export interface Faults {
  /** The decision for the next call to `service`. */
  draw(service: ServiceName): FaultDecision;
}

const NO_FAULT: FaultDecision = Object.freeze({
  delayMs: 0,
  failureStatus: undefined,
  isMalformed: false,
});

/** Builds the fault injector; throws `TypeError` for a negative delay or a rate outside 0..1. */
export function createFaults(options: FaultOptions): Faults {
  checkWholeNumber('jitterMs', options.jitterMs);
  checkRate('malformedRate', options.malformedRate);
  for (const service of SERVICE_NAMES) {
    checkWholeNumber(`${service}.latencyMs`, options[service].latencyMs);
    checkRate(`${service}.failureRate`, options[service].failureRate);
  }

  // One sequence per service, so traffic to one service does not shift another's faults.
  const randoms = {
    social: mulberry32(options.seed ^ 0x50c1a1),
    profile: mulberry32(options.seed ^ 0x960f11e),
    privacy: mulberry32(options.seed ^ 0x9e1f4c),
  };
  const isQuiet = (service: ServiceName): boolean =>
    options.jitterMs === 0 &&
    options.malformedRate === 0 &&
    options[service].latencyMs === 0 &&
    options[service].failureRate === 0;
  const quiet = {
    social: isQuiet('social'),
    profile: isQuiet('profile'),
    privacy: isQuiet('privacy'),
  };

  return {
    draw(service) {
      if (quiet[service]) return NO_FAULT;
      const random = randoms[service];
      const { latencyMs, failureRate } = options[service];
      // Always draw four numbers so a decision depends only on the call's position in the sequence.
      const jitterDraw = random();
      const failureDraw = random();
      const statusDraw = random();
      const malformedDraw = random();
      const isFailure = failureDraw < failureRate;
      return {
        delayMs: latencyMs + Math.floor(jitterDraw * (options.jitterMs + 1)),
        failureStatus: isFailure ? (statusDraw < 0.5 ? 500 : 503) : undefined,
        isMalformed: !isFailure && malformedDraw < options.malformedRate,
      };
    },
  };
}

function checkWholeNumber(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new TypeError(`Cannot create faults: ${name} must be a whole number (got ${value})`);
  }
}

function checkRate(name: string, value: number): void {
  if (!(value >= 0 && value <= 1)) {
    throw new TypeError(`Cannot create faults: ${name} must be from 0 to 1 (got ${value})`);
  }
}
