import type { Config } from '../config.js';
import type { CallerThrottle } from './caller-throttle.js';
import { callLogging } from './policies/call-logging.js';
import { callerThrottleGate } from './policies/caller-throttle-gate.js';
import { deadline } from './policies/deadline.js';
import type { UpstreamPolicy } from './upstream-pipeline.js';

/** What the policies read: the settings, and the per-process state they share across upstreams. */
export interface UpstreamPolicyDeps {
  /** Where a policy reads its settings (retries, breaker thresholds). */
  readonly config: Config;
  readonly throttle: CallerThrottle;
}

/**
 * The chain every upstream call passes through, outermost first; called once per upstream, so
 * a policy with state (a breaker) gets one instance per upstream. A new policy is one file in
 * `policies/` and one line here.
 */
export function upstreamPolicies(deps: UpstreamPolicyDeps): UpstreamPolicy[] {
  return [callerThrottleGate(deps.throttle), callLogging(), deadline()];
}
