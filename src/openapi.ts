import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import {
  AllUpstreamsFailedError,
  MethodNotAllowedError,
  NotFoundError,
  OverloadedError,
  RateLimitedError,
  ThrottledError,
  UpstreamCredentialsRejectedError,
  UriTooLongError,
} from './errors.js';
import type { ErrorCode, GatewayError } from './errors.js';
import {
  friendCardSchema,
  friendCardsResultSchema,
  partErrorSchema,
  relationshipSchema,
} from './friend-cards/friend-card.js';
import type { FriendCardsResult } from './friend-cards/friend-card.js';
import { parseCallerCredentials } from './http/caller-credentials.js';
import {
  PROBLEM_TYPE_PREFIX,
  parameterIssueSchema,
  problemBody,
  problemSchema,
  toGatewayError,
} from './http/problem-details.js';
import { VALID_REQUEST_ID } from './http/request-id.js';
import { createFriendsQuerySchema, parseFriendsQuery } from './routes/friends-query.js';
import type { FriendsQuerySchema } from './routes/friends-query.js';
import { healthSchema, readinessSchema } from './routes/health.js';

/** A JSON value of the document. */
type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** A JSON object of the document. */
type JsonObject = { [key: string]: Json };

/** The OpenAPI 3.1 document of the gateway, as served at `/openapi.json`. */
export interface OpenApiDocument extends JsonObject {
  readonly openapi: string;
}

/** What the document depends on: the settings that shape the contract. */
export interface OpenApiOptions {
  /** Most distinct XUIDs one request may ask for (`MAX_XUIDS_PER_REQUEST`). */
  readonly maxXuids: number;
}

/**
 * The version of this API description (`info.version`), not of the package: the gateway runs
 * from a build that need not carry its package.json. Raise it when the contract changes.
 */
const API_VERSION = '1.0.0';

/** Where schema components live; every `$ref` of the document points here. */
const COMPONENTS = '#/components/schemas/';

/** The schemas shown by name, each converted once with references between them. */
const NAMED_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  FriendCardsResult: friendCardsResultSchema,
  FriendCard: friendCardSchema,
  Relationship: relationshipSchema,
  PartError: partErrorSchema,
  Problem: problemSchema,
  ParameterIssue: parameterIssueSchema,
  Health: healthSchema,
  Readiness: readinessSchema,
};

const EXAMPLE_REQUEST_ID = '6f1c2a9e-3b7d-4e52-9a41-0c8d5e7f2b13';

/** The security scheme of the card route: the caller's Xbox Live token, forwarded verbatim. */
const XBL_SECURITY = 'xbl3';

/**
 * Every problem code with an example of the real error and when it is answered. A new code
 * in `ERROR_CODES` fails the type check here until it is described.
 */
const PROBLEMS: Readonly<Record<ErrorCode, { readonly when: string; readonly example: Example }>> =
  {
    invalid_query: {
      when: 'bad or missing xuids, an unknown setting or permission, too many XUIDs, a repeated or array-shaped parameter; no upstream is called',
      example: (query) =>
        rejectionOf(() =>
          parseFriendsQuery(
            { xuids: '2533274791381930,12a', settings: 'Gamertag,Nickname' },
            query,
          ),
        ),
    },
    bad_request: {
      when: 'a request the gateway cannot read, such as a malformed percent-escape',
      example: () => toGatewayError(Object.assign(new URIError('URI malformed'), { status: 400 })),
    },
    missing_authorization: {
      when: '`Authorization` missing or not `XBL3.0 x=<userhash>;<token>`; no upstream is called',
      example: () => rejectionOf(() => parseCallerCredentials('Bearer eyJhbGciOiJSUzI1NiJ9')),
    },
    upstream_unauthorized: {
      when: "an upstream answered 401 to the caller's token",
      example: () => new UpstreamCredentialsRejectedError(401, 'profile'),
    },
    upstream_forbidden: {
      when: "an upstream answered 403 to the caller's token",
      example: () => new UpstreamCredentialsRejectedError(403, 'privacy'),
    },
    not_found: {
      when: 'an unknown path',
      example: () => new NotFoundError('/friends'),
    },
    method_not_allowed: {
      when: 'a known path asked with another method; Allow lists the right ones',
      example: () => new MethodNotAllowedError('POST', ['GET', 'HEAD']),
    },
    uri_too_long: {
      when: 'a URL over 8 KiB (a request head over 16 KiB gets 431)',
      example: () => new UriTooLongError(8192),
    },
    throttled: {
      when: 'every part failed and the upstreams throttled the caller; Retry-After in whole seconds',
      example: () =>
        new ThrottledError(7, 'Cannot get friend cards: the upstreams throttled this caller'),
    },
    rate_limited: {
      when: 'the caller (by the userhash of Authorization) made more than RATE_LIMIT_PER_CALLER card requests in RATE_LIMIT_WINDOW_MS; Retry-After and RateLimit-* headers; no upstream is called',
      example: () =>
        new RateLimitedError(100, 42, {
          'RateLimit-Limit': '100',
          'RateLimit-Remaining': '0',
          'RateLimit-Reset': '42',
        }),
    },
    internal: {
      when: 'a bug; the request id finds it in the logs',
      example: () => toGatewayError(new Error('unexpected')),
    },
    upstreams_failed: {
      when: 'every upstream part failed (or every circuit is open and the cache cannot serve)',
      example: () => new AllUpstreamsFailedError(['unavailable', 'timeout', 'circuit_open']),
    },
    overloaded: {
      when: 'too many card requests in progress, or the event loop lags; Retry-After; no upstream is called',
      example: () => new OverloadedError('Cannot take the request: 1000 card requests in progress'),
    },
    upstreams_timed_out: {
      when: 'every upstream part timed out',
      example: () => new AllUpstreamsFailedError(['timeout', 'timeout', 'timeout']),
    },
  };

/** Builds the real error a code is answered with, from the query schema in force. */
type Example = (query: FriendsQuerySchema) => GatewayError;

/** The codes `GET /friends-with-profiles` can answer; 404 and 405 are about other requests. */
const CARD_ROUTE_CODES: readonly ErrorCode[] = [
  'invalid_query',
  'bad_request',
  'missing_authorization',
  'upstream_unauthorized',
  'upstream_forbidden',
  'uri_too_long',
  'throttled',
  'rate_limited',
  'internal',
  'upstreams_failed',
  'overloaded',
  'upstreams_timed_out',
];

/** Response headers an error can carry, by the name `GatewayError.headers` uses. */
const ERROR_HEADERS: Readonly<
  Record<string, { description: string; schema: z.ZodType; onlySomeCodes?: true }>
> = {
  'WWW-Authenticate': {
    description: 'The scheme to authenticate with',
    schema: z.literal('XBL3.0'),
  },
  'Retry-After': {
    description: 'Whole seconds to wait before asking again',
    schema: z.int().min(1),
  },
  Allow: {
    description: 'The methods the path serves',
    schema: z.string(),
  },
  'RateLimit-Limit': {
    description:
      'RATE_LIMIT_PER_CALLER: card requests a caller may make per window (rate_limited answers, and every answer while the limit is on)',
    schema: z.int().min(1),
    onlySomeCodes: true,
  },
  'RateLimit-Remaining': {
    description: 'Card requests the caller has left in this window',
    schema: z.int().min(0),
    onlySomeCodes: true,
  },
  'RateLimit-Reset': {
    description: 'Whole seconds until the window ends',
    schema: z.int().min(0),
    onlySomeCodes: true,
  },
};

const REQUEST_ID_HEADER = {
  description:
    "The request's id: the client's X-Request-Id when valid, else a new one; it finds the request in the logs",
  required: true,
  schema: jsonSchemaOf(z.string().regex(VALID_REQUEST_ID)),
};

/** `Cache-Control` as answered: `value` exactly. */
function cacheControlHeader(value: string): JsonObject {
  return {
    description: 'No shared or private cache may keep the answer',
    required: true,
    schema: jsonSchemaOf(z.literal(value)),
  };
}

/** A complete answer: every part answered. */
const COMPLETE_EXAMPLE: FriendCardsResult = {
  cards: [
    {
      xuid: '2533274794720476',
      relationship: {
        inPeopleCollection: true,
        isFavorite: true,
        isFollowingCaller: true,
        socialNetworks: ['LegacyXboxLive'],
      },
      profileStatus: 'ok',
      profile: {
        GameDisplayName: 'LunarRaven60',
        GameDisplayPicRaw: 'https://images-eds-ssl.xboxlive.com/image?url=HQV--KJt',
        Gamerscore: '7447',
        Gamertag: 'LunarRaven60',
      },
      permissions: { ViewTargetProfile: { isAllowed: true } },
    },
    {
      xuid: '2533274791488878',
      relationship: {
        inPeopleCollection: true,
        isFavorite: false,
        isFollowingCaller: false,
        socialNetworks: ['LegacyXboxLive'],
      },
      profileStatus: 'denied',
      profile: null,
      permissions: {
        ViewTargetProfile: {
          isAllowed: false,
          reasons: [{ reason: 'PrivacySettingRestrictsTarget', restrictedSetting: 'ShareProfile' }],
        },
      },
    },
  ],
  partial: false,
  errors: [],
};

/** A partial answer: the social part timed out and the privacy part failed. */
const PARTIAL_EXAMPLE: FriendCardsResult = {
  cards: COMPLETE_EXAMPLE.cards.map((card) => ({
    ...card,
    relationship: null,
    profileStatus: 'unavailable',
    profile: null,
    permissions: null,
  })),
  partial: true,
  errors: [
    { upstream: 'social', code: 'timeout' },
    { upstream: 'privacy', code: 'unavailable', status: 503 },
  ],
};

/**
 * Builds the OpenAPI 3.1 document from the zod schemas the gateway validates and answers with:
 * the query schema in force (every parameter of it, so a new one appears by itself), the card,
 * the problem and the health bodies. Called once at start-up; the result is frozen.
 */
export function buildOpenApiDocument(options: OpenApiOptions): OpenApiDocument {
  const query = createFriendsQuerySchema({ maxXuids: options.maxXuids });
  const examples = exampleErrors(query);
  const cardRouteStatuses = new Set(CARD_ROUTE_CODES.map((code) => examples.get(code)?.status));

  return deepFreeze({
    openapi: '3.1.1',
    info: {
      title: 'Friend-card gateway',
      version: API_VERSION,
      summary:
        'Friend cards of Xbox Live players: relationship, profile and permissions in one call',
      description: infoDescription(examples),
    },
    tags: [
      { name: 'friend cards', description: 'The one call game clients make' },
      { name: 'operations', description: 'Health, readiness and metrics for operators' },
      { name: 'reference', description: 'This document and its rendered page' },
    ],
    paths: {
      '/friends-with-profiles': {
        get: {
          tags: ['friend cards'],
          operationId: 'getFriendsWithProfiles',
          summary: `Friend cards for up to ${options.maxXuids} players`,
          description:
            "Calls the social, profile and privacy services at once and merges their answers per XUID. A profile is shown only when this request's privacy answer allows ViewTargetProfile; an upstream part that fails leaves its members null and makes the answer partial. Query parameters other than these are ignored.",
          security: [{ [XBL_SECURITY]: [] }],
          parameters: [
            ...queryParameters(query),
            {
              name: 'X-Request-Id',
              in: 'header',
              required: false,
              description:
                'Correlation id, used when it is 1-128 characters of A-Z a-z 0-9 . _ : - (else a new one is made)',
              schema: jsonSchemaOf(z.string()),
            },
          ],
          responses: {
            '200': {
              description:
                'One card per requested XUID. Complete, or partial when some upstream part failed (errors names each)',
              headers: {
                'X-Request-Id': REQUEST_ID_HEADER,
                'Cache-Control': cacheControlHeader('private, no-store'),
              },
              content: {
                'application/json': {
                  schema: { $ref: `${COMPONENTS}FriendCardsResult` },
                  examples: {
                    complete: { summary: 'Every part answered', value: asJson(COMPLETE_EXAMPLE) },
                    partial: {
                      summary: 'The social part timed out, the privacy part failed',
                      value: asJson(PARTIAL_EXAMPLE),
                    },
                  },
                },
              },
            },
            ...Object.fromEntries(
              [...cardRouteStatuses]
                .flatMap((status) => (status === undefined ? [] : [status]))
                .sort((a, b) => a - b)
                .map((status) => [String(status), { $ref: responseRef(status) }]),
            ),
          },
        },
      },
      '/healthz': {
        get: {
          tags: ['operations'],
          operationId: 'getHealth',
          summary: 'Liveness',
          description: 'Answers while the process runs; touches no upstream.',
          responses: {
            '200': jsonResponse('Alive', `${COMPONENTS}Health`, { status: 'ok' }),
          },
        },
      },
      '/readyz': {
        get: {
          tags: ['operations'],
          operationId: 'getReadiness',
          summary: 'Readiness',
          description:
            "Whether this replica can serve: each upstream's circuit and the profile cache's size; touches no upstream.",
          responses: {
            '200': jsonResponse('Ready to serve', `${COMPONENTS}Readiness`, {
              status: 'ready',
              upstreams: {
                social: { circuit: 'closed' },
                profile: { circuit: 'half-open' },
                privacy: { circuit: 'closed' },
              },
              cache: { entries: 1200, bytes: 210000 },
            }),
            '503': jsonResponse(
              'Draining after SIGTERM, or every circuit is open and none is due for a probe',
              `${COMPONENTS}Readiness`,
              {
                status: 'draining',
                upstreams: {
                  social: { circuit: 'closed' },
                  profile: { circuit: 'closed' },
                  privacy: { circuit: 'closed' },
                },
                cache: { entries: 1200, bytes: 210000 },
              },
            ),
          },
        },
      },
      '/metrics': {
        get: {
          tags: ['operations'],
          operationId: 'getMetrics',
          summary: 'Prometheus metrics',
          description:
            'Request counts and latency by route and status, upstream latency and outcomes, cache hits, misses and size, requests in flight.',
          responses: {
            '200': {
              description: 'Prometheus text exposition format',
              content: { 'text/plain': { schema: jsonSchemaOf(z.string()) } },
            },
          },
        },
      },
      '/openapi.json': {
        get: {
          tags: ['reference'],
          operationId: 'getOpenApiDocument',
          summary: 'This document',
          responses: {
            '200': {
              description: 'The OpenAPI 3.1 document',
              content: { 'application/json': { schema: jsonSchemaOf(z.object({}).loose()) } },
            },
          },
        },
      },
      '/docs': {
        get: {
          tags: ['reference'],
          operationId: 'getDocsPage',
          summary: 'This document, rendered',
          responses: {
            '200': {
              description: 'An HTML page that renders /openapi.json',
              content: { 'text/html': { schema: jsonSchemaOf(z.string()) } },
            },
          },
        },
      },
    },
    components: {
      schemas: namedSchemas(),
      responses: problemResponses(examples),
      securitySchemes: {
        [XBL_SECURITY]: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description:
            "`XBL3.0 x=<userhash>;<token>`: the caller's Xbox Live token, forwarded verbatim to every upstream and never logged. The scheme name is case-insensitive; every 401 carries `WWW-Authenticate: XBL3.0`.",
        },
      },
    },
  });
}

/** One query parameter per member of the query schema, as the schema checks it. */
function queryParameters(query: FriendsQuerySchema): JsonObject[] {
  return Object.entries(query.shape).map(([name, field]: [string, z.ZodType]) => {
    const { description = '', ...schema } = jsonSchemaOf(field);
    const isList = schema.type === 'array';
    return {
      name,
      in: 'query',
      // A member that parses `undefined` has a default or may be left out.
      required: !field.safeParse(undefined).success,
      description,
      // A list travels as one comma-separated value: `?xuids=1,2`, not `?xuids=1&xuids=2`.
      ...(isList ? { style: 'form', explode: false } : {}),
      schema,
    };
  });
}

/** The named schemas, converted together so that they refer to each other by `$ref`. */
function namedSchemas(): JsonObject {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(NAMED_SCHEMAS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'output',
    uri: (id) => COMPONENTS + id,
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      // A component is not a schema resource of its own: OpenAPI names it by its location.
      return [id, without(schema as JsonObject, ['$schema', '$id'])];
    }),
  );
}

/** The real error of every problem code, built from the query schema in force. */
function exampleErrors(query: FriendsQuerySchema): ReadonlyMap<ErrorCode, GatewayError> {
  const examples = new Map<ErrorCode, GatewayError>();
  for (const code of Object.keys(PROBLEMS) as ErrorCode[]) {
    const error = PROBLEMS[code].example(query);
    if (error.code !== code)
      throw new TypeError(`The example of '${code}' answers '${error.code}'`);
    examples.set(code, error);
  }
  return examples;
}

/** One response per problem status, each listing its codes with a schema and an example. */
function problemResponses(examples: ReadonlyMap<ErrorCode, GatewayError>): JsonObject {
  const byStatus = new Map<number, [ErrorCode, GatewayError][]>();
  for (const [code, error] of examples) {
    byStatus.set(error.status, [...(byStatus.get(error.status) ?? []), [code, error]]);
  }
  const responses = [...byStatus]
    .sort(([a], [b]) => a - b)
    .map(([status, errors]) => {
      const variants = errors.map(([code, error]) => problemVariant(code, error));
      const headerNames = new Set(errors.flatMap(([, error]) => Object.keys(error.headers)));
      const [first, ...more] = variants;
      if (first === undefined) throw new TypeError(`No problem answers ${status}`);
      return [
        responseName(status),
        {
          description: errors.map(([code]) => `${code}: ${PROBLEMS[code].when}`).join('. '),
          headers: {
            'X-Request-Id': REQUEST_ID_HEADER,
            'Cache-Control': cacheControlHeader('no-store'),
            ...Object.fromEntries([...headerNames].map((name) => [name, errorHeader(name)])),
          },
          content: {
            'application/problem+json': {
              schema: jsonSchemaOf(more.length === 0 ? first : z.union([first, ...more])),
              examples: Object.fromEntries(
                errors.map(([code, error]) => [
                  code,
                  {
                    summary: error.title,
                    value: asJson(problemBody(error, EXAMPLE_REQUEST_ID)),
                  },
                ]),
              ),
            },
          },
        },
      ] as const;
    });
  return Object.fromEntries(responses);
}

/** The problem body narrowed to one code: its `type` and `status`, `errors` only for 400s of the query. */
function problemVariant(code: ErrorCode, error: GatewayError): z.ZodObject {
  const narrowed = problemSchema.extend({
    type: z.literal(`${PROBLEM_TYPE_PREFIX}${code}`),
    status: z.literal(error.status),
  });
  return code === 'invalid_query'
    ? narrowed.required({ errors: true })
    : narrowed.omit({ errors: true });
}

function errorHeader(name: string): JsonObject {
  const header = ERROR_HEADERS[name];
  if (header === undefined) throw new TypeError(`Cannot describe the response header '${name}'`);
  // The RateLimit-* headers come with one of the two 429 codes only, so the status cannot require them.
  return {
    description: header.description,
    required: header.onlySomeCodes !== true,
    schema: jsonSchemaOf(header.schema),
  };
}

/** `BadRequest` for 400, `TooManyRequests` for 429: the name of a status's response component. */
function responseName(status: number): string {
  return (STATUS_CODES[status] ?? `Status${String(status)}`).replace(/[^A-Za-z]/g, '');
}

function responseRef(status: number): string {
  return `#/components/responses/${responseName(status)}`;
}

function jsonResponse(description: string, ref: string, example: Json): JsonObject {
  return {
    description,
    headers: { 'X-Request-Id': REQUEST_ID_HEADER, 'Cache-Control': cacheControlHeader('no-store') },
    content: { 'application/json': { schema: { $ref: ref }, example } },
  };
}

/** The document's front page: what the gateway is, how to call it, every problem code. */
function infoDescription(examples: ReadonlyMap<ErrorCode, GatewayError>): string {
  const rows = [...examples].map(
    ([code, error]) => `| \`${code}\` | ${error.status} | ${PROBLEMS[code].when} |`,
  );
  return [
    "A backend-for-frontend for game clients. One call, `GET /friends-with-profiles`, returns a friend card for each asked player: the caller's relationship to them (social service), their profile (profile service) and what the caller may do with them (privacy service). Privacy fails closed: no profile is shown unless this request's privacy answer allows it.",
    '',
    'Errors are RFC 9457 problem details (`application/problem+json`) whose `type` is `' +
      PROBLEM_TYPE_PREFIX +
      '<code>`. Every answer carries `X-Request-Id`. The codes:',
    '',
    '| code | status | when |',
    '| --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** The JSON Schema of `schema` as it is checked (`io: 'output'`), without a `$schema` of its own. */
function jsonSchemaOf(schema: z.ZodType): JsonObject {
  const converted = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output' });
  return without(converted as JsonObject, ['$schema']);
}

function without(object: JsonObject, keys: readonly string[]): JsonObject {
  return Object.fromEntries(Object.entries(object).filter(([key]) => !keys.includes(key)));
}

function rejectionOf(run: () => unknown): GatewayError {
  try {
    run();
  } catch (error) {
    return toGatewayError(error);
  }
  throw new TypeError('Cannot build the example: the request was accepted');
}

function asJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}
