/**
 * Recovery: a session survives the loss of its transport. It is suspended (parked on a session
 * table), attached to a new connection and resumed with proofs over the session key; after a
 * resume each side replays what the other lacks and drops what it already had.
 *
 * Theory of operation
 * - Owns `recovery`: the key share until ACCEPT, the ResumeCredentials (id, key, window), the
 *   link (attached, suspended, resuming, awaiting-resumed) and the duplicates still to drop.
 * - The responder computes and compares the proof on every path, with a decoy key when there is
 *   nothing to resume, so a refusal takes the time a wrong proof takes.
 * - A refusal carrying a proven final count (the responder's tombstone) settles what arrived.
 */
import { AbortCode, ProtocolError } from '../errors.js';
import { constantTimeEqual, resumeProof } from '../recovery/proof.js';
import {
  type Extension,
  type FinalCount,
  FRAME_CHARGE_BYTES,
  type Frame,
  FrameType,
  isSequenced,
  type ResumeFrame,
} from '../wire/frame.js';
import { ackNow } from './ack.js';
import {
  ATTACHED,
  armTimer,
  EMPTY,
  invalid,
  isEstablished,
  isFlowControlled,
  type PartsHost,
  type SessionContext,
  unexpected,
  wake,
} from './context.js';
import { undeliveredCount } from './outbox.js';
import { abortWith, close, restartReleaseClock } from './phase.js';
import { type Attempt, ResumeCredentials } from './resume-credentials.js';
import { acknowledge } from './transmit.js';
import type { ResumeStats } from './types.js';

/** The key a resume proof is checked against when the session has none (the work is the same). */
const NO_RESUME_KEY = new Uint8Array(32);

/** Whether a transport break suspends this session (instead of aborting it). */
export function resumable(c: SessionContext): boolean {
  return c.recovery.credentials !== null && isEstablished(c);
}

/**
 * A sequenced frame the peer resent after a resume that this side already had: counted, its
 * credit handed back, and dropped (true). False for any other frame.
 */
export function dropDuplicate(c: SessionContext, f: Frame): boolean {
  if (c.recovery.duplicatesToDrop <= 0 || !isSequenced(f.type)) return false;
  // The peer resent frames this side already had (it could not know how far we got).
  c.recovery.duplicatesToDrop--;
  c.stats.duplicatesSuppressed++;
  if (isFlowControlled(f.type) && 'payload' in f) c.live.host.credit(f.payload.byteLength + FRAME_CHARGE_BYTES);
  return true;
}

/** The transport is gone: keep everything, move to `host` and wait for a resume. @throws UsageError unless resumable. */
export function suspend(c: SessionContext, now: number, host: PartsHost, why: string): void {
  if (!resumable(c)) throw invalid(c, 'suspend');
  const link = c.recovery.link;
  // A resume attempt that failed with its connection: still the same suspension.
  if (link.name === 'attached')
    c.live.host.emit({ type: 'suspended', channel: c.channel, session: c.session, reason: why });
  c.live.host = host;
  c.recovery.link = { name: 'suspended', since: link.name === 'attached' ? now : link.since };
  c.live.ackNow = false;
  c.live.ackDueAt = null;
}

/** Initiator: adopted by a new connection on `channel`; RESUME goes out when its challenge arrives. */
export function attachForResume(c: SessionContext, host: PartsHost, channel: number): void {
  const link = c.recovery.link;
  if (link.name !== 'suspended' || c.recovery.credentials === null) throw invalid(c, 'resume');
  c.live.host.detach(c.session);
  c.live.host = host;
  c.channel = channel;
  c.recovery.link = { name: 'resuming', since: link.since };
  armTimer(c);
}

/** Initiator: the responder's challenge arrived; send RESUME, then replay what the peer may lack. */
export function sendResume(c: SessionContext, now: number, challenge: Uint8Array, clientNonce: Uint8Array): void {
  const link = c.recovery.link;
  const recovery = c.recovery.credentials;
  if (link.name !== 'resuming' || recovery === null) return;
  const tx = c.send.tx;
  const resendFrom = tx.sent.firstUnacked(tx.sentSeq + 1);
  const replaying = tx.sent.pendingMessages();
  const received = c.rx.receivedSeq;
  const proof = recovery.proof('initiator', { challenge, clientNonce, resendFrom }, received);
  c.live.host.sendControl({
    type: FrameType.RESUME,
    channel: c.channel,
    sessionId: recovery.sessionId,
    clientNonce,
    received,
    resendFrom,
    replaying,
    proof,
  });
  c.recovery.link = { name: 'awaiting-resumed', since: link.since, challenge, clientNonce, resendFrom, replaying };
  tx.sent.rewind();
  tx.startPacing();
  c.live.ackDueAt = now + c.limits.ackDelayMs;
  armTimer(c);
  wake(c);
}

/**
 * Responder: a RESUME naming this session arrived on a new connection with `challenge`.
 * Returns false, changing nothing, unless the proof holds and the counts are possible.
 */
export function resumeFrom(
  c: SessionContext,
  now: number,
  host: PartsHost,
  channel: number,
  f: ResumeFrame,
  challenge: Uint8Array,
): boolean {
  const recovery = c.recovery.credentials;
  // The proof is computed and compared on every path (a decoy key when there is nothing to
  // resume), so no refusal is cheaper than a wrong proof: the time tells a prober nothing.
  const expected = resumeProof(recovery?.key ?? NO_RESUME_KEY, 'initiator', {
    sessionId: recovery?.sessionId ?? f.sessionId,
    challenge,
    clientNonce: f.clientNonce,
    received: f.received,
    resendFrom: f.resendFrom,
  });
  const proven = constantTimeEqual(expected, f.proof);
  if (recovery === null || c.phase.state.name === 'closed' || !isEstablished(c) || !proven) return false;
  if (now >= c.recovery.credentialsExpireAt) return false; // a resume does not outlive the credentials
  const tx = c.send.tx;
  const receivedSeq = c.rx.receivedSeq;
  // The initiator cannot have received more than was sent, nor less than it acknowledged;
  // and it must resend from no later than the first frame this side lacks.
  if (f.received > tx.sentSeq || f.received < tx.peerReceived) return false;
  if (f.resendFrom < 1 || f.resendFrom > receivedSeq + 1) return false;
  const link = c.recovery.link;
  const since = link.name === 'suspended' ? link.since : now;
  c.live.host.detach(c.session);
  c.live.host = host;
  c.channel = channel;
  c.recovery.link = ATTACHED;
  c.recovery.duplicatesToDrop = receivedSeq + 1 - f.resendFrom;
  host.timer(c.session);
  tx.peerReceived = f.received;
  tx.sent.acknowledge(f.received);
  tx.sent.rewind();
  tx.startPacing();
  const replaying = tx.sent.pendingMessages();
  host.sendControl({
    type: FrameType.RESUMED,
    channel,
    received: receivedSeq,
    replaying,
    proof: recovery.proof(
      'responder',
      { challenge, clientNonce: f.clientNonce, resendFrom: f.resendFrom },
      receivedSeq,
    ),
  });
  resumed(c, now, since, {
    replayedMessages: replaying,
    peerReplayedMessages: f.replaying,
    duplicatesSuppressed: c.recovery.duplicatesToDrop,
  });
  return true;
}

/** Initiator: RESUMED or RESUME_REFUSE answered our RESUME. */
export function resumeAnswer(c: SessionContext, now: number, f: Frame): void {
  const link = c.recovery.link;
  const recovery = c.recovery.credentials;
  const tx = c.send.tx;
  if (link.name !== 'awaiting-resumed' || recovery === null) throw unexpected(c, f);
  if (f.type === FrameType.RESUME_REFUSE) {
    if (f.final && finalCountProven(c, f.final, recovery, link)) {
      // The peer's tombstone: the session ended there having received `received` frames.
      tx.peerReceived = f.final.received;
      acknowledge(c, f.final.received);
      c.send.deliveryKnown = true;
    }
    return close(c, now, {
      kind: 'aborted',
      origin: 'peer',
      by: 'provider',
      code: AbortCode.RESUME_REFUSED,
      message: f.message || 'the peer could not resume the session',
      userData: EMPTY,
      undelivered: undeliveredCount(c),
    });
  }
  if (f.type !== FrameType.RESUMED) throw unexpected(c, f);
  if (!recovery.proves('responder', link, f.received, f.proof)) {
    throw new ProtocolError(AbortCode.RESUME_FAILED, 'the peer could not prove the session key');
  }
  if (f.received > tx.sentSeq || f.received < tx.peerReceived) {
    throw new ProtocolError(AbortCode.RESUME_FAILED, `peer claims ${f.received} frames received of ${tx.sentSeq} sent`);
  }
  tx.peerReceived = f.received;
  acknowledge(c, f.received);
  c.recovery.link = ATTACHED;
  resumed(c, now, link.since, {
    replayedMessages: link.replaying,
    peerReplayedMessages: f.replaying,
    duplicatesSuppressed: 0,
  });
}

/** Initiator: the resume credentials an ACCEPT grants for the key share its CONNECT carried, or null. */
export function recoveryFromAccept(c: SessionContext, extensions: Extension[]): ResumeCredentials | null {
  const share = c.recovery.keyShare;
  c.recovery.keyShare = null;
  if (share === null) return null;
  return ResumeCredentials.fromAccept(extensions, (peerKey) => c.live.host.agree(share, peerKey));
}

/** The session table gave up on this suspended session (window or memory budget). */
export function expire(c: SessionContext, now: number, code: AbortCode, message: string): void {
  if (c.phase.state.name === 'closed') return;
  abortWith(c, now, { byProvider: true, code, message, userData: EMPTY }, 'local', false);
}

/**
 * Whether a refusal's final count is the peer's (proven with the session key over this
 * attempt) and possible. An unproven or impossible one is ignored: the refusal stands, and what
 * was sent stays unconfirmed.
 */
function finalCountProven(
  c: SessionContext,
  final: FinalCount,
  recovery: ResumeCredentials,
  attempt: Attempt,
): boolean {
  return (
    recovery.proves('final', attempt, final.received, final.proof) &&
    final.received >= c.send.tx.peerReceived &&
    final.received <= c.send.tx.sentSeq
  );
}

function resumed(
  c: SessionContext,
  now: number,
  since: number,
  counts: Omit<ResumeStats, 'downtimeMs' | 'lost'>,
): void {
  c.recovery.peerHeard = true; // a proven RESUME: the initiator has the session
  c.stats.resumes++;
  // The release deadline bounds a release on a working connection, not the outages it lives
  // through (those are bounded by the resume window): each resume gives it its full time again.
  restartReleaseClock(c, now);
  ackNow(c);
  c.live.host.emit({
    type: 'resumed',
    channel: c.channel,
    session: c.session,
    stats: { downtimeMs: now - since, lost: 0, ...counts },
  });
}
