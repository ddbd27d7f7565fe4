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
 */
import { FRAME_CHARGE_BYTES, type FrameType } from '../wire/frame.js';

export interface SentFrame {
  seq: number;
  type: FrameType;
  end: boolean;
  /** Payload (data kinds) or user data (release frames): a view, never written to. */
  body: Uint8Array;
  /** On the last fragment of a message: the whole message, to report it if never delivered. */
  message?: { kind: 'normal' | 'typed' | 'expedited'; data: Uint8Array };
}

export class RetransmitBuffer {
  #frames: SentFrame[] = [];
  #head = 0;
  #unackedBytes = 0;
  /** Index (absolute, into #frames) of the next frame to send again after a resume. */
  #replay = 0;

  get unackedBytes(): number {
    return this.#unackedBytes;
  }

  get unackedFrames(): number {
    return this.#frames.length - this.#head;
  }

  /** Records a frame just sent for the first time. */
  push(frame: SentFrame): void {
    this.#frames.push(frame);
    this.#unackedBytes += frame.body.byteLength + FRAME_CHARGE_BYTES;
    this.#replay = this.#frames.length;
  }

  /** Drops every frame with seq <= `received`. Returns the number of whole messages newly acknowledged. */
  acknowledge(received: number): number {
    let messages = 0;
    while (this.#head < this.#frames.length) {
      const f = this.#frames[this.#head] as SentFrame;
      if (f.seq > received) break;
      this.#unackedBytes -= f.body.byteLength + FRAME_CHARGE_BYTES;
      if (f.message) messages++;
      this.#frames[this.#head] = undefined as unknown as SentFrame;
      this.#head++;
    }
    if (this.#replay < this.#head) this.#replay = this.#head;
    if (this.#head === this.#frames.length) {
      this.#frames = [];
      this.#replay -= this.#head;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#replay -= this.#head;
      this.#head = 0;
    }
    return messages;
  }

  /** After a resume: everything still unacknowledged will be sent again, oldest first. */
  rewind(): void {
    this.#replay = this.#head;
  }

  /** The sequence number the next replayed frame carries (or the next new one when nothing is held). */
  firstUnacked(nextSeq: number): number {
    return this.#head < this.#frames.length ? (this.#frames[this.#head] as SentFrame).seq : nextSeq;
  }

  /** The next frame to send again, or undefined when the replay is done. */
  nextReplay(): SentFrame | undefined {
    if (this.#replay >= this.#frames.length) return undefined;
    return this.#frames[this.#replay++];
  }

  get replaying(): boolean {
    return this.#replay < this.#frames.length;
  }

  /** Whole messages that a rewind would send again. */
  pendingMessages(): number {
    let n = 0;
    for (let i = this.#head; i < this.#frames.length; i++) if ((this.#frames[i] as SentFrame).message) n++;
    return n;
  }

  /** The messages sent and not acknowledged, in the order they were sent. */
  undeliveredMessages(): { kind: 'normal' | 'typed' | 'expedited'; data: Uint8Array }[] {
    const out: { kind: 'normal' | 'typed' | 'expedited'; data: Uint8Array }[] = [];
    for (let i = this.#head; i < this.#frames.length; i++) {
      const m = (this.#frames[i] as SentFrame).message;
      if (m) out.push(m);
    }
    return out;
  }

  clear(): void {
    this.#frames = [];
    this.#head = 0;
    this.#replay = 0;
    this.#unackedBytes = 0;
  }
}
