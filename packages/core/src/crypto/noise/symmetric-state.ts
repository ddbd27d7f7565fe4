/**
 * The Noise SymmetricState (Noise spec revision 34, section 5.2) with SHA-256: the chaining key ck,
 * the handshake hash h and the CipherState they key. HKDF is RFC 5869 with ck as salt and an empty
 * info, which is exactly the spec's HKDF(ck, ikm, n); SHA-256, HMAC and HKDF come from @noble/hashes.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes } from '../../wire/bytes.js';
import { CipherState } from './cipher-state.js';

export const HASH_BYTES = 32;
const EMPTY = new Uint8Array(0);

export class SymmetricState {
  readonly cipher = new CipherState();
  #ck: Uint8Array;
  #h: Uint8Array;

  /** InitializeSymmetric(protocol_name). */
  constructor(protocolName: string) {
    const name = Uint8Array.from(protocolName, (c) => c.charCodeAt(0));
    if (name.byteLength <= HASH_BYTES) {
      this.#h = new Uint8Array(HASH_BYTES);
      this.#h.set(name);
    } else {
      this.#h = sha256(name);
    }
    this.#ck = this.#h;
  }

  /** The handshake hash h: after the handshake, a unique name of this session (channel binding). */
  get handshakeHash(): Uint8Array {
    return this.#h;
  }

  mixKey(ikm: Uint8Array): void {
    const out = hkdf(sha256, ikm, this.#ck, EMPTY, 2 * HASH_BYTES);
    this.#ck = out.subarray(0, HASH_BYTES);
    this.cipher.initializeKey(out.subarray(HASH_BYTES));
  }

  mixHash(data: Uint8Array): void {
    this.#h = sha256(concatBytes([this.#h, data]));
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipher.encryptWithAd(this.#h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipher.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** Split(): the two transport CipherStates, initiator-to-responder first. */
  split(): [CipherState, CipherState] {
    const out = hkdf(sha256, EMPTY, this.#ck, EMPTY, 2 * HASH_BYTES);
    return [new CipherState(out.subarray(0, HASH_BYTES)), new CipherState(out.subarray(HASH_BYTES))];
  }
}
