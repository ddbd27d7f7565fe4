/**
 * The incremental decoder's checks: the preface byte by byte, the frame limit at the header, and
 * every per-frame rule (reserved flags, channel 0, trailing bytes, truncation, limits), each with
 * its AbortCode. After an error the decoder is poisoned and throws the same error again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortCode, abortCodeName, encodeFrame, FrameDecoder, FrameType, PREFACE, ProtocolError } from '@liaison/core';
import { concatBytes, fromHex, rawFrame } from './wire-util.js';

const LIMITS = { frameBytesMax: 1024, userDataBytesMax: 8 };

function decoder(expectPreface = false, limits = LIMITS): FrameDecoder {
  return new FrameDecoder(limits, { expectPreface });
}

function expectCode(fn: () => unknown, code: AbortCode): ProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ProtocolError, `expected ProtocolError ${abortCodeName(code)}, got ${String(caught)}`);
  assert.equal(abortCodeName(caught.wireCode), abortCodeName(code), caught.message);
  return caught;
}

test('preface: need more until all four bytes arrive', () => {
  const d = decoder(true);
  for (const b of PREFACE) {
    assert.equal(d.next(), null);
    d.push(Uint8Array.of(b));
  }
  assert.equal(d.next(), null);
  d.push(encodeFrame({ type: FrameType.PING, channel: 0, stamp: 1 }));
  assert.equal(d.next()?.type, FrameType.PING);
});

test('preface: a wrong first byte fails at once with BAD_PREFACE', () => {
  const d = decoder(true);
  d.push(Uint8Array.of(0x47)); // "G" of "GET / HTTP/1.1"
  expectCode(() => d.next(), AbortCode.BAD_PREFACE);
});

test('preface: a TLS ClientHello fails on its first byte', () => {
  const d = decoder(true);
  d.push(Uint8Array.of(0x16));
  expectCode(() => d.next(), AbortCode.BAD_PREFACE);
});

test('preface: a wrong second or third byte fails as soon as it arrives', () => {
  for (const bad of [Uint8Array.of(0x4c, 0x00), Uint8Array.of(0x4c, 0x53, 0x4d)]) {
    const d = decoder(true);
    for (let i = 0; i < bad.length - 1; i++) {
      d.push(bad.subarray(i, i + 1));
      assert.equal(d.next(), null);
    }
    d.push(bad.subarray(bad.length - 1));
    expectCode(() => d.next(), AbortCode.BAD_PREFACE);
  }
});

test('preface: a wrong version byte gives UNSUPPORTED_VERSION', () => {
  for (const version of [0x00, 0x02, 0xff]) {
    const d = decoder(true);
    d.push(Uint8Array.of(0x4c, 0x53, 0x4e));
    assert.equal(d.next(), null);
    d.push(Uint8Array.of(version));
    expectCode(() => d.next(), AbortCode.UNSUPPORTED_VERSION);
  }
});

test('frame limit: an oversized declared length fails once the 10-byte header is in, before any payload', () => {
  const header = rawFrame(FrameType.DATA, 1, 1, new Uint8Array(0));
  new DataView(header.buffer).setUint32(6, 1024 - 10 + 1); // one byte over frameBytesMax
  const d = decoder();
  for (let i = 0; i < 9; i++) {
    d.push(header.subarray(i, i + 1));
    assert.equal(d.next(), null, `need more after ${i + 1} header bytes`);
  }
  d.push(header.subarray(9));
  expectCode(() => d.next(), AbortCode.FRAME_TOO_LARGE);
});

test('frame limit: a declared length of 2^32-1 fails at the header', () => {
  const d = decoder();
  d.push(fromHex('10 01 00000001 ffffffff'));
  expectCode(() => d.next(), AbortCode.FRAME_TOO_LARGE);
});

test('frame limit: a frame of exactly frameBytesMax is accepted', () => {
  const d = decoder();
  const frame = rawFrame(FrameType.DATA, 1, 1, new Uint8Array(1024 - 10));
  d.push(frame.subarray(0, 10));
  assert.equal(d.next(), null, 'waits for the payload');
  d.push(frame.subarray(10));
  const f = d.next();
  assert.equal(f?.type, FrameType.DATA);
  assert.equal(f?.type === FrameType.DATA && f.payload.byteLength, 1014);
});

/** [what, bytes, expected code]: each must fail alone, fed whole and byte by byte. */
const MALFORMED: [string, Uint8Array, AbortCode][] = [
  ['DATA with reserved flag 0x04', rawFrame(FrameType.DATA, 0x04, 1, '00'), AbortCode.MALFORMED_FRAME],
  ['TYPED_DATA with flag 0x80', rawFrame(FrameType.TYPED_DATA, 0x81, 1, '00'), AbortCode.MALFORMED_FRAME],
  ['FINISH with the END flag', rawFrame(FrameType.FINISH, 0x01, 1, '0000'), AbortCode.MALFORMED_FRAME],
  ['EXPEDITED with a flag', rawFrame(FrameType.EXPEDITED, 0x01, 1, '00'), AbortCode.MALFORMED_FRAME],
  ['PING with a flag', rawFrame(FrameType.PING, 0x01, 0, '0000000000000000'), AbortCode.MALFORMED_FRAME],
  ['DATA on channel 0', rawFrame(FrameType.DATA, 1, 0, '00'), AbortCode.MALFORMED_FRAME],
  ['FINISH on channel 0', rawFrame(FrameType.FINISH, 0, 0, '0000'), AbortCode.MALFORMED_FRAME],
  [
    'CONNECT on channel 0',
    rawFrame(FrameType.CONNECT, 0, 0, `0101 0009 ${'00000400'.repeat(5)} 00 0000`),
    AbortCode.MALFORMED_FRAME,
  ],
  ['ACK on channel 0', rawFrame(FrameType.ACK, 0, 0, '00'.repeat(16)), AbortCode.MALFORMED_FRAME],
  ['PING on a session channel', rawFrame(FrameType.PING, 0, 1, '00'.repeat(8)), AbortCode.MALFORMED_FRAME],
  ['PONG on a session channel', rawFrame(FrameType.PONG, 0, 3, '00'.repeat(8)), AbortCode.MALFORMED_FRAME],
  [
    'CONNECTION_CLOSE on a session channel',
    rawFrame(FrameType.CONNECTION_CLOSE, 0, 5, '0000 0000'),
    AbortCode.MALFORMED_FRAME,
  ],
  ['FINISH with a trailing byte', rawFrame(FrameType.FINISH, 0, 1, '0000 00'), AbortCode.MALFORMED_FRAME],
  ['PING with 9 bytes', rawFrame(FrameType.PING, 0, 0, '00'.repeat(9)), AbortCode.MALFORMED_FRAME],
  ['REFUSE with trailing bytes', rawFrame(FrameType.REFUSE, 0, 1, '0001 0000 ffff'), AbortCode.MALFORMED_FRAME],
  ['PING truncated', rawFrame(FrameType.PING, 0, 0, '00'.repeat(7)), AbortCode.MALFORMED_FRAME],
  ['ACK truncated', rawFrame(FrameType.ACK, 0, 1, '00'.repeat(15)), AbortCode.MALFORMED_FRAME],
  ['REFUSE with one byte', rawFrame(FrameType.REFUSE, 0, 1, '00'), AbortCode.MALFORMED_FRAME],
  ['FINISH empty payload', rawFrame(FrameType.FINISH, 0, 1, ''), AbortCode.MALFORMED_FRAME],
  ['user data shorter than declared', rawFrame(FrameType.DISCONNECT, 0, 1, '0005 616263'), AbortCode.MALFORMED_FRAME],
  ['ABORT message truncated', rawFrame(FrameType.ABORT, 0, 1, '01 0007 0009 6162'), AbortCode.MALFORMED_FRAME],
  [
    'CONNECT cut after the limits',
    rawFrame(FrameType.CONNECT, 0, 1, `0101 0009 ${'00000400'.repeat(5)}`),
    AbortCode.MALFORMED_FRAME,
  ],
  [
    'CONNECT extension truncated',
    rawFrame(FrameType.CONNECT, 0, 1, `0101 0009 ${'00000400'.repeat(5)} 01 07 0004 61`),
    AbortCode.MALFORMED_FRAME,
  ],
  [
    'ACCEPT reserved byte set',
    rawFrame(FrameType.ACCEPT, 0, 1, `01 01 0009 ${'00000400'.repeat(5)} 00 0000`),
    AbortCode.MALFORMED_FRAME,
  ],
  ['ABORT origin 2', rawFrame(FrameType.ABORT, 0, 1, '02 0000 0000 0000'), AbortCode.MALFORMED_FRAME],
  ['ABORT message not UTF-8', rawFrame(FrameType.ABORT, 0, 1, '01 0001 0002 c328 0000'), AbortCode.MALFORMED_FRAME],
  [
    'CONNECTION_CLOSE message not UTF-8',
    rawFrame(FrameType.CONNECTION_CLOSE, 0, 0, '0001 0001 ff'),
    AbortCode.MALFORMED_FRAME,
  ],
  ['ACK beyond 2^53', rawFrame(FrameType.ACK, 0, 1, '00200000 00000000 00000000 00000000'), AbortCode.MALFORMED_FRAME],
  ['unknown frame type 0x60', rawFrame(0x60, 0, 1, ''), AbortCode.UNKNOWN_FRAME_TYPE],
  ['unknown frame type 0xff on channel 0', rawFrame(0xff, 0xff, 0, '0102'), AbortCode.UNKNOWN_FRAME_TYPE],
  [
    'user data over the limit (9 > 8)',
    rawFrame(FrameType.FINISH, 0, 1, `0009 ${'61'.repeat(9)}`),
    AbortCode.LIMIT_EXCEEDED,
  ],
  [
    'REFUSE user data over the limit',
    rawFrame(FrameType.REFUSE, 0, 1, `0000 0009 ${'61'.repeat(9)}`),
    AbortCode.LIMIT_EXCEEDED,
  ],
  [
    'CONNECT user data over the limit',
    rawFrame(FrameType.CONNECT, 0, 1, `0101 0009 ${'00000400'.repeat(5)} 00 0009 ${'61'.repeat(9)}`),
    AbortCode.LIMIT_EXCEEDED,
  ],
  [
    'user data length declared over the limit, bytes absent',
    rawFrame(FrameType.NOT_FINISHED, 0, 1, 'ffff'),
    AbortCode.LIMIT_EXCEEDED,
  ],
  [
    '33 extensions',
    rawFrame(FrameType.CONNECT, 0, 1, `0101 0009 ${'00000400'.repeat(5)} 21`),
    AbortCode.LIMIT_EXCEEDED,
  ],
  [
    'ABORT message of 257 bytes',
    rawFrame(FrameType.ABORT, 0, 1, `01 0001 0101 ${'61'.repeat(257)} 0000`),
    AbortCode.LIMIT_EXCEEDED,
  ],
  ['EXPEDITED of 15 bytes', rawFrame(FrameType.EXPEDITED, 0, 1, '00'.repeat(15)), AbortCode.LIMIT_EXCEEDED],
];

for (const [what, bytes, code] of MALFORMED) {
  test(`malformed: ${what} -> ${abortCodeName(code)}`, () => {
    const whole = decoder();
    whole.push(bytes);
    expectCode(() => whole.next(), code);

    const trickle = decoder();
    let error: unknown = null;
    for (let i = 0; i < bytes.byteLength && error === null; i++) {
      trickle.push(bytes.subarray(i, i + 1));
      try {
        assert.equal(trickle.next(), null, 'no frame may come out of a malformed one');
      } catch (e) {
        error = e;
        assert.equal(i, bytes.byteLength - 1, 'fails only once the whole frame is in');
      }
    }
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.wireCode, code);
  });
}

test('accepted at the edges: user data of exactly the limit, 32 extensions, 256-byte message, 14-byte expedited', () => {
  const ok = [
    rawFrame(FrameType.FINISH, 0, 1, `0008 ${'61'.repeat(8)}`),
    rawFrame(FrameType.CONNECT, 0, 1, `0101 0009 ${'00000400'.repeat(5)} 20 ${'01 0000'.repeat(32)} 0000`),
    rawFrame(FrameType.ABORT, 0, 1, `01 0001 0100 ${'61'.repeat(256)} 0000`),
    rawFrame(FrameType.EXPEDITED, 0, 1, '00'.repeat(14)),
    rawFrame(0x41, 0, 0, '7ff8000000000000'), // PING with a NaN stamp decodes; the engine ignores it
  ];
  const d = decoder();
  d.push(concatBytes(ok));
  let n = 0;
  while (d.next() !== null) n++;
  assert.equal(n, ok.length);
});

test('after an error the decoder keeps throwing the same error, whatever is pushed next', () => {
  const d = decoder(true);
  d.push(Uint8Array.of(0x4c, 0x53, 0x4e, 0x01));
  d.push(rawFrame(FrameType.DATA, 0x04, 1, '00'));
  const first = expectCode(() => d.next(), AbortCode.MALFORMED_FRAME);
  d.push(encodeFrame({ type: FrameType.PING, channel: 0, stamp: 1 }));
  for (let i = 0; i < 3; i++) {
    assert.throws(
      () => d.next(),
      (e) => e === first,
    );
  }
});

test('after a bad preface the decoder stays failed', () => {
  const d = decoder(true);
  d.push(PREFACE.slice().fill(0x20));
  const first = expectCode(() => d.next(), AbortCode.BAD_PREFACE);
  d.push(encodeFrame({ type: FrameType.PING, channel: 0, stamp: 1 }));
  assert.throws(
    () => d.next(),
    (e) => e === first,
  );
});

test('frames after a malformed one in the same chunk are never returned', () => {
  const good = encodeFrame({ type: FrameType.FINISH, channel: 1, userData: new Uint8Array(0) });
  const d = decoder();
  d.push(concatBytes([good, rawFrame(FrameType.FINISH, 0, 1, '000000'), good]));
  assert.equal(d.next()?.type, FrameType.FINISH);
  expectCode(() => d.next(), AbortCode.MALFORMED_FRAME);
  expectCode(() => d.next(), AbortCode.MALFORMED_FRAME);
});

test('empty pushes change nothing', () => {
  const d = decoder();
  d.push(new Uint8Array(0));
  assert.equal(d.bufferedBytes, 0);
  assert.equal(d.next(), null);
  const f = encodeFrame({ type: FrameType.PONG, channel: 0, stamp: 2 });
  d.push(f.subarray(0, 3));
  d.push(new Uint8Array(0));
  d.push(f.subarray(3));
  assert.equal(d.bufferedBytes, f.byteLength);
  assert.equal(d.next()?.type, FrameType.PONG);
  assert.equal(d.bufferedBytes, 0);
});
