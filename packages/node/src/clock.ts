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
    // JWK, not DER: the same 32 bytes, exported and imported about 6x faster (a connection's setup
    // does one of each; profiled at 18% of a server's CPU while 3,000 clients connected).
    const x = publicKey.export({ format: 'jwk' }).x as string;
    return { secret: privateKey, publicKey: new Uint8Array(Buffer.from(x, 'base64url')) };
  },
  agree(mine, peerPublicKey) {
    if (peerPublicKey.byteLength !== 32) throw new RangeError('X25519 public key must be 32 bytes');
    const x = Buffer.from(peerPublicKey.buffer, peerPublicKey.byteOffset, 32).toString('base64url');
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
    const shared = new Uint8Array(diffieHellman({ privateKey: mine.secret as KeyObject, publicKey }));
    // A low-order peer key gives an all-zero secret: refuse it, as the portable implementation does.
    if (shared.every((b) => b === 0)) throw new RangeError('X25519 agreement with a low-order key');
    return shared;
  },
};
