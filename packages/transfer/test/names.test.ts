import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkFileName, TransferError, TransferErrorCode } from '@liaison/transfer';
import fc from 'fast-check';

describe('checkFileName', () => {
  test('plain names pass unchanged', () => {
    for (const name of ['a', 'report.pdf', '.hidden', 'x y z', 'été.txt', '..dots', 'a'.repeat(255)])
      assert.equal(checkFileName(name), name);
  });

  test('paths, traversal, absolute paths and control characters are refused with a typed error', () => {
    for (const name of [
      '',
      '.',
      '..',
      '../etc/passwd',
      '/etc/passwd',
      'a/b',
      'a\\b',
      'C:\\x',
      'nul\0byte',
      'line\nbreak',
      '.liaison-partial',
      'a'.repeat(256),
      'é'.repeat(128),
    ]) {
      assert.throws(
        () => checkFileName(name),
        (e) => e instanceof TransferError && e.code === TransferErrorCode.UNSAFE_FILE_NAME,
        JSON.stringify(name),
      );
    }
  });

  test('property: an accepted name is one path component that stays inside the directory', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (name) => {
        let ok = true;
        try {
          checkFileName(name);
        } catch (e) {
          assert.ok(e instanceof TransferError && e.code === TransferErrorCode.UNSAFE_FILE_NAME);
          ok = false;
        }
        if (ok) {
          assert.ok(!name.includes('/') && !name.includes('\\') && !name.includes('\0'));
          assert.ok(name !== '.' && name !== '..' && name.length > 0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
