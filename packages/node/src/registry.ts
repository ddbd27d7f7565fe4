/**
 * Which application Session stands for which engine session. Keyed by the core Session object,
 * which stays the same across resumes while its channel and connection change.
 */
import type { Session as CoreSession, SessionEvent } from '@liaison/core';
import type { ConnectionDriver } from './driver.js';

export type SessionListenerEvent = Exclude<SessionEvent, { type: 'connect-request' }>;

export interface SessionListener {
  /** `driver` is the connection that raised the event, or null for a parked session. */
  handleEvent(e: SessionListenerEvent, driver: ConnectionDriver | null): void;
  /** The engine session has frames to send that no input of its connection caused: flush it. */
  flushSoon(): void;
}

const listeners = new WeakMap<CoreSession, SessionListener>();

export function registerSession(core: CoreSession, listener: SessionListener): void {
  listeners.set(core, listener);
}

/** The application Session of an engine session, while it is not closed. */
export function sessionFor(core: CoreSession): SessionListener | undefined {
  return listeners.get(core);
}

export function dispatchSessionEvent(e: SessionListenerEvent, driver: ConnectionDriver | null): void {
  listeners.get(e.session)?.handleEvent(e, driver);
  if (e.type === 'closed') listeners.delete(e.session);
}
