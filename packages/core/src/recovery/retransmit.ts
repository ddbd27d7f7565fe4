/**
 * The sender's half of recovery: every sequenced frame sent and not yet acknowledged, in order,
 * so that after a transport break the session can send again exactly what the peer lacks.
 *
 * Invariants
 * - Frames are held from the peer's acknowledged count + 1 up to the last sent, with no gap.
 * - `unackedBytes` (payload and user data held, plus FRAME_CHARGE_BYTES per frame) never exceeds the session's retransmit budget:
 *   the session stops sending new data when the budget is used (backpressure, never a drop).
 * - Acknowledgement only moves forward; an acknowledgement beyond what was sent is a protocol error
 *   (checked by the caller).
 * - A replay sends every frame from where it started, in order, even frames acknowledged while it
 *   runs: the peer drops a fixed count of duplicates at the head of a resume, fixed when it answered,
 *   so skipping one would make it drop a new frame in its place (found by the simulator).
 */
import { FRAME_CHARGE_BYTES, FrameType } from '../wire/frame.js';

const EMPTY = new Uint8Array(0);
/** Recycled records kept per session: enough for a burst, small next to the buffer itself. */
const FREE_MAX = 1024;

function kindOf(type: FrameType): 'normal' | 'typed' | 'expedited' {
  return type === FrameType.DATA ? 'normal' : type === FrameType.TYPED_DATA ? 'typed' : 'expedited';
}

export interface SentFrame {
  seq: number;
  type: FrameType;
  end: boolean;
  /** Payload (data kinds) or user data (release frames): a view, never written to. */
  body: Uint8Array;
  /**
   * On the last fragment of a message: the whole message, to report it if never delivered (its
   * kind follows from `type`). Null on other frames. A flat field: one object per frame sent.
   */
  message: Uint8Array | null;
}

export class RetransmitBuffer {
  #frames: SentFrame[] = [];
  #head = 0;
  #unackedBytes = 0;
  readonly #free: SentFrame[] = [];
  /** Index (absolute, into #frames) of the next frame to send again after a resume. */
  #replay = 0;
  /** The peer's acknowledged count: frames up to it are delivered, even if still held for a replay. */
  #acked = 0;
  /** Bytes (charged like `unackedBytes`) of the frames a running replay has still to send. */
  #pendingReplayBytes = 0;

  get unackedBytes(): number {
    return this.#unackedBytes;
  }

  get unackedFrames(): number {
    return this.#frames.length - this.#head;
  }

  /**
   * Bytes written on the current link and not yet acknowledged: everything held except what a
   * running replay has still to send. Acknowledged frames the replay already sent again count
   * until the next call that drops them (`acknowledge`, `nextReplay`).
   */
  get inflightBytes(): number {
    return this.#unackedBytes - this.#pendingReplayBytes;
  }

  /** Records a frame just sent for the first time. */
  push(frame: SentFrame): void {
    this.#frames.push(frame);
    this.#unackedBytes += frame.body.byteLength + FRAME_CHARGE_BYTES;
    this.#replay = this.#frames.length;
    this.#pendingReplayBytes = 0;
  }

  /**
   * Frames with seq <= `received` are acknowledged; they are dropped once sent (a frame a running
   * replay has not reached yet is kept until it went out again). Returns the whole messages dropped.
   */
  acknowledge(received: number): number {
    if (received > this.#acked) this.#acked = received;
    return this.#drop(this.#replay);
  }

  /** After a resume: everything still unacknowledged will be sent again, oldest first. */
  rewind(): void {
    this.#drop(this.#frames.length);
    this.#replay = this.#head;
    this.#pendingReplayBytes = this.#unackedBytes;
  }

  /** The sequence number the next replayed frame carries (or the next new one when nothing is held). */
  firstUnacked(nextSeq: number): number {
    for (let i = this.#head; i < this.#frames.length; i++) {
      const f = this.#frames[i] as SentFrame;
      if (f.seq > this.#acked) return f.seq;
    }
    return nextSeq;
  }

  /**
   * The next frame to send again, or undefined when the replay is done. Frames already sent again
   * and acknowledged meanwhile are dropped first; the one returned is kept until a later call.
   */
  nextReplay(): SentFrame | undefined {
    this.#drop(this.#replay);
    if (this.#replay >= this.#frames.length) return undefined;
    const f = this.#frames[this.#replay++] as SentFrame;
    this.#pendingReplayBytes -= f.body.byteLength + FRAME_CHARGE_BYTES;
    return f;
  }

  /**
   * A record for a frame about to be sent: a recycled one when there is one. Sending many small
   * messages would otherwise allocate one object per message, and the garbage collector would
   * spend a fifth of the sender's time on them.
   */
  obtain(): SentFrame {
    return this.#free.pop() ?? { seq: 0, type: 0 as FrameType, end: false, body: EMPTY, message: null };
  }

  /** The frame the next nextReplay() returns, without taking it. */
  peekReplay(): SentFrame | undefined {
    return this.#replay < this.#frames.length ? this.#frames[this.#replay] : undefined;
  }

  get replaying(): boolean {
    return this.#replay < this.#frames.length;
  }

  /** Whole messages not acknowledged, which a rewind would send again. */
  pendingMessages(): number {
    let n = 0;
    for (let i = this.#head; i < this.#frames.length; i++) {
      const f = this.#frames[i] as SentFrame;
      if (f.message && f.seq > this.#acked) n++;
    }
    return n;
  }

  /** Drops acknowledged frames at the head, up to (not including) index `limit`. */
  #drop(limit: number): number {
    let messages = 0;
    while (this.#head < limit && this.#head < this.#frames.length) {
      const f = this.#frames[this.#head] as SentFrame;
      if (f.seq > this.#acked) break;
      this.#unackedBytes -= f.body.byteLength + FRAME_CHARGE_BYTES;
      if (f.message) messages++;
      this.#frames[this.#head] = undefined as unknown as SentFrame;
      this.#head++;
      if (this.#free.length < FREE_MAX) {
        // Keep the record, not what it pointed to.
        f.body = EMPTY;
        f.message = null;
        this.#free.push(f);
      }
    }
    if (this.#replay < this.#head) this.#replay = this.#head;
    if (this.#head === this.#frames.length) {
      this.#frames.length = 0;
      this.#replay -= this.#head;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#replay -= this.#head;
      this.#head = 0;
    }
    return messages;
  }

  /** The messages sent and not acknowledged, in the order they were sent. */
  undeliveredMessages(): { kind: 'normal' | 'typed' | 'expedited'; data: Uint8Array }[] {
    const out: { kind: 'normal' | 'typed' | 'expedited'; data: Uint8Array }[] = [];
    for (let i = this.#head; i < this.#frames.length; i++) {
      const f = this.#frames[i] as SentFrame;
      if (f.message && f.seq > this.#acked) out.push({ kind: kindOf(f.type), data: f.message });
    }
    return out;
  }

  /**
   * What a session record keeps: the peer's acknowledged count and the frames beyond it, oldest
   * first, as copies of the records (their bytes are shared views). Frames already acknowledged
   * and held only for a running replay are left out: a resume rewinds past them anyway.
   */
  snapshot(): { acked: number; frames: SentFrame[] } {
    const frames: SentFrame[] = [];
    for (let i = this.#head; i < this.#frames.length; i++) {
      const f = this.#frames[i] as SentFrame;
      if (f.seq > this.#acked) frames.push({ ...f });
    }
    return { acked: this.#acked, frames };
  }

  /** Replaces the buffer with a snapshot's frames, all sent on a link now gone (nothing to replay until a rewind). */
  restore(acked: number, frames: readonly SentFrame[]): void {
    this.clear();
    this.#acked = acked;
    for (const f of frames) this.push({ ...f });
  }

  clear(): void {
    this.#frames = [];
    this.#head = 0;
    this.#replay = 0;
    this.#unackedBytes = 0;
    this.#pendingReplayBytes = 0;
  }
}
