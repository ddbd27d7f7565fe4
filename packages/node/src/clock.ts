/** The driver's clock and randomness: the only ones liaison reads in Node. */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/** Milliseconds on a monotonic clock: what every core `now` argument is. */
export const now = (): number => performance.now();

/** Cryptographically strong random bytes for the core (keys, nonces, session ids). */
export const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
