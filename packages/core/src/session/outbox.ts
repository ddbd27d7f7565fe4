/**
 * The application's sends: the checks on a message, the bounded send queue with its backpressure
 * (WOULD_BLOCK, then a `writable` event), and which accepted messages the peer is not known to
 * have received. Owns `send.queue` and `live.writerBlocked`; transmit.ts takes from the queue.
 */
import { ErrorCode, UsageError } from '../errors.js';
import { hasUnit, Unit } from '../units.js';
import { EXPEDITED_BYTES_MAX } from '../wire/frame.js';
import { canSendData, invalid, type SessionContext, unitMissing, wake } from './context.js';
import type { AgreedParameters, DeliveryStatus, MessageKind, UndeliveredMessage } from './types.js';

/**
 * Queues one message. Normal and typed messages may be as large as the peer's message limit
 * and are fragmented; expedited ones are at most 14 bytes and overtake queued normal data.
 * @throws UsageError: INVALID_STATE when not open for sending, WOULD_BLOCK when the send queue is
 * full (wait for the `writable` event), MESSAGE_TOO_LARGE, UNIT_NOT_SELECTED.
 */
export function send(c: SessionContext, kind: MessageKind, data: Uint8Array, force: boolean): void {
  if (!canSendData(c)) throw invalid(c, `send ${kind} data`);
  const agreed = c.agreed as AgreedParameters;
  if (kind === 'expedited') {
    if (!hasUnit(agreed.units, Unit.EXPEDITED)) throw unitMissing('expedited data', 'EXPEDITED');
    if (data.byteLength > EXPEDITED_BYTES_MAX) {
      throw new UsageError(ErrorCode.MESSAGE_TOO_LARGE, `expedited data is at most ${EXPEDITED_BYTES_MAX} bytes`);
    }
  } else {
    if (kind === 'normal') checkNormalData(c);
    if (kind === 'typed' && !hasUnit(agreed.units, Unit.TYPED_DATA)) throw unitMissing('typed data', 'TYPED_DATA');
    if (data.byteLength > agreed.peerMessageBytesMax) {
      throw new UsageError(
        ErrorCode.MESSAGE_TOO_LARGE,
        `message of ${data.byteLength} bytes exceeds the peer's limit of ${agreed.peerMessageBytesMax}`,
      );
    }
  }
  const queue = c.send.queue;
  // `force`: a driver moving sends it already holds ahead of a dialogue command (same memory).
  if (queue.bytes >= c.limits.sendQueueBytesMax && !force) {
    c.live.writerBlocked = true;
    throw new UsageError(ErrorCode.WOULD_BLOCK, 'send queue full: wait for the writable event');
  }
  queue.pushMessage(kind, data);
  if (queue.bytes >= c.limits.sendQueueBytesMax) c.live.writerBlocked = true;
  wake(c);
}

/** Whether send() accepts a message now (the send queue is under its limit). */
export function writable(c: SessionContext): boolean {
  return (
    canSendData(c) && c.send.queue.bytes < c.limits.sendQueueBytesMax && c.dialogue?.normalDataBlock()?.code !== 'wait'
  );
}

/** Tells a blocked writer once `stillWritable` holds again (the queue drained, or the dialogue let data go). */
export function unblockWriter(c: SessionContext, stillWritable: () => boolean): void {
  if (c.live.writerBlocked && stillWritable()) {
    c.live.writerBlocked = false;
    c.live.host.emit({ type: 'writable', channel: c.channel, session: c.session });
  }
}

/** Messages accepted by send() that the peer is not known to have received. */
export function undeliveredCount(c: SessionContext): number {
  return c.send.queue.messageCount + c.send.tx.sent.undeliveredMessages().length;
}

export function collectUndelivered(c: SessionContext): UndeliveredMessage[] {
  // Sent and not acknowledged: unconfirmed, unless the peer proved its final count (then
  // everything past it is known lost). Still queued (or its last fragment is): never arrived.
  const sentStatus: DeliveryStatus = c.send.deliveryKnown ? 'undelivered' : 'unconfirmed';
  const out: UndeliveredMessage[] = [];
  for (const m of c.send.tx.sent.undeliveredMessages()) out.push({ kind: m.kind, data: m.data, status: sentStatus });
  out.push(...c.send.queue.undelivered());
  return out;
}

function checkNormalData(c: SessionContext): void {
  const block = c.dialogue?.normalDataBlock();
  if (!block) return;
  if (block.code === 'wait') c.live.writerBlocked = true;
  throw new UsageError(block.code === 'token' ? ErrorCode.TOKEN_NOT_HELD : ErrorCode.INVALID_STATE, block.message);
}
