import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

/** A process started by a test, with its JSON log lines collected. */
export interface StartedProcess {
  readonly child: ChildProcess;
  /** Every stdout line so far, parsed when it was JSON. */
  readonly lines: unknown[];
  /** Resolves with the first log line whose `msg` is `message`. */
  waitForLog(message: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Ends the process (by its PID) if it still runs. */
  kill(): void;
}

/**
 * Spawns `node args…` in `cwd` with `env` and follows its pino output. `runWith` is a command
 * that runs node in turn, e.g. `['setpriv', '--bounding-set', '-net_bind_service']`.
 */
export function startNode(
  args: readonly string[],
  options: {
    cwd: string;
    env: Record<string, string | undefined>;
    runWith?: readonly string[];
  },
): StartedProcess {
  const [command = process.execPath, ...commandArgs] = [
    ...(options.runWith ?? []),
    process.execPath,
    ...args,
  ];
  const child = spawn(command, commandArgs, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: unknown[] = [];
  const waiters: { message: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: unknown = text;
    try {
      line = JSON.parse(text);
    } catch {
      // not a log line; keep the text
    }
    lines.push(line);
    const msg = (line as { msg?: unknown } | undefined)?.msg;
    for (const waiter of waiters.filter((w) => w.message === msg)) {
      waiter.resolve(line as Record<string, unknown>);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    child,
    lines,
    exited,
    stderr: () => stderr,
    waitForLog(message, timeoutMs = 20_000) {
      const seen = lines.find((line) => (line as { msg?: unknown } | undefined)?.msg === message);
      if (seen) return Promise.resolve(seen as Record<string, unknown>);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`No '${message}' log line within ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`Process exited (${code}) before '${message}'; stderr: ${stderr}`));
        });
        waiters.push({
          message,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** The repository root: where a gateway process runs `src/server.ts` from. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Fake upstreams as a gateway process needs them: their URLs, and a close for the end. */
interface ProcessUpstreams {
  readonly env: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

/**
 * Starts `src/server.ts` under tsx on a free loopback port against `upstreams`, with only `PATH`
 * of this environment (no `OTEL_*` or other variable of the machine leaks in); ended by its PID
 * and the upstreams closed when test `t` ends.
 */
export function startGatewayProcess(
  t: TestContext,
  upstreams: ProcessUpstreams,
  env: Record<string, string>,
): StartedProcess {
  const gateway = startNode(['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', ...upstreams.env, ...env },
  });
  t.after(async () => {
    gateway.kill();
    await upstreams.close();
  });
  return gateway;
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
