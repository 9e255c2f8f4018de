import { randomFillSync } from 'node:crypto';
import type { Context } from '@opentelemetry/api';
import type { Logger } from 'pino';

/** W3C trace context to continue on outgoing calls (API.md §3). */
export interface TraceContext {
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** 2 hex digits, e.g. `01` when sampled. */
  readonly flags: string;
  /** The client's `tracestate`, forwarded only with a valid `traceparent`. */
  readonly state?: string | undefined;
}

/**
 * What every upstream call of one client request carries: credentials, ids, deadline, logger.
 * Built once per request by the route; every layer may read it, none imports the HTTP edge.
 */
export interface CallContext {
  /** The caller's `Authorization`, forwarded verbatim and never logged. */
  readonly authorization: string;
  /** The player behind the token (the userhash), for per-caller limits; not a secret. */
  readonly callerId: string;
  readonly requestId: string;
  readonly trace: TraceContext;
  /**
   * With tracing on, the OpenTelemetry context that holds the request's server span: the parent
   * of every upstream call's client span. Absent when tracing is off.
   */
  readonly otelContext?: Context | undefined;
  /** Aborts when the deadline passes or the client hangs up. */
  readonly signal: AbortSignal;
  /** When the deadline passes, on the `performance.now()` clock. */
  readonly deadlineAtMs: number;
  /** The request's logger; policies add their own fields instead of making child loggers. */
  readonly logger: Logger;
  /** Returns the next `MS-CV` value of this request's correlation vector. */
  readonly nextCorrelationVector: () => string;
}

/** A deadline whose timer can be cleared once the work it bounds is done. */
export interface Deadline {
  readonly signal: AbortSignal;
  readonly deadlineAtMs: number;
  /** Aborts now, because the client hung up. */
  abort(): void;
  /** Clears the timer; the signal stays as it is. */
  clear(): void;
}

/** Why a request's signal fired when its client went away, not because time ran out. */
export class ClientHungUpError extends Error {
  override readonly name = 'AbortError';
  readonly code = 'GATEWAY_CLIENT_HUNG_UP';
}

/**
 * True when `signal` fired because the client hung up: what failed then says nothing about the
 * upstream, so it must not count toward opening its circuit.
 */
export function isHangUp(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof ClientHungUpError;
}

/**
 * Starts a deadline `durationMs` from now: one timer and one controller, cleared when the work
 * ends, instead of an `AbortSignal.timeout` that keeps its timer after an early answer.
 */
export function startDeadline(durationMs: number): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new DOMException('The deadline passed', 'TimeoutError'));
  }, durationMs);
  timer.unref();
  return {
    signal: controller.signal,
    deadlineAtMs: performance.now() + durationMs,
    abort: () => {
      clearTimeout(timer);
      controller.abort(new ClientHungUpError('The client hung up'));
    },
    clear: () => {
      clearTimeout(timer);
    },
  };
}

/** Random bytes drawn from the CSPRNG in blocks: one system call serves many ids. */
const randomPool = Buffer.alloc(4096);
let randomOffset = randomPool.length;

function takeRandom(byteCount: number): Buffer {
  if (randomOffset + byteCount > randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  randomOffset += byteCount;
  return randomPool.subarray(randomOffset - byteCount, randomOffset);
}

/**
 * `byteCount` random bytes as lowercase hex, for trace and span ids (W3C trace context asks for
 * random ids; a pooled CSPRNG block costs far less than a `randomBytes` call per id).
 */
export function randomHex(byteCount: number): string {
  return takeRandom(byteCount).toString('hex');
}

/** Starts a correlation vector (`MS-CV`): a random base, then `.1`, `.2`… per upstream call. */
export function createCorrelationVector(): () => string {
  const base = takeRandom(12).toString('base64');
  let counter = 0;
  return () => `${base}.${++counter}`;
}
