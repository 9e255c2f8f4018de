import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Response } from 'supertest';
import type { FriendCardsResult, PartError } from '../../src/friend-cards/friend-card.js';
import { sampleProfile } from '../helpers/assertions.js';
import { allProfiles, denyProfileTo, emptyPeople } from '../helpers/fake-upstreams.js';
import type { FakeResponse, FakeUpstreamName, Responder } from '../helpers/fake-upstreams.js';
import { XUIDS, gatewayFor } from '../helpers/test-app.js';

const [ALLOWED, DENIED] = XUIDS;
const UPSTREAMS: readonly FakeUpstreamName[] = ['social', 'profile', 'privacy'];
const MAX_BODY_BYTES = 4096;

/** Each fault, how a fake answers with it, and the part error it must become. */
const FAULTS: Readonly<
  Record<string, { readonly answer: FakeResponse; readonly error: Omit<PartError, 'upstream'> }>
> = {
  '500': { answer: { status: 500 }, error: { code: 'unavailable', status: 500 } },
  '502': { answer: { status: 502 }, error: { code: 'unavailable', status: 502 } },
  '503': { answer: { status: 503 }, error: { code: 'unavailable', status: 503 } },
  hang: { answer: { hang: true }, error: { code: 'timeout' } },
  reset: { answer: { reset: true }, error: { code: 'unavailable' } },
  'malformed JSON': { answer: { rawBody: '{"people": [' }, error: { code: 'bad_response' } },
  'oversized body': {
    answer: { rawBody: JSON.stringify({ padding: 'x'.repeat(MAX_BODY_BYTES * 2) }) },
    error: { code: 'bad_response' },
  },
  '429 with Retry-After': {
    answer: { status: 429, headers: { 'retry-after': '7' } },
    error: { code: 'throttled', status: 429 },
  },
};

const HEALTHY: Readonly<Record<FakeUpstreamName, Responder>> = {
  social: emptyPeople,
  profile: allProfiles,
  // Privacy allows one XUID and denies the other, so the privacy gate is always exercised.
  privacy: denyProfileTo([DENIED]),
};

type Case = readonly (readonly [FakeUpstreamName, string])[];

/** Every fault on every upstream alone, then every pair of faults on two upstreams. */
function cases(): Case[] {
  const names = Object.keys(FAULTS);
  const all: Case[] = UPSTREAMS.flatMap((upstream) => names.map((f) => [[upstream, f]] as const));
  for (const [i, first] of UPSTREAMS.entries()) {
    for (const second of UPSTREAMS.slice(i + 1)) {
      for (const a of names)
        for (const b of names)
          all.push([
            [first, a],
            [second, b],
          ]);
    }
  }
  return all;
}

/** No profile unless this request's privacy answer allowed it; the rest of each card as due. */
function assertCards(body: FriendCardsResult, failing: ReadonlySet<FakeUpstreamName>): void {
  const [allowed, denied] = body.cards;
  assert.ok(allowed && denied, 'one card per requested XUID');
  assert.equal(denied.profile, null, 'a XUID that privacy denied never shows a profile');
  if (failing.has('privacy')) {
    assert.equal(allowed.profile, null, 'without a privacy answer no profile is shown');
    assert.equal(allowed.permissions, null, 'and permissions are null');
    assert.equal(allowed.profileStatus, 'unavailable', 'the card says unavailable');
  } else {
    assert.equal(denied.profileStatus, 'denied', 'the denied card says denied');
    assert.equal(allowed.permissions?.ViewTargetProfile?.isAllowed, true, 'permissions survive');
    if (failing.has('profile')) {
      assert.equal(allowed.profileStatus, 'unavailable', 'a failed profile part is unavailable');
    } else {
      assert.deepEqual(allowed.profile, sampleProfile(ALLOWED), 'the allowed profile is shown');
    }
  }
  if (failing.has('social'))
    assert.equal(allowed.relationship, null, 'a failed social part is null');
  else assert.equal(allowed.relationship?.inPeopleCollection, false, 'the relationship survives');
}

describe('fault matrix: each upstream fault alone and in pairs', { concurrency: 6 }, () => {
  for (const faults of cases()) {
    const name = faults.map(([upstream, fault]) => `${upstream} ${fault}`).join(' and ');
    test(`when ${name}, the answer is partial with the right errors and privacy holds`, async (t) => {
      const failing = new Set(faults.map(([upstream]) => upstream));
      const responders = { ...HEALTHY };
      for (const [upstream, fault] of faults) {
        const answer = FAULTS[fault]?.answer ?? {};
        responders[upstream] = () => answer;
      }
      const gw = await gatewayFor(t, {
        env: {
          // Short where a call hangs (the deadline ends it); long enough elsewhere that retries
          // of a 5xx finish on a busy machine, so each fault keeps its own code.
          REQUEST_DEADLINE_MS: faults.some(([, fault]) => fault === 'hang') ? '1000' : '3000',
          UPSTREAM_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
        },
        responders,
      });

      const response: Response = await gw.getCards(`xuids=${ALLOWED},${DENIED}`);

      assert.equal(
        response.status,
        200,
        `two of three parts failing still answer 200: ${response.text}`,
      );
      const body = response.body as FriendCardsResult;
      assert.equal(body.partial, true, 'the answer is partial');
      assert.deepEqual(
        [...body.errors].sort((a, b) => a.upstream.localeCompare(b.upstream)),
        faults
          .map(([upstream, fault]) => ({ upstream, ...FAULTS[fault]?.error }))
          .sort((a, b) => a.upstream.localeCompare(b.upstream)),
        'one error per failed part, with its code and status',
      );
      assertCards(body, failing);
    });
  }
});

describe('fault matrix: every part failing', () => {
  for (const [name, fault, status] of [
    ['all three answer 503', '503', 502],
    ['all three hang', 'hang', 504],
    ['all three answer 429', '429 with Retry-After', 429],
  ] as const) {
    test(`when ${name}, the gateway answers ${status} with no profile`, async (t) => {
      const answer = FAULTS[fault]?.answer ?? {};
      const gw = await gatewayFor(t, {
        env: { REQUEST_DEADLINE_MS: '300' },
        responders: { social: () => answer, profile: () => answer, privacy: () => answer },
      });

      const response = await gw.getCards(`xuids=${ALLOWED},${DENIED}`);

      assert.equal(response.status, status, `the whole request fails with ${status}`);
      assert.equal(
        response.headers['content-type']?.startsWith('application/problem+json'),
        true,
        'as a problem',
      );
      if (status === 429) assert.equal(response.headers['retry-after'], '7', 'with Retry-After');
      assert.ok(!response.text.includes('GameDisplayName'), 'no profile value leaks');
    });
  }
});
