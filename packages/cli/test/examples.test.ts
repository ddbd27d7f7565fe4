/**
 * The programs in examples/ run as a user would run them (`node examples/X.mjs`, importing
 * 'liaison') and print what their comments promise, so they never rot.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

async function example(name: string): Promise<string[]> {
  const { stdout, stderr } = await run(process.execPath, [`examples/${name}`], { cwd: ROOT, timeout: 20_000 });
  assert.equal(stderr, '', `${name} wrote to stderr`);
  return stdout.trimEnd().split('\n');
}

describe('examples/', { timeout: 60_000 }, () => {
  test('turn-taking.mjs: half-duplex turns with the data token', async () => {
    assert.deepEqual(await example('turn-taking.mjs'), [
      'client: tokens {"data":"mine","minor":"unavailable","major":"unavailable","release":"unavailable"}',
      'client: sending without the data token fails: ERR_LIAISON_TOKEN_NOT_HELD',
      'server: got "ping 1"',
      'client: got "pong 1", the data token is back',
      'server: got "ping 2"',
      'client: got "pong 2", the data token is back',
      'server: got "ping 3"',
      'client: got "pong 3", the data token is back',
      'done',
    ]);
  });

  test('named-lock.mjs: one holder at a time, granted in request order', async () => {
    assert.deepEqual(await example('named-lock.mjs'), [
      'alice: holds printer',
      'bob: waits (1 in the queue)',
      'alice: released printer',
      'bob: holds printer',
      'server: holder after bob left: nobody',
      'server printed: report from alice (sender holds the lock: true)',
      'server printed: report from bob (sender holds the lock: true)',
    ]);
  });

  test('resume-activity.mjs: interrupted, resumed in a new session after the confirmed sync point', async () => {
    const out = await example('resume-activity.mjs');
    assert.deepEqual(out, [
      'receiver: activity report started',
      'receiver: sync point 1, committed part 1, part 2',
      'sender: sync point 1 confirmed',
      'receiver: interrupted, dropping part 3',
      'sender: interrupted; resume from serial 1',
      'sender: resumed, the next sync point is 2',
      'receiver: activity report#2 resumes report after sync point 1',
      'receiver: activity end 2, committed part 3, part 4',
      'sender: activity ended at serial 2',
      'receiver has: part 1, part 2, part 3, part 4',
    ]);
  });
});
