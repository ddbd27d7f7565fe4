/**
 * The dashboard page in a real browser (Debian's chromium, driven by playwright-core): with two
 * live sessions (alice over tcp://, bob over ws://, one of them resumed) the table lists both, a
 * click opens the detail view, the charts draw, and the abort button, given the admin token,
 * aborts the session. Screenshots (light and dark) are written to reports/dashboard/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ABORT_REASON } from '@liaison/dashboard';
import { bearerTokens, connect, type Session } from '@liaison/node';
import { FaultProxy } from '@liaison/testkit';
import { chromium } from 'playwright-core';
import { setup, track, within } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const REPORTS = fileURLToPath(new URL('../../../reports/dashboard/', import.meta.url));

describe('dashboard page in chromium', () => {
  test('two live sessions: table, detail view, charts, abort with the admin token', { timeout: 60_000 }, async (t) => {
    const { server, dashboard } = await setup(t, {
      urls: ['tcp://127.0.0.1:0', 'ws://127.0.0.1:0/liaison'],
      listen: {
        authenticate: bearerTokens(
          new Map([
            ['a', 'alice'],
            ['b', 'bob'],
          ]),
        ),
      },
      dashboard: { adminToken: 'ops-token', title: 'eu-west-1' },
    });
    const [tcpUrl, wsUrl] = server.urls as [string, string];
    const proxy = new FaultProxy({ target: server.address });
    await proxy.start();
    t.after(() => proxy.stop());
    const alice = track(t, connect(proxy.url, { auth: { token: 'a' } }));
    const bob = track(t, connect(wsUrl, { auth: { token: 'b' } }));
    await within(Promise.all([alice.ready, bob.ready]), 5_000, 'both open');
    assert.ok(tcpUrl.startsWith('tcp://'));
    const traffic = setInterval(() => {
      void alice.send('x'.repeat(2_000)).catch(() => {});
      void bob.send('y'.repeat(700)).catch(() => {});
    }, 50);
    t.after(() => clearInterval(traffic));
    const drain = (s: Session) =>
      void (async () => {
        for await (const _ of s);
      })().catch(() => {});
    drain(alice);
    drain(bob);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(dashboard.url);
    await page.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 2, null, {
      timeout: 10_000,
    });
    const resumed = new Promise((r) => alice.once('resumed', r));
    proxy.cutAll();
    await within(resumed, 10_000, 'alice resumed');
    await page.waitForFunction(() => document.querySelector('#log')?.textContent?.includes('resume'), null, {
      timeout: 10_000,
    });
    const table = (await page.locator('#sessions tbody').textContent()) ?? '';
    assert.match(table, /alice/);
    assert.match(table, /bob/);
    const transportOf = (who: string) => page.locator('#sessions tbody tr', { hasText: who }).locator('td').nth(3);
    assert.equal(await transportOf('bob').textContent(), 'ws');
    assert.equal(await transportOf('alice').textContent(), 'tcp');
    await page.locator('#sessions tbody tr', { hasText: 'alice' }).click();
    await page.waitForFunction(() => document.querySelector('#d-fields')?.textContent?.includes('alice'), null, {
      timeout: 5_000,
    });
    await page.waitForTimeout(4_000); // a few seconds of chart
    assert.equal(await page.locator('#chart-throughput canvas').count(), 1);
    mkdirSync(REPORTS, { recursive: true });
    await page.screenshot({ path: `${REPORTS}dashboard.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: `${REPORTS}dashboard-dark.png`, fullPage: true });

    page.once('dialog', (d) => void d.accept());
    await page.fill('#abort-token', 'ops-token');
    await page.click('#abort-form button[type=submit]');
    const reason = await within(alice.closed, 5_000, 'alice aborted');
    assert.ok(reason.kind === 'aborted' && new TextDecoder().decode(reason.userData) === ABORT_REASON);
    await page.waitForFunction(
      () => document.querySelector('#abort-result')?.textContent?.startsWith('aborted'),
      null,
      {
        timeout: 5_000,
      },
    );
    assert.equal(bob.state, 'open');
    assert.deepEqual(errors, []);
  });
});
