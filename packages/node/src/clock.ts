/** The driver's clock and randomness: the only ones liaison reads in Node. */
import { createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { KeyAgreement } from '@liaison/core';

/** Milliseconds on a monotonic clock: what every core `now` argument is. */
export const now = (): number => performance.now();

/** Cryptographically strong random bytes for the core (keys, nonces, session ids). */
export const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/**
 * X25519 from node:crypto for the core's resume keys: the same results as the portable
 * implementation, several times faster per connection. The private key stays a native KeyObject
 * (OpenSSL's randomness makes it); the peer's raw key is wrapped in the fixed SPKI prefix (RFC 8410).
 */
export const nativeKeyAgreement: KeyAgreement = {
  newKeyShare() {
    const { privateKey, publicKey } = generateKeyPairSync('x25519');
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    return { secret: privateKey, publicKey: new Uint8Array(spki.subarray(spki.length - 32)) };
  },
  agree(mine, peerPublicKey) {
    if (peerPublicKey.byteLength !== 32) throw new RangeError('X25519 public key must be 32 bytes');
    const publicKey = createPublicKey({
      key: Buffer.concat([SPKI_X25519, peerPublicKey]),
      format: 'der',
      type: 'spki',
    });
    const shared = new Uint8Array(diffieHellman({ privateKey: mine.secret as KeyObject, publicKey }));
    // A low-order peer key gives an all-zero secret: refuse it, as the portable implementation does.
    if (shared.every((b) => b === 0)) throw new RangeError('X25519 agreement with a low-order key');
    return shared;
  },
};

const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');
