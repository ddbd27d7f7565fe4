/**
 * Per-address bookkeeping of a server under attack: how many connections each remote address
 * holds, and a token bucket of failed attempts (failed logins and refused resumes) per address.
 * An address whose bucket is empty is turned away at the door (before TLS, before any session
 * work); the bucket refills at a steady rate, so an honest client that mistyped comes back soon.
 * Bounded: at most `addressesMax` addresses are tracked; the stalest full bucket goes first.
 * An IPv6 client is counted by its /64 prefix (one subscriber typically holds a whole /64, so
 * rotating through it must not multiply its limits), and the server as a whole holds at most
 * `connectionsMax` connections, whatever the number of addresses they come from.
 */
import { isIPv6 } from 'node:net';

export interface AttackLimits {
  /** Connections one remote address (an IPv6 /64) may hold at once (default 256). */
  connectionsPerAddressMax: number;
  /** Connections the server holds at once, all addresses together (default 10,000). */
  connectionsMax: number;
  /** Failed attempts an address may make in a burst (default 10). */
  failuresBurst: number;
  /** Failed attempts forgiven per second (default 1). */
  failuresPerSecond: number;
}

export const DEFAULT_ATTACK_LIMITS: Readonly<AttackLimits> = Object.freeze({
  connectionsPerAddressMax: 256,
  connectionsMax: 10_000,
  failuresBurst: 10,
  failuresPerSecond: 1,
});

interface Entry {
  connections: number;
  tokens: number;
  at: number;
}

export class AddressGuard {
  readonly limits: AttackLimits;
  readonly #entries = new Map<string, Entry>();
  readonly #addressesMax: number;
  #connections = 0;

  constructor(limits: AttackLimits, addressesMax = 65_536) {
    this.limits = limits;
    this.#addressesMax = addressesMax;
  }

  /** Connections admitted and not released, all addresses together. */
  get connections(): number {
    return this.#connections;
  }

  /** Why a new connection from `address` must be turned away, or null to let it in (and count it). */
  admit(address: string, nowMs: number): 'too-many-connections' | 'server-full' | 'rate-limited' | null {
    const e = this.#entry(address, nowMs);
    if (e.tokens < 1) return 'rate-limited';
    if (e.connections >= this.limits.connectionsPerAddressMax) return 'too-many-connections';
    if (this.#connections >= this.limits.connectionsMax) return 'server-full';
    e.connections++;
    this.#connections++;
    return null;
  }

  /** A connection admitted by `admit` ended. */
  release(address: string): void {
    // Only admitted connections are released: the total drops even when the address's entry was
    // forgotten meanwhile (evicted under pressure), so the total never leaks.
    if (this.#connections > 0) this.#connections--;
    const e = this.#entries.get(addressKey(address));
    if (e && e.connections > 0) e.connections--;
  }

  /**
   * A failed login or resume, costing `weight` tokens (default 1); returns false once the
   * address has used its burst.
   */
  fail(address: string, nowMs: number, weight = 1): boolean {
    const e = this.#entry(address, nowMs);
    e.tokens = Math.max(0, e.tokens - weight);
    return e.tokens >= 1;
  }

  /** Whether an address may still try (its bucket holds a token). */
  mayTry(address: string, nowMs: number): boolean {
    return this.#entry(address, nowMs).tokens >= 1;
  }

  #entry(remoteAddress: string, nowMs: number): Entry {
    const address = addressKey(remoteAddress);
    let e = this.#entries.get(address);
    if (!e) {
      if (this.#entries.size >= this.#addressesMax) this.#evict(nowMs);
      e = { connections: 0, tokens: this.limits.failuresBurst, at: nowMs };
      this.#entries.set(address, e);
      return e;
    }
    const refill = ((nowMs - e.at) / 1000) * this.limits.failuresPerSecond;
    e.tokens = Math.min(this.limits.failuresBurst, e.tokens + refill);
    e.at = nowMs;
    return e;
  }

  /** Forgets an address with no connection and a bucket that would be full by now. */
  #evict(nowMs: number): void {
    for (const [address, e] of this.#entries) {
      const full = e.tokens + ((nowMs - e.at) / 1000) * this.limits.failuresPerSecond >= this.limits.failuresBurst;
      if (e.connections === 0 && full) {
        this.#entries.delete(address);
        return;
      }
    }
    // Everyone is busy or penalised: forget the oldest entry rather than grow.
    const first = this.#entries.keys().next().value;
    if (first !== undefined) this.#entries.delete(first);
  }
}

/**
 * What the limits count a remote address as: an IPv4 address as is (also when IPv4-mapped,
 * `::ffff:192.0.2.1`), an IPv6 address by its /64 prefix.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('%')[0]?.split('::') ?? [];
  const left = head === '' ? [] : head.split(':');
  const right = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
