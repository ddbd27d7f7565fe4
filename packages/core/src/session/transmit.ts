/**
 * The writer of one session: what goes on the wire next, within the peer's window, the
 * connection's room and this side's retransmit budget. Replays after a resume go first (paced,
 * in their original numbering), then expedited data, then the queue in order, fragmenting
 * messages; every sequenced frame is kept until acknowledged (`send.tx.sent`).
 * It never decides the phase: it reads it to know whether data may go.
 */
import { InternalError } from '../errors.js';
import type { SentFrame } from '../recovery/retransmit.js';
import { writeDataFrame, writeEncodedFrame, writeFrame } from '../wire/codec.js';
import {
  FRAME_CHARGE_BYTES,
  FrameType,
  frameTypeName,
  HEADER_BYTES,
  isDialogueFrame,
  isNamedTokenFrame,
} from '../wire/frame.js';
import type { FrameWriter } from '../wire/writer.js';
import { ackDue, writeAck } from './ack.js';
import { canSendData, isEstablished, isFlowControlled, retransmitBudget, type SessionContext } from './context.js';
import { unblockWriter } from './outbox.js';
import type { Outgoing } from './send-queue.js';
import type { AgreedParameters } from './types.js';

/**
 * Writes this session's next frame (plus an acknowledgement if one is due) into `w`.
 * Returns false when it has nothing it may send now.
 */
export function writeNext(c: SessionContext, w: FrameWriter): boolean {
  if (!canTransmit(c)) return false;
  const { queue, tx } = c.send;
  let wrote = false;
  if (ackDue(c, () => hasSendable(c))) {
    writeAck(c, w);
    wrote = true;
  }
  if (!isEstablished(c) && c.phase.state.name !== 'releasing') return wrote;
  // After a resume, what the peer lacks goes first, in its original order and numbering.
  const next = tx.sent.peekReplay();
  if (next !== undefined && isFlowControlled(next.type)) {
    const cost = next.body.byteLength + FRAME_CHARGE_BYTES;
    // Counted as if nothing were in flight; and a frame larger than the contended in-flight cap
    // (it was sent while the session had the connection alone) needs only the window: measured
    // against the cap it would wait forever once another session had sent (sim seed 971755).
    const cap = c.live.host.inflightCap(c.session);
    if (c.live.host.sendRoom(c.session, Math.min(0, cap - cost)) < cost) return wrote;
  }
  if (next !== undefined && !paceAllows(c, next)) return wrote;
  const again = next === undefined ? undefined : tx.sent.nextReplay();
  if (again !== undefined) {
    writeSent(c, w, again, tx.sent.inflightBytes * 2 >= tx.paceBytes);
    c.stats.framesRetransmitted++;
    c.stats.bytesRetransmitted += again.body.byteLength;
    // Acknowledged before the replay reached it: once sent again it is done. Kept, it would
    // count as in flight with no acknowledgement left to come and hold the in-flight cap shut
    // (sim seed 1203007).
    if (again.seq <= tx.peerReceived) acknowledge(c, tx.peerReceived);
    return true;
  }
  const ex = queue.peekExpedited();
  if (ex !== undefined && windowRoom(c) >= ex.byteLength + FRAME_CHARGE_BYTES) {
    queue.shiftExpedited();
    tx.sentFlowBytes += ex.byteLength + FRAME_CHARGE_BYTES;
    record(c, w, FrameType.EXPEDITED, true, ex, ex);
    afterSend(c, ex.byteLength, true);
    return true;
  }
  const item = queue.peek();
  if (item === undefined || ex !== undefined) return wrote;
  if (item.kind === 'normal' || item.kind === 'typed') {
    const remaining = item.data.byteLength - item.offset;
    const maxPayload = (c.agreed as AgreedParameters).peerFrameBytesMax - HEADER_BYTES;
    const room = windowRoom(c) - FRAME_CHARGE_BYTES;
    let n = Math.max(0, Math.min(remaining, maxPayload, room));
    // Avoid silly windows: wait for room unless the fragment ends the message or is sizeable.
    if (n < remaining && n < fragmentBytesMin(c)) n = 0;
    if (n === 0 && remaining > 0) return wrote;
    const end = item.offset + n === item.data.byteLength;
    const payload = n === item.data.byteLength ? item.data : item.data.subarray(item.offset, item.offset + n);
    const type = item.kind === 'normal' ? FrameType.DATA : FrameType.TYPED_DATA;
    record(c, w, type, end, payload, end ? item.data : null);
    item.offset += n;
    tx.sentFlowBytes += n + FRAME_CHARGE_BYTES;
    if (end) queue.pop();
    afterSend(c, n, end);
    return true;
  }
  if (item.kind === 'dialogue' || item.kind === 'named-token') {
    // Held for retransmission like data: it waits for room in the retransmit budget.
    if (!controlFits(c, item.body)) return wrote;
    queue.pop();
    record(c, w, item.type, true, item.body, null);
    tx.sentSeq++;
    return true;
  }
  const control = item as Extract<Outgoing, { userData: Uint8Array }>;
  if (!controlFits(c, control.userData)) return wrote;
  const type =
    control.kind === 'finish'
      ? FrameType.FINISH
      : control.kind === 'disconnect'
        ? FrameType.DISCONNECT
        : FrameType.NOT_FINISHED;
  queue.pop();
  record(c, w, type, true, control.userData, null);
  tx.sentSeq++;
  if (control.kind === 'disconnect') c.phase.disconnectSeq = tx.sentSeq;
  return true;
}

/** Whether `writeNext` would write something now. */
export function hasWork(c: SessionContext): boolean {
  return canTransmit(c) && (c.live.ackNow || hasSendable(c));
}

/** Drops what the peer acknowledged and lets the pacing allowance grow by it. */
export function acknowledge(c: SessionContext, received: number): void {
  c.send.tx.acknowledge(received, retransmitBudget(c));
}

/** Attached to a live connection (or, initiator, resuming optimistically behind its RESUME). */
function canTransmit(c: SessionContext): boolean {
  return c.recovery.link.name === 'attached' || c.recovery.link.name === 'awaiting-resumed';
}

function hasSendable(c: SessionContext): boolean {
  if (!isEstablished(c) && c.phase.state.name !== 'releasing') return false;
  const { queue, tx } = c.send;
  if (tx.sent.replaying) {
    const next = tx.sent.peekReplay();
    return next === undefined || paceAllows(c, next);
  }
  const ex = queue.peekExpedited();
  if (ex !== undefined) return windowRoom(c) >= ex.byteLength + FRAME_CHARGE_BYTES;
  const item = queue.peek();
  if (item === undefined) return false;
  if (item.kind === 'dialogue' || item.kind === 'named-token') return controlFits(c, item.body);
  if (item.kind !== 'normal' && item.kind !== 'typed') {
    return controlFits(c, (item as Extract<Outgoing, { userData: Uint8Array }>).userData);
  }
  const remaining = item.data.byteLength - item.offset;
  const room = windowRoom(c) - FRAME_CHARGE_BYTES;
  return room >= remaining || room >= fragmentBytesMin(c);
}

/** Writes a sequenced frame for the first time and keeps it until acknowledged. */
function record(
  c: SessionContext,
  w: FrameWriter,
  type: FrameType,
  end: boolean,
  body: Uint8Array,
  message: Uint8Array | null,
): void {
  const tx = c.send.tx;
  const frame = tx.sent.obtain();
  frame.seq = tx.sentSeq + 1;
  frame.type = type;
  frame.end = end;
  frame.body = body;
  frame.message = message;
  // Ask for an acknowledgement once half the in-flight budget is used: the sender would stall
  // before the receiver's own schedule (every 256 KiB, or ackDelayMs) acknowledged anything.
  const budget = Math.min(retransmitBudget(c), c.live.host.inflightCap(c.session), tx.paceBytes);
  const inflight = tx.sent.unackedBytes + frame.body.byteLength + FRAME_CHARGE_BYTES;
  writeSent(c, w, frame, inflight * 2 >= budget);
  tx.sent.push(frame);
}

function writeSent(c: SessionContext, w: FrameWriter, f: SentFrame, ackSoon = false): void {
  if (isFlowControlled(f.type)) c.live.host.sentData(c.session, f.body.byteLength + FRAME_CHARGE_BYTES);
  switch (f.type) {
    case FrameType.DATA:
    case FrameType.TYPED_DATA:
      writeDataFrame(w, f.type, f.end, c.channel, f.body, ackSoon);
      return;
    case FrameType.EXPEDITED:
      writeFrame(w, { type: f.type, channel: c.channel, payload: f.body });
      return;
    case FrameType.FINISH:
    case FrameType.DISCONNECT:
    case FrameType.NOT_FINISHED:
      writeFrame(w, { type: f.type, channel: c.channel, userData: f.body });
      return;
    default:
      if (isDialogueFrame(f.type) || isNamedTokenFrame(f.type)) {
        // The body is the frame's encoded payload, kept for replay.
        writeEncodedFrame(w, f.type, c.channel, f.body);
        return;
      }
      throw new InternalError(`unsequenced frame ${frameTypeName(f.type)} in the retransmit buffer`);
  }
}

/**
 * The smallest partial fragment worth sending. Never more than half the peer's window less the
 * per-frame charge: a higher threshold might never be met, and the message would wait forever.
 */
function fragmentBytesMin(c: SessionContext): number {
  const agreed = c.agreed as AgreedParameters;
  return Math.min(
    4096,
    agreed.peerFrameBytesMax - HEADER_BYTES,
    // The receiver opens the window again only once half of it is free, and a fragment also
    // pays FRAME_CHARGE_BYTES; with half a window as the threshold, a room just above half
    // (not enough for the receiver to update, not enough for us to send) deadlocked both.
    Math.max(1, Math.floor(agreed.peerInboundStreamBytes / 2) - FRAME_CHARGE_BYTES),
  );
}

function afterSend(c: SessionContext, bytes: number, endsMessage: boolean): void {
  c.send.tx.sentSeq++;
  c.send.queue.bytes -= bytes;
  c.stats.bytesSent += bytes;
  if (endsMessage) c.stats.messagesSent++;
  unblockWriter(c, () => c.send.queue.bytes < c.limits.sendQueueBytesMax && canSendData(c));
}

/**
 * Sequenced control frames (release, dialogue, named tokens) go only while the retransmit budget has room,
 * like data: a release sent on a full budget overran it (sim seed 188 with named tokens, once
 * grants shifted the timing). Never dropped: they wait for acknowledgements. One goes whatever
 * its size once nothing is unacknowledged, so user data near 64 KiB cannot wait forever.
 */
function controlFits(c: SessionContext, body: Uint8Array): boolean {
  return c.send.tx.controlFits(body.byteLength, retransmitBudget(c));
}

/** Bytes that may be sent now: within the peer's window and this side's retransmit budget. */
function windowRoom(c: SessionContext): number {
  return c.send.tx.room(retransmitBudget(c), c.live.host.sendRoom(c.session, c.send.tx.sent.unackedBytes));
}

/** Whether the pacing allowance lets `next` be replayed now (always, with nothing in flight). */
function paceAllows(c: SessionContext, next: SentFrame): boolean {
  return c.send.tx.paceAllows(next, retransmitBudget(c));
}
