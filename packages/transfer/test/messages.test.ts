import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TransferError, TransferErrorCode } from '@liaison/transfer';
import fc from 'fast-check';
import {
  decodeAnswer,
  decodeFileEnd,
  decodeFileStart,
  decodeOffer,
  decodeSyncPoint,
  decodeVerdict,
  encode,
} from '../dist/messages.js';

const count = fc.maxSafeNat();
const sha = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const id = fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => Buffer.from(b).toString('hex'));

describe('transfer messages', () => {
  test('round trips', () => {
    fc.assert(
      fc.property(
        fc.string(),
        count,
        count,
        count,
        count,
        sha,
        id,
        (name, size, mtimeMs, n, serial, sha256, activityId) => {
          assert.deepEqual(decodeOffer(encode({ t: 'offer', name, size, mtimeMs })), {
            t: 'offer',
            name,
            size,
            mtimeMs,
          });
          const answers = [
            { t: 'answer', name, action: 'start' },
            { t: 'answer', name, action: 'resume', fromByte: n, serial, activityId },
            { t: 'answer', name, action: 'done', sha256 },
            { t: 'refuse', name, code: 'X', message: 'why' },
          ] as const;
          for (const a of answers) assert.deepEqual(decodeAnswer(encode(a)), a);
          const start = { t: 'file', name, size, mtimeMs, fromByte: n } as const;
          assert.deepEqual(decodeFileStart(encode(start)), start);
          assert.deepEqual(decodeSyncPoint(encode({ offset: n })), { offset: n });
          assert.deepEqual(decodeFileEnd(encode({ size, sha256 })), { size, sha256 });
          assert.deepEqual(decodeVerdict(encode({ ok: true, sha256 })), { ok: true, sha256 });
          assert.deepEqual(decodeVerdict(encode({ ok: false, code: 'C', message: 'm' })), {
            ok: false,
            code: 'C',
            message: 'm',
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  test('bad bytes from the peer only ever give TRANSFER_PROTOCOL', () => {
    const decoders = [decodeOffer, decodeAnswer, decodeFileStart, decodeSyncPoint, decodeFileEnd, decodeVerdict];
    const isProtocol = (e: unknown) => e instanceof TransferError && e.code === TransferErrorCode.TRANSFER_PROTOCOL;
    for (const text of [
      '',
      'null',
      '[]',
      '{}',
      '{"offset":-1}',
      '{"offset":1.5}',
      '{"t":"answer","name":"a","action":"fly"}',
    ])
      for (const d of decoders) assert.throws(() => d(new TextEncoder().encode(text)), isProtocol, text);
    assert.throws(() => decodeFileEnd(encode({ size: 1, sha256: 'ABC' })), isProtocol);
    assert.throws(
      () =>
        decodeAnswer(
          encode({ t: 'answer', name: 'a', action: 'resume', fromByte: 1, serial: 1, activityId: 'zz' } as never),
        ),
      isProtocol,
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        for (const d of decoders) {
          try {
            d(bytes);
          } catch (e) {
            assert.ok(isProtocol(e));
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
