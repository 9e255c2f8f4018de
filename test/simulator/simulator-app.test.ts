import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import request from 'supertest';
import type { Population } from '../../src/simulator/population.js';
import {
  PRIVACY_PATH,
  PROFILE_PATH,
  SOCIAL_PATH,
  STATS_PATH,
} from '../../src/simulator/simulator-app.js';
import { startUnlimitedSimulator } from '../helpers/simulator-server.js';

const USERHASH = '2535405290015920';
const AUTHORIZATION = `XBL3.0 x=${USERHASH};eyJ0b2tlbiI6InNpbXVsYXRlZCJ9`;
const PROFILE_HEADERS = { Authorization: AUTHORIZATION, 'x-xbl-contract-version': '2' };
const TWO_TO_53 = 2n ** 53n;

interface ErrorBody {
  readonly code: string;
  readonly description: string;
}

interface ProfileBody {
  readonly profileUsers: readonly {
    readonly id: string;
    readonly hostId: string;
    readonly isSponsoredUser: boolean;
    readonly settings: readonly { readonly id: string; readonly value: unknown }[];
  }[];
}

interface PeopleBody {
  readonly people: readonly {
    readonly xuid: string;
    readonly isFavorite: unknown;
    readonly isFollowingCaller?: boolean;
    readonly socialNetworks?: readonly string[];
  }[];
  readonly totalCount: number;
}

interface PrivacyBody {
  readonly responses: readonly {
    readonly user: { readonly xuid: string };
    readonly permissions: readonly unknown[];
  }[];
}

interface World {
  readonly url: string;
  readonly population: Population;
  readonly callerXuid: string;
}

/** Starts a fresh simulator without rate limiting, as seen by USERHASH; closed after the test. */
async function startWorld(t: TestContext, env: Record<string, string> = {}): Promise<World> {
  const { url, population } = await startUnlimitedSimulator(t, env);
  return { url, population, callerXuid: population.callerFor(USERHASH) };
}

/** A valid body for each service, naming XUIDs of the population. */
function validCalls(world: World) {
  const xuid = world.population.xuidAt(0);
  return [
    { path: SOCIAL_PATH, headers: { Authorization: AUTHORIZATION }, body: { xuids: [xuid] } },
    {
      path: PROFILE_PATH,
      headers: PROFILE_HEADERS,
      body: { userIds: [xuid], settings: ['Gamertag'] },
    },
    {
      path: PRIVACY_PATH,
      headers: { Authorization: AUTHORIZATION },
      body: { users: [{ xuid }], permissions: ['ViewTargetProfile'] },
    },
  ];
}

test('when Authorization is missing, every service answers 401', async (t) => {
  const world = await startWorld(t);

  for (const call of validCalls(world)) {
    const headers: Record<string, string> = { ...call.headers };
    delete headers['Authorization'];

    const response = await request(world.url).post(call.path).set(headers).send(call.body);

    assert.equal(response.status, 401, `${call.path} answers 401 without Authorization`);
    assert.match(response.type, /json/, `${call.path} answers 401 with a JSON body`);
  }
});

test('when Authorization is not XBL3.0 x=<userhash>;<token>, every service answers 401', async (t) => {
  const world = await startWorld(t);
  const malformed = [
    'Bearer secret-token-123',
    'XBL3.0 x=;secret-token-123',
    'XBL3.0 x=123',
    'XBL3.0 secret-token-123',
  ];

  for (const call of validCalls(world)) {
    for (const authorization of malformed) {
      const response = await request(world.url)
        .post(call.path)
        .set({ ...call.headers, Authorization: authorization })
        .send(call.body);

      assert.equal(response.status, 401, `${call.path} answers 401 to '${authorization}'`);
      assert.ok(!response.text.includes('secret-token-123'), 'the error body never echoes a token');
    }
  }
});

test('when the token is "forbidden", every service answers 403; when "expired", 401', async (t) => {
  const world = await startWorld(t);

  for (const call of validCalls(world)) {
    const forbidden = await request(world.url)
      .post(call.path)
      .set({ ...call.headers, Authorization: `XBL3.0 x=${USERHASH};forbidden` })
      .send(call.body);
    const expired = await request(world.url)
      .post(call.path)
      .set({ ...call.headers, Authorization: `XBL3.0 x=${USERHASH};expired` })
      .send(call.body);

    assert.equal(forbidden.status, 403, `${call.path} answers 403 to the forbidden token`);
    assert.equal(expired.status, 401, `${call.path} answers 401 to the expired token`);
  }
});

test('when the body is not valid JSON, every service answers 400', async (t) => {
  const world = await startWorld(t);

  for (const call of validCalls(world)) {
    const response = await request(world.url)
      .post(call.path)
      .set({ ...call.headers, 'Content-Type': 'application/json' })
      .send('{"xuids": [');

    assert.equal(response.status, 400, `${call.path} answers 400 to broken JSON`);
    assert.equal(
      (response.body as ErrorBody).code,
      'InvalidJson',
      `${call.path} says the JSON is invalid`,
    );
  }
});

test('when a known path is called with another method, it answers 405 with Allow: POST', async (t) => {
  const world = await startWorld(t);

  for (const path of [SOCIAL_PATH, PROFILE_PATH, PRIVACY_PATH]) {
    const response = await request(world.url).get(path).set('Authorization', AUTHORIZATION);

    assert.equal(response.status, 405, `GET ${path} answers 405`);
    assert.equal(response.headers['allow'], 'POST', `GET ${path} names the allowed method`);
  }
});

test('when the path is unknown, the simulator answers 404; /healthz answers 200', async (t) => {
  const world = await startWorld(t);

  const unknown = await request(world.url)
    .post('/users/xuid(123)/people/xuids')
    .set('Authorization', AUTHORIZATION)
    .send({ xuids: ['123'] });
  const health = await request(world.url).get('/healthz');

  assert.equal(unknown.status, 404, 'a path other than "me" is unknown');
  assert.equal(health.status, 200, '/healthz answers 200');
  assert.deepEqual(health.body, { status: 'ok' }, '/healthz says ok');
});

test('when the contract version header is missing, profile answers 400', async (t) => {
  const world = await startWorld(t);

  const response = await request(world.url)
    .post(PROFILE_PATH)
    .set('Authorization', AUTHORIZATION)
    .send({ userIds: [world.population.xuidAt(0)], settings: ['Gamertag'] });

  assert.equal(response.status, 400, 'profile requires x-xbl-contract-version');
});

test('when the contract version is not 2, profile answers 406', async (t) => {
  const world = await startWorld(t);

  for (const version of ['1', '3']) {
    const response = await request(world.url)
      .post(PROFILE_PATH)
      .set({ ...PROFILE_HEADERS, 'x-xbl-contract-version': version })
      .send({ userIds: [world.population.xuidAt(0)], settings: ['Gamertag'] });

    assert.equal(response.status, 406, `contract version ${version} is not supported`);
  }
});

test('when a profile setting id is unknown, profile answers 400 naming the entry', async (t) => {
  const world = await startWorld(t);

  const response = await request(world.url)
    .post(PROFILE_PATH)
    .set(PROFILE_HEADERS)
    .send({ userIds: [world.population.xuidAt(0)], settings: ['Gamertag', 'ShoeSize'] });

  assert.equal(response.status, 400, 'an unknown setting is a bad request');
  assert.match(
    (response.body as ErrorBody).description,
    /settings\[1\]/,
    'the description names settings[1]',
  );
});

test('when a XUID is malformed, every service answers 400', async (t) => {
  const world = await startWorld(t);
  const malformed: unknown[] = [
    '0123',
    '12a',
    '',
    '-5',
    '18446744073709551616',
    '123456789012345678901',
    2533274790000601,
  ];

  for (const xuid of malformed) {
    const social = await request(world.url)
      .post(SOCIAL_PATH)
      .set('Authorization', AUTHORIZATION)
      .send({ xuids: [xuid] });
    const profile = await request(world.url)
      .post(PROFILE_PATH)
      .set(PROFILE_HEADERS)
      .send({ userIds: [xuid], settings: ['Gamertag'] });
    const privacy = await request(world.url)
      .post(PRIVACY_PATH)
      .set('Authorization', AUTHORIZATION)
      .send({ users: [{ xuid }], permissions: ['ViewTargetProfile'] });

    const shown = JSON.stringify(xuid);
    assert.equal(social.status, 400, `social refuses XUID ${shown}`);
    assert.equal(profile.status, 400, `profile refuses XUID ${shown}`);
    assert.equal(privacy.status, 400, `privacy refuses XUID ${shown}`);
  }
});

test('when a required list is missing or empty, profile and privacy answer 400', async (t) => {
  const world = await startWorld(t);
  const xuid = world.population.xuidAt(0);
  const profileBodies = [
    { settings: ['Gamertag'] },
    { userIds: [], settings: ['Gamertag'] },
    { userIds: [xuid] },
    { userIds: [xuid], settings: [] },
  ];
  const privacyBodies = [
    { permissions: ['ViewTargetProfile'] },
    { users: [], permissions: ['ViewTargetProfile'] },
    { users: [{ xuid }] },
    { users: [{ xuid }], permissions: [] },
  ];

  for (const body of profileBodies) {
    const response = await request(world.url).post(PROFILE_PATH).set(PROFILE_HEADERS).send(body);
    assert.equal(response.status, 400, `profile refuses ${JSON.stringify(body)}`);
  }
  for (const body of privacyBodies) {
    const response = await request(world.url)
      .post(PRIVACY_PATH)
      .set('Authorization', AUTHORIZATION)
      .send(body);
    assert.equal(response.status, 400, `privacy refuses ${JSON.stringify(body)}`);
  }
});

test('when people/xuids gets a member other than xuids, it answers 400', async (t) => {
  const world = await startWorld(t);

  const response = await request(world.url)
    .post(SOCIAL_PATH)
    .set('Authorization', AUTHORIZATION)
    .send({ xuids: [world.population.xuidAt(0)], includeFriends: true });

  assert.equal(response.status, 400, 'xuids is the only member allowed');
});

test('when a batch holds more XUIDs than SIM_MAX_BATCH, every service answers 400', async (t) => {
  const world = await startWorld(t, { SIM_MAX_BATCH: '5' });
  const five = Array.from({ length: 5 }, (_, index) => world.population.xuidAt(index));
  const six = [...five, world.population.xuidAt(5)];
  const calls = (xuids: string[]) => [
    request(world.url).post(SOCIAL_PATH).set('Authorization', AUTHORIZATION).send({ xuids }),
    request(world.url)
      .post(PROFILE_PATH)
      .set(PROFILE_HEADERS)
      .send({ userIds: xuids, settings: ['Gamertag'] }),
    request(world.url)
      .post(PRIVACY_PATH)
      .set('Authorization', AUTHORIZATION)
      .send({ users: xuids.map((xuid) => ({ xuid })), permissions: ['ViewTargetProfile'] }),
  ];

  const atLimit = await Promise.all(calls(five));
  const overLimit = await Promise.all(calls(six));

  for (const [index, response] of atLimit.entries()) {
    assert.equal(response.status, 200, `call ${index} with 5 XUIDs is within the limit`);
  }
  for (const [index, response] of overLimit.entries()) {
    assert.equal(response.status, 400, `call ${index} with 6 XUIDs is over the limit`);
  }
});

test('profile answers known users with id, hostId, isSponsoredUser and string values only', async (t) => {
  const world = await startWorld(t);
  const known = world.population.xuidAt(3);
  const unknown = '1234567890';
  const settings = ['Gamerscore', 'Gamertag', 'TenureLevel', 'GameDisplayPicRaw'];

  const response = await request(world.url)
    .post(PROFILE_PATH)
    .set(PROFILE_HEADERS)
    .send({ userIds: [unknown, known], settings });

  assert.equal(response.status, 200, 'profile answers 200');
  const { profileUsers } = response.body as ProfileBody;
  assert.equal(profileUsers.length, 1, 'the unknown user is omitted');
  const user = profileUsers[0]!;
  assert.equal(user.id, known, 'the user is identified by id');
  assert.equal(user.hostId, known, 'hostId is present, as in real answers');
  assert.equal(user.isSponsoredUser, false, 'isSponsoredUser is present and false');
  assert.deepEqual(
    user.settings.map((setting) => setting.id),
    settings,
    'settings come in the asked order',
  );
  for (const setting of user.settings) {
    assert.equal(typeof setting.value, 'string', `${setting.id} is a string`);
  }
});

test('profile leaves out settings a user does not have', async (t) => {
  const world = await startWorld(t);
  let withoutBio: string | undefined;
  for (let index = 0; withoutBio === undefined; index += 1) {
    const xuid = world.population.xuidAt(index);
    if (world.population.user(xuid)?.settings.Bio === undefined) withoutBio = xuid;
  }

  const response = await request(world.url)
    .post(PROFILE_PATH)
    .set(PROFILE_HEADERS)
    .send({ userIds: [withoutBio], settings: ['Bio', 'Gamertag'] });

  assert.equal(response.status, 200, 'profile answers 200');
  assert.deepEqual(
    (response.body as ProfileBody).profileUsers[0]?.settings.map((setting) => setting.id),
    ['Gamertag'],
    'the missing Bio is simply absent',
  );
});

test('XUIDs above 2^53 come back exactly as sent in every service', async (t) => {
  const world = await startWorld(t);
  const large = world.population.largeXuids.find((xuid) =>
    world.population.peopleOf(world.callerXuid).has(xuid),
  );
  assert.ok(large !== undefined && BigInt(large) > TWO_TO_53, 'the caller follows a large XUID');

  const social = await request(world.url)
    .post(SOCIAL_PATH)
    .set('Authorization', AUTHORIZATION)
    .send({ xuids: [large] });
  const profile = await request(world.url)
    .post(PROFILE_PATH)
    .set(PROFILE_HEADERS)
    .send({ userIds: [large], settings: ['Gamertag'] });
  const privacy = await request(world.url)
    .post(PRIVACY_PATH)
    .set('Authorization', AUTHORIZATION)
    .send({ users: [{ xuid: large }], permissions: ['ViewTargetProfile'] });

  assert.ok(social.text.includes(`"xuid":"${large}"`), 'social echoes the XUID as a string');
  assert.ok(profile.text.includes(`"id":"${large}"`), 'profile echoes the XUID as a string');
  assert.ok(privacy.text.includes(`"xuid":"${large}"`), 'privacy echoes the XUID as a string');
});

test('people/xuids answers only the asked XUIDs in the collection, optional members omitted', async (t) => {
  const world = await startWorld(t);
  const collection = [...world.population.peopleOf(world.callerXuid).keys()].slice(0, 90);
  const strangers = [
    '1234',
    world.population.findTarget(world.callerXuid, 'none', { isInPeople: false }),
  ];
  assert.ok(strangers[1] !== undefined, 'the population has someone outside the collection');

  const response = await request(world.url)
    .post(SOCIAL_PATH)
    .set('Authorization', AUTHORIZATION)
    .send({ xuids: [...strangers, ...collection] });

  assert.equal(response.status, 200, 'people/xuids answers 200');
  const { people, totalCount } = response.body as PeopleBody;
  assert.deepEqual(
    people.map((person) => person.xuid).sort(),
    [...collection].sort(),
    'exactly the asked people in the collection are returned',
  );
  assert.equal(totalCount, people.length, 'totalCount counts the people returned');
  assert.ok(
    people.every((p) => typeof p.isFavorite === 'boolean'),
    'isFavorite is always there',
  );
  assert.ok(
    people.some((p) => p.socialNetworks === undefined),
    'socialNetworks is omitted on some',
  );
  assert.ok(
    people.every((p) => p.socialNetworks === undefined || p.socialNetworks.length > 0),
    'socialNetworks is never an empty list',
  );
  assert.ok(
    people.some((p) => p.isFollowingCaller === undefined),
    'isFollowingCaller is optional',
  );
});

test('when people/xuids is called with ?method=add, it answers 204 as the follow call does', async (t) => {
  const world = await startWorld(t);

  const response = await request(world.url)
    .post(`${SOCIAL_PATH}?method=add`)
    .set('Authorization', AUTHORIZATION)
    .send({ xuids: [world.population.xuidAt(0)] });

  assert.equal(response.status, 204, 'a forwarded query string would follow people');
});

test('when a permission id is unknown, privacy answers 400 for the whole call', async (t) => {
  const world = await startWorld(t);

  const response = await request(world.url)
    .post(PRIVACY_PATH)
    .set('Authorization', AUTHORIZATION)
    .send({
      users: [{ xuid: world.population.xuidAt(0) }],
      permissions: ['ViewTargetProfile', 'ReadMinds'],
    });

  assert.equal(response.status, 400, 'an unknown permission id fails the call');
  assert.match(
    (response.body as ErrorBody).description,
    /permissions\[1\]/,
    'the description names the entry',
  );
});

test('privacy answers positionally, echoes the user and gives deny reasons with restrictedSetting', async (t) => {
  const world = await startWorld(t);
  const { population, callerXuid } = world;
  const blocker = population.findTarget(callerXuid, 'blocks');
  const hider = population.findTarget(callerXuid, 'hidesProfile');
  const privileged = population.findTarget(callerXuid, 'deniesProfileViewing');
  const friend = population.findTarget(callerXuid, 'none', { isInPeople: true });
  assert.ok(blocker && hider && privileged && friend, 'the population has every kind of target');
  const permissions = ['CommunicateUsingText', 'ViewTargetProfile', 'PlayMultiplayer'];

  const response = await request(world.url)
    .post(PRIVACY_PATH)
    .set('Authorization', AUTHORIZATION)
    .send({
      users: [{ xuid: friend }, { xuid: blocker }, { xuid: hider }, { xuid: privileged }],
      permissions,
    });

  assert.equal(response.status, 200, 'privacy answers 200');
  assert.match(response.headers['cache-control'] ?? '', /no-store/, 'privacy answers are no-store');
  const byXuid = new Map(
    (response.body as PrivacyBody).responses.map((r) => [r.user.xuid, r.permissions]),
  );
  const allowed = { isAllowed: true };
  assert.deepEqual(byXuid.get(friend), [allowed, allowed, allowed], 'a friend is allowed all');
  const blocked = { isAllowed: false, reasons: [{ reason: 'BlockListRestrictsTarget' }] };
  assert.deepEqual(byXuid.get(blocker), [blocked, blocked, blocked], 'a blocker denies all');
  assert.deepEqual(
    byXuid.get(hider),
    [
      allowed,
      {
        isAllowed: false,
        reasons: [{ reason: 'PrivacySettingRestrictsTarget', restrictedSetting: 'ShareProfile' }],
      },
      allowed,
    ],
    'a hidden profile denies only the second asked permission, ViewTargetProfile',
  );
  assert.deepEqual(
    byXuid.get(privileged),
    [
      allowed,
      {
        isAllowed: false,
        reasons: [{ reason: 'PrivilegeRestrictsTarget', restrictedSetting: 'AllowProfileViewing' }],
      },
      allowed,
    ],
    'a privilege restriction names AllowProfileViewing',
  );
});

test('privacy allows everything for XUIDs that are not in the population', async (t) => {
  const world = await startWorld(t);

  const response = await request(world.url)
    .post(PRIVACY_PATH)
    .set('Authorization', AUTHORIZATION)
    .send({ users: [{ xuid: '42' }], permissions: ['ViewTargetProfile', 'CommunicateUsingVoice'] });

  assert.equal(response.status, 200, 'privacy answers 200');
  assert.deepEqual(
    (response.body as PrivacyBody).responses,
    [{ user: { xuid: '42' }, permissions: [{ isAllowed: true }, { isAllowed: true }] }],
    'an unknown XUID has no restrictions',
  );
});

test('every answer is JSON and carries an X-XblCorrelationId', async (t) => {
  const world = await startWorld(t);

  for (const call of validCalls(world)) {
    const response = await request(world.url).post(call.path).set(call.headers).send(call.body);

    assert.equal(response.status, 200, `${call.path} answers 200`);
    assert.match(response.headers['content-type'] ?? '', /^application\/json/, 'answers are JSON');
    assert.ok(response.headers['x-xblcorrelationid'], `${call.path} sends a correlation id`);
  }
});

test('GET /simulator/stats counts the calls each service received, whatever it answered', async (t) => {
  const world = await startWorld(t);
  const xuid = world.population.xuidAt(0);

  const before = await request(world.url).get(STATS_PATH);
  for (let i = 0; i < 2; i += 1) {
    await request(world.url)
      .post(SOCIAL_PATH)
      .set('Authorization', AUTHORIZATION)
      .send({ xuids: [xuid] });
  }
  const withoutVersion = await request(world.url)
    .post(PROFILE_PATH)
    .set('Authorization', AUTHORIZATION)
    .send({ userIds: [xuid], settings: ['Gamertag'] });
  const withoutAuthorization = await request(world.url)
    .post(PRIVACY_PATH)
    .send({ users: [{ xuid }], permissions: ['ViewTargetProfile'] });
  const after = await request(world.url).get(STATS_PATH);

  assert.equal(before.status, 200, 'the stats answer 200');
  assert.deepEqual(
    before.body,
    { calls: { social: 0, profile: 0, privacy: 0 } },
    'nothing is counted before the first call',
  );
  assert.equal(withoutVersion.status, 400, 'the profile call is refused');
  assert.equal(withoutAuthorization.status, 401, 'the privacy call is refused');
  assert.deepEqual(
    after.body,
    { calls: { social: 2, profile: 1, privacy: 1 } },
    'every call is counted under its service, refused ones too; stats calls are not',
  );
});
