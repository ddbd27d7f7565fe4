/**
 * The X.225 state machine of one session, on one channel of a connection: its public face and
 * router. Commands, frames and time come in here and go to the part that owns the concern.
 *
 * Theory of operation
 * - States are a discriminated union (SessionState); every input from the peer is checked against
 *   the current state in `#dispatch`, the one switch over states. A frame not allowed in a state
 *   is a protocol error: the session is provider-aborted with a reason, others go on. A command
 *   not allowed is a UsageError and leaves the state unchanged. Only phase.ts moves the state.
 * - Outgoing messages wait in a bounded send queue (sendQueueBytesMax, outbox.ts) and leave as
 *   fragments when the peer's flow-control window allows (transmit.ts); expedited data overtakes
 *   queued normal data. Release (FINISH, DISCONNECT) queues behind data, so everything sent first
 *   arrives first.
 * - Every sequenced frame (data, typed, expedited, finish, disconnect, not-finished) takes the
 *   next number in this direction's reliable stream; the receiver acknowledges the count it has
 *   received (ack.ts). The acknowledged count tells which messages were delivered (and, in
 *   recovery, what to send again: resume.ts).
 * - Role differences (initiator or responder) are parameters; the machine is the same.
 * - The state is held in one SessionContext (context.ts), persistent parts apart from transient.
 * The machine never does I/O and never reads a clock: `now` comes in with every call.
 */
import { AbortCode, type CloseReason, ErrorCode, ProtocolError, type RefuseCode, UsageError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { KeyShare } from '../recovery/proof.js';
import { assertNever } from '../wire/codec.js';
import { type ConnectFrame, type Extension, type Frame, FrameType, type ResumeFrame } from '../wire/frame.js';
import type { FrameWriter } from '../wire/writer.js';
import { consume } from './ack.js';
import { checkUserData, createContext, invalid, type SessionContext, unexpected } from './context.js';
import type { PskBinding } from './credentials.js';
import type { Dialogue } from './dialogue.js';
import { accept, receiveConnectAnswer } from './establish.js';
import type { NamedTokenOffer } from './named-token-requests.js';
import {
  acquireNamedToken,
  answerNamedToken,
  heldNamedTokens,
  namedTokenOffer,
  releaseNamedToken,
} from './named-tokens-session.js';
import { collectUndelivered, send, undeliveredCount, writable } from './outbox.js';
import { abortWith, peerAborted, peerRelease, providerAbort, refuse, release, respondRelease } from './phase.js';
import { receiveAck, receiveData } from './receive.js';
import { captureRecord, restoreContext, type SessionRecord } from './record.js';
import { answerRenewal, receiveRenewal, renewCredentials } from './renewal.js';
import {
  attachForResume,
  dropDuplicate,
  expire,
  resumable,
  resumeAnswer,
  resumeFrom,
  sendResume,
  suspend,
} from './resume.js';
import { handleTimeout, nextDeadline } from './timers.js';
import { hasWork, writeNext } from './transmit.js';
import type {
  AgreedParameters,
  ConnectRequest,
  Link,
  MessageKind,
  RecoveryOffer,
  SessionHostOf,
  SessionState,
  SessionStateName,
  SessionStats,
  UndeliveredMessage,
} from './types.js';

export { FRAGMENT_BYTES_MIN } from './context.js';
export type { RecoveryOffer, SessionState, SessionStateName, SessionStats } from './types.js';

/** What a session needs from the connection that carries it. */
export interface SessionHost extends SessionHostOf<Session> {}

export class Session {
  readonly #c: SessionContext;

  readonly stats: SessionStats = {
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    resumes: 0,
    framesRetransmitted: 0,
    bytesRetransmitted: 0,
    duplicatesSuppressed: 0,
    messagesPurged: 0,
    messagesDiscarded: 0,
  };

  private constructor(
    channel: number,
    host: SessionHost,
    limits: Limits,
    state: SessionState,
    initiator: boolean,
    recovery: { keyShare: KeyShare | null; offer: RecoveryOffer | null },
  ) {
    this.#c = createContext(this, channel, host, limits, state, initiator, recovery, this.stats);
  }

  /** Initiator side: sends the connect request. */
  static initiate(
    now: number,
    host: SessionHost,
    limits: Limits,
    connect: ConnectFrame,
    keyShare: KeyShare | null,
  ): Session {
    const state: SessionState = { name: 'connecting', since: now, connect };
    const s = new Session(connect.channel, host, limits, state, true, { keyShare, offer: null });
    host.sendControl(connect);
    host.timer(s);
    return s;
  }

  /** Responder side: a connect request that passed negotiation, awaiting the application's answer. */
  static respond(
    now: number,
    host: SessionHost,
    limits: Limits,
    channel: number,
    request: ConnectRequest,
    offer: RecoveryOffer | null,
  ): Session {
    const state: SessionState = { name: 'awaiting-response', since: now, request };
    const s = new Session(channel, host, limits, state, false, { keyShare: null, offer });
    host.emit({ type: 'connect-request', channel, session: s, request });
    host.timer(s);
    return s;
  }

  /**
   * @internal A session rebuilt from a checked record (record-session.ts), suspended since the
   * record's suspension (or `now`) and hosted by `host` (a session table's), ready to be resumed.
   */
  static fromRecord(now: number, record: SessionRecord, host: SessionHost, limits: Limits, channel: number): Session {
    const recordLimits = { ...limits, receiveWindowBytes: record.receive.windowBytes };
    const s = new Session(channel, host, recordLimits, record.state as SessionState, record.initiator, {
      keyShare: null,
      offer: null,
    });
    restoreContext(s.#c, record, now);
    return s;
  }

  /** @internal This session's record (record-session.ts checks the phase first). */
  toRecord(): SessionRecord {
    const state = this.#c.phase.state;
    if (state.name === 'connecting' || state.name === 'awaiting-response' || state.name === 'closed') {
      throw new UsageError(ErrorCode.INVALID_STATE, `no session record in state ${state.name}`);
    }
    if (this.#c.recovery.credentials === null) {
      throw new UsageError(ErrorCode.INVALID_STATE, 'no session record without recovery (nothing could resume it)');
    }
    return captureRecord(this.#c, state);
  }

  /** Whether `host` carries this session now (a session that resumed elsewhere is not its old host's). */
  isHostedBy(host: SessionHost): boolean {
    return this.#c.live.host === host;
  }

  /** The channel on the current connection (a resumed session gets a new one). */
  get channel(): number {
    return this.#c.channel;
  }

  get state(): SessionStateName {
    return this.#c.phase.state.name;
  }

  /** attached, suspended (transport lost, waiting to resume), resuming or awaiting-resumed. */
  get link(): Link['name'] {
    return this.#c.recovery.link.name;
  }

  /** The id a resume names; null until established, or when recovery was not agreed. */
  get sessionId(): Uint8Array | null {
    return this.#c.recovery.credentials?.sessionId ?? null;
  }

  /** Whether a transport break suspends this session (instead of aborting it). */
  get resumable(): boolean {
    return resumable(this.#c);
  }

  /**
   * When this session's credentials expire (same clock as `now`; Infinity: never). Past it an
   * established session is aborted with CREDENTIALS_EXPIRED and a resume is refused, so a resume
   * never outlives the credentials. The application moves it when the credentials are renewed.
   */
  get credentialsExpireAt(): number {
    return this.#c.recovery.credentialsExpireAt;
  }
  set credentialsExpireAt(at: number) {
    this.#c.recovery.credentialsExpireAt = at;
    this.#c.live.host.timer(this);
  }

  /** @internal The session table's deadline for this suspension, enforced during resume attempts too. */
  set resumeDeadline(at: number) {
    this.#c.recovery.resumeDeadline = at;
  }

  /** When the current suspension began (across failed resume attempts), or null when attached. */
  get suspendedSince(): number | null {
    const link = this.#c.recovery.link;
    return link.name === 'attached' ? null : link.since;
  }

  /** The responder's resume window, as it announced it (initiator side), or null. */
  get resumeWindowMs(): number | null {
    return this.#c.recovery.credentials?.resumeWindowMs ?? null;
  }

  /**
   * How long a session table keeps this session parked (with its own resume window), or null for
   * no limit of its own. A responder that has heard nothing on the session since its ACCEPT does
   * not know the initiator has it: a transport cut before the ACCEPT arrived leaves an initiator
   * that cannot resume and opens a new session instead. Such a half-open session is kept only
   * `handshakeTimeoutMs`, long enough for an initiator that did get the ACCEPT to resume (its first
   * attempt follows the break within milliseconds), not the whole resume window.
   */
  get parkWindowMs(): number | null {
    if (this.#c.phase.initiator || this.#c.recovery.peerHeard) return this.resumeWindowMs;
    return Math.min(this.resumeWindowMs ?? Number.POSITIVE_INFINITY, this.#c.limits.handshakeTimeoutMs);
  }

  /**
   * Initiator: how long it goes on trying past its window, one handshake timeout. The
   * responder's window runs from its own suspension, which may begin later than ours (the
   * session is then still there); if it has ended, the responder's tombstone says exactly what
   * arrived. Either way one more attempt turns "not known to be delivered" into an answer.
   */
  get resumeGraceMs(): number {
    return this.#c.phase.initiator ? this.#c.limits.handshakeTimeoutMs : 0;
  }

  /**
   * Responder, once a resumable session has closed: what its tombstone keeps (the frames it had
   * received, and the key a late resume must prove). Null otherwise.
   */
  get finalCount(): { key: Uint8Array; received: number; closedAt: number } | null {
    const c = this.#c;
    const recovery = c.recovery.credentials;
    if (c.phase.initiator || recovery === null || c.phase.state.name !== 'closed') return null;
    return { key: recovery.key, received: c.rx.receivedSeq, closedAt: c.phase.closedAt };
  }

  /** Bytes this session holds for retransmission or waiting to be sent (its cost while suspended). */
  get retainedBytes(): number {
    return this.#c.send.tx.sent.unackedBytes + this.#c.send.queue.bytes;
  }

  /**
   * The messages accepted by send() that the peer is not known to have received: after a lost
   * session, the ones the application may want to send elsewhere. Oldest first. Each says whether
   * it is known not to have arrived (`undelivered`) or was sent and never confirmed (`unconfirmed`).
   */
  undeliveredMessages(): UndeliveredMessage[] {
    if (this.#c.phase.state.name === 'closed') return this.#c.phase.undeliveredAtClose;
    return collectUndelivered(this.#c);
  }

  get closeReason(): CloseReason | null {
    const s = this.#c.phase.state;
    return s.name === 'closed' ? s.reason : null;
  }

  get agreed(): AgreedParameters | null {
    return this.#c.agreed;
  }

  /** Whether send() accepts a message now (the send queue is under its limit). */
  get writable(): boolean {
    return writable(this.#c);
  }

  /** Messages accepted by send() that the peer is not known to have received. */
  get undelivered(): number {
    return undeliveredCount(this.#c);
  }

  get queuedBytes(): number {
    return this.#c.send.queue.bytes;
  }

  /** Tokens, synchronization and activities (null before establishment). */
  get dialogue(): Dialogue | null {
    return this.#c.dialogue;
  }

  // ---------------------------------------------------------------- commands from the application

  /**
   * `wantedTokens`: tokens the responder takes among those the initiator let it choose (dialogue).
   * `options.namedTokens`: this side answers the initiator's named-token requests (a registry).
   * `options.credentials`: authentication extensions for the initiator to check (ids 0x18-0x2F, e.g. a
   * PSK answer), or a function of what the ACCEPT binds (its KEY_SHARE and SESSION_ID) making
   * them; appended after everything else.
   * @throws UsageError unless awaiting a response.
   */
  accept(
    now: number,
    userData: Uint8Array,
    extensions: Extension[] = [],
    wantedTokens = 0,
    options: {
      namedTokens?: NamedTokenOffer;
      credentials?: Extension[] | ((binding: PskBinding) => Extension[]);
    } = {},
  ): void {
    accept(this.#c, userData, extensions, wantedTokens, options);
    void now;
  }

  /**
   * Initiator: sends new credentials (RENEW_CREDENTIALS); the answer is a `renewal-answered` event.
   * @throws UsageError unless this side opened the session and it is established, or for
   * credentials outside the auth range.
   */
  renewCredentials(now: number, requestId: number, credentials: Extension[]): void {
    renewCredentials(this.#c, requestId, credentials);
    void now;
  }

  /**
   * Responder: answers a `renewal-requested` event (code 0 accepts; set `credentialsExpireAt` first).
   * @throws UsageError unless this side accepted the session and it is established.
   */
  answerRenewal(now: number, requestId: number, code: number, message: string): void {
    answerRenewal(this.#c, requestId, code, message);
    void now;
  }

  /** @throws UsageError unless awaiting a response. */
  refuse(now: number, code: RefuseCode, userData: Uint8Array): void {
    refuse(this.#c, now, code, userData);
  }

  /**
   * Queues one message. Normal and typed messages may be as large as the peer's message limit
   * and are fragmented; expedited ones are at most 14 bytes and overtake queued normal data.
   * @throws UsageError: INVALID_STATE when not open for sending, WOULD_BLOCK when the send queue is
   * full (wait for the `writable` event), MESSAGE_TOO_LARGE, UNIT_NOT_SELECTED.
   */
  send(now: number, kind: MessageKind, data: Uint8Array, force = false): void {
    send(this.#c, kind, data, force);
    void now;
  }

  /** S-RELEASE request: queue FINISH behind everything sent so far. @throws UsageError unless open. */
  release(now: number, userData: Uint8Array): void {
    release(this.#c, now, userData);
  }

  /**
   * S-RELEASE response. Accepting queues DISCONNECT behind everything sent so far; refusing
   * (NOT_FINISHED) needs the negotiated-release unit and returns the session to open.
   * @throws UsageError unless a release was requested, or refusing without negotiated release.
   */
  respondRelease(now: number, accept: boolean, userData: Uint8Array): void {
    respondRelease(this.#c, now, accept, userData);
  }

  /** S-U-ABORT: ends the session at once; data not yet delivered is lost and counted. */
  abort(now: number, userData: Uint8Array): void {
    if (this.#c.phase.state.name === 'closed') throw invalid(this.#c, 'abort');
    checkUserData(this.#c, userData);
    abortWith(this.#c, now, { byProvider: false, code: AbortCode.USER, message: '', userData }, 'local');
  }

  /** The application consumed `bytes` of received data: the peer may send that much more. */
  consume(now: number, bytes: number): void {
    consume(this.#c, bytes);
    void now;
  }

  // ---------------------------------------------------------------- named tokens

  /** Initiator: names held now (granted by the responder's registry and not released). */
  get heldNamedTokens(): string[] {
    return heldNamedTokens(this.#c);
  }

  /** Initiator: names asked for whose answer has not come (a session that ends rejects them). */
  get pendingNamedTokens(): string[] {
    return this.#c.tokens.requests?.pending() ?? [];
  }

  /** What the responder offered (initiator) or this side offered (responder); null when none. */
  get namedTokenOffer(): Readonly<NamedTokenOffer> | null {
    return namedTokenOffer(this.#c);
  }

  /**
   * Initiator: asks the responder's registry for `name` (NAMED_TOKEN_ACQUIRE, in order with data).
   * A `named-token-granted` or `named-token-refused` event answers it.
   * @throws UsageError NAMED_TOKENS_UNAVAILABLE (not offered), INVALID_STATE, INVALID_ARGUMENT (bad
   * name); NamedTokenRefusedError ALREADY_REQUESTED or TOO_MANY_TOKENS. Nothing is sent then.
   */
  acquireNamedToken(now: number, name: string): void {
    acquireNamedToken(this.#c, name);
    void now;
  }

  /**
   * Initiator: gives `name` back, or withdraws the request for it still unanswered (no event will
   * answer it then). @throws UsageError NAMED_TOKEN_NOT_HELD, NAMED_TOKENS_UNAVAILABLE, INVALID_STATE.
   */
  releaseNamedToken(now: number, name: string): 'released' | 'withdrawn' {
    void now;
    return releaseNamedToken(this.#c, name);
  }

  /**
   * Responder: the registry granted `name` to this session. Returns false, sending nothing, when
   * the session can no longer send (releasing or closed): the caller passes the name on.
   */
  grantNamedToken(now: number, name: string): boolean {
    void now;
    return answerNamedToken(this.#c, name, null);
  }

  /** Responder: the registry refused (or the requester withdrew) the request for `name`. False when it cannot be sent. */
  refuseNamedToken(now: number, name: string, code: number): boolean {
    void now;
    return answerNamedToken(this.#c, name, code);
  }

  // ---------------------------------------------------------------- input from the peer

  /**
   * One frame for this session. Protocol violations abort this session (provider abort) and are
   * reported through events, never thrown.
   */
  handleFrame(now: number, f: Frame): void {
    const c = this.#c;
    c.recovery.peerHeard = true;
    if (dropDuplicate(c, f)) return;
    try {
      if (f.type === FrameType.RESUMED || f.type === FrameType.RESUME_REFUSE) return resumeAnswer(c, now, f);
      if (c.recovery.link.name === 'awaiting-resumed') throw unexpected(c, f);
      this.#dispatch(now, f);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.providerAbort(now, e.wireCode, e.message);
    }
  }

  /** Ends the session because of a provider-detected problem (protocol error, timeout, transport). */
  providerAbort(
    now: number,
    code: AbortCode,
    message: string,
    options: { notifyPeer?: boolean; fromPeer?: boolean } = {},
  ): void {
    providerAbort(this.#c, now, code, message, options);
  }

  /** The one switch over states: which frames each state allows, and the part that takes them. */
  #dispatch(now: number, f: Frame): void {
    const c = this.#c;
    if (f.type !== FrameType.ABORT && 'userData' in f && f.userData.byteLength > c.limits.userDataBytesMax) {
      throw new ProtocolError(
        AbortCode.LIMIT_EXCEEDED,
        `user data of ${f.userData.byteLength} bytes exceeds the limit of ${c.limits.userDataBytesMax}`,
      );
    }
    const s = c.phase.state;
    if (f.type === FrameType.ABORT) return peerAborted(c, now, f);
    if (f.type === FrameType.RENEW_CREDENTIALS || f.type === FrameType.CREDENTIALS_RENEWED) {
      return receiveRenewal(c, f);
    }
    switch (s.name) {
      case 'connecting':
        return receiveConnectAnswer(c, now, s, f);
      case 'awaiting-response':
        throw unexpected(c, f);
      case 'open':
      case 'releasing':
        if (receiveData(c, now, f)) return;
        if (peerRelease(c, now, f)) return;
        throw unexpected(c, f);
      case 'release-requested':
      case 'disconnecting':
        if (f.type === FrameType.ACK) return receiveAck(c, now, f.received, f.windowLimit);
        throw unexpected(c, f);
      case 'closed':
        return; // late frames after an abort crossed on the wire; nothing to do
      default:
        return assertNever(s);
    }
  }

  // ---------------------------------------------------------------- recovery

  /**
   * The transport is gone: keep everything, move to `host` (a session table) and wait for a
   * resume. Emits `suspended` on the old host first, so its driver learns it.
   * @throws UsageError unless resumable.
   */
  suspend(now: number, host: SessionHost, why: string): void {
    suspend(this.#c, now, host, why);
  }

  /** Initiator: adopted by a new connection on `channel`; RESUME goes out when its challenge arrives. */
  attachForResume(now: number, host: SessionHost, channel: number): void {
    attachForResume(this.#c, host, channel);
    void now;
  }

  /** Initiator: the responder's challenge arrived; send RESUME, then replay what the peer may lack. */
  sendResume(now: number, challenge: Uint8Array, clientNonce: Uint8Array): void {
    sendResume(this.#c, now, challenge, clientNonce);
  }

  /**
   * Responder: a RESUME naming this session arrived on a new connection with `challenge`.
   * Returns false, changing nothing, unless the proof holds and the counts are possible; the
   * caller then refuses without saying why (an attacker learns nothing about the session).
   */
  resumeFrom(now: number, host: SessionHost, channel: number, f: ResumeFrame, challenge: Uint8Array): boolean {
    return resumeFrom(this.#c, now, host, channel, f, challenge);
  }

  /** The session table gave up on this suspended session (window or memory budget). */
  expire(now: number, code: AbortCode, message: string): void {
    expire(this.#c, now, code, message);
  }

  // ---------------------------------------------------------------- time

  /** Arms the delayed acknowledgement and enforces the handshake, release, resume and credentials deadlines. */
  handleTimeout(now: number): void {
    handleTimeout(this.#c, now);
  }

  /** The earliest time this session needs `handleTimeout`, or null. */
  nextDeadline(): number | null {
    return nextDeadline(this.#c);
  }

  // ---------------------------------------------------------------- output

  /**
   * Writes this session's next frame (plus an acknowledgement if one is due) into `w`.
   * Returns false when it has nothing it may send now. One frame per call lets the connection
   * interleave sessions fairly.
   */
  writeNext(w: FrameWriter): boolean {
    return writeNext(this.#c, w);
  }

  /** Whether `writeNext` would write something now. */
  hasWork(): boolean {
    return hasWork(this.#c);
  }
}
