import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import fc from 'fast-check';
import { ERROR_CODES } from '../../src/errors.js';
import { PROBLEM_TYPE_PREFIX } from '../../src/http/problem-details.js';
import { buildOpenApiDocument } from '../../src/openapi.js';
import { createFriendsQuerySchema, parseFriendsQuery } from '../../src/routes/friends-query.js';
import {
  DEFAULT_SETTINGS,
  PERMISSION_IDS,
  PROFILE_SETTING_IDS,
  VIEW_PROFILE_PERMISSION,
} from '../../src/xbl-vocabulary.js';
import { assertValid, createConformance, resolve } from '../helpers/openapi-conformance.js';
import type { Node } from '../helpers/openapi-conformance.js';
import { OPENAPI_FILE, generateOpenApiFile } from '../helpers/openapi-file.js';

const MAX_XUIDS = 100;
const document = buildOpenApiDocument({ maxXuids: MAX_XUIDS }) as Node;
const conformance = createConformance(document);
const CARDS = '/friends-with-profiles';

/** Every `schema` member outside schemas (parameters, headers, media types), with where it is. */
function schemasOf(value: unknown, path = ''): [string, unknown][] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, member]): [string, unknown][] =>
    key === 'schema' ? [[`${path}/schema`, member]] : schemasOf(member, `${path}/${key}`),
  );
}

/** Every example of a media type, with the schema it must satisfy. */
function mediaExamples(value: unknown, path = ''): [string, unknown, unknown][] {
  if (typeof value !== 'object' || value === null) return [];
  const media = value as Node;
  const own: [string, unknown, unknown][] = [];
  if ('schema' in media && 'example' in media) own.push([path, media.schema, media.example]);
  if ('schema' in media && typeof media.examples === 'object' && media.examples !== null) {
    for (const [name, example] of Object.entries(media.examples as Node)) {
      own.push([`${path}/examples/${name}`, media.schema, (example as Node).value]);
    }
  }
  const nested = Object.entries(media)
    .filter(([key]) => key !== 'schema' && key !== 'examples' && key !== 'example')
    .flatMap(([key, member]) => mediaExamples(member, `${path}/${key}`));
  return [...own, ...nested];
}

function cardParameters(doc: Node = document): Node[] {
  const operation = resolve(doc, '#/paths/~1friends-with-profiles/get');
  return (operation.parameters as Node[]).filter((parameter) => parameter.in === 'query');
}

describe('the OpenAPI document', () => {
  test('when checked by an OpenAPI 3.1 schema validator, the document is valid 3.1', async () => {
    const validator = new Validator();

    const result = await validator.validate(structuredClone(document));

    assert.deepEqual(result, { valid: true }, `no validation errors: ${JSON.stringify(result)}`);
    assert.equal(validator.version, '3.1', 'validated as OpenAPI 3.1');
  });

  test('when a reference dangles, the same validator rejects the document', async () => {
    const broken = structuredClone<Node>(document);
    const health = resolve(broken, '#/paths/~1healthz/get/responses/200/content/application~1json');
    health.schema = { $ref: '#/components/schemas/Missing' };

    const result = await new Validator().validate(broken);

    assert.equal(result.valid, false, 'a dangling $ref is an invalid document');
  });

  test('every schema in the document compiles in strict JSON Schema 2020-12 mode', () => {
    const found = [
      ...schemasOf(document.paths, '#/paths'),
      ...schemasOf(document.components, '#/components'),
      ...Object.keys(resolve(document, '#/components/schemas')).map((name): [string, unknown] => [
        `#/components/schemas/${name}`,
        { $ref: `#/components/schemas/${name}` },
      ]),
    ];

    assert.ok(found.length > 20, 'the schemas are found');
    for (const [where, schema] of found) {
      assert.doesNotThrow(() => conformance.validatorFor(schema), `${where} compiles`);
    }
  });

  test('every example in the document satisfies the schema beside it', () => {
    const examples = mediaExamples(document);
    const parameterExamples = cardParameters().flatMap((parameter) => {
      const schema = parameter.schema as Node;
      return ((schema.examples ?? []) as unknown[]).map((example): [string, unknown, unknown] => [
        `parameter ${String(parameter.name)}`,
        schema,
        example,
      ]);
    });

    assert.ok(examples.length >= 16, `every status has an example (found ${examples.length})`);
    for (const [where, schema, example] of [...examples, ...parameterExamples]) {
      assertValid(conformance.validatorFor(schema), example, `the example at ${where}`);
    }
  });

  test('when docs/openapi.json is read, it is exactly what npm run openapi generates now', async () => {
    const committed = readFileSync(OPENAPI_FILE, 'utf8');

    const generated = await generateOpenApiFile();

    assert.equal(committed, generated, 'docs/openapi.json is current: run npm run openapi');
  });
});

describe('the OpenAPI document and the code', () => {
  test('the document names exactly the problem codes of the catalogue, each under its status', () => {
    const responses = resolve(document, '#/components/responses');
    const found = new Map<string, number>();

    for (const response of Object.values(responses) as Node[]) {
      const media = resolve(response, '#/content/application~1problem+json');
      for (const example of Object.values(media.examples as Node) as Node[]) {
        const body = example.value as Node;
        found.set(String(body.type).slice(PROBLEM_TYPE_PREFIX.length), Number(body.status));
      }
    }

    assert.deepEqual([...found.keys()].sort(), [...ERROR_CODES].sort(), 'every code, no other');
    for (const code of ERROR_CODES) {
      assert.match(
        String(resolve(document, '#/info').description),
        new RegExp(`\\| \`${code}\` \\| ${String(found.get(code))} \\|`),
        `the front page lists ${code} with its status`,
      );
    }
  });

  test('the query parameters are the members of the query schema, in its order', () => {
    const schema = createFriendsQuerySchema({ maxXuids: MAX_XUIDS });

    const parameters = cardParameters();

    assert.deepEqual(
      parameters.map((parameter) => parameter.name),
      Object.keys(schema.shape),
      'one query parameter per schema member',
    );
    for (const parameter of parameters) {
      assert.equal(parameter.style, 'form', `${String(parameter.name)} is a form parameter`);
      assert.equal(parameter.explode, false, `${String(parameter.name)} is one comma list`);
    }
  });

  test('the parameters carry the limits, known ids and defaults the code checks with', () => {
    const [xuids, settings, permissions] = cardParameters(buildOpenApiDocument({ maxXuids: 7 }));
    const xuidList = resolve(xuids!, '#/schema');

    assert.equal(xuids!.required, true, 'xuids is required');
    assert.deepEqual(
      [xuidList.type, xuidList.minItems, xuidList.maxItems],
      ['array', 1, 7],
      'xuids is a list of 1 to MAX_XUIDS_PER_REQUEST items',
    );
    assert.equal(
      resolve(xuidList, '#/items').pattern,
      '^[1-9][0-9]{0,19}$',
      'each XUID is 1-20 digits without a leading zero',
    );
    assert.equal(settings!.required, false, 'settings is optional');
    assert.deepEqual(
      resolve(settings!, '#/schema/items').enum,
      [...PROFILE_SETTING_IDS],
      'settings are the known setting ids',
    );
    assert.deepEqual(
      resolve(settings!, '#/schema').default,
      [...DEFAULT_SETTINGS],
      'settings default to the four game settings',
    );
    assert.equal(permissions!.required, false, 'permissions is optional');
    assert.deepEqual(
      resolve(permissions!, '#/schema/items').enum,
      [...PERMISSION_IDS],
      'permissions are the known permission ids',
    );
    assert.deepEqual(
      resolve(permissions!, '#/schema').default,
      [VIEW_PROFILE_PERMISSION],
      'permissions default to ViewTargetProfile',
    );
  });

  // The one rule the pattern leaves to words: a 20-digit XUID above 2^64 - 1 (a regular
  // expression for that range would be unreadable). Everything else must agree both ways.
  test('property: the document and the code agree on every list, but for XUIDs above 2^64 - 1', () => {
    const schema = createFriendsQuerySchema({ maxXuids: MAX_XUIDS });
    const [xuids, settings, permissions] = cardParameters().map((parameter) =>
      conformance.validatorFor(parameter.schema),
    );
    const item = fc.oneof(
      fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }).map(String),
      fc.bigInt({ min: 2n ** 64n, max: 10n ** 20n - 1n }).map(String),
      fc.constantFrom(...PROFILE_SETTING_IDS, ...PERMISSION_IDS, '', '0', '01', '-1'),
      fc.string({ maxLength: 8 }).filter((text) => !text.includes(',')),
    );
    const list = fc.uniqueArray(item, { minLength: 1, maxLength: 110 });

    fc.assert(
      fc.property(list, list, list, (xuidList, settingList, permissionList) => {
        const query = {
          xuids: xuidList.join(','),
          settings: settingList.join(','),
          permissions: permissionList.join(','),
        };
        const byDocument = [
          xuids?.(xuidList) === true,
          settings?.(settingList) === true,
          permissions?.(permissionList) === true,
        ];

        let byCode = true;
        try {
          parseFriendsQuery(query, schema);
        } catch {
          byCode = false;
        }

        const isTooLarge = xuidList.some((x) => x.length === 20 && x > '18446744073709551615');
        assert.equal(
          byCode,
          byDocument.every(Boolean) && !isTooLarge,
          `the same verdict on ${JSON.stringify(query)}`,
        );
      }),
      {
        numRuns: 300,
        examples: [
          [['2533274791381930'], ['Gamertag'], ['ViewTargetProfile']],
          [Array.from({ length: 101 }, (_, i) => String(i + 1)), ['Bio'], ['ShareItem']],
          [['18446744073709551615'], ['Bio'], ['PlayMultiplayer']],
        ],
      },
    );
  });
});

describe('the conformance check', () => {
  const complete = {
    status: 200,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'x-request-id': 'abc',
      'cache-control': 'private, no-store',
    },
    text: JSON.stringify({ cards: [], partial: false, errors: [] }),
  };

  test('when an answer matches the document, it passes', () => {
    assert.doesNotThrow(() => {
      conformance.assertConforms(complete, CARDS);
    }, 'a well-formed empty answer conforms');
  });

  test('when the body, a header, the media type or the status is off, it fails', () => {
    const answers = {
      'a member missing': { ...complete, text: JSON.stringify({ cards: [], errors: [] }) },
      'a member too many': {
        ...complete,
        text: JSON.stringify({ cards: [], partial: false, errors: [], next: 1 }),
      },
      'an unknown upstream': {
        ...complete,
        text: JSON.stringify({
          cards: [],
          partial: true,
          errors: [{ upstream: 'x', code: 'timeout' }],
        }),
      },
      'no X-Request-Id': {
        ...complete,
        headers: { ...complete.headers, 'x-request-id': undefined },
      },
      'a cacheable answer': {
        ...complete,
        headers: { ...complete.headers, 'cache-control': 'max-age=60' },
      },
      'text/plain': { ...complete, headers: { ...complete.headers, 'content-type': 'text/plain' } },
      'an undocumented status': { ...complete, status: 418 },
    };

    for (const [what, answer] of Object.entries(answers)) {
      assert.throws(() => {
        conformance.assertConforms(answer, CARDS);
      }, `an answer with ${what} does not conform`);
    }
  });
});
