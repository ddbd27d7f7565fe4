/**
 * The simulator's only source of randomness: xoshiro128** seeded through splitmix32.
 *
 * Theory of operation
 * - One seed fixes everything a run does: network delays and faults, application behaviour, and
 *   (through `randomSource()`) the key material the core generates, so a replayed seed produces
 *   byte-identical wire traffic.
 * - `fork(label)` derives an independent stream, so that adding a draw in one component does not
 *   shift the draws of another (the world, the network and the crypto source each have their own).
 * - Never reads a clock or Math.random.
 */
import type { RandomSource } from '@liaison/core';

export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      // splitmix32: spreads a small seed over the whole xoshiro state.
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.#b << 9) >>> 0;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    this.#a >>>= 0;
    this.#b >>>= 0;
    this.#c >>>= 0;
    this.#d >>>= 0;
    return result;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** Uniform integer in [min, max] (both included). */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)] as T;
  }

  /** An integer with a long tail: mostly near `min`, sometimes up to `max` (log-uniform). */
  logInt(min: number, max: number): number {
    const lo = Math.log(Math.max(1, min));
    const hi = Math.log(Math.max(1, max));
    return Math.min(max, Math.max(min, Math.round(Math.exp(lo + (hi - lo) * this.float()))));
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      let v = this.u32();
      for (let j = i; j < Math.min(n, i + 4); j++) {
        out[j] = v & 0xff;
        v >>>= 8;
      }
    }
    return out;
  }

  /** An independent generator derived from this one's next draws and `label`. */
  fork(label: string): Rng {
    let h = this.u32();
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    return new Rng(h);
  }

  /** The core's RandomSource (keys, nonces, session ids), fixed by the seed. */
  randomSource(): RandomSource {
    return (n) => this.bytes(n);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
