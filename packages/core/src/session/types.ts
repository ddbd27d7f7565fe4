/**
 * The data types a session shares with its parts, its connection and its application: agreed
 * values, the states, counters and the events, none of which needs the Session class itself
 * (events and the host are generic over it). Kept apart so that negotiation, the send queue and
 * the session's concern modules import no module that imports the session (no import circle).
 */
import type { CloseReason } from '../errors.js';
import type { KeyShare } from '../recovery/proof.js';
import type { ConnectFrame, Extension, Frame } from '../wire/frame.js';
import type { PskBinding } from './credentials.js';
import type { DialogueEvent } from './dialogue.js';
import type { DialogueProposal } from './dialogue-setup.js';

/** Values both sides agreed at establishment. */
export interface AgreedParameters {
  version: number;
  units: number;
  /** Frames this side may send are at most this large (the peer's limit). */
  peerFrameBytesMax: number;
  /** Messages this side may send are at most this large (the peer's limit). */
  peerMessageBytesMax: number;
  /** The peer's initial flow-control window, in bytes. */
  peerInboundStreamBytes: number;
  keepaliveIntervalMs: number;
  idleTimeoutMs: number;
  /**
   * Bytes each side keeps for retransmission per session (and so may have unacknowledged): the
   * smaller of the two sides' retransmitBufferBytes, agreed at establishment (RETRANSMIT_BUFFER).
   */
  retransmitBufferBytes: number;
}

/** A connect request as the responder sees it, before it accepts or refuses. */
export interface ConnectRequest {
  versionMin: number;
  versionMax: number;
  /** Functional units the initiator proposed (only those this side knows). */
  proposedUnits: number;
  /** What acceptance would give: the intersection with this side's wishes and implementation. */
  agreed: AgreedParameters;
  extensions: Extension[];
  userData: Uint8Array;
  /** Credential extensions (ids 0x18-0x2F: AUTH_TOKEN, AUTH_PSK), for the application to verify. */
  credentials: Extension[];
  /**
   * What PSK proofs on this connection are bound to: its CHALLENGE nonce, followed on a Noise
   * connection by the handshake hash (48 bytes, PROTOCOL.md 5.18); null when no CHALLENGE was sent.
   */
  challenge: Uint8Array | null;
  /** The CONNECT's KEY_SHARE (a PSK proof covers it), or null. */
  keyShare: Uint8Array | null;
  /** Initial tokens and serial number the initiator proposed (dialogue units). */
  dialogue: DialogueProposal;
}

export type MessageKind = 'normal' | 'expedited' | 'typed';

/**
 * Of a message accepted by send() and not acknowledged: `undelivered` when the peer is known not
 * to have received it (never sent, or beyond the count a peer's tombstone proved); `unconfirmed`
 * when it was sent and its acknowledgement never came (it may have arrived: not known to be delivered).
 */
export type DeliveryStatus = 'undelivered' | 'unconfirmed';

export interface UndeliveredMessage {
  kind: MessageKind;
  data: Uint8Array;
  status: DeliveryStatus;
}

/** What a resumption did, in numbers. */
export interface ResumeStats {
  /** From the suspension (or, replacing a live connection, from the resume) to the resume. */
  downtimeMs: number;
  /** Whole messages this side sends again. */
  replayedMessages: number;
  /** Whole messages the peer said it sends again. */
  peerReplayedMessages: number;
  /** Frames this side drops because it already had them (the peer could not know). */
  duplicatesSuppressed: number;
  /** Always 0: a resume that would lose anything is refused instead and the session ends. */
  lost: 0;
}

/**
 * Events of one session. `channel` is its channel on the connection that raised the event;
 * `session` is the engine's session object, stable across resumes (drivers key on it). Generic
 * over the session type so that these types need no import of the Session class (events.ts
 * fixes it: `SessionEvent`).
 */
export type SessionEventOf<S> =
  | { type: 'connect-request'; channel: number; session: S; request: ConnectRequest }
  | {
      type: 'accepted';
      channel: number;
      session: S;
      agreed: AgreedParameters;
      extensions: Extension[];
      userData: Uint8Array;
      /** The ACCEPT's authentication extensions (ids 0x18-0x2F: AUTH_PSK_ANSWER), for the application to check. */
      credentials: Extension[];
      /** The ACCEPT's KEY_SHARE and SESSION_ID as received, which a PSK answer covers. */
      binding: PskBinding;
    }
  /** `credit`: what to pass to Session.consume() once the application has taken the message. */
  | { type: 'message'; channel: number; session: S; kind: MessageKind; data: Uint8Array; credit: number }
  | { type: 'writable'; channel: number; session: S }
  /** Tokens, sync points, resynchronization, exceptions, activities: in stream order with messages. */
  | { type: 'dialogue'; channel: number; session: S; event: DialogueEvent }
  | { type: 'release-requested'; channel: number; session: S; userData: Uint8Array }
  | { type: 'release-refused'; channel: number; session: S; userData: Uint8Array }
  | { type: 'suspended'; channel: number; session: S; reason: string }
  | { type: 'resumed'; channel: number; session: S; stats: ResumeStats }
  | { type: 'closed'; channel: number; session: S; reason: CloseReason }
  /** Responder: the peer asks its registry for a named token, or releases (or withdraws) one. */
  | { type: 'named-token-acquire' | 'named-token-release'; channel: number; session: S; name: string }
  /** Initiator: the responder's registry granted a named token this side asked for. */
  | { type: 'named-token-granted'; channel: number; session: S; name: string }
  /** Initiator: the responder's registry refused a request (`code`: a TokenRefuseCode). */
  | { type: 'named-token-refused'; channel: number; session: S; name: string; code: number }
  /** Responder: the initiator sent new credentials; answer with `Session.answerRenewal`. */
  | { type: 'renewal-requested'; channel: number; session: S; requestId: number; credentials: Extension[] }
  /** Initiator: the responder answered a renewal (code 0: accepted, else a RefuseCode). */
  | { type: 'renewal-answered'; channel: number; session: S; requestId: number; code: number; message: string };

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

/** Whether the session is on a transport, waiting for one, or resuming on one. */
export type Link =
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

/** What a responder offers for recovery when the initiator sent a key share. */
export interface RecoveryOffer {
  keyShare: KeyShare;
  peerPublicKey: Uint8Array;
  sessionId: Uint8Array;
  resumeWindowMs: number;
}

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

/** What a session needs from the connection that carries it (`S`: the session type; session.ts fixes it). */
export interface SessionHostOf<S> {
  emit(event: SessionEventOf<S>): void;
  /** The session has frames to transmit. */
  wake(session: S): void;
  /** The session has (or may have) a deadline: include it in pollTimeout/handleTimeout. */
  timer(session: S): void;
  /** A frame outside the session's reliable stream (establishment, abort) to send first. */
  sendControl(frame: Frame): void;
  /** The session reached `closed`; the connection forgets it. */
  released(session: S): void;
  /** A round-trip sample (connect to accept). */
  rttSample(rttMs: number): void;
  /** The session was established with these values (the connection adopts its timers). */
  established(session: S, agreed: AgreedParameters): void;
  /** The session moves to another host (a resume elsewhere): forget it without closing it. */
  detach(session: S): void;
  /** The X25519 shared secret of `mine` and the peer's key (cached per connection). @throws on a bad key. */
  agree(mine: KeyShare, peerPublicKey: Uint8Array): Uint8Array;
  /**
   * Charged bytes a session holding `unackedBytes` may send now as far as the connection is
   * concerned: its window, and the in-flight cap while sessions contend.
   */
  sendRoom(session: S, unackedBytes: number): number;
  /** The most `session` may have in flight now (the contention cap, or no limit when alone). */
  inflightCap(session: S): number;
  /** A flow-controlled frame of `chargedBytes` was written (new or replayed). */
  sentData(session: S, chargedBytes: number): void;
  /** The session's receive credit moved by `delta` charged bytes (consumed, reassembling, dropped). */
  credit(delta: number): void;
}
