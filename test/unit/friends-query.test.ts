import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidRequestError } from '../../src/errors.js';
import { createFriendsQuerySchema, parseFriendsQuery } from '../../src/routes/friends-query.js';
import { PERMISSION_IDS, PROFILE_SETTING_IDS } from '../../src/xbl-vocabulary.js';

const MAX_XUID = 2n ** 64n - 1n;
const schema = createFriendsQuerySchema({ maxXuids: 100 });

/** Parses `query` and returns the thrown 400, failing when nothing is thrown. */
function rejectionOf(query: unknown, querySchema = schema): InvalidRequestError {
  try {
    parseFriendsQuery(query, querySchema);
  } catch (error) {
    assert.ok(error instanceof InvalidRequestError, 'a bad query throws InvalidRequestError');
    return error;
  }
  assert.fail(`the query ${JSON.stringify(query)} was accepted`);
}

function parametersOf(error: InvalidRequestError): string[] {
  return error.issues.map((issue) => issue.parameter);
}

/** A decimal XUID string in [1, 2^64-1]. */
const validXuid = fc.bigInt({ min: 1n, max: MAX_XUID }).map((value) => value.toString());

/** One character that is neither an ASCII digit nor the list separator. */
const nonDigit = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 1 })
  .filter((char) => !/^[0-9,]$/.test(char));

describe('parseFriendsQuery accepting', () => {
  test('when only xuids is given, settings and permissions take their defaults', () => {
    const query = { xuids: '2533274791381930' };

    const request = parseFriendsQuery(query, schema);

    assert.deepEqual(
      request,
      {
        xuids: ['2533274791381930'],
        settings: ['GameDisplayName', 'GameDisplayPicRaw', 'Gamerscore', 'Gamertag'],
        permissions: ['ViewTargetProfile'],
      },
      'defaults are the four game settings and ViewTargetProfile',
    );
  });

  test('when lists repeat items, duplicates are removed and first-seen order is kept', () => {
    const query = {
      xuids: '3,1,3,2,1',
      settings: 'Bio,Gamertag,Bio',
      permissions: 'PlayMultiplayer,ViewTargetProfile,PlayMultiplayer',
    };

    const request = parseFriendsQuery(query, schema);

    assert.deepEqual(request.xuids, ['3', '1', '2'], 'xuids de-duplicated in order');
    assert.deepEqual(request.settings, ['Bio', 'Gamertag'], 'settings de-duplicated in order');
    assert.deepEqual(
      request.permissions,
      ['PlayMultiplayer', 'ViewTargetProfile'],
      'permissions de-duplicated in order',
    );
  });

  test('when other parameters are present, they are ignored', () => {
    const query = { xuids: '1', method: 'add', callback: 'x' };

    const request = parseFriendsQuery(query, schema);

    assert.deepEqual(
      Object.keys(request).sort(),
      ['permissions', 'settings', 'xuids'],
      'only the three',
    );
    assert.deepEqual(request.xuids, ['1'], 'only the xuids parameter counts');
  });

  test('when every known setting and permission is asked, all are accepted', () => {
    const query = {
      xuids: '1',
      settings: PROFILE_SETTING_IDS.join(','),
      permissions: PERMISSION_IDS.join(','),
    };

    const request = parseFriendsQuery(query, schema);

    assert.deepEqual(request.settings, [...PROFILE_SETTING_IDS], 'every setting id is known');
    assert.deepEqual(request.permissions, [...PERMISSION_IDS], 'every permission id is known');
  });

  test('when maxXuids is 3, three distinct XUIDs in more items are accepted and four are not', () => {
    const small = createFriendsQuerySchema({ maxXuids: 3 });

    const accepted = parseFriendsQuery({ xuids: '1,2,3,1,2,3' }, small);
    const rejected = rejectionOf({ xuids: '1,2,3,4' }, small);

    assert.deepEqual(accepted.xuids, ['1', '2', '3'], 'three distinct XUIDs pass');
    assert.deepEqual(
      parametersOf(rejected),
      ['xuids'],
      'four distinct XUIDs are rejected naming xuids',
    );
    assert.match(rejected.message, /3/, 'the message states the limit');
  });

  test('when 100 distinct XUIDs are asked, they are accepted; 101 are rejected', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => String(i + 1));

    const accepted = parseFriendsQuery({ xuids: hundred.join(',') }, schema);
    const rejected = rejectionOf({ xuids: [...hundred, '101'].join(',') });

    assert.equal(accepted.xuids.length, 100, 'exactly 100 pass');
    assert.deepEqual(parametersOf(rejected), ['xuids'], '101 are rejected naming xuids');
  });

  test('property: any integer in [1, 2^64-1] written in decimal is accepted as the exact string', () => {
    fc.assert(
      fc.property(validXuid, (xuid) => {
        const request = parseFriendsQuery({ xuids: xuid }, schema);

        assert.deepEqual(request.xuids, [xuid], `${xuid} is accepted unchanged`);
      }),
      { numRuns: 500, examples: [['1'], [MAX_XUID.toString()], [(2n ** 53n + 1n).toString()]] },
    );
  });

  test('property: a list of valid XUIDs is accepted de-duplicated in first-seen order', () => {
    fc.assert(
      fc.property(fc.array(validXuid, { minLength: 1, maxLength: 150 }), (xuids) => {
        fc.pre(new Set(xuids).size <= 100);

        const request = parseFriendsQuery({ xuids: xuids.join(',') }, schema);

        assert.deepEqual(request.xuids, [...new Set(xuids)], 'distinct XUIDs in first-seen order');
      }),
      { numRuns: 200 },
    );
  });
});

describe('parseFriendsQuery rejecting', () => {
  test('property: an item holding any non-digit character is rejected naming xuids', () => {
    const digits = fc.stringMatching(/^[0-9]{0,20}$/);
    fc.assert(
      fc.property(digits, nonDigit, digits, (before, char, after) => {
        const item = before + char + after;

        const error = rejectionOf({ xuids: item });

        assert.deepEqual(parametersOf(error), ['xuids'], `'${item}' is rejected naming xuids`);
      }),
      {
        numRuns: 500,
        examples: [
          ['', '+', '1'],
          ['', '-', '1'],
          ['1', '.', '5'],
          ['1', 'e', '5'],
          ['', ' ', '1'],
          ['1', '\u0000', ''],
          ['', '\u0661', ''],
          ['12', 'a', ''],
        ],
      },
    );
  });

  test('property: any item among valid ones with a non-digit character makes the list rejected', () => {
    fc.assert(
      fc.property(fc.array(validXuid, { maxLength: 5 }), nonDigit, fc.nat(5), (xuids, char, at) => {
        const items = [...xuids];
        items.splice(Math.min(at, items.length), 0, `1${char}`);

        const error = rejectionOf({ xuids: items.join(',') });

        assert.deepEqual(parametersOf(error), ['xuids'], 'the list is rejected naming xuids');
      }),
      { numRuns: 200 },
    );
  });

  test('property: any integer above 2^64-1 is rejected', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: MAX_XUID + 1n, max: 10n ** 30n }), (value) => {
        const error = rejectionOf({ xuids: value.toString() });

        assert.deepEqual(parametersOf(error), ['xuids'], `${value} is rejected naming xuids`);
      }),
      { numRuns: 200, examples: [[MAX_XUID + 1n], [10n ** 20n], [10n ** 20n - 1n]] },
    );
  });

  test('property: any valid XUID with leading zeros is rejected', () => {
    fc.assert(
      fc.property(validXuid, fc.integer({ min: 1, max: 3 }), (xuid, zeros) => {
        const error = rejectionOf({ xuids: '0'.repeat(zeros) + xuid });

        assert.deepEqual(parametersOf(error), ['xuids'], 'a leading zero is rejected');
      }),
      { numRuns: 200 },
    );
  });

  const rejected: { name: string; query: Record<string, unknown>; parameters: string[] }[] = [
    { name: 'xuids is missing', query: {}, parameters: ['xuids'] },
    { name: 'xuids is empty', query: { xuids: '' }, parameters: ['xuids'] },
    { name: 'xuids has an empty item', query: { xuids: '1,,2' }, parameters: ['xuids'] },
    { name: 'xuids is zero', query: { xuids: '0' }, parameters: ['xuids'] },
    { name: 'xuids has 21 digits', query: { xuids: '1'.repeat(21) }, parameters: ['xuids'] },
    { name: 'xuids is an array', query: { xuids: ['1', '2'] }, parameters: ['xuids'] },
    { name: 'xuids is an object', query: { xuids: { 0: '1' } }, parameters: ['xuids'] },
    { name: 'xuids is a number', query: { xuids: 1 }, parameters: ['xuids'] },
    {
      name: 'settings is unknown',
      query: { xuids: '1', settings: 'Nope' },
      parameters: ['settings'],
    },
    { name: 'settings is empty', query: { xuids: '1', settings: '' }, parameters: ['settings'] },
    {
      name: 'settings has the wrong case',
      query: { xuids: '1', settings: 'GAMERTAG' },
      parameters: ['settings'],
    },
    {
      name: 'settings is an array',
      query: { xuids: '1', settings: ['Gamertag', 'Bio'] },
      parameters: ['settings'],
    },
    {
      name: 'permissions is unknown',
      query: { xuids: '1', permissions: 'Nope' },
      parameters: ['permissions'],
    },
    {
      name: 'permissions is empty',
      query: { xuids: '1', permissions: '' },
      parameters: ['permissions'],
    },
    {
      name: 'permissions has the wrong case',
      query: { xuids: '1', permissions: 'ViewTargetprofile' },
      parameters: ['permissions'],
    },
    {
      name: 'permissions is an array',
      query: { xuids: '1', permissions: ['ViewTargetProfile'] },
      parameters: ['permissions'],
    },
    {
      name: 'all three are bad',
      query: { xuids: 'x', settings: 'x', permissions: 'x' },
      parameters: ['xuids', 'settings', 'permissions'],
    },
  ];
  for (const { name, query, parameters } of rejected) {
    test(`when ${name}, parseFriendsQuery throws a 400 naming ${parameters.join(', ')}`, () => {
      const error = rejectionOf(query);

      assert.equal(error.status, 400, 'the error is a 400');
      assert.equal(error.code, 'invalid_query', 'the error code is invalid_query');
      assert.deepEqual(
        parametersOf(error).sort(),
        [...parameters].sort(),
        'the issues name the parameters',
      );
      for (const issue of error.issues) {
        assert.ok(issue.message.includes(issue.parameter), `the message names ${issue.parameter}`);
      }
    });
  }

  test('when xuids is missing, the message says it is required', () => {
    const error = rejectionOf({});

    assert.match(
      error.message,
      /xuids.*required/,
      `the message says xuids is required: ${error.message}`,
    );
  });

  test('when xuids is given twice (an array), the message says it must be given once, not that it is missing', () => {
    const error = rejectionOf({ xuids: ['1', '2'] });

    assert.doesNotMatch(
      error.message,
      /required/,
      `xuids is present, not missing: ${error.message}`,
    );
    assert.match(
      error.message,
      /once/,
      `the message says xuids must be given once: ${error.message}`,
    );
  });

  test('when a huge item is rejected, the message quotes at most a short prefix of it', () => {
    const huge = `a${'9'.repeat(5000)}`;

    const error = rejectionOf({ xuids: huge });

    assert.ok(error.message.length < 300, `the message stays short: ${error.message.length} chars`);
  });
});
