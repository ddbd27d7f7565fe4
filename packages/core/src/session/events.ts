/**
 * What the engine tells the application, pulled with `Connection.pollEvent()`. Events are
 * values queued during a handle*() or command call and read after it returns, so an application
 * reacting to one never re-enters a half-updated machine.
 */
import type { Session } from './session.js';
import type { SessionEventOf } from './types.js';

export type {
  AgreedParameters,
  ConnectRequest,
  DeliveryStatus,
  MessageKind,
  ResumeStats,
  UndeliveredMessage,
} from './types.js';

/**
 * Events of one session. `channel` is its channel on the connection that raised the event;
 * `session` is the engine's session object, stable across resumes (drivers key on it).
 */
export type SessionEvent = SessionEventOf<Session>;

export type ConnectionEvent =
  | SessionEvent
  | { type: 'rtt'; rttMs: number; smoothedRttMs: number }
  | { type: 'connection-closed'; origin: 'local' | 'peer' | 'transport'; code: number; message: string };
