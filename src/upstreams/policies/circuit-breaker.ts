import { isHangUp } from '../../call-context.js';
import type { UpstreamCircuit } from '../upstream-circuit.js';
import type { UpstreamOutcome, UpstreamPolicy, UpstreamRequest } from '../upstream-pipeline.js';
import { failed } from '../upstream-pipeline.js';

/**
 * The upstream's circuit breaker (API.md §5 rule 3): while open, the part fails at once with
 * `circuit_open` and the upstream is not called; after `BREAKER_HALF_OPEN_AFTER_MS` one probe
 * goes through, and a probe that succeeds closes it. Inside the retry, so each attempt counts.
 */
export function circuitBreaker(circuit: UpstreamCircuit): UpstreamPolicy {
  return (next) =>
    async <T>(request: UpstreamRequest<T>): Promise<UpstreamOutcome<T>> =>
      (await circuit.execute(async () => {
        const outcome = await next(request);
        // A call cut because its client hung up says nothing about the upstream.
        return { outcome, mayBeFault: !isHangUp(request.context.signal) };
      })) ?? failed({ kind: 'circuit_open' });
}
