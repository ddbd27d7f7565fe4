/**
 * The wire format: golden vectors (the README's table), a round trip of every frame, and bytes
 * that are not a frame giving the typed EventFrameError and nothing else.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeFrame,
  EVENT_NAME_BYTES_MAX,
  EventFrameError,
  EventsErrorCode,
  encodeAck,
  encodeEvent,
  jsonCodec,
  msgpackCodec,
} from '@liaison/events';
import fc from 'fast-check';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const utf8 = new TextEncoder();

describe('events frames', () => {
  test('golden vectors: event, event wanting an ack, ack reply', () => {
    assert.equal(hex(encodeEvent('hi', null, utf8.encode('[1]'))), `0102${hex(utf8.encode('hi[1]'))}`);
    assert.equal(hex(encodeEvent('hi', 7, utf8.encode('[]'))), `02000000070268695b5d`);
    assert.equal(hex(encodeAck(0x01020304, utf8.encode('["ok"]'))), `03010203045b226f6b225d`);
  });

  test('every frame decodes to what was encoded', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.option(fc.integer({ min: 0, max: 0xffff_ffff })),
        fc.uint8Array({ maxLength: 64 }),
        (name, ackId, payload) => {
          assert.deepEqual(decodeFrame(encodeEvent(name, ackId, payload)), { kind: 'event', name, ackId, payload });
          if (ackId !== null) assert.deepEqual(decodeFrame(encodeAck(ackId, payload)), { kind: 'ack', ackId, payload });
        },
      ),
    );
  });

  test('random bytes only ever decode or give EventFrameError with the bad-frame code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        try {
          decodeFrame(bytes);
        } catch (e) {
          assert.ok(e instanceof EventFrameError);
          assert.equal(e.code, EventsErrorCode.BAD_FRAME);
        }
      }),
    );
    for (const bad of [[], [0], [4, 1, 0x61], [1], [1, 0], [1, 3, 0x61], [2, 0, 0, 0], [3, 0, 0], [1, 1, 0xff]])
      assert.throws(() => decodeFrame(new Uint8Array(bad)), { code: EventsErrorCode.BAD_FRAME }, `[${bad}]`);
  });

  test('an event name is 1 to 255 UTF-8 bytes', () => {
    assert.throws(() => encodeEvent('', null, new Uint8Array()), { code: 'ERR_LIAISON_INVALID_ARGUMENT' });
    assert.throws(() => encodeEvent('é'.repeat(128), null, new Uint8Array()), { code: 'ERR_LIAISON_INVALID_ARGUMENT' });
    const longest = 'x'.repeat(EVENT_NAME_BYTES_MAX);
    assert.equal(decodeFrame(encodeEvent(longest, null, new Uint8Array())).kind, 'event');
  });

  test('codecs: JSON and MessagePack round trip argument lists; MessagePack keeps bytes binary', () => {
    const args = ['a', 1, null, { nested: [true, 2.5] }];
    assert.deepEqual(jsonCodec.decode(jsonCodec.encode(args)), args);
    assert.deepEqual(msgpackCodec.decode(msgpackCodec.encode(args)), args);
    const binary = msgpackCodec.decode(msgpackCodec.encode([new Uint8Array([0, 255, 7])])) as unknown[];
    assert.ok(binary[0] instanceof Uint8Array);
    assert.deepEqual([...(binary[0] as Uint8Array)], [0, 255, 7]);
    // What the README says JSON does with bytes: an object with index keys.
    assert.deepEqual(jsonCodec.decode(jsonCodec.encode([new Uint8Array([5, 6])])), [{ 0: 5, 1: 6 }]);
  });
});
