import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: its plugin is the module's default export.
const { default: addFormats } = addFormatsModule;

/** A JSON object of the document, read loosely: the validator has already checked its shape. */
export type Node = Record<string, unknown>;

/** What of an HTTP answer is checked against the document (a supertest response has it all). */
export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
}

/** Where the document's schema components are found once they are loaded into Ajv. */
const COMPONENTS_ID = 'urn:friend-card-gateway:openapi:components';
const COMPONENT_REF = '#/components/schemas/';

/** Checks answers and values against an OpenAPI 3.1 document with Ajv's 2020-12 validator. */
export interface Conformance {
  readonly document: Node;
  /** The response object of `method path` for `status`, `$ref` resolved; fails if none. */
  responseFor(path: string, status: number, method?: string): Node;
  /** Compiles `schema` (strict mode, so a keyword Ajv does not know fails) and caches it. */
  validatorFor(schema: unknown): ValidateFunction;
  /** Asserts that `answer` is one the document describes: status, media type, headers, body. */
  assertConforms(answer: Answer, path: string, method?: string): void;
  /** Asserts that `answer` matches the response object `response` (`where` names it). */
  assertMatches(answer: Answer, response: Node, where: string): void;
}

/** Loads `document`'s schema components into a strict Ajv 2020-12 instance. */
export function createConformance(document: Node): Conformance {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  const components = node(node(document.components, 'components').schemas, 'schemas');
  ajv.addSchema({ $id: COMPONENTS_ID, $defs: rebase(components) });
  const compiled = new Map<unknown, ValidateFunction>();

  function validatorFor(schema: unknown): ValidateFunction {
    let validate = compiled.get(schema);
    if (validate === undefined) {
      validate = ajv.compile(rebase(schema) as object);
      compiled.set(schema, validate);
    }
    return validate;
  }

  function responseFor(path: string, status: number, method = 'get'): Node {
    const operation = node(node(node(document.paths, 'paths')[path], path)[method], method);
    const responses = node(operation.responses, 'responses');
    const response = node(responses[String(status)], `${method} ${path} ${status}`);
    return typeof response.$ref === 'string' ? resolve(document, response.$ref) : response;
  }

  function assertConforms(answer: Answer, path: string, method = 'get'): void {
    const where = `${method.toUpperCase()} ${path} ${answer.status}`;
    assertMatches(answer, responseFor(path, answer.status, method), where);
  }

  function assertMatches(answer: Answer, response: Node, where: string): void {
    const contentType = String(answer.headers['content-type'] ?? '');
    const mediaType = contentType.split(';')[0]?.trim() ?? '';
    const content = node(response.content, `${where} content`);
    const media = content[mediaType];
    assert.ok(
      media !== undefined,
      `${where}: the document lists media type '${mediaType}' (it lists ${Object.keys(content).join(', ')})`,
    );
    for (const [name, header] of Object.entries(node(response.headers ?? {}, 'headers'))) {
      const { required, schema } = node(header, name);
      const value = answer.headers[name.toLowerCase()];
      if (required === true) assert.ok(value !== undefined, `${where}: header ${name} is present`);
      if (typeof value === 'string') {
        assertValid(validatorFor(schema), headerValue(value, schema), `${where}: header ${name}`);
      }
    }
    if (mediaType.endsWith('json')) {
      const { schema } = node(media, mediaType);
      assertValid(validatorFor(schema), JSON.parse(answer.text), `${where}: body`);
    }
  }

  return { document, responseFor, validatorFor, assertConforms, assertMatches };
}

/** Asserts that `validate` accepts `value`, listing Ajv's errors when it does not. */
export function assertValid(validate: ValidateFunction, value: unknown, what: string): void {
  const isValid = validate(value);
  assert.ok(isValid, `${what} conforms to the document: ${describeErrors(validate.errors)}`);
}

function describeErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`).join('; ');
}

/** A header is text; one whose schema is a number is checked as the number it spells. */
function headerValue(value: string, schema: unknown): unknown {
  const type = node(schema, 'header schema').type;
  return (type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(value)
    ? Number(value)
    : value;
}

/** The object at a local `#/…` JSON pointer of `document`. */
export function resolve(document: Node, ref: string): Node {
  assert.ok(ref.startsWith('#/'), `'${ref}' is a local reference`);
  let here: unknown = document;
  for (const part of ref.slice(2).split('/')) {
    here = node(here, ref)[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return node(here, ref);
}

/** Points the document's component references at the copy loaded into Ajv. */
function rebase(schema: unknown): unknown {
  return JSON.parse(
    JSON.stringify(schema).replaceAll(
      `"$ref":"${COMPONENT_REF}`,
      `"$ref":"${COMPONENTS_ID}#/$defs/`,
    ),
  );
}

function node(value: unknown, what: string): Node {
  assert.ok(typeof value === 'object' && value !== null, `the document has ${what}`);
  return value as Node;
}
