/**
 * Codecs turn an event's argument list into the payload bytes and back. JSON is the default;
 * MessagePack (via @msgpack/msgpack) keeps Uint8Array arguments binary.
 */
import { decode, encode } from '@msgpack/msgpack';

export interface Codec {
  /** For messages and docs only: both sides must be configured with the same codec. */
  readonly name: string;
  encode(args: readonly unknown[]): Uint8Array;
  /** Throws on bytes this codec cannot read; the caller turns that into an EventFrameError. */
  decode(bytes: Uint8Array): unknown;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON, as Socket.IO users know it. JSON has no binary type: a Uint8Array argument arrives as an
 * object with index keys ({"0":1,"1":2}); use msgpackCodec for binary. `undefined` inside an
 * array becomes null, as JSON.stringify does.
 */
export const jsonCodec: Codec = {
  name: 'json',
  encode: (args) => utf8.encode(JSON.stringify(args)),
  decode: (bytes) => JSON.parse(fromUtf8.decode(bytes)),
};

/** MessagePack: binary arguments stay Uint8Array, and payloads are smaller than JSON's. */
export const msgpackCodec: Codec = {
  name: 'msgpack',
  encode: (args) => encode(args),
  decode: (bytes) => decode(bytes),
};
