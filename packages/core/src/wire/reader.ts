/**
 * A bounds-checked reader over one frame's payload. Every read past the end, and any byte left
 * over at the end, is a MALFORMED_FRAME protocol error: a frame is either exactly right or refused.
 */
import { AbortCode, ProtocolError } from '../errors.js';

export class PayloadReader {
  #view: DataView;
  #bytes: Uint8Array;
  #pos = 0;
  readonly #what: string;

  constructor(bytes: Uint8Array, what: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#what = what;
  }

  u8(): number {
    this.#need(1);
    return this.#view.getUint8(this.#pos++);
  }

  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.#pos);
    this.#pos += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#pos);
    this.#pos += 4;
    return v;
  }

  /** An unsigned 64-bit integer that must fit in a JavaScript safe integer. */
  u53(): number {
    const high = this.u32();
    const low = this.u32();
    if (high > 0x1fffff) throw this.#malformed('64-bit value beyond 2^53');
    return high * 0x1_0000_0000 + low;
  }

  f64(): number {
    this.#need(8);
    const v = this.#view.getFloat64(this.#pos);
    this.#pos += 8;
    return v;
  }

  /** A view (no copy) of the next `n` bytes. */
  bytes(n: number): Uint8Array {
    this.#need(n);
    const out = this.#bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** A u16 length then that many bytes, refused past `max`. */
  shortBytes(max: number, field: string): Uint8Array {
    const n = this.u16();
    if (n > max) {
      throw new ProtocolError(
        AbortCode.LIMIT_EXCEEDED,
        `${this.#what} ${field} of ${n} bytes exceeds the limit of ${max}`,
      );
    }
    return this.bytes(n);
  }

  utf8(max: number, field: string): string {
    const raw = this.shortBytes(max, field);
    try {
      return UTF8.decode(raw);
    } catch (cause) {
      throw new ProtocolError(AbortCode.MALFORMED_FRAME, `${this.#what} ${field} is not valid UTF-8`, { cause });
    }
  }

  rest(): Uint8Array {
    return this.bytes(this.#bytes.byteLength - this.#pos);
  }

  /** Asserts the payload was consumed exactly. */
  end(): void {
    if (this.#pos !== this.#bytes.byteLength) {
      throw this.#malformed(`${this.#bytes.byteLength - this.#pos} trailing bytes`);
    }
  }

  #need(n: number): void {
    if (this.#pos + n > this.#bytes.byteLength) throw this.#malformed('truncated');
  }

  #malformed(detail: string): ProtocolError {
    return new ProtocolError(AbortCode.MALFORMED_FRAME, `${this.#what} frame malformed: ${detail}`);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
