/**
 * Records: how Noise messages travel on a byte stream (docs/PROTOCOL.md, 20.2).
 *
 * Every Noise message, handshake or transport, is a record: a 2-byte big-endian length, then that
 * many bytes. After the handshake a record's body is a Noise transport message (ChaCha20-Poly1305)
 * whose plaintext is one kind byte and the data; the 2 length bytes are its associated data, so a
 * changed length fails authentication even where it happened to parse. Kinds: DATA (bytes of the
 * connection's frame stream, split anywhere) and REKEY (the sender applied Noise REKEY() to its
 * sending key right after this record; the receiver does the same right after opening it, so
 * both change keys at exactly the same record).
 *
 * Invariants: a declared length is checked against its bounds before any body byte is buffered;
 * at most one record (64 KiB) is buffered; a record lying whole in the chunk is a view, not a copy.
 */
import { AbortCode, ProtocolError } from '../errors.js';
import { type CipherState, TAG_BYTES } from './noise/cipher-state.js';

export const RECORD_HEADER_BYTES = 2;
export const RECORD_BODY_BYTES_MAX = 0xffff;
/** Data bytes one transport record carries at most (the body less its kind byte and tag). */
export const RECORD_DATA_BYTES_MAX = RECORD_BODY_BYTES_MAX - 1 - TAG_BYTES;
/** Handshake messages of XX and IK with empty payloads are at most 96 bytes; room for future payloads. */
export const HANDSHAKE_RECORD_BYTES_MAX = 1024;

export const RecordKind = {
  DATA: 0x00,
  REKEY: 0x01,
} as const;

export interface RawRecord {
  /** The 2 length bytes (the associated data of a transport record). */
  header: Uint8Array;
  body: Uint8Array;
}

/** Splits a byte stream into records, incrementally. */
export class RecordReader {
  #min = 0;
  #max = HANDSHAKE_RECORD_BYTES_MAX;
  #code: AbortCode = AbortCode.NOISE_HANDSHAKE_FAILED;
  readonly #header = new Uint8Array(RECORD_HEADER_BYTES);
  #headerFill = 0;
  #body: Uint8Array | null = null;
  #bodyFill = 0;
  #chunk: Uint8Array = EMPTY;
  #at = 0;

  /** Bounds of the declared length from now on, and the close code when a length is outside them. */
  setBounds(min: number, max: number, code: AbortCode): void {
    this.#min = min;
    this.#max = max;
    this.#code = code;
  }

  /** The next chunk of the stream. @precondition next() returned null for the previous one. */
  push(bytes: Uint8Array): void {
    this.#chunk = bytes;
    this.#at = 0;
  }

  /**
   * The next whole record, or null when more bytes are needed.
   * @throws ProtocolError when a declared length is out of bounds (before buffering its body).
   */
  next(): RawRecord | null {
    const chunk = this.#chunk;
    if (this.#body === null) {
      if (this.#headerFill === 0 && chunk.byteLength - this.#at >= RECORD_HEADER_BYTES) {
        const at = this.#at;
        const length = this.#check(((chunk[at] as number) << 8) | (chunk[at + 1] as number));
        const end = at + RECORD_HEADER_BYTES + length;
        if (end <= chunk.byteLength) {
          this.#at = end;
          return {
            header: chunk.subarray(at, at + RECORD_HEADER_BYTES),
            body: chunk.subarray(at + RECORD_HEADER_BYTES, end),
          };
        }
      }
      while (this.#headerFill < RECORD_HEADER_BYTES && this.#at < chunk.byteLength) {
        this.#header[this.#headerFill++] = chunk[this.#at++] as number;
      }
      if (this.#headerFill < RECORD_HEADER_BYTES) return null;
      this.#body = new Uint8Array(this.#check(((this.#header[0] as number) << 8) | (this.#header[1] as number)));
      this.#bodyFill = 0;
    }
    const body = this.#body;
    const n = Math.min(body.byteLength - this.#bodyFill, chunk.byteLength - this.#at);
    body.set(chunk.subarray(this.#at, this.#at + n), this.#bodyFill);
    this.#bodyFill += n;
    this.#at += n;
    if (this.#bodyFill < body.byteLength) return null;
    const header = this.#header.slice();
    this.#body = null;
    this.#headerFill = 0;
    return { header, body };
  }

  #check(length: number): number {
    if (length < this.#min || length > this.#max) {
      throw new ProtocolError(this.#code, `noise record of ${length} bytes (allowed ${this.#min}..${this.#max})`);
    }
    return length;
  }
}

/** A handshake message as a record. */
export function handshakeRecord(message: Uint8Array): Uint8Array {
  const rec = new Uint8Array(RECORD_HEADER_BYTES + message.byteLength);
  rec[0] = message.byteLength >>> 8;
  rec[1] = message.byteLength & 0xff;
  rec.set(message, RECORD_HEADER_BYTES);
  return rec;
}

/** The sending half of the transport phase: seals bytes into records and rekeys by volume. */
export class RecordSealer {
  readonly #cipher: CipherState;
  readonly #rekeyBytes: number;
  #sinceRekey = 0;
  rekeys = 0;

  constructor(cipher: CipherState, rekeyBytes: number) {
    this.#cipher = cipher;
    this.#rekeyBytes = rekeyBytes;
  }

  /** The segments (in order) sealed into records, a REKEY record after each `rekeyBytes` of data. */
  seal(segments: readonly Uint8Array[]): Uint8Array[] {
    const out: Uint8Array[] = [];
    let segment = 0;
    let offset = 0;
    let left = 0;
    for (const s of segments) left += s.byteLength;
    while (left > 0) {
      const n = Math.min(left, RECORD_DATA_BYTES_MAX, this.#rekeyBytes - this.#sinceRekey);
      const rec = this.#newRecord(RecordKind.DATA, n);
      let at = RECORD_HEADER_BYTES + 1;
      while (at < RECORD_HEADER_BYTES + 1 + n) {
        const s = segments[segment] as Uint8Array;
        const take = Math.min(s.byteLength - offset, RECORD_HEADER_BYTES + 1 + n - at);
        rec.set(s.subarray(offset, offset + take), at);
        at += take;
        offset += take;
        if (offset === s.byteLength) {
          segment++;
          offset = 0;
        }
      }
      out.push(this.#sealRecord(rec, n));
      left -= n;
      this.#sinceRekey += n;
      if (this.#sinceRekey >= this.#rekeyBytes) {
        out.push(this.#sealRecord(this.#newRecord(RecordKind.REKEY, 0), 0));
        this.#cipher.rekey();
        this.#sinceRekey = 0;
        this.rekeys++;
      }
    }
    return out;
  }

  #newRecord(kind: number, dataBytes: number): Uint8Array {
    const bodyBytes = 1 + dataBytes + TAG_BYTES;
    const rec = new Uint8Array(RECORD_HEADER_BYTES + bodyBytes);
    rec[0] = bodyBytes >>> 8;
    rec[1] = bodyBytes & 0xff;
    rec[RECORD_HEADER_BYTES] = kind;
    return rec;
  }

  #sealRecord(rec: Uint8Array, dataBytes: number): Uint8Array {
    this.#cipher.encryptInPlace(rec.subarray(0, RECORD_HEADER_BYTES), rec, RECORD_HEADER_BYTES, 1 + dataBytes);
    return rec;
  }
}

/** The receiving half of the transport phase. */
export class RecordOpener {
  readonly #cipher: CipherState;
  rekeys = 0;

  constructor(cipher: CipherState) {
    this.#cipher = cipher;
  }

  /**
   * The data a record carries, or null for a REKEY record (after which the receiving key changed).
   * @throws ProtocolError(NOISE_RECORD_INVALID) when it fails authentication or is not well formed.
   */
  open(record: RawRecord): Uint8Array | null {
    const plaintext = this.#cipher.decryptWithAd(record.header, record.body);
    const kind = plaintext[0];
    if (kind === RecordKind.DATA && plaintext.byteLength > 1) return plaintext.subarray(1);
    if (kind === RecordKind.REKEY && plaintext.byteLength === 1) {
      this.#cipher.rekey();
      this.rekeys++;
      return null;
    }
    throw new ProtocolError(AbortCode.NOISE_RECORD_INVALID, `noise record of unknown kind ${kind} or bad length`);
  }
}

const EMPTY = new Uint8Array(0);
