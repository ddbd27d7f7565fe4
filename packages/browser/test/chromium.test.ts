/**
 * @liaison/browser in a real browser: Debian's chromium driven by playwright-core. A node:http
 * server serves a page and the client's esbuild bundle, and carries a real @liaison/node echo
 * server on ws:// (same origin). The page connects, exchanges messages, goes offline (the browser
 * context's offline mode: the page gets its `offline` event and its WebSocket is dropped) and
 * comes back (`online`), and resumes with nothing lost or duplicated; then the server cuts the
 * WebSocket and the page becoming visible resumes it. The backoff is 20 s, so each prompt resume
 * is the work of the page event. A screenshot of the page is written to reports/browser/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, sleep, startEchoServer } from './harness.js';

const REPORTS = new URL('../../../reports/browser/', import.meta.url);

/** The page: loads the bundle, and exposes a few calls for the test to drive it with. */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>liaison in the browser</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2430; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  .row { display: flex; gap: 24px; }
  .box { border: 1px solid #d0d7e2; border-radius: 8px; padding: 12px 16px; min-width: 220px; }
  .k { color: #5b6577; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .v { font-size: 22px; font-weight: 600; }
  pre { background: #f5f7fa; border-radius: 8px; padding: 12px; max-height: 260px; overflow: hidden; }
</style></head>
<body>
<h1>@liaison/browser: a session over WebSocket</h1>
<div class="row">
  <div class="box"><div class="k">state</div><div class="v" id="state">-</div></div>
  <div class="box"><div class="k">messages echoed</div><div class="v" id="count">0</div></div>
  <div class="box"><div class="k">resumes</div><div class="v" id="resumes">0</div></div>
</div>
<pre id="log"></pre>
<script type="module">
  import { connect } from '/liaison.js';
  const $ = (id) => document.getElementById(id);
  const state = { received: [], events: [] };
  const note = (line) => { $('log').textContent += line + '\\n'; };
  window.state = state;
  window.start = (url) => {
    // Timers alone would wait 20 s: a prompt resume can only come from the page's own signals.
    const session = connect(url, { backoff: { initialDelayMs: 20000, maxDelayMs: 20000 } });
    window.session = session;
    for (const type of ['open', 'suspended', 'resumed', 'close']) {
      session.addEventListener(type, (e) => {
        state.events.push(type);
        $('state').textContent = type === 'suspended' ? 'suspended' : session.state;
        $('resumes').textContent = String(session.stats.resumes);
        note(new Date().toISOString().slice(11, 23) + '  ' + type + (e.reason && typeof e.reason === 'string' ? ': ' + e.reason : ''));
      });
    }
    session.addEventListener('message', (e) => {
      state.received.push(new TextDecoder().decode(e.data));
      $('count').textContent = String(state.received.length);
    });
    return session.ready.then(() => session.state);
  };
  window.sendRange = (from, to) => { for (let i = from; i < to; i++) void window.session.send('m' + i); };
  window.becomeVisible = () => document.dispatchEvent(new Event('visibilitychange'));
  window.closeSession = () => window.session.close().then((r) => r.kind);
  window.pageReady = true;
</script>
</body></html>`;

/** The client's bundle as a page loads it: esbuild, browser platform, ESM. */
async function bundle(): Promise<Uint8Array> {
  const entry = new URL('../dist/index.js', import.meta.url).pathname;
  const out = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false });
  return out.outputFiles[0]?.contents ?? new Uint8Array(0);
}

const range = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `m${from + i}`);

async function received(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { state: { received: string[] } }).state.received);
}

async function events(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { state: { events: string[] } }).state.events);
}

describe('@liaison/browser in chromium', { timeout: 60_000 }, () => {
  let browser: Browser;
  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
  });
  after(() => browser?.close());

  test('a page connects, exchanges messages, goes offline and back, and resumes with nothing lost', async (t) => {
    const script = await bundle();
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
      else if (req.url === '/liaison.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else res.writeHead(404).end();
    };
    const server = await startEchoServer(t, { onRequest });
    const context = await browser.newContext({ viewport: { width: 900, height: 520 } });
    t.after(() => context.close());
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(`${server.origin}/`);
    await page.waitForFunction(() => (window as unknown as { pageReady?: boolean }).pageReady === true);

    const opened = await page.evaluate(
      (url) => (window as unknown as { start(u: string): Promise<string> }).start(url),
      server.url,
    );
    assert.equal(opened, 'open');
    await page.evaluate(() => (window as unknown as { sendRange(a: number, b: number): void }).sendRange(0, 50));
    await page.waitForFunction(
      () => (window as unknown as { state: { received: string[] } }).state.received.length >= 50,
    );
    assert.deepEqual(await received(page), range(0, 50));

    await context.setOffline(true);
    await page.waitForFunction(() =>
      (window as unknown as { state: { events: string[] } }).state.events.includes('suspended'),
    );
    // Sent while offline: kept by the session, they go out once it resumes.
    await page.evaluate(() => (window as unknown as { sendRange(a: number, b: number): void }).sendRange(50, 100));
    await sleep(400);
    assert.deepEqual(await received(page), range(0, 50), 'nothing arrives while offline');
    await context.setOffline(false);
    await page.waitForFunction(
      () => (window as unknown as { state: { events: string[] } }).state.events.includes('resumed'),
      undefined,
      { timeout: 5_000 },
    );
    await page.waitForFunction(
      () => (window as unknown as { state: { received: string[] } }).state.received.length >= 100,
    );
    await sleep(100); // a duplicate, if any, would arrive right behind
    assert.deepEqual(await received(page), range(0, 100), 'every message once, in order');
    assert.equal(server.received.length, 1, 'one server-side session throughout');
    assert.deepEqual(server.received[0], range(0, 100));
    assert.deepEqual(await events(page), ['open', 'suspended', 'resumed']);

    // The server cuts the WebSocket; the page coming back into view (visibilitychange) resumes at once.
    assert.ok(server.cutAll() > 0, 'a socket to cut');
    await page.waitForFunction(
      () =>
        (window as unknown as { state: { events: string[] } }).state.events.filter((e) => e === 'suspended').length ===
        2,
    );
    await page.evaluate(() => (window as unknown as { sendRange(a: number, b: number): void }).sendRange(100, 120));
    await page.evaluate(() => (window as unknown as { becomeVisible(): void }).becomeVisible());
    await page.waitForFunction(
      () =>
        (window as unknown as { state: { events: string[] } }).state.events.filter((e) => e === 'resumed').length === 2,
      undefined,
      { timeout: 5_000 },
    );
    await page.waitForFunction(
      () => (window as unknown as { state: { received: string[] } }).state.received.length >= 120,
    );
    await sleep(100);
    assert.deepEqual(await received(page), range(0, 120), 'every message once, in order, after the second resume');
    assert.deepEqual(server.received[0], range(0, 120));

    mkdirSync(REPORTS, { recursive: true });
    await page.screenshot({ path: new URL('offline-resume.png', REPORTS).pathname, timeout: 10_000 });

    const closed = await page.evaluate(() => (window as unknown as { closeSession(): Promise<string> }).closeSession());
    assert.equal(closed, 'released');
    assert.deepEqual(pageErrors, []);
  });
});
