import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import supertest from 'supertest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig, readDefaults, settingsSchema } from '../../src/config.js';
import type { Config } from '../../src/config.js';
import {
  loadSimulatorConfig,
  simulatorSettingsSchema,
} from '../../src/simulator/simulator-config.js';
import { freePort, startNode } from '../helpers/child-process.js';
import { startFakeUpstreams } from '../helpers/fake-upstreams.js';
import { AUTHORIZATION, gatewayFor } from '../helpers/test-app.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GATEWAY_SETTINGS = new Set(Object.keys(settingsSchema.shape));
const SIMULATOR_SETTINGS = new Set(Object.keys(simulatorSettingsSchema.shape));
/** `server.ts` exits on its own this long past SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS. */
const HARD_EXIT_MARGIN_MS = 2000;
/** The gateway's liveness and readiness paths; a probe must use one of them. */
const LIVENESS_PATH = '/healthz';
const READINESS_PATH = '/readyz';

function readText(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

interface HealthCheck {
  readonly test?: readonly string[] | string;
  readonly interval?: string;
  readonly timeout?: string;
  readonly retries?: number;
  readonly start_period?: string;
}

interface ComposeService {
  readonly image?: string;
  readonly build?: unknown;
  readonly command?: readonly string[];
  readonly environment?: Readonly<Record<string, string | number | boolean | null>>;
  readonly ports?: readonly string[];
  readonly volumes?: readonly string[];
  readonly depends_on?: Readonly<Record<string, { readonly condition?: string }>>;
  readonly healthcheck?: HealthCheck;
  readonly restart?: string;
  readonly stop_grace_period?: string;
  readonly read_only?: boolean;
  readonly tmpfs?: readonly string[];
  readonly cap_drop?: readonly string[];
  readonly security_opt?: readonly string[];
}

const compose = parse(readText('docker-compose.yml'), { merge: true }) as {
  readonly services: Readonly<Record<string, ComposeService>>;
};
const services = Object.entries(compose.services);
const gatewayServices = services.filter(([name]) => /^gateway-\d+$/.test(name));
const nginxConf = readText('deploy/nginx/nginx.conf');

/** A compose environment as the process sees it: every value a string. */
function environmentOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([name, value]) => [name, String(value)]),
  );
}

/** A compose duration (`15s`, `1m30s`, `500ms`) in milliseconds. */
function composeDurationMs(text: string): number {
  const units: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  const rest = text.replace(
    /(\d+(?:\.\d+)?)(ms|h|m|s)/g,
    (_match, amount: string, unit: string) => {
      total += Number(amount) * (units[unit] ?? Number.NaN);
      return '';
    },
  );
  assert.equal(rest, '', `'${text}' is a compose duration`);
  return total;
}

/** The loopback port and path a health-check command fetches. */
function healthCheckTarget(check: HealthCheck | undefined): { port: number; path: string } {
  const command = Array.isArray(check?.test) ? check.test.join(' ') : String(check?.test);
  const match = /http:\/\/127\.0\.0\.1:(\d+)(\/[\w-]*)/.exec(command);
  assert.ok(match, `the health check '${command}' fetches a loopback URL`);
  return { port: Number(match[1]), path: match[2] ?? '' };
}

/** Asserts that `env` names only real settings and parses under the schema; returns the config. */
function gatewayConfigFrom(env: Record<string, string>, where: string): Config {
  for (const name of Object.keys(env)) {
    assert.ok(GATEWAY_SETTINGS.has(name), `${where}: ${name} is a setting of the gateway`);
  }
  return loadConfig(env);
}

/** Starts a gateway in-process and asks it for `path`: the probe's endpoint must answer 200. */
async function assertEndpointAnswers(t: TestContext, path: string): Promise<void> {
  const gateway = await gatewayFor(t);
  const response = await supertest(gateway.app).get(path);
  assert.equal(response.status, 200, `${path} exists and answers 200 on a healthy gateway`);
}

describe('docker-compose.yml', () => {
  test('when parsed, it runs the simulator, Redis, three gateway replicas and nginx', () => {
    const names = services.map(([name]) => name).sort();

    assert.deepEqual(
      names,
      ['gateway-1', 'gateway-2', 'gateway-3', 'nginx', 'redis', 'simulator'],
      'exactly these services',
    );
  });

  test('when the replicas share Redis, each has the same REDIS_URL, naming the redis service and its port', () => {
    const redis = compose.services.redis!;
    const command = redis.command ?? [];
    const portFlag = command.indexOf('--port');
    const redisPort = portFlag >= 0 ? Number(command[portFlag + 1]) : 6379;

    const urls = gatewayServices.map(([, service]) => loadConfig(environmentOf(service)).redis.url);

    assert.equal(new Set(urls).size, 1, 'every replica has the same REDIS_URL');
    const url = new URL(urls[0] ?? 'redis://unset');
    assert.equal(url.hostname, 'redis', 'its host is the redis service');
    assert.equal(Number(url.port || 6379), redisPort, 'its port is the one Redis listens on');
    assert.match(
      redis.image ?? '',
      /^redis:\d+(\.\d+)*-alpine$/,
      'the official image, pinned major',
    );
    assert.equal(command[0], 'redis-server', 'it runs the server');
    const flag = (name: string) => command[command.indexOf(name) + 1];
    assert.ok(command.includes('--save') && flag('--save') === '', 'no snapshots');
    assert.equal(flag('--appendonly'), 'no', 'no append-only file');
    assert.deepEqual(
      redis.healthcheck?.test,
      ['CMD', 'redis-cli', '-p', String(redisPort), 'ping'],
      'the health check pings the port it listens on',
    );
    for (const [name, service] of gatewayServices) {
      assert.equal(
        service.depends_on?.redis?.condition,
        'service_healthy',
        `${name} waits for Redis to be healthy`,
      );
      assert.equal(loadConfig(environmentOf(service)).workers, 1, `${name} runs one process`);
    }
  });

  test('when a gateway replica is configured, every variable is a gateway setting and parses', () => {
    for (const [name, service] of gatewayServices) {
      const config = gatewayConfigFrom(environmentOf(service), name);

      assert.equal(config.listen.host, '0.0.0.0', `${name} listens on every interface`);
      for (const url of [
        config.upstreams.socialUrl,
        config.upstreams.profileUrl,
        config.upstreams.privacyUrl,
      ]) {
        const simulatorPort = loadSimulatorConfig(environmentOf(compose.services.simulator!)).listen
          .port;
        assert.equal(url, `http://simulator:${simulatorPort}`, `${name} calls the simulator`);
      }
    }
  });

  test('when the simulator is configured, every variable is a simulator setting and parses', () => {
    const env = environmentOf(compose.services.simulator!);

    const config = loadSimulatorConfig(env);

    for (const name of Object.keys(env)) {
      assert.ok(SIMULATOR_SETTINGS.has(name), `simulator: ${name} is a simulator setting`);
    }
    assert.deepEqual(
      compose.services.simulator?.command,
      ['node', 'dist/simulator.js'],
      'the simulator runs the built simulator entry',
    );
    assert.equal(
      healthCheckTarget(compose.services.simulator.healthcheck).port,
      config.listen.port,
      "the simulator's health check hits its PORT",
    );
  });

  test('when a gateway health check runs, it fetches /healthz on the replica PORT', async (t) => {
    for (const [name, service] of gatewayServices) {
      const { port } = loadConfig(environmentOf(service)).listen;

      const target = healthCheckTarget(service.healthcheck);

      assert.equal(target.port, port, `${name}'s health check hits its PORT`);
      assert.equal(target.path, LIVENESS_PATH, `${name}'s health check is the liveness endpoint`);
    }
    await assertEndpointAnswers(t, LIVENESS_PATH);
  });

  test('when a gateway replica is stopped, stop_grace_period outlasts delay, grace and margin', () => {
    for (const [name, service] of gatewayServices) {
      const { shutdownDelayMs, shutdownGraceMs } = loadConfig(environmentOf(service)).server;

      const graceMs = composeDurationMs(service.stop_grace_period ?? '10s');

      assert.ok(
        graceMs >= shutdownDelayMs + shutdownGraceMs + HARD_EXIT_MARGIN_MS,
        `${name}: stop_grace_period ${graceMs} ms >= SHUTDOWN_DELAY_MS ${shutdownDelayMs} + SHUTDOWN_GRACE_MS ${shutdownGraceMs} + ${HARD_EXIT_MARGIN_MS}`,
      );
    }
  });

  test('when any service runs, it has a health check, a restart policy and a read-only root', () => {
    for (const [name, service] of services) {
      const check = service.healthcheck;

      assert.ok(check?.test, `${name} has a health check`);
      for (const field of ['interval', 'timeout', 'start_period'] as const) {
        assert.ok(check[field] !== undefined, `${name}'s health check sets ${field}`);
        composeDurationMs(check[field]);
      }
      assert.ok((check.retries ?? 0) >= 1, `${name}'s health check sets retries`);
      assert.ok(
        ['always', 'unless-stopped', 'on-failure'].includes(service.restart ?? 'no'),
        `${name} is restarted when it dies`,
      );
      assert.ok(service.stop_grace_period, `${name} sets stop_grace_period`);
      assert.equal(service.read_only, true, `${name} runs on a read-only root filesystem`);
      assert.ok(
        service.tmpfs?.some((mount) => mount.split(':')[0] === '/tmp'),
        `${name} gets a tmpfs /tmp`,
      );
      assert.ok(service.cap_drop?.includes('ALL'), `${name} drops every capability first`);
      assert.ok(
        service.security_opt?.includes('no-new-privileges:true'),
        `${name} cannot gain privileges`,
      );
      for (const value of Object.values(environmentOf(service))) {
        assert.doesNotMatch(value, /XBL3\.0/i, `${name} carries no credential`);
      }
    }
  });

  test('when nginx starts, it waits for healthy gateways and balances over exactly them', () => {
    const nginx = compose.services.nginx!;
    const upstreamServers = [...nginxConf.matchAll(/^\s*server\s+([\w.-]+):(\d+)\b/gm)].map(
      (match) => `${match[1] ?? ''}:${match[2] ?? ''}`,
    );
    const listenPort = /^\s*listen\s+(\d+)\s*;/m.exec(nginxConf)?.[1];

    assert.deepEqual(
      upstreamServers,
      gatewayServices.map(
        ([name, service]) => `${name}:${loadConfig(environmentOf(service)).listen.port}`,
      ),
      'the nginx upstream lists every gateway replica on its PORT',
    );
    for (const [name] of gatewayServices) {
      assert.equal(
        nginx.depends_on?.[name]?.condition,
        'service_healthy',
        `nginx waits for ${name} to be healthy`,
      );
    }
    assert.deepEqual(nginx.ports, [`8080:${listenPort ?? ''}`], 'nginx publishes its listen port');
    assert.ok(
      nginx.volumes?.includes('./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro'),
      'nginx runs the repository config, read-only',
    );
    assert.equal(
      healthCheckTarget(nginx.healthcheck).port,
      Number(listenPort),
      "nginx's health check hits its listen port",
    );
    assert.match(
      nginxConf,
      new RegExp(`location = ${healthCheckTarget(nginx.healthcheck).path} \\{`),
      "nginx's health check path is one nginx answers itself",
    );
  });

  test('when nginx retries, it retries connection errors only, never timeouts or 5xx', () => {
    const directives = [...nginxConf.matchAll(/^\s*proxy_next_upstream\s+([^;]+);/gm)].map(
      (match) => match[1]?.trim(),
    );

    assert.deepEqual(directives, ['error'], 'proxy_next_upstream is `error` alone');
    assert.match(nginxConf, /max_fails=\d+ fail_timeout=\d+s/, 'passive health is on');
    assert.match(nginxConf, /^\s*keepalive \d+;/m, 'connections to the replicas are kept alive');
    assert.match(nginxConf, /proxy_set_header X-Request-Id /, 'the request id is passed on');
  });
});

describe('deploy/kubernetes', () => {
  interface Manifest {
    readonly kind: string;
    readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
    readonly data?: Readonly<Record<string, string>>;
    readonly spec?: Record<string, unknown>;
  }
  interface Probe {
    readonly httpGet?: { readonly path?: string; readonly port?: string | number };
  }
  interface Container {
    readonly name: string;
    readonly image: string;
    readonly ports?: readonly { name?: string; containerPort: number }[];
    readonly env?: readonly { name: string; value?: string }[];
    readonly envFrom?: readonly { configMapRef?: { name: string } }[];
    readonly resources?: {
      requests?: { cpu?: string; memory?: string };
      limits?: { cpu?: string; memory?: string };
    };
    readonly startupProbe?: Probe;
    readonly livenessProbe?: Probe;
    readonly readinessProbe?: Probe;
    readonly lifecycle?: {
      preStop?: { exec?: { command?: readonly string[] }; sleep?: { seconds?: number } };
    };
    readonly securityContext?: {
      allowPrivilegeEscalation?: boolean;
      readOnlyRootFilesystem?: boolean;
      capabilities?: { drop?: readonly string[] };
    };
    readonly volumeMounts?: readonly { name: string; mountPath: string }[];
  }
  interface PodSpec {
    readonly terminationGracePeriodSeconds?: number;
    readonly securityContext?: {
      runAsNonRoot?: boolean;
      runAsUser?: number;
      seccompProfile?: { type?: string };
    };
    readonly containers: readonly Container[];
    readonly volumes?: readonly { name: string; emptyDir?: unknown }[];
  }

  const kustomization = parse(readText('deploy/kubernetes/kustomization.yaml')) as {
    readonly resources: readonly string[];
    readonly images?: readonly { name: string }[];
  };
  const manifests = kustomization.resources.flatMap((file) =>
    parseAllDocuments(readText(join('deploy/kubernetes', file))).map(
      (document) => document.toJS() as Manifest,
    ),
  );
  function only(kind: string): Manifest {
    const found = manifests.filter((manifest) => manifest.kind === kind);
    assert.equal(found.length, 1, `the kustomization holds one ${kind}`);
    return found[0]!;
  }
  const deployment = only('Deployment');
  const configMap = only('ConfigMap');
  const deploymentSpec = deployment.spec as {
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
  const podLabels = deploymentSpec.template.metadata.labels;
  const pod = deploymentSpec.template.spec;
  const gateway = pod.containers.find((container) => container.name === 'gateway')!;
  const config = (): Config => {
    const fromEnv = Object.fromEntries((gateway.env ?? []).map((e) => [e.name, e.value ?? '']));
    return gatewayConfigFrom({ ...configMap.data, ...fromEnv }, 'deployment');
  };
  /** A probe's or Service's port, by name or number, as the container port it means. */
  function containerPort(port: string | number | undefined): number | undefined {
    if (typeof port === 'number') return port;
    return gateway.ports?.find((p) => p.name === port)?.containerPort;
  }
  function selects(selector: Record<string, string>): boolean {
    return Object.entries(selector).every(([key, value]) => podLabels[key] === value);
  }

  test('when the kustomization is read, every resource file exists and holds a known kind', () => {
    const kinds = manifests.map((manifest) => manifest.kind).sort();

    assert.deepEqual(
      kinds,
      ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service'],
      'one of each kind',
    );
    assert.deepEqual(
      kustomization.images?.map((image) => image.name),
      [gateway.image],
      "the kustomization's image entry names the container's image",
    );
  });

  test('when the pod starts, its environment names only gateway settings and parses', () => {
    const refs = gateway.envFrom?.map((source) => source.configMapRef?.name);

    const parsed = config();

    assert.deepEqual(refs, [configMap.metadata.name], 'the environment comes from the ConfigMap');
    assert.equal(parsed.listen.host, '0.0.0.0', 'the gateway listens on the pod IP');
    assert.equal(parsed.workers, 1, 'one process per pod');
  });

  test('when REDIS_URL is uncommented in the ConfigMap, it parses as the shared Redis', () => {
    const text = readText('deploy/kubernetes/configmap.yaml');
    const commented = /^\s*#\s*REDIS_URL:\s*(\S+)\s*$/m.exec(text)?.[1];

    const parsed = loadConfig({ ...configMap.data, REDIS_URL: commented ?? '' });

    assert.ok(commented, 'the ConfigMap shows REDIS_URL, commented out (optional)');
    assert.equal(configMap.data?.REDIS_URL, undefined, 'it is off unless an operator sets it');
    assert.equal(parsed.redis.url, commented, 'the example is a valid REDIS_URL');
  });

  test('when probes and the Service reach the pod, they use the container port of PORT', async (t) => {
    const port = config().listen.port;
    const service = only('Service').spec as {
      selector: Record<string, string>;
      ports: readonly { targetPort: string | number }[];
    };

    assert.deepEqual(
      gateway.ports?.map((p) => p.containerPort),
      [port],
      'the container port is the PORT setting',
    );
    assert.ok(selects(deploymentSpec.selector.matchLabels), 'the Deployment selects its pods');
    assert.ok(selects(service.selector), 'the Service selects the gateway pods');
    for (const { targetPort } of service.ports) {
      assert.equal(containerPort(targetPort), port, 'the Service targets the container port');
    }
    const probes = [
      ['startupProbe', LIVENESS_PATH],
      ['livenessProbe', LIVENESS_PATH],
      ['readinessProbe', READINESS_PATH],
    ] as const;
    for (const [probe, path] of probes) {
      const httpGet = gateway[probe]?.httpGet;
      assert.equal(httpGet?.path, path, `the ${probe} asks ${path}`);
      assert.equal(containerPort(httpGet.port), port, `the ${probe} asks the gateway's port`);
    }
    await assertEndpointAnswers(t, LIVENESS_PATH);
    await assertEndpointAnswers(t, READINESS_PATH);
  });

  test('when a pod is terminated, the grace period covers preStop, delay, drain and margin', () => {
    const { shutdownDelayMs, shutdownGraceMs } = config().server;
    const preStop = gateway.lifecycle?.preStop;
    const command = preStop?.exec?.command;
    const preStopSeconds =
      preStop?.sleep?.seconds ?? (command?.[0] === 'sleep' ? Number(command[1]) : Number.NaN);

    const graceSeconds = pod.terminationGracePeriodSeconds ?? 30;

    assert.ok(preStopSeconds > 0, 'preStop sleeps while the pod leaves the endpoints');
    assert.ok(
      graceSeconds * 1000 >=
        preStopSeconds * 1000 + shutdownDelayMs + shutdownGraceMs + HARD_EXIT_MARGIN_MS,
      `terminationGracePeriodSeconds ${graceSeconds} s >= preStop ${preStopSeconds} s + SHUTDOWN_DELAY_MS ${shutdownDelayMs} + SHUTDOWN_GRACE_MS ${shutdownGraceMs} + ${HARD_EXIT_MARGIN_MS} ms`,
    );
  });

  test('when the pod runs, it is non-root, read-only, unprivileged and bounded', () => {
    const container = gateway.securityContext;
    const tmp = gateway.volumeMounts?.find((mount) => mount.mountPath === '/tmp');

    assert.equal(pod.securityContext?.runAsNonRoot, true, 'runAsNonRoot');
    assert.ok((pod.securityContext.runAsUser ?? 0) > 0, 'a numeric non-root runAsUser');
    assert.equal(pod.securityContext.seccompProfile?.type, 'RuntimeDefault', 'seccomp default');
    assert.equal(container?.allowPrivilegeEscalation, false, 'no privilege escalation');
    assert.equal(container.readOnlyRootFilesystem, true, 'read-only root filesystem');
    assert.deepEqual(container.capabilities?.drop, ['ALL'], 'every capability dropped');
    assert.ok(
      pod.volumes?.some((volume) => volume.name === tmp?.name && volume.emptyDir !== undefined),
      '/tmp is a writable emptyDir',
    );
    for (const kind of ['requests', 'limits'] as const) {
      assert.ok(gateway.resources?.[kind]?.cpu, `cpu ${kind} set`);
      assert.ok(gateway.resources[kind].memory, `memory ${kind} set`);
    }
  });

  test('when disruptions and load come, the PDB and HPA act on the gateway pods', () => {
    const pdb = only('PodDisruptionBudget').spec as {
      selector: { matchLabels: Record<string, string> };
      maxUnavailable?: number;
      minAvailable?: number;
    };
    const hpa = only('HorizontalPodAutoscaler').spec as {
      scaleTargetRef: { kind: string; name: string };
      minReplicas: number;
      maxReplicas: number;
      metrics: readonly { type: string; resource?: { name: string } }[];
    };

    assert.ok(selects(pdb.selector.matchLabels), 'the PDB selects the gateway pods');
    assert.ok(
      pdb.maxUnavailable !== undefined || pdb.minAvailable !== undefined,
      'the PDB bounds disruptions',
    );
    assert.deepEqual(
      hpa.scaleTargetRef,
      { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name },
      'the HPA scales the Deployment',
    );
    assert.ok(hpa.minReplicas >= 2 && hpa.maxReplicas >= hpa.minReplicas, 'sane replica bounds');
    assert.ok(
      hpa.metrics.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu'),
      'the HPA scales on CPU',
    );
  });
});

describe('Dockerfile', () => {
  const dockerfile = readText('Dockerfile');

  test('when the image runs, it is non-root and exposes the default PORT', () => {
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((match) => match[1]);
    const exposed = /^EXPOSE\s+(\d+)/m.exec(dockerfile)?.[1];

    assert.equal(users.at(-1), 'node', 'the runtime stage runs as the node user');
    assert.equal(exposed, readDefaults().PORT, 'EXPOSE is the default PORT');
    assert.match(dockerfile, /HEALTHCHECK[\s\S]*\/healthz/, 'the image health check is /healthz');
  });
});

/** `nginx` on PATH or in /usr/sbin (Debian's place, often off a non-root PATH). */
function findNginx(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((dir) => join(dir, 'nginx')).find((path) => existsSync(path));
}

/**
 * Writes a runnable copy of deploy/nginx/nginx.conf into `dir`. Compose service names do not
 * resolve outside compose, so each `gateway-N:8080` becomes `127.0.0.1:<ports[N-1]>`; the
 * listen port becomes `127.0.0.1:<listenPort>`, the pid file and temporary paths move from /tmp
 * into `dir` (no clash with other nginx runs), and one worker makes round robin deterministic.
 */
function writeNginxCopy(dir: string, listenPort: number, gatewayPorts: readonly number[]): string {
  const copy = nginxConf
    .replace(/gateway-(\d+):8080/g, (_match, n: string) => {
      return `127.0.0.1:${gatewayPorts[Number(n) - 1] ?? 8080}`;
    })
    .replace(/^(\s*)listen\s+\d+\s*;/m, `$1listen 127.0.0.1:${listenPort};`)
    .replace(/^worker_processes\s+\S+;/m, 'worker_processes 1;')
    .replaceAll('/tmp/', `${dir}/`);
  const path = join(dir, 'nginx.conf');
  writeFileSync(path, copy);
  return path;
}

/** Finds nginx, or skips loudly (fails under CI=true, where a missing tool is a failure). */
function nginxOrSkip(t: TestContext): string | undefined {
  const nginx = findNginx();
  if (nginx !== undefined) return nginx;
  assert.notEqual(process.env.CI, 'true', 'nginx is installed in CI (apt-get install nginx)');
  console.log('SKIPPED: apt-get install nginx (nginx not found: deploy/nginx/nginx.conf untested)');
  t.skip('nginx is not installed');
  return undefined;
}

/**
 * Runs nginx with its standard output going to `stdoutPath`: the config logs to /dev/stdout,
 * which nginx opens anew, and that works on a file or a pipe (as under Docker) but not on the
 * socket a Node child process gets for a piped stdout.
 */
function spawnNginx(nginx: string, args: readonly string[], stdoutPath: string): ChildProcess {
  const stdout = openSync(stdoutPath, 'a');
  try {
    return spawn(nginx, args, { stdio: ['ignore', stdout, 'pipe'] });
  } finally {
    closeSync(stdout);
  }
}

/** Runs nginx to its end; resolves with its exit code and standard error. */
function runNginx(
  nginx: string,
  args: readonly string[],
  stdoutPath: string,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawnNginx(nginx, args, stdoutPath);
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', (code) => {
      resolve({ code: code ?? -1, output });
    });
  });
}

/** The access log lines nginx has written to `path` so far. */
function accessLogLines(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('deploy/nginx/nginx.conf', { timeout: 60_000 }, () => {
  test('when nginx -t checks it, with gateway names mapped to 127.0.0.1, it is valid', async (t) => {
    const nginx = nginxOrSkip(t);
    if (nginx === undefined) return;
    const dir = mkdtempSync(join(tmpdir(), 'friend-card-nginx-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const conf = writeNginxCopy(dir, 8080, [8080, 8080, 8080]);

    const { code, output } = await runNginx(
      nginx,
      ['-t', '-c', conf, '-p', `${dir}/`, '-e', 'stderr'],
      join(dir, 'stdout.log'),
    );

    assert.equal(code, 0, `nginx -t accepts the config: ${output}`);
    assert.match(output, /test is successful/, 'nginx reports the test successful');
  });

  test('when nginx runs in front of two gateway processes, both answer and a refused replica is skipped', async (t) => {
    const nginx = nginxOrSkip(t);
    if (nginx === undefined) return;
    const dir = mkdtempSync(join(tmpdir(), 'friend-card-nginx-'));
    const upstreams = await startFakeUpstreams();
    const gateways = [0, 1].map(() =>
      startNode(['--import', 'tsx', 'src/server.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', ...upstreams.env },
      }),
    );
    t.after(async () => {
      for (const gateway of gateways) gateway.kill();
      await upstreams.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const ports = await Promise.all(
      gateways.map(async (g) => Number((await g.waitForLog('gateway listening')).port)),
    );
    // The third replica's address refuses connections: nginx must move on to another.
    const refusedPort = await freePort();
    const listenPort = await freePort();
    const conf = writeNginxCopy(dir, listenPort, [...ports, refusedPort]);
    const logPath = join(dir, 'stdout.log');
    const balancer = spawnNginx(
      nginx,
      ['-c', conf, '-p', `${dir}/`, '-e', 'stderr', '-g', 'daemon off;'],
      logPath,
    );
    t.after(async () => {
      // Its master's PID: SIGTERM makes the master stop its workers and exit.
      if (balancer.exitCode !== null) return;
      const exited = new Promise((resolve) => balancer.once('exit', resolve));
      balancer.kill('SIGTERM');
      await exited;
    });
    const base = `http://127.0.0.1:${listenPort}`;
    await waitForAnswer(`${base}/lb-healthz`);

    const answers = [];
    for (let i = 0; i < 6; i += 1) {
      const response = await fetch(`${base}/friends-with-profiles?xuids=2533274791381930`, {
        headers: { Authorization: AUTHORIZATION, 'X-Request-Id': `through-nginx-${i}` },
      });
      answers.push({ status: response.status, requestId: response.headers.get('x-request-id') });
      await response.arrayBuffer();
    }
    const cardLines = await cardLinesOf(logPath, answers.length);
    const answeredBy = new Set(cardLines.map((line) => String(line.upstream).split(', ').at(-1)));
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200, 200, 200],
      'every request through nginx is answered 200',
    );
    assert.deepEqual(
      answers.map((a) => a.requestId),
      answers.map((_a, i) => `through-nginx-${i}`),
      "the client's X-Request-Id reaches the gateway and comes back",
    );
    assert.deepEqual(
      [...answeredBy].sort(),
      ports.map((port) => `127.0.0.1:${port}`).sort(),
      'both gateway replicas answered',
    );
    assert.ok(
      cardLines.some((line) => String(line.upstream).startsWith(`127.0.0.1:${refusedPort}, `)),
      'a request sent to the refusing replica was retried on another one',
    );
    assert.ok(
      cardLines.every((line) => line.requestId === line.gatewayRequestId),
      'the access log shows the same request id as the gateway answered with',
    );
  });
});

/** Waits (at most 5 s) for `count` card request lines in the access log at `path`. */
async function cardLinesOf(path: string, count: number): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = accessLogLines(path).filter((line) => String(line.uri).startsWith('/friends'));
    if (lines.length >= count || Date.now() > deadline) return lines;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Polls `url` until it answers 200 (nginx is up), for at most 10 s. */
async function waitForAnswer(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const status = await fetch(url).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    assert.ok(Date.now() < deadline, `${url} answers within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
