/**
 * The session's phase (SessionState) and every move between phases: establishment's `open`,
 * orderly release (FINISH, DISCONNECT, NOT_FINISHED, the release collision), abort and close.
 *
 * Theory of operation
 * - This is the one module that assigns `phase.state`; the router (session.ts) decides from the
 *   current state which input is allowed, the functions here carry the move out.
 * - Release frames queue behind data (enqueue), so everything sent first arrives first; the
 *   release deadline runs from `since`, restarted by each resume (an outage is bounded by the
 *   resume window, not by the release timeout).
 * - close() is the only way to `closed`: it keeps what was undelivered, hands unconsumed credit
 *   back, empties the queues and tells the host, once.
 */
import type { AbortCode, CloseReason, RefuseCode } from '../errors.js';
import { hasUnit, Unit } from '../units.js';
import { type AbortFrame, type Frame, FrameType } from '../wire/frame.js';
import { ackNow, countReceived } from './ack.js';
import { armTimer, checkUserData, EMPTY, enqueue, invalid, type SessionContext, unitMissing } from './context.js';
import { collectUndelivered, undeliveredCount } from './outbox.js';
import type { AgreedParameters, SessionState } from './types.js';

/** Stateless states are shared: a server holds thousands of sessions. */
const OPEN: SessionState = Object.freeze({ name: 'open' });

/** Establishment done (ACCEPT sent or received), or a release refused: the session is open. */
export function opened(c: SessionContext): void {
  c.phase.state = OPEN;
}

/** S-RELEASE request: queue FINISH behind everything sent so far. @throws UsageError unless open. */
export function release(c: SessionContext, now: number, userData: Uint8Array): void {
  if (c.phase.state.name !== 'open') throw invalid(c, 'release');
  checkUserData(c, userData);
  c.dialogue?.checkRelease();
  enqueue(c, { kind: 'finish', userData });
  c.phase.state = { name: 'releasing', since: now, answeredCollision: false };
  armTimer(c);
}

/**
 * S-RELEASE response. Accepting queues DISCONNECT behind everything sent so far; refusing
 * (NOT_FINISHED) needs the negotiated-release unit and returns the session to open.
 * @throws UsageError unless a release was requested, or refusing without negotiated release.
 */
export function respondRelease(c: SessionContext, now: number, accept: boolean, userData: Uint8Array): void {
  if (c.phase.state.name !== 'release-requested') throw invalid(c, 'respond to a release');
  checkUserData(c, userData);
  if (accept) {
    enqueue(c, { kind: 'disconnect', userData });
    c.phase.state = { name: 'disconnecting', since: now };
    armTimer(c);
  } else {
    if (!hasUnit((c.agreed as AgreedParameters).units, Unit.NEGOTIATED_RELEASE)) {
      throw unitMissing('refusing a release', 'NEGOTIATED_RELEASE');
    }
    enqueue(c, { kind: 'not-finished', userData });
    c.phase.state = OPEN;
  }
}

/**
 * A release frame from the peer in `open` or `releasing`; false when `f` is none allowed there
 * (the router then treats it as unexpected).
 */
export function peerRelease(c: SessionContext, now: number, f: Frame): boolean {
  const s = c.phase.state;
  if (s.name === 'open') {
    if (f.type !== FrameType.FINISH) return false;
    c.dialogue?.checkPeerRelease();
    c.dialogue?.peerFinished();
    countReceived(c, now);
    c.phase.state = { name: 'release-requested', since: now };
    armTimer(c);
    c.live.host.emit({ type: 'release-requested', channel: c.channel, session: c.session, userData: f.userData });
    return true;
  }
  if (s.name !== 'releasing') return false;
  if (f.type === FrameType.DISCONNECT) {
    countReceived(c, now);
    ackNow(c); // the peer waits for this acknowledgement to close
    if (s.answeredCollision) {
      c.phase.state = { name: 'disconnecting', since: s.since };
      armTimer(c);
      checkDisconnectAcked(c, now);
    } else {
      close(c, now, { kind: 'released', userData: f.userData, undelivered: 0 });
    }
    return true;
  }
  if (f.type === FrameType.NOT_FINISHED && hasUnit((c.agreed as AgreedParameters).units, Unit.NEGOTIATED_RELEASE)) {
    countReceived(c, now);
    c.phase.state = OPEN;
    c.live.host.emit({ type: 'release-refused', channel: c.channel, session: c.session, userData: f.userData });
    return true;
  }
  if (f.type === FrameType.FINISH && !s.answeredCollision) {
    // Release collision: both sides asked to finish; each accepts the other's request.
    c.dialogue?.checkPeerRelease();
    countReceived(c, now);
    enqueue(c, { kind: 'disconnect', userData: EMPTY });
    c.phase.state = { name: 'releasing', since: s.since, answeredCollision: true };
    armTimer(c);
    return true;
  }
  return false;
}

/** Closes a disconnecting session once the peer acknowledged its DISCONNECT. */
export function checkDisconnectAcked(c: SessionContext, now: number): void {
  if (
    c.phase.state.name === 'disconnecting' &&
    c.phase.disconnectSeq >= 0 &&
    c.send.tx.peerReceived >= c.phase.disconnectSeq
  ) {
    close(c, now, { kind: 'released', userData: EMPTY, undelivered: 0 });
  }
}

/** The release deadline bounds a release on a working connection: a resume gives it its full time again. */
export function restartReleaseClock(c: SessionContext, now: number): void {
  const s = c.phase.state;
  if (s.name === 'releasing' || s.name === 'release-requested' || s.name === 'disconnecting') {
    c.phase.state = { ...s, since: now };
  }
}

/** Responder: the application refused the connect request. @throws UsageError unless awaiting a response. */
export function refuse(c: SessionContext, now: number, code: RefuseCode, userData: Uint8Array): void {
  if (c.phase.state.name !== 'awaiting-response') throw invalid(c, 'refuse');
  checkUserData(c, userData);
  c.live.host.sendControl({ type: FrameType.REFUSE, channel: c.channel, code, userData });
  close(c, now, { kind: 'refused', code, userData, undelivered: 0 });
}

/** Ends the session because of a provider-detected problem (protocol error, timeout, transport). */
export function providerAbort(
  c: SessionContext,
  now: number,
  code: AbortCode,
  message: string,
  options: { notifyPeer?: boolean; fromPeer?: boolean },
): void {
  if (c.phase.state.name === 'closed') return;
  const origin = options.fromPeer ? 'peer' : 'local';
  abortWith(c, now, { byProvider: true, code, message, userData: EMPTY }, origin, options.notifyPeer ?? true);
}

export function peerAborted(c: SessionContext, now: number, f: AbortFrame): void {
  if (c.phase.state.name === 'closed') return;
  close(c, now, {
    kind: 'aborted',
    origin: 'peer',
    by: f.byProvider ? 'provider' : 'user',
    code: f.code as AbortCode,
    message: f.message,
    userData: f.userData,
    undelivered: undeliveredCount(c),
  });
}

export function abortWith(
  c: SessionContext,
  now: number,
  f: { byProvider: boolean; code: AbortCode; message: string; userData: Uint8Array },
  origin: 'local' | 'peer',
  notifyPeer = true,
): void {
  const undelivered = undeliveredCount(c);
  // While resuming, the channel is not yet named to the peer (RESUME has not gone out): an ABORT
  // on it would read as traffic for an unknown channel and close the whole connection.
  if (notifyPeer && c.recovery.link.name !== 'resuming') {
    c.live.host.sendControl({ type: FrameType.ABORT, channel: c.channel, ...f });
  }
  close(c, now, {
    kind: 'aborted',
    origin,
    by: f.byProvider ? 'provider' : 'user',
    code: f.code,
    message: f.message,
    userData: f.userData,
    undelivered,
  });
}

export function close(c: SessionContext, now: number, reason: CloseReason): void {
  if (c.phase.state.name === 'closed') return;
  if (reason.kind !== 'released') c.phase.undeliveredAtClose = collectUndelivered(c);
  // What was received and will never be consumed no longer occupies the connection's window.
  const unconsumed = c.rx.closeUnconsumed();
  if (unconsumed > 0) c.live.host.credit(unconsumed);
  c.send.tx.sent.clear();
  c.phase.state = { name: 'closed', reason };
  c.phase.closedAt = now;
  c.send.queue.clear();
  c.live.host.emit({ type: 'closed', channel: c.channel, session: c.session, reason });
  c.live.host.released(c.session);
}
