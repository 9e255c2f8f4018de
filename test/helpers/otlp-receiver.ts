import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

/** One exported span, flattened out of an OTLP/HTTP JSON export request. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP `SpanKind`: 2 server, 3 client. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  /** OTLP `StatusCode`: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly resource: Readonly<Record<string, string | number | boolean>>;
}

/** A loopback OTLP/HTTP receiver: `POST /v1/traces` with a JSON body. */
export interface OtlpReceiver {
  /** Base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it. */
  readonly url: string;
  /** Export requests received so far, on any path. */
  readonly requestCount: () => number;
  readonly spans: ReceivedSpan[];
}

/** OTLP JSON: `{ key, value: { stringValue | intValue | doubleValue | boolValue } }`. */
interface OtlpKeyValue {
  readonly key: string;
  readonly value: {
    readonly stringValue?: string;
    readonly intValue?: number | string;
    readonly doubleValue?: number;
    readonly boolValue?: boolean;
  };
}

interface OtlpExport {
  readonly resourceSpans?: {
    readonly resource?: { readonly attributes?: OtlpKeyValue[] };
    readonly scopeSpans?: {
      readonly spans?: {
        readonly traceId: string;
        readonly spanId: string;
        readonly parentSpanId?: string;
        readonly name: string;
        readonly kind: number;
        readonly attributes?: OtlpKeyValue[];
        readonly status?: { readonly code?: number };
      }[];
    }[];
  }[];
}

function attributesOf(
  list: readonly OtlpKeyValue[] = [],
): Record<string, string | number | boolean> {
  const attributes: Record<string, string | number | boolean> = {};
  for (const { key, value } of list) {
    const { stringValue, intValue, doubleValue, boolValue } = value;
    const plain =
      stringValue ??
      (intValue === undefined ? undefined : Number(intValue)) ??
      doubleValue ??
      boolValue;
    if (plain !== undefined) attributes[key] = plain;
  }
  return attributes;
}

/**
 * Starts an OTLP/HTTP receiver on 127.0.0.1:0 that answers every export 200 and keeps its spans;
 * closed when test `t` ends. With `hang`, it never answers (a collector that is gone).
 */
export async function startOtlpReceiver(
  t: TestContext,
  options: { readonly hang?: boolean } = {},
): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  let requestCount = 0;
  const server = createServer((req, res) => {
    requestCount += 1;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (options.hang) return;
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport;
      for (const resourceSpans of body.resourceSpans ?? []) {
        const resource = attributesOf(resourceSpans.resource?.attributes);
        for (const span of (resourceSpans.scopeSpans ?? []).flatMap((scope) => scope.spans ?? [])) {
          spans.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId ?? '',
            name: span.name,
            kind: span.kind,
            attributes: attributesOf(span.attributes),
            statusCode: span.status?.code ?? 0,
            resource,
          });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requestCount: () => requestCount, spans };
}
