/**
 * Encodes frames into one growing buffer, so that many small frames leave in one write
 * (batching) and each payload is copied exactly once, straight into the outgoing bytes.
 */
import { concatBytes } from './bytes.js';
import { HEADER_BYTES } from './frame.js';

/** Small at first: a connection that only ever sends a few small frames should not hold 4 KiB. */
const INITIAL_BYTES = 512;
const MAX_KEPT_BYTES = 256 * 1024;

export class FrameWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;
  #frameStart = -1;
  /** Finished segments before #buf[#sealed..#len): sealed parts of #buf and payloads by reference. */
  #segments: Uint8Array[] = [];
  #segmentBytes = 0;
  /** Where the unsealed part of #buf starts. */
  #sealed = 0;

  constructor(initialBytes = INITIAL_BYTES) {
    this.#buf = new Uint8Array(initialBytes);
    this.#view = new DataView(this.#buf.buffer);
  }

  get byteLength(): number {
    return this.#segmentBytes + this.#len - this.#sealed;
  }

  /**
   * A whole DATA-like frame whose payload is large enough to be worth not copying: the header goes
   * into the buffer, the payload is kept by reference as a segment of its own (written by writev).
   * The payload must not change until the transport has written it (the engine never writes to it).
   */
  frameWithPayloadRef(type: number, flags: number, channel: number, payload: Uint8Array): void {
    this.#reserve(HEADER_BYTES);
    const at = this.#len;
    this.#view.setUint8(at, type);
    this.#view.setUint8(at + 1, flags);
    this.#view.setUint32(at + 2, channel >>> 0);
    this.#view.setUint32(at + 6, payload.byteLength);
    this.#len += HEADER_BYTES;
    this.#seal();
    this.#segments.push(payload);
    this.#segmentBytes += payload.byteLength;
  }

  /**
   * Hands out everything written so far as segments, in order, for a vectored write. Small
   * pieces of the buffer are copied out (so it can be reused); large ones are handed over.
   */
  takeSegments(): Uint8Array[] {
    this.#seal();
    const out = this.#segments;
    let handedOver = false;
    for (let i = 0; i < out.length; i++) {
      const seg = out[i] as Uint8Array;
      if (seg.buffer !== this.#buf.buffer) continue;
      if (seg.byteLength * 4 < this.#buf.byteLength) out[i] = seg.slice();
      else handedOver = true;
    }
    this.#segments = [];
    this.#segmentBytes = 0;
    this.#len = 0;
    this.#sealed = 0;
    if (handedOver) this.#grow(Math.min(this.#buf.byteLength, MAX_KEPT_BYTES), true);
    return out;
  }

  /** Closes the unsealed part of the buffer as a segment (a view; the buffer is not reused until taken). */
  #seal(): void {
    if (this.#len > this.#sealed) {
      this.#segments.push(this.#buf.subarray(this.#sealed, this.#len));
      this.#segmentBytes += this.#len - this.#sealed;
      this.#sealed = this.#len;
    }
  }

  /** Starts a frame; its payload length is filled in by `endFrame()`. */
  beginFrame(type: number, flags: number, channel: number): void {
    this.#reserve(HEADER_BYTES);
    this.#frameStart = this.#len;
    this.#view.setUint8(this.#len, type);
    this.#view.setUint8(this.#len + 1, flags);
    this.#view.setUint32(this.#len + 2, channel >>> 0);
    this.#len += HEADER_BYTES;
  }

  endFrame(): void {
    const payloadBytes = this.#len - this.#frameStart - HEADER_BYTES;
    this.#view.setUint32(this.#frameStart + 6, payloadBytes);
    this.#frameStart = -1;
  }

  u8(v: number): void {
    this.#reserve(1);
    this.#view.setUint8(this.#len++, v);
  }

  u16(v: number): void {
    this.#reserve(2);
    this.#view.setUint16(this.#len, v);
    this.#len += 2;
  }

  u32(v: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.#len, v >>> 0);
    this.#len += 4;
  }

  /** A non-negative safe integer as 64 bits. */
  u53(v: number): void {
    this.u32(Math.floor(v / 0x1_0000_0000));
    this.u32(v % 0x1_0000_0000);
  }

  f64(v: number): void {
    this.#reserve(8);
    this.#view.setFloat64(this.#len, v);
    this.#len += 8;
  }

  bytes(b: Uint8Array): void {
    this.#reserve(b.byteLength);
    this.#buf.set(b, this.#len);
    this.#len += b.byteLength;
  }

  shortBytes(b: Uint8Array): void {
    this.u16(b.byteLength);
    this.bytes(b);
  }

  utf8(s: string): void {
    this.shortBytes(UTF8.encode(s));
  }

  /** Hands out everything written so far as one array and starts afresh. The result is never written again. */
  take(): Uint8Array {
    if (this.#segments.length > 0) return concatBytes(this.takeSegments());
    let out: Uint8Array;
    if (this.#len * 4 < this.#buf.byteLength) {
      // Mostly empty: copy out the small part and keep the buffer.
      out = this.#buf.slice(0, this.#len);
    } else {
      // Mostly full: hand the buffer itself over (no copy) and start a fresh one.
      out = this.#buf.subarray(0, this.#len);
      this.#grow(Math.min(this.#buf.byteLength, MAX_KEPT_BYTES), true);
    }
    this.#len = 0;
    return out;
  }

  #reserve(n: number): void {
    if (this.#len + n > this.#buf.byteLength) this.#grow(Math.max(this.#buf.byteLength * 2, this.#len + n), false);
  }

  #grow(size: number, discard: boolean): void {
    const next = new Uint8Array(size);
    if (!discard) next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
}

const UTF8 = new TextEncoder();
