/**
 * Application-named tokens: exclusive, named shared resources ("printer", "row:42") that the
 * sessions of one responder contend for, whatever connection carries them.
 *
 * Theory of operation
 * - `TokenRegistry` is the whole arbitration: for each name, at most one holder and a FIFO of
 *   waiters. `acquire` grants at once or queues; `release` by the holder grants to the first
 *   waiter; `release` by a waiter withdraws its request; `releaseAll` does both for every name
 *   of an owner (its session ended). Every grant it makes is returned to the caller, who must
 *   deliver it: the registry never calls out.
 * - Owners are opaque keys compared by identity (a core Session, or any object standing for
 *   local code on the responder).
 * - Bounded three ways (NamedTokenLimits): the bytes of a name, the names one owner holds or
 *   waits for, the waiters of one name. A request past a bound is refused with a
 *   NamedTokenRefusedError whose `refuseCode` is the code a TOKEN_REFUSE frame carries.
 * - Invariants (tested by property): at most one holder per name; grants in request order; a
 *   waiter is granted as soon as every holder before it released; an owner appears at most once
 *   per name; nothing is kept for a name with no holder.
 * No clock, no I/O, no callbacks.
 */
import { ErrorCode, LiaisonError, UsageError } from '../errors.js';
import { NAMED_TOKEN_NAME_BYTES_CEILING } from '../wire/frame.js';

/** Why a named-token request was not granted. Carried by TOKEN_REFUSE (u16); stable wire values. */
export const TokenRefuseCode = {
  /** The requester withdrew the request (its TOKEN_RELEASE reached a queued request). */
  CANCELLED: 1,
  /** The requester already holds or waits for as many names as allowed. */
  TOO_MANY_TOKENS: 2,
  /** The name already has as many waiters as allowed. */
  QUEUE_FULL: 3,
  /** The requester already holds or waits for this name. */
  ALREADY_REQUESTED: 4,
  /** The session could not take the grant (it was releasing or ending). */
  UNAVAILABLE: 5,
} as const;
export type TokenRefuseCode = (typeof TokenRefuseCode)[keyof typeof TokenRefuseCode];

export function tokenRefuseCodeName(code: number): string {
  for (const [name, value] of Object.entries(TokenRefuseCode)) if (value === code) return name;
  return `UNKNOWN_${code}`;
}

/** A request for a named token was refused, locally or by the peer's registry. */
export class NamedTokenRefusedError extends LiaisonError {
  readonly refuseCode: number;
  readonly tokenName: string;
  constructor(name: string, refuseCode: number, message?: string) {
    super(
      ErrorCode.NAMED_TOKEN_REFUSED,
      message ?? `named token "${name}" refused: ${tokenRefuseCodeName(refuseCode)}`,
    );
    this.refuseCode = refuseCode;
    this.tokenName = name;
  }
}

export interface NamedTokenLimits {
  /** Longest token name, in UTF-8 bytes (wire ceiling 1024). */
  nameBytesMax: number;
  /** Names one owner (session) may hold or wait for at once. */
  tokensPerSessionMax: number;
  /** Owners that may wait for one name at once. */
  waitersPerTokenMax: number;
}

export const DEFAULT_NAMED_TOKEN_LIMITS: Readonly<NamedTokenLimits> = Object.freeze({
  nameBytesMax: 256,
  tokensPerSessionMax: 64,
  waitersPerTokenMax: 1024,
});

/** @throws UsageError (INVALID_ARGUMENT) for a limit out of range. */
export function resolveNamedTokenLimits(partial: Partial<NamedTokenLimits> = {}): NamedTokenLimits {
  const l = { ...DEFAULT_NAMED_TOKEN_LIMITS, ...partial };
  const check = (name: keyof NamedTokenLimits, max: number) => {
    const v = l[name];
    if (!Number.isInteger(v) || v < 1 || v > max) {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, `named token limit ${name} must be an integer in 1..${max}`);
    }
  };
  check('nameBytesMax', NAMED_TOKEN_NAME_BYTES_CEILING);
  check('tokensPerSessionMax', 0xffff);
  check('waitersPerTokenMax', 1_000_000);
  return l;
}

/** UTF-8 bytes of a name. */
export function tokenNameBytes(name: string): number {
  return UTF8.encode(name).byteLength;
}

/** @throws UsageError (INVALID_ARGUMENT) unless a non-empty string within `nameBytesMax` UTF-8 bytes. */
export function checkTokenName(name: unknown, nameBytesMax: number): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'a token name is a non-empty string');
  }
  const n = tokenNameBytes(name);
  if (n > nameBytesMax) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `token name of ${n} bytes exceeds the limit of ${nameBytesMax}`);
  }
}

/** A grant the registry made: deliver it to `owner`. */
export interface TokenGrant<O> {
  name: string;
  owner: O;
}

/** What `release` did: released a holding, withdrew a waiting request, or nothing (unknown). */
export interface TokenRelease<O> {
  was: 'held' | 'waiting' | 'none';
  /** The owner granted the name next, if any. */
  granted: O | null;
}

interface Entry<O> {
  holder: O;
  /** FIFO; index 0 is next. */
  waiting: O[];
}

export class TokenRegistry<O> {
  readonly limits: Readonly<NamedTokenLimits>;
  readonly #tokens = new Map<string, Entry<O>>();
  /** Names each owner holds or waits for. */
  readonly #byOwner = new Map<O, Set<string>>();

  constructor(limits: Partial<NamedTokenLimits> = {}) {
    this.limits = Object.freeze(resolveNamedTokenLimits(limits));
  }

  /**
   * Asks for `name` on behalf of `owner`: granted now if free, else queued behind the waiters.
   * @throws UsageError (INVALID_ARGUMENT) for a bad name; NamedTokenRefusedError
   * (ALREADY_REQUESTED, TOO_MANY_TOKENS, QUEUE_FULL), changing nothing.
   */
  acquire(name: string, owner: O): 'granted' | 'queued' {
    checkTokenName(name, this.limits.nameBytesMax);
    const mine = this.#byOwner.get(owner);
    if (mine?.has(name)) throw new NamedTokenRefusedError(name, TokenRefuseCode.ALREADY_REQUESTED);
    if ((mine?.size ?? 0) >= this.limits.tokensPerSessionMax) {
      throw new NamedTokenRefusedError(name, TokenRefuseCode.TOO_MANY_TOKENS);
    }
    const entry = this.#tokens.get(name);
    if (entry !== undefined && entry.waiting.length >= this.limits.waitersPerTokenMax) {
      throw new NamedTokenRefusedError(name, TokenRefuseCode.QUEUE_FULL);
    }
    this.#remember(owner, name);
    if (entry === undefined) {
      this.#tokens.set(name, { holder: owner, waiting: [] });
      return 'granted';
    }
    entry.waiting.push(owner);
    return 'queued';
  }

  /**
   * The holder gives `name` back (the first waiter gets it), or a waiter withdraws its request.
   * Anything else (the owner neither holds nor waits) changes nothing: a withdrawal may cross
   * the grant or refusal it withdraws.
   */
  release(name: string, owner: O): TokenRelease<O> {
    const entry = this.#tokens.get(name);
    if (entry === undefined) return NOTHING;
    if (entry.holder === owner) {
      this.#forget(owner, name);
      return { was: 'held', granted: this.#passOn(name, entry) };
    }
    const at = entry.waiting.indexOf(owner);
    if (at < 0) return NOTHING;
    entry.waiting.splice(at, 1);
    this.#forget(owner, name);
    return { was: 'waiting', granted: null };
  }

  /** Releases and withdraws everything `owner` holds or waits for; returns the grants made, in order. */
  releaseAll(owner: O): TokenGrant<O>[] {
    const grants: TokenGrant<O>[] = [];
    const names = this.#byOwner.get(owner);
    if (names === undefined) return grants;
    for (const name of [...names]) {
      const granted = this.release(name, owner).granted;
      if (granted !== null) grants.push({ name, owner: granted });
    }
    return grants;
  }

  holder(name: string): O | undefined {
    return this.#tokens.get(name)?.holder;
  }

  /** The owners waiting for `name`, next first. */
  waiting(name: string): readonly O[] {
    return this.#tokens.get(name)?.waiting.slice() ?? [];
  }

  /** Names `owner` holds now. */
  heldBy(owner: O): string[] {
    const out: string[] = [];
    for (const name of this.#byOwner.get(owner) ?? []) if (this.#tokens.get(name)?.holder === owner) out.push(name);
    return out;
  }

  /** Names `owner` waits for. */
  waitingFor(owner: O): string[] {
    const out: string[] = [];
    for (const name of this.#byOwner.get(owner) ?? []) if (this.#tokens.get(name)?.holder !== owner) out.push(name);
    return out;
  }

  /** Names with a holder. */
  get size(): number {
    return this.#tokens.size;
  }

  #passOn(name: string, entry: Entry<O>): O | null {
    const next = entry.waiting.shift();
    if (next === undefined) {
      this.#tokens.delete(name);
      return null;
    }
    entry.holder = next;
    return next;
  }

  #remember(owner: O, name: string): void {
    let names = this.#byOwner.get(owner);
    if (names === undefined) {
      names = new Set();
      this.#byOwner.set(owner, names);
    }
    names.add(name);
  }

  #forget(owner: O, name: string): void {
    const names = this.#byOwner.get(owner);
    if (names === undefined) return;
    names.delete(name);
    if (names.size === 0) this.#byOwner.delete(owner);
  }
}

const NOTHING: TokenRelease<never> = Object.freeze({ was: 'none', granted: null });
const UTF8 = new TextEncoder();
