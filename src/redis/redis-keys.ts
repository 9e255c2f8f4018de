import { createHash } from 'node:crypto';

/**
 * Everything the gateway keeps in Redis, by key prefix (API.md §6 rule 3): profile settings,
 * short leases on (XUID, setting) pairs, per-caller throttle gates and rate-limit counters.
 * Never privacy or people answers, tokens or userhashes: a caller appears only as a hash. A
 * change of a key's scheme or value bumps its `v1`.
 */
export const REDIS_KEYS = {
  /** `<prefix><xuid>:<setting>` → a profile setting value with its fetch time. */
  profile: 'fcg:v1:profile:',
  /** `<prefix><xuid>:<setting>` → the token of the load fetching that pair right now. */
  lease: 'fcg:v1:lease:',
  /** `<prefix><upstream>:<caller hash>` → `1`, living as long as the upstream's Retry-After. */
  throttle: 'fcg:v1:throttle:',
  /** rate-limiter-flexible's `<prefix>:<caller hash>` → requests in the current window. */
  rateLimit: 'fcg:v1:ratelimit',
} as const;

/**
 * The caller as Redis keys name them: the first 128 bits of the SHA-256 of the userhash, hex.
 * Enough to tell callers apart, and no userhash in Redis.
 */
export function callerKey(userHash: string): string {
  return createHash('sha256').update(userHash).digest('hex').slice(0, 32);
}
