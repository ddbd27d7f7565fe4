/**
 * What the parts of a Node `Session` (outbox, inbox, dialogue, named tokens, renewal) share: the
 * live view of the session they work on, and the conversion of user data to bytes.
 */
import { type CloseReason, type Session as CoreSession, ErrorCode, UsageError } from '@liaison/core';
import type { ConnectionDriver } from './driver.js';

/**
 * The session as its parts see it. One object, updated in place by session.ts only: the engine
 * session changes on a re-establishment, the connection on a resume or reconnection.
 */
export interface SessionView {
  readonly core: CoreSession;
  readonly driver: ConnectionDriver;
  /** Why the session ended, once its end was dispatched; null before. */
  readonly reason: CloseReason | null;
  /**
   * Client: the connect request was lost with its transport and goes again on a new one. `core`
   * is the lost engine session meanwhile (closed): the parts wait as in 'connecting'.
   */
  readonly reestablishing: boolean;
}

/** The engine's state, or 'connecting' while a lost connect request goes again. */
export function stateOf(live: SessionView): CoreSession['state'] {
  return live.reestablishing ? 'connecting' : live.core.state;
}

/** Why the session ended, from its dispatched end or the engine's (which may be a turn ahead). */
export function endOf(live: SessionView): CloseReason | null {
  return live.reason ?? (live.reestablishing ? null : live.core.closeReason);
}

export const EMPTY = new Uint8Array(0);
export const RESOLVED = Promise.resolve();
const UTF8 = new TextEncoder();

export function toBytes(data: Uint8Array | string): Uint8Array {
  if (typeof data === 'string') return UTF8.encode(data);
  if (data instanceof Uint8Array) return data;
  throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'data must be a Uint8Array or a string');
}
