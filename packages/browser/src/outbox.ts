/**
 * The outbox of a browser session: one FIFO of outgoing work (sends waiting for room, the release
 * request or response). A send the core cannot take yet waits here, and a release queued after it
 * waits behind it, so everything sent before close() is on the wire before the release.
 */
import { ErrorCode, SessionClosedError, UsageError } from '@liaison/core';
import { now } from './clock.js';
import { RESOLVED, type SessionView, toBytes } from './session-common.js';

type Op =
  | { op: 'send'; data: Uint8Array; resolve: () => void; reject: (e: unknown) => void; cancelled?: boolean }
  | { op: 'release'; userData: Uint8Array }
  | { op: 'respond'; userData: Uint8Array };

export class Outbox {
  readonly #live: SessionView;
  /** Called when write() returned false earlier and the backlog has been taken. */
  readonly #onDrain: () => void;
  #ops: Op[] = [];
  #needDrain = false;

  constructor(live: SessionView, onDrain: () => void) {
    this.#live = live;
    this.#onDrain = onDrain;
  }

  /** Bytes of the sends waiting here (not yet in the core's queue). */
  get waitingBytes(): number {
    let n = 0;
    for (const op of this.#ops) if (op.op === 'send' && !op.cancelled) n += op.data.byteLength;
    return n;
  }

  /** Queues one message; false: the backlog is full or the session not open yet, wait for 'drain'. */
  write(data: Uint8Array | string): boolean {
    const sent = this.send(data, undefined, true);
    // A failure found later ends the session, which `closed` reports; never an unhandled rejection.
    if (sent !== RESOLVED) sent.catch(() => {});
    const more = this.#ops.length === 0 && this.#live.core.writable;
    if (!more) this.#needDrain = true;
    return more;
  }

  /** `throwNow`: a refusal known at once throws instead of rejecting (write()). */
  send(data: Uint8Array | string, signal?: AbortSignal, throwNow = false): Promise<void> {
    const fail = (e: unknown): Promise<void> => {
      if (throwNow) throw e;
      return Promise.reject(e);
    };
    const core = this.#live.core;
    // The core may have closed in this turn (abort()) before its `closed` event was dispatched.
    const reason = this.#live.reason ?? core.closeReason;
    if (reason) return fail(new SessionClosedError(reason));
    if (signal?.aborted) return fail(signal.reason);
    let bytes: Uint8Array;
    try {
      bytes = toBytes(data);
    } catch (e) {
      return fail(e);
    }
    if (this.#ops.length === 0 && core.writable) {
      try {
        core.send(now(), 'normal', bytes);
      } catch (e) {
        return fail(e);
      }
      this.#live.driver.commandFlush();
      return RESOLVED;
    }
    const state = core.state;
    if (state !== 'connecting' && state !== 'awaiting-response' && state !== 'open' && state !== 'release-requested') {
      return fail(new UsageError(ErrorCode.INVALID_STATE, `cannot send in state ${state}`));
    }
    return new Promise<void>((resolve, reject) => {
      const op: Op = { op: 'send', data: bytes, resolve, reject };
      signal?.addEventListener(
        'abort',
        () => {
          op.cancelled = true;
          reject(signal.reason);
        },
        { once: true },
      );
      this.#ops.push(op);
      this.pump();
    });
  }

  /** Queues this side's release request behind the sends before it. */
  release(userData: Uint8Array): void {
    this.#ops.push({ op: 'release', userData });
    this.pump();
  }

  /** Queues the acceptance of the peer's release request behind the sends before it. */
  respond(userData: Uint8Array): void {
    this.#ops.push({ op: 'respond', userData });
    this.pump();
  }

  /** Hands waiting operations to the core in order, as far as it takes them. */
  pump(): void {
    const core = this.#live.core;
    if (core.state === 'connecting' || core.state === 'awaiting-response' || this.#live.reason) return;
    let taken = 0;
    for (; taken < this.#ops.length; taken++) {
      const op = this.#ops[taken] as Op;
      if (op.op === 'send') {
        if (op.cancelled) continue;
        if (!core.writable && (core.state === 'open' || core.state === 'release-requested')) break;
        try {
          core.send(now(), 'normal', op.data);
          op.resolve();
        } catch (e) {
          const reason = this.#live.reason ?? core.closeReason;
          op.reject(reason ? new SessionClosedError(reason) : e);
        }
      } else {
        try {
          if (op.op === 'release') core.release(now(), op.userData);
          else core.respondRelease(now(), true, op.userData);
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
        }
      }
    }
    if (taken > 0) this.#ops = this.#ops.slice(taken);
    this.#live.driver.scheduleFlush();
    if (this.#needDrain && this.#ops.length === 0 && core.writable) {
      this.#needDrain = false;
      this.#onDrain();
    }
  }

  /** Sends waiting for room go into the core now, beyond its queue limit (a dialogue command follows them). */
  force(): void {
    const ops = this.#ops;
    let taken = 0;
    for (; taken < ops.length; taken++) {
      const op = ops[taken] as Op;
      if (op.op !== 'send') break;
      if (op.cancelled) continue;
      try {
        this.#live.core.send(now(), 'normal', op.data, true);
        op.resolve();
      } catch (e) {
        op.reject(e);
      }
    }
    this.#ops = ops.slice(taken);
  }

  /** The session ended: every waiting send rejects with `error`, and nothing more goes out. */
  fail(error: Error): void {
    for (const op of this.#ops) if (op.op === 'send' && !op.cancelled) op.reject(error);
    this.#ops = [];
  }
}
