/**
 * What the engine tells the application, pulled with `Connection.pollEvent()`. Events are
 * values queued during a handle*() or command call and read after it returns, so an application
 * reacting to one never re-enters a half-updated machine.
 */
import type { CloseReason } from '../errors.js';
import type { Extension } from '../wire/frame.js';

/** Values both sides agreed at establishment. */
export interface AgreedParameters {
  version: number;
  units: number;
  /** Frames this side may send are at most this large (the peer's limit). */
  peerFrameBytesMax: number;
  /** Messages this side may send are at most this large (the peer's limit). */
  peerMessageBytesMax: number;
  /** The peer's initial flow-control window. */
  peerReceiveWindowBytes: number;
  keepaliveIntervalMs: number;
  idleTimeoutMs: number;
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
}

export type MessageKind = 'normal' | 'expedited' | 'typed';

export type SessionEvent =
  | { type: 'connect-request'; channel: number; request: ConnectRequest }
  | { type: 'accepted'; channel: number; agreed: AgreedParameters; extensions: Extension[]; userData: Uint8Array }
  | { type: 'message'; channel: number; kind: MessageKind; data: Uint8Array }
  | { type: 'writable'; channel: number }
  | { type: 'release-requested'; channel: number; userData: Uint8Array }
  | { type: 'release-refused'; channel: number; userData: Uint8Array }
  | { type: 'closed'; channel: number; reason: CloseReason };

export type ConnectionEvent =
  | SessionEvent
  | { type: 'rtt'; rttMs: number; smoothedRttMs: number }
  | { type: 'connection-closed'; origin: 'local' | 'peer' | 'transport'; code: number; message: string };
