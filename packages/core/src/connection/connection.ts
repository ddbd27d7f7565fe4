/**
 * One transport connection and the sessions it carries: the engine a driver feeds.
 *
 * Theory of operation
 * - Inputs: `handleTransportUp/Down(now)`, `handleBytes(now, bytes)`, `handleTimeout(now)`, and
 *   commands on the Session objects it hands out. Outputs, pulled after each input:
 *   `pollTransmit()` (bytes to write, batched), `pollEvent()` (for the application),
 *   `pollTimeout()` (when to call handleTimeout next). It never does I/O or reads a clock.
 * - Channel 0 carries connection frames (keepalive, connection close); each other channel is a
 *   session. Initiators number their sessions 1, 3, 5...; a channel is never reused, so frames
 *   that arrive for a session already closed (crossed with an abort) are recognised and dropped.
 * - A malformed byte stream cannot be resynchronised: decoder errors close the whole connection
 *   with CONNECTION_CLOSE and a reason. A session-level violation aborts only that session.
 * - Sessions with something to send wait in a round-robin ready list; each turn writes up to
 *   16 KiB of frames, so a bulk session cannot starve an interactive one. While several sessions
 *   send, each keeps at most contendedInflightBytes in flight, so the shared byte stream stays
 *   shallow and an interactive message is not queued behind a bulk session's megabytes.
 * - The connection has its own flow-control window (WINDOW frames) over all its sessions.
 * - Keepalive: a PING after keepaliveIntervalMs without receiving anything; the peer is declared
 *   dead after idleTimeoutMs of silence. PONG echoes the PING's stamp, giving an RTT sample.
 */
import { AbortCode, type CloseReason, ErrorCode, ProtocolError, RefuseCode, UsageError } from '../errors.js';
import { type Limits, minEnabled, resolveLimits } from '../limits.js';
import {
  bindChallenge,
  bindSecret,
  constantTimeEqual,
  type KeyAgreement,
  type KeyShare,
  NONCE_BYTES,
  nobleKeyAgreement,
  type RandomSource,
  resumeProof,
  SESSION_ID_BYTES,
} from '../recovery/proof.js';
import type { SessionTable } from '../recovery/table.js';
import { type Credentials, checkCredentials, credentialsOf, extensionValue } from '../session/credentials.js';
import { type DialogueOptions, dialogueConnectExtensions, dialogueProposal } from '../session/dialogue-setup.js';
import type { AgreedParameters, ConnectionEvent, SessionEvent } from '../session/events.js';
import {
  APPLICATION_EXTENSION_ID_MIN,
  buildConnect,
  checkExtensions,
  evaluateConnect,
} from '../session/negotiation.js';
import { type RecoveryOffer, Session, type SessionHost } from '../session/session.js';
import { DEFAULT_UNITS, IMPLEMENTED_UNITS, knownUnits, Unit } from '../units.js';
import { concatBytes } from '../wire/bytes.js';
import { USER_DATA_BYTES_CEILING, writeFrame } from '../wire/codec.js';
import { FrameDecoder } from '../wire/decoder.js';
import {
  CONNECTION_CHANNEL,
  type ConnectFrame,
  type Extension,
  ExtensionId,
  type FinalCount,
  FRAME_CHARGE_BYTES,
  type Frame,
  FrameType,
  frameTypeName,
  INITIAL_CONNECTION_WINDOW_BYTES,
  PREFACE,
  type ResumeFrame,
} from '../wire/frame.js';
import { FrameWriter } from '../wire/writer.js';

export type Role = 'initiator' | 'responder';

export interface ConnectionOptions {
  /** The initiator opens sessions (a client); the responder accepts them (a server). */
  role: Role;
  limits?: Partial<Limits>;
  /** Responder: the functional units it is willing to agree to. Defaults to all implemented. */
  acceptableUnits?: number;
  /** Receives structured trace records (frames, state changes). Must not throw. */
  tracer?: (record: TraceRecord) => void;
  /**
   * Cryptographically strong random bytes (the platform's, or a seeded source in simulation).
   * Without it, sessions are not resumable.
   */
  random?: RandomSource;
  /** X25519 for resume keys; defaults to the portable one. Drivers pass the platform's. */
  keyAgreement?: KeyAgreement;
  /**
   * Where sessions wait when the transport breaks, and (responder) where a resume finds them.
   * Without it, a transport break aborts its sessions. A responder shares one table among all
   * its connections, so a session can resume on any of them.
   */
  table?: SessionTable;
}

export type TraceRecord =
  | { kind: 'frame-in'; channel: number; frame: string }
  | { kind: 'session-closed'; channel: number; reason: CloseReason }
  | { kind: 'connection-closed'; origin: 'local' | 'peer' | 'transport'; code: number; message: string };

export interface OpenSessionOptions {
  /** Functional units to propose; kernel is always added, unimplemented units are dropped. */
  units?: number;
  userData?: Uint8Array;
  extensions?: Extension[];
  /**
   * Authentication for the responder (session/credentials.ts): extensions in the auth range, or a
   * function of the connection's CHALLENGE (a PSK proof), in which case the CONNECT waits for it.
   */
  credentials?: Credentials;
  /** Initial token assignment and serial number (dialogue units); default: initiator holds all, serial 0. */
  dialogue?: DialogueOptions;
}

export interface RttEstimate {
  latestMs: number;
  smoothedMs: number;
  variationMs: number;
}

type ConnectionState = 'idle' | 'open' | 'closed';

export class Connection {
  readonly role: Role;
  readonly limits: Readonly<Limits>;
  readonly #acceptableUnits: number;
  readonly #tracer: ((r: TraceRecord) => void) | undefined;
  readonly #random: RandomSource | undefined;
  readonly #keyAgreement: KeyAgreement;
  readonly #table: SessionTable | undefined;
  /** Responder: the nonce sent on this connection. Initiator: the one received. */
  #challenge: Uint8Array | null = null;
  /** The secure channel's handshake hash (bindChannel), or null on a plaintext connection. */
  #channelBinding: Uint8Array | null = null;
  #keyShare: KeyShare | null = null;
  // Connection-level flow control (charged bytes of DATA, TYPED_DATA and EXPEDITED frames).
  #sentBytes = 0;
  #peerWindowLimit = INITIAL_CONNECTION_WINDOW_BYTES;
  #receivedBytes = 0;
  #creditBytes = 0;
  #advertisedLimit = INITIAL_CONNECTION_WINDOW_BYTES;
  #windowUpdateDue = false;
  // Contention: which session last sent data, and when another one last took over.
  #lastSender: Session | null = null;
  #contendedUntil = Number.NEGATIVE_INFINITY;
  #agreed: { mine: KeyShare; peer: Uint8Array; shared: Uint8Array } | null = null;
  readonly #decoder: FrameDecoder;
  readonly #writer = new FrameWriter();
  readonly #host: SessionHost;

  #state: ConnectionState = 'idle';
  #prefacePending = false;
  readonly #sessions = new Map<number, Session>();
  /** Sessions that may have a deadline: pollTimeout looks at these only, not at every session. */
  readonly #timed = new Set<Session>();
  #nextChannel = 1;
  #highestPeerChannel = 0;
  readonly #control: Frame[] = [];
  /** CONNECTs held until the challenge lets the RESUMEs of lower channels go first (channels go out in order). */
  readonly #heldConnects = new Map<Session, Frame>();
  /** A session was adopted for resume before the challenge arrived (its RESUME waits for it). */
  #resumesWaiting = false;
  /** Held CONNECTs whose credentials are computed from the CHALLENGE once it arrives. */
  readonly #credentialsDue = new Map<Session, (challenge: Uint8Array, connect: ConnectFrame) => Extension[]>();
  #resumesRefused = 0;
  #ready: Session[] = [];
  readonly #readySet = new Set<Session>();
  readonly #events: ConnectionEvent[] = [];
  #eventsHead = 0;

  #now = 0;
  #lastReceivedAt = 0;
  #lastPingAt = -Infinity;
  #noSessionsSince = 0;
  #keepaliveIntervalMs: number;
  #idleTimeoutMs: number;
  #rtt: RttEstimate | null = null;

  constructor(options: ConnectionOptions) {
    this.role = options.role;
    this.limits = Object.freeze(resolveLimits(options.limits));
    this.#acceptableUnits = knownUnits(options.acceptableUnits ?? IMPLEMENTED_UNITS) | Unit.KERNEL;
    this.#tracer = options.tracer;
    this.#random = options.random;
    this.#keyAgreement = options.keyAgreement ?? nobleKeyAgreement;
    this.#table = options.table;
    // User data over this side's limit is refused by the session it belongs to, not by the decoder
    // (which would close the whole connection); the decoder only enforces the wire's ceiling.
    this.#decoder = new FrameDecoder(
      { frameBytesMax: this.limits.frameBytesMax, userDataBytesMax: USER_DATA_BYTES_CEILING },
      { expectPreface: true },
    );
    this.#keepaliveIntervalMs = this.limits.keepaliveIntervalMs;
    this.#idleTimeoutMs = this.limits.idleTimeoutMs;
    this.#host = {
      emit: (e: SessionEvent) => this.#events.push(e),
      wake: (s: Session) => this.#wake(s),
      sendControl: (f: Frame) => this.#control.push(f),
      released: (s: Session) => this.#released(s),
      rttSample: (ms: number) => this.#rttSample(ms),
      established: (session: Session, agreed: AgreedParameters) => this.#established(session, agreed),
      detach: (session: Session) => this.#detach(session),
      agree: (mine: KeyShare, peerPublicKey: Uint8Array) => this.#agree(mine, peerPublicKey),
      timer: (session: Session) => this.#timed.add(session),
      sendRoom: (session: Session, unackedBytes: number) => this.#sendRoom(session, unackedBytes),
      inflightCap: (session: Session) => (this.#contended(session) ? this.limits.contendedInflightBytes : Infinity),
      sentData: (session: Session, chargedBytes: number) => this.#sentData(session, chargedBytes),
      credit: (delta: number) => this.#creditMoved(delta),
    };
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Responder: RESUMEs refused on this connection so far (a driver rate-limits on it). */
  get resumesRefused(): number {
    return this.#resumesRefused;
  }

  get rtt(): RttEstimate | null {
    return this.#rtt;
  }

  session(channel: number): Session | undefined {
    return this.#sessions.get(channel);
  }

  /**
   * Binds this connection to the secure channel under it (the Noise handshake hash): resume keys
   * of sessions established here are derived from it, and resume proofs made or checked here
   * cover it, so a proof cannot be replayed onto another secure channel.
   * @throws UsageError once the transport is up (bytes could already depend on the binding).
   */
  bindChannel(binding: Uint8Array): void {
    if (this.#state !== 'idle') throw new UsageError(ErrorCode.INVALID_STATE, 'bind the channel before transport up');
    this.#channelBinding = binding.slice();
  }

  /**
   * What proofs made on this connection cover (resume proofs, PSK proofs): the CHALLENGE nonce,
   * followed on a secure connection by its handshake hash, so a proof relayed from one secure
   * channel to another fails.
   */
  #boundChallenge(challenge: Uint8Array): Uint8Array {
    return bindChallenge(challenge, this.#channelBinding);
  }

  // ---------------------------------------------------------------- inputs

  handleTransportUp(now: number): void {
    if (this.#state !== 'idle') throw new UsageError(ErrorCode.INVALID_STATE, 'transport already up');
    this.#now = now;
    this.#state = 'open';
    this.#prefacePending = true;
    this.#windowUpdateDue = this.limits.connectionWindowBytes !== INITIAL_CONNECTION_WINDOW_BYTES;
    this.#lastReceivedAt = now;
    this.#noSessionsSince = now;
    if (this.role === 'responder' && this.#random && this.#table) {
      this.#challenge = this.#random(NONCE_BYTES);
      this.#control.push({ type: FrameType.CHALLENGE, channel: CONNECTION_CHANNEL, nonce: this.#challenge });
    }
  }

  /** Bytes from the transport, split anywhere. Never throws for anything the peer sent. */
  handleBytes(now: number, bytes: Uint8Array): void {
    if (this.#state !== 'open') return;
    this.#now = now;
    this.#lastReceivedAt = now;
    this.#decoder.push(bytes);
    for (;;) {
      let frame: Frame | null;
      try {
        frame = this.#decoder.next();
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        this.close(now, e.wireCode, e.message);
        return;
      }
      if (frame === null) return;
      if (this.#tracer) this.#tracer({ kind: 'frame-in', channel: frame.channel, frame: frameTypeName(frame.type) });
      this.#route(now, frame);
      if (this.#state !== 'open') return;
    }
  }

  handleTimeout(now: number): void {
    if (this.#state === 'closed') return;
    this.#now = now;
    if (this.#state === 'idle') {
      for (const s of [...this.#timed]) if (s.isHostedBy(this.#host)) s.handleTimeout(now);
      return;
    }
    const silentMs = now - this.#lastReceivedAt;
    if (this.#idleTimeoutMs > 0 && silentMs >= this.#idleTimeoutMs) {
      // A silent transport is as good as a broken one: resumable sessions wait for a new one.
      const why = `peer unresponsive: nothing received for ${silentMs} ms`;
      this.#shutdown(now, 'local', AbortCode.IDLE_TIMEOUT, why, false, true);
      return;
    }
    if (this.#sessions.size === 0 && now - this.#noSessionsSince >= this.limits.handshakeTimeoutMs) {
      const why =
        this.#highestPeerChannel === 0 && this.#nextChannel === 1
          ? 'no session established in time'
          : 'no sessions left';
      this.close(
        now,
        this.#highestPeerChannel === 0 && this.#nextChannel === 1 ? AbortCode.HANDSHAKE_TIMEOUT : AbortCode.SHUTDOWN,
        why,
      );
      return;
    }
    if (
      this.#keepaliveIntervalMs > 0 &&
      silentMs >= this.#keepaliveIntervalMs &&
      now - this.#lastPingAt >= this.#keepaliveIntervalMs
    ) {
      this.#lastPingAt = now;
      this.#control.push({ type: FrameType.PING, channel: CONNECTION_CHANNEL, stamp: now });
    }
    for (const s of [...this.#timed]) if (s.isHostedBy(this.#host)) s.handleTimeout(now);
  }

  /**
   * The transport is gone. Resumable sessions are suspended into the session table (events
   * `suspended`); the others end with a provider abort (`code`: TRANSPORT_LOST, or why a secure
   * channel under this connection broke, which makes the connection-closed origin 'local').
   */
  handleTransportDown(now: number, message = 'transport closed', code: AbortCode = AbortCode.TRANSPORT_LOST): void {
    if (this.#state === 'closed') return;
    this.#now = now;
    // Another code means this side dropped the transport itself (a secure channel failed): origin local.
    this.#shutdown(now, code === AbortCode.TRANSPORT_LOST ? 'transport' : 'local', code, message, false, true);
  }

  // ---------------------------------------------------------------- commands

  /**
   * Initiator: opens a session with a connect request. Allowed before the transport is up: the
   * request then leaves right after the preface, and the handshake deadline already runs.
   * @returns the new session, in state `connecting`.
   * @throws UsageError when not the initiator, the connection is not open, or over the session limit.
   */
  openSession(now: number, options: OpenSessionOptions = {}): Session {
    if (this.role !== 'initiator') throw new UsageError(ErrorCode.INVALID_STATE, 'only the initiator opens sessions');
    if (this.#state === 'closed') throw new UsageError(ErrorCode.INVALID_STATE, 'connection is closed');
    if (this.#sessions.size >= this.limits.sessionsPerConnectionMax) {
      throw new UsageError(
        ErrorCode.INVALID_STATE,
        `at most ${this.limits.sessionsPerConnectionMax} sessions per connection`,
      );
    }
    this.#now = now;
    const units = (knownUnits(options.units ?? DEFAULT_UNITS) & IMPLEMENTED_UNITS) | Unit.KERNEL;
    const userData = options.userData ?? EMPTY;
    if (userData.byteLength > this.limits.userDataBytesMax) {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, `user data exceeds ${this.limits.userDataBytesMax} bytes`);
    }
    const channel = this.#allocateChannel();
    const extensions = [...(options.extensions ?? [])];
    checkExtensions(options.extensions ?? []);
    const keyShare = this.#random && this.#table ? this.#ownKeyShare() : null;
    if (keyShare) extensions.push({ id: ExtensionId.KEY_SHARE, value: keyShare.publicKey });
    const credentials = options.credentials;
    if (Array.isArray(credentials)) {
      checkCredentials(credentials);
      extensions.push(...credentials);
    }
    extensions.push(...dialogueConnectExtensions(options.dialogue ?? {}));
    const connect = buildConnect(channel, this.limits, units, userData, extensions);
    const proveLater = typeof credentials === 'function' && this.#challenge === null;
    if (typeof credentials === 'function' && this.#challenge !== null) {
      connect.extensions.push(...provenCredentials(credentials, this.#boundChallenge(this.#challenge), connect));
    }
    const session = Session.initiate(now, this.#host, this.limits, connect, keyShare);
    if (proveLater) this.#credentialsDue.set(session, credentials);
    if (
      proveLater ||
      this.#heldConnects.size > 0 ||
      (this.#resumesWaiting && [...this.#sessions.values()].some((s) => s.link === 'resuming'))
    ) {
      // Sessions resuming here wait for the challenge to send RESUME on their lower channels: a
      // CONNECT sent now would overtake them, and the responder refuses a channel below one it saw.
      this.#control.splice(this.#control.indexOf(connect), 1);
      this.#heldConnects.set(session, connect);
    }
    this.#sessions.set(channel, session);
    return session;
  }

  /**
   * Initiator: carries a suspended session on this (new) connection. RESUME leaves as soon as
   * the responder's challenge is here; the session replays what its peer may lack right behind it.
   * @throws UsageError unless the session is suspended and this connection is not closed.
   */
  resumeSession(now: number, session: Session): void {
    if (this.role !== 'initiator') throw new UsageError(ErrorCode.INVALID_STATE, 'only the initiator resumes sessions');
    if (this.#state === 'closed') throw new UsageError(ErrorCode.INVALID_STATE, 'connection is closed');
    this.#now = now;
    const channel = this.#allocateChannel();
    session.attachForResume(now, this.#host, channel);
    this.#sessions.set(channel, session);
    if (this.#challenge && this.#random) {
      session.sendResume(now, this.#boundChallenge(this.#challenge), this.#random(NONCE_BYTES));
    } else this.#resumesWaiting = true;
  }

  #allocateChannel(): number {
    if (this.#nextChannel > 0xffff_ffff) throw new UsageError(ErrorCode.INVALID_STATE, 'channel numbers exhausted');
    const channel = this.#nextChannel;
    this.#nextChannel += 2;
    return channel;
  }

  /**
   * Closes the whole connection: every session is provider-aborted with `code`, the peer is told
   * with CONNECTION_CLOSE, and the driver should close the transport once pollTransmit is empty.
   */
  close(now: number, code: AbortCode = AbortCode.SHUTDOWN, message = 'connection closed'): void {
    if (this.#state === 'closed') return;
    this.#now = now;
    if (this.#state === 'open')
      this.#control.push({ type: FrameType.CONNECTION_CLOSE, channel: CONNECTION_CHANNEL, code, message });
    this.#shutdown(now, 'local', code, message, false, false);
  }

  // ---------------------------------------------------------------- outputs

  /** The next bytes to write to the transport (many frames batched) as one array, or null. */
  pollTransmit(): Uint8Array | null {
    const segments = this.pollTransmitSegments();
    if (segments === null) return null;
    return segments.length === 1 ? (segments[0] as Uint8Array) : concatBytes(segments);
  }

  /**
   * The same bytes as segments for a vectored write (large payloads are not copied). The caller
   * writes them in order and must not modify them.
   */
  pollTransmitSegments(): Uint8Array[] | null {
    if (this.#state === 'idle') return null;
    const w = this.#writer;
    if (this.#prefacePending) {
      w.bytes(PREFACE);
      this.#prefacePending = false;
    }
    for (const f of this.#control) writeFrame(w, f);
    this.#control.length = 0;
    if (this.#windowUpdateDue && this.#state === 'open') {
      // The limit only grows: the peer ignores a lower one (and may already send up to the initial
      // 1 MiB, or up to what a message's fragments earned before it was delivered unconsumed).
      const limit = Math.min(this.#creditBytes, this.#receivedBytes) + this.limits.connectionWindowBytes;
      this.#advertisedLimit = Math.max(this.#advertisedLimit, limit);
      writeFrame(w, { type: FrameType.WINDOW, channel: CONNECTION_CHANNEL, windowLimit: this.#advertisedLimit });
      this.#windowUpdateDue = false;
    }
    if (this.#state === 'closed') return w.byteLength > 0 ? w.takeSegments() : null;
    const budget = this.limits.transmitBatchBytes;
    while (w.byteLength < budget && this.#ready.length > 0) {
      const round = this.#ready;
      this.#ready = [];
      for (const s of round) {
        if (!s.isHostedBy(this.#host)) {
          // Moved to another connection (resumed elsewhere) or parked: never write it here.
          this.#readySet.delete(s);
          continue;
        }
        // A turn is up to TURN_BYTES of frames: fair between sessions, cheap for one alone.
        const turnEnd = Math.min(budget, w.byteLength + TURN_BYTES);
        let wrote = false;
        while (w.byteLength < turnEnd && s.writeNext(w)) wrote = true;
        if ((wrote || w.byteLength >= budget) && s.hasWork()) this.#ready.push(s);
        else this.#readySet.delete(s);
      }
    }
    return w.byteLength > 0 ? w.takeSegments() : null;
  }

  pollEvent(): ConnectionEvent | null {
    if (this.#eventsHead >= this.#events.length) {
      if (this.#eventsHead > 0) {
        this.#events.length = 0;
        this.#eventsHead = 0;
      }
      return null;
    }
    const e = this.#events[this.#eventsHead] as ConnectionEvent;
    this.#events[this.#eventsHead++] = undefined as unknown as ConnectionEvent;
    return e;
  }

  /** When handleTimeout must next be called (same clock as `now`), or null for never. */
  pollTimeout(): number | null {
    if (this.#state === 'closed') return null;
    let next = Infinity;
    if (this.#state === 'idle') {
      next = this.#sessionDeadline();
      return next === Infinity ? null : Math.max(next, this.#now);
    }
    if (this.#idleTimeoutMs > 0) next = Math.min(next, this.#lastReceivedAt + this.#idleTimeoutMs);
    if (this.#keepaliveIntervalMs > 0) {
      next = Math.min(next, Math.max(this.#lastReceivedAt, this.#lastPingAt) + this.#keepaliveIntervalMs);
    }
    if (this.#sessions.size === 0) next = Math.min(next, this.#noSessionsSince + this.limits.handshakeTimeoutMs);
    next = Math.min(next, this.#sessionDeadline());
    return next === Infinity ? null : Math.max(next, this.#now);
  }

  /** The earliest session deadline; forgets sessions that no longer have one here. */
  #sessionDeadline(): number {
    let next = Infinity;
    for (const s of this.#timed) {
      const d = s.isHostedBy(this.#host) ? s.nextDeadline() : null;
      if (d === null) this.#timed.delete(s);
      else if (d < next) next = d;
    }
    return next;
  }

  // ---------------------------------------------------------------- internals

  #route(now: number, f: Frame): void {
    if (f.channel === CONNECTION_CHANNEL) return this.#routeConnectionFrame(now, f);
    if (f.type === FrameType.DATA || f.type === FrameType.TYPED_DATA || f.type === FrameType.EXPEDITED) {
      this.#receivedBytes += f.payload.byteLength + FRAME_CHARGE_BYTES;
      if (this.#receivedBytes > this.#advertisedLimit) {
        const over = this.#receivedBytes - this.#advertisedLimit;
        this.close(now, AbortCode.FLOW_CONTROL, `peer sent ${over} bytes beyond the connection's window`);
        return;
      }
      if (!this.#sessions.has(f.channel)) this.#creditMoved(f.payload.byteLength + FRAME_CHARGE_BYTES);
    }
    const session = this.#sessions.get(f.channel);
    if (session) return session.handleFrame(now, f);
    if (f.type === FrameType.CONNECT) return this.#connectRequest(now, f);
    if (f.type === FrameType.RESUME) return this.#resumeRequest(now, f);
    if (this.#wasUsed(f.channel)) return; // a closed session's frames still in flight
    this.close(now, AbortCode.UNEXPECTED_FRAME, `${frameTypeName(f.type)} for unknown channel ${f.channel}`);
  }

  #routeConnectionFrame(now: number, f: Frame): void {
    switch (f.type) {
      case FrameType.PING: {
        // At most one answer waits: a peer that pings without reading gets only the latest back.
        const pending = this.#control.find((c) => c.type === FrameType.PONG);
        if (pending) (pending as { stamp: number }).stamp = f.stamp;
        else this.#queueControl(now, { type: FrameType.PONG, channel: CONNECTION_CHANNEL, stamp: f.stamp });
        return;
      }
      case FrameType.PONG:
        if (Number.isFinite(f.stamp) && f.stamp <= now && f.stamp === this.#lastPingAt) this.#rttSample(now - f.stamp);
        return;
      case FrameType.CONNECTION_CLOSE:
        this.#shutdown(now, 'peer', f.code as AbortCode, f.message, true, false);
        return;
      case FrameType.WINDOW:
        if (f.windowLimit > this.#peerWindowLimit) {
          this.#peerWindowLimit = f.windowLimit;
          for (const s of this.#sessions.values()) if (s.hasWork()) this.#wake(s);
        }
        return;
      case FrameType.CHALLENGE:
        if (this.role !== 'initiator' || this.#challenge !== null) {
          this.close(now, AbortCode.UNEXPECTED_FRAME, 'unexpected CHALLENGE');
          return;
        }
        this.#challenge = f.nonce.slice();
        for (const s of this.#sessions.values()) {
          if (s.link === 'resuming' && this.#random) {
            s.sendResume(now, this.#boundChallenge(this.#challenge), this.#random(NONCE_BYTES));
          }
          const held = this.#heldConnects.get(s);
          if (!held) continue;
          const prove = this.#credentialsDue.get(s);
          if (prove && held.type === FrameType.CONNECT) {
            try {
              held.extensions.push(...provenCredentials(prove, this.#boundChallenge(this.#challenge), held));
            } catch (e) {
              // Credentials that cannot be made: the peer never hears of this session.
              this.#heldConnects.delete(s);
              s.providerAbort(now, AbortCode.INTERNAL, `credentials: ${(e as Error).message}`, { notifyPeer: false });
              continue;
            }
          }
          this.#control.push(held);
        }
        this.#heldConnects.clear();
        this.#credentialsDue.clear();
        this.#resumesWaiting = false;
        return;
      default:
        this.close(now, AbortCode.UNEXPECTED_FRAME, `${frameTypeName(f.type)} on the connection channel`);
    }
  }

  #connectRequest(now: number, f: Extract<Frame, { type: typeof FrameType.CONNECT }>): void {
    if (this.role !== 'responder') {
      this.close(now, AbortCode.UNEXPECTED_FRAME, 'CONNECT sent to the initiator');
      return;
    }
    if (f.channel % 2 === 0 || f.channel <= this.#highestPeerChannel) {
      this.close(now, AbortCode.PROTOCOL_ERROR, `CONNECT on channel ${f.channel}: channels are odd and never reused`);
      return;
    }
    this.#highestPeerChannel = f.channel;
    if (this.#sessions.size >= this.limits.sessionsPerConnectionMax) {
      this.#queueControl(now, {
        type: FrameType.REFUSE,
        channel: f.channel,
        code: RefuseCode.CONGESTION,
        userData: EMPTY,
      });
      return;
    }
    const evaluation = evaluateConnect(f, this.limits, this.#acceptableUnits);
    if (!evaluation.ok) {
      this.#queueControl(now, { type: FrameType.REFUSE, channel: f.channel, code: evaluation.code, userData: EMPTY });
      return;
    }
    if (f.userData.byteLength > this.limits.userDataBytesMax) {
      const code = RefuseCode.PARAMETERS_UNACCEPTABLE;
      this.#queueControl(now, { type: FrameType.REFUSE, channel: f.channel, code, userData: EMPTY });
      return;
    }
    const request = {
      versionMin: f.versionMin,
      versionMax: f.versionMax,
      proposedUnits: knownUnits(f.units),
      agreed: evaluation.agreed,
      // The protocol's own extensions (ids below 0x30) are not the application's business.
      extensions: f.extensions.filter((e) => e.id >= APPLICATION_EXTENSION_ID_MIN),
      userData: f.userData,
      credentials: credentialsOf(f.extensions),
      // Under Noise the challenge a PSK proof covers includes the handshake hash (channel binding).
      challenge: this.#challenge && this.#boundChallenge(this.#challenge),
      keyShare: extensionValue(f.extensions, ExtensionId.KEY_SHARE),
      dialogue: dialogueProposal(f.extensions),
    };
    const offer = this.#recoveryOffer(f.extensions);
    const session = Session.respond(now, this.#host, this.limits, f.channel, request, offer);
    this.#sessions.set(f.channel, session);
  }

  #recoveryOffer(extensions: Extension[]): RecoveryOffer | null {
    const peerPublicKey = extensions.find((e) => e.id === ExtensionId.KEY_SHARE)?.value;
    if (peerPublicKey?.byteLength !== 32 || !this.#random || !this.#table) return null;
    return {
      keyShare: this.#ownKeyShare(),
      peerPublicKey: peerPublicKey.slice(),
      sessionId: this.#random(SESSION_ID_BYTES),
      resumeWindowMs: this.limits.resumeWindowMs,
    };
  }

  /** Responder: a session resumes on this connection (or is refused without saying why). */
  #resumeRequest(now: number, f: Extract<Frame, { type: typeof FrameType.RESUME }>): void {
    if (this.role !== 'responder') {
      this.close(now, AbortCode.UNEXPECTED_FRAME, 'RESUME sent to the initiator');
      return;
    }
    if (f.channel % 2 === 0 || f.channel <= this.#highestPeerChannel) {
      this.close(now, AbortCode.PROTOCOL_ERROR, `RESUME on channel ${f.channel}: channels are odd and never reused`);
      return;
    }
    this.#highestPeerChannel = f.channel;
    const session = this.#table?.find(f.sessionId);
    const challenge = this.#challenge;
    let final: FinalCount | undefined;
    if (session && challenge && this.#sessions.size < this.limits.sessionsPerConnectionMax) {
      if (session.resumeFrom(now, this.#host, f.channel, f, this.#boundChallenge(challenge))) {
        this.#table?.unpark(session);
        this.#sessions.set(f.channel, session);
        return;
      }
    } else if (session === undefined && challenge) {
      final = this.#tombstoneAnswer(now, f, challenge);
    } else {
      this.#decoyCheck(f, challenge);
    }
    // Unknown, expired and unproven look the same from outside; only a proven resume of an
    // ended session also learns its final count. What the initiator sends next on this channel
    // (its replay) is dropped as traffic of a closed channel.
    this.#resumesRefused++;
    this.#queueControl(now, {
      type: FrameType.RESUME_REFUSE,
      channel: f.channel,
      code: AbortCode.RESUME_REFUSED,
      message: final ? 'the session has ended' : 'no session to resume',
      ...(final ? { final } : {}),
    });
  }

  /**
   * A resume of no live session: if the table still keeps its tombstone and the resume proves
   * the session's key, the answer carries the session's final received count, proven in turn.
   */
  #tombstoneAnswer(now: number, f: ResumeFrame, nonce: Uint8Array): FinalCount | undefined {
    const tomb = this.#table?.tombstone(now, f.sessionId);
    if (tomb === undefined) {
      this.#decoyCheck(f, nonce);
      return undefined;
    }
    const challenge = this.#boundChallenge(nonce);
    const expected = resumeProof(tomb.key, 'initiator', { ...f, challenge });
    if (!constantTimeEqual(expected, f.proof)) return undefined;
    const proof = resumeProof(tomb.key, 'final', { ...f, challenge, received: tomb.received });
    return { received: tomb.received, proof };
  }

  /**
   * No session to check against: the same HMAC and comparison are spent all the same, so an
   * unknown id takes the path (and the time) of a wrong proof.
   */
  #decoyCheck(f: ResumeFrame, nonce: Uint8Array | null): void {
    const decoy = resumeProof(DECOY_RESUME_KEY, 'initiator', {
      ...f,
      challenge: this.#boundChallenge(nonce ?? f.clientNonce),
    });
    constantTimeEqual(decoy, f.proof);
  }

  #wasUsed(channel: number): boolean {
    if (channel % 2 === 0) return false;
    return this.role === 'initiator' ? channel < this.#nextChannel : channel <= this.#highestPeerChannel;
  }

  #wake(s: Session): void {
    if (this.#readySet.has(s)) return;
    this.#readySet.add(s);
    this.#ready.push(s);
  }

  #released(s: Session): void {
    this.#credentialsDue.delete(s);
    if (this.#heldConnects.delete(s)) {
      // Closed before its CONNECT left: the peer never hears of this channel.
      for (let i = this.#control.length - 1; i >= 0; i--) {
        if ((this.#control[i] as Frame).channel === s.channel) this.#control.splice(i, 1);
      }
    }
    const reason = s.closeReason as CloseReason;
    if (this.#tracer) this.#tracer({ kind: 'session-closed', channel: s.channel, reason });
    this.#table?.forget(s);
    this.#detach(s);
  }

  /**
   * Queues a frame the engine answers with (refusals, pongs). A peer that keeps asking without
   * reading the answers would grow this queue without bound: past CONTROL_QUEUE_MAX it is closed.
   */
  #queueControl(now: number, f: Frame): void {
    if (this.#control.length >= CONTROL_QUEUE_MAX) {
      this.close(now, AbortCode.LIMIT_EXCEEDED, 'the peer does not read what it asks for');
      return;
    }
    this.#control.push(f);
  }

  /** Charged bytes `session` may send now: the connection's window, and the cap while sessions contend. */
  #sendRoom(session: Session, unackedBytes: number): number {
    const window = this.#peerWindowLimit - this.#sentBytes;
    return this.#contended(session) ? Math.min(window, this.limits.contendedInflightBytes - unackedBytes) : window;
  }

  #contended(session: Session): boolean {
    return this.#now < this.#contendedUntil || (this.#lastSender !== null && this.#lastSender !== session);
  }

  #sentData(session: Session, chargedBytes: number): void {
    this.#sentBytes += chargedBytes;
    if (this.#lastSender !== session) {
      // Another session took a turn: for a while, every sender keeps its bytes in flight small.
      if (this.#lastSender !== null) this.#contendedUntil = this.#now + CONTENTION_HOLD_MS;
      this.#lastSender = session;
    }
  }

  /** Receive credit moved (the application consumed, fragments wait for reassembly, frames were dropped). */
  #creditMoved(delta: number): void {
    this.#creditBytes += delta;
    const window = this.limits.connectionWindowBytes;
    const opened = Math.min(this.#creditBytes, this.#receivedBytes) + window - this.#advertisedLimit;
    if (opened >= window / 2 && !this.#windowUpdateDue) this.#windowUpdateDue = true;
  }

  /** One ephemeral key pair per connection, for every session it establishes. */
  #ownKeyShare(): KeyShare {
    if (this.#keyShare === null) this.#keyShare = this.#keyAgreement.newKeyShare(this.#random as RandomSource);
    return this.#keyShare;
  }

  /** X25519 agreement, computed once per (own key, peer key): sessions of one peer share it. */
  #agree(mine: KeyShare, peerPublicKey: Uint8Array): Uint8Array {
    if (this.#agreed && this.#agreed.mine === mine && constantTimeEqual(this.#agreed.peer, peerPublicKey)) {
      return this.#agreed.shared;
    }
    const shared = bindSecret(this.#keyAgreement.agree(mine, peerPublicKey), this.#channelBinding);
    this.#agreed = { mine, peer: peerPublicKey.slice(), shared };
    return shared;
  }

  #detach(s: Session): void {
    if (this.#sessions.get(s.channel) !== s) return;
    this.#sessions.delete(s.channel);
    if (this.#sessions.size === 0) this.#noSessionsSince = this.#now;
    if (this.#lastSender === s) {
      // The session others were capped against is gone: the cap must not outlive it (the others
      // could wait for acknowledgements that no longer come, sim seed 1203007).
      this.#lastSender = null;
      for (const other of this.#sessions.values()) this.#wake(other);
    }
  }

  #established(session: Session, agreed: AgreedParameters): void {
    if (this.role === 'responder' && session.sessionId) this.#table?.register(session);
    this.#keepaliveIntervalMs = minEnabled(this.#keepaliveIntervalMs, agreed.keepaliveIntervalMs);
    this.#idleTimeoutMs = minEnabled(this.#idleTimeoutMs, agreed.idleTimeoutMs);
  }

  #rttSample(ms: number): void {
    const r = this.#rtt;
    // RFC 6298 smoothing: the estimate moves an eighth of the way, its variation a quarter.
    this.#rtt = r
      ? {
          latestMs: ms,
          smoothedMs: r.smoothedMs + (ms - r.smoothedMs) / 8,
          variationMs: r.variationMs + (Math.abs(r.smoothedMs - ms) - r.variationMs) / 4,
        }
      : { latestMs: ms, smoothedMs: ms, variationMs: ms / 2 };
    this.#events.push({ type: 'rtt', rttMs: ms, smoothedRttMs: this.#rtt.smoothedMs });
  }

  #shutdown(
    now: number,
    origin: 'local' | 'peer' | 'transport',
    code: AbortCode,
    message: string,
    fromPeer: boolean,
    suspend: boolean,
  ): void {
    this.#state = 'closed';
    const table = this.#table;
    for (const s of [...this.#sessions.values()]) {
      // Established sessions, and sessions whose resume failed with this connection, wait in the table.
      if (suspend && table && s.resumable) {
        this.#sessions.delete(s.channel);
        s.suspend(now, table.host, message);
        table.park(now, s);
      } else {
        s.providerAbort(now, code, message, { notifyPeer: false, fromPeer });
      }
    }
    this.#sessions.clear();
    this.#ready = [];
    this.#readySet.clear();
    if (origin !== 'local') this.#control.length = 0;
    if (this.#tracer) this.#tracer({ kind: 'connection-closed', origin, code, message });
    this.#events.push({ type: 'connection-closed', origin, code, message });
  }
}

/** The credentials a function makes from the challenge, checked like fixed ones. */
function provenCredentials(
  prove: (challenge: Uint8Array, connect: ConnectFrame) => Extension[],
  challenge: Uint8Array,
  connect: ConnectFrame,
): Extension[] {
  const made = prove(challenge, connect);
  checkCredentials(made);
  return made;
}

const EMPTY = new Uint8Array(0);
const DECOY_RESUME_KEY = new Uint8Array(32);
/** Answers (pongs, refusals) that may wait unread before the peer is cut off. */
const CONTROL_QUEUE_MAX = 1024;
/** Bytes one session may write per round-robin turn (one frame at least). */
const TURN_BYTES = 16 * 1024;
/** How long the connection counts as contended after a second session sent data. */
const CONTENTION_HOLD_MS = 100;
