/**
 * The initiator's side of named tokens: which names it holds, which it asked for, and which
 * answers it still expects.
 *
 * Theory of operation
 * - Every NAMED_TOKEN_ACQUIRE is answered by exactly one NAMED_TOKEN_GRANT or NAMED_TOKEN_REFUSE,
 *   in request order per name (the frames are sequenced, so a resume neither loses nor doubles
 *   one). Each name keeps the list of its unanswered requests, oldest first; an answer takes the
 *   oldest.
 * - A NAMED_TOKEN_RELEASE gives back a held name at once (the responder needs no answer: the
 *   release follows every earlier frame). Sent for a request not yet answered, it withdraws it:
 *   the responder answers a request it still queued with REFUSE (CANCELLED); a GRANT that
 *   crossed the withdrawal is released by it. Either way the answer is swallowed here.
 * - Bounded: names held or asked for (withdrawn requests included) never exceed the
 *   responder's tokens-per-session limit.
 * An answer nobody asked for is the peer's protocol error.
 */
import { AbortCode, ErrorCode, ProtocolError, UsageError } from '../errors.js';
import { NamedTokenRefusedError, TokenRefuseCode } from './named-tokens.js';

/** The responder's named-token offer (its ACCEPT's NAMED_TOKENS extension). */
export interface NamedTokenOffer {
  nameBytesMax: number;
  tokensPerSessionMax: number;
}

interface NameState {
  held: boolean;
  /** Unanswered requests, oldest first: true while still wanted, false once withdrawn. */
  unanswered: boolean[];
}

export type AnswerOutcome = 'granted' | 'refused' | 'withdrawn';

export class NamedTokenRequests {
  readonly offer: Readonly<NamedTokenOffer>;
  readonly #names = new Map<string, NameState>();
  /** Names held plus unanswered requests (wanted or withdrawn). */
  #load = 0;

  constructor(offer: NamedTokenOffer) {
    this.offer = Object.freeze({ ...offer });
  }

  /** Names held now, in the order they were granted. */
  get held(): string[] {
    const out: string[] = [];
    for (const [name, s] of this.#names) if (s.held) out.push(name);
    return out;
  }

  holds(name: string): boolean {
    return this.#names.get(name)?.held === true;
  }

  /** Whether a request for `name` waits for its answer (and was not withdrawn). */
  wants(name: string): boolean {
    return this.#names.get(name)?.unanswered.includes(true) === true;
  }

  /**
   * Records a request about to be sent.
   * @throws NamedTokenRefusedError ALREADY_REQUESTED (held or wanted) or TOO_MANY_TOKENS.
   */
  request(name: string): void {
    const s = this.#names.get(name);
    if (s !== undefined && (s.held || s.unanswered.includes(true))) {
      throw new NamedTokenRefusedError(name, TokenRefuseCode.ALREADY_REQUESTED);
    }
    if (this.#load >= this.offer.tokensPerSessionMax) {
      throw new NamedTokenRefusedError(name, TokenRefuseCode.TOO_MANY_TOKENS);
    }
    this.#state(name).unanswered.push(true);
    this.#load++;
  }

  /**
   * Records a NAMED_TOKEN_RELEASE about to be sent: 'released' a held name, or 'withdrawn' the
   * request waiting for its answer.
   * @throws UsageError NAMED_TOKEN_NOT_HELD when neither.
   */
  release(name: string): 'released' | 'withdrawn' {
    const s = this.#names.get(name);
    if (s?.held) {
      s.held = false;
      this.#load--;
      this.#tidy(name, s);
      return 'released';
    }
    const at = s?.unanswered.lastIndexOf(true) ?? -1;
    if (s === undefined || at < 0) {
      throw new UsageError(ErrorCode.NAMED_TOKEN_NOT_HELD, `named token "${name}" is neither held nor requested`);
    }
    s.unanswered[at] = false;
    return 'withdrawn';
  }

  /** A GRANT arrived. @throws ProtocolError when no request of `name` awaits an answer. */
  granted(name: string): AnswerOutcome {
    const s = this.#answer(name, 'GRANT');
    const wanted = s.unanswered.shift() as boolean;
    if (wanted) {
      s.held = true; // the load stays: the request became a holding
      return 'granted';
    }
    this.#load--; // our RELEASE, already on its way, gives it back
    this.#tidy(name, s);
    return 'withdrawn';
  }

  /** A REFUSE arrived. @throws ProtocolError when no request of `name` awaits an answer. */
  refused(name: string): AnswerOutcome {
    const s = this.#answer(name, 'REFUSE');
    const wanted = s.unanswered.shift() as boolean;
    this.#load--;
    this.#tidy(name, s);
    return wanted ? 'refused' : 'withdrawn';
  }

  /** Names whose request still waits for its answer (not withdrawn), for a session that ends. */
  pending(): string[] {
    const out: string[] = [];
    for (const [name, s] of this.#names) if (s.unanswered.includes(true)) out.push(name);
    return out;
  }

  /** Every name held or asked for, in the map's order, for a session record (copies). */
  snapshot(): { name: string; held: boolean; unanswered: boolean[] }[] {
    return [...this.#names].map(([name, s]) => ({ name, held: s.held, unanswered: [...s.unanswered] }));
  }

  /** The requests a snapshot() recorded, under `offer`. */
  static restore(
    offer: NamedTokenOffer,
    names: readonly { name: string; held: boolean; unanswered: readonly boolean[] }[],
  ): NamedTokenRequests {
    const r = new NamedTokenRequests(offer);
    for (const n of names) {
      r.#names.set(n.name, { held: n.held, unanswered: [...n.unanswered] });
      r.#load += (n.held ? 1 : 0) + n.unanswered.length;
    }
    return r;
  }

  #answer(name: string, what: string): NameState {
    const s = this.#names.get(name);
    if (s === undefined || s.unanswered.length === 0) {
      throw new ProtocolError(AbortCode.NAMED_TOKEN_VIOLATION, `NAMED_TOKEN_${what} for "${name}", never requested`);
    }
    return s;
  }

  #state(name: string): NameState {
    let s = this.#names.get(name);
    if (s === undefined) {
      s = { held: false, unanswered: [] };
      this.#names.set(name, s);
    }
    return s;
  }

  #tidy(name: string, s: NameState): void {
    if (!s.held && s.unanswered.length === 0) this.#names.delete(name);
  }
}
