/**
 * The X.225 state machine of one session, on one channel of a connection.
 *
 * Theory of operation
 * - States are a discriminated union (SessionState); every input from the peer is checked against
 *   the current state in `handleFrame`, all transitions in that one switch. A frame not allowed in
 *   a state is a protocol error: the session is provider-aborted with a reason, others go on.
 *   A command not allowed is a UsageError and leaves the state unchanged.
 * - Outgoing messages wait in a bounded send queue (sendQueueBytesMax) and leave as fragments
 *   when the peer's flow-control window allows; expedited data overtakes queued normal data.
 *   Release (FINISH, DISCONNECT) queues behind data, so everything sent first arrives first.
 * - Every sequenced frame (data, typed, expedited, finish, disconnect, not-finished) takes the
 *   next number in this direction's reliable stream; the receiver acknowledges the count it has
 *   received. The acknowledged count tells which messages were delivered (and, in recovery, what
 *   to send again).
 * - Role differences (initiator or responder) are parameters; the machine is the same.
 * The machine never does I/O and never reads a clock: `now` comes in with every call.
 */
import {
  AbortCode,
  type CloseReason,
  ErrorCode,
  InternalError,
  ProtocolError,
  type RefuseCode,
  UsageError,
} from '../errors.js';
import type { Limits } from '../limits.js';
import { constantTimeEqual, type KeyShare, resumeKeyFrom, resumeProof } from '../recovery/proof.js';
import type { SentFrame } from '../recovery/retransmit.js';
import { hasUnit, Unit } from '../units.js';
import {
  assertNever,
  encodeFrame,
  namedTokenPayload,
  writeDataFrame,
  writeEncodedFrame,
  writeFrame,
} from '../wire/codec.js';
import {
  type AbortFrame,
  type ConnectFrame,
  type CredentialsRenewedFrame,
  type DialogueFrame,
  EXPEDITED_BYTES_MAX,
  type Extension,
  ExtensionId,
  type FinalCount,
  FRAME_CHARGE_BYTES,
  type Frame,
  FrameType,
  frameTypeName,
  HEADER_BYTES,
  isDialogue,
  isDialogueFrame,
  isNamedTokenFrame,
  isSequenced,
  NAMED_TOKEN_NAME_BYTES_CEILING,
  type NamedTokenFrame,
  type NamedTokenRefuseFrame,
  type RenewCredentialsFrame,
  type ResumeFrame,
} from '../wire/frame.js';
import type { FrameWriter } from '../wire/writer.js';
import { checkCredentials, credentialsOf, extensionValue, type PskBinding } from './credentials.js';
import { Dialogue, type DialogueEvent } from './dialogue.js';
import { acceptedDialogue, dialogueAcceptExtensions } from './dialogue-setup.js';
import type {
  AgreedParameters,
  ConnectRequest,
  DeliveryStatus,
  MessageKind,
  ResumeStats,
  SessionEvent,
  UndeliveredMessage,
} from './events.js';
import { InboundStream } from './inbound-stream.js';
import { type NamedTokenOffer, NamedTokenRequests } from './named-token-requests.js';
import { checkTokenName, tokenNameBytes } from './named-tokens.js';
import { APPLICATION_EXTENSION_ID_MIN, agreedFromAccept, buildAccept, checkExtensions } from './negotiation.js';
import { OutboundStream } from './outbound-stream.js';
import { type Attempt, ResumeCredentials } from './resume-credentials.js';
import { type Outgoing, SendQueue } from './send-queue.js';

export type SessionState =
  /** Initiator: CONNECT sent, waiting for ACCEPT or REFUSE. */
  | { name: 'connecting'; since: number; connect: ConnectFrame }
  /** Responder: CONNECT received, waiting for the application to accept or refuse. */
  | { name: 'awaiting-response'; since: number; request: ConnectRequest }
  | { name: 'open' }
  /** FINISH queued or sent; data from the peer may still arrive until its DISCONNECT. */
  | { name: 'releasing'; since: number; answeredCollision: boolean }
  /** The peer sent FINISH; this side may still send, then answers DISCONNECT or NOT_FINISHED. */
  | { name: 'release-requested'; since: number }
  /** DISCONNECT queued or sent; waiting for the peer to acknowledge it. */
  | { name: 'disconnecting'; since: number }
  | { name: 'closed'; reason: CloseReason };
export type SessionStateName = SessionState['name'];

/** What a session needs from the connection that carries it. */
export interface SessionHost {
  emit(event: SessionEvent): void;
  /** The session has frames to transmit. */
  wake(session: Session): void;
  /** The session has (or may have) a deadline: include it in pollTimeout/handleTimeout. */
  timer(session: Session): void;
  /** A frame outside the session's reliable stream (establishment, abort) to send first. */
  sendControl(frame: Frame): void;
  /** The session reached `closed`; the connection forgets it. */
  released(session: Session): void;
  /** A round-trip sample (connect to accept). */
  rttSample(rttMs: number): void;
  /** The session was established with these values (the connection adopts its timers). */
  established(session: Session, agreed: AgreedParameters): void;
  /** The session moves to another host (a resume elsewhere): forget it without closing it. */
  detach(session: Session): void;
  /** The X25519 shared secret of `mine` and the peer's key (cached per connection). @throws on a bad key. */
  agree(mine: KeyShare, peerPublicKey: Uint8Array): Uint8Array;
  /**
   * Charged bytes a session holding `unackedBytes` may send now as far as the connection is
   * concerned: its window, and the in-flight cap while sessions contend.
   */
  sendRoom(session: Session, unackedBytes: number): number;
  /** The most `session` may have in flight now (the contention cap, or no limit when alone). */
  inflightCap(session: Session): number;
  /** A flow-controlled frame of `chargedBytes` was written (new or replayed). */
  sentData(session: Session, chargedBytes: number): void;
  /** The session's receive credit moved by `delta` charged bytes (consumed, reassembling, dropped). */
  credit(delta: number): void;
}

/** What a responder offers for recovery when the initiator sent a key share. */
export interface RecoveryOffer {
  keyShare: KeyShare;
  peerPublicKey: Uint8Array;
  sessionId: Uint8Array;
  resumeWindowMs: number;
}

/** Whether the session is on a transport, waiting for one, or resuming on one. */
type Link =
  | { name: 'attached' }
  | { name: 'suspended'; since: number }
  /** Initiator: on a new connection, waiting for the responder's challenge. */
  | { name: 'resuming'; since: number }
  /** Initiator: RESUME sent; replaying; waiting for RESUMED. */
  | {
      name: 'awaiting-resumed';
      since: number;
      challenge: Uint8Array;
      clientNonce: Uint8Array;
      resendFrom: number;
      replaying: number;
    };

export interface SessionStats {
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Times the session was resumed after a transport break. */
  resumes: number;
  /** Frames and payload bytes sent again after resumes. */
  framesRetransmitted: number;
  bytesRetransmitted: number;
  /** Frames the peer repeated after a resume that this side dropped (already received). */
  duplicatesSuppressed: number;
  /** Normal messages this side dropped unsent (resynchronize, activity interrupt or discard purge them). */
  messagesPurged: number;
  /** Normal messages (or parts) from the peer discarded on arrival: data in transit that X.225 purges. */
  messagesDiscarded: number;
}

export class Session {
  #channel: number;
  #host: SessionHost;
  readonly #limits: Limits;
  #state: SessionState;
  #agreed: AgreedParameters | null = null;

  // Sending
  readonly #queue = new SendQueue();
  #writerBlocked = false;
  /** Numbers sent, the peer's acknowledgements and window, the retransmit buffer, pacing. */
  readonly #tx = new OutboundStream();
  #undeliveredAtClose: UndeliveredMessage[] = [];
  /** The peer proved how much it received (a tombstone's answer): nothing sent is left unconfirmed. */
  #deliveryKnown = false;

  // Recovery
  #keyShare: KeyShare | null = null;
  #offer: RecoveryOffer | null = null;
  #recovery: ResumeCredentials | null = null;
  #link: Link = ATTACHED;
  #duplicatesToDrop = 0;
  /** When the current suspension must have ended (set by the table that parks the session). */
  #resumeDeadline = Number.POSITIVE_INFINITY;
  #credentialsExpireAt = Number.POSITIVE_INFINITY;
  /** Opened by this side (credentials are renewed by the initiator, answered by the responder). */
  #initiator = false;
  #disconnectSeq = -1;

  // Receiving: the stream's counts, its window and reassembly.
  readonly #rx: InboundStream;
  /** When the session closed (its tombstone's age runs from here). */
  #closedAt = 0;
  /** Responder: a frame of the initiator arrived after the ACCEPT (it knows the session exists). */
  #peerHeard = false;
  #ackDueAt: number | null = null;
  #ackNow = false;

  // Named tokens: the initiator's requests (when the responder offered them), or what the responder offered.
  #namedTokens: NamedTokenRequests | null = null;
  #namedTokenOffer: NamedTokenOffer | null = null;

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
  /** Tokens, sync points and activities; created at establishment. */
  #dialogue: Dialogue | null = null;

  private constructor(channel: number, host: SessionHost, limits: Limits, state: SessionState) {
    this.#channel = channel;
    this.#host = host;
    this.#limits = limits;
    this.#state = state;
    this.#rx = new InboundStream(limits.receiveWindowBytes);
  }

  /** Initiator side: sends the connect request. */
  static initiate(
    now: number,
    host: SessionHost,
    limits: Limits,
    connect: ConnectFrame,
    keyShare: KeyShare | null,
  ): Session {
    const s = new Session(connect.channel, host, limits, { name: 'connecting', since: now, connect });
    s.#keyShare = keyShare;
    s.#initiator = true;
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
    const s = new Session(channel, host, limits, { name: 'awaiting-response', since: now, request });
    s.#offer = offer;
    host.emit({ type: 'connect-request', channel, session: s, request });
    host.timer(s);
    return s;
  }

  /** Whether `host` carries this session now (a session that resumed elsewhere is not its old host's). */
  isHostedBy(host: SessionHost): boolean {
    return this.#host === host;
  }

  /** The channel on the current connection (a resumed session gets a new one). */
  get channel(): number {
    return this.#channel;
  }

  get state(): SessionStateName {
    return this.#state.name;
  }

  /** attached, suspended (transport lost, waiting to resume), resuming or awaiting-resumed. */
  get link(): Link['name'] {
    return this.#link.name;
  }

  /** The id a resume names; null until established, or when recovery was not agreed. */
  get sessionId(): Uint8Array | null {
    return this.#recovery?.sessionId ?? null;
  }

  /** Whether a transport break suspends this session (instead of aborting it). */
  get resumable(): boolean {
    return this.#recovery !== null && this.#isEstablished();
  }

  /**
   * When this session's credentials expire (same clock as `now`; Infinity: never). Past it an
   * established session is aborted with CREDENTIALS_EXPIRED and a resume is refused, so a resume
   * never outlives the credentials. The application moves it when the credentials are renewed.
   */
  get credentialsExpireAt(): number {
    return this.#credentialsExpireAt;
  }
  set credentialsExpireAt(at: number) {
    this.#credentialsExpireAt = at;
    this.#host.timer(this);
  }

  /** @internal The session table's deadline for this suspension, enforced during resume attempts too. */
  set resumeDeadline(at: number) {
    this.#resumeDeadline = at;
  }

  /** When the current suspension began (across failed resume attempts), or null when attached. */
  get suspendedSince(): number | null {
    return this.#link.name === 'attached' ? null : this.#link.since;
  }

  /** The responder's resume window, as it announced it (initiator side), or null. */
  get resumeWindowMs(): number | null {
    return this.#recovery?.resumeWindowMs ?? null;
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
    if (this.#initiator || this.#peerHeard) return this.resumeWindowMs;
    return Math.min(this.resumeWindowMs ?? Number.POSITIVE_INFINITY, this.#limits.handshakeTimeoutMs);
  }

  /**
   * Initiator: how long it goes on trying past its window, one handshake timeout. The
   * responder's window runs from its own suspension, which may begin later than ours (the
   * session is then still there); if it has ended, the responder's tombstone says exactly what
   * arrived. Either way one more attempt turns "not known to be delivered" into an answer.
   */
  get resumeGraceMs(): number {
    return this.#initiator ? this.#limits.handshakeTimeoutMs : 0;
  }

  /**
   * Responder, once a resumable session has closed: what its tombstone keeps (the frames it had
   * received, and the key a late resume must prove). Null otherwise.
   */
  get finalCount(): { key: Uint8Array; received: number; closedAt: number } | null {
    const recovery = this.#recovery;
    if (this.#initiator || recovery === null || this.#state.name !== 'closed') return null;
    return { key: recovery.key, received: this.#rx.receivedSeq, closedAt: this.#closedAt };
  }

  /** Bytes this session holds for retransmission or waiting to be sent (its cost while suspended). */
  get retainedBytes(): number {
    return this.#tx.sent.unackedBytes + this.#queue.bytes;
  }

  /**
   * The messages accepted by send() that the peer is not known to have received: after a lost
   * session, the ones the application may want to send elsewhere. Oldest first. Each says whether
   * it is known not to have arrived (`undelivered`) or was sent and never confirmed (`unconfirmed`).
   */
  undeliveredMessages(): UndeliveredMessage[] {
    if (this.#state.name === 'closed') return this.#undeliveredAtClose;
    return this.#collectUndelivered();
  }

  get closeReason(): CloseReason | null {
    return this.#state.name === 'closed' ? this.#state.reason : null;
  }

  get agreed(): AgreedParameters | null {
    return this.#agreed;
  }

  /** Whether send() accepts a message now (the send queue is under its limit). */
  get writable(): boolean {
    return (
      this.#canSendData() &&
      this.#queue.bytes < this.#limits.sendQueueBytesMax &&
      this.#dialogue?.normalDataBlock()?.code !== 'wait'
    );
  }

  /** Messages accepted by send() that the peer is not known to have received. */
  get undelivered(): number {
    return this.#queue.messageCount + this.#tx.sent.undeliveredMessages().length;
  }

  get queuedBytes(): number {
    return this.#queue.bytes;
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
    const s = this.#state;
    if (s.name !== 'awaiting-response') throw this.#invalid('accept');
    this.#checkUserData(userData);
    checkExtensions(extensions);
    const credentials = options.credentials ?? [];
    if (Array.isArray(credentials)) checkCredentials(credentials);
    const all = [...extensions];
    const proposal = s.request.dialogue;
    const responderTokens = proposal.assign | (proposal.choose & wantedTokens);
    if (proposal.present) all.push(...dialogueAcceptExtensions(responderTokens, proposal.serial));
    if (options.namedTokens) {
      // This side answers the initiator's named-token requests (a registry stands behind it).
      this.#namedTokenOffer = { ...options.namedTokens };
      all.push({ id: ExtensionId.NAMED_TOKENS, value: namedTokensExtension(options.namedTokens) });
    }
    const offer = this.#offer;
    if (offer) {
      try {
        const key = resumeKeyFrom(this.#host.agree(offer.keyShare, offer.peerPublicKey), offer.sessionId);
        this.#recovery = new ResumeCredentials(offer.sessionId, key, offer.resumeWindowMs);
        const resumeWindow = new Uint8Array(4);
        new DataView(resumeWindow.buffer).setUint32(0, offer.resumeWindowMs);
        all.push(
          { id: ExtensionId.KEY_SHARE, value: offer.keyShare.publicKey },
          { id: ExtensionId.SESSION_ID, value: offer.sessionId },
          { id: ExtensionId.RESUME_WINDOW, value: resumeWindow },
        );
      } catch {
        // A peer key that fails the agreement: the session goes on without recovery.
      }
      this.#offer = null;
    }
    if (typeof credentials === 'function') {
      const made = credentials({
        keyShare: extensionValue(all, ExtensionId.KEY_SHARE),
        sessionId: extensionValue(all, ExtensionId.SESSION_ID),
      });
      checkCredentials(made);
      all.push(...made);
    } else {
      all.push(...credentials);
    }
    this.#establish(s.request.agreed);
    this.#startDialogue(false, responderTokens, proposal.serial);
    this.#host.sendControl(buildAccept(this.channel, s.request.agreed, this.#limits, userData, all));
    this.#state = OPEN;
    void now;
  }

  /**
   * Initiator: sends new credentials (RENEW_CREDENTIALS); the answer is a `renewal-answered` event.
   * @throws UsageError unless this side opened the session and it is established, or for
   * credentials outside the auth range.
   */
  renewCredentials(now: number, requestId: number, credentials: Extension[]): void {
    if (!this.#initiator || !this.#isEstablished()) throw this.#invalid('renew credentials');
    checkCredentials(credentials);
    this.#host.sendControl({ type: FrameType.RENEW_CREDENTIALS, channel: this.channel, requestId, credentials });
    this.#host.wake(this);
    void now;
  }

  /**
   * Responder: answers a `renewal-requested` event (code 0 accepts; set `credentialsExpireAt` first).
   * @throws UsageError unless this side accepted the session and it is established.
   */
  answerRenewal(now: number, requestId: number, code: number, message: string): void {
    if (this.#initiator || !this.#isEstablished()) throw this.#invalid('answer a renewal');
    this.#host.sendControl({ type: FrameType.CREDENTIALS_RENEWED, channel: this.channel, requestId, code, message });
    this.#host.wake(this);
    void now;
  }

  /** @throws UsageError unless awaiting a response. */
  refuse(now: number, code: RefuseCode, userData: Uint8Array): void {
    if (this.#state.name !== 'awaiting-response') throw this.#invalid('refuse');
    this.#checkUserData(userData);
    this.#host.sendControl({ type: FrameType.REFUSE, channel: this.channel, code, userData });
    this.#close(now, { kind: 'refused', code, userData, undelivered: 0 });
  }

  /**
   * Queues one message. Normal and typed messages may be as large as the peer's message limit
   * and are fragmented; expedited ones are at most 14 bytes and overtake queued normal data.
   * @throws UsageError: INVALID_STATE when not open for sending, WOULD_BLOCK when the send queue is
   * full (wait for the `writable` event), MESSAGE_TOO_LARGE, UNIT_NOT_SELECTED.
   */
  send(now: number, kind: MessageKind, data: Uint8Array, force = false): void {
    if (!this.#canSendData()) throw this.#invalid(`send ${kind} data`);
    const agreed = this.#agreed as AgreedParameters;
    if (kind === 'expedited') {
      if (!hasUnit(agreed.units, Unit.EXPEDITED)) throw this.#unitMissing('expedited data', 'EXPEDITED');
      if (data.byteLength > EXPEDITED_BYTES_MAX) {
        throw new UsageError(ErrorCode.MESSAGE_TOO_LARGE, `expedited data is at most ${EXPEDITED_BYTES_MAX} bytes`);
      }
    } else {
      if (kind === 'normal') this.#checkNormalData();
      if (kind === 'typed' && !hasUnit(agreed.units, Unit.TYPED_DATA))
        throw this.#unitMissing('typed data', 'TYPED_DATA');
      if (data.byteLength > agreed.peerMessageBytesMax) {
        throw new UsageError(
          ErrorCode.MESSAGE_TOO_LARGE,
          `message of ${data.byteLength} bytes exceeds the peer's limit of ${agreed.peerMessageBytesMax}`,
        );
      }
    }
    // `force`: a driver moving sends it already holds ahead of a dialogue command (same memory).
    if (this.#queue.bytes >= this.#limits.sendQueueBytesMax && !force) {
      this.#writerBlocked = true;
      throw new UsageError(ErrorCode.WOULD_BLOCK, 'send queue full: wait for the writable event');
    }
    this.#queue.pushMessage(kind, data);
    if (this.#queue.bytes >= this.#limits.sendQueueBytesMax) this.#writerBlocked = true;
    this.#host.wake(this);
    void now;
  }

  /** S-RELEASE request: queue FINISH behind everything sent so far. @throws UsageError unless open. */
  release(now: number, userData: Uint8Array): void {
    if (this.#state.name !== 'open') throw this.#invalid('release');
    this.#checkUserData(userData);
    this.#dialogue?.checkRelease();
    this.#enqueue({ kind: 'finish', userData });
    this.#state = { name: 'releasing', since: now, answeredCollision: false };
    this.#host.timer(this);
  }

  /**
   * S-RELEASE response. Accepting queues DISCONNECT behind everything sent so far; refusing
   * (NOT_FINISHED) needs the negotiated-release unit and returns the session to open.
   * @throws UsageError unless a release was requested, or refusing without negotiated release.
   */
  respondRelease(now: number, accept: boolean, userData: Uint8Array): void {
    if (this.#state.name !== 'release-requested') throw this.#invalid('respond to a release');
    this.#checkUserData(userData);
    if (accept) {
      this.#enqueue({ kind: 'disconnect', userData });
      this.#state = { name: 'disconnecting', since: now };
      this.#host.timer(this);
    } else {
      if (!hasUnit((this.#agreed as AgreedParameters).units, Unit.NEGOTIATED_RELEASE)) {
        throw this.#unitMissing('refusing a release', 'NEGOTIATED_RELEASE');
      }
      this.#enqueue({ kind: 'not-finished', userData });
      this.#state = OPEN;
    }
  }

  // ---------------------------------------------------------------- named tokens

  /** Initiator: names held now (granted by the responder's registry and not released). */
  get heldNamedTokens(): string[] {
    if (this.#state.name === 'closed') return []; // a closed session holds nothing
    return this.#namedTokens?.held ?? [];
  }

  /** Initiator: names asked for whose answer has not come (a session that ends rejects them). */
  get pendingNamedTokens(): string[] {
    return this.#namedTokens?.pending() ?? [];
  }

  /** What the responder offered (initiator) or this side offered (responder); null when none. */
  get namedTokenOffer(): Readonly<NamedTokenOffer> | null {
    return this.#namedTokens?.offer ?? this.#namedTokenOffer;
  }

  /**
   * Initiator: asks the responder's registry for `name` (NAMED_TOKEN_ACQUIRE, in order with data).
   * A `named-token-granted` or `named-token-refused` event answers it.
   * @throws UsageError NAMED_TOKENS_UNAVAILABLE (not offered), INVALID_STATE, INVALID_ARGUMENT (bad
   * name); NamedTokenRefusedError ALREADY_REQUESTED or TOO_MANY_TOKENS. Nothing is sent then.
   */
  acquireNamedToken(now: number, name: string): void {
    const requests = this.#tokenRequests('acquire a named token');
    checkTokenName(name, requests.offer.nameBytesMax);
    requests.request(name);
    this.#sendNamedToken({ type: FrameType.NAMED_TOKEN_ACQUIRE, channel: this.channel, name });
    void now;
  }

  /**
   * Initiator: gives `name` back, or withdraws the request for it still unanswered (no event will
   * answer it then). @throws UsageError NAMED_TOKEN_NOT_HELD, NAMED_TOKENS_UNAVAILABLE, INVALID_STATE.
   */
  releaseNamedToken(now: number, name: string): 'released' | 'withdrawn' {
    const outcome = this.#tokenRequests('release a named token').release(name);
    this.#sendNamedToken({ type: FrameType.NAMED_TOKEN_RELEASE, channel: this.channel, name });
    void now;
    return outcome;
  }

  /**
   * Responder: the registry granted `name` to this session. Returns false, sending nothing, when
   * the session can no longer send (releasing or closed): the caller passes the name on.
   */
  grantNamedToken(now: number, name: string): boolean {
    if (this.#namedTokenOffer === null)
      throw new UsageError(ErrorCode.NAMED_TOKENS_UNAVAILABLE, 'no named tokens offered');
    if (!this.#canSendData()) return false;
    this.#sendNamedToken({ type: FrameType.NAMED_TOKEN_GRANT, channel: this.channel, name });
    void now;
    return true;
  }

  /** Responder: the registry refused (or the requester withdrew) the request for `name`. False when it cannot be sent. */
  refuseNamedToken(now: number, name: string, code: number): boolean {
    if (this.#namedTokenOffer === null)
      throw new UsageError(ErrorCode.NAMED_TOKENS_UNAVAILABLE, 'no named tokens offered');
    if (!this.#canSendData()) return false;
    this.#sendNamedToken({ type: FrameType.NAMED_TOKEN_REFUSE, channel: this.channel, name, code });
    void now;
    return true;
  }

  #tokenRequests(what: string): NamedTokenRequests {
    const requests = this.#namedTokens;
    if (requests === null) {
      throw new UsageError(
        ErrorCode.NAMED_TOKENS_UNAVAILABLE,
        `cannot ${what}: the peer offers no named tokens (only an initiator asks, and only a server with a registry offers them)`,
      );
    }
    if (!this.#canSendData()) throw this.#invalid(what);
    return requests;
  }

  #sendNamedToken(f: NamedTokenFrame | NamedTokenRefuseFrame): void {
    this.#enqueue({ kind: 'named-token', type: f.type, body: namedTokenPayload(f) });
  }

  /** S-U-ABORT: ends the session at once; data not yet delivered is lost and counted. */
  abort(now: number, userData: Uint8Array): void {
    if (this.#state.name === 'closed') throw this.#invalid('abort');
    this.#checkUserData(userData);
    this.#abortWith(now, { byProvider: false, code: AbortCode.USER, message: '', userData }, 'local');
  }

  /** The application consumed `bytes` of received data: the peer may send that much more. */
  consume(now: number, bytes: number): void {
    this.#rx.consume(bytes);
    this.#creditChanged();
    void now;
  }

  /**
   * Bytes the peer may have beyond what was advertised: consumed data, plus fragments held for
   * reassembly (the application cannot consume a message before it is whole, so counting them as
   * outstanding would stall any message larger than the window). Acknowledges once half a window
   * has opened.
   */
  #creditChanged(): void {
    const delta = this.#rx.takeCreditDelta();
    if (delta !== 0) this.#host.credit(delta);
    if (this.#rx.halfWindowOpen && this.#isEstablished()) {
      this.#ackNow = true;
      this.#host.wake(this);
    }
  }

  // ---------------------------------------------------------------- input from the peer

  /**
   * One frame for this session. Protocol violations abort this session (provider abort) and are
   * reported through events, never thrown.
   */
  handleFrame(now: number, f: Frame): void {
    this.#peerHeard = true;
    if (this.#duplicatesToDrop > 0 && isSequenced(f.type)) {
      // The peer resent frames this side already had (it could not know how far we got).
      this.#duplicatesToDrop--;
      this.stats.duplicatesSuppressed++;
      if (isFlowControlled(f.type) && 'payload' in f) this.#host.credit(f.payload.byteLength + FRAME_CHARGE_BYTES);
      return;
    }
    try {
      if (f.type === FrameType.RESUMED || f.type === FrameType.RESUME_REFUSE) return this.#resumeAnswer(now, f);
      if (this.#link.name === 'awaiting-resumed') throw this.#unexpected(f);
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
    if (this.#state.name === 'closed') return;
    const origin = options.fromPeer ? 'peer' : 'local';
    this.#abortWith(now, { byProvider: true, code, message, userData: EMPTY }, origin, options.notifyPeer ?? true);
  }

  #dispatch(now: number, f: Frame): void {
    if (f.type !== FrameType.ABORT && 'userData' in f && f.userData.byteLength > this.#limits.userDataBytesMax) {
      throw new ProtocolError(
        AbortCode.LIMIT_EXCEEDED,
        `user data of ${f.userData.byteLength} bytes exceeds the limit of ${this.#limits.userDataBytesMax}`,
      );
    }
    const s = this.#state;
    if (f.type === FrameType.ABORT) return this.#peerAborted(now, f);
    if (f.type === FrameType.RENEW_CREDENTIALS || f.type === FrameType.CREDENTIALS_RENEWED) return this.#renewal(f);
    switch (s.name) {
      case 'connecting':
        if (f.type === FrameType.ACCEPT) {
          const agreed = agreedFromAccept(s.connect, f);
          this.#recovery = this.#recoveryFromAccept(f.extensions);
          const offer = namedTokenOfferFrom(f.extensions);
          if (offer) this.#namedTokens = new NamedTokenRequests(offer);
          const dialogue = acceptedDialogue(s.connect.extensions, f.extensions);
          this.#establish(agreed);
          this.#startDialogue(true, dialogue.responderTokens, dialogue.serial);
          this.#host.rttSample(now - s.since);
          this.#state = OPEN;
          // Confirm the ACCEPT at once when the session can be resumed: until the responder hears
          // from this side it cannot tell a session this side has from a half-open one, and keeps
          // it parked only the handshake timeout after a break (issue 10.4).
          if (this.#recovery) {
            this.#ackNow = true;
            this.#host.wake(this);
          }
          this.#host.emit({
            type: 'accepted',
            channel: this.channel,
            session: this,
            agreed: this.#agreed as AgreedParameters,
            extensions: f.extensions.filter((e) => e.id >= APPLICATION_EXTENSION_ID_MIN),
            userData: f.userData,
            credentials: credentialsOf(f.extensions),
            binding: {
              keyShare: extensionValue(f.extensions, ExtensionId.KEY_SHARE),
              sessionId: extensionValue(f.extensions, ExtensionId.SESSION_ID),
            },
          });
          return;
        }
        if (f.type === FrameType.REFUSE) {
          return this.#close(now, {
            kind: 'refused',
            code: f.code as RefuseCode,
            userData: f.userData,
            undelivered: 0,
          });
        }
        throw this.#unexpected(f);
      case 'awaiting-response':
        throw this.#unexpected(f);
      case 'open':
        if (this.#receiveData(now, f)) return;
        if (f.type === FrameType.FINISH) {
          this.#dialogue?.checkPeerRelease();
          this.#dialogue?.peerFinished();
          this.#countReceived(now);
          this.#state = { name: 'release-requested', since: now };
          this.#host.timer(this);
          this.#host.emit({ type: 'release-requested', channel: this.channel, session: this, userData: f.userData });
          return;
        }
        throw this.#unexpected(f);
      case 'releasing':
        if (this.#receiveData(now, f)) return;
        if (f.type === FrameType.DISCONNECT) {
          this.#countReceived(now);
          this.#ackNow = true; // the peer waits for this acknowledgement to close
          this.#host.wake(this);
          if (s.answeredCollision) {
            this.#state = { name: 'disconnecting', since: s.since };
            this.#host.timer(this);
            this.#checkDisconnectAcked(now);
          } else {
            this.#close(now, { kind: 'released', userData: f.userData, undelivered: 0 });
          }
          return;
        }
        if (
          f.type === FrameType.NOT_FINISHED &&
          hasUnit((this.#agreed as AgreedParameters).units, Unit.NEGOTIATED_RELEASE)
        ) {
          this.#countReceived(now);
          this.#state = OPEN;
          this.#host.emit({ type: 'release-refused', channel: this.channel, session: this, userData: f.userData });
          return;
        }
        if (f.type === FrameType.FINISH && !s.answeredCollision) {
          // Release collision: both sides asked to finish; each accepts the other's request.
          this.#dialogue?.checkPeerRelease();
          this.#countReceived(now);
          this.#enqueue({ kind: 'disconnect', userData: EMPTY });
          this.#state = { name: 'releasing', since: s.since, answeredCollision: true };
          this.#host.timer(this);
          return;
        }
        throw this.#unexpected(f);
      case 'release-requested':
      case 'disconnecting':
        if (f.type === FrameType.ACK) return this.#receiveAck(now, f.received, f.windowLimit);
        throw this.#unexpected(f);
      case 'closed':
        return; // late frames after an abort crossed on the wire; nothing to do
      default:
        return assertNever(s);
    }
  }

  /** Data, typed data, expedited data and acknowledgements; true when `f` was one of them. */
  #receiveData(now: number, f: Frame): boolean {
    if (isDialogue(f)) {
      this.#countReceived(now);
      (this.#dialogue as Dialogue).receive(f);
      this.#host.wake(this);
      return true;
    }
    switch (f.type) {
      case FrameType.ACK:
        this.#receiveAck(now, f.received, f.windowLimit);
        return true;
      case FrameType.DATA:
      case FrameType.TYPED_DATA: {
        const kind = f.type === FrameType.DATA ? 'normal' : 'typed';
        if (kind === 'normal' && this.#dialogue !== null) {
          if (this.#dialogue.discardsNormalData()) {
            this.#discardNormal(now, f.payload, f.end);
            return true;
          }
          try {
            this.#dialogue.checkPeerNormalData();
          } catch (e) {
            if (!(e instanceof ProtocolError) || !this.#dialogue.providerException(e)) throw e;
            this.#discardNormal(now, f.payload, f.end);
            return true;
          }
          this.#rx.discardRest = false;
        }
        if (kind === 'typed' && !hasUnit((this.#agreed as AgreedParameters).units, Unit.TYPED_DATA)) {
          throw new ProtocolError(AbortCode.UNEXPECTED_FRAME, 'typed data without the typed-data unit');
        }
        const charge = this.#countFlow(now, f.payload.byteLength);
        if (this.#rx.assembledBytes(kind) + f.payload.byteLength > this.#limits.messageBytesMax) {
          throw new ProtocolError(
            AbortCode.MESSAGE_TOO_LARGE,
            `message exceeds the limit of ${this.#limits.messageBytesMax} bytes`,
          );
        }
        if (f.ackSoon && !this.#ackNow) {
          this.#ackNow = true;
          this.#host.wake(this);
        }
        if (!f.end) {
          if (f.payload.byteLength < FRAGMENT_BYTES_MIN) {
            // Every fragment but the last carries at least this much (senders never split finer):
            // otherwise a peer could hold unbounded memory in empty fragments of one message.
            throw new ProtocolError(
              AbortCode.MALFORMED_FRAME,
              `fragment of ${f.payload.byteLength} bytes (fragments before the last carry at least ${FRAGMENT_BYTES_MIN})`,
            );
          }
          this.#rx.addFragment(kind, f.payload, charge);
          this.#creditChanged();
          return true;
        }
        const { data, credit } = this.#rx.complete(kind, f.payload, charge);
        this.#creditChanged();
        this.#deliver(kind, data, credit);
        return true;
      }
      case FrameType.NAMED_TOKEN_ACQUIRE:
      case FrameType.NAMED_TOKEN_RELEASE:
      case FrameType.NAMED_TOKEN_GRANT:
      case FrameType.NAMED_TOKEN_REFUSE:
        this.#receiveNamedToken(now, f);
        return true;
      case FrameType.EXPEDITED:
        if (!hasUnit((this.#agreed as AgreedParameters).units, Unit.EXPEDITED)) {
          throw new ProtocolError(AbortCode.UNEXPECTED_FRAME, 'expedited data without the expedited unit');
        }
        this.#deliver('expedited', f.payload, this.#countFlow(now, f.payload.byteLength));
        return true;
      default:
        return false;
    }
  }

  /** Responder: a request for its registry. Initiator: the registry's answer. */
  #receiveNamedToken(now: number, f: NamedTokenFrame | NamedTokenRefuseFrame): void {
    const channel = this.channel;
    if (f.type === FrameType.NAMED_TOKEN_ACQUIRE || f.type === FrameType.NAMED_TOKEN_RELEASE) {
      const offer = this.#namedTokenOffer;
      if (offer === null) {
        throw new ProtocolError(AbortCode.UNEXPECTED_FRAME, `${frameTypeName(f.type)} but no named tokens offered`);
      }
      if (tokenNameBytes(f.name) > offer.nameBytesMax) {
        throw new ProtocolError(AbortCode.LIMIT_EXCEEDED, `token name over the offered ${offer.nameBytesMax} bytes`);
      }
      this.#countReceived(now);
      const type = f.type === FrameType.NAMED_TOKEN_ACQUIRE ? 'named-token-acquire' : 'named-token-release';
      this.#host.emit({ type, channel, session: this, name: f.name });
      return;
    }
    const requests = this.#namedTokens;
    if (requests === null) {
      throw new ProtocolError(AbortCode.UNEXPECTED_FRAME, `${frameTypeName(f.type)} but no named tokens offered`);
    }
    const outcome = f.type === FrameType.NAMED_TOKEN_GRANT ? requests.granted(f.name) : requests.refused(f.name);
    this.#countReceived(now);
    if (outcome === 'granted') this.#host.emit({ type: 'named-token-granted', channel, session: this, name: f.name });
    else if (outcome === 'refused' && f.type === FrameType.NAMED_TOKEN_REFUSE) {
      this.#host.emit({ type: 'named-token-refused', channel, session: this, name: f.name, code: f.code });
    }
  }

  #deliver(kind: MessageKind, data: Uint8Array, credit: number): void {
    this.stats.messagesReceived++;
    this.stats.bytesReceived += data.byteLength;
    this.#host.emit({ type: 'message', channel: this.channel, session: this, kind, data, credit });
  }

  /** Counts a flow-controlled frame against the window; returns what it cost (payload + charge). */
  #countFlow(now: number, payloadBytes: number): number {
    this.#countReceived(now);
    const bytes = this.#rx.countFlow(payloadBytes);
    if (this.#rx.ackEveryReached && !this.#ackNow) {
      this.#ackNow = true;
      this.#host.wake(this);
    }
    return bytes;
  }

  #countReceived(now: number): void {
    this.#rx.receivedSeq++;
    if (this.#ackDueAt === null) {
      this.#ackDueAt = now + this.#limits.ackDelayMs;
      this.#host.timer(this);
    }
  }

  #receiveAck(now: number, received: number, windowLimit: number): void {
    if (received > this.#tx.sentSeq) {
      throw new ProtocolError(
        AbortCode.PROTOCOL_ERROR,
        `peer acknowledged ${received} frames of ${this.#tx.sentSeq} sent`,
      );
    }
    if (received > this.#tx.peerReceived) {
      this.#tx.peerReceived = received;
      this.#acknowledge(received);
      this.#host.wake(this); // the retransmit budget may have room again
    }
    if (windowLimit > this.#tx.peerWindowLimit) {
      this.#tx.peerWindowLimit = windowLimit;
      this.#host.wake(this);
    }
    this.#checkDisconnectAcked(now);
  }

  #checkDisconnectAcked(now: number): void {
    if (
      this.#state.name === 'disconnecting' &&
      this.#disconnectSeq >= 0 &&
      this.#tx.peerReceived >= this.#disconnectSeq
    ) {
      this.#close(now, { kind: 'released', userData: EMPTY, undelivered: 0 });
    }
  }

  #peerAborted(now: number, f: AbortFrame): void {
    if (this.#state.name === 'closed') return;
    this.#close(now, {
      kind: 'aborted',
      origin: 'peer',
      by: f.byProvider ? 'provider' : 'user',
      code: f.code as AbortCode,
      message: f.message,
      userData: f.userData,
      undelivered: this.undelivered,
    });
  }

  // ---------------------------------------------------------------- recovery

  /**
   * The transport is gone: keep everything, move to `host` (a session table) and wait for a
   * resume. Emits `suspended` on the old host first, so its driver learns it.
   * @throws UsageError unless resumable.
   */
  suspend(now: number, host: SessionHost, why: string): void {
    if (!this.resumable) throw this.#invalid('suspend');
    const link = this.#link;
    // A resume attempt that failed with its connection: still the same suspension.
    if (link.name === 'attached')
      this.#host.emit({ type: 'suspended', channel: this.channel, session: this, reason: why });
    this.#host = host;
    this.#link = { name: 'suspended', since: link.name === 'attached' ? now : link.since };
    this.#ackNow = false;
    this.#ackDueAt = null;
  }

  /** Initiator: adopted by a new connection on `channel`; RESUME goes out when its challenge arrives. */
  attachForResume(now: number, host: SessionHost, channel: number): void {
    if (this.#link.name !== 'suspended' || this.#recovery === null) throw this.#invalid('resume');
    this.#host.detach(this);
    this.#host = host;
    this.#channel = channel;
    this.#link = { name: 'resuming', since: this.#link.since };
    this.#host.timer(this);
    void now;
  }

  /** Initiator: the responder's challenge arrived; send RESUME, then replay what the peer may lack. */
  sendResume(now: number, challenge: Uint8Array, clientNonce: Uint8Array): void {
    const link = this.#link;
    const recovery = this.#recovery;
    if (link.name !== 'resuming' || recovery === null) return;
    const resendFrom = this.#tx.sent.firstUnacked(this.#tx.sentSeq + 1);
    const replaying = this.#tx.sent.pendingMessages();
    const received = this.#rx.receivedSeq;
    const proof = recovery.proof('initiator', { challenge, clientNonce, resendFrom }, received);
    this.#host.sendControl({
      type: FrameType.RESUME,
      channel: this.channel,
      sessionId: recovery.sessionId,
      clientNonce,
      received,
      resendFrom,
      replaying,
      proof,
    });
    this.#link = { name: 'awaiting-resumed', since: link.since, challenge, clientNonce, resendFrom, replaying };
    this.#tx.sent.rewind();
    this.#tx.startPacing();
    this.#ackDueAt = now + this.#limits.ackDelayMs;
    this.#host.timer(this);
    this.#host.wake(this);
  }

  /**
   * Responder: a RESUME naming this session arrived on a new connection with `challenge`.
   * Returns false, changing nothing, unless the proof holds and the counts are possible; the
   * caller then refuses without saying why (an attacker learns nothing about the session).
   */
  resumeFrom(now: number, host: SessionHost, channel: number, f: ResumeFrame, challenge: Uint8Array): boolean {
    const recovery = this.#recovery;
    // The proof is computed and compared on every path (a decoy key when there is nothing to
    // resume), so no refusal is cheaper than a wrong proof: the time tells a prober nothing.
    const expected = resumeProof(recovery?.key ?? NO_RESUME_KEY, 'initiator', {
      sessionId: recovery?.sessionId ?? f.sessionId,
      challenge,
      clientNonce: f.clientNonce,
      received: f.received,
      resendFrom: f.resendFrom,
    });
    const proven = constantTimeEqual(expected, f.proof);
    if (recovery === null || this.#state.name === 'closed' || !this.#isEstablished() || !proven) return false;
    if (now >= this.#credentialsExpireAt) return false; // a resume does not outlive the credentials
    // The initiator cannot have received more than was sent, nor less than it acknowledged;
    // and it must resend from no later than the first frame this side lacks.
    if (f.received > this.#tx.sentSeq || f.received < this.#tx.peerReceived) return false;
    if (f.resendFrom < 1 || f.resendFrom > this.#rx.receivedSeq + 1) return false;
    const since = this.#link.name === 'suspended' ? this.#link.since : now;
    this.#host.detach(this);
    this.#host = host;
    this.#channel = channel;
    this.#link = ATTACHED;
    this.#duplicatesToDrop = this.#rx.receivedSeq + 1 - f.resendFrom;
    host.timer(this);
    this.#tx.peerReceived = f.received;
    this.#tx.sent.acknowledge(f.received);
    this.#tx.sent.rewind();
    this.#tx.startPacing();
    const replaying = this.#tx.sent.pendingMessages();
    host.sendControl({
      type: FrameType.RESUMED,
      channel,
      received: this.#rx.receivedSeq,
      replaying,
      proof: recovery.proof(
        'responder',
        { challenge, clientNonce: f.clientNonce, resendFrom: f.resendFrom },
        this.#rx.receivedSeq,
      ),
    });
    this.#resumed(now, since, {
      replayedMessages: replaying,
      peerReplayedMessages: f.replaying,
      duplicatesSuppressed: this.#duplicatesToDrop,
    });
    return true;
  }

  /** Initiator: RESUMED or RESUME_REFUSE answered our RESUME. */
  #resumeAnswer(now: number, f: Frame): void {
    const link = this.#link;
    const recovery = this.#recovery;
    if (link.name !== 'awaiting-resumed' || recovery === null) throw this.#unexpected(f);
    if (f.type === FrameType.RESUME_REFUSE) {
      if (f.final && this.#finalCountProven(f.final, recovery, link)) {
        // The peer's tombstone: the session ended there having received `received` frames.
        this.#tx.peerReceived = f.final.received;
        this.#acknowledge(f.final.received);
        this.#deliveryKnown = true;
      }
      return this.#close(now, {
        kind: 'aborted',
        origin: 'peer',
        by: 'provider',
        code: AbortCode.RESUME_REFUSED,
        message: f.message || 'the peer could not resume the session',
        userData: EMPTY,
        undelivered: this.undelivered,
      });
    }
    if (f.type !== FrameType.RESUMED) throw this.#unexpected(f);
    if (!recovery.proves('responder', link, f.received, f.proof)) {
      throw new ProtocolError(AbortCode.RESUME_FAILED, 'the peer could not prove the session key');
    }
    if (f.received > this.#tx.sentSeq || f.received < this.#tx.peerReceived) {
      throw new ProtocolError(
        AbortCode.RESUME_FAILED,
        `peer claims ${f.received} frames received of ${this.#tx.sentSeq} sent`,
      );
    }
    this.#tx.peerReceived = f.received;
    this.#acknowledge(f.received);
    this.#link = ATTACHED;
    this.#resumed(now, link.since, {
      replayedMessages: link.replaying,
      peerReplayedMessages: f.replaying,
      duplicatesSuppressed: 0,
    });
  }

  /**
   * Whether a refusal's final count is the peer's (proven with the session key over this
   * attempt) and possible. An unproven or impossible one is ignored: the refusal stands, and what
   * was sent stays unconfirmed.
   */
  #finalCountProven(final: FinalCount, recovery: ResumeCredentials, attempt: Attempt): boolean {
    return (
      recovery.proves('final', attempt, final.received, final.proof) &&
      final.received >= this.#tx.peerReceived &&
      final.received <= this.#tx.sentSeq
    );
  }

  #resumed(now: number, since: number, counts: Omit<ResumeStats, 'downtimeMs' | 'lost'>): void {
    this.#peerHeard = true; // a proven RESUME: the initiator has the session
    this.stats.resumes++;
    // The release deadline bounds a release on a working connection, not the outages it lives
    // through (those are bounded by the resume window): each resume gives it its full time again.
    const s = this.#state;
    if (s.name === 'releasing' || s.name === 'release-requested' || s.name === 'disconnecting') {
      this.#state = { ...s, since: now };
    }
    this.#ackNow = true;
    this.#host.wake(this);
    this.#host.emit({
      type: 'resumed',
      channel: this.channel,
      session: this,
      stats: { downtimeMs: now - since, lost: 0, ...counts },
    });
  }

  #recoveryFromAccept(extensions: Extension[]): ResumeCredentials | null {
    const share = this.#keyShare;
    this.#keyShare = null;
    if (share === null) return null;
    return ResumeCredentials.fromAccept(extensions, (peerKey) => this.#host.agree(share, peerKey));
  }

  /** The session table gave up on this suspended session (window or memory budget). */
  expire(now: number, code: AbortCode, message: string): void {
    if (this.#state.name === 'closed') return;
    this.#abortWith(now, { byProvider: true, code, message, userData: EMPTY }, 'local', false);
  }

  #collectUndelivered(): UndeliveredMessage[] {
    // Sent and not acknowledged: unconfirmed, unless the peer proved its final count (then
    // everything past it is known lost). Still queued (or its last fragment is): never arrived.
    const sentStatus: DeliveryStatus = this.#deliveryKnown ? 'undelivered' : 'unconfirmed';
    const out: UndeliveredMessage[] = [];
    for (const m of this.#tx.sent.undeliveredMessages()) out.push({ kind: m.kind, data: m.data, status: sentStatus });
    out.push(...this.#queue.undelivered());
    return out;
  }

  // ---------------------------------------------------------------- time

  /** Arms the delayed acknowledgement and enforces the handshake and release deadlines. */
  handleTimeout(now: number): void {
    if (this.#state.name === 'closed') return;
    const link = this.#link;
    if ((link.name === 'resuming' || link.name === 'awaiting-resumed') && now >= this.#resumeDeadline) {
      // The window ran out during an attempt (no challenge, no answer): the session is lost.
      this.expire(now, AbortCode.RESUME_WINDOW_EXPIRED, 'not resumed within the resume window');
      return;
    }
    if (this.#link.name === 'suspended') return; // the session table keeps its deadline
    if (this.#isEstablished() && now >= this.#credentialsExpireAt) {
      this.providerAbort(now, AbortCode.CREDENTIALS_EXPIRED, 'credentials expired and were not renewed');
      return;
    }
    if (this.#ackDueAt !== null && now >= this.#ackDueAt) {
      this.#ackNow = true;
      this.#host.wake(this);
    }
    const s = this.#state;
    if (
      (s.name === 'connecting' || s.name === 'awaiting-response') &&
      now - s.since >= this.#limits.handshakeTimeoutMs
    ) {
      this.providerAbort(now, AbortCode.HANDSHAKE_TIMEOUT, 'session establishment timed out');
    } else if (
      (s.name === 'releasing' || s.name === 'disconnecting' || s.name === 'release-requested') &&
      link.name === 'attached' &&
      now - s.since >= this.#limits.releaseTimeoutMs
    ) {
      this.providerAbort(now, AbortCode.RELEASE_TIMEOUT, 'orderly release did not complete in time');
    }
  }

  /** RENEW_CREDENTIALS reaches the responder, CREDENTIALS_RENEWED the initiator, on an established session. */
  #renewal(f: RenewCredentialsFrame | CredentialsRenewedFrame): void {
    const toInitiator = f.type === FrameType.CREDENTIALS_RENEWED;
    if (!this.#isEstablished() || toInitiator !== this.#initiator) throw this.#unexpected(f);
    if (f.type === FrameType.RENEW_CREDENTIALS) {
      const credentials = credentialsOf(f.credentials);
      this.#host.emit({
        type: 'renewal-requested',
        channel: this.channel,
        session: this,
        requestId: f.requestId,
        credentials,
      });
    } else {
      const { requestId, code, message } = f;
      this.#host.emit({ type: 'renewal-answered', channel: this.channel, session: this, requestId, code, message });
    }
  }

  /** The earliest time this session needs `handleTimeout`, or null. */
  nextDeadline(): number | null {
    // A closed session has no deadline left (its link may still say where it was when it closed:
    // returning that deadline made a driver spin on a timer nothing could clear; sim seed 271).
    if (this.#state.name === 'closed') return null;
    if (this.#link.name === 'suspended') return null;
    let next: number | null = null;
    // During a resume attempt the resume window bounds it, beside the session's own deadlines.
    if (
      (this.#link.name === 'resuming' || this.#link.name === 'awaiting-resumed') &&
      this.#resumeDeadline !== Number.POSITIVE_INFINITY
    ) {
      next = this.#resumeDeadline;
    }
    if (this.#ackDueAt !== null && !this.#ackNow && (next === null || this.#ackDueAt < next)) next = this.#ackDueAt;
    const s = this.#state;
    let stateDeadline: number | null = null;
    if (s.name === 'connecting' || s.name === 'awaiting-response')
      stateDeadline = s.since + this.#limits.handshakeTimeoutMs;
    else if (
      (s.name === 'releasing' || s.name === 'disconnecting' || s.name === 'release-requested') &&
      this.#link.name === 'attached'
    ) {
      stateDeadline = s.since + this.#limits.releaseTimeoutMs;
    }
    if (stateDeadline !== null && (next === null || stateDeadline < next)) next = stateDeadline;
    const expiry = this.#credentialsExpireAt;
    if (expiry !== Number.POSITIVE_INFINITY && this.#isEstablished() && (next === null || expiry < next)) next = expiry;
    return next;
  }

  // ---------------------------------------------------------------- output

  /**
   * Writes this session's next frame (plus an acknowledgement if one is due) into `w`.
   * Returns false when it has nothing it may send now. One frame per call lets the connection
   * interleave sessions fairly.
   */
  writeNext(w: FrameWriter): boolean {
    if (!this.#canTransmit()) return false;
    let wrote = false;
    if (
      this.#ackNow ||
      (this.#ackDueAt !== null && this.#rx.receivedSeq > this.#rx.ackedReceived && this.#hasSendable())
    ) {
      this.#writeAck(w);
      wrote = true;
    }
    if (!this.#isEstablished() && this.#state.name !== 'releasing') return wrote;
    // After a resume, what the peer lacks goes first, in its original order and numbering.
    const next = this.#tx.sent.peekReplay();
    if (next !== undefined && isFlowControlled(next.type)) {
      const cost = next.body.byteLength + FRAME_CHARGE_BYTES;
      // Counted as if nothing were in flight; and a frame larger than the contended in-flight cap
      // (it was sent while the session had the connection alone) needs only the window: measured
      // against the cap it would wait forever once another session had sent (sim seed 971755).
      const cap = this.#host.inflightCap(this);
      if (this.#host.sendRoom(this, Math.min(0, cap - cost)) < cost) return wrote;
    }
    if (next !== undefined && !this.#paceAllows(next)) return wrote;
    const again = next === undefined ? undefined : this.#tx.sent.nextReplay();
    if (again !== undefined) {
      this.#writeSent(w, again, this.#tx.sent.inflightBytes * 2 >= this.#tx.paceBytes);
      this.stats.framesRetransmitted++;
      this.stats.bytesRetransmitted += again.body.byteLength;
      // Acknowledged before the replay reached it: once sent again it is done. Kept, it would
      // count as in flight with no acknowledgement left to come and hold the in-flight cap shut
      // (sim seed 1203007).
      if (again.seq <= this.#tx.peerReceived) this.#acknowledge(this.#tx.peerReceived);
      return true;
    }
    const ex = this.#queue.peekExpedited();
    if (ex !== undefined && this.#windowRoom() >= ex.byteLength + FRAME_CHARGE_BYTES) {
      this.#queue.shiftExpedited();
      this.#tx.sentFlowBytes += ex.byteLength + FRAME_CHARGE_BYTES;
      this.#record(w, FrameType.EXPEDITED, true, ex, ex);
      this.#afterSend(ex.byteLength, true);
      return true;
    }
    const item = this.#queue.peek();
    if (item === undefined || ex !== undefined) return wrote;
    if (item.kind === 'normal' || item.kind === 'typed') {
      const remaining = item.data.byteLength - item.offset;
      const maxPayload = (this.#agreed as AgreedParameters).peerFrameBytesMax - HEADER_BYTES;
      const room = this.#windowRoom() - FRAME_CHARGE_BYTES;
      let n = Math.max(0, Math.min(remaining, maxPayload, room));
      // Avoid silly windows: wait for room unless the fragment ends the message or is sizeable.
      if (n < remaining && n < this.#fragmentBytesMin()) n = 0;
      if (n === 0 && remaining > 0) return wrote;
      const end = item.offset + n === item.data.byteLength;
      const payload = n === item.data.byteLength ? item.data : item.data.subarray(item.offset, item.offset + n);
      const type = item.kind === 'normal' ? FrameType.DATA : FrameType.TYPED_DATA;
      this.#record(w, type, end, payload, end ? item.data : null);
      item.offset += n;
      this.#tx.sentFlowBytes += n + FRAME_CHARGE_BYTES;
      if (end) this.#queue.pop();
      this.#afterSend(n, end);
      return true;
    }
    if (item.kind === 'dialogue' || item.kind === 'named-token') {
      // Held for retransmission like data: it waits for room in the retransmit budget.
      if (!this.#controlFits(item.body)) return wrote;
      this.#queue.pop();
      this.#record(w, item.type, true, item.body, null);
      this.#tx.sentSeq++;
      return true;
    }
    const control = item as Extract<Outgoing, { userData: Uint8Array }>;
    if (!this.#controlFits(control.userData)) return wrote;
    const type =
      control.kind === 'finish'
        ? FrameType.FINISH
        : control.kind === 'disconnect'
          ? FrameType.DISCONNECT
          : FrameType.NOT_FINISHED;
    this.#queue.pop();
    this.#record(w, type, true, control.userData, null);
    this.#tx.sentSeq++;
    if (control.kind === 'disconnect') this.#disconnectSeq = this.#tx.sentSeq;
    return true;
  }

  /** Writes a sequenced frame for the first time and keeps it until acknowledged. */
  #record(w: FrameWriter, type: FrameType, end: boolean, body: Uint8Array, message: Uint8Array | null): void {
    const frame = this.#tx.sent.obtain();
    frame.seq = this.#tx.sentSeq + 1;
    frame.type = type;
    frame.end = end;
    frame.body = body;
    frame.message = message;
    // Ask for an acknowledgement once half the in-flight budget is used: the sender would stall
    // before the receiver's own schedule (every 256 KiB, or ackDelayMs) acknowledged anything.
    const budget = Math.min(this.#retransmitBudget(), this.#host.inflightCap(this), this.#tx.paceBytes);
    const inflight = this.#tx.sent.unackedBytes + frame.body.byteLength + FRAME_CHARGE_BYTES;
    this.#writeSent(w, frame, inflight * 2 >= budget);
    this.#tx.sent.push(frame);
  }

  #writeSent(w: FrameWriter, f: SentFrame, ackSoon = false): void {
    if (isFlowControlled(f.type)) this.#host.sentData(this, f.body.byteLength + FRAME_CHARGE_BYTES);
    switch (f.type) {
      case FrameType.DATA:
      case FrameType.TYPED_DATA:
        writeDataFrame(w, f.type, f.end, this.#channel, f.body, ackSoon);
        return;
      case FrameType.EXPEDITED:
        writeFrame(w, { type: f.type, channel: this.channel, payload: f.body });
        return;
      case FrameType.FINISH:
      case FrameType.DISCONNECT:
      case FrameType.NOT_FINISHED:
        writeFrame(w, { type: f.type, channel: this.channel, userData: f.body });
        return;
      default:
        if (isDialogueFrame(f.type) || isNamedTokenFrame(f.type)) {
          // The body is the frame's encoded payload, kept for replay.
          writeEncodedFrame(w, f.type, this.#channel, f.body);
          return;
        }
        throw new InternalError(`unsequenced frame ${frameTypeName(f.type)} in the retransmit buffer`);
    }
  }

  /** Attached to a live connection (or, initiator, resuming optimistically behind its RESUME). */
  #canTransmit(): boolean {
    return this.#link.name === 'attached' || this.#link.name === 'awaiting-resumed';
  }

  /** Whether `writeNext` would write something now. */
  hasWork(): boolean {
    return this.#canTransmit() && (this.#ackNow || this.#hasSendable());
  }

  #hasSendable(): boolean {
    if (!this.#isEstablished() && this.#state.name !== 'releasing') return false;
    if (this.#tx.sent.replaying) {
      const next = this.#tx.sent.peekReplay();
      return next === undefined || this.#paceAllows(next);
    }
    const ex = this.#queue.peekExpedited();
    if (ex !== undefined) return this.#windowRoom() >= ex.byteLength + FRAME_CHARGE_BYTES;
    const item = this.#queue.peek();
    if (item === undefined) return false;
    if (item.kind === 'dialogue' || item.kind === 'named-token') return this.#controlFits(item.body);
    if (item.kind !== 'normal' && item.kind !== 'typed') {
      return this.#controlFits((item as Extract<Outgoing, { userData: Uint8Array }>).userData);
    }
    const remaining = item.data.byteLength - item.offset;
    const room = this.#windowRoom() - FRAME_CHARGE_BYTES;
    return room >= remaining || room >= this.#fragmentBytesMin();
  }

  /**
   * The smallest partial fragment worth sending. Never more than half the peer's window less the
   * per-frame charge: a higher threshold might never be met, and the message would wait forever.
   */
  #fragmentBytesMin(): number {
    const agreed = this.#agreed as AgreedParameters;
    return Math.min(
      4096,
      agreed.peerFrameBytesMax - HEADER_BYTES,
      // The receiver opens the window again only once half of it is free, and a fragment also
      // pays FRAME_CHARGE_BYTES; with half a window as the threshold, a room just above half
      // (not enough for the receiver to update, not enough for us to send) deadlocked both.
      Math.max(1, Math.floor(agreed.peerInboundStreamBytes / 2) - FRAME_CHARGE_BYTES),
    );
  }

  #writeAck(w: FrameWriter): void {
    const { received, windowLimit } = this.#rx.acknowledge();
    writeFrame(w, { type: FrameType.ACK, channel: this.channel, received, windowLimit });
    this.#ackNow = false;
    this.#ackDueAt = null;
  }

  #afterSend(bytes: number, endsMessage: boolean): void {
    this.#tx.sentSeq++;
    this.#queue.bytes -= bytes;
    this.stats.bytesSent += bytes;
    if (endsMessage) this.stats.messagesSent++;
    if (this.#writerBlocked && this.#queue.bytes < this.#limits.sendQueueBytesMax && this.#canSendData()) {
      this.#writerBlocked = false;
      this.#host.emit({ type: 'writable', channel: this.channel, session: this });
    }
  }

  /**
   * Sequenced control frames (release, dialogue, named tokens) go only while the retransmit budget has room,
   * like data: a release sent on a full budget overran it (sim seed 188 with named tokens, once
   * grants shifted the timing). Never dropped: they wait for acknowledgements. One goes whatever
   * its size once nothing is unacknowledged, so user data near 64 KiB cannot wait forever.
   */
  #controlFits(body: Uint8Array): boolean {
    return this.#tx.controlFits(body.byteLength, this.#retransmitBudget());
  }

  /** The agreed retransmit budget (this side's own limit until agreed). */
  #retransmitBudget(): number {
    return this.#agreed?.retransmitBufferBytes ?? this.#limits.retransmitBufferBytes;
  }

  /** Bytes that may be sent now: within the peer's window and this side's retransmit budget. */
  #windowRoom(): number {
    return this.#tx.room(this.#retransmitBudget(), this.#host.sendRoom(this, this.#tx.sent.unackedBytes));
  }

  /** Drops what the peer acknowledged and lets the pacing allowance grow by it. */
  #acknowledge(received: number): void {
    this.#tx.acknowledge(received, this.#retransmitBudget());
  }

  /** Whether the pacing allowance lets `next` be replayed now (always, with nothing in flight). */
  #paceAllows(next: SentFrame): boolean {
    return this.#tx.paceAllows(next, this.#retransmitBudget());
  }

  // ---------------------------------------------------------------- dialogue

  /** Tokens, synchronization and activities (null before establishment). */
  get dialogue(): Dialogue | null {
    return this.#dialogue;
  }

  #startDialogue(initiator: boolean, responderTokens: number, initialSerial: number): void {
    const units = (this.#agreed as AgreedParameters).units;
    this.#dialogue = new Dialogue(
      {
        queue: (f) => this.#queueDialogue(f),
        emit: (event) => this.#emitDialogue(event),
        purge: () => this.#purge(),
        open: () => this.#state.name === 'open',
      },
      { units, initiator, responderTokens, initialSerial },
    );
  }

  #queueDialogue(f: Omit<DialogueFrame, 'channel'>): void {
    const body = encodeFrame({ ...f, channel: 0 }).subarray(HEADER_BYTES);
    this.#enqueue({ kind: 'dialogue', type: f.type, body });
  }

  #emitDialogue(event: DialogueEvent): void {
    this.#host.emit({ type: 'dialogue', channel: this.channel, session: this, event });
    // A confirmation or resynchronization may let waiting normal data go.
    if (this.#writerBlocked && this.writable) {
      this.#writerBlocked = false;
      this.#host.emit({ type: 'writable', channel: this.channel, session: this });
    }
  }

  /**
   * X.225 purge: unsent normal data and a partly received normal message are dropped. Every
   * normal message dropped here is reported in a `purged` event, a partly sent one too: only its
   * last fragment would have put it in the retransmit buffer's accounting (delivered when
   * acknowledged, or undelivered), so a message left out here would be in neither. The receiver
   * may also report that one's first fragments (`discarded`), but it cannot be relied on: the
   * session may be lost before the RS reaches it (sim seed 937199).
   */
  #purge(): void {
    const purged = this.#queue.purgeNormal();
    if (purged.length > 0) {
      this.stats.messagesPurged += purged.length;
      this.#host.emit({
        type: 'dialogue',
        channel: this.channel,
        session: this,
        event: { kind: 'purged', messages: purged },
      });
    }
    this.#dropAssembly();
  }

  /** Drops a partly received normal message (counted once; its later fragments are discarded silently). */
  #dropAssembly(): void {
    const head = this.#rx.dropNormal();
    if (head === null) return;
    this.#discarded(head);
    this.#creditChanged();
  }

  #discarded(head: Uint8Array): void {
    this.stats.messagesDiscarded++;
    this.#host.emit({ type: 'dialogue', channel: this.channel, session: this, event: { kind: 'discarded', head } });
  }

  /** Normal data the dialogue rules purge on arrival: its window credit goes straight back. */
  #discardNormal(now: number, payload: Uint8Array, end: boolean): void {
    const charge = this.#countFlow(now, payload.byteLength);
    const rx = this.#rx;
    if (rx.normalInProgress) this.#dropAssembly();
    else if (!rx.discardRest) this.#discarded(payload);
    rx.discardRest = !end;
    rx.consumedBytes += charge;
    this.#creditChanged();
  }

  #checkNormalData(): void {
    const block = this.#dialogue?.normalDataBlock();
    if (!block) return;
    if (block.code === 'wait') this.#writerBlocked = true;
    throw new UsageError(block.code === 'token' ? ErrorCode.TOKEN_NOT_HELD : ErrorCode.INVALID_STATE, block.message);
  }

  // ---------------------------------------------------------------- helpers

  #establish(agreed: AgreedParameters): void {
    this.#agreed = agreed;
    this.#tx.peerWindowLimit = agreed.peerInboundStreamBytes;
    this.#host.established(this, agreed);
  }

  #isEstablished(): boolean {
    const n = this.#state.name;
    return n === 'open' || n === 'releasing' || n === 'release-requested' || n === 'disconnecting';
  }

  #canSendData(): boolean {
    return this.#state.name === 'open' || this.#state.name === 'release-requested';
  }

  #enqueue(item: Outgoing): void {
    this.#queue.push(item);
    this.#host.wake(this);
  }

  #abortWith(
    now: number,
    f: { byProvider: boolean; code: AbortCode; message: string; userData: Uint8Array },
    origin: 'local' | 'peer',
    notifyPeer = true,
  ): void {
    const undelivered = this.undelivered;
    // While resuming, the channel is not yet named to the peer (RESUME has not gone out): an ABORT
    // on it would read as traffic for an unknown channel and close the whole connection.
    if (notifyPeer && this.#link.name !== 'resuming') {
      this.#host.sendControl({ type: FrameType.ABORT, channel: this.channel, ...f });
    }
    this.#close(now, {
      kind: 'aborted',
      origin,
      by: f.byProvider ? 'provider' : 'user',
      code: f.code,
      message: f.message,
      userData: f.userData,
      undelivered,
    });
  }

  #close(now: number, reason: CloseReason): void {
    if (this.#state.name === 'closed') return;
    if (reason.kind !== 'released') this.#undeliveredAtClose = this.#collectUndelivered();
    // What was received and will never be consumed no longer occupies the connection's window.
    const unconsumed = this.#rx.closeUnconsumed();
    if (unconsumed > 0) this.#host.credit(unconsumed);
    this.#tx.sent.clear();
    this.#state = { name: 'closed', reason };
    this.#closedAt = now;
    this.#queue.clear();
    this.#host.emit({ type: 'closed', channel: this.channel, session: this, reason });
    this.#host.released(this);
  }

  #checkUserData(userData: Uint8Array): void {
    if (userData.byteLength > this.#limits.userDataBytesMax) {
      throw new UsageError(
        ErrorCode.INVALID_ARGUMENT,
        `user data of ${userData.byteLength} bytes exceeds the limit of ${this.#limits.userDataBytesMax}`,
      );
    }
  }

  #invalid(what: string): UsageError {
    return new UsageError(ErrorCode.INVALID_STATE, `cannot ${what} in state ${this.#state.name}`);
  }

  #unitMissing(what: string, unit: string): UsageError {
    return new UsageError(ErrorCode.UNIT_NOT_SELECTED, `${what} needs the ${unit} functional unit, not selected`);
  }

  #unexpected(f: Frame): ProtocolError {
    return new ProtocolError(
      AbortCode.UNEXPECTED_FRAME,
      `${frameTypeName(f.type)} not allowed in state ${this.#state.name}`,
    );
  }
}

const EMPTY = new Uint8Array(0);
/** Stateless states are shared: a server holds thousands of sessions. */
const OPEN: SessionState = Object.freeze({ name: 'open' });
const ATTACHED: Link = Object.freeze({ name: 'attached' });
/**
 * The least payload a fragment other than the last may carry. A sender never splits finer than
 * min(4096, the peer's frame payload, half its window less the charge), at least 480 bytes with the
 * protocol's floors; the receiver refuses less, which bounds fragments per message.
 */
export const FRAGMENT_BYTES_MIN = 256;

function isFlowControlled(type: number): boolean {
  return type === FrameType.DATA || type === FrameType.TYPED_DATA || type === FrameType.EXPEDITED;
}

function namedTokensExtension(offer: NamedTokenOffer): Uint8Array {
  const value = new Uint8Array(4);
  const view = new DataView(value.buffer);
  view.setUint16(0, offer.nameBytesMax);
  view.setUint16(2, offer.tokensPerSessionMax);
  return value;
}

/** The responder's NAMED_TOKENS offer in an ACCEPT, or null (absent, or unusable values). */
function namedTokenOfferFrom(extensions: Extension[]): NamedTokenOffer | null {
  const value = extensions.find((e) => e.id === ExtensionId.NAMED_TOKENS)?.value;
  if (value?.byteLength !== 4) return null;
  const view = new DataView(value.buffer, value.byteOffset, 4);
  const nameBytesMax = Math.min(view.getUint16(0), NAMED_TOKEN_NAME_BYTES_CEILING);
  const tokensPerSessionMax = view.getUint16(2);
  return nameBytesMax > 0 && tokensPerSessionMax > 0 ? { nameBytesMax, tokensPerSessionMax } : null;
}

/** The key a resume proof is checked against when the session has none (the work is the same). */
const NO_RESUME_KEY = new Uint8Array(32);
