/**
 * Named tokens on a browser session: acquire() asks the server's registry and resolves on the
 * grant, releaseToken() gives the token back or withdraws the request. Across a transport break
 * the engine replays the request and its answer like data, so a grant is neither lost nor
 * doubled; here only the waiting promises are kept, one per name.
 */
import { NamedTokenRefusedError, SessionClosedError, TokenRefuseCode, UsageError } from '@liaison/core';
import { now } from './clock.js';
import type { SessionView } from './session-common.js';

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  /** Stops listening to the acquire()'s signal. */
  detach: () => void;
}

export class SessionTokens {
  readonly #live: SessionView;
  /** Resolves when the session opened: the server's offer comes with its acceptance. */
  readonly #ready: Promise<void>;
  /** Called with the name of each grant, after its acquire() resolved. */
  readonly #onGranted: (name: string) => void;
  readonly #waiters = new Map<string, Waiter>();

  constructor(live: SessionView, ready: Promise<void>, onGranted: (name: string) => void) {
    this.#live = live;
    this.#ready = ready;
    this.#onGranted = onGranted;
  }

  acquire(name: string, signal?: AbortSignal): Promise<void> {
    const core = this.#live.core;
    const reason = this.#live.reason ?? core.closeReason;
    if (reason) return Promise.reject(new SessionClosedError(reason));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (core.state === 'connecting' || core.state === 'awaiting-response') {
      return this.#ready.then(() => this.acquire(name, signal));
    }
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
      this.#waiters.set(name, { resolve, reject, detach: () => signal?.removeEventListener('abort', onAbort) });
    });
  }

  release(name: string): void {
    const waiter = this.#waiters.get(name);
    if (waiter) {
      this.#waiters.delete(name);
      waiter.detach();
      if (!this.#live.core.heldNamedTokens.includes(name)) {
        this.#withdraw(name);
        const why = `named token "${name}" withdrawn by releaseToken()`;
        waiter.reject(new NamedTokenRefusedError(name, TokenRefuseCode.CANCELLED, why));
        return;
      }
      // Granted in this very turn, its event not yet dispatched: it was held, so it resolves.
      waiter.resolve();
    }
    if (this.#live.reason) return; // the session's end released everything already
    this.#live.core.releaseNamedToken(now(), name);
    this.#live.driver.commandFlush();
  }

  granted(name: string): void {
    // A grant withdrawn meanwhile (signal, releaseToken) is no longer held: nothing to report.
    if (!this.#live.core.heldNamedTokens.includes(name)) return;
    const waiter = this.#waiters.get(name);
    this.#waiters.delete(name);
    waiter?.detach();
    waiter?.resolve();
    this.#onGranted(name);
  }

  refused(name: string, code: number): void {
    const waiter = this.#waiters.get(name);
    this.#waiters.delete(name);
    waiter?.detach();
    waiter?.reject(new NamedTokenRefusedError(name, code));
  }

  /** The session ended: every waiting acquire() rejects with `error`. */
  fail(error: Error): void {
    for (const waiter of this.#waiters.values()) {
      waiter.detach();
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
