/**
 * Property tests of the codec: for every frame type, encode then decode gives the frame back;
 * a stream of random frames decodes to the same frames fed whole, byte by byte and in random splits.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodePayload, encodeFrame, type Frame, FrameDecoder, FrameType, PREFACE } from '@liaison/core';
import fc from 'fast-check';
import { anyFrame, cuts, frameByType, V1_FRAME_TYPES } from './arbitraries.js';
import { byteByByte, concatBytes, decodeChunks, frameToJson, splitAt, WIDE_LIMITS } from './wire-util.js';

for (const name of V1_FRAME_TYPES) {
  test(`round trip: ${name}`, () => {
    fc.assert(
      fc.property(frameByType[name], (frame) => {
        const bytes = encodeFrame(frame);
        assert.equal(bytes[0], FrameType[name]);
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        assert.equal(view.getUint32(6), bytes.byteLength - 10, 'declared payload length');
        const decoded = decodeChunks([bytes]);
        assert.deepStrictEqual(decoded.map(frameToJson), [frameToJson(frame)]);
        // The one-shot payload decoder agrees with the incremental one.
        const direct = decodePayload(bytes[0]!, bytes[1]!, view.getUint32(2), bytes.subarray(10), 0xffff);
        assert.deepStrictEqual(frameToJson(direct), frameToJson(frame));
      }),
      { numRuns: 150 },
    );
  });
}

function streamOf(frames: Frame[]): Uint8Array {
  return concatBytes([PREFACE, ...frames.map(encodeFrame)]);
}

test('a stream of random frames decodes whole, byte by byte and in random splits', () => {
  fc.assert(
    fc.property(fc.array(anyFrame, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (frames, rawCuts) => {
      const stream = streamOf(frames);
      const expected = frames.map(frameToJson);
      assert.deepStrictEqual(decodeChunks([stream], { expectPreface: true }).map(frameToJson), expected);
      assert.deepStrictEqual(decodeChunks(byteByByte(stream), { expectPreface: true }).map(frameToJson), expected);
      const points = rawCuts.map((c) => c % (stream.byteLength + 1));
      assert.deepStrictEqual(decodeChunks(splitAt(stream, points), { expectPreface: true }).map(frameToJson), expected);
    }),
    { numRuns: 150 },
  );
});

test('decoded frames survive later pushes (views are never overwritten)', () => {
  fc.assert(
    fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 8 }), cuts(4096), (frames, points) => {
      const stream = streamOf(frames);
      const copy = stream.slice();
      const chunks = splitAt(copy, points);
      const got = decodeChunks(chunks, { expectPreface: true });
      const snapshot = got.map(frameToJson);
      copy.fill(0xee); // a driver reusing its read buffer after the frames were handed out
      assert.deepStrictEqual(snapshot, frames.map(frameToJson));
    }),
    { numRuns: 50 },
  );
});

test('bufferedBytes never exceeds one frame plus the chunk being consumed', () => {
  fc.assert(
    fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 10 }), cuts(8192), (frames, points) => {
      const stream = streamOf(frames);
      const biggest = Math.max(...frames.map((f) => encodeFrame(f).byteLength));
      const d = new FrameDecoder(WIDE_LIMITS, { expectPreface: true });
      let decoded = 0;
      for (const chunk of splitAt(stream, points)) {
        d.push(chunk);
        assert.ok(d.bufferedBytes <= biggest + chunk.byteLength, `${d.bufferedBytes} bytes buffered`);
        while (d.next() !== null) decoded++;
      }
      assert.equal(decoded, frames.length);
      assert.equal(d.bufferedBytes, 0);
    }),
    { numRuns: 50 },
  );
});
