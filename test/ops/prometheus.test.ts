import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/http/request-logging.js';
import { startGateway } from '../../src/start-gateway.js';
import { requireTool, run } from '../helpers/prometheus-tools.js';
import { startUnlimitedSimulator } from '../helpers/simulator-server.js';
import { freePort } from '../helpers/child-process.js';

const RULES = fileURLToPath(new URL('../../deploy/prometheus/rules.yml', import.meta.url));
const JOB = 'friend-card-gateway';
/**
 * The whole test, Prometheus's start included, must end well within this. Prometheus applies
 * new scrape targets on a 5 s tick, so the first scrape comes about 6 s after it starts.
 */
const PROMETHEUS_WAIT_MS = 20_000;

/** The real gateway (`startGateway`, process metrics on) against a simulator, on loopback. */
async function startRealGateway(t: TestContext) {
  const simulator = await startUnlimitedSimulator(t);
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    XBL_SOCIAL_URL: simulator.url,
    XBL_PROFILE_URL: simulator.url,
    XBL_PRIVACY_URL: simulator.url,
    SHUTDOWN_GRACE_MS: '1000',
  });
  const gateway = await startGateway(config, createLogger({ level: 'silent' }));
  t.after(() => gateway.shutdown());
  const base = `http://127.0.0.1:${gateway.port}`;
  const xuids = Array.from({ length: 5 }, (_, index) => simulator.population.xuidAt(index));
  let caller = 0;
  /** One card request as a new caller, its answer read to the end. */
  const cardRequest = async () => {
    caller += 1;
    const response = await fetch(`${base}/friends-with-profiles?xuids=${xuids.join(',')}`, {
      headers: { authorization: `XBL3.0 x=${1000 + caller};token-${caller}` },
    });
    await response.arrayBuffer();
    return response.status;
  };
  return { port: gateway.port, base, cardRequest };
}

/** Starts Prometheus scraping `target` every second, with the gateway's rules; stopped after `t`. */
async function startPrometheus(t: TestContext, binary: string, target: string) {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${JSON.stringify(RULES)}`,
      'scrape_configs:',
      `  - job_name: ${JOB}`,
      '    static_configs:',
      `      - targets: [${JSON.stringify(target)}]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const child = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.on('error', (error) => (stderr += String(error)));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  t.after(async () => {
    // Stopped by its own PID: SIGTERM, then SIGKILL should it not exit within 5 s.
    const { pid } = child;
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGTERM');
      const killer = setTimeout(() => {
        process.kill(pid, 'SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** An instant query's result vector; [] while Prometheus is not up yet. */
  async function query(
    promql: string,
  ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    assert.equal(child.exitCode, null, `Prometheus is still running; its stderr: ${stderr}`);
    try {
      const response = await fetch(
        `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`,
      );
      if (!response.ok) return [];
      const body = (await response.json()) as { data: { result: [] } };
      return body.data.result;
    } catch {
      return [];
    }
  }
  /** Rule groups as Prometheus loaded and evaluated them. */
  async function rules() {
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/rules`);
    const body = (await response.json()) as {
      data: {
        groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[];
      };
    };
    return body.data.groups;
  }
  return { query, rules, stderr: () => stderr };
}

test('when a real Prometheus scrapes a simulator-backed gateway, up is 1 and the latency quantile is a number', async (t) => {
  const prometheus = requireTool(t, 'prometheus');
  if (!prometheus) return;
  const gateway = await startRealGateway(t);
  const server = await startPrometheus(t, prometheus, `127.0.0.1:${gateway.port}`);
  const median =
    'histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{route="/friends-with-profiles"}[10s])))';

  const recorded = 'route:http_requests:rate5m{route="/friends-with-profiles"}';
  const numberOf = async (promql: string) => {
    const value = Number((await server.query(promql))[0]?.value[1]);
    return Number.isFinite(value) ? value : undefined;
  };

  // Traffic until Prometheus answers: rate() needs two scrapes, a recording rule one evaluation.
  const startedAt = performance.now();
  let up: number | undefined;
  let p50: number | undefined;
  let rate: number | undefined;
  const statuses = new Set<number>();
  while (performance.now() - startedAt < PROMETHEUS_WAIT_MS) {
    statuses.add(await gateway.cardRequest());
    up = await numberOf(`up{job="${JOB}"}`);
    if (up === 1) [p50, rate] = await Promise.all([numberOf(median), numberOf(recorded)]);
    if (p50 !== undefined && rate !== undefined) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const elapsedS = ((performance.now() - startedAt) / 1000).toFixed(1);
  console.log(`Prometheus answered ${median} = ${String(p50)} after ${elapsedS} s`);
  console.log(`Prometheus answered ${recorded} = ${String(rate)}`);
  const groups = await server.rules();

  assert.deepEqual([...statuses], [200], 'every card request was answered 200');
  assert.equal(up, 1, `Prometheus scraped the gateway (up == 1); stderr: ${server.stderr()}`);
  assert.ok(p50 !== undefined && p50 > 0 && p50 < 1, `the median is a latency in seconds: ${p50}`);
  assert.ok(rate !== undefined && rate > 0, `the request-rate recording rule has a value: ${rate}`);
  const evaluated = groups.flatMap((group) => group.rules);
  assert.equal(evaluated.length, 14, 'Prometheus loaded every rule of rules.yml');
  for (const rule of evaluated) {
    assert.notEqual(rule.health, 'err', `${rule.name} evaluates: ${rule.lastError ?? ''}`);
  }
});

/**
 * Gauges of prom-client's default process metrics that promtool's linter flags for their
 * `_total` suffix; the library names them, the gateway cannot rename them.
 */
const LIBRARY_LINT = new Set([
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
]);

test("when promtool checks the gateway's /metrics, the gateway's own metrics have no naming or format problem", async (t) => {
  const promtool = requireTool(t, 'promtool');
  if (!promtool) return;
  const gateway = await startRealGateway(t);
  await gateway.cardRequest();
  const response = await fetch(`${gateway.base}/metrics`);
  const exposition = await response.text();

  const result = await run(promtool, ['check', 'metrics'], { input: exposition });

  assert.match(exposition, /^process_cpu_user_seconds_total /m, 'process metrics are on');
  assert.match(exposition, /^nodejs_eventloop_lag_seconds /m, 'event-loop lag is exported');
  assert.match(exposition, /^upstream_calls_total\{/m, "the gateway's own metrics are there");
  const problems = (result.stdout + result.stderr).split('\n').filter(Boolean);
  const ours = problems.filter((line) => !LIBRARY_LINT.has(line.split(' ')[0] ?? ''));
  assert.deepEqual(ours, [], 'promtool check metrics finds nothing wrong with the rest');
  assert.equal(result.code === 0, problems.length === 0, 'promtool fails only with problems');
});
