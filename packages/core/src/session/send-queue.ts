/**
 * What a session has accepted and not yet put on the wire: normal, typed and sequenced control
 * items in order (release, dialogue and named-token frames wait behind the data before them),
 * and expedited messages, which overtake them. `bytes` counts the data payload still to send;
 * the session bounds it with sendQueueBytesMax (backpressure, never a drop).
 */
import type { DialogueFrameType, FrameType } from '../wire/frame.js';
import type { UndeliveredMessage } from './types.js';

export type Outgoing =
  | { kind: 'normal' | 'typed'; data: Uint8Array; offset: number }
  | { kind: 'finish' | 'disconnect' | 'not-finished'; userData: Uint8Array }
  | { kind: 'dialogue'; type: DialogueFrameType; body: Uint8Array }
  /** A named-token frame, its payload encoded (sequenced like FINISH, in order with the data). */
  | { kind: 'named-token'; type: FrameType; body: Uint8Array };

export class SendQueue {
  #items: Outgoing[] = [];
  #head = 0;
  readonly #expedited: Uint8Array[] = [];
  /** Data payload bytes accepted and not yet sent (a partly sent message counts its rest). */
  bytes = 0;

  pushMessage(kind: 'normal' | 'typed' | 'expedited', data: Uint8Array): void {
    if (kind === 'expedited') this.#expedited.push(data);
    else this.#items.push({ kind, data, offset: 0 });
    this.bytes += data.byteLength;
  }

  /** A sequenced control item, in order behind the data queued before it. */
  push(item: Outgoing): void {
    this.#items.push(item);
  }

  peek(): Outgoing | undefined {
    return this.#items[this.#head];
  }

  pop(): void {
    this.#items[this.#head] = undefined as unknown as Outgoing;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
  }

  peekExpedited(): Uint8Array | undefined {
    return this.#expedited[0];
  }

  shiftExpedited(): void {
    this.#expedited.shift();
  }

  /** Messages still queued (whole or partly sent: their last fragment has not left). */
  get messageCount(): number {
    let n = this.#expedited.length;
    for (let i = this.#head; i < this.#items.length; i++) {
      const kind = (this.#items[i] as Outgoing).kind;
      if (kind === 'normal' || kind === 'typed') n++;
    }
    return n;
  }

  /** Queued messages, expedited first (the order they would leave in): none has arrived. */
  undelivered(): UndeliveredMessage[] {
    const out: UndeliveredMessage[] = [];
    for (const data of this.#expedited) out.push({ kind: 'expedited', data, status: 'undelivered' });
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i] as Outgoing;
      if (item.kind === 'normal' || item.kind === 'typed') {
        out.push({ kind: item.kind, data: item.data, status: 'undelivered' });
      }
    }
    return out;
  }

  /** X.225 purge of unsent normal data: removes every normal message (a partly sent one too). */
  purgeNormal(): Uint8Array[] {
    let kept = this.#head;
    const purged: Uint8Array[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i] as Outgoing;
      if (item.kind === 'normal') {
        this.bytes -= item.data.byteLength - item.offset;
        purged.push(item.data);
      } else {
        this.#items[kept++] = item;
      }
    }
    this.#items.length = kept;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    }
    return purged;
  }

  /** What is queued, in order (the session record's view; the arrays are copies, the bytes are not). */
  snapshot(): { items: Outgoing[]; expedited: Uint8Array[] } {
    return { items: this.#items.slice(this.#head), expedited: [...this.#expedited] };
  }

  /** Replaces the queue with a snapshot's contents; `bytes` follows from them. */
  restore(items: readonly Outgoing[], expedited: readonly Uint8Array[]): void {
    this.clear();
    for (const item of items) {
      this.#items.push(item);
      if (item.kind === 'normal' || item.kind === 'typed') this.bytes += item.data.byteLength - item.offset;
    }
    for (const data of expedited) {
      this.#expedited.push(data);
      this.bytes += data.byteLength;
    }
  }

  clear(): void {
    this.#items.length = 0;
    this.#head = 0;
    this.#expedited.length = 0;
    this.bytes = 0;
  }
}
