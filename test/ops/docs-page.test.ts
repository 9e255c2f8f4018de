import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import supertest from 'supertest';
import { gatewayFor, listenFor } from '../helpers/test-app.js';

/** Debian's Chromium; `.ci/run` installs it. */
const CHROMIUM = '/usr/bin/chromium';
const IS_CI = process.env.CI === 'true';
const hasChromium = existsSync(CHROMIUM);
const SKIP_REASON = 'SKIPPED: apt-get install chromium';

if (!hasChromium && !IS_CI)
  console.log(`${SKIP_REASON} (no ${CHROMIUM}; the docs page test did not run)`);

/** A fresh profile, no background traffic: the page's own requests are all the browser makes. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function isLoopback(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return (protocol === 'http:' || protocol === 'https:') && LOOPBACK_HOSTS.has(hostname);
}

test(
  'when /docs is opened in Chromium, it renders the card route, its parameters and error codes from the gateway alone',
  { skip: hasChromium || IS_CI ? false : SKIP_REASON, timeout: 30_000 },
  async (t) => {
    assert.ok(hasChromium, `${CHROMIUM} exists (CI installs it: apt-get install chromium)`);
    const gw = await gatewayFor(t);
    const port = await listenFor(t, gw.app);
    const userDataDir = mkdtempSync(join(tmpdir(), 'docs-page-chromium-'));
    const browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    t.after(async () => {
      await browser.close();
      rmSync(userDataDir, { recursive: true, force: true });
    });
    const offLoopback: string[] = [];
    const problems: string[] = [];
    // Nothing may leave the machine: a request off loopback is recorded and never sent.
    await browser.route('**/*', async (route) => {
      const url = route.request().url();
      if (isLoopback(url)) {
        await route.continue();
      } else {
        offLoopback.push(url);
        await route.abort();
      }
    });
    // Runs in the page: every violation of its Content-Security-Policy becomes a console error.
    await browser.addInitScript({
      content: `document.addEventListener('securitypolicyviolation', (event) => {
        console.error('CSP violation: ' + event.violatedDirective + ' ' + event.blockedURI);
      });`,
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));

    const response = await page.goto(`http://127.0.0.1:${port}/docs`);
    const operation = page.locator('.opblock', { hasText: '/friends-with-profiles' });
    await operation.locator('.opblock-summary').click();
    const parameters = ['xuids', 'settings', 'permissions'].map((name) =>
      operation.locator(`tr[data-param-name="${name}"]`),
    );
    for (const parameter of parameters) await parameter.waitFor();
    const responsesText = await operation.locator('.responses-wrapper').innerText();

    assert.ok(response !== null, '/docs is a navigation with a response');
    assert.equal(response.status(), 200, '/docs answers 200');
    assert.match(responsesText, /\b400\b/, 'the responses list the 400');
    assert.match(responsesText, /invalid_query/, "the 400's example shows its problem code");
    assert.deepEqual(offLoopback, [], 'the page made no request off loopback');
    assert.deepEqual(problems, [], 'no CSP violation, script error or failed request');
    const healthz = await supertest(gw.app).get('/healthz');
    assert.equal(
      response.headers()['content-security-policy'],
      healthz.headers['content-security-policy'],
      "the docs page runs under helmet's default policy, like every other route",
    );
  },
);
