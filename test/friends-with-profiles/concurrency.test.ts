import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FriendCardsResult } from '../../src/friend-cards/friend-card.js';
import { asCardsResult } from '../helpers/assertions.js';
import {
  allProfiles,
  allowEverything,
  createBarrier,
  emptyPeople,
  xuidsOf,
} from '../helpers/fake-upstreams.js';
import type { FakeUpstreamName, Responder } from '../helpers/fake-upstreams.js';
import { startTestGateway } from '../helpers/test-app.js';

const UPSTREAMS: readonly FakeUpstreamName[] = ['social', 'profile', 'privacy'];
const DEFAULT_RESPONDERS: Record<FakeUpstreamName, Responder> = {
  social: emptyPeople,
  profile: allProfiles,
  privacy: allowEverything,
};

/** Five valid, distinct XUIDs: one more than two full batches of two. */
const FIVE_XUIDS = Array.from({ length: 5 }, (_, index) =>
  String(2533274800000000n + BigInt(index)),
);

/** A deadline short enough that a barrier that never opens fails the test quickly. */
const SHORT_DEADLINE_MS = '500';

/** Wraps every default responder so that it answers only after `arrive()` resolves. */
function behindBarrier(arrive: () => Promise<void>): Record<FakeUpstreamName, Responder> {
  const wrap =
    (responder: Responder): Responder =>
    async (call) => {
      await arrive();
      return responder(call);
    };
  return {
    social: wrap(DEFAULT_RESPONDERS.social),
    profile: wrap(DEFAULT_RESPONDERS.profile),
    privacy: wrap(DEFAULT_RESPONDERS.privacy),
  };
}

describe('concurrency of the upstream calls', () => {
  test('when each upstream waits for the other two before answering, the request still succeeds completely', async (t) => {
    const barrier = createBarrier(3);
    const gw = await startTestGateway({
      env: { REQUEST_DEADLINE_MS: SHORT_DEADLINE_MS },
      responders: behindBarrier(() => barrier.arrive()),
    });
    t.after(() => gw.close());

    const response = await gw.getCards(`xuids=${FIVE_XUIDS[0]!}`);

    assert.equal(
      barrier.arrived,
      3,
      `all three upstream calls should be in flight together; only ${barrier.arrived} arrived before the deadline, so the calls ran one after another`,
    );
    assert.equal(response.status, 200, 'with all three calls in flight the request should succeed');
    const body = asCardsResult(response.body);
    assert.equal(body.partial, false, 'no part should have timed out waiting on another');
    assert.deepEqual(body.errors, [], 'no upstream error should be listed');
    assert.equal(body.cards[0]?.profileStatus, 'ok', 'the card should have its profile');
  });

  test('when each of the three upstreams takes 150 ms, the request takes well under their sum', async (t) => {
    const slow =
      (responder: Responder): Responder =>
      async (call) => ({ ...(await responder(call)), delayMs: 150 });
    const gw = await startTestGateway({
      responders: {
        social: slow(DEFAULT_RESPONDERS.social),
        profile: slow(DEFAULT_RESPONDERS.profile),
        privacy: slow(DEFAULT_RESPONDERS.privacy),
      },
    });
    t.after(() => gw.close());

    const startedAt = performance.now();
    const response = await gw.getCards(`xuids=${FIVE_XUIDS[0]!}`);
    const elapsedMs = performance.now() - startedAt;

    assert.equal(response.status, 200, 'the request should succeed');
    assert.equal(asCardsResult(response.body).partial, false, 'every part should have answered');
    assert.ok(
      elapsedMs >= 140,
      `the request (${Math.round(elapsedMs)} ms) should wait for the delay`,
    );
    assert.ok(
      elapsedMs < 400,
      `the request (${Math.round(elapsedMs)} ms) should take far less than the 450 ms of three sequential calls`,
    );
  });
});

describe('batching of long XUID lists', () => {
  test('when five XUIDs are asked with UPSTREAM_BATCH_SIZE=2, each upstream gets batches of 2, 2 and 1 covering every XUID once', async (t) => {
    const gw = await startTestGateway({ env: { UPSTREAM_BATCH_SIZE: '2' } });
    t.after(() => gw.close());

    const response = await gw.getCards(`xuids=${FIVE_XUIDS.join(',')}`);

    assert.equal(response.status, 200, 'the request should succeed');
    for (const upstream of UPSTREAMS) {
      const calls = gw.upstreams.callsTo(upstream);
      assert.deepEqual(
        calls.map((call) => xuidsOf(call).length).sort(),
        [1, 2, 2],
        `${upstream} should get three batches of 2, 2 and 1 XUIDs`,
      );
      assert.deepEqual(
        calls.flatMap(xuidsOf).sort(),
        [...FIVE_XUIDS].sort(),
        `${upstream} batches should cover every XUID exactly once`,
      );
    }
    const body = asCardsResult(response.body);
    assert.deepEqual(
      body.cards.map((card) => card.xuid),
      FIVE_XUIDS,
      'the cards should follow request order across batches',
    );
    assert.ok(
      body.cards.every((card) => card.profileStatus === 'ok' && card.permissions !== null),
      'every card should have its profile and permissions from its batch',
    );
  });

  test('when five XUIDs go in batches of 2, all nine batches of the three upstreams are in flight together', async (t) => {
    const barrier = createBarrier(9);
    const gw = await startTestGateway({
      env: { UPSTREAM_BATCH_SIZE: '2', REQUEST_DEADLINE_MS: SHORT_DEADLINE_MS },
      responders: behindBarrier(() => barrier.arrive()),
    });
    t.after(() => gw.close());

    const response = await gw.getCards(`xuids=${FIVE_XUIDS.join(',')}`);

    assert.equal(
      barrier.arrived,
      9,
      `all 9 batches should be in flight together; only ${barrier.arrived} arrived before the deadline`,
    );
    assert.equal(response.status, 200, 'the request should succeed');
    assert.equal(asCardsResult(response.body).partial, false, 'no batch should have timed out');
  });

  const failingBatch: {
    upstream: FakeUpstreamName;
    check: (body: FriendCardsResult) => void;
  }[] = [
    {
      upstream: 'social',
      check: (body) => {
        assert.ok(
          body.cards.every((card) => card.relationship === null),
          'with the social part failed every relationship should be null',
        );
      },
    },
    {
      upstream: 'profile',
      check: (body) => {
        assert.ok(
          body.cards.every((card) => card.profile === null && card.profileStatus === 'unavailable'),
          'with the profile part failed no card should have a profile',
        );
      },
    },
    {
      upstream: 'privacy',
      check: (body) => {
        assert.ok(
          body.cards.every(
            (card) =>
              card.permissions === null &&
              card.profile === null &&
              card.profileStatus === 'unavailable',
          ),
          'with the privacy part failed no card should have permissions or a profile',
        );
      },
    },
  ];
  for (const { upstream, check } of failingBatch) {
    test(`when one ${upstream} batch answers 500, the ${upstream} part fails`, async (t) => {
      const lastXuid = FIVE_XUIDS[4]!;
      const failLastBatch: Responder = (call) =>
        xuidsOf(call).includes(lastXuid) ? { status: 500 } : DEFAULT_RESPONDERS[upstream](call);
      const gw = await startTestGateway({
        // No retries: the failing batch is sent once, so the part fails.
        env: { UPSTREAM_BATCH_SIZE: '2', UPSTREAM_RETRIES: '0' },
        responders: { [upstream]: failLastBatch },
      });
      t.after(() => gw.close());

      const response = await gw.getCards(`xuids=${FIVE_XUIDS.join(',')}`);

      assert.equal(response.status, 200, 'the other two parts answered, so the request succeeds');
      assert.equal(
        gw.upstreams.callsTo(upstream).length,
        3,
        `all three ${upstream} batches should be sent`,
      );
      const body = asCardsResult(response.body);
      assert.equal(body.partial, true, 'a failed batch should make the answer partial');
      assert.deepEqual(
        body.errors,
        [{ upstream, code: 'unavailable', status: 500 }],
        `the ${upstream} part should be listed as failed with the batch's status`,
      );
      check(body);
    });
  }
});
