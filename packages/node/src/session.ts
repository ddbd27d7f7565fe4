/**
 * A session as the application sees it: `ready` and `closed` promises, `send()` that waits when
 * the peer's window is full, async iteration over messages, typed events. This file is its public
 * face and its event routing; each concern is a part it holds, given only what it needs:
 * - session-lifecycle.ts: `ready`, `closed`, the open and close events, diagnostics.
 * - outbox.ts: one FIFO of outgoing work (sends, release requests and responses), so everything
 *   sent before close() is on the wire before the release, and an echo written while handling
 *   the last message goes out before the release response.
 * - inbox.ts: received messages wait until a listener or the iterator takes them (credit goes
 *   back to the peer only then, so a slow reader slows its sender); a release the peer requested
 *   is answered once every message before it was taken (`onReleaseRequest` may refuse it when the
 *   negotiated-release unit was selected).
 * - session-dialogue.ts: tokens, sync points, activities, capability data and their events.
 * - session-tokens.ts: named tokens on the client side; on the server side the session feeds
 *   `server.tokens` its requests and its close, which hands its tokens to the next waiters.
 * - session-renewal.ts: credential renewal (client) and the principal with its expiry (server).
 * Nothing is dropped silently: when the session ends, waiting sends reject with a
 * SessionClosedError whose reason counts what was not delivered.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  AbortCode,
  type ActivityInfo,
  type AgreedParameters,
  type CloseReason,
  type Session as CoreSession,
  type Extension,
  type PskBinding,
  type ResyncKind,
  type RttEstimate,
  SessionClosedError,
  type SessionStateName,
  type SessionStats,
  type TokenName,
  TransportError,
  tokenMask,
  type UndeliveredMessage,
  UsageError,
} from '@liaison/core';
import { abortable, observed, untilSettled } from './abort.js';
import type { Authenticator, Principal } from './auth.js';
import { publish, type Role } from './diagnostics.js';
import type { SyncResult } from './dialogue.js';
import { type ConnectionDriver, now } from './driver.js';
import { Inbox } from './inbox.js';
import type { ServerTokens } from './named-tokens.js';
import { Outbox } from './outbox.js';
import type { Parking } from './parking.js';
import { registerSession, type SessionListenerEvent } from './registry.js';
import type { RenewalGuard } from './renewal.js';
import { EMPTY, toBytes } from './session-common.js';
import { SessionDialogue } from './session-dialogue.js';
import { Lifecycle } from './session-lifecycle.js';
import { SessionRenewal } from './session-renewal.js';
import { SessionTokens } from './session-tokens.js';
import type {
  CloseOptions,
  SendOptions,
  SessionEventMap,
  SessionInit,
  UserBytes,
  WaitOptions,
} from './session-types.js';
import {
  type SessionDuplexOptions,
  type SessionStreams,
  type SessionStreamsOptions,
  sessionDuplex,
  sessionStreams,
} from './streams.js';
import { type PeerCertificateInfo, TlsTransport } from './tls-transport.js';
import type { TransportKind } from './transport.js';
import type { TransportFailureError } from './transport-failure.js';

export type {
  CloseOptions,
  ReleaseDecider,
  SendOptions,
  SessionEventMap,
  SessionInit,
  UserBytes,
  WaitOptions,
} from './session-types.js';

export class Session extends EventEmitter<SessionEventMap> {
  /** What the parts read: the engine session, its connection, the close reason (updated here only). */
  readonly #live: { core: CoreSession; driver: ConnectionDriver; reason: CloseReason | null; reestablishing: boolean };
  readonly #onEstablishmentLost: ((reason: CloseReason) => boolean) | null;
  readonly #role: Role;
  readonly #parking: Parking | null;
  readonly #checkAccept: ((credentials: Extension[], agreed: AgreedParameters, binding: PskBinding) => boolean) | null;
  #peerUserData: Uint8Array = EMPTY;
  readonly #serverTokens: ServerTokens | null;

  readonly #lifecycle: Lifecycle;
  readonly #outbox: Outbox;
  readonly #inbox: Inbox;
  // Made on first use: most sessions never use the dialogue units, named tokens or renewal, and a
  // server may hold 100,000 sessions.
  #dialogueUnits: SessionDialogue | null = null;
  #namedTokens: SessionTokens | null = null;
  #credentials: SessionRenewal | null = null;

  /** @internal Created by connect() and by a server; applications do not construct sessions. */
  constructor(driver: ConnectionDriver, core: CoreSession, init: SessionInit = {}) {
    super();
    const live = { core, driver, reason: null, reestablishing: false };
    this.#live = live;
    const decide = init.onReleaseRequest;
    this.#parking = init.parking ?? null;
    this.#serverTokens = init.tokens ?? null;
    this.#checkAccept = init.checkAccept ?? null;
    this.#onEstablishmentLost = init.onEstablishmentLost ?? null;
    this.#role = init.role ?? 'server';
    this.#lifecycle = new Lifecycle(this, this.#role);
    this.#outbox = new Outbox(live, this);
    this.#inbox = new Inbox(live, this, this.#outbox, decide ? (userData) => decide(userData, this) : null);
    registerSession(core, this);
  }

  get #dialogue(): SessionDialogue {
    this.#dialogueUnits ??= new SessionDialogue(this.#live, this, this.#outbox, this.#inbox, this.#parking);
    return this.#dialogueUnits;
  }

  get #tokens(): SessionTokens {
    this.#namedTokens ??= new SessionTokens(this.#live, this);
    return this.#namedTokens;
  }

  get #renewal(): SessionRenewal {
    this.#credentials ??= new SessionRenewal(this.#live, this, this.#lifecycle);
    return this.#credentials;
  }

  /** Resolves when the session is open; rejects with a SessionClosedError if it never opens. */
  get ready(): Promise<void> {
    return this.#lifecycle.ready;
  }

  /** Resolves with the close reason when the session ends, however it ends (never rejects). */
  get closed(): Promise<CloseReason> {
    return this.#lifecycle.closed(this.#live.reason);
  }

  get channel(): number {
    return this.#live.core.channel;
  }

  /**
   * The session's id in hex: the one a resume names, the same on both sides and across resumes
   * (not a secret: it proves nothing without the resume key). Null until established, and when
   * recovery was not agreed.
   */
  get id(): string | null {
    const bytes = this.#live.core.sessionId;
    return bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  }

  /** The X.225 state: connecting, awaiting-response, open, releasing, release-requested, disconnecting, closed. */
  get state(): SessionStateName {
    return this.#live.reestablishing ? 'connecting' : this.#live.core.state;
  }

  get agreed(): AgreedParameters | null {
    return this.#live.core.agreed;
  }

  /** User data the peer sent with its connect request (server side) or its acceptance (client side). */
  get peerUserData(): Uint8Array {
    return this.#peerUserData;
  }

  get closeReason(): CloseReason | null {
    return this.#live.reason;
  }

  /** attached (on a transport), suspended (waiting to resume), resuming, awaiting-resumed. */
  get link(): string {
    return this.#live.core.link;
  }

  /**
   * The messages accepted by send() that the peer is not known to have received, oldest first.
   * After a session was lost (aborted or not resumed in time), resend them elsewhere if they
   * matter. Each has a `status`: `undelivered` when it is known not to have arrived (never sent,
   * or the server's tombstone of the session proved what arrived), `unconfirmed` when it was sent
   * and never acknowledged (it may have arrived: make resending it idempotent).
   */
  undeliveredMessages(): UndeliveredMessage[] {
    return this.#live.core.undeliveredMessages();
  }

  /** @internal A reconnection carries this session on a new connection. */
  moveTo(driver: ConnectionDriver): void {
    this.#live.driver = driver;
  }

  /** @internal The engine session (a new one after `reestablish`). */
  get engine(): CoreSession {
    return this.#live.core;
  }

  /** @internal Whether the session waits for a new connection to send its connect request on. */
  get reestablishing(): boolean {
    return this.#live.reestablishing;
  }

  /** @internal The connect request goes again, as a new engine session on a new connection. */
  reestablish(driver: ConnectionDriver, core: CoreSession): void {
    this.#live.driver = driver;
    this.#live.core = core;
    this.#live.reestablishing = false;
    registerSession(core, this);
  }

  /** @internal The client stopped trying to establish the session. */
  giveUp(reason: CloseReason): void {
    this.#live.reestablishing = false;
    this.#ended(reason);
  }

  get remoteAddress(): string {
    return this.#live.driver.transport.remoteAddress;
  }

  get remotePort(): number {
    return this.#live.driver.transport.remotePort;
  }

  /**
   * The peer's static X25519 public key when the session runs inside Noise (the server's key on a
   * client: pin it, or trust it on first use; the client's key on a server), else null.
   */
  get peerStaticKey(): Uint8Array | null {
    return this.#live.driver.secure?.remoteStaticKey ?? null;
  }

  /**
   * Why the session's last transport connection ended (a TransportFailureError: `failure` names
   * the case, e.g. TLS_CLIENT_CERTIFICATE_REQUIRED), or null while it is up. A session that ended
   * TRANSPORT_LOST carries the same message in its close reason.
   */
  get transportError(): TransportFailureError | null {
    return this.#live.driver.closeError;
  }

  /** The Noise handshake pattern of the current connection ('XX' or 'IK'), or null in plaintext. */
  get noisePattern(): 'XX' | 'IK' | null {
    return this.#live.driver.secure?.pattern ?? null;
  }

  /** What carries the session now: 'tcp', 'tls', 'ws' or 'wss'. */
  get transport(): TransportKind {
    return this.#live.driver.transport.kind;
  }

  /**
   * The peer's TLS certificate on the current connection: on a server, the client's when mutual
   * TLS is used; on a client, the server's. null over TCP or when the peer sent none.
   */
  get peerCertificate(): PeerCertificateInfo | null {
    const t = this.#live.driver.transport;
    return t instanceof TlsTransport ? t.peerCertificate : null;
  }

  /** Server: who the `authenticate` hook let in (renewals update it); null without authentication. */
  get principal(): Principal | null {
    return this.#credentials?.principal ?? null;
  }

  get rtt(): RttEstimate | null {
    return this.#live.driver.conn.rtt;
  }

  get stats(): Readonly<SessionStats> {
    return this.#live.core.stats;
  }

  /** Bytes accepted by send() and not yet on the wire (the core's queue plus waiting sends). */
  get bufferedAmount(): number {
    return this.#live.core.queuedBytes + this.#outbox.waitingBytes;
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
    return observed(this.#outbox.send('normal', data, options.signal));
  }

  /** Typed data (X.215 S-TYPED-DATA): outside the normal data flow's token rules. */
  sendTyped(data: Uint8Array | string, options: SendOptions = {}): Promise<void> {
    return observed(this.#outbox.send('typed', data, options.signal));
  }

  /** Expedited data: at most 14 bytes, overtakes normal data not yet sent. */
  sendExpedited(data: Uint8Array | string, options: SendOptions = {}): Promise<void> {
    return observed(this.#outbox.send('expedited', data, options.signal));
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
    return this.#outbox.write(data);
  }

  /**
   * Orderly release (S-RELEASE): everything sent before is delivered, then both sides close.
   * When the peer asked first, this accepts its request. Resolves with the close reason; if the
   * peer refuses (negotiated release), resolves... never while open: listen for 'release-refused'.
   */
  close(userData: Uint8Array | string = EMPTY, options: CloseOptions = {}): Promise<CloseReason> {
    if (this.#live.reason) return this.closed;
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
    const state = this.state;
    if (state === 'release-requested' && !this.#inbox.releaseAnswered) {
      this.#inbox.markReleaseAnswered();
      this.#outbox.respond(true, bytes);
    } else if (state === 'open' || state === 'connecting') {
      // Without the tokens a release needs, say so now instead of never closing.
      try {
        this.#live.core.dialogue?.checkRelease();
      } catch (e) {
        return Promise.reject(e);
      }
      this.#outbox.release(bytes);
    }
    return this.closed;
  }

  /** User abort (S-U-ABORT): ends at once; data in transit may be lost and is counted in the reason. */
  abort(userData: Uint8Array | string = EMPTY): void {
    if (this.#live.reason) return;
    if (this.#live.reestablishing) {
      // No engine session to abort: nothing of it is on any wire.
      const undelivered = this.#outbox.waitingSends;
      const reason = { kind: 'aborted', origin: 'local', by: 'user', code: AbortCode.USER, message: '' } as const;
      return this.giveUp({ ...reason, userData: toBytes(userData), undelivered });
    }
    try {
      this.#live.core.abort(now(), toBytes(userData));
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
    }
    // The core queued the abort frame and a `closed` event; both go out on the next flush. A
    // suspended session's event waits in its session table instead: deliver it now.
    this.#live.driver.scheduleFlush();
    this.#parking?.update();
  }

  /**
   * `await using session = connect(url)`: released at the end of the block (everything sent is
   * delivered first), aborted instead when it cannot be released (not attached to a transport,
   * the release refused or impossible). Resolves when the session has ended.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#live.reason) return;
    if (this.link !== 'attached' && this.state !== 'connecting') {
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
    if (this.#lifecycle.isOpen || this.#live.reason) return;
    this.#lifecycle.establishmentAborted(reason);
    this.abort();
  }

  /**
   * Messages in order (normal data, and typed or expedited data that no listener of their own
   * takes). Ends after the peer's release; throws if the session aborts.
   */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.#inbox.iterator();
  }

  /**
   * The session as a Node Duplex (streams.ts: byte mode by default, `{ objectMode: true }` for a
   * message per chunk; end() releases, destroy() aborts). It takes the session's messages.
   * @throws UsageError INVALID_STATE when the messages are already iterated or streamed.
   */
  toDuplex(options?: SessionDuplexOptions): Duplex {
    return sessionDuplex(this, options);
  }

  /**
   * The session as WHATWG `{ readable, writable }` streams (streams.ts). It takes the messages.
   * @throws UsageError INVALID_STATE when the messages are already iterated or streamed.
   */
  streams(options?: SessionStreamsOptions): SessionStreams {
    return sessionStreams(this, options);
  }

  /** @internal streams.ts: the peer's release is answered by close() instead of by iteration. */
  holdRelease(): void {
    this.#inbox.holdRelease();
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
    return this.#tokens.acquire(name, options);
  }

  /**
   * Gives the named token back to the server's registry (the next waiter is granted), or
   * withdraws a request still waiting (its acquire() rejects with CANCELLED).
   * @throws UsageError NAMED_TOKEN_NOT_HELD when neither held nor requested.
   */
  releaseToken(name: string): void {
    this.#tokens.release(name);
  }

  /** Named tokens this session holds: granted to this client (client side), or held by its client (server side). */
  get heldTokens(): readonly string[] {
    if (this.#serverTokens) return this.#serverTokens.heldBy(this.#live.core);
    return this.#live.core.heldNamedTokens;
  }

  /** @internal The server's registry gave this session a frame to send. */
  flushSoon(): void {
    this.#live.driver.scheduleFlush();
  }

  // ---------------------------------------------------------------- tokens, sync points, activities

  /** Who holds each token: this side ('mine'), the peer, or not available with the agreed units. */
  get tokens(): Readonly<Record<TokenName, 'mine' | 'peer' | 'unavailable'>> {
    return this.#dialogue.tokenOwners();
  }

  owns(token: TokenName): boolean {
    return this.#live.core.dialogue?.owns(token) ?? false;
  }

  /** The activity in progress ({ id, serial of its last confirmed major sync point }), or null. */
  get activity(): ActivityInfo | null {
    return this.#live.core.dialogue?.activity ?? null;
  }

  /** The serial number the next sync point of this side takes. */
  get serial(): number {
    return this.#live.core.dialogue?.serial ?? 0;
  }

  /** Normal messages dropped unsent or undelivered by resynchronizations and activity stops (X.225 purge). */
  get purged(): { sent: number; received: number } {
    const st = this.#live.core.stats;
    return { sent: st.messagesPurged, received: st.messagesDiscarded + this.#inbox.purged };
  }

  /** S-TOKEN-GIVE. @throws UsageError TOKEN_NOT_HELD for a token this side does not hold. */
  giveTokens(tokens: readonly TokenName[], userData: UserBytes = EMPTY): void {
    this.#dialogue.command(true, (d) => d.giveTokens(tokenMask(tokens), toBytes(userData)));
    this.#dialogue.emitTokens();
  }

  /** S-TOKEN-PLEASE: asks the peer for tokens (it decides; listen for 'tokens'). */
  pleaseTokens(tokens: readonly TokenName[], userData: UserBytes = EMPTY): void {
    this.#dialogue.command(false, (d) => d.pleaseTokens(tokenMask(tokens), toBytes(userData)));
  }

  /** S-CONTROL-GIVE: every available token, which this side must hold (X.215; else TOKEN_NOT_HELD). */
  giveControl(userData: UserBytes = EMPTY): void {
    this.#dialogue.command(true, (d) => d.giveControl(toBytes(userData)));
    this.#dialogue.emitTokens();
  }

  /** S-SYNC-MINOR: returns the serial number of the sync point. */
  syncMinor(opts: { userData?: UserBytes; confirm?: boolean; separation?: boolean } = {}): number {
    return this.#dialogue.command(true, (d) =>
      d.syncMinor({
        confirm: opts.confirm ?? false,
        separation: opts.separation ?? false,
        userData: toBytes(opts.userData ?? EMPTY),
      }),
    );
  }

  /** Confirms the peer's minor sync points up to `serial`. */
  confirmMinor(serial: number, userData: UserBytes = EMPTY): void {
    this.#dialogue.command(false, (d) => d.confirmMinor(serial, toBytes(userData)));
  }

  /**
   * S-SYNC-MAJOR: resolves when the peer confirms. Until then neither side sends normal data
   * (sends wait). Rejects with SyncAbandonedError if a resynchronization or activity stop cancels
   * it, with SessionClosedError if the session ends first, with the signal's reason if `signal`
   * aborts first (nothing is sent when it already has; once sent the sync point stays outstanding
   * until confirmed or cancelled by resynchronize('abandon'), as X.225 has no withdrawal).
   */
  syncMajor(userData: UserBytes = EMPTY, options: WaitOptions = {}): Promise<SyncResult> {
    return abortable(options.signal, () => this.#dialogue.major((d) => d.syncMajor(toBytes(userData))));
  }

  /** Answers the peer's major sync point or activity end. */
  confirmMajor(userData: UserBytes = EMPTY): void {
    this.#dialogue.command(false, (d) => d.confirmMajor(toBytes(userData)));
    this.#outbox.pump();
  }

  /**
   * S-RESYNCHRONIZE: purges data in transit both ways; resolves when the peer confirms. With
   * `signal`, stops waiting for the confirmation when it aborts (see syncMajor).
   */
  resynchronize(
    kind: ResyncKind,
    opts: { serial?: number; tokens?: readonly TokenName[]; userData?: UserBytes; signal?: AbortSignal } = {},
  ): Promise<SyncResult> {
    return abortable(opts.signal, () => this.#dialogue.resynchronize(kind, opts));
  }

  /** Confirms the peer's resynchronization (tokens are as its request assigned them). */
  confirmResynchronize(opts: { userData?: UserBytes } = {}): void {
    this.#dialogue.command(false, (d) => d.confirmResynchronize(toBytes(opts.userData ?? EMPTY)));
    this.#dialogue.emitTokens();
    this.#outbox.pump();
  }

  /** S-U-EXCEPTION-REPORT (half-duplex, by the side without the data token). */
  reportException(reason: number, userData: UserBytes = EMPTY): void {
    this.#dialogue.command(false, (d) => d.reportException(reason, toBytes(userData)));
  }

  /** S-CAPABILITY-DATA (outside activities): resolves with the peer's confirmation's user data. */
  sendCapability(userData: UserBytes = EMPTY, options: WaitOptions = {}): Promise<Uint8Array> {
    return abortable(options.signal, () => this.#dialogue.sendCapability((d) => d.sendCapability(toBytes(userData))));
  }

  /** Answers the peer's capability data. */
  confirmCapability(userData: UserBytes = EMPTY): void {
    this.#dialogue.command(false, (d) => d.confirmCapability(toBytes(userData)));
  }

  /** S-ACTIVITY-START. */
  startActivity(id: UserBytes, userData: UserBytes = EMPTY): void {
    this.#dialogue.command(true, (d) => d.startActivity(toBytes(id), toBytes(userData)));
  }

  /**
   * S-ACTIVITY-RESUME: continues activity `oldId` (possibly from an earlier session) as `id`,
   * numbering sync points after `serial` (its last confirmed major sync point).
   */
  resumeActivity(a: { id: UserBytes; oldId: UserBytes; serial: number; userData?: UserBytes }): void {
    this.#dialogue.command(true, (d) =>
      d.resumeActivity(toBytes(a.id), toBytes(a.oldId), a.serial, toBytes(a.userData ?? EMPTY)),
    );
  }

  /** S-ACTIVITY-INTERRUPT: resolves on the peer's acknowledgement. Purges data in transit. */
  interruptActivity(reason = 0, userData: UserBytes = EMPTY, options: WaitOptions = {}): Promise<void> {
    return abortable(options.signal, () => this.#dialogue.stop((d) => d.interruptActivity(reason, toBytes(userData))));
  }

  /** S-ACTIVITY-DISCARD: resolves on the peer's acknowledgement. Purges data in transit. */
  discardActivity(reason = 0, userData: UserBytes = EMPTY, options: WaitOptions = {}): Promise<void> {
    return abortable(options.signal, () => this.#dialogue.stop((d) => d.discardActivity(reason, toBytes(userData))));
  }

  /** S-ACTIVITY-END: a major sync point; resolves when the peer confirms (confirmMajor). */
  endActivity(userData: UserBytes = EMPTY, options: WaitOptions = {}): Promise<SyncResult> {
    return abortable(options.signal, () => this.#dialogue.major((d) => d.endActivity(toBytes(userData))));
  }

  // ---------------------------------------------------------------- from the driver

  /** @internal */
  handleEvent(e: SessionListenerEvent, driver: ConnectionDriver | null): void {
    switch (e.type) {
      case 'suspended':
        this.#credentials?.fail(
          new TransportError('the connection was lost before the renewal was answered; renew again'),
        );
        publish('suspend', () => ({ session: this, role: this.#role, reason: e.reason }));
        this.emit('suspended', e.reason);
        return;
      case 'renewal-answered':
        this.#renewal.answered(e.requestId, e.code, e.message);
        return;
      case 'renewal-requested':
        void this.#renewal.requested(e.requestId, e.credentials);
        return;
      case 'resumed':
        if (driver && driver !== this.#live.driver) {
          const previous = this.#live.driver;
          this.#live.driver = driver;
          previous.sessionMovedAway();
        }
        publish('resume', () => ({ session: this, role: this.#role, stats: e.stats }));
        this.emit('resumed', e.stats);
        this.#outbox.pump();
        return;
      case 'accepted':
        if (this.#checkAccept && !this.#checkAccept(e.credentials, e.agreed, e.binding)) {
          // Whoever answered does not hold the key, or changed the agreement: never open.
          this.#live.core.providerAbort(
            now(),
            AbortCode.AUTHENTICATION_FAILED,
            'the server did not prove the pre-shared key',
          );
          this.#live.driver.scheduleFlush();
          return;
        }
        this.#peerUserData = e.userData;
        this.#opened();
        return;
      case 'message':
        if (e.kind === 'expedited' && this.listenerCount('expedited') > 0) {
          // Expedited data overtakes normal data waiting in the inbox too.
          this.#live.core.consume(now(), e.credit);
          this.emit('expedited', e.data);
          return;
        }
        this.#inbox.message(e.kind, e.data, e.credit);
        return;
      case 'writable':
        this.#outbox.pump();
        return;
      case 'release-requested':
        this.#inbox.releaseRequested(e.userData);
        return;
      case 'release-refused':
        this.emit('release-refused', e.userData);
        return;
      case 'named-token-acquire':
      case 'named-token-release':
        this.#serverTokens?.handleEvent(e);
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
      case 'closed':
        if (!this.#lifecycle.isOpen && this.#onEstablishmentLost?.(e.reason)) {
          this.#live.reestablishing = true;
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
    this.#renewal.authenticated(principal, authenticate, guard);
  }

  /**
   * Client: sends a new token (a fresh JWT) for this session. Resolves when the server accepted
   * it (the server's principal and expiry are then updated); rejects with RENEWAL_REFUSED when it
   * did not (the session goes on until the old credentials expire), with a TransportError when
   * the connection broke before the answer (renew again once resumed), or with the close reason.
   */
  renewCredentials(token: string): Promise<void> {
    return this.#renewal.renew(token);
  }

  /** @internal The server accepted this session. */
  opened(peerUserData: Uint8Array): void {
    this.#peerUserData = peerUserData;
    this.#opened();
  }

  // ---------------------------------------------------------------- internals

  #opened(): void {
    this.#lifecycle.opened();
    this.#outbox.pump();
  }

  #ended(reason: CloseReason): void {
    if (this.#live.reason) return;
    this.#live.reason = reason;
    const error = new SessionClosedError(reason);
    this.#credentials?.fail(error);
    this.#lifecycle.failReady(error);
    this.#outbox.fail(error);
    this.#namedTokens?.fail(error);
    this.#dialogueUnits?.closed(reason);
    // Messages already received stay readable; only then does the iterator end.
    this.#inbox.ended();
    this.#lifecycle.ended(reason, error);
  }
}
