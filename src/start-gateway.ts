import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { buildApp, createDeps } from './app.js';
import type { Gateway } from './app.js';
import { withoutUserinfo } from './config.js';
import type { Config } from './config.js';
import { listenFailureMessage } from './settings.js';

/** API.md §5 rule 8: a request head over 16 KiB gets 431. */
const MAX_HEADER_BYTES = 16_384;

/** How often draining closes connections that have gone idle. */
const IDLE_SWEEP_MS = 50;

/** `package.json`, one level above `src/` and `dist/` alike (the image copies it beside them). */
const PACKAGE_JSON_PATH = new URL('../package.json', import.meta.url);

/**
 * The gateway's version from `package.json`; entry files read it once at start. A build run
 * without its `package.json` beside it says `unknown` rather than refusing to start.
 */
export function readVersion(path: URL = PACKAGE_JSON_PATH): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return 'unknown';
  }
  const { version } = JSON.parse(text) as { version?: unknown };
  return typeof version === 'string' ? version : 'unknown';
}

/** What the start-up line says beyond the listen address and the upstreams. */
export interface StartupFacts {
  readonly version: string;
  /** Settings given a value other than their default (`nonDefaultSettings`). */
  readonly settings: Readonly<Record<string, string>>;
  /** The tracer when tracing is on (`tracing/tracing.ts`). */
  readonly tracer?: Tracer | undefined;
}

/** The gateway could not listen; the message is the one line to print ("Cannot listen on …"). */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

/** A listening gateway and the way to stop it. */
export interface RunningGateway {
  readonly server: Server;
  readonly port: number;
  /**
   * Marks the gateway draining at once (`/readyz` 503), keeps accepting for `SHUTDOWN_DELAY_MS`
   * so a load balancer sees it, then stops accepting, waits for in-flight requests up to
   * `SHUTDOWN_GRACE_MS` and closes the pools.
   */
  shutdown(): Promise<void>;
}

/**
 * Builds and starts the gateway for `config`; `server.ts` and `start-local.ts` call it. Logs one
 * start-up line (version, Node, listen address, upstreams, non-default settings); a listen
 * address that cannot be used rejects with a `ListenError`.
 */
export async function startGateway(
  config: Config,
  logger: Logger,
  facts: StartupFacts = { version: 'unknown', settings: {} },
): Promise<RunningGateway> {
  const gateway = buildApp(createDeps(config, logger, { tracer: facts.tracer }));
  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      // Node checks headersTimeout only this often (30 s by default): check at least every second.
      connectionsCheckingInterval: Math.min(1000, config.server.headersTimeoutMs),
    },
    gateway.app,
  );
  server.headersTimeout = config.server.headersTimeoutMs;
  server.requestTimeout = config.server.headersTimeoutMs + config.requests.deadlineMs;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.listen.port, config.listen.host, resolve);
    });
  } catch (error) {
    await gateway.close();
    const message = listenFailureMessage(error, config.listen);
    throw message === undefined ? error : new ListenError(message, { cause: error });
  }
  const { port } = server.address() as AddressInfo;
  const { socialUrl, profileUrl, privacyUrl } = config.upstreams;
  logger.info(
    {
      version: facts.version,
      node: process.version,
      host: config.listen.host,
      port,
      upstreams: {
        social: withoutUserinfo(socialUrl),
        profile: withoutUserinfo(profileUrl),
        privacy: withoutUserinfo(privacyUrl),
      },
      settings: facts.settings,
    },
    'gateway listening',
  );
  return { server, port, shutdown: () => drain(server, gateway, config, logger) };
}

async function drain(server: Server, gateway: Gateway, config: Config, logger: Logger) {
  const { shutdownDelayMs: delayMs, shutdownGraceMs: graceMs } = config.server;
  logger.info({ delayMs, graceMs }, 'draining');
  gateway.startDraining();
  // Balancers poll /readyz and stop routing only once they see 503: until then new connections
  // must still be served, or they fail instead of going to another replica.
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  const closed = new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  // A keep-alive connection goes idle once its last request is answered; close such
  // connections as they appear instead of waiting for the client to hang up.
  server.closeIdleConnections();
  const sweep = setInterval(() => {
    server.closeIdleConnections();
  }, IDLE_SWEEP_MS);
  const grace = new Promise<'timeout'>((resolve) =>
    setTimeout(resolve, graceMs, 'timeout').unref(),
  );
  if ((await Promise.race([closed, grace])) === 'timeout') {
    logger.warn('grace period over: closing remaining connections');
    server.closeAllConnections();
  }
  clearInterval(sweep);
  await gateway.close();
  logger.info('stopped');
}
