import type { z } from 'zod';
import type { CallContext } from '../call-context.js';
import type { FailureKind } from '../errors.js';
import type { UpstreamName } from '../xbl-vocabulary.js';

/** Why one upstream part failed: the contract's code plus the upstream status when there was one. */
export interface PartFailure {
  readonly kind: FailureKind;
  readonly status?: number;
  /** From the upstream's `Retry-After` on a 429, in seconds. */
  readonly retryAfterSeconds?: number;
  /** The original error, for logs only. */
  readonly cause?: unknown;
  /** The upstream's own correlation id, logged when present (UPSTREAMS.md). */
  readonly xblCorrelationId?: string | undefined;
}

/** What one upstream call gave: data, or a failure as data (STYLE.md 16). */
export type UpstreamOutcome<T> =
  | { readonly ok: true; readonly value: T; readonly xblCorrelationId?: string | undefined }
  | { readonly ok: false; readonly failure: PartFailure };

/** One fixed upstream endpoint, described once per client: where, which headers, what answer. */
export interface UpstreamEndpoint<T> {
  readonly upstream: UpstreamName;
  /** Fixed path under the base URL; no client query string ever reaches it. */
  readonly path: string;
  /** Extra version headers the upstream's contract asks for (UPSTREAMS.md). */
  readonly versionHeaders: Readonly<Record<string, string>>;
  /** The answer's schema; unknown members are dropped, a wrong shape is `bad_response`. */
  readonly schema: z.ZodType<T>;
}

/** One upstream HTTP call (one batch) as the policies see it. */
export interface UpstreamRequest<T> {
  readonly endpoint: UpstreamEndpoint<T>;
  /** The JSON body. */
  readonly body: unknown;
  /** How many XUIDs the call carries, for logs and metrics. */
  readonly xuidCount: number;
  readonly context: CallContext;
  /** Which attempt of the call this is, set by the retry policy on a retry; 1 when absent. */
  readonly attempt?: number;
  /**
   * The `traceparent` to send, set by the tracing policy to carry its client span; when absent
   * the transport continues the request's trace with a fresh span id.
   */
  readonly traceparent?: string;
}

/** Sends one upstream call. Never throws: every failure comes back as an outcome. */
export type SendUpstream = <T>(request: UpstreamRequest<T>) => Promise<UpstreamOutcome<T>>;

/**
 * One cross-cutting behaviour around a call (deadline, throttle gate, logging; later retry,
 * breaker, bulkhead, metrics, span): it gets the next step and returns a step of the same
 * shape, the way undici interceptors wrap `dispatch` (STYLE.md 8).
 */
export type UpstreamPolicy = (next: SendUpstream) => SendUpstream;

/** Wraps `send` in `policies`, the first one outermost. */
export function composePolicies(
  policies: readonly UpstreamPolicy[],
  send: SendUpstream,
): SendUpstream {
  return policies.reduceRight<SendUpstream>((next, policy) => policy(next), send);
}

/** A failed outcome. */
export function failed(failure: PartFailure): {
  readonly ok: false;
  readonly failure: PartFailure;
} {
  return { ok: false, failure };
}
