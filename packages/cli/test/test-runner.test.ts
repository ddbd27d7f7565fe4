/**
 * `npm run test:only -- --test-name-pattern=X` (scripts/run-tests.mjs): a file none of whose
 * tests match must pass as skipped. Node 20 still runs a file's before/after hooks then, so a
 * hook that leaves a rejection unhandled failed the run (issue 10.7: attacks.test.js did).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('test runner', { timeout: 30_000 }, () => {
  test('regression: a file whose tests do not match --test-name-pattern passes (security/attacks)', () => {
    // The runner's own context variable would make the child report to this process instead.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const result = spawnSync(
      process.execPath,
      [
        'scripts/run-tests.mjs',
        '--test-name-pattern=^no test has this name$',
        'packages/node/dist-test/security/attacks.test.js',
      ],
      { cwd: ROOT, env, encoding: 'utf8', timeout: 25_000 },
    );
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    // Node 20 lists the file's tests as skipped; Node 22 and later count the file as one passing test.
    assert.match(result.stdout, /ℹ fail 0/);
  });
});
