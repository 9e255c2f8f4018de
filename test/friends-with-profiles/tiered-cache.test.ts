import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { asCardsResult, sampleProfile } from '../helpers/assertions.js';
import { createFakeCacheLevel } from '../helpers/fake-cache-level.js';
import type { FakeCacheLevel } from '../helpers/fake-cache-level.js';
import { sampleSetting } from '../helpers/fake-upstreams.js';
import type { ProfileBody } from '../helpers/fake-upstreams.js';
import { DEFAULT_SETTINGS, OTHER_AUTHORIZATION, XUIDS, gatewayFor } from '../helpers/test-app.js';

const [X1, X2] = XUIDS;

/** Puts fresh default settings of `xuid` into `level`, as another replica would have. */
function seedLevel(level: FakeCacheLevel, xuid: string): void {
  for (const setting of DEFAULT_SETTINGS) {
    level.entries.set(`${xuid}:${setting}`, {
      value: sampleSetting(xuid, setting),
      storedAtMs: Date.now(),
    });
  }
}

describe('profile cache with a shared second level', () => {
  test('when a second level is slow, two concurrent misses of the same XUIDs still fetch once', async (t) => {
    const level = createFakeCacheLevel({ delayMs: 80 });
    const gw = await gatewayFor(t, { sharedCacheLevels: [level] });

    const [first, second] = await Promise.all([
      gw.getCards(`xuids=${X1},${X2}`),
      gw.getCards(`xuids=${X1},${X2}`, OTHER_AUTHORIZATION),
    ]);

    assert.equal(first.status, 200, 'the first request is served');
    assert.equal(second.status, 200, 'the second request is served');
    assert.equal(gw.upstreams.callsTo('profile').length, 1, 'one profile call serves both misses');
    assert.equal(level.gets.length, 1, 'only the request that claimed the pairs reads the level');
    for (const response of [first, second]) {
      const cards = asCardsResult(response.body).cards;
      assert.deepEqual(cards[0]?.profile, sampleProfile(X1), 'both get the fetched profile');
    }
  });

  test('when the second level holds fresh values, no profile call is made and L1 keeps them', async (t) => {
    const level = createFakeCacheLevel();
    seedLevel(level, X1);
    const gw = await gatewayFor(t, { sharedCacheLevels: [level] });

    const first = await gw.getCards(`xuids=${X1}`);
    const second = await gw.getCards(`xuids=${X1}`);

    assert.equal(first.status, 200, 'the request is served');
    assert.deepEqual(
      asCardsResult(first.body).cards[0]?.profile,
      sampleProfile(X1),
      'the profile comes from the second level',
    );
    assert.equal(gw.upstreams.callsTo('profile').length, 0, 'no profile call is made');
    assert.equal(second.status, 200, 'the repeat is served');
    assert.equal(level.gets.length, 1, 'the repeat is answered by L1 without reading the level');
    assert.equal(gw.deps.cache.size().entries, DEFAULT_SETTINGS.length, 'L1 holds the four pairs');
  });

  test('when the second level lacks some pairs, only those are fetched and then written to it', async (t) => {
    const level = createFakeCacheLevel();
    seedLevel(level, X1);
    const gw = await gatewayFor(t, { sharedCacheLevels: [level] });

    const response = await gw.getCards(`xuids=${X1},${X2}`);

    assert.equal(response.status, 200, 'the request is served');
    const calls = gw.upstreams.callsTo('profile');
    assert.equal(calls.length, 1, 'one profile call is made');
    assert.deepEqual((calls[0]?.body as ProfileBody).userIds, [X2], 'only the missing XUID goes');
    assert.deepEqual(
      level.sets.flat().sort(),
      DEFAULT_SETTINGS.map((setting) => `${X2}:${setting}`).sort(),
      'the fetched pairs are written to the second level',
    );
  });

  test('when the second level fails every call, requests are served from upstream and L1', async (t) => {
    const level = createFakeCacheLevel();
    level.fail(true);
    const gw = await gatewayFor(t, { sharedCacheLevels: [level] });

    const first = await gw.getCards(`xuids=${X1}`);
    const second = await gw.getCards(`xuids=${X1}`);

    assert.equal(first.status, 200, 'a failing level does not fail the request');
    assert.deepEqual(
      asCardsResult(first.body).cards[0]?.profile,
      sampleProfile(X1),
      'the profile is fetched',
    );
    assert.equal(second.status, 200, 'the repeat is served');
    assert.equal(gw.upstreams.callsTo('profile').length, 1, 'the repeat is served from L1');
  });
});
