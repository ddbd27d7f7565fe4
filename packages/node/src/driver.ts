/**
 * Binds one core Connection to one Transport: the only place where liaison's bytes meet a socket
 * and its deadlines meet a real timer.
 *
 * Theory of operation
 * - Every input (bytes, drain, close, timer) is handed to the core, then the driver drains the
 *   core's events, writes what it has to transmit and re-arms its single timer to pollTimeout().
 * - Application commands (send, release) change the core at once. The first send of a turn of the
 *   event loop is written immediately (a request or a reply does not wait); the rest of the turn's
 *   commands, and what input produced, are flushed once at the end of the turn (setImmediate), so a
 *   burst of small sends leaves as one batched write.
 * - Transport backpressure: when a write returns false the driver stops pulling from the core
 *   until the transport drains; the core's bounded send queues then fill and send() waits.
 * - Events are dispatched after the core call that produced them returned, never inside it.
 */
import {
  AbortCode,
  type Connection,
  type ConnectRequest,
  type Session as CoreSession,
  SecureConnection,
} from '@liaison/core';
import { now } from './clock.js';
import { dispatchSessionEvent } from './registry.js';
import type { Transport } from './transport.js';
import { type CloseFacts, classifyClose, type TransportFailureError } from './transport-failure.js';

export interface DriverHooks {
  /** Responder: a connect request passed negotiation; the application must accept or refuse. */
  onConnectRequest?(session: CoreSession, request: ConnectRequest): void;
  /** Something may have been parked in (or taken from) a session table: update its timer. */
  onParkingChanged?(): void;
  /** The transport closed; its sessions were suspended or ended. */
  onClosed?(): void;
  /** The first bytes from the peer arrived: the network carries this connection both ways. */
  onPeerReached?(): void;
  /** The engine closed the connection itself: a protocol error of the peer, a timeout, or shutdown. */
  onConnectionClosed?(origin: 'local' | 'peer' | 'transport', code: number, message: string): void;
  /** Responder: a RESUME was refused on this connection (counted against the peer's address). */
  onResumeRefused?(): void;
  /** Initiator: the Noise handshake is IK (a pinned server key); names a silent close (transport-failure.ts). */
  noiseIk?: boolean;
  /** Initiator: a TLS client certificate is presented; names a silent close (transport-failure.ts). */
  clientCertificate?: boolean;
}

export { now };

export class ConnectionDriver {
  /** The engine of the sessions (inside the secure channel when there is one). */
  readonly conn: Connection;
  /** What meets the transport: the Connection itself, or the SecureConnection around it. */
  readonly io: Connection | SecureConnection;
  /** The Noise channel of this connection, if any. */
  readonly secure: SecureConnection | null;
  readonly transport: Transport;
  readonly #hooks: DriverHooks;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Number.POSITIVE_INFINITY;
  #flushScheduled = false;
  #transportBlocked = false;
  #ended = false;
  #transportClosed = false;
  #peerAnswered = false;
  /** Every session left for another connection: the transport is presumed dead, not ended gracefully. */
  #abandoned = false;
  #parkingChanged = false;
  #wroteThisTurn = false;
  #closeCode: number | null = null;
  #closeError: TransportFailureError | null = null;
  #resumesRefused = 0;
  /** Callbacks waiting for what the core has queued so far to reach the operating system. */
  #written: (() => void)[] = [];
  /** Close the transport once no session remains (a client's own connection). */
  endWhenIdle = false;

  constructor(transport: Transport, conn: Connection | SecureConnection, hooks: DriverHooks = {}) {
    this.transport = transport;
    this.io = conn;
    this.secure = conn instanceof SecureConnection ? conn : null;
    this.conn = conn instanceof SecureConnection ? conn.connection : conn;
    this.#hooks = hooks;
  }

  /** Installs the transport handlers; the core learns the transport is up when it opens. */
  start(): void {
    this.transport.start({
      onOpen: () => {
        if (this.#transportClosed) return;
        this.io.handleTransportUp(now());
        this.#afterInput();
      },
      onData: (bytes) => {
        if (!this.#peerAnswered) {
          this.#peerAnswered = true;
          this.#hooks.onPeerReached?.();
        }
        this.io.handleBytes(now(), bytes);
        while (this.#resumesRefused < this.conn.resumesRefused) {
          this.#resumesRefused++;
          this.#hooks.onResumeRefused?.();
        }
        // Events go to the application now; the answer (acknowledgements, replies written by
        // synchronous handlers) is flushed once per turn, so the reads of one turn share a write.
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
        this.#closeError = classifyClose(error, this.#closeFacts());
        this.io.handleTransportDown(now(), this.#closeError.message);
        this.#drainEvents();
        this.#clearTimer();
        this.#releaseWritten();
        this.#hooks.onParkingChanged?.();
        this.#hooks.onClosed?.();
      },
    });
    this.#rearm();
  }

  /** Input changed the core: flush on the next turn, so the reads of one turn share a write. */
  scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#wroteThisTurn = false;
      this.#afterInput();
    });
  }

  /**
   * A command of the application changed the core (a send). The first one of a turn of the event
   * loop is written at once: a request or a reply leaves without waiting a turn. Those that follow
   * in the same turn are batched into the flush at the end of it. Only writes here: events wait
   * for that flush, so the application is never called back from inside its own send().
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

  /**
   * A session of this connection resumed on another one (PROTOCOL.md 16.9: the peer found this
   * one dead before this side did). Once none is left, the peer no longer uses this connection:
   * it is dropped now instead of holding a socket, and a place in its address's connection
   * count, until the handshake or idle timeout notices.
   */
  sessionMovedAway(): void {
    if (this.#ended || this.conn.role !== 'responder' || this.conn.sessionCount > 0) return;
    this.#abandoned = true;
    this.close(AbortCode.SHUTDOWN, 'its sessions resumed on another connection');
  }

  /** Closes the connection and every session on it with a provider abort. */
  close(code?: AbortCode, message?: string): void {
    this.io.close(now(), code, message);
    this.#afterInput();
  }

  /**
   * Calls `done` once everything the core has queued so far (an acknowledgement that completes a
   * release, say) has been written and handed to the operating system, or the transport is gone.
   */
  whenWritten(done: () => void): void {
    if (this.#transportClosed) return queueMicrotask(done);
    this.#written.push(done);
    this.scheduleFlush();
  }

  /**
   * Whether the peer sent anything on this transport: a liaison endpoint was there and answered,
   * as opposed to a transport that never opened or a peer that closed without a word (a failed
   * Noise handshake, a server turning the connection away).
   */
  get peerAnswered(): boolean {
    return this.#peerAnswered;
  }

  get transportClosed(): boolean {
    return this.#transportClosed;
  }

  /** Why the transport closed, once it did. */
  get closeError(): TransportFailureError | null {
    return this.#closeError;
  }

  #closeFacts(): CloseFacts {
    const s = this.secure;
    const pending = s !== null && !s.isEncrypted && !s.isClosed;
    return {
      initiator: this.conn.role === 'initiator',
      kind: this.transport.kind,
      opened: this.transport.opened,
      bytesReceived: this.transport.bytesReceived,
      clientCertificate: this.#hooks.clientCertificate === true,
      noise: s === null ? 'none' : pending ? (this.#hooks.noiseIk ? 'pending-ik' : 'pending') : 'done',
    };
  }

  #afterInput(): void {
    // Flushing can raise events (writable) and events can queue frames (a listener's send): loop.
    for (let i = 0; i < 16; i++) {
      const dispatched = this.#drainEvents();
      const wrote = this.#flush();
      if (!dispatched && !wrote) break;
    }
    this.#rearm();
    // Once the core has nothing more to write (and the transport takes writes), what it queued
    // before is in the transport: wait for that to reach the operating system.
    if (this.#written.length > 0 && !this.#transportBlocked) {
      const waiting = this.#written;
      this.#written = [];
      this.transport.whenWritten(() => {
        for (const done of waiting) done();
      });
    }
    if (this.#parkingChanged) {
      this.#parkingChanged = false;
      this.#hooks.onParkingChanged?.();
    }
    if (!this.#ended && (this.io.isClosed || (this.endWhenIdle && this.io.sessionCount === 0))) {
      this.#ended = true;
      this.#clearTimer();
      // A peer found unresponsive gets no graceful end (it would wait out the linger before the
      // reconnection could start): the transport is dropped at once.
      if (this.#closeCode === AbortCode.IDLE_TIMEOUT || this.#abandoned) this.transport.destroy();
      else this.transport.end();
    }
  }

  #drainEvents(): boolean {
    let any = false;
    for (let e = this.io.pollEvent(); e !== null; e = this.io.pollEvent()) {
      any = true;
      switch (e.type) {
        case 'connect-request':
          this.#hooks.onConnectRequest?.(e.session, e.request);
          break;
        case 'rtt':
          break;
        case 'connection-closed':
          this.#closeCode = e.code;
          this.#hooks.onConnectionClosed?.(e.origin, e.code, e.message);
          break;
        default:
          if (e.type === 'suspended' || e.type === 'resumed' || e.type === 'closed') this.#parkingChanged = true;
          dispatchSessionEvent(e, this);
      }
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

  #releaseWritten(): void {
    const waiting = this.#written;
    this.#written = [];
    for (const done of waiting) done();
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }
}
