import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatBytes, parseByteSize } from '@liaison/transfer';

describe('parseByteSize', () => {
  test('binary and decimal units, case-insensitive', () => {
    assert.equal(parseByteSize('4MiB'), 4 * 1024 * 1024);
    assert.equal(parseByteSize('4M'), 4 * 1024 * 1024);
    assert.equal(parseByteSize('4mb'), 4_000_000);
    assert.equal(parseByteSize('512KiB'), 512 * 1024);
    assert.equal(parseByteSize('65536'), 65536);
    assert.equal(parseByteSize('1 GiB'), 1024 ** 3);
    assert.equal(parseByteSize('1.5KiB'), 1536);
  });

  test('anything else is a RangeError', () => {
    for (const bad of ['', 'MiB', '-1', '4 parsecs', '1e3', '0x10', '4MiBs'])
      assert.throws(() => parseByteSize(bad), RangeError, bad);
  });

  test('formatBytes', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(4 * 1024 * 1024), '4.0 MiB');
    assert.equal(formatBytes(200 * 1024 * 1024), '200 MiB');
  });
});
