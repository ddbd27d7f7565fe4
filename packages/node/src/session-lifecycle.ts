/**
 * The lifecycle of a Node session as the application waits on it: the `ready` and `closed`
 * promises (made on first use: a server may hold 100,000 sessions nobody awaits), the open and
 * close events, and the diagnostics channels' open, close, refused and protocol-error messages.
 */
import { type CloseReason, describeCloseReason, type SessionClosedError } from '@liaison/core';
import { isProtocolAbort, publish, type Role } from './diagnostics.js';
import type { SessionEmitter } from './session-types.js';

/** What the lifecycle needs of its session (the Session itself): its events and its address. */
export interface LifecycleSession extends Pick<SessionEmitter, 'emit'> {
  readonly remoteAddress: string;
}

export class Lifecycle {
  readonly #session: LifecycleSession;
  readonly #role: Role;
  #ready: Promise<void> | null = null;
  #closed: Promise<CloseReason> | null = null;
  #isOpen = false;
  #readyError: Error | null = null;
  #resolveReady: (() => void) | null = null;
  #rejectReady: ((e: Error) => void) | null = null;
  #resolveClosed: ((r: CloseReason) => void) | null = null;
  /** Client: why connect()'s signal ended the establishment (`ready` rejects with it). */
  #establishmentAborted: { reason: unknown } | null = null;

  /** When the session object was made (the connect request, on a server): the open's latency runs from here. */
  readonly #startedAt = performance.now();

  constructor(session: LifecycleSession, role: Role) {
    this.#session = session;
    this.#role = role;
  }

  get isOpen(): boolean {
    return this.#isOpen;
  }

  get ready(): Promise<void> {
    if (this.#ready === null) {
      if (this.#isOpen) this.#ready = Promise.resolve();
      else if (this.#readyError) this.#ready = Promise.reject(this.#readyError);
      else {
        this.#ready = new Promise<void>((resolve, reject) => {
          this.#resolveReady = resolve;
          this.#rejectReady = reject;
        });
      }
      // `ready` may be ignored by an application that only awaits `closed`: never an unhandled rejection.
      this.#ready.catch(() => {});
    }
    return this.#ready;
  }

  /** `reason`: the session's close reason so far (null while it lives). */
  closed(reason: CloseReason | null): Promise<CloseReason> {
    if (this.#closed === null) {
      this.#closed = reason
        ? Promise.resolve(reason)
        : new Promise<CloseReason>((resolve) => {
            this.#resolveClosed = resolve;
          });
    }
    return this.#closed;
  }

  /** connect()'s signal aborted before the session opened: `ready` rejects with its reason. */
  establishmentAborted(reason: unknown): void {
    this.#establishmentAborted = { reason };
  }

  opened(): void {
    this.#isOpen = true;
    publish('open', () => ({
      session: this.#session,
      role: this.#role,
      handshakeMs: performance.now() - this.#startedAt,
    }));
    this.#resolveReady?.();
    this.#session.emit('open');
  }

  /** The session ended: a `ready` still waiting rejects (with the signal's reason if connect() was aborted). */
  failReady(error: SessionClosedError): void {
    const readyError = this.#establishmentAborted ? this.#establishmentAborted.reason : error;
    if (!this.#isOpen) this.#readyError = readyError as Error;
    this.#rejectReady?.(readyError as Error);
  }

  /** The session ended and its parts are settled: tell diagnostics, then 'close', then `closed`. */
  ended(reason: CloseReason, error: SessionClosedError): void {
    const session = this.#session;
    const role = this.#role;
    publish('close', () => ({ session, role, reason }));
    if (reason.kind === 'refused') {
      publish('refused', () => ({
        session,
        role,
        code: reason.code,
        remoteAddress: session.remoteAddress,
        reason: describeCloseReason(reason),
      }));
    }
    if (isProtocolAbort(reason)) {
      publish('protocolError', () => ({ session, error, remoteAddress: session.remoteAddress }));
    }
    session.emit('close', reason);
    this.#resolveClosed?.(reason);
  }
}
