import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createClient } from '@redis/client';
import { freePort } from './child-process.js';

/** The line printed when the suite skips Redis tests; under `CI=true` they fail instead. */
const SKIP_REASON = 'apt-get install redis-server';

/** How long a start may take before the test fails. */
const START_TIMEOUT_MS = 10_000;

/** A real `redis-server` on a loopback port, owned by one test. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Its PID while it runs. */
  pid(): number | undefined;
  /** Stops the process (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Lets a paused process go on (SIGCONT). */
  resume(): void;
  /** Kills the process (SIGKILL) and waits for it to exit: connections drop. */
  kill(): Promise<void>;
  /** Starts a new process on the same port and directory, empty, and waits until it is ready. */
  restart(): Promise<void>;
  /** Every key with its value and remaining time to live (ms), read on a connection of its own. */
  dump(): Promise<Map<string, { readonly value: string; readonly pttlMs: number }>>;
  /** How many client connections Redis has, not counting the one that asks. */
  connectedClients(): Promise<number>;
  /** Writes raw values under `keys`, as a foreign writer or corruption would. */
  write(values: ReadonlyMap<string, string>): Promise<void>;
}

/** Whether `redis-server` can be run here. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * The `skip` option for a suite that needs `redis-server`: false when it is installed or under
 * `CI=true` (where a missing binary must fail the run); otherwise prints one loud line and
 * returns the reason.
 */
export function redisServerSkip(): string | false {
  if (hasRedisServer() || process.env.CI === 'true') return false;
  process.stdout.write(`SKIPPED: ${SKIP_REASON}\n`);
  return SKIP_REASON;
}

/** Options of `startRedisServer`. */
export interface RedisServerOptions {
  /** Makes the server require this password (`requirepass`); `url` then carries it. */
  readonly password?: string;
}

/** Spawns `redis-server` on `port` and resolves once it accepts connections. */
export function spawnRedis(
  port: number,
  dir: string,
  options: RedisServerOptions,
): Promise<ChildProcess> {
  // Nothing persisted: no RDB snapshots, no append-only file, its own directory.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.password !== undefined) args.push('--requirepass', options.password);
  const child = spawn('redis-server', [...args, '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Cannot start redis-server: not ready within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`Cannot start redis-server: ${SKIP_REASON}`, { cause: error }));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Cannot start redis-server: it exited (${code}): ${output}`));
    });
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve(child);
      }
    });
    child.stderr.resume();
  });
}

/** A plain client for the test's own look at Redis: no reconnects, no timeouts. */
function createAdminClient(url: string) {
  return createClient({ url, socket: { reconnectStrategy: false } });
}

type AdminClient = ReturnType<typeof createAdminClient>;

/** Starts a `redis-server` for test `t` and stops it (by its PID) when `t` ends. */
export async function startRedisServer(
  t: TestContext,
  options: RedisServerOptions = {},
): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'fcg-redis-'));
  const port = await freePort();
  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
  const url = `redis://${auth}127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const signal = (name: NodeJS.Signals) => {
    if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, name);
  };
  async function kill(): Promise<void> {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    if (running.pid !== undefined) process.kill(running.pid, 'SIGKILL');
    await exited;
  }
  async function withClient<T>(use: (client: AdminClient) => Promise<T>) {
    const client = createAdminClient(url);
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await use(client);
    } finally {
      client.destroy();
    }
  }

  t.after(async () => {
    signal('SIGCONT');
    await kill();
    rmSync(dir, { recursive: true, force: true });
  });
  child = await spawnRedis(port, dir, options);
  return {
    url,
    port,
    pid: () => child?.pid,
    pause: () => {
      signal('SIGSTOP');
    },
    resume: () => {
      signal('SIGCONT');
    },
    kill,
    async restart() {
      await kill();
      child = await spawnRedis(port, dir, options);
    },
    dump: () =>
      withClient(async (client) => {
        const found = new Map<string, { value: string; pttlMs: number }>();
        for await (const keys of client.scanIterator({ COUNT: 1000 })) {
          for (const key of keys) {
            const [value, pttlMs] = await Promise.all([client.get(key), client.pTTL(key)]);
            if (value !== null) found.set(key, { value, pttlMs });
          }
        }
        return found;
      }),
    connectedClients: () =>
      withClient(async (client) => {
        const info = await client.info('clients');
        const count = /^connected_clients:(\d+)/m.exec(info)?.[1];
        assert.ok(count !== undefined, `INFO clients names connected_clients: ${info}`);
        return Number(count) - 1;
      }),
    write: (values) =>
      withClient(async (client) => {
        if (values.size > 0) await client.mSet([...values]);
      }),
  };
}
