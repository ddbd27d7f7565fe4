/**
 * The named-token registry on its own: exclusive grants, FIFO queues, withdrawal, release of
 * everything an owner had, and every bound refused with its code and nothing changed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodePayload,
  ErrorCode,
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameType,
  NamedTokenRefusedError,
  ProtocolError,
  resolveNamedTokenLimits,
  TokenRefuseCode,
  TokenRegistry,
  UsageError,
} from '@liaison/core';
import fc from 'fast-check';

const refusedWith = (code: number) => (e: unknown) =>
  e instanceof NamedTokenRefusedError && e.refuseCode === code && e.code === ErrorCode.NAMED_TOKEN_REFUSED;

describe('TokenRegistry', () => {
  test('a free name is granted at once; others queue in request order', () => {
    const r = new TokenRegistry<string>();
    assert.equal(r.acquire('printer', 'a'), 'granted');
    assert.equal(r.acquire('printer', 'b'), 'queued');
    assert.equal(r.acquire('printer', 'c'), 'queued');
    assert.equal(r.acquire('row:42', 'c'), 'granted');
    assert.equal(r.holder('printer'), 'a');
    assert.deepEqual(r.waiting('printer'), ['b', 'c']);
    assert.deepEqual(r.heldBy('c'), ['row:42']);
    assert.deepEqual(r.waitingFor('c'), ['printer']);
  });

  test('the holder releases to the first waiter, then the next, then the name is free', () => {
    const r = new TokenRegistry<string>();
    r.acquire('p', 'a');
    r.acquire('p', 'b');
    r.acquire('p', 'c');
    assert.deepEqual(r.release('p', 'a'), { was: 'held', granted: 'b' });
    assert.equal(r.holder('p'), 'b');
    assert.deepEqual(r.release('p', 'b'), { was: 'held', granted: 'c' });
    assert.deepEqual(r.release('p', 'c'), { was: 'held', granted: null });
    assert.equal(r.holder('p'), undefined);
    assert.equal(r.size, 0);
  });

  test('a waiter withdraws without disturbing the holder or the order of the others', () => {
    const r = new TokenRegistry<string>();
    r.acquire('p', 'a');
    r.acquire('p', 'b');
    r.acquire('p', 'c');
    assert.deepEqual(r.release('p', 'b'), { was: 'waiting', granted: null });
    assert.equal(r.holder('p'), 'a');
    assert.deepEqual(r.waiting('p'), ['c']);
    // A release by an owner that neither holds nor waits (a withdrawal crossing its answer) changes nothing.
    assert.deepEqual(r.release('p', 'b'), { was: 'none', granted: null });
    assert.deepEqual(r.release('unknown', 'b'), { was: 'none', granted: null });
    assert.equal(r.holder('p'), 'a');
  });

  test('releaseAll gives up holdings (granting the next) and withdraws waits', () => {
    const r = new TokenRegistry<string>();
    r.acquire('x', 'a');
    r.acquire('y', 'a');
    r.acquire('x', 'b');
    r.acquire('z', 'b');
    r.acquire('z', 'a');
    assert.deepEqual(r.releaseAll('a'), [{ name: 'x', owner: 'b' }]);
    assert.equal(r.holder('x'), 'b');
    assert.equal(r.holder('y'), undefined);
    assert.deepEqual(r.waiting('z'), []);
    assert.deepEqual(r.heldBy('a'), []);
    assert.deepEqual(r.releaseAll('nobody'), []);
  });

  test('the same owner cannot ask twice for a name it holds or waits for', () => {
    const r = new TokenRegistry<string>();
    r.acquire('p', 'a');
    r.acquire('p', 'b');
    assert.throws(() => r.acquire('p', 'a'), refusedWith(TokenRefuseCode.ALREADY_REQUESTED));
    assert.throws(() => r.acquire('p', 'b'), refusedWith(TokenRefuseCode.ALREADY_REQUESTED));
    assert.deepEqual(r.waiting('p'), ['b']);
  });

  test('bounds: names per owner, waiters per name, name bytes; a refusal changes nothing', () => {
    const r = new TokenRegistry<string>({ tokensPerSessionMax: 2, waitersPerTokenMax: 1, nameBytesMax: 4 });
    r.acquire('a', 'o');
    r.acquire('b', 'o');
    assert.throws(() => r.acquire('c', 'o'), refusedWith(TokenRefuseCode.TOO_MANY_TOKENS));
    assert.equal(r.holder('c'), undefined);
    r.acquire('a', 'p');
    assert.throws(() => r.acquire('a', 'q'), refusedWith(TokenRefuseCode.QUEUE_FULL));
    assert.deepEqual(r.waiting('a'), ['p']);
    assert.throws(
      () => r.acquire('ééé', 'q'),
      (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_ARGUMENT,
    );
    assert.throws(
      () => r.acquire('', 'q'),
      (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_ARGUMENT,
    );
    // A released slot is usable again.
    r.release('a', 'o');
    assert.equal(r.acquire('c', 'o'), 'granted');
  });

  test('limits are validated', () => {
    assert.throws(() => resolveNamedTokenLimits({ nameBytesMax: 0 }), UsageError);
    assert.throws(() => resolveNamedTokenLimits({ nameBytesMax: 1025 }), UsageError);
    assert.throws(() => resolveNamedTokenLimits({ tokensPerSessionMax: 1.5 }), UsageError);
    assert.equal(resolveNamedTokenLimits().tokensPerSessionMax, 64);
  });
});

describe('named-token frames on the wire', () => {
  const name = fc
    .string({ minLength: 1, maxLength: 40 })
    .filter((s) => s === new TextDecoder().decode(new TextEncoder().encode(s)));
  const frame: fc.Arbitrary<Frame> = fc.oneof(
    fc
      .record({
        type: fc.constantFrom(
          FrameType.NAMED_TOKEN_ACQUIRE,
          FrameType.NAMED_TOKEN_RELEASE,
          FrameType.NAMED_TOKEN_GRANT,
        ),
        channel: fc.integer({ min: 1, max: 0xffff_ffff }),
        name,
      })
      .map((f) => ({ ...f }) as Frame),
    fc
      .record({ channel: fc.integer({ min: 1, max: 0xffff_ffff }), code: fc.integer({ min: 0, max: 0xffff }), name })
      .map((f) => ({ type: FrameType.NAMED_TOKEN_REFUSE, ...f }) as Frame),
  );

  test('encode then decode gives the frame back, whole or split anywhere', () => {
    fc.assert(
      fc.property(frame, fc.integer({ min: 1, max: 64 }), (f, step) => {
        const bytes = encodeFrame(f);
        const chunks: Uint8Array[] = [];
        for (let at = 0; at < bytes.byteLength; at += step) chunks.push(bytes.subarray(at, at + step));
        const d = new FrameDecoder({ frameBytesMax: 1 << 20, userDataBytesMax: 0xffff }, { expectPreface: false });
        const out: Frame[] = [];
        for (const c of chunks) {
          d.push(c);
          for (let g = d.next(); g !== null; g = d.next()) out.push(g);
        }
        assert.deepEqual(out, [f]);
      }),
    );
  });

  test('an empty name, invalid UTF-8, a name over 1024 bytes or trailing bytes are typed decode errors', () => {
    const bad = [
      Uint8Array.of(0, 0), // empty name
      Uint8Array.of(0, 2, 0xc3, 0x28), // invalid UTF-8
      Uint8Array.of(0, 1, 0x41, 0x00), // trailing byte
      (() => {
        const b = new Uint8Array(2 + 1025).fill(0x61);
        b[0] = 0x04;
        b[1] = 0x01;
        return b;
      })(),
    ];
    for (const payload of bad) {
      assert.throws(
        () => decodePayload(FrameType.NAMED_TOKEN_GRANT, 0, 1, payload, 0xffff),
        (e) => e instanceof ProtocolError,
      );
    }
    assert.throws(
      () => decodePayload(FrameType.NAMED_TOKEN_ACQUIRE, 0, 0, Uint8Array.of(0, 1, 0x41), 0xffff),
      (e) => e instanceof ProtocolError,
      'not on the connection channel',
    );
    assert.throws(
      () => decodePayload(FrameType.NAMED_TOKEN_ACQUIRE, 1, 1, Uint8Array.of(0, 1, 0x41), 0xffff),
      (e) => e instanceof ProtocolError,
      'no flags',
    );
  });
});
