import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

const ROOT = new URL('../../', import.meta.url);

/** The README and every page under docs/: what a clone of the repository has to read. */
function documentationPages(): { name: string; text: string }[] {
  const docs = readdirSync(new URL('docs/', ROOT)).filter((name) => name.endsWith('.md'));
  return ['README.md', ...docs.map((name) => `docs/${name}`)].map((name) => ({
    name,
    text: readFileSync(new URL(name, ROOT), 'utf8'),
  }));
}

test('when the documentation is read from a clone, it points at no contract file outside it', () => {
  const pages = documentationPages();

  for (const { name, text } of pages) {
    const outside = [...text.matchAll(/\b(API|UPSTREAMS)\.md\b[^\n]{0,30}/g)].map((m) => m[0]);
    assert.deepEqual(
      outside,
      [],
      `${name} refers to no API.md or UPSTREAMS.md section: state the rule or link into docs/`,
    );
  }
  assert.ok(
    pages.some((page) => page.name === 'docs/client-guide.md'),
    'the client guide is among the pages checked',
  );
});
