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
import { AbortCode, type CloseReason, ErrorCode, ProtocolError, type RefuseCode, UsageError } from '../errors.js';
import type { Limits } from '../limits.js';
import { hasUnit, Unit } from '../units.js';
import { assertNever, writeFrame } from '../wire/codec.js';
import {
  type AbortFrame,
  type ConnectFrame,
  EXPEDITED_BYTES_MAX,
  type Extension,
  type Frame,
  FrameType,
  frameTypeName,
  HEADER_BYTES,
} from '../wire/frame.js';
import type { FrameWriter } from '../wire/writer.js';
import type { AgreedParameters, ConnectRequest, MessageKind, SessionEvent } from './events.js';
import { agreedFromAccept, buildAccept } from './negotiation.js';

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
  /** A frame outside the session's reliable stream (establishment, abort) to send first. */
  sendControl(frame: Frame): void;
  /** The session reached `closed`; the connection forgets it. */
  released(session: Session): void;
  /** A round-trip sample (connect to accept). */
  rttSample(rttMs: number): void;
  /** The session was established with these values (the connection adopts its timers). */
  established(agreed: AgreedParameters): void;
}

type Outgoing =
  | { kind: 'normal' | 'typed'; data: Uint8Array; offset: number }
  | { kind: 'finish' | 'disconnect' | 'not-finished'; userData: Uint8Array };

export interface SessionStats {
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
}

export class Session {
  readonly channel: number;
  readonly #host: SessionHost;
  readonly #limits: Limits;
  #state: SessionState;
  #agreed: AgreedParameters | null = null;

  // Sending
  readonly #queue: Outgoing[] = [];
  #queueHead = 0;
  readonly #expedited: Uint8Array[] = [];
  #queuedBytes = 0;
  #writerBlocked = false;
  #sentSeq = 0;
  #sentFlowBytes = 0;
  #peerWindowLimit = 0;
  /** Sequence numbers of the last frame of each transmitted, not yet acknowledged message. */
  readonly #inflight: number[] = [];
  #inflightHead = 0;
  #peerReceived = 0;
  #disconnectSeq = -1;

  // Receiving
  #receivedSeq = 0;
  #receivedFlowBytes = 0;
  #consumedBytes = 0;
  #advertisedLimit = 0;
  #ackedReceived = 0;
  #ackDueAt: number | null = null;
  #ackNow = false;
  readonly #assembling: Record<'normal' | 'typed', { parts: Uint8Array[]; bytes: number }> = {
    normal: { parts: [], bytes: 0 },
    typed: { parts: [], bytes: 0 },
  };

  readonly stats: SessionStats = { messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0 };

  private constructor(channel: number, host: SessionHost, limits: Limits, state: SessionState) {
    this.channel = channel;
    this.#host = host;
    this.#limits = limits;
    this.#state = state;
    this.#advertisedLimit = limits.receiveWindowBytes;
  }

  /** Initiator side: sends the connect request. */
  static initiate(now: number, host: SessionHost, limits: Limits, connect: ConnectFrame): Session {
    const s = new Session(connect.channel, host, limits, { name: 'connecting', since: now, connect });
    host.sendControl(connect);
    return s;
  }

  /** Responder side: a connect request that passed negotiation, awaiting the application's answer. */
  static respond(now: number, host: SessionHost, limits: Limits, channel: number, request: ConnectRequest): Session {
    const s = new Session(channel, host, limits, { name: 'awaiting-response', since: now, request });
    host.emit({ type: 'connect-request', channel, request });
    return s;
  }

  get state(): SessionStateName {
    return this.#state.name;
  }

  get closeReason(): CloseReason | null {
    return this.#state.name === 'closed' ? this.#state.reason : null;
  }

  get agreed(): AgreedParameters | null {
    return this.#agreed;
  }

  /** Whether send() accepts a message now (the send queue is under its limit). */
  get writable(): boolean {
    return this.#canSendData() && this.#queuedBytes < this.#limits.sendQueueBytesMax;
  }

  /** Messages accepted by send() that the peer is not known to have received. */
  get undelivered(): number {
    let queuedMessages = 0;
    for (let i = this.#queueHead; i < this.#queue.length; i++) {
      const item = this.#queue[i] as Outgoing;
      if (item.kind === 'normal' || item.kind === 'typed') queuedMessages++;
    }
    return queuedMessages + this.#expedited.length + (this.#inflight.length - this.#inflightHead);
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  // ---------------------------------------------------------------- commands from the application

  /** @throws UsageError unless awaiting a response. */
  accept(now: number, userData: Uint8Array, extensions: Extension[] = []): void {
    const s = this.#state;
    if (s.name !== 'awaiting-response') throw this.#invalid('accept');
    this.#checkUserData(userData);
    this.#establish(s.request.agreed);
    this.#host.sendControl(buildAccept(this.channel, s.request.agreed, this.#limits, userData, extensions));
    this.#state = { name: 'open' };
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
  send(now: number, kind: MessageKind, data: Uint8Array): void {
    if (!this.#canSendData()) throw this.#invalid(`send ${kind} data`);
    const agreed = this.#agreed as AgreedParameters;
    if (kind === 'expedited') {
      if (!hasUnit(agreed.units, Unit.EXPEDITED)) throw this.#unitMissing('expedited data', 'EXPEDITED');
      if (data.byteLength > EXPEDITED_BYTES_MAX) {
        throw new UsageError(ErrorCode.MESSAGE_TOO_LARGE, `expedited data is at most ${EXPEDITED_BYTES_MAX} bytes`);
      }
    } else {
      if (kind === 'typed' && !hasUnit(agreed.units, Unit.TYPED_DATA))
        throw this.#unitMissing('typed data', 'TYPED_DATA');
      if (data.byteLength > agreed.peerMessageBytesMax) {
        throw new UsageError(
          ErrorCode.MESSAGE_TOO_LARGE,
          `message of ${data.byteLength} bytes exceeds the peer's limit of ${agreed.peerMessageBytesMax}`,
        );
      }
    }
    if (this.#queuedBytes >= this.#limits.sendQueueBytesMax) {
      this.#writerBlocked = true;
      throw new UsageError(ErrorCode.WOULD_BLOCK, 'send queue full: wait for the writable event');
    }
    if (kind === 'expedited') this.#expedited.push(data);
    else this.#queue.push({ kind, data, offset: 0 });
    this.#queuedBytes += data.byteLength;
    if (this.#queuedBytes >= this.#limits.sendQueueBytesMax) this.#writerBlocked = true;
    this.#host.wake(this);
    void now;
  }

  /** S-RELEASE request: queue FINISH behind everything sent so far. @throws UsageError unless open. */
  release(now: number, userData: Uint8Array): void {
    if (this.#state.name !== 'open') throw this.#invalid('release');
    this.#checkUserData(userData);
    this.#enqueue({ kind: 'finish', userData });
    this.#state = { name: 'releasing', since: now, answeredCollision: false };
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
    } else {
      if (!hasUnit((this.#agreed as AgreedParameters).units, Unit.NEGOTIATED_RELEASE)) {
        throw this.#unitMissing('refusing a release', 'NEGOTIATED_RELEASE');
      }
      this.#enqueue({ kind: 'not-finished', userData });
      this.#state = { name: 'open' };
    }
  }

  /** S-U-ABORT: ends the session at once; data not yet delivered is lost and counted. */
  abort(now: number, userData: Uint8Array): void {
    if (this.#state.name === 'closed') throw this.#invalid('abort');
    this.#checkUserData(userData);
    this.#abortWith(now, { byProvider: false, code: AbortCode.USER, message: '', userData }, 'local');
  }

  /** The application consumed `bytes` of received data: the peer may send that much more. */
  consume(now: number, bytes: number): void {
    this.#consumedBytes += bytes;
    if (this.#consumedBytes > this.#receivedFlowBytes) {
      this.#consumedBytes -= bytes;
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'consumed more bytes than were received');
    }
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
    const window = this.#limits.receiveWindowBytes;
    if (this.#creditBase() + window - this.#advertisedLimit >= window / 2 && this.#isEstablished()) {
      this.#ackNow = true;
      this.#host.wake(this);
    }
  }

  #creditBase(): number {
    return this.#consumedBytes + this.#assembling.normal.bytes + this.#assembling.typed.bytes;
  }

  // ---------------------------------------------------------------- input from the peer

  /**
   * One frame for this session. Protocol violations abort this session (provider abort) and are
   * reported through events, never thrown.
   */
  handleFrame(now: number, f: Frame): void {
    try {
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
    const s = this.#state;
    if (f.type === FrameType.ABORT) return this.#peerAborted(now, f);
    switch (s.name) {
      case 'connecting':
        if (f.type === FrameType.ACCEPT) {
          this.#establish(agreedFromAccept(s.connect, f));
          this.#host.rttSample(now - s.since);
          this.#state = { name: 'open' };
          this.#host.emit({
            type: 'accepted',
            channel: this.channel,
            agreed: this.#agreed as AgreedParameters,
            extensions: f.extensions,
            userData: f.userData,
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
          this.#countReceived(now);
          this.#state = { name: 'release-requested', since: now };
          this.#host.emit({ type: 'release-requested', channel: this.channel, userData: f.userData });
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
          this.#state = { name: 'open' };
          this.#host.emit({ type: 'release-refused', channel: this.channel, userData: f.userData });
          return;
        }
        if (f.type === FrameType.FINISH && !s.answeredCollision) {
          // Release collision: both sides asked to finish; each accepts the other's request.
          this.#countReceived(now);
          this.#enqueue({ kind: 'disconnect', userData: EMPTY });
          this.#state = { name: 'releasing', since: s.since, answeredCollision: true };
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
    switch (f.type) {
      case FrameType.ACK:
        this.#receiveAck(now, f.received, f.windowLimit);
        return true;
      case FrameType.DATA:
      case FrameType.TYPED_DATA: {
        const kind = f.type === FrameType.DATA ? 'normal' : 'typed';
        if (kind === 'typed' && !hasUnit((this.#agreed as AgreedParameters).units, Unit.TYPED_DATA)) {
          throw new ProtocolError(AbortCode.UNEXPECTED_FRAME, 'typed data without the typed-data unit');
        }
        this.#countFlow(now, f.payload.byteLength);
        const a = this.#assembling[kind];
        if (a.bytes + f.payload.byteLength > this.#limits.messageBytesMax) {
          throw new ProtocolError(
            AbortCode.MESSAGE_TOO_LARGE,
            `message exceeds the limit of ${this.#limits.messageBytesMax} bytes`,
          );
        }
        if (!f.end) {
          a.parts.push(f.payload);
          a.bytes += f.payload.byteLength;
          this.#creditChanged();
          return true;
        }
        let data = f.payload;
        if (a.parts.length > 0) {
          a.parts.push(f.payload);
          data = concat(a.parts, a.bytes + f.payload.byteLength);
          a.parts = [];
          a.bytes = 0;
        }
        this.#deliver(kind, data);
        return true;
      }
      case FrameType.EXPEDITED:
        if (!hasUnit((this.#agreed as AgreedParameters).units, Unit.EXPEDITED)) {
          throw new ProtocolError(AbortCode.UNEXPECTED_FRAME, 'expedited data without the expedited unit');
        }
        this.#countFlow(now, f.payload.byteLength);
        this.#deliver('expedited', f.payload);
        return true;
      default:
        return false;
    }
  }

  #deliver(kind: MessageKind, data: Uint8Array): void {
    this.stats.messagesReceived++;
    this.stats.bytesReceived += data.byteLength;
    this.#host.emit({ type: 'message', channel: this.channel, kind, data });
  }

  #countFlow(now: number, bytes: number): void {
    this.#countReceived(now);
    this.#receivedFlowBytes += bytes;
    if (this.#receivedFlowBytes > this.#advertisedLimit) {
      throw new ProtocolError(
        AbortCode.FLOW_CONTROL,
        `peer sent ${this.#receivedFlowBytes - this.#advertisedLimit} bytes beyond the flow-control window`,
      );
    }
  }

  #countReceived(now: number): void {
    this.#receivedSeq++;
    if (this.#ackDueAt === null) this.#ackDueAt = now + this.#limits.ackDelayMs;
  }

  #receiveAck(now: number, received: number, windowLimit: number): void {
    if (received > this.#sentSeq) {
      throw new ProtocolError(
        AbortCode.PROTOCOL_ERROR,
        `peer acknowledged ${received} frames of ${this.#sentSeq} sent`,
      );
    }
    if (received > this.#peerReceived) {
      this.#peerReceived = received;
      while (this.#inflightHead < this.#inflight.length && (this.#inflight[this.#inflightHead] as number) <= received) {
        this.#inflightHead++;
      }
      if (this.#inflightHead > 1024 && this.#inflightHead * 2 > this.#inflight.length) {
        this.#inflight.splice(0, this.#inflightHead);
        this.#inflightHead = 0;
      }
    }
    if (windowLimit > this.#peerWindowLimit) {
      this.#peerWindowLimit = windowLimit;
      this.#host.wake(this);
    }
    this.#checkDisconnectAcked(now);
  }

  #checkDisconnectAcked(now: number): void {
    if (this.#state.name === 'disconnecting' && this.#disconnectSeq >= 0 && this.#peerReceived >= this.#disconnectSeq) {
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

  // ---------------------------------------------------------------- time

  /** Arms the delayed acknowledgement and enforces the handshake and release deadlines. */
  handleTimeout(now: number): void {
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
      now - s.since >= this.#limits.releaseTimeoutMs
    ) {
      this.providerAbort(now, AbortCode.RELEASE_TIMEOUT, 'orderly release did not complete in time');
    }
  }

  /** The earliest time this session needs `handleTimeout`, or null. */
  nextDeadline(): number | null {
    let next: number | null = null;
    if (this.#ackDueAt !== null && !this.#ackNow) next = this.#ackDueAt;
    const s = this.#state;
    let stateDeadline: number | null = null;
    if (s.name === 'connecting' || s.name === 'awaiting-response')
      stateDeadline = s.since + this.#limits.handshakeTimeoutMs;
    else if (s.name === 'releasing' || s.name === 'disconnecting' || s.name === 'release-requested') {
      stateDeadline = s.since + this.#limits.releaseTimeoutMs;
    }
    if (stateDeadline !== null && (next === null || stateDeadline < next)) next = stateDeadline;
    return next;
  }

  // ---------------------------------------------------------------- output

  /**
   * Writes this session's next frame (plus an acknowledgement if one is due) into `w`.
   * Returns false when it has nothing it may send now. One frame per call lets the connection
   * interleave sessions fairly.
   */
  writeNext(w: FrameWriter): boolean {
    let wrote = false;
    if (this.#ackNow || (this.#ackDueAt !== null && this.#receivedSeq > this.#ackedReceived && this.#hasSendable())) {
      this.#writeAck(w);
      wrote = true;
    }
    if (!this.#isEstablished() && this.#state.name !== 'releasing') return wrote;
    const ex = this.#expedited[0];
    if (ex !== undefined && this.#windowRoom() >= ex.byteLength) {
      this.#expedited.shift();
      writeFrame(w, { type: FrameType.EXPEDITED, channel: this.channel, payload: ex });
      this.#sentFlowBytes += ex.byteLength;
      this.#afterSend(ex.byteLength, true);
      return true;
    }
    const item = this.#queue[this.#queueHead];
    if (item === undefined || ex !== undefined) return wrote;
    if (item.kind === 'normal' || item.kind === 'typed') {
      const remaining = item.data.byteLength - item.offset;
      const maxPayload = (this.#agreed as AgreedParameters).peerFrameBytesMax - HEADER_BYTES;
      const room = this.#windowRoom();
      let n = Math.min(remaining, maxPayload, room);
      // Avoid silly windows: wait for room unless the fragment ends the message or is sizeable.
      if (n < remaining && n < this.#fragmentBytesMin()) n = 0;
      if (n === 0 && remaining > 0) return wrote;
      const end = item.offset + n === item.data.byteLength;
      writeFrame(w, {
        type: item.kind === 'normal' ? FrameType.DATA : FrameType.TYPED_DATA,
        channel: this.channel,
        end,
        payload: item.data.subarray(item.offset, item.offset + n),
      });
      item.offset += n;
      this.#sentFlowBytes += n;
      if (end) this.#popQueue();
      this.#afterSend(n, end);
      return true;
    }
    const control = item as Extract<Outgoing, { userData: Uint8Array }>;
    const type =
      control.kind === 'finish'
        ? FrameType.FINISH
        : control.kind === 'disconnect'
          ? FrameType.DISCONNECT
          : FrameType.NOT_FINISHED;
    writeFrame(w, { type, channel: this.channel, userData: control.userData });
    this.#popQueue();
    this.#sentSeq++;
    if (control.kind === 'disconnect') this.#disconnectSeq = this.#sentSeq;
    return true;
  }

  /** Whether `writeNext` would write something now. */
  hasWork(): boolean {
    return this.#ackNow || this.#hasSendable();
  }

  #hasSendable(): boolean {
    if (!this.#isEstablished() && this.#state.name !== 'releasing') return false;
    const ex = this.#expedited[0];
    if (ex !== undefined) return this.#windowRoom() >= ex.byteLength;
    const item = this.#queue[this.#queueHead];
    if (item === undefined) return false;
    if (item.kind !== 'normal' && item.kind !== 'typed') return true;
    const remaining = item.data.byteLength - item.offset;
    const room = this.#windowRoom();
    return room >= remaining || room >= this.#fragmentBytesMin();
  }

  /**
   * The smallest partial fragment worth sending. Never more than half the peer's window: a
   * threshold above the whole window could never be met, and the message would wait forever.
   */
  #fragmentBytesMin(): number {
    const agreed = this.#agreed as AgreedParameters;
    return Math.min(
      4096,
      agreed.peerFrameBytesMax - HEADER_BYTES,
      Math.max(1, Math.floor(agreed.peerReceiveWindowBytes / 2)),
    );
  }

  #writeAck(w: FrameWriter): void {
    this.#advertisedLimit = Math.max(this.#advertisedLimit, this.#creditBase() + this.#limits.receiveWindowBytes);
    writeFrame(w, {
      type: FrameType.ACK,
      channel: this.channel,
      received: this.#receivedSeq,
      windowLimit: this.#advertisedLimit,
    });
    this.#ackedReceived = this.#receivedSeq;
    this.#ackNow = false;
    this.#ackDueAt = null;
  }

  #afterSend(bytes: number, endsMessage: boolean): void {
    this.#sentSeq++;
    this.#queuedBytes -= bytes;
    this.stats.bytesSent += bytes;
    if (endsMessage) {
      this.stats.messagesSent++;
      this.#inflight.push(this.#sentSeq);
    }
    if (this.#writerBlocked && this.#queuedBytes < this.#limits.sendQueueBytesMax && this.#canSendData()) {
      this.#writerBlocked = false;
      this.#host.emit({ type: 'writable', channel: this.channel });
    }
  }

  #windowRoom(): number {
    return this.#peerWindowLimit - this.#sentFlowBytes;
  }

  #popQueue(): void {
    this.#queue[this.#queueHead] = undefined as unknown as Outgoing;
    this.#queueHead++;
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
  }

  // ---------------------------------------------------------------- helpers

  #establish(agreed: AgreedParameters): void {
    this.#agreed = agreed;
    this.#peerWindowLimit = agreed.peerReceiveWindowBytes;
    this.#host.established(agreed);
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
    if (notifyPeer) this.#host.sendControl({ type: FrameType.ABORT, channel: this.channel, ...f });
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
    this.#state = { name: 'closed', reason };
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#expedited.length = 0;
    this.#queuedBytes = 0;
    this.#assembling.normal = { parts: [], bytes: 0 };
    this.#assembling.typed = { parts: [], bytes: 0 };
    this.#host.emit({ type: 'closed', channel: this.channel, reason });
    this.#host.released(this);
    void now;
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

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

const EMPTY = new Uint8Array(0);
