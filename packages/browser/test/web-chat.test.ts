/**
 * examples/web-chat, run as its README says (`node examples/web-chat/server.mjs`) and used from two
 * chromium pages: lines and a file from one reach the other once and in order, also when the
 * receiving page's network drops meanwhile and comes back. A screenshot goes to reports/browser/.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { within } from '@liaison/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './harness.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REPORTS = new URL('../../../reports/browser/', import.meta.url);

/** Starts the example on a free port; resolves with its URL once it printed it. */
async function startChat(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['examples/web-chat/server.mjs'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d) => (err += d));
  const url = await within(
    new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', (d) => {
        out += d;
        const m = /^chat (http:\/\/\S+)$/m.exec(out);
        if (m) resolve(m[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`the example exited (${code}): ${err}`)));
    }),
    20_000,
    'the example prints its URL',
  );
  return { child, url };
}

const said = (page: Page): Promise<string[]> =>
  page.$$eval('#log li[data-kind="say"] .text', (spans) => spans.map((s) => s.textContent ?? ''));

describe('examples/web-chat in chromium', { timeout: 90_000 }, () => {
  let browser: Browser;
  let chat: { child: ChildProcess; url: string };
  before(async () => {
    chat = await startChat();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
  });
  after(async () => {
    await browser?.close();
    chat?.child.kill('SIGTERM');
  });

  test('lines and a file reach the other page once and in order, through its network going away and back', async (t) => {
    const aliceContext = await browser.newContext({ viewport: { width: 800, height: 600 } });
    const bobContext = await browser.newContext({ viewport: { width: 800, height: 600 } });
    t.after(() => Promise.all([aliceContext.close(), bobContext.close()]));
    const alice = await aliceContext.newPage();
    const bob = await bobContext.newPage();
    const errors: string[] = [];
    for (const page of [alice, bob]) {
      page.setDefaultTimeout(15_000);
      page.on('pageerror', (e) => errors.push(String(e)));
    }
    await bob.goto(`${chat.url}?name=bob`);
    await bob.waitForSelector('#status.open');
    await alice.goto(`${chat.url}?name=alice`);
    await alice.waitForSelector('#status.open');
    await bob.waitForSelector('#log li.note:has-text("alice joined")');

    await alice.fill('#text', 'hello bob');
    await alice.press('#text', 'Enter');
    await bob.waitForFunction(() => document.querySelectorAll('#log li[data-kind="say"]').length === 1);

    // Bob's network goes away; alice goes on talking and sends a file of several chunks.
    await bobContext.setOffline(true);
    await bob.waitForSelector('#status.suspended');
    const lines = Array.from({ length: 20 }, (_, i) => `line ${i}`);
    for (const line of lines) {
      await alice.fill('#text', line);
      await alice.press('#text', 'Enter');
    }
    const file = randomBytes(300_000);
    await alice.setInputFiles('#file', { name: 'photo.bin', mimeType: 'application/octet-stream', buffer: file });
    await alice.waitForFunction(() => document.querySelectorAll('#log li.mine .pending').length === 0);

    await bobContext.setOffline(false);
    await bob.waitForSelector('#status.open');
    await bob.waitForSelector('#log li[data-kind="file"] a');
    assert.deepEqual(await said(bob), ['hello bob', ...lines], 'every line once, in order');
    const link = await bob.$eval('#log li[data-kind="file"] a', (a) => ({
      text: a.textContent,
      sha256: (a as HTMLElement).dataset.sha256,
    }));
    assert.equal(link.text, `photo.bin (${file.byteLength} bytes)`);
    assert.equal(link.sha256, createHash('sha256').update(file).digest('hex'), 'the file arrived whole');
    assert.equal(await bob.$$eval('#log li[data-kind="file"]', (l) => l.length), 1, 'the file once');
    assert.deepEqual(errors, []);

    mkdirSync(REPORTS, { recursive: true });
    await bob.screenshot({ path: fileURLToPath(new URL('web-chat.png', REPORTS)) });
  });
});
