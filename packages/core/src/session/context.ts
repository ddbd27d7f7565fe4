/**
 * The state of one session, by concern, as its parts (phase, establish, outbox, transmit,
 * receive, ack, resume, renewal, named tokens, dialogue port, timers) share it.
 *
 * Theory of operation
 * - Session (session.ts) holds one SessionContext and routes commands, frames and time to the
 *   parts; each part is a set of functions over the context, so a part's logic reads in one file.
 * - What a resumed session needs again (phase, sequence numbers, queues, ids, keys, tokens, the
 *   credentials deadline) sits in plain per-concern objects; what must never be stored (the host,
 *   the write-blocked flag, the acknowledgement timer) sits apart in `live`. The link's challenge
 *   and nonce belong to one resume attempt and are transient too, though kept in `recovery.link`.
 * - Parts see the session object only as an opaque handle they pass back to the host and put in
 *   events, so none of them imports session.ts (no import circle).
 * - Only phase.ts assigns `phase.state`.
 */
import { AbortCode, ErrorCode, ProtocolError, UsageError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { KeyShare } from '../recovery/proof.js';
import { type Frame, FrameType, frameTypeName } from '../wire/frame.js';
import type { Dialogue } from './dialogue.js';
import { InboundStream } from './inbound-stream.js';
import type { NamedTokenOffer, NamedTokenRequests } from './named-token-requests.js';
import { OutboundStream } from './outbound-stream.js';
import type { ResumeCredentials } from './resume-credentials.js';
import { type Outgoing, SendQueue } from './send-queue.js';
import type {
  AgreedParameters,
  Link,
  RecoveryOffer,
  SessionHostOf,
  SessionState,
  SessionStats,
  UndeliveredMessage,
} from './types.js';

/** The Session object as its parts see it: handed back to the host and carried in events. */
export type SessionHandle = object;
export type PartsHost = SessionHostOf<SessionHandle>;

/** The phase, and what release and close leave behind. */
export interface PhaseState {
  state: SessionState;
  /** Opened by this side (credentials are renewed by the initiator, answered by the responder). */
  readonly initiator: boolean;
  /** The number of the DISCONNECT sent, once sent (-1 before). */
  disconnectSeq: number;
  /** When the session closed (its tombstone's age runs from here). */
  closedAt: number;
  undeliveredAtClose: UndeliveredMessage[];
}

/** The outbox: queued messages, and what was sent and not yet acknowledged. */
export interface SendState {
  readonly queue: SendQueue;
  /** Numbers sent, the peer's acknowledgements and window, the retransmit buffer, pacing. */
  readonly tx: OutboundStream;
  /** The peer proved how much it received (a tombstone's answer): nothing sent is left unconfirmed. */
  deliveryKnown: boolean;
}

export interface RecoveryState {
  /** Initiator: the key share its CONNECT carried, until the ACCEPT answers it. */
  keyShare: KeyShare | null;
  /** Responder: what it offers, until it accepts. */
  offer: RecoveryOffer | null;
  credentials: ResumeCredentials | null;
  link: Link;
  /** Frames the peer resends after a resume that this side already has. */
  duplicatesToDrop: number;
  /** When the current suspension must have ended (set by the table that parks the session). */
  resumeDeadline: number;
  credentialsExpireAt: number;
  /** Responder: a frame of the initiator arrived after the ACCEPT (it knows the session exists). */
  peerHeard: boolean;
}

/** Named tokens: the initiator's requests (when the responder offered them), or what the responder offered. */
export interface TokenState {
  requests: NamedTokenRequests | null;
  offer: NamedTokenOffer | null;
}

/** What never outlives the process: the carrier, backpressure and the acknowledgement timer. */
export interface LiveState {
  host: PartsHost;
  writerBlocked: boolean;
  ackDueAt: number | null;
  ackNow: boolean;
}

export interface SessionContext {
  readonly session: SessionHandle;
  readonly limits: Limits;
  /** The channel on the current connection (a resumed session gets a new one). */
  channel: number;
  agreed: AgreedParameters | null;
  /** Tokens, sync points and activities; created at establishment. */
  dialogue: Dialogue | null;
  readonly phase: PhaseState;
  readonly send: SendState;
  /** Receiving: the stream's counts, its window and reassembly. */
  readonly rx: InboundStream;
  readonly recovery: RecoveryState;
  readonly tokens: TokenState;
  readonly stats: SessionStats;
  readonly live: LiveState;
}

/** A new session's context: nothing sent, received or agreed yet, attached to `host`. */
export function createContext(
  session: SessionHandle,
  channel: number,
  host: PartsHost,
  limits: Limits,
  state: SessionState,
  initiator: boolean,
  recovery: { keyShare: KeyShare | null; offer: RecoveryOffer | null },
  stats: SessionStats,
): SessionContext {
  return {
    session,
    limits,
    channel,
    agreed: null,
    dialogue: null,
    phase: { state, initiator, disconnectSeq: -1, closedAt: 0, undeliveredAtClose: [] },
    send: { queue: new SendQueue(), tx: new OutboundStream(), deliveryKnown: false },
    rx: new InboundStream(limits.receiveWindowBytes),
    recovery: {
      keyShare: recovery.keyShare,
      offer: recovery.offer,
      credentials: null,
      link: ATTACHED,
      duplicatesToDrop: 0,
      resumeDeadline: Number.POSITIVE_INFINITY,
      credentialsExpireAt: Number.POSITIVE_INFINITY,
      peerHeard: false,
    },
    tokens: { requests: null, offer: null },
    stats,
    live: { host, writerBlocked: false, ackDueAt: null, ackNow: false },
  };
}

export const EMPTY = new Uint8Array(0);
/** Stateless links are shared: a server holds thousands of sessions. */
export const ATTACHED: Link = Object.freeze({ name: 'attached' });

/**
 * The least payload a fragment other than the last may carry. A sender never splits finer than
 * min(4096, the peer's frame payload, half its window less the charge), at least 480 bytes with the
 * protocol's floors; the receiver refuses less, which bounds fragments per message.
 */
export const FRAGMENT_BYTES_MIN = 256;

export function isEstablished(c: SessionContext): boolean {
  const n = c.phase.state.name;
  return n === 'open' || n === 'releasing' || n === 'release-requested' || n === 'disconnecting';
}

export function canSendData(c: SessionContext): boolean {
  return c.phase.state.name === 'open' || c.phase.state.name === 'release-requested';
}

export function isFlowControlled(type: number): boolean {
  return type === FrameType.DATA || type === FrameType.TYPED_DATA || type === FrameType.EXPEDITED;
}

export function wake(c: SessionContext): void {
  c.live.host.wake(c.session);
}

export function armTimer(c: SessionContext): void {
  c.live.host.timer(c.session);
}

export function enqueue(c: SessionContext, item: Outgoing): void {
  c.send.queue.push(item);
  wake(c);
}

/** The agreed retransmit budget (this side's own limit until agreed). */
export function retransmitBudget(c: SessionContext): number {
  return c.agreed?.retransmitBufferBytes ?? c.limits.retransmitBufferBytes;
}

export function checkUserData(c: SessionContext, userData: Uint8Array): void {
  if (userData.byteLength > c.limits.userDataBytesMax) {
    throw new UsageError(
      ErrorCode.INVALID_ARGUMENT,
      `user data of ${userData.byteLength} bytes exceeds the limit of ${c.limits.userDataBytesMax}`,
    );
  }
}

export function invalid(c: SessionContext, what: string): UsageError {
  return new UsageError(ErrorCode.INVALID_STATE, `cannot ${what} in state ${c.phase.state.name}`);
}

export function unitMissing(what: string, unit: string): UsageError {
  return new UsageError(ErrorCode.UNIT_NOT_SELECTED, `${what} needs the ${unit} functional unit, not selected`);
}

export function unexpected(c: SessionContext, f: Frame): ProtocolError {
  return new ProtocolError(
    AbortCode.UNEXPECTED_FRAME,
    `${frameTypeName(f.type)} not allowed in state ${c.phase.state.name}`,
  );
}
