/**
 * Acknowledgement and credit of what a session receives: the count of sequenced frames, the
 * delayed acknowledgement (ackDelayMs) and the immediate one, and the receive credit handed back
 * to the connection as the application consumes. Owns `live.ackDueAt` and `live.ackNow`; the
 * counts themselves live in the InboundStream.
 */
import { writeFrame } from '../wire/codec.js';
import { FrameType } from '../wire/frame.js';
import type { FrameWriter } from '../wire/writer.js';
import { armTimer, isEstablished, type SessionContext, wake } from './context.js';

/** The application consumed `bytes` of received data: the peer may send that much more. */
export function consume(c: SessionContext, bytes: number): void {
  c.rx.consume(bytes);
  creditChanged(c);
}

/**
 * Bytes the peer may have beyond what was advertised: consumed data, plus fragments held for
 * reassembly (the application cannot consume a message before it is whole, so counting them as
 * outstanding would stall any message larger than the window). Acknowledges once half a window
 * has opened.
 */
export function creditChanged(c: SessionContext): void {
  const delta = c.rx.takeCreditDelta();
  if (delta !== 0) c.live.host.credit(delta);
  if (c.rx.halfWindowOpen && isEstablished(c)) {
    c.live.ackNow = true;
    wake(c);
  }
}

/** One more sequenced frame received: it is acknowledged within ackDelayMs. */
export function countReceived(c: SessionContext, now: number): void {
  c.rx.receivedSeq++;
  if (c.live.ackDueAt === null) {
    c.live.ackDueAt = now + c.limits.ackDelayMs;
    armTimer(c);
  }
}

/** Acknowledge with the next frame written. */
export function ackNow(c: SessionContext): void {
  c.live.ackNow = true;
  wake(c);
}

/** Acknowledge with the next frame written, unless that is already due (no second wake). */
export function ackSoon(c: SessionContext): void {
  if (!c.live.ackNow) ackNow(c);
}

/** Whether `writeNext` writes an acknowledgement first (due now, or due and a frame goes anyway). */
export function ackDue(c: SessionContext, sendable: () => boolean): boolean {
  return c.live.ackNow || (c.live.ackDueAt !== null && c.rx.receivedSeq > c.rx.ackedReceived && sendable());
}

export function writeAck(c: SessionContext, w: FrameWriter): void {
  const { received, windowLimit } = c.rx.acknowledge();
  writeFrame(w, { type: FrameType.ACK, channel: c.channel, received, windowLimit });
  c.live.ackNow = false;
  c.live.ackDueAt = null;
}
