/**
 * `server.tokens`: the server's named-token registry, shared by every session it accepted (on
 * any connection) and by local code running beside the server, which is one more owner in the
 * same FIFO queues.
 *
 * Theory of operation
 * - The core NamedTokenService decides; this class feeds it the events of the server's sessions
 *   (requests, releases, closes), drains its grants (resolving local acquire() promises and
 *   emitting 'grant') and flushes the connections of the sessions it gave a frame to, which may
 *   be other connections than the one whose input caused the grant.
 * - A suspended session emits no close: it keeps what it holds and its place in the queues until
 *   it resumes or its resume window ends.
 */
import { EventEmitter } from 'node:events';
import {
  type Session as CoreSession,
  ErrorCode,
  type NamedTokenLimits,
  type NamedTokenOffer,
  NamedTokenRefusedError,
  NamedTokenService,
  type SessionEvent,
  TokenRefuseCode,
  UsageError,
} from '@liaison/core';
import { now } from './clock.js';
import { sessionFor } from './registry.js';
import type { Session } from './session.js';

/** Who holds or waits for a name: a session of this server, or 'server' (local code). */
export type TokenHolder = Session | 'server';

export interface ServerTokensEventMap {
  /** `name` was granted to `holder` (a session's client learns it by NAMED_TOKEN_GRANT). */
  grant: [name: string, holder: TokenHolder];
}

export class ServerTokens extends EventEmitter<ServerTokensEventMap> {
  readonly #service: NamedTokenService;
  /** The owner standing for local code in the registry. */
  readonly #local = Object.freeze({ owner: 'server' });
  readonly #waiters = new Map<string, { resolve: () => void; reject: (e: unknown) => void; cleanup: () => void }>();
  #closed = false;

  /** @internal Created by listen(). */
  constructor(limits: Partial<NamedTokenLimits> = {}) {
    super();
    this.#service = new NamedTokenService(limits);
  }

  /** What accepted sessions are offered (the NAMED_TOKENS extension of their ACCEPT). */
  get offer(): NamedTokenOffer {
    return this.#service.offer;
  }

  get limits(): Readonly<NamedTokenLimits> {
    return this.#service.registry.limits;
  }

  /** Who holds `name` now, or undefined when nobody does. */
  holder(name: string): TokenHolder | undefined {
    const owner = this.#service.registry.holder(name);
    return owner === undefined ? undefined : this.#holderOf(owner);
  }

  /** Who waits for `name`, next first. */
  waiting(name: string): TokenHolder[] {
    return this.#service.registry.waiting(name).map((o) => this.#holderOf(o));
  }

  /** The same as waiting(): the queue behind the holder, next first (the name in the API contract). */
  queue(name: string): TokenHolder[] {
    return this.waiting(name);
  }

  /** Names local code holds. */
  get held(): string[] {
    return this.#service.registry.heldBy(this.#local);
  }

  /**
   * Local code asks for `name`, queued behind the sessions and local requests before it.
   * Resolves when granted; rejects with the signal's reason if it aborts first (the request is
   * withdrawn), or a NamedTokenRefusedError (ALREADY_REQUESTED, TOO_MANY_TOKENS, QUEUE_FULL,
   * CANCELLED by release()).
   */
  acquire(name: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    if (this.#closed) return Promise.reject(closedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    let result: 'granted' | 'queued';
    try {
      result = this.#service.acquire(now(), name, this.#local);
    } catch (e) {
      return Promise.reject(e);
    }
    if (result === 'granted') {
      this.#drain();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#waiters.delete(name);
        this.#service.release(now(), name, this.#local);
        this.#drain();
        reject(signal?.reason);
      };
      const cleanup = () => signal?.removeEventListener('abort', onAbort);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.set(name, { resolve, reject, cleanup });
    });
  }

  /**
   * Local code gives `name` back (the next waiter is granted), or withdraws its waiting request
   * (its promise rejects with CANCELLED). Returns false when local code neither held nor waited.
   */
  release(name: string): boolean {
    const r = this.#service.release(now(), name, this.#local);
    const waiter = this.#waiters.get(name);
    if (r.was === 'waiting' && waiter) {
      this.#waiters.delete(name);
      waiter.cleanup();
      waiter.reject(new NamedTokenRefusedError(name, TokenRefuseCode.CANCELLED));
    }
    this.#drain();
    return r.was !== 'none';
  }

  /** @internal The server closed: local requests still waiting reject, later ones too. */
  close(): void {
    this.#closed = true;
    const waiting = [...this.#waiters];
    this.#waiters.clear();
    for (const [name, waiter] of waiting) {
      waiter.cleanup();
      this.#service.release(now(), name, this.#local);
      waiter.reject(closedError());
    }
    this.#drain();
  }

  /** @internal Names the session's client holds. */
  heldBy(core: CoreSession): string[] {
    return this.#service.registry.heldBy(core);
  }

  /** @internal An event of one of the server's sessions (requests, releases, close). */
  handleEvent(e: SessionEvent): void {
    this.#service.handleEvent(now(), e);
    this.#drain();
  }

  #drain(): void {
    for (let s = this.#service.pollWoken(); s !== null; s = this.#service.pollWoken()) sessionFor(s)?.flushSoon();
    for (let g = this.#service.pollGrant(); g !== null; g = this.#service.pollGrant()) {
      if (g.owner === this.#local) {
        const waiter = this.#waiters.get(g.name);
        this.#waiters.delete(g.name);
        waiter?.cleanup();
        waiter?.resolve();
      }
      this.emit('grant', g.name, this.#holderOf(g.owner));
    }
  }

  #holderOf(owner: object): TokenHolder {
    if (owner === this.#local) return 'server';
    // Every other owner is a live session of this server: a closed one has left the registry.
    return sessionFor(owner as CoreSession) as Session;
  }
}

function closedError(): UsageError {
  return new UsageError(ErrorCode.INVALID_STATE, 'the server closed: no more named tokens');
}
