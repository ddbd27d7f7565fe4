/**
 * The sending half of a session's reliable stream: numbers sent, what the peer acknowledged and
 * allows (its flow-control window), the retransmit buffer, and the pacing of a freshly resumed
 * link. Plain state and arithmetic; the session asks the connection for its share of the
 * connection's window and passes the retransmit budget agreed at establishment.
 *
 * Invariants
 * - peerReceived <= sentSeq (an acknowledgement beyond it is the session's protocol error).
 * - sentFlowBytes <= peerWindowLimit, and sent.unackedBytes <= the retransmit budget, except for
 *   the one control frame allowed through an empty buffer (`controlFits`).
 * - Pacing: after a resume, this side puts only as much on the new link as the link has shown
 *   it carries. A link that breaks again and again (issue 10: cuts every 100 ms, 1 MiB/s) would
 *   otherwise take the whole retransmit budget into its socket buffers at each resume and lose it
 *   at the next cut, so each resume replayed megabytes that could not arrive. Like TCP's slow
 *   start, the allowance starts small and grows by every byte acknowledged (doubling each round
 *   trip) until it reaches the retransmit budget, where pacing ends.
 */
import { RetransmitBuffer, type SentFrame } from '../recovery/retransmit.js';
import { FRAME_CHARGE_BYTES } from '../wire/frame.js';

/** What a session may have in flight on a link it just resumed on, before the link proved more. */
const PACE_INITIAL_BYTES = 64 * 1024;

export class OutboundStream {
  /** Sequenced frames sent (the number of the last one). */
  sentSeq = 0;
  /** The peer's acknowledged count. */
  peerReceived = 0;
  /** Charged bytes of flow-controlled frames sent (new ones; replays do not count again). */
  sentFlowBytes = 0;
  /** The highest window limit the peer advertised. */
  peerWindowLimit = 0;
  /**
   * Bytes this side may have in flight on the current link (replayed or new, unacknowledged):
   * unbounded until a resume, then PACE_INITIAL_BYTES, growing by what the peer acknowledges.
   */
  paceBytes = Number.POSITIVE_INFINITY;
  /** Sent and unacknowledged frames: what a resume sends again. */
  readonly sent = new RetransmitBuffer();

  /** Charged bytes that may be sent now, given the connection's room for this session. */
  room(budget: number, connectionRoom: number): number {
    return Math.min(
      this.peerWindowLimit - this.sentFlowBytes,
      budget - this.sent.unackedBytes,
      connectionRoom,
      this.paceBytes - this.sent.inflightBytes,
    );
  }

  /**
   * Sequenced control frames (release, dialogue, named tokens) go only while the retransmit
   * budget has room, like data; one goes whatever its size once nothing is unacknowledged.
   */
  controlFits(bodyBytes: number, budget: number): boolean {
    const unacked = this.sent.unackedBytes;
    return unacked === 0 || unacked + bodyBytes + FRAME_CHARGE_BYTES <= budget;
  }

  startPacing(): void {
    this.paceBytes = PACE_INITIAL_BYTES;
  }

  /** Drops what the peer acknowledged and lets the pacing allowance grow by it. */
  acknowledge(received: number, budget: number): void {
    const before = this.sent.unackedBytes;
    this.sent.acknowledge(received);
    if (this.paceBytes === Number.POSITIVE_INFINITY) return;
    this.paceBytes += before - this.sent.unackedBytes;
    if (this.paceBytes >= budget) this.paceBytes = Number.POSITIVE_INFINITY;
  }

  /** Whether the pacing allowance lets `next` be replayed now (always, with nothing in flight). */
  paceAllows(next: SentFrame, budget: number): boolean {
    if (this.paceBytes === Number.POSITIVE_INFINITY || next.seq <= this.peerReceived) return true;
    this.acknowledge(this.peerReceived, budget); // drops acknowledged frames already sent again
    const inflight = this.sent.inflightBytes;
    return inflight === 0 || inflight + next.body.byteLength + FRAME_CHARGE_BYTES <= this.paceBytes;
  }
}
