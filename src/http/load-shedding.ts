/** Why a card request was shed, as a metric label (API.md §5 rule 6). */
export const SHED_REASONS = ['in_flight', 'event_loop_delay'] as const;

/** One of `SHED_REASONS`: past `MAX_IN_FLIGHT_REQUESTS`, or past `MAX_EVENT_LOOP_DELAY_MS`. */
export type ShedReason = (typeof SHED_REASONS)[number];

/**
 * The count of card requests in progress, bounded by `MAX_IN_FLIGHT_REQUESTS` (API.md §5 rule 6).
 * Per-process state, owned by `createDeps`: each worker process sheds on its own count.
 */
export interface InFlightLimit {
  /** True when a new card request must be shed. */
  isFull(): boolean;
  /** Counts one more request in progress; the returned function ends it (once). */
  acquire(): () => void;
  /** Card requests in progress now. */
  count(): number;
}

/** Creates the in-flight counter with room for `maxInFlight` requests. */
export function createInFlightLimit(maxInFlight: number): InFlightLimit {
  if (!Number.isInteger(maxInFlight) || maxInFlight <= 0) {
    throw new TypeError('Cannot create in-flight limit: maxInFlight must be a positive integer');
  }
  let inFlight = 0;
  return {
    isFull: () => inFlight >= maxInFlight,
    acquire() {
      inFlight += 1;
      let isReleased = false;
      return () => {
        if (isReleased) return;
        isReleased = true;
        inFlight -= 1;
      };
    },
    count: () => inFlight,
  };
}

/** How often the event-loop delay is sampled: a timer this far apart measures its own lateness. */
const DELAY_SAMPLE_MS = 50;

/** Samples a high delay is remembered for: a stall sheds for about half a second after it. */
const DELAY_WINDOW_SAMPLES = 10;

/**
 * Sheds card requests while the event loop lags past `MAX_EVENT_LOOP_DELAY_MS` (API.md §5 rule 6).
 * Per-process state, owned by `createDeps`; `stop()` ends its sampling timer.
 */
export interface EventLoopDelayLimit {
  /** True when a new card request must be shed. */
  isOverloaded(): boolean;
  /** The delay now observed, in milliseconds. */
  delayMs(): number;
  /** Stops sampling; the limit then sheds nothing. */
  stop(): void;
}

/** Options of `createEventLoopDelayLimit`. */
export interface EventLoopDelayLimitOptions {
  /** Shed past this delay (ms); 0 turns shedding off. */
  readonly maxDelayMs: number;
  /** Reads the current delay (ms) instead of sampling the loop; tests set it. */
  readonly observe?: () => number;
}

/**
 * Creates the event-loop delay limit. The delay is the lateness of a timer due every
 * `DELAY_SAMPLE_MS`, the worst of the last `DELAY_WINDOW_SAMPLES`: a timer fires before the
 * poll phase that reads new requests, so the first request after a stall already sees it, and
 * the value falls again by itself once the loop keeps time.
 */
export function createEventLoopDelayLimit(
  options: EventLoopDelayLimitOptions,
): EventLoopDelayLimit {
  const { maxDelayMs } = options;
  if (!Number.isInteger(maxDelayMs) || maxDelayMs < 0) {
    throw new TypeError(
      'Cannot create event-loop delay limit: maxDelayMs must be a whole number of milliseconds',
    );
  }
  if (maxDelayMs === 0) {
    return {
      isOverloaded: () => false,
      delayMs: () => options.observe?.() ?? 0,
      stop: () => undefined,
    };
  }
  if (options.observe) {
    const observe = options.observe;
    return { isOverloaded: () => observe() > maxDelayMs, delayMs: observe, stop: () => undefined };
  }
  const samples: number[] = [];
  let lastAt = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    samples.push(Math.max(0, now - lastAt - DELAY_SAMPLE_MS));
    if (samples.length > DELAY_WINDOW_SAMPLES) samples.shift();
    lastAt = now;
  }, DELAY_SAMPLE_MS);
  // Sampling must never keep a finished process alive.
  timer.unref();
  const delayMs = () => Math.max(0, ...samples);
  return {
    isOverloaded: () => delayMs() > maxDelayMs,
    delayMs,
    stop: () => {
      clearInterval(timer);
      samples.length = 0;
    },
  };
}
