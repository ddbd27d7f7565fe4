/**
 * A session as a web page sees it: the same shape as @liaison/node's Session where that makes
 * sense. `ready` and `closed` promises, `send()` that waits under backpressure (the core's bounded
 * queue, which fills while the WebSocket's buffer is full), `write()` with 'drain', async
 * iteration over messages, and typed events: it is an EventTarget ('open', 'message', 'drain',
 * 'suspended', 'resumed', 'close'; events.ts).
 *
 * Theory of operation
 * - The client (client.ts) feeds it the engine's events through handleEvent(), always after the
 *   core call that raised them returned; it moves the session to a new driver on each resume.
 * - outbox.ts keeps outgoing work in order (everything sent before close() goes before the
 *   release); inbox.ts holds received messages until a 'message' listener or the iterator takes
 *   them, and only then gives the peer its credit back.
 * - Nothing is dropped silently: when the session ends, waiting sends reject with a
 *   SessionClosedError, and undeliveredMessages() lists what the peer is not known to have.
 */
import {
  type AgreedParameters,
  type CloseReason,
  type Session as CoreSession,
  type ResumeStats,
  type RttEstimate,
  SessionClosedError,
  type SessionStateName,
  type SessionStats,
  type TokenName,
  tokenMask,
  type UndeliveredMessage,
  UsageError,
} from '@liaison/core';
import { now } from './clock.js';
import type { ClientSessionEvent, ConnectionDriver } from './driver.js';
import {
  SessionCloseEvent,
  type SessionEventMap,
  SessionMessageEvent,
  SessionResumedEvent,
  SessionSuspendedEvent,
  SessionTokenGrantedEvent,
} from './events.js';
import { Inbox } from './inbox.js';
import { Outbox } from './outbox.js';
import type { Parking } from './parking.js';
import { EMPTY, toBytes } from './session-common.js';
import { SessionDialogue, type SyncResult } from './session-dialogue.js';
import { SessionTokens } from './session-tokens.js';

export interface SendOptions {
  /** Withdraws the message if it aborts while the message waits for room (it is then never sent). */
  signal?: AbortSignal;
}

type Listener<E extends Event> = ((event: E) => void) | { handleEvent(event: E): void };

export class Session extends EventTarget {
  readonly #live: { core: CoreSession; driver: ConnectionDriver; reason: CloseReason | null };
  readonly #parking: Parking | null;
  readonly #outbox: Outbox;
  readonly #inbox: Inbox;
  readonly #tokens: SessionTokens;
  readonly #dialogue: SessionDialogue;
  readonly #ready: Promise<void>;
  readonly #closed: Promise<CloseReason>;
  #resolveReady!: () => void;
  #rejectReady!: (e: Error) => void;
  #resolveClosed!: (reason: CloseReason) => void;
  #isOpen = false;
  #peerUserData: Uint8Array = EMPTY;
  /** 'message' listeners: while there is one, messages go to it instead of the iterator. */
  readonly #messageListeners = new Map<unknown, EventListener>();

  /** @internal Created by connect(); applications do not construct sessions. */
  constructor(driver: ConnectionDriver, core: CoreSession, parking: Parking | null) {
    super();
    this.#live = { core, driver, reason: null };
    this.#parking = parking;
    this.#outbox = new Outbox(this.#live, () => this.dispatchEvent(new Event('drain')));
    this.#inbox = new Inbox(this.#live, {
      hasMessageListener: () => this.#messageListeners.size > 0,
      emitMessage: (data) => this.dispatchEvent(new SessionMessageEvent(data)),
      acceptRelease: () => this.#outbox.respond(EMPTY),
    });
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // `ready` may be ignored by a page that only awaits `closed`: never an unhandled rejection.
    this.#ready.catch(() => {});
    this.#closed = new Promise<CloseReason>((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#dialogue = new SessionDialogue(this.#live, {
      dispatchEvent: (event) => this.dispatchEvent(event),
      forceSends: () => this.#outbox.force(),
      pump: () => this.#outbox.pump(),
      inOrder: (fire) => this.#inbox.inOrder(fire),
    });
    this.#tokens = new SessionTokens(this.#live, this.#ready, (name) =>
      this.dispatchEvent(new SessionTokenGrantedEvent(name)),
    );
  }

  /** Resolves when the session is open; rejects with a SessionClosedError if it never opens. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** Resolves with the close reason when the session ends, however it ends (never rejects). */
  get closed(): Promise<CloseReason> {
    return this.#closed;
  }

  /** The X.225 state: connecting, awaiting-response, open, releasing, release-requested, disconnecting, closed. */
  get state(): SessionStateName {
    return this.#live.core.state;
  }

  /** attached (on a WebSocket), suspended (waiting to resume), resuming, awaiting-resumed. */
  get link(): string {
    return this.#live.core.link;
  }

  get agreed(): AgreedParameters | null {
    return this.#live.core.agreed;
  }

  /** User data the server sent with its acceptance. */
  get peerUserData(): Uint8Array {
    return this.#peerUserData;
  }

  get closeReason(): CloseReason | null {
    return this.#live.reason;
  }

  get stats(): Readonly<SessionStats> {
    return this.#live.core.stats;
  }

  get rtt(): RttEstimate | null {
    return this.#live.driver.conn.rtt;
  }

  /**
   * The server's static X25519 public key when the session runs inside Noise (pin it, or trust it
   * on first use), else null.
   */
  get peerStaticKey(): Uint8Array | null {
    const io = this.#live.driver.io;
    return 'remoteStaticKey' in io ? io.remoteStaticKey : null;
  }

  /** What carries the session: 'ws' or 'wss'. */
  get transport(): 'ws' | 'wss' {
    return this.#live.driver.transport.kind;
  }

  /** Bytes accepted by send() and not yet on the wire (the core's queue plus waiting sends). */
  get bufferedAmount(): number {
    return this.#live.core.queuedBytes + this.#outbox.waitingBytes;
  }

  /**
   * The messages accepted by send() that the peer is not known to have received, oldest first
   * (`status` undelivered or unconfirmed): after a session was lost, resend them if they matter.
   */
  undeliveredMessages(): UndeliveredMessage[] {
    return this.#live.core.undeliveredMessages();
  }

  /**
   * Sends one message. Resolves when the session has accepted it into its bounded send queue;
   * waits while the queue is full (the server's window or the WebSocket's buffer is full). A
   * `signal` that aborts while it waits withdraws it and rejects with the signal's reason.
   * @throws (rejects) SessionClosedError after the session ended; UsageError for a message over
   * the peer's limit or after close().
   */
  send(data: Uint8Array | string, options: SendOptions = {}): Promise<void> {
    const sent = this.#outbox.send(data, options.signal);
    sent.catch(() => {});
    return sent;
  }

  /**
   * The fast path for streaming: queues one message and returns whether to go on writing; after
   * false, wait for 'drain'. Nothing is dropped: false only says the backlog is full.
   * @throws SessionClosedError after the session ended, UsageError for bad data, at once.
   */
  write(data: Uint8Array | string): boolean {
    return this.#outbox.write(data);
  }

  /**
   * Orderly release (S-RELEASE): everything sent before is delivered, then both sides close.
   * When the peer asked first, this accepts its request. Resolves with the close reason.
   */
  close(userData: Uint8Array | string = EMPTY): Promise<CloseReason> {
    if (this.#live.reason) return this.#closed;
    const bytes = toBytes(userData);
    const state = this.state;
    if (state === 'release-requested') this.#outbox.respond(bytes);
    else if (state === 'open' || state === 'connecting' || state === 'awaiting-response') {
      // Without the tokens a release needs (dialogue units), say so now instead of never closing.
      try {
        this.#live.core.dialogue?.checkRelease();
      } catch (e) {
        return Promise.reject(e);
      }
      this.#outbox.release(bytes);
    }
    return this.#closed;
  }

  /** User abort (S-U-ABORT): ends at once; data in transit may be lost and is counted in the reason. */
  abort(userData: Uint8Array | string = EMPTY): void {
    if (this.#live.reason) return;
    try {
      this.#live.core.abort(now(), toBytes(userData));
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
    }
    // The abort frame and the `closed` event go out on the next flush; a suspended session's
    // event waits in its session table instead.
    this.#live.driver.scheduleFlush();
    this.#parking?.update();
  }

  /**
   * Asks the server's registry for the named token `name` (exclusive, granted in request order
   * among all the server's sessions). Resolves when granted. Rejects with a SessionClosedError if
   * the session ends first, with the signal's reason if `signal` aborts first (the request is
   * withdrawn), with a NamedTokenRefusedError if the registry refuses it (or releaseToken()
   * withdrew it: CANCELLED), or a UsageError (NAMED_TOKENS_UNAVAILABLE when the server offers
   * none; INVALID_ARGUMENT for a bad name) and nothing is sent.
   */
  acquire(name: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#tokens.acquire(name, options.signal);
  }

  /**
   * Gives the named token back to the server's registry (the next waiter is granted), or
   * withdraws a request still waiting (its acquire() rejects with CANCELLED).
   * @throws UsageError NAMED_TOKEN_NOT_HELD when neither held nor requested.
   */
  releaseToken(name: string): void {
    this.#tokens.release(name);
  }

  /** Named tokens this session holds. */
  get heldTokens(): readonly string[] {
    return this.#live.core.heldNamedTokens;
  }

  // ---------------------------------------------------------------- tokens and sync points

  /** Who holds each token: this side ('mine'), the peer, or not available with the agreed units. */
  get tokens(): Readonly<Record<TokenName, 'mine' | 'peer' | 'unavailable'>> {
    return this.#dialogue.owners();
  }

  owns(token: TokenName): boolean {
    return this.#live.core.dialogue?.owns(token) ?? false;
  }

  /** The serial number the next sync point of this side takes. */
  get serial(): number {
    return this.#live.core.dialogue?.serial ?? 0;
  }

  /** S-TOKEN-GIVE. @throws UsageError TOKEN_NOT_HELD for a token this side does not hold. */
  giveTokens(tokens: readonly TokenName[], userData: Uint8Array | string = EMPTY): void {
    this.#dialogue.command(true, (d) => d.giveTokens(tokenMask(tokens), toBytes(userData)));
  }

  /** S-TOKEN-PLEASE: asks the peer for tokens (it decides; listen for 'tokens'). */
  pleaseTokens(tokens: readonly TokenName[], userData: Uint8Array | string = EMPTY): void {
    this.#dialogue.command(false, (d) => d.pleaseTokens(tokenMask(tokens), toBytes(userData)));
  }

  /** S-CONTROL-GIVE: every available token, which this side must hold (else TOKEN_NOT_HELD). */
  giveControl(userData: Uint8Array | string = EMPTY): void {
    this.#dialogue.command(true, (d) => d.giveControl(toBytes(userData)));
  }

  /** S-SYNC-MINOR: returns the serial number of the sync point. */
  syncMinor(opts: { userData?: Uint8Array | string; confirm?: boolean } = {}): number {
    const userData = toBytes(opts.userData ?? EMPTY);
    return this.#dialogue.command(true, (d) =>
      d.syncMinor({ confirm: opts.confirm ?? false, separation: false, userData }),
    );
  }

  /** Confirms the peer's minor sync points up to `serial`. */
  confirmMinor(serial: number, userData: Uint8Array | string = EMPTY): void {
    this.#dialogue.command(false, (d) => d.confirmMinor(serial, toBytes(userData)));
  }

  /**
   * S-SYNC-MAJOR: resolves when the peer confirms; until then neither side sends normal data
   * (sends wait). Rejects with SessionClosedError if the session ends first.
   */
  syncMajor(userData: Uint8Array | string = EMPTY): Promise<SyncResult> {
    return this.#dialogue.syncMajor(toBytes(userData));
  }

  /** Answers the peer's major sync point. */
  confirmMajor(userData: Uint8Array | string = EMPTY): void {
    this.#dialogue.command(false, (d) => d.confirmMajor(toBytes(userData)));
    this.#outbox.pump();
  }

  /** Messages in order; ends after the peer's release, throws if the session aborts. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.#inbox.iterator();
  }

  override addEventListener<K extends keyof SessionEventMap>(
    type: K,
    listener: Listener<SessionEventMap[K]> | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (type !== 'message' || listener === null) {
      super.addEventListener(type, listener as EventListener | null, options);
      return;
    }
    // Message listeners are counted (the iterator gets no message while there is one), so `once`
    // is done here: the EventTarget would drop the listener without telling.
    if (this.#messageListeners.has(listener)) return;
    const take = listener as Listener<SessionMessageEvent>;
    const once = typeof options === 'object' && options.once === true;
    const call = (event: Event) => {
      if (once) this.removeEventListener('message', take);
      if (typeof take === 'function') take(event as SessionMessageEvent);
      else take.handleEvent(event as SessionMessageEvent);
    };
    this.#messageListeners.set(listener, call);
    super.addEventListener('message', call, typeof options === 'object' ? { ...options, once: false } : options);
    // Messages that waited for a taker go to it now, after the caller's turn.
    queueMicrotask(() => this.#inbox.deliver());
  }

  override removeEventListener<K extends keyof SessionEventMap>(
    type: K,
    listener: Listener<SessionEventMap[K]> | null,
    options?: boolean | EventListenerOptions,
  ): void {
    const call = type === 'message' ? this.#messageListeners.get(listener) : undefined;
    if (call === undefined) {
      super.removeEventListener(type, listener as EventListener | null, options);
      return;
    }
    this.#messageListeners.delete(listener);
    super.removeEventListener('message', call, options);
  }

  /** @internal A resume carries the session on a new connection. */
  moveTo(driver: ConnectionDriver): void {
    this.#live.driver = driver;
  }

  /** @internal The engine session. */
  get engine(): CoreSession {
    return this.#live.core;
  }

  /** @internal An engine event of this session; `driver` is null for one from the session table. */
  handleEvent(e: ClientSessionEvent, driver: ConnectionDriver | null): void {
    switch (e.type) {
      case 'accepted':
        this.#peerUserData = e.userData;
        this.#isOpen = true;
        this.#resolveReady();
        this.dispatchEvent(new Event('open'));
        this.#outbox.pump();
        return;
      case 'message':
        this.#inbox.message(e.data, e.credit);
        return;
      case 'writable':
        this.#outbox.pump();
        return;
      case 'release-requested':
        this.#inbox.releaseRequested();
        return;
      case 'suspended':
        this.dispatchEvent(new SessionSuspendedEvent(e.reason));
        return;
      case 'resumed':
        this.dispatchEvent(new SessionResumedEvent(e.stats as ResumeStats));
        this.#outbox.pump();
        return;
      case 'closed':
        // A release completes once its last frame (the acknowledgement of the server's
        // DISCONNECT) has left the WebSocket's buffer, so a page may navigate away right after.
        if (e.reason.kind === 'released' && driver) driver.whenWritten(() => this.#ended(e.reason));
        else this.#ended(e.reason);
        return;
      case 'named-token-granted':
        this.#tokens.granted(e.name);
        return;
      case 'named-token-refused':
        this.#tokens.refused(e.name, e.code);
        return;
      case 'dialogue':
        this.#dialogue.handle(e.event);
        return;
      default:
        return;
    }
  }

  #ended(reason: CloseReason): void {
    if (this.#live.reason) return;
    this.#live.reason = reason;
    const error = new SessionClosedError(reason);
    if (!this.#isOpen) this.#rejectReady(error);
    this.#outbox.fail(error);
    this.#tokens.fail(error);
    this.#dialogue.closed(reason);
    // Messages already received stay readable; only then does the iterator end.
    this.#inbox.ended();
    this.dispatchEvent(new SessionCloseEvent(reason));
    this.#resolveClosed(reason);
  }
}
