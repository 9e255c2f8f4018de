import assert from 'node:assert/strict';
import supertest from 'supertest';
import type { Express } from 'express';

/** One sample line of the Prometheus text format. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of an exposition in the text format; comment lines are skipped. */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    assert.ok(match, `'${line}' is a sample line of the text format`);
    const labels: Record<string, string> = {};
    for (const [, name = '', value = ''] of (match[2] ?? '').matchAll(LABEL_PAIR)) {
      labels[name] = value.replace(/\\(.)/g, (_, escaped: string) =>
        escaped === 'n' ? '\n' : escaped,
      );
    }
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return samples;
}

/** A parsed scrape, read by metric name and label values. */
export interface Scrape {
  readonly text: string;
  readonly samples: readonly Sample[];
  /**
   * The sum of the samples of `name` whose labels include all of `labels`; `undefined` when
   * there is none, so an absent series and a zero one differ.
   */
  value(name: string, labels?: Readonly<Record<string, string>>): number | undefined;
}

/** Reads `text` as a scrape. */
export function scrapeOf(text: string): Scrape {
  const samples = parseSamples(text);
  return {
    text,
    samples,
    value(name, labels = {}) {
      const matching = samples.filter(
        (sample) =>
          sample.name === name &&
          Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
      );
      return matching.length === 0
        ? undefined
        : matching.reduce((total, sample) => total + sample.value, 0);
    },
  };
}

/** `GET /metrics` on `app`, asserted 200 in the text format, and parsed. */
export async function scrape(app: Express): Promise<Scrape> {
  const response = await supertest(app).get('/metrics');
  assert.equal(response.status, 200, `/metrics answers 200, got ${response.status}`);
  assert.match(
    response.headers['content-type'] ?? '',
    /^text\/plain; version=0\.0\.4; charset=utf-8$/,
    'the content type is the Prometheus text format, version 0.0.4',
  );
  return scrapeOf(response.text);
}
