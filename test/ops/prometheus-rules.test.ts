import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { requireTool, run } from '../helpers/prometheus-tools.js';

const RULES_DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));

/** Every alert rules.yml must define, each with a promtool unit test in rules.test.yml. */
const ALERTS = [
  'FriendCardGatewayErrorRatioHigh',
  'FriendCardGatewayLatencyOverDeadline',
  'FriendCardGatewayUpstreamCircuitOpen',
  'FriendCardGatewayCacheHitRatioFalling',
  'FriendCardGatewayShedding',
  'FriendCardGatewayTargetDown',
  'FriendCardGatewayRedisDegraded',
];

test('when promtool checks deploy/prometheus/rules.yml, every rule is valid', async (t) => {
  const promtool = requireTool(t, 'promtool');
  if (!promtool) return;

  const result = await run(promtool, ['check', 'rules', 'rules.yml'], { cwd: RULES_DIR });

  assert.equal(result.code, 0, `promtool check rules passes: ${result.stdout}${result.stderr}`);
  assert.match(result.stdout, /SUCCESS: 14 rules found/, 'seven recording rules and seven alerts');
});

test('when promtool runs deploy/prometheus/rules.test.yml, every alert and recording test passes', async (t) => {
  const promtool = requireTool(t, 'promtool');
  if (!promtool) return;

  const result = await run(promtool, ['test', 'rules', 'rules.test.yml'], { cwd: RULES_DIR });
  const tests = readFileSync(`${RULES_DIR}rules.test.yml`, 'utf8');

  assert.equal(result.code, 0, `promtool test rules passes: ${result.stdout}${result.stderr}`);
  assert.match(result.stdout, /SUCCESS/, 'promtool reports success');
  for (const alert of ALERTS) {
    assert.match(
      tests,
      new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels:`),
      `rules.test.yml has a case where ${alert} fires`,
    );
  }
});
