/**
 * The part of @liaison/node's public Session that the transfer uses, and nothing else: the
 * transfer is built on the public API only. A Session is assignable to it.
 */
import type { CloseReason } from '@liaison/node';

export interface SyncResult {
  serial: number;
  userData: Uint8Array;
}

export interface ActivitySession {
  readonly ready: Promise<void>;
  readonly closed: Promise<CloseReason>;
  readonly closeReason: CloseReason | null;
  /** The peer's user data of the session acceptance (a receiver's greeting). */
  readonly peerUserData: Uint8Array;
  send(data: Uint8Array): Promise<void>;
  sendTyped(data: Uint8Array): Promise<void>;
  close(userData?: Uint8Array): Promise<CloseReason>;
  abort(userData?: Uint8Array | string): void;
  startActivity(id: Uint8Array, userData?: Uint8Array): void;
  resumeActivity(args: { id: Uint8Array; oldId: Uint8Array; serial: number; userData?: Uint8Array }): void;
  syncMajor(userData?: Uint8Array): Promise<SyncResult>;
  endActivity(userData?: Uint8Array): Promise<SyncResult>;
  confirmMajor(userData?: Uint8Array): void;
  // biome-ignore lint/suspicious/noExplicitAny: the Session's typed event map narrows this
  on(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  off(event: string, listener: (...args: any[]) => void): unknown;
}
