/**
 * Encodes frames into one growing buffer, so that many small frames leave in one write
 * (batching) and each payload is copied exactly once, straight into the outgoing bytes.
 */
import { HEADER_BYTES } from './frame.js';

const INITIAL_BYTES = 4096;
const MAX_KEPT_BYTES = 256 * 1024;

export class FrameWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;
  #frameStart = -1;

  constructor(initialBytes = INITIAL_BYTES) {
    this.#buf = new Uint8Array(initialBytes);
    this.#view = new DataView(this.#buf.buffer);
  }

  get byteLength(): number {
    return this.#len;
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

  /** Hands out everything written so far and starts afresh. The result is never written again. */
  take(): Uint8Array {
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
