/**
 * Binds one core Connection to one WebSocket: the only place where the browser client's bytes
 * meet a socket and its deadlines meet a real timer.
 *
 * Theory of operation
 * - Every input (bytes, drain, close, timer) is handed to the core, then the driver drains the
 *   core's events, writes what it has to transmit and re-arms its single timer to pollTimeout().
 * - Application commands (send, release) change the core at once. The first send of a turn is
 *   written immediately; the rest of the turn's commands, and what input produced, are flushed
 *   once in a microtask, so a burst of small sends leaves as one batched write.
 * - Transport backpressure: when a write returns false the driver stops pulling from the core
 *   until the transport drains; the core's bounded send queues then fill and send() waits.
 * - Events are dispatched after the core call that produced them returned, never inside it.
 */
import type { Connection, SecureConnection, SessionEvent } from '@liaison/core';
import { now } from './clock.js';
import type { WsTransport } from './ws-transport.js';

/** A session event other than a connect request (this side only initiates). */
export type ClientSessionEvent = Exclude<SessionEvent, { type: 'connect-request' }>;

export interface DriverHooks {
  /** A session event, after the core call that raised it returned. */
  onSessionEvent(e: ClientSessionEvent): void;
  /** The transport closed; the session on it was suspended or ended. */
  onClosed(): void;
  /** The first bytes from the server arrived on this transport. */
  onPeerReached(): void;
}

/** Bounds the loop of dispatch and flush after one input (a listener's send may queue frames). */
const SETTLE_ROUNDS_MAX = 16;

/** What meets the transport: the Connection itself, or a SecureConnection (Noise) around it. */
export type EngineIo = Connection | SecureConnection;

export class ConnectionDriver {
  /** The engine of the session (inside the secure channel when there is one). */
  readonly conn: Connection;
  readonly io: EngineIo;
  readonly transport: WsTransport;
  readonly #hooks: DriverHooks;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #timerAt = Number.POSITIVE_INFINITY;
  #flushScheduled = false;
  #wroteThisTurn = false;
  #transportBlocked = false;
  #ended = false;
  #transportClosed = false;
  #peerAnswered = false;
  #closeError: Error | null = null;

  constructor(transport: WsTransport, conn: Connection, io: EngineIo, hooks: DriverHooks) {
    this.transport = transport;
    this.conn = conn;
    this.io = io;
    this.#hooks = hooks;
  }

  /** Whether the server sent anything on this transport (a liaison endpoint answered). */
  get peerAnswered(): boolean {
    return this.#peerAnswered;
  }

  get transportClosed(): boolean {
    return this.#transportClosed;
  }

  /** Why the transport closed, once it did (null for an orderly close or while open). */
  get closeError(): Error | null {
    return this.#closeError;
  }

  start(): void {
    this.transport.start({
      onOpen: () => {
        this.io.handleTransportUp(now());
        this.#afterInput();
      },
      onData: (bytes) => {
        if (!this.#peerAnswered) {
          this.#peerAnswered = true;
          this.#hooks.onPeerReached();
        }
        this.io.handleBytes(now(), bytes);
        this.#drainEvents();
        this.scheduleFlush();
      },
      onDrain: () => {
        this.#transportBlocked = false;
        this.#afterInput();
      },
      onClose: (error) => {
        this.#transportClosed = true;
        this.#ended = true;
        this.#closeError = error ?? null;
        this.io.handleTransportDown(now(), error?.message ?? 'transport closed');
        this.#drainEvents();
        this.#clearTimer();
        this.#hooks.onClosed();
      },
    });
    this.#rearm();
  }

  /** Input changed the core: flush once this task's work is done. */
  scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#wroteThisTurn = false;
      this.#afterInput();
    });
  }

  /**
   * A command of the application changed the core. The first one of a turn is written at once;
   * those that follow are batched into the flush at the end of it. Events wait for that flush,
   * so the application is never called back from inside its own send().
   */
  commandFlush(): void {
    if (this.#wroteThisTurn || this.#ended || this.#transportBlocked || !this.io.isOpen) {
      this.scheduleFlush();
      return;
    }
    this.#wroteThisTurn = true;
    this.#flush();
    this.scheduleFlush();
  }

  /** Drops the transport now (the network is known to be gone): the session suspends. */
  drop(): void {
    this.transport.destroy();
  }

  /** Calls `done` once everything the core has queued so far left the WebSocket's buffer. */
  whenWritten(done: () => void): void {
    if (this.#transportClosed) return queueMicrotask(done);
    this.#afterInput();
    this.transport.whenWritten(done);
  }

  #afterInput(): void {
    for (let i = 0; i < SETTLE_ROUNDS_MAX; i++) {
      const dispatched = this.#drainEvents();
      const wrote = this.#flush();
      if (!dispatched && !wrote) break;
    }
    this.#rearm();
    if (!this.#ended && (this.io.isClosed || this.io.sessionCount === 0) && this.transport.opened) {
      this.#ended = true;
      this.#clearTimer();
      this.transport.end();
    }
  }

  #drainEvents(): boolean {
    let any = false;
    for (let e = this.io.pollEvent(); e !== null; e = this.io.pollEvent()) {
      any = true;
      if (e.type === 'connect-request' || e.type === 'rtt' || e.type === 'connection-closed') continue;
      this.#hooks.onSessionEvent(e);
    }
    return any;
  }

  #flush(): boolean {
    if (this.#ended) return false;
    let wrote = false;
    while (!this.#transportBlocked) {
      const segments = this.io.pollTransmitSegments();
      if (segments === null) break;
      wrote = true;
      if (!this.transport.writev(segments)) this.#transportBlocked = true;
    }
    return wrote;
  }

  #rearm(): void {
    const at = this.io.pollTimeout();
    if (at === null) return this.#clearTimer();
    // An armed timer that fires earlier is kept: on firing, the core says what is due.
    if (this.#timer !== null && this.#timerAt <= at) return;
    this.#clearTimer();
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.io.handleTimeout(now());
        this.#afterInput();
      },
      Math.max(0, Math.ceil(at - now())),
    );
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }
}
