/**
 * The browser driver's clock and randomness: the only ones @liaison/browser reads. Both are Web
 * platform globals (also present in Node 20+, where the tests run).
 */

/** Milliseconds on a monotonic clock: what every core `now` argument is. */
export const now = (): number => performance.now();

/** Cryptographically strong random bytes for the core (resume keys, nonces). */
export const random = (n: number): Uint8Array => {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65,536 bytes per call.
  for (let i = 0; i < n; i += 65_536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65_536)));
  return out;
};
