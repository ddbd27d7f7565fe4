/**
 * The inbox of a Node session: received messages, the peer's release request and the events of
 * its data stream, in arrival order, until a listener or the async iterator takes them. Credit
 * goes back to the peer only when a message leaves the inbox, so a slow reader slows its sender.
 */
import { type DialogueEvent, ErrorCode, type MessageKind, SessionClosedError, UsageError } from '@liaison/core';
import { now } from './driver.js';
import { EMPTY, type SessionView } from './session-common.js';
import type { SessionEmitter } from './session-types.js';

/** Where a peer stream event goes when its turn comes (the session's dialogue part). */
export interface PeerEventSink {
  emitPeerEvent(event: DialogueEvent): void;
}

type InboxItem =
  | { kind: MessageKind; data: Uint8Array; credit: number }
  | { kind: 'release'; userData: Uint8Array }
  /** A dialogue event of the peer's data stream: fires when the messages before it were taken. */
  | { kind: 'dialogue'; event: DialogueEvent; sink: PeerEventSink };

/** What the inbox needs of its session (the Session itself): its listeners, and abort(). */
export interface InboxSession extends SessionEmitter {
  abort(): void;
}

/** Where the answer to the peer's release request goes (the outbox: behind earlier sends). */
export interface ReleaseAnswers {
  respond(accept: boolean, userData: Uint8Array): void;
}

/** The application's `onReleaseRequest`, bound to its session. */
export type BoundReleaseDecider = (userData: Uint8Array) => boolean | Promise<boolean>;

export class Inbox {
  readonly #live: SessionView;
  readonly #session: InboxSession;
  readonly #answers: ReleaseAnswers;
  readonly #decide: BoundReleaseDecider | null;
  readonly #items: InboxItem[] = [];
  #head = 0;
  #reader: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: Error) => void } | null = null;
  #iterating = false;
  #releaseAnswered = false;
  /** streams.ts took the messages: the peer's release waits for close() (holdRelease()). */
  #releaseHeld = false;
  /** Messages received and dropped before the application took them (resynchronize, activity stop purge them). */
  #purged = 0;

  constructor(live: SessionView, session: InboxSession, answers: ReleaseAnswers, decide: BoundReleaseDecider | null) {
    this.#live = live;
    this.#session = session;
    this.#answers = answers;
    this.#decide = decide;
  }

  /** Normal messages received and purged before the application took them. */
  get purged(): number {
    return this.#purged;
  }

  /** This side has answered the peer's release request (or close() did). */
  get releaseAnswered(): boolean {
    return this.#releaseAnswered;
  }

  /** close() answers the peer's release request (accepting it). */
  markReleaseAnswered(): void {
    this.#releaseAnswered = true;
  }

  /** streams.ts took the messages: the peer's release is answered by close(), not by iteration. */
  holdRelease(): void {
    this.#releaseHeld = true;
  }

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

  message(kind: MessageKind, data: Uint8Array, credit: number): void {
    this.#items.push({ kind, data, credit });
    this.deliver();
  }

  releaseRequested(userData: Uint8Array): void {
    this.#items.push({ kind: 'release', userData });
    this.deliver();
  }

  /** A peer stream event: `sink` emits it once the messages before it were taken. */
  dialogue(event: DialogueEvent, sink: PeerEventSink): void {
    this.#items.push({ kind: 'dialogue', event, sink });
    this.deliver();
  }

  /** X.225 purge: normal messages received and not yet taken are dropped (and counted). */
  purge(): void {
    const kept: InboxItem[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i] as InboxItem;
      if (item.kind === 'normal') {
        this.#purged++;
        if (this.#live.reason === null) this.#live.core.consume(now(), item.credit);
      } else kept.push(item);
    }
    this.#items.length = 0;
    this.#head = 0;
    this.#items.push(...kept);
    this.#live.driver.scheduleFlush();
  }

  /** The session ended: what was received stays readable; only then does the iterator end. */
  ended(): void {
    this.deliver();
    if (this.#reader !== null && this.#head === this.#items.length) this.#finishReader();
  }

  /** Moves inbox items to listeners or a waiting reader. */
  deliver(): void {
    const session = this.#session;
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head] as InboxItem;
      if (item.kind === 'dialogue') {
        // An iterating application has finished with the message before only when it asks for
        // the next one: a sync point must not fire while it is still writing that message.
        if (this.#iterating && this.#reader === null && session.listenerCount('message') === 0) return;
        this.#take();
        item.sink.emitPeerEvent(item.event);
        continue;
      }
      if (item.kind === 'release') {
        if (this.#reader !== null && this.#decide) {
          // The iterator ends only once the release is accepted: a refused one (negotiated
          // release) lets the session go on, and the reader waits for the next message.
          this.#take();
          this.#answerRelease(item.userData, () => this.#endReader());
          continue;
        }
        if (this.#reader !== null) {
          this.#take();
          const reader = this.#reader;
          this.#reader = null;
          this.#answerRelease(item.userData);
          reader.resolve({ done: true, value: undefined });
          continue;
        }
        if (session.listenerCount('message') > 0 || !this.#iterating) {
          this.#take();
          this.#answerRelease(item.userData);
          continue;
        }
        return;
      }
      // Typed and expedited data go to their own listeners; an application that has none gets them
      // where it takes normal data (its 'message' listener or its iterator), so nothing is dropped
      // and nothing holds the messages behind it back.
      if (item.kind !== 'normal' && session.listenerCount(item.kind) > 0) {
        this.#take();
        session.emit(item.kind, item.data);
        continue;
      }
      if (session.listenerCount('message') > 0) {
        this.#take();
        session.emit('message', item.data);
        continue;
      }
      if (this.#reader !== null) {
        this.#take();
        const reader = this.#reader;
        this.#reader = null;
        reader.resolve({ done: false, value: item.data });
        continue;
      }
      return;
    }
  }

  #take(): InboxItem {
    const item = this.#items[this.#head] as InboxItem;
    this.#items[this.#head++] = undefined as unknown as InboxItem;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    }
    if (item.kind !== 'release' && item.kind !== 'dialogue' && this.#live.reason === null) {
      this.#live.core.consume(now(), item.credit);
      this.#live.driver.scheduleFlush();
    }
    return item;
  }

  #next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#reader !== null) return Promise.reject(new UsageError(ErrorCode.INVALID_STATE, 'next() already pending'));
    const p = new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
      this.#reader = { resolve, reject };
    });
    this.deliver();
    if (this.#reader !== null && this.#live.reason !== null && this.#head === this.#items.length) this.#finishReader();
    return p;
  }

  /** `onAccepted` runs once this side has accepted the release (at once if already answered). */
  #answerRelease(userData: Uint8Array, onAccepted?: () => void): void {
    this.#session.emit('release-request', userData);
    if (this.#releaseAnswered) return onAccepted?.();
    const decide = this.#decide;
    // A stream adapter answers with close(), once its writable side has ended (half-close).
    if (!decide && this.#releaseHeld) return onAccepted?.();
    if (!decide) {
      this.#releaseAnswered = true;
      this.#answers.respond(true, EMPTY);
      return;
    }
    Promise.resolve()
      .then(() => decide(userData))
      .then(
        (accept) => {
          if (this.#releaseAnswered || this.#live.reason) return;
          this.#releaseAnswered = true;
          this.#answers.respond(accept !== false, EMPTY);
          if (accept === false) this.#releaseAnswered = false;
          else onAccepted?.();
        },
        () => this.#session.abort(),
      );
  }

  #endReader(): void {
    const reader = this.#reader;
    this.#reader = null;
    reader?.resolve({ done: true, value: undefined });
  }

  #finishReader(): void {
    const reader = this.#reader;
    const reason = this.#live.reason;
    if (!reader || !reason) return;
    this.#reader = null;
    if (reason.kind === 'released') reader.resolve({ done: true, value: undefined });
    else reader.reject(new SessionClosedError(reason));
  }
}
