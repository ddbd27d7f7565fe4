/**
 * The Noise SymmetricState (Noise spec revision 34, section 5.2) with SHA-256: the chaining key ck,
 * the handshake hash h and the CipherState they key. HKDF is the spec's HKDF(ck, ikm, 2) (RFC 5869
 * with ck as salt and an empty info), built on the provider's HMAC-SHA256 (provider.ts).
 */
import { type CryptoProvider, HASH_BYTES, nobleCrypto, noiseHkdf } from '../provider.js';
import { CipherState } from './cipher-state.js';

const EMPTY = new Uint8Array(0);

export class SymmetricState {
  readonly cipher: CipherState;
  readonly #crypto: CryptoProvider;
  #ck: Uint8Array;
  #h: Uint8Array;

  /** InitializeSymmetric(protocol_name). */
  constructor(protocolName: string, crypto: CryptoProvider = nobleCrypto) {
    this.#crypto = crypto;
    this.cipher = new CipherState(null, crypto);
    const name = Uint8Array.from(protocolName, (c) => c.charCodeAt(0));
    if (name.byteLength <= HASH_BYTES) {
      this.#h = new Uint8Array(HASH_BYTES);
      this.#h.set(name);
    } else {
      this.#h = crypto.sha256([name]);
    }
    this.#ck = this.#h;
  }

  /** The handshake hash h: after the handshake, a unique name of this session (channel binding). */
  get handshakeHash(): Uint8Array {
    return this.#h;
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, k] = noiseHkdf(this.#crypto, this.#ck, ikm);
    this.#ck = ck;
    this.cipher.initializeKey(k);
  }

  mixHash(data: Uint8Array): void {
    this.#h = this.#crypto.sha256([this.#h, data]);
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
    const [k1, k2] = noiseHkdf(this.#crypto, this.#ck, EMPTY);
    return [new CipherState(k1, this.#crypto), new CipherState(k2, this.#crypto)];
  }
}
