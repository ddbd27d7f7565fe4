/**
 * The inbox of a browser session: received messages, the peer's data-stream events (tokens
 * given, sync points) and its release request, in arrival
 * order, until a 'message' listener or the async iterator takes them. Credit goes back to the
 * peer only when a message leaves the inbox, so a slow reader slows its sender.
 */
import { ErrorCode, SessionClosedError, UsageError } from '@liaison/core';
import { now } from './clock.js';
import type { SessionView } from './session-common.js';

type InboxItem =
  | { kind: 'message'; data: Uint8Array; credit: number }
  | { kind: 'release' }
  /** A dialogue event of the peer's data stream: fires when the messages before it were taken. */
  | { kind: 'event'; fire: () => void };

/** What the inbox needs of its session. */
export interface InboxOwner {
  /** Whether a 'message' listener takes messages (then the iterator gets none). */
  hasMessageListener(): boolean;
  emitMessage(data: Uint8Array): void;
  /** The peer asked for a release and every message before it was taken: accept it. */
  acceptRelease(): void;
}

export class Inbox {
  readonly #live: SessionView;
  readonly #owner: InboxOwner;
  #items: InboxItem[] = [];
  #reader: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: Error) => void } | null = null;
  #iterating = false;

  constructor(live: SessionView, owner: InboxOwner) {
    this.#live = live;
    this.#owner = owner;
  }

  /** @throws UsageError INVALID_STATE when an iterator is already taking the messages. */
  iterator(): AsyncIterator<Uint8Array> {
    if (this.#iterating) throw new UsageError(ErrorCode.INVALID_STATE, 'a session has one message iterator at a time');
    this.#iterating = true;
    return {
      next: () => this.#next(),
      return: async () => {
        this.#iterating = false;
        return { done: true, value: undefined };
      },
    };
  }

  message(data: Uint8Array, credit: number): void {
    this.#items.push({ kind: 'message', data, credit });
    this.deliver();
  }

  /** A peer data-stream event: `fire` runs once the messages before it were taken. */
  inOrder(fire: () => void): void {
    this.#items.push({ kind: 'event', fire });
    this.deliver();
  }

  releaseRequested(): void {
    this.#items.push({ kind: 'release' });
    this.deliver();
  }

  /** The session ended: what was received stays readable; only then does the iterator end. */
  ended(): void {
    this.deliver();
    if (this.#items.length === 0) this.#finishReader();
  }

  /** Moves items to the listener or a waiting reader, in order, as far as someone takes them. */
  deliver(): void {
    let taken = 0;
    for (; taken < this.#items.length; taken++) {
      const item = this.#items[taken] as InboxItem;
      const listener = this.#owner.hasMessageListener();
      if (item.kind === 'event') {
        // An iterating page has finished with the message before only when it asks for the next.
        if (!listener && this.#iterating && this.#reader === null) break;
        item.fire();
        continue;
      }
      if (item.kind === 'release') {
        // Answered once every message before it was taken; an iterator then ends.
        if (!listener && this.#iterating && this.#reader === null) break;
        this.#owner.acceptRelease();
        this.#resolveReader({ done: true, value: undefined });
        continue;
      }
      if (!listener && this.#reader === null) break;
      this.#consume(item.credit);
      if (listener) this.#owner.emitMessage(item.data);
      else this.#resolveReader({ done: false, value: item.data });
    }
    if (taken > 0) this.#items = this.#items.slice(taken);
  }

  #consume(credit: number): void {
    if (this.#live.reason !== null) return;
    this.#live.core.consume(now(), credit);
    this.#live.driver.scheduleFlush();
  }

  #next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#reader !== null) return Promise.reject(new UsageError(ErrorCode.INVALID_STATE, 'next() already pending'));
    const p = new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
      this.#reader = { resolve, reject };
    });
    this.deliver();
    if (this.#reader !== null && this.#live.reason !== null && this.#items.length === 0) this.#finishReader();
    return p;
  }

  #resolveReader(result: IteratorResult<Uint8Array>): void {
    const reader = this.#reader;
    this.#reader = null;
    reader?.resolve(result);
  }

  #finishReader(): void {
    const reason = this.#live.reason;
    if (!this.#reader || !reason) return;
    if (reason.kind === 'released') this.#resolveReader({ done: true, value: undefined });
    else {
      const reader = this.#reader;
      this.#reader = null;
      reader.reject(new SessionClosedError(reason));
    }
  }
}
