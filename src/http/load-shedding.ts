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
