/**
 * The receiving half of a session's reliable stream: what was received, what the application
 * consumed, the window advertised to the peer, and the fragments of messages being reassembled.
 * Plain state and arithmetic; the session decides when to acknowledge and tells the connection
 * about credit (it owns the host).
 *
 * Invariants
 * - consumedBytes <= receivedFlowBytes <= advertisedLimit (a peer past the limit is a
 *   FLOW_CONTROL error).
 * - Credit (what the peer may send beyond the advertised limit) counts consumed bytes plus the
 *   fragments held for reassembly: a message cannot be consumed before it is whole, so counting
 *   its fragments as outstanding would stall any message larger than the window.
 * - The advertised limit only grows.
 */
import { AbortCode, ErrorCode, ProtocolError, UsageError } from '../errors.js';
import { concatBytes } from '../wire/bytes.js';
import { FRAME_CHARGE_BYTES } from '../wire/frame.js';

interface Assembly {
  parts: Uint8Array[];
  bytes: number;
  /** Window cost of the parts so far (returned to the peer before the message is whole). */
  credit: number;
}

export type AssembledKind = 'normal' | 'typed';

/**
 * Received charged bytes after which an acknowledgement goes out without waiting for ackDelayMs
 * (at most one per transmit batch): the sender's retransmit budget waits on it. A sender whose
 * in-flight budget is smaller asks sooner with FLAG_ACK_SOON, so this can be large: bulk
 * transfers then cost almost no acknowledgements.
 */
const ACK_EVERY_BYTES = 256 * 1024;

export class InboundStream {
  /** Sequenced frames received. */
  receivedSeq = 0;
  /** The count the last ACK carried. */
  ackedReceived = 0;
  /** Charged bytes (payload + FRAME_CHARGE_BYTES per frame) of flow-controlled frames received. */
  receivedFlowBytes = 0;
  consumedBytes = 0;
  /** The highest window limit this side has advertised (absolute, in charged bytes). */
  advertisedLimit: number;
  /** Charged bytes received since the last ACK. */
  unackedBytes = 0;
  /** Credit already reported to the connection (for the connection-level window). */
  reportedCredit = 0;
  /** A normal message is being discarded: it was counted when its first part was dropped. */
  discardRest = false;
  /** Allocated only when a message arrives in fragments: most sessions never need it. */
  #assembling: Record<AssembledKind, Assembly> | null = null;

  constructor(readonly windowBytes: number) {
    this.advertisedLimit = windowBytes;
  }

  /**
   * Counts a flow-controlled frame against the window; returns what it cost (payload + charge).
   * @throws ProtocolError FLOW_CONTROL when the peer sent beyond the advertised limit.
   */
  countFlow(payloadBytes: number): number {
    const bytes = payloadBytes + FRAME_CHARGE_BYTES;
    this.receivedFlowBytes += bytes;
    this.unackedBytes += bytes;
    if (this.receivedFlowBytes > this.advertisedLimit) {
      throw new ProtocolError(
        AbortCode.FLOW_CONTROL,
        `peer sent ${this.receivedFlowBytes - this.advertisedLimit} bytes beyond the flow-control window`,
      );
    }
    return bytes;
  }

  /** Enough arrived since the last ACK that one is due now. */
  get ackEveryReached(): boolean {
    return this.unackedBytes >= ACK_EVERY_BYTES;
  }

  /** @throws UsageError when more is consumed than was received. */
  consume(bytes: number): void {
    if (this.consumedBytes + bytes > this.receivedFlowBytes) {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'consumed more bytes than were received');
    }
    this.consumedBytes += bytes;
  }

  /** Consumed bytes plus the fragments held for reassembly. */
  creditBase(): number {
    const a = this.#assembling;
    return a === null ? this.consumedBytes : this.consumedBytes + a.normal.credit + a.typed.credit;
  }

  /** Credit not yet reported to the connection, now counted as reported. */
  takeCreditDelta(): number {
    const base = this.creditBase();
    const delta = base - this.reportedCredit;
    this.reportedCredit = base;
    return delta;
  }

  /** Half a window has opened since the last advertisement: worth an ACK. */
  get halfWindowOpen(): boolean {
    return this.creditBase() + this.windowBytes - this.advertisedLimit >= this.windowBytes / 2;
  }

  /** An ACK goes out now: the count it carries and the limit it advertises. */
  acknowledge(): { received: number; windowLimit: number } {
    this.advertisedLimit = Math.max(this.advertisedLimit, this.creditBase() + this.windowBytes);
    this.ackedReceived = this.receivedSeq;
    this.unackedBytes = 0;
    return { received: this.receivedSeq, windowLimit: this.advertisedLimit };
  }

  /** The session closed: what was received and will never be consumed (to give back to the connection). */
  closeUnconsumed(): number {
    const unconsumed = this.receivedFlowBytes - this.reportedCredit;
    this.reportedCredit = this.receivedFlowBytes;
    this.#assembling = null;
    return unconsumed;
  }

  /** Bytes of the `kind` message being reassembled. */
  assembledBytes(kind: AssembledKind): number {
    return this.#assembling?.[kind].bytes ?? 0;
  }

  /** Whether a normal message is partly received. */
  get normalInProgress(): boolean {
    return (this.#assembling?.normal.parts.length ?? 0) > 0;
  }

  /** A fragment that does not end its message. */
  addFragment(kind: AssembledKind, payload: Uint8Array, charge: number): void {
    const a = this.#assembly(kind);
    a.parts.push(payload);
    a.bytes += payload.byteLength;
    a.credit += charge;
  }

  /** The last fragment: the whole message and the window credit it carries in all. */
  complete(kind: AssembledKind, payload: Uint8Array, charge: number): { data: Uint8Array; credit: number } {
    const a = this.#assembling?.[kind];
    if (a === undefined || a.parts.length === 0) {
      const credit = charge + (a?.credit ?? 0);
      if (a) a.credit = 0;
      return { data: payload, credit };
    }
    const credit = a.credit + charge;
    a.parts.push(payload);
    const data = concatBytes(a.parts, a.bytes + payload.byteLength);
    a.parts = [];
    a.bytes = 0;
    a.credit = 0;
    return { data, credit };
  }

  /**
   * Drops a partly received normal message: its credit counts as consumed, later fragments are
   * discarded silently. Returns its first part (for the report), or null if none was held.
   */
  dropNormal(): Uint8Array | null {
    const a = this.#assembling?.normal;
    if (a === undefined || a.parts.length === 0) return null;
    const head = a.parts[0] as Uint8Array;
    this.consumedBytes += a.credit;
    a.parts = [];
    a.bytes = 0;
    a.credit = 0;
    this.discardRest = true;
    return head;
  }

  /** The messages being reassembled, for a session record (null when none ever was); copies of the lists. */
  assemblySnapshot(): Record<AssembledKind, { parts: Uint8Array[]; credit: number }> | null {
    const a = this.#assembling;
    if (a === null) return null;
    return {
      normal: { parts: [...a.normal.parts], credit: a.normal.credit },
      typed: { parts: [...a.typed.parts], credit: a.typed.credit },
    };
  }

  /** Restores what assemblySnapshot() returned. */
  restoreAssembly(snapshot: Record<AssembledKind, { parts: readonly Uint8Array[]; credit: number }> | null): void {
    if (snapshot === null) {
      this.#assembling = null;
      return;
    }
    const one = (p: { parts: readonly Uint8Array[]; credit: number }): Assembly => ({
      parts: [...p.parts],
      bytes: p.parts.reduce((n, part) => n + part.byteLength, 0),
      credit: p.credit,
    });
    this.#assembling = { normal: one(snapshot.normal), typed: one(snapshot.typed) };
  }

  #assembly(kind: AssembledKind): Assembly {
    this.#assembling ??= { normal: { parts: [], bytes: 0, credit: 0 }, typed: { parts: [], bytes: 0, credit: 0 } };
    return this.#assembling[kind];
  }
}
