/**
 * Named tokens on the client side of a Node session: acquire() asks the server's registry and
 * resolves on the grant, releaseToken() gives the token back or withdraws the request. Across a
 * transport break the engine replays the request and its answer like data, so a grant is
 * neither lost nor doubled; here only the waiting promises are kept, one per name.
 */
import { NamedTokenRefusedError, SessionClosedError, TokenRefuseCode, UsageError } from '@liaison/core';
import { now } from './driver.js';
import { endOf, type SessionView, stateOf } from './session-common.js';
import type { SessionEmitter } from './session-types.js';

interface TokenWaiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  cleanup: () => void;
}

/** What named tokens need of their session (the Session itself): `ready` (the offer comes with the acceptance) and the grant event. */
export interface TokensSession extends Pick<SessionEmitter, 'emit'> {
  readonly ready: Promise<void>;
}

export class SessionTokens {
  readonly #live: SessionView;
  readonly #session: TokensSession;
  /** acquire() calls waiting for their grant, by name. */
  readonly #waiters = new Map<string, TokenWaiter>();

  constructor(live: SessionView, session: TokensSession) {
    this.#live = live;
    this.#session = session;
  }

  acquire(name: string, options: { signal?: AbortSignal }): Promise<void> {
    const { signal } = options;
    const core = this.#live.core;
    const reason = endOf(this.#live);
    if (reason) return Promise.reject(new SessionClosedError(reason));
    if (signal?.aborted) return Promise.reject(signal.reason);
    // The offer comes with the server's acceptance.
    if (stateOf(this.#live) === 'connecting') return this.#session.ready.then(() => this.acquire(name, options));
    try {
      core.acquireNamedToken(now(), name);
    } catch (e) {
      return Promise.reject(e);
    }
    this.#live.driver.commandFlush();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        if (this.#waiters.get(name)?.reject !== reject) return;
        this.#waiters.delete(name);
        this.#withdraw(name);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.set(name, { resolve, reject, cleanup: () => signal?.removeEventListener('abort', onAbort) });
    });
  }

  release(name: string): void {
    const waiter = this.#waiters.get(name);
    if (waiter) {
      this.#waiters.delete(name);
      waiter.cleanup();
      if (!this.#live.core.heldNamedTokens.includes(name)) {
        this.#withdraw(name);
        waiter.reject(
          new NamedTokenRefusedError(
            name,
            TokenRefuseCode.CANCELLED,
            `named token "${name}" withdrawn by releaseToken()`,
          ),
        );
        return;
      }
      waiter.resolve(); // granted in this very turn, its event not yet dispatched: it was held
    }
    if (this.#live.reason) return; // the session's end released everything already
    this.#live.core.releaseNamedToken(now(), name);
    this.#live.driver.commandFlush();
  }

  /** The registry granted `name`: its acquire() resolves and the session reports it. */
  granted(name: string): void {
    // A grant withdrawn meanwhile (signal, releaseToken) is no longer held: nothing to report.
    if (!this.#live.core.heldNamedTokens.includes(name)) return;
    const waiter = this.#waiters.get(name);
    this.#waiters.delete(name);
    waiter?.cleanup();
    waiter?.resolve();
    this.#session.emit('named-token-granted', name);
  }

  refused(name: string, code: number): void {
    const waiter = this.#waiters.get(name);
    this.#waiters.delete(name);
    waiter?.cleanup();
    waiter?.reject(new NamedTokenRefusedError(name, code));
  }

  /** The session ended: every waiting acquire() rejects with `error`. */
  fail(error: Error): void {
    for (const waiter of this.#waiters.values()) {
      waiter.cleanup();
      waiter.reject(error);
    }
    this.#waiters.clear();
  }

  #withdraw(name: string): void {
    const core = this.#live.core;
    if (core.state === 'closed') return;
    try {
      core.releaseNamedToken(now(), name);
    } catch (e) {
      // Already answered and released in this turn: nothing left to withdraw.
      if (!(e instanceof UsageError)) throw e;
    }
    this.#live.driver.commandFlush();
  }
}
