// Child processes of `npm run bench`: started on 127.0.0.1, stdout drained and thrown away once
// the listening line is seen (so the bench pays nothing for logs it does not read, while the
// service still pays for writing them), and stopped by PID, each one only once. A redis-server
// for the replica scenarios gets a free port and a temporary directory, and persists nothing.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/child-process.js';
import { spawnRedis } from '../helpers/redis-server.js';

/** The repository root: where `dist/` and `test/` are. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How much of a service's stderr is kept for error messages. */
const STDERR_TAIL_CHARS = 4000;
/** How long SIGTERM may take before SIGKILL (ms). */
const STOP_GRACE_MS = 5000;

/** A running service: its PID, its loopback URL and a way to stop it. */
export interface Service {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process has exited. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Kills every service still running, at once and synchronously: for exit and signal paths. */
export function killAllNow(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

process.once('exit', killAllNow);

/** Starts `node …args` with exactly `env` (plus PATH) and resolves when it logs `readyMessage`. */
export async function startService(
  name: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  readyMessage: string,
  timeoutMs = 20_000,
): Promise<Service> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = track(child);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
  });

  const port = await new Promise<number>((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => {
      fail(new Error(`${name} did not log '${readyMessage}' within ${timeoutMs} ms`));
    }, timeoutMs);
    function onData(chunk: Buffer): void {
      pending += chunk.toString('utf8');
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        const port = readyPort(line, readyMessage);
        if (port !== undefined) {
          clearTimeout(timer);
          child.stdout.off('data', onData);
          // Keep the pipe flowing so the service never blocks on a full pipe; the data is dropped.
          child.stdout.resume();
          resolve(port);
          return;
        }
        newline = pending.indexOf('\n');
      }
    }
    function fail(error: Error): void {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${error.message}; stderr: ${stderr.trim() || '(empty)'}`));
    }
    child.stdout.on('data', onData);
    child.once('exit', (code, signal) => {
      fail(new Error(`${name} exited (${signal ?? String(code)}) before '${readyMessage}'`));
    });
  });

  return serviceOf(name, child, exited, `http://127.0.0.1:${port}`);
}

/** Counts `child` among the running services until it exits; resolves when it has. */
function track(child: ChildProcess): Promise<void> {
  running.add(child);
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      running.delete(child);
      resolve();
      return;
    }
    child.once('exit', () => {
      running.delete(child);
      resolve();
    });
  });
}

/** The Service of a started `child`: stopped by its PID, once. */
function serviceOf(name: string, child: ChildProcess, exited: Promise<void>, url: string): Service {
  let stopping: Promise<void> | undefined;
  return {
    name,
    pid: child.pid ?? -1,
    url,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/**
 * Starts `redis-server` on a free loopback port with a temporary directory of its own
 * (`--save '' --appendonly no`: nothing is written there); `url` is `redis://127.0.0.1:<port>`.
 * Stopping it ends the process by PID and removes the directory.
 */
export async function startRedis(): Promise<Service> {
  const dir = mkdtempSync(join(tmpdir(), 'fcg-bench-redis-'));
  try {
    const port = await freePort();
    const child = await spawnRedis(port, dir, {});
    const service = serviceOf('redis', child, track(child), `redis://127.0.0.1:${port}`);
    return {
      ...service,
      async stop() {
        await service.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The `port` of a JSON log line whose `msg` is `message`, else undefined. */
function readyPort(line: string, message: string): number | undefined {
  if (!line.includes(message)) return undefined;
  try {
    const parsed = JSON.parse(line) as { msg?: unknown; port?: unknown };
    return parsed.msg === message && typeof parsed.port === 'number' ? parsed.port : undefined;
  } catch {
    return undefined;
  }
}
