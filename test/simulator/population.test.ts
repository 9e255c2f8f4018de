import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createPopulation,
  PERMISSION_IDS,
  PROFILE_SETTING_IDS,
  type Population,
  type ProfileSetting,
} from '../../src/simulator/population.js';

const TWO_TO_53 = 2n ** 53n;
const MAX_UINT64 = 2n ** 64n - 1n;
const ALWAYS_PRESENT = [
  'GameDisplayName',
  'GameDisplayPicRaw',
  'Gamerscore',
  'Gamertag',
  'AppDisplayName',
  'AppDisplayPicRaw',
  'AccountTier',
  'TenureLevel',
  'XboxOneRep',
  'PreferredColor',
  'ModernGamertag',
  'ModernGamertagSuffix',
  'UniqueModernGamertag',
  'IsQuarantined',
] as const;

/** A JSON snapshot of what a client could observe about one caller. */
function snapshot(population: Population, userhash: string): string {
  const callerXuid = population.callerFor(userhash);
  const people = [...population.peopleOf(callerXuid).values()];
  const users = people.slice(0, 20).map((person) => population.user(person.xuid));
  const stances = people.map((person) => population.stanceOf(callerXuid, person.xuid));
  return JSON.stringify({
    callerXuid,
    people,
    users,
    stances,
    example: population.exampleRequest(),
  });
}

test('when two populations are built with the same seed, they are identical', () => {
  const first = createPopulation({ seed: 7, size: 5000 });
  const second = createPopulation({ seed: 7, size: 5000 });

  for (const userhash of ['1', 'abc', '3218841136841218711']) {
    assert.equal(
      snapshot(first, userhash),
      snapshot(second, userhash),
      `same world for ${userhash}`,
    );
  }
  for (const index of [0, 1, 2500, 4999]) {
    assert.equal(first.xuidAt(index), second.xuidAt(index), `same XUID at index ${index}`);
  }
});

test('when the seed differs, the population differs', () => {
  const first = createPopulation({ seed: 7, size: 5000 });
  const second = createPopulation({ seed: 8, size: 5000 });

  assert.notEqual(snapshot(first, 'abc'), snapshot(second, 'abc'), 'another seed, another world');
});

test('every XUID is a canonical decimal string, most of them 16 digits like real ones', () => {
  const population = createPopulation({ seed: 1, size: 1000 });
  let sixteenDigits = 0;

  for (let index = 0; index < population.size; index += 1) {
    const xuid = population.xuidAt(index);
    assert.match(xuid, /^[1-9]\d{0,19}$/, `XUID ${xuid} is decimal without a leading zero`);
    assert.ok(BigInt(xuid) <= MAX_UINT64, `XUID ${xuid} fits 64 bits`);
    assert.equal(population.user(xuid)?.xuid, xuid, `XUID ${xuid} finds its own user`);
    if (xuid.length === 16) sixteenDigits += 1;
  }

  assert.ok(sixteenDigits >= population.size - 10, 'all but a handful have 16 digits');
});

test('the population holds XUIDs above 2^53 that a JS number cannot carry', () => {
  const population = createPopulation({ seed: 1, size: 5000 });

  assert.ok(population.largeXuids.length >= 3, 'a handful of large XUIDs exist');
  for (const xuid of population.largeXuids) {
    assert.ok(BigInt(xuid) > TWO_TO_53, `${xuid} is above 2^53`);
    assert.notEqual(String(Number(xuid)), xuid, `${xuid} changes when turned into a number`);
    assert.equal(population.user(xuid)?.xuid, xuid, `${xuid} has a profile`);
  }
  assert.ok(
    population.largeXuids.includes('18446744073709551615'),
    'the largest unsigned 64-bit XUID is present',
  );
});

test('every user has the always-present settings as strings; optional ones are missing for some', () => {
  const population = createPopulation({ seed: 1, size: 1000 });
  const missing = new Map<string, number>();

  for (let index = 0; index < population.size; index += 1) {
    const user = population.user(population.xuidAt(index));
    assert.ok(user !== undefined, `user at ${index} exists`);
    for (const id of ALWAYS_PRESENT) {
      assert.equal(typeof user.settings[id]?.value, 'string', `${id} of ${user.xuid} is a string`);
    }
    for (const id of PROFILE_SETTING_IDS) {
      const setting: ProfileSetting | undefined = user.settings[id];
      if (setting === undefined) missing.set(id, (missing.get(id) ?? 0) + 1);
      else assert.equal(setting.id, id, `setting ${id} carries its own id`);
    }
  }

  for (const id of ['Bio', 'Location', 'RealName', 'Watermarks']) {
    assert.ok((missing.get(id) ?? 0) > 0, `some users have no ${id}`);
    assert.ok((missing.get(id) ?? 0) < population.size, `some users have a ${id}`);
  }
});

test('profile values look like the recorded answers', () => {
  const population = createPopulation({ seed: 1, size: 1000 });
  const values = (id: (typeof PROFILE_SETTING_IDS)[number]): string[] =>
    Array.from({ length: population.size }, (_, index) => {
      return population.user(population.xuidAt(index))?.settings[id]?.value ?? '';
    });

  assert.ok(
    values('Gamerscore').every((v) => /^\d+$/.test(v)),
    'Gamerscore is a digit string',
  );
  assert.ok(
    values('TenureLevel').every((v) => /^\d+$/.test(v)),
    'TenureLevel is a digit string',
  );
  assert.ok(
    values('AccountTier').every((v) => ['Gold', 'Silver', 'FamilyGold'].includes(v)),
    'AccountTier is Gold, Silver or FamilyGold',
  );
  assert.ok(
    values('IsQuarantined').every((v) => v === '0' || v === '1'),
    'IsQuarantined is 0/1',
  );
  const pictures = values('GameDisplayPicRaw');
  assert.ok(
    pictures.some((v) => v.startsWith('http://images-eds.xboxlive.com/')),
    'some http',
  );
  assert.ok(
    pictures.some((v) => v.startsWith('https://images-eds-ssl.xboxlive.com/')),
    'some https',
  );
  assert.ok(
    pictures.some((v) => v.endsWith('&format=png')),
    'some already carry &format=png',
  );
  assert.ok(values('ModernGamertagSuffix').includes(''), 'some modern gamertag suffixes are empty');
  assert.ok(
    values('Watermarks').some((v) => v.includes('|')),
    'some watermark lists are pipe-separated',
  );
});

test('a caller has 50 to 150 people, with optional members present on some and absent on others', () => {
  const population = createPopulation({ seed: 1, size: 5000 });
  const callerXuid = population.callerFor('caller-1');

  const people = [...population.peopleOf(callerXuid).values()];

  assert.ok(people.length >= 50 && people.length <= 150, `${people.length} people in 50..150`);
  assert.ok(
    people.some((p) => p.isFavorite),
    'some people are favourites',
  );
  assert.ok(
    people.some((p) => p.isFollowingCaller === true),
    'some people follow back',
  );
  assert.ok(
    people.some((p) => !('isFollowingCaller' in p)),
    'some people lack isFollowingCaller',
  );
  assert.ok(
    people.some((p) => p.socialNetworks?.[0] === 'LegacyXboxLive'),
    'some are legacy',
  );
  assert.ok(
    people.some((p) => !('socialNetworks' in p)),
    'socialNetworks is absent on others',
  );
  assert.ok(
    people.some((p) => population.largeXuids.includes(p.xuid)),
    'every collection holds a XUID above 2^53',
  );
  assert.ok(!people.some((p) => p.xuid === callerXuid), 'the caller is not its own friend');
});

test('the same userhash always signs in as the same player, and another one usually not', () => {
  const population = createPopulation({ seed: 1, size: 5000 });

  assert.equal(population.callerFor('abc'), population.callerFor('abc'), 'stable per userhash');
  const callers = new Set(['a', 'b', 'c', 'd', 'e'].map((hash) => population.callerFor(hash)));
  assert.ok(callers.size >= 4, 'different userhashes spread over the population');
});

test('a blocker denies every permission with BlockListRestrictsTarget', () => {
  const population = createPopulation({ seed: 1, size: 5000 });
  const callerXuid = population.callerFor('caller-1');

  const blocker = population.findTarget(callerXuid, 'blocks');

  assert.ok(blocker !== undefined, 'the population has a player blocking the caller');
  for (const id of PERMISSION_IDS) {
    assert.deepEqual(
      population.permission(callerXuid, blocker, id),
      { isAllowed: false, reasons: [{ reason: 'BlockListRestrictsTarget' }] },
      `${id} is denied by the block list`,
    );
  }
});

test('each stance denies exactly its permissions, with the restrictedSetting of UPSTREAMS.md', () => {
  const population = createPopulation({ seed: 1, size: 5000 });
  const callerXuid = population.callerFor('caller-1');
  const expected = [
    ['hidesProfile', 'ViewTargetProfile', 'PrivacySettingRestrictsTarget', 'ShareProfile'],
    [
      'deniesProfileViewing',
      'ViewTargetProfile',
      'PrivilegeRestrictsTarget',
      'AllowProfileViewing',
    ],
    [
      'deniesCommunication',
      'CommunicateUsingText',
      'PrivilegeRestrictsTarget',
      'AllowCommunications',
    ],
    [
      'deniesCommunication',
      'CommunicateUsingVideo',
      'PrivilegeRestrictsTarget',
      'AllowCommunications',
    ],
    ['mutes', 'CommunicateUsingVoice', 'MuteListRestrictsTarget', undefined],
    ['mutes', 'CommunicateUsingText', 'MuteListRestrictsTarget', undefined],
    ['deniesMultiplayer', 'PlayMultiplayer', 'PrivilegeRestrictsTarget', 'AllowMultiplayer'],
  ] as const;

  for (const [stance, permissionId, reason, restrictedSetting] of expected) {
    const target = population.findTarget(callerXuid, stance);
    assert.ok(target !== undefined, `some player has stance ${stance}`);
    const denial = restrictedSetting === undefined ? { reason } : { reason, restrictedSetting };
    assert.deepEqual(
      population.permission(callerXuid, target, permissionId),
      { isAllowed: false, reasons: [denial] },
      `${stance} denies ${permissionId} with ${reason}`,
    );
    assert.deepEqual(
      population.permission(callerXuid, target, 'ViewTargetPresence'),
      { isAllowed: true },
      `${stance} still allows ViewTargetPresence`,
    );
  }
});

test('an unknown XUID is allowed everything, has no profile and is in nobody collection', () => {
  const population = createPopulation({ seed: 1, size: 5000 });
  const callerXuid = population.callerFor('caller-1');

  for (const xuid of ['1234', '02533274790000601', '99999999999999999999']) {
    assert.equal(population.user(xuid), undefined, `${xuid} has no profile`);
    assert.deepEqual(
      population.permission(callerXuid, xuid, 'ViewTargetProfile'),
      { isAllowed: true },
      `${xuid} is allowed`,
    );
  }
});

test('the example request shows friends, a blocker, a hidden profile and a XUID above 2^53', () => {
  const population = createPopulation({ seed: 1, size: 5000 });

  const example = population.exampleRequest();

  assert.match(example.authorization, /^XBL3\.0 x=[^;]+;.+$/, 'the Authorization value is XBL3.0');
  assert.equal(population.callerFor(example.userhash), example.callerXuid, 'caller matches hash');
  assert.ok(example.xuids.length >= 8 && example.xuids.length <= 12, 'about ten XUIDs');
  const stances = example.xuids.map((xuid) => population.stanceOf(example.callerXuid, xuid));
  assert.ok(stances.includes('blocks'), 'one XUID blocks the caller');
  assert.ok(stances.includes('hidesProfile'), 'one XUID hides its profile');
  const people = population.peopleOf(example.callerXuid);
  assert.ok(example.xuids.filter((x) => people.has(x)).length >= 5, 'most are in the collection');
  assert.ok(
    example.xuids.some((x) => !people.has(x)),
    'at least one is not in the collection',
  );
  assert.ok(
    example.xuids.some((x) => BigInt(x) > TWO_TO_53),
    'one XUID is above 2^53',
  );
});

test('when the options are out of range, createPopulation throws a TypeError', () => {
  assert.throws(() => createPopulation({ seed: -1, size: 5000 }), TypeError, 'negative seed');
  assert.throws(() => createPopulation({ seed: 1, size: 10 }), TypeError, 'too small a population');
});
