/**
 * What the engine tells the application, pulled with `Connection.pollEvent()`. Events are
 * values queued during a handle*() or command call and read after it returns, so an application
 * reacting to one never re-enters a half-updated machine.
 */
import type { CloseReason } from '../errors.js';
import type { Extension } from '../wire/frame.js';
import type { PskBinding } from './credentials.js';
import type { DialogueEvent } from './dialogue.js';
import type { DialogueProposal } from './dialogue-setup.js';
import type { Session } from './session.js';

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
 * `session` is the engine's session object, stable across resumes (drivers key on it).
 */
export type SessionEvent =
  | { type: 'connect-request'; channel: number; session: Session; request: ConnectRequest }
  | {
      type: 'accepted';
      channel: number;
      session: Session;
      agreed: AgreedParameters;
      extensions: Extension[];
      userData: Uint8Array;
      /** The ACCEPT's authentication extensions (ids 0x18-0x2F: AUTH_PSK_ANSWER), for the application to check. */
      credentials: Extension[];
      /** The ACCEPT's KEY_SHARE and SESSION_ID as received, which a PSK answer covers. */
      binding: PskBinding;
    }
  /** `credit`: what to pass to Session.consume() once the application has taken the message. */
  | { type: 'message'; channel: number; session: Session; kind: MessageKind; data: Uint8Array; credit: number }
  | { type: 'writable'; channel: number; session: Session }
  /** Tokens, sync points, resynchronization, exceptions, activities: in stream order with messages. */
  | { type: 'dialogue'; channel: number; session: Session; event: DialogueEvent }
  | { type: 'release-requested'; channel: number; session: Session; userData: Uint8Array }
  | { type: 'release-refused'; channel: number; session: Session; userData: Uint8Array }
  | { type: 'suspended'; channel: number; session: Session; reason: string }
  | { type: 'resumed'; channel: number; session: Session; stats: ResumeStats }
  | { type: 'closed'; channel: number; session: Session; reason: CloseReason }
  /** Responder: the peer asks its registry for a named token, or releases (or withdraws) one. */
  | { type: 'named-token-acquire' | 'named-token-release'; channel: number; session: Session; name: string }
  /** Initiator: the responder's registry granted a named token this side asked for. */
  | { type: 'named-token-granted'; channel: number; session: Session; name: string }
  /** Initiator: the responder's registry refused a request (`code`: a TokenRefuseCode). */
  | { type: 'named-token-refused'; channel: number; session: Session; name: string; code: number }
  /** Responder: the initiator sent new credentials; answer with `Session.answerRenewal`. */
  | { type: 'renewal-requested'; channel: number; session: Session; requestId: number; credentials: Extension[] }
  /** Initiator: the responder answered a renewal (code 0: accepted, else a RefuseCode). */
  | { type: 'renewal-answered'; channel: number; session: Session; requestId: number; code: number; message: string };

export type ConnectionEvent =
  | SessionEvent
  | { type: 'rtt'; rttMs: number; smoothedRttMs: number }
  | { type: 'connection-closed'; origin: 'local' | 'peer' | 'transport'; code: number; message: string };
