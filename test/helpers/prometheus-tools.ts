import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

/** Where Debian's `prometheus` package puts its binaries, searched after `PATH`. */
const DEBIAN_BIN = '/usr/bin';

/** The path of the executable `name` on `PATH` or in /usr/bin, or undefined. */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), DEBIAN_BIN];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * The path of `name` (`prometheus` or `promtool`, both from Debian's `prometheus` package). When
 * it is missing the test is skipped with a loud line, except under `CI=true`, where CI must have
 * installed it (`.ci/run`) and a missing tool fails the test.
 */
export function requireTool(t: TestContext, name: 'prometheus' | 'promtool'): string | undefined {
  const path = findTool(name);
  if (path) return path;
  assert.notEqual(
    process.env.CI,
    'true',
    `${name} must be installed under CI=true (apt-get install prometheus)`,
  );
  console.log(`SKIPPED: apt-get install prometheus (no ${name} on PATH or in ${DEBIAN_BIN})`);
  t.skip(`${name} is not installed`);
  return undefined;
}

/** What a finished command printed and how it ended. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `file args…` to its end (at most `timeoutMs`), writing `input` to its standard input. */
export function run(
  file: string,
  args: readonly string[],
  options: { readonly input?: string; readonly cwd?: string; readonly timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { cwd: options.cwd, timeout: options.timeoutMs ?? 20_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}
