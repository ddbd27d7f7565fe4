/**
 * The Noise CipherState (Noise spec revision 34, section 5.1) for ChaChaPoly.
 *
 * Holds a key k (or none) and a 64-bit nonce n. Encryption with a key uses n and increments it;
 * a failed decryption leaves n unchanged (the caller ends the session anyway). The nonce is kept
 * as a JavaScript number, so this side refuses to go past 2^53 - 1 messages under one key: rekeying
 * (REKEY, section 11.3) resets nothing of n, so a connection must close long before that, which
 * it does (a record is at least 17 bytes: 2^53 records are 150 PB).
 * Primitives: ChaCha20-Poly1305 from the CryptoProvider (provider.ts; @noble by default); nothing
 * is hand-rolled here but the nonce, written into one 12-byte buffer reused for every message.
 */
import { AbortCode, ErrorCode, ProtocolError, UsageError } from '../../errors.js';
import { type Aead, type CryptoProvider, nobleCrypto } from '../provider.js';

export const KEY_BYTES = 32;
export const TAG_BYTES = 16;
/** The nonce REKEY() encrypts with (2^64 - 1), never used for a message. */
const REKEY_NONCE = nonceBytes(0xffff_ffff, 0xffff_ffff);
const NONCE_MAX = Number.MAX_SAFE_INTEGER;
const ZEROS = new Uint8Array(KEY_BYTES);
const EMPTY = new Uint8Array(0);

export class CipherState {
  readonly #crypto: CryptoProvider;
  #k: Aead | null;
  #n = 0;
  readonly #nonce = new Uint8Array(12);
  readonly #nonceView = new DataView(this.#nonce.buffer);

  constructor(k: Uint8Array | null = null, crypto: CryptoProvider = nobleCrypto) {
    this.#crypto = crypto;
    this.#k = k === null ? null : crypto.chacha20poly1305(k.slice(0, KEY_BYTES));
  }

  /** InitializeKey(key): sets k and resets n to 0. */
  initializeKey(k: Uint8Array | null): void {
    this.#k = k === null ? null : this.#crypto.chacha20poly1305(k.slice(0, KEY_BYTES));
    this.#n = 0;
  }

  hasKey(): boolean {
    return this.#k !== null;
  }

  get nonce(): number {
    return this.#n;
  }

  /** EncryptWithAd: returns plaintext unchanged when there is no key yet. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.#k === null) return plaintext;
    const out = this.#k.seal(this.#nextNonce(), ad, plaintext);
    this.#n++;
    return out;
  }

  /**
   * EncryptWithAd in place: `buf[at, at + length)` becomes ciphertext and the 16-byte tag is
   * written right after it, so a record is sealed without copying its plaintext again.
   * @precondition the key is set and `buf` has room for the tag.
   */
  encryptInPlace(ad: Uint8Array, buf: Uint8Array, at: number, length: number): void {
    if (this.#k === null) throw new UsageError(ErrorCode.INVALID_STATE, 'no key to encrypt with');
    this.#k.sealInPlace(this.#nextNonce(), ad, buf, at, length);
    this.#n++;
  }

  /**
   * DecryptWithAd: returns ciphertext unchanged when there is no key yet.
   * @throws ProtocolError(NOISE_RECORD_INVALID) when authentication fails (n is not incremented).
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.#k === null) return ciphertext;
    const out = this.#k.open(this.#nextNonce(), ad, ciphertext);
    if (out === null) throw new ProtocolError(AbortCode.NOISE_RECORD_INVALID, 'noise: message failed authentication');
    this.#n++;
    return out;
  }

  /** REKEY(): k = first 32 bytes of ENCRYPT(k, 2^64 - 1, empty, 32 zero bytes); n is kept. */
  rekey(): void {
    if (this.#k === null) return;
    this.#k = this.#crypto.chacha20poly1305(this.#k.seal(REKEY_NONCE, EMPTY, ZEROS).subarray(0, KEY_BYTES));
  }

  /** The nonce buffer holding n (valid until the next call). */
  #nextNonce(): Uint8Array {
    if (this.#n >= NONCE_MAX) throw new ProtocolError(AbortCode.NOISE_RECORD_INVALID, 'noise: nonce exhausted');
    this.#nonceView.setUint32(4, this.#n >>> 0, true);
    this.#nonceView.setUint32(8, Math.floor(this.#n / 0x1_0000_0000), true);
    return this.#nonce;
  }
}

/** ChaChaPoly's 96-bit nonce: 32 zero bits, then n as 64 bits little-endian. */
function nonceBytes(low: number, high: number): Uint8Array {
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  view.setUint32(4, low, true);
  view.setUint32(8, high, true);
  return nonce;
}
