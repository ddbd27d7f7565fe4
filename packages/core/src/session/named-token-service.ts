/**
 * A responder's named-token service: one TokenRegistry shared by every session it accepted (on
 * any connection) and by local code, with the glue between session events and the registry.
 *
 * Theory of operation
 * - The driver feeds it the events of its sessions (`handleEvent`): a peer's request goes to the
 *   registry, a grant goes back as NAMED_TOKEN_GRANT, a refusal or a withdrawn queued request as
 *   NAMED_TOKEN_REFUSE, and a session that *closed* loses everything it held or waited for, the
 *   next waiters being granted. A suspended session emits no `closed`: it keeps its tokens until
 *   it resumes (and goes on) or its resume window ends (and it closes).
 * - A grant for a session that can no longer send (releasing, closed) is not made: the name goes
 *   to the next waiter at once, so a name is never held by someone who cannot learn it.
 * - Owners that are not core Sessions are local code. Every grant made (to a session or to local
 *   code) comes out of `pollGrant()`, in order; sessions that were given a frame to send come out
 *   of `pollWoken()`, so a driver can flush connections other than the one whose input caused it.
 * No clock, no I/O, no callbacks: the caller drains both polls after every call.
 */
import { LiaisonError } from '../errors.js';
import type { ConnectionEvent } from './events.js';
import type { NamedTokenOffer } from './named-token-requests.js';
import {
  type NamedTokenLimits,
  NamedTokenRefusedError,
  type TokenGrant,
  TokenRefuseCode,
  TokenRegistry,
  type TokenRelease,
} from './named-tokens.js';
import { Session } from './session.js';

export class NamedTokenService {
  readonly registry: TokenRegistry<object>;
  readonly #grants: TokenGrant<object>[] = [];
  readonly #woken = new Set<Session>();

  constructor(limits: Partial<NamedTokenLimits> = {}) {
    this.registry = new TokenRegistry(limits);
  }

  /** What accepting sessions announce (Session.accept's `namedTokens` option). */
  get offer(): NamedTokenOffer {
    const l = this.registry.limits;
    return { nameBytesMax: l.nameBytesMax, tokensPerSessionMax: l.tokensPerSessionMax };
  }

  /** Feeds one event of a session this service offered named tokens to; others are ignored. */
  handleEvent(now: number, e: ConnectionEvent): void {
    switch (e.type) {
      case 'named-token-acquire':
        return this.#peerAcquire(now, e.session, e.name);
      case 'named-token-release': {
        const r = this.registry.release(e.name, e.session);
        // A request still queued is answered, so every request has exactly one answer.
        if (r.was === 'waiting' && e.session.refuseNamedToken(now, e.name, TokenRefuseCode.CANCELLED)) {
          this.#woken.add(e.session);
        }
        return this.#grant(now, e.name, r.granted);
      }
      case 'closed':
        for (const g of this.registry.releaseAll(e.session)) this.#grant(now, g.name, g.owner);
        return;
      default:
        return;
    }
  }

  /**
   * Local code (any object but a core Session, compared by identity) asks for `name`. A grant made
   * at once is returned and also comes out of `pollGrant()`, like every other grant.
   * @throws as TokenRegistry.acquire.
   */
  acquire(now: number, name: string, owner: object): 'granted' | 'queued' {
    void now;
    const result = this.registry.acquire(name, owner);
    // Granted at once is still a grant made: observers of pollGrant() see every one.
    if (result === 'granted') this.#grants.push({ name, owner });
    return result;
  }

  /** Local code releases `name` or withdraws its request; the next waiter is granted. */
  release(now: number, name: string, owner: object): TokenRelease<object> {
    const r = this.registry.release(name, owner);
    this.#grant(now, name, r.granted);
    return r;
  }

  /** Local code gives up everything (it stops). */
  releaseAll(now: number, owner: object): void {
    for (const g of this.registry.releaseAll(owner)) this.#grant(now, g.name, g.owner);
  }

  /** The next grant made (to a session or to local code), oldest first. */
  pollGrant(): TokenGrant<object> | null {
    return this.#grants.shift() ?? null;
  }

  /** A session given a named-token frame to send since the last call (flush its connection). */
  pollWoken(): Session | null {
    for (const s of this.#woken) {
      this.#woken.delete(s);
      return s;
    }
    return null;
  }

  #peerAcquire(now: number, session: Session, name: string): void {
    let result: 'granted' | 'queued';
    try {
      result = this.registry.acquire(name, session);
    } catch (e) {
      if (!(e instanceof LiaisonError)) throw e;
      const code = e instanceof NamedTokenRefusedError ? e.refuseCode : TokenRefuseCode.UNAVAILABLE;
      if (session.refuseNamedToken(now, name, code)) this.#woken.add(session);
      return;
    }
    if (result === 'granted') this.#grant(now, name, session);
  }

  /** Delivers a grant; one the owner cannot take passes to the next waiter. */
  #grant(now: number, name: string, owner: object | null): void {
    let next = owner;
    while (next !== null) {
      if (!(next instanceof Session)) {
        this.#grants.push({ name, owner: next });
        return;
      }
      if (next.grantNamedToken(now, name)) {
        this.#woken.add(next);
        this.#grants.push({ name, owner: next });
        return;
      }
      next = this.registry.release(name, next).granted;
    }
  }
}
