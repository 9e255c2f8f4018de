// What one cached (XUID, setting) pair costs: the in-process level's own size accounting (the
// number PROFILE_CACHE_MAX_BYTES bounds) next to the real V8 heap it takes, measured after GC.
// Run: npx node --expose-gc --import tsx test/bench/cache-footprint.ts [--xuids <n>]
// (docs/operations.md, "Sizing the profile cache", quotes its output.)
import { parseArgs } from 'node:util';
import { createProfileCache, pairKey } from '../../src/profile-cache/profile-cache.js';
import { createPopulation } from '../../src/simulator/population.js';
import { DEFAULT_SETTINGS } from '../../src/xbl-vocabulary.js';
import type { ProfileSettingId } from '../../src/xbl-vocabulary.js';

/** XUIDs per simulated profile answer, as the gateway batches them. */
const BATCH = 100;
const DEFAULT_MAX_BYTES = 67_108_864;

interface ProfileAnswer {
  readonly profileUsers: readonly {
    readonly id: string;
    readonly settings: readonly { readonly id: ProfileSettingId; readonly value: string }[];
  }[];
}

const collect = (globalThis as { gc?: () => void }).gc;
if (collect === undefined) throw new Error('Cannot measure: run node with --expose-gc');
const gc = collect;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i += 1) gc();
  return process.memoryUsage().heapUsed;
}

const { values: args } = parseArgs({ options: { xuids: { type: 'string', default: '200000' } } });
const xuidCount = Number(args.xuids);
const population = createPopulation({ seed: 1, size: Math.max(xuidCount + 100, 1000) });

/**
 * One profile answer for XUIDs [start, start + BATCH) as the transport hands it over: a JSON
 * text parsed by `JSON.parse`, so values are the strings a real answer leaves in the cache.
 */
function answerFor(start: number): ProfileAnswer {
  const users = [];
  for (let index = start; index < Math.min(start + BATCH, xuidCount); index += 1) {
    const user = population.user(population.xuidAt(index));
    if (user === undefined) continue;
    users.push({
      id: user.xuid,
      hostId: user.xuid,
      isSponsoredUser: false,
      settings: DEFAULT_SETTINGS.flatMap((id) => {
        const setting = user.settings[id];
        return setting === undefined ? [] : [setting];
      }),
    });
  }
  return JSON.parse(JSON.stringify({ profileUsers: users })) as ProfileAnswer;
}

// First pass: the same generation without storing, so the population's own bounded memo of
// players is as full before the measurement as after it and cancels out.
let valueChars = 0;
for (let start = 0; start < xuidCount; start += BATCH) {
  for (const user of answerFor(start).profileUsers)
    for (const setting of user.settings) valueChars += setting.value.length;
}

const cache = createProfileCache({ ttlMs: 60_000, staleMs: 600_000, maxBytes: 2 ** 34 });
const before = heapAfterGc();
for (let start = 0; start < xuidCount; start += BATCH) {
  const pairs: [string, string][] = [];
  for (const user of answerFor(start).profileUsers) {
    for (const setting of user.settings) pairs.push([pairKey(user.id, setting.id), setting.value]);
  }
  await cache.store(pairs);
}
const after = heapAfterGc();

const { entries, bytes } = cache.size();
const accountedPerPair = bytes / entries;
const heapPerPair = (after - before) / entries;
const pairsPerXuid = entries / xuidCount;
const accountedPairsInDefault = Math.floor(DEFAULT_MAX_BYTES / accountedPerPair);
const report = {
  xuids: xuidCount,
  pairs: entries,
  settings: DEFAULT_SETTINGS.join(','),
  meanValueChars: Number((valueChars / entries).toFixed(1)),
  accountedBytesPerPair: Number(accountedPerPair.toFixed(1)),
  heapBytesPerPair: Number(heapPerPair.toFixed(1)),
  heapToAccounted: Number((heapPerPair / accountedPerPair).toFixed(2)),
  defaultMaxBytes: DEFAULT_MAX_BYTES,
  pairsInDefault: accountedPairsInDefault,
  xuidsInDefault: Math.floor(accountedPairsInDefault / pairsPerXuid),
  heapOfFullDefaultMiB: Number(((accountedPairsInDefault * heapPerPair) / 2 ** 20).toFixed(1)),
  node: process.version,
};
console.log(JSON.stringify(report, null, 2));
// Keep the cache reachable until after the second measurement.
cache.clear();
