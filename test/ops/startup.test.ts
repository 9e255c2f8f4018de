import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startNode } from '../helpers/child-process.js';
import type { StartedProcess } from '../helpers/child-process.js';
import { startFakeUpstreams } from '../helpers/fake-upstreams.js';
import type { FakeUpstreams } from '../helpers/fake-upstreams.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

const ENTRY_FILES = {
  gateway: 'src/server.ts',
  simulator: 'src/simulator.ts',
  local: 'src/start-local.ts',
} as const;

/** Runs an entry file with exactly `env` (plus PATH); ended by its PID when `t` ends. */
function startEntry(
  t: TestContext | undefined,
  entry: keyof typeof ENTRY_FILES,
  env: Record<string, string>,
  runWith?: readonly string[],
): StartedProcess {
  const started = startNode(['--import', 'tsx', ENTRY_FILES[entry]], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env },
    runWith,
  });
  t?.after(() => {
    started.kill();
  });
  return started;
}

/** Holds a TCP port on 127.0.0.1 until `t` ends; returns it. */
async function occupyPort(t: TestContext): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  );
  return (server.address() as AddressInfo).port;
}

/**
 * Asserts that `started` exited 1 after writing exactly `expected` as its one stderr line, with
 * no stack trace anywhere.
 */
async function assertFailsWithOneLine(started: StartedProcess, expected: string | RegExp) {
  const code = await started.exited;
  const stderr = started.stderr();
  const stderrLines = stderr.split('\n').filter((line) => line.trim() !== '');

  assert.equal(code, 1, `start-up fails with exit code 1 (stderr: ${stderr})`);
  assert.equal(stderrLines.length, 1, `one line on stderr, got:\n${stderr}`);
  if (typeof expected === 'string')
    assert.equal(stderrLines[0], expected, 'the line names the cause');
  else assert.match(stderrLines[0] ?? '', expected, 'the line names the cause');
  const output = `${stderr}\n${started.lines.map((line) => JSON.stringify(line)).join('\n')}`;
  assert.doesNotMatch(output, /^\s+at /m, 'no stack trace');
}

describe('the gateway start-up line and setting warnings', () => {
  let upstreams: FakeUpstreams;
  let gateway: StartedProcess;
  let listening: Record<string, unknown>;

  before(async () => {
    upstreams = await startFakeUpstreams();
    const social = new URL(upstreams.env.XBL_SOCIAL_URL);
    gateway = startEntry(undefined, 'gateway', {
      ...upstreams.env,
      XBL_SOCIAL_URL: `http://svc-user:hunter2@${social.host}`,
      PORT: '0',
      HOST: '127.0.0.1',
      REQUEST_DEADLINE_MS: '900',
      UPSTREAM_RETRIES: '2',
      REDIS_URL: 'redis://cache-user:redis-pass@cache.internal:6379',
      CORS_ALLOWED_ORIGINS: 'https://game.example',
      XBL_PROFLE_URL: 'http://typo.example',
      PROFILE_CACHE_TTL: '1000',
      XBL_SOMETHING_ELSE_ENTIRELY: '1',
      OTEL_SERVICE_NAME: 'friend-card-gateway',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      SIM_LATENCY_MS: '5',
    });
    listening = await gateway.waitForLog('gateway listening');
  });

  after(async () => {
    gateway.kill();
    await upstreams.close();
  });

  test('when PORT=0, the start-up line gives the chosen port, the version, Node and the upstreams without credentials', () => {
    const social = new URL(upstreams.env.XBL_SOCIAL_URL);

    assert.equal(listening.level, 'info', 'the start-up line is at info');
    assert.equal(listening.name, 'friend-card-gateway', 'it names the gateway');
    assert.equal(typeof listening.port, 'number', 'the port is a number');
    assert.ok(Number(listening.port) > 0, `the actual port, not 0 (got ${String(listening.port)})`);
    assert.equal(listening.host, '127.0.0.1', 'the listen host');
    assert.equal(listening.version, VERSION, 'the version of package.json');
    assert.equal(listening.node, process.version, 'the Node version it runs on');
    assert.deepEqual(
      listening.upstreams,
      {
        social: `http://${social.host}`,
        profile: upstreams.env.XBL_PROFILE_URL,
        privacy: upstreams.env.XBL_PRIVACY_URL,
      },
      'the upstream base URLs, credentials stripped',
    );
  });

  test('when settings differ from their defaults, the start-up line lists exactly those, URL userinfo redacted', () => {
    const social = new URL(upstreams.env.XBL_SOCIAL_URL);

    assert.deepEqual(
      listening.settings,
      {
        PORT: '0',
        HOST: '127.0.0.1',
        XBL_SOCIAL_URL: `http://[redacted]@${social.host}`,
        XBL_PROFILE_URL: upstreams.env.XBL_PROFILE_URL,
        XBL_PRIVACY_URL: upstreams.env.XBL_PRIVACY_URL,
        REQUEST_DEADLINE_MS: '900',
        REDIS_URL: 'redis://[redacted]@cache.internal:6379',
      },
      'the non-default settings; UPSTREAM_RETRIES=2 is the default and is left out',
    );
  });

  test('when contract settings this version ignores are set, each gets a not-supported warning', () => {
    const warnings = warningsOf(gateway);

    for (const variable of ['CORS_ALLOWED_ORIGINS']) {
      assert.equal(
        warnings.get(variable)?.msg,
        `${variable} is set but not supported by this version; ignored`,
        `${variable} is warned about`,
      );
    }
  });

  test('when unknown variables carry a gateway prefix, each warns, with a suggestion when one is close', () => {
    const warnings = warningsOf(gateway);

    assert.equal(warnings.get('XBL_PROFLE_URL')?.suggestion, 'XBL_PROFILE_URL', 'a typo');
    assert.equal(
      warnings.get('XBL_PROFLE_URL')?.msg,
      'XBL_PROFLE_URL is not a known setting; ignored (did you mean XBL_PROFILE_URL?)',
      'the message says what is ignored and what was probably meant',
    );
    assert.equal(
      warnings.get('PROFILE_CACHE_TTL')?.suggestion,
      'PROFILE_CACHE_TTL_MS',
      'a unit left out',
    );
    assert.equal(
      warnings.get('XBL_SOMETHING_ELSE_ENTIRELY')?.msg,
      'XBL_SOMETHING_ELSE_ENTIRELY is not a known setting; ignored',
      'no suggestion when nothing is close',
    );
    assert.deepEqual(
      [...warnings.keys()].sort(),
      [
        'CORS_ALLOWED_ORIGINS',
        'PROFILE_CACHE_TTL',
        'XBL_PROFLE_URL',
        'XBL_SOMETHING_ELSE_ENTIRELY',
      ],
      "nothing else: OpenTelemetry's OTEL_ variables, the simulator's SIM_ ones and PATH do not warn",
    );
    const listeningAt = gateway.lines.findIndex(
      (line) => (line as { msg?: unknown }).msg === 'gateway listening',
    );
    const lastWarning = Math.max(...[...warnings.values()].map((w) => gateway.lines.indexOf(w)));
    assert.ok(lastWarning < listeningAt, 'the warnings come before the start-up line');
  });

  test('when a URL setting holds a password, no line shows it', () => {
    const text = JSON.stringify(gateway.lines) + gateway.stderr();

    assert.ok(!text.includes('hunter2'), 'the upstream password is not shown');
    assert.ok(!text.includes('redis-pass'), 'the REDIS_URL password is not shown');
  });
});

/** The warn lines of `started` by the variable they name. */
function warningsOf(started: StartedProcess): Map<string, Record<string, unknown>> {
  const warnings = new Map<string, Record<string, unknown>>();
  for (const line of started.lines as Record<string, unknown>[]) {
    if (line.level === 'warn' && typeof line.variable === 'string')
      warnings.set(line.variable, line);
  }
  return warnings;
}

describe('start-up failures', () => {
  test('when the port is in use, the gateway prints one line naming it and exits 1', async (t) => {
    const port = await occupyPort(t);

    const gateway = startEntry(t, 'gateway', { PORT: String(port), HOST: '127.0.0.1' });

    await assertFailsWithOneLine(gateway, `Cannot listen on 127.0.0.1:${port}: address in use`);
  });

  test('when the port needs a privilege the process lacks, the gateway prints one line naming it and exits 1', async (t) => {
    const privileged = privilegedPortSetup();
    if (typeof privileged === 'string') {
      console.log(`SKIPPED: ${privileged}`);
      assert.notEqual(process.env.CI, 'true', `under CI the test must run: ${privileged}`);
      return;
    }

    const gateway = startEntry(
      t,
      'gateway',
      { PORT: String(privileged.port), HOST: '127.0.0.1' },
      privileged.runWith,
    );

    await assertFailsWithOneLine(
      gateway,
      `Cannot listen on 127.0.0.1:${privileged.port}: permission denied`,
    );
  });

  test('when HOST does not resolve, the gateway prints one line naming it and exits 1', async (t) => {
    const gateway = startEntry(t, 'gateway', { PORT: '0', HOST: 'gateway-host.invalid' });

    await assertFailsWithOneLine(
      gateway,
      /^Cannot listen on gateway-host\.invalid:0: host not found$/,
    );
  });

  test('when a URL setting is invalid and holds a password, the one line names the setting and not the password', async (t) => {
    const gateway = startEntry(t, 'gateway', {
      XBL_SOCIAL_URL: 'ftp://svc:hunter2@social.example',
    });

    await assertFailsWithOneLine(
      gateway,
      /^Cannot start: XBL_SOCIAL_URL must be an http or https URL/,
    );
    assert.ok(!gateway.stderr().includes('hunter2'), 'the password is not echoed');
  });

  test('when the port is in use, the simulator prints one line naming it and exits 1', async (t) => {
    const port = await occupyPort(t);

    const simulator = startEntry(t, 'simulator', { PORT: String(port), HOST: '127.0.0.1' });

    await assertFailsWithOneLine(simulator, `Cannot listen on 127.0.0.1:${port}: address in use`);
  });

  test('when the port is in use, npm start prints one line naming it and exits 1', async (t) => {
    const port = await occupyPort(t);

    const local = startEntry(t, 'local', { PORT: String(port), HOST: '127.0.0.1' });

    await assertFailsWithOneLine(local, `Cannot listen on 127.0.0.1:${port}: address in use`);
  });
});

describe('the simulator and npm start', () => {
  test('when the simulator starts and gets SIGTERM, its lines are named xbl-simulator and read signal received, then stopped', async (t) => {
    const simulator = startEntry(t, 'simulator', {
      PORT: '0',
      HOST: '127.0.0.1',
      SIM_POPULATON_SIZE: '100',
    });
    const listening = await simulator.waitForLog('simulator listening');

    simulator.child.kill('SIGTERM');
    const code = await simulator.exited;

    assert.equal(code, 0, 'SIGTERM ends the simulator with 0');
    assert.equal(listening.name, 'xbl-simulator', 'its lines name the simulator');
    assert.equal(listening.level, 'info', 'levels are names');
    assert.match(String(listening.time), /^\d{4}-\d{2}-\d{2}T.*Z$/, 'times are ISO 8601');
    assert.ok(Number(listening.port) > 0, 'the start-up line gives the chosen port');
    assert.equal(
      warningsOf(simulator).get('SIM_POPULATON_SIZE')?.msg,
      'SIM_POPULATON_SIZE is not a known setting; ignored (did you mean SIM_POPULATION_SIZE?)',
      'an unknown SIM_ variable warns with a suggestion',
    );
    assert.deepEqual(
      messages(simulator).filter((msg) => msg === 'signal received' || msg === 'stopped'),
      ['signal received', 'stopped'],
      "'signal received' comes before 'stopped'",
    );
  });

  test('when npm start gets SIGTERM, the gateway logs signal received, draining, stopped in that order and exits 0', async (t) => {
    const local = startEntry(t, 'local', { PORT: '0', HOST: '127.0.0.1' });
    const listening = await local.waitForLog('gateway listening');

    local.child.kill('SIGTERM');
    const code = await local.exited;

    assert.equal(code, 0, 'SIGTERM ends npm start with 0');
    assert.equal(listening.version, VERSION, 'the start-up line has the version');
    assert.deepEqual(
      messages(local).filter((msg) => ['signal received', 'draining', 'stopped'].includes(msg)),
      ['signal received', 'draining', 'stopped'],
      'the shutdown reads in order',
    );
  });
});

/** The `msg` of every JSON line, in order. */
function messages(started: StartedProcess): string[] {
  return (started.lines as { msg?: unknown }[]).flatMap((line) =>
    typeof line.msg === 'string' ? [line.msg] : [],
  );
}

/**
 * How to make a listen fail for lack of privilege here: a port below the unprivileged range,
 * and, when the tests run as root, `setpriv` to drop the capability to bind it. A string says
 * why it cannot be done on this machine.
 */
function privilegedPortSetup(): { port: number; runWith: string[] } | string {
  const rangeFile = '/proc/sys/net/ipv4/ip_unprivileged_port_start';
  const firstUnprivileged = existsSync(rangeFile)
    ? Number(readFileSync(rangeFile, 'utf8').trim())
    : 1024;
  if (firstUnprivileged <= 1) return 'every port is unprivileged on this machine';
  const port = Math.min(80, firstUnprivileged - 1);
  if (process.getuid?.() !== 0) return { port, runWith: [] };
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path));
  if (setpriv === undefined)
    return 'running as root without setpriv (util-linux) to drop the bind privilege';
  return {
    port,
    runWith: [setpriv, '--bounding-set', '-net_bind_service', '--inh-caps', '-net_bind_service'],
  };
}
