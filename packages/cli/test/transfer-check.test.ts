/**
 * The "Done when" transfer check (scripts/transfer-check.mjs), CI-sized: 24 MiB through a
 * proxy cutting every connection after 150 ms (5 ms delay each way), kill -9 of the sender then of the receiver, each
 * resumed from a confirmed sync point, SHA-256 matching. The full 200 MiB run is
 * `npm run transfer:check`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { within } from '@liaison/testkit';

const SCRIPT = new URL('../../../scripts/transfer-check.mjs', import.meta.url).pathname;

test('transfer check, 24 MiB: kill -9 of each side through a cutting proxy, resumed, SHA-256 matches', {
  timeout: 150_000,
}, async (t) => {
  const child = spawn(
    process.execPath,
    [SCRIPT, '--size-mib', '24', '--sync-every', '1MiB', '--cut-ms', '150', '--delay-ms', '5', '--timeout-s', '120'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const [code] = await within(once(child, 'exit'), 140_000, 'transfer check');
  t.diagnostic(out);
  assert.equal(code, 0, out);
  assert.match(out, /transfer check passed/);
  assert.match(out, /resumed from byte [1-9]\d*/);
  assert.match(out, /SHA-256 [0-9a-f]{64} matches/);
});
