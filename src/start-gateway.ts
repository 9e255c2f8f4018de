import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { buildApp, createDeps } from './app.js';
import type { Gateway } from './app.js';
import type { Config } from './config.js';

/** API.md §5 rule 8: a request head over 16 KiB gets 431. */
const MAX_HEADER_BYTES = 16_384;

/** How often draining closes connections that have gone idle. */
const IDLE_SWEEP_MS = 50;

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

/** What the entry file set up for the whole process. */
export interface GatewayProcessOptions {
  /** The tracer when tracing is on (`tracing/tracing.ts`). */
  readonly tracer?: Tracer | undefined;
}

/** Builds and starts the gateway for `config`; `server.ts` and `start-local.ts` call it. */
export async function startGateway(
  config: Config,
  logger: Logger,
  options: GatewayProcessOptions = {},
): Promise<RunningGateway> {
  const gateway = buildApp(createDeps(config, logger, { tracer: options.tracer }));
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  logger.info({ port, host: config.listen.host }, 'gateway listening');
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
