/**
 * What the peer sends in its reliable stream while the session is established: data, typed and
 * expedited data with reassembly and its limits, dialogue and named-token frames, and the peer's
 * acknowledgements of what this side sent. Also the discard of normal data the dialogue rules
 * purge on arrival. Every check that fails is a ProtocolError (the router aborts the session).
 */
import { AbortCode, ProtocolError } from '../errors.js';
import { hasUnit, Unit } from '../units.js';
import { type Frame, FrameType, isDialogue } from '../wire/frame.js';
import { ackSoon, countReceived, creditChanged } from './ack.js';
import { FRAGMENT_BYTES_MIN, type SessionContext, wake } from './context.js';
import type { Dialogue } from './dialogue.js';
import { receiveNamedToken } from './named-tokens-session.js';
import { checkDisconnectAcked } from './phase.js';
import { acknowledge } from './transmit.js';
import type { AgreedParameters, MessageKind } from './types.js';

/** Data, typed data, expedited data and acknowledgements; true when `f` was one of them. */
export function receiveData(c: SessionContext, now: number, f: Frame): boolean {
  if (isDialogue(f)) {
    countReceived(c, now);
    (c.dialogue as Dialogue).receive(f);
    wake(c);
    return true;
  }
  switch (f.type) {
    case FrameType.ACK:
      receiveAck(c, now, f.received, f.windowLimit);
      return true;
    case FrameType.DATA:
    case FrameType.TYPED_DATA: {
      const kind = f.type === FrameType.DATA ? 'normal' : 'typed';
      if (kind === 'normal' && c.dialogue !== null) {
        if (c.dialogue.discardsNormalData()) {
          discardNormal(c, now, f.payload, f.end);
          return true;
        }
        try {
          c.dialogue.checkPeerNormalData();
        } catch (e) {
          if (!(e instanceof ProtocolError) || !c.dialogue.providerException(e)) throw e;
          discardNormal(c, now, f.payload, f.end);
          return true;
        }
        c.rx.discardRest = false;
      }
      if (kind === 'typed' && !hasUnit((c.agreed as AgreedParameters).units, Unit.TYPED_DATA)) {
        throw new ProtocolError(AbortCode.UNEXPECTED_FRAME, 'typed data without the typed-data unit');
      }
      const charge = countFlow(c, now, f.payload.byteLength);
      if (c.rx.assembledBytes(kind) + f.payload.byteLength > c.limits.messageBytesMax) {
        throw new ProtocolError(
          AbortCode.MESSAGE_TOO_LARGE,
          `message exceeds the limit of ${c.limits.messageBytesMax} bytes`,
        );
      }
      if (f.ackSoon) ackSoon(c);
      if (!f.end) {
        if (f.payload.byteLength < FRAGMENT_BYTES_MIN) {
          // Every fragment but the last carries at least this much (senders never split finer):
          // otherwise a peer could hold unbounded memory in empty fragments of one message.
          throw new ProtocolError(
            AbortCode.MALFORMED_FRAME,
            `fragment of ${f.payload.byteLength} bytes (fragments before the last carry at least ${FRAGMENT_BYTES_MIN})`,
          );
        }
        c.rx.addFragment(kind, f.payload, charge);
        creditChanged(c);
        return true;
      }
      const { data, credit } = c.rx.complete(kind, f.payload, charge);
      creditChanged(c);
      deliver(c, kind, data, credit);
      return true;
    }
    case FrameType.NAMED_TOKEN_ACQUIRE:
    case FrameType.NAMED_TOKEN_RELEASE:
    case FrameType.NAMED_TOKEN_GRANT:
    case FrameType.NAMED_TOKEN_REFUSE:
      receiveNamedToken(c, now, f);
      return true;
    case FrameType.EXPEDITED:
      if (!hasUnit((c.agreed as AgreedParameters).units, Unit.EXPEDITED)) {
        throw new ProtocolError(AbortCode.UNEXPECTED_FRAME, 'expedited data without the expedited unit');
      }
      deliver(c, 'expedited', f.payload, countFlow(c, now, f.payload.byteLength));
      return true;
    default:
      return false;
  }
}

/** The peer's acknowledgement: frames it received, and how far its window now reaches. */
export function receiveAck(c: SessionContext, now: number, received: number, windowLimit: number): void {
  const tx = c.send.tx;
  if (received > tx.sentSeq) {
    throw new ProtocolError(AbortCode.PROTOCOL_ERROR, `peer acknowledged ${received} frames of ${tx.sentSeq} sent`);
  }
  if (received > tx.peerReceived) {
    tx.peerReceived = received;
    acknowledge(c, received);
    wake(c); // the retransmit budget may have room again
  }
  if (windowLimit > tx.peerWindowLimit) {
    tx.peerWindowLimit = windowLimit;
    wake(c);
  }
  checkDisconnectAcked(c, now);
}

/** Drops a partly received normal message (counted once; its later fragments are discarded silently). */
export function dropAssembly(c: SessionContext): void {
  const head = c.rx.dropNormal();
  if (head === null) return;
  discarded(c, head);
  creditChanged(c);
}

function deliver(c: SessionContext, kind: MessageKind, data: Uint8Array, credit: number): void {
  c.stats.messagesReceived++;
  c.stats.bytesReceived += data.byteLength;
  c.live.host.emit({ type: 'message', channel: c.channel, session: c.session, kind, data, credit });
}

/** Counts a flow-controlled frame against the window; returns what it cost (payload + charge). */
function countFlow(c: SessionContext, now: number, payloadBytes: number): number {
  countReceived(c, now);
  const bytes = c.rx.countFlow(payloadBytes);
  if (c.rx.ackEveryReached) ackSoon(c);
  return bytes;
}

function discarded(c: SessionContext, head: Uint8Array): void {
  c.stats.messagesDiscarded++;
  c.live.host.emit({
    type: 'dialogue',
    channel: c.channel,
    session: c.session,
    event: { kind: 'discarded', head },
  });
}

/** Normal data the dialogue rules purge on arrival: its window credit goes straight back. */
function discardNormal(c: SessionContext, now: number, payload: Uint8Array, end: boolean): void {
  const charge = countFlow(c, now, payload.byteLength);
  const rx = c.rx;
  if (rx.normalInProgress) dropAssembly(c);
  else if (!rx.discardRest) discarded(c, payload);
  rx.discardRest = !end;
  rx.consumedBytes += charge;
  creditChanged(c);
}
