/**
 * Helpers shared by the wire tests: hex conversion, frames to and from the JSON form used by the
 * golden vectors (byte fields as hex strings), and decoding a whole byte stream.
 */
import { concatBytes, type Frame, FrameDecoder } from '@liaison/core';

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex: ${hex}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

const BYTE_FIELDS = new Set(['userData', 'payload', 'value', 'id', 'oldId']);

/** A frame with every byte field turned into hex, comparable with deepStrictEqual. */
export function frameToJson(f: Frame): unknown {
  return convert(f, (v) => (v instanceof Uint8Array ? toHex(v) : v));
}

export function frameFromJson(json: unknown): Frame {
  return convert(json, (v, key) => (BYTE_FIELDS.has(key) && typeof v === 'string' ? fromHex(v) : v)) as Frame;
}

function convert(value: unknown, leaf: (v: unknown, key: string) => unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => convert(v, leaf, key));
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = convert(v, leaf, k);
    return out;
  }
  return leaf(value, key);
}

export const WIDE_LIMITS = { frameBytesMax: 16 * 1024 * 1024, userDataBytesMax: 0xffff };

/** Feeds `chunks` to a fresh decoder, draining after each push; returns every frame decoded. */
export function decodeChunks(
  chunks: readonly Uint8Array[],
  options: { expectPreface?: boolean; limits?: { frameBytesMax: number; userDataBytesMax: number } } = {},
): Frame[] {
  const d = new FrameDecoder(options.limits ?? WIDE_LIMITS, { expectPreface: options.expectPreface ?? false });
  const out: Frame[] = [];
  for (const c of chunks) {
    d.push(c);
    for (let f = d.next(); f !== null; f = d.next()) out.push(f);
  }
  return out;
}

export { concatBytes };

/** Splits `bytes` at the given cut points (any order, duplicates and out-of-range ignored). */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.byteLength))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.byteLength]) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  return out;
}

export function byteByByte(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
}

/** A frame built byte by byte, bypassing the encoder, so that it can be wrong. */
export function rawFrame(type: number, flags: number, channel: number, payload: Uint8Array | string): Uint8Array {
  const body = typeof payload === 'string' ? fromHex(payload) : payload;
  const out = new Uint8Array(10 + body.byteLength);
  const v = new DataView(out.buffer);
  v.setUint8(0, type);
  v.setUint8(1, flags);
  v.setUint32(2, channel);
  v.setUint32(6, body.byteLength);
  out.set(body, 10);
  return out;
}
