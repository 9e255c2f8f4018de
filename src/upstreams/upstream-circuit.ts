import {
  circuitBreaker,
  CircuitState,
  ConsecutiveBreaker,
  handleWhenResult,
  isBrokenCircuitError,
} from 'cockatiel';
import type { CircuitBreakerPolicy } from 'cockatiel';
import type { PartFailure, UpstreamOutcome } from './upstream-pipeline.js';

/** A circuit's state as `/readyz` shows it. */
export type CircuitStateName = 'closed' | 'open' | 'half-open';

/** Options of one upstream's circuit (`BREAKER_FAILURE_THRESHOLD`, `BREAKER_HALF_OPEN_AFTER_MS`). */
export interface UpstreamCircuitOptions {
  readonly failureThreshold: number;
  readonly halfOpenAfterMs: number;
}

/**
 * One upstream's circuit breaker (cockatiel's consecutive breaker): per-process state, owned by
 * `createDeps`, read by the breaker policy and by `/readyz`.
 */
export interface UpstreamCircuit {
  /**
   * Runs `call` unless the circuit is open; `undefined` when it is (nothing was called). A
   * failure counts toward opening it unless `call` says it speaks not of the upstream.
   */
  execute<T>(call: () => Promise<JudgedOutcome<T>>): Promise<UpstreamOutcome<T> | undefined>;
  /** `half-open` also when open and due for a probe: the next call goes through. */
  state(): CircuitStateName;
}

/** A call's outcome, and whether it may count as the upstream's fault at all. */
export interface JudgedOutcome<T> {
  readonly outcome: UpstreamOutcome<T>;
  readonly mayBeFault: boolean;
}

const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);

/** Codes of a connection that was reset or refused (undici and Node). */
const CONNECTION_FAILURE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/**
 * A failure worth another attempt (API.md §5 table): a connection reset or refusal, or a 500,
 * 502, 503 or 504. Never a 4xx (400, 401, 403, 404, 429), a timeout or a bad body.
 */
export function isTransientFailure(failure: PartFailure): boolean {
  if (failure.kind !== 'unavailable') return false;
  if (failure.status !== undefined) return TRANSIENT_STATUSES.has(failure.status);
  const code = (failure.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && CONNECTION_FAILURE_CODES.has(code);
}

/** A failure that speaks of the upstream's health: the transient ones and timeouts. */
function isUpstreamFault(outcome: UpstreamOutcome<unknown>): boolean {
  if (outcome.ok) return false;
  return outcome.failure.kind === 'timeout' || isTransientFailure(outcome.failure);
}

/** Creates one upstream's circuit. */
export function createUpstreamCircuit(options: UpstreamCircuitOptions): UpstreamCircuit {
  const breaker: CircuitBreakerPolicy = circuitBreaker(
    handleWhenResult((result) => {
      const judged = result as JudgedOutcome<unknown>;
      return judged.mayBeFault && isUpstreamFault(judged.outcome);
    }),
    {
      halfOpenAfter: options.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.failureThreshold),
    },
  );
  let openedAtMs = 0;
  breaker.onBreak(() => {
    openedAtMs = Date.now();
  });

  return {
    async execute(call) {
      try {
        return (await breaker.execute(call)).outcome;
      } catch (error) {
        // Open (or a probe already running and failing): fail at once, call nothing.
        if (isBrokenCircuitError(error)) {
          return undefined;
        }
        throw error;
      }
    },
    state() {
      switch (breaker.state) {
        case CircuitState.Closed:
          return 'closed';
        case CircuitState.HalfOpen:
          return 'half-open';
        case CircuitState.Open:
        case CircuitState.Isolated:
          return Date.now() - openedAtMs >= options.halfOpenAfterMs ? 'half-open' : 'open';
      }
    },
  };
}
