/**
 * A session as the application sees it: `ready` and `closed` promises, `send()` that waits when
 * the peer's window is full, async iteration over messages, typed events.
 *
 * Theory of operation
 * - Incoming messages land in an inbox. A 'message' listener (or 'typed', 'expedited') takes
 *   them as they arrive; otherwise they wait for the async iterator. Flow-control credit goes
 *   back to the peer only when a message leaves the inbox, so an application that reads slowly
 *   slows its sender instead of buffering without bound.
 * - Outgoing work (sends, release requests and responses) goes through one FIFO: a send the core
 *   cannot take yet waits there, and a release queued after it waits behind it. So everything
 *   sent before close() is on the wire before the release, and an echo written while handling
 *   the last message goes out before the release response.
 * - A release requested by the peer is answered when the application has taken every message
 *   before it (the iterator ended, or listeners ran); `onReleaseRequest` may refuse it when the
 *   negotiated-release unit was selected.
 * - Nothing is dropped silently: when the session ends, waiting sends reject with a
 *   SessionClosedError whose reason counts what was not delivered.
 * - Named tokens (client side): acquire() asks the server's registry and resolves on the grant;
 *   across a transport break the request and its answer are replayed like data, so a grant is
 *   neither lost nor doubled. On the server side the session feeds `server.tokens` its requests
 *   and its close, which hands its tokens to the next waiters.
 */
import { EventEmitter } from 'node:events';
import {
  AbortCode,
  type ActivityInfo,
  type AgreedParameters,
  type CloseReason,
  type Session as CoreSession,
  type Dialogue,
  type DialogueEvent,
  describeCloseReason,
  ErrorCode,
  type Extension,
  LiaisonError,
  type MessageKind,
  NamedTokenRefusedError,
  type PskBinding,
  RefuseCode,
  type ResumeStats,
  type ResyncKind,
  type RttEstimate,
  SessionClosedError,
  type SessionStateName,
  type SessionStats,
  TOKEN_NAMES,
  type TokenName,
  TokenRefuseCode,
  TransportError,
  tokenMask,
  tokenNames,
  type UndeliveredMessage,
  Unit,
  UsageError,
} from '@liaison/core';
import { observed, untilSettled } from './abort.js';
import { type Authenticator, type Principal, tokenCredentials } from './auth.js';
import { isProtocolAbort, publish, type Role } from './diagnostics.js';
import { Confirmations, type DialogueEventMap, type SyncResult } from './dialogue.js';
import { type ConnectionDriver, now } from './driver.js';
import type { ServerTokens } from './named-tokens.js';
import type { Parking } from './parking.js';
import { registerSession, type SessionListener, type SessionListenerEvent } from './registry.js';
import { type RenewalGuard, renewalVerdict } from './renewal.js';
import { type PeerCertificateInfo, TlsTransport } from './tls-transport.js';
import type { TransportFailureError } from './transport-failure.js';

export interface SessionEventMap extends DialogueEventMap {
  /**
   * Normal data, when a listener is attached (otherwise iterate the session); also typed and
   * expedited data when no 'typed' or 'expedited' listener takes them.
   */
  message: [data: Uint8Array];
  typed: [data: Uint8Array];
  expedited: [data: Uint8Array];
  /** The session is open (also resolves `ready`). */
  open: [];
  /** write() returned false earlier and everything written has been taken: write again. */
  drain: [];
  /** The peer asked for an orderly release; it is answered once earlier messages were taken. */
  'release-request': [userData: Uint8Array];
  /** The peer refused this side's release request (negotiated release); the session goes on. */
  'release-refused': [userData: Uint8Array];
  /** The transport broke; the session waits to be resumed (sends are kept and go out on resume). */
  suspended: [reason: string];
  /** The session resumed on a new transport connection: what it cost, in numbers. */
  resumed: [stats: ResumeStats];
  /** The server's registry granted a named token this session asked for (acquire() resolves too). */
  'named-token-granted': [name: string];
  /** Server: the client renewed its credentials; the principal (and its expiry) is updated. */
  'credentials-renewed': [principal: Principal];
  close: [reason: CloseReason];
}

export interface SendOptions {
  /** Withdraws the message if it aborts while the message waits for room (it is then never sent). */
  signal?: AbortSignal;
}

export interface CloseOptions {
  /** Bounds the wait for the release: when it aborts first, the session is aborted and close() rejects with its reason. */
  signal?: AbortSignal;
}

/** Decides a release requested by the peer: true accepts; false refuses (negotiated release only). */
export type ReleaseDecider = (userData: Uint8Array, session: Session) => boolean | Promise<boolean>;

export interface SessionInit {
  onReleaseRequest?: ReleaseDecider;
  /** Where the session waits while suspended: its events come from there then. */
  parking?: Parking | null;
  /** Server side: the registry this session's named-token requests go to. */
  tokens?: ServerTokens | null;
  /** Client with a PSK: checks the server's answer in ACCEPT; false aborts (AUTHENTICATION_FAILED). */
  checkAccept?: ((credentials: Extension[], agreed: AgreedParameters, binding: PskBinding) => boolean) | null;
  /**
   * Client: the engine session ended before the server accepted it. True means the client takes
   * over (it opens the session again on a new connection, `reestablish`); false lets it end.
   */
  onEstablishmentLost?: ((reason: CloseReason) => boolean) | null;
  /** Which end this is, for diagnostics (default 'server'). */
  role?: Role;
}

interface TokenWaiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  cleanup: () => void;
}

type InboxItem =
  | { kind: MessageKind; data: Uint8Array; credit: number }
  | { kind: 'release'; userData: Uint8Array }
  /** A dialogue event of the peer's data stream: fires when the messages before it were taken. */
  | { kind: 'dialogue'; event: DialogueEvent };
type UserBytes = Uint8Array | string;
type Op =
  | {
      op: 'send';
      kind: MessageKind;
      data: Uint8Array;
      resolve: () => void;
      reject: (e: unknown) => void;
      /** Its signal aborted while it waited: skipped, never handed to the core. */
      cancelled?: boolean;
    }
  | { op: 'release'; userData: Uint8Array }
  | { op: 'respond'; accept: boolean; userData: Uint8Array };

export class Session extends EventEmitter<SessionEventMap> implements SessionListener {
  // `ready` and `closed` are made on first use: a server may hold 100,000 sessions nobody awaits.
  #ready: Promise<void> | null = null;
  #closed: Promise<CloseReason> | null = null;
  #isOpen = false;
  #readyError: Error | null = null;
  #driver: ConnectionDriver;
  #core: CoreSession;
  /** Client: the connect request was lost with its transport; a new one is on its way. */
  #reestablishing = false;
  readonly #onEstablishmentLost: ((reason: CloseReason) => boolean) | null;
  readonly #role: Role;
  readonly #onReleaseRequest: ReleaseDecider | undefined;
  readonly #parking: Parking | null;
  readonly #checkAccept: ((credentials: Extension[], agreed: AgreedParameters, binding: PskBinding) => boolean) | null;
  #resolveReady: (() => void) | null = null;
  #rejectReady: ((e: Error) => void) | null = null;
  #resolveClosed: ((r: CloseReason) => void) | null = null;
  #reason: CloseReason | null = null;
  #peerUserData: Uint8Array = EMPTY;
  #principal: Principal | null = null;
  /** Server: the hook that let this session in, asked again for renewals. */
  #authenticate: Authenticator | null = null;
  /** Server: the per-address rate limit renewals count against. */
  #renewalGuard: RenewalGuard | null = null;
  /** Server: a renewal is being checked (another one meanwhile is answered CONGESTION). */
  #renewalInFlight = false;
  /** Client: renewals sent and not answered yet, by request id. */
  readonly #renewals = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  #nextRenewal = 1;

  readonly #inbox: InboxItem[] = [];
  #inboxHead = 0;
  #reader: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: Error) => void } | null = null;
  #iterating = false;
  #releaseAnswered = false;
  /** write() returned false: emit 'drain' once the backlog is taken. */
  #needDrain = false;
  /** Client: why connect()'s signal ended the establishment (`ready` rejects with it). */
  #establishmentAborted: { reason: unknown } | null = null;

  readonly #ops: Op[] = [];
  #opsHead = 0;
  readonly #confirmations = new Confirmations();
  /** Messages received and dropped before the application took them (resynchronize, activity stop purge them). */
  #purgedInbox = 0;

  readonly #serverTokens: ServerTokens | null;
  /** acquire() calls waiting for their grant, by name (client side). */
  readonly #tokenWaiters = new Map<string, TokenWaiter>();

  /** @internal Created by connect() and by a server; applications do not construct sessions. */
  constructor(driver: ConnectionDriver, core: CoreSession, init: SessionInit = {}) {
    super();
    this.#driver = driver;
    this.#core = core;
    this.#onReleaseRequest = init.onReleaseRequest;
    this.#parking = init.parking ?? null;
    this.#serverTokens = init.tokens ?? null;
    this.#checkAccept = init.checkAccept ?? null;
    this.#onEstablishmentLost = init.onEstablishmentLost ?? null;
    this.#role = init.role ?? 'server';
    registerSession(core, this);
  }

  /** Resolves when the session is open; rejects with a SessionClosedError if it never opens. */
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

  /** Resolves with the close reason when the session ends, however it ends (never rejects). */
  get closed(): Promise<CloseReason> {
    if (this.#closed === null) {
      const reason = this.#reason;
      this.#closed = reason
        ? Promise.resolve(reason)
        : new Promise<CloseReason>((resolve) => {
            this.#resolveClosed = resolve;
          });
    }
    return this.#closed;
  }

  get channel(): number {
    return this.#core.channel;
  }

  /** The X.225 state: connecting, awaiting-response, open, releasing, release-requested, disconnecting, closed. */
  get state(): SessionStateName {
    return this.#reestablishing ? 'connecting' : this.#core.state;
  }

  get agreed(): AgreedParameters | null {
    return this.#core.agreed;
  }

  /** User data the peer sent with its connect request (server side) or its acceptance (client side). */
  get peerUserData(): Uint8Array {
    return this.#peerUserData;
  }

  get closeReason(): CloseReason | null {
    return this.#reason;
  }

  /** attached (on a transport), suspended (waiting to resume), resuming, awaiting-resumed. */
  get link(): string {
    return this.#core.link;
  }

  /**
   * The messages accepted by send() that the peer is not known to have received, oldest first.
   * After a session was lost (aborted or not resumed in time), resend them elsewhere if they
   * matter. Each has a `status`: `undelivered` when it is known not to have arrived (never sent,
   * or the server's tombstone of the session proved what arrived), `unconfirmed` when it was sent
   * and never acknowledged (it may have arrived: make resending it idempotent).
   */
  undeliveredMessages(): UndeliveredMessage[] {
    return this.#core.undeliveredMessages();
  }

  /** @internal A reconnection carries this session on a new connection. */
  moveTo(driver: ConnectionDriver): void {
    this.#driver = driver;
  }

  /** @internal The engine session (a new one after `reestablish`). */
  get engine(): CoreSession {
    return this.#core;
  }

  /** @internal Whether the session waits for a new connection to send its connect request on. */
  get reestablishing(): boolean {
    return this.#reestablishing;
  }

  /** @internal The connect request goes again, as a new engine session on a new connection. */
  reestablish(driver: ConnectionDriver, core: CoreSession): void {
    this.#driver = driver;
    this.#core = core;
    this.#reestablishing = false;
    registerSession(core, this);
  }

  /** @internal The client stopped trying to establish the session. */
  giveUp(reason: CloseReason): void {
    this.#reestablishing = false;
    this.#ended(reason);
  }

  get remoteAddress(): string {
    return this.#driver.transport.remoteAddress;
  }

  get remotePort(): number {
    return this.#driver.transport.remotePort;
  }

  /**
   * The peer's static X25519 public key when the session runs inside Noise (the server's key on a
   * client: pin it, or trust it on first use; the client's key on a server), else null.
   */
  get peerStaticKey(): Uint8Array | null {
    return this.#driver.secure?.remoteStaticKey ?? null;
  }

  /**
   * Why the session's last transport connection ended (a TransportFailureError: `failure` names
   * the case, e.g. TLS_CLIENT_CERTIFICATE_REQUIRED), or null while it is up. A session that ended
   * TRANSPORT_LOST carries the same message in its close reason.
   */
  get transportError(): TransportFailureError | null {
    return this.#driver.closeError;
  }

  /** The Noise handshake pattern of the current connection ('XX' or 'IK'), or null in plaintext. */
  get noisePattern(): 'XX' | 'IK' | null {
    return this.#driver.secure?.pattern ?? null;
  }

  /** What carries the session now: 'tcp' or 'tls'. */
  get transport(): 'tcp' | 'tls' {
    return this.#driver.transport.kind;
  }

  /**
   * The peer's TLS certificate on the current connection: on a server, the client's when mutual
   * TLS is used; on a client, the server's. null over TCP or when the peer sent none.
   */
  get peerCertificate(): PeerCertificateInfo | null {
    const t = this.#driver.transport;
    return t instanceof TlsTransport ? t.peerCertificate : null;
  }

  /** Server: who the `authenticate` hook let in (renewals update it); null without authentication. */
  get principal(): Principal | null {
    return this.#principal;
  }

  get rtt(): RttEstimate | null {
    return this.#driver.conn.rtt;
  }

  get stats(): Readonly<SessionStats> {
    return this.#core.stats;
  }

  /** Bytes accepted by send() and not yet on the wire (the core's queue plus waiting sends). */
  get bufferedAmount(): number {
    let waiting = 0;
    for (let i = this.#opsHead; i < this.#ops.length; i++) {
      const op = this.#ops[i] as Op;
      if (op.op === 'send' && !op.cancelled) waiting += op.data.byteLength;
    }
    return this.#core.queuedBytes + waiting;
  }

  /**
   * Sends one message (normal data). Resolves when the session has accepted it into its bounded
   * send queue; waits while the queue is full (the peer's window is closed). A `signal` that
   * aborts while it waits withdraws it (never sent) and rejects with the signal's reason. The
   * promise may be ignored: its failure never becomes an unhandledRejection (a session that
   * ended says so in `closed`, and undeliveredMessages() lists what was accepted).
   * @throws (rejects) SessionClosedError after the session ended; UsageError for a message over
   * the peer's limit or a state where sending is not allowed (after close()).
   */
  send(data: Uint8Array | string, options: SendOptions = {}): Promise<void> {
    return observed(this.#send('normal', data, options.signal));
  }

  /** Typed data (X.215 S-TYPED-DATA): outside the normal data flow's token rules. */
  sendTyped(data: Uint8Array | string, options: SendOptions = {}): Promise<void> {
    return observed(this.#send('typed', data, options.signal));
  }

  /** Expedited data: at most 14 bytes, overtakes normal data not yet sent. */
  sendExpedited(data: Uint8Array | string, options: SendOptions = {}): Promise<void> {
    return observed(this.#send('expedited', data, options.signal));
  }

  /**
   * The fast path for streaming, as net.Socket's write(): queues one message (normal data) and
   * returns whether to go on writing; after false, wait for 'drain'. Nothing is dropped: a false
   * only says the backlog is at the peer's window or the session is not open yet.
   * @throws SessionClosedError after the session ended, UsageError for bad data, at once; a
   * failure found later (a message over the limit the server announced on accept) is a process
   * warning, and the session's end is reported by `closed`.
   */
  write(data: Uint8Array | string): boolean {
    const sent = this.#send('normal', data, undefined, true);
    if (sent !== RESOLVED) {
      sent.catch((e: unknown) => {
        if (!(e instanceof SessionClosedError)) process.emitWarning(e as Error);
      });
    }
    // Go on while nothing waits for room: what this call queued may already be in the core.
    const more = this.#opsHead === this.#ops.length && this.#core.writable;
    if (!more) this.#needDrain = true;
    return more;
  }

  /**
   * Orderly release (S-RELEASE): everything sent before is delivered, then both sides close.
   * When the peer asked first, this accepts its request. Resolves with the close reason; if the
   * peer refuses (negotiated release), resolves... never while open: listen for 'release-refused'.
   */
  close(userData: Uint8Array | string = EMPTY, options: CloseOptions = {}): Promise<CloseReason> {
    if (this.#reason) return this.closed;
    const { signal } = options;
    if (signal) {
      // Waiting for the release is what the signal bounds: past it the session is aborted.
      const closing = this.close(userData);
      return new Promise<CloseReason>((resolve, reject) => {
        closing.then(resolve, reject);
        untilSettled(signal, closing, (why) => {
          this.abort();
          reject(why);
        });
      });
    }
    const bytes = toBytes(userData);
    const state = this.#core.state;
    if (state === 'release-requested' && !this.#releaseAnswered) {
      this.#releaseAnswered = true;
      this.#enqueue({ op: 'respond', accept: true, userData: bytes });
    } else if (state === 'open' || state === 'connecting' || this.#reestablishing) {
      // Without the tokens a release needs, say so now instead of never closing.
      try {
        this.#core.dialogue?.checkRelease();
      } catch (e) {
        return Promise.reject(e);
      }
      this.#enqueue({ op: 'release', userData: bytes });
    }
    return this.closed;
  }

  /** User abort (S-U-ABORT): ends at once; data in transit may be lost and is counted in the reason. */
  abort(userData: Uint8Array | string = EMPTY): void {
    if (this.#reason) return;
    if (this.#reestablishing) {
      // No engine session to abort: nothing of it is on any wire.
      const undelivered = this.#ops.slice(this.#opsHead).filter((op) => op.op === 'send' && !op.cancelled).length;
      const reason = { kind: 'aborted', origin: 'local', by: 'user', code: AbortCode.USER, message: '' } as const;
      return this.giveUp({ ...reason, userData: toBytes(userData), undelivered });
    }
    try {
      this.#core.abort(now(), toBytes(userData));
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
    }
    // The core queued the abort frame and a `closed` event; both go out on the next flush. A
    // suspended session's event waits in its session table instead: deliver it now.
    this.#driver.scheduleFlush();
    this.#parking?.update();
  }

  /**
   * `await using session = connect(url)`: released at the end of the block (everything sent is
   * delivered first), aborted instead when it cannot be released (not attached to a transport,
   * the release refused or impossible). Resolves when the session has ended.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#reason) return;
    if (this.link !== 'attached' && this.#core.state !== 'connecting') {
      this.abort();
    } else {
      const refused = () => this.abort();
      this.once('release-refused', refused);
      await this.close().catch(() => this.abort());
      this.off('release-refused', refused);
    }
    await this.closed;
  }

  /**
   * @internal connect()'s signal aborted before the session opened: it ends (a user abort) and
   * `ready` rejects with the signal's reason.
   */
  abortEstablishment(reason: unknown): void {
    if (this.#isOpen || this.#reason) return;
    this.#establishmentAborted = { reason };
    this.abort();
  }

  /**
   * Messages in order (normal data, and typed or expedited data that no listener of their own
   * takes). Ends after the peer's release; throws if the session aborts.
   */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.#iterating) throw new UsageError(ErrorCode.INVALID_STATE, 'a session has one message iterator at a time');
    this.#iterating = true;
    return {
      next: () => this.#next(),
      return: async () => {
        this.#iterating = false;
        return { done: true, value: undefined };
      },
    };
  }

  // ---------------------------------------------------------------- named tokens

  /**
   * Asks the server's registry for the named token `name` (exclusive, granted in request order
   * among all the server's sessions). Resolves when granted. Rejects with a SessionClosedError
   * if the session ends first, with the signal's reason if `signal` aborts first (the request is
   * withdrawn), with a NamedTokenRefusedError if the registry refuses it (or releaseToken()
   * withdrew it: CANCELLED), or a UsageError (NAMED_TOKENS_UNAVAILABLE when the server offers
   * none or on a server-side session; INVALID_ARGUMENT for a bad name) and nothing is sent.
   */
  acquire(name: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    const reason = this.#reason ?? this.#core.closeReason;
    if (reason) return Promise.reject(new SessionClosedError(reason));
    if (signal?.aborted) return Promise.reject(signal.reason);
    // The offer comes with the server's acceptance.
    if (this.#core.state === 'connecting') return this.ready.then(() => this.acquire(name, options));
    try {
      this.#core.acquireNamedToken(now(), name);
    } catch (e) {
      return Promise.reject(e);
    }
    this.#driver.commandFlush();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        if (this.#tokenWaiters.get(name)?.reject !== reject) return;
        this.#tokenWaiters.delete(name);
        this.#withdraw(name);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#tokenWaiters.set(name, { resolve, reject, cleanup: () => signal?.removeEventListener('abort', onAbort) });
    });
  }

  /**
   * Gives the named token back to the server's registry (the next waiter is granted), or
   * withdraws a request still waiting (its acquire() rejects with CANCELLED).
   * @throws UsageError NAMED_TOKEN_NOT_HELD when neither held nor requested.
   */
  releaseToken(name: string): void {
    const waiter = this.#tokenWaiters.get(name);
    if (waiter) {
      this.#tokenWaiters.delete(name);
      waiter.cleanup();
      if (!this.#core.heldNamedTokens.includes(name)) {
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
    if (this.#reason) return; // the session's end released everything already
    this.#core.releaseNamedToken(now(), name);
    this.#driver.commandFlush();
  }

  /** Named tokens this session holds: granted to this client (client side), or held by its client (server side). */
  get heldTokens(): readonly string[] {
    if (this.#serverTokens) return this.#serverTokens.heldBy(this.#core);
    return this.#core.heldNamedTokens;
  }

  /** @internal The server's registry gave this session a frame to send. */
  flushSoon(): void {
    this.#driver.scheduleFlush();
  }

  #withdraw(name: string): void {
    if (this.#core.state === 'closed') return;
    try {
      this.#core.releaseNamedToken(now(), name);
    } catch (e) {
      // Already answered and released in this turn: nothing left to withdraw.
      if (!(e instanceof UsageError)) throw e;
    }
    this.#driver.commandFlush();
  }

  // ---------------------------------------------------------------- tokens, sync points, activities

  /** Who holds each token: this side ('mine'), the peer, or not available with the agreed units. */
  get tokens(): Readonly<Record<TokenName, 'mine' | 'peer' | 'unavailable'>> {
    const d = this.#core.dialogue;
    const out = {} as Record<TokenName, 'mine' | 'peer' | 'unavailable'>;
    for (const t of TOKEN_NAMES) {
      const bit = tokenMask([t]);
      out[t] = d === null || (d.available & bit) === 0 ? 'unavailable' : (d.mine & bit) !== 0 ? 'mine' : 'peer';
    }
    return out;
  }

  owns(token: TokenName): boolean {
    return this.#core.dialogue?.owns(token) ?? false;
  }

  /** The activity in progress ({ id, serial of its last confirmed major sync point }), or null. */
  get activity(): ActivityInfo | null {
    return this.#core.dialogue?.activity ?? null;
  }

  /** The serial number the next sync point of this side takes. */
  get serial(): number {
    return this.#core.dialogue?.serial ?? 0;
  }

  /** Normal messages dropped unsent or undelivered by resynchronizations and activity stops (X.225 purge). */
  get purged(): { sent: number; received: number } {
    const st = this.#core.stats;
    return { sent: st.messagesPurged, received: st.messagesDiscarded + this.#purgedInbox };
  }

  /** S-TOKEN-GIVE. @throws UsageError TOKEN_NOT_HELD for a token this side does not hold. */
  giveTokens(tokens: readonly TokenName[], userData: UserBytes = EMPTY): void {
    this.#command(true, (d) => d.giveTokens(tokenMask(tokens), toBytes(userData)));
    this.emit('tokens', { mine: this.#mine() });
  }

  /** S-TOKEN-PLEASE: asks the peer for tokens (it decides; listen for 'tokens'). */
  pleaseTokens(tokens: readonly TokenName[], userData: UserBytes = EMPTY): void {
    this.#command(false, (d) => d.pleaseTokens(tokenMask(tokens), toBytes(userData)));
  }

  /** S-CONTROL-GIVE: every available token, which this side must hold (X.215; else TOKEN_NOT_HELD). */
  giveControl(userData: UserBytes = EMPTY): void {
    this.#command(true, (d) => d.giveControl(toBytes(userData)));
    this.emit('tokens', { mine: this.#mine() });
  }

  /** S-SYNC-MINOR: returns the serial number of the sync point. */
  syncMinor(opts: { userData?: UserBytes; confirm?: boolean; separation?: boolean } = {}): number {
    return this.#command(true, (d) =>
      d.syncMinor({
        confirm: opts.confirm ?? false,
        separation: opts.separation ?? false,
        userData: toBytes(opts.userData ?? EMPTY),
      }),
    );
  }

  /** Confirms the peer's minor sync points up to `serial`. */
  confirmMinor(serial: number, userData: UserBytes = EMPTY): void {
    this.#command(false, (d) => d.confirmMinor(serial, toBytes(userData)));
  }

  /**
   * S-SYNC-MAJOR: resolves when the peer confirms. Until then neither side sends normal data
   * (sends wait). Rejects with SyncAbandonedError if a resynchronization or activity stop cancels
   * it, with SessionClosedError if the session ends first.
   */
  syncMajor(userData: UserBytes = EMPTY): Promise<SyncResult> {
    return this.#major((d) => d.syncMajor(toBytes(userData)));
  }

  /** Answers the peer's major sync point or activity end. */
  confirmMajor(userData: UserBytes = EMPTY): void {
    this.#command(false, (d) => d.confirmMajor(toBytes(userData)));
    this.#pump();
  }

  /** S-RESYNCHRONIZE: purges data in transit both ways; resolves when the peer confirms. */
  resynchronize(
    kind: ResyncKind,
    opts: { serial?: number; tokens?: readonly TokenName[]; userData?: UserBytes } = {},
  ): Promise<SyncResult> {
    let promise: Promise<SyncResult> = RESOLVED as unknown as Promise<SyncResult>;
    this.#purgeOps();
    this.#command(false, (d) => {
      this.#purgeInbox();
      const args: { serial?: number; tokens?: number; userData: Uint8Array } = {
        userData: toBytes(opts.userData ?? EMPTY),
      };
      if (opts.serial !== undefined) args.serial = opts.serial;
      if (opts.tokens !== undefined) args.tokens = tokenMask(opts.tokens);
      d.resynchronize(kind, args);
      this.#confirmations.abandonMajor('resynchronized');
      promise = this.#confirmations.waitResync();
    });
    return promise;
  }

  /** Confirms the peer's resynchronization (tokens are as its request assigned them). */
  confirmResynchronize(opts: { userData?: UserBytes } = {}): void {
    this.#command(false, (d) => d.confirmResynchronize(toBytes(opts.userData ?? EMPTY)));
    this.emit('tokens', { mine: this.#mine() });
    this.#pump();
  }

  /** S-U-EXCEPTION-REPORT (half-duplex, by the side without the data token). */
  reportException(reason: number, userData: UserBytes = EMPTY): void {
    this.#command(false, (d) => d.reportException(reason, toBytes(userData)));
  }

  /** S-CAPABILITY-DATA (outside activities): resolves with the peer's confirmation's user data. */
  sendCapability(userData: UserBytes = EMPTY): Promise<Uint8Array> {
    try {
      let promise: Promise<Uint8Array> = RESOLVED as unknown as Promise<Uint8Array>;
      this.#command(true, (d) => {
        d.sendCapability(toBytes(userData));
        promise = this.#confirmations.waitCapability();
      });
      return promise;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Answers the peer's capability data. */
  confirmCapability(userData: UserBytes = EMPTY): void {
    this.#command(false, (d) => d.confirmCapability(toBytes(userData)));
  }

  /** S-ACTIVITY-START. */
  startActivity(id: UserBytes, userData: UserBytes = EMPTY): void {
    this.#command(true, (d) => d.startActivity(toBytes(id), toBytes(userData)));
  }

  /**
   * S-ACTIVITY-RESUME: continues activity `oldId` (possibly from an earlier session) as `id`,
   * numbering sync points after `serial` (its last confirmed major sync point).
   */
  resumeActivity(a: { id: UserBytes; oldId: UserBytes; serial: number; userData?: UserBytes }): void {
    this.#command(true, (d) =>
      d.resumeActivity(toBytes(a.id), toBytes(a.oldId), a.serial, toBytes(a.userData ?? EMPTY)),
    );
  }

  /** S-ACTIVITY-INTERRUPT: resolves on the peer's acknowledgement. Purges data in transit. */
  interruptActivity(reason = 0, userData: UserBytes = EMPTY): Promise<void> {
    return this.#stop((d) => d.interruptActivity(reason, toBytes(userData)));
  }

  /** S-ACTIVITY-DISCARD: resolves on the peer's acknowledgement. Purges data in transit. */
  discardActivity(reason = 0, userData: UserBytes = EMPTY): Promise<void> {
    return this.#stop((d) => d.discardActivity(reason, toBytes(userData)));
  }

  /** S-ACTIVITY-END: a major sync point; resolves when the peer confirms (confirmMajor). */
  endActivity(userData: UserBytes = EMPTY): Promise<SyncResult> {
    return this.#major((d) => d.endActivity(toBytes(userData)));
  }

  #mine(): TokenName[] {
    return tokenNames(this.#core.dialogue?.mine ?? 0);
  }

  /**
   * Runs a dialogue command on the core. `ordered`: it belongs to the data stream, so sends still
   * waiting here (send queue full) go into the core first, keeping the order the application
   * called them in. @throws UsageError as the core does; nothing is queued then.
   */
  #command<T>(ordered: boolean, run: (d: Dialogue) => T): T {
    const d = this.#core.dialogue;
    if (d === null || this.#reason !== null) {
      throw new UsageError(ErrorCode.INVALID_STATE, `cannot do that in state ${this.#core.state}`);
    }
    if (ordered) this.#forceOps();
    const out = run(d);
    this.#driver.commandFlush();
    this.#parking?.update();
    return out;
  }

  #major(run: (d: Dialogue) => number): Promise<SyncResult> {
    try {
      let promise: Promise<SyncResult> = RESOLVED as unknown as Promise<SyncResult>;
      this.#command(true, (d) => {
        promise = this.#confirmations.waitMajor(run(d));
      });
      return promise;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #stop(run: (d: Dialogue) => void): Promise<void> {
    try {
      let promise: Promise<void> = RESOLVED;
      this.#purgeOps();
      this.#command(false, (d) => {
        run(d);
        this.#purgeInbox();
        this.#confirmations.abandonMajor('activity stopped');
        this.#confirmations.supersededResync();
        promise = this.#confirmations.waitStop();
      });
      return promise;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Sends waiting for room go into the core now (beyond its queue limit: the memory is held anyway). */
  #forceOps(): void {
    while (this.#opsHead < this.#ops.length) {
      const op = this.#ops[this.#opsHead] as Op;
      if (op.op !== 'send') throw new UsageError(ErrorCode.INVALID_STATE, 'the session is releasing');
      try {
        this.#core.send(now(), op.kind, op.data, true);
        op.resolve();
      } catch (e) {
        op.reject(e as Error);
      }
      this.#ops[this.#opsHead++] = undefined as unknown as Op;
    }
    this.#ops.length = 0;
    this.#opsHead = 0;
  }

  /** Normal data still waiting here is purged like the core's unsent data (X.225). */
  #purgeOps(): void {
    const kept: Op[] = [];
    for (let i = this.#opsHead; i < this.#ops.length; i++) {
      const op = this.#ops[i] as Op;
      if (op.op === 'send' && op.kind === 'normal') {
        op.reject(new LiaisonError(ErrorCode.PURGED, 'purged by a resynchronization or activity stop'));
      } else kept.push(op);
    }
    this.#ops.length = 0;
    this.#opsHead = 0;
    this.#ops.push(...kept);
  }

  /** A dialogue event from the core: confirmations settle at once, the peer's stream events queue. */
  #dialogueEvent(e: DialogueEvent): void {
    switch (e.kind) {
      case 'tokens-requested':
        this.emit('tokens-requested', { tokens: tokenNames(e.tokens), userData: e.userData });
        return;
      case 'sync-minor-confirmed':
        this.emit('sync-minor-confirmed', { serial: e.serial, userData: e.userData });
        return;
      case 'sync-major-confirmed':
        this.#confirmations.majorConfirmed({ serial: e.serial, userData: e.userData });
        this.emit('sync-major-confirmed', { serial: e.serial, userData: e.userData });
        this.#pump();
        return;
      case 'resynchronized':
        this.#confirmations.resynchronized({ serial: e.serial, userData: e.userData });
        this.emit('resynchronized', { serial: e.serial, userData: e.userData });
        this.emit('tokens', { mine: this.#mine() });
        this.#pump();
        return;
      case 'resync-superseded':
        this.#confirmations.supersededResync();
        return;
      case 'purged':
      case 'discarded':
        return; // counted in `purged`
      case 'capability-data-confirmed':
        this.#confirmations.capabilityConfirmed(e.userData);
        return;
      case 'activity-interrupted':
      case 'activity-discarded':
        this.#confirmations.stopped();
        this.#pump();
        return;
      case 'resynchronize':
      case 'activity-interrupt':
      case 'activity-discard':
        // X.225 purge: messages received and not yet taken are dropped, and counted.
        this.#purgeInbox();
        this.#purgeOps();
        this.#confirmations.abandonMajor(e.kind === 'resynchronize' ? 'resynchronized' : 'activity stopped');
        break;
      default:
        break;
    }
    this.#inbox.push({ kind: 'dialogue', event: e });
    this.#deliver();
  }

  #purgeInbox(): void {
    const kept: InboxItem[] = [];
    for (let i = this.#inboxHead; i < this.#inbox.length; i++) {
      const item = this.#inbox[i] as InboxItem;
      if (item.kind === 'normal') {
        this.#purgedInbox++;
        if (this.#reason === null) this.#core.consume(now(), item.credit);
      } else kept.push(item);
    }
    this.#inbox.length = 0;
    this.#inboxHead = 0;
    this.#inbox.push(...kept);
    this.#driver.scheduleFlush();
  }

  /** Emits a peer stream event in order (after the messages before it were taken). */
  #emitDialogue(e: DialogueEvent): void {
    switch (e.kind) {
      case 'tokens-given':
        this.emit('tokens', { mine: this.#mine() });
        return;
      case 'sync-minor':
        this.emit('sync-minor', {
          serial: e.serial,
          userData: e.userData,
          confirmRequested: e.confirmRequested,
          separation: e.separation,
        });
        return;
      case 'sync-major':
        this.emit('sync-major', { serial: e.serial, userData: e.userData });
        return;
      case 'resynchronize':
        this.emit('resynchronize', {
          kind: e.resync,
          serial: e.serial,
          tokens: tokenNames(e.tokens),
          userData: e.userData,
        });
        return;
      case 'exception':
        this.emit('exception', { reason: e.reason, byProvider: e.byProvider, userData: e.userData });
        return;
      case 'activity-start':
        this.emit('activity-start', { id: e.id, userData: e.userData });
        return;
      case 'activity-resume':
        this.emit('activity-resume', { id: e.id, oldId: e.oldId, serial: e.serial, userData: e.userData });
        return;
      case 'activity-interrupt':
        this.emit('activity-interrupt', { reason: e.reason, userData: e.userData });
        return;
      case 'activity-discard':
        this.emit('activity-discard', { reason: e.reason, userData: e.userData });
        return;
      case 'activity-end':
        this.emit('activity-end', { serial: e.serial, userData: e.userData });
        return;
      case 'capability-data':
        this.emit('capability-data', { userData: e.userData });
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------- from the driver

  /** @internal */
  handleEvent(e: SessionListenerEvent, driver: ConnectionDriver | null): void {
    switch (e.type) {
      case 'suspended':
        this.#failRenewals(new TransportError('the connection was lost before the renewal was answered; renew again'));
        publish('suspend', () => ({ session: this, role: this.#role, reason: e.reason }));
        this.emit('suspended', e.reason);
        return;
      case 'renewal-answered': {
        const pending = this.#renewals.get(e.requestId);
        this.#renewals.delete(e.requestId);
        if (e.code === 0) pending?.resolve();
        else pending?.reject(new LiaisonError(ErrorCode.RENEWAL_REFUSED, `renewal refused: ${e.message}`));
        return;
      }
      case 'renewal-requested':
        void this.#answerRenewal(e.requestId, e.credentials);
        return;
      case 'resumed':
        if (driver && driver !== this.#driver) {
          const previous = this.#driver;
          this.#driver = driver;
          previous.sessionMovedAway();
        }
        publish('resume', () => ({ session: this, role: this.#role, stats: e.stats }));
        this.emit('resumed', e.stats);
        this.#pump();
        return;
      case 'accepted':
        if (this.#checkAccept && !this.#checkAccept(e.credentials, e.agreed, e.binding)) {
          // Whoever answered does not hold the key, or changed the agreement: never open.
          this.#core.providerAbort(
            now(),
            AbortCode.AUTHENTICATION_FAILED,
            'the server did not prove the pre-shared key',
          );
          this.#driver.scheduleFlush();
          return;
        }
        this.#peerUserData = e.userData;
        this.#opened();
        return;
      case 'message':
        if (e.kind === 'expedited' && this.listenerCount('expedited') > 0) {
          // Expedited data overtakes normal data waiting in the inbox too.
          this.#core.consume(now(), e.credit);
          this.emit('expedited', e.data);
          return;
        }
        this.#inbox.push({ kind: e.kind, data: e.data, credit: e.credit });
        this.#deliver();
        return;
      case 'writable':
        this.#pump();
        return;
      case 'release-requested':
        this.#inbox.push({ kind: 'release', userData: e.userData });
        this.#deliver();
        return;
      case 'release-refused':
        this.emit('release-refused', e.userData);
        return;
      case 'named-token-acquire':
      case 'named-token-release':
        this.#serverTokens?.handleEvent(e);
        return;
      case 'named-token-granted': {
        // A grant withdrawn meanwhile (signal, releaseToken) is no longer held: nothing to report.
        if (!this.#core.heldNamedTokens.includes(e.name)) return;
        const waiter = this.#tokenWaiters.get(e.name);
        this.#tokenWaiters.delete(e.name);
        waiter?.cleanup();
        waiter?.resolve();
        this.emit('named-token-granted', e.name);
        return;
      }
      case 'named-token-refused': {
        const waiter = this.#tokenWaiters.get(e.name);
        this.#tokenWaiters.delete(e.name);
        waiter?.cleanup();
        waiter?.reject(new NamedTokenRefusedError(e.name, e.code));
        return;
      }
      case 'dialogue':
        this.#dialogueEvent(e.event);
        return;
      case 'closed':
        if (!this.#isOpen && this.#onEstablishmentLost?.(e.reason)) {
          this.#reestablishing = true;
          return;
        }
        // A release completes here only once its last frame (the acknowledgement of the peer's
        // DISCONNECT) has reached the operating system: a process that exits when close()
        // resolves still completes the release at the peer instead of leaving it suspended.
        if (e.reason.kind === 'released' && driver) driver.whenWritten(() => this.#ended(e.reason));
        else this.#ended(e.reason);
        // Its tokens pass to the next waiters (a suspended session never gets here until it expires).
        this.#serverTokens?.handleEvent(e);
        return;
    }
  }

  /**
   * @internal The server authenticated this session: its principal, and the credentials' expiry
   * as a core deadline (the wall-clock expiry moved to the driver's monotonic clock).
   */
  authenticated(principal: Principal, authenticate: Authenticator | null, guard: RenewalGuard | null = null): void {
    this.#principal = principal;
    this.#authenticate = authenticate;
    this.#renewalGuard = guard;
    this.#core.credentialsExpireAt = expiryDeadline(principal);
    this.#driver.scheduleFlush();
  }

  /**
   * Client: sends a new token (a fresh JWT) for this session. Resolves when the server accepted
   * it (the server's principal and expiry are then updated); rejects with RENEWAL_REFUSED when it
   * did not (the session goes on until the old credentials expire), with a TransportError when
   * the connection broke before the answer (renew again once resumed), or with the close reason.
   */
  renewCredentials(token: string): Promise<void> {
    if (this.#reason) return Promise.reject(new SessionClosedError(this.#reason));
    if (!this.#isOpen || this.#core.link !== 'attached') {
      return Promise.reject(
        new UsageError(ErrorCode.INVALID_STATE, 'renew credentials once the session is open and attached'),
      );
    }
    try {
      const credentials = tokenCredentials(token);
      const id = this.#nextRenewal++;
      this.#core.renewCredentials(now(), id, credentials);
      const answer = new Promise<void>((resolve, reject) => this.#renewals.set(id, { resolve, reject }));
      this.#driver.scheduleFlush();
      return answer;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** @internal The server accepted this session. */
  opened(peerUserData: Uint8Array): void {
    this.#peerUserData = peerUserData;
    this.#opened();
  }

  // ---------------------------------------------------------------- internals

  #canRefuseRelease(): boolean {
    const agreed = this.#core.agreed;
    return agreed !== null && (agreed.units & Unit.NEGOTIATED_RELEASE) !== 0;
  }

  #opened(): void {
    this.#isOpen = true;
    publish('open', () => ({ session: this, role: this.#role }));
    this.#resolveReady?.();
    this.emit('open');
    this.#pump();
  }

  #send(kind: MessageKind, data: Uint8Array | string, signal?: AbortSignal, throwNow = false): Promise<void> {
    // The core may have closed in this turn (abort()) before its `closed` event was dispatched.
    const reason = this.#reason ?? this.#core.closeReason;
    if (reason) {
      if (throwNow) throw new SessionClosedError(reason);
      return Promise.reject(new SessionClosedError(reason));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const bytes = toBytes(data);
    // Fast path: nothing waiting and the core takes it now.
    if (this.#opsHead === this.#ops.length && this.#core.writable) {
      try {
        this.#core.send(now(), kind, bytes);
      } catch (e) {
        if (throwNow) throw e;
        return Promise.reject(e);
      }
      this.#driver.commandFlush();
      return RESOLVED;
    }
    const state = this.#core.state;
    let refusal: UsageError | null = null;
    if (state !== 'connecting' && state !== 'open' && state !== 'release-requested') {
      refusal = new UsageError(ErrorCode.INVALID_STATE, `cannot send in state ${state}`);
    }
    // A send without the data token fails now, never later (a wait for a confirmation is fine).
    const block = kind === 'normal' ? this.#core.dialogue?.normalDataBlock() : null;
    if (!refusal && block && block.code !== 'wait') {
      const code = block.code === 'token' ? ErrorCode.TOKEN_NOT_HELD : ErrorCode.INVALID_STATE;
      refusal = new UsageError(code, block.message);
    }
    if (refusal) {
      if (throwNow) throw refusal;
      return Promise.reject(refusal);
    }
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const queued = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const op: Op & { op: 'send' } = { op: 'send', kind, data: bytes, resolve, reject };
    untilSettled(signal, queued, (why) => {
      op.cancelled = true;
      reject(why);
    });
    this.#enqueue(op);
    return queued;
  }

  #enqueue(op: Op): void {
    this.#ops.push(op);
    this.#pump();
  }

  /** Hands waiting operations to the core in order, as far as it takes them. */
  #pump(): void {
    const state = this.#core.state;
    if (state === 'connecting' || state === 'awaiting-response') return;
    while (this.#opsHead < this.#ops.length) {
      const op = this.#ops[this.#opsHead] as Op;
      if (op.op === 'send' && op.cancelled) {
        // Withdrawn by its signal: nothing to hand over.
      } else if (op.op === 'send') {
        if (!this.#core.writable && (this.#core.state === 'open' || this.#core.state === 'release-requested')) return;
        try {
          this.#core.send(now(), op.kind, op.data);
          op.resolve();
        } catch (e) {
          op.reject(this.#reason ? new SessionClosedError(this.#reason) : (e as Error));
        }
      } else {
        try {
          if (op.op === 'release') this.#core.release(now(), op.userData);
          else if (op.accept || this.#canRefuseRelease()) this.#core.respondRelease(now(), op.accept, op.userData);
          // Refusing needs the negotiated-release unit; without it the release can only be accepted.
          else this.#core.respondRelease(now(), true, op.userData);
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
        }
      }
      this.#ops[this.#opsHead++] = undefined as unknown as Op;
    }
    this.#ops.length = 0;
    this.#opsHead = 0;
    this.#driver.scheduleFlush();
    if (this.#needDrain && this.#core.writable) {
      this.#needDrain = false;
      this.emit('drain');
    }
  }

  /** Moves inbox items to listeners or a waiting reader. */
  #deliver(): void {
    while (this.#inboxHead < this.#inbox.length) {
      const item = this.#inbox[this.#inboxHead] as InboxItem;
      if (item.kind === 'dialogue') {
        // An iterating application has finished with the message before only when it asks for
        // the next one: a sync point must not fire while it is still writing that message.
        if (this.#iterating && this.#reader === null && this.listenerCount('message') === 0) return;
        this.#take();
        this.#emitDialogue(item.event);
        continue;
      }
      if (item.kind === 'release') {
        if (this.#reader !== null && this.#onReleaseRequest) {
          // The iterator ends only once the release is accepted: a refused one (negotiated
          // release) lets the session go on, and the reader waits for the next message.
          this.#take();
          this.#answerRelease(item.userData, () => this.#endReader());
          continue;
        }
        if (this.#reader !== null) {
          this.#take();
          const reader = this.#reader;
          this.#reader = null;
          this.#answerRelease(item.userData);
          reader.resolve({ done: true, value: undefined });
          continue;
        }
        if (this.listenerCount('message') > 0 || !this.#iterating) {
          this.#take();
          this.#answerRelease(item.userData);
          continue;
        }
        return;
      }
      // Typed and expedited data go to their own listeners; an application that has none gets them
      // where it takes normal data (its 'message' listener or its iterator), so nothing is dropped
      // and nothing holds the messages behind it back.
      if (item.kind !== 'normal' && this.listenerCount(item.kind) > 0) {
        this.#take();
        this.emit(item.kind, item.data);
        continue;
      }
      if (this.listenerCount('message') > 0) {
        this.#take();
        this.emit('message', item.data);
        continue;
      }
      if (this.#reader !== null) {
        this.#take();
        const reader = this.#reader;
        this.#reader = null;
        reader.resolve({ done: false, value: item.data });
        continue;
      }
      return;
    }
  }

  #take(): InboxItem {
    const item = this.#inbox[this.#inboxHead] as InboxItem;
    this.#inbox[this.#inboxHead++] = undefined as unknown as InboxItem;
    if (this.#inboxHead === this.#inbox.length) {
      this.#inbox.length = 0;
      this.#inboxHead = 0;
    }
    if (item.kind !== 'release' && item.kind !== 'dialogue' && this.#reason === null) {
      this.#core.consume(now(), item.credit);
      this.#driver.scheduleFlush();
    }
    return item;
  }

  #next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#reader !== null) return Promise.reject(new UsageError(ErrorCode.INVALID_STATE, 'next() already pending'));
    const p = new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
      this.#reader = { resolve, reject };
    });
    this.#deliver();
    if (this.#reader !== null && this.#reason !== null && this.#inboxHead === this.#inbox.length) this.#finishReader();
    return p;
  }

  /** `onAccepted` runs once this side has accepted the release (at once if already answered). */
  #answerRelease(userData: Uint8Array, onAccepted?: () => void): void {
    this.emit('release-request', userData);
    if (this.#releaseAnswered) return onAccepted?.();
    const decide = this.#onReleaseRequest;
    if (!decide) {
      this.#releaseAnswered = true;
      this.#enqueue({ op: 'respond', accept: true, userData: EMPTY });
      return;
    }
    Promise.resolve()
      .then(() => decide(userData, this))
      .then(
        (accept) => {
          if (this.#releaseAnswered || this.#reason) return;
          this.#releaseAnswered = true;
          this.#enqueue({ op: 'respond', accept: accept !== false, userData: EMPTY });
          if (accept === false) this.#releaseAnswered = false;
          else onAccepted?.();
        },
        () => this.abort(),
      );
  }

  /** Server: checks renewed credentials with the hook that let the session in, then answers. */
  async #answerRenewal(requestId: number, credentials: Extension[]): Promise<void> {
    if (this.#renewalInFlight) {
      // One verification at a time per session: a flood of renewals holds no more than one.
      this.#core.answerRenewal(now(), requestId, RefuseCode.CONGESTION, 'a renewal is already being checked');
      this.#driver.scheduleFlush();
      return;
    }
    this.#renewalInFlight = true;
    try {
      await this.#checkRenewal(requestId, credentials);
    } finally {
      this.#renewalInFlight = false;
    }
  }

  async #checkRenewal(requestId: number, credentials: Extension[]): Promise<void> {
    const t = this.#driver.transport;
    const guard = this.#renewalGuard;
    const driver = this.#driver;
    const verdict = await renewalVerdict(this.#authenticate, this.#principal, credentials, {
      mayTry: guard ? () => guard.mayTry(driver) : () => true,
      failed: () => guard?.failed(driver),
      remoteAddress: t.remoteAddress,
      remotePort: t.remotePort,
      transport: t.kind,
      peerCertificate: this.peerCertificate,
      agreed: this.#core.agreed,
      channel: this.#core.channel,
    });
    if (this.#core.state === 'closed' || this.#core.link !== 'attached') return; // the client renews again
    if (verdict.principal) {
      this.#principal = verdict.principal;
      this.#core.credentialsExpireAt = expiryDeadline(verdict.principal);
    }
    this.#core.answerRenewal(now(), requestId, verdict.code, verdict.message);
    this.#driver.scheduleFlush();
    if (verdict.principal) this.emit('credentials-renewed', verdict.principal);
  }

  #failRenewals(error: Error): void {
    const pending = [...this.#renewals.values()];
    this.#renewals.clear();
    for (const p of pending) p.reject(error);
  }

  #ended(reason: CloseReason): void {
    if (this.#reason) return;
    this.#reason = reason;
    const error = new SessionClosedError(reason);
    this.#failRenewals(error);
    const readyError = this.#establishmentAborted ? this.#establishmentAborted.reason : error;
    if (!this.#isOpen) this.#readyError = readyError as Error;
    this.#rejectReady?.(readyError as Error);
    for (let i = this.#opsHead; i < this.#ops.length; i++) {
      const op = this.#ops[i] as Op;
      if (op.op === 'send' && !op.cancelled) op.reject(error);
    }
    this.#ops.length = 0;
    this.#opsHead = 0;
    for (const waiter of this.#tokenWaiters.values()) {
      waiter.cleanup();
      waiter.reject(error);
    }
    this.#tokenWaiters.clear();
    this.#confirmations.closed(reason);
    // Messages already received stay readable; only then does the iterator end.
    this.#deliver();
    if (this.#reader !== null && this.#inboxHead === this.#inbox.length) this.#finishReader();
    publish('close', () => ({ session: this, role: this.#role, reason }));
    if (reason.kind === 'refused') {
      publish('refused', () => ({
        session: this,
        role: this.#role,
        code: reason.code,
        remoteAddress: this.remoteAddress,
        reason: describeCloseReason(reason),
      }));
    }
    if (isProtocolAbort(reason)) {
      publish('protocolError', () => ({ session: this, error, remoteAddress: this.remoteAddress }));
    }
    this.emit('close', reason);
    this.#resolveClosed?.(reason);
  }

  #endReader(): void {
    const reader = this.#reader;
    this.#reader = null;
    reader?.resolve({ done: true, value: undefined });
  }

  #finishReader(): void {
    const reader = this.#reader;
    const reason = this.#reason;
    if (!reader || !reason) return;
    this.#reader = null;
    if (reason.kind === 'released') reader.resolve({ done: true, value: undefined });
    else reader.reject(new SessionClosedError(reason));
  }
}

const EMPTY = new Uint8Array(0);
const RESOLVED = Promise.resolve();
const UTF8 = new TextEncoder();

function toBytes(data: Uint8Array | string): Uint8Array {
  if (typeof data === 'string') return UTF8.encode(data);
  if (data instanceof Uint8Array) return data;
  throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'data must be a Uint8Array or a string');
}

/** A principal's wall-clock expiry as a deadline on the driver's monotonic clock (the core has no clock). */
function expiryDeadline(principal: Principal): number {
  return principal.expiresAt === undefined ? Number.POSITIVE_INFINITY : now() + (principal.expiresAt - Date.now());
}
