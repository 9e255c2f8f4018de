import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createProfileCache, pairKey } from '../../src/profile-cache/profile-cache.js';
import type { ProfileCache, ProfileCacheOptions } from '../../src/profile-cache/profile-cache.js';
import type { ProfileSettingId } from '../../src/xbl-vocabulary.js';

const TTL_MS = 60_000;
const STALE_MS = 600_000;
/** The fake clock starts far from zero, as `performance.now()` does in a running process. */
const START_MS = 1_000_000;

const XUID = '2533274791381930';
const OTHER_XUID = '2533274792986770';

/** A settable clock for the cache under test. */
interface FakeClock {
  now(): number;
  set(ms: number): void;
}

function createClock(startMs = START_MS): FakeClock {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    set: (ms) => {
      nowMs = ms;
    },
  };
}

function createCache(clock: FakeClock, options: Partial<ProfileCacheOptions> = {}) {
  return createProfileCache({
    ttlMs: TTL_MS,
    staleMs: STALE_MS,
    maxBytes: 1_000_000,
    now: () => clock.now(),
    ...options,
  });
}

function values(entries: Record<string, string>): Map<ProfileSettingId, string> {
  return new Map(Object.entries(entries) as [ProfileSettingId, string][]);
}

/** One XUID's lookup, classified the way the loader reads it. */
interface XuidLookup {
  readonly fresh: ReadonlyMap<string, string>;
  readonly stale: ReadonlyMap<string, string>;
  readonly missing: readonly string[];
}

/** Looks up `settings` of `xuid` through the cache's pair-keyed API. */
async function lookupOne(
  cache: ProfileCache,
  xuid: string,
  settings: readonly ProfileSettingId[],
): Promise<XuidLookup> {
  const pairs = await cache.lookup(settings.map((setting) => pairKey(xuid, setting)));
  const fresh = new Map<string, string>();
  const stale = new Map<string, string>();
  const missing: string[] = [];
  for (const [index, setting] of settings.entries()) {
    const pair = pairs[index];
    if (pair?.state === 'fresh') {
      fresh.set(setting, pair.value);
      continue;
    }
    if (pair?.state === 'stale') stale.set(setting, pair.value);
    missing.push(setting);
  }
  return { fresh, stale, missing };
}

/** Stores `settings` of `xuid`. */
function storeOne(
  cache: ProfileCache,
  xuid: string,
  settings: ReadonlyMap<ProfileSettingId, string>,
): Promise<void> {
  return cache.store([...settings].map(([setting, value]) => [pairKey(xuid, setting), value]));
}

/** XUIDs that are valid and distinct: a fixed base plus `index`. */
function xuidAt(index: number): string {
  return String(2533274800000000n + BigInt(index));
}

describe('createProfileCache classification', () => {
  test('when nothing was stored, every asked setting is missing and nothing is fresh or stale', async () => {
    const cache = createCache(createClock());

    const lookup = await lookupOne(cache, XUID, ['Gamertag', 'Gamerscore']);

    assert.deepEqual(lookup.missing, ['Gamertag', 'Gamerscore'], 'both settings should be missing');
    assert.equal(lookup.fresh.size, 0, 'nothing should be fresh in an empty cache');
    assert.equal(lookup.stale.size, 0, 'nothing should be stale in an empty cache');
  });

  test('when a setting was just stored, it is fresh with its value and not missing', async () => {
    const cache = createCache(createClock());
    await storeOne(cache, XUID, values({ Gamertag: 'CracklierJewel9' }));

    const lookup = await lookupOne(cache, XUID, ['Gamertag']);

    assert.equal(
      lookup.fresh.get('Gamertag'),
      'CracklierJewel9',
      'the stored value should be fresh',
    );
    assert.deepEqual(lookup.missing, [], 'a fresh setting should not be missing');
    assert.equal(lookup.stale.size, 0, 'a fresh setting should not be stale');
  });

  test('when only some asked settings were stored, each setting is classified on its own', async () => {
    const cache = createCache(createClock());
    await storeOne(cache, XUID, values({ Gamertag: 'CracklierJewel9', Gamerscore: '1200' }));

    const lookup = await lookupOne(cache, XUID, ['Gamertag', 'Bio', 'Gamerscore', 'Location']);

    assert.deepEqual(
      [...lookup.fresh.entries()],
      [
        ['Gamertag', 'CracklierJewel9'],
        ['Gamerscore', '1200'],
      ],
      'the two stored settings should be fresh, in asked order',
    );
    assert.deepEqual(
      lookup.missing,
      ['Bio', 'Location'],
      'only the unstored settings should be missing',
    );
  });

  test('when a setting is stored for one XUID, another XUID still misses it', async () => {
    const cache = createCache(createClock());
    await storeOne(cache, XUID, values({ Gamertag: 'CracklierJewel9' }));

    const lookup = await lookupOne(cache, OTHER_XUID, ['Gamertag']);

    assert.deepEqual(lookup.missing, ['Gamertag'], 'entries should be keyed per XUID');
    assert.equal(lookup.fresh.size, 0, 'no value of another XUID should be returned');
  });

  test('when a setting is stored again, the new value replaces the old one', async () => {
    const cache = createCache(createClock());
    await storeOne(cache, XUID, values({ Gamertag: 'OldTag' }));

    await storeOne(cache, XUID, values({ Gamertag: 'NewTag' }));

    assert.equal(
      (await lookupOne(cache, XUID, ['Gamertag'])).fresh.get('Gamertag'),
      'NewTag',
      'the latest stored value should win',
    );
    assert.equal(cache.size().entries, 1, 'storing the same pair twice should keep one entry');
  });
});

describe('createProfileCache TTL and stale window', () => {
  test('when one millisecond of the TTL is left, the setting is still fresh', async () => {
    const clock = createClock();
    const cache = createCache(clock);
    await storeOne(cache, XUID, values({ Gamertag: 'CracklierJewel9' }));

    clock.set(START_MS + TTL_MS - 1);
    const lookup = await lookupOne(cache, XUID, ['Gamertag']);

    assert.equal(lookup.fresh.get('Gamertag'), 'CracklierJewel9', 'the setting should be fresh');
    assert.deepEqual(lookup.missing, [], 'a fresh setting should not be fetched');
  });

  test('when the TTL has just passed, the setting is stale: kept as a fallback and missing', async () => {
    const clock = createClock();
    const cache = createCache(clock);
    await storeOne(cache, XUID, values({ Gamertag: 'CracklierJewel9' }));

    clock.set(START_MS + TTL_MS);
    const lookup = await lookupOne(cache, XUID, ['Gamertag']);

    assert.equal(lookup.fresh.size, 0, 'a setting at its TTL should no longer be fresh');
    assert.equal(lookup.stale.get('Gamertag'), 'CracklierJewel9', 'the old value should be stale');
    assert.deepEqual(lookup.missing, ['Gamertag'], 'a stale setting should be fetched anew');
  });

  test('when the stale window is about to end, the value is still kept as a fallback', async () => {
    const clock = createClock();
    const cache = createCache(clock);
    await storeOne(cache, XUID, values({ Gamertag: 'CracklierJewel9' }));

    clock.set(START_MS + TTL_MS + STALE_MS - 1);
    const lookup = await lookupOne(cache, XUID, ['Gamertag']);

    assert.equal(
      lookup.stale.get('Gamertag'),
      'CracklierJewel9',
      'the value should still be stale',
    );
    assert.deepEqual(lookup.missing, ['Gamertag'], 'the stale setting should be missing');
  });

  test('when the stale window has passed, the value is gone: missing and not stale', async () => {
    const clock = createClock();
    const cache = createCache(clock);
    await storeOne(cache, XUID, values({ Gamertag: 'CracklierJewel9' }));
    // A lookup before the clock moves is what every request does; the clock then jumps at once.
    assert.equal(
      (await lookupOne(cache, XUID, ['Gamertag'])).fresh.size,
      1,
      'precondition: the setting should be fresh right after storing',
    );

    clock.set(START_MS + TTL_MS + STALE_MS + 1);
    const lookup = await lookupOne(cache, XUID, ['Gamertag']);

    assert.equal(lookup.stale.size, 0, 'a value past TTL + stale window should not be served');
    assert.equal(lookup.fresh.size, 0, 'a value past TTL + stale window should not be fresh');
    assert.deepEqual(lookup.missing, ['Gamertag'], 'the setting should be missing');
  });

  test('when the injected clock starts at zero, a value still leaves after the stale window', async () => {
    const clock = createClock(0);
    const cache = createCache(clock);
    await storeOne(cache, XUID, values({ Gamertag: 'CracklierJewel9' }));

    clock.set(TTL_MS + STALE_MS + 1);
    // Let any internal clock debounce lapse, so only the clock's value can decide.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const lookup = await lookupOne(cache, XUID, ['Gamertag']);

    assert.equal(lookup.stale.size, 0, 'a value stored at clock 0 should expire like any other');
    assert.deepEqual(lookup.missing, ['Gamertag'], 'the setting should be missing');
  });

  test('when a stale setting is stored again, it is fresh for a whole new TTL', async () => {
    const clock = createClock();
    const cache = createCache(clock);
    await storeOne(cache, XUID, values({ Gamertag: 'OldTag' }));
    clock.set(START_MS + TTL_MS + 10);

    await storeOne(cache, XUID, values({ Gamertag: 'NewTag' }));
    clock.set(START_MS + TTL_MS + 10 + TTL_MS - 1);
    const lookup = await lookupOne(cache, XUID, ['Gamertag']);

    assert.equal(lookup.fresh.get('Gamertag'), 'NewTag', 'the re-stored value should be fresh');
    assert.deepEqual(lookup.missing, [], 'nothing should be missing');
  });

  test('when the TTL is zero but a stale window is set, stored values are stale at once', async () => {
    const clock = createClock();
    const cache = createCache(clock, { ttlMs: 0, staleMs: 1000 });
    await storeOne(cache, XUID, values({ Gamertag: 'CracklierJewel9' }));

    const lookup = await lookupOne(cache, XUID, ['Gamertag']);

    assert.equal(lookup.fresh.size, 0, 'with a zero TTL nothing should ever be fresh');
    assert.equal(lookup.stale.get('Gamertag'), 'CracklierJewel9', 'the value should be a fallback');
  });

  test('when TTL and stale window are both zero, nothing is kept', async () => {
    const cache = createCache(createClock(), { ttlMs: 0, staleMs: 0 });

    await storeOne(cache, XUID, values({ Gamertag: 'CracklierJewel9' }));

    assert.equal(cache.size().entries, 0, 'a cache with no lifetime should store nothing');
    assert.deepEqual(
      (await lookupOne(cache, XUID, ['Gamertag'])).missing,
      ['Gamertag'],
      'it should miss',
    );
  });
});

describe('createProfileCache bounds', () => {
  for (const maxBytes of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    test(`when maxBytes is ${maxBytes}, creating the cache throws a TypeError naming maxBytes`, () => {
      const create = () => createCache(createClock(), { maxBytes });

      assert.throws(
        create,
        (error: unknown) => error instanceof TypeError && /maxBytes/.test(error.message),
        'an unbounded or invalid byte bound should be refused at construction',
      );
    });
  }

  test('when the TTL is negative, creating the cache throws a TypeError', () => {
    const create = () => createCache(createClock(), { ttlMs: -1 });

    assert.throws(create, TypeError, 'a negative TTL should be refused at construction');
  });

  test('when the cache is new, its size is zero entries and zero bytes', () => {
    const cache = createCache(createClock());

    const size = cache.size();

    assert.deepEqual(size, { entries: 0, bytes: 0 }, 'an empty cache should report zero size');
  });

  test('when settings are stored, entries count each (XUID, setting) pair and bytes grow', async () => {
    const cache = createCache(createClock());

    await storeOne(cache, XUID, values({ Gamertag: 'CracklierJewel9' }));
    const afterOne = cache.size();
    await storeOne(cache, XUID, values({ Gamerscore: '1200', Bio: 'x'.repeat(200) }));
    const afterThree = cache.size();

    assert.equal(afterOne.entries, 1, 'one stored setting should be one entry');
    assert.equal(afterThree.entries, 3, 'three stored settings should be three entries');
    const storedChars = `${XUID}:Gamertag`.length + 'CracklierJewel9'.length;
    assert.ok(
      afterOne.bytes >= storedChars,
      `bytes (${afterOne.bytes}) should count at least the ${storedChars} characters stored`,
    );
    assert.ok(
      afterThree.bytes - afterOne.bytes >= 200,
      'a 200-character value should add at least 200 bytes',
    );
  });

  test('when the cache is cleared, its size returns to zero and lookups miss', async () => {
    const cache = createCache(createClock());
    await storeOne(cache, XUID, values({ Gamertag: 'CracklierJewel9', Gamerscore: '1200' }));

    cache.clear();

    assert.deepEqual(cache.size(), { entries: 0, bytes: 0 }, 'a cleared cache should be empty');
    assert.deepEqual(
      (await lookupOne(cache, XUID, ['Gamertag'])).missing,
      ['Gamertag'],
      'it should miss',
    );
  });

  test('when far more is stored than the byte bound allows, the bound holds and the oldest go first', async () => {
    const maxBytes = 2048;
    const cache = createCache(createClock(), { maxBytes });

    for (let index = 0; index < 100; index += 1) {
      await storeOne(cache, xuidAt(index), values({ Gamertag: `Gamer number ${index}` }));
    }
    const size = cache.size();

    assert.ok(size.bytes <= maxBytes, `bytes (${size.bytes}) should stay within ${maxBytes}`);
    assert.ok(size.entries > 0, 'the cache should still hold the most recent entries');
    assert.ok(size.entries < 100, 'some entries should have been evicted');
    assert.equal(
      (await lookupOne(cache, xuidAt(99), ['Gamertag'])).fresh.get('Gamertag'),
      'Gamer number 99',
      'the most recently stored entry should be kept',
    );
    assert.deepEqual(
      (await lookupOne(cache, xuidAt(0), ['Gamertag'])).missing,
      ['Gamertag'],
      'the first stored entry should have been evicted',
    );
  });

  test('when an entry was looked up recently, eviction takes a less recently used one first', async () => {
    const cache = createCache(createClock(), { maxBytes: 1024 });
    await storeOne(cache, xuidAt(0), values({ Gamertag: 'First' }));
    await storeOne(cache, xuidAt(1), values({ Gamertag: 'Second' }));

    for (let index = 2; index < 22; index += 1) {
      await lookupOne(cache, xuidAt(0), ['Gamertag']);
      await storeOne(cache, xuidAt(index), values({ Gamertag: `Filler ${index}` }));
    }

    assert.ok(cache.size().entries < 22, 'precondition: twenty fillers should force evictions');
    assert.deepEqual(
      (await lookupOne(cache, xuidAt(1), ['Gamertag'])).missing,
      ['Gamertag'],
      'the entry never looked up should have been evicted',
    );
    assert.equal(
      (await lookupOne(cache, xuidAt(0), ['Gamertag'])).fresh.get('Gamertag'),
      'First',
      'the entry looked up before every store should have been kept',
    );
  });

  test('when one value alone is larger than the byte bound, it is not stored and the bound holds', async () => {
    const maxBytes = 1024;
    const cache = createCache(createClock(), { maxBytes });

    await storeOne(cache, XUID, values({ Bio: 'x'.repeat(4096) }));

    assert.ok(cache.size().bytes <= maxBytes, 'the byte bound should hold');
    assert.deepEqual(
      (await lookupOne(cache, XUID, ['Bio'])).missing,
      ['Bio'],
      'the oversized value should miss',
    );
  });
});

describe('createProfileCache freshInMemory', () => {
  test('when L1 holds a fresh, a stale and no value, only the fresh one is returned at once', async () => {
    const clock = createClock();
    const cache = createCache(clock);
    await storeOne(cache, OTHER_XUID, values({ Gamertag: 'Old' }));
    clock.set(START_MS + TTL_MS);
    await storeOne(cache, XUID, values({ Gamertag: 'CracklierJewel9' }));

    const found = cache.freshInMemory([
      pairKey(XUID, 'Gamertag'),
      pairKey(OTHER_XUID, 'Gamertag'),
      pairKey(XUID, 'Bio'),
    ]);

    assert.deepEqual(
      found,
      ['CracklierJewel9', undefined, undefined],
      'the fresh value, then nothing for the stale and the absent pair',
    );
  });
});
