/**
 * The session's deadlines as one table: the resume window during a resume attempt, credentials
 * expiry, the delayed acknowledgement, and the handshake and release timeouts. `nextDeadline`
 * and `handleTimeout` both read the table, so the rules of when a deadline is armed are written
 * once. Nothing here persists: deadlines are derived from the state on every call.
 */
import { AbortCode } from '../errors.js';
import { ackNow } from './ack.js';
import { isEstablished, type SessionContext } from './context.js';
import { providerAbort } from './phase.js';
import { expire } from './resume.js';

type TimerName = 'resume' | 'credentials' | 'ack' | 'handshake' | 'release';

/** A deadline `afterMs` past `since`; it has passed once `now - since >= afterMs`. */
interface Timer {
  name: TimerName;
  since: number;
  afterMs: number;
}

/** The earliest time this session needs `handleTimeout`, or null. */
export function nextDeadline(c: SessionContext): number | null {
  let next: number | null = null;
  for (const t of timers(c)) {
    // An acknowledgement already due goes with the next write: it needs no timer.
    if (t.name === 'ack' && c.live.ackNow) continue;
    const at = t.since + t.afterMs;
    if (next === null || at < next) next = at;
  }
  return next;
}

/** Fires every deadline that has passed, in the table's order; an abort ends the round. */
export function handleTimeout(c: SessionContext, now: number): void {
  for (const t of timers(c)) {
    if (!(now - t.since >= t.afterMs)) continue; // not `<`: a NaN deadline never passes
    switch (t.name) {
      case 'resume':
        // The window ran out during an attempt (no challenge, no answer): the session is lost.
        expire(c, now, AbortCode.RESUME_WINDOW_EXPIRED, 'not resumed within the resume window');
        return;
      case 'credentials':
        providerAbort(c, now, AbortCode.CREDENTIALS_EXPIRED, 'credentials expired and were not renewed', {});
        return;
      case 'ack':
        ackNow(c);
        break;
      case 'handshake':
        providerAbort(c, now, AbortCode.HANDSHAKE_TIMEOUT, 'session establishment timed out', {});
        return;
      case 'release':
        providerAbort(c, now, AbortCode.RELEASE_TIMEOUT, 'orderly release did not complete in time', {});
        return;
    }
  }
}

/**
 * The armed deadlines, most decisive first. A closed session has none (its link may still say
 * where it was when it closed: returning that deadline made a driver spin on a timer nothing
 * could clear; sim seed 271); a suspended one has none of its own (the session table keeps its
 * deadline).
 */
function timers(c: SessionContext): Timer[] {
  const out: Timer[] = [];
  const s = c.phase.state;
  const link = c.recovery.link;
  if (s.name === 'closed' || link.name === 'suspended') return out;
  // During a resume attempt the resume window bounds it, beside the session's own deadlines.
  const resumeDeadline = c.recovery.resumeDeadline;
  if ((link.name === 'resuming' || link.name === 'awaiting-resumed') && resumeDeadline !== Number.POSITIVE_INFINITY) {
    out.push({ name: 'resume', since: resumeDeadline, afterMs: 0 });
  }
  const expiry = c.recovery.credentialsExpireAt;
  if (expiry !== Number.POSITIVE_INFINITY && isEstablished(c))
    out.push({ name: 'credentials', since: expiry, afterMs: 0 });
  if (c.live.ackDueAt !== null) out.push({ name: 'ack', since: c.live.ackDueAt, afterMs: 0 });
  if (s.name === 'connecting' || s.name === 'awaiting-response') {
    out.push({ name: 'handshake', since: s.since, afterMs: c.limits.handshakeTimeoutMs });
  } else if (
    (s.name === 'releasing' || s.name === 'disconnecting' || s.name === 'release-requested') &&
    link.name === 'attached'
  ) {
    out.push({ name: 'release', since: s.since, afterMs: c.limits.releaseTimeoutMs });
  }
  return out;
}
