/**
 * Golden vectors (test/vectors/frames.json, derived by hand from the layouts in wire/codec.ts and
 * docs/PROTOCOL.md): every frame type, the recovery frames included, encodes to exactly its hex,
 * and the hex decodes back to the frame, fed whole, byte by byte and in random splits.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { encodeFrame, type Frame, FrameType, PREFACE } from '@liaison/core';
import fc from 'fast-check';
import { cuts } from './arbitraries.js';
import {
  byteByByte,
  concatBytes,
  decodeChunks,
  frameFromJson,
  frameToJson,
  fromHex,
  splitAt,
  toHex,
} from './wire-util.js';

interface Vector {
  name: string;
  frame: unknown;
  hex: string;
}
/** Fixed-size byte fields of the recovery frames, hex in the JSON like the fields frameFromJson knows. */
const RECOVERY_BYTE_FIELDS = ['sessionId', 'clientNonce', 'proof', 'nonce'];

function vectorFrame(json: unknown): Frame {
  const f = frameFromJson(json) as unknown as Record<string, unknown>;
  for (const key of RECOVERY_BYTE_FIELDS) {
    const v = f[key];
    if (typeof v === 'string') f[key] = fromHex(v);
  }
  const final = f.final as { proof?: unknown } | undefined;
  if (typeof final?.proof === 'string') final.proof = fromHex(final.proof);
  return f as unknown as Frame;
}

const file = JSON.parse(readFileSync(new URL('../test/vectors/frames.json', import.meta.url), 'utf8')) as {
  preface: string;
  frames: Vector[];
};

test('the vectors cover every frame type, the recovery frames included', () => {
  const covered = new Set(file.frames.map((v) => (v.frame as { type: number }).type));
  for (const [name, code] of Object.entries(FrameType)) assert.ok(covered.has(code), `no vector for ${name}`);
});

test('preface vector', () => {
  assert.equal(toHex(PREFACE), file.preface);
  const frame = file.frames[0] as Vector;
  const stream = concatBytes([fromHex(file.preface), fromHex(frame.hex)]);
  const got = decodeChunks([stream], { expectPreface: true });
  assert.deepStrictEqual(got.map(frameToJson), [frame.frame]);
});

for (const v of file.frames) {
  test(`vector: ${v.name}`, () => {
    const frame = vectorFrame(v.frame);
    const bytes = fromHex(v.hex);
    assert.equal(toHex(encodeFrame(frame)), toHex(bytes), 'encoding');
    assert.deepStrictEqual(decodeChunks([bytes]).map(frameToJson), [v.frame], 'decoding whole');
    assert.deepStrictEqual(decodeChunks(byteByByte(bytes)).map(frameToJson), [v.frame], 'decoding byte by byte');
  });
}

test('all vectors as one stream, in random splits', () => {
  const stream = concatBytes([fromHex(file.preface), ...file.frames.map((v) => fromHex(v.hex))]);
  const expected = file.frames.map((v) => v.frame);
  fc.assert(
    fc.property(cuts(stream.byteLength), (points) => {
      const got = decodeChunks(splitAt(stream, points), { expectPreface: true });
      assert.deepStrictEqual(got.map(frameToJson), expected);
    }),
    { numRuns: 200 },
  );
});
