import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createGatewayMetrics } from '../../src/metrics/gateway-metrics.js';
import { CALL_OUTCOMES } from '../../src/upstreams/policies/metrics.js';

const DOC = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
const RULES = readFileSync(new URL('../../deploy/prometheus/rules.yml', import.meta.url), 'utf8');

/** First cells of the Markdown tables whose header's first cell is `header`, backticks dropped. */
function firstCells(header: string): string[] {
  const cells: string[] = [];
  let inTable = false;
  for (const line of DOC.split('\n')) {
    const first = line.split('|')[1]?.trim() ?? '';
    if (!line.startsWith('|')) inTable = false;
    else if (first === header) inTable = true;
    else if (inTable && !first.startsWith('---')) cells.push(first.replace(/^`|`$/g, ''));
  }
  return cells;
}

/** Counters that stay at zero, for a registry with every scale-out part. */
const zeros = <K extends string>(...names: K[]) => ({
  stats: () => Object.fromEntries(names.map((name) => [name, 0])) as Record<K, number>,
});

test('docs/metrics.md lists exactly the metrics the gateway registers with Redis and the rate limit, process metrics aside', async () => {
  const metrics = createGatewayMetrics({
    processMetrics: false,
    circuitStates: () => ({ social: 'closed', profile: 'closed', privacy: 'closed' }),
    cacheSize: () => ({ entries: 0, bytes: 0 }),
    sharedCacheLevels: 1,
    scaleOut: {
      redis: {
        connection: { state: () => 'ok', ...zeros('failures') },
        cacheLevel: zeros('reads', 'failedReads', 'unreadableValues', 'writes', 'droppedWrites'),
        leases: zeros('taken', 'contended', 'released', 'timedOut', 'unavailable'),
        throttle: zeros('reads', 'heldByShared', 'unavailable', 'writes'),
      },
      rateLimit: zeros('counted', 'refused', 'countedLocally'),
    },
  });

  const registered = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);

  assert.deepEqual(firstCells('metric').sort(), registered.sort(), 'same metric names');
});

test('docs/metrics.md lists exactly the outcome labels of upstream calls', () => {
  assert.deepEqual(firstCells('outcome').sort(), [...CALL_OUTCOMES].sort(), 'same outcomes');
});

test('docs/metrics.md describes every rule of deploy/prometheus/rules.yml and no other', () => {
  const alerts = [...RULES.matchAll(/^\s+- alert: (\S+)$/gm)].map((match) => match[1]);
  const records = [...RULES.matchAll(/^\s+- record: (\S+)$/gm)].map((match) => match[1]);
  const sections = [...DOC.matchAll(/^### (FriendCardGateway\S+)$/gm)].map((match) => match[1]);

  assert.ok(alerts.length >= 6 && records.length >= 4, 'the rules are found');
  assert.deepEqual(sections, alerts, 'one section per alert, in the same order');
  assert.deepEqual(firstCells('rule'), records, 'one row per recording rule, in the same order');
});
