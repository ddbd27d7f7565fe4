/**
 * What the parts of a browser `Session` (outbox, inbox) share: the live view of the session they
 * work on, and the conversion of user data to bytes.
 */
import { type CloseReason, type Session as CoreSession, ErrorCode, UsageError } from '@liaison/core';
import type { ConnectionDriver } from './driver.js';

/** The session as its parts see it; updated in place by session.ts only (the driver changes on a resume). */
export interface SessionView {
  readonly core: CoreSession;
  readonly driver: ConnectionDriver;
  /** Why the session ended, once its end was dispatched; null before. */
  readonly reason: CloseReason | null;
}

export const EMPTY = new Uint8Array(0);
export const RESOLVED: Promise<void> = Promise.resolve();
const UTF8 = new TextEncoder();

/** @throws UsageError INVALID_ARGUMENT for anything but bytes or a string. */
export function toBytes(data: Uint8Array | string): Uint8Array {
  if (typeof data === 'string') return UTF8.encode(data);
  if (data instanceof Uint8Array) return data;
  throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'data must be a Uint8Array or a string');
}
