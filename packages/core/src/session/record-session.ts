/**
 * The public pair over the session record: `sessionRecord` takes one from an established
 * session, `restoreSession` rebuilds a suspended session from one (a restarted responder puts it
 * in its session table, and the peer resumes it with the ordinary RESUME path).
 */
import { ErrorCode, UsageError } from '../errors.js';
import type { Limits } from '../limits.js';
import type { SessionRecord } from './record.js';
import { checkRecord } from './record-check.js';
import { Session, type SessionHost } from './session.js';

/**
 * The resumable state of `session` as one plain record (record.ts documents each field).
 * @throws UsageError INVALID_STATE for a session still establishing, closed, or without recovery.
 */
export function sessionRecord(session: Session): SessionRecord {
  return session.toRecord();
}

export interface RestoreOptions {
  /** The engine clock now: the suspension starts here if the record was taken while attached. */
  now: number;
  /** Where the session waits for its resume: a SessionTable's `host`. */
  host: SessionHost;
  limits: Limits;
  /** Its channel until a resume gives it one (default 0; nothing is sent on it). */
  channel?: number;
}

/**
 * A session in the suspended link state, as after a transport break, from `record` (a value
 * decoded from a store). Register and park it in a SessionTable (`table.register`, `table.park`)
 * so that a RESUME on any connection of that table finds it.
 * @throws UsageError INVALID_RECORD for a record of another version or a malformed one (naming the field).
 */
export function restoreSession(record: unknown, options: RestoreOptions): Session {
  const checked = checkRecord(record);
  if (checked.send.peerReceived > checked.send.sentSeq) {
    throw new UsageError(ErrorCode.INVALID_RECORD, 'invalid session record: send.peerReceived: beyond send.sentSeq');
  }
  return Session.fromRecord(options.now, checked, options.host, options.limits, options.channel ?? 0);
}
