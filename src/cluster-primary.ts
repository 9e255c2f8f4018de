import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { constants } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from './config.js';

/**
 * Cluster mode (`WORKERS` > 1, API.md §6 rule 5): the primary forks the workers, each a whole
 * gateway sharing the port through cluster's round robin, replaces one that dies, and stops them
 * all on SIGTERM or SIGINT. It serves nothing itself.
 */

/** How the primary replaces workers that die while it is not stopping. */
export const RESTART_POLICY = {
  /** Delay before the first replacement, doubled for each death that follows soon after. */
  firstDelayMs: 100,
  maxDelayMs: 10_000,
  /** A worker that lived this long before dying resets the delay to `firstDelayMs`. */
  resetAfterMs: 30_000,
  /** Workers in a row that die before listening, after which the primary gives up (exit 1). */
  maxStartFailures: 5,
} as const;

/** What the primary tells a worker: drain as on `signal` (a real second signal still escalates). */
export interface StopMessage {
  readonly type: 'friend-card-gateway:stop';
  readonly signal: NodeJS.Signals;
}

/** What a worker tells the primary when it cannot listen: the one line to print. */
export interface StartFailedMessage {
  readonly type: 'friend-card-gateway:start-failed';
  readonly message: string;
}

/** Whether an IPC message from the primary asks this worker to stop. */
export function isStopMessage(message: unknown): message is StopMessage {
  return (message as { type?: unknown } | null)?.type === 'friend-card-gateway:stop';
}

function isStartFailedMessage(message: unknown): message is StartFailedMessage {
  return (message as { type?: unknown } | null)?.type === 'friend-card-gateway:start-failed';
}

/** The start-failed message of a worker whose listen address cannot be used. */
export function startFailedMessage(message: string): StartFailedMessage {
  return { type: 'friend-card-gateway:start-failed', message };
}

/**
 * The delay before replacing a worker that died after `livedMs`, given the delay used for the
 * previous replacement (undefined: none yet): 100 ms, doubling up to 10 s while workers keep
 * dying young, back to 100 ms after one lived 30 s. Pure.
 */
export function restartDelayMs(previousMs: number | undefined, livedMs: number): number {
  if (previousMs === undefined || livedMs >= RESTART_POLICY.resetAfterMs) {
    return RESTART_POLICY.firstDelayMs;
  }
  return Math.min(previousMs * 2, RESTART_POLICY.maxDelayMs);
}

/** What the primary's start-up line says. */
export interface PrimaryFacts {
  readonly version: string;
  /** Settings given a value other than their default (`nonDefaultSettings`). */
  readonly settings: Readonly<Record<string, string>>;
  /** How long past delay + grace a shutdown may take before the primary exits regardless. */
  readonly hardExitMarginMs: number;
}

/** One forked worker and what the primary knows of it. */
interface WorkerRecord {
  readonly worker: Worker;
  readonly forkedAt: number;
  isListening: boolean;
}

/**
 * Runs the primary of `config.workers` workers until a signal stops them all. Workers run the
 * entry file again (cluster's default `exec`), which sees `cluster.isWorker`.
 */
export function runPrimary(config: Config, logger: Logger, facts: PrimaryFacts): void {
  const { shutdownDelayMs, shutdownGraceMs } = config.server;
  const budgetMs = shutdownDelayMs + shutdownGraceMs;
  const records = new Map<number, WorkerRecord>();
  const restartTimers = new Set<NodeJS.Timeout>();
  let lastDelayMs: number | undefined;
  let startFailures = 0;
  let isStopping = false;
  let exitCode = 0;

  // Round robin in the primary on every platform (Windows would default to the OS's choice).
  cluster.schedulingPolicy = cluster.SCHED_RR;

  const fork = () => {
    const worker = cluster.fork();
    const record: WorkerRecord = { worker, forkedAt: Date.now(), isListening: false };
    records.set(worker.id, record);
    worker.on('listening', () => {
      record.isListening = true;
      startFailures = 0;
    });
    worker.on('message', (message: unknown) => {
      if (isStartFailedMessage(message)) failStart(message.message);
    });
    worker.on('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      // Messages sent before the exit are all read once the IPC channel is closed.
      if (!worker.isConnected()) {
        onExit(record, code, signal);
        return;
      }
      worker.once('disconnect', () => {
        onExit(record, code, signal);
      });
    });
  };

  const finishIfDone = () => {
    if (records.size > 0) return;
    logger.info({ role: 'primary', exitCode }, 'all workers stopped');
    process.exit(exitCode);
  };

  const onExit = (record: WorkerRecord, code: number | null, signal: NodeJS.Signals | null) => {
    records.delete(record.worker.id);
    const pid = record.worker.process.pid;
    if (isStopping) {
      // A worker that never listened had nothing to drain, however it ended.
      if (record.isListening && code !== 0) {
        logger.error({ workerPid: pid, code, signal }, 'worker failed to drain');
        exitCode = 1;
      }
      finishIfDone();
      return;
    }
    const livedMs = Date.now() - record.forkedAt;
    if (!record.isListening) startFailures += 1;
    if (startFailures >= RESTART_POLICY.maxStartFailures) {
      logger.error({ startFailures }, 'workers keep failing at start-up: giving up');
      stopAll('SIGTERM', 1);
      return;
    }
    lastDelayMs = restartDelayMs(lastDelayMs, livedMs);
    logger.warn(
      { workerPid: pid, code, signal, livedMs, restartInMs: lastDelayMs },
      'worker exited unexpectedly',
    );
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      fork();
    }, lastDelayMs);
    restartTimers.add(timer);
  };

  // A listen address that cannot be used fails every worker alike: one line, exit 1, no retries.
  let hasFailedStart = false;
  const failStart = (message: string) => {
    if (hasFailedStart) return;
    hasFailedStart = true;
    process.stderr.write(`${message}\n`);
    for (const { worker } of records.values()) worker.process.kill('SIGKILL');
    process.exit(1);
  };

  /** Stops every worker (each drains as on a signal) and exits with `code` once all are gone. */
  const stopAll = (signal: NodeJS.Signals, code: number) => {
    isStopping = true;
    exitCode = code;
    for (const timer of restartTimers) clearTimeout(timer);
    restartTimers.clear();
    // Each worker has the same budget and margin; this is the last resort should one hang.
    setTimeout(() => {
      logger.error({ budgetMs }, 'shutdown overran: exiting');
      for (const { worker } of records.values()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, budgetMs + facts.hardExitMarginMs).unref();
    for (const record of records.values()) tellToStop(record, signal);
    finishIfDone();
  };

  const stop = (signal: NodeJS.Signals) => {
    if (isStopping) {
      // As in a single process: asked twice means now, 128 + signal number.
      logger.warn({ signal }, 'second signal: exiting at once');
      for (const { worker } of records.values()) worker.process.kill('SIGKILL');
      process.exit(128 + constants.signals[signal]);
    }
    logger.info({ signal, role: 'primary', workers: records.size }, 'signal received');
    stopAll(signal, 0);
  };

  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  if (config.redis.url === undefined) {
    logger.warn(
      { workers: config.workers },
      'WORKERS > 1 without REDIS_URL: profile cache, throttle memory and rate limits are per worker',
    );
  }
  logger.info(
    {
      role: 'primary',
      workers: config.workers,
      version: facts.version,
      node: process.version,
      settings: facts.settings,
    },
    'cluster primary started',
  );
  for (let i = 0; i < config.workers; i += 1) fork();
}

/**
 * A listening worker gets a message rather than the signal: under a terminal's Ctrl-C it has
 * had SIGINT already, and a second real signal would make it exit without draining. A worker
 * still starting may not listen for messages yet; it has no requests either, so the signal does.
 */
function tellToStop(record: WorkerRecord, signal: NodeJS.Signals): void {
  const { worker } = record;
  if (record.isListening && worker.isConnected()) {
    const message: StopMessage = { type: 'friend-card-gateway:stop', signal };
    worker.send(message);
  } else {
    worker.process.kill(signal);
  }
}
