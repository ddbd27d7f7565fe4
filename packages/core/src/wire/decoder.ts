/**
 * The incremental frame decoder: `push(bytes)` with bytes split anywhere, then `next()` until it
 * returns null ("need more"). Theory of operation:
 * - The preface is checked byte by byte as it arrives, so a stranger (an HTTP request, TLS hello)
 *   is refused on its first wrong byte.
 * - A frame's declared length is checked against `frameBytesMax` the moment its header is
 *   complete, before any of its payload is buffered.
 * - A frame that lies inside one pushed chunk is returned as a view of it (no copy); one that
 *   spans chunks is copied once into a buffer of exactly its size.
 * - Buffered bytes never exceed one frame plus the chunk being consumed, provided the caller drains
 *   `next()` after each `push()`.
 * Errors are ProtocolErrors; after one, the decoder is poisoned and throws it again.
 */

import { noiseVariantPattern } from '../crypto/preface.js';
import { AbortCode, ProtocolError } from '../errors.js';
import { decodePayload } from './codec.js';
import { CONTROL_FRAME_BYTES_MAX, FRAMING_VERSION, type Frame, FrameType, HEADER_BYTES, PREFACE } from './frame.js';

export interface DecoderLimits {
  /** Largest frame (header included) this side accepts. */
  frameBytesMax: number;
  /** Largest user-data field accepted in any frame. */
  userDataBytesMax: number;
}

export class FrameDecoder {
  readonly #limits: DecoderLimits;
  #chunks: Uint8Array[] = [];
  #offset = 0; // read position in #chunks[0]
  #buffered = 0;
  #prefaceSeen: number;
  #failure: ProtocolError | null = null;
  readonly #header = new Uint8Array(HEADER_BYTES);

  constructor(limits: DecoderLimits, options: { expectPreface: boolean }) {
    this.#limits = limits;
    this.#prefaceSeen = options.expectPreface ? 0 : PREFACE.byteLength;
  }

  /** Bytes received and not yet decoded. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    this.#chunks.push(bytes);
    this.#buffered += bytes.byteLength;
  }

  /**
   * The next complete frame, or null when more bytes are needed.
   * @throws ProtocolError on a bad preface, an oversized or malformed frame.
   */
  next(): Frame | null {
    if (this.#failure) throw this.#failure;
    try {
      if (this.#prefaceSeen < PREFACE.byteLength && !this.#readPreface()) return null;
      return this.#readFrame();
    } catch (e) {
      if (e instanceof ProtocolError) this.#failure = e;
      throw e;
    }
  }

  #readPreface(): boolean {
    while (this.#prefaceSeen < PREFACE.byteLength && this.#buffered > 0) {
      const byte = this.#take(1)[0] as number;
      const i = this.#prefaceSeen++;
      if (i === PREFACE.byteLength - 1 && noiseVariantPattern(byte) !== null) {
        throw new ProtocolError(
          AbortCode.NOISE_UNAVAILABLE,
          'the peer asked for noise encryption, not configured here',
        );
      }
      if (i === PREFACE.byteLength - 1 && byte !== FRAMING_VERSION) {
        throw new ProtocolError(
          AbortCode.UNSUPPORTED_VERSION,
          `peer speaks framing version ${byte}, this side ${FRAMING_VERSION}`,
        );
      }
      if (i < PREFACE.byteLength - 1 && byte !== PREFACE[i]) {
        throw new ProtocolError(AbortCode.BAD_PREFACE, 'the peer does not speak the liaison protocol (bad preface)');
      }
    }
    return this.#prefaceSeen === PREFACE.byteLength;
  }

  #readFrame(): Frame | null {
    if (this.#buffered < HEADER_BYTES) return null;
    // The header usually lies in the first chunk: read it in place instead of copying it out.
    const first = this.#chunks[0] as Uint8Array;
    let h = first;
    let at = this.#offset;
    if (first.byteLength - at < HEADER_BYTES) {
      this.#peek(this.#header, HEADER_BYTES);
      h = this.#header;
      at = 0;
    }
    const type = h[at] as number;
    const flags = h[at + 1] as number;
    const channel =
      (((h[at + 2] as number) << 24) |
        ((h[at + 3] as number) << 16) |
        ((h[at + 4] as number) << 8) |
        (h[at + 5] as number)) >>>
      0;
    const length =
      (((h[at + 6] as number) << 24) |
        ((h[at + 7] as number) << 16) |
        ((h[at + 8] as number) << 8) |
        (h[at + 9] as number)) >>>
      0;
    const limit =
      type === FrameType.DATA || type === FrameType.TYPED_DATA
        ? this.#limits.frameBytesMax
        : Math.max(this.#limits.frameBytesMax, CONTROL_FRAME_BYTES_MAX);
    if (length + HEADER_BYTES > limit) {
      throw new ProtocolError(
        AbortCode.FRAME_TOO_LARGE,
        `frame of ${length + HEADER_BYTES} bytes exceeds the limit of ${limit}`,
      );
    }
    if (this.#buffered < HEADER_BYTES + length) return null;
    this.#skip(HEADER_BYTES);
    const payload = this.#take(length);
    return decodePayload(type, flags, channel, payload, this.#limits.userDataBytesMax);
  }

  /** Copies the first `n` buffered bytes into `into` without consuming them. */
  #peek(into: Uint8Array, n: number): void {
    let copied = 0;
    let offset = this.#offset;
    for (const chunk of this.#chunks) {
      const part = Math.min(n - copied, chunk.byteLength - offset);
      into.set(chunk.subarray(offset, offset + part), copied);
      copied += part;
      offset = 0;
      if (copied === n) return;
    }
  }

  #skip(n: number): void {
    const first = this.#chunks[0];
    if (first !== undefined && first.byteLength - this.#offset >= n) this.#advance(n);
    else this.#take(n);
  }

  /** Consumes `n` buffered bytes: a view when they lie in one chunk, else one exact copy. */
  #take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (n === 0) return EMPTY;
    if (first !== undefined && first.byteLength - this.#offset >= n) {
      // A plain Uint8Array view: cheaper than the chunk's own subarray when it is a subclass (Buffer).
      const out = new Uint8Array(first.buffer, first.byteOffset + this.#offset, n);
      this.#advance(n);
      return out;
    }
    const out = new Uint8Array(n);
    let copied = 0;
    while (copied < n) {
      const chunk = this.#chunks[0] as Uint8Array;
      const part = Math.min(n - copied, chunk.byteLength - this.#offset);
      out.set(chunk.subarray(this.#offset, this.#offset + part), copied);
      copied += part;
      this.#advance(part);
    }
    return out;
  }

  #advance(n: number): void {
    this.#offset += n;
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first !== undefined && this.#offset === first.byteLength) {
      this.#chunks.shift();
      this.#offset = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
